"""``symbolic-stats``: a named vector of musical descriptors computed from a MIDI file.

No model, no weights: pitch, rhythm, meter, tempo, harmony, dynamics and instrumentation
statistics that a musicologist can read, so that other embedding spaces can be checked
against interpretable axes.

Conventions (they hold for every feature in :data:`FEATURE_NAMES`):

* **beat** means a quarter note (MIDI ticks / resolution), so beat-based values do not
  depend on the tempo. The *metrical* beat of the time signature (the denominator note, or
  the dotted note of compound meters such as 6/8) is used only for the off-beat share and
  the syncopation measure.
* Onsets closer than 1/32 beat are one **onset** (a chord counts once); onsets are
  placed on a 16th-note grid relative to the bar of the time signature in force
  (4/4 from the start when the file declares none).
* Pitch, interval, duration, polyphony, chroma and key features ignore drum notes (their
  "pitch" is an instrument); density, onset, velocity and instrumentation features count them.
* Histograms are shares (they sum to 1, or are all 0 when nothing falls in them).
* A **window** descriptor is the same computation restricted to the window: notes that
  start in it for count-based features; the time notes sound inside it for duration-weighted
  ones (pitch-class histogram, chroma, polyphony). The **pooled** descriptor is that
  computation over the whole piece, not an average of windows: histograms, key clarity and
  tempo statistics of a piece are not the means of those of its windows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import numpy as np

from counterpoint.data.manifest import Track
from counterpoint.data.midi import load_pretty_midi
from counterpoint.encoders.base import Embedding, Encoder, Parameter, batch_size_parameter
from counterpoint.errors import TrackError

PITCH_CLASS_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
#: Centres (in beats) of the inter-onset-interval and duration histograms; a value goes to
#: the nearest centre on a log scale, so the first and last bins also take everything
#: shorter / longer.
BEAT_BINS = (0.125, 1 / 6, 0.25, 1 / 3, 0.5, 2 / 3, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 8.0)
#: Melodic intervals 0..12 semitones get a bin each; larger leaps share the last bin.
MAX_INTERVAL = 12
#: 16th-note positions 0..15 in the bar get a bin each; later positions (bars longer than
#: 4/4) share the last bin.
BAR_POSITIONS = 16
#: Time signatures with a share-of-time feature; every other one counts as ``meter_other``.
METERS = ((2, 2), (2, 4), (3, 4), (4, 4), (3, 8), (6, 8), (9, 8), (12, 8))
GM_FAMILIES = ("piano", "chromatic_percussion", "organ", "guitar", "bass", "strings", "ensemble", "brass",
               "reed", "pipe", "synth_lead", "synth_pad", "synth_effects", "ethnic", "percussive", "sound_effects")
#: Krumhansl & Kessler (1982) probe-tone profiles, tonic first.
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
#: Onsets closer than this (in beats) are one onset.
ONSET_MERGE_BEATS = 1 / 32
#: An onset is on the 16th grid (or on a metrical beat) within this many beats.
GRID_TOLERANCE_BEATS = 1 / 32


def _beat_label(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _feature_names() -> tuple[str, ...]:
    names: list[str] = []
    # pitch
    names += [f"pitch_class_{p}" for p in PITCH_CLASS_NAMES]
    names += ["pitch_class_entropy", "pitch_min", "pitch_max", "pitch_range", "pitch_mean", "pitch_std"]
    names += [f"interval_{i}" for i in range(MAX_INTERVAL + 1)] + [f"interval_{MAX_INTERVAL + 1}plus"]
    # rhythm
    names += ["notes_per_second", "notes_per_beat", "onsets_per_beat"]
    names += [f"ioi_beats_{_beat_label(b)}" for b in BEAT_BINS]
    names += [f"duration_beats_{_beat_label(b)}" for b in BEAT_BINS]
    names += [f"bar_pos_16th_{i}" for i in range(BAR_POSITIONS)] + [f"bar_pos_16th_{BAR_POSITIONS}plus"]
    names += ["onset_off_16th_grid", "offbeat_onset_share", "syncopation_lhl"]
    # meter and tempo
    names += ["time_sig_given", "time_sig_numerator", "time_sig_denominator"]
    names += [f"meter_{n}_{d}" for n, d in METERS] + ["meter_other"]
    names += ["tempo_bpm_mean", "tempo_bpm_std", "tempo_bpm_min", "tempo_bpm_max"]
    # harmony
    names += ["polyphony_mean", "polyphony_max"]
    names += [f"chroma_{p}" for p in PITCH_CLASS_NAMES]
    names += ["key_clarity", "key_major_corr", "key_minor_corr"]
    # dynamics
    names += ["velocity_mean", "velocity_std", "velocity_min", "velocity_max", "velocity_range"]
    # instrumentation
    names += [f"family_{f}" for f in GM_FAMILIES] + ["drums_share", "instrument_count"]
    return tuple(names)


#: The name of every dimension, in order.
FEATURE_NAMES: tuple[str, ...] = _feature_names()
#: Descriptor groups (for reports): group → names.
FEATURE_GROUPS: dict[str, tuple[str, ...]] = {}


def _group_of(name: str) -> str:
    if name.startswith(("pitch", "interval")):
        return "pitch"
    if name.startswith(("notes_", "onset", "ioi_", "duration_", "bar_pos", "offbeat", "syncopation")):
        return "rhythm"
    if name.startswith(("time_sig", "meter", "tempo")):
        return "meter_tempo"
    if name.startswith(("polyphony", "chroma", "key")):
        return "harmony"
    if name.startswith("velocity"):
        return "dynamics"
    return "instrumentation"


for _name in FEATURE_NAMES:
    FEATURE_GROUPS[_group_of(_name)] = FEATURE_GROUPS.get(_group_of(_name), ()) + (_name,)
_INDEX = {name: i for i, name in enumerate(FEATURE_NAMES)}


@dataclass(frozen=True)
class Meter:
    """A time signature in force from ``start_beat`` (quarter notes) / ``start_s`` (seconds)."""

    start_beat: float
    start_s: float
    numerator: int
    denominator: int

    @property
    def compound(self) -> bool:
        """6/8, 9/8, 12/8...: the metrical beat is a dotted note of three denominator notes."""
        return self.numerator > 3 and self.numerator % 3 == 0

    @property
    def bar_beats(self) -> float:
        return self.numerator * 4.0 / self.denominator

    @property
    def metrical_beat_beats(self) -> float:
        """Length of the metrical beat in quarter notes (1 in 4/4, 1.5 in 6/8)."""
        return (3 if self.compound else 1) * 4.0 / self.denominator


@dataclass(frozen=True)
class PieceNotes:
    """Every note of a MIDI file as arrays sorted by onset, plus its tempo map and meters.

    Times are in seconds, ``*_beat`` positions in quarter notes from the file start.
    """

    start: np.ndarray
    end: np.ndarray
    start_beat: np.ndarray
    end_beat: np.ndarray
    pitch: np.ndarray
    velocity: np.ndarray
    program: np.ndarray
    is_drum: np.ndarray
    voice: np.ndarray  # index of the MIDI instrument (track/channel) the note belongs to
    tempo_times: np.ndarray  # seconds
    tempo_bpm: np.ndarray  # quarter notes per minute
    meters: tuple[Meter, ...]
    time_signature_given: bool
    duration: float  # end of the last note, seconds

    def bar_position(self, beat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For positions in quarter notes: (position in the bar in beats, the meter index)."""
        starts = np.array([m.start_beat for m in self.meters])
        which = np.clip(np.searchsorted(starts, beat + 1e-9, side="right") - 1, 0, len(starts) - 1)
        bar = np.array([m.bar_beats for m in self.meters])[which]
        return np.mod(beat - starts[which], bar), which


def seconds_to_beats(times: np.ndarray, tempo_times: np.ndarray, tempo_bpm: np.ndarray) -> np.ndarray:
    """Map times in seconds to quarter-note positions through a piecewise-constant tempo map."""
    tempo_times = np.asarray(tempo_times, dtype=float)
    tempo_bpm = np.asarray(tempo_bpm, dtype=float)
    beats_at_change = np.concatenate([[0.0], np.cumsum(np.diff(tempo_times) * tempo_bpm[:-1] / 60.0)])
    segment = np.clip(np.searchsorted(tempo_times, times, side="right") - 1, 0, len(tempo_times) - 1)
    return beats_at_change[segment] + (np.asarray(times) - tempo_times[segment]) * tempo_bpm[segment] / 60.0


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


def _standardised_rotations(profile: np.ndarray) -> np.ndarray:
    """``[12, 12]``: row t is the profile rotated to tonic t, minus its mean, over its norm."""
    rotated = np.stack([np.roll(profile, tonic) for tonic in range(12)])
    centred = rotated - rotated.mean(axis=1, keepdims=True)
    return centred / np.linalg.norm(centred, axis=1, keepdims=True)


_KEY_TEMPLATES = (_standardised_rotations(KK_MAJOR), _standardised_rotations(KK_MINOR))


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


def estimate_key(pitch_class_weights: np.ndarray) -> tuple[str, str, float]:
    """Krumhansl-Schmuckler key estimate: (tonic name, "major"/"minor", correlation)."""
    major, minor = key_correlations(pitch_class_weights)
    if major.max() >= minor.max():
        return PITCH_CLASS_NAMES[int(major.argmax())], "major", float(major.max())
    return PITCH_CLASS_NAMES[int(minor.argmax())], "minor", float(minor.max())


def metrical_weights(meter: Meter) -> np.ndarray:
    """Longuet-Higgins & Lee metrical weight of each 16th position of a bar: 0 on the
    downbeat, -1 on the half bar (4/4, 12/8), then one less per level down (beat, its
    halves or thirds, 16ths)."""
    bar16 = max(1, int(round(meter.bar_beats * 4)))
    beat16 = max(1, int(round(meter.metrical_beat_beats * 4)))
    beats_per_bar = bar16 // beat16
    levels = [bar16]
    if beats_per_bar >= 4 and beats_per_bar % 2 == 0:
        levels.append(bar16 // 2)
    levels.append(beat16)
    period = beat16
    while period > 1:
        period = period // 3 if (meter.compound and period == beat16 and period % 3 == 0) else period // 2
        levels.append(max(period, 1))
    positions = np.arange(bar16)
    weights = np.full(bar16, -len(levels), dtype=float)
    for depth in range(len(levels) - 1, -1, -1):
        weights[positions % levels[depth] == 0] = -depth
    return weights


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


def window_starts(duration: float, window: float, hop: float) -> np.ndarray:
    """Start times (s) of the analysis windows: every ``hop`` seconds until a window reaches
    the end of the piece (at least one window; the last may run past the end)."""
    extra = max(0.0, duration - window)
    count = 1 + int(np.ceil(extra / hop - 1e-9))
    return np.arange(count) * hop


class SymbolicStatsEncoder(Encoder):
    """Interpretable pitch, rhythm, meter, tempo, harmony, dynamics and instrumentation
    descriptors of a MIDI file, per window and for the whole piece."""

    name: ClassVar[str] = "symbolic-stats"
    modality: ClassVar[str] = "symbolic"
    description: ClassVar[str] = (f"{len(FEATURE_NAMES)} named MIDI descriptors (pitch, rhythm, meter/tempo, "
                                  "harmony, dynamics, instrumentation); per window and whole piece")
    parameters: ClassVar[dict[str, Parameter]] = {
        "window": Parameter(4.0, "window length in seconds for the frame descriptors", low=0.0, closed="right"),
        "hop": Parameter(2.0, "seconds between the starts of consecutive windows", low=0.0, closed="right"),
        "batch_size": batch_size_parameter(16),
    }
    code_version: ClassVar[str] = "1"

    @property
    def dim(self) -> int:
        return len(FEATURE_NAMES)

    def feature_names(self) -> list[str]:
        return list(FEATURE_NAMES)

    def prepare(self, track: Track) -> PieceNotes:
        if track.midi_path is None:
            raise TrackError(f"track {track.id!r}: has no MIDI file — symbolic-stats needs one")
        return piece_notes(load_pretty_midi(track.midi_path, track.id))

    def embed_prepared(self, inputs: Sequence[PieceNotes]) -> list[Embedding]:
        return [self.embed_piece(piece) for piece in inputs]

    def embed_piece(self, piece: PieceNotes) -> Embedding:
        """Frames (one per window, stamped at its centre) and the whole-piece vector."""
        window, hop = float(self.params["window"]), float(self.params["hop"])
        starts = window_starts(piece.duration, window, hop)
        frames = np.stack([describe(piece, s, s + window) for s in starts])
        return Embedding(frames=frames, timestamps=starts + window / 2, pooled=describe(piece),
                         duration=piece.duration)
