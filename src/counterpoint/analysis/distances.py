"""Distribution distances between two sets of tracks in one embedding space: is set B distributed like set A?

The two sets are two ``--where`` selections of one store (rendered vs recorded audio, SoundFont A vs B,
ground-truth vs transcribed MIDI) or two stores embedded with the same encoder. Each track is one sample: its
pooled embedding (fadtk pools every frame of every file into one sample set instead; one vector per track keeps
the samples independent, so the bootstrap, the permutation test and the per-track contributions resample units
that are). Named descriptors (``audio-stats``, ``symbolic-stats``) are z-scored over both sets together first,
as the comparison z-scores them, so that no unit (Hz beside a share) makes the whole distance.

* **Fréchet distance** (:func:`frechet_distance`; FAD for an audio encoder, FMD for a symbolic one):
  ``‖μ_a − μ_b‖² + tr(Σ_a + Σ_b − 2 (Σ_a^½ Σ_b Σ_a^½)^½)`` of the Gaussians with the sets' means and
  covariances, in float64. The trace of the matrix square root is the sum of the square roots of the
  eigenvalues of the symmetric PSD matrix ``Σ_a^½ Σ_b Σ_a^½`` (``Σ_a^½`` from ``eigh``, eigenvalues clipped at
  0), or — when a set has fewer tracks than dimensions — the sum of the singular values of ``A Bᵀ`` for the
  centred data matrices, ``/ √((n_a − 1)(n_b − 1))``. Both are real and ≥ 0 (``scipy.linalg.sqrtm`` of the
  non-symmetric ``Σ_a Σ_b`` is not, on rank-deficient covariances).
* **FD∞** (:func:`extrapolate_frechet`): the Fréchet distance of a finite sample is biased upwards by about
  ``c / n``; it is computed on random subsamples of both sets (fractions of each, without replacement), fitted
  as ``FD = FD∞ + c · (1/n_a + 1/n_b)`` by least squares and extrapolated to infinitely many tracks
  (Chong & Forsyth 2020; FAD∞ of Gui et al. 2024).
* **MMD²** (:func:`mmd2_unbiased`): the unbiased estimate of the squared maximum mean discrepancy (Gretton et
  al. 2012) with the Gaussian kernel ``exp(−‖x − y‖² / (2σ²))``, σ the median pairwise distance of the pooled
  tracks (the median heuristic); it can be below 0, its mean over samples of one distribution is 0.
* **KAD** (kernel audio distance, Chung et al. 2025, as kadtk computes it): the same unbiased MMD² with the
  Gaussian kernel whose σ is the median pairwise distance of the reference set (``--a``), times 100.

With ``paired`` (a column naming the piece behind each track, when both sets hold the same pieces rendered or
transcribed two ways) the sets are matched samples, not independent ones: the permutations swap the two tracks of
each pair and the bootstrap resamples pairs (reshuffling over all tracks would break the pairs and make the null
too wide). Every figure has a 95 % bootstrap interval (each set resampled with replacement on its own): for the Fréchet
distance the resamples' deviations from their mean reflected around the estimate (a resample's copies bias it
upwards), for the kernel distances the percentile interval (a drawn track is never paired with a copy of
itself, so a resample stays unbiased), the Fréchet distance and MMD² a permutation
p-value of "the two sets come from one distribution" (pooled tracks, set labels reshuffled), Holm- and
BH-adjusted over every test of every encoder compared; each track's contribution is how much the distance
falls when it is left out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from counterpoint.analysis.compare import standardise_features
from counterpoint.analysis.pairwise import family_notes, family_table
from counterpoint.analysis.statistics import CONFIDENCE, half_sample_ci, percentile_interval, permutation_p_value
from counterpoint.blas import single_threaded_blas
from counterpoint.config import DistanceSettings
from counterpoint.errors import CounterpointError, StoreError
from counterpoint.matrix import require_column
from counterpoint.ranges import Range, check_table, declare_measure
from counterpoint.results import TabledResult
from counterpoint.significance import family_permutations

if TYPE_CHECKING:
    from counterpoint.matrix import EmbeddingMatrix
    from counterpoint.store import Store

#: Fewest tracks a set needs per encoder: a covariance, a bootstrap and a leave-one-out need several.
MIN_TRACKS = 5
#: kadtk's scale of KAD (its ``SCALE_FACTOR``): KAD = 100 · MMD².
KAD_SCALE = 100.0
#: Random subsamples per size FD∞ is fitted on (the full sets: one).
EXTRAPOLATION_DRAWS = 4
#: Rows of pooled tracks × permutations multiplied at once in the kernel permutation test (memory: 8 bytes each).
_PERMUTATION_BLOCK = 2_000_000

FRECHET = declare_measure(
    "frechet_distance", Range(0.0, math.inf), title="Fréchet distance",
    prose="Fréchet distance (FAD for audio encoders, FMD for symbolic ones): the distance between the Gaussians "
          "with the two sets' means and covariances, 0 for the same mean and covariance, in squared units of the "
          "embedding; its p-value tests it against the two sets' labels reshuffled over the pooled tracks.")
FRECHET_INF = declare_measure(
    "frechet_distance_inf", Range(-math.inf, math.inf), title="FD∞",
    prose="FD∞: the Fréchet distance extrapolated to infinitely many tracks from subsamples of both sets "
          "(FD = FD∞ + c·(1/n_a + 1/n_b), least squares), free of the upward bias of a finite sample; an "
          "extrapolation, so noise can put it below 0; its interval is the fit's (subsampling noise only).")
MMD2 = declare_measure(
    "mmd2", Range(-2.0, 2.0), title="MMD² (unbiased)",
    prose="MMD²: the unbiased squared maximum mean discrepancy with a Gaussian kernel whose bandwidth is the median "
          "pairwise distance of the pooled tracks; 0 on average for one distribution (so it can be below 0); its "
          "p-value tests it against the sets' labels reshuffled.")
KAD = declare_measure(
    "kad", Range(-2.0 * KAD_SCALE, 2.0 * KAD_SCALE), title="KAD",
    prose="KAD (kernel audio distance, as kadtk computes it): unbiased MMD² with a Gaussian kernel whose bandwidth "
          "is the median pairwise distance of the reference set A, times 100.")

#: Columns of the distance table, one row per encoder × measure.
COLUMNS = ["encoder", "modality", "name", "measure", "value", "ci_low", "ci_high", "p_value", "p_holm", "p_bh",
           "null_mean", "n_a", "n_b", "dim", "bandwidth"]
#: Columns of the per-track contributions.
CONTRIBUTION_COLUMNS = ["encoder", "set", "id", "audio_filename", "frechet_change", "mmd2_change", "rank"]


# ---- the Fréchet distance ------------------------------------------------------------------------------------

def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric PSD matrix, from ``eigh`` with its eigenvalues clipped at 0."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance_gaussians(first: tuple[np.ndarray, np.ndarray], second: tuple[np.ndarray, np.ndarray]) -> float:
    """Fréchet (2-Wasserstein²) distance between the Gaussians ``first = (μ_a, Σ_a)`` and ``second = (μ_b, Σ_b)``.

    ``‖μ_a − μ_b‖² + tr Σ_a + tr Σ_b − 2 Σ √λ_i`` with λ the eigenvalues of the symmetric PSD matrix
    ``Σ_a^½ Σ_b Σ_a^½`` (clipped at 0), in float64: real and ≥ 0 (a rounding below 0 is returned as 0).
    """
    mean_a, cov_a = (np.asarray(part, dtype=np.float64) for part in first)
    mean_b, cov_b = (np.asarray(part, dtype=np.float64) for part in second)
    d = mean_a.shape[0]
    if mean_b.shape != (d,) or cov_a.shape != (d, d) or cov_b.shape != (d, d):
        raise ValueError(f"means of shape [d] and covariances of shape [d, d] with one d, got {mean_a.shape}, "
                         f"{cov_a.shape}, {mean_b.shape}, {cov_b.shape}")
    root = _psd_sqrt(cov_a)
    middle = root @ cov_b @ root
    trace_root = float(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2.0), 0.0, None)).sum())
    value = float(np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_root)
    return max(value, 0.0)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between the rows of ``a`` [n_a, d] and ``b`` [n_b, d] (sample means, covariances with
    ``n − 1``), float64, real and ≥ 0 even when a set has fewer rows than dimensions.

    With fewer rows than dimensions the trace of the root is the nuclear norm of ``A Bᵀ`` (centred rows) over
    ``√((n_a − 1)(n_b − 1))`` — the singular values of an ``n_a × n_b`` matrix — else
    :func:`frechet_distance_gaussians` of the moments (``d × d``).
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or len(a) < 2 or len(b) < 2:
        raise ValueError(f"two matrices [n, d] with one d and n ≥ 2 each, got {a.shape} and {b.shape}")
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    centred_a, centred_b = a - mean_a, b - mean_b
    if min(len(a), len(b)) <= a.shape[1]:
        scale = math.sqrt((len(a) - 1) * (len(b) - 1))
        trace_root = float(np.linalg.svd(centred_a @ centred_b.T, compute_uv=False).sum()) / scale
        value = float(np.sum((mean_a - mean_b) ** 2) + np.sum(centred_a ** 2) / (len(a) - 1)
                      + np.sum(centred_b ** 2) / (len(b) - 1) - 2.0 * trace_root)
        return max(value, 0.0)
    return frechet_distance_gaussians((mean_a, centred_a.T @ centred_a / (len(a) - 1)),
                                      (mean_b, centred_b.T @ centred_b / (len(b) - 1)))


@dataclass(frozen=True)
class Extrapolation:
    """FD∞ and its fit: ``value`` (the intercept at 1/n = 0) with its 95 % interval from the least-squares fit,
    ``slope`` (the ``c`` of ``c · (1/n_a + 1/n_b)``), ``r2`` of the fit, and the points it was fitted on."""

    value: float
    ci_low: float
    ci_high: float
    slope: float
    r2: float
    points: pd.DataFrame


def extrapolate_frechet(inverse_n: Sequence[float], distances: Sequence[float]) -> Extrapolation:
    """Fit ``distances = FD∞ + c · inverse_n`` by least squares (``inverse_n``: ``1/n_a + 1/n_b`` of each
    subsample) and return FD∞ with the t interval of the intercept (NaN with fewer than 3 distinct sizes)."""
    from scipy import stats

    x, y = np.asarray(inverse_n, dtype=np.float64), np.asarray(distances, dtype=np.float64)
    points = pd.DataFrame({"inverse_n": x, "frechet_distance": y})
    if len(np.unique(x)) < 3:
        return Extrapolation(math.nan, math.nan, math.nan, math.nan, math.nan, points)
    fit = stats.linregress(x, y)
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2.0, len(x) - 2) * fit.intercept_stderr)
    return Extrapolation(float(fit.intercept), float(fit.intercept) - half, float(fit.intercept) + half,
                         float(fit.slope), float(fit.rvalue ** 2), points)


def frechet_at_infinity(a: np.ndarray, b: np.ndarray, *, steps: int = 10, min_fraction: float = 0.5,
                        seed: int = 0) -> Extrapolation:
    """:func:`extrapolate_frechet` of the Fréchet distances of random subsamples (without replacement) of
    ``steps`` evenly spaced fractions ``min_fraction … 1`` of each set, :data:`EXTRAPOLATION_DRAWS` per
    fraction (one of the whole sets)."""
    rng = np.random.default_rng(seed)
    inverse_n, distances = [], []
    for fraction in np.linspace(min_fraction, 1.0, steps):
        size_a, size_b = max(2, round(fraction * len(a))), max(2, round(fraction * len(b)))
        draws = 1 if (size_a, size_b) == (len(a), len(b)) else EXTRAPOLATION_DRAWS
        for _ in range(draws):
            rows_a = rng.choice(len(a), size_a, replace=False)
            rows_b = rng.choice(len(b), size_b, replace=False)
            inverse_n.append(1.0 / size_a + 1.0 / size_b)
            distances.append(frechet_distance(a[rows_a], b[rows_b]))
    return extrapolate_frechet(inverse_n, distances)


# ---- the kernel distances -------------------------------------------------------------------------------------

def median_bandwidth(x: np.ndarray) -> float:
    """The median heuristic: the median Euclidean distance between distinct rows of ``x`` (pairs at distance 0
    left out; 1.0 when every row is the same)."""
    from scipy.spatial.distance import pdist

    distances = pdist(np.asarray(x, dtype=np.float64))
    distances = distances[distances > 0]
    return float(np.median(distances)) if distances.size else 1.0


def gaussian_kernel(x: np.ndarray, y: np.ndarray, *, bandwidth: float) -> np.ndarray:
    """``exp(−‖x_i − y_j‖² / (2 σ²))`` [len(x), len(y)], float64."""
    from scipy.spatial.distance import cdist

    squared = cdist(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64), "sqeuclidean")
    return np.exp(-squared / (2.0 * bandwidth ** 2))


def mmd2_unbiased(a: np.ndarray, b: np.ndarray, *, bandwidth: float | None = None) -> float:
    """Unbiased MMD² between the rows of ``a`` and ``b`` with the Gaussian kernel of ``bandwidth`` σ (None: the
    median heuristic on the pooled rows): the mean kernel within ``a`` and within ``b`` over distinct pairs,
    minus twice the mean kernel between them."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    sigma = median_bandwidth(np.vstack([a, b])) if bandwidth is None else bandwidth
    return _KernelSets(np.vstack([a, b]), len(a), sigma).value()


class _KernelSets:
    """The Gram matrix of the pooled tracks (diagonal zeroed; set A first, ``n_a`` rows) for the unbiased MMD²,
    its bootstrap, its permutation null and its leave-one-out changes."""

    def __init__(self, pooled: np.ndarray, n_a: int, bandwidth: float) -> None:
        self.kernel = gaussian_kernel(pooled, pooled, bandwidth=bandwidth)
        np.fill_diagonal(self.kernel, 0.0)
        self.n_a, self.n = n_a, len(pooled)

    def value(self) -> float:
        return float(self.permuted(np.arange(self.n)[None, :])[0])

    def permuted(self, orders: np.ndarray) -> np.ndarray:
        """MMD² of each row of ``orders`` [P, n] (a permutation of the pooled rows, its first ``n_a`` set A)."""
        n_a, n_b = self.n_a, self.n - self.n_a
        total = self.kernel.sum()
        values = np.empty(len(orders))
        block = max(1, _PERMUTATION_BLOCK // self.n)
        for start in range(0, len(orders), block):
            chunk = orders[start:start + block]
            member = np.zeros((len(chunk), self.n))
            np.put_along_axis(member, chunk[:, :n_a], 1.0, axis=1)
            row_sums = member @ self.kernel
            within_a = np.einsum("pi,pi->p", row_sums, member)
            between = row_sums.sum(axis=1) - within_a
            within_b = total - within_a - 2.0 * between
            values[start:start + block] = (within_a / (n_a * (n_a - 1)) + within_b / (n_b * (n_b - 1))
                                           - 2.0 * between / (n_a * n_b))
        return values

    def bootstrap(self, draws_a: np.ndarray, draws_b: np.ndarray, *, paired: bool = False) -> np.ndarray:
        """MMD² of each bootstrap resample (rows of ``draws_a`` [B, n_a] and ``draws_b`` [B, n_b], indices within
        each set); pairs of copies of one track are left out of the within-set means. ``paired``: row i of A and
        of B are one pair, drawn together (``draws_b`` is ``draws_a``); a resample's matched pairs then keep the
        weight 1/n they have among the n² pairs between the sets, as copies would otherwise multiply them."""
        n_a = self.n_a
        counts_a = np.stack([np.bincount(row, minlength=n_a) for row in draws_a]).astype(np.float64)
        counts_b = np.stack([np.bincount(row, minlength=self.n - n_a) for row in draws_b]).astype(np.float64)
        k_aa, k_bb, k_ab = self.kernel[:n_a, :n_a], self.kernel[n_a:, n_a:], self.kernel[:n_a, n_a:]
        pairs_a = draws_a.shape[1] ** 2 - (counts_a ** 2).sum(axis=1)
        pairs_b = draws_b.shape[1] ** 2 - (counts_b ** 2).sum(axis=1)
        within_a = np.einsum("pi,pi->p", counts_a @ k_aa, counts_a) / pairs_a
        within_b = np.einsum("pi,pi->p", counts_b @ k_bb, counts_b) / pairs_b
        between_sum = np.einsum("pi,pi->p", counts_a @ k_ab, counts_b)
        if paired:
            n, matched = draws_a.shape[1], np.diag(k_ab)
            other_pairs = n * n - (counts_a ** 2).sum(axis=1)
            between = ((1.0 - 1.0 / n) * (between_sum - (counts_a ** 2) @ matched) / other_pairs
                       + (counts_a @ matched) / n ** 2)
        else:
            between = between_sum / (draws_a.shape[1] * draws_b.shape[1])
        return within_a + within_b - 2.0 * between

    def leave_one_out(self) -> np.ndarray:
        """MMD² without each pooled track in turn [n]."""
        n_a, n_b = self.n_a, self.n - self.n_a
        to_a, to_b = self.kernel[:, :n_a].sum(axis=1), self.kernel[:, n_a:].sum(axis=1)
        s_aa, s_bb, s_ab = to_a[:n_a].sum(), to_b[n_a:].sum(), to_b[:n_a].sum()
        in_a = np.arange(self.n) < n_a
        m_a = np.where(in_a, n_a - 1, n_a)
        m_b = np.where(in_a, n_b, n_b - 1)
        within_a = np.where(in_a, s_aa - 2.0 * to_a, s_aa)
        within_b = np.where(in_a, s_bb, s_bb - 2.0 * to_b)
        between = np.where(in_a, s_ab - to_b, s_ab - to_a)
        with np.errstate(divide="ignore", invalid="ignore"):
            return within_a / (m_a * (m_a - 1)) + within_b / (m_b * (m_b - 1)) - 2.0 * between / (m_a * m_b)


# ---- one encoder, and every encoder of two sets ------------------------------------------------------------------

@dataclass
class EncoderDistances:
    """The distances of one encoder between two sets: the long table's rows, the FD∞ fit, and every track's
    contribution (the distance minus the distance without the track)."""

    rows: list[dict[str, Any]]
    extrapolation: Extrapolation
    contributions: pd.DataFrame


def _reshufflings(n_a: int, n_b: int, n_perm: int, rng: np.random.Generator, *, paired: bool) -> np.ndarray:
    """``[n_perm, n_a + n_b]`` orders of the pooled rows, set A first: the set labels reshuffled over all tracks,
    or (``paired``: row i of A and row i of B are one pair) each pair's two tracks swapped with probability ½."""
    if not paired:
        return np.stack([rng.permutation(n_a + n_b) for _ in range(n_perm)]) if n_perm else np.zeros((0, n_a + n_b), int)
    swapped = rng.random((n_perm, n_a)) < 0.5
    first, second = np.arange(n_a), np.arange(n_a) + n_a
    return np.hstack([np.where(swapped, second, first), np.where(swapped, first, second)])


def encoder_distances(a: np.ndarray, b: np.ndarray, settings: DistanceSettings, *, n_perm: int,
                      seed_key: int = 0, paired: bool = False) -> EncoderDistances:
    """Every figure of one encoder between the rows of ``a`` and ``b`` (see the module's docstring); ``n_perm``
    permutations per p-value, ``seed_key`` tells the encoders' random draws apart under one ``settings.seed``.
    ``paired``: row i of ``a`` and row i of ``b`` are one pair (the same piece twice): the null swaps the two
    tracks of each pair, the bootstrap resamples pairs."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    n_a, n_b = len(a), len(b)
    if paired and n_a != n_b:
        raise ValueError(f"paired sets hold one track of each pair, got {n_a} and {n_b} rows")
    pooled = np.vstack([a, b])
    rng = np.random.default_rng([settings.seed, seed_key])
    draws_a = rng.integers(0, n_a, (settings.n_boot, n_a))
    draws_b = draws_a if paired else rng.integers(0, n_b, (settings.n_boot, n_b))
    orders = _reshufflings(n_a, n_b, n_perm, rng, paired=paired)

    frechet = frechet_distance(a, b)
    frechet_boot = np.array([frechet_distance(a[i], b[j]) for i, j in zip(draws_a, draws_b)])
    frechet_null = np.array([frechet_distance(pooled[order[:n_a]], pooled[order[n_a:]]) for order in orders])
    extrapolation = frechet_at_infinity(a, b, steps=settings.extrapolation_steps,
                                        min_fraction=settings.extrapolation_min_fraction,
                                        seed=int(rng.integers(0, 2**32 - 1)))

    pooled_bandwidth = median_bandwidth(pooled)
    kernel = _KernelSets(pooled, n_a, pooled_bandwidth)
    mmd2 = kernel.value()
    mmd2_null = kernel.permuted(orders)
    reference_bandwidth = median_bandwidth(a)
    kad_kernel = _KernelSets(pooled, n_a, reference_bandwidth)

    # The Fréchet distance of a resample is biased upwards (copies shrink its spread of tracks): the interval
    # keeps the bootstrap's spread around the estimate, reflected around the resamples' mean, not their shift.
    frechet_low, frechet_high = half_sample_ci(frechet, frechet_boot, bounds=(0.0, math.inf))
    rows = [
        {"measure": FRECHET.name, "value": frechet, "ci_low": frechet_low, "ci_high": frechet_high,
         "p_value": permutation_p_value(frechet, frechet_null), "null_mean": _mean(frechet_null)},
        {"measure": FRECHET_INF.name, "value": extrapolation.value, "ci_low": extrapolation.ci_low,
         "ci_high": extrapolation.ci_high},
        {"measure": MMD2.name, "value": mmd2, **_interval(kernel.bootstrap(draws_a, draws_b, paired=paired)),
         "p_value": permutation_p_value(mmd2, mmd2_null), "null_mean": _mean(mmd2_null),
         "bandwidth": pooled_bandwidth},
        {"measure": KAD.name, "value": KAD_SCALE * kad_kernel.value(),
         **_interval(KAD_SCALE * kad_kernel.bootstrap(draws_a, draws_b, paired=paired)),
         "bandwidth": reference_bandwidth},
    ]
    frechet_without = np.array([frechet_distance(np.delete(a, i, axis=0), b) for i in range(n_a)]
                               + [frechet_distance(a, np.delete(b, j, axis=0)) for j in range(n_b)])
    contributions = pd.DataFrame({"set": ["a"] * n_a + ["b"] * n_b,
                                  "row": np.r_[np.arange(n_a), np.arange(n_b)],
                                  "frechet_change": frechet - frechet_without,
                                  "mmd2_change": mmd2 - kernel.leave_one_out()})
    return EncoderDistances(rows, extrapolation, contributions)


def _interval(samples: np.ndarray) -> dict[str, float]:
    low, high = percentile_interval(samples)
    return {"ci_low": low, "ci_high": high}


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if len(values) else math.nan


@dataclass
class DistanceResult(TabledResult):
    """Distribution distances between two track sets for every compared encoder (see the module's docstring).

    ``distances``: one row per encoder × measure (:data:`COLUMNS`), p-values adjusted over every test of the
    table as one family; ``contributions``: every track's leave-one-out change of the Fréchet distance and of
    MMD², ranked per encoder (1: the largest Fréchet change); ``extrapolation``: the subsample points FD∞ was
    fitted on; ``sets``: what each set is (store, selection, dataset root, tracks); ``n_perm``: permutations per
    p-value; ``notes``: what was left out and why.
    """

    distances: pd.DataFrame
    contributions: pd.DataFrame
    extrapolation: pd.DataFrame
    sets: pd.DataFrame
    settings: DistanceSettings
    n_perm: int
    notes: list[str] = field(default_factory=list)

    @property
    def outliers(self) -> pd.DataFrame:
        """The ``settings.outliers`` tracks per encoder whose removal lowers the Fréchet distance most."""
        return self.contributions[self.contributions["rank"] <= self.settings.outliers].reset_index(drop=True)

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        return {"distances": self.distances, "outliers": self.outliers, "contributions": self.contributions,
                "extrapolation": self.extrapolation, "sets": self.sets}


def describe_set(store: "Store") -> str:
    """A set as a reader names it: ``store.h5`` with its filters, ``store.h5 where style=trecento``."""
    where = " and ".join(f"{column}={value}" for column, value in store.selection)
    return f"{store.path.name} where {where}" if where else store.path.name


def comparable_specs(first: "Store", second: "Store", encoders: Sequence[str] | None, *,
                     notes: list[str]) -> list[str]:
    """The encoder specs both sets are compared in: ``encoders`` as given (each must be held by both stores with
    one fingerprint: a :class:`StoreError` otherwise), or every encoder with tracks of ``first`` that ``second``
    holds with the same fingerprint (the others noted in ``notes``); a :class:`StoreError` when none is left."""
    specs = []
    for spec in (encoders or [record.spec for record in first.encoders_with_tracks()]):
        record_a = first.encoder(spec)
        try:
            record_b = second.encoder(record_a.spec)
        except StoreError as error:
            if encoders:
                raise
            notes.append(f"{record_a.spec}: left out — {error}")
            continue
        if record_a.fingerprint != record_b.fingerprint:
            message = (f"{record_a.spec} was embedded differently in {first.path} and {second.path} (their "
                       "fingerprints differ: weights, parameters or code version), so their spaces are not one space "
                       "— embed both sets with the same encoder version")
            if encoders:
                raise StoreError(message)
            notes.append(f"{record_a.spec}: left out — {message}")
            continue
        specs.append(record_a.spec)
    if not specs:
        raise StoreError(f"no encoder to compare {describe_set(first)} with {describe_set(second)}: "
                         + ("; ".join(notes) or f"{first.path} holds no embedded track")
                         + " — name one both hold with --encoder (`counterpoint store info FILE` lists them)")
    return specs


def paired_rows(a: "EmbeddingMatrix", b: "EmbeddingMatrix", column: str, *,
                notes: list[str]) -> tuple["EmbeddingMatrix", "EmbeddingMatrix"]:
    """The rows of ``a`` and ``b`` whose ``column`` value both hold, in one order (row i of each: one pair); a
    note for the rows left without a partner, a :class:`StoreError` when a value names several rows of a set."""
    keys = []
    for name, matrix in (("A", a), ("B", b)):
        require_column(list(matrix.obs.columns), column, "paired", store=matrix.spec)
        values = matrix.labels(column)
        repeated = pd.Series(values[values != ""]).value_counts()
        if len(repeated) and repeated.iloc[0] > 1:
            raise StoreError(f"{matrix.spec}: --paired {column}: {repeated.index[0]!r} names {repeated.iloc[0]} tracks "
                             f"of set {name}, so they cannot be paired one to one — narrow the set (e.g. add "
                             f"--{name.lower()} audio_source=…) or pair by another column")
        keys.append(values)
    shared = sorted(set(keys[0]) & set(keys[1]) - {""})
    unpaired = len(a) + len(b) - 2 * len(shared)
    if unpaired:
        notes.append(f"{a.spec}: {unpaired} track(s) without a partner of the same {column} in the other set left out")
    position = [{value: row for row, value in enumerate(values)} for values in keys]
    return (a.take(np.array([position[0][v] for v in shared], dtype=int)),
            b.take(np.array([position[1][v] for v in shared], dtype=int)))


def run_distances(first: "Store", second: "Store", settings: DistanceSettings, *,
                  encoders: Sequence[str] | None = None) -> DistanceResult:
    """Distribution distances between the tracks of ``first`` and those of ``second`` (two stores, or two
    filtered views of one, ``Store.where``) in every encoder both hold (``encoders``: those only).

    An encoder where a set has fewer than :data:`MIN_TRACKS` tracks is left out with a note; a
    :class:`CounterpointError` when that leaves none.
    """
    notes: list[str] = []
    specs = comparable_specs(first, second, encoders, notes=notes)
    matrices = {}
    for spec in specs:
        a, b = first.pooled(spec), second.pooled(spec)
        if settings.paired is not None:
            a, b = paired_rows(a, b, settings.paired, notes=notes)
        short = [(name, len(m)) for name, m in (("A", a), ("B", b)) if len(m) < MIN_TRACKS]
        if short:
            notes.append(f"{spec}: left out — " + "; ".join(
                f"set {name} ({describe_set(first if name == 'A' else second)}) holds {count} track"
                f"{'' if count == 1 else 's'} of it" for name, count in short)
                + f", fewer than the {MIN_TRACKS} a distance needs — widen the selection")
            continue
        matrices[spec] = (a, b)
    if not matrices:
        raise CounterpointError("no encoder has enough tracks in both sets: " + "; ".join(notes))
    if first.path.resolve() == second.path.resolve():
        shared = set(next(iter(matrices.values()))[0].ids) & set(next(iter(matrices.values()))[1].ids)
        if shared:
            notes.append(f"{len(shared)} track(s) are in both sets (e.g. {sorted(shared)[0]!r}): the sets overlap, "
                         "which pulls the distances towards 0 — make the selections exclusive")
    n_perm = family_permutations(settings.n_perm, 2 * len(matrices), scale=not settings.fixed_n_perm)
    rows, contributions, points = [], [], []
    for key, (spec, (a, b)) in enumerate(matrices.items()):
        joint = np.vstack([a.X, b.X])
        if a.feature_names:
            # Named descriptors (a centroid in Hz beside a flatness in [0, 1]) would let the largest units make the
            # whole distance: z-scored over both sets together, one transform of both, as the comparison does.
            joint = standardise_features(joint)
            notes.append(f"{spec}: named descriptors, each z-scored over both sets together before measuring")
        with single_threaded_blas():  # thousands of small products: threads only fight (see counterpoint.blas)
            found = encoder_distances(joint[:len(a)], joint[len(a):], settings, n_perm=n_perm, seed_key=key,
                                      paired=settings.paired is not None)
        name = "FMD" if a.modality == "symbolic" else "FAD"
        if min(len(a), len(b)) <= a.X.shape[1]:
            notes.append(f"{spec}: FD∞ — a set holds fewer tracks ({min(len(a), len(b))}) than the space has dimensions "
                         f"({a.X.shape[1]}); the 1/n law it is fitted on holds for many more tracks than dimensions, "
                         "so read it as a rough correction of the Fréchet distance's bias, not its limit")
        for row in found.rows:
            rows.append({"encoder": spec, "modality": a.modality, "name": name, **row, "n_a": len(a), "n_b": len(b),
                         "dim": a.X.shape[1]})
        tracks = found.contributions
        obs = pd.concat([a.obs.reindex(columns=["id", "audio_filename"]),
                         b.obs.reindex(columns=["id", "audio_filename"])], ignore_index=True)
        tracks = tracks.assign(encoder=spec, id=obs["id"].astype(str).to_numpy(),
                               audio_filename=obs["audio_filename"].fillna("").astype(str).to_numpy())
        tracks["rank"] = tracks["frechet_change"].rank(ascending=False, method="first").astype(int)
        contributions.append(tracks.sort_values("rank"))
        points.append(found.extrapolation.points.assign(encoder=spec))
    table = check_table(family_table(rows, COLUMNS), ["encoder"])
    notes += family_notes([("distances", table, n_perm)], fixed=settings.fixed_n_perm)
    sets = pd.DataFrame([{"set": name, "store": str(store.path), "selection": describe_set(store),
                          "dataset_root": str(store.attrs.get("dataset_root", ""))}
                         for name, store in (("a", first), ("b", second))])
    return DistanceResult(table, pd.concat(contributions, ignore_index=True).reindex(columns=CONTRIBUTION_COLUMNS),
                          pd.concat(points, ignore_index=True).reindex(columns=["encoder", "inverse_n",
                                                                               "frechet_distance"]),
                          sets, settings, n_perm, notes)
