"""Uncertainty for every figure: bootstrap confidence intervals and permutation p-values.

Two resampling schemes, chosen by what a statistic is made of:

* **Per-track scores** (a retrieval rank, a correct/incorrect prediction, one track's
  neighbour overlap) are computed once and their mean is bootstrapped by resampling tracks
  with replacement (:func:`bootstrap_ci`).
* **Pairwise statistics** (CKA, RSA) compare every track with every other. Resampling with
  replacement puts copies of a track in the sample, and a copy is a perfect match of itself
  in both spaces, which inflates exactly what is measured. Those statistics are resampled by
  *half-sampling*: random halves of the tracks, drawn without replacement. For an
  asymptotically linear statistic ``Var(θ_{N/2} − θ_N) ≈ σ²(2/N − 1/N) = Var(θ_N)``, so the
  spread of half-sample estimates is the spread of the full estimate (McCarthy 1969), and
  :func:`half_sample_ci` turns it into a basic (reflected) interval around ``θ_N``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from counterpoint.config import N_BOOT
# Shared with the probes (which never import analysis): kept importable from here for the analyses.
from counterpoint.significance import bh_adjust, holm_adjust, with_adjusted_p_values  # noqa: F401

#: Coverage of every confidence interval Counterpoint reports.
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    """One figure with its uncertainty.

    ``value`` is the full-sample estimate, ``ci_low``/``ci_high`` a 95 % interval (NaN when
    not computed), ``p_value`` a one-sided p-value, permutation or exact (NaN when no null applies), ``n`` the
    number of tracks behind ``value``, ``n_resample`` the number of tracks behind the
    interval and the p-value (smaller than ``n`` when they ran on a subsample), ``chance``
    the figure's value at chance (NaN when there is none), ``null_mean`` the mean of the
    permutation null.
    """

    value: float
    ci_low: float = float("nan")
    ci_high: float = float("nan")
    p_value: float = float("nan")
    n: int = 0
    n_resample: int = 0
    chance: float = float("nan")
    null_mean: float = float("nan")

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        """Flat ``{prefix + field: value}`` for a table row."""
        return {f"{prefix}{key}": value for key, value in asdict(self).items()}


def percentile_interval(samples: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The central ``confidence`` percentile interval of bootstrap samples (NaNs ignored)."""
    samples = np.asarray(samples, dtype=np.float64)
    samples = samples[np.isfinite(samples)]
    if samples.size == 0:
        return float("nan"), float("nan")
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(samples, [tail, 100.0 - tail])
    return float(low), float(high)


def bootstrap_ci(scores: np.ndarray, *, statistic: Callable[[np.ndarray], float] | None = None,
                 n_boot: int = N_BOOT, seed: int = 0, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` over per-track ``scores`` (resampling tracks).

    ``scores`` is ``[N]`` or ``[N, ...]`` (rows are tracks); ``statistic`` maps resampled
    rows to one number and defaults to the mean.
    """
    scores = np.asarray(scores)
    n = len(scores)
    if n == 0 or n_boot <= 0:
        return float("nan"), float("nan")
    statistic = statistic or (lambda rows: float(np.mean(rows)))
    samples = np.array([statistic(scores[rows]) for rows in bootstrap_indices(n, n_boot, seed)])
    return percentile_interval(samples, confidence)


def bootstrap_indices(n: int, n_boot: int, seed: int = 0) -> np.ndarray:
    """``[n_boot, n]`` row indices, one bootstrap resample (with replacement) of ``range(n)`` per row:
    the resamples :func:`bootstrap_ci` takes, for statistics computed on all of them at once."""
    return np.random.default_rng(seed).integers(0, n, (max(n_boot, 0), n))


def half_sample_ci(estimate: float, half_estimates: np.ndarray, *, scale: float = 1.0,
                   bounds: tuple[float, float] = (-np.inf, np.inf),
                   confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Basic (reflected) interval from half-sample estimates around the full estimate.

    The deviations ``q − mean(θ_half)`` of the half-sample quantiles ``q`` are reflected
    around ``estimate``. Centring on the mean of the half-sample estimates removes their
    extra small-sample bias (CKA grows as N shrinks), so the interval keeps the spread but
    not the shift. ``scale`` multiplies the deviations: ``sqrt(m / N)`` when the halves were
    drawn from a subsample of ``m`` of the ``N`` tracks behind ``estimate``. A reflected
    interval can leave the statistic's range (CKA near 0); ``bounds`` clips it to the range.
    """
    half_estimates = np.asarray(half_estimates, dtype=np.float64)
    half_estimates = half_estimates[np.isfinite(half_estimates)]
    if half_estimates.size == 0 or not np.isfinite(estimate):
        return float("nan"), float("nan")
    low_q, high_q = percentile_interval(half_estimates, confidence)
    centre = float(np.mean(half_estimates))
    low = float(np.clip(estimate - scale * (high_q - centre), *bounds))
    high = float(np.clip(estimate - scale * (low_q - centre), *bounds))
    return low, high


def half_samples(n: int, n_draws: int, seed: int = 0) -> list[np.ndarray]:
    """``n_draws`` random halves (``⌊n/2⌋`` sorted indices each, no repeats) of ``range(n)``."""
    rng = np.random.default_rng(seed)
    return [np.sort(rng.permutation(n)[: n // 2]) for _ in range(n_draws)]


def permutation_p_value(observed: float, null: np.ndarray, alternative: str = "greater") -> float:
    """Monte-Carlo permutation p-value ``(1 + #{null ≥ observed}) / (1 + n_perm)``.

    ``alternative`` is ``"greater"`` (large values are evidence) or ``"less"``. The +1 counts
    the observed arrangement as one of the permutations, so the p-value is never 0.
    """
    null = np.asarray(null, dtype=np.float64)
    null = null[np.isfinite(null)]
    if null.size == 0 or not np.isfinite(observed):
        return float("nan")
    if alternative == "greater":
        extreme = np.sum(null >= observed - 1e-12 * abs(observed))
    elif alternative == "less":
        extreme = np.sum(null <= observed + 1e-12 * abs(observed))
    else:
        raise ValueError(f"alternative must be 'greater' or 'less', not {alternative!r}")
    return float((1 + extreme) / (1 + null.size))


def subsample_indices(n: int, max_n: int | None, seed: int = 0) -> np.ndarray:
    """All of ``range(n)`` when ``n ≤ max_n`` (or no cap), else a sorted seeded subsample."""
    if max_n is None or n <= max_n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_n, replace=False))


