"""`counterpoint store merge`: shards embedded apart, merged, equal one unsharded run bit for bit;
a killed merge resumes; shards that do not belong together are refused (real encoders, real HDF5)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import make_class_folders, write_midi
from counterpoint.cli import app
from counterpoint.embed import embed_dataset
from counterpoint.errors import StoreError
from counterpoint.shards import Shard, shard_ids
from counterpoint.store import Store
from counterpoint.store_merge import merge_stores
from store_equality import assert_same_store
from tiny_models import write_mert

pytestmark = pytest.mark.usefixtures("one_torch_thread")
runner = CliRunner()


def embed(root: Path, out: Path, specs: list[str], shard: str | None = None) -> None:
    embed_dataset(root, out, specs, workers=0, shard=shard)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """One dataset (a WAV and a MIDI file that cannot be read among them, so there are failures),
    embedded whole and as shards 0/3, 1/3, 2/3 with symbolic-stats, audio-stats and a tiny MERT's layers."""
    folder = tmp_path_factory.mktemp("merge")
    root = make_class_folders(folder / "data", per_class=6, seconds=1.0)
    (root / "low" / "piece1.wav").write_bytes(b"RIFF but not really a wave file")
    (root / "high" / "piece2.mid").write_bytes(b"MThd garbage")
    # MERT one track per model call: a batch's float32 sums depend on its other tracks (BLAS blocking), and
    # a shard batches other tracks together than the whole run does; alone, each track's numbers are the same
    specs = ["symbolic-stats", "audio-stats", write_mert(folder / "mert").spec + ",layers=all,batch_size=1"]
    embed(root, folder / "whole.h5", specs)
    shards = [folder / f"shard{i}.h5" for i in range(3)]
    for i, path in enumerate(shards):
        embed(root, path, specs, shard=f"{i}/3")
    return {"folder": folder, "root": root, "whole": folder / "whole.h5", "shards": shards}


def entries(path: Path) -> list[str]:
    return [r.spec for r in Store(path).all_encoders]


def assert_equal_to_whole(runs: dict, merged: Path, *, in_order: bool = True) -> None:
    """Every encoder entry (each layer), pooled, frames, timestamps, sources, failures, the track
    table and what each entry declares: as the unsharded run wrote them (rows in its order, unless
    not ``in_order``: shards merged at different times append their rows in turn)."""
    whole, specs = Store(runs["whole"]), entries(runs["whole"])
    assert entries(merged) == specs and len(specs) >= 4  # symbolic-stats, audio-stats and MERT's layers
    assert_same_store(runs["whole"], merged, specs, in_order=in_order)
    assert Store(merged).tracks().equals(whole.tracks())
    assert set(whole.failures()["track_id"]) == {"low/piece1", "high/piece2"}  # the two unreadable files, per encoder
    for ours, theirs in zip(Store(merged).all_encoders, whole.all_encoders, strict=True):
        assert (ours.fingerprint, ours.parameters, ours.layer, ours.layer_index, ours.base_spec, ours.feature_names) == \
               (theirs.fingerprint, theirs.parameters, theirs.layer, theirs.layer_index, theirs.base_spec,
                theirs.feature_names)


def test_each_shard_embeds_only_its_tracks(runs: dict) -> None:
    every = list(Store(runs["whole"]).tracks()["id"])
    held = [set(Store(path).embedded_ids("symbolic-stats")) for path in runs["shards"]]
    assert all(held)  # every shard has tracks, so the merge below joins three
    for i, ids in enumerate(held):
        assert ids <= set(shard_ids(every, Shard(i, 3)))
    assert set.union(*held) == set(Store(runs["whole"]).embedded_ids("symbolic-stats"))


def test_three_shards_merged_equal_one_unsharded_run(runs: dict, tmp_path: Path) -> None:
    merged = tmp_path / "merged.h5"
    report = merge_stores(runs["shards"], merged, complete=True, batch_size=4)
    assert_equal_to_whole(runs, merged)
    assert report.missing == [] and report.duplicates == []
    assert all(report.held[spec] == 0 for spec in report.added)
    assert Store(merged).attrs["merged_shards"] == '{"count": 3, "indexes": [0, 1, 2]}'


def test_a_shard_merged_later_adds_only_its_tracks(runs: dict, tmp_path: Path) -> None:
    merged = tmp_path / "merged.h5"
    with pytest.raises(StoreError, match="shards 2/3 are missing"):
        merge_stores(runs["shards"][:2], merged, complete=True)
    assert not merged.exists()  # refused before anything was written
    first = merge_stores(runs["shards"][:2], merged)
    assert first.missing == [2] and "2/3" in first.notes[0]
    later = merge_stores(runs["shards"][2:], merged, complete=True)  # 0 and 1 were merged before: complete
    shard2 = Store(runs["shards"][2])
    for spec in later.added:
        assert later.added[spec] == len(shard2.embedded_ids(spec))
        assert later.held[spec] == 0  # of the shard given, the store held nothing yet
    assert_equal_to_whole(runs, merged, in_order=False)
    again = merge_stores(runs["shards"], merged)  # everything is there: nothing is copied twice
    assert set(again.added.values()) == {0}
    assert again.held == {r.spec: r.n_tracks for r in Store(runs["whole"]).all_encoders}
    assert_equal_to_whole(runs, merged, in_order=False)


KILL_SCRIPT = """
import sys, time
sys.path.insert(0, {tests!r})
from counterpoint.store_merge import merge_stores

def slow(spec, done, total):
    print(spec, done, total, flush=True)
    time.sleep(0.3)

merge_stores({shards!r}, {out!r}, batch_size=1, progress=slow)
"""


def test_a_killed_merge_resumes_to_the_same_store(runs: dict, tmp_path: Path) -> None:
    out = tmp_path / "killed.h5"
    script = KILL_SCRIPT.format(tests=str(Path(__file__).parent), shards=[str(p) for p in runs["shards"]], out=str(out))
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    committed = 0
    for line in process.stdout:
        committed += int(line.split()[-2]) > 0  # progress after a committed batch
        if committed == 2:
            break
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    process.stdout.close()
    assert process.returncode == -signal.SIGKILL
    partial = Store(out)  # the killed merge left a readable store, holding part of the tracks
    whole = Store(runs["whole"])
    held = {r.spec: r.n_tracks for r in partial.all_encoders}
    assert sum(held.values()) < sum(r.n_tracks for r in whole.all_encoders)
    resumed = merge_stores(runs["shards"], out)
    assert sum(resumed.held.values()) >= 2
    assert_equal_to_whole(runs, out)


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> dict:
    """Two small datasets for the refusals (symbolic-stats only, so they cost little)."""
    folder = tmp_path_factory.mktemp("refusals")
    first = make_class_folders(folder / "first", per_class=3, seconds=0.5)
    other = make_class_folders(folder / "other", classes={"a": 50, "b": 70}, per_class=3, seconds=0.5)
    return {"folder": folder, "first": first, "other": other}


def test_shards_of_another_dataset_are_refused(small: dict, tmp_path: Path) -> None:
    embed(small["first"], tmp_path / "a0.h5", ["symbolic-stats"], shard="0/2")
    embed(small["other"], tmp_path / "b1.h5", ["symbolic-stats"], shard="1/2")
    with pytest.raises(StoreError, match=r"b1\.h5: a shard of another dataset — its manifest fingerprint"):
        merge_stores([tmp_path / "a0.h5", tmp_path / "b1.h5"], tmp_path / "out.h5")
    embed(small["other"], tmp_path / "b0.h5", ["symbolic-stats"], shard="0/2")
    merge_stores([tmp_path / "b0.h5", tmp_path / "b1.h5"], tmp_path / "other.h5")
    with pytest.raises(StoreError, match=r"other\.h5: holds tracks of another dataset"):
        merge_stores([tmp_path / "a0.h5"], tmp_path / "other.h5")


def test_shards_of_another_count_are_refused(small: dict, tmp_path: Path) -> None:
    embed(small["first"], tmp_path / "a0.h5", ["symbolic-stats"], shard="0/2")
    embed(small["first"], tmp_path / "a1.h5", ["symbolic-stats"], shard="1/3")
    with pytest.raises(StoreError, match=r"a1\.h5: shard 1/3 of 3, but .*a0\.h5 is shard 0/2"):
        merge_stores([tmp_path / "a0.h5", tmp_path / "a1.h5"], tmp_path / "out.h5")
    merge_stores([tmp_path / "a0.h5"], tmp_path / "out.h5")
    with pytest.raises(StoreError, match=r"out\.h5: was merged from shards of N=2"):
        merge_stores([tmp_path / "a1.h5"], tmp_path / "out.h5")


def test_shards_of_other_encoders_are_refused(small: dict, tmp_path: Path) -> None:
    embed(small["first"], tmp_path / "a0.h5", ["symbolic-stats"], shard="0/2")
    embed(small["first"], tmp_path / "a1.h5", ["symbolic-stats", "symbolic-stats:window=2.0"], shard="1/2")
    with pytest.raises(StoreError, match=r"a1\.h5: holds encoder 'symbolic-stats:window=2\.0', which .*a0\.h5 lacks"):
        merge_stores([tmp_path / "a0.h5", tmp_path / "a1.h5"], tmp_path / "out.h5")
    with pytest.raises(StoreError, match=r"a0\.h5: lacks encoder 'symbolic-stats:window=2\.0'"):
        merge_stores([tmp_path / "a1.h5", tmp_path / "a0.h5"], tmp_path / "out.h5")


def test_shards_of_another_fingerprint_are_refused(small: dict, tmp_path: Path) -> None:
    """The same spec, other weights (the files behind weights= changed between two shards' runs)."""
    spec = write_mert(tmp_path / "mert", seed=7).spec
    embed(small["first"], tmp_path / "a0.h5", [spec], shard="0/2")
    merge_stores([tmp_path / "a0.h5"], tmp_path / "out.h5")
    write_mert(tmp_path / "mert", seed=8)
    embed(small["first"], tmp_path / "a1.h5", [spec], shard="1/2")
    with pytest.raises(StoreError, match=r"a1\.h5: encoder 'mert:.*' differs from .*a0\.h5's \(fingerprint: weights"):
        merge_stores([tmp_path / "a0.h5", tmp_path / "a1.h5"], tmp_path / "new.h5")
    with pytest.raises(StoreError, match=r"out\.h5: holds encoder 'mert:.*' with another fingerprint"):
        merge_stores([tmp_path / "a1.h5"], tmp_path / "out.h5")


def test_a_track_in_two_shards_is_kept_once_or_refused(small: dict, tmp_path: Path) -> None:
    root = small["folder"] / "changing"
    make_class_folders(root, per_class=3, seconds=0.5)
    embed(root, tmp_path / "a0.h5", ["symbolic-stats"], shard="0/2")
    embed(root, tmp_path / "a1.h5", ["symbolic-stats"], shard="1/2")
    copy = tmp_path / "copy0.h5"
    copy.write_bytes((tmp_path / "a0.h5").read_bytes())
    report = merge_stores([tmp_path / "a0.h5", tmp_path / "a1.h5", copy], tmp_path / "out.h5")
    ids = Store(tmp_path / "a0.h5").embedded_ids("symbolic-stats")
    assert report.duplicates and f"{len(ids)} track(s) of symbolic-stats are in both" in report.duplicates[0]
    assert Store(tmp_path / "out.h5").embedded_ids("symbolic-stats") == \
           [i for i in Store(tmp_path / "out.h5").tracks()["id"]]  # each track once, in the table's order

    changed = ids[0]  # its file now holds other notes: embedding it again gives other numbers
    write_midi(root / f"{changed}.mid", [40, 41, 43, 47, 52])
    embed(root, tmp_path / "b0.h5", ["symbolic-stats"], shard="0/2")
    with pytest.raises(StoreError, match=rf"track '{changed}': its symbolic-stats embedding differs between "
                                         rf".*a0\.h5 and .*b0\.h5"):
        merge_stores([tmp_path / "a0.h5", tmp_path / "b0.h5"], tmp_path / "new.h5")


def test_the_merge_command(small: dict, tmp_path: Path) -> None:
    for i in range(2):
        embed(small["first"], tmp_path / f"a{i}.h5", ["symbolic-stats"], shard=f"{i}/2")
    result = runner.invoke(app, ["store", "merge", str(tmp_path / "a0.h5"), str(tmp_path / "a1.h5"), "-o",
                                 str(tmp_path / "out.h5"), "--complete"])
    assert result.exit_code == 0, result.output
    assert "merged shards 0/2, 1/2 of 2" in result.output and "symbolic-stats: 6 tracks added" in result.output
    embed(small["first"], tmp_path / "whole.h5", ["symbolic-stats"])
    assert_same_store(tmp_path / "whole.h5", tmp_path / "out.h5", ["symbolic-stats"])
    refused = runner.invoke(app, ["store", "merge", str(tmp_path / "whole.h5"), "-o", str(tmp_path / "new.h5")])
    assert refused.exit_code == 2 and "not a shard store" in refused.output
    missing = runner.invoke(app, ["store", "merge", str(tmp_path / "a0.h5"), str(tmp_path / "a9.h5"), "-o",
                                  str(tmp_path / "new.h5")])
    assert missing.exit_code == 2 and "a9.h5: no such shard store" in missing.output
    into_itself = runner.invoke(app, ["store", "merge", str(tmp_path / "a0.h5"), "-o", str(tmp_path / "a0.h5")])
    assert into_itself.exit_code == 2 and "is the store being merged into" in into_itself.output
    assert not (tmp_path / "new.h5").exists()


def test_a_batch_holds_at_most_batch_bytes_of_embeddings(small: dict, tmp_path: Path, monkeypatch) -> None:
    """Frames-heavy encoders get batches of fewer tracks, so memory stays bounded whatever the encoder."""
    import counterpoint.store_merge as store_merge

    for i in range(2):
        embed(small["first"], tmp_path / f"a{i}.h5", ["symbolic-stats"], shard=f"{i}/2")
    record = Store(tmp_path / "a0.h5").encoder("symbolic-stats")
    track_bytes = 4 * record.dim * (1 + record.n_frames / record.n_tracks)
    monkeypatch.setattr(store_merge, "BATCH_BYTES", int(2.5 * track_bytes))  # room for two tracks' embeddings
    calls: list[int] = []
    merge_stores([tmp_path / "a0.h5", tmp_path / "a1.h5"], tmp_path / "out.h5", batch_size=256,
                 progress=lambda spec, done, total: calls.append(done))
    assert calls == [0, 2, 4, 6]  # six tracks, two at a time, though batch_size allows 256


def test_a_shard_s_failure_never_withdraws_what_the_store_holds(small: dict, tmp_path: Path) -> None:
    """A store embedded whole, then shards of the same dataset after one file broke: merging them in keeps
    the store's embedding of that track (a failure recorded after an embedding would withdraw it)."""
    root = small["folder"] / "breaking"
    make_class_folders(root, per_class=3, seconds=0.5)
    embed(root, tmp_path / "whole.h5", ["symbolic-stats"])
    (root / "low" / "piece0.mid").write_bytes(b"MThd garbage")
    for i in range(2):
        embed(root, tmp_path / f"a{i}.h5", ["symbolic-stats"], shard=f"{i}/2")
    assert list(Store(tmp_path / "a0.h5").failures()["track_id"]) + \
           list(Store(tmp_path / "a1.h5").failures()["track_id"]) == ["low/piece0"]
    merge_stores([tmp_path / "a0.h5", tmp_path / "a1.h5"], tmp_path / "whole.h5")
    assert "low/piece0" in Store(tmp_path / "whole.h5").embedded_ids("symbolic-stats")
    assert Store(tmp_path / "whole.h5").failures().empty
    merge_stores([tmp_path / "a0.h5", tmp_path / "a1.h5"], tmp_path / "new.h5")  # a new store keeps the failure
    assert list(Store(tmp_path / "new.h5").failures()["track_id"]) == ["low/piece0"]
