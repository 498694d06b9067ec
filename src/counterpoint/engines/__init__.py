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
"""

from __future__ import annotations

import os

from counterpoint.errors import CounterpointError

#: The values of ``--engine``.
from counterpoint.defaults import ENGINES  # noqa: E402  (where encoders run)


def check_engine(engine: str, ray_address: str | None = None) -> None:
    """Raise CounterpointError for an unknown engine, or a Ray address given to the local engine."""
    if engine not in ENGINES:
        raise CounterpointError(f"engine {engine!r} is not one of {', '.join(ENGINES)} — "
                                "give --engine local (this machine) or --engine ray (Ray Data)")
    if ray_address and engine != "ray":
        raise CounterpointError(f"--ray-address {ray_address} needs --engine ray (the local engine runs on this "
                                "machine only)")


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
