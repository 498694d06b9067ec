"""Running encoders over a dataset into a store: batched, resumable, one bad file at a time.

Every encoder's model is built and its weights read before the store is opened: a model
that cannot load stops the command once, up front, before any track is embedded. Then, for
each encoder, the runner takes the tracks of its modality that the store does not hold yet
with the same fingerprint, reads their files in a background thread while the model works on
the previous batch, embeds each batch with one model call, and journals the results (see
:mod:`counterpoint.store`). A file that cannot be read or embedded, or whose embedding holds
NaN or inf, is recorded in the failures table with the reason, and the run goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from counterpoint.data.manifest import Manifest, Track, load_manifest
from counterpoint.encoders.base import Embedding, Encoder
from counterpoint.encoders.registry import DEFAULT_ENCODERS, build_encoders
from counterpoint.errors import CounterpointError, EncoderError, StoreError
from counterpoint.store import EncoderMeta, StoreWriter

#: The "encoder" under which problems of the dataset itself (missing files...) are recorded.
DATASET_STAGE = "(dataset)"

#: progress(encoder spec, tracks done, tracks of its modality) — called after every batch;
#: tracks already in the store count as done.
ProgressCallback = Callable[[str, int, int], None]


@dataclass
class EncoderRun:
    """What one encoder did in one run."""

    spec: str
    skipped: int = 0  # already in the store with the same fingerprint
    embedded: int = 0
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # (track id, stage, message)
    seconds: float = 0.0


@dataclass
class EmbedReport:
    store: Path
    runs: list[EncoderRun]
    problems: list[str]


def _describe(exc: BaseException) -> str:
    if isinstance(exc, CounterpointError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def load_encoders(encoders: Sequence[Encoder]) -> None:
    """Build every encoder's model now; the first that cannot load raises an error naming it."""
    for encoder in encoders:
        try:
            encoder.load()
        except CounterpointError as exc:
            raise type(exc)(f"{encoder.spec}: cannot load its model — {exc}") from exc
        except Exception as exc:  # a library's own error about the weights or the config
            raise EncoderError(f"{encoder.spec}: cannot load its model ({type(exc).__name__}: {exc}) — check the "
                               "files given in weights=/config= (or fetch the official ones again)") from exc


def non_finite_part(embedding: Embedding) -> str | None:
    """Which part of an embedding holds NaN or inf (pooled, frames, timestamps), or None."""
    for part in ("pooled", "frames", "timestamps"):
        if not np.isfinite(getattr(embedding, part)).all():
            return part
    return None


def _prepare(encoder: Encoder, track: Track) -> tuple[Track, Any, BaseException | None, float]:
    started = time.perf_counter()
    try:
        return track, encoder.prepare(track), None, time.perf_counter() - started
    except Exception as exc:  # one file's problem, whatever the library raised
        return track, None, exc, time.perf_counter() - started


def _batches(items: Sequence[Track], size: int) -> Iterator[Sequence[Track]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def run_encoder(encoder: Encoder, tracks: Sequence[Track], writer: StoreWriter, batch_size: int | None = None,
                progress: ProgressCallback | None = None) -> EncoderRun:
    """Embed ``tracks`` (those of the encoder's modality) with one encoder into ``writer``.

    ``batch_size`` is the number of tracks per batch (one ``embed_prepared`` call); None takes
    the encoder's own ``batch_size`` parameter. How many windows go through the model at once
    is the encoder's ``forward_batch``.
    """
    meta = EncoderMeta(encoder.spec, encoder.name, encoder.modality, encoder.dim, encoder.fingerprint(),
                       encoder.feature_names())
    done = writer.begin_encoder(meta)
    todo = [t for t in tracks if t.id not in done]
    run = EncoderRun(encoder.spec, skipped=len(tracks) - len(todo))
    size = batch_size or encoder.batch_size
    started = time.perf_counter()
    if progress:
        progress(encoder.spec, run.skipped, len(tracks))
    with ThreadPoolExecutor(max_workers=1) as reader:
        batches = _batches(todo, size)
        pending = [reader.submit(_prepare, encoder, t) for t in next(batches, [])]
        handled = 0
        while pending:
            prepared = [f.result() for f in pending]
            pending = [reader.submit(_prepare, encoder, t) for t in next(batches, [])]  # read ahead
            ok = [(track, item, seconds) for track, item, error, seconds in prepared if error is None]
            failures = [(track.id, "load", _describe(error)) for track, _, error, _ in prepared if error is not None]
            embedded = _embed_isolating_failures(encoder, ok, failures)
            writer.add_embeddings(encoder.spec, [t.id for t, _, _ in embedded], [e for _, e, _ in embedded],
                                  [seconds for _, _, seconds in embedded])
            writer.add_failures(encoder.spec, failures)
            writer.maybe_commit()
            run.embedded += len(embedded)
            run.failed.extend(failures)
            handled += len(prepared)
            if progress:
                progress(encoder.spec, run.skipped + handled, len(tracks))
    run.seconds = time.perf_counter() - started
    return run


def _embed_isolating_failures(encoder: Encoder, ok: list[tuple[Track, Any, float]],
                              failures: list[tuple[str, str, str]]) -> list[tuple[Track, Any, float]]:
    """Embed a batch; if the batch fails, embed its tracks one by one to find the culprit.

    Returns (track, embedding, seconds) where seconds is the track's read time plus its
    share of the model time.
    """
    if not ok:
        return []
    started = time.perf_counter()
    try:
        embeddings = encoder.embed_prepared([item for _, item, _ in ok])
    except Exception as exc:
        if len(ok) == 1:
            failures.append((ok[0][0].id, "embed", _describe(exc)))
            return []
        return [result for one in ok for result in _embed_isolating_failures(encoder, [one], failures)]
    share = (time.perf_counter() - started) / len(ok)
    finite = []
    for (track, _, seconds), embedding in zip(ok, embeddings):
        part = non_finite_part(embedding)
        if part is None:
            finite.append((track, embedding, seconds + share))
        else:
            failures.append((track.id, "embed", f"track {track.id!r}: {encoder.spec} gave NaN/inf in its {part}, "
                                                f"not stored — {encoder.non_finite_hint}"))
    return finite


def embed_dataset(dataset: str | Path | Manifest, out: str | Path,
                  encoders: Sequence[Encoder] | Sequence[str] | str = DEFAULT_ENCODERS,
                  batch_size: int | None = None, progress: ProgressCallback | None = None) -> EmbedReport:
    """Embed every track of ``dataset`` with each encoder (or spec) into the store ``out`` (resumable)."""
    out = Path(out)
    if out.is_dir():
        raise StoreError(f"{out} is a folder; the store is one file — give a file name inside it, "
                         f"e.g. --out {out / 'embeddings.h5'}")
    manifest = dataset if isinstance(dataset, Manifest) else load_manifest(dataset)
    if isinstance(encoders, str) or all(isinstance(e, str) for e in encoders):
        encoders = build_encoders(encoders if isinstance(encoders, str) else list(encoders))
    load_encoders(encoders)
    runs: list[EncoderRun] = []
    with StoreWriter(out, dataset_root=manifest.root) as writer:
        writer.set_tracks(manifest.to_frame())
        writer.add_failures(DATASET_STAGE, [(p.track_id or "", "manifest", str(p)) for p in manifest.problems])
        for encoder in encoders:
            runs.append(run_encoder(encoder, manifest.for_modality(encoder.modality), writer, batch_size, progress))
            writer.commit()
    return EmbedReport(Path(out), runs, [str(p) for p in manifest.problems])
