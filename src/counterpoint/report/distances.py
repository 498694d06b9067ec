"""Distribution distances (see :mod:`counterpoint.analysis.distances`) written out: ``distances.csv``,
``outliers.csv``, ``contributions.csv``, ``extrapolation.csv``, ``sets.csv``, ``distances.json``, the FD∞
figure, and their HTML section — inside a report (the registered ``distances`` section:
``build_report(..., results={"distances": result})``) or as a page of its own (:func:`write_distance_report`,
what ``counterpoint distance`` writes). The outliers with an audio file play in the page."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from counterpoint.analysis.distances import DistanceResult, extrapolate_frechet  # noqa: E402
from counterpoint.ranges import MEASURES  # noqa: E402
from counterpoint.report.scatter import audio_links, playable_tracks  # noqa: E402
from counterpoint.report.figures import DEFAULT_FIGURE_FORMATS, MIN_FONT_PT, OKABE_ITO, plain, save_figure  # noqa: E402
from counterpoint.report.files import write_json  # noqa: E402
from counterpoint.report.html import (escape, format_value, image_figure, sortable_table, table_html,  # noqa: E402
                                      write_section_page)
from counterpoint.report.sections import ReportPage, Section, register_section  # noqa: E402
from counterpoint.report.verdict import family_sentence  # noqa: E402

#: The files :func:`write_distances` writes besides the figure.
TABLE_FILES = {"distances": "distances.csv", "outliers": "outliers.csv", "contributions": "contributions.csv",
               "extrapolation": "extrapolation.csv", "sets": "sets.csv", "json": "distances.json"}
#: The family every p-value of the distance table is adjusted over, in words.
FAMILY = "every test of the table: the Fréchet distance and MMD² of every encoder compared"


def plot_extrapolation(result: DistanceResult, stem: Path, formats: Sequence[str] = DEFAULT_FIGURE_FORMATS) -> Path:
    """One panel per encoder: the Fréchet distance of each subsample against 1/n_a + 1/n_b, the fitted line
    down to 1/n = 0, FD∞ there with its interval, and the full sets' distance with its bootstrap interval."""
    encoders = list(dict.fromkeys(result.distances.encoder))
    columns = min(3, len(encoders))
    rows = math.ceil(len(encoders) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
    table = result.distances.set_index(["encoder", "measure"])
    for axis, encoder in zip(axes.ravel(), encoders):
        points = result.extrapolation[result.extrapolation.encoder == encoder]
        axis.scatter(points.inverse_n, points.frechet_distance, s=10, color=OKABE_ITO[1], label="subsamples")
        full, limit = table.loc[(encoder, "frechet_distance")], table.loc[(encoder, "frechet_distance_inf")]
        x_full = 1.0 / full.n_a + 1.0 / full.n_b
        if np.isfinite(limit.value):
            slope = extrapolate_frechet(points.inverse_n, points.frechet_distance).slope
            axis.plot([0.0, points.inverse_n.max()], [limit.value, limit.value + slope * points.inverse_n.max()],
                      color="#444", linewidth=0.8, linestyle="--")
            axis.errorbar(0.0, limit.value, yerr=[[limit.value - limit.ci_low], [limit.ci_high - limit.value]],
                          fmt="s", color=OKABE_ITO[5], capsize=3, markersize=5, label="FD∞ (fit's 95 % interval)")
        axis.errorbar(x_full, full.value, yerr=[[max(full.value - full.ci_low, 0)], [max(full.ci_high - full.value, 0)]],
                      fmt="o", color=OKABE_ITO[4], capsize=3, markersize=5, label="all tracks (bootstrap 95 %)")
        axis.set_xlim(left=-0.02 * points.inverse_n.max())
        axis.set_xlabel("1/n_a + 1/n_b", fontsize=MIN_FONT_PT + 1)
        axis.set_ylabel(f"{full['name']} (Fréchet distance)", fontsize=MIN_FONT_PT + 1)
        axis.tick_params(labelsize=MIN_FONT_PT)
        axis.set_title(plain(encoder), fontsize=MIN_FONT_PT + 1)
        axis.legend(fontsize=MIN_FONT_PT - 1, loc="best")
    for axis in axes.ravel()[len(encoders):]:
        axis.set_visible(False)
    figure.tight_layout()
    return save_figure(figure, stem, formats)


def write_distances(result: DistanceResult, out_dir: str | Path, formats: Sequence[str] = DEFAULT_FIGURE_FORMATS) -> dict[str, Path]:
    """Write the tables, ``distances.json`` and the figure into ``out_dir``; returns {name: path} (the figure
    as the file a page shows)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {key: out / name for key, name in TABLE_FILES.items()}
    for key, frame in result.tables.items():
        frame.to_csv(files[key], index=False)
    write_json(files["json"], {**result.as_dict(), "n_perm": result.n_perm})
    files["figure"] = plot_extrapolation(result, out / "distances", formats)
    return files


def outlier_rows(result: DistanceResult, page_dir: Path, playable: set[str]) -> str:
    """The outliers as table rows: a track the page's explorer holds is a link that marks and plays it there
    (``data-cp-track``, as in the influence table); every track with an audio file has a player of its own."""
    roots = dict(zip(result.sets.set, result.sets.dataset_root))
    outliers = result.outliers
    links = pd.Series("", index=outliers.index, dtype=object)
    for name, part in outliers.groupby("set"):
        links[part.index] = audio_links(part.reindex(columns=["audio_filename"]), roots.get(name, ""), page_dir)
    rows = []
    for (_, r), link in zip(outliers.iterrows(), links):
        track = escape(r.id)
        named = (f'<a href="#explore" class="cp-track-link" data-cp-track="{track}">▶ {track}</a>'
                 if str(r.id) in playable else track)
        player = f'<audio controls preload="none" src="{escape(link)}"></audio>' if link else ""
        rows.append(f"<tr><td>{escape(r.encoder)}</td><td>{escape(r.set.upper())}</td><td>{int(r['rank'])}</td>"
                    f"<td>{named}</td><td>{player}</td><td>{format_value(r.frechet_change)}</td>"
                    f"<td>{format_value(r.mmd2_change)}</td></tr>")
    head = ("encoder", "set", "rank", "track", "listen", "Fréchet distance − without it", "MMD² − without it")
    return sortable_table(head, "".join(rows), caption="The tracks that make the sets differ most, per encoder")


def distances_html(result: DistanceResult, files: dict[str, Path], page_dir: Path, *,
                   playable: set[str] = frozenset()) -> str:
    """The section: the two sets, what each figure measures (from its declaration), the figure, the table, the
    outliers (playable), and which family the p-values were adjusted over."""
    settings = result.settings
    sets = "; ".join(f"<b>{escape(r.set.upper())}</b>: <code>{escape(r.selection)}</code>"
                     for r in result.sets.itertuples())
    prose = " ".join(escape(MEASURES[name].prose) for name in dict.fromkeys(result.distances.measure)
                     if name in MEASURES)
    notes = "".join(f'<p class="note">{escape(n)}</p>' for n in result.notes)
    pairing = ("reshufflings of the set labels over the pooled tracks" if settings.paired is None else
               f"swaps of the two tracks of random pairs (tracks paired by <code>{escape(settings.paired)}</code>; the "
               "bootstrap resamples pairs)")
    shown = ["encoder", "name", "measure", "value", "ci_low", "ci_high", "null_mean", "p_value", "p_holm", "p_bh",
             "n_a", "n_b", "dim", "bandwidth"]
    figure = image_figure(files["figure"], page_dir, "Fréchet distance of subsamples against 1/n, extrapolated to "
                                                     "infinitely many tracks (FD∞), and of all tracks")
    return f"""<section id="distances"><h2>Are the two sets distributed alike? Distribution distances</h2>
<p>{sets}. Each track is one sample, its pooled embedding.</p>
<p class="note">{prose} Intervals: {settings.n_boot} bootstrap resamples of each set (the Fréchet distance's
reflected around the resamples' mean, as a resample's copies bias it upwards; the kernel distances' percentile).
p-values: {result.n_perm:,} {pairing} (the smallest possible p is
{1 / (result.n_perm + 1):.2g}). {escape(family_sentence(FAMILY))}</p>
<div class="grid">{figure}</div>
{table_html(result.distances.reindex(columns=shown), caption="Distribution distances per encoder")}
<h3>The tracks that make the sets differ most</h3>
<p class="note">Each track's contribution: the distance with it minus the distance without it (leave-one-out); the
{settings.outliers} largest Fréchet contributions per encoder, with the MMD² one beside; every track's in
<code>contributions.csv</code>.</p>
{outlier_rows(result, page_dir, set(playable))}
{notes}</section>"""


def distances_section(result: DistanceResult, page_view: ReportPage, folder: str = "distances") -> str:
    """The report's registered ``distances`` section: the files into ``PAGE/<folder>/``, its HTML returned; the
    outliers the page's explorer holds play there."""
    files = write_distances(result, page_view.out_dir / folder, page_view.formats)
    return distances_html(result, files, page_view.out_dir, playable=playable_tracks(page_view.payload))


def write_distance_report(result: DistanceResult, out_dir: str | Path,
                          formats: Sequence[str] = DEFAULT_FIGURE_FORMATS) -> Path:
    """The distances as a folder of their own: the files of :func:`write_distances` and ``index.html``."""
    out = Path(out_dir)
    section = distances_html(result, write_distances(result, out, formats), out)
    a, b = result.sets.selection
    return write_section_page(out, section, title="Counterpoint — distribution distances",
                              subtitle=escape(f"A: {a} · B: {b}"))


register_section(Section("distances", 78, write=distances_section))
