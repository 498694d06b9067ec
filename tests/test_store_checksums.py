"""Damaged bytes inside a store are a named StoreError, never silent numbers; old stores still read."""

import logging
import shutil

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

import pitch_class_encoder  # noqa: F401  (registers test-pitch-class)
from conftest import write_midi
from counterpoint.cli import app
from counterpoint.embed import embed_dataset
from counterpoint.encoders.registry import build_encoder
from counterpoint.errors import StoreError
from counterpoint.export import export_embeddings
from counterpoint.store import Store
from counterpoint.storefile import FRAME_COUNT, ROW_COUNT, TRACK_COUNT, committed_rows

COUNTS = (TRACK_COUNT, FRAME_COUNT, ROW_COUNT)

SPEC = "test-pitch-class"


@pytest.fixture
def store_path(class_dataset, tmp_path):
    out = tmp_path / "s.h5"
    embed_dataset(class_dataset, out, [build_encoder(SPEC)])
    return out


def _overwrite(path, offset, data):
    with open(path, "r+b") as handle:
        handle.seek(offset)
        handle.write(data)


def _pooled_chunk_offset(path):
    with h5py.File(path, "r") as handle:
        return handle[f"encoders/{SPEC}/pooled"].id.get_chunk_info(0).byte_offset


def test_every_dataset_the_store_writes_carries_a_checksum(store_path):
    with h5py.File(store_path, "r") as handle:
        datasets = []
        handle.visititems(lambda name, item: datasets.append(item) if isinstance(item, h5py.Dataset) else None)
        assert {d.name.rsplit("/", 1)[-1] for d in datasets} >= {"ids", "pooled", "frames", "frame_offsets",
                                                                 "timestamps", "duration", "compute_seconds", "c0"}
        unchecked = [d.name for d in datasets if not d.fletcher32]
        assert not unchecked
        # Strings are fixed-width, so their bytes are inside the checksummed chunks (not in HDF5's heap).
        assert all(h5py.check_string_dtype(d.dtype).length for d in datasets if d.dtype.kind in "SO")


def test_219_bytes_overwritten_in_pooled_data_are_named_by_every_reader(store_path, class_dataset, tmp_path):
    _overwrite(store_path, _pooled_chunk_offset(store_path) + 8, b"\x7f" * 219)
    damaged = rf"{store_path}: dataset /encoders/{SPEC}/pooled is damaged .*re-embed encoder {SPEC}"
    with pytest.raises(StoreError, match=damaged):
        Store(store_path).pooled(SPEC)
    with pytest.raises(StoreError, match=damaged):
        Store(store_path).verify()
    with pytest.raises(StoreError, match=damaged):
        export_embeddings(store_path, SPEC, tmp_path / "e.npz")
    with pytest.raises(StoreError, match=damaged):  # resuming would build on the damaged data
        embed_dataset(class_dataset, store_path, [build_encoder(SPEC)])
    result = CliRunner().invoke(app, ["store", "info", str(store_path)])
    assert result.exit_code == 2 and "is damaged" in result.output and "Traceback" not in result.output


def _everything(path):
    store = Store(path)
    store.verify()
    pooled = store.pooled(SPEC)
    frames = store.frames(SPEC)
    return (store.tracks(), store.failures(), store.encoder_specs, store.encoder(SPEC).fingerprint, pooled.X,
            pooled.obs, frames.frames, frames.timestamps)


def _same(a, b):
    for x, y in zip(a, b, strict=True):
        if hasattr(x, "equals"):
            assert x.equals(y)
        elif isinstance(x, list) and x and isinstance(x[0], np.ndarray):
            assert all(np.array_equal(p, q) for p, q in zip(x, y, strict=True))
        elif isinstance(x, np.ndarray):
            assert np.array_equal(x, y)
        else:
            assert x == y


def test_damage_anywhere_in_the_file_is_an_error_or_changes_nothing(store_path, tmp_path):
    original = _everything(store_path)
    size = store_path.stat().st_size
    detected = 0
    for offset in range(0, size - 16, max(1, size // 150)):
        copy = tmp_path / "copy.h5"
        shutil.copyfile(store_path, copy)
        _overwrite(copy, offset, bytes(16 * [0xA5]))
        try:
            damaged = _everything(copy)
        except StoreError:
            detected += 1
            continue
        _same(original, damaged)  # bytes nobody reads (free space) may change; numbers and labels may not
    assert detected > 100  # most of a store's bytes are its checked data


def _without_checksums(source, target):
    """The store as format 1 wrote it before checksums: no filters, variable-length strings and
    attributes, every row of a dataset committed (no counts)."""
    def plain(value):
        return value.decode() if isinstance(value, bytes) else value

    with h5py.File(source, "r") as old, h5py.File(target, "w") as new:
        def copy(name, item):
            if isinstance(item, h5py.Group):
                group = new.require_group(name)
            else:
                data = item[:committed_rows(item)] if item.shape else item[()]
                if item.dtype.kind == "S":
                    data = np.array([v.decode() for v in data], dtype=object)
                    group = new.create_dataset(name, data=data, dtype=h5py.string_dtype(), maxshape=(None,))
                else:
                    group = new.create_dataset(name, data=data, maxshape=(None,) + item.shape[1:])
            group.attrs.update({k: plain(v) for k, v in item.attrs.items() if k not in COUNTS})
        new.attrs.update({k: plain(v) for k, v in old.attrs.items()})
        new.attrs["format_version"] = 1
        old.visititems(copy)


def test_a_store_written_before_checksums_is_read_and_resumed(store_path, class_dataset, tmp_path, caplog):
    old = tmp_path / "old.h5"
    _without_checksums(store_path, old)
    with h5py.File(old, "r") as handle:
        assert not handle[f"encoders/{SPEC}/pooled"].fletcher32
    _same(_everything(store_path), _everything(old))
    write_midi(class_dataset / "low" / "a_much_longer_file_name_than_before.mid", [50, 52])
    with caplog.at_level(logging.WARNING, logger="counterpoint.store"):
        more = embed_dataset(class_dataset, old, [build_encoder(SPEC)])
    assert "a store of format 1; writing it once as format 2" in caplog.text
    assert more.runs[0].embedded == 1 and more.runs[0].skipped == 8
    matrix = Store(old).pooled(SPEC)
    assert len(matrix) == 9 and "low/a_much_longer_file_name_than_before" in set(matrix.obs["id"])
    with h5py.File(old, "r") as handle:  # migrated: checksums, fixed-width text, committed counts
        group = handle[f"encoders/{SPEC}"]
        assert handle.attrs["format_version"] == 2 and group.attrs["n_tracks"] == 9 and group["pooled"].fletcher32
        assert h5py.check_string_dtype(group["ids"].dtype).length
