"""The HEAR 2021 API of the audio encoders, through :mod:`counterpoint.hear`.

That every registered audio encoder inherits the API is checked in ``test_encoder_contract.py``.
"""

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
from counterpoint.encoders.musicnn import MusicnnEncoder
from counterpoint.encoders.openl3 import OpenL3Encoder
from counterpoint.errors import EncoderError, TrackError
from float_tolerance import assert_bitwise_equal, assert_float32_close, largest_magnitude
from test_musicnn import NETWORK_TERMS as MUSICNN_TERMS

needs_musicnn = pytest.mark.skipif(importlib.util.find_spec("musicnn") is None,
                                   reason="the musicnn wheel (pip install --no-deps musicnn==0.1.0) is not installed")


def sounds(seconds: float, sample_rate: int, seed: int = 0) -> np.ndarray:
    """Two different sounds ``[2, n_samples]``: a chord of rising sines, and noisy clicks."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    chord = sum(0.2 * np.sin(2 * np.pi * f * (1 + 0.05 * t) * t) for f in (220.0, 277.2, 329.6))
    clicks = 0.5 * (np.mod(t, 0.5) < 0.01) + 0.02 * rng.standard_normal(t.size)
    return np.stack([chord, clicks]).astype(np.float32)


def test_audio_stats_through_hear(tmp_path: Path) -> None:
    model = hear.load_model(spec="audio-stats:hop=1.0")
    assert isinstance(model, torch.nn.Module) and isinstance(model.encoder, AudioStatsEncoder)
    assert model.timestamp_encoder is model.encoder  # audio-stats keeps its own blocks under HEAR
    assert model.sample_rate == 22050 and isinstance(model.sample_rate, int)
    assert model.timestamp_embedding_size == model.scene_embedding_size == model.encoder.dim
    audio = sounds(2.5, model.sample_rate)
    embeddings, timestamps = hear.get_timestamp_embeddings(torch.from_numpy(audio), model)
    assert isinstance(embeddings, torch.Tensor) and tuple(embeddings.shape) == (2, 3, model.encoder.dim)
    assert embeddings.dtype == timestamps.dtype == torch.float32  # the HEAR API's types
    np.testing.assert_allclose(timestamps.numpy(), [[500.0, 1500.0, 2250.0]] * 2)  # block centres, ms
    scene = hear.get_scene_embeddings(audio, model)
    assert isinstance(scene, torch.Tensor) and tuple(scene.shape) == (2, model.encoder.dim)
    direct = model.encoder.embed_prepared([model.encoder.prepare_waveform(row, "row") for row in audio])
    assert_bitwise_equal(scene.numpy(), np.stack([e.pooled for e in direct]))  # each sound on its own, as alone
    assert_bitwise_equal(embeddings.numpy()[1], direct[1].frames)
    assert not np.allclose(scene.numpy()[0], scene.numpy()[1])
    # the same samples read from a file give the numbers the store keeps
    path = tmp_path / "clicks.wav"
    sf.write(path, audio[1], model.sample_rate, subtype="FLOAT")
    stored = model.encoder.embed([Track("clicks", path, None)])[0]
    assert_bitwise_equal(scene.numpy()[1], stored.pooled)


@pytest.mark.parametrize("shape", [(22050,), (1, 2, 22050), (2, 0)])
def test_wrong_audio_shape_is_an_encoder_error_naming_the_encoder(shape) -> None:
    model = hear.load_model(spec="audio-stats")
    with pytest.raises(EncoderError, match=r"audio-stats get_scene_embeddings.*\[n_sounds, n_samples\]"):
        hear.get_scene_embeddings(np.zeros(shape, np.float32), model)
    with pytest.raises(EncoderError, match="audio-stats get_timestamp_embeddings"):
        hear.get_timestamp_embeddings(torch.zeros(shape), model)


def test_load_model_checks_spec_and_weights_path() -> None:
    openl3 = hear.load_model("/models/openl3_audio_mel128_music.h5", spec="openl3:input_repr=mel128")
    assert isinstance(openl3.encoder, OpenL3Encoder)
    assert openl3.encoder.params["weights"] == "/models/openl3_audio_mel128_music.h5"
    assert openl3.encoder.params["input_repr"] == "mel128"
    # timestamps 50 ms apart (HEAR's onset tolerance); scene embeddings keep the spec's hop
    assert (openl3.timestamp_encoder.params["hop"], openl3.encoder.params["hop"]) == (0.05, 0.1)
    assert openl3.timestamp_encoder.params["weights"] == openl3.encoder.params["weights"]
    assert hear.load_model(spec="openl3:hop=0.25").timestamp_encoder.params["hop"] == 0.25  # the spec's own wins
    with pytest.raises(EncoderError, match="audio-stats takes no weights file"):
        hear.load_model("/models/anything.bin", spec="audio-stats")
    with pytest.raises(EncoderError, match="give the weights file once"):
        hear.load_model("/models/a.h5", spec="openl3:weights=/models/b.h5")
    with pytest.raises(EncoderError, match="symbolic-stats embeds symbolic, not audio"):
        hear.load_model(spec="symbolic-stats")
    with pytest.raises(EncoderError, match="unknown encoder"):
        hear.load_model(spec="no-such-encoder")


@pytest.fixture()
def musicnn_cache(tmp_path, monkeypatch, one_torch_thread):
    """Convert the musicnn checkpoint into a cache of this test's own."""
    monkeypatch.setenv("COUNTERPOINT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("COUNTERPOINT_WEIGHTS_DIR", raising=False)


@needs_musicnn
def test_musicnn_through_hear_embeds_short_sounds_with_48_ms_timestamps(musicnn_cache) -> None:
    model = hear.load_model(spec="musicnn:layer=penultimate")
    assert isinstance(model, torch.nn.Module) and isinstance(model.encoder, MusicnnEncoder)
    assert model.sample_rate == 16000 and model.scene_embedding_size == model.timestamp_embedding_size == 200
    assert model.encoder.spec == "musicnn:layer=penultimate,center=True"
    assert model.timestamp_encoder.spec == "musicnn:layer=penultimate,hop=0.048,center=True"
    audio = sounds(1.0, model.sample_rate, seed=1)  # a third of a patch: HEAR's clips are this short
    embeddings, timestamps = hear.get_timestamp_embeddings(torch.from_numpy(audio), model)
    frames = 1 + audio.shape[1] // 256  # 16-ms spectrogram frames; one patch centred on every third
    assert tuple(embeddings.shape) == (2, len(range(0, frames, 3)), 200)
    np.testing.assert_allclose(timestamps.numpy(), [np.arange(embeddings.shape[1]) * 48.0] * 2, atol=1e-4)
    scene = hear.get_scene_embeddings(audio, model)  # hop 3 s: one patch, centred at 0 s
    # the same patch, in a batch of other patches: musicnn's float32 error
    assert_float32_close(scene.numpy(), embeddings.numpy()[:, 0], scale=largest_magnitude, terms=MUSICNN_TERMS)
    stored = model.encoder.embed_prepared([model.encoder.prepare_waveform(row, "row") for row in audio])
    assert_bitwise_equal(scene.numpy(), np.stack([e.pooled for e in stored]))  # the store's numbers
    assert not np.allclose(embeddings.numpy()[0, 0], embeddings.numpy()[0, -1])  # the patches do move
    assert not np.allclose(scene.numpy()[0], scene.numpy()[1])


@needs_musicnn
def test_musicnn_hear_keeps_what_the_spec_sets(musicnn_cache) -> None:
    audio = sounds(7.0, 16000, seed=1)
    model = hear.load_model(spec="musicnn:layer=penultimate,hop=3,center=false")  # the reference framing
    assert model.timestamp_encoder is model.encoder
    embeddings, timestamps = hear.get_timestamp_embeddings(audio, model)
    assert tuple(embeddings.shape) == (2, 2, 200)  # two whole 3-s patches each
    np.testing.assert_allclose(timestamps.numpy(), [[1488.0, 4480.0]] * 2)  # patch centres, ms
    scene = hear.get_scene_embeddings(torch.from_numpy(audio), model)
    assert_float32_close(scene.numpy(), embeddings.numpy().mean(axis=1), scale=largest_magnitude(embeddings.numpy()),
                         terms=embeddings.shape[1])
    with pytest.raises(TrackError, match="sound 0: 1.00 s of audio is shorter than one musicnn patch.*center=true"):
        hear.get_scene_embeddings(audio[:, :16000], model)
