"""What every adapter returns, and the one writer that turns it into an ordinary ``info.csv`` dataset.

An adapter reads a public dataset's own metadata and returns :class:`SourceRows`: one
:class:`SourceRow` per track, naming files where they lie in the source folder, plus the
problems of single rows (a listed file that is absent). :func:`write_dataset` links (or copies)
those files into the output folder under the same relative paths and writes ``info.csv``
with ``split``, ``group`` and every label column, which :func:`load_manifest` then reads like
any hand-written dataset.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from counterpoint.data.manifest import MANIFEST_NAME, Manifest, Problem, Track, given, load_manifest
from counterpoint.errors import DatasetError
from counterpoint.labels import canonical_split


@dataclass(frozen=True)
class SourceRow:
    """One track of a source dataset: its files (absolute paths in the source), labels, split and group."""

    id: str
    audio: Path | None
    midi: Path | None
    labels: dict[str, str] = field(default_factory=dict)
    split: str | None = None
    group: str | None = None


@dataclass
class SourceRows:
    """The tracks an adapter found and the rows it had to leave out or cut down (with the reason)."""

    rows: list[SourceRow]
    problems: list[Problem] = field(default_factory=list)


@dataclass
class ImportResult:
    """What ``dataset import`` wrote: the dataset folder, its manifest as read back, and the source's problems."""

    kind: str
    out: Path
    manifest: Manifest
    problems: list[Problem]


def layout_error(kind: str, source: Path, expected: str, *, found: str, hint: str = "") -> DatasetError:
    """The error for a source folder that is not laid out as ``kind`` expects."""
    return DatasetError(f"{source}: not a {kind} layout — {found}. Expected: {expected}.{(' ' + hint) if hint else ''}")


def existing(path: Path, row_id: str, problems: list[Problem]) -> Path | None:
    """``path`` if it is a file; else None, recording that the source metadata lists a file that is absent."""
    if path.is_file():
        return path
    problems.append(Problem(row_id, str(path), "listed in the dataset's metadata but not found; that modality is left out",
                            "download the missing file into the source folder, or ignore this if it was not distributed"))
    return None


def cell(value: object) -> str:
    """A metadata value as the text of a manifest cell (missing → ``""``, ``2018.0`` → ``2018``)."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return given(str(value))


def split_of(value: object) -> str | None:
    """The canonical split of a metadata value (``train``/``validation``/``test``), None if it is none of them."""
    return canonical_split(cell(value))


def _place(source_file: Path, source_root: Path, out: Path, copy: bool) -> Path:
    """Link or copy ``source_file`` to the same relative path under ``out``.

    The link is relative when source and output share a folder below ``/`` (so moving both
    together keeps it working), absolute otherwise.
    """
    relative = source_file.relative_to(source_root) if source_file.is_relative_to(source_root) else Path(source_file.name)
    target = out / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if copy:
        shutil.copy2(source_file, target)
    else:
        real = source_file.resolve()
        shared = os.path.commonpath([real, target.parent.resolve()])
        target.symlink_to(os.path.relpath(real, target.parent.resolve()) if shared != os.sep else real)
    return target


def write_dataset(kind: str, found: SourceRows, source: Path, *, out: Path, copy: bool = False) -> ImportResult:
    """Write ``found`` as an ``info.csv`` dataset in ``out`` (a new or empty folder) and read it back."""
    if not found.rows:
        raise DatasetError(f"{source}: the {kind} metadata lists no track whose audio or MIDI file is present — "
                           "check that SOURCE is the dataset's top folder")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DatasetError(f"{out}: exists and is not an empty folder — give a new folder for the imported dataset")
    out.mkdir(parents=True, exist_ok=True)
    source_root = source.resolve()
    tracks = []
    for row in found.rows:
        audio = _place(row.audio, source_root, out, copy) if row.audio else None
        midi = _place(row.midi, source_root, out, copy) if row.midi else None
        tracks.append(Track(row.id, audio, midi, row.labels, row.split, row.group))
    Manifest(out, tracks).to_frame().to_csv(out / MANIFEST_NAME, index=False)
    return ImportResult(kind, out, load_manifest(out), found.problems)
