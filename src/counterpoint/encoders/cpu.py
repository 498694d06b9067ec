"""BLAS kept to one thread while encoders run their own work on the CPU cores.

numpy's BLAS (OpenBLAS) starts a thread per core for every matrix product. On the small
products of a front end (a mel projection of one track) those threads only fight with the
encoder's own threads: a 2-thread mel projection measured 10x slower than 1 thread on a
shared 2-core machine. Their float32 results also round differently with another number of
threads. Encoders that run their own threads side by side run BLAS in one thread.
"""

from __future__ import annotations

from contextlib import AbstractContextManager


def single_threaded_blas() -> AbstractContextManager:
    """A context in which numpy's and scipy's BLAS use one thread (for the whole process)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")
