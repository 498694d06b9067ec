"""`counterpoint dataset …`: inspect a dataset folder, import a public dataset's layout, complete its pairs."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from counterpoint.cli.app import PlainUsageCommand, dataset_app, friendly
from counterpoint.cli.options import above_zero, check_output_path, group_option, seed_option, setting
from counterpoint.cli.output import progress_bars, show, styled, tell
from counterpoint.config import RunSettings
from counterpoint.data.tolerance import DURATION_TOLERANCE_FRACTION, DURATION_TOLERANCE_S
from counterpoint.data.transcribe_settings import TranscribeSettings


@dataset_app.command("import", cls=PlainUsageCommand)
@friendly
def dataset_import(kind: str = typer.Argument(..., metavar="KIND",
                                              help="groove, maestro, slakh, babyslakh, gtzan, lakh-matched or mirdata:NAME."),
                   source: Path = typer.Argument(..., metavar="SOURCE", help="The dataset's top folder, as distributed."),
                   out: Path = typer.Argument(..., metavar="OUT", callback=check_output_path,
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
        tell(styled("left out:", "yellow", str(problem)))
    manifest = result.manifest
    show(f"{result.out}: {len(manifest)} tracks ({sum(t.is_paired for t in manifest)} paired) from {kind}, "
           f"labels {', '.join(manifest.label_columns)}; {'copied' if copy else 'linked'} — "
           f"next: counterpoint dataset check {result.out}")

@dataset_app.command("check", cls=PlainUsageCommand)
@friendly
def dataset_check(root: Path = typer.Argument(..., metavar="ROOT", help="Dataset folder (info.csv or class folders)."),
                  group: Optional[str] = group_option(),
                  strict_paths: bool = typer.Option(False, "--strict-paths",
                                                    help="Refuse symbolic links that lead outside the dataset folder."),
                  open_files: bool = typer.Option(True, "--open-files/--no-open-files",
                                                  help="Decode every audio and MIDI file (slower, finds corrupt files)."),
                  csv: Optional[str] = setting(RunSettings, "csv", "--csv"),
                  id_column: Optional[str] = setting(RunSettings, "id_column"),
                  id_from: Optional[str] = setting(RunSettings, "id_from"),
                  duration_tolerance: float = typer.Option(DURATION_TOLERANCE_S, min=0,
                                                           help="Seconds paired audio and MIDI may differ before a warning."),
                  duration_tolerance_fraction: float = typer.Option(DURATION_TOLERANCE_FRACTION, min=0,
                                                                    help="… or this fraction of the longer, if larger."),
                  resplit: bool = typer.Option(False, "--resplit",
                                               help="Write <manifest>.resplit.csv with splits recomputed by group."),
                  label: Optional[str] = typer.Option(None, help="With --resplit: the label the new splits are stratified by."),
                  seed: int = seed_option("With --resplit: seed of the new splits.")) -> None:
    """Print tracks, pairs, label counts, warnings and every problem of a dataset. Exit status 1 if any problem.

    Example: counterpoint dataset check ~/data/my-corpus
    """
    from counterpoint.data.manifest import load_manifest
    from counterpoint.data.tolerance import DurationTolerance
    from counterpoint.data.validation import check_dataset, write_resplit

    manifest = load_manifest(root, group_column=group, strict_paths=strict_paths, csv=csv, id_column=id_column,
                             id_from=id_from)
    tolerance = DurationTolerance(duration_tolerance, duration_tolerance_fraction)
    with progress_bars() as progress:
        report = check_dataset(manifest, open_files=open_files, progress=progress, tolerance=tolerance)
    show(f"{report.root} ({report.layout}): {report.n_tracks} tracks, {report.n_pairs} paired, "
           f"{report.n_audio_only} audio only, {report.n_midi_only} MIDI only")
    show(f"splits: {report.split_counts}")
    for column, counts in report.label_counts.items():
        shown = ", ".join(f"{k or '(empty)'}: {v}" for k, v in list(counts.items())[:12])
        more = f" … (+{len(counts) - 12} more)" if len(counts) > 12 else ""
        show(f"label {column!r} ({len(counts)} values): {shown}{more}")
    if report.n_linked:
        places = ", ".join(f"{n} in {folder}" for folder, n in list(report.link_targets.items())[:5])
        more = f" … (+{len(report.link_targets) - 5} more folders)" if len(report.link_targets) > 5 else ""
        show(f"symbolic links: {report.n_linked} files ({report.n_linked_outside} outside the folder): {places}{more}")
    for note in report.notes:
        show(f"  note: {note}")
    for warning in report.warnings:
        show(styled("  warning:", "yellow", str(warning)))
    if resplit:
        written = write_resplit(manifest, label=label, seed=seed)
        show(f"resplit: {written.path} — splits recomputed so that no {group or 'group'} value straddles two sides "
               f"(seed {seed}{f', stratified by {label}' if label else ''}): {written.split_counts}; the given split is "
               f"in the column given_split. Use it with --csv {written.path.name}")
    if report.problems:
        show(styled(f"{len(report.problems)} problem(s):", "red"))
        for problem in report.problems:
            show(f"  - {problem}")
        raise typer.Exit(1)
    show(styled("no problems found", "green"))


def _completion_summary(report, made: str) -> None:
    """Print what a transcription or rendering run did, its failures and the rows the manifest left out."""
    for problem in report.problems:
        tell(styled("left out:", "yellow", str(problem)))
    show(f"{report.made} {made}, {report.reused} already there, {len(report.failures)} failed")
    for failure in report.failures:
        show(styled("  failed:", "red", failure.error))
    if report.failures:
        show(f"failures: {report.failures_csv}")
    show(f"dataset: {report.info_csv}")


@dataset_app.command("transcribe", cls=PlainUsageCommand)
@friendly
def dataset_transcribe(root: Path = typer.Argument(..., metavar="ROOT", help="Dataset folder (info.csv or class folders)."),
                       out: Optional[Path] = typer.Option(None, "--out", "-o", callback=check_output_path,
                                                          help="Folder for the completed dataset (default: ROOT itself; "
                                                               "the dataset's files are linked there)."),
                       every_row: bool = typer.Option(False, "--all",
                                                      help="Also transcribe rows that have MIDI, as extra rows <id>~transcribed."),
                       max_seconds: float = typer.Option(TranscribeSettings.max_seconds, callback=above_zero,
                                                         help="Refuse (as a named failure) audio longer than this, in seconds."),
                       windows_per_call: int = typer.Option(TranscribeSettings.windows_per_call, min=1,
                                                            help="2-s windows per model call (speed only).")) -> None:
    """Audio → MIDI with basic-pitch for rows without MIDI; writes info.csv with midi_source.

    Transcriptions go to OUT/transcribed/basic-pitch-<version>/; rerunning reuses them. A file that
    fails is listed in OUT/transcribe_failures.csv and the others go on.
    Example: counterpoint dataset transcribe ~/data/gtzan --out ~/data/gtzan-paired
    """
    from counterpoint.data.transcribe import transcribe_dataset

    settings = TranscribeSettings(windows_per_call=windows_per_call, max_seconds=max_seconds)
    with progress_bars() as progress:
        report = transcribe_dataset(root, out, every_row=every_row, settings=settings, progress=progress)
    _completion_summary(report, "transcribed")


@dataset_app.command("render", cls=PlainUsageCommand)
@friendly
def dataset_render(root: Path = typer.Argument(..., metavar="ROOT", help="Dataset folder (info.csv or class folders)."),
                   soundfont: list[str] = typer.Option([], "--soundfont", help="SoundFont to render with: a name "
                                                       "(timgm6mb, merlin) or an .sf2 file; repeat for several renderings "
                                                       "(default: timgm6mb, pretty_midi's GM SoundFont)."),
                   out: Optional[Path] = typer.Option(None, "--out", "-o", callback=check_output_path,
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

    with progress_bars() as progress:
        report = render_dataset(root, out, soundfonts=soundfont, every_row=every_row, sample_rate=sample_rate,
                                progress=progress)
    _completion_summary(report, "rendered")



@dataset_app.command("transform", cls=PlainUsageCommand)
@friendly
def dataset_transform(root: Path = typer.Argument(..., metavar="ROOT", help="Dataset folder (info.csv or class folders) with MIDI files."),
                      out: Path = typer.Option(..., "--out", "-o", callback=check_output_path,
                                               help="Folder for the transformed corpus (MIDI copies, renderings, info.csv)."),
                      transpose: str = typer.Option("-5,-3,-1,1,3,6", "--transpose",
                                                    help="Transpositions in semitones, comma-separated (empty: none); "
                                                         "drums (channel 10) stay as they are."),
                      tempo: str = typer.Option("0.8,1.25", "--tempo",
                                                help="Tempo factors, comma-separated (empty: none); 1.25 plays 25% faster."),
                      pieces: Optional[int] = typer.Option(None, "--pieces", min=1,
                                                           help="Transform a seeded choice of this many pieces (default: all)."),
                      soundfont: str = typer.Option("timgm6mb", "--soundfont",
                                                    help="SoundFont every copy and its original are rendered with: a name "
                                                         "(timgm6mb, merlin) or an .sf2 file."),
                      sample_rate: int = typer.Option(22050, min=8000, help="Sample rate of the WAV files (Hz)."),
                      seed: int = seed_option("Seed of the choice of --pieces.")) -> None:
    """Transposed and tempo-changed copies of each piece's MIDI, each rendered again: the corpus of `equivariance`.

    Writes OUT/info.csv with piece, transform (original, transpose, tempo) and amount; rerunning
    reuses what exists. A transposition that leaves MIDI's 0-127 is skipped with a note.
    Example: counterpoint dataset transform ~/data/midi --out ~/data/moved --transpose -3,-1,1,3 --tempo 0.8,1.25
    """
    from counterpoint.data.transforms import TEMPO, TRANSPOSE, amounts_from_text, transform_dataset

    with progress_bars() as progress:
        report = transform_dataset(root, out, transpositions=amounts_from_text(transpose, TRANSPOSE),
                                   tempo_factors=amounts_from_text(tempo, TEMPO), pieces=pieces, seed=seed,
                                   soundfont=soundfont, sample_rate=sample_rate, progress=progress)
    for skipped in report.skipped:
        tell(styled("skipped:", "yellow", skipped))
    show(f"{len(report.pieces)} pieces: {report.made} copies made, {report.reused} already there, "
         f"{len(report.skipped)} skipped, {len(report.failures)} failed")
    for failure in report.failures:
        show(styled("  failed:", "red", failure.error))
    if report.failures:
        show(f"failures: {report.failures_csv}")
    show(f"dataset: {report.info_csv} — next: counterpoint embed {report.root} -o STORE.h5, then "
         "counterpoint equivariance STORE.h5 --out DIR")
