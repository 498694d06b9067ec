"""Reading MIDI files, with errors that name the file."""

from __future__ import annotations

import warnings
from pathlib import Path

from counterpoint.errors import TrackError


def _who(path: Path, track_id: str | None) -> str:
    return f"track {track_id!r} ({path})" if track_id else str(path)


def load_pretty_midi(path: str | Path, track_id: str | None = None):
    """Parse ``path`` with pretty_midi; raise TrackError if it is corrupt or holds no notes."""
    import pretty_midi

    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pretty_midi warns about odd but valid files
            midi = pretty_midi.PrettyMIDI(str(path))
    except Exception as exc:  # mido raises OSError, EOFError, KeyError, ValueError...
        raise TrackError(f"{_who(path, track_id)}: cannot parse MIDI ({type(exc).__name__}: {exc}) — "
                         "re-export it as a standard MIDI file") from exc
    if not any(inst.notes for inst in midi.instruments):
        raise TrackError(f"{_who(path, track_id)}: the MIDI file has no notes — replace it or remove the track")
    return midi


def load_mido(path: str | Path, track_id: str | None = None):
    """Parse ``path`` with mido (the raw event stream); raise TrackError if it is corrupt."""
    import mido

    path = Path(path)
    try:
        return mido.MidiFile(str(path))
    except Exception as exc:
        raise TrackError(f"{_who(path, track_id)}: cannot parse MIDI ({type(exc).__name__}: {exc}) — "
                         "re-export it as a standard MIDI file") from exc
