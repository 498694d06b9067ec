"""The untrained control's encoders (``init=random``): the same architecture and input pipeline as the
trained encoder, with seeded random weights — a different space, reproducible bit for bit from its seed,
kept apart from the trained encoder by its spec and fingerprint, and refused by encoders without weights."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from conftest import write_midi, write_tone
from counterpoint.data.manifest import Track
from counterpoint.encoders.registry import build_encoder
from counterpoint.errors import EncoderError
from tiny_models import write_tiny_models

MUSICNN_CLIP = Path(__file__).parent / "fixtures" / "musicnn" / "audio" / "synthetic_chirp_chord.wav"


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory: pytest.TempPathFactory):
    return write_tiny_models(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def tracks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Track]]:
    folder = tmp_path_factory.mktemp("tracks")
    audio = [Track(id=f"tone{i}", audio_path=write_tone(folder / f"tone{i}.wav", f, seconds=3.0), midi_path=None)
             for i, f in enumerate((220.0, 330.0))]
    symbolic = [Track(id=f"midi{i}", audio_path=None, midi_path=write_midi(folder / f"midi{i}.mid", pitches))
                for i, pitches in enumerate(([60, 64, 67, 72] * 4, [57, 62, 65, 69, 71] * 3))]
    return {"audio": audio, "symbolic": symbolic}


def pooled(spec: str, tracks: list[Track]) -> np.ndarray:
    return np.stack([e.pooled for e in build_encoder(spec).embed(tracks)])


# The tiny configurations of every torch encoder but OpenL3 (full size, no tiny form: too slow for this check).
TINY = ("mert", "clamp2", "clamp3-symbolic", "clamp3-audio", "clap")


@pytest.mark.parametrize("name", TINY)
def test_random_init_is_another_space_reproducible_from_its_seed(name, tiny_models, tracks) -> None:
    model = tiny_models[name]
    batch = tracks["symbolic" if name in ("clamp2", "clamp3-symbolic") else "audio"]
    trained = pooled(model.spec, batch)
    untrained = pooled(f"{model.spec},init=random", batch)
    again = pooled(f"{model.spec},init=random,init_seed=0", batch)
    other_seed = pooled(f"{model.spec},init=random,init_seed=1", batch)

    assert untrained.shape == trained.shape and np.isfinite(untrained).all()
    # Different weights give a different space: far beyond float32 noise (the vectors differ at their own scale).
    assert np.abs(untrained - trained).max() > 1e-2 * np.abs(trained).max()
    assert np.abs(other_seed - untrained).max() > 1e-2 * np.abs(untrained).max()
    np.testing.assert_array_equal(again, untrained)  # same seed: same weights, same numbers bit for bit


def test_the_spec_and_fingerprint_keep_the_untrained_encoder_apart(tiny_models) -> None:
    spec = tiny_models["mert"].spec
    trained, untrained = build_encoder(spec), build_encoder(f"{spec},init=random")
    assert untrained.spec == trained.spec + ",init=random"
    assert build_encoder(f"{spec},init=random,init_seed=3").spec == trained.spec + ",init=random,init_seed=3"
    assert untrained.fingerprint()["params"]["init"] == "random" and untrained.fingerprint()["weights"] is None
    # the trained encoder's fingerprint is the one it had before init= existed, so stores made then stay valid
    assert "init" not in trained.fingerprint()["params"] and "init_seed" not in trained.fingerprint()["params"]
    assert trained.fingerprint()["weights"]
    assert untrained.fingerprint() != build_encoder(f"{spec},init=random,init_seed=3").fingerprint()


def test_the_random_weights_are_torch_defaults_with_fresh_batch_norms() -> None:
    pytest.importorskip("torch")
    network = build_encoder("musicnn:init=random").model()
    norm = network.timbral[0].norm.requires_grad_(False)
    assert float(norm.running_mean.abs().max()) == 0.0 and float((norm.running_var - 1).abs().max()) == 0.0
    assert float((norm.weight - 1).abs().max()) == 0.0 and float(norm.bias.abs().max()) == 0.0
    conv = network.timbral[0].conv.weight.detach()  # Kaiming-uniform with a = √5: uniform ±1/√fan_in
    bound = 1 / np.sqrt(conv[0].numel())
    assert float(conv.abs().max()) <= bound and float(conv.abs().max()) > 0.9 * bound


@pytest.mark.skipif(importlib.util.find_spec("musicnn") is None, reason="the musicnn wheel is not installed")
def test_musicnn_untrained_differs_from_trained_on_a_clip() -> None:
    clip = [Track(id="chirp", audio_path=MUSICNN_CLIP, midi_path=None)]
    trained = pooled("musicnn:layer=penultimate", clip)[0]
    untrained = pooled("musicnn:layer=penultimate,init=random", clip)[0]
    assert np.isfinite(untrained).all()
    assert abs(np.corrcoef(trained, untrained)[0, 1]) < 0.9  # another space, not a rescaled copy
    np.testing.assert_array_equal(untrained, pooled("musicnn:layer=penultimate,init=random", clip)[0])


@pytest.mark.parametrize("spec", ["symbolic-stats:init=random", "audio-stats:init_seed=1"])
def test_encoders_without_weights_refuse_the_untrained_control(spec) -> None:
    with pytest.raises(EncoderError, match="has no trained weights.*model encoders only"):
        build_encoder(spec)


def test_a_seed_without_random_init_is_an_error() -> None:
    with pytest.raises(EncoderError, match="init_seed= seeds the weights of init=random only"):
        build_encoder("musicnn:init_seed=3")
