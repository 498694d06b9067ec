"""MERT-v1-95M: a HuBERT-style music model giving 768-dim frames at 75 Hz from 24 kHz audio.

The published model (``m-a-p/MERT-v1-95M``) ships its own ``MERTModel`` class and needs
``trust_remote_code``. We never run that code: for MERT-v1-95M the class is exactly
``transformers``' :class:`~transformers.HubertModel` with a layer norm before the feature
projection (``feat_proj_layer_norm``) — no CQT branch, no DeepNorm, no attention relaxation
(``configuration_MERT.py`` / ``modeling_MERT.py`` of the Hub repository). So we build a
``HubertModel`` from the published ``config.json`` and load ``pytorch_model.bin`` into it
through :func:`map_official_keys`, which renames the only keys that differ (the weight-norm
halves of the positional convolution) and refuses a checkpoint whose keys do not all land.

Input handling follows the model card and CLaMP 3's ``extract_mert.py``: mono audio at the
model's rate (24 kHz) — a file at another rate is resampled with ``torchaudio.transforms.Resample``'s
windowed sinc, as both do (:data:`~counterpoint.data.resample.TORCHAUDIO_SINC_HANN`, reproduced
without torchaudio) — normalised once over the whole file to zero mean and unit variance
(the ``Wav2Vec2FeatureExtractor`` with ``do_normalize=True``), then cut into non-overlapping
windows (5 s by default, the length MERT was trained on) that run through the model one by
one; their frames are concatenated. ``layer`` picks one of the 13 hidden states (0 = the
input of the first transformer layer, 12 = the last) or ``all-mean``, their average.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Sequence

import numpy as np

from counterpoint.data.resample import TORCHAUDIO_SINC_HANN, Resampler
from counterpoint.encoders.base import AudioEncoder, Embedding, Parameter
from counterpoint.encoders.devices import DEVICE_CHOICES, select_device
from counterpoint.encoders.weights import WeightFile, declare_weights, first_missing, resolve_weights, sha256_of
from counterpoint.errors import EncoderError, TrackError, WeightsError

if TYPE_CHECKING:
    import torch

MERT_REPO = "m-a-p/MERT-v1-95M"
MERT_CONFIG = WeightFile("mert", "config.json", repo_id=MERT_REPO)
MERT_CHECKPOINT = WeightFile("mert", "pytorch_model.bin", repo_id=MERT_REPO)
declare_weights(MERT_CONFIG, MERT_CHECKPOINT)

#: Weight file names a local Hugging Face folder may hold, in the order we prefer them.
CHECKPOINT_NAMES = ("model.safetensors", "pytorch_model.bin")
#: Prefixes a saved MERT state dict may carry (``base_model_prefix`` of the published classes).
KEY_PREFIXES = ("mert_model.", "music_hubert.", "hubert.")
#: The positional convolution's weight norm: old ``torch.nn.utils.weight_norm`` names and the
#: parametrization names newer torch uses. Published checkpoints hold the old ones.
WEIGHT_NORM_NAMES = {"weight_g": "parametrizations.weight.original0", "weight_v": "parametrizations.weight.original1"}
#: ``Wav2Vec2FeatureExtractor.zero_mean_unit_var_norm`` adds this to the variance.
NORM_EPSILON = 1e-7


# ------------------------------------------------------------------------ loading


def read_state_dict(path: str | Path) -> dict[str, "torch.Tensor"]:
    """Tensors of a ``.safetensors`` file or a PyTorch pickle (read with ``weights_only=True``)."""
    import torch

    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt or truncated files raise many types
        raise WeightsError(f"{path}: cannot read the weights ({type(exc).__name__}: {exc}) — "
                           "the file is corrupt or incomplete; delete it and fetch it again") from exc
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    if not isinstance(state, dict):
        raise WeightsError(f"{path}: holds a {type(state).__name__}, not a state dict of tensors")
    return state


def hubert_config_from_mert(values: dict[str, Any], source: str = "config") -> Any:
    """A :class:`transformers.HubertConfig` equal in architecture to a MERT ``config.json``.

    Raises WeightsError for MERT variants that HubertModel cannot express (CQT features,
    DeepNorm residuals, relaxed attention — the 330M model and experimental ones).
    """
    from transformers import HubertConfig

    unsupported = [name for name, bad in (
        ("feature_extractor_cqt", bool(values.get("feature_extractor_cqt", False))),
        ("deepnorm", bool(values.get("deepnorm", False))),
        ("attention_relax", float(values.get("attention_relax", -1.0)) > 0),
    ) if bad]
    if unsupported:
        raise WeightsError(f"{source}: this MERT variant uses {', '.join(unsupported)}, which the MERT encoder does "
                           "not implement — use MERT-v1-95M (m-a-p/MERT-v1-95M)")
    ignored = {"model_type", "architectures", "auto_map", "_name_or_path", "transformers_version", "torch_dtype",
               "feature_extractor_cqt", "feature_extractor_cqt_bins", "deepnorm", "attention_relax", "sample_rate"}
    config = HubertConfig(**{k: v for k, v in values.items() if k not in ignored})
    config.feat_proj_layer_norm = bool(values.get("feat_proj_layer_norm", True))  # MERTConfig's default
    config.layer_norm_eps = float(values.get("layer_norm_eps", 1e-5))
    return config


def _canonical_key(key: str) -> str:
    for prefix in KEY_PREFIXES:
        if key.startswith(prefix):
            key = key[len(prefix):]
            break
    for old, new in WEIGHT_NORM_NAMES.items():
        key = key.replace(f"conv.{new}", f"conv.{old}")
    return key


def map_official_keys(state: dict[str, Any], model_keys: Sequence[str], source: str = "checkpoint") -> dict[str, Any]:
    """Rename a published MERT state dict to the keys of our ``HubertModel``.

    Every model key must receive a tensor and every checkpoint tensor must find a key;
    otherwise WeightsError lists what is missing or left over.
    """
    by_canonical = {_canonical_key(k): k for k in model_keys}
    mapped: dict[str, Any] = {}
    leftover: list[str] = []
    for key, value in state.items():
        target = by_canonical.get(_canonical_key(key))
        if target is None:
            leftover.append(key)
        else:
            mapped[target] = value
    missing = sorted(set(model_keys) - set(mapped))
    if missing or leftover:
        raise WeightsError(f"{source}: does not match the MERT architecture of its config — "
                           f"missing {len(missing)} tensor(s) {missing[:5]}, unexpected {len(leftover)} {leftover[:5]}; "
                           "check that config.json and the weights come from the same model")
    return mapped


@dataclass(frozen=True)
class MertFiles:
    """The config and checkpoint a MERT model is loaded from."""

    config: Path
    checkpoint: Path


def locate_mert(weights: str = "", config: str = "") -> MertFiles:
    """Find the config and checkpoint: a folder, a file (+ ``config``), or the declared files."""
    if weights:
        path = Path(weights).expanduser()
        if path.is_dir():
            checkpoint = next((path / n for n in CHECKPOINT_NAMES if (path / n).exists()), None)
            if checkpoint is None:
                raise WeightsError(f"weights folder {path} holds none of {', '.join(CHECKPOINT_NAMES)} — "
                                   f"download {MERT_REPO} into it, or run `counterpoint weights fetch mert`")
            config_path = Path(config).expanduser() if config else path / "config.json"
        else:
            checkpoint = resolve_weights(MERT_CHECKPOINT, path)
            config_path = Path(config).expanduser() if config else path.with_name("config.json")
        if not config_path.exists():
            raise WeightsError(f"MERT config {config_path} not found — give config=PATH.json (the config.json of {MERT_REPO})")
        return MertFiles(config_path, checkpoint)
    config_path = Path(config).expanduser() if config else resolve_weights(MERT_CONFIG)
    if not config_path.exists():
        raise WeightsError(f"MERT config {config_path} not found — check the path given in config=...")
    return MertFiles(config_path, resolve_weights(MERT_CHECKPOINT))


def read_config(path: Path) -> dict[str, Any]:
    try:
        values = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise WeightsError(f"{path}: cannot read the MERT config ({exc}) — it must be the model's config.json") from exc
    if not isinstance(values, dict):
        raise WeightsError(f"{path}: is not a JSON object — it must be the model's config.json")
    return values


@lru_cache(maxsize=8)
def _cached_digest(path: str, size: int, mtime: float) -> str:
    return sha256_of(path)


def file_digest(path: Path) -> str:
    """SHA-256 of a weights file, computed once per (path, size, modification time)."""
    stat = path.stat()
    return _cached_digest(str(path), stat.st_size, stat.st_mtime)


def receptive_field(kernels: Sequence[int], strides: Sequence[int]) -> tuple[int, int]:
    """(receptive field, hop) in samples of a stack of 1-D convolutions."""
    field, hop = 1, 1
    for kernel, stride in zip(kernels, strides):
        field += (kernel - 1) * hop
        hop *= stride
    return field, hop


class MertModel:
    """A loaded MERT network plus the input handling its authors use.

    ``hidden_states(windows)`` returns every window's 13 hidden states; windows of equal
    length run together in batches of ``batch_size``.
    """

    def __init__(self, files: MertFiles, device: "torch.device", batch_size: int) -> None:
        from transformers import HubertModel

        values = read_config(files.config)
        self.files = files
        self.sample_rate = int(values.get("sample_rate", 24000))
        self.config = hubert_config_from_mert(values, str(files.config))
        model = HubertModel(self.config)
        state = map_official_keys(read_state_dict(files.checkpoint), list(model.state_dict()), str(files.checkpoint))
        model.load_state_dict(state, strict=True)
        self.model = model.eval().to(device)
        self.device = device
        self.batch_size = max(1, int(batch_size))
        self.field, self.hop = receptive_field(self.config.conv_kernel, self.config.conv_stride)

    @property
    def num_layers(self) -> int:
        """Number of hidden states the model returns (transformer layers + 1)."""
        return int(self.config.num_hidden_layers) + 1

    @property
    def hidden_size(self) -> int:
        return int(self.config.hidden_size)

    def frame_times(self, start_sample: int, n_frames: int) -> np.ndarray:
        """Centres (s) of ``n_frames`` frames of a window starting at ``start_sample``."""
        return (start_sample + np.arange(n_frames) * self.hop + self.field / 2) / self.sample_rate

    def run(self, windows: Sequence[np.ndarray], reduce: Callable[["torch.Tensor"], "torch.Tensor"]) -> list[np.ndarray]:
        """Run each normalised window through the model; ``reduce`` maps the stacked hidden
        states ``[L, B, T, H]`` of a batch to one array per window (first axis B)."""
        import torch

        results: list[np.ndarray | None] = [None] * len(windows)
        by_length: dict[int, list[int]] = {}
        for index, window in enumerate(windows):
            by_length.setdefault(len(window), []).append(index)
        for indices in by_length.values():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start:start + self.batch_size]
                batch = torch.from_numpy(np.stack([windows[i] for i in chunk])).to(self.device)
                with torch.inference_mode():
                    states = torch.stack(self.model(batch, output_hidden_states=True).hidden_states)
                    reduced = reduce(states).float().cpu().numpy()
                for row, index in enumerate(chunk):
                    results[index] = reduced[row]
        return [r for r in results if r is not None]


def normalise_waveform(waveform: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance over the whole file, as ``Wav2Vec2FeatureExtractor`` does."""
    from transformers import Wav2Vec2FeatureExtractor

    return Wav2Vec2FeatureExtractor.zero_mean_unit_var_norm([waveform.astype(np.float32)], attention_mask=None)[0]


def window_starts(n_samples: int, window: int, min_tail: int) -> list[int]:
    """Start samples of non-overlapping windows; a last window shorter than ``min_tail``
    samples is dropped (the first window is always kept when it is long enough)."""
    starts = list(range(0, n_samples, window))
    if starts and n_samples - starts[-1] < min_tail:
        starts.pop()
    return starts


@dataclass
class PreparedAudio:
    """A decoded, normalised waveform and what it came from."""

    waveform: np.ndarray
    duration: float
    source: str


class MertEncoder(AudioEncoder):
    """MERT-v1-95M frames (768-dim, 75 Hz) of one layer or the mean of all 13; pooled = mean over time."""

    name: ClassVar[str] = "mert"
    description: ClassVar[str] = "MERT-v1-95M self-supervised music model: 768-dim frames at 75 Hz, mean-pooled"
    requirements: ClassVar[str] = (f"torch + transformers and the {MERT_REPO} weights (config.json, pytorch_model.bin, "
                                   "about 380 MB): `counterpoint weights fetch mert`, or weights=DIR of a local copy")
    default_batch_size: ClassVar[int] = 4
    code_version: ClassVar[str] = "1"
    resampler: ClassVar[Resampler] = TORCHAUDIO_SINC_HANN
    parameters: ClassVar[dict[str, Parameter]] = {
        "layer": Parameter("all-mean", "hidden state to return: 0..12, or all-mean for the average of all 13"),
        "window": Parameter(5.0, "length in seconds of the windows long audio is cut into"),
        "weights": Parameter("", "local Hugging Face folder of the model, or its weights file (.bin/.safetensors)"),
        "config": Parameter("", "the model's config.json, when weights= names a single file"),
        "batch_size": Parameter(4, "windows run through the model at once"),
        "device": Parameter("cpu", "cpu or cuda", DEVICE_CHOICES),
    }

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        layer = str(self.params["layer"])
        if layer != "all-mean" and not layer.lstrip("-").isdigit():
            raise EncoderError(f"encoder mert: layer={layer!r} is neither an integer nor all-mean")
        if float(self.params["window"]) <= 0:
            raise EncoderError(f"encoder mert: window={self.params['window']} must be a positive number of seconds")
        self._files: MertFiles | None = None
        self._model: MertModel | None = None

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return first_missing((MERT_CONFIG, MERT_CHECKPOINT), "weights=DIR")

    def files(self) -> MertFiles:
        if self._files is None:
            self._files = locate_mert(self.params["weights"], self.params["config"])
        return self._files

    def load(self) -> None:
        self.model()

    def model(self) -> MertModel:
        if self._model is None:
            device = select_device(self.params["device"], self.name)
            self._model = MertModel(self.files(), device, self.params["batch_size"])
            layer = str(self.params["layer"])
            if layer != "all-mean" and not 0 <= int(layer) < self._model.num_layers:
                raise EncoderError(f"encoder mert: layer={layer} is out of range — this model has hidden states "
                                   f"0..{self._model.num_layers - 1}, or use layer=all-mean")
        return self._model

    @property
    def dim(self) -> int:
        if self._model is not None:
            return self._model.hidden_size
        return int(read_config(self.files().config).get("hidden_size", 768))

    @property
    def sample_rate(self) -> int:
        """The model's input rate in Hz (``sample_rate`` of its config.json, 24000 for MERT-v1-95M)."""
        return self.model().sample_rate

    def weights_digest(self) -> str | None:
        return file_digest(self.files().checkpoint)

    def prepare_waveform(self, waveform: np.ndarray, source: str) -> PreparedAudio:
        model = self.model()
        if len(waveform) < model.field:
            raise TrackError(f"{source}: {len(waveform)} samples is shorter than one "
                             f"MERT frame ({model.field} samples at {model.sample_rate} Hz) — remove the track")
        return PreparedAudio(normalise_waveform(waveform), len(waveform) / model.sample_rate, source)

    def _reduce(self, states: "torch.Tensor") -> "torch.Tensor":
        """[L, B, T, H] → [B, T, H]: one hidden state or the mean of all of them."""
        layer = str(self.params["layer"])
        return states.mean(dim=0) if layer == "all-mean" else states[int(layer)]

    def embed_prepared(self, inputs: Sequence[PreparedAudio]) -> list[Embedding]:
        model = self.model()
        window = int(round(float(self.params["window"]) * model.sample_rate))
        pieces: list[tuple[int, int]] = []  # (input index, start sample)
        windows: list[np.ndarray] = []
        for index, item in enumerate(inputs):
            for start in window_starts(len(item.waveform), window, model.field):
                pieces.append((index, start))
                windows.append(item.waveform[start:start + window])
        outputs = model.run(windows, self._reduce)
        frames: list[list[np.ndarray]] = [[] for _ in inputs]
        times: list[list[np.ndarray]] = [[] for _ in inputs]
        for (index, start), out in zip(pieces, outputs):
            frames[index].append(out)
            times[index].append(model.frame_times(start, len(out)))
        embeddings = []
        for index, item in enumerate(inputs):
            stacked = np.concatenate(frames[index]).astype(np.float32)
            embeddings.append(Embedding(stacked, np.concatenate(times[index]), stacked.mean(axis=0), item.duration))
        return embeddings
