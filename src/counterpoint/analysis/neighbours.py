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

#: Neighbours listed per track and view.
NEIGHBOURS_K = 5
NEIGHBOUR_COLUMNS = ["view", "query", "rank", "neighbour", "similarity", "query_held_out"]


#: Queries whose similarities to every candidate are held at once (``[block, N]`` float64): 64 MB at 8,000 candidates.
TOP_K_BLOCK = 1024


def _top_k(queries: np.ndarray, candidates: np.ndarray, k: int, exclude_self: bool) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``[N, k]`` and cosine similarities of each query's k most similar candidates, most similar first
    (ties: the lower index first).

    Queries go in blocks of :data:`TOP_K_BLOCK`, so memory is ``[block, N]``, never ``[N, N]``; a row's k
    best are found by partition (every candidate tied with the k-th kept) and only they are sorted.
    """
    Q = unit_rows(queries).astype(np.float64)
    C = unit_rows(candidates).astype(np.float64)
    k = min(k, len(C) - int(exclude_self))
    order = np.empty((len(Q), k), dtype=np.int64)
    best = np.empty((len(Q), k))
    for start in range(0, len(Q), TOP_K_BLOCK):
        sims = Q[start:start + TOP_K_BLOCK] @ C.T
        if exclude_self:
            rows = np.arange(len(sims))
            sims[rows, start + rows] = -np.inf
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


def _table(view: str, ids: np.ndarray, order: np.ndarray, sims: np.ndarray, held_out: np.ndarray | None) -> pd.DataFrame:
    n, k = order.shape
    return pd.DataFrame({
        "view": view, "query": np.repeat(ids, k), "rank": np.tile(np.arange(1, k + 1), n),
        "neighbour": ids[order.ravel()], "similarity": sims.ravel(),
        "query_held_out": True if held_out is None else np.repeat(held_out, k),
    }, columns=NEIGHBOUR_COLUMNS)


def space_neighbours(X: np.ndarray, ids: np.ndarray, *, k: int = 5, view: str = "") -> pd.DataFrame:
    """Each track's ``k`` nearest other tracks in one space (cosine of standardised rows)."""
    X = np.asarray(X, dtype=np.float64)
    std = X.std(0)
    Z = (X - X.mean(0)) / np.where(std > 1e-12, std, 1.0)
    order, sims = _top_k(Z, Z, k, exclude_self=True)
    return _table(view, np.asarray(ids, dtype=object), order, sims, None)


def cross_space_neighbours(X: np.ndarray, Y: np.ndarray, ids: np.ndarray, *, train: np.ndarray, alpha: float | None,
                           k: int = 5, view: str = "") -> pd.DataFrame:
    """Each track's ``k`` nearest tracks of the other space ``Y`` for its row of ``X`` (paired rows).

    ``alpha`` given: ``X`` is mapped into ``Y`` by ridge regression fitted on the ``train`` rows
    (both standardised with training statistics), so a training query's neighbours come from a
    map that saw it (``query_held_out`` False). ``alpha`` None: the two spaces are one shared
    space, compared directly.
    """
    ids = np.asarray(ids, dtype=object)
    held_out = np.ones(len(ids), dtype=bool)
    if alpha is None:
        queries, candidates = np.asarray(X, np.float64), np.asarray(Y, np.float64)
    else:
        queries, candidates = standardise_with(X, train), standardise_with(Y, train)
        queries = queries @ ridge_map(queries[train], candidates[train], alpha)
        held_out[train] = False
    order, sims = _top_k(queries, candidates, k, exclude_self=False)
    return _table(view, ids, order, sims, held_out)
