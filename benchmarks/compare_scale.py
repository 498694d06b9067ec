"""Time and peak memory of comparing one audio × symbolic pair at 1k, 10k and 50k tracks.

Synthetic paired spaces of 768 dimensions share a 32-dimensional latent (plus noise), so
every measure has something to find. Each size runs in a fresh subprocess, so the peak
resident memory (``ru_maxrss``) belongs to that size alone; ``tracemalloc`` gives the
peak of Python/numpy allocations.

    .venv/bin/python benchmarks/compare_scale.py                 # 1000 10000 50000
    .venv/bin/python benchmarks/compare_scale.py --sizes 1000 --n-boot 50
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc

import numpy as np


def synthetic_pair(n: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two float32 [n, dim] spaces sharing a 32-d latent under heavy noise, and 8 class labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 8, n)
    latent = rng.normal(size=(8, 32))[labels] + rng.normal(size=(n, 32))
    audio = latent @ rng.normal(size=(32, dim)) + 12.0 * rng.normal(size=(n, dim))
    symbolic = latent @ rng.normal(size=(32, dim)) + 12.0 * rng.normal(size=(n, dim))
    return audio.astype(np.float32), symbolic.astype(np.float32), labels.astype(str)


def run_one(n: int, dim: int, n_boot: int, n_perm: int, seed: int) -> dict:
    from counterpoint.analysis.compare import compare_spaces
    from counterpoint.config import CompareSettings

    audio, symbolic, labels = synthetic_pair(n, dim, seed)
    settings = CompareSettings(label="class", n_boot=n_boot, n_perm=n_perm, seed=seed)
    tracemalloc.start()
    started = time.perf_counter()
    pair = compare_spaces(audio, symbolic, labels, groups=None, given_split=None, settings=settings)
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    figures = {f"{r['measure']} {r['method']} {r['direction']}".strip(): round(r["value"], 4)
               for r in pair.rows if r["measure"] in ("cka", "cka_debiased", "rsa_spearman", "mutual_knn@10", "mrr")}
    return {"n": n, "dim": dim, "n_boot": n_boot, "n_perm": n_perm, "seconds": round(seconds, 1),
            "tracemalloc_peak_mib": round(peak / 2**20, 1),
            "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "n_test": len(pair.test_labels), "figures": figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 50000])
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--n-boot", type=int, default=200)
    parser.add_argument("--n-perm", type=int, default=199)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: run one size in this process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.dim, args.n_boot, args.n_perm, args.seed)))
        return
    results = []
    for n in args.sizes:
        command = [sys.executable, __file__, "--one", str(n), "--dim", str(args.dim), "--n-boot", str(args.n_boot),
                   "--n-perm", str(args.n_perm), "--seed", str(args.seed)]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        results.append(json.loads(output.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), flush=True)
    base = results[0]
    for r in results[1:]:
        print(f"N ×{r['n'] / base['n']:.0f}: time ×{r['seconds'] / max(base['seconds'], 1e-9):.1f}, "
              f"peak RSS ×{r['max_rss_mib'] / base['max_rss_mib']:.1f}")


if __name__ == "__main__":
    main()
