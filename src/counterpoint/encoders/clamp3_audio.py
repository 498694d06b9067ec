"""CLaMP 3's audio branch: audio → MERT-v1-95M window features → BERT → the shared CLaMP 3 space.

The pipeline is the reference's (github.com/sanderwood/clamp3):

1. ``preprocessing/audio/extract_mert.py``: mono audio at 24 kHz (``MERT_utils.load_audio``:
   ``torchaudio.load``, channel mean, ``torchaudio.transforms.Resample`` — reproduced by
   :data:`~counterpoint.data.resample.TORCHAUDIO_SINC_HANN`), normalised once over the
   whole file (zero mean, unit variance), cut into non-overlapping 5-second windows; a last
   window shorter than 1 s is dropped. Each window runs through MERT-v1-95M and becomes one
   768-dim vector: the mean over time of each of the 13 hidden states, then the mean over
   the 13 (``layer=None, reduction="mean"`` and ``--mean_features``).
2. ``code/extract_clamp3.py``: a zero vector is put before and after the window vectors;
   the sequence is cut into segments of ``MAX_AUDIO_LENGTH`` = 128 (the last segment taken
   from the end), each segment runs through ``audio_model`` — a ``BertModel`` fed the vectors
   directly as ``inputs_embeds`` — whose last hidden states are mask-averaged and projected by
   ``audio_proj``; the pooled vector is the mean of the segments' vectors weighted by how many
   new vectors each brings (the extractor shared with the symbolic branch,
   :func:`counterpoint.encoders.segments.run_segmented`).

Both steps run in :meth:`Clamp3AudioEncoder.embed_prepared`, the MERT windows of every track
of a batch sharing forward passes.

``pooled`` is that global embedding, in the space CLaMP 3's symbolic branch
(``clamp3-symbolic``) and text branch share when both use the same checkpoint (``variant``).
``frames`` are one per 5-s window: ``audio_proj`` applied to the window's last hidden state
(the reference's ``get_global=False`` output, projected like the symbolic branch's frames),
timed at the window's centre.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from counterpoint.data.resample import TORCHAUDIO_SINC_HANN, Resampler
from counterpoint.encoders.base import AudioEncoder, Embedding, Parameter
from counterpoint.encoders.clamp_weights import CLAMP3_C2_WEIGHTS, CLAMP3_SAAS_WEIGHTS, load_branch
from counterpoint.encoders.hubert import MERT_CHECKPOINT, MERT_CONFIG, MertModel, locate_mert, normalise_waveform
from counterpoint.encoders.segments import run_segmented
from counterpoint.encoders.torch_base import TorchEncoder, runtime_parameters
from counterpoint.encoders.weights import WeightFile, file_digest, first_missing, resolve_weights
from counterpoint.encoders.windowing import window_starts
from counterpoint.errors import EncoderError, TrackError

#: extract_mert.py: ``sliding_window_size_in_sec`` and the shortest last window it keeps.
MERT_WINDOW_SECONDS = 5.0
MERT_MIN_TAIL_SECONDS = 1.0
#: Checkpoint prefixes of the audio branch → our module's submodules.
AUDIO_PREFIXES = {"audio_model.": "encoder.", "audio_proj.": "proj."}


@dataclass(frozen=True)
class Clamp3AudioConfig:
    """Shape of the audio branch (``code/config.py`` AUDIO_* constants; defaults = published model).

    The MERT features go in as ``inputs_embeds``, so ``hidden_size`` equals MERT's hidden size.
    """

    hidden_size: int = 768  # AUDIO_HIDDEN_SIZE
    num_hidden_layers: int = 12  # AUDIO_NUM_LAYERS
    max_audio_length: int = 128  # MAX_AUDIO_LENGTH: window vectors per segment, BOS/EOS included
    projection_size: int = 768  # CLAMP3_HIDDEN_SIZE: the shared space

    def __post_init__(self) -> None:
        if self.hidden_size < 64 or self.hidden_size % 64:
            raise EncoderError(f"CLaMP 3 audio config: hidden_size={self.hidden_size} must be a multiple of 64 "
                               "(the reference uses hidden_size // 64 attention heads)")

    @classmethod
    def from_json(cls, path: str | Path) -> "Clamp3AudioConfig":
        path = Path(path).expanduser()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise EncoderError(f"config {path}: cannot read it as JSON ({exc}) — give a JSON object with fields "
                               f"{', '.join(f.name for f in fields(cls))}") from exc
        known = {f.name for f in fields(cls)}
        if not isinstance(data, dict) or set(data) - known or not all(isinstance(v, int) for v in data.values()):
            raise EncoderError(f"config {path}: must be a JSON object of integer fields among {', '.join(sorted(known))}")
        return cls(**data)

    def bert_config(self) -> Any:
        """The ``BertConfig`` extract_clamp3.py builds for ``audio_model``."""
        from transformers import BertConfig

        return BertConfig(vocab_size=1, hidden_size=self.hidden_size, num_hidden_layers=self.num_hidden_layers,
                          num_attention_heads=self.hidden_size // 64, intermediate_size=self.hidden_size * 4,
                          max_position_embeddings=self.max_audio_length)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def build_audio_branch(config: Clamp3AudioConfig) -> Any:
    """``audio_model`` (BERT over window vectors) + ``audio_proj``, as submodules ``encoder`` / ``proj``."""
    import torch
    from transformers import BertModel

    from counterpoint.encoders.m3 import masked_mean

    class Clamp3AudioBranch(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.config = config
            self.encoder = BertModel(config.bert_config())
            self.proj = torch.nn.Linear(config.hidden_size, config.projection_size)

        def forward(self, vectors: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            """``vectors [B, L, hidden]``, ``mask [B, L]`` → (last hidden states, projected masked mean)."""
            hidden = self.encoder(inputs_embeds=vectors, attention_mask=mask).last_hidden_state
            return hidden, self.proj(masked_mean(hidden, mask))

    return Clamp3AudioBranch()


@dataclass
class PreparedClamp3Audio:
    waveform: np.ndarray  # normalised mono audio at MERT's rate
    duration: float  # seconds


@dataclass
class Clamp3AudioModel:
    """What the encoder runs: MERT for the window vectors, then the CLaMP 3 audio branch."""

    mert: MertModel
    branch: Any


class Clamp3AudioEncoder(TorchEncoder, AudioEncoder):
    """CLaMP 3 audio embeddings (768-d, shared with CLaMP 3 symbolic and text) from MERT window features."""

    name: ClassVar[str] = "clamp3-audio"
    weight_files: ClassVar[tuple[WeightFile, ...]] = (CLAMP3_SAAS_WEIGHTS, CLAMP3_C2_WEIGHTS, MERT_CONFIG, MERT_CHECKPOINT)
    joint_space: ClassVar[str | None] = "clamp3"
    joint_space_parameters: ClassVar[tuple[str, ...]] = ("variant",)
    description: ClassVar[str] = "CLaMP 3 audio branch over MERT-v1-95M 5-s window features, 768-d audio-score-text space"
    requirements: ClassVar[str] = (f"torch + transformers; the CLaMP 3 checkpoint ({CLAMP3_SAAS_WEIGHTS.size_text}: "
                                   f"`counterpoint weights fetch clamp3`) and MERT-v1-95M ({MERT_CHECKPOINT.size_text}: "
                                   "`counterpoint weights fetch mert`)")
    code_version: ClassVar[str] = "1"
    resampler: ClassVar[Resampler] = TORCHAUDIO_SINC_HANN
    parameters: ClassVar[dict[str, Parameter]] = {
        "variant": Parameter("saas", "official checkpoint: saas (recommended for audio) or c2; use the same "
                             "variant for clamp3-symbolic so both live in one space", ("saas", "c2")),
        "weights": Parameter("", "path of a CLaMP 3 checkpoint (.pth or .safetensors); default: the official file"),
        "config": Parameter("", "JSON Clamp3AudioConfig for a non-standard model; default: the published sizes"),
        "mert_weights": Parameter("", "local MERT-v1-95M folder or weights file; default: the declared files"),
        "mert_config": Parameter("", "MERT config.json, when mert_weights= names a single file"),
        **runtime_parameters(batch_size=4, forward_batch=4, forward_help="MERT windows, and CLaMP segments,"),
    }

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.config = Clamp3AudioConfig.from_json(self.params["config"]) if self.params["config"] else Clamp3AudioConfig()

    @classmethod
    def weight_file(cls, params: dict[str, Any]) -> WeightFile:
        return CLAMP3_C2_WEIGHTS if params.get("variant") == "c2" else CLAMP3_SAAS_WEIGHTS

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return first_missing((CLAMP3_SAAS_WEIGHTS, MERT_CONFIG, MERT_CHECKPOINT), "weights=/mert_weights=")

    @property
    def dim(self) -> int:
        return self.config.projection_size

    def weights_path(self) -> Path:
        return resolve_weights(self.weight_file(self.params), self.params["weights"])

    def weights_digest(self) -> str | None:
        mert = locate_mert(self.params["mert_weights"], self.params["mert_config"])
        return file_digest(self.weights_path())[:32] + file_digest(mert.checkpoint)[:32]

    def build_model(self) -> Clamp3AudioModel:
        mert = MertModel(locate_mert(self.params["mert_weights"], self.params["mert_config"]))
        if mert.hidden_size != self.config.hidden_size:
            raise EncoderError(f"encoder {self.name}: MERT gives {mert.hidden_size}-dim features but the CLaMP 3 "
                               f"audio model takes {self.config.hidden_size} — give matching mert_weights/config")
        self.on_device(mert.network)
        branch = build_audio_branch(self.config)
        load_branch(branch, self.weights_path(), AUDIO_PREFIXES)
        return Clamp3AudioModel(mert, self.on_device(branch))

    @property
    def sample_rate(self) -> int:
        """MERT's input rate in Hz (from its config.json, 24000 for MERT-v1-95M)."""
        return self.model().mert.sample_rate

    def prepare_waveform(self, waveform: np.ndarray, source: str) -> PreparedClamp3Audio:
        rate = self.sample_rate
        if len(waveform) < MERT_MIN_TAIL_SECONDS * rate:
            raise TrackError(f"{source}: {len(waveform) / rate:.2f} s of audio "
                             f"is shorter than the {MERT_MIN_TAIL_SECONDS:g} s CLaMP 3's MERT windows need — remove the track")
        return PreparedClamp3Audio(normalise_waveform(waveform), len(waveform) / rate)

    def mert_window_vectors(self, waveforms: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        """extract_mert.py for normalised waveforms at MERT's rate → per waveform (vectors ``[W, hidden]``,
        window centres s ``[W]``); the windows of all waveforms share MERT's forward passes."""
        mert = self.model().mert
        window = int(mert.sample_rate * MERT_WINDOW_SECONDS)
        starts = [window_starts(len(w), window, int(mert.sample_rate * MERT_MIN_TAIL_SECONDS)) for w in waveforms]
        pieces = [[w[s:s + window] for s in track_starts] for w, track_starts in zip(waveforms, starts)]
        # each window: the mean over time of every hidden state, then the mean over the 13 states
        outputs = self.run_windows(pieces, lambda batch: mert.hidden_states(batch).mean(dim=2).mean(dim=0))
        return [(np.stack(vectors).astype(np.float32),
                 np.asarray([(s + len(p) / 2) / mert.sample_rate for s, p in zip(track_starts, track_pieces)]))
                for vectors, track_starts, track_pieces in zip(outputs, starts, pieces)]

    def embed_prepared(self, inputs: Sequence[PreparedClamp3Audio]) -> list[Embedding]:
        import torch

        branch = self.model().branch
        windows = self.mert_window_vectors([p.waveform for p in inputs])
        zero = torch.zeros(1, self.config.hidden_size)
        sequences = [torch.cat([zero, torch.from_numpy(vectors), zero]) for vectors, _ in windows]  # BOS / EOS zero vectors
        results = run_segmented(sequences, self.config.max_audio_length, branch, forward_batch=self.forward_batch,
                                pad_item=torch.zeros(self.config.hidden_size), device=self.device)
        embeddings = []
        with torch.inference_mode():
            for prepared, (_, times), (hidden, pooled) in zip(inputs, windows, results):
                frames = branch.proj(torch.from_numpy(hidden[1:-1]).to(self.device)).float().cpu().numpy()  # no BOS / EOS
                embeddings.append(Embedding(frames, times, pooled, prepared.duration))
        return embeddings
