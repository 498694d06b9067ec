"""MERT's network as ``transformers``' HubertModel: its files, its key map, loading and input normalisation.

Shared by the ``mert`` and ``clamp3-audio`` encoders (CLaMP 3's audio branch reads MERT window
features). The published model (``m-a-p/MERT-v1-95M``) ships its own ``MERTModel`` class and needs
``trust_remote_code``. We never run that code: for MERT-v1-95M the class is exactly
``transformers``' :class:`~transformers.HubertModel` with a layer norm before the feature
projection (``feat_proj_layer_norm``) — no CQT branch, no DeepNorm, no attention relaxation
(``configuration_MERT.py`` / ``modeling_MERT.py`` of the Hub repository). So we build a
``HubertModel`` from the published ``config.json`` and load ``pytorch_model.bin`` into it
through :func:`map_official_keys`, which renames the only keys that differ (the weight-norm
halves of the positional convolution) and refuses a checkpoint whose keys do not all land.

The input is normalised once over the whole file to zero mean and unit variance
(:func:`normalise_waveform`, the ``Wav2Vec2FeatureExtractor`` with ``do_normalize=True``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from counterpoint.encoders.weights import WeightFile, estimated_size, resolve_weights, size_at_most
from counterpoint.errors import WeightsError

if TYPE_CHECKING:
    import torch

MERT_REPO = "m-a-p/MERT-v1-95M"
#: float32 values in the MERTModel state dict of MERT-v1-95M (a HubertModel at the published config.json,
#: ``masked_spec_embed`` included); tests/test_weight_sizes.py builds it on the meta device and checks the count.
MERT_VALUES = 94_371_712
MERT_CONFIG = WeightFile("mert", "config.json", repo_id=MERT_REPO,
                         size=size_at_most(10_000, "a transformers config of about 80 keys"))
MERT_CHECKPOINT = WeightFile("mert", "pytorch_model.bin", repo_id=MERT_REPO,
                             size=estimated_size(MERT_VALUES, "the MERT-v1-95M state dict"))

#: Weight file names a local Hugging Face folder may hold, in the order we prefer them.
CHECKPOINT_NAMES = ("model.safetensors", "pytorch_model.bin")
#: Prefixes a saved MERT state dict may carry (``base_model_prefix`` of the published classes).
KEY_PREFIXES = ("mert_model.", "music_hubert.", "hubert.")
#: The positional convolution's weight norm: old ``torch.nn.utils.weight_norm`` names and the
#: parametrization names newer torch uses. Published checkpoints hold the old ones.
WEIGHT_NORM_NAMES = {"weight_g": "parametrizations.weight.original0", "weight_v": "parametrizations.weight.original1"}


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


def receptive_field(kernels: Sequence[int], strides: Sequence[int]) -> tuple[int, int]:
    """(receptive field, hop) in samples of a stack of 1-D convolutions."""
    field, hop = 1, 1
    for kernel, stride in zip(kernels, strides):
        field += (kernel - 1) * hop
        hop *= stride
    return field, hop


class MertModel:
    """A loaded MERT network (:attr:`network`, a ``HubertModel`` on the CPU in eval mode) and its framing.

    The encoder using it puts :attr:`network` on its device and runs windows through
    :meth:`hidden_states`.
    """

    def __init__(self, files: MertFiles) -> None:
        from transformers import HubertModel

        values = read_config(files.config)
        self.files = files
        self.sample_rate = int(values.get("sample_rate", 24000))
        self.config = hubert_config_from_mert(values, str(files.config))
        network = HubertModel(self.config)
        state = map_official_keys(read_state_dict(files.checkpoint), list(network.state_dict()), str(files.checkpoint))
        network.load_state_dict(state, strict=True)
        self.network = network.eval()
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

    def hidden_states(self, windows: "torch.Tensor") -> "torch.Tensor":
        """Every hidden state of normalised windows ``[B, samples]``, stacked: ``[L, B, T, H]``."""
        import torch

        return torch.stack(self.network(windows, output_hidden_states=True).hidden_states)


def normalise_waveform(waveform: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance over the whole file, as ``Wav2Vec2FeatureExtractor`` does."""
    from transformers import Wav2Vec2FeatureExtractor

    return Wav2Vec2FeatureExtractor.zero_mean_unit_var_norm([waveform.astype(np.float32)], attention_mask=None)[0]
