"""Warping paths between a track's audio and its score, and the file that keeps them between runs.

A :class:`WarpingPath` maps audio time to score time (seconds) for one track. Paths found by DTW
cost a second or so per track, so :class:`WarpingPathFile` keeps them in a small HDF5 file beside
the store, ``FILE.h5`` → ``FILE.warping.h5``, each under its track id with the SHA-256 digests of
the audio and the MIDI file and the alignment settings it was computed with: a later run reuses a
path only when all three are unchanged.

The file is written by time pairing, a step of the dataset stage (:mod:`counterpoint.data.time_pairing`);
what it finds (:class:`TimePairs`) is handed to the time-aligned comparison through the
:class:`TimePairing` interface, so the analysis never reads the dataset's files.

Why a sibling file and not the store: comparing only *reads* a store (it may be in use by an
embedding run holding its write lock, or be read-only); the store's layout changes go through a
copy of the whole file; and the paths belong to the dataset's files, not to any encoder. Deleting
the sibling file loses nothing but time.

Layout of ``FILE.warping.h5``::

    /                    attrs: format = "counterpoint-warping", format_version
    /paths/<track key>/  attrs: track_id, audio_digest, midi_digest, settings
        score_seconds    (P,) float64
        audio_seconds    (P,) float64, non-decreasing together with score_seconds
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

import numpy as np
import pandas as pd

from counterpoint.errors import CounterpointError
from counterpoint.progress import ProgressCallback

FORMAT = "counterpoint-warping"
FORMAT_VERSION = 1
#: The ``audio_source`` prefix of a rendered row (see :func:`counterpoint.data.render.audio_source`).
RENDERED_PREFIX = "rendered:"


@dataclass(frozen=True)
class WarpingPath:
    """How one track's audio time maps onto its score time.

    ``method`` is ``"identity"`` (the audio is a rendering of the MIDI: audio time = score time)
    or ``"dtw"``; a DTW path holds matched points ``score_seconds`` [P] and ``audio_seconds`` [P],
    both non-decreasing, between which time is interpolated linearly.
    """

    method: str
    score_seconds: np.ndarray | None = None
    audio_seconds: np.ndarray | None = None

    def audio_to_score(self, seconds: np.ndarray) -> np.ndarray:
        """Score time (s) of each audio time ``seconds``; NaN for audio before or after the stretch the
        score was matched to (leading silence, a release tail: no time of the score)."""
        seconds = np.asarray(seconds, dtype=np.float64)
        if self.method == "identity":
            return seconds
        audio, score = _strictly_increasing(self.audio_seconds, self.score_seconds)
        return np.interp(seconds, audio, score, left=np.nan, right=np.nan)

    def score_to_audio(self, seconds: np.ndarray) -> np.ndarray:
        """Audio time (s) of each score time ``seconds`` (clamped to the path's ends)."""
        seconds = np.asarray(seconds, dtype=np.float64)
        if self.method == "identity":
            return seconds
        score, audio = _strictly_increasing(self.score_seconds, self.audio_seconds)
        return np.interp(seconds, score, audio)


IDENTITY = WarpingPath("identity")


def _strictly_increasing(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique ``x`` with the mean ``y`` of the points that share it: a function to interpolate."""
    unique, inverse = np.unique(np.asarray(x, dtype=np.float64), return_inverse=True)
    return unique, np.bincount(inverse, weights=np.asarray(y, dtype=np.float64)) / np.bincount(inverse)


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def warping_file_path(store_path: str | Path) -> Path:
    """Where the warping paths of the store at ``store_path`` are kept: ``FILE.warping.h5`` beside it."""
    store_path = Path(store_path)
    return store_path.with_name(f"{store_path.stem}.warping.h5")


class WarpingPathFile:
    """The warping paths kept for one store (see the module docstring). Every call opens the file briefly,
    under a lock, so two runs may share it."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def _lock(self):
        from filelock import FileLock

        return FileLock(str(self.path) + ".lock", timeout=60)

    def get(self, track_id: str, audio_digest: str, midi_digest: str, settings: str) -> WarpingPath | None:
        """The kept path of ``track_id`` when its digests and settings are these, else None."""
        import h5py

        if not self.path.is_file():
            return None
        with self._lock(), self._open(h5py, "r") as handle:
            group = handle.get(f"paths/{_key(track_id)}")
            if group is None or [str(group.attrs[name]) for name in ("audio_digest", "midi_digest", "settings")] \
                    != [audio_digest, midi_digest, settings]:
                return None
            return WarpingPath("dtw", group["score_seconds"][()], group["audio_seconds"][()])

    def put(self, track_id: str, audio_digest: str, midi_digest: str, settings: str, path: WarpingPath) -> None:
        """Keep ``path`` for ``track_id`` (replacing what was kept for it)."""
        import h5py

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock(), self._open(h5py, "a") as handle:
            handle.attrs["format"], handle.attrs["format_version"] = FORMAT, FORMAT_VERSION
            paths = handle.require_group("paths")
            key = _key(track_id)
            if key in paths:
                del paths[key]
            group = paths.create_group(key)
            group.create_dataset("score_seconds", data=np.asarray(path.score_seconds, dtype=np.float64))
            group.create_dataset("audio_seconds", data=np.asarray(path.audio_seconds, dtype=np.float64))
            for name, value in (("track_id", track_id), ("audio_digest", audio_digest), ("midi_digest", midi_digest),
                                ("settings", settings)):
                group.attrs[name] = value

    def track_ids(self) -> list[str]:
        """Ids of the tracks that have a kept path."""
        import h5py

        if not self.path.is_file():
            return []
        with self._lock(), self._open(h5py, "r") as handle:
            return [str(group.attrs["track_id"]) for group in handle.get("paths", {}).values()]

    def _open(self, h5py, mode: str):
        try:
            return h5py.File(self.path, mode)
        except OSError as exc:
            raise CounterpointError(f"{self.path}: cannot open the kept warping paths ({exc}) — delete the file; "
                                    "the next run aligns the tracks again") from exc


def _key(track_id: str) -> str:
    return quote(track_id, safe="")


@dataclass
class TimePairs:
    """What time pairing found: each track's warping path (by id), how it was obtained, what could not
    be paired, and the file keeping the DTW paths."""

    paths: dict[str, WarpingPath]
    methods: dict[str, str]                    # id → "identity", "dtw" (computed now) or "dtw (kept)"
    notes: list[str] = field(default_factory=list)
    kept_file: Path | None = None              # the file keeping the DTW paths, when there is one

    @property
    def counts(self) -> dict[str, int]:
        """How many tracks each way (see :attr:`methods`)."""
        return dict(pd.Series(list(self.methods.values()), dtype=object).value_counts().sort_index())


class TimePairing(Protocol):
    """The time pairing step the time-aligned comparison is handed (the dataset stage's
    :func:`counterpoint.data.time_pairing.store_time_pairing`): each row of a track table (``id``,
    ``audio_filename``, ``midi_filename``, optional ``audio_source``) paired in time, files read
    under ``dataset_root``, ``choice`` one of ``auto``, ``identity``, ``dtw``."""

    def __call__(self, obs: pd.DataFrame, dataset_root: str | Path, choice: str, *,
                 progress: ProgressCallback | None = None) -> TimePairs: ...


def alignment_error_summary(errors: Sequence[np.ndarray]) -> dict[str, float]:
    """Median and 95th percentile (s) of the pooled absolute errors of several tracks."""
    pooled = np.concatenate([np.asarray(e, dtype=np.float64) for e in errors]) if errors else np.zeros(0)
    if pooled.size == 0:
        return {"median_s": float("nan"), "p95_s": float("nan"), "n": 0}
    return {"median_s": float(np.median(pooled)), "p95_s": float(np.percentile(pooled, 95)), "n": int(pooled.size)}


#: Score times (s) apart at which :func:`rendering_check` compares a DTW path with the identity.
CHECK_STEP = 0.1


def rendering_check(pairs: TimePairs, obs: pd.DataFrame) -> dict[str, float] | None:
    """How far DTW paths of rendered rows (whose true path is the identity) are from it: median and 95th
    percentile of the absolute error (s) every :data:`CHECK_STEP` s of score time, pooled over those tracks.
    None when no rendered row was aligned by DTW (``--alignment dtw`` on renderings is the check)."""
    if "audio_source" not in obs:
        return None
    rendered = {str(i) for i, source in zip(obs["id"], obs["audio_source"])
                if str(source).startswith(RENDERED_PREFIX)}
    errors = []
    for track_id, path in pairs.paths.items():
        if track_id in rendered and path.method == "dtw" and len(path.score_seconds):
            grid = np.arange(path.score_seconds.min(), path.score_seconds.max(), CHECK_STEP)
            errors.append(np.abs(path.score_to_audio(grid) - grid))
    if not errors:
        return None
    return {**alignment_error_summary(errors), "tracks": len(errors)}
