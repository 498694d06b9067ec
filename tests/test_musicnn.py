"""musicnn: parity of the PyTorch port with the reference TensorFlow taggers, the front end,
the weight cache and the encoder contract.

Reference numbers: ``tests/fixtures/musicnn/*.npz`` (copied from the shared fixtures, made by
``musicnn==0.1.0`` under TensorFlow). Two facts of the reference these tests pin down:

* its ``extractor`` appends the *first* batch's ``penultimate`` for every later patch (it
  unpacks the later batches into ``backend_`` but concatenates the stale ``penultimate_``),
  so only row 0 of the reference ``penultimate`` is a real value;
* it computes ``log10(10000·x + 1)`` in float16, which overflows to ``inf`` on loud bins
  (the synthetic chirp), after which its network returns NaN. We keep the float16 numbers
  where they are finite and compute the overflowing bins in float32;
* its float16 ``log10`` is numpy's scalar loop: ``log10f`` of the float32 value (correctly
  rounded), rounded to float16. numpy's SIMD loops (AVX512_SKX, AVX512_SPR) round a few
  arguments differently, so the table must not come from them.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from counterpoint.data.audio import load_audio
from counterpoint.data.manifest import Track
from counterpoint.encoders.registry import build_encoder

pytestmark = pytest.mark.skipif(importlib.util.find_spec("musicnn") is None,
                                reason="the musicnn wheel (pip install --no-deps musicnn==0.1.0) is not installed")

from counterpoint.encoders import musicnn as mn  # noqa: E402
from counterpoint.errors import EncoderError, TrackError  # noqa: E402
from float_tolerance import assert_bitwise_equal, assert_float32_close, column_scale, largest_magnitude  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "musicnn"
# float32 depth of musicnn (tests/float_tolerance.py): the sum of its layers' fan-ins, the timbral convolution
# (7 x 67), the 3 midend convolutions (7 x 561, 7 x 64, 7 x 64) and the dense layers (1506, 200)
NETWORK_TERMS = 7 * 67 + 7 * 561 + 2 * 7 * 64 + 1506 + 200
BACH = FIXTURES / "musicnn_bach_bwv66_6_timgm6mb.npz"
CHIRP = FIXTURES / "musicnn_synthetic_chirp_chord.npz"
CHIRP_WAV = FIXTURES / "audio" / "synthetic_chirp_chord.wav"
RELATIVE_TOLERANCE = 1e-4


@pytest.fixture(scope="module", autouse=True)
def private_cache(tmp_path_factory):
    """Convert the checkpoints into a cache of this test module's own."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COUNTERPOINT_CACHE", str(tmp_path_factory.mktemp("cache")))
        patch.delenv("COUNTERPOINT_WEIGHTS_DIR", raising=False)
        yield


@pytest.fixture(scope="module")
def networks(private_cache):
    import torch

    torch.set_num_threads(1)
    return {model: mn.load_network(model)[0] for model in ("MTT", "MSD")}


def relative_error(ours: np.ndarray, reference: np.ndarray) -> float:
    return float(np.max(np.abs(ours - reference)) / np.max(np.abs(reference)))


def run(network, patches: np.ndarray) -> dict[str, np.ndarray]:
    import torch

    with torch.inference_mode():
        return {k: v.numpy() for k, v in network(torch.from_numpy(patches)).items()}


@pytest.mark.parametrize("model", ["MTT", "MSD"])
def test_network_matches_the_reference_from_its_input_patches(networks, model):
    reference = np.load(BACH)
    key = f"{model}_musicnn/"
    ours = run(networks[model], reference[key + "input_patches"])
    errors = {}
    for layer in ("taggram", "max_pool", "mean_pool"):
        errors[layer] = relative_error(ours[layer], reference[key + layer])
    # the reference repeats patch 0's penultimate for later patches (see module docstring)
    assert np.array_equal(reference[key + "penultimate"][1], reference[key + "penultimate"][0])
    errors["penultimate[0]"] = relative_error(ours["penultimate"][0], reference[key + "penultimate"][0])
    assert not np.allclose(ours["penultimate"][1], ours["penultimate"][0])
    for layer in ("timbral", "temporal", "cnn1", "cnn2", "cnn3"):
        errors[layer] = relative_error(ours[layer][0], reference[key + layer + "_first_patch"])
    print(model, {k: f"{v:.2e}" for k, v in errors.items()})
    assert max(errors.values()) <= RELATIVE_TOLERANCE, errors
    assert list(reference[key + "tags"]) == list(mn.TAGS[model])


def test_front_end_reproduces_the_reference_patches_and_taggram_from_audio(networks):
    reference = np.load(BACH)
    audio = reference["audio_16k"]
    patches, centres = mn.audio_patches(audio, mn.hop_frames(3.0))
    expected = reference["MTT_musicnn/input_patches"]
    assert patches.shape == expected.shape == (3, 187, 96)
    # the very last frame is left out: the fixture audio is cut at the end of the kept patches,
    # so that frame's window holds padding here where the reference saw more music. The rest
    # agrees bit for bit but for bins where the reference's float32 spectrogram sat within its
    # own rounding noise of a float16 midpoint (we compute it in float64): there the reference
    # rounded the power to the neighbouring float16.
    flat_ours, flat_reference = patches.reshape(-1, 96)[:-1], expected.reshape(-1, 96)[:-1]
    differ = flat_ours != flat_reference
    assert differ.mean() <= 1e-4
    _, ours_bits = float16_power_of_the_reference_and_ours(audio)
    table = mn._log_compression_table()
    neighbours = table[ours_bits[: len(flat_ours)][differ][:, None].astype(np.int64) + [-1, 1]]
    assert np.all((neighbours == flat_reference[differ][:, None]).any(axis=1))
    np.testing.assert_allclose(centres, (np.arange(3) * 187 + 93) * 0.016)
    for model in ("MTT", "MSD"):
        taggram = run(networks[model], patches)["taggram"]
        error = float(np.max(np.abs(taggram - reference[f"{model}_musicnn/taggram"])))
        print(model, f"taggram from audio: max abs error {error:.2e}")
        assert error <= 1e-2


def test_loud_audio_stays_finite_where_the_reference_overflows(networks):
    reference = np.load(CHIRP)
    expected = reference["MTT_musicnn/input_patches"].reshape(-1, 96)
    ours = mn.log_mel(reference["audio_16k"])[: len(expected)]
    overflow = ~np.isfinite(expected)
    assert overflow.any()  # the reference's float16 arithmetic overflowed on this file
    assert np.all(np.isfinite(ours))
    np.testing.assert_array_equal(ours[:-1][~overflow[:-1]], expected[:-1][~overflow[:-1]])
    assert np.all(ours[overflow] > np.log10(65504.0))  # exactly the bins beyond float16's range
    taggram = run(networks["MTT"], ours[: 3 * 187].reshape(3, 187, 96))["taggram"]
    assert np.all(np.isfinite(taggram)) and np.all((taggram >= 0) & (taggram <= 1))


def float16_power_of_the_reference_and_ours(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The float16 bits of the mel power as the reference computes it (float32) and as we do (float64)."""
    import librosa

    kwargs = dict(sr=mn.SAMPLE_RATE, n_fft=mn.FFT_SIZE, hop_length=mn.FFT_HOP, n_mels=mn.N_MELS)
    reference = librosa.feature.melspectrogram(y=audio.astype(np.float32), **kwargs).T
    ours = librosa.feature.melspectrogram(y=audio.astype(np.float64), dtype=np.float64, **kwargs).T
    return reference.astype(np.float16).view(np.uint16), ours.astype(np.float16).view(np.uint16)


@pytest.mark.parametrize("fixture", [BACH, CHIRP], ids=["bach", "chirp"])
def test_log_compression_table_gives_every_reference_value_bit_for_bit(fixture):
    reference = np.load(fixture)
    expected = reference["MTT_musicnn/input_patches"].reshape(-1, 96)[:-1]  # the last frame: see above
    theirs, ours = (bits[: len(expected)] for bits in float16_power_of_the_reference_and_ours(reference["audio_16k"]))
    finite = np.isfinite(expected)
    unambiguous = (theirs == ours) & finite  # the table's argument is the reference's
    assert unambiguous.sum() > 0.999 * finite.sum()
    looked_up = mn._log_compression_table()[ours]
    np.testing.assert_array_equal(looked_up[unambiguous], expected[unambiguous])


def correctly_rounded_log10(value: float, to_float16: bool) -> float:
    """``log10(value)`` rounded once to float32 (a correctly rounded ``log10f``), then to float16 if asked."""
    import mpmath

    with mpmath.workprec(120):
        exact = mpmath.log10(mpmath.mpf(value))
    with mpmath.workprec(24):
        single = np.float32(float(+exact))  # unary plus rounds to 24 bits, ties to even
    return float(single.astype(np.float16)) if to_float16 else float(single)


def test_log_compression_table_is_the_correctly_rounded_log10_of_each_float16():
    every_half = np.arange(65536, dtype=np.uint16).view(np.float16)
    with np.errstate(over="ignore", invalid="ignore"):
        argument = np.float16(10000) * every_half + np.float16(1)  # the reference's float16 expression
    table = mn._log_compression_table()
    in_range = np.isfinite(argument) & (argument > 0)
    expected = [correctly_rounded_log10(float(a), to_float16=True) for a in argument[in_range].tolist()]
    np.testing.assert_array_equal(table[in_range], np.array(expected, np.float32))
    overflow = np.isinf(argument) & np.isfinite(every_half) & (every_half > 0)
    assert overflow.sum() > 1000  # every x above 6.55: the float32 value, not the reference's inf
    expected = [correctly_rounded_log10(10000 * float(x) + 1, to_float16=False) for x in every_half[overflow].tolist()]
    np.testing.assert_array_equal(table[overflow], np.array(expected, np.float32))
    assert np.all(table[argument == 0] == -np.inf) and np.all(np.isnan(table[~(argument >= 0) & ~overflow]))


def test_front_end_constants_are_librosas_mel_filter_bank_and_scipys_hann_window():
    import librosa
    import scipy.signal

    mel_basis, window = mn.front_end_constants()
    expected = librosa.filters.mel(sr=mn.SAMPLE_RATE, n_fft=mn.FFT_SIZE, n_mels=mn.N_MELS, dtype=np.float64)
    assert mel_basis.shape == expected.shape == (mn.N_MELS, mn.FFT_SIZE // 2 + 1)
    np.testing.assert_allclose(mel_basis, expected, rtol=1e-12, atol=0)  # np.log's last bit may differ by CPU
    np.testing.assert_allclose(window, scipy.signal.get_window("hann", mn.FFT_SIZE, fftbins=True), rtol=0, atol=1e-15)


@pytest.mark.parametrize("n_samples, center", [(100, True), (511, True), (512, False), (513, True), (48007, False),
                                               (48007, True)])
def test_mel_power_is_librosas_melspectrogram(n_samples, center):
    """The spectrogram computed without librosa gives librosa's numbers (bit for bit on one machine; within
    float64 rounding where the installed librosa's filter bank differs from the stored one in its last bit)."""
    import librosa

    audio = np.random.default_rng(n_samples).standard_normal(n_samples) * 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # librosa warns of audio shorter than one FFT
        expected = librosa.feature.melspectrogram(y=audio, sr=mn.SAMPLE_RATE, n_fft=mn.FFT_SIZE, hop_length=mn.FFT_HOP,
                                                  n_mels=mn.N_MELS, dtype=np.float64, center=center).T
    ours = mn._mel_power(audio, center)
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-300)


def test_reading_a_file_into_log_mel_imports_no_librosa(tmp_path):
    """A reader process decodes, resamples and computes the spectrogram without importing librosa or
    scipy.signal (about 2 s of start-up)."""
    import soundfile as sf

    audio = np.sin(2 * np.pi * 440 * np.arange(22050 * 4) / 22050).astype(np.float32) * 0.3
    sf.write(tmp_path / "tone.wav", audio, 22050)
    script = (
        "import sys\n"
        "from counterpoint.data.audio import stream_audio\n"
        "from counterpoint.encoders import musicnn as mn\n"
        "logmel, n = mn.streamed_log_mel(stream_audio(sys.argv[1], mn.SAMPLE_RATE))\n"
        "assert logmel.shape == (1 + n // mn.FFT_HOP, mn.N_MELS), logmel.shape\n"
        "print(' '.join(m for m in sys.modules if m.split('.')[0] == 'librosa' or m.startswith('scipy.signal')))\n"
    )
    source_root = str(Path(mn.__file__).parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [source_root, os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "tone.wav")], env=env, check=True,
                          capture_output=True, text=True)
    assert done.stdout.strip() == ""


def test_front_end_does_not_depend_on_the_cpu_features_numpy_dispatches_to(tmp_path):
    """The table and the log-mel, rebuilt with numpy's optional SIMD paths switched off (and, on x86-64,
    OpenBLAS's SSE-only kernels), agree bit for bit."""
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    present = [feature for feature in __cpu_dispatch__ if __cpu_features__.get(feature)]
    if not present:
        pytest.skip("numpy dispatches to no optional CPU feature on this machine: nothing to switch off")
    audio = {name: np.load(path)["audio_16k"] for name, path in (("bach", BACH), ("chirp", CHIRP))}
    np.savez(tmp_path / "audio.npz", **audio)
    script = (
        "import sys, numpy as np\n"
        "from numpy._core._multiarray_umath import __cpu_features__\n"
        "from counterpoint.encoders import musicnn as mn\n"
        "still_on = [f for f in sys.argv[3:] if __cpu_features__[f]]\n"
        "assert not still_on, still_on\n"
        "audio = np.load(sys.argv[1])\n"
        "np.savez(sys.argv[2], table=mn._log_compression_table(), **{k: mn.log_mel(audio[k]) for k in audio.files})\n"
    )
    source_root = str(Path(mn.__file__).parents[2])
    env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": " ".join(present),
           "PYTHONPATH": os.pathsep.join(filter(None, [source_root, os.environ.get("PYTHONPATH")]))}
    if platform.machine() in ("x86_64", "AMD64"):
        env["OPENBLAS_CORETYPE"] = "Nehalem"
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "audio.npz"), str(tmp_path / "out.npz"), *present],
                   env=env, check=True)
    without_simd = np.load(tmp_path / "out.npz")
    assert_bitwise_equal(without_simd["table"], mn._log_compression_table())
    for name, samples in audio.items():
        assert_bitwise_equal(without_simd[name], mn.log_mel(samples), err_msg=name)


def test_audio_louder_than_float16_still_gives_finite_features():
    """Mel power above 65504 (peaks around 30 and more) is beyond float16: those bins are computed directly."""
    rng = np.random.default_rng(5)
    loud = (1000.0 * rng.standard_normal(16000)).astype(np.float32)
    features = mn.log_mel(loud)
    assert np.all(np.isfinite(features))
    assert features.max() > np.log10(10000 * 65504.0)  # beyond what any float16 power could give


def test_decoding_the_fixture_wav_matches_the_reference_audio():
    reference = np.load(CHIRP)["audio_16k"]
    decoded = load_audio(CHIRP_WAV, mn.SAMPLE_RATE)
    assert len(decoded) >= len(reference)
    assert float(np.max(np.abs(decoded[: len(reference)] - reference))) <= 1e-6


def test_patching_keeps_whole_patches_only_and_refuses_short_audio():
    assert mn.hop_frames(3.0) == 187 and mn.hop_frames(1.5) == 93 and mn.hop_frames(0.016) == 1
    with pytest.raises(EncoderError, match="hop=0.01 must be at least 0.016"):
        build_encoder("musicnn:hop=0.01")
    assert mn.patch_starts(186, 187).size == 0
    assert list(mn.patch_starts(187 * 2 + 186, 187)) == [0, 187]  # the trailing 186 frames are dropped
    assert list(mn.patch_starts(400, 93)) == [0, 93, 186]
    rng = np.random.default_rng(0)
    minimum = 186 * mn.FFT_HOP  # samples giving 187 frames
    patches, _ = mn.audio_patches(rng.standard_normal(minimum).astype(np.float32) * 0.1, 187)
    assert patches.shape == (1, 187, 96)
    with pytest.raises(TrackError, match="shorter than one musicnn patch"):
        mn.audio_patches(rng.standard_normal(minimum - 1).astype(np.float32) * 0.1, 187, who="short.wav")


def test_centred_patches_pad_with_silence_and_start_at_every_hop():
    logmel = np.arange(1, 51, dtype=np.float32)[:, None] * np.ones(96, np.float32)  # 50 frames; frame k holds k + 1
    patches, centres = mn.make_patches(logmel, 3, center=True)
    assert patches.shape == (17, 187, 96)  # centred on frames 0, 3, ..., 48: the sound is shorter than a patch
    np.testing.assert_allclose(centres, np.arange(17) * 3 * mn.FRAME_SECONDS)
    np.testing.assert_array_equal(patches[:, 93, 0], logmel[::3, 0])  # each patch's middle frame is its own
    assert np.all(patches[0, :93] == 0) and np.all(patches[-1, 95:] == 0)  # silence (log-mel 0) beyond the sound
    np.testing.assert_array_equal(patches[-1, 93 - 48:95, 0], logmel[:, 0])


def test_conversion_is_cached_and_rebuilt_when_the_cache_is_stale(networks):
    path, digest = mn.converted_weights("MTT")
    assert digest == mn.checkpoint_digest(mn.checkpoint_dir("MTT"))
    assert digest[:16] in path.name and path.parent == Path(os.environ["COUNTERPOINT_CACHE"]) / "musicnn"
    stamp = path.stat().st_mtime_ns
    assert mn.converted_weights("MTT")[0].stat().st_mtime_ns == stamp  # second load reads the cache
    from safetensors.numpy import load_file, save_file

    state = load_file(str(path))
    save_file(state, str(path), metadata={"source_sha256": "0" * 64})  # a cache from other weights
    rebuilt, _ = mn.converted_weights("MTT")
    from safetensors import safe_open

    with safe_open(str(rebuilt), framework="np") as handle:
        assert handle.metadata()["source_sha256"] == digest


def test_encoder_spec_dims_and_feature_names():
    assert build_encoder("musicnn").dim == 753
    encoder = build_encoder("musicnn:model=MSD,layer=taggram,hop=1.5")
    assert (encoder.dim, encoder.spec) == (50, "musicnn:model=MSD,layer=taggram,hop=1.5")
    assert encoder.feature_names() == list(mn.MSD_TAGS)
    assert build_encoder("musicnn:layer=penultimate").dim == 200 and build_encoder("musicnn").feature_names() is None
    assert build_encoder("musicnn:model=MSD").weights_digest() != build_encoder("musicnn").weights_digest()
    with pytest.raises(EncoderError, match="model"):
        build_encoder("musicnn:model=FMA")
    assert mn.MusicnnEncoder.unavailable_reason() is None


def test_embedding_tracks_batches_patches_across_files(networks, tmp_path):
    import soundfile as sf

    rng = np.random.default_rng(3)
    long_audio = (0.1 * rng.standard_normal(int(7.5 * 16000))).astype(np.float32)
    sf.write(tmp_path / "noise.wav", long_audio, 16000)
    tracks = [Track("chirp", CHIRP_WAV, None), Track("noise", tmp_path / "noise.wav", None)]
    encoder = build_encoder("musicnn:layer=taggram")
    prepared = [encoder.prepare(t) for t in tracks]
    together = encoder.embed_prepared(prepared)
    alone = [encoder.embed_prepared([p])[0] for p in prepared]
    assert [e.frames.shape for e in together] == [(3, 50), (2, 50)]
    for batched, single in zip(together, alone):
        assert_float32_close(batched.frames, single.frames, scale=largest_magnitude, terms=NETWORK_TERMS)
        assert_float32_close(batched.pooled, batched.frames.mean(axis=0), scale=column_scale(batched.frames),
                             terms=len(batched.frames))
    np.testing.assert_allclose(together[1].timestamps, [1.488, 4.48])
    assert together[1].duration == pytest.approx(7.5)
    with pytest.raises(TrackError, match="no audio"):
        encoder.prepare(Track("midi-only", None, tmp_path / "x.mid"))


def test_hear_functions_and_top_tags(networks):
    import torch

    reference = np.load(BACH)
    audio = reference["audio_16k"]
    encoder = mn.MusicnnEncoder(layer="taggram")
    batch = np.stack([audio, audio[::-1].copy()])
    embeddings, timestamps = encoder.get_timestamp_embeddings(batch)
    assert isinstance(embeddings, torch.Tensor) and isinstance(timestamps, torch.Tensor)  # the HEAR contract
    embeddings, timestamps = embeddings.numpy(), timestamps.numpy()
    assert embeddings.shape == (2, 3, 50) and timestamps.shape == (2, 3)
    np.testing.assert_allclose(timestamps[0], [1488.0, 4480.0, 7472.0])
    scene = encoder.get_scene_embeddings(torch.from_numpy(batch))
    assert isinstance(scene, torch.Tensor) and scene.shape == (2, 50)
    assert_float32_close(scene.numpy(), embeddings.mean(axis=1), scale=largest_magnitude(embeddings),
                         terms=embeddings.shape[1])
    tags = mn.top_tags(CHIRP_WAV, model="MTT", k=5)
    assert len(tags) == 5 and all(name in mn.MTT_TAGS for name, _ in tags)
    scores = [score for _, score in tags]
    assert scores == sorted(scores, reverse=True) and 0 <= scores[-1] <= scores[0] <= 1
    chirp_taggram = encoder.embed([Track("chirp", CHIRP_WAV, None)])[0].pooled
    assert_float32_close(scores[0], chirp_taggram.max(), scale=1.0, terms=NETWORK_TERMS)  # a probability


def test_checkpoint_is_found_in_the_weights_dir_first(tmp_path, monkeypatch):
    import shutil

    copy = tmp_path / "weights" / "musicnn" / "MSD_musicnn"
    shutil.copytree(mn.checkpoint_dir("MSD"), copy)
    monkeypatch.setenv("COUNTERPOINT_WEIGHTS_DIR", str(tmp_path / "weights"))
    assert mn.checkpoint_dir("MSD") == copy
    assert mn.checkpoint_dir("MTT").parent != copy.parent  # not in the weights dir: the installed wheel's copy
    assert mn.checkpoint_digest(copy) == mn.checkpoint_digest(mn.checkpoint_dir("MSD"))
