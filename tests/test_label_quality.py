"""Label quality of one space: held-out kNN and probe accuracy, silhouette, and leak-free folds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from counterpoint.analysis.label_quality import label_quality, silhouette
from counterpoint.probe_protocol import N_PERM, plan_protocol


def test_separated_classes_score_perfectly_and_noise_scores_near_chance():
    rng = np.random.default_rng(0)
    labels = np.repeat(["a", "b", "c"], 40)
    centres = rng.normal(size=(3, 10)) * 5
    X = centres[np.repeat([0, 1, 2], 40)] + rng.normal(size=(120, 10))
    plan = plan_protocol(labels, seed=0)
    ids = [f"t{i}" for i in range(120)]
    good = label_quality(X, labels, plan, ids=ids, k=5, n_boot=50)
    assert good["knn_accuracy"].value == 1.0 and good["probe_macro_f1"].value == 1.0
    assert good["silhouette"].value > 0.5
    noise = label_quality(rng.normal(size=(120, 10)), labels, plan, ids=ids, k=5, n_boot=50)
    for name in ("knn_accuracy", "probe_accuracy"):
        assert noise[name].ci_low < 1 / 3 + 0.05
        assert noise[name].chance == pytest.approx(1 / 3)
    assert abs(noise["silhouette"].value) < 0.1
    # p-values: the protocol's permutation null; perfect predictions beat every permutation.
    assert good["knn_accuracy"].p_value == good["probe_accuracy"].p_value == pytest.approx(1 / (N_PERM + 1))
    for name in ("knn_accuracy", "probe_accuracy"):
        assert noise[name].p_value > 0.01
        # The null's mean is what independent guesses score: sum over classes of truth share × predicted share,
        # here 1/3 (balanced truth), up to Monte-Carlo error (sd about 0.03 / sqrt(N_PERM)).
        assert noise[name].null_mean == pytest.approx(1 / 3, abs=0.005)
    assert all(math.isnan(good[name].p_value) for name in ("knn_macro_f1", "probe_macro_f1", "silhouette"))


def test_silhouette_by_hand():
    # Two tight pairs of directions: a = (1,0),(1,0.1); b = (0,1),(0.1,1).
    X = np.array([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.1, 1.0]])
    labels = np.array(["a", "a", "b", "b"])

    def cos_d(u, v):
        return 1 - u @ v / (np.linalg.norm(u) * np.linalg.norm(v))

    by_hand = []
    for i in range(4):
        same = [cos_d(X[i], X[j]) for j in range(4) if j != i and labels[j] == labels[i]]
        other = [cos_d(X[i], X[j]) for j in range(4) if labels[j] != labels[i]]
        a, b = np.mean(same), np.mean(other)
        by_hand.append((b - a) / max(a, b))
    assert silhouette(X, labels, n_boot=0).value == pytest.approx(np.mean(by_hand))


def test_grouped_folds_stop_a_group_signature_from_leaking():
    # Each group (e.g. one work) has its own signature and one label; the signature says
    # nothing about the label of another group. Without grouping, neighbours from the same
    # group give the label away.
    rng = np.random.default_rng(5)
    n_groups, per_group = 40, 5
    groups = np.repeat([f"w{g}" for g in range(n_groups)], per_group)
    labels = np.repeat(rng.choice(["x", "y"], size=n_groups), per_group)
    X = np.repeat(rng.normal(size=(n_groups, 16)), per_group, axis=0) + 0.05 * rng.normal(size=(n_groups * per_group, 16))
    ids = [f"t{i}" for i in range(len(labels))]
    grouped = label_quality(X, labels, plan_protocol(labels, groups=groups), ids=ids, k=3, n_boot=20)
    leaky = label_quality(X, labels, plan_protocol(labels), ids=ids, k=3, n_boot=20)
    assert leaky["knn_accuracy"].value > 0.95
    assert grouped["knn_accuracy"].value < 0.75
    for train, test in plan_protocol(labels, groups=groups).folds:
        assert not set(groups[train]) & set(groups[test])


def test_macro_f1_interval_contains_a_perfect_score():
    # Few evaluated tracks: many resamples miss a class, which must not count as an error.
    rng = np.random.default_rng(9)
    labels = np.repeat(["a", "b", "c", "d"], 6)
    X = np.repeat(np.eye(4) * 10, 6, axis=0) + 0.1 * rng.normal(size=(24, 4))
    given = np.array((["train"] * 5 + ["test"]) * 4)
    figures = label_quality(X, labels, plan_protocol(labels, given_split=given), ids=[str(i) for i in range(24)], k=3,
                            n_boot=100)
    assert figures["knn_macro_f1"].value == 1.0
    assert figures["knn_macro_f1"].ci_low == figures["knn_macro_f1"].ci_high == 1.0


def test_knn_vote_above_its_cap_runs_on_a_seeded_subsample_in_the_same_folds_and_says_so():
    """The k-NN vote's distances cost N² × D: above ``max_n_knn`` it votes on a seeded subsample (``n_resample``), each
    fold keeping its own tracks (no group crosses a fold); at or below the cap every track votes, as before."""
    from counterpoint.analysis.statistics import subsample_indices
    from counterpoint.probe_protocol import restrict_plan

    rng = np.random.default_rng(3)
    groups = np.repeat(np.arange(60), 3)        # 60 groups of 3 tracks of one class
    labels = np.repeat(["a", "b", "c"], 20).repeat(3)
    X = rng.normal(size=(3, 12))[np.searchsorted(["a", "b", "c"], labels)] * 3 + rng.normal(size=(180, 12))
    ids = np.array([f"t{i:03d}" for i in range(180)])
    plan = plan_protocol(labels, groups=groups, seed=0)
    capped = label_quality(X, labels, plan, ids=ids, k=5, n_boot=30, n_perm=99, max_n_knn=90)
    whole = label_quality(X, labels, plan, ids=ids, k=5, n_boot=30, n_perm=99, max_n_knn=180)
    assert capped["knn_accuracy"].n == whole["knn_accuracy"].n == 180
    assert capped["knn_accuracy"].n_resample == 90 and whole["knn_accuracy"].n_resample == 180
    drawn = subsample_indices(180, 90, 0)     # the seeded subsample: its majority share is the vote's chance
    assert capped["knn_accuracy"].chance == pytest.approx(max(np.unique(labels[drawn], return_counts=True)[1]) / 90)
    assert whole["knn_accuracy"].chance == pytest.approx(1 / 3)
    assert capped["probe_accuracy"].value == whole["probe_accuracy"].value     # the probe still uses every track
    assert capped["probe_accuracy"].n_resample == 180
    # The subsample's folds are the plan's folds restricted to it: no group on both sides of any fold.
    voters = np.sort(rng.choice(180, 90, replace=False))
    restricted = restrict_plan(plan, voters)
    assert len(restricted.folds) <= len(plan.folds) and "subsample of 90 tracks" in restricted.description
    for (train, test), (full_train, full_test) in zip(restricted.folds, plan.folds):
        assert set(voters[train]) <= set(full_train) and set(voters[test]) <= set(full_test)
        assert not set(groups[voters[train]]) & set(groups[voters[test]])
    assert restrict_plan(plan, np.arange(180)) is plan


def test_macro_f1_from_counts_equals_scikit_learns_exactly_on_resamples_that_miss_classes():
    """The macro-F1 from class counts (label quality's bootstrap, probe training's early stopping) is scikit-learn's f1_score(average="macro", zero_division=0) bit
    for bit, also on resamples where a class is missing from the truth, the predictions or both."""
    from sklearn.metrics import f1_score

    from counterpoint.probe_protocol import macro_f1_of_codes

    rng = np.random.default_rng(11)
    classes = np.array(["a", "b", "c", "d", "e"])
    for size in (1, 3, 7, 40, 500):
        for _ in range(40):
            truth = rng.integers(0, 5, size)
            predicted = np.where(rng.random(size) < 0.6, truth, rng.integers(0, 4, size))  # "e" never predicted
            expected = f1_score(classes[truth], classes[predicted], average="macro", zero_division=0)
            assert macro_f1_of_codes(truth, predicted, 5) == expected
            # Probe training scores every class of its label mapping (labels=range(n), an absent class 0).
            every = f1_score(truth, predicted, labels=np.arange(6), average="macro", zero_division=0)
            assert macro_f1_of_codes(truth, predicted, 6, every_class=True) == every
            known = f1_score(truth, predicted, labels=np.arange(4), average="macro", zero_division=0)
            assert macro_f1_of_codes(truth, predicted, 4, every_class=True) == known   # code 4 is no class of 4
