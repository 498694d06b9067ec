"""Training a probe with class weights and early stopping on validation macro-F1; evaluation.

Works on arrays: inputs (matrix or frame sequences, see :mod:`counterpoint.probes.data`) and
integer class indices. Reading stores is done by :mod:`counterpoint.probes.run`, writing files by :mod:`counterpoint.report.probes`.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.metrics import accuracy_score
from torch import nn

from counterpoint.config import TrainSettings
from counterpoint.errors import CounterpointError
from counterpoint.probes.data import ProbeInputs, batches
from counterpoint.probes.models import ProbeClassifier
from counterpoint.probe_protocol import macro_f1_of_codes


def resolve_device(device: str) -> torch.device:
    """A torch device, with a clear error when CUDA is asked for but absent."""
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise CounterpointError(f"device {device!r} was asked for but PyTorch sees no CUDA GPU here "
                                f"(torch {torch.__version__}) — use --device cpu or install a CUDA build of torch")
    try:
        return torch.device(device)
    except RuntimeError:
        raise CounterpointError(f"device {device!r} is not a torch device — use cpu or cuda") from None


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Torch's CPU operators on one thread while the block runs (the previous count restored after).

    A probe's products are small (a batch of 32 tracks × 768 dimensions): a second thread only
    waits at every operator's barrier, and on a shared 2-core machine that wait made a linear
    probe's forward pass 55x slower (4.6 ms against 84 µs per batch) — training the probes was
    three quarters of ``analyze`` at 1,000 tracks. One thread also keeps the rounding of float32
    results independent of the core count (as :func:`counterpoint.blas.single_threaded_blas`)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch so that a run is reproducible."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def class_weights(y: np.ndarray, num_classes: int) -> np.ndarray:
    """Inverse class frequency, ``n / (k · count_c)`` (1 for balanced data); 0 for classes absent from ``y``."""
    counts = np.bincount(y, minlength=num_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(num_classes)
    weights[present] = len(y) / (present.sum() * counts[present])
    return weights.astype(np.float32)


def scores(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> tuple[float, float]:
    """Accuracy and macro-F1 (over every class of the label mapping)."""
    accuracy = float(accuracy_score(y_true, y_pred))
    return accuracy, macro_f1_of_codes(np.asarray(y_true), np.asarray(y_pred), num_classes, every_class=True)


@torch.no_grad()
def predict_logits(model: ProbeClassifier, inputs: ProbeInputs, *, batch_size: int = 64,
                   device: torch.device | str = "cpu") -> np.ndarray:
    """Logits ``[N, num_classes]`` in input order, in eval mode (torch on one thread, :func:`one_torch_thread`)."""
    model.eval()
    device = torch.device(device)
    dummy = np.zeros(len(inputs), dtype=np.int64)
    with one_torch_thread():
        out = [model(b.x, b.mask).cpu() for b in (b.to(device) for b in batches(inputs, dummy, batch_size))]
    return torch.cat(out).numpy()


def _evaluate(model: ProbeClassifier, inputs: ProbeInputs, y: np.ndarray, loss_fn: nn.Module,
              settings: TrainSettings, device: torch.device, num_classes: int) -> dict[str, float]:
    logits = torch.as_tensor(predict_logits(model, inputs, batch_size=settings.training_batch, device=device))
    loss = float(loss_fn(logits, torch.as_tensor(y, dtype=torch.long)))
    accuracy, macro_f1 = scores(y, logits.argmax(dim=1).numpy(), num_classes)
    return {"loss": loss, "accuracy": accuracy, "macro_f1": macro_f1}


@dataclass
class TrainOutcome:
    """The best model (weights of the best validation epoch) and the per-epoch history."""

    model: ProbeClassifier
    history: list[dict[str, float]]
    best_epoch: int
    stopped_early: bool


def train_probe(model: ProbeClassifier, train_inputs: ProbeInputs, y_train: np.ndarray,
                *, val_inputs: ProbeInputs, y_val: np.ndarray, num_classes: int,
                settings: TrainSettings) -> TrainOutcome:
    """Train with Adam and class-weighted cross-entropy; keep the epoch with the best validation macro-F1
    (torch on one thread, :func:`one_torch_thread`).

    Validation loss breaks ties of macro-F1. Training stops after ``patience`` epochs without
    a better epoch.

    Each history entry holds, for ``train`` and ``validation``: loss, accuracy and macro-F1,
    all measured in eval mode after the epoch (the train loss is class-weighted like the
    training objective), so the two sides are comparable.
    """
    if len(y_train) == 0 or len(y_val) == 0:
        raise CounterpointError(f"probe training needs train and validation tracks (got {len(y_train)} and {len(y_val)}) "
                                "— add tracks or fix the split column")
    with one_torch_thread():
        return _train(model, train_inputs, y_train, val_inputs=val_inputs, y_val=y_val, num_classes=num_classes,
                      settings=settings)


def _train(model: ProbeClassifier, train_inputs: ProbeInputs, y_train: np.ndarray, *, val_inputs: ProbeInputs,
           y_val: np.ndarray, num_classes: int, settings: TrainSettings) -> TrainOutcome:
    device = resolve_device(settings.device)
    seed_everything(settings.seed)
    shuffler = np.random.default_rng(settings.seed)
    model.to(device)
    weights = torch.as_tensor(class_weights(y_train, num_classes), device=device)
    loss_fn = nn.CrossEntropyLoss(weight=weights)
    eval_loss_fn = nn.CrossEntropyLoss(weight=weights.cpu())
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)

    history: list[dict[str, float]] = []
    best_f1, best_loss, best_epoch, best_state = -1.0, float("inf"), 0, copy.deepcopy(model.state_dict())
    for epoch in range(1, settings.epochs + 1):
        model.train()
        for batch in batches(train_inputs, y_train, settings.training_batch, shuffle=True, generator=shuffler):
            batch = batch.to(device)
            optimizer.zero_grad()
            loss = loss_fn(model(batch.x, batch.mask), batch.y)
            loss.backward()
            optimizer.step()
        train = _evaluate(model, train_inputs, y_train, eval_loss_fn, settings, device, num_classes)
        val = _evaluate(model, val_inputs, y_val, eval_loss_fn, settings, device, num_classes)
        history.append({"epoch": epoch, **{f"train_{k}": v for k, v in train.items()},
                        **{f"validation_{k}": v for k, v in val.items()}})
        # Macro-F1 moves in steps on small validation sets; at equal F1 a lower loss counts as progress.
        if val["macro_f1"] > best_f1 or (val["macro_f1"] == best_f1 and val["loss"] < best_loss):
            best_f1, best_loss, best_epoch = val["macro_f1"], val["loss"], epoch
            best_state = copy.deepcopy(model.state_dict())
        elif epoch - best_epoch >= settings.patience:
            break
    model.load_state_dict(best_state)
    model.eval()
    return TrainOutcome(model, history, best_epoch, stopped_early=len(history) < settings.epochs)
