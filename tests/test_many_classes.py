"""Labels with hundreds of classes: figures name the most frequent classes and draw the rest as one
"other", so their size and cost stay those of a few classes; with few classes nothing changes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from counterpoint.analysis.analyze import analyze_space
from counterpoint.matrix import EmbeddingMatrix
from counterpoint.report.build import write_space_outputs
from counterpoint.report.figures import FIGURE_CLASSES, class_colours, most_frequent, named_classes
from counterpoint.report.probes import folded_confusion, save_confusion_matrix


def labels_of(n_classes: int, n_tracks: int) -> np.ndarray:
    """Class ``c`` gets about ``n_tracks / n_classes`` tracks, the first classes one more (so counts differ)."""
    return np.array([f"class{i % n_classes:03d}" for i in range(n_tracks)])


def test_few_classes_are_all_named_in_their_own_order() -> None:
    labels = labels_of(7, 50)
    assert named_classes(labels) == sorted(set(labels))
    matrix = np.arange(49).reshape(7, 7)
    folded, names = folded_confusion(matrix, sorted(set(labels)))
    assert folded is matrix and names == sorted(set(labels))


def test_most_frequent_keeps_the_largest_counts_and_breaks_ties_by_name() -> None:
    names = [f"c{i:02d}" for i in range(30)]
    counts = [1] * 30
    counts[29], counts[3] = 9, 5
    chosen = most_frequent(names, counts)
    assert len(chosen) == FIGURE_CLASSES
    assert "c29" in chosen and "c03" in chosen
    assert chosen == sorted(chosen)  # in the given order
    assert [n for n in chosen if n not in ("c29", "c03")] == names[:3] + names[4:19]  # ties: first names


def test_a_folded_confusion_matrix_keeps_every_count() -> None:
    rng = np.random.default_rng(0)
    classes = [f"c{i:03d}" for i in range(200)]
    matrix = rng.integers(0, 5, size=(200, 200))
    matrix[150, 150] = 100  # a frequent class late in the order is named
    folded, names = folded_confusion(matrix, classes)
    assert folded.shape == (FIGURE_CLASSES + 1, FIGURE_CLASSES + 1)
    assert names[-1] == "other (180 classes)" and "c150" in names
    assert folded.sum() == matrix.sum()
    kept = [classes.index(n) for n in names[:-1]]
    np.testing.assert_array_equal(folded[:-1, :-1], matrix[np.ix_(kept, kept)])
    np.testing.assert_array_equal(folded[:-1].sum(axis=1), matrix[kept].sum(axis=1))  # rows keep their true counts


def png_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.size


def test_confusion_matrix_figure_of_many_classes_is_as_large_as_one_of_twenty(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    sizes = {}
    for n in (FIGURE_CLASSES, 60):
        classes = [f"c{i:03d}" for i in range(n)]
        path = save_confusion_matrix(rng.integers(0, 3, size=(n, n)), classes, tmp_path / f"confusion{n}.png",
                                     title="probe", formats=("png",))
        sizes[n] = png_size(path)
    # one more row and column ("other") and a two-line title: a little larger, not 15 times
    assert sizes[60][0] <= 1.3 * sizes[FIGURE_CLASSES][0] and sizes[60][1] <= 1.3 * sizes[FIGURE_CLASSES][1]


def test_space_figures_of_many_classes_stay_the_size_of_few(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    sizes = {}
    for n_classes in (5, 60):
        labels = labels_of(n_classes, 360)
        codes = np.unique(labels, return_inverse=True)[1]
        X = (rng.standard_normal((n_classes, 16))[codes] + rng.standard_normal((360, 16))).astype(np.float32)
        obs = pd.DataFrame({"id": [f"t{i}" for i in range(360)], "style": labels})
        matrix = EmbeddingMatrix("bench", "symbolic", X, obs)
        space = analyze_space(matrix, "style", reductions=("pca",))
        out = tmp_path / str(n_classes)
        out.mkdir()
        figures = write_space_outputs(space, out, class_colours(labels), formats=("png",))
        sizes[n_classes] = {name: png_size(path) for name, path in figures.items()}
        assert len(space.centroid_distance) == n_classes  # the numbers keep every class; only the figure names fewer
    for name, (width, height) in sizes[60].items():
        few_width, few_height = sizes[5][name]
        assert width <= 3 * few_width and height <= 3 * few_height, name
