"""MERT encoder: loading the published checkpoint layout, windowing, frames and pooling.

The published weights cannot be downloaded here, so a tiny MERT (same architecture, small
sizes) is written to a temporary folder in the published format — ``config.json`` in the
MERTConfig spelling and ``pytorch_model.bin`` with the key names MERT's own ``MERTModel``
saves — and loaded through the same path the real model takes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from counterpoint.data.manifest import Track
from counterpoint.data.resample import TORCHAUDIO_SINC_HANN
from counterpoint.encoders.hubert import MERT_CHECKPOINT, hubert_config_from_mert, map_official_keys, normalise_waveform
from counterpoint.encoders.mert import MertEncoder
from counterpoint.encoders.windowing import window_starts
from counterpoint.encoders.registry import build_encoder
from counterpoint.errors import EncoderError, WeightsError
from float_tolerance import assert_float32_close, column_scale, largest_magnitude

#: MERT-v1-95M's architecture as its published config.json gives it (MERTConfig defaults).
FULL_CONFIG = {
    "model_type": "mert_model", "architectures": ["MERTModel"], "hidden_size": 768, "num_hidden_layers": 12,
    "num_attention_heads": 12, "intermediate_size": 3072, "conv_dim": [512] * 7, "conv_stride": [5, 2, 2, 2, 2, 2, 2],
    "conv_kernel": [10, 3, 3, 3, 3, 2, 2], "conv_bias": False, "num_conv_pos_embeddings": 128,
    "num_conv_pos_embedding_groups": 16, "feat_extract_norm": "group", "feat_proj_layer_norm": True,
    "do_stable_layer_norm": False, "layer_norm_eps": 1e-5, "mask_time_prob": 0.05, "sample_rate": 24000,
    "feature_extractor_cqt": False, "deepnorm": False, "attention_relax": -1.0,
}
TINY_CONFIG = {**FULL_CONFIG, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
               "intermediate_size": 64, "conv_dim": [16] * 7, "num_conv_pos_embeddings": 16,
               "num_conv_pos_embedding_groups": 4}
# float32 depth of the tiny MERT (tests/float_tolerance.py): 7 convolutions, the feature projection, the positional
# convolution and 2 transformer layers of 5 sums each, each of at most 256 terms (attention over up to 190 frames)
NETWORK_TERMS = (7 + 2 + 2 * 5) * 256


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def official_shapes(config: dict) -> dict[str, tuple[int, ...]]:
    """Key names and shapes of a MERTModel state dict as the published checkpoint stores them
    (written from the architecture, not from our model, so the mapping is really tested)."""
    hidden, inner, dims, kernels = config["hidden_size"], config["intermediate_size"], config["conv_dim"], config["conv_kernel"]
    shapes: dict[str, tuple[int, ...]] = {"masked_spec_embed": (hidden,)}
    for i, (dim, kernel) in enumerate(zip(dims, kernels)):
        shapes[f"feature_extractor.conv_layers.{i}.conv.weight"] = (dim, 1 if i == 0 else dims[i - 1], kernel)
    shapes["feature_extractor.conv_layers.0.layer_norm.weight"] = (dims[0],)
    shapes["feature_extractor.conv_layers.0.layer_norm.bias"] = (dims[0],)
    shapes["feature_projection.layer_norm.weight"] = (dims[-1],)
    shapes["feature_projection.layer_norm.bias"] = (dims[-1],)
    shapes["feature_projection.projection.weight"] = (hidden, dims[-1])
    shapes["feature_projection.projection.bias"] = (hidden,)
    positional = config["num_conv_pos_embeddings"]
    shapes["encoder.pos_conv_embed.conv.weight_g"] = (1, 1, positional)
    shapes["encoder.pos_conv_embed.conv.weight_v"] = (hidden, hidden // config["num_conv_pos_embedding_groups"], positional)
    shapes["encoder.pos_conv_embed.conv.bias"] = (hidden,)
    shapes["encoder.layer_norm.weight"] = shapes["encoder.layer_norm.bias"] = (hidden,)
    for n in range(config["num_hidden_layers"]):
        layer = f"encoder.layers.{n}"
        for proj in ("k_proj", "v_proj", "q_proj", "out_proj"):
            shapes[f"{layer}.attention.{proj}.weight"] = (hidden, hidden)
            shapes[f"{layer}.attention.{proj}.bias"] = (hidden,)
        for norm in ("layer_norm", "final_layer_norm"):
            shapes[f"{layer}.{norm}.weight"] = shapes[f"{layer}.{norm}.bias"] = (hidden,)
        shapes[f"{layer}.feed_forward.intermediate_dense.weight"] = (inner, hidden)
        shapes[f"{layer}.feed_forward.intermediate_dense.bias"] = (inner,)
        shapes[f"{layer}.feed_forward.output_dense.weight"] = (hidden, inner)
        shapes[f"{layer}.feed_forward.output_dense.bias"] = (hidden,)
    return shapes


def random_official_state(config: dict, seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    state = {k: torch.randn(shape, generator=generator) * 0.2 for k, shape in official_shapes(config).items()}
    for key in state:  # keep norms near identity so activations stay in a sane range
        if key.endswith("norm.weight"):
            state[key] = 1 + 0.1 * state[key]
    return state


@pytest.fixture(scope="module")
def tiny_mert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, torch.Tensor]]:
    folder = tmp_path_factory.mktemp("mert_tiny")
    (folder / "config.json").write_text(json.dumps(TINY_CONFIG))
    state = random_official_state(TINY_CONFIG, seed=7)
    torch.save(state, folder / "pytorch_model.bin")
    return folder, state


@pytest.fixture(scope="module")
def audio_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two short WAVs at 22.05 kHz (so loading resamples to 24 kHz): 2.5 s and 1.3 s."""
    folder = tmp_path_factory.mktemp("mert_audio")
    rng = np.random.default_rng(3)
    paths = []
    for name, seconds, pitch in (("chord", 2.5, 220.0), ("short", 1.3, 330.0)):
        t = np.arange(int(seconds * 22050)) / 22050
        signal = sum(np.sin(2 * np.pi * pitch * r * t) for r in (1, 1.25, 1.5)) / 3 + 0.05 * rng.standard_normal(t.size)
        path = folder / f"{name}.wav"
        sf.write(path, (0.5 * signal).astype(np.float32), 22050)
        paths.append(path)
    return paths


def tracks_of(paths: list[Path]) -> list[Track]:
    return [Track(id=p.stem, audio_path=p, midi_path=None) for p in paths]


def test_full_size_official_keys_map_onto_hubert_model() -> None:
    from transformers import HubertModel

    with torch.device("meta"):
        model = HubertModel(hubert_config_from_mert(FULL_CONFIG))
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    official = {k: torch.empty(shape, device="meta") for k, shape in official_shapes(FULL_CONFIG).items()}
    mapped = map_official_keys(official, list(expected))
    assert {k: tuple(v.shape) for k, v in mapped.items()} == expected
    assert sum(np.prod(s) for s in expected.values()) > 90_000_000  # the 95M model


def test_every_official_tensor_lands_in_the_model(tiny_mert) -> None:
    folder, state = tiny_mert
    encoder = MertEncoder(weights=str(folder), layer="all-mean")
    loaded = encoder.model().network.state_dict()
    assert len(loaded) == len(state)
    for key, value in state.items():
        target = key.replace("weight_g", "parametrizations.weight.original0").replace("weight_v", "parametrizations.weight.original1")
        assert torch.equal(loaded[target], value), key


def test_wrong_checkpoint_is_refused(tmp_path: Path, tiny_mert) -> None:
    folder, state = tiny_mert
    (tmp_path / "config.json").write_text((folder / "config.json").read_text())
    broken = dict(state)
    broken.pop("encoder.layers.1.final_layer_norm.bias")
    broken["extra.head.weight"] = torch.zeros(3)
    torch.save(broken, tmp_path / "pytorch_model.bin")
    with pytest.raises(WeightsError, match="missing 1 tensor.*final_layer_norm.bias.*unexpected 1"):
        MertEncoder(weights=str(tmp_path)).model()


def test_unsupported_variant_is_refused() -> None:
    with pytest.raises(WeightsError, match="deepnorm"):
        hubert_config_from_mert({**TINY_CONFIG, "deepnorm": True})


def test_frames_windows_timestamps_and_pooling(tiny_mert, audio_files) -> None:
    folder, _ = tiny_mert
    encoder = build_encoder(f"mert:weights={folder},layer=2,window=1.0,forward_batch=2")
    chord = encoder.embed(tracks_of(audio_files[:1]))[0]
    # 2.5 s at 24 kHz = 60000 samples → windows of 24000, 24000, 12000 samples → 74 + 74 + 37 frames
    assert chord.frames.shape == (74 + 74 + 37, 32)
    assert chord.duration == pytest.approx(2.5, abs=1e-3)
    hop, half_field = 320 / 24000, 200 / 24000
    assert chord.timestamps[:2] == pytest.approx([half_field, half_field + hop])
    assert chord.timestamps[74] == pytest.approx(1.0 + half_field)  # second window starts at 1 s
    assert np.all(np.diff(chord.timestamps) > 0)
    assert_float32_close(chord.pooled, chord.frames.mean(axis=0), scale=column_scale(chord.frames),
                         terms=len(chord.frames))
    assert encoder.dim == 32 and encoder.spec == "mert:layer=2,window=1.0,weights=" + str(folder)


def test_layer_choice_matches_the_hidden_states(tiny_mert, audio_files) -> None:
    folder, _ = tiny_mert
    per_layer = [MertEncoder(weights=str(folder), layer=str(n)).embed(tracks_of(audio_files[1:]))[0].frames for n in range(3)]
    mean = MertEncoder(weights=str(folder)).embed(tracks_of(audio_files[1:]))[0].frames
    assert_float32_close(mean, np.mean(per_layer, axis=0), scale=largest_magnitude, terms=len(per_layer))
    assert not np.allclose(per_layer[0], per_layer[2])


def test_frames_equal_the_model_on_the_normalised_whole_file(tiny_mert, audio_files) -> None:
    """With one window covering the file, frames are the model's output on the normalised file,
    resampled from 22.05 kHz with torchaudio's Resample as the model card does."""
    folder, _ = tiny_mert
    encoder = MertEncoder(weights=str(folder), layer="1", window=10.0)
    embedding = encoder.embed(tracks_of(audio_files[:1]))[0]
    decoded, rate = sf.read(audio_files[0], dtype="float32")
    waveform = TORCHAUDIO_SINC_HANN(decoded, rate, 24000)
    normalised = (waveform - waveform.mean()) / np.sqrt(waveform.var() + 1e-7)
    assert_float32_close(normalise_waveform(waveform), normalised, scale=largest_magnitude, terms=waveform.size)
    with torch.inference_mode():
        expected = encoder.model().network(torch.from_numpy(normalised[None].astype(np.float32)),
                                         output_hidden_states=True).hidden_states[1][0].numpy()
    assert_float32_close(embedding.frames, expected, scale=largest_magnitude, terms=NETWORK_TERMS)


def test_fingerprint_records_the_resampler(tiny_mert) -> None:
    folder, _ = tiny_mert
    fingerprint = MertEncoder(weights=str(folder)).fingerprint()
    assert fingerprint["resampler"] == "torchaudio:sinc_interp_hann,lowpass_filter_width=6,rolloff=0.99"


def test_batch_equals_one_file_at_a_time(tiny_mert, audio_files) -> None:
    folder, _ = tiny_mert
    encoder = MertEncoder(weights=str(folder), window=1.0, forward_batch=8)
    together = encoder.embed(tracks_of(audio_files))
    alone = [encoder.embed(tracks_of([p]))[0] for p in audio_files]
    for a, b in zip(together, alone):
        assert_float32_close(a.frames, b.frames, scale=largest_magnitude, terms=NETWORK_TERMS)
        np.testing.assert_array_equal(a.timestamps, b.timestamps)


def test_window_starts_drop_only_a_too_short_tail() -> None:
    assert window_starts(60000, 24000, 400) == [0, 24000, 48000]
    assert window_starts(48300, 24000, 400) == [0, 24000]
    assert window_starts(300, 24000, 400) == []


def test_missing_weights_name_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COUNTERPOINT_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
    reason = MertEncoder.unavailable_reason()
    assert reason is not None and "config.json" in reason and "counterpoint weights fetch mert" in reason
    with pytest.raises(WeightsError, match=r"config.json.*counterpoint weights fetch mert"):
        MertEncoder().model()
    (tmp_path / "mert").mkdir()
    (tmp_path / "mert" / "config.json").write_text(json.dumps(TINY_CONFIG))
    with pytest.raises(WeightsError, match=f"{MERT_CHECKPOINT.filename}.*counterpoint weights fetch mert"):
        MertEncoder().model()
    with pytest.raises(WeightsError, match="holds none of"):
        MertEncoder(weights=str(tmp_path / "mert")).model()


def test_bad_parameters_are_clear() -> None:
    with pytest.raises(EncoderError, match="layer"):
        MertEncoder(layer="last")
    with pytest.raises(EncoderError, match="cuda|one of"):
        build_encoder("mert:device=tpu")
