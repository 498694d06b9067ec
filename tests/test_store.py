"""The store and the runner on real HDF5 files: round trip, resume, failures, SIGKILL safety."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np
import pytest

import pitch_class_encoder  # noqa: F401  (registers test-pitch-class)
from conftest import make_class_folders, without_root_rights, write_midi
from counterpoint.data.manifest import load_manifest
from counterpoint.embed import embed_dataset
from counterpoint.encoders.base import Embedding
from counterpoint.encoders.registry import build_encoder
from counterpoint.errors import StoreError
from counterpoint.export import export_embeddings
from counterpoint.store import EncoderMeta, Store, StoreWriter, journal_dir


def test_round_trip_pooled_frames_tracks_and_provenance(class_dataset, tmp_path):
    out = tmp_path / "s.h5"
    report = embed_dataset(class_dataset, out, [build_encoder("test-pitch-class")])
    assert report.runs[0].embedded == 8 and not report.runs[0].failed
    store = Store(out)
    matrix = store.pooled("test-pitch-class")
    assert matrix.X.shape == (8, 12) and matrix.feature_names == [f"pc{i}" for i in range(12)]
    assert set(matrix.obs["class"]) == {"low", "high"}
    frames = store.frames("test-pitch-class")
    for x, pooled, stamps in zip(frames.frames, matrix.X, frames.timestamps):
        assert x.shape == (16, 12) and np.allclose(x.mean(axis=0), pooled)
        assert np.all(np.diff(stamps) > 0)
    record = store.encoder("test-pitch-class")
    assert record.fingerprint["name"] == "test-pitch-class" and record.n_frames == 8 * 16
    with h5py.File(out) as handle:
        # Text attributes are fixed-length UTF-8 (inside checksummed headers): h5py gives bytes.
        assert b"numpy" in handle.attrs["software"] and handle.attrs["format"] == b"counterpoint-store"
    assert not journal_dir(out).exists() or not any(journal_dir(out).iterdir())


def test_rerun_skips_done_tracks_and_new_fingerprint_recomputes(class_dataset, tmp_path):
    out = tmp_path / "s.h5"
    embed_dataset(class_dataset, out, [build_encoder("test-pitch-class")])
    again = embed_dataset(class_dataset, out, [build_encoder("test-pitch-class")])
    assert again.runs[0].skipped == 8 and again.runs[0].embedded == 0
    write_midi(class_dataset / "low" / "extra.mid", [50, 52])
    more = embed_dataset(class_dataset, out, [build_encoder("test-pitch-class")])
    assert more.runs[0].embedded == 1 and more.runs[0].skipped == 8
    changed = embed_dataset(class_dataset, out, [build_encoder("test-pitch-class:delay=0.0001")])
    assert changed.runs[0].embedded == 9  # other parameters, other numbers: all recomputed
    assert Store(out).encoder_specs == ["test-pitch-class", "test-pitch-class:delay=0.0001"]


def test_bad_files_are_recorded_and_the_rest_embedded(class_dataset, tmp_path):
    (class_dataset / "low" / "corrupt.mid").write_bytes(b"MThd\x00\x00garbage")
    empty = write_midi(class_dataset / "high" / "empty.mid", [])
    assert empty.exists()
    out = tmp_path / "s.h5"
    report = embed_dataset(class_dataset, out, [build_encoder("test-pitch-class:fail_on=high/piece1")])
    run = report.runs[0]
    failed = {track_id: (stage, message) for track_id, stage, message in run.failed}
    assert set(failed) == {"low/corrupt", "high/empty", "high/piece1"}
    assert failed["low/corrupt"][0] == "load" and "corrupt.mid" in failed["low/corrupt"][1]
    assert failed["high/empty"][0] == "load" and "no notes" in failed["high/empty"][1]
    assert failed["high/piece1"] == ("embed", "RuntimeError: model step failed on purpose")
    store = Store(out)
    assert run.embedded == 7 and len(store.pooled("test-pitch-class:fail_on=high/piece1")) == 7
    assert set(store.failures()["track_id"]) == {"low/corrupt", "high/empty", "high/piece1"}
    # Fixing the file and rerunning clears its failure.
    write_midi(class_dataset / "low" / "corrupt.mid", [61, 63])
    embed_dataset(class_dataset, out, [build_encoder("test-pitch-class:fail_on=high/piece1")])
    assert "low/corrupt" not in set(Store(out).failures()["track_id"])


def test_store_errors_name_the_file_and_the_choices(tmp_path, class_dataset):
    with pytest.raises(StoreError, match="no such store"):
        Store(tmp_path / "missing.h5")
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as handle:
        handle["x"] = 1
    with pytest.raises(StoreError, match="not a Counterpoint store"):
        Store(other)
    out = tmp_path / "s.h5"
    embed_dataset(class_dataset, out, [build_encoder("test-pitch-class")])
    with pytest.raises(StoreError, match="it has: test-pitch-class"):
        Store(out).pooled("musicnn")


KILL_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
import pitch_class_encoder
from counterpoint.embed import embed_dataset
from counterpoint.encoders.registry import build_encoder
embed_dataset({root!r}, {out!r}, [build_encoder("test-pitch-class:delay=0.15,batch_size=1")])
"""


def test_sigkill_mid_run_leaves_a_readable_store_and_resume_completes(tmp_path):
    root = make_class_folders(tmp_path / "d", per_class=15)
    out = tmp_path / "killed.h5"
    script = KILL_SCRIPT.format(tests=str(Path(__file__).parent), root=str(root), out=str(out))
    process = subprocess.Popen([sys.executable, "-c", script])
    journal = journal_dir(out)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not journal.is_dir() or len(list(journal.glob("*.npz"))) < 4):
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    store = Store(out)  # the committed store opens
    assert store.pending_batches() >= 2  # finished batches survive in the journal
    before = len(store.pooled("test-pitch-class")) if store.encoder_specs else 0
    assert before < 30
    resumed = embed_dataset(root, out, [build_encoder("test-pitch-class:delay=0.15,batch_size=1")])
    run = resumed.runs[0]
    assert run.skipped >= 2 and run.skipped + run.embedded == 30  # only the unfinished work is redone
    fresh = tmp_path / "fresh.h5"
    embed_dataset(root, fresh, [build_encoder("test-pitch-class:delay=0,batch_size=1")])
    a = Store(out).pooled("test-pitch-class")
    b = Store(fresh).pooled("test-pitch-class")
    order = a.obs["id"].argsort().to_numpy()
    assert sorted(a.obs["id"]) == sorted(b.obs["id"]) and len(a) == 30
    np.testing.assert_array_equal(a.X[order], b.X[b.obs["id"].argsort().to_numpy()])


def test_a_batch_that_cannot_be_folded_is_named_and_the_store_kept(class_dataset, tmp_path):
    out = tmp_path / "s.h5"
    embed_dataset(class_dataset, out, [build_encoder("test-pitch-class")])
    bad = journal_dir(out) / "000000099.npz"
    bad.parent.mkdir(exist_ok=True)
    np.savez(bad, __kind__=np.array("embeddings"), __meta__=np.array('{"spec": "never-declared"}'),
             ids=np.array(["x"]))
    with pytest.raises(StoreError, match=r"000000099\.npz.*cannot be folded.*move .*journal aside"):
        embed_dataset(class_dataset, out, [build_encoder("test-pitch-class")])
    assert len(Store(out).pooled("test-pitch-class")) == 8
    assert not out.with_name(out.name + ".tmp").exists()


def test_lookups_compare_canonical_specs(class_dataset, tmp_path):
    out = tmp_path / "s.h5"
    embed_dataset(class_dataset, out, [build_encoder("symbolic-stats:window=8")])
    store = Store(out)
    assert store.encoder_specs == ["symbolic-stats:window=8.0"]
    for spelling in ("symbolic-stats:window=8", "symbolic-stats:window=8.0,hop=2", " symbolic-stats: hop=2.0 , window=8 "):
        assert len(store.pooled(spelling)) == 8 and len(store.frames(spelling)) == 8
    assert np.load(export_embeddings(out, "symbolic-stats:window=8", tmp_path / "e.npz"))["X"].shape[0] == 8
    # Defaults spelled out, for an encoder whose model is never built here (no weights needed): the
    # store reads specs with the parameters the encoder declared in its record, never the encoder.
    declared = build_encoder("openl3:content_type=env").recorded_parameters()
    with StoreWriter(out) as writer:
        meta = EncoderMeta("openl3:content_type=env", "openl3", "audio", 3, {"name": "openl3"}, parameters=declared)
        writer.begin_encoder(meta)
        writer.add_embeddings(meta.spec, ["low/piece0"], [Embedding(np.ones((2, 3)), np.array([0.0, 0.1]), np.ones(3), 1.0)], [0.1])
    store = Store(out)
    assert store.encoder("openl3:input_repr=mel256,content_type=env,hop=0.1").spec == "openl3:content_type=env"
    assert len(store.frames("openl3:content_type=env,embedding_size=6144,batch_size=4")) == 1  # runtime parameters ignored
    with pytest.raises(StoreError, match="no encoder 'openl3:content_type=music'"):
        store.pooled("openl3:content_type=music")
    with pytest.raises(StoreError, match="no encoder 'symbolic-stats:window=9'"):
        store.pooled("symbolic-stats:window=9")


def test_a_store_written_before_encoders_recorded_their_declarations_stays_readable_and_gains_them(class_dataset,
                                                                                                 tmp_path):
    """Old records carry no parameters and no joint space: a spec names them as written, their joint
    space is unknown; embedding into the store again (same fingerprint, nothing recomputed) records both."""
    out = tmp_path / "s.h5"
    embed_dataset(class_dataset, out, ["symbolic-stats:window=8"])
    with h5py.File(out, "r+") as handle:  # as a writer before encoders' declarations were recorded left it
        del handle["encoders/symbolic-stats:window=8.0"].attrs["parameters"]
    old = Store(out).encoder("symbolic-stats:window=8.0")
    assert old.parameters is None and old.shared_space is None and old.n_tracks == 8
    with pytest.raises(StoreError, match="no encoder 'symbolic-stats:window=8'"):
        Store(out).encoder("symbolic-stats:window=8")   # read as written: no declarations to read it with
    run = embed_dataset(class_dataset, out, ["symbolic-stats:window=8"]).runs[0]
    assert run.skipped == 8 and run.embedded == 0   # the same fingerprint: the rows are kept, not recomputed
    record = Store(out).encoder("symbolic-stats:window=8")
    assert record.parameters["window"]["value"] == 8.0 and not record.parameters["window"]["runtime"]
    assert record.parameters["batch_size"]["runtime"] and record.shared_space is None  # no joint space declared
    assert build_encoder("clamp3-symbolic").shared_space == "clamp3:variant=saas"  # what such a record would carry


def test_specs_the_registry_does_not_know_are_compared_as_written(tmp_path):
    out = tmp_path / "s.h5"
    with StoreWriter(out) as writer:
        for spec in ("legacy-audio", "symbolic-stats:no_such_parameter=1"):
            writer.begin_encoder(EncoderMeta(spec, spec.split(":")[0], "audio", 2, {}))
    store = Store(out)
    assert store.encoder("legacy-audio").spec == "legacy-audio"
    assert store.encoder("symbolic-stats:no_such_parameter=1").spec == "symbolic-stats:no_such_parameter=1"


@contextmanager
def unable_to_write(folder: Path):
    """``folder`` becomes read-only for this process, for root too: chmod does not stop root, so
    root also drops its effective uid to nobody (65534) until the block ends."""
    folder.chmod(0o555)
    try:
        with without_root_rights():
            yield
    finally:
        folder.chmod(0o755)


def test_a_read_only_folder_is_a_named_error_even_with_nothing_to_embed(class_dataset):
    base = Path(tempfile.mkdtemp())  # not under pytest's tmp_path, whose parents nobody may enter
    try:
        base.chmod(0o755)
        out = base / "s.h5"
        manifest = load_manifest(class_dataset)
        encoder = build_encoder("test-pitch-class")
        embed_dataset(manifest, out, [encoder])
        with unable_to_write(base):
            with pytest.raises(StoreError, match=rf"{base}: the folder is not writable \(Permission denied\) .*--out"):
                embed_dataset(manifest, out, [encoder])  # all 8 tracks are in the store already
            with pytest.raises(StoreError, match="the folder is not writable"):
                StoreWriter(base / "new.h5")
            assert len(Store(out).pooled("test-pitch-class")) == 8  # reading needs no writing
    finally:
        shutil.rmtree(base)


def test_out_paths_that_cannot_be_a_store_are_named_errors(tmp_path):
    in_the_way = tmp_path / "afile"
    in_the_way.write_text("x")
    with pytest.raises(StoreError, match=rf"{in_the_way}: cannot create the store's folder"):
        StoreWriter(in_the_way / "s.h5")
    with pytest.raises(StoreError, match=rf"{tmp_path}: is a folder — a store is one file; give --out a file name"):
        StoreWriter(tmp_path)
    with pytest.raises(StoreError, match="is a folder, not a store"):
        Store(tmp_path)
    notes = tmp_path / "notes.h5"
    notes.write_text("my notes")
    with pytest.raises(StoreError, match=r"exists and is not a Counterpoint store \(it cannot be opened as HDF5"):
        StoreWriter(notes)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as handle:
        handle["data"] = [1, 2]
    with pytest.raises(StoreError, match=r"exists and is not a Counterpoint store \(it has no Counterpoint format mark\)"):
        StoreWriter(other)
    assert notes.read_text() == "my notes" and h5py.File(other)["data"][()].tolist() == [1, 2]
