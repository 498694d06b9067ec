"""Every MIDI reader of the project reads the same file the same way: type-2 files as their
patterns in sequence, length judged in seconds (not ticks), absurd tempi refused.

The readers: ``dataset check``'s durations and time pairing (:func:`midi_duration`),
time pairing's chroma (pretty_midi), symbolic-stats (symusic), CLaMP's MTF (mido) and rendering.
"""

from __future__ import annotations

from pathlib import Path

import mido
import numpy as np
import pytest

from counterpoint.data.manifest import Track
from counterpoint.data.midi import load_pretty_midi, midi_duration
from counterpoint.data.render import render_midi
from counterpoint.encoders.mtf import midi_to_mtf
from counterpoint.encoders.symbolic_stats import FEATURE_NAMES, SymbolicStatsEncoder
from counterpoint.errors import TrackError


def pattern(bpm: float | None, pitches: list[int], beats_each: int = 2, ticks_per_beat: int = 480) -> mido.MidiTrack:
    """A track that sets ``bpm`` (None: sets no tempo) and plays ``pitches`` one after the other."""
    track = mido.MidiTrack()
    if bpm is not None:
        track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)))
    for pitch in pitches:
        track.append(mido.Message("note_on", note=pitch, velocity=80, time=0))
        track.append(mido.Message("note_off", note=pitch, time=beats_each * ticks_per_beat))
    return track


@pytest.fixture
def type2(tmp_path: Path) -> Path:
    """Three patterns: 4 beats at 60 BPM (4 s), 8 beats at 240 BPM (2 s), 4 beats with no tempo (120 BPM: 2 s)."""
    midi = mido.MidiFile(type=2, ticks_per_beat=480)
    midi.tracks += [pattern(60, [60, 62]), pattern(240, [64, 65, 67, 69]), pattern(None, [72, 74])]
    path = tmp_path / "patterns.mid"
    midi.save(str(path))
    return path


def test_a_type2_file_is_its_patterns_in_sequence_for_every_reader(type2: Path, tmp_path: Path) -> None:
    """Overlaid (the way each library reads type 2 by itself) every pattern started at 0 s and symusic
    made it 2 s long; in sequence it lasts 8 s, each pattern at its own tempo."""
    assert midi_duration(type2) == pytest.approx(8.0)
    pretty = load_pretty_midi(type2)
    assert pretty.get_end_time() == pytest.approx(8.0)
    onsets = sorted((note.start, note.pitch) for instrument in pretty.instruments for note in instrument.notes)
    assert onsets == [(pytest.approx(s), p) for s, p in
                      [(0, 60), (2, 62), (4, 64), (4.5, 65), (5, 67), (5.5, 69), (6, 72), (7, 74)]]
    piece = SymbolicStatsEncoder().prepare(Track(id="t", audio_path=None, midi_path=type2))
    assert piece.duration == pytest.approx(8.0)
    np.testing.assert_allclose(piece.start, [0, 2, 4, 4.5, 5, 5.5, 6, 7])
    np.testing.assert_allclose(np.sort(piece.tempo_bpm), [60, 120, 240])
    assert midi_to_mtf(type2).duration == pytest.approx(8.0)
    rendered = render_midi(type2, tmp_path / "patterns.wav", tail_seconds=1.0)
    import soundfile

    assert soundfile.info(str(rendered)).duration == pytest.approx(9.0, abs=0.1)


def five_hours(path: Path) -> Path:
    """A valid 5-hour piece: 120 BPM, 480 ticks per quarter note, a note every 8 beats: 1.73e7 ticks."""
    midi = mido.MidiFile(ticks_per_beat=480)
    midi.tracks.append(pattern(120, [60 + i % 12 for i in range(36000 // 8)], beats_each=8))
    midi.save(str(path))
    return path


def test_a_five_hour_file_is_valid_its_length_judged_in_seconds(tmp_path: Path) -> None:
    path = five_hours(tmp_path / "long.mid")
    assert midi_duration(path) == pytest.approx(5 * 3600.0)
    piece = SymbolicStatsEncoder().prepare(Track(id="t", audio_path=None, midi_path=path))
    assert piece.duration == pytest.approx(5 * 3600.0)
    [embedding] = SymbolicStatsEncoder().embed([Track(id="t", audio_path=None, midi_path=path)])
    features = dict(zip(FEATURE_NAMES, embedding.pooled.astype(float)))
    assert features["tempo_bpm_max"] == pytest.approx(120.0)
    # pretty_midi tabulates every tick: time pairing's chroma says so instead of calling the file corrupt
    with pytest.raises(TrackError, match="long.mid: the file reaches tick 17280000; time pairing .* fewer ticks"):
        load_pretty_midi(path)


@pytest.mark.parametrize("tempo, accepted", [(1, False), (59_999, False), (60_000, True), (2**24 - 1, True)])
def test_tempi_faster_than_1000_bpm_are_refused_by_every_reader(tmp_path: Path, tempo: int, accepted: bool) -> None:
    """1000 BPM (60 000 µs per quarter note) is the fastest accepted; the slowest a MIDI file can hold is fine."""
    midi = mido.MidiFile(ticks_per_beat=480)
    track = pattern(None, [60])
    track.insert(0, mido.MetaMessage("set_tempo", tempo=tempo))
    midi.tracks.append(track)
    path = tmp_path / "tempo.mid"
    midi.save(str(path))
    readers = [midi_duration, load_pretty_midi, midi_to_mtf,
               lambda p: SymbolicStatsEncoder().prepare(Track(id="t", audio_path=None, midi_path=p))]
    for read in readers:
        if accepted:
            read(path)
        else:
            with pytest.raises(TrackError, match="tempo.mid.*: a tempo event sets .* faster than any music"):
                read(path)
