"""The report page: one self-contained ``index.html`` (plotly.js, the data and the
shown images inlined), sortable tables, linked scatter plots, and links to every data file."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from counterpoint import __version__
from counterpoint.report.files import relative

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.4rem 2rem; color: #222; max-width: 1600px; }
h1 { margin: 0 0 0.2rem; font-size: 1.5rem; } .sub { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 0.6rem 0 1.2rem; font-size: 0.85rem; }
th, td { border: 1px solid #ddd; padding: 0.22rem 0.5rem; text-align: right; }
th { background: #f4f4f4; cursor: pointer; } td:first-child, th:first-child { text-align: left; }
th[data-order=asc]::after { content: " ▲"; } th[data-order=desc]::after { content: " ▼"; }
.verdict { border: 2px solid #0072B2; border-radius: 6px; padding: 0.1rem 1rem 0.1rem; background: #f5fafd; margin: 0.4rem 0; }
.verdict h2 { font-size: 1.1rem; margin: 0.4rem 0 0.2rem; } .verdict table { margin: 0.3rem 0 0.4rem; font-size: 0.8rem; }
.verdict p.answer { font-size: 0.95rem; margin: 0.25rem 0; } .verdict .note { margin: 0.2rem 0; font-size: 0.78rem; }
h2.question { font-size: 1.25rem; margin: 0.4rem 0 0.1rem; } p.rule { margin: 0 0 0.3rem; }
.grid { display: grid; gap: 0.8rem; align-items: start; }
.grid figure { margin: 0; } .grid img { width: 100%; border: 1px solid #eee; }
figcaption, .files { font-size: 0.8rem; color: #555; } .note { color: #666; font-size: 0.85rem; }
.controls { display: flex; gap: 1.2rem; align-items: center; flex-wrap: wrap; font-size: 0.9rem; }
#cp-neighbours { display: flex; gap: 1rem; flex-wrap: wrap; } .nn-view h4 { margin: 0.3rem 0; font-size: 0.85rem; }
tr.partner td { background: #d8f0e0; } tr.same-class td { background: #f3f3f3; }
"""

#: The one definition of a probe accuracy, said beside every probe figure of the report.
PROBE_ACCURACY = ("Probe accuracy: the share of held-out tracks a classifier trained on the other tracks labels "
                  "correctly, under one protocol: the dataset's given split when its test part holds at least 5 "
                  "tracks of every class, otherwise grouped stratified 5-fold cross-validation (3 repeats; 1 for "
                  "trained probes), every track held out by a model that never saw its group. Its 95 % interval "
                  "resamples tracks; its chance level is the majority-class share of those tracks; its p-value "
                  "compares it with the held-out predictions scored against permuted truth.")

PAGE_JS = resources.files("counterpoint.report").joinpath("page.js").read_text(encoding="utf-8")
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


def format_value(value: object) -> str:
    """A number rounded for reading (— for NaN/None), anything else escaped."""
    if value is None:
        return "—"
    if isinstance(value, (float, np.floating)):
        return "—" if not np.isfinite(value) else f"{value:.3f}" if abs(value) < 1000 else f"{value:.0f}"
    return escape(value)


def table_html(frame: pd.DataFrame, index: bool = False, css: str = "") -> str:
    """A DataFrame as a sortable HTML table (click a heading), numbers rounded, text escaped."""
    frame = frame.reset_index() if index else frame
    head = "".join(f"<th>{escape(c)}</th>" for c in frame.columns)
    rows = "".join("<tr>" + "".join(f"<td>{format_value(v)}</td>" for v in row) + "</tr>"
                   for row in frame.itertuples(index=False))
    return f'<table class="sortable {css}"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


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
    """Links to every CSV and JSON of the report folder (what every figure and table comes from)."""
    files = sorted(p for p in page_dir.rglob("*") if p.suffix in (".csv", ".json") and p.is_file())
    items = "".join(f'<li><a href="{escape(relative(p, page_dir))}">{escape(relative(p, page_dir))}</a></li>'
                    for p in files)
    return (f'<section id="data-files"><h2>Data files</h2><p class="note">Every figure and table above is drawn '
            f'from these files (relative to this page).</p><ul class="files">{items}</ul></section>')


def interactive_section(payload: dict, methods: Sequence[str]) -> str:
    """Linked scatter plots (one per space), the audio player, the selection list and the
    nearest-neighbours view; ``payload`` is the data :func:`page` inlines."""
    options = "".join(f'<option value="{escape(m)}">{escape(m.upper())}</option>' for m in methods)
    panels = "".join(f'<div id="cp-scatter-{i}" class="cp-panel" data-spec="{escape(space["spec"])}"></div>'
                     for i, space in enumerate(payload["spaces"]))
    columns = f"grid-template-columns: repeat({min(3, max(1, len(payload['spaces'])))}, minmax(320px, 1fr));"
    return f"""<section id="explore"><h2>Explore the tracks</h2>
<p class="note">Hover a point for its track and label; click it to mark the same track in every space, play its
audio and list its nearest tracks; draw a lasso or box to list the tracks inside. Colours are the same class in
every figure (colour-blind-safe palette).</p>
<div class="controls"><label>view <select id="cp-method">{options}</select></label>
<label>track <select id="cp-track"><option value="">— choose —</option></select></label>
<span>chosen: <b id="cp-chosen">none</b></span>
<audio id="cp-audio" controls preload="none"></audio><span id="cp-audio-note" class="note"></span></div>
<div class="grid" style="{columns}">{panels}</div>
<div id="cp-selection" class="note"></div>
<h3>Nearest neighbours of the chosen track</h3>
<p class="note">Within a space: cosine similarity of standardised embeddings (what mutual-kNN counts). Across
spaces: the track carried into the other space by the ridge map that retrieval fitted on the training tracks (a
training track's own map saw it), or directly in a shared space. Green: the track's own partner; grey: same
class.</p>
<div id="cp-neighbours" class="note">Choose a track.</div>
</section>"""


def page(title: str, subtitle: str, sections: Sequence[str], *, payload: dict | None) -> str:
    """The whole page: plotly.js (:func:`~counterpoint.report.plotly_bundle.plotly_script`) when it draws a
    plot (``payload``'s scatters or an interactive figure of :mod:`~counterpoint.report.interactive`), and
    ``payload`` inlined when there is one."""
    scripts = ""
    figures = any(f'class="{FIGURE_CLASS}"' in section for section in sections)
    if payload is not None or figures:
        from counterpoint.report.plotly_bundle import plotly_script

        scripts = f'<script>{plotly_script()}</script>\n'
    if payload is not None:
        scripts += f'<script type="application/json" id="cp-data">{inline_json(payload)}</script>\n'
    if figures:
        scripts += f"<script>{FIGURES_JS}</script>\n"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>
<body>
<h1>{escape(title)}</h1>
<p class="sub">{subtitle} · Counterpoint {escape(__version__)}</p>
{''.join(sections)}
{scripts}<script>{PAGE_JS}</script>
</body></html>
"""


def write_page(out_dir: Path, text: str) -> Path:
    """Write ``out_dir/index.html``."""
    path = out_dir / "index.html"
    path.write_text(text, encoding="utf-8")
    return path
