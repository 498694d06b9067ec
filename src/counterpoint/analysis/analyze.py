"""`counterpoint analyze`: the per-space figures for every encoder in a store, written to a folder.

Computation (this module, returning numbers) and drawing (:mod:`counterpoint.report`) are
kept apart; :func:`analyze_store` calls both and writes ``metrics.json`` and the CSVs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from counterpoint.analysis.geometry import (centroid_distances, clustering_agreement, linear_probe_accuracy,
                                            within_class_variance)
from counterpoint.analysis.inputs import require_column, require_columns, require_embeddings, require_whole
from counterpoint.analysis.reduce import METHODS, MIN_TRACKS, reduce_2d
from counterpoint.data.manifest import label_at_depth
from counterpoint.errors import CounterpointError, StoreError
from counterpoint.report.figures import heatmap, scatter_2d
from counterpoint.report.html import write_report
from counterpoint.store import EmbeddingMatrix, Store


@dataclass
class SpaceAnalysis:
    """Everything computed about one encoder's space."""

    spec: str
    modality: str
    n: int
    metrics: dict[str, float]
    centroid_distance: pd.DataFrame
    centroid_distance_normalised: pd.DataFrame
    within_variance: pd.DataFrame
    projections: dict[str, np.ndarray] = field(default_factory=dict)
    labels: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)   # figures left out, and why


def labelled_rows(matrix: EmbeddingMatrix, label: str, depth: int | None = None) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Rows of ``matrix`` that carry ``label`` (cut to ``depth``), as (X, labels, obs)."""
    require_column(list(matrix.obs.columns), label, "label", matrix.spec)
    values = matrix.obs[label].astype(str).map(lambda v: label_at_depth(v.strip(), depth))
    keep = (values != "").to_numpy(dtype=bool)
    return matrix.X[keep], values[keep].to_numpy(), matrix.obs[keep].reset_index(drop=True)


def _group_values(obs: pd.DataFrame, group: str | None) -> np.ndarray | None:
    """Values of the grouping column; without one named, the track table's ``group`` column if filled."""
    if group is None:
        filled = "group" in obs.columns and (obs["group"].astype(str) != "").any()
        return obs["group"].astype(str).to_numpy() if filled else None
    require_column(list(obs.columns), group, "group", "the track table")
    return obs[group].astype(str).to_numpy()


def analyze_space(matrix: EmbeddingMatrix, label: str, depth: int | None = None, group: str | None = None,
                  reductions: tuple[str, ...] = METHODS, seed: int = 0) -> SpaceAnalysis:
    """All per-space figures of one encoder for one label.

    A figure the space is too small for (one class, fewer tracks than a view needs, a
    training fold with one class) is left out and said in ``notes``; a space without a
    labelled track is a :class:`StoreError`.
    """
    X, labels, obs = labelled_rows(matrix, label, depth)
    if not len(X):
        raise StoreError(f"{matrix.spec}: no embedded track has a {label!r} label")
    notes = []
    n_classes = len(set(labels))
    raw, normalised = centroid_distances(X, labels)
    metrics: dict[str, float] = {"n_tracks": len(X), "n_classes": n_classes}
    if n_classes < 2:
        notes.append(f"{matrix.spec}: one {label!r} class only ({labels[0]!r}) — no centroid distances, clustering "
                     "or probe")
    else:
        for what, figures in (("clustering", lambda: clustering_agreement(X, labels, seed=seed)),
                              ("probe accuracy", lambda: linear_probe_accuracy(X, labels, _group_values(obs, group),
                                                                               seed=seed))):
            try:
                metrics.update(figures())
            except CounterpointError as error:
                notes.append(f"{matrix.spec}: no {what} — {error}")
    variance = within_class_variance(X, labels)
    metrics["mean_relative_within_variance"] = float(variance["relative_within_variance"].mean())
    too_few = [method for method in reductions if len(X) < MIN_TRACKS[method]]
    if too_few:
        notes.append(f"{matrix.spec}: no " + ", ".join(f"{m.upper()} (needs {MIN_TRACKS[m]} tracks)" for m in too_few)
                     + f" view of {len(X)} labelled tracks")
    projections = {method: reduce_2d(X, method, seed=seed) for method in reductions if method not in too_few}
    return SpaceAnalysis(matrix.spec, matrix.modality, len(X), metrics, raw, normalised, variance, projections, labels,
                         notes)


def slug(spec: str) -> str:
    """A file-name-safe form of an encoder spec."""
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", spec).strip("_")


def write_space_outputs(space: SpaceAnalysis, out_dir: Path) -> dict[str, str]:
    """CSVs and figures of one space; returns {figure name: relative path}."""
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


@dataclass
class AnalysisResult:
    out_dir: Path
    report: Path
    label: str
    spaces: list[SpaceAnalysis]
    figures: dict[str, dict[str, str]]
    timing: pd.DataFrame
    skipped: dict[str, str]
    notes: list[str] = field(default_factory=list)

    def metrics(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "encoders": {s.spec: {"modality": s.modality, **s.metrics,
                                  "within_class_variance": s.within_variance.to_dict(orient="records"),
                                  "centroid_cosine_distance": s.centroid_distance.to_dict(),
                                  "centroid_cosine_distance_normalised": s.centroid_distance_normalised.to_dict()}
                         for s in self.spaces},
            "timing": self.timing.to_dict(orient="records"),
            "skipped": self.skipped,
            "notes": self.notes,
        }


def analyze_store(store_path: str | Path, label: str, out_dir: str | Path, depth: int | None = None,
                  group: str | None = None, reductions: tuple[str, ...] = METHODS, seed: int = 0,
                  sections: Sequence[str] = (), progress: Callable[[str], None] | None = None,
                  notes: Sequence[str] = ()) -> AnalysisResult:
    """Analyse every encoder of a store for ``label`` and write CSVs, figures and metrics.json.

    An encoder without labelled tracks is skipped, a figure a space is too small for is left
    out; both are said in the report's notes (with ``notes`` given by the caller) and in
    ``AnalysisResult.notes``.
    """
    require_whole("seed", seed, 0)
    if depth is not None:
        require_whole("depth", depth, 0)
    unknown = [method for method in reductions if method not in METHODS]
    if unknown:
        raise CounterpointError(f"unknown reduction {unknown[0]!r}; choose from {', '.join(METHODS)}")
    store = Store(store_path)
    require_embeddings(store)
    require_columns(store, label, group)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    spaces, figures, skipped = [], {}, {}
    space_notes = []
    for record in store.encoders:
        spec = record.spec
        if progress:
            progress(spec)
        if record.n_tracks == 0:
            skipped[spec] = "no embedded tracks"
            continue
        try:
            space = analyze_space(store.pooled(spec), label, depth, group, reductions, seed)
        except StoreError as exc:
            skipped[spec] = str(exc)
            continue
        spaces.append(space)
        space_notes += space.notes
        figures[spec] = write_space_outputs(space, out)
    timing = store.timing()
    timing.to_csv(out / "timing.csv", index=False)
    skip_notes = [f"{spec}: skipped — {reason.removeprefix(spec + ': ')}" for spec, reason in skipped.items()]
    all_notes = [*notes, *skip_notes, *space_notes]
    failures = store.failures()
    if len(failures):
        all_notes.append(f"{len(failures)} track/encoder failures are recorded in the store "
                         f"(`counterpoint store info {store.path}` lists them).")
    report = write_report(out, f"Counterpoint report — {store.path.name}", label,
                          {s.spec: s.metrics for s in spaces}, figures, timing, all_notes, sections)
    result = AnalysisResult(out, report, label, spaces, figures, timing, skipped, all_notes)
    summary = pd.DataFrame([{"encoder": s.spec, "modality": s.modality, **s.metrics} for s in spaces])
    summary.to_csv(out / "summary.csv", index=False)
    (out / "metrics.json").write_text(json.dumps(result.metrics(), indent=2, default=_json_default))
    return result


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
