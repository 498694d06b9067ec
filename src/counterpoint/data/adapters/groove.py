"""Groove MIDI Dataset (Magenta): drummers playing to a click, MIDI and audio of each performance."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from counterpoint.data.adapters.base import SourceRow, SourceRows, cell, existing, layout_error, split_of

KIND = "groove"
LAYOUT = ("SOURCE/info.csv with the columns drummer, session, id, style, bpm, beat_type, time_signature, "
          "midi_filename, audio_filename, duration, split; the files at the paths it names "
          "(SOURCE/drummer1/session1/1_funk_80_beat_4-4.mid and .wav)")
#: The columns that make the file the Groove MIDI Dataset's own info.csv.
COLUMNS = ("drummer", "style", "midi_filename", "audio_filename", "split")


def looks_like(source: Path) -> bool:
    info = source / "info.csv"
    return info.is_file() and set(COLUMNS) <= set(pd.read_csv(info, nrows=0).columns)


def read(source: Path) -> SourceRows:
    """One row per performance; group = drummer; ``style`` kept whole (``funk/groove1``, cut it with --depth 1)."""
    info = source / "info.csv"
    if not info.is_file():
        raise layout_error(KIND, source, LAYOUT, found="there is no info.csv")
    table = pd.read_csv(info, dtype=str, keep_default_na=False)
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise layout_error(KIND, source, LAYOUT, found=f"{info} lacks the column(s) {', '.join(missing)}")
    problems = []
    rows = []
    labels = [c for c in table.columns if c not in ("id", "midi_filename", "audio_filename", "split")]
    for record in table.to_dict("records"):
        row_id = cell(record.get("id")) or Path(record["midi_filename"]).stem
        audio = existing(source / record["audio_filename"], row_id, problems) if cell(record["audio_filename"]) else None
        midi = existing(source / record["midi_filename"], row_id, problems) if cell(record["midi_filename"]) else None
        if audio is None and midi is None:
            continue
        rows.append(SourceRow(row_id, audio, midi, {c: cell(record[c]) for c in labels},
                              split_of(record["split"]), cell(record["drummer"]) or None))
    return SourceRows(rows, problems)
