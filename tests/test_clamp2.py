"""CLaMP 2 / CLaMP 3 symbolic: parity with the reference on the tiny random model, full-size
layout, checkpoint formats, the registry path, and errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from counterpoint.data.manifest import Track
from counterpoint.encoders.clamp import Clamp2Encoder, Clamp3SymbolicEncoder, m3_features
from counterpoint.encoders.clamp_weights import load_branch
from counterpoint.encoders.segments import segment_weights, segment_windows, stitch_windows
from counterpoint.encoders.m3 import M3Config, M3Patchilizer, M3WithProjection
from counterpoint.encoders.registry import build_encoder
from counterpoint.errors import EncoderError, TrackError, WeightsError
from float_tolerance import assert_float32_close, largest_magnitude
from tiny_models import clamp_branch_state, save_official_checkpoint

FIXTURES = Path(__file__).parent / "fixtures"
CLAMP = FIXTURES / "clamp2"
TINY_WEIGHTS = CLAMP / "clamp2_tiny_weights.safetensors"
TINY_CONFIG = CLAMP / "clamp2_tiny_config.json"
MANIFEST = json.loads((CLAMP / "clamp2_manifest.json").read_text())
CASES = [case["name"] for case in MANIFEST["cases"]]
CLAMP2_PREFIXES = {"music_model.": "encoder.", "music_proj.": "proj."}
# float32 depth of the tiny M3 (tests/float_tolerance.py): 2 BERT layers of 5 sums each, the patch embedding and
# the projection, each of at most 128 terms (the feed-forward width; a one-hot patch has 64 non-zero characters)
NETWORK_TERMS = (2 * 5 + 2) * 128


def reference(name: str) -> dict[str, np.ndarray]:
    return dict(np.load(CLAMP / f"clamp2_{name}.npz"))


@pytest.fixture(scope="module")
def tiny_model() -> M3WithProjection:
    torch.manual_seed(0)  # init is overwritten by the weights; seeded all the same
    model = M3WithProjection(M3Config.from_json(TINY_CONFIG))
    load_branch(model, TINY_WEIGHTS, CLAMP2_PREFIXES)
    return model.eval()


def test_tiny_config_file_matches_the_fixture_manifest() -> None:
    tiny, bert = MANIFEST["tiny_config"], MANIFEST["tiny_bert"]
    config = M3Config.from_json(TINY_CONFIG)
    assert (config.hidden_size, config.num_hidden_layers, config.patch_size, config.patch_length, config.projection_size) == (
        tiny["M3_HIDDEN_SIZE"], tiny["PATCH_NUM_LAYERS"], tiny["PATCH_SIZE"], tiny["PATCH_LENGTH"], tiny["CLAMP2_HIDDEN_SIZE"])
    assert (config.num_attention_heads, config.intermediate_size, config.max_position_embeddings) == (
        bert["num_attention_heads"], bert["intermediate_size"], bert["max_position_embeddings"])


@pytest.mark.parametrize("name", CASES)
def test_patches_match_reference(name: str) -> None:
    text = (CLAMP / f"clamp2_{name}.mtf").read_text(encoding="utf-8")
    patches = M3Patchilizer(64).encode(text, add_special_patches=True)
    np.testing.assert_array_equal(patches.ids, reference(name)["patches"])
    inner_first, inner_last = patches.first_line[1:-1], patches.last_line[1:-1]
    # every MTF line lands in exactly one patch, in order
    assert inner_first[0] == 0 and inner_last[-1] == text.count("\n")
    np.testing.assert_array_equal(inner_first[1:], inner_last[:-1] + 1)


@pytest.mark.parametrize("name", CASES)
def test_features_match_reference(tiny_model: M3WithProjection, name: str) -> None:
    expected = reference(name)
    (patch_features, global_embedding), = m3_features(tiny_model, [expected["patches"]], forward_batch=8)
    assert patch_features.shape == expected["patch_features"].shape
    assert_float32_close(patch_features, expected["patch_features"], scale=largest_magnitude, terms=NETWORK_TERMS)
    assert_float32_close(global_embedding, expected["global_embedding"], scale=largest_magnitude,
                         terms=NETWORK_TERMS)


def test_batching_several_pieces_changes_nothing(tiny_model: M3WithProjection) -> None:
    pieces = [reference(name)["patches"] for name in ("haydn_op20n1", "bach_bwv66_6")]
    together = m3_features(tiny_model, pieces, forward_batch=7)
    for piece, (frames, pooled) in zip(pieces, together):
        (alone_frames, alone_pooled), = m3_features(tiny_model, [piece], forward_batch=1)
        assert_float32_close(frames, alone_frames, scale=largest_magnitude, terms=NETWORK_TERMS)
        assert_float32_close(pooled, alone_pooled, scale=largest_magnitude, terms=NETWORK_TERMS)


def test_windows_follow_the_reference_rule() -> None:
    assert segment_windows(35, 16) == [(0, 16), (16, 32), (19, 35)]
    assert segment_windows(32, 16) == [(0, 16), (16, 32)]
    assert segment_windows(5, 16) == [(0, 5)]
    np.testing.assert_array_equal(segment_weights(35, 16), [16, 16, 3])
    np.testing.assert_array_equal(segment_weights(32, 16), [16, 16])
    frames = [np.arange(s, e)[:, None] for s, e in segment_windows(35, 16)]
    np.testing.assert_array_equal(stitch_windows(frames, 35, 16)[:, 0], np.arange(35))


def test_full_size_model_has_the_official_music_branch_keys() -> None:
    torch.manual_seed(0)
    model = M3WithProjection(M3Config())
    ours = {}
    for key, value in model.state_dict().items():
        prefix = "music_model." if key.startswith("encoder.") else "music_proj."
        ours[prefix + key.split(".", 1)[1]] = list(value.shape)
    assert ours == MANIFEST["full_music_branch_keys"]


def _official_layout(tmp_path: Path, prefix: str) -> Path:
    """The tiny weights saved like a published checkpoint: {"model": state dict, ...} via torch.save,
    with the M3 keys under ``prefix`` and the text model's keys alongside."""
    state = clamp_branch_state(prefix)
    assert any(k.startswith("text_model.") for k in state)
    return save_official_checkpoint(tmp_path / f"{prefix}_official.pth", state)


def _projected(name: str) -> np.ndarray:
    state = load_file(str(TINY_WEIGHTS))
    return reference(name)["patch_features"] @ state["music_proj.weight"].numpy().T + state["music_proj.bias"].numpy()


def test_official_checkpoint_layout_gives_the_fixture_numbers(tmp_path: Path) -> None:
    weights = _official_layout(tmp_path, "music")
    encoder = build_encoder(f"clamp2:weights={weights},config={TINY_CONFIG}")
    track = Track("bach", None, FIXTURES / "midi" / "bach_bwv66_6.mid")
    embedding, = encoder.embed([track])
    assert_float32_close(embedding.pooled, reference("bach_bwv66_6")["global_embedding"], scale=largest_magnitude,
                         terms=NETWORK_TERMS)
    assert_float32_close(embedding.frames, _projected("bach_bwv66_6"), scale=largest_magnitude, terms=NETWORK_TERMS)


def test_clamp3_symbolic_reads_its_own_prefixes(tmp_path: Path) -> None:
    from counterpoint.encoders.mtf import midi_to_mtf

    midi = FIXTURES / "midi" / "haydn_op20n1.mid"
    assert midi_to_mtf(midi, "clamp3").text == midi_to_mtf(midi, "clamp2").text  # no sysex in this file
    weights = _official_layout(tmp_path, "symbolic")
    encoder = build_encoder(f"clamp3-symbolic:weights={weights},config={TINY_CONFIG}")
    assert isinstance(encoder, Clamp3SymbolicEncoder) and encoder.dim == 24
    embedding, = encoder.embed([Track("haydn", None, midi)])
    assert_float32_close(embedding.pooled, reference("haydn_op20n1")["global_embedding"], scale=largest_magnitude,
                         terms=NETWORK_TERMS)
    with pytest.raises(WeightsError, match="symbolic_model"):
        build_encoder(f"clamp3-symbolic:config={TINY_CONFIG},weights={TINY_WEIGHTS}").embed([Track("haydn", None, midi)])


def test_registry_embeds_real_midi_with_local_weights() -> None:
    import mido

    encoder = build_encoder(f"clamp2:weights={TINY_WEIGHTS},config={TINY_CONFIG},forward_batch=3")
    assert isinstance(encoder, Clamp2Encoder) and encoder.modality == "symbolic" and encoder.dim == 24
    names = ("groove_funk", "slakh_track00001_all")
    tracks = [Track(name, None, FIXTURES / "midi" / f"{name}.mid") for name in names]
    embeddings = encoder.embed(tracks)
    for name, embedding in zip(names, embeddings):
        expected = reference(name)
        assert embedding.frames.shape == (len(expected["patches"]), 24)
        assert_float32_close(embedding.pooled, expected["global_embedding"], scale=largest_magnitude,
                             terms=NETWORK_TERMS)
        assert_float32_close(embedding.frames, _projected(name), scale=largest_magnitude, terms=NETWORK_TERMS)
        length = mido.MidiFile(str(FIXTURES / "midi" / f"{name}.mid")).length
        assert embedding.timestamps[0] == 0 and embedding.timestamps[-1] == pytest.approx(length)
        assert np.all(np.diff(embedding.timestamps) >= 0) and embedding.duration == pytest.approx(length)


def test_weights_digest_is_the_sha256_of_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COUNTERPOINT_CACHE", str(tmp_path))
    encoder = Clamp2Encoder(weights=str(TINY_WEIGHTS), config=str(TINY_CONFIG))
    assert encoder.weights_digest() == hashlib.sha256(TINY_WEIGHTS.read_bytes()).hexdigest()
    assert encoder.fingerprint()["weights"] == encoder.weights_digest()
    assert str(TINY_WEIGHTS.resolve()) in json.loads((tmp_path / "sha256.json").read_text())


class NotAWeight:
    """A class a checkpoint must not be allowed to instantiate."""


def test_pickles_are_read_weights_only(tmp_path: Path) -> None:
    path = tmp_path / "with_object.pth"
    torch.save({"model": {"music_proj.bias": torch.zeros(24)}, "extra": NotAWeight()}, path)
    with pytest.raises(WeightsError, match="with_object.pth: cannot read it"):
        load_branch(M3WithProjection(M3Config.from_json(TINY_CONFIG)), path, CLAMP2_PREFIXES)


def test_missing_official_weights_say_how_to_fetch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    monkeypatch.setenv("COUNTERPOINT_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    assert "counterpoint weights fetch clamp2" in Clamp2Encoder.unavailable_reason()
    assert "counterpoint weights fetch clamp3" in Clamp3SymbolicEncoder.unavailable_reason()
    with pytest.raises(WeightsError, match="weights_clamp2_h_size_768.*counterpoint weights fetch clamp2"):
        Clamp2Encoder().weights_path()
    with pytest.raises(WeightsError, match="weights_clamp3_c2_.*counterpoint weights fetch clamp3-c2"):
        build_encoder("clamp3-symbolic:variant=c2").weights_path()
    with pytest.raises(WeightsError, match="nowhere.pth"):
        build_encoder(f"clamp2:weights={tmp_path / 'nowhere.pth'}")


def test_weights_that_do_not_fit_the_config_are_named(tmp_path: Path) -> None:
    config = tmp_path / "wrong.json"
    config.write_text(json.dumps({**json.loads(TINY_CONFIG.read_text()), "hidden_size": 48, "num_attention_heads": 3}))
    encoder = build_encoder(f"clamp2:weights={TINY_WEIGHTS},config={config}")
    with pytest.raises(WeightsError, match="does not fit.*config="):
        encoder.model()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"hidden": 3}))
    with pytest.raises(EncoderError, match="bad.json.*unknown keys"):
        build_encoder(f"clamp2:weights={TINY_WEIGHTS},config={bad}")


def test_bad_midi_is_a_track_error_naming_the_file(tmp_path: Path) -> None:
    import mido

    encoder = build_encoder(f"clamp2:weights={TINY_WEIGHTS},config={TINY_CONFIG}")
    corrupt = tmp_path / "corrupt.mid"
    corrupt.write_bytes(b"not a midi file at all")
    with pytest.raises(TrackError, match="corrupt.mid"):
        encoder.prepare(Track("c", None, corrupt))
    silent = tmp_path / "silent.mid"
    midi = mido.MidiFile()
    midi.tracks.append(mido.MidiTrack([mido.MetaMessage("track_name", name="empty", time=0)]))
    midi.save(str(silent))
    with pytest.raises(TrackError, match="silent.mid.*no notes"):
        encoder.prepare(Track("s", None, silent))
    with pytest.raises(TrackError, match="no MIDI"):
        encoder.prepare(Track("a", tmp_path / "x.wav", None))


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_abc_is_cut_into_header_lines_and_bars() -> None:
    patches = M3Patchilizer(16).encode("X:1\nK:C\n|:ab c|de:|\n", add_special_patches=False)
    texts = ["".join(chr(c) for c in row if c > 3) for row in patches.ids]
    assert texts == ["X:1\n", "K:C\n", "|:ab c|", "de:|\n"]
    assert patches.ids[0].tolist()[:6] == [1, ord("X"), ord(":"), ord("1"), ord("\n"), 2]
    np.testing.assert_array_equal(patches.first_line, [0, 1, 2, 2])
    with pytest.raises(ValueError, match="ASCII"):
        M3Patchilizer().encode("X:1\nT:Étude\n")
