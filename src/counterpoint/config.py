"""The settings of every stage as frozen, keyword-only dataclasses, each field declared once.

Each field is declared by a :class:`~counterpoint.parameters.Parameter` (default, help, type,
range, choices; :func:`~counterpoint.parameters.declared`), and the rest is generated from that
declaration: the check every settings object runs when it is made (:func:`check_declared`), the
command line's options (``counterpoint.cli.options``), the keys of a params or TOML file
(:func:`read_params_file`) and the ranges the help shows. A value out of range is refused with
the same message wherever it comes from. None means "unset" (the dataset's group column, the
whole label, each encoder's batch size). Shared parts are declared once and reused:
:class:`LabelSelection` (label, depth, group) and :class:`Resampling` (n_boot, n_perm, seed,
fixed_n_perm). Imported by the CLI at start-up: it imports nothing heavy (no torch, no
scikit-learn) and none of the layers it configures (encoders, engines).
"""

from __future__ import annotations

import codecs
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from counterpoint.defaults import DEFAULT_ENCODERS, ENGINES
from counterpoint.errors import CounterpointError
from counterpoint.parameters import REQUIRED, Parameter, check_declared, declarations, declared

#: The 2-D views of each space, in the order the report shows them.
REDUCTIONS = ("pca", "tsne", "umap")
#: The formats a static figure of a report can be written in (``--figure-format``).
FIGURE_FORMATS = ("png", "svg", "pdf")
#: The formats a report writes when none are asked for: PNG only (SVG and PDF on request), so the folder stays light.
DEFAULT_FIGURE_FORMATS = ("png",)
#: Which trained probes a report keeps as weight files (``--probe-weights``): ``first`` the saved run of each
#: encoder × model (trained with the first seed), ``all`` also every cross-validation fold's probe (each repeat's
#: seed), ``none`` no weight files.
PROBE_WEIGHTS = ("first", "all", "none")
#: ``--alignment`` choices of the time-aligned comparison (see :mod:`counterpoint.data.time_pairing`).
ALIGNMENTS = ("auto", "identity", "dtw")
#: The seeds every random choice accepts (numpy's generators take 0 … 2³²−1); every seed option has this range.
SEED_LOW, SEED_HIGH = 0, 2**32 - 1
#: Bootstrap resamples per 95 % interval.
N_BOOT = 200
#: Repeats of a trained probe's 5-fold cross-validation (each its own fold shuffle and training seed
#: 0..N-1), in a report and in ``probe``: every fold is a full training run, so one by default.
PROBE_SEEDS = 1
#: Most tracks a trained probe learns from (``--max-tracks``): every fold of its cross-validation is a full training
#: run whose epochs grow with the tracks, so above it a label-stratified subsample is probed (said in its notes).
TRAINED_PROBE_MAX_TRACKS = 10_000
#: Most tracks a report's scatter plots draw: above it, the page draws a subsample of this size stratified by the
#: label (with WebGL) and the static scatter figures are rasterised, so the page stays small (``--scatter-limit``).
SCATTER_LIMIT = 5000


def figure_formats(text: str) -> tuple[str, ...]:
    """``"png,svg"`` as a tuple of figure formats; a :class:`CounterpointError` names an unknown one."""
    formats = tuple(dict.fromkeys(f.strip().lower().lstrip(".") for f in text.split(",") if f.strip()))
    unknown = [f for f in formats if f not in FIGURE_FORMATS]
    if unknown or not formats:
        raise CounterpointError(f"--figure-format {text!r}: give one or more of {', '.join(FIGURE_FORMATS)}, "
                                "separated by commas, e.g. png,svg")
    return formats


def probe_model_names(text: str) -> tuple[str, ...]:
    """``"linear, mlp"`` → ``("linear", "mlp")``: the probe models of a report (empty text: none)."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


def check_probe_weights(choice: str, probe_models: tuple[str, ...]) -> None:
    """``--probe-weights`` other than its default says which probes' files to keep: without probe models there
    are none, so the combination is an error rather than a flag silently dropped."""
    if choice != PROBE_WEIGHTS_SETTING.default and not probe_models:
        raise CounterpointError(f"--probe-weights {choice} needs probe models (--probe-models linear,mlp): without "
                                "them no probe is trained")


# ---- the declarations every settings class shares ---------------------------------------------------

SEED_SETTING = Parameter(0, "Seed of every random choice.", low=SEED_LOW, high=SEED_HIGH)
LABEL_SETTING = Parameter(REQUIRED, "Metadata column to colour, score and stratify by.", kind=str)
DEPTH_SETTING = Parameter(None, "Cut hierarchical labels like rock/indie to this depth (0 or unset: the whole label).",
                  low=0, kind=int)
GROUP_SETTING = Parameter(None, "Column whose values never straddle splits or folds (default: the dataset's group column).",
                  kind=str)
N_BOOT_SETTING = Parameter(N_BOOT, "Resamples per 95% interval.", low=1)
N_PERM_SETTING = Parameter(199, "Fewest permutations per p-value: raised to what each table's Holm family needs "
                        "(10·m/0.05 − 1 for m tests, at most 9,999) unless --fixed-n-perm.", low=1)
FIXED_N_PERM_SETTING = Parameter(False, "Use --n-perm as given, even when too few for a table's Holm family (a note says so).")
PROBE_SEEDS_SETTING = Parameter(PROBE_SEEDS, "Repeats of each probe's 5-fold cross-validation (each its own fold shuffle and "
                           "training seed): every fold is a full training run, so one by default.", low=1)
FIGURE_FORMAT_SETTING = Parameter(",".join(DEFAULT_FIGURE_FORMATS), "Formats of every static figure, comma-separated: "
                                  "png, svg, pdf (e.g. png,svg,pdf for every format).")
PROBE_WEIGHTS_SETTING = Parameter("first", "Probe weight files a report keeps: first (the saved run of each encoder "
                                  "× model, first seed), all (also every cross-validation fold's probe, each "
                                  "repeat's seed), none. Needs probe models.", choices=PROBE_WEIGHTS)
ALIGNED_SETTING = Parameter(False, "Also compare on time-paired segments: segment retrieval within and across pieces, "
                           "agreement over time, CKA of aligned segments vs time-shifted ones (into OUT/aligned/).")
COMPARE_SETTING = Parameter(True, "Compare audio with symbolic spaces (when the store has both).")


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Base of every settings class: made with keywords only, frozen, each declared field checked on creation."""

    def __post_init__(self) -> None:
        check_declared(self)


@dataclass(frozen=True, kw_only=True)
class LabelSelection(Settings):
    """Which label is read: the ``label`` column cut to ``depth`` levels (``rock/indie`` → ``rock`` at 1;
    None or 0: whole), and the ``group`` column whose values never straddle a split (None: the store's
    ``group`` column when it has values)."""

    label: str = declared(LABEL_SETTING)
    depth: int | None = declared(DEPTH_SETTING)
    group: str | None = declared(GROUP_SETTING)


@dataclass(frozen=True, kw_only=True)
class Resampling(Settings):
    """Bootstrap intervals (``n_boot`` resamples) and permutation p-values: ``n_perm`` is the fewest
    permutations per p-value, raised to what a table's Holm family needs
    (:func:`counterpoint.significance.family_permutations`) unless ``fixed_n_perm``; ``seed`` seeds both."""

    n_boot: int = declared(N_BOOT_SETTING)
    n_perm: int = declared(N_PERM_SETTING)
    seed: int = declared(SEED_SETTING)
    fixed_n_perm: bool = declared(FIXED_N_PERM_SETTING)


@dataclass(frozen=True, kw_only=True)
class CompareSettings(LabelSelection, Resampling):
    """Everything that shapes the numbers of an audio × symbolic comparison (written to ``compare.json``):
    the label selection, resampling (without ``fixed_n_perm`` the comparison raises ``n_perm`` to what the
    verdict's Holm family needs, :func:`counterpoint.analysis.compare.verdict_permutations`), the neighbours
    ``k`` of mutual kNN and the kNN classifier, and the most rows of pairwise resampling."""

    k: int = declared(Parameter(10, "Neighbours for mutual kNN and the kNN classifier.", low=1))
    max_n_pairwise: int = declared(Parameter(1000, "Most rows that pairwise resampling (CKA, RSA) runs on.", low=4))
    untrained_control: bool = declared(Parameter(
        False, "Also compare each trained encoder's untrained twin (the same spec embedded with init=random): the "
               "headline figures with the twin in its place and trained minus untrained, with paired intervals "
               "(OUT/untrained_control.csv)."))


@dataclass(frozen=True, kw_only=True)
class AlignedSettings(LabelSelection, Resampling):
    """What shapes the numbers of the time-aligned comparison (``compare --aligned``, written to ``aligned.json``).

    ``alignment`` pairs audio with score time (``auto``: identity for rendered rows, DTW otherwise);
    frames are averaged over ``segment_seconds``-long segments of score time; pairwise resampling
    (CKA intervals and nulls) runs on at most ``max_segments`` segments of whole tracks.
    """

    alignment: str = declared(Parameter(
        "auto", "With --aligned: how audio time is paired with score time: identity (renderings), dtw (DTW on "
                "chroma; paths kept beside the store), or auto (identity for rows whose audio_source is rendered:…).",
        choices=ALIGNMENTS))
    segment_seconds: float = declared(Parameter(3.0, "With --aligned: length of the segments of score time (s).",
                                                low=0.0, closed="right"))
    max_segments: int = declared(Parameter(1000, "Most segments that pairwise resampling runs on.", low=8))


@dataclass(frozen=True, kw_only=True)
class TrainSettings(Settings):
    """How a probe is built and trained: ``hidden`` sizes and ``dropout`` of the built-in models;
    at most ``epochs`` passes with Adam (``lr``, ``weight_decay``) over batches of ``training_batch``
    tracks, stopping after ``patience`` epochs without a better validation macro-F1; on at most
    ``max_tracks`` tracks (a label-stratified subsample above it; 0: all)."""

    epochs: int = declared(Parameter(100, "Maximum epochs.", low=1))
    patience: int = declared(Parameter(10, "Stop after this many epochs without a better validation macro-F1.", low=1))
    lr: float = declared(Parameter(1e-3, "Adam learning rate.", low=0.0, closed="right"))
    training_batch: int = declared(Parameter(32, "Tracks per training batch.", low=1))
    seed: int = declared(SEED_SETTING)
    device: str = declared(Parameter("cpu", "cpu or cuda."))
    weight_decay: float = declared(Parameter(0.0, "Adam weight decay.", low=0.0))
    hidden: tuple[int, ...] = declared(Parameter(
        (256,), "Hidden sizes, comma-separated (mlp: every size; lstm/attention: the first)."))
    dropout: float = declared(Parameter(0.2, "Dropout probability.", low=0.0, high=1.0, closed="left"))
    max_tracks: int = declared(Parameter(
        TRAINED_PROBE_MAX_TRACKS, "Most tracks a probe is trained and cross-validated on: above it, a subsample of "
                                  "this size stratified by the label (seeded); 0: every track.", low=0))

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(self.hidden))
        super().__post_init__()
        for size in self.hidden:
            message = Parameter(1, "", low=1).problem("--hidden", size)
            if message is not None:
                raise CounterpointError(message)


@dataclass(frozen=True, kw_only=True)
class AnalysisSettings(LabelSelection):
    """What one report is computed from: the label selection, the seed, the 2-D views, whether to
    compare the modalities (and on time-paired segments), and the probe models with the repeats of
    their cross-validation (no models: no probes)."""

    seed: int = declared(SEED_SETTING)
    reductions: tuple[str, ...] = declared(Parameter(REDUCTIONS, "2-D views of each space."))
    compare: bool = declared(COMPARE_SETTING)
    probe_models: tuple[str, ...] = declared(Parameter((), "Probe models for a probe table in the report."))
    probe_seeds: int = declared(PROBE_SEEDS_SETTING)
    probe_weights: str = declared(PROBE_WEIGHTS_SETTING)
    figure_formats: tuple[str, ...] = declared(Parameter(DEFAULT_FIGURE_FORMATS, FIGURE_FORMAT_SETTING.help))
    aligned: bool = declared(ALIGNED_SETTING)  # also the time-aligned comparison (auto pairing) as a section of the report
    scatter_limit: int = declared(Parameter(
        SCATTER_LIMIT, "Most tracks each scatter of the report page draws: above it, a subsample of this size stratified "
                       "by the label (drawn with WebGL; search still finds every track; t-SNE and UMAP place only "
                       "these tracks, PCA every track) and rasterised static scatters.",
        low=1))

    def __post_init__(self) -> None:
        object.__setattr__(self, "figure_formats", figure_formats(",".join(self.figure_formats)))
        object.__setattr__(self, "reductions", tuple(self.reductions))
        object.__setattr__(self, "probe_models", tuple(self.probe_models))
        super().__post_init__()
        check_probe_weights(self.probe_weights, self.probe_models)
        unknown = [method for method in self.reductions if method not in REDUCTIONS]
        if unknown:
            raise CounterpointError(f"unknown reduction {unknown[0]!r}; choose from {', '.join(REDUCTIONS)}")


@dataclass(frozen=True, kw_only=True)
class RunSettings(Settings):
    """Everything `counterpoint run` takes; the field names are the flags (``--batch-size``) and the keys
    of a params or TOML file. None is unset: ``batch_size`` each encoder's default, ``depth`` the whole
    label, ``group`` the dataset's group column, ``csv``, ``id_column`` and ``id_from`` ``info.csv`` with
    its ``id`` column, ``ray_address`` a Ray started here."""

    dataset: str | None = declared(Parameter(None, "Dataset folder.", kind=str))
    out: str = declared(Parameter("counterpoint-output", "Output folder (embeddings.h5 + report/)."))
    encoders: str = declared(Parameter(",".join(DEFAULT_ENCODERS), "Encoder specs, separated by '+' or ','."))
    label: str = declared(Parameter("class", "Label column for the analysis."))
    depth: int | None = declared(DEPTH_SETTING)
    group: str | None = declared(GROUP_SETTING)
    batch_size: int | None = declared(Parameter(None, "Tracks per model call (0 or unset: each encoder's default).",
                                                low=0, kind=int))
    seed: int = declared(SEED_SETTING)
    compare: bool = declared(COMPARE_SETTING)
    probe_models: str = declared(Parameter("linear,mlp", "Probe models for the report (empty: none)."))
    probe_seeds: int = declared(PROBE_SEEDS_SETTING)
    probe_weights: str = declared(PROBE_WEIGHTS_SETTING)
    strict_paths: bool = declared(Parameter(False, "Refuse symbolic links that lead outside the dataset folder."))
    csv: str | None = declared(Parameter(None, "Manifest CSV with another name than info.csv (relative to ROOT or "
                                               "absolute).", kind=str))
    id_column: str | None = declared(Parameter(None, "Column of the manifest that holds the track ids (default: id).",
                                               kind=str))
    id_from: str | None = declared(Parameter(None, "Take ids from the file names when the manifest has no id "
                                                   "column: stem.", kind=str))
    engine: str = declared(Parameter("local", "Where encoders run: local (this machine) or ray (Ray Data; needs "
                                              "counterpoint[ray]).", choices=ENGINES))
    ray_address: str | None = declared(Parameter(None, "Ray cluster to join with --engine ray (auto, "
                                                       "ray://HOST:10001); default: start Ray on this machine.",
                                                 kind=str))
    figure_format: str = declared(FIGURE_FORMAT_SETTING)
    aligned: bool = declared(ALIGNED_SETTING)

    def __post_init__(self) -> None:
        super().__post_init__()
        figure_formats(self.figure_format)
        check_probe_weights(self.probe_weights, probe_model_names(self.probe_models))

    def analysis(self) -> AnalysisSettings:
        """The options of the report part of the run."""
        return AnalysisSettings(label=self.label, depth=self.depth, group=self.group, seed=self.seed,
                               compare=self.compare, probe_models=probe_model_names(self.probe_models),
                               probe_seeds=self.probe_seeds, probe_weights=self.probe_weights,
                               figure_formats=figure_formats(self.figure_format),
                               aligned=self.aligned)

    @property
    def store_path(self) -> Path:
        return Path(self.out) / "embeddings.h5"

    @property
    def report_dir(self) -> Path:
        return Path(self.out) / "report"


@dataclass(frozen=True, kw_only=True)
class FactorSettings(Resampling):
    """What shapes the numbers of ``counterpoint factors`` (written to ``factors.json``): the column
    naming the piece behind each row (``piece``, written by ``dataset render``/``transcribe``), the
    column naming its rendering (``audio_source``), an optional ``label`` whose share of the piece
    variance is split out (e.g. ``style``), the neighbours of mutual kNN, and the resampling (each
    table gets the permutations its Holm family needs unless ``fixed_n_perm``)."""

    piece: str = declared(Parameter("piece", "Column naming the piece behind each row."))
    rendering: str = declared(Parameter("audio_source", "Column naming each row's rendering."))
    label: str | None = declared(Parameter(None, "Label column whose share of the piece variance is split out "
                                                 "(e.g. style).", kind=str))
    # a designed corpus holds tens of pieces, not hundreds
    k: int = declared(Parameter(5, "Neighbours for mutual kNN.", low=1))


@dataclass(frozen=True, kw_only=True)
class EquivarianceSettings(Resampling):
    """What shapes the numbers of ``counterpoint equivariance`` (written to ``equivariance.json``): the
    columns naming the piece behind each row, the transformation that made it (``original``,
    ``transpose``, ``tempo``; written by ``dataset transform``) and its amount, the ridge penalty of
    the classifier that predicts the amount from the displacement, and the resampling (each table
    gets the permutations its Holm family needs unless ``fixed_n_perm``)."""

    piece: str = declared(Parameter("piece", "Column naming the piece behind each row."))
    transform: str = declared(Parameter("transform", "Column naming the transformation that made each row "
                                                     "(original, transpose, tempo)."))
    amount: str = declared(Parameter("amount", "Column holding each transformed row's amount (semitones, tempo factor)."))
    alpha: float = declared(Parameter(1.0, "Ridge penalty of the classifier that predicts the amount from the "
                                           "displacement.", low=0.0))


@dataclass(frozen=True, kw_only=True)
class DistanceSettings(Resampling):
    """What shapes the numbers of ``counterpoint distance`` (written to ``distances.json``): the resampling
    (bootstrap intervals; permutations of the "same distribution" tests, raised to what the table's Holm
    family needs unless ``fixed_n_perm``), the subsample sizes FD∞ is fitted on, how many tracks per
    encoder are named as the largest contributions, and the column that pairs the two sets' tracks (None: two
    independent samples)."""

    extrapolation_steps: int = declared(Parameter(
        10, "Subsample sizes FD∞ is fitted on, evenly spaced fractions of each set from "
            "--extrapolation-min-fraction to 1.", low=3))
    extrapolation_min_fraction: float = declared(Parameter(
        0.5, "Smallest subsample FD∞ is fitted on, as a fraction of each set.", low=0.0, high=1.0, closed="neither"))
    outliers: int = declared(Parameter(10, "Tracks named per encoder as the largest contributions to the distance.",
                                       low=1))
    paired: str | None = declared(Parameter(
        None, "Column that pairs each track of set A with one of set B (e.g. piece, when both sets render or transcribe "
              "the same pieces): the permutations swap tracks within pairs and the bootstrap resamples pairs "
              "(unset: two independent samples).", kind=str))

# ---- params and TOML files: the keys of RunSettings ---------------------------------------------------

_TRUE, _FALSE = ("true", "yes", "1", "on"), ("false", "no", "0", "off")


def _run_types() -> dict[str, type]:
    return {name: parameter.value_type for name, parameter in declarations(RunSettings).items()}


def _coerce(name: str, value: Any, source: str) -> tuple[str, Any]:
    """The RunSettings field and typed value of ``--name value`` (``--no-name`` turns a switch off)."""
    types = _run_types()
    key = name.replace("-", "_")
    if key not in types and key.startswith("no_") and types.get(key[3:]) is bool:
        key, value = key[3:], "false"
    if key not in types:
        raise CounterpointError(f"{source}: unknown option {name!r} — known: {', '.join('--' + k.replace('_', '-') for k in types)}")
    kind = types[key]
    if kind is not bool and isinstance(value, bool):
        raise CounterpointError(f"{source}: option {name!r} needs a {kind.__name__} value, got {str(value).lower()}")
    if kind is bool and not isinstance(value, bool):
        text = str(value).strip().lower()
        if text not in _TRUE + _FALSE:
            raise CounterpointError(f"{source}: option {name!r} is a switch (true/false), got {value!r}")
        return key, text in _TRUE
    try:
        return key, kind(value)
    except (TypeError, ValueError):
        raise CounterpointError(f"{source}: option {name!r} needs a {kind.__name__}, got {value!r}") from None


def params_text(path: Path) -> str:
    """The text of a params or TOML file: UTF-8 (with or without a byte-order mark) or UTF-16 with its mark
    (Notepad's "Unicode"); a :class:`CounterpointError` for anything else (Latin-1, UTF-16 without a mark)."""
    data = path.read_bytes()
    encoding = "utf-16" if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else "utf-8-sig"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise CounterpointError(f"{path} is not UTF-8 text (byte {exc.start} cannot be read as {exc.encoding}): "
                                "save it as UTF-8") from None
    if "\x00" in text:  # UTF-16 without its mark decodes as UTF-8 with a NUL after every ASCII character
        raise CounterpointError(f"{path} is not UTF-8 text (it holds NUL bytes, as UTF-16 without a byte-order mark "
                                "does): save it as UTF-8")
    return text


def _is_switch(name: str) -> bool:
    """Whether ``--name`` (``--no-name`` too) is an on/off option of :class:`RunSettings`, written without a value."""
    types, key = _run_types(), name.replace("-", "_")
    return types.get(key) is bool or (key.startswith("no_") and types.get(key[3:]) is bool)


def read_params_file(path: str | Path) -> dict[str, Any]:
    """Options from a TOML file (``key = value``) or a file of ``--flag value`` lines with ``#`` comments.

    Switches (``--aligned``, ``--no-compare``) stand alone; any other flag without a value is an error
    naming its line. The file is read as :func:`params_text` reads it. The keys are :class:`RunSettings`'
    fields; their values are checked when the options are made (:func:`run_options`).
    """
    path = Path(path)
    if not path.is_file():
        raise CounterpointError(f"{path}: no such params file")
    text = params_text(path)
    values: dict[str, Any] = {}
    if path.suffix == ".toml":
        try:
            table = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise CounterpointError(f"{path}: not valid TOML ({exc})") from exc
        table = table.get("run", table)
        for name, value in table.items():
            key, coerced = _coerce(name, "+".join(value) if isinstance(value, list) else value, str(path))
            values[key] = coerced
        return values
    for number, line in enumerate(text.splitlines(), start=1):
        tokens = shlex.split(line, comments=True)
        if not tokens:
            continue
        if not tokens[0].startswith("--") or len(tokens) > 2:
            raise CounterpointError(f"{path} line {number}: expected '--flag value', got {line.strip()!r}")
        name = tokens[0][2:]
        if len(tokens) == 1 and name.replace("-", "_") in _run_types() and not _is_switch(name):
            raise CounterpointError(f"{path} line {number}: {tokens[0]} needs a value, e.g. {tokens[0]} VALUE "
                                    f"(only switches such as --aligned stand alone)")
        value = tokens[1] if len(tokens) == 2 else "true"
        key, coerced = _coerce(tokens[0][2:], value, f"{path} line {number}")
        values[key] = coerced
    return values


def run_options(values: dict[str, Any], source: str | Path | None = None) -> RunSettings:
    """:class:`RunSettings` from ``values`` (a params file's, the command line's); a value its declaration
    refuses is a :class:`CounterpointError` naming ``source`` (the params file) when given."""
    try:
        return RunSettings(**values)
    except CounterpointError as exc:
        if source is None:
            raise
        raise CounterpointError(f"{source}: {exc}") from None
