"""Commands about models: the encoders, their weight files, and the musicnn tagger."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from counterpoint.cli.app import PlainUsageCommand, app, friendly, weights_app
from counterpoint.cli.output import result_table, show, show_json, styled, tell
from counterpoint.errors import CounterpointError


@app.command("encoders", cls=PlainUsageCommand)
@friendly
def encoders_command(as_json: bool = typer.Option(False, "--json", help="Print one JSON document instead of a table.")) -> None:
    """List every encoder: name, modality, dimension, whether it can run here, what it needs.

    Example: counterpoint encoders --json
    """
    from counterpoint.encoders.registry import REGISTRY

    encoders = []
    for name, entry in REGISTRY.items():
        try:
            cls = entry.load()
            reason = cls.unavailable_reason()
            encoders.append({"name": name, "modality": cls.modality, "dim": cls().dim if reason is None else None,
                             "usable": reason is None, "needs": cls.requirements, "unavailable_reason": reason})
        except Exception as exc:  # an encoder whose module cannot even import
            encoders.append({"name": name, "modality": None, "dim": None, "usable": False, "needs": "",
                             "unavailable_reason": f"{type(exc).__name__}: {exc}"})
    if as_json:
        show_json(encoders)
        return
    rows = [[e["name"], e["modality"] or "?", "—" if e["dim"] is None else str(e["dim"]), "yes" if e["usable"] else "no",
             e["needs"]] for e in encoders]
    show(result_table("Encoders", ["name", "modality", "dim", "usable now", "needs"], rows))
    for e in encoders:
        if e["unavailable_reason"] is not None:
            show(f"- {e['name']}: {e['unavailable_reason']}")


@weights_app.command("list", cls=PlainUsageCommand)
@friendly
def weights_list(as_json: bool = typer.Option(False, "--json", help="Print one JSON document instead of a table.")) -> None:
    """Show each model's weight files, sizes, source and whether they are present.

    The size is the file's on disk when it is present, else its declared size: exact where a
    source gives it, "≈" estimated from the architecture, "≤" an upper bound (text files).
    Example: counterpoint weights list --json
    """
    from counterpoint.encoders.registry import declared_weights
    from counterpoint.encoders.weights import weights_status

    files = [weights_status(f) for declared in declared_weights().values() for f in declared]
    if as_json:
        show_json(files)
        return
    rows = [[f["model"], f["file"], f["size"], f["source"], f["path"] or "missing"] for f in files]
    show(result_table("Model weights", ["model", "file", "size", "source", "present"], rows))
    show("size: on disk for a present file; else declared (≈ estimated from the architecture, ≤ an upper bound)")
    for f in files:
        if f["far_from_declared"]:
            show(f"- note: {f['path']} is {f['size']} on disk, declared {f['declared_size']} ({f['size_basis']})")


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
            tell(f"fetching {f.filename} with `{sys.executable} -m pip install --no-deps {f.pip_requirement}`")
        else:
            tell(f"fetching {f.filename} ({f.size_text}) from {f.source}")
        show(f"{f.filename}: {fetch_weights(f)}")


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
            tell(styled("error:", "red", str(exc)))
            continue
        blocks.append("\n".join([f"{path}:"] + [f"  {tag:20s} {probability:.2f}" for tag, probability in tags]))
    print("\n\n".join(blocks))
    if failed:
        raise typer.Exit(1)

