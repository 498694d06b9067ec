"""The command line's frame: the Typer apps, the options that cannot combine, and the safety net
that turns every error into one line and an exit status (2 bad input, 3 internal)."""

from __future__ import annotations

import functools
import os
import re
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import typer
from typer.core import TyperCommand, TyperOption

from counterpoint import __version__
from counterpoint.cli.output import styled, tell
from counterpoint.errors import CounterpointError


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
             "--lr", "--training-batch", "--max-tracks", "--seed", "--seeds", "--depth", "--group")

#: Every pair of options that cannot combine, checked in one place (:class:`PlainUsageCommand`, and `run` for a params file) before a command runs.
OPTION_RULES: tuple[Exclusive | Requires, ...] = (
    Exclusive("compare", "--layers", ("--aligned", "--alignment", "--segment-seconds", "--group", "--k",
                                      "--untrained-control"),
              "--layers makes the layer maps instead of the comparison, and the maps use none of these — run "
              "compare once with --layers and once without"),
    Requires("compare", "--alignment", "--aligned", "it chooses how the time-aligned comparison pairs audio and score"),
    Requires("compare", "--segment-seconds", "--aligned", "it sets the segments of the time-aligned comparison"),
    Requires("compare", "--audio", "--layers", "it chooses the audio encoder of the layer maps"),
    Requires("compare", "--symbolic", "--layers", "it chooses the symbolic encoder of the layer maps"),
    Exclusive("analyze", "--aligned", ("--no-compare",),
              "the time-aligned comparison is part of the comparison — drop one of them"),
    Requires("analyze", "--probe-seeds", "--probe-models", "without probe models no probe is trained"),
    Requires("analyze", "--probe-weights", "--probe-models", "it chooses which trained probes' weight files the "
             "report keeps, and without probe models no probe is trained"),
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
    Requires("demo", "--equivariance-pieces", "--equivariance", "it sizes the transformed corpus of --equivariance"),
    Requires("dataset transform", "--seed", "--pieces", "it seeds the choice of --pieces (without it every piece is "
             "transformed)"),
    Exclusive("demo", "--equivariance", ("--factors",), "each makes its own corpus and report — run the demo once with "
              "each"),
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
            tell(styled("error:", "red", conflict))
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
            tell(styled("error:", "red", str(exc)))
            raise typer.Exit(2) from None
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except Exception as exc:  # the safety net: a bug, reported in one line
            text = traceback.format_exc()
            if os.environ.get(DEBUG_VARIABLE) == "1":
                sys.stderr.write(text)
            summary = " ".join(str(exc).split())
            tell(f"internal error (please report): {type(exc).__name__}: {summary} — full traceback in "
                  f"{_save_traceback(text)} ({DEBUG_VARIABLE}=1 prints it)")
            raise typer.Exit(3) from None
    return wrapper



def _print_version(value: bool) -> None:
    if value:
        print(__version__)
        raise typer.Exit()


@app.callback()
def root(version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                      help="Print the version and exit.")) -> None:
    """Counterpoint: do audio and score (MIDI) embeddings of the same music carry the same information?"""

