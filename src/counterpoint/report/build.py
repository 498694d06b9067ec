"""The report folder, written last from what the registered sections computed.

``DIR/index.html`` (one self-contained page: the verdict first, then each space's quality, the
linked interactive scatter plots and nearest neighbours, then the details), ``metrics.json``,
``summary.csv`` and ``timing.csv``; per space its centroid-distance, variance and 2-D view CSVs and its
static figures (each in every ``--figure-format``); each further section's folder (``DIR/compare/``,
``DIR/layers/``, ``DIR/aligned/``, ``DIR/probes/``). The page's sections, in order, are those of the
registry (:mod:`counterpoint.report.sections`); the per-space ones register here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from counterpoint.analysis.analyze import AnalysisResult, SpaceAnalysis, analyze_store
from counterpoint.analysis.compare import CompareResult
from counterpoint.config import AnalysisSettings
from counterpoint.probes.run import ProbeTable
from counterpoint.report.files import slug, write_json
from counterpoint.report.figures import DEFAULT_FIGURE_FORMATS, class_colours, heatmap, named_classes, named_note, scatter_2d
from counterpoint.report.html import (PROBE_ACCURACY, data_files_section, escape, file_links,
                                      interactive_section, page, table_html, write_page)
from counterpoint.report.interactive import heatmap_spec, plotly_figure
from counterpoint.report.scatter import axis_titles, page_data, subsample_note
from counterpoint.report.sections import ReportPage, Section, SectionInputs, register_section, write_sections

METRIC_LABELS = {
    "n_tracks": "tracks", "n_classes": "classes",
    "probe_accuracy": "probe accuracy (logistic regression)", "probe_accuracy_ci_low": "probe accuracy, 95 % CI low",
    "probe_accuracy_ci_high": "probe accuracy, 95 % CI high", "chance": "chance (majority-class share)",
    "probe_null_mean": "label-permutation null (mean)", "probe_p_value": "p (permutation)",
    "kmeans_ari": "KMeans adjusted Rand index", "kmeans_silhouette": "KMeans silhouette",
    "label_silhouette": "silhouette of true labels",
    "mean_relative_within_variance": "within-class variance / total (mean over classes)",
}


def write_space_outputs(space: SpaceAnalysis, out_dir: Path, colours: dict[str, str],
                        *, formats: Sequence[str] = DEFAULT_FIGURE_FORMATS, rasterized: bool = False) -> dict[str, Path]:
    """CSVs and static figures of one space; returns {figure name: the file the page shows}. The 2-D views of
    every track go to ``NAME_2d_views.csv`` (empty where a view placed a subsample: t-SNE and UMAP above the
    scatter limit); ``rasterized``: the scatters' points
    are drawn as one image inside SVG and PDF (small files for large corpora)."""
    name = slug(space.spec)
    space.centroid_distance.to_csv(out_dir / f"{name}_centroid_cosine_distance.csv")
    space.centroid_distance_normalised.to_csv(out_dir / f"{name}_centroid_cosine_distance_normalised.csv")
    space.within_variance.to_csv(out_dir / f"{name}_within_class_variance.csv", index=False)
    figures = {}
    if space.projections:
        views = pd.DataFrame({"id": space.obs["id"].astype(str), "label": [str(v) for v in space.labels]})
        for method, coords in space.projections.items():
            views[f"{method}_x"], views[f"{method}_y"] = coords[:, 0], coords[:, 1]
        views.to_csv(out_dir / f"{name}_2d_views.csv", index=False)
    for method, coords in space.projections.items():
        figures[method] = scatter_2d(coords, space.labels, title=f"{space.spec} — {method.upper()}",
                                     stem=out_dir / f"{name}_{method}", colours=colours,
                                     axis_labels=axis_titles(space, method), formats=formats, rasterized=rasterized)
    if len(space.centroid_distance) >= 2:
        matrix, title = centroid_heatmap(space)
        figures["centroids"] = heatmap(matrix, title=title, stem=out_dir / f"{name}_centroid_distance",
                                       colour_label=CENTROID_COLOUR_LABEL, formats=formats)
    return figures


#: What the colours of a class-centroid heatmap are.
CENTROID_COLOUR_LABEL = "cosine distance / max"


def centroid_heatmap(space: SpaceAnalysis) -> tuple[pd.DataFrame, str]:
    """The class-centroid distances a heatmap shows (÷ max, the classes a figure names) and its title; the
    static figure and the page's interactive one show the same."""
    named = named_classes(space.labels)
    title = f"{space.spec}: class centroids"
    if len(named) < len(space.centroid_distance):
        title += f"\n({named_note(len(named), len(space.centroid_distance), other=False)})"
    return space.centroid_distance_normalised.loc[named, named], title


def report_notes(analysis: AnalysisResult, comparison: CompareResult | None = None, probes: ProbeTable | None = None,
                 *, notes: Sequence[str] = ()) -> list[str]:
    """Every note of a report, in page order: ``notes`` (e.g. why there is no comparison), the
    comparison's (but the z-scoring of descriptors, said in its own section), failed probes and the
    probes' guard notes (tiny test splits, scarce classes), then the per-space analysis's."""
    compared = [f"comparison: {note}" for note in comparison.notes if "z-scored" not in note] if comparison else []
    probed = [f"probe {line}" for line in probes.errors] if probes else []
    probed += [f"probe {encoder} · {model}: {note}" for (encoder, model), result in probes.results.items()
               for note in result.notes] if probes else []
    return [*notes, *compared, *probed, *analysis.notes]


def _protocols(analysis: AnalysisResult) -> str:
    """The probe protocol of each space, once per distinct protocol (usually one for every space)."""
    described = {s.probe.plan.description: None for s in analysis.spaces if s.probe is not None}
    return "; ".join(described) or "none (no space could be probed)"


def quality_section(analysis: AnalysisResult, figures: dict[str, dict[str, Path]], out_dir: Path) -> str:
    """Each space on its own: the side-by-side figures and the class-centroid heatmaps."""
    metrics = {s.spec: s.metrics for s in analysis.spaces}
    rows = [[label, *(values.get(key, float("nan")) for values in metrics.values())]
            for key, label in METRIC_LABELS.items()]
    table = pd.DataFrame(rows, columns=["figure", *metrics], dtype=object)
    heatmaps = "".join(
        plotly_figure(heatmap_spec(matrix, title=title, colour_label=CENTROID_COLOUR_LABEL),
                      caption=f"{space.spec}: class-centroid cosine distance (÷ max)",
                      static=figures[space.spec]["centroids"], page_dir=out_dir)
        for space in analysis.spaces if "centroids" in figures.get(space.spec, {})
        for matrix, title in [centroid_heatmap(space)])
    statics = "".join(f"<li>{escape(spec)} {escape(kind.upper())} {file_links(path, out_dir)}</li>"
                      for spec, f in figures.items() for kind, path in f.items() if kind != "centroids")
    return (f'<section id="quality"><h2>Each space on its own</h2><p class="note">{PROBE_ACCURACY} Here: logistic '
            f"regression on standardised pooled embeddings; protocol: {escape(_protocols(analysis))}. Within-class "
            "variance is divided by the total variance so encoders of different scale compare. From "
            '<a href="summary.csv">summary.csv</a> and <a href="metrics.json">metrics.json</a>.</p>'
            f"{table_html(table, caption='Figures of each space on its own')}"
            f'<div class="grid">{heatmaps}</div>'
            f'<p class="note">Static 2-D views (paper-ready files):</p><ul class="files">{statics}</ul></section>')


def build_report(analysis: AnalysisResult, comparison: CompareResult | None = None, probes: ProbeTable | None = None,
                 *, out_dir: str | Path = "report", notes: Sequence[str] = (),
                 figure_formats: Sequence[str] = DEFAULT_FIGURE_FORMATS, results: Mapping[str, Any] | None = None,
                 probe_weights: str = "first") -> Path:
    """Write the whole report folder and return the path of its ``index.html``.

    Every registered section (:mod:`counterpoint.report.sections`) whose result is given is written, in
    page order: ``analysis``, ``comparison`` and ``probes``, and the other sections' ``results`` by name
    (``layers``, ``aligned``, ``factors``, a plugin's); ``notes`` go first among the page's notes (see
    :func:`report_notes`); every static figure is written in each of ``figure_formats`` (png, svg, pdf);
    ``probe_weights`` says which probes' weight files are kept (:data:`~counterpoint.config.PROBE_WEIGHTS`).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    colours = class_colours(label for space in analysis.spaces for label in space.labels)
    settings = analysis.settings or AnalysisSettings(label=analysis.label)
    figures = {space.spec: write_space_outputs(space, out, colours, formats=figure_formats,
                                               rasterized=space.n > settings.scatter_limit)
               for space in analysis.spaces}
    analysis.timing.to_csv(out / "timing.csv", index=False)
    every_note = report_notes(analysis, comparison, probes, notes=notes)
    analysis.tables["summary"].to_csv(out / "summary.csv", index=False)
    write_json(out / "metrics.json", analysis.metrics(every_note))
    shown = {**(results or {}), "analysis": analysis, "comparison": comparison, "probes": probes}
    report_page = ReportPage(out, figure_formats, shown, every_note, colours, figures,
                             page_data(analysis, comparison, colours, out_dir=out, limit=settings.scatter_limit,
                                       seed=settings.seed), probe_weights)
    subtitle = f"store <code>{escape(analysis.store)}</code>"
    text = page(f"Counterpoint report — {analysis.label} — {analysis.store.name}", subtitle,
                write_sections(report_page), payload=report_page.payload if report_page.payload["spaces"] else None)
    return write_page(out, text)


def _run_analysis(inputs: SectionInputs) -> AnalysisResult:
    inputs.announce("analysing every embedding space")
    return analyze_store(inputs.store, inputs.options, matrices=inputs.matrices,
                         progress=lambda spec, done, total: inputs.announce(f"  {spec}"))


def _notes_html(_: None, report_page: ReportPage) -> str:
    if not report_page.notes:
        return ""
    notes = "".join(f'<p class="note">{escape(n)}</p>' for n in report_page.notes)
    return f'<section id="notes"><h2>Notes</h2>{notes}</section>'


register_section(Section("analysis", 30, run=_run_analysis,
                         write=lambda analysis, p: quality_section(analysis, p.figures, p.out_dir)))
register_section(Section("interactive", 40, uses="analysis",
                         write=lambda _, p: interactive_section(p.payload, p.payload["methods"],
                                                                note=subsample_note(p.payload))
                         if p.payload["spaces"] else ""))
register_section(Section("timing", 90, uses="analysis",
                         write=lambda analysis, _: '<section id="timing"><h2>Embedding time</h2>'
                         f"{table_html(analysis.timing, caption='Embedding time per encoder')}</section>"))
register_section(Section("notes", 95, uses=None, write=_notes_html))
register_section(Section("data_files", 100, uses=None, write=lambda _, p: data_files_section(p.out_dir)))
