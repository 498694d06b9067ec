"""Tiny versions of every weight-needing encoder, written in the published file layouts.

Each ``write_*`` function puts a small model's files into a folder and returns a
:class:`TinyModel`: the spec that loads them through the same code path as the official
weights, and the files whose SHA-256 the encoder's fingerprint carries. The numbers come
from the test fixtures (CLaMP 2 / CLaMP 3 references) or from seeded random generators
shared with the encoders' own tests, so the same call always writes the same bytes.

Used by ``tests/test_tiny_models_pipeline.py`` and ``benchmarks/tiny_models_on_demo.py``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file

from test_mert import TINY_CONFIG as MERT_TINY_CONFIG
from test_mert import random_official_state
from test_openl3 import write_random_openl3_h5

FIXTURES = Path(__file__).parent / "fixtures"
CLAMP2_TINY_WEIGHTS = FIXTURES / "clamp2" / "clamp2_tiny_weights.safetensors"
CLAMP2_TINY_CONFIG = FIXTURES / "clamp2" / "clamp2_tiny_config.json"
CLAMP3_AUDIO_TINY_WEIGHTS = FIXTURES / "clamp3_audio" / "clamp3_audio_tiny.safetensors"
CLAMP3_AUDIO_TINY_CONFIG = FIXTURES / "clamp3_audio" / "audio_config.json"
CLAMP3_MERT_TINY = FIXTURES / "clamp3_audio" / "mert_tiny"
#: Projection size of the tiny CLAP model (its audio-text space).
CLAP_PROJECTION = 12
#: Spec parameters of the tiny OpenL3 model (mel128 is the smallest front end; hop in seconds).
OPENL3_PARAMETERS = "input_repr=mel128,embedding_size=512,hop=0.5"


@dataclass(frozen=True)
class TinyModel:
    """A spec loading a tiny model, and the files its fingerprint's weights digest is made of."""

    spec: str
    weights: tuple[Path, ...]


def clamp_branch_state(prefix: str) -> dict[str, torch.Tensor]:
    """The tiny CLaMP 2 fixture weights with the M3 keys under ``prefix`` (``music`` as CLaMP 2
    publishes them, ``symbolic`` as CLaMP 3 does), the text model's keys alongside, and the
    ``position_ids`` buffer older transformers saved."""
    renamed = {}
    for key, value in load_file(str(CLAMP2_TINY_WEIGHTS)).items():
        if key.startswith("music_"):
            key = key.replace("music_", prefix + "_", 1)
        renamed[key] = value
    renamed[f"{prefix}_model.base.embeddings.position_ids"] = torch.arange(16)[None]
    return renamed


def save_official_checkpoint(path: Path, state: dict[str, torch.Tensor]) -> Path:
    """Save ``state`` as CLaMP 2 / CLaMP 3 publish checkpoints: ``{"model": state_dict, ...}`` via torch.save."""
    torch.save({"model": state, "epoch": 7, "min_eval_loss": 0.5}, path)
    return path


def write_clamp2(folder: Path) -> TinyModel:
    """A tiny CLaMP 2 checkpoint (.pth, published layout) with the fixture's M3 config."""
    folder.mkdir(parents=True, exist_ok=True)
    weights = save_official_checkpoint(folder / "clamp2_tiny.pth", clamp_branch_state("music"))
    return TinyModel(f"clamp2:weights={weights},config={CLAMP2_TINY_CONFIG}", (weights,))


def write_clamp3(folder: Path) -> tuple[TinyModel, TinyModel]:
    """One tiny CLaMP 3 checkpoint holding both branches, and the specs of (symbolic, audio).

    The symbolic branch is the CLaMP 2 fixture's M3 (``symbolic_*`` keys), the audio branch the
    CLaMP 3 audio fixture (``audio_*`` keys, MERT features of the fixture's tiny MERT); both
    project to 24 dimensions, so, as with the official checkpoint, both encoders read the
    same file and land in one space.
    """
    folder.mkdir(parents=True, exist_ok=True)
    state = clamp_branch_state("symbolic")
    audio = load_file(str(CLAMP3_AUDIO_TINY_WEIGHTS))
    audio_config = json.loads(CLAMP3_AUDIO_TINY_CONFIG.read_text())
    audio["audio_model.embeddings.position_ids"] = torch.arange(audio_config["max_audio_length"])[None]
    weights = save_official_checkpoint(folder / "clamp3_tiny.pth", {**state, **audio})
    symbolic = TinyModel(f"clamp3-symbolic:weights={weights},config={CLAMP2_TINY_CONFIG}", (weights,))
    mert_checkpoint = CLAMP3_MERT_TINY / "model.safetensors"
    audio_model = TinyModel(f"clamp3-audio:weights={weights},config={CLAMP3_AUDIO_TINY_CONFIG},"
                            f"mert_weights={CLAMP3_MERT_TINY}", (weights, mert_checkpoint))
    return symbolic, audio_model


def write_mert(folder: Path, seed: int = 7) -> TinyModel:
    """A tiny MERT folder as the Hub holds MERT-v1-95M: ``config.json`` + ``pytorch_model.bin``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(MERT_TINY_CONFIG))
    torch.save(random_official_state(MERT_TINY_CONFIG, seed=seed), folder / "pytorch_model.bin")
    return TinyModel(f"mert:weights={folder}", (folder / "pytorch_model.bin",))


def write_tiny_clap(folder: Path, seed: int = 21) -> Path:
    """A CLAP folder as the Hub holds one: model, feature extractor (1-s clips) and a tokenizer."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import ClapConfig, ClapFeatureExtractor, ClapModel, PreTrainedTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    config = ClapConfig(
        text_config=dict(vocab_size=20, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32, max_position_embeddings=40, projection_dim=CLAP_PROJECTION),
        audio_config=dict(spec_size=64, num_mel_bins=16, patch_size=4, patch_stride=(4, 4), depths=[1, 1],
                          num_attention_heads=[1, 2], window_size=4, hidden_size=16, patch_embeds_hidden_size=8,
                          projection_dim=CLAP_PROJECTION, enable_fusion=False),
        projection_dim=CLAP_PROJECTION)
    ClapModel(config).save_pretrained(folder)
    ClapFeatureExtractor(feature_size=16, sampling_rate=48000, max_length_s=1, truncation="rand_trunc",
                         padding="repeatpad").save_pretrained(folder)
    words = ["<pad>", "<unk>", "<s>", "</s>", "piano", "drums", "a", "of", "sound", "the", "guitar"]
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", unk_token="<unk>").save_pretrained(folder)
    return folder


def write_clap(folder: Path) -> TinyModel:
    """The tiny CLAP folder, loaded with ``weights=DIR``."""
    write_tiny_clap(folder)
    return TinyModel(f"clap:weights={folder}", (folder / "model.safetensors",))


def write_openl3(folder: Path) -> TinyModel:
    """A random OpenL3 weight file in the published Keras layout (full-size network: OpenL3 has no tiny form)."""
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / "openl3_audio_mel128_music.h5"
    write_random_openl3_h5(weights)
    return TinyModel(f"openl3:{OPENL3_PARAMETERS},weights={weights}", (weights,))


def write_tiny_models(folder: Path) -> dict[str, TinyModel]:
    """Every weight-needing encoder's tiny model under ``folder``, by encoder name."""
    clamp3_symbolic, clamp3_audio = write_clamp3(folder / "clamp3")
    return {
        "clamp2": write_clamp2(folder / "clamp2"),
        "clamp3-symbolic": clamp3_symbolic,
        "clamp3-audio": clamp3_audio,
        "mert": write_mert(folder / "mert"),
        "clap": write_clap(folder / "clap"),
        "openl3": write_openl3(folder / "openl3"),
    }
