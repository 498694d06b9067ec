"""Reading MIDI files, with errors that name the file and say what is wrong with it."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from counterpoint.errors import TrackError

REEXPORT = "re-export it as a standard MIDI file, or remove the track"
#: A file whose events reach past this tick is taken to be corrupt (pretty_midi's limit).
MAX_TICK = 10_000_000
Parsed = TypeVar("Parsed")


def _who(path: Path, track_id: str | None) -> str:
    return f"track {track_id!r} ({path})" if track_id else str(path)


def _parse(path: Path, track_id: str | None, parser: Callable[[str], Parsed]) -> Parsed:
    """``parser(path)``, with a missing, empty, truncated or foreign file turned into a TrackError."""
    who = _who(path, track_id)
    if not path.is_file():
        raise TrackError(f"{who}: file not found — check the path, or remove the track")
    if path.stat().st_size == 0:
        raise TrackError(f"{who}: empty file (0 bytes) — {REEXPORT}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pretty_midi warns about odd but valid files
            return parser(str(path))
    except EOFError as exc:  # mido reads past the end of a cut-off chunk
        raise TrackError(f"{who}: truncated: the file ends inside its header or a track — {REEXPORT}") from exc
    except Exception as exc:  # mido raises OSError, KeyError, ValueError...; symusic RuntimeError
        if "remaining bytes" in str(exc) or "less than 14" in str(exc):  # symusic's words for a cut-off file
            raise TrackError(f"{who}: truncated: the file ends inside its header or a track — {REEXPORT}") from exc
        if "MThd not found" in str(exc) or "not MThd" in str(exc):
            raise TrackError(f"{who}: not a MIDI file (it does not start with a MIDI header) — {REEXPORT}") from exc
        raise TrackError(f"{who}: cannot parse MIDI ({type(exc).__name__}: {exc}) — {REEXPORT}") from exc


def load_pretty_midi(path: str | Path, track_id: str | None = None):
    """Parse ``path`` with pretty_midi; raise TrackError if it is corrupt or holds no notes."""
    import pretty_midi

    path = Path(path)
    midi = _parse(path, track_id, pretty_midi.PrettyMIDI)
    if not any(inst.notes for inst in midi.instruments):
        raise TrackError(f"{_who(path, track_id)}: the MIDI file has no notes — replace it or remove the track")
    return midi


def load_score(path: str | Path, track_id: str | None = None):
    """Parse ``path`` with symusic (times in ticks); raise TrackError if it is corrupt, holds no
    note of positive length, or has a tempo or a time signature of zero."""
    import symusic

    path = Path(path)
    score = _parse(path, track_id, symusic.Score)
    who = _who(path, track_id)
    if score.end() > MAX_TICK:
        raise TrackError(f"{who}: the file has a largest tick of {score.end()}, it is likely corrupt — {REEXPORT}")
    if any(tempo.mspq <= 0 for tempo in score.tempos):
        raise TrackError(f"{who}: a tempo event sets 0 microseconds per quarter note — {REEXPORT}")
    if any(meter.numerator <= 0 for meter in score.time_signatures):
        raise TrackError(f"{who}: a time signature has 0 beats per bar — {REEXPORT}")
    if not any((track.notes.numpy()["duration"] > 0).any() for track in score.tracks if len(track.notes)):
        raise TrackError(f"{who}: the MIDI file has no notes — replace it or remove the track")
    return score


def load_mido(path: str | Path, track_id: str | None = None):
    """Parse ``path`` with mido (the raw event stream); raise TrackError if it is corrupt."""
    import mido

    return _parse(Path(path), track_id, mido.MidiFile)
