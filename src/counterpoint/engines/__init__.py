"""Embedding engines: where encoders run while one store writer in this process keeps the results.

Every engine does the same work per batch of tracks (:mod:`counterpoint.engines.batch`):
prepare each track (read and decode its file), embed the prepared batch with one model call,
and hand the embeddings and the per-track failures to the driver, which writes them through
the one :class:`~counterpoint.store.StoreWriter`. Engines differ only in where that work runs:

* ``local`` (:mod:`counterpoint.engines.local`, the default): the model in this process,
  the files read ahead by worker processes, one per core.
* ``ray`` (:mod:`counterpoint.engines.ray`): Ray Data streams the tracks to actors that each
  build the model once, on a laptop's local Ray instance or on a cluster. Needs the ``ray``
  extra (``pip install counterpoint[ray]``); nothing imports Ray unless this engine is chosen.

Both implement one interface, :class:`Engine`, and :func:`engine_for` picks one by name from
:data:`counterpoint.defaults.ENGINES`: a new engine needs its module and its name there.
"""

from __future__ import annotations

import importlib
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from counterpoint.errors import CounterpointError
from counterpoint.progress import ProgressCallback

from counterpoint.defaults import ENGINES

if TYPE_CHECKING:
    from counterpoint.data.manifest import Track
    from counterpoint.encoders.base import Encoder
    from counterpoint.engines.batch import EncoderRun
    from counterpoint.store import EncoderMeta, StoreWriter

#: Each engine of :data:`~counterpoint.defaults.ENGINES` (the values of ``--engine``) is the class
#: ``<Name>Engine`` of the module ``counterpoint.engines.<name>``, imported when chosen.
ENGINE_CLASSES: dict[str, str] = {name: f"counterpoint.engines.{name}:{name.capitalize()}Engine" for name in ENGINES}


class Engine(ABC):
    """Where encoders run. :meth:`load` builds every model up front, where it will run, so that a
    model that cannot load stops the command once, before any track; :meth:`run_encoder` embeds one
    encoder's tracks into the one store writer of this process (skipping those the store holds)."""

    name: ClassVar[str]

    @abstractmethod
    def load(self, encoders: Sequence["Encoder"]) -> list[list["EncoderMeta"]]:
        """Build each encoder's model; what the store records about each output of each encoder."""

    @abstractmethod
    def run_encoder(self, encoder: "Encoder", metas: Sequence["EncoderMeta"], tracks: Sequence["Track"],
                    writer: "StoreWriter", *, batch_size: int | None = None,
                    progress: ProgressCallback | None = None) -> "EncoderRun":
        """Embed ``tracks`` (those of the encoder's modality) with one loaded encoder into ``writer``.

        ``metas`` are the encoder's from :meth:`load`; tracks already in the store with this
        fingerprint are skipped; ``batch_size`` tracks go to one model call (None: the encoder's own
        ``batch_size`` parameter); ``progress(spec, done, total)`` is called after every batch.
        """

    def close(self) -> None:
        """Stop what :meth:`load` started ahead of the runs (nothing, unless an engine says otherwise)."""

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_engine(engine: str, ray_address: str | None = None, workers: int | None = None) -> None:
    """Raise CounterpointError for an unknown engine, or an option the chosen engine does not take
    (a Ray address for the local engine, a number of file-reading workers for Ray)."""
    if engine not in ENGINES:
        raise CounterpointError(f"engine {engine!r} is not one of {', '.join(ENGINES)} — "
                                "give --engine local (this machine) or --engine ray (Ray Data)")
    if ray_address and engine != "ray":
        raise CounterpointError(f"--ray-address {ray_address} needs --engine ray (the local engine runs on this "
                                "machine only)")
    if workers is not None and engine != "local":
        raise CounterpointError(f"{workers} file-reading workers: only the local engine takes them (Ray runs one "
                                "actor per CPU or GPU) — leave workers out with --engine ray")


def engine_for(engine: str, *, ray_address: str | None = None, workers: int | None = None) -> Engine:
    """The engine named ``engine`` (one of :data:`ENGINES`), with its options: ``ray_address`` for
    Ray (None: a Ray instance on this machine), ``workers`` for the local engine (None: one per core)."""
    check_engine(engine, ray_address, workers)
    module, _, name = ENGINE_CLASSES[engine].partition(":")
    given = {key: value for key, value in (("ray_address", ray_address), ("workers", workers)) if value is not None}
    return getattr(importlib.import_module(module), name)(**given)  # check_engine let through only its own options


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
