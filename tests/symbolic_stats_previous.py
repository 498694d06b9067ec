"""The previous ``symbolic-stats`` implementation (before issue 12), kept as the reference the
fast one is checked against (``tests/test_symbolic_stats.py``) and timed against
(``benchmarks/symbolic_stats_throughput.py``).

It parses with pretty_midi and computes every window with its own ``describe`` call. Only the
functions the fast implementation replaced live here, verbatim; the definitions both share
(feature names, meters, the tempo map, metrical weights, key profiles) are imported from
:mod:`counterpoint.encoders.symbolic_stats`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from counterpoint.data.midi import load_pretty_midi
from counterpoint.encoders.symbolic_stats import (
    _INDEX,
    _KEY_TEMPLATES,
    BEAT_BINS,
    FEATURE_NAMES,
    GRID_TOLERANCE_BEATS,
    MAX_INTERVAL,
    BAR_POSITIONS,
    METERS,
    ONSET_MERGE_BEATS,
    Meter,
    PieceNotes,
    _beat_label,
    metrical_weights,
    seconds_to_beats,
    window_starts,
)


def piece_notes(midi: Any) -> PieceNotes:
    """Collect the notes, tempo map and time signatures of a ``pretty_midi.PrettyMIDI``."""
    rows = [(n.start, n.end, n.pitch, n.velocity, inst.program, inst.is_drum, v)
            for v, inst in enumerate(midi.instruments) for n in inst.notes]
    table = np.array(rows, dtype=float).reshape(-1, 7)
    table = table[np.lexsort((table[:, 2], table[:, 0]))]
    tempo_times, tempo_bpm = midi.get_tempo_changes()
    if len(tempo_times) == 0:
        tempo_times, tempo_bpm = np.array([0.0]), np.array([120.0])
    resolution = float(midi.resolution)

    def to_beats(times: np.ndarray) -> np.ndarray:
        # Round to whole ticks: pretty_midi derived the seconds from ticks, so this is exact.
        return np.round(seconds_to_beats(times, tempo_times, tempo_bpm) * resolution) / resolution

    meters: list[Meter] = []
    for ts in sorted(midi.time_signature_changes, key=lambda t: t.time):
        beat = float(to_beats(np.array([ts.time]))[0])
        if meters and abs(meters[-1].start_beat - beat) < 1e-9:
            meters.pop()  # two signatures at one instant: the later one wins
        meters.append(Meter(beat, float(ts.time), int(ts.numerator), int(ts.denominator)))
    given = bool(meters)
    if not meters or meters[0].start_beat > 0:
        meters.insert(0, Meter(0.0, 0.0, 4, 4))  # the MIDI default
    return PieceNotes(
        start=table[:, 0], end=table[:, 1], start_beat=to_beats(table[:, 0]), end_beat=to_beats(table[:, 1]),
        pitch=table[:, 2].astype(int), velocity=table[:, 3], program=table[:, 4].astype(int),
        is_drum=table[:, 5].astype(bool), voice=table[:, 6].astype(int),
        tempo_times=np.asarray(tempo_times, float), tempo_bpm=np.asarray(tempo_bpm, float),
        meters=tuple(meters), time_signature_given=given, duration=float(table[:, 1].max()),
    )


def onset_groups(beats: np.ndarray) -> np.ndarray:
    """Indices (into sorted ``beats``) of the first note of each onset (notes closer than
    :data:`ONSET_MERGE_BEATS` to the previous onset belong to it)."""
    if beats.size == 0:
        return np.zeros(0, dtype=int)
    keep = np.concatenate([[True], np.diff(beats) > ONSET_MERGE_BEATS])
    return np.flatnonzero(keep)


def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total > 0 else np.zeros_like(counts, dtype=float)


def _log_bin(values_beats: np.ndarray) -> np.ndarray:
    """Histogram (shares) of values in beats over :data:`BEAT_BINS`, nearest centre in log."""
    values = values_beats[values_beats > 0]
    centres = np.log2(np.array(BEAT_BINS))
    index = np.abs(np.log2(values)[:, None] - centres[None, :]).argmin(axis=1)
    return _shares(np.bincount(index, minlength=len(BEAT_BINS)).astype(float))


def _union_length(start: np.ndarray, end: np.ndarray) -> float:
    """Total length covered by the union of intervals [start, end)."""
    if start.size == 0:
        return 0.0
    order = np.argsort(start, kind="stable")
    s, e = start[order], end[order]
    covered_to = np.concatenate([[-np.inf], np.maximum.accumulate(e)[:-1]])
    return float(np.maximum(0.0, e - np.maximum(s, covered_to)).sum())


def polyphony(start: np.ndarray, end: np.ndarray) -> tuple[float, int]:
    """(mean, max) number of simultaneous notes over the time at least one sounds."""
    if start.size == 0:
        return 0.0, 0
    times = np.concatenate([start, end])
    steps = np.concatenate([np.ones(start.size), -np.ones(end.size)])
    order = np.lexsort((steps, times))  # at equal times, ends (-1) before starts
    times, count = times[order], np.cumsum(steps[order])
    lengths = np.diff(times)
    active = count[:-1]
    sounding = lengths[active > 0].sum()
    mean = float((lengths * active).sum() / sounding) if sounding > 0 else 0.0
    return mean, int(count.max())


def key_correlations(pitch_class_weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pearson correlation of a 12-bin pitch-class profile with the Krumhansl-Kessler major
    and minor profiles rotated to each tonic: two arrays ``[12]`` (index = tonic pitch class).
    A flat profile (no pitch information) correlates 0 with every key."""
    centred = np.asarray(pitch_class_weights, float) - np.mean(pitch_class_weights)
    norm = np.linalg.norm(centred)
    if norm == 0:
        return np.zeros(12), np.zeros(12)
    unit = centred / norm
    return _KEY_TEMPLATES[0] @ unit, _KEY_TEMPLATES[1] @ unit



def syncopation_lhl(piece: PieceNotes, onset_beats: np.ndarray) -> float:
    """Mean Longuet-Higgins & Lee syncopation per onset.

    Onsets are snapped to the 16th grid. An onset at metrical weight ``w`` followed by
    silence or a held note across a stronger position (weight ``r > w``) before the next
    onset is a syncopation of strength ``r - w`` (largest such ``r``). The result is the sum
    over onsets divided by the number of onsets: 0 for a pattern that always lands on the
    strongest position available.
    """
    if onset_beats.size < 2:
        return 0.0
    grid = np.unique(np.round(onset_beats * 4).astype(np.int64))
    if grid.size < 2:
        return 0.0
    # Weight of every 16th from the first to the last onset, bar by bar of the meter in force.
    span = np.arange(grid[0], grid[-1] + 1)
    position, which = piece.bar_position(span / 4.0)
    weights = np.empty(span.size)
    for index, meter in enumerate(piece.meters):
        mask = which == index
        if mask.any():
            table = metrical_weights(meter)
            weights[mask] = table[np.clip(np.round(position[mask] * 4).astype(int), 0, table.size - 1)]
    local = grid - grid[0]
    total = 0.0
    for here, following in zip(local[:-1], local[1:]):
        if following - here > 1:
            strongest_between = weights[here + 1:following].max()
            total += max(0.0, strongest_between - weights[here])
    return total / grid.size


def describe(piece: PieceNotes, t0: float = 0.0, t1: float | None = None) -> np.ndarray:
    """The descriptor vector (float64, ``len(FEATURE_NAMES)``) of the notes in [t0, t1) seconds.

    ``t1=None`` means the whole piece from ``t0``. See the module docstring for which notes
    each feature counts.
    """
    whole = t1 is None
    t1 = piece.duration if whole else t1
    out = np.zeros(len(FEATURE_NAMES))

    def put(name: str, values: Any) -> None:
        """Write one value, or a run of values into consecutive dimensions from ``name`` on."""
        values = np.atleast_1d(np.asarray(values, dtype=float))
        out[_INDEX[name]:_INDEX[name] + values.size] = values

    span = max(min(t1, piece.duration) - t0, 0.0)
    first = np.searchsorted(piece.start, t0, side="left")
    last = piece.start.size if whole else np.searchsorted(piece.start, t1, side="left")
    starting = slice(first, last)
    pitched = ~piece.is_drum
    sounding = (piece.start < (np.inf if whole else t1)) & (piece.end > t0) & pitched
    clip_start = np.maximum(piece.start[sounding], t0)
    clip_end = np.minimum(piece.end[sounding], t1)
    clip_pitch = piece.pitch[sounding]
    n_notes = last - first
    start_beat = piece.start_beat[starting]
    is_drum = piece.is_drum[starting]
    melodic = ~is_drum

    # pitch
    pc_weights = np.bincount(clip_pitch % 12, weights=clip_end - clip_start, minlength=12)
    pc_shares = _shares(pc_weights)
    put("pitch_class_C", pc_shares)
    nonzero = pc_shares[pc_shares > 0]
    put("pitch_class_entropy", float(-(nonzero * np.log2(nonzero)).sum()))
    pitches = piece.pitch[starting][melodic]
    if pitches.size:
        put("pitch_min", pitches.min())
        put("pitch_max", pitches.max())
        put("pitch_range", pitches.max() - pitches.min())
        put("pitch_mean", pitches.mean())
        put("pitch_std", pitches.std())
    put("interval_0", _melodic_intervals(piece, starting))

    # rhythm
    beats_span = _beats_between(piece, t0, t0 + span)
    put("notes_per_second", n_notes / span if span > 0 else 0.0)
    put("notes_per_beat", n_notes / beats_span if beats_span > 0 else 0.0)
    onsets = start_beat[onset_groups(start_beat)]
    put("onsets_per_beat", onsets.size / beats_span if beats_span > 0 else 0.0)
    if onsets.size > 1:
        put(f"ioi_beats_{_beat_label(BEAT_BINS[0])}", _log_bin(np.diff(onsets)))
    durations = (piece.end_beat[starting] - start_beat)[melodic]
    if durations.size:
        put(f"duration_beats_{_beat_label(BEAT_BINS[0])}", _log_bin(durations))
    if onsets.size:
        in_bar, which = piece.bar_position(onsets)
        sixteenths = in_bar * 4
        nearest = np.round(sixteenths)
        off_grid = np.abs(sixteenths - nearest) > GRID_TOLERANCE_BEATS * 4
        bar16 = np.round(np.array([m.bar_beats * 4 for m in piece.meters])[which])
        slot = np.where(nearest >= bar16, 0, nearest).astype(int)
        put("bar_pos_16th_0", _shares(np.bincount(np.minimum(slot[~off_grid], BAR_POSITIONS),
                                                  minlength=BAR_POSITIONS + 1).astype(float)))
        put("onset_off_16th_grid", off_grid.mean())
        beat_len = np.array([m.metrical_beat_beats for m in piece.meters])[which]
        in_beats = in_bar / beat_len
        on_beat = np.abs(in_beats - np.round(in_beats)) * beat_len <= GRID_TOLERANCE_BEATS
        put("offbeat_onset_share", 1.0 - on_beat.mean())
        put("syncopation_lhl", syncopation_lhl(piece, onsets))

    # meter and tempo
    put("time_sig_given", float(piece.time_signature_given))
    meter_time = _meter_time_shares(piece, t0, t0 + span if span > 0 else t0 + 1e-9)
    main = piece.meters[int(np.argmax(meter_time))]
    put("time_sig_numerator", main.numerator)
    put("time_sig_denominator", main.denominator)
    for share, meter in zip(meter_time, piece.meters):
        key = (meter.numerator, meter.denominator)
        name = f"meter_{key[0]}_{key[1]}" if key in METERS else "meter_other"
        out[_INDEX[name]] += share
    put("tempo_bpm_mean", _tempo_stats(piece, t0, t0 + span))

    # harmony
    put("polyphony_mean", polyphony(clip_start, clip_end))
    sounding_time = _union_length(clip_start, clip_end)
    if sounding_time > 0:
        pcs = clip_pitch % 12
        put("chroma_C", [_union_length(clip_start[pcs == p], clip_end[pcs == p]) / sounding_time
                         for p in range(12)])
    major, minor = key_correlations(pc_weights)
    put("key_clarity", max(major.max(), minor.max()))
    put("key_major_corr", major.max())
    put("key_minor_corr", minor.max())

    # dynamics
    velocity = piece.velocity[starting]
    if velocity.size:
        put("velocity_mean", [velocity.mean(), velocity.std(), velocity.min(), velocity.max(),
                              velocity.max() - velocity.min()])

    # instrumentation
    if n_notes:
        families = piece.program[starting][melodic] // 8
        put("family_piano", np.bincount(families, minlength=16) / n_notes)
        put("drums_share", is_drum.mean())
        put("instrument_count", np.unique(piece.voice[starting]).size)
    return out


def _melodic_intervals(piece: PieceNotes, starting: slice) -> np.ndarray:
    """Shares of absolute intervals (semitones) between consecutive notes of each voice's
    top line (the highest pitch of each onset), pitched voices only."""
    counts = np.zeros(MAX_INTERVAL + 2)
    voices = piece.voice[starting]
    for voice in np.unique(voices[~piece.is_drum[starting]]):
        mask = voices == voice
        beats = piece.start_beat[starting][mask]
        pitches = piece.pitch[starting][mask]
        heads = onset_groups(beats)
        top = np.maximum.reduceat(pitches, heads) if heads.size else pitches[:0]
        steps = np.minimum(np.abs(np.diff(top)), MAX_INTERVAL + 1)
        counts += np.bincount(steps, minlength=MAX_INTERVAL + 2)
    return _shares(counts)


def _beats_between(piece: PieceNotes, t0: float, t1: float) -> float:
    ends = seconds_to_beats(np.array([t0, t1]), piece.tempo_times, piece.tempo_bpm)
    return float(ends[1] - ends[0])


def _meter_time_shares(piece: PieceNotes, t0: float, t1: float) -> np.ndarray:
    """Share of [t0, t1) seconds under each meter of ``piece.meters``."""
    starts = np.array([m.start_s for m in piece.meters])
    ends = np.append(starts[1:], np.inf)
    overlap = np.clip(np.minimum(ends, t1) - np.maximum(starts, t0), 0.0, None)
    if overlap.sum() == 0:  # a zero-length span: the meter in force at t0
        overlap = ((starts <= t0) & (t0 < ends)).astype(float)
    return overlap / overlap.sum()


def _tempo_stats(piece: PieceNotes, t0: float, t1: float) -> list[float]:
    """Time-weighted mean and std, min and max of the tempo (quarter notes/min) in [t0, t1)."""
    starts = piece.tempo_times
    ends = np.append(starts[1:], np.inf)
    overlap = np.clip(np.minimum(ends, t1) - np.maximum(starts, t0), 0.0, None)
    active = overlap > 0
    if not active.any():
        tempo = float(piece.tempo_bpm[max(np.searchsorted(starts, t0, side="right") - 1, 0)])
        return [tempo, 0.0, tempo, tempo]
    bpm, weight = piece.tempo_bpm[active], overlap[active]
    mean = float(np.average(bpm, weights=weight))
    std = float(np.sqrt(np.average((bpm - mean) ** 2, weights=weight)))
    return [mean, std, float(bpm.min()), float(bpm.max())]



def previous_embedding(midi_path: str | Path, window: float = 4.0, hop: float = 2.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frames ``[T, D]``, timestamps ``[T]``, pooled ``[D]``) as the previous encoder computed
    them (float64; the encoder stored them as float32)."""
    piece = piece_notes(load_pretty_midi(midi_path))
    starts = window_starts(piece.duration, window, hop)
    frames = np.stack([describe(piece, s, s + window) for s in starts])
    return frames, starts + window / 2, describe(piece)
