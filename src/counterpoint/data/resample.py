"""Resamplers that give a model the input its reference code gives it.

A model's numbers depend on how its input was brought to the model's rate: resamplers differ
near the Nyquist frequency, and spectrogram front ends with a dB floor amplify the difference
(OpenL3 frames move by up to 4 % between soxr and resampy on 44.1 kHz music). So each encoder
resamples the way its reference implementation does:

* :data:`RESAMPY_KAISER_BEST`: ``resampy.resample(audio, sr, 48000, filter='kaiser_best')`` on
  float64 samples, as ``openl3==0.4.2`` ``core.py`` does after ``soundfile.read``. openl3 pins
  ``resampy<0.3``, whose ``kaiser_best`` is not the filter of that name in resampy ≥ 0.3 (64
  zero crossings, Kaiser β = 14.7697, roll-off 0.9476 of Nyquist, 512 taps per crossing); the
  table is rebuilt here with resampy's own ``sinc_window`` and run by the current resampy, which
  agrees with resampy 0.2.2 to 1e-7 (its accumulated time register drifts by less);
* :data:`TORCHAUDIO_SINC_HANN`: ``torchaudio.transforms.Resample(sr, new)`` with its defaults
  (windowed sinc, Hann window, 6 zero crossings, roll-off 0.99), as the MERT model card and
  CLaMP 3's ``preprocessing/audio/MERT_utils.py`` use it, reproduced here in torch so that
  torchaudio is not needed at run time.

Encoders without their own resampler get librosa's default (soxr, high quality): what
``librosa.load(path, sr=48000)`` in CLAP's reference (``laion_clap``) does with librosa ≥ 0.10.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Callable

import numpy as np

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Resampler:
    """A named resampling function ``(waveform, from Hz, to Hz) → waveform`` (mono float32).

    The name goes into an encoder's fingerprint: another resampler gives other numbers.
    """

    name: str
    function: Callable[[np.ndarray, int, int], np.ndarray]

    def __call__(self, waveform: np.ndarray, orig_rate: int, target_rate: int) -> np.ndarray:
        if orig_rate <= 0 or target_rate <= 0:
            raise ValueError(f"sample rates must be positive, got {orig_rate} Hz → {target_rate} Hz")
        if orig_rate == target_rate:
            return np.asarray(waveform, dtype=np.float32)
        return self.function(waveform, int(orig_rate), int(target_rate))


#: resampy 0.2's ``kaiser_best`` (its ``filters.py`` docstring): zero crossings, taps per crossing
#: (2**9), Kaiser window β and roll-off (fraction of Nyquist).
RESAMPY_02_KAISER_BEST = {"num_zeros": 64, "precision": 9, "beta": 14.769656459379492, "rolloff": 0.9475937167399596}


@lru_cache(maxsize=1)
def resampy_02_kaiser_best_filter() -> tuple[np.ndarray, int, float]:
    """The right wing of resampy 0.2's ``kaiser_best`` filter, its taps per crossing and roll-off
    (the triple resampy's ``filter=`` callables return); equal to the file resampy 0.2.2 ships
    to 1 float64 ulp."""
    import resampy.filters
    import scipy.signal

    beta = RESAMPY_02_KAISER_BEST["beta"]
    window, precision, rolloff = resampy.filters.sinc_window(
        num_zeros=RESAMPY_02_KAISER_BEST["num_zeros"], precision=RESAMPY_02_KAISER_BEST["precision"],
        window=lambda n: scipy.signal.windows.kaiser(n, beta), rolloff=RESAMPY_02_KAISER_BEST["rolloff"])
    window.setflags(write=False)
    return window, precision, rolloff


def resampy_kaiser_best(waveform: np.ndarray, orig_rate: int, target_rate: int) -> np.ndarray:
    """openl3's resampling: resampy with resampy 0.2's ``kaiser_best`` filter on float64 samples,
    returned as float32. The output has ``int(len * target_rate / orig_rate)`` samples (resampy's rule).
    """
    import resampy

    resampled = resampy.resample(np.asarray(waveform, dtype=np.float64), orig_rate, target_rate,
                                 filter=resampy_02_kaiser_best_filter)
    return resampled.astype(np.float32)


@lru_cache(maxsize=16)
def sinc_resample_kernel(orig_rate: int, target_rate: int, *, lowpass_filter_width: int = 6,
                         rolloff: float = 0.99) -> tuple["torch.Tensor", int]:
    """The polyphase kernel ``[new, 1, 2·width + orig]`` (float32) and ``width`` of torchaudio's resampler.

    Follows ``torchaudio.functional.functional._get_sinc_resample_kernel`` with ``dtype=None``
    (what ``transforms.Resample`` passes), step for step, including its dtypes: positions in
    float64, except the output phase ``-j / new``, which torchaudio divides in float32.
    ``orig``/``new`` are the rates divided by their greatest common divisor.
    """
    import torch

    gcd = math.gcd(orig_rate, target_rate)
    orig, new = orig_rate // gcd, target_rate // gcd
    base_freq = min(orig, new) * rolloff  # anti-aliasing: cut a little below the lower Nyquist
    width = math.ceil(lowpass_filter_width * orig / base_freq)
    idx = torch.arange(-width, width + orig, dtype=torch.float64)[None, None] / orig
    phase = torch.arange(0, -new, -1, dtype=torch.float32)[:, None, None] / new
    t = (phase + idx) * base_freq
    t = t.clamp(-lowpass_filter_width, lowpass_filter_width)
    window = torch.cos(t * math.pi / lowpass_filter_width / 2) ** 2
    t = t * math.pi
    scale = base_freq / orig
    kernels = torch.where(t == 0, torch.tensor(1.0, dtype=t.dtype), t.sin() / t)
    kernels = kernels * (window * scale)
    return kernels.to(torch.float32), width


def torchaudio_sinc_resample(waveform: np.ndarray, orig_rate: int, target_rate: int) -> np.ndarray:
    """``torchaudio.transforms.Resample(orig_rate, target_rate)`` applied to a mono float32 waveform.

    As ``_apply_sinc_resample_kernel``: pad ``width`` zeros before and ``width + orig`` after,
    a strided float32 convolution with the polyphase kernel, interleave the phases, and keep
    ``ceil(new · len / orig)`` samples (computed in float32, as torchaudio does).
    """
    import torch

    kernel, width = sinc_resample_kernel(orig_rate, target_rate)
    gcd = math.gcd(orig_rate, target_rate)
    orig, new = orig_rate // gcd, target_rate // gcd
    signal = torch.from_numpy(np.ascontiguousarray(waveform, dtype=np.float32)).reshape(1, 1, -1)
    length = signal.shape[-1]
    with torch.inference_mode():
        padded = torch.nn.functional.pad(signal, (width, width + orig))
        phases = torch.nn.functional.conv1d(padded, kernel, stride=orig)  # [1, new, frames]
        interleaved = phases.transpose(1, 2).reshape(-1)
    target_length = int(torch.ceil(torch.tensor(new * length / orig, dtype=torch.float32)))
    return interleaved[:target_length].numpy().copy()


RESAMPY_KAISER_BEST = Resampler("resampy<0.3:kaiser_best", resampy_kaiser_best)
TORCHAUDIO_SINC_HANN = Resampler("torchaudio:sinc_interp_hann,lowpass_filter_width=6,rolloff=0.99",
                                 torchaudio_sinc_resample)
