"""The whole job: `demo-data` (the demo corpus), `demo` (corpus, store, report) and `run` (any dataset;
options from flags, a params file or TOML)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from counterpoint.cli.app import (PlainUsageCommand, app, flags_on_command_line, friendly, option_conflict,
                                  typed_flag)
from counterpoint.cli.options import above_zero, depth_option, figure_format_option, group_option, seed_option, setting
from counterpoint.cli.output import progress_bars, show, show_verdicts, tell
from counterpoint.config import RunSettings, read_params_file, run_options
from counterpoint.defaults import DEMO_ENCODERS, DEMO_MIN_PIECES_PER_STYLE
from counterpoint.errors import CounterpointError
from counterpoint.parameters import declarations


def _run_pipeline(options: RunSettings) -> Path:
    from counterpoint.pipeline import run_pipeline

    with progress_bars() as progress:
        result = run_pipeline(options, embed_progress=progress, step=tell)
    for run in result.embed.runs:
        if run.failed:
            tell(f"{run.spec}: {len(run.failed)} track(s) failed — `counterpoint store info {result.store} --failures`")
    show_verdicts(result.analysis)
    return result.report


@app.command("demo-data", cls=PlainUsageCommand)
@friendly
def demo_data_command(out: Path = typer.Argument(..., metavar="OUT", help="Folder to write the corpus into."),
                      pieces_per_style: int = typer.Option(30, min=DEMO_MIN_PIECES_PER_STYLE,
                                                           help="Works per style (one excerpt each; at least "
                                                                "three, so each style has a train, validation and test work)."),
                      seconds: float = typer.Option(30.0, callback=above_zero, help="Excerpt length in seconds."),
                      seed: int = seed_option("Seed of every choice (instruments, splits)."),
                      workers: int = typer.Option(2, min=1, help="Processes for parsing and rendering.")) -> None:
    """Build a paired audio/MIDI corpus offline from music21's scores (several styles, with info.csv).

    Example: counterpoint demo-data demo-corpus --pieces-per-style 30 --seconds 30
    """
    from counterpoint.data.demo import build_demo_corpus

    path = build_demo_corpus(out, pieces_per_style=pieces_per_style, excerpt_seconds=seconds, seed=seed, workers=workers)
    show(f"corpus: {path} (info.csv lists the tracks; skipped.csv the scores music21 could not read)")


@app.command("demo", cls=PlainUsageCommand)
@friendly
def demo_command(out: Path = typer.Argument(Path("demo-output"), metavar="OUT", help="Output folder (corpus, store, report)."),
                 encoders: str = typer.Option("", help=f"Encoder specs (default: {DEMO_ENCODERS})."),
                 pieces_per_style: int = typer.Option(30, min=DEMO_MIN_PIECES_PER_STYLE,
                                                      help="Works per style in the corpus (at least three, so each "
                                                           "style has a train, validation and test work)."),
                 seconds: float = typer.Option(30.0, callback=above_zero, help="Excerpt length in seconds."),
                 seed: int = seed_option(),
                 factors: bool = typer.Option(False, "--factors", help="Instead of the main report: the designed "
                                              "experiment of `counterpoint factors` on demo pieces (two SoundFonts, "
                                              "basic-pitch transcriptions), in OUT/factors/."),
                 factor_pieces_per_style: int = typer.Option(7, min=2, help="Pieces per style of --factors."),
                 equivariance: bool = typer.Option(False, "--equivariance", help="Instead of the main report: "
                                                   "`counterpoint equivariance` on transposed and tempo-changed demo "
                                                   "pieces (audio-stats, musicnn's penultimate layer, symbolic-stats), "
                                                   "in OUT/equivariance/."),
                 equivariance_pieces: int = typer.Option(8, min=4, help="Pieces of --equivariance.")) -> None:
    """Build the demo corpus, embed it with the default encoders, analyse it, print the report's path.

    Every step resumes: rerunning skips the corpus and the embeddings already made.
    Example: counterpoint demo demo-output   (or: counterpoint demo demo-output --factors, or --equivariance)
    """
    from counterpoint.data.demo_corpus import ensure_demo_corpus

    corpus = ensure_demo_corpus(out, pieces_per_style=pieces_per_style, excerpt_seconds=seconds, seed=seed,
                                announce=tell)
    if factors:
        from counterpoint.pipeline import run_factors_demo

        with progress_bars() as progress:
            index = run_factors_demo(out, encoders or RunSettings.encoders, pieces_per_style=factor_pieces_per_style,
                                     seed=seed, embed_progress=progress, step=tell)
        show(f"factors report: {index.resolve()}")
        return
    if equivariance:
        from counterpoint.pipeline import EQUIVARIANCE_DEMO_ENCODERS, run_equivariance_demo

        with progress_bars() as progress:
            index = run_equivariance_demo(out, encoders or EQUIVARIANCE_DEMO_ENCODERS, pieces=equivariance_pieces,
                                          seed=seed, embed_progress=progress, step=tell)
        show(f"equivariance report: {index.resolve()}")
        return
    options = RunSettings(dataset=str(corpus), out=str(out), encoders=encoders or DEMO_ENCODERS,
                         label="style", seed=seed,  # the corpus's group column keeps each work on one side
                         aligned=True)  # its audio renders its MIDI: identity pairing, seconds
    show(f"report: {_run_pipeline(options).resolve()}")


@app.command("run", cls=PlainUsageCommand)
@friendly
def run_command(ctx: typer.Context,
                root: Optional[str] = typer.Argument(None, metavar="ROOT",
                                                     help="Dataset folder, as `embed` takes it (or --dataset)."),
                params_file: Optional[Path] = typer.Option(None, help="File of '--flag value' lines (# comments) or a .toml file."),
                dataset: Optional[str] = setting(RunSettings, "dataset"),
                out: str = setting(RunSettings, "out", "--out", "-o"),
                encoders: str = setting(RunSettings, "encoders", "--encoders", "-e"),
                label: str = setting(RunSettings, "label"),
                depth: Optional[int] = depth_option(),
                group: Optional[str] = group_option(),
                batch_size: Optional[int] = setting(RunSettings, "batch_size"),
                seed: int = seed_option(),
                compare: bool = setting(RunSettings, "compare", "--compare/--no-compare"),
                probe_models: str = setting(RunSettings, "probe_models"),
                probe_seeds: int = setting(RunSettings, "probe_seeds"),
                probe_weights: str = setting(RunSettings, "probe_weights"),
                strict_paths: bool = setting(RunSettings, "strict_paths"),
                csv: Optional[str] = setting(RunSettings, "csv", "--csv"),
                id_column: Optional[str] = setting(RunSettings, "id_column"),
                id_from: Optional[str] = setting(RunSettings, "id_from"),
                engine: str = setting(RunSettings, "engine"),
                ray_address: Optional[str] = setting(RunSettings, "ray_address"),
                figure_format: str = figure_format_option(),
                aligned: bool = setting(RunSettings, "aligned", "--aligned/--no-aligned")) -> None:
    """Embed a dataset and write the full report; options from flags, a params file, or TOML.

    Flags given on the command line override the file. The dataset folder is ROOT or --dataset (not both).

    \b
    Examples:
      counterpoint run ~/corpus -e symbolic-stats,audio-stats -o results --label genre
      counterpoint run --params-file run.params
    where run.params holds lines such as
      --dataset ~/corpus   # the folder with info.csv
      --label genre
    """
    values, given = {}, flags_on_command_line(ctx)
    if params_file is not None:
        flags = {param.name: param for param in ctx.command.params}
        values = read_params_file(params_file)
        for key, value in values.items():
            flag = typed_flag(flags[key], value)
            if flag is not None and ctx.get_parameter_source(key).name != "COMMANDLINE":
                given.add(flag)
        conflict = option_conflict("run", given)
        if conflict is not None:
            raise CounterpointError(f"{params_file} with the command line: {conflict}")
    for key in declarations(RunSettings):
        if params_file is None or ctx.get_parameter_source(key).name == "COMMANDLINE":
            values[key] = ctx.params[key]
    if root is not None:
        if values.get("dataset") is not None:
            where = "--dataset" if ctx.get_parameter_source("dataset").name == "COMMANDLINE" else f"--dataset of {params_file}"
            raise CounterpointError(f"ROOT {root} and {where} {values['dataset']} both name the dataset folder — give "
                                    "one of them")
        values["dataset"] = root
    show(f"report: {_run_pipeline(run_options(values, params_file))}")
