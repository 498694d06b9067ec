"""The tests' float tolerance policy: float32 reorderings pass, the bugs a parity test is for fail."""

from __future__ import annotations

import numpy as np
import pytest

from float_tolerance import (FLOAT32_EPS, assert_bitwise_equal, assert_float32_close, assert_rounded_float32_close,
                             column_scale, float32_tolerance, largest_magnitude)


def reordered_products(seed: int = 0) -> tuple[np.ndarray, np.ndarray, int]:
    """One float32 matrix product two ways: BLAS, and a float32 sum of the same terms in reverse order."""
    rng = np.random.default_rng(seed)
    left = rng.standard_normal((64, 1025)).astype(np.float32)
    right = (rng.random((1025, 40)) * np.linspace(1.0, 1000.0, 40)).astype(np.float32)  # columns of other scales
    blas = left @ right
    by_hand = np.zeros_like(blas)
    for k in range(left.shape[1] - 1, -1, -1):  # sequential float32 sum, last term first
        by_hand += left[:, k:k + 1] * right[k]
    return blas, by_hand, left.shape[1]


def test_a_reordered_float32_sum_is_within_the_tolerance_and_not_bitwise_equal() -> None:
    blas, by_hand, terms = reordered_products()
    assert not np.array_equal(blas, by_hand)  # the reordering does round differently
    assert_float32_close(blas, by_hand, scale=column_scale(by_hand), terms=terms)
    with pytest.raises(AssertionError, match="differ in their bits"):
        assert_bitwise_equal(blas, by_hand)


@pytest.mark.parametrize("bug", ["swapped columns", "missing normalisation", "shifted frame", "one value off"])
def test_the_bugs_a_parity_test_is_for_fail(bug: str) -> None:
    _, expected, terms = reordered_products()
    actual = expected.copy()
    if bug == "swapped columns":
        actual[:, [3, 4]] = actual[:, [4, 3]]
    elif bug == "missing normalisation":
        actual = actual * 1.01  # even a 1 % gain error
    elif bug == "shifted frame":
        actual = np.roll(actual, 1, axis=0)
    else:
        actual[10, 7] += 1e-3 * np.abs(expected[:, 7]).max()  # a thousandth of the column's scale
    with pytest.raises(AssertionError, match="more than float32 error allows"):
        assert_float32_close(actual, expected, scale=column_scale(expected), terms=terms)


def test_the_tolerance_is_lambda_sqrt_terms_float32_steps_of_the_scale() -> None:
    assert FLOAT32_EPS == 2.0 ** -23
    assert float32_tolerance(2.0, terms=1024) == pytest.approx(8 * 32 * 2.0 ** -23 * 2.0, rel=1e-15)
    np.testing.assert_array_equal(column_scale(np.array([[1.0, -5.0], [-3.0, 2.0]])), [3.0, 5.0])
    with pytest.raises(ValueError, match="terms"):
        float32_tolerance(1.0, terms=0)
    with pytest.raises(ValueError, match="scale"):
        float32_tolerance(np.nan)


def test_shapes_nans_and_signed_zeros() -> None:
    with pytest.raises(AssertionError, match="shapes differ"):
        assert_float32_close(np.zeros(3), np.zeros(4), scale=1.0)
    with pytest.raises(AssertionError, match="NaNs"):
        assert_float32_close(np.array([np.nan, 1.0]), np.array([1.0, np.nan]), scale=1.0)
    assert_float32_close(np.array([np.nan, 1.0]), np.array([np.nan, 1.0]), scale=1.0)
    with pytest.raises(AssertionError, match=r"float32\(2,\) vs float64"):
        assert_bitwise_equal(np.zeros(2, np.float32), np.zeros(2))
    with pytest.raises(AssertionError, match="differ in their bits"):
        assert_bitwise_equal(np.array([0.0, 1.0]), np.array([-0.0, 1.0]))
    assert_bitwise_equal(np.array([np.nan, 1.0])[::-1], np.array([1.0, np.nan]))


def test_float64_sums_rounded_once_to_float32_are_one_step_apart_at_most() -> None:
    rng = np.random.default_rng(5)
    terms = rng.standard_normal((500, 64))
    forward, backward = terms.sum(axis=1), terms[:, ::-1].sum(axis=1)  # float64 sums in two orders
    assert not np.array_equal(forward, backward)
    rounded, other = forward.astype(np.float32), backward.astype(np.float32)
    assert_rounded_float32_close(rounded, other, scale=largest_magnitude)
    wrong = other.copy()
    wrong[7] += 4 * FLOAT32_EPS * np.abs(other).max()  # four float32 steps of the scale
    with pytest.raises(AssertionError, match="one float32 rounding"):
        assert_rounded_float32_close(rounded, wrong, scale=largest_magnitude)
