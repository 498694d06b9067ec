"""Equivariance across modalities (see :mod:`counterpoint.analysis.equivariance`) written out:
``displacement.csv``, ``predictability.csv``, ``agreement.csv``, ``equivariance.json``, two figures and
their HTML section — inside a report (the registered ``equivariance`` section:
``build_report(..., results={"equivariance": result})``, or computed by ``analyze`` on a store with
transformed copies) or as a page of its own (:func:`write_equivariance_report`, what
``counterpoint equivariance`` writes)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from counterpoint.analysis.equivariance import (TRANSFORMS, EquivarianceResult, has_transformed_rows,  # noqa: E402
                                                run_equivariance)
from counterpoint.config import EquivarianceSettings  # noqa: E402
from counterpoint.errors import CounterpointError  # noqa: E402
from counterpoint.ranges import MEASURES  # noqa: E402
from counterpoint.report.figures import DEFAULT_FIGURE_FORMATS, MIN_FONT_PT, OKABE_ITO, plain, save_figure  # noqa: E402
from counterpoint.report.files import write_json  # noqa: E402
from counterpoint.report.html import escape, image_figure, table_html, write_section_page  # noqa: E402
from counterpoint.report.sections import Section, SectionInputs, register_section  # noqa: E402

#: The files :func:`write_equivariance` writes besides the figures.
TABLE_FILES = {"displacement": "displacement.csv", "predictability": "predictability.csv",
               "agreement": "agreement.csv", "json": "equivariance.json"}
#: How each transformation's amount is read on an axis.
AMOUNT_AXIS = {"transpose": "transposition (semitones)", "tempo": "tempo factor"}


def plot_displacement(displacement: pd.DataFrame, stem: Path, formats: Sequence[str] = DEFAULT_FIGURE_FORMATS) -> Path:
    """One panel per transformation: each encoder's relative displacement against the amount, with its
    95 % interval (solid: audio encoders, dashed: symbolic)."""
    transforms = [t for t in TRANSFORMS if t in set(displacement["transform"])]
    encoders = list(dict.fromkeys(displacement.encoder))
    fig, axes = plt.subplots(1, len(transforms), figsize=(4.2 * len(transforms) + 1.6, 3.4), squeeze=False)
    for ax, transform in zip(axes[0], transforms):
        for number, encoder in enumerate(encoders):
            part = displacement[(displacement.encoder == encoder) & (displacement["transform"] == transform)]
            part = part.sort_values("amount")
            if part.empty:
                continue
            errors = np.abs(np.vstack([part.value - part.ci_low, part.ci_high - part.value]).astype(float))
            ax.errorbar(part.amount, part.value, yerr=np.nan_to_num(errors), marker="o", markersize=4, capsize=2,
                        color=OKABE_ITO[number % len(OKABE_ITO)], label=plain(encoder),
                        linestyle="-" if part.modality.iloc[0] == "audio" else "--")
        ax.set_xlabel(AMOUNT_AXIS[transform], fontsize=MIN_FONT_PT + 1)
        ax.set_ylabel("displacement / median distance between pieces", fontsize=MIN_FONT_PT + 1)
        ax.set_ylim(bottom=0)
        ax.tick_params(labelsize=MIN_FONT_PT)
        ax.set_title(f"How far {transform} moves each embedding", fontsize=10)
    axes[0][-1].legend(fontsize=MIN_FONT_PT, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return save_figure(fig, stem, formats)


def plot_tests(result: EquivarianceResult, stem: Path, formats: Sequence[str] = DEFAULT_FIGURE_FORMATS) -> Path:
    """Every tested figure as a point with its 95 % interval; hollow: chance, or the shuffled null's mean."""
    rows = [(f"{r.encoder} · {r.transform}: amount accuracy", r) for r in result.predictability.itertuples()
            if np.isfinite(r.value)]
    rows += [(f"{r.audio} × {r.symbolic} · {r.transform}: agreement", r) for r in result.agreement.itertuples()]
    fig, ax = plt.subplots(figsize=(6.4, 1.0 + 0.32 * max(len(rows), 1)))
    for y, (_, r) in enumerate(rows):
        colour = OKABE_ITO[4] if hasattr(r, "encoder") else OKABE_ITO[5]
        low, high = (r.ci_low, r.ci_high) if np.isfinite(r.ci_low) else (r.value, r.value)
        ax.errorbar(r.value, y, xerr=[[max(r.value - low, 0)], [max(high - r.value, 0)]], fmt="o", color=colour,
                    capsize=2, markersize=4)
        reference = r.chance if np.isfinite(r.chance) else r.null_mean
        if np.isfinite(reference):
            ax.plot(reference, y, marker="o", markerfacecolor="white", markeredgecolor="#444", linestyle="none",
                    markersize=5)
    ax.set_yticks(range(len(rows)), [plain(name) for name, _ in rows], fontsize=MIN_FONT_PT)
    ax.invert_yaxis()
    lowest = min((v for _, r in rows for v in (r.ci_low, r.value) if np.isfinite(v)), default=0.0)
    ax.set_xlim(min(-0.1, lowest - 0.05), 1.05)  # debiased CKA may fall below 0
    ax.axvline(0, color="#bbb", linewidth=0.8)
    ax.set_xlabel("value (hollow: chance or shuffled-pairing null)", fontsize=MIN_FONT_PT + 1)
    ax.tick_params(labelsize=MIN_FONT_PT)
    ax.set_title("Is the change predictable, and do the modalities move alike?", fontsize=10)
    return save_figure(fig, stem, formats)


def write_equivariance(result: EquivarianceResult, out_dir: str | Path,
                       formats: Sequence[str] = DEFAULT_FIGURE_FORMATS) -> dict[str, Path]:
    """Write the tables, ``equivariance.json`` and the figures into ``out_dir``; returns {name: path}
    (the figures as the file a page shows)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {key: out / name for key, name in TABLE_FILES.items()}
    for name, table in result.tables.items():
        table.to_csv(files[name], index=False)
    write_json(files["json"], result.as_dict())
    if len(result.displacement):
        files["displacement_figure"] = plot_displacement(result.displacement, out / "displacement", formats)
    if len(result.predictability) or len(result.agreement):
        files["tests_figure"] = plot_tests(result, out / "tests", formats)
    return files


def equivariance_html(result: EquivarianceResult, files: dict[str, Path], page_dir: Path) -> str:
    """The section: the definitions (from the measures' declarations), the figures, the three tables, and
    which family each p-value adjustment ran over."""
    figures = "".join(image_figure(files[key], page_dir, caption) for key, caption in (
        ("displacement_figure", "Relative displacement of each encoder by amount (95 % bootstrap intervals over pieces)"),
        ("tests_figure", "Amount accuracy and displacement agreement (95 % intervals; hollow: chance or the "
                         "shuffled-pairing null)")) if key in files)
    definitions = "".join(f"<li><b>{escape(MEASURES[name].title)}</b>: {escape(MEASURES[name].prose)}</li>"
                          for name in ("relative_displacement", "amount_accuracy", "displacement_agreement"))
    estimate = ["value", "ci_low", "ci_high", "chance", "null_mean", "p_value", "p_holm", "p_bh", "n"]
    notes = "".join(f'<p class="note">{escape(n)}</p>' for n in result.notes)
    return f"""<section id="equivariance"><h2>Equivariance across modalities: transposition and tempo</h2>
<p class="note">Each piece (column <code>{escape(result.settings.piece)}</code>) transposed and played faster or
slower in its MIDI, then rendered again with the same SoundFont: the same musical change in both modalities
(column <code>{escape(result.settings.transform)}</code>, amount in <code>{escape(result.settings.amount)}</code>).
Features are divided by their standard deviation over all of an encoder's rows; the displacement of a copy is
its standardised embedding minus its original's.</p><ul class="note">{definitions}</ul>
<p class="note">p_holm (Holm, family-wise error) and p_bh (Benjamini–Hochberg, false discovery rate) are adjusted
over one family per table: every encoder × transformation's amount accuracy; every audio × symbolic pair ×
transformation's agreement. The relative displacement is a description with an interval and no test. Each
table's p-values come from as many permutations as its family needs
({escape(', '.join(f'{table} {n:,}' for table, n in result.n_perm.items()))}; the smallest possible p is
1 / (permutations + 1)).</p>
<div class="grid">{figures}</div>
<h3>Relative displacement</h3>{table_html(result.displacement.reindex(
        columns=["encoder", "modality", "transform", "amount", "value", "ci_low", "ci_high", "n"]),
        caption="Relative displacement per encoder, transformation and amount")}
<h3>Is the amount predictable from the displacement?</h3>{table_html(result.predictability.reindex(
        columns=["encoder", "modality", "transform", "n_amounts", *estimate]),
        caption="Amount accuracy per encoder and transformation")}
<h3>Do audio and score move alike?</h3>{table_html(result.agreement.reindex(
        columns=["audio", "symbolic", "transform", *estimate]),
        caption="Displacement agreement per audio × symbolic pair and transformation")}
{notes}</section>"""


def equivariance_section(result: EquivarianceResult, folder: str = "equivariance"):
    """A writer, given (page folder, figure formats), of the files into ``PAGE/<folder>/``, returning the
    section's HTML (the report's registered ``equivariance`` section)."""
    def write(report_dir: Path, formats: Sequence[str]) -> str:
        report_dir = Path(report_dir)
        return equivariance_html(result, write_equivariance(result, report_dir / folder, formats), report_dir)

    return write


def write_equivariance_report(result: EquivarianceResult, out_dir: str | Path,
                              formats: Sequence[str] = DEFAULT_FIGURE_FORMATS) -> Path:
    """Equivariance as a folder of its own: the files of :func:`write_equivariance` and ``index.html``."""
    out = Path(out_dir)
    section = equivariance_html(result, write_equivariance(result, out, formats), out)
    return write_section_page(out, section, title=f"Counterpoint — equivariance of {result.store.name}",
                              subtitle=f"store <code>{escape(result.store)}</code>")


def _run(inputs: SectionInputs) -> EquivarianceResult | None:
    """In a report: computed when the store holds transformed copies (else nothing, and no note)."""
    if not has_transformed_rows(inputs.store):
        return None
    inputs.announce("measuring equivariance (transformed copies)")
    try:
        return run_equivariance(inputs.store, EquivarianceSettings(seed=inputs.options.seed),
                                matrices=dict(inputs.matrices))
    except CounterpointError as error:
        inputs.note_failure("equivariance", error)
        return None


def _summary(result: EquivarianceResult) -> str:
    lines = [f"equivariance: {r.audio} × {r.symbolic} · {r.transform}: displacement agreement {r.value:.2f} "
             f"[{r.ci_low:.2f}, {r.ci_high:.2f}], null {r.null_mean:.2f}, p_holm {r.p_holm:.3g}"
             for r in result.agreement.itertuples()]
    return "\n".join(lines)


register_section(Section("equivariance", 76, write=lambda result, page: equivariance_section(result)(page.out_dir,
                                                                                                    page.formats),
                         run=_run, summary=_summary))
