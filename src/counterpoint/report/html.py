"""The report page: encoders side by side, figures, tables, and sections from other analyses."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from counterpoint import __version__

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 1600px; }
h1 { margin-bottom: 0.2rem; } .sub { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 0.8rem 0 1.6rem; font-size: 0.85rem; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.55rem; text-align: right; }
th { background: #f4f4f4; } td:first-child, th:first-child { text-align: left; }
.grid { display: grid; gap: 0.8rem; align-items: start; }
.grid figure { margin: 0; } .grid img { width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.8rem; color: #555; } .note { color: #666; font-size: 0.85rem; }
"""

METRIC_LABELS = {
    "n_tracks": "tracks", "n_classes": "classes",
    "probe_accuracy_mean": "5-fold logistic accuracy", "probe_accuracy_std": "± (std over folds)",
    "chance": "chance level", "kmeans_ari": "KMeans adjusted Rand index",
    "kmeans_silhouette": "KMeans silhouette", "label_silhouette": "silhouette of true labels",
    "mean_relative_within_variance": "within-class variance / total (mean over classes)",
}


def _format(value: object) -> str:
    if isinstance(value, (float, np.floating)):
        return "—" if np.isnan(value) else f"{value:.3f}"
    return html.escape(str(value))


def table_html(frame: pd.DataFrame, index: bool = False) -> str:
    """A DataFrame as an HTML table with numbers rounded for reading."""
    frame = frame.reset_index() if index else frame
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = "".join("<tr>" + "".join(f"<td>{_format(v)}</td>" for v in row) + "</tr>" for row in frame.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def side_by_side_metrics(metrics: dict[str, dict[str, float]]) -> pd.DataFrame:
    """Metrics as rows, encoders as columns."""
    rows = [[label, *(values.get(key, float("nan")) for values in metrics.values())] for key, label in METRIC_LABELS.items()]
    return pd.DataFrame(rows, columns=["figure", *metrics], dtype=object).set_index("figure")  # object: counts stay ints


def write_report(out_dir: Path, title: str, label: str, metrics: dict[str, dict[str, float]],
                 figures: dict[str, dict[str, str]], timing: pd.DataFrame,
                 notes: Sequence[str] = (), sections: Sequence[str] = ()) -> Path:
    """Write ``out_dir/index.html`` and return its path.

    ``figures`` maps encoder spec → {figure kind → file name in out_dir}; ``sections`` are
    ready HTML fragments (cross-modal comparison, probes) appended after the per-space part.
    """
    specs = list(figures)
    columns = f"grid-template-columns: repeat({max(1, len(specs))}, minmax(260px, 1fr));"
    kinds = [k for k in ("pca", "tsne", "umap", "centroids") if any(k in figures[s] for s in specs)]
    grid = ""
    for kind in kinds:
        cells = "".join(
            f'<figure><img src="{html.escape(figures[s][kind])}" alt="{html.escape(s)} {kind}">'
            f"<figcaption>{html.escape(s)}</figcaption></figure>" if kind in figures[s] else "<div></div>"
            for s in specs)
        grid += f"<h3>{kind.upper() if kind != 'centroids' else 'Class-centroid cosine distance (÷ max)'}</h3>" \
                f'<div class="grid" style="{columns}">{cells}</div>'
    note_html = "".join(f'<p class="note">{html.escape(n)}</p>' for n in notes)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{STYLE}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p class="sub">Label: <b>{html.escape(label)}</b> · Counterpoint {__version__}</p>
{note_html}
<h2>Each space on its own</h2>
<p class="note">Figures per encoder, computed on the pooled embeddings (standardised). Probe accuracy is a
stratified 5-fold logistic regression; compare it with the chance level. Within-class variance is divided by
the total variance so encoders of different scale compare.</p>
{table_html(side_by_side_metrics(metrics), index=True)}
{grid}
<h2>Embedding time</h2>
{table_html(timing)}
{''.join(sections)}
</body></html>
"""
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
