"""Leak-free splits of tracks into train / validation / test and cross-validation folds.

The dataset's own ``split`` column wins when every track has one. Otherwise splits are
stratified by label and grouped by a column (work, composer, drummer, session...), so that
no group ever sits on two sides: a probe that has heard one movement of a work must not be
tested on another movement of it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

from counterpoint.errors import CounterpointError
from counterpoint.labels import SPLIT_NAMES

#: The split names (:data:`counterpoint.labels.SPLIT_NAMES`), in the order they are reported.
SPLITS = SPLIT_NAMES


def _groups_or_singletons(groups: Sequence | None, n: int) -> np.ndarray:
    if groups is None:
        return np.arange(n)
    groups = np.asarray(groups, dtype=object)
    missing = np.array([g is None or g == "" or (isinstance(g, float) and np.isnan(g)) for g in groups])
    # A track without a group is its own group.
    return np.where(missing, np.array([f"__track{i}" for i in range(n)], dtype=object), groups).astype(str)


def grouped_folds(labels: Sequence, groups: Sequence | None = None, *, n_splits: int = 5,
                  seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified, grouped K-fold: a list of (train indices, test indices).

    ``n_splits`` is lowered to the number of groups of the rarest class when that is
    smaller (at least 2), so small datasets still get a valid scheme; when a class sits in
    a single group, folds are grouped but not stratified.
    """
    labels = np.asarray(labels).astype(str)
    group_ids = _groups_or_singletons(groups, len(labels))
    n_groups = len(set(group_ids))
    if n_groups < 2:
        raise CounterpointError("cross-validation needs at least two groups — check the group column")
    groups_per_class = min(len(set(group_ids[labels == c])) for c in np.unique(labels))
    if groups_per_class < 2:
        # Some class lives in a single group: stratification is impossible, grouping still holds.
        folds = GroupKFold(n_splits=max(2, min(n_splits, n_groups)), shuffle=True, random_state=seed)
    else:
        folds = StratifiedGroupKFold(n_splits=max(2, min(n_splits, groups_per_class)), shuffle=True, random_state=seed)
    return [(train, test) for train, test in folds.split(np.zeros(len(labels)), labels, group_ids)]


def assign_splits(labels: Sequence, groups: Sequence | None = None, given: Sequence | None = None,
                  *, fractions: tuple[float, float, float] = (0.7, 0.15, 0.15), seed: int = 0) -> np.ndarray:
    """One of ``train``/``validation``/``test`` per track.

    ``given`` is the dataset's split column as :func:`counterpoint.matrix.canonical_splits` reads
    it: used as it is when every entry is one of the three names. Otherwise whole groups are dealt out class by class (a group counts for its
    most frequent label): one group of every class is kept for training first, so every
    class is learnt from; then groups, in a seeded order, go to test and then to validation
    until each holds the nearest whole number of tracks to its fraction of the dataset
    (rounding carried from class to class, so small classes do not each round up; a
    shortfall where a class ran out of groups is filled from the others). Tiny
    datasets thus get the proportions asked for as closely as whole groups allow; what was
    given is :func:`describe_splits`.
    """
    labels = np.asarray(labels).astype(str)
    n = len(labels)
    if given is not None:
        given = np.asarray(given).astype(str)
        if n and np.all(np.isin(given, SPLITS)):
            return given
    if n == 0:
        return np.array([], dtype=str)
    _, test_share, validation_share = _shares(fractions)
    group_names, group_of_track = np.unique(_groups_or_singletons(groups, n), return_inverse=True)
    sizes = np.bincount(group_of_track)
    group_class = np.array([_most_frequent(labels[group_of_track == g]) for g in range(len(group_names))])
    rng = np.random.default_rng(seed)
    classes = rng.permutation(np.unique(group_class))
    order = {c: rng.permutation(np.flatnonzero(group_class == c)) for c in classes}
    side = np.full(len(group_names), "", dtype=object)
    for c in classes:
        side[order[c][0]] = "train"  # every class is in training
    for name, share in (("test", test_share), ("validation", validation_share)):
        placed, seen = 0, 0
        for c in classes:
            seen += sizes[group_class == c].sum()
            quota = int(np.floor(share * seen + 0.5)) - placed  # whole tracks, rounding carried over
            taken = 0
            for g in order[c]:
                if side[g] == "" and abs(taken + sizes[g] - quota) < abs(taken - quota):
                    side[g] = name
                    taken += sizes[g]
            placed += taken
        # Classes whose groups ran out leave a shortfall: fill it from any groups still free;
        # a group as far above the target as nothing is below it is taken when the split is empty.
        target = int(np.floor(share * n + 0.5))
        for g in (g for c in classes for g in order[c]):
            gain = abs(placed - target) - abs(placed + sizes[g] - target)
            if side[g] == "" and (gain > 0 or (gain == 0 and placed == 0 < target)):
                side[g] = name
                placed += sizes[g]
    side[side == ""] = "train"
    return side[group_of_track].astype(str)


def _shares(fractions: tuple[float, float, float]) -> tuple[float, float, float]:
    if len(fractions) != 3 or any(not np.isfinite(f) or f < 0 for f in fractions) or sum(fractions) <= 0:
        raise CounterpointError(f"split fractions {fractions}: give three non-negative numbers (train, validation, "
                                "test) with a positive sum")
    total = float(sum(fractions))
    train, validation, test = (f / total for f in fractions)
    return train, test, validation


def _most_frequent(values: np.ndarray) -> str:
    names, counts = np.unique(values, return_counts=True)
    return str(names[np.argmax(counts)])


def describe_splits(splits: Sequence) -> str:
    """What a split gives, in tracks and percent: ``"8 train / 2 validation / 2 test tracks (67/17/17 %)"``."""
    splits = np.asarray(splits).astype(str)
    counts = [int((splits == name).sum()) for name in SPLITS]
    shares = "/".join(f"{100 * c / max(1, len(splits)):.0f}" for c in counts)
    return " / ".join(f"{c} {name}" for c, name in zip(counts, SPLITS)) + f" tracks ({shares} %)"


def assert_no_leak(splits: Sequence, groups: Sequence | None) -> None:
    """Raise if a group appears in two different splits."""
    if groups is None:
        return
    sides: dict[str, set[str]] = {}
    for split, group in zip(splits, _groups_or_singletons(groups, len(splits))):
        sides.setdefault(group, set()).add(str(split))
    leaking = sorted(g for g, s in sides.items() if len(s) > 1)
    if leaking:
        raise CounterpointError(f"groups on more than one side of the split: {', '.join(leaking[:5])} — "
                                "fix the split column or choose another group column")


def majority_share(labels: Sequence) -> float:
    """The accuracy of always answering the commonest class: the chance level of every probe accuracy."""
    _, counts = np.unique(np.asarray(labels).astype(str), return_counts=True)
    return float(counts.max() / counts.sum()) if len(counts) else float("nan")


def stratified_subsample(labels: Sequence, n: int, *, seed: int = 0) -> np.ndarray:
    """Sorted indices of about ``n`` of ``labels``' rows, each class in proportion to its share and every class
    at least once (so a rare class is never lost from a drawn subsample), chosen at random with ``seed``;
    every row when there are at most ``n``."""
    labels = np.asarray(labels).astype(str)
    if len(labels) <= n:
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    _, codes, counts = np.unique(labels, return_inverse=True, return_counts=True)
    quotas = np.maximum(1, np.round(counts * (n / len(labels)))).astype(int)
    members = np.split(np.argsort(codes, kind="stable"), np.cumsum(counts)[:-1])
    chosen = [rng.choice(rows, size=min(quota, len(rows)), replace=False) for rows, quota in zip(members, quotas)]
    return np.sort(np.concatenate(chosen))
