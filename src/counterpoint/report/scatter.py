"""The data of the page's linked scatter plots (``page_data``): every track once, the metadata columns the page
colours and hovers by, and each space's 2-D views.

Tracks are inlined once, not once per space: their ids, analysis-label codes and audio links (every track, so
search finds any of them), and the values of every column the page can colour by (the drawn tracks). Each space
holds, per 2-D view, the coordinates of its drawn tracks and their positions in that list. Above the report's
scatter limit (:attr:`counterpoint.config.AnalysisSettings.scatter_limit`) the drawn tracks are a subsample
stratified by the label (:func:`counterpoint.splits.stratified_subsample`) and the page draws them with WebGL.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from counterpoint.analysis.analyze import AnalysisResult, SpaceAnalysis
from counterpoint.analysis.compare import CompareResult
from counterpoint.config import SCATTER_LIMIT
from counterpoint.matrix import PATH_COLUMNS
from counterpoint.report.figures import OTHER_COLOUR, class_colours, named_classes, other_label
from counterpoint.splits import stratified_subsample

#: A text column with more distinct values than this share of the tracks names tracks rather than grouping them
#: (ids, works, file names): the page does not colour by it.
MOST_DISTINCT_SHARE = 0.5
#: Columns never offered for colour: the id, and what only locates files.
NOT_COLOURED = ("id", *PATH_COLUMNS)
#: Significant digits of the inlined 2-D coordinates: a ten-thousandth of the view's extent, finer than a pixel.
COORDINATE_DIGITS = 4


def axis_titles(space: SpaceAnalysis, method: str) -> tuple[str, str]:
    """Axis titles of a 2-D view: PCA's say the share of the variance each axis explains."""
    if method == "pca" and space.explained_variance is not None:
        return tuple(f"PC{i + 1} ({share:.1%} of variance)" for i, share in enumerate(space.explained_variance))
    return (f"{method.upper()} 1", f"{method.upper()} 2")


def numeric_values(values: pd.Series) -> pd.Series | None:
    """``values`` as floats (NaN where empty) when every given value reads as a number, else None (text)."""
    given = values[values.notna() & (values.astype(str).str.strip() != "")]
    if given.empty or pd.api.types.is_bool_dtype(values):
        return None
    numbers = pd.to_numeric(given, errors="coerce")
    if numbers.isna().any():
        return None
    return pd.to_numeric(values.where(values.index.isin(given.index)), errors="coerce").astype(float)


def colour_columns(tracks: pd.DataFrame, label: str) -> list[str]:
    """The columns of ``tracks`` the page colours and hovers by: ``label`` first, then every other metadata
    column but the id and file paths, leaving out a column with one value and a text column whose values
    (almost) name each track (more distinct values than :data:`MOST_DISTINCT_SHARE` of the tracks)."""
    chosen = [label]
    for column in tracks.columns:
        if column in NOT_COLOURED or column == label:
            continue
        distinct = tracks[column].nunique(dropna=True)
        if distinct < 2:
            continue
        if numeric_values(tracks[column]) is None and distinct > MOST_DISTINCT_SHARE * len(tracks):
            continue
        chosen.append(column)
    return chosen


def categorical_column(name: str, values: Sequence[str], colours: dict[str, str] | None = None) -> dict[str, Any]:
    """A text column as the page reads it: its levels (sorted; "" is "(no value)"), one colour per level (the
    report's palette for the :func:`~counterpoint.report.figures.named_classes`, grey for the rest, drawn as
    one "other"; ``colours``: the label's own class colours) and each drawn track's level code."""
    values = np.asarray(["(no value)" if v is None or (isinstance(v, float) and np.isnan(v)) or str(v) == ""
                         else str(v) for v in values])
    levels, codes = np.unique(values, return_inverse=True)
    named = named_classes(values)
    palette = colours if colours is not None else class_colours(named)
    n_other = len(levels) - len(named)
    return {"name": name, "kind": "categorical", "levels": levels.tolist(),
            "colours": [palette.get(level, OTHER_COLOUR) if level in named else OTHER_COLOUR for level in levels],
            "named": [level in named for level in levels], "other": other_label(n_other) if n_other else None,
            "codes": codes.tolist()}


def numeric_column(name: str, values: pd.Series) -> dict[str, Any]:
    """A numeric column as the page reads it: each drawn track's value (None when missing) and the range the
    colour scale spans, the same in every panel."""
    finite = values[np.isfinite(values)]
    return {"name": name, "kind": "numeric", "values": [None if not np.isfinite(v) else float(v) for v in values],
            "low": float(finite.min()), "high": float(finite.max())}


def rounded(values: np.ndarray) -> list[float]:
    """Coordinates rounded to :data:`COORDINATE_DIGITS` significant digits of their largest magnitude."""
    scale = float(np.nanmax(np.abs(values))) if len(values) else 0.0
    decimals = COORDINATE_DIGITS - 1 - int(np.floor(np.log10(scale))) if scale > 0 else 0
    return np.round(values.astype(float), max(decimals, 0)).tolist()


def audio_links(obs: pd.DataFrame, dataset_root: str, out_dir: Path) -> list[str]:
    """Each row's audio file relative to the report folder ("" when the row has none)."""
    if not dataset_root or "audio_filename" not in obs:
        return [""] * len(obs)
    root = Path(dataset_root)
    return [os.path.relpath(root / name, out_dir.resolve()).replace(os.sep, "/") if isinstance(name, str) and name
            else "" for name in obs["audio_filename"]]


def every_track(analysis: AnalysisResult) -> pd.DataFrame:
    """One row per track of any drawn space (first seen first), its metadata and its label as analysed (cut to
    the depth) in the column named by the label."""
    frames = []
    for space in analysis.spaces:
        if space.projections:
            frames.append(space.obs.assign(**{analysis.label: [str(v) for v in space.labels]}))
    if not frames:
        return pd.DataFrame(columns=["id", analysis.label])
    tracks = pd.concat(frames, ignore_index=True)
    tracks["id"] = tracks["id"].astype(str)
    return tracks.drop_duplicates("id").reset_index(drop=True)


def subsample_note(payload: dict[str, Any]) -> str:
    """What the page says of a subsample ("" when every track is drawn)."""
    shown = payload["subsample"]
    if shown is None:
        return ""
    return (f"Showing {shown['n']:,} of {shown['total']:,} tracks, stratified by {shown['label']} (seed "
            f"{shown['seed']}; more than the scatter limit of {shown['limit']:,}); every track's PCA coordinates (t-SNE "
            "and UMAP place the drawn tracks only) are in the linked CSV files, and the track search finds any track.")


def page_data(analysis: AnalysisResult, comparison: CompareResult | None, colours: dict[str, str],
              *, out_dir: Path, limit: int = SCATTER_LIMIT, seed: int = 0) -> dict[str, Any]:
    """What the page's scripts read (see the module's docstring): ``tracks`` (every track's id, label code and
    audio link, and the drawn ones' positions), ``columns`` (colour and hover, the label first with ``colours``),
    ``spaces`` (per space its drawn rows and 2-D views), ``subsample`` (None: every track drawn), ``webgl``, the
    neighbour lists of the drawn tracks, the 2-D methods and the dataset root."""
    tracks = every_track(analysis)
    ids = tracks["id"].tolist()
    position = {track_id: i for i, track_id in enumerate(ids)}
    drawn = stratified_subsample(tracks[analysis.label].to_numpy(), limit, seed=seed) if len(ids) else np.arange(0)
    subsampled = len(drawn) < len(ids)
    drawn_at = np.full(len(ids), -1)
    drawn_at[drawn] = np.arange(len(drawn))
    shown = tracks.iloc[drawn]
    columns = []
    for name in colour_columns(tracks, analysis.label) if ids else []:
        numbers = None if name == analysis.label else numeric_values(shown[name])
        columns.append(numeric_column(name, numbers) if numbers is not None else
                       categorical_column(name, shown[name].tolist(), colours if name == analysis.label else None))
    label_levels = columns[0]["levels"] if columns else []
    label_code = {level: i for i, level in enumerate(label_levels)}
    spaces = []
    for space in analysis.spaces:
        if not space.projections:
            continue
        rows = drawn_at[[position[str(i)] for i in space.obs["id"]]]
        # A drawn track another view did not place (t-SNE and UMAP place a subsample above the limit) is left out
        kept = (rows >= 0) & np.all([np.isfinite(coords).all(1) for coords in space.projections.values()], axis=0)
        spaces.append({
            "spec": space.spec, "title": f"{space.spec} ({space.modality})", "rows": rows[kept].tolist(),
            "projections": {method: {"x": rounded(coords[kept, 0]), "y": rounded(coords[kept, 1]),
                                     "axes": list(axis_titles(space, method))}
                            for method, coords in space.projections.items()},
        })
    neighbours: dict[str, dict[str, list]] = {}
    if comparison is not None:
        for row in comparison.neighbours.itertuples():
            query = str(row.query)
            if query in position and drawn_at[position[query]] >= 0:
                neighbours.setdefault(row.view, {}).setdefault(query, []).append(
                    [str(row.neighbour), round(float(row.similarity), 4)])
    links = audio_links(tracks, analysis.dataset_root, out_dir)
    audio_base = os.path.commonprefix([link for link in links if link]) if any(links) else ""
    audio_base = audio_base[:audio_base.rfind("/") + 1]
    methods = [m for m in ("pca", "tsne", "umap") if any(m in s["projections"] for s in spaces)]
    return {"tracks": {"ids": ids, "label": [label_code.get(v, -1) for v in tracks[analysis.label]],
                       "audio_base": audio_base, "audio": [link[len(audio_base):] if link else "" for link in links],
                       "drawn": drawn.tolist() if subsampled else None},
            "columns": columns, "spaces": spaces, "methods": methods, "webgl": subsampled,
            "subsample": {"n": len(drawn), "total": len(ids), "label": analysis.label, "seed": seed, "limit": limit}
            if subsampled else None,
            "neighbours": neighbours, "dataset_root": analysis.dataset_root}


def playable_tracks(payload: dict) -> set[str]:
    """The ids of the page's tracks whose audio the explorer can play (none when the page has no explorer)."""
    tracks = payload.get("tracks", {"ids": [], "audio": []})
    return {track for track, link in zip(tracks["ids"], tracks["audio"]) if link}
