"""Significance of reported figures: accuracy against chance, and corrections for many tests at once.

Both analysis (the comparison's tables) and probes (the probe table) test figures, and the two
layers never import each other, so what they share lives here, below both.

* :func:`accuracy_p_value`: an exact one-sided binomial test of a held-out accuracy against its
  chance level (the majority-class share).
* :func:`holm_adjust` / :func:`bh_adjust` / :func:`with_adjusted_p_values`: one table's p-values
  adjusted as one family — Holm controls the family-wise error rate (the chance of any false
  rejection), Benjamini–Hochberg the false discovery rate (the expected share of false rejections
  among the rejected).
* :func:`permutations_for_family`: how many permutations a Monte-Carlo p-value needs for a family
  of m tests to be decided at α after Holm; :func:`smallest_holm_p` what a given number allows;
  :func:`family_permutations` the one rule every analysis (comparison, time-aligned comparison, layer
  maps, controlled factors) takes its number from, and :func:`undecidable_family_note` the note when it
  is too few.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

#: The error level every decision of Counterpoint is taken at (family-wise for Holm, FDR for BH).
ALPHA = 0.05
#: Null draws expected beyond a figure whose p-value sits exactly at Holm's first threshold α/m:
#: with 10, the Monte-Carlo p-value there has a relative standard error of about 1/√10 ≈ 0.3.
EXCEEDANCES_AT_THRESHOLD = 10
#: Fewest permutations however small the family.
MIN_PERMUTATIONS = 199
#: The most permutations :func:`family_permutations` raises a p-value to (what the verdict of ten
#: encoder pairs needs): a layer map of 13 × 13 layers would otherwise ask for 33,799 per cell.
MAX_FAMILY_PERMUTATIONS = 9_999


def accuracy_p_value(n_correct: int, n: int, chance: float) -> float:
    """Exact binomial p-value ``P(X ≥ n_correct)``, ``X ~ Binomial(n, chance)``: is the accuracy above chance?

    ``chance`` is the majority-class share of the evaluated tracks: a classifier whose answers carry
    no information about the true class is right with probability at most that share, so the test
    is valid (conservative when the classes are balanced and the classifier guesses among them).
    NaN when there is nothing to test (no track, chance 0 or not finite).
    """
    from scipy.stats import binomtest

    if n <= 0 or not (math.isfinite(chance) and 0.0 < chance <= 1.0):
        return float("nan")
    return float(binomtest(int(n_correct), int(n), min(chance, 1.0), alternative="greater").pvalue)


def holm_adjust(p_values: Sequence[float]) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values of one family of tests (NaN stays NaN, outside the family).

    The i-th smallest of m p-values is multiplied by m − i + 1, then made non-decreasing in that
    order and capped at 1: rejecting where the adjusted p ≤ α controls the family-wise error at α.
    """
    p = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    m = len(order)
    scaled = p[order] * (m - np.arange(m))
    adjusted[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return adjusted


def bh_adjust(p_values: Sequence[float]) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values of one family of tests (NaN stays NaN, outside the family).

    scipy's :func:`~scipy.stats.false_discovery_control` on the finite p-values: rejecting where the
    adjusted p ≤ q controls the false discovery rate at q (for independent or positively dependent tests).
    """
    from scipy.stats import false_discovery_control

    p = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full(p.shape, np.nan)
    finite = np.isfinite(p)
    if finite.any():
        adjusted[finite] = false_discovery_control(p[finite], method="bh")
    return adjusted


def with_adjusted_p_values(table: pd.DataFrame, p_column: str = "p_value") -> pd.DataFrame:
    """A copy of ``table`` with ``p_holm`` and ``p_bh``: every finite p-value of the table is one family.

    Holm controls the chance of any false rejection in the family (family-wise error), Benjamini–Hochberg
    the expected share of false rejections among the rejected (false discovery rate). Rows without a
    p-value get NaN and do not count in the family.
    """
    p = table[p_column].to_numpy(dtype=float) if len(table) else np.zeros(0)
    return table.assign(p_holm=holm_adjust(p), p_bh=bh_adjust(p))


def family_size(table: pd.DataFrame, p_column: str = "p_value") -> int:
    """How many tests a table's family holds: its finite p-values."""
    return int(np.isfinite(table[p_column].to_numpy(dtype=float)).sum()) if len(table) else 0


def smallest_holm_p(m: int, n_perm: int) -> float:
    """The smallest Holm-adjusted p-value m Monte-Carlo tests of ``n_perm`` permutations can reach:
    ``m / (n_perm + 1)`` (each p-value is at least ``1 / (n_perm + 1)``)."""
    return m / (n_perm + 1)


def permutations_for_family(m: int, alpha: float = ALPHA) -> int:
    """Permutations per p-value for a family of ``m`` tests decided at ``alpha`` after Holm.

    Holm's first threshold is ``alpha / m``; a figure whose true p-value sits there should see
    :data:`EXCEEDANCES_AT_THRESHOLD` null draws beyond it, so ``n_perm + 1 = 10·m/alpha``
    (then the smallest reachable Holm p is ``alpha / 10``). Never fewer than :data:`MIN_PERMUTATIONS`.
    """
    return max(MIN_PERMUTATIONS, math.ceil(EXCEEDANCES_AT_THRESHOLD * m / alpha) - 1)


def family_permutations(n_perm: int, m: int, *, scale: bool = True, alpha: float = ALPHA) -> int:
    """Permutations per p-value for a table whose ``m`` tests form one Holm family: ``n_perm`` (the
    fewest), raised when ``scale`` to :func:`permutations_for_family` ``(m)`` but not beyond
    :data:`MAX_FAMILY_PERMUTATIONS`."""
    if not scale:
        return n_perm
    return max(n_perm, min(permutations_for_family(m, alpha), MAX_FAMILY_PERMUTATIONS))


def undecidable_family_note(table: str, m: int, n_perm: int, *, alpha: float = ALPHA,
                            fixed: bool = False) -> str | None:
    """A note when a family of ``m`` tests of ``n_perm`` permutations each cannot be decided at ``alpha``
    after Holm (its smallest reachable adjusted p, ``m / (n_perm + 1)``, is not below ``alpha``); None otherwise.
    ``fixed``: ``n_perm`` was taken as given (``--fixed-n-perm``), and the note says it can be left out."""
    if not m or smallest_holm_p(m, n_perm) < alpha:
        return None
    return (f"{table}: {m} tests with {n_perm} permutations each — the smallest Holm-adjusted p any of them can "
            f"reach is {smallest_holm_p(m, n_perm):.3g}, not below {alpha}: too few permutations to decide at "
            f"{alpha}; use --n-perm {permutations_for_family(m, alpha)}" + (" (or leave out --fixed-n-perm)" if fixed else ""))


#: The three verdicts a figure can get (:func:`verdict_of`), and the one for a figure not computed.
ABOVE_CHANCE = "above chance"
TOUCHES_CHANCE = "above chance, but the interval touches chance"
CANNOT_TELL = "cannot be told from chance"
NOT_COMPUTED = "not computed"


#: :func:`verdict_of` in words, as the report and the terminal print it.
VERDICT_RULE = (f"A figure is {ABOVE_CHANCE} when its Holm-adjusted p < {ALPHA} and its 95 % interval lies above "
                f"chance; {TOUCHES_CHANCE} when p < {ALPHA} but the interval reaches chance; {CANNOT_TELL} when "
                f"p ≥ {ALPHA}. Chance is the figure's chance level, else the mean of its null.")


def verdict_of(p_holm: float, ci_low: float, reference: float, *, alpha: float = ALPHA) -> str:
    """The one rule every verdict sentence follows (:data:`VERDICT_RULE`), for one figure against its
    chance level ``reference`` (its chance, else the mean of its null):

    * :data:`ABOVE_CHANCE` when its Holm-adjusted p < ``alpha`` **and** its 95 % interval lies above chance
      (lower end > ``reference``);
    * :data:`TOUCHES_CHANCE` when p < ``alpha`` but the interval reaches down to chance or below: the test
      says "above", the interval cannot rule chance out — a weaker answer, worded apart;
    * :data:`CANNOT_TELL` when p ≥ ``alpha``;
    * :data:`NOT_COMPUTED` when there is no p-value or no chance level.
    """
    if not (math.isfinite(p_holm) and math.isfinite(reference)):
        return NOT_COMPUTED
    if p_holm >= alpha:
        return CANNOT_TELL
    return ABOVE_CHANCE if math.isfinite(ci_low) and ci_low > reference else TOUCHES_CHANCE
