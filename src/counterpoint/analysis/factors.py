"""Controlled factors: how much of an embedding is the piece, how much the rendering, what transcription costs.

A designed corpus holds every piece several times: ``dataset render`` with several SoundFonts
gives one row per rendering (``audio_source = rendered:<SoundFont>``) and ``dataset transcribe
--all`` a row whose MIDI is transcribed from a rendering (``midi_source = transcribed:…``).
Rows made from one row keep its ``piece`` (see :mod:`counterpoint.data.completion`), so the
layout is known. Three analyses read it:

* **Variance decomposition** (per audio encoder): the pooled embeddings of P pieces × R
  renderings form a balanced two-way layout without replication. Its multivariate sums of
  squares (traces, summed over features) split the total into piece, rendering and residual
  (interaction and noise): ``SS_piece = R Σ_i ‖x̄_i· − x̄‖²``, ``SS_rendering = P Σ_j ‖x̄_·j − x̄‖²``,
  ``SS_residual = Σ_ij ‖x_ij − x̄_i· − x̄_·j + x̄‖²``, each reported as a share of
  ``SS_total = Σ_ij ‖x_ij − x̄‖²``. With a label (e.g. style), the piece share is split into the
  label's ``R Σ_c P_c ‖x̄_c − x̄‖²`` and the pieces' within their label. Intervals: random halves
  of the pieces (a piece's renderings stay together), turned into an interval around the full
  estimate by :func:`~counterpoint.analysis.statistics.half_sample_ci` — drawn with replacement, a
  piece counted twice inflates the label's share so much that the percentile interval of the demo's
  label share missed its own estimate. p-values: the piece share against
  pieces shuffled within each rendering, the rendering share against renderings shuffled within
  each piece, the label share against labels shuffled over pieces.
* **Agreement between renderings** (per audio encoder, every pair of renderings): debiased CKA of
  the same pieces rendered two ways, with half-sample intervals and the shuffled-pairing null
  (:func:`~counterpoint.analysis.similarity.cka_estimates`).
* **Ground truth vs transcription** (per symbolic encoder and transcription): debiased CKA,
  mutual kNN and Recall@1 of the true partner (both ways, by cosine in the encoder's own space:
  both sides are the same encoder), with chance, intervals and shuffled nulls.
* **Transcription noise** (per symbolic encoder and transcription, given each transcribed track's note
  F-measure against its ground truth, :mod:`counterpoint.data.transcription_quality`): per piece, the
  cosine similarity of the transcribed MIDI's embedding with its ground truth's and the reciprocal
  rank of that true partner among all ground truths (the per-track parts of the agreement above),
  binned by quartiles of F with bootstrap intervals per bin, and their least-squares slope on F per
  0.1 of F (:func:`agreement_by_quality`) with a bootstrap interval over pieces and a one-sided
  permutation p-value (F shuffled over pieces) that the figure does not rise with F.

Every table gets Holm and Benjamini–Hochberg adjusted p-values, each table one family
(:func:`~counterpoint.analysis.statistics.with_adjusted_p_values`). Named descriptors
(``audio-stats``, ``symbolic-stats``) are z-scored first, over all the rows compared, so a
feature in large units does not dominate.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from counterpoint.analysis.similarity import cka_estimates, mutual_knn
from counterpoint.analysis.inputs import require_embeddings
from counterpoint.analysis.pairwise import family_notes, family_table
from counterpoint.analysis.retrieval import pair_ranks, retrieval_figures
from counterpoint.analysis.statistics import (Estimate, bootstrap_ci, bootstrap_indices, half_sample_ci, half_samples,
                                              percentile_interval, permutation_p_value)
from counterpoint.blas import single_threaded_blas
from counterpoint.config import FactorSettings
from counterpoint.errors import StoreError
from counterpoint.matrix import EmbeddingMatrix, require_column
from counterpoint.ranges import CORRELATION, Range, check_table, check_values, declare_measure
from counterpoint.results import TabledResult, json_ready
from counterpoint.significance import family_permutations
from counterpoint.store import as_store

if TYPE_CHECKING:
    from counterpoint.store import Store

#: ``midi_source`` of ground-truth MIDI, and the prefix of a transcription's.
GROUND_TRUTH = "original"
TRANSCRIBED_PREFIX = "transcribed:"
#: Fewest pieces a layout needs for a decomposition or an agreement (CKA's half-samples need 8).
MIN_PIECES = 8
#: Tested figures per layout or pair, for the size of each table's Holm family: the piece and rendering
#: shares, the label and piece-within-label shares (with a label), and the four transcription figures
#: (debiased CKA, mutual kNN, Recall@1 both ways).
VARIANCE_TESTS, LABEL_TESTS, TRANSCRIPTION_TESTS = 2, 2, 4

#: Tested figures per transcription with F-measures: the slopes of partner similarity and reciprocal rank on F.
NOISE_TESTS = 2
#: Bins of F-measure (quartiles of the pieces' F; fewer where F takes fewer values).
F_BINS = 4

#: Computed from the MIDI files (:mod:`counterpoint.data.transcription_quality`), checked and reported here.
declare_measure("transcription_f", Range(0.0, 1.0), title="note F-measure",
                prose="onset-and-pitch note F-measure of a transcription against its ground-truth MIDI (mir_eval, "
                      "50-ms onsets, offsets ignored)")
declare_measure("partner_similarity", CORRELATION, title="similarity with the true partner",
                prose="cosine similarity of a transcribed MIDI's embedding with its ground truth's (both centred on "
                      "their joint mean)")
declare_measure("partner_reciprocal_rank", Range(0.0, 1.0, low_open=True), title="reciprocal rank of the true partner",
                prose="1 / rank of a piece's ground truth among all ground truths, queried by its transcription")
#: A least-squares slope has no bound: F values close together make any change per 0.1 of F possible.
declare_measure("change_per_tenth_f", Range(-float("inf"), float("inf")), title="change per 0.1 of F-measure",
                prose="least-squares slope of a per-piece figure on the transcription's note F-measure, per 0.1 of F: "
                      "the agreement lost for each 0.1 of F-measure a transcription loses")

ESTIMATE_COLUMNS = ["value", "ci_low", "ci_high", "p_value", "chance", "null_mean", "n", "n_resample"]
VARIANCE_COLUMNS = ["encoder", "factor", "share", "ci_low", "ci_high", "p_value", "null_mean", "sum_of_squares",
                    "n_pieces", "n_renderings", "p_holm", "p_bh"]
RENDERING_COLUMNS = ["encoder", "rendering_a", "rendering_b", "measure", *ESTIMATE_COLUMNS, "p_holm", "p_bh"]
TRANSCRIPTION_COLUMNS = ["encoder", "transcription", "measure", *ESTIMATE_COLUMNS, "p_holm", "p_bh"]
NOISE_COLUMNS = ["encoder", "transcription", "figure", "measure", "f_low", "f_high", "value", "ci_low", "ci_high",
                 "p_value", "n", "p_holm", "p_bh"]


# --------------------------------------------------------------------------------------
# The two-way layout


def sums_of_squares(cube: np.ndarray, classes: np.ndarray | None = None) -> dict[str, float]:
    """Multivariate sums of squares of a balanced two-way layout ``cube`` ``[P pieces, R renderings, D]``.

    Returns ``total``, ``piece``, ``rendering`` and ``residual`` (``piece + rendering + residual =
    total``); with ``classes`` ``[P]`` (a label per piece) also ``label`` and ``piece_within_label``
    (``label + piece_within_label = piece``).
    """
    cube = np.asarray(cube, dtype=np.float64)
    n_pieces, n_renderings = cube.shape[:2]
    grand = cube.mean(axis=(0, 1))
    piece_means, rendering_means = cube.mean(axis=1), cube.mean(axis=0)
    out = {
        "total": float(np.sum((cube - grand) ** 2)),
        "piece": float(n_renderings * np.sum((piece_means - grand) ** 2)),
        "rendering": float(n_pieces * np.sum((rendering_means - grand) ** 2)),
        "residual": float(np.sum((cube - piece_means[:, None] - rendering_means[None] + grand) ** 2)),
    }
    if classes is not None:
        classes = np.asarray(classes)
        label = 0.0
        for value in np.unique(classes):
            members = piece_means[classes == value]
            label += n_renderings * len(members) * float(np.sum((members.mean(axis=0) - grand) ** 2))
        out["label"] = label
        out["piece_within_label"] = out["piece"] - label
    return out


def variance_shares(cube: np.ndarray, classes: np.ndarray | None = None) -> dict[str, float]:
    """Each sum of squares of :func:`sums_of_squares` divided by the total (NaN when all rows are equal)."""
    sums = sums_of_squares(cube, classes)
    total = sums.pop("total")
    return {name: value / total if total > 0 else float("nan") for name, value in sums.items()}


def variance_decomposition(cube: np.ndarray, classes: np.ndarray | None = None, *, n_boot: int = 200,
                           n_perm: int = 199, seed: int = 0) -> dict[str, Estimate]:
    """:func:`variance_shares` with intervals (``n_boot`` half-samples of the pieces) and p-values
    (``n_perm`` shuffles; see the module docstring), by factor.

    ``n`` and ``n_resample`` are the number of pieces. The residual has no p-value; the shares
    under their nulls are averaged into ``null_mean``.
    """
    cube = np.asarray(cube, dtype=np.float64)
    n_pieces, n_renderings = cube.shape[:2]
    values = variance_shares(cube, classes)
    halves: dict[str, list[float]] = {name: [] for name in values}
    for rows in half_samples(n_pieces, n_boot if n_pieces >= 4 else 0, seed):
        for name, share in variance_shares(cube[rows], None if classes is None else classes[rows]).items():
            halves[name].append(share)
    rng = np.random.default_rng(seed + 1)
    nulls: dict[str, list[float]] = {name: [] for name in values if name != "residual"}
    for _ in range(n_perm):
        # Pieces shuffled within each rendering: no piece effect is left, the rendering effect stays.
        shuffled_pieces = np.stack([cube[rng.permutation(n_pieces), j] for j in range(n_renderings)], axis=1)
        # Renderings shuffled within each piece: no rendering effect is left, the piece effect stays.
        shuffled_renderings = np.stack([cube[i, rng.permutation(n_renderings)] for i in range(n_pieces)])
        nulls["piece"].append(variance_shares(shuffled_pieces)["piece"])
        nulls["rendering"].append(variance_shares(shuffled_renderings)["rendering"])
        if classes is not None:
            relabelled = variance_shares(cube, classes[rng.permutation(n_pieces)])
            nulls["label"].append(relabelled["label"])
            # Pieces within their label: pieces shuffled within each rendering and within each label.
            within = cube.copy()
            for value in np.unique(classes):
                members = np.flatnonzero(classes == value)
                for j in range(n_renderings):
                    within[members, j] = cube[rng.permutation(members), j]
            nulls["piece_within_label"].append(variance_shares(within, classes)["piece_within_label"])
    out = {}
    for name, value in values.items():
        low, high = half_sample_ci(value, np.array(halves[name]), bounds=(0.0, 1.0))
        null = np.array(nulls.get(name, []))
        out[name] = Estimate(value=value, ci_low=low, ci_high=high,
                             p_value=permutation_p_value(value, null) if null.size else float("nan"),
                             n=n_pieces, n_resample=n_pieces,
                             null_mean=float(np.mean(null)) if null.size else float("nan"))
    return out


def rendering_agreement(X: np.ndarray, Y: np.ndarray, *, n_boot: int = 200, n_perm: int = 199,
                        seed: int = 0) -> Estimate:
    """Debiased CKA between two renderings ``X``, ``Y`` ``[P, D]`` of the same pieces (rows paired)."""
    return cka_estimates(X, Y, n_boot=n_boot, n_perm=n_perm, seed=seed)["cka_debiased"]


def transcription_agreement(truth: np.ndarray, transcribed: np.ndarray, *, k: int = 10, n_boot: int = 200,
                            n_perm: int = 199, seed: int = 0) -> dict[str, Estimate]:
    """How well one symbolic encoder's embeddings of transcribed MIDI ``[P, D]`` match those of the
    ground-truth MIDI of the same pieces (rows paired): debiased CKA, mutual kNN@k, and Recall@1
    of the true partner by cosine similarity (both spaces are the encoder's own; both sides are
    centred on their joint mean first), transcribed → ground truth and back."""
    figures = {"cka_debiased": cka_estimates(truth, transcribed, n_boot=n_boot, n_perm=n_perm,
                                             seed=seed)["cka_debiased"]}
    k = min(k, len(truth) - 2)
    figures[f"mutual_knn@{k}"] = mutual_knn(truth, transcribed, k=k, n_boot=n_boot, n_perm=n_perm, seed=seed)
    centre = np.concatenate([truth, transcribed]).mean(axis=0, dtype=np.float64)
    truth, transcribed = truth - centre, transcribed - centre
    for name, queries, candidates in (("recall@1 transcribed→truth", transcribed, truth),
                                      ("recall@1 truth→transcribed", truth, transcribed)):
        figures[name] = retrieval_figures(pair_ranks(queries, candidates), ks=(1,), n_boot=n_boot, n_perm=n_perm,
                                          seed=seed)["recall@1"]
    return figures


def slopes_per_tenth(f: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Least-squares slope of ``values`` on ``f`` times 0.1, along the last axis (``[N]`` → scalar,
    ``[draws, N]`` → ``[draws]``); NaN where ``f`` does not vary."""
    f_centred = f - f.mean(axis=-1, keepdims=True)
    spread = np.sum(f_centred ** 2, axis=-1)
    covariance = np.sum(f_centred * (values - values.mean(axis=-1, keepdims=True)), axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 0.1 * np.where(spread > 0, covariance / np.where(spread > 0, spread, 1.0), np.nan)


def agreement_by_quality(f: np.ndarray, figures: dict[str, np.ndarray], *, n_boot: int = 200, n_perm: int = 199,
                         seed: int = 0) -> list[dict]:
    """Per-piece ``figures`` (name → ``[P]``, the measure's name) against the transcriptions' F-measures ``f``
    ``[P]``: one row per figure and bin of F (quartiles; the mean with a bootstrap interval over the bin's
    pieces) and one per figure for its slope per 0.1 of F (bootstrap interval over pieces, one-sided
    permutation p-value of F shuffled over pieces: the figure does not rise with F)."""
    f = np.asarray(f, dtype=np.float64)
    bins = pd.qcut(f, F_BINS, labels=False, duplicates="drop") if len(np.unique(f)) > 1 else np.zeros(len(f), int)
    resamples = bootstrap_indices(len(f), n_boot, seed)
    rng = np.random.default_rng(seed + 1)
    shuffles = np.stack([rng.permutation(len(f)) for _ in range(n_perm)]) if n_perm else np.zeros((0, len(f)), int)
    rows = []
    for measure, values in figures.items():
        values = np.asarray(values, dtype=np.float64)
        for number in np.unique(bins):
            inside = bins == number
            low, high = bootstrap_ci(values[inside], n_boot=n_boot, seed=seed + 2 + int(number))
            rows.append({"figure": measure, "measure": measure, "f_low": float(f[inside].min()),
                         "f_high": float(f[inside].max()), "value": float(values[inside].mean()), "ci_low": low,
                         "ci_high": high, "n": int(inside.sum())})
        slope = float(slopes_per_tenth(f, values))
        low, high = percentile_interval(slopes_per_tenth(f[resamples], values[resamples])) if n_boot else (np.nan, np.nan)
        null = slopes_per_tenth(f[shuffles], np.broadcast_to(values, shuffles.shape)) if n_perm else np.array([])
        rows.append({"figure": measure, "measure": "change_per_tenth_f", "f_low": float(f.min()), "f_high": float(f.max()),
                     "value": slope, "ci_low": low, "ci_high": high,
                     "p_value": permutation_p_value(slope, null) if n_perm else float("nan"), "n": len(f)})
    return rows


def partner_figures(truth: np.ndarray, transcribed: np.ndarray) -> dict[str, np.ndarray]:
    """Per piece: the cosine similarity of its transcribed embedding with its ground truth's and the reciprocal
    rank of that ground truth among all (queried by the transcription), both sides centred on their joint mean as
    :func:`transcription_agreement` does."""
    centre = np.concatenate([truth, transcribed]).mean(axis=0, dtype=np.float64)
    truth, transcribed = truth - centre, transcribed - centre
    norms = np.linalg.norm(truth, axis=1) * np.linalg.norm(transcribed, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        similarity = np.where(norms > 0, np.sum(truth * transcribed, axis=1) / np.where(norms > 0, norms, 1.0), 0.0)
    return {"partner_similarity": np.clip(similarity, -1.0, 1.0),
            "partner_reciprocal_rank": 1.0 / pair_ranks(transcribed, truth)}


# --------------------------------------------------------------------------------------
# Layouts from a store


def _standardised(X: np.ndarray) -> np.ndarray:
    """Columns to mean 0 and standard deviation 1 (constant columns to 0), float64."""
    std = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(std > 0, std, 1.0)


def _one_row_per(matrix: EmbeddingMatrix, columns: list[str]) -> pd.DataFrame:
    """The ``columns`` as text with each row's index in the matrix (``row``), one row per distinct
    value of ``columns`` (the first), rows with an empty one left out."""
    table = matrix.obs[columns].astype(str).apply(lambda column: column.str.strip())
    table["row"] = np.arange(len(table))
    return table[(table[columns] != "").all(axis=1)].drop_duplicates(columns)


@dataclass
class RenderingLayout:
    """An audio encoder's pooled embeddings as ``cube`` ``[P pieces, R renderings, D]`` (float64), with
    the ``pieces`` and ``renderings`` names, each piece's label (``classes``, None without a label)
    and the number of pieces left out for lacking a rendering."""

    cube: np.ndarray
    pieces: list[str]
    renderings: list[str]
    classes: np.ndarray | None
    left_out: int


def rendering_layout(matrix: EmbeddingMatrix, settings: FactorSettings) -> RenderingLayout:
    """The balanced layout of one audio encoder: every piece that has all renderings seen, one row per
    (piece, rendering) — rows repeating one (e.g. a transcribed row's copy of its audio) counted once."""
    table = _one_row_per(matrix, [settings.piece, settings.rendering])
    renderings = sorted(table[settings.rendering].unique())
    counts = table.groupby(settings.piece, sort=False)[settings.rendering].nunique()
    pieces = sorted(counts.index[counts == len(renderings)])
    position = table.set_index([settings.piece, settings.rendering])["row"]
    rows = np.array([[position[(piece, rendering)] for rendering in renderings] for piece in pieces], dtype=int)
    X = np.asarray(matrix.X, dtype=np.float64)
    if matrix.feature_names:
        X = X.copy()
        X[rows.ravel()] = _standardised(X[rows.ravel()])
    cube = X[rows] if len(pieces) else np.zeros((0, len(renderings), X.shape[1]))
    classes = matrix.labels(settings.label)[rows[:, 0]] if settings.label is not None and len(pieces) else None
    return RenderingLayout(cube, pieces, renderings, classes, len(counts) - len(pieces))


@dataclass
class TranscriptionPairs:
    """A symbolic encoder's ground-truth and transcribed embeddings ``[P, D]`` of the same ``pieces``
    (rows paired), for one ``transcription`` (its ``midi_source`` and the rendering it was made from)."""

    transcription: str
    pieces: list[str]
    truth: np.ndarray
    transcribed: np.ndarray
    ids: list[str] = field(default_factory=list)   # the transcribed rows' track ids, one per piece


def transcription_pairs(matrix: EmbeddingMatrix, settings: FactorSettings) -> list[TranscriptionPairs]:
    """One :class:`TranscriptionPairs` per transcription found among a symbolic encoder's rows."""
    columns = [settings.piece, "midi_source"] + ([settings.rendering] if settings.rendering in matrix.obs else [])
    table = matrix.obs[columns].astype(str).apply(lambda column: column.str.strip())
    table["row"] = np.arange(len(table))
    truth = table[table.midi_source == GROUND_TRUTH].drop_duplicates(settings.piece).set_index(settings.piece)["row"]
    made = table[table.midi_source.str.startswith(TRANSCRIBED_PREFIX)]
    X = np.asarray(matrix.X, dtype=np.float64)
    out = []
    for keys, part in made.groupby(columns[1:], sort=True):
        keys = keys if isinstance(keys, tuple) else (keys,)
        name = keys[0] if len(keys) == 1 or keys[1] in ("", "nan") else f"{keys[0]} of {keys[1]}"
        part = part.drop_duplicates(settings.piece)
        part = part[part[settings.piece].isin(truth.index)].sort_values(settings.piece)
        pieces = part[settings.piece].tolist()
        rows_truth, rows_made = truth.loc[pieces].to_numpy(dtype=int), part["row"].to_numpy(dtype=int)
        a, b = X[rows_truth], X[rows_made]
        if matrix.feature_names and len(pieces):
            joint = _standardised(np.concatenate([a, b]))
            a, b = joint[:len(pieces)], joint[len(pieces):]
        out.append(TranscriptionPairs(name, pieces, a, b, [str(i) for i in matrix.ids[rows_made]]))
    return out


# --------------------------------------------------------------------------------------
# The whole store


@dataclass
class FactorsResult(TabledResult):
    """What :func:`run_factors` computed: three tables (columns :data:`VARIANCE_COLUMNS`,
    :data:`RENDERING_COLUMNS`, :data:`TRANSCRIPTION_COLUMNS`), each with ``p_holm`` and ``p_bh``
    over its own rows; the layouts behind them (``layouts``: audio encoder → pieces and renderings;
    ``transcriptions``: symbolic encoder → transcription → pieces); the settings, notes, and the
    permutations each table's p-values used (``n_perm``, by table: ``variance``, ``renderings``,
    ``transcription``; what the table's Holm family needs, unless ``FactorSettings.fixed_n_perm``)."""

    variance: pd.DataFrame
    renderings: pd.DataFrame
    transcription: pd.DataFrame
    settings: FactorSettings
    store: Path
    layouts: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    transcriptions: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    n_perm: dict[str, int] = field(default_factory=dict)
    #: Each transcribed track's note F-measure (``QUALITY_COLUMNS`` of :mod:`counterpoint.data.transcription_quality`),
    #: and the partner figures binned by it with their slopes (:data:`NOISE_COLUMNS`, one Holm/BH family).
    quality: pd.DataFrame = field(default_factory=pd.DataFrame)
    noise: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=NOISE_COLUMNS))

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        return {"variance": self.variance, "renderings": self.renderings, "transcription": self.transcription,
                "transcription_quality": self.quality, "transcription_noise": self.noise}

    def as_dict(self) -> dict:
        """The JSON form (NaN as null), ``factors.json``: the settings, the layouts behind the numbers, the
        permutations per table, the notes and the three tables."""
        return json_ready({"store": self.store, "settings": self.settings, "n_perm": self.n_perm,
                           "notes": self.notes, "layouts": self.layouts, "transcriptions": self.transcriptions,
                           **self.tables})


def _estimate_row(estimate: Estimate, **keys: object) -> dict:
    return {**keys, **estimate.as_dict()}


def run_factors(store_or_path: "Store | str | Path", settings: FactorSettings = FactorSettings(), *,
                matrices: dict[str, EmbeddingMatrix] | None = None, quality: pd.DataFrame | None = None) -> FactorsResult:
    """The analyses of the module docstring on every audio and every symbolic encoder of a store.

    ``matrices`` are pooled matrices already read, by spec. ``quality``: each transcribed track's note F-measure
    (``id`` and ``f_measure`` columns, :func:`counterpoint.data.transcription_quality.transcription_quality`); without
    it there is no transcription-noise table. A :class:`StoreError` names the piece,
    rendering or label column when the store lacks it; an encoder whose layout is too small (fewer
    than :data:`MIN_PIECES` pieces, or one rendering) is left out with a note saying why.
    """
    store = as_store(store_or_path)
    require_embeddings(store)
    columns = list(store.tracks().columns)
    for column, option in ((settings.piece, "piece"), (settings.rendering, "rendering"), (settings.label, "label")):
        if column is not None:
            require_column(columns, column, option, store=store.path)
    if "midi_source" not in columns:
        raise StoreError(f"{store.path}: the track table has no midi_source column, so no row is known to be a "
                         "transcription — make the designed corpus with `counterpoint dataset render` and "
                         "`counterpoint dataset transcribe --all` (or `counterpoint demo --factors`), then embed it")
    notes: list[str] = []
    layouts: dict[str, RenderingLayout] = {}
    found_pairs: dict[str, list[TranscriptionPairs]] = {}
    for record in store.encoders_with_tracks():  # what each table will hold, so its family's size is known first
        matrix = matrices[record.spec] if matrices and record.spec in matrices else store.pooled(record.spec)
        if record.modality == "audio":
            layout = rendering_layout(matrix, settings)
            if len(layout.renderings) < 2 or len(layout.pieces) < MIN_PIECES:
                notes.append(f"{record.spec}: no rendering analysis — it needs {MIN_PIECES} pieces with each of "
                             f"at least 2 renderings ({settings.rendering}); it has {len(layout.pieces)} pieces "
                             f"with all of {', '.join(layout.renderings) or 'none'}")
                continue
            if layout.left_out:
                notes.append(f"{record.spec}: {layout.left_out} pieces without every rendering left out")
            layouts[record.spec] = layout
        else:
            found = transcription_pairs(matrix, settings)
            if not found:
                notes.append(f"{record.spec}: no transcribed MIDI (midi_source {TRANSCRIBED_PREFIX}…) beside "
                             "ground-truth MIDI — `counterpoint dataset transcribe --all` makes it")
            for pairs in found:
                if len(pairs.pieces) < MIN_PIECES:
                    notes.append(f"{record.spec}: {pairs.transcription} left out — {len(pairs.pieces)} pieces "
                                 f"have it and ground-truth MIDI (need {MIN_PIECES})")
                    continue
                found_pairs.setdefault(record.spec, []).append(pairs)
    tests = {"variance": sum(VARIANCE_TESTS + LABEL_TESTS * (layout.classes is not None) for layout in layouts.values()),
             "renderings": sum(math.comb(len(layout.renderings), 2) for layout in layouts.values()),
             "transcription": TRANSCRIPTION_TESTS * sum(len(found) for found in found_pairs.values())}
    if quality is not None:
        tests["noise"] = NOISE_TESTS * sum(len(found) for found in found_pairs.values())
    n_perm = {name: family_permutations(settings.n_perm, m, scale=not settings.fixed_n_perm)
              for name, m in tests.items()}
    variance_rows, rendering_rows, transcription_rows, noise_rows = [], [], [], []
    if quality is not None:
        check_values("transcription_f", quality["f_measure"], "transcription_quality.csv")
    f_of = {} if quality is None else dict(zip(quality["id"].astype(str), quality["f_measure"].astype(float)))
    with single_threaded_blas():
        for spec, layout in layouts.items():
            shares = variance_decomposition(layout.cube, layout.classes, n_boot=settings.n_boot,
                                            n_perm=n_perm["variance"], seed=settings.seed)
            sums = sums_of_squares(layout.cube, layout.classes)
            for factor, estimate in shares.items():
                variance_rows.append({"encoder": spec, "factor": factor, "share": estimate.value,
                                      "ci_low": estimate.ci_low, "ci_high": estimate.ci_high,
                                      "p_value": estimate.p_value, "null_mean": estimate.null_mean,
                                      "sum_of_squares": sums[factor], "n_pieces": len(layout.pieces),
                                      "n_renderings": len(layout.renderings)})
            for a, b in itertools.combinations(range(len(layout.renderings)), 2):
                estimate = rendering_agreement(layout.cube[:, a], layout.cube[:, b], n_boot=settings.n_boot,
                                               n_perm=n_perm["renderings"], seed=settings.seed)
                rendering_rows.append(_estimate_row(estimate, encoder=spec, rendering_a=layout.renderings[a],
                                                    rendering_b=layout.renderings[b], measure="cka_debiased"))
        for spec, found in found_pairs.items():
            for pairs in found:
                for measure, estimate in transcription_agreement(pairs.truth, pairs.transcribed, k=settings.k,
                                                                 n_boot=settings.n_boot, n_perm=n_perm["transcription"],
                                                                 seed=settings.seed).items():
                    transcription_rows.append(_estimate_row(estimate, encoder=spec, transcription=pairs.transcription,
                                                            measure=measure))
                if quality is not None:
                    noise_rows += _noise_rows(spec, pairs, f_of, settings, n_perm["noise"], notes)
    notes += family_notes(((f"{name} table", m, n_perm[name]) for name, m in tests.items()),
                          fixed=settings.fixed_n_perm)
    noise = check_table(family_table(noise_rows, NOISE_COLUMNS), keys=("encoder", "transcription", "figure"))
    return FactorsResult(family_table(variance_rows, VARIANCE_COLUMNS), family_table(rendering_rows, RENDERING_COLUMNS),
                         family_table(transcription_rows, TRANSCRIPTION_COLUMNS), settings, store.path,
                         {spec: {"pieces": layout.pieces, "renderings": layout.renderings}
                          for spec, layout in layouts.items()},
                         {spec: {pairs.transcription: pairs.pieces for pairs in found}
                          for spec, found in found_pairs.items()},
                         notes, n_perm, quality=pd.DataFrame() if quality is None else quality, noise=noise)


def _noise_rows(spec: str, pairs: TranscriptionPairs, f_of: dict[str, float], settings: FactorSettings, n_perm: int,
                notes: list[str]) -> list[dict]:
    """The transcription-noise rows of one symbolic encoder and transcription (pieces with an F-measure)."""
    scored = np.array([track in f_of for track in pairs.ids], dtype=bool)
    if scored.sum() < MIN_PIECES:
        notes.append(f"{spec}: {pairs.transcription}: no transcription-noise figures — {int(scored.sum())} pieces have a "
                     f"note F-measure (need {MIN_PIECES})")
        return []
    f = np.array([f_of[track] for track, kept in zip(pairs.ids, scored) if kept])
    figures = partner_figures(pairs.truth[scored], pairs.transcribed[scored])
    rows = agreement_by_quality(f, figures, n_boot=settings.n_boot, n_perm=n_perm, seed=settings.seed)
    return [{"encoder": spec, "transcription": pairs.transcription, **row} for row in rows]
