"""Verdict (a)'s table on synthetic stores whose truth is known: which modality knows the label."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from counterpoint.analysis.label_knowledge import COLUMNS, label_knowledge, label_knowledge_table
from counterpoint.encoders.base import Embedding
from counterpoint.probe_protocol import probe_accuracy
from counterpoint.store import EncoderMeta, Store, StoreWriter

CLASSES = ("jig", "reel", "polka", "waltz")


def write_encoder(writer: StoreWriter, spec: str, modality: str, ids: list[str], X: np.ndarray) -> None:
    meta = EncoderMeta(spec=spec, name=spec, modality=modality, dim=X.shape[1], fingerprint={"name": spec, "test": True})
    writer.begin_encoder(meta)
    embeddings = [Embedding(frames=row[None, :], timestamps=np.array([0.5]), pooled=row, duration=1.0) for row in X]
    writer.add_embeddings(spec, ids, embeddings, [0.01] * len(ids))


def tune_store(path, n: int = 40, split: list[str] | None = None, seed: int = 3):
    """``n`` tracks of four tune types in groups of two; audio embeddings carry the type, the score's are noise."""
    rng = np.random.default_rng(seed)
    ids = [f"t{i:03d}" for i in range(n)]
    types = np.array([CLASSES[(i // 2) % 4] for i in range(n)])
    table = pd.DataFrame({"id": ids, "audio_filename": [f"{i}.wav" for i in ids], "midi_filename": [f"{i}.mid" for i in ids],
                          "split": split if split is not None else "", "group": [f"g{i // 2}" for i in range(n)],
                          "tune_type": types})
    centres = rng.normal(size=(4, 12)) * 3.0
    audio = centres[[CLASSES.index(t) for t in types]] + rng.normal(size=(n, 12))
    with StoreWriter(path) as writer:
        writer.set_tracks(table)
        write_encoder(writer, "audio-knows", "audio", ids, audio)
        write_encoder(writer, "score-noise", "symbolic", ids, rng.normal(size=(n, 10)))
    return path


@pytest.fixture(scope="module")
def knowledge(tmp_path_factory):
    return label_knowledge(tune_store(tmp_path_factory.mktemp("lk") / "tunes.h5"), "tune_type", n_perm=999)


def test_audio_knows_the_label_and_the_score_does_not(knowledge):
    table = knowledge.table.set_index("encoder")
    assert list(knowledge.table.columns) == COLUMNS
    audio, score = table.loc["audio-knows"], table.loc["score-noise"]
    assert audio["modality"] == "audio" and score["modality"] == "symbolic"
    assert audio["accuracy"] > 0.8 and audio["ci_low"] > audio["chance"] and audio["p_holm"] < 0.05
    assert score["p_holm"] > 0.05 and score["ci_low"] <= score["chance"]
    for row in (audio, score):
        assert row["chance"] == pytest.approx(0.25) and row["n"] == 40 and row["n_classes"] == 4
        assert row["classifier"] == "logistic" and "grouped stratified 5-fold" in row["protocol"]
    assert audio["dim"] == 12 and score["dim"] == 10


def test_table_rows_are_the_protocols_figures_with_holm_over_the_encoders(knowledge):
    for row in knowledge.table.itertuples():
        result = knowledge.results[row.encoder]
        assert (row.accuracy, row.ci_low, row.ci_high, row.p_value) == \
            (result.accuracy, result.ci_low, result.ci_high, result.p_value)
    p = knowledge.table["p_value"].to_numpy()
    assert knowledge.table["p_holm"].to_numpy() == pytest.approx(np.minimum(np.maximum.accumulate(
        np.sort(p) * np.array([2, 1])), 1.0)[np.argsort(np.argsort(p))])


def test_predictions_and_folds_are_shared_by_the_encoders_of_one_store(knowledge):
    audio, score = knowledge.results["audio-knows"], knowledge.results["score-noise"]
    assert [(list(a), list(b)) for a, b in audio.plan.folds] == [(list(a), list(b)) for a, b in score.plan.folds]
    assert set(audio.predictions.columns) >= {"id", "truth", "predicted", "correct", "repeat"}


def test_the_three_accuracies_case_gives_one_number(tmp_path):
    """40 tracks, 4 classes, a given split holding 8 test tracks: the table's number is the cross-validated one,
    the same as probe_accuracy computes directly, and a note says why the given split was not used."""
    split = ["test" if i % 5 == 0 else ("validation" if i % 5 == 1 else "train") for i in range(40)]
    path = tune_store(tmp_path / "split.h5", split=split)
    found = label_knowledge(path, "tune_type", n_perm=199, encoders=["audio-knows"])
    row = found.table.iloc[0]
    assert "cross-validation" in row["protocol"] and "given split not used" in row["notes"]
    assert any("the given test split holds 8 tracks" in note for note in found.notes)
    matrix = Store(path).pooled("audio-knows")
    direct = probe_accuracy(matrix.X, matrix.labels("tune_type"), ids=matrix.ids, groups=matrix.groups(),
                            given_split=matrix.given_split(), n_perm=199)
    assert row["accuracy"] == direct.accuracy


def test_an_encoder_that_cannot_be_probed_is_a_row_with_its_error(tmp_path):
    path = tune_store(tmp_path / "one.h5")
    table = label_knowledge_table(path, "tune_type", depth=None, encoders=["score-noise"], n_perm=99)
    assert table.iloc[0]["error"] == ""
    store = Store(path).where("tune_type", "jig")
    one = label_knowledge_table(store, "tune_type", n_perm=99)
    assert (one["error"].str.contains("at least two classes")).all() and one["accuracy"].isna().all()
