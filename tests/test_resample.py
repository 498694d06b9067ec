"""Resamplers: torchaudio's sinc resampler reproduced, resampy's old kaiser_best, and the load_audio hook.

``tests/fixtures/resample/torchaudio_resample.npz`` holds inputs and outputs of
``torchaudio.transforms.Resample`` (see the README there); the OpenL3 side (resampy) is
checked against openl3's own resampling in ``tests/test_openl3.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from counterpoint.data.audio import load_audio
from counterpoint.data.resample import (RESAMPY_02_KAISER_BEST, RESAMPY_KAISER_BEST, TORCHAUDIO_SINC_HANN,
                                        resampy_02_kaiser_best_filter, sinc_resample_kernel)
from counterpoint.errors import TrackError
from float_tolerance import assert_float32_close, largest_magnitude

FIXTURE = Path(__file__).parent / "fixtures" / "resample" / "torchaudio_resample.npz"
FIXTURE_RATES = (8000, 16000, 22050, 44100, 48000)


@pytest.fixture(scope="module")
def torchaudio_reference() -> dict[str, np.ndarray]:
    with np.load(FIXTURE) as reference:
        return dict(reference)


@pytest.mark.parametrize("rate", FIXTURE_RATES)
def test_sinc_resampler_equals_torchaudio(torchaudio_reference, rate: int) -> None:
    target = int(torchaudio_reference["target_rate"])
    expected = torchaudio_reference[f"output_{rate}"]
    ours = TORCHAUDIO_SINC_HANN(torchaudio_reference[f"input_{rate}"], rate, target)
    assert ours.dtype == np.float32 and ours.shape == expected.shape
    # a float32 convolution: each output sums one kernel row of the input, at the input's scale
    assert_float32_close(ours, expected, scale=largest_magnitude(torchaudio_reference[f"input_{rate}"]),
                         terms=sinc_resample_kernel(rate, target)[0].shape[-1])


def test_sinc_kernel_shape_follows_torchaudio() -> None:
    kernel, width = sinc_resample_kernel(44100, 24000)  # gcd 300: 147 → 80
    assert width == 12  # ceil(6 * 147 / (80 * 0.99))
    assert tuple(kernel.shape) == (80, 1, 2 * 12 + 147)
    # every phase is an interpolating low-pass filter: unit gain at DC
    np.testing.assert_allclose(kernel.sum(dim=-1).numpy().ravel(), 1.0, atol=2e-3)


def test_same_rate_is_left_alone() -> None:
    audio = np.linspace(-0.5, 0.5, 1000, dtype=np.float32)
    for resampler in (RESAMPY_KAISER_BEST, TORCHAUDIO_SINC_HANN):
        np.testing.assert_array_equal(resampler(audio, 24000, 24000), audio)
        with pytest.raises(ValueError, match="positive"):
            resampler(audio, 0, 24000)


def test_old_kaiser_best_is_the_resampy_0_2_filter() -> None:
    window, precision, rolloff = resampy_02_kaiser_best_filter()
    assert precision == 2 ** RESAMPY_02_KAISER_BEST["precision"] == 512
    assert window.shape == (64 * 512 + 1,) and rolloff == RESAMPY_02_KAISER_BEST["rolloff"]
    # first values of resampy 0.2.2's kaiser_best.npz (its right wing starts at the roll-off)
    np.testing.assert_allclose(window[:3], [0.9475937167399596, 0.94758837, 0.94757233], rtol=1e-7)
    assert np.argmax(np.abs(window)) == 0 and abs(window[-1]) < 1e-6  # the Kaiser taper closes the wing
    import resampy.filters

    current, current_precision, current_rolloff = resampy.filters.get_filter("kaiser_best")
    assert (current.shape, current_precision, current_rolloff) != (window.shape, precision, rolloff)


def test_load_audio_resamples_with_the_given_resampler(tmp_path: Path, torchaudio_reference) -> None:
    audio = torchaudio_reference["input_44100"]
    path = tmp_path / "tone.wav"
    sf.write(path, audio, 44100, subtype="FLOAT")
    loaded = load_audio(path, 24000, track_id="tone", resampler=TORCHAUDIO_SINC_HANN)
    assert_float32_close(loaded, torchaudio_reference["output_44100"], scale=largest_magnitude(audio),
                         terms=sinc_resample_kernel(44100, 24000)[0].shape[-1])
    default = load_audio(path, 24000, track_id="tone")  # soxr, as librosa.load
    assert default.shape != loaded.shape or np.abs(default - loaded).max() > 1e-3


def test_a_file_too_short_to_resample_is_a_track_error(tmp_path: Path) -> None:
    path = tmp_path / "click.wav"
    sf.write(path, np.array([0.5], dtype=np.float32), 96000, subtype="FLOAT")
    with pytest.raises(TrackError, match=r"click.wav.*cannot resample 96000 Hz to 48000 Hz.*too short"):
        load_audio(path, 48000, track_id="click", resampler=RESAMPY_KAISER_BEST)
