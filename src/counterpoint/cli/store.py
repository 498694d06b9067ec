"""Commands that read, merge or convert a store: `store info`, `store merge`, `export`, `import-legacy`, `export-legacy`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from counterpoint.cli.app import PlainUsageCommand, app, friendly, store_app
from counterpoint.cli.options import above_zero
from counterpoint.cli.output import progress_bars, result_table, show, show_json, styled, tell


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
                                                     "Exit status 1 if any changed or is missing."),
               as_json: bool = typer.Option(False, "--json", help="Print one JSON document (every encoder, every "
                                                                  "failure, the source files' state) instead of tables.")) -> None:
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
    summary = _store_summary(store, path, check_files)
    if as_json:
        show_json(summary)
    else:
        _print_summary(summary, path, list_all_failures=failures)
    if check_files and any(s["other_file"] or s["changed"] or s["missing"] for s in summary["sources"]):
        raise typer.Exit(1)


#: The columns of the encoders table of `store info` (and the keys of its JSON form).
_ENCODER_COLUMNS = ("spec", "modality", "dim", "tracks", "frames", "seconds", "weights digest", "layer")


def _store_summary(store, path: Path, check_files: bool) -> dict:
    """What `store info` reports, as plain values: the same document is printed as tables or as JSON."""
    tracks = store.tracks()
    timing = store.timing().set_index("encoder")
    grouped = [layer for r in store.encoders for layer in (store.layers(r.base_spec) if r.base_spec else [r])]
    records = list({r.spec: r for r in grouped + store.all_encoders}.values())  # an encoder's layers together
    encoders = [dict(zip(_ENCODER_COLUMNS, (r.spec, r.modality, int(r.dim), int(r.n_tracks), int(r.n_frames),
                                            float(timing.loc[r.spec, "seconds"]), r.fingerprint.get("weights"),
                                            _layer_text(r) if r.layer is not None else None)))
                for r in records]
    return {"path": str(path), "tracks": len(tracks), "created": store.attrs.get("created"),
            "updated": store.attrs.get("updated"), "datasets": list(store.roots),
            "metadata_columns": [c for c in tracks.columns if c not in ("id", "audio_filename", "midi_filename")],
            "encoders": encoders, "failures": store.failures().to_dict(orient="records"),
            "journal_problems": store.journal_problems(), "pending_batches": store.pending_batches(),
            "checked_files": check_files,
            "sources": [{"spec": c.spec, "tracks": c.tracks, "unknown": len(c.unknown), "other_file": c.other_file,
                         "changed": c.changed, "missing": c.missing} for c in store.check_sources(files=check_files)]}


def _print_summary(summary: dict, path: Path, list_all_failures: bool) -> None:
    """`store info` as text and tables (see :func:`_store_summary`)."""
    roots = summary["datasets"]
    show(f"{path}: {summary['tracks']} tracks; created {summary['created']}, updated {summary['updated']}; "
         f"dataset {' and '.join(roots) if roots else '?'}")
    show(f"metadata columns: {', '.join(summary['metadata_columns'])}")
    rows = [[e["spec"], e["modality"], e["dim"], e["tracks"], e["frames"], f"{e['seconds']:.1f}",
             e["weights digest"] or "—", e["layer"] or "—"] for e in summary["encoders"]]
    show(result_table("Encoders", list(_ENCODER_COLUMNS), rows))
    failures = summary["failures"]
    show(f"failures: {len(failures)}")
    for row in failures if list_all_failures else failures[:10]:
        show(f"  {row['encoder']} · {row['track_id']} · {row['stage']}: {row['error']}")
    if not list_all_failures and len(failures) > 10:
        show("  … (--failures lists all)")
    for problem in summary["journal_problems"]:
        show(styled("journal:", "red", problem))
    if summary["pending_batches"] and not summary["journal_problems"]:
        show(styled(f"{summary['pending_batches']} batch(es) of an interrupted run are not folded in yet — "
                    "rerun the same `counterpoint embed` command to resume", "yellow"))
    _print_sources(summary, path)


def _print_sources(summary: dict, path: Path) -> None:
    """Print what the store knows of each embedding's source file."""
    root = summary["datasets"][-1] if summary["datasets"] else "ROOT"
    found = 0
    for check in summary["sources"]:
        if check["unknown"]:
            show(f"{check['spec']}: {check['unknown']} of {check['tracks']} tracks were embedded before stores recorded "
                 f"their source files — they cannot be checked (embed into a new store to record them)")
        for key, what in (("other_file", "were embedded from another file than the track table names now"),
                          ("changed", "have files that changed since they were embedded"),
                          ("missing", "have files missing from the dataset")):
            if ids := check[key]:
                found += len(ids)
                show(styled(f"{check['spec']}:", "yellow", f"{len(ids)} tracks {what} (e.g. {ids[0]!r}) — rerun "
                            f"`counterpoint embed {root} -e '{check['spec']}' --out {path}` to embed them again"))
    recorded = sum(c["tracks"] - c["unknown"] for c in summary["sources"])
    if not found:
        state = ("unchanged on disk" if summary["checked_files"] else
                 "recorded (--check-files compares them with the files on disk)")
        show(f"source files: {recorded} embeddings' files {state}")


@store_app.command("merge", cls=PlainUsageCommand)
@friendly
def store_merge(shards: list[Path] = typer.Argument(..., metavar="SHARD.h5",
                                                    help="Shard stores written by `counterpoint embed --shard i/N`."),
                out: Path = typer.Option(..., "--out", "-o", help="Store to create, or to add to (of the same dataset)."),
                complete: bool = typer.Option(False, "--complete", help="Refuse to merge unless every shard 0 … N−1 "
                                                                        "is given or was merged into --out before."),
                batch_size: int = typer.Option(1024, "--batch-size", min=1,
                                               help="Tracks copied per commit (fewer where their frames exceed 128 MB).")) -> None:
    """Merge shard stores into one store; rerunning resumes a merge that was stopped.

    Refuses shards of another dataset, shard count or encoder fingerprint, naming the file and what differs.
    Example: counterpoint store merge shards/part-*.h5 --out corpus.h5 --complete
    """
    from counterpoint.store_merge import merge_stores

    with progress_bars() as progress:
        report = merge_stores(shards, out, complete=complete, batch_size=batch_size, progress=progress)
    for note in [*report.duplicates, *report.notes]:
        tell(f"note: {note}")
    shown = ", ".join(str(s.shard) for s in report.shards)
    show(f"merged shards {shown} of {report.shards[0].shard.count} into {out}; it holds {report.failures} failures "
         f"(`counterpoint store info {out} --failures` lists them)")
    for spec, added in report.added.items():
        show(f"  {spec}: {added} tracks added, {report.held[spec]} already in the store")


@app.command("export", cls=PlainUsageCommand)
@friendly
def export_command(path: Path = typer.Argument(..., metavar="FILE.h5", help="Store file (.h5)."),
                   encoder: str = typer.Option(..., "--encoder", "-e", help="Encoder spec or name in the store."),
                   out: Path = typer.Option(..., "--out", "-o", help="Output file: .npz or .parquet.")) -> None:
    """Write one encoder's pooled embeddings with ids, labels and feature names.

    Example: counterpoint export corpus.h5 --encoder audio-stats --out audio_stats.npz
    """
    from counterpoint.export import export_embeddings

    show(f"wrote {export_embeddings(path, encoder, out)}")


@app.command("import-legacy", cls=PlainUsageCommand)
@friendly
def import_legacy_command(source: Path = typer.Argument(..., metavar="OLD.h5", help="HDF5 file in the student tools' layout."),
                          out: Path = typer.Option(..., "--out", "-o", help="Store file to write (.h5)."),
                          hop: Optional[float] = typer.Option(None, callback=above_zero,
                                                              help="Seconds between frames (else frame indices).")) -> None:
    """Convert an audio_embeddings/ + symbolic_embeddings/ file into a store.

    Example: counterpoint import-legacy old_embeddings.h5 --out imported.h5 --hop 0.5
    """
    from counterpoint.legacy import import_legacy

    store = import_legacy(source, out, hop)
    show(f"wrote {out}: {', '.join(store.encoder_specs)}")


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

    show(f"wrote {export_legacy(path, out, audio_encoder=audio_encoder, symbolic_encoder=symbolic_encoder)}")

