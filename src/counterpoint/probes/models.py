"""Probe classifiers: what a small model can read off an embedding.

Two input kinds exist, told apart by the class attribute ``takes_sequences``:

* pooled probes (``linear``, ``mlp``) get one standardised vector per track,
  ``forward(x)`` with ``x`` float32 ``[B, D]``;
* sequence probes (``lstm``, ``attention``) get the frame sequence of each track, padded to
  the longest in the batch, with a boolean mask of the valid frames:
  ``forward(frames, mask)``, ``frames`` ``[B, T, D]``, ``mask`` ``[B, T]`` (True = real frame).
  Padded positions are zeroed before use and never take part in the prediction.

A custom probe is any ``torch.nn.Module`` built as ``Class(input_dim, num_classes, **kwargs)``
and named ``package.module:Class`` (or ``/path/to/file.py:Class``). It receives pooled vectors
unless the class sets ``takes_sequences = True``, in which case it receives ``(frames, mask)``.
All probes return logits ``[B, num_classes]``.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from counterpoint.errors import CounterpointError


def _zero_padding(frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Set padded frames to exactly zero, so that not even NaN or inf in padding can leak."""
    return torch.where(mask.unsqueeze(-1), frames, torch.zeros((), dtype=frames.dtype, device=frames.device))


class LinearProbe(nn.Module):
    """Logistic regression on the pooled vector."""

    takes_sequences = False

    def __init__(self, input_dim: int, num_classes: int) -> None:
        super().__init__()
        self.linear = nn.Linear(input_dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


class MLPProbe(nn.Module):
    """Fully connected layers (ReLU, dropout) on the pooled vector."""

    takes_sequences = False

    def __init__(self, input_dim: int, num_classes: int, hidden: Sequence[int] = (256,), dropout: float = 0.2) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = input_dim
        for size in hidden:
            layers += [nn.Linear(width, int(size)), nn.ReLU(), nn.Dropout(dropout)]
            width = int(size)
        layers.append(nn.Linear(width, num_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class LSTMProbe(nn.Module):
    """Bidirectional LSTM over the valid frames; classifies the final states of both directions.

    Sequences are packed with their true lengths, so the forward direction ends at the last
    real frame and the backward direction starts there: padding is never read.
    The mask must mark a prefix of each row (padding at the end), as :func:`pad_frames` makes.
    """

    takes_sequences = True

    def __init__(self, input_dim: int, num_classes: int, hidden: int = 128, num_layers: int = 1,
                 dropout: float = 0.2) -> None:
        super().__init__()
        self.lstm = nn.LSTM(input_dim, hidden, num_layers=num_layers, batch_first=True, bidirectional=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * hidden, num_classes)

    def forward(self, frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        lengths = mask.sum(dim=1)
        if bool((lengths == 0).any()):
            raise CounterpointError("LSTM probe: a sequence in the batch has no valid frame — leave empty tracks out")
        packed = pack_padded_sequence(_zero_padding(frames, mask), lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, (h_n, _) = self.lstm(packed)
        # h_n: [num_layers * 2, B, H]; the last two rows are the top layer's forward and backward states.
        final = torch.cat([h_n[-2], h_n[-1]], dim=1)
        return self.head(self.dropout(final))


class AttentionPoolingProbe(nn.Module):
    """Attention pooling: a learned score per frame, softmax over the valid frames only.

    The weighted mean of the frames goes through a small MLP. Padded frames get a score of
    ``-inf`` before the softmax (weight exactly 0) and are zeroed, so they cannot contribute.
    """

    takes_sequences = True

    def __init__(self, input_dim: int, num_classes: int, hidden: int = 128, dropout: float = 0.2) -> None:
        super().__init__()
        self.score = nn.Sequential(nn.Linear(input_dim, hidden), nn.Tanh(), nn.Linear(hidden, 1))
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(input_dim, hidden), nn.ReLU(),
                                  nn.Dropout(dropout), nn.Linear(hidden, num_classes))

    def attention_weights(self, frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Weights ``[B, T]`` summing to 1 over each row's valid frames, 0 on padding."""
        if bool((mask.sum(dim=1) == 0).any()):
            raise CounterpointError("attention probe: a sequence in the batch has no valid frame — leave empty tracks out")
        scores = self.score(_zero_padding(frames, mask)).squeeze(-1)
        return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=1)

    def forward(self, frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        weights = self.attention_weights(frames, mask)
        pooled = torch.einsum("bt,btd->bd", weights, _zero_padding(frames, mask))
        return self.head(pooled)


BUILTIN_MODELS: dict[str, type[nn.Module]] = {
    "linear": LinearProbe,
    "mlp": MLPProbe,
    "lstm": LSTMProbe,
    "attention": AttentionPoolingProbe,
}


def parse_hidden_sizes(text: str) -> tuple[int, ...]:
    """Hidden sizes from their command-line form: ``"256,128"`` → ``(256, 128)``.

    A :class:`CounterpointError` for anything but comma-separated positive integers.
    """
    parts = [part.strip() for part in str(text).split(",")]
    if not all(part.isascii() and part.isdigit() and int(part) > 0 for part in parts):
        raise CounterpointError(f"hidden sizes must be comma-separated positive integers, got {text!r}")
    return tuple(int(part) for part in parts)


def builtin_kwargs(kind: str, hidden: Sequence[int], dropout: float) -> dict[str, Any]:
    """The constructor arguments a built-in probe takes from the common ``hidden``/``dropout`` options.

    ``mlp`` uses every hidden size; ``lstm`` and ``attention`` use the first as their width;
    ``linear`` uses neither.
    """
    hidden = [int(h) for h in hidden]
    if kind == "linear":
        return {}
    if not hidden or min(hidden) <= 0:
        raise CounterpointError(f"probe {kind}: hidden sizes {hidden} must be positive integers, e.g. --hidden 256,128")
    if not 0.0 <= dropout < 1.0:
        raise CounterpointError(f"probe {kind}: dropout {dropout} must be in [0, 1)")
    if kind == "mlp":
        return {"hidden": hidden, "dropout": float(dropout)}
    return {"hidden": hidden[0], "dropout": float(dropout)}


def resolve_model_class(model: str) -> type[nn.Module]:
    """The probe class for a built-in name, ``package.module:Class`` or ``/path/file.py:Class``."""
    if model in BUILTIN_MODELS:
        return BUILTIN_MODELS[model]
    location, sep, class_name = model.rpartition(":")
    if not sep or not location or not class_name:
        raise CounterpointError(f"probe model {model!r}: not one of {', '.join(BUILTIN_MODELS)} and not "
                                "'package.module:ClassName' — name a built-in probe or a torch.nn.Module class")
    if location.endswith(".py"):
        module = _module_from_file(Path(location), model)
    else:
        try:
            module = importlib.import_module(location)
        except ImportError as error:
            raise CounterpointError(f"probe model {model!r}: cannot import module {location!r} ({error}) — "
                                    "install it or put its folder on PYTHONPATH") from None
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise CounterpointError(f"probe model {model!r}: {location} has no torch.nn.Module class {class_name!r}")
    return cls


def canonical_model_name(model: str) -> str:
    """The name to save: a ``file.py:Class`` path made absolute, so a saved probe loads from any folder."""
    location, sep, class_name = model.rpartition(":")
    if sep and location.endswith(".py"):
        return f"{Path(location).resolve()}:{class_name}"
    return model


def _module_from_file(path: Path, model: str) -> Any:
    if not path.is_file():
        raise CounterpointError(f"probe model {model!r}: no such file {path} — give an existing .py file")
    name = "counterpoint_probe_" + hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[name]
        raise CounterpointError(f"probe model {model!r}: importing {path} failed: {error}") from None
    return module


def takes_sequences(cls: type[nn.Module]) -> bool:
    """Whether a probe class wants ``(frames, mask)`` rather than pooled vectors."""
    return bool(getattr(cls, "takes_sequences", False))


def build_model(model: str, input_dim: int, num_classes: int, *, kwargs: dict[str, Any]) -> nn.Module:
    """Instantiate a probe, turning a bad signature into a message that says what is expected."""
    cls = resolve_model_class(model)
    try:
        return cls(input_dim, num_classes, **kwargs)
    except TypeError as error:
        raise CounterpointError(f"probe model {model!r}: {cls.__name__}(input_dim={input_dim}, num_classes={num_classes}, "
                                f"**{kwargs}) failed: {error} — the class must take (input_dim, num_classes, **kwargs)") from None


class ProbeClassifier(nn.Module):
    """A probe with its input standardisation: ``(x - mean) / scale`` with train statistics.

    The scaler lives in buffers, so it is saved and loaded with the weights
    (``scaler_mean``, ``scaler_scale`` in ``model.safetensors``).
    """

    def __init__(self, net: nn.Module, input_dim: int) -> None:
        super().__init__()
        self.net = net
        self.sequences = takes_sequences(type(net))
        self.register_buffer("scaler_mean", torch.zeros(input_dim))
        self.register_buffer("scaler_scale", torch.ones(input_dim))

    def set_scaler(self, mean: torch.Tensor, scale: torch.Tensor) -> None:
        self.scaler_mean.copy_(mean)
        self.scaler_scale.copy_(scale)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = (x - self.scaler_mean) / self.scaler_scale
        if self.sequences:
            if mask is None:
                raise CounterpointError("sequence probe called without a padding mask")
            return self.net(_zero_padding(x, mask), mask)
        return self.net(x)
