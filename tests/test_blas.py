"""The one-thread BLAS context: it limits every BLAS numpy and scipy use, restores them, and is cheap."""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from counterpoint.blas import single_threaded_blas


def blas_threads() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_every_blas_runs_one_thread_inside_and_its_own_number_after() -> None:
    import scipy.linalg  # noqa: F401  (its own OpenBLAS, when it has one)

    with threadpool_limits(limits=2, user_api="blas"):
        assert blas_threads() and max(blas_threads()) == 2
        with single_threaded_blas():
            assert set(blas_threads()) == {1}
            np.ones((64, 64)) @ np.ones((64, 64))
        assert max(blas_threads()) == 2


def test_the_libraries_are_listed_once_per_process() -> None:
    from counterpoint import blas

    with single_threaded_blas():
        pass
    before = blas._controller.cache_info()
    with single_threaded_blas():
        pass
    after = blas._controller.cache_info()
    assert after.misses == before.misses and after.hits == before.hits + 1
