"""Controlled factors (see :mod:`counterpoint.analysis.factors`) written out: ``variance.csv``,
``renderings.csv``, ``transcription.csv``, ``factors.json``, two figures, and their HTML section —
inside a report (the registered ``factors`` section: ``build_report(..., results={"factors": result})``) or
as a page of its own (:func:`write_factors_report`, what ``counterpoint factors`` writes)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from counterpoint.analysis.factors import FactorsResult  # noqa: E402
from counterpoint.report.figures import DEFAULT_FIGURE_FORMATS, MIN_FONT_PT, OKABE_ITO, plain, save_figure  # noqa: E402
from counterpoint.ranges import measure_title  # noqa: E402
from counterpoint.report.files import write_json  # noqa: E402
from counterpoint.report.sections import Section, register_section  # noqa: E402
from counterpoint.report.html import escape, image_figure, table_html, write_section_page  # noqa: E402

#: The files :func:`write_factors` writes besides the figures.
TABLE_FILES = {"variance": "variance.csv", "renderings": "renderings.csv", "transcription": "transcription.csv",
               "quality": "transcription_quality.csv", "noise": "transcription_noise.csv", "json": "factors.json"}
FACTOR_NAMES = {"piece": "piece", "rendering": "rendering", "residual": "residual (interaction + noise)",
                "label": "label", "piece_within_label": "piece within its label"}


def plot_variance_shares(variance: pd.DataFrame, stem: Path, formats: Sequence[str] = DEFAULT_FIGURE_FORMATS) -> Path:
    """One group of bars per audio encoder: each factor's share of the variance with its 95 % interval."""
    encoders = list(dict.fromkeys(variance.encoder))
    factors = [f for f in FACTOR_NAMES if f in set(variance.factor)]
    width = 0.8 / len(factors)
    fig, ax = plt.subplots(figsize=(5.6, 1.2 + 0.3 * len(encoders) * len(factors)))
    for number, factor in enumerate(factors):
        part = variance[variance.factor == factor].set_index("encoder").reindex(encoders)
        y = np.arange(len(encoders)) + (number - (len(factors) - 1) / 2) * width
        errors = np.abs(np.vstack([part.share - part.ci_low, part.ci_high - part.share]).astype(float))
        ax.barh(y, part.share, height=width, color=OKABE_ITO[number % len(OKABE_ITO)], label=FACTOR_NAMES[factor],
                xerr=np.nan_to_num(errors), error_kw={"elinewidth": 1, "capsize": 2})
    ax.set_yticks(range(len(encoders)), [plain(e) for e in encoders], fontsize=MIN_FONT_PT)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the embedding variance (sum of squares / total)", fontsize=MIN_FONT_PT + 1)
    ax.tick_params(labelsize=MIN_FONT_PT)
    ax.set_title("What the audio embeddings vary with", fontsize=10)
    ax.legend(fontsize=MIN_FONT_PT, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return save_figure(fig, stem, formats)


def plot_agreement(result: FactorsResult, stem: Path, formats: Sequence[str] = DEFAULT_FIGURE_FORMATS) -> Path:
    """Every agreement figure as a point with its 95 % interval; hollow: chance, or the shuffled null's mean."""
    rows = [(f"{r.encoder}: {r.rendering_a} vs {r.rendering_b} (CKA)", r) for r in result.renderings.itertuples()]
    rows += [(f"{r.encoder}: {r.transcription.split(' of ')[-1]} transcribed — {r.measure}", r)
             for r in result.transcription.itertuples()]
    fig, ax = plt.subplots(figsize=(6.4, 1.0 + 0.32 * max(len(rows), 1)))
    for y, (_, r) in enumerate(rows):
        colour = OKABE_ITO[4] if hasattr(r, "rendering_a") else OKABE_ITO[5]
        ax.errorbar(r.value, y, xerr=[[max(r.value - r.ci_low, 0)], [max(r.ci_high - r.value, 0)]], fmt="o",
                    color=colour, capsize=2, markersize=4)
        reference = r.chance if np.isfinite(r.chance) else r.null_mean
        if np.isfinite(reference):
            ax.plot(reference, y, marker="o", markerfacecolor="white", markeredgecolor="#444", linestyle="none",
                    markersize=5)
    ax.set_yticks(range(len(rows)), [plain(name) for name, _ in rows], fontsize=MIN_FONT_PT)
    ax.invert_yaxis()
    ax.set_xlim(-0.1, 1.05)
    ax.axvline(0, color="#bbb", linewidth=0.8)
    ax.set_xlabel("value (hollow: chance or shuffled-pairing null)", fontsize=MIN_FONT_PT + 1)
    ax.tick_params(labelsize=MIN_FONT_PT)
    ax.set_title("Same pieces, other rendering or transcribed MIDI", fontsize=10)
    return save_figure(fig, stem, formats)


def write_factors(result: FactorsResult, out_dir: str | Path, formats: Sequence[str] = DEFAULT_FIGURE_FORMATS) -> dict[str, Path]:
    """Write the tables, ``factors.json`` and the figures into ``out_dir``; returns {name: path}
    (the figures as the file a page shows)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {key: out / name for key, name in TABLE_FILES.items()}
    result.variance.to_csv(files["variance"], index=False)
    result.renderings.to_csv(files["renderings"], index=False)
    result.transcription.to_csv(files["transcription"], index=False)
    result.quality.to_csv(files["quality"], index=False)
    result.noise.to_csv(files["noise"], index=False)
    write_json(files["json"], result.as_dict())
    if len(result.variance):
        files["variance_figure"] = plot_variance_shares(result.variance, out / "variance_shares", formats)
    if len(result.renderings) or len(result.transcription):
        files["agreement_figure"] = plot_agreement(result, out / "agreement", formats)
    return files


def factors_html(result: FactorsResult, files: dict[str, Path], page_dir: Path) -> str:
    """The section: what was measured, the figures, the three tables, and which family each p-value
    adjustment ran over."""
    figures = "".join(image_figure(files[key], page_dir, caption) for key, caption in (
        ("variance_figure", "Share of each audio encoder's variance explained by the piece, by the rendering, and "
                            "left over (95 % intervals from half-samples of the pieces)"),
        ("agreement_figure", "Debiased CKA between renderings, and ground truth vs transcribed MIDI (95 % "
                             "intervals; hollow: chance or the shuffled-pairing null)")) if key in files)
    shown = ["encoder", "factor", "share", "ci_low", "ci_high", "p_value", "null_mean", "p_holm", "p_bh", "n_pieces"]
    agreement = ["value", "ci_low", "ci_high", "chance", "null_mean", "p_value", "p_holm", "p_bh", "n"]
    notes = "".join(f'<p class="note">{escape(n)}</p>' for n in result.notes)
    return f"""<section id="factors"><h2>Controlled factors: piece, rendering, transcription</h2>
<p class="note">The same pieces, rendered through several SoundFonts (column <code>{escape(result.settings.rendering)}
</code>) and transcribed back to MIDI, pieces named by <code>{escape(result.settings.piece)}</code>. <b>Variance
decomposition</b>: each audio encoder's pooled embeddings as a balanced pieces × renderings layout; the multivariate
sums of squares (summed over features) split the total into piece, rendering and residual (interaction and noise),
each shown as a share of the total{', the piece share split into the label ' + escape(repr(result.settings.label))
+ ' and the pieces within it' if result.settings.label else ''}. Intervals: random halves of the pieces (each
piece with all its renderings), reflected around the estimate; p-values:
the piece share against pieces shuffled within each rendering, the rendering share against renderings shuffled
within each piece, the label share against labels shuffled over pieces; null_mean is the share under that
shuffle. <b>Between renderings</b>: debiased CKA of the same pieces rendered two ways, half-sample intervals,
p-values against shuffled pairings. <b>Ground truth vs transcription</b>: for each symbolic encoder, debiased CKA,
mutual kNN and Recall@1 of the true partner (by cosine, both ways) between the ground-truth MIDI and the MIDI
transcribed from one rendering — what transcription errors cost.</p>
<p class="note">p_holm (Holm, family-wise error) and p_bh (Benjamini–Hochberg, false discovery rate) are adjusted
over one family per table: every tested share (piece, rendering, label) of every audio encoder; every pair of
renderings of every audio encoder; every measure × transcription × symbolic encoder. Each table's p-values come
from as many permutations as its family needs ({escape(', '.join(f'{table} {n:,}' for table, n in result.n_perm.items()))};
the smallest possible p is 1 / (permutations + 1)).</p>
<div class="grid">{figures}</div>
<h3>Variance decomposition</h3>{table_html(result.variance.reindex(columns=shown), caption="Shares of the variance")}
<h3>Between renderings</h3>{table_html(result.renderings.reindex(columns=["encoder", "rendering_a", "rendering_b",
                                                                          "measure", *agreement]),
                                           caption="Debiased CKA between renderings")}
<h3>Ground truth vs transcription</h3>{table_html(result.transcription.reindex(columns=["encoder", "transcription",
                                                                                     "measure", *agreement]),
                                                    caption="Ground truth vs transcribed MIDI")}
{noise_html(result)}
{notes}</section>"""


def noise_html(result: FactorsResult) -> str:
    """The transcription-noise part of the section: what it measures, a sentence per slope, the table ("" without
    F-measures)."""
    if result.quality.empty:
        return ""
    slopes = result.noise[result.noise.measure == "change_per_tenth_f"] if len(result.noise) else result.noise
    sentences = "".join(
        f"<li>{escape(r.encoder)}, {escape(r.transcription)}: {escape(measure_title(r.figure))} changes by "
        f"{r.value:+.3f} [{r.ci_low:+.3f}, {r.ci_high:+.3f}] per 0.1 of F-measure (p_holm {r.p_holm:.2g})</li>"
        for r in slopes.itertuples())
    f = result.quality.f_measure
    return f"""<h3>Transcription noise: agreement against the transcription's note F-measure</h3>
<p class="note">Each transcribed MIDI is scored against its ground truth as <code>mir_eval</code> scores note
transcription: onset within 50 ms and pitch, offsets ignored (<code>transcription_quality.csv</code>; here F from
{f.min():.2f} to {f.max():.2f}, median {f.median():.2f}, over {len(f)} transcriptions). Per piece, the similarity of
the transcription's embedding with its ground truth's and the reciprocal rank of that true partner are binned by
quartiles of F (means with bootstrap intervals) and regressed on F: the slope is the agreement lost per 0.1 of
F-measure a transcription loses, with a bootstrap interval over pieces and a one-sided permutation p-value (F shuffled
over pieces); p_holm and p_bh over every slope of every symbolic encoder and transcription.</p>
<ul>{sentences}</ul>
{table_html(result.noise.reindex(columns=["encoder", "transcription", "figure", "measure", "f_low", "f_high", "value",
                                          "ci_low", "ci_high", "p_value", "p_holm", "p_bh", "n"]),
             caption="Agreement with the ground truth by transcription quality (note F-measure)")}"""


def factors_section(result: FactorsResult, folder: str = "factors"):
    """A writer, given (page folder, figure formats), of the files into ``PAGE/<folder>/``, returning the
    section's HTML (the report's registered ``factors`` section)."""
    def write(report_dir: Path, formats: Sequence[str]) -> str:
        report_dir = Path(report_dir)
        return factors_html(result, write_factors(result, report_dir / folder, formats), report_dir)

    return write


def write_factors_report(result: FactorsResult, out_dir: str | Path,
                         formats: Sequence[str] = DEFAULT_FIGURE_FORMATS) -> Path:
    """The factors as a folder of their own: the files of :func:`write_factors` and ``index.html``."""
    out = Path(out_dir)
    section = factors_html(result, write_factors(result, out, formats), out)
    return write_section_page(out, section, title=f"Counterpoint — controlled factors of {result.store.name}",
                              subtitle=f"store <code>{escape(result.store)}</code>")


register_section(Section("factors", 75, write=lambda result, page: factors_section(result)(page.out_dir, page.formats)))
