"""The layer-wise maps' files and report section: ``layers/layer_cka.csv``, ``layer_cka.json``, one heatmap per map.

:func:`layers_section` writes the :class:`~counterpoint.analysis.layers.LayerMap` list of
:func:`~counterpoint.analysis.layers.layer_cka_map`: the report's registered ``layers`` section
(:mod:`counterpoint.report.sections`) and ``counterpoint compare --layers``, which keeps its HTML as
``layers/section.html``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from counterpoint.analysis.layers import LAYER_COLUMNS, LayerMap
from counterpoint.report.files import pair_slug, write_json
from counterpoint.report.figures import heatmap
from counterpoint.report.html import escape, format_number, table_html
from counterpoint.report.interactive import heatmap_spec, plotly_figure
from counterpoint.report.sections import Section, SectionInputs, register_section

#: The subfolder of the report (or of ``compare --out``) the maps are written to.
LAYERS_DIR = "layers"
#: The columns of the CSV: :data:`~counterpoint.analysis.layers.LAYER_COLUMNS`.
CSV_COLUMNS = LAYER_COLUMNS


def layer_map_title(layer_map: LayerMap) -> str:
    """The title of a layer map's heatmap, static and interactive."""
    return f"debiased CKA: {layer_map.audio} layers × {layer_map.symbolic}"


def write_layer_files(maps: Sequence[LayerMap], folder: Path, formats: Sequence[str]) -> dict[tuple[str, str], Path]:
    """Write the CSV (every map, long form), the JSON (settings and cells) and one heatmap per map
    into ``folder``; returns each map's heatmap path by (audio, symbolic)."""
    folder.mkdir(parents=True, exist_ok=True)
    table = pd.concat([m.table for m in maps], ignore_index=True)[CSV_COLUMNS]
    table.to_csv(folder / "layer_cka.csv", index=False)
    payload = {"measure": "debiased CKA", "interval": "half-sample 95 %", "p_value": "shuffled pairing",
               "adjusted": "Holm and Benjamini-Hochberg over the cells of each map",
               "maps": [m.as_dict() for m in maps]}
    write_json(folder / "layer_cka.json", payload)
    figures = {}
    for m in maps:
        figures[(m.audio, m.symbolic)] = heatmap(m.matrix(), title=layer_map_title(m),
                                                 stem=folder / f"layer_cka_{pair_slug(m.audio, m.symbolic)}",
                                                 colour_label="debiased CKA", formats=formats)
    return figures


def layers_section(maps: Sequence[LayerMap]) -> Callable[[Path, Sequence[str]], str]:
    """A writer of the maps' files under ``PAGE/layers/``, given (page folder, figure formats), returning their
    HTML: the report's ``layers`` section, and the page of ``compare --layers``."""

    def write(report_dir: Path, formats: Sequence[str]) -> str:
        figures = write_layer_files(maps, report_dir / LAYERS_DIR, formats)
        parts = ["<section id='layers'><h2>At which layer do audio and score agree?</h2>",
                 "<p>Debiased CKA between the pooled embeddings of every stored layer of an audio encoder and a "
                 "symbolic encoder (a symbolic encoder without layers counts as one layer), on the labelled tracks "
                 "every layer holds: about 0 for unrelated spaces, 1 for spaces equal up to rotation and scale. "
                 "Intervals are half-sample 95 % intervals, p-values from shuffled pairings; p_holm and p_bh are "
                 "Holm and Benjamini–Hochberg adjusted over the cells of each map (one family per map).</p>"]
        for m in maps:
            cells = m.table[["audio_layer", "symbolic_layer", "value", "ci_low", "ci_high", "p_value", "p_holm", "p_bh",
                             "n"]]
            best = m.table.loc[m.table["value"].idxmax()]
            parts.append(f"<h3>{escape(m.audio)} × {escape(m.symbolic)}</h3>"
                         f"<p>Highest agreement at layer {escape(best['audio_layer'])}: "
                         f"{format_number(best['value'])} [{format_number(best['ci_low'])}, "
                         f"{format_number(best['ci_high'])}] on {int(best['n'])} tracks "
                         f"({m.n_boot} half-samples, {m.n_perm} permutations per cell).</p>")
            parts.append(plotly_figure(heatmap_spec(m.matrix(), title=layer_map_title(m), colour_label="debiased CKA",
                                                    row_title=f"{m.audio} layer", column_title=f"{m.symbolic} layer"),
                                       caption="debiased CKA per layer pair", static=figures[(m.audio, m.symbolic)],
                                       page_dir=report_dir))
            parts.append(table_html(cells, caption=f"Debiased CKA per layer pair, {m.audio} × {m.symbolic}"))
            if m.note:
                parts.append(f'<p class="note">{escape(m.note)}</p>')
        parts.append("</section>")
        return "\n".join(parts)

    return write


def write_layer_maps(maps: Sequence[LayerMap], out: str | Path, *, formats: Sequence[str]) -> Path:
    """The files of ``compare --layers``: the layer maps' tables, figures in ``formats`` and ``section.html``
    under ``out/layers/``; returns that folder."""
    out = Path(out)
    folder = out / LAYERS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "section.html").write_text(layers_section(list(maps))(out, list(formats)))
    return folder


def _run_layer_maps(inputs: SectionInputs) -> list[LayerMap] | None:
    """The layer maps of a report: when it has a comparison and the store holds an audio encoder's layers;
    a map that cannot be made is a note."""
    from counterpoint.analysis.layers import holds_layers, layer_cka_map
    from counterpoint.errors import CounterpointError

    if inputs.results.get("comparison") is None or not holds_layers(inputs.store):
        return None
    inputs.announce("layer maps (debiased CKA of every stored audio layer × each symbolic encoder)")
    try:
        return layer_cka_map(inputs.store, inputs.options.label, depth=inputs.options.depth, seed=inputs.options.seed)
    except CounterpointError as reason:
        inputs.note_failure("layer maps", reason)
        return None


register_section(Section("layers", 60, run=_run_layer_maps,
                         write=lambda maps, page: layers_section(maps)(page.out_dir, page.formats)))
