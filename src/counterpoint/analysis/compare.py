"""Compare every audio encoder with every symbolic encoder of a store, on the paired tracks.

:func:`compare_spaces` does the arithmetic for one pair of matrices; :func:`run_compare`
reads a store, runs every pair and every space's label quality, and writes
``alignment.csv``, ``label_quality.csv``, ``compare.json`` and the plots to a folder.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from counterpoint.analysis.alignment import align_spaces
from counterpoint.analysis.inputs import require_columns, require_embeddings, require_whole
from counterpoint.analysis.label_quality import MIN_TRACKS as MIN_LABELLED_TRACKS
from counterpoint.analysis.label_quality import evaluation_folds, label_quality
from counterpoint.analysis.retrieval import RetrievalOutcome, cross_modal_retrieval, retrieval_figures, share_space
from counterpoint.analysis.statistics import Estimate, serial_blas
from counterpoint.errors import CounterpointError, StoreError
from counterpoint.splits import assign_splits

if TYPE_CHECKING:
    from counterpoint.store import Store

#: Fewest labelled tracks embedded by both encoders of a pair for the pair to be compared.
MIN_PAIRED_TRACKS = 10
#: Values of a label or group cell that mean "not given".
MISSING = {"", "nan", "none", "null", "na", "n/a"}

ALIGNMENT_COLUMNS = ["audio", "symbolic", "family", "measure", "method", "direction", "value", "ci_low", "ci_high",
                     "p_value", "chance", "null_mean", "n", "n_resample"]
LABEL_COLUMNS = ["encoder", "modality", "measure", "value", "ci_low", "ci_high", "chance", "n", "n_resample"]


@dataclass
class Settings:
    """Everything that shapes the numbers of a comparison (written to ``compare.json``)."""

    label: str
    group: str | None = None
    k: int = 10
    n_boot: int = 200
    n_perm: int = 199
    max_n_pairwise: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        for name, lowest in (("k", 1), ("n_boot", 1), ("n_perm", 1), ("max_n_pairwise", 4), ("seed", 0)):
            require_whole(name, getattr(self, name), lowest)


@dataclass
class PairComparison:
    """One audio × symbolic pair: its figures as table rows, and what the plots need."""

    audio: str
    symbolic: str
    n_pairs: int
    rows: list[dict]
    retrieval: RetrievalOutcome
    test_labels: np.ndarray
    plots: dict[str, str] = field(default_factory=dict)


@dataclass
class CompareResult:
    """What :func:`run_compare` computed and wrote."""

    alignment: pd.DataFrame          # long table, one row per pair × figure (ALIGNMENT_COLUMNS)
    label_quality: pd.DataFrame      # one row per encoder × figure (LABEL_COLUMNS)
    pairs: list[PairComparison]
    settings: Settings
    out_dir: Path
    files: dict[str, Path]
    notes: list[str]
    skipped_pairs: dict[tuple[str, str], str] = field(default_factory=dict)   # (audio, symbolic) → why
    too_few_paired: dict[tuple[str, str], int] = field(default_factory=dict)  # of those, → tracks shared


def _row(estimate: Estimate, **keys: object) -> dict:
    return {**keys, **estimate.as_dict()}


def compare_spaces(audio: np.ndarray, symbolic: np.ndarray, labels: np.ndarray, groups: np.ndarray | None,
                   given_split: np.ndarray | None, settings: Settings, shared_space: bool = False,
                   names: tuple[str, str] = ("audio", "symbolic")) -> PairComparison:
    """Alignment and retrieval figures of one pair of paired matrices (rows = same tracks).

    BLAS runs single-threaded throughout (see :func:`serial_blas`): the work is many
    medium-sized products and decompositions, where threads cost more than they give.
    """
    with serial_blas():
        return _compare_spaces(audio, symbolic, labels, groups, given_split, settings, shared_space, names)


def _compare_spaces(audio: np.ndarray, symbolic: np.ndarray, labels: np.ndarray, groups: np.ndarray | None,
                    given_split: np.ndarray | None, settings: Settings, shared_space: bool,
                    names: tuple[str, str]) -> PairComparison:
    rows = []
    figures = align_spaces(audio, symbolic, labels=labels, k=min(settings.k, len(audio) - 1), n_boot=settings.n_boot,
                           n_perm=settings.n_perm, max_n_pairwise=settings.max_n_pairwise, seed=settings.seed)
    for measure, estimate in figures.items():
        rows.append(_row(estimate, family="alignment", measure=measure, method="", direction=""))
    split = assign_splits(labels, groups, given=given_split, seed=settings.seed)
    train, test = np.flatnonzero(split != "test"), np.flatnonzero(split == "test")
    outcome = cross_modal_retrieval(audio, symbolic, train, test, labels=labels, groups=groups,
                                    shared_space=shared_space, seed=settings.seed)
    for run in outcome.runs:
        for measure, estimate in retrieval_figures(run.ranks, n_boot=settings.n_boot, n_perm=settings.n_perm,
                                                   seed=settings.seed).items():
            rows.append(_row(estimate, family="retrieval", measure=measure, method=run.method, direction=run.direction))
    for row in rows:
        row["audio"], row["symbolic"] = names
    return PairComparison(names[0], names[1], len(audio), rows, outcome, labels[test])


def _given(values: np.ndarray) -> np.ndarray:
    return np.array([str(v).strip().lower() not in MISSING for v in values], dtype=bool)


def run_compare(store_path: str | Path, label: str, out_dir: str | Path, group: str | None = None, k: int = 10,
                n_boot: int = 200, seed: int = 0, n_perm: int = 199, max_n_pairwise: int = 1000) -> CompareResult:
    """Compare all audio × all symbolic encoders of a store on their paired tracks.

    ``label`` names the class column (label quality, centroid agreement, stratified
    splits); ``group`` a column whose values must never straddle a split (default: the
    store's ``group`` column when it has values). Tracks without a label are left out.
    Writes ``alignment.csv``, ``label_quality.csv``, ``compare.json`` and PNG plots to
    ``out_dir``.
    """
    from counterpoint.report.compare_figures import plot_cca_joint, plot_rank_histograms
    from counterpoint.store import Store

    settings = Settings(label=label, group=group, k=k, n_boot=n_boot, n_perm=n_perm,
                        max_n_pairwise=max_n_pairwise, seed=seed)
    store = Store(store_path)
    require_embeddings(store)
    require_columns(store, label, group)
    notes = [f"{spec}: no embedded tracks — left out" for spec in empty_encoders(store)]
    audio_specs, symbolic_specs = comparable_encoders(store)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    spaces = {}
    for spec in audio_specs + symbolic_specs:
        matrix = store.pooled(spec)
        obs = matrix.obs
        labels = obs[label].astype(str).to_numpy()
        if group is None and "group" in obs.columns and _given(obs["group"].astype(str).to_numpy()).any():
            settings.group = "group"
        keep = _given(labels)
        if not keep.all():
            notes.append(f"{spec}: {int((~keep).sum())} tracks without a {label!r} label left out")
        X = matrix.X[keep]
        if matrix.feature_names:
            # Named descriptors (tempo in BPM next to a spectral flatness) would let the
            # features with the largest units dominate every geometry: z-score them.
            X = standardise_features(X)
            notes.append(f"{spec}: named descriptors, each z-scored before comparing")
        spaces[spec] = (matrix.modality, X, obs[keep].reset_index(drop=True))

    def groups_of(obs: pd.DataFrame) -> np.ndarray | None:
        if settings.group is None:
            return None
        values = obs[settings.group].astype(str).to_numpy()
        return np.where(_given(values), values, None)

    def split_of(obs: pd.DataFrame) -> np.ndarray | None:
        return obs["split"].astype(str).to_numpy() if "split" in obs.columns else None

    quality_rows = []
    for spec, (modality, X, obs) in spaces.items():
        labels = obs[label].astype(str).to_numpy()
        if len(X) < MIN_LABELLED_TRACKS:
            notes.append(f"{spec}: no label quality — it needs {MIN_LABELLED_TRACKS} labelled tracks, this space has "
                         f"{len(X)}")
            continue
        try:
            with serial_blas():
                figures = label_quality(X, labels, evaluation_folds(labels, groups_of(obs), split_of(obs), seed=seed),
                                        k=k, n_boot=n_boot, seed=seed)
        except CounterpointError as error:  # too few tracks, classes or groups in this one space
            notes.append(f"{spec}: no label quality ({len(X)} labelled tracks) — {error}")
            continue
        for measure, estimate in figures.items():
            quality_rows.append(_row(estimate, encoder=spec, modality=modality, measure=measure))

    pairs = []
    skipped: dict[tuple[str, str], str] = {}
    too_few: dict[tuple[str, str], int] = {}

    def skip(pair: tuple[str, str], reason: str) -> None:
        skipped[pair] = reason
        notes.append(f"{pair[0]} × {pair[1]}: {reason}")

    for audio_spec in audio_specs:
        for symbolic_spec in symbolic_specs:
            _, Xa, obs_a = spaces[audio_spec]
            _, Xs, obs_s = spaces[symbolic_spec]
            position = pd.Series(np.arange(len(obs_s)), index=obs_s["id"].to_numpy())
            in_both = obs_a["id"].isin(position.index).to_numpy()
            if in_both.sum() < MIN_PAIRED_TRACKS:
                too_few[(audio_spec, symbolic_spec)] = int(in_both.sum())
                skip((audio_spec, symbolic_spec), f"only {int(in_both.sum())} paired tracks — skipped "
                                                  f"(need {MIN_PAIRED_TRACKS})")
                continue
            rows_a = np.flatnonzero(in_both)
            rows_s = position.loc[obs_a["id"].to_numpy()[rows_a]].to_numpy()
            obs = obs_a.iloc[rows_a].reset_index(drop=True)
            try:
                pair = compare_spaces(Xa[rows_a], Xs[rows_s], obs[label].astype(str).to_numpy(), groups_of(obs),
                                      split_of(obs), settings, share_space(audio_spec, symbolic_spec),
                                      names=(audio_spec, symbolic_spec))
            except CounterpointError as error:  # e.g. too few groups for a held-out part
                skip((audio_spec, symbolic_spec), f"skipped — {error}")
                continue
            slug = _slug(f"{audio_spec}__{symbolic_spec}")
            pair.plots["ranks"] = plot_rank_histograms(pair.retrieval.runs, out / f"ranks_{slug}.png",
                                                       title=f"{audio_spec} × {symbolic_spec}").name
            pair.plots["cca"] = plot_cca_joint(pair.retrieval.cca_test_x, pair.retrieval.cca_test_y, pair.test_labels,
                                               out / f"cca_{slug}.png", names=(audio_spec, symbolic_spec)).name
            pairs.append(pair)

    alignment = pd.DataFrame([row for pair in pairs for row in pair.rows]).reindex(columns=ALIGNMENT_COLUMNS)
    quality = pd.DataFrame(quality_rows).reindex(columns=LABEL_COLUMNS)
    files = {"alignment": out / "alignment.csv", "label_quality": out / "label_quality.csv",
             "json": out / "compare.json"}
    alignment.to_csv(files["alignment"], index=False)
    quality.to_csv(files["label_quality"], index=False)
    result = CompareResult(alignment, quality, pairs, settings, out, files, notes, skipped, too_few)
    files["json"].write_text(json.dumps(result_to_json(result, store.path), indent=2, allow_nan=False))
    return result


def empty_encoders(store: "Store") -> list[str]:
    """Specs of the encoders that hold no track (e.g. an audio encoder on MIDI-only rows)."""
    return [r.spec for r in store.encoders if r.n_tracks == 0]


def comparable_encoders(store: "Store") -> tuple[list[str], list[str]]:
    """The audio and the symbolic encoder specs holding tracks; a :class:`StoreError` when one kind has none."""
    audio = [r.spec for r in store.encoders if r.modality == "audio" and r.n_tracks]
    symbolic = [r.spec for r in store.encoders if r.modality == "symbolic" and r.n_tracks]
    if not audio or not symbolic:
        empty = empty_encoders(store)
        held = f" ({', '.join(empty)}: no tracks)" if empty else ""
        raise StoreError(f"{store.path}: comparing needs an audio and a symbolic encoder with embedded tracks (audio: "
                         f"{', '.join(audio) or 'none'}; symbolic: {', '.join(symbolic) or 'none'}){held} — "
                         "embed paired audio and MIDI with both kinds, e.g. "
                         "`counterpoint embed ROOT --encoders audio-stats,symbolic-stats`; "
                         "`counterpoint store info FILE --failures` says why tracks failed")
    return audio, symbolic


def standardise_features(X: np.ndarray) -> np.ndarray:
    """Each column to mean 0 and standard deviation 1 (constant columns to 0), float32."""
    X = np.asarray(X, dtype=np.float64)
    std = X.std(0)
    return ((X - X.mean(0)) / np.where(std > 0, std, 1.0)).astype(np.float32)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "-", text).strip("-")[:120]


def _finite(value: object) -> object:
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def result_to_json(result: CompareResult, store_path: Path) -> dict:
    """Everything of a comparison as JSON-ready data (NaN written as null)."""
    def records(frame: pd.DataFrame) -> list[dict]:
        return [{key: _finite(value) for key, value in row.items()} for row in frame.to_dict(orient="records")]

    return {
        "store": str(store_path),
        "settings": vars(result.settings),
        "notes": result.notes,
        "pairs": [{
            "audio": pair.audio, "symbolic": pair.symbolic, "n_pairs": pair.n_pairs,
            "n_test": int(len(pair.test_labels)), "plots": pair.plots,
            "retrieval_settings": [{"method": run.method, "direction": run.direction, **run.settings}
                                   for run in pair.retrieval.runs],
            "cca_correlations": [float(c) for c in pair.retrieval.cca_correlations],
            "test_ranks": {f"{run.method} {run.direction}": [float(r) for r in run.ranks]
                           for run in pair.retrieval.runs},
        } for pair in result.pairs],
        "alignment": records(result.alignment),
        "label_quality": records(result.label_quality),
    }


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
