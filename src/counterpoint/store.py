"""The HDF5 embedding store: write with a crash-safe journal, resume, read as matrix + metadata.

Layout of ``FILE.h5``::

    /                      attrs: format, format_version, counterpoint_version, created,
                                  updated, dataset_root, software (JSON)
    /tracks/c0, c1, ...    one UTF-8 string column each; attr ``columns`` (JSON) names them
                           in order (id, audio_filename, midi_filename, split, group, labels...)
    /encoders/<key>/       attrs: spec, name, modality, dim, fingerprint (JSON), fingerprint_digest
        ids                (N,)    track ids, row order of everything below
        pooled             (N, D)  float32
        frame_offsets      (N+1,)  int64, rows of track i are frames[offsets[i]:offsets[i+1]]
        frames             (ΣT, D) float32
        timestamps         (ΣT,)   float64, seconds
        duration           (N,)    float64, seconds of input (audio length, MIDI end)
        compute_seconds    (N,)    float64, wall seconds spent on the track (load + model)
        feature_names      (D,)    only for named descriptors
    /failures/{encoder,track_id,stage,error}   UTF-8 string columns

Crash safety. The ``.h5`` file is never modified in place: results go first to a journal
folder beside it (``FILE.h5.journal/``), one file per batch, each written to a temporary
name and renamed (atomic). :meth:`StoreWriter.commit` folds the journal into a copy of the
store and renames the copy over the original. A process killed at any moment therefore
leaves the last committed store intact and readable, and loses at most the batch it was
computing; the next run folds whatever the journal holds and carries on.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence
from urllib.parse import quote

import h5py
import numpy as np
import pandas as pd

from counterpoint import __version__
from counterpoint.errors import StoreError

FORMAT = "counterpoint-store"
FORMAT_VERSION = 1
STRING = h5py.string_dtype("utf-8")
TRACK_ID_COLUMNS = ("id", "audio_filename", "midi_filename", "split", "group")
FAILURE_COLUMNS = ("encoder", "track_id", "stage", "error")


def encoder_key(spec: str) -> str:
    """The HDF5 group name of an encoder spec (specs may hold '/', group names may not)."""
    return quote(spec, safe=":=,.-_+")


def software_versions() -> dict[str, str]:
    """Versions of the libraries whose behaviour shapes the numbers."""
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


@dataclass
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


@dataclass
class EmbeddingMatrix:
    """Pooled embeddings ``X`` [N, D] with their track metadata ``obs`` in the same row order."""

    spec: str
    modality: str
    X: np.ndarray
    obs: pd.DataFrame
    feature_names: list[str] | None = None

    def __len__(self) -> int:
        return len(self.X)


@dataclass
class FrameSequences:
    """Frame-level embeddings: one ``[T_i, D]`` array and ``[T_i]`` timestamps per track."""

    spec: str
    modality: str
    frames: list[np.ndarray]
    timestamps: list[np.ndarray]
    obs: pd.DataFrame

    def __len__(self) -> int:
        return len(self.frames)


def _read_strings(dataset: h5py.Dataset) -> list[str]:
    return [s.decode("utf-8") if isinstance(s, bytes) else str(s) for s in dataset[()]]


def _read_table(group: h5py.Group) -> pd.DataFrame:
    columns = json.loads(group.attrs["columns"])
    data = {name: _read_strings(group[f"c{i}"]) for i, name in enumerate(columns)}
    return pd.DataFrame(data, columns=columns)


class Store:
    """Read access to a store file. Cheap to create; every method opens the file briefly."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise StoreError(f"{self.path}: no such store — create it with `counterpoint embed ROOT --out {self.path}`")
        try:
            with h5py.File(self.path, "r") as handle:
                if handle.attrs.get("format") != FORMAT:
                    raise StoreError(f"{self.path}: not a Counterpoint store (no '{FORMAT}' format mark) — "
                                     "for the older audio_embeddings/symbolic_embeddings layout use `counterpoint import-legacy`")
                self.attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in handle.attrs.items()}
                self._records = [self._record(key, handle["encoders"][key]) for key in handle.get("encoders", {})]
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot be opened as HDF5 ({exc}) — is it a store written by `counterpoint embed`?") from exc

    @staticmethod
    def _record(key: str, group: h5py.Group) -> EncoderRecord:
        names = _read_strings(group["feature_names"]) if "feature_names" in group else None
        return EncoderRecord(
            key=key, spec=str(group.attrs["spec"]), name=str(group.attrs["name"]),
            modality=str(group.attrs["modality"]), dim=int(group.attrs["dim"]),
            fingerprint=json.loads(group.attrs["fingerprint"]), n_tracks=int(group["ids"].shape[0]),
            n_frames=int(group["frames"].shape[0]), feature_names=names,
            compute_seconds=float(np.sum(group["compute_seconds"][()])),
            input_seconds=float(np.sum(group["duration"][()])),
        )

    @property
    def encoders(self) -> list[EncoderRecord]:
        return list(self._records)

    @property
    def encoder_specs(self) -> list[str]:
        return [r.spec for r in self._records]

    def encoder(self, spec_or_name: str) -> EncoderRecord:
        """The record whose spec is ``spec_or_name``, or the only one with that encoder name."""
        exact = [r for r in self._records if r.spec == spec_or_name]
        if exact:
            return exact[0]
        by_name = [r for r in self._records if r.name == spec_or_name]
        if len(by_name) == 1:
            return by_name[0]
        available = ", ".join(self.encoder_specs) or "none"
        if by_name:
            raise StoreError(f"{self.path}: {spec_or_name!r} matches several encoders ({', '.join(r.spec for r in by_name)}) — give the full spec")
        raise StoreError(f"{self.path}: no encoder {spec_or_name!r} in the store (it has: {available})")

    def tracks(self) -> pd.DataFrame:
        with h5py.File(self.path, "r") as handle:
            if "tracks" not in handle:
                return pd.DataFrame(columns=list(TRACK_ID_COLUMNS))
            return _read_table(handle["tracks"])

    def failures(self) -> pd.DataFrame:
        with h5py.File(self.path, "r") as handle:
            if "failures" not in handle:
                return pd.DataFrame(columns=list(FAILURE_COLUMNS))
            return pd.DataFrame({c: _read_strings(handle["failures"][c]) for c in FAILURE_COLUMNS})

    def _obs(self, ids: list[str]) -> pd.DataFrame:
        table = self.tracks().set_index("id", drop=False)
        missing = [i for i in ids if i not in table.index]
        if missing:
            raise StoreError(f"{self.path}: track table lacks {len(missing)} embedded ids (e.g. {missing[0]!r}) — the store is damaged; re-run embed")
        return table.loc[ids].reset_index(drop=True)

    def pooled(self, spec_or_name: str) -> EmbeddingMatrix:
        record = self.encoder(spec_or_name)
        with h5py.File(self.path, "r") as handle:
            group = handle["encoders"][record.key]
            ids = _read_strings(group["ids"])
            X = group["pooled"][()].astype(np.float32, copy=False)
        return EmbeddingMatrix(record.spec, record.modality, X, self._obs(ids), record.feature_names)

    def frames(self, spec_or_name: str) -> FrameSequences:
        record = self.encoder(spec_or_name)
        with h5py.File(self.path, "r") as handle:
            group = handle["encoders"][record.key]
            ids = _read_strings(group["ids"])
            offsets = group["frame_offsets"][()]
            frames = group["frames"][()]
            stamps = group["timestamps"][()]
        per_track = [frames[a:b] for a, b in zip(offsets[:-1], offsets[1:])]
        per_stamps = [stamps[a:b] for a, b in zip(offsets[:-1], offsets[1:])]
        return FrameSequences(record.spec, record.modality, per_track, per_stamps, self._obs(ids))

    def timing(self) -> pd.DataFrame:
        """Per encoder: tracks, compute seconds, files per second and real-time factor."""
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


# --------------------------------------------------------------------------------------------
# Writing


def journal_dir(path: Path) -> Path:
    return path.with_name(path.name + ".journal")


@dataclass
class EncoderMeta:
    spec: str
    name: str
    modality: str
    dim: int
    fingerprint: dict[str, Any]
    feature_names: list[str] | None = None

    @property
    def digest(self) -> str:
        import hashlib

        return hashlib.sha256(json.dumps(self.fingerprint, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class _Journal:
    """Atomic per-batch files, numbered in write order."""

    folder: Path
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
        with open(temporary, "wb") as handle:
            np.savez(handle, **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, final)
        self.next_index += 1

    def entries(self) -> list[Path]:
        return sorted(self.folder.glob("*.npz"))


def _string_column(group: h5py.Group, name: str, values: Sequence[str]) -> None:
    if name in group:
        del group[name]
    group.create_dataset(name, data=np.array(list(values), dtype=object), dtype=STRING, maxshape=(None,))


def _append(dataset: h5py.Dataset, values: np.ndarray) -> None:
    start = dataset.shape[0]
    dataset.resize(start + len(values), axis=0)
    dataset[start:] = values


class StoreWriter:
    """Writes a store through the journal. Use as a context manager; ``commit`` folds batches in.

    >>> with StoreWriter("run.h5", dataset_root="data") as writer:  # doctest: +SKIP
    ...     writer.set_tracks(manifest.to_frame())
    ...     done = writer.begin_encoder(meta)
    ...     writer.add_embeddings(meta.spec, ids, embeddings, seconds)
    """

    def __init__(self, path: str | Path, dataset_root: str | Path | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.dataset_root = str(dataset_root) if dataset_root is not None else ""
        if self.path.exists():
            Store(self.path)  # refuse to write into a file that is not a store
        self.journal = _Journal(journal_dir(self.path))
        self.commit()  # fold what an interrupted run left behind
        self._done: dict[str, set[str]] = {}
        self._last_commit_cost = 0.0
        self._last_commit_time = time.monotonic()

    def __enter__(self) -> "StoreWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.commit()

    # ---- what the runner calls -------------------------------------------------------------

    def set_tracks(self, table: pd.DataFrame) -> None:
        """Record the manifest's track table (merged with the tracks already in the store)."""
        table = table.astype(str)
        self.journal.write("tracks", {f"c{i}": table[c].to_numpy(dtype=str) for i, c in enumerate(table.columns)},
                           {"columns": list(table.columns), "dataset_root": self.dataset_root})

    def begin_encoder(self, meta: EncoderMeta) -> set[str]:
        """Declare an encoder; return the ids already embedded with the same fingerprint.

        A stored encoder with the same spec but another fingerprint (new weights, new code) is
        replaced: its rows are dropped when the journal is folded in.
        """
        self.journal.write("encoder", {"feature_names": np.array(meta.feature_names or [], dtype=str)},
                           {"spec": meta.spec, "name": meta.name, "modality": meta.modality, "dim": meta.dim,
                            "fingerprint": meta.fingerprint, "has_feature_names": meta.feature_names is not None})
        self.commit()
        done: set[str] = set()
        with h5py.File(self.path, "r") as handle:
            group = handle.get("encoders", {}).get(encoder_key(meta.spec))
            if group is not None and group.attrs["fingerprint_digest"] == meta.digest:
                done = set(_read_strings(group["ids"]))
        self._done[meta.spec] = done
        return set(done)

    def add_embeddings(self, spec: str, ids: Sequence[str], embeddings: Sequence[Any], compute_seconds: Sequence[float]) -> None:
        """Journal one batch of embeddings (objects with frames, timestamps, pooled, duration)."""
        if not ids:
            return
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
        }, {"spec": spec})
        self._done.setdefault(spec, set()).update(ids)

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
        """Fold every journal batch into a copy of the store, then atomically replace it."""
        entries = self.journal.entries()
        if not entries and self.path.exists():
            return
        started = time.monotonic()
        temporary = self.path.with_name(self.path.name + ".tmp")
        if self.path.exists():
            shutil.copyfile(self.path, temporary)
        elif temporary.exists():
            temporary.unlink()
        with h5py.File(temporary, "a") as handle:
            if "format" not in handle.attrs:
                handle.attrs.update({"format": FORMAT, "format_version": FORMAT_VERSION,
                                     "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
            handle.attrs.update({"counterpoint_version": __version__, "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                 "software": json.dumps(software_versions())})
            if self.dataset_root:
                handle.attrs["dataset_root"] = self.dataset_root
            for entry in entries:
                with np.load(entry, allow_pickle=False) as data:
                    arrays = {k: data[k] for k in data.files}
                kind = str(arrays.pop("__kind__"))
                meta = json.loads(str(arrays.pop("__meta__")))
                try:
                    _APPLY[kind](handle, arrays, meta)
                except Exception as exc:  # the store stays as it was: the copy is discarded
                    temporary.unlink(missing_ok=True)
                    raise StoreError(f"{entry}: this unfinished batch cannot be folded into {self.path} ({type(exc).__name__}: "
                                     f"{exc}) — move {self.journal.folder} aside to drop the unfinished batches and rerun; "
                                     "the store itself is intact") from exc
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)
        for entry in entries:
            entry.unlink()
        self._last_commit_cost = time.monotonic() - started
        self._last_commit_time = time.monotonic()


def _apply_tracks(handle: h5py.File, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    new = pd.DataFrame({c: arrays[f"c{i}"].astype(str) for i, c in enumerate(meta["columns"])}, columns=meta["columns"])
    if "tracks" in handle:
        old = _read_table(handle["tracks"])
        merged = pd.concat([old[~old["id"].isin(new["id"])], new], ignore_index=True)
        del handle["tracks"]
    else:
        merged = new
    merged = merged.fillna("")
    group = handle.create_group("tracks")
    group.attrs["columns"] = json.dumps(list(merged.columns))
    for i, column in enumerate(merged.columns):
        _string_column(group, f"c{i}", merged[column].astype(str).tolist())


def _apply_encoder(handle: h5py.File, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    encoders = handle.require_group("encoders")
    key = encoder_key(meta["spec"])
    digest = EncoderMeta(meta["spec"], meta["name"], meta["modality"], meta["dim"], meta["fingerprint"]).digest
    if key in encoders and encoders[key].attrs["fingerprint_digest"] == digest:
        return
    if key in encoders:
        del encoders[key]  # same spec, different fingerprint: its numbers are stale
    group = encoders.create_group(key)
    dim = int(meta["dim"])
    group.attrs.update({"spec": meta["spec"], "name": meta["name"], "modality": meta["modality"], "dim": dim,
                        "fingerprint": json.dumps(meta["fingerprint"], sort_keys=True, default=str),
                        "fingerprint_digest": digest})
    group.create_dataset("ids", shape=(0,), maxshape=(None,), dtype=STRING, chunks=(1024,))
    group.create_dataset("pooled", shape=(0, dim), maxshape=(None, dim), dtype=np.float32,
                         chunks=(max(1, min(1024, (1 << 18) // max(dim, 1))), dim))
    group.create_dataset("frame_offsets", data=np.zeros(1, np.int64), maxshape=(None,), chunks=(1024,))
    group.create_dataset("frames", shape=(0, dim), maxshape=(None, dim), dtype=np.float32,
                         chunks=(max(1, min(4096, (1 << 18) // max(dim, 1))), dim))
    group.create_dataset("timestamps", shape=(0,), maxshape=(None,), dtype=np.float64, chunks=(4096,))
    for name in ("duration", "compute_seconds"):
        group.create_dataset(name, shape=(0,), maxshape=(None,), dtype=np.float64, chunks=(1024,))
    if meta.get("has_feature_names"):
        _string_column(group, "feature_names", arrays["feature_names"].astype(str).tolist())


def _apply_embeddings(handle: h5py.File, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    group = handle["encoders"][encoder_key(meta["spec"])]
    present = set(_read_strings(group["ids"]))
    keep = np.array([i not in present for i in arrays["ids"].astype(str)])  # folding twice adds nothing
    if not keep.any():
        return
    lengths = arrays["lengths"]
    frame_keep = np.repeat(keep, lengths)
    _append(group["ids"], np.array(arrays["ids"][keep].astype(str).tolist(), dtype=object))
    _append(group["pooled"], arrays["pooled"][keep])
    offsets = group["frame_offsets"]
    _append(offsets, offsets[-1] + np.cumsum(lengths[keep]))
    _append(group["frames"], arrays["frames"][frame_keep])
    _append(group["timestamps"], arrays["timestamps"][frame_keep])
    _append(group["duration"], arrays["duration"][keep])
    _append(group["compute_seconds"], arrays["compute_seconds"][keep])
    _drop_failures(handle, meta["spec"], set(arrays["ids"][keep].astype(str)))


def _failure_table(handle: h5py.File) -> pd.DataFrame:
    if "failures" not in handle:
        return pd.DataFrame(columns=list(FAILURE_COLUMNS))
    return pd.DataFrame({c: _read_strings(handle["failures"][c]) for c in FAILURE_COLUMNS})


def _write_failures(handle: h5py.File, table: pd.DataFrame) -> None:
    group = handle.require_group("failures")
    for column in FAILURE_COLUMNS:
        _string_column(group, column, table[column].astype(str).tolist())


def _drop_failures(handle: h5py.File, spec: str, ids: set[str]) -> None:
    table = _failure_table(handle)
    stale = (table["encoder"] == spec) & table["track_id"].isin(ids)
    if stale.any():
        _write_failures(handle, table[~stale])


def _apply_failures(handle: h5py.File, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    new = pd.DataFrame({"encoder": meta["spec"], "track_id": arrays["track_id"].astype(str),
                        "stage": arrays["stage"].astype(str), "error": arrays["error"].astype(str)})
    table = _failure_table(handle)
    table = table[~((table["encoder"] == meta["spec"]) & table["track_id"].isin(new["track_id"]))]
    _write_failures(handle, pd.concat([table, new], ignore_index=True))


_APPLY = {"tracks": _apply_tracks, "encoder": _apply_encoder, "embeddings": _apply_embeddings, "failures": _apply_failures}
