"""What a store records about where its numbers come from, and what it refuses (issue 19).

Real datasets (soundfile WAVs, pretty_midi MIDI), real HDF5 stores, the real CLI:

- a file changed after embedding is embedded again on resume (per modality), a ``touch`` or the
  same bytes elsewhere is not a change, and ``store info --check-files`` says which changed;
- an ``info.csv`` row pointed at another file is embedded again;
- stores written before sources were recorded still open and resume;
- another store's journal, a damaged journal batch or redo record, a full disk: named errors;
- ``store info`` checks the layout's invariants; a second dataset root is kept, with a note.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import make_info_csv_dataset, write_midi
from counterpoint import storefile
from counterpoint.cli import app
from counterpoint.encoders.base import Embedding
from counterpoint.errors import StoreError
from counterpoint.sources import FileState, SourceIdentity, is_changed
from counterpoint.store import EncoderMeta, Store, StoreWriter, journal_dir

runner = CliRunner()
#: Numbers of one encoder computed twice from the same bytes: equal up to float32 rounding.
FLOAT32 = {"rtol": 1e-5, "atol": 1e-6}


def run(*args: object):
    result = runner.invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output
    return result


def dataset(root: Path, n: int = 4, prefix: str = "t") -> Path:
    return make_info_csv_dataset(root, [{"id": f"{prefix}{i}", "audio_filename": f"audio/{prefix}{i}.wav",
                                         "midi_filename": f"midi/{prefix}{i}.mid", "genre": "ab"[i % 2]} for i in range(n)])


def embed(root: Path, out: Path, specs: str = "audio-stats+symbolic-stats") -> str:
    result = run("embed", root, "-e", specs, "-o", out)
    assert result.exit_code == 0, result.output
    return result.output


def line_of(output: str, spec: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(f"{spec}:"))


def test_a_file_changed_after_embedding_is_embedded_again_and_only_for_its_modality(tmp_path):
    root, out = dataset(tmp_path / "ds"), tmp_path / "s.h5"
    embed(root, out)
    before = Store(out).pooled("audio-stats")
    shutil.copyfile(root / "audio/t1.wav", root / "audio/t0.wav")  # the issue's `cp B.wav A.wav`
    os.utime(root / "audio/t2.wav")  # a touch: same bytes, new mtime
    write_midi(root / "midi/t3.mid", [40, 41, 42, 43])  # another MIDI: only the symbolic encoder is stale
    checked = run("store", "info", out, "--check-files")
    assert checked.exit_code == 1
    assert "audio-stats: 1 tracks have files that changed" in checked.output and "'t0'" in checked.output
    assert "symbolic-stats: 1 tracks have files that changed" in checked.output and "'t3'" in checked.output

    inode = out.stat().st_ino
    output = embed(root, out)
    assert out.stat().st_ino == inode  # the new rows were appended in place, not through a copy of the store
    assert line_of(output, "audio-stats").startswith("audio-stats: 1 embedded (1 of them again: their files changed since), "
                                                     "3 already in the store")
    assert line_of(output, "symbolic-stats").startswith("symbolic-stats: 1 embedded (1 of them again")
    after = Store(out).pooled("audio-stats")
    assert len(after) == 4 and sorted(after.obs["id"]) == ["t0", "t1", "t2", "t3"]  # replaced, not duplicated
    old, new = (m.X[m.obs["id"].tolist().index("t0")] for m in (before, after))
    np.testing.assert_allclose(new, before.X[before.obs["id"].tolist().index("t1")], **FLOAT32)  # now B's numbers
    assert not np.allclose(new, old, **FLOAT32)
    for track in ("t1", "t2", "t3"):  # the others, the touched one included, are the rows written first
        np.testing.assert_array_equal(after.X[after.obs["id"].tolist().index(track)],
                                      before.X[before.obs["id"].tolist().index(track)])
    assert Store(out).encoder("audio-stats").n_tracks == 4 and Store(out).encoder("audio-stats").n_frames == \
        sum(len(f) for f in Store(out).frames("audio-stats").frames)
    assert "0 embedded, 4 already" in line_of(embed(root, out), "audio-stats")  # a third run has nothing to do
    clean = run("store", "info", out, "--check-files")
    assert clean.exit_code == 0 and "8 embeddings' files unchanged on disk" in clean.output


def test_an_info_csv_row_pointed_at_another_file_is_embedded_again(tmp_path):
    root, out = dataset(tmp_path / "ds"), tmp_path / "s.h5"
    embed(root, out, "symbolic-stats+audio-stats")
    table = pd.read_csv(root / "info.csv", keep_default_na=False)
    table.loc[table["id"] == "t0", "midi_filename"] = "midi/t2.mid"
    table.to_csv(root / "info.csv", index=False)
    embed(root, out, "audio-stats")  # a run of the other encoder records the new path in /tracks only
    info = run("store", "info", out)
    assert "symbolic-stats" in info.output and "1 tracks were embedded from another file than the track table names" in info.output
    output = embed(root, out, "symbolic-stats")
    assert "1 embedded (1 of them again" in line_of(output, "symbolic-stats")
    store = Store(out)
    pooled = store.pooled("symbolic-stats")
    ids = pooled.obs["id"].tolist()
    np.testing.assert_allclose(pooled.X[ids.index("t0")], pooled.X[ids.index("t2")], **FLOAT32)
    assert store.sources("symbolic-stats")["t0"].path == "midi/t2.mid"
    assert store.tracks().set_index("id").loc["t0", "midi_filename"] == "midi/t2.mid"


def test_a_changed_file_that_no_longer_reads_withdraws_its_old_embedding_until_it_embeds_again(tmp_path):
    root, out = dataset(tmp_path / "ds"), tmp_path / "s.h5"
    embed(root, out, "audio-stats")
    good = (root / "audio/t0.wav").read_bytes()
    (root / "audio/t0.wav").write_bytes(b"RIFF" + bytes(60))  # replaced by a file that cannot be decoded
    output = embed(root, out, "audio-stats")
    assert "1 failed" in line_of(output, "audio-stats")
    store = Store(out)
    assert sorted(store.pooled("audio-stats").obs["id"]) == ["t1", "t2", "t3"]  # the stale t0 is never served
    assert sorted(store.frames("audio-stats").obs["id"]) == ["t1", "t2", "t3"]
    assert store.encoder("audio-stats").n_tracks == 3 and store.withdrawn("audio-stats") == {"t0"}
    assert store.failures().set_index("track_id").loc["t0", "encoder"] == "audio-stats"
    with pytest.raises(StoreError, match="t0"):
        store.frames("audio-stats", ids=["t0"])
    (root / "audio/t0.wav").write_bytes(good)  # the original bytes again: the track is tried again and embeds
    assert line_of(embed(root, out, "audio-stats"), "audio-stats").startswith("audio-stats: 1 embedded")
    store = Store(out)
    assert sorted(store.pooled("audio-stats").obs["id"]) == ["t0", "t1", "t2", "t3"] and store.withdrawn("audio-stats") == set()
    assert store.failures().empty


def test_size_and_mtime_are_trusted_and_anything_else_is_decided_by_the_digest(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"x" * 1000)
    recorded = FileState.read(path).identity(0, "a.bin")
    assert is_changed(recorded, 0, "a.bin", path=path) is False
    os.utime(path, ns=(1, 1))
    assert is_changed(recorded, 0, "a.bin", path=path) is False  # touched: the digest says same bytes
    path.write_bytes(b"y" * 1000)
    os.utime(path, ns=(recorded.mtime_ns, recorded.mtime_ns))  # `cp -p`: same size and mtime, other bytes
    assert is_changed(recorded, 0, "a.bin", path=path) is False  # trusted by size and mtime, as documented
    assert is_changed(recorded, 1, "a.bin", path=path) is True  # the same name under another root is read
    assert is_changed(SourceIdentity.unknown(), 0, "a.bin", path=path) is None


def test_a_store_without_source_columns_opens_says_so_and_resumes(tmp_path):
    root, out = dataset(tmp_path / "ds"), tmp_path / "s.h5"
    embed(root, out, "symbolic-stats")
    with h5py.File(out, "a") as handle:  # as a store written before sources were recorded
        group = handle["encoders/symbolic-stats"]
        for name in ("source_root", "source_path", "source_size", "source_mtime_ns", "source_digest"):
            del group[name]
    info = run("store", "info", out, "--check-files")
    assert info.exit_code == 0 and "4 of 4 tracks were embedded before stores recorded their source files" in info.output
    dataset(tmp_path / "ds", n=5)  # one more track
    assert "1 embedded, 4 already" in line_of(embed(root, out, "symbolic-stats"), "symbolic-stats")
    sources = Store(out).sources("symbolic-stats")
    assert sources["t4"].known and sources["t4"].path == "midi/t4.mid" and not sources["t0"].known


def _journal_batch(out: Path, root: Path, ids: list[str]) -> None:
    """Leave a journaled, uncommitted batch of symbolic-stats embeddings beside ``out`` (a run killed
    before its commit)."""
    dim = Store(out).encoder("symbolic-stats").dim
    writer = StoreWriter(out, dataset_root=root)
    writer.add_embeddings("symbolic-stats", ids, [Embedding(np.ones((1, dim), np.float32), np.zeros(1),
                                                            np.ones(dim, np.float32), 1.0)] * len(ids), [0.1] * len(ids))
    writer.close()


def test_a_journal_of_another_store_is_refused_and_named(tmp_path):
    one, two = dataset(tmp_path / "one", n=6), dataset(tmp_path / "two", prefix="u")
    first, second = tmp_path / "first.h5", tmp_path / "second.h5"
    embed(one, first, "symbolic-stats")
    embed(two, second, "symbolic-stats")
    _journal_batch(first, one, ["t4", "t5"])
    shutil.copytree(journal_dir(first), journal_dir(second), dirs_exist_ok=True)
    result = run("embed", two, "-e", "symbolic-stats", "-o", second)
    assert result.exit_code == 2
    assert "second.h5.journal" in result.output and "another store" in result.output and "move it aside" in result.output
    info = run("store", "info", second)
    assert "1 batch(es) were written for another store" in info.output
    store = Store(second)  # nothing of the other store's batch came in: no embeddings without track rows
    assert sorted(store.pooled("symbolic-stats").obs["id"]) == ["u0", "u1", "u2", "u3"] and not store.problems()
    shutil.move(journal_dir(second), tmp_path / "aside")
    assert run("embed", two, "-e", "symbolic-stats", "-o", second).exit_code == 0
    assert "0 embedded" in line_of(embed(one, first, "symbolic-stats"), "symbolic-stats")  # its own journal folds in


def test_a_redo_record_of_another_store_is_refused_and_the_store_left_as_it_was(tmp_path):
    root = dataset(tmp_path / "ds")
    first, second = tmp_path / "first.h5", tmp_path / "second.h5"
    embed(root, first, "symbolic-stats")
    embed(root, second, "symbolic-stats")
    first_id = Store(first).store_id
    with storefile.open_for_appending(first) as handle:  # a commit of first.h5 recorded, then killed
        appends = storefile.Appends(handle)
        appends.add(handle["encoders/symbolic-stats/pooled"], np.full((2, 137), 7.0, np.float32))
        storefile.write_redo(journal_dir(first), appends, appends.blocks(), entries=[], store_id=first_id)
    before = Store(second).pooled("symbolic-stats").X.copy()
    journal_dir(second).mkdir(exist_ok=True)
    shutil.copyfile(journal_dir(first) / "commit.redo", journal_dir(second) / "commit.redo")
    result = run("embed", root, "-e", "symbolic-stats", "-o", second)
    assert result.exit_code == 2 and "commit.redo" in result.output and "another store" in result.output
    np.testing.assert_array_equal(Store(second).pooled("symbolic-stats").X, before)
    assert "1 batch(es) were written for another store" in run("store", "info", second).output


@pytest.mark.parametrize("damaged", ["batch", "redo"])
def test_a_damaged_journal_file_is_named_with_the_fix(tmp_path, damaged):
    root, out = dataset(tmp_path / "ds"), tmp_path / "s.h5"
    embed(root, out, "symbolic-stats")
    journal_dir(out).mkdir(exist_ok=True)
    name = "000000000.npz" if damaged == "batch" else "commit.redo"
    (journal_dir(out) / name).write_bytes(b"PK\x03\x04 torn off by a crash")
    result = run("embed", root, "-e", "symbolic-stats", "-o", out)
    assert result.exit_code == 2, result.output
    assert name in result.output and "damaged" in result.output and "aside" in result.output
    assert Store(out).encoder("symbolic-stats").n_tracks == 4


def _writer_with_batch(out: Path, first: int) -> tuple[StoreWriter, EncoderMeta]:
    meta = EncoderMeta("vectors", "vectors", "symbolic", 3, {"name": "vectors"})
    writer = StoreWriter(out)
    writer.set_tracks(pd.DataFrame({"id": [f"t{i}" for i in range(20)], "audio_filename": "", "midi_filename": "",
                                    "split": "", "group": ""}))
    writer.begin_encoder(meta)
    writer.add_embeddings(meta.spec, [f"t{first}", f"t{first + 1}"],
                          [Embedding(np.full((2, 3), first, np.float32), np.array([0.0, 0.5]), np.full(3, first, np.float32), 1.0)] * 2,
                          [0.1, 0.1])
    return writer, meta


def test_a_full_disk_while_committing_names_the_store_and_keeps_what_was_committed(tmp_path, monkeypatch):
    """ENOSPC at the boundary where the store writes HDF5 rows (a full disk cannot be made without
    mounting a small filesystem, which needs privileges CI may not have)."""
    out = tmp_path / "s.h5"
    writer, meta = _writer_with_batch(out, 0)
    writer.commit()
    writer.add_embeddings(meta.spec, ["t2"], [Embedding(np.ones((1, 3), np.float32), np.zeros(1), np.ones(3, np.float32), 1.0)], [0.1])

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "Can't write data (file write failed: errno = 28, error message = 'No space left on device')")

    monkeypatch.setattr(storefile, "write_rows", full)
    with pytest.raises(StoreError, match=r"s\.h5: the disk is full .* committing .*free space.*--out"):
        writer.commit()
    writer.close()
    monkeypatch.undo()
    assert sorted(Store(out).pooled("vectors").obs["id"]) == ["t0", "t1"]  # the batch committed before is kept
    with StoreWriter(out):  # the journaled batch is folded in once there is room
        pass
    assert sorted(Store(out).pooled("vectors").obs["id"]) == ["t0", "t1", "t2"]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs Linux's /dev/full")
def test_a_full_disk_while_journaling_is_a_named_error(tmp_path):
    """A real ENOSPC from the kernel: the journal's next file is /dev/full, which refuses every write."""
    out = tmp_path / "s.h5"
    writer, meta = _writer_with_batch(out, 0)
    writer.commit()
    (journal_dir(out) / f"{writer.journal.next_index:09d}.tmp.npz").symlink_to("/dev/full")
    with pytest.raises(StoreError, match=r"journal: the disk is full .*free space"):
        writer.add_embeddings(meta.spec, ["t5"], [Embedding(np.ones((1, 3), np.float32), np.zeros(1), np.ones(3, np.float32), 1.0)], [0.1])
    writer.close()
    assert sorted(Store(out).pooled("vectors").obs["id"]) == ["t0", "t1"]


def test_a_second_dataset_root_is_kept_with_a_note(tmp_path):
    first, second, out = dataset(tmp_path / "one"), dataset(tmp_path / "two", prefix="u"), tmp_path / "s.h5"
    embed(first, out, "symbolic-stats")
    result = run("embed", second, "-e", "symbolic-stats", "-o", out)
    assert result.exit_code == 0
    assert f"this store was filled from {first}; now also from {second}" in result.output
    store = Store(out)
    assert store.roots == [str(first), str(second)] and len(store.tracks()) == 8
    assert {s.root for s in store.sources("symbolic-stats").values()} == {0, 1}
    write_midi(second / "midi/u1.mid", [30, 31])
    info = run("store", "info", out, "--check-files")
    assert f"dataset {first} and {second}" in info.output and "'u1'" in info.output and info.exit_code == 1
    # the same ids from a copy of the first dataset: a note; only the file that differs is embedded again
    copy = tmp_path / "copy"
    shutil.copytree(first, copy)
    write_midi(copy / "midi/t0.mid", [50, 52])
    result = run("embed", copy, "-e", "symbolic-stats", "-o", out)
    assert "4 track id(s) of" in result.output and "already in the store" in result.output
    assert "1 embedded (1 of them again" in line_of(result.output, "symbolic-stats")
    assert Store(out).roots == [str(first), str(second), str(copy)]
