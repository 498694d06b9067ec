"""The `counterpoint` command. It parses arguments and calls the Python API; nothing more."""

from __future__ import annotations

import functools
import math
import os
import re
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table
from rich.text import Text
from typer.core import TyperCommand, TyperOption

from counterpoint import __version__
from counterpoint.console import console, task_progress
from counterpoint.config import (DEMO_ENCODERS, SEED_HIGH, SEED_LOW, AlignedSettings, CompareSettings, FactorSettings,
                                RunOptions, TrainSettings, default, figure_formats)
from counterpoint.data.tolerance import DURATION_TOLERANCE_FRACTION, DURATION_TOLERANCE_S
from counterpoint.data.transcribe import TranscribeSettings
from counterpoint.errors import CounterpointError

RUN_DEFAULTS = RunOptions()
FIGURE_FORMAT_HELP = "Formats of every static figure: png, svg, pdf, comma-separated."
TRAIN_DEFAULTS = TrainSettings()
ENGINE_HELP = "Where encoders run: local (this machine) or ray (Ray Data; needs counterpoint[ray])."
RAY_ADDRESS_HELP = "Ray cluster to join with --engine ray (auto, ray://HOST:10001); default: start Ray on this machine."


def fields_of_run_options() -> list[str]:
    from dataclasses import fields

    return [f.name for f in fields(RunOptions)]


@dataclass(frozen=True)
class Exclusive:
    """On ``command``, ``flag`` cannot go with any of ``others`` (flags as typed, ``--no-compare`` for a
    switch turned off); ``advice`` says why and what to do instead."""

    command: str
    flag: str
    others: tuple[str, ...]
    advice: str


@dataclass(frozen=True)
class Requires:
    """On ``command``, ``flag`` means nothing without ``needed``; ``advice`` says why."""

    command: str
    flag: str
    needed: str
    advice: str


_TRAINING = ("--label", "--encoder", "--all-encoders", "--model", "--hidden", "--dropout", "--epochs", "--patience",
             "--lr", "--batch-size", "--seed", "--seeds", "--depth", "--group")

#: Every pair of options that cannot combine, checked in one place (:func:`refuse_conflicts`) before a command runs.
OPTION_RULES: tuple[Exclusive | Requires, ...] = (
    Exclusive("compare", "--layers", ("--aligned", "--alignment", "--segment-seconds", "--group", "--k"),
              "--layers makes the layer maps instead of the comparison, and the maps use none of these — run "
              "compare once with --layers and once without"),
    Requires("compare", "--alignment", "--aligned", "it chooses how the time-aligned comparison pairs audio and score"),
    Requires("compare", "--segment-seconds", "--aligned", "it sets the segments of the time-aligned comparison"),
    Requires("compare", "--audio", "--layers", "it chooses the audio encoder of the layer maps"),
    Requires("compare", "--symbolic", "--layers", "it chooses the symbolic encoder of the layer maps"),
    Exclusive("analyze", "--aligned", ("--no-compare",),
              "the time-aligned comparison is part of the comparison — drop one of them"),
    Requires("analyze", "--probe-seeds", "--probe-models", "without probe models no probe is trained"),
    Exclusive("run", "--aligned", ("--no-compare",),
              "the time-aligned comparison is part of the comparison — drop one of them"),
    Exclusive("probe", "--model-path", _TRAINING,
              "a saved probe is evaluated as it was trained (its encoder, label, model and settings) — drop them, "
              "or drop --model-path to train a new probe"),
    Exclusive("probe", "--all-encoders", ("--encoder",),
              "--all-encoders probes every encoder — drop --encoder, or drop --all-encoders to train one probe"),
    Requires("dataset check", "--label", "--resplit", "it stratifies the splits --resplit writes"),
    Requires("dataset check", "--seed", "--resplit", "it seeds the splits --resplit writes"),
    Exclusive("dataset check", "--no-open-files", ("--duration-tolerance", "--duration-tolerance-fraction"),
              "durations are measured only when the files are opened — drop --no-open-files or the tolerance"),
    Requires("demo", "--factor-pieces-per-style", "--factors", "it sizes the designed corpus of --factors"),
)


def command_name(ctx: typer.Context) -> str:
    """``compare``, or ``dataset check`` for a command of a group under the main command."""
    if ctx.parent is not None and ctx.parent.parent is not None:
        return f"{ctx.parent.info_name} {ctx.info_name}"
    return ctx.info_name or ""


def typed_flag(param: object, value: object) -> str | None:
    """How the option ``param`` with ``value`` is written on a command line: ``--out``, ``--no-compare`` for
    a switch turned off; None for an argument, or a switch without a spelling for off, given as off."""
    if not isinstance(param, TyperOption):
        return None
    if param.is_flag and not value:
        return param.secondary_opts[0] if param.secondary_opts else None
    return max(param.opts, key=len)


def flags_on_command_line(ctx: typer.Context) -> set[str]:
    """The options given on the command line, as typed (see :func:`typed_flag`)."""
    given = set()
    for param in ctx.command.params:
        source = ctx.get_parameter_source(param.name)
        flag = typed_flag(param, ctx.params.get(param.name))
        if source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT") and flag is not None:
            given.add(flag)
    return given


def option_conflict(command: str, given: set[str]) -> str | None:
    """The message for the first rule of :data:`OPTION_RULES` that the options ``given`` to ``command`` break."""
    for rule in OPTION_RULES:
        if rule.command != command or rule.flag not in given:
            continue
        if isinstance(rule, Exclusive):
            clashing = [other for other in rule.others if other in given]
            if clashing:
                return f"{rule.flag} cannot be combined with {', '.join(clashing)}: {rule.advice}"
        elif rule.needed not in given:
            return f"{rule.flag} needs {rule.needed}: {rule.advice} — add {rule.needed} or drop {rule.flag}"
    return None


class PlainUsageCommand(TyperCommand):
    """Usage lines in the usual convention, ``ROOT`` for a required argument and ``[OUT]`` for an
    optional one (typer writes ``{ROOT}``); options that cannot combine (:data:`OPTION_RULES`) are
    an error (exit status 2) before the command runs."""

    def collect_usage_pieces(self, ctx) -> list[str]:
        return [re.sub(r"^\{(.*)\}", r"\1", piece) for piece in super().collect_usage_pieces(ctx)]

    def invoke(self, ctx: typer.Context):
        conflict = option_conflict(command_name(ctx), flags_on_command_line(ctx))
        if conflict is not None:
            _note(_styled("error:", "red", conflict))
            raise typer.Exit(2)
        return super().invoke(ctx)


app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None)
dataset_app = typer.Typer(help="Inspect a dataset folder, import a public dataset's own layout, and complete its "
                               "pairs (transcribe, render).", no_args_is_help=True)
store_app = typer.Typer(help="Inspect an embedding store.", no_args_is_help=True)
weights_app = typer.Typer(help="Model weight files: list what each model needs, fetch them.", no_args_is_help=True)
app.add_typer(dataset_app, name="dataset")
app.add_typer(store_app, name="store")
app.add_typer(weights_app, name="weights")


#: Set to 1 to see the traceback of an internal error on the terminal.
DEBUG_VARIABLE = "COUNTERPOINT_DEBUG"


def _save_traceback(text: str) -> Path:
    """Write a traceback into the cache folder (or the temporary folder) and return its path."""
    name = f"internal-error-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
    try:
        from counterpoint.paths import cache_dir

        folder = cache_dir() / "errors"
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        folder = Path(tempfile.gettempdir())
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def friendly(command):
    """Run a command so that no traceback reaches the user.

    A CounterpointError prints its message, exit status 2. Any other exception is a bug of
    ours: one line "internal error (please report)" naming it and the file its traceback was
    saved in (shown too when $COUNTERPOINT_DEBUG=1), exit status 3.
    """
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except CounterpointError as exc:
            _note(_styled("error:", "red", str(exc)))
            raise typer.Exit(2) from None
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except Exception as exc:  # the safety net: a bug, reported in one line
            text = traceback.format_exc()
            if os.environ.get(DEBUG_VARIABLE) == "1":
                sys.stderr.write(text)
            summary = " ".join(str(exc).split())
            _note(f"internal error (please report): {type(exc).__name__}: {summary} — full traceback in "
                  f"{_save_traceback(text)} ({DEBUG_VARIABLE}=1 prints it)")
            raise typer.Exit(3) from None
    return wrapper


def _above_zero(value: float) -> float:
    """Typer callback for options that must be strictly positive (seconds, rates)."""
    if value is not None and not value > 0:
        raise typer.BadParameter(f"Input should be greater than 0, got {value}")
    return value


def _seed(value: int) -> int:
    """Typer callback of every ``--seed``: a whole number in 0 … 2³²−1, what numpy's generators take."""
    if not SEED_LOW <= value <= SEED_HIGH:
        raise typer.BadParameter(f"Input should be a seed, greater than or equal to {SEED_LOW} and less than or equal "
                                 f"to {SEED_HIGH} (2³²−1), got {value}")
    return value


def seed_option(default_seed: int, help_text: str = "Seed of every random choice."):
    """The one definition of every ``--seed`` option (range checked by :func:`_seed`)."""
    return typer.Option(default_seed, "--seed", callback=_seed, help=f"{help_text} ({SEED_LOW} … {SEED_HIGH})")


def _probability(value: float) -> float:
    """Typer callback for a probability in [0, 1) such as dropout."""
    if not 0 <= value < 1:
        raise typer.BadParameter(f"Input should be greater than or equal to 0 and less than 1, got {value}")
    return value


def _hidden_sizes(text: str) -> list[int]:
    """``--hidden 256,128`` → [256, 128]; anything but positive integers is a usage error."""
    from counterpoint.probes.models import parse_hidden_sizes

    try:
        return list(parse_hidden_sizes(text))
    except CounterpointError as exc:
        raise typer.BadParameter(f"{exc} — write e.g. --hidden 256,128", param_hint="'--hidden'") from None


def _check_output_path(value: Path) -> Path:
    """Typer callback for output folders: an existing file in their place is refused up front."""
    if value is not None and value.exists() and not value.is_dir():
        raise typer.BadParameter(f"{value} is a file, and this command writes a folder there — give a new folder name")
    return value


#: ``--aligned`` and ``--alignment`` of compare and analyze.
ALIGNED_HELP = ("Also compare on time-paired segments: segment retrieval within and across pieces, agreement over "
                "time, CKA of aligned segments vs time-shifted ones (into OUT/aligned/).")
ALIGNMENT_HELP = ("With --aligned: how audio time is paired with score time: identity (renderings), dtw (DTW on "
                  "chroma; paths kept beside the store), or auto (identity for rows whose audio_source is rendered:…).")

#: ``--where COLUMN=VALUE`` of analyze, compare, probe and factors (repeatable; one that selects no track is an error).
WHERE_HELP = ("Use only the tracks whose COLUMN reads VALUE, e.g. midi_source=original or "
              "midi_source=transcribed:basic-pitch-0.4.0 (repeatable: all must hold).")


def _selected_store(path: Path, where: list[str]):
    """The store at ``path`` filtered by ``--where COLUMN=VALUE`` options (see ``Store.where``)."""
    from counterpoint.store import Store

    store = Store(path)
    for condition in where:
        column, equals, value = condition.partition("=")
        if not equals or not column.strip():
            raise typer.BadParameter(f"{condition!r}: write COLUMN=VALUE, e.g. midi_source=original",
                                     param_hint="'--where'")
        store = store.where(column.strip(), value)
    return store


def _table(title: str, columns: list[str], rows: list[list[object]]) -> Table:
    """A terminal table; its first column (what each row is: an encoder spec, a track id) is never
    wrapped, so a narrow terminal shrinks the other columns instead."""
    cells = [[Text(f"{v:.3f}" if isinstance(v, float) else str(v)) for v in row] for row in rows]
    table = Table(title=title, title_justify="left")
    for index, column in enumerate(columns):
        key_width = max([len(column)] + [len(row[0]) for row in cells]) if index == 0 else None
        table.add_column(column, no_wrap=index == 0, min_width=key_width)
    for row in cells:
        table.add_row(*row)
    return table


def _styled(prefix: str, style: str, rest: str = "") -> Text:
    """``prefix`` in ``style`` followed by ``rest`` as plain text (file names may hold [brackets])."""
    return Text.assemble((prefix, style), f" {rest}" if rest else "")


def _print(renderable: str | Text | Table) -> None:
    """Results go to standard output; long lines stay whole so they can be grepped. Strings are
    printed as they are: no rich markup, so a label like ``[x]`` stays visible."""
    from rich.console import Console

    Console().print(renderable, soft_wrap=True, highlight=False, markup=False)


def _note(text: str | Text) -> None:
    """Progress, steps and warnings go to standard error, so standard output holds only results."""
    console.print(text, highlight=False, soft_wrap=True, markup=False)


def _print_version(value: bool) -> None:
    if value:
        print(__version__)
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                      help="Print the version and exit.")) -> None:
    """Counterpoint: do audio and score (MIDI) embeddings of the same music carry the same information?"""


# ---- encoders and weights ----------------------------------------------------------------------

@app.command("encoders", cls=PlainUsageCommand)
@friendly
def encoders_command() -> None:
    """List every encoder: name, modality, dimension, whether it can run here, what it needs.

    Example: counterpoint encoders
    """
    from counterpoint.encoders.registry import REGISTRY

    rows, missing = [], []
    for name, entry in REGISTRY.items():
        try:
            cls = entry.load()
            reason = cls.unavailable_reason()
            rows.append([name, cls.modality, str(cls().dim) if reason is None else "—", "yes" if reason is None else "no",
                         cls.requirements])
        except Exception as exc:  # an encoder whose module cannot even import
            reason = f"{type(exc).__name__}: {exc}"
            rows.append([name, "?", "—", "no", ""])
        if reason is not None:
            missing.append(f"{name}: {reason}")
    _print(_table("Encoders", ["name", "modality", "dim", "usable now", "needs"], rows))
    for line in missing:
        _print(f"- {line}")


@weights_app.command("list", cls=PlainUsageCommand)
@friendly
def weights_list() -> None:
    """Show each model's weight files, sizes, source and whether they are present.

    Example: counterpoint weights list
    """
    from counterpoint.encoders.registry import declared_weights
    from counterpoint.encoders.weights import find_weights

    rows = []
    for model, files in declared_weights().items():
        for f in files:
            path = find_weights(f)
            rows.append([model, f.filename, f.size_text, f.source, str(path) if path else "missing"])
    _print(_table("Model weights", ["model", "file", "size", "source", "present"], rows))


@weights_app.command("fetch", cls=PlainUsageCommand)
@friendly
def weights_fetch(name: str = typer.Argument(..., metavar="NAME", help="Model name from `counterpoint weights list`.")) -> None:
    """Download a model's weight files (needs the network), verifying digests where published.

    musicnn's checkpoints ship in its PyPI wheel: this pip-installs it without its TensorFlow
    dependency into the Python environment Counterpoint runs in.

    Example: counterpoint weights fetch clamp2
    """
    from counterpoint.encoders.registry import declared_weights
    from counterpoint.encoders.weights import fetch_weights

    files = declared_weights().get(name)
    if not files:
        raise CounterpointError(f"no model {name!r} with weight files — `counterpoint weights list` shows the models")
    for f in files:
        if f.pip_requirement:
            _note(f"fetching {f.filename} with `{sys.executable} -m pip install --no-deps {f.pip_requirement}`")
        else:
            _note(f"fetching {f.filename} ({f.size_text}) from {f.source}")
        _print(f"{f.filename}: {fetch_weights(f)}")


@app.command("tag", cls=PlainUsageCommand)
@friendly
def tag_command(paths: list[Path] = typer.Argument(..., metavar="FILE", help="Audio files (wav, flac, ogg, mp3)."),
                model: str = typer.Option("MTT", help="musicnn tagger: MTT (MagnaTagATune) or MSD (Million Song Dataset)."),
                top: int = typer.Option(10, min=1, help="How many tags to print per file.")) -> None:
    """Print the top tags of audio files from the musicnn tagger (taggram averaged over its 3-s patches).

    A quick check that the audio path and the model hear music. One block per file; a file
    that cannot be tagged gets an error line and the others still print (exit status 1).
    Example: counterpoint tag song.mp3 other.flac --model MSD --top 5
    """
    from counterpoint.encoders.musicnn import TAGS, top_tags

    if model not in TAGS:
        raise typer.BadParameter(f"{model!r} is not one of {', '.join(TAGS)}", param_hint="'--model'")
    failed = 0
    blocks = []
    for path in paths:
        try:
            tags = top_tags(path, model=model, k=top)
        except CounterpointError as exc:
            failed += 1
            _note(_styled("error:", "red", str(exc)))
            continue
        blocks.append("\n".join([f"{path}:"] + [f"  {tag:20s} {probability:.2f}" for tag, probability in tags]))
    print("\n\n".join(blocks))
    if failed:
        raise typer.Exit(1)


# ---- datasets --------------------------------------------------------------------------------------

#: The manifest options shared by dataset check, embed and run (a manifest with another name, where ids come from).
CSV_HELP = "Manifest CSV with another name than info.csv (relative to ROOT or absolute)."
ID_COLUMN_HELP = "Column of the manifest that holds the track ids (default: id)."
ID_FROM_HELP = "Take ids from the file names when the manifest has no id column: stem."


@dataset_app.command("import", cls=PlainUsageCommand)
@friendly
def dataset_import(kind: str = typer.Argument(..., metavar="KIND",
                                              help="groove, maestro, slakh, babyslakh, gtzan, lakh-matched or mirdata:NAME."),
                   source: Path = typer.Argument(..., metavar="SOURCE", help="The dataset's top folder, as distributed."),
                   out: Path = typer.Argument(..., metavar="OUT", callback=_check_output_path,
                                              help="New folder for the info.csv dataset."),
                   copy: bool = typer.Option(False, "--copy", help="Copy the files instead of linking them."),
                   index: Optional[Path] = typer.Option(None, help="mirdata:NAME only: a local mirdata index JSON.")) -> None:
    """Write a public dataset as an ordinary info.csv dataset: labels, split and group from its own metadata.

    Files are linked (relative links where possible), not copied, unless --copy.
    Example: counterpoint dataset import maestro ~/data/maestro-v3.0.0 ~/data/maestro-cp
    """
    from counterpoint.data.adapters import import_dataset

    result = import_dataset(kind, source, out, copy=copy, index=index)
    for problem in result.problems:
        _note(_styled("left out:", "yellow", str(problem)))
    manifest = result.manifest
    _print(f"{result.out}: {len(manifest)} tracks ({sum(t.is_paired for t in manifest)} paired) from {kind}, "
           f"labels {', '.join(manifest.label_columns)}; {'copied' if copy else 'linked'} — "
           f"next: counterpoint dataset check {result.out}")

@dataset_app.command("check", cls=PlainUsageCommand)
@friendly
def dataset_check(root: Path = typer.Argument(..., metavar="ROOT", help="Dataset folder (info.csv or class folders)."),
                  group: Optional[str] = typer.Option(None, help="Column that keeps tracks together in splits."),
                  strict_paths: bool = typer.Option(False, "--strict-paths",
                                                    help="Refuse symbolic links that lead outside the dataset folder."),
                  open_files: bool = typer.Option(True, "--open-files/--no-open-files",
                                                  help="Decode every audio and MIDI file (slower, finds corrupt files)."),
                  csv: Optional[str] = typer.Option(None, "--csv", help=CSV_HELP),
                  id_column: Optional[str] = typer.Option(None, help=ID_COLUMN_HELP),
                  id_from: Optional[str] = typer.Option(None, help=ID_FROM_HELP),
                  duration_tolerance: float = typer.Option(DURATION_TOLERANCE_S, min=0,
                                                           help="Seconds paired audio and MIDI may differ before a warning."),
                  duration_tolerance_fraction: float = typer.Option(DURATION_TOLERANCE_FRACTION, min=0,
                                                                    help="… or this fraction of the longer, if larger."),
                  resplit: bool = typer.Option(False, "--resplit",
                                               help="Write <manifest>.resplit.csv with splits recomputed by group."),
                  label: Optional[str] = typer.Option(None, help="With --resplit: the label the new splits are stratified by."),
                  seed: int = seed_option(0, "With --resplit: seed of the new splits.")) -> None:
    """Print tracks, pairs, label counts, warnings and every problem of a dataset. Exit status 1 if any problem.

    Example: counterpoint dataset check ~/data/my-corpus
    """
    from counterpoint.data.manifest import load_manifest
    from counterpoint.data.tolerance import DurationTolerance
    from counterpoint.data.validation import check_dataset, write_resplit

    manifest = load_manifest(root, group_column=group, strict_paths=strict_paths, csv=csv, id_column=id_column,
                             id_from=id_from)
    tolerance = DurationTolerance(duration_tolerance, duration_tolerance_fraction)
    with task_progress() as update:
        report = check_dataset(manifest, open_files=open_files, progress=update,
                               tolerance=tolerance)
    _print(f"{report.root} ({report.layout}): {report.n_tracks} tracks, {report.n_pairs} paired, "
           f"{report.n_audio_only} audio only, {report.n_midi_only} MIDI only")
    _print(f"splits: {report.split_counts}")
    for column, counts in report.label_counts.items():
        shown = ", ".join(f"{k or '(empty)'}: {v}" for k, v in list(counts.items())[:12])
        more = f" … (+{len(counts) - 12} more)" if len(counts) > 12 else ""
        _print(f"label {column!r} ({len(counts)} values): {shown}{more}")
    if report.n_linked:
        places = ", ".join(f"{n} in {folder}" for folder, n in list(report.link_targets.items())[:5])
        more = f" … (+{len(report.link_targets) - 5} more folders)" if len(report.link_targets) > 5 else ""
        _print(f"symbolic links: {report.n_linked} files ({report.n_linked_outside} outside the folder): {places}{more}")
    for note in report.notes:
        _print(f"  note: {note}")
    for warning in report.warnings:
        _print(_styled("  warning:", "yellow", str(warning)))
    if resplit:
        written = write_resplit(manifest, label=label, seed=seed)
        _print(f"resplit: {written.path} — splits recomputed so that no {group or 'group'} value straddles two sides "
               f"(seed {seed}{f', stratified by {label}' if label else ''}): {written.split_counts}; the given split is "
               f"in the column given_split. Use it with --csv {written.path.name}")
    if report.problems:
        _print(_styled(f"{len(report.problems)} problem(s):", "red"))
        for problem in report.problems:
            _print(f"  - {problem}")
        raise typer.Exit(1)
    _print(_styled("no problems found", "green"))


def _completion_summary(report, made: str) -> None:
    """Print what a transcription or rendering run did, its failures and the rows the manifest left out."""
    for problem in report.problems:
        _note(_styled("left out:", "yellow", str(problem)))
    _print(f"{report.made} {made}, {report.reused} already there, {len(report.failures)} failed")
    for failure in report.failures:
        _print(_styled("  failed:", "red", failure.error))
    if report.failures:
        _print(f"failures: {report.failures_csv}")
    _print(f"dataset: {report.info_csv}")


@dataset_app.command("transcribe", cls=PlainUsageCommand)
@friendly
def dataset_transcribe(root: Path = typer.Argument(..., metavar="ROOT", help="Dataset folder (info.csv or class folders)."),
                       out: Optional[Path] = typer.Option(None, "--out", "-o", callback=_check_output_path,
                                                          help="Folder for the completed dataset (default: ROOT itself; "
                                                               "the dataset's files are linked there)."),
                       every_row: bool = typer.Option(False, "--all",
                                                      help="Also transcribe rows that have MIDI, as extra rows <id>~transcribed."),
                       max_seconds: float = typer.Option(default(TranscribeSettings, "max_seconds"), callback=_above_zero,
                                                         help="Refuse (as a named failure) audio longer than this, in seconds."),
                       windows_per_call: int = typer.Option(default(TranscribeSettings, "windows_per_call"), min=1,
                                                            help="2-s windows per model call (speed only).")) -> None:
    """Audio → MIDI with basic-pitch for rows without MIDI; writes info.csv with midi_source.

    Transcriptions go to OUT/transcribed/basic-pitch-<version>/; rerunning reuses them. A file that
    fails is listed in OUT/transcribe_failures.csv and the others go on.
    Example: counterpoint dataset transcribe ~/data/gtzan --out ~/data/gtzan-paired
    """
    from counterpoint.data.transcribe import transcribe_dataset

    settings = TranscribeSettings(windows_per_call=windows_per_call, max_seconds=max_seconds)
    with task_progress() as update:
        report = transcribe_dataset(root, out, every_row=every_row, settings=settings,
                                    progress=update)
    _completion_summary(report, "transcribed")


@dataset_app.command("render", cls=PlainUsageCommand)
@friendly
def dataset_render(root: Path = typer.Argument(..., metavar="ROOT", help="Dataset folder (info.csv or class folders)."),
                   soundfont: list[str] = typer.Option([], "--soundfont", help="SoundFont to render with: a name "
                                                       "(timgm6mb, merlin) or an .sf2 file; repeat for several renderings "
                                                       "(default: timgm6mb, pretty_midi's GM SoundFont)."),
                   out: Optional[Path] = typer.Option(None, "--out", "-o", callback=_check_output_path,
                                                      help="Folder for the completed dataset (default: ROOT itself)."),
                   every_row: bool = typer.Option(False, "--all",
                                                  help="Render every MIDI file, as extra rows <id>~<SoundFont>."),
                   sample_rate: int = typer.Option(22050, min=8000, help="Sample rate of the WAV files (Hz).")) -> None:
    """MIDI → audio for rows without audio (or one rendering per SoundFont); writes info.csv with audio_source.

    Renderings go to OUT/rendered/<SoundFont>/; extra rows share their piece's group, so no
    piece is on both sides of a split. Rerunning reuses what exists.
    Example: counterpoint dataset render ~/data/lakh --soundfont timgm6mb --soundfont merlin --all
    """
    from counterpoint.data.render import render_dataset

    with task_progress() as update:
        report = render_dataset(root, out, soundfonts=soundfont, every_row=every_row, sample_rate=sample_rate,
                                progress=update)
    _completion_summary(report, "rendered")


# ---- embedding and the store -------------------------------------------------------------------------

@app.command("embed", cls=PlainUsageCommand)
@friendly
def embed_command(root: Path = typer.Argument(..., metavar="ROOT", help="Dataset folder (info.csv or class folders)."),
                  encoders: str = typer.Option(RUN_DEFAULTS.encoders, "--encoders", "-e",
                                               help="Encoder specs, e.g. 'musicnn:model=MSD+symbolic-stats' "
                                                    "(separate specs by '+' or ',').", show_default=True),
                  out: Path = typer.Option(..., "--out", "-o", help="Store file to create or resume (.h5)."),
                  batch_size: int = typer.Option(0, min=0, help="Tracks per model call (0: each encoder's default)."),
                  group: Optional[str] = typer.Option(None, help="Column that keeps tracks together in splits."),
                  strict_paths: bool = typer.Option(False, "--strict-paths",
                                                    help="Refuse symbolic links that lead outside the dataset folder."),
                  csv: Optional[str] = typer.Option(None, "--csv", help=CSV_HELP),
                  id_column: Optional[str] = typer.Option(None, help=ID_COLUMN_HELP),
                  id_from: Optional[str] = typer.Option(None, help=ID_FROM_HELP),
                  engine: str = typer.Option(RUN_DEFAULTS.engine, help=ENGINE_HELP),
                  ray_address: Optional[str] = typer.Option(None, help=RAY_ADDRESS_HELP),
                  max_seconds: Optional[float] = typer.Option(None, callback=_above_zero,
                                                              help="Read only the first seconds of each audio file "
                                                                   "(MIDI is embedded whole; default: whole files).")) -> None:
    """Embed every track with each encoder into an HDF5 store. Rerunning resumes.

    Example: counterpoint embed ~/data/corpus --encoders symbolic-stats,audio-stats --out corpus.h5
    """
    from counterpoint.data.manifest import load_manifest
    from counterpoint.embed import embed_dataset

    manifest = load_manifest(root, group_column=group, strict_paths=strict_paths, csv=csv, id_column=id_column,
                             id_from=id_from)
    for problem in manifest.problems:
        _note(_styled("skipped:", "yellow", str(problem)))
    for note in manifest.notes:
        _note(f"note: {note}")
    with task_progress() as update:
        report = embed_dataset(manifest, out, encoders, batch_size=batch_size or None, progress=update,
                               engine=engine, ray_address=ray_address, max_seconds=max_seconds)
    for note in report.notes:
        _note(f"note: {note}")
    for run in report.runs:
        changed = f" ({run.reembedded} of them again: their files changed since)" if run.changed else ""
        _print(f"{run.spec}: {run.embedded} embedded{changed}, {run.skipped} already in the store, "
               f"{len(run.failed)} failed ({run.seconds:.1f} s)")
        for track_id, stage, message in run.failed[:10]:
            _print(_styled(f"  {stage}", "red", message))
        if len(run.failed) > 10:
            _print(f"  … {len(run.failed) - 10} more: `counterpoint store info {out} --failures`")
    _print(f"store: {out}")


def _layer_text(record) -> str:
    """``#2 max_pool`` for one layer of an encoder with layers (its position in the network), else ``—``."""
    if record.layer is None:
        return "—"
    return f"#{record.layer_index} {record.layer}" if record.layer_index is not None and record.layer_index >= 0 else record.layer


@store_app.command("info", cls=PlainUsageCommand)
@friendly
def store_info(path: Path = typer.Argument(..., metavar="FILE.h5", help="Store file (.h5)."),
               failures: bool = typer.Option(False, "--failures", help="List every failure."),
               check_files: bool = typer.Option(False, "--check-files",
                                                help="Compare every embedding's recorded source file with the file in "
                                                     "the dataset now (stat; a digest where size or mtime differ). "
                                                     "Exit status 1 if any changed or is missing.")) -> None:
    """Summarise a store: tracks, encoders (dim, count, fingerprint), failures, timing, source files.

    Checks every checksum and the layout's invariants (row counts, frame offsets, track rows of
    embedded tracks): a store that breaks one is an error (exit status 2) naming it.
    Example: counterpoint store info corpus.h5 --check-files
    """
    from counterpoint.errors import StoreError
    from counterpoint.store import Store

    store = Store(path)
    store.verify()  # every checksum, so a damaged store says so here
    if problems := store.problems():
        raise StoreError(f"{path}: the store is inconsistent — {'; '.join(problems)} — restore it from a backup, or "
                         "re-embed into a new store (`counterpoint embed ROOT --out NEW.h5`)")
    tracks = store.tracks()
    roots = store.roots
    _print(f"{path}: {len(tracks)} tracks; created {store.attrs.get('created')}, updated {store.attrs.get('updated')}; "
           f"dataset {' and '.join(roots) if roots else '?'}")
    label_columns = [c for c in tracks.columns if c not in ("id", "audio_filename", "midi_filename")]
    _print(f"metadata columns: {', '.join(label_columns)}")
    timing = store.timing().set_index("encoder")
    grouped = [layer for r in store.encoders for layer in (store.layers(r.base_spec) if r.base_spec else [r])]
    records = list({r.spec: r for r in grouped + store.all_encoders}.values())  # an encoder's layers together
    rows = [[r.spec, r.modality, r.dim, r.n_tracks, r.n_frames, f"{timing.loc[r.spec, 'seconds']:.1f}",
             r.fingerprint.get("weights") or "—", _layer_text(r)] for r in records]
    _print(_table("Encoders", ["spec", "modality", "dim", "tracks", "frames", "seconds", "weights digest", "layer"], rows))
    table = store.failures()
    _print(f"failures: {len(table)}")
    if len(table):
        shown = table if failures else table.head(10)
        for row in shown.itertuples(index=False):
            _print(f"  {row.encoder} · {row.track_id} · {row.stage}: {row.error}")
        if not failures and len(table) > 10:
            _print("  … (--failures lists all)")
    for problem in store.journal_problems():
        _print(_styled("journal:", "red", problem))
    if store.pending_batches() and not store.journal_problems():
        _print(_styled(f"{store.pending_batches()} batch(es) of an interrupted run are not folded in yet — "
                       "rerun the same `counterpoint embed` command to resume", "yellow"))
    stale = _print_sources(store, path, check_files)
    if stale:
        raise typer.Exit(1)


def _print_sources(store, path: Path, check_files: bool) -> int:
    """Print what the store knows of each embedding's source file; the number of stale or missing ones."""
    checks = store.check_sources(files=check_files)
    root = store.roots[-1] if store.roots else "ROOT"
    found = 0
    for check in checks:
        if check.unknown:
            _print(f"{check.spec}: {len(check.unknown)} of {check.tracks} tracks were embedded before stores recorded "
                   f"their source files — they cannot be checked (embed into a new store to record them)")
        for ids, what in ((check.other_file, "were embedded from another file than the track table names now"),
                          (check.changed, "have files that changed since they were embedded"),
                          (check.missing, "have files missing from the dataset")):
            if ids:
                found += len(ids)
                _print(_styled(f"{check.spec}:", "yellow", f"{len(ids)} tracks {what} (e.g. {ids[0]!r}) — rerun "
                               f"`counterpoint embed {root} -e '{check.spec}' --out {path}` to embed them again"))
    recorded = sum(c.tracks - len(c.unknown) for c in checks)
    if not found:
        state = ("unchanged on disk" if check_files else
                 "recorded (--check-files compares them with the files on disk)")
        _print(f"source files: {recorded} embeddings' files {state}")
    return found if check_files else 0


@app.command("export", cls=PlainUsageCommand)
@friendly
def export_command(path: Path = typer.Argument(..., metavar="FILE.h5", help="Store file (.h5)."),
                   encoder: str = typer.Option(..., "--encoder", "-e", help="Encoder spec or name in the store."),
                   out: Path = typer.Option(..., "--out", "-o", help="Output file: .npz or .parquet.")) -> None:
    """Write one encoder's pooled embeddings with ids, labels and feature names.

    Example: counterpoint export corpus.h5 --encoder audio-stats --out audio_stats.npz
    """
    from counterpoint.export import export_embeddings

    _print(f"wrote {export_embeddings(path, encoder, out)}")


@app.command("import-legacy", cls=PlainUsageCommand)
@friendly
def import_legacy_command(source: Path = typer.Argument(..., metavar="OLD.h5", help="HDF5 file in the student tools' layout."),
                          out: Path = typer.Option(..., "--out", "-o", help="Store file to write (.h5)."),
                          hop: Optional[float] = typer.Option(None, callback=_above_zero,
                                                              help="Seconds between frames (else frame indices).")) -> None:
    """Convert an audio_embeddings/ + symbolic_embeddings/ file into a store.

    Example: counterpoint import-legacy old_embeddings.h5 --out imported.h5 --hop 0.5
    """
    from counterpoint.legacy import import_legacy

    store = import_legacy(source, out, hop)
    _print(f"wrote {out}: {', '.join(store.encoder_specs)}")


@app.command("export-legacy", cls=PlainUsageCommand)
@friendly
def export_legacy_command(path: Path = typer.Argument(..., metavar="FILE.h5", help="Store file (.h5)."),
                          out: Path = typer.Option(..., "--out", "-o", help="HDF5 file in the legacy layout."),
                          audio_encoder: Optional[str] = typer.Option(None, help="Audio encoder to write."),
                          symbolic_encoder: Optional[str] = typer.Option(None, help="Symbolic encoder to write.")) -> None:
    """Write encoders of a store in the student tools' layout, for old notebooks.

    Example: counterpoint export-legacy corpus.h5 --audio-encoder audio-stats --symbolic-encoder symbolic-stats --out old.h5
    """
    from counterpoint.legacy import export_legacy

    _print(f"wrote {export_legacy(path, out, audio_encoder, symbolic_encoder)}")


# ---- analysis ----------------------------------------------------------------------------------------

@app.command("analyze", cls=PlainUsageCommand)
@friendly
def analyze_command(path: Path = typer.Argument(..., metavar="FILE.h5", help="Store file (.h5)."),
                    label: str = typer.Option(..., "--label", "-l", help="Metadata column to colour and score by."),
                    out: Path = typer.Option(..., "--out", "-o", callback=_check_output_path,
                                             help="Output folder for figures, CSVs, metrics.json, index.html."),
                    depth: int = typer.Option(RUN_DEFAULTS.depth, min=0,
                                              help="Cut hierarchical labels like rock/indie to this depth in every section (0: whole)."),
                    group: Optional[str] = typer.Option(None, help="Column whose values never straddle splits or folds (default: the dataset's group column)."),
                    seed: int = seed_option(RUN_DEFAULTS.seed),
                    compare: bool = typer.Option(RUN_DEFAULTS.compare, "--compare/--no-compare",
                                                 help="Also compare audio with symbolic spaces (when the store has both)."),
                    probe_models: str = typer.Option("", help="Probe models for a probe table in the report, e.g. linear,mlp (empty: none)."),
                    where: list[str] = typer.Option([], "--where", metavar="COLUMN=VALUE", help=WHERE_HELP),
                    probe_seeds: int = typer.Option(RUN_DEFAULTS.probe_seeds, min=1, help="Repeats of each probe's 5-fold cross-validation (each its own fold shuffle and training seed)."),
                    figure_format: str = typer.Option(RUN_DEFAULTS.figure_format, help=FIGURE_FORMAT_HELP),
                    aligned: bool = typer.Option(RUN_DEFAULTS.aligned, "--aligned", help=ALIGNED_HELP)) -> None:
    """Per-space figures (PCA/t-SNE/UMAP, centroid distances, variance, clustering, timing),
    the audio-vs-symbolic comparison, optional probes — one report page.

    Example: counterpoint analyze corpus.h5 --label style --group work --out report/
    """
    from counterpoint.config import AnalysisOptions
    from counterpoint.pipeline import analyze_everything

    models = tuple(m.strip() for m in probe_models.split(",") if m.strip())
    options = AnalysisOptions(label, depth=depth or None, group=group, seed=seed, compare=compare,
                              probe_models=models, probe_seeds=probe_seeds,
                              figure_formats=figure_formats(figure_format), aligned=aligned)
    result = analyze_everything(_selected_store(path, where), options, out, step=_note)
    _print_verdicts(result)
    _print(f"report: {result.report}")


@app.command("probe", cls=PlainUsageCommand)
@friendly
def probe_command(path: Path = typer.Argument(..., metavar="FILE.h5", help="Store file (.h5)."),
                  label: Optional[str] = typer.Option(None, "--label", "-l", help="Metadata column to predict (not with --model-path: the saved probe has its own)."),
                  encoder: Optional[str] = typer.Option(None, "--encoder", "-e", help="Encoder spec or name in the store."),
                  all_encoders: bool = typer.Option(False, "--all-encoders", help="Every encoder × every --model: probe_table.csv/json."),
                  model: list[str] = typer.Option(["linear"], "--model", "-m", help="linear | mlp | lstm | attention | package.module:Class | file.py:Class (repeatable with --all-encoders)."),
                  model_path: Optional[Path] = typer.Option(None, "--model-path", help="Evaluate a saved probe folder on this store instead of training."),
                  out: Path = typer.Option(..., "--out", "-o", callback=_check_output_path, help="Output folder."),
                  group: Optional[str] = typer.Option(None, help="Column whose values never straddle train/validation/test (default: the dataset's group column)."),
                  hidden: str = typer.Option(",".join(map(str, TRAIN_DEFAULTS.hidden)),
                                             help="Hidden sizes, comma-separated (mlp: every size; lstm/attention: the first)."),
                  dropout: float = typer.Option(TRAIN_DEFAULTS.dropout, callback=_probability, help="Dropout probability, in [0, 1)."),
                  epochs: int = typer.Option(TRAIN_DEFAULTS.epochs, min=1, help="Maximum epochs."),
                  patience: int = typer.Option(TRAIN_DEFAULTS.patience, min=1, help="Stop after this many epochs without a better validation macro-F1."),
                  lr: float = typer.Option(TRAIN_DEFAULTS.lr, callback=_above_zero, help="Adam learning rate."),
                  batch_size: int = typer.Option(TRAIN_DEFAULTS.batch_size, min=1, help="Tracks per training batch."),
                  seed: int = seed_option(TRAIN_DEFAULTS.seed, "Seed of the folds and the training (repeat r trains with seed + r)."),
                  seeds: int = typer.Option(RUN_DEFAULTS.probe_seeds, min=1, help="Repeats of the 5-fold cross-validation that gives the probe accuracy (each its own fold shuffle and training seed --seed + repeat)."),
                  depth: int = typer.Option(RUN_DEFAULTS.depth, min=0, help="Cut hierarchical labels like rock/indie to this depth (0: whole)."),
                  where: list[str] = typer.Option([], "--where", metavar="COLUMN=VALUE", help=WHERE_HELP),
                  device: str = typer.Option(TRAIN_DEFAULTS.device, help="cpu or cuda.")) -> None:
    """Train classifiers on embeddings and test them on a leak-free split.

    \b
    Examples:
      counterpoint probe corpus.h5 --encoder musicnn --label style --model mlp --out probes/musicnn-mlp
      counterpoint probe corpus.h5 --label style --all-encoders --model linear --model lstm --seeds 5 --out probes/
      counterpoint probe other.h5 --model-path probes/musicnn-mlp --out probes/musicnn-mlp-on-other
    """
    from counterpoint.probes.run import evaluate_saved, probe, probe_table
    from counterpoint.report.probes import write_evaluation, write_probe_result, write_probe_table

    if model_path is not None:
        if label is not None or all_encoders:
            raise typer.BadParameter("--model-path evaluates a saved probe: its label and encoder are the saved ones, "
                                     "so leave out --label and --all-encoders")
        evaluation = evaluate_saved(model_path, _selected_store(path, where), device=device)
        write_evaluation(evaluation, out)
        for note in evaluation.notes:
            _note(note)
        _print(f"{evaluation.encoder} · {evaluation.model} (saved): {_accuracy_line(evaluation.scored)}; "
               f"macro-F1 {evaluation.macro_f1:.3f} → {out}")
        return
    if label is None:
        raise typer.BadParameter("give --label (the metadata column to predict)")
    settings = TrainSettings(epochs=epochs, patience=patience, lr=lr, batch_size=batch_size, seed=seed, device=device,
                             hidden=tuple(_hidden_sizes(hidden)), dropout=dropout)
    store = _selected_store(path, where)
    if all_encoders:
        table = probe_table(store, label, models=model, repeats=seeds, depth=depth or None, group=group,
                            settings=settings, progress=lambda what, done, total: _note(f"probe {done + 1}/{total}: {what}"))
        write_probe_table(table, out)
        for (probed_encoder, probed_model), result in table.results.items():
            for note in result.notes:
                _note(f"{probed_encoder} · {probed_model}: {note}")
        _print(_table(f"probe accuracy of {label!r} (95 % interval; chance = majority share; p: permutation, Holm "
                      "over the rows)", ["encoder", "model", "accuracy [95 % CI]", "chance", "p", "p (Holm)", "n",
                                         "protocol", "error"],
                      [[r.encoder, r.model, _interval_text(r.accuracy, r.ci_low, r.ci_high), _number(r.chance),
                        _number(r.p_value, ".3g"), _number(r.p_holm, ".3g"), _number(r.n, ".0f"),
                        r.protocol if isinstance(r.protocol, str) else "", r.error]
                       for r in table.table.itertuples()]))
        _print(f"table: {out / 'probe_table.csv'}")
        return
    if encoder is None or len(model) != 1:
        raise typer.BadParameter("a single probe needs --encoder and one --model (or use --all-encoders)")
    result = probe(store, encoder, label, model=model[0], depth=depth or None, group=group, settings=settings,
                   repeats=seeds)
    write_probe_result(result, out)
    for note in result.notes:
        _note(note)
    _print(f"{result.config['encoder']} · {result.model}: {_accuracy_line(result.protocol)}")
    _print(f"  protocol: {result.protocol.plan.description} — {result.protocol.plan.reason}")
    _print(f"  saved model ({result.config['split_source']}): test split accuracy {result.test_split_accuracy:.3f} "
           f"({result.split_counts['test']} tracks), macro-F1 {result.macro_f1:.3f}, best epoch {result.best_epoch} "
           f"→ {out}")


def _number(value: object, spec: str = ".3f") -> str:
    """A figure for the terminal: ``—`` when missing."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "—"
    return "—" if math.isnan(number) else format(number, spec)


def _interval_text(value: float, low: float, high: float) -> str:
    """``0.850 [0.750, 0.950]``."""
    return f"{_number(value)} [{_number(low)}, {_number(high)}]" if _number(value) != "—" else "—"


def _accuracy_line(scored) -> str:
    """One probe accuracy on the terminal: value, 95 % interval, chance, permutation null and p, tracks."""
    return (f"probe accuracy {_interval_text(scored.accuracy, scored.ci_low, scored.ci_high)} (95 % interval), chance "
            f"{_number(scored.chance)} (majority share), permutation null {_number(scored.null_mean)}, "
            f"p {_number(scored.p_value, '.3g')}, {scored.n} tracks, {scored.n_classes} classes")


@app.command("compare", cls=PlainUsageCommand)
@friendly
def compare_command(path: Path = typer.Argument(..., metavar="FILE.h5", help="Store file (.h5) with audio and symbolic encoders."),
                    label: str = typer.Option(..., "--label", "-l", help="Class column: label quality, centroid agreement, stratified splits."),
                    out: Path = typer.Option(..., "--out", "-o", callback=_check_output_path,
                                             help="Folder for alignment.csv, label_quality.csv, compare.json, PNGs."),
                    depth: int = typer.Option(RUN_DEFAULTS.depth, min=0,
                                              help="Cut hierarchical labels like rock/indie to this depth (0: whole)."),
                    group: Optional[str] = typer.Option(None, help="Column whose values never straddle a split (default: the store's group column)."),
                    k: int = typer.Option(default(CompareSettings, "k"), min=1, help="Neighbours for mutual kNN and the kNN classifier."),
                    n_boot: int = typer.Option(default(CompareSettings, "n_boot"), min=1, help="Resamples per 95% interval."),
                    n_perm: int = typer.Option(default(CompareSettings, "n_perm"), min=1, help="Fewest permutations per p-value: raised to what the verdict's Holm family needs (10·m/0.05 − 1 for m tests; with --aligned or --layers, each table's family, at most 9,999) unless --fixed-n-perm."),
                    fixed_n_perm: bool = typer.Option(False, "--fixed-n-perm", help="Use --n-perm as given, even when too few for a table's Holm family (a note says so)."),
                    where: list[str] = typer.Option([], "--where", metavar="COLUMN=VALUE", help=WHERE_HELP),
                    seed: int = seed_option(default(CompareSettings, "seed")),
                    figure_format: str = typer.Option(RUN_DEFAULTS.figure_format, help=FIGURE_FORMAT_HELP),
                    layers: bool = typer.Option(False, "--layers", help="Instead of the comparison: the layer × layer "
                                                "debiased-CKA map of audio encoders embedded with layers=all (OUT/layers/)."),
                    audio: Optional[str] = typer.Option(None, "--audio", help="With --layers: the audio encoder (default: every one with layers)."),
                    symbolic: Optional[str] = typer.Option(None, "--symbolic", help="With --layers: the symbolic encoder (default: every one)."),
                    aligned: bool = typer.Option(False, "--aligned", help=ALIGNED_HELP),
                    alignment: str = typer.Option(default(AlignedSettings, "alignment"), help=ALIGNMENT_HELP),
                    segment_seconds: float = typer.Option(default(AlignedSettings, "segment_seconds"), callback=_above_zero,
                                                          help="With --aligned: length of the segments of score time (s).")) -> None:
    """Do audio and symbolic embeddings agree? CKA, RSA, mutual kNN, retrieval, label quality, with CIs.

    \b
    Examples:
      counterpoint compare corpus.h5 --label style --group work --out compare/
      counterpoint compare corpus.h5 --label style --aligned --alignment auto --segment-seconds 3 --out compare/
      counterpoint compare corpus.h5 --label style --layers --out compare/
    """
    if layers:
        _compare_layers(_selected_store(path, where), label, out, depth or None, audio, symbolic, n_boot, n_perm, seed,
                        not fixed_n_perm, figure_formats(figure_format))
        return
    from counterpoint.analysis.compare import run_compare
    from counterpoint.report.compare import write_comparison
    from counterpoint.report.verdict import comparison_terminal_text

    settings = CompareSettings(label, depth=depth or None, group=group, k=k, n_boot=n_boot, n_perm=n_perm, seed=seed,
                               scale_n_perm=not fixed_n_perm)
    aligned_settings = AlignedSettings(label, depth=depth or None, group=group, alignment=alignment,
                                       segment_seconds=segment_seconds, n_boot=n_boot, n_perm=n_perm, seed=seed,
                                       scale_n_perm=not fixed_n_perm)
    store = _selected_store(path, where)
    result = run_compare(store, settings)
    write_comparison(result, out, formats=figure_formats(figure_format))
    _print(comparison_terminal_text(result))
    for note in result.notes:
        _note(f"  {note}")
    if aligned:
        from counterpoint.analysis.aligned import aligned_summary, run_aligned_compare
        from counterpoint.data.time_pairing import store_time_pairing
        from counterpoint.report.aligned import FOLDER, write_aligned

        _note("pairing audio and score in time")
        with task_progress() as update:
            timed = run_aligned_compare(store, aligned_settings, time_pairing=store_time_pairing(store.path), progress=update)
        write_aligned(timed, out / FOLDER, figure_formats(figure_format))
        _print(aligned_summary(timed))
        for note in timed.notes:
            _note(f"  {note}")
    _print(f"tables and figures: {out}")


def _compare_layers(store, label: str, out: Path, depth: Optional[int], audio: Optional[str], symbolic: Optional[str],
                    n_boot: int, n_perm: int, seed: int, scale_n_perm: bool, formats: list[str]) -> None:
    """``compare --layers``: the layer maps' CSV, JSON, heatmaps and report section under OUT/layers/."""
    from counterpoint.analysis.layers import layer_cka_map
    from counterpoint.report.layers import LAYERS_DIR, layers_section

    maps = layer_cka_map(store, label, audio=audio, symbolic=symbolic, depth=depth, n_boot=n_boot, n_perm=n_perm, seed=seed,
                         scale_n_perm=scale_n_perm)
    out.mkdir(parents=True, exist_ok=True)
    (out / LAYERS_DIR / "section.html").parent.mkdir(parents=True, exist_ok=True)
    (out / LAYERS_DIR / "section.html").write_text(layers_section(maps)(out, formats))
    for m in maps:
        _print(f"{m.audio} × {m.symbolic} (debiased CKA, 95% CI, Holm-adjusted p):")
        for row in m.table.itertuples(index=False):
            _print(f"  {row.audio_layer:>14} × {row.symbolic_layer}: {row.value:.3f} [{row.ci_low:.3f}, {row.ci_high:.3f}] "
                   f"p_holm={row.p_holm:.3g} n={row.n}")
        if m.note:
            _note(f"  {m.note}")
    _print(f"tables and figures: {out / LAYERS_DIR}")


@app.command("factors", cls=PlainUsageCommand)
@friendly
def factors_command(path: Path = typer.Argument(..., metavar="FILE.h5", help="Store of a designed corpus (pieces rendered several ways, transcribed)."),
                    out: Path = typer.Option(..., "--out", "-o", callback=_check_output_path,
                                             help="Folder for variance.csv, renderings.csv, transcription.csv, factors.json, figures, index.html."),
                    label: Optional[str] = typer.Option(None, "--label", "-l", help="Label column whose share of the piece variance is split out (e.g. style)."),
                    piece: str = typer.Option(default(FactorSettings, "piece"), help="Column naming the piece behind each row."),
                    rendering: str = typer.Option(default(FactorSettings, "rendering"), help="Column naming each row's rendering."),
                    k: int = typer.Option(default(FactorSettings, "k"), min=1, help="Neighbours for mutual kNN."),
                    n_boot: int = typer.Option(default(FactorSettings, "n_boot"), min=1, help="Resamples per 95% interval."),
                    n_perm: int = typer.Option(default(FactorSettings, "n_perm"), min=1, help="Fewest permutations per p-value: raised to what each table's Holm family needs (10·m/0.05 − 1 for m tests, at most 9,999) unless --fixed-n-perm."),
                    fixed_n_perm: bool = typer.Option(False, "--fixed-n-perm", help="Use --n-perm as given, even when too few for a table's Holm family (a note says so)."),
                    where: list[str] = typer.Option([], "--where", metavar="COLUMN=VALUE", help=WHERE_HELP),
                    seed: int = seed_option(default(FactorSettings, "seed")),
                    figure_format: str = typer.Option(RUN_DEFAULTS.figure_format, help=FIGURE_FORMAT_HELP)) -> None:
    """Piece vs rendering vs transcription: variance shares, CKA between renderings, ground truth vs transcribed MIDI.

    Example: counterpoint factors designed.h5 --label style --out factors/
    """
    from counterpoint.analysis.factors import run_factors
    from counterpoint.report.factors import write_factors_report

    settings = FactorSettings(piece=piece, rendering=rendering, label=label, k=k, n_boot=n_boot, n_perm=n_perm,
                              seed=seed, scale_n_perm=not fixed_n_perm)
    result = run_factors(_selected_store(path, where), settings)
    index = write_factors_report(result, out, figure_formats(figure_format))
    for title, frame, columns in (
            ("variance shares (audio encoders)", result.variance, ["encoder", "factor", "share", "ci_low", "ci_high", "p_holm"]),
            ("between renderings", result.renderings, ["encoder", "rendering_a", "rendering_b", "value", "ci_low", "ci_high", "p_holm"]),
            ("ground truth vs transcription", result.transcription, ["encoder", "transcription", "measure", "value", "ci_low", "ci_high", "chance", "p_holm"])):
        if len(frame):
            _print(_table(title, columns, frame[columns].values.tolist()))
    for note in result.notes:
        _note(f"  {note}")
    _print(f"report: {index}")


# ---- the whole job -------------------------------------------------------------------------------------

def _print_verdicts(report) -> None:
    """The verdict sentences and compact tables of a written report (``ReportResult``), on stdout."""
    if report is not None and report.summary:
        _print(report.summary)


def _run_pipeline(options) -> Path:
    from counterpoint.pipeline import run_pipeline

    with task_progress() as update:
        result = run_pipeline(options, embed_progress=update, step=_note)
    for run in result.embed.runs:
        if run.failed:
            _note(f"{run.spec}: {len(run.failed)} track(s) failed — `counterpoint store info {result.store} --failures`")
    _print_verdicts(result.analysis)
    return result.report


@app.command("demo-data", cls=PlainUsageCommand)
@friendly
def demo_data_command(out: Path = typer.Argument(..., metavar="OUT", help="Folder to write the corpus into."),
                      pieces_per_style: int = typer.Option(30, min=1, help="Works per style (one excerpt each)."),
                      seconds: float = typer.Option(30.0, callback=_above_zero, help="Excerpt length in seconds."),
                      seed: int = seed_option(0, "Seed of every choice (instruments, splits)."),
                      workers: int = typer.Option(2, min=1, help="Processes for parsing and rendering.")) -> None:
    """Build a paired audio/MIDI corpus offline from music21's scores (several styles, with info.csv).

    Example: counterpoint demo-data demo-corpus --pieces-per-style 30 --seconds 30
    """
    from counterpoint.data.demo import build_demo_corpus

    path = build_demo_corpus(out, pieces_per_style=pieces_per_style, excerpt_seconds=seconds, seed=seed, workers=workers)
    _print(f"corpus: {path} (info.csv lists the tracks; skipped.csv the scores music21 could not read)")


@app.command("demo", cls=PlainUsageCommand)
@friendly
def demo_command(out: Path = typer.Argument(Path("demo-output"), metavar="OUT", help="Output folder (corpus, store, report)."),
                 encoders: str = typer.Option("", help=f"Encoder specs (default: {DEMO_ENCODERS})."),
                 pieces_per_style: int = typer.Option(30, min=1, help="Works per style in the corpus."),
                 seconds: float = typer.Option(30.0, callback=_above_zero, help="Excerpt length in seconds."),
                 seed: int = seed_option(0),
                 factors: bool = typer.Option(False, "--factors", help="Instead of the main report: the designed "
                                              "experiment of `counterpoint factors` on demo pieces (two SoundFonts, "
                                              "basic-pitch transcriptions), in OUT/factors/."),
                 factor_pieces_per_style: int = typer.Option(7, min=2, help="Pieces per style of --factors.")) -> None:
    """Build the demo corpus, embed it with the default encoders, analyse it, print the report's path.

    Every step resumes: rerunning skips the corpus and the embeddings already made.
    Example: counterpoint demo demo-output   (or: counterpoint demo demo-output --factors)
    """
    from counterpoint.data.demo import build_demo_corpus
    corpus = out / "corpus"
    if (corpus / "info.csv").is_file():
        _note(f"corpus already built: {corpus}")
    else:
        _note(f"building the demo corpus in {corpus}")
        build_demo_corpus(corpus, pieces_per_style=pieces_per_style, excerpt_seconds=seconds, seed=seed)
    if factors:
        from counterpoint.pipeline import run_factors_demo

        with task_progress() as update:
            index = run_factors_demo(out, encoders or RUN_DEFAULTS.encoders, factor_pieces_per_style, seed,
                                     embed_progress=update, step=_note)
        _print(f"factors report: {index.resolve()}")
        return
    options = RunOptions(dataset=str(corpus), out=str(out), encoders=encoders or DEMO_ENCODERS,
                         label="style", seed=seed,  # the corpus's group column keeps each work on one side
                         aligned=True)  # its audio renders its MIDI: identity pairing, seconds
    _print(f"report: {_run_pipeline(options).resolve()}")


@app.command("run", cls=PlainUsageCommand)
@friendly
def run_command(ctx: typer.Context,
                params_file: Optional[Path] = typer.Option(None, help="File of '--flag value' lines (# comments) or a .toml file."),
                dataset: str = typer.Option(RUN_DEFAULTS.dataset, help="Dataset folder."),
                out: str = typer.Option(RUN_DEFAULTS.out, help="Output folder (embeddings.h5 + report/)."),
                encoders: str = typer.Option(RUN_DEFAULTS.encoders, help="Encoder specs, separated by '+' or ','."),
                label: str = typer.Option(RUN_DEFAULTS.label, help="Label column for the analysis."),
                depth: int = typer.Option(RUN_DEFAULTS.depth, min=0, help="Hierarchical label depth (0: whole label)."),
                group: str = typer.Option(RUN_DEFAULTS.group, help="Column whose values never straddle splits or folds."),
                batch_size: int = typer.Option(RUN_DEFAULTS.batch_size, min=0, help="Tracks per model call (0: encoder default)."),
                seed: int = seed_option(RUN_DEFAULTS.seed),
                compare: bool = typer.Option(RUN_DEFAULTS.compare, "--compare/--no-compare",
                                             help="Compare audio with symbolic spaces."),
                probe_models: str = typer.Option(RUN_DEFAULTS.probe_models, help="Probe models for the report (empty: none)."),
                probe_seeds: int = typer.Option(RUN_DEFAULTS.probe_seeds, min=1, help="Repeats of each probe's 5-fold cross-validation (each its own fold shuffle and training seed)."),
                strict_paths: bool = typer.Option(RUN_DEFAULTS.strict_paths, "--strict-paths",
                                                  help="Refuse symbolic links that lead outside the dataset folder."),
                csv: str = typer.Option(RUN_DEFAULTS.csv, "--csv", help=CSV_HELP),
                id_column: str = typer.Option(RUN_DEFAULTS.id_column, help=ID_COLUMN_HELP),
                id_from: str = typer.Option(RUN_DEFAULTS.id_from, help=ID_FROM_HELP),
                engine: str = typer.Option(RUN_DEFAULTS.engine, help=ENGINE_HELP),
                ray_address: str = typer.Option(RUN_DEFAULTS.ray_address, help=RAY_ADDRESS_HELP),
                figure_format: str = typer.Option(RUN_DEFAULTS.figure_format, help=FIGURE_FORMAT_HELP),
                aligned: bool = typer.Option(RUN_DEFAULTS.aligned, "--aligned/--no-aligned", help=ALIGNED_HELP)) -> None:
    """Embed a dataset and write the full report; options from flags, a params file, or TOML.

    Flags given on the command line override the file.

    \b
    Example:
      counterpoint run --params-file run.params
    where run.params holds lines such as
      --dataset ~/corpus   # the folder with info.csv
      --label genre
    """
    from counterpoint.pipeline import read_params_file

    options = RunOptions()
    if params_file is not None:
        flags = {param.name: param for param in ctx.command.params}
        given = flags_on_command_line(ctx)
        for key, value in read_params_file(params_file).items():
            try:
                setattr(options, key, flags[key].process_value(ctx, value))  # the ranges the flags have
            except typer.BadParameter as exc:
                raise CounterpointError(f"{params_file}: --{key.replace('_', '-')} {value}: {exc.message}") from None
            flag = typed_flag(flags[key], value)
            if flag is not None and ctx.get_parameter_source(key).name != "COMMANDLINE":
                given.add(flag)
        conflict = option_conflict("run", given)
        if conflict is not None:
            raise CounterpointError(f"{params_file} with the command line: {conflict}")
    for key in fields_of_run_options():
        if params_file is None or ctx.get_parameter_source(key).name == "COMMANDLINE":
            setattr(options, key, ctx.params[key])
    _print(f"report: {_run_pipeline(options)}")

