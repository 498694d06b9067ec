"""How well does one embedding space separate the dataset's classes?

Three views of one space and one label column: a k-nearest-neighbour classifier (cosine),
a linear probe (logistic regression on standardised embeddings) — both evaluated only on
tracks whose group the model never saw — and the silhouette of the true classes.
Accuracy and macro-F1 come with bootstrap intervals over the evaluated tracks; accuracy with an
exact binomial p-value against its chance level, the majority-class share.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, silhouette_samples
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from counterpoint.analysis.statistics import Estimate, bootstrap_ci, subsample_indices
from counterpoint.blas import single_threaded_blas
from counterpoint.config import N_BOOT
from counterpoint.errors import CounterpointError
from counterpoint.significance import accuracy_p_value
from counterpoint.splits import SPLITS, assert_no_leak, grouped_folds

#: Fewest labelled tracks for which held-out accuracies mean anything.
MIN_TRACKS = 10
#: Tracks in the silhouette subsample (its cost grows with the square of the count).
SILHOUETTE_MAX_N = 5000


def evaluation_folds(labels: Sequence, groups: Sequence | None = None, given: Sequence | None = None,
                     n_splits: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train indices, test indices) pairs that never put one group on both sides.

    The dataset's own split column (``given``, as :func:`counterpoint.matrix.canonical_splits`
    reads it) wins when every track has one of train/validation/test and some are ``test``: one fold, training on train + validation. Otherwise stratified
    folds grouped by ``groups`` (:func:`counterpoint.splits.grouped_folds`), so every track
    is evaluated once by a model that never saw its group.
    """
    labels = np.asarray(labels).astype(str)
    if given is not None:
        given = np.asarray(given).astype(str)
        if len(given) and np.all(np.isin(given, SPLITS)) and np.any(given == "test"):
            assert_no_leak(np.where(given == "test", "test", "train"), groups)
            return [(np.flatnonzero(given != "test"), np.flatnonzero(given == "test"))]
    return grouped_folds(labels, groups, n_splits=n_splits, seed=seed)


def knn_classifier(k: int) -> ClassifierMixin:
    """k-nearest-neighbour vote by cosine distance."""
    return KNeighborsClassifier(n_neighbors=k, metric="cosine", algorithm="brute")


def linear_probe(seed: int = 0) -> ClassifierMixin:
    """Logistic regression (L2, C = 1) on embeddings standardised with training statistics."""
    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000, random_state=seed))


def held_out_predictions(X: np.ndarray, labels: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]],
                         make_model: Callable[[int], ClassifierMixin]) -> tuple[np.ndarray, np.ndarray]:
    """Predicted labels of every test track of ``folds`` and the indices they belong to.

    ``make_model(n_train)`` builds a fresh classifier per fold.
    """
    indices, predictions = [], []
    for train, test in folds:
        if len(np.unique(labels[train])) < 2:
            raise CounterpointError("a training fold holds only one class — use more tracks per class, or a "
                                    "group column with more groups")
        model = make_model(len(train)).fit(X[train], labels[train])
        indices.append(test)
        predictions.append(model.predict(X[test]))
    return np.concatenate(indices), np.concatenate(predictions)


def _accuracy_and_f1(truth: np.ndarray, predicted: np.ndarray, n_boot: int, seed: int,
                     prefix: str, chance: float) -> dict[str, Estimate]:
    pairs = np.stack([truth, predicted], axis=1)

    def macro_f1(rows: np.ndarray) -> float:
        # Classes of the (re)sample's truth and predictions: a class a resample happens to
        # miss entirely is not scored as a failure.
        return float(f1_score(rows[:, 0], rows[:, 1], average="macro", zero_division=0))

    def accuracy(rows: np.ndarray) -> float:
        return float(np.mean(rows[:, 0] == rows[:, 1]))

    out = {}
    for name, statistic, level in ((f"{prefix}_accuracy", accuracy, chance),
                                   (f"{prefix}_macro_f1", macro_f1, float("nan"))):
        low, high = bootstrap_ci(pairs, statistic, n_boot=n_boot, seed=seed)
        value = statistic(pairs)
        p_value = accuracy_p_value(int(np.sum(truth == predicted)), len(truth), level) if statistic is accuracy \
            else float("nan")
        out[name] = Estimate(value=value, ci_low=low, ci_high=high, p_value=p_value, n=len(truth),
                             n_resample=len(truth), chance=level)
    return out


def silhouette(X: np.ndarray, labels: np.ndarray, n_boot: int = N_BOOT, max_n: int = SILHOUETTE_MAX_N,
               seed: int = 0) -> Estimate:
    """Mean cosine silhouette of the true classes (−1…1), on at most ``max_n`` tracks."""
    sub = subsample_indices(len(X), max_n, seed)
    if not 2 <= len(np.unique(labels[sub])) <= len(sub) - 1:  # silhouette needs a class with two tracks
        return Estimate(value=float("nan"), n=len(X), n_resample=len(sub))
    with single_threaded_blas():
        per_track = silhouette_samples(np.asarray(X[sub], dtype=np.float64), labels[sub], metric="cosine")
    low, high = bootstrap_ci(per_track, n_boot=n_boot, seed=seed)
    return Estimate(value=float(per_track.mean()), ci_low=low, ci_high=high, n=len(X), n_resample=len(sub))


def label_quality(X: np.ndarray, labels: Sequence, folds: list[tuple[np.ndarray, np.ndarray]], k: int = 10,
                  n_boot: int = N_BOOT, seed: int = 0) -> dict[str, Estimate]:
    """k-NN and linear-probe accuracy and macro-F1 on held-out tracks, and the silhouette.

    ``chance`` of an accuracy is the majority-class rate of the evaluated tracks, and its
    ``p_value`` the exact binomial test of the correct count against it
    (:func:`counterpoint.significance.accuracy_p_value`); macro-F1 and the silhouette have none.
    """
    X = np.asarray(X)
    labels = np.asarray(labels).astype(str)
    if len(X) != len(labels):
        raise CounterpointError(f"{len(X)} embeddings but {len(labels)} labels — rows must be the same tracks")
    if len(X) < MIN_TRACKS:
        raise CounterpointError(f"label quality needs at least {MIN_TRACKS} labelled tracks, got {len(X)} — "
                                "embed more of the dataset")
    out: dict[str, Estimate] = {}
    for prefix, make_model in (("knn", lambda n_train: knn_classifier(min(k, n_train))),
                               ("probe", lambda n_train: linear_probe(seed))):
        rows, predicted = held_out_predictions(X, labels, folds, make_model)
        truth = labels[rows]
        majority = float(np.max(np.unique(truth, return_counts=True)[1]) / len(truth))
        out.update(_accuracy_and_f1(truth, predicted, n_boot, seed, prefix, majority))
    out["silhouette"] = silhouette(X, labels, n_boot=n_boot, seed=seed)
    return out
