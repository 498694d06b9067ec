"""UMAP's neighbours: exact and computed once from UMAP_EXACT_NEIGHBOURS_FROM tracks on, UMAP's own below."""

from __future__ import annotations

import numpy as np
import pytest

from counterpoint.analysis import reduce


def clustered(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(4, 12))[rng.integers(0, 4, n)] + 0.3 * rng.normal(size=(n, 12))).astype(np.float32)


def test_exact_neighbours_are_the_nearest_rows_themselves_first(monkeypatch) -> None:
    monkeypatch.setattr(reduce, "UMAP_EXACT_NEIGHBOURS_FROM", 50)
    X = clustered(80).astype(np.float64)
    indices, distances, index = reduce.exact_neighbours(X, 6)
    full = np.linalg.norm(X[:, None, :] - X[None, :, :], axis=-1)
    assert index is None and indices.shape == distances.shape == (80, 6)
    assert (indices[:, 0] == np.arange(80)).all() and np.allclose(distances[:, 0], 0)
    np.testing.assert_allclose(distances, np.sort(full, axis=1)[:, :6], atol=1e-9)


def test_below_the_threshold_umap_searches_itself_and_gives_its_own_numbers() -> None:
    import umap

    X = clustered(60)
    assert reduce.exact_neighbours(X, 15) == (None, None, None)
    from sklearn.preprocessing import StandardScaler

    plain = umap.UMAP(n_components=2, n_neighbors=15, random_state=0, n_jobs=1).fit_transform(
        StandardScaler().fit_transform(X.astype(np.float64)))
    np.testing.assert_array_equal(reduce.reduce_2d(X, "umap", seed=0), plain)


@pytest.mark.filterwarnings("error::UserWarning")
def test_umap_on_precomputed_neighbours_runs_without_a_warning(monkeypatch) -> None:
    monkeypatch.setattr(reduce, "UMAP_EXACT_NEIGHBOURS_FROM", 50)
    coords = reduce.reduce_2d(clustered(80), "umap", seed=0)
    assert coords.shape == (80, 2) and np.isfinite(coords).all()
