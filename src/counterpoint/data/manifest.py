"""The manifest: which tracks a dataset holds, where their files are, and their labels.

Two layouts are understood:

* an ``info.csv`` at the dataset root with the columns ``id``, ``audio_filename`` and
  ``midi_filename`` (paths relative to the root; either may be empty) and any metadata
  columns, of which ``split`` (train/validation/test, or a common alias such as ``val``) and
  ``group`` have a meaning;
* class folders, ``ROOT/<class>/<stem>.<audio ext>`` paired with ``<stem>.mid``; the folder
  name becomes the label ``class``. Nested folders give hierarchical labels:
  ``ROOT/rock/indie/x.wav`` has the class ``rock/indie`` (cut it with :func:`counterpoint.labels.label_at_depth`).

A manifest with another name is read with ``csv=FILE``; ``id_column`` names the column that
holds the ids when it is not ``id``, and ``id_from="stem"`` makes each id the stem of the row's
audio file (or MIDI file when it has no audio) when there is no id column at all.

Loading is tolerant: problems that concern single rows (a missing file, a path that leaves
the root, a duplicate id, a row with too many fields) are recorded as :class:`Problem` and
the offending row is left out, so one bad row never hides the rest; remarks that leave the
track in (an unrecognised split) are recorded as notes. Problems that make the whole
manifest unusable (no ``info.csv`` and no class folders, a missing required column) raise
:class:`~counterpoint.errors.DatasetError`.

Paths: a path that leaves the root *as written* (``..``, an absolute path elsewhere) is
refused. Symbolic links placed inside the root are followed (a subset of a big corpus taken
by links is normal) and listed in :attr:`Manifest.links`; ``strict_paths=True`` refuses
links that lead outside the root. Track paths are always the path inside the root.

Missing values: labels, groups and splits written as empty, ``NaN``, ``None``, ``N/A``,
``NA`` or ``null`` (any case) are missing, i.e. the empty string in the track table, which
is what every later stage treats as "no label".

Numeric labels: a label is text, but a column of ``info.csv`` whose every given value is a
number (:func:`~counterpoint.labels.numeric_labels`: no code with leading zeros such as ``007``) has each value
written in one spelling as it is read (:func:`canonical_labels`): an integral value as an
integer (``4``, ``4.0``, ``+4``, ``4e0`` → ``4``), any other as the shortest decimal that reads
back (``0.50`` → ``0.5``). So ``4`` and ``4.0`` are one class for probes and analysis, and
``export`` (which writes such columns as numbers) gives the same classes. A column holding a
code with leading zeros stays text as written (``04`` and ``4`` are two classes), and so do
class folder names.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, NamedTuple

import numpy as np
import pandas as pd

from counterpoint.errors import DatasetError
from counterpoint.labels import MISSING_VALUES, SPLIT_ALIASES, SPLIT_NAMES, canonical_split, numeric_labels

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".m4a", ".au")
MIDI_EXTENSIONS = (".mid", ".midi")
REQUIRED_COLUMNS = ("id", "audio_filename", "midi_filename")
MANIFEST_NAME = "info.csv"
#: Where an id can come from when the manifest has no id column (``id_from``).
ID_SOURCES = ("stem",)
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


class LinkedFile(NamedTuple):
    """A file reached through a symbolic link: its path inside the root and where it really is."""

    path: Path
    target: Path


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
    """An ordered, validated collection of tracks rooted at the dataset folder.

    ``problems`` are rows or files left out; ``notes`` are remarks about tracks that were
    kept; ``links`` lists every file reached through a symbolic link.
    """

    root: Path
    tracks: list[Track]
    problems: list[Problem] = field(default_factory=list)
    layout: str = "info.csv"
    notes: list[Problem] = field(default_factory=list)
    links: list[LinkedFile] = field(default_factory=list)

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




def given(value: str) -> str:
    """``value`` stripped, or ``""`` when it is one of :data:`MISSING_VALUES` (``NaN``, ``N/A``, …)."""
    value = value.strip()
    return "" if value.lower() in MISSING_VALUES else value


def canonical_labels(values: Sequence[str]) -> list[str]:
    """A label column with every number in one spelling when :func:`~counterpoint.labels.numeric_labels` finds it numeric
    (``4.0`` → ``4``, ``0.50`` → ``0.5``); any other column as given.

    >>> canonical_labels(["4", "4.0", "", "0.50"])
    ['4', '4', '', '0.5']
    """
    numbers = numeric_labels(values)
    if numbers is None:
        return list(values)
    return ["" if pd.isna(number) else _number_text(number) for number in numbers]


def _number_text(number: object) -> str:
    if isinstance(number, (int, np.integer)):
        return str(int(number))
    value = float(number)  # type: ignore[arg-type]
    return str(int(value)) if value.is_integer() else repr(value)


def load_manifest(root: str | Path, *, group_column: str | None = None, strict_paths: bool = False,
                  csv: str | Path | None = None, id_column: str | None = None, id_from: str | None = None) -> Manifest:
    """Read the dataset at ``root``: its ``info.csv`` (or the manifest ``csv``) if present, else its class folders.

    ``group_column`` names the metadata column whose value keeps tracks together when
    splitting (e.g. ``work`` or ``composer``); with ``info.csv`` a column called ``group``
    is used when none is named. Symbolic links inside ``root`` are followed; with
    ``strict_paths`` those that lead outside ``root`` are refused (recorded as problems).
    ``csv`` is a manifest file with another name (relative to ``root`` or absolute; its paths
    are still relative to ``root``); ``id_column`` and ``id_from`` (``"stem"``) say where ids
    come from when there is no ``id`` column.
    """
    given_root = Path(os.path.abspath(Path(root).expanduser()))
    if not given_root.is_dir():
        raise DatasetError(f"{root}: no such dataset folder — give the folder that holds info.csv or the class folders")
    if id_from is not None and id_from not in ID_SOURCES:
        raise DatasetError(f"id_from={id_from!r} is not understood — use one of {', '.join(ID_SOURCES)}")
    if id_from is not None and id_column is not None:
        raise DatasetError("give either an id column or id_from=stem, not both")
    paths = _Paths(given_root.resolve(), given_root, strict_paths)
    csv_path = _manifest_file(paths.root, csv)
    if csv_path is not None:
        paths.manifest_name = csv_path.name
        manifest = _from_info_csv(paths, csv_path, group_column, id_column, id_from)
    elif id_column is not None or id_from is not None:
        raise DatasetError(f"{given_root}: an id column or id_from=stem was given, but there is no {MANIFEST_NAME} — "
                           "name the manifest with --csv FILE")
    else:
        manifest = _from_class_folders(paths, group_column)
    manifest.links = paths.links
    return manifest


def _manifest_file(root: Path, csv: str | Path | None) -> Path | None:
    """The manifest to read: ``csv`` (which must exist) or ``ROOT/info.csv``; None for class folders."""
    if csv is None:
        return root / MANIFEST_NAME if (root / MANIFEST_NAME).is_file() else None
    path = Path(csv).expanduser()
    path = path if path.is_absolute() else root / path
    if not path.is_file():
        raise DatasetError(f"{csv}: no such manifest file — give a CSV file (absolute, or relative to {root}) "
                           f"with the columns {', '.join(REQUIRED_COLUMNS)}")
    return path


class _Paths:
    """Turns paths named by a dataset into paths inside its root, recording links and refusals."""

    def __init__(self, root: Path, given_root: Path, strict: bool) -> None:
        self.root, self.given_root, self.strict = root, given_root, strict
        self.manifest_name = MANIFEST_NAME
        self.links: list[LinkedFile] = []

    def lexically_inside(self, written: str) -> Path | None:
        """``ROOT/written`` with ``.``/``..`` folded as written (links not consulted); None if that leaves the root."""
        candidate = Path(os.path.normpath(self.root / written))
        for base in (self.root, self.given_root):  # an absolute path may name the root as the user spelt it
            if candidate.is_relative_to(base):
                return self.root / candidate.relative_to(base)
        return None

    def broken_link(self, path: Path) -> str | None:
        """A description of the first dangling (or looping) link on the way from the root to ``path``."""
        current = self.root
        for part in path.relative_to(self.root).parts:
            current = current / part
            if current.is_symlink() and not current.exists():
                return f"broken symbolic link: {current.relative_to(self.root)} points to {os.readlink(current)}, which does not exist"
        return None

    def check_link(self, path: Path, track_id: str | None) -> Problem | None:
        """Record ``path`` if reached through a link; in strict mode, the Problem of a link leading outside the root."""
        target = path.resolve()
        if target == path:
            return None
        if self.strict and not target.is_relative_to(self.root):
            return Problem(track_id, path.relative_to(self.root).as_posix(),
                           f"symbolic link leads outside the dataset folder, to {target} (refused in strict mode)",
                           f"copy the file under {self.root}, or run without --strict-paths to follow links")
        if path.is_file():
            self.links.append(LinkedFile(path, target))
        return None

    def file(self, written: str, track_id: str, problems: list[Problem]) -> Path | None:
        """The path inside the root of the file ``written`` in info.csv; None (with a problem) if refused or absent."""
        written = written.strip()
        if not given(written):
            return None
        path = self.lexically_inside(written)
        if path is None:
            problems.append(Problem(track_id, written, "path points outside the dataset folder (refused)",
                                    f"give a path relative to {self.root} that stays inside it; to use files kept "
                                    "elsewhere, link them into the folder (ln -s)"))
            return None
        if not path.is_file():
            found = "not a file" if path.exists() else self.broken_link(path) or "file not found"
            problems.append(Problem(track_id, written, found,
                                    f"check the path in {self.manifest_name} (relative to {self.root}) or remove the row"))
            return None
        refused = self.check_link(path, track_id)
        if refused is not None:
            problems.append(refused)
            return None
        return path


def _read_rows(csv_path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the (line number, fields) of every non-blank row of a CSV file."""
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            rows, previous_end = [], 0
            for fields in reader:
                if any(f.strip() for f in fields):
                    rows.append((previous_end + 1, fields))
                previous_end = reader.line_num
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{csv_path}: cannot be read as CSV ({exc}) — save it as UTF-8 CSV with a header row") from exc
    if not rows:
        raise DatasetError(f"{csv_path}: the file is empty — write a header row {','.join(REQUIRED_COLUMNS)} and one row per track")
    (_, header), body = rows[0], rows[1:]
    return [name.strip() for name in header], body


def _named_columns(csv_path: Path, header: list[str], body: list[tuple[int, list[str]]]) -> list[str]:
    """The header without trailing unnamed columns that hold nothing; refuse duplicate or other unnamed columns."""
    while header and not header[-1] and not any(len(f) >= len(header) and f[len(header) - 1].strip() for _, f in body):
        header = header[:-1]
    for position, name in enumerate(header, start=1):
        if not name:
            raise DatasetError(f"{csv_path}: column {position} of the header has no name — name it or delete the column")
    duplicated = [name for name, n in Counter(header).items() if n > 1]
    if duplicated:
        raise DatasetError(f"{csv_path}: column {duplicated[0]!r} appears twice in the header — rename or merge the columns")
    return header


def _refuse_other_separators(csv_path: Path, header: list[str]) -> None:
    """Refuse a manifest whose fields are separated by semicolons or tabs (read with commas, its header is one column).

    Such a file is refused rather than guessed at: the spreadsheets that write semicolons write
    decimal commas too (``0,5``), which would silently become other labels.
    """
    if len(header) != 1:
        return
    for separator, name in ((";", "semicolons"), ("\t", "tabs")):
        if separator in header[0]:
            raise DatasetError(
                f"{csv_path}: the file is separated by {name}, not commas (its header reads {header[0]!r}) — save it "
                "with commas between fields (LibreOffice: Save As, Text CSV, field delimiter ','), or convert it: "
                f"python -c \"import pandas as pd; pd.read_csv('{csv_path}', sep={separator!r}, dtype=str)"
                f".to_csv('{csv_path}', index=False)\"")


def _from_info_csv(paths: _Paths, csv_path: Path, group_column: str | None,
                   id_column: str | None = None, id_from: str | None = None) -> Manifest:
    root = paths.root
    manifest_name = csv_path.name
    header, body = _read_rows(csv_path)
    _refuse_other_separators(csv_path, header)
    columns = _named_columns(csv_path, header, body)
    required = [id_column or "id", *REQUIRED_COLUMNS[1:]] if id_from is None else list(REQUIRED_COLUMNS[1:])
    missing = [c for c in required if c not in columns]
    if missing:
        fix = (" — or name the id column with --id-column NAME, or take ids from file names with --id-from stem"
               if missing[0] == "id" else "")
        raise DatasetError(
            f"{csv_path}: missing required column(s) {', '.join(missing)} — the header must contain "
            f"{', '.join(required)} (found: {', '.join(columns)}){fix}")
    group_column = group_column or ("group" if "group" in columns else None)
    if group_column and group_column not in columns:
        raise DatasetError(f"{csv_path}: no column {group_column!r} to group by — choose one of {', '.join(columns)}")

    problems: list[Problem] = []
    notes: list[Problem] = []
    records: list[tuple[int, dict[str, str]]] = []
    for line, fields in body:
        extra = fields[len(columns):]
        if any(f.strip() for f in extra):
            problems.append(Problem(None, f"{manifest_name} line {line}",
                                    f"the row has {len(fields)} fields but the header has {len(columns)} "
                                    f"(row starts {','.join(fields[:3])!r}); the row is left out",
                                    "quote fields that contain a comma, or remove the extra comma"))
            continue
        fields = fields[:len(columns)] + [""] * (len(columns) - len(fields))
        record = {name: value.strip() for name, value in zip(columns, fields)}
        record["id"] = _record_id(record, id_column, id_from)
        records.append((line, record))

    counts = Counter(record["id"] for _, record in records)
    tracks: list[Track] = []
    seen: set[str] = set()
    label_columns = [c for c in columns if c not in ("id", id_column, "audio_filename", "midi_filename", "split")]
    for column in label_columns:
        for (_, record), value in zip(records, canonical_labels([given(r[column]) for _, r in records])):
            record[column] = value
    for line, record in records:
        where = f"{manifest_name} line {line}"
        track_id = record["id"]
        if not track_id:
            problems.append(Problem(None, where, "empty id", "give every row a unique id"))
            continue
        if counts[track_id] > 1:
            if track_id not in seen:
                problems.append(Problem(track_id, where, f"duplicate id ({counts[track_id]} rows); all its rows are left out",
                                        "make the ids unique"))
            seen.add(track_id)
            continue
        audio = paths.file(record["audio_filename"], track_id, problems)
        midi = paths.file(record["midi_filename"], track_id, problems)
        if audio is None and midi is None:
            if not given(record["audio_filename"]) and not given(record["midi_filename"]):
                problems.append(Problem(track_id, where, "row names neither an audio nor a MIDI file",
                                        "fill audio_filename and/or midi_filename"))
            continue
        written_split = given(record.get("split", ""))
        split = canonical_split(written_split) if written_split else None
        if written_split and split is None:
            notes.append(Problem(track_id, where, f"split {written_split!r} not recognised: track kept without a given split",
                                 f"use one of {', '.join(SPLIT_NAMES)} (or {', '.join(SPLIT_ALIASES)}), or leave it empty"))
        labels = {c: given(record[c]) for c in label_columns}
        group = labels.get(group_column) if group_column else None
        tracks.append(Track(track_id, audio, midi, labels, split, group or None))
    return Manifest(root, tracks, problems, layout=manifest_name, notes=notes)


def _record_id(record: dict[str, str], id_column: str | None, id_from: str | None) -> str:
    """The id of a manifest row: its ``id_column`` (default ``id``), or the stem of its audio (else MIDI) file."""
    if id_from == "stem":
        written = given(record["audio_filename"]) or given(record["midi_filename"])
        return Path(written).stem if written else ""
    return record[id_column or "id"]


def _kind(path: Path) -> str | None:
    suffix = path.suffix.lower()
    return "audio" if suffix in AUDIO_EXTENSIONS else "midi" if suffix in MIDI_EXTENSIONS else None


def _from_class_folders(paths: _Paths, group_column: str | None) -> Manifest:
    root = paths.root
    entries = sorted(p for p in root.iterdir() if not p.name.startswith("."))
    class_dirs = [p for p in entries if p.is_dir()]
    loose = [p for p in entries if _kind(p) is not None and p.is_file()]
    if not class_dirs:
        if loose:
            raise DatasetError(f"{root}: {len(loose)} audio/MIDI files but no class folders — move them into "
                               f"ROOT/<class>/ folders, or list them in an {MANIFEST_NAME}")
        raise DatasetError(f"{root}: neither an {MANIFEST_NAME} nor class folders — put files in ROOT/<class>/ or write {MANIFEST_NAME}")
    if group_column and group_column != "class":
        raise DatasetError(f"{root}: class folders have only the label 'class' to group by — write an {MANIFEST_NAME} for other groups")
    problems = [Problem(None, p.name, "file not in a class folder; left out",
                        f"move it into ROOT/<class>/ (ROOT is {root}) or list it in an {MANIFEST_NAME}") for p in loose]
    tracks: list[Track] = []
    folders = [(p, (p.resolve(),)) for p in class_dirs]
    for entry in entries:
        broken = paths.broken_link(entry) if entry.is_symlink() else None
        if broken:
            problems.append(Problem(None, entry.name, broken, "repair or remove the link"))
    while folders:
        folder, ancestors = folders.pop(0)
        label = folder.relative_to(root).as_posix()
        refused = paths.check_link(folder, None)
        if refused is not None:
            problems.append(Problem(None, label, refused.problem, refused.fix))
            continue
        stems: dict[str, dict[str, Path]] = {}
        children = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
        for path in children:
            relative = path.relative_to(root).as_posix()
            if path.is_dir():
                if path.resolve() in ancestors:
                    problems.append(Problem(None, relative, f"folder link loops back to {path.resolve()}; not followed",
                                            "remove the link"))
                else:
                    folders.append((path, (*ancestors, path.resolve())))
                continue
            if path.is_symlink() and not path.exists():
                problems.append(Problem(f"{label}/{path.stem}", relative, paths.broken_link(path) or "broken symbolic link",
                                        "repair or remove the link"))
                continue
            kind = _kind(path)
            if kind is None or not path.is_file():
                continue
            track_id = f"{label}/{path.stem}"
            refused = paths.check_link(path, track_id)
            if refused is not None:
                problems.append(refused)
                continue
            slot = stems.setdefault(path.stem, {})
            if kind in slot:
                problems.append(Problem(track_id, relative,
                                        f"two {kind} files with the stem {path.stem!r}; the first ({slot[kind].name}) is used",
                                        "keep one file per stem and modality"))
                continue
            slot[kind] = path
        for stem, files in stems.items():
            tracks.append(Track(f"{label}/{stem}", files.get("audio"), files.get("midi"), {"class": label},
                                group=label if group_column == "class" else None))
    if not tracks:
        raise DatasetError(f"{root}: the class folders hold no audio ({', '.join(AUDIO_EXTENSIONS)}) or MIDI files")
    tracks.sort(key=lambda t: t.id)
    notes = []
    if any("/" in t.labels["class"] for t in tracks):
        notes.append(Problem(None, None, "class folders are nested, so classes are paths such as "
                             f"{next(t.labels['class'] for t in tracks if '/' in t.labels['class'])!r}",
                             "use --depth 1 to compare top-level classes only"))
    return Manifest(root, tracks, problems, layout="class folders", notes=notes)
