"""OpenL3 audio embeddings in PyTorch, loading the original Keras ``.h5`` weight files.

OpenL3 (Cramer et al., ICASSP 2019, github ``marl/openl3``) embeds 1-second windows of
48 kHz audio with a VGG-like CNN trained by audio-visual correspondence. This module
re-implements the ``openl3==0.4.2`` audio path with its default ``kapre`` front end:

* input (``process_audio_file``): the file at its own rate, mixed to mono, resampled to 48 kHz
  with resampy's ``kaiser_best`` filter of the resampy version openl3 pins (``<0.3``), on
  float64 samples (:data:`~counterpoint.data.resample.RESAMPY_KAISER_BEST`);
* framing (``_preprocess_audio_batch``): with ``center`` the signal is left-padded by half a
  window, then right-padded so the last hop is complete; one window every ``hop`` seconds;
  timestamps are ``arange(T) * hop`` (window centres when ``center`` is True, window starts
  otherwise — exactly as the original returns them);
* front end (kapre 0.3 layers as built in ``openl3/models.py``): ``tf.signal.stft`` with a
  periodic Hann window and hop 242 samples; ``linear``: n_fft 512, no padding, 257 × 197;
  ``mel128``/``mel256``: n_fft 2048, end padding (``pad_end``) to 199 frames, magnitude
  through the librosa Slaney mel filter bank (power 1); then the kapre 0.1.4 decibel scaling
  openl3 re-installs: ``10·log10(max(S, 1e-10))`` minus the window's own maximum, floored
  at −80 dB;
* network: input batch norm, four conv blocks (64, 128, 256, 512 filters, 3×3 "same"
  convolutions, batch norm ε = 1e-3, ReLU, 2×2 max-pool after the first three), the last
  conv (``audio_embedding_layer``) without norm or ReLU, then a "same" max-pool whose size
  gives 512 or 6144 dimensions, flattened in Keras' channels-last order.

The weights are the published Keras files (``openl3_audio_<repr>_<content>.h5``, published
gzipped as ``…-v0_4_0.h5.gz`` and declared as such in :data:`WEIGHT_FILES`: found by the
weights resolution order in either form, or in an installed ``openl3`` package, whose setup
downloads them); they are read with h5py, in the order Keras' own ``load_weights`` uses, and
every array is checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from counterpoint.data.resample import RESAMPY_KAISER_BEST, Resampler
from counterpoint.encoders.base import AudioEncoder, Embedding, Parameter
from counterpoint.encoders.torch_base import TorchEncoder, runtime_parameters
from counterpoint.encoders.weights import WeightFile, estimated_size, file_digest, find_weights, resolve_weights
from counterpoint.encoders.windowing import mean_pooled
from counterpoint.errors import TrackError, WeightsError

SAMPLE_RATE = 48_000  #: Hz, the only rate the models know
WINDOW_SAMPLES = SAMPLE_RATE  #: one window is 1 second
SPECTROGRAM_HOP = 242  #: samples between spectrogram frames
INPUT_REPRS = ("linear", "mel128", "mel256")
CONTENT_TYPES = ("music", "env")
EMBEDDING_SIZES = (512, 6144)
BATCH_NORM_EPSILON = 1e-3  #: Keras' default, used by every BatchNormalization in openl3
DB_AMIN = 1e-10  #: floor of the magnitude before log10 (kapre 0.1.4 scaling)
DB_DYNAMIC_RANGE = 80.0  #: dB below the window's maximum that are kept
#: Output channels of the eight convolutions, in order.
CONV_CHANNELS = (64, 64, 128, 128, 256, 256, 512, 512)
#: Final max-pool (frequency, time) per input representation and embedding size (models.py).
FINAL_POOL_SIZES = {
    "linear": {6144: (8, 8), 512: (32, 24)},
    "mel128": {6144: (4, 8), 512: (16, 24)},
    "mel256": {6144: (8, 8), 512: (32, 24)},
}
#: Version tag of the files openl3>=0.4 downloads (``setup.py``: ``model_version_str``).
WEIGHTS_VERSION = "v0_4_0"
WEIGHTS_BASE_URL = "https://github.com/marl/openl3/raw/models/"


@dataclass(frozen=True)
class FrontEndConfig:
    """The spectrogram an input representation feeds the network."""

    n_fft: int
    n_mels: int | None  # None: linear-frequency magnitude spectrogram
    pad_end: bool  # tf.signal.stft(pad_end=...): pad so every hop starts a frame

    @property
    def n_bins(self) -> int:
        return self.n_mels if self.n_mels is not None else self.n_fft // 2 + 1

    @property
    def n_frames(self) -> int:
        """Spectrogram frames of one 1-second window."""
        if self.pad_end:
            return -(-WINDOW_SAMPLES // SPECTROGRAM_HOP)
        return 1 + (WINDOW_SAMPLES - self.n_fft) // SPECTROGRAM_HOP


FRONT_ENDS = {
    "linear": FrontEndConfig(n_fft=512, n_mels=None, pad_end=False),
    "mel128": FrontEndConfig(n_fft=2048, n_mels=128, pad_end=True),
    "mel256": FrontEndConfig(n_fft=2048, n_mels=256, pad_end=True),
}


def weight_filename(input_repr: str, content_type: str) -> str:
    """The name openl3 installs the weights of one model under, e.g. ``openl3_audio_mel256_music.h5``."""
    return f"openl3_audio_{input_repr}_{content_type}.h5"


def compressed_filename(input_repr: str, content_type: str) -> str:
    """The name of the gzipped file as published, e.g. ``openl3_audio_mel256_music-v0_4_0.h5.gz``."""
    return f"openl3_audio_{input_repr}_{content_type}-{WEIGHTS_VERSION}.h5.gz"


#: float32 values in each (unpacked) weight file: the kernels and biases of the eight convolutions and the
#: gamma, beta, moving mean and variance of the eight batch norms (the front end has none in the v0_4_0 files),
#: the same for every input representation; tests/test_weight_sizes.py counts them on the network built on the
#: meta device. The declared size is the unpacked file's, the one found and used (the .gz download is smaller).
KERAS_VALUES = 4_689_860
#: The files as published (``…-v0_4_0.h5.gz``); they are used unpacked (:func:`weight_filename`).
WEIGHT_FILES = {
    (repr_, content): WeightFile(
        model="openl3",
        filename=compressed_filename(repr_, content),
        url=f"{WEIGHTS_BASE_URL}{compressed_filename(repr_, content)}",
        size=estimated_size(KERAS_VALUES, "the Keras network's weights, unpacked"),
        package="openl3",
        unpacked=weight_filename(repr_, content),
    )
    for repr_ in INPUT_REPRS for content in CONTENT_TYPES
}


# ---------------------------------------------------------------------------------------
# Framing and timestamps (openl3/core.py)
# ---------------------------------------------------------------------------------------

def hop_samples(hop: float) -> int:
    """Samples between windows, ``int(hop * 48000)`` as the original."""
    return int(hop * SAMPLE_RATE)


def window_count(n_samples: int, hop: float, center: bool = True) -> int:
    """Number of 1-second windows openl3 cuts from ``n_samples`` samples (``_get_num_windows``)."""
    length = n_samples + (WINDOW_SAMPLES // 2 if center else 0)
    if length <= WINDOW_SAMPLES:
        return 1
    return 1 + int(np.ceil((length - WINDOW_SAMPLES) / float(hop_samples(hop))))


def window_timestamps(n_windows: int, hop: float) -> np.ndarray:
    """Seconds of each window as openl3 returns them: ``arange(T) * hop``."""
    return np.arange(n_windows) * hop


def frame_audio(audio: np.ndarray, hop: float, center: bool = True) -> np.ndarray:
    """Cut 48 kHz mono audio into overlapping 1-second windows ``[T, 48000]`` (a strided view).

    Mirrors ``_preprocess_audio_batch``: optional left padding by half a window, then zero
    padding at the end so every sample is covered.
    """
    audio = np.asarray(audio, dtype=np.float32).ravel()
    if audio.size == 0:
        raise ValueError("empty audio")
    step = hop_samples(hop)
    if step <= 0:
        raise ValueError(f"hop {hop} s is shorter than one sample at {SAMPLE_RATE} Hz")
    if center:
        audio = np.pad(audio, (WINDOW_SAMPLES // 2, 0))
    if audio.size < WINDOW_SAMPLES:
        pad = WINDOW_SAMPLES - audio.size
    else:
        pad = int(np.ceil((audio.size - WINDOW_SAMPLES) / float(step))) * step - (audio.size - WINDOW_SAMPLES)
    if pad > 0:
        audio = np.pad(audio, (0, pad))
    windows = np.lib.stride_tricks.sliding_window_view(audio, WINDOW_SAMPLES)[::step]
    return windows


# ---------------------------------------------------------------------------------------
# The network
# ---------------------------------------------------------------------------------------

def _torch():
    import torch

    return torch


def mel_filterbank(n_mels: int, n_fft: int) -> np.ndarray:
    """The Slaney-normalised mel filter bank kapre builds with librosa, ``[n_mels, n_fft//2+1]``."""
    import librosa

    return librosa.filters.mel(sr=SAMPLE_RATE, n_fft=n_fft, n_mels=n_mels, fmin=0.0, fmax=None,
                               htk=False, norm="slaney").astype(np.float32)


def build_network(input_repr: str, embedding_size: int) -> Any:
    """The OpenL3 audio network (front end + CNN + final pool) as a ``torch.nn.Module``."""
    torch = _torch()
    nn = torch.nn
    functional = torch.nn.functional

    class SpectrogramFrontEnd(nn.Module):
        """kapre 0.3 STFT → magnitude → (mel) → kapre 0.1.4 dB, ``[B, 48000]`` → ``[B, 1, F, T]``."""

        def __init__(self, config: FrontEndConfig) -> None:
            super().__init__()
            self.config = config
            # tf.signal.hann_window is periodic, like scipy's hann(sym=False)
            window = torch.hann_window(config.n_fft, periodic=True, dtype=torch.float64).float()
            self.register_buffer("window", window, persistent=False)
            if config.n_mels is not None:
                self.register_buffer("mel", torch.from_numpy(mel_filterbank(config.n_mels, config.n_fft)),
                                     persistent=False)
            else:
                self.mel = None

        def magnitude(self, waveforms: Any) -> Any:
            """``|STFT|`` as ``tf.signal.stft``: frames start at 0, ``[B, T, n_fft//2+1]``."""
            n_fft = self.config.n_fft
            if self.config.pad_end:
                n_frames = self.config.n_frames
                waveforms = functional.pad(waveforms, (0, (n_frames - 1) * SPECTROGRAM_HOP + n_fft - waveforms.shape[-1]))
            frames = waveforms.unfold(-1, n_fft, SPECTROGRAM_HOP) * self.window
            return torch.fft.rfft(frames, n=n_fft).abs()

        def forward(self, waveforms: Any) -> Any:
            spec = self.magnitude(waveforms)
            if self.mel is not None:
                spec = spec @ self.mel.T
            log_spec = 10.0 * torch.log10(torch.clamp(spec, min=DB_AMIN))
            log_spec = log_spec - log_spec.amax(dim=(1, 2), keepdim=True)
            log_spec = torch.clamp(log_spec, min=-DB_DYNAMIC_RANGE)
            return log_spec.transpose(1, 2).unsqueeze(1)  # [B, 1, freq, time]

    class OpenL3AudioNetwork(nn.Module):
        """Front end, input batch norm, 4 conv blocks, final max-pool, channels-last flatten."""

        def __init__(self) -> None:
            super().__init__()
            self.input_repr = input_repr
            self.embedding_size = embedding_size
            self.frontend = SpectrogramFrontEnd(FRONT_ENDS[input_repr])
            self.input_norm = nn.BatchNorm2d(1, eps=BATCH_NORM_EPSILON)
            convs, norms = [], []
            in_channels = 1
            for out_channels in CONV_CHANNELS:
                convs.append(nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1))
                norms.append(nn.BatchNorm2d(out_channels, eps=BATCH_NORM_EPSILON))
                in_channels = out_channels
            self.convs = nn.ModuleList(convs)
            self.norms = nn.ModuleList(norms[:-1])  # the embedding conv has no norm after it
            self.final_pool = FINAL_POOL_SIZES[input_repr][embedding_size]

        def keras_order(self) -> list[Any]:
            """Modules with weights in the order the Keras model creates them."""
            order: list[Any] = [self.input_norm]
            for index, conv in enumerate(self.convs):
                order.append(conv)
                if index < len(self.norms):
                    order.append(self.norms[index])
            return order

        def features(self, spectrogram: Any) -> Any:
            """The ``audio_embedding_layer`` output ``[B, 512, F', T']`` from ``[B, 1, F, T]``."""
            x = self.input_norm(spectrogram)
            for index, conv in enumerate(self.convs):
                x = conv(x)
                if index == len(self.convs) - 1:
                    break
                x = torch.relu(self.norms[index](x))
                if index in (1, 3, 5):
                    x = functional.max_pool2d(x, kernel_size=2, stride=2)
            return x

        def pool(self, features: Any) -> Any:
            """Keras ``MaxPooling2D(pool, padding='same')`` then ``Flatten`` (channels last)."""
            height, width = features.shape[-2:]
            pool_h, pool_w = self.final_pool
            out_h, out_w = -(-height // pool_h), -(-width // pool_w)
            pad_h = max((out_h - 1) * pool_h + pool_h - height, 0)
            pad_w = max((out_w - 1) * pool_w + pool_w - width, 0)
            if pad_h or pad_w:
                features = functional.pad(features, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2),
                                          value=float("-inf"))
            pooled = functional.max_pool2d(features, kernel_size=(pool_h, pool_w), stride=(pool_h, pool_w))
            return pooled.permute(0, 2, 3, 1).reshape(pooled.shape[0], -1)

        def forward(self, waveforms: Any) -> Any:
            """``[B, 48000]`` windows → ``[B, embedding_size]`` embeddings."""
            return self.pool(self.features(self.frontend(waveforms)))

    return OpenL3AudioNetwork().eval()


# ---------------------------------------------------------------------------------------
# Loading the Keras weight files
# ---------------------------------------------------------------------------------------

_BATCH_NORM_WEIGHTS = ("gamma", "beta", "moving_mean", "moving_variance")
_CONV_WEIGHTS = ("kernel", "bias")


def _text(value: Any) -> str:
    return value.decode("utf8") if isinstance(value, bytes) else str(value)


def _short_name(weight_name: str) -> str:
    """``conv2d_1/kernel:0`` → ``kernel``."""
    return weight_name.rsplit("/", 1)[-1].split(":", 1)[0]


@dataclass(frozen=True)
class KerasLayerWeights:
    """One layer of a Keras weight file: its name and its arrays by short name."""

    name: str
    arrays: dict[str, np.ndarray]
    paths: tuple[str, ...]  # HDF5 dataset paths, for the consumed-everything check


def read_keras_weights(path: str | Path) -> tuple[list[KerasLayerWeights], list[str], set[str]]:
    """Read a Keras 2 HDF5 weight file (``save_weights`` or full ``save`` layout).

    Returns the layers that hold weights in the file's order (the order Keras' own
    ``load_weights`` assigns them by), the names of skipped spectrogram layers (pre-0.4
    openl3 files stored kapre's fixed DFT/mel kernels), and every dataset path in the file.
    """
    import h5py

    path = Path(path)
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise WeightsError(f"{path}: not a readable HDF5 file ({exc}) — download the weights again") from exc
    with handle:
        group = handle
        if "layer_names" not in group.attrs and "model_weights" in group:
            group = group["model_weights"]
        if "layer_names" not in group.attrs:
            raise WeightsError(f"{path}: no 'layer_names' attribute — this is not a Keras weight file; "
                               f"use the openl3 file {weight_filename('mel256', 'music')} or its siblings")
        layers: list[KerasLayerWeights] = []
        skipped: list[str] = []
        for layer_name in map(_text, group.attrs["layer_names"]):
            weight_names = [_text(n) for n in group[layer_name].attrs.get("weight_names", [])]
            if not weight_names:
                continue
            if "spectrogram" in layer_name:
                skipped.append(layer_name)
                continue
            arrays, paths = {}, []
            for weight_name in weight_names:
                dataset = group[layer_name][weight_name]
                arrays[_short_name(weight_name)] = np.asarray(dataset[()])
                paths.append(dataset.name)
            layers.append(KerasLayerWeights(layer_name, arrays, tuple(paths)))
        datasets: set[str] = set()
        group.visititems(lambda name, obj: datasets.add(obj.name) if isinstance(obj, h5py.Dataset) else None)
        for layer_name in skipped:
            datasets = {d for d in datasets if not d.startswith(f"{group[layer_name].name}/")}
    return layers, skipped, datasets


def load_keras_weights(network: Any, path: str | Path) -> list[str]:
    """Copy the weights of a Keras openl3 audio file into ``network``; return the layer names used.

    Layers are matched in order, as Keras does (layer names differ between Keras versions);
    each must be of the expected kind with the expected shapes, and every dataset of the
    file must be used, else :class:`WeightsError` names the layer and the mismatch.
    """
    torch = _torch()
    path = Path(path)
    layers, _skipped, datasets = read_keras_weights(path)
    modules = network.keras_order()
    if len(layers) != len(modules):
        names = ", ".join(layer.name for layer in layers)
        raise WeightsError(f"{path}: {len(layers)} layers with weights ({names}), but the OpenL3 audio "
                           f"network has {len(modules)} (8 batch norms, 8 convolutions) — is this an openl3 "
                           "audio weight file (openl3_audio_<repr>_<content>.h5)?")
    used: set[str] = set()
    with torch.no_grad():
        for layer, module in zip(layers, modules):
            if isinstance(module, torch.nn.BatchNorm2d):
                expected = _BATCH_NORM_WEIGHTS
                targets = (module.weight, module.bias, module.running_mean, module.running_var)
                converted = [layer.arrays.get(k) for k in expected]
            else:
                expected = _CONV_WEIGHTS
                targets = (module.weight, module.bias)
                kernel = layer.arrays.get("kernel")
                converted = [None if kernel is None or kernel.ndim != 4 else kernel.transpose(3, 2, 0, 1),
                             layer.arrays.get("bias")]
            if set(layer.arrays) != set(expected):
                raise WeightsError(f"{path}: layer {layer.name!r} holds {sorted(layer.arrays)}, expected "
                                   f"{list(expected)} at this position — the file does not match the OpenL3 "
                                   "audio network")
            for key, target, array in zip(expected, targets, converted):
                if tuple(array.shape) != tuple(target.shape):
                    raw = layer.arrays[key].shape
                    raise WeightsError(f"{path}: {layer.name}/{key} has shape {raw}, expected "
                                       f"{tuple(target.shape)} (PyTorch layout) — wrong or damaged weight file")
                target.copy_(torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)))
            used.update(layer.paths)
    unused = sorted(datasets - used)
    if unused:
        raise WeightsError(f"{path}: {len(unused)} weight arrays were not used ({', '.join(unused[:5])}...) — "
                           "the file does not match the OpenL3 audio network")
    return [layer.name for layer in layers]


# ---------------------------------------------------------------------------------------
# The encoder
# ---------------------------------------------------------------------------------------

@dataclass
class PreparedAudio:
    """One track's 48 kHz mono waveform."""

    waveform: np.ndarray

    @property
    def duration(self) -> float:
        return self.waveform.size / SAMPLE_RATE


class OpenL3Encoder(TorchEncoder, AudioEncoder):
    """OpenL3 audio embeddings: one vector per 1-second window every ``hop`` seconds."""

    name: ClassVar[str] = "openl3"
    weight_files: ClassVar[tuple[WeightFile, ...]] = tuple(WEIGHT_FILES.values())
    hear_timestamp_hop: ClassVar[tuple[str, str] | None] = ("hop", "0.05")
    sample_rate: ClassVar[int] = SAMPLE_RATE
    resampler: ClassVar[Resampler] = RESAMPY_KAISER_BEST
    description: ClassVar[str] = ("OpenL3 (Look, Listen and Learn) audio embeddings, 512 or 6144 dims per "
                                  "1-second window; PyTorch port loading the original Keras weights")
    parameters: ClassVar[dict[str, Parameter]] = {
        "input_repr": Parameter("mel256", "spectrogram the model was trained on", INPUT_REPRS),
        "content_type": Parameter("music", "training content: music or environmental sound", CONTENT_TYPES),
        "embedding_size": Parameter(6144, "dimensions of each embedding", EMBEDDING_SIZES),
        "hop": Parameter(0.1, "seconds between windows, at least one sample", low=1 / SAMPLE_RATE),
        "center": Parameter(True, "pad half a window at the start so timestamps are window centres"),
        "weights": Parameter("", "path to openl3_audio_<repr>_<content>.h5; default: the published file, looked up"),
        **runtime_parameters(batch_size=8, forward_batch=32, forward_help="1-s windows"),
    }
    code_version: ClassVar[str] = "1"
    requirements: ClassVar[str] = ("torch, h5py, librosa, resampy, and the Keras weight file openl3_audio_<repr>_<content>.h5 "
                                   f"({WEIGHT_FILES['mel256', 'music'].size_text} each, unpacked) from github.com/marl/openl3 "
                                   "(branch 'models'), in $COUNTERPOINT_WEIGHTS_DIR/openl3/ or given with weights=PATH")

    @classmethod
    def unavailable_reason(cls) -> str | None:
        if any(find_weights(file) is not None for file in WEIGHT_FILES.values()):
            return None
        example = WEIGHT_FILES["mel256", "music"]
        return (f"no openl3 weight file found (e.g. {example.unpacked}, {example.size_text}) — download it from "
                f"{WEIGHTS_BASE_URL} into $COUNTERPOINT_WEIGHTS_DIR/openl3/")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._weights_path: Path | None = None

    @property
    def dim(self) -> int:
        return int(self.params["embedding_size"])

    @property
    def weights_path(self) -> Path:
        if self._weights_path is None:
            file = WEIGHT_FILES[(self.params["input_repr"], self.params["content_type"])]
            self._weights_path = resolve_weights(file, self.params["weights"])
        return self._weights_path

    def weights_digest(self) -> str | None:
        return file_digest(self.weights_path)

    def build_model(self) -> Any:
        network = build_network(self.params["input_repr"], self.params["embedding_size"])
        load_keras_weights(network, self.weights_path)
        return self.on_device(network)

    def prepare_waveform(self, waveform: np.ndarray, source: str) -> PreparedAudio:
        return PreparedAudio(waveform)

    def embed_windows(self, windows: np.ndarray) -> np.ndarray:
        """Embed 1-second windows ``[N, 48000]`` → ``[N, dim]`` float32, ``forward_batch`` at a time."""
        vectors = self.run_windows([list(windows)], self.model())[0]
        return np.stack(vectors) if vectors else np.zeros((0, self.dim), dtype=np.float32)

    def embed_waveforms(self, waveforms: Sequence[np.ndarray]) -> list[Embedding]:
        """Embed 48 kHz mono waveforms; windows of all of them share the forward passes.

        Windows stay strided views of each waveform until a batch of ``forward_batch`` is copied
        out, so memory grows with the batch, not with the length of the audio.
        """
        hop, center = self.params["hop"], self.params["center"]
        framed = []
        for waveform in waveforms:
            if np.asarray(waveform).size == 0:
                raise TrackError("openl3: got an empty waveform — every input needs at least one sample")
            framed.append(frame_audio(waveform, hop, center))
        outputs = self.run_windows(framed, self.model())
        return [mean_pooled(np.stack(vectors), window_timestamps(len(vectors), hop), np.asarray(waveform).size / SAMPLE_RATE)
                for waveform, vectors in zip(waveforms, outputs)]

    def embed_prepared(self, inputs: Sequence[PreparedAudio]) -> list[Embedding]:
        return self.embed_waveforms([item.waveform for item in inputs])
