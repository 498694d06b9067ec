"""The per-space figures of every encoder in a store: geometry, clustering, probe accuracy, 2-D views.

Computation only: :func:`analyze_store` returns an :class:`AnalysisResult` of numbers and
arrays; :mod:`counterpoint.report` draws and writes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from counterpoint.analysis.geometry import (SILHOUETTE_MAX_N, centroid_distances, clustering_agreement,
                                            within_class_variance)
from counterpoint.analysis.inputs import require_columns, require_embeddings
from counterpoint.analysis.reduce import MIN_TRACKS, pca_2d, reduce_2d
from counterpoint.config import REDUCTIONS, SCATTER_LIMIT, AnalysisSettings
from counterpoint.errors import CounterpointError, StoreError
from counterpoint.matrix import EmbeddingMatrix
from counterpoint.probe_protocol import ProbeAccuracy, probe_accuracy
from counterpoint.progress import ProgressCallback
from counterpoint.results import json_ready
from counterpoint.splits import stratified_subsample
from counterpoint.store import as_store

if TYPE_CHECKING:
    from counterpoint.store import Store


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
    obs: pd.DataFrame | None = None                  # metadata of the analysed rows (ids, labels, file names)
    explained_variance: np.ndarray | None = None     # [2]: share of the variance on each PCA axis
    probe: ProbeAccuracy | None = None               # the label's probe accuracy under the one protocol


def probe_metrics(result: ProbeAccuracy) -> dict[str, float]:
    """The flat figures of a space's probe accuracy shown in its table (``probe`` in metrics.json holds the rest)."""
    return {"probe_accuracy": result.accuracy, "probe_accuracy_ci_low": result.ci_low,
            "probe_accuracy_ci_high": result.ci_high, "chance": result.chance, "probe_null_mean": result.null_mean,
            "probe_p_value": result.p_value}


def analyze_space(matrix: EmbeddingMatrix, label: str, *, depth: int | None = None, group: str | None = None,
                  reductions: tuple[str, ...] = REDUCTIONS, seed: int = 0,
                  view_limit: int | None = SCATTER_LIMIT) -> SpaceAnalysis:
    """All per-space figures of one encoder for one label.

    A figure the space is too small for (one class, fewer tracks than a view needs, a
    training fold with one class) is left out and said in ``notes``; a space without a
    labelled track is a :class:`StoreError`. Above ``view_limit`` tracks (the report's scatter
    limit) t-SNE and UMAP place the subsample the page draws (:func:`nonlinear_view_rows`), the
    other tracks' coordinates NaN; PCA places every track.
    """
    labelled = matrix.labelled(label, depth)
    X, labels = labelled.X, labelled.labels(label, depth)
    if not len(X):
        raise StoreError(f"{matrix.spec}: no embedded track has a {label!r} label")
    notes = []
    probe = None
    n_classes = len(set(labels))
    raw, normalised = centroid_distances(X, labels)
    metrics: dict[str, float] = {"n_tracks": len(X), "n_classes": n_classes}
    if n_classes < 2:
        notes.append(f"{matrix.spec}: one {label!r} class only ({labels[0]!r}) — no centroid distances, clustering "
                     "or probe")
    else:
        try:
            metrics.update(clustering_agreement(X, labels, seed=seed, max_n_silhouette=SILHOUETTE_MAX_N))
            if len(X) > SILHOUETTE_MAX_N:
                notes.append(f"{matrix.spec}: the clustering silhouettes ran on a seeded subsample of "
                             f"{SILHOUETTE_MAX_N:,} of the {len(X):,} tracks (their cost grows with the square of "
                             "the count); KMeans and its Rand index on all of them")
        except CounterpointError as error:
            notes.append(f"{matrix.spec}: no clustering — {error}")
        try:
            probe = probe_accuracy(X, labels, ids=labelled.ids, groups=labelled.groups(group),
                                   given_split=labelled.given_split(), seed=seed)
            metrics.update(probe_metrics(probe))
            notes += [f"{matrix.spec}: probe accuracy — {note}" for note in probe.notes]
        except CounterpointError as error:
            notes.append(f"{matrix.spec}: no probe accuracy — {error}")
    variance = within_class_variance(X, labels)
    metrics["mean_relative_within_variance"] = float(variance["relative_within_variance"].mean())
    view_rows = nonlinear_view_rows(labels, view_limit, seed)
    placed = {method: len(X) if method == "pca" else len(view_rows) for method in reductions}
    too_few = [method for method in reductions if placed[method] < MIN_TRACKS[method]]
    if too_few:
        notes.append(f"{matrix.spec}: no " + ", ".join(f"{m.upper()} (needs {MIN_TRACKS[m]} tracks)" for m in too_few)
                     + f" view of {len(X)} labelled tracks" + ("" if len(view_rows) == len(X) else
                     f", of which the scatter limit leaves {len(view_rows)} to place (--scatter-limit)"))
    projections, explained = {}, None
    nonlinear = [m for m in reductions if m not in too_few and m != "pca"]
    if nonlinear and len(view_rows) < len(X):
        notes.append(f"{matrix.spec}: {' and '.join(m.upper() for m in nonlinear)} placed a subsample of "
                     f"{len(view_rows):,} of the {len(X):,} tracks, stratified by {label!r} (seed {seed}) — the tracks "
                     "the page draws (--scatter-limit); their cost grows faster than the count. PCA placed every track")
    for method in (m for m in reductions if m not in too_few):
        if method == "pca":
            projections[method], explained = pca_2d(X, seed)
        else:
            placed_coordinates = reduce_2d(X[view_rows], method, seed=seed)   # UMAP's float32 stays float32
            projections[method] = np.full((len(X), 2), np.nan, dtype=placed_coordinates.dtype)
            projections[method][view_rows] = placed_coordinates
    return SpaceAnalysis(matrix.spec, matrix.modality, len(X), metrics, raw, normalised, variance, projections, labels,
                         notes, labelled.obs.reset_index(drop=True), explained, probe)


def nonlinear_view_rows(labels: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    """The rows t-SNE and UMAP place: every row up to ``limit``, above it the label-stratified subsample the
    report page draws (:func:`~counterpoint.splits.stratified_subsample` with the same seed)."""
    return np.arange(len(labels)) if limit is None else stratified_subsample(labels, limit, seed=seed)


@dataclass
class AnalysisResult:
    """Every space of a store analysed for one label, and what was left out (``skipped``, ``notes``); the
    analysis protocol (:mod:`counterpoint.results`), its JSON form ``metrics.json``."""

    store: Path
    label: str
    spaces: list[SpaceAnalysis]
    timing: pd.DataFrame
    skipped: dict[str, str]
    n_failures: int
    notes: list[str] = field(default_factory=list)
    dataset_root: str = ""          # the folder the store's file names are relative to ("" when unknown)
    settings: AnalysisSettings | None = None   # what :func:`analyze_store` was given

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """``summary`` (one row per space: its flat figures) and ``timing`` (the store's embedding times)."""
        summary = pd.DataFrame([{"encoder": s.spec, "modality": s.modality, **s.metrics} for s in self.spaces])
        return {"summary": summary, "timing": self.timing}

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (NaN as null): :meth:`metrics`."""
        return json_ready(self.metrics())

    def metrics(self, notes: list[str] | None = None) -> dict[str, Any]:
        """The JSON-ready numbers of ``metrics.json``; ``notes`` replaces :attr:`notes` (a report's notes
        name its other sections too)."""
        return {
            "label": self.label,
            "encoders": {s.spec: {"modality": s.modality, **s.metrics,
                                  **({"probe": s.probe.to_dict()} if s.probe is not None else {}),
                                  "within_class_variance": s.within_variance.to_dict(orient="records"),
                                  "centroid_cosine_distance": s.centroid_distance.to_dict(),
                                  "centroid_cosine_distance_normalised": s.centroid_distance_normalised.to_dict()}
                         for s in self.spaces},
            "timing": self.timing.to_dict(orient="records"),
            "skipped": self.skipped,
            "notes": self.notes if notes is None else notes,
        }


def analyze_store(store_or_path: "Store | str | Path", options: AnalysisSettings,
                  *, matrices: Mapping[str, EmbeddingMatrix] | None = None,
                  progress: ProgressCallback | None = None) -> AnalysisResult:
    """Analyse every encoder of ``store`` for ``options.label`` (cut to ``options.depth``), but the untrained
    controls (:meth:`~counterpoint.store.Store.analysed_encoders`), which are skipped with a note.

    ``matrices`` are pooled matrices already read, by spec (the others are read here). An
    encoder without labelled tracks is skipped and a figure a space is too small for is left
    out; both are said in ``AnalysisResult.notes``. ``progress(spec, i, n)`` is called before the i-th
    (from 0) of the n encoders.
    """
    store = as_store(store_or_path)
    require_embeddings(store)
    require_columns(store, options.label, options.group)
    spaces, skipped, space_notes = [], {}, []
    controls = store.untrained_controls()
    for done, record in enumerate(store.encoders):
        spec = record.spec
        if spec in controls:
            skipped[spec] = (f"the untrained twin of {controls[spec]} (init=random): it is the comparison's "
                             "untrained control, not a space of its own")
            continue
        if progress:
            progress(spec, done, len(store.encoders))
        if record.n_tracks == 0:
            skipped[spec] = "no embedded tracks"
            continue
        matrix = matrices[spec] if matrices and spec in matrices else store.pooled(spec)
        try:
            space = analyze_space(matrix, options.label, depth=options.depth, group=options.group,
                                  reductions=options.reductions, seed=options.seed,
                                  view_limit=options.scatter_limit)
        except StoreError as exc:
            skipped[spec] = str(exc)
            continue
        spaces.append(space)
        space_notes += space.notes
    skip_notes = [f"{spec}: skipped — {reason.removeprefix(spec + ': ')}" for spec, reason in skipped.items()]
    notes = [*skip_notes, *space_notes]
    n_failures = len(store.failures())
    if n_failures:
        notes.append(f"{n_failures} track/encoder failures are recorded in the store "
                     f"(`counterpoint store info {store.path}` lists them).")
    return AnalysisResult(store.path, options.label, spaces, store.timing(), skipped, n_failures, notes,
                          str(store.attrs.get("dataset_root", "") or ""), settings=options)
