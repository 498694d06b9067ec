"""audio-stats on synthetic audio whose descriptors are known: a 440 Hz sine, tone changes,
click trains at known tempi, silence and broken files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from counterpoint import hear
from counterpoint.data.manifest import Track
from counterpoint.encoders.audio_stats import N_FFT, AudioStatsEncoder, base_feature_names
from counterpoint.encoders.registry import build_encoder
from counterpoint.errors import EncoderError, TrackError
from float_tolerance import assert_bitwise_equal, assert_float32_close, column_scale, largest_magnitude

SR = 22050


def tone(frequency: float, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * SR))) / SR
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def click_train(bpm: float, seconds: float) -> np.ndarray:
    """Short 2 kHz Hann-windowed bursts every 60/bpm seconds."""
    signal = np.zeros(int(seconds * SR), dtype=np.float32)
    burst = (np.hanning(200) * np.sin(2 * np.pi * 2000 * np.arange(200) / SR)).astype(np.float32)
    for onset in np.arange(0.1, seconds - 0.1, 60.0 / bpm):
        start = int(round(onset * SR))
        signal[start:start + burst.size] += burst
    return signal


def embed_file(path: Path, waveform: np.ndarray, spec: str = "audio-stats"):
    sf.write(path, waveform, SR)
    encoder = build_encoder(spec)
    [embedding] = encoder.embed([Track(id=path.stem, audio_path=path, midi_path=None)])
    return encoder, embedding


def test_sine_440_peaks_at_a_and_frames_are_half_seconds(tmp_path: Path) -> None:
    encoder, embedding = embed_file(tmp_path / "a440.wav", tone(440.0, 3.0))
    names = encoder.feature_names()
    assert len(names) == encoder.dim == embedding.pooled.size == len(set(names))
    pooled = dict(zip(names, embedding.pooled.astype(float)))
    chroma = {n: v for n, v in pooled.items() if n.startswith("chroma_") and n.endswith("_mean")}
    assert max(chroma, key=chroma.get) == "chroma_A_mean" and chroma["chroma_A_mean"] > 0.95
    assert all(v < 0.3 for n, v in chroma.items() if n not in ("chroma_A_mean", "chroma_G#_mean", "chroma_A#_mean"))
    assert pooled["spectral_centroid_hz_mean"] == pytest.approx(440.0, rel=0.05)
    assert pooled["rms_mean"] == pytest.approx(0.5 / np.sqrt(2), rel=0.05)
    # 3 s in 0.5-s blocks, stamped at their centres.
    np.testing.assert_allclose(embedding.timestamps, [0.25, 0.75, 1.25, 1.75, 2.25, 2.75])
    assert embedding.frames.shape == (6, encoder.dim)
    assert np.isfinite(embedding.frames).all() and np.isfinite(embedding.pooled).all()
    assert embedding.duration == pytest.approx(3.0)


def test_blocks_follow_the_music_and_pooled_is_the_whole_file(tmp_path: Path) -> None:
    # A (440 Hz) for 1 s, then E (659.26 Hz) for 1.2 s; blocks of 0.5 s: 5, the last 0.2 s long.
    waveform = np.concatenate([tone(440.0, 1.0), tone(659.26, 1.2)])
    encoder, embedding = embed_file(tmp_path / "a_then_e.wav", waveform)
    names = encoder.feature_names()
    np.testing.assert_allclose(embedding.timestamps, [0.25, 0.75, 1.25, 1.75, 2.1])
    a_mean, e_mean = names.index("chroma_A_mean"), names.index("chroma_E_mean")
    assert embedding.frames[0, a_mean] > 0.95 and embedding.frames[0, e_mean] < 0.1
    assert embedding.frames[-1, e_mean] > 0.95 and embedding.frames[-1, a_mean] < 0.1
    # The whole-file std sees the change; the std inside a steady block does not.
    a_std = names.index("chroma_A_std")
    assert embedding.pooled[a_std] > 0.4 and embedding.frames[0, a_std] < 0.05
    assert 0.3 < embedding.pooled[a_mean] < 0.6


@pytest.mark.parametrize("bpm, band", [(100, "tempogram_band_90_120"), (140, "tempogram_band_120_180")])
def test_click_train_tempo(tmp_path: Path, bpm: float, band: str) -> None:
    encoder, embedding = embed_file(tmp_path / f"clicks_{bpm}.wav", click_train(bpm, 10.0))
    pooled = dict(zip(encoder.feature_names(), embedding.pooled.astype(float)))
    assert pooled["tempo_bpm"] == pytest.approx(bpm, rel=0.04)
    assert pooled["pulse_clarity"] > 0.6
    bands = {n: v for n, v in pooled.items() if n.startswith("tempogram_band_")}
    assert max(bands, key=bands.get) == band
    # Blocks in the middle (a full 8-s tempogram window of clicks) find the same tempo.
    tempo = encoder.feature_names().index("tempo_bpm")
    middle = embedding.frames[len(embedding.frames) // 2, tempo]
    assert middle == pytest.approx(bpm, rel=0.04)


def test_silence_and_broken_files_raise_track_error_naming_the_file(tmp_path: Path) -> None:
    encoder = AudioStatsEncoder()
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(SR, dtype=np.float32), SR)
    with pytest.raises(TrackError, match="silent.wav.*silent"):
        encoder.prepare(Track(id="quiet", audio_path=silent, midi_path=None))
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio")
    with pytest.raises(TrackError, match="broken.wav"):
        encoder.prepare(Track(id="broken", audio_path=broken, midi_path=None))
    with pytest.raises(TrackError, match="no audio"):
        encoder.prepare(Track(id="midi-only", audio_path=None, midi_path=tmp_path / "x.mid"))


def test_parameters_change_the_dimension_and_are_validated() -> None:
    small = build_encoder("audio-stats:n_mels=16,n_mfcc=8,hop=1.0")
    assert small.spec == "audio-stats:hop=1.0,n_mels=16,n_mfcc=8"
    assert small.dim == 2 * len(base_feature_names(16, 8)) + 7
    assert small.dim == len(small.feature_names())
    with pytest.raises(EncoderError, match="hop=0.01 must be at least 0.1"):
        build_encoder("audio-stats:hop=0.01")
    with pytest.raises(EncoderError, match="n_mfcc=30 is more than n_mels=16"):
        build_encoder("audio-stats:n_mels=16,n_mfcc=30")
    with pytest.raises(EncoderError, match="sample_rate"):
        build_encoder("audio-stats:sample_rate=8000")


def test_very_short_audio_still_gives_one_finite_block() -> None:
    embedding = AudioStatsEncoder().embed_waveform(tone(440.0, 0.05))
    assert embedding.frames.shape[0] == 1 and embedding.timestamps[0] == pytest.approx(0.025, abs=1e-3)
    assert np.isfinite(embedding.frames).all() and np.isfinite(embedding.pooled).all()


def test_hear_api_matches_the_encoder() -> None:
    model = hear.load_model(spec="audio-stats:hop=1.0")
    assert model.sample_rate == SR and model.scene_embedding_size == model.timestamp_embedding_size == model.encoder.dim
    audio = np.stack([tone(440.0, 2.0), click_train(120, 2.0)])
    frames, stamps = hear.get_timestamp_embeddings(audio, model)
    assert tuple(frames.shape) == (2, 2, model.encoder.dim)
    np.testing.assert_allclose(stamps.numpy(), [[500.0, 1500.0], [500.0, 1500.0]])
    scene = hear.get_scene_embeddings(audio, model)
    assert_bitwise_equal(scene.numpy()[0], model.encoder.embed_waveform(audio[0]).pooled)  # each sound on its own
    with pytest.raises(EncoderError, match="n_sounds"):
        model.get_scene_embeddings(audio[0])


@pytest.mark.parametrize("seconds", [3.0, 3.004, 3.01, 3.02, 30.0133])
def test_lengths_just_past_a_block_boundary_embed(tmp_path: Path, seconds: float) -> None:
    """Files a few ms longer than a multiple of hop used to leave an empty last block."""
    _, embedding = embed_file(tmp_path / "a.wav", tone(330.0, seconds))
    assert np.all(np.isfinite(embedding.frames)) and len(embedding.frames) in (int(seconds / 0.5), int(seconds / 0.5) + 1)
    assert np.all(np.diff(embedding.timestamps) > 0) and embedding.timestamps[-1] < seconds


def test_the_old_name_frame_hop_still_works_with_a_warning_and_keeps_the_fingerprint() -> None:
    with pytest.warns(DeprecationWarning, match="frame_hop= is now called hop="):
        old = build_encoder("audio-stats:frame_hop=1.0")
    new = build_encoder("audio-stats:hop=1.0")
    assert old.spec == new.spec == "audio-stats:hop=1.0" and old.params["hop"] == 1.0
    assert old.fingerprint() == new.fingerprint()
    # stores made before the rename recorded frame_hop: the default spec's fingerprint is unchanged
    assert build_encoder("audio-stats").fingerprint()["params"] == {"sample_rate": 22050, "frame_hop": 0.5, "n_mels": 40,
                                                                    "n_mfcc": 20}
    with pytest.raises(EncoderError, match="the same parameter"), pytest.warns(DeprecationWarning):
        build_encoder("audio-stats:frame_hop=1.0,hop=2.0")


def music_like(seconds: float = 6.0, seed: int = 0) -> np.ndarray:
    """Chords of harmonic tones with vibrato, clicks, a noise burst, a stretch of digital silence and -0.0 samples."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    signal = np.zeros_like(t)
    for f0 in 110.0 * 2 ** (rng.integers(0, 36, size=3) / 12):
        for harmonic in range(1, 6):
            signal += np.sin(2 * np.pi * f0 * harmonic * (1 + 0.003 * np.sin(2 * np.pi * 5 * t)) * t) / harmonic
    signal = 0.1 * signal + click_train(150, seconds)[: t.size]
    signal[SR: SR + SR // 4] += 0.3 * rng.standard_normal(SR // 4)
    signal[2 * SR: 3 * SR] = 0.0  # whole silent STFT columns
    signal[2 * SR: 2 * SR + 100: 2] = -0.0
    signal[3 * SR: 3 * SR + 50] = 1e-11  # within the zero-crossing threshold
    return signal.astype(np.float32)


@pytest.mark.parametrize("waveform", [music_like(), music_like(3.3, seed=1), tone(440.0, 0.05), click_train(90, 4.0)],
                         ids=["music", "music-3.3s", "50ms", "clicks"])
def test_fast_descriptors_match_one_librosa_function_per_descriptor(waveform: np.ndarray) -> None:
    from counterpoint.encoders.audio_stats import frame_descriptors, reference_frame_descriptors
    from counterpoint.blas import single_threaded_blas

    fast = frame_descriptors(waveform, SR, n_mels=40, n_mfcc=20)
    with single_threaded_blas():  # as the fast path runs: float32 products round by BLAS thread count
        reference = reference_frame_descriptors(waveform, SR, n_mels=40, n_mfcc=20)
    assert fast.base.shape == reference.base.shape and np.isfinite(fast.base).all()
    names = base_feature_names(40, 20)
    # The paths share the STFT and differ in their mel and chroma products (one stacked matrix against one per
    # librosa function), whose float32 sums of 1 + N_FFT // 2 bins each BLAS kernel orders its own way: each
    # column may differ by float32 error of its own scale (centroids of 0 Hz in silence beside 5 kHz elsewhere).
    for column, name in enumerate(names):
        assert_float32_close(fast.base[:, column], reference.base[:, column], scale=column_scale, terms=1 + N_FFT // 2,
                             err_msg=name)
    zcr, rolloff = names.index("zero_crossing_rate"), names.index("spectral_rolloff_hz")
    assert_bitwise_equal(fast.base[:, zcr], reference.base[:, zcr])  # same counts, same division
    assert_bitwise_equal(fast.base[:, rolloff], reference.base[:, rolloff])  # same float32 cumulative sums
    contrast = [i for i, name in enumerate(names) if name.startswith("spectral_contrast_")]
    assert_bitwise_equal(fast.base[:, contrast], reference.base[:, contrast])  # same sorted values, same sums
    assert_float32_close(fast.onset, reference.onset, scale=column_scale, terms=1 + N_FFT // 2)
    assert_bitwise_equal(fast.times, reference.times)


@pytest.mark.parametrize("waveform", [music_like(), music_like(3.3, seed=1), tone(440.0, 0.05), click_train(90, 4.0)],
                         ids=["music", "music-3.3s", "50ms", "clicks"])
@pytest.mark.parametrize("hop", [0.1, 0.5, 2.0])
def test_block_tempograms_are_the_means_of_librosas_tempogram(waveform: np.ndarray, hop: float) -> None:
    from counterpoint.encoders.audio_stats import (frame_descriptors, reference_tempogram_means, summarise,
                                                   tempogram_means)

    frames = frame_descriptors(waveform, SR, n_mels=40, n_mfcc=20)
    blocks = (frames.times / hop + 1e-9).astype(int)
    heads = np.searchsorted(blocks, np.arange(blocks[-1] + 1))
    fast_blocks, fast_whole = tempogram_means(frames.onset, SR, heads)
    reference_blocks, reference_whole = reference_tempogram_means(frames.onset, SR, heads)
    assert fast_blocks.shape == reference_blocks.shape == (reference_whole.size, heads.size)
    np.testing.assert_allclose(fast_blocks, reference_blocks, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fast_whole, reference_whole, rtol=0, atol=1e-12)
    assert np.abs(reference_blocks[0]).max() > 0.5  # lag 0 of a block with onsets is 1: the check is not of zeros
    fast, reference = summarise(frames, hop), summarise(frames, hop, reference_tempogram_means)
    for got, expected in zip(fast, reference):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_silent_columns_have_zero_spectral_shape_as_in_librosa() -> None:
    import librosa

    from counterpoint.encoders.audio_stats import N_FFT, spectral_shape

    magnitude = np.abs(librosa.stft(music_like(), n_fft=N_FFT, hop_length=512))
    silent = magnitude.max(axis=0) == 0
    assert silent.sum() > 10
    centroid, bandwidth, rolloff = spectral_shape(magnitude, SR)
    assert (centroid[silent] == 0).all() and (bandwidth[silent] == 0).all() and (rolloff[silent] == 0).all()
    assert_float32_close(centroid, librosa.feature.spectral_centroid(S=magnitude, sr=SR, n_fft=N_FFT)[0],
                         scale=largest_magnitude, terms=1 + N_FFT // 2)


def test_a_batch_embeds_to_the_numbers_of_each_track_alone() -> None:
    encoder = AudioStatsEncoder(batch_size=5)
    waveforms = [music_like(4.0, seed=s) for s in range(5)]
    batch = encoder.embed_prepared([encoder.prepare_waveform(w, f"track {i}") for i, w in enumerate(waveforms)])
    for waveform, embedding in zip(waveforms, batch):
        alone = encoder.embed_waveform(waveform)
        assert_bitwise_equal(embedding.pooled, alone.pooled)
        assert_bitwise_equal(embedding.frames, alone.frames)
