"""What leave-one-out influence and the label-structure figures cost, next to what they replace.

Prints, for N tracks of two spaces: debiased CKA without each track from the two Gram matrices
(:func:`counterpoint.analysis.similarity.debiased_cka_without_each`) against recomputing it N times,
their ratio, and the seconds of each label-structure figure of one pair with the comparison's
defaults; then the peak RSS of the process. Ratios, not absolute seconds, are what compare across
machines.

    python benchmarks/influence_cost.py --n 400 --dims 128 64
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from counterpoint.analysis.similarity import debiased_cka, debiased_cka_without_each
from counterpoint.analysis.label_structure import (centroid_agreement, confusion_similarity, error_agreement,
                                                   label_transfer)
from counterpoint.probe_protocol import plan_protocol, probe_accuracy


def seconds(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--dims", type=int, nargs=2, default=(128, 64))
    parser.add_argument("--classes", type=int, default=7)
    parser.add_argument("--n-perm", type=int, default=1999)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    labels = np.array([f"c{i % args.classes}" for i in range(args.n)])
    codes = np.array([int(label[1:]) for label in labels])
    latent = rng.normal(size=(args.classes, 8))[codes] + rng.normal(size=(args.n, 8))
    X = latent @ rng.normal(size=(8, args.dims[0])) + rng.normal(size=(args.n, args.dims[0]))
    Y = latent @ rng.normal(size=(8, args.dims[1])) + rng.normal(size=(args.n, args.dims[1]))

    gram = seconds(lambda: debiased_cka_without_each(X, Y))
    naive = seconds(lambda: [debiased_cka(np.delete(X, i, 0), np.delete(Y, i, 0)) for i in range(args.n)])
    print(f"debiased CKA without each of {args.n} tracks: Gram matrices {gram:.3f} s, recomputing {naive:.3f} s "
          f"(ratio {naive / gram:.1f}×)")

    plan = plan_protocol(labels, seed=0)
    predictions = [probe_accuracy(Z, labels, ids=np.arange(args.n), plan=plan, n_perm=0, n_boot=0).predictions
                   for Z in (X, Y)]
    correct = [p.pivot_table(index="id", columns="repeat", values="correct").to_numpy(float) for p in predictions]
    predicted = [p.pivot_table(index="id", columns="repeat", values="predicted", aggfunc="first").to_numpy()
                 for p in predictions]
    for name, work in (
            ("centroid agreement", lambda: centroid_agreement(X, Y, labels, n_perm=args.n_perm)),
            ("label transfer (one direction)", lambda: label_transfer(X, Y, labels, folds=plan.folds,
                                                                      repeat_of_fold=plan.repeat_of_fold,
                                                                      n_perm=args.n_perm)),
            ("error agreement", lambda: error_agreement(*correct, n_perm=args.n_perm)),
            ("confusion similarity", lambda: confusion_similarity(labels, *predicted, n_perm=args.n_perm))):
        print(f"{name}: {seconds(work):.2f} s ({args.n_perm} null draws)")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
