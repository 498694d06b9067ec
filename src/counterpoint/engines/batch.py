"""The work every engine does per batch of tracks, and how the driver records it.

A batch goes through two steps so that one bad file never spoils the others:
:func:`prepare_track` reads each track's file (an error is that track's ``load`` failure),
then :func:`embed_batch` embeds the prepared tracks with one model call, retrying one by one
to find a culprit when the batch fails (an error, or NaN/inf, is that track's ``embed``
failure). Engines run these steps wherever they run encoders; :func:`record_batch` is what
the driver does with the results, whichever engine produced them.

One model pass may give several store entries (:meth:`~counterpoint.encoders.base.Encoder.outputs`:
the layers of ``musicnn:layers=all``), each the entry its single-layer spec would make: a track
is embedded when some output lacks it, and each output stores only the tracks it lacks.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from counterpoint.data.manifest import Track
from counterpoint.encoders.base import Embedding, Encoder
from counterpoint.errors import CounterpointError, EncoderError
from counterpoint.progress import ProgressCallback
from counterpoint.sources import FileState, SourceIdentity, is_changed
from counterpoint.store import EncoderMeta, StoreWriter

#: (track id, stage, message): stage is ``load`` (reading the file) or ``embed`` (the model).
Failure = tuple[str, str, str]


@dataclass
class EncoderRun:
    """What one encoder did in one run (tracks count once, however many outputs it stores)."""

    spec: str
    #: per output (store entry) of the encoder: its spec and the ids the store held before the run
    outputs: list[str] = field(default_factory=list)
    held: list[set[str]] = field(default_factory=list)
    skipped: int = 0  # already in the store with the same fingerprint, from the same bytes
    #: held by the store, but embedded from a file that changed since: embedded again, replacing those rows
    changed: set[str] = field(default_factory=set)
    embedded: int = 0  # the changed ones that were embedded again included
    reembedded: int = 0
    failed: list[Failure] = field(default_factory=list)
    seconds: float = 0.0


class Prepared(NamedTuple):
    """One track's prepared input, or the message of the error that stopped it; seconds it took."""

    track: Track
    item: Any
    error: str | None
    seconds: float
    #: the file read, as found just before reading it (size, mtime, digest); None if it could not be read
    source: FileState | None = None


class Embedded(NamedTuple):
    """One track's embeddings, one per output of the encoder, and its seconds: its preparation
    plus its share of the model call."""

    track_id: str
    embeddings: tuple[Embedding, ...]
    seconds: float
    source: FileState | None = None


def describe_error(exc: BaseException) -> str:
    """The message stored for a failure: ours as written, a library's with its type."""
    if isinstance(exc, CounterpointError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def encoder_meta(encoder: Encoder) -> EncoderMeta:
    """What the store records about an encoder (its fingerprint reads the weights' digest)."""
    info = encoder.layer_info()
    return EncoderMeta(encoder.spec, encoder.name, encoder.modality, encoder.dim, encoder.fingerprint(),
                       encoder.feature_names(), *((info.layer, info.index, info.base) if info else (None, None, None)),
                       parameters=encoder.recorded_parameters(), shared_space=encoder.shared_space)


def output_metas(encoder: Encoder) -> list[EncoderMeta]:
    """What the store records about each output (store entry) of one pass of ``encoder``."""
    return [encoder_meta(output) for output in encoder.outputs()]


def load_encoder(encoder: Encoder) -> None:
    """Build the encoder's model now; an error that cannot load it names the encoder and the fix."""
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


def prepare_track(encoder: Encoder, track: Track) -> Prepared:
    """Read one track's file into the encoder's input; an error becomes its message. The file's
    identity (size, mtime, digest) is taken first, so a file changed while it is read is recorded
    with its older identity and embedded again by the next run, never the other way round."""
    started = time.perf_counter()
    path = track.path_for(encoder.modality)
    try:
        source = FileState.read(path) if path is not None else None
    except OSError:
        source = None  # the encoder's own reading names the problem
    try:
        return Prepared(track, encoder.prepare(track), None, time.perf_counter() - started, source)
    except Exception as exc:  # one file's problem, whatever the library raised
        return Prepared(track, None, describe_error(exc), time.perf_counter() - started, source)


def embed_batch(encoder: Encoder, prepared: Sequence[Prepared]) -> tuple[list[Embedded], list[Failure]]:
    """Embed a batch of prepared tracks: the embeddings in order, and the failures (load ones first)."""
    failures: list[Failure] = [(p.track.id, "load", p.error) for p in prepared if p.error is not None]
    embedded = _embed_isolating_failures(encoder, [p for p in prepared if p.error is None], failures)
    return embedded, failures


def _embed_isolating_failures(encoder: Encoder, ok: list[Prepared], failures: list[Failure]) -> list[Embedded]:
    """Embed a batch; if the batch fails, embed its tracks one by one to find the culprit."""
    if not ok:
        return []
    started = time.perf_counter()
    try:
        per_output = encoder.embed_outputs([p.item for p in ok])
    except Exception as exc:
        if len(ok) == 1:
            failures.append((ok[0].track.id, "embed", describe_error(exc)))
            return []
        return [result for one in ok for result in _embed_isolating_failures(encoder, [one], failures)]
    share = (time.perf_counter() - started) / len(ok)
    finite = []
    outputs = encoder.outputs()
    for p, embeddings in zip(ok, zip(*per_output)):
        bad = next(((output, part) for output, e in zip(outputs, embeddings)
                    if (part := non_finite_part(e)) is not None), None)
        if bad is None:
            finite.append(Embedded(p.track.id, embeddings, p.seconds + share, p.source))
        else:
            failures.append((p.track.id, "embed", f"track {p.track.id!r}: {bad[0].spec} gave NaN/inf in its {bad[1]}, "
                                                  f"not stored — {encoder.non_finite_hint}"))
    return finite


def begin_run(writer: StoreWriter, spec: str, metas: Sequence[EncoderMeta], *, tracks: Sequence[Track],
              progress: ProgressCallback | None) -> tuple[list[Track], EncoderRun]:
    """Declare the encoder ``spec``'s outputs (``metas``) to the store; the tracks still to embed
    and the run's record, with the skipped ones reported as done (``progress(spec, done, total)``,
    total: the tracks of the encoder's modality). Skipped: the tracks every output
    holds with its fingerprint, embedded from the file the manifest names now, holding the same
    bytes (:func:`changed_tracks`)."""
    held = [writer.begin_encoder(meta) for meta in metas]
    done = [t for t in tracks if all(t.id in ids for ids in held)]
    changed = changed_tracks(writer, metas[0], done)
    todo = [t for t in tracks if t.id in changed or not all(t.id in ids for ids in held)]
    run = EncoderRun(spec, [meta.spec for meta in metas], held, skipped=len(tracks) - len(todo), changed=changed)
    if progress:
        progress(spec, run.skipped, len(tracks))
    return todo, run


def changed_tracks(writer: StoreWriter, meta: EncoderMeta, tracks: Sequence[Track]) -> set[str]:
    """The ids of ``tracks`` (held by the store) whose stored embedding of ``meta`` was computed from
    another file than the manifest names now, or from bytes that changed since. A file that is
    gone counts as changed (embedding it again records why it fails); a row embedded before
    sources were recorded cannot be checked and counts as unchanged. A withdrawn row (its changed
    file failed to embed) is tried again, whatever its file is now."""
    if not tracks:
        return set()
    recorded, withdrawn = writer.recorded_sources(meta.spec)
    changed = {track.id for track in tracks if track.id in withdrawn}
    for track in tracks:
        path = track.path_for(meta.modality)
        source = recorded.get(track.id)
        if path is None or source is None:
            continue
        try:
            if is_changed(source, *writer.source_location(path), path=path):
                changed.add(track.id)
        except OSError:
            changed.add(track.id)
    return changed


def _identity(writer: StoreWriter, embedded: Embedded) -> SourceIdentity:
    if embedded.source is None:
        return SourceIdentity.unknown()
    return embedded.source.identity(*writer.source_location(embedded.source.path))


def record_batch(writer: StoreWriter, run: EncoderRun, embedded: Sequence[Embedded], *,
                 failures: Sequence[Failure]) -> None:
    """Journal one batch's embeddings (each output the tracks it lacks, and the tracks whose file
    changed, which replace their rows) and failures (the driver's part, for every engine)."""
    for index, (spec, held) in enumerate(zip(run.outputs, run.held)):
        new = [e for e in embedded if e.track_id not in held or e.track_id in run.changed]
        writer.add_embeddings(spec, [e.track_id for e in new], [e.embeddings[index] for e in new],
                              [e.seconds for e in new], sources=[_identity(writer, e) for e in new],
                              replace=[e.track_id in run.changed for e in new])
        writer.add_failures(spec, [f for f in failures if f[0] not in held or f[0] in run.changed])
    writer.maybe_commit()
    run.embedded += len(embedded)
    run.reembedded += sum(e.track_id in run.changed for e in embedded)
    run.failed.extend(failures)
