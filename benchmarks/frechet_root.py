"""The Fréchet distance's matrix root: Counterpoint's eigenvalue/singular-value route beside ``scipy.linalg.sqrtm``.

For trials of two random sets with fewer tracks than dimensions (rank-deficient covariances, as a 30-track
selection in musicnn's 753 dimensions), prints for each route how many results came out complex or negative,
the largest gap from the exact value (the singular values of ``A Bᵀ``, which cannot round below 0) and the
seconds per distance, side by side with their ratio; then the peak RSS. Ratios and counts, not absolute
seconds, are what compare across machines.

    python benchmarks/frechet_root.py --n 30 --dim 200 --trials 20
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import scipy.linalg

from counterpoint.analysis.distances import frechet_distance, frechet_distance_gaussians
from counterpoint.blas import single_threaded_blas


def scipy_frechet(a: np.ndarray, b: np.ndarray) -> complex:
    """The usual implementation: ``sqrtm`` of the non-symmetric product ``Σ_a Σ_b`` (what fadtk users run)."""
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b)
    return complex(np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(root))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--dim", type=int, default=200)
    parser.add_argument("--trials", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows = {"scipy sqrtm": [], "eigh of Σa½ Σb Σa½": [], "singular values of A Bᵀ": []}
    timings = {name: 0.0 for name in rows}
    with single_threaded_blas():
        for _ in range(args.trials):
            a = rng.normal(size=(args.n, args.dim))
            b = rng.normal(size=(args.n, args.dim)) * 1.5 + 0.3
            moments = [(x.mean(0), np.cov(x, rowvar=False)) for x in (a, b)]
            for name, work in (("scipy sqrtm", lambda: scipy_frechet(a, b)),
                               ("eigh of Σa½ Σb Σa½", lambda: frechet_distance_gaussians(*moments)),
                               ("singular values of A Bᵀ", lambda: frechet_distance(a, b))):
                start = time.perf_counter()
                value = work()
                timings[name] += time.perf_counter() - start
                rows[name].append(value)
    exact = np.array(rows["singular values of A Bᵀ"], dtype=float)
    floor = timings["singular values of A Bᵀ"]
    print(f"{args.trials} trials, {args.n} tracks per set, {args.dim} dimensions (covariance rank {args.n - 1})")
    print(f"{'route':<26}{'complex':>9}{'negative':>10}{'max |gap| / exact':>19}{'ms each':>10}{'× SVD':>8}")
    for name, values in rows.items():
        values = np.array(values, dtype=complex)
        complex_count = int(np.sum(np.abs(values.imag) > 1e-9 * np.abs(values.real)))
        negative = int(np.sum(values.real < 0))
        gap = float(np.max(np.abs(values.real - exact) / exact))
        print(f"{name:<26}{complex_count:>9}{negative:>10}{gap:>19.2e}{1000 * timings[name] / args.trials:>10.2f}"
              f"{timings[name] / floor:>8.1f}")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
