"""What every encoder with a torch model shares: one device, one model, batched no-grad passes.

A :class:`TorchEncoder` chooses its device once (``device=cpu|cuda``, checked by
:func:`~counterpoint.encoders.devices.select_device`), builds its model once per encoder
object — in :meth:`~counterpoint.encoders.base.Encoder.load`, which the runner calls before
any track, or on first use — and runs windows through it ``forward_batch`` at a time under
``torch.inference_mode`` (:meth:`TorchEncoder.run_windows`, built on
:func:`~counterpoint.encoders.windowing.run_windows`). Subclasses write only
:meth:`TorchEncoder.build_model`.

torch is imported only when a model is built or run, so listing encoders stays cheap.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from counterpoint.encoders.base import Encoder, Parameter, batch_size_parameter
from counterpoint.encoders.devices import DEVICE_CHOICES, select_device
from counterpoint.encoders.windowing import BatchMap, run_windows

if TYPE_CHECKING:
    import torch


def runtime_parameters(batch_size: int, forward_batch: int, forward_help: str = "windows") -> dict[str, Parameter]:
    """``batch_size``, ``forward_batch`` and ``device``: the parameters that change speed, never numbers.

    ``forward_help`` names what one forward pass holds (windows, patches, 10-s clips...).
    """
    return {
        "batch_size": batch_size_parameter(batch_size),
        "forward_batch": Parameter(forward_batch, f"{forward_help} per forward pass of the model; speed and memory only",
                                   low=1),
        "device": Parameter("cpu", "torch device to run on: cpu or cuda", DEVICE_CHOICES),
    }


class TorchEncoder(Encoder):
    """An encoder whose numbers come from a torch model built once per encoder object."""

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._model: Any = None

    @cached_property
    def device(self) -> "torch.device":
        """The torch device of the ``device`` parameter; EncoderError if it is not on this machine."""
        return select_device(self.params["device"], self.name)

    @property
    def forward_batch(self) -> int:
        """Windows per forward pass: the ``forward_batch`` parameter."""
        return int(self.params["forward_batch"])

    @abstractmethod
    def build_model(self) -> Any:
        """Build the model on :attr:`device` with its weights read, in eval mode (called once).

        Returns whatever the encoder runs: one ``torch.nn.Module`` or an object holding several;
        :meth:`on_device` puts a module in eval mode on the device.
        """

    def on_device(self, module: "torch.nn.Module") -> "torch.nn.Module":
        """``module`` in eval mode on :attr:`device`."""
        return module.eval().to(self.device)

    def model(self) -> Any:
        """The model, built by :meth:`build_model` on first use and kept."""
        if self._model is None:
            self._model = self.build_model()
        return self._model

    def load(self) -> None:
        """Build the model and read its weights now (idempotent)."""
        self.model()

    def run_windows(self, windows: Sequence[Sequence[np.ndarray]], forward: Callable[["torch.Tensor"], "torch.Tensor"],
                    map_batches: BatchMap = map) -> list[list[np.ndarray]]:
        """Every track's windows through ``forward``, :attr:`forward_batch` at a time, without gradients.

        ``windows[i]`` are track ``i``'s model inputs (numpy arrays); ``forward`` maps a batch
        tensor on :attr:`device` to outputs with the batch first. Returns, per track, one float32
        numpy output per window (see :func:`~counterpoint.encoders.windowing.run_windows`).
        """
        import torch

        device = self.device

        def call(batch: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return forward(torch.from_numpy(batch).to(device)).float().cpu().numpy()

        return run_windows(windows, call, self.forward_batch, map_batches=map_batches)
