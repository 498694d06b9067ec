"""How well does one embedding space separate the dataset's classes?

Three views of one space and one label column, all on the folds of the one probe protocol
(:func:`counterpoint.probe_protocol.plan_protocol`): the linear probe (logistic regression on
standardised embeddings) — whose accuracy is the protocol's probe accuracy — a k-nearest-neighbour
vote (cosine), a labelled detail scored by the same rules, and the silhouette of the true classes.
Accuracies come with the protocol's interval, chance (majority-class share) and permutation p-value;
macro-F1 with a bootstrap interval over the held-out predictions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import silhouette_samples
from sklearn.neighbors import KNeighborsClassifier

from counterpoint.analysis.geometry import SILHOUETTE_MAX_N
from counterpoint.analysis.statistics import Estimate, bootstrap_ci, subsample_indices
from counterpoint.blas import single_threaded_blas
from counterpoint.config import N_BOOT
from counterpoint.errors import CounterpointError
from counterpoint.probe_protocol import (N_PERM, ProbeAccuracy, ProtocolPlan, macro_f1_of_codes, probe_accuracy,
                                         restrict_plan)
from counterpoint.ranges import CORRELATION, UNIT, declare_measure

#: Fewest labelled tracks for which held-out accuracies mean anything.
MIN_TRACKS = 10
#: Most tracks of the k-NN vote (a labelled detail): its distances of every held-out track to every training
#: track cost N² × D per repeat (on paper 3 repeats × 0.8 N² products of 768-d rows: about 740 s per space at
#: 100,000 tracks on one core at 50 GFLOP/s); above it the vote runs on a
#: seeded subsample of this many tracks, in the same folds (``n_resample`` of its rows says so).
KNN_VOTE_MAX_N = 20_000

# The figures this module computes, declared once (range, name, prose; see counterpoint.ranges).
for _classifier, _title in (("probe", "logistic-regression probe"), ("knn", "k-NN (cosine)")):
    declare_measure(f"{_classifier}_accuracy", UNIT, title=f"{_title} accuracy",
                    prose=f"The {_title}'s accuracy on the held-out tracks of the one probe protocol.")
    declare_measure(f"{_classifier}_macro_f1", UNIT, title=f"{_title} macro-F1",
                    prose=f"The {_title}'s macro-F1 on the same held-out tracks.")
declare_measure("silhouette", CORRELATION, title="silhouette",   # (b − a) / max(a, b)
                prose="Silhouette of the true labels (cosine): how much closer tracks are to their own class.")


def knn_fit_predict(X: np.ndarray, labels: np.ndarray, k: int):
    """A k-nearest-neighbour vote by cosine distance (k at most the training tracks), as a protocol classifier."""
    def fit_predict(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        model = KNeighborsClassifier(n_neighbors=min(k, len(train)), metric="cosine", algorithm="brute")
        return model.fit(X[train], labels[train]).predict(X[test])
    return fit_predict


def _estimates(result: ProbeAccuracy, prefix: str, n_boot: int, seed: int, n: int) -> dict[str, Estimate]:
    """The accuracy as the protocol scored it, and the macro-F1 of the same held-out predictions; ``n``: the
    labelled tracks (more than the result's when it ran on a subsample)."""
    pairs = result.predictions[["truth", "predicted"]].to_numpy(dtype=object).astype(str)
    classes, codes = np.unique(pairs, return_inverse=True)
    codes = codes.reshape(pairs.shape)

    def macro_f1(rows: np.ndarray) -> float:
        return macro_f1_of_codes(rows[:, 0], rows[:, 1], len(classes))

    low, high = bootstrap_ci(codes, statistic=macro_f1, n_boot=n_boot, seed=seed)
    return {f"{prefix}_accuracy": Estimate(value=result.accuracy, ci_low=result.ci_low, ci_high=result.ci_high,
                                           p_value=result.p_value, n=n, n_resample=result.n,
                                           chance=result.chance, null_mean=result.null_mean),
            f"{prefix}_macro_f1": Estimate(value=macro_f1(codes), ci_low=low, ci_high=high, n=n,
                                           n_resample=len(pairs))}


def silhouette(X: np.ndarray, labels: np.ndarray, *, n_boot: int = N_BOOT, max_n: int = SILHOUETTE_MAX_N,
               seed: int = 0) -> Estimate:
    """Mean cosine silhouette of the true classes (−1…1), on at most ``max_n`` tracks."""
    sub = subsample_indices(len(X), max_n, seed)
    if not 2 <= len(np.unique(labels[sub])) <= len(sub) - 1:  # silhouette needs a class with two tracks
        return Estimate(value=float("nan"), n=len(X), n_resample=len(sub))
    with single_threaded_blas():
        per_track = silhouette_samples(np.asarray(X[sub], dtype=np.float64), labels[sub], metric="cosine")
    low, high = bootstrap_ci(per_track, n_boot=n_boot, seed=seed)
    return Estimate(value=float(per_track.mean()), ci_low=low, ci_high=high, n=len(X), n_resample=len(sub))


def label_quality(X: np.ndarray, labels: Sequence, plan: ProtocolPlan, *, ids: Sequence, k: int = 10,
                  n_boot: int = N_BOOT, n_perm: int = N_PERM, seed: int = 0,
                  max_n_knn: int = KNN_VOTE_MAX_N) -> dict[str, Estimate]:
    """Probe (logistic) and k-NN accuracy and macro-F1 on the held-out tracks of ``plan``, and the silhouette.

    ``probe_accuracy`` is :func:`counterpoint.probe_protocol.probe_accuracy` of the space; ``knn_accuracy``
    the same protocol with a k-NN vote as the classifier (a labelled detail), on at most ``max_n_knn``
    tracks (a seeded subsample in the same folds, :func:`~counterpoint.probe_protocol.restrict_plan`; its
    ``n_resample`` says how many). Macro-F1 and the silhouette have no p-value.
    """
    X = np.asarray(X)
    labels = np.asarray(labels).astype(str)
    if len(X) != len(labels):
        raise CounterpointError(f"{len(X)} embeddings but {len(labels)} labels — rows must be the same tracks")
    if len(X) < MIN_TRACKS:
        raise CounterpointError(f"label quality needs at least {MIN_TRACKS} labelled tracks, got {len(X)} — "
                                "embed more of the dataset")
    probe = probe_accuracy(X, labels, ids=ids, plan=plan, seed=seed, n_perm=n_perm, n_boot=n_boot)
    voters = subsample_indices(len(X), max_n_knn, seed)
    knn = probe_accuracy(X[voters], labels[voters], ids=np.asarray(ids)[voters], plan=restrict_plan(plan, voters),
                         seed=seed, n_perm=n_perm, n_boot=n_boot, classifier=f"k-NN (k={k}, cosine)",
                         fit_predict=knn_fit_predict(X[voters], labels[voters], k))
    return {**_estimates(knn, "knn", n_boot, seed, len(X)), **_estimates(probe, "probe", n_boot, seed, len(X)),
            "silhouette": silhouette(X, labels, n_boot=n_boot, seed=seed)}
