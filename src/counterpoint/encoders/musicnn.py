"""musicnn (Pons & Serra, 2019): pretrained music-audio taggers, ported from TensorFlow 1.

The ``musicnn==0.1.0`` wheel ships TensorFlow 1 checkpoints of two taggers with the same
network, ``MTT_musicnn`` (MagnaTagATune, 50 tags) and ``MSD_musicnn`` (Million Song Dataset,
50 tags). Its own code needs TensorFlow 1, so this module rebuilds the network in PyTorch,
reads the checkpoints with :mod:`counterpoint.encoders.tf_checkpoint` and converts them once
to a safetensors file in :func:`counterpoint.paths.cache_dir`.

The network, for one patch of 187 log-mel frames (3 s) × 96 bands:

* front end: batch norm of the input, then two *timbral* convolutions (7 frames × 38 and
  × 67 bands, 204 filters each) and three *temporal* convolutions (128, 64, 32 frames × 1
  band, 51 filters each), each followed by ReLU, batch norm and a max over frequency;
  concatenated into 561 channels per frame;
* mid end: three 1-D convolutions over time (7 frames, 64 filters, ReLU, batch norm), the
  second and third with residual connections; the front end and the three mid-end outputs
  are concatenated into 753 channels per frame;
* back end: max and mean over time (753 each — the ``max_pool`` / ``mean_pool`` features; the
  max of the front end alone is the ``frontend`` layer, 561, of the mid end alone ``midend``, 192),
  batch norm, a dense layer of 200 units with ReLU and batch norm (``penultimate``), and a
  dense layer of 50 logits whose sigmoid is the ``taggram``.

Facts that matter for parity with the reference: TensorFlow convolutions are NHWC with
kernels ``[height, width, in, out]``; its ``"same"`` padding of an even kernel puts the extra
zero at the end; batch norm has ``epsilon=1e-3``; the back end flattens ``[753, 2]`` (max,
mean) so its 1506 inputs interleave max and mean per channel; the input spectrogram is
stored as float16 and the reference computes ``log10(10000·x + 1)`` in float16 arithmetic.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

import numpy as np

from counterpoint.data.audio import load_audio
from counterpoint.encoders.base import AudioEncoder, Embedding, LayeredEncoder, Parameter, layers_parameter
from counterpoint.encoders.streaming import frame_chunks
from counterpoint.blas import single_threaded_blas
from counterpoint.encoders.torch_base import TorchEncoder, runtime_parameters
from counterpoint.encoders.weights import WeightFile, exact_size, files_digest, find_weights
from counterpoint.encoders.windowing import mean_pooled
from counterpoint.errors import EncoderError, TrackError, WeightsError
from counterpoint.paths import cache_dir

if TYPE_CHECKING:
    import torch

SAMPLE_RATE = 16000  # Hz
FFT_SIZE = 512  # samples
FFT_HOP = 256  # samples
N_MELS = 96
PATCH_FRAMES = 187  # 3 s: librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1
FRAME_SECONDS = FFT_HOP / SAMPLE_RATE  # 0.016 s between spectrogram frames
BN_EPSILON = 1e-3  # tf.compat.v1.layers.batch_normalization default
#: Patches per forward pass when ``forward_batch`` is 0: on CPU small passes keep the ~25 MB of
#: activations per patch in cache (2 per pass measured 1.5x faster than 24 per pass); GPUs want large passes.
PATCHES_PER_PASS = {"cpu": 2, "cuda": 64}

MTT_TAGS = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast", "piano",
    "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male", "singing",
    "vocals", "no vocals", "harpsichord", "loud", "quiet", "flute", "woman", "male vocal", "no vocal", "pop",
    "soft", "sitar", "solo", "man", "classic", "choir", "voice", "new age", "dance", "male voice",
    "female vocal", "beats", "harp", "cello", "no voice", "weird", "country", "metal", "female voice", "choral",
)
MSD_TAGS = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s", "alternative rock", "jazz",
    "beautiful", "metal", "chillout", "male vocalists", "classic rock", "soul", "indie rock", "Mellow", "electronica", "80s",
    "folk", "90s", "chill", "instrumental", "punk", "oldies", "blues", "hard rock", "ambient", "acoustic",
    "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country", "easy listening", "sexy", "catchy",
    "funk", "electro", "heavy metal", "Progressive rock", "60s", "rnb", "indie pop", "sad", "House", "happy",
)
TAGS = {"MTT": MTT_TAGS, "MSD": MSD_TAGS}
#: Patch-level layers in network order and their dimensions: ``frontend`` and ``midend`` are the
#: max over the patch's frames of the front end (561) and of the three mid-end outputs (192) —
#: the two parts of ``max_pool`` — then the back end's ``max_pool``, ``mean_pool``, ``penultimate``
#: and ``taggram``.
LAYER_DIMS = {"frontend": 561, "midend": 192, "max_pool": 753, "mean_pool": 753, "penultimate": 200, "taggram": 50}
#: The layers whose activations come before the dense back end.
POOLED_LAYERS = ("frontend", "midend", "max_pool", "mean_pool")

PYPI_URL = "https://pypi.org/project/musicnn/0.1.0/"
#: Byte counts measured on the files of the musicnn 0.1.0 wheel (the same for MTT and MSD).
CHECKPOINT_FILES = {m: [WeightFile(model="musicnn", filename=f"{m}_musicnn/{name}", url=PYPI_URL,
                                   size=exact_size(size, "the file in the musicnn 0.1.0 wheel"), package="musicnn",
                                   pip_requirement="musicnn==0.1.0")
                        for name, size in ((".index", 4948), (".data-00000-of-00001", 9465596))] for m in TAGS}


# ---------------------------------------------------------------- checkpoint location and conversion

def checkpoint_dir(model: str) -> Path:
    """The folder of the ``<model>_musicnn`` TensorFlow checkpoint.

    Found by the weights resolution order: ``$COUNTERPOINT_WEIGHTS_DIR/musicnn/<model>_musicnn/``
    first, then inside the installed ``musicnn`` package (located without importing it: its
    code needs TensorFlow).
    """
    index = find_weights(CHECKPOINT_FILES[model][0])
    if index is None:
        raise WeightsError(f"musicnn model {model} needs the checkpoint {model}_musicnn/ ({CHECKPOINT_FILES[model][1].size_text}) shipped in the "
                           f"musicnn==0.1.0 wheel ({PYPI_URL}), which is not installed. Run `counterpoint weights fetch "
                           "musicnn` while online (it pip-installs the wheel without its TensorFlow dependency)")
    return index.parent


def checkpoint_digest(folder: Path) -> str:
    """SHA-256 over the names and bytes of the checkpoint's ``.index`` and data shard(s), in name order."""
    return files_digest(sorted([folder / ".index", *folder.glob(".data-*")]))


def convert_checkpoint(tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Map TensorFlow variables (``conv2d_3/kernel``...) to :class:`MusicnnNetwork` state-dict arrays.

    TensorFlow names layers by creation order; the reference builds them in this order: input
    batch norm, timbral 7×38 and 7×67, temporal 128, 64 and 32, mid-end convolutions 1-3,
    back-end batch norm, dense 200, its batch norm, dense 50. Optimizer slots (``*/Adam*``,
    ``beta*_power``) are dropped.
    """
    out: dict[str, np.ndarray] = {}

    def batch_norm(target: str, index: int) -> None:
        source = "batch_normalization" + (f"_{index}" if index else "")
        out[f"{target}.weight"] = tensors[f"{source}/gamma"]
        out[f"{target}.bias"] = tensors[f"{source}/beta"]
        out[f"{target}.running_mean"] = tensors[f"{source}/moving_mean"]
        out[f"{target}.running_var"] = tensors[f"{source}/moving_variance"]

    def conv(target: str, index: int, one_d: bool) -> None:
        source = "conv2d" + (f"_{index}" if index else "")
        kernel = tensors[f"{source}/kernel"]  # [height (time), width, in, out]
        if one_d:  # width spans all input channels, in == 1: a Conv1d [out, width, time]
            out[f"{target}.weight"] = kernel[:, :, 0, :].transpose(2, 1, 0)
        else:  # Conv2d [out, in, time, frequency]
            out[f"{target}.weight"] = kernel.transpose(3, 2, 0, 1)
        out[f"{target}.bias"] = tensors[f"{source}/bias"]

    batch_norm("input_norm", 0)
    for i in range(2):
        conv(f"timbral.{i}.conv", i, one_d=False)
        batch_norm(f"timbral.{i}.norm", 1 + i)
    for i in range(3):
        conv(f"temporal.{i}.conv", 2 + i, one_d=False)
        batch_norm(f"temporal.{i}.norm", 3 + i)
    for i in range(3):
        conv(f"midend.{i}.conv", 5 + i, one_d=True)
        batch_norm(f"midend.{i}.norm", 6 + i)
    batch_norm("pool_norm", 9)
    out["dense.weight"] = tensors["dense/kernel"].T
    out["dense.bias"] = tensors["dense/bias"]
    batch_norm("dense_norm", 10)
    out["output.weight"] = tensors["dense_1/kernel"].T
    out["output.bias"] = tensors["dense_1/bias"]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}


def converted_weights(model: str) -> tuple[Path, str]:
    """The safetensors file of ``model`` (converting the checkpoint on first use) and its source digest.

    The file lives in ``cache_dir()/musicnn/`` under a name holding the checkpoint digest and
    records the full digest in its metadata; a file whose metadata disagrees is rebuilt.
    """
    from safetensors import safe_open
    from safetensors.numpy import save_file

    from counterpoint.encoders.tf_checkpoint import read_checkpoint

    source = checkpoint_dir(model)
    digest = checkpoint_digest(source)
    target = cache_dir() / "musicnn" / f"{model}_musicnn-{digest[:16]}.safetensors"
    if target.exists():
        try:
            with safe_open(str(target), framework="np") as handle:
                if (handle.metadata() or {}).get("source_sha256") == digest:
                    return target, digest
        except Exception:  # a partial or corrupt cache file is rebuilt below
            pass
    state = convert_checkpoint(read_checkpoint(source))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    save_file(state, str(partial), metadata={"source_sha256": digest, "source": str(source), "model": f"{model}_musicnn"})
    partial.replace(target)
    return target, digest


# ---------------------------------------------------------------- the front end (audio → patches)


def _log10_float64(values: np.ndarray) -> np.ndarray:
    """``log10`` of float64 ``values`` by Python's :mod:`math`, one value at a time.

    numpy's own ``log10`` loops are chosen at run time by CPU features (SVML on AVX-512) and
    differ in the last bit between machines; one libm call per value does not. Zero gives
    ``-inf``, negative values and NaN give NaN.
    """
    out = np.full(values.shape, np.nan)
    positive = values > 0
    out[positive] = [math.log10(v) for v in values[positive].tolist()]
    out[values == 0] = -np.inf
    return out


@lru_cache(maxsize=1)
def _log_compression_table() -> np.ndarray:
    """``log10(10000·x + 1)`` for every float16 ``x``, float32 ``[65536]``, indexed by the bits of ``x``.

    The reference's numbers, computed so that no CPU changes them: the argument in float16
    arithmetic as numpy's scalar loops do it (each operation in float32, then rounded to
    float16: exact IEEE steps), its ``log10`` in float64 rounded once to float32 (a correctly
    rounded ``log10f``), then to float16 — numpy's scalar float16 ``log10``, which made the
    reference fixtures. numpy's SIMD float16 ``log10`` (AVX512_SKX, AVX512_SPR) rounds a few
    arguments one float16 step differently, so it is not used. Where ``10000·x`` overflows
    float16 (``x`` above 6.55) the reference gives ``inf``; those entries hold ``log10(10000·x + 1)``
    in float64 rounded to float32.
    """
    every_half = np.arange(65536, dtype=np.uint16).view(np.float16)
    single = every_half.astype(np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = (single * np.float32(10000)).astype(np.float16)
        argument = (scaled.astype(np.float32) + np.float32(1)).astype(np.float16)
    table = _log10_float64(argument.astype(np.float64)).astype(np.float32).astype(np.float16).astype(np.float32)
    overflow = np.isinf(argument) & np.isfinite(every_half) & (every_half > 0)
    table[overflow] = _log10_float64(10000 * single[overflow].astype(np.float64) + 1).astype(np.float32)
    return table


def log_mel(audio: np.ndarray) -> np.ndarray:
    """Log-compressed mel spectrogram ``[frames, 96]`` of 16 kHz mono audio, as the reference computes it.

    librosa's mel power spectrogram (n_fft 512, hop 256, 96 Slaney mels), cast to float16,
    then ``log10(10000·x + 1)`` in float16 arithmetic, looked up in a table over all float16
    values (:func:`_log_compression_table`). The reference computes the spectrogram in float32,
    whose last bits depend on the CPU's SIMD paths, and rounding it to float16 turns those into
    whole float16 steps; here it is computed in float64 and rounded once, so the numbers are the
    same on every machine (and the reference's but for about 1 bin in 10⁵, one float16 step
    apart). The reference overflows to ``inf`` where ``10000·x`` exceeds the float16 range
    (loud bins: mel power above 6.55) and its network then returns NaN; those bins get the
    float32 value here, and so do bins whose power itself exceeds float16 (audio peaking
    around 30 and more), so loud audio stays finite.
    """
    return _log_compressed(_mel_power(audio, center=True))


#: Spectrogram frames computed at a time when a file is streamed (about 2 minutes).
CHUNK_FRAMES = 8192


def streamed_log_mel(pieces: Iterable[np.ndarray], chunk_frames: int = CHUNK_FRAMES) -> tuple[np.ndarray, int]:
    """:func:`log_mel` of the 16 kHz waveform ``pieces`` make, and its length in samples, computed
    ``chunk_frames`` frames at a time (:func:`counterpoint.encoders.streaming.frame_chunks`), so only the
    spectrogram, a twentieth of the audio's float64 size, is held whole; each frame is the same computation."""
    parts, length = [], 0
    for chunk in frame_chunks(pieces, n_fft=FFT_SIZE, hop=FFT_HOP, chunk_frames=chunk_frames):
        if chunk.whole is not None:
            return log_mel(chunk.whole), len(chunk.whole)
        parts.append(_log_compressed(_mel_power(chunk.samples, center=False)))
        length = chunk.length or length
    return np.concatenate(parts), length


#: librosa's Slaney mel filter bank ``[96, 257]`` (``librosa.filters.mel(sr=16000, n_fft=512, n_mels=96,
#: dtype=float64)``) and scipy's periodic Hann window ``[512]`` (``scipy.signal.get_window("hann", 512)``),
#: written once by librosa 0.11 / scipy 1.17 (a test checks them against the installed versions). Reading them
#: spares a reader process importing librosa and scipy.signal (about 2 s) before its first spectrogram.
FRONT_END_FILE = Path(__file__).with_name("musicnn_front_end.npz")


@lru_cache(maxsize=1)
def front_end_constants() -> tuple[np.ndarray, np.ndarray]:
    """The mel filter bank and the STFT window of :data:`FRONT_END_FILE`."""
    with np.load(FRONT_END_FILE) as constants:
        return constants["mel_basis"], constants["window"]


def _mel_power(audio: np.ndarray, center: bool) -> np.ndarray:
    """librosa's mel power spectrogram ``[frames, 96]`` in float64 (``center``: librosa's zero padding), by
    librosa's steps: frames of 512 samples every 256 (padded by 256 zeros each side when ``center``), Hann
    windowed, numpy's real FFT, squared magnitude, and the mel filter bank applied by the same ``einsum`` on
    the same memory layout (a ``[bins, frames]`` matrix in Fortran order), which gives librosa's numbers bit
    for bit."""
    mel_basis, window = front_end_constants()
    samples = np.asarray(audio, dtype=np.float64)
    if center:
        samples = np.pad(samples, FFT_SIZE // 2)
    frames = np.lib.stride_tricks.sliding_window_view(samples, FFT_SIZE)[::FFT_HOP]
    power = (np.abs(np.fft.rfft(frames * window, axis=-1)) ** 2).T
    with single_threaded_blas():  # it runs beside the network's threads (read-ahead): BLAS threads would fight them
        return np.einsum("ft,mf->mt", power, mel_basis, optimize=True).T


def _log_compressed(power: np.ndarray) -> np.ndarray:
    """``log10(10000·x + 1)`` of the mel power rounded to float16, as :func:`log_mel` describes."""
    with np.errstate(over="ignore"):
        half = power.astype(np.float16)
    logmel = _log_compression_table()[half.view(np.uint16)]
    beyond_float16 = np.isinf(half) & np.isfinite(power)
    logmel[beyond_float16] = _log10_float64(10000 * power[beyond_float16] + 1).astype(np.float32)
    return logmel


def hop_frames(hop_seconds: float) -> int:
    """Spectrogram frames between patch starts: ``hop`` in seconds floored to whole 16-ms frames.

    The default 3 s gives 187 frames, the patch length: non-overlapping patches, the reference
    default. ``hop_seconds`` is at least one frame (the ``hop`` parameter's range).
    """
    return int(np.floor(hop_seconds / FRAME_SECONDS + 1e-9))


def patch_starts(n_frames: int, hop: int) -> np.ndarray:
    """First frame of each whole 187-frame patch, every ``hop`` frames; trailing partial patches are dropped."""
    return np.arange(0, n_frames - PATCH_FRAMES + 1, hop, dtype=np.int64)


def make_patches(logmel: np.ndarray, hop: int, center: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Cut a log-mel spectrogram into patches ``[P, 187, 96]`` and their centre times (seconds).

    Without ``center`` (the reference): whole patches from frame 0, every ``hop`` frames. With
    ``center``: the spectrogram is padded with 93 frames of silence (log-mel 0, what digital
    silence gives) at each end, and patch ``i`` is centred on frame ``i·hop``, at ``i·hop·0.016`` s,
    for every frame of the sound — so a sound of any length gives at least one patch.
    """
    if center:
        half = PATCH_FRAMES // 2
        starts = np.arange(0, len(logmel), hop, dtype=np.int64)
        centres = starts * FRAME_SECONDS
        logmel = np.pad(logmel, ((half, half), (0, 0)))
    else:
        starts = patch_starts(len(logmel), hop)
        centres = (starts + (PATCH_FRAMES - 1) / 2) * FRAME_SECONDS
    index = starts[:, None] + np.arange(PATCH_FRAMES)[None, :]
    return logmel[index], centres


def audio_patches(audio: np.ndarray, hop: int, *, who: str = "audio",
                  center: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Patches and centre times of 16 kHz mono audio (see :func:`make_patches`).

    Without ``center``, audio shorter than one patch is a TrackError: the reference crashes on
    it (it concatenates no patches); we say why instead.
    """
    return logmel_patches(log_mel(audio), len(audio), hop, who=who, center=center)


def logmel_patches(logmel: np.ndarray, n_samples: int, hop: int, *, who: str = "audio",
                   center: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """:func:`audio_patches` of the log-mel spectrogram of ``n_samples`` samples of audio."""
    if not center and len(logmel) < PATCH_FRAMES:
        minimum = (PATCH_FRAMES - 1) * FFT_HOP / SAMPLE_RATE
        raise TrackError(f"{who}: {n_samples / SAMPLE_RATE:.2f} s of audio is shorter than one musicnn patch "
                         f"({minimum:.3f} s) — remove the track, pad the file to at least {minimum:.3f} s, "
                         "or embed with musicnn:center=true (pads with silence)")
    return make_patches(logmel, hop, center)


# ---------------------------------------------------------------- the network


def _build_network_class():
    """Define the torch module lazily, so importing this module does not import torch."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class ConvNorm(nn.Module):
        """Convolution, ReLU, batch norm (TensorFlow's order in musicnn), optionally max-pooled over one axis."""

        def __init__(self, conv: nn.Module, channels: int) -> None:
            super().__init__()
            self.conv = conv
            self.norm = nn.BatchNorm1d(channels, eps=BN_EPSILON)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.norm(F.relu(self.conv(x)))

        def max_over(self, x: torch.Tensor, dim: int) -> torch.Tensor:
            """``max`` over ``dim`` of ``forward(x)`` for a 2-D convolution, as ``[B, C, T]``.

            ReLU and the per-channel affine batch norm are monotone, so the max of their output
            is their output at the max of the convolution, or at its min where the batch-norm
            scale is negative. That min is taken as minus the max of the convolution with
            negated filters (exact in floating point), so one fast ``amax`` pass suffices and the
            large map never goes through ReLU and batch norm.
            """
            sign = torch.where(self.norm.weight < 0, -1.0, 1.0)
            signed = F.conv2d(x, self.conv.weight * sign.view(-1, 1, 1, 1), self.conv.bias * sign)
            return self.norm(F.relu(signed.amax(dim=dim) * sign.view(1, -1, 1)))

    class MusicnnNetwork(nn.Module):
        """The musicnn tagger (``build_musicnn`` of the reference), inference only, NCHW layout."""

        def __init__(self, n_mels: int = N_MELS, n_classes: int = 50, timbral_filters: int = 204,
                     temporal_filters: int = 51, midend_filters: int = 64, backend_units: int = 200) -> None:
            super().__init__()
            self.input_norm = nn.BatchNorm2d(1, eps=BN_EPSILON)
            self.timbral = nn.ModuleList(
                ConvNorm(nn.Conv2d(1, timbral_filters, (7, int(share * n_mels))), timbral_filters) for share in (0.4, 0.7))
            self.temporal_kernels = (128, 64, 32)
            self.temporal = nn.ModuleList(
                ConvNorm(nn.Conv2d(1, temporal_filters, (k, 1)), temporal_filters) for k in self.temporal_kernels)
            frontend = 2 * timbral_filters + 3 * temporal_filters
            self.midend = nn.ModuleList(
                ConvNorm(nn.Conv1d(width, midend_filters, 7), midend_filters) for width in (frontend, midend_filters, midend_filters))
            pooled = frontend + 3 * midend_filters
            self.pool_norm = nn.BatchNorm1d(2 * pooled, eps=BN_EPSILON)
            self.dense = nn.Linear(2 * pooled, backend_units)
            self.dense_norm = nn.BatchNorm1d(backend_units, eps=BN_EPSILON)
            self.output = nn.Linear(backend_units, n_classes)

        def forward(self, patches: torch.Tensor, until: str = "taggram") -> dict[str, torch.Tensor]:
            """Layer activations of ``patches`` ``[B, T, 96]``.

            Returns frame-level ``timbral`` ``[B, T, 408]``, ``temporal`` ``[B, T, 153]``,
            ``cnn1..3`` ``[B, T, 64]`` and patch-level ``max_pool``, ``mean_pool`` ``[B, 753]``;
            ``frontend`` ``[B, 561]`` and ``midend`` ``[B, 192]`` (the two parts of ``max_pool``);
            then, unless ``until`` is one of :data:`POOLED_LAYERS`, ``penultimate`` ``[B, 200]``,
            ``logits`` and ``taggram`` ``[B, 50]``.
            """
            x = self.input_norm(patches.unsqueeze(1))  # [B, 1, T, F]
            padded = F.pad(x, (0, 0, 3, 3))  # 3 zero frames each side, after the input norm
            timbral = [block.max_over(padded, dim=3) for block in self.timbral]  # [B, C, T]
            temporal = []
            for kernel, block in zip(self.temporal_kernels, self.temporal):
                before = (kernel - 1) // 2  # TensorFlow "same": the odd extra zero goes last
                temporal.append(block.max_over(F.pad(x, (0, 0, before, kernel - 1 - before)), dim=3))
            front = torch.cat(timbral + temporal, dim=1)  # [B, 561, T]
            cnn1 = self.midend[0](F.pad(front, (3, 3)))
            cnn2 = self.midend[1](F.pad(cnn1, (3, 3))) + cnn1
            cnn3 = self.midend[2](F.pad(cnn2, (3, 3))) + cnn2
            features = torch.cat([front, cnn1, cnn2, cnn3], dim=1)  # [B, 753, T]
            max_pool, mean_pool = features.amax(dim=2), features.mean(dim=2)
            out = {"timbral": torch.cat(timbral, 1).transpose(1, 2), "temporal": torch.cat(temporal, 1).transpose(1, 2),
                   "cnn1": cnn1.transpose(1, 2), "cnn2": cnn2.transpose(1, 2), "cnn3": cnn3.transpose(1, 2),
                   "max_pool": max_pool, "mean_pool": mean_pool,
                   "frontend": max_pool[:, :front.shape[1]], "midend": max_pool[:, front.shape[1]:]}
            if until in POOLED_LAYERS:
                return out
            interleaved = torch.stack([max_pool, mean_pool], dim=2).flatten(1)  # TF flattens [753, 2]
            penultimate = self.dense_norm(F.relu(self.dense(self.pool_norm(interleaved))))
            logits = self.output(penultimate)
            out.update(penultimate=penultimate, logits=logits, taggram=torch.sigmoid(logits))
            return out

    return MusicnnNetwork


_NETWORK_CLASS = None


def network_class():
    """The :class:`MusicnnNetwork` torch module class (built on first use)."""
    global _NETWORK_CLASS
    if _NETWORK_CLASS is None:
        _NETWORK_CLASS = _build_network_class()
    return _NETWORK_CLASS


def load_network(model: str = "MTT", device: "str | torch.device" = "cpu"):
    """The pretrained ``<model>_musicnn`` network in eval mode on ``device``, and the checkpoint digest."""
    import torch
    from safetensors.torch import load_file

    if model not in TAGS:
        raise EncoderError(f"musicnn model {model!r} is not one of {', '.join(TAGS)}")
    path, digest = converted_weights(model)
    network = network_class()()
    state = load_file(str(path))
    missing = {k for k in network.state_dict() if not k.endswith("num_batches_tracked")} - set(state)
    if missing:
        raise WeightsError(f"{path}: converted musicnn weights lack {sorted(missing)[:3]} — delete the file to rebuild it")
    network.load_state_dict(state, strict=False)
    return network.eval().to(torch.device(device)), digest


# ---------------------------------------------------------------- the encoder


@dataclass
class PreparedAudio:
    """One track ready for the network: its patches, their centre times and the audio length."""

    patches: np.ndarray  # float32 [P, 187, 96]
    centres: np.ndarray  # seconds [P]
    duration: float  # seconds


class MusicnnEncoder(TorchEncoder, LayeredEncoder, AudioEncoder):
    """musicnn tagger features: one vector per 3-second patch, mean over patches as the pooled vector."""

    name = "musicnn"
    weight_files: ClassVar[tuple[WeightFile, ...]] = tuple(f for files in CHECKPOINT_FILES.values() for f in files)
    hear_parameters: ClassVar[dict[str, str]] = {"center": "true"}
    hear_timestamp_hop: ClassVar[tuple[str, str] | None] = ("hop", "0.048")  # three 16-ms frames
    #: Reading a file (decoding, mel spectrogram, patches) uses the parameters only, not the network.
    prepares_before_load: ClassVar[bool] = True
    prepare_imports: ClassVar[tuple[str, ...]] = ("soundfile", "soxr")
    sample_rate = SAMPLE_RATE
    description = "musicnn (Pons & Serra 2019) music tagger trained on MagnaTagATune or the Million Song Dataset, PyTorch port"
    requirements = (f"the musicnn==0.1.0 wheel for its checkpoints ({CHECKPOINT_FILES['MTT'][1].size_text} per model): "
                    "`counterpoint weights fetch musicnn` (or `make setup`)")
    non_finite_hint = ("musicnn overflows float16 on audio far louder than 0 dBFS (samples beyond ±1, as float WAVs "
                       "can hold) — normalise the file to a peak of at most 1.0")
    #: 2: the front end no longer depends on the CPU (float64 spectrogram, log table without SIMD).
    code_version = "2"
    parameters = {
        "model": Parameter("MTT", "training set of the tagger: MTT (MagnaTagATune) or MSD (Million Song Dataset)", ("MTT", "MSD")),
        "layer": Parameter("max_pool", "which activations to return: frontend (561) or midend (192), the max over each "
                                       "patch of the front end or the mid end; max_pool, mean_pool (753), penultimate (200) "
                                       "or taggram (50 tag probabilities)", tuple(LAYER_DIMS)),
        "layers": layers_parameter("frontend|penultimate"),
        "hop": Parameter(3.0, "seconds between patch starts, floored to 16-ms frames; 3 = non-overlapping 3-s patches (the reference)",
                         low=FRAME_SECONDS),
        "center": Parameter(False, "pad 1.5 s of silence at both ends so patches are centred at 0, hop, 2·hop… s and "
                                   "sounds shorter than a 3-s patch embed (what the HEAR API uses); false = the reference"),
        **runtime_parameters(batch_size=8, forward_batch=0, forward_help="3-s patches"),
        "forward_batch": Parameter(0, "3-s patches per forward pass (0: 2 on cpu, run side by side on the cores; "
                                      "64 on cuda); speed and memory only", low=0),
    }

    @classmethod
    def unavailable_reason(cls) -> str | None:
        if importlib.util.find_spec("musicnn") is None:
            return "the musicnn package is not installed — run `counterpoint weights fetch musicnn` while online"
        return None

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.hop = hop_frames(float(self.params["hop"]))
        self._digest: str | None = None

    @property
    def dim(self) -> int:
        return LAYER_DIMS[self.params["layer"]]

    @property
    def forward_batch(self) -> int:
        """Patches per forward pass: the parameter, or :data:`PATCHES_PER_PASS` of the device when it is 0."""
        return int(self.params["forward_batch"]) or PATCHES_PER_PASS[self.device.type]

    def build_model(self) -> Any:
        """The trained network, or with ``init=random`` the bare architecture (no checkpoint needed): its layers
        are PyTorch's, so the random weights are PyTorch's default initialisers of each layer, not TensorFlow 1's
        Glorot-uniform the reference trained from (:func:`~counterpoint.encoders.torch_base.randomise_weights`);
        every batch norm, the input's included, starts fresh (mean 0, variance 1, scale 1, shift 0)."""
        if self.untrained:
            return self.on_device(network_class()())
        network, self._digest = load_network(self.params["model"], self.device)
        return network

    def weights_digest(self) -> str:
        if self._digest is None:
            self._digest = checkpoint_digest(checkpoint_dir(self.params["model"]))
        return self._digest

    def feature_names(self) -> list[str] | None:
        return list(TAGS[self.params["model"]]) if self.params["layer"] == "taggram" else None

    def prepare_waveform(self, waveform: np.ndarray, source: str) -> PreparedAudio:
        patches, centres = audio_patches(waveform, self.hop, who=source, center=self.params["center"])
        return PreparedAudio(patches, centres, len(waveform) / SAMPLE_RATE)

    def prepare_stream(self, pieces: Iterable[np.ndarray], source: str) -> PreparedAudio:
        """:meth:`prepare_waveform` of a file read in pieces: the spectrogram is computed a chunk at a
        time (:func:`streamed_log_mel`), and only it and the patches are held whole."""
        logmel, n_samples = streamed_log_mel(pieces)
        patches, centres = logmel_patches(logmel, n_samples, self.hop, who=source, center=self.params["center"])
        return PreparedAudio(patches, centres, n_samples / SAMPLE_RATE)

    def layer_names(self) -> list[str]:
        return list(LAYER_DIMS)

    def layer_outputs(self, patches: Sequence[Sequence[np.ndarray]], layer: str | None = None) -> list[np.ndarray]:
        """Activations of ``layer`` (default: the encoder's), ``[P_i, D]`` float32, for each track's patches ``[P_i, 187, 96]``."""
        layer = layer or self.params["layer"]
        return self.layers_outputs(patches, [layer])[layer]

    def layers_outputs(self, patches: Sequence[Sequence[np.ndarray]], layers: Sequence[str]) -> dict[str, list[np.ndarray]]:
        """Activations of each of ``layers`` from one pass, ``[P_i, D]`` float32 per track's patches ``[P_i, 187, 96]``.

        The patches of all tracks share forward passes of :attr:`forward_batch`. On CPU the
        passes run side by side on ``torch.get_num_threads()`` worker threads, each with
        single-threaded torch operators (the setting is restored afterwards): small independent
        passes keep the cores busy without the per-operator thread barriers that made 2-thread
        operators 5x slower than 1 thread on a shared 2-core machine.
        """
        import torch

        network = self.model()
        until = "taggram" if set(layers) - set(POOLED_LAYERS) else "max_pool"

        def forward(batch: "torch.Tensor") -> "torch.Tensor":
            activations = network(batch, until=until)
            return torch.cat([activations[layer] for layer in layers], dim=1)

        outputs = self.run_windows(patches, forward, self._side_by_side if self.device.type == "cpu" else map)
        total = sum(LAYER_DIMS[layer] for layer in layers)
        stacked = [np.stack(rows) if rows else np.zeros((0, total), np.float32) for rows in outputs]
        bounds = np.cumsum([0] + [LAYER_DIMS[layer] for layer in layers])
        return {layer: [np.ascontiguousarray(track[:, bounds[i]:bounds[i + 1]]) for track in stacked]
                for i, layer in enumerate(layers)}

    @staticmethod
    def _side_by_side(forward: Callable[[np.ndarray], np.ndarray], batches: Iterable[np.ndarray]) -> list[np.ndarray]:
        """``map`` over a thread per core, with single-threaded torch operators while it runs."""
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                return list(pool.map(forward, batches))
        finally:
            torch.set_num_threads(threads)

    def embed_prepared(self, inputs: Sequence[PreparedAudio]) -> list[Embedding]:
        """All patches of the batch go through the network together, then are split back per track."""
        return self.embed_layers(inputs, [self.params["layer"]])[self.params["layer"]]

    def embed_layers(self, inputs: Sequence[PreparedAudio], layers: Sequence[str]) -> dict[str, list[Embedding]]:
        by_layer = self.layers_outputs([p.patches for p in inputs], layers)
        return {layer: [mean_pooled(f, p.centres, p.duration) for f, p in zip(frames, inputs)]
                for layer, frames in by_layer.items()}


def top_tags(path: str | Path, model: str = "MTT", k: int = 10) -> list[tuple[str, float]]:
    """The ``k`` most likely tags of an audio file: the taggram averaged over its 3-s patches.

    >>> top_tags("song.mp3", model="MSD", k=3)  # doctest: +SKIP
    [('rock', 0.61), ('alternative', 0.32), ('indie', 0.27)]
    """
    encoder = MusicnnEncoder(model=model, layer="taggram")
    audio = load_audio(path, SAMPLE_RATE)
    patches, _ = audio_patches(audio, encoder.hop, who=str(path))
    mean = encoder.layer_outputs([patches])[0].mean(axis=0)
    order = np.argsort(-mean, kind="stable")[:k]
    return [(TAGS[model][i], float(mean[i])) for i in order]

