"""How good each transcription is: the note F-measure of a transcribed MIDI against its ground truth.

A designed corpus (``dataset transcribe --all``) holds, for each piece, the ground-truth MIDI
(``midi_source = original``) and MIDI transcribed from its audio (``midi_source = transcribed:…``,
same ``piece``). :func:`note_scores` scores one transcription as ``mir_eval`` defines note
transcription: a transcribed note matches a ground-truth note of the same pitch (within 50 cents)
whose onset is within 50 ms, offsets ignored (``offset_ratio=None``); precision, recall and their
F-measure. :func:`transcription_quality` scores every transcribed row of a track table.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from counterpoint.errors import TrackError

#: ``mir_eval``'s default onset tolerance of note transcription (seconds).
ONSET_TOLERANCE = 0.05
QUALITY_COLUMNS = ["id", "piece", "midi_source", "reference_id", "precision", "recall", "f_measure", "n_reference",
                   "n_transcribed"]


@dataclass(frozen=True)
class NoteScores:
    """Onset-and-pitch note scores of one transcription (``mir_eval.transcription``, no offsets)."""

    precision: float
    recall: float
    f_measure: float
    n_reference: int
    n_transcribed: int


def _notes(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Every non-drum note of a MIDI file: intervals ``[n, 2]`` (s) and pitches ``[n]`` in Hz, as mir_eval wants."""
    import pretty_midi

    try:
        midi = pretty_midi.PrettyMIDI(str(path))
    except Exception as error:  # pretty_midi raises anything from mido's parser
        raise TrackError(f"{path}: cannot read the MIDI file ({error}) — replace or remove it") from error
    notes = [note for instrument in midi.instruments if not instrument.is_drum for note in instrument.notes]
    intervals = np.array([[note.start, max(note.end, note.start + 1e-3)] for note in notes]).reshape(-1, 2)
    pitches = pretty_midi.note_number_to_hz(np.array([note.pitch for note in notes], dtype=np.float64))
    return intervals, np.asarray(pitches, dtype=np.float64).reshape(-1)


def note_scores(reference: str | Path, transcribed: str | Path) -> NoteScores:
    """Note precision, recall and F-measure of the MIDI file ``transcribed`` against ``reference`` (onset within
    :data:`ONSET_TOLERANCE` and pitch; offsets ignored). A file without notes scores 0 against one with notes."""
    import mir_eval

    ref_intervals, ref_pitches = _notes(Path(reference))
    est_intervals, est_pitches = _notes(Path(transcribed))
    if len(ref_pitches) == 0 or len(est_pitches) == 0:
        return NoteScores(0.0, 0.0, 0.0, len(ref_pitches), len(est_pitches))
    precision, recall, f_measure, _ = mir_eval.transcription.precision_recall_f1_overlap(
        ref_intervals, ref_pitches, est_intervals, est_pitches, onset_tolerance=ONSET_TOLERANCE, offset_ratio=None)
    return NoteScores(float(precision), float(recall), float(f_measure), len(ref_pitches), len(est_pitches))


def transcription_quality(tracks: pd.DataFrame, roots: list[str], *, piece: str = "piece"
                          ) -> tuple[pd.DataFrame, list[str]]:
    """:func:`note_scores` of every transcribed row of ``tracks`` (a store's track table: ``id``, ``midi_filename``,
    ``midi_source``, ``piece``) against the ground-truth row of its piece, files found under ``roots`` (the
    store's dataset roots). Returns the table (:data:`QUALITY_COLUMNS`) and a note for each row left out (no
    ground truth, a file missing or unreadable), so one bad file never loses the others."""
    rows, notes = [], []
    if not {"midi_source", piece, "midi_filename"} <= set(tracks.columns):
        return pd.DataFrame(columns=QUALITY_COLUMNS), notes
    table = tracks.astype({"midi_source": str, piece: str, "midi_filename": str})
    truth = table[table.midi_source == "original"].drop_duplicates(piece).set_index(piece)

    def located(name: str) -> Path | None:
        return next((Path(root) / name for root in roots if name and (Path(root) / name).is_file()), None)

    for row in table[table.midi_source.str.startswith("transcribed:")].itertuples(index=False):
        row = row._asdict()
        if row[piece] not in truth.index:
            notes.append(f"track {row['id']!r}: no ground-truth MIDI of piece {row[piece]!r} — no transcription F-measure")
            continue
        reference = truth.loc[row[piece]]
        paths = located(str(reference["midi_filename"])), located(str(row["midi_filename"]))
        if None in paths:
            notes.append(f"track {row['id']!r}: {reference['midi_filename'] if paths[0] is None else row['midi_filename']} "
                         f"is not under the store's dataset roots ({', '.join(roots) or 'none recorded'}) — no "
                         "transcription F-measure")
            continue
        try:
            scores = note_scores(*paths)
        except TrackError as error:
            notes.append(f"track {row['id']!r}: {error}")
            continue
        rows.append({"id": row["id"], "piece": row[piece], "midi_source": row["midi_source"],
                     "reference_id": reference["id"], **asdict(scores)})
    return pd.DataFrame(rows, columns=QUALITY_COLUMNS), notes
