"""The options of every stage as dataclasses, each default written once.

The command line reads its defaults from these classes (:func:`default`), and each class
checks its own values when it is made, so a number out of range is refused before any work,
with a message naming the option as a user types it. Imported by the CLI at start-up: it
imports nothing heavy (no torch, no scikit-learn).
"""

from __future__ import annotations

import math
from numbers import Integral
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any

from counterpoint.encoders.registry import DEFAULT_ENCODERS

#: What `counterpoint demo` embeds: the offline defaults, musicnn with every layer (for the report's layer maps).
DEMO_ENCODERS = "symbolic-stats,audio-stats,musicnn:layers=all"
from counterpoint.errors import CounterpointError

#: The 2-D views of each space, in the order the report shows them.
REDUCTIONS = ("pca", "tsne", "umap")
#: The formats every static figure of a report is written in (``--figure-format``).
FIGURE_FORMATS = ("png", "svg", "pdf")
#: Repeats of a trained probe's 5-fold cross-validation (each its own fold shuffle and training seed
#: 0..N-1), in a report and in ``probe``: every fold is a full training run, so one by default.
PROBE_SEEDS = 1
#: Bootstrap resamples per 95 % interval.
N_BOOT = 200


def figure_formats(text: str) -> tuple[str, ...]:
    """``"png,svg"`` as a tuple of figure formats; a :class:`CounterpointError` names an unknown one."""
    formats = tuple(dict.fromkeys(f.strip().lower().lstrip(".") for f in text.split(",") if f.strip()))
    unknown = [f for f in formats if f not in FIGURE_FORMATS]
    if unknown or not formats:
        raise CounterpointError(f"--figure-format {text!r}: give one or more of {', '.join(FIGURE_FORMATS)}, "
                                "separated by commas, e.g. png,svg")
    return formats


#: The seeds every random choice accepts (numpy's generators take 0 … 2³²−1); every seed option has this range.
SEED_LOW, SEED_HIGH = 0, 2**32 - 1


def require_whole(name: str, value: object, lowest: int, highest: int | None = None) -> None:
    """Raise a :class:`CounterpointError` unless ``value`` is a whole number ≥ ``lowest`` (and ≤ ``highest``).

    ``name`` is the option as a user types it (``n_boot`` is shown as ``n-boot``).
    """
    if (isinstance(value, bool) or not isinstance(value, Integral) or value < lowest
            or (highest is not None and value > highest)):
        within = f"from {lowest} to {highest}" if highest is not None else f"≥ {lowest}"
        raise CounterpointError(f"{name.replace('_', '-')} = {value!r}: give a whole number {within}")


def require_seed(value: object, name: str = "seed") -> None:
    """Raise a :class:`CounterpointError` unless ``value`` is a seed, a whole number in ``SEED_LOW`` … ``SEED_HIGH``."""
    require_whole(name, value, SEED_LOW, SEED_HIGH)


def default(cls: type, name: str) -> Any:
    """The default of field ``name`` of the dataclass ``cls`` (what a command-line option shows)."""
    for item in fields(cls):
        if item.name == name:
            if item.default is not MISSING:
                return item.default
            if item.default_factory is not MISSING:
                return item.default_factory()
    raise KeyError(f"{cls.__name__} has no field {name!r} with a default")


@dataclass(frozen=True)
class CompareSettings:
    """Everything that shapes the numbers of an audio × symbolic comparison (written to ``compare.json``).

    ``depth`` cuts hierarchical labels (``rock/indie`` → ``rock`` at 1; None or 0: whole);
    ``group`` names the column whose values never straddle a split (None: the store's
    ``group`` column when it has values). ``n_perm`` is the fewest permutations per p-value:
    with ``scale_n_perm`` (the default) the comparison raises it to what the verdict's Holm family
    needs (:func:`counterpoint.significance.family_permutations`); without, it is used as given.
    """

    label: str
    depth: int | None = None
    group: str | None = None
    k: int = 10
    n_boot: int = N_BOOT
    n_perm: int = 199
    max_n_pairwise: int = 1000
    seed: int = 0
    scale_n_perm: bool = True

    def __post_init__(self) -> None:
        for name, lowest in (("k", 1), ("n_boot", 1), ("n_perm", 1), ("max_n_pairwise", 4)):
            require_whole(name, getattr(self, name), lowest)
        require_seed(self.seed)
        if self.depth is not None:
            require_whole("depth", self.depth, 0)


#: ``--alignment`` choices of the time-aligned comparison (see :mod:`counterpoint.data.time_pairing`).
ALIGNMENTS = ("auto", "identity", "dtw")


@dataclass(frozen=True)
class AlignedSettings:
    """What shapes the numbers of the time-aligned comparison (``compare --aligned``, written to ``aligned.json``).

    ``alignment`` pairs audio with score time (``auto``: identity for rendered rows, DTW otherwise);
    frames are averaged over ``segment_seconds``-long segments of score time; pairwise resampling
    (CKA intervals and nulls) runs on at most ``max_segments`` segments of whole tracks. ``label``,
    ``depth`` and ``group`` are those of :class:`CompareSettings`. ``n_perm`` is the fewest permutations
    per p-value: with ``scale_n_perm`` each table gets what its Holm family needs
    (:func:`counterpoint.significance.family_permutations`); without, it is used as given.
    """

    label: str
    depth: int | None = None
    group: str | None = None
    alignment: str = "auto"
    segment_seconds: float = 3.0
    n_boot: int = N_BOOT
    n_perm: int = 199
    max_segments: int = 1000
    seed: int = 0
    scale_n_perm: bool = True

    def __post_init__(self) -> None:
        for name, lowest in (("n_boot", 1), ("n_perm", 1), ("max_segments", 8)):
            require_whole(name, getattr(self, name), lowest)
        require_seed(self.seed)
        if self.depth is not None:
            require_whole("depth", self.depth, 0)
        if self.alignment not in ALIGNMENTS:
            raise CounterpointError(f"alignment = {self.alignment!r}: choose one of {', '.join(ALIGNMENTS)}")
        if not (math.isfinite(self.segment_seconds) and self.segment_seconds > 0):
            raise CounterpointError(f"segment-seconds = {self.segment_seconds!r}: give a number of seconds > 0, e.g. 3")


@dataclass(frozen=True)
class TrainSettings:
    """How a probe is built and trained: ``hidden`` sizes and ``dropout`` of the built-in models;
    at most ``epochs`` passes with Adam (``lr``, ``weight_decay``) over batches of ``batch_size``
    tracks, stopping after ``patience`` epochs without a better validation macro-F1."""

    epochs: int = 100
    patience: int = 10
    lr: float = 1e-3
    batch_size: int = 32
    seed: int = 0
    device: str = "cpu"
    weight_decay: float = 0.0
    hidden: tuple[int, ...] = (256,)
    dropout: float = 0.2

    def __post_init__(self) -> None:
        whole = all(isinstance(getattr(self, name), int) and not isinstance(getattr(self, name), bool)
                    for name in ("epochs", "patience", "batch_size", "seed"))
        if (not whole or min(self.epochs, self.patience, self.batch_size) < 1 or not SEED_LOW <= self.seed <= SEED_HIGH
                or not (math.isfinite(self.lr) and self.lr > 0)
                or not (math.isfinite(self.weight_decay) and self.weight_decay >= 0)):
            raise CounterpointError(f"training settings {self}: epochs, patience and batch_size must be whole numbers "
                                    f"≥ 1, seed from {SEED_LOW} to {SEED_HIGH}, lr a finite number > 0 and "
                                    "weight_decay ≥ 0")
        if not 0 <= self.dropout < 1:
            raise CounterpointError(f"dropout = {self.dropout!r}: give a probability in [0, 1)")
        object.__setattr__(self, "hidden", tuple(self.hidden))
        for size in self.hidden:
            require_whole("hidden", size, 1)


@dataclass(frozen=True)
class AnalysisOptions:
    """What one report is computed from: the label column cut to ``depth`` levels (None or 0:
    whole), the ``group`` column (None: the dataset's), the seed, the 2-D views, whether to
    compare the modalities, and the probe models with the repeats of their cross-validation (no models: no
    probes)."""

    label: str
    depth: int | None = None
    group: str | None = None
    seed: int = 0
    reductions: tuple[str, ...] = REDUCTIONS
    compare: bool = True
    probe_models: tuple[str, ...] = ()
    probe_seeds: int = PROBE_SEEDS
    figure_formats: tuple[str, ...] = FIGURE_FORMATS
    aligned: bool = False  # also the time-aligned comparison (auto pairing) as a section of the report

    def __post_init__(self) -> None:
        object.__setattr__(self, "figure_formats", figure_formats(",".join(self.figure_formats)))
        require_seed(self.seed)
        require_whole("probe seeds", self.probe_seeds, 1)
        if self.depth is not None:
            require_whole("depth", self.depth, 0)
        unknown = [method for method in self.reductions if method not in REDUCTIONS]
        if unknown:
            raise CounterpointError(f"unknown reduction {unknown[0]!r}; choose from {', '.join(REDUCTIONS)}")
        object.__setattr__(self, "reductions", tuple(self.reductions))
        object.__setattr__(self, "probe_models", tuple(self.probe_models))


@dataclass
class RunOptions:
    """Everything `counterpoint run` takes; the field names are the flags (``--batch-size``).

    ``batch_size`` is tracks per runner batch (0: each encoder's default); ``depth`` 0 and
    ``group`` "" mean the whole label and the dataset's group column; ``csv``, ``id_column``
    and ``id_from`` "" mean ``info.csv`` with its ``id`` column.
    """

    dataset: str = ""
    out: str = "counterpoint-output"
    encoders: str = ",".join(DEFAULT_ENCODERS)
    label: str = "class"
    depth: int = 0
    group: str = ""
    batch_size: int = 0
    seed: int = 0
    compare: bool = True
    probe_models: str = "linear,mlp"
    probe_seeds: int = PROBE_SEEDS
    strict_paths: bool = False
    csv: str = ""
    id_column: str = ""
    id_from: str = ""
    engine: str = "local"  # where encoders run: local, or ray (Ray Data)
    ray_address: str = ""  # a running Ray cluster (auto, ray://host:10001); empty: start one here
    figure_format: str = ",".join(FIGURE_FORMATS)
    aligned: bool = False  # also compare on time-paired segments (see AlignedSettings)

    def check(self) -> None:
        """Raise a :class:`CounterpointError` for a whole-number option out of range or an unknown engine."""
        from counterpoint.engines import check_engine

        for name, lowest in (("depth", 0), ("batch_size", 0), ("probe_seeds", 1)):
            require_whole(name, getattr(self, name), lowest)
        require_seed(self.seed)
        check_engine(self.engine, self.ray_address or None)

    def analysis(self) -> AnalysisOptions:
        """The options of the report part of the run."""
        models = tuple(m.strip() for m in self.probe_models.split(",") if m.strip())
        return AnalysisOptions(self.label, depth=self.depth or None, group=self.group or None, seed=self.seed,
                               compare=self.compare, probe_models=models, probe_seeds=self.probe_seeds,
                               figure_formats=figure_formats(self.figure_format), aligned=self.aligned)

    @property
    def store_path(self) -> Path:
        return Path(self.out) / "embeddings.h5"

    @property
    def report_dir(self) -> Path:
        return Path(self.out) / "report"



@dataclass(frozen=True)
class FactorSettings:
    """What shapes the numbers of ``counterpoint factors`` (written to ``factors.json``): the column
    naming the piece behind each row (``piece``, written by ``dataset render``/``transcribe``), the
    column naming its rendering (``audio_source``), an optional ``label`` whose share of the piece
    variance is split out (e.g. ``style``), the neighbours of mutual kNN, resamples, permutations
    and the seed. ``n_perm`` is the fewest permutations per p-value: with ``scale_n_perm`` each table
    gets what its Holm family needs (:func:`counterpoint.significance.family_permutations`)."""

    piece: str = "piece"
    rendering: str = "audio_source"
    label: str | None = None
    k: int = 5  # a designed corpus holds tens of pieces, not hundreds
    n_boot: int = N_BOOT
    n_perm: int = 199
    seed: int = 0
    scale_n_perm: bool = True

    def __post_init__(self) -> None:
        for name, lowest in (("k", 1), ("n_boot", 1), ("n_perm", 1)):
            require_whole(name, getattr(self, name), lowest)
        require_seed(self.seed)
