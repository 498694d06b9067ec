"""OpenL3 port: framing, front end, Keras weight loading, outputs, encoder and HEAR API.

The published weights cannot be downloaded here, so the tests write an HDF5 file with the
layout of the published ``openl3_audio_*.h5`` files (Keras 2 ``save_weights``: root attribute
``layer_names``, one group per layer with ``weight_names``, arrays at
``<layer>/<layer>/<weight>:0``; layer names as the original Keras model creates them),
filled with seeded random numbers. ``tests/fixtures/openl3/keras_reference.npz`` holds the
outputs of the original Keras model (openl3 0.4.2 ``models.py`` + kapre 0.3.5 on
TensorFlow 2.15) with the weights of :func:`write_random_openl3_h5` for the same seed;
``keras_reference_resampled.npz`` the same for files at 22.05 and 44.1 kHz, which openl3
resamples to 48 kHz with resampy.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import h5py
import numpy as np
import pytest
import soundfile as sf
import torch

from counterpoint import hear
from counterpoint.data.audio import load_audio
from counterpoint.data.manifest import Track
from counterpoint.encoders import openl3
from counterpoint.encoders import weights
from counterpoint.encoders.registry import build_encoder
from counterpoint.encoders.weights import resolve_weights
from counterpoint.errors import EncoderError, TrackError, WeightsError
from float_tolerance import (assert_bitwise_equal, assert_float32_close, assert_rounded_float32_close, column_scale,
                             largest_magnitude)

torch.set_num_threads(1)

FIXTURE = Path(__file__).parent / "fixtures" / "openl3" / "keras_reference.npz"
RESAMPLED_FIXTURE = FIXTURE.with_name("keras_reference_resampled.npz")
WEIGHTS_SEED = 20190512  # seed of the random weights the Keras reference used
# float32 depth (tests/float_tolerance.py): the sum of the fan-ins of the CNN's eight 3 x 3 convolutions (1 to 512
# input channels), and with the mel front end's 2048-point STFT and 1025-bin mel bank before it
CNN_TERMS = 9 * (1 + 64 + 64 + 128 + 128 + 256 + 256 + 512)
NETWORK_TERMS = 2048 + 1025 + CNN_TERMS


def keras_layer_plan() -> list[tuple[str, list[tuple[str, tuple[int, ...]]]]]:
    """Layers of the original Keras audio model in creation order, with weight names and shapes.

    Names are those Keras 2.0–2.2 gives (``batch_normalization_1``, ``conv2d_1``, ...), as in the
    published files; layers without weights are listed too, as Keras lists them.
    """
    plan: list[tuple[str, list[tuple[str, tuple[int, ...]]]]] = [("input_1", [])]
    counters = {"batch_normalization": 0, "conv2d": 0, "activation": 0, "max_pooling2d": 0}

    def name(kind: str) -> str:
        counters[kind] += 1
        return f"{kind}_{counters[kind]}"

    def batch_norm(channels: int) -> None:
        plan.append((name("batch_normalization"), [(w, (channels,)) for w in
                                                   ("gamma", "beta", "moving_mean", "moving_variance")]))

    def conv(layer: str, c_in: int, c_out: int) -> None:
        plan.append((layer, [("kernel", (3, 3, c_in, c_out)), ("bias", (c_out,))]))

    batch_norm(1)
    c_in = 1
    for index, c_out in enumerate(openl3.CONV_CHANNELS):
        last = index == len(openl3.CONV_CHANNELS) - 1
        conv("audio_embedding_layer" if last else name("conv2d"), c_in, c_out)
        c_in = c_out
        if last:
            break
        batch_norm(c_out)
        plan.append((name("activation"), []))
        if index in (1, 3, 5):
            plan.append((name("max_pooling2d"), []))
    return plan


def random_weight(rng: np.random.Generator, layer: str, weight: str, shape: tuple[int, ...]) -> np.ndarray:
    """Random values of a plausible scale so activations stay finite and informative."""
    if weight == "kernel":
        fan_in = shape[0] * shape[1] * shape[2]
        return rng.normal(0.0, np.sqrt(2.0 / fan_in), shape).astype(np.float32)
    if weight == "gamma":
        return rng.uniform(0.7, 1.3, shape).astype(np.float32)
    if layer == "batch_normalization_1" and weight == "moving_mean":
        return rng.uniform(-45.0, -35.0, shape).astype(np.float32)  # the input is in dB, in [-80, 0]
    if layer == "batch_normalization_1" and weight == "moving_variance":
        return rng.uniform(300.0, 500.0, shape).astype(np.float32)
    if weight == "moving_variance":
        return rng.uniform(0.5, 1.5, shape).astype(np.float32)
    return rng.normal(0.0, 0.05, shape).astype(np.float32)  # beta, moving_mean, bias


def write_random_openl3_h5(path: Path, seed: int = WEIGHTS_SEED, nested: bool = False,
                           spectrogram_layer: bool = False) -> dict[tuple[str, str], np.ndarray]:
    """Write a Keras-2-layout openl3 audio weight file of random numbers; return its arrays.

    ``nested`` puts everything under ``model_weights/`` (a full ``model.save`` file);
    ``spectrogram_layer`` adds a kapre 0.1 ``melspectrogram_1`` layer with fixed kernels, as
    the pre-0.4 files had.
    """
    rng = np.random.default_rng(seed)
    plan = keras_layer_plan()
    if spectrogram_layer:
        plan.insert(1, ("melspectrogram_1", [("real_kernels", (2048, 1, 1, 1025)),
                                             ("freq2mel", (1025, 128))]))
    arrays: dict[tuple[str, str], np.ndarray] = {}
    with h5py.File(path, "w") as handle:
        root = handle.create_group("model_weights") if nested else handle
        root.attrs["layer_names"] = np.array([layer.encode() for layer, _ in plan])
        root.attrs["backend"] = b"tensorflow"
        root.attrs["keras_version"] = b"2.2.4"
        for layer, weights in plan:
            group = root.create_group(layer)
            group.attrs["weight_names"] = np.array([f"{layer}/{w}:0".encode() for w, _ in weights], dtype="S")
            for weight, shape in weights:
                value = random_weight(rng, layer, weight, shape)
                group.create_dataset(f"{layer}/{weight}:0", data=value)
                arrays[(layer, weight)] = value
    return arrays


def chirp_signal(seconds: float, sample_rate: int = openl3.SAMPLE_RATE) -> np.ndarray:
    """A deterministic chirp plus a tone, amplitude < 0.6."""
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    return (0.4 * np.sin(2 * np.pi * (220.0 * t + 900.0 * t**2)) + 0.15 * np.sin(2 * np.pi * 3000.0 * t)).astype(np.float32)


def wideband_signal(seconds: float, sample_rate: int) -> np.ndarray:
    """:func:`chirp_signal` plus a sweep from 50 Hz to 97 % of Nyquist, where resamplers differ."""
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    top = 0.97 * sample_rate / 2
    sweep = 0.2 * np.sin(2 * np.pi * (50.0 * t + (top - 50.0) / (2 * seconds) * t**2))
    return (chirp_signal(seconds, sample_rate) + sweep).astype(np.float32)


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[tuple[str, str], np.ndarray]]:
    path = tmp_path_factory.mktemp("openl3") / "openl3_audio_mel128_music.h5"
    return path, write_random_openl3_h5(path)


# --- framing and timestamps --------------------------------------------------------------

@pytest.mark.parametrize("n_samples", [1, 1000, 24_000, 47_999, 48_000, 48_001, 50_400, 123_457])
@pytest.mark.parametrize("hop", [0.1, 0.25, 1.0])
@pytest.mark.parametrize("center", [True, False])
def test_framing_matches_original_window_count(n_samples: int, hop: float, center: bool) -> None:
    audio = np.arange(1, n_samples + 1, dtype=np.float32)
    windows = openl3.frame_audio(audio, hop, center)
    assert windows.shape == (openl3.window_count(n_samples, hop, center), openl3.WINDOW_SAMPLES)
    step = openl3.hop_samples(hop)
    offset = openl3.WINDOW_SAMPLES // 2 if center else 0
    for index in (0, len(windows) - 1):
        start = index * step - offset  # where the window begins in the unpadded audio
        lo, hi = max(start, 0), min(start + openl3.WINDOW_SAMPLES, n_samples)
        np.testing.assert_array_equal(windows[index][lo - start:hi - start], audio[lo:hi])
        assert not windows[index][:lo - start].any() and not windows[index][hi - start:].any()
    # every sample is covered, and no window lies wholly in the end padding
    assert (len(windows) - 1) * step - offset < n_samples <= (len(windows) - 1) * step - offset + openl3.WINDOW_SAMPLES


def test_window_count_worked_examples() -> None:
    # openl3 _get_num_windows: 1 s centred at hop 0.1 → 1 + ceil((72000 - 48000) / 4800) = 6
    assert openl3.window_count(48_000, 0.1, True) == 6
    assert openl3.window_count(48_000, 0.1, False) == 1
    assert openl3.window_count(50_400, 0.1, True) == 7  # 1 + ceil(26400 / 4800)
    assert openl3.window_count(10 * 48_000, 0.5, False) == 19
    np.testing.assert_allclose(openl3.window_timestamps(4, 0.25), [0.0, 0.25, 0.5, 0.75])


# --- front end ------------------------------------------------------------------------------

@pytest.mark.parametrize("input_repr", openl3.INPUT_REPRS)
def test_front_end_matches_librosa(input_repr: str) -> None:
    import librosa

    config = openl3.FRONT_ENDS[input_repr]
    window = np.random.default_rng(3).normal(0.0, 0.1, openl3.WINDOW_SAMPLES).astype(np.float32)
    window += chirp_signal(1.0)
    network = openl3.build_network(input_repr, 512)
    ours = network.frontend(torch.from_numpy(window[None]))[0, 0].numpy()
    assert ours.shape == (config.n_bins, config.n_frames)
    # tf.signal.stft(pad_end=True) = zero padding at the end, frames from sample 0
    padded = window
    if config.pad_end:
        padded = np.pad(window, (0, (config.n_frames - 1) * openl3.SPECTROGRAM_HOP + config.n_fft - window.size))
    magnitude = np.abs(librosa.stft(padded.astype(np.float64), n_fft=config.n_fft, hop_length=openl3.SPECTROGRAM_HOP,
                                    window="hann", center=False))
    if config.n_mels:
        magnitude = librosa.filters.mel(sr=openl3.SAMPLE_RATE, n_fft=config.n_fft, n_mels=config.n_mels) @ magnitude
    expected = librosa.power_to_db(magnitude, ref=1.0, amin=1e-10, top_db=80.0)
    expected -= expected.max()  # openl3's _librosa_*_frontend scaling (= kapre 0.1.4)
    assert expected.shape == ours.shape
    np.testing.assert_allclose(ours, expected, atol=2e-3)
    assert ours.max() == 0.0 and ours.min() >= -80.0


# --- weight loading -----------------------------------------------------------------------

def _expected_tensor(arrays: dict[tuple[str, str], np.ndarray], layer: str, weight: str) -> np.ndarray:
    value = arrays[(layer, weight)]
    return value.transpose(3, 2, 0, 1) if weight == "kernel" else value


@pytest.mark.parametrize("nested", [False, True])
def test_loader_puts_every_keras_array_in_place(tmp_path: Path, nested: bool) -> None:
    path = tmp_path / "weights.h5"
    arrays = write_random_openl3_h5(path, seed=7, nested=nested, spectrogram_layer=nested)
    network = openl3.build_network("mel128", 512)
    used = openl3.load_keras_weights(network, path)
    assert used == [layer for layer, weights in keras_layer_plan() if weights]
    checked = 0
    for layer, module in zip(used, network.keras_order()):
        if isinstance(module, torch.nn.BatchNorm2d):
            pairs = zip(("gamma", "beta", "moving_mean", "moving_variance"),
                        (module.weight, module.bias, module.running_mean, module.running_var))
        else:
            pairs = zip(("kernel", "bias"), (module.weight, module.bias))
        for weight, tensor in pairs:
            np.testing.assert_array_equal(tensor.detach().numpy(), _expected_tensor(arrays, layer, weight))
            checked += 1
    n_params = sum(a.size for (layer, w), a in arrays.items() if "spectrogram" not in layer)
    assert checked == 8 * 4 + 8 * 2
    assert n_params == sum(p.numel() for p in network.parameters()) + sum(b.numel() for n, b in network.named_buffers()
                                                                        if "running" in n)


def test_loader_rejects_files_that_do_not_fit(tmp_path: Path) -> None:
    path = tmp_path / "weights.h5"
    write_random_openl3_h5(path)
    network = openl3.build_network("linear", 6144)
    with h5py.File(path, "a") as handle:  # a stray array the network has no place for
        handle["conv2d_3"].create_dataset("stray:0", data=np.zeros(3))
    with pytest.raises(WeightsError, match="not used"):
        openl3.load_keras_weights(network, path)

    write_random_openl3_h5(path)
    with h5py.File(path, "a") as handle:  # a kernel of the wrong shape
        del handle["conv2d_2/conv2d_2/kernel:0"]
        handle["conv2d_2/conv2d_2"].create_dataset("kernel:0", data=np.zeros((3, 3, 64, 32), np.float32))
    with pytest.raises(WeightsError, match=r"conv2d_2/kernel has shape \(3, 3, 64, 32\)"):
        openl3.load_keras_weights(network, path)

    write_random_openl3_h5(path)
    with h5py.File(path, "a") as handle:  # a layer missing: 15 weighted layers instead of 16
        names = [n for n in handle.attrs["layer_names"] if n != b"batch_normalization_4"]
        handle.attrs["layer_names"] = np.array(names)
    with pytest.raises(WeightsError, match="15 layers with weights"):
        openl3.load_keras_weights(network, path)

    path.write_bytes(b"not hdf5")
    with pytest.raises(WeightsError, match="not a readable HDF5 file"):
        openl3.load_keras_weights(network, path)


# --- network outputs --------------------------------------------------------------------

@pytest.mark.parametrize("input_repr", openl3.INPUT_REPRS)
def test_output_shapes_512_and_6144(random_weights, input_repr: str) -> None:
    path, _ = random_weights
    network = openl3.build_network(input_repr, 512)
    openl3.load_keras_weights(network, path)
    with torch.inference_mode():
        features = network.features(network.frontend(torch.from_numpy(chirp_signal(1.0)[None])))
        assert tuple(features.shape[1:]) == ((512, 16, 24) if input_repr == "mel128" else (512, 32, 24))
        small = network.pool(features)
        network.final_pool = openl3.FINAL_POOL_SIZES[input_repr][6144]
        large = network.pool(features)
    assert small.shape == (1, 512) and large.shape == (1, 6144)
    assert torch.isfinite(large).all() and large.std() > 0
    # the 512-d vector is the max over the 6144-d one's 12 positions (channels-last flatten)
    assert_bitwise_equal(large.reshape(-1, 512).amax(dim=0).numpy(), small[0].numpy())


# --- the encoder ------------------------------------------------------------------------------

def test_encoder_embeds_files_batch_equals_single(tmp_path: Path, random_weights) -> None:
    path, _ = random_weights
    tracks = []
    for index, seconds in enumerate((1.3, 0.6)):
        audio_path = tmp_path / f"t{index}.wav"
        sf.write(audio_path, chirp_signal(seconds, 44_100) * (index + 1) * 0.8, 44_100)
        tracks.append(Track(id=f"t{index}", audio_path=audio_path, midi_path=None))
    encoder = build_encoder(f"openl3:input_repr=mel128,embedding_size=512,hop=0.5,weights={path},forward_batch=2")  # passes straddle tracks
    assert encoder.spec == f"openl3:input_repr=mel128,embedding_size=512,hop=0.5,weights={path}"
    prepared = [encoder.prepare(t) for t in tracks]
    together = encoder.embed_prepared(prepared)
    for item, embedding in zip(prepared, together):
        count = openl3.window_count(item.waveform.size, 0.5, True)
        assert embedding.frames.shape == (count, 512)
        np.testing.assert_allclose(embedding.timestamps, np.arange(count) * 0.5)
        assert_float32_close(embedding.pooled, embedding.frames.mean(axis=0), scale=column_scale(embedding.frames),
                             terms=count)
        assert embedding.duration == pytest.approx(item.waveform.size / 48_000)
    single = build_encoder(f"openl3:input_repr=mel128,embedding_size=512,hop=0.5,weights={path},forward_batch=1")
    for item, embedding in zip(prepared, together):
        alone = single.embed_prepared([item])[0]
        assert_float32_close(alone.frames, embedding.frames, scale=largest_magnitude, terms=NETWORK_TERMS)
    assert not np.allclose(together[0].pooled, together[1].pooled)
    assert encoder.fingerprint()["weights"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_encoder_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(EncoderError, match="mel64"):
        build_encoder("openl3:input_repr=mel64")
    with pytest.raises(EncoderError, match="embedding_size"):
        build_encoder("openl3:embedding_size=1024")
    with pytest.raises(EncoderError, match="hop"):
        build_encoder("openl3:hop=0")
    missing = build_encoder(f"openl3:weights={tmp_path / 'nothing.h5'}")
    with pytest.raises(WeightsError, match="nothing.h5"):
        missing.embed_prepared([openl3.PreparedAudio(chirp_signal(1.0))])
    with pytest.raises(TrackError, match="no audio"):
        missing.prepare(Track(id="m", audio_path=None, midi_path=tmp_path / "x.mid"))


def test_missing_weights_message_says_where_they_come_from(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("COUNTERPOINT_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setattr(weights, "_packaged", lambda file: None)  # as if no openl3 package were installed
    file = openl3.WEIGHT_FILES[("linear", "env")]
    with pytest.raises(WeightsError) as info:
        resolve_weights(file)
    message = str(info.value)
    assert "openl3_audio_linear_env.h5" in message and "openl3_audio_linear_env-v0_4_0.h5.gz" in message
    assert f"download {openl3.WEIGHTS_BASE_URL}openl3_audio_linear_env-v0_4_0.h5.gz into $COUNTERPOINT_WEIGHTS_DIR/openl3/" in message
    assert openl3.OpenL3Encoder.unavailable_reason() is not None
    (tmp_path / "openl3").mkdir()
    write_random_openl3_h5(tmp_path / "openl3" / "openl3_audio_linear_env.h5")
    assert resolve_weights(file) == tmp_path / "openl3" / "openl3_audio_linear_env.h5"
    assert openl3.OpenL3Encoder.unavailable_reason() is None


def test_published_gzip_is_unpacked_into_the_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import gzip

    monkeypatch.setenv("COUNTERPOINT_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("COUNTERPOINT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(weights, "_packaged", lambda file: None)  # as if no openl3 package were installed
    plain = tmp_path / "plain.h5"
    write_random_openl3_h5(plain, seed=5)
    (tmp_path / "weights" / "openl3").mkdir(parents=True)
    packed = tmp_path / "weights" / "openl3" / "openl3_audio_mel256_env-v0_4_0.h5.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes(), compresslevel=1))
    found = resolve_weights(openl3.WEIGHT_FILES[("mel256", "env")])
    assert found == tmp_path / "cache" / "openl3" / "openl3_audio_mel256_env.h5"
    assert found.read_bytes() == plain.read_bytes()
    packed.write_bytes(b"broken")
    found.unlink()
    with pytest.raises(WeightsError, match="cannot be decompressed"):
        resolve_weights(openl3.WEIGHT_FILES[("mel256", "env")])


def test_hear_api(random_weights) -> None:
    path, _ = random_weights
    model = hear.load_model(str(path), spec="openl3:input_repr=mel128,embedding_size=512,hop=0.5")
    assert model.sample_rate == 48_000 and model.scene_embedding_size == model.timestamp_embedding_size == 512
    audio = torch.from_numpy(np.stack([chirp_signal(0.9), 0.5 * chirp_signal(0.9)[::-1].copy()]))
    embeddings, timestamps = hear.get_timestamp_embeddings(audio, model)
    count = openl3.window_count(audio.shape[1], 0.5, True)
    assert embeddings.shape == (2, count, 512) and timestamps.shape == (2, count)
    np.testing.assert_allclose(timestamps[0].numpy(), np.arange(count) * 500.0)  # milliseconds
    scene = hear.get_scene_embeddings(audio, model)
    assert_float32_close(scene.numpy(), embeddings.mean(dim=1).numpy(), scale=largest_magnitude(embeddings.numpy()),
                         terms=count)


# --- parity with the original Keras model -------------------------------------------------

@pytest.fixture(scope="module")
def keras_reference() -> dict[str, np.ndarray]:
    if not FIXTURE.exists():
        pytest.skip("tests/fixtures/openl3/keras_reference.npz not present")
    with np.load(FIXTURE) as reference:
        return dict(reference)


def _loaded_network(path: Path, input_repr: str, embedding_size: int):
    network = openl3.build_network(input_repr, embedding_size)
    openl3.load_keras_weights(network, path)
    return network


@pytest.mark.parametrize("input_repr", ["linear", "mel128"])
def test_cnn_matches_original_keras_model(random_weights, keras_reference, input_repr: str) -> None:
    """From the Keras front end's own spectrogram, the CNN, pooling and flatten agree to float32 precision."""
    path, _ = random_weights
    spectrogram = torch.from_numpy(keras_reference[f"{input_repr}_spectrogram"][None, None])
    for size, expected in ((512, keras_reference[f"{input_repr}_512"][0]),
                           (6144, keras_reference[f"{input_repr}_6144_first"][0])):
        with torch.inference_mode():
            network = _loaded_network(path, input_repr, size)
            ours = network.pool(network.features(spectrogram))[0].numpy()
        assert_float32_close(ours, expected, scale=largest_magnitude, terms=CNN_TERMS, err_msg=f"{input_repr} {size}")


@pytest.mark.parametrize("input_repr", ["linear", "mel128"])
def test_front_end_matches_original_kapre(keras_reference, input_repr: str) -> None:
    """Spectrograms agree wherever they carry signal; below -60 dB both are float32 FFT noise."""
    hop = float(keras_reference["hop"])
    audio = chirp_signal(float(keras_reference["seconds"]))
    assert_rounded_float32_close(audio[:1000], keras_reference["audio_head"], scale=largest_magnitude)  # float64 sines
    window = np.array(openl3.frame_audio(audio, hop, True)[:1])
    with torch.inference_mode():
        ours = openl3.build_network(input_repr, 512).frontend(torch.from_numpy(window))[0, 0].numpy()
    expected = keras_reference[f"{input_repr}_spectrogram"]
    assert ours.shape == expected.shape
    assert np.abs(ours - expected)[expected > -40].max() <= 5e-3
    assert np.abs(ours - expected)[expected > -60].max() <= 0.5


@pytest.mark.parametrize("input_repr", openl3.INPUT_REPRS)
def test_embeddings_match_original_keras_model(random_weights, keras_reference, input_repr: str) -> None:
    """Audio → embeddings end to end, every window and timestamp, against openl3.get_audio_embedding."""
    path, _ = random_weights
    hop = float(keras_reference["hop"])
    audio = chirp_signal(float(keras_reference["seconds"]))
    encoder = openl3.OpenL3Encoder(input_repr=input_repr, embedding_size=512, weights=str(path), hop=hop)
    expected = keras_reference[f"{input_repr}_512"]
    if input_repr == "mel128":  # the whole path, every window
        embedding = encoder.embed_waveforms([audio])[0]
        assert embedding.frames.shape == expected.shape
        np.testing.assert_allclose(embedding.timestamps, np.arange(len(expected)) * hop)
        frames = embedding.frames
    else:  # the first, a middle and the last window, to keep the test quick
        chosen = [0, len(expected) // 2, len(expected) - 1]
        frames = encoder.embed_windows(openl3.frame_audio(audio, hop, True)[chosen])
        expected = expected[chosen]
    difference = np.abs(frames - expected)
    cosine = (frames * expected).sum(1) / np.linalg.norm(frames, axis=1) / np.linalg.norm(expected, axis=1)
    print(f"{input_repr}: max |diff| {difference.max():.3g} of max |ref| {np.abs(expected).max():.3g}, "
          f"mean |diff| {difference.mean():.3g}, min cosine {cosine.min():.6f}")
    assert difference.max() <= 0.03 * np.abs(expected).max()
    assert cosine.min() >= 0.999


# --- parity on files that are not at 48 kHz (openl3 resamples them with resampy) -----------

#: Bounds on non-48-kHz files: (largest |difference| as a fraction of the largest |value|, lowest
#: frame cosine). The resampled input equals openl3's to float32 rounding, so what is left is the
#: float32 front-end noise of the 48-kHz test. soxr's resampling instead (what librosa.load does)
#: moves the mel frames by 2.6–3.6 % (cosine 0.99985–0.99992) and fails these bounds. ``linear``
#: has the 48-kHz test's largest difference: its 257 bins up to 24 kHz lie mostly at the −80 dB
#: floor, where FFT noise outweighs the resampler (soxr: 2.9 %, cosine 0.99994; resampy: 2.3 %,
#: 0.99996), so only the mel representations tell the resamplers apart.
RESAMPLED_BOUNDS = {"linear": (0.03, 0.9999), "mel128": (0.015, 0.99999), "mel256": (0.015, 0.99999)}


@pytest.fixture(scope="module")
def resampled_reference() -> dict[str, np.ndarray]:
    if not RESAMPLED_FIXTURE.exists():
        pytest.skip("tests/fixtures/openl3/keras_reference_resampled.npz not present")
    with np.load(RESAMPLED_FIXTURE) as reference:
        return dict(reference)


def _wideband_file(folder: Path, reference: dict[str, np.ndarray], sample_rate: int) -> Path:
    """The reference's input file: float32 WAV samples, so decoding is exact on both sides."""
    audio = wideband_signal(float(reference["seconds"]), sample_rate)
    assert_rounded_float32_close(audio[:1000], reference[f"audio_head_{sample_rate}"], scale=largest_magnitude)
    path = folder / f"wideband_{sample_rate}.wav"
    sf.write(path, audio, sample_rate, subtype="FLOAT")
    return path


@pytest.mark.parametrize("sample_rate", [22050, 44100])
def test_files_are_resampled_as_openl3_does(tmp_path: Path, resampled_reference, sample_rate: int) -> None:
    """Decoded at the file's rate and resampled with resampy 0.2's kaiser_best, as openl3 0.4.2's core.py."""
    path = _wideband_file(tmp_path, resampled_reference, sample_rate)
    waveform = load_audio(path, openl3.SAMPLE_RATE, resampler=openl3.OpenL3Encoder.resampler)
    assert waveform.size == int(resampled_reference[f"resampled_length_{sample_rate}"])
    # resampy filters in float64, yet the reference's float32 samples (resampy 0.2.2 under numpy 1.26, elsewhere)
    # differ from ours by up to 1.3 float32 steps of the waveform's scale, more than one rounding of the same
    # float64 values: rule 1, one float32 operation deep
    scale = largest_magnitude(waveform)
    assert_float32_close(waveform[:2000], resampled_reference[f"resampled_head_{sample_rate}"], scale=scale)
    assert_float32_close(waveform[::97], resampled_reference[f"resampled_every_97_{sample_rate}"], scale=scale)


@pytest.mark.parametrize("sample_rate", [22050, 44100])
@pytest.mark.parametrize("input_repr", openl3.INPUT_REPRS)
def test_embeddings_of_files_at_other_rates_match_original(tmp_path: Path, random_weights, resampled_reference,
                                                           input_repr: str, sample_rate: int) -> None:
    """File → embeddings, every window, against openl3.process_audio_file on the same file."""
    path, _ = random_weights
    hop = float(resampled_reference["hop"])
    audio_path = _wideband_file(tmp_path, resampled_reference, sample_rate)
    encoder = openl3.OpenL3Encoder(input_repr=input_repr, embedding_size=512, weights=str(path), hop=hop)
    embedding = encoder.embed_prepared([encoder.prepare(Track(id="wideband", audio_path=audio_path, midi_path=None))])[0]
    expected = resampled_reference[f"{input_repr}_512_{sample_rate}"]
    assert embedding.frames.shape == expected.shape
    np.testing.assert_allclose(embedding.timestamps, np.arange(len(expected)) * hop)
    frames = embedding.frames
    difference = np.abs(frames - expected)
    cosine = (frames * expected).sum(1) / np.linalg.norm(frames, axis=1) / np.linalg.norm(expected, axis=1)
    print(f"{input_repr} at {sample_rate} Hz: max |diff| {difference.max():.3g} of max |ref| {np.abs(expected).max():.3g}, "
          f"mean |diff| {difference.mean():.3g}, min cosine {cosine.min():.7f}")
    largest, lowest_cosine = RESAMPLED_BOUNDS[input_repr]
    assert difference.max() <= largest * np.abs(expected).max()
    assert cosine.min() >= lowest_cosine


def test_fingerprint_records_the_resampler(random_weights) -> None:
    path, _ = random_weights
    fingerprint = build_encoder(f"openl3:weights={path}").fingerprint()
    assert fingerprint["resampler"] == "resampy<0.3:kaiser_best"
