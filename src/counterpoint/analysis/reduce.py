"""2-D views of an embedding space: PCA, t-SNE (openTSNE) and UMAP, all seeded."""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from counterpoint.config import REDUCTIONS
from counterpoint.errors import CounterpointError

#: Fewest tracks for each view: PCA needs two points for a direction; t-SNE's smallest
#: perplexity (2) needs 3 × perplexity ≤ N − 1; UMAP's spectral start takes 3 eigenvectors of
#: the N-node neighbour graph (N > 3), and below 5 tracks its graph says nothing.
MIN_TRACKS = {"pca": 2, "tsne": 7, "umap": 5}


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
    return umap.UMAP(n_components=2, n_neighbors=neighbours, random_state=seed, n_jobs=1).fit_transform(scaled)
