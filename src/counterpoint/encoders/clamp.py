"""CLaMP 2 and CLaMP 3 (symbolic branch): MIDI → MTF → M3 patches → joint-space embeddings.

Both models embed a score with the same M3 encoder (:mod:`counterpoint.encoders.m3`) followed
by a linear projection into the space they share with text (and, for CLaMP 3, audio). Only
the checkpoint key prefixes, the weight files and one detail of the MIDI converter differ.

Long pieces follow the reference extractors (:mod:`counterpoint.encoders.segments`): the patch
sequence is cut into windows of ``patch_length`` patches, the last window taken from the end
of the piece; each window's patch states are mask-averaged and projected, and the pooled
vector is the mean of the windows' vectors weighted by how many new patches each window
brings. Frames are one per patch, in the joint space (the projection applied to each patch's
last hidden state, so a window's mean frame is exactly its projected vector), stitched across
windows the same way. A frame's time is the middle of its patch: the mean of the onsets
(seconds, from the MIDI delta ticks and tempo map) of the first and last MIDI message the
patch holds; the opening special patch is at 0 s, the closing one at the end of the MIDI.

``layer`` picks what is returned: ``proj``, the joint space above (the default), or one of M3's
hidden states ``0 .. num_hidden_layers`` (768-d, before the projection; frames one per patch,
pooled the same window-weighted mean of mask-averaged windows); ``layers=all`` stores several
from one pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from counterpoint.data.manifest import Track
from counterpoint.encoders.base import Embedding, LayeredEncoder, Parameter, layers_parameter
from counterpoint.encoders.clamp_weights import CLAMP2_WEIGHTS, CLAMP3_C2_WEIGHTS, CLAMP3_SAAS_WEIGHTS, load_branch
from counterpoint.encoders.segments import run_segmented
from counterpoint.encoders.torch_base import TorchEncoder, runtime_parameters
from counterpoint.encoders.weights import WeightFile, file_digest, first_missing, resolve_weights
from counterpoint.errors import TrackError, WeightsError

#: The ``layer`` of the joint CLaMP space: the projection of M3's last hidden state.
PROJECTED = "proj"


def m3_features(model: Any, patches: Sequence[np.ndarray], *, forward_batch: int = 4,
                device: Any = "cpu") -> list[tuple[np.ndarray, np.ndarray]]:
    """Reference ``extract_feature`` for symbolic input, for several pieces at once.

    ``model`` is an :class:`~counterpoint.encoders.m3.M3WithProjection`; ``patches`` int64
    ``[N_i, patch_size]`` per piece. Returns per piece ``(patch_features [N_i, hidden],
    global_embedding [projection])``: the last hidden state of every patch (extract_feature
    without normalize) and the window-weighted mean of the projected, mask-averaged windows
    (with normalize).
    """
    import torch

    config = model.config
    items = [torch.as_tensor(np.asarray(p, dtype=np.int64)) for p in patches]
    pad = torch.zeros(config.patch_size, dtype=torch.int64)
    return run_segmented(items, config.patch_length, model, forward_batch=forward_batch, pad_item=pad, device=device)


@dataclass(frozen=True)
class PreparedScore:
    """One MIDI file ready for M3: patches ``[N, patch_size]``, patch times (s) ``[N]``, duration (s)."""

    patches: np.ndarray
    times: np.ndarray
    duration: float


def patch_times(first_line: np.ndarray, last_line: np.ndarray, line_seconds: np.ndarray, *,
                duration: float) -> np.ndarray:
    """Middle of each patch in seconds; special patches (line -1) at 0 s (opening) and ``duration`` (closing)."""
    first = np.where(first_line >= 0, line_seconds[np.maximum(first_line, 0)], np.nan)
    last = np.where(last_line >= 0, line_seconds[np.maximum(last_line, 0)], np.nan)
    times = (first + last) / 2.0
    special = first_line < 0
    times[special] = 0.0
    if special.any() and special[-1] and len(times) > 1:
        times[-1] = duration
    return times


class M3ClampEncoder(TorchEncoder, LayeredEncoder):
    """Shared code of CLaMP 2 and CLaMP 3's symbolic branch (subclasses set the class attributes)."""

    modality = "symbolic"
    #: checkpoint prefix → module prefix of the branch in the published checkpoint
    prefixes: ClassVar[dict[str, str]]
    #: which reference MIDI→MTF converter the model was trained with ("clamp2" / "clamp3")
    converter: ClassVar[str]
    common_parameters: ClassVar[dict[str, Parameter]] = {
        "weights": Parameter("", "path of a checkpoint (.pth or .safetensors); default: the official file"),
        "config": Parameter("", "path of a JSON M3Config for a non-standard model; default: the full-size model"),
        "layer": Parameter(PROJECTED, f"what to return: {PROJECTED} (the joint space) or one of M3's hidden states "
                                      "0..12 (0: its embeddings, 12: its last layer; fewer for a smaller config=)"),
        "layers": layers_parameter(f"0|6|12|{PROJECTED}"),
        **runtime_parameters(batch_size=4, forward_batch=4, forward_help="windows of patch_length patches"),
    }

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        from counterpoint.encoders.m3 import M3Config

        self.config = M3Config.from_json(self.params["config"]) if self.params["config"] else M3Config()
        if self.params["weights"] and not Path(self.params["weights"]).expanduser().exists():
            raise WeightsError(f"encoder {self.name}: weights file {self.params['weights']} not found — check the path in weights=...")

    @classmethod
    def weight_file(cls, params: dict[str, Any]) -> WeightFile:
        """The official weights file for these parameters."""
        raise NotImplementedError

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return first_missing([cls.weight_file({k: p.default for k, p in cls.parameters.items()})])

    @property
    def dim(self) -> int:
        return self.config.projection_size if self.params["layer"] == PROJECTED else self.config.hidden_size

    def layer_names(self) -> list[str]:
        return [str(i) for i in range(self.config.num_hidden_layers + 1)] + [PROJECTED]

    def fingerprint(self) -> dict[str, Any]:
        """The fingerprint; ``layer`` only when it is not the joint space, so stores made before
        the encoder had layers stay valid."""
        fingerprint = super().fingerprint()
        if self.params["layer"] == PROJECTED:
            fingerprint["params"].pop("layer")
        return fingerprint

    def weights_path(self) -> Path:
        return resolve_weights(self.weight_file(self.params), self.params["weights"])

    def weights_digest(self) -> str | None:
        return file_digest(self.weights_path())

    def build_model(self) -> Any:
        """The M3 encoder with its projection, this model's branch of the checkpoint loaded."""
        from counterpoint.encoders.m3 import M3WithProjection

        model = M3WithProjection(self.config)
        load_branch(model, self.weights_path(), self.prefixes)
        return self.on_device(model)

    def prepare(self, track: Track) -> PreparedScore:
        from counterpoint.encoders.m3 import M3Patchilizer
        from counterpoint.encoders.mtf import midi_to_mtf

        if track.midi_path is None:
            raise TrackError(f"track {track.id!r}: has no MIDI file — {self.name} embeds MIDI; give midi_filename")
        mtf = midi_to_mtf(track.midi_path, self.converter, track.id)
        patches = M3Patchilizer(self.config.patch_size).encode(mtf.text, add_special_patches=True)
        times = patch_times(patches.first_line, patches.last_line, mtf.line_seconds, duration=mtf.duration)
        return PreparedScore(patches.ids, times, mtf.duration)

    def embed_prepared(self, inputs: Sequence[PreparedScore]) -> list[Embedding]:
        layer = str(self.params["layer"])
        return self.embed_layers(inputs, [layer])[layer]

    def embed_layers(self, inputs: Sequence[PreparedScore], layers: Sequence[str]) -> dict[str, list[Embedding]]:
        """One pass of M3 over every window; per layer, the Embeddings ``layer=X`` gives (``proj``: frames
        are the projected last hidden states, pooled the reference's projected window mean)."""
        import torch

        from counterpoint.encoders.m3 import masked_mean

        model = self.model()
        last = self.config.num_hidden_layers
        states = [last if layer == PROJECTED else int(layer) for layer in layers]

        def forward(patches: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            hidden = model.encoder.hidden_states(patches, mask)
            pooled = [model.proj(masked_mean(hidden[last], mask)) if layer == PROJECTED else masked_mean(hidden[s], mask)
                      for layer, s in zip(layers, states)]
            return torch.cat([hidden[s] for s in states], dim=-1), torch.cat(pooled, dim=-1)

        pad = torch.zeros(self.config.patch_size, dtype=torch.int64)
        items = [torch.as_tensor(np.asarray(p.patches, dtype=np.int64)) for p in inputs]
        results = run_segmented(items, self.config.patch_length, forward, forward_batch=self.forward_batch,
                                pad_item=pad, device=self.device)
        hidden_size = self.config.hidden_size
        by_layer: dict[str, list[Embedding]] = {layer: [] for layer in layers}
        with torch.inference_mode():
            for prepared, (hidden, pooled) in zip(inputs, results):
                offset = 0
                for index, layer in enumerate(layers):
                    frames = hidden[:, index * hidden_size:(index + 1) * hidden_size]
                    size = self.config.projection_size if layer == PROJECTED else hidden_size
                    if layer == PROJECTED:
                        frames = model.proj(torch.from_numpy(np.ascontiguousarray(frames)).to(self.device)).float().cpu().numpy()
                    by_layer[layer].append(Embedding(frames, prepared.times, pooled[offset:offset + size], prepared.duration))
                    offset += size
        return by_layer


class Clamp2Encoder(M3ClampEncoder):
    """CLaMP 2's music encoder (M3, 768-d joint text–music space) on MIDI."""

    name = "clamp2"
    weight_files = (CLAMP2_WEIGHTS,)
    requirements = f"torch and transformers; the CLaMP 2 checkpoint ({CLAMP2_WEIGHTS.size_text}): `counterpoint weights fetch clamp2`"
    description = "CLaMP 2 symbolic encoder (M3 over MTF patches), 768-d text-music space"
    parameters = dict(M3ClampEncoder.common_parameters)
    prefixes = {"music_model.": "encoder.", "music_proj.": "proj."}
    converter = "clamp2"

    @classmethod
    def weight_file(cls, params: dict[str, Any]) -> WeightFile:
        return CLAMP2_WEIGHTS


class Clamp3SymbolicEncoder(M3ClampEncoder):
    """CLaMP 3's symbolic encoder (M3) on MIDI, in the space CLaMP 3 shares with audio and text."""

    name = "clamp3-symbolic"
    weight_files = (CLAMP3_SAAS_WEIGHTS, CLAMP3_C2_WEIGHTS)
    requirements = (f"torch and transformers; the CLaMP 3 checkpoint of the variant ({CLAMP3_SAAS_WEIGHTS.size_text} "
                    "each): `counterpoint weights fetch clamp3` (saas) or `clamp3-c2`")
    joint_space = "clamp3"
    joint_space_parameters = ("variant",)
    description = "CLaMP 3 symbolic encoder (M3 over MTF patches), 768-d audio-score-text space"
    parameters = {
        "variant": Parameter("saas", "official checkpoint: saas (shared with the audio branch, recommended) "
                             "or c2 (tuned for symbolic retrieval)", choices=("saas", "c2")),
        **M3ClampEncoder.common_parameters,
    }
    prefixes = {"symbolic_model.": "encoder.", "symbolic_proj.": "proj."}
    converter = "clamp3"

    @classmethod
    def weight_file(cls, params: dict[str, Any]) -> WeightFile:
        return CLAMP3_C2_WEIGHTS if params.get("variant") == "c2" else CLAMP3_SAAS_WEIGHTS
