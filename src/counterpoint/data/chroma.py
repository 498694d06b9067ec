"""Chroma features of an audio file and of a MIDI file at one frame rate, for aligning the two in time.

Both give ``[13, T]`` float64 columns of unit length: 12 pitch classes and a 13th "silence"
dimension that is 1 where nothing sounds (audio quieter than :data:`SILENCE_DB` below its loudest
frame, or no MIDI note on), so leading silence or a gap matches silence and not a chord. A small
floor keeps every column defined, so the cosine distance between any two columns is too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from counterpoint.data.audio import load_audio
from counterpoint.data.midi import load_pretty_midi

#: Sample rate (Hz) audio is read at for chroma.
CHROMA_SAMPLE_RATE = 22050
#: Frames whose RMS is this many dB below the track's loudest frame count as silence.
SILENCE_DB = 50.0
#: Added to every bin before normalising, so a silent column is defined.
FLOOR = 1e-3


def chroma_columns(chroma: np.ndarray, silent: np.ndarray) -> np.ndarray:
    """``[12, T]`` chroma and a ``[T]`` silence mask as ``[13, T]`` unit columns (see the module docstring)."""
    columns = np.vstack([np.asarray(chroma, dtype=np.float64), np.zeros(chroma.shape[1])])
    columns[:, silent] = 0.0
    columns[12, silent] = 1.0
    columns += FLOOR
    return columns / np.linalg.norm(columns, axis=0)


def audio_chroma(waveform: np.ndarray, hop_length: int) -> np.ndarray:
    """Constant-Q chroma of a mono waveform at :data:`CHROMA_SAMPLE_RATE` (as :func:`read_audio` gives it),
    one column every ``hop_length`` samples (column ``k`` centred at ``k · hop_length / rate`` s); ``[13, T]``."""
    import librosa

    chroma = librosa.feature.chroma_cqt(y=waveform, sr=CHROMA_SAMPLE_RATE, hop_length=hop_length)
    rms = librosa.feature.rms(y=waveform, frame_length=2 * hop_length, hop_length=hop_length)[0][: chroma.shape[1]]
    rms = np.pad(rms, (0, chroma.shape[1] - len(rms)))
    silent = rms < rms.max() * 10 ** (-SILENCE_DB / 20)
    return chroma_columns(chroma, silent)


def read_audio(path: str | Path, track_id: str | None = None) -> np.ndarray:
    """An audio file as a mono waveform at :data:`CHROMA_SAMPLE_RATE`; a
    :class:`~counterpoint.errors.TrackError` names the file when it cannot be read."""
    return load_audio(path, CHROMA_SAMPLE_RATE, track_id=track_id)


def midi_chroma(path: str | Path, frame_rate: float, track_id: str | None = None) -> np.ndarray:
    """Chroma of a MIDI file's sounding notes (velocity-weighted piano roll folded to 12 pitch classes,
    drums left out), ``frame_rate`` columns per second, column ``k`` covering ``[k, k + 1) / frame_rate`` s;
    ``[13, T]``. Raises :class:`~counterpoint.errors.TrackError` naming the file when it cannot be read."""
    midi = load_pretty_midi(path, track_id)
    chroma = midi.get_chroma(fs=frame_rate)
    return chroma_columns(chroma, chroma.sum(axis=0) == 0)
