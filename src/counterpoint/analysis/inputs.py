"""Checks of what an analysis is asked to use, made once up front: whole-number options in
range, a store that holds embeddings, and the label and group columns named on the command line."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from counterpoint.errors import CounterpointError, StoreError

if TYPE_CHECKING:
    from counterpoint.store import Store

#: Columns of the track table that are file paths, never a label or a group.
PATH_COLUMNS = ("audio_filename", "midi_filename")


def require_whole(name: str, value: object, lowest: int) -> None:
    """Raise a :class:`CounterpointError` unless ``value`` is a whole number ≥ ``lowest``.

    ``name`` is the option as a user types it (``n_boot`` is shown as ``n-boot``).
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lowest:
        raise CounterpointError(f"{name.replace('_', '-')} = {value!r}: give a whole number ≥ {lowest}")


def require_embeddings(store: "Store") -> None:
    """Raise a :class:`StoreError` when no encoder of ``store`` holds a track."""
    if not any(record.n_tracks for record in store.encoders):
        empty = [record.spec for record in store.encoders]
        held = f" (its encoders {', '.join(empty)} hold no tracks: `counterpoint store info {store.path} --failures` " \
               "says why)" if empty else ""
        raise StoreError(f"{store.path}: the store holds no embeddings{held} — run "
                         f"`counterpoint embed ROOT --out {store.path}` first")


def require_column(columns: Sequence[str], name: str, option: str, store: str | Path) -> None:
    """Raise a :class:`StoreError` naming the columns there are when ``name`` is not one of ``columns``.

    ``option`` is the command-line option that chose the column (``label``, ``group``).
    """
    if name not in columns:
        shown = [c for c in columns if c not in PATH_COLUMNS]
        raise StoreError(f"{store}: no {option} column {name!r} in the track table (it has: {', '.join(shown)}) "
                         f"— pass one of those as --{option}")


def require_columns(store: "Store", label: str, group: str | None = None) -> None:
    """Both checks of :func:`require_column` on the store's track table: the label, and the group if named."""
    columns = list(store.tracks().columns)
    require_column(columns, label, "label", store.path)
    if group is not None:
        require_column(columns, group, "group", store.path)
