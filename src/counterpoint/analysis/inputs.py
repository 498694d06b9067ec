"""Checks of what an analysis is asked to use, made once up front: a store that holds
embeddings, and the label and group columns named on the command line."""

from __future__ import annotations

from typing import TYPE_CHECKING

from counterpoint.errors import StoreError
from counterpoint.matrix import require_column

if TYPE_CHECKING:
    from counterpoint.store import Store


def require_embeddings(store: "Store") -> None:
    """Raise a :class:`StoreError` when no encoder of ``store`` holds a track."""
    if not store.encoders_with_tracks():
        empty = [record.spec for record in store.encoders]
        held = f" (its encoders {', '.join(empty)} hold no tracks: `counterpoint store info {store.path} --failures` " \
               "says why)" if empty else ""
        raise StoreError(f"{store.path}: the store holds no embeddings{held} — run "
                         f"`counterpoint embed ROOT --out {store.path}` first")


def require_columns(store: "Store", label: str, group: str | None = None) -> None:
    """:func:`~counterpoint.matrix.require_column` on the store's track table: the label, and the group if named."""
    columns = list(store.tracks().columns)
    require_column(columns, label, "label", store=store.path)
    if group is not None:
        require_column(columns, group, "group", store=store.path)
