"""Probe accuracy has one definition: every accuracy a report, a probe folder or a table shows is one that
:mod:`counterpoint.probe_protocol` scored, and no other module computes one.

The scenario is the one that once gave three different "probe accuracies" for one encoder and label:
40 tracks, 4 classes, a given split whose test part holds 8 tracks (2 per class).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import counterpoint
import counterpoint.probe_protocol as protocol
from counterpoint.analysis.analyze import analyze_store
from counterpoint.analysis.compare import run_compare
from counterpoint.analysis.label_knowledge import label_knowledge_table
from counterpoint.config import AnalysisSettings, CompareSettings, TrainSettings
from counterpoint.encoders.base import Embedding
from counterpoint.probes.run import probe_table
from counterpoint.report.build import build_report
from counterpoint.store import EncoderMeta, Store, StoreWriter

CLASSES = ("jig", "reel", "polka", "waltz")
#: Accuracy-named figures that are labelled details of something else than a probe accuracy: the saved
#: probe's single test split, and the per-epoch training monitor.
DETAILS = {"test_split_accuracy", "train_accuracy", "validation_accuracy"}


def write_tunes(path: Path) -> Path:
    """40 tracks of four tune types, a given split with 8 test tracks; audio knows the type, the score a little."""
    rng = np.random.default_rng(11)
    ids = [f"tune{i:02d}" for i in range(40)]
    types = np.array([CLASSES[i % 4] for i in range(40)])
    split = ["test" if i < 8 else "validation" if i < 12 else "train" for i in range(40)]
    table = pd.DataFrame({"id": ids, "audio_filename": [f"{i}.wav" for i in ids], "midi_filename": [f"{i}.mid" for i in ids],
                          "split": split, "tune_type": types})
    centres = rng.normal(size=(4, 6)) * 2.5
    spaces = {"audio-knows": ("audio", centres[[CLASSES.index(t) for t in types]] + rng.normal(size=(40, 6))),
              "score-faint": ("symbolic", 0.6 * centres[[CLASSES.index(t) for t in types]] + rng.normal(size=(40, 6)))}
    with StoreWriter(path) as writer:
        writer.set_tracks(table)
        for spec, (modality, X) in spaces.items():
            writer.begin_encoder(EncoderMeta(spec=spec, name=spec, modality=modality, dim=6,
                                             fingerprint={"name": spec, "test": True}))
            embeddings = [Embedding(frames=row[None, :], timestamps=np.array([0.5]), pooled=row, duration=1.0) for row in X]
            writer.add_embeddings(spec, ids, embeddings, [0.01] * 40)
    return path


def accuracy_figures(folder: Path) -> list[tuple[str, str, float]]:
    """(file, name, value) of every accuracy-named number in the folder's JSON and CSV files."""
    found = []

    def walk(node, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if "accuracy" in str(key) and isinstance(value, (int, float)) and not isinstance(value, bool):
                    found.append((where, str(key), float(value)))
                walk(value, where)
        elif isinstance(node, list):
            for item in node:
                walk(item, where)

    for path in sorted(folder.rglob("*.json")):
        walk(json.loads(path.read_text()), str(path.relative_to(folder)))
    for path in sorted(folder.rglob("*.csv")):
        table = pd.read_csv(path)
        for column in (c for c in table.columns if "accuracy" in c):
            found += [(str(path.relative_to(folder)), column, float(v)) for v in table[column].dropna()]
        if {"measure", "value"} <= set(table.columns):  # long tables: one figure per row
            rows = table[table["measure"].astype(str).str.contains("accuracy")]
            found += [(str(path.relative_to(folder)), m, float(v)) for m, v in zip(rows["measure"], rows["value"])]
    return found


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory):
    """Write a whole report (per-space table, comparison, probe table) with every scored accuracy recorded
    (few permutations and epochs: the figures' names and origins matter here, not their precision)."""
    folder = tmp_path_factory.mktemp("one")
    store = write_tunes(folder / "tunes.h5")
    scored = []
    real = protocol.score_predictions

    def recording(*args, **kwargs):
        result = real(*args, **kwargs)
        scored.append(result)
        return result

    patch = pytest.MonkeyPatch()
    patch.setattr(protocol, "score_predictions", recording)  # the real function runs; its results are kept
    try:
        analysis = analyze_store(store, AnalysisSettings(label="tune_type", reductions=("pca",)))
        comparison = run_compare(store, CompareSettings(label="tune_type", n_boot=20, n_perm=19, fixed_n_perm=True))
        probes = probe_table(store, "tune_type", models=("linear",), settings=TrainSettings(epochs=10, patience=3))
        build_report(analysis, comparison, probes, out_dir=folder / "report", figure_formats=("png",))
        knowledge = label_knowledge_table(store, "tune_type", n_perm=199)
    finally:
        patch.undo()
    return store, folder / "report", scored, knowledge


def test_every_accuracy_shown_was_scored_by_the_protocol(traced):
    _, report, scored, _ = traced
    figures = accuracy_figures(report)
    assert len(figures) > 10
    shown = [(where, name, value) for where, name, value in figures if name not in DETAILS]

    def traced_values(name: str) -> list[float]:
        field = "ci_low" if "ci_low" in name else "ci_high" if "ci_high" in name else "accuracy"
        return [getattr(result, field) for result in scored]

    untraced = [(where, name, value) for where, name, value in shown
                if not any(value == pytest.approx(v, abs=1e-12) for v in traced_values(name))]
    assert not untraced, f"accuracies not computed by probe_protocol: {untraced}"
    assert {name for _, name, _ in shown} >= {"probe_accuracy", "knn_accuracy", "accuracy"}


def test_the_three_accuracies_case_is_one_number_per_encoder(traced):
    """Per-space table, label quality, label knowledge (verdict a) and a recomputation agree exactly."""
    store, report, _, knowledge = traced
    metrics = json.loads((report / "metrics.json").read_text())["encoders"]
    quality = pd.read_csv(report / "compare" / "label_quality.csv")
    for spec in ("audio-knows", "score-faint"):
        matrix = Store(store).pooled(spec)
        direct = protocol.probe_accuracy(matrix.X, matrix.labels("tune_type"), ids=matrix.ids,
                                         given_split=matrix.given_split(), n_perm=199)
        assert direct.plan.kind == "cv" and "the given test split holds 8 tracks" in direct.plan.reason
        shown = {metrics[spec]["probe_accuracy"], metrics[spec]["probe"]["accuracy"],
                 float(quality[(quality.encoder == spec) & (quality.measure == "probe_accuracy")].value.iloc[0]),
                 float(knowledge.set_index("encoder").loc[spec, "accuracy"])}
        assert shown == {direct.accuracy}
    notes = json.loads((report / "metrics.json").read_text())["notes"]
    assert any("given split not used: the given test split holds 8 tracks" in note for note in notes)


def test_the_probe_table_shows_its_probes_protocol_accuracy(traced):
    _, report, _, _ = traced
    table = pd.read_csv(report / "probes" / "probe_table.csv")
    for row in table.itertuples():
        predictions = pd.read_csv(report / "probes" / row.encoder / row.model / "protocol_predictions.csv")
        assert row.accuracy == pytest.approx(predictions["correct"].mean(), abs=1e-12)
        assert len(predictions) == 40 and row.protocol == "stratified 5-fold cross-validation, 1 repeat"
        assert row.n_test == 8  # the saved run's test split: a detail beside it


SOURCE = Path(counterpoint.__file__).parent
#: Ways of computing an accuracy or fitting the probe's classifier outside the protocol.
SECOND_DEFINITIONS = re.compile(r"accuracy_score|LogisticRegression\(|np\.mean\([^)]*==|\(\s*\w+\s*==\s*\w+\s*\)\.mean\(")
#: The one exception: a trained probe's per-epoch monitor (and the saved run's labelled test split accuracy).
ALLOWED = {"probe_protocol.py", "probes/train.py"}


def test_no_other_module_computes_an_accuracy():
    offenders = []
    for path in sorted(SOURCE.rglob("*.py")):
        name = str(path.relative_to(SOURCE))
        if name in ALLOWED:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if SECOND_DEFINITIONS.search(line):
                offenders.append(f"{name}:{number}: {line.strip()}")
    assert not offenders, "a second definition of accuracy:\n" + "\n".join(offenders)
