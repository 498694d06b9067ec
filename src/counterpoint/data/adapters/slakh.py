"""Slakh2100 and BabySlakh: multitrack renderings of Lakh MIDI files, one folder per track."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from counterpoint.data.adapters.base import SourceRow, SourceRows, cell, layout_error, split_of
from counterpoint.data.manifest import Problem
from counterpoint.errors import DatasetError

KIND = "slakh"
LAYOUT = ("SOURCE/TrackNNNNN/ (BabySlakh) or SOURCE/{train,validation,test,omitted}/TrackNNNNN/ (Slakh2100, "
          "redux or not), each with metadata.yaml (stems: inst_class per stem), mix.wav or mix.flac and all_src.mid")
MIX_NAMES = ("mix.flac", "mix.wav")
MIDI_NAME = "all_src.mid"


def track_folders(source: Path) -> list[Path]:
    """Every ``Track*`` folder holding a metadata.yaml, at the top or one split folder down."""
    return sorted({p.parent for pattern in ("Track*/metadata.yaml", "*/Track*/metadata.yaml") for p in source.glob(pattern)})


def looks_like(source: Path) -> bool:
    return bool(track_folders(source))


def _metadata(path: Path) -> dict:
    try:
        metadata = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot be read as YAML ({exc}) — use the file as distributed") from exc
    return metadata if isinstance(metadata, dict) else {}


def read(source: Path) -> SourceRows:
    """One row per track folder: the mix and all_src.mid; labels ``instruments`` (its classes, e.g.
    ``Bass+Drums+Piano``), ``has_<class>`` yes/no per class seen in the dataset and ``n_stems``;
    split = the split folder (none for BabySlakh and ``omitted``); group = the Million Song
    Dataset id of the Lakh MIDI file it was rendered from."""
    folders = track_folders(source)
    if not folders:
        raise layout_error(KIND, source, LAYOUT, found="no TrackNNNNN/metadata.yaml found")
    problems: list[Problem] = []
    found = []
    for folder in folders:
        metadata = _metadata(folder / "metadata.yaml")
        stems = metadata.get("stems") or {}
        classes = sorted({cell(stem.get("inst_class")) for stem in stems.values() if isinstance(stem, dict)} - {""})
        audio = next((folder / name for name in MIX_NAMES if (folder / name).is_file()), None)
        midi = folder / MIDI_NAME if (folder / MIDI_NAME).is_file() else None
        if audio is None or midi is None:
            missing = " and ".join(n for n, f in ((" or ".join(MIX_NAMES), audio), (MIDI_NAME, midi)) if f is None)
            problems.append(Problem(folder.name, str(folder), f"no {missing}; that modality is left out",
                                    "download the full track folder (or complete it with dataset transcribe/render)"))
        if audio is None and midi is None:
            continue
        lmd = Path(cell(metadata.get("lmd_midi_dir")))
        split = split_of(folder.parent.name) if folder.parent != source else None
        found.append((folder, audio, midi, classes, len(stems), split, lmd.parent.name if lmd.parent.name else None))
    every_class = sorted({c for _, _, _, classes, *_ in found for c in classes})
    rows = []
    for folder, audio, midi, classes, n_stems, split, msd_id in found:
        labels = {"instruments": "+".join(classes), "n_stems": str(n_stems)}
        labels.update({f"has_{re.sub(r'[^a-z0-9]+', '_', c.lower()).strip('_')}": "yes" if c in classes else "no" for c in every_class})
        track_id = folder.name if split is None and folder.parent == source else f"{folder.parent.name}/{folder.name}"
        rows.append(SourceRow(track_id, audio, midi, labels, split, msd_id))
    return SourceRows(rows, problems)
