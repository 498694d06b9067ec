"""The pure-Python TensorFlow checkpoint reader, on the checkpoints the musicnn wheel ships
and on a tiny checkpoint this test writes byte by byte."""

from __future__ import annotations

import importlib.util
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from counterpoint.encoders.tf_checkpoint import (TABLE_MAGIC, _crc_update_bytes, checkpoint_prefix, crc32c, read_checkpoint,
                                                 read_index)
from counterpoint.errors import WeightsError

needs_musicnn = pytest.mark.skipif(importlib.util.find_spec("musicnn") is None,
                                   reason="the musicnn wheel (pip install --no-deps musicnn==0.1.0) is not installed")


def musicnn_checkpoint(name: str) -> Path:
    return Path(list(importlib.util.find_spec("musicnn").submodule_search_locations)[0]) / name


def test_crc32c_matches_the_standard_check_value_and_the_bytewise_loop():
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value (RFC 3720)
    rng = np.random.default_rng(0)
    for length in (0, 1, 511, 4096, 70001):
        data = rng.integers(0, 256, length, dtype=np.uint8).tobytes()
        assert crc32c(data) == _crc_update_bytes(0xFFFFFFFF, data) ^ 0xFFFFFFFF


@needs_musicnn
def test_reads_the_shipped_musicnn_checkpoint_names_and_shapes():
    tensors = read_checkpoint(musicnn_checkpoint("MTT_musicnn"))
    expected = {
        "conv2d/kernel": (7, 38, 1, 204), "conv2d_1/kernel": (7, 67, 1, 204),
        "conv2d_2/kernel": (128, 1, 1, 51), "conv2d_3/kernel": (64, 1, 1, 51), "conv2d_4/kernel": (32, 1, 1, 51),
        "conv2d_5/kernel": (7, 561, 1, 64), "conv2d_6/kernel": (7, 64, 1, 64), "conv2d_7/kernel": (7, 64, 1, 64),
        "batch_normalization/moving_variance": (1,), "batch_normalization_9/gamma": (1506,),
        "dense/kernel": (1506, 200), "dense_1/kernel": (200, 50), "dense_1/bias": (50,), "beta1_power": (),
    }
    for name, shape in expected.items():
        assert tensors[name].shape == shape, name
        assert tensors[name].dtype == np.float32
    model_variables = [n for n in tensors if "Adam" not in n and not n.endswith("_power")]
    assert len(model_variables) == 11 * 4 + 8 * 2 + 2 * 2  # batch norms, convolutions, dense layers
    assert np.all(tensors["batch_normalization_10/moving_variance"] > 0)
    msd = read_checkpoint(musicnn_checkpoint("MSD_musicnn") / ".index")
    assert {k: v.shape for k, v in msd.items()} == {k: v.shape for k, v in tensors.items()}
    assert not np.allclose(msd["dense_1/kernel"], tensors["dense_1/kernel"])


@needs_musicnn
def test_a_corrupted_data_shard_fails_its_checksum(tmp_path):
    copy = tmp_path / "ckpt"
    shutil.copytree(musicnn_checkpoint("MTT_musicnn"), copy)
    shard = copy / ".data-00000-of-00001"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x01
    shard.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="CRC-32C"):
        read_checkpoint(copy)
    assert len(read_checkpoint(copy, verify=False)) > 0  # without verification the bytes are read as they are


# ---- a checkpoint written by hand -------------------------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _masked_crc(data: bytes) -> int:
    crc = crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def _block(entries: list[tuple[bytes, bytes]]) -> bytes:
    """A table block with prefix-compressed keys and one restart point."""
    out, previous = bytearray(), b""
    for key, value in entries:
        shared = len(os.path.commonprefix([previous, key]))
        out += _varint(shared) + _varint(len(key) - shared) + _varint(len(value)) + key[shared:] + value
        previous = key
    return bytes(out + struct.pack("<II", 0, 1))


def _entry_proto(dtype: int, shape: tuple[int, ...], offset: int, payload: bytes) -> bytes:
    dims = b"".join(b"\x12" + _varint(len(d)) + d for d in (b"\x08" + _varint(n) for n in shape))
    return (b"\x08" + _varint(dtype) + b"\x12" + _varint(len(dims)) + dims + b"\x20" + _varint(offset)
            + b"\x28" + _varint(len(payload)) + b"\x35" + struct.pack("<I", _masked_crc(payload)))


def write_tiny_checkpoint(prefix: Path, tensors: dict[str, tuple[int, np.ndarray]]) -> None:
    """Write ``prefix.index`` + ``prefix.data-00000-of-00001`` the way TensorFlow lays them out."""
    shard, entries = bytearray(), [(b"", b"\x08\x01")]  # header: num_shards = 1
    for name in sorted(tensors):
        dtype, array = tensors[name]
        payload = array.tobytes()
        entries.append((name.encode(), _entry_proto(dtype, array.shape, len(shard), payload)))
        shard += payload
    Path(f"{prefix}.data-00000-of-00001").write_bytes(bytes(shard))
    index = bytearray()

    def add_block(block: bytes) -> bytes:
        handle = _varint(len(index)) + _varint(len(block))
        index.extend(block + b"\x00" + struct.pack("<I", _masked_crc(block + b"\x00")))
        return handle

    data_handle = add_block(_block(entries))
    meta_handle = add_block(_block([]))
    index_handle = add_block(_block([(entries[-1][0] + b"\xff", data_handle)]))
    footer = (meta_handle + index_handle).ljust(40, b"\x00") + struct.pack("<Q", TABLE_MAGIC)
    Path(f"{prefix}.index").write_bytes(bytes(index + footer))


def test_reads_a_hand_written_checkpoint_with_several_dtypes(tmp_path):
    rng = np.random.default_rng(7)
    tensors = {
        "layer/kernel": (1, rng.standard_normal((3, 2, 1, 4)).astype("<f4")),
        "layer/kernel/Adam": (1, rng.standard_normal((3, 2, 1, 4)).astype("<f4")),  # shares a key prefix
        "global_step": (9, np.array(1234, dtype="<i8")),
        "half": (19, rng.standard_normal(5).astype("<f2")),
        "counts": (3, np.arange(6, dtype="<i4").reshape(2, 3)),
    }
    write_tiny_checkpoint(tmp_path / "model.ckpt", tensors)
    assert checkpoint_prefix(tmp_path / "model.ckpt.index") == str(tmp_path / "model.ckpt")
    read = read_checkpoint(tmp_path / "model.ckpt")
    assert list(read) == sorted(tensors)
    for name, (_, array) in tensors.items():
        assert read[name].dtype == array.dtype and read[name].shape == array.shape
        np.testing.assert_array_equal(read[name], array)
    assert read_index(tmp_path / "model.ckpt.index")["counts"].shape == (2, 3)


def test_a_file_that_is_not_a_checkpoint_is_refused(tmp_path):
    (tmp_path / "x.index").write_bytes(b"not a table" * 10)
    with pytest.raises(WeightsError, match="not a TensorFlow checkpoint"):
        read_checkpoint(tmp_path / "x")
    with pytest.raises(WeightsError, match="not found"):
        read_checkpoint(tmp_path / "missing")
