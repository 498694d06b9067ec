"""The one probe protocol: how every probe accuracy Counterpoint shows is computed.

A probe accuracy answers "does this embedding space know the label?": the share of held-out
tracks a classifier trained on the other tracks labels correctly. It has one definition,
:func:`probe_accuracy`, and every table, report page, terminal line and JSON field that shows a
probe accuracy reads it. Other protocols (one given-split run of a trained probe, a k-NN vote)
appear only as labelled details.

The protocol (:func:`plan_protocol`):

* **the given split** when the dataset has one (every track train/validation/test) and it is
  large enough: its test part holds at least :data:`MIN_GIVEN_TEST_PER_CLASS` tracks of every
  class. The classifier is trained on train + validation and evaluated once on test. Below
  that, one track moves a class's recall by 20 points or more, so the split is not used;
* otherwise **repeated grouped stratified k-fold cross-validation**
  (:func:`counterpoint.splits.grouped_folds`, ``n_splits`` folds, ``n_repeats`` shuffles with
  seeds ``seed … seed + n_repeats − 1``): no group ever on both sides, every track evaluated once
  per repeat by a model that never saw its group.

The figures of :class:`ProbeAccuracy`:

* ``accuracy``: the share of correct held-out predictions over all (track, repeat) pairs;
* ``ci_low``/``ci_high``: 95 % percentile bootstrap interval, resampling tracks (each track with
  its predictions of every repeat, so repeats of one track are never counted as independent);
* ``chance``: the majority-class share of the evaluated tracks (always answering the commonest class);
* ``null_mean`` and ``p_value``: the label-permutation null, one rule for every classifier — the
  held-out truth is permuted across tracks (one permutation per draw, the same for every repeat)
  against the fixed out-of-fold predictions, and the accuracy recomputed. Nothing is retrained,
  so it costs the same for a logistic regression and for an attention probe; it tests whether the
  predictions carry information about the truth. ``p = (1 + #{null ≥ observed}) / (n_perm + 1)``.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from counterpoint.blas import single_threaded_blas
from counterpoint.config import N_BOOT
from counterpoint.errors import CounterpointError
from counterpoint.splits import SPLITS, assert_no_leak, grouped_folds, majority_share

#: Fewest test tracks of every class for the dataset's given split to be the protocol.
MIN_GIVEN_TEST_PER_CLASS = 5
#: Fewest tracks of a class in a fold's training part, a test split, or the evaluated tracks
#: before a guard note says the figure rests on too few of them.
MIN_TRACKS_PER_CLASS = 3
#: Folds and repeats of the cross-validation (logistic regression, k-NN).
N_SPLITS = 5
N_REPEATS = 3
#: Repeats for trained (torch) probes: each fold is a full training run.
TRAINED_PROBE_REPEATS = 1
#: Label permutations of the null (enough for Holm over ten encoders at 0.05).
N_PERM = 1999
#: The default classifier's name.
LOGISTIC = "logistic"

Folds = list[tuple[np.ndarray, np.ndarray]]
#: ``fit_predict(train_rows, test_rows) -> predicted labels of test_rows``.
FitPredict = Callable[[np.ndarray, np.ndarray], Sequence]


@dataclass(frozen=True)
class ProtocolPlan:
    """Which protocol is used and why, its folds, and the guards' notes."""

    kind: str                               # "cv", "given", or "saved" (a saved probe scored on new tracks)
    description: str
    reason: str
    folds: Folds                            # (train rows, test rows); for cv n_repeats × k folds
    repeat_of_fold: np.ndarray
    notes: list[str] = field(default_factory=list)

    @property
    def n_repeats(self) -> int:
        return int(self.repeat_of_fold.max()) + 1 if len(self.repeat_of_fold) else 0

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "description": self.description, "reason": self.reason,
                "n_folds": len(self.folds), "n_repeats": self.n_repeats, "notes": list(self.notes)}


def restrict_plan(plan: ProtocolPlan, rows: np.ndarray) -> ProtocolPlan:
    """``plan`` on the tracks ``rows`` only (sorted, distinct indices into its tracks): each fold keeps its
    tracks among ``rows``, renumbered as positions in ``rows``, so no group crosses a fold (a fold left without
    test tracks is dropped); ``plan`` itself when ``rows`` are all its tracks."""
    rows = np.asarray(rows, dtype=int)
    n_tracks = max((int(part.max()) + 1 for fold in plan.folds for part in fold if len(part)), default=0)
    if len(rows) == n_tracks:
        return plan
    position = np.full(n_tracks, -1)
    position[rows] = np.arange(len(rows))
    kept = [(tuple(position[part][position[part] >= 0] for part in fold), repeat)
            for fold, repeat in zip(plan.folds, plan.repeat_of_fold)]
    kept = [(fold, repeat) for fold, repeat in kept if len(fold[1])]   # a fold none of whose test tracks was drawn
    return ProtocolPlan(plan.kind, f"{plan.description}, on a seeded subsample of {len(rows):,} tracks", plan.reason,
                        [fold for fold, _ in kept], np.asarray([repeat for _, repeat in kept], dtype=int),
                        list(plan.notes))


def _class_counts(labels: np.ndarray, rows: np.ndarray, classes: Sequence[str]) -> dict[str, int]:
    present, counts = np.unique(labels[rows], return_counts=True)
    found = dict(zip(present.tolist(), counts.tolist()))
    return {c: int(found.get(c, 0)) for c in classes}


def _per_class_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {c!r}" for c, n in counts.items())


def _given_split_verdict(labels: np.ndarray, given: np.ndarray, classes: list[str]) -> tuple[bool, str]:
    """Whether the given split is the protocol, and why (or why not)."""
    test = np.flatnonzero(given == "test")
    counts = _class_counts(labels, test, classes)
    smallest = min(counts.values())
    if smallest >= MIN_GIVEN_TEST_PER_CLASS:
        return True, (f"the given test split holds {len(test)} tracks, at least {MIN_GIVEN_TEST_PER_CLASS} of every "
                      f"class ({_per_class_text(counts)}): large enough to be evaluated on its own")
    return False, (f"the given test split holds {len(test)} tracks ({_per_class_text(counts)}): fewer than "
                   f"{MIN_GIVEN_TEST_PER_CLASS} of some class, so one track would move that class's recall by "
                   f"{100 / max(smallest, 1):.0f} points or more — cross-validation evaluates every track instead")


def _fold_notes(labels: np.ndarray, folds: Folds, classes: list[str]) -> list[str]:
    """Guard notes on the folds: classes missing from or scarce in a training part, missing from a test part."""
    notes = []
    scarce_train, missing_train, missing_test = 0, set(), set()
    for train, test in folds:
        train_counts = _class_counts(labels, train, classes)
        missing_train |= {c for c, n in train_counts.items() if n == 0}
        scarce_train += any(0 < n < MIN_TRACKS_PER_CLASS for n in train_counts.values())
        missing_test |= {c for c, n in _class_counts(labels, test, classes).items() if n == 0}
    if missing_train:
        notes.append(f"some training folds miss a class ({', '.join(sorted(missing_train))}): the probe cannot "
                     "predict it there")
    if scarce_train:
        notes.append(f"{scarce_train} of {len(folds)} training folds hold fewer than {MIN_TRACKS_PER_CLASS} tracks "
                     "of some class")
    if missing_test and len(folds) > 1:
        notes.append(f"some test folds miss a class ({', '.join(sorted(missing_test))}; grouping keeps their tracks "
                     "together) — the accuracy pools every fold's predictions, so each track still counts once per "
                     "repeat")
    totals = _class_counts(labels, np.arange(len(labels)), classes)
    scarce = {c: n for c, n in totals.items() if n < MIN_TRACKS_PER_CLASS}
    if scarce:
        notes.append(f"classes with fewer than {MIN_TRACKS_PER_CLASS} tracks in all: {_per_class_text(scarce)} — "
                     "their share of the accuracy rests on one or two tracks")
    return notes


def plan_protocol(labels: Sequence, *, groups: Sequence | None = None, given_split: Sequence | None = None,
                  seed: int = 0, n_splits: int = N_SPLITS, n_repeats: int = N_REPEATS) -> ProtocolPlan:
    """The protocol for these tracks: the given split when large enough, else repeated grouped stratified k-fold.

    ``given_split`` is the dataset's split column (as :meth:`counterpoint.matrix.TrackRows.given_split`
    reads it); it counts only when every track has one of train/validation/test and some are test.
    A :class:`CounterpointError` when there are fewer than two classes.
    """
    labels = np.asarray(labels).astype(str)
    classes = sorted(set(labels.tolist()))
    if len(classes) < 2:
        raise CounterpointError(f"a probe needs at least two classes, found {', '.join(map(repr, classes)) or 'none'} "
                                "— choose another label column or more tracks")
    if n_splits < 2 or n_repeats < 1:
        raise CounterpointError(f"{n_splits} folds × {n_repeats} repeats: give at least 2 folds and 1 repeat")
    given = None if given_split is None else np.asarray(given_split, dtype=object)
    reason = "the dataset has no complete train/validation/test split column"
    if given is not None and len(given) and np.isin(given, SPLITS).all() and (given == "test").any():
        given = given.astype(str)
        use, reason = _given_split_verdict(labels, given, classes)
        if use:
            assert_no_leak(np.where(given == "test", "test", "train"), groups)
            folds = [(np.flatnonzero(given != "test"), np.flatnonzero(given == "test"))]
            notes = _fold_notes(labels, folds, classes)
            return ProtocolPlan("given", f"the given split (train + validation: {len(folds[0][0])} tracks, "
                                f"test: {len(folds[0][1])} tracks)", reason, folds, np.zeros(1, dtype=int), notes)
    folds: Folds = []
    repeats = []
    for repeat in range(n_repeats):
        these = grouped_folds(labels, groups, n_splits=n_splits, seed=seed + repeat)
        folds += these
        repeats += [repeat] * len(these)
    k = len(folds) // n_repeats
    grouped = "grouped " if groups is not None else ""
    description = (f"{grouped}stratified {k}-fold cross-validation, {n_repeats} repeat{'s' if n_repeats > 1 else ''}"
                   + (f" (fewer folds than {n_splits}: the rarest class has {k} groups)" if k < n_splits else ""))
    notes = _fold_notes(labels, folds, classes)
    if given is not None and reason.startswith("the given test split"):
        notes.insert(0, f"given split not used: {reason}")
    return ProtocolPlan("cv", description, reason, folds, np.asarray(repeats, dtype=int), notes)


@dataclass(frozen=True)
class ProbeAccuracy:
    """The headline accuracy of one (space, label, classifier) under the protocol, with its interval and null."""

    accuracy: float
    ci_low: float
    ci_high: float
    chance: float
    null_mean: float
    p_value: float
    n: int
    n_classes: int
    dim: int
    classifier: str
    plan: ProtocolPlan
    predictions: pd.DataFrame  # id, truth, predicted, correct, repeat, fold

    @property
    def notes(self) -> list[str]:
        return self.plan.notes

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (no arrays)."""
        return {"accuracy": self.accuracy, "ci_low": self.ci_low, "ci_high": self.ci_high, "chance": self.chance,
                "null_mean": self.null_mean, "p_value": self.p_value, "n": self.n, "n_classes": self.n_classes,
                "dim": self.dim, "classifier": self.classifier, "protocol": self.plan.to_dict()}


def logistic_classifier(seed: int = 0) -> Pipeline:
    """The default classifier, unfitted: logistic regression (L2, C = 1) on features standardised with training
    statistics (label transfer fits it too, and reads its coefficients)."""
    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000, random_state=seed))


def logistic_fit_predict(X: np.ndarray, labels: np.ndarray, seed: int = 0) -> FitPredict:
    """The default classifier (:func:`logistic_classifier`) as a ``fit_predict``."""
    def fit_predict(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        return logistic_classifier(seed).fit(X[train], labels[train]).predict(X[test])
    return fit_predict


#: How many spaces' held-out logistic predictions are kept (:func:`logistic_held_out`): a report asks for
#: each space's several times (its own figures, label knowledge, label quality, each compared pair).
LOGISTIC_PREDICTIONS_KEPT = 16
_logistic_predictions: "OrderedDict[str, pd.DataFrame]" = OrderedDict()


def _fold_digest(X: np.ndarray, labels: np.ndarray, plan: ProtocolPlan, seed: int) -> str:
    """A digest of everything the default classifier's held-out predictions depend on."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(repr((X.dtype.str, X.shape, seed, len(plan.folds))).encode())
    digest.update(np.ascontiguousarray(X).view(np.uint8).reshape(-1))
    digest.update("\0".join(labels.tolist()).encode())
    for (train, test), repeat in zip(plan.folds, plan.repeat_of_fold):
        for rows in (train, test, np.asarray([repeat])):
            digest.update(np.asarray(rows, dtype=np.int64).tobytes() + b"|")
    return digest.hexdigest()


def logistic_held_out(X: np.ndarray, labels: np.ndarray, plan: ProtocolPlan, *, seed: int = 0) -> pd.DataFrame:
    """The default classifier's (:func:`logistic_classifier`) held-out predictions on every fold of ``plan``:
    one row per (test row, fold) with ``row``, ``predicted``, ``repeat`` and ``fold``.

    Computed once per content: a report shows each space's probe accuracy in several sections, each
    with its own permutation count, and the logistic regressions (the probe accuracy's whole cost, ∝ N
    per fit, 5 folds × 3 repeats) run once for all of them; the last :data:`LOGISTIC_PREDICTIONS_KEPT`
    (keyed by a digest of ``X``, ``labels``, the folds and ``seed``) are kept. BLAS runs on one thread
    (:func:`counterpoint.blas.single_threaded_blas`), so every caller gets the same predictions.
    """
    key = _fold_digest(X, labels, plan, seed)
    if key in _logistic_predictions:
        _logistic_predictions.move_to_end(key)
        return _logistic_predictions[key].copy()
    fit_predict = logistic_fit_predict(X, labels, seed)
    with single_threaded_blas():
        held_out = _held_out(fit_predict, labels, plan)
    _logistic_predictions[key] = held_out
    while len(_logistic_predictions) > LOGISTIC_PREDICTIONS_KEPT:
        _logistic_predictions.popitem(last=False)
    return held_out.copy()


def _held_out(fit_predict: FitPredict, labels: np.ndarray, plan: ProtocolPlan) -> pd.DataFrame:
    """``fit_predict`` on every fold of ``plan``: its predictions of each fold's test rows, in fold order."""
    parts = []
    for fold, ((train, test), repeat) in enumerate(zip(plan.folds, plan.repeat_of_fold)):
        if len(set(labels[train].tolist())) < 2:
            raise CounterpointError(f"a training fold holds one class only ({len(labels)} tracks) — it needs at least "
                                    "two tracks, in different groups, in each of two classes")
        predicted = np.asarray(fit_predict(train, test)).astype(str)
        parts.append(pd.DataFrame({"row": test, "predicted": predicted, "repeat": int(repeat), "fold": fold}))
    return pd.concat(parts, ignore_index=True)


def macro_f1_of_codes(truth: np.ndarray, predicted: np.ndarray, n_classes: int, *, every_class: bool = False) -> float:
    """Macro-F1 of class codes (0 … ``n_classes`` − 1): scikit-learn's ``f1_score(truth, predicted,
    average="macro", zero_division=0)`` — over the classes found in ``truth`` or ``predicted`` (a class a
    resample happens to miss entirely is not scored as a failure), or with ``every_class`` over all
    ``n_classes`` (``labels=range(n_classes)``, an absent class scoring 0) — by the same float operations on
    counts (2·tp / (true + predicted) per class, then their mean), without its label validation and encoding:
    44 ms a call at 3,000 tracks, where label quality's bootstrap calls it 400 times per figure and probe
    training twice per epoch."""
    # Codes from n_classes on (a truth the label mapping does not know) count for no class, as in scikit-learn.
    tp = np.bincount(truth[truth == predicted], minlength=n_classes)[:n_classes]
    true_sum = np.bincount(truth, minlength=n_classes)[:n_classes]
    predicted_sum = np.bincount(predicted, minlength=n_classes)[:n_classes]
    denominator = 1.0 * true_sum + predicted_sum
    if every_class:
        return float(np.mean(np.divide(2.0 * tp, denominator, out=np.zeros(n_classes), where=denominator > 0)))
    present = denominator > 0
    return float(np.mean(2.0 * tp[present] / denominator[present]))


def _dim(X: Any) -> int:
    if isinstance(X, list):
        dims = {np.asarray(x).shape[-1] for x in X if len(x)}
        return int(dims.pop()) if len(dims) == 1 else 0
    return int(np.asarray(X).shape[1]) if np.ndim(X) == 2 else 0


def permutation_null(truth_codes: np.ndarray, predicted_codes: np.ndarray, track_of_row: np.ndarray, *, n_perm: int,
                     seed: int = 0) -> np.ndarray:
    """Accuracies of the fixed predictions against the truth permuted across tracks, ``[n_perm]``.

    ``truth_codes`` is one class code per track, ``predicted_codes`` and ``track_of_row`` one per
    (track, repeat) row; a draw permutes the tracks' truth once and keeps it for every repeat.
    """
    rng = np.random.default_rng(seed)
    null = np.empty(n_perm)
    chunk = max(1, 2_000_000 // max(len(track_of_row), 1))
    for start in range(0, n_perm, chunk):
        size = min(chunk, n_perm - start)
        perms = rng.permuted(np.tile(truth_codes, (size, 1)), axis=1)
        null[start:start + size] = (perms[:, track_of_row] == predicted_codes).mean(axis=1)
    return null


def probe_accuracy(X: Any, labels: Sequence, *, ids: Sequence, classifier: str = LOGISTIC,
                   groups: Sequence | None = None, given_split: Sequence | None = None, seed: int = 0,
                   plan: ProtocolPlan | None = None, fit_predict: FitPredict | None = None,
                   n_splits: int = N_SPLITS, n_repeats: int = N_REPEATS, n_perm: int = N_PERM,
                   n_boot: int = N_BOOT) -> ProbeAccuracy:
    """The probe accuracy of ``X`` for ``labels``: the one definition (see the module's text).

    ``X`` is ``[N, D]`` (or a list of ``[T_i, D]`` frames when ``fit_predict`` reads them);
    ``fit_predict(train_rows, test_rows)`` trains a classifier on the training rows and returns
    its predicted labels of the test rows — the default is :func:`logistic_fit_predict` (its held-out
    predictions computed once for the same embeddings, labels, folds and seed: :func:`logistic_held_out`), and
    ``classifier`` names it. ``plan`` reuses folds already planned (e.g. so two spaces of the
    same tracks share them); otherwise :func:`plan_protocol` plans them from ``groups``,
    ``given_split``, ``seed``, ``n_splits`` and ``n_repeats``.
    """
    labels = np.asarray(labels).astype(str)
    ids = np.asarray(ids, dtype=object).astype(str)
    if len(ids) != len(labels) or len(X) != len(labels):
        raise CounterpointError(f"{len(X)} embeddings, {len(labels)} labels and {len(ids)} ids — rows must be the "
                                "same tracks")
    if (labels == "").any():
        raise CounterpointError("some labels are empty — leave those tracks out first")
    if plan is None:
        plan = plan_protocol(labels, groups=groups, given_split=given_split, seed=seed, n_splits=n_splits,
                             n_repeats=n_repeats)
    if fit_predict is None:
        if classifier != LOGISTIC:
            raise CounterpointError(f"classifier {classifier!r} needs its fit_predict")
        held_out = logistic_held_out(np.asarray(X), labels, plan, seed=seed)
    else:
        held_out = _held_out(fit_predict, labels, plan)
    return score_predictions(held_out, labels, ids, plan=plan, classifier=classifier, dim=_dim(X), seed=seed,
                             n_perm=n_perm, n_boot=n_boot)


def score_predictions(held_out: pd.DataFrame, labels: Sequence, ids: Sequence, *, plan: ProtocolPlan,
                      classifier: str, dim: int, seed: int = 0, n_perm: int = N_PERM,
                      n_boot: int = N_BOOT) -> ProbeAccuracy:
    """The figures of :class:`ProbeAccuracy` from held-out predictions: ``held_out`` has one row per
    (track, repeat) with the track's ``row`` in ``labels``/``ids``, its ``predicted`` label, ``repeat`` and
    ``fold``. :func:`probe_accuracy` calls it on its folds' predictions; a saved probe applied to new tracks
    (one fold, nothing trained) is scored by it too, so its figures follow the same rules."""
    labels = np.asarray(labels).astype(str)
    ids = np.asarray(ids, dtype=object).astype(str)
    track_rows = held_out["row"].to_numpy(dtype=int)
    truth = labels[track_rows]
    predicted_text = held_out["predicted"].to_numpy(dtype=object).astype(str)
    predictions = pd.DataFrame({"id": ids[track_rows], "truth": truth, "predicted": predicted_text,
                                "correct": truth == predicted_text, "repeat": held_out["repeat"].to_numpy(dtype=int),
                                "fold": held_out["fold"].to_numpy(dtype=int)})
    accuracy = float(predictions["correct"].mean())
    # Tracks evaluated, each with its share of correct predictions over the repeats.
    evaluated, track_of_row = np.unique(track_rows, return_inverse=True)
    rows_per_track = np.bincount(track_of_row)
    correct_per_track = np.bincount(track_of_row, weights=predictions["correct"].to_numpy(float))
    if n_boot > 0:
        draws = np.random.default_rng(seed).integers(0, len(evaluated), size=(n_boot, len(evaluated)))
        # Whole tracks are resampled; the statistic is the accuracy itself (tracks may be evaluated unequally often).
        boot = correct_per_track[draws].sum(axis=1) / rows_per_track[draws].sum(axis=1)
        ci_low, ci_high = (float(v) for v in np.quantile(boot, [0.025, 0.975]))
    else:
        ci_low = ci_high = float("nan")
    classes = np.array(sorted(set(labels.tolist())), dtype=object)
    truth_codes = np.searchsorted(classes, labels[evaluated])
    known = np.isin(predicted_text, classes)
    predicted_codes = np.where(known, np.searchsorted(classes, np.where(known, predicted_text, classes[0])), -1)
    null = (permutation_null(truth_codes, predicted_codes, track_of_row, n_perm=n_perm, seed=seed) if n_perm > 0
            else np.zeros(0))
    p_value = float((1 + np.sum(null >= accuracy - 1e-12)) / (n_perm + 1)) if n_perm > 0 else float("nan")
    return ProbeAccuracy(accuracy=accuracy, ci_low=ci_low, ci_high=ci_high, chance=majority_share(labels[evaluated]),
                         null_mean=float(null.mean()) if len(null) else float("nan"), p_value=p_value,
                         n=len(evaluated), n_classes=len(classes), dim=dim, classifier=classifier, plan=plan,
                         predictions=predictions)
