"""Declared sizes of the published weight files: each estimate agrees with its architecture built at
full size, the estimate method agrees with real saved files, and every listing shows the one number.

The published files cannot be downloaded here, so the estimates (values × 4 bytes of float32) are
checked two ways: the architectures are built at their published sizes on PyTorch's ``meta``
device (shapes only, no memory) and their state dicts counted; and models saved in each format the
files use (``torch.save`` of a checkpoint dict or a state dict, safetensors, a Keras HDF5 weight
file) are measured against the same estimate.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from counterpoint.cli import app
from counterpoint.encoders import clamp_weights, clap, hubert, openl3
from counterpoint.encoders.registry import REGISTRY, declared_weights, encoder_class
from counterpoint.encoders.weights import DeclaredSize, estimated_size, exact_size, size_at_most
from test_mert import FULL_CONFIG as MERT_FULL_CONFIG
from test_openl3 import write_random_openl3_h5

#: How close an estimate must be to the state dict of the architecture it describes.
ESTIMATE_AGREEMENT = 0.01
#: FacebookAI/xlm-roberta-base's published config.json (the text branch of CLaMP 2 and CLaMP 3);
#: the other fields are XLMRobertaConfig's defaults, which equal the published ones.
XLM_R_BASE_CONFIG = {"vocab_size": 250_002, "max_position_embeddings": 514, "type_vocab_size": 1,
                     "layer_norm_eps": 1e-5, "pad_token_id": 1}
#: laion/larger_clap_music's audio tower (HTSAT-base); its text tower and projections are ClapConfig's defaults.
LARGER_CLAP_AUDIO_CONFIG = {"patch_embeds_hidden_size": 128, "hidden_size": 1024, "depths": [2, 2, 12, 2],
                            "enable_fusion": False}


def state_dict_bytes(*modules: torch.nn.Module) -> int:
    """Bytes of the tensors a checkpoint of ``modules`` holds: every state-dict entry at its own dtype."""
    return sum(value.numel() * value.element_size() for module in modules for value in module.state_dict().values())


def assert_estimate_agrees(declared: DeclaredSize, actual_bytes: int) -> None:
    assert declared.kind == "estimate"
    assert abs(declared.bytes - actual_bytes) <= ESTIMATE_AGREEMENT * actual_bytes, (declared.explained, actual_bytes)


def text_branch() -> list[torch.nn.Module]:
    """CLaMP's ``text_model`` (AutoModel of xlm-roberta-base: XLMRobertaModel with its pooler) and ``text_proj``."""
    from transformers import XLMRobertaConfig, XLMRobertaModel

    return [XLMRobertaModel(XLMRobertaConfig(**XLM_R_BASE_CONFIG)), torch.nn.Linear(768, 768)]


def test_clamp_estimates_agree_with_the_full_size_branches() -> None:
    from counterpoint.encoders.clamp3_audio import Clamp3AudioConfig, build_audio_branch
    from counterpoint.encoders.m3 import M3Config, M3WithProjection

    with torch.device("meta"):
        text = text_branch()
        m3 = M3WithProjection(M3Config())
        audio = build_audio_branch(Clamp3AudioConfig())
    assert_estimate_agrees(clamp_weights.CLAMP2_WEIGHTS.size, state_dict_bytes(*text, m3))
    assert_estimate_agrees(clamp_weights.CLAMP3_SAAS_WEIGHTS.size, state_dict_bytes(*text, m3, audio))
    assert clamp_weights.CLAMP3_C2_WEIGHTS.size == clamp_weights.CLAMP3_SAAS_WEIGHTS.size
    # each branch's declared count on its own, so one wrong branch cannot hide behind another
    assert clamp_weights.TEXT_BRANCH_VALUES == sum(p.numel() for module in text for p in module.parameters())
    assert clamp_weights.M3_BRANCH_VALUES == sum(p.numel() for p in m3.parameters())
    assert clamp_weights.CLAMP3_AUDIO_BRANCH_VALUES == sum(p.numel() for p in audio.parameters())


def test_mert_estimate_agrees_with_the_full_size_model() -> None:
    from transformers import HubertModel

    with torch.device("meta"):
        model = HubertModel(hubert.hubert_config_from_mert(MERT_FULL_CONFIG))
    assert_estimate_agrees(hubert.MERT_CHECKPOINT.size, state_dict_bytes(model))


def test_clap_estimate_agrees_with_the_full_size_model() -> None:
    from transformers import ClapConfig, ClapModel

    with torch.device("meta"):
        model = ClapModel(ClapConfig(audio_config=LARGER_CLAP_AUDIO_CONFIG))
    assert_estimate_agrees(clap.CLAP_CHECKPOINT.size, state_dict_bytes(model))
    assert clap.CLAP_VALUES == sum(p.numel() for p in model.parameters())


def test_openl3_estimate_agrees_with_the_network_and_with_a_full_size_keras_file(tmp_path: Path) -> None:
    with torch.device("meta"):
        network = openl3.build_network("mel256", 6144)
    keras_values = sum(v.numel() for k, v in network.state_dict().items() if not k.endswith("num_batches_tracked"))
    assert keras_values == openl3.KERAS_VALUES
    path = tmp_path / "openl3_audio_mel256_music.h5"
    write_random_openl3_h5(path)  # every array of the published layout, at full size
    for file in openl3.WEIGHT_FILES.values():
        assert_estimate_agrees(file.size, path.stat().st_size)


@pytest.mark.parametrize("layout", ["checkpoint dict", "state dict", "safetensors"])
def test_a_saved_model_is_its_values_times_four_bytes(tmp_path: Path, layout: str) -> None:
    """The estimate method fits the formats the published checkpoints use (a model of ~2 M values,
    large enough that names and layout are well under 1 % of the file, as in the full-size files)."""
    from safetensors.torch import save_file

    from counterpoint.encoders.m3 import M3Config, M3WithProjection

    torch.manual_seed(0)
    model = M3WithProjection(M3Config(hidden_size=128, num_hidden_layers=4, num_attention_heads=4,
                                      intermediate_size=512, projection_size=128))
    state = model.state_dict()
    assert {value.dtype for value in state.values()} == {torch.float32}
    path = tmp_path / "model.bin"
    if layout == "checkpoint dict":  # as CLaMP 2 / CLaMP 3 publish theirs
        torch.save({"model": state, "epoch": 7, "min_eval_loss": 0.5}, path)
    elif layout == "state dict":  # pytorch_model.bin of a transformers model
        torch.save(state, path)
    else:
        save_file(state, str(path))
    estimate = estimated_size(sum(value.numel() for value in state.values()), "the test model")
    assert_estimate_agrees(estimate, path.stat().st_size)


def test_every_declared_file_has_a_size_and_an_estimate_never_reads_as_exact() -> None:
    declared = [file for files in declared_weights().values() for file in files]
    assert declared and all(file.size is not None for file in declared)
    for file in declared:
        text = file.size_text
        assert text == file.size.text != "size unknown"
        assert text.startswith({"exact": tuple("0123456789"), "estimate": "≈ ", "at most": "≤ "}[file.size.kind])
    assert hubert.MERT_CHECKPOINT.size_text == "≈ 377 MB"  # 94,371,712 values × 4 bytes, 3 significant digits
    assert hubert.MERT_CHECKPOINT.size.explained.startswith("≈ 377 MB (estimated from 94.4 M float32 values")
    assert size_at_most(1_000_000, "a vocabulary").text == "≤ 1 MB"
    assert exact_size(9_465_596, "a wheel").text == "9.5 MB"


def test_each_encoder_states_the_declared_size_of_its_largest_file_in_what_it_needs() -> None:
    for name in REGISTRY:
        cls = encoder_class(name)
        if cls.weight_files:
            largest = max(cls.weight_files, key=lambda file: file.size.bytes)
            assert largest.size_text in cls.requirements, (name, cls.requirements)
            assert "about" not in cls.requirements  # no hand-written size beside the declared one


def test_the_readme_encoders_table_gives_the_declared_sizes() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip().strip("`"): line for line in readme.splitlines() if line.startswith("| `")}
    for name in REGISTRY:
        cls = encoder_class(name)
        if cls.weight_files:
            largest = max(cls.weight_files, key=lambda file: file.size.bytes)
            assert largest.size_text in rows[name], (name, rows[name])


def test_missing_weights_errors_name_the_checkpoint_and_its_declared_size(tmp_path: Path, monkeypatch) -> None:
    from counterpoint.encoders.mert import MertEncoder

    monkeypatch.setenv("COUNTERPOINT_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    reason = MertEncoder.unavailable_reason()
    assert "pytorch_model.bin (≈ 377 MB)" in reason and "size unknown" not in reason
    assert f"pytorch_model.bin ({clap.CLAP_CHECKPOINT.size_text})" in clap.ClapEncoder.unavailable_reason()


def test_weights_list_shows_declared_sizes_for_missing_files_and_disk_sizes_for_present_ones(
        tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("COUNTERPOINT_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    folder = tmp_path / "weights" / "mert"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(MERT_FULL_CONFIG))
    (folder / "pytorch_model.bin").write_bytes(b"\0" * 1000)  # a truncated download
    runner = CliRunner()
    document = json.loads(runner.invoke(app, ["weights", "list", "--json"]).stdout)
    rows = {(row["model"], row["file"]): row for row in document}
    config, checkpoint = rows["mert", "config.json"], rows["mert", "pytorch_model.bin"]
    assert config["bytes_on_disk"] == (folder / "config.json").stat().st_size and not config["far_from_declared"]
    assert checkpoint["size"] == "1.0 kB" and checkpoint["bytes_on_disk"] == 1000 and checkpoint["far_from_declared"]
    assert checkpoint["declared_size"] == "≈ 377 MB" and checkpoint["size_kind"] == "estimate"
    assert checkpoint["bytes"] == hubert.MERT_CHECKPOINT.size.bytes
    assert "94.4 M float32 values" in checkpoint["size_basis"]
    missing = rows["clap", "pytorch_model.bin"]
    assert missing["path"] is None and missing["size"] == missing["declared_size"] == "≈ 776 MB"
    assert all(row["size"] != "size unknown" and row["size_kind"] for row in document)
    printed = runner.invoke(app, ["weights", "list"]).output
    assert f"- note: {folder / 'pytorch_model.bin'} is 1.0 kB on disk, declared ≈ 377 MB (estimated" in printed
    assert f"- note: {folder / 'config.json'}" not in printed


def test_far_from_a_declaration_depends_on_how_the_size_is_known() -> None:
    assert exact_size(4948, "a wheel").far_from(4949) and not exact_size(4948, "a wheel").far_from(4948)
    estimate = estimated_size(1_000_000, "a model")  # 4 MB
    assert not estimate.far_from(4_300_000) and estimate.far_from(4_500_000) and estimate.far_from(3_500_000)
    assert not size_at_most(1000, "a config").far_from(10) and size_at_most(1000, "a config").far_from(1001)
    with pytest.raises(ValueError, match="kind"):
        DeclaredSize(1, "roughly", "a guess")

