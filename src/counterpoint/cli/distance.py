"""`counterpoint distance`: distribution distances (FAD/FMD, FD∞, MMD², KAD) between two track sets."""

from __future__ import annotations

from pathlib import Path
from typing import Optional
import typer

from counterpoint.cli.app import PlainUsageCommand, app, friendly
from counterpoint.cli.options import check_output_path, figure_format_option, seed_option, setting
from counterpoint.cli.output import number_text, result_table, show, show_json, tell
from counterpoint.config import DistanceSettings, figure_formats
from counterpoint.errors import CounterpointError, StoreError

SET_HELP = ("Set {name}: the tracks whose COLUMN reads VALUE, e.g. audio_source=rendered:{example} (repeatable: all "
            "must hold).{extra}")


def selected_set(path: Path, conditions: list[str], flag: str):
    """The store at ``path`` seen through ``flag``'s ``COLUMN=VALUE`` conditions; an empty selection is an error
    naming ``flag``, the condition and the values there are."""
    from counterpoint.store import Store

    store = Store(path)
    for condition in conditions:
        column, equals, value = condition.partition("=")
        if not equals or not column.strip():
            raise typer.BadParameter(f"{condition!r}: write COLUMN=VALUE, e.g. style=bach_chorale",
                                     param_hint=f"'{flag}'")
        try:
            store = store.where(column.strip(), value)
        except StoreError as error:
            raise StoreError(f"{flag} {condition}: {str(error).replace(f'--where {column.strip()}={value}', 'it')}") from None
    return store


@app.command("distance", cls=PlainUsageCommand)
@friendly
def distance_command(stores: list[Path] = typer.Argument(..., metavar="STORE [STORE_B]",
                                                         help="One store (with --a and --b), or two stores (set A, set B)."),
                     a: list[str] = typer.Option([], "--a", metavar="COLUMN=VALUE",
                                                 help=SET_HELP.format(name="A (the reference of KAD)", example="TimGM6mb", extra="")),
                     b: list[str] = typer.Option([], "--b", metavar="COLUMN=VALUE",
                                                 help=SET_HELP.format(name="B", example="Merlin",
                                                                     extra=" With two stores: of the second.")),
                     encoder: list[str] = typer.Option([], "--encoder", "-e",
                                                       help="Encoder spec or name (repeatable; default: every encoder "
                                                            "both sets hold, with one fingerprint)."),
                     out: Path = typer.Option(..., "--out", "-o", callback=check_output_path,
                                              help="Folder for distances.csv, outliers.csv, contributions.csv, "
                                                   "distances.json, the figure and index.html."),
                     n_boot: int = setting(DistanceSettings, "n_boot"),
                     n_perm: int = setting(DistanceSettings, "n_perm"),
                     fixed_n_perm: bool = setting(DistanceSettings, "fixed_n_perm"),
                     extrapolation_steps: int = setting(DistanceSettings, "extrapolation_steps"),
                     extrapolation_min_fraction: float = setting(DistanceSettings, "extrapolation_min_fraction"),
                     outliers: int = setting(DistanceSettings, "outliers"),
                     paired: Optional[str] = setting(DistanceSettings, "paired"),
                     seed: int = seed_option(),
                     figure_format: str = figure_format_option(),
                     as_json: bool = typer.Option(False, "--json", help="Print one JSON document (the distance "
                                                            "table, the outliers, notes and the folder) instead of tables.")) -> None:
    """Are two track sets distributed alike in each embedding space? Fréchet distance (FAD for audio encoders,
    FMD for symbolic ones) and FD∞, unbiased MMD² and KAD, with bootstrap intervals, permutation p-values and the
    tracks that make the sets differ most.

    \b
    Examples:
      counterpoint distance corpus.h5 --a audio_source=rendered:TimGM6mb --b audio_source=rendered:Merlin --paired piece --out dist/
      counterpoint distance corpus.h5 --a midi_source=original --b midi_source=transcribed:basic-pitch-0.4.0 --out dist/
      counterpoint distance rendered.h5 recorded.h5 --encoder musicnn --out dist/
    """
    from counterpoint.analysis.distances import run_distances
    from counterpoint.report.distances import write_distance_report

    if len(stores) > 2:
        raise CounterpointError(f"{len(stores)} stores given: compare one store with --a and --b, or two stores "
                                "(set A, set B)")
    if len(stores) == 1 and not (a and b):
        raise CounterpointError(f"{stores[0]}: one store holds both sets — give --a and --b (COLUMN=VALUE each, e.g. "
                                "--a style=trecento --b style=fiddle_tune), or a second store")
    settings = DistanceSettings(n_boot=n_boot, n_perm=n_perm, fixed_n_perm=fixed_n_perm, seed=seed,
                                extrapolation_steps=extrapolation_steps,
                                extrapolation_min_fraction=extrapolation_min_fraction, outliers=outliers,
                                paired=paired)
    first = selected_set(stores[0], a, "--a")
    second = selected_set(stores[-1], b, "--b")
    tell("computing distribution distances (bootstrap, permutations, leave-one-out)")
    result = run_distances(first, second, settings, encoders=encoder or None)
    index = write_distance_report(result, out, figure_formats(figure_format))
    if as_json:
        show_json({"sets": result.sets.to_dict(orient="records"),
                   "distances": result.distances.to_dict(orient="records"),
                   "outliers": result.outliers.to_dict(orient="records"), "n_perm": result.n_perm,
                   "notes": result.notes, "folder": str(out)})
        return
    set_a, set_b = result.sets.selection
    show(result_table(f"A: {set_a} vs B: {set_b} (95 % interval; p: {result.n_perm:,} permutations, Holm over the "
                      "table)", ["encoder", "distance", "value [95 % CI]", "null mean", "p", "p (Holm)", "n A", "n B"],
                      [[r.encoder, f"{r.name} {r.measure}" if r.measure.startswith("frechet") else r.measure,
                        _interval(r.value, r.ci_low, r.ci_high), number_text(r.null_mean, ".4g"), number_text(r.p_value, ".3g"),
                        number_text(r.p_holm, ".3g"), str(r.n_a), str(r.n_b)] for r in result.distances.itertuples()]))
    top = result.contributions[result.contributions["rank"] <= min(3, settings.outliers)]
    show(result_table("tracks that make the sets differ most (distance − distance without the track)",
                      ["encoder", "set", "track", "Fréchet change", "MMD² change"],
                      [[r.encoder, r.set.upper(), r.id, number_text(r.frechet_change), number_text(r.mmd2_change, ".3g")]
                       for r in top.itertuples()]))
    for note in result.notes:
        tell(f"  {note}")
    show(f"report: {index}")


def _interval(value: float, low: float, high: float) -> str:
    """``1.23 [0.98, 1.5]``: four significant digits, as a distance's scale is its encoder's (MMD² of 0.0004)."""
    return f"{number_text(value, '.4g')} [{number_text(low, '.4g')}, {number_text(high, '.4g')}]"
