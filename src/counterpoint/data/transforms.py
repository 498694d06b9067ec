"""Musical transformations of MIDI files, and the corpus of transformed copies that equivariance reads.

Transposing a score by k semitones and pitch-shifting its audio by k are the same musical change; so
are a tempo change and a time-stretch. A rendered corpus makes both exact: transform the MIDI, render
it again with the same SoundFont (:mod:`counterpoint.data.render`).

* :func:`transpose_midi`: every note of every channel but the drums (MIDI channel 10, ``channel == 9``
  in mido) moved by k semitones; a note that would leave 0–127 is a :class:`TransformRangeError`.
* :func:`scale_tempo`: every tempo event's microseconds per beat divided by r (a file without a tempo
  event at its start gets the MIDI default, 120 bpm, first), so every note time in seconds is divided
  by r; ticks, pitches, velocities and controllers stay as they are.
* :func:`transform_dataset`: for each piece of a dataset (rows with ground-truth MIDI, one per
  ``piece``), the original and each transformed copy, all rendered with one SoundFont, written as an
  ordinary ``info.csv`` dataset whose columns ``piece``, ``transform`` (``original``, ``transpose``,
  ``tempo``) and ``amount`` (k in semitones, r as a factor; empty for the original) say what each row
  is, so ``counterpoint embed`` embeds it like any dataset and ``counterpoint equivariance`` reads it.
"""

from __future__ import annotations

import copy
import io
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from counterpoint.data.completion import (FILE_COLUMNS, ORIGINAL, PIECE_COLUMN, SOURCE_COLUMNS, Failure,
                                          dataset_table, temporary_path, write_dataset)
from counterpoint.data.manifest import load_manifest
from counterpoint.data.midi import midi_bytes as checked_midi_bytes
from counterpoint.data.render import audio_source, render_midi, soundfont_path
from counterpoint.errors import CounterpointError, DatasetError, TrackError
from counterpoint.progress import ProgressCallback

#: The column saying which transformation made a row, and the column holding its amount.
TRANSFORM_COLUMN, AMOUNT_COLUMN = "transform", "amount"
#: ``transform`` of the untransformed row of a piece, of a transposed one and of a tempo-changed one.
ORIGINAL_TRANSFORM, TRANSPOSE, TEMPO = "original", "transpose", "tempo"
#: mido's channel number of MIDI channel 10, the General MIDI drums: never transposed.
DRUM_CHANNEL = 9
#: Transpositions (semitones) and tempo factors a transformed corpus gets unless told otherwise.
DEFAULT_TRANSPOSITIONS = (-5, -3, -1, 1, 3, 6)
DEFAULT_TEMPO_FACTORS = (0.8, 1.25)
#: The MIDI default tempo (µs per beat, 120 bpm), in force until a file's first tempo event.
DEFAULT_TEMPO_US = 500_000
FAILURES_NAME = "transform_failures.csv"
#: Folder (inside the corpus) of each piece's MIDI copies and their renderings, side by side.
TRANSFORMED_FOLDER = "transformed"
_PITCHED = ("note_on", "note_off", "polytouch")


class TransformRangeError(CounterpointError):
    """A transposition would move a note outside MIDI's 0–127: that copy is skipped, with a note."""


def _read(data: bytes):
    import mido

    return mido.MidiFile(file=io.BytesIO(data))


def _bytes(midi) -> bytes:
    out = io.BytesIO()
    midi.save(file=out)
    return out.getvalue()


def transpose_midi(data: bytes, semitones: int, *, name: str = "MIDI file") -> bytes:
    """``data`` (MIDI bytes) with every pitched note moved by ``semitones``; drums (channel 10) untouched.

    Note-on, note-off and polyphonic aftertouch messages move; a :class:`TransformRangeError` names
    ``name`` and the note when one would leave 0–127.
    """
    midi = copy.deepcopy(_read(data))
    for track in midi.tracks:
        for index, message in enumerate(track):
            if message.type in _PITCHED and message.channel != DRUM_CHANNEL:
                note = message.note + int(semitones)
                if not 0 <= note <= 127:
                    raise TransformRangeError(f"{name}: transposing by {semitones:+d} moves note {message.note} to "
                                              f"{note}, outside MIDI's 0–127 — that copy is left out")
                track[index] = message.copy(note=note)
    return _bytes(midi)


def scale_tempo(data: bytes, rate: float) -> bytes:
    """``data`` (MIDI bytes) played ``rate`` times as fast: every tempo event's µs per beat divided by
    ``rate`` (rounded to whole µs, as MIDI stores it), a default-tempo event added first where the file
    has none at its start. Every note time in seconds is divided by ``rate``."""
    import mido

    if not rate > 0:
        raise CounterpointError(f"tempo factor {rate}: give a number above 0, e.g. 0.8 or 1.25")
    midi = copy.deepcopy(_read(data))
    starts_with_tempo = False
    for track in midi.tracks:
        tick = 0
        for message in track:
            tick += message.time
            if tick > 0:
                break
            starts_with_tempo |= message.type == "set_tempo"
    if not starts_with_tempo:
        midi.tracks[0].insert(0, mido.MetaMessage("set_tempo", tempo=DEFAULT_TEMPO_US, time=0))
    for track in midi.tracks:
        for index, message in enumerate(track):
            if message.type == "set_tempo":
                track[index] = message.copy(tempo=int(round(message.tempo / rate)))
    return _bytes(midi)


def amount_text(transform: str, amount: float) -> str:
    """An amount as ``info.csv`` writes it: ``+3``/``-1`` semitones, ``0.8`` for a tempo factor."""
    return f"{int(amount):+d}" if transform == TRANSPOSE else f"{float(amount):g}"


def amounts_from_text(text: str, transform: str) -> tuple[float, ...]:
    """``"-3,-1,1,3"`` → (-3, -1, 1, 3) semitones for ``transpose``, ``"0.8,1.25"`` → (0.8, 1.25) for ``tempo``
    (empty text: none); a :class:`CounterpointError` names a value that is not a number of that kind."""
    values = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            value = float(part)
        except ValueError:
            value = math.nan
        if transform == TRANSPOSE:
            valid = math.isfinite(value) and value == int(value) and value != 0
        else:
            valid = math.isfinite(value) and value > 0 and value != 1
        if not valid:
            example = "-3,-1,1,3 (whole semitones, not 0)" if transform == TRANSPOSE else "0.8,1.25 (factors above 0, not 1)"
            raise CounterpointError(f"--{transform} {text!r}: {part!r} is not a {transform} amount — write e.g. {example}")
        values.append(int(value) if transform == TRANSPOSE else value)
    return tuple(values)


@dataclass
class TransformReport:
    """What :func:`transform_dataset` did: the corpus folder and its ``info_csv``, files ``made`` now and
    ``reused`` from an earlier run, the copies ``skipped`` (a sentence each: a transposition out of range),
    the ``failures`` (also in ``failures_csv``) and the ``pieces`` transformed."""

    root: Path
    info_csv: Path
    failures_csv: Path
    pieces: list[str] = field(default_factory=list)
    made: int = 0
    reused: int = 0
    skipped: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)


def _write_atomically(path: Path, data: bytes) -> None:
    partial = temporary_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial.write_bytes(data)
    os.replace(partial, path)


def _chosen_pieces(table: pd.DataFrame, pieces: int | None, seed: int) -> pd.DataFrame:
    """One row per piece with ground-truth MIDI (the first by id), a seeded choice of ``pieces`` of them."""
    truth = table[(table[FILE_COLUMNS["midi"]] != "") & table[SOURCE_COLUMNS["midi"]].isin([ORIGINAL, ""])]
    rows = truth.sort_values("id").drop_duplicates(PIECE_COLUMN)
    if pieces is not None and pieces < len(rows):
        rows = rows.sample(n=pieces, random_state=seed)
    return rows.sort_values(PIECE_COLUMN)


def transform_dataset(root: str | Path, out: str | Path, *, transpositions: Sequence[int] = DEFAULT_TRANSPOSITIONS,
                      tempo_factors: Sequence[float] = DEFAULT_TEMPO_FACTORS, pieces: int | None = None,
                      seed: int = 0, soundfont: str | Path | None = None, sample_rate: int = 22050,
                      progress: ProgressCallback | None = None) -> TransformReport:
    """Write the transformed corpus of the dataset at ``root`` into ``out`` (see the module docstring).

    Each piece (``pieces``: a seeded choice of that many, default all) gets
    ``OUT/transformed/<its MIDI path>/original.mid``, ``transpose+3.mid``, ``tempo0.8.mid``, … and
    beside each its rendering (``.wav``; ``soundfont``: a name or an .sf2 file, default TimGM6mb), and one row each in
    ``OUT/info.csv`` (id ``<piece>~<name>``) carrying the piece's labels and group. Files that exist are
    reused (resume). A transposition that leaves 0–127 is skipped with a sentence in ``skipped``; a file
    that cannot be read or rendered is a failure in ``OUT/transform_failures.csv`` and the others go on.
    """
    if any(int(k) != k or k == 0 for k in transpositions):
        raise CounterpointError(f"transpositions {list(transpositions)}: give whole numbers of semitones other than 0")
    if any(not r > 0 or r == 1 for r in tempo_factors):
        raise CounterpointError(f"tempo factors {list(tempo_factors)}: give factors above 0 other than 1, e.g. 0.8,1.25")
    if not transpositions and not tempo_factors:
        raise CounterpointError("no transformation asked for — give --transpose, --tempo or both")
    font = soundfont_path(soundfont) if soundfont is not None else soundfont_path("timgm6mb")
    manifest = load_manifest(root)
    table = dataset_table(manifest)
    chosen = _chosen_pieces(table, pieces, seed)
    if chosen.empty:
        raise DatasetError(f"{manifest.root}: no row has ground-truth MIDI to transform — give a dataset with MIDI files")
    target = Path(out).expanduser().resolve()
    copies = [(ORIGINAL_TRANSFORM, None)] + [(TRANSPOSE, int(k)) for k in transpositions] + \
             [(TEMPO, float(r)) for r in tempo_factors]
    report = TransformReport(target, target / "info.csv", target / FAILURES_NAME, pieces=list(chosen[PIECE_COLUMN]))
    label_columns = [c for c in table.columns if c not in ("id", *FILE_COLUMNS.values(), *SOURCE_COLUMNS.values(),
                                                            TRANSFORM_COLUMN, AMOUNT_COLUMN)]
    rows, total = [], len(chosen) * len(copies)
    for done, (_, source) in enumerate(chosen.iterrows()):
        midi_path = manifest.root / source[FILE_COLUMNS["midi"]]
        folder = Path(source[FILE_COLUMNS["midi"]]).with_suffix("")
        try:
            data = checked_midi_bytes(midi_path, source["id"])
        except TrackError as exc:
            report.failures.append(Failure(source["id"], source[FILE_COLUMNS["midi"]], str(exc)))
            continue
        for number, (transform, amount) in enumerate(copies, start=1):
            name = transform if amount is None else f"{transform}{amount_text(transform, amount)}"
            midi_file = Path(TRANSFORMED_FOLDER) / folder / f"{name}.mid"
            wav_file = midi_file.with_suffix(".wav")
            try:
                if not (target / wav_file).is_file():
                    made = (data if transform == ORIGINAL_TRANSFORM else
                            transpose_midi(data, amount, name=str(midi_path)) if transform == TRANSPOSE else
                            scale_tempo(data, amount))
                    _write_atomically(target / midi_file, made)
                    partial = temporary_path(target / wav_file)
                    render_midi(target / midi_file, partial, sample_rate=sample_rate, soundfont=font)
                    os.replace(partial, target / wav_file)
                    report.made += 1
                else:
                    report.reused += 1
            except TransformRangeError as exc:
                report.skipped.append(str(exc))
                continue
            except TrackError as exc:
                report.failures.append(Failure(f"{source['id']}~{name}", source[FILE_COLUMNS["midi"]], str(exc)))
                continue
            finally:
                if progress is not None:
                    progress("transforming", done * len(copies) + number, total)
            rows.append({"id": f"{source[PIECE_COLUMN]}~{name}", FILE_COLUMNS["audio"]: wav_file.as_posix(),
                         FILE_COLUMNS["midi"]: midi_file.as_posix(), **{c: source[c] for c in label_columns},
                         TRANSFORM_COLUMN: transform, AMOUNT_COLUMN: "" if amount is None else amount_text(transform, amount),
                         SOURCE_COLUMNS["audio"]: audio_source(font),
                         SOURCE_COLUMNS["midi"]: ORIGINAL if amount is None else f"{transform}:{amount_text(transform, amount)}"})
    columns = ["id", FILE_COLUMNS["audio"], FILE_COLUMNS["midi"], *label_columns, TRANSFORM_COLUMN, AMOUNT_COLUMN,
               SOURCE_COLUMNS["audio"], SOURCE_COLUMNS["midi"]]
    report.info_csv, report.failures_csv = write_dataset(pd.DataFrame(rows, columns=columns), target, report.failures,
                                                         failures_name=FAILURES_NAME)
    return report
