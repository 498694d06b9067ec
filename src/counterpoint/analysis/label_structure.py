"""Verdict (b): do the audio and the score organise the label the same way?

Verdict (a) asks whether each space knows the label (its probe accuracy). Two spaces can both
know it and still arrange it differently — one tells folk reels from jigs by tempo, the other
by mode — and two spaces can agree track by track (CKA, RSA: verdict (c)) while the label is a
minor part of what they share. Four figures compare the spaces *through the label*, each with a
95 % interval, a null and a one-sided p-value:

* **centroid agreement**: Spearman correlation of the two spaces' class-centroid cosine-distance
  matrices (which classes lie close to which). Null: class names of one space permuted (exact
  up to :data:`EXACT_CLASS_PERMUTATIONS` classes); interval: tracks bootstrapped within classes.
* **label transfer**, both ways: a classifier trained on one space's training-fold embeddings
  labels the other space's held-out embeddings, carried into its space by a ridge map fitted on
  the same training folds (the folds of the one probe protocol, so (a) and (b) see the same
  splits; map and classifier cross-fitted on the two halves of each training fold). Chance: the majority-class share. Null: the map fitted on randomly re-paired training
  tracks (a map that carries nothing of the pairing); interval: held-out tracks bootstrapped.
* **error agreement**: Cohen's kappa of the two spaces' per-track correctness (from their
  out-of-fold probe predictions): 0 when they fail on unrelated tracks, 1 when on the same ones.
  Null: the tracks of one side permuted; interval: tracks bootstrapped.
* **confusion similarity**: Pearson correlation of the off-diagonal cells of the two row-normalised
  confusion matrices (which classes each space mistakes for which). Needs 3 classes. Null and
  interval as for error agreement.

Every function takes arrays and returns an :class:`~counterpoint.analysis.statistics.Estimate`;
:func:`leave_one_out` says which tracks move a figure most. The store-level driver is
:func:`pair_label_structure` (called per pair by :func:`counterpoint.analysis.compare.run_compare`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.spatial.distance import pdist, squareform
from scipy.stats import spearmanr

from counterpoint.analysis.statistics import (Estimate, bootstrap_indices, percentile_interval,
                                              permutation_p_value)
from counterpoint.blas import single_threaded_blas
from counterpoint.config import N_BOOT
from counterpoint.errors import CounterpointError
from counterpoint.ranges import CORRELATION, UNIT, declare_measure
from counterpoint.splits import majority_share

#: Up to this many classes the centroid test runs over every relabelling (6! = 720).
EXACT_CLASS_PERMUTATIONS = 6
#: The ridge strength of label transfer when the retrieval chose none (standardised features).
DEFAULT_TRANSFER_ALPHA = 100.0
#: How many tracks :func:`leave_one_out` lists per figure.
INFLUENTIAL_TRACKS = 3
#: Most paired tracks verdict (b) runs on: above it, a label-stratified seeded subsample of this size in the probe
#: protocol's folds restricted to it (:func:`counterpoint.probe_protocol.restrict_plan`). Label transfer refits its
#: maps and classifiers on every fold and scores every permutation of its null on every held-out track, and
#: centroid agreement's influence leaves out each track in turn (tracks²).
LABEL_STRUCTURE_MAX_N = 3000

# The figures this module computes, declared once (range, name, prose; see counterpoint.ranges).
declare_measure("centroid_agreement", CORRELATION, title="centroid agreement",
                prose="Centroid agreement: the Spearman correlation of the class-centroid distances (null: class "
                      "names permuted).")
declare_measure("label_transfer", UNIT, title="label transfer",
                prose="Label transfer A→B: A's held-out tracks, carried into B's space by a ridge map fitted on the "
                      "training folds, labelled by B's classifier (null: the map fitted on re-paired tracks).")
declare_measure("error_agreement", CORRELATION, title="error agreement (κ)",
                prose="Error agreement: Cohen's κ of the two probes' per-track correctness (null: one side's tracks "
                      "permuted).")
declare_measure("confusion_similarity", CORRELATION, title="confusion similarity",
                prose="Confusion similarity: the Pearson correlation of the two probes' off-diagonal confusions "
                      "(null: one side's tracks permuted).")


def _upper(matrix: np.ndarray) -> np.ndarray:
    return matrix[np.triu_indices(len(matrix), k=1)]


# --------------------------------------------------------------------------------------
# Centroid agreement


def class_centroid_distances(X: np.ndarray, membership: np.ndarray) -> np.ndarray:
    """Condensed cosine distances between class centroids, features centred on the mean track.

    ``membership`` ``[C, N]`` holds how often each track counts in each class (0/1 for the
    data itself, bootstrap counts for a resample), so resampling never copies ``X``.
    """
    sizes = membership.sum(1, keepdims=True)
    centroids = membership @ X / sizes
    centre = membership.sum(0) @ X / sizes.sum()
    return pdist(centroids - centre, "cosine")


def _class_codes(labels: Sequence) -> tuple[np.ndarray, np.ndarray]:
    return np.unique(np.asarray(labels).astype(str), return_inverse=True)


def _membership(codes: np.ndarray, n_classes: int) -> np.ndarray:
    return (codes[None, :] == np.arange(n_classes)[:, None]).astype(np.float64)


def _centroid_value(X: np.ndarray, Y: np.ndarray, membership: np.ndarray) -> float:
    return float(spearmanr(class_centroid_distances(X, membership), class_centroid_distances(Y, membership)).statistic)


def centroid_agreement(X: np.ndarray, Y: np.ndarray, labels: np.ndarray, *, n_boot: int = N_BOOT,
                       n_perm: int = 999, seed: int = 0) -> Estimate:
    """Spearman correlation of the two spaces' class-centroid distance matrices.

    Needs at least 3 classes (3 distances). The p-value permutes class names of one matrix
    (every permutation up to :data:`EXACT_CLASS_PERMUTATIONS` classes, an exact test); the
    interval bootstraps tracks within each class. ``n_resample`` is the number of classes;
    ``chance`` is 0 (no relation between the two geometries).
    """
    X, Y = _paired(X, Y)
    classes, codes = _class_codes(labels)
    if len(classes) < 3:
        return Estimate(value=float("nan"), n=len(X), n_resample=len(classes))
    with single_threaded_blas():
        membership = _membership(codes, len(classes))
        dx = class_centroid_distances(X, membership)
        dy_square = squareform(class_centroid_distances(Y, membership))
        value = float(spearmanr(dx, _upper(dy_square)).statistic)

        exact = len(classes) <= EXACT_CLASS_PERMUTATIONS
        if exact:
            perms = (np.array(p) for p in itertools.permutations(range(len(classes))))
        else:
            rng = np.random.default_rng(seed + 1)
            perms = (rng.permutation(len(classes)) for _ in range(n_perm))
        null = np.array([spearmanr(dx, _upper(dy_square[np.ix_(p, p)])).statistic for p in perms])
        # An exact test counts the identity among the permutations; a sampled one adds it. Without a
        # value (a space whose centroids coincide) there is nothing to test: NaN, never 0.
        finite_null = null[np.isfinite(null)]
        if not exact:
            p_value = permutation_p_value(value, null)
        elif np.isfinite(value) and finite_null.size:
            p_value = float(np.mean(finite_null >= value - 1e-12))
        else:
            p_value = float("nan")

        members = [np.flatnonzero(codes == c) for c in range(len(classes))]
        rng = np.random.default_rng(seed + 2)
        boot = []
        for _ in range(n_boot):
            counts = np.zeros_like(membership)
            for c, rows in enumerate(members):
                counts[c] = np.bincount(rng.choice(rows, size=len(rows)), minlength=len(X))
            boot.append(_centroid_value(X, Y, counts))
    low, high = percentile_interval(np.array(boot))
    return Estimate(value=value, ci_low=low, ci_high=high, p_value=p_value, n=len(X), n_resample=len(classes),
                    chance=0.0, null_mean=float(np.nanmean(null)) if np.isfinite(null).any() else float("nan"))


def centroid_agreement_without_each(X: np.ndarray, Y: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``[N]``: centroid agreement with track i left out (NaN where that empties a class)."""
    X, Y = _paired(X, Y)
    classes, codes = _class_codes(labels)
    if len(classes) < 3:
        return np.full(len(X), np.nan)
    membership = _membership(codes, len(classes))
    sizes = membership.sum(1)
    out = np.full(len(X), np.nan)
    with single_threaded_blas():
        for i in range(len(X)):
            if sizes[codes[i]] > 1:
                membership[codes[i], i] = 0.0
                out[i] = _centroid_value(X, Y, membership)
                membership[codes[i], i] = 1.0
    return out


def _paired(X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X, Y = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64)
    if X.ndim != 2 or Y.ndim != 2 or len(X) != len(Y):
        raise CounterpointError(f"expected two [tracks, dims] matrices of the same tracks, got shapes {X.shape} and "
                                f"{Y.shape} — match the rows by track id first")
    return X, Y


# --------------------------------------------------------------------------------------
# Label transfer


@dataclass(frozen=True)
class TransferOutcome:
    """Label transfer in one direction: its figure and each held-out (track, repeat)'s correctness."""

    estimate: Estimate
    correct: np.ndarray        # [N, repeats]: 1 right, 0 wrong, NaN not held out in that repeat
    null: np.ndarray           # [n_perm] accuracies of maps fitted on re-paired training tracks


def _standardiser(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    std = rows.std(0)
    return rows.mean(0), np.where(std > 1e-12, std, 1.0)


def _ridge_operator(source_train: np.ndarray, source_test: np.ndarray, alpha: float) -> np.ndarray:
    """``M`` ``[n_test, n_train]`` with ``source_test @ W = M @ target_train`` for the ridge map ``W`` fitted
    from ``source_train`` onto any ``target_train`` (ridge is linear in its targets). Dual form when the
    training rows are fewer than the dimensions."""
    n, d = source_train.shape
    if n < d:
        gram = source_train @ source_train.T
        return (source_test @ source_train.T) @ np.linalg.solve(gram + alpha * np.eye(n), np.eye(n))
    return source_test @ np.linalg.solve(source_train.T @ source_train + alpha * np.eye(d), source_train.T)


def _ridge_factor(source_train: np.ndarray, alpha: float) -> np.ndarray:
    """``B`` ``[d, n_train]`` with ``x @ W = x @ B @ target_train`` for the ridge map ``W`` fitted from
    ``source_train`` onto any ``target_train``: :func:`_ridge_operator` without its test rows."""
    n, d = source_train.shape
    if n < d:
        return source_train.T @ np.linalg.solve(source_train @ source_train.T + alpha * np.eye(n), np.eye(n))
    return np.linalg.solve(source_train.T @ source_train + alpha * np.eye(d), source_train.T)


@dataclass(frozen=True)
class _CarriedScores:
    """One half's share of the classifier's scores of the carried test rows, ``carry(projected) + c``:
    ``projected`` [n_train, classes] (or ``[draws, n_train, classes]``, re-paired) is the classifier's
    projection of the map's training targets.

    Carried through ``M = source_test @ B`` (``[n_test, n_train]``) when that is the cheaper product, else
    through ``B`` first (``[d, n_train]``): per class and draw ``n_test·n_train`` against
    ``d·(n_test + n_train)`` multiply-adds, so large folds never hold a test × train matrix.
    """

    source_test: np.ndarray
    factor: np.ndarray          # B, or M when ``through_tracks``
    through_tracks: bool
    projected: np.ndarray
    intercept: np.ndarray

    @classmethod
    def fit(cls, source_train: np.ndarray, source_test: np.ndarray, alpha: float, projected: np.ndarray,
            intercept: np.ndarray) -> "_CarriedScores":
        n_test, (n_train, d) = len(source_test), source_train.shape
        if n_test * n_train <= d * (n_test + n_train):
            return cls(source_test, _ridge_operator(source_train, source_test, alpha), True, projected, intercept)
        return cls(source_test, _ridge_factor(source_train, alpha), False, projected, intercept)

    def scores(self, projected: np.ndarray | None = None) -> np.ndarray:
        """``[n_test, classes]`` scores for the fitted pairing (``projected`` None) or ``[draws, n_test, classes]``
        for re-paired ``projected`` ``[draws, n_train, classes]``."""
        projected = self.projected if projected is None else projected
        if self.through_tracks:
            return np.matmul(self.factor, projected) + self.intercept
        return np.matmul(self.source_test, np.matmul(self.factor, projected)) + self.intercept


def _linear_classifier(target_train: np.ndarray, labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray,
                                                                                           np.ndarray]:
    """The probe protocol's classifier (logistic regression on standardised features) fitted on
    ``target_train``, as one affine map: scores = Z @ G + c, and the class of each score column."""
    from counterpoint.probe_protocol import logistic_classifier

    model = logistic_classifier(seed).fit(target_train, labels)
    scaler, logistic = model[0], model[-1]
    coef = logistic.coef_ / scaler.scale_[None, :]
    intercept = logistic.intercept_ - coef @ scaler.mean_
    if coef.shape[0] == 1:   # two classes: one score, > 0 for the second class
        coef, intercept = np.vstack([-coef, coef]) / 2, np.array([-intercept[0], intercept[0]]) / 2
    return coef.T, intercept, logistic.classes_


def _halves(labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two halves of ``range(len(labels))``, each class dealt alternately (after a seeded shuffle)."""
    order = rng.permutation(len(labels))
    order = order[np.argsort(labels[order], kind="stable")]
    return np.sort(order[0::2]), np.sort(order[1::2])


def label_transfer(source: np.ndarray, target: np.ndarray, labels: Sequence, *,
                   folds: Sequence[tuple[np.ndarray, np.ndarray]], repeat_of_fold: Sequence[int] | None = None,
                   alpha: float = DEFAULT_TRANSFER_ALPHA, n_boot: int = N_BOOT, n_perm: int = 999,
                   seed: int = 0) -> TransferOutcome:
    """Accuracy of a classifier trained on ``target``'s training rows, labelling ``source``'s held-out
    rows carried into ``target``'s space by a ridge map (strength ``alpha``) fitted on training rows;
    over every fold (``repeat_of_fold[i]``: the repeat fold i belongs to, each track held out once per
    repeat). Both spaces are standardised with training statistics.

    The map and the classifier are fitted on different halves of the training rows and then swapped,
    their scores summed (cross-fitting): a carried track is a blend of the map's training targets, and a
    classifier that had memorised those very rows would label it through the source space alone, even in
    a target space that knows nothing of the label.

    Null: the maps fitted on a random re-pairing of their training rows (the classifiers stay), ``n_perm``
    times; the whole chain is linear, so a null draw costs one ``[n_test, n_half] × [n_half, classes]``
    product per half and fold, or, where it is cheaper (large folds), ``[d, n_half] × [n_half, classes]``
    and ``[n_test, d] × [d, classes]``. Interval: per-track accuracies (mean over repeats) bootstrapped. Chance:
    the majority-class share.
    """
    source, target = _paired(source, target)
    labels = np.asarray(labels).astype(str)
    repeats = np.zeros(len(folds), dtype=int) if repeat_of_fold is None else np.asarray(repeat_of_fold, dtype=int)
    n_repeats = int(repeats.max()) + 1 if len(repeats) else 0
    correct = np.full((len(labels), n_repeats), np.nan)
    rng = np.random.default_rng(seed + 1)
    null_hits = np.zeros(n_perm)
    n_held = 0
    with single_threaded_blas():
        for (train, test), repeat in zip(folds, repeats):
            train, test = np.asarray(train), np.asarray(test)
            source_stats, target_stats = _standardiser(source[train]), _standardiser(target[train])
            source_train = (source[train] - source_stats[0]) / source_stats[1]
            source_test = (source[test] - source_stats[0]) / source_stats[1]
            target_train = (target[train] - target_stats[0]) / target_stats[1]
            first, second = _halves(labels[train], rng)
            parts, classes = [], None
            for mapped, classified in ((first, second), (second, first)):
                if len(np.unique(labels[train][classified])) < 2:
                    raise CounterpointError("label transfer: half a training fold holds one class only — it needs "
                                            "at least two tracks of each of two classes in every training fold "
                                            "(use more tracks per class)")
                G, c, classes = _linear_classifier(target_train[classified], labels[train][classified], seed)
                parts.append(_CarriedScores.fit(source_train[mapped], source_test, alpha, target_train[mapped] @ G, c))
            truth_codes = np.searchsorted(classes, labels[test])
            known = np.isin(labels[test], classes)
            truth_codes = np.where(known, truth_codes, -1)     # a class no classifier saw is always wrong
            scores = sum(part.scores() for part in parts)
            correct[test, repeat] = np.argmax(scores, axis=1) == truth_codes
            for start in range(0, n_perm, 64):
                draws = min(64, n_perm - start)
                scores = 0.0
                for part in parts:
                    shuffled = part.projected[np.argsort(rng.random((draws, len(part.projected))), axis=1)]  # [draws, n, C]
                    scores = scores + part.scores(shuffled)    # [draws, n_test, classes]
                null_hits[start:start + draws] += np.sum(np.argmax(scores, axis=2) == truth_codes, axis=1)
            n_held += len(test)
    value = float(np.nanmean(correct)) if n_held else float("nan")
    per_track = np.nanmean(correct, axis=1) if n_repeats else np.zeros(0)
    per_track = per_track[np.isfinite(per_track)]
    boot = per_track[bootstrap_indices(len(per_track), n_boot, seed + 2)].mean(1) if len(per_track) else np.zeros(0)
    low, high = percentile_interval(boot)
    null = null_hits / n_held if n_held else np.zeros(0)
    estimate = Estimate(value=value, ci_low=low, ci_high=high, p_value=permutation_p_value(value, null),
                        n=len(per_track), n_resample=len(per_track), chance=majority_share(labels),
                        null_mean=float(null.mean()) if null.size else float("nan"))
    return TransferOutcome(estimate, correct, null)


def transfer_without_each(correct: np.ndarray) -> np.ndarray:
    """``[N]``: label-transfer accuracy with track i's held-out predictions left out (maps not refitted:
    the influence of a track on the evaluation)."""
    hits, counts = np.nansum(correct, axis=1), np.sum(np.isfinite(correct), axis=1)
    total, held = hits.sum(), counts.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, (total - hits) / np.maximum(held - counts, 1), np.nan)


# --------------------------------------------------------------------------------------
# Error agreement and confusion similarity (from out-of-fold predictions)


def cohen_kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa of two 0/1 indicators (NaN cells ignored): ``(p_o − p_e) / (1 − p_e)``, with
    ``p_e = p_a p_b + (1 − p_a)(1 − p_b)`` what independent indicators of those rates agree on.
    NaN when one indicator is constant (then independence predicts every agreement)."""
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep].astype(np.float64), b[keep].astype(np.float64)
    if not a.size:
        return float("nan")
    pa, pb = a.mean(), b.mean()
    expected = pa * pb + (1 - pa) * (1 - pb)
    if expected >= 1 - 1e-12:
        return float("nan")
    observed = np.count_nonzero(a == b) / a.size        # the share of tracks on which the two agree
    return float((observed - expected) / (1 - expected))


def error_agreement(correct_a: np.ndarray, correct_b: np.ndarray, *, n_boot: int = N_BOOT, n_perm: int = 999,
                    seed: int = 0) -> Estimate:
    """Do the two spaces' probes fail on the same tracks? Cohen's kappa of their per-track correctness.

    ``correct_a``, ``correct_b``: ``[N, repeats]`` (1 right, 0 wrong, NaN not held out), rows the same
    tracks, columns the same repeats of the same folds. Null: the rows of ``correct_b`` permuted;
    interval: tracks bootstrapped. Chance: 0 (failures unrelated).
    """
    a, b = np.atleast_2d(np.asarray(correct_a, float).T).T, np.atleast_2d(np.asarray(correct_b, float).T).T
    value = cohen_kappa(a.ravel(), b.ravel())
    rng = np.random.default_rng(seed + 1)
    null = np.array([cohen_kappa(a.ravel(), b[rng.permutation(len(b))].ravel()) for _ in range(n_perm)])
    boot = np.array([cohen_kappa(a[rows].ravel(), b[rows].ravel()) for rows in bootstrap_indices(len(a), n_boot, seed + 2)])
    low, high = percentile_interval(boot)
    return Estimate(value=value, ci_low=low, ci_high=high, p_value=permutation_p_value(value, null), n=len(a),
                    n_resample=len(a), chance=0.0,
                    null_mean=float(np.nanmean(null)) if np.isfinite(null).any() else float("nan"))


def error_agreement_without_each(correct_a: np.ndarray, correct_b: np.ndarray) -> np.ndarray:
    """``[N]``: error agreement with track i left out."""
    a, b = np.asarray(correct_a, float), np.asarray(correct_b, float)
    keep = np.ones(len(a), dtype=bool)
    out = np.empty(len(a))
    for i in range(len(a)):
        keep[i] = False
        out[i] = cohen_kappa(a[keep].ravel(), b[keep].ravel())
        keep[i] = True
    return out


def _off_diagonal_confusion(truth: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """The off-diagonal cells of the row-normalised confusion matrix (codes; −1 = not held out)."""
    held = predicted >= 0
    counts = np.bincount(truth[held] * n_classes + predicted[held], minlength=n_classes * n_classes)
    matrix = counts.reshape(n_classes, n_classes).astype(np.float64)
    totals = matrix.sum(1, keepdims=True)
    matrix = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    return matrix[~np.eye(n_classes, dtype=bool)]


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    denominator = np.sqrt((a @ a) * (b @ b))
    return float(np.clip(a @ b / denominator, -1.0, 1.0)) if denominator > 0 else float("nan")


def _codes_of(truth: np.ndarray, predicted_a: np.ndarray, predicted_b: np.ndarray) -> tuple[np.ndarray, ...]:
    truth = np.asarray(truth).astype(str)
    classes = np.unique(truth)
    index = {name: i for i, name in enumerate(classes)}

    def code(values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=object)
        return np.vectorize(lambda v: -1 if v is None or v == "" or (isinstance(v, float) and np.isnan(v))
                            else index.get(str(v), -1), otypes=[int])(values) if values.size else values.astype(int)

    return classes, np.array([index[t] for t in truth]), code(predicted_a), code(predicted_b)


def confusion_similarity(truth: np.ndarray, predicted_a: np.ndarray, predicted_b: np.ndarray, *, n_boot: int = N_BOOT,
                         n_perm: int = 999, seed: int = 0) -> Estimate:
    """Do the two spaces mistake the same classes for each other? Pearson correlation of the off-diagonal
    cells of their row-normalised confusion matrices.

    ``truth`` ``[N]``; ``predicted_a``, ``predicted_b`` ``[N, repeats]`` (None or "" where a track was not
    held out). Needs 3 classes (6 off-diagonal cells). Null: the rows of ``predicted_b`` permuted (its
    predictions given to other tracks); interval: tracks bootstrapped. Chance: 0.
    """
    classes, t, a, b = _codes_of(truth, predicted_a, predicted_b)
    a, b = a.reshape(len(t), -1), b.reshape(len(t), -1)
    if len(classes) < 3:
        return Estimate(value=float("nan"), n=len(t), n_resample=len(t))
    c = len(classes)
    truths = np.repeat(t[:, None], a.shape[1], axis=1)

    def value_of(rows_a: np.ndarray, rows_b: np.ndarray) -> float:
        return _correlation(_off_diagonal_confusion(truths[rows_a].ravel(), a[rows_a].ravel(), c),
                            _off_diagonal_confusion(truths[rows_b].ravel(), b[rows_b].ravel(), c))

    everything = np.arange(len(t))
    value = value_of(everything, everything)
    rng = np.random.default_rng(seed + 1)
    null = []
    for _ in range(n_perm):   # b's predictions moved to other tracks: compare with the truths of those
        perm = rng.permutation(len(t))
        null.append(_correlation(_off_diagonal_confusion(truths.ravel(), a.ravel(), c),
                                 _off_diagonal_confusion(truths.ravel(), b[perm].ravel(), c)))
    null = np.array(null)
    boot = np.array([value_of(rows, rows) for rows in bootstrap_indices(len(t), n_boot, seed + 2)])
    low, high = percentile_interval(boot)
    return Estimate(value=value, ci_low=low, ci_high=high, p_value=permutation_p_value(value, null), n=len(t),
                    n_resample=len(t), chance=0.0,
                    null_mean=float(np.nanmean(null)) if np.isfinite(null).any() else float("nan"))


def confusion_similarity_without_each(truth: np.ndarray, predicted_a: np.ndarray, predicted_b: np.ndarray) -> np.ndarray:
    """``[N]``: confusion similarity with track i left out."""
    classes, t, a, b = _codes_of(truth, predicted_a, predicted_b)
    a, b = a.reshape(len(t), -1), b.reshape(len(t), -1)
    if len(classes) < 3:
        return np.full(len(t), np.nan)
    truths = np.repeat(t[:, None], a.shape[1], axis=1)
    keep = np.ones(len(t), dtype=bool)
    out = np.empty(len(t))
    for i in range(len(t)):
        keep[i] = False
        out[i] = _correlation(_off_diagonal_confusion(truths[keep].ravel(), a[keep].ravel(), len(classes)),
                              _off_diagonal_confusion(truths[keep].ravel(), b[keep].ravel(), len(classes)))
        keep[i] = True
    return out


# --------------------------------------------------------------------------------------
# Influence


INFLUENCE_COLUMNS = ["audio", "symbolic", "measure", "direction", "rank", "id", "value", "value_without", "change"]


def leave_one_out(value: float, without_each: np.ndarray, ids: Sequence, *, k: int = INFLUENTIAL_TRACKS,
                  **keys: object) -> list[dict]:
    """The ``k`` tracks whose removal moves a figure most: one row each (``keys`` first, then rank, id,
    the figure, the figure without the track, and the change), largest absolute change first."""
    without_each = np.asarray(without_each, dtype=np.float64)
    change = without_each - value
    order = [i for i in np.argsort(-np.abs(np.nan_to_num(change, nan=-np.inf)), kind="stable")
             if np.isfinite(change[i])][:k]
    return [{**keys, "rank": rank + 1, "id": str(ids[i]), "value": float(value),
             "value_without": float(without_each[i]), "change": float(change[i])} for rank, i in enumerate(order)]


# --------------------------------------------------------------------------------------
# One pair


@dataclass
class LabelStructure:
    """Verdict (b) of one audio × symbolic pair: table rows (one per figure) and the most influential tracks."""

    rows: list[dict]
    influence: list[dict] = field(default_factory=list)


def predictions_matrix(predictions: pd.DataFrame, ids: Sequence, column: str) -> np.ndarray:
    """``[N, repeats]`` of ``column`` of a probe's out-of-fold predictions (one row per held-out
    (id, repeat)), rows in the order of ``ids``; NaN (or None) where a track was not held out."""
    table = predictions.pivot_table(index="id", columns="repeat", values=column, aggfunc="first")
    table.index = table.index.astype(str)
    return table.reindex([str(i) for i in ids]).to_numpy()


def pair_label_structure(audio: np.ndarray, symbolic: np.ndarray, labels: Sequence, *, ids: Sequence,
                         folds: Sequence[tuple[np.ndarray, np.ndarray]], repeat_of_fold: Sequence[int],
                         predictions: tuple[pd.DataFrame, pd.DataFrame], alphas: dict[str, float] | None = None,
                         n_boot: int = N_BOOT, n_perm: int = 999, seed: int = 0) -> LabelStructure:
    """Every figure of verdict (b) for one pair of paired matrices, and each figure's most influential tracks.

    ``folds`` / ``repeat_of_fold``: the probe protocol's folds of these rows; ``predictions``: the audio
    and the symbolic probe's out-of-fold predictions on them (columns ``id``, ``truth``, ``predicted``,
    ``correct``, ``repeat``); ``alphas``: the ridge strength per direction (``"audio→symbolic"``: audio
    carried into the symbolic space), as the retrieval chose it.
    """
    labels = np.asarray(labels).astype(str)
    ids = np.asarray(ids).astype(str)
    alphas = alphas or {}
    rows, influence = [], []

    def add(measure: str, direction: str, estimate: Estimate, without: Callable[[], np.ndarray]) -> None:
        rows.append({"family": "label_structure", "measure": measure, "method": "ridge" if direction else "",
                     "direction": direction, **estimate.as_dict()})
        if np.isfinite(estimate.value):
            influence.extend(leave_one_out(estimate.value, without(), ids, measure=measure, direction=direction))

    estimate = centroid_agreement(audio, symbolic, labels, n_boot=n_boot, n_perm=n_perm, seed=seed)
    add("centroid_agreement", "", estimate, lambda: centroid_agreement_without_each(audio, symbolic, labels))
    for direction, source, target in (("audio→symbolic", audio, symbolic), ("symbolic→audio", symbolic, audio)):
        outcome = label_transfer(source, target, labels, folds=folds, repeat_of_fold=repeat_of_fold,
                                 alpha=alphas.get(direction, DEFAULT_TRANSFER_ALPHA), n_boot=n_boot, n_perm=n_perm,
                                 seed=seed)
        add("label_transfer", direction, outcome.estimate, lambda: transfer_without_each(outcome.correct))
    correct_a, correct_b = (predictions_matrix(p, ids, "correct").astype(float) for p in predictions)
    add("error_agreement", "", error_agreement(correct_a, correct_b, n_boot=n_boot, n_perm=n_perm, seed=seed),
        lambda: error_agreement_without_each(correct_a, correct_b))
    predicted_a, predicted_b = (predictions_matrix(p, ids, "predicted") for p in predictions)
    add("confusion_similarity", "", confusion_similarity(labels, predicted_a, predicted_b, n_boot=n_boot,
                                                         n_perm=n_perm, seed=seed),
        lambda: confusion_similarity_without_each(labels, predicted_a, predicted_b))
    return LabelStructure(rows, influence)
