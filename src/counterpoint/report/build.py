"""The report folder, written last from what the analysis, the comparison and the probes computed.

``DIR/index.html`` (every section), ``metrics.json``, ``summary.csv`` and ``timing.csv``; per
space its centroid-distance and variance CSVs and its figures; ``DIR/compare/`` (see
:mod:`counterpoint.report.compare`) and ``DIR/probes/`` (see :mod:`counterpoint.report.probes`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from counterpoint.analysis.analyze import AnalysisResult, SpaceAnalysis
from counterpoint.analysis.compare import CompareResult
from counterpoint.probes.run import ProbeTable
from counterpoint.report.compare import compare_html_section, write_comparison
from counterpoint.report.figures import heatmap, scatter_2d
from counterpoint.report.html import write_report
from counterpoint.report.probes import probe_html_section, write_probe_table


def slug(spec: str) -> str:
    """A file-name-safe form of an encoder spec."""
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", spec).strip("_")


def write_space_outputs(space: SpaceAnalysis, out_dir: Path) -> dict[str, str]:
    """CSVs and figures of one space; returns {figure name: file name in ``out_dir``}."""
    name = slug(space.spec)
    space.centroid_distance.to_csv(out_dir / f"{name}_centroid_cosine_distance.csv")
    space.centroid_distance_normalised.to_csv(out_dir / f"{name}_centroid_cosine_distance_normalised.csv")
    space.within_variance.to_csv(out_dir / f"{name}_within_class_variance.csv", index=False)
    figures = {}
    for method, coords in space.projections.items():
        path = scatter_2d(coords, space.labels, f"{space.spec} — {method.upper()}", out_dir / f"{name}_{method}.png")
        figures[method] = path.name
    if len(space.centroid_distance) >= 2:
        figures["centroids"] = heatmap(space.centroid_distance_normalised,
                                       f"{space.spec}\ncentroid cosine distance / max",
                                       out_dir / f"{name}_centroid_distance.png").name
    return figures


def report_notes(analysis: AnalysisResult, comparison: CompareResult | None = None, probes: ProbeTable | None = None,
                 notes: Sequence[str] = ()) -> list[str]:
    """Every note of a report, in page order: ``notes`` (e.g. why there is no comparison), the
    comparison's (but the z-scoring of descriptors, said in its own section), failed probes,
    then the per-space analysis's."""
    compared = [f"comparison: {note}" for note in comparison.notes if "z-scored" not in note] if comparison else []
    probed = [f"probe {line}" for line in probes.errors] if probes else []
    return [*notes, *compared, *probed, *analysis.notes]


def build_report(analysis: AnalysisResult, comparison: CompareResult | None = None, probes: ProbeTable | None = None,
                 out_dir: str | Path = "report", notes: Sequence[str] = ()) -> Path:
    """Write the whole report folder and return the path of its ``index.html``.

    ``comparison`` and ``probes`` (when given) get their section and their subfolder;
    ``notes`` go first among the page's notes (see :func:`report_notes`).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figures = {space.spec: write_space_outputs(space, out) for space in analysis.spaces}
    analysis.timing.to_csv(out / "timing.csv", index=False)
    sections = []
    if comparison is not None:
        write_comparison(comparison, out / "compare")
        sections.append(compare_html_section(comparison, image_prefix="compare/"))
    if probes is not None:
        write_probe_table(probes, out / "probes")
        sections.append(probe_html_section(probes))
    every_note = report_notes(analysis, comparison, probes, notes)
    index = write_report(out, f"Counterpoint report — {analysis.store.name}", analysis.label,
                         {s.spec: s.metrics for s in analysis.spaces}, figures, analysis.timing, every_note, sections)
    summary = pd.DataFrame([{"encoder": s.spec, "modality": s.modality, **s.metrics} for s in analysis.spaces])
    summary.to_csv(out / "summary.csv", index=False)
    (out / "metrics.json").write_text(json.dumps(analysis.metrics(every_note), indent=2, default=_json_default))
    return index


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
