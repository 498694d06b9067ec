"""The one probe protocol: its plan (given split or repeated grouped k-fold), its guards, and its figures."""

from __future__ import annotations

import json

import numpy as np
import pytest

from counterpoint.errors import CounterpointError
from counterpoint.probe_protocol import (MIN_GIVEN_TEST_PER_CLASS, ProtocolPlan, plan_protocol, probe_accuracy)


def labelled_points(n_per_class: int, n_classes: int, separation: float, dim: int = 8, seed: int = 0):
    """Gaussian clouds, one per class, ``separation`` apart along the first axes (0: labels carry nothing)."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([f"c{i}" for i in range(n_classes)], n_per_class)
    X = rng.standard_normal((len(labels), dim))
    for i in range(n_classes):
        X[labels == f"c{i}", i % dim] += separation
    ids = np.array([f"t{i:03d}" for i in range(len(labels))])
    return X, labels, ids


def split_with_test_per_class(labels: np.ndarray, per_class: int) -> np.ndarray:
    """A complete train/validation/test column whose test part holds ``per_class`` tracks of every class."""
    split = np.full(len(labels), "train", dtype=object)
    for c in np.unique(labels):
        rows = np.flatnonzero(labels == c)
        split[rows[:per_class]] = "test"
        split[rows[per_class:per_class + 1]] = "validation"
    return split.astype(str)


def test_cross_validation_evaluates_every_track_once_per_repeat_and_never_splits_a_group():
    _, labels, _ = labelled_points(10, 4, 0.0)
    groups = np.repeat(np.arange(20), 2)  # pairs of tracks of one class share a group
    plan = plan_protocol(labels, groups=groups, n_splits=5, n_repeats=3)
    assert plan.kind == "cv" and len(plan.folds) == 15
    assert "grouped stratified 5-fold cross-validation, 3 repeats" in plan.description
    for repeat in range(3):
        tested = np.concatenate([test for (_, test), r in zip(plan.folds, plan.repeat_of_fold) if r == repeat])
        assert sorted(tested) == list(range(len(labels)))
    for train, test in plan.folds:
        assert not set(groups[train]) & set(groups[test])
    assert [sorted(plan.folds[i][1]) for i in range(5)] != [sorted(plan.folds[5 + i][1]) for i in range(5)]


def test_given_split_is_the_protocol_when_its_test_part_holds_enough_of_every_class():
    _, labels, _ = labelled_points(12, 3, 0.0)
    split = split_with_test_per_class(labels, MIN_GIVEN_TEST_PER_CLASS)
    plan = plan_protocol(labels, given_split=split)
    assert plan.kind == "given" and len(plan.folds) == 1
    train, test = plan.folds[0]
    assert sorted(test) == sorted(np.flatnonzero(split == "test"))
    assert sorted(train) == sorted(np.flatnonzero(split != "test"))  # trained on train + validation
    assert f"at least {MIN_GIVEN_TEST_PER_CLASS} of every class" in plan.reason


def test_three_accuracies_case_a_tiny_given_test_split_is_not_the_headline():
    """40 tracks, 4 classes, a given split whose test part holds 8 tracks (2 per class): cross-validation, and why."""
    X, labels, ids = labelled_points(10, 4, 3.0)
    split = split_with_test_per_class(labels, 2)
    plan = plan_protocol(labels, given_split=split)
    assert plan.kind == "cv"
    assert "the given test split holds 8 tracks" in plan.reason and "fewer than 5 of some class" in plan.reason
    assert any(note.startswith("given split not used") for note in plan.notes)
    result = probe_accuracy(X, labels, ids=ids, given_split=split, n_perm=199)
    assert result.plan.kind == "cv" and result.n == 40


def test_informative_space_is_far_above_chance_and_noise_is_not():
    X, labels, ids = labelled_points(15, 4, 4.0)
    known = probe_accuracy(X, labels, ids=ids, n_perm=999)
    assert known.accuracy > 0.8 and known.ci_low > 0.5
    assert known.chance == pytest.approx(0.25)
    # The permutation null of predictions that are nearly all right centres on chance (balanced classes).
    assert known.null_mean == pytest.approx(0.25, abs=0.03)
    assert known.p_value == pytest.approx(1 / 1000)
    noise, _, _ = labelled_points(15, 4, 0.0, seed=1)
    unknown = probe_accuracy(noise, labels, ids=ids, n_perm=999)
    assert unknown.ci_low <= 0.25 + 1e-9 or unknown.p_value > 0.01
    assert unknown.accuracy < 0.5


def test_predictions_hold_every_track_once_per_repeat_and_accuracy_is_their_mean():
    X, labels, ids = labelled_points(8, 3, 2.0)
    result = probe_accuracy(X, labels, ids=ids, n_repeats=2, n_perm=99)
    table = result.predictions
    assert list(table.columns) == ["id", "truth", "predicted", "correct", "repeat", "fold"]
    assert len(table) == 2 * len(labels)
    assert not table.duplicated(["id", "repeat"]).any()
    assert result.accuracy == pytest.approx(float((table["truth"] == table["predicted"]).mean()))
    assert dict(zip(table["id"], table["truth"])) == dict(zip(ids, labels))
    assert result.ci_low <= result.accuracy <= result.ci_high


def test_a_plugged_in_classifier_uses_the_plans_folds_and_the_same_null():
    """A classifier that always answers one class carries no information: the permutation null gives p = 1."""
    X, labels, ids = labelled_points(6, 3, 2.0)
    seen = []

    def constant(train, test):
        seen.append((tuple(sorted(train)), tuple(sorted(test))))
        return np.full(len(test), "c0")

    plan = plan_protocol(labels, n_repeats=1)
    result = probe_accuracy([x[None, :] for x in X], labels, ids=ids, classifier="constant", plan=plan,
                            fit_predict=constant, n_perm=199)
    assert seen == [(tuple(sorted(tr)), tuple(sorted(te))) for tr, te in plan.folds]
    assert result.accuracy == pytest.approx(1 / 3)
    assert result.p_value == 1.0 and result.null_mean == pytest.approx(1 / 3)
    assert result.dim == X.shape[1] and result.classifier == "constant"


def test_guard_notes_name_scarce_classes_and_training_folds_without_enough_tracks():
    X, labels, ids = labelled_points(6, 2, 2.0)
    labels = labels.astype(object)
    labels[:2] = "rare"  # two tracks of a third class
    plan = plan_protocol(labels, n_repeats=1)
    text = " ".join(plan.notes)
    assert "fewer than 3 tracks in all: 2 'rare'" in text
    assert "training folds hold fewer than 3 tracks of some class" in text


def test_one_class_and_mismatched_rows_are_clear_errors():
    with pytest.raises(CounterpointError, match="at least two classes"):
        plan_protocol(["a"] * 10)
    X, labels, ids = labelled_points(5, 2, 1.0)
    with pytest.raises(CounterpointError, match="same tracks"):
        probe_accuracy(X[:-1], labels, ids=ids)


def test_json_form_has_the_figures_and_the_protocol():
    X, labels, ids = labelled_points(8, 2, 2.0)
    data = json.loads(json.dumps(probe_accuracy(X, labels, ids=ids, n_perm=99).to_dict()))
    assert set(data) >= {"accuracy", "ci_low", "ci_high", "chance", "null_mean", "p_value", "n", "n_classes", "dim",
                         "classifier", "protocol"}
    assert data["protocol"]["kind"] == "cv" and data["protocol"]["n_folds"] == 15
    assert isinstance(ProtocolPlan, type)


def test_an_incomplete_split_column_is_not_a_given_split():
    _, labels, _ = labelled_points(12, 3, 0.0)
    split = split_with_test_per_class(labels, MIN_GIVEN_TEST_PER_CLASS).astype(object)
    split[0] = ""
    plan = plan_protocol(labels, given_split=split)
    assert plan.kind == "cv" and plan.reason == "the dataset has no complete train/validation/test split column"


def test_the_same_probe_asked_twice_is_fitted_once_and_other_embeddings_are_fitted_anew(monkeypatch):
    """Held-out logistic predictions are shared by content: a second caller with its own permutation count gets the
    same predictions and accuracy (its own null); one changed embedding value is another space, fitted anew."""
    from collections import OrderedDict

    import counterpoint.probe_protocol as protocol

    fitted = []
    real = protocol.logistic_fit_predict
    monkeypatch.setattr(protocol, "logistic_fit_predict", lambda X, labels, seed=0: fitted.append(1) or real(X, labels, seed))
    monkeypatch.setattr(protocol, "_logistic_predictions", OrderedDict(), raising=False)
    X, labels, ids = labelled_points(12, 3, 1.5)
    plan = plan_protocol(labels, seed=0)
    first = probe_accuracy(X, labels, ids=ids, plan=plan, n_perm=99, n_boot=50)
    second = probe_accuracy(X, labels, ids=ids, plan=plan, n_perm=499, n_boot=50)
    assert len(fitted) == 1
    assert second.accuracy == first.accuracy and second.predictions.equals(first.predictions)
    assert first.p_value >= 1 / 100 and second.p_value == pytest.approx(1 / 500)
    changed = X.copy()
    changed[0, 0] += 1.0
    probe_accuracy(changed, labels, ids=ids, plan=plan, n_perm=99, n_boot=50)
    probe_accuracy(X, labels, ids=ids, plan=plan_protocol(labels, seed=1), n_perm=99, n_boot=50)
    assert len(fitted) == 3
