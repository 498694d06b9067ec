"""What transcription (audio → MIDI) and rendering (MIDI → audio) share: the dataset as a table,
the output folder, and the ``info.csv`` and failures list they write.

Both read a dataset (``info.csv`` or class folders) into one table with the columns of
:meth:`~counterpoint.data.manifest.Manifest.to_frame` plus ``midi_source`` and
``audio_source`` (``original`` for a file of the dataset, ``transcribed:…`` / ``rendered:…``
for a made one, empty where a row has no such file), fill it with the files they make, and
write it back as an ordinary ``info.csv`` dataset, so every later stage can select or compare
rows by those columns. Every row also gets a ``piece`` (its id, unless the dataset names one), which
the rows made from it keep, so ``counterpoint factors`` knows which rows are the same piece. Made
files are written atomically, so a file that exists is whole: a rerun skips it (resume) and
rewrites ``info.csv``. :func:`complete_rows` is the loop both run over the files to make.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from counterpoint.data.manifest import MANIFEST_NAME, Manifest, Problem, load_manifest
from counterpoint.errors import DatasetError, TrackError
from counterpoint.progress import ProgressCallback

#: ``midi_source`` / ``audio_source`` of a file that came with the dataset.
ORIGINAL = "original"
SOURCE_COLUMNS = {"midi": "midi_source", "audio": "audio_source"}
FILE_COLUMNS = {"midi": "midi_filename", "audio": "audio_filename"}
#: The column naming the piece behind a row: rows rendered or transcribed from one row share it.
PIECE_COLUMN = "piece"
#: Written beside the rewritten ``info.csv`` the first time one is replaced in place.
BACKUP_NAME = "info.orig.csv"
#: What :func:`complete_rows` reports progress as, by the kind of file it makes.
PROGRESS_WHAT = {"audio": "rendering", "midi": "transcribing"}


@dataclass
class Failure:
    """One row that could not be completed: its id, the file read and the message (problem and fix)."""

    track_id: str
    path: str
    error: str


@dataclass
class CompletionReport:
    """What one transcription or rendering run did: files ``made`` now, ``reused`` from an earlier
    run, ``failures`` (also in ``failures_csv``), rows the manifest left out (``problems``), and the
    ``info_csv`` written."""

    root: Path
    info_csv: Path
    failures_csv: Path
    made: int = 0
    reused: int = 0
    failures: list[Failure] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def dataset_table(manifest: Manifest) -> pd.DataFrame:
    """The manifest's track table with ``midi_source`` and ``audio_source`` (kept when the dataset has
    them; else ``original`` where the row has that file), and a ``group`` and a ``piece`` on every row
    (its id where none was given), so rows added for the same recording can share them."""
    table = manifest.to_frame()
    for kind, column in SOURCE_COLUMNS.items():
        if column not in table.columns:
            table[column] = ""
        has_file = table[FILE_COLUMNS[kind]] != ""
        table.loc[has_file & (table[column] == ""), column] = ORIGINAL
    if PIECE_COLUMN not in table.columns:
        table[PIECE_COLUMN] = ""
    for column in ("group", PIECE_COLUMN):
        table.loc[table[column] == "", column] = table["id"]
    return table


def open_dataset(root: str | Path, out: str | Path | None) -> tuple[Manifest, Path]:
    """The manifest of ``root`` and the folder the completed dataset goes to (``out``, else ``root``).

    A separate ``out`` receives symbolic links to every file of ``root`` at the same relative
    path, so its ``info.csv`` refers to files inside it (links are followed when read).
    """
    manifest = load_manifest(root)
    target = Path(out).expanduser().resolve() if out is not None else manifest.root
    if target != manifest.root:
        if target.exists() and not target.is_dir():
            raise DatasetError(f"{out}: is a file — give a folder for the completed dataset")
        for track in manifest:
            for path in (track.audio_path, track.midi_path):
                if path is not None:
                    link = target / path.relative_to(manifest.root)
                    if not link.exists():
                        link.parent.mkdir(parents=True, exist_ok=True)
                        os.symlink(path.resolve(), link)
    return manifest, target


def made_path(root: Path, folder: str, source_file: str, *, suffix: str) -> Path:
    """Where a made file goes: ``root/folder/<the source's relative path with suffix>``."""
    return root / folder / Path(source_file).with_suffix(suffix)


def temporary_path(path: Path) -> Path:
    """A name beside ``path`` to write to before renaming (so an existing ``path`` is always whole)."""
    return path.with_name(f".{path.stem}.partial{path.suffix}")


def write_dataset(table: pd.DataFrame, root: Path, failures: list[Failure], *, failures_name: str) -> tuple[Path, Path]:
    """Write ``table`` as ``root/info.csv`` (the original kept once as ``info.orig.csv``) and the
    failures as ``root/<failures_name>`` (id, file, error; header only when none). Both atomically."""
    info = root / MANIFEST_NAME
    root.mkdir(parents=True, exist_ok=True)
    backup = root / BACKUP_NAME
    if info.is_file() and not backup.exists():
        os.link(info, backup)
    failures_csv = root / failures_name
    for path, frame in ((info, table), (failures_csv, pd.DataFrame([vars(f) for f in failures],
                                                                   columns=["track_id", "path", "error"]))):
        partial = temporary_path(path)
        frame.to_csv(partial, index=False)
        os.replace(partial, path)
    return info, failures_csv


@dataclass(frozen=True)
class Job:
    """One file to make for a completion run: ``make(path)`` writes it (raising :class:`TrackError`
    naming the input on failure) at ``relative`` inside the completed dataset. It fills the row at
    ``index`` of the table in place, or (``index`` None) a new row ``new_id`` copied from ``row``;
    either way the row records ``source`` as its ``midi_source``/``audio_source``."""

    index: int | None
    row: pd.Series
    relative: str
    source: str
    new_id: str
    make: Callable[[Path], None]


def complete_rows(table: pd.DataFrame, jobs: Sequence[Job], kind: str, *, report: CompletionReport,
                  failures_name: str, progress: ProgressCallback | None = None) -> CompletionReport:
    """Make the ``kind`` (``"audio"`` or ``"midi"``) file of every job, reusing one that exists, and
    write the completed ``table`` and the failures into ``report.root``; returns ``report``, filled.

    A job that fails is a :class:`Failure` (its row's id, the input file of the other kind, the
    message) and adds or fills no row; the others go on. ``progress(what, done, total)`` after each job
    (``what``: ``rendering`` or ``transcribing``, :data:`PROGRESS_WHAT`).
    """
    made_from = FILE_COLUMNS["midi" if kind == "audio" else "audio"]
    added = []
    for done, job in enumerate(jobs, start=1):
        path = report.root / job.relative
        if path.is_file():
            report.reused += 1
            made = True
        else:
            try:
                job.make(path)
                report.made += 1
                made = True
            except TrackError as exc:
                report.failures.append(Failure(job.row["id"], job.row[made_from], str(exc)))
                made = False
        if made and job.index is None:
            added.append({**job.row.to_dict(), "id": job.new_id, FILE_COLUMNS[kind]: job.relative,
                          SOURCE_COLUMNS[kind]: job.source})
        elif made:
            table.loc[job.index, [FILE_COLUMNS[kind], SOURCE_COLUMNS[kind]]] = [job.relative, job.source]
        if progress is not None:
            progress(PROGRESS_WHAT[kind], done, len(jobs))
    table = pd.concat([table, pd.DataFrame(added, columns=table.columns)], ignore_index=True) if added else table
    report.info_csv, report.failures_csv = write_dataset(table, report.root, report.failures,
                                                         failures_name=failures_name)
    return report
