"""The HDF5 embedding store: write with a crash-safe journal, resume, read as matrix + metadata.

Layout of ``FILE.h5`` (format 2)::

    /                      attrs: format, format_version, store_id (a UUID written at creation),
                                  counterpoint_version, created, updated, dataset_root (the
                                  latest), dataset_roots (JSON: every root it was filled from),
                                  software (JSON); a shard's store (``embed --shard``) also
                                  shard (``i/N``) and manifest_fingerprint, a merged one
                                  manifest_fingerprint and merged_shards (JSON: count, indexes)
    /tracks/c0, c1, ...    one UTF-8 string column each; attr ``columns`` (JSON) names them
                           in order (id, audio_filename, midi_filename, split, group, labels...);
                           attr ``n_rows``: rows committed. Rows are appended: the last row of
                           an id holds its current metadata
    /encoders/<key>/       attrs: spec, name, modality, dim, fingerprint (JSON), fingerprint_digest,
                                  n_tracks, n_frames (committed); for one layer of an encoder with
                                  layers (musicnn, MERT, CLaMP's M3): layer, layer_index (its
                                  position in the network, -1: no single layer) and base_spec
                                  (the spec without layer=, shared by the encoder's layers);
                                  parameters (JSON: each spec parameter's value, default and whether
                                  it is a runtime one, so specs are read without the encoder) and
                                  shared_space (the trained joint space the encoder declares, e.g.
                                  ``clamp3:variant=saas``), both absent in stores written before them
        ids                (N,)    track ids, row order of everything below
        pooled             (N, D)  float32
        frame_offsets      (N+1,)  int64, rows of track i are frames[offsets[i]:offsets[i+1]]
        frames             (ΣT, D) float32
        timestamps         (ΣT,)   float64, seconds
        duration           (N,)    float64, seconds of input (audio length, MIDI end)
        compute_seconds    (N,)    float64, wall seconds spent on the track (load + model)
        feature_names      (D,)    only for named descriptors
        source_root, source_path, source_size, source_mtime_ns, source_digest   (N,) each: the
                           file each row was embedded from (:mod:`counterpoint.sources`): index into
                           dataset_roots, path inside it, bytes, mtime (ns), SHA-256 (128 bits, hex);
                           root -1 and size -1: embedded before sources were recorded (unknown)
                           Rows are appended: when a track's file changed, its new row is appended
                           and the last row of an id is its current one (earlier ones are not read)
    /failures/{encoder,track_id,stage,error}   UTF-8 string columns; attr ``n_rows``. The last
                           row of an (encoder, track) is current; stage ``resolved`` withdraws it

Only committed rows belong to the store: a dataset may hold more (N = ``n_tracks``, ΣT =
``n_frames``), left by a killed writer or padding to a whole chunk. An h5py-only reader slices
``group["pooled"][:group.attrs["n_tracks"]]`` (:func:`~counterpoint.storefile.committed_rows`
says which count belongs to which dataset). Format 1 had no counts (every row counted) and
rewrote tables in place; it is read as it is, and written once as format 2 by the next writer.

Identity. Every store carries a UUID (``store_id``) written at creation (older stores get one at
their next write), and every journal batch and redo record carries the UUID of the store it was
written for: a journal or redo record of another store is refused, never folded in.

Crash safety. Results go first to a journal folder beside the store (``FILE.h5.journal/``), one
file per batch, each written to a temporary name and renamed (atomic). :meth:`StoreWriter.commit`
appends the journal's batches to the file in place, at a cost that depends on the batches only
(:mod:`counterpoint.storefile`: SWMR ordering, whole chunks, a redo record, committed counts
written last). A process killed at any moment therefore leaves a readable store holding whole
batches, and loses at most the batch it was computing; the next writer finishes an interrupted
commit and appends what the journal holds. Changes of layout (a new encoder or a replaced one,
new track columns, a text wider than its column, a format-1 store) are rare and go through a
copy of the file renamed over it, as every commit did before.

One writer at a time. A :class:`StoreWriter` holds an OS lock (``flock``) on ``FILE.h5.lock``
and writes its pid, host and start time into it; a second writer is refused with a message
naming the first. The OS frees the lock when its holder dies, so the lock of a killed run is
taken over (with a note) and its journal folded in. Readers (:class:`Store`) never lock. Many
workers (the Ray engine's actors) feed the one writer of their driver; none writes the file.

Integrity. Every dataset is chunked with HDF5's Fletcher-32 checksum filter, strings (data
and attributes) are fixed-length so that they sit inside checksummed storage, and the file
format is HDF5 1.10's, whose metadata carries checksums too. Bytes damaged after writing are
therefore a :class:`~counterpoint.errors.StoreError` naming the dataset, never silent numbers.
Stores written before checksums are read as they are.
"""

from __future__ import annotations

import copy
import errno
import functools
import html
import json
import logging
import os
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator, Set as AbstractSet
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence
from urllib.parse import quote, unquote

import h5py
import numpy as np
import pandas as pd
from filelock import FileLock, Timeout

from counterpoint import __version__
from counterpoint.errors import CounterpointError, StoreError
from counterpoint.matrix import EmbeddingMatrix, FrameSequences, Rows, matching_rows, require_selection  # noqa: F401  (read results, re-exported)
from counterpoint.sources import SourceIdentity, is_changed
from counterpoint.specs import parse_spec, typed_value
from counterpoint.storefile import (FIXED_DATASETS, FRAME_COUNT, FRAME_DATASETS, LIBVER, REDO_NAME, ROW_COUNT,
                                    TRACK_COUNT, Appends, committed_rows, finish, fsync_file, open_for_appending, open_for_reading,
                                    read_redo, redo_path, replay_redo, text_attr_width, write_appends, write_redo, write_rows)

FORMAT = "counterpoint-store"
#: 2: committed row counts (``n_tracks``, ``n_frames``, ``n_rows``), append-only tables. 1 is read, and migrated on write.
FORMAT_VERSION = 2
TRACK_ID_COLUMNS = ("id", "audio_filename", "midi_filename", "split", "group")
FAILURE_COLUMNS = ("encoder", "track_id", "stage", "error")
#: The stage of a failure row that withdraws an earlier failure (the track was embedded since).
RESOLVED = "resolved"
#: Least bytes of a new text column, of the failures' error column, and of root text attributes:
#: room for longer values later, since widening a column is a layout change (a copy of the store).
MIN_TEXT_BYTES, MIN_ERROR_BYTES, ROOT_TEXT_BYTES = 32, 512, 1024
#: Rows read at a time by :meth:`Store.verify` are about this many bytes.
VERIFY_BLOCK_BYTES = 32 << 20
#: Per-row source identity of an encoder group (:mod:`counterpoint.sources`), numbers then texts.
SOURCE_NUMBERS = ("source_root", "source_size", "source_mtime_ns")
SOURCE_TEXTS = ("source_path", "source_digest")

log = logging.getLogger(__name__)


def encoder_key(spec: str) -> str:
    """The HDF5 group name of an encoder spec (specs may hold '/', group names may not)."""
    return quote(spec, safe=":=,.-_+")


def software_versions() -> dict[str, str]:
    """Versions of the libraries whose behaviour shapes the numbers (read once per process: every
    commit records them, and reading packages' metadata costs about a tenth of a second)."""
    return dict(_installed_versions())


@functools.cache
def _installed_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {"counterpoint": __version__}
    for package in ("numpy", "scipy", "librosa", "soundfile", "soxr", "pretty_midi", "mido", "torch",
                    "transformers", "h5py", "scikit-learn"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            continue
    import platform

    versions["python"] = platform.python_version()
    return versions


# --------------------------------------------------------------------------------------------
# Reading


#: The spec parameters that tell an untrained twin from its trained encoder.
INIT_PARAMETERS = ("init", "init_seed")


@dataclass(repr=False)
class EncoderRecord:
    """What the store knows about one encoder's results."""

    key: str
    spec: str
    name: str
    modality: str
    dim: int
    fingerprint: dict[str, Any]
    n_tracks: int
    n_frames: int
    feature_names: list[str] | None
    compute_seconds: float
    input_seconds: float
    #: for one layer of an encoder with layers: its name, position in the network and base spec
    layer: str | None = None
    layer_index: int | None = None
    base_spec: str | None = None
    #: what the encoder declared at write time (None: a store written before it was recorded):
    #: each spec parameter's ``value``, ``default`` and ``runtime`` flag, and its joint space
    parameters: dict[str, dict[str, Any]] | None = None
    shared_space: str | None = None

    def __repr__(self) -> str:
        """One line: spec, modality, dim, counts and layer; feature names counted, never listed."""
        layer = f", layer={self.layer!r}" if self.layer is not None else ""
        names = f", feature_names=<{len(self.feature_names)} names>" if self.feature_names is not None else ""
        return (f"EncoderRecord(spec={self.spec!r}, modality={self.modality!r}, dim={self.dim}, tracks={self.n_tracks}, "
                f"frames={self.n_frames}{layer}{names})")

    def reads_as(self, spec: str) -> bool:
        """Whether ``spec`` names this record's encoder: parameters typed as declared, spelled-out
        defaults and runtime parameters (``batch_size``) ignored, so ``symbolic-stats:window=8``
        reads as ``symbolic-stats:window=8.0``. A record without declared parameters (written
        before they were recorded, or imported) is named by its spec as written."""
        if spec.strip() == self.spec:
            return True
        try:
            name, raw = parse_spec(spec)
        except CounterpointError:
            return False
        if self.parameters is None or name != self.name:
            return False
        given = {}
        for key, text in raw.items():
            declared = self.parameters.get(key)
            if declared is None:
                return False
            if declared["runtime"]:
                continue
            try:
                given[key] = typed_value(text, declared["default"])
            except ValueError:
                return False
        return all(given.get(key, declared["default"]) == declared["value"]
                   for key, declared in self.parameters.items() if not declared["runtime"])

    @property
    def untrained(self) -> bool:
        """Whether this encoder was embedded with ``init=random`` (an untrained control)."""
        return (self.fingerprint or {}).get("params", {}).get("init") == "random"

    def identity_without_init(self) -> dict[str, Any]:
        """What must agree between an encoder and its untrained twin: the fingerprint without weights and
        without :data:`INIT_PARAMETERS`."""
        fingerprint = {key: value for key, value in (self.fingerprint or {}).items() if key != "weights"}
        fingerprint["params"] = {k: v for k, v in fingerprint.get("params", {}).items() if k not in INIT_PARAMETERS}
        return fingerprint


def untrained_twins(records: Sequence[EncoderRecord]) -> dict[str, str]:
    """Each trained encoder's spec → the spec of its untrained twin among ``records`` (same name, parameters,
    code and input cut; ``init=random``); the smallest ``init_seed`` where several seeds are stored."""
    twins: dict[str, str] = {}
    untrained = sorted((r for r in records if r.untrained),
                       key=lambda r: int(r.fingerprint["params"].get("init_seed", 0)))
    for record in records:
        if record.untrained:
            continue
        identity = record.identity_without_init()
        match = next((twin for twin in untrained if twin.identity_without_init() == identity), None)
        if match is not None:
            twins[record.spec] = match.spec
    return twins


class _DamagedDataset(Exception):
    """A dataset HDF5 cannot read back (checksum mismatch); :func:`_open` names the store."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(name, reason)
        self.name, self.reason = name, reason


def _read(dataset: h5py.Dataset, selection: Any = ()) -> np.ndarray:
    try:
        return dataset[selection]
    except OSError as exc:  # HDF5: "filter returned failure during read" = Fletcher-32 mismatch
        raise _DamagedDataset(dataset.name, str(exc)) from exc


def _text(value: Any) -> str:
    """An attribute or string element as text: fixed-length strings come back as UTF-8 bytes."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _committed(dataset: h5py.Dataset) -> np.ndarray:
    """The committed rows of a dataset (rows past its group's count are not part of the store)."""
    return _read(dataset, np.s_[:committed_rows(dataset)])


def _read_strings(dataset: h5py.Dataset) -> list[str]:
    return [_text(s) for s in _committed(dataset)]


def _current_rows(ids: Sequence[str], withdrawn: AbstractSet[str] = frozenset()) -> np.ndarray | None:
    """Rows holding the current embedding of each id (the last row of an id: a track embedded again
    because its file changed is appended), in row order, less the ids in ``withdrawn`` (see
    :func:`_withdrawn`); None when every id has one row and none is withdrawn."""
    table = pd.Series(list(ids))
    current = ~table.duplicated(keep="last").to_numpy()
    if withdrawn:
        current &= ~table.isin(withdrawn).to_numpy()
    return None if current.all() else np.flatnonzero(current)


def _withdrawn(handle: h5py.File, spec: str) -> set[str]:
    """Ids whose stored embedding of ``spec`` is withdrawn: a later run found their file changed and
    could not embed it again, so it recorded a failure after the embedding (a successful embedding
    resolves every earlier failure of its track). Readers never serve such a stale row."""
    return _withdrawn_of(_failure_table(handle), spec)


def _withdrawn_of(failures: pd.DataFrame, spec: str) -> set[str]:
    """:func:`_withdrawn` from a failures table already read."""
    return set(failures.loc[failures["encoder"] == spec, "track_id"])


def _read_sources(group: h5py.Group, rows: np.ndarray | None) -> list[SourceIdentity]:
    """The source identity of the current rows of an encoder group (unknown for rows written before)."""
    if SOURCE_TEXTS[0] not in group:
        return [SourceIdentity.unknown()] * (committed_rows(group["ids"]) if rows is None else len(rows))
    columns = {name: _committed(group[name]) for name in SOURCE_NUMBERS}
    columns |= {name: np.array(_read_strings(group[name]), dtype=object) for name in SOURCE_TEXTS}
    if rows is not None:
        columns = {name: values[rows] for name, values in columns.items()}
    return [SourceIdentity(int(r), str(p), int(s), int(m), str(d)) for r, p, s, m, d in
            zip(columns["source_root"], columns["source_path"], columns["source_size"], columns["source_mtime_ns"],
                columns["source_digest"])]


def _read_table(group: h5py.Group) -> pd.DataFrame:
    """The track table; rows are appended, so the last row of an id is its current metadata."""
    columns = json.loads(_text(group.attrs["columns"]))
    data = {name: _read_strings(group[f"c{i}"]) for i, name in enumerate(columns)}
    return pd.DataFrame(data, columns=columns).drop_duplicates("id", keep="last").reset_index(drop=True)


def _damage_fix(path: Path, dataset: str, dataset_root: str) -> str:
    """What to do about a damaged dataset: restore a backup, or re-embed what it belongs to."""
    parts = dataset.strip("/").split("/")
    root = dataset_root or "ROOT"
    if redo_path(journal_dir(path)).exists():
        return (f"a writer was killed while committing; rerun it (`counterpoint embed {root} --out {path.name}`) to finish "
                f"that commit from {journal_dir(path).name}/{REDO_NAME}, then read again")
    if len(parts) >= 2 and parts[0] == "encoders":
        spec = unquote(parts[1])
        return (f"restore {path.name} from a backup, or re-embed encoder {spec} into a new store: "
                f"`counterpoint embed {root} -e '{spec}' --out NEW.h5`")
    return f"restore {path.name} from a backup, or re-embed into a new store: `counterpoint embed {root} --out NEW.h5`"


@contextmanager
def _open(path: Path, mode: str = "r", shown_as: Path | None = None, dataset_root: str = "") -> Iterator[h5py.File]:
    """Open a store (``mode``: "r", "swmr" for in-place appends, or an h5py mode); damage found while it
    is open becomes a StoreError naming ``shown_as`` (default ``path``)."""
    shown = shown_as or path
    try:
        opened = {"r": open_for_reading, "swmr": open_for_appending}
        with opened[mode](path) if mode in opened else h5py.File(path, mode, libver=LIBVER) as handle:
            yield handle
    except _DamagedDataset as exc:
        raise StoreError(f"{shown}: dataset {exc.name} is damaged — its checksum does not match the bytes written "
                         f"({exc.reason}); {_damage_fix(shown, exc.name, dataset_root)}") from exc
    except (OSError, KeyError, RuntimeError) as exc:
        # h5py reports an object whose header fails its checksum as KeyError("Unable to ... open object ..."),
        # and attributes in dense storage (more than 8 on an object) whose checksum fails as RuntimeError.
        if (isinstance(exc, KeyError) and "Unable to" not in str(exc)
                or isinstance(exc, RuntimeError) and "checksum" not in str(exc)):
            raise
        if _is_full_disk(exc):  # a write that found no room: the writer names it (the file is not damaged)
            raise
        raise StoreError(f"{shown}: cannot be read as a store ({exc}) — the file is damaged or not HDF5; "
                         f"restore it from a backup, or re-embed into a new store with `counterpoint embed`") from exc


def _count_problems(handle: h5py.File) -> list[str]:
    """Committed counts (``n_tracks``, ``n_frames``, ``n_rows``) that are negative or exceed the rows
    their datasets hold — a file changed by hand or by another tool; cheap (attributes and shapes)."""
    found = []
    groups = [(f"encoder {unquote(k)}", g) for k, g in handle.get("encoders", {}).items()]
    groups += [(f"/{name}", handle[name]) for name in ("tracks", "failures") if name in handle]
    for where, group in groups:
        wrong = [f"{key} is {int(group.attrs[key]):,}" for key in (TRACK_COUNT, FRAME_COUNT, ROW_COUNT)
                 if key in group.attrs and int(group.attrs[key]) < 0]
        for name, dataset in group.items():
            if wrong:
                break
            if isinstance(dataset, h5py.Dataset) and name not in FIXED_DATASETS and committed_rows(dataset) > dataset.shape[0]:
                key = FRAME_COUNT if name in FRAME_DATASETS else TRACK_COUNT if TRACK_COUNT in group.attrs else ROW_COUNT
                wrong.append(f"{key} is {int(group.attrs[key]):,} but {name} holds {dataset.shape[0]:,} rows")
        if wrong:
            found.append(f"{where}: {'; '.join(wrong)}")
    return found


def _verify_dataset(dataset: h5py.Dataset) -> None:
    """Read a dataset once, a block of whole chunks at a time, so HDF5 checks every checksum."""
    if not dataset.shape or dataset.shape[0] == 0:
        _read(dataset)
        return
    row_bytes = dataset.dtype.itemsize * int(np.prod(dataset.shape[1:], dtype=np.int64))
    chunk_rows = dataset.chunks[0] if dataset.chunks else 1
    step = chunk_rows * max(1, VERIFY_BLOCK_BYTES // max(1, row_bytes * chunk_rows))
    for start in range(0, dataset.shape[0], step):
        _read(dataset, np.s_[start:start + step])


class Store:
    """Read access to a store file. Cheap to create; every method opens the file briefly."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        #: (column, value) filters applied to what :meth:`pooled` and :meth:`frames` return (see :meth:`where`).
        self.selection: tuple[tuple[str, str], ...] = ()
        if self.path.is_dir():
            raise StoreError(f"{self.path}: is a folder, not a store — give the store file, e.g. {self.path / 'embeddings.h5'}")
        if not self.path.is_file():
            raise StoreError(f"{self.path}: no such store — create it with `counterpoint embed ROOT --out {self.path}`")
        try:
            open_for_reading(self.path).close()
        except OSError as exc:
            if not h5py.is_hdf5(self.path):
                raise StoreError(f"{self.path}: is not an HDF5 file, so not a Counterpoint store — give the .h5 file that "
                                 "`counterpoint embed ROOT --out FILE.h5` wrote (or run that command to create one)") from exc
            raise StoreError(f"{self.path}: an HDF5 file that cannot be opened ({exc}) — it is damaged, or still being "
                             "copied; restore it from a backup, or re-embed into a new store with `counterpoint embed`") from exc
        with _open(self.path) as handle:  # damaged root attributes are a StoreError too
            if _text(handle.attrs.get("format", "")) != FORMAT:
                raise StoreError(f"{self.path}: not a Counterpoint store (no '{FORMAT}' format mark) — "
                                 "for the older audio_embeddings/symbolic_embeddings layout use `counterpoint import-legacy`")
            self.attrs = {k: (_text(v) if isinstance(v, (bytes, str)) else v) for k, v in handle.attrs.items()}
        with self._open() as handle:
            if problems := _count_problems(handle):  # readers would slice past the rows the file holds
                raise StoreError(f"{self.path}: the store is inconsistent — {'; '.join(problems)} — restore it from a "
                                 "backup, or re-embed into a new store (`counterpoint embed ROOT --out NEW.h5`)")
            failures = _failure_table(handle)
            self._records = [self._record(key, handle["encoders"][key], failures) for key in handle.get("encoders", {})]

    def _open(self) -> AbstractContextManager[h5py.File]:
        """The file open for reading; damage becomes a StoreError naming the dataset and the fix."""
        return _open(self.path, dataset_root=str(self.attrs.get("dataset_root", "")))

    @staticmethod
    def _record(key: str, group: h5py.Group, failures: pd.DataFrame) -> EncoderRecord:
        """What the store holds of one encoder; counts and sums over current rows (one per track).
        ``failures`` is the store's failures table, read once for every record."""
        names = _read_strings(group["feature_names"]) if "feature_names" in group else None
        rows = _current_rows(_read_strings(group["ids"]), _withdrawn_of(failures, _text(group.attrs["spec"])))
        compute, duration = _committed(group["compute_seconds"]), _committed(group["duration"])
        if rows is None:
            n_tracks, n_frames = committed_rows(group["ids"]), committed_rows(group["frames"])
        else:
            offsets = _committed(group["frame_offsets"])
            n_tracks, n_frames = len(rows), int(np.sum(offsets[rows + 1] - offsets[rows]))
            compute, duration = compute[rows], duration[rows]
        return EncoderRecord(
            key=key, spec=_text(group.attrs["spec"]), name=_text(group.attrs["name"]),
            modality=_text(group.attrs["modality"]), dim=int(group.attrs["dim"]),
            fingerprint=json.loads(_text(group.attrs["fingerprint"])), n_tracks=n_tracks,
            n_frames=n_frames, feature_names=names,
            compute_seconds=float(np.sum(compute)), input_seconds=float(np.sum(duration)),
            layer=_text(group.attrs["layer"]) if "layer" in group.attrs else None,
            layer_index=int(group.attrs["layer_index"]) if "layer_index" in group.attrs else None,
            base_spec=_text(group.attrs["base_spec"]) if "base_spec" in group.attrs else None,
            parameters=json.loads(_text(group.attrs["parameters"])) if "parameters" in group.attrs else None,
            shared_space=_text(group.attrs["shared_space"]) if "shared_space" in group.attrs else None,
        )

    @property
    def encoders(self) -> list[EncoderRecord]:
        """One record per encoder, in the file's order: spec, modality, dim, track and frame counts.

        An encoder whose several layers the store holds (``musicnn:layers=all``) appears once, as
        its default layer (the entry whose spec is its base spec), so that analyses and comparisons
        do not multiply by its layers; without that entry each of its layers appears.
        :attr:`all_encoders` lists every entry and :meth:`layers` one encoder's layers.
        """
        defaults = {r.base_spec for r in self._records if r.base_spec is not None and r.spec == r.base_spec}
        return [r for r in self._records if r.base_spec not in defaults or r.spec == r.base_spec]

    @property
    def all_encoders(self) -> list[EncoderRecord]:
        """Every encoder entry, each stored layer of an encoder with layers included, in the file's order."""
        return list(self._records)

    def layers(self, base_spec: str) -> list[EncoderRecord]:
        """The stored layers of the encoder ``base_spec`` (its spec without ``layer=``), in network order;
        empty when the store holds none of them with layer attributes."""
        held = [r for r in self._records if r.base_spec == base_spec]
        return sorted(held, key=lambda r: (r.layer_index if r.layer_index is not None and r.layer_index >= 0
                                           else len(self._records) + 1, r.spec))

    @property
    def encoder_specs(self) -> list[str]:
        """The specs of :attr:`encoders`, in the same order."""
        return [r.spec for r in self.encoders]

    def encoders_with_tracks(self) -> list[EncoderRecord]:
        """The :attr:`encoders` that hold at least one track (an audio encoder on MIDI-only rows holds none)."""
        return [r for r in self.encoders if r.n_tracks]

    def untrained_controls(self) -> dict[str, str]:
        """Each untrained control's spec → the spec of its trained encoder, for every ``init=random`` encoder
        whose trained twin the store also holds (:func:`untrained_twins`)."""
        return {twin: trained for trained, twin in untrained_twins(self.encoders).items()}

    def analysed_encoders(self) -> list[EncoderRecord]:
        """The encoders an analysis takes by default: :meth:`encoders_with_tracks` less the untrained controls
        (:meth:`untrained_controls`). A control is the same architecture as its trained encoder with random
        weights: the untrained control (``compare``) sets it beside that encoder, while a space of its own in
        the per-space figures, the probe table or the compared pairs would count one architecture twice. An
        ``init=random`` encoder whose trained twin the store lacks is analysed like any other."""
        controls = self.untrained_controls()
        return [r for r in self.encoders_with_tracks() if r.spec not in controls]

    def encoder(self, spec_or_name: str) -> EncoderRecord:
        """The record whose spec is ``spec_or_name``, or the only one with that encoder name.

        Specs are read with the parameters each encoder declared when it wrote its record
        (:meth:`EncoderRecord.reads_as`): ``window=8`` finds ``window=8.0``, and parameters spelled
        out at their default values are ignored.
        """
        exact = [r for r in self._records if r.spec == spec_or_name]
        if not exact:
            exact = [r for r in self._records if r.reads_as(spec_or_name)]
        if exact:
            return exact[0]
        by_name = [r for r in self.encoders if r.name == spec_or_name]
        if len(by_name) == 1:
            return by_name[0]
        available = ", ".join(r.spec for r in self._records) or "none"
        if by_name:
            raise StoreError(f"{self.path}: {spec_or_name!r} matches several encoders ({', '.join(r.spec for r in by_name)}) — give the full spec")
        raise StoreError(f"{self.path}: no encoder {spec_or_name!r} in the store (it has: {available})")

    def tracks(self) -> pd.DataFrame:
        """The track table, one row per track: ``id``, ``audio_filename``, ``midi_filename``, ``split``,
        ``group`` and every metadata column, all text (``""`` where a cell is empty)."""
        with self._open() as handle:
            if "tracks" not in handle:
                return pd.DataFrame(columns=list(TRACK_ID_COLUMNS))
            return _read_table(handle["tracks"])

    def failures(self) -> pd.DataFrame:
        """The failures table: ``encoder``, ``track_id``, ``stage`` (manifest/load/embed) and ``error``, one row each."""
        with self._open() as handle:
            return _failure_table(handle)

    def verify(self) -> None:
        """Read every dataset once; raise a StoreError naming the first one whose checksum fails.

        Reading pooled or frame data checks them anyway; this checks the whole file up front
        (``store info`` and resuming a run do), at the cost of reading it once.
        """
        def check(group: h5py.Group) -> None:
            for key in group:
                item = group[key]
                if isinstance(item, h5py.Group):
                    check(item)
                else:
                    _verify_dataset(item)

        with self._open() as handle:
            check(handle)

    def _obs(self, ids: list[str]) -> pd.DataFrame:
        table = self.tracks().set_index("id", drop=False)
        missing = [i for i in ids if i not in table.index]
        if missing:
            raise StoreError(f"{self.path}: track table lacks {len(missing)} embedded ids (e.g. {missing[0]!r}) — the store is damaged; re-run embed")
        return table.loc[ids].reset_index(drop=True)

    def pooled(self, spec_or_name: str) -> EmbeddingMatrix:
        """Pooled embeddings of one encoder: ``X`` [N, D] float32 and ``obs``, its N tracks' rows of the
        track table in the same order (see :class:`~counterpoint.matrix.EmbeddingMatrix`).

        ``spec_or_name`` is a spec (compared in canonical form) or an encoder name held once.
        """
        record = self.encoder(spec_or_name)
        with self._open() as handle:
            group = handle["encoders"][record.key]
            ids = _read_strings(group["ids"])
            X = _committed(group["pooled"]).astype(np.float32, copy=False)
            rows = _current_rows(ids, _withdrawn(handle, record.spec))
        if rows is not None:
            X, ids = X[rows], [ids[i] for i in rows]
        return self._selected(EmbeddingMatrix(record.spec, record.modality, X, self._obs(ids), record.feature_names,
                                              record.fingerprint))

    def frames(self, spec_or_name: str, ids: Sequence[str] | None = None) -> FrameSequences:
        """Frame embeddings of one encoder: per track a float32 ``[T_i, D]`` array and its ``[T_i]``
        timestamps in seconds, with ``obs`` as in :meth:`pooled`.

        ``ids`` reads only those tracks, in that order, one slice each (memory: their frames);
        None reads every track at once.
        """
        record = self.encoder(spec_or_name)
        with self._open() as handle:
            group = handle["encoders"][record.key]
            stored = _read_strings(group["ids"])
            offsets = _committed(group["frame_offsets"])
            withdrawn = _withdrawn(handle, record.spec)
            if ids is None:
                rows = _current_rows(stored, withdrawn)
                rows = np.arange(len(stored)) if rows is None else rows
                ids = [stored[i] for i in rows]
                frames, stamps = _committed(group["frames"]), _committed(group["timestamps"])
                per_track = [frames[offsets[i]:offsets[i + 1]] for i in rows]
                per_stamps = [stamps[offsets[i]:offsets[i + 1]] for i in rows]
            else:
                ids = list(ids)
                row = {track_id: i for i, track_id in enumerate(stored) if track_id not in withdrawn}  # the last row wins
                missing = [i for i in ids if i not in row]
                if missing:
                    raise StoreError(f"{self.path}: {record.spec} holds no frames of {len(missing)} of the ids asked for "
                                     f"(e.g. {missing[0]!r}) — take ids from Store.pooled({record.spec!r}).obs['id']")
                spans = [np.s_[offsets[row[i]]:offsets[row[i] + 1]] for i in ids]
                per_track = [_read(group["frames"], span) for span in spans]
                per_stamps = [_read(group["timestamps"], span) for span in spans]
        return self._selected(FrameSequences(record.spec, record.modality, per_track, per_stamps, self._obs(ids)))

    def embedded_ids(self, spec_or_name: str) -> list[str]:
        """The ids this encoder holds a current embedding of, in row order (ids only, no embeddings)."""
        record = self.encoder(spec_or_name)
        with self._open() as handle:
            ids = _read_strings(handle["encoders"][record.key]["ids"])
            rows = _current_rows(ids, _withdrawn(handle, record.spec))
        return ids if rows is None else [ids[i] for i in rows]

    def iter_embeddings(self, spec_or_name: str, ids: Sequence[str], *,
                        batch_size: int = 256) -> Iterator[list[StoredEmbedding]]:
        """Everything stored of each of ``ids`` for one encoder (pooled, frames, timestamps, duration,
        compute seconds, source file), ``batch_size`` tracks at a time, in the order of ``ids``: what
        copying rows into another store needs. Memory: one batch (the rows between its first and
        last stored row)."""
        record = self.encoder(spec_or_name)
        with self._open() as handle:
            group = handle["encoders"][record.key]
            stored = _read_strings(group["ids"])
            withdrawn = _withdrawn(handle, record.spec)
            row = {track_id: i for i, track_id in enumerate(stored) if track_id not in withdrawn}  # the last row wins
            if missing := [i for i in ids if i not in row]:
                raise StoreError(f"{self.path}: {record.spec} holds no embedding of {len(missing)} of the ids asked for "
                                 f"(e.g. {missing[0]!r}) — take ids from Store.embedded_ids({record.spec!r})")
            offsets = _committed(group["frame_offsets"])
            sources = _read_sources(group, None)
            for start in range(0, len(ids), batch_size):
                rows = np.array([row[i] for i in ids[start:start + batch_size]], dtype=np.int64)
                first, last = int(rows.min()), int(rows.max()) + 1
                span = np.s_[first:last]
                pooled, duration = _read(group["pooled"], span), _read(group["duration"], span)
                seconds = _read(group["compute_seconds"], span)
                frame_span = np.s_[offsets[first]:offsets[last]]
                frames, stamps = _read(group["frames"], frame_span), _read(group["timestamps"], frame_span)
                begin, end = offsets[rows] - offsets[first], offsets[rows + 1] - offsets[first]
                yield [StoredEmbedding(stored[r], pooled[r - first], frames[b:e], stamps[b:e], float(duration[r - first]),
                                       float(seconds[r - first]), sources[r]) for r, b, e in zip(rows, begin, end)]

    def where(self, column: str, value: str) -> "Store":
        """This store seen through a filter: :meth:`pooled` and :meth:`frames` keep only the tracks whose
        ``column`` reads ``value`` (e.g. ``where("midi_source", "original")``); filters add up.

        A :class:`StoreError` lists the columns when the track table has no ``column``, and the column's
        most frequent values when no track (of those the filters before kept) reads ``value``.
        """
        require_selection(self.tracks(), (*self.selection, (column, value)), self.path)
        view = copy.copy(self)
        view.selection = (*self.selection, (column, value))
        return view

    def _selected(self, rows: Rows) -> Rows:
        for column, value in self.selection:
            rows = rows.where(column, value)
        return rows

    def encoder_table(self, *, all_layers: bool = False) -> pd.DataFrame:
        """One row per encoder of :attr:`encoders` (with ``all_layers``, of :attr:`all_encoders`), for a
        notebook: ``encoder`` (its spec), ``modality``, ``dim``, ``tracks`` and ``frames`` (current rows; in a
        store seen through :meth:`where`, those of the tracks it keeps), ``layer`` (set for one layer of an
        encoder with layers) and ``feature_names`` (how many features the encoder named; <NA>: unnamed).
        Reads track ids and frame offsets, never embeddings."""
        return self._encoder_table(self.all_encoders if all_layers else self.encoders,
                                   self._kept_ids(self.tracks()) if self.selection else None)

    def _encoder_table(self, records: list[EncoderRecord], kept: AbstractSet[str] | None) -> pd.DataFrame:
        """:meth:`encoder_table` of ``records``, counting the tracks of ``kept`` (None: every track)."""
        counts = [(r.n_tracks, r.n_frames) for r in records]
        if kept is not None:
            with self._open() as handle:
                failures = _failure_table(handle)
                counts = [_held(handle["encoders"][r.key], _withdrawn_of(failures, r.spec), kept) for r in records]
        table = pd.DataFrame([{"encoder": r.spec, "modality": r.modality, "dim": r.dim, "tracks": tracks, "frames": frames,
                               "layer": r.layer, "feature_names": None if r.feature_names is None else len(r.feature_names)}
                              for r, (tracks, frames) in zip(records, counts)],
                             columns=["encoder", "modality", "dim", "tracks", "frames", "layer", "feature_names"])
        return table.astype({"dim": "int64", "tracks": "int64", "frames": "int64", "feature_names": "Int64"})

    def _kept_ids(self, tracks: pd.DataFrame) -> set[str] | None:
        """Ids of the rows of the track table ``tracks`` that the filters of :meth:`where` keep; None when the
        store is not filtered."""
        if not self.selection:
            return None
        for column, value in self.selection:
            tracks = tracks[matching_rows(tracks, column, value, store=self.path)]
        return set(tracks["id"])

    def overview(self) -> StoreOverview:
        """What :func:`repr` shows: track, encoder and failure counts (of the tracks a filtered store keeps)
        and the journal batches not yet committed. Reads metadata only, never embeddings."""
        every, failures = self.tracks(), self.failures()
        kept = self._kept_ids(every)
        tracks = every if kept is None else every[every["id"].isin(kept)]
        if kept is not None:
            failures = failures[failures["track_id"].isin(kept)]
        return StoreOverview(path=self.path, selection=self.selection, tracks=len(tracks), all_tracks=len(every),
                             failures=len(failures), encoders=self._encoder_table(self.encoders, kept),
                             more_layers=len(self._records) - len(self.encoders), pending_batches=self.pending_batches())

    def __repr__(self) -> str:
        try:
            return self.overview().text()
        except CounterpointError as exc:  # moved or damaged since it was opened: a repr says so, never raises
            return f"Store('{self.path}'): cannot be read now — {exc}"

    def _repr_html_(self) -> str:
        try:
            return self.overview().html()
        except CounterpointError as exc:
            return f"<p><b>Store</b> <code>{html.escape(str(self.path))}</code>: cannot be read now — {html.escape(str(exc))}</p>"

    def timing(self) -> pd.DataFrame:
        """One row per encoder: ``tracks``, compute ``seconds``, ``files_per_second`` and ``realtime_factor``
        (seconds of audio per second of compute; NaN for symbolic encoders)."""
        rows = []
        for r in self._records:
            rows.append({
                "encoder": r.spec, "modality": r.modality, "tracks": r.n_tracks,
                "seconds": r.compute_seconds,
                "files_per_second": r.n_tracks / r.compute_seconds if r.compute_seconds > 0 else float("nan"),
                # Seconds of input per second of compute (x real time); for audio encoders.
                "realtime_factor": (r.input_seconds / r.compute_seconds
                                    if r.modality == "audio" and r.compute_seconds > 0 else float("nan")),
            })
        return pd.DataFrame(rows, columns=["encoder", "modality", "tracks", "seconds", "files_per_second", "realtime_factor"])

    def pending_batches(self) -> int:
        """Journal files not yet folded into the store (after an interrupted run)."""
        journal = journal_dir(self.path)
        return len(list(journal.glob("*.npz"))) if journal.is_dir() else 0

    def journal_problems(self) -> list[str]:
        """What is wrong with the journal beside the store: batches or a redo record written for another
        store, or damaged ones (each is refused by the next writer; the fix is to move the journal aside)."""
        journal = journal_dir(self.path)
        if not journal.is_dir():
            return []
        foreign, damaged = 0, []
        for item in [*sorted(journal.glob("*.npz")), *([redo_path(journal)] if redo_path(journal).exists() else [])]:
            try:
                with np.load(item, allow_pickle=False) as data:
                    owner = (str(data["__store__"]) if "__store__" in data.files else
                             json.loads(str(data["__meta__"])).get("store_id") if item.name == REDO_NAME else None)
            except Exception:  # a torn or overwritten file: zipfile's, numpy's or json's error
                damaged.append(item.name)
                continue
            foreign += owner is not None and self.store_id is not None and owner != self.store_id
        fix = f"move it aside (e.g. `mv {journal} {journal}.old`) and rerun"
        return ([f"{journal}: {foreign} batch(es) were written for another store, not this one — {fix}"] if foreign else []) + \
               ([f"{journal}: {len(damaged)} damaged file(s) ({', '.join(damaged[:3])}) — {fix}"] if damaged else [])

    @property
    def store_id(self) -> str | None:
        """The store's UUID (hex), written at creation; None for a store written before stores had one."""
        return self.attrs.get("store_id") or None

    @property
    def roots(self) -> list[str]:
        """Every dataset root the store was filled from, in the order they were first used."""
        if "dataset_roots" in self.attrs:
            return list(json.loads(self.attrs["dataset_roots"]))
        root = self.attrs.get("dataset_root", "")
        return [root] if root else []

    def withdrawn(self, spec_or_name: str) -> set[str]:
        """Ids whose embedding of this encoder is stored but withdrawn (their file changed and could not
        be embedded again: the failures table says why); no reader serves them."""
        record = self.encoder(spec_or_name)
        with self._open() as handle:
            return _withdrawn(handle, record.spec)

    def sources(self, spec_or_name: str) -> dict[str, SourceIdentity]:
        """Per track id, the identity of the file its current embedding was computed from
        (:class:`~counterpoint.sources.SourceIdentity`; ``known`` is False for rows written before
        stores recorded it)."""
        record = self.encoder(spec_or_name)
        with self._open() as handle:
            group = handle["encoders"][record.key]
            ids = _read_strings(group["ids"])
            rows = _current_rows(ids, _withdrawn(handle, record.spec))
            identities = _read_sources(group, rows)
        return dict(zip(ids if rows is None else [ids[i] for i in rows], identities))

    def check_sources(self, files: bool = False) -> list[SourceCheck]:
        """Per encoder holding tracks: rows whose source is unknown, and rows embedded from another
        file than the track table names now; with ``files``, also the rows whose file changed since
        (or is missing), read from the recorded dataset roots (stat, and a digest where the size or
        mtime differ: see :mod:`counterpoint.sources`)."""
        tracks = self.tracks().set_index("id")
        roots = self.roots
        checks = []
        for record in self.encoders_with_tracks():
            column = "audio_filename" if record.modality == "audio" else "midi_filename"
            check = SourceCheck(record.spec, record.n_tracks, checked_files=files)
            for track_id, source in self.sources(record.spec).items():
                named = str(tracks[column].get(track_id, "")) if column in tracks else ""
                if not source.known:
                    check.unknown.append(track_id)
                elif source.path != named:
                    check.other_file.append(track_id)
                elif files:
                    if not 0 <= source.root < len(roots):
                        check.missing.append(track_id)
                        continue
                    try:
                        if is_changed(source, source.root, named, path=Path(roots[source.root]) / named):
                            check.changed.append(track_id)
                    except OSError:
                        check.missing.append(track_id)
            checks.append(check)
        return checks

    def problems(self) -> list[str]:
        """Broken invariants of the file's layout beyond its committed counts (which opening the store
        checks): frame offsets that go backwards or do not end at the frame count, embedded ids
        without a track row. Reads ids and offsets, no checksums. Empty for a sound store."""
        found: list[str] = []
        with self._open() as handle:
            track_ids = set(_read_table(handle["tracks"])["id"]) if "tracks" in handle else set()
            for key, group in handle.get("encoders", {}).items():
                where = f"encoder {unquote(key)}"
                offsets = _committed(group["frame_offsets"])
                frames = committed_rows(group["frames"])
                if len(offsets) and (offsets[0] != 0 or np.any(np.diff(offsets) < 0) or offsets[-1] != frames):
                    found.append(f"{where}: frame_offsets do not run from 0 up to n_frames ({frames:,})")
                orphans = sorted(set(_read_strings(group["ids"])) - track_ids)
                if orphans:
                    found.append(f"{where}: {len(orphans)} embedded tracks have no row in /tracks (e.g. {orphans[0]!r})")
        return found


def _held(group: h5py.Group, withdrawn: AbstractSet[str], kept: AbstractSet[str]) -> tuple[int, int]:
    """Tracks and frames of an encoder group's current rows whose id is in ``kept`` (ids and offsets only)."""
    ids = _read_strings(group["ids"])
    rows = _current_rows(ids, withdrawn)
    rows = np.arange(len(ids)) if rows is None else rows
    rows = rows[np.array([ids[i] in kept for i in rows], dtype=bool)]
    offsets = _committed(group["frame_offsets"])
    return len(rows), int(np.sum(offsets[rows + 1] - offsets[rows]))


@dataclass
class StoredEmbedding:
    """One track's stored embedding of one encoder (:meth:`Store.iter_embeddings`): ``pooled`` float32
    ``[D]``, ``frames`` float32 ``[T, D]``, ``timestamps`` ``[T]`` and ``duration`` in seconds, the
    ``compute_seconds`` it took, and the file it was computed from (``source.root`` indexes the
    store's :attr:`Store.roots`)."""

    track_id: str
    pooled: np.ndarray
    frames: np.ndarray
    timestamps: np.ndarray
    duration: float
    compute_seconds: float
    source: SourceIdentity


@dataclass
class StoreOverview:
    """A store at a glance (:meth:`Store.overview`): counts of the tracks a filtered store keeps
    (``all_tracks``: before its filters), the :meth:`Store.encoder_table`, ``more_layers`` (layer
    entries beyond :attr:`Store.encoders`) and journal batches not yet committed."""

    path: Path
    selection: tuple[tuple[str, str], ...]
    tracks: int
    all_tracks: int
    failures: int
    encoders: pd.DataFrame
    more_layers: int
    pending_batches: int

    def lines(self) -> tuple[str, list[str], list[str]]:
        """The heading, the notes above the encoder table (the filters) and those below it, as text."""
        heading = (f"{self.tracks} tracks, {len(self.encoders)} encoder{'s' * (len(self.encoders) != 1)}, "
                   f"{self.failures} failure{'s' * (self.failures != 1)}")
        above = []
        if self.selection:
            filters = " and ".join(f"{column}={value}" for column, value in self.selection)
            above.append(f"where {filters}: {self.tracks} of {self.all_tracks} tracks")
        below = []
        if not len(self.encoders):
            below.append("no encoders yet")
        if self.more_layers:
            below.append(f"{self.more_layers} more layer {'entry' if self.more_layers == 1 else 'entries'}: "
                         "Store.all_encoders, Store.layers(BASE_SPEC)")
        if self.pending_batches:
            below.append(f"{self.pending_batches} journal batch{'es' * (self.pending_batches != 1)} not yet committed: "
                         "a writer is running, or was stopped (the next one folds them in)")
        return heading, above, below

    def _shown(self) -> pd.DataFrame:
        """The encoder table without the optional columns no encoder fills (``layer``, ``feature_names``)."""
        optional = self.encoders.columns.isin(["layer", "feature_names"])
        return self.encoders.loc[:, ~optional | self.encoders.notna().any(axis=0).to_numpy()]

    def text(self) -> str:
        heading, above, below = self.lines()
        table = self._shown()
        body = table.to_string(index=False, na_rep="").splitlines() if len(table) else []
        return "\n".join([f"Store('{self.path}'): {heading}", *(f"  {line}" for line in [*above, *body, *below])])

    def html(self) -> str:
        heading, above, below = self.lines()
        table = self._shown()
        parts = [f"<p><b>Store</b> <code>{html.escape(str(self.path))}</code>: {html.escape(heading)}</p>"]
        parts += [f"<p>{html.escape(note)}</p>" for note in above]
        if len(table):
            parts.append(table.to_html(index=False, na_rep="", border=0))
        parts += [f"<p>{html.escape(note)}</p>" for note in below]
        return "\n".join(parts)


@dataclass
class SourceCheck:
    """What :meth:`Store.check_sources` found for one encoder (lists of track ids)."""

    spec: str
    tracks: int
    #: rows written before stores recorded sources: nothing to compare
    unknown: list[str] = field(default_factory=list)
    #: the track table names another file than the one embedded (a later run changed the manifest)
    other_file: list[str] = field(default_factory=list)
    #: the file now holds other bytes / cannot be found (only when files were checked)
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    checked_files: bool = False

    @property
    def stale(self) -> int:
        """Rows known to be out of date: embedded from another file, or from bytes that changed."""
        return len(self.other_file) + len(self.changed)


def as_store(store_or_path: "Store | str | Path") -> Store:
    """An open store: the object itself when it is one, else ``Store(path)``."""
    return store_or_path if isinstance(store_or_path, Store) else Store(store_or_path)


# --------------------------------------------------------------------------------------------
# Writing


def journal_dir(path: Path) -> Path:
    return path.with_name(path.name + ".journal")


def lock_path(path: Path) -> Path:
    """The write lock beside a store: ``FILE.h5.lock``, naming its writer while one holds it."""
    return path.with_name(path.name + ".lock")


def _process_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, and belongs to another user
        pass
    return True


def _lock_holder(text: str) -> dict[str, Any] | None:
    """The writer a lock file names ({pid, host, since}), or None for an empty or foreign file."""
    try:
        holder = json.loads(text)
    except ValueError:
        return None
    return holder if isinstance(holder, dict) and "pid" in holder else None


def _require_writable_folder(store: Path) -> None:
    """Try to create a file beside the store: the writer needs to (lock, journal, the copy it commits).

    A real attempt, not permission bits: they do not tell a read-only mount, and they do not stop root.
    """
    try:
        with tempfile.TemporaryFile(dir=store.parent, prefix=f".{store.name}.", suffix=".probe"):
            pass
    except OSError as exc:
        raise StoreError(f"{store.parent}: the folder is not writable ({exc.strerror or exc}) — a store's writer "
                         f"creates its lock, journal and a copy beside {store.name}; write the store into a folder you "
                         "can write to (--out), or copy it there first; reading it needs no writing") from None


class _WriteLock:
    """The one-writer lock of a store: an OS lock on ``FILE.h5.lock`` plus the holder's pid, host, start.

    The OS lock decides; the file's text only serves the messages. The OS frees the lock when
    its holder exits in any way, so a file that still names a writer when the lock is free is
    the trace of a killed run: it is taken over with a note.
    """

    def __init__(self, store: Path) -> None:
        self.store = store
        self.path = lock_path(store)
        _require_writable_folder(store)
        self._lock = FileLock(self.path, timeout=0, thread_local=False, on_acquired=self._claim)
        try:
            self._lock.acquire()
        except Timeout:
            raise StoreError(self._busy_message()) from None
        except OSError as exc:
            raise StoreError(f"{self.path}: the store's lock file cannot be opened ({exc.strerror or exc}) — "
                             "it may belong to another user; ask them, or write the store elsewhere (--out)") from None

    def _claim(self, fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        previous = _lock_holder(os.read(fd, 4096).decode("utf-8", "replace"))
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "since": time.strftime("%Y-%m-%d %H:%M:%S")}).encode())
        if previous is not None:
            gone = (previous.get("host") == socket.gethostname() and not _process_running(int(previous["pid"])))
            state = "is no longer running" if gone else "no longer holds the lock"
            log.warning(f"{self.store}: the writer recorded in {self.path.name} (pid {previous['pid']} on "
                        f"{previous.get('host', '?')} since {previous.get('since', '?')}) {state}; taking over and "
                        "folding in the batches it journaled")

    def _busy_message(self) -> str:
        try:
            holder = _lock_holder(self.path.read_text(encoding="utf-8"))
        except OSError:
            holder = None
        who = (f"pid {holder['pid']} on {holder.get('host', '?')} since {holder.get('since', '?')}" if holder
               else f"another process (see {self.path})")
        return (f"{self.store} is being written by {who} — wait for it to finish or stop it, or write this run "
                "into another store (--out OTHER.h5); two writers on one store would lose results")

    def release(self) -> None:
        if self._lock.is_locked:
            with open(self.path, "r+b") as handle:  # a clean exit leaves no writer named
                handle.truncate()
            self._lock.release()


@dataclass
class EncoderMeta:
    spec: str
    name: str
    modality: str
    dim: int
    fingerprint: dict[str, Any]
    feature_names: list[str] | None = None
    #: for one layer of an encoder with layers: its name, position in the network (-1: no single
    #: layer) and the base spec; not part of the digest (the fingerprint already names the layer)
    layer: str | None = None
    layer_index: int | None = None
    base_spec: str | None = None
    #: what the encoder declares (see :class:`EncoderRecord`); not part of the digest either
    parameters: dict[str, dict[str, Any]] | None = None
    shared_space: str | None = None

    @property
    def digest(self) -> str:
        import hashlib

        return hashlib.sha256(json.dumps(self.fingerprint, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class _Journal:
    """Atomic per-batch files, numbered in write order, each carrying the UUID of its store."""

    folder: Path
    store_id: str
    next_index: int = field(init=False)

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in self.folder.glob("*.tmp*"):
            stale.unlink()  # a write cut short by a kill; its batch is recomputed
        existing = sorted(self.folder.glob("*.npz"))
        self.next_index = int(existing[-1].stem) + 1 if existing else 0

    def write(self, kind: str, payload: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        final = self.folder / f"{self.next_index:09d}.npz"
        temporary = final.with_suffix(".tmp.npz")
        arrays = dict(payload)
        arrays["__kind__"] = np.array(kind)
        arrays["__meta__"] = np.array(json.dumps(meta, default=str))
        arrays["__store__"] = np.array(self.store_id)
        try:
            with open(temporary, "wb") as handle:
                np.savez(handle, **arrays)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, final)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            raise _disk_error(exc, self.folder, "writing a batch to the journal") from exc
        self.next_index += 1

    def entries(self) -> list[Path]:
        return sorted(self.folder.glob("*.npz"))


#: errno values that mean the disk (or the user's quota, or the file size limit) is full.
_FULL_DISK = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _is_full_disk(exc: BaseException) -> bool:
    """An OSError of a full disk, from Python (errno) or from HDF5 (which puts errno in its message)."""
    if not isinstance(exc, OSError):
        return False
    if exc.errno in _FULL_DISK:
        return True
    text = str(exc)
    return any(f"errno = {code}," in text or os.strerror(code) in text for code in _FULL_DISK)


def _disk_error(exc: OSError, where: Path, doing: str) -> Exception:
    """A full disk as a StoreError naming the place and the fix; any other OSError as it was."""
    if not _is_full_disk(exc):
        return exc
    return StoreError(f"{where}: the disk is full ({exc.strerror or exc}) while {doing} — the batches committed "
                      "before are kept in the store, and the journal's batches are folded in by the next run; free "
                      "space on that disk and rerun the same command, or write the store on another disk "
                      "(--out elsewhere)")


def _checked_dataset(group: h5py.Group, name: str, **options: Any) -> h5py.Dataset:
    """A resizable dataset with a Fletcher-32 checksum on every chunk."""
    return group.create_dataset(name, fletcher32=True, **options)


def _utf8(values: Sequence[str]) -> np.ndarray:
    """UTF-8 bytes, fixed width: unlike variable-length strings (kept in HDF5's global heap),
    they sit in the checksummed chunks."""
    encoded = [str(v).encode("utf-8") for v in values]
    return np.array(encoded, dtype=f"S{max([1, *map(len, encoded)])}")


def _text_width(needed: int, current: int = 0, least: int = MIN_TEXT_BYTES) -> int:
    """Width of a new or widened text column: room to grow, so that widening (a rewrite) is rare."""
    return max(2 * needed, 2 * current, least)


def _string_column(group: h5py.Group, name: str, values: Sequence[str], least: int = MIN_TEXT_BYTES) -> None:
    """A fixed-width UTF-8 column holding ``values`` (replacing one of that name)."""
    if name in group:
        del group[name]
    encoded = _utf8(values)
    dataset = _checked_dataset(group, name, shape=(len(encoded),), maxshape=(None,), chunks=(1024,),
                               dtype=h5py.string_dtype("utf-8", _text_width(encoded.itemsize if len(values) else 0,
                                                                            least=least)))
    write_rows(dataset, 0, encoded.astype(dataset.dtype))


def _width(dataset: h5py.Dataset) -> int | None:
    string = h5py.check_string_dtype(dataset.dtype)
    return None if string is None else string.length


def _set_text_attrs(attrs: h5py.AttributeManager, values: dict[str, str], least: int = 0) -> None:
    """Text attributes as fixed-length UTF-8, stored inside the checksummed object header; ``least``
    bytes of room let later values be written in place."""
    for key, value in values.items():
        encoded = _utf8([value])
        attrs.create(key, data=encoded[0], dtype=h5py.string_dtype("utf-8", max(least, encoded.itemsize)))


def _refuse_other_files(path: Path) -> None:
    """A writer adds to a store or creates a new file; it never overwrites anything else."""
    try:
        with open_for_reading(path) as handle:
            is_store = _text(handle.attrs.get("format", "")) == FORMAT
        reason = "it has no Counterpoint format mark"
    except OSError as exc:
        is_store, reason = False, f"it cannot be opened as HDF5: {exc}"
    if not is_store:
        raise StoreError(f"{path}: exists and is not a Counterpoint store ({reason}) — a store is only added to or "
                         f"created, never written over another file; give --out a new file name or move {path.name} aside")


class _NeedsRewrite(Exception):
    """A batch changes the file's layout (a new group, column or width): it goes through a copy."""


@dataclass
class _Fold:
    """Applies journal batches to an open file: appends are planned in ``appends``; layout changes
    are made directly when ``may_reshape`` (on a copy), else they raise :class:`_NeedsRewrite`."""

    handle: h5py.File
    appends: Appends
    may_reshape: bool
    present: dict[str, set[str]]  # encoder key -> ids in the store (the writer's cache)
    failed: dict[tuple[str, str], tuple[str, str]] | None  # (encoder, track) -> (stage, error), current failures

    def reshape(self) -> None:
        if not self.may_reshape:
            raise _NeedsRewrite

    def present_ids(self, key: str) -> set[str]:
        if key not in self.present:
            self.present[key] = set(_read_strings(self.handle["encoders"][key]["ids"]))
        return self.present[key]

    def current_failures(self) -> dict[tuple[str, str], tuple[str, str]]:
        if self.failed is None:
            table = _failure_table(self.handle)
            self.failed = {(e, t): (s, m) for e, t, s, m in table[list(FAILURE_COLUMNS)].itertuples(index=False)}
        return self.failed

    def append_text(self, group: h5py.Group, name: str, encoded: np.ndarray) -> None:
        """Append to a text column, widening it first (a layout change) if a value does not fit."""
        width = _width(group[name])
        if width is None or encoded.itemsize > width:  # variable-length (format 1) or too narrow
            self.reshape()
            values = _read_strings(group[name])
            _string_column(group, name, values, least=_text_width(encoded.itemsize, width or 0))
        self.appends.add(group[name], encoded)

    def set_root_texts(self, values: dict[str, str]) -> None:
        """Root text attributes: in place where they fit their width, else as a layout change."""
        attrs = self.handle.attrs
        for key, value in values.items():
            if key in attrs and _text(attrs[key]) == value:
                continue
            encoded = value.encode("utf-8")
            width = text_attr_width(attrs, key)
            if width is not None and len(encoded) <= width and not self.may_reshape:
                self.appends.set_text(self.handle["/"], key, encoded)
            else:
                self.reshape()
                _set_text_attrs(attrs, {key: value}, least=ROOT_TEXT_BYTES)


def _apply_tracks(fold: _Fold, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Append the tracks that are new or whose metadata changed; the last row of an id wins."""
    new = pd.DataFrame({c: arrays[f"c{i}"].astype(str) for i, c in enumerate(meta["columns"])}, columns=meta["columns"])
    group = fold.handle.get("tracks")
    stored = _read_table(group) if group is not None else pd.DataFrame(columns=list(new.columns))
    columns = list(stored.columns) + [c for c in new.columns if c not in stored.columns]
    new = new.reindex(columns=columns, fill_value="")
    if group is None or len(columns) > len(stored.columns):
        fold.reshape()  # a new table or new columns: write the table again, as merged
        merged = pd.concat([stored[~stored["id"].isin(new["id"])], new], ignore_index=True).fillna("")
        if group is not None:
            del fold.handle["tracks"]
        group = fold.handle.create_group("tracks")
        _set_text_attrs(group.attrs, {"columns": json.dumps(columns)})
        for i, column in enumerate(columns):
            _string_column(group, f"c{i}", merged[column].astype(str).tolist())
        group.attrs[ROW_COUNT] = np.int64(len(merged))
        return
    before = stored.set_index("id")
    known = new["id"].isin(before.index).to_numpy()
    changed = ~known
    if known.any():
        old = before.loc[new["id"][known], columns[1:]].to_numpy()
        changed[known] = (new.loc[known, columns[1:]].to_numpy() != old).any(axis=1)
    rows = new[changed]
    if rows.empty:
        return
    for i, column in enumerate(columns):
        fold.append_text(group, f"c{i}", _utf8(rows[column].tolist()))
    fold.appends.set_count(group, ROW_COUNT, fold.appends.count(group, ROW_COUNT) + len(rows))


def _apply_encoder(fold: _Fold, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    key = encoder_key(meta["spec"])
    digest = EncoderMeta(meta["spec"], meta["name"], meta["modality"], meta["dim"], meta["fingerprint"]).digest
    encoders = fold.handle.get("encoders")
    layer = {"layer": meta["layer"], "base_spec": meta["base_spec"]} if meta.get("layer") is not None else {}
    declared = _declared_attrs(meta)
    if encoders is not None and key in encoders and _text(encoders[key].attrs["fingerprint_digest"]) == digest:
        if layer and "layer" not in encoders[key].attrs:  # written before stores knew layers
            fold.reshape()
            _set_layer_attrs(encoders[key], layer, meta["layer_index"])
        if any(name not in encoders[key].attrs for name in declared):  # written before they were recorded
            fold.reshape()
            _set_text_attrs(encoders[key].attrs, declared)
        return
    fold.reshape()
    encoders = fold.handle.require_group("encoders")
    if key in encoders:
        del encoders[key]  # same spec, different fingerprint: its numbers are stale
    group = encoders.create_group(key)
    dim = int(meta["dim"])
    _set_text_attrs(group.attrs, {"spec": meta["spec"], "name": meta["name"], "modality": meta["modality"],
                                  "fingerprint": json.dumps(meta["fingerprint"], sort_keys=True, default=str),
                                  "fingerprint_digest": digest, **declared})
    if layer:
        _set_layer_attrs(group, layer, meta["layer_index"])
    group.attrs["dim"] = dim
    group.attrs[TRACK_COUNT] = np.int64(0)
    group.attrs[FRAME_COUNT] = np.int64(0)
    tracks = fold.handle.get("tracks")
    id_width = _width(tracks["c0"]) if tracks is not None and "c0" in tracks else None
    _string_column(group, "ids", [], least=max(MIN_TEXT_BYTES, id_width or 0))
    _checked_dataset(group, "pooled", shape=(0, dim), maxshape=(None, dim), dtype=np.float32,
                     chunks=(max(1, min(1024, (1 << 18) // max(dim, 1))), dim))
    _checked_dataset(group, "frame_offsets", data=np.zeros(1, np.int64), maxshape=(None,), chunks=(1024,))
    _checked_dataset(group, "frames", shape=(0, dim), maxshape=(None, dim), dtype=np.float32,
                     chunks=(max(1, min(4096, (1 << 18) // max(dim, 1))), dim))
    _checked_dataset(group, "timestamps", shape=(0,), maxshape=(None,), dtype=np.float64, chunks=(4096,))
    for name in ("duration", "compute_seconds"):
        _checked_dataset(group, name, shape=(0,), maxshape=(None,), dtype=np.float64, chunks=(1024,))
    if meta.get("has_feature_names"):
        _string_column(group, "feature_names", arrays["feature_names"].astype(str).tolist(), least=1)
    _source_columns(fold, group)
    fold.present[key] = set()


def _declared_attrs(meta: dict[str, Any]) -> dict[str, str]:
    """The text attributes of what an encoder declared (its parameters, its joint space), where it did."""
    declared = {}
    if meta.get("parameters") is not None:
        declared["parameters"] = json.dumps(meta["parameters"], sort_keys=True, default=str)
    if meta.get("shared_space") is not None:
        declared["shared_space"] = meta["shared_space"]
    return declared


def _source_columns(fold: _Fold, group: h5py.Group) -> None:
    """Give an encoder group its source identity columns; rows already there (embedded before
    sources were recorded) get the unknown identity. A layout change, once per group."""
    if SOURCE_TEXTS[0] in group:
        return
    fold.reshape()
    count = int(group.attrs[TRACK_COUNT])
    unknown = SourceIdentity.unknown()
    for name in SOURCE_NUMBERS:
        value = getattr(unknown, name.removeprefix("source_"))
        _checked_dataset(group, name, data=np.full(count, value, np.int64), maxshape=(None,), chunks=(1024,))
    _string_column(group, "source_path", [""] * count)
    _string_column(group, "source_digest", [""] * count)


def _set_layer_attrs(group: h5py.Group, texts: dict[str, str], index: int) -> None:
    _set_text_attrs(group.attrs, texts)
    group.attrs["layer_index"] = np.int64(index)


def _apply_embeddings(fold: _Fold, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Append a batch's new tracks, and the tracks embedded again because their file changed
    (``replace``: their new row is appended, and the last row of an id is the current one)."""
    key = encoder_key(meta["spec"])
    group = fold.handle["encoders"][key]
    present = fold.present_ids(key)
    ids = arrays["ids"].astype(str)
    replace = arrays["replace"] if "replace" in arrays else np.zeros(len(ids), dtype=bool)
    # Folding twice adds nothing new; a replacement folded twice appends the same row again (harmless: the last wins).
    keep = np.array([i not in present or bool(r) for i, r in zip(ids, replace)], dtype=bool)
    if keep.any():
        _source_columns(fold, group)
        lengths = arrays["lengths"]
        frame_keep = np.repeat(keep, lengths)
        appends = fold.appends
        unknown = SourceIdentity.unknown()
        for name in SOURCE_NUMBERS:
            values = arrays[name] if name in arrays else np.full(len(ids), getattr(unknown, name.removeprefix("source_")))
            appends.add(group[name], values[keep].astype(np.int64))
        for name in SOURCE_TEXTS:
            values = arrays[name].astype(str) if name in arrays else np.full(len(ids), "")
            fold.append_text(group, name, _utf8(values[keep].tolist()))
        tracks, frames = appends.count(group, TRACK_COUNT), appends.count(group, FRAME_COUNT)
        fold.append_text(group, "ids", _utf8(ids[keep].tolist()))
        appends.add(group["pooled"], arrays["pooled"][keep])
        appends.add(group["frame_offsets"], frames + np.cumsum(lengths[keep]))
        appends.add(group["frames"], arrays["frames"][frame_keep])
        appends.add(group["timestamps"], arrays["timestamps"][frame_keep])
        appends.add(group["duration"], arrays["duration"][keep])
        appends.add(group["compute_seconds"], arrays["compute_seconds"][keep])
        appends.set_count(group, TRACK_COUNT, tracks + int(keep.sum()))
        appends.set_count(group, FRAME_COUNT, frames + int(lengths[keep].sum()))
        present.update(ids[keep])
    failed = fold.current_failures()
    resolved = [(meta["spec"], i, RESOLVED, "") for i in ids if (meta["spec"], i) in failed]
    _append_failures(fold, resolved)


def _apply_failures(fold: _Fold, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    failed = fold.current_failures()
    rows = [(meta["spec"], t, s, e) for t, s, e in zip(arrays["track_id"].astype(str), arrays["stage"].astype(str),
                                                        arrays["error"].astype(str))
            if failed.get((meta["spec"], t)) != (s, e)]
    _append_failures(fold, rows)


def _append_failures(fold: _Fold, rows: list[tuple[str, str, str, str]]) -> None:
    """Append failure rows (a RESOLVED row withdraws an earlier failure) and keep the current ones."""
    if not rows:
        return
    group = fold.handle.get("failures")
    if group is None:
        fold.reshape()
        group = fold.handle.create_group("failures")
        for column in FAILURE_COLUMNS:
            _string_column(group, column, [], least=MIN_ERROR_BYTES if column == "error" else MIN_TEXT_BYTES)
        group.attrs[ROW_COUNT] = np.int64(0)
    for i, column in enumerate(FAILURE_COLUMNS):
        fold.append_text(group, column, _utf8([row[i] for row in rows]))
    fold.appends.set_count(group, ROW_COUNT, fold.appends.count(group, ROW_COUNT) + len(rows))
    failed = fold.current_failures()
    for encoder, track_id, stage, error in rows:
        if stage == RESOLVED:
            failed.pop((encoder, track_id), None)
        else:
            failed[(encoder, track_id)] = (stage, error)


_APPLY = {"tracks": _apply_tracks, "encoder": _apply_encoder, "embeddings": _apply_embeddings, "failures": _apply_failures}


def _failure_table(handle: h5py.File) -> pd.DataFrame:
    """The current failures: the last row of each (encoder, track), unless it withdraws the failure."""
    if "failures" not in handle:
        return pd.DataFrame(columns=list(FAILURE_COLUMNS))
    table = pd.DataFrame({c: _read_strings(handle["failures"][c]) for c in FAILURE_COLUMNS})
    table = table.drop_duplicates(["encoder", "track_id"], keep="last")
    return table[table["stage"] != RESOLVED].reset_index(drop=True)


def _migrate(source: Path, target: Path) -> None:
    """Write a format-1 store as format 2: committed counts, fixed-width checksummed text, HDF5 1.10 file."""
    with open_for_reading(source) as old, h5py.File(target, "w", libver=LIBVER) as new:
        def copy_attrs(item: h5py.HLObject, into: h5py.HLObject) -> None:
            for key, value in item.attrs.items():
                if isinstance(value, (bytes, str)):
                    _set_text_attrs(into.attrs, {key: _text(value)}, least=ROOT_TEXT_BYTES if into.name == "/" else 0)
                else:
                    into.attrs[key] = value

        def copy(name: str, item: h5py.HLObject) -> None:
            parent, _, base = name.rpartition("/")
            if isinstance(item, h5py.Group):
                copy_attrs(item, new.require_group(name))
            elif h5py.check_string_dtype(item.dtype) is not None:
                _string_column(new.require_group(parent or "/"), base, _read_strings(item),
                               least=MIN_ERROR_BYTES if base == "error" else 1 if base in FIXED_DATASETS else MIN_TEXT_BYTES)
            else:
                dataset = _checked_dataset(new.require_group(parent or "/"), base, shape=item.shape, dtype=item.dtype,
                                           maxshape=(None,) + item.shape[1:], chunks=item.chunks or True)
                step = max(1, VERIFY_BLOCK_BYTES // max(1, item.dtype.itemsize * int(np.prod(item.shape[1:], dtype=np.int64))))
                for start in range(0, item.shape[0], step):
                    dataset[start:start + step] = _read(item, np.s_[start:start + step])

        copy_attrs(old, new)
        old.visititems(copy)
        for group in new.get("encoders", {}).values():
            group.attrs[TRACK_COUNT] = np.int64(group["ids"].shape[0])
            group.attrs[FRAME_COUNT] = np.int64(group["frames"].shape[0])
        for name, first in (("tracks", "c0"), ("failures", "encoder")):
            if name in new:
                new[name].attrs[ROW_COUNT] = np.int64(new[name][first].shape[0])
        new.attrs["format_version"] = FORMAT_VERSION


class StoreWriter:
    """Writes a store through the journal. Use as a context manager; ``commit`` appends batches.

    The Ray engine's driver (and any other engine) feeds one writer with every worker's
    results through :meth:`add_embeddings` / :meth:`add_failures`: one process writes the
    file, so workers never contend for it, and each commit costs what it adds.

    >>> with StoreWriter("run.h5", dataset_root="data") as writer:  # doctest: +SKIP
    ...     writer.set_tracks(manifest.to_frame())
    ...     done = writer.begin_encoder(meta)
    ...     writer.add_embeddings(meta.spec, ids, embeddings, seconds)
    """

    def __init__(self, path: str | Path, dataset_root: str | Path | None = None, *,
                 provenance: dict[str, str] | None = None) -> None:
        self.path = Path(path)
        #: root text attributes this writer records (a shard's ``shard`` and ``manifest_fingerprint``...)
        self.provenance = dict(provenance or {})
        if self.path.is_dir():
            raise StoreError(f"{self.path}: is a folder — a store is one file; give --out a file name such as "
                             f"{self.path / 'embeddings.h5'}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{self.path.parent}: cannot create the store's folder ({exc.strerror or exc}) — give "
                             "--out a path inside a folder you can write to") from None
        self.dataset_root = str(dataset_root) if dataset_root is not None else ""
        #: what a person should know about this run's use of the store (another dataset root...)
        self.notes: list[str] = []
        self._lock = _WriteLock(self.path)
        self._present: dict[str, set[str]] = {}
        self._failed: dict[tuple[str, str], tuple[str, str]] | None = None
        try:
            if self.path.exists():
                _refuse_other_files(self.path)
            stored_id, self.roots = _identity(self.path) if self.path.exists() else (None, [])
            #: whether the file holds its UUID yet (a new store, or one written before stores had one, does not)
            self._id_written = stored_id is not None
            self.journal = _Journal(journal_dir(self.path), stored_id or uuid.uuid4().hex)
            if self.path.exists():
                self._finish_interrupted_commit()
                store = Store(self.path)
                store.verify()  # resuming on damaged data would build on it
                if problems := store.problems():
                    raise StoreError(f"{self.path}: the store is inconsistent — {'; '.join(problems)} — resuming would "
                                     "build on it; restore it from a backup, or re-embed into a new store (--out NEW.h5)")
            #: this run adds a dataset root to the store (the next commit records it)
            self._adds_root = self._new_root = bool(self.dataset_root) and self.dataset_root not in self.roots
            if self._new_root:
                if self.roots:
                    self.notes.append(f"this store was filled from {', '.join(self.roots)}; now also from "
                                      f"{self.dataset_root} (every root is kept: `counterpoint store info` lists them)")
                self.roots.append(self.dataset_root)
            self.commit()  # fold what an interrupted run left behind
        except BaseException:
            self._lock.release()
            raise
        self._last_commit_cost = 0.0
        self._last_commit_time = time.monotonic()

    @property
    def store_id(self) -> str:
        """The store's UUID (for a new store, or one that has none yet, the one its next commit writes)."""
        return self.journal.store_id

    def _finish_interrupted_commit(self) -> None:
        """Replay the redo record of a writer killed while committing, if it belongs to this store."""
        record = redo_path(self.journal.folder)
        if not record.exists():
            return
        try:
            redo = read_redo(record)
        except Exception as exc:  # a damaged record: numpy's and json's errors differ by the damage
            raise StoreError(f"{record}: the record of an interrupted commit is damaged ({type(exc).__name__}: {exc}) — "
                             f"move {self.journal.folder} aside (e.g. `mv {self.journal.folder} "
                             f"{self.journal.folder}.damaged`) and rerun; then check the store with "
                             f"`counterpoint store info {self.path}`") from exc
        if redo.store_id is not None and self._id_written and redo.store_id != self.store_id:
            raise _foreign(record, self.journal.folder, self.path, redo.store_id, self.store_id)
        replay_redo(self.path, self.journal.folder, redo)
        log.warning(f"{self.path}: finished the commit a killed writer had begun ({self.journal.folder.name}/{REDO_NAME})")

    def __enter__(self) -> "StoreWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.commit()
        finally:
            self.close()

    def close(self) -> None:
        """Release the write lock (the context manager does this after its last commit)."""
        self._lock.release()

    # ---- what the runner calls -------------------------------------------------------------

    def set_tracks(self, table: pd.DataFrame) -> None:
        """Record the manifest's track table (merged with the tracks already in the store)."""
        table = table.astype(str)
        if self._adds_root and len(self.roots) > 1:
            shared = set(table["id"]) & set(Store(self.path).tracks()["id"])
            if shared:
                self.notes.append(
                    f"{len(shared)} track id(s) of {self.dataset_root} are already in the store from "
                    f"{', '.join(self.roots[:-1])} (e.g. {sorted(shared)[0]!r}): ids name one track, so their rows now hold "
                    f"this dataset's metadata, and each encoder embeds them again where this dataset's file holds other "
                    "bytes; give the datasets distinct ids (--id-column) or separate stores (--out) to keep both")
        self.journal.write("tracks", {f"c{i}": table[c].to_numpy(dtype=str) for i, c in enumerate(table.columns)},
                           {"columns": list(table.columns), "dataset_root": self.dataset_root})

    def begin_encoder(self, meta: EncoderMeta) -> set[str]:
        """Declare an encoder; return the ids already embedded with the same fingerprint.

        A stored encoder with the same spec but another fingerprint (new weights, new code) is
        replaced: its rows are dropped when the journal is folded in.
        """
        self.journal.write("encoder", {"feature_names": np.array(meta.feature_names or [], dtype=str)},
                           {"spec": meta.spec, "name": meta.name, "modality": meta.modality, "dim": meta.dim,
                            "fingerprint": meta.fingerprint, "has_feature_names": meta.feature_names is not None,
                            "layer": meta.layer, "layer_index": meta.layer_index, "base_spec": meta.base_spec,
                            "parameters": meta.parameters, "shared_space": meta.shared_space})
        self.commit()
        key = encoder_key(meta.spec)
        if key not in self._present:
            with _open(self.path, dataset_root=self.dataset_root) as handle:
                self._present[key] = set(_read_strings(handle["encoders"][key]["ids"]))
        return set(self._present[key])

    def recorded_sources(self, spec: str) -> tuple[dict[str, SourceIdentity], set[str]]:
        """Per track id, the identity of the file the stored embedding of ``spec`` was computed from; and
        the ids whose stored embedding is withdrawn (:meth:`Store.withdrawn`)."""
        store = Store(self.path)
        return store.sources(spec), store.withdrawn(spec)

    def root_index(self, root: str) -> int:
        """The index of a dataset root in the store's roots, recording it first (at the next commit)
        when the store does not list it yet; for copying rows of another store (their source roots)."""
        if root not in self.roots:
            self.roots.append(root)
            self._new_root = True
        return self.roots.index(root)

    def source_location(self, path: Path) -> tuple[int, str]:
        """Where a track's file is, as the store records it: (index of this run's dataset root, path inside it);
        (-1, the path as given) when the writer was given no root or the file is outside it."""
        if self.dataset_root and Path(path).is_relative_to(self.dataset_root):
            return self.roots.index(self.dataset_root), Path(path).relative_to(self.dataset_root).as_posix()
        return -1, str(path)

    def add_embeddings(self, spec: str, ids: Sequence[str], embeddings: Sequence[Any], compute_seconds: Sequence[float],
                       sources: Sequence[SourceIdentity] | None = None, replace: Sequence[bool] | None = None) -> None:
        """Journal one batch of embeddings (objects with frames, timestamps, pooled, duration).

        ``sources``: the identity of the file each was computed from (None: unknown). ``replace``:
        per track, whether it replaces the stored embedding (its file changed); else a track the
        store holds already is not added again.
        """
        if not ids:
            return
        sources = list(sources) if sources is not None else [SourceIdentity.unknown()] * len(ids)
        lengths = np.array([len(e.timestamps) for e in embeddings], dtype=np.int64)
        dim = embeddings[0].pooled.shape[0]
        frames = [e.frames.reshape(len(e.timestamps), dim) for e in embeddings]
        self.journal.write("embeddings", {
            "ids": np.array(list(ids), dtype=str),
            "pooled": np.stack([e.pooled for e in embeddings]).astype(np.float32),
            "lengths": lengths,
            "frames": np.concatenate(frames).astype(np.float32) if lengths.sum() else np.zeros((0, dim), np.float32),
            "timestamps": np.concatenate([e.timestamps for e in embeddings]).astype(np.float64),
            "duration": np.array([e.duration for e in embeddings], dtype=np.float64),
            "compute_seconds": np.asarray(compute_seconds, dtype=np.float64),
            "replace": np.asarray(replace if replace is not None else [False] * len(ids), dtype=bool),
            "source_root": np.array([s.root for s in sources], dtype=np.int64),
            "source_path": np.array([s.path for s in sources], dtype=str),
            "source_size": np.array([s.size for s in sources], dtype=np.int64),
            "source_mtime_ns": np.array([s.mtime_ns for s in sources], dtype=np.int64),
            "source_digest": np.array([s.digest for s in sources], dtype=str),
        }, {"spec": spec})

    def add_failures(self, spec: str, failures: Iterable[tuple[str, str, str]]) -> None:
        """Journal failures as (track id, stage, message)."""
        failures = list(failures)
        if failures:
            track_ids, stages, errors = zip(*failures)
            self.journal.write("failures", {"track_id": np.array(track_ids, dtype=str), "stage": np.array(stages, dtype=str),
                                            "error": np.array(errors, dtype=str)}, {"spec": spec})

    def maybe_commit(self, min_interval: float = 30.0) -> None:
        """Commit when it is cheap relative to the time since the last one (< ~5% overhead)."""
        elapsed = time.monotonic() - self._last_commit_time
        if elapsed >= max(min_interval, 20 * self._last_commit_cost):
            self.commit()

    # ---- folding the journal into the file --------------------------------------------------

    def commit(self) -> None:
        """Append every journal batch to the store in place; batches that change its layout
        (a new encoder, column or text width; a format-1 store) go through a copy instead."""
        entries = self.journal.entries()
        if not entries and self.path.exists() and self._id_written and not self._new_root:
            return
        started = time.monotonic()
        batches = [(entry, *self._load_batch(entry)) for entry in entries]
        try:
            if not (self.path.exists() and self._append_in_place(batches)):
                self._rewrite(batches)
        except BaseException as exc:
            self._present, self._failed = {}, None  # the caches may hold batches that were not written
            if _is_full_disk(exc):
                raise _disk_error(exc, self.path, "committing batches to the store") from exc
            raise
        self._id_written, self._new_root = True, False
        self._last_commit_cost = time.monotonic() - started
        self._last_commit_time = time.monotonic()

    def _fold(self, fold: _Fold, batches: list[tuple[Path, str, dict[str, np.ndarray], dict[str, Any]]]) -> None:
        for entry, kind, arrays, meta in batches:
            try:
                _APPLY[kind](fold, arrays, meta)
            except (_DamagedDataset, _NeedsRewrite):
                raise
            except Exception as exc:
                raise StoreError(f"{entry}: this unfinished batch cannot be folded into {self.path} ({type(exc).__name__}: "
                                 f"{exc}) — move {self.journal.folder} aside to drop the unfinished batches and rerun; "
                                 "the store itself is intact") from exc
        fold.set_root_texts(self._root_texts())

    def _load_batch(self, entry: Path) -> tuple[str, dict[str, np.ndarray], dict[str, Any]]:
        """A journal batch; a damaged one, or one written for another store, is a StoreError naming it."""
        try:
            with np.load(entry, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
            kind, meta = str(arrays.pop("__kind__")), json.loads(str(arrays.pop("__meta__")))
        except Exception as exc:  # a torn or overwritten file: zipfile's, numpy's or json's error
            raise StoreError(f"{entry}: this journal batch is damaged ({type(exc).__name__}: {exc}) — move "
                             f"{self.journal.folder} aside (e.g. `mv {self.journal.folder} {self.journal.folder}.damaged`) "
                             "to drop the unfinished batches and rerun; the store itself is intact") from exc
        owner = str(arrays.pop("__store__")) if "__store__" in arrays else None  # None: written before stores had ids
        if owner is not None and owner != self.store_id:
            if self._id_written:
                raise _foreign(entry, self.journal.folder, self.path, owner, self.store_id)
            self.journal.store_id = owner  # the store has no UUID yet: its killed writer had chosen this one
        return kind, arrays, meta

    def _root_texts(self) -> dict[str, str]:
        texts = {"counterpoint_version": __version__, "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                 "software": json.dumps(software_versions()), "store_id": self.store_id}
        if self.dataset_root:
            texts |= {"dataset_root": self.dataset_root, "dataset_roots": json.dumps(self.roots)}
        return texts | self.provenance

    def _append_in_place(self, batches: list[tuple[Path, str, dict[str, np.ndarray], dict[str, Any]]]) -> bool:
        """Plan every append, record it (redo), write it under SWMR; False if the layout must change."""
        if _format_version(self.path) < FORMAT_VERSION:
            return False
        with _open(self.path, "swmr", dataset_root=self.dataset_root) as handle:
            fold = _Fold(handle, Appends(handle), False, self._present, self._failed)
            try:
                self._fold(fold, batches)
            except _NeedsRewrite:
                self._present, self._failed = {}, None
                return False
            self._failed = fold.failed
            blocks = fold.appends.blocks()
            record = write_redo(self.journal.folder, fold.appends, blocks, entries=[entry for entry, *_ in batches],
                                store_id=self.store_id)
            write_appends(handle, blocks, fold.appends.counts, texts=fold.appends.texts)
        finish(self.path, record, [entry for entry, *_ in batches])
        return True

    def _rewrite(self, batches: list[tuple[Path, str, dict[str, np.ndarray], dict[str, Any]]]) -> None:
        """Fold batches into a copy of the store (or a new file) and rename it over the store."""
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.unlink(missing_ok=True)
        try:
            version = _format_version(self.path) if self.path.exists() else FORMAT_VERSION
            if self.path.exists():
                if version < FORMAT_VERSION:
                    log.warning(f"{self.path}: a store of format {version}; writing it once as format {FORMAT_VERSION} "
                                "(appends then cost what they add, not the size of the store)")
                    _migrate(self.path, temporary)
                else:
                    shutil.copyfile(self.path, temporary)
            with _open(temporary, "a", shown_as=self.path, dataset_root=self.dataset_root) as handle:
                if "format" not in handle.attrs:
                    _set_text_attrs(handle.attrs, {"format": FORMAT, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
                    handle.attrs["format_version"] = FORMAT_VERSION
                for batch in batches:  # one at a time: a batch may reshape what the next appends to
                    fold = _Fold(handle, Appends(handle), True, self._present, self._failed)
                    self._fold(fold, [batch])
                    self._failed = fold.failed
                    write_appends(handle, fold.appends.blocks(), fold.appends.counts, texts=fold.appends.texts)
                if not batches:
                    fold = _Fold(handle, Appends(handle), True, self._present, self._failed)
                    fold.set_root_texts(self._root_texts())
        except BaseException:  # the store stays as it was: the copy is discarded
            temporary.unlink(missing_ok=True)
            raise
        fsync_file(temporary)
        os.replace(temporary, self.path)
        for entry, *_ in batches:
            entry.unlink()


def _format_version(path: Path) -> int:
    with open_for_reading(path) as handle:
        return int(handle.attrs.get("format_version", 1))


def _identity(path: Path) -> tuple[str | None, list[str]]:
    """A store's UUID (None if it has none yet) and the dataset roots it was filled from."""
    with _open(path) as handle:
        attrs = {k: _text(handle.attrs[k]) for k in ("store_id", "dataset_root", "dataset_roots") if k in handle.attrs}
    roots = json.loads(attrs["dataset_roots"]) if "dataset_roots" in attrs else [attrs.get("dataset_root", "")]
    return attrs.get("store_id") or None, [r for r in roots if r]


def _foreign(item: Path, journal: Path, store: Path, owner: str, store_id: str) -> StoreError:
    return StoreError(f"{item}: written for another store (id {owner}), not for {store} (id {store_id}) — "
                      f"{journal.name} was copied or moved here from beside another store and is not folded in; "
                      f"move it aside (e.g. `mv {journal} {journal}.foreign`) and rerun, or put it back beside "
                      "the store it belongs to and resume that one")
