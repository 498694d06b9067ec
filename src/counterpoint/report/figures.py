"""Figures of one embedding space: 2-D scatter with class centroids, distance heatmaps."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def plain(text: object) -> str:
    """``text`` drawn as it is written: matplotlib reads ``$…$`` as mathtext (turning "a$b$c"
    into an italic b, and failing on "$x^$"), so every dollar sign is escaped."""
    return str(text).replace("$", r"\$")


def class_colours(classes: list[str]) -> dict[str, tuple]:
    cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    return {c: cmap(i % cmap.N) for i, c in enumerate(classes)}


def scatter_2d(coords: np.ndarray, labels: np.ndarray, title: str, path: Path) -> Path:
    """Scatter of 2-D coordinates coloured by label, each class centroid marked with a cross."""
    labels = np.asarray(labels).astype(str)
    classes = sorted(set(labels))
    colours = class_colours(classes)
    fig, ax = plt.subplots(figsize=(5.2, 4.4), dpi=110)
    for c in classes:
        points = coords[labels == c]
        ax.scatter(points[:, 0], points[:, 1], s=12, alpha=0.7, color=colours[c], label=plain(c), linewidths=0)
        centre = points.mean(axis=0)
        ax.scatter(*centre, marker="X", s=140, color=colours[c], edgecolors="black", linewidths=1.0)
    ax.set_title(plain(title), fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=7, markerscale=1.2, loc="best", frameon=True)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def heatmap(matrix: pd.DataFrame, title: str, path: Path, fmt: str = "{:.2f}") -> Path:
    """A labelled heatmap with its values written in the cells."""
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * len(matrix.columns), 1.0 + 0.5 * len(matrix.index)), dpi=110)
    image = ax.imshow(matrix.to_numpy(dtype=float), cmap="viridis")
    ax.set_xticks(range(len(matrix.columns)), [plain(c) for c in matrix.columns], rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(len(matrix.index)), [plain(c) for c in matrix.index], fontsize=7)
    values = matrix.to_numpy(dtype=float)
    threshold = np.nanmean(values) if values.size else 0.0
    for (i, j), value in np.ndenumerate(values):
        ax.text(j, i, fmt.format(value), ha="center", va="center", fontsize=6,
                color="white" if value < threshold else "black")
    ax.set_title(plain(title), fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
