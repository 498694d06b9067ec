"""`counterpoint embed`: every track of a dataset with each encoder, into a store."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from counterpoint.cli.app import PlainUsageCommand, app, friendly
from counterpoint.cli.options import above_zero, group_option, setting
from counterpoint.cli.output import progress_bars, show, styled, tell
from counterpoint.config import RunSettings


@app.command("embed", cls=PlainUsageCommand)
@friendly
def embed_command(root: Path = typer.Argument(..., metavar="ROOT", help="Dataset folder (info.csv or class folders)."),
                  encoders: str = setting(RunSettings, "encoders", "--encoders", "-e",
                                          help="Encoder specs, e.g. 'musicnn:model=MSD+symbolic-stats' "
                                               "(separate specs by '+' or ',')."),
                  out: Path = typer.Option(..., "--out", "-o", help="Store file to create or resume (.h5)."),
                  batch_size: Optional[int] = setting(RunSettings, "batch_size"),
                  group: Optional[str] = group_option(),
                  strict_paths: bool = typer.Option(False, "--strict-paths",
                                                    help="Refuse symbolic links that lead outside the dataset folder."),
                  csv: Optional[str] = setting(RunSettings, "csv", "--csv"),
                  id_column: Optional[str] = setting(RunSettings, "id_column"),
                  id_from: Optional[str] = setting(RunSettings, "id_from"),
                  engine: str = setting(RunSettings, "engine"),
                  ray_address: Optional[str] = setting(RunSettings, "ray_address"),
                  max_seconds: Optional[float] = typer.Option(None, callback=above_zero,
                                                              help="Read only the first seconds of each audio file "
                                                                   "(MIDI is embedded whole; default: whole files)."),
                  shard: Optional[str] = typer.Option(None, "--shard", metavar="i/N",
                                                      help="Embed only shard i of N (a stable partition by track id) "
                                                           "into a store of its own; `counterpoint store merge` joins "
                                                           "the shards.")) -> None:
    """Embed every track with each encoder into an HDF5 store. Rerunning resumes.

    Example: counterpoint embed ~/data/corpus --encoders symbolic-stats,audio-stats --out corpus.h5
    """
    from counterpoint.data.manifest import load_manifest
    from counterpoint.embed import embed_dataset
    from counterpoint.shards import parse_shard

    shard_to_embed = parse_shard(shard) if shard is not None else None  # a bad i/N is refused before the dataset is read

    manifest = load_manifest(root, group_column=group, strict_paths=strict_paths, csv=csv, id_column=id_column,
                             id_from=id_from)
    for problem in manifest.problems:
        tell(styled("skipped:", "yellow", str(problem)))
    for note in manifest.notes:
        tell(f"note: {note}")
    with progress_bars() as progress:
        report = embed_dataset(manifest, out, encoders, batch_size=batch_size or None, progress=progress,
                               engine=engine, ray_address=ray_address, max_seconds=max_seconds,
                               shard=shard_to_embed)
    for note in report.notes:
        tell(f"note: {note}")
    for run in report.runs:
        changed = f" ({run.reembedded} of them again: their files changed since)" if run.changed else ""
        show(f"{run.spec}: {run.embedded} embedded{changed}, {run.skipped} already in the store, "
               f"{len(run.failed)} failed ({run.seconds:.1f} s)")
        for track_id, stage, message in run.failed[:10]:
            show(styled(f"  {stage}", "red", message))
        if len(run.failed) > 10:
            show(f"  … {len(run.failed) - 10} more: `counterpoint store info {out} --failures`")
    show(f"store: {out}" + (f" (shard {shard_to_embed}: `counterpoint store merge` joins the shards)"
                            if shard_to_embed is not None else ""))

