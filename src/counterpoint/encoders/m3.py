"""M3, the symbolic-music encoder inside CLaMP 2 and CLaMP 3: patchilizer, config and model.

M3 reads a score as text (MTF for MIDI, see :mod:`counterpoint.encoders.mtf`) cut into
*patches* of ``patch_size`` characters: in MTF, one patch per run of consecutive messages of
the same type (joined by tabs while they fit), in ABC one per bar or header line. A patch is
``[BOS] characters [EOS]`` padded with 0, cut at ``patch_size``. With special patches, a text
of ``patch_size`` BOS characters opens the piece and one of EOS characters closes it; they
are wrapped like any other text, so they read ``[1, 1, ...]`` and ``[1, 2, 2, ...]``. Each
patch becomes a one-hot ``[patch_size × 128]`` vector, a linear layer maps it to
``hidden_size``, and a BERT encoder runs over the sequence of patches (at most
``patch_length`` of them).

ABC text must already be ASCII: the reference transliterates with ``unidecode`` (not a
dependency here); MTF from :func:`~counterpoint.encoders.mtf.midi_to_mtf` always is.

Facts (constants, key names, patching rules) are from github.com/sanderwood/clamp2
``code/utils.py`` and ``code/config.py``; the code is written anew.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch

from counterpoint.errors import EncoderError

PAD_ID, BOS_ID, EOS_ID, MASK_ID = 0, 1, 2, 3
N_CHARACTERS = 128  # patches hold ASCII codes

_BAR_DELIMITERS = ("|:", "::", ":|", "[|", "||", "|]", "|")
_BAR_PATTERN = re.compile("(" + "|".join(map(re.escape, _BAR_DELIMITERS)) + ")")
_LINE_PATTERN = re.compile(r".*?\n|.*$")


@dataclass(frozen=True)
class M3Config:
    """Shape of an M3 encoder plus the projection CLaMP puts on top of it.

    Defaults are the published full-size model (CLaMP 2 and CLaMP 3's symbolic branch).
    JSON files use these field names, e.g. ``{"hidden_size": 32, "num_hidden_layers": 2, ...}``.
    """

    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    patch_size: int = 64  # characters per patch, BOS/EOS included
    patch_length: int = 512  # patches per window the encoder sees at once
    max_position_embeddings: int = 512
    projection_size: int = 768  # size of the joint CLaMP space (music_proj / symbolic_proj output)

    @classmethod
    def from_json(cls, path: str | Path) -> "M3Config":
        """Read a config JSON; unknown keys or non-integer values are an EncoderError naming the file."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise EncoderError(f"config {path}: cannot read it as JSON ({exc}) — give a JSON object of M3Config fields") from exc
        known = {f.name for f in fields(cls)}
        if not isinstance(data, dict) or set(data) - known:
            extra = sorted(set(data) - known) if isinstance(data, dict) else data
            raise EncoderError(f"config {path}: unknown keys {extra} — known keys: {', '.join(sorted(known))}")
        if not all(isinstance(v, int) and v > 0 for v in data.values()):
            raise EncoderError(f"config {path}: every value must be a positive integer, got {data}")
        config = cls(**data)
        if config.max_position_embeddings < config.patch_length:
            raise EncoderError(f"config {path}: max_position_embeddings {config.max_position_embeddings} "
                               f"is smaller than patch_length {config.patch_length}")
        return config

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    def bert_config(self):
        """The ``transformers.BertConfig`` of the patch-level BERT (vocabulary of 1: it reads embeddings)."""
        from transformers import BertConfig

        return BertConfig(vocab_size=1, hidden_size=self.hidden_size, num_hidden_layers=self.num_hidden_layers,
                          num_attention_heads=self.num_attention_heads, intermediate_size=self.intermediate_size,
                          max_position_embeddings=self.max_position_embeddings)


@dataclass(frozen=True)
class Patches:
    """A piece as M3 patches: ``ids`` int64 ``[N, patch_size]``; ``first_line[i]`` is the MTF
    line where patch ``i`` starts and ``last_line[i]`` where it ends (-1 for special patches)."""

    ids: np.ndarray
    first_line: np.ndarray
    last_line: np.ndarray


class M3Patchilizer:
    """Text (MTF or ABC) → M3 patches, as ``M3Patchilizer.encode`` of the reference."""

    def __init__(self, patch_size: int = 64) -> None:
        self.patch_size = patch_size

    def _to_ids(self, text: str) -> list[int]:
        ids = [BOS_ID] + [ord(c) for c in text] + [EOS_ID]
        ids = ids[:self.patch_size]
        return ids + [PAD_ID] * (self.patch_size - len(ids))

    def _mtf_groups(self, lines: list[str]) -> list[tuple[str, int, int]]:
        """Runs of same-type MTF lines joined by tabs while they fit: (text, first line, last line)."""
        groups: list[tuple[str, int, int]] = []
        text, first = "", 0
        for index, line in enumerate(lines):
            kind, _, rest = line.partition(" ")
            if text.startswith(kind) and len(text) + len(rest) <= self.patch_size - 2:
                text = text[:-1] + "\t" + rest
            else:
                if text:
                    groups.append((text, first, index - 1))
                text, first = line, index
        if text:
            groups.append((text, first, len(lines) - 1))
        return groups

    def _abc_groups(self, lines: list[str]) -> list[tuple[str, int, int]]:
        """Header lines whole, body lines cut into bars: (text, line, line)."""
        groups: list[tuple[str, int, int]] = []
        for index, line in enumerate(lines):
            if len(line) > 1 and ((line[0].isalpha() and line[1] == ":") or line.startswith("%%")):
                groups.append((line, index, index))
                continue
            parts = [p for p in _BAR_PATTERN.split(line) if p]
            if parts and parts[0] in _BAR_DELIMITERS and len(parts) > 1:
                parts = [parts[0] + parts[1]] + parts[2:]
            bars = [parts[2 * i] + parts[2 * i + 1] for i in range(len(parts) // 2)]
            if bars:
                bars[-1] += "\n"
                groups.extend((bar, index, index) for bar in bars)
        return groups

    def encode(self, text: str, add_special_patches: bool = True) -> Patches:
        """Cut ``text`` into patches. Characters must be ASCII (MTF from :func:`midi_to_mtf` is)."""
        if any(ord(c) >= N_CHARACTERS for c in text):
            raise ValueError("M3 reads ASCII text only; transliterate the text first")
        lines = [line for line in _LINE_PATTERN.findall(text) if line]
        if not lines:
            raise ValueError("the text is empty")
        is_mtf = lines[0].split(" ")[0] == "ticks_per_beat"
        groups = self._mtf_groups(lines) if is_mtf else self._abc_groups(lines)
        texts = [g[0] for g in groups]
        first = [g[1] for g in groups]
        last = [g[2] for g in groups]
        if add_special_patches:  # text of patch_size BOS (EOS) characters, wrapped like any patch
            texts = [chr(BOS_ID) * self.patch_size] + texts + [chr(EOS_ID) * self.patch_size]
            first, last = [-1] + first + [-1], [-1] + last + [-1]
        ids = [self._to_ids(t) for t in texts]
        return Patches(np.asarray(ids, dtype=np.int64).reshape(-1, self.patch_size),
                       np.asarray(first, dtype=np.int64), np.asarray(last, dtype=np.int64))


class M3PatchEncoder(torch.nn.Module):
    """One-hot patches → linear ``patch_embedding`` → BERT (``base``); key names as the reference."""

    def __init__(self, config: M3Config) -> None:
        super().__init__()
        from transformers import BertModel

        self.patch_size = config.patch_size
        self.patch_embedding = torch.nn.Linear(config.patch_size * N_CHARACTERS, config.hidden_size)
        self.base = BertModel(config.bert_config())

    def forward(self, patches: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``patches`` int64 ``[B, L, patch_size]``, ``mask`` ``[B, L]`` (1 = real patch) →
        last hidden states float32 ``[B, L, hidden_size]``."""
        return self.hidden_states(patches, mask)[-1]

    def hidden_states(self, patches: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Every hidden state of the BERT, ``num_hidden_layers + 1`` of ``[B, L, hidden_size]``: 0 is
        its embedding output, the last the output of its last layer (what :meth:`forward` returns)."""
        one_hot = torch.nn.functional.one_hot(patches, num_classes=N_CHARACTERS)
        one_hot = one_hot.reshape(patches.shape[0], patches.shape[1], -1).to(self.patch_embedding.weight.dtype)
        embeddings = self.patch_embedding(one_hot)
        return self.base(inputs_embeds=embeddings, attention_mask=mask, output_hidden_states=True).hidden_states


class M3WithProjection(torch.nn.Module):
    """M3 plus the linear projection into the CLaMP joint space.

    Submodules are ``encoder`` and ``proj``; the checkpoint prefixes (``music_model.`` /
    ``music_proj.`` in CLaMP 2, ``symbolic_model.`` / ``symbolic_proj.`` in CLaMP 3) are mapped
    onto them when loading.
    """

    def __init__(self, config: M3Config) -> None:
        super().__init__()
        self.config = config
        self.encoder = M3PatchEncoder(config)
        self.proj = torch.nn.Linear(config.hidden_size, config.projection_size)

    def forward(self, patches: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """→ (last hidden states ``[B, L, hidden]``, projected mask-averaged features ``[B, projection]``)."""
        hidden = self.encoder(patches, mask)
        return hidden, self.proj(masked_mean(hidden, mask))


def masked_mean(features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``features [B, L, D]`` over the positions where ``mask [B, L]`` is 1 → ``[B, D]``."""
    weights = mask.to(features.dtype).unsqueeze(-1)
    return (features * weights).sum(dim=1) / weights.sum(dim=1)
