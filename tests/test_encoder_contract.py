"""The contract every registered encoder keeps, checked over the registry itself.

Each test is parametrised over :data:`~counterpoint.encoders.registry.REGISTRY`, so an encoder
added there is checked without touching this file. Encoders that need weights run their tiny
models (``tests/tiny_models.py``: the published file layouts, small sizes); the others run as
the registry builds them. Inputs are a few seconds of real audio files or real MIDI files.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import write_midi, write_tone
from counterpoint.data.manifest import Track
from counterpoint.encoders.base import RUNTIME_PARAMETERS, AudioEncoder, Encoder
from counterpoint.encoders.registry import REGISTRY, build_encoder, encoder_class
from counterpoint.encoders.torch_base import TorchEncoder
from counterpoint.specs import parse_spec
from float_tolerance import assert_bitwise_equal, assert_float32_close, largest_magnitude
from tiny_models import write_tiny_models

#: The project's own encoders — not the small ones other test modules register (which of those are
#: registered when this module is collected depends on the collection order).
ENCODERS = [name for name, entry in REGISTRY.items() if entry.module.startswith("counterpoint.")]
HEAR_MEMBERS = ("prepare", "timestamp_embedding_size", "scene_embedding_size", "embed_sounds",
                "get_timestamp_embeddings", "get_scene_embeddings")
#: Audio lengths (s): different, and each longer than musicnn's 3-s patch.
AUDIO_SECONDS = (3.2, 3.6, 4.1)
TESTS = Path(__file__).parent
#: float32 depth bounding every torch encoder's here (tests/float_tolerance.py): the deepest are OpenL3's
#: full-size network on its spectrogram (about 15,800 terms, tests/test_openl3.py) and CLaMP 3 audio's tiny
#: MERT and BERT (about 12,300, tests/test_clamp3_audio.py)
NETWORK_TERMS = 16_384


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Tiny models run fastest on one thread (and the test machine is shared)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The spec each registered encoder runs under here: its tiny model's, or its plain name."""
    tiny = write_tiny_models(tmp_path_factory.mktemp("tiny_models"))
    return {name: tiny[name].spec if name in tiny else name for name in REGISTRY}


@pytest.fixture(scope="module")
def tracks(tmp_path_factory: pytest.TempPathFactory) -> list[Track]:
    """Three tracks of different lengths, each with a WAV file and a MIDI file."""
    folder = tmp_path_factory.mktemp("contract_tracks")
    made = []
    for index, seconds in enumerate(AUDIO_SECONDS):
        audio = write_tone(folder / f"t{index}.wav", 196.0 * (index + 1.5), seconds=seconds)
        midi = write_midi(folder / f"t{index}.mid", [48 + (5 * k + 7 * index) % 24 for k in range(12 + 8 * index)])
        made.append(Track(id=f"t{index}", audio_path=audio, midi_path=midi))
    return made


def runnable(name: str, specs: dict[str, str]) -> Encoder:
    """The encoder ``name`` as this module runs it; skipped where its package is not installed."""
    if name == "musicnn" and importlib.util.find_spec("musicnn") is None:
        pytest.skip("the musicnn wheel (pip install --no-deps musicnn==0.1.0) is not installed")
    return build_encoder(specs[name])


@pytest.mark.parametrize("name", ENCODERS)
def test_declared_parameters_have_help_and_defaults_inside_their_ranges(name: str) -> None:
    cls = encoder_class(name)
    assert cls.modality in ("audio", "symbolic") and cls.description and cls.requirements
    assert "batch_size" in cls.parameters, f"{name} declares no batch_size (tracks per runner batch)"
    for key, parameter in cls.parameters.items():
        assert parameter.help.strip(), f"{name}: {key} has no help text"
        parameter.check(key, parameter.default, name)  # the default itself is allowed
    if issubclass(cls, TorchEncoder):
        assert {"forward_batch", "device"} <= set(cls.parameters), f"{name} is a torch encoder without forward_batch/device"
    # What the encoder declares about itself names its own parameters (the store and HEAR read them).
    assert set(cls.joint_space_parameters) <= set(cls.parameters) and (cls.joint_space or not cls.joint_space_parameters)
    if issubclass(cls, AudioEncoder):
        hop = cls.hear_timestamp_hop
        assert set(cls.hear_parameters) <= set(cls.parameters) and (hop is None or hop[0] in cls.parameters)
        cls.parse_parameters({**cls.hear_parameters, **dict([hop] if hop else [])})  # HEAR's values are allowed


@pytest.mark.parametrize("name", ENCODERS)
def test_spec_round_trip_and_a_stable_fingerprint(name: str, specs: dict[str, str]) -> None:
    encoder = runnable(name, specs)
    again = encoder_class(name).from_spec(parse_spec(encoder.spec)[1])
    assert again.spec == encoder.spec
    assert encoder_class(name).canonical_spec(encoder.params) == encoder.spec
    assert again.fingerprint() == encoder.fingerprint() == build_encoder(specs[name]).fingerprint()
    assert not set(RUNTIME_PARAMETERS) & set(encoder.fingerprint()["params"])
    json.dumps(encoder.fingerprint())  # the store keeps it as JSON
    recorded = json.loads(json.dumps(encoder.recorded_parameters(), default=str))  # as the store keeps them
    assert {key for key, p in recorded.items() if not p["runtime"] and p["value"] != p["default"]} == \
        set(parse_spec(encoder.spec)[1]), "the store reads specs with these, as canonical_spec writes them"


def test_fingerprints_are_the_same_in_a_fresh_process(specs: dict[str, str]) -> None:
    names = [n for n in ENCODERS if n != "musicnn" or importlib.util.find_spec("musicnn") is not None]
    script = ("import json, sys\nfrom counterpoint.encoders.registry import build_encoder\n"
              "specs = json.loads(sys.argv[1])\n"
              "print(json.dumps({n: build_encoder(s).fingerprint() for n, s in specs.items()}))")
    chosen = {n: specs[n] for n in names}
    done = subprocess.run([sys.executable, "-c", script, json.dumps(chosen)], capture_output=True, text=True, check=True,
                          cwd=TESTS)
    fresh = json.loads(done.stdout.strip().splitlines()[-1])
    here = json.loads(json.dumps({n: build_encoder(s).fingerprint() for n, s in chosen.items()}))
    assert fresh == here


@pytest.mark.parametrize("name", ENCODERS)
def test_a_batch_equals_one_track_at_a_time_with_finite_numbers_of_the_declared_dimension(
        name: str, specs: dict[str, str], tracks: list[Track]) -> None:
    encoder = runnable(name, specs)
    encoder.load()
    prepared = [encoder.prepare(t) for t in tracks]
    together = encoder.embed_prepared(prepared)
    assert len(together) == len(tracks)
    for track, item, joint in zip(tracks, prepared, together):
        alone = encoder.embed_prepared([item])[0]
        assert joint.pooled.shape == (encoder.dim,), track.id
        assert joint.frames.shape == (len(joint.timestamps), encoder.dim) and len(joint.timestamps) >= 1, track.id
        for part in ("frames", "timestamps", "pooled"):
            assert np.isfinite(getattr(joint, part)).all(), (track.id, part)
        assert np.all(np.diff(joint.timestamps) >= 0), track.id
        assert joint.duration > 0
        if isinstance(encoder, TorchEncoder):  # windows of several tracks share forward passes: other kernels
            assert_float32_close(joint.frames, alone.frames, scale=largest_magnitude, terms=NETWORK_TERMS,
                                 err_msg=track.id)
            assert_float32_close(joint.pooled, alone.pooled, scale=largest_magnitude, terms=NETWORK_TERMS,
                                 err_msg=track.id)
        else:  # each track is computed on its own, by the same code
            assert_bitwise_equal(joint.frames, alone.frames, err_msg=track.id)
            assert_bitwise_equal(joint.pooled, alone.pooled, err_msg=track.id)
        np.testing.assert_array_equal(joint.timestamps, alone.timestamps)
    assert not np.allclose(together[0].pooled, together[1].pooled), "two different tracks embed identically"


@pytest.mark.parametrize("name", [n for n in ENCODERS if encoder_class(n).modality == "audio"])
def test_audio_encoders_offer_the_hear_api(name: str, specs: dict[str, str]) -> None:
    cls = encoder_class(name)
    assert issubclass(cls, AudioEncoder)
    redefined = [member for member in HEAR_MEMBERS if member in vars(cls)]
    assert redefined == [], f"{cls.__name__} redefines {redefined}: the HEAR functions are written once, in AudioEncoder"
    encoder = runnable(name, specs)
    rate = encoder.sample_rate
    assert isinstance(rate, int) and rate > 0
    t = np.arange(int(3.2 * rate)) / rate
    audio = np.stack([0.3 * np.sin(2 * np.pi * 330 * t), 0.3 * np.sin(2 * np.pi * 550 * t)]).astype(np.float32)
    frames, stamps = encoder.get_timestamp_embeddings(torch.from_numpy(audio))
    assert frames.dtype == stamps.dtype == torch.float32
    assert frames.shape[0] == 2 and frames.shape[2] == encoder.timestamp_embedding_size == encoder.dim
    assert tuple(stamps.shape) == tuple(frames.shape[:2])
    scene = encoder.get_scene_embeddings(audio)
    assert tuple(scene.shape) == (2, encoder.scene_embedding_size) and torch.isfinite(scene).all()
