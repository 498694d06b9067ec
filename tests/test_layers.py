"""Layer-wise maps: several layers from one model pass, stored as the single-layer entries, and their CKA map."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

import layered_encoder
from conftest import make_class_folders, write_midi
from counterpoint.analysis.layers import layer_cka_map
from counterpoint.cli import app
from counterpoint.config import AnalysisSettings
from counterpoint.data.manifest import Track
from counterpoint.embed import embed_dataset
from counterpoint.encoders.registry import build_encoder
from counterpoint.errors import CounterpointError, EncoderError
from counterpoint.pipeline import analyze_everything
from counterpoint.store import Store
from tiny_models import write_clamp2, write_mert


def pooled_by_id(store: Store, spec: str) -> dict[str, np.ndarray]:
    matrix = store.pooled(spec)
    return dict(zip(matrix.ids, matrix.X))


@pytest.fixture(scope="module")
def known_store(tmp_path_factory) -> Path:
    """A real store of 24 tracks with every known layer (one pass per batch) and the known symbolic vector."""
    root = make_class_folders(tmp_path_factory.mktemp("known") / "data", per_class=12, seconds=0.3)
    out = root.parent / "store.h5"
    layered_encoder.KnownLayersEncoder.passes = 0
    embed_dataset(root, out, ["test-known-layers:layers=all", "test-known-vector"], workers=0)
    assert layered_encoder.KnownLayersEncoder.passes == 8  # 24 tracks in batches of 3: one pass serves 4 layers
    return out


def test_layers_are_stored_as_single_layer_entries_with_their_order(known_store: Path) -> None:
    store = Store(known_store)
    layers = store.layers("test-known-layers")
    assert [(r.spec, r.layer, r.layer_index) for r in layers] == [
        ("test-known-layers", "same", 0), ("test-known-layers:layer=rotated", "rotated", 1),
        ("test-known-layers:layer=scaled", "scaled", 2), ("test-known-layers:layer=independent", "independent", 3)]
    assert {r.base_spec for r in layers} == {"test-known-layers"}
    # the ordinary analyses see the default layer only; every entry stays reachable
    assert [r.spec for r in store.encoders] == ["test-known-layers", "test-known-vector"]
    assert len(store.all_encoders) == 5 and store.encoder("test-known-layers:layer=scaled").dim == 6
    same, scaled = pooled_by_id(store, "test-known-layers"), pooled_by_id(store, "test-known-layers:layer=scaled")
    assert all(np.allclose(scaled[i], 2.5 * same[i]) for i in same)


def test_single_layer_runs_skip_what_the_layered_run_stored_and_vice_versa(known_store: Path, tmp_path: Path) -> None:
    root = known_store.parent / "data"
    again = embed_dataset(root, known_store, ["test-known-layers:layer=rotated"], workers=0)
    assert (again.runs[0].skipped, again.runs[0].embedded) == (24, 0)
    alone = tmp_path / "alone.h5"
    embed_dataset(root, alone, ["test-known-layers:layer=independent"], workers=0)
    layered_encoder.KnownLayersEncoder.passes = 0
    run = embed_dataset(root, alone, ["test-known-layers:layers=scaled|independent"], workers=0).runs[0]
    assert run.embedded == 24 and layered_encoder.KnownLayersEncoder.passes == 8
    mine, theirs = Store(alone), Store(known_store)
    for spec in ("test-known-layers:layer=independent", "test-known-layers:layer=scaled"):
        a, b = pooled_by_id(mine, spec), pooled_by_id(theirs, spec)
        assert a.keys() == b.keys() and all(np.array_equal(a[i], b[i]) for i in a)
        assert mine.encoder(spec).fingerprint == theirs.encoder(spec).fingerprint


def test_bad_layer_lists_are_clear() -> None:
    with pytest.raises(EncoderError, match="unknown layer.*bogus.*same\\|rotated"):
        build_encoder("test-known-layers:layers=same|bogus").outputs()
    with pytest.raises(EncoderError, match="layer= and layers= both given"):
        build_encoder("test-known-layers:layer=same,layers=all")


def test_layer_map_recovers_the_known_answers(known_store: Path) -> None:
    (layer_map,) = layer_cka_map(known_store, "class", n_boot=50, n_perm=99)
    table = layer_map.table.set_index("audio_layer")
    for layer in ("same", "rotated", "scaled"):
        assert table.loc[layer, "value"] == pytest.approx(1.0, abs=1e-9)
        assert table.loc[layer, "p_value"] < 0.05
    independent = table.loc["independent"]
    assert abs(independent["value"]) < 0.2 and independent["ci_low"] < 0 < independent["ci_high"]
    assert (table["n"] == 24).all() and (table["p_holm"] >= table["p_value"]).all()
    # Holm over the four cells of the map: the smallest p-value times 4
    assert table["p_holm"].min() == pytest.approx(min(1.0, 4 * table["p_value"].min()))
    assert list(layer_map.matrix().index) == ["same", "rotated", "scaled", "independent"]


def test_compare_layers_writes_csv_json_heatmap_and_section(known_store: Path, tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    result = CliRunner().invoke(app, ["compare", str(known_store), "--label", "class", "--layers", "--out", str(out),
                                      "--n-boot", "20", "--n-perm", "19", "--figure-format", "png"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "layers" / "layer_cka.csv")
    assert list(table.columns[:4]) == ["audio", "symbolic", "audio_layer", "symbolic_layer"]
    assert {"value", "ci_low", "ci_high", "p_value", "p_holm", "p_bh", "n"} <= set(table.columns) and len(table) == 4
    # --n-perm 19 is raised to what the map's Holm family of 4 cells needs: 10 · 4 / 0.05 − 1
    assert json.loads((out / "layers" / "layer_cka.json").read_text())["maps"][0]["n_perm"] == 799
    assert table.set_index("audio_layer").loc["same", "p_value"] == 1 / 800
    assert list((out / "layers").glob("layer_cka_*.png"))
    assert "Holm" in (out / "layers" / "section.html").read_text()
    fixed = CliRunner().invoke(app, ["compare", str(known_store), "--label", "class", "--layers", "--out", str(out),
                                     "--n-boot", "20", "--n-perm", "19", "--fixed-n-perm", "--figure-format", "png"])
    assert fixed.exit_code == 0, fixed.output
    assert json.loads((out / "layers" / "layer_cka.json").read_text())["maps"][0]["n_perm"] == 19
    assert "layer map: 4 tests with 19 permutations each" in " ".join(fixed.output.split())
    assert "4 tests with 19 permutations each" in (out / "layers" / "section.html").read_text()
    info = CliRunner().invoke(app, ["store", "info", str(known_store)], env={"COLUMNS": "250"})
    assert "#3 independent" in info.output


def test_the_report_of_a_store_with_layers_has_the_layer_maps(known_store: Path, tmp_path: Path) -> None:
    result = analyze_everything(known_store, AnalysisSettings(label="class", reductions=("pca",)), tmp_path / "report")
    assert "At which layer do audio and score agree?" in result.report.read_text()
    table = pd.read_csv(tmp_path / "report" / "layers" / "layer_cka.csv")
    assert table.audio_layer.tolist() == ["same", "rotated", "scaled", "independent"]
    assert table.value.iloc[:3].to_numpy() == pytest.approx(1.0, abs=1e-6)


def test_a_store_without_layers_says_how_to_embed_them(tmp_path: Path) -> None:
    root = make_class_folders(tmp_path / "data", per_class=6, seconds=0.3)
    embed_dataset(root, tmp_path / "plain.h5", ["test-known-vector", "test-known-layers:layer=scaled"], workers=0)
    with pytest.raises(CounterpointError, match="layers=all"):
        layer_cka_map(tmp_path / "plain.h5", "class")


# ---- the real encoders' layers: the multi-layer pass gives what each single-layer encoder gives ------------


def test_mert_layers_equal_the_single_layer_encoders(tmp_path: Path, one_torch_thread) -> None:
    tiny = write_mert(tmp_path / "mert")
    layered = build_encoder(f"{tiny.spec},layers=all,window=1.0")
    assert [o.params["layer"] for o in layered.outputs()] == ["0", "1", "2"]
    rng = np.random.default_rng(3)
    inputs = [layered.prepare_waveform(rng.normal(size=n).astype(np.float32) * 0.1, f"sound {n}") for n in (30000, 17000)]
    outputs = layered.embed_outputs(inputs)
    for layer, embeddings in zip("012", outputs):
        alone = build_encoder(f"{tiny.spec},layer={layer},window=1.0").embed_prepared(inputs)
        for got, want in zip(embeddings, alone):
            assert np.array_equal(got.frames, want.frames) and np.array_equal(got.pooled, want.pooled)
    assert not np.allclose(outputs[0][0].pooled, outputs[2][0].pooled)


def test_clamp_m3_layers_equal_the_single_layer_encoders(tmp_path: Path, one_torch_thread) -> None:
    tiny = write_clamp2(tmp_path / "clamp2")
    midi = [write_midi(tmp_path / f"p{i}.mid", [60 + (i + k) % 12 for k in range(20 + 10 * i)]) for i in range(2)]
    layered = build_encoder(f"{tiny.spec},layers=all")
    names = layered.layer_names()
    assert names[-1] == "proj" and names[0] == "0"
    inputs = [layered.prepare(Track(f"t{i}", None, path)) for i, path in enumerate(midi)]
    outputs = layered.embed_outputs(inputs)
    for layer, embeddings in zip(names, outputs):
        alone = build_encoder(f"{tiny.spec},layer={layer}").embed_prepared(inputs)
        for got, want in zip(embeddings, alone):
            assert np.array_equal(got.frames, want.frames) and np.array_equal(got.pooled, want.pooled)
    # the joint space is the default: same spec and fingerprint as before the encoder had layers
    default = build_encoder(tiny.spec)
    assert layered.outputs()[-1].spec == default.spec and "layer" not in default.fingerprint()["params"]


@pytest.mark.skipif(importlib.util.find_spec("musicnn") is None, reason="the musicnn wheel is not installed")
def test_musicnn_layers_from_one_pass_are_the_single_layer_entries(tmp_path: Path) -> None:
    """Real checkpoints on three 3.2-s files: layers=all stores what musicnn:layer=X stores, and skips what it holds."""
    torch.set_num_threads(1)
    root = make_class_folders(tmp_path / "data", classes={"low": 48, "high": 72}, per_class=2, seconds=3.2)
    # stores made before musicnn had layers= keep their fingerprint: no layers key in it
    assert set(build_encoder("musicnn").fingerprint()["params"]) == {"model", "layer", "hop", "center"}
    layered_store, single_store = tmp_path / "layered.h5", tmp_path / "single.h5"
    embed_dataset(root, layered_store, ["musicnn:layer=taggram"], workers=0)
    run = embed_dataset(root, layered_store, ["musicnn:layers=all"], workers=0).runs[0]
    assert run.embedded == 4
    again = embed_dataset(root, layered_store, ["musicnn:layer=penultimate"], workers=0).runs[0]
    assert again.skipped == 4 and again.embedded == 0
    embed_dataset(root, single_store, "musicnn:layer=penultimate+musicnn:layer=frontend", workers=0)
    layered, single = Store(layered_store), Store(single_store)
    assert [r.layer for r in layered.layers("musicnn")] == ["frontend", "midend", "max_pool", "mean_pool",
                                                             "penultimate", "taggram"]
    assert [r.dim for r in layered.layers("musicnn")] == [561, 192, 753, 753, 200, 50]
    for spec in ("musicnn:layer=penultimate", "musicnn:layer=frontend"):
        a, b = pooled_by_id(layered, spec), pooled_by_id(single, spec)
        assert a.keys() == b.keys() and all(np.array_equal(a[i], b[i]) for i in a)
    frontend, max_pool = pooled_by_id(layered, "musicnn:layer=frontend"), pooled_by_id(layered, "musicnn")
    # frontend is the front-end part of max_pool, per patch; pooled over patches, still its first 561 values
    assert all(np.allclose(frontend[i], max_pool[i][:561]) for i in frontend)
