"""Custom probe classes for tests/test_probes_*.py, loaded by path as ``FILE.py:Class``."""

import torch
from torch import nn


class CentroidDistanceProbe(nn.Module):
    """A pooled probe: logits are minus squared distances to learned class centres."""

    def __init__(self, input_dim: int, num_classes: int, temperature: float = 1.0) -> None:
        super().__init__()
        self.centres = nn.Parameter(torch.randn(num_classes, input_dim) * 0.1)
        self.temperature = temperature

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return -torch.cdist(x, self.centres).pow(2) / self.temperature


class MaskedMaxProbe(nn.Module):
    """A sequence probe: max over valid frames of a linear projection."""

    takes_sequences = True

    def __init__(self, input_dim: int, num_classes: int) -> None:
        super().__init__()
        self.project = nn.Linear(input_dim, num_classes)

    def forward(self, frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        scores = self.project(frames).masked_fill(~mask.unsqueeze(-1), float("-inf"))
        return scores.max(dim=1).values


class NotAProbe:
    """Not a torch module: resolving it must fail clearly."""
