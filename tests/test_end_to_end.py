"""The whole pipeline through the real command line on a tiny dataset the test generates."""

import json

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from conftest import make_class_folders
from counterpoint.cli import app
from counterpoint.store import Store

runner = CliRunner()


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def test_check_embed_info_analyze_export_through_the_cli(tmp_path):
    root = make_class_folders(tmp_path / "data", {"low": 45, "mid": 60, "high": 76}, per_class=5)
    invoke("dataset", "check", root)
    store = tmp_path / "run.h5"
    invoke("embed", root, "--encoders", "symbolic-stats,audio-stats", "--out", store)
    loaded = Store(store)
    assert sorted(r.name for r in loaded.encoders) == ["audio-stats", "symbolic-stats"]
    assert all(r.n_tracks == 15 for r in loaded.encoders)
    info = invoke("store", "info", store)
    assert "symbolic-stats" in info.output and "failures: 0" in info.output
    report_dir = tmp_path / "report"
    invoke("analyze", store, "--label", "class", "--out", report_dir)
    metrics = json.loads((report_dir / "metrics.json").read_text())
    symbolic = metrics["encoders"]["symbolic-stats"]
    assert symbolic["n_classes"] == 3 and symbolic["probe_accuracy"] > 0.8  # pitch register is obvious
    page = (report_dir / "index.html").read_text()
    for spec in ("symbolic-stats", "audio-stats"):
        assert spec in page
        assert (report_dir / f"{spec}_pca.png").stat().st_size > 1000
    alignment = pd.read_csv(report_dir / "compare" / "alignment.csv")
    assert set(alignment["audio"]) == {"audio-stats"} and set(alignment["symbolic"]) == {"symbolic-stats"}
    assert "Audio × symbolic" in page
    invoke("export", store, "--encoder", "symbolic-stats", "--out", tmp_path / "s.npz")
    assert np.load(tmp_path / "s.npz")["X"].shape[0] == 15
    compared = invoke("compare", store, "--label", "class", "--out", tmp_path / "compare", "--n-boot", 20, "--n-perm", 19)
    assert "audio-stats" in compared.output and (tmp_path / "compare" / "compare.json").is_file()
    probe_dir = tmp_path / "probe"
    probed = invoke("probe", store, "--encoder", "symbolic-stats", "--label", "class", "--model", "linear", "--epochs",
                    30, "--out", probe_dir)
    config = json.loads((probe_dir / "config.json").read_text())
    assert sorted(config["classes"]) == ["high", "low", "mid"]
    headline = json.loads((probe_dir / "probe_accuracy.json").read_text())
    # The terminal shows the protocol's accuracy with its interval, chance and p, and the protocol.
    assert (f"probe accuracy {headline['accuracy']:.3f} [{headline['ci_low']:.3f}, {headline['ci_high']:.3f}] "
            f"(95 % interval), chance {headline['chance']:.3f}") in probed.output
    assert f"p {headline['p_value']:.3g}" in probed.output and "5-fold cross-validation, 1 repeat" in probed.output
    assert "test split accuracy" in probed.output
    again = invoke("probe", store, "--model-path", probe_dir, "--out", tmp_path / "probe-again")
    evaluation = json.loads((tmp_path / "probe-again" / "evaluation_report.json").read_text())
    assert f"probe accuracy {evaluation['accuracy']:.3f}" in again.output
    # The probe's own training and validation tracks are left out of its evaluation.
    assert evaluation["seen_left_out"] == len(config["train_ids"]) + len(config["validation_ids"])
    assert evaluation["n"] == 15 - evaluation["seen_left_out"]


def test_tag_prints_musicnn_tags_of_a_real_file(tmp_path):
    from conftest import write_tone

    path = write_tone(tmp_path / "tone.wav", 440.0, seconds=4.0)
    header, *lines = invoke("tag", path, "--top", 3).stdout.strip().splitlines()
    assert header == f"{path}:" and len(lines) == 3
    probabilities = [float(line.split()[-1]) for line in lines]
    assert probabilities == sorted(probabilities, reverse=True) and all(0 <= p <= 1 for p in probabilities)


def test_run_with_params_file_and_a_bad_dataset_message(tmp_path):
    root = make_class_folders(tmp_path / "data", per_class=4)
    params = tmp_path / "run.params"
    params.write_text(f"# tiny run\n--dataset {root}\n--out {tmp_path / 'out'}\n--encoders symbolic-stats\n")
    result = invoke("run", "--params-file", params)
    assert (tmp_path / "out" / "report" / "index.html").is_file()
    assert "report:" in result.output
    missing = runner.invoke(app, ["embed", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x.h5")])
    assert missing.exit_code == 2 and "no such dataset folder" in missing.output
