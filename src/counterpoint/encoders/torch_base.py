"""What every encoder with a torch model shares: one device, one model, batched no-grad passes.

A :class:`TorchEncoder` chooses its device once (``device=cpu|cuda``, checked by
:func:`~counterpoint.encoders.devices.select_device`), builds its model once per encoder
object — in :meth:`~counterpoint.encoders.base.Encoder.load`, which the runner calls before
any track, or on first use — and runs windows through it ``forward_batch`` at a time under
``torch.inference_mode`` (:meth:`TorchEncoder.run_windows`, built on
:func:`~counterpoint.encoders.windowing.run_windows`). Subclasses write only
:meth:`TorchEncoder.build_model`.

Every torch encoder also takes ``init`` and ``init_seed`` (added to its parameters by
:class:`TorchEncoder`): ``init=random`` builds the same architecture and input pipeline with
seeded random weights instead of the trained ones (:func:`randomise_weights`), the untrained
control of ``compare --untrained-control``. The spec (``musicnn:init=random``) and the fingerprint
hold both, so an untrained encoder is its own entry of a store, never mixed with the trained one.

torch is imported only when a model is built or run, so listing encoders stays cheap.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterator, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from counterpoint.encoders.base import Encoder, Parameter, batch_size_parameter
from counterpoint.encoders.devices import DEVICE_CHOICES, select_device
from counterpoint.encoders.windowing import BatchMap, run_windows
from counterpoint.errors import EncoderError

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


#: ``init=``: the published weights, or a seeded random initialisation of the same architecture.
INIT_CHOICES = ("trained", "random")
#: The ``init`` value of the untrained control.
RANDOM_INIT = "random"


def init_parameters() -> dict[str, Parameter]:
    """``init`` and ``init_seed``, which every :class:`TorchEncoder` declares (added by the class itself)."""
    return {
        "init": Parameter("trained", "trained: the published weights; random: the same architecture and input pipeline "
                                     "with every weight drawn afresh by torch's default initialiser of its layer, "
                                     "seeded by init_seed (the untrained control of compare --untrained-control)",
                          INIT_CHOICES),
        "init_seed": Parameter(0, "seed of the weights of init=random (only with init=random)", low=0, high=2**32 - 1),
    }


def randomise_weights(modules: Sequence["torch.nn.Module"], seed: int) -> None:
    """Draw every parameter of ``modules`` afresh, in place, from torch's CPU generator seeded with ``seed``.

    Each layer that has torch's ``reset_parameters`` is reset by it — its framework default: ``Linear`` and
    ``ConvNd`` weights Kaiming-uniform (a = √5), biases uniform ±1/√fan_in; ``LayerNorm`` and ``BatchNorm`` weight 1,
    bias 0; ``Embedding`` N(0, 1). Batch-norm running statistics are those of a fresh layer (mean 0, variance
    1): an untrained network has seen no data to estimate them. A parameter no such layer owns (a
    weight-normalised convolution's magnitude and direction, a free tensor such as HuBERT's mask embedding) is
    drawn uniform ±1/√fan_in, fan_in being the product of its shape but the first axis (its length for a
    vector). The modules are randomised on the CPU and put back on their device, so the weights of a seed
    are the same bit for bit on any device; buffers that are no statistics (position ids) are kept.
    """
    import torch
    from torch.nn.utils import parametrize

    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        for module in modules:
            device = next(module.parameters(), torch.empty(0)).device
            module.to("cpu")
            reset: set[int] = set()
            for layer in module.modules():
                if hasattr(layer, "reset_parameters") and not parametrize.is_parametrized(layer):
                    layer.reset_parameters()
                    reset.update(id(p) for p in layer.parameters(recurse=False))
            for parameter in module.parameters():
                if id(parameter) not in reset:
                    fan_in = int(np.prod(parameter.shape[1:])) if parameter.dim() > 1 else max(parameter.numel(), 1)
                    bound = 1.0 / np.sqrt(fan_in)
                    parameter.uniform_(-bound, bound)
            module.to(device)


def torch_modules(model: Any) -> list["torch.nn.Module"]:
    """The torch modules of what :meth:`TorchEncoder.build_model` returned: itself, or those an object holding
    several keeps in its attributes (MERT inside the CLaMP 3 audio model...), in attribute order."""
    from torch import nn

    def found(value: Any, depth: int) -> Iterator[nn.Module]:
        if isinstance(value, nn.Module):
            yield value
        elif depth < 3 and hasattr(value, "__dict__") and not isinstance(value, type):
            for item in vars(value).values():
                yield from found(item, depth + 1)

    return list(dict.fromkeys(found(model, 0)))


class TorchEncoder(Encoder):
    """An encoder whose numbers come from a torch model built once per encoder object."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every torch encoder's parameters end with ``init`` and ``init_seed`` (:func:`init_parameters`)."""
        super().__init_subclass__(**kwargs)
        if "parameters" in cls.__dict__ and "init" not in cls.parameters:
            cls.parameters = {**cls.parameters, **init_parameters()}

    def __init__(self, **params: Any) -> None:
        if "init_seed" in params and params.get("init", "trained") != RANDOM_INIT:
            raise EncoderError(f"encoder {self.name}: init_seed= seeds the weights of init=random only — add "
                               f"init={RANDOM_INIT}, or leave init_seed out for the trained weights")
        super().__init__(**params)
        self._model: Any = None

    @property
    def untrained(self) -> bool:
        """Whether the weights are a seeded random initialisation (``init=random``), not the trained ones."""
        return self.params["init"] == RANDOM_INIT

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
        """Build the model on :attr:`device` with its weights read, in eval mode (called once; with
        ``init=random`` :meth:`model` then draws every weight afresh, so the trained ones may be skipped).

        Returns whatever the encoder runs: one ``torch.nn.Module`` or an object holding several;
        :meth:`on_device` puts a module in eval mode on the device.
        """

    def on_device(self, module: "torch.nn.Module") -> "torch.nn.Module":
        """``module`` in eval mode on :attr:`device`."""
        return module.eval().to(self.device)

    def model(self) -> Any:
        """The model, built by :meth:`build_model` on first use and kept."""
        if self._model is None:
            model = self.build_model()
            if self.untrained:
                modules = torch_modules(model)
                if not modules:
                    raise EncoderError(f"encoder {self.name}: its model holds no torch module to randomise — a bug in "
                                       "Counterpoint, not in the spec")
                randomise_weights(modules, int(self.params["init_seed"]))
            self._model = model
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
