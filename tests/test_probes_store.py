"""Probes end to end on a real HDF5 store written by counterpoint.store.StoreWriter."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from counterpoint.encoders.base import Embedding
from counterpoint.errors import CounterpointError, StoreError
from counterpoint.probes.persist import load_probe
from counterpoint.probes.train import predict_logits
from counterpoint.config import TrainSettings
from counterpoint.probes.run import evaluate_saved, probe, probe_table
from counterpoint.significance import bh_adjust, holm_adjust
from counterpoint.report.probes import probe_html_section, write_evaluation, write_probe_result, write_probe_table
from counterpoint.store import EncoderMeta, Store, StoreWriter

torch.set_num_threads(1)

HELPER = Path(__file__).with_name("probes_custom_model.py")
FAST = {"settings": TrainSettings(epochs=20, patience=5, lr=1e-2, hidden=(8,))}
DIM = 4


def write_store(path: Path, n_works: int = 24, per_work: int = 3, split_column: bool = False,
                extra_style: str | None = None, seed: int = 0, id_prefix: str = "") -> Path:
    """Tracks grouped by work; the label 'style' is a property of the work; two encoders.

    ``signal`` separates the styles in pooled vectors and in every frame; ``noise`` carries none.
    Three tracks have an empty label. With ``extra_style``, the last work gets a style no probe saw;
    ``id_prefix`` makes the track ids those of another dataset.
    """
    rng = np.random.default_rng(seed)
    styles = np.array(["baroque", "classical", "romantic"])
    rows, embeddings = [], {"signal": [], "noise": []}
    centres = rng.normal(scale=3.0, size=(3, DIM))
    for w in range(n_works):
        for t in range(per_work):
            index = len(rows)
            style = styles[w % 3]
            label = "" if index in (1, 10, 20) else style
            if extra_style and w == n_works - 1:
                label = extra_style
            split = ("train" if w < n_works * 0.6 else "validation" if w < n_works * 0.8 else "test") if split_column else ""
            rows.append({"id": f"{id_prefix}w{w}_t{t}", "audio_filename": f"w{w}_t{t}.wav", "midi_filename": f"w{w}_t{t}.mid",
                         "split": split, "group": f"work{w}", "style": label, "era": f"{style}/late"})
            length = int(rng.integers(2, 8))
            frames = centres[w % 3] + rng.normal(size=(length, DIM))
            embeddings["signal"].append(Embedding(frames, np.arange(length) * 0.5, frames.mean(axis=0), length * 0.5))
            noise = rng.normal(size=(length, DIM))
            embeddings["noise"].append(Embedding(noise, np.arange(length) * 0.5, noise.mean(axis=0), length * 0.5))
    ids = [r["id"] for r in rows]
    with StoreWriter(path) as writer:
        writer.set_tracks(pd.DataFrame(rows))
        for name in ("signal", "noise"):
            spec = f"{name}:scale=1"
            writer.begin_encoder(EncoderMeta(spec, name, "audio", DIM, {"name": name}))
            writer.add_embeddings(spec, ids, embeddings[name], [0.01] * len(ids))
    return path


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_store(tmp_path_factory.mktemp("probes") / "run.h5")


def group_of(track_id: str) -> str:
    return "work" + track_id.split("_")[0][1:]


@pytest.mark.parametrize("model", ["linear", "lstm"])
def test_probe_on_a_store_writes_everything_and_does_not_leak(store_path: Path, tmp_path: Path, model: str) -> None:
    result = probe(store_path, "signal", label="style", model=model, **FAST)
    write_probe_result(result, tmp_path)
    assert result.protocol.accuracy >= 0.9 and result.protocol.p_value < 0.01
    for name in ("model.safetensors", "config.json", "training_history.json", "classification_report.json",
                 "classification_report.txt", "confusion_matrix.png", "test_predictions.csv", "probe_accuracy.json",
                 "protocol_predictions.csv"):
        assert (tmp_path / name).stat().st_size > 0, name
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["encoder"] == "signal:scale=1" and config["label"] == "style" and config["group"] == "group"
    assert config["classes"] == ["baroque", "classical", "romantic"] and config["input_dim"] == DIM
    assert config["takes_sequences"] == (model == "lstm")
    assert sum(config["split_counts"].values()) == 72 - 3
    assert "3 of 72 tracks have an empty label" in " ".join(result.notes)
    history = json.loads((tmp_path / "training_history.json").read_text())
    assert len(history) == config["training"]["epochs_run"] and "validation_macro_f1" in history[0]
    report = json.loads((tmp_path / "classification_report.json").read_text())
    assert report["test_split_accuracy"] == pytest.approx(result.test_split_accuracy) and "accuracy" not in report
    headline = json.loads((tmp_path / "probe_accuracy.json").read_text())
    assert headline["accuracy"] == result.protocol.accuracy and headline["classifier"] == model
    assert headline["protocol"]["description"].startswith("grouped stratified 5-fold cross-validation, 1 repeat")
    # The saved probe records the tracks it has seen, so an evaluation can leave them out.
    assert len(config["train_ids"]) == config["split_counts"]["train"]
    assert len(config["validation_ids"]) == config["split_counts"]["validation"]
    model_obj, _ = load_probe(tmp_path)
    assert model_obj.scaler_scale.shape == (DIM,) and not torch.all(model_obj.scaler_scale == 1)


def test_group_column_keeps_works_on_one_side(store_path: Path) -> None:
    """Re-derive every side from the saved predictions and the split counts of three seeds."""
    for seed in range(3):
        result = probe(store_path, "signal", label="style", model="linear", group="group",
                       settings=TrainSettings(seed=seed, epochs=2, patience=2))
        test_ids = set(result.test_predictions["id"])
        test_works = {group_of(i) for i in test_ids}
        all_ids = Store(store_path).tracks()
        labelled = all_ids[all_ids["style"] != ""]
        expected = set(labelled[labelled["group"].isin(test_works)]["id"])
        assert test_ids == expected  # every labelled track of a test work is in test, no other


def test_split_column_is_honoured(tmp_path: Path) -> None:
    path = write_store(tmp_path / "split.h5", split_column=True)
    result = probe(path, "signal", label="style", model="mlp", **FAST)
    tracks = Store(path).tracks()
    labelled = tracks[tracks["style"] != ""]
    assert result.config["split_source"] == "split column"
    assert set(result.test_predictions["id"]) == set(labelled[labelled["split"] == "test"]["id"])
    assert result.split_counts == labelled["split"].value_counts().to_dict()


def test_saved_model_round_trip_gives_identical_predictions(store_path: Path, tmp_path: Path) -> None:
    for model in ("mlp", "attention"):
        out = tmp_path / model
        trained = probe(store_path, "signal", label="style", model=model, **FAST)
        write_probe_result(trained, out)
        tracks = Store(store_path).tracks().set_index("id")
        test_ids = list(trained.test_predictions["id"])
        # Evaluate the saved model on exactly the test tracks, through a store whose split column says so.
        evaluated = evaluate_saved(out, store_path)
        merged = evaluated.predictions.set_index("id").loc[test_ids]
        assert merged["predicted"].tolist() == trained.test_predictions["predicted"].tolist()
        assert merged["label"].tolist() == tracks.loc[test_ids, "style"].tolist()
        assert evaluated.unseen_labels == {}
        # The reloaded weights and scaler give bit-identical logits.
        reloaded, config = load_probe(out)
        store = Store(store_path)
        inputs = store.frames("signal").frames if config["takes_sequences"] else store.pooled("signal").X
        np.testing.assert_array_equal(predict_logits(reloaded, inputs), predict_logits(trained.probe, inputs))


def test_evaluate_saved_reports_unseen_labels(store_path: Path, tmp_path: Path) -> None:
    write_probe_result(probe(store_path, "signal", label="style", model="linear", **FAST), tmp_path / "probe")
    other = write_store(tmp_path / "other.h5", extra_style="impressionist", seed=1, id_prefix="other-")
    result = evaluate_saved(tmp_path / "probe", other)
    write_evaluation(result, tmp_path / "eval")
    assert result.unseen_labels == {"impressionist": 3}
    assert "never saw" in " ".join(result.notes)
    assert len(result.predictions) == 72 - 3 - 3  # 3 empty labels and 3 unseen
    assert (tmp_path / "eval" / "evaluation_report.json").is_file() and (tmp_path / "eval" / "predictions.csv").is_file()


def test_evaluate_saved_needs_the_same_spec(store_path: Path, tmp_path: Path) -> None:
    write_probe_result(probe(store_path, "signal", label="style", model="linear",
                             settings=TrainSettings(epochs=1, patience=1)), tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["encoder"] = "signal:scale=2"
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CounterpointError, match="which the store lacks"):
        evaluate_saved(tmp_path, store_path)


def test_custom_sequence_class_trains_on_a_store(store_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(HELPER.parent)  # a relative file path, as a user types it
    result = probe(store_path, "signal", label="style", model=f"{HELPER.name}:MaskedMaxProbe",
                   settings=TrainSettings(epochs=20, patience=5, lr=1e-2))
    write_probe_result(result, tmp_path / "probe")
    assert result.protocol.accuracy >= 0.8
    monkeypatch.chdir(tmp_path)  # the saved probe loads from anywhere
    reloaded, config = load_probe(tmp_path / "probe")
    assert config["model"] == f"{HELPER.resolve()}:MaskedMaxProbe" and config["takes_sequences"]
    assert evaluate_saved(tmp_path / "probe", store_path).scored.accuracy >= 0.8


def test_label_depth_and_missing_columns(store_path: Path) -> None:
    result = probe(store_path, "signal", label="era", model="linear", depth=1,
                   settings=TrainSettings(epochs=3, patience=3))
    assert result.classes == ["baroque", "classical", "romantic"]
    with pytest.raises(CounterpointError, match="label column 'mood'"):
        probe(store_path, "signal", label="mood")
    with pytest.raises(CounterpointError, match="group column 'composer'"):
        probe(store_path, "signal", label="style", group="composer")
    with pytest.raises(StoreError):
        probe(store_path, "openl3", label="style")


def test_probe_table_over_encoders_and_models(store_path: Path, tmp_path: Path) -> None:
    messages: list[tuple[str, int, int]] = []
    probes = probe_table(store_path, "style", models=("linear", "attention"), repeats=2,
                         progress=lambda what, done, total: messages.append((what, done, total)), **FAST)
    write_probe_table(probes, tmp_path)
    table = probes.table
    assert messages == [(f"{e} · {m}", i, 4) for i, (e, m) in enumerate(   # the one progress shape
        [(e, m) for e in Store(store_path).encoder_specs for m in ("linear", "attention")])]
    assert len(table) == 4 and (table["error"] == "").all()
    assert (table["protocol"] == "grouped stratified 5-fold cross-validation, 2 repeats").all()
    by_key = table.set_index(["encoder", "model"])
    signal, noise = by_key.loc[("signal:scale=1", "linear")], by_key.loc[("noise:scale=1", "linear")]
    assert signal["accuracy"] >= 0.85 and signal["ci_low"] > signal["chance"] and signal["p_holm"] < 0.05
    assert noise["accuracy"] <= 0.7 and noise["p_value"] > 0.05  # noise carries no style
    assert (table["n"] == 69).all() and table["chance"].tolist() == pytest.approx([24 / 69] * 4)  # the majority share
    saved = pd.read_csv(tmp_path / "probe_table.csv")
    assert saved["accuracy"].tolist() == pytest.approx(table["accuracy"].tolist())
    assert json.loads((tmp_path / "probe_table.json").read_text())["repeats"] == 2
    assert (tmp_path / "signal_scale=1" / "attention" / "model.safetensors").is_file()
    html = probe_html_section(probes)
    assert html.count("<tr>") == 5 and "signal:scale=1" in html and "<strong>" in html
    assert ">p (Holm)</th>" in html and "false discovery rate" in html
    # Each row is its probe's protocol accuracy (2 repeats × 69 held-out predictions); Holm and BH over the rows.
    for (encoder, model), result in probes.results.items():
        assert len(result.protocol.predictions) == 2 * 69
        assert by_key.loc[(encoder, model), "accuracy"] == result.protocol.accuracy
    assert table.p_holm.tolist() == pytest.approx(holm_adjust(table.p_value).tolist())
    assert table.p_bh.tolist() == pytest.approx(bh_adjust(table.p_value).tolist())


def test_probe_table_records_a_failing_combination(store_path: Path) -> None:
    probes = probe_table(store_path, "style", models=("linear", "no_such_module_xyz:Probe"), repeats=1,
                         encoders=["signal:scale=1"], settings=TrainSettings(epochs=2, patience=2))
    failed = probes.table.set_index("model").loc["no_such_module_xyz:Probe"]
    assert "cannot import" in failed["error"]
    assert "failed: " in probe_html_section(probes)


@pytest.mark.parametrize("n_works", [13, 14, 15, 16])
def test_probe_on_11_to_14_tracks_states_the_split_it_gave_and_trains_on_every_class(tmp_path: Path, n_works: int) -> None:
    path = write_store(tmp_path / "small.h5", n_works=n_works, per_work=1)   # 2 of the tracks have no label
    result = probe(path, "signal", label="style", model="linear", settings=TrainSettings(epochs=3, patience=2, lr=1e-2))
    counts = result.split_counts
    n = n_works - 2
    assert sum(counts.values()) == n
    assert counts["test"] == counts["validation"] == int(np.floor(0.15 * n + 0.5))
    assert f"{counts['train']} train / {counts['validation']} validation / {counts['test']} test" in \
        result.config["split_source"]
    assert not any("absent from the training split" in note for note in result.notes)
    # The saved run's test split holds one or two tracks: said, and the headline is cross-validated instead.
    assert f"the test split holds {counts['test']} tracks, fewer than 3 of some class (" in " ".join(result.notes)
    assert "np.str_" not in " ".join(result.notes)
    assert result.protocol.plan.kind == "cv" and result.protocol.n == n


def test_evaluating_a_saved_probe_on_its_own_tracks_leaves_them_out_and_says_how_many(store_path: Path,
                                                                                      tmp_path: Path) -> None:
    trained = probe(store_path, "signal", label="style", model="linear", **FAST)
    write_probe_result(trained, tmp_path / "probe")
    evaluated = evaluate_saved(tmp_path / "probe", store_path)
    seen = trained.split_counts["train"] + trained.split_counts["validation"]
    assert evaluated.seen_left_out == seen
    assert set(evaluated.predictions["id"]) == set(trained.test_predictions["id"])
    assert evaluated.scored.n == trained.split_counts["test"] == 69 - seen
    assert (f"{seen} of 69 tracks were the probe's own training ({trained.split_counts['train']}) or validation "
            f"({trained.split_counts['validation']}) tracks and were left out") in " ".join(evaluated.notes)
    write_evaluation(evaluated, tmp_path / "evaluation")
    saved = json.loads((tmp_path / "evaluation" / "evaluation_report.json").read_text())
    assert saved["seen_left_out"] == seen and saved["accuracy"] == evaluated.scored.accuracy


def test_a_saved_probe_evaluated_only_on_its_training_tracks_is_refused(tmp_path: Path) -> None:
    path = write_store(tmp_path / "split.h5", split_column=True)
    write_probe_result(probe(path, "signal", label="style", model="linear", **FAST), tmp_path / "probe")
    with pytest.raises(CounterpointError, match="among its .* training and 0 validation tracks"):
        evaluate_saved(tmp_path / "probe", path, split="train")
    # On its 12 test tracks (4 works of 3): enough of every class, so no tiny-set note.
    evaluated = evaluate_saved(tmp_path / "probe", path, split="test")
    assert evaluated.scored.n == 12 and evaluated.seen_left_out == 0
    assert not any("too few tracks" in note for note in evaluated.notes)
    # On a store of two works (three labelled tracks: 1 baroque, 2 classical): too few of some class, said.
    tiny = write_store(tmp_path / "tiny.h5", n_works=2, per_work=2, id_prefix="new-")
    scarce = evaluate_saved(tmp_path / "probe", tiny)
    assert "hold fewer than 3 of some class" in " ".join(scarce.notes)


def test_a_saved_probe_without_its_track_ids_says_it_cannot_check(store_path: Path, tmp_path: Path) -> None:
    write_probe_result(probe(store_path, "signal", label="style", model="linear", **FAST), tmp_path / "probe")
    config_path = tmp_path / "probe" / "config.json"
    config = json.loads(config_path.read_text())
    del config["train_ids"], config["validation_ids"]
    config_path.write_text(json.dumps(config))
    evaluated = evaluate_saved(tmp_path / "probe", store_path)
    assert evaluated.seen_left_out == 0 and evaluated.scored.n == 69
    assert "does not record the tracks it was trained on" in " ".join(evaluated.notes)


def test_a_probe_saved_before_training_batch_was_named_so_is_still_evaluated(store_path: Path, tmp_path: Path) -> None:
    # Probes saved before the training setting was called training_batch wrote it as batch_size.
    write_probe_result(probe(store_path, "signal", label="style", model="linear", **FAST), tmp_path / "probe")
    evaluated_now = evaluate_saved(tmp_path / "probe", store_path)
    config_path = tmp_path / "probe" / "config.json"
    config = json.loads(config_path.read_text())
    assert config["training"]["training_batch"] == FAST["settings"].training_batch
    config["training"]["batch_size"] = config["training"].pop("training_batch")
    config_path.write_text(json.dumps(config))
    evaluated_old = evaluate_saved(tmp_path / "probe", store_path)
    assert evaluated_old.predictions["predicted"].tolist() == evaluated_now.predictions["predicted"].tolist()


def test_a_probe_trained_to_its_epoch_cap_says_so_and_one_that_stops_early_does_not(store_path: Path) -> None:
    capped = probe(store_path, "signal", label="style", settings=TrainSettings(epochs=2, patience=5, lr=1e-2, hidden=(8,)))
    assert capped.config["training"]["epochs_run"] == 2
    assert [note for note in capped.notes if "epoch cap (2 epochs" in note and "--epochs" in note]
    # A linear probe of separable classes keeps lowering its validation loss (progress at equal macro-F1) to any
    # cap; a wide MLP at a high rate overshoots within a few epochs and stops early.
    early = probe(store_path, "signal", label="style", model="mlp",
                  settings=TrainSettings(epochs=200, patience=1, lr=0.3, hidden=(8,)))
    assert early.config["training"]["epochs_run"] < 200
    assert not [note for note in early.notes if "epoch cap" in note]


def test_a_probe_reports_each_training_run_and_the_command_draws_bars(store_path: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from counterpoint.cli import app

    calls: list[tuple[str, int, int]] = []
    result = probe(store_path, "signal", label="style", repeats=2, progress=lambda *call: calls.append(call), **FAST)
    runs = 1 + len(result.protocol.plan.folds)  # the saved model's training, then one per fold
    assert runs == 11 and calls == [("training runs", done, runs) for done in range(1, runs + 1)]
    n_probes = len(Store(store_path).encoder_specs)
    table = CliRunner().invoke(app, ["probe", str(store_path), "--label", "style", "--all-encoders", "--epochs", "3",
                                     "--out", str(tmp_path / "probes")])
    assert table.exit_code == 0, table.output
    assert "probes (encoder × model)" in table.stderr and f"{n_probes}/{n_probes}" in table.stderr
    one = CliRunner().invoke(app, ["probe", str(store_path), "--label", "style", "--encoder", "signal", "--epochs", "3",
                                   "--seeds", "2", "--out", str(tmp_path / "one")])
    assert one.exit_code == 0, one.output
    assert "training runs" in one.stderr and "11/11" in one.stderr
    assert "epoch cap (3 epochs" in one.stderr


def test_a_report_keeps_one_weight_file_per_encoder_and_model_and_png_figures_by_default(
        store_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from counterpoint.config import AnalysisSettings
    from counterpoint.pipeline import analyze_everything
    from counterpoint.report.plotly_bundle import FETCH_COMMAND

    monkeypatch.setenv("COUNTERPOINT_CACHE", str(tmp_path / "cache"))   # no light plotly.js installed there
    options = AnalysisSettings(label="style", reductions=("pca",), probe_models=("linear",))
    assert options.figure_formats == ("png",) and options.probe_weights == "first"
    said: list[str] = []
    report = analyze_everything(store_path, options, tmp_path / "report", step=said.append).report.parent
    assert [line for line in said if FETCH_COMMAND in line] == [   # the full bundle, said once, with the fix
        f"note: the page inlines plotly.js's full bundle (4.8 MB); `{FETCH_COMMAND}` installs the cartesian-only "
        "bundle (1.5 MB) that every later report inlines instead"]
    weights = sorted(p.relative_to(report).as_posix() for p in report.rglob("*.safetensors"))
    assert weights == ["probes/noise_scale=1/linear/model.safetensors", "probes/signal_scale=1/linear/model.safetensors"]
    suffixes = {p.suffix for p in report.rglob("*") if p.is_file()}
    assert ".png" in suffixes and not suffixes & {".svg", ".pdf"}
    assert (report / "probes" / "signal_scale=1" / "linear" / "confusion_matrix.png").is_file()


def test_every_fold_probe_and_every_format_on_request(store_path: Path, tmp_path: Path) -> None:
    probes = probe_table(store_path, "style", models=("linear",), encoders=["signal:scale=1"], repeats=2,
                         keep_fold_probes=True, **FAST)
    result = probes.results[("signal:scale=1", "linear")]
    assert [config["fold"] for _, config in result.fold_probes] == list(range(10))
    assert [config["seed"] for _, config in result.fold_probes] == [0] * 5 + [1] * 5  # seed + repeat
    write_probe_table(probes, tmp_path / "all", ("png", "svg", "pdf"), weights="all")
    folder = tmp_path / "all" / "signal_scale=1" / "linear"
    folds = sorted(p.parent.name for p in (folder / "folds").rglob("model.safetensors"))
    assert folds == [f"fold_{i:02d}_seed_{i // 5}" for i in range(10)] and (folder / "model.safetensors").is_file()
    assert {p.suffix for p in folder.glob("confusion_matrix.*")} == {".png", ".svg", ".pdf"}
    model, config = load_probe(folder / "folds" / "fold_07_seed_1")  # a kept fold probe is a saved probe
    assert config["fold"] == 7 and config["classes"] == ["baroque", "classical", "romantic"]
    write_probe_table(probes, tmp_path / "none", weights="none")
    assert not list((tmp_path / "none").rglob("*.safetensors"))
    assert (tmp_path / "none" / "signal_scale=1" / "linear" / "probe_accuracy.json").is_file()


def test_probe_weights_without_probes_is_an_error() -> None:
    from counterpoint.config import AnalysisSettings, RunSettings

    with pytest.raises(CounterpointError, match="--probe-weights all needs probe models"):
        AnalysisSettings(label="style", probe_weights="all")
    with pytest.raises(CounterpointError, match="--probe-weights none needs probe models"):
        RunSettings(probe_models="", probe_weights="none")
    with pytest.raises(CounterpointError, match="--probe-weights .some. is not one of first, all, none"):
        AnalysisSettings(label="style", probe_models=("linear",), probe_weights="some")
    assert RunSettings(probe_weights="all").analysis().probe_weights == "all"


def test_above_max_tracks_a_probe_learns_from_a_stated_stratified_subsample(store_path: Path, tmp_path: Path) -> None:
    """69 labelled tracks (21 / 24 / 24 by style), at most 30: the saved probe and every fold of the protocol see
    the same tracks, each style in proportion (9 / 10 / 10); 0 (or a limit of the count) probes every track."""
    capped = probe(store_path, "signal", label="style", model="linear", group="group",
                   settings=TrainSettings(epochs=2, patience=2, max_tracks=30))
    seen = set(capped.protocol.predictions["id"])
    assert capped.protocol.n == len(seen) == 29 and sum(capped.split_counts.values()) == 29
    assert set(capped.config["train_ids"]) | set(capped.config["validation_ids"]) <= seen
    tracks = Store(store_path).tracks().set_index("id")
    assert tracks.loc[sorted(seen), "style"].value_counts().to_dict() == {"baroque": 9, "classical": 10, "romantic": 10}
    assert any("subsample of 29 of the 69 labelled tracks, stratified by the label (seed 0; --max-tracks 30"
               in note for note in capped.notes)
    assert capped.config["training"]["max_tracks"] == 30
    for limit in (0, 69):
        every = probe(store_path, "signal", label="style", model="linear", group="group",
                      settings=TrainSettings(epochs=2, patience=2, max_tracks=limit))
        assert every.protocol.n == 69 and not any("--max-tracks" in note for note in every.notes)
