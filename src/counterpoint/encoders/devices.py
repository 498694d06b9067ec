"""Choosing the torch device an encoder runs on, with a clear error when it is absent."""

from __future__ import annotations

from typing import TYPE_CHECKING

from counterpoint.errors import EncoderError

if TYPE_CHECKING:
    import torch

#: The values the ``device`` spec parameter of torch encoders accepts.
DEVICE_CHOICES = ("cpu", "cuda")


def select_device(device: str, encoder: str) -> "torch.device":
    """The ``torch.device`` for ``device`` ("cpu" or "cuda"); EncoderError if CUDA is missing."""
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise EncoderError(f"encoder {encoder}: device=cuda was asked for, but torch sees no CUDA GPU on this machine "
                           f"(torch {torch.__version__}) — use device=cpu, or install a CUDA build of torch")
    if device not in DEVICE_CHOICES:
        raise EncoderError(f"encoder {encoder}: device={device!r} is not one of {', '.join(DEVICE_CHOICES)}")
    return torch.device(device)
