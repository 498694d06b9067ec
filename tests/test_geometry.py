import numpy as np
import pytest

from counterpoint.probe_protocol import probe_accuracy
from counterpoint.analysis.geometry import (centroid_distances, clustering_agreement, cosine_distance_matrix,
                                            within_class_variance)
from counterpoint.analysis.reduce import reduce_2d


def test_centroid_cosine_distances_by_hand():
    X = np.array([[1, 0], [3, 0], [0, 2], [0, 4], [1, 1], [1, 1]], dtype=float)
    labels = ["a", "a", "b", "b", "c", "c"]
    raw, normalised = centroid_distances(X, labels)
    # centroids a=(2,0), b=(0,3), c=(1,1): a⊥b → 1; a·c → 1 - 1/√2
    assert raw.loc["a", "b"] == pytest.approx(1.0)
    assert raw.loc["a", "c"] == pytest.approx(1 - 1 / np.sqrt(2))
    assert raw.loc["b", "c"] == pytest.approx(1 - 1 / np.sqrt(2))
    assert np.allclose(np.diag(raw), 0) and normalised.to_numpy().max() == pytest.approx(1.0)
    assert normalised.loc["a", "c"] == pytest.approx(raw.loc["a", "c"] / 1.0)


def test_cosine_distance_of_zero_vector_is_one():
    d = cosine_distance_matrix(np.array([[0.0, 0.0], [1.0, 0.0]]))
    assert d[0, 1] == pytest.approx(1.0) and d[0, 0] == 0.0


def test_within_class_variance_raw_and_relative_by_hand():
    X = np.array([[0.0], [2.0], [10.0], [14.0]])
    table = within_class_variance(X, ["a", "a", "b", "b"]).set_index("class")
    assert table.loc["a", "within_variance"] == pytest.approx(1.0)  # distances 1, 1
    assert table.loc["b", "within_variance"] == pytest.approx(4.0)
    total = np.mean((X.ravel() - 6.5) ** 2)
    assert table.loc["b", "relative_within_variance"] == pytest.approx(4.0 / total)
    # Scale-free: multiplying the space by 100 leaves the relative figure unchanged.
    scaled = within_class_variance(100 * X, ["a", "a", "b", "b"]).set_index("class")
    assert scaled.loc["b", "relative_within_variance"] == pytest.approx(table.loc["b", "relative_within_variance"])


def test_clustering_and_probe_separate_clear_classes_but_not_noise():
    rng = np.random.default_rng(0)
    labels = np.repeat(["x", "y", "z"], 30)
    centres = {"x": [5, 0, 0], "y": [0, 5, 0], "z": [0, 0, 5]}
    X = np.array([centres[l] for l in labels]) + rng.normal(size=(90, 3))
    clear = clustering_agreement(X, labels)
    assert clear["kmeans_ari"] > 0.9 and clear["label_silhouette"] > 0.4
    ids = [str(i) for i in range(90)]
    assert probe_accuracy(X, labels, ids=ids, n_perm=99).accuracy > 0.95
    noise = rng.normal(size=(90, 3))
    assert clustering_agreement(noise, labels)["kmeans_ari"] < 0.2
    probe = probe_accuracy(noise, labels, ids=ids, n_perm=99)
    assert probe.accuracy < 0.6 and probe.chance == pytest.approx(1 / 3)


@pytest.mark.parametrize("method", ["pca", "tsne", "umap"])
def test_reductions_are_2d_and_seeded(method):
    X = np.random.default_rng(1).normal(size=(40, 6))
    a, b = reduce_2d(X, method, seed=3), reduce_2d(X, method, seed=3)
    assert a.shape == (40, 2) and np.allclose(a, b)


def test_clustering_silhouettes_run_on_a_seeded_subsample_above_the_cap_and_say_so(monkeypatch):
    import pandas as pd
    from sklearn.metrics import silhouette_score
    from sklearn.preprocessing import StandardScaler

    from counterpoint.analysis import analyze
    from counterpoint.analysis.statistics import subsample_indices
    from counterpoint.matrix import EmbeddingMatrix

    rng = np.random.default_rng(2)
    labels = np.repeat(["x", "y", "z"], 40)
    X = rng.normal(size=(3, 4))[np.repeat(np.arange(3), 40)] * 3 + rng.normal(size=(120, 4))
    whole = clustering_agreement(X, labels, seed=1, max_n_silhouette=120)
    capped = clustering_agreement(X, labels, seed=1, max_n_silhouette=50)
    sub = subsample_indices(120, 50, seed=1)
    scaled = StandardScaler().fit_transform(X)
    assert capped["label_silhouette"] == silhouette_score(scaled[sub], labels[sub])
    assert capped["label_silhouette"] != whole["label_silhouette"]
    assert whole["label_silhouette"] == silhouette_score(scaled, labels)    # below the cap: every track
    assert capped["kmeans_ari"] == whole["kmeans_ari"] > 0.9                # KMeans always sees every track

    matrix = EmbeddingMatrix("space", "symbolic", X.astype(np.float32),
                             pd.DataFrame({"id": [f"t{i}" for i in range(120)], "style": labels}))
    assert not any("subsample" in note for note in analyze.analyze_space(matrix, "style", reductions=()).notes)
    monkeypatch.setattr(analyze, "SILHOUETTE_MAX_N", 50)
    space = analyze.analyze_space(matrix, "style", reductions=())
    assert any("silhouettes ran on a seeded subsample of 50 of the 120 tracks" in note for note in space.notes)
    assert space.metrics["label_silhouette"] == clustering_agreement(X.astype(np.float32), labels,
                                                                     max_n_silhouette=50)["label_silhouette"]
