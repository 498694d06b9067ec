"""Windows in, embeddings out: the framing every model encoder shares (numpy only, no torch).

A model encoder cuts each track's input into windows (seconds of audio, spectrogram patches,
feature vectors), runs the windows of a whole batch of tracks through its model together
(:func:`run_windows`: windows of one shape share forward passes of ``forward_batch``, in
order, so a batch of tracks gives the numbers of each track alone up to float rounding), and
regroups the outputs into one :class:`~counterpoint.encoders.base.Embedding` per track with
the windows' times (:func:`mean_pooled`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

from counterpoint.encoders.base import Embedding

#: ``map``-like: applies a function to every batch and yields the results in order (the
#: builtin ``map``, or a thread pool's, to run CPU passes side by side).
BatchMap = Callable[[Callable[[np.ndarray], np.ndarray], Iterable[np.ndarray]], Iterable[np.ndarray]]


def window_starts(n_samples: int, window: int, min_tail: int) -> list[int]:
    """Start samples of non-overlapping windows of ``window`` samples; a last window shorter than
    ``min_tail`` samples is dropped (the first window is always kept when it is long enough)."""
    starts = list(range(0, n_samples, window))
    if starts and n_samples - starts[-1] < min_tail:
        starts.pop()
    return starts


def run_windows(windows: Sequence[Sequence[np.ndarray]], forward: Callable[[np.ndarray], np.ndarray],
                forward_batch: int, *, map_batches: BatchMap = map) -> list[list[np.ndarray]]:
    """Run every window of every track through ``forward`` in batches; outputs regrouped per track.

    ``windows[i]`` holds track ``i``'s windows. Windows of the same shape are stacked into
    batches of at most ``forward_batch``, taken in order across tracks (only the batch is
    copied, so strided views of long audio stay cheap); ``forward`` maps ``[B, ...]`` to
    ``[B, ...]``. Returns ``outputs[i][j]``, the output row of window ``j`` of track ``i``.
    """
    by_shape: dict[tuple[int, ...], list[tuple[int, int]]] = {}
    for track, track_windows in enumerate(windows):
        for index, window in enumerate(track_windows):
            by_shape.setdefault(np.shape(window), []).append((track, index))
    chunks = [positions[start:start + forward_batch]
              for positions in by_shape.values() for start in range(0, len(positions), forward_batch)]
    stacked = (np.stack([windows[track][index] for track, index in chunk]) for chunk in chunks)
    outputs: list[list[np.ndarray | None]] = [[None] * len(w) for w in windows]
    for chunk, result in zip(chunks, map_batches(forward, stacked)):
        for row, (track, index) in enumerate(chunk):
            outputs[track][index] = result[row]
    return outputs  # type: ignore[return-value]  (every position was filled)


def mean_pooled(frames: np.ndarray, timestamps: np.ndarray, duration: float) -> Embedding:
    """The Embedding of one track's frames ``[T, D]`` at ``timestamps`` (s), pooled by their mean over time."""
    return Embedding(frames=frames, timestamps=timestamps, pooled=frames.mean(axis=0), duration=duration)
