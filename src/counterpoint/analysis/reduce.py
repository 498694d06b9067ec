"""2-D views of an embedding space: PCA, t-SNE (openTSNE) and UMAP, all seeded."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from counterpoint.config import REDUCTIONS
from counterpoint.errors import CounterpointError

#: Fewest tracks for each view: PCA needs two points for a direction; t-SNE's smallest
#: perplexity (2) needs 3 × perplexity ≤ N − 1; UMAP's spectral start takes 3 eigenvectors of
#: the N-node neighbour graph (N > 3), and below 5 tracks its graph says nothing.
MIN_TRACKS = {"pca": 2, "tsne": 7, "umap": 5}
#: From this many tracks on, UMAP would search neighbours approximately (pynndescent, whose
#: compilation and search were the largest sink of ``analyze`` at 8000 tracks); the exact
#: neighbours are computed once with scikit-learn instead. Below it UMAP searches exactly itself.
UMAP_EXACT_NEIGHBOURS_FROM = 4096


def pca_2d(X: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """PCA of standardised ``X`` [N, D]: coordinates ``[N, 2]`` and the share of the total
    variance each of the two axes explains ``[2]`` (0 for an axis the data cannot fill)."""
    scaled = StandardScaler().fit_transform(np.asarray(X, dtype=np.float64))
    components = min(2, scaled.shape[1], len(scaled))
    pca = PCA(n_components=components, random_state=seed).fit(scaled)
    coords = pca.transform(scaled)
    ratios = np.nan_to_num(pca.explained_variance_ratio_)
    return np.pad(coords, ((0, 0), (0, 2 - components))), np.pad(ratios, (0, 2 - components))


def reduce_2d(X: np.ndarray, method: str, seed: int = 0) -> np.ndarray:
    """Project standardised ``X`` [N, D] to ``[N, 2]`` with ``method`` (pca, tsne or umap).

    Needs at least :data:`MIN_TRACKS` rows for the method (a :class:`CounterpointError` otherwise).
    """
    if method not in REDUCTIONS:
        raise CounterpointError(f"unknown reduction {method!r}; choose one of {', '.join(REDUCTIONS)}")
    if len(X) < MIN_TRACKS[method]:
        raise CounterpointError(f"{method.upper()} needs at least {MIN_TRACKS[method]} tracks, got {len(X)}")
    if method == "pca":
        return pca_2d(X, seed)[0]
    scaled = StandardScaler().fit_transform(np.asarray(X, dtype=np.float64))
    n = len(scaled)
    if method == "tsne":
        from openTSNE import TSNE

        perplexity = float(max(2.0, min(30.0, (n - 1) / 3)))
        return np.asarray(TSNE(n_components=2, perplexity=perplexity, random_state=seed, n_jobs=1,
                               verbose=False).fit(scaled))
    import umap

    neighbours = int(max(2, min(15, n - 1)))
    with warnings.catch_warnings():  # precomputed neighbours carry no search index: no .transform, never called
        warnings.filterwarnings("ignore", message="precomputed_knn", category=UserWarning)
        return umap.UMAP(n_components=2, n_neighbors=neighbours, random_state=seed, n_jobs=1,
                         precomputed_knn=exact_neighbours(scaled, neighbours)).fit_transform(scaled)


def exact_neighbours(scaled: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, None] | tuple[None, None, None]:
    """UMAP's ``precomputed_knn`` for ``scaled`` [N, D]: the ``k`` exact Euclidean neighbours of
    every row (itself first) from :data:`UMAP_EXACT_NEIGHBOURS_FROM` rows on, else nothing to
    precompute (UMAP's own exact search)."""
    if len(scaled) < UMAP_EXACT_NEIGHBOURS_FROM:
        return None, None, None
    from sklearn.neighbors import NearestNeighbors

    distances, indices = NearestNeighbors(n_neighbors=k).fit(scaled).kneighbors(scaled)
    return indices, distances, None
