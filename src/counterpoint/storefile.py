"""The HDF5 file under the store: committed lengths, appends in whole chunks, a redo record.

Why it is built this way (issue 11). A store used to be changed by folding new batches into a
copy of the whole file: safe, but every commit cost the size of the store. Now a batch is
appended in place, at a cost that depends on the batch only:

- **Committed lengths.** Every appendable dataset belongs to a group whose attribute says how
  many of its rows are committed (``n_tracks`` / ``n_frames`` on an encoder group, ``n_rows``
  on ``/tracks`` and ``/failures``). Rows beyond it are not part of the store: a writer killed
  while appending leaves them behind, and the next commit writes over them. The attributes are
  written after the rows, and after an HDF5 flush, so they never count rows not yet written.
- **SWMR ordering.** Appends run in HDF5's single-writer/multiple-reader mode (the file is
  opened in it, so a killed writer leaves the mark SWMR readers accept), in which the
  library writes a dataset's chunk, then its chunk index, then its new extent, so that the
  file is readable at every moment of an append (a plain write may leave an index pointing at
  nothing). Objects (groups, datasets, attributes) cannot be created in that mode: the store
  creates them only when their layout changes, and does so on a copy (see
  :mod:`counterpoint.store`).
- **Whole chunks and a redo record.** HDF5 rewrites a chunk in place when its checksummed size
  does not change, so the last, partly filled chunk of a dataset is written again by the next
  append, and a kill in the middle of that write could leave committed rows in a chunk whose
  Fletcher-32 checksum no longer matches. So before touching the file, a commit writes every
  block it will write (the committed rows of each last chunk, then the new rows) to a redo
  record beside the store (``FILE.h5.journal/commit.redo``), atomically; it then writes those
  blocks as whole chunks (which HDF5 writes without reading the old chunk back), the committed
  lengths, and deletes the record. A writer that finds the record replays it first; the blocks
  have absolute positions, so replaying twice writes the same bytes.
- **Status flags.** HDF5 marks a file open for writing in its superblock and refuses to open it
  again until that mark is cleared, which a killed writer never does. Readers therefore fall
  back to SWMR reading, which ignores the mark, and the next writer clears it as ``h5clear -s``
  does.

Writes per batch: its journal file, the redo record (the batch plus at most one chunk per
dataset) and the file (the same), about three times the bytes the store grows by.
"""

from __future__ import annotations

import ctypes
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

#: HDF5 1.10's file format: checksums on every piece of metadata, SWMR, extensible-array chunk
#: indexes (appending a chunk costs the same at any length). Readable by HDF5 >= 1.10.
LIBVER = ("v110", "latest")
#: Attributes holding committed row counts, on the group that holds the datasets.
TRACK_COUNT, FRAME_COUNT, ROW_COUNT = "n_tracks", "n_frames", "n_rows"
#: Datasets of an encoder group counted in frames; ``frame_offsets`` has one row more than tracks.
FRAME_DATASETS = ("frames", "timestamps")
#: Datasets written once with their group, not appended to.
FIXED_DATASETS = ("feature_names",)
REDO_NAME = "commit.redo"
STALE_FLAGS = "file is already open for write"


def committed_rows(dataset: h5py.Dataset) -> int:
    """Rows of ``dataset`` that belong to the store; an h5py reader slices ``dataset[:n]``.

    Stores of format 1 (no count attributes) count every row.
    """
    name = dataset.name.rsplit("/", 1)[-1]
    attrs = dataset.parent.attrs
    if name in FIXED_DATASETS:
        return dataset.shape[0]
    if name in FRAME_DATASETS:
        key, extra = FRAME_COUNT, 0
    else:
        key, extra = (TRACK_COUNT, 1 if name == "frame_offsets" else 0) if TRACK_COUNT in attrs else (ROW_COUNT, 0)
    return int(attrs[key]) + extra if key in attrs else dataset.shape[0]


def open_for_reading(path: Path) -> h5py.File:
    """Open read-only; a file still marked open by a writer (running, or killed) is read in SWMR mode."""
    try:
        return h5py.File(path, "r", libver=LIBVER)
    except OSError as exc:
        if STALE_FLAGS not in str(exc):
            raise
    return h5py.File(path, "r", libver=LIBVER, swmr=True)


def _access(clear_flags: bool = False) -> h5py.h5p.PropFAID:
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_V110, h5py.h5f.LIBVER_LATEST)
    # HDF5's own file lock is not taken: the store's write lock (FILE.h5.lock) keeps other writers
    # out, and HDF5's would also fail on a reader that holds the file open.
    fapl.set_file_locking(False, True)
    if clear_flags:
        library = _hdf5_library()
        if library is None:
            raise OSError("the HDF5 library h5py uses was not found to clear the open-for-write mark a killed writer "
                          "left — run `h5clear -s FILE` (HDF5's tools) and retry")
        library.H5Pset.argtypes = [ctypes.c_int64, ctypes.c_char_p, ctypes.c_void_p]
        if library.H5Pset(fapl.id, b"clear_status_flags", ctypes.byref(ctypes.c_bool(True))) < 0:
            raise OSError("cannot clear the open-for-write mark a killed writer left — run `h5clear -s FILE` and retry")
    return fapl


def open_for_appending(path: Path) -> h5py.File:
    """Open for appending in SWMR-write mode from the first byte on, so that a writer killed at
    any point leaves a file SWMR readers open; the mark a killed writer left is cleared first, as
    ``h5clear -s`` does (through the same HDF5 property)."""
    flags = h5py.h5f.ACC_RDWR | h5py.h5f.ACC_SWMR_WRITE
    try:
        return h5py.File(h5py.h5f.open(os.fsencode(path), flags, fapl=_access()))
    except OSError as exc:
        if STALE_FLAGS not in str(exc):
            raise
    return h5py.File(h5py.h5f.open(os.fsencode(path), flags, fapl=_access(clear_flags=True)))


def _hdf5_library() -> ctypes.CDLL | None:
    """The HDF5 library h5py runs on (ctypes needs the very copy h5py loaded, to share its ids)."""
    maps = Path("/proc/self/maps")
    paths = [line.split()[-1] for line in maps.read_text().splitlines() if "/libhdf5" in line] if maps.exists() else []
    h5py_dir = Path(h5py.__file__).parent
    paths += [str(p) for p in (*h5py_dir.parent.glob("h5py.libs/libhdf5*"), *h5py_dir.glob(".dylibs/libhdf5*"))]
    for path in paths:
        if "_hl" not in Path(path).name:
            return ctypes.CDLL(path)
    return None


def write_rows(dataset: h5py.Dataset, start: int, rows: np.ndarray) -> None:
    """Write ``rows`` at row ``start``, as the file's own type (h5py converts bytes to UTF-8 only this way)."""
    if not len(rows):
        return
    file_space = dataset.id.get_space()
    file_space.select_hyperslab((start,) + (0,) * (rows.ndim - 1), rows.shape)
    dataset.id.write(h5py.h5s.create_simple(rows.shape), file_space, np.ascontiguousarray(rows),
                     mtype=dataset.id.get_type())


@dataclass
class Block:
    """Rows to write to one dataset from ``start``, a chunk boundary: committed rows first, then new ones."""

    path: str
    start: int
    rows: np.ndarray


@dataclass
class Appends:
    """What one commit appends to an open file: rows per dataset, then the committed lengths.

    Apply functions call :meth:`add` and :meth:`set_count`; nothing touches the file until
    :func:`write_appends`, so a batch that turns out to be bad leaves the file as it was.
    """

    handle: h5py.File
    rows: dict[str, list[np.ndarray]] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    texts: dict[str, dict[str, bytes]] = field(default_factory=dict)

    def count(self, group: h5py.Group, key: str) -> int:
        """A committed count, with what this commit appends so far."""
        pending = self.counts.get(group.name, {})
        return pending[key] if key in pending else int(group.attrs[key])

    def set_count(self, group: h5py.Group, key: str, value: int) -> None:
        self.counts.setdefault(group.name, {})[key] = int(value)

    def set_text(self, group: h5py.Group, key: str, encoded: bytes) -> None:
        """Rewrite a fixed-width text attribute in place (``encoded`` fits its width)."""
        self.texts.setdefault(group.name, {})[key] = encoded

    def add(self, dataset: h5py.Dataset, values: np.ndarray) -> None:
        if len(values):
            self.rows.setdefault(dataset.name, []).append(values)

    def blocks(self) -> list[Block]:
        """Per dataset: from the start of its last partial chunk, its committed rows there, then the new rows."""
        blocks = []
        for path, parts in self.rows.items():
            dataset = self.handle[path]
            committed = committed_rows(dataset)
            start = committed - committed % dataset.chunks[0]
            dtype = dataset.dtype if h5py.check_string_dtype(dataset.dtype) is None else f"S{h5py.check_string_dtype(dataset.dtype).length}"
            tail = dataset[start:committed]
            blocks.append(Block(path, start, np.concatenate([np.asarray(tail, dtype=dtype)] +
                                                            [np.asarray(p, dtype=dtype) for p in parts])))
        return blocks


def write_appends(handle: h5py.File, blocks: list[Block], counts: dict[str, dict[str, int]],
                  *, texts: dict[str, dict[str, bytes]]) -> None:
    """Write blocks as whole chunks, flush, then the committed lengths (and text attributes), flush."""
    for block in blocks:
        dataset = handle[block.path]
        chunk = dataset.chunks[0]
        whole = -(-len(block.rows) // chunk) * chunk
        if dataset.shape[0] < block.start + whole:
            dataset.resize(block.start + whole, axis=0)
        padding = np.zeros((whole - len(block.rows),) + block.rows.shape[1:], dtype=block.rows.dtype)
        write_rows(dataset, block.start, np.concatenate([block.rows, padding]))
    handle.flush()  # the rows are in the file before any count says so
    for group, values in counts.items():
        for key, value in values.items():
            handle[group].attrs.modify(key, np.int64(value))
    for group, values in texts.items():
        for key, value in values.items():
            handle[group].attrs.modify(key, value)
    handle.flush()


def redo_path(journal: Path) -> Path:
    return journal / REDO_NAME


def write_redo(journal: Path, appends: Appends, blocks: list[Block], *, entries: list[Path], store_id: str) -> Path:
    """Record atomically (temporary name, fsync, rename) everything a commit is about to write, with
    the UUID of the store it is for."""
    final = redo_path(journal)
    temporary = final.with_name(final.name + ".tmp")
    arrays = {f"b{i}": block.rows for i, block in enumerate(blocks)}
    meta = {"blocks": [[b.path, b.start] for b in blocks], "counts": appends.counts,
            "texts": {g: {k: v.decode("utf-8") for k, v in values.items()} for g, values in appends.texts.items()},
            "entries": [e.name for e in entries], "store_id": store_id}
    try:
        with open(temporary, "wb") as handle:
            np.savez(handle, __meta__=np.array(json.dumps(meta)), **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, final)
    except OSError:
        temporary.unlink(missing_ok=True)
        raise
    return final


@dataclass
class Redo:
    """A commit's record: blocks to write, committed counts, text attributes, journal entries it
    folds, and the UUID of the store it was written for (None: written before stores had one)."""

    blocks: list[Block]
    counts: dict[str, dict[str, int]]
    texts: dict[str, dict[str, bytes]]
    entries: list[str]
    store_id: str | None


def read_redo(record: Path) -> Redo:
    """Read a redo record; a damaged one raises (OSError, ValueError, KeyError...: the caller names it)."""
    with np.load(record, allow_pickle=False) as data:
        meta = json.loads(str(data["__meta__"]))
        blocks = [Block(path, int(start), data[f"b{i}"]) for i, (path, start) in enumerate(meta["blocks"])]
    texts = {g: {k: v.encode("utf-8") for k, v in values.items()} for g, values in meta["texts"].items()}
    return Redo(blocks, meta["counts"], texts, meta["entries"], meta.get("store_id"))


def fsync_file(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def finish(store: Path, record: Path, entries: list[Path]) -> None:
    """After the file holds a commit: make it durable, then drop the batches and the redo record."""
    fsync_file(store)
    for entry in entries:
        entry.unlink(missing_ok=True)
    record.unlink(missing_ok=True)


def replay_redo(store: Path, journal: Path, redo: Redo) -> None:
    """Finish a commit a killed writer began from its record (writes the same bytes again)."""
    with open_for_appending(store) as handle:
        write_appends(handle, redo.blocks, redo.counts, texts=redo.texts)
    finish(store, redo_path(journal), [journal / name for name in redo.entries])


def text_attr_width(attrs: h5py.AttributeManager, key: str) -> int | None:
    """The byte width of a fixed-length text attribute, or None (absent, or variable-length)."""
    if key not in attrs:
        return None
    string = h5py.check_string_dtype(attrs.get_id(key).dtype)
    return string.length if string is not None else None
