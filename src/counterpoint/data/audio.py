"""Reading audio files into mono float32 waveforms at the rate an encoder wants.

Decoding goes through ``librosa.load`` (soundfile for WAV/FLAC/OGG/MP3, resampling with
soxr at high quality), which is what the reference implementations of musicnn and others
use, so our inputs match theirs sample for sample. An encoder whose reference resamples
otherwise passes its own ``resampler`` (:mod:`counterpoint.data.resample`).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from counterpoint.data.resample import Resampler
from counterpoint.errors import TrackError

#: Peak amplitude below which a file counts as silent (about -100 dBFS).
SILENCE_PEAK = 1e-5


def load_audio(path: str | Path, sample_rate: int | None, track_id: str | None = None,
               resampler: Resampler | None = None) -> np.ndarray:
    """Decode ``path`` to a mono float32 waveform at ``sample_rate`` Hz (None: the file's own rate).

    ``resampler`` brings a file at another rate to ``sample_rate`` (default: soxr, as librosa does).

    Raises :class:`TrackError` naming the file when it cannot be decoded, holds no samples,
    or is silent (an encoder's output on silence says nothing about the music).
    """
    import librosa

    path = Path(path)
    who = f"track {track_id!r} ({path})" if track_id else str(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # audioread fallback warnings are noise here
            waveform, file_rate = librosa.load(path, sr=None if resampler is not None else sample_rate, mono=True)
    except Exception as exc:  # decoders raise many unrelated types
        raise TrackError(f"{who}: cannot decode audio ({type(exc).__name__}: {exc}) — "
                         "check the file plays, or convert it to WAV/FLAC") from exc
    if waveform.size == 0:
        raise TrackError(f"{who}: the audio file holds no samples — replace it or remove the track")
    if resampler is not None and sample_rate is not None:
        try:
            waveform = resampler(waveform, int(file_rate), sample_rate)
        except ValueError as exc:  # resampy: too few samples to resample
            raise TrackError(f"{who}: cannot resample {file_rate} Hz to {sample_rate} Hz ({exc}) — "
                             "the file is too short; replace it or remove the track") from exc
    if not np.all(np.isfinite(waveform)):
        raise TrackError(f"{who}: the audio holds NaN or infinite samples — re-export the file")
    if float(np.max(np.abs(waveform))) < SILENCE_PEAK:
        raise TrackError(f"{who}: the audio is silent (peak below {SILENCE_PEAK:g}) — replace it or remove the track")
    return waveform.astype(np.float32, copy=False)


def audio_duration(path: str | Path) -> float:
    """Length of an audio file in seconds, read from its header when possible."""
    import librosa

    return float(librosa.get_duration(path=str(path)))
