"""Cross-modal retrieval: given a track's audio embedding, find its MIDI among held-out tracks.

Two spaces of different encoders are not comparable vector by vector, so a mapping is
learnt on the *training* pairs only and evaluated on held-out pairs:

* **ridge**: a linear map from one standardised space into the other (one per direction);
  the regularisation strength is chosen by grouped inner cross-validation on the training
  pairs, maximising retrieval MRR.
* **cca**: regularised canonical correlation analysis into a shared space (covariances
  shrunk towards the identity, Vinod 1976), shrinkage and number of components chosen the
  same way. scikit-learn's CCA is unregularised and degenerates when tracks are fewer than
  dimensions, which is the usual case here.
* **shared**: encoders trained into one joint space (e.g. CLaMP 3 audio and symbolic) are
  also compared directly by cosine similarity, without any mapping.

Every query's rank of its true partner among all held-out candidates is kept; the figures
(Recall@k, median rank, MRR) are summaries of those ranks with their chance levels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from counterpoint.analysis.statistics import (
    Estimate,
    bootstrap_indices,
    percentile_interval,
    permutation_p_value,
    subsample_indices,
)
from counterpoint.blas import single_threaded_blas
from counterpoint.config import N_BOOT
from counterpoint.errors import CounterpointError
from counterpoint.ranges import UNIT, Range, declare_measure
from counterpoint.splits import grouped_folds

RIDGE_ALPHAS = (0.1, 1.0, 10.0, 100.0, 1e3, 1e4, 1e5)
CCA_SHRINKAGES = (0.01, 0.1, 0.5)
CCA_COMPONENTS = (8, 32, 128)
RECALL_KS = (1, 5, 10)
#: Held-out rows per inner fold when choosing hyper-parameters.
INNER_VALIDATION_MAX_N = 1000

# The figures this module computes, declared once (range, name, prose, verdict role; see counterpoint.ranges).
declare_measure("recall", UNIT, title="Recall", verdict=("recall@1", "ridge"), verdict_rows=2,
                prose="Recall@1: the share of held-out tracks whose partner comes first when the ridge map fitted on "
                      "the training tracks ranks the held-out tracks, both directions.")
declare_measure("mrr", Range(0.0, 1.0, low_open=True), title="MRR",   # mean of 1 / rank, rank ≤ n
                prose="MRR: the mean of 1 / the true partner's rank among the held-out tracks.")
declare_measure("median_rank", Range(1.0, float("inf"), high_is_n=True), title="median rank",
                prose="Median rank: the true partner's median rank among the held-out tracks (1 is best).")
declare_measure("canonical_correlation", UNIT, title="canonical correlation",  # of non-negative singular values
                prose="Canonical correlation: the correlation of a pair of canonical variates of the CCA.")


def share_space(space_a: str | None, space_b: str | None) -> bool:
    """Whether two encoders embed into one trained joint space: the spaces their store records name
    (:attr:`counterpoint.store.EncoderRecord.shared_space`, as each encoder declares it) are one;
    None (no joint space, or a store written before spaces were recorded) shares with nothing."""
    return space_a is not None and space_a == space_b


# --------------------------------------------------------------------------------------
# Ranks and figures


def unit_rows(X: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), float32."""
    X = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1.0)


def pair_ranks(queries: np.ndarray, candidates: np.ndarray, block: int = 1024) -> np.ndarray:
    """Rank (1 = best) of candidate i among all candidates for query i, by cosine similarity.

    Ties share their mean rank, so a space that cannot tell tracks apart scores at chance.
    Memory: one ``[block, N]`` similarity block at a time.
    """
    Q, C = unit_rows(queries), unit_rows(candidates)
    if Q.shape != C.shape:
        raise CounterpointError(f"queries {Q.shape} and candidates {C.shape} must be paired rows in one space")
    ranks = np.empty(len(Q))
    with single_threaded_blas():
        for start in range(0, len(Q), block):
            sims = Q[start:start + block] @ C.T
            rows = np.arange(len(sims))
            true = sims[rows, start + rows][:, None]
            greater = (sims > true).sum(1)
            equal = (sims == true).sum(1) - 1
            ranks[start:start + block] = 1 + greater + equal / 2.0
    return ranks


def chance_levels(n: int, ks: Sequence[int] = RECALL_KS) -> dict[str, float]:
    """Expected figures of a random ranking of ``n`` candidates."""
    levels = {f"recall@{k}": min(k, n) / n for k in ks}
    levels["median_rank"] = (n + 1) / 2
    levels["mrr"] = float(np.sum(1.0 / np.arange(1, n + 1)) / n)
    return levels


def _figures(ranks: np.ndarray, ks: Sequence[int]) -> dict[str, np.ndarray]:
    """The figures of the ranks along the last axis (``[N]`` → scalars, ``[draws, N]`` → ``[draws]``)."""
    out = {f"recall@{k}": np.mean(ranks <= k, axis=-1) for k in ks}
    out["median_rank"] = np.median(ranks, axis=-1)
    out["mrr"] = np.mean(1.0 / ranks, axis=-1)
    return out


def rank_figures(ranks: np.ndarray, ks: Sequence[int] = RECALL_KS) -> dict[str, np.ndarray]:
    """Recall@k, median rank and MRR of per-query ranks along the last axis (the one definition every
    analysis of ranks uses: ``[N]`` → scalars, ``[draws, N]`` → ``[draws]``)."""
    return _figures(np.asarray(ranks, dtype=np.float64), ks)


def retrieval_figures(ranks: np.ndarray, *, ks: Sequence[int] = RECALL_KS, n_boot: int = N_BOOT,
                      n_perm: int = 999, seed: int = 0) -> dict[str, Estimate]:
    """Recall@k, median rank and MRR of per-query ranks, with intervals, chance and p-values.

    Intervals bootstrap the queries. The p-value compares with a random ranker (each query's
    rank uniform on 1..N, drawn ``n_perm`` times); small is better for the median rank. Resamples
    and null draws are computed all at once (``[draws, N]``).
    """
    ranks = np.asarray(ranks, dtype=np.float64)
    n = len(ranks)
    values = _figures(ranks, ks)
    chance = chance_levels(n, ks)
    # All null draws at once, one row each, drawn in the order one draw at a time would take them.
    null = _figures(np.random.default_rng(seed + 1).integers(1, n + 1, (n_perm, n)).astype(np.float64), ks)
    out = {}
    resampled = _figures(ranks[bootstrap_indices(n, n_boot, seed)], ks) if n else {}
    for name, value in values.items():
        value = float(value)
        low, high = percentile_interval(resampled[name]) if n and n_boot > 0 else (float("nan"), float("nan"))
        alternative = "less" if name == "median_rank" else "greater"
        p = permutation_p_value(value, null[name], alternative) if n_perm else float("nan")
        null_mean = float(np.mean(null[name])) if n_perm else float("nan")
        out[name] = Estimate(value=value, ci_low=low, ci_high=high, p_value=p, n=n, n_resample=n,
                             chance=chance[name], null_mean=null_mean)
    return out


# --------------------------------------------------------------------------------------
# Mappings


def _standardiser(train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = train.mean(0)
    std = train.std(0)
    return mean, np.where(std > 1e-12, std, 1.0)


def _standardise(X: np.ndarray, stats: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    return (np.asarray(X, dtype=np.float64) - stats[0]) / stats[1]


def standardise_with(X: np.ndarray, train: np.ndarray) -> np.ndarray:
    """``X`` standardised with the mean and standard deviation of its ``train`` rows, float64."""
    return _standardise(X, _standardiser(np.asarray(X[train], np.float64)))


def ridge_map(X: np.ndarray, Y: np.ndarray, alpha: float) -> np.ndarray:
    """The ridge coefficients ``[Dx, Dy]`` mapping standardised ``X`` onto ``Y`` (see :func:`ridge_maps`)."""
    return ridge_maps(X, Y, [alpha])[0]


def _mrr(queries: np.ndarray, candidates: np.ndarray) -> float:
    return float(np.mean(1.0 / pair_ranks(queries, candidates)))


def ridge_maps(X: np.ndarray, Y: np.ndarray, alphas: Sequence[float]) -> list[np.ndarray]:
    """Ridge coefficient matrices ``[Dx, Dy]`` for every alpha from one eigendecomposition
    of ``XᵀX`` (inputs standardised, so no intercept)."""
    eigenvalues, eigenvectors = np.linalg.eigh(X.T @ X)
    projected = eigenvectors.T @ (X.T @ Y)
    return [eigenvectors @ (projected / (eigenvalues + alpha)[:, None]) for alpha in alphas]


@dataclass
class _CCAMoments:
    """Eigendecompositions of the two covariances and the cross-covariance of standardised
    training data: shrinking ``C`` towards ``t·I`` keeps its eigenvectors, so one
    decomposition serves every shrinkage."""

    x_values: np.ndarray
    x_vectors: np.ndarray
    y_values: np.ndarray
    y_vectors: np.ndarray
    cross: np.ndarray

    @classmethod
    def of(cls, X: np.ndarray, Y: np.ndarray) -> "_CCAMoments":
        n = len(X)
        x_values, x_vectors = np.linalg.eigh(X.T @ X / (n - 1))
        y_values, y_vectors = np.linalg.eigh(Y.T @ Y / (n - 1))
        return cls(x_values, x_vectors, y_values, y_vectors, X.T @ Y / (n - 1))

    def fit(self, shrinkage: float, n_components: int) -> tuple[np.ndarray, np.ndarray]:
        """Regularised CCA: projections ``A`` ``[Dx, c]`` and ``B`` ``[Dy, c]``, strongest pair
        first (a prefix of c' columns is the c'-component fit).

        The singular values of the whitened cross-covariance are not correlations here: with
        shrunk covariances they exceed 1 (see :func:`canonical_correlations`)."""

        def inverse_sqrt(values: np.ndarray, vectors: np.ndarray) -> np.ndarray:
            shrunk = (1 - shrinkage) * values + shrinkage * values.mean()
            return (vectors / np.sqrt(np.maximum(shrunk, 1e-12))) @ vectors.T

        wx = inverse_sqrt(self.x_values, self.x_vectors)
        wy = inverse_sqrt(self.y_values, self.y_vectors)
        u, s, vt = np.linalg.svd(wx @ self.cross @ wy, full_matrices=False)
        c = min(n_components, len(s))
        return wx @ u[:, :c], wy @ vt[:c].T


def canonical_correlations(zx: np.ndarray, zy: np.ndarray) -> np.ndarray:
    """Pearson correlation of each pair of canonical variates (columns of ``zx``, ``zy`` ``[N, c]``).

    On the training pairs each variate pair's covariance is the matching singular value, so
    the correlations lie in [0, 1] (clipped against rounding); variates with no spread give 0.
    """
    zx = np.asarray(zx, dtype=np.float64) - np.mean(zx, axis=0)
    zy = np.asarray(zy, dtype=np.float64) - np.mean(zy, axis=0)
    norms = np.linalg.norm(zx, axis=0) * np.linalg.norm(zy, axis=0)
    products = np.einsum("ij,ij->j", zx, zy)
    return np.clip(np.divide(products, norms, out=np.zeros_like(products), where=norms > 0), 0.0, 1.0)


@dataclass
class RetrievalRun:
    """Ranks of the held-out pairs under one method in one direction."""

    method: str                 # "ridge", "cca" or "shared"
    direction: str              # "audio→symbolic" or "symbolic→audio"
    ranks: np.ndarray           # [N_test], 1 = the true partner came first
    settings: dict = field(default_factory=dict)


@dataclass
class RetrievalOutcome:
    """All runs of one pair of spaces, and both spaces' held-out tracks in the CCA space."""

    runs: list[RetrievalRun]
    cca_test_x: np.ndarray      # [N_test, c]
    cca_test_y: np.ndarray      # [N_test, c]
    cca_correlations: np.ndarray  # [c], of the canonical variates on the training pairs, in [0, 1]


def _inner_folds(n: int, labels: np.ndarray | None, groups: np.ndarray | None,
                 seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Three grouped folds of the training rows; each held-out part is cut to at most
    :data:`INNER_VALIDATION_MAX_N` rows (scoring costs the square of its size)."""
    inner_labels = np.zeros(n, dtype=int) if labels is None else labels
    folds = grouped_folds(inner_labels, groups, n_splits=3, seed=seed)
    return [(fit, held[subsample_indices(len(held), INNER_VALIDATION_MAX_N, seed)]) for fit, held in folds]


def cross_modal_retrieval(X: np.ndarray, Y: np.ndarray, *, train: np.ndarray, test: np.ndarray,
                          labels: np.ndarray | None = None, groups: np.ndarray | None = None,
                          shared_space: bool = False, names: tuple[str, str] = ("audio", "symbolic"),
                          seed: int = 0) -> RetrievalOutcome:
    """Fit ridge and CCA mappings on the ``train`` rows, rank the ``test`` rows both ways.

    ``X`` ``[N, Dx]`` and ``Y`` ``[N, Dy]`` are paired rows; ``train``/``test`` are index
    arrays that never share a group (see :mod:`counterpoint.splits`); ``labels`` and
    ``groups`` of all rows stratify and group the inner folds that choose the ridge alpha
    and the CCA shrinkage and size. Standardisation uses training statistics only.
    """
    with single_threaded_blas():  # eigh/svd of [D, D] matrices: multi-threaded LAPACK is far slower on busy machines
        return _cross_modal_retrieval(X, Y, train, test, labels, groups, shared_space, names, seed)


def _cross_modal_retrieval(X: np.ndarray, Y: np.ndarray, train: np.ndarray, test: np.ndarray,
                           labels: np.ndarray | None, groups: np.ndarray | None, shared_space: bool,
                           names: tuple[str, str], seed: int) -> RetrievalOutcome:
    train, test = np.asarray(train), np.asarray(test)
    if len(train) < 6 or len(test) < 2:
        raise CounterpointError(f"retrieval needs at least 6 training and 2 test pairs, got {len(train)} and "
                                f"{len(test)} — use a larger dataset or another split column")
    sx, sy = _standardiser(np.asarray(X[train], np.float64)), _standardiser(np.asarray(Y[train], np.float64))
    Xtr, Xte = _standardise(X[train], sx), _standardise(X[test], sx)
    Ytr, Yte = _standardise(Y[train], sy), _standardise(Y[test], sy)
    folds = _inner_folds(len(train), None if labels is None else np.asarray(labels)[train],
                         None if groups is None else np.asarray(groups)[train], seed)
    a_to_b, b_to_a = f"{names[0]}→{names[1]}", f"{names[1]}→{names[0]}"
    runs = []

    for source_tr, target_tr, source_te, target_te, direction in ((Xtr, Ytr, Xte, Yte, a_to_b),
                                                                  (Ytr, Xtr, Yte, Xte, b_to_a)):
        scores = np.zeros(len(RIDGE_ALPHAS))
        for fit, held in folds:
            for i, W in enumerate(ridge_maps(source_tr[fit], target_tr[fit], RIDGE_ALPHAS)):
                scores[i] += _mrr(source_tr[held] @ W, target_tr[held])
        alpha = RIDGE_ALPHAS[int(np.argmax(scores))]
        W = ridge_maps(source_tr, target_tr, [alpha])[0]
        runs.append(RetrievalRun("ridge", direction, pair_ranks(source_te @ W, target_te), {"alpha": alpha}))

    max_components = min(Xtr.shape[1], Ytr.shape[1], len(train) - 1)
    sizes = sorted({min(c, max_components) for c in CCA_COMPONENTS})
    grid = [(r, c) for r in CCA_SHRINKAGES for c in sizes]
    scores = np.zeros(len(grid))
    for fit, held in folds:
        moments = _CCAMoments.of(Xtr[fit], Ytr[fit])
        for shrinkage in CCA_SHRINKAGES:
            A, B = moments.fit(shrinkage, sizes[-1])
            for c in sizes:
                zx, zy = Xtr[held] @ A[:, :c], Ytr[held] @ B[:, :c]
                scores[grid.index((shrinkage, c))] += _mrr(zx, zy) + _mrr(zy, zx)
    shrinkage, components = grid[int(np.argmax(scores))]
    A, B = _CCAMoments.of(Xtr, Ytr).fit(shrinkage, components)
    correlations = canonical_correlations(Xtr @ A, Ytr @ B)
    zx, zy = Xte @ A, Yte @ B
    settings = {"shrinkage": shrinkage, "components": int(A.shape[1])}
    runs.append(RetrievalRun("cca", a_to_b, pair_ranks(zx, zy), settings))
    runs.append(RetrievalRun("cca", b_to_a, pair_ranks(zy, zx), settings))

    if shared_space:
        if X.shape[1] != Y.shape[1]:
            raise CounterpointError(f"encoders recorded as one shared space have dimensions {X.shape[1]} and "
                                    f"{Y.shape[1]} — fix the joint_space their encoder classes declare")
        runs.append(RetrievalRun("shared", a_to_b, pair_ranks(X[test], Y[test])))
        runs.append(RetrievalRun("shared", b_to_a, pair_ranks(Y[test], X[test])))
    return RetrievalOutcome(runs, zx, zy, correlations)
