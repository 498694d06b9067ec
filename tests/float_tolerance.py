"""How closely the tests compare floating-point results: one written policy, three helpers.

Why a policy
------------
The same float32 computation rounds differently on different CPUs. OpenBLAS picks a matrix kernel by CPU
(Nehalem, Sandybridge, Haswell, Zen, SkylakeX, ...) and each kernel sums a dot product in its own order and
block size, with or without fused multiply-adds; numpy dispatches its own loops by SIMD level (X86_V2, X86_V3,
AVX-512), torch its CPU kernels by ``ATEN_CPU_CAPABILITY`` and onnxruntime its own; librosa and scipy call
numpy and BLAS. Two correct code paths (a fast path and its reference, a batch and one track alone, our port
and a model's published outputs) therefore agree only up to float32 rounding, and *how far* depends on the
machine. A tolerance read off one machine's difference (``rtol=1e-6``) breaks on the next one.

Rule 1: float32 results that may pass through different code paths or kernels
-----------------------------------------------------------------------------
``assert_float32_close(actual, expected, scale=S, terms=n)`` allows, element by element,

    |actual - expected| <= LAMBDA * FLOAT32_EPS * sqrt(n) * S

* ``FLOAT32_EPS = 2**-23`` (about 1.19e-7) is float32's machine epsilon: one rounding of a value of magnitude
  ``S`` moves it by at most ``FLOAT32_EPS / 2 * S``.
* ``S`` is the *scale of the column*: the magnitude the computation works at, not the value compared. An
  error made while summing is relative to the sum of the |terms|, not to a small result that came out of
  cancellation, so a relative tolerance (``rtol``) is wrong for values near zero (an MFCC of 0.8 in a column
  reaching 58, a centroid of 0 Hz in silence beside 5 kHz elsewhere). Use ``scale=column_scale`` (the
  largest |value| of each column, i.e. of each feature over all rows) where columns are different quantities
  (descriptors in Hz, dB, shares), ``scale=largest_magnitude`` for a network's outputs (every dimension sums
  the same inputs, so a dimension near 0 is cancellation), ``column_scale(frames)`` for a mean of frames, or
  a magnitude the computation is known to work at (1 for unit-norm vectors and probabilities).
* ``n`` is the depth of the computation: the number of float32 terms accumulated into one result along its
  longest chain (the length of a dot product, of an FFT, of a mean; for a network, the sum of its layers'
  fan-ins, which holds while normalisation keeps each layer's gain near 1). Each test states its ``n`` as an
  expression of the sizes it comes from.
  Different kernels reorder these sums. The worst-case bound for a sum of ``n`` terms is ``n`` roundings
  (Higham, *Accuracy and Stability of Numerical Algorithms*, 2002, §4.2), but rounding errors are
  independent and centred, and then the error of a sum is, with probability at least
  ``1 - 2 exp(-LAMBDA**2 / 2)``, within ``LAMBDA * sqrt(n) * eps/2`` of the sum of |terms| (Higham and Mary,
  "A new approach to probabilistic rounding error analysis", SIAM J. Sci. Comput. 41, 2019). Two
  computations that each satisfy that bound differ by at most twice it, ``LAMBDA * sqrt(n) * eps * S``.
* ``LAMBDA = 8`` makes a false failure a chance of about 2.5e-14 per element: never, in practice, on any CPU.
  Measured under OpenBLAS's Haswell, Sandybridge and Nehalem kernels, numpy without X86_V3 and torch's
  default (non-AVX) kernels, the largest differences are 14 float32 steps of the scale for audio-stats' MFCCs
  (8 x sqrt(1025) = 256 allowed) and 24 for OpenL3's CNN against Keras (900 allowed); every other comparison
  stays below 8 steps.

What the rule still catches: the allowed error stays below ``LAMBDA * sqrt(n)`` float32 steps of the scale,
e.g. 3e-5 of it for n = 1,025 and 1.2e-4 for n = 16,384. A wrong descriptor, a swapped column, a missing
normalisation (even a 1 % gain), an off-by-one frame or a wrong layer move values by far more and fail
(``tests/test_float_tolerance.py`` checks that).

Rule 2: values computed in float64 (or exactly) and rounded once to float32
---------------------------------------------------------------------------
``assert_rounded_float32_close(actual, expected, scale=S)`` allows ``2 * FLOAT32_EPS * S``: one float32 step
of the scale (a float64 difference of a few float64 steps can carry a value across a float32 rounding
boundary), with room for the float64 difference itself. For sums done in float64 and stored as float32 (the
symbolic descriptors) and for test signals made with float64 sines. Where a reference's float32 values differ
by more than that (OpenL3's resampy reference, 1.3 steps), the computation is not the same float64 one, and
rule 1 applies.

Rule 3: where exactness is required, ``assert_bitwise_equal``
--------------------------------------------------------------
Bit-for-bit equality (same dtype, shape and bits; -0.0 differs from 0.0, NaN equals the same NaN) is right,
and is asserted, where no rounding can differ:

* deterministic integer or table code (lookup tables, counts, indices, sorting, copying, slicing, max);
* one code path on one kernel in one process: the same function called twice on the same input (a rerun, a
  resumed run, one sound through two entry points that call the same per-track code), or two paths that do
  the same float operations in the same order on the same input (the same cumulative sum, the same sort);
* files read back: what a store, an export or a checkpoint wrote must come back exactly.

A matrix product is never "the same operations" across shapes: a row of ``A @ B`` may round differently when
``A`` has more rows (OpenBLAS's Haswell kernel does), so a stacked product against separate ones is rule 1.

Outside these rules
-------------------
* Float64 results (the analysis layer computes in float64) follow rule 1 with float64's epsilon (2.2e-16):
  the ``rel=1e-9`` to ``1e-12`` and ``abs=1e-9`` comparisons in the analysis and tempogram tests allow
  thousands of float64 steps, beyond any reordering of their sums, and are left as written.
* Known answers (a share of 2/7, 120 BPM) compared with ``abs=1e-6`` at scale 1 allow 8 float32 steps.
* Comparisons with another *algorithm* rather than another rounding are bounded by what that algorithm
  does, and say so where they are made: OpenL3's spectrograms against kapre's and librosa's (float32 FFT
  noise near the -80 dB floor), embeddings through those front ends (a share of the largest value and a
  cosine), statistical tolerances (a tempo within 4 %).

Which tests use which rule
--------------------------
================================  ============================================================================
rule 1, ``assert_float32_close``  test_audio_stats (fast descriptors and onset vs the librosa reference,
                                  centroid vs librosa), test_clamp2, test_clamp3_audio, test_clap, test_mert,
                                  test_musicnn, test_openl3 (CNN vs Keras, batch vs alone, means of frames),
                                  test_hear (musicnn), test_encoder_contract (torch encoders), test_resample
                                  (torch sinc vs torchaudio), test_transcribe (onnxruntime batches),
                                  test_probes_models (padding and batches)
rule 2, ``..._rounded_...``       test_symbolic_stats (vs the previous implementation), test_openl3 (float64
                                  test signals); test_openl3's resampy resampling is rule 1 with one term
rule 3, ``assert_bitwise_equal``  test_audio_stats (zero-crossing rate, rolloff, contrast, times, a batch vs
                                  each track alone, HEAR vs the encoder), test_musicnn (log-mel table without
                                  SIMD), test_hear (audio-stats, the store's numbers), test_openl3 (max pool),
                                  test_encoder_contract (numpy encoders); read-backs (store_equality,
                                  test_store*, test_export_legacy, test_tf_checkpoint) keep
                                  ``assert_array_equal``, which is exact there
================================  ============================================================================
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

FLOAT32_EPS = float(np.finfo(np.float32).eps)  # 2**-23: one float32 step at magnitude 1
LAMBDA = 8.0  # a sum's rounding error exceeds LAMBDA sqrt(n) eps/2 of its |terms| with probability < 2 exp(-32)
#: A scale: a number, one per column, or a function of the expected values that gives them.
Scale = float | np.ndarray | Callable[[np.ndarray], float | np.ndarray]


def float32_tolerance(scale: float | np.ndarray, *, terms: int = 1) -> float | np.ndarray:
    """The largest difference two float32 computations of one quantity may show (see the module's rule).

    ``scale`` is the magnitude the computation works at (a number, or one per column); ``terms`` the number of
    float32 terms accumulated along its longest chain.
    """
    return _accumulation_steps(terms) * _checked(scale)


def _accumulation_steps(terms: int) -> float:
    if terms < 1:
        raise ValueError(f"terms must be at least 1, not {terms}")
    return LAMBDA * FLOAT32_EPS * np.sqrt(terms)


def _checked(scale) -> np.ndarray:
    scale = np.asarray(scale, dtype=np.float64)
    if (scale < 0).any() or not np.isfinite(scale).all():
        raise ValueError(f"a scale must be finite and non-negative, not {scale}")
    return scale


def largest_magnitude(values: np.ndarray) -> float:
    """The largest |value| of the whole array: the scale of a network layer's outputs, whose dimensions all sum
    the same inputs with weights of one magnitude (a dimension near 0 is cancellation, not a smaller scale)."""
    return float(np.abs(np.asarray(values, dtype=np.float64)).max())


def column_scale(values: np.ndarray) -> np.ndarray:
    """The largest |value| of each column (each feature over all rows); of the whole array when 1-D."""
    values = np.abs(np.asarray(values, dtype=np.float64))
    return values.max() if values.ndim < 2 else values.max(axis=tuple(range(values.ndim - 1)))


def assert_float32_close(actual, expected, *, scale: Scale, terms: int = 1, err_msg: str = "") -> None:
    """Assert ``|actual - expected| <= LAMBDA * FLOAT32_EPS * sqrt(terms) * scale`` element by element: for
    float32 computations that may round differently (see the module's rule).

    ``scale`` is a number, one number per column (it broadcasts from the right), or a function of ``expected``
    that gives them: ``scale=column_scale`` or ``scale=largest_magnitude``. Shapes must match and NaNs must sit
    at the same places.
    """
    _assert_within(actual, expected, scale, _accumulation_steps(terms), f"{LAMBDA:g} x eps x sqrt({terms}) x scale",
                   err_msg)


def assert_rounded_float32_close(actual, expected, *, scale: Scale, err_msg: str = "") -> None:
    """Assert ``|actual - expected| <= 2 * FLOAT32_EPS * scale``: for float32 values computed in float64 (or
    exactly) and rounded once, which a float64 difference can move by one float32 step (see the module's rule)."""
    _assert_within(actual, expected, scale, 2 * FLOAT32_EPS, "2 x eps x scale: one float32 rounding", err_msg)


def _assert_within(actual, expected, scale: Scale, steps_of_scale: float, rule: str, err_msg: str) -> None:
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    scale = _checked(scale(expected) if callable(scale) else scale)
    label = f"{err_msg}: " if err_msg else ""
    if actual.shape != expected.shape:
        raise AssertionError(f"{label}shapes differ: {actual.shape} vs {expected.shape}")
    nan = np.isnan(expected)
    if not np.array_equal(np.isnan(actual), nan):
        raise AssertionError(f"{label}NaNs at different places")
    scales = np.broadcast_to(scale, actual.shape)
    allowed = steps_of_scale * scales
    error = np.where(nan, 0.0, np.abs(actual - expected))
    over = error > allowed
    if over.any():
        worst = np.unravel_index(np.argmax(np.where(over, error - allowed, -np.inf)), error.shape)
        raise AssertionError(
            f"{label}{int(over.sum())} of {error.size} values differ by more than float32 error allows ({rule}); "
            f"worst at {tuple(int(i) for i in worst)}: {actual[worst]!r} vs {expected[worst]!r}, error "
            f"{error[worst]:.3g} > allowed {allowed[worst]:.3g} (scale {scales[worst]:.3g})")


def assert_bitwise_equal(actual, expected, *, err_msg: str = "") -> None:
    """Assert the same dtype, shape and bits: for results no rounding can tell apart (see the module's rule)."""
    actual, expected = np.ascontiguousarray(actual), np.ascontiguousarray(expected)
    label = f"{err_msg}: " if err_msg else ""
    if actual.dtype != expected.dtype or actual.shape != expected.shape:
        raise AssertionError(f"{label}{actual.dtype}{actual.shape} vs {expected.dtype}{expected.shape}")
    if actual.tobytes() != expected.tobytes():
        differ = actual.view(np.uint8).reshape(actual.shape + (-1,)) != expected.view(np.uint8).reshape(
            expected.shape + (-1,))
        where = np.argwhere(differ.any(axis=-1)) if actual.ndim else np.zeros((1, 0), int)
        first = tuple(int(i) for i in where[0])
        raise AssertionError(f"{label}{len(where)} of {actual.size} values differ in their bits; first at {first}: "
                             f"{actual[first]!r} vs {expected[first]!r}")
