"""symbolic-stats on MIDI files whose descriptors are known, written here with pretty_midi/mido."""

from __future__ import annotations

from pathlib import Path

import mido
import numpy as np
import pretty_midi
import pytest
import symusic

from counterpoint.data.manifest import Track
from counterpoint.encoders.registry import build_encoder
from counterpoint.encoders.symbolic_stats import (
    FEATURE_GROUPS,
    FEATURE_NAMES,
    SymbolicStatsEncoder,
    estimate_key,
    metrical_weights,
    Meter,
    piece_notes,
)
from counterpoint.errors import EncoderError, TrackError
from float_tolerance import assert_rounded_float32_close, column_scale
from symbolic_stats_previous import previous_embedding

QUARTER = 0.5  # seconds per quarter note at 120 BPM
FIXTURE_MIDI = Path(__file__).parent / "fixtures" / "midi"


def write_midi(path: Path, instruments: list[pretty_midi.Instrument], time_signature: tuple[int, int] | None = (4, 4)) -> Path:
    midi = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    if time_signature:
        midi.time_signature_changes.append(pretty_midi.TimeSignature(*time_signature, 0.0))
    midi.instruments.extend(instruments)
    midi.write(str(path))
    return path


def note(pitch: int, start_beat: float, length_beats: float, velocity: int = 80) -> pretty_midi.Note:
    return pretty_midi.Note(velocity=velocity, pitch=pitch, start=start_beat * QUARTER, end=(start_beat + length_beats) * QUARTER)


def embed(path: Path, spec: str = "symbolic-stats"):
    encoder = build_encoder(spec)
    [embedding] = encoder.embed([Track(id=path.stem, audio_path=None, midi_path=path)])
    return encoder, embedding, dict(zip(FEATURE_NAMES, embedding.pooled.astype(float)))


@pytest.fixture
def c_major_scale(tmp_path: Path) -> Path:
    """C4 D4 E4 F4 G4 A4 B4 C5, quarter notes at 120 BPM in 4/4, velocity 80: 4 s."""
    piano = pretty_midi.Instrument(program=0)
    piano.notes = [note(p, i, 1.0) for i, p in enumerate([60, 62, 64, 65, 67, 69, 71, 72])]
    return write_midi(tmp_path / "scale.mid", [piano])


def test_c_major_scale_pitch_key_and_intervals(c_major_scale: Path) -> None:
    _, _, f = embed(c_major_scale)
    shares = np.array([f[f"pitch_class_{p}"] for p in ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")])
    # C sounds twice (C4, C5), each other white key once, black keys never.
    np.testing.assert_allclose(shares, [2 / 8, 0, 1 / 8, 0, 1 / 8, 1 / 8, 0, 1 / 8, 0, 1 / 8, 0, 1 / 8], atol=1e-6)
    assert estimate_key(shares)[:2] == ("C", "major")
    assert f["key_clarity"] == pytest.approx(f["key_major_corr"]) and f["key_clarity"] > 0.8
    assert f["key_major_corr"] > f["key_minor_corr"]
    # Whole and half steps only: E-F and B-C are the two semitones among seven steps.
    assert f["interval_1"] == pytest.approx(2 / 7, abs=1e-6)
    assert f["interval_2"] == pytest.approx(5 / 7, abs=1e-6)
    assert sum(f[f"interval_{i}"] for i in (0, *range(3, 13))) + f["interval_13plus"] == 0
    assert (f["pitch_min"], f["pitch_max"], f["pitch_range"]) == (60, 72, 12)
    assert f["pitch_mean"] == pytest.approx(np.mean([60, 62, 64, 65, 67, 69, 71, 72]), abs=1e-4)
    assert f["notes_per_second"] == pytest.approx(2.0) and f["notes_per_beat"] == pytest.approx(1.0)
    assert f["ioi_beats_1"] == pytest.approx(1.0) and f["duration_beats_1"] == pytest.approx(1.0)
    for position in (0, 4, 8, 12):  # quarter notes on the four beats of each bar
        assert f[f"bar_pos_16th_{position}"] == pytest.approx(0.25)
    assert f["offbeat_onset_share"] == 0 and f["syncopation_lhl"] == 0 and f["onset_off_16th_grid"] == 0
    assert (f["polyphony_mean"], f["polyphony_max"]) == (pytest.approx(1.0), 1)
    assert (f["velocity_mean"], f["velocity_std"], f["velocity_range"]) == (80, 0, 0)
    assert f["family_piano"] == 1.0 and f["drums_share"] == 0 and f["instrument_count"] == 1
    assert (f["time_sig_numerator"], f["time_sig_denominator"], f["meter_4_4"]) == (4, 4, 1.0)
    assert f["tempo_bpm_mean"] == pytest.approx(120.0, abs=1e-3) and f["tempo_bpm_std"] == pytest.approx(0.0, abs=1e-6)


def test_frames_times_count_and_window_content(c_major_scale: Path) -> None:
    encoder, embedding, _ = embed(c_major_scale, "symbolic-stats:window=2,hop=1")
    assert encoder.spec == "symbolic-stats:window=2.0,hop=1.0"
    # 4 s of music, 2-s windows every second: [0,2) [1,3) [2,4), stamped at their centres.
    np.testing.assert_allclose(embedding.timestamps, [1.0, 2.0, 3.0])
    assert embedding.frames.shape == (3, encoder.dim) and embedding.pooled.shape == (encoder.dim,)
    assert len(encoder.feature_names()) == encoder.dim == len(set(encoder.feature_names()))
    assert sum(len(names) for names in FEATURE_GROUPS.values()) == encoder.dim
    first = dict(zip(FEATURE_NAMES, embedding.frames[0]))
    # The first window holds C4 D4 E4 F4 only.
    for name in ("C", "D", "E", "F"):
        assert first[f"pitch_class_{name}"] == pytest.approx(0.25)
    assert first["pitch_class_G"] == 0 and first["pitch_range"] == 5
    assert first["notes_per_second"] == pytest.approx(2.0)
    # The pooled vector is the whole piece, not the mean of windows.
    assert embedding.pooled[FEATURE_NAMES.index("pitch_range")] == 12
    assert embedding.duration == pytest.approx(4.0)


def test_default_windows_cover_a_known_duration(tmp_path: Path) -> None:
    piano = pretty_midi.Instrument(program=0)
    piano.notes = [note(60, 0, 1), note(62, 21, 1)]  # ends at 22 beats = 11 s
    path = write_midi(tmp_path / "long.mid", [piano])
    _, embedding, _ = embed(path)
    # 4-s windows every 2 s until one reaches 11 s: starts 0, 2, 4, 6, 8.
    np.testing.assert_allclose(embedding.timestamps, [2.0, 4.0, 6.0, 8.0, 10.0])
    # Windows without onsets or sounding notes are zeros, not NaN.
    assert np.isfinite(embedding.frames).all()
    assert embedding.frames[2, FEATURE_NAMES.index("notes_per_second")] == 0


def test_waltz_reads_three_four_and_has_no_syncopation(tmp_path: Path) -> None:
    bass, chords = pretty_midi.Instrument(program=32), pretty_midi.Instrument(program=0)
    for bar in range(4):
        bass.notes.append(note(43 if bar % 2 else 48, 3 * bar, 1))
        for beat in (1, 2):
            chords.notes += [note(64, 3 * bar + beat, 1), note(67, 3 * bar + beat, 1)]
    path = write_midi(tmp_path / "waltz.mid", [bass, chords], time_signature=(3, 4))
    _, _, f = embed(path)
    assert (f["time_sig_numerator"], f["time_sig_denominator"], f["meter_3_4"], f["meter_4_4"]) == (3, 4, 1.0, 0.0)
    # One onset on each of the three beats of each bar (16th positions 0, 4, 8 of a 12-16th bar).
    for position in (0, 4, 8):
        assert f[f"bar_pos_16th_{position}"] == pytest.approx(1 / 3)
    assert f["offbeat_onset_share"] == 0 and f["syncopation_lhl"] == 0
    assert f["family_bass"] == pytest.approx(4 / 20) and f["family_piano"] == pytest.approx(16 / 20)
    assert f["polyphony_max"] == 2
    piece = piece_notes(symusic.Score(path))
    position, _ = piece.bar_position(piece.start_beat)
    bass_notes = piece.program == 32
    assert np.all(position[bass_notes] == 0)  # the bass always on beat 1
    assert set(position[~bass_notes]) == {1.0, 2.0}  # chords on beats 2 and 3 (in quarter notes)


def test_syncopated_pattern_scores_longuet_higgins_lee(tmp_path: Path) -> None:
    # Per 4/4 bar: onsets on 1, the "and" of 1 held across beat 2, beat 3, the "and" of 3
    # held across beat 4; a final downbeat closes the pattern.
    piano = pretty_midi.Instrument(program=0)
    for bar in range(2):
        piano.notes += [note(60, 4 * bar, 0.5), note(62, 4 * bar + 0.5, 1.5), note(64, 4 * bar + 2, 0.5),
                        note(65, 4 * bar + 2.5, 1.5)]
    piano.notes.append(note(60, 8, 1))
    _, _, f = embed(write_midi(tmp_path / "sync.mid", [piano]))
    # Weights 4/4 at 16ths: bar 0, half bar -1, beats -2, 8ths -3. Each "and" (-3) skips a
    # beat (-2): 1 each, four times, over nine onsets.
    assert f["syncopation_lhl"] == pytest.approx(4 / 9, abs=1e-6)
    assert f["offbeat_onset_share"] == pytest.approx(4 / 9, abs=1e-6)
    np.testing.assert_array_equal(metrical_weights(Meter(0, 0, 4, 4))[[0, 2, 4, 8, 12, 1]], [0, -3, -2, -1, -2, -4])
    np.testing.assert_array_equal(metrical_weights(Meter(0, 0, 6, 8))[[0, 6, 2, 4, 1]], [0, -1, -2, -2, -3])


def test_drum_loop(tmp_path: Path) -> None:
    drums = pretty_midi.Instrument(program=0, is_drum=True)
    for eighth in range(16):  # two bars of 8th-note hi-hats, kick on 1 and 3, snare on 2 and 4
        drums.notes.append(note(42, eighth / 2, 0.5, velocity=70))
        if eighth % 2 == 0:
            drums.notes.append(note(36 if eighth % 4 == 0 else 38, eighth / 2, 0.5, velocity=110))
    _, _, f = embed(write_midi(tmp_path / "drums.mid", [drums]))
    assert f["drums_share"] == 1.0 and sum(f[f"family_{n}"] for n in ("piano", "bass", "strings")) == 0
    assert f["notes_per_second"] == pytest.approx(24 / 4.0)
    assert f["notes_per_beat"] == pytest.approx(24 / 8) and f["onsets_per_beat"] == pytest.approx(2.0)
    assert f["ioi_beats_0.5"] == pytest.approx(1.0)
    for position in range(16):  # the 8th-note grid: even 16ths only
        assert f[f"bar_pos_16th_{position}"] == pytest.approx(1 / 8 if position % 2 == 0 else 0.0)
    assert f["offbeat_onset_share"] == pytest.approx(0.5)
    # Drum "pitches" are instruments: no pitch, key or polyphony features.
    assert f["pitch_range"] == 0 and f["key_clarity"] == 0 and f["polyphony_max"] == 0
    assert f["velocity_mean"] == pytest.approx((16 * 70 + 8 * 110) / 24, abs=1e-4)


def test_tempo_change_held_triads_and_velocities(tmp_path: Path) -> None:
    ticks = 480
    midi = mido.MidiFile(ticks_per_beat=ticks)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    track.append(mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0))
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(120), time=0))
    for bar in range(2):  # a C major triad held for a whole bar, twice; 60 BPM from bar 2
        if bar == 1:
            track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(60), time=0))
        for pitch, velocity in ((60, 60), (64, 80), (67, 100)):
            track.append(mido.Message("note_on", note=pitch, velocity=velocity, time=0))
        for i, pitch in enumerate((60, 64, 67)):
            track.append(mido.Message("note_off", note=pitch, velocity=0, time=4 * ticks if i == 0 else 0))
    path = tmp_path / "tempo.mid"
    midi.save(str(path))
    encoder, embedding, f = embed(path, "symbolic-stats:window=2,hop=2")
    assert embedding.duration == pytest.approx(2.0 + 4.0)  # one bar at 120 BPM, one at 60
    # Time-weighted tempo: 2 s at 120, 4 s at 60.
    assert f["tempo_bpm_mean"] == pytest.approx(80.0, abs=1e-3)
    assert f["tempo_bpm_std"] == pytest.approx(np.sqrt(800.0), abs=1e-3)
    assert (f["tempo_bpm_min"], f["tempo_bpm_max"]) == (pytest.approx(60.0), pytest.approx(120.0))
    assert f["notes_per_beat"] == pytest.approx(6 / 8) and f["notes_per_second"] == pytest.approx(1.0)
    assert f["duration_beats_4"] == pytest.approx(1.0)  # whole notes are 4 beats at either tempo
    assert (f["polyphony_mean"], f["polyphony_max"]) == (pytest.approx(3.0), 3)
    assert [f[f"chroma_{p}"] for p in ("C", "E", "G", "D")] == [1.0, 1.0, 1.0, 0.0]
    assert f["velocity_mean"] == pytest.approx(80.0)
    assert f["velocity_std"] == pytest.approx(np.sqrt(800 / 3), abs=1e-4)
    assert (f["velocity_min"], f["velocity_max"], f["velocity_range"]) == (60, 100, 40)
    piece = encoder.prepare(Track(id="t", audio_path=None, midi_path=path))
    np.testing.assert_allclose(sorted(set(piece.start_beat)), [0.0, 4.0])
    tempo = FEATURE_NAMES.index("tempo_bpm_mean")
    np.testing.assert_allclose(embedding.frames[:, tempo], [120.0, 60.0, 60.0], atol=1e-3)


def test_unreadable_midi_raises_track_error_naming_the_file(tmp_path: Path) -> None:
    encoder = SymbolicStatsEncoder()
    corrupt = tmp_path / "corrupt.mid"
    corrupt.write_bytes(b"MThd\x00\x00\x00\x06 this is not a MIDI file")
    with pytest.raises(TrackError, match="corrupt.mid"):
        encoder.prepare(Track(id="bad", audio_path=None, midi_path=corrupt))
    empty = write_midi(tmp_path / "empty.mid", [pretty_midi.Instrument(program=0)])
    with pytest.raises(TrackError, match="empty.mid.*no notes"):
        encoder.prepare(Track(id="empty", audio_path=None, midi_path=empty))
    with pytest.raises(TrackError, match="no MIDI"):
        encoder.prepare(Track(id="audio-only", audio_path=tmp_path / "x.wav", midi_path=None))


def test_invalid_window_is_an_encoder_error() -> None:
    with pytest.raises(EncoderError, match="hop"):
        build_encoder("symbolic-stats:hop=0")
    with pytest.raises(EncoderError, match="window"):
        build_encoder("symbolic-stats:window=abc")


def write_random_piece(path: Path, seed: int) -> Path:
    """A seeded multi-track MIDI file with what makes descriptors differ between readers:
    tempo changes (some repeating the tempo in force, two at tick 0), time-signature changes
    (or none), chords, onsets jittered off the grid, held notes spanning many windows,
    repeated notes re-struck at the tick their predecessor ends, zero-length notes, note-offs
    written as velocity-0 note-ons, and a drum track. Notes of one key never overlap on one
    channel (see test_a_note_off_ends_the_earliest_open_note_of_its_key)."""
    rng = np.random.default_rng(seed)
    tpq = int(rng.choice([96, 220, 480, 960]))
    midi = mido.MidiFile(ticks_per_beat=tpq)
    beats = int(rng.integers(12, 80))
    meta = [(0, mido.MetaMessage("set_tempo", tempo=500000))]
    for _ in range(int(rng.integers(0, 6))):
        tick = int(rng.choice([0, int(rng.integers(1, beats * tpq))]))
        tempo = int(rng.choice([400000, 500000, mido.bpm2tempo(rng.uniform(50, 200))]))
        meta.append((tick, mido.MetaMessage("set_tempo", tempo=tempo)))
    if rng.random() < 0.8:
        bar = 0
        meters = [(4, 4), (3, 4), (6, 8), (7, 8), (2, 2), (5, 4), (12, 8)]
        for numerator, denominator in (meters[k] for k in rng.integers(0, len(meters), size=int(rng.integers(1, 4)))):
            meta.append((bar, mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator)))
            bar += numerator * 4 * tpq // denominator * int(rng.integers(1, 5))
    midi.tracks.append(to_track(meta))
    for voice in range(int(rng.integers(1, 5))):
        channel = 9 if voice == 3 else voice
        events = [(0, mido.Message("program_change", channel=channel, program=int(rng.integers(0, 128))))]
        free_from: dict[int, int] = {}
        step = tpq // int(rng.choice([1, 2, 3, 4]))
        for onset in range(0, beats * tpq, step):
            for pitch in rng.choice(np.arange(36, 84), size=int(rng.integers(0, 4)), replace=False).tolist():
                start = max(0, onset + int(rng.integers(-tpq // 40, tpq // 40 + 1)) * int(rng.random() < 0.3))
                length = int(rng.choice([0, step // 2, step, 2 * step, 8 * tpq, 40 * tpq], p=[0.03, 0.3, 0.4, 0.2, 0.05, 0.02]))
                if start < free_from.get(pitch, 0) or (length == 0 and start == free_from.get(pitch)):
                    continue
                free_from[pitch] = start + length + int(length == 0)
                on = mido.Message("note_on", channel=channel, note=pitch, velocity=int(rng.integers(1, 128)))
                off = (mido.Message("note_off", channel=channel, note=pitch) if rng.random() < 0.5 else
                       mido.Message("note_on", channel=channel, note=pitch, velocity=0))
                events += [(start, on), (start + length, off)]
        midi.tracks.append(to_track(events))
    midi.save(str(path))
    return path


def to_track(events: list[tuple[int, mido.Message]]) -> mido.MidiTrack:
    """Events at absolute ticks as a track, in the order given within a tick except that a
    note-off that ends a note struck earlier comes before the note-ons of its tick."""
    def is_off(message: mido.Message) -> bool:
        return message.type == "note_off" or (message.type == "note_on" and message.velocity == 0)

    struck: dict[tuple[int, int], int] = {}
    ordered = []
    for position, (tick, message) in enumerate(events):
        key = (getattr(message, "channel", -1), getattr(message, "note", -1))
        ends_an_earlier_note = is_off(message) and struck.get(key, tick) < tick
        if message.type == "note_on" and message.velocity > 0:
            struck[key] = tick
        ordered.append((tick, 0 if ends_an_earlier_note else 1, position, message))
    track, now = mido.MidiTrack(), 0
    for tick, _, _, message in sorted(ordered, key=lambda e: e[:3]):
        track.append(message.copy(time=tick - now))
        now = tick
    return track


def write_hair_past_the_end(path: Path) -> Path:
    """Chords over a held bass at 100 BPM; the bass ends at 30 s, which in seconds from ticks
    is 30.000000000000004: a window starting at 30 s holds a hair of it and nothing else."""
    midi = pretty_midi.PrettyMIDI(initial_tempo=100.0)
    piano = pretty_midi.Instrument(program=0)
    piano.notes = [pretty_midi.Note(90, 40, 0.0, 30.0)]
    piano.notes += [pretty_midi.Note(70, p + 12 * (k % 2), 0.6 * k, 0.6 * k + 0.3) for k in range(40) for p in (60, 64, 67)]
    midi.instruments.append(piano)
    midi.write(str(path))
    return path


@pytest.mark.parametrize("spec", ["symbolic-stats", "symbolic-stats:window=2,hop=1", "symbolic-stats:window=1,hop=3",
                                  "symbolic-stats:window=3.3,hop=0.7", "symbolic-stats:window=5,hop=5"])
def test_descriptors_equal_the_previous_implementation(tmp_path: Path, spec: str) -> None:
    """The symusic reader and the one-pass windows give today's numbers (pretty_midi and one
    describe() per window, kept in tests/symbolic_stats_previous.py) on the repo's MIDI
    fixtures and on generated pieces."""
    paths = (sorted(FIXTURE_MIDI.glob("*.mid")) + [write_hair_past_the_end(tmp_path / "hair.mid")]
             + [write_random_piece(tmp_path / f"random{seed}.mid", seed) for seed in range(12)])
    encoder = build_encoder(spec)
    compared = 0
    for path in paths:
        try:
            frames, timestamps, pooled = previous_embedding(path, encoder.params["window"], encoder.params["hop"])
        except TrackError:  # e.g. a piece drawn without a note: both refuse it
            with pytest.raises(TrackError, match="no notes"):
                encoder.prepare(Track(id=path.stem, audio_path=None, midi_path=path))
            continue
        [embedding] = encoder.embed([Track(id=path.stem, audio_path=None, midi_path=path)])
        np.testing.assert_allclose(embedding.timestamps, timestamps, err_msg=path.name)
        # Both compute in float64 and are compared as the store keeps them, rounded once to float32: within
        # float32 rounding of each descriptor's scale (tempi near 120 BPM beside shares below 1).
        scale = column_scale(np.vstack([frames, pooled]))
        assert_rounded_float32_close(embedding.frames, frames.astype(np.float32), scale=scale, err_msg=path.name)
        assert_rounded_float32_close(embedding.pooled, pooled.astype(np.float32), scale=scale, err_msg=path.name)
        compared += 1
    assert compared >= len(paths) - 2


def test_a_note_off_ends_the_earliest_open_note_of_its_key(tmp_path: Path) -> None:
    """symusic's pairing (the one place the numbers may differ from the pretty_midi reader,
    which ended every open note of the key at the first note-off): C4 struck at beats 0 and 1
    on one channel, released at beats 2 and 4, is two notes of 2 and 3 beats."""
    path = tmp_path / "restrike.mid"
    midi = mido.MidiFile(ticks_per_beat=480)
    midi.tracks.append(to_track([(0, mido.Message("note_on", note=60, velocity=90)), (480, mido.Message("note_on", note=60, velocity=70)),
                                 (960, mido.Message("note_off", note=60)), (1920, mido.Message("note_off", note=60))]))
    midi.save(str(path))
    piece = SymbolicStatsEncoder().prepare(Track(id="t", audio_path=None, midi_path=path))
    np.testing.assert_array_equal(piece.start_beat, [0.0, 1.0])
    np.testing.assert_array_equal(piece.end_beat, [2.0, 4.0])
    np.testing.assert_array_equal(piece.velocity, [90, 70])
    assert piece.duration == pytest.approx(2.0)  # 4 beats at the default 120 BPM


def test_tempo_events_count_in_every_track(tmp_path: Path) -> None:
    """A tempo change written in a note track (not in the first track, as type-1 files should)
    still changes the tempo; pretty_midi ignored it."""
    path = tmp_path / "tempo-in-track-2.mid"
    midi = mido.MidiFile(ticks_per_beat=480)
    midi.tracks.append(to_track([(0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(120)))]))
    midi.tracks.append(to_track([(0, mido.Message("note_on", note=60, velocity=80)), (960, mido.Message("note_off", note=60)),
                                 (960, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(60))),
                                 (960, mido.Message("note_on", note=62, velocity=80)), (1920, mido.Message("note_off", note=62))]))
    midi.save(str(path))
    _, embedding, f = embed(path)
    assert embedding.duration == pytest.approx(1.0 + 2.0)  # two beats at 120 BPM, two at 60
    assert (f["tempo_bpm_min"], f["tempo_bpm_max"]) == (pytest.approx(60.0), pytest.approx(120.0))


NOTE = [(0, mido.Message("note_on", note=60, velocity=80)), (480, mido.Message("note_off", note=60))]


@pytest.mark.parametrize("events, problem", [
    ([(0, mido.MetaMessage("set_tempo", tempo=0))] + NOTE, "tempo"),
    ([(0, mido.MetaMessage("time_signature", numerator=0, denominator=4))] + NOTE, "time signature"),
    ([(0, mido.MetaMessage("set_tempo", tempo=1))] + NOTE, "1 microseconds per quarter note .* faster than any music"),
    # 2e8 ticks at 480 per quarter note and 120 BPM: 57.9 hours
    (NOTE + [(200_000_000, mido.Message("note_on", note=62, velocity=80)), (200_000_480, mido.Message("note_off", note=62))],
     "lasts 57.9 hours .*tick 200000480.*longer than the 24 hours accepted"),
])
def test_a_zero_or_absurd_tempo_meter_or_a_runaway_tick_is_a_track_error_naming_the_file(tmp_path: Path, events: list, problem: str) -> None:
    path = tmp_path / "odd.mid"
    midi = mido.MidiFile(ticks_per_beat=480)
    midi.tracks.append(to_track(events))
    midi.save(str(path))
    with pytest.raises(TrackError, match=f"odd.mid.*{problem}"):
        SymbolicStatsEncoder().prepare(Track(id="t", audio_path=None, midi_path=path))
