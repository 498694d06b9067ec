"""CLAP encoder on a tiny random ClapModel saved with save_pretrained and loaded by the real path."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from counterpoint.data.manifest import Track
from counterpoint.encoders.clap import ClapEncoder
from counterpoint.encoders.registry import build_encoder
from counterpoint.errors import WeightsError
from float_tolerance import assert_float32_close, column_scale, largest_magnitude
from tiny_models import CLAP_PROJECTION as PROJECTION
from tiny_models import write_tiny_clap

# float32 depth of the tiny CLAP (tests/float_tolerance.py): the feature extractor's 1024-point STFT and mel bank,
# then at most 16 sums (patch embedding, 2 Swin stages of 5 sums, patch merging, the two-layer projection and its
# normalisation) of at most 128 terms; its text tower is shallower
NETWORK_TERMS = 1024 + 16 * 128


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny_clap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_clap(tmp_path_factory.mktemp("clap_tiny"))


@pytest.fixture(scope="module")
def audio_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """2.6 s at 44.1 kHz (1-s windows at 0, 1, 2 s; the 0.6-s tail is dropped) and 0.7 s (one padded window)."""
    folder = tmp_path_factory.mktemp("clap_audio")
    rng = np.random.default_rng(4)
    paths = []
    for name, seconds in (("phrase", 2.6), ("blip", 0.7)):
        t = np.arange(int(seconds * 44100)) / 44100
        signal = np.sin(2 * np.pi * 440 * t) * np.exp(-t) + 0.05 * rng.standard_normal(t.size)
        path = folder / f"{name}.wav"
        sf.write(path, (0.5 * signal).astype(np.float32), 44100)
        paths.append(path)
    return paths


def tracks(paths: list[Path]) -> list[Track]:
    return [Track(id=p.stem, audio_path=p, midi_path=None) for p in paths]


def test_windows_frames_times_and_pooled(tiny_clap, audio_files) -> None:
    encoder = build_encoder(f"clap:weights={tiny_clap},forward_batch=2")
    phrase, blip = encoder.embed(tracks(audio_files))
    assert encoder.dim == PROJECTION
    assert phrase.frames.shape == (2, PROJECTION)  # the 0.6-s tail is shorter than 1 s
    assert phrase.timestamps == pytest.approx([0.5, 1.5])
    assert blip.frames.shape == (1, PROJECTION) and blip.timestamps == pytest.approx([0.35], abs=1e-3)
    assert_float32_close(np.linalg.norm(phrase.frames, axis=1), np.ones(len(phrase.frames)), scale=1.0,
                         terms=PROJECTION)
    assert_float32_close(phrase.pooled, phrase.frames.mean(axis=0), scale=column_scale(phrase.frames),
                         terms=len(phrase.frames))
    assert phrase.duration == pytest.approx(2.6, abs=1e-3)


def test_frames_equal_clap_on_each_window(tiny_clap, audio_files) -> None:
    """Each frame is get_audio_features of that window through the saved feature extractor."""
    import librosa
    from transformers import ClapFeatureExtractor, ClapModel

    model = ClapModel.from_pretrained(tiny_clap).eval()
    extractor = ClapFeatureExtractor.from_pretrained(tiny_clap)
    waveform = librosa.load(audio_files[0], sr=48000)[0]
    embedding = ClapEncoder(model=str(tiny_clap)).embed(tracks(audio_files[:1]))[0]
    for row, start in enumerate(range(0, 48000 * len(embedding.frames), 48000)):
        features = extractor(waveform[start:start + 48000], sampling_rate=48000, return_tensors="pt")
        with torch.inference_mode():
            expected = model.get_audio_features(**features).pooler_output[0].numpy()
        assert_float32_close(embedding.frames[row], expected, scale=largest_magnitude, terms=NETWORK_TERMS)


def test_batch_equals_one_file_at_a_time(tiny_clap, audio_files) -> None:
    encoder = ClapEncoder(weights=str(tiny_clap), forward_batch=3)
    together = encoder.embed(tracks(audio_files))
    for joint, path in zip(together, audio_files):
        single = encoder.embed(tracks([path]))[0]
        assert_float32_close(joint.frames, single.frames, scale=largest_magnitude, terms=NETWORK_TERMS)


def test_text_embeddings_are_normalised_and_distinct(tiny_clap) -> None:
    encoder = ClapEncoder(model=str(tiny_clap))
    texts = encoder.embed_text(["the sound of a piano", "the sound of drums"])
    assert texts.shape == (2, PROJECTION)
    assert_float32_close(np.linalg.norm(texts, axis=1), np.ones(len(texts)), scale=1.0, terms=PROJECTION)
    assert not np.allclose(texts[0], texts[1])
    assert_float32_close(encoder.embed_text(["the sound of drums"])[0], texts[1], scale=largest_magnitude,
                         terms=NETWORK_TERMS)


def test_missing_weights_name_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_clap) -> None:
    monkeypatch.setenv("COUNTERPOINT_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
    reason = ClapEncoder.unavailable_reason()
    assert reason is not None and "config.json" in reason and "counterpoint weights fetch clap" in reason
    with pytest.raises(WeightsError, match=r"config.json.*laion/larger_clap_music.*counterpoint weights fetch clap"):
        ClapEncoder().model()
    partial = tmp_path / "clap"
    partial.mkdir()
    shutil.copy(tiny_clap / "config.json", partial / "config.json")
    with pytest.raises(WeightsError, match=r"pytorch_model.bin.*counterpoint weights fetch clap"):
        ClapEncoder().model()
    with pytest.raises(WeightsError, match="clap-htsat-unfused"):
        ClapEncoder(model="laion/clap-htsat-unfused").model()
