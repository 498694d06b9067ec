"""Aligning audio to score: DTW recovers known stretches and offsets; paths are kept and reused."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pretty_midi
import pytest
import soundfile as sf

from counterpoint.data.time_pairing import align_files, dtw_hop, dtw_path, method_for, pair_tracks_in_time, path_errors
from counterpoint.data.chroma import CHROMA_SAMPLE_RATE, chroma_columns
from counterpoint.data.render import synthesize
from counterpoint.errors import CounterpointError
from counterpoint.warping import (IDENTITY, WarpingPath, WarpingPathFile, alignment_error_summary, rendering_check,
                                  warping_file_path)

from conftest import FIXTURES

EXCERPT_SECONDS = 8.0
#: (time-stretch factor of the audio, seconds of silence before it)
WARPS = ((1.0, 0.0), (1.2, 0.7), (0.85, 1.5))


def excerpt(seconds: float = EXCERPT_SECONDS) -> pretty_midi.PrettyMIDI:
    """The first ``seconds`` of a real Bach chorale MIDI file."""
    source = pretty_midi.PrettyMIDI(str(FIXTURES / "midi" / "bach_bwv66_6.mid"))
    return warped(source, 1.0, 0.0, seconds)


def warped(midi: pretty_midi.PrettyMIDI, stretch: float, offset: float, until: float = np.inf) -> pretty_midi.PrettyMIDI:
    """``midi``'s notes starting before ``until``, at ``offset + stretch · t``."""
    out = pretty_midi.PrettyMIDI(initial_tempo=120)
    for instrument in midi.instruments:
        new = pretty_midi.Instrument(instrument.program, instrument.is_drum)
        new.notes = [pretty_midi.Note(n.velocity, n.pitch, offset + stretch * n.start,
                                      offset + stretch * min(n.end, until)) for n in instrument.notes if n.start < until]
        out.instruments.append(new)
    return out


def midi_bytes(midi: pretty_midi.PrettyMIDI) -> bytes:
    buffer = io.BytesIO()
    midi.write(buffer)
    return buffer.getvalue()


def write_pair(folder: Path, name: str, score: pretty_midi.PrettyMIDI, stretch: float, offset: float) -> tuple[Path, Path]:
    """``name.mid`` (the score) and ``name.wav`` (its rendering stretched by ``stretch`` after ``offset`` s of silence)."""
    folder.mkdir(parents=True, exist_ok=True)
    midi_path, wav_path = folder / f"{name}.mid", folder / f"{name}.wav"
    score.write(str(midi_path))
    sf.write(wav_path, synthesize(midi_bytes(warped(score, stretch, offset)), sample_rate=CHROMA_SAMPLE_RATE),
             CHROMA_SAMPLE_RATE)
    return wav_path, midi_path


@pytest.fixture(scope="module")
def warped_pairs(tmp_path_factory) -> dict[tuple[float, float], tuple[Path, Path]]:
    folder = tmp_path_factory.mktemp("warped")
    score = excerpt()
    return {(s, o): write_pair(folder, f"bach_{s}_{o}", score, s, o) for s, o in WARPS}


def onsets(midi: pretty_midi.PrettyMIDI) -> np.ndarray:
    return np.unique([note.start for instrument in midi.instruments for note in instrument.notes])


def test_dtw_recovers_known_stretch_and_offset_within_50_ms(warped_pairs):
    score_onsets = onsets(excerpt())
    for (stretch, offset), (wav, mid) in warped_pairs.items():
        errors = path_errors(align_files(wav, mid), lambda t: offset + stretch * t, score_onsets)
        summary = alignment_error_summary([errors])
        assert summary["median_s"] < 0.050, (stretch, offset, summary)
        # The first chord is not smeared into the leading silence, nor the last into the release tail.
        assert errors[0] < 0.1 and errors[-1] < 0.2, (stretch, offset, errors[0], errors[-1])


def test_dtw_path_of_a_known_construction():
    """Score of 4 chords; audio = the same chords, each held twice as long, after 2 frames of silence."""
    rate = 10.0
    chords = np.eye(12)[:, [0, 4, 7, 2]]
    score = chroma_columns(chords, np.zeros(4, dtype=bool))
    audio_chroma = np.hstack([np.zeros((12, 2)), np.repeat(chords, 2, axis=1)])
    audio = chroma_columns(audio_chroma, np.array([True, True] + [False] * 8))
    path = dtw_path(score, audio, rate)
    # Score column k (k/10 .. (k+1)/10 s) sounds at audio frames 2 + 2k and 3 + 2k.
    for k in range(4):
        matched = path.audio_seconds[np.isclose(path.score_seconds, (k + 0.5) / rate)]
        assert sorted(np.round(matched * rate).astype(int)) == [2 + 2 * k, 3 + 2 * k]


def test_identity_and_interpolation():
    assert np.array_equal(IDENTITY.audio_to_score(np.array([0.0, 3.5])), [0.0, 3.5])
    path = WarpingPath("dtw", np.array([0.0, 1.0, 1.0, 2.0]), np.array([0.5, 1.5, 2.5, 3.5]))
    # Score 1.0 meets audio 1.5 and 2.5: it maps to their mean 2.0, halfway from score 0 (audio 0.5); audio 2.0 to score 1.0.
    assert np.allclose(path.score_to_audio(np.array([0.0, 0.5, 1.0, 2.0])), [0.5, 1.25, 2.0, 3.5])
    assert np.allclose(path.audio_to_score(np.array([0.5, 1.0, 2.0, 3.0])), [0.0, 0.5, 1.0, 1.5])
    # Audio outside the matched stretch (before 0.5 s, after 3.5 s) has no score time.
    assert np.isnan(path.audio_to_score(np.array([0.2, 4.0]))).all()


def test_method_choice():
    assert method_for("rendered:TimGM6mb", "auto") == "identity"
    assert method_for("original", "auto") == method_for("", "auto") == "dtw"
    assert method_for("rendered:TimGM6mb", "dtw") == "dtw"
    with pytest.raises(CounterpointError, match="--alignment 'exact'"):
        method_for("", "exact")


def test_long_tracks_get_a_coarser_hop_below_the_frame_cap():
    assert dtw_hop(30.0) == 512
    hop = dtw_hop(600.0)
    assert hop % 64 == 0 and 600.0 * CHROMA_SAMPLE_RATE / hop <= 4000 < 600.0 * CHROMA_SAMPLE_RATE / (hop - 64)


def test_paths_are_kept_reused_recomputed_when_a_file_changes_and_a_bad_track_is_a_note(warped_pairs, tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    rows = []
    for i, (stretch, offset) in enumerate(WARPS[:2]):
        wav, mid = warped_pairs[(stretch, offset)]
        (root / wav.name).write_bytes(wav.read_bytes())
        (root / mid.name).write_bytes(mid.read_bytes())
        rows.append({"id": f"t{i}", "audio_filename": wav.name, "midi_filename": mid.name, "audio_source": "original"})
    (root / "broken.wav").write_bytes(b"RIFF not a wave")
    rows.append({"id": "broken", "audio_filename": "broken.wav", "midi_filename": rows[0]["midi_filename"],
                 "audio_source": "original"})
    rows.append({"id": "rendered", "audio_filename": rows[0]["audio_filename"],
                 "midi_filename": rows[0]["midi_filename"], "audio_source": "rendered:TimGM6mb"})
    obs = pd.DataFrame(rows)
    kept = WarpingPathFile(warping_file_path(tmp_path / "embeddings.h5"))
    assert kept.path == tmp_path / "embeddings.warping.h5"

    first = pair_tracks_in_time(obs, root, "auto", kept=kept)
    assert first.methods == {"t0": "dtw", "t1": "dtw", "rendered": "identity"}
    assert len(first.notes) == 1 and "'broken'" in first.notes[0] and "broken.wav" in first.notes[0]
    assert sorted(kept.track_ids()) == ["t0", "t1"]

    second = pair_tracks_in_time(obs, root, "auto", kept=kept)
    assert second.methods["t0"] == second.methods["t1"] == "dtw (kept)"
    assert np.array_equal(second.paths["t1"].audio_seconds, first.paths["t1"].audio_seconds)

    # t1's audio replaced by another stretch: its path is computed again, t0's is reused.
    replacement = warped_pairs[WARPS[2]][0]
    (root / rows[1]["audio_filename"]).write_bytes(replacement.read_bytes())
    third = pair_tracks_in_time(obs, root, "auto", kept=kept)
    assert third.methods["t0"] == "dtw (kept)" and third.methods["t1"] == "dtw"
    stretch, offset = WARPS[2]
    errors = path_errors(third.paths["t1"], lambda t: offset + stretch * t, onsets(excerpt()))
    assert np.median(errors) < 0.050
    assert pair_tracks_in_time(obs, root, "auto", kept=kept).methods["t1"] == "dtw (kept)"


def test_a_damaged_kept_file_is_a_note_and_paths_are_computed(warped_pairs, tmp_path):
    wav, mid = warped_pairs[WARPS[0]]
    obs = pd.DataFrame([{"id": "t0", "audio_filename": wav.name, "midi_filename": mid.name}])
    kept = WarpingPathFile(tmp_path / "embeddings.warping.h5")
    kept.path.write_bytes(b"not HDF5")
    result = pair_tracks_in_time(obs, wav.parent, "dtw", kept=kept)
    assert result.methods == {"t0": "dtw"}
    assert any("delete the file" in note for note in result.notes)


def test_dtw_on_a_rendering_is_checked_against_the_identity(warped_pairs):
    wav, mid = warped_pairs[(1.0, 0.0)]  # a plain rendering: the true path is the identity
    obs = pd.DataFrame([{"id": "r", "audio_filename": wav.name, "midi_filename": mid.name,
                         "audio_source": "rendered:TimGM6mb"}])
    alignments = pair_tracks_in_time(obs, wav.parent, "dtw")
    check = rendering_check(alignments, obs)
    assert check["tracks"] == 1 and check["median_s"] < 0.050 and check["p95_s"] >= check["median_s"]
    assert rendering_check(pair_tracks_in_time(obs, wav.parent, "auto"), obs) is None  # identity: nothing to check
