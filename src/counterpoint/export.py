"""Export one encoder's pooled embeddings with their labels to NumPy (.npz) or Parquet."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from counterpoint.errors import StoreError
from counterpoint.labels import numeric_labels
from counterpoint.store import TRACK_ID_COLUMNS, EmbeddingMatrix, Store

def numeric_metadata(obs: pd.DataFrame) -> pd.DataFrame:
    """``obs`` with each label column that :func:`~counterpoint.labels.numeric_labels` finds
    numeric converted to numbers.

    The store keeps every value as text; an export gives ``year`` or ``tempo`` as int64 (float64
    with NaN where a value is empty). Ids, file names, split and group stay text, and so does a
    column with any non-number or a code with leading zeros (``007``): the same rule that wrote
    the column's values in one spelling when the manifest was read, so the classes are the same.
    """
    converted = obs.copy()
    for column in obs.columns:
        if column in TRACK_ID_COLUMNS:
            continue
        numbers = numeric_labels(obs[column])
        if numbers is not None:
            converted[column] = numbers.to_numpy()
    return converted


def _labels_record_array(obs: pd.DataFrame) -> np.ndarray:
    """Every metadata column as a field of a structured array (loadable without pickle)."""
    columns = [c for c in obs.columns if c != "id"]
    dtype = []
    for c in columns:
        if pd.api.types.is_numeric_dtype(obs[c]):
            dtype.append((str(c), obs[c].dtype.str))
        else:
            dtype.append((str(c), f"<U{max(1, int(obs[c].astype(str).str.len().max()))}"))
    rows = [tuple(v if pd.api.types.is_numeric_dtype(obs[c]) else str(v) for c, v in zip(columns, row))
            for row in obs[columns].itertuples(index=False)]
    return np.array(rows, dtype=dtype)


def refuse_overwriting(out: Path, kind: str, is_own_kind: Callable[[Path], bool]) -> None:
    """Refuse an output path that is a folder or an existing file of another kind than ``kind``."""
    if out.is_dir():
        raise StoreError(f"{out}: is a folder — give --out a file name (a {kind} file)")
    if out.exists() and not is_own_kind(out):
        raise StoreError(f"{out}: exists and is not a {kind} file — an export replaces only an earlier export of its "
                         f"own kind; give --out another file name or move {out.name} aside")


def _is_parquet(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) == b"PAR1"


def refuse_empty(store: Store, matrix: EmbeddingMatrix) -> None:
    """An encoder with no tracks has nothing to export: say why instead of writing an empty file."""
    if len(matrix) == 0:
        raise StoreError(f"{store.path}: encoder {matrix.spec} holds no tracks — nothing to export; "
                         f"`counterpoint store info {store.path} --failures` shows why its tracks failed, "
                         "and `counterpoint embed` adds tracks to it")


def export_embeddings(store_path: str | Path, encoder: str, out: str | Path) -> Path:
    """Write ``ids``, ``X``, ``labels`` (and ``feature_names``) to ``out`` (.npz or .parquet).

    Label columns whose values are all numbers are written as numbers (see :func:`numeric_metadata`).
    """
    out = Path(out)
    if out.suffix not in (".npz", ".parquet"):
        raise StoreError(f"{out}: unknown export format {out.suffix!r} — end the file name in .npz or .parquet")
    refuse_overwriting(out, out.suffix, zipfile.is_zipfile if out.suffix == ".npz" else _is_parquet)
    store = Store(store_path)
    matrix = store.pooled(encoder)
    refuse_empty(store, matrix)
    obs = numeric_metadata(matrix.obs)
    names = matrix.feature_names or [f"dim_{i:04d}" for i in range(matrix.X.shape[1])]
    if out.suffix == ".npz":
        arrays = {"ids": obs["id"].to_numpy(dtype=str), "X": matrix.X, "labels": _labels_record_array(obs),
                  "encoder": np.array(matrix.spec)}
        if matrix.feature_names:
            arrays["feature_names"] = np.array(matrix.feature_names, dtype=str)
        np.savez(out, **arrays)
    else:
        features = pd.DataFrame(matrix.X, columns=names)
        frame = pd.concat([obs.reset_index(drop=True), features], axis=1)
        frame.attrs["encoder"] = matrix.spec
        frame.to_parquet(out, index=False)
    return out
