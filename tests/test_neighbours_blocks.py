"""Nearest tracks found block by block: the same lists as sorting every whole row, in [block, N] memory."""

from __future__ import annotations

import numpy as np
import pytest

from counterpoint.analysis import neighbours


@pytest.mark.parametrize("k", [1, 3, 7])
def test_best_k_is_a_stable_sort_of_whole_rows_ties_included(k: int) -> None:
    rng = np.random.default_rng(0)
    sims = rng.integers(-2, 3, size=(40, 25)).astype(np.float64)   # five values: ties everywhere, at the k-th too
    sims[np.arange(25), np.arange(25)] = -np.inf                    # an excluded self
    expected = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(neighbours._best_k(sims, k), expected)


def test_space_neighbours_are_the_same_in_small_blocks_as_in_one(monkeypatch) -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(90, 16)).astype(np.float32)
    X[10] = X[20]                                   # two identical tracks: each other's nearest, similarity 1
    ids = np.array([f"t{i}" for i in range(90)])
    whole = neighbours.space_neighbours(X, ids, k=5, view="a")
    monkeypatch.setattr(neighbours, "TOP_K_BLOCK", 8)     # 12 blocks, the last one short
    blocks = neighbours.space_neighbours(X, ids, k=5, view="a")
    np.testing.assert_array_equal(blocks[["query", "rank", "neighbour"]], whole[["query", "rank", "neighbour"]])
    # float64 cosines of float32 inputs: blocks of another height may sum in another order (16 terms)
    np.testing.assert_allclose(blocks["similarity"], whole["similarity"], rtol=0, atol=64 * np.finfo(np.float64).eps)
    monkeypatch.setattr(neighbours, "TOP_K_BLOCK", 1024)
    monkeypatch.setattr(neighbours, "TOP_K_BLOCK_BYTES", 8 * 90 * 7)   # the byte bound: 7 queries × 90 candidates
    bounded = neighbours.space_neighbours(X, ids, k=5, view="a")
    np.testing.assert_array_equal(bounded[["query", "rank", "neighbour"]], whole[["query", "rank", "neighbour"]])
    np.testing.assert_allclose(bounded["similarity"], whole["similarity"], rtol=0, atol=64 * np.finfo(np.float64).eps)
    first = whole[(whole["query"] == "t10") & (whole["rank"] == 1)]
    assert first["neighbour"].item() == "t20" and first["similarity"].item() == pytest.approx(1.0)
    assert not (whole["query"] == whole["neighbour"]).any()


def test_cross_space_neighbours_in_blocks_rank_every_candidate(monkeypatch) -> None:
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(30, 6)), rng.normal(size=(30, 6))
    ids = np.array([f"t{i}" for i in range(30)])
    monkeypatch.setattr(neighbours, "TOP_K_BLOCK", 4)
    table = neighbours.cross_space_neighbours(X, Y, ids, train=np.arange(20), alpha=None, k=30, view="x")
    for query, rows in table.groupby("query"):
        assert sorted(rows["neighbour"]) == sorted(ids)              # k = N: every candidate, once
        assert (np.diff(rows["similarity"].to_numpy()) <= 0).all()   # most similar first


def test_lists_of_a_query_subsample_are_those_tracks_rows_of_the_whole_lists(monkeypatch) -> None:
    rng = np.random.default_rng(3)
    labels = np.array(["a"] * 50 + ["b"] * 25 + ["c"] * 5)
    X, Y = rng.normal(size=(80, 12)), rng.normal(size=(80, 12))
    ids = np.array([f"t{i}" for i in range(80)])
    assert neighbours.neighbour_queries(labels, seed=0, limit=80) is None
    assert neighbours.queries_note(80, 80, 0) is None
    queries = neighbours.neighbour_queries(labels, seed=0, limit=16)
    assert len(queries) == 16 and set(labels[queries]) == {"a", "b", "c"}   # stratified: the rare class kept
    assert "subsample of 16 of the 80 tracks" in neighbours.queries_note(80, 16, 0)
    monkeypatch.setattr(neighbours, "TOP_K_BLOCK", 5)     # the queries' own rows excluded block by block
    columns = ["query", "rank", "neighbour", "similarity", "query_held_out"]
    whole = neighbours.space_neighbours(X, ids, k=4, view="a")
    some = neighbours.space_neighbours(X, ids, k=4, view="a", queries=queries)
    expected = whole[whole["query"].isin(ids[queries])].reset_index(drop=True)
    np.testing.assert_array_equal(some[columns[:3]], expected[columns[:3]])
    np.testing.assert_allclose(some["similarity"], expected["similarity"], rtol=0, atol=64 * np.finfo(np.float64).eps)
    assert not (some["query"] == some["neighbour"]).any() and set(some["neighbour"]) - set(ids[queries])
    train = np.arange(60)
    whole = neighbours.cross_space_neighbours(X, Y, ids, train=train, alpha=10.0, k=4, view="x")
    some = neighbours.cross_space_neighbours(X, Y, ids, train=train, alpha=10.0, k=4, view="x", queries=queries)
    expected = whole[whole["query"].isin(ids[queries])].reset_index(drop=True)
    np.testing.assert_array_equal(some[["query", "rank", "neighbour", "query_held_out"]],
                                  expected[["query", "rank", "neighbour", "query_held_out"]])
    np.testing.assert_allclose(some["similarity"], expected["similarity"], rtol=0, atol=64 * np.finfo(np.float64).eps)
