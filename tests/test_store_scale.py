"""Appending to a store costs what it adds, in place, and survives SIGKILL at any moment — on real files."""

import logging
import os
import random
import shutil
import signal
import time

import h5py
import numpy as np
import pandas as pd
import pytest

from counterpoint.encoders.base import Embedding
from counterpoint.errors import StoreError
from counterpoint.store import EncoderMeta, Store, StoreWriter, journal_dir
from counterpoint.storefile import Appends, open_for_appending, write_redo

DIM, FRAMES = 16, 3
META = EncoderMeta("small-vectors", "small-vectors", "symbolic", DIM, {"name": "small-vectors"})
LARGE = 20_000


def _ids(start: int, n: int) -> list[str]:
    return [f"track{i:07d}" for i in range(start, start + n)]


def _embedding(index: int) -> Embedding:
    """Numbers that name their track, so any row read back can be checked."""
    frames = index + np.arange(FRAMES * DIM, dtype=np.float32).reshape(FRAMES, DIM) / 1000
    return Embedding(frames, np.arange(FRAMES) * 0.5, frames.mean(axis=0), 30.0)


def _tracks(n: int) -> pd.DataFrame:
    ids = _ids(0, n)
    return pd.DataFrame({"id": ids, "audio_filename": "", "midi_filename": [f"{i}.mid" for i in ids], "split": "",
                         "group": "", "style": [f"style{i % 7}" for i in range(n)]})


def _append(path, start: int, n_batches: int, batch: int) -> None:
    """Append batches after ``start`` tracks, one commit each, with a failing track per batch; like the
    runner, a rerun redoes what the store lacks (tracks not embedded, failures not recorded)."""
    with StoreWriter(path) as writer:
        done = writer.begin_encoder(META)
        failed = set(Store(path).failures()["track_id"])
        for b in range(n_batches):
            first = start + b * batch
            ids = _ids(first, batch)
            if ids[0] not in done:
                writer.add_embeddings(META.spec, ids, [_embedding(first + i) for i in range(batch)], [0.01] * batch)
            if f"bad{first}" not in failed:
                writer.add_failures(META.spec, [(f"bad{first}", "load", f"batch at {first}: unreadable on purpose")])
            writer.commit()


def _build(path, n: int, total: int) -> None:
    with StoreWriter(path) as writer:
        writer.set_tracks(_tracks(total))
    _append(path, 0, n // 5000, 5000)


def _wchar() -> int:
    """Bytes this process has passed to write calls so far (Linux)."""
    with open("/proc/self/io") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith("wchar"))


@pytest.fixture(scope="module")
def large_store(tmp_path_factory):
    """20,000 tracks of 3 frames × 16 floats, with room in the track table for 5,000 more."""
    path = tmp_path_factory.mktemp("large") / "large.h5"
    _build(path, LARGE, LARGE + 5000)
    return path


def _copy(store, target):
    shutil.copyfile(store, target)
    return target


def _content(path):
    store = Store(path)
    store.verify()
    pooled = store.pooled(META.spec)
    frames = store.frames(META.spec)
    return pooled.X, pooled.obs, frames.frames, frames.timestamps, store.tracks(), store.failures()


def _assert_same(a, b):
    for x, y in zip(a, b, strict=True):
        if isinstance(x, pd.DataFrame):
            pd.testing.assert_frame_equal(x, y)
        elif isinstance(x, list):
            assert len(x) == len(y) and all(np.array_equal(p, q) for p, q in zip(x, y))
        else:
            np.testing.assert_array_equal(x, y)


@pytest.mark.skipif(not os.path.exists("/proc/self/io"), reason="counts write calls through Linux's /proc")
def test_an_append_writes_a_small_multiple_of_what_it_adds_whatever_the_store_holds(large_store, tmp_path):
    small = tmp_path / "small.h5"
    _build(small, 5000, LARGE + 5000)
    large = _copy(large_store, tmp_path / "large.h5")
    written, growth, inodes = {}, {}, {}
    for name, path, start in (("small", small, 5000), ("large", large, LARGE)):
        inodes[name] = os.stat(path).st_ino
        with StoreWriter(path) as writer:
            writer.begin_encoder(META)
            before, size = _wchar(), path.stat().st_size
            writer.add_embeddings(META.spec, _ids(start, 2000), [_embedding(start + i) for i in range(2000)], [0.01] * 2000)
            writer.commit()
            written[name], growth[name] = _wchar() - before, path.stat().st_size - size
        assert os.stat(path).st_ino == inodes[name]  # written in place, not a copy renamed over it
    # pooled, frames, timestamps, and each track's source identity (3 numbers, a path and a digest of 32 bytes each)
    added = 2000 * (FRAMES + 1) * DIM * 4 + 2000 * FRAMES * 8 + 2000 * (3 * 8 + 2 * 32)
    assert written["large"] < 1.25 * written["small"]  # the cost does not grow with the store (4x the tracks here)
    assert written["large"] < 6 * added and growth["large"] < 2 * added
    assert len(Store(large).pooled(META.spec)) == LARGE + 2000


def test_a_new_encoder_changes_the_layout_through_a_copy_and_appends_then_go_in_place(large_store, tmp_path):
    path = _copy(large_store, tmp_path / "s.h5")
    inode = os.stat(path).st_ino
    other = EncoderMeta("other", "other", "audio", 2, {"name": "other"})
    with StoreWriter(path) as writer:
        writer.begin_encoder(other)
    assert os.stat(path).st_ino != inode  # a new group: the copy replaced the file
    inode = os.stat(path).st_ino
    with StoreWriter(path) as writer:
        writer.begin_encoder(other)
        writer.add_embeddings(other.spec, _ids(0, 3), [Embedding(np.ones((1, 2)), np.zeros(1), np.ones(2), 1.0)] * 3, [0.0] * 3)
    assert os.stat(path).st_ino == inode
    assert len(Store(path).pooled("other")) == 3 and len(Store(path).pooled(META.spec)) == LARGE


def _fork_append(path, start: int, n_batches: int, batch: int) -> int:
    """Start appending in a forked child; its pid."""
    pid = os.fork()
    if pid == 0:  # the child: append, then leave without running the parent's cleanup
        try:
            _append(path, start, n_batches, batch)
        finally:
            os._exit(0)
    return pid


def _run_killed(path, start: int, n_batches: int, batch: int, delay: float) -> int:
    """Append in a forked child and SIGKILL it after ``delay`` seconds; the child's exit status."""
    pid = _fork_append(path, start, n_batches, batch)
    time.sleep(delay)
    os.kill(pid, signal.SIGKILL)
    return os.waitpid(pid, 0)[1]


def _run_whole(path, start: int, n_batches: int, batch: int) -> float:
    """Seconds a forked child takes to append the whole run: the conditions the killed trials run in."""
    started = time.monotonic()
    os.waitpid(_fork_append(path, start, n_batches, batch), 0)
    return time.monotonic() - started


def test_sigkill_at_random_moments_of_appends_to_a_large_store(large_store, tmp_path):
    """30 kills at random moments of a run that appends 6 batches to 20,000 tracks: every time the
    store opens (h5py alone too), holds whole batches only, and a rerun gives the uninterrupted result."""
    batch, n_batches = 500, 6
    reference = _copy(large_store, tmp_path / "reference.h5")
    duration = _run_whole(reference, LARGE, n_batches, batch)  # timed as the trials run, fork included
    expected = _content(reference)
    rng = random.Random(11)
    outcomes = {"before": 0, "midway": 0, "after": 0}
    for trial in range(30):
        path = _copy(large_store, tmp_path / f"trial{trial}.h5")
        status = _run_killed(path, LARGE, n_batches, batch, rng.uniform(0, duration))
        try:
            held = len(Store(path).pooled(META.spec))
        except StoreError as exc:  # only while a torn chunk awaits its redo record
            assert "killed while committing" in str(exc), exc
            held = None
        if held is not None:
            assert held >= LARGE and (held - LARGE) % batch == 0  # whole batches, nothing half-written
            outcomes["before" if held == LARGE else "after" if held == LARGE + n_batches * batch else "midway"] += 1
            with h5py.File(path, "r", swmr=True) as handle:  # an h5py-only reader, respecting the count
                group = handle[f"encoders/{META.spec}"]
                n = int(group.attrs["n_tracks"])
                np.testing.assert_array_equal(group["pooled"][:n], Store(path).pooled(META.spec).X)
        _append(path, LARGE, n_batches, batch)  # the rerun
        _assert_same(_content(path), expected)
        assert not any(journal_dir(path).iterdir()), f"trial {trial} (status {status}) left journal files"
    assert outcomes["midway"] >= 3, outcomes  # the kills did land inside the run, not only around it


def test_a_chunk_torn_by_a_kill_is_rewritten_from_the_redo_record(tmp_path, caplog):
    path = tmp_path / "s.h5"
    _build(path, 5000, 5500)
    _append(path, 5000, 1, 500)  # 5,500 tracks: the last chunk of pooled is partly filled
    before = _content(path)
    store_id = Store(path).store_id
    with open_for_appending(path) as handle:  # a commit that recorded its blocks, then was killed while writing
        pooled = handle[f"encoders/{META.spec}/pooled"]
        appends = Appends(handle)
        appends.add(pooled, np.full((10, DIM), 7.0, np.float32))
        blocks = appends.blocks()
        last_chunk = pooled.id.get_chunk_info_by_coord((blocks[0].start, 0))
        write_redo(journal_dir(path), appends, blocks, entries=[], store_id=store_id)
    committed_in_chunk = 5500 - blocks[0].start
    with open(path, "r+b") as handle:  # the new rows' bytes landed, the chunk's checksum did not
        handle.seek(last_chunk.byte_offset + committed_in_chunk * DIM * 4)
        handle.write(np.full((10, DIM), 7.0, np.float32).tobytes())
    with pytest.raises(StoreError, match=r"killed while committing.*rerun it.*commit\.redo"):
        Store(path).pooled(META.spec)
    with caplog.at_level(logging.WARNING, logger="counterpoint.store"):
        StoreWriter(path).close()
    assert "finished the commit a killed writer had begun" in caplog.text
    _assert_same(_content(path), before)


def test_frames_of_chosen_tracks_are_read_one_slice_each(large_store):
    store = Store(large_store)
    chosen = ["track0019999", "track0000003", "track0012345"]
    part = store.frames(META.spec, ids=chosen)
    assert list(part.obs["id"]) == chosen
    for frames, stamps, track_id in zip(part.frames, part.timestamps, chosen):
        expected = _embedding(int(track_id[5:]))
        np.testing.assert_array_equal(frames, expected.frames)
        np.testing.assert_array_equal(stamps, expected.timestamps)
    with pytest.raises(StoreError, match=r"holds no frames of 1 of the ids asked for \(e\.g\. 'nope'\)"):
        store.frames(META.spec, ids=["track0000001", "nope"])


def test_changed_metadata_is_appended_and_the_last_row_of_a_track_wins(tmp_path):
    path = tmp_path / "s.h5"
    table = _tracks(50)
    with StoreWriter(path) as writer:
        writer.set_tracks(table)
    inode = os.stat(path).st_ino
    changed = pd.concat([table, _tracks(51).tail(1)], ignore_index=True)
    changed.loc[3, "style"] = "renamed"
    with StoreWriter(path) as writer:
        writer.set_tracks(changed)
    with StoreWriter(path) as writer:
        writer.set_tracks(changed)  # nothing new: nothing appended
    tracks = Store(path).tracks()
    assert len(tracks) == 51 and tracks.set_index("id").loc["track0000003", "style"] == "renamed"
    assert list(tracks["id"]) == [i for i in _ids(0, 50) if i != "track0000003"] + ["track0000003", "track0000050"]
    with h5py.File(path, "r") as handle:
        assert int(handle["tracks"].attrs["n_rows"]) == 52  # the changed row and the new one, appended
    assert os.stat(path).st_ino == inode
