"""Labels are drawn as they are written: dollar signs never reach matplotlib's mathtext."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.cbook import is_math_text
from matplotlib.text import Text

from conftest import make_info_csv_dataset
from counterpoint.config import AnalysisSettings
from counterpoint.embed import embed_dataset
from counterpoint.pipeline import analyze_everything
from counterpoint.report.compare import plot_names
from counterpoint.report.probes import confusion_matrix_figure

#: "$x^$" is a mathtext syntax error; "a$b$c" would silently draw an italic b.
DOLLAR_LABELS = ["$5 song", "a$b$c", "$x^$"]


def test_a_report_with_dollar_labels_builds_every_figure(tmp_path: Path) -> None:
    rows = [{"id": f"t{i}", "audio_filename": f"a{i}.wav", "midi_filename": f"m{i}.mid",
             "style": DOLLAR_LABELS[i % 3]} for i in range(15)]
    store = tmp_path / "store.h5"
    embed_dataset(make_info_csv_dataset(tmp_path / "data", rows), store, "symbolic-stats,audio-stats")
    result = analyze_everything(store, AnalysisSettings(label="style", probe_models=("linear",), probe_seeds=1),
                                tmp_path / "report")
    report = tmp_path / "report"
    for spec in ("audio-stats", "symbolic-stats"):
        for figure in ("pca", "tsne", "umap", "centroid_distance"):
            assert (report / f"{spec}_{figure}.png").stat().st_size > 1000, (spec, figure)
    assert result.comparison.pairs, result.comparison.notes
    for name in plot_names(result.comparison.pairs[0]).values():
        assert (report / "compare" / name).stat().st_size > 1000
    assert all(result.probes.table.error == ""), result.probes.table.error.tolist()
    assert list(report.glob("probes/*/linear/confusion_matrix.png"))


def test_class_names_with_dollars_are_plain_text_in_the_figure() -> None:
    figure = confusion_matrix_figure(np.eye(3, dtype=int), DOLLAR_LABELS, title="$x^$ probe")
    figure.canvas.draw()
    texts = [t.get_text() for t in figure.findobj(Text) if t.get_text()]
    assert any("$x^" in t for t in texts) and not any(is_math_text(t) for t in texts)
