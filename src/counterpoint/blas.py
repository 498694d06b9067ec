"""BLAS kept to one thread, for encoders that run beside other threads and for the analyses.

numpy's BLAS (OpenBLAS) starts a thread per core for every matrix product. On small products
(a mel projection of one track, the thousands of resampled statistics of a comparison) those
threads only fight with the work's own threads and processes: a 2-thread mel projection measured
10x slower than 1 thread on a shared 2-core machine, and a multi-threaded BLAS was 100x slower on
resampling loops of a busy machine. Their float32 results also round differently with another
number of threads, so one thread also keeps the numbers independent of the core count.

The loaded BLAS libraries are listed once per process (threadpoolctl reads every loaded
library's file to find them, which cost about 3 ms per call, per track of audio-stats).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _controller() -> Any:
    """threadpoolctl's view of this process's thread pools, made once, after numpy's and scipy's BLAS are loaded."""
    import numpy  # noqa: F401
    import scipy.linalg  # noqa: F401  (scipy's own OpenBLAS)
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def single_threaded_blas() -> AbstractContextManager:
    """A context in which numpy's and scipy's BLAS use one thread (for the whole process)."""
    return _controller().limit(limits=1, user_api="blas")
