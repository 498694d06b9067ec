"""Cross-modal retrieval: ranks by hand, chance levels, and the controls."""

from __future__ import annotations

import numpy as np
import pytest

from counterpoint.analysis.retrieval import (
    canonical_correlations,
    chance_levels,
    cross_modal_retrieval,
    pair_ranks,
    retrieval_figures,
    share_space,
)
from counterpoint.encoders.registry import build_encoder
from counterpoint.errors import CounterpointError


def test_pair_ranks_by_hand():
    queries = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    candidates = np.array([[0.0, 1.0], [0.1, 1.0], [1.0, 0.9]])
    # query 0 ≈ x axis: cosine to candidates (0, 0.0995, 0.74) → its partner (0) is last: rank 3
    # query 1 = y axis: (1, 0.995, 0.67) → partner 1 second: rank 2
    # query 2 diagonal: (0.707, 0.774, 0.9988) → partner 2 first: rank 1
    assert pair_ranks(queries, candidates).tolist() == [3.0, 2.0, 1.0]


def test_ties_share_their_mean_rank():
    same = np.ones((4, 3))
    assert pair_ranks(same, same).tolist() == [2.5] * 4   # = chance median rank for N = 4


def test_chance_levels():
    levels = chance_levels(4, ks=(1, 5))
    assert levels["recall@1"] == 0.25 and levels["recall@5"] == 1.0
    assert levels["median_rank"] == 2.5
    assert levels["mrr"] == pytest.approx((1 + 1 / 2 + 1 / 3 + 1 / 4) / 4)


def test_figures_of_known_ranks():
    ranks = np.array([1.0, 2.0, 4.0, 10.0, 20.0])
    figures = retrieval_figures(ranks, ks=(1, 5, 10), n_boot=50, n_perm=99)
    assert figures["recall@1"].value == pytest.approx(0.2)
    assert figures["recall@5"].value == pytest.approx(0.6)
    assert figures["recall@10"].value == pytest.approx(0.8)
    assert figures["median_rank"].value == 4.0
    assert figures["mrr"].value == pytest.approx((1 + 0.5 + 0.25 + 0.1 + 0.05) / 5)
    assert figures["recall@1"].chance == pytest.approx(1 / 5) and figures["median_rank"].chance == 3.0


def _split(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.arange(int(0.7 * n)), np.arange(int(0.7 * n), n)


def test_rotated_rescaled_copy_is_retrieved_perfectly_by_every_method():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 12))
    Y = 4.0 * X @ np.linalg.qr(rng.normal(size=(12, 12)))[0] - 1.0
    train, test = _split(200)
    outcome = cross_modal_retrieval(X, Y, train=train, test=test, labels=rng.integers(0, 3, 200), shared_space=True)
    assert {(run.method, run.direction) for run in outcome.runs} == {
        (m, d) for m in ("ridge", "cca", "shared") for d in ("audio→symbolic", "symbolic→audio")}
    for run in outcome.runs:
        if run.method != "shared":   # a rotation is not the identity: direct cosine cannot undo it
            assert (run.ranks == 1).all(), run.method
    identical = cross_modal_retrieval(X, 2.0 * X, train=train, test=test, shared_space=True)
    assert all((run.ranks == 1).all() for run in identical.runs if run.method == "shared")
    assert outcome.cca_test_x.shape == outcome.cca_test_y.shape == (len(test), outcome.runs[2].settings["components"])


def test_shuffled_pairing_retrieves_at_chance():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 10))
    Y = X @ rng.normal(size=(10, 8)) + 0.1 * rng.normal(size=(300, 8))
    Y = Y[rng.permutation(300)]                  # break the pairing
    train, test = _split(300)
    for run in cross_modal_retrieval(X, Y, train=train, test=test).runs:
        figures = retrieval_figures(run.ranks, n_boot=50, n_perm=199)
        assert figures["mrr"].ci_low <= figures["mrr"].chance <= figures["mrr"].ci_high + 0.02
        assert figures["median_rank"].value == pytest.approx(figures["median_rank"].chance, rel=0.3)
        assert figures["mrr"].p_value > 0.01


def test_noisy_relation_beats_chance_with_small_p():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 10))
    Y = X[:, :6] @ rng.normal(size=(6, 9)) + 1.0 * rng.normal(size=(300, 9))
    train, test = _split(300)
    for run in cross_modal_retrieval(X, Y, train=train, test=test).runs:
        figures = retrieval_figures(run.ranks, n_boot=50, n_perm=99)
        assert figures["recall@10"].value > 3 * figures["recall@10"].chance
        assert figures["mrr"].p_value == pytest.approx(0.01)


def test_mapping_is_fitted_on_training_pairs_only():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 6))
    Y = X @ rng.normal(size=(6, 5)) + 0.5 * rng.normal(size=(120, 5))
    train, test = _split(120)
    first = cross_modal_retrieval(X, Y, train=train, test=test)
    X2, Y2 = X.copy(), Y.copy()
    X2[test] = 1000.0 * rng.normal(size=(len(test), 6))  # wild held-out values
    Y2[test] *= -50.0
    second = cross_modal_retrieval(X2, Y2, train=train, test=test)
    assert [run.settings for run in first.runs] == [run.settings for run in second.runs]
    np.testing.assert_allclose(first.cca_correlations, second.cca_correlations)


def test_shared_space_as_the_encoders_declare_it_and_dimension_check():
    def space(spec: str) -> str | None:
        return build_encoder(spec).shared_space

    assert space("clamp3-audio") == "clamp3:variant=saas"
    assert share_space(space("clamp3-audio"), space("clamp3-symbolic:device=cpu"))
    assert share_space(space("clamp3-audio:variant=c2"), space("clamp3-symbolic:variant=c2"))
    assert not share_space(space("clamp3-audio"), space("clamp3-symbolic:variant=c2"))   # two different joint spaces
    assert not share_space(space("clamp3-audio"), space("symbolic-stats"))
    assert not share_space(space("musicnn"), space("clamp2"))
    assert not share_space(None, None)   # a store written before spaces were recorded: no shared space
    rng = np.random.default_rng(4)
    with pytest.raises(CounterpointError, match="dimensions 4 and 3"):
        cross_modal_retrieval(rng.normal(size=(40, 4)), rng.normal(size=(40, 3)), train=np.arange(30),
                              test=np.arange(30, 40), shared_space=True)
    with pytest.raises(CounterpointError, match="at least 6 training"):
        cross_modal_retrieval(rng.normal(size=(8, 4)), rng.normal(size=(8, 3)), train=np.arange(4),
                              test=np.arange(4, 8))


@pytest.mark.parametrize("n, dim", [(60, 40), (40, 80), (100, 10)])
def test_canonical_correlations_are_correlations_of_the_canonical_variates(n, dim):
    # Regularised CCA's singular values exceed 1 when shrinkage lowers large eigenvalues
    # (1.3-1.8 on these); what is reported is the correlation of each pair of variates.
    rng = np.random.default_rng(5)
    X = rng.normal(size=(n, dim)) * np.linspace(0.1, 5, dim)
    Y = X[:, :dim // 2] @ rng.normal(size=(dim // 2, dim)) + rng.normal(size=(n, dim))
    train, test = _split(n)
    outcome = cross_modal_retrieval(X, Y, train=train, test=test)
    correlations = outcome.cca_correlations
    assert len(correlations) == outcome.runs[2].settings["components"]
    assert np.all((correlations >= 0) & (correlations <= 1))


def test_canonical_correlations_by_hand():
    rng = np.random.default_rng(6)
    zx = rng.normal(size=(30, 3))
    zy = np.column_stack([2 * zx[:, 0] + 1, zx[:, 1] + rng.normal(size=30), rng.normal(size=30)])
    by_hand = [np.corrcoef(zx[:, j], zy[:, j])[0, 1] for j in range(3)]
    np.testing.assert_allclose(canonical_correlations(zx, zy), np.clip(by_hand, 0, 1), atol=1e-12)
    assert canonical_correlations(zx, zy)[0] == pytest.approx(1.0)
