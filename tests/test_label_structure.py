"""Verdict (b) on synthetic spaces with a known truth, the verdict rule's wording, and leave-one-out influence.

Stores are real HDF5 files written by StoreWriter from generated vectors; the spaces are built so that
the answer is known: both modalities know the label but arrange its classes differently; both agree track
by track while the label structure disagrees; a map that carries nothing leaves label transfer at chance.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from counterpoint.analysis.similarity import debiased_cka, debiased_cka_without_each
from counterpoint.analysis.compare import run_compare, verdict_table
from counterpoint.analysis.label_structure import (centroid_agreement, centroid_agreement_without_each,
                                                   cohen_kappa, confusion_similarity, error_agreement,
                                                   error_agreement_without_each, label_transfer, leave_one_out)
from counterpoint.cli import app
from counterpoint.config import CompareSettings
from counterpoint.encoders.base import Embedding
from counterpoint.probe_protocol import plan_protocol
from counterpoint.report.verdict import knowledge_sentence, pair_sentences, row_verdict, STRUCTURE_CLAIM
from counterpoint.significance import ABOVE_CHANCE, CANNOT_TELL, TOUCHES_CHANCE, verdict_of
from counterpoint.store import EncoderMeta, StoreWriter

CLASSES = ("jig", "reel", "polka", "waltz")
PER_CLASS = 15


def _labels(per_class: int = PER_CLASS) -> np.ndarray:
    return np.repeat(CLASSES, per_class)


def _write(path, spaces: dict[str, tuple[str, np.ndarray]], labels: np.ndarray) -> None:
    ids = [f"t{i:03d}" for i in range(len(labels))]
    table = pd.DataFrame({"id": ids, "audio_filename": [f"{i}.wav" for i in ids], "midi_filename": [f"{i}.mid" for i in ids],
                          "split": "", "group": ids, "tune_type": labels})
    with StoreWriter(path) as writer:
        writer.set_tracks(table)
        for spec, (modality, X) in spaces.items():
            writer.begin_encoder(EncoderMeta(spec=spec, name=spec, modality=modality, dim=X.shape[1],
                                             fingerprint={"name": spec, "test": True}))
            writer.add_embeddings(spec, ids, [Embedding(frames=r[None, :], timestamps=np.array([0.5]), pooled=r,
                                                        duration=1.0) for r in X.astype(np.float32)], [0.01] * len(ids))


def _centres_on_a_square(order: list[int], dim: int, rng: np.random.Generator, radius: float = 3.0) -> np.ndarray:
    """Class centres at the corners of a square (in a random plane of ``dim`` dimensions), class ``order[k]`` at
    corner k: neighbours in ``order`` are adjacent corners, the others opposite. Two orders whose neighbours
    differ, [0, 1, 2, 3] and [0, 2, 1, 3], give centroid-distance matrices of Spearman correlation −0.5."""
    plane = np.linalg.qr(rng.normal(size=(dim, 2)))[0]
    corner = np.empty(len(order), dtype=int)
    corner[order] = np.arange(len(order))
    angles = corner * np.pi / 2
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1) @ plane.T


# --------------------------------------------------------------------------------------
# The rule and its wording


def test_the_rule_has_three_answers_and_touching_chance_is_worded_apart() -> None:
    assert verdict_of(0.001, 0.40, 0.25) == ABOVE_CHANCE
    assert verdict_of(0.013, 0.125, 0.125) == TOUCHES_CHANCE       # the Recall@1: interval's end = chance
    assert verdict_of(0.2, 0.40, 0.25) == CANNOT_TELL
    assert verdict_of(0.05, 0.40, 0.25) == CANNOT_TELL             # p ≥ 0.05
    row = pd.Series({"encoder": "audio-stats", "accuracy": 0.72, "ci_low": 0.60, "ci_high": 0.83, "chance": 0.25,
                     "null_mean": 0.25, "p_holm": 0.001, "error": ""})
    assert knowledge_sentence(row, "tune_type") == ("audio-stats knows tune_type: accuracy 0.72 [0.60, 0.83] vs "
                                                    "chance 0.25 (p 0.001).")
    touching = knowledge_sentence(row.copy().replace({0.60: 0.25}), "tune_type")
    assert touching.startswith("audio-stats knows tune_type above chance, but the interval touches chance")
    cannot = knowledge_sentence(row.copy().replace({0.001: 0.3}), "tune_type")
    assert cannot.startswith("audio-stats's knowledge of tune_type cannot be told from chance")


def _pair_rows(p_holm: list[float], ci_low: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"audio": "a", "symbolic": "s", "measure": ["centroid_agreement", "label_transfer"],
                         "method": ["", "ridge"], "direction": ["", "audio→symbolic"], "value": [0.8, 0.5],
                         "ci_low": ci_low, "ci_high": [0.9, 0.9], "chance": [0.0, 0.25], "null_mean": [0.0, 0.25],
                         "p_value": p_holm, "p_holm": p_holm, "p_bh": p_holm, "n": 40})


def test_a_pair_sentence_names_touching_and_indistinguishable_figures_apart() -> None:
    [sentence] = pair_sentences(_pair_rows([0.01, 0.013], [0.3, 0.25]), STRUCTURE_CLAIM, "tune_type")
    assert sentence.startswith("a and s organise tune_type the same way partly: 1 of 2 figures are above chance "
                               "(centroid agreement 0.80")
    assert f"{TOUCHES_CHANCE}: label transfer audio→symbolic 0.50 [0.25, 0.90] vs chance 0.25 (p 0.013)" in sentence
    [none] = pair_sentences(_pair_rows([0.4, 0.013], [0.3, 0.1]), STRUCTURE_CLAIM, "tune_type")
    assert none.startswith("No evidence that a and s organise tune_type the same way: none of the 2 figures")
    assert f"{CANNOT_TELL}: centroid agreement" in none and TOUCHES_CHANCE in none
    [both] = pair_sentences(_pair_rows([0.01, 0.02], [0.3, 0.3]), STRUCTURE_CLAIM, "tune_type")
    assert "organise tune_type the same way: all 2 figures are above chance" in both


# --------------------------------------------------------------------------------------
# The figures on arrays


def test_centroid_agreement_follows_the_class_order_and_its_leave_one_out_is_a_recomputation() -> None:
    rng = np.random.default_rng(0)
    labels = _labels(10)
    codes = np.array([CLASSES.index(label) for label in labels])
    a = _centres_on_a_square([0, 1, 2, 3], 8, rng)[codes] + 0.3 * rng.normal(size=(40, 8))
    same = a @ np.linalg.qr(rng.normal(size=(8, 8)))[0][:, :6] * 2.0 + 0.1 * rng.normal(size=(40, 6))
    other = a @ np.linalg.qr(rng.normal(size=(8, 8)))[0][:, :6] * 2.0 + 0.1 * rng.normal(size=(40, 6))
    other[:, :2] = _centres_on_a_square([0, 2, 1, 3], 2, rng)[codes] * 3.0 + 0.3 * rng.normal(size=(40, 2))
    other[:, 2:] *= 0.1
    assert centroid_agreement(a, same, labels, n_boot=50).value > 0.8
    assert centroid_agreement(a, other, labels, n_boot=50).value < 0.3
    without = centroid_agreement_without_each(a, same, labels)
    assert without[7] == pytest.approx(centroid_agreement(np.delete(a, 7, 0), np.delete(same, 7, 0),
                                                          np.delete(labels, 7), n_boot=1).value)


def test_label_transfer_is_at_chance_when_the_map_carries_nothing_and_high_when_it_carries_the_tracks() -> None:
    rng = np.random.default_rng(1)
    labels = _labels(12)
    codes = np.array([CLASSES.index(label) for label in labels])
    latent = rng.normal(size=(4, 5))[codes] * 2.0 + rng.normal(size=(48, 5))
    audio = latent @ rng.normal(size=(5, 12)) + 0.2 * rng.normal(size=(48, 12))
    score = latent @ rng.normal(size=(5, 9)) + 0.2 * rng.normal(size=(48, 9))
    plan = plan_protocol(labels, seed=0, n_repeats=2)
    carried = label_transfer(audio, score, labels, folds=plan.folds, repeat_of_fold=plan.repeat_of_fold, n_boot=100,
                             n_perm=199)
    assert carried.estimate.value > 0.5 and carried.estimate.p_value < 0.01
    assert carried.estimate.chance == pytest.approx(0.25)
    # The null (maps fitted on re-paired tracks) sits near chance: a map that carries nothing transfers nothing.
    assert abs(carried.estimate.null_mean - 0.25) < 0.1
    # Audio unrelated to the score's tracks (the same classes, but every track's vector drawn afresh): no transfer.
    unrelated = rng.normal(size=(48, 12))
    nothing = label_transfer(unrelated, score, labels, folds=plan.folds, repeat_of_fold=plan.repeat_of_fold,
                             n_boot=100, n_perm=199)
    assert nothing.estimate.p_value > 0.05 and abs(nothing.estimate.value - 0.25) < 0.15
    assert verdict_of(nothing.estimate.p_value, nothing.estimate.ci_low, 0.25) == CANNOT_TELL
    # Into a space that knows nothing of the label: its classifier cannot label what the map brings, however
    # well the source knows the label (map and classifier are fitted on different halves of each fold, so
    # no classifier has memorised the very tracks a carried track is blended from).
    into_noise = label_transfer(score, rng.normal(size=(48, 40)), labels, folds=plan.folds,
                                repeat_of_fold=plan.repeat_of_fold, n_boot=100, n_perm=199)
    assert into_noise.estimate.p_value > 0.05 and abs(into_noise.estimate.value - 0.25) < 0.15


def test_error_agreement_is_kappa_and_high_only_when_failures_coincide() -> None:
    assert cohen_kappa(np.array([1, 1, 0, 0.]), np.array([1, 1, 0, 0.])) == pytest.approx(1.0)
    # p_o = 0.5, both rates 0.5: p_e = 0.5 → κ = 0.
    assert cohen_kappa(np.array([1, 1, 0, 0.]), np.array([1, 0, 1, 0.])) == pytest.approx(0.0)
    rng = np.random.default_rng(2)
    a = (rng.random((60, 2)) < 0.6).astype(float)
    same = error_agreement(a, a.copy(), n_boot=50, n_perm=199)
    independent = error_agreement(a, (rng.random((60, 2)) < 0.6).astype(float), n_boot=50, n_perm=199)
    assert same.value == pytest.approx(1.0) and same.p_value < 0.01
    assert abs(independent.value) < 0.3 and independent.p_value > 0.01
    without = error_agreement_without_each(a, a[::-1].copy())
    assert without[3] == pytest.approx(cohen_kappa(np.delete(a, 3, 0).ravel(), np.delete(a[::-1], 3, 0).ravel()))


def test_confusion_similarity_sees_the_same_mistakes() -> None:
    rng = np.random.default_rng(3)
    truth = _labels(20)
    mistaken = {"jig": "reel", "reel": "jig", "polka": "waltz", "waltz": "polka"}

    def predictions(share: float, mistakes: dict[str, str]) -> np.ndarray:
        wrong = rng.random((len(truth), 2)) < share
        return np.where(wrong, np.vectorize(mistakes.get)(truth)[:, None], truth[:, None]).astype(object)

    a = predictions(0.3, mistaken)
    alike = confusion_similarity(truth, a, predictions(0.3, mistaken), n_boot=50, n_perm=199)
    other = confusion_similarity(truth, a, predictions(0.3, {"jig": "polka", "reel": "waltz", "polka": "jig",
                                                            "waltz": "reel"}), n_boot=50, n_perm=199)
    assert alike.value > 0.9 and alike.p_value < 0.01
    assert other.value < 0.0


def test_leave_one_out_of_debiased_cka_equals_recomputing_it_without_the_track() -> None:
    rng = np.random.default_rng(4)
    X = rng.normal(size=(25, 6))
    Y = X @ rng.normal(size=(6, 4)) + rng.normal(size=(25, 4))
    Y[11] += 25.0                                    # one outlying track
    without = debiased_cka_without_each(X, Y)
    direct = [debiased_cka(np.delete(X, i, 0), np.delete(Y, i, 0)) for i in range(25)]
    assert np.allclose(without, direct, rtol=1e-9, atol=1e-12)   # float64 sums of the same terms
    [top, *_] = leave_one_out(debiased_cka(X, Y), without, [f"t{i}" for i in range(25)])
    assert top["id"] == "t11" and top["rank"] == 1


# --------------------------------------------------------------------------------------
# Whole comparisons of stores with a known truth


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    rng = np.random.default_rng(5)
    labels = _labels()
    codes = np.array([CLASSES.index(label) for label in labels])
    n = len(labels)
    root = tmp_path_factory.mktemp("label-structure")
    # Both know the label, arranged differently: the classes' order along the line differs, and the tracks
    # within a class are independent between the spaces (nothing but the label is shared).
    audio = _centres_on_a_square([0, 1, 2, 3], 10, rng)[codes] + 0.5 * rng.normal(size=(n, 10))
    score = _centres_on_a_square([0, 2, 1, 3], 8, rng)[codes] + 0.5 * rng.normal(size=(n, 8))
    _write(root / "differently.h5", {"audio-x": ("audio", audio), "score-x": ("symbolic", score)}, labels)
    # Track by track the spaces agree (one shared track-level factor dominates both; centred within each class,
    # so it moves no class centroid), while the label is arranged differently in each (class offsets in
    # different orders).
    shared = rng.normal(size=(n, 6)) * 3.0
    shared -= np.stack([shared[codes == c].mean(0) for c in range(len(CLASSES))])[codes]
    audio_t = np.hstack([shared, _centres_on_a_square([0, 1, 2, 3], 4, rng)[codes] * 0.5])
    score_t = np.hstack([shared @ np.linalg.qr(rng.normal(size=(6, 6)))[0],
                         _centres_on_a_square([0, 2, 1, 3], 4, rng)[codes] * 0.5]) + 0.1 * rng.normal(size=(n, 10))
    _write(root / "tracks.h5", {"audio-t": ("audio", audio_t), "score-t": ("symbolic", score_t)}, labels)
    return {"differently": root / "differently.h5", "tracks": root / "tracks.h5", "root": root}


def _compare(path) -> object:
    return run_compare(path, CompareSettings(label="tune_type", n_boot=100, n_perm=199, seed=0, fixed_n_perm=True))


def _figure(table: pd.DataFrame, measure: str, direction: str = "") -> pd.Series:
    return table[(table.measure == measure) & (table.direction == direction)].iloc[0]


def test_both_know_the_label_but_organise_it_differently_high_a_low_b(stores) -> None:
    result = _compare(stores["differently"])
    knowledge = result.knowledge.set_index("encoder")
    for spec in ("audio-x", "score-x"):      # (a): each space knows the label
        assert row_verdict(knowledge.loc[spec], "accuracy") == ABOVE_CHANCE, knowledge.loc[spec]
    structure = result.label_structure
    # (b): the centroid geometries disagree (the classes lie in different orders) and the two probes fail on
    # unrelated tracks (within a class nothing is shared). A linear map fitted on the true pairs can still
    # carry class to class — the pairing tells it which class is which — so transfer is not what is low here.
    assert _figure(structure, "centroid_agreement").value < 0.3
    assert row_verdict(_figure(structure, "centroid_agreement")) == CANNOT_TELL
    assert row_verdict(_figure(structure, "error_agreement")) != ABOVE_CHANCE
    # 4 classes: 24 relabellings, so the exact test cannot pass Holm over 5 tests; a note says so.
    assert any("centroid agreement of 4 classes has only 24 relabellings" in note for note in result.notes)
    [sentence] = pair_sentences(structure, STRUCTURE_CLAIM, "tune_type")
    assert sentence.startswith("audio-x and score-x organise tune_type the same way partly") or \
        sentence.startswith("No evidence")
    assert f"{CANNOT_TELL}: centroid agreement" in sentence


def test_track_agreement_high_while_label_structure_disagrees(stores) -> None:
    result = _compare(stores["tracks"])
    track = verdict_table(result)
    assert row_verdict(_figure(track, "cka_debiased")) == ABOVE_CHANCE
    assert _figure(track, "cka_debiased").value > 0.6
    centroid = _figure(result.label_structure, "centroid_agreement")
    assert centroid.value < 0.3 and row_verdict(centroid) == CANNOT_TELL
    # The influence table names tracks for CKA and the figures of (b) (error agreement is not computed here:
    # both probes are always right, and κ of two constant indicators is undefined).
    assert {"cka_debiased", "centroid_agreement", "label_transfer"} <= set(result.influence.measure)
    assert result.influence.id.isin([f"t{i:03d}" for i in range(len(_labels()))]).all()


def test_compare_prints_both_verdicts_and_writes_them_with_the_influence_and_the_mapping_note(stores, tmp_path) -> None:
    out = tmp_path / "compare"
    outcome = CliRunner().invoke(app, ["compare", str(stores["differently"]), "--label", "tune_type", "--out", str(out),
                                       "--n-boot", "50", "--n-perm", "99", "--fixed-n-perm"])
    assert outcome.exit_code == 0, outcome.output
    text = outcome.stdout
    assert "(a) Does each modality know tune_type?" in text and "audio-x knows tune_type" in text
    assert "(b) Do audio and score organise tune_type the same way?" in text
    assert "(c) Do they agree track by track?" in text and "p (Holm)" in text and "chance / null" in text
    document = json.loads((out / "compare.json").read_text())
    assert {row["measure"] for row in document["label_structure"]} == {"centroid_agreement", "label_transfer",
                                                                       "error_agreement", "confusion_similarity"}
    assert document["influence"] and document["label_knowledge"]
    assert document["pairs"][0]["dims"] == {"audio": 10, "symbolic": 8}


def test_a_map_fitted_on_fewer_tracks_than_dimensions_is_noted(tmp_path) -> None:
    rng = np.random.default_rng(6)
    labels = _labels(4)          # 16 tracks, 64 dimensions
    _write(tmp_path / "wide.h5", {"audio-w": ("audio", rng.normal(size=(16, 64))),
                                  "score-w": ("symbolic", rng.normal(size=(16, 5)))}, labels)
    result = run_compare(tmp_path / "wide.h5", CompareSettings(label="tune_type", n_boot=20, n_perm=19, fixed_n_perm=True))
    notes = [n for n in result.notes if "fewer tracks than dimensions" in n]
    assert any("ridge map audio→symbolic (retrieval) is fitted on" in n and "of 64 dimensions" in n for n in notes)
    assert any("label transfer" in n for n in notes)
    assert not any("symbolic→audio (retrieval)" in n for n in notes)    # 5 dimensions: fewer than the tracks
