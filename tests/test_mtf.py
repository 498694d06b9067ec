"""MIDI → MTF: the reference converter's text, true event times, and errors naming the file."""

from __future__ import annotations

from pathlib import Path

import mido
import numpy as np
import pytest

from counterpoint.encoders.mtf import midi_to_mtf
from counterpoint.errors import TrackError

FIXTURES = Path(__file__).parent / "fixtures"
CASES = ("bach_bwv66_6", "groove_funk", "haydn_op20n1", "slakh_track00001_all")


@pytest.mark.parametrize("name", CASES)
def test_mtf_text_matches_reference_converter(name: str) -> None:
    expected = (FIXTURES / "clamp2" / f"clamp2_{name}.mtf").read_text(encoding="utf-8")
    mtf = midi_to_mtf(FIXTURES / "midi" / f"{name}.mid")
    assert mtf.text == expected
    assert len(mtf.line_seconds) == expected.count("\n") + 1


@pytest.mark.parametrize("name", ("bach_bwv66_6", "slakh_track00001_all"))
def test_line_times_match_pretty_midi_note_onsets(name: str) -> None:
    import pretty_midi

    path = FIXTURES / "midi" / f"{name}.mid"
    mtf = midi_to_mtf(path)
    lines = mtf.text.split("\n")
    onsets = [t for line, t in zip(lines, mtf.line_seconds) if line.startswith("note_on ") and int(line.rsplit(" ", 1)[1]) > 0]
    reference = [note.start for inst in pretty_midi.PrettyMIDI(str(path)).instruments for note in inst.notes]
    # pretty_midi skips a few unterminated notes, so compare the distinct onset times
    ours, theirs = np.unique(np.round(onsets, 6)), np.unique(np.round(reference, 6))
    assert len(ours) == len(theirs) > 10
    np.testing.assert_allclose(ours, theirs, atol=2e-6)
    assert np.all(np.diff(mtf.line_seconds) >= 0)
    assert mtf.duration == pytest.approx(mido.MidiFile(str(path)).length)


def _midi_with_extras(path: Path) -> None:
    """One track: a name, a sysex, two notes with a tempo change between them."""
    track = mido.MidiTrack([
        mido.MetaMessage("track_name", name="Piano", time=0),
        mido.MetaMessage("set_tempo", tempo=500_000, time=0),
        mido.Message("sysex", data=(65, 16, 66), time=0),
        mido.Message("note_on", note=60, velocity=80, time=0),
        mido.MetaMessage("marker", text="B", time=480),  # dropped, but its 0.5 s must count
        mido.Message("note_off", note=60, velocity=0, time=0),
        mido.MetaMessage("set_tempo", tempo=1_000_000, time=0),
        mido.Message("note_on", note=62, velocity=80, time=480),
        mido.Message("note_off", note=62, velocity=0, time=480),
    ])
    midi = mido.MidiFile(ticks_per_beat=480)
    midi.tracks.append(track)
    midi.save(str(path))


def test_converters_drop_what_the_references_drop(tmp_path: Path) -> None:
    path = tmp_path / "extras.mid"
    _midi_with_extras(path)
    clamp2 = midi_to_mtf(path, converter="clamp2")
    clamp3 = midi_to_mtf(path, converter="clamp3")
    lines = clamp2.text.split("\n")
    kinds2 = {line.split(" ")[0] for line in lines}
    kinds3 = {line.split(" ")[0] for line in clamp3.text.split("\n")}
    assert not kinds2 & {"track_name", "marker", "sysex"}
    assert not kinds3 & {"track_name", "marker"}
    assert "sysex 0 [65, 16, 66]" in clamp3.text.split("\n")
    assert lines[0] == "ticks_per_beat 480"
    # the marker's 480 ticks vanish from the text (as in the reference) but not from the times
    assert "note_off 0 0 60 0" in lines
    second = lines.index("note_on 480 0 62 80")
    assert clamp2.line_seconds[second] == pytest.approx(0.5 + 1.0)
    assert clamp2.duration == pytest.approx(2.5)


def test_noteless_midi_is_a_track_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "silent.mid"
    midi = mido.MidiFile()
    midi.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500_000, time=0)]))
    midi.save(str(path))
    with pytest.raises(TrackError, match="silent.mid.*no notes"):
        midi_to_mtf(path)


def test_corrupt_midi_is_a_track_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.mid"
    path.write_bytes(b"MThd\x00\x00\x00\x06\x00\x01" + bytes(range(7)))
    with pytest.raises(TrackError, match="broken.mid"):
        midi_to_mtf(path, track_id="t1")
