"""The local engine: the model in this process, the tracks' files read ahead by worker processes.

Reading a file (decoding audio, resampling, spectrograms, parsing MIDI) is
:meth:`~counterpoint.encoders.base.Encoder.prepare`; much of it holds Python's GIL, so a
thread could not run it beside the model. Here ``workers`` processes prepare the coming
tracks while this process embeds the current batch. The workers are forked after the model
is built, so they start in milliseconds and share its memory (they never call it) — except the
first encoder's where reading needs no model (musicnn:
:attr:`~counterpoint.encoders.base.Encoder.prepares_before_load`): those are forked first and
import what reading needs (librosa, ~1–2 s) while this process imports torch and builds the
network, so that a short run pays the two start-ups side by side. Otherwise this process imports
what reading needs (:attr:`~counterpoint.encoders.base.Encoder.prepare_imports`) before it forks
the workers, which inherit it instead of each importing it again. Results
come back in track order, so the store is the same whatever the number of workers. The
workers run at a lower priority (nice 10): where the model keeps every core busy (musicnn's
side-by-side passes) they fill its gaps instead of delaying it, and where reading is the work
(audio-stats) the model process mostly waits and they have the cores anyway. A worker
that dies (a crash inside a decoding library) fails only the track it was reading: the
tracks in flight then are read again one at a time by a fresh worker, and the one that
kills it again is recorded as a ``load`` failure.

Where processes cannot be forked (not Linux), or with ``workers=0``, one thread reads one
batch ahead, as before this engine had workers.
"""

from __future__ import annotations

import ctypes
import importlib
import multiprocessing
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import closing
from itertools import islice
from typing import ClassVar

from counterpoint.data.manifest import Track
from counterpoint.encoders.base import Encoder
from counterpoint.engines import Engine, available_cores
from counterpoint.engines.batch import (EncoderRun, Prepared, begin_run, embed_batch, load_encoder, output_metas,
                                        prepare_track, record_batch)
from counterpoint.progress import ProgressCallback
from counterpoint.store import EncoderMeta, StoreWriter


def default_workers() -> int:
    """Worker processes for reading files: one per core this process may use; 0 where fork is missing."""
    if not sys.platform.startswith("linux"):
        return 0
    return available_cores()


class LocalEngine(Engine):
    """The model in this process, the files read ahead by ``workers`` processes (None:
    :func:`default_workers`; 0: one thread in this process)."""

    name: ClassVar[str] = "local"

    def __init__(self, *, workers: int | None = None) -> None:
        self.workers = default_workers() if workers is None else workers
        #: The first encoder's workers, started before the models load (see :meth:`load`).
        self._early: tuple[Encoder, _Readers] | None = None

    def load(self, encoders: Sequence[Encoder]) -> list[list[EncoderMeta]]:
        """Build every encoder's model here; the first that cannot load raises an error naming it.

        Where the first encoder reads files without its model (:attr:`Encoder.prepares_before_load`),
        its workers start first and import what reading needs while this process loads the models:
        the two start-ups overlap instead of adding up."""
        if encoders and encoders[0].prepares_before_load and self.workers > 0:
            self._early = (encoders[0], _Readers(encoders[0], self.workers, start_now=True))
        try:
            for encoder in encoders:
                load_encoder(encoder)
        except BaseException:
            self.close()
            raise
        return [output_metas(encoder) for encoder in encoders]

    def close(self) -> None:
        if self._early is not None:
            self._early[1].close()
            self._early = None

    def _readers_for(self, encoder: Encoder) -> "_Readers":
        """The workers :meth:`load` started for ``encoder``, or new ones."""
        if self._early is not None and self._early[0] is encoder:
            readers, self._early = self._early[1], None
            return readers
        return _Readers(encoder, self.workers)

    def run_encoder(self, encoder: Encoder, metas: Sequence[EncoderMeta], tracks: Sequence[Track],
                    writer: StoreWriter, *, batch_size: int | None = None,
                    progress: ProgressCallback | None = None) -> EncoderRun:
        started = time.perf_counter()
        todo, run = begin_run(writer, encoder.spec, metas, tracks=tracks, progress=progress)
        size = batch_size or encoder.batch_size
        handled = 0
        with closing(prepared_in_order(self._readers_for(encoder), todo, ahead=size)) as prepared:
            while batch := list(islice(prepared, size)):
                embedded, failures = embed_batch(encoder, batch)
                record_batch(writer, run, embedded, failures=failures)
                handled += len(batch)
                if progress:
                    progress(encoder.spec, run.skipped + handled, len(tracks))
        run.seconds = time.perf_counter() - started
        return run


# ---- reading ahead ---------------------------------------------------------------------------------

#: Linux's prctl option that sends a signal to this process when its parent dies.
PR_SET_PDEATHSIG = 1

#: The encoder a forked worker prepares tracks with (inherited from the parent, never pickled).
_worker_encoder: Encoder | None = None


def _adopt_encoder(encoder: Encoder, parent: int) -> None:
    """Worker start-up: die with the parent (a killed run leaves no idle workers behind), keep the
    parent's encoder, yield to the model process (nice 10), use one torch thread, as torch's
    DataLoader workers do, and import what reading a file needs (:attr:`Encoder.prepare_imports`)."""
    global _worker_encoder
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)
    _worker_encoder = encoder
    os.nice(10)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    for module in encoder.prepare_imports:
        importlib.import_module(module)


def _started() -> bool:
    """A task that makes the pool fork its workers now (their start-up then runs at once)."""
    return True


def _prepare_in_worker(track: Track) -> Prepared:
    assert _worker_encoder is not None, "the worker was started without an encoder"
    return prepare_track(_worker_encoder, track)


class _Readers:
    """Worker processes (or one thread) preparing tracks for one encoder; rebuilt if a worker dies."""

    def __init__(self, encoder: Encoder, workers: int, *, start_now: bool = False) -> None:
        self.encoder = encoder
        self.workers = workers
        self.executor = self._start()
        if start_now and workers > 0:
            self.executor.submit(_started)  # a fork pool starts every worker at its first task

    def _start(self) -> Executor:
        if self.workers == 0:
            return ThreadPoolExecutor(max_workers=1)
        if not self.encoder.prepares_before_load:  # forked after the model: import once here, for every worker
            for module in self.encoder.prepare_imports:
                importlib.import_module(module)
        return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("fork"),
                                   initializer=_adopt_encoder, initargs=(self.encoder, os.getpid()))

    def submit(self, track: Track) -> Future:
        if self.workers == 0:
            return self.executor.submit(prepare_track, self.encoder, track)
        return self.executor.submit(_prepare_in_worker, track)

    def restart(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        self.executor = self._start()

    def alone(self, track: Track) -> Prepared:
        """Prepare one track with no other in flight; a worker's death is that track's failure."""
        try:
            return self.submit(track).result()
        except BrokenProcessPool as exc:
            self.restart()
            return Prepared(track, None, f"track {track.id!r} ({track.path_for(self.encoder.modality)}): the process "
                                         f"reading it died ({exc}) — a crash inside a decoding library; check or "
                                         "convert the file", 0.0)

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


def prepared_in_order(readers: _Readers, tracks: Sequence[Track], *, ahead: int) -> Iterator[Prepared]:
    """Every track prepared by ``readers``, in order, with ``ahead + 2 * workers`` tracks read ahead at
    most; the readers are closed at the end."""
    workers = readers.workers
    coming = iter(tracks)
    pending: deque[tuple[Track, Future]] = deque((t, readers.submit(t)) for t in islice(coming, ahead + 2 * workers))
    try:
        while pending:
            track, future = pending.popleft()
            try:
                result = future.result()
            except BrokenProcessPool:  # a worker died: read the tracks that were in flight one at a time
                suspects = [track] + [t for t, _ in pending]
                pending.clear()
                readers.restart()
                for suspect in suspects:
                    yield readers.alone(suspect)
            else:
                yield result
            pending.extend((t, readers.submit(t)) for t in islice(coming, ahead + 2 * workers - len(pending)))
    finally:
        readers.close()
