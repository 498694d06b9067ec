"""Compare every audio encoder with every symbolic encoder of a store, on the paired tracks.

:func:`compare_spaces` does the arithmetic for one pair of matrices; :func:`run_compare`
reads a store (or takes the matrices already read), runs every pair and every space's label
quality, and returns a :class:`CompareResult`. :mod:`counterpoint.report.compare` writes it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from counterpoint.analysis.similarity import align_spaces, debiased_cka, debiased_cka_without_each
from counterpoint.analysis.label_knowledge import COLUMNS as KNOWLEDGE_COLUMNS
from counterpoint.analysis.label_knowledge import label_knowledge
from counterpoint.analysis.label_quality import MIN_TRACKS as MIN_LABELLED_TRACKS
from counterpoint.analysis.label_quality import KNN_VOTE_MAX_N, label_quality
from counterpoint.analysis.label_structure import (EXACT_CLASS_PERMUTATIONS, INFLUENCE_COLUMNS,
                                                   LABEL_STRUCTURE_MAX_N, leave_one_out, pair_label_structure)
from counterpoint.analysis.pairwise import PairSkipped, each_pair, empty_encoders, family_table, open_pairs
from counterpoint.analysis.neighbours import (NEIGHBOUR_COLUMNS, NEIGHBOURS_K, cross_space_neighbours,
                                              neighbour_queries, queries_note, space_neighbours)
from counterpoint.analysis.retrieval import RetrievalOutcome, cross_modal_retrieval, retrieval_figures, share_space
from counterpoint.analysis.statistics import Estimate, subsample_indices
from counterpoint.blas import single_threaded_blas
from counterpoint.config import CompareSettings
from counterpoint.errors import CounterpointError
from counterpoint.matrix import EmbeddingMatrix
from counterpoint.probe_protocol import plan_protocol
from counterpoint.ranges import base_name, check_table, check_values, pair_measures, verdict_figures, verdict_rows_per_pair
from counterpoint.results import TabledResult, json_ready
from counterpoint.significance import (ALPHA, family_permutations, family_size, undecidable_family_note,
                                       with_adjusted_p_values)
from counterpoint.splits import assign_splits, stratified_subsample

if TYPE_CHECKING:
    from counterpoint.store import Store

#: Fewest labelled tracks embedded by both encoders of a pair for the pair to be compared.
MIN_PAIRED_TRACKS = 10

ALIGNMENT_COLUMNS = ["audio", "symbolic", "family", "measure", "method", "direction", "value", "ci_low", "ci_high",
                     "p_value", "p_holm", "p_bh", "chance", "null_mean", "n", "n_resample"]
LABEL_COLUMNS = ["encoder", "modality", "measure", "value", "ci_low", "ci_high", "chance", "p_value", "p_holm", "p_bh",
                 "n", "n_resample"]


#: Which tests each table's Holm and Benjamini–Hochberg adjustment (``p_holm``, ``p_bh``) runs over.
P_VALUE_FAMILIES = {
    "alignment": "every p-value of alignment.csv: all compared pairs × all alignment and retrieval figures "
                 "(both directions, every method)",
    "label_quality": "every accuracy of label_quality.csv: all encoders × both classifiers (k-NN, logistic), "
                     "each tested by the probe protocol's label-permutation null (held-out truth permuted "
                     "against the held-out predictions)",
    "verdict": "every row of the verdict table: all compared pairs × its headline figures",
    "label_structure": "every row of the label-structure table (verdict (b)): all compared pairs × centroid "
                       "agreement, label transfer both ways, error agreement and confusion similarity",
}


@dataclass
class PairComparison:
    """One audio × symbolic pair: its figures as table rows, and what the plots need."""

    audio: str
    symbolic: str
    n_pairs: int
    rows: list[dict]
    retrieval: RetrievalOutcome
    test_labels: np.ndarray
    train: np.ndarray | None = None   # row indices the mappings were fitted on
    ids: np.ndarray | None = None     # track id of each paired row (set by run_compare)
    dims: tuple[int, int] = (0, 0)    # dimensions of the audio and the symbolic space
    notes: list[str] = field(default_factory=list)       # mappings fitted on fewer tracks than dimensions
    label_structure: list[dict] = field(default_factory=list)   # verdict (b) rows (set by run_compare)
    influence: list[dict] = field(default_factory=list)         # the most influential tracks per figure


@dataclass
class CompareResult(TabledResult):
    """What :func:`run_compare` computed (the analysis protocol, :mod:`counterpoint.results`)."""

    alignment: pd.DataFrame          # long table, one row per pair × figure (ALIGNMENT_COLUMNS)
    label_quality: pd.DataFrame      # one row per encoder × figure (LABEL_COLUMNS)
    pairs: list[PairComparison]
    settings: CompareSettings
    group: str | None                # the group column used (settings.group, or the store's own)
    store: Path
    notes: list[str]                 # includes a note for each family too large for the permutations
    skipped_pairs: dict[tuple[str, str], str] = field(default_factory=dict)   # (audio, symbolic) → why
    too_few_paired: dict[tuple[str, str], int] = field(default_factory=dict)  # of those, → tracks shared
    neighbours: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=NEIGHBOUR_COLUMNS))
    #: Verdict (b), one row per pair × figure (ALIGNMENT_COLUMNS), p_holm / p_bh over this table.
    label_structure: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=ALIGNMENT_COLUMNS))
    #: Per pair and figure, the tracks whose removal moves it most (INFLUENCE_COLUMNS).
    influence: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=INFLUENCE_COLUMNS))
    #: Verdict (a), one row per encoder: its probe accuracy of the label under the one protocol.
    knowledge: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=KNOWLEDGE_COLUMNS))

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table, by the name of its file (``verdict`` is derived, see :func:`verdict_table`)."""
        return {"alignment": self.alignment, "label_quality": self.label_quality, "neighbours": self.neighbours,
                "label_structure": self.label_structure, "influence": self.influence,
                "label_knowledge": self.knowledge}

    def as_dict(self) -> dict:
        """Everything of the comparison as JSON data (NaN as null): ``compare.json`` but the plots' file names."""
        return json_ready({
            "store": self.store,
            "settings": {**asdict(self.settings), "group": self.group},
            "notes": self.notes,
            "p_value_families": P_VALUE_FAMILIES,
            "pairs": [{
                "audio": pair.audio, "symbolic": pair.symbolic, "n_pairs": pair.n_pairs,
                "n_test": int(len(pair.test_labels)),
                "dims": {"audio": pair.dims[0], "symbolic": pair.dims[1]},
                "retrieval_settings": [{"method": run.method, "direction": run.direction, **run.settings}
                                       for run in pair.retrieval.runs],
                "cca_correlations": [float(c) for c in pair.retrieval.cca_correlations],
                "test_ranks": {f"{run.method} {run.direction}": [float(r) for r in run.ranks]
                               for run in pair.retrieval.runs},
            } for pair in self.pairs],
            "alignment": self.alignment,
            "label_quality": self.label_quality,
            "label_knowledge": self.knowledge,
            "label_structure": self.label_structure,
            "influence": self.influence,
        })


def _row(estimate: Estimate, **keys: object) -> dict:
    return {**keys, **estimate.as_dict()}


def compare_spaces(audio: np.ndarray, symbolic: np.ndarray, labels: np.ndarray, *, groups: np.ndarray | None,
                   given_split: np.ndarray | None, settings: CompareSettings, shared_space: bool = False,
                   names: tuple[str, str] = ("audio", "symbolic")) -> PairComparison:
    """Alignment and retrieval figures of one pair of paired matrices (rows = same tracks).

    BLAS runs single-threaded throughout (see :func:`single_threaded_blas`): the work is many
    medium-sized products and decompositions, where threads cost more than they give.
    ``settings.n_perm`` is raised to what one pair's verdict needs (:func:`verdict_permutations`).
    """
    settings = verdict_permutations(settings, 1)
    with single_threaded_blas():
        return _compare_spaces(audio, symbolic, labels, groups, given_split, settings, shared_space, names)


def _compare_spaces(audio: np.ndarray, symbolic: np.ndarray, labels: np.ndarray, groups: np.ndarray | None,
                    given_split: np.ndarray | None, settings: CompareSettings, shared_space: bool,
                    names: tuple[str, str]) -> PairComparison:
    rows = []
    figures = align_spaces(audio, symbolic, k=min(settings.k, len(audio) - 1), n_boot=settings.n_boot,
                           n_perm=settings.n_perm, max_n_pairwise=settings.max_n_pairwise, seed=settings.seed)
    for measure in pair_measures():   # declared beside their computation (counterpoint.ranges.declare_measure)
        figures[measure.name] = measure.compute(audio, symbolic, settings)
    for measure, estimate in figures.items():
        rows.append(_row(estimate, family="alignment", measure=measure, method="", direction=""))
    split = assign_splits(labels, groups, given=given_split, seed=settings.seed)
    train, test = np.flatnonzero(split != "test"), np.flatnonzero(split == "test")
    outcome = cross_modal_retrieval(audio, symbolic, train=train, test=test, labels=labels, groups=groups,
                                    shared_space=shared_space, seed=settings.seed)
    for run in outcome.runs:
        for measure, estimate in retrieval_figures(run.ranks, n_boot=settings.n_boot, n_perm=settings.n_perm,
                                                   seed=settings.seed).items():
            rows.append(_row(estimate, family="retrieval", measure=measure, method=run.method, direction=run.direction))
    for row in rows:
        row["audio"], row["symbolic"] = names
    dims = (int(audio.shape[1]), int(symbolic.shape[1]))
    notes = [note for note in (underdetermined_map_note("the ridge map audio→symbolic (retrieval)", len(train), dims[0]),
                               underdetermined_map_note("the ridge map symbolic→audio (retrieval)", len(train), dims[1]),
                               underdetermined_map_note("the CCA (retrieval)", len(train), max(dims)))
             if note]
    return PairComparison(names[0], names[1], len(audio), rows, outcome, labels[test], train, dims=dims,
                          notes=[f"{names[0]} × {names[1]}: {note}" for note in notes])


def underdetermined_map_note(mapping: str, n: int, dim: int) -> str | None:
    """A note when a mapping is fitted on fewer tracks (``n``) than the dimensions (``dim``) it maps from;
    None otherwise."""
    if n >= dim:
        return None
    return (f"{mapping} is fitted on {n} tracks of {dim} dimensions — fewer tracks than dimensions: the map could "
            "fit any pairing of its training tracks, only its regularisation keeps it from memorising them; its "
            "held-out figures stand, but read them as a lower bound of what more tracks would show")


def pair_label_figures(pair: PairComparison, audio: np.ndarray, symbolic: np.ndarray, *, labels: np.ndarray,
                       groups: np.ndarray | None, given_split: np.ndarray | None, settings: CompareSettings) -> None:
    """Verdict (b) of a compared pair (:func:`~counterpoint.analysis.label_structure.pair_label_structure`) on
    the folds of the one probe protocol, and the tracks that move its debiased CKA most; set on ``pair``.

    Both spaces' probes use one plan, so their out-of-fold predictions are of the same tracks in the same
    folds (error agreement and confusion similarity compare them); label transfer uses those folds too,
    with the ridge strength the retrieval chose for each direction.
    """
    from counterpoint.probe_protocol import plan_protocol, probe_accuracy, restrict_plan

    ids = np.asarray(pair.ids).astype(str)
    with single_threaded_blas():
        plan = plan_protocol(labels, groups=groups, given_split=given_split, seed=settings.seed)
        predictions = tuple(probe_accuracy(X, labels, ids=ids, plan=plan, seed=settings.seed, n_perm=0,
                                           n_boot=0).predictions for X in (audio, symbolic))
        alphas = {run.direction: run.settings["alpha"] for run in pair.retrieval.runs if run.method == "ridge"}
        rows = stratified_subsample(labels, LABEL_STRUCTURE_MAX_N, seed=settings.seed)
        if len(rows) < len(labels):
            pair.notes.append(
                f"{pair.audio} × {pair.symbolic}: label structure (verdict (b)) on a subsample of {len(rows):,} of the "
                f"{len(labels):,} paired tracks, stratified by the label (seed {settings.seed}), in the probe "
                "protocol's folds restricted to them; the probes' predictions are those of every track's folds. Its "
                "permutation nulls refit label transfer on every fold, and its influence leaves out each track in turn")
        shown = restrict_plan(plan, rows)
        structure = pair_label_structure(audio[rows], symbolic[rows], labels[rows], ids=ids[rows], folds=shown.folds,
                                         repeat_of_fold=shown.repeat_of_fold, predictions=predictions,
                                         alphas=alphas, n_boot=settings.n_boot, n_perm=settings.n_perm,
                                         seed=settings.seed)
        sub = subsample_indices(len(audio), settings.max_n_pairwise, settings.seed)
        cka_value = debiased_cka(audio[sub], symbolic[sub])
        influence = leave_one_out(cka_value, debiased_cka_without_each(audio[sub], symbolic[sub]), ids[sub],
                                  measure="cka_debiased", direction="")
    smallest_train = min(len(train) for train, _ in shown.folds)
    for direction, dim in (("audio→symbolic", pair.dims[0]), ("symbolic→audio", pair.dims[1])):
        note = underdetermined_map_note(f"the ridge map {direction} of label transfer", smallest_train, dim)
        if note:
            pair.notes.append(f"{pair.audio} × {pair.symbolic}: {note} (the smallest training fold)")
    pair.notes += [f"{pair.audio} × {pair.symbolic}: label structure: {note}" for note in plan.notes]
    pair.label_structure = [{**row, "audio": pair.audio, "symbolic": pair.symbolic} for row in structure.rows]
    pair.influence = [{**row, "audio": pair.audio, "symbolic": pair.symbolic} for row in influence + structure.influence]


def run_compare(store_or_path: "Store | str | Path", settings: CompareSettings, *,
                matrices: Mapping[str, EmbeddingMatrix] | None = None) -> CompareResult:
    """Compare all audio × all symbolic encoders of a store on their paired tracks.

    ``settings.label`` (cut to ``settings.depth``) names the classes (label quality, centroid
    agreement, stratified splits); ``settings.group`` a column whose values never straddle a
    split (default: the store's ``group`` column when it has values). Tracks without a label
    are left out. ``matrices`` are pooled matrices already read, by spec. ``settings.n_perm`` is
    raised for every audio × symbolic pair (:func:`verdict_permutations`; ``result.settings`` holds
    the number used).

    Both tables get ``p_holm`` and ``p_bh``, each table one family (:data:`P_VALUE_FAMILIES`), and
    every figure is checked against its range (:mod:`counterpoint.ranges`) before it is returned.
    """
    paired = open_pairs(store_or_path, settings.label, settings.group)
    store, audio_specs, symbolic_specs = paired.store, paired.audio, paired.symbolic
    notes = [f"{spec}: no embedded tracks — left out" for spec in empty_encoders(store)]
    settings = verdict_permutations(settings, len(audio_specs) * len(symbolic_specs))

    spaces: dict[str, EmbeddingMatrix] = {}
    group = settings.group
    for spec in audio_specs + symbolic_specs:
        matrix = matrices[spec] if matrices and spec in matrices else store.pooled(spec)
        labelled = matrix.labelled(settings.label, settings.depth)
        group = group or matrix.group_column()
        if len(labelled) < len(matrix):
            notes.append(f"{spec}: {len(matrix) - len(labelled)} tracks without a {settings.label!r} label left out")
        if matrix.feature_names:
            # Named descriptors (tempo in BPM next to a spectral flatness) would let the
            # features with the largest units dominate every geometry: z-score them.
            labelled = replace(labelled, X=standardise_features(labelled.X))
            notes.append(f"{spec}: named descriptors, each z-scored before comparing")
        spaces[spec] = labelled

    def groups_of(rows: EmbeddingMatrix) -> np.ndarray | None:
        return None if group is None else rows.groups(group)

    knowledge = label_knowledge(store, settings.label, depth=settings.depth, group=group,
                                encoders=audio_specs + symbolic_specs, seed=settings.seed, n_boot=settings.n_boot,
                                matrices=matrices)
    notes += [f"label knowledge: {note}" for note in knowledge.notes if "without a" not in note]

    quality_rows = []
    for spec, space in spaces.items():
        if len(space) < MIN_LABELLED_TRACKS:
            notes.append(f"{spec}: no label quality — it needs {MIN_LABELLED_TRACKS} labelled tracks, this space has "
                         f"{len(space)}")
            continue
        labels = space.labels(settings.label, settings.depth)
        try:
            with single_threaded_blas():
                plan = plan_protocol(labels, groups=groups_of(space), given_split=space.given_split(), seed=settings.seed)
                figures = label_quality(space.X, labels, plan, ids=space.ids, k=settings.k, n_boot=settings.n_boot,
                                        seed=settings.seed, max_n_knn=KNN_VOTE_MAX_N)
            notes += [f"{spec}: label quality — {note}" for note in plan.notes]
            if len(space) > KNN_VOTE_MAX_N:
                notes.append(f"{spec}: label quality — the k-NN vote ran on a seeded subsample of {KNN_VOTE_MAX_N:,} of "
                             f"the {len(space):,} tracks, in the same folds (its distances grow with the square of "
                             "the count); the logistic probe on all of them")
        except CounterpointError as error:  # too few tracks, classes or groups in this one space
            notes.append(f"{spec}: no label quality ({len(space)} labelled tracks) — {error}")
            continue
        for measure, estimate in figures.items():
            quality_rows.append(_row(estimate, encoder=spec, modality=space.modality, measure=measure))

    neighbour_tables = []
    for spec, space in spaces.items():
        if len(space) > 1:
            queries = neighbour_queries(space.labels(settings.label, settings.depth), settings.seed)
            neighbour_tables.append(space_neighbours(space.X, space.ids, k=NEIGHBOURS_K, view=spec, queries=queries))
            if queries is not None:
                notes.append(f"{spec}: {queries_note(len(space), len(queries), settings.seed)}")
    too_few: dict[tuple[str, str], int] = {}

    def compare_pair(audio_spec: str, symbolic_spec: str) -> PairComparison:
        audio, symbolic = spaces[audio_spec].paired_with(spaces[symbolic_spec])
        if len(audio) < MIN_PAIRED_TRACKS:
            too_few[(audio_spec, symbolic_spec)] = len(audio)
            raise PairSkipped(f"only {len(audio)} paired tracks — skipped (need {MIN_PAIRED_TRACKS})")
        labels, groups, given_split = audio.labels(settings.label, settings.depth), groups_of(audio), audio.given_split()
        # A CounterpointError here (e.g. too few groups for a held-out part) skips the pair.
        pair = compare_spaces(audio.X, symbolic.X, labels, groups=groups, given_split=given_split, settings=settings,
                              shared_space=share_space(store.encoder(audio_spec).shared_space,
                                                              store.encoder(symbolic_spec).shared_space),
                              names=(audio_spec, symbolic_spec))
        pair.ids = audio.ids
        try:
            pair_label_figures(pair, audio.X, symbolic.X, labels=labels, groups=groups, given_split=given_split,
                               settings=settings)
        except CounterpointError as error:  # e.g. a fold with one class: the track-level figures still stand
            notes.append(f"{audio_spec} × {symbolic_spec}: no label-structure figures — {error}")
        notes.extend(pair.notes)
        neighbour_tables.extend(pair_neighbours(pair, audio.X, symbolic.X, k=NEIGHBOURS_K,
                                                queries=neighbour_queries(labels, settings.seed)))
        return pair

    compared = each_pair(audio_specs, symbolic_specs, compare_pair, notes=notes)
    pairs, skipped = list(compared.done.values()), compared.skipped
    alignment = family_table([row for pair in pairs for row in pair.rows], ALIGNMENT_COLUMNS)
    quality = family_table(quality_rows, LABEL_COLUMNS)
    structure = family_table([row for pair in pairs for row in pair.label_structure], ALIGNMENT_COLUMNS)
    influence = pd.DataFrame([row for pair in pairs for row in pair.influence]).reindex(columns=INFLUENCE_COLUMNS)
    check_table(alignment, keys=("audio", "symbolic"))
    check_table(structure, keys=("audio", "symbolic"))
    check_table(quality, keys=("encoder",))
    for pair in pairs:
        check_values("canonical_correlation", pair.retrieval.cca_correlations, f"{pair.audio} × {pair.symbolic}")
    notes += permutation_notes(alignment, settings.n_perm, label_structure=structure)
    notes += exact_centroid_notes(structure)
    neighbours = pd.concat(neighbour_tables, ignore_index=True) if neighbour_tables else None
    return CompareResult(alignment, quality, pairs, settings, group, store.path, notes, skipped, too_few,
                         **({} if neighbours is None else {"neighbours": neighbours}), label_structure=structure,
                         influence=influence, knowledge=knowledge.table)


def pair_neighbours(pair: PairComparison, audio: np.ndarray, symbolic: np.ndarray, *, k: int,
                    queries: np.ndarray | None = None) -> list[pd.DataFrame]:
    """Across the two spaces of a compared pair, both ways: through the ridge map retrieval chose
    (view ``"A → B (ridge)"``) and, for one shared space, directly (``"A → B (shared)"``); for the paired
    rows ``queries`` only when given."""
    tables = []
    for run in pair.retrieval.runs:
        if run.method not in ("ridge", "shared"):
            continue
        forward = run.direction.startswith("audio")
        source, target = (audio, symbolic) if forward else (symbolic, audio)
        names = (pair.audio, pair.symbolic) if forward else (pair.symbolic, pair.audio)
        tables.append(cross_space_neighbours(source, target, pair.ids, train=pair.train,
                                             alpha=run.settings.get("alpha"), k=k, queries=queries,
                                             view=f"{names[0]} → {names[1]} ({run.method})"))
    return tables


def exact_centroid_notes(structure: pd.DataFrame, alpha: float = ALPHA) -> list[str]:
    """A note for each pair whose centroid agreement cannot reach Holm-adjusted p < ``alpha``: with C ≤
    :data:`~counterpoint.analysis.label_structure.EXACT_CLASS_PERMUTATIONS` classes its exact test has C!
    relabellings, so its p is at least 1/C! (1/24 for 4 classes), times the family's size after Holm."""
    rows = structure[structure.measure == "centroid_agreement"] if len(structure) else structure
    m = family_size(structure) if len(structure) else 0
    notes = []
    for row in rows.itertuples():
        classes = int(row.n_resample) if pd.notna(row.n_resample) else 0
        if 3 <= classes <= EXACT_CLASS_PERMUTATIONS and m / math.factorial(classes) >= alpha:
            notes.append(f"{row.audio} × {row.symbolic}: centroid agreement of {classes} classes has only "
                         f"{math.factorial(classes)} relabellings, so its exact p is at least 1/{math.factorial(classes)}"
                         f" and its Holm-adjusted p over the {m} label-structure tests at least "
                         f"{min(1.0, m / math.factorial(classes)):.2g}: it cannot be above chance at {alpha}, whatever "
                         "the spaces — read its value and interval")
    return notes


def verdict_permutations(settings: CompareSettings, n_pairs: int) -> CompareSettings:
    """``settings`` with ``n_perm`` set by the one rule of every analysis,
    :func:`counterpoint.significance.family_permutations`, for the verdict's Holm family of ``n_pairs`` ×
    :func:`~counterpoint.ranges.verdict_rows_per_pair` tests (999 for 1 pair, 1,999 for 2, 9,999 for 10 and more)."""
    return replace(settings, n_perm=family_permutations(settings.n_perm, n_pairs * verdict_rows_per_pair(),
                                                        scale=not settings.fixed_n_perm))


def permutation_notes(alignment: pd.DataFrame, n_perm: int, *, label_structure: pd.DataFrame | None = None,
                      alpha: float = ALPHA) -> list[str]:
    """A note for each family (alignment table, verdict, label structure) too large for ``n_perm`` permutations:
    one whose smallest reachable Holm-adjusted p, ``m / (n_perm + 1)``, is not below ``alpha`` (at ``alpha``
    itself a figure passes only when no null draw of any test comes near it)."""
    notes = []
    verdict = _verdict_rows(alignment)
    tables = [("alignment", alignment), ("verdict", verdict)]
    if label_structure is not None:
        tables.append(("label-structure", label_structure))
    for name, table in tables:
        note = undecidable_family_note(f"{name} table", family_size(table), n_perm, alpha=alpha, fixed=True)
        if note:
            notes.append(note)
    return notes


def _verdict_rows(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return frame
    wanted = np.zeros(len(frame), dtype=bool)
    bases = frame.measure.map(base_name)
    methods = frame.method.fillna("")
    for key, method in verdict_figures():   # a key with "@k" is that k only, one without every k
        named = frame.measure == key if "@" in key else bases == key
        wanted |= (named & (methods == method)).to_numpy()
    return frame[wanted].reset_index(drop=True)


def verdict_table(result: CompareResult) -> pd.DataFrame:
    """The headline figures of every compared pair, one row per pair × figure, with Holm- and BH-adjusted p-values.

    Figures: debiased CKA, RSA (Spearman), mutual-kNN@k and ridge Recall@1 in both directions, each
    with its interval, chance level (or null mean) and p-value. The family both corrections run over
    is every row of this table (all pairs × these figures), not the alignment table's: ``p_holm`` ≤ α
    controls the chance of any false "agrees" among them at α, ``p_bh`` ≤ q the expected share of
    false ones among the figures called above chance.
    """
    table = with_adjusted_p_values(_verdict_rows(result.alignment).drop(columns=["p_holm", "p_bh"], errors="ignore"))
    return check_table(table, keys=("audio", "symbolic"))



def standardise_features(X: np.ndarray) -> np.ndarray:
    """Each column to mean 0 and standard deviation 1 (constant columns to 0), float32."""
    X = np.asarray(X, dtype=np.float64)
    std = X.std(0)
    return ((X - X.mean(0)) / np.where(std > 0, std, 1.0)).astype(np.float32)


def headline_table(result: CompareResult) -> pd.DataFrame:
    """One row per encoder pair with the main figures (for a terminal summary).

    Columns: ``audio``, ``symbolic``, ``n``, the alignment figures, and the audio→symbolic
    ridge Recall@1 and MRR with their chance levels.
    """
    frame = result.alignment
    rows = []
    for (audio, symbolic), part in frame.groupby(["audio", "symbolic"], sort=False):
        row = {"audio": audio, "symbolic": symbolic, "n": int(part.n.max())}
        for r in part[part.family == "alignment"].itertuples():
            row[r.measure] = r.value
        ridge = part[(part.method == "ridge") & part.direction.str.startswith("audio")]
        for measure in ("recall@1", "mrr"):
            match = ridge[ridge.measure == measure]
            if len(match):
                row[f"{measure} (ridge a→s)"] = match.value.iloc[0]
                row[f"{measure} chance"] = match.chance.iloc[0]
        rows.append(row)
    return pd.DataFrame(rows)


def compare_summary(result: CompareResult) -> str:
    """What ``counterpoint compare`` prints: the headline table, or a sentence on why no pair was compared."""
    if result.pairs:
        return headline_table(result).round(3).to_string(index=False)
    if result.too_few_paired and len(result.too_few_paired) == len(result.skipped_pairs):
        return (f"No audio × symbolic pair could be compared: none has {MIN_PAIRED_TRACKS} labelled tracks embedded "
                f"by both encoders (the most any pair shares is {max(result.too_few_paired.values())}).")
    return "No audio × symbolic pair could be compared; the notes below give each pair's reason."
