"""Probe inputs: pooled vectors or frame sequences, their scaler, and batches with padding masks.

Inputs are either a float32 matrix ``[N, D]`` (one pooled vector per track) or a list of N
float32 arrays ``[T_i, D]`` (frames per track). Batches of sequences are padded at the end to
the longest sequence in the batch, with a boolean mask (True = real frame).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from counterpoint.errors import CounterpointError

ProbeInputs = np.ndarray | list[np.ndarray]


def is_sequences(inputs: ProbeInputs) -> bool:
    return isinstance(inputs, list)


def input_dim(inputs: ProbeInputs) -> int:
    """The feature dimension D of a matrix or a list of frame arrays."""
    if is_sequences(inputs):
        dims = {np.asarray(seq).reshape(len(seq), -1).shape[1] for seq in inputs if len(seq)}
        if len(dims) != 1:
            raise CounterpointError(f"frame sequences have dimensions {sorted(dims)} — all tracks must share one dimension")
        return dims.pop()
    return int(np.asarray(inputs).shape[1])


def take(inputs: ProbeInputs, rows: np.ndarray) -> ProbeInputs:
    """The given rows of a matrix or a list of sequences."""
    if is_sequences(inputs):
        return [inputs[i] for i in rows]
    return np.asarray(inputs)[rows]


@dataclass(frozen=True)
class Standardizer:
    """Per-dimension mean and scale, fitted on training data only (frames pooled for sequences)."""

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, inputs: ProbeInputs) -> "Standardizer":
        """Fit on a matrix or on all frames of a list of sequences; constant dimensions keep scale 1.

        Sequences are folded in one at a time (Chan et al.'s pairwise update of count, mean and
        sum of squared deviations, float64), so the frames are never concatenated in memory.
        """
        parts = inputs if is_sequences(inputs) else [inputs]
        count, mean, m2 = 0, 0.0, 0.0
        for part in parts:
            values = np.asarray(part, dtype=np.float64)
            if not len(values):
                continue
            if not np.isfinite(values).all():
                raise CounterpointError("embeddings contain NaN or infinite values in the training split — recompute them")
            n, part_mean = len(values), values.mean(axis=0)
            part_m2 = ((values - part_mean) ** 2).sum(axis=0)
            delta = part_mean - mean
            total = count + n
            mean = mean + delta * n / total
            m2 = m2 + part_m2 + delta**2 * count * n / total
            count = total
        if count == 0:
            raise CounterpointError("no training data to fit the input scaler on — the training split is empty")
        std = np.sqrt(m2 / count)
        scale = np.where(std > 1e-8, std, 1.0)
        return cls(np.asarray(mean, dtype=np.float32), scale.astype(np.float32))


def pad_frames(sequences: Sequence[np.ndarray], pad_value: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack ``[T_i, D]`` arrays into ``frames [B, T_max, D]`` and ``mask [B, T_max]`` (True = real)."""
    lengths = [len(s) for s in sequences]
    dim = next(np.asarray(s).shape[1] for s in sequences if len(s))
    frames = torch.full((len(sequences), max(lengths), dim), pad_value, dtype=torch.float32)
    mask = torch.zeros((len(sequences), max(lengths)), dtype=torch.bool)
    for row, seq in enumerate(sequences):
        frames[row, : lengths[row]] = torch.as_tensor(np.asarray(seq, dtype=np.float32))
        mask[row, : lengths[row]] = True
    return frames, mask


@dataclass
class Batch:
    """Model inputs of one batch (``mask`` is None for pooled inputs) and the class indices."""

    x: torch.Tensor
    mask: torch.Tensor | None
    y: torch.Tensor

    def to(self, device: torch.device) -> "Batch":
        return Batch(self.x.to(device), None if self.mask is None else self.mask.to(device), self.y.to(device))


def batches(inputs: ProbeInputs, y: np.ndarray, batch_size: int, *, shuffle: bool = False,
            generator: np.random.Generator | None = None) -> Iterator[Batch]:
    """Batches in order, or shuffled with ``generator`` (seeded by the caller)."""
    order = np.arange(len(y))
    if shuffle:
        if generator is None:
            raise ValueError("shuffled batches need a seeded numpy Generator")
        order = generator.permutation(order)
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        target = torch.as_tensor(np.asarray(y)[rows], dtype=torch.long)
        if is_sequences(inputs):
            frames, mask = pad_frames([inputs[i] for i in rows])
            yield Batch(frames, mask, target)
        else:
            yield Batch(torch.as_tensor(np.asarray(inputs, dtype=np.float32)[rows]), None, target)
