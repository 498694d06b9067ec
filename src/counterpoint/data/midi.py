"""Reading MIDI files, with errors that name the file and say what is wrong with it.

Every reader of the project (pretty_midi, symusic, mido) goes through :func:`midi_bytes`, so they
all read the same bytes and refuse the same files:

* a file that cannot be read (missing, empty, permission denied) is named with the fix;
* a **type-2** file (independent patterns, each with its own tempo map) is played as its
  patterns in sequence: it is read as the type-1 file :func:`sequence_type2` makes of it, where
  pattern *k* starts when pattern *k-1* ends and keeps its own tempo (120 BPM when it sets none);
* a tempo faster than :data:`MAX_BPM` (e.g. 1 µs per quarter note) or of 0 µs, a time signature
  of 0 beats, and a file longer than :data:`MAX_SECONDS` are refused. Length is judged in
  seconds, not in ticks: a 5-hour piece at 480 ticks per quarter note reaches 1.7e7 ticks and is valid.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from counterpoint.errors import TrackError

REEXPORT = "re-export it as a standard MIDI file, or remove the track"
#: Fastest tempo accepted, in quarter notes per minute. The fastest tempo markings in use are
#: about 300 BPM (a prestissimo written in quarter notes, or a fast tempo written in eighths);
#: 1000 BPM leaves a factor of three for odd notations and refuses the nonsense of a tempo of
#: 1 µs per quarter note (6e7 BPM). No slowest tempo is needed: the largest a MIDI tempo can
#: hold (2^24 - 1 µs per quarter note) is 3.6 BPM, slow but not nonsense.
MAX_BPM = 1000.0
#: The longest quarter note a MIDI tempo can hold, in seconds ((2^24 - 1) µs: 3.6 BPM).
SLOWEST_QUARTER_SECONDS = (2**24 - 1) / 1e6
#: Longest file accepted, in seconds (24 hours): longer is a runaway time stamp, not music.
MAX_SECONDS = 24 * 3600.0
#: pretty_midi (the reader of time pairing's chroma) refuses files with more ticks than this,
#: because it tabulates the time of every tick.
PRETTY_MIDI_MAX_TICK = 10_000_000
Parsed = TypeVar("Parsed")


def _who(path: Path, track_id: str | None) -> str:
    return f"track {track_id!r} ({path})" if track_id else str(path)


def _truncated(who: str) -> TrackError:
    return TrackError(f"{who}: truncated: the file ends inside its header or a track — {REEXPORT}")


def _parse_error(who: str, exc: Exception) -> TrackError:
    """The TrackError for a reader's exception (mido raises OSError, KeyError, ValueError...; symusic RuntimeError)."""
    if isinstance(exc, EOFError) or "remaining bytes" in str(exc) or "less than 14" in str(exc):
        return _truncated(who)  # mido reads past the end of a cut-off chunk; symusic's words for one
    if "MThd not found" in str(exc) or "not MThd" in str(exc):
        return TrackError(f"{who}: not a MIDI file (it does not start with a MIDI header) — {REEXPORT}")
    return TrackError(f"{who}: cannot parse MIDI ({type(exc).__name__}: {exc}) — {REEXPORT}")


def _parse(data: bytes, who: str, parser: Callable[[bytes], Parsed]) -> Parsed:
    """``parser(data)``, with a truncated or foreign file turned into a TrackError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pretty_midi warns about odd but valid files
            return parser(data)
    except Exception as exc:
        raise _parse_error(who, exc) from exc


def _read(path: Path, who: str) -> bytes:
    """The bytes of ``path``; a TrackError when it is missing, unreadable or empty."""
    if not path.is_file():
        raise TrackError(f"{who}: file not found — check the path, or remove the track")
    try:
        data = path.read_bytes()
    except PermissionError as exc:
        raise TrackError(f"{who}: permission denied: {path} — make it readable (chmod a+r {path}) "
                         "or run as a user who can read it") from exc
    except OSError as exc:
        raise TrackError(f"{who}: cannot read the file ({exc.strerror or exc}) — check the disk and the path") from exc
    if not data:
        raise TrackError(f"{who}: empty file (0 bytes) — {REEXPORT}")
    return data


def sequence_type2(midi):
    """A type-1 ``mido.MidiFile`` playing the patterns of the type-2 ``midi`` one after the other.

    Pattern *k* is shifted to start where pattern *k-1* ends (its last event, end of track
    included). Its tempo, time-signature and key events go to a first (conductor) track, as
    type-1 readers expect them there; a pattern that sets no tempo (or meter) at its start
    gets 120 BPM (or 4/4, when an earlier pattern set another meter), its own defaults.
    """
    import mido

    conductor_types = ("set_tempo", "time_signature", "key_signature")
    conductor: list[tuple[int, object]] = []
    tracks = []
    offset = 0
    meter_given = False
    for pattern in midi.tracks:
        events, tick = [], 0
        for message in pattern:
            tick += message.time
            events.append((offset + tick, message))
        starts = {m.type for t, m in events if t == offset}
        if "set_tempo" not in starts and offset > 0:
            conductor.append((offset, mido.MetaMessage("set_tempo", tempo=500_000)))
        if "time_signature" not in starts and meter_given:
            conductor.append((offset, mido.MetaMessage("time_signature", numerator=4, denominator=4)))
        meter_given = meter_given or any(m.type == "time_signature" for _, m in events)
        conductor += [(t, m) for t, m in events if m.type in conductor_types]
        tracks.append([(t, m) for t, m in events if m.type not in conductor_types and m.type != "end_of_track"])
        offset += tick
    sequenced = mido.MidiFile(type=1, ticks_per_beat=midi.ticks_per_beat)
    for events in [conductor, *tracks]:
        track, previous = mido.MidiTrack(), 0
        for tick, message in sorted(events, key=lambda event: event[0]):
            track.append(message.copy(time=tick - previous))
            previous = tick
        track.append(mido.MetaMessage("end_of_track", time=offset - previous))
        sequenced.tracks.append(track)
    return sequenced


def _checked(path: str | Path, track_id: str | None) -> tuple[bytes, object]:
    """The bytes every reader parses (the file's own, or for a type-2 file those of
    :func:`sequence_type2`) and the symusic ``Score`` they hold, once :func:`_checked_score` accepts it."""
    import mido

    path = Path(path)
    who = _who(path, track_id)
    data = _read(path, who)
    if data[:4] == b"MThd" and data[8:10] == b"\x00\x02":
        midi = _parse(data, who, lambda raw: mido.MidiFile(file=io.BytesIO(raw)))
        out = io.BytesIO()
        sequence_type2(midi).save(file=out)
        data = out.getvalue()
    return data, _checked_score(data, who)


def midi_bytes(path: str | Path, track_id: str | None = None) -> bytes:
    """The bytes every reader parses: the file's own, or for a type-2 file those of :func:`sequence_type2`.

    Raises TrackError when the file is missing, unreadable, empty, truncated or not MIDI, or when
    its tempo, meter, length or notes are refused (see :func:`load_score`), so every reader refuses the same files.
    """
    return _checked(path, track_id)[0]


def _checked_score(data: bytes, who: str):
    """``data`` parsed with symusic (times in ticks), refused if its tempo, meter, length or notes are nonsense."""
    import symusic

    score = _parse(data, who, symusic.Score.from_midi)
    if any(tempo.mspq <= 0 for tempo in score.tempos):
        raise TrackError(f"{who}: a tempo event sets 0 microseconds per quarter note — {REEXPORT}")
    fastest = min((tempo.mspq for tempo in score.tempos), default=500_000)
    if 6e7 / fastest > MAX_BPM:
        raise TrackError(f"{who}: a tempo event sets {fastest} microseconds per quarter note ({6e7 / fastest:.4g} BPM), "
                         f"faster than any music (at most {MAX_BPM:g} BPM is accepted) — {REEXPORT}")
    if any(meter.numerator <= 0 for meter in score.time_signatures):
        raise TrackError(f"{who}: a time signature has 0 beats per bar — {REEXPORT}")
    quarters = score.end() / score.ticks_per_quarter if score.ticks_per_quarter > 0 else 0.0
    if quarters * SLOWEST_QUARTER_SECONDS > MAX_SECONDS:
        # only then can the file be too long, and its times in seconds are worth computing
        seconds = float(score.to("second").end())
        if seconds > MAX_SECONDS:
            raise TrackError(f"{who}: the file lasts {seconds / 3600:.1f} hours (its last event is at tick "
                             f"{score.end()}), longer than the {MAX_SECONDS / 3600:g} hours accepted: a time stamp "
                             f"is likely corrupt — {REEXPORT}")
    if not any((track.notes.numpy()["duration"] > 0).any() for track in score.tracks if len(track.notes)):
        raise TrackError(f"{who}: the MIDI file has no notes — replace it or remove the track")
    return score


def load_pretty_midi(path: str | Path, track_id: str | None = None):
    """Parse ``path`` with pretty_midi (through :func:`midi_bytes`); raise TrackError if it is refused.

    pretty_midi tabulates the time of every tick, so a valid file longer than
    :data:`PRETTY_MIDI_MAX_TICK` ticks is refused here with that reason.
    """
    import mido
    import pretty_midi

    path = Path(path)
    who = _who(path, track_id)
    midi = _parse(midi_bytes(path, track_id), who, lambda raw: mido.MidiFile(file=io.BytesIO(raw)))
    ticks = max((sum(message.time for message in track) for track in midi.tracks), default=0)
    if ticks >= PRETTY_MIDI_MAX_TICK:
        raise TrackError(f"{who}: the file reaches tick {ticks}; time pairing reads MIDI with pretty_midi, which "
                         f"handles at most {PRETTY_MIDI_MAX_TICK} ticks — re-export it with fewer ticks per quarter "
                         "note, or cut it")
    return _parse(midi, who, lambda parsed: pretty_midi.PrettyMIDI(mido_object=parsed))


def load_score(path: str | Path, track_id: str | None = None):
    """Parse ``path`` with symusic (times in ticks, through :func:`midi_bytes`); raise TrackError if it
    is corrupt, holds no note of positive length, has a tempo of zero or faster than :data:`MAX_BPM`, a
    time signature of zero, or lasts longer than :data:`MAX_SECONDS`."""
    return _checked(path, track_id)[1]


def load_mido(path: str | Path, track_id: str | None = None):
    """Parse ``path`` with mido (the raw event stream, through :func:`midi_bytes`); raise TrackError if it is refused."""
    import mido

    path = Path(path)
    return _parse(midi_bytes(path, track_id), _who(path, track_id), lambda raw: mido.MidiFile(file=io.BytesIO(raw)))


def midi_duration(path: str | Path, track_id: str | None = None) -> float:
    """Seconds from the start of ``path`` to its last event (through :func:`midi_bytes`)."""
    return float(_checked(path, track_id)[1].to("second").end())
