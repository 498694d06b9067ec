"""``audio-stats``: a named vector of classic librosa descriptors of an audio file.

No model, no weights. Per STFT frame (``n_fft`` 2048, hop 512 samples: 23 ms at 22.05 kHz)
it computes a *base* descriptor:

* ``logmel_00..`` — log-mel band energies in dB (power, reference 1.0, floor -100 dB),
* ``mfcc_00..`` and ``mfcc_delta_00..`` — MFCCs of those log-mel bands and their deltas
  (9-frame Savitzky-Golay, edges held),
* ``chroma_C..B`` — STFT chroma, tuned to A = 440 Hz (each frame scaled to max 1),
* ``spectral_contrast_0..6`` — octave-band peak/valley contrast in dB (from 200 Hz up),
* ``onset_strength`` — spectral flux of a 128-band log-mel spectrogram,
* ``spectral_centroid_hz``, ``spectral_bandwidth_hz``, ``spectral_rolloff_hz`` (85 %),
  ``spectral_flatness``, ``zero_crossing_rate``, ``rms``.

Stored vectors are ``<base>_mean`` and ``<base>_std`` of those frame descriptors, followed by
a tempo summary of the onset-strength autocorrelation tempogram (8-s window):
``tempo_bpm`` (librosa's estimate: the peak weighted by a log-normal prior around 120 BPM),
``pulse_clarity`` (the tempogram's highest value between 30 and 300 BPM, 1 = perfectly
periodic onsets) and ``tempogram_band_LO_HI`` (mean autocorrelation in BPM bands).

* **Frames** are blocks of ``hop`` seconds (default 0.5 s, so 2 vectors per second
  instead of 43 — the store stays small): the mean and std of the base descriptors over the
  STFT frames in the block, and the tempo summary of the block's mean tempogram (each
  tempogram column already looks 8 s around it). Stamped at the block centre.
* **Pooled** is the same computation over the whole file (mean and std over all STFT frames,
  tempo summary of the mean tempogram), not the mean of the block vectors.

Speed: one STFT feeds every spectral descriptor; the spectral shape, the zero-crossing rate
and the spectral contrast are computed from what is already there (:func:`spectral_shape`,
:func:`zero_crossing_rate`, :func:`spectral_contrast`) rather than by librosa's functions, each
of which normalises, frames or copies the whole input again; both mel banks are one product; the
tempogram is averaged over each block in the frequency domain (:func:`tempogram_means`), one
inverse FFT per block instead of one per frame. :func:`reference_frame_descriptors` and
:func:`reference_tempogram_means` keep the one-librosa-function-per-descriptor version: the
numbers agree within 1e-6 of each descriptor's scale (rolloff, zero-crossing rate and contrast
bit for bit, the tempograms within 1e-12), with single-threaded BLAS. The descriptors and their
summaries are computed in :meth:`AudioStatsEncoder.prepare_waveform`, where the runner reads
files, so the local engine's reading processes spread them over every core and only the block
vectors travel back. ``benchmarks/audio_stats_throughput.py`` compares it with decoding alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, ClassVar, Iterable, Sequence

import numpy as np

from counterpoint.encoders.base import AudioEncoder, Embedding, Parameter, batch_size_parameter
from counterpoint.encoders.streaming import FrameChunk, frame_chunks
from counterpoint.blas import single_threaded_blas
from counterpoint.errors import EncoderError

N_FFT = 2048
HOP_LENGTH = 512
#: Seconds of onset strength each tempogram column autocorrelates (librosa's default).
TEMPOGRAM_SECONDS = 8.0
#: BPM bands of the tempogram summary.
TEMPO_BANDS = ((30, 60), (60, 90), (90, 120), (120, 180), (180, 300))
PULSE_RANGE_BPM = (30.0, 300.0)
PITCH_CLASS_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
CONTRAST_BANDS = 6
#: Lower edge in Hz of the second contrast band (the first is 0 Hz up to it) and the share of each
#: band's bins averaged as its peak and its valley (librosa's defaults).
CONTRAST_FMIN = 200.0
CONTRAST_QUANTILE = 0.02
#: Onset strength is computed on this many mel bands (librosa's default), whatever ``n_mels``.
ONSET_MELS = 128
DB_FLOOR = 1e-10  # -100 dB
ROLL_PERCENT = 0.85
#: Samples within this of 0 count as positive in the zero-crossing rate (librosa's default).
ZERO_THRESHOLD = 1e-10
#: STFT frames computed at a time when a file is streamed, and tempogram frames at a time (about 95 s
#: at 22.05 kHz); a file shorter than about one chunk is computed whole, as :func:`frame_descriptors` does.
CHUNK_FRAMES = 4096
#: Frames a chunk needs on each side of its own: the MFCC delta's 9-frame window.
DELTA_CONTEXT = 4


def base_feature_names(n_mels: int, n_mfcc: int) -> list[str]:
    """Names of the per-STFT-frame descriptors, in order."""
    names = [f"logmel_{i:02d}" for i in range(n_mels)]
    names += [f"mfcc_{i:02d}" for i in range(n_mfcc)] + [f"mfcc_delta_{i:02d}" for i in range(n_mfcc)]
    names += [f"chroma_{p}" for p in PITCH_CLASS_NAMES]
    names += [f"spectral_contrast_{i}" for i in range(CONTRAST_BANDS + 1)]
    names += ["onset_strength", "spectral_centroid_hz", "spectral_bandwidth_hz", "spectral_rolloff_hz",
              "spectral_flatness", "zero_crossing_rate", "rms"]
    return names


TEMPO_FEATURE_NAMES = ["tempo_bpm", "pulse_clarity"] + [f"tempogram_band_{lo}_{hi}" for lo, hi in TEMPO_BANDS]


def feature_names(n_mels: int, n_mfcc: int) -> list[str]:
    """Names of the stored dimensions: base means, base stds, tempo summary."""
    base = base_feature_names(n_mels, n_mfcc)
    return [f"{b}_mean" for b in base] + [f"{b}_std" for b in base] + TEMPO_FEATURE_NAMES


@dataclass(frozen=True)
class FrameDescriptors:
    """Per-STFT-frame descriptors of one file: ``base`` ``[T, B]``, the onset-strength envelope
    ``[T]`` the tempograms are computed from, and the frame times in seconds ``[T]``."""

    base: np.ndarray
    onset: np.ndarray
    times: np.ndarray
    duration: float
    sample_rate: int


#: Mean tempograms of blocks of frames: ``(onset [T], sample rate, first frame of each block [K])`` →
#: ``(block means [L, K], mean over all frames [L])`` (:func:`tempogram_means`, :func:`reference_tempogram_means`).
TempogramMeans = Callable[[np.ndarray, int, np.ndarray], tuple[np.ndarray, np.ndarray]]


@lru_cache(maxsize=8)
def _mel_basis(sample_rate: int, n_mels: int) -> np.ndarray:
    """Slaney mel filter bank ``[n_mels, 1 + N_FFT // 2]`` (librosa's default), built once."""
    import librosa

    return librosa.filters.mel(sr=sample_rate, n_fft=N_FFT, n_mels=n_mels).astype(np.float32)


@lru_cache(maxsize=8)
def _mel_bases(sample_rate: int, n_mels: int) -> np.ndarray:
    """The log-mel bands' filters, then the onset strength's :data:`ONSET_MELS`, stacked: one product
    gives both (each output row is the same sum as from its own bank)."""
    return np.concatenate([_mel_basis(sample_rate, n_mels), _mel_basis(sample_rate, ONSET_MELS)])


@lru_cache(maxsize=8)
def _chroma_basis(sample_rate: int) -> np.ndarray:
    """librosa's STFT chroma filters ``[12, 1 + N_FFT // 2]`` tuned to A = 440 Hz, built once."""
    import librosa

    return librosa.filters.chroma(sr=sample_rate, n_fft=N_FFT, tuning=0.0)


def frame_descriptors(waveform: np.ndarray, sample_rate: int, *, n_mels: int, n_mfcc: int) -> FrameDescriptors:
    """Compute every per-frame descriptor from one STFT of a mono waveform.

    The numbers are those of :func:`reference_frame_descriptors` (one librosa function per
    descriptor) within float64 rounding; the spectral shape (:func:`spectral_shape`) and the
    zero-crossing rate (:func:`zero_crossing_rate`) are computed here from quantities the
    other descriptors already need, instead of a pass of their own over the spectrogram; both
    mel banks are one product, the chroma filters are built once, and the spectral contrast
    (:func:`spectral_contrast`) sorts each band where it lies in memory.

    The products run on one BLAS thread (:mod:`counterpoint.blas`): OpenBLAS splits a
    matrix product differently for more threads, so the last bits of the numbers would depend on
    the machine's core count (and differ between a laptop and a Ray worker, which gets one thread
    per CPU it reserves).
    """
    with single_threaded_blas():
        return _one_stft_descriptors(waveform, sample_rate, n_mels, n_mfcc)


def _one_stft_descriptors(waveform: np.ndarray, sample_rate: int, n_mels: int, n_mfcc: int) -> FrameDescriptors:
    import librosa

    duration = waveform.size / sample_rate
    y = waveform if waveform.size >= N_FFT else np.pad(waveform, (0, N_FFT - waveform.size))
    magnitude = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP_LENGTH))
    power = magnitude**2
    mels = _mel_bases(sample_rate, n_mels) @ power
    logmel, mfcc, mfcc_delta, onset = _mel_descriptors(mels[:n_mels], mels[n_mels:], sample_rate, n_mfcc)
    chroma = librosa.util.normalize(_chroma_basis(sample_rate) @ power, norm=np.inf, axis=-2)
    contrast = spectral_contrast(magnitude, sample_rate)
    spectral = [
        spectral_shape(magnitude, sample_rate),
        librosa.feature.spectral_flatness(S=power, power=1.0),  # = flatness of the magnitude at power 2
        zero_crossing_rate(y),
        librosa.feature.rms(y=y, frame_length=N_FFT, hop_length=HOP_LENGTH),
    ]
    return _frame_descriptors(y, [logmel, mfcc, mfcc_delta, chroma, contrast], onset, spectral, duration, sample_rate)


def reference_frame_descriptors(waveform: np.ndarray, sample_rate: int, *, n_mels: int,
                                n_mfcc: int) -> FrameDescriptors:
    """:func:`frame_descriptors` with every descriptor from its own librosa function (code version 1).

    The definition the fast path is checked against (``tests/test_audio_stats.py``) and timed
    against (``benchmarks/audio_stats_throughput.py``).
    """
    import librosa

    duration = waveform.size / sample_rate
    y = waveform if waveform.size >= N_FFT else np.pad(waveform, (0, N_FFT - waveform.size))
    magnitude = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP_LENGTH))
    power = magnitude**2
    logmel, mfcc, mfcc_delta, onset = _mel_descriptors(_mel_basis(sample_rate, n_mels) @ power,
                                                       _mel_basis(sample_rate, ONSET_MELS) @ power, sample_rate, n_mfcc)
    chroma = librosa.feature.chroma_stft(S=power, sr=sample_rate, n_fft=N_FFT, tuning=0.0)
    contrast = librosa.feature.spectral_contrast(S=magnitude, sr=sample_rate, n_fft=N_FFT, n_bands=CONTRAST_BANDS)
    centroid = librosa.feature.spectral_centroid(S=magnitude, sr=sample_rate, n_fft=N_FFT)
    spectral = [
        centroid,
        librosa.feature.spectral_bandwidth(S=magnitude, sr=sample_rate, n_fft=N_FFT, centroid=centroid),
        librosa.feature.spectral_rolloff(S=magnitude, sr=sample_rate, n_fft=N_FFT, roll_percent=ROLL_PERCENT),
        librosa.feature.spectral_flatness(S=magnitude),
        librosa.feature.zero_crossing_rate(y, frame_length=N_FFT, hop_length=HOP_LENGTH),
        librosa.feature.rms(y=y, frame_length=N_FFT, hop_length=HOP_LENGTH),
    ]
    return _frame_descriptors(y, [logmel, mfcc, mfcc_delta, chroma, contrast], onset, spectral, duration, sample_rate)


def _mel_descriptors(mel_power: np.ndarray, onset_mel_power: np.ndarray, sample_rate: int,
                     n_mfcc: int) -> tuple[np.ndarray, ...]:
    """Log-mel, MFCC, MFCC delta ``[*, T]`` and onset strength ``[T]`` from the two mel power spectrograms."""
    import librosa

    logmel = librosa.power_to_db(mel_power, ref=1.0, amin=DB_FLOOR, top_db=None)
    mfcc = librosa.feature.mfcc(S=logmel, n_mfcc=n_mfcc)
    mfcc_delta = librosa.feature.delta(mfcc, width=9, mode="nearest")
    onset = librosa.onset.onset_strength(S=librosa.power_to_db(onset_mel_power), sr=sample_rate, hop_length=HOP_LENGTH)
    return logmel, mfcc, mfcc_delta, onset


def _frame_descriptors(y: np.ndarray, spectral_rows: list[np.ndarray], onset: np.ndarray, shape_rows: list[np.ndarray],
                       duration: float, sample_rate: int) -> FrameDescriptors:
    """The :class:`FrameDescriptors` of stacked descriptor rows (base order) and the onset envelope."""
    import librosa

    frames = spectral_rows[0].shape[1]
    base = np.concatenate([*spectral_rows, onset[None, :frames], *(s[:, :frames] for s in shape_rows)], axis=0).T
    times = librosa.frames_to_time(np.arange(frames), sr=sample_rate, hop_length=HOP_LENGTH)
    return FrameDescriptors(base=base, onset=onset[:frames], times=times, duration=duration, sample_rate=sample_rate)


def spectral_contrast(magnitude: np.ndarray, sample_rate: int) -> np.ndarray:
    """``librosa.feature.spectral_contrast(S=magnitude, sr=sample_rate, n_fft=N_FFT, n_bands=CONTRAST_BANDS)``
    ``[CONTRAST_BANDS + 1, T]``, the same numbers.

    librosa copies each octave band out of the spectrogram and sorts the copy across its rows;
    here each band is sorted where it lies (the STFT is frequency-major, so a band of one column is
    contiguous), and only the few smallest and largest values, put back in librosa's layout, are
    averaged, so the means add up in librosa's order.
    """
    import librosa

    peak, valley = contrast_extremes(magnitude, sample_rate)
    return librosa.power_to_db(peak) - librosa.power_to_db(valley)


def contrast_extremes(magnitude: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Each octave band's peak and valley ``[CONTRAST_BANDS + 1, T]`` per frame (:func:`spectral_contrast`
    takes their dB, which is clipped 80 dB under the file's loudest, so a streamed file keeps them)."""
    import librosa

    freq = librosa.fft_frequencies(sr=sample_rate, n_fft=N_FFT)
    edges = np.zeros(CONTRAST_BANDS + 2)
    edges[1:] = CONTRAST_FMIN * 2.0 ** np.arange(CONTRAST_BANDS + 1)
    valley = np.zeros((CONTRAST_BANDS + 1, magnitude.shape[1]))
    peak = np.zeros_like(valley)
    for k, (low, high) in enumerate(zip(edges[:-1], edges[1:])):
        inside = np.flatnonzero((freq >= low) & (freq <= high))
        first = inside[0] - 1 if k > 0 else inside[0]  # librosa widens each band by the bin below it
        end = freq.size if k == CONTRAST_BANDS else inside[-1] + 1  # and the last one to the top bin
        extreme = int(max(np.rint(CONTRAST_QUANTILE * (end - first)), 1))
        ordered = np.sort(magnitude[first:end if k == CONTRAST_BANDS else end - 1], axis=0)  # minus its top bin
        valley[k] = np.mean(np.ascontiguousarray(ordered[:extreme]), axis=0)
        peak[k] = np.mean(np.ascontiguousarray(ordered[-extreme:]), axis=0)
    return peak, valley


def spectral_shape(magnitude: np.ndarray, sample_rate: int) -> np.ndarray:
    """Spectral centroid, bandwidth and 85 % rolloff in Hz ``[3, T]`` of a magnitude spectrogram ``[1 + N_FFT // 2, T]``.

    librosa's definitions (``spectral_centroid``, ``spectral_bandwidth`` with p = 2,
    ``spectral_rolloff``), computed together: centroid and bandwidth from three float64 moments
    of each column (one matrix product; bandwidth² = E[f²] − centroid²), rolloff from the same
    float32 cumulative sum librosa takes — the lowest bin holding 85 % of the column's magnitude.
    Each of librosa's functions normalises or sums the whole spectrogram again. The running sum is
    advanced one frequency row at a time for all columns together (the same additions in the same
    order as ``np.cumsum`` down each frequency-major column, which cannot be vectorised).
    """
    import librosa

    freq = librosa.fft_frequencies(sr=sample_rate, n_fft=N_FFT)
    moments = np.stack([np.ones_like(freq), freq, freq**2]) @ magnitude.astype(np.float64)
    total = np.where(moments[0] < np.finfo(magnitude.dtype).tiny, 1.0, moments[0])  # silent columns: 0 Hz, as librosa
    centroid = moments[1] / total
    bandwidth = np.sqrt(np.maximum(moments[2] / total - centroid**2, 0.0))
    cumulative = np.array(magnitude, order="C")
    for row in range(1, cumulative.shape[0]):
        np.add(cumulative[row - 1], cumulative[row], out=cumulative[row])
    # The first bin reaching the threshold is the number below it: magnitudes are ≥ 0, so the sums never decrease.
    rolloff = freq[np.count_nonzero(cumulative < ROLL_PERCENT * cumulative[-1], axis=0)]
    return np.stack([centroid, bandwidth, rolloff])


def zero_crossing_rate(y: np.ndarray) -> np.ndarray:
    """``librosa.feature.zero_crossing_rate(y, frame_length=N_FFT, hop_length=HOP_LENGTH)`` ``[1, T]``,
    from one pass over the signal instead of one per overlapping frame.

    As librosa: the signal is edge-padded by half a frame at each end, samples within 1e-10
    of 0 count as positive, and each frame's rate is the number of sign changes between its
    consecutive samples divided by its length. Here the changes are counted once, by a
    cumulative sum over the whole signal, and each frame takes the difference at its ends.
    """
    return framed_zero_crossing_rate(np.pad(y, N_FFT // 2, mode="edge"))


def framed_zero_crossing_rate(padded: np.ndarray) -> np.ndarray:
    """:func:`zero_crossing_rate` ``[1, T]`` of a signal already edge-padded by half a frame at each end
    (or a stretch of one: the frames starting every :data:`HOP_LENGTH` samples of it)."""
    negative = np.signbit(padded) & (np.abs(padded) > np.asarray(ZERO_THRESHOLD, dtype=padded.dtype))
    changes_before = np.concatenate([[0], np.cumsum(negative[1:] != negative[:-1])])  # [k]: changes at samples 1..k
    starts = np.arange(1 + (padded.size - N_FFT) // HOP_LENGTH) * HOP_LENGTH
    return ((changes_before[starts + N_FFT - 1] - changes_before[starts]) / N_FFT)[None, :]


def tempo_summary(tempograms: np.ndarray, sample_rate: int) -> np.ndarray:
    """Tempo summary ``[N, len(TEMPO_FEATURE_NAMES)]`` of ``N`` tempogram columns ``[L, N]``."""
    import librosa

    bpm = librosa.tempo_frequencies(tempograms.shape[0], sr=sample_rate, hop_length=HOP_LENGTH)
    tempo = librosa.feature.tempo(tg=tempograms, sr=sample_rate, hop_length=HOP_LENGTH, aggregate=None)
    pulse_lags = (bpm >= PULSE_RANGE_BPM[0]) & (bpm <= PULSE_RANGE_BPM[1])
    columns = [tempo, tempograms[pulse_lags].max(axis=0)]
    for lo, hi in TEMPO_BANDS:
        columns.append(tempograms[(bpm >= lo) & (bpm < hi)].mean(axis=0))
    return np.stack(columns, axis=1)


def _tempogram_window(sample_rate: int) -> int:
    """Onset frames each tempogram column autocorrelates (:data:`TEMPOGRAM_SECONDS`)."""
    import librosa

    return int(librosa.time_to_frames(TEMPOGRAM_SECONDS, sr=sample_rate, hop_length=HOP_LENGTH))


def tempogram_means(onset: np.ndarray, sample_rate: int, heads: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean tempogram of each block of frames starting at ``heads`` ``[L, K]`` and of all frames ``[L]``.

    The means of librosa's autocorrelation tempogram (:func:`reference_tempogram_means`) within
    float64 rounding, without the per-frame tempogram. Its column t is the autocorrelation of the
    Hann-windowed :data:`TEMPOGRAM_SECONDS` of onset strength centred on frame t, divided by its
    lag-0 value (the stretch's energy). An autocorrelation is the inverse FFT of a power spectrum,
    which is linear, so a block's mean column is the inverse FFT of the mean of its frames' power
    spectra, each divided by its stretch's energy: one inverse FFT per block instead of one per frame.
    """
    import scipy.fft
    import scipy.signal

    window = _tempogram_window(sample_rate)
    padded = np.pad(onset, window // 2, mode="linear_ramp", end_values=[0, 0])  # librosa's centring
    every_stretch = np.lib.stride_tricks.sliding_window_view(padded, window)[:onset.size]
    hann = scipy.signal.get_window("hann", window, fftbins=True)
    n_fft = scipy.fft.next_fast_len(2 * window - 1, real=True)  # no wrap-around, as librosa.autocorrelate
    counts = np.append(np.diff(np.append(heads, onset.size)), onset.size)
    block_of_frame = np.repeat(np.arange(heads.size), counts[:-1])
    sums = np.zeros((heads.size + 1, n_fft // 2 + 1))
    for first in range(0, onset.size, CHUNK_FRAMES):  # a chunk of frames at a time: memory of one chunk
        stretches = every_stretch[first:first + CHUNK_FRAMES] * hann
        spectra = scipy.fft.rfft(stretches, n=n_fft, axis=1)
        power = spectra.real**2 + spectra.imag**2
        energy = np.einsum("ij,ij->i", stretches, stretches)
        power /= np.where(energy < np.finfo(energy.dtype).tiny, 1.0, energy)[:, None]  # silence stays 0, as in librosa
        blocks = block_of_frame[first:first + CHUNK_FRAMES]
        starts = np.flatnonzero(np.diff(blocks, prepend=-1))
        sums[blocks[starts]] += np.add.reduceat(power, starts, axis=0)
        sums[-1] += power.sum(axis=0)
    means = scipy.fft.irfft(sums, n=n_fft, axis=1)[:, :window] / counts[:, None]
    return means[:-1].T, means[-1]


def reference_tempogram_means(onset: np.ndarray, sample_rate: int, heads: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`tempogram_means` from librosa's per-frame tempogram, averaged (code version 1): the
    definition the fast path is checked against."""
    import librosa

    tempogram = librosa.feature.tempogram(onset_envelope=onset, sr=sample_rate, hop_length=HOP_LENGTH,
                                          win_length=_tempogram_window(sample_rate))
    counts = np.diff(np.append(heads, onset.size))
    return np.add.reduceat(tempogram, heads, axis=1) / counts, tempogram.mean(axis=1)


def summarise(frames: FrameDescriptors, hop: float,
              mean_tempograms: TempogramMeans = tempogram_means) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(block vectors ``[K, D]``, block centre times ``[K]`` s, pooled vector ``[D]``).

    Blocks start every ``hop`` seconds up to the last STFT frame, so each holds frames
    (hop ≥ 0.1 s is far above the 23-ms frame spacing); a file's last few milliseconds
    past the last frame centre belong to the last block.
    """
    block_of_frame = (frames.times / hop + 1e-9).astype(int)
    starts = np.arange(block_of_frame[-1] + 1) * hop
    counts = np.bincount(block_of_frame, minlength=starts.size).astype(float)[:, None]
    heads = np.searchsorted(block_of_frame, np.arange(starts.size))
    base = frames.base.astype(np.float64)
    mean = np.add.reduceat(base, heads, axis=0) / counts
    square = np.add.reduceat(base**2, heads, axis=0) / counts
    std = np.sqrt(np.maximum(square - mean**2, 0.0))
    block_tempograms, whole_tempogram = mean_tempograms(frames.onset, frames.sample_rate, heads)
    blocks = np.concatenate([mean, std, tempo_summary(block_tempograms, frames.sample_rate)], axis=1)
    pooled = np.concatenate([base.mean(axis=0), base.std(axis=0),
                             tempo_summary(whole_tempogram[:, None], frames.sample_rate)[0]])
    return blocks, block_centres(starts, hop, frames.duration), pooled


def block_of_frames(frames: np.ndarray, sample_rate: int, hop: float) -> np.ndarray:
    """The ``hop``-second block each STFT frame (by index) falls in."""
    import librosa

    return (librosa.frames_to_time(frames, sr=sample_rate, hop_length=HOP_LENGTH) / hop + 1e-9).astype(int)


def block_centres(starts: np.ndarray, hop: float, duration: float) -> np.ndarray:
    """Centre times (s) of blocks starting at ``starts``, the last one ending with the file."""
    return (starts + np.minimum(starts + hop, duration)) / 2


def _chunk_descriptors(chunk: FrameChunk, sample_rate: int, n_mels: int,
                       n_mfcc: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One chunk's base descriptors ``[frames, B]`` with the spectral contrast and onset columns left
    NaN (they are clipped 80 dB under the file's loudest, known at its end), the onset-strength mel bands
    in dB unclipped ``[ONSET_MELS, frames]``, and the contrast bands' peaks and valleys ``[7, frames]``;
    each descriptor by the same code as :func:`frame_descriptors`."""
    import librosa

    inner = slice(chunk.first - chunk.context_first, chunk.stop - chunk.context_first)
    with single_threaded_blas():
        magnitude = np.abs(librosa.stft(chunk.samples, n_fft=N_FFT, hop_length=HOP_LENGTH, center=False))
        power = magnitude**2
        mels = _mel_bases(sample_rate, n_mels) @ power
        logmel = librosa.power_to_db(mels[:n_mels], ref=1.0, amin=DB_FLOOR, top_db=None)
        mfcc = librosa.feature.mfcc(S=logmel, n_mfcc=n_mfcc)
        mfcc_delta = librosa.feature.delta(mfcc, width=9, mode="nearest")
        onset_db = librosa.power_to_db(mels[n_mels:, inner], top_db=None)
        magnitude, power = magnitude[:, inner], power[:, inner]
        chroma = librosa.util.normalize(_chroma_basis(sample_rate) @ power, norm=np.inf, axis=-2)
        peak, valley = contrast_extremes(magnitude, sample_rate)
        later = np.full((CONTRAST_BANDS + 2, magnitude.shape[1]), np.nan)
        rows = [logmel[:, inner], mfcc[:, inner], mfcc_delta[:, inner], chroma, later, spectral_shape(magnitude, sample_rate),
                librosa.feature.spectral_flatness(S=power, power=1.0),
                framed_zero_crossing_rate(chunk.edge_samples)[:, inner],
                librosa.feature.rms(y=chunk.samples, frame_length=N_FFT, hop_length=HOP_LENGTH, center=False)[:, inner]]
    return np.concatenate(rows, axis=0).T, onset_db, peak, valley


def _onset_strength(onset_db: list[np.ndarray]) -> np.ndarray:
    """``librosa.onset.onset_strength(S=power_to_db(mel power))`` ``[T]`` from the unclipped dB of every
    chunk: clipped 80 dB under the loudest, the mean rise of each band from the frame before, delayed by
    3 frames (librosa's lag 1 and centring), a chunk at a time."""
    floor = max(float(chunk.max()) for chunk in onset_db) - 80.0
    previous, rises = None, []
    for chunk in onset_db:
        clipped = np.maximum(chunk, np.asarray(floor, dtype=chunk.dtype))
        joined = clipped if previous is None else np.concatenate([previous, clipped], axis=1)
        rises.append(np.mean(np.maximum(0.0, joined[:, 1:] - joined[:, :-1]), axis=0))
        previous = clipped[:, -1:]
    rise = np.concatenate(rises)
    return np.concatenate([np.zeros(3, dtype=rise.dtype), rise])[:rise.size + 1]


def streamed_summary(pieces: Iterable[np.ndarray], sample_rate: int, *, n_mels: int, n_mfcc: int, hop: float,
                     chunk_frames: int = CHUNK_FRAMES) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """:func:`summarise` of :func:`frame_descriptors` of the waveform ``pieces`` make (mono float32 blocks at
    ``sample_rate``), without holding it: (block vectors, block centres, pooled vector, duration in s).

    Frames are computed :data:`CHUNK_FRAMES` at a time (:func:`counterpoint.encoders.streaming.frame_chunks`)
    and summed per block and over the file; the descriptors clipped under the file's loudest (spectral
    contrast, onset strength) keep a few numbers per frame until the end. A file of about one chunk or
    less is computed whole, with :func:`frame_descriptors`. The numbers agree with the whole file's to
    float64 rounding of the sums (each frame's descriptors are the same computation).
    """
    block_sums, onset_db, peaks, valleys = [], [], [], []
    count, mean, spread = 0, 0.0, 0.0
    length = 0
    for chunk in frame_chunks(pieces, n_fft=N_FFT, hop=HOP_LENGTH, chunk_frames=chunk_frames, context=DELTA_CONTEXT):
        if chunk.whole is not None:
            frames = frame_descriptors(chunk.whole, sample_rate, n_mels=n_mels, n_mfcc=n_mfcc)
            blocks, centres, pooled = summarise(frames, hop)
            return blocks, centres, pooled, frames.duration
        base, onset, peak, valley = _chunk_descriptors(chunk, sample_rate, n_mels, n_mfcc)
        blocks_of = block_of_frames(np.arange(chunk.first, chunk.stop), sample_rate, hop)
        heads = np.flatnonzero(np.diff(blocks_of, prepend=-1))
        block_sums.append((blocks_of[heads], np.add.reduceat(base, heads, axis=0), np.add.reduceat(base**2, heads, axis=0),
                           np.diff(np.append(heads, len(base)))))
        # the whole file's mean and spread, chunks merged as Chan, Golub & LeVeque do
        chunk_mean = base.mean(axis=0)
        chunk_spread = ((base - chunk_mean) ** 2).sum(axis=0)
        delta = chunk_mean - mean
        merged = count + len(base)
        mean, spread = mean + delta * len(base) / merged, spread + chunk_spread + delta**2 * count * len(base) / merged
        count = merged
        onset_db.append(onset)
        peaks.append(peak)
        valleys.append(valley)
        length = chunk.length or length
    import librosa

    ids = np.concatenate([b[0] for b in block_sums])
    heads = np.flatnonzero(np.diff(ids, prepend=-1))  # a block cut by a chunk's end appears twice
    sums, squares, counts = (np.add.reduceat(np.concatenate([b[i] for b in block_sums]), heads, axis=0) for i in (1, 2, 3))
    onset_strength = _onset_strength(onset_db)
    later = np.column_stack([(librosa.power_to_db(np.concatenate(peaks, axis=1))
                              - librosa.power_to_db(np.concatenate(valleys, axis=1))).T, onset_strength])
    columns = slice(n_mels + 2 * n_mfcc + 12, n_mels + 2 * n_mfcc + 12 + CONTRAST_BANDS + 2)
    frame_heads = np.searchsorted(block_of_frames(np.arange(count), sample_rate, hop), ids[heads])
    sums[:, columns] = np.add.reduceat(later, frame_heads, axis=0)
    squares[:, columns] = np.add.reduceat(later**2, frame_heads, axis=0)
    mean[columns], spread[columns] = later.mean(axis=0), later.var(axis=0) * count
    block_mean = sums / counts[:, None]
    block_std = np.sqrt(np.maximum(squares / counts[:, None] - block_mean**2, 0.0))
    block_tempograms, whole_tempogram = tempogram_means(onset_strength, sample_rate, frame_heads)
    blocks = np.concatenate([block_mean, block_std, tempo_summary(block_tempograms, sample_rate)], axis=1)
    pooled = np.concatenate([mean, np.sqrt(spread / count), tempo_summary(whole_tempogram[:, None], sample_rate)[0]])
    duration = length / sample_rate
    return blocks, block_centres(np.arange(len(blocks)) * hop, hop, duration), pooled, duration


class AudioStatsEncoder(AudioEncoder):
    """Classic librosa descriptors (log-mel, MFCC, chroma, contrast, onsets, tempogram),
    summarised per ``hop`` block and over the whole file."""

    name: ClassVar[str] = "audio-stats"
    description: ClassVar[str] = ("named librosa descriptors: log-mel, MFCC+delta, chroma, spectral contrast and shape, "
                                  "onset strength (mean/std) and a tempogram summary; per block and whole file")
    parameters: ClassVar[dict[str, Parameter]] = {
        "sample_rate": Parameter(22050, "sample rate in Hz the audio is resampled to",
                                 choices=(16000, 22050, 32000, 44100, 48000)),
        "hop": Parameter(0.5, "seconds per stored frame (block of STFT frames summarised by mean/std)", low=0.1,
                         formerly="frame_hop"),
        "n_mels": Parameter(40, "number of log-mel bands (also the MFCC input)", low=8, high=256),
        "n_mfcc": Parameter(20, "number of MFCCs, at most n_mels", low=2, high=256),
        "batch_size": batch_size_parameter(8),
    }
    code_version: ClassVar[str] = "1"
    prepare_imports: ClassVar[tuple[str, ...]] = ("soundfile", "soxr", "librosa.core", "librosa.feature", "librosa.onset")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        if int(self.params["n_mfcc"]) > int(self.params["n_mels"]):  # a relation between two parameters, not a range
            raise EncoderError(f"encoder {self.name}: n_mfcc={self.params['n_mfcc']} is more than n_mels="
                               f"{self.params['n_mels']} — the MFCCs are computed from the log-mel bands")

    @property
    def dim(self) -> int:
        return len(self.feature_names())

    def feature_names(self) -> list[str]:
        return feature_names(int(self.params["n_mels"]), int(self.params["n_mfcc"]))

    @property
    def sample_rate(self) -> int:
        return int(self.params["sample_rate"])

    def prepare_waveform(self, waveform: np.ndarray, source: str) -> Embedding:
        """The whole embedding, computed where the runner reads files: the local engine's reading
        processes spread it over every core, and only the block vectors travel back to the writer."""
        return self.summarised(frame_descriptors(np.asarray(waveform, dtype=np.float32), self.sample_rate,
                                                 n_mels=int(self.params["n_mels"]), n_mfcc=int(self.params["n_mfcc"])))

    def prepare_stream(self, pieces: Iterable[np.ndarray], source: str) -> Embedding:
        """:meth:`prepare_waveform` of a file read in pieces, computed a chunk of frames at a time
        (:func:`streamed_summary`): memory of one chunk, whatever the file's length."""
        blocks, centres, pooled, duration = streamed_summary(pieces, self.sample_rate,
                                                             n_mels=int(self.params["n_mels"]),
                                                             n_mfcc=int(self.params["n_mfcc"]),
                                                             hop=float(self.params["hop"]))
        return Embedding(frames=blocks, timestamps=centres, pooled=pooled, duration=duration)

    def embed_prepared(self, inputs: Sequence[Embedding]) -> list[Embedding]:
        return list(inputs)

    def summarised(self, frames: FrameDescriptors, mean_tempograms: TempogramMeans = tempogram_means) -> Embedding:
        """Blocks of ``hop`` seconds and the pooled vector of one file's frame descriptors."""
        blocks, centres, pooled = summarise(frames, float(self.params["hop"]), mean_tempograms)
        return Embedding(frames=blocks, timestamps=centres, pooled=pooled, duration=frames.duration)

    def embed_waveform(self, waveform: np.ndarray) -> Embedding:
        """Blocks and pooled vector of a mono waveform at this encoder's sample rate."""
        return self.prepare_waveform(waveform, "waveform")
