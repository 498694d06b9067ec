"""Embeddings of one encoder with their tracks' metadata, and the one place labelled rows are read.

:class:`EmbeddingMatrix` (pooled vectors ``X`` [N, D]) and :class:`FrameSequences` (frames
``[T_i, D]`` per track) carry ``obs``, the track table's rows in the same order (the AnnData
idea: ``X`` with ``obs``). Every stage reads labels, groups and the given split through
their methods, so a missing label, ``--depth`` and ``--group`` mean the same in every
section of a report.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

from counterpoint.errors import CounterpointError, StoreError
from counterpoint.labels import MISSING_VALUES, canonical_split, label_at_depth

if TYPE_CHECKING:
    import anndata

#: Columns of the track table that are file paths, never a label or a group.
PATH_COLUMNS = ("audio_filename", "midi_filename")

Rows = TypeVar("Rows", bound="TrackRows")


def require_column(columns: Sequence[str], name: str, option: str, *, store: str | Path) -> None:
    """Raise a :class:`StoreError` naming the columns there are when ``name`` is not one of ``columns``.

    ``option`` is the command-line option that chose the column (``label``, ``group``).
    """
    if name not in columns:
        shown = [c for c in columns if c not in PATH_COLUMNS]
        raise StoreError(f"{store}: no {option} column {name!r} in the track table (it has: {', '.join(shown)}) "
                         f"— pass one of those as --{option}")


def matching_rows(table: pd.DataFrame, column: str, value: str, *, store: str | Path) -> np.ndarray:
    """Boolean mask [N] of the rows of ``table`` whose ``column`` reads ``value`` (as text, stripped; what
    ``--where COLUMN=VALUE`` selects). A :class:`StoreError` lists the columns when there is no such column."""
    require_column(list(table.columns), column, "where", store=store)
    return _text(table[column]) == value.strip()


def require_selection(table: pd.DataFrame, selection: Sequence[tuple[str, str]], store: str | Path) -> None:
    """Raise a :class:`StoreError` unless the ``(column, value)`` filters of ``selection``, applied in turn,
    keep a row of ``table``: it names the filter that keeps none and lists the column's 10 most frequent
    values among the rows the filters before it kept (or the columns, when there is no such column)."""
    for position, (column, value) in enumerate(selection):
        mask = matching_rows(table, column, value, store=store)
        if not mask.any():
            counts = pd.Series(_text(table[column]), dtype=object).value_counts()
            shown = ", ".join(f"{v or '(empty)'} ({n})" for v, n in counts.head(10).items()) or "none, no tracks"
            more = f" … (+{len(counts) - 10} more)" if len(counts) > 10 else ""
            among = (" of the tracks that " + " and ".join(f"--where {c}={v}" for c, v in selection[:position])
                     + " kept" if position else "")
            raise StoreError(f"{store}: --where {column}={value} selects no track{among} — the values of "
                             f"{column!r}, most frequent first: {shown}{more}; pass one of those")
        table = table[mask]


def _text(values: Sequence[object]) -> np.ndarray:
    """Cells as stripped text, ``""`` for an empty or missing one (``NaN``, ``N/A``, ``None``…), object [N]."""
    text = ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip() for v in values]
    return np.array(["" if v.lower() in MISSING_VALUES else v for v in text], dtype=object)


def canonical_splits(values: Sequence[object]) -> np.ndarray:
    """Split cells as ``train``/``validation``/``test`` (any case; aliases such as ``val`` read as
    their names), ``""`` for an empty or unknown cell; object [N]."""
    return np.array([canonical_split(v) or "" for v in _text(values)], dtype=object)


class TrackRows:
    """What pooled vectors and frame sequences share: ``obs``, one row per track, and the
    labels, groups and given split read from it. Subclasses define :meth:`take`."""

    spec: str
    obs: pd.DataFrame

    def __len__(self) -> int:
        return len(self.obs)

    @property
    def ids(self) -> np.ndarray:
        """Track ids, object [N], in row order."""
        return self.obs["id"].astype(str).to_numpy(dtype=object)

    def take(self: Rows, rows: np.ndarray) -> Rows:
        """The given rows (indices or a boolean mask) as a new object of the same kind."""
        raise NotImplementedError

    def labels(self, label: str, depth: int | None = None) -> np.ndarray:
        """The ``label`` column as text [N] cut to ``depth`` levels of ``a/b/c`` (None or 0: whole);
        ``""`` where a track has none. A :class:`StoreError` lists the columns when there is no such column."""
        require_column(list(self.obs.columns), label, "label", store=self.spec)
        return np.array([label_at_depth(v, depth) if v else "" for v in _text(self.obs[label])], dtype=object)

    def where(self: Rows, column: str, value: str) -> Rows:
        """The rows whose ``column`` reads ``value`` (as text, e.g. ``midi_source`` = ``original``).
        A :class:`StoreError` lists the columns when there is no such column."""
        return self.take(matching_rows(self.obs, column, value, store=self.spec))

    def labelled(self: Rows, label: str, depth: int | None = None) -> Rows:
        """The rows that carry a ``label`` (see :meth:`labels`)."""
        return self.take(self.labels(label, depth) != "")

    def group_column(self, group: str | None = None) -> str | None:
        """The column that keeps tracks together in splits: ``group`` when named, else the
        dataset's ``group`` column when any track has one, else None (every track on its own)."""
        if group is not None:
            require_column(list(self.obs.columns), group, "group", store=self.spec)
            return group
        if "group" in self.obs.columns and (_text(self.obs["group"]) != "").any():
            return "group"
        return None

    def groups(self, group: str | None = None) -> np.ndarray | None:
        """The group of every track, object [N] (``""``: a group of its own), from :meth:`group_column`;
        None when there is no group column."""
        column = self.group_column(group)
        return None if column is None else _text(self.obs[column])

    def given_split(self) -> np.ndarray | None:
        """The dataset's split column read by :func:`canonical_splits`, object [N]; None without the column."""
        if "split" not in self.obs.columns:
            return None
        return canonical_splits(self.obs["split"])

    def paired_with(self: Rows, other: "TrackRows") -> tuple[Rows, "TrackRows"]:
        """This object's and ``other``'s rows of the tracks both hold, in this object's row order."""
        position = pd.Series(np.arange(len(other)), index=other.ids)
        mine = np.flatnonzero(pd.Index(self.ids).isin(position.index))
        return self.take(mine), other.take(position.loc[self.ids[mine]].to_numpy())

    def _obs_rows(self, rows: np.ndarray) -> pd.DataFrame:
        return self.obs.iloc[np.flatnonzero(rows) if np.asarray(rows).dtype == bool else rows].reset_index(drop=True)


@dataclass(repr=False)
class EmbeddingMatrix(TrackRows):
    """Pooled embeddings ``X`` [N, D] float32 of one encoder with their track metadata ``obs``
    (N rows, same order); ``feature_names`` [D] for named descriptors; ``fingerprint``: what the
    encoder recorded in the store (name, parameters, weights digest, code version), None when unknown."""

    spec: str
    modality: str
    X: np.ndarray
    obs: pd.DataFrame
    feature_names: list[str] | None = None
    fingerprint: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return (f"EmbeddingMatrix(spec={self.spec!r}, modality={self.modality!r}, X={len(self)} tracks × {self.X.shape[1]} "
                f"{self.X.dtype}, obs columns: {', '.join(map(str, self.obs.columns))})")

    def take(self, rows: np.ndarray) -> "EmbeddingMatrix":
        return EmbeddingMatrix(self.spec, self.modality, self.X[rows], self._obs_rows(rows), self.feature_names,
                               self.fingerprint)

    @property
    def column_names(self) -> list[str]:
        """The names of the D columns of ``X``: :attr:`feature_names` when the encoder named its
        features, else ``dim_0`` … ``dim_{D-1}``."""
        if self.feature_names is not None:
            return list(self.feature_names)
        return [f"dim_{i}" for i in range(self.X.shape[1])]

    def to_frame(self, *, metadata: bool = True) -> pd.DataFrame:
        """A DataFrame with one row per track, indexed by track ``id``, in row order: the D feature
        columns (:attr:`column_names`, float32, the numbers of ``X`` unchanged), then with ``metadata``
        every other column of ``obs`` (``audio_filename``, ``midi_filename``, ``split``, ``group`` and the
        dataset's labels, as text). A metadata column named like a feature column is a
        :class:`StoreError`: pass ``metadata=False`` and join ``obs`` yourself."""
        index = pd.Index(self.ids, name="id")
        features = pd.DataFrame(self.X.copy(), columns=self.column_names, index=index)
        if not metadata:
            return features
        extra = self.obs.drop(columns="id").set_axis(index, axis=0)
        clashes = sorted(set(extra.columns) & set(features.columns))
        if clashes:
            raise StoreError(f"{self.spec}: the track table's column {clashes[0]!r} is also the name of a feature column "
                             "— call to_frame(metadata=False) for the features and join matrix.obs yourself "
                             "(e.g. with a suffix)")
        return pd.concat([features, extra], axis=1)

    def to_anndata(self) -> "anndata.AnnData":
        """The matrix as an :class:`anndata.AnnData` (the optional extra ``anndata``): ``X`` float32 [N, D]
        (a copy, same numbers and row order), ``obs`` the track metadata indexed by ``id`` (every column but
        ``id``, as text), ``var`` indexed by :attr:`column_names`, and ``uns`` the encoder's ``spec``,
        ``modality`` and ``fingerprint`` (JSON text, so that ``write_h5ad`` stores it whatever it holds).

        Text columns are plain Python strings (object dtype), which ``write_h5ad`` writes without opting in to
        pandas' string arrays. Without anndata installed, a :class:`CounterpointError` names the extra.
        """
        try:
            import anndata
        except ImportError:
            raise CounterpointError("EmbeddingMatrix.to_anndata() needs the optional package anndata — install the "
                                    "extra with `pip install 'counterpoint[anndata]'` (`make setup` installs it), or "
                                    "use to_frame() for a pandas DataFrame") from None
        index = pd.Index(self.ids, dtype=object, name="id")
        obs = self.obs.drop(columns="id").astype(object).set_axis(index, axis=0)
        var = pd.DataFrame(index=pd.Index(self.column_names, dtype=object, name="feature"))
        uns: dict[str, str] = {"spec": self.spec, "modality": self.modality}
        if self.fingerprint is not None:
            uns["fingerprint"] = json.dumps(self.fingerprint, sort_keys=True, default=str)
        return anndata.AnnData(X=np.array(self.X, dtype=np.float32), obs=obs, var=var, uns=uns)


@dataclass(repr=False)
class FrameSequences(TrackRows):
    """Frame embeddings of one encoder: per track a float32 ``[T_i, D]`` array and ``[T_i]``
    timestamps in seconds, with the track metadata ``obs`` in the same order."""

    spec: str
    modality: str
    frames: list[np.ndarray]
    timestamps: list[np.ndarray]
    obs: pd.DataFrame

    def __repr__(self) -> str:
        dim = self.frames[0].shape[1] if self.frames else "?"
        return (f"FrameSequences(spec={self.spec!r}, modality={self.modality!r}, {len(self)} tracks, "
                f"{sum(len(f) for f in self.frames)} frames × {dim}, obs columns: {', '.join(map(str, self.obs.columns))})")

    def take(self, rows: np.ndarray) -> "FrameSequences":
        index = np.flatnonzero(rows) if np.asarray(rows).dtype == bool else np.asarray(rows, dtype=int)
        return FrameSequences(self.spec, self.modality, [self.frames[i] for i in index],
                              [self.timestamps[i] for i in index], self._obs_rows(index))
