"""A cross-modal comparison (see :mod:`counterpoint.analysis.compare`) written out: ``alignment.csv``,
``label_quality.csv``, ``compare.json``, the rank and CCA plots, and its HTML section."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.ticker import MaxNLocator, ScalarFormatter  # noqa: E402

import pandas as pd  # noqa: E402

from counterpoint.analysis.compare import P_VALUE_FAMILIES, CompareResult, PairComparison, verdict_table  # noqa: E402
from counterpoint.ranges import MEASURES, P_VALUE, base_name  # noqa: E402
from counterpoint.report.files import pair_slug, relative, write_json  # noqa: E402
from counterpoint.report.sections import ReportPage, Section, SectionInputs, register_section  # noqa: E402
from counterpoint.report.html import PROBE_ACCURACY, escape, table_html  # noqa: E402
from counterpoint.report.interactive import (cca_scaled, cca_spec, plotly_figure, rank_bins,  # noqa: E402
                                             rank_histogram_spec)
from counterpoint.report.figures import (DEFAULT_FIGURE_FORMATS, MIN_FONT_PT, OKABE_ITO, class_colours,  # noqa: E402
                                         legend_outside, plain, save_figure)
from counterpoint.report.verdict import family_sentence  # noqa: E402

if TYPE_CHECKING:
    from counterpoint.analysis.retrieval import RetrievalRun

#: The files :func:`write_comparison` writes besides the plots. The neighbour lists (a row per track, view and
#: neighbour: most of a report's data) are gzipped; pandas reads them as they are (``pd.read_csv``).
TABLE_FILES = {"alignment": "alignment.csv", "label_quality": "label_quality.csv", "json": "compare.json",
               "neighbours": "neighbours.csv.gz", "verdict": "verdict.csv", "label_structure": "label_structure.csv",
               "influence": "influence.csv", "label_knowledge": "label_knowledge.csv"}


def plot_rank_histograms(runs: Sequence["RetrievalRun"], path: str | Path, *, title: str = "",
                         formats: Sequence[str] = DEFAULT_FIGURE_FORMATS) -> Path:
    """One histogram per method × direction of the true partner's rank among held-out tracks.

    The dashed line is what a random ranking gives (every rank equally likely). ``path``'s
    suffix is replaced by each of ``formats``.
    """
    path = Path(path)
    columns = min(2, len(runs))
    rows = int(np.ceil(len(runs) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(5.0 * columns, 3.0 * rows), squeeze=False)
    for axis, run in zip(axes.ravel(), runs):
        n = len(run.ranks)
        bins = rank_bins(n)
        axis.hist(run.ranks, bins=bins, color=OKABE_ITO[4])
        # A random ranking puts one query on each rank on average: a bin's width in ranks.
        widths = np.diff(bins)
        axis.step(bins, np.append(widths, widths[-1]), where="post", linestyle="--", color="#444", label="chance")
        axis.set_xscale("log")
        axis.xaxis.set_major_formatter(ScalarFormatter())   # ranks written 1, 10, 100, not 10⁰
        axis.xaxis.set_minor_formatter(plt.NullFormatter())
        axis.yaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_xlabel(f"rank of the true partner (of {n})", fontsize=MIN_FONT_PT + 1)
        axis.set_ylabel("queries", fontsize=MIN_FONT_PT + 1)
        axis.tick_params(labelsize=MIN_FONT_PT)
        axis.set_title(plain(f"{run.method}: {run.direction}"), fontsize=MIN_FONT_PT + 1)
        axis.legend(fontsize=MIN_FONT_PT, loc="upper right")
    for axis in axes.ravel()[len(runs):]:
        axis.set_visible(False)
    if title:
        figure.suptitle(plain(title), fontsize=10)
    figure.tight_layout()
    return save_figure(figure, path.with_suffix(""), formats)


def plot_cca_joint(zx: np.ndarray, zy: np.ndarray, labels: np.ndarray, *, path: str | Path,
                   names: tuple[str, str] = ("audio", "symbolic"), colours: dict[str, str] | None = None,
                   formats: Sequence[str] = DEFAULT_FIGURE_FORMATS) -> Path:
    """Held-out tracks of both modalities on the first two canonical components.

    Circles are one modality, triangles the other, colours are classes; a grey line joins
    the two embeddings of each track, so short lines mean the spaces agree.
    """
    path = Path(path)
    figure, axis = plt.subplots(figsize=(6.0, 5.0))
    a, b = cca_scaled(zx, zy)
    axis.add_collection(LineCollection(np.stack([a, b], axis=1), colors="#999", linewidths=0.5, alpha=0.6))
    labels = np.asarray(labels).astype(str)
    classes = np.unique(labels)
    colours = colours or class_colours(classes)
    for name in classes:
        members = labels == name
        axis.scatter(*a[members].T, marker="o", s=18, color=colours[name], label=plain(name))
        axis.scatter(*b[members].T, marker="^", s=18, color=colours[name], edgecolor="black", linewidth=0.3)
    axis.set_xlabel("canonical component 1 (scaled)", fontsize=MIN_FONT_PT + 1)
    axis.set_ylabel("canonical component 2 (scaled)", fontsize=MIN_FONT_PT + 1)
    axis.tick_params(labelsize=MIN_FONT_PT)
    axis.set_title(plain(f"○ {names[0]}   △ {names[1]}"), fontsize=MIN_FONT_PT + 1)
    legend_outside(axis, len(classes) if len(classes) <= 36 else 0)
    return save_figure(figure, path.with_suffix(""), formats)


def compare_html_section(result: CompareResult, folder: Path, page_dir: Path, *,
                         colours: dict[str, str] | None = None) -> str:
    """The comparison's details for the report page: every figure of every pair (sortable), its plots (drawn
    in the page, values on hover, with links to their files; ``colours`` per class, default
    :func:`~counterpoint.report.figures.class_colours`) and each space's label quality."""
    parts = ['<section class="compare" id="compare"><h2>Audio × symbolic in detail</h2>',
             f"<p>Label <code>{escape(result.settings.label)}</code>; {group_phrase(result.group)}; "
             f"{result.settings.n_boot} resamples for 95 % "
             f"intervals, {result.settings.n_perm} permutations for p-values, seed {result.settings.seed}. "
             "Pairwise figures (RSA, CKA intervals and p-values) use at most "
             f"{result.settings.max_n_pairwise} tracks (column n_resample). From "
             f'<a href="{escape(relative(folder, page_dir))}/alignment.csv">alignment.csv</a>.</p>',
             f'<p class="note">p_holm, p_bh: {escape(family_sentence(P_VALUE_FAMILIES["alignment"]))} A Monte-Carlo '
             f"p-value is at least 1/(n_perm + 1) = {1 / (result.settings.n_perm + 1):.2g}. Every figure was checked "
             f"against its range before it was written ({escape(ranges_prose(result.alignment))}, p-values in "
             f"{P_VALUE.describe()}); the reflected half-sample intervals of CKA and RSA are clipped to that range.</p>"]
    frame = result.alignment
    for pair in result.pairs:
        rows = frame[(frame.audio == pair.audio) & (frame.symbolic == pair.symbolic)]
        parts.append(f"<h3>{escape(pair.audio)} × {escape(pair.symbolic)} "
                     f"({pair.n_pairs} paired tracks, {len(pair.test_labels)} held out)</h3>")
        parts.append(table_html(rows.drop(columns=["audio", "symbolic"]),
                                caption=f"Every figure of {pair.audio} × {pair.symbolic}"))
        figures = [plotly_figure(spec, caption=f"{pair.audio} × {pair.symbolic}: {caption}", static=folder / name,
                                 page_dir=page_dir)
                   for spec, name, caption in zip(pair_plot_specs(pair, colours), plot_names(pair).values(),
                                                  ("rank of the true partner", "held-out tracks in the CCA space"))]
        parts.append(f'<div class="grid">{"".join(figures)}</div>')
    parts.append("<h3>Label quality of each space</h3>")
    parts.append(f'<p class="note">{PROBE_ACCURACY} Here: logistic regression (probe_accuracy); '
                 "k-NN (cosine, knn_accuracy) is a detail on the same held-out tracks; from "
                 f'<a href="{escape(relative(folder, page_dir))}/label_quality.csv">label_quality.csv</a>. '
                 f"p_holm, p_bh: {escape(family_sentence(P_VALUE_FAMILIES['label_quality']))}</p>")
    parts.append(table_html(result.label_quality, caption="Label quality of each space"))
    parts.append("</section>")
    return "\n".join(parts)


def group_phrase(group: str | None) -> str:
    """How the comparison's splits kept tracks together, in words (no group column: each track on its own)."""
    if group is None:
        return "no group column (each track is split on its own)"
    return f"groups from the column <code>{escape(group)}</code> (a group's tracks stay on one side of every split)"


def pair_plot_specs(pair: PairComparison, colours: dict[str, str] | None = None) -> tuple[dict, dict]:
    """The interactive rank histograms and CCA plot of a pair (see :mod:`counterpoint.report.interactive`)."""
    labels = np.asarray(pair.test_labels).astype(str)
    ranks = rank_histogram_spec(pair.retrieval.runs, title=f"{pair.audio} × {pair.symbolic}")
    cca = cca_spec(pair.retrieval.cca_test_x, pair.retrieval.cca_test_y, labels, names=(pair.audio, pair.symbolic),
                   colours=colours or class_colours(labels), title=f"○ {pair.audio}   △ {pair.symbolic}")
    return ranks, cca


def ranges_prose(table: pd.DataFrame) -> str:
    """The range of each measure of a long table, once per measure in table order, from its declaration:
    ``linear CKA in [0, 1], debiased CKA in [-1, 1], …``."""
    names = dict.fromkeys(base_name(m) for m in table.get("measure", pd.Series(dtype=object)))
    return ", ".join(MEASURES[name].describe() for name in names if name in MEASURES)


def plot_names(pair: PairComparison) -> dict[str, str]:
    """File names of a pair's plots in the comparison's folder: ``{"ranks": …, "cca": …}``."""
    name = pair_slug(pair.audio, pair.symbolic)
    return {"ranks": f"ranks_{name}.png", "cca": f"cca_{name}.png"}


def comparison_to_json(result: CompareResult) -> dict:
    """Everything of a comparison as JSON data (NaN written as null): ``compare.json``, the result's own JSON
    form with each pair's plot files."""
    data = result.as_dict()
    for pair, written in zip(result.pairs, data["pairs"]):
        written["plots"] = plot_names(pair)
    return data


def write_comparison(result: CompareResult, out_dir: str | Path, *, colours: dict[str, str] | None = None,
                     formats: Sequence[str] = DEFAULT_FIGURE_FORMATS) -> dict[str, Path]:
    """Write the tables, ``compare.json`` and every pair's plots (in each of ``formats``) into
    ``out_dir``; returns {``alignment``, ``label_quality``, ``json``, ``neighbours``: path}."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for pair in result.pairs:
        names = plot_names(pair)
        plot_rank_histograms(pair.retrieval.runs, out / names["ranks"], title=f"{pair.audio} × {pair.symbolic}",
                             formats=formats)
        plot_cca_joint(pair.retrieval.cca_test_x, pair.retrieval.cca_test_y, pair.test_labels, path=out / names["cca"],
                       names=(pair.audio, pair.symbolic), colours=colours, formats=formats)
    files = {key: out / name for key, name in TABLE_FILES.items()}
    result.alignment.to_csv(files["alignment"], index=False)
    result.label_quality.to_csv(files["label_quality"], index=False)
    result.neighbours.to_csv(files["neighbours"], index=False, compression={"method": "gzip", "mtime": 0})
    verdict_table(result).to_csv(files["verdict"], index=False)
    result.label_structure.to_csv(files["label_structure"], index=False)
    result.influence.to_csv(files["influence"], index=False)
    result.knowledge.to_csv(files["label_knowledge"], index=False)
    write_json(files["json"], comparison_to_json(result))
    return files


def _run_comparison(inputs: SectionInputs) -> CompareResult | None:
    """The comparison of a report, when asked for (``options.compare``) and the store holds an audio and a
    symbolic encoder with tracks (else a note says why)."""
    from counterpoint.analysis.compare import run_compare
    from counterpoint.analysis.pairwise import comparable_encoders
    from counterpoint.config import CompareSettings
    from counterpoint.errors import StoreError

    if not inputs.options.compare:
        return None
    try:
        comparable_encoders(inputs.store)
    except StoreError as reason:
        inputs.note_failure("audio × symbolic comparison", reason)
        return None
    inputs.announce("comparing audio and symbolic spaces (alignment, retrieval, label quality)")
    options = inputs.options
    settings = CompareSettings(label=options.label, depth=options.depth, group=options.group, seed=options.seed)
    return run_compare(inputs.store, settings, matrices=inputs.matrices)


def _comparison_html(result: CompareResult, page: ReportPage) -> str:
    folder = page.out_dir / "compare"
    write_comparison(result, folder, colours=page.colours, formats=page.formats)
    return compare_html_section(result, folder, page.out_dir, colours=page.colours)


register_section(Section("comparison", 50, run=_run_comparison, write=_comparison_html))
