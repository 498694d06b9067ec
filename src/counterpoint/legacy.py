"""The HDF5 layout the earlier student tools wrote, in and out.

That layout keeps one group per recording under ``audio_embeddings/`` and/or
``symbolic_embeddings/``; each holds ``sequence`` ([T, D] frame vectors), ``average`` ([D])
and one scalar dataset (or attribute) per metadata field::

    audio_embeddings/<rec>/{sequence, average, <metadata fields>}
    symbolic_embeddings/<rec>/{sequence, average, <metadata fields>}

It records no frame times, no encoder parameters and no provenance, so an import gets frame
times from a given hop (or frame indices) and a fingerprint that says it was imported.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from counterpoint.encoders.base import Embedding
from counterpoint.errors import StoreError
from counterpoint.export import refuse_empty, refuse_overwriting
from counterpoint.store import TRACK_ID_COLUMNS, EncoderMeta, Store, StoreWriter

SECTIONS = {"audio": "audio_embeddings", "symbolic": "symbolic_embeddings"}


def _scalar(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        return _scalar(value.item()) if value.size == 1 else ",".join(map(_scalar, value.tolist()))
    if isinstance(value, np.generic):
        return str(value.item())
    return str(value)


def _is_legacy_file(path: Path) -> bool:
    """An HDF5 file in the legacy layout (and not a Counterpoint store)."""
    try:
        with h5py.File(path, "r") as handle:
            return "format" not in handle.attrs and any(section in handle for section in SECTIONS.values())
    except OSError:
        return False


def read_legacy(path: str | Path) -> dict[str, tuple[list[str], list[Embedding], pd.DataFrame]]:
    """Per modality with at least one recording: (recording ids, embeddings, metadata table)."""
    path = Path(path)
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise StoreError(f"{path}: cannot be opened as HDF5 ({exc}) — give the student tools' .h5 file") from exc
    found = {}
    with handle:
        if not any(section in handle for section in SECTIONS.values()):
            raise StoreError(f"{path}: neither audio_embeddings/ nor symbolic_embeddings/ — not the legacy layout")
        for modality, section in SECTIONS.items():
            if section not in handle:
                continue
            ids, embeddings, rows = [], [], []
            for rec, group in handle[section].items():
                if "sequence" not in group or "average" not in group:
                    raise StoreError(f"{path}: {section}/{rec} lacks 'sequence' or 'average' — the file is incomplete")
                sequence = np.asarray(group["sequence"][()], dtype=np.float32)
                average = np.asarray(group["average"][()], dtype=np.float32).ravel()
                sequence = sequence.reshape(-1, average.shape[0])
                fields = {k: _scalar(v) for k, v in group.attrs.items()}
                fields.update({k: _scalar(group[k][()]) for k in group if k not in ("sequence", "average")
                               and isinstance(group[k], h5py.Dataset) and group[k].size == 1})
                ids.append(str(rec))
                embeddings.append(Embedding(sequence, np.arange(len(sequence), dtype=np.float64), average, float(len(sequence))))
                rows.append({"id": str(rec), **fields})
            if ids:
                found[modality] = (ids, embeddings, pd.DataFrame(rows).fillna(""))
    if not found:
        raise StoreError(f"{path}: audio_embeddings/ and symbolic_embeddings/ hold no recordings — nothing to import")
    return found


def import_legacy(source: str | Path, out: str | Path, hop_seconds: float | None = None) -> Store:
    """Convert a legacy file into a store with encoders ``legacy-audio`` / ``legacy-symbolic``.

    ``hop_seconds`` turns frame indices into times; without it timestamps are frame indices.
    """
    found = read_legacy(source)
    table = pd.concat([frame for _, _, frame in found.values()]).drop_duplicates("id", keep="first")
    for column in TRACK_ID_COLUMNS:
        if column not in table.columns:
            table[column] = ""
    table = table[list(TRACK_ID_COLUMNS) + [c for c in table.columns if c not in TRACK_ID_COLUMNS]]
    with StoreWriter(out, dataset_root=Path(source).resolve().parent) as writer:
        writer.set_tracks(table)
        for modality, (ids, embeddings, _) in found.items():
            if hop_seconds:
                for e in embeddings:
                    e.timestamps = e.timestamps * hop_seconds
            dim = embeddings[0].pooled.shape[0]
            meta = EncoderMeta(f"legacy-{modality}", f"legacy-{modality}", modality, dim,
                               {"imported_from": str(Path(source).resolve()), "hop_seconds": hop_seconds})
            writer.begin_encoder(meta)
            writer.add_embeddings(meta.spec, ids, embeddings, [0.0] * len(ids))
    return Store(out)


def export_legacy(store_path: str | Path, out: str | Path, *, audio_encoder: str | None = None,
                  symbolic_encoder: str | None = None) -> Path:
    """Write the chosen encoders of a store in the legacy layout (for old notebooks)."""
    store = Store(store_path)
    out = Path(out)
    chosen = {"audio": audio_encoder, "symbolic": symbolic_encoder}
    if not any(chosen.values()):
        raise StoreError("name --audio-encoder and/or --symbolic-encoder to export")
    refuse_overwriting(out, "legacy-layout HDF5", _is_legacy_file)  # never the store itself, nor another store
    sections = {}
    for modality, spec in chosen.items():
        if spec is None:
            continue
        pooled = store.pooled(spec)
        if pooled.modality != modality:
            raise StoreError(f"{spec} is a {pooled.modality} encoder, not {modality}")
        refuse_empty(store, pooled)
        sections[modality] = (store.frames(spec), pooled)
    with h5py.File(out, "w") as handle:
        for modality, (frames, pooled) in sections.items():
            section = handle.create_group(SECTIONS[modality])
            for row, (sequence, average) in enumerate(zip(frames.frames, pooled.X)):
                meta = pooled.obs.iloc[row]
                group = section.create_group(str(meta["id"]).replace("/", "__"))
                group.create_dataset("sequence", data=sequence)
                group.create_dataset("average", data=average)
                for field, value in meta.items():
                    if field != "id" and value != "":
                        group.create_dataset(str(field), data=str(value))
    return out
