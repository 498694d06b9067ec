"""Do two embedding spaces of the same tracks agree? CKA, RSA (with a Mantel test), mutual kNN.

Every function takes two matrices whose rows are the same tracks in the same order
(``X`` ``[N, Dx]`` from one encoder, ``Y`` ``[N, Dy]`` from another) and never pads one
space into the other: the measures compare *relations between tracks*, which exist in both.

* **Linear CKA** (Kornblith et al. 2019) ``‖XᵀY‖²_F / (‖XᵀX‖_F ‖YᵀY‖_F)`` on centred
  features, computed through ``[D, D]`` feature covariances, never an ``[N, N]`` kernel.
* **Debiased CKA**: the same ratio built from the unbiased HSIC estimator (Song et al. 2012;
  Nguyen et al. 2021), whose value for independent spaces is ≈ 0 rather than a positive
  number that depends on N and D. Its feature-space form is derived in
  :func:`_unbiased_hsic_from_sums`.
* **RSA**: Spearman correlation between the upper triangles of the two cosine-distance
  matrices, with a Mantel permutation p-value, on a seeded subsample of at most ``max_n``
  tracks.
* **Mutual kNN** (Huh et al. 2024): mean fraction of a track's k nearest neighbours that
  are its neighbours in both spaces.
* **Leave-one-out influence** of a track on debiased CKA, for every track at once from the two
  ``[N, N]`` Gram matrices (:func:`debiased_cka_without_each`).

Nulls come from shuffled pairing (track i of X against track π(i) of Y). Cosine geometry
is taken after removing each space's mean track, so a shared offset does not hide structure.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

import numpy as np
from scipy.spatial.distance import pdist, squareform
from scipy.stats import rankdata

from counterpoint.analysis.statistics import (
    Estimate,
    bootstrap_ci,
    half_sample_ci,
    half_samples,
    permutation_p_value,
    subsample_indices,
)
from counterpoint.blas import single_threaded_blas
from counterpoint.config import N_BOOT
from counterpoint.errors import CounterpointError
from counterpoint.ranges import CORRELATION, UNIT, declare_measure

# The figures this module computes, declared once (range, name, prose, verdict role; see counterpoint.ranges).
declare_measure("cka", UNIT, title="linear CKA",   # ‖XᵀY‖²_F / (‖XᵀX‖_F ‖YᵀY‖_F) of centred features (Cauchy–Schwarz)
                prose="Linear CKA: the similarity of the two spaces' centred track-similarity matrices, biased "
                      "upwards on few tracks.")
declare_measure("cka_debiased", CORRELATION, title="debiased CKA", verdict=("cka_debiased", ""),
                prose="Debiased CKA: the cosine of the two spaces' U-centred track-similarity matrices, about 0 for "
                      "unrelated spaces; all paired tracks, p from shuffled pairings.")
declare_measure("rsa_spearman", CORRELATION, title="RSA (Spearman)", verdict=("rsa_spearman", ""),
                prose="RSA: the Spearman correlation of the two spaces' track-to-track distances; all paired tracks, "
                      "p from shuffled pairings.")
declare_measure("mutual_knn", UNIT, title="mutual-kNN", verdict=("mutual_knn", ""),
                prose="Mutual kNN: the mean share of each track's k nearest neighbours both spaces agree on; all "
                      "paired tracks, p from shuffled pairings.")

#: Above this many tracks, nearest neighbours come from an approximate pynndescent index.
EXACT_KNN_MAX_N = 20_000


def _serial(function):
    """Run ``function`` with single-threaded BLAS (see :func:`single_threaded_blas`)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with single_threaded_blas():
            return function(*args, **kwargs)

    return wrapper


def _check_pair(X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X)
    Y = np.asarray(Y)
    if X.ndim != 2 or Y.ndim != 2:
        raise CounterpointError(f"expected two [tracks, dims] matrices, got shapes {X.shape} and {Y.shape}")
    if len(X) != len(Y):
        raise CounterpointError(f"the two spaces hold {len(X)} and {len(Y)} tracks — rows must be the same "
                                "tracks in the same order (match them by track id first)")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(Y))):
        raise CounterpointError("an embedding matrix holds NaN or infinite values — re-run the encoder on the "
                                "tracks whose rows are not finite, or drop them")
    return X, Y


def centred_unit_rows(X: np.ndarray) -> np.ndarray:
    """Rows minus the mean row, scaled to unit length (zero rows stay zero); float64."""
    X = np.asarray(X, dtype=np.float64)
    X = X - X.mean(axis=0)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1.0)


# --------------------------------------------------------------------------------------
# CKA in feature space


@dataclass
class _Sums:
    """Sufficient sums of a set of paired rows for linear and debiased CKA.

    ``kx``/``ly`` are the squared row norms ``‖x_i‖²``/``‖y_i‖²`` (the kernel diagonals).
    """

    n: float
    sx: np.ndarray
    sy: np.ndarray
    sxx: np.ndarray
    syy: np.ndarray
    sxy: np.ndarray
    kx_x: np.ndarray   # Σ kx_i x_i
    kx_y: np.ndarray   # Σ kx_i y_i
    ly_x: np.ndarray   # Σ ly_i x_i
    ly_y: np.ndarray   # Σ ly_i y_i
    kx: float
    ly: float
    kx2: float
    ly2: float
    kxly: float

    @classmethod
    def of(cls, X: np.ndarray, Y: np.ndarray) -> "_Sums":
        X = np.asarray(X, dtype=np.float64)
        Y = np.asarray(Y, dtype=np.float64)
        kx = np.einsum("ij,ij->i", X, X)
        ly = np.einsum("ij,ij->i", Y, Y)
        return cls(float(len(X)), X.sum(0), Y.sum(0), X.T @ X, Y.T @ Y, X.T @ Y,
                   kx @ X, kx @ Y, ly @ X, ly @ Y,
                   float(kx.sum()), float(ly.sum()), float(kx @ kx), float(ly @ ly), float(kx @ ly))



def _linear_cka_from_sums(s: _Sums) -> float:
    cxy = s.sxy - np.outer(s.sx, s.sy) / s.n
    cxx = s.sxx - np.outer(s.sx, s.sx) / s.n
    cyy = s.syy - np.outer(s.sy, s.sy) / s.n
    denominator = np.linalg.norm(cxx) * np.linalg.norm(cyy)
    return float(np.sum(cxy * cxy) / denominator) if denominator > 0 else float("nan")


def _unbiased_hsic_from_sums(n: float, frob: float, diag_dot: float, sum_k: float, sum_l: float,
                             k1_l1: float) -> float:
    """Song et al. (2012) unbiased HSIC from feature-space pieces.

    With ``K = XXᵀ``, ``L = YYᵀ`` and ``K̃``, ``L̃`` their copies with zeroed diagonals:

    * ``tr(K̃L̃) = ‖XᵀY‖²_F − Σ_i K_ii L_ii``                (``frob − diag_dot``)
    * ``1ᵀK̃1 = ‖Xᵀ1‖² − Σ_i K_ii``                        (``sum_k``)
    * ``1ᵀK̃L̃1 = Σ_i (x_i·s_x − K_ii)(y_i·s_y − L_ii)``     (``k1_l1``), expanded into
      ``s_xᵀ(XᵀY)s_y − s_y·Σ K_ii y_i − s_x·Σ L_ii x_i + Σ K_ii L_ii``

    so nothing of size ``[N, N]`` is formed.
    """
    trace = frob - diag_dot
    return (trace + sum_k * sum_l / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * k1_l1) / (n * (n - 3))


def _debiased_cka_from_sums(s: _Sums) -> float:
    n = s.n
    if n < 4:
        return float("nan")
    sum_k = s.sx @ s.sx - s.kx
    sum_l = s.sy @ s.sy - s.ly
    xy = _unbiased_hsic_from_sums(n, float(np.sum(s.sxy * s.sxy)), s.kxly, sum_k, sum_l,
                                  float(s.sx @ s.sxy @ s.sy - s.sy @ s.kx_y - s.sx @ s.ly_x + s.kxly))
    xx = _unbiased_hsic_from_sums(n, float(np.sum(s.sxx * s.sxx)), s.kx2, sum_k, sum_k,
                                  float(s.sx @ s.sxx @ s.sx - 2 * s.sx @ s.kx_x + s.kx2))
    yy = _unbiased_hsic_from_sums(n, float(np.sum(s.syy * s.syy)), s.ly2, sum_l, sum_l,
                                  float(s.sy @ s.syy @ s.sy - 2 * s.sy @ s.ly_y + s.ly2))
    if xx <= 0 or yy <= 0:
        return float("nan")
    return float(xy / math.sqrt(xx * yy))


def linear_cka(X: np.ndarray, Y: np.ndarray) -> float:
    """Linear CKA of two paired spaces, in [0, 1]; invariant to rotation and global scale."""
    X, Y = _check_pair(X, Y)
    X = X - X.mean(0, dtype=np.float64)
    Y = Y - Y.mean(0, dtype=np.float64)
    return _linear_cka_from_sums(_Sums.of(X, Y))


def debiased_cka(X: np.ndarray, Y: np.ndarray) -> float:
    """Debiased linear CKA (unbiased HSIC estimator), in [-1, 1]: ≈ 0 for independent spaces
    (and slightly below 0 by chance); needs N ≥ 4."""
    X, Y = _check_pair(X, Y)
    # The unbiased HSIC does not change when a constant is added to the features; centring
    # only keeps the sums small and the arithmetic exact.
    X = X - X.mean(0, dtype=np.float64)
    Y = Y - Y.mean(0, dtype=np.float64)
    return _debiased_cka_from_sums(_Sums.of(X, Y))


def _double_centre(K: np.ndarray) -> np.ndarray:
    return K - K.mean(0) - K.mean(1)[:, None] + K.mean()


def u_centre(K: np.ndarray) -> np.ndarray:
    """U-centring (Székely & Rizzo 2014): ``Σ_{i≠j} Ũ(K)_ij Ũ(L)_ij / (n(n−3))`` is the unbiased HSIC."""
    n = len(K)
    K = K.copy()
    np.fill_diagonal(K, 0.0)
    rows = K.sum(1)
    U = K - rows[:, None] / (n - 2) - rows[None, :] / (n - 2) + rows.sum() / ((n - 1) * (n - 2))
    np.fill_diagonal(U, 0.0)
    return U


def _cosine(A: np.ndarray, B: np.ndarray) -> float:
    denominator = math.sqrt(max(float(np.sum(A * A)), 0.0) * max(float(np.sum(B * B)), 0.0))
    return float(np.sum(A * B) / denominator) if denominator > 0 else float("nan")


def kernel_cka(K: np.ndarray, L: np.ndarray, debiased: bool = False) -> float:
    """CKA from two ``[n, n]`` kernels (small n only): the definition the feature form equals."""
    if debiased:
        return _cosine(u_centre(K), u_centre(L))
    return _cosine(_double_centre(K), _double_centre(L))


def _unbiased_hsic_without_each(K: np.ndarray, L: np.ndarray) -> np.ndarray:
    """``[n]``: the unbiased HSIC of ``K`` and ``L`` (``[n, n]`` Gram matrices) with track i left out, all i
    at once in O(n²). With ``K̃``, ``L̃`` the zero-diagonal copies, ``r = K̃1``, ``s = L̃1``, removing track i
    takes ``2 Σ_j K̃_ij L̃_ij`` from ``tr(K̃L̃)``, ``2 r_i`` from ``1ᵀK̃1`` and
    ``r_i s_i + (L̃r)_i + (K̃s)_i − Σ_j K̃_ij L̃_ij`` from ``1ᵀK̃L̃1`` (see :func:`_unbiased_hsic_from_sums`)."""
    K, L = K.copy(), L.copy()
    np.fill_diagonal(K, 0.0)
    np.fill_diagonal(L, 0.0)
    n = len(K) - 1.0
    r, s = K.sum(1), L.sum(1)
    cross = np.einsum("ij,ij->i", K, L)
    trace = float(cross.sum()) - 2 * cross
    sum_k, sum_l = r.sum() - 2 * r, s.sum() - 2 * s
    k1_l1 = float(r @ s) - r * s - L @ r - K @ s + cross
    return (trace + sum_k * sum_l / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * k1_l1) / (n * (n - 3))


def debiased_cka_without_each(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """``[N]``: debiased CKA of the two spaces with track i left out, for every i, from the two Gram
    matrices (no refit per track; ``[N, N]`` memory, so callers pass at most a few thousand tracks).
    Needs N ≥ 6 (the estimator needs 4 tracks, plus one removed); NaN where a space is constant."""
    X, Y = _check_pair(X, Y)
    if len(X) < 6:
        return np.full(len(X), np.nan)
    X = X - X.mean(0, dtype=np.float64)
    Y = Y - Y.mean(0, dtype=np.float64)
    K, L = X @ X.T, Y @ Y.T
    with np.errstate(invalid="ignore", divide="ignore"):
        xy, xx, yy = (_unbiased_hsic_without_each(A, B) for A, B in ((K, L), (K, K), (L, L)))
        return np.where((xx > 0) & (yy > 0), xy / np.sqrt(np.abs(xx * yy)), np.nan)


def cka_estimates(X: np.ndarray, Y: np.ndarray, *, n_boot: int = N_BOOT, n_perm: int = 999,
                  max_n: int = 1000, seed: int = 0) -> dict[str, Estimate]:
    """Linear and debiased CKA with half-sample intervals and shuffled-pairing p-values.

    The values use all N tracks through ``[D, D]`` feature covariances. Intervals and
    p-values run on ``[m, m]`` kernels of a seeded subsample of ``m ≤ max_n`` tracks
    (reported as ``n_resample``): intervals from random halves of the subsample, their spread
    scaled by ``sqrt(m / N)`` to the full N; p-values compare the subsample's own CKA with
    its values under random re-pairings.
    """
    X, Y = _check_pair(X, Y)
    X = X - X.mean(0, dtype=np.float64)
    Y = Y - Y.mean(0, dtype=np.float64)
    n = len(X)
    total = _Sums.of(X, Y)
    values = {"cka": _linear_cka_from_sums(total), "cka_debiased": _debiased_cka_from_sums(total)}

    sub = subsample_indices(n, max_n, seed)
    m = len(sub)
    kx = X[sub] @ X[sub].T
    ly = Y[sub] @ Y[sub].T
    observed_sub = {"cka": kernel_cka(kx, ly), "cka_debiased": kernel_cka(kx, ly, debiased=True)} if m >= 4 else {}
    halves: dict[str, list[float]] = {name: [] for name in values}
    with single_threaded_blas():
        for half in half_samples(m, n_boot if m >= 8 else 0, seed + 1):
            kh, lh = kx[np.ix_(half, half)], ly[np.ix_(half, half)]
            halves["cka"].append(kernel_cka(kh, lh))
            halves["cka_debiased"].append(kernel_cka(kh, lh, debiased=True))
        nulls = _shuffled_pairing_nulls(X[sub], Y[sub], n_perm, seed + 2)

    out = {}
    for name, value in values.items():
        # Debiased CKA is a cosine of U-centred kernels: in [-1, 1], near 0 for unrelated spaces.
        bounds = (0.0, 1.0) if name == "cka" else (-1.0, 1.0)
        low, high = half_sample_ci(value, np.array(halves[name]), scale=math.sqrt(m / n), bounds=bounds)
        null = nulls[name]
        out[name] = Estimate(value=value, ci_low=low, ci_high=high, n=n, n_resample=m,
                             p_value=permutation_p_value(observed_sub.get(name, float("nan")), null),
                             null_mean=float(np.nanmean(null)) if np.isfinite(null).any() else float("nan"))
    # Linear CKA is the RV coefficient, whose mean under all pairings is known exactly at
    # the full N (Kazi-Aoual et al. 1995): sqrt(βx βy) / (N − 1), β = tr(C)² / tr(C²).
    out["cka"] = replace(out["cka"], chance=_linear_cka_null_mean(total))
    return out


def _linear_cka_null_mean(s: _Sums) -> float:
    cxx = s.sxx - np.outer(s.sx, s.sx) / s.n
    cyy = s.syy - np.outer(s.sy, s.sy) / s.n
    spread_x, spread_y = np.sum(cxx * cxx), np.sum(cyy * cyy)
    if spread_x == 0 or spread_y == 0:  # a constant space: no CKA, no chance level
        return float("nan")
    beta_x = np.trace(cxx) ** 2 / spread_x
    beta_y = np.trace(cyy) ** 2 / spread_y
    return float(math.sqrt(beta_x * beta_y) / (s.n - 1))


def _shuffled_pairing_nulls(X: np.ndarray, Y: np.ndarray, n_perm: int, seed: int) -> dict[str, np.ndarray]:
    """Linear and debiased CKA of X against randomly re-paired rows of Y (centred float64 inputs).

    Uses whichever is cheaper per permutation: re-multiplying ``XᵀY_π`` (``n·Dx·Dy`` flops)
    or gathering a permuted ``[n, n]`` kernel (``n²`` reads, counted as ~50 flops each).
    """
    n = len(X)
    nulls: dict[str, list[float]] = {"cka": [], "cka_debiased": []}
    if n < 4:
        return {name: np.array([]) for name in nulls}
    rng = np.random.default_rng(seed)
    perms = [rng.permutation(n) for _ in range(n_perm)]
    if X.shape[1] * Y.shape[1] <= 50 * n:
        base = _Sums.of(X, Y)
        kx = np.einsum("ij,ij->i", X, X)
        ly = np.einsum("ij,ij->i", Y, Y)
        for perm in perms:
            Yp, lyp = Y[perm], ly[perm]
            s = replace(base, sxy=X.T @ Yp, kx_y=kx @ Yp, ly_x=lyp @ X, kxly=float(kx @ lyp))
            nulls["cka"].append(_linear_cka_from_sums(s))
            nulls["cka_debiased"].append(_debiased_cka_from_sums(s))
    else:
        kx, ly = X @ X.T, Y @ Y.T
        kx_c, ly_c = _double_centre(kx).astype(np.float32), _double_centre(ly).astype(np.float32)
        kx_u, ly_u = u_centre(kx).astype(np.float32), u_centre(ly).astype(np.float32)
        norm_c = float(np.linalg.norm(kx_c) * np.linalg.norm(ly_c))
        norm_u = math.sqrt(max(float(np.sum(kx_u * kx_u)), 0.0) * max(float(np.sum(ly_u * ly_u)), 0.0))
        if norm_c == 0 or norm_u == 0:
            return {name: np.full(n_perm, np.nan) for name in nulls}
        for perm in perms:   # rows then columns: the same values as np.ix_, gathered 3× faster
            nulls["cka"].append(float(np.sum(kx_c * ly_c[perm][:, perm], dtype=np.float64)) / norm_c)
            nulls["cka_debiased"].append(float(np.sum(kx_u * ly_u[perm][:, perm], dtype=np.float64)) / norm_u)
    return {name: np.asarray(values, dtype=np.float64) for name, values in nulls.items()}


# --------------------------------------------------------------------------------------
# RSA


def _upper(matrix: np.ndarray) -> np.ndarray:
    return matrix[np.triu_indices(len(matrix), k=1)]


@_serial
def rsa(X: np.ndarray, Y: np.ndarray, *, max_n: int = 1000, n_boot: int = N_BOOT, n_perm: int = 999,
        seed: int = 0) -> Estimate:
    """Spearman correlation of the two cosine-distance matrices (upper triangles).

    Runs on a seeded subsample of at most ``max_n`` tracks (``n_resample``). The p-value is
    a Mantel test (rows and columns of one matrix permuted together); the interval comes
    from half-samples of the subsample, so no track is ever paired with a copy of itself.
    """
    X, Y = _check_pair(X, Y)
    sub = subsample_indices(len(X), max_n, seed)
    if len(sub) < 4:
        return Estimate(value=float("nan"), n=len(X), n_resample=len(sub))
    dx = squareform(pdist(centred_unit_rows(X[sub]), "sqeuclidean") / 2.0)  # = cosine distance
    dy = squareform(pdist(centred_unit_rows(Y[sub]), "sqeuclidean") / 2.0)
    m = len(sub)
    rows, cols = np.triu_indices(m, k=1)
    # Spearman = Pearson of ranks; with standardised ranks it is a plain dot product.
    rank_x = squareform(_standardised(rankdata(dx[rows, cols]))).astype(np.float32)
    rank_y = squareform(_standardised(rankdata(dy[rows, cols]))).astype(np.float32)
    value = float(np.clip(np.sum(rank_x * rank_y, dtype=np.float64) / 2.0, -1.0, 1.0))

    # Mantel: the ranks of a permuted matrix are the permuted ranks, so rank once.
    rng = np.random.default_rng(seed + 1)
    null = np.array([np.sum(rank_x * rank_y[p][:, p], dtype=np.float64) / 2.0
                     for p in (rng.permutation(m) for _ in range(n_perm))])
    # Half-samples reuse the subsample's ranks: within a random half they are, up to a
    # near-linear map, the half's own ranks, and re-ranking would cost a sort per draw.
    half_rows, half_cols = np.triu_indices(m // 2, k=1)
    half_values = []
    for half in half_samples(m, n_boot, seed + 2):
        a, b = half[half_rows], half[half_cols]
        half_values.append(float(_standardised(rank_x[a, b]) @ _standardised(rank_y[a, b])))
    low, high = half_sample_ci(value, np.array(half_values), scale=math.sqrt(m / len(X)), bounds=(-1.0, 1.0))
    return Estimate(value=value, ci_low=low, ci_high=high, p_value=permutation_p_value(value, null),
                    n=len(X), n_resample=m, null_mean=float(np.mean(null)) if null.size else float("nan"))


def _standardised(values: np.ndarray) -> np.ndarray:
    """Centred values of unit norm, so that a dot product of two is their Pearson correlation."""
    values = np.asarray(values, dtype=np.float64) - np.mean(values)
    norm = np.linalg.norm(values)
    return values / norm if norm > 0 else np.full_like(values, np.nan)


# --------------------------------------------------------------------------------------
# Mutual nearest neighbours


def knn_indices(X: np.ndarray, k: int, *, seed: int = 0, exact_max_n: int = EXACT_KNN_MAX_N) -> np.ndarray:
    """``[N, k]`` indices of each track's k nearest others by cosine distance (self excluded).

    Exact (scikit-learn brute force) up to ``exact_max_n`` tracks, approximate
    (pynndescent, seeded) above.
    """
    Z = centred_unit_rows(X).astype(np.float32)
    n = len(Z)
    if not 0 < k < n:
        raise CounterpointError(f"k = {k} nearest neighbours needs more than {k} tracks (got {n}) — lower --k")
    if n <= exact_max_n:
        from sklearn.neighbors import NearestNeighbors

        return NearestNeighbors(n_neighbors=k, algorithm="brute").fit(Z).kneighbors(return_distance=False)
    from pynndescent import NNDescent

    graph, _ = NNDescent(Z, metric="euclidean", n_neighbors=k + 1, random_state=seed, n_jobs=1).neighbor_graph
    rows = []
    for i, neighbours in enumerate(graph):
        neighbours = neighbours[(neighbours != i) & (neighbours >= 0)]
        rows.append(neighbours[:k])
    return np.stack(rows)


def neighbour_overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per row, the fraction of ``a``'s k neighbours also in ``b`` (both ``[N, k]``)."""
    hits = np.zeros(len(a))
    for start in range(0, len(a), 8192):
        block_a, block_b = a[start:start + 8192], b[start:start + 8192]
        hits[start:start + 8192] = (block_a[:, :, None] == block_b[:, None, :]).any(2).sum(1)
    return hits / a.shape[1]


@_serial
def mutual_knn(X: np.ndarray, Y: np.ndarray, *, k: int = 10, n_boot: int = N_BOOT, n_perm: int = 999,
               seed: int = 0, exact_max_n: int = EXACT_KNN_MAX_N) -> Estimate:
    """Mean overlap of the k-nearest-neighbour sets of each track in the two spaces.

    Chance (random pairing) is ``k / (N − 1)``. The interval bootstraps the per-track
    overlaps; the null re-pairs the precomputed neighbour lists under random pairings.
    """
    X, Y = _check_pair(X, Y)
    nx = knn_indices(X, k, seed=seed, exact_max_n=exact_max_n)
    ny = knn_indices(Y, k, seed=seed, exact_max_n=exact_max_n)
    per_track = neighbour_overlap(nx, ny)
    value = float(per_track.mean())
    rng = np.random.default_rng(seed + 1)
    null = []
    for _ in range(n_perm):
        perm = rng.permutation(len(X))           # X track i is paired with Y track perm[i]
        inverse = np.argsort(perm)
        null.append(neighbour_overlap(nx, inverse[ny[perm]]).mean())
    low, high = bootstrap_ci(per_track, n_boot=n_boot, seed=seed + 2)
    null_array = np.asarray(null)
    return Estimate(value=value, ci_low=low, ci_high=high, p_value=permutation_p_value(value, null_array),
                    n=len(X), n_resample=len(X), chance=k / (len(X) - 1),
                    null_mean=float(null_array.mean()) if null else float("nan"))


def align_spaces(X: np.ndarray, Y: np.ndarray, *, k: int = 10, n_boot: int = N_BOOT, n_perm: int = 999,
                 max_n_pairwise: int = 1000, seed: int = 0) -> dict[str, Estimate]:
    """Every track-by-track alignment figure of one pair of spaces, keyed by name (the figures through the
    label, centroid agreement among them, are :mod:`counterpoint.analysis.label_structure`'s)."""
    out = cka_estimates(X, Y, n_boot=n_boot, n_perm=n_perm, max_n=max_n_pairwise, seed=seed)
    out["rsa_spearman"] = rsa(X, Y, max_n=max_n_pairwise, n_boot=n_boot, n_perm=n_perm, seed=seed)
    out[f"mutual_knn@{k}"] = mutual_knn(X, Y, k=k, n_boot=n_boot, n_perm=n_perm, seed=seed)
    return out
