"""Any dataset that has a mirdata loader: its index names each track's files, its metadata the labels.

mirdata 1.0 ships no index inside its wheel: each loader downloads its index on first use. When
the index is not on this machine, the error says how to fetch it (or give ``index=FILE``).
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from counterpoint.data.adapters.base import SourceRow, SourceRows, cell, split_of
from counterpoint.data.manifest import AUDIO_EXTENSIONS, MIDI_EXTENSIONS
from counterpoint.errors import DatasetError

PREFIX = "mirdata:"
LAYOUT = "the folder mirdata calls data_home for that dataset (the files at the paths its index lists)"
#: Index keys preferred for the audio and the MIDI of a track, before any other key with such a file.
AUDIO_KEYS = ("audio", "audio_mix", "mix", "audio_mono", "audio_mic", "audio_hex")
MIDI_KEYS = ("midi", "all_src", "midi_file")
_SCALARS = (str, int, float)


def _mirdata():
    try:
        import mirdata
    except ImportError as exc:
        raise DatasetError("mirdata is not installed — `pip install --no-deps mirdata smart_open Deprecated` "
                           "(its own dependency list pulls every cloud SDK)") from exc
    return mirdata


def _dataset(name: str, source: Path, index: Path | None, version: str):
    mirdata = _mirdata()
    if name not in mirdata.list_datasets():
        raise DatasetError(f"mirdata has no loader {name!r} — choose one of {', '.join(mirdata.list_datasets())}")
    module = importlib.import_module(f"mirdata.datasets.{name}")
    try:
        dataset = module.Dataset(data_home=str(source), version=version)
    except ValueError as exc:
        raise DatasetError(f"mirdata:{name}: {exc}") from exc
    if index is not None:
        if not index.is_file():
            raise DatasetError(f"{index}: no such index file — give the path of the mirdata index JSON of {name}")
        dataset.index_path = str(index)
    elif not Path(dataset.index_path).is_file():
        raise DatasetError(
            f"mirdata:{name}: its index {Path(dataset.index_path).name} is not on this machine (mirdata downloads "
            f"indexes rather than shipping them) — fetch it with `python -c \"import mirdata; "
            f"mirdata.initialize('{name}').download(partial_download=['index'])\"` or pass --index FILE.json")
    return dataset


def _pick(files: dict, preferred: tuple[str, ...], extensions: tuple[str, ...]) -> str | None:
    """The relative path of the first file of ``files`` (key → [path, checksum]) with one of ``extensions``."""
    keys = [k for k in preferred if k in files] + [k for k in files if k not in preferred]
    for key in keys:
        entry = files[key]
        path = entry[0] if isinstance(entry, (list, tuple)) and entry else None
        if isinstance(path, str) and Path(path).suffix.lower() in extensions:
            return path
    return None


def _labels(track) -> dict[str, str]:
    """The track's scalar metadata and scalar attributes (e.g. GTZAN's ``genre``), paths left out."""
    found = {}
    try:
        metadata = track._track_metadata
    except (AttributeError, OSError, ValueError):
        metadata = {}
    for key, value in [*(metadata.items() if isinstance(metadata, dict) else ()), *vars(track).items()]:
        if key.startswith("_") or key == "track_id" or key.endswith("_path") or not isinstance(value, _SCALARS):
            continue
        found[key] = cell(value)
    return found


def read(name: str, source: Path, *, index: Path | None = None, version: str = "default") -> SourceRows:
    """One row per track of the mirdata index whose audio or MIDI file is in ``source``."""
    dataset = _dataset(name, source, index, version)
    try:
        tracks = json.loads(Path(dataset.index_path).read_text(encoding="utf-8"))["tracks"]
    except (KeyError, ValueError) as exc:
        raise DatasetError(f"{dataset.index_path}: not a mirdata track index ({exc}) — give the index JSON of {name}") from exc
    rows = []
    for track_id, files in tracks.items():
        audio, midi = _pick(files, AUDIO_KEYS, AUDIO_EXTENSIONS), _pick(files, MIDI_KEYS, MIDI_EXTENSIONS)
        audio_path = source / audio if audio and (source / audio).is_file() else None
        midi_path = source / midi if midi and (source / midi).is_file() else None
        if audio_path is None and midi_path is None:
            continue
        labels = _labels(dataset.track(track_id))
        rows.append(SourceRow(track_id, audio_path, midi_path, {k: v for k, v in labels.items() if k != "split"},
                              split_of(labels.get("split", ""))))
    return SourceRows(rows)
