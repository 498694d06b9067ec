"""The time-aligned comparison (see :mod:`counterpoint.analysis.time_aligned`) written out: ``aligned/``
with ``segment_retrieval.csv``, ``agreement_curves.csv`` (one row per held-out segment of every
track), ``agreement_mean_curve.csv``, ``aligned_cka.csv``, ``track_alignment.csv``, ``aligned.json``,
one agreement-curve figure per encoder pair, and its section of the report page."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from counterpoint.analysis.time_aligned import AlignedPair, AlignedResult  # noqa: E402
from counterpoint.report.figures import DEFAULT_FIGURE_FORMATS, MIN_FONT_PT, OKABE_ITO, plain, save_figure  # noqa: E402
from counterpoint.report.files import pair_slug, relative, write_json  # noqa: E402
from counterpoint.report.html import escape, image_figure, table_html  # noqa: E402
from counterpoint.report.sections import Section, SectionInputs, register_section  # noqa: E402

#: The folder of the report (or of ``compare --out``) the files go to.
FOLDER = "aligned"
TABLE_FILES = {"segment_retrieval": "segment_retrieval.csv", "agreement_curves": "agreement_curves.csv",
               "mean_curves": "agreement_mean_curve.csv", "aligned_cka": "aligned_cka.csv",
               "alignment": "track_alignment.csv", "json": "aligned.json"}


def curve_stem(pair: AlignedPair) -> str:
    """File stem of a pair's agreement-curve figure."""
    return f"agreement_curve_{pair_slug(pair.audio, pair.symbolic)}"


def plot_mean_curve(curve: pd.DataFrame, *, title: str, stem: Path, formats: Sequence[str] = DEFAULT_FIGURE_FORMATS) -> Path:
    """The mean agreement over tracks per segment of score time, its 95 % band, and chance (0.5)."""
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    centre = (curve["start_s"] + curve["end_s"]) / 2
    ax.fill_between(centre, curve["ci_low"], curve["ci_high"], color=OKABE_ITO[1], alpha=0.35, linewidth=0,
                    label="95 % interval (tracks resampled)")
    ax.plot(centre, curve["agreement"], color=OKABE_ITO[4], marker="o", markersize=3, label="mean over held-out tracks")
    ax.axhline(0.5, color="#777777", linestyle="--", linewidth=1, label="chance")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("score time (s), segment centre", fontsize=MIN_FONT_PT + 1)
    ax.set_ylabel("agreement (1 = true segment first)", fontsize=MIN_FONT_PT + 1)
    ax.set_title(plain(title), fontsize=MIN_FONT_PT + 2)
    ax.tick_params(labelsize=MIN_FONT_PT)
    ax.legend(fontsize=MIN_FONT_PT, loc="lower left", frameon=False)
    return save_figure(fig, stem, formats)


def write_aligned(result: AlignedResult, out_dir: str | Path, formats: Sequence[str] = DEFAULT_FIGURE_FORMATS) -> dict[str, Path]:
    """Write the tables, ``aligned.json`` and each pair's curve figure into ``out_dir``; returns
    {table name: path} and {``curve <audio> × <symbolic>``: the figure the page shows}."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {key: out / name for key, name in TABLE_FILES.items()}
    for key in ("segment_retrieval", "agreement_curves", "mean_curves", "aligned_cka", "alignment"):
        getattr(result, key).to_csv(files[key], index=False)
    write_json(files["json"], result.as_dict())
    for pair in result.pairs:
        curve = result.mean_curves[(result.mean_curves.audio == pair.audio)
                                   & (result.mean_curves.symbolic == pair.symbolic)]
        if len(curve):
            files[f"curve {pair.audio} × {pair.symbolic}"] = plot_mean_curve(
                curve, title=f"{pair.audio} × {pair.symbolic}: where in time audio and score agree",
                stem=out / curve_stem(pair), formats=formats)
    return files


def aligned_html(result: AlignedResult, files: dict[str, Path], page_dir: Path) -> str:
    """The section of the report page: what was paired and how, the two tables, the curves."""
    s = result.settings
    link = {key: f'<a href="{escape(relative(path, page_dir))}">{escape(path.name)}</a>'
            for key, path in files.items() if key in TABLE_FILES}
    parts = ['<section id="aligned"><h2>Audio × score in time</h2>',
             f"<p>Frames of both modalities averaged over {s.segment_seconds:g}-s segments of score time, audio "
             f"mapped through each track's warping path (--alignment {escape(s.alignment)}: identity for renderings, "
             "DTW on chroma otherwise; how each track was paired: "
             f"{link['alignment']}). {s.n_boot} resamples per 95 % interval, seed {s.seed}; each table's p-values "
             "come from n_perm permutations (or random rankings), enough for its Holm family (the smallest possible "
             "p is 1 / (n_perm + 1)).</p>"]
    retrieval = result.segment_retrieval
    parts.append("<h3>Which audio segment matches which score segment</h3>")
    parts.append('<p class="note">A ridge map fitted on the training tracks\' segments ranks each held-out segment\'s '
                 "partner <i>within its piece</i> (chance: 1 / that piece's segments) and <i>across</i> all held-out "
                 "segments (chance: 1 / all of them). Intervals resample held-out tracks with all their segments "
                 "(cluster bootstrap); p-values compare with a random ranker. <b>p_holm</b> and <b>p_bh</b> correct "
                 "over one family: every row of this table (all encoder pairs × directions × scopes × measures). "
                 f"From {link['segment_retrieval']}.</p>")
    parts.append(table_html(retrieval, caption="Segment retrieval within and across pieces"))
    parts.append("<h3>Debiased CKA of time-paired segments</h3>")
    parts.append('<p class="note">Each row compares the CKA of the aligned segments (<b>value</b>, every segment; '
                 "interval from half-samples of whole tracks) with a null: segments of the same piece paired at a "
                 "random circular time shift (keeps the piece, breaks the timing), or segments of other pieces. "
                 "<i>within track</i>: each track's mean segment removed first, so only what changes over time inside "
                 "a piece counts. Nulls and p-values run on a subsample of whole tracks (n_resample segments; its own "
                 "CKA is value_resample). <b>p_holm</b> and <b>p_bh</b> correct over one family: every row of this "
                 f"table. From {link['aligned_cka']}.</p>")
    parts.append(table_html(result.aligned_cka, caption="Debiased CKA of time-paired segments against its nulls"))
    parts.append("<h3>Agreement over time</h3>")
    parts.append('<p class="note">Per held-out segment, 1 − (rank − 1) / (n − 1) of its true score segment among the n '
                 "segments of its piece (audio → score): 1 = found first, 0.5 = chance. Per track in "
                 f"{link['agreement_curves']}; the mean per segment in {link['mean_curves']}.</p>")
    figures = [image_figure(path, page_dir, key.removeprefix("curve "))
               for key, path in files.items() if key.startswith("curve ")]
    parts.append(f'<div class="grid">{"".join(figures)}</div>')
    if result.notes:
        parts.append("".join(f'<p class="note">{escape(note)}</p>' for note in result.notes))
    parts.append("</section>")
    return "\n".join(parts)


def aligned_section(result: AlignedResult):
    """A writer, given (page folder, figure formats), of ``PAGE/aligned/``, returning the section's HTML (the
    report's registered ``aligned`` section)."""
    def write(report_dir: Path, figure_formats: Sequence[str]) -> str:
        files = write_aligned(result, Path(report_dir) / FOLDER, figure_formats)
        return aligned_html(result, files, Path(report_dir))

    return write


def _run_aligned(inputs: SectionInputs) -> AlignedResult | None:
    """The time-aligned comparison of a report (``options.aligned``, with a comparison; tracks paired by
    ``auto``); its notes are announced and shown in the section; a comparison that cannot run is a note."""
    from counterpoint.analysis.time_aligned import run_aligned_compare
    from counterpoint.config import AlignedSettings
    from counterpoint.errors import CounterpointError

    if inputs.results.get("comparison") is None or not inputs.options.aligned:
        return None
    if inputs.time_pairing is None:
        inputs.notes.append("no comparison in time: no time pairing of the tracks was given")
        return None
    inputs.announce("comparing audio and score on time-paired segments")
    options = inputs.options
    try:
        result = run_aligned_compare(inputs.store, AlignedSettings(label=options.label, depth=options.depth,
                                                                   group=options.group, seed=options.seed),
                                     time_pairing=inputs.time_pairing)
    except CounterpointError as reason:
        inputs.note_failure("comparison in time", reason)
        return None
    for note in result.notes:
        inputs.announce(f"  {note}")
    return result


register_section(Section("aligned", 70, run=_run_aligned,
                         write=lambda result, page: aligned_section(result)(page.out_dir, page.formats)))
