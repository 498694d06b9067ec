"""MERT-v1-95M: a HuBERT-style music model giving 768-dim frames at 75 Hz from 24 kHz audio.

The network is ``transformers``' HubertModel loaded from the published files
(:mod:`counterpoint.encoders.hubert` says why and how). Input handling follows the model card
and CLaMP 3's ``extract_mert.py``: mono audio at the model's rate (24 kHz) — a file at another
rate is resampled with ``torchaudio.transforms.Resample``'s windowed sinc, as both do
(:data:`~counterpoint.data.resample.TORCHAUDIO_SINC_HANN`, reproduced without torchaudio) —
normalised once over the whole file to zero mean and unit variance, then cut into
non-overlapping windows (5 s by default, the length MERT was trained on) that run through the
model; their frames are concatenated. ``layer`` picks one of the 13 hidden states (0 = the
input of the first transformer layer, 12 = the last) or ``all-mean``, their average;
``layers=all`` (or ``layers=0|6|12``) stores several hidden states from one pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

import numpy as np

from counterpoint.data.resample import TORCHAUDIO_SINC_HANN, Resampler
from counterpoint.encoders.base import AudioEncoder, Embedding, LayeredEncoder, Parameter, layers_parameter
from counterpoint.encoders.hubert import (MERT_CHECKPOINT, MERT_CONFIG, MERT_REPO, MertFiles, MertModel, locate_mert,
                                          normalise_waveform, read_config)
from counterpoint.encoders.torch_base import TorchEncoder, runtime_parameters
from counterpoint.encoders.weights import WeightFile, file_digest, first_missing
from counterpoint.encoders.windowing import mean_pooled, window_starts
from counterpoint.errors import EncoderError, TrackError

if TYPE_CHECKING:
    import torch


@dataclass
class PreparedAudio:
    """A decoded, normalised waveform and what it came from."""

    waveform: np.ndarray
    duration: float
    source: str


class MertEncoder(TorchEncoder, LayeredEncoder, AudioEncoder):
    """MERT-v1-95M frames (768-dim, 75 Hz) of one layer or the mean of all 13; pooled = mean over time."""

    name: ClassVar[str] = "mert"
    weight_files: ClassVar[tuple[WeightFile, ...]] = (MERT_CONFIG, MERT_CHECKPOINT)
    description: ClassVar[str] = "MERT-v1-95M self-supervised music model: 768-dim frames at 75 Hz, mean-pooled"
    requirements: ClassVar[str] = (f"torch + transformers and the {MERT_REPO} weights (config.json, pytorch_model.bin "
                                   f"{MERT_CHECKPOINT.size_text}): `counterpoint weights fetch mert`, or weights=DIR of a "
                                   "local copy")
    code_version: ClassVar[str] = "1"
    resampler: ClassVar[Resampler] = TORCHAUDIO_SINC_HANN
    parameters: ClassVar[dict[str, Parameter]] = {
        "layer": Parameter("all-mean", "hidden state to return: 0..12, or all-mean for the average of all 13"),
        "layers": layers_parameter("0|6|12"),
        "window": Parameter(5.0, "length in seconds of the windows long audio is cut into", low=0.0, closed="right"),
        "weights": Parameter("", "local Hugging Face folder of the model, or its weights file (.bin/.safetensors)"),
        "config": Parameter("", "the model's config.json, when weights= names a single file"),
        **runtime_parameters(batch_size=4, forward_batch=4, forward_help="windows"),
    }

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        layer = str(self.params["layer"])
        if layer != "all-mean" and not layer.lstrip("-").isdigit():  # the form of the value; its range depends on the model
            raise EncoderError(f"encoder mert: layer={layer!r} is neither an integer nor all-mean")
        self._files: MertFiles | None = None

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return first_missing((MERT_CONFIG, MERT_CHECKPOINT), "weights=DIR")

    def files(self) -> MertFiles:
        if self._files is None:
            self._files = locate_mert(self.params["weights"], self.params["config"])
        return self._files

    def build_model(self) -> MertModel:
        mert = MertModel(self.files())
        layer = str(self.params["layer"])
        if layer != "all-mean" and not 0 <= int(layer) < mert.num_layers:
            raise EncoderError(f"encoder mert: layer={layer} is out of range — this model has hidden states "
                               f"0..{mert.num_layers - 1}, or use layer=all-mean")
        self.on_device(mert.network)
        return mert

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

    def layer_names(self) -> list[str]:
        """The hidden states ``0 .. num_hidden_layers`` of the model's config."""
        layers = int(read_config(self.files().config).get("num_hidden_layers", 12)) + 1
        return [str(i) for i in range(layers)]

    @staticmethod
    def _reduce(states: "torch.Tensor", layer: str) -> "torch.Tensor":
        """[L, B, T, H] → [B, T, H]: one hidden state or the mean of all of them (``all-mean``)."""
        return states.mean(dim=0) if layer == "all-mean" else states[int(layer)]

    def embed_prepared(self, inputs: Sequence[PreparedAudio]) -> list[Embedding]:
        layer = str(self.params["layer"])
        return self.embed_layers(inputs, [layer])[layer]

    def embed_layers(self, inputs: Sequence[PreparedAudio], layers: Sequence[str]) -> dict[str, list[Embedding]]:
        """Every window through the model once; per layer (a hidden state or ``all-mean``), one Embedding per input."""
        import torch

        model = self.model()
        window = int(round(float(self.params["window"]) * model.sample_rate))
        starts = [window_starts(len(item.waveform), window, model.field) for item in inputs]
        windows = [[item.waveform[s:s + window] for s in track_starts] for item, track_starts in zip(inputs, starts)]

        def forward(batch: "torch.Tensor") -> "torch.Tensor":  # [B, len(layers), T, H]
            states = model.hidden_states(batch)
            return torch.stack([self._reduce(states, layer) for layer in layers], dim=1)

        outputs = self.run_windows(windows, forward)
        by_layer: dict[str, list[Embedding]] = {layer: [] for layer in layers}
        for item, track_starts, track_outputs in zip(inputs, starts, outputs):
            times = np.concatenate([model.frame_times(s, out.shape[1]) for s, out in zip(track_starts, track_outputs)])
            for index, layer in enumerate(layers):
                frames = np.concatenate([out[index] for out in track_outputs]).astype(np.float32)
                by_layer[layer].append(mean_pooled(frames, times, item.duration))
        return by_layer
