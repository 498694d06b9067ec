"""Where in time do audio and score agree? The comparison on time-paired segments.

Every track's frames of both modalities are brought onto common *segments of score time*
(``segment_seconds`` long): a symbolic frame counts in the segment its centre falls in, an audio
frame in the segment its centre falls in once mapped through the track's warping path
(:mod:`counterpoint.data.time_pairing`). A segment's embedding is the mean of its frames; segments
missing in either modality are left out. Then, per audio × symbolic encoder pair:

* **segment retrieval**: a ridge map (as :mod:`counterpoint.analysis.retrieval` fits for tracks,
  alpha chosen by grouped inner folds) is fitted on the training tracks' segments and ranks each
  held-out segment's partner *within its piece* (chance 1 / segments of that piece) and *across*
  every held-out segment (chance 1 / all of them); Recall@1 and MRR with cluster-bootstrap
  intervals (tracks are resampled, not segments) and a random-ranker null.
* **agreement curves**: for each held-out segment, ``1 − (rank − 1) / (n − 1)`` of its true partner
  among the n segments of its piece (1: found first, 0.5: chance), per track over time, and their
  mean over tracks per segment with a bootstrap band.
* **aligned CKA**: debiased CKA of the paired segments, against segments paired with a random
  circular time shift within their own piece (keeps the piece, breaks the timing) and with
  segments of other pieces (a random re-pairing); intervals from half-samples of whole tracks.
  Both with the segments as they are ("global") and minus their track's mean ("within track",
  so only what varies over time inside a piece counts).

Splits are :func:`counterpoint.splits.assign_splits` over the tracks with the store's group
column, so no piece straddles training and test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from counterpoint.analysis.similarity import debiased_cka, kernel_cka, u_centre
from counterpoint.analysis.compare import standardise_features
from counterpoint.analysis.pairwise import each_pair, family_notes, family_table, open_pairs
from counterpoint.analysis.retrieval import RIDGE_ALPHAS, pair_ranks, ridge_maps, standardise_with, unit_rows
from counterpoint.analysis.statistics import (Estimate, bootstrap_ci, half_sample_ci, half_samples,
                                              permutation_p_value)
from counterpoint.blas import single_threaded_blas
from counterpoint.config import AlignedSettings
from counterpoint.errors import CounterpointError
from counterpoint.matrix import FrameSequences
from counterpoint.progress import ProgressCallback
from counterpoint.results import TabledResult, json_ready
from counterpoint.significance import family_permutations
from counterpoint.splits import assign_splits, grouped_folds
from counterpoint.warping import TimePairing, TimePairs, WarpingPath, rendering_check

if TYPE_CHECKING:
    from counterpoint.store import Store

#: Fewest tracks with aligned segments for a pair to be compared.
MIN_TRACKS = 10
RETRIEVAL_COLUMNS = ["audio", "symbolic", "direction", "scope", "measure", "value", "ci_low", "ci_high", "p_value",
                     "chance", "null_mean", "n", "n_resample", "n_perm", "alpha"]
CURVE_COLUMNS = ["audio", "symbolic", "track", "segment", "start_s", "end_s", "rank", "n_candidates", "agreement",
                 "similarity"]
MEAN_CURVE_COLUMNS = ["audio", "symbolic", "segment", "start_s", "end_s", "agreement", "ci_low", "ci_high", "n_tracks"]
CKA_COLUMNS = ["audio", "symbolic", "centring", "null", "value", "ci_low", "ci_high", "value_resample", "p_value",
               "null_mean", "n", "n_resample", "n_tracks", "n_perm"]
#: Rows each encoder pair adds to the segment-retrieval table (2 directions × 2 scopes × 2 measures) and to
#: the aligned-CKA table (2 centrings × 2 nulls): with the number of pairs, the size of each table's Holm family.
RETRIEVAL_ROWS_PER_PAIR, CKA_ROWS_PER_PAIR = 8, 4
#: The two nulls of the aligned CKA.
TIME_SHIFTED, OTHER_PIECES = "time-shifted (same piece)", "other pieces"


@dataclass
class AlignedSegments:
    """Time-paired segments of one audio × symbolic pair: rows ``[M]`` of both spaces and where they come from."""

    audio: np.ndarray        # [M, Da] float64, mean audio frame of each segment
    symbolic: np.ndarray     # [M, Ds] float64
    track: np.ndarray        # [M] int, index into ids
    segment: np.ndarray      # [M] int, segment number within its track (start = segment · segment_seconds)
    ids: np.ndarray          # [n_tracks] track ids
    labels: np.ndarray       # [n_tracks]
    groups: np.ndarray | None
    given_split: np.ndarray | None

    def rows_of(self, tracks: np.ndarray) -> np.ndarray:
        """Row indices of the segments of the given track indices."""
        return np.flatnonzero(np.isin(self.track, tracks))


def segment_means(frames: np.ndarray, seconds: np.ndarray, segment_seconds: float,
                  *, n_segments: int) -> tuple[np.ndarray, np.ndarray]:
    """The mean frame ``[n_segments, D]`` of each segment ``[k, k+1) · segment_seconds`` of the frames
    ``[T, D]`` whose times ``seconds`` [T] fall in it (NaN: in none), and which segments hold any ``[n_segments]``."""
    seconds = np.asarray(seconds, dtype=np.float64)
    index = np.floor(np.where(np.isfinite(seconds), seconds, -1.0) / segment_seconds).astype(int)
    inside = (index >= 0) & (index < n_segments)
    sums = np.zeros((n_segments, frames.shape[1]))
    np.add.at(sums, index[inside], np.asarray(frames, dtype=np.float64)[inside])
    counts = np.bincount(index[inside], minlength=n_segments)
    return sums / np.maximum(counts, 1)[:, None], counts > 0


def pair_segments(audio: FrameSequences, symbolic: FrameSequences, paths: dict[str, WarpingPath],
                  *, segment_seconds: float, label: str, depth: int | None, group: str | None) -> AlignedSegments:
    """Segments of score time of the tracks both hold and that have a warping path (see the module docstring).

    The score's extent is the symbolic frames': segments ``0 … ⌈last centre / segment_seconds⌉ − 1``, so a
    segment that would begin at the last window's centre (a window half past the score's end, holding the
    rendering's release tail) is not one; audio frames mapped past the last segment are left out.
    """
    audio, symbolic = audio.paired_with(symbolic)
    keep = np.array([track_id in paths for track_id in audio.ids], dtype=bool)
    audio, symbolic = audio.take(keep), symbolic.take(keep)
    rows_a, rows_s, tracks, segments = [], [], [], []
    for i, track_id in enumerate(audio.ids):
        score_seconds = symbolic.timestamps[i]
        if not len(score_seconds) or not len(audio.timestamps[i]):
            continue
        n_segments = max(1, int(np.ceil(score_seconds.max() / segment_seconds)))
        mapped = paths[track_id].audio_to_score(audio.timestamps[i])
        means_a, has_a = segment_means(audio.frames[i], mapped, segment_seconds, n_segments=n_segments)
        means_s, has_s = segment_means(symbolic.frames[i], score_seconds, segment_seconds, n_segments=n_segments)
        both = np.flatnonzero(has_a & has_s)
        rows_a.append(means_a[both])
        rows_s.append(means_s[both])
        tracks.append(np.full(len(both), i))
        segments.append(both)
    if not rows_a:
        raise CounterpointError(f"{audio.spec} × {symbolic.spec}: no track has frames of both in one segment")
    return AlignedSegments(np.vstack(rows_a), np.vstack(rows_s), np.concatenate(tracks), np.concatenate(segments),
                           audio.ids, audio.labels(label, depth), audio.groups(group), audio.given_split())


# --------------------------------------------------------------------------------------
# Segment retrieval


def clustered_figures(ranks: np.ndarray, n_candidates: np.ndarray, tracks: np.ndarray, *, n_boot: int, n_perm: int,
                      seed: int) -> dict[str, Estimate]:
    """Recall@1 and MRR of per-query ``ranks`` among ``n_candidates`` each, with a cluster-bootstrap
    interval (the queries' ``tracks`` are resampled, each with all its queries), the chance level (a
    random ranker: ``mean 1/n`` and ``mean H_n / n``), and the p-value against that random ranker."""
    ranks, n_candidates = np.asarray(ranks, np.float64), np.asarray(n_candidates, np.int64)
    _, cluster = np.unique(tracks, return_inverse=True)

    def figures(r: np.ndarray) -> dict[str, np.ndarray]:
        return {"recall@1": (r <= 1).astype(np.float64), "mrr": 1.0 / r}

    harmonic = np.cumsum(1.0 / np.arange(1, n_candidates.max() + 1))
    chance = {"recall@1": float(np.mean(1.0 / n_candidates)), "mrr": float(np.mean(harmonic[n_candidates - 1] / n_candidates))}
    random_ranks = np.floor(np.random.default_rng(seed + 1).random((n_perm, len(ranks))) * n_candidates) + 1
    null_draws = figures(random_ranks)
    out = {}
    for name, scores in figures(ranks).items():
        per_track = np.stack([np.bincount(cluster, weights=scores), np.bincount(cluster)], axis=1)
        low, high = bootstrap_ci(per_track, statistic=lambda rows: float(rows[:, 0].sum() / rows[:, 1].sum()),
                                 n_boot=n_boot, seed=seed)
        null = null_draws[name].mean(axis=1)
        value = float(scores.mean())
        out[name] = Estimate(value=value, ci_low=low, ci_high=high, p_value=permutation_p_value(value, null),
                             n=len(ranks), n_resample=int(cluster.max() + 1), chance=chance[name],
                             null_mean=float(null.mean()))
    return out


def _choose_alpha(source: np.ndarray, target: np.ndarray, labels: np.ndarray, groups: np.ndarray, seed: int) -> float:
    """The ridge alpha of :data:`RIDGE_ALPHAS` with the best across-segment MRR over three grouped inner folds."""
    scores = np.zeros(len(RIDGE_ALPHAS))
    for fit, held in grouped_folds(labels, groups, n_splits=3, seed=seed):
        for i, W in enumerate(ridge_maps(source[fit], target[fit], RIDGE_ALPHAS)):
            scores[i] += float(np.mean(1.0 / pair_ranks(source[held] @ W, target[held])))
    return RIDGE_ALPHAS[int(np.argmax(scores))]


@dataclass
class SegmentRetrieval:
    """Retrieval rows (RETRIEVAL_COLUMNS without the encoder names) and the held-out segments' curves."""

    rows: list[dict]
    curves: pd.DataFrame        # one row per held-out segment (CURVE_COLUMNS without the encoder names)
    test_tracks: np.ndarray


def segment_retrieval(segments: AlignedSegments, *, segment_seconds: float, n_boot: int, n_perm: int,
                      seed: int) -> SegmentRetrieval:
    """Fit on the training tracks' segments, retrieve the held-out ones within and across pieces, both ways."""
    groups = segments.groups if segments.groups is not None else segments.ids
    split = assign_splits(segments.labels, groups, given=segments.given_split, seed=seed)
    test_tracks = np.flatnonzero(split == "test")
    train, test = segments.rows_of(np.flatnonzero(split != "test")), segments.rows_of(test_tracks)
    if len(np.unique(segments.track[train])) < 3 or len(test_tracks) < 2:
        raise CounterpointError(f"segment retrieval needs 3 training and 2 test tracks, the split gives "
                                f"{len(np.unique(segments.track[train]))} and {len(test_tracks)}")
    audio, symbolic = standardise_with(segments.audio, train), standardise_with(segments.symbolic, train)
    row_labels, row_groups = segments.labels[segments.track], np.asarray(groups)[segments.track]
    test_track = segments.track[test]
    rows, curves = [], None
    for direction, source, target in (("audio→symbolic", audio, symbolic), ("symbolic→audio", symbolic, audio)):
        alpha = _choose_alpha(source[train], target[train], row_labels[train], row_groups[train], seed)
        W = ridge_maps(source[train], target[train], [alpha])[0]
        queries, candidates = source[test] @ W, target[test]
        across = pair_ranks(queries, candidates)
        within = np.full(len(test), np.nan)
        n_within = np.zeros(len(test), dtype=int)
        for t in test_tracks:
            own = np.flatnonzero(test_track == t)
            n_within[own] = len(own)
            if len(own) >= 2:
                within[own] = pair_ranks(queries[own], candidates[own])
        pieces = n_within >= 2
        for scope, ranks, n_candidates, keep in (("within piece", within, n_within, pieces),
                                                  ("across pieces", across, np.full(len(test), len(test)), slice(None))):
            for measure, estimate in clustered_figures(ranks[keep], n_candidates[keep], test_track[keep], n_boot=n_boot,
                                                       n_perm=n_perm, seed=seed).items():
                rows.append({"direction": direction, "scope": scope, "measure": measure, **estimate.as_dict(),
                             "n_perm": n_perm, "alpha": alpha})
        if direction == "audio→symbolic":
            similarity = np.einsum("ij,ij->i", unit_rows(queries), unit_rows(candidates))
            start = segments.segment[test] * segment_seconds
            curves = pd.DataFrame({
                "track": segments.ids[test_track], "segment": segments.segment[test], "start_s": start,
                "end_s": start + segment_seconds, "rank": within, "n_candidates": n_within,
                "agreement": np.where(pieces, 1.0 - (within - 1.0) / np.maximum(n_within - 1, 1), np.nan),
                "similarity": similarity})
    return SegmentRetrieval(rows, curves, test_tracks)


def mean_curve(curves: pd.DataFrame, *, segment_seconds: float, n_boot: int, seed: int) -> pd.DataFrame:
    """Mean agreement over tracks per segment number, with a bootstrap interval over tracks."""
    rows = []
    for segment, part in curves.dropna(subset=["agreement"]).groupby("segment"):
        values = part["agreement"].to_numpy()
        low, high = bootstrap_ci(values, n_boot=n_boot, seed=seed) if len(values) >= 2 else (np.nan, np.nan)
        rows.append({"segment": int(segment), "start_s": segment * segment_seconds,
                     "end_s": (segment + 1) * segment_seconds, "agreement": float(values.mean()), "ci_low": low,
                     "ci_high": high, "n_tracks": len(values)})
    return pd.DataFrame(rows, columns=MEAN_CURVE_COLUMNS[2:])


# --------------------------------------------------------------------------------------
# Aligned CKA


def track_centred(X: np.ndarray, track: np.ndarray) -> np.ndarray:
    """Rows minus the mean row of their track."""
    _, codes = np.unique(track, return_inverse=True)
    counts = np.bincount(codes)
    means = np.stack([np.bincount(codes, weights=column) for column in X.T], axis=1) / counts[:, None]
    return X - means[codes]


def time_shifted(track: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A re-pairing of rows: each track's rows circularly shifted by a uniform random number of places
    (0 … its rows − 1), so rows are paired with other times of their own piece.

    A shift of 0 is drawn as often as any other: then the re-pairings are uniform draws from the group of
    circular shifts, which makes the permutation p-value exact when timing carries nothing (forcing every
    track off its own time would not). One shift is drawn per track, in the order of the sorted track
    codes; a row at place k of its track's rows takes the row at place (k − shift) mod n, as ``np.roll``."""
    _, codes = np.unique(track, return_inverse=True)
    grouped = np.argsort(codes, kind="stable")  # each track's rows together, in their order
    sizes = np.bincount(codes)
    starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
    lengths = np.repeat(sizes, sizes)
    shifts = np.repeat(rng.integers(0, sizes), sizes)
    order = np.empty(len(track), dtype=np.int64)
    order[grouped] = grouped[starts + (np.arange(len(track)) - starts - shifts) % lengths]
    return order


def aligned_cka(segments: AlignedSegments, *, n_boot: int, n_perm: int, max_segments: int, seed: int) -> list[dict]:
    """Debiased CKA of the time-paired segments against the two nulls, both centrings (CKA_COLUMNS rows
    without the encoder names).

    ``value`` uses every segment. Intervals and nulls run on ``[m, m]`` kernels of a seeded subsample
    of whole tracks holding at most ``max_segments`` segments (``n_resample``): half-samples are halves
    of those tracks, their spread scaled by ``sqrt(tracks in the subsample / all tracks)``; the p-value
    and ``null_mean`` compare the subsample's own CKA (``value_resample``) with its re-pairings."""
    rng = np.random.default_rng(seed)
    tracks = np.unique(segments.track)
    order = rng.permutation(tracks)
    sizes = np.bincount(segments.track)[order]
    chosen = np.sort(order[np.cumsum(sizes) <= max_segments]) if sizes[0] <= max_segments else order[:1]
    sub = segments.rows_of(chosen)
    sub_track = segments.track[sub]
    rows = []
    for centring in ("global", "within track"):
        X, Y = segments.audio, segments.symbolic
        if centring == "within track":
            X, Y = track_centred(X, segments.track), track_centred(Y, segments.track)
        value = debiased_cka(X, Y)
        Xs, Ys = X[sub] - X[sub].mean(0), Y[sub] - Y[sub].mean(0)
        K, L = Xs @ Xs.T, Ys @ Ys.T
        halves = [kernel_cka(K[np.ix_(h, h)], L[np.ix_(h, h)], debiased=True)
                  for h in (np.flatnonzero(np.isin(sub_track, chosen[half]))
                            for half in half_samples(len(chosen), n_boot if len(chosen) >= 4 else 0, seed + 1))]
        low, high = half_sample_ci(value, np.array(halves), scale=math.sqrt(len(chosen) / len(tracks)),
                                   bounds=(-1.0, 1.0))
        UK, UL = u_centre(K).astype(np.float32), u_centre(L).astype(np.float32)
        norm = math.sqrt(max(float(np.sum(UK * UK, dtype=np.float64)), 0.0) * max(float(np.sum(UL * UL, dtype=np.float64)), 0.0))
        observed = float(np.sum(UK * UL, dtype=np.float64)) / norm if norm > 0 else float("nan")
        null_rng = np.random.default_rng(seed + 2)
        rows_taken, permuted = np.empty_like(UL), np.empty_like(UL)  # reused: no 2 m² floats allocated per draw
        for null_name in (TIME_SHIFTED, OTHER_PIECES):
            null = []
            for _ in range(n_perm if norm > 0 else 0):
                perm = (time_shifted(sub_track, null_rng) if null_name == TIME_SHIFTED
                        else null_rng.permutation(len(sub)))
                np.take(UL, perm, axis=0, out=rows_taken)  # rows, then columns: UL[np.ix_(perm, perm)]
                np.multiply(UK, np.take(rows_taken, perm, axis=1, out=permuted), out=permuted)
                null.append(float(permuted.sum(dtype=np.float64)) / norm)
            null = np.asarray(null)
            rows.append({"centring": centring, "null": null_name, "value": value, "ci_low": low, "ci_high": high,
                         "value_resample": observed, "p_value": permutation_p_value(observed, null),
                         "null_mean": float(null.mean()) if null.size else float("nan"), "n": len(X),
                         "n_resample": len(sub), "n_tracks": len(tracks), "n_perm": n_perm})
    return rows


# --------------------------------------------------------------------------------------
# The whole comparison


@dataclass
class AlignedPair:
    """One audio × symbolic pair on time-paired segments."""

    audio: str
    symbolic: str
    n_tracks: int
    n_segments: int
    n_test_tracks: int


@dataclass
class AlignedResult(TabledResult):
    """What :func:`run_aligned_compare` computed; tables hold both encoders' names on every row (the analysis
    protocol, :mod:`counterpoint.results`)."""

    pairs: list[AlignedPair]
    segment_retrieval: pd.DataFrame   # RETRIEVAL_COLUMNS + p_holm, p_bh (one family: the whole table)
    agreement_curves: pd.DataFrame    # CURVE_COLUMNS, one row per held-out segment
    mean_curves: pd.DataFrame         # MEAN_CURVE_COLUMNS
    aligned_cka: pd.DataFrame         # CKA_COLUMNS + p_holm, p_bh (one family: the whole table)
    alignment: pd.DataFrame           # id, method: how each track was paired in time
    settings: AlignedSettings
    store: Path
    warping_file: Path | None
    notes: list[str] = field(default_factory=list)
    rendering_check: dict[str, float] | None = None   # DTW vs the identity on rendered rows (see warping)

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table, by name (``alignment``: how each track was paired in time)."""
        return {"segment_retrieval": self.segment_retrieval, "agreement_curves": self.agreement_curves,
                "mean_curves": self.mean_curves, "aligned_cka": self.aligned_cka, "alignment": self.alignment}

    def as_dict(self) -> dict:
        """The JSON form (NaN as null), ``aligned.json``: the per-segment curves and the tracks' pairing are
        left to their CSV files."""
        return json_ready({"store": self.store, "settings": self.settings, "notes": self.notes,
                           "warping_file": self.warping_file, "rendering_check": self.rendering_check,
                           "pairs": self.pairs, "segment_retrieval": self.segment_retrieval,
                           "aligned_cka": self.aligned_cka, "mean_curves": self.mean_curves})


def run_aligned_compare(store_or_path: "Store | str | Path", settings: AlignedSettings, *, time_pairing: TimePairing,
                        progress: ProgressCallback | None = None) -> AlignedResult:
    """Every audio × symbolic pair of a store on time-paired segments (see the module docstring).

    Tracks are paired in time once (``settings.alignment``) by ``time_pairing``, the dataset stage's
    step (:func:`counterpoint.data.time_pairing.store_time_pairing`, which keeps DTW paths beside the
    store and reuses them). A track that cannot be aligned is a note and the others go on; a pair with
    fewer than :data:`MIN_TRACKS` aligned tracks is a note. ``progress`` follows the time pairing.
    """
    paired = open_pairs(store_or_path, settings.label, settings.group)
    store, audio_specs, symbolic_specs = paired.store, paired.audio, paired.symbolic
    frames = {spec: store.frames(spec).labelled(settings.label, settings.depth) for spec in audio_specs + symbolic_specs}
    named = {spec for spec in frames if store.encoder(spec).feature_names}
    paired_ids = sorted({i for a in audio_specs for s in symbolic_specs
                         for i in frames[a].paired_with(frames[s])[0].ids})
    table = store.tracks().set_index("id", drop=False).loc[paired_ids].reset_index(drop=True)
    alignments: TimePairs = time_pairing(table, store.attrs.get("dataset_root", ""), settings.alignment,
                                         progress=progress)
    notes = list(alignments.notes)
    counts = ", ".join(f"{n} {method}" for method, n in alignments.counts.items())
    notes.append(f"tracks paired in time: {counts or 'none'} (--alignment {settings.alignment})")
    check = rendering_check(alignments, table)
    if check is not None:
        notes.append(f"DTW on {check['tracks']} renderings, whose true path is the identity: median error "
                     f"{1000 * check['median_s']:.0f} ms, 95th percentile {1000 * check['p95_s']:.0f} ms")
    n_pairs = len(audio_specs) * len(symbolic_specs)
    retrieval_perm = family_permutations(settings.n_perm, n_pairs * RETRIEVAL_ROWS_PER_PAIR,
                                         scale=not settings.fixed_n_perm)
    cka_perm = family_permutations(settings.n_perm, n_pairs * CKA_ROWS_PER_PAIR, scale=not settings.fixed_n_perm)
    pairs, retrieval, curves, means, cka = [], [], [], [], []

    def compare_pair(audio_spec: str, symbolic_spec: str) -> None:
        names = {"audio": audio_spec, "symbolic": symbolic_spec}
        segments = pair_segments(frames[audio_spec], frames[symbolic_spec], alignments.paths,
                                 segment_seconds=settings.segment_seconds, label=settings.label, depth=settings.depth,
                                 group=settings.group)
        if len(np.unique(segments.track)) < MIN_TRACKS:
            raise CounterpointError(f"only {len(np.unique(segments.track))} tracks with aligned segments "
                                    f"(need {MIN_TRACKS})")
        segments = _standardised(segments, audio_spec in named, symbolic_spec in named)
        found = segment_retrieval(segments, segment_seconds=settings.segment_seconds, n_boot=settings.n_boot,
                                  n_perm=retrieval_perm, seed=settings.seed)
        cka_rows = aligned_cka(segments, n_boot=settings.n_boot, n_perm=cka_perm, max_segments=settings.max_segments,
                               seed=settings.seed)
        retrieval.extend({**names, **row} for row in found.rows)
        curves.append(found.curves.assign(**names))
        means.append(mean_curve(found.curves, segment_seconds=settings.segment_seconds, n_boot=settings.n_boot,
                                seed=settings.seed).assign(**names))
        cka.extend({**names, **row} for row in cka_rows)
        pairs.append(AlignedPair(audio_spec, symbolic_spec, len(np.unique(segments.track)), len(segments.track),
                                 len(found.test_tracks)))

    with single_threaded_blas():
        each_pair(audio_specs, symbolic_specs, compare_pair, notes=notes, left_out="no time-aligned comparison")
    retrieval_table = family_table(retrieval, [*RETRIEVAL_COLUMNS, "p_holm", "p_bh"])
    cka_table = family_table(cka, [*CKA_COLUMNS, "p_holm", "p_bh"])
    notes += family_notes((("segment retrieval table", retrieval_table, retrieval_perm),
                           ("aligned CKA table", cka_table, cka_perm)), fixed=settings.fixed_n_perm)
    return AlignedResult(
        pairs,
        retrieval_table,
        pd.concat(curves, ignore_index=True).reindex(columns=CURVE_COLUMNS) if curves
        else pd.DataFrame(columns=CURVE_COLUMNS),
        pd.concat(means, ignore_index=True).reindex(columns=MEAN_CURVE_COLUMNS) if means
        else pd.DataFrame(columns=MEAN_CURVE_COLUMNS),
        cka_table,
        pd.DataFrame({"id": list(alignments.methods), "method": list(alignments.methods.values())}),
        settings, store.path, alignments.kept_file, notes, check)


def _standardised(segments: AlignedSegments, audio_named: bool, symbolic_named: bool) -> AlignedSegments:
    """Named descriptors (tempo in BPM beside a spectral flatness) z-scored over the segments, as the
    track-level comparison does, so the features with the largest units do not dominate CKA."""
    if audio_named:
        segments.audio = standardise_features(segments.audio).astype(np.float64)
    if symbolic_named:
        segments.symbolic = standardise_features(segments.symbolic).astype(np.float64)
    return segments


def aligned_summary(result: AlignedResult) -> str:
    """What ``counterpoint compare --aligned`` prints: segment Recall@1 (audio → symbolic) within and
    across pieces with chance, and the aligned CKA against the time-shifted null, per pair."""
    if not result.pairs:
        return "No audio × symbolic pair could be compared on time-paired segments; the notes say why."
    lines = []
    for pair in result.pairs:
        mine = result.segment_retrieval[(result.segment_retrieval.audio == pair.audio)
                                        & (result.segment_retrieval.symbolic == pair.symbolic)
                                        & (result.segment_retrieval.direction == "audio→symbolic")
                                        & (result.segment_retrieval.measure == "recall@1")]
        parts = [f"{r.scope} {r.value:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}] (chance {r.chance:.3f})"
                 for r in mine.itertuples()]
        cka = result.aligned_cka[(result.aligned_cka.audio == pair.audio)
                                 & (result.aligned_cka.symbolic == pair.symbolic)
                                 & (result.aligned_cka.null == TIME_SHIFTED)]
        parts += [f"CKA {r.centring} {r.value:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}] (on {r.n_resample} segments "
                  f"{r.value_resample:.3f} vs time-shifted {r.null_mean:.3f}, p {r.p_value:.3g})" for r in cka.itertuples()]
        lines.append(f"{pair.audio} × {pair.symbolic} ({pair.n_tracks} tracks, {pair.n_segments} segments, "
                     f"{pair.n_test_tracks} held out): segment Recall@1 " + "; ".join(parts))
    return "\n".join(lines)
