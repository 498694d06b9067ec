"""The manifest: which tracks a dataset holds, where their files are, and their labels.

Two layouts are understood:

* an ``info.csv`` at the dataset root with the columns ``id``, ``audio_filename`` and
  ``midi_filename`` (paths relative to the root; either may be empty) and any metadata
  columns, of which ``split`` (train/validation/test) and ``group`` have a meaning;
* class folders, ``ROOT/<class>/<stem>.<audio ext>`` paired with ``<stem>.mid``; the folder
  name becomes the label ``class``.

Loading is tolerant: problems that concern single rows (a missing file, a path that leaves
the root, a duplicate id) are recorded as :class:`Problem` and the offending row is left
out, so one bad row never hides the rest. Problems that make the whole manifest unusable
(no ``info.csv`` and no class folders, a missing required column) raise
:class:`~counterpoint.errors.DatasetError`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pandas as pd

from counterpoint.errors import DatasetError

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".m4a")
MIDI_EXTENSIONS = (".mid", ".midi")
REQUIRED_COLUMNS = ("id", "audio_filename", "midi_filename")
SPLIT_NAMES = ("train", "validation", "test")
MANIFEST_NAME = "info.csv"
#: The columns every track table starts with.
TABLE_COLUMNS = ("id", "audio_filename", "midi_filename", "split", "group")


@dataclass(frozen=True)
class Problem:
    """Something wrong with one track (or the whole dataset when ``track_id`` is None)."""

    track_id: str | None
    path: str | None
    problem: str
    fix: str

    def __str__(self) -> str:
        where = f"track {self.track_id!r}" if self.track_id is not None else "dataset"
        if self.path:
            where += f" ({self.path})"
        return f"{where}: {self.problem} — {self.fix}"


@dataclass(frozen=True)
class Track:
    """One piece: its audio and/or MIDI file and its labels."""

    id: str
    audio_path: Path | None
    midi_path: Path | None
    labels: dict[str, str] = field(default_factory=dict)
    split: str | None = None
    group: str | None = None

    @property
    def is_paired(self) -> bool:
        return self.audio_path is not None and self.midi_path is not None

    def path_for(self, modality: str) -> Path | None:
        """The file an encoder of ``modality`` ("audio" or "symbolic") reads."""
        return self.audio_path if modality == "audio" else self.midi_path


@dataclass
class Manifest:
    """An ordered, validated collection of tracks rooted at the dataset folder."""

    root: Path
    tracks: list[Track]
    problems: list[Problem] = field(default_factory=list)
    layout: str = "info.csv"

    def __iter__(self) -> Iterator[Track]:
        return iter(self.tracks)

    def __len__(self) -> int:
        return len(self.tracks)

    def by_id(self) -> dict[str, Track]:
        return {t.id: t for t in self.tracks}

    @property
    def label_columns(self) -> list[str]:
        columns: dict[str, None] = {}
        for track in self.tracks:
            columns.update(dict.fromkeys(track.labels))
        return list(columns)

    def for_modality(self, modality: str) -> list[Track]:
        return [t for t in self.tracks if t.path_for(modality) is not None]

    def to_frame(self) -> pd.DataFrame:
        """One row per track: id, relative paths, split, group and every other label column.

        A metadata column called ``group`` appears once, holding the grouping in use.
        """
        rows = []
        for t in self.tracks:
            row = {
                "id": t.id,
                "audio_filename": _relative(t.audio_path, self.root),
                "midi_filename": _relative(t.midi_path, self.root),
                "split": t.split or "",
                "group": t.group or "",
            }
            row.update({k: v for k, v in t.labels.items() if k not in TABLE_COLUMNS})
            rows.append(row)
        columns = [*TABLE_COLUMNS, *(c for c in self.label_columns if c not in TABLE_COLUMNS)]
        return pd.DataFrame(rows, columns=columns).fillna("")


def _relative(path: Path | None, root: Path) -> str:
    return "" if path is None else path.relative_to(root).as_posix()


def label_at_depth(value: str, depth: int | None, separator: str = "/") -> str:
    """Cut a hierarchical label such as ``rock/indie`` to its first ``depth`` levels.

    >>> label_at_depth("rock/indie/lofi", 1)
    'rock'
    """
    if depth is None or depth <= 0:
        return value
    return separator.join(value.split(separator)[:depth])


def load_manifest(root: str | Path, group_column: str | None = None) -> Manifest:
    """Read the dataset at ``root``: its ``info.csv`` if present, else its class folders.

    ``group_column`` names the metadata column whose value keeps tracks together when
    splitting (e.g. ``work`` or ``composer``); with ``info.csv`` a column called ``group``
    is used when none is named.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"{root}: no such dataset folder — give the folder that holds info.csv or the class folders")
    root = root.resolve()
    if (root / MANIFEST_NAME).is_file():
        return _from_info_csv(root, group_column)
    return _from_class_folders(root, group_column)


def _resolve_inside(root: Path, relative: str, track_id: str, problems: list[Problem]) -> Path | None:
    """The absolute path of ``relative`` if it exists inside ``root``; else record a problem."""
    relative = relative.strip()
    if not relative:
        return None
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        problems.append(Problem(track_id, relative, "path resolves outside the dataset folder (refused)",
                                f"move the file under {root} and give its path relative to it"))
        return None
    if not path.is_file():
        problems.append(Problem(track_id, relative, "file not found",
                                f"check the path in {MANIFEST_NAME} (relative to {root}) or remove the row"))
        return None
    return path


def _from_info_csv(root: Path, group_column: str | None) -> Manifest:
    csv_path = root / MANIFEST_NAME
    try:
        frame = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DatasetError(f"{csv_path}: cannot be read as CSV ({exc}) — save it as UTF-8 CSV with a header row") from exc
    frame.columns = [c.strip() for c in frame.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise DatasetError(
            f"{csv_path}: missing required column(s) {', '.join(missing)} — the header must contain "
            f"{', '.join(REQUIRED_COLUMNS)} (found: {', '.join(frame.columns)})")
    group_column = group_column or ("group" if "group" in frame.columns else None)
    if group_column and group_column not in frame.columns:
        raise DatasetError(f"{csv_path}: no column {group_column!r} to group by — choose one of {', '.join(frame.columns)}")

    problems: list[Problem] = []
    counts = Counter(frame["id"].str.strip())
    tracks: list[Track] = []
    seen: set[str] = set()
    label_columns = [c for c in frame.columns if c not in ("id", "audio_filename", "midi_filename", "split")]
    for line, row in enumerate(frame.itertuples(index=False), start=2):
        record = dict(zip(frame.columns, row))
        track_id = record["id"].strip()
        if not track_id:
            problems.append(Problem(None, f"{MANIFEST_NAME} line {line}", "empty id", "give every row a unique id"))
            continue
        if counts[track_id] > 1:
            if track_id not in seen:
                problems.append(Problem(track_id, f"{MANIFEST_NAME} line {line}",
                                        f"duplicate id ({counts[track_id]} rows); all its rows are left out",
                                        "make the ids unique"))
            seen.add(track_id)
            continue
        audio = _resolve_inside(root, record["audio_filename"], track_id, problems)
        midi = _resolve_inside(root, record["midi_filename"], track_id, problems)
        if audio is None and midi is None:
            if not record["audio_filename"].strip() and not record["midi_filename"].strip():
                problems.append(Problem(track_id, f"{MANIFEST_NAME} line {line}", "row names neither an audio nor a MIDI file",
                                        "fill audio_filename and/or midi_filename"))
            continue
        split = record.get("split", "").strip().lower() or None
        if split is not None and split not in SPLIT_NAMES:
            problems.append(Problem(track_id, f"{MANIFEST_NAME} line {line}", f"unknown split {split!r}",
                                    f"use one of {', '.join(SPLIT_NAMES)} or leave it empty"))
            split = None
        labels = {c: record[c].strip() for c in label_columns}
        group = labels.get(group_column) if group_column else None
        tracks.append(Track(track_id, audio, midi, labels, split, group or None))
    return Manifest(root, tracks, problems, layout=MANIFEST_NAME)


def _from_class_folders(root: Path, group_column: str | None) -> Manifest:
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise DatasetError(f"{root}: neither an {MANIFEST_NAME} nor class folders — put files in ROOT/<class>/ or write {MANIFEST_NAME}")
    if group_column and group_column != "class":
        raise DatasetError(f"{root}: class folders have only the label 'class' to group by — write an {MANIFEST_NAME} for other groups")
    problems: list[Problem] = []
    tracks: list[Track] = []
    for class_dir in class_dirs:
        stems: dict[str, dict[str, Path]] = {}
        for path in sorted(class_dir.iterdir()):
            suffix = path.suffix.lower()
            kind = "audio" if suffix in AUDIO_EXTENSIONS else "midi" if suffix in MIDI_EXTENSIONS else None
            if kind is None or not path.is_file():
                continue
            resolved = path.resolve()
            track_id = f"{class_dir.name}/{path.stem}"
            if not resolved.is_relative_to(root):
                problems.append(Problem(track_id, str(path.relative_to(root)), "link resolves outside the dataset folder (refused)",
                                        f"copy the file under {root}"))
                continue
            slot = stems.setdefault(path.stem, {})
            if kind in slot:
                problems.append(Problem(track_id, str(path.relative_to(root)),
                                        f"two {kind} files with the stem {path.stem!r}; the first ({slot[kind].name}) is used",
                                        "keep one file per stem and modality"))
                continue
            slot[kind] = resolved
        for stem, files in stems.items():
            labels = {"class": class_dir.name}
            tracks.append(Track(f"{class_dir.name}/{stem}", files.get("audio"), files.get("midi"), labels,
                                group=class_dir.name if group_column == "class" else None))
    if not tracks:
        raise DatasetError(f"{root}: the class folders hold no audio ({', '.join(AUDIO_EXTENSIONS)}) or MIDI files")
    return Manifest(root, tracks, problems, layout="class folders")
