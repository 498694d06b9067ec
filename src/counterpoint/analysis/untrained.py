"""The untrained control: each compared figure beside the same figure of the same architecture with random weights.

Similarity between representations grows with depth and width whatever the weights learnt, so a debiased
CKA or a mutual kNN says little until it is set beside what an untrained network of the same architecture
and input pipeline gives on the same tracks (random-feature baselines of representation-similarity work;
Gröger, Wen & Brbić 2026). An encoder embedded with ``init=random`` (``musicnn:init=random``, seeded by
``init_seed``) is the *untrained twin* of the encoder whose spec is the same but for ``init``/``init_seed``
(:func:`~counterpoint.store.untrained_twins`). For each compared audio × symbolic pair and each side that has a twin,
:func:`run_untrained_control` computes on the tracks the three encoders share:

* debiased CKA, mutual kNN@k and the held-out ridge Recall@1 and MRR (audio → symbolic, the split the
  comparison uses) with the trained encoder, then with its twin in its place (the same computations as the
  comparison's, so with a twin that covers every track the trained figures are the comparison's own);
* ``trained − untrained`` (:data:`DIFFERENCE`) with a paired 95 % interval — the same resamples for both
  encoders: random halves of the tracks for CKA (the comparison's interval for kernel figures, scaled by
  √(m/N) from a subsample of m), bootstrap resamples of the tracks (the queries, for retrieval) for the
  figures that average a per-track score — and a one-sided p-value of "trained − untrained ≤ 0": the share
  of resampled differences, centred on their mean, at least as large as the observed one (a bootstrap test,
  (1 + count) / (1 + resamples)).

Every p-value of the table is one Holm/Benjamini–Hochberg family (:func:`~counterpoint.analysis.pairwise.family_table`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from counterpoint.analysis.pairwise import family_table
from counterpoint.analysis.retrieval import cross_modal_retrieval, rank_figures
from counterpoint.analysis.similarity import debiased_cka, kernel_cka, knn_indices, neighbour_overlap
from counterpoint.analysis.statistics import (bootstrap_indices, half_sample_ci, half_samples, percentile_interval,
                                              subsample_indices)
from counterpoint.blas import single_threaded_blas
from counterpoint.config import CompareSettings
from counterpoint.errors import StoreError
from counterpoint.matrix import EmbeddingMatrix
from counterpoint.ranges import Range, check_table, check_values, declare_measure, measure_title
from counterpoint.results import TabledResult
from counterpoint.splits import assign_splits
from counterpoint.store import Store, untrained_twins

if TYPE_CHECKING:
    from counterpoint.analysis.compare import CompareResult

#: trained − untrained of a figure in [-1, 1] (debiased CKA, mutual kNN, Recall@1, MRR) lies in [-2, 2].
DIFFERENCE = declare_measure(
    "trained_minus_untrained", Range(-2.0, 2.0), title="trained − untrained",
    prose="a figure of the trained encoder minus the same figure with its untrained twin (same architecture and "
          "input pipeline, seeded random weights) on the same tracks; paired interval from the same resamples, "
          "p-value of a one-sided bootstrap test that the difference is at most 0")

#: The figures the control compares, in table order (Recall@1 and MRR: ridge, audio → symbolic, held out).
CONTROL_FIGURES = ("cka_debiased", "mutual_knn", "recall@1", "mrr")
UNTRAINED_COLUMNS = ["audio", "symbolic", "replaced", "untrained", "figure", "measure", "value_trained",
                     "value_untrained", "value", "ci_low", "ci_high", "p_value", "p_holm", "p_bh", "n", "n_resample"]
P_VALUE_FAMILY = ("every p-value of untrained_control.csv: all compared pairs × each side with an untrained twin × "
                  "debiased CKA, mutual kNN, Recall@1 and MRR")


@dataclass
class UntrainedControlResult(TabledResult):
    """The untrained control of a comparison (the analysis protocol, :mod:`counterpoint.results`): one row per
    pair × replaced side × figure (:data:`UNTRAINED_COLUMNS`), and each trained encoder's twin."""

    control: pd.DataFrame
    twins: dict[str, str]
    settings: CompareSettings
    notes: list[str] = field(default_factory=list)

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        return {"untrained_control": self.control}


def missing_twin_error(store: Store, specs: list[str]) -> StoreError:
    """The error of ``--untrained-control`` on a store where no compared encoder has an untrained twin."""
    weighted = [spec for spec in specs if (store.encoder(spec).fingerprint or {}).get("weights") is not None]
    if not weighted:
        return StoreError(f"{store.path}: --untrained-control needs a model encoder (musicnn, mert, clap, clamp…) "
                          f"among the compared ones ({', '.join(specs)}); these have no trained weights to calibrate")
    example = weighted[0]
    twin = example + ("," if ":" in example else ":") + "init=random"
    return StoreError(f"{store.path}: --untrained-control found no untrained twin of {', '.join(weighted)} — embed "
                      f"one with the same spec plus init=random, e.g. counterpoint embed ROOT -e \"{twin}\" -o "
                      f"{store.path}")


def _space(store: Store, spec: str, settings: CompareSettings, matrices: Mapping[str, EmbeddingMatrix] | None
           ) -> EmbeddingMatrix:
    """The labelled pooled rows of ``spec``, named descriptors z-scored: the space the comparison compares."""
    from counterpoint.analysis.compare import standardise_features

    matrix = matrices[spec] if matrices and spec in matrices else store.pooled(spec)
    labelled = matrix.labelled(settings.label, settings.depth)
    return replace(labelled, X=standardise_features(labelled.X)) if matrix.feature_names else labelled


def _centred_p(observed: float, resampled: np.ndarray) -> float:
    """One-sided bootstrap p-value of "difference ≤ 0": resampled differences centred on their mean (the null's
    stand-in) at least as large as ``observed``, ``(1 + count) / (1 + resamples)``."""
    resampled = resampled[np.isfinite(resampled)]
    if resampled.size == 0 or not math.isfinite(observed):
        return float("nan")
    return float((1 + np.sum(resampled - resampled.mean() >= observed)) / (1 + resampled.size))


def _per_track_difference(trained: np.ndarray, untrained: np.ndarray, *, n_boot: int, seed: int) -> dict:
    """trained − untrained of the means of two per-track scores of the same tracks: paired bootstrap."""
    difference = float(trained.mean() - untrained.mean())
    rows = bootstrap_indices(len(trained), n_boot, seed)
    resampled = trained[rows].mean(axis=1) - untrained[rows].mean(axis=1)
    low, high = percentile_interval(resampled)
    return {"value": difference, "ci_low": low, "ci_high": high, "p_value": _centred_p(difference, resampled),
            "n": len(trained), "n_resample": len(trained)}


def _cka_difference(trained: np.ndarray, untrained: np.ndarray, other: np.ndarray, settings: CompareSettings) -> dict:
    """Debiased CKA of (trained, other) minus that of (untrained, other), on every track; paired random halves of a
    subsample of at most ``max_n_pairwise`` tracks, as the comparison's CKA interval."""
    n = len(trained)
    values = (debiased_cka(trained, other), debiased_cka(untrained, other))
    sub = subsample_indices(n, settings.max_n_pairwise, settings.seed)
    m = len(sub)

    def kernel(X: np.ndarray) -> np.ndarray:
        centred = np.asarray(X[sub], np.float64) - np.asarray(X[sub], np.float64).mean(0)
        return centred @ centred.T

    kt, ku, ko = kernel(trained), kernel(untrained), kernel(other)
    halves = [np.ix_(h, h) for h in half_samples(m, settings.n_boot if m >= 8 else 0, settings.seed + 1)]
    resampled = np.array([kernel_cka(kt[h], ko[h], debiased=True) - kernel_cka(ku[h], ko[h], debiased=True)
                          for h in halves])
    difference = values[0] - values[1]
    low, high = half_sample_ci(difference, resampled, scale=math.sqrt(m / n), bounds=(-2.0, 2.0))
    scaled = math.sqrt(m / n) * resampled
    return {"value": difference, "ci_low": low, "ci_high": high, "p_value": _centred_p(difference, scaled),
            "n": n, "n_resample": m, "value_trained": values[0], "value_untrained": values[1]}


def control_rows(trained: np.ndarray, untrained: np.ndarray, other: np.ndarray, *, audio_side: bool,
                 labels: np.ndarray, groups: np.ndarray | None, given_split: np.ndarray | None,
                 settings: CompareSettings) -> list[dict]:
    """The control's rows of one pair and one replaced side: each figure with the trained encoder (``trained``),
    with its twin (``untrained``, the same tracks in the same order), and their difference. ``other`` is the
    other modality's space; ``audio_side``: the replaced encoder is the audio one."""
    rows = []
    with single_threaded_blas():
        rows.append({"figure": "cka_debiased", **_cka_difference(trained, untrained, other, settings)})
        k = min(settings.k, len(other) - 1)
        neighbours_other = knn_indices(other, k, seed=settings.seed)
        overlaps = [neighbour_overlap(knn_indices(space, k, seed=settings.seed), neighbours_other)
                    for space in (trained, untrained)]
        rows.append({"figure": f"mutual_knn@{k}", "value_trained": float(overlaps[0].mean()),
                     "value_untrained": float(overlaps[1].mean()),
                     **_per_track_difference(*overlaps, n_boot=settings.n_boot, seed=settings.seed + 2)})
        split = assign_splits(labels, groups, given=given_split, seed=settings.seed)
        train, test = np.flatnonzero(split != "test"), np.flatnonzero(split == "test")
        ranks = []
        for space in (trained, untrained):
            audio, symbolic = (space, other) if audio_side else (other, space)
            outcome = cross_modal_retrieval(audio, symbolic, train=train, test=test, labels=labels, groups=groups,
                                            seed=settings.seed)
            ranks.append(next(run.ranks for run in outcome.runs
                              if run.method == "ridge" and run.direction.startswith("audio")))
    scores = [{"recall@1": (np.asarray(r) <= 1).astype(np.float64), "mrr": 1.0 / np.asarray(r, np.float64)}
              for r in ranks]
    for figure in ("recall@1", "mrr"):
        values = [float(rank_figures(r)[figure]) for r in ranks]
        rows.append({"figure": figure, "value_trained": values[0], "value_untrained": values[1],
                     **_per_track_difference(scores[0][figure], scores[1][figure], n_boot=settings.n_boot,
                                             seed=settings.seed + 3)})
    return rows


def run_untrained_control(comparison: "CompareResult", store: Store, *, matrices: Mapping[str, EmbeddingMatrix] | None = None,
                          required: bool = False) -> UntrainedControlResult | None:
    """The untrained control of every pair of ``comparison`` (a :class:`~counterpoint.analysis.compare.CompareResult`
    of ``store``) with an untrained twin on either side; None when no compared encoder has one, unless
    ``required`` (``compare --untrained-control``), which raises a StoreError naming the spec to embed."""
    settings = comparison.settings
    compared = list(dict.fromkeys([spec for pair in comparison.pairs for spec in (pair.audio, pair.symbolic)]))
    twins = {spec: twin for spec, twin in untrained_twins(store.encoders).items() if spec in compared}
    if not twins:
        if required:
            raise missing_twin_error(store, compared)
        return None
    spaces: dict[str, EmbeddingMatrix] = {}

    def space(spec: str) -> EmbeddingMatrix:
        if spec not in spaces:
            spaces[spec] = _space(store, spec, settings, matrices)
        return spaces[spec]

    rows, notes = [], []
    for pair in comparison.pairs:
        audio, symbolic = space(pair.audio).paired_with(space(pair.symbolic))
        for replaced, spec in (("audio", pair.audio), ("symbolic", pair.symbolic)):
            if spec not in twins:
                continue
            twin = space(twins[spec])
            keep = np.flatnonzero(pd.Index(audio.ids).isin(twin.ids))
            kept_audio, kept_symbolic = audio.take(keep), symbolic.take(keep)
            twin_rows = twin.take(pd.Series(np.arange(len(twin)), index=twin.ids).loc[kept_audio.ids].to_numpy())
            if len(keep) < len(audio):
                notes.append(f"{pair.audio} × {pair.symbolic}: the untrained control of {spec} runs on the "
                             f"{len(keep)} of {len(audio)} tracks its twin {twins[spec]} embedded")
            trained, other = (kept_audio, kept_symbolic) if replaced == "audio" else (kept_symbolic, kept_audio)
            group = comparison.group
            for row in control_rows(trained.X, twin_rows.X, other.X, audio_side=replaced == "audio",
                                    labels=kept_audio.labels(settings.label, settings.depth),
                                    groups=None if group is None else kept_audio.groups(group),
                                    given_split=kept_audio.given_split(), settings=settings):
                rows.append({"audio": pair.audio, "symbolic": pair.symbolic, "replaced": spec,
                             "untrained": twins[spec], "measure": DIFFERENCE.name, **row})
    table = family_table(rows, UNTRAINED_COLUMNS)
    check_table(table, keys=("audio", "symbolic", "figure"))
    for row in table.itertuples():
        check_values(str(row.figure), [row.value_trained, row.value_untrained], f"{row.audio} × {row.symbolic}",
                     n=float(row.n))
    notes.append(f"untrained control: p_holm and p_bh are adjusted over {P_VALUE_FAMILY}")
    return UntrainedControlResult(table, twins, settings, notes)


def control_sentences(result: UntrainedControlResult) -> list[str]:
    """One sentence per pair and replaced side: ``musicnn's debiased CKA with symbolic-stats is 0.41; the untrained
    architecture gives 0.30; trained minus untrained 0.11 [0.06, 0.16]`` (and the other figures' differences)."""
    sentences = []
    for (audio, symbolic, replaced), part in result.control.groupby(["audio", "symbolic", "replaced"], sort=False):
        other = symbolic if replaced == audio else audio
        head = part.iloc[0]
        rest = "; ".join(f"{measure_title(r.figure)} {r.value_trained:.2f} vs {r.value_untrained:.2f}, difference "
                         f"{r.value:+.2f} [{r.ci_low:+.2f}, {r.ci_high:+.2f}] (p_holm {r.p_holm:.2g})"
                         for r in part.iloc[1:].itertuples())
        sentences.append(f"{replaced}'s {measure_title(head.figure)} with {other} is {head.value_trained:.2f}; the "
                         f"untrained architecture ({head.untrained}) gives {head.value_untrained:.2f}; trained minus "
                         f"untrained {head.value:+.2f} [{head.ci_low:+.2f}, {head.ci_high:+.2f}] (p_holm "
                         f"{head.p_holm:.2g}). {rest}.")
    return sentences
