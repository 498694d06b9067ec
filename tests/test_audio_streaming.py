"""Long audio read in blocks: the streamed waveform is ``load_audio``'s bit for bit, the encoders that
stream (audio-stats, musicnn's spectrogram) give the whole file's numbers, and ``max_seconds`` reads
only the start of each file and is part of the fingerprint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import make_info_csv_dataset
from float_tolerance import assert_float32_close, column_scale
from counterpoint.data.audio import load_audio, stream_audio
from counterpoint.data.resample import TORCHAUDIO_SINC_HANN
from counterpoint.embed import embed_dataset
from counterpoint.encoders import audio_stats, musicnn
from counterpoint.errors import TrackError
from counterpoint.store import Store

FILE_RATE = 44100


def music_like(seconds: float, rate: int, channels: int = 2, seed: int = 0) -> np.ndarray:
    """Notes that change every 0.4 s, beats, and a little noise: every descriptor moves."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    pitch = 220.0 * 2 ** (rng.integers(0, 12, size=int(seconds / 0.4) + 1)[(t / 0.4).astype(int)] / 12)
    tone = 0.3 * np.sin(2 * np.pi * np.cumsum(pitch) / rate) * (0.6 + 0.4 * np.cos(2 * np.pi * 2 * t))
    mono = tone + 0.02 * rng.standard_normal(t.size)
    return np.stack([mono * (1 - 0.3 * c) for c in range(channels)], axis=1).astype(np.float32)


@pytest.fixture(scope="module")
def long_wav(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("long") / "long.wav"
    sf.write(path, music_like(21.3, FILE_RATE), FILE_RATE, subtype="FLOAT")
    return path


@pytest.mark.parametrize("rate", [22050, 16000, None])
def test_streamed_blocks_are_load_audio_bit_for_bit(long_wav: Path, rate: int | None) -> None:
    whole = load_audio(long_wav, rate)
    pieces = list(stream_audio(long_wav, rate, block_seconds=2.0))
    assert len(pieces) >= 10  # stereo averaged and resampled across many block boundaries
    np.testing.assert_array_equal(np.concatenate(pieces), whole)


def test_an_encoders_own_resampler_gets_the_whole_file(long_wav: Path) -> None:
    streamed = np.concatenate(list(stream_audio(long_wav, 24000, resampler=TORCHAUDIO_SINC_HANN, block_seconds=2.0)))
    np.testing.assert_array_equal(streamed, load_audio(long_wav, 24000, resampler=TORCHAUDIO_SINC_HANN))
    start = list(stream_audio(long_wav, 24000, resampler=TORCHAUDIO_SINC_HANN, max_seconds=3.0))
    np.testing.assert_array_equal(np.concatenate(start), streamed[:3 * 24000])


def test_max_seconds_reads_only_the_start(long_wav: Path) -> None:
    start = np.concatenate(list(stream_audio(long_wav, None, max_seconds=5.5, block_seconds=2.0)))
    np.testing.assert_array_equal(start, load_audio(long_wav, None)[:int(5.5 * FILE_RATE)])
    resampled = np.concatenate(list(stream_audio(long_wav, 22050, max_seconds=5.5, block_seconds=2.0)))
    assert len(resampled) == int(5.5 * FILE_RATE) // 2


def test_a_silent_long_file_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "quiet.wav"
    sf.write(path, np.zeros((5 * FILE_RATE, 2), dtype=np.float32), FILE_RATE)
    with pytest.raises(TrackError, match=r"'quiet'.*quiet\.wav.*silent"):
        list(stream_audio(path, 22050, track_id="quiet", block_seconds=1.0))


def test_audio_stats_streamed_in_chunks_agrees_with_the_whole_file(long_wav: Path) -> None:
    """Chunks of 300 STFT frames (7 s) over blocks of 2 s of resampled audio, so blocks, chunks and
    0.5-s summary blocks all end at different places; against the whole file at once."""
    whole = load_audio(long_wav, 22050)
    frames = audio_stats.frame_descriptors(whole, 22050, n_mels=40, n_mfcc=20)
    blocks, centres, pooled = audio_stats.summarise(frames, 0.5)
    streamed = audio_stats.streamed_summary(stream_audio(long_wav, 22050, block_seconds=2.0), 22050, n_mels=40,
                                            n_mfcc=20, hop=0.5, chunk_frames=300)
    np.testing.assert_array_equal(streamed[1], centres)
    assert streamed[3] == len(whole) / 22050
    # Each frame's descriptors are the same float32 computation, but the mel products of a chunk may
    # round their last bits otherwise than those of the whole file (other batch widths, other SIMD
    # loops), and the float64 sums run in another order: the float32 rule over the 1 + N_FFT/2 terms of
    # a mel product. A descriptor's mean and std are sums of its frame values, so their error is a share
    # of those values' size (their RMS, sqrt(mean² + std²)), not of the result: a delta's mean nearly
    # cancels (4e-5 from frames of size ~1), and measuring it against itself failed with numpy's AVX2
    # loops disabled.
    n_base = len(audio_stats.base_feature_names(40, 20))
    for streamed_values, values in ((streamed[0], blocks), (streamed[2][None], pooled[None])):
        frame_rms = np.sqrt(values[:, :n_base] ** 2 + values[:, n_base:2 * n_base] ** 2).max(axis=0)
        scale = np.concatenate([frame_rms, frame_rms, column_scale(values[:, 2 * n_base:])])
        assert_float32_close(streamed_values, values, scale=scale, terms=1 + audio_stats.N_FFT // 2)


def test_musicnn_spectrogram_streamed_in_chunks_is_the_whole_files(long_wav: Path) -> None:
    whole = load_audio(long_wav, musicnn.SAMPLE_RATE)
    logmel, n_samples = musicnn.streamed_log_mel(stream_audio(long_wav, musicnn.SAMPLE_RATE, block_seconds=2.0),
                                                 chunk_frames=300)
    assert n_samples == len(whole)
    np.testing.assert_array_equal(logmel, musicnn.log_mel(whole))  # float64 spectra, then one rounding


def test_embed_max_seconds_cuts_the_audio_and_is_part_of_the_fingerprint(tmp_path: Path) -> None:
    root = make_info_csv_dataset(tmp_path / "data", [{"id": "a", "audio_filename": "a.wav", "midi_filename": ""}])
    sf.write(root / "a.wav", music_like(6.0, 22050, channels=1)[:, 0], 22050)
    store_path = tmp_path / "s.h5"
    report = embed_dataset(root, store_path, ["audio-stats"], max_seconds=2.0, workers=0)
    assert report.runs[0].embedded == 1
    record = Store(store_path).encoders[0]
    assert record.fingerprint["max_seconds"] == 2.0 and record.input_seconds == pytest.approx(2.0)
    again = embed_dataset(root, store_path, ["audio-stats"], max_seconds=2.0, workers=0)
    assert again.runs[0].skipped == 1  # the same cut: resumed
    whole = embed_dataset(root, store_path, ["audio-stats"], workers=0)
    assert whole.runs[0].embedded == 1  # another cut: embedded again, not mixed
    record = Store(store_path).encoders[0]
    assert "max_seconds" not in record.fingerprint and record.input_seconds == pytest.approx(6.0)
