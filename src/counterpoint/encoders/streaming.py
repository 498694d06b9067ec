"""Centred STFT frames of a waveform that arrives in pieces, a chunk of frames at a time.

A long file is decoded and resampled in blocks (:func:`counterpoint.data.audio.stream_audio`);
an encoder whose features are per STFT frame (or need a few frames around each) computes them a
chunk of frames at a time from the samples under those frames, so its memory is that of one chunk
whatever the file's length. Frame ``t`` of a centred STFT (librosa's ``center=True``, zero padding)
covers samples ``[t·hop − n_fft/2, t·hop + n_fft/2)``; a chunk's samples are exactly those of its
frames and ``context`` frames on each side (clipped at the file's ends), zero-padded outside the
file as librosa pads it, so an STFT without centring of them gives the same frames as the whole
file's centred STFT.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FrameChunk:
    """Frames ``[first, stop)`` of the file's STFT, with their context frames ``[context_first, context_stop)``.

    ``samples`` are the zero-padded samples under the context frames (``n_fft + (context frames − 1)·hop``);
    ``edge_samples`` the same span padded with the file's first and last sample instead (librosa's
    ``mode="edge"``, which its zero-crossing rate uses). ``n_frames`` is the file's frame count when this
    chunk reaches the file's end, else None. ``whole`` holds the whole waveform when the file was shorter
    than one chunk (then it is the only chunk, and nothing else is set): callers compute those files as
    they always did.
    """

    first: int
    stop: int
    context_first: int
    context_stop: int
    samples: np.ndarray
    edge_samples: np.ndarray
    n_frames: int | None
    length: int | None
    whole: np.ndarray | None = None


def _span(buffer: np.ndarray, start: int, low: int, high: int, length: int | None, edge: bool) -> np.ndarray:
    """Samples ``[low, high)`` of the file from ``buffer`` (which starts at sample ``start``), padded outside the
    file (only the first chunk reaches before it, and then ``buffer`` starts at the file's first sample)."""
    before = max(0, -low)
    after = max(0, high - length) if length is not None else 0
    inside = buffer[max(low, 0) - start:min(high, length if length is not None else high) - start]
    if not before and not after:
        return inside
    if edge:
        return np.concatenate([np.full(before, buffer[0], dtype=buffer.dtype), inside,
                               np.full(after, buffer[-1], dtype=buffer.dtype)])
    return np.pad(inside, (before, after))


def frame_chunks(pieces: Iterable[np.ndarray], *, n_fft: int, hop: int, chunk_frames: int,
                 context: int = 0) -> Iterator[FrameChunk]:
    """Chunks of ``chunk_frames`` centred STFT frames (each with ``context`` frames on both sides) of the
    waveform that ``pieces`` (mono float32 blocks) make, in order, holding only what the next chunk needs."""
    buffer = np.zeros(0, dtype=np.float32)
    start = done = 0
    half = n_fft // 2
    for piece in pieces:
        buffer = np.concatenate([buffer, np.asarray(piece, dtype=np.float32)])
        # frames up to done + chunk_frames + context - 1 must lie before the end of what has arrived
        while start + len(buffer) >= (done + chunk_frames + context - 1) * hop + half + 1:
            yield _chunk(buffer, start, done, done + chunk_frames, context, n_fft, hop, None, None)
            done += chunk_frames
            drop = max(0, (done - context) * hop - half - start)
            buffer, start = buffer[drop:], start + drop
    length = start + len(buffer)
    if done == 0:
        yield FrameChunk(0, 0, 0, 0, buffer[:0], buffer[:0], None, length, whole=buffer)
        return
    n_frames = 1 + length // hop
    while done < n_frames:
        stop = min(done + chunk_frames, n_frames)
        yield _chunk(buffer, start, done, stop, context, n_fft, hop, n_frames, length)
        done = stop


def _chunk(buffer: np.ndarray, start: int, first: int, stop: int, context: int, n_fft: int, hop: int,
           n_frames: int | None, length: int | None) -> FrameChunk:
    context_first = max(0, first - context)
    context_stop = stop + context if n_frames is None else min(stop + context, n_frames)
    low, high = context_first * hop - n_fft // 2, (context_stop - 1) * hop + n_fft // 2
    return FrameChunk(first, stop, context_first, context_stop, _span(buffer, start, low, high, length, False),
                      _span(buffer, start, low, high, length, True), n_frames if stop == n_frames else None, length)
