"""Probe training on arrays: it learns what is there, not what is not; splits never leak."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from counterpoint.errors import CounterpointError
from counterpoint.matrix import canonical_splits
from counterpoint.probes.run import fit_probe, plan_splits
from counterpoint.config import TrainSettings
from counterpoint.probes.train import class_weights, resolve_device

torch.set_num_threads(1)  # tiny models: threads only add overhead on a shared machine

HELPER = Path(__file__).with_name("probes_custom_model.py")
FAST = TrainSettings(epochs=25, patience=6, lr=1e-2, training_batch=32, seed=0)


def blobs(n: int = 150, dim: int = 8, classes: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs 4 standard deviations apart: clearly separable."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    centres = rng.normal(scale=4.0, size=(classes, dim))
    X = (centres[y] + rng.normal(size=(n, dim))).astype(np.float32)
    return X, np.array([f"class{k}" for k in y])


def frame_blobs(n: int = 60, dim: int = 4, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """Sequences of varying length whose frames carry the class; zero padding would blur them."""
    X, labels = blobs(n, dim, 2, seed)
    rng = np.random.default_rng(seed + 1)
    seqs = [(x + rng.normal(scale=0.5, size=(rng.integers(2, 9), dim))).astype(np.float32) for x in X]
    return seqs, labels


@pytest.mark.parametrize("model", ["linear", "mlp"])
def test_separable_pooled_data_is_learned(model: str) -> None:
    X, labels = blobs()
    splits = plan_splits(labels, None, None, seed=0).splits
    result = fit_probe(X, labels, splits, model=model, settings=replace(FAST, hidden=(32,)))
    assert result.test_split_accuracy >= 0.95 and result.macro_f1 >= 0.95
    assert result.confusion.sum() == result.split_counts["test"] == (splits == "test").sum()


@pytest.mark.parametrize("model", ["lstm", "attention"])
def test_separable_sequences_are_learned(model: str) -> None:
    seqs, labels = frame_blobs(n=100)   # 15 test tracks: one stray blob point does not decide the test
    splits = plan_splits(labels, None, None, seed=0).splits
    result = fit_probe(seqs, labels, splits, model=model, settings=replace(FAST, hidden=(8,), dropout=0.0))
    assert result.test_split_accuracy >= 0.9


def test_shuffled_labels_stay_near_chance() -> None:
    X, labels = blobs(n=300, classes=2)
    shuffled = np.random.default_rng(5).permutation(labels)
    splits = plan_splits(shuffled, None, None, seed=0).splits
    result = fit_probe(X, shuffled, splits, model="mlp", settings=replace(FAST, hidden=(32,)))
    assert 0.3 <= result.test_split_accuracy <= 0.7
    assert result.macro_f1 <= 0.7


def test_early_stopping_keeps_the_best_validation_epoch() -> None:
    X, labels = blobs(n=120, classes=2)
    shuffled = np.random.default_rng(6).permutation(labels)
    splits = plan_splits(shuffled, None, None, seed=0).splits
    result = fit_probe(X, shuffled, splits, model="mlp",
                       settings=TrainSettings(epochs=200, patience=5, lr=1e-2, seed=0, hidden=(32,)))
    history = result.history
    assert len(history) < 100  # nothing to learn: it stops
    assert len(history) - result.best_epoch == 5
    best = max(h["validation_macro_f1"] for h in history)
    assert history[result.best_epoch - 1]["validation_macro_f1"] == best
    assert set(history[0]) == {"epoch", "train_loss", "train_accuracy", "train_macro_f1",
                               "validation_loss", "validation_accuracy", "validation_macro_f1"}


def test_same_seed_same_run_other_seed_other_run() -> None:
    X, labels = blobs(n=60)
    splits = plan_splits(labels, None, None, seed=0).splits
    settings = TrainSettings(epochs=3, patience=5, seed=3, hidden=(16,))
    first = fit_probe(X, labels, splits, model="mlp", settings=settings)
    again = fit_probe(X, labels, splits, model="mlp", settings=settings)
    other = fit_probe(X, labels, splits, model="mlp", settings=replace(settings, seed=4))
    assert first.history == again.history
    assert first.history != other.history


def test_class_weights_are_inverse_frequency() -> None:
    weights = class_weights(np.array([0, 0, 0, 1, 2, 2]), 4)
    np.testing.assert_allclose(weights, [6 / (3 * 3), 6 / (3 * 1), 6 / (3 * 2), 0.0], rtol=1e-6)


def test_imbalanced_minority_class_is_still_found() -> None:
    """With 10:1 imbalance the weighted loss must not settle for always predicting the majority."""
    rng = np.random.default_rng(7)
    y = np.array([0] * 200 + [1] * 20)
    X = (rng.normal(size=(220, 4)) + 3.0 * y[:, None]).astype(np.float32)
    labels = np.array(["common", "rare"])[y]
    result = fit_probe(X, labels, plan_splits(labels, None, None, seed=0).splits, model="linear", settings=FAST)
    assert result.report["rare"]["recall"] >= 0.75


def test_custom_pooled_and_sequence_classes_train() -> None:
    X, labels = blobs()
    splits = plan_splits(labels, None, None, seed=0).splits
    pooled = fit_probe(X, labels, splits, model=f"{HELPER}:CentroidDistanceProbe", model_kwargs={"temperature": 4.0},
                       settings=FAST)
    assert pooled.test_split_accuracy >= 0.9
    assert pooled.config["model_kwargs"] == {"temperature": 4.0} and not pooled.config["takes_sequences"]
    seqs, seq_labels = frame_blobs()
    sequences = fit_probe(seqs, seq_labels, plan_splits(seq_labels, None, None, seed=0).splits,
                          model=f"{HELPER}:MaskedMaxProbe", settings=FAST)
    assert sequences.test_split_accuracy >= 0.9 and sequences.config["takes_sequences"]


def test_sequence_model_refuses_pooled_inputs() -> None:
    X, labels = blobs(n=30)
    with pytest.raises(CounterpointError, match="takes a list of frame arrays"):
        fit_probe(X, labels, plan_splits(labels, None, None, seed=0).splits, model="lstm", settings=FAST)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message for machines without a GPU")
def test_cuda_without_gpu_is_a_clear_error() -> None:
    with pytest.raises(CounterpointError, match="no CUDA GPU"):
        resolve_device("cuda")


# ----------------------------------------------------------------------------- splits


def grouped_dataset(n_groups: int = 30, per_group: int = 4) -> tuple[np.ndarray, np.ndarray]:
    groups = np.repeat([f"work{g}" for g in range(n_groups)], per_group)
    labels = np.array([f"composer{g % 3}" for g in range(n_groups)]).repeat(per_group)
    return labels, groups


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_computed_split_keeps_each_group_on_one_side(seed: int) -> None:
    labels, groups = grouped_dataset()
    plan = plan_splits(labels, groups, None, seed=seed)
    for group in set(groups):
        assert len(set(plan.splits[groups == group])) == 1
    counts = plan.counts()
    assert all(counts[s] > 0 for s in ("train", "validation", "test"))
    assert "stratified grouped" in plan.source


def test_split_column_is_honoured() -> None:
    labels, groups = grouped_dataset(n_groups=10)
    given = np.where(np.arange(40) < 24, "train", np.where(np.arange(40) < 32, "validation", "test"))
    plan = plan_splits(labels, groups, given, seed=0)
    assert plan.splits.tolist() == given.tolist() and plan.source == "split column"


def test_split_column_without_validation_cuts_it_from_train_by_group() -> None:
    labels, groups = grouped_dataset(n_groups=24)
    given = canonical_splits(np.where(np.arange(96) < 72, "Train", "test"))
    plan = plan_splits(labels, groups, given, seed=0)
    assert (plan.splits[72:] == "test").all()
    assert set(plan.splits[:72]) == {"train", "validation"}
    for group in set(groups):
        assert len(set(plan.splits[groups == group])) == 1


def test_leaky_split_column_is_refused() -> None:
    labels, groups = grouped_dataset(n_groups=10)
    given = np.tile(["train", "train", "validation", "test"], 10)  # every work on three sides
    with pytest.raises(CounterpointError, match="more than one side"):
        plan_splits(labels, groups, given, seed=0)


def test_incomplete_split_column_is_replaced_and_said() -> None:
    labels, groups = grouped_dataset(n_groups=10)
    given = np.array(["train"] * 20 + [""] * 20)
    plan = plan_splits(labels, groups, given, seed=0)
    assert "ignored" in plan.source


def test_probes_train_and_predict_on_one_torch_thread_and_restore_the_count() -> None:
    """A second torch thread only waits at the barriers of a probe's small products (55x slower on a shared
    2-core machine): every forward pass of training and prediction runs on one thread, the count restored after."""
    from torch.nn.modules.module import register_module_forward_pre_hook

    threads_seen: list[int] = []
    hook = register_module_forward_pre_hook(lambda module, args: threads_seen.append(torch.get_num_threads()))
    torch.set_num_threads(2)
    try:
        X, labels = blobs()
        fit_probe(X, labels, plan_splits(labels, None, None, seed=0).splits, model="mlp",
                  settings=replace(FAST, hidden=(16,), epochs=3))
        assert torch.get_num_threads() == 2
    finally:
        hook.remove()
        torch.set_num_threads(1)
    assert threads_seen and set(threads_seen) == {1}
