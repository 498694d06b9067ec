"""Every reported statistic stays in its range (counterpoint.ranges), on degenerate inputs too.

Property-based: hypothesis draws small paired spaces that are degenerate in one way — fewer tracks
than dimensions, duplicated rows, constant or collinear columns, rank deficiency, a handful of
tracks, scales 10¹⁶ apart — and every measure, interval and p-value must stay in its declared range.
Derandomised, so every run explores the same examples; the one that found the exact centroid test
returning p = 0 for coinciding centroids is pinned.
The checks themselves are tested on tables with one value out of range.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from counterpoint.analysis.similarity import align_spaces, debiased_cka, linear_cka
from counterpoint.analysis.label_structure import centroid_agreement
from counterpoint.analysis.retrieval import canonical_correlations, cross_modal_retrieval, retrieval_figures
from counterpoint.ranges import P_VALUE, StatisticRangeError, check_table, check_values, measure_range

DEGENERACIES = ("plain", "fewer_tracks_than_dims", "duplicated_rows", "constant_column", "collinear_columns",
                "rank_one", "scales_apart")


def degenerate(kind: str, n: int, d: int, seed: int) -> np.ndarray:
    """An ``[n, d]`` matrix that is degenerate in the way ``kind`` names."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    if kind == "fewer_tracks_than_dims":
        X = rng.normal(size=(n, n + d + 3))
    elif kind == "duplicated_rows":
        X[n // 2:] = X[: n - n // 2]
    elif kind == "constant_column":
        X[:, 0] = 5.0
    elif kind == "collinear_columns":
        X = np.column_stack([X, 3.0 * X[:, :1] - X[:, -1:]])
    elif kind == "rank_one":
        X = np.outer(rng.normal(size=n), rng.normal(size=d)) + 2.0
    elif kind == "scales_apart":
        X[:, 0] *= 1e8
        X[:, -1] *= 1e-8
    return X


def pairs(min_n: int = 6) -> st.SearchStrategy:
    """(degeneracy of X, of Y, tracks, dims of X, of Y, seed, scale of Y against X)."""
    return st.tuples(st.sampled_from(DEGENERACIES), st.sampled_from(DEGENERACIES), st.integers(min_n, 24),
                     st.integers(1, 9), st.integers(1, 9), st.integers(0, 2**16), st.sampled_from([1e-8, 1.0, 1e8]))


def paired(draw: tuple) -> tuple[np.ndarray, np.ndarray]:
    kind_x, kind_y, n, dx, dy, seed, scale = draw
    X = degenerate(kind_x, n, dx, seed)
    # Y shares part of X (so agreement is not only chance) and is degenerate in its own way.
    Y = degenerate(kind_y, n, dy, seed + 1)
    Y[:, 0] += X[:, 0] / (np.std(X[:, 0]) or 1.0)
    return X, scale * Y


def in_range(measure: str, value: float, n: float = math.inf) -> bool:
    return measure_range(measure).holds(value, n)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(pairs())
@example(("constant_column", "plain", 6, 1, 1, 0, 1e-08))   # X constant: no centroid distances, p was 0
def test_alignment_figures_stay_in_range_on_degenerate_spaces(draw: tuple) -> None:
    X, Y = paired(draw)
    labels = np.array(["a", "b", "c"])[np.arange(len(X)) % 3]
    figures = align_spaces(X, Y, k=min(3, len(X) - 1), n_boot=20, n_perm=20, seed=draw[5])
    figures["centroid_agreement"] = centroid_agreement(X, Y, labels, n_boot=20, n_perm=20, seed=draw[5])
    table = pd.DataFrame([{"audio": "X", "symbolic": "Y", "measure": name, **estimate.as_dict()}
                          for name, estimate in figures.items()])
    check_table(table, keys=("audio", "symbolic"))   # raises on any value out of range
    assert in_range("cka", linear_cka(X, Y)) and in_range("cka_debiased", debiased_cka(X, Y))


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(pairs(min_n=9))   # 6 training and 3 held-out pairs at least
def test_retrieval_figures_and_canonical_correlations_stay_in_range(draw: tuple) -> None:
    X, Y = paired(draw)
    n = len(X)
    train, test = np.arange(n - n // 3), np.arange(n - n // 3, n)
    outcome = cross_modal_retrieval(X, Y, train=train, test=test, seed=draw[5])
    check_values("canonical_correlation", outcome.cca_correlations, "X × Y")
    for run in outcome.runs:
        for name, estimate in retrieval_figures(run.ranks, n_boot=20, n_perm=20).items():
            for column in ("value", "ci_low", "ci_high", "chance", "null_mean"):
                assert in_range(name, getattr(estimate, column), len(run.ranks)), (run.method, name, column, estimate)
            assert P_VALUE.holds(estimate.p_value)


@settings(derandomize=True)
@given(st.integers(2, 40), st.integers(0, 2**16))
def test_canonical_correlations_of_any_variates_lie_in_the_unit_interval(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    zx = rng.normal(size=(n, 3))
    zx[:, 1] = 0.0                                           # a variate without spread
    correlations = canonical_correlations(zx, np.column_stack([zx[:, 0], zx[:, 1], rng.normal(size=n)]))
    assert correlations[0] == pytest.approx(1.0) and correlations[1] == 0.0
    check_values("canonical_correlation", correlations, "variates")


# --- the checks themselves ---------------------------------------------------------------------


def _long(**changes: float) -> pd.DataFrame:
    row = {"audio": "a", "symbolic": "s", "measure": "cka", "value": 0.5, "ci_low": 0.4, "ci_high": 0.6,
           "chance": 0.1, "null_mean": 0.1, "p_value": 0.01, "n": 20}
    return pd.DataFrame([{**row, **changes}])


@pytest.mark.parametrize("changes, message", [
    ({"value": 1.2}, "value = 1.2 is outside \\[0, 1\\]"),
    ({"ci_high": -0.1, "ci_low": -0.2}, "ci_low = -0.2"),
    ({"p_value": 0.0}, "p_value = 0.0 is outside \\(0, 1\\]"),
    ({"p_value": 1.5}, "p_value = 1.5"),
    ({"ci_low": 0.7}, "reversed"),
    ({"measure": "median_rank", "value": 21.0}, "median_rank of a × s: value = 21.0 is outside \\[1, 20\\]"),
    ({"measure": "mrr", "value": 0.0}, "outside \\(0, 1\\]"),
    ({"measure": "cka_debiased", "value": -1.5}, "cka_debiased of a × s"),
    ({"measure": "mutual_knn@10", "null_mean": 1.1}, "mutual_knn@10 of a × s: null_mean"),
])
def test_a_value_out_of_range_is_an_error_naming_the_measure_and_the_pair(changes: dict, message: str) -> None:
    with pytest.raises(StatisticRangeError, match=message):
        check_table(_long(**changes), keys=("audio", "symbolic"))


def test_values_in_range_pass_and_nan_means_not_computed() -> None:
    table = pd.concat([_long(), _long(measure="cka_debiased", value=-0.01, ci_low=-0.3, ci_high=0.2),
                       _long(measure="median_rank", value=20.0, chance=10.5, null_mean=10.5, ci_low=1.0, ci_high=20.0),
                       _long(value=float("nan"), p_value=float("nan"), ci_low=float("nan"))])
    assert check_table(table, keys=("audio", "symbolic")) is table


def test_a_measure_without_a_declared_range_cannot_be_reported() -> None:
    with pytest.raises(StatisticRangeError, match="no range is declared for the measure 'mystery'"):
        check_table(_long(measure="mystery"), keys=("audio", "symbolic"))
