"""Weight resolution order and the messages a user sees when a file is missing."""

import pytest
from typer.testing import CliRunner

from counterpoint.cli import app
from counterpoint.encoders.weights import WeightFile, exact_size, find_weights, resolve_weights
from counterpoint.errors import WeightsError

HUB_FILE = WeightFile(model="toy", filename="toy.safetensors", repo_id="someone/toy-model",
                      size=exact_size(12_300_000, "the toy repository's file list"))
PACKAGED = WeightFile(model="musicnn", filename="MTT_musicnn/.index", package="musicnn")


def test_explicit_path_then_weights_dir_then_package(tmp_path, monkeypatch):
    monkeypatch.setenv("COUNTERPOINT_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    assert find_weights(HUB_FILE) is None
    in_dir = tmp_path / "weights" / "toy" / "toy.safetensors"
    in_dir.parent.mkdir(parents=True)
    in_dir.write_bytes(b"x")
    assert find_weights(HUB_FILE) == in_dir
    explicit = tmp_path / "mine.safetensors"
    explicit.write_bytes(b"y")
    assert find_weights(HUB_FILE, explicit) == explicit
    packaged = find_weights(PACKAGED)  # the musicnn wheel installed --no-deps by `make setup`
    assert packaged is not None and packaged.parts[-3:] == ("musicnn", "MTT_musicnn", ".index")
    override = tmp_path / "weights" / "musicnn" / "MTT_musicnn" / ".index"
    override.parent.mkdir(parents=True)
    override.write_bytes(b"z")
    assert find_weights(PACKAGED) == override  # the weights folder wins over the package


def test_missing_weights_name_the_file_size_source_and_command(tmp_path, monkeypatch):
    monkeypatch.setenv("COUNTERPOINT_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(WeightsError) as error:
        resolve_weights(HUB_FILE)
    message = str(error.value)
    for part in ("toy.safetensors", "12.3 MB", "huggingface.co/someone/toy-model", "counterpoint weights fetch toy"):
        assert part in message
    with pytest.raises(WeightsError, match="not found — check the path"):
        resolve_weights(HUB_FILE, tmp_path / "nope.pth")


def test_weights_list_shows_every_model_and_what_is_present():
    result = CliRunner().invoke(app, ["weights", "list"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    for model in ("musicnn", "clamp2", "clamp3", "mert", "clap", "openl3"):
        assert f"│ {model}" in result.output
    musicnn_rows = [line for line in result.output.splitlines() if line.startswith("│ musicnn")]
    assert musicnn_rows and all("missing" not in row for row in musicnn_rows)


def test_first_missing_names_the_first_absent_file_and_the_local_option(tmp_path, monkeypatch):
    from counterpoint.encoders.weights import first_missing

    monkeypatch.setenv("COUNTERPOINT_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    assert first_missing([PACKAGED]) is None
    reason = first_missing([PACKAGED, HUB_FILE], "model=DIR")
    assert "toy.safetensors" in reason and "counterpoint weights fetch toy" in reason and "model=DIR" in reason


def test_each_encoder_declares_its_weight_files_and_the_registry_gathers_them_once_per_model():
    from counterpoint.encoders.hubert import MERT_CHECKPOINT, MERT_CONFIG
    from counterpoint.encoders.registry import REGISTRY, declared_weights, encoder_class

    declared = declared_weights()
    assert declared["mert"] == [MERT_CONFIG, MERT_CHECKPOINT]   # declared by mert and by clamp3-audio, listed once
    for name, entry in REGISTRY.items():
        if entry.module.startswith("counterpoint."):
            for file in encoder_class(name).weight_files:
                assert file in declared[file.model], (name, file.filename)
    assert all(len(files) == len(set(files)) for files in declared.values())
    assert not encoder_class("symbolic-stats").weight_files   # no weights, nothing to fetch
