"""The comparison on time-paired segments: hand computations, constructions with known answers,
and a real (tiny) HDF5 store through ``counterpoint compare --aligned``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from counterpoint.analysis.time_aligned import (OTHER_PIECES, TIME_SHIFTED, AlignedSegments, aligned_cka, clustered_figures,
                                           pair_segments, segment_means, segment_retrieval, time_shifted, track_centred)
from counterpoint.cli import app
from counterpoint.encoders.base import Embedding
from counterpoint.matrix import FrameSequences
from counterpoint.report.time_aligned import aligned_section
from counterpoint.store import EncoderMeta, StoreWriter
from counterpoint.warping import IDENTITY, WarpingPath

SEGMENTS_PER_TRACK = 6
SEGMENT_SECONDS = 2.0


def test_segment_means_by_hand():
    frames = np.array([[1.0, 0.0], [3.0, 2.0], [5.0, 5.0], [7.0, 7.0]])
    means, present = segment_means(frames, np.array([0.5, 1.9, 4.1, 9.0]), 2.0, n_segments=3)
    # Segment 0 holds the first two frames, segment 1 none, segment 2 the third; 9.0 s is past the last.
    assert np.array_equal(segment_means(frames, np.array([0.5, 1.9, 4.1, np.nan]), 2.0, n_segments=3)[0], means)
    assert present.tolist() == [True, False, True]
    assert np.allclose(means[[0, 2]], [[2.0, 1.0], [5.0, 5.0]])


def _frames(spec: str, modality: str, ids: list[str], frames: list[np.ndarray], times: list[np.ndarray],
            labels: list[str]) -> FrameSequences:
    return FrameSequences(spec, modality, frames, times, pd.DataFrame({"id": ids, "style": labels}))


def test_audio_frames_reach_their_score_segment_through_the_warping_path():
    # The audio plays the score at half speed after 1 s of silence: audio time = 1 + 2 · score time.
    path = WarpingPath("dtw", np.array([0.0, 6.0]), np.array([1.0, 13.0]))
    symbolic = _frames("s", "symbolic", ["a"], [np.array([[1.0], [2.0], [3.0]])], [np.array([1.0, 3.0, 5.0])], ["x"])
    audio = _frames("a", "audio", ["a"], [np.array([[10.0], [20.0], [30.0]])], [np.array([3.0, 7.0, 11.0])], ["x"])
    segments = pair_segments(audio, symbolic, {"a": path}, segment_seconds=2.0, label="style", depth=None, group=None)
    assert segments.segment.tolist() == [0, 1, 2]
    assert np.allclose(segments.audio[:, 0], [10, 20, 30]) and np.allclose(segments.symbolic[:, 0], [1, 2, 3])
    # Read as identity, the audio frames would land in segments 1, 3 and 5: only segment 1 pairs.
    assert pair_segments(audio, symbolic, {"a": IDENTITY}, segment_seconds=2.0, label="style", depth=None,
                         group=None).segment.tolist() == [1]
    # A last window centred on a segment boundary (6 s) opens no segment of its own.
    late = _frames("s", "symbolic", ["a"], [np.array([[1.0], [2.0], [3.0], [4.0]])], [np.array([1.0, 3.0, 5.0, 6.0])],
                   ["x"])
    late_audio = _frames("a", "audio", ["a"], [np.array([[10.0], [20.0], [30.0], [40.0]])],
                         [np.array([3.0, 7.0, 11.0, 13.5])], ["x"])
    assert pair_segments(late_audio, late, {"a": path}, segment_seconds=2.0, label="style", depth=None,
                         group=None).segment.tolist() == [0, 1, 2]


def test_clustered_figures_by_hand_and_the_interval_resamples_tracks():
    ranks = np.array([1.0, 2.0, 1.0, 4.0])
    n_candidates = np.array([2, 2, 4, 4])
    figures = clustered_figures(ranks, n_candidates, np.array(["a", "a", "b", "b"]), n_boot=200, n_perm=99, seed=0)
    assert figures["recall@1"].value == pytest.approx(0.5)
    assert figures["mrr"].value == pytest.approx((1 + 0.5 + 1 + 0.25) / 4)
    assert figures["recall@1"].chance == pytest.approx((0.5 + 0.5 + 0.25 + 0.25) / 4)
    assert figures["mrr"].chance == pytest.approx((0.75 + 0.75 + 2 * (1 + 1 / 2 + 1 / 3 + 1 / 4) / 4) / 4)
    # Both tracks find one of their two segments: every resample of whole tracks gives 0.5.
    assert (figures["recall@1"].ci_low, figures["recall@1"].ci_high) == (0.5, 0.5)
    assert figures["recall@1"].n == 4 and figures["recall@1"].n_resample == 2


def test_time_shift_keeps_rows_in_their_track_and_draws_every_circular_shift():
    track = np.array([0, 0, 0, 1, 2, 2])
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(60):
        order = time_shifted(track, rng)
        assert np.array_equal(track[order], track) and order[3] == 3
        seen.add(tuple(order[:3]))
    assert seen == {(0, 1, 2), (2, 0, 1), (1, 2, 0)}  # the three shifts of three rows, identity included


def test_time_shift_rolls_each_tracks_rows_by_its_drawn_shift_also_when_tracks_interleave():
    rng = np.random.default_rng(3)
    for trial in range(50):
        sizes = rng.integers(1, 9, size=rng.integers(1, 12))
        track = np.repeat(rng.permutation(100)[:len(sizes)], sizes)
        if trial % 2:
            track = rng.permutation(track)
        order, draws = time_shifted(track, np.random.default_rng(trial)), np.random.default_rng(trial)
        expected = np.arange(len(track))
        for t in np.unique(track):  # one shift per track, in sorted order, as np.roll applies it
            own = np.flatnonzero(track == t)
            expected[own] = np.roll(own, int(draws.integers(0, len(own))))
        assert np.array_equal(order, expected)


def test_track_centring_by_hand():
    X = np.array([[1.0, 2.0], [3.0, 4.0], [10.0, 0.0]])
    assert np.allclose(track_centred(X, np.array([0, 0, 1])), [[-1, -1], [1, 1], [0, 0]])


def _segments(audio: np.ndarray, symbolic: np.ndarray, n_tracks: int) -> AlignedSegments:
    track = np.repeat(np.arange(n_tracks), SEGMENTS_PER_TRACK)
    return AlignedSegments(audio, symbolic, track, np.tile(np.arange(SEGMENTS_PER_TRACK), n_tracks),
                           np.array([f"t{i:02d}" for i in range(n_tracks)], dtype=object),
                           np.array(["x", "y"] * (n_tracks // 2), dtype=object), None, None)


def test_cka_of_time_paired_content_is_one_and_beats_both_nulls():
    rng = np.random.default_rng(1)
    n_tracks = 20
    audio = rng.normal(size=(n_tracks * SEGMENTS_PER_TRACK, 8))
    rotation = np.linalg.qr(rng.normal(size=(8, 8)))[0]
    rows = pd.DataFrame(aligned_cka(_segments(audio, 3.0 * audio @ rotation, n_tracks), n_boot=50, n_perm=49,
                                    max_segments=1000, seed=0))
    assert np.allclose(rows.value, 1.0)
    assert np.allclose(rows.p_value, 1 / 50)
    assert (rows.null_mean < 0.3).all()


def test_cka_of_piece_identity_alone_is_no_better_than_time_shifted_segments():
    """Both modalities share only which piece a segment is from: global CKA is high, but so is the
    time-shifted null, and within tracks nothing is shared."""
    rng = np.random.default_rng(2)
    n_tracks = 40
    piece = np.repeat(rng.normal(size=(n_tracks, 6)) * 3.0, SEGMENTS_PER_TRACK, axis=0)
    audio = piece @ rng.normal(size=(6, 10)) + rng.normal(size=(len(piece), 10))
    symbolic = piece @ rng.normal(size=(6, 7)) + rng.normal(size=(len(piece), 7))
    rows = pd.DataFrame(aligned_cka(_segments(audio, symbolic, n_tracks), n_boot=50, n_perm=99, max_segments=1000,
                                    seed=0)).set_index(["centring", "null"])
    shifted_global = rows.loc[("global", TIME_SHIFTED)]
    assert shifted_global.value > 0.5
    assert abs(shifted_global.null_mean - shifted_global.value_resample) < 0.01  # timing adds nothing
    assert rows.loc[("global", OTHER_PIECES)].p_value == pytest.approx(1 / 100)
    assert abs(rows.loc[("within track", TIME_SHIFTED)].value) < 0.1


def test_segment_retrieval_finds_every_segment_when_the_score_is_a_linear_map_of_the_audio():
    rng = np.random.default_rng(3)
    n_tracks = 20
    audio = rng.normal(size=(n_tracks * SEGMENTS_PER_TRACK, 6))
    symbolic = audio @ rng.normal(size=(6, 9)) + 0.01 * rng.normal(size=(len(audio), 9))
    found = segment_retrieval(_segments(audio, symbolic, n_tracks), segment_seconds=SEGMENT_SECONDS, n_boot=50,
                              n_perm=49, seed=0)
    table = pd.DataFrame(found.rows).set_index(["direction", "scope", "measure"])
    assert np.allclose(table.value, 1.0)
    n_test = len(found.test_tracks)
    assert table.loc[("audio→symbolic", "within piece", "recall@1"), "chance"] == pytest.approx(1 / SEGMENTS_PER_TRACK)
    assert table.loc[("audio→symbolic", "across pieces", "recall@1"), "chance"] == pytest.approx(
        1 / (n_test * SEGMENTS_PER_TRACK))
    assert (found.curves.agreement == 1.0).all() and len(found.curves) == n_test * SEGMENTS_PER_TRACK


# --------------------------------------------------------------------------------------
# Through a real store and the command line


def _write_frames(writer: StoreWriter, spec: str, modality: str, ids: list[str], frames: list[np.ndarray],
                  times: list[np.ndarray]) -> None:
    writer.begin_encoder(EncoderMeta(spec=spec, name=spec, modality=modality, dim=frames[0].shape[1],
                                     fingerprint={"name": spec, "test": True}))
    embeddings = [Embedding(frames=f, timestamps=t, pooled=f.mean(0), duration=float(t.max() + 1)) for f, t in
                  zip(frames, times)]
    writer.add_embeddings(spec, ids, embeddings, [0.01] * len(ids))


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    """24 rendered tracks whose audio frames (0.5-s blocks) follow the score's content segment by segment,
    and one track marked as original audio whose files are missing (it cannot be aligned)."""
    rng = np.random.default_rng(4)
    n = 25
    ids = [f"t{i:02d}" for i in range(n)]
    table = pd.DataFrame({"id": ids, "audio_filename": [f"audio/{i}.wav" for i in ids],
                          "midi_filename": [f"midi/{i}.mid" for i in ids], "split": "", "group": ids,
                          "style": ["x", "y"] * 12 + ["x"],
                          "audio_source": ["rendered:TimGM6mb"] * (n - 1) + ["original"]})
    content = [rng.normal(size=(SEGMENTS_PER_TRACK, 5)) for _ in ids]
    mix = np.linalg.qr(rng.normal(size=(12, 5)))[0].T  # an isometry: CKA sees the same geometry
    score_times = [SEGMENT_SECONDS * (np.arange(SEGMENTS_PER_TRACK) + 0.5)] * n
    audio_times = [np.arange(0.25, SEGMENT_SECONDS * SEGMENTS_PER_TRACK, 0.5)] * n
    audio_frames = [np.repeat(c @ mix, 4, axis=0) + 0.05 * rng.normal(size=(4 * SEGMENTS_PER_TRACK, 12)) for c in content]
    path = tmp_path_factory.mktemp("aligned") / "embeddings.h5"
    with StoreWriter(path, dataset_root=path.parent / "dataset") as writer:
        writer.set_tracks(table)
        _write_frames(writer, "audio-blocks", "audio", ids, audio_frames, audio_times)
        _write_frames(writer, "score-windows", "symbolic", ids, [c.astype(np.float32) for c in content], score_times)
    return path


def test_compare_aligned_writes_tables_figures_and_notes_the_track_it_cannot_align(store_path, tmp_path):
    out = tmp_path / "compare"
    result = CliRunner().invoke(app, ["compare", str(store_path), "--label", "style", "--aligned", "--segment-seconds",
                                      str(SEGMENT_SECONDS), "--n-boot", "50", "--n-perm", "49", "--figure-format",
                                      "png", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "audio-blocks × score-windows (24 tracks, 144 segments" in result.output
    assert "track 't24': not aligned" in result.output and "24 identity" in result.output
    folder = out / "aligned"
    retrieval = pd.read_csv(folder / "segment_retrieval.csv")
    assert set(retrieval.scope) == {"within piece", "across pieces"} and {"p_holm", "p_bh"} <= set(retrieval.columns)
    within = retrieval[(retrieval.scope == "within piece") & (retrieval.measure == "recall@1")]
    assert (within.value > 0.9).all() and np.allclose(within.chance, 1 / SEGMENTS_PER_TRACK)
    cka = pd.read_csv(folder / "aligned_cka.csv")
    assert (cka.value > 0.9).all() and {"p_holm", "p_bh"} <= set(cka.columns)
    # --n-perm 49 is raised to what each table's Holm family needs: 4 CKA rows → 799, 8 retrieval rows → 1,599
    assert (cka.n_perm == 799).all() and (cka.p_value == 1 / 800).all() and (cka.p_holm == 4 / 800).all()
    assert (retrieval.n_perm == 1599).all() and (within.p_value == 1 / 1600).all()
    curves = pd.read_csv(folder / "agreement_curves.csv")
    assert set(curves.track) <= {f"t{i:02d}" for i in range(24)} and curves.segment.max() == SEGMENTS_PER_TRACK - 1
    assert (folder / "agreement_curve_audio-blocks__score-windows.png").is_file()
    saved = json.loads((folder / "aligned.json").read_text())
    assert saved["settings"]["segment_seconds"] == SEGMENT_SECONDS and len(saved["pairs"]) == 1
    assert pd.read_csv(folder / "track_alignment.csv").set_index("id").method.eq("identity").sum() == 24


def test_fixed_n_perm_keeps_the_permutations_and_says_the_family_cannot_be_decided(store_path, tmp_path):
    out = tmp_path / "compare"
    result = CliRunner().invoke(app, ["compare", str(store_path), "--label", "style", "--aligned", "--segment-seconds",
                                      str(SEGMENT_SECONDS), "--n-boot", "20", "--n-perm", "49", "--fixed-n-perm",
                                      "--figure-format", "png", "--out", str(out)])
    assert result.exit_code == 0, result.output
    cka = pd.read_csv(out / "aligned" / "aligned_cka.csv")
    assert (cka.n_perm == 49).all() and (cka.p_value == 1 / 50).all()
    notes = json.loads((out / "aligned" / "aligned.json").read_text())["notes"]
    assert any(note.startswith("segment retrieval table: 8 tests with 49 permutations each") and "--n-perm 1599" in note
               and "--fixed-n-perm" in note for note in notes), notes
    assert any(note.startswith("aligned CKA table: 4 tests with 49 permutations each") for note in notes), notes


def test_the_report_section_writes_its_files_and_names_the_families(store_path, tmp_path):
    from counterpoint.analysis.time_aligned import run_aligned_compare
    from counterpoint.config import AlignedSettings
    from counterpoint.data.time_pairing import store_time_pairing

    result = run_aligned_compare(store_path, AlignedSettings(label="style", alignment="identity", segment_seconds=2.0,
                                                             n_boot=20, n_perm=19), time_pairing=store_time_pairing(store_path))
    html = aligned_section(result)(tmp_path, ["png"])
    assert (tmp_path / "aligned" / "segment_retrieval.csv").is_file()
    assert html.count("correct over one family: every row of this table") == 2
    assert "data:image/png;base64," in html
    assert "25 identity" in " ".join(result.notes)


def test_analyze_aligned_puts_the_section_in_the_report(store_path, tmp_path):
    from counterpoint.config import AnalysisSettings
    from counterpoint.pipeline import analyze_everything

    options = AnalysisSettings(label="style", reductions=("pca",), aligned=True, figure_formats=("png",))
    report = analyze_everything(store_path, options, tmp_path / "report")
    page = report.report.read_text()
    assert '<section id="aligned">' in page and "aligned/segment_retrieval.csv" in page
    assert (tmp_path / "report" / "aligned" / "aligned_cka.csv").is_file()
