"""The report folder, written last from what the analysis, the comparison and the probes computed.

``DIR/index.html`` (one self-contained page: the verdict first, then each space's quality, the
linked interactive scatter plots and nearest neighbours, then the details), ``metrics.json``,
``summary.csv`` and ``timing.csv``; per space its centroid-distance and variance CSVs and its
static figures (each in every ``--figure-format``); ``DIR/compare/`` (see
:mod:`counterpoint.report.compare`) and ``DIR/probes/`` (see :mod:`counterpoint.report.probes`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from counterpoint.analysis.analyze import AnalysisResult, SpaceAnalysis
from counterpoint.analysis.compare import CompareResult, verdict_table
from counterpoint.probes.run import ProbeTable
from counterpoint.report.compare import compare_html_section, write_comparison
from counterpoint.report.figures import FIGURE_FORMATS, class_colours, heatmap, named_classes, named_note, scatter_2d
from counterpoint.report.html import (PROBE_ACCURACY, data_files_section, escape, file_links, image_figure,
                                      interactive_section, page, table_html, write_page)
from counterpoint.report.probes import probe_html_section, write_probe_table
from counterpoint.report.verdict import influence_section, verdicts_block

METRIC_LABELS = {
    "n_tracks": "tracks", "n_classes": "classes",
    "probe_accuracy": "probe accuracy (logistic regression)", "probe_accuracy_ci_low": "probe accuracy, 95 % CI low",
    "probe_accuracy_ci_high": "probe accuracy, 95 % CI high", "chance": "chance (majority-class share)",
    "probe_null_mean": "label-permutation null (mean)", "probe_p_value": "p (permutation)",
    "kmeans_ari": "KMeans adjusted Rand index", "kmeans_silhouette": "KMeans silhouette",
    "label_silhouette": "silhouette of true labels",
    "mean_relative_within_variance": "within-class variance / total (mean over classes)",
}


def slug(spec: str) -> str:
    """A file-name-safe form of an encoder spec."""
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", spec).strip("_")


def axis_titles(space: SpaceAnalysis, method: str) -> tuple[str, str]:
    """Axis titles of a 2-D view: PCA's say the share of the variance each axis explains."""
    if method == "pca" and space.explained_variance is not None:
        return tuple(f"PC{i + 1} ({share:.1%} of variance)" for i, share in enumerate(space.explained_variance))
    return (f"{method.upper()} 1", f"{method.upper()} 2")


def write_space_outputs(space: SpaceAnalysis, out_dir: Path, colours: dict[str, str],
                        formats: Sequence[str] = FIGURE_FORMATS) -> dict[str, Path]:
    """CSVs and static figures of one space; returns {figure name: the file the page shows}."""
    name = slug(space.spec)
    space.centroid_distance.to_csv(out_dir / f"{name}_centroid_cosine_distance.csv")
    space.centroid_distance_normalised.to_csv(out_dir / f"{name}_centroid_cosine_distance_normalised.csv")
    space.within_variance.to_csv(out_dir / f"{name}_within_class_variance.csv", index=False)
    figures = {}
    for method, coords in space.projections.items():
        figures[method] = scatter_2d(coords, space.labels, f"{space.spec} — {method.upper()}",
                                     out_dir / f"{name}_{method}", colours, axis_titles(space, method), formats)
    if len(space.centroid_distance) >= 2:
        named = named_classes(space.labels)
        title = f"{space.spec}: class centroids"
        if len(named) < len(space.centroid_distance):
            title += f"\n({named_note(len(named), len(space.centroid_distance), other=False)})"
        figures["centroids"] = heatmap(space.centroid_distance_normalised.loc[named, named], title,
                                       out_dir / f"{name}_centroid_distance", colour_label="cosine distance / max",
                                       formats=formats)
    return figures


def report_notes(analysis: AnalysisResult, comparison: CompareResult | None = None, probes: ProbeTable | None = None,
                 notes: Sequence[str] = ()) -> list[str]:
    """Every note of a report, in page order: ``notes`` (e.g. why there is no comparison), the
    comparison's (but the z-scoring of descriptors, said in its own section), failed probes and the
    probes' guard notes (tiny test splits, scarce classes), then the per-space analysis's."""
    compared = [f"comparison: {note}" for note in comparison.notes if "z-scored" not in note] if comparison else []
    probed = [f"probe {line}" for line in probes.errors] if probes else []
    probed += [f"probe {encoder} · {model}: {note}" for (encoder, model), result in probes.results.items()
               for note in result.notes] if probes else []
    return [*notes, *compared, *probed, *analysis.notes]


def audio_links(obs: pd.DataFrame, dataset_root: str, out_dir: Path) -> list[str]:
    """Each row's audio file relative to the report folder ("" when the row has none)."""
    if not dataset_root or "audio_filename" not in obs:
        return [""] * len(obs)
    root = Path(dataset_root)
    return [os.path.relpath(root / name, out_dir.resolve()).replace(os.sep, "/") if isinstance(name, str) and name
            else "" for name in obs["audio_filename"]]


def page_data(analysis: AnalysisResult, comparison: CompareResult | None, colours: dict[str, str],
              out_dir: Path) -> dict[str, Any]:
    """What the page's scripts read: per space its ids, labels, hover texts (HTML-escaped: Plotly
    renders tags), audio links and 2-D views; the class colours; the neighbour lists."""
    spaces = []
    for space in analysis.spaces:
        if not space.projections:
            continue
        ids = space.obs["id"].astype(str).tolist()
        labels = [str(v) for v in space.labels]
        group = space.obs["group"].astype(str).tolist() if "group" in space.obs else [""] * len(ids)
        hover = [f"<b>{escape(i)}</b><br>{escape(analysis.label)}: {escape(label)}"
                 + (f"<br>group: {escape(g)}" if g and g != "nan" else "") for i, label, g in zip(ids, labels, group)]
        spaces.append({
            "spec": space.spec, "title": escape(f"{space.spec} ({space.modality})"), "ids": ids, "labels": labels,
            "hover": hover, "audio": audio_links(space.obs, analysis.dataset_root, out_dir),
            "projections": {method: {"x": coords[:, 0].round(5).tolist(), "y": coords[:, 1].round(5).tolist(),
                                     "axes": [escape(t) for t in axis_titles(space, method)]}
                            for method, coords in space.projections.items()},
        })
    neighbours: dict[str, dict[str, list]] = {}
    if comparison is not None:
        for row in comparison.neighbours.itertuples():
            neighbours.setdefault(row.view, {}).setdefault(str(row.query), []).append(
                [str(row.neighbour), round(float(row.similarity), 4)])
    methods = [m for m in ("pca", "tsne", "umap") if any(m in s["projections"] for s in spaces)]
    return {"spaces": spaces, "methods": methods, "classes": sorted(colours), "colours": colours,
            "class_names": {c: c for c in colours}, "class_legend": {c: escape(c) for c in colours},
            "neighbours": neighbours, "dataset_root": analysis.dataset_root}


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
    heatmaps = "".join(image_figure(f["centroids"], out_dir, f"{spec}: class-centroid cosine distance (÷ max)")
                       for spec, f in figures.items() if "centroids" in f)
    statics = "".join(f"<li>{escape(spec)} {escape(kind.upper())} {file_links(path, out_dir)}</li>"
                      for spec, f in figures.items() for kind, path in f.items() if kind != "centroids")
    return (f'<section id="quality"><h2>Each space on its own</h2><p class="note">{PROBE_ACCURACY} Here: logistic '
            f"regression on standardised pooled embeddings; protocol: {escape(_protocols(analysis))}. Within-class "
            "variance is divided by the total variance so encoders of different scale compare. From "
            '<a href="summary.csv">summary.csv</a> and <a href="metrics.json">metrics.json</a>.</p>'
            f"{table_html(table)}"
            f'<div class="grid" style="grid-template-columns: repeat(3, minmax(260px, 1fr));">{heatmaps}</div>'
            f'<p class="note">Static 2-D views (paper-ready files):</p><ul class="files">{statics}</ul></section>')


#: A further section of the page, given (report folder, figure formats): it writes its own files
#: (tables, JSON, figures) under the report folder and returns its HTML. Analyses beyond the
#: per-space one, the comparison and the probes add their sections this way.
SectionWriter = Callable[[Path, Sequence[str]], str]


def build_report(analysis: AnalysisResult, comparison: CompareResult | None = None, probes: ProbeTable | None = None,
                 out_dir: str | Path = "report", notes: Sequence[str] = (),
                 figure_formats: Sequence[str] = FIGURE_FORMATS, further: Sequence[SectionWriter] = ()) -> Path:
    """Write the whole report folder and return the path of its ``index.html``.

    ``comparison`` and ``probes`` (when given) get their section and their subfolder;
    ``further`` sections (see :data:`SectionWriter`) follow the comparison's, in order;
    ``notes`` go first among the page's notes (see :func:`report_notes`); every static figure
    is written in each of ``figure_formats`` (png, svg, pdf).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    colours = class_colours(label for space in analysis.spaces for label in space.labels)
    figures = {space.spec: write_space_outputs(space, out, colours, figure_formats) for space in analysis.spaces}
    analysis.timing.to_csv(out / "timing.csv", index=False)
    every_note = report_notes(analysis, comparison, probes, notes)
    summary = pd.DataFrame([{"encoder": s.spec, "modality": s.modality, **s.metrics} for s in analysis.spaces])
    summary.to_csv(out / "summary.csv", index=False)
    with (out / "metrics.json").open("w") as handle:  # written as it is encoded: the class-centroid matrices hold
        json.dump(analysis.metrics(every_note), handle, indent=2, default=_json_default)  # classes² numbers
    sections = []
    payload = page_data(analysis, comparison, colours, out)
    if comparison is not None:
        write_comparison(comparison, out / "compare", colours, figure_formats)
        dims = {(pair.audio, pair.symbolic): pair.dims for pair in comparison.pairs}
        sections.append(verdicts_block(analysis.label, comparison.knowledge, comparison.label_structure,
                                       verdict_table(comparison) if comparison.pairs else comparison.alignment.iloc[:0],
                                       dims))
        playable = {i for space in payload["spaces"] for i, link in zip(space["ids"], space["audio"]) if link}
        sections.append(influence_section(comparison.influence, playable if payload["spaces"] else set()))
    sections.append(quality_section(analysis, figures, out))
    if payload["spaces"]:
        sections.append(interactive_section(payload, payload["methods"]))
    if comparison is not None:
        sections.append(compare_html_section(comparison, out / "compare", out))
    sections += [write_section(out, figure_formats) for write_section in further]
    if probes is not None:
        write_probe_table(probes, out / "probes", figure_formats)
        sections.append(probe_html_section(probes))
    sections.append(f'<h2>Embedding time</h2>{table_html(analysis.timing)}')
    if every_note:
        sections.append("<h2>Notes</h2>" + "".join(f'<p class="note">{escape(n)}</p>' for n in every_note))
    sections.append(data_files_section(out))
    subtitle = f"store <code>{escape(analysis.store)}</code>"
    text = page(f"Counterpoint report — {analysis.label} — {analysis.store.name}", subtitle, sections,
                payload if payload["spaces"] else None)
    return write_page(out, text)


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
