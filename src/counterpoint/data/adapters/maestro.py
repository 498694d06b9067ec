"""MAESTRO (Magenta): piano performances with aligned MIDI, described by maestro-v*.csv or .json."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from counterpoint.data.adapters.base import SourceRow, SourceRows, cell, existing, layout_error, split_of
from counterpoint.errors import DatasetError

KIND = "maestro"
LAYOUT = ("SOURCE/maestro-v<version>.csv or .json (columns canonical_composer, canonical_title, split, year, "
          "midi_filename, audio_filename, duration) and the year folders it names "
          "(SOURCE/2018/MIDI-Unprocessed_….midi and .wav)")
COLUMNS = ("canonical_composer", "canonical_title", "split", "year", "midi_filename", "audio_filename")


def metadata_files(source: Path) -> list[Path]:
    """The maestro-v*.csv/json files of ``source``, newest version first (csv before json within a version)."""
    found = [p for p in source.glob("maestro-v*") if p.suffix in (".csv", ".json")]

    def version(path: Path) -> tuple:
        numbers = re.findall(r"\d+", path.stem)
        return tuple(int(n) for n in numbers), path.suffix == ".csv"
    return sorted(found, key=version, reverse=True)


def looks_like(source: Path) -> bool:
    return bool(metadata_files(source))


def _table(path: Path) -> pd.DataFrame:
    """A MAESTRO metadata file as a table: csv, or json as a list of records (v2) or columns keyed by row (v3)."""
    try:
        if path.suffix == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False)
        return pd.DataFrame(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot be read as MAESTRO metadata ({exc}) — use the file as distributed") from exc


def read(source: Path) -> SourceRows:
    """One row per performance; labels composer, title, year, duration; group = canonical title; split honoured."""
    files = metadata_files(source)
    if not files:
        raise layout_error(KIND, source, LAYOUT, found="there is no maestro-v*.csv or maestro-v*.json")
    table = _table(files[0])
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise layout_error(KIND, source, LAYOUT, found=f"{files[0]} lacks the column(s) {', '.join(missing)}")
    problems = []
    rows = []
    for record in table.to_dict("records"):
        row_id = Path(cell(record["midi_filename"]) or cell(record["audio_filename"])).stem
        audio = existing(source / record["audio_filename"], row_id, problems) if cell(record["audio_filename"]) else None
        midi = existing(source / record["midi_filename"], row_id, problems) if cell(record["midi_filename"]) else None
        if audio is None and midi is None:
            continue
        labels = {"composer": cell(record["canonical_composer"]), "title": cell(record["canonical_title"]),
                  "year": cell(record["year"]), "duration": cell(record.get("duration"))}
        rows.append(SourceRow(row_id, audio, midi, labels, split_of(record["split"]), labels["title"] or None))
    return SourceRows(rows, problems)
