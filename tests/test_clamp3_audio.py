"""CLaMP 3 audio branch on a tiny random model, loaded through the real checkpoint path.

A tiny MERT (published file layout) and a tiny CLaMP 3 checkpoint (``{"model": state_dict}``
with the reference's key names, other branches included) are written to a temporary folder.
The expected numbers are computed here step by step from the reference description —
HubertModel hidden states, window means, BERT segments, weighted mean — independently of
the encoder's own segmenting code.
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
from counterpoint.encoders.clamp3_audio import Clamp3AudioConfig, Clamp3AudioEncoder
from counterpoint.encoders.registry import build_encoder
from counterpoint.errors import EncoderError, TrackError, WeightsError
from float_tolerance import assert_float32_close, largest_magnitude
from test_mert import TINY_CONFIG, random_official_state

FIXTURE = Path(__file__).parent / "fixtures" / "clamp3_audio"
MERT_TINY = {**TINY_CONFIG, "hidden_size": 64, "num_attention_heads": 2, "intermediate_size": 128}
AUDIO_TINY = Clamp3AudioConfig(hidden_size=64, num_hidden_layers=2, max_audio_length=3, projection_size=24)
# float32 depth (tests/float_tolerance.py), sums of at most 384 terms (attention over a 5-s window's 375 frames):
# MERT's 7 convolutions, feature projection, positional convolution and 2 layers of 5 sums; then the window mean,
# the audio branch's 2 BERT layers of 5 sums, the projection and the segments' weighted mean
MERT_TERMS = (7 + 2 + 2 * 5) * 384
NETWORK_TERMS = MERT_TERMS + (1 + 2 * 5 + 2) * 384


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from transformers import BertModel

    folder = tmp_path_factory.mktemp("clamp3_tiny")
    mert = folder / "mert"
    mert.mkdir()
    (mert / "config.json").write_text(json.dumps(MERT_TINY))
    torch.save(random_official_state(MERT_TINY, seed=11), mert / "pytorch_model.bin")
    torch.manual_seed(5)
    bert = BertModel(AUDIO_TINY.bert_config())
    state = {f"audio_model.{k}": v for k, v in bert.state_dict().items()}
    state["audio_model.embeddings.position_ids"] = torch.arange(AUDIO_TINY.max_audio_length)[None]  # older transformers saved it
    state["audio_proj.weight"] = torch.randn(AUDIO_TINY.projection_size, AUDIO_TINY.hidden_size) * 0.1
    state["audio_proj.bias"] = torch.randn(AUDIO_TINY.projection_size) * 0.1
    state["symbolic_proj.weight"] = torch.zeros(24, 64)  # other branches are ignored
    state["text_proj.weight"] = torch.zeros(24, 64)
    checkpoint = folder / "clamp3_tiny.pth"
    torch.save({"model": state, "epoch": 1, "min_eval_loss": 0.5}, checkpoint)
    config = folder / "audio_config.json"
    config.write_text(json.dumps(AUDIO_TINY.to_dict()))
    return {"mert": mert, "checkpoint": checkpoint, "config": config}


@pytest.fixture(scope="module")
def audio_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """11.5 s (windows at 0, 5, 10 s, the 1.5-s tail kept), 5.6 s (0.6-s tail dropped), 0.8 s (too short)."""
    folder = tmp_path_factory.mktemp("clamp3_audio")
    rng = np.random.default_rng(9)
    paths = {}
    for name, seconds in (("long", 11.5), ("mid", 5.6), ("tiny", 0.8)):
        t = np.arange(int(seconds * 16000)) / 16000
        signal = np.sin(2 * np.pi * 196 * t * (1 + 0.1 * t)) + 0.1 * rng.standard_normal(t.size)
        paths[name] = folder / f"{name}.wav"
        sf.write(paths[name], (0.4 * signal).astype(np.float32), 16000)
    return paths


def encoder_for(models: dict[str, Path], **extra: str) -> Clamp3AudioEncoder:
    spec = (f"clamp3-audio:weights={models['checkpoint']},config={models['config']},"
            f"mert_weights={models['mert']}" + "".join(f",{k}={v}" for k, v in extra.items()))
    return build_encoder(spec)


def track(path: Path) -> Track:
    return Track(id=path.stem, audio_path=path, midi_path=None)


def reference_embedding(encoder: Clamp3AudioEncoder, path: Path) -> np.ndarray:
    """extract_mert.py + extract_clamp3.py (get_global) written out for one file."""
    decoded, rate = sf.read(path, dtype="float32")
    wave = TORCHAUDIO_SINC_HANN(decoded, rate, 24000)  # MERT_utils.load_audio: torchaudio's Resample
    wave = (wave - wave.mean()) / np.sqrt(wave.var() + 1e-7)
    hubert = encoder.model().mert.network
    vectors = []
    for start in range(0, len(wave), 120000):
        piece = wave[start:start + 120000]
        if len(piece) < 24000:
            continue
        with torch.inference_mode():
            states = hubert(torch.from_numpy(piece[None].astype(np.float32)), output_hidden_states=True).hidden_states
        vectors.append(torch.stack([s.mean(dim=1) for s in states]).mean(dim=0)[0])
    data = torch.cat([torch.zeros(1, 64), torch.stack(vectors), torch.zeros(1, 64)])
    length = AUDIO_TINY.max_audio_length
    segments = [data[i:i + length] for i in range(0, len(data), length)]
    segments[-1] = data[-length:]
    branch = encoder.model().branch
    globals_ = []
    for segment in segments:
        mask = torch.cat([torch.ones(len(segment)), torch.zeros(length - len(segment))])
        padded = torch.cat([segment, torch.zeros(length - len(segment), 64)])
        with torch.inference_mode():
            hidden = branch.encoder(inputs_embeds=padded[None], attention_mask=mask[None]).last_hidden_state
            pooled = (hidden * mask[None, :, None]).sum(1) / mask.sum()
            globals_.append(branch.proj(pooled)[0])
    full, rest = divmod(len(data), length)
    weights = torch.tensor([length] * full + ([rest] if rest else []), dtype=torch.float32)[:, None]
    return ((torch.stack(globals_) * weights).sum(0) / weights.sum()).numpy()


def test_checkpoint_branch_lands_and_others_are_ignored(models) -> None:
    encoder = encoder_for(models)
    saved = torch.load(models["checkpoint"], weights_only=True)["model"]
    loaded = encoder.model().branch.state_dict()
    for key, value in loaded.items():
        source = ("audio_model." + key[len("encoder."):]) if key.startswith("encoder.") else "audio_proj." + key[len("proj."):]
        assert torch.equal(value, saved[source]), key
    assert len(loaded) == sum(1 for k in saved if k.startswith(("audio_model.", "audio_proj.")) and not k.endswith("position_ids"))


def test_windows_frames_and_pooled_match_the_reference_steps(models, audio_files) -> None:
    encoder = encoder_for(models)
    long, mid = encoder.embed([track(audio_files["long"]), track(audio_files["mid"])])
    assert long.frames.shape == (3, 24) and mid.frames.shape == (1, 24)
    assert long.timestamps == pytest.approx([2.5, 7.5, 10.75])
    assert mid.timestamps == pytest.approx([2.5])
    assert long.duration == pytest.approx(11.5, abs=1e-3)
    for embedding, name in ((long, "long"), (mid, "mid")):
        expected = reference_embedding(encoder, audio_files[name])
        assert_float32_close(embedding.pooled, expected, scale=largest_magnitude, terms=NETWORK_TERMS)
    # 5 vectors (BOS, 3 windows, EOS) in segments of 3: the pooled vector is not the plain frame mean
    assert not np.allclose(long.pooled, long.frames.mean(axis=0), atol=1e-4)


def test_batch_equals_one_file_at_a_time(models, audio_files) -> None:
    encoder = encoder_for(models, forward_batch="3")
    files = [track(audio_files["long"]), track(audio_files["mid"])]
    together = encoder.embed(files)
    for joint, single in zip(together, (encoder.embed([f])[0] for f in files)):
        assert_float32_close(joint.pooled, single.pooled, scale=largest_magnitude, terms=NETWORK_TERMS)
        assert_float32_close(joint.frames, single.frames, scale=largest_magnitude, terms=NETWORK_TERMS)


def test_too_short_audio_is_a_track_error(models, audio_files) -> None:
    with pytest.raises(TrackError, match="tiny.wav.*shorter than the 1 s"):
        encoder_for(models).prepare(track(audio_files["tiny"]))


def test_missing_checkpoint_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, models) -> None:
    monkeypatch.setenv("COUNTERPOINT_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
    reason = Clamp3AudioEncoder.unavailable_reason()
    assert reason is not None and "weights_clamp3_saas" in reason and "counterpoint weights fetch clamp3" in reason
    encoder = build_encoder(f"clamp3-audio:config={models['config']},mert_weights={models['mert']}")
    with pytest.raises(WeightsError, match=r"weights_clamp3_saas_h_size_768.*counterpoint weights fetch clamp3"):
        encoder.load()
    with pytest.raises(WeightsError, match="weights_clamp3_c2"):
        build_encoder(f"clamp3-audio:variant=c2,config={models['config']},mert_weights={models['mert']}").load()
    with pytest.raises(WeightsError, match=r"config.json.*counterpoint weights fetch mert"):
        build_encoder("clamp3-audio").load()


def test_config_is_validated(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"hidden_size": 64, "layers": 3}))
    with pytest.raises(EncoderError, match="bad.json"):
        Clamp3AudioConfig.from_json(bad)
    with pytest.raises(EncoderError, match="multiple of 64"):
        Clamp3AudioConfig(hidden_size=32)


def parity_audio(folder: Path) -> dict[str, Path]:
    """The two signals the reference numbers in fixtures/clamp3_audio were computed from."""
    rng = np.random.default_rng(9)
    paths = {}
    for name, seconds in (("long", 6.2), ("mid", 5.6)):
        t = np.arange(int(seconds * 16000)) / 16000
        signal = np.sin(2 * np.pi * 196 * t * (1 + 0.1 * t)) + 0.1 * rng.standard_normal(t.size)
        paths[name] = folder / f"{name}.wav"
        sf.write(paths[name], (0.4 * signal).astype(np.float32), 16000)
    return paths


def test_parity_with_the_reference_code(tmp_path: Path) -> None:
    """Numbers of the reference extract_mert.py + extract_clamp3.py on the same tiny weights.

    The reference run decoded and resampled with ``librosa.load`` (fixture README), so the
    encoder is given that waveform; its own resampling is checked against torchaudio in
    ``test_resample.py`` and by :func:`test_files_are_resampled_as_the_reference_does`.
    """
    import librosa

    reference = np.load(FIXTURE / "clamp3_audio_reference.npz")
    encoder = build_encoder(f"clamp3-audio:weights={FIXTURE / 'clamp3_audio_tiny.safetensors'},"
                            f"config={FIXTURE / 'audio_config.json'},mert_weights={FIXTURE / 'mert_tiny'}")
    for name, path in parity_audio(tmp_path).items():
        prepared = encoder.prepare_waveform(librosa.load(path, sr=24000)[0], name)
        embedding = encoder.embed_prepared([prepared])[0]
        (vectors, _), = encoder.mert_window_vectors([prepared.waveform])
        assert_float32_close(vectors, reference[f"{name}/mert_window_vectors"], scale=largest_magnitude,
                             terms=MERT_TERMS)
        assert_float32_close(embedding.pooled, reference[f"{name}/global_embedding"], scale=largest_magnitude,
                             terms=NETWORK_TERMS)
        assert_float32_close(embedding.frames, reference[f"{name}/projected_window_states"], scale=largest_magnitude,
                             terms=NETWORK_TERMS)


def test_files_are_resampled_as_the_reference_does(models, audio_files) -> None:
    """A 16-kHz file reaches MERT through torchaudio's Resample (MERT_utils.load_audio), not soxr."""
    encoder = encoder_for(models)
    decoded, rate = sf.read(audio_files["mid"], dtype="float32")
    expected = encoder.prepare_waveform(TORCHAUDIO_SINC_HANN(decoded, rate, 24000), "mid")
    prepared = encoder.prepare(track(audio_files["mid"]))
    (vectors, _), (expected_vectors, _) = encoder.mert_window_vectors([prepared.waveform, expected.waveform])
    assert_float32_close(vectors, expected_vectors, scale=largest_magnitude, terms=MERT_TERMS)
    assert encoder.fingerprint()["resampler"] == TORCHAUDIO_SINC_HANN.name
