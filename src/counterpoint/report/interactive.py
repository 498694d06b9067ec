"""Interactive versions of the report's static figures: heatmaps (class centroids, layer maps, confusion
matrices), rank histograms and CCA plots drawn by plotly.js in the page from data inlined beside them, with
each value on hover (rounded as the tables round it, :func:`~counterpoint.report.html.format_value`).

Each figure is a Plotly figure spec (traces and layout, built here) in a ``<script type="application/json">``
next to its ``<div class="cp-figure">``; ``heatmaps.js`` draws every such div. The static files (PNG, and
SVG/PDF when asked) are still written for papers and linked under the figure; the page no longer carries
their base64 copy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from counterpoint.report.html import FIGURE_CLASS, escape, file_links, format_value, inline_json

if TYPE_CHECKING:
    from counterpoint.analysis.retrieval import RetrievalRun


def cell_texts(matrix: pd.DataFrame) -> list[list[str]]:
    """Each cell of ``matrix`` as the tables write it (three decimals, whole counts as they are, — for NaN)."""
    return [[format_value(value.item() if isinstance(value, np.generic) else value) for value in row]
            for row in matrix.to_numpy(dtype=object)]


def heatmap_spec(matrix: pd.DataFrame, *, title: str, colour_label: str, row_title: str = "",
                 column_title: str = "", colourscale: str | list = "Viridis",
                 value_range: tuple[float, float] | None = None, colours: pd.DataFrame | None = None) -> dict[str, Any]:
    """A Plotly heatmap of ``matrix`` (first row on top) whose hover label reads ``row × column: value``;
    coloured by ``matrix`` or by ``colours`` (same shape: a confusion matrix's counts coloured by row share)."""
    rows, columns = [str(r) for r in matrix.index], [str(c) for c in matrix.columns]
    values = (matrix if colours is None else colours).to_numpy(dtype=float)
    trace = {"type": "heatmap", "z": [[None if not np.isfinite(v) else float(v) for v in row] for row in values],
             "x": [escape(c) for c in columns], "y": [escape(r) for r in rows], "text": cell_texts(matrix),
             "colorscale": colourscale, "colorbar": {"title": {"text": escape(colour_label), "side": "right"}},
             "hovertemplate": "%{y} × %{x}: %{text}<extra></extra>", "xgap": 1, "ygap": 1}
    if value_range is not None:
        trace["zmin"], trace["zmax"] = value_range
    layout = {"title": {"text": escape(title), "font": {"size": 13}},
              "xaxis": {"title": {"text": escape(column_title)}, "tickangle": -45, "automargin": True,
                        "type": "category", "dtick": 1},
              "yaxis": {"title": {"text": escape(row_title)}, "autorange": "reversed", "automargin": True,
                        "type": "category", "dtick": 1},
              "margin": {"t": 48, "r": 12, "b": 12, "l": 12},
              "height": int(min(900, 180 + 26 * len(rows)))}
    return {"data": [trace], "layout": layout}


#: matplotlib's "Blues" (light for 0, dark for 1), the static confusion matrices' colours; Plotly's own runs the
#: other way.
BLUES = [[0.0, "#f7fbff"], [0.5, "#6baed6"], [1.0, "#08306b"]]


def rank_bins(n: int) -> np.ndarray:
    """The log-spaced bin edges of a histogram of ranks 1 … ``n`` (the static and the interactive plot's)."""
    return np.unique(np.round(np.geomspace(1, n + 1, num=min(n, 30) + 1)))


def rank_histogram_spec(runs: Sequence["RetrievalRun"], *, title: str) -> dict[str, Any]:
    """Bars of the true partner's rank per method × direction (one colour each), on log-spaced bins, with
    the count a random ranking gives; hover: the run, the ranks of the bin and its count of queries."""
    from counterpoint.report.figures import OKABE_ITO

    traces = []
    for index, run in enumerate(runs):
        bins = rank_bins(len(run.ranks))
        counts, _ = np.histogram(run.ranks, bins=bins)
        ranks = [f"{int(lo)}" if hi - lo <= 1 else f"{int(lo)}–{int(hi) - 1}" for lo, hi in zip(bins[:-1], bins[1:])]
        name = escape(f"{run.method}: {run.direction}")
        traces.append({"type": "bar", "name": name, "x": ranks, "y": counts.tolist(),
                       "marker": {"color": OKABE_ITO[index % len(OKABE_ITO)]},
                       "customdata": np.diff(bins).astype(int).tolist(),
                       "hovertemplate": f"{name}<br>rank %{{x}}: %{{y}} queries (chance %{{customdata}})<extra></extra>"})
    n = max((len(run.ranks) for run in runs), default=0)
    layout = {"title": {"text": escape(title), "font": {"size": 13}}, "barmode": "group",
              "xaxis": {"title": {"text": f"rank of the true partner (of {n}), log-spaced bins"}, "type": "category"},
              "yaxis": {"title": {"text": "queries"}}, "legend": {"orientation": "h", "y": -0.35},
              "margin": {"t": 48, "r": 12, "b": 12, "l": 12}, "height": 380}
    return {"data": traces, "layout": layout}


def cca_scaled(zx: np.ndarray, zy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first two canonical components of both modalities, each divided by its own spread (a missing second
    component is 0): what the CCA plots draw."""
    if zx.shape[1] < 2:
        zx = np.column_stack([zx, np.zeros(len(zx))])
        zy = np.column_stack([zy, np.zeros(len(zy))])
    scale_x, scale_y = np.std(zx[:, :2]) or 1.0, np.std(zy[:, :2]) or 1.0
    return zx[:, :2] / scale_x, zy[:, :2] / scale_y


def cca_spec(zx: np.ndarray, zy: np.ndarray, labels: Sequence[str], *, names: tuple[str, str],
             colours: Mapping[str, str], title: str) -> dict[str, Any]:
    """Held-out tracks of both modalities on the first two canonical components (circles one modality,
    triangles the other, a grey line joining a track's two points); hover: modality, class and coordinates."""
    a, b = cca_scaled(zx, zy)
    labels = np.asarray(labels).astype(str)
    lines_x = np.column_stack([a[:, 0], b[:, 0], np.full(len(a), np.nan)]).ravel()
    lines_y = np.column_stack([a[:, 1], b[:, 1], np.full(len(a), np.nan)]).ravel()
    traces: list[dict[str, Any]] = [{"type": "scatter", "mode": "lines", "x": _finite(lines_x), "y": _finite(lines_y),
                                     "line": {"color": "#999", "width": 0.6}, "hoverinfo": "skip",
                                     "showlegend": False}]
    for name in sorted(set(labels)):
        members = labels == name
        for points, symbol, modality in ((a, "circle", names[0]), (b, "triangle-up", names[1])):
            traces.append({"type": "scatter", "mode": "markers", "name": escape(name), "legendgroup": escape(name),
                           "showlegend": symbol == "circle", "x": points[members, 0].round(4).tolist(),
                           "y": points[members, 1].round(4).tolist(),
                           "marker": {"color": colours.get(name, "#999"), "symbol": symbol, "size": 7},
                           "hovertemplate": f"{escape(modality)} · {escape(name)}<br>(%{{x:.3f}}, %{{y:.3f}})"
                                            "<extra></extra>"})
    layout = {"title": {"text": escape(title), "font": {"size": 13}},
              "xaxis": {"title": {"text": "canonical component 1 (scaled)"}},
              "yaxis": {"title": {"text": "canonical component 2 (scaled)"}},
              "margin": {"t": 48, "r": 12, "b": 12, "l": 12}, "height": 420}
    return {"data": traces, "layout": layout}


def _finite(values: np.ndarray) -> list[float | None]:
    """Coordinates for JSON: NaN (Plotly's line break) as null."""
    return [None if not np.isfinite(v) else round(float(v), 4) for v in values]


def plotly_figure(spec: Mapping[str, Any], *, caption: str, static: Path, page_dir: Path) -> str:
    """A figure the page draws from ``spec`` (see the module's docstring), captioned, with links to the static
    files of ``static`` in every format written."""
    return (f'<figure><div class="{FIGURE_CLASS}" role="img" aria-label="{escape(caption)}"></div>'
            f'<script type="application/json" class="cp-figure-spec">{inline_json(spec)}</script>'
            f"<figcaption>{escape(caption)} {file_links(static, page_dir)}</figcaption></figure>")
