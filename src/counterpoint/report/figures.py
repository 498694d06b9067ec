"""Static, paper-ready figures: one colour per class in every figure, labelled axes, legends
outside the data, cell labels of at least 8 pt, and every figure in each asked format."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from counterpoint.config import DEFAULT_FIGURE_FORMATS  # noqa: E402

#: Okabe & Ito's colour-blind-safe palette (black moved last: it is the centroid edge colour).
OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#999999", "#000000")
#: After the first nine classes: Paul Tol's muted scheme, also colour-blind-safe.
TOL_MUTED = ("#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677", "#882255", "#AA4499")
PALETTE = OKABE_ITO + TOL_MUTED
#: Smallest font of any text in a figure (points).
MIN_FONT_PT = 8
#: Most classes a figure names: with more, it names the most frequent ones and draws the rest as one "other"
#: (a figure's size and drawing time then stay the same for hundreds of classes).
FIGURE_CLASSES = 20
#: Resolution of PNG figures: sharp on screens and slides at about 70 % of the bytes of 200 dpi; SVG and PDF
#: (``--figure-format png,svg,pdf``) are the formats for print.
PNG_DPI = 150
#: Colour of the "other" classes.
OTHER_COLOUR = "#BBBBBB"


def plain(text: object) -> str:
    """``text`` drawn as it is written: matplotlib reads ``$…$`` as mathtext (turning "a$b$c"
    into an italic b, and failing on "$x^$"), so every dollar sign is escaped."""
    return str(text).replace("$", r"\$")


def class_colours(classes: Iterable[str]) -> dict[str, str]:
    """One hex colour per class, by sorted class name: built once per report, so a class has
    the same colour in every figure and in the interactive page."""
    return {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(sorted({str(c) for c in classes}))}


def most_frequent(names: Sequence[str], counts: Sequence[int], limit: int = FIGURE_CLASSES) -> list[str]:
    """The classes a figure names, in ``names``' order: all when there are at most ``limit``, else the
    ``limit`` with the highest ``counts`` (ties broken by name)."""
    names = [str(n) for n in names]
    if len(names) <= limit:
        return names
    ranked = sorted(range(len(names)), key=lambda i: (-int(counts[i]), names[i]))[:limit]
    return [names[i] for i in sorted(ranked)]


def named_classes(labels: Sequence) -> list[str]:
    """The classes of ``labels`` a figure names, sorted (:func:`most_frequent` of their counts)."""
    names, counts = np.unique(np.asarray(labels).astype(str), return_counts=True)
    return most_frequent(names, counts)


def other_label(n_other: int) -> str:
    """The name under which a figure draws the classes it does not name."""
    return f"other ({n_other} classes)"


def named_note(n_named: int, n_classes: int, other: bool = True) -> str:
    """What a figure that does not name every class says about it (``other``: the rest are drawn as one)."""
    return f"the {n_named} most frequent of {n_classes} classes" + ("; the rest as one 'other'" if other else "")


def save_figure(fig: Figure, stem: Path, formats: Sequence[str] = DEFAULT_FIGURE_FORMATS) -> Path:
    """Write ``fig`` as ``stem.<format>`` for every format and close it; returns the file the page
    shows (PNG when written, else the first format)."""
    paths = [stem.with_name(f"{stem.name}.{fmt}") for fmt in formats]
    for path in paths:
        fig.savefig(path, dpi=PNG_DPI if path.suffix == ".png" else "figure", bbox_inches="tight")
    plt.close(fig)
    return next((p for p in paths if p.suffix == ".png"), paths[0])


def legend_outside(ax: plt.Axes, n: int) -> None:
    """A legend right of the axes, never over the data."""
    if n:
        ax.legend(fontsize=MIN_FONT_PT, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                  frameon=False, ncols=1 if n <= 18 else 2)


def scatter_2d(coords: np.ndarray, labels: np.ndarray, *, title: str, stem: Path, colours: Mapping[str, str],
               axis_labels: tuple[str, str] = ("dimension 1", "dimension 2"),
               formats: Sequence[str] = DEFAULT_FIGURE_FORMATS, rasterized: bool = False) -> Path:
    """Scatter of 2-D coordinates coloured by label, each class centroid marked with a cross; beyond
    :data:`FIGURE_CLASSES` classes, the most frequent are coloured and the rest drawn grey as "other".
    ``rasterized``: the points (not the axes, text or centroids) are one image in SVG and PDF, whose size then
    no longer grows with the number of points."""
    labels = np.asarray(labels).astype(str)
    classes = named_classes(labels)
    fig, ax = plt.subplots(figsize=(5.6, 4.2))
    unnamed = ~np.isin(labels, classes)
    n_other = len(np.unique(labels[unnamed]))
    if n_other:
        title = f"{title}\n({named_note(len(classes), len(classes) + n_other)})"
        ax.scatter(coords[unnamed, 0], coords[unnamed, 1], s=10, alpha=0.5, color=OTHER_COLOUR,
                   label=plain(other_label(n_other)), linewidths=0, rasterized=rasterized)
    for c in classes:
        points = coords[labels == c]
        ax.scatter(points[:, 0], points[:, 1], s=14, alpha=0.8, color=colours[c], label=plain(c), linewidths=0,
                   rasterized=rasterized)
    for c in classes:   # after every class's points, which are then one image when rasterized
        ax.scatter(*coords[labels == c].mean(axis=0), marker="X", s=140, color=colours[c], edgecolors="black",
                   linewidths=1.0)
    ax.set_title(plain(title), fontsize=10)
    ax.set_xlabel(plain(axis_labels[0]), fontsize=MIN_FONT_PT + 1)
    ax.set_ylabel(plain(axis_labels[1]), fontsize=MIN_FONT_PT + 1)
    ax.tick_params(labelsize=MIN_FONT_PT)
    legend_outside(ax, len(classes) + (n_other > 0))
    return save_figure(fig, stem, formats)


def heatmap(matrix: pd.DataFrame, *, title: str, stem: Path, fmt: str = "{:.2f}", colour_label: str = "",
            formats: Sequence[str] = DEFAULT_FIGURE_FORMATS) -> Path:
    """A labelled heatmap with its values written in the cells (at least :data:`MIN_FONT_PT`)."""
    n_cols, n_rows = len(matrix.columns), len(matrix.index)
    fig, ax = plt.subplots(figsize=(2.0 + 0.75 * n_cols, 1.6 + 0.55 * n_rows))
    values = matrix.to_numpy(dtype=float)
    image = ax.imshow(values, cmap="viridis")
    ax.set_xticks(range(n_cols), [plain(c) for c in matrix.columns], rotation=45, ha="right", fontsize=MIN_FONT_PT)
    ax.set_yticks(range(n_rows), [plain(c) for c in matrix.index], fontsize=MIN_FONT_PT)
    threshold = np.nanmean(values) if values.size else 0.0
    if n_cols <= 30:
        for (i, j), value in np.ndenumerate(values):
            ax.text(j, i, fmt.format(value), ha="center", va="center", fontsize=MIN_FONT_PT,
                    color="white" if value < threshold else "black")
    ax.set_title(plain(title), fontsize=10)
    bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    bar.set_label(plain(colour_label), fontsize=MIN_FONT_PT)
    bar.ax.tick_params(labelsize=MIN_FONT_PT)
    return save_figure(fig, stem, formats)
