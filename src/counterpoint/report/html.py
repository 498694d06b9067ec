"""The report page: one self-contained ``index.html`` (plotly.js, the data and the
shown images inlined), sortable tables, linked scatter plots, and links to every data file."""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Sequence
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from counterpoint import __version__
from counterpoint.report.files import relative

STYLE = """
*, *::before, *::after { box-sizing: border-box; }
body { font-family: system-ui, sans-serif; margin: 1.4rem clamp(0.6rem, 3vw, 2rem); color: #222; max-width: 1600px; }
h1 { margin: 0 0 0.2rem; font-size: 1.5rem; } .sub { color: #666; margin-top: 0; }
h1, h2, h3, h4, p, li, figcaption, caption, code, a { overflow-wrap: anywhere; }
img { max-width: 100%; height: auto; }
nav.contents { font-size: 0.8rem; margin: 0 0 0.4rem; } nav.contents ol { margin: 0.1rem 0; padding: 0; list-style: none;
  display: flex; flex-wrap: wrap; gap: 0.1rem 1rem; } nav.contents h2 { font-size: 0.8rem; margin: 0; display: inline; }
.table-box { overflow-x: auto; max-width: 100%; margin: 0.6rem 0 1.2rem; }
table { border-collapse: collapse; margin: 0; font-size: 0.85rem; }
caption { caption-side: top; text-align: left; font-size: 0.78rem; color: #555; padding: 0 0 0.15rem; }
th, td { border: 1px solid #ddd; padding: 0.22rem 0.5rem; text-align: right; }
th { background: #f4f4f4; } td:first-child, th:first-child { text-align: left; }
th button { font: inherit; color: inherit; background: none; border: 0; padding: 0; margin: 0; cursor: pointer;
  text-align: inherit; } th button:focus-visible { outline: 2px solid #0072B2; outline-offset: 2px; }
th[aria-sort=ascending] button::after { content: " ▲"; } th[aria-sort=descending] button::after { content: " ▼"; }
.verdict { border: 2px solid #0072B2; border-radius: 6px; padding: 0.1rem 1rem 0.1rem; background: #f5fafd; margin: 0.4rem 0; }
.verdict h2 { font-size: 1.1rem; margin: 0.4rem 0 0.2rem; } .verdict .table-box { margin: 0.3rem 0 0.4rem; }
.verdict table { font-size: 0.8rem; }
.verdict p.answer { font-size: 0.95rem; margin: 0.25rem 0; } .verdict .note { margin: 0.2rem 0; font-size: 0.78rem; }
h2.question { font-size: 1.25rem; margin: 0.4rem 0 0.1rem; } p.rule { margin: 0 0 0.3rem; }
.grid { display: grid; gap: 0.8rem; align-items: start;
  grid-template-columns: repeat(auto-fit, minmax(min(320px, 100%), 1fr)); }
.grid > * { min-width: 0; } .grid figure { margin: 0; } .grid img { width: 100%; border: 1px solid #eee; }
figcaption, .files { font-size: 0.8rem; color: #555; } .note { color: #666; font-size: 0.85rem; }
.controls { display: flex; gap: 0.4rem 1.2rem; align-items: center; flex-wrap: wrap; font-size: 0.9rem; }
.controls label { display: inline-flex; gap: 0.3rem; align-items: center; max-width: 100%; }
.controls select, .controls audio { min-width: 0; max-width: 100%; }
#cp-neighbours { display: flex; gap: 1rem; flex-wrap: wrap; } .nn-view { max-width: 100%; overflow-x: auto; }
.nn-view h4 { margin: 0.3rem 0; font-size: 0.85rem; }
tr.partner td { background: #d8f0e0; } tr.same-class td { background: #f3f3f3; }
footer { margin-top: 2rem; font-size: 0.8rem; color: #666; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  nav.contents, .controls, select, input, audio, .modebar-container, #data-files, .cp-neighbour-explorer,
  #cp-selection { display: none !important; }
  a { color: inherit; text-decoration: none; }
  .table-box { overflow: visible; } table { width: 100%; font-size: 7.5pt; }
  th, td { padding: 0.1rem 0.25rem; } th { overflow-wrap: anywhere; } td { overflow-wrap: break-word; }
  figure, .cp-panel, tr, .verdict { break-inside: avoid; } h2, h3 { break-after: avoid; }
  .grid { grid-template-columns: repeat(auto-fit, minmax(min(240px, 100%), 1fr)); }
  .cp-panel { overflow: hidden; }
}
"""
#: The one definition of a probe accuracy, said beside every probe figure of the report.
PROBE_ACCURACY = ("Probe accuracy: the share of held-out tracks a classifier trained on the other tracks labels "
                  "correctly, under one protocol: the dataset's given split when its test part holds at least 5 "
                  "tracks of every class, otherwise grouped stratified 5-fold cross-validation (3 repeats; 1 for "
                  "trained probes), every track held out by a model that never saw its group. Its 95 % interval "
                  "resamples tracks; its chance level is the majority-class share of those tracks; its p-value "
                  "compares it with the held-out predictions scored against permuted truth.")

PAGE_JS = resources.files("counterpoint.report").joinpath("page.js").read_text(encoding="utf-8")
#: Redraws the page's plots at the paper's width before printing.
PRINT_JS = resources.files("counterpoint.report").joinpath("print.js").read_text(encoding="utf-8")
#: The linked scatter plots' script (colour by any column, track search), run after Plotly and the page's data.
SCATTER_JS = resources.files("counterpoint.report").joinpath("scatter.js").read_text(encoding="utf-8")
#: The script that draws the interactive figures (:mod:`counterpoint.report.interactive`), and the class of
#: their divs: a page holding one needs plotly.js.
FIGURES_JS = resources.files("counterpoint.report").joinpath("heatmaps.js").read_text(encoding="utf-8")
FIGURE_CLASS = "cp-figure"


def escape(value: object) -> str:
    """``value`` as HTML text: a label such as ``<img onerror=…>`` is shown, never run."""
    return html.escape(str(value), quote=True)


def inline_json(data: Any) -> str:
    """JSON safe inside ``<script type="application/json">``: ``<``, ``>`` and ``&`` written as
    ``\\u003c`` etc., so no value can close the script element."""
    text = json.dumps(data, allow_nan=False, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def format_number(value: float, digits: int = 3) -> str:
    """``value`` rounded for reading: ``digits`` decimals below 1000, none from 1000 on; — when it is not
    finite. A value that rounds to zero reads 0.000, never -0.000."""
    if not math.isfinite(value):
        return "—"
    places = digits if abs(value) < 1000 else 0
    return f"{round(value, places) + 0.0:.{places}f}"


def format_value(value: object) -> str:
    """A table cell for reading: a number rounded (:func:`format_number`), — for a missing value (None, NaN,
    pandas' NA), yes/no for a truth value, anything else escaped."""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if value is None or value is pd.NA or value is pd.NaT:
        return "—"
    if isinstance(value, (float, np.floating)):
        return format_number(float(value))
    return escape(value)


def sortable_table(head: Sequence[str], rows: str, *, caption: str, css: str = "") -> str:
    """A sortable table (the page's script makes each heading a button that sorts by its column and sets
    ``aria-sort``) in a box that scrolls sideways on a narrow screen: ``head``, the headings' HTML; ``rows``,
    the body's ``<tr>`` rows; ``caption``, its short title (also the scrolling box's accessible name)."""
    headings = "".join(f'<th scope="col">{cell}</th>' for cell in head)
    return (f'<div class="table-box" role="region" aria-label="{escape(caption)}" tabindex="0">'
            f'<table class="sortable {css}"><caption>{escape(caption)}</caption><thead><tr>{headings}</tr></thead>'
            f"<tbody>{rows}</tbody></table></div>")


def table_html(frame: pd.DataFrame, *, caption: str, index: bool = False, css: str = "") -> str:
    """A DataFrame as a sortable HTML table (:func:`sortable_table`) titled ``caption``, numbers rounded,
    text escaped."""
    frame = frame.reset_index() if index else frame
    rows = "".join("<tr>" + "".join(f"<td>{format_value(v)}</td>" for v in row) + "</tr>"
                   for row in frame.itertuples(index=False))
    return sortable_table([escape(c) for c in frame.columns], rows, caption=caption, css=css)


def image_figure(path: Path, page_dir: Path, caption: str) -> str:
    """A figure shown inline (data URI, so the page works alone) with links to its files in every
    format written (``path`` with each sibling suffix)."""
    mime = {".png": "image/png", ".svg": "image/svg+xml", ".pdf": None}[path.suffix]
    if mime is None:
        image = ""
    else:
        encoded = base64.b64encode(path.read_bytes()).decode("ascii")
        image = f'<img src="data:{mime};base64,{encoded}" alt="{escape(caption)}">'
    return f"<figure>{image}<figcaption>{escape(caption)} {file_links(path, page_dir)}</figcaption></figure>"


def file_links(path: Path, page_dir: Path) -> str:
    """Links to ``path`` in each format found beside it (png, svg, pdf), relative to the page."""
    links = [f'<a href="{escape(relative(candidate, page_dir))}">{suffix}</a>'
             for suffix in ("png", "svg", "pdf") if (candidate := path.with_suffix(f".{suffix}")).exists()]
    return f'<span class="files">[{" · ".join(links)}]</span>' if links else ""


def data_files_section(page_dir: Path) -> str:
    """Links to every CSV (gzipped or not) and JSON of the report folder (what every figure and table comes from)."""
    files = sorted(p for p in page_dir.rglob("*") if p.name.endswith((".csv", ".csv.gz", ".json")) and p.is_file())
    items = "".join(f'<li><a href="{escape(relative(p, page_dir))}">{escape(relative(p, page_dir))}</a></li>'
                    for p in files)
    return (f'<section id="data-files"><h2>Data files</h2><p class="note">Every figure and table above is drawn '
            f'from these files (relative to this page).</p><ul class="files">{items}</ul></section>')


def interactive_section(payload: dict, methods: Sequence[str], *, note: str = "") -> str:
    """Linked scatter plots (one per space), the colour and track choosers, the audio player, the selection
    list and the nearest-neighbours view; ``payload`` is the data :func:`page` inlines, ``note`` what the
    plots leave out (a subsample)."""
    options = "".join(f'<option value="{escape(m)}">{escape(m.upper())}</option>' for m in methods)
    panels = "".join(f'<div id="cp-scatter-{i}" class="cp-panel" data-spec="{escape(space["spec"])}" role="img" '
                     f'aria-label="{escape(scatter_description(space))}"></div>'
                     for i, space in enumerate(payload["spaces"]))
    subsample = f'<p class="note" id="cp-subsample">{escape(note)}</p>\n' if note else ""
    return f"""<section id="explore"><h2>Explore the tracks</h2>
<p class="note">Hover a point for its track and metadata; click it to mark the same track in every space, play its
audio and list its nearest tracks; draw a lasso or box to list the tracks inside; search a track by its id.
Colour by any metadata column: a value has the same colour in every figure (colour-blind-safe palette), a number
a place on one colour scale.</p>
{subsample}<div class="controls"><label>view <select id="cp-method">{options}</select></label>
<label>colour by <select id="cp-colour"></select></label>
<label>track <input id="cp-track" type="search" list="cp-track-list" placeholder="search an id" autocomplete="off"></label>
<datalist id="cp-track-list"></datalist><span id="cp-search-note" class="note"></span>
<span>chosen: <b id="cp-chosen">none</b></span>
<audio id="cp-audio" controls preload="none"></audio><span id="cp-audio-note" class="note"></span></div>
<div class="grid">{panels}</div>
<div id="cp-selection" class="note"></div>
<div class="cp-neighbour-explorer"><h3>Nearest neighbours of the chosen track</h3>
<p class="note">Within a space: cosine similarity of standardised embeddings (what mutual-kNN counts). Across
spaces: the track carried into the other space by the ridge map that retrieval fitted on the training tracks (a
training track's own map saw it), or directly in a shared space. Green: the track's own partner; grey: same
class.</p>
<div id="cp-neighbours" class="note">Choose a track.</div></div>
</section>"""


def scatter_description(space: dict) -> str:
    """What one scatter plot of the page shows, in words (its accessible name)."""
    return (f"Scatter plot of {len(space['rows'])} tracks in the space of {space['spec']}: one point per track, "
            "in the 2-D view chosen above, coloured by the column chosen above.")


class _Contents(HTMLParser):
    """The sections of a page that have an ``id``, each with the text of its first ``<h2>`` heading."""

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[tuple[str, str]] = []
        self._section: str | None = None
        self._heading: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section" and dict(attrs).get("id"):
            self._section = dict(attrs)["id"]
        elif tag == "h2" and self._section is not None:
            self._heading = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2" and self._heading is not None:
            self.entries.append((self._section, " ".join("".join(self._heading).split())))
            self._section, self._heading = None, None

    def handle_data(self, data: str) -> None:
        if self._heading is not None:
            self._heading.append(data)


def contents(body: str) -> str:
    """The page's table of contents: a link to every section of ``body`` with an ``id``, named by its heading."""
    parser = _Contents()
    parser.feed(body)
    parser.close()
    links = "".join(f'<li><a href="#{escape(ident)}">{escape(title)}</a></li>' for ident, title in parser.entries)
    return f'<nav class="contents" aria-label="Contents"><h2>Contents</h2><ol>{links}</ol></nav>'


def page(title: str, subtitle: str, sections: Sequence[str], *, payload: dict | None) -> str:
    """The whole page: plotly.js (:func:`~counterpoint.report.plotly_bundle.plotly_script`) when it draws a
    plot (``payload``'s scatters or an interactive figure of :mod:`~counterpoint.report.interactive`), and
    ``payload`` inlined when there is one."""
    scripts = ""
    figures = any(f'class="{FIGURE_CLASS}"' in section for section in sections)
    if payload is not None or figures:
        from counterpoint.report.plotly_bundle import plotly_script

        scripts = f'<script>{plotly_script(webgl=bool(payload and payload.get("webgl")))}</script>\n'
    if payload is not None:
        scripts += (f'<script type="application/json" id="cp-data">{inline_json(payload)}</script>\n'
                    f'<script>{SCATTER_JS}</script>\n')
    if figures:
        scripts += f"<script>{FIGURES_JS}</script>\n"
    body = "".join(sections)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>
<body>
<header><h1>{escape(title)}</h1>
<p class="sub">{subtitle} · Counterpoint {escape(__version__)}</p>
{contents(body)}</header>
<main>
{body}
</main>
<footer>Written by Counterpoint {escape(__version__)}; the page works offline, on any screen and in print.</footer>
{scripts}<script>{PAGE_JS}</script><script>{PRINT_JS}</script>
</body></html>
"""


def write_page(out_dir: Path, text: str) -> Path:
    """Write ``out_dir/index.html``."""
    path = out_dir / "index.html"
    path.write_text(text, encoding="utf-8")
    return path


def write_section_page(out_dir: Path, section: str, *, title: str, subtitle: str) -> Path:
    """One section as a report of its own (``factors``, ``equivariance``, ``distance``): ``out_dir/index.html``
    with the section and the links to the folder's data files."""
    return write_page(out_dir, page(title, subtitle, [section, data_files_section(out_dir)], payload=None))
