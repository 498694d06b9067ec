"""Alignment measures against hand computations and controls (rotation, scale, shuffling, independence)."""

from __future__ import annotations


import numpy as np
import pytest
from scipy.stats import spearmanr

from counterpoint.analysis.label_structure import centroid_agreement
from counterpoint.analysis.similarity import (
    cka_estimates,
    debiased_cka,
    knn_indices,
    linear_cka,
    mutual_knn,
    neighbour_overlap,
    rsa,
)
from counterpoint.analysis.statistics import bootstrap_ci, half_sample_ci, permutation_p_value
from counterpoint.errors import CounterpointError


def rotated_rescaled(X: np.ndarray, seed: int = 1, scale: float = 7.5) -> np.ndarray:
    rotation = np.linalg.qr(np.random.default_rng(seed).normal(size=(X.shape[1], X.shape[1])))[0]
    return scale * X @ rotation + 3.0  # an offset too: every measure centres


@pytest.fixture
def related() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 8))
    Y = X[:, :5] @ rng.normal(size=(5, 6)) + 0.5 * rng.normal(size=(120, 6))
    return X, Y


# --- hand computations -------------------------------------------------------------------------


def test_linear_cka_equals_the_kernel_formula_by_hand():
    X = np.array([[1.0, 2.0], [0.0, 1.0], [3.0, -1.0], [2.0, 2.0], [-1.0, 0.0]])
    Y = np.array([[0.5], [1.0], [-2.0], [1.5], [0.0]])
    n = len(X)
    H = np.eye(n) - np.ones((n, n)) / n
    K, L = H @ X @ X.T @ H, H @ Y @ Y.T @ H
    by_hand = np.trace(K @ L) / np.sqrt(np.trace(K @ K) * np.trace(L @ L))
    assert linear_cka(X, Y) == pytest.approx(by_hand, rel=1e-12)


def test_debiased_cka_equals_song_et_al_unbiased_hsic_by_hand(related):
    X, Y = related[0][:12], related[1][:12]
    n = len(X)

    def unbiased_hsic(K: np.ndarray, L: np.ndarray) -> float:
        K, L = K.copy(), L.copy()
        np.fill_diagonal(K, 0)
        np.fill_diagonal(L, 0)
        one = np.ones(n)
        return (np.trace(K @ L) + (one @ K @ one) * (one @ L @ one) / ((n - 1) * (n - 2))
                - 2 / (n - 2) * one @ K @ L @ one) / (n * (n - 3))

    K, L = X @ X.T, Y @ Y.T  # raw, uncentred kernels: the estimator needs no centring
    by_hand = unbiased_hsic(K, L) / np.sqrt(unbiased_hsic(K, K) * unbiased_hsic(L, L))
    assert debiased_cka(X, Y) == pytest.approx(by_hand, rel=1e-9)
    assert debiased_cka(X + 100.0, Y - 40.0) == pytest.approx(by_hand, rel=1e-9)


def test_rsa_is_spearman_of_cosine_distances_of_centred_rows(related):
    X, Y = related[0][:30], related[1][:30]

    def cosine_distances(Z):
        Z = Z - Z.mean(0)
        Z = Z / np.linalg.norm(Z, axis=1, keepdims=True)
        D = 1 - Z @ Z.T
        return D[np.triu_indices(len(Z), 1)]

    by_hand = spearmanr(cosine_distances(X), cosine_distances(Y)).statistic
    assert rsa(X, Y, n_boot=0, n_perm=0).value == pytest.approx(by_hand, abs=1e-6)


def test_mutual_knn_on_a_circle_by_hand():
    # Six directions, in antipodal pairs so that centring leaves them unchanged.
    def circle(angles):
        angles = np.asarray(angles)
        return np.column_stack([np.cos(angles), np.sin(angles)])

    pi = np.pi
    X = circle([0.0, 0.4, 1.2, pi, pi + 0.4, pi + 1.2])
    Y = circle([0.0, 1.2, 0.4, pi, pi + 1.2, pi + 0.4])   # tracks 1 and 2 (and 4 and 5) trade places
    assert knn_indices(X, k=1).ravel().tolist() == [1, 0, 1, 4, 3, 4]
    assert knn_indices(Y, k=1).ravel().tolist() == [2, 2, 0, 5, 5, 3]
    assert mutual_knn(X, Y, k=1, n_boot=0, n_perm=0).value == 0.0     # no nearest neighbour shared
    assert mutual_knn(X, Y, k=2, n_boot=0, n_perm=0).value == 1.0     # the same triples
    a = np.array([[1, 2], [0, 2], [1, 3]])
    b = np.array([[2, 1], [3, 4], [0, 4]])
    assert neighbour_overlap(a, b).tolist() == [1.0, 0.0, 0.0]


def test_centroid_agreement_of_identical_spaces_is_one_with_exact_p():
    rng = np.random.default_rng(3)
    labels = np.repeat(list("abcd"), 10)
    X = rng.normal(size=(40, 5)) + np.repeat(rng.normal(size=(4, 5)) * 3, 10, axis=0)
    result = centroid_agreement(X, rotated_rescaled(X), labels, n_boot=20)
    assert result.value == pytest.approx(1.0)
    # Exact test over all 4! relabellings: the identity, and any relabelling that happens to
    # keep the order of the 6 distances, reach a correlation of 1.
    assert 1 / 24 <= result.p_value < 0.2
    assert result.ci_low <= 1.0 and result.n_resample == 4
    assert centroid_agreement(X, X, np.repeat(list("ab"), 20)).value != centroid_agreement(X, X, labels).value


def test_centroid_agreement_by_hand():
    rng = np.random.default_rng(8)
    labels = np.repeat(list("abcde"), 6)
    X, Y = rng.normal(size=(30, 4)), rng.normal(size=(30, 3))

    def centroid_cosine_distances(Z):
        Z = Z - Z.mean(0)
        C = np.stack([Z[labels == c].mean(0) for c in "abcde"])
        C = C / np.linalg.norm(C, axis=1, keepdims=True)
        return (1 - C @ C.T)[np.triu_indices(5, 1)]

    by_hand = spearmanr(centroid_cosine_distances(X), centroid_cosine_distances(Y)).statistic
    result = centroid_agreement(X, Y, labels, n_boot=10)
    assert result.value == pytest.approx(by_hand)
    assert 0 < result.p_value <= 1 and result.n_resample == 5


# --- controls --------------------------------------------------------------------------------


def test_rotated_rescaled_copy_agrees_perfectly(related):
    X, _ = related
    Y = rotated_rescaled(X)
    figures = cka_estimates(X, Y, n_boot=20, n_perm=19)
    assert figures["cka"].value == pytest.approx(1.0, abs=1e-10)
    assert figures["cka_debiased"].value == pytest.approx(1.0, abs=1e-10)
    assert figures["cka"].p_value == pytest.approx(1 / 20)
    assert rsa(X, Y, n_boot=0, n_perm=0).value == pytest.approx(1.0, abs=1e-6)
    assert mutual_knn(X, Y, k=5, n_boot=0, n_perm=0).value == 1.0


def test_scale_changes_do_not_move_cka_or_rsa(related):
    X, Y = related
    assert linear_cka(X, Y) == pytest.approx(linear_cka(0.01 * X, 250.0 * Y), rel=1e-10)
    assert debiased_cka(X, Y) == pytest.approx(debiased_cka(0.01 * X, 250.0 * Y), rel=1e-8)
    assert rsa(X, Y, n_boot=0, n_perm=0).value == pytest.approx(rsa(0.01 * X, 250.0 * Y, n_boot=0, n_perm=0).value, abs=1e-9)


def test_independent_spaces_debiased_cka_near_zero_linear_cka_near_its_null():
    rng = np.random.default_rng(11)
    X, Y = rng.normal(size=(1500, 30)), rng.normal(size=(1500, 40))
    figures = cka_estimates(X, Y, n_boot=30, n_perm=49, max_n=400)
    assert abs(figures["cka_debiased"].value) < 0.01
    assert figures["cka_debiased"].ci_low < 0 < figures["cka_debiased"].ci_high
    # Linear CKA of independent data is biased upwards; its exact permutation mean says by how much.
    assert figures["cka"].value > 0.02
    assert figures["cka"].value == pytest.approx(figures["cka"].chance, rel=0.25)
    assert figures["cka"].p_value > 0.01 and figures["cka_debiased"].p_value > 0.01
    assert figures["cka"].n == 1500 and figures["cka"].n_resample == 400


def test_shuffled_pairing_falls_to_the_null(related):
    X, Y = related
    shuffled = Y[np.random.default_rng(5).permutation(len(Y))]
    figures = cka_estimates(X, shuffled, n_boot=0, n_perm=99)
    assert figures["cka"].value == pytest.approx(figures["cka"].chance, abs=0.05)
    assert figures["cka"].p_value > 0.05
    knn = mutual_knn(X, shuffled, k=10, n_boot=50, n_perm=99)
    assert knn.value == pytest.approx(knn.chance, abs=0.04)
    assert knn.p_value > 0.05
    assert rsa(X, shuffled, n_boot=0, n_perm=99).p_value > 0.05


def test_related_spaces_are_detected_with_intervals_around_the_value(related):
    X, Y = related
    figures = cka_estimates(X, Y, n_boot=50, n_perm=99)
    for name in ("cka", "cka_debiased"):
        assert figures[name].ci_low <= figures[name].value <= figures[name].ci_high
        assert figures[name].p_value == pytest.approx(0.01)
    r = rsa(X, Y, n_boot=50, n_perm=99)
    assert r.value > 0.3 and r.p_value == pytest.approx(0.01) and r.ci_low < r.value < r.ci_high
    knn = mutual_knn(X, Y, k=5, n_boot=50, n_perm=99)
    assert knn.value > 3 * knn.chance and knn.p_value == pytest.approx(0.01)


def test_mismatched_rows_and_nan_are_refused():
    with pytest.raises(CounterpointError, match="same tracks"):
        linear_cka(np.zeros((5, 2)), np.zeros((6, 2)))
    bad = np.ones((5, 2))
    bad[2, 1] = np.nan
    with pytest.raises(CounterpointError, match="NaN"):
        debiased_cka(bad, np.ones((5, 2)))


# --- statistics helpers --------------------------------------------------------------------------


def test_permutation_p_value_counts_the_observed_arrangement():
    assert permutation_p_value(5.0, np.array([1.0, 2.0, 6.0, 5.0])) == pytest.approx(3 / 5)
    assert permutation_p_value(0.0, np.array([1.0, 2.0]), alternative="less") == pytest.approx(1 / 3)


def test_bootstrap_interval_of_a_mean_is_seeded_and_covers_it():
    scores = np.random.default_rng(0).normal(size=400)
    low, high = bootstrap_ci(scores, n_boot=300, seed=4)
    assert (low, high) == bootstrap_ci(scores, n_boot=300, seed=4)
    assert low < scores.mean() < high
    assert high - low == pytest.approx(2 * 1.96 / np.sqrt(400), rel=0.25)


def test_half_sample_interval_reflects_and_rescales():
    halves = np.array([0.0, 1.0, 2.0, 3.0, 4.0] * 40)
    low, high = half_sample_ci(10.0, halves, scale=0.5)
    assert low == pytest.approx(10.0 - 0.5 * (4.0 - 2.0), abs=0.1)
    assert high == pytest.approx(10.0 + 0.5 * 2.0, abs=0.1)


def test_half_sample_interval_is_clipped_to_the_range_of_the_statistic():
    low, high = half_sample_ci(0.01, np.array([0.0, 0.05, 0.1] * 50), bounds=(0.0, 1.0))
    assert low == 0.0 and high > 0.01


def test_half_sample_interval_covers_the_truth_for_cka():
    # Coverage check over repeated datasets from one population (small, so it stays fast).
    rng = np.random.default_rng(21)
    mix = rng.normal(size=(4, 4))
    truth_X = rng.normal(size=(20000, 4))
    truth = linear_cka(truth_X, truth_X @ mix + 2.0 * rng.normal(size=(20000, 4)))
    covered = []
    for seed in range(12):
        sample = np.random.default_rng(100 + seed)
        X = sample.normal(size=(200, 4))
        Y = X @ mix + 2.0 * sample.normal(size=(200, 4))
        estimate = cka_estimates(X, Y, n_boot=100, n_perm=0, seed=seed)["cka"]
        covered.append(estimate.ci_low <= truth <= estimate.ci_high)
    assert sum(covered) >= 9
