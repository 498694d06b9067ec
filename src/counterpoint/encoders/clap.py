"""CLAP (LAION): contrastive audio–text embeddings through ``transformers``' ``ClapModel``.

The default checkpoint is ``laion/larger_clap_music`` (HTSAT audio tower trained on music,
RoBERTa text tower, 512-dim joint space); any Hugging Face CLAP checkpoint can be named with
``model=`` (``laion/clap-htsat-unfused``, ``laion/larger_clap_general``...), and a local folder
holding one with ``weights=DIR`` (``model=DIR`` works too). Loading never downloads: a Hub name
is looked up in ``$COUNTERPOINT_WEIGHTS_DIR`` and the Hugging Face cache (``counterpoint
weights fetch clap`` fills them).

The model sees 10-second clips (``max_length_s`` of its feature extractor) at 48 kHz. A
track is cut into consecutive 10-s windows; the last one is kept when it lasts at least 1 s
(or when it is the whole track) and is repeat-padded by the feature extractor like any short
clip. Each window gives one L2-normalised embedding (``get_audio_features``): the frames,
timed at the window centres; pooled is their mean. Feature extraction is deterministic: a
window is never longer than the clip length, so no random crop happens, and ``is_longer`` is
set to its true value (False) instead of the random flag the extractor draws for fusion
models when no clip in a batch is long.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from counterpoint.encoders.base import AudioEncoder, Embedding, Parameter
from counterpoint.encoders.torch_base import TorchEncoder, runtime_parameters
from counterpoint.encoders.weights import (DeclaredSize, WeightFile, estimated_size, file_digest, first_missing,
                                           resolve_weights, size_at_most)
from counterpoint.encoders.windowing import mean_pooled, window_starts
from counterpoint.errors import EncoderError, WeightsError

CLAP_REPO = "laion/larger_clap_music"
#: float32 parameters of ``ClapModel`` at laion/larger_clap_music's architecture (HTSAT-base audio tower: patch
#: embeddings 128 wide, depths 2-2-12-2, hidden size 1024, no fusion; RoBERTa-base text tower; 512-d projections);
#: tests/test_weight_sizes.py builds it on the meta device and checks the count.
CLAP_VALUES = 193_913_882
#: Files of a transformers CLAP repository (model, feature extractor, RoBERTa tokenizer) and their declared sizes:
#: the checkpoint estimated from the architecture, the text files bounded from what they hold.
CLAP_FILE_SIZES: dict[str, DeclaredSize] = {
    "config.json": size_at_most(20_000, "the text and audio tower configs"),
    "preprocessor_config.json": size_at_most(5_000, "the feature extractor's settings"),
    "pytorch_model.bin": estimated_size(CLAP_VALUES, "the ClapModel state dict"),
    "vocab.json": size_at_most(1_000_000, "RoBERTa's 50,265 byte-level BPE tokens as JSON"),
    "merges.txt": size_at_most(1_000_000, "RoBERTa's 50,000 BPE merges, one per line"),
    "tokenizer.json": size_at_most(4_000_000, "the same vocabulary and merges with the tokenizer's settings"),
    "tokenizer_config.json": size_at_most(5_000, "the tokenizer's settings"),
    "special_tokens_map.json": size_at_most(2_000, "seven special tokens"),
}
CLAP_FILES = tuple(WeightFile("clap", name, repo_id=CLAP_REPO, size=size) for name, size in CLAP_FILE_SIZES.items())
#: The model weights among :data:`CLAP_FILES`.
CLAP_CHECKPOINT = next(file for file in CLAP_FILES if file.filename == "pytorch_model.bin")

#: Weight file names a CLAP folder may hold, preferred first.
CHECKPOINT_NAMES = ("model.safetensors", "pytorch_model.bin")
#: The shortest last window (s) kept when a track has several.
MIN_TAIL_SECONDS = 1.0


def locate_clap(model: str) -> Path:
    """The folder of a CLAP checkpoint: ``model`` itself if it is a folder, else the copy of
    Hub repository ``model`` in ``$COUNTERPOINT_WEIGHTS_DIR`` or the Hugging Face cache."""
    path = Path(model).expanduser()
    if path.is_dir():
        folder = path
    else:
        if "/" not in model or model.count("/") > 1:
            raise WeightsError(f"CLAP model {model!r} is neither a folder nor a Hub repository name like {CLAP_REPO}")
        name = "clap" if model == CLAP_REPO else model.split("/")[1]  # its folder in $COUNTERPOINT_WEIGHTS_DIR
        config = resolve_weights(WeightFile(name, "config.json", repo_id=model))
        folder = config.parent
    if not (folder / "config.json").exists():
        raise WeightsError(f"CLAP folder {folder} has no config.json — it must be a transformers CLAP checkpoint "
                           f"(e.g. a download of {CLAP_REPO})")
    if not any((folder / name).exists() for name in CHECKPOINT_NAMES):
        raise WeightsError(f"CLAP folder {folder} holds none of {', '.join(CHECKPOINT_NAMES)} (pytorch_model.bin is "
                           f"{CLAP_CHECKPOINT.size_text} for {CLAP_REPO}) — run `counterpoint weights fetch clap` while online")
    if not (folder / "preprocessor_config.json").exists():
        raise WeightsError(f"CLAP folder {folder} has no preprocessor_config.json (the feature extractor settings) — "
                           "run `counterpoint weights fetch clap` while online")
    return folder


@dataclass
class PreparedClap:
    waveform: np.ndarray  # mono, at the feature extractor's rate
    duration: float


class ClapEncoder(TorchEncoder, AudioEncoder):
    """LAION CLAP audio embeddings of 10-s windows (L2-normalised), pooled by their mean; text with :meth:`embed_text`."""

    name: ClassVar[str] = "clap"
    weight_files: ClassVar[tuple[WeightFile, ...]] = CLAP_FILES
    description: ClassVar[str] = "LAION CLAP (HTSAT, music checkpoint) audio-text space: one embedding per 10-s window, mean-pooled"
    requirements: ClassVar[str] = (f"torch + transformers and a CLAP checkpoint ({CLAP_REPO}, {CLAP_CHECKPOINT.size_text}): "
                                   "`counterpoint weights fetch clap`, or weights=DIR of a local copy")
    code_version: ClassVar[str] = "1"
    parameters: ClassVar[dict[str, Parameter]] = {
        "model": Parameter(CLAP_REPO, "Hugging Face CLAP repository, fetched beforehand (or a local folder, as weights=)"),
        "weights": Parameter("", "local folder of a CLAP checkpoint; default: the copy of model= on this machine"),
        **runtime_parameters(batch_size=8, forward_batch=8, forward_help="10-s windows"),
    }

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._folder: Path | None = None
        self._extractor: Any = None
        self._tokenizer: Any = None

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return first_missing(CLAP_FILES[:3], "weights=DIR")

    def folder(self) -> Path:
        if self._folder is None:
            self._folder = locate_clap(self.params["weights"] or self.params["model"])
        return self._folder

    def load(self) -> None:
        super().load()
        self.extractor()

    def build_model(self) -> Any:
        """The ``ClapModel``, in eval mode on the chosen device."""
        from transformers import ClapModel

        try:
            model = ClapModel.from_pretrained(str(self.folder()), local_files_only=True)
        except (OSError, ValueError) as exc:
            raise WeightsError(f"CLAP folder {self.folder()}: cannot load the model ({exc}) — the files are "
                               "incomplete or not a CLAP checkpoint; fetch them again") from exc
        return self.on_device(model)

    def extractor(self) -> Any:
        if self._extractor is None:
            from transformers import ClapFeatureExtractor

            self._extractor = ClapFeatureExtractor.from_pretrained(str(self.folder()), local_files_only=True)
        return self._extractor

    @property
    def dim(self) -> int:
        return int(self.model().config.projection_dim)

    def weights_digest(self) -> str | None:
        folder = self.folder()
        checkpoint = next(folder / n for n in CHECKPOINT_NAMES if (folder / n).exists())
        return file_digest(checkpoint)

    @property
    def sample_rate(self) -> int:
        """The feature extractor's rate in Hz (48000 for the LAION checkpoints)."""
        return int(self.extractor().sampling_rate)

    def prepare_waveform(self, waveform: np.ndarray, source: str) -> PreparedClap:
        return PreparedClap(waveform, len(waveform) / self.sample_rate)

    def embed_prepared(self, inputs: Sequence[PreparedClap]) -> list[Embedding]:
        """Each track's 10-s windows as mel features; the windows of all tracks share forward passes."""
        import torch

        extractor, model = self.extractor(), self.model()
        rate, clip = int(extractor.sampling_rate), int(extractor.nb_max_samples)
        starts = [window_starts(len(item.waveform), clip, int(MIN_TAIL_SECONDS * rate)) or [0] for item in inputs]
        pieces = [[item.waveform[s:s + clip] for s in track_starts] for item, track_starts in zip(inputs, starts)]
        mels = [[extractor(p, sampling_rate=rate, return_tensors="np")["input_features"][0] for p in track_pieces]
                for track_pieces in pieces]

        def forward(batch: torch.Tensor) -> torch.Tensor:
            is_longer = torch.zeros(len(batch), 1, dtype=torch.bool, device=batch.device)
            return model.get_audio_features(input_features=batch.float(), is_longer=is_longer).pooler_output

        outputs = self.run_windows(mels, forward)
        return [mean_pooled(np.stack(vectors), np.asarray([(s + len(p) / 2) / rate for s, p in zip(track_starts, track_pieces)]),
                            item.duration)
                for item, vectors, track_starts, track_pieces in zip(inputs, outputs, starts, pieces)]

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised CLAP text embeddings ``[len(texts), dim]`` (e.g. zero-shot label prompts)."""
        import torch

        if not texts:
            raise EncoderError("encoder clap: embed_text needs at least one text")
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            try:
                self._tokenizer = AutoTokenizer.from_pretrained(str(self.folder()), local_files_only=True)
            except (OSError, ValueError) as exc:
                raise WeightsError(f"CLAP folder {self.folder()}: no usable tokenizer ({exc}) — fetch the tokenizer "
                                   "files (vocab.json, merges.txt, tokenizer.json...) with `counterpoint weights fetch clap`") from exc
        model = self.model()
        tokens = self._tokenizer(list(texts), padding=True, return_tensors="pt")
        with torch.inference_mode():
            output = model.get_text_features(input_ids=tokens["input_ids"].to(self.device),
                                             attention_mask=tokens["attention_mask"].to(self.device))
        return output.pooler_output.float().cpu().numpy()
