"""CLAP (LAION): contrastive audio–text embeddings through ``transformers``' ``ClapModel``.

The default checkpoint is ``laion/larger_clap_music`` (HTSAT audio tower trained on music,
RoBERTa text tower, 512-dim joint space); any Hugging Face CLAP checkpoint can be named with
``model=`` (``laion/clap-htsat-unfused``, ``laion/larger_clap_general``...) or a local folder
holding one. Loading never downloads: a Hub name is looked up in ``$COUNTERPOINT_WEIGHTS_DIR``
and the Hugging Face cache (``counterpoint weights fetch clap`` fills them).

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
from counterpoint.encoders.devices import DEVICE_CHOICES, select_device
from counterpoint.encoders.mert import file_digest, window_starts
from counterpoint.encoders.weights import WeightFile, declare_weights, first_missing, resolve_weights
from counterpoint.errors import EncoderError, WeightsError

CLAP_REPO = "laion/larger_clap_music"
#: Files of a transformers CLAP repository: model, feature extractor, RoBERTa tokenizer.
CLAP_FILENAMES = ("config.json", "preprocessor_config.json", "pytorch_model.bin", "vocab.json", "merges.txt",
                  "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
CLAP_FILES = tuple(WeightFile("clap", name, repo_id=CLAP_REPO) for name in CLAP_FILENAMES)
declare_weights(*CLAP_FILES)

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
                           f"about 776 MB for {CLAP_REPO}) — run `counterpoint weights fetch clap` while online")
    if not (folder / "preprocessor_config.json").exists():
        raise WeightsError(f"CLAP folder {folder} has no preprocessor_config.json (the feature extractor settings) — "
                           "run `counterpoint weights fetch clap` while online")
    return folder


@dataclass
class PreparedClap:
    waveform: np.ndarray  # mono, at the feature extractor's rate
    duration: float


class ClapEncoder(AudioEncoder):
    """LAION CLAP audio embeddings of 10-s windows (L2-normalised), pooled by their mean; text with :meth:`embed_text`."""

    name: ClassVar[str] = "clap"
    description: ClassVar[str] = "LAION CLAP (HTSAT, music checkpoint) audio-text space: one embedding per 10-s window, mean-pooled"
    requirements: ClassVar[str] = (f"torch + transformers and a CLAP checkpoint ({CLAP_REPO}, about 776 MB): "
                                   "`counterpoint weights fetch clap`, or model=DIR of a local copy")
    default_batch_size: ClassVar[int] = 8
    code_version: ClassVar[str] = "1"
    parameters: ClassVar[dict[str, Parameter]] = {
        "model": Parameter(CLAP_REPO, "Hugging Face CLAP repository (fetched beforehand) or a local folder"),
        "batch_size": Parameter(8, "10-s windows per forward pass"),
        "device": Parameter("cpu", "cpu or cuda", DEVICE_CHOICES),
    }

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._folder: Path | None = None
        self._model: Any = None
        self._extractor: Any = None
        self._tokenizer: Any = None

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return first_missing(CLAP_FILES[:3], "model=DIR")

    def folder(self) -> Path:
        if self._folder is None:
            self._folder = locate_clap(self.params["model"])
        return self._folder

    def load(self) -> None:
        self.model()
        self.extractor()

    def model(self) -> Any:
        """The ``ClapModel``, loaded once, in eval mode on the chosen device."""
        if self._model is None:
            from transformers import ClapModel

            device = select_device(self.params["device"], self.name)
            try:
                model = ClapModel.from_pretrained(str(self.folder()), local_files_only=True)
            except (OSError, ValueError) as exc:
                raise WeightsError(f"CLAP folder {self.folder()}: cannot load the model ({exc}) — the files are "
                                   "incomplete or not a CLAP checkpoint; fetch them again") from exc
            self._model = model.eval().to(device)
        return self._model

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

    def window_embeddings(self, windows: Sequence[np.ndarray]) -> np.ndarray:
        """L2-normalised CLAP embeddings ``[W, dim]`` of clips no longer than the model's clip length."""
        import torch

        extractor, model = self.extractor(), self.model()
        device = next(model.parameters()).device
        mels = [extractor(w, sampling_rate=extractor.sampling_rate, return_tensors="np")["input_features"][0] for w in windows]
        out: list[np.ndarray] = []
        size = max(1, int(self.params["batch_size"]))
        for start in range(0, len(mels), size):
            batch = torch.from_numpy(np.stack(mels[start:start + size])).float().to(device)
            is_longer = torch.zeros(len(batch), 1, dtype=torch.bool, device=device)
            with torch.inference_mode():
                out.append(model.get_audio_features(input_features=batch, is_longer=is_longer).pooler_output.float().cpu().numpy())
        return np.concatenate(out)

    def embed_prepared(self, inputs: Sequence[PreparedClap]) -> list[Embedding]:
        extractor = self.extractor()
        rate, clip = int(extractor.sampling_rate), int(extractor.nb_max_samples)
        windows: list[np.ndarray] = []
        owners: list[int] = []
        centres: list[float] = []
        for index, item in enumerate(inputs):
            for start in window_starts(len(item.waveform), clip, int(MIN_TAIL_SECONDS * rate)) or [0]:
                piece = item.waveform[start:start + clip]
                windows.append(piece)
                owners.append(index)
                centres.append((start + len(piece) / 2) / rate)
        vectors = self.window_embeddings(windows)
        owner_array, centre_array = np.asarray(owners), np.asarray(centres)
        embeddings = []
        for index, item in enumerate(inputs):
            frames = vectors[owner_array == index]
            embeddings.append(Embedding(frames, centre_array[owner_array == index], frames.mean(axis=0), item.duration))
        return embeddings

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
        device = next(model.parameters()).device
        tokens = self._tokenizer(list(texts), padding=True, return_tensors="pt")
        with torch.inference_mode():
            output = model.get_text_features(input_ids=tokens["input_ids"].to(device),
                                             attention_mask=tokens["attention_mask"].to(device))
        return output.pooler_output.float().cpu().numpy()
