"""Nearest tracks of every track, in each space and across spaces: the "why" behind mutual-kNN and retrieval.

Within a space: cosine similarity of standardised pooled embeddings (the geometry mutual-kNN
reads). Across spaces: a track's embedding carried into the other space by the ridge map that
retrieval fits on the training pairs (:mod:`counterpoint.analysis.retrieval`, same alpha), or
compared directly when both encoders share one trained space. Every function returns a long
table with the columns of :data:`NEIGHBOUR_COLUMNS`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from counterpoint.analysis.retrieval import ridge_map, standardise_with, unit_rows
from counterpoint.config import SCATTER_LIMIT
from counterpoint.splits import stratified_subsample

#: Neighbours listed per track and view.
NEIGHBOURS_K = 5
#: Most query tracks per view: above it, a label-stratified subsample of this size (the tracks a report page draws
#: at its default scatter limit) gets its lists — every track stays a candidate neighbour. The lists cost
#: queries × tracks, the square of the corpus without the limit.
NEIGHBOUR_QUERIES_MAX_N = SCATTER_LIMIT
NEIGHBOUR_COLUMNS = ["view", "query", "rank", "neighbour", "similarity", "query_held_out"]


#: Most queries whose similarities to every candidate are held at once (``[block, N]`` float64)...
TOP_K_BLOCK = 1024
#: ...and at most this many bytes of them (64 MB: 1,024 queries up to 8,192 candidates, 83 at 100,000), so memory
#: stays flat however large the corpus.
TOP_K_BLOCK_BYTES = 64 * 2**20


def neighbour_queries(labels: np.ndarray, seed: int, limit: int | None = None) -> np.ndarray | None:
    """The rows whose lists are computed: None (every row) up to ``limit`` rows (default
    :data:`NEIGHBOUR_QUERIES_MAX_N`), above it the label-stratified subsample of ``limit`` a report page draws
    (:func:`~counterpoint.splits.stratified_subsample`, ``seed``)."""
    limit = NEIGHBOUR_QUERIES_MAX_N if limit is None else limit
    return None if len(labels) <= limit else stratified_subsample(labels, limit, seed=seed)


def queries_note(n_tracks: int, n_queries: int, seed: int) -> str | None:
    """What the lists of a space of ``n_tracks`` of which ``n_queries`` have lists say of their queries (None:
    every track has its list)."""
    if n_queries >= n_tracks:
        return None
    return (f"nearest-track lists of a subsample of {n_queries:,} of the {n_tracks:,} tracks, stratified by the label "
            f"(seed {seed}; the tracks the page draws at the default scatter limit), every track a candidate "
            "neighbour: lists of every track cost the square of the count")


def _top_k(queries: np.ndarray, candidates: np.ndarray, k: int,
           itself: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``[N, k]`` and cosine similarities of each query's k most similar candidates, most similar first
    (ties: the lower index first); ``itself``: each query's own row among the candidates, never listed.

    Queries go in blocks of at most :data:`TOP_K_BLOCK` rows and :data:`TOP_K_BLOCK_BYTES`, so memory is
    ``[block, N]``, never ``[N, N]``; a row's k best are found by partition (every candidate tied with the k-th
    kept) and only they are sorted.
    """
    Q = np.asarray(unit_rows(queries), dtype=np.float64)
    C = np.asarray(unit_rows(candidates), dtype=np.float64)
    k = min(k, len(C) - int(itself is not None))
    order = np.empty((len(Q), k), dtype=np.int64)
    best = np.empty((len(Q), k))
    height = max(1, min(TOP_K_BLOCK, TOP_K_BLOCK_BYTES // (8 * max(len(C), 1))))
    for start in range(0, len(Q), height):
        sims = Q[start:start + height] @ C.T
        if itself is not None:
            sims[np.arange(len(sims)), itself[start:start + height]] = -np.inf
        block = _best_k(sims, k)
        order[start:start + len(sims)] = block
        best[start:start + len(sims)] = np.take_along_axis(sims, block, axis=1)
    return order, best


def _best_k(sims: np.ndarray, k: int) -> np.ndarray:
    """Per row of ``sims`` the column indices of its k largest values, largest first, ties by lower index —
    what a stable argsort of ``-sims`` would give, without sorting whole rows."""
    if k == 0:
        return np.empty((len(sims), 0), dtype=np.int64)
    kth = -np.partition(-sims, k - 1, axis=1)[:, k - 1]
    rows, columns = np.nonzero(sims >= kth[:, None])          # the k best and whatever ties the k-th
    ranked = np.lexsort((columns, -sims[rows, columns], rows))  # by row, then similarity, then index
    rows, columns = rows[ranked], columns[ranked]
    first_of_row = np.searchsorted(rows, np.arange(len(sims)))
    position = np.arange(len(rows)) - first_of_row[rows]
    keep = position < k
    return columns[keep].reshape(len(sims), k)


def _table(view: str, ids: np.ndarray, order: np.ndarray, sims: np.ndarray, held_out: np.ndarray | None,
           *, candidate_ids: np.ndarray) -> pd.DataFrame:
    n, k = order.shape
    return pd.DataFrame({
        "view": view, "query": np.repeat(ids, k), "rank": np.tile(np.arange(1, k + 1), n),
        "neighbour": candidate_ids[order.ravel()], "similarity": sims.ravel(),
        "query_held_out": True if held_out is None else np.repeat(held_out, k),
    }, columns=NEIGHBOUR_COLUMNS)


def space_neighbours(X: np.ndarray, ids: np.ndarray, *, k: int = 5, view: str = "",
                     queries: np.ndarray | None = None) -> pd.DataFrame:
    """The ``k`` nearest other tracks in one space (cosine of standardised rows) of each track, or of the
    rows ``queries`` (every track a candidate)."""
    Z = np.array(X, dtype=np.float64)            # one float64 copy, standardised in place
    std = Z.std(0)
    Z -= Z.mean(0)
    Z /= np.where(std > 1e-12, std, 1.0)
    rows = np.arange(len(Z)) if queries is None else np.asarray(queries, dtype=np.int64)
    order, sims = _top_k(Z[rows], Z, k, itself=rows)
    ids = np.asarray(ids, dtype=object)
    return _table(view, ids[rows], order, sims, None, candidate_ids=ids)


def cross_space_neighbours(X: np.ndarray, Y: np.ndarray, ids: np.ndarray, *, train: np.ndarray, alpha: float | None,
                           k: int = 5, view: str = "", queries: np.ndarray | None = None) -> pd.DataFrame:
    """Each track's ``k`` nearest tracks of the other space ``Y`` for its row of ``X`` (paired rows), or
    the rows ``queries``' only (every track of ``Y`` a candidate).

    ``alpha`` given: ``X`` is mapped into ``Y`` by ridge regression fitted on the ``train`` rows
    (both standardised with training statistics), so a training query's neighbours come from a
    map that saw it (``query_held_out`` False). ``alpha`` None: the two spaces are one shared
    space, compared directly.
    """
    ids = np.asarray(ids, dtype=object)
    held_out = np.ones(len(ids), dtype=bool)
    if alpha is None:
        sources, candidates = np.asarray(X, np.float64), np.asarray(Y, np.float64)
        mapping = None
    else:
        sources, candidates = standardise_with(X, train), standardise_with(Y, train)
        mapping = ridge_map(sources[train], candidates[train], alpha)
        held_out[train] = False
    rows = np.arange(len(ids)) if queries is None else np.asarray(queries, dtype=np.int64)
    carried = sources[rows] if mapping is None else sources[rows] @ mapping
    order, sims = _top_k(carried, candidates, k, itself=None)
    return _table(view, ids[rows], order, sims, held_out[rows], candidate_ids=ids)
