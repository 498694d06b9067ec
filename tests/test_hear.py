"""The HEAR 2021 API of the audio encoders, through :mod:`counterpoint.hear`."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from counterpoint import hear
from counterpoint.data.manifest import Track
from counterpoint.encoders.audio_stats import AudioStatsEncoder
from counterpoint.encoders.base import AudioEncoder
from counterpoint.encoders.clamp3_audio import Clamp3AudioEncoder
from counterpoint.encoders.clap import ClapEncoder
from counterpoint.encoders.mert import MertEncoder
from counterpoint.encoders.musicnn import MusicnnEncoder
from counterpoint.encoders.openl3 import OpenL3Encoder
from counterpoint.errors import EncoderError, TrackError

AUDIO_ENCODERS = (AudioStatsEncoder, MusicnnEncoder, OpenL3Encoder, MertEncoder, ClapEncoder, Clamp3AudioEncoder)
HEAR_MEMBERS = ("prepare", "timestamp_embedding_size", "scene_embedding_size", "embed_sounds",
                "get_timestamp_embeddings", "get_scene_embeddings")
needs_musicnn = pytest.mark.skipif(importlib.util.find_spec("musicnn") is None,
                                   reason="the musicnn wheel (pip install --no-deps musicnn==0.1.0) is not installed")


def sounds(seconds: float, sample_rate: int, seed: int = 0) -> np.ndarray:
    """Two different sounds ``[2, n_samples]``: a chord of rising sines, and noisy clicks."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    chord = sum(0.2 * np.sin(2 * np.pi * f * (1 + 0.05 * t) * t) for f in (220.0, 277.2, 329.6))
    clicks = 0.5 * (np.mod(t, 0.5) < 0.01) + 0.02 * rng.standard_normal(t.size)
    return np.stack([chord, clicks]).astype(np.float32)


@pytest.mark.parametrize("cls", AUDIO_ENCODERS, ids=lambda c: c.name)
def test_every_audio_encoder_inherits_the_hear_api(cls) -> None:
    assert issubclass(cls, AudioEncoder) and cls.modality == "audio"
    redefined = [member for member in HEAR_MEMBERS if member in vars(cls)]
    assert redefined == [], f"{cls.__name__} redefines {redefined}"
    assert "prepare_waveform" in vars(cls) and "sample_rate" in vars(cls)


def test_audio_stats_through_hear(tmp_path: Path) -> None:
    model = hear.load_model(spec="audio-stats:frame_hop=1.0")
    assert isinstance(model, AudioStatsEncoder) and model.sample_rate == 22050
    assert model.timestamp_embedding_size == model.scene_embedding_size == model.dim
    audio = sounds(2.5, model.sample_rate)
    embeddings, timestamps = hear.get_timestamp_embeddings(torch.from_numpy(audio), model)
    assert isinstance(embeddings, torch.Tensor) and tuple(embeddings.shape) == (2, 3, model.dim)
    np.testing.assert_allclose(timestamps.numpy(), [[500.0, 1500.0, 2250.0]] * 2)  # block centres, ms
    scene = hear.get_scene_embeddings(audio, model)
    assert isinstance(scene, torch.Tensor) and tuple(scene.shape) == (2, model.dim)
    direct = model.embed_prepared([model.prepare_waveform(row, "row") for row in audio])
    np.testing.assert_array_equal(scene.numpy(), np.stack([e.pooled for e in direct]))
    np.testing.assert_array_equal(embeddings.numpy()[1], direct[1].frames)
    assert not np.allclose(scene.numpy()[0], scene.numpy()[1])
    # the same samples read from a file give the numbers the store keeps
    path = tmp_path / "clicks.wav"
    sf.write(path, audio[1], model.sample_rate, subtype="FLOAT")
    stored = model.embed([Track("clicks", path, None)])[0]
    np.testing.assert_array_equal(scene.numpy()[1], stored.pooled)


@pytest.mark.parametrize("shape", [(22050,), (1, 2, 22050), (2, 0)])
def test_wrong_audio_shape_is_an_encoder_error_naming_the_encoder(shape) -> None:
    model = hear.load_model(spec="audio-stats")
    with pytest.raises(EncoderError, match=r"audio-stats get_scene_embeddings.*\[n_sounds, n_samples\]"):
        hear.get_scene_embeddings(np.zeros(shape, np.float32), model)
    with pytest.raises(EncoderError, match="audio-stats get_timestamp_embeddings"):
        hear.get_timestamp_embeddings(torch.zeros(shape), model)


def test_load_model_checks_spec_and_weights_path() -> None:
    openl3 = hear.load_model("/models/openl3_audio_mel128_music.h5", spec="openl3:input_repr=mel128")
    assert isinstance(openl3, OpenL3Encoder)
    assert openl3.params["weights"] == "/models/openl3_audio_mel128_music.h5" and openl3.params["input_repr"] == "mel128"
    with pytest.raises(EncoderError, match="audio-stats takes no weights file"):
        hear.load_model("/models/anything.bin", spec="audio-stats")
    with pytest.raises(EncoderError, match="give the weights file once"):
        hear.load_model("/models/a.h5", spec="openl3:weights=/models/b.h5")
    with pytest.raises(EncoderError, match="symbolic-stats embeds symbolic, not audio"):
        hear.load_model(spec="symbolic-stats")
    with pytest.raises(EncoderError, match="unknown encoder"):
        hear.load_model(spec="no-such-encoder")


@pytest.fixture()
def musicnn_cache(tmp_path, monkeypatch):
    """Convert the musicnn checkpoint into a cache of this test's own."""
    monkeypatch.setenv("COUNTERPOINT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("COUNTERPOINT_WEIGHTS_DIR", raising=False)
    torch.set_num_threads(1)


@needs_musicnn
def test_musicnn_through_hear(musicnn_cache) -> None:
    model = hear.load_model(spec="musicnn:layer=penultimate")
    assert isinstance(model, MusicnnEncoder) and model.sample_rate == 16000 and model.scene_embedding_size == 200
    audio = sounds(7.0, model.sample_rate, seed=1)  # two whole 3-s patches each
    embeddings, timestamps = hear.get_timestamp_embeddings(audio, model)
    assert isinstance(embeddings, torch.Tensor) and tuple(embeddings.shape) == (2, 2, 200)
    np.testing.assert_allclose(timestamps.numpy(), [[1488.0, 4480.0]] * 2)  # patch centres, ms
    assert bool((timestamps[:, 1:] > timestamps[:, :-1]).all())
    scene = hear.get_scene_embeddings(torch.from_numpy(audio), model)
    direct = model.embed_prepared([model.prepare_waveform(row, "row") for row in audio])
    np.testing.assert_allclose(scene.numpy(), np.stack([e.pooled for e in direct]), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(scene.numpy(), embeddings.numpy().mean(axis=1), rtol=1e-5, atol=1e-6)
    assert not np.allclose(scene.numpy()[0], scene.numpy()[1])
    with pytest.raises(TrackError, match="sound 0: 1.00 s of audio is shorter than one musicnn patch"):
        hear.get_scene_embeddings(audio[:, :16000], model)
