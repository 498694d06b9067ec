"""Figures of probe results: the confusion matrix of a test split."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from counterpoint.report.figures import plain  # noqa: E402


def confusion_matrix_figure(matrix: np.ndarray, classes: Sequence[str], title: str = "") -> Figure:
    """A confusion matrix (rows = true class, columns = predicted), coloured by row share, annotated with counts."""
    matrix = np.asarray(matrix)
    totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, totals, out=np.zeros(matrix.shape, dtype=float), where=totals > 0)
    size = max(4.0, 0.55 * len(classes) + 2.5)
    fig, ax = plt.subplots(figsize=(size, size * 0.9), layout="constrained")
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(len(classes)), [plain(c) for c in classes], rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), [plain(c) for c in classes])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(plain(title))
    if len(classes) <= 30:
        for (row, col), count in np.ndenumerate(matrix):
            ax.text(col, row, str(int(count)), ha="center", va="center", fontsize=8,
                    color="white" if shares[row, col] > 0.5 else "black")
    fig.colorbar(image, ax=ax, label="share of true class")
    return fig


def save_confusion_matrix(matrix: np.ndarray, classes: Sequence[str], path: str | Path, title: str = "") -> Path:
    """Write :func:`confusion_matrix_figure` as a PNG (120 dpi)."""
    fig = confusion_matrix_figure(matrix, classes, title)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)
