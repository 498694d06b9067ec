"""The Ray engine: Ray Data streams tracks to actors that build each model once.

One encoder at a time, the tracks the store does not hold yet become a Ray dataset of
(id, audio path, MIDI path) rows, one block per batch. ``map_batches`` hands each batch to
an actor from a pool (one per GPU, with ``num_gpus=1``, for ``device=cuda``; one per CPU
otherwise) that built the encoder's model when it started; the actor prepares and embeds the
batch exactly as the local engine does (:mod:`counterpoint.engines.batch`), so the numbers
and the failure messages are the same, and returns one row per track: its embedding, or the
stage and message of its failure. Streaming execution keeps a bounded number of blocks in
flight; this process iterates over the results in track order and journals each batch
through the one store writer.

An actor that dies (killed, out of memory, a crash inside a library) is restarted and its
batch given to a live actor, up to :data:`RETRIES` more times; a batch that still kills its
actor has its tracks recorded as ``embed`` failures and the run goes on (a rerun tries
them again). Each actor holds one batch at a time, so its death touches no other batch.

Without an address, :func:`connect` starts a Ray instance on this machine with its cores;
with one (``auto``, ``ray://host:10001``) it joins that cluster. Every worker needs
counterpoint with the encoder's requirements, the weights, and the dataset at the paths this
machine sees (README, "Beyond one machine").
"""

from __future__ import annotations

import logging
import math
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from counterpoint.data.manifest import Track
from counterpoint.encoders.base import Encoder
from counterpoint.engines import Engine, available_cores
from counterpoint.engines.batch import (EncoderRun, Failure, begin_run, embed_batch, load_encoder, output_metas,
                                        prepare_track, record_batch)
from counterpoint.errors import CounterpointError, EncoderError
from counterpoint.progress import ProgressCallback
from counterpoint.store import EncoderMeta, StoreWriter

#: How many more times a batch whose actor died is given to another actor.
RETRIES = 2


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise CounterpointError("--engine ray needs Ray, which is not installed — pip install 'counterpoint[ray]' "
                                "(or use --engine local)") from None
    return ray


def connect(address: str | None = None) -> None:
    """Join the Ray cluster at ``address``, or start a local instance on this machine's cores.

    Does nothing when this process is already connected (a notebook's own ``ray.init``). Sets
    this process's Ray Data context: no Ray progress bars (the command shows its own), results in
    input order, and batches whose actors kept dying skipped (and recorded) instead of fatal.
    """
    ray = _ray()
    if not ray.is_initialized():
        quiet = {"logging_level": logging.ERROR, "log_to_driver": False}
        try:
            if address:
                ray.init(address=address, **quiet)
            else:
                ray.init(num_cpus=available_cores(), include_dashboard=False, **quiet)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = f"the Ray cluster at {address}" if address else "a local Ray instance"
            raise CounterpointError(f"cannot start or reach {where} ({exc}) — start one with `ray start --head` and "
                                    "give --ray-address auto (or ray://HOST:10001), or leave --ray-address out") from None
    from ray.data import DataContext

    context = DataContext.get_current()
    context.enable_progress_bars = False  # the command shows its own progress
    context.execution_options.preserve_order = True  # the same store as the local engine, batch for batch
    context.max_errored_blocks = -1  # a batch that kept killing its actor is recorded, not fatal
    quiet_ray_data_console()


def quiet_ray_data_console() -> None:
    """Keep Ray Data's log lines (a dead actor's traceback, "ignoring this exception") off the terminal:
    its console handlers say nothing below CRITICAL, while its file in the Ray session's logs keeps everything.
    What a dead actor cost is recorded as a failure of each of its tracks, naming the file (:func:`_lost`)."""
    for handler in logging.getLogger("ray.data").handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setLevel(logging.CRITICAL)


def actor_resources(encoder: Encoder) -> dict[str, float]:
    """What one actor of ``encoder`` reserves: a GPU for ``device=cuda``, a CPU otherwise."""
    if encoder.params.get("device") == "cuda":
        return {"num_cpus": 1, "num_gpus": 1}
    return {"num_cpus": 1}


def pool_size(encoder: Encoder) -> int:
    """The most actors ``encoder`` can have at once: the cluster's GPUs or CPUs."""
    ray = _ray()
    resources = ray.cluster_resources()
    if "num_gpus" in actor_resources(encoder):
        gpus = int(resources.get("GPU", 0))
        if gpus == 0:
            raise EncoderError(f"{encoder.spec}: device=cuda, but the Ray cluster has no GPU — use device=cpu, or "
                               "join a cluster with GPU workers (--ray-address)")
        return gpus
    return max(1, int(resources.get("CPU", 1)))


def _load_on_workers(encoders: Sequence[Encoder]) -> list[list[EncoderMeta]]:
    """Build each encoder's model once on a worker, with an actor's resources, and return what the store
    records about each of its outputs.

    Up front, so that missing weights on the workers stop the command once, before any track,
    with the encoder's own message; the fingerprint (weights digest) is the one the workers see.
    """
    ray = _ray()
    metas = []
    for encoder in encoders:
        pool_size(encoder)  # no GPU for device=cuda: say so now instead of waiting for one
        task = ray.remote(**actor_resources(encoder))(_load_and_describe)
        try:
            metas.append(ray.get(task.remote(encoder)))
        except ray.exceptions.RayTaskError as exc:
            if isinstance(exc.cause, CounterpointError):
                raise exc.cause from None
            raise EncoderError(f"{encoder.spec}: a Ray worker cannot build it ({_first_line(exc)}) — every node needs "
                               "counterpoint[ray] at this version, the encoder's requirements and the same paths "
                               "(README, 'Beyond one machine')") from exc
        except ray.exceptions.RayError as exc:
            raise EncoderError(f"{encoder.spec}: Ray could not run it on a worker ({_first_line(exc)}) — see the Ray "
                               "logs (/tmp/ray/session_latest/logs)") from exc
    return metas


def _first_line(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None) or exc
    return f"{type(cause).__name__}: {str(cause).strip().splitlines()[0] if str(cause).strip() else ''}"


def _load_and_describe(encoder: Encoder) -> list[EncoderMeta]:
    load_encoder(encoder)
    return output_metas(encoder)


class EmbedActor:
    """A Ray Data actor: builds the encoder's model once, then prepares and embeds batches of tracks."""

    def __init__(self, encoder: Encoder) -> None:
        load_encoder(encoder)
        self.encoder = encoder

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        tracks = [Track(str(i), Path(a) if a else None, Path(m) if m else None)
                  for i, a, m in zip(batch["id"], batch["audio_path"], batch["midi_path"])]
        embedded, failures = embed_batch(self.encoder, [prepare_track(self.encoder, t) for t in tracks])
        rows = [(e.track_id, e, "", "") for e in embedded] + [(i, None, stage, message) for i, stage, message in failures]
        return {"id": np.array([r[0] for r in rows]), "embedded": _objects([r[1] for r in rows]),
                "stage": np.array([r[2] for r in rows]), "message": np.array([r[3] for r in rows])}


def _objects(values: list[Any]) -> np.ndarray:
    column = np.empty(len(values), dtype=object)
    column[:] = values
    return column


def _rows(tracks: Sequence[Track]) -> list[dict[str, str]]:
    return [{"id": t.id, "audio_path": str(t.audio_path or ""), "midi_path": str(t.midi_path or "")} for t in tracks]


class RayEngine(Engine):
    """Ray Data actors, on the Ray cluster at ``ray_address`` (``auto``, ``ray://host:10001``) or a
    Ray instance started on this machine (None); :func:`connect` joins it when the engine is made."""

    name: ClassVar[str] = "ray"

    def __init__(self, *, ray_address: str | None = None) -> None:
        connect(ray_address)

    def load(self, encoders: Sequence[Encoder]) -> list[list[EncoderMeta]]:
        """Build each encoder's model once on a worker, with an actor's resources (see :func:`_load_on_workers`)."""
        return _load_on_workers(encoders)

    def run_encoder(self, encoder: Encoder, metas: Sequence[EncoderMeta], tracks: Sequence[Track],
                    writer: StoreWriter, *, batch_size: int | None = None,
                    progress: ProgressCallback | None = None) -> EncoderRun:
        started = time.perf_counter()
        todo, run = begin_run(writer, encoder.spec, metas, tracks=tracks, progress=progress)
        size = batch_size or encoder.batch_size
        returned: set[str] = set()
        with ray_messages_to_file() as messages:
            for batch in _embedded_batches(encoder, todo, size):
                embedded = [e for e in batch["embedded"] if e is not None]
                failures = [(str(i), str(s), str(m)) for i, s, m in zip(batch["id"], batch["stage"], batch["message"]) if s]
                record_batch(writer, run, embedded, failures=failures)
                returned.update(str(i) for i in batch["id"])
                if progress:
                    progress(encoder.spec, run.skipped + len(returned), len(tracks))
        lost = [t for t in todo if t.id not in returned]
        if lost:
            record_batch(writer, run, [], failures=[_lost(t, encoder.modality, messages) for t in lost])
            if progress:
                progress(encoder.spec, len(tracks), len(tracks))
        run.seconds = time.perf_counter() - started
        return run


def _embedded_batches(encoder: Encoder, todo: Sequence[Track], size: int) -> Iterator[dict[str, np.ndarray]]:
    """The actors' output for ``todo``, one batch of ``size`` tracks at a time, in track order."""
    if not todo:
        return iter(())
    ray = _ray()
    dataset = ray.data.from_items(_rows(todo), override_num_blocks=math.ceil(len(todo) / size))
    with warnings.catch_warnings():  # max_task_retries has no named parameter yet (Ray 2.60-2.63)
        warnings.simplefilter("ignore", DeprecationWarning)
        results = dataset.map_batches(EmbedActor, fn_constructor_args=(encoder,), batch_size=size,
                                      compute=ray.data.ActorPoolStrategy(min_size=1, max_size=pool_size(encoder),
                                                                         max_tasks_in_flight_per_actor=1),
                                      max_task_retries=RETRIES, **actor_resources(encoder))
    return results.iter_batches(batch_size=None, batch_format="numpy")


@contextmanager
def ray_messages_to_file() -> Iterator[Path]:
    """While Ray runs a job, the messages its driver prints to standard output ("(raylet) A worker died …",
    which name a process, not a file) go to a log file instead of mixing with the command's results.

    Yields that file's path (in the system's temporary folder); it is removed when Ray said nothing.
    """
    handle = tempfile.NamedTemporaryFile("w", prefix="counterpoint-ray-", suffix=".log", delete=False)
    path = Path(handle.name)
    try:
        with handle, redirect_stdout(handle):
            yield path
    finally:
        if path.stat().st_size == 0:
            path.unlink()


def _lost(track: Track, modality: str, messages: Path) -> Failure:
    """The failure of a track whose batch kept killing its actor, naming the file the encoder was reading."""
    where = f" ({track.path_for(modality)})" if track.path_for(modality) else ""
    ray_said = f"; Ray's messages are in {messages}" if messages.exists() else ""
    return (track.id, "embed", f"track {track.id!r}{where}: the Ray worker embedding its batch died {RETRIES + 1} "
                               f"times (out of memory, or a crash inside a library reading this file or another of "
                               f"its batch) — see the Ray logs (/tmp/ray/session_latest/logs{ray_said}); rerun the "
                               "same command to try it again")
