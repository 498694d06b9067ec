"""The geometry of one embedding space with respect to a label: pure functions on arrays.

These are the figures researchers already compute by hand (class centroids and their cosine
distances, within-class variance, clustering agreement), done once, correctly and comparably across
encoders of different scale. The probe accuracy of a space is :mod:`counterpoint.probe_protocol`'s.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.preprocessing import StandardScaler

from counterpoint.analysis.statistics import subsample_indices
from counterpoint.errors import CounterpointError

#: Most tracks a silhouette runs on (a seeded subsample above; its cost grows with the square of the count):
#: the clustering silhouettes of each space and the label quality's silhouette.
SILHOUETTE_MAX_N = 5000


def class_centroids(X: np.ndarray, labels: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Sorted class names and the mean vector of each class, ``[C, D]``."""
    labels = np.asarray(labels).astype(str)
    classes = sorted(set(labels))
    return classes, np.stack([X[labels == c].mean(axis=0) for c in classes])


def cosine_distance_matrix(vectors: np.ndarray) -> np.ndarray:
    """``1 - cos`` between every pair of rows; zero vectors get distance 1 to everything."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = np.divide(vectors, norms, out=np.zeros_like(vectors, dtype=np.float64), where=norms > 0)
    distance = 1.0 - unit @ unit.T
    np.fill_diagonal(distance, 0.0)
    return np.clip(distance, 0.0, 2.0)


def centroid_distances(X: np.ndarray, labels: Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cosine distances between class centroids: raw, and divided by their maximum ([0, 1])."""
    classes, centroids = class_centroids(X, labels)
    raw = cosine_distance_matrix(centroids)
    peak = raw.max()
    normalised = raw / peak if peak > 0 else raw
    return (pd.DataFrame(raw, index=classes, columns=classes),
            pd.DataFrame(normalised, index=classes, columns=classes))


def within_class_variance(X: np.ndarray, labels: Sequence[str]) -> pd.DataFrame:
    """Per class: mean squared distance to the class centroid, raw and over the total variance.

    The total variance is the mean squared distance of all points to the global mean, so the
    relative figure is free of the encoder's scale and comparable across encoders.
    """
    labels = np.asarray(labels).astype(str)
    total = float(np.mean(np.sum((X - X.mean(axis=0)) ** 2, axis=1)))
    rows = []
    for c in sorted(set(labels)):
        members = X[labels == c]
        raw = float(np.mean(np.sum((members - members.mean(axis=0)) ** 2, axis=1)))
        rows.append({"class": c, "n": len(members), "within_variance": raw,
                     "relative_within_variance": raw / total if total > 0 else float("nan")})
    return pd.DataFrame(rows)


def clustering_agreement(X: np.ndarray, labels: Sequence[str], seed: int = 0, *,
                         max_n_silhouette: int = SILHOUETTE_MAX_N) -> dict[str, float]:
    """KMeans with k = number of classes on standardised X: silhouette and adjusted Rand index.

    KMeans and the Rand index use every track; the two silhouettes (cost ∝ tracks²) a seeded
    subsample of at most ``max_n_silhouette`` tracks, like the label quality's silhouette. Needs at least two classes and more tracks than classes (a
    :class:`CounterpointError` otherwise).
    """
    labels = np.asarray(labels).astype(str)
    k = len(set(labels))
    if not 2 <= k < len(X):
        raise CounterpointError(f"clustering needs at least two classes and more tracks than classes, got {k} "
                                f"classes among {len(X)} tracks")
    scaled = StandardScaler().fit_transform(X)
    clusters = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(scaled)
    sub = subsample_indices(len(X), max_n_silhouette, seed)
    return {
        "kmeans_silhouette": _silhouette(scaled[sub], clusters[sub]),
        "kmeans_ari": float(adjusted_rand_score(labels, clusters)),
        "label_silhouette": _silhouette(scaled[sub], labels[sub]),
    }


def _silhouette(X: np.ndarray, groups: np.ndarray) -> float:
    """Mean Euclidean silhouette of ``groups``; NaN where it is undefined (one group, or one track per group)."""
    return float(silhouette_score(X, groups)) if 1 < len(set(groups)) < len(X) else float("nan")
