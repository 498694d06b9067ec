"""Equivariance across modalities: MIDI transforms, the transformed corpus, and the three measures with
known answers (a pitch-class histogram moves by a cyclic shift, a duration encoder does not move)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import mido
import numpy as np
import pandas as pd
import pretty_midi
import pytest
from typer.testing import CliRunner

import duration_encoder  # noqa: F401  (registers test-durations)
import pitch_class_encoder  # noqa: F401  (registers test-pitch-class)
from conftest import make_info_csv_dataset, write_midi
from counterpoint.analysis.equivariance import (amount_accuracy, displacement_agreement, relative_displacement,
                                                run_equivariance, transform_layouts)
from counterpoint.config import EquivarianceSettings
from counterpoint.data.transforms import (TransformRangeError, amounts_from_text, scale_tempo, transform_dataset,
                                          transpose_midi)
from counterpoint.errors import CounterpointError, StoreError


def band_midi(pitches: list[int], drums: list[int], *, tempo: float = 120.0) -> bytes:
    """A piano line and a drum line (channel 10), 0.25 s apart at 120 bpm."""
    midi = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    piano, kit = pretty_midi.Instrument(program=0), pretty_midi.Instrument(program=0, is_drum=True)
    for i, pitch in enumerate(pitches):
        piano.notes.append(pretty_midi.Note(80, pitch, i * 0.25, i * 0.25 + 0.2))
    for i, pitch in enumerate(drums):
        kit.notes.append(pretty_midi.Note(90, pitch, i * 0.5, i * 0.5 + 0.1))
    midi.instruments += [piano, kit]
    out = io.BytesIO()
    midi.write(out)
    return out.getvalue()


def notes_of(data: bytes) -> dict[bool, list[pretty_midi.Note]]:
    """The notes of each kind of instrument (drums: True), in order."""
    midi = pretty_midi.PrettyMIDI(io.BytesIO(data))
    return {drum: [n for inst in midi.instruments if inst.is_drum == drum for n in inst.notes] for drum in (False, True)}


@pytest.mark.parametrize("semitones", [-5, 1, 6])
def test_transposed_midi_holds_exactly_the_shifted_pitches_and_untouched_drums(semitones):
    original = band_midi([60, 62, 64, 65, 67], [36, 38, 42])
    before, after = notes_of(original), notes_of(transpose_midi(original, semitones))
    assert [n.pitch for n in after[False]] == [n.pitch + semitones for n in before[False]]
    assert [n.pitch for n in after[True]] == [36, 38, 42]
    for kind in (False, True):
        assert [(n.start, n.end, n.velocity) for n in after[kind]] == [(n.start, n.end, n.velocity) for n in before[kind]]


def test_a_transposition_out_of_0_to_127_is_refused_naming_the_note():
    with pytest.raises(TransformRangeError, match=r"song\.mid: transposing by \+3 moves note 126 to 129"):
        transpose_midi(band_midi([60, 126], [36]), 3, name="song.mid")
    # The drums may sit anywhere: only pitched notes count.
    assert [n.pitch for n in notes_of(transpose_midi(band_midi([60], [127]), 3))[True]] == [127]


@pytest.mark.parametrize("rate", [0.8, 1.25])
def test_tempo_factor_divides_every_note_time_by_it(rate):
    original = band_midi([60, 62, 64, 65], [36, 38])
    before, after = notes_of(original), notes_of(scale_tempo(original, rate))
    for kind in (False, True):
        times = np.array([(n.start, n.end) for n in before[kind]])
        np.testing.assert_allclose(np.array([(n.start, n.end) for n in after[kind]]), times / rate, rtol=0, atol=1e-9)
        assert [n.pitch for n in after[kind]] == [n.pitch for n in before[kind]]


def test_tempo_factor_on_a_file_without_a_tempo_event_starts_from_the_midi_default():
    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack([mido.Message("note_on", note=60, velocity=80, time=0),
                            mido.Message("note_off", note=60, velocity=0, time=480),
                            mido.Message("note_on", note=62, velocity=80, time=480),
                            mido.Message("note_off", note=62, velocity=0, time=480)])
    midi.tracks.append(track)
    out = io.BytesIO()
    midi.save(file=out)
    faster = notes_of(scale_tempo(out.getvalue(), 1.25))[False]
    # 120 bpm by default: notes at 0 s and 1 s, 0.5 s long; 1.25 times as fast: at 0 and 0.8 s, 0.4 s long.
    np.testing.assert_allclose([(n.start, n.end) for n in faster], [(0.0, 0.4), (0.8, 1.2)], atol=1e-9)


def test_amounts_are_read_from_text_and_a_wrong_one_is_named():
    assert amounts_from_text("-3, -1,1,3", "transpose") == (-3, -1, 1, 3)
    assert amounts_from_text("0.8,1.25", "tempo") == (0.8, 1.25)
    assert amounts_from_text("", "tempo") == ()
    for text, transform in (("1.5", "transpose"), ("0", "transpose"), ("1", "tempo"), ("-2", "tempo"), ("x", "tempo")):
        with pytest.raises(CounterpointError, match=f"--{transform}"):
            amounts_from_text(text, transform)


# --------------------------------------------------------------------------------------
# Known answers on arrays


def test_relative_displacement_is_zero_for_no_move_and_one_for_a_move_as_far_as_another_piece():
    rng = np.random.default_rng(0)
    originals = rng.normal(size=(10, 6))
    pieces = np.arange(10)
    assert relative_displacement(originals, np.zeros((10, 6)), pieces, n_boot=20).value == 0.0
    # Each piece moved onto the next one: the mean of those distances over the median of all distances.
    from scipy.spatial.distance import pdist

    moved = np.roll(originals, -1, axis=0) - originals
    expected = np.linalg.norm(moved, axis=1).mean() / np.median(pdist(originals))
    estimate = relative_displacement(originals, moved, pieces, n_boot=50)
    assert estimate.value == pytest.approx(expected, rel=1e-12)
    assert estimate.ci_low <= estimate.value <= estimate.ci_high


def test_amount_accuracy_finds_a_displacement_that_names_its_amount_and_not_noise():
    rng = np.random.default_rng(1)
    amounts = np.repeat(np.array(["-1", "2", "5"])[None], 12, axis=0).ravel()
    groups = np.repeat(np.arange(12), 3)
    directions = rng.normal(size=(3, 8))
    named = directions[np.searchsorted(["-1", "2", "5"], amounts)] + 0.1 * rng.normal(size=(36, 8))
    found = amount_accuracy(named, amounts, groups, n_boot=50, n_perm=199)
    assert found.value == 1.0 and found.chance == pytest.approx(1 / 3) and found.p_value == pytest.approx(1 / 200)
    noise = amount_accuracy(rng.normal(size=(36, 8)), amounts, groups, n_boot=50, n_perm=199)
    assert noise.p_value > 0.05 and noise.ci_low <= 1 / 3 + 0.2


def test_agreement_of_the_same_displacements_seen_two_ways_and_of_unrelated_ones():
    rng = np.random.default_rng(2)
    amounts, groups = np.tile([1.0, 3.0], 16), np.repeat(np.arange(16), 2)
    audio = rng.normal(size=(32, 5))
    rotation = np.linalg.qr(rng.normal(size=(5, 5)))[0]
    same = displacement_agreement(audio, audio @ rotation, amounts=amounts, groups=groups, n_boot=40, n_perm=199)
    assert same.value == pytest.approx(1.0, abs=1e-9) and same.p_value == pytest.approx(1 / 200)
    assert same.null_mean < 0.3 and same.ci_low > 0.5
    unrelated = displacement_agreement(audio, rng.normal(size=(32, 4)), amounts=amounts, groups=groups, n_boot=40,
                                       n_perm=199)
    assert abs(unrelated.value) < 0.3 and unrelated.p_value > 0.05


# --------------------------------------------------------------------------------------
# The real path: MIDI pieces → transformed copies rendered → embedded → measured

N_PIECES = 6
TRANSPOSITIONS, TEMPI = (-2, 1, 3), (0.8, 1.25)


@pytest.fixture(scope="module")
def transformed(tmp_path_factory) -> tuple[Path, Path]:
    from counterpoint.embed import embed_dataset

    root = tmp_path_factory.mktemp("equivariance")
    rows = []
    for i in range(N_PIECES):
        # Pieces differ in register, contour and rhythm; the last ends on 126, so +3 leaves MIDI's range.
        pitches = [48 + 4 * i + (k * (i % 4 + 1)) % 8 for k in range(8)]
        write_midi(root / "ds" / "midi" / f"p{i}.mid", pitches + [126] * (i == N_PIECES - 1),
                   step=0.2 + 0.05 * (i % 3), program=i % 2 * 40)
        rows.append({"id": f"p{i}", "audio_filename": "", "midi_filename": f"midi/p{i}.mid",
                     "style": "low" if i < N_PIECES // 2 else "high"})
    make_info_csv_dataset(root / "ds", rows, files=False)
    report = transform_dataset(root / "ds", root / "moved", transpositions=TRANSPOSITIONS, tempo_factors=TEMPI)
    assert not report.failures
    store = root / "moved.h5"
    embed_dataset(root / "moved", store, "test-pitch-class,test-durations,audio-stats", workers=0)
    return root, store


def test_the_corpus_names_each_copy_and_skips_the_one_out_of_range(transformed):
    root, _ = transformed
    info = pd.read_csv(root / "moved" / "info.csv", dtype=str, keep_default_na=False)
    assert len(info) == N_PIECES * (1 + len(TRANSPOSITIONS) + len(TEMPI)) - 1
    assert "p5~transpose+3" not in set(info.id)
    assert set(info["transform"]) == {"original", "transpose", "tempo"}
    assert sorted(set(info.amount)) == ["", "+1", "+3", "-2", "0.8", "1.25"]
    assert (info.groupby("piece").style.nunique() == 1).all() and set(info.piece) == {f"p{i}" for i in range(N_PIECES)}
    for row in info.itertuples():
        assert (root / "moved" / row.audio_filename).is_file() and (root / "moved" / row.midi_filename).is_file()
    again = transform_dataset(root / "ds", root / "moved", transpositions=TRANSPOSITIONS, tempo_factors=TEMPI)
    assert again.made == 0 and again.reused == len(info) and len(again.skipped) == 1
    assert "transposing by +3 moves note" in again.skipped[0]


def test_a_pitch_class_histogram_moves_by_exactly_a_cyclic_shift(transformed):
    from counterpoint.store import Store

    _, store = transformed
    layout = transform_layouts(Store(store).pooled("test-pitch-class"), EquivarianceSettings())["transpose"]
    assert layout.pieces == [f"p{i}" for i in range(N_PIECES)]
    for row, (piece, amount) in enumerate(layout.row_keys()):
        original = layout.originals[layout.pieces.index(piece)]
        np.testing.assert_array_equal(layout.copies[row], np.roll(original, int(amount)))
        np.testing.assert_array_equal(layout.displacement(standardised=False)[row],
                                      np.roll(original, int(amount)) - original)
    # A tempo change keeps every pitch: no displacement at all.
    assert not np.any(transform_layouts(Store(store).pooled("test-pitch-class"),
                                        EquivarianceSettings())["tempo"].displacement())


def test_equivariance_of_a_store_written_by_the_real_path(transformed):
    _, store = transformed
    result = run_equivariance(store, EquivarianceSettings(n_boot=30, n_perm=49))
    moved = result.displacement.set_index(["encoder", "transform", "amount"])
    # Durations do not hear a transposition: it moves them by exactly 0, and its displacement predicts nothing.
    assert (moved.loc[("test-durations", "transpose"), "value"] == 0).all()
    assert (moved.loc[("test-pitch-class", "tempo"), "value"] == 0).all()
    assert (moved.loc[("test-pitch-class", "transpose"), "value"] > 0.1).all()
    assert (moved.loc[("test-durations", "tempo"), "value"] > 0.1).all()
    predicted = result.predictability.set_index(["encoder", "transform"])
    invariant = predicted.loc[("test-durations", "transpose")]
    assert invariant.value == pytest.approx(invariant.chance) and invariant.p_value == 1.0
    assert invariant.chance == pytest.approx(N_PIECES / (3 * N_PIECES - 1))  # -2 and +1 on every piece, +3 on 5
    assert predicted.loc[("test-pitch-class", "transpose"), "n"] == 3 * N_PIECES - 1
    assert result.predictability[["p_holm", "p_bh"]].notna().all().all()
    # Audio × symbolic pairs for each transformation both encoders saw move.
    assert set(zip(result.agreement.symbolic, result.agreement["transform"])) == {
        ("test-pitch-class", "transpose"), ("test-pitch-class", "tempo"), ("test-durations", "transpose"),
        ("test-durations", "tempo")}
    assert result.agreement.value.dropna().between(-1, 1).all()
    # Each table's --n-perm 49 raised to what its Holm family needs: 6 accuracies, 4 agreements (199, the fewest).
    assert result.n_perm == {"predictability": 1199, "agreement": 799}


def test_a_store_without_transformed_copies_names_the_command_that_makes_them(tmp_path):
    from counterpoint.embed import embed_dataset

    make_info_csv_dataset(tmp_path / "ds", [{"id": f"t{i}", "audio_filename": "", "midi_filename": f"m{i}.mid",
                                             "piece": f"t{i}", "transform": "", "amount": ""} for i in range(3)])
    embed_dataset(tmp_path / "ds", tmp_path / "plain.h5", "test-durations", workers=0)
    with pytest.raises(StoreError, match="no row is a transformed copy.*counterpoint dataset transform"):
        run_equivariance(tmp_path / "plain.h5")
    with pytest.raises(StoreError, match="no transform column 'kind'"):
        run_equivariance(tmp_path / "plain.h5", EquivarianceSettings(transform="kind"))


def test_transform_and_equivariance_commands_write_the_corpus_tables_figures_and_a_page(transformed, tmp_path):
    from counterpoint.cli import app

    root, store = transformed
    runner = CliRunner()
    made = runner.invoke(app, ["dataset", "transform", str(root / "ds"), "--out", str(tmp_path / "moved"),
                               "--transpose", "-1", "--tempo", "", "--pieces", "2"])
    assert made.exit_code == 0, made.output
    assert "2 pieces: 4 copies made" in made.output
    assert len(pd.read_csv(tmp_path / "moved" / "info.csv")) == 4
    wrong = runner.invoke(app, ["dataset", "transform", str(root / "ds"), "--out", str(tmp_path / "x"),
                                "--transpose", "0.5"])
    assert wrong.exit_code == 2 and "--transpose '0.5'" in wrong.output
    out = tmp_path / "equivariance"
    run = runner.invoke(app, ["equivariance", str(store), "--out", str(out), "--n-boot", "20", "--n-perm", "19",
                              "--figure-format", "png"])
    assert run.exit_code == 0, run.output
    for name in ("displacement.csv", "predictability.csv", "agreement.csv", "equivariance.json", "index.html",
                 "displacement.png", "tests.png"):
        assert (out / name).is_file(), name
    assert {"p_holm", "p_bh", "ci_low", "ci_high", "chance"} <= set(pd.read_csv(out / "predictability.csv").columns)
    assert json.loads((out / "equivariance.json").read_text())["layouts"]["test-pitch-class"]["transpose"]["amounts"] == \
        [-2.0, 1.0, 3.0]
    page = (out / "index.html").read_text()
    assert "Equivariance across modalities" in page and "one family per table" in page and "relative displacement" in page
    assert "relative displacement" in run.output and "audio and score move alike" in run.output


def test_equivariance_section_is_registered_and_joins_a_report(transformed, tmp_path):
    from counterpoint.report.equivariance import equivariance_section
    from counterpoint.report.sections import sections

    assert "equivariance" in [section.name for section in sections()]
    result = run_equivariance(transformed[1], EquivarianceSettings(n_boot=10, n_perm=9))
    html = equivariance_section(result)(tmp_path, ("png",))
    assert html.startswith('<section id="equivariance">') and (tmp_path / "equivariance" / "agreement.csv").is_file()
    assert 'src="data:image/png' in html


def test_a_report_computes_the_section_on_a_store_with_transformed_copies_only(transformed, tmp_path):
    from counterpoint.config import AnalysisSettings
    from counterpoint.embed import embed_dataset
    from counterpoint.report.sections import SectionInputs, sections
    from counterpoint.store import Store

    run = next(section for section in sections() if section.name == "equivariance").run

    def inputs(path: Path) -> SectionInputs:
        store = Store(path)
        matrices = {record.spec: store.pooled(record.spec) for record in store.encoders_with_tracks()}
        return SectionInputs(store, AnalysisSettings(label="style"), matrices, {}, [], lambda text: None)

    found = inputs(transformed[1])
    result = run(found)
    assert result is not None and len(result.agreement) == 4 and not found.notes
    make_info_csv_dataset(tmp_path / "ds", [{"id": f"t{i}", "audio_filename": "", "midi_filename": f"m{i}.mid",
                                             "style": "a"} for i in range(3)])
    embed_dataset(tmp_path / "ds", tmp_path / "plain.h5", "test-durations", workers=0)
    plain = inputs(tmp_path / "plain.h5")
    assert run(plain) is None and not plain.notes


def test_demo_options_of_equivariance_that_cannot_combine(tmp_path):
    from counterpoint.cli import app

    runner = CliRunner()
    alone = runner.invoke(app, ["demo", str(tmp_path / "demo"), "--equivariance-pieces", "5"])
    assert alone.exit_code == 2 and "--equivariance-pieces needs --equivariance" in alone.output
    both = runner.invoke(app, ["demo", str(tmp_path / "demo"), "--equivariance", "--factors"])
    assert both.exit_code == 2 and "--equivariance cannot be combined with --factors" in both.output
    assert not (tmp_path / "demo").exists()
    seed = runner.invoke(app, ["dataset", "transform", str(tmp_path), "--out", str(tmp_path / "moved"), "--seed", "3"])
    assert seed.exit_code == 2 and "--seed needs --pieces" in seed.output and not (tmp_path / "moved").exists()


def test_a_file_that_cannot_be_read_is_a_named_failure_and_the_other_pieces_are_made(tmp_path):
    write_midi(tmp_path / "ds" / "good.mid", [60, 64, 67, 72])
    (tmp_path / "ds" / "broken.mid").write_bytes(b"not a MIDI file")
    make_info_csv_dataset(tmp_path / "ds", [{"id": "good", "audio_filename": "", "midi_filename": "good.mid"},
                                            {"id": "broken", "audio_filename": "", "midi_filename": "broken.mid"}],
                          files=False)
    report = transform_dataset(tmp_path / "ds", tmp_path / "moved", transpositions=(2,), tempo_factors=())
    assert [failure.track_id for failure in report.failures] == ["broken"] and "broken.mid" in report.failures[0].error
    info = pd.read_csv(report.info_csv, dtype=str, keep_default_na=False)
    assert list(info.id) == ["good~original", "good~transpose+2"]
    assert pd.read_csv(report.failures_csv).track_id.tolist() == ["broken"]
    assert [n.pitch for n in notes_of((tmp_path / "moved" / info.midi_filename[1]).read_bytes())[False]] == [62, 66, 69, 74]
