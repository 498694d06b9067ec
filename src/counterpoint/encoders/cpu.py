"""Running encoder work on the CPU cores: how many there are, and BLAS kept to one thread.

numpy's BLAS (OpenBLAS) starts a thread per core for every matrix product. On the small
products of a front end (a mel projection of one track) those threads only fight with the
encoder's own threads: a 2-thread mel projection measured 10x slower than 1 thread on a
shared 2-core machine. Their float32 results also round differently with another number of
threads. Encoders that run their own threads side by side run BLAS in one thread.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager


def available_cores() -> int:
    """CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def single_threaded_blas() -> AbstractContextManager:
    """A context in which numpy's and scipy's BLAS use one thread (for the whole process)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")
