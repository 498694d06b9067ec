"""MIDI → audio rendering with the SoundFont bundled in pretty_midi (real synthesis, real decoding)."""

from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile

from counterpoint.data.render import TARGET_PEAK, default_soundfont, render_midi
from counterpoint.errors import TrackError

FLUTE = 73


def write_midi(path: Path, notes: list[tuple[int, float, float]], program: int = FLUTE) -> Path:
    """A one-instrument MIDI file of (pitch, start s, end s) notes."""
    midi = pretty_midi.PrettyMIDI(initial_tempo=120)
    instrument = pretty_midi.Instrument(program=program)
    instrument.notes = [pretty_midi.Note(100, pitch, start, end) for pitch, start, end in notes]
    midi.instruments.append(instrument)
    midi.write(str(path))
    return path


def test_default_soundfont_ships_with_pretty_midi():
    path = default_soundfont()
    assert path.name == "TimGM6mb.sf2" and path.stat().st_size > 1_000_000


def test_renders_the_played_pitch_with_a_release_tail(tmp_path):
    midi = write_midi(tmp_path / "a4.mid", [(69, 0.0, 2.0)])  # A4 = 440 Hz for two seconds
    wav = render_midi(midi, tmp_path / "a4.wav", sample_rate=22050, tail_seconds=1.0)
    audio, rate = soundfile.read(wav, dtype="float32")
    assert rate == 22050 and audio.ndim == 1
    assert 2.9 <= len(audio) / rate <= 3.1  # notes end at 2 s, plus the 1 s tail
    assert np.max(np.abs(audio)) == pytest.approx(TARGET_PEAK, abs=1e-3)
    sustained = audio[int(0.5 * rate):int(1.5 * rate)]
    spectrum = np.abs(np.fft.rfft(sustained * np.hanning(len(sustained))))
    peak_hz = np.fft.rfftfreq(len(sustained), 1 / rate)[np.argmax(spectrum)]
    assert peak_hz == pytest.approx(440.0, abs=5.0)
    # The tail really rings (release), and before the note-off there is sound.
    assert np.sqrt(np.mean(sustained ** 2)) > 0.05


def test_stereo_and_another_rate(tmp_path):
    midi = write_midi(tmp_path / "c.mid", [(60, 0.0, 0.5), (64, 0.5, 1.0)])
    wav = render_midi(midi, tmp_path / "c.wav", sample_rate=44100, mono=False, tail_seconds=0.0)
    info = soundfile.info(str(wav))
    assert info.samplerate == 44100 and info.channels == 2 and info.subtype == "PCM_16"
    assert info.duration == pytest.approx(1.0, abs=0.05)


def test_same_midi_gives_identical_wav_bytes(tmp_path):
    midi = write_midi(tmp_path / "m.mid", [(62, 0.0, 0.4), (66, 0.4, 0.8), (69, 0.8, 1.6)], program=19)
    first = render_midi(midi, tmp_path / "one.wav").read_bytes()
    second = render_midi(midi, tmp_path / "two.wav").read_bytes()
    assert first == second


def test_corrupt_midi_names_the_file(tmp_path):
    bad = tmp_path / "broken.mid"
    bad.write_bytes(b"this is not a MIDI file")
    with pytest.raises(TrackError, match="broken.mid: cannot render"):
        render_midi(bad, tmp_path / "broken.wav")
    assert not (tmp_path / "broken.wav").exists()


def test_midi_without_notes_is_refused_as_silent(tmp_path):
    empty = tmp_path / "empty.mid"
    pretty_midi.PrettyMIDI().write(str(empty))
    with pytest.raises(TrackError, match="empty.mid: rendering is silent"):
        render_midi(empty, tmp_path / "empty.wav")


def test_missing_soundfont_and_missing_midi(tmp_path):
    midi = write_midi(tmp_path / "x.mid", [(60, 0.0, 0.5)])
    with pytest.raises(TrackError, match="SoundFont .*nope.sf2 not found"):
        render_midi(midi, tmp_path / "x.wav", soundfont=tmp_path / "nope.sf2")
    with pytest.raises(TrackError, match="absent.mid: cannot read"):
        render_midi(tmp_path / "absent.mid", tmp_path / "y.wav")
