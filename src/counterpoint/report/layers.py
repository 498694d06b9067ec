"""The layer-wise maps' files and report section: ``layers/layer_cka.csv``, ``layer_cka.json``, one heatmap per map.

:func:`layers_section` turns the :class:`~counterpoint.analysis.layers.LayerMap` list of
:func:`~counterpoint.analysis.layers.layer_cka_map` into a
:data:`~counterpoint.report.build.SectionWriter` for ``build_report(further=[...])``;
``counterpoint compare --layers`` calls the same writer and keeps its HTML as ``layers/section.html``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from counterpoint.analysis.layers import LAYER_COLUMNS, LayerMap
from counterpoint.report.build import SectionWriter, slug
from counterpoint.report.figures import heatmap
from counterpoint.report.html import escape, image_figure, table_html

#: The subfolder of the report (or of ``compare --out``) the maps are written to.
LAYERS_DIR = "layers"
#: The columns of the CSV: :data:`~counterpoint.analysis.layers.LAYER_COLUMNS`.
CSV_COLUMNS = LAYER_COLUMNS


def write_layer_files(maps: Sequence[LayerMap], folder: Path, formats: Sequence[str]) -> dict[tuple[str, str], Path]:
    """Write the CSV (every map, long form), the JSON (settings and cells) and one heatmap per map
    into ``folder``; returns each map's heatmap path by (audio, symbolic)."""
    folder.mkdir(parents=True, exist_ok=True)
    table = pd.concat([m.table for m in maps], ignore_index=True)[CSV_COLUMNS]
    table.to_csv(folder / "layer_cka.csv", index=False)
    payload = {"measure": "debiased CKA", "interval": "half-sample 95 %", "p_value": "shuffled pairing",
               "adjusted": "Holm and Benjamini-Hochberg over the cells of each map",
               "maps": [{"audio": m.audio, "symbolic": m.symbolic, "n_boot": m.n_boot, "n_perm": m.n_perm,
                         "cells": json.loads(m.table.to_json(orient="records"))} for m in maps]}
    (folder / "layer_cka.json").write_text(json.dumps(payload, indent=2))
    figures = {}
    for m in maps:
        figures[(m.audio, m.symbolic)] = heatmap(m.matrix(), f"debiased CKA: {m.audio} layers × {m.symbolic}",
                                                 folder / f"layer_cka_{slug(m.audio)}__{slug(m.symbolic)}",
                                                 colour_label="debiased CKA", formats=formats)
    return figures


def layers_section(maps: Sequence[LayerMap]) -> SectionWriter:
    """A report section writing the maps' files under ``REPORT/layers/`` and returning their HTML."""

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
                         f"<p>Highest agreement at layer {escape(best['audio_layer'])}: {best['value']:.3f} "
                         f"[{best['ci_low']:.3f}, {best['ci_high']:.3f}] on {int(best['n'])} tracks "
                         f"({m.n_boot} half-samples, {m.n_perm} permutations per cell).</p>")
            parts.append(image_figure(figures[(m.audio, m.symbolic)], report_dir, "debiased CKA per layer pair"))
            parts.append(table_html(cells))
            if m.note:
                parts.append(f'<p class="note">{escape(m.note)}</p>')
        parts.append("</section>")
        return "\n".join(parts)

    return write
