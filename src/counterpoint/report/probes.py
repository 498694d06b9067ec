"""Probe results written out: a probe's folder (the saved model, its reports, test predictions,
confusion matrix), an evaluation's, the encoders × models table, and its HTML section."""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import numpy as np  # noqa: E402

from counterpoint.probes.persist import save_probe, write_json  # noqa: E402
from counterpoint.probes.run import P_VALUE_FAMILIES, EvaluationResult, ProbeResult, ProbeTable  # noqa: E402
from counterpoint.report.figures import (FIGURE_FORMATS, MIN_FONT_PT, most_frequent, named_note,  # noqa: E402
                                         other_label, plain, save_figure)
from counterpoint.report.html import PROBE_ACCURACY  # noqa: E402
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


def save_confusion_matrix(matrix: np.ndarray, classes: Sequence[str], path: str | Path, title: str = "",
                          formats: Sequence[str] = FIGURE_FORMATS) -> Path:
    """Write :func:`confusion_matrix_figure` in each of ``formats`` (``path``'s suffix replaced)."""
    return save_figure(confusion_matrix_figure(matrix, classes, title), Path(path).with_suffix(""), formats)


def write_probe_result(result: ProbeResult, out_dir: str | Path, formats: Sequence[str] = FIGURE_FORMATS) -> Path:
    """Write model.safetensors and config.json (the probe, for ``--model-path``), training_history.json,
    classification_report.json/.txt, test_predictions.csv and confusion_matrix.png into ``out_dir``."""
    out_dir = Path(out_dir)
    save_probe(result.probe, result.config, out_dir)
    write_json(out_dir / "training_history.json", result.history)
    write_json(out_dir / "classification_report.json",
               {"split": "test", "accuracy": result.accuracy, "macro_f1": result.macro_f1, "report": result.report})
    (out_dir / "classification_report.txt").write_text(
        f"test split, {result.split_counts['test']} tracks\n\n{result.report_text}", encoding="utf-8")
    result.test_predictions.to_csv(out_dir / "test_predictions.csv", index=False)
    title = f"{result.config.get('encoder', '')} · {result.model} · test macro-F1 {result.macro_f1:.3f}".strip(" ·")
    save_confusion_matrix(result.confusion, result.classes, out_dir / "confusion_matrix.png", title=title,
                          formats=formats)
    return out_dir


def write_evaluation(result: EvaluationResult, out_dir: str | Path) -> Path:
    """Write evaluation_report.json/.txt, predictions.csv and confusion_matrix.png into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "evaluation_report.json", {"model_dir": str(result.model_dir), "accuracy": result.accuracy,
                                                "macro_f1": result.macro_f1, "unseen_labels": result.unseen_labels,
                                                "notes": result.notes, "report": result.report})
    (out / "evaluation_report.txt").write_text("\n".join(result.notes + ["", result.report_text]), encoding="utf-8")
    result.predictions.to_csv(out / "predictions.csv", index=False)
    save_confusion_matrix(result.confusion, result.classes, out / "confusion_matrix.png",
                          title=f"{result.encoder} · {result.model} · macro-F1 {result.macro_f1:.3f}")
    return out


def _folder_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", text).strip("_") or "probe"


def write_probe_table(table: ProbeTable, out_dir: str | Path, formats: Sequence[str] = FIGURE_FORMATS) -> Path:
    """Write every run under ``out_dir/<encoder>/<model>/seed<k>`` (see :func:`write_probe_result`),
    ``probe_runs.csv`` (one row per run), ``probe_table.csv`` and ``probe_table.json``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for (encoder, model, seed), result in table.results.items():
        write_probe_result(result, out / _folder_name(encoder) / _folder_name(model) / f"seed{seed}", formats)
    table.runs.to_csv(out / "probe_runs.csv", index=False)
    table.table.to_csv(out / "probe_table.csv", index=False)
    write_json(out / "probe_table.json", {"label": table.label, "seeds": table.seeds,
                                          "rows": table.table.replace({np.nan: None}).to_dict(orient="records")})
    return out


def _mean_std(mean: float, std: float) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "—"
    return f"{mean:.3f}" + ("" if std is None or math.isnan(std) else f" ± {std:.3f}")


def probe_html_section(probes: ProbeTable, title: str = "Probes") -> str:
    """An HTML ``<section>`` with the probe table (mean ± std over seeds; best macro-F1 per model in bold)."""
    table = probes.table
    best = table[table["error"] == ""].groupby("model")["macro_f1_mean"].max().to_dict() if len(table) else {}
    lines = [f"<section class=\"probes\">\n<h2>{html.escape(title)}</h2>",
             f"<p>{PROBE_ACCURACY} Here: the test split, each model named in its row (mean ± standard deviation "
             "over seeds; splits keep every group on one side). Chance macro-F1 is about 1 / number of classes. "
             'From <a href="probes/probe_table.csv">probe_table.csv</a>; confusion matrices under '
             '<a href="probes/">probes/</a>.</p>',
             f'<p class="note">p: exact binomial test of test accuracy against chance, the largest over seeds. '
             f"{html.escape(family_sentence(P_VALUE_FAMILIES['table']))} probe_runs.csv adjusts its own family, "
             f"{html.escape(P_VALUE_FAMILIES['runs'])}.</p>",
             "<table class=\"sortable\">\n<thead><tr><th>encoder</th><th>modality</th><th>model</th><th>seeds</th>"
             "<th>accuracy</th><th>chance</th><th>p</th><th>p (Holm)</th><th>p (BH)</th><th>macro-F1</th>"
             "<th>classes</th><th>test tracks</th></tr></thead>\n<tbody>"]
    for row in table.to_dict(orient="records"):
        cells = [f"<td>{html.escape(str(row[key]))}</td>" for key in ("encoder", "modality", "model")]
        if row.get("error"):
            cells.append(f"<td colspan=\"9\">failed: {html.escape(str(row['error']))}</td>")
        else:
            f1 = _mean_std(row["macro_f1_mean"], row["macro_f1_std"])
            if best.get(row["model"]) == row["macro_f1_mean"]:
                f1 = f"<strong>{f1}</strong>"
            values = [str(int(row["seeds"])), _mean_std(row["accuracy_mean"], row["accuracy_std"]),
                      _mean_std(row.get("chance"), None), p_text(row.get("p_value")), p_text(row.get("p_holm")),
                      p_text(row.get("p_bh")), f1,
                      str(int(row["n_classes"])), f"{row['n_test']:.0f}"]
            cells += [f"<td>{v}</td>" for v in values]
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines.append("</tbody>\n</table>\n</section>")
    return "\n".join(lines)
