"""Probe results written out: a probe's folder (the saved model, its reports, test predictions,
confusion matrix), an evaluation's, the encoders × models table, and its HTML section."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from counterpoint.probes.persist import save_probe  # noqa: E402
from counterpoint.report.files import slug, write_json  # noqa: E402
from counterpoint.probes.run import P_VALUE_FAMILIES, EvaluationResult, ProbeResult, ProbeTable  # noqa: E402
from counterpoint.report.figures import (DEFAULT_FIGURE_FORMATS, MIN_FONT_PT, most_frequent, named_note,  # noqa: E402
                                         other_label, plain, save_figure)
from counterpoint.report.html import PROBE_ACCURACY, format_number, sortable_table  # noqa: E402
from counterpoint.report.interactive import BLUES, heatmap_spec, plotly_figure  # noqa: E402
from counterpoint.report.sections import ReportPage, Section, SectionInputs, register_section  # noqa: E402
from counterpoint.report.verdict import family_sentence, p_text  # noqa: E402


def folded_confusion(matrix: np.ndarray, classes: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """The confusion matrix a figure shows: every class when there are at most
    :data:`~counterpoint.report.figures.FIGURE_CLASSES`, else the most frequent true classes and one
    "other" row and column summing the rest (the counts still add up to the test tracks)."""
    matrix = np.asarray(matrix)
    named = most_frequent(classes, matrix.sum(axis=1))
    if len(named) == len(classes):
        return matrix, list(classes)
    keep = np.isin(np.asarray(classes, dtype=str), named)
    rows = np.vstack([matrix[keep], matrix[~keep].sum(axis=0, keepdims=True)])
    folded = np.column_stack([rows[:, keep], rows[:, ~keep].sum(axis=1)])
    return folded, [*named, other_label(int((~keep).sum()))]


def confusion_matrix_figure(matrix: np.ndarray, classes: Sequence[str], title: str = "") -> Figure:
    """A confusion matrix (rows = true class, columns = predicted), coloured by row share, annotated with
    counts; with many classes, the most frequent and one "other" (:func:`folded_confusion`)."""
    n_classes = len(classes)
    matrix, classes = folded_confusion(matrix, classes)
    if len(classes) < n_classes:
        title = f"{title}\n({named_note(len(classes) - 1, n_classes)})".strip()
    totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, totals, out=np.zeros(matrix.shape, dtype=float), where=totals > 0)
    size = max(4.0, 0.55 * len(classes) + 2.5)
    fig, ax = plt.subplots(figsize=(size, size * 0.9), layout="constrained")
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(len(classes)), [plain(c) for c in classes], rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), [plain(c) for c in classes])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(plain(title))
    if len(classes) <= 30:
        for (row, col), count in np.ndenumerate(matrix):
            ax.text(col, row, str(int(count)), ha="center", va="center", fontsize=MIN_FONT_PT,
                    color="white" if shares[row, col] > 0.5 else "black")
    fig.colorbar(image, ax=ax, label="share of true class")
    return fig


def save_confusion_matrix(matrix: np.ndarray, classes: Sequence[str], path: str | Path, *, title: str = "",
                          formats: Sequence[str] = DEFAULT_FIGURE_FORMATS) -> Path:
    """Write :func:`confusion_matrix_figure` in each of ``formats`` (``path``'s suffix replaced)."""
    return save_figure(confusion_matrix_figure(matrix, classes, title), Path(path).with_suffix(""), formats)


#: The subfolder of a probe's folder that holds every cross-validation fold's probe (``--probe-weights all``).
FOLDS_DIR = "folds"


def write_probe_result(result: ProbeResult, out_dir: str | Path, formats: Sequence[str] = DEFAULT_FIGURE_FORMATS,
                       *, weights: str = "first") -> Path:
    """Write model.safetensors and config.json (the probe, for ``--model-path``; ``weights="none"``: not
    written), probe_accuracy.json and protocol_predictions.csv (the probe accuracy under the one protocol and
    its held-out predictions), training_history.json, classification_report.json/.txt, test_predictions.csv
    and the confusion matrix in each of ``formats`` (the saved run's test split, a detail) into ``out_dir``;
    with ``weights="all"`` also each fold's probe kept in ``result.fold_probes``, under
    ``folds/fold_NN_seed_S/`` (see :data:`~counterpoint.config.PROBE_WEIGHTS`)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if weights != "none":
        save_probe(result.probe, result.config, out_dir)
    if weights == "all":
        for probe, config in result.fold_probes:
            save_probe(probe, config, out_dir / FOLDS_DIR / f"fold_{config['fold']:02d}_seed_{config['seed']}")
    if result.protocol is not None:
        write_json(out_dir / "probe_accuracy.json", {**result.protocol.to_dict(), "notes": result.notes})
        result.protocol.predictions.to_csv(out_dir / "protocol_predictions.csv", index=False)
    write_json(out_dir / "training_history.json", result.history)
    write_json(out_dir / "classification_report.json",
               {"split": "test", "test_split_accuracy": result.test_split_accuracy, "macro_f1": result.macro_f1,
                "report": result.report})
    (out_dir / "classification_report.txt").write_text(
        f"test split of the saved run, {result.split_counts['test']} tracks (the probe accuracy is in "
        f"probe_accuracy.json)\n\n{result.report_text}", encoding="utf-8")
    result.test_predictions.to_csv(out_dir / "test_predictions.csv", index=False)
    title = f"{result.config.get('encoder', '')} · {result.model} · test split macro-F1 {result.macro_f1:.3f}".strip(" ·")
    save_confusion_matrix(result.confusion, result.classes, out_dir / "confusion_matrix.png", title=title,
                          formats=formats)
    return out_dir


def write_evaluation(result: EvaluationResult, out_dir: str | Path) -> Path:
    """Write evaluation_report.json/.txt, predictions.csv and confusion_matrix.png into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "evaluation_report.json", {"model_dir": str(result.model_dir), **result.scored.to_dict(),
                                                "macro_f1": result.macro_f1, "unseen_labels": result.unseen_labels,
                                                "seen_left_out": result.seen_left_out, "notes": result.notes,
                                                "report": result.report})
    (out / "evaluation_report.txt").write_text("\n".join(result.notes + ["", result.report_text]), encoding="utf-8")
    result.predictions.to_csv(out / "predictions.csv", index=False)
    save_confusion_matrix(result.confusion, result.classes, out / "confusion_matrix.png",
                          title=f"{result.encoder} · {result.model} · macro-F1 {result.macro_f1:.3f}")
    return out


def write_probe_table(table: ProbeTable, out_dir: str | Path, formats: Sequence[str] = DEFAULT_FIGURE_FORMATS,
                      *, weights: str = "first") -> Path:
    """Write every probe under ``out_dir/<encoder>/<model>`` (see :func:`write_probe_result`, ``weights`` its
    weight files), ``probe_table.csv`` (one row per encoder × model) and ``probe_table.json``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for (encoder, model), result in table.results.items():
        write_probe_result(result, out / slug(encoder) / slug(model), formats, weights=weights)
    table.table.to_csv(out / "probe_table.csv", index=False)
    write_json(out / "probe_table.json", table.as_dict())
    return out


def _figure(value: float | None) -> str:
    return "—" if value is None else format_number(float(value))


def probe_html_section(probes: ProbeTable, title: str = "Probes") -> str:
    """An HTML ``<section>`` with the probe table: the probe accuracy with its interval, chance, null and p
    (best accuracy per model in bold), the protocol, and details (macro-F1, the saved run's test split)."""
    table = probes.table
    best = table[table["error"] == ""].groupby("model")["accuracy"].max().to_dict() if len(table) else {}
    protocols = sorted({str(p) for p in table["protocol"].dropna()}) if len(table) else []
    lines = [f"<section class=\"probes\" id=\"probes\">\n<h2>{html.escape(title)}</h2>",
             f"<p>{PROBE_ACCURACY} Here: each model named in its row, trained anew on every fold "
             f"({html.escape('; '.join(protocols) or 'no protocol')}). Macro-F1 is of the same held-out "
             "predictions; the test split accuracy is the saved model's, a detail. "
             'From <a href="probes/probe_table.csv">probe_table.csv</a>; saved models (<code>--probe-weights</code>) and confusion matrices under '
             '<a href="probes/">probes/</a>.</p>',
             f'<p class="note">p: label-permutation null. {html.escape(family_sentence(P_VALUE_FAMILIES["table"]))}</p>']
    rows = []
    for row in table.to_dict(orient="records"):
        cells = [f"<td>{html.escape(str(row[key]))}</td>" for key in ("encoder", "modality", "model")]
        if row.get("error"):
            cells.append(f"<td colspan=\"11\">failed: {html.escape(str(row['error']))}</td>")
        else:
            accuracy = f"{_figure(row['accuracy'])} [{_figure(row['ci_low'])}, {_figure(row['ci_high'])}]"
            if best.get(row["model"]) == row["accuracy"]:
                accuracy = f"<strong>{accuracy}</strong>"
            values = [accuracy, _figure(row.get("chance")), _figure(row.get("null_mean")), p_text(row.get("p_value")),
                      p_text(row.get("p_holm")), p_text(row.get("p_bh")), _figure(row["macro_f1"]),
                      str(int(row["n_classes"])), str(int(row["n"])),
                      f"{_figure(row['test_split_accuracy'])} ({int(row['n_test'])})", html.escape(str(row["notes"]))]
            cells += [f"<td>{v}</td>" for v in values]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    head = ("encoder", "modality", "model", "accuracy [95 % CI]", "chance", "null mean", "p", "p (Holm)", "p (BH)",
            "macro-F1", "classes", "tracks", "test split accuracy (tracks)", "notes")
    lines.append(sortable_table(head, "\n".join(rows), caption="Probe accuracy of each encoder and model"))
    lines.append("</section>")
    return "\n".join(lines)


def _run_probes(inputs: SectionInputs) -> ProbeTable | None:
    """The probe table of a report, when ``options.probe_models`` names any."""
    from counterpoint.probes.run import probe_table

    options = inputs.options
    if not options.probe_models:
        return None
    inputs.announce(f"training probes ({', '.join(options.probe_models)}; 5-fold cross-validation × "
                    f"{options.probe_seeds} repeats)")
    return probe_table(inputs.store, options.label, models=options.probe_models, repeats=options.probe_seeds,
                       encoders=[r.spec for r in inputs.store.analysed_encoders()], depth=options.depth,
                       group=options.group, pooled=inputs.matrices, keep_fold_probes=options.probe_weights == "all",
                       progress=lambda what, done, total: inputs.announce(f"  probe {done + 1}/{total}: {what}"))


def confusion_spec(result: ProbeResult, title: str) -> dict:
    """The interactive confusion matrix of a probe's saved run (counts on hover, coloured by the share of the
    true class; many classes folded as :func:`folded_confusion`)."""
    matrix, classes = folded_confusion(result.confusion, result.classes)
    totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, totals, out=np.zeros(matrix.shape, dtype=float), where=totals > 0)
    counts = pd.DataFrame(matrix.astype(int), index=classes, columns=classes)
    return heatmap_spec(counts, title=title, colour_label="share of true class", row_title="true",
                        column_title="predicted", colourscale=BLUES, value_range=(0.0, 1.0),
                        colours=pd.DataFrame(shares, index=classes, columns=classes))


def confusion_section(probes: ProbeTable, page_dir: Path) -> str:
    """Every probe's confusion matrix (its saved run's test split), drawn in the page with links to its files."""
    figures = [plotly_figure(confusion_spec(result, f"{encoder} · {model}"),
                             caption=f"{encoder} · {model}: confusion matrix of the saved run's test split",
                             static=page_dir / "probes" / slug(encoder) / slug(model) / "confusion_matrix.png",
                             page_dir=page_dir)
               for (encoder, model), result in probes.results.items()]
    if not figures:
        return ""
    return ('<h3>Confusion matrices</h3><div class="grid" style="grid-template-columns: repeat(auto-fill, '
            f'minmax(320px, 1fr));">{"".join(figures)}</div>')


def _probes_html(probes: ProbeTable, page: ReportPage) -> str:
    write_probe_table(probes, page.out_dir / "probes", page.formats, weights=page.probe_weights)
    section = probe_html_section(probes)
    return section.removesuffix("</section>") + confusion_section(probes, page.out_dir) + "</section>"


register_section(Section("probes", 80, run=_run_probes, write=_probes_html))
