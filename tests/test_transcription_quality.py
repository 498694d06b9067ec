"""Transcription F-measure (onset and pitch, mir_eval's definition) on MIDI files with known edits, and the
agreement-versus-F analysis of the controlled factors on synthetic data with a known slope."""

from __future__ import annotations

from pathlib import Path

import mir_eval
import numpy as np
import pandas as pd
import pretty_midi
import pytest

from counterpoint.data.transcription_quality import note_scores, transcription_quality


def write_notes(path: Path, notes: list[tuple[int, float]]) -> Path:
    midi = pretty_midi.PrettyMIDI(initial_tempo=120)
    piano = pretty_midi.Instrument(program=0)
    piano.notes = [pretty_midi.Note(80, pitch, start, start + 0.4) for pitch, start in notes]
    midi.instruments.append(piano)
    midi.write(str(path))
    return path


REFERENCE = [(60 + i, 0.5 * i) for i in range(10)]


def edited() -> list[tuple[int, float]]:
    """2 notes deleted, one shifted by 30 ms (still within 50 ms), one by 80 ms (not), one a semitone off."""
    notes = list(REFERENCE[2:])
    notes[0] = (notes[0][0], notes[0][1] + 0.03)
    notes[1] = (notes[1][0], notes[1][1] + 0.08)
    notes[2] = (notes[2][0] + 1, notes[2][1])
    return notes


def test_f_measure_of_known_edits_equals_the_hand_count_and_mir_eval(tmp_path: Path) -> None:
    reference = write_notes(tmp_path / "truth.mid", REFERENCE)
    transcribed = write_notes(tmp_path / "made.mid", edited())
    scores = note_scores(reference, transcribed)
    # by hand: 8 transcribed notes, 10 true ones, 6 matched (5 untouched + the 30-ms shift)
    assert (scores.n_reference, scores.n_transcribed) == (10, 8)
    assert scores.precision == pytest.approx(6 / 8) and scores.recall == pytest.approx(6 / 10)
    assert scores.f_measure == pytest.approx(2 * 6 / (8 + 10))
    # mir_eval itself on the same notes, read back from the files
    read = [pretty_midi.PrettyMIDI(str(p)).instruments[0].notes for p in (reference, transcribed)]
    arrays = [(np.array([[n.start, n.end] for n in notes]), pretty_midi.note_number_to_hz(np.array([n.pitch for n in notes])))
              for notes in read]
    expected = mir_eval.transcription.precision_recall_f1_overlap(*arrays[0], *arrays[1], offset_ratio=None)
    assert scores.f_measure == pytest.approx(expected[2], abs=1e-12)
    assert note_scores(reference, reference).f_measure == 1.0


def test_every_transcribed_row_is_scored_and_a_bad_file_is_a_note(tmp_path: Path) -> None:
    write_notes(tmp_path / "a.mid", REFERENCE)
    write_notes(tmp_path / "a_t.mid", edited())
    write_notes(tmp_path / "b.mid", REFERENCE)
    (tmp_path / "b_t.mid").write_bytes(b"not a midi file")
    tracks = pd.DataFrame({"id": ["a", "a_t", "b", "b_t"], "piece": ["a", "a", "b", "b"],
                           "midi_filename": ["a.mid", "a_t.mid", "b.mid", "b_t.mid"],
                           "midi_source": ["original", "transcribed:x", "original", "transcribed:x"]})
    table, notes = transcription_quality(tracks, [str(tmp_path)])
    assert list(table.id) == ["a_t"] and table.f_measure.iloc[0] == pytest.approx(2 / 3)
    assert len(notes) == 1 and "b_t.mid" in notes[0] and "cannot read" in notes[0]


def test_agreement_by_quality_recovers_a_known_slope_and_its_bins_rise() -> None:
    from counterpoint.analysis.factors import agreement_by_quality

    rng = np.random.default_rng(0)
    f = rng.uniform(0.2, 1.0, 80)
    similarity = 0.5 * f + 0.02 * rng.standard_normal(80)       # 0.05 lost per 0.1 of F
    rows = pd.DataFrame(agreement_by_quality(f, {"partner_similarity": similarity}, n_boot=300, n_perm=199, seed=0))
    slope = rows[rows.measure == "change_per_tenth_f"].iloc[0]
    assert slope.value == pytest.approx(0.05, abs=0.005)
    assert slope.ci_low <= slope.value <= slope.ci_high and slope.ci_low > 0.04 and slope.ci_high < 0.06
    assert slope.p_value == pytest.approx(1 / 200)              # no shuffle of F comes near
    bins = rows[rows.measure == "partner_similarity"]
    assert len(bins) == 4 and bins.n.sum() == 80 and bins.value.is_monotonic_increasing
    assert (bins.f_low.iloc[1:].to_numpy() >= bins.f_high.iloc[:-1].to_numpy()).all()
    # no relation: the slope's interval holds 0 and its p-value is not small
    unrelated = pd.DataFrame(agreement_by_quality(f, {"partner_similarity": rng.standard_normal(80) * 0.1},
                                                  n_boot=300, n_perm=199, seed=0))
    flat = unrelated[unrelated.measure == "change_per_tenth_f"].iloc[0]
    assert flat.ci_low < 0 < flat.ci_high and flat.p_value > 0.05
