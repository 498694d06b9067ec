"""MIDI → MTF ("MIDI Text Format"), the text form of MIDI that CLaMP 2 and CLaMP 3 read.

MTF is one line per MIDI message of the merged track (mido's ``MidiFile.merged_track``):
the first line is ``ticks_per_beat N``, every other line is the message's fields in mido's
``msg.dict()`` order joined by spaces, e.g. ``note_on 0 0 73 90`` (type, delta ticks,
channel, note, velocity), with non-ASCII characters written as Python ``unicode_escape``.

With ``m3_compatible`` (the setting the published models were trained with) the converter of
the CLaMP 2 repository (``process_data/batch_midi2mtf.py``) drops the text-like meta events
and all sysex messages; the CLaMP 3 converter (``preprocessing/midi/batch_midi2mtf.py``) drops
the same meta events except ``sequencer_specific`` and keeps sysex. A dropped message takes its
delta time with it, exactly as in the reference, so the MTF text can run slightly early;
:attr:`Mtf.line_seconds` therefore holds the true time of each kept message, taken from the
full event stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from counterpoint.data.midi import load_mido
from counterpoint.errors import TrackError

#: Meta events both reference converters drop with ``m3_compatible=True``.
_TEXT_META = ("text", "copyright", "track_name", "instrument_name", "lyrics", "marker", "cue_marker", "device_name")

#: What each reference converter drops: (meta event types, non-meta message types).
DROPPED_EVENTS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "clamp2": (frozenset(_TEXT_META + ("sequencer_specific",)), frozenset({"sysex"})),
    "clamp3": (frozenset(_TEXT_META), frozenset()),
}

DEFAULT_TEMPO = 500_000  # microseconds per beat (120 BPM), the MIDI default


@dataclass(frozen=True)
class Mtf:
    """A MIDI file as MTF text plus the time of every line.

    ``line_seconds[i]`` is the onset in seconds of the message on line ``i`` of ``text``
    (line 0, the ``ticks_per_beat`` header, is at 0 s). ``duration`` is the time of the last
    message in seconds.
    """

    text: str
    line_seconds: np.ndarray
    duration: float

    @property
    def has_notes(self) -> bool:
        """True if some ``note_on`` has a velocity above zero."""
        for line in self.text.split("\n"):
            if line.startswith("note_on "):
                if int(line.rsplit(" ", 1)[1]) > 0:
                    return True
        return False


def message_to_mtf(msg) -> str:
    """One mido message as an MTF line: its ``dict()`` values joined by spaces, ASCII-escaped."""
    text = " ".join(str(value) for value in msg.dict().values())
    return text.strip().encode("unicode_escape").decode("utf-8")


def midi_to_mtf(path: str | Path, converter: str = "clamp2", track_id: str | None = None) -> Mtf:
    """Convert a MIDI file to MTF as the reference converter with ``m3_compatible=True`` does.

    ``converter`` is ``"clamp2"`` or ``"clamp3"`` (which events are dropped, see the module
    docstring). Raises :class:`~counterpoint.errors.TrackError` naming the file if it cannot
    be parsed or has no notes.
    """
    drop_meta, drop_other = DROPPED_EVENTS[converter]
    midi = load_mido(path, track_id)
    who = f"track {track_id!r} ({path})" if track_id else str(path)
    if midi.ticks_per_beat <= 0:
        raise TrackError(f"{who}: SMPTE time division is not supported — re-export the MIDI with ticks per beat")
    try:
        events = list(midi.merged_track)
    except Exception as exc:  # a malformed track list can fail only when merged
        raise TrackError(f"{who}: cannot read the MIDI events ({type(exc).__name__}: {exc}) — "
                         "re-export it as a standard MIDI file") from exc
    import mido

    lines = [f"ticks_per_beat {midi.ticks_per_beat}"]
    seconds = [0.0]
    now, tempo = 0.0, DEFAULT_TEMPO
    for msg in events:
        now += mido.tick2second(msg.time, midi.ticks_per_beat, tempo)
        if msg.type == "set_tempo":
            tempo = msg.tempo
        if msg.type in (drop_meta if msg.is_meta else drop_other):
            continue
        lines.append(message_to_mtf(msg))
        seconds.append(now)
    mtf = Mtf("\n".join(lines), np.asarray(seconds, dtype=np.float64), float(now))
    if not mtf.has_notes:
        raise TrackError(f"{who}: the MIDI file has no notes — replace it or remove the track")
    return mtf

