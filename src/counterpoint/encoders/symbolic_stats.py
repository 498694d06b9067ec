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

The file is read with symusic (:func:`counterpoint.data.midi.load_score`), and every window
and the whole piece are computed together by :func:`describe_windows` from the notes laid out
window by window, so that a file costs a fixed number of numpy calls however many windows it
has. The previous implementation (pretty_midi, one pass per window) is kept in
``tests/symbolic_stats_previous.py``; the two agree to 1e-6 except where the readers differ
(see :func:`piece_notes`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import numpy as np

from counterpoint.data.manifest import Track
from counterpoint.data.midi import load_score
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



def _tempo_segments(score: Any) -> tuple[np.ndarray, np.ndarray]:
    """(first tick, seconds per tick) of each constant-tempo segment of a symusic ``Score``.

    Built as pretty_midi builds it, so that times match its to the last bit: 120 BPM until the
    first tempo event, the last event at tick 0 sets the opening tempo, and an event that
    repeats the tempo in force starts no segment.
    """
    resolution = score.ticks_per_quarter
    segments = [(0, 60.0 / (120.0 * resolution))]
    tempos = score.tempos.numpy()
    for tick, mspq in zip(tempos["time"].tolist(), tempos["mspq"].tolist()):
        seconds_per_tick = 60.0 / ((6e7 / mspq) * resolution)
        if tick == 0:
            segments = [(0, seconds_per_tick)]
        elif seconds_per_tick != segments[-1][1]:
            segments.append((tick, seconds_per_tick))
    ticks, scales = (np.array(column) for column in zip(*segments))
    return ticks.astype(np.int64), scales.astype(float)


def piece_notes(score: Any) -> PieceNotes:
    """Collect the notes, tempo map and time signatures of a symusic ``Score`` (in ticks).

    symusic pairs each note-off with the earliest open note of its key and gives a note the
    program in force at its note-on; notes of zero length are dropped. ``voice`` is the index
    of the symusic track (one per MIDI track, channel and program).
    """
    resolution = float(score.ticks_per_quarter)
    segment_tick, seconds_per_tick = _tempo_segments(score)
    segment_seconds = np.concatenate([[0.0], np.cumsum(seconds_per_tick[:-1] * np.diff(segment_tick))])

    def seconds(ticks: np.ndarray) -> np.ndarray:
        segment = np.searchsorted(segment_tick, ticks, side="right") - 1
        return segment_seconds[segment] + seconds_per_tick[segment] * (ticks - segment_tick[segment])

    columns = []  # onset tick, length in ticks, pitch, velocity, program, drum?, voice
    for voice, track in enumerate(score.tracks):
        notes = track.notes.numpy()
        constant = np.ones_like(notes["time"])
        columns.append(np.stack([notes["time"], notes["duration"], notes["pitch"], notes["velocity"],
                                 constant * track.program, constant * track.is_drum, constant * voice], axis=1))
    table = np.concatenate(columns).astype(np.int64) if columns else np.zeros((0, 7), dtype=np.int64)
    table = table[table[:, 1] > 0]
    table = table[np.lexsort((table[:, 2], table[:, 0]))]
    onset, offset = table[:, 0], table[:, 0] + table[:, 1]

    meters: list[Meter] = []
    for ts in score.time_signatures:  # sorted by time
        beat = ts.time / resolution
        if meters and abs(meters[-1].start_beat - beat) < 1e-9:
            meters.pop()  # two signatures at one instant: the later one wins
        meters.append(Meter(beat, float(seconds(np.array([ts.time]))[0]), int(ts.numerator), int(ts.denominator)))
    given = bool(meters)
    if not meters or meters[0].start_beat > 0:
        meters.insert(0, Meter(0.0, 0.0, 4, 4))  # the MIDI default
    end = seconds(offset)
    return PieceNotes(
        start=seconds(onset), end=end, start_beat=onset / resolution, end_beat=offset / resolution,
        pitch=table[:, 2], velocity=table[:, 3].astype(float), program=table[:, 4], is_drum=table[:, 5].astype(bool),
        voice=table[:, 6],
        tempo_times=seconds(segment_tick), tempo_bpm=60.0 / (seconds_per_tick * resolution),
        meters=tuple(meters), time_signature_given=given, duration=float(end.max()),
    )


def _standardised_rotations(profile: np.ndarray) -> np.ndarray:
    """``[12, 12]``: row t is the profile rotated to tonic t, minus its mean, over its norm."""
    rotated = np.stack([np.roll(profile, tonic) for tonic in range(12)])
    centred = rotated - rotated.mean(axis=1, keepdims=True)
    return centred / np.linalg.norm(centred, axis=1, keepdims=True)


_KEY_TEMPLATES = (_standardised_rotations(KK_MAJOR), _standardised_rotations(KK_MINOR))


def key_correlations(pitch_class_weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pearson correlation of a 12-bin pitch-class profile (``[12]``, or ``[..., 12]`` for
    many) with the Krumhansl-Kessler major and minor profiles rotated to each tonic: two
    arrays of the same shape (last index = tonic pitch class). A flat profile (no pitch
    information) correlates 0 with every key."""
    weights = np.asarray(pitch_class_weights, dtype=float)
    centred = weights - weights.mean(axis=-1, keepdims=True)
    norm = np.linalg.norm(centred, axis=-1, keepdims=True)
    unit = np.divide(centred, norm, out=np.zeros(centred.shape), where=norm > 0)
    return unit @ _KEY_TEMPLATES[0].T, unit @ _KEY_TEMPLATES[1].T


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


def _ranges(first: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The index ranges ``[first[i], last[i])`` laid end to end: (the range ``i`` of each
    element, the index it stands for)."""
    lengths = last - first
    row = np.repeat(np.arange(first.size), lengths)
    return row, np.arange(row.size) - np.repeat(np.cumsum(lengths) - lengths - first, lengths)


def _range_reduce(ufunc: np.ufunc, values: np.ndarray, lo: np.ndarray, hi: np.ndarray, empty: float) -> np.ndarray:
    """``ufunc.reduce(values[lo[i]:hi[i]])`` for every ``i``; ``empty`` where the range is empty."""
    if values.size == 0:
        return np.full(lo.shape, empty, dtype=float)
    bounds = np.stack([lo, hi], axis=1).ravel()
    reduced = ufunc.reduceat(np.append(values, values[-1]), bounds)[::2]
    return np.where(lo < hi, reduced, empty)


def _first_of_row(row: np.ndarray) -> np.ndarray:
    """For a sorted array of row numbers: True where a row begins."""
    return np.concatenate([[True], row[1:] != row[:-1]]) if row.size else np.zeros(0, dtype=bool)


def _shares(counts: np.ndarray) -> np.ndarray:
    """Each row of ``counts`` over its sum (all 0 where the sum is 0)."""
    total = counts.sum(axis=-1, keepdims=True)
    return np.divide(counts, total, out=np.zeros(counts.shape), where=total > 0)


def _histograms(row: np.ndarray, bins: np.ndarray, n_bins: int, rows: int) -> np.ndarray:
    """``[rows, n_bins]`` shares of each row's values in ``bins``."""
    counts = np.bincount(row * n_bins + bins, minlength=rows * n_bins).reshape(rows, n_bins)
    return _shares(counts.astype(float))


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is not positive."""
    return np.divide(numerator, denominator, out=np.zeros(np.shape(numerator)), where=denominator > 0)


def _log_bin_index(values_beats: np.ndarray) -> np.ndarray:
    """Index of the :data:`BEAT_BINS` centre nearest (in log) to each positive value in beats."""
    centres = np.log2(np.array(BEAT_BINS))
    return np.abs(np.log2(values_beats)[:, None] - centres[None, :]).argmin(axis=1)


def _row_mean_std(row: np.ndarray, values: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (population) standard deviation of each row's values (0 for an empty row)."""
    mean = _ratio(np.bincount(row, weights=values, minlength=count.size), count)
    spread = np.bincount(row, weights=(values - mean[row]) ** 2, minlength=count.size)
    return mean, np.sqrt(_ratio(spread, count))


def _sweep(group: np.ndarray, start: np.ndarray, end: np.ndarray, groups: int) -> tuple[np.ndarray, ...]:
    """For intervals ``[start, end)`` in ``groups`` groups: per group the summed length of its
    intervals, the time at least one of them covers, and the most that overlap at once (a
    sweep over their ends and starts; at one instant ends come first)."""
    times = np.concatenate([start, end])
    steps = np.concatenate([np.ones(start.size, dtype=np.int64), -np.ones(end.size, dtype=np.int64)])
    owner = np.concatenate([group, group])
    order = np.lexsort((steps, times, owner))
    times, owner = times[order], owner[order]
    count = np.cumsum(steps[order])  # a group's steps sum to 0: the count is 0 between groups
    length, active = np.diff(times), count[:-1]
    summed = np.bincount(owner[:-1], weights=length * active, minlength=groups)
    covered = np.bincount(owner[:-1], weights=np.where(active > 0, length, 0.0), minlength=groups)
    most = np.zeros(groups)
    first = np.flatnonzero(_first_of_row(owner))
    most[owner[first]] = np.maximum.reduceat(count, first) if first.size else []
    return summed, covered, most


def _sounding(piece: PieceNotes, t0: np.ndarray, t1: np.ndarray, row: np.ndarray, note: np.ndarray) -> dict[str, np.ndarray]:
    """What the pitched notes sound in each span ``[t0, t1)`` (``row`` and ``note``: the notes
    starting in each): ``pitch_class_time`` ``[W, 12]`` (summed sounding time of each pitch
    class), ``pitch_class_cover`` ``[W, 12]`` (time at least one note of the class sounds),
    and over all pitched notes ``total`` (summed sounding time), ``cover`` (time at least one
    sounds) and ``most`` (the most notes sounding at once). Each note counts clipped to the
    span."""
    by_start = np.argsort(t0, kind="stable")  # the notes held into a span from before it
    held_note, held = _ranges(np.searchsorted(t0[by_start], piece.start, side="right"),
                              np.searchsorted(t0[by_start], piece.end, side="left"))
    row, note = np.concatenate([row, by_start[held]]), np.concatenate([note, held_note])
    pitched = ~piece.is_drum[note]
    order = np.lexsort((note[pitched], row[pitched]))
    row, note = row[pitched][order], note[pitched][order]
    start, end = np.maximum(piece.start[note], t0[row]), np.minimum(piece.end[note], t1[row])
    pitch_class = row * 12 + piece.pitch[note] % 12
    rows = t0.size
    total, cover, most = _sweep(row, start, end, rows)
    _, class_cover, _ = _sweep(pitch_class, start, end, rows * 12)
    return {"pitch_class_time": np.bincount(pitch_class, weights=end - start, minlength=rows * 12).reshape(rows, 12),
            "pitch_class_cover": class_cover.reshape(rows, 12), "total": total, "cover": cover, "most": most}


def _syncopation(piece: PieceNotes, row: np.ndarray, beats: np.ndarray, rows: int) -> np.ndarray:
    """Mean Longuet-Higgins & Lee syncopation per onset, for the onsets (``beats``, sorted
    within each row) of every row.

    Onsets are snapped to the 16th grid. An onset at metrical weight ``w`` followed by
    silence or a held note across a stronger position (weight ``r > w``) before the next
    onset is a syncopation of strength ``r - w`` (largest such ``r``). The result is the sum
    over onsets divided by the number of onsets: 0 for a pattern that always lands on the
    strongest position available.
    """
    sixteenth = np.round(beats * 4).astype(np.int64)
    new = _first_of_row(row) | np.concatenate([[True], sixteenth[1:] != sixteenth[:-1]])[:row.size]
    grid_row, grid = row[new], sixteenth[new]
    grid_count = np.bincount(grid_row, minlength=rows)
    pair = grid_row[1:] == grid_row[:-1]
    if not pair.any():
        return np.zeros(rows)
    # Weight of every 16th from the first to the last onset, bar by bar of the meter in force.
    lowest = grid.min()
    span = np.arange(lowest, grid.max() + 1)
    position, which = piece.bar_position(span / 4.0)
    weights = np.empty(span.size)
    for index, meter in enumerate(piece.meters):
        mask = which == index
        if mask.any():
            table = metrical_weights(meter)
            weights[mask] = table[np.minimum(np.round(position[mask] * 4).astype(int), table.size - 1)]
    here, following = grid[:-1] - lowest, grid[1:] - lowest
    skips = pair & (following - here > 1)
    strongest_between = _range_reduce(np.maximum, weights, here + 1, np.where(skips, following, here + 1), 0)
    strength = np.where(skips, np.maximum(0.0, strongest_between - weights[here]), 0.0)
    total = np.bincount(grid_row[1:], weights=strength, minlength=rows)
    return np.where(grid_count >= 2, _ratio(total, grid_count.astype(float)), 0.0)


def _voice_heads(piece: PieceNotes) -> np.ndarray:
    """True for each note that starts an onset of its voice (more than
    :data:`ONSET_MERGE_BEATS` after the voice's previous note, or its first)."""
    by_voice = np.argsort(piece.voice, kind="stable")
    voice, beat = piece.voice[by_voice], piece.start_beat[by_voice]
    heads = np.empty(by_voice.size, dtype=bool)
    heads[by_voice] = np.concatenate([[True], (voice[1:] != voice[:-1]) | (np.diff(beat) > ONSET_MERGE_BEATS)])
    return heads


def _melodic_intervals(piece: PieceNotes, row: np.ndarray, note: np.ndarray, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """For the notes starting in each row: the shares of absolute intervals (semitones) between
    consecutive notes of each voice's top line (the highest pitch of each onset of the voice),
    pitched voices only, and the number of voices (drums included)."""
    order = np.lexsort((piece.voice[note], row))  # by row, then voice; note order kept
    row, note = row[order], note[order]
    voice = piece.voice[note]
    voice_start = _first_of_row(row) | np.concatenate([[False], voice[1:] != voice[:-1]])[:row.size]
    voices = np.bincount(row[voice_start], minlength=rows)
    pitched = ~piece.is_drum[note]  # a voice is all drums or none
    row, note, voice_start = row[pitched], note[pitched], voice_start[pitched]
    if not row.size:
        return np.zeros((rows, MAX_INTERVAL + 2)), voices
    heads = np.flatnonzero(voice_start | _voice_heads(piece)[note])
    top = np.maximum.reduceat(piece.pitch[note], heads)
    line = np.cumsum(voice_start)[heads]
    same_line = line[1:] == line[:-1]
    steps = np.minimum(np.abs(np.diff(top)), MAX_INTERVAL + 1)[same_line]
    return _histograms(row[heads][1:][same_line], steps, MAX_INTERVAL + 2, rows), voices


def describe_windows(piece: PieceNotes, t0: np.ndarray, t1: np.ndarray) -> np.ndarray:
    """The descriptor vectors (float64 ``[W, len(FEATURE_NAMES)]``) of the notes in each span
    ``[t0[i], t1[i])`` seconds; ``[0, piece.duration)`` is the whole piece. See the module
    docstring for which notes each feature counts."""
    t0, t1 = np.asarray(t0, dtype=float), np.asarray(t1, dtype=float)
    rows = t0.size
    out = np.zeros((rows, len(FEATURE_NAMES)))

    def put(name: str, values: Any, where: np.ndarray | None = None) -> None:
        """Write a column, or ``[W, k]`` columns from ``name`` on; only the rows ``where`` says."""
        values = np.asarray(values, dtype=float)
        values = np.full((rows, 1), values) if values.ndim == 0 else values.reshape(rows, -1)
        columns = slice(_INDEX[name], _INDEX[name] + values.shape[1])
        if where is None:
            out[:, columns] = values
        else:
            out[where, columns] = values[where]

    span = np.maximum(np.minimum(t1, piece.duration) - t0, 0.0)
    first = np.searchsorted(piece.start, t0, side="left")
    n_notes = np.searchsorted(piece.start, t1, side="left") - first
    row, note = _ranges(first, first + n_notes)  # the notes starting in each span
    row_offset = np.cumsum(n_notes) - n_notes
    melodic = ~piece.is_drum[note]

    # pitch
    sounding = _sounding(piece, t0, t1, row, note)
    pc_weights = sounding["pitch_class_time"]
    pc_shares = _shares(pc_weights)
    put("pitch_class_C", pc_shares)
    with np.errstate(divide="ignore", invalid="ignore"):
        put("pitch_class_entropy", -np.where(pc_shares > 0, pc_shares * np.log2(pc_shares), 0.0).sum(axis=1))
    melodic_row, pitches = row[melodic], piece.pitch[note][melodic]
    n_melodic = np.bincount(melodic_row, minlength=rows)
    lo = np.cumsum(n_melodic) - n_melodic
    lowest = _range_reduce(np.minimum, pitches, lo, lo + n_melodic, 0)
    highest = _range_reduce(np.maximum, pitches, lo, lo + n_melodic, 0)
    mean, std = _row_mean_std(melodic_row, pitches.astype(float), n_melodic)
    put("pitch_min", np.stack([lowest, highest, highest - lowest, mean, std], axis=1), where=n_melodic > 0)
    intervals, voices = _melodic_intervals(piece, row, note, rows)
    put("interval_0", intervals)

    # rhythm
    beats_span = (seconds_to_beats(t0 + span, piece.tempo_times, piece.tempo_bpm)
                  - seconds_to_beats(t0, piece.tempo_times, piece.tempo_bpm))
    put("notes_per_second", _ratio(n_notes.astype(float), span))
    put("notes_per_beat", _ratio(n_notes.astype(float), beats_span))
    onset_heads = np.concatenate([[True], np.diff(piece.start_beat) > ONSET_MERGE_BEATS])
    is_onset = _first_of_row(row) | onset_heads[note]
    onset_row, onset = row[is_onset], note[is_onset]
    onset_beat = piece.start_beat[onset]
    n_onsets = np.bincount(onset_row, minlength=rows)
    put("onsets_per_beat", _ratio(n_onsets.astype(float), beats_span))
    same_row = onset_row[1:] == onset_row[:-1]
    ioi = np.diff(onset_beat)[same_row]
    put(f"ioi_beats_{_beat_label(BEAT_BINS[0])}",
        _histograms(onset_row[1:][same_row][ioi > 0], _log_bin_index(ioi[ioi > 0]), len(BEAT_BINS), rows))
    durations = (piece.end_beat - piece.start_beat)[note]
    timed = melodic & (durations > 0)
    put(f"duration_beats_{_beat_label(BEAT_BINS[0])}",
        _histograms(row[timed], _log_bin_index(durations[timed]), len(BEAT_BINS), rows))
    in_bar, which = piece.bar_position(onset_beat)
    sixteenths = in_bar * 4
    nearest = np.round(sixteenths)
    off_grid = np.abs(sixteenths - nearest) > GRID_TOLERANCE_BEATS * 4
    bar16 = np.round(np.array([m.bar_beats * 4 for m in piece.meters])[which])
    slot = np.minimum(np.where(nearest >= bar16, 0, nearest).astype(int), BAR_POSITIONS)
    put("bar_pos_16th_0", _histograms(onset_row[~off_grid], slot[~off_grid], BAR_POSITIONS + 1, rows))
    put("onset_off_16th_grid", _ratio(np.bincount(onset_row, weights=off_grid, minlength=rows), n_onsets))
    beat_len = np.array([m.metrical_beat_beats for m in piece.meters])[which]
    in_beats = in_bar / beat_len
    on_beat = np.abs(in_beats - np.round(in_beats)) * beat_len <= GRID_TOLERANCE_BEATS
    put("offbeat_onset_share", 1.0 - _ratio(np.bincount(onset_row, weights=on_beat, minlength=rows), n_onsets),
        where=n_onsets > 0)
    put("syncopation_lhl", _syncopation(piece, onset_row, onset_beat, rows))

    # meter and tempo
    put("time_sig_given", float(piece.time_signature_given))
    meter_row, meter, share = _meter_shares(piece, t0, np.where(span > 0, t0 + span, t0 + 1e-9))
    largest = np.flatnonzero(_row_maximum(meter_row, share))
    main = meter[largest[_first_of_row(meter_row[largest])]]  # the first meter of the largest share
    put("time_sig_numerator", np.array([piece.meters[k].numerator for k in main]))
    put("time_sig_denominator", np.array([piece.meters[k].denominator for k in main]))
    named = np.array([METERS.index(key) if key in METERS else len(METERS)
                      for key in ((m.numerator, m.denominator) for m in piece.meters)])
    put("meter_2_2",  # the METERS columns, then meter_other
        np.bincount(meter_row * (len(METERS) + 1) + named[meter], weights=share,
                    minlength=rows * (len(METERS) + 1)).reshape(rows, -1))
    put("tempo_bpm_mean", _tempo_stats(piece, t0, t0 + span))

    # harmony
    put("polyphony_mean", _ratio(sounding["total"], sounding["cover"]))
    put("polyphony_max", sounding["most"])
    put("chroma_C", _ratio(sounding["pitch_class_cover"], sounding["cover"][:, None]))
    major, minor = key_correlations(pc_weights)
    put("key_clarity", np.maximum(major.max(axis=1), minor.max(axis=1)))
    put("key_major_corr", major.max(axis=1))
    put("key_minor_corr", minor.max(axis=1))

    # dynamics
    velocity = piece.velocity[note]
    mean, std = _row_mean_std(row, velocity, n_notes)
    lowest = _range_reduce(np.minimum, velocity, row_offset, row_offset + n_notes, 0)
    highest = _range_reduce(np.maximum, velocity, row_offset, row_offset + n_notes, 0)
    put("velocity_mean", np.stack([mean, std, lowest, highest, highest - lowest], axis=1), where=n_notes > 0)

    # instrumentation
    families = np.bincount(row[melodic] * 16 + piece.program[note][melodic] // 8, minlength=rows * 16)
    put("family_piano", _ratio(families.reshape(rows, 16), n_notes[:, None].astype(float)), where=n_notes > 0)
    put("drums_share", _ratio(np.bincount(row, weights=~melodic, minlength=rows), n_notes), where=n_notes > 0)
    put("instrument_count", voices, where=n_notes > 0)
    return out


def _segment_overlaps(segment_starts: np.ndarray, t0: np.ndarray, t1: np.ndarray) -> tuple[np.ndarray, ...]:
    """Overlaps of each span ``[t0, t1)`` with the segments ``[segment_starts[k],
    segment_starts[k+1])`` (the last one unbounded): (span, segment, overlap in seconds) for
    every segment from the one in force at ``t0`` to the last that begins before ``t1``, span
    by span (at least one per span: the one in force at ``t0`` comes first)."""
    lo = np.maximum(np.searchsorted(segment_starts, t0, side="right") - 1, 0)
    hi = np.maximum(np.searchsorted(segment_starts, t1, side="left"), lo + 1)
    row, segment = _ranges(lo, hi)
    ends = np.append(segment_starts[1:], np.inf)
    overlap = np.clip(np.minimum(ends[segment], t1[row]) - np.maximum(segment_starts[segment], t0[row]), 0.0, None)
    return row, segment, overlap


def _row_maximum(row: np.ndarray, values: np.ndarray) -> np.ndarray:
    """True where a value is the largest of its row (``row`` sorted, every row present)."""
    return values == np.maximum.reduceat(values, np.flatnonzero(_first_of_row(row)))[row]


def _meter_shares(piece: PieceNotes, t0: np.ndarray, t1: np.ndarray) -> tuple[np.ndarray, ...]:
    """(span, meter index, share of the span's time) for each span ``[t0, t1)``; a span of no
    length is all under the meter in force at ``t0``."""
    row, meter, overlap = _segment_overlaps(np.array([m.start_s for m in piece.meters]), t0, t1)
    total = np.bincount(row, weights=overlap, minlength=t0.size)
    overlap = np.where(total[row] > 0, overlap, _first_of_row(row))
    return row, meter, overlap / np.bincount(row, weights=overlap, minlength=t0.size)[row]


def _tempo_stats(piece: PieceNotes, t0: np.ndarray, t1: np.ndarray) -> np.ndarray:
    """``[W, 4]``: time-weighted mean and std, min and max of the tempo (quarter notes/min) in
    each span ``[t0, t1)``; the tempo in force at ``t0`` for a span of no length."""
    row, segment, overlap = _segment_overlaps(piece.tempo_times, t0, t1)
    bpm = piece.tempo_bpm[segment]
    weight = np.bincount(row, weights=overlap, minlength=t0.size)
    mean = _ratio(np.bincount(row, weights=bpm * overlap, minlength=t0.size), weight)
    std = np.sqrt(_ratio(np.bincount(row, weights=(bpm - mean[row]) ** 2 * overlap, minlength=t0.size), weight))
    first = np.flatnonzero(_first_of_row(row))
    lowest = np.minimum.reduceat(np.where(overlap > 0, bpm, np.inf), first)
    highest = np.maximum.reduceat(np.where(overlap > 0, bpm, -np.inf), first)
    still = weight == 0
    in_force = bpm[first]
    return np.stack([np.where(still, in_force, mean), np.where(still, 0.0, std),
                     np.where(still, in_force, lowest), np.where(still, in_force, highest)], axis=1)


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
    #: 2: MIDI read with symusic (note pairing, programs, tempo events in any track; see the README).
    code_version: ClassVar[str] = "2"
    prepare_imports: ClassVar[tuple[str, ...]] = ("symusic", "mido")

    @property
    def dim(self) -> int:
        return len(FEATURE_NAMES)

    def feature_names(self) -> list[str]:
        return list(FEATURE_NAMES)

    def prepare(self, track: Track) -> PieceNotes:
        if track.midi_path is None:
            raise TrackError(f"track {track.id!r}: has no MIDI file — symbolic-stats needs one")
        return piece_notes(load_score(track.midi_path, track.id))

    def embed_prepared(self, inputs: Sequence[PieceNotes]) -> list[Embedding]:
        return [self.embed_piece(piece) for piece in inputs]

    def embed_piece(self, piece: PieceNotes) -> Embedding:
        """Frames (one per window, stamped at its centre) and the whole-piece vector."""
        window, hop = float(self.params["window"]), float(self.params["hop"])
        starts = window_starts(piece.duration, window, hop)
        # Every window and, last, the whole piece, in one pass.
        vectors = describe_windows(piece, np.append(starts, 0.0), np.append(starts + window, piece.duration))
        return Embedding(frames=vectors[:-1], timestamps=starts + window / 2, pooled=vectors[-1],
                         duration=piece.duration)
