"""Equivariance across modalities: does a musical change move audio and score embeddings alike?

Transposing a score by k semitones and pitch-shifting its audio by k are the same musical change;
so are a tempo change and a time-stretch. A transformed corpus (``counterpoint dataset transform``:
rows with ``piece``, ``transform`` = ``original``/``transpose``/``tempo`` and ``amount``) holds each
piece's original and its transformed copies, MIDI and rendered audio. For every encoder of the store
and each kind of transformation, with ``x`` a piece's original and ``Tx`` a transformed copy:

* **Standardised features** (the one definition every figure here reads): each feature divided by its
  standard deviation over all the encoder's rows of the corpus (originals and copies; a constant
  feature is left as it is), so a feature in large units does not dominate. The **displacement** of a
  copy is ``d = z(f(Tx)) − z(f(x))``.
* **Relative displacement** (per encoder, transformation and amount): the mean over pieces of
  ``‖d‖ / median_{i<j} ‖z(f(x_i)) − z(f(x_j))‖``, how far the change moves a piece relative to the
  typical distance between two pieces' originals: 0 for an invariant encoder, about 1 when the change
  moves a piece as far as another piece is. 95 % interval: bootstrap over pieces (the median recomputed
  on each resample's distinct pieces). A description, not a test: it has no p-value.
* **Amount accuracy** (per encoder and transformation): a ridge classifier (``alpha``) predicts the
  amount from the displacement, cross-validated by piece (group k-fold, at most 5 folds; a piece's
  copies are never on both sides): the share of copies whose amount is predicted right. Chance: the
  majority amount's share; p: the held-out amounts permuted across copies against the fixed predictions;
  interval: bootstrap over pieces. Above chance when the change moves the embedding in a direction
  that says which change it was.
* **Displacement agreement** (per audio × symbolic encoder and transformation): debiased CKA between the
  audio displacements and the symbolic displacements of the same (piece, amount) rows, each centred
  within its amount (the mean move of an amount is common to every piece). Null: the
  pairing shuffled within each amount (so agreement about which amount was applied is kept in the
  null and only agreement piece by piece counts); interval: half-samples of the pieces
  (:func:`~counterpoint.analysis.statistics.half_sample_ci`). High when pieces that one encoder sees
  moved a lot (or in an unusual direction) are the pieces the other sees so too.

Every table gets Holm and Benjamini–Hochberg adjusted p-values, each table one family
(:func:`~counterpoint.analysis.pairwise.family_table`), with the permutations its family needs
(:func:`~counterpoint.significance.family_permutations`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from counterpoint.analysis.inputs import require_embeddings
from counterpoint.analysis.pairwise import family_notes, family_table
from counterpoint.analysis.similarity import debiased_cka
from counterpoint.analysis.statistics import (Estimate, bootstrap_indices, half_sample_ci, half_samples,
                                              percentile_interval, permutation_p_value)
from counterpoint.blas import single_threaded_blas
from counterpoint.config import EquivarianceSettings
from counterpoint.errors import StoreError
from counterpoint.matrix import EmbeddingMatrix, require_column
from counterpoint.probe_protocol import permutation_null
from counterpoint.ranges import CORRELATION, UNIT, Range, check_table, declare_measure
from counterpoint.results import TabledResult, json_ready
from counterpoint.significance import family_permutations
from counterpoint.store import as_store

if TYPE_CHECKING:
    from counterpoint.store import Store

#: ``transform`` of a piece's untransformed row, and the transformations measured.
ORIGINAL = "original"
TRANSFORMS = ("transpose", "tempo")
#: Fewest pieces (with an original and a copy) a transformation needs for its figures.
MIN_PIECES = 4
#: Folds of the grouped cross-validation of the amount classifier (fewer when there are fewer pieces).
MAX_FOLDS = 5

declare_measure("relative_displacement", Range(0.0, math.inf), title="relative displacement",
                prose="How far the transformation moves a piece's embedding: ‖z(f(Tx)) − z(f(x))‖ over the median "
                      "distance between two pieces' originals (standardised features), averaged over pieces; 0 for "
                      "an invariant encoder. Bootstrap interval over pieces; no null (a description).")
declare_measure("amount_accuracy", UNIT, title="amount accuracy",
                prose="The share of transformed copies whose amount a ridge classifier, cross-validated by piece, "
                      "predicts from the displacement; chance is the majority amount's share, p from the held-out "
                      "amounts permuted against the predictions.")
declare_measure("displacement_agreement", CORRELATION, title="displacement agreement (debiased CKA)",
                prose="Debiased CKA between the audio and the symbolic displacements of the same (piece, amount) "
                      "rows, each centred within its amount: do the two modalities move alike, piece by piece? Null: the pairing shuffled within "
                      "each amount; half-sample interval over pieces.")

ESTIMATE_COLUMNS = ["value", "ci_low", "ci_high", "p_value", "chance", "null_mean", "n", "n_resample"]
DISPLACEMENT_COLUMNS = ["encoder", "modality", "transform", "amount", "measure", *ESTIMATE_COLUMNS, "p_holm", "p_bh"]
PREDICTABILITY_COLUMNS = ["encoder", "modality", "transform", "measure", "n_amounts", *ESTIMATE_COLUMNS,
                          "p_holm", "p_bh"]
AGREEMENT_COLUMNS = ["audio", "symbolic", "transform", "measure", *ESTIMATE_COLUMNS, "p_holm", "p_bh"]


# --------------------------------------------------------------------------------------
# The three measures, on arrays


def relative_displacement(originals: np.ndarray, displacement: np.ndarray, piece_of_row: np.ndarray, *,
                          n_boot: int = 200, seed: int = 0) -> Estimate:
    """Mean ``‖displacement_r‖`` over rows divided by the median distance between the rows of ``originals``
    (``[P, D]``, one per piece; ``displacement`` ``[n, D]``, row r of piece ``piece_of_row[r]``), with a
    bootstrap interval over the rows' pieces; ``n`` = rows. NaN when the originals are all equal."""
    from scipy.spatial.distance import pdist, squareform

    originals, displacement = np.asarray(originals, np.float64), np.asarray(displacement, np.float64)
    distances = squareform(pdist(originals)) if len(originals) > 1 else np.zeros((1, 1))
    norms = np.linalg.norm(displacement, axis=1)
    piece_of_row = np.asarray(piece_of_row)

    def ratio(rows: np.ndarray) -> float:
        pieces = piece_of_row[rows]
        between = distances[np.ix_(pieces, pieces)][pieces[:, None] < pieces[None, :]]
        spread = float(np.median(between)) if between.size else 0.0
        return float(np.mean(norms[rows]) / spread) if spread > 0 else float("nan")

    everything = np.arange(len(norms))
    value = ratio(everything) if len(np.unique(piece_of_row)) > 1 else float("nan")
    samples = [ratio(rows) for rows in bootstrap_indices(len(norms), n_boot, seed)] if np.isfinite(value) else []
    low, high = percentile_interval(np.array(samples))
    return Estimate(value=value, ci_low=low, ci_high=high, n=len(norms), n_resample=len(norms))


def amount_predictions(displacement: np.ndarray, amounts: np.ndarray, groups: np.ndarray, *,
                       alpha: float = 1.0) -> np.ndarray:
    """The held-out amount of every row predicted from its displacement by a ridge classifier (``alpha``),
    group k-fold by ``groups`` (the piece; at most :data:`MAX_FOLDS` folds)."""
    from sklearn.linear_model import RidgeClassifier
    from sklearn.model_selection import GroupKFold

    amounts = np.asarray(amounts)
    predicted = np.empty_like(amounts)
    folds = GroupKFold(n_splits=min(MAX_FOLDS, len(np.unique(groups))))
    for train, test in folds.split(displacement, amounts, groups):
        if len(np.unique(amounts[train])) < 2:
            predicted[test] = amounts[train][0]
            continue
        model = RidgeClassifier(alpha=alpha).fit(displacement[train], amounts[train])
        predicted[test] = model.predict(displacement[test])
    return predicted


def amount_accuracy(displacement: np.ndarray, amounts: np.ndarray, groups: np.ndarray, *, alpha: float = 1.0,
                    n_boot: int = 200, n_perm: int = 199, seed: int = 0) -> Estimate:
    """Accuracy of :func:`amount_predictions` with its chance level (the majority amount's share), a
    bootstrap interval over ``groups`` (pieces) and a p-value from the truth permuted across rows against the
    fixed held-out predictions. NaN with fewer than 2 amounts or 2 groups."""
    amounts, groups = np.asarray(amounts), np.asarray(groups)
    if len(np.unique(amounts)) < 2 or len(np.unique(groups)) < 2:
        return Estimate(value=float("nan"), n=len(amounts))
    predicted = amount_predictions(np.asarray(displacement, np.float64), amounts, groups, alpha=alpha)
    correct = (predicted == amounts).astype(float)
    value = float(correct.mean())
    _, counts = np.unique(amounts, return_counts=True)
    chance = float(counts.max() / len(amounts))
    names_of_amounts, truth_codes = np.unique(amounts, return_inverse=True)
    predicted_codes = np.searchsorted(names_of_amounts, predicted)  # every prediction is one of the amounts
    null = permutation_null(truth_codes, predicted_codes, np.arange(len(amounts)), n_perm=n_perm, seed=seed + 1)
    names, piece = np.unique(groups, return_inverse=True)
    right = np.bincount(piece, weights=correct, minlength=len(names))
    total = np.bincount(piece, minlength=len(names)).astype(float)
    samples = [right[rows].sum() / total[rows].sum() for rows in bootstrap_indices(len(names), n_boot, seed)]
    low, high = percentile_interval(np.array(samples))
    return Estimate(value=value, ci_low=low, ci_high=high, p_value=permutation_p_value(value, null), n=len(amounts),
                    n_resample=len(amounts), chance=chance, null_mean=float(null.mean()) if null.size else float("nan"))


def displacement_agreement(audio: np.ndarray, symbolic: np.ndarray, *, amounts: np.ndarray, groups: np.ndarray,
                           n_boot: int = 200, n_perm: int = 199, seed: int = 0) -> Estimate:
    """Debiased CKA between two displacement sets ``[n, Da]``, ``[n, Ds]`` of the same rows, each centred
    within its ``amounts`` (the mean move of an amount is shared by every piece, so it is left out), with the
    pairing shuffled within each amount as its null and half-samples of ``groups`` (pieces) as its interval."""
    audio, symbolic = np.array(audio, np.float64), np.array(symbolic, np.float64)
    amounts, groups = np.asarray(amounts), np.asarray(groups)
    if len(audio) < 4:
        return Estimate(value=float("nan"), n=len(audio))
    strata = [np.flatnonzero(amounts == amount) for amount in np.unique(amounts)]
    for rows in strata:  # what is common to every piece moved by one amount says nothing piece by piece
        audio[rows] -= audio[rows].mean(axis=0)
        symbolic[rows] -= symbolic[rows].mean(axis=0)
    value = debiased_cka(audio, symbolic)
    rng = np.random.default_rng(seed + 1)
    null = []
    for _ in range(n_perm if np.isfinite(value) else 0):
        order = np.arange(len(audio))
        for rows in strata:
            order[rows] = rng.permutation(rows)
        null.append(debiased_cka(audio, symbolic[order]))
    names = np.unique(groups)
    halves = []
    for chosen in half_samples(len(names), n_boot if np.isfinite(value) else 0, seed):
        rows = np.flatnonzero(np.isin(groups, names[chosen]))
        if len(rows) >= 4:
            halves.append(debiased_cka(audio[rows], symbolic[rows]))
    low, high = half_sample_ci(value, np.array(halves), bounds=(-1.0, 1.0))
    null = np.array(null)
    return Estimate(value=value, ci_low=low, ci_high=high, p_value=permutation_p_value(value, null), n=len(audio),
                    n_resample=len(audio), null_mean=float(np.nanmean(null)) if null.size else float("nan"))


# --------------------------------------------------------------------------------------
# Layouts from a store


@dataclass
class TransformLayout:
    """One encoder's embeddings of one transformation: the ``pieces`` with an original and at least one
    copy, their ``originals`` ``[P, D]``; the copies ``copies`` ``[n, D]`` with ``piece_of_row`` (index
    into ``pieces``) and ``amounts`` ``[n]``; ``scale`` ``[D]``: each feature's standard deviation over all
    the encoder's rows of the corpus (1 where constant). Raw float64 values; :meth:`displacement` and
    :meth:`standardised_originals` divide by ``scale``."""

    transform: str
    pieces: list[str]
    originals: np.ndarray
    copies: np.ndarray
    piece_of_row: np.ndarray
    amounts: np.ndarray
    scale: np.ndarray

    def displacement(self, *, standardised: bool = True) -> np.ndarray:
        """``f(Tx) − f(x)`` of every copy ``[n, D]``, on standardised features unless ``standardised`` is False."""
        moved = self.copies - self.originals[self.piece_of_row]
        return moved / self.scale if standardised else moved

    def standardised_originals(self) -> np.ndarray:
        return self.originals / self.scale

    def row_keys(self) -> list[tuple[str, float]]:
        """(piece, amount) of every copy, in row order."""
        return [(self.pieces[p], float(a)) for p, a in zip(self.piece_of_row, self.amounts)]


def transform_layouts(matrix: EmbeddingMatrix, settings: EquivarianceSettings) -> dict[str, TransformLayout]:
    """Every transformation of :data:`TRANSFORMS` found among an encoder's rows, by name; rows repeating a
    (piece, transformation, amount) are counted once, copies of a piece without an original left out."""
    table = matrix.obs[[settings.piece, settings.transform, settings.amount]].astype(str).apply(
        lambda column: column.str.strip())
    table.columns = ["piece", "kind", "amount"]
    table["row"] = np.arange(len(table))
    table = table[(table.piece != "") & table.kind.isin((ORIGINAL, *TRANSFORMS))]
    table = table.drop_duplicates(["piece", "kind", "amount"])
    X = np.asarray(matrix.X, dtype=np.float64)
    used = X[table.row.to_numpy(dtype=int)]
    scale = used.std(axis=0) if len(used) else np.ones(X.shape[1])
    scale = np.where(scale > 0, scale, 1.0)
    originals = table[table.kind == ORIGINAL].drop_duplicates("piece").set_index("piece")["row"]
    out = {}
    for transform in TRANSFORMS:
        copies = table[(table.kind == transform) & table.piece.isin(originals.index)].copy()
        copies["value"] = pd.to_numeric(copies.amount, errors="coerce")
        copies = copies[copies.value.notna()].sort_values(["piece", "value"])
        if copies.empty:
            continue
        pieces = sorted(copies.piece.unique())
        index = {piece: number for number, piece in enumerate(pieces)}
        out[transform] = TransformLayout(transform, pieces, X[originals.loc[pieces].to_numpy(dtype=int)],
                                         X[copies.row.to_numpy(dtype=int)],
                                         copies.piece.map(index).to_numpy(dtype=int), copies.value.to_numpy(),
                                         scale)
    return out


# --------------------------------------------------------------------------------------
# The whole store


@dataclass
class EquivarianceResult(TabledResult):
    """What :func:`run_equivariance` computed: three tables (columns :data:`DISPLACEMENT_COLUMNS`,
    :data:`PREDICTABILITY_COLUMNS`, :data:`AGREEMENT_COLUMNS`), each with ``p_holm`` and ``p_bh`` over its
    own rows; the layouts behind them (``layouts``: encoder → transformation → pieces and amounts); the
    settings, notes, and the permutations each table's p-values used (``n_perm``)."""

    displacement: pd.DataFrame
    predictability: pd.DataFrame
    agreement: pd.DataFrame
    settings: EquivarianceSettings
    store: Path
    layouts: dict[str, dict[str, dict[str, list]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    n_perm: dict[str, int] = field(default_factory=dict)

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        return {"displacement": self.displacement, "predictability": self.predictability, "agreement": self.agreement}

    def as_dict(self) -> dict:
        """The JSON form (NaN as null), ``equivariance.json``: settings, layouts, permutations, notes, tables."""
        return json_ready({"store": self.store, "settings": self.settings, "n_perm": self.n_perm, "notes": self.notes,
                           "layouts": self.layouts, **self.tables})


def has_transformed_rows(store: "Store", settings: EquivarianceSettings = EquivarianceSettings()) -> bool:
    """Whether the store's track table names transformed copies (its ``transform`` column holds one of
    :data:`TRANSFORMS`): what a report checks before adding the equivariance section."""
    tracks = store.tracks()
    return settings.transform in tracks.columns and bool(tracks[settings.transform].astype(str).isin(TRANSFORMS).any())


def _row(estimate: Estimate, **keys: object) -> dict:
    return {**keys, **estimate.as_dict()}


def run_equivariance(store_or_path: "Store | str | Path", settings: EquivarianceSettings = EquivarianceSettings(), *,
                     matrices: dict[str, EmbeddingMatrix] | None = None) -> EquivarianceResult:
    """The three measures of the module docstring on every encoder (and audio × symbolic pair) of a store.

    ``matrices``: pooled matrices already read, by spec. A :class:`StoreError` names a missing piece,
    transform or amount column and how to make one; a transformation with fewer than :data:`MIN_PIECES`
    pieces for an encoder is left out with a note.
    """
    store = as_store(store_or_path)
    require_embeddings(store)
    columns = list(store.tracks().columns)
    for column, option in ((settings.piece, "piece"), (settings.transform, "transform"), (settings.amount, "amount")):
        require_column(columns, column, option, store=store.path)
    if not has_transformed_rows(store, settings):
        raise StoreError(f"{store.path}: no row is a transformed copy ({settings.transform} is never one of "
                         f"{', '.join(TRANSFORMS)}) — make the corpus with `counterpoint dataset transform ROOT --out DIR` "
                         "and embed it")
    notes: list[str] = []
    layouts: dict[str, dict[str, TransformLayout]] = {}
    modality: dict[str, str] = {}
    for record in store.encoders_with_tracks():
        matrix = matrices[record.spec] if matrices and record.spec in matrices else store.pooled(record.spec)
        modality[record.spec] = record.modality
        for transform, layout in transform_layouts(matrix, settings).items():
            if len(layout.pieces) < MIN_PIECES:
                notes.append(f"{record.spec}: {transform} left out — {len(layout.pieces)} pieces have an original and "
                             f"a copy ({transform}; need {MIN_PIECES})")
                continue
            layouts.setdefault(record.spec, {})[transform] = layout
    audio = [spec for spec in layouts if modality[spec] == "audio"]
    symbolic = [spec for spec in layouts if modality[spec] == "symbolic"]
    pairs = [(a, s, t) for a in audio for s in symbolic for t in TRANSFORMS if t in layouts[a] and t in layouts[s]]
    tests = {"predictability": sum(len(np.unique(layout.amounts)) >= 2 for found in layouts.values()
                                   for layout in found.values()),
             "agreement": len(pairs)}
    n_perm = {name: family_permutations(settings.n_perm, m, scale=not settings.fixed_n_perm)
              for name, m in tests.items()}
    displacement_rows, predictability_rows, agreement_rows = [], [], []
    with single_threaded_blas():
        for spec, found in layouts.items():
            for transform, layout in found.items():
                moved, origins = layout.displacement(), layout.standardised_originals()
                for amount in np.unique(layout.amounts):
                    rows = layout.amounts == amount
                    estimate = relative_displacement(origins, moved[rows], layout.piece_of_row[rows],
                                                     n_boot=settings.n_boot, seed=settings.seed)
                    displacement_rows.append(_row(estimate, encoder=spec, modality=modality[spec], transform=transform,
                                                  amount=float(amount), measure="relative_displacement"))
                estimate = amount_accuracy(moved, layout.amounts.astype(str), layout.piece_of_row, alpha=settings.alpha,
                                           n_boot=settings.n_boot, n_perm=n_perm["predictability"], seed=settings.seed)
                predictability_rows.append(_row(estimate, encoder=spec, modality=modality[spec], transform=transform,
                                                measure="amount_accuracy", n_amounts=len(np.unique(layout.amounts))))
        for audio_spec, symbolic_spec, transform in pairs:
            a, s = layouts[audio_spec][transform], layouts[symbolic_spec][transform]
            position = {key: row for row, key in enumerate(s.row_keys())}
            keys = [(row, position[key]) for row, key in enumerate(a.row_keys()) if key in position]
            if len(keys) < 4:
                notes.append(f"{audio_spec} × {symbolic_spec}: {transform} left out — {len(keys)} copies embedded by both")
                continue
            rows_a, rows_s = (np.array(side) for side in zip(*keys))
            estimate = displacement_agreement(a.displacement()[rows_a], s.displacement()[rows_s],
                                              amounts=a.amounts[rows_a], groups=a.piece_of_row[rows_a], n_boot=settings.n_boot,
                                              n_perm=n_perm["agreement"], seed=settings.seed)
            agreement_rows.append(_row(estimate, audio=audio_spec, symbolic=symbolic_spec, transform=transform,
                                       measure="displacement_agreement"))
    notes += family_notes(((f"{name} table", m, n_perm[name]) for name, m in tests.items()),
                          fixed=settings.fixed_n_perm)
    displacement = check_table(family_table(displacement_rows, DISPLACEMENT_COLUMNS), keys=("encoder", "transform"))
    predictability = check_table(family_table(predictability_rows, PREDICTABILITY_COLUMNS), keys=("encoder", "transform"))
    agreement = check_table(family_table(agreement_rows, AGREEMENT_COLUMNS), keys=("audio", "symbolic", "transform"))
    return EquivarianceResult(displacement, predictability, agreement, settings, store.path,
                              {spec: {transform: {"pieces": layout.pieces, "amounts": sorted(set(layout.amounts.tolist()))}
                                      for transform, layout in found.items()} for spec, found in layouts.items()},
                              notes, n_perm)
