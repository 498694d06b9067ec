"""Damaged audio and MIDI files: truncated, empty, garbage — each a TrackError naming the file, the problem and the fix."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import make_info_csv_dataset, write_midi
from counterpoint.data.audio import load_audio
from counterpoint.data.manifest import load_manifest
from counterpoint.data.midi import load_mido, load_pretty_midi, load_score
from counterpoint.data.validation import check_dataset
from counterpoint.errors import TrackError

RATE = 22050
FORMATS = [("wav", "PCM_16"), ("wav", "FLOAT"), ("aiff", "PCM_16"), ("flac", "PCM_16"), ("mp3", "MPEG_LAYER_III"),
           ("ogg", "VORBIS")]


def _write(path: Path, subtype: str, seconds: float = 2.0) -> Path:
    t = np.arange(int(seconds * RATE)) / RATE
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), RATE, subtype=subtype)
    return path


def _cut(path: Path, keep: float) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])
    return path


@pytest.mark.parametrize("extension,subtype", FORMATS)
def test_whole_files_load_in_full(tmp_path, extension, subtype):
    waveform = load_audio(_write(tmp_path / f"x.{extension}", subtype), sample_rate=None)
    assert abs(len(waveform) - 2 * RATE) < 0.05 * RATE


@pytest.mark.parametrize("extension,subtype", FORMATS)
@pytest.mark.parametrize("keep", [0.5, 0.97])
def test_a_file_cut_short_is_called_truncated(tmp_path, extension, subtype, keep):
    path = _cut(_write(tmp_path / f"x.{extension}", subtype), keep)
    with pytest.raises(TrackError, match="truncated") as error:
        load_audio(path, sample_rate=None, track_id="t")
    message = str(error.value)
    assert str(path) in message and "re-export" in message


def test_an_empty_file_says_so(tmp_path):
    for name in ("empty.wav", "empty.mp3"):
        (tmp_path / name).write_bytes(b"")
        with pytest.raises(TrackError, match=r"empty file \(0 bytes\)") as error:
            load_audio(tmp_path / name, sample_rate=RATE)
        assert "EOFError" not in str(error.value) and str(tmp_path / name) in str(error.value)


def test_garbage_bytes_are_not_an_audio_format_and_the_message_is_not_blank(tmp_path):
    path = tmp_path / "noise.wav"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    with pytest.raises(TrackError, match="not a recognised audio format") as error:
        load_audio(path, sample_rate=None)
    assert "()" not in str(error.value) and ": )" not in str(error.value) and str(path) in str(error.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(TrackError, match="file not found"):
        load_audio(tmp_path / "nowhere.wav", sample_rate=None)


def test_midi_empty_truncated_and_garbage_files_are_named(tmp_path):
    whole = write_midi(tmp_path / "whole.mid", [60 + k % 12 for k in range(40)])
    truncated = tmp_path / "truncated.mid"
    truncated.write_bytes(whole.read_bytes()[:len(whole.read_bytes()) // 2])
    empty = tmp_path / "empty.mid"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.mid"
    garbage.write_bytes(b"this is not a standard MIDI file at all")
    for load in (load_pretty_midi, load_mido, load_score):
        with pytest.raises(TrackError, match=r"empty file \(0 bytes\)"):
            load(empty)
        with pytest.raises(TrackError, match="truncated") as error:
            load(truncated)
        assert "EOFError: )" not in str(error.value) and str(truncated) in str(error.value)
        with pytest.raises(TrackError, match="not a MIDI file"):
            load(garbage)


def test_dataset_check_names_truncated_and_empty_files(tmp_path):
    rows = [{"id": f"t{i}", "audio_filename": f"a/t{i}.wav", "midi_filename": f"m/t{i}.mid"} for i in range(3)]
    root = make_info_csv_dataset(tmp_path / "d", rows)
    _cut(root / "a" / "t1.wav", 0.6)
    (root / "m" / "t2.mid").write_bytes(b"")
    problems = {(p.track_id, Path(p.path).name): p for p in check_dataset(load_manifest(root)).problems}
    assert set(problems) == {("t1", "t1.wav"), ("t2", "t2.mid")}
    assert problems[("t1", "t1.wav")].problem.startswith("truncated")
    assert problems[("t2", "t2.mid")].problem == "empty file (0 bytes)"


def with_id3_tag(mp3: Path, claimed_size: int) -> Path:
    """``mp3`` behind an ID3v2.3 header whose size field (four 7-bit bytes) claims ``claimed_size`` bytes."""
    size = bytes((claimed_size >> shift) & 0x7F for shift in (21, 14, 7, 0))
    padding = b"\x00" * min(claimed_size, 10)  # a tag that holds what it claims, when it claims little
    mp3.write_bytes(b"ID3\x03\x00\x00" + size + padding + mp3.read_bytes())
    return mp3


def test_an_mp3_whose_id3_tag_claims_200_mb_names_the_damaged_tag(tmp_path):
    """libsndfile said "File does not exist or is not a regular file (possibly a pipe?)"."""
    path = with_id3_tag(_write(tmp_path / "tagged.mp3", "MPEG_LAYER_III"), 200_000_000)
    with pytest.raises(TrackError, match=r"tagged.mp3: damaged ID3 tag: .* claims 200,000,010 bytes") as raised:
        load_audio(path, sample_rate=None)
    assert "pipe" not in str(raised.value)


def test_an_mp3_with_a_sound_id3_tag_loads(tmp_path):
    path = with_id3_tag(_write(tmp_path / "tagged.mp3", "MPEG_LAYER_III"), 10)
    assert abs(len(load_audio(path, sample_rate=None)) - 2 * RATE) < 0.05 * RATE


def with_wrong_xing_size(mp3: Path) -> Path:
    """``mp3`` whose Xing header (written by LAME) announces 10 MB of stream: mpg123 warns on standard error."""
    data = bytearray(mp3.read_bytes())
    at = data.find(b"Xing")
    flags = int.from_bytes(data[at + 4:at + 8], "big")
    assert flags & 0x2, "the Xing header holds no byte count"
    size_at = at + 8 + (4 if flags & 0x1 else 0)
    data[size_at:size_at + 4] = (10_000_000).to_bytes(4, "big")
    mp3.write_bytes(bytes(data))
    return mp3


def test_mpg123_warnings_on_standard_error_are_logged_naming_the_file(tmp_path, caplog, capfd):
    path = with_wrong_xing_size(_write(tmp_path / "xing.mp3", "MPEG_LAYER_III"))
    with caplog.at_level("WARNING", logger="counterpoint.data.audio"):
        load_audio(path, sample_rate=None, track_id="x")
    messages = [record.getMessage() for record in caplog.records]
    assert any("xing.mp3" in m and "Xing stream size off" in m for m in messages), messages
    assert "Xing" not in capfd.readouterr().err  # nothing left unattributed on the process's standard error
