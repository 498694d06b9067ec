"""The analysis commands: `analyze` (one report), `probe`, `compare` (also `--aligned`, `--layers`), `factors`,
`equivariance`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from counterpoint.cli.app import PlainUsageCommand, app, friendly
from counterpoint.cli.options import (check_output_path, depth_option, figure_format_option, group_option,
                                      hidden_sizes, label_option, seed_option, selected_store, setting, where_option)
from counterpoint.cli.output import (accuracy_line, interval_text, progress_bars, number_text, result_table, show,
                                     show_json, show_verdicts, tell)
from counterpoint.config import (AlignedSettings, AnalysisSettings, CompareSettings, EquivarianceSettings,
                                 FactorSettings, TrainSettings, figure_formats, probe_model_names)
from counterpoint.parameters import declarations

#: ``--json`` of compare and probe.
JSON_HELP = ("Print one JSON document on standard output (the headline figures, notes and the paths of what was "
             "written) instead of tables.")


@app.command("analyze", cls=PlainUsageCommand)
@friendly
def analyze_command(path: Path = typer.Argument(..., metavar="FILE.h5", help="Store file (.h5)."),
                    label: str = label_option("Metadata column to colour and score by."),
                    out: Path = typer.Option(..., "--out", "-o", callback=check_output_path,
                                             help="Output folder for figures, CSVs, metrics.json, index.html."),
                    depth: Optional[int] = depth_option(),
                    group: Optional[str] = group_option(),
                    seed: int = seed_option(),
                    compare: bool = setting(AnalysisSettings, "compare", "--compare/--no-compare"),
                    probe_models: str = typer.Option("", help="Probe models for a probe table in the report, e.g. linear,mlp (empty: none)."),
                    where: list[str] = where_option(),
                    probe_seeds: int = setting(AnalysisSettings, "probe_seeds"),
                    probe_weights: str = setting(AnalysisSettings, "probe_weights"),
                    figure_format: str = figure_format_option(),
                    aligned: bool = setting(AnalysisSettings, "aligned"),
                    scatter_limit: int = setting(AnalysisSettings, "scatter_limit")) -> None:
    """Per-space figures (PCA/t-SNE/UMAP, centroid distances, variance, clustering, timing),
    the audio-vs-symbolic comparison, optional probes — one report page.

    Example: counterpoint analyze corpus.h5 --label style --group work --out report/
    """
    from counterpoint.pipeline import analyze_everything

    options = AnalysisSettings(label=label, depth=depth, group=group, seed=seed, compare=compare,
                              probe_models=probe_model_names(probe_models), probe_seeds=probe_seeds,
                              probe_weights=probe_weights, figure_formats=figure_formats(figure_format),
                              aligned=aligned, scatter_limit=scatter_limit)
    result = analyze_everything(selected_store(path, where), options, out, step=tell)
    show_verdicts(result)
    show(f"report: {result.report}")


@app.command("fetch-plotly", cls=PlainUsageCommand)
@friendly
def fetch_plotly_command() -> None:
    """Install the light, cartesian-only plotly.js (1.5 MB) that report pages then inline instead of the full
    bundle (4.8 MB): downloads the pinned npm tarball (needs the network), checks its published integrity.

    Example: counterpoint fetch-plotly
    """
    from counterpoint.report.plotly_bundle import CARTESIAN, install_plotly_bundle

    tell(f"fetching {CARTESIAN.package}@{CARTESIAN.version} from {CARTESIAN.tarball}")
    show(f"{CARTESIAN.package}: {install_plotly_bundle()}")


@app.command("probe", cls=PlainUsageCommand)
@friendly
def probe_command(path: Path = typer.Argument(..., metavar="FILE.h5", help="Store file (.h5)."),
                  label: Optional[str] = typer.Option(None, "--label", "-l", help="Metadata column to predict (not with --model-path: the saved probe has its own)."),
                  encoder: Optional[str] = typer.Option(None, "--encoder", "-e", help="Encoder spec or name in the store."),
                  all_encoders: bool = typer.Option(False, "--all-encoders", help="Every encoder × every --model: probe_table.csv/json."),
                  model: list[str] = typer.Option(["linear"], "--model", "-m", help="linear | mlp | lstm | attention | package.module:Class | file.py:Class (repeatable with --all-encoders)."),
                  model_path: Optional[Path] = typer.Option(None, "--model-path", help="Evaluate a saved probe folder on this store instead of training."),
                  out: Path = typer.Option(..., "--out", "-o", callback=check_output_path, help="Output folder."),
                  group: Optional[str] = group_option(),
                  hidden: str = typer.Option(",".join(map(str, TrainSettings.hidden)),
                                             help=declarations(TrainSettings)["hidden"].help),
                  dropout: float = setting(TrainSettings, "dropout"),
                  epochs: int = setting(TrainSettings, "epochs"),
                  patience: int = setting(TrainSettings, "patience"),
                  lr: float = setting(TrainSettings, "lr"),
                  training_batch: int = setting(TrainSettings, "training_batch"),
                  max_tracks: int = setting(TrainSettings, "max_tracks"),
                  seed: int = seed_option("Seed of the folds and the training (repeat r trains with seed + r)."),
                  seeds: int = setting(AnalysisSettings, "probe_seeds", "--seeds",
                                       help="Repeats of the 5-fold cross-validation that gives the probe accuracy (each "
                                            "its own fold shuffle and training seed --seed + repeat)."),
                  depth: Optional[int] = depth_option(),
                  where: list[str] = where_option(),
                  device: str = setting(TrainSettings, "device"),
                  as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
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
        evaluation = evaluate_saved(model_path, selected_store(path, where), device=device)
        write_evaluation(evaluation, out)
        for note in evaluation.notes:
            tell(note)
        if as_json:
            show_json({"encoder": evaluation.encoder, "model": evaluation.model, "saved_probe": str(model_path),
                       "accuracy": evaluation.scored.to_dict(), "macro_f1": evaluation.macro_f1,
                       "notes": evaluation.notes, "folder": str(out)})
            return
        show(f"{evaluation.encoder} · {evaluation.model} (saved): {accuracy_line(evaluation.scored)}; "
               f"macro-F1 {evaluation.macro_f1:.3f} → {out}")
        return
    if label is None:
        raise typer.BadParameter("give --label (the metadata column to predict)")
    settings = TrainSettings(epochs=epochs, patience=patience, lr=lr, training_batch=training_batch, seed=seed, device=device,
                             hidden=hidden_sizes(hidden), dropout=dropout, max_tracks=max_tracks)
    store = selected_store(path, where)
    if all_encoders:
        with progress_bars() as bars:
            table = probe_table(store, label, models=model, repeats=seeds, depth=depth, group=group, settings=settings,
                                progress=lambda what, started, total: bars("probes (encoder × model)", started, total))
            bars("probes (encoder × model)", len(table.table), len(table.table))
        write_probe_table(table, out)
        for (probed_encoder, probed_model), result in table.results.items():
            for note in result.notes:
                tell(f"{probed_encoder} · {probed_model}: {note}")
        if as_json:
            show_json({"label": label, "table": table.table.to_dict(orient="records"), "folder": str(out),
                       "files": {"table_csv": str(out / "probe_table.csv"), "table_json": str(out / "probe_table.json")}})
            return
        show(result_table(f"probe accuracy of {label!r} (95 % interval; chance = majority share; p: permutation, Holm "
                      "over the rows)", ["encoder", "model", "accuracy [95 % CI]", "chance", "p", "p (Holm)", "n",
                                         "protocol", "error"],
                      [[r.encoder, r.model, interval_text(r.accuracy, r.ci_low, r.ci_high), number_text(r.chance),
                        number_text(r.p_value, ".3g"), number_text(r.p_holm, ".3g"), number_text(r.n, ".0f"),
                        r.protocol if isinstance(r.protocol, str) else "", r.error]
                       for r in table.table.itertuples()]))
        show(f"table: {out / 'probe_table.csv'}")
        return
    if encoder is None or len(model) != 1:
        raise typer.BadParameter("a single probe needs --encoder and one --model (or use --all-encoders)")
    with progress_bars() as bars:
        result = probe(store, encoder, label=label, model=model[0], depth=depth, group=group, settings=settings,
                       repeats=seeds, progress=bars)
    write_probe_result(result, out)
    for note in result.notes:
        tell(note)
    if as_json:
        show_json({"encoder": result.config["encoder"], "model": result.model, "label": label,
                   "accuracy": result.protocol.to_dict(), "test_split_accuracy": result.test_split_accuracy,
                   "test_tracks": result.split_counts["test"], "macro_f1": result.macro_f1,
                   "best_epoch": result.best_epoch, "notes": result.notes, "folder": str(out)})
        return
    show(f"{result.config['encoder']} · {result.model}: {accuracy_line(result.protocol)}")
    show(f"  protocol: {result.protocol.plan.description} — {result.protocol.plan.reason}")
    show(f"  saved model ({result.config['split_source']}): test split accuracy {result.test_split_accuracy:.3f} "
           f"({result.split_counts['test']} tracks), macro-F1 {result.macro_f1:.3f}, best epoch {result.best_epoch} "
           f"→ {out}")


@app.command("compare", cls=PlainUsageCommand)
@friendly
def compare_command(path: Path = typer.Argument(..., metavar="FILE.h5", help="Store file (.h5) with audio and symbolic encoders."),
                    label: str = label_option("Class column: label quality, centroid agreement, stratified splits."),
                    out: Path = typer.Option(..., "--out", "-o", callback=check_output_path,
                                             help="Folder for alignment.csv, label_quality.csv, compare.json, PNGs."),
                    depth: Optional[int] = depth_option(),
                    group: Optional[str] = group_option(),
                    k: int = setting(CompareSettings, "k"),
                    n_boot: int = setting(CompareSettings, "n_boot"),
                    n_perm: int = setting(CompareSettings, "n_perm"),
                    fixed_n_perm: bool = setting(CompareSettings, "fixed_n_perm"),
                    untrained_control: bool = setting(CompareSettings, "untrained_control"),
                    where: list[str] = where_option(),
                    seed: int = seed_option(),
                    figure_format: str = figure_format_option(),
                    layers: bool = typer.Option(False, "--layers", help="Instead of the comparison: the layer × layer "
                                                "debiased-CKA map of audio encoders embedded with layers=all (OUT/layers/)."),
                    audio: Optional[str] = typer.Option(None, "--audio", help="With --layers: the audio encoder (default: every one with layers)."),
                    symbolic: Optional[str] = typer.Option(None, "--symbolic", help="With --layers: the symbolic encoder (default: every one)."),
                    aligned: bool = setting(AnalysisSettings, "aligned"),
                    alignment: str = setting(AlignedSettings, "alignment"),
                    segment_seconds: float = setting(AlignedSettings, "segment_seconds"),
                    as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Do audio and symbolic embeddings agree? CKA, RSA, mutual kNN, retrieval, label quality, with CIs.

    \b
    Examples:
      counterpoint compare corpus.h5 --label style --group work --out compare/
      counterpoint compare corpus.h5 --label style --aligned --alignment auto --segment-seconds 3 --out compare/
      counterpoint compare corpus.h5 --label style --layers --out compare/
    """
    if layers:
        _compare_layers(selected_store(path, where), label, out, depth=depth, audio=audio, symbolic=symbolic,
                        n_boot=n_boot, n_perm=n_perm, seed=seed, fixed_n_perm=fixed_n_perm,
                        formats=figure_formats(figure_format), as_json=as_json)
        return
    from counterpoint.analysis.compare import run_compare, verdict_table
    from counterpoint.report.compare import write_comparison
    from counterpoint.report.verdict import comparison_terminal_text

    settings = CompareSettings(label=label, depth=depth, group=group, k=k, n_boot=n_boot, n_perm=n_perm, seed=seed,
                               fixed_n_perm=fixed_n_perm, untrained_control=untrained_control)
    aligned_settings = AlignedSettings(label=label, depth=depth, group=group, alignment=alignment,
                                       segment_seconds=segment_seconds, n_boot=n_boot, n_perm=n_perm, seed=seed,
                                       fixed_n_perm=fixed_n_perm)
    store = selected_store(path, where)
    result = run_compare(store, settings)
    written = write_comparison(result, out, formats=figure_formats(figure_format))
    document = {"label": label, "verdicts": verdict_table(result).to_dict(orient="records") if result.pairs else [],
                "notes": result.notes, "folder": str(out), "files": {key: str(file) for key, file in written.items()}}
    if not as_json:
        show(comparison_terminal_text(result))
    for note in result.notes:
        tell(f"  {note}")
    if untrained_control:
        from counterpoint.analysis.untrained import run_untrained_control
        from counterpoint.report.untrained import untrained_terminal_text, write_untrained

        control = run_untrained_control(result, store, required=True)
        document["untrained_control"] = {"rows": control.control.to_dict(orient="records"), "notes": control.notes,
                                         "files": {k: str(f) for k, f in write_untrained(control, out).items()}}
        if not as_json:
            show(untrained_terminal_text(control))
    if aligned:
        from counterpoint.analysis.time_aligned import aligned_summary, run_aligned_compare
        from counterpoint.data.time_pairing import store_time_pairing
        from counterpoint.report.time_aligned import FOLDER, write_aligned

        tell("pairing audio and score in time")
        with progress_bars() as progress:
            timed = run_aligned_compare(store, aligned_settings, time_pairing=store_time_pairing(store.path),
                                        progress=progress)
        write_aligned(timed, out / FOLDER, figure_formats(figure_format))
        document["aligned"] = {"summary": aligned_summary(timed), "notes": timed.notes, "folder": str(out / FOLDER)}
        if not as_json:
            show(aligned_summary(timed))
        for note in timed.notes:
            tell(f"  {note}")
    if as_json:
        show_json(document)
    else:
        show(f"tables and figures: {out}")


def _compare_layers(store, label: str, out: Path, *, depth: Optional[int], audio: Optional[str],
                    symbolic: Optional[str], n_boot: int, n_perm: int, seed: int, fixed_n_perm: bool,
                    formats: tuple[str, ...], as_json: bool) -> None:
    """``compare --layers``: the layer maps computed, written under OUT/layers/ and printed."""
    from counterpoint.analysis.layers import layer_cka_map
    from counterpoint.report.layers import write_layer_maps

    maps = layer_cka_map(store, label, audio=audio, symbolic=symbolic, depth=depth, n_boot=n_boot, n_perm=n_perm, seed=seed,
                         fixed_n_perm=fixed_n_perm)
    folder = write_layer_maps(maps, out, formats=formats)
    for m in maps:
        if m.note:
            tell(f"  {m.note}")
    if as_json:
        show_json({"label": label, "layer_maps": [{"audio": m.audio, "symbolic": m.symbolic,
                                                   "table": m.table.to_dict(orient="records"), "note": m.note}
                                                  for m in maps], "folder": str(folder)})
        return
    for m in maps:
        show(f"{m.audio} × {m.symbolic} (debiased CKA, 95% CI, Holm-adjusted p):")
        for row in m.table.itertuples(index=False):
            show(f"  {row.audio_layer:>14} × {row.symbolic_layer}: {row.value:.3f} [{row.ci_low:.3f}, {row.ci_high:.3f}] "
                   f"p_holm={row.p_holm:.3g} n={row.n}")
    show(f"tables and figures: {folder}")


@app.command("factors", cls=PlainUsageCommand)
@friendly
def factors_command(path: Path = typer.Argument(..., metavar="FILE.h5", help="Store of a designed corpus (pieces rendered several ways, transcribed)."),
                    out: Path = typer.Option(..., "--out", "-o", callback=check_output_path,
                                             help="Folder for variance.csv, renderings.csv, transcription.csv, factors.json, figures, index.html."),
                    label: Optional[str] = setting(FactorSettings, "label", "--label", "-l"),
                    piece: str = setting(FactorSettings, "piece"),
                    rendering: str = setting(FactorSettings, "rendering"),
                    k: int = setting(FactorSettings, "k"),
                    n_boot: int = setting(FactorSettings, "n_boot"),
                    n_perm: int = setting(FactorSettings, "n_perm"),
                    fixed_n_perm: bool = setting(FactorSettings, "fixed_n_perm"),
                    where: list[str] = where_option(),
                    seed: int = seed_option(),
                    figure_format: str = figure_format_option()) -> None:
    """Piece vs rendering vs transcription: variance shares, CKA between renderings, ground truth vs transcribed MIDI.

    Example: counterpoint factors designed.h5 --label style --out factors/
    """
    from counterpoint.pipeline import run_factors_with_quality
    from counterpoint.report.factors import write_factors_report

    settings = FactorSettings(piece=piece, rendering=rendering, label=label, k=k, n_boot=n_boot, n_perm=n_perm,
                              seed=seed, fixed_n_perm=fixed_n_perm)
    result = run_factors_with_quality(selected_store(path, where), settings)
    index = write_factors_report(result, out, figure_formats(figure_format))
    for title, frame, columns in (
            ("variance shares (audio encoders)", result.variance, ["encoder", "factor", "share", "ci_low", "ci_high", "p_holm"]),
            ("between renderings", result.renderings, ["encoder", "rendering_a", "rendering_b", "value", "ci_low", "ci_high", "p_holm"]),
            ("ground truth vs transcription", result.transcription, ["encoder", "transcription", "measure", "value", "ci_low", "ci_high", "chance", "p_holm"]),
            ("agreement vs transcription F-measure", result.noise, ["encoder", "transcription", "figure", "measure", "f_low", "f_high", "value", "ci_low", "ci_high", "p_holm"])):
        if len(frame):
            show(result_table(title, columns, frame[columns].values.tolist()))
    for note in result.notes:
        tell(f"  {note}")
    show(f"report: {index}")



@app.command("equivariance", cls=PlainUsageCommand)
@friendly
def equivariance_command(path: Path = typer.Argument(..., metavar="FILE.h5", help="Store of a transformed corpus (`dataset transform`)."),
                         out: Path = typer.Option(..., "--out", "-o", callback=check_output_path,
                                                  help="Folder for displacement.csv, predictability.csv, agreement.csv, "
                                                       "equivariance.json, figures, index.html."),
                         piece: str = setting(EquivarianceSettings, "piece"),
                         transform: str = setting(EquivarianceSettings, "transform"),
                         amount: str = setting(EquivarianceSettings, "amount"),
                         alpha: float = setting(EquivarianceSettings, "alpha"),
                         n_boot: int = setting(EquivarianceSettings, "n_boot"),
                         n_perm: int = setting(EquivarianceSettings, "n_perm"),
                         fixed_n_perm: bool = setting(EquivarianceSettings, "fixed_n_perm"),
                         where: list[str] = where_option(),
                         seed: int = seed_option(),
                         figure_format: str = figure_format_option()) -> None:
    """Transposition and tempo: how far each encoder moves, whether the amount is predictable, whether audio and score move alike.

    Example: counterpoint equivariance moved.h5 --out equivariance/
    """
    from counterpoint.analysis.equivariance import run_equivariance
    from counterpoint.report.equivariance import write_equivariance_report

    settings = EquivarianceSettings(piece=piece, transform=transform, amount=amount, alpha=alpha, n_boot=n_boot,
                                    n_perm=n_perm, seed=seed, fixed_n_perm=fixed_n_perm)
    result = run_equivariance(selected_store(path, where), settings)
    index = write_equivariance_report(result, out, figure_formats(figure_format))
    for title, frame, columns in (
            ("relative displacement", result.displacement, ["encoder", "transform", "amount", "value", "ci_low", "ci_high"]),
            ("amount from the displacement", result.predictability, ["encoder", "transform", "value", "ci_low", "ci_high", "chance", "p_holm"]),
            ("audio and score move alike", result.agreement, ["audio", "symbolic", "transform", "value", "ci_low", "ci_high", "null_mean", "p_holm"])):
        if len(frame):
            show(result_table(title, columns, frame[columns].values.tolist()))
    for note in result.notes:
        tell(f"  {note}")
    show(f"report: {index}")
