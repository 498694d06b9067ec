"""`--depth` cuts the labels of every section of one report, and the stages below the report write nothing.

A real store written by embed on a tiny info.csv corpus with hierarchical styles: cut to
depth 1 there are two classes of 15 tracks (rock, jazz); uncut there are four, the largest
with 10 tracks. A section that read the uncut labels would show four classes, or a chance
level of 10/30 where the cut labels give 15/30.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import make_info_csv_dataset
from counterpoint.analysis.analyze import analyze_store
from counterpoint.analysis.compare import run_compare
from counterpoint.cli import app
from counterpoint.config import AnalysisSettings, CompareSettings, TrainSettings
from counterpoint.embed import embed_dataset
from counterpoint.pipeline import analyze_everything
from counterpoint.probes.run import probe_table
from counterpoint.store import Store

STYLES = ["rock/indie"] * 10 + ["rock/punk"] * 5 + ["jazz/bop"] * 8 + ["jazz/cool"] * 7
CUT = {"jazz", "rock"}
CUT_MAJORITY = 15 / 30     # either cut class; uncut, the largest class holds 10 of 30
ENCODERS = ("audio-stats", "symbolic-stats")


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("depth")
    rows = [{"id": f"t{i:02d}", "audio_filename": f"a{i:02d}.wav", "midi_filename": f"m{i:02d}.mid", "style": style,
             "group": f"work{i // 2}"} for i, style in enumerate(STYLES)]
    embed_dataset(make_info_csv_dataset(tmp / "data", rows), tmp / "store.h5", ",".join(ENCODERS))
    return tmp / "store.h5"


@pytest.fixture(scope="module")
def report(store_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report"
    outcome = CliRunner().invoke(app, ["analyze", str(store_path), "--label", "style", "--depth", "1",
                                       "--out", str(out), "--probe-models", "linear", "--probe-seeds", "1"])
    assert outcome.exit_code == 0, outcome.output
    return out


def test_per_space_metrics_use_the_cut_labels(report: Path) -> None:
    metrics = json.loads((report / "metrics.json").read_text())
    for spec in ENCODERS:
        space = metrics["encoders"][spec]
        assert space["n_tracks"] == 30 and space["n_classes"] == 2
        assert set(space["centroid_cosine_distance"]) == CUT
        assert {row["class"] for row in space["within_class_variance"]} == CUT
        assert space["chance"] == pytest.approx(1 / 2)


def test_the_comparison_uses_the_cut_labels(report: Path) -> None:
    document = json.loads((report / "compare" / "compare.json").read_text())
    assert document["settings"]["depth"] == 1 and document["pairs"]
    quality = pd.read_csv(report / "compare" / "label_quality.csv")
    assert set(quality.encoder) == set(ENCODERS)
    for measure in ("knn_accuracy", "probe_accuracy"):
        assert quality[quality.measure == measure].chance.tolist() == pytest.approx([CUT_MAJORITY] * 2)


def test_the_probes_use_the_cut_labels(report: Path) -> None:
    table = json.loads((report / "probes" / "probe_table.json").read_text())
    assert [row["n_classes"] for row in table["rows"]] == [2, 2]
    for spec in ENCODERS:
        run = report / "probes" / spec / "linear"
        config = json.loads((run / "config.json").read_text())
        assert config["classes"] == sorted(CUT) and config["label_depth"] == 1
        predictions = pd.read_csv(run / "test_predictions.csv")
        assert set(predictions.label) <= CUT and set(predictions.predicted) <= CUT


def test_the_figures_are_drawn_from_the_cut_labels(store_path: Path, tmp_path: Path) -> None:
    options = AnalysisSettings(label="style", depth=1, probe_models=("linear",), probe_seeds=1)
    result = analyze_everything(store_path, options, tmp_path / "report")
    for space in result.analysis.spaces:                       # scatter legends and centroid heat maps
        assert set(space.labels) == CUT and set(space.centroid_distance.index) == CUT
    for pair in result.comparison.pairs:                       # the CCA plot's legend
        assert set(pair.test_labels) <= CUT
    for run in result.probes.results.values():                 # the confusion matrices' axes
        assert run.classes == sorted(CUT)


def test_compare_accepts_depth(store_path: Path, tmp_path: Path) -> None:
    outcome = CliRunner().invoke(app, ["compare", str(store_path), "--label", "style", "--depth", "1",
                                       "--out", str(tmp_path), "--n-boot", "5", "--n-perm", "5"])
    assert outcome.exit_code == 0, outcome.output
    quality = pd.read_csv(tmp_path / "label_quality.csv")
    assert quality[quality.measure == "probe_accuracy"].chance.tolist() == pytest.approx([CUT_MAJORITY] * 2)


def test_analysis_comparison_and_probes_write_nothing(store_path: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    before = sorted(store_path.parent.iterdir())
    store = Store(store_path)
    analysis = analyze_store(store, AnalysisSettings(label="style", depth=1))
    comparison = run_compare(store, CompareSettings(label="style", depth=1, n_boot=5, n_perm=5))
    probes = probe_table(store, "style", models=("linear",), repeats=1, depth=1, settings=TrainSettings(epochs=2))
    assert list(tmp_path.iterdir()) == [] and sorted(store_path.parent.iterdir()) == before
    assert [space.metrics["n_classes"] for space in analysis.spaces] == [2, 2]
    assert len(comparison.label_quality) and set(comparison.label_quality.encoder) == set(ENCODERS)
    assert list(probes.table.n_classes) == [2, 2]
