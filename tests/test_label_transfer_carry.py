"""Label transfer carries test rows through the cheaper product: large folds never hold a test × train matrix,
and the figures are those of the test × train operator."""

from __future__ import annotations

import numpy as np
import pytest

from counterpoint.analysis import label_structure
from counterpoint.analysis.label_structure import _CarriedScores, _ridge_factor, _ridge_operator, label_transfer
from counterpoint.probe_protocol import plan_protocol

# float64 products of O(1) standardised values summed over at most a few hundred terms, in another order
TOLERANCE = 1e-9


@pytest.mark.parametrize("n_train, d", [(60, 4), (6, 20)])   # primal and dual form of the ridge map
def test_the_factor_times_the_test_rows_is_the_operator(n_train: int, d: int) -> None:
    rng = np.random.default_rng(0)
    source_train, source_test = rng.normal(size=(n_train, d)), rng.normal(size=(30, d))
    np.testing.assert_allclose(source_test @ _ridge_factor(source_train, 10.0),
                               _ridge_operator(source_train, source_test, 10.0), atol=TOLERANCE)


def test_large_folds_carry_through_the_factor_and_score_as_the_operator_does() -> None:
    rng = np.random.default_rng(1)
    source_train, source_test = rng.normal(size=(400, 8)), rng.normal(size=(200, 8))
    projected, intercept = rng.normal(size=(400, 3)), rng.normal(size=3)
    carried = _CarriedScores.fit(source_train, source_test, 1.0, projected, intercept)
    assert not carried.through_tracks and carried.factor.shape == (8, 400)   # never [200, 400]
    operator = _ridge_operator(source_train, source_test, 1.0)
    np.testing.assert_allclose(carried.scores(), operator @ projected + intercept, atol=TOLERANCE)
    draws = rng.normal(size=(5, 400, 3))
    np.testing.assert_allclose(carried.scores(draws), np.matmul(operator, draws) + intercept, atol=TOLERANCE)
    small = _CarriedScores.fit(source_train[:20], source_test[:5], 1.0, projected[:20], intercept)
    assert small.through_tracks and small.factor.shape == (5, 20)


def test_label_transfer_gives_the_same_figures_through_either_product(monkeypatch) -> None:
    rng = np.random.default_rng(2)
    labels = np.repeat(["jig", "reel", "polka"], 40)
    codes = np.repeat(np.arange(3), 40)
    latent = rng.normal(size=(3, 3))[codes] * 2.0 + rng.normal(size=(120, 3))
    audio = latent + 0.3 * rng.normal(size=(120, 3))     # 3 dimensions: the factor is the cheaper product
    score = latent @ rng.normal(size=(3, 6)) + 0.3 * rng.normal(size=(120, 6))
    plan = plan_protocol(labels, seed=0, n_repeats=1)
    factored = label_transfer(audio, score, labels, folds=plan.folds, repeat_of_fold=plan.repeat_of_fold,
                              n_boot=50, n_perm=99)

    def through_tracks(cls, source_train, source_test, alpha, projected, intercept):
        return cls(source_test, _ridge_operator(source_train, source_test, alpha), True, projected, intercept)

    monkeypatch.setattr(label_structure._CarriedScores, "fit", classmethod(through_tracks))
    operator = label_transfer(audio, score, labels, folds=plan.folds, repeat_of_fold=plan.repeat_of_fold,
                              n_boot=50, n_perm=99)
    np.testing.assert_array_equal(factored.correct, operator.correct)
    np.testing.assert_array_equal(factored.null, operator.null)
    assert factored.estimate == operator.estimate and factored.estimate.value > 0.6
