"""Reading TensorFlow checkpoints (the V2 "tensor bundle" format) without TensorFlow.

A checkpoint ``PREFIX`` is two files:

* ``PREFIX.index`` — a LevelDB-style sorted table (an SSTable): data blocks of
  prefix-compressed ``key → value`` entries, an index block pointing at them and a 48-byte
  footer ending in a magic number. The entry with the empty key is a ``BundleHeaderProto``;
  every other key is a variable name whose value is a ``BundleEntryProto`` (dtype, shape,
  shard id, byte offset, byte size, CRC-32C of the bytes).
* ``PREFIX.data-00000-of-0000N`` — the raw little-endian tensor bytes, one shard per file.

Only the handful of protobuf fields we need are decoded, by hand. Block and tensor CRC-32C
checksums are verified (a vectorised CRC makes that cheap), so a truncated or corrupted file
fails with a clear :class:`~counterpoint.errors.WeightsError` instead of wrong numbers.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from counterpoint.errors import WeightsError

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
BLOCK_TRAILER_SIZE = 5  # one compression-type byte + a masked CRC-32C

#: TensorFlow ``DataType`` enum values we can turn into numpy arrays.
TF_DTYPES: dict[int, np.dtype] = {
    1: np.dtype("<f4"), 2: np.dtype("<f8"), 3: np.dtype("<i4"), 4: np.dtype("u1"),
    5: np.dtype("<i2"), 6: np.dtype("i1"), 9: np.dtype("<i8"), 10: np.dtype("?"),
    17: np.dtype("<u2"), 19: np.dtype("<f2"), 22: np.dtype("<u4"), 23: np.dtype("<u8"),
}

# ---------------------------------------------------------------- CRC-32C (Castagnoli)

_CRC_POLY = 0x82F63B78  # reflected Castagnoli polynomial


def _crc_table() -> np.ndarray:
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(_CRC_POLY), table >> 1).astype(np.uint32)
    return table


_TABLE = _crc_table()
_TABLE_LIST = [int(v) for v in _TABLE]


def _crc_update_bytes(state: int, data: bytes) -> int:
    """Advance a raw (unconditioned) CRC register byte by byte; for short inputs."""
    table = _TABLE_LIST
    for byte in data:
        state = table[(state ^ byte) & 0xFF] ^ (state >> 8)
    return state


@lru_cache(maxsize=4)
def _zero_shift_tables(length: int) -> list[list[int]]:
    """Byte tables of the linear map "feed ``length`` zero bytes into the register".

    The raw CRC register is linear over GF(2): the register after ``A + B`` equals the
    register after ``A`` shifted through ``len(B)`` zero bytes, XOR the register of ``B``
    alone. Returned as four 256-entry tables, one per byte of the 32-bit state.
    """
    basis = (np.uint32(1) << np.arange(32, dtype=np.uint32)).astype(np.uint32)
    for _ in range(length):
        basis = _TABLE[basis & 0xFF] ^ (basis >> 8)
    images = [int(v) for v in basis]
    tables = []
    for k in range(4):
        column = []
        for b in range(256):
            value = 0
            for bit in range(8):
                if b >> bit & 1:
                    value ^= images[8 * k + bit]
            column.append(value)
        tables.append(column)
    return tables


def crc32c(data: bytes | memoryview, chunk: int = 512) -> int:
    """CRC-32C of ``data`` (as in iSCSI, LevelDB, TensorFlow), vectorised over chunks.

    The input is cut into equal chunks whose raw CRCs numpy computes side by side, then the
    chunk CRCs are chained with the zero-shift map; the tail goes byte by byte.
    """
    buffer = np.frombuffer(data, dtype=np.uint8)
    n_chunks = len(buffer) // chunk
    state = 0xFFFFFFFF
    if n_chunks >= 8:
        blocks = buffer[: n_chunks * chunk].reshape(n_chunks, chunk)
        registers = np.zeros(n_chunks, dtype=np.uint32)
        for column in range(chunk):
            registers = _TABLE[(registers ^ blocks[:, column]) & 0xFF] ^ (registers >> 8)
        t0, t1, t2, t3 = _zero_shift_tables(chunk)
        for register in registers.tolist():
            state = (t0[state & 0xFF] ^ t1[state >> 8 & 0xFF] ^ t2[state >> 16 & 0xFF] ^ t3[state >> 24]) ^ register
        buffer = buffer[n_chunks * chunk:]
    return _crc_update_bytes(state, buffer.tobytes()) ^ 0xFFFFFFFF


def unmask_crc(masked: int) -> int:
    """Undo LevelDB's CRC masking (rotate right 15 bits after adding a constant)."""
    rotated = (masked - 0xA282EAD8) & 0xFFFFFFFF
    return ((rotated >> 17) | (rotated << 15)) & 0xFFFFFFFF


# ---------------------------------------------------------------- protobuf wire format


def _varint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")


def _fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    """The (field number, value) pairs of one protobuf message, values raw."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            out.append((number, value))
        elif wire == 1:
            out.append((number, struct.unpack_from("<Q", buf, pos)[0]))
            pos += 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            out.append((number, bytes(buf[pos:pos + length])))
            pos += length
        elif wire == 5:
            out.append((number, struct.unpack_from("<I", buf, pos)[0]))
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
    if pos != len(buf):
        raise ValueError("protobuf message overruns its buffer")
    return out


@dataclass(frozen=True)
class BundleEntry:
    """Where one tensor lives in the data shards (the fields of ``BundleEntryProto``)."""

    dtype: int
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    crc32c: int | None  # masked, as stored
    sliced: bool

    @classmethod
    def parse(cls, buf: bytes) -> "BundleEntry":
        dtype, shape, shard, offset, size, crc, sliced = 0, (), 0, 0, 0, None, False
        for number, value in _fields(buf):
            if number == 1:
                dtype = int(value)
            elif number == 2:
                shape = _parse_shape(value)  # type: ignore[arg-type]
            elif number == 3:
                shard = int(value)
            elif number == 4:
                offset = int(value)
            elif number == 5:
                size = int(value)
            elif number == 6:
                crc = int(value)
            elif number == 7:
                sliced = True
        return cls(dtype, shape, shard, offset, size, crc, sliced)


def _parse_shape(buf: bytes) -> tuple[int, ...]:
    """``TensorShapeProto``: repeated ``dim`` (field 2) each holding ``size`` (field 1)."""
    dims = []
    for number, value in _fields(buf):
        if number == 2:
            size = 0
            for sub_number, sub_value in _fields(value):  # type: ignore[arg-type]
                if sub_number == 1:
                    size = int(sub_value)
            dims.append(size)
        elif number == 3 and value:
            raise ValueError("tensor of unknown rank")
    return tuple(dims)


# ---------------------------------------------------------------- the SSTable


def _read_block(data: bytes, offset: int, size: int, where: str) -> bytes:
    if offset + size + BLOCK_TRAILER_SIZE > len(data):
        raise WeightsError(f"{where}: a block runs past the end of the file — the file is truncated; reinstall it")
    block = data[offset:offset + size]
    compression = data[offset + size]
    stored = struct.unpack_from("<I", data, offset + size + 1)[0]
    if unmask_crc(stored) != crc32c(data[offset:offset + size + 1]):
        raise WeightsError(f"{where}: block at byte {offset} fails its CRC-32C check — the file is corrupt; reinstall it")
    if compression != 0:
        raise WeightsError(f"{where}: block at byte {offset} is compressed (type {compression}), which this reader does not support")
    return block


def _block_entries(block: bytes) -> list[tuple[bytes, bytes]]:
    """Decode one table block: prefix-compressed entries followed by the restart array."""
    n_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * n_restarts
    entries: list[tuple[bytes, bytes]] = []
    key = b""
    pos = 0
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        value_length, pos = _varint(block, pos)
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        entries.append((key, block[pos:pos + value_length]))
        pos += value_length
    return entries


def read_index(index_path: str | Path) -> dict[str, BundleEntry]:
    """The tensor entries of a checkpoint ``.index`` file, by variable name, in file order."""
    path = Path(index_path)
    data = path.read_bytes()
    if len(data) < FOOTER_SIZE or struct.unpack_from("<Q", data, len(data) - 8)[0] != TABLE_MAGIC:
        raise WeightsError(f"{path}: not a TensorFlow checkpoint index (no table magic number at its end)")
    footer = data[len(data) - FOOTER_SIZE:]
    _meta_offset, pos = _varint(footer, 0)
    _meta_size, pos = _varint(footer, pos)
    index_offset, pos = _varint(footer, pos)
    index_size, pos = _varint(footer, pos)
    entries: dict[str, BundleEntry] = {}
    for _, handle in _block_entries(_read_block(data, index_offset, index_size, str(path))):
        block_offset, hpos = _varint(handle, 0)
        block_size, _ = _varint(handle, hpos)
        for key, value in _block_entries(_read_block(data, block_offset, block_size, str(path))):
            if key == b"":
                continue  # BundleHeaderProto: shard count, endianness, format version
            entries[key.decode()] = BundleEntry.parse(value)
    return entries


def _shard_path(prefix: str, shard: int, n_shards: int) -> Path:
    return Path(f"{prefix}.data-{shard:05d}-of-{n_shards:05d}")


def checkpoint_prefix(path: str | Path) -> str:
    """The checkpoint prefix given the prefix itself, its ``.index`` file or its folder.

    A folder holds one checkpoint ``FOLDER/<name>.index`` (musicnn's are named ``.index``,
    i.e. an empty name, so the prefix is ``FOLDER/``).
    """
    path = Path(path)
    if path.is_dir():
        indexes = sorted(path.glob("*.index")) + sorted(path.glob(".index"))
        indexes = list(dict.fromkeys(indexes))
        if len(indexes) != 1:
            raise WeightsError(f"{path}: expected exactly one TensorFlow checkpoint (*.index) in the folder, found {len(indexes)}")
        return str(indexes[0])[: -len(".index")]
    text = str(path)
    return text[: -len(".index")] if text.endswith(".index") else text


def read_checkpoint(path: str | Path, verify: bool = True) -> dict[str, np.ndarray]:
    """Every tensor of a TensorFlow V2 checkpoint as numpy arrays, by variable name.

    ``path`` is the checkpoint prefix, its ``.index`` file or the folder holding it.
    With ``verify`` the CRC-32C of each tensor's bytes is checked (about 0.1 s per 10 MB).
    """
    prefix = checkpoint_prefix(path)
    index_path = Path(prefix + ".index")
    if not index_path.exists():
        raise WeightsError(f"{index_path}: checkpoint index not found — give the checkpoint prefix, its .index file or its folder")
    entries = read_index(index_path)
    n_shards = 1 + max((e.shard_id for e in entries.values()), default=0)
    shards: dict[int, bytes] = {}
    tensors: dict[str, np.ndarray] = {}
    for name, entry in entries.items():
        if entry.sliced:
            raise WeightsError(f"{index_path}: variable {name!r} is stored in slices, which this reader does not support")
        if entry.dtype not in TF_DTYPES:
            raise WeightsError(f"{index_path}: variable {name!r} has TensorFlow dtype {entry.dtype}, which this reader does not support")
        if entry.shard_id not in shards:
            shard_path = _shard_path(prefix, entry.shard_id, n_shards)
            if not shard_path.exists():
                raise WeightsError(f"{shard_path}: checkpoint data shard not found next to {index_path}")
            shards[entry.shard_id] = shard_path.read_bytes()
        shard = shards[entry.shard_id]
        dtype = TF_DTYPES[entry.dtype]
        expected = int(np.prod(entry.shape, dtype=np.int64)) * dtype.itemsize
        if entry.size != expected or entry.offset + entry.size > len(shard):
            raise WeightsError(f"{index_path}: variable {name!r} (shape {entry.shape}) does not fit its data shard — "
                               "the checkpoint is truncated or corrupt; reinstall it")
        raw = memoryview(shard)[entry.offset:entry.offset + entry.size]
        if verify and entry.crc32c is not None and unmask_crc(entry.crc32c) != crc32c(raw):
            raise WeightsError(f"{index_path}: variable {name!r} fails its CRC-32C check — the data shard is corrupt; reinstall it")
        tensors[name] = np.frombuffer(raw, dtype=dtype).reshape(entry.shape).copy()
    return tensors
