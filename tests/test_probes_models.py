"""Probe modules: padding never reaches a prediction; custom classes resolve by name or path."""

from pathlib import Path

import numpy as np
import pytest
import torch

from counterpoint.errors import CounterpointError
from counterpoint.probes.data import Standardizer, batches, pad_frames
from counterpoint.probes.models import (
    AttentionPoolingProbe,
    LSTMProbe,
    MLPProbe,
    ProbeClassifier,
    build_model,
    builtin_kwargs,
    resolve_model_class,
    takes_sequences,
)
from float_tolerance import assert_float32_close, largest_magnitude

HELPER = Path(__file__).with_name("probes_custom_model.py")
DIM, CLASSES = 6, 3
# float32 depth of the sequence probes (tests/float_tolerance.py): each step of the LSTM (or the attention pool)
# sums DIM + hidden terms, over at most 40 frames, then the head sums 2 x hidden
PROBE_TERMS = 40 * (DIM + 8) + 2 * 8
torch.set_num_threads(1)


def sequence_probe(kind: str) -> torch.nn.Module:
    torch.manual_seed(0)
    net = LSTMProbe(DIM, CLASSES, hidden=8, dropout=0.0) if kind == "lstm" else AttentionPoolingProbe(DIM, CLASSES, hidden=8, dropout=0.0)
    return net.eval()


def padded(seq: np.ndarray, total: int, fill: np.ndarray | float) -> tuple[torch.Tensor, torch.Tensor]:
    """One sequence padded at the end to ``total`` frames with ``fill`` values."""
    frames = np.empty((1, total, DIM), dtype=np.float32)
    frames[0, : len(seq)] = seq
    frames[0, len(seq):] = fill if np.isscalar(fill) else fill[: total - len(seq)]
    mask = np.zeros((1, total), dtype=bool)
    mask[0, : len(seq)] = True
    return torch.from_numpy(frames), torch.from_numpy(mask)


@pytest.mark.parametrize("kind", ["lstm", "attention"])
def test_padding_length_does_not_change_the_prediction(kind: str) -> None:
    net = sequence_probe(kind)
    seq = np.random.default_rng(1).normal(size=(5, DIM)).astype(np.float32)
    with torch.no_grad():
        alone = net(*padded(seq, 5, 0.0))
        outputs = [net(*padded(seq, total, 0.0)) for total in (6, 9, 40)]
    for out in outputs:
        assert_float32_close(out, alone, scale=largest_magnitude, terms=PROBE_TERMS)


@pytest.mark.parametrize("kind", ["lstm", "attention"])
def test_garbage_in_padding_does_not_change_the_prediction(kind: str) -> None:
    net = sequence_probe(kind)
    rng = np.random.default_rng(2)
    seq = rng.normal(size=(4, DIM)).astype(np.float32)
    with torch.no_grad():
        clean = net(*padded(seq, 12, 0.0))
        noisy = net(*padded(seq, 12, rng.normal(scale=1e3, size=(8, DIM)).astype(np.float32)))
        non_finite = net(*padded(seq, 12, np.float32(np.nan)))
        infinite = net(*padded(seq, 12, np.float32(np.inf)))
    for out in (noisy, non_finite, infinite):
        assert torch.isfinite(out).all()
        assert_float32_close(out, clean, scale=largest_magnitude, terms=PROBE_TERMS)


@pytest.mark.parametrize("kind", ["lstm", "attention"])
def test_batch_of_different_lengths_matches_each_sequence_alone(kind: str) -> None:
    """Within a batch, a short sequence is padded to the longest; its prediction must not notice."""
    torch.manual_seed(3)
    net = ProbeClassifier(sequence_probe(kind), DIM).eval()
    rng = np.random.default_rng(3)
    seqs = [rng.normal(size=(n, DIM)).astype(np.float32) for n in (2, 7, 3, 11)]
    net.set_scaler(torch.as_tensor(Standardizer.fit(seqs).mean), torch.as_tensor(Standardizer.fit(seqs).scale))
    with torch.no_grad():
        frames, mask = pad_frames(seqs, pad_value=123.0)
        together = net(frames, mask)
        alone = torch.cat([net(*pad_frames([s])) for s in seqs])
    assert_float32_close(together, alone, scale=largest_magnitude, terms=PROBE_TERMS)


def test_lstm_reads_the_final_states_at_the_true_length() -> None:
    """Forward state at the last real frame and backward state at the first frame, as an unpadded LSTM gives."""
    net = sequence_probe("lstm")
    seq = torch.randn(1, 5, DIM)
    with torch.no_grad():
        _, (h_n, _) = net.lstm(seq)
        expected = net.head(torch.cat([h_n[-2], h_n[-1]], dim=1))
        frames, mask = padded(seq[0].numpy(), 10, 7.0)
        assert_float32_close(net(frames, mask), expected, scale=largest_magnitude, terms=PROBE_TERMS)


def test_attention_weights_are_zero_on_padding_and_sum_to_one() -> None:
    net = sequence_probe("attention")
    frames, mask = pad_frames([np.ones((3, DIM), np.float32), np.ones((6, DIM), np.float32)])
    with torch.no_grad():
        weights = net.attention_weights(frames, mask)
    assert torch.all(weights[0, 3:] == 0)
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(2))


def test_empty_sequence_is_refused() -> None:
    frames = torch.zeros(1, 3, DIM)
    mask = torch.zeros(1, 3, dtype=torch.bool)
    for kind in ("lstm", "attention"):
        with pytest.raises(CounterpointError, match="no valid frame"):
            sequence_probe(kind)(frames, mask)


def test_batches_pad_at_the_end_with_a_mask() -> None:
    seqs = [np.full((n, 2), n, np.float32) for n in (1, 3)]
    (batch,) = list(batches(seqs, np.array([0, 1]), batch_size=4))
    assert batch.x.shape == (2, 3, 2)
    assert batch.mask.tolist() == [[True, False, False], [True, True, True]]
    assert batch.y.tolist() == [0, 1]


def test_mlp_uses_every_hidden_size() -> None:
    net = build_model("mlp", 10, 4, kwargs=builtin_kwargs("mlp", (16, 8), 0.1))
    linear_shapes = [tuple(m.weight.shape) for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert isinstance(net, MLPProbe) and linear_shapes == [(16, 10), (8, 16), (4, 8)]


def test_custom_classes_resolve_by_file_path_and_module(monkeypatch: pytest.MonkeyPatch) -> None:
    by_path = resolve_model_class(f"{HELPER}:MaskedMaxProbe")
    assert takes_sequences(by_path)
    monkeypatch.syspath_prepend(str(HELPER.parent))
    by_module = resolve_model_class("probes_custom_model:CentroidDistanceProbe")
    assert not takes_sequences(by_module)
    net = build_model("probes_custom_model:CentroidDistanceProbe", 4, 3, kwargs={"temperature": 2.0})
    assert net(torch.zeros(2, 4)).shape == (2, 3)


@pytest.mark.parametrize("name, message", [
    ("forest", "not one of"),
    ("no_such_module_xyz:Probe", "cannot import"),
    (f"{HELPER}:NotAProbe", "no torch.nn.Module class"),
    (f"{HELPER}:Missing", "no torch.nn.Module class"),
    ("/no/such/file.py:Probe", "no such file"),
])
def test_bad_model_names_fail_clearly(name: str, message: str) -> None:
    with pytest.raises(CounterpointError, match=message):
        resolve_model_class(name)


def test_custom_class_with_wrong_signature_fails_clearly() -> None:
    with pytest.raises(CounterpointError, match=r"must take \(input_dim, num_classes"):
        build_model(f"{HELPER}:CentroidDistanceProbe", 4, 3, kwargs={"width": 3})


def test_scaler_on_sequences_equals_statistics_of_all_frames() -> None:
    rng = np.random.default_rng(4)
    seqs = [rng.normal(loc=3.0, scale=2.0, size=(n, DIM)) for n in (1, 0, 17, 5, 9)]
    scaler = Standardizer.fit(seqs)
    every_frame = np.concatenate(seqs)
    np.testing.assert_allclose(scaler.mean, every_frame.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(scaler.scale, every_frame.std(axis=0), rtol=1e-6)
    constant = Standardizer.fit(np.ones((4, 2)))
    assert constant.scale.tolist() == [1.0, 1.0]
    with pytest.raises(CounterpointError, match="NaN or infinite"):
        Standardizer.fit(np.array([[0.0, np.nan]]))
