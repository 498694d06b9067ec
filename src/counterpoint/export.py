"""Export one encoder's pooled embeddings with their labels to NumPy (.npz) or Parquet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from counterpoint.errors import StoreError
from counterpoint.store import Store


def _labels_record_array(obs: pd.DataFrame) -> np.ndarray:
    """Every metadata column as a field of a structured array (loadable without pickle)."""
    columns = [c for c in obs.columns if c != "id"]
    width = {c: max(1, int(obs[c].astype(str).str.len().max() or 1)) for c in columns}
    dtype = [(str(c), f"<U{width[c]}") for c in columns]
    return np.array([tuple(str(v) for v in row) for row in obs[columns].itertuples(index=False)], dtype=dtype)


def export_embeddings(store_path: str | Path, encoder: str, out: str | Path) -> Path:
    """Write ``ids``, ``X``, ``labels`` (and ``feature_names``) to ``out`` (.npz or .parquet)."""
    matrix = Store(store_path).pooled(encoder)
    out = Path(out)
    names = matrix.feature_names or [f"dim_{i:04d}" for i in range(matrix.X.shape[1])]
    if out.suffix == ".npz":
        arrays = {"ids": matrix.obs["id"].to_numpy(dtype=str), "X": matrix.X, "labels": _labels_record_array(matrix.obs),
                  "encoder": np.array(matrix.spec)}
        if matrix.feature_names:
            arrays["feature_names"] = np.array(matrix.feature_names, dtype=str)
        np.savez(out, **arrays)
    elif out.suffix == ".parquet":
        features = pd.DataFrame(matrix.X, columns=names)
        frame = pd.concat([matrix.obs.reset_index(drop=True), features], axis=1)
        frame.attrs["encoder"] = matrix.spec
        frame.to_parquet(out, index=False)
    else:
        raise StoreError(f"{out}: unknown export format {out.suffix!r} — end the file name in .npz or .parquet")
    return out
