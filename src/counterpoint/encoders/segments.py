"""CLaMP's long-input extractor: cut a sequence into windows, run them masked, stitch frames, weight the pooled mean.

Shared by CLaMP 2 / CLaMP 3's symbolic branch (sequences of M3 patches) and CLaMP 3's audio
branch (sequences of MERT window vectors), after the reference extractors
(``extract_clamp2.py``, ``extract_clamp3.py``): the sequence is cut into windows of ``window``
items, the last window taken from the end; each window's states are mask-averaged and
projected by the model, and the pooled vector is the mean of the windows' vectors weighted by
how many new items each window brings (``window`` for full windows, the remainder for the last).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np


def segment_windows(n_items: int, window: int) -> list[tuple[int, int]]:
    """``[start, stop)`` of each window over ``n_items``: consecutive windows of ``window``,
    the last one moved back to end at ``n_items`` (shorter only when ``n_items < window``)."""
    if n_items <= 0:
        raise ValueError("nothing to cut into windows")
    starts = list(range(0, n_items, window))
    spans = [(s, min(s + window, n_items)) for s in starts]
    spans[-1] = (max(0, n_items - window), n_items)
    return spans


def segment_weights(n_items: int, window: int) -> np.ndarray:
    """Weight of each window in the pooled mean: ``window`` per full window, the remainder for the last."""
    full, rest = divmod(n_items, window)
    return np.asarray([window] * full + ([rest] if rest else []), dtype=np.float64)


def stitch_windows(window_frames: Sequence[np.ndarray], n_items: int, window: int) -> np.ndarray:
    """One frame per item from per-window frames: each window's own items, the last window's tail."""
    rest = n_items % window
    parts = list(window_frames[:-1]) + [window_frames[-1][-rest:] if rest else window_frames[-1]]
    return np.concatenate(parts, axis=0)


def run_segmented(items: Sequence[Any], window: int, forward: Callable, *, forward_batch: int, pad_item: Any,
                  device: Any = "cpu") -> list[tuple[np.ndarray, np.ndarray]]:
    """The reference long-input extractor, batched over windows of several pieces.

    ``items`` are tensors ``[N_i, ...]`` (patches, or audio feature vectors); each is cut with
    :func:`segment_windows`, every window padded to ``window`` with ``pad_item`` (a tensor of
    one item's shape) and masked. ``forward(x [B, window, ...], mask [B, window])`` returns
    ``(hidden [B, window, H], pooled [B, P])``. Returns per item ``(frames [N_i, H], pooled
    [P])``: frames stitched with :func:`stitch_windows`, pooled the :func:`segment_weights`
    weighted mean of the windows' pooled vectors. float32 numpy. Windows of all items share
    forward passes of ``forward_batch`` windows, without gradients, on ``device``.
    """
    import torch

    jobs: list[tuple[int, torch.Tensor, torch.Tensor]] = []
    spans_of: list[list[tuple[int, int]]] = []
    for index, item in enumerate(items):
        spans = segment_windows(len(item), window)
        spans_of.append(spans)
        for start, stop in spans:
            piece = item[start:stop]
            mask = torch.zeros(window, dtype=torch.float32)
            mask[:len(piece)] = 1.0
            if len(piece) < window:
                pad = pad_item.unsqueeze(0).expand(window - len(piece), *pad_item.shape).to(piece.dtype)
                piece = torch.cat([piece, pad], dim=0)
            jobs.append((index, piece, mask))
    hidden_out: list[np.ndarray] = []
    pooled_out: list[np.ndarray] = []
    with torch.inference_mode():
        for begin in range(0, len(jobs), forward_batch):
            chunk = jobs[begin:begin + forward_batch]
            x = torch.stack([j[1] for j in chunk]).to(device)
            mask = torch.stack([j[2] for j in chunk]).to(device)
            hidden, pooled = forward(x, mask)
            for row, job in enumerate(chunk):
                hidden_out.append(hidden[row, :int(job[2].sum())].float().cpu().numpy())
                pooled_out.append(pooled[row].float().cpu().numpy())
    results: list[tuple[np.ndarray, np.ndarray]] = []
    cursor = 0
    for item, spans in zip(items, spans_of):
        n = len(item)
        frames = stitch_windows(hidden_out[cursor:cursor + len(spans)], n, window)
        weights = segment_weights(n, window)
        stacked = np.stack(pooled_out[cursor:cursor + len(spans)]).astype(np.float64)
        pooled = (stacked * weights[:, None]).sum(axis=0) / weights.sum()
        results.append((frames.astype(np.float32), pooled.astype(np.float32)))
        cursor += len(spans)
    return results
