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

SPLITS = ("train", "validation", "test")


def _groups_or_singletons(groups: Sequence | None, n: int) -> np.ndarray:
    if groups is None:
        return np.arange(n)
    groups = np.asarray(groups, dtype=object)
    missing = np.array([g is None or g == "" or (isinstance(g, float) and np.isnan(g)) for g in groups])
    # A track without a group is its own group.
    return np.where(missing, np.array([f"__track{i}" for i in range(n)], dtype=object), groups).astype(str)


def grouped_folds(labels: Sequence, groups: Sequence | None = None, n_splits: int = 5,
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
                  fractions: tuple[float, float, float] = (0.7, 0.15, 0.15), seed: int = 0) -> np.ndarray:
    """One of ``train``/``validation``/``test`` per track.

    ``given`` is the dataset's split column: used as it is when every entry is one of the
    three names. Otherwise a test part and then a validation part are cut off by stratified
    grouped folds of about the requested fractions.
    """
    labels = np.asarray(labels).astype(str)
    n = len(labels)
    if given is not None:
        given = np.asarray(["" if g is None else str(g).strip().lower() for g in given])
        if n and np.all(np.isin(given, SPLITS)):
            return given
    group_ids = _groups_or_singletons(groups, n)
    train_frac, val_frac, test_frac = (f / sum(fractions) for f in fractions)
    splits = np.full(n, "train", dtype=object)

    def cut(indices: np.ndarray, fraction: float, name: str, fold_seed: int) -> None:
        if fraction <= 0 or len(set(group_ids[indices])) < 2:
            return
        n_splits = max(2, int(round(1 / fraction)))
        folds = grouped_folds(labels[indices], group_ids[indices], n_splits=n_splits, seed=fold_seed)
        _, held = folds[0]
        splits[indices[held]] = name

    cut(np.arange(n), test_frac, "test", seed)
    remaining = np.flatnonzero(splits == "train")
    cut(remaining, val_frac / (train_frac + val_frac), "validation", seed + 1)
    return splits.astype(str)


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
