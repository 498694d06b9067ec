"""Controlled factors (issue 15 §3): variance decomposition, agreement between renderings, ground truth vs
transcription — on constructions with known answers, then end to end on a store written by the real
render → transcribe → embed path."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import make_info_csv_dataset, write_midi
from counterpoint.analysis.factors import (rendering_agreement, run_factors, sums_of_squares,
                                           transcription_agreement, variance_decomposition, variance_shares)
from counterpoint.config import FactorSettings
from counterpoint.errors import CounterpointError


def test_sums_of_squares_of_a_2x2_layout_by_hand():
    # pieces × renderings: [[1, 3], [5, 11]]. Grand mean 5; total (16 + 4 + 0 + 36) = 56.
    # Piece means 2, 8: 2·(9 + 9) = 36. Rendering means 3, 7: 2·(4 + 4) = 16. Residuals ±1: 4.
    cube = np.array([[1.0, 3.0], [5.0, 11.0]])[:, :, None]
    assert sums_of_squares(cube) == pytest.approx({"total": 56, "piece": 36, "rendering": 16, "residual": 4})
    # A second feature adds its own sums (multivariate = summed over features): 10·[[1, 3], [5, 11]].
    both = np.concatenate([cube, 10 * cube], axis=2)
    assert sums_of_squares(both) == pytest.approx({"total": 5656, "piece": 3636, "rendering": 1616, "residual": 404})
    assert variance_shares(both) == pytest.approx({"piece": 36 / 56, "rendering": 16 / 56, "residual": 4 / 56})


def test_label_share_splits_the_piece_share_by_hand():
    # Four pieces (means 1, 3, 7, 9) × two renderings (−1, +1 around the piece mean); labels a a b b.
    # Grand 5; piece 2·(16 + 4 + 4 + 16) = 80; labels' means 2 and 8: 2·2·(9 + 9) = 72, so 8 within;
    # rendering means 4, 6: 4·(1 + 1) = 8; no residual; total 25+9+9+1+1+9+9+25 = 88.
    cube = np.array([[m - 1.0, m + 1.0] for m in (1, 3, 7, 9)])[:, :, None]
    sums = sums_of_squares(cube, np.array(["a", "a", "b", "b"]))
    assert sums == pytest.approx({"total": 88, "piece": 80, "rendering": 8, "residual": 0, "label": 72,
                                  "piece_within_label": 8}, abs=1e-9)


def designed_cube(n_pieces: int, piece_sd: float, rendering_effects: np.ndarray, noise_sd: float,
                  seed: int = 0) -> np.ndarray:
    """x_ij = a_i + b_j + e_ij: piece effects a_i ~ N(0, piece_sd² I), fixed rendering effects b_j, noise."""
    rng = np.random.default_rng(seed)
    n_renderings, dim = rendering_effects.shape
    pieces = rng.normal(0, piece_sd, (n_pieces, 1, dim))
    return pieces + rendering_effects[None] + rng.normal(0, noise_sd, (n_pieces, n_renderings, dim))


def test_decomposition_recovers_the_shares_of_a_designed_layout():
    n_pieces, dim, piece_sd, noise_sd = 300, 6, 2.0, 0.5
    effects = np.array([[1.0] * dim, [-1.0] * dim, [0.0] * dim])  # centred; Σ_j ‖b_j‖² = 2·dim
    cube = designed_cube(n_pieces, piece_sd, effects, noise_sd)
    P, R = n_pieces, len(effects)
    # Expected sums of squares of the layout (per feature, times dim).
    expected = {"piece": R * (P - 1) * (piece_sd ** 2 + noise_sd ** 2 / R) * dim,
                "rendering": P * 2 * dim + (R - 1) * noise_sd ** 2 * dim,
                "residual": (P - 1) * (R - 1) * noise_sd ** 2 * dim}
    total = sum(expected.values())
    shares = variance_decomposition(cube, n_boot=100, n_perm=99, seed=1)
    for factor, value in expected.items():
        share = shares[factor]
        assert share.value == pytest.approx(value / total, abs=0.02)
        assert share.ci_low <= value / total <= share.ci_high and 0 <= share.ci_low <= share.ci_high <= 1
        assert share.n == P
    assert sum(s.value for s in shares.values()) == pytest.approx(1.0)
    assert shares["piece"].p_value == shares["rendering"].p_value == pytest.approx(0.01)  # 1 / (1 + 99)
    assert np.isnan(shares["residual"].p_value)


def test_no_rendering_effect_gives_a_small_share_and_no_evidence():
    cube = designed_cube(60, 1.0, np.zeros((2, 4)), 0.3, seed=3)
    shares = variance_decomposition(cube, n_boot=50, n_perm=199, seed=0)
    assert shares["rendering"].value < 0.02 and shares["rendering"].p_value > 0.05
    # Under the null, the rendering share is what shuffling renderings within pieces gives.
    assert shares["rendering"].null_mean == pytest.approx(shares["rendering"].value, abs=0.01)
    assert shares["piece"].value > 0.9 and shares["piece"].p_value < 0.01


def test_label_share_is_tested_against_shuffled_labels():
    rng = np.random.default_rng(4)
    classes = np.repeat(["a", "b", "c"], 12)
    style = {"a": -3.0, "b": 0.0, "c": 3.0}
    cube = np.array([[style[c] + rng.normal(0, 1, 3)] * 2 for c in classes]) + rng.normal(0, 0.2, (36, 2, 3))
    shares = variance_decomposition(cube, classes, n_boot=50, n_perm=99, seed=0)
    assert shares["label"].value + shares["piece_within_label"].value == pytest.approx(shares["piece"].value)
    assert shares["label"].value > 0.7 and shares["label"].p_value == pytest.approx(0.01)
    assert shares["label"].null_mean < 0.2


def test_identical_and_rotated_renderings_agree_fully():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 5))
    rotation, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    for Y in (X, X @ rotation):
        estimate = rendering_agreement(X, Y, n_boot=50, n_perm=99)
        assert estimate.value == pytest.approx(1.0) and estimate.p_value == pytest.approx(0.01)
        assert estimate.ci_high <= 1.0
    unrelated = rendering_agreement(X, rng.normal(size=(30, 5)), n_boot=50, n_perm=99)
    assert abs(unrelated.value) < 0.2 and unrelated.p_value > 0.05


def test_transcription_agreement_tells_a_faithful_transcription_from_an_unrelated_one():
    rng = np.random.default_rng(1)
    truth = rng.normal(size=(40, 6))
    faithful = transcription_agreement(truth, truth + rng.normal(0, 0.05, truth.shape), k=5, n_boot=50, n_perm=99)
    assert set(faithful) == {"cka_debiased", "mutual_knn@5", "recall@1 transcribed→truth", "recall@1 truth→transcribed"}
    assert faithful["recall@1 transcribed→truth"].value == 1.0 and faithful["recall@1 truth→transcribed"].value == 1.0
    assert faithful["recall@1 transcribed→truth"].chance == pytest.approx(1 / 40)
    assert faithful["cka_debiased"].value > 0.95 and faithful["mutual_knn@5"].value > 0.8
    assert all(e.p_value == pytest.approx(0.01) for e in faithful.values())
    unrelated = transcription_agreement(truth, rng.normal(size=truth.shape), k=5, n_boot=50, n_perm=99)
    assert unrelated["recall@1 transcribed→truth"].value < 0.15 and abs(unrelated["cka_debiased"].value) < 0.2
    assert unrelated["mutual_knn@5"].value == pytest.approx(unrelated["mutual_knn@5"].chance, abs=0.1)


# --------------------------------------------------------------------------------------
# End to end: MIDI pieces → two SoundFonts → basic-pitch → audio-stats + symbolic-stats → factors

N_PIECES = 8


@pytest.fixture(scope="module")
def designed_store(tmp_path_factory) -> Path:
    from counterpoint.data.render import render_dataset
    from counterpoint.data.transcribe import transcribe_dataset
    from counterpoint.embed import embed_dataset

    root = tmp_path_factory.mktemp("factors")
    rows = []
    for i in range(N_PIECES):
        # Pieces differ in register and contour; 8 notes of 0.25 s: 2 s each.
        base = 48 + 5 * i
        write_midi(root / "midi" / f"p{i}.mid", [base + (k * (i % 3 + 1)) % 12 for k in range(8)], program=i % 2 * 40)
        rows.append({"id": f"p{i}", "audio_filename": "", "midi_filename": f"midi/p{i}.mid",
                     "style": "low" if i < N_PIECES // 2 else "high"})
    make_info_csv_dataset(root / "ds", rows, files=False)
    (root / "ds" / "midi").symlink_to(root / "midi")
    render_dataset(root / "ds", root / "designed", soundfonts=["timgm6mb", "merlin"])
    transcribe_dataset(root / "designed", every_row=True)
    store = root / "designed.h5"
    embed_dataset(root / "designed", store, "audio-stats,symbolic-stats", workers=0)
    return store


def test_factors_of_a_store_written_by_the_real_path(designed_store):
    result = run_factors(designed_store, FactorSettings(label="style", n_boot=30, n_perm=49))
    assert result.layouts["audio-stats"]["renderings"] == ["rendered:Merlin", "rendered:TimGM6mb"]
    assert len(result.layouts["audio-stats"]["pieces"]) == N_PIECES
    variance = result.variance.set_index("factor")
    assert set(variance.index) == {"piece", "rendering", "residual", "label", "piece_within_label"}
    assert variance.loc[["piece", "rendering", "residual"], "share"].sum() == pytest.approx(1.0)
    assert variance.share.between(0, 1).all() and (variance.ci_low <= variance.ci_high).all()
    assert variance.loc["piece", "n_pieces"] == N_PIECES and variance.loc["piece", "n_renderings"] == 2
    finite = result.variance.p_value.notna()
    assert (result.variance.p_holm[finite] >= result.variance.p_value[finite]).all()
    assert result.variance.p_holm[~finite].isna().all()
    assert list(result.renderings[["rendering_a", "rendering_b"]].iloc[0]) == ["rendered:Merlin", "rendered:TimGM6mb"]
    assert result.renderings.value.between(-1, 1).all()
    # Two transcriptions (one per rendering) of the symbolic encoder, each against the ground truth.
    made, _, rendering = result.transcription.transcription.str.partition(" of ").T.to_numpy()
    assert set(rendering) == {"rendered:Merlin", "rendered:TimGM6mb"}
    assert all(source.startswith("transcribed:basic-pitch-") for source in made)
    recall = result.transcription[result.transcription.measure == "recall@1 transcribed→truth"]
    assert np.allclose(recall.chance, 1 / N_PIECES) and recall.value.between(0, 1).all()
    assert result.transcription[["p_holm", "p_bh"]].notna().all().all()
    # Each table's --n-perm 49 is raised to what its Holm family needs (10 · m / 0.05 − 1): 4 tested shares,
    # 1 pair of renderings (199, the fewest), 2 transcriptions × 4 figures; the nulls then reach p = 1 / (n + 1).
    assert result.n_perm == {"variance": 799, "renderings": 199, "transcription": 1599}
    assert result.variance.p_value.min() >= 1 / 800 and not any("permutations each" in n for n in result.notes)


def test_fixed_permutations_too_few_for_a_family_are_a_note(designed_store):
    result = run_factors(designed_store, FactorSettings(label="style", n_boot=10, n_perm=19, fixed_n_perm=True))
    assert result.n_perm == {"variance": 19, "renderings": 19, "transcription": 19}
    assert result.variance.p_value.min() >= 1 / 20
    families = [note.split(":")[0] for note in result.notes if "permutations each" in note]
    assert families == ["variance table", "renderings table", "transcription table"]  # 4 / 20, 1 / 20, 8 / 20 ≥ 0.05


def test_factors_command_writes_tables_json_figures_and_a_page(designed_store, tmp_path):
    from counterpoint.cli import app

    out = tmp_path / "factors"
    run = CliRunner().invoke(app, ["factors", str(designed_store), "--out", str(out), "--label", "style",
                                   "--n-boot", "20", "--n-perm", "19", "--figure-format", "png"])
    assert run.exit_code == 0, run.output
    for name in ("variance.csv", "renderings.csv", "transcription.csv", "factors.json", "index.html",
                 "variance_shares.png", "agreement.png"):
        assert (out / name).is_file(), name
    table = pd.read_csv(out / "variance.csv")
    assert {"p_holm", "p_bh", "ci_low", "ci_high"} <= set(table.columns)
    page = (out / "index.html").read_text()
    assert "Controlled factors" in page and "one family" in page and "audio-stats" in page
    assert "variance shares" in run.output and "between renderings" in run.output and "ground truth vs" in run.output


def test_factors_section_joins_the_main_report(designed_store, tmp_path):
    from counterpoint.report.factors import factors_section

    result = run_factors(designed_store, FactorSettings(n_boot=10, n_perm=9))
    html = factors_section(result)(tmp_path, ("png",))
    assert html.startswith('<section id="factors">') and (tmp_path / "factors" / "variance.csv").is_file()
    assert 'src="data:image/png' in html  # the figures are inlined


def test_a_store_without_the_piece_column_names_it_and_the_fix(designed_store):
    with pytest.raises(CounterpointError, match=r"no piece column 'work'.*--piece"):
        run_factors(designed_store, FactorSettings(piece="work"))


def test_designed_corpus_of_the_demo_renders_each_piece_twice_and_transcribes_each_rendering(tmp_path):
    from counterpoint.data.demo import build_factors_corpus

    demo = tmp_path / "demo"
    rows = []
    for i, style in enumerate(["chorale", "chorale", "chorale", "tune", "tune"]):
        write_midi(demo / "midi" / f"s{i}.mid", [60 + i + k % 5 for k in range(6)])
        rows.append({"id": f"s{i}", "audio_filename": f"audio/s{i}.wav", "midi_filename": f"midi/s{i}.mid",
                     "style": style, "composer": "c", "work": f"w{i}", "group": f"w{i}", "split": "train"})
    make_info_csv_dataset(demo, rows, files=False)
    corpus, failures = build_factors_corpus(demo, tmp_path / "factors", pieces_per_style=2, seed=0)
    table = pd.read_csv(corpus / "info.csv", keep_default_na=False).set_index("id")
    assert failures == [] and len(table) == 4 * 4  # 2 styles × 2 pieces × 2 renderings × (truth + transcription)
    assert table["style"].value_counts().to_dict() == {"chorale": 8, "tune": 8}
    assert set(table.audio_source) == {"rendered:TimGM6mb", "rendered:Merlin"}
    assert (table.groupby("piece").size() == 4).all()
    transcribed = table[table.midi_source.str.startswith("transcribed:")]
    assert len(transcribed) == 8 and all(i.endswith("~transcribed") for i in transcribed.index)
    assert all((corpus / name).is_file() for name in table.audio_filename)


def hand_matrix(rows: list[tuple[str, str, str]], modality: str) -> "EmbeddingMatrix":
    """Rows (piece, audio_source, midi_source); row i's embedding is [i, 10 i]."""
    from counterpoint.matrix import EmbeddingMatrix

    obs = pd.DataFrame([{"id": f"r{i}", "piece": p, "audio_source": a, "midi_source": m, "style": p[0]}
                        for i, (p, a, m) in enumerate(rows)])
    X = np.array([[i, 10 * i] for i in range(len(rows))], dtype=np.float32)
    return EmbeddingMatrix("enc", modality, X, obs)


def test_rendering_layout_keeps_complete_pieces_once_per_rendering():
    from counterpoint.analysis.factors import rendering_layout

    T = "transcribed:bp"
    matrix = hand_matrix([("a1", "r:one", "original"), ("a1", "r:two", "original"), ("a1", "r:one", T),
                          ("b1", "r:two", "original"), ("b1", "r:one", "original"),
                          ("c1", "r:one", "original")], "audio")  # c1 lacks r:two
    layout = rendering_layout(matrix, FactorSettings(label="style"))
    assert layout.pieces == ["a1", "b1"] and layout.renderings == ["r:one", "r:two"] and layout.left_out == 1
    # a1: rows 0 (r:one; its transcribed row 2 repeats it) and 1; b1: rows 4 (r:one) and 3.
    assert layout.cube[:, :, 0].tolist() == [[0, 1], [4, 3]] and list(layout.classes) == ["a", "b"]


def test_transcription_pairs_match_each_transcription_to_its_pieces_ground_truth():
    from counterpoint.analysis.factors import transcription_pairs

    T = "transcribed:bp"
    matrix = hand_matrix([("a", "r:one", "original"), ("b", "r:one", "original"), ("b", "r:one", T),
                          ("a", "r:one", T), ("a", "r:two", T), ("c", "r:two", T)], "symbolic")
    found = {pairs.transcription: pairs for pairs in transcription_pairs(matrix, FactorSettings())}
    assert set(found) == {f"{T} of r:one", f"{T} of r:two"}
    one = found[f"{T} of r:one"]
    assert one.pieces == ["a", "b"] and one.truth[:, 0].tolist() == [0, 1] and one.transcribed[:, 0].tolist() == [3, 2]
    assert found[f"{T} of r:two"].pieces == ["a"]  # c has no ground truth


def test_factors_command_scores_each_transcription_and_relates_agreement_to_it(designed_store, tmp_path):
    """Every transcribed row gets mir_eval's note F-measure against its piece's ground truth, and the
    transcription-noise table bins and regresses the per-piece partner figures on it."""
    from counterpoint.cli import app
    from counterpoint.data.transcription_quality import note_scores
    from counterpoint.store import Store

    out = tmp_path / "factors"
    run = CliRunner().invoke(app, ["factors", str(designed_store), "--out", str(out), "--n-boot", "20", "--n-perm", "19",
                                   "--figure-format", "png"])
    assert run.exit_code == 0, run.output
    quality = pd.read_csv(out / "transcription_quality.csv")
    assert len(quality) == 2 * N_PIECES and quality.f_measure.between(0, 1).all()
    store = Store(designed_store)
    tracks = store.tracks().set_index("id")
    first = quality.iloc[0]
    root = Path(store.roots[0])
    expected = note_scores(root / tracks.loc[first.reference_id, "midi_filename"], root / tracks.loc[first.id, "midi_filename"])
    assert first.f_measure == pytest.approx(expected.f_measure, abs=1e-12)
    noise = pd.read_csv(out / "transcription_noise.csv")
    slopes = noise[noise.measure == "change_per_tenth_f"]
    assert len(slopes) == 2 * 2 and set(slopes.figure) == {"partner_similarity", "partner_reciprocal_rank"}
    assert slopes.p_holm.notna().all() and (slopes.p_holm >= slopes.p_value).all()
    bins = noise[noise.measure != "change_per_tenth_f"]
    assert (bins.ci_low <= bins.value + 1e-12).all() and (bins.value <= bins.ci_high + 1e-12).all()
    assert "Transcription noise" in (out / "index.html").read_text()
