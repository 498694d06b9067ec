"""A cross-modal comparison (see :mod:`counterpoint.analysis.compare`) written out: ``alignment.csv``,
``label_quality.csv``, ``compare.json``, the rank and CCA plots, and its HTML section."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402

import pandas as pd  # noqa: E402

from counterpoint.analysis.compare import CompareResult, PairComparison  # noqa: E402
from counterpoint.report.figures import plain  # noqa: E402

if TYPE_CHECKING:
    from counterpoint.analysis.retrieval import RetrievalRun

#: The files :func:`write_comparison` writes besides the plots.
TABLE_FILES = {"alignment": "alignment.csv", "label_quality": "label_quality.csv", "json": "compare.json"}


def plot_rank_histograms(runs: Sequence["RetrievalRun"], path: str | Path, title: str = "") -> Path:
    """One histogram per method × direction of the true partner's rank among held-out tracks.

    The dashed line is what a random ranking gives (every rank equally likely).
    """
    path = Path(path)
    columns = min(2, len(runs))
    rows = int(np.ceil(len(runs) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(5.0 * columns, 3.0 * rows), squeeze=False)
    for axis, run in zip(axes.ravel(), runs):
        n = len(run.ranks)
        bins = np.unique(np.round(np.geomspace(1, n + 1, num=min(n, 30) + 1)))
        axis.hist(run.ranks, bins=bins, color="#3b6ea8")
        # A random ranking puts one query on each rank on average: a bin's width in ranks.
        widths = np.diff(bins)
        axis.step(bins, np.append(widths, widths[-1]), where="post", linestyle="--", color="#444", label="chance")
        axis.set_xscale("log")
        axis.set_xlabel(f"rank of the true partner (of {n})")
        axis.set_ylabel("queries")
        axis.set_title(plain(f"{run.method}: {run.direction}"), fontsize=9)
        axis.legend(fontsize=8)
    for axis in axes.ravel()[len(runs):]:
        axis.set_visible(False)
    if title:
        figure.suptitle(plain(title), fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def plot_cca_joint(zx: np.ndarray, zy: np.ndarray, labels: np.ndarray, path: str | Path,
                   names: tuple[str, str] = ("audio", "symbolic")) -> Path:
    """Held-out tracks of both modalities on the first two canonical components.

    Circles are one modality, triangles the other, colours are classes; a grey line joins
    the two embeddings of each track, so short lines mean the spaces agree.
    """
    path = Path(path)
    figure, axis = plt.subplots(figsize=(6.0, 5.0))
    if zx.shape[1] < 2:
        zx = np.column_stack([zx, np.zeros(len(zx))])
        zy = np.column_stack([zy, np.zeros(len(zy))])
    scale_x, scale_y = np.std(zx[:, :2]) or 1.0, np.std(zy[:, :2]) or 1.0
    a, b = zx[:, :2] / scale_x, zy[:, :2] / scale_y
    axis.add_collection(LineCollection(np.stack([a, b], axis=1), colors="#999", linewidths=0.5, alpha=0.6))
    classes = np.unique(labels)
    colours = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    for i, name in enumerate(classes):
        members = labels == name
        colour = colours(i % colours.N)
        axis.scatter(*a[members].T, marker="o", s=18, color=colour, label=plain(name))
        axis.scatter(*b[members].T, marker="^", s=18, color=colour, edgecolor="black", linewidth=0.3)
    axis.set_xlabel("canonical component 1 (scaled)")
    axis.set_ylabel("canonical component 2 (scaled)")
    axis.set_title(plain(f"○ {names[0]}   △ {names[1]}"), fontsize=9)
    if len(classes) <= 20:
        axis.legend(fontsize=7, loc="best")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _number(value: float, digits: int = 3) -> str:
    if value is None or not np.isfinite(value):
        return "–"
    return f"{value:.{digits}f}" if abs(value) < 1000 else f"{value:.0f}"


def _p(value: float) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.3g}"


def _table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    head = "".join(f"<th>{html.escape(title)}</th>" for _, title in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(row[key]))}</td>" for key, _ in columns) + "</tr>"
                   for row in rows)
    return f'<table class="compare"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def compare_html_section(result: CompareResult, image_prefix: str = "") -> str:
    """An HTML fragment (tables + images) of a comparison for the report page.

    ``image_prefix`` is prepended to the PNG file names (the path from the page to
    ``result.out_dir``).
    """
    parts = ['<section class="compare"><h2>Audio × symbolic: do the spaces agree?</h2>',
             f"<p>Label <code>{html.escape(result.settings.label)}</code>; group "
             f"<code>{html.escape(str(result.group))}</code>; {result.settings.n_boot} resamples for 95 % "
             f"intervals, {result.settings.n_perm} permutations for p-values, seed {result.settings.seed}. "
             "Pairwise figures (RSA, CKA intervals and p-values) use at most "
             f"{result.settings.max_n_pairwise} tracks (column n used).</p>"]
    frame = result.alignment
    for pair in result.pairs:
        rows = frame[(frame.audio == pair.audio) & (frame.symbolic == pair.symbolic)]
        shown = [{
            "figure": " ".join(str(x) for x in (r.measure, r.method, r.direction) if x),
            "value": _number(r.value), "ci": f"[{_number(r.ci_low)}, {_number(r.ci_high)}]",
            "chance": _number(r.chance), "null": _number(r.null_mean), "p": _p(r.p_value),
            "n": f"{int(r.n)}" + (f" ({int(r.n_resample)})" if r.n_resample != r.n else ""),
        } for r in rows.itertuples()]
        parts.append(f"<h3>{html.escape(pair.audio)} × {html.escape(pair.symbolic)} "
                     f"({pair.n_pairs} paired tracks, {len(pair.test_labels)} held out)</h3>")
        parts.append(_table(shown, [("figure", "figure"), ("value", "value"), ("ci", "95 % CI"), ("chance", "chance"),
                                    ("null", "null mean"), ("p", "p"), ("n", "n (used)")]))
        for key, name in plot_names(pair).items():
            parts.append(f'<img src="{html.escape(image_prefix + name)}" alt="{key} plot" style="max-width:48%">')
    quality = [{"encoder": r.encoder, "modality": r.modality, "figure": r.measure, "value": _number(r.value),
                "ci": f"[{_number(r.ci_low)}, {_number(r.ci_high)}]", "chance": _number(r.chance), "n": int(r.n)}
               for r in result.label_quality.itertuples()]
    parts.append("<h3>Label quality of each space</h3>")
    parts.append(_table(quality, [("encoder", "encoder"), ("modality", "modality"), ("figure", "figure"),
                                  ("value", "value"), ("ci", "95 % CI"), ("chance", "chance"), ("n", "n")]))
    if result.notes:
        parts.append("<ul>" + "".join(f"<li>{html.escape(note)}</li>" for note in result.notes) + "</ul>")
    parts.append("</section>")
    return "\n".join(parts)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "-", text).strip("-")[:120]


def plot_names(pair: PairComparison) -> dict[str, str]:
    """File names of a pair's plots in the comparison's folder: ``{"ranks": …, "cca": …}``."""
    slug = _slug(f"{pair.audio}__{pair.symbolic}")
    return {"ranks": f"ranks_{slug}.png", "cca": f"cca_{slug}.png"}


def _finite(value: object) -> object:
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def comparison_to_json(result: CompareResult) -> dict:
    """Everything of a comparison as JSON-ready data (NaN written as null): ``compare.json``."""
    def records(frame: pd.DataFrame) -> list[dict]:
        return [{key: _finite(value) for key, value in row.items()} for row in frame.to_dict(orient="records")]

    return {
        "store": str(result.store),
        "settings": {**asdict(result.settings), "group": result.group},
        "notes": result.notes,
        "pairs": [{
            "audio": pair.audio, "symbolic": pair.symbolic, "n_pairs": pair.n_pairs,
            "n_test": int(len(pair.test_labels)), "plots": plot_names(pair),
            "retrieval_settings": [{"method": run.method, "direction": run.direction, **run.settings}
                                   for run in pair.retrieval.runs],
            "cca_correlations": [float(c) for c in pair.retrieval.cca_correlations],
            "test_ranks": {f"{run.method} {run.direction}": [float(r) for r in run.ranks]
                           for run in pair.retrieval.runs},
        } for pair in result.pairs],
        "alignment": records(result.alignment),
        "label_quality": records(result.label_quality),
    }


def write_comparison(result: CompareResult, out_dir: str | Path) -> dict[str, Path]:
    """Write the tables, ``compare.json`` and every pair's plots into ``out_dir``; returns
    {``alignment``, ``label_quality``, ``json``: path}."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for pair in result.pairs:
        names = plot_names(pair)
        plot_rank_histograms(pair.retrieval.runs, out / names["ranks"], title=f"{pair.audio} × {pair.symbolic}")
        plot_cca_joint(pair.retrieval.cca_test_x, pair.retrieval.cca_test_y, pair.test_labels, out / names["cca"],
                       names=(pair.audio, pair.symbolic))
    files = {key: out / name for key, name in TABLE_FILES.items()}
    result.alignment.to_csv(files["alignment"], index=False)
    result.label_quality.to_csv(files["label_quality"], index=False)
    files["json"].write_text(json.dumps(comparison_to_json(result), indent=2, allow_nan=False))
    return files
