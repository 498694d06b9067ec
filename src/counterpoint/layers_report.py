"""The files of ``compare --layers``: the layer maps' CSV, JSON, heatmaps and report section under ``OUT/layers/``.

A small step between the computation (:func:`counterpoint.analysis.layers.layer_cka_map`) and the
report section that draws it (:func:`counterpoint.report.layers.layers_section`), so the command
line only parses and prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from counterpoint.report.layers import LAYERS_DIR, layers_section

if TYPE_CHECKING:
    from counterpoint.analysis.layers import LayerMap


def write_layer_maps(maps: "Sequence[LayerMap]", out: str | Path, *, formats: Sequence[str]) -> Path:
    """Write the layer maps' tables, figures in ``formats`` and ``section.html`` into ``out/layers/``; return that folder."""
    out = Path(out)
    folder = out / LAYERS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "section.html").write_text(layers_section(list(maps))(out, list(formats)))
    return folder
