"""Analysis of stores too small or too empty for some figures: real stores written by embed
on tiny generated datasets. What cannot be computed is left out with a note, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from conftest import make_class_folders, make_info_csv_dataset
from counterpoint.analysis.analyze import analyze_store
from counterpoint.analysis.compare import compare_summary, run_compare
from counterpoint.config import AnalysisSettings, CompareSettings
from counterpoint.embed import embed_dataset
from counterpoint.errors import StoreError
from counterpoint.pipeline import analyze_everything
from counterpoint.report.build import build_report
from counterpoint.report.compare import comparison_to_json
from counterpoint.report.sections import ReportPage, Section, register_section, unregister_section
from counterpoint.store import Store, StoreWriter

FAST_COMPARE = {"k": 3, "n_boot": 5, "n_perm": 5}
LINEAR_PROBE = {"probe_models": ("linear",), "probe_seeds": 1}


@pytest.fixture(scope="module")
def short_clips_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 paired tracks of 1-s audio: musicnn (3-s patches) embeds none of them."""
    tmp = tmp_path_factory.mktemp("short")
    root = make_class_folders(tmp / "data", {"low": 45, "mid": 60, "high": 76}, per_class=4, seconds=1.0)
    embed_dataset(root, tmp / "store.h5", "symbolic-stats,audio-stats,musicnn")
    assert {r.spec: r.n_tracks for r in Store(tmp / "store.h5").encoders} == \
        {"musicnn": 0, "audio-stats": 12, "symbolic-stats": 12}
    return tmp / "store.h5"


@pytest.fixture(scope="module")
def midi_only_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 MIDI-only rows: the audio encoder's group exists and holds no track."""
    tmp = tmp_path_factory.mktemp("midi_only")
    rows = [{"id": f"t{i}", "audio_filename": "", "midi_filename": f"m{i}.mid", "style": "ab"[i % 2]}
            for i in range(12)]
    embed_dataset(make_info_csv_dataset(tmp / "data", rows), tmp / "store.h5", "symbolic-stats,audio-stats")
    return tmp / "store.h5"


def tiny_store(folder: Path, styles: list[str]) -> Path:
    rows = [{"id": f"t{i}", "audio_filename": f"a{i}.wav", "midi_filename": f"m{i}.mid", "style": style}
            for i, style in enumerate(styles)]
    embed_dataset(make_info_csv_dataset(folder / "data", rows), folder / "store.h5", "symbolic-stats,audio-stats")
    return folder / "store.h5"


def test_compare_leaves_out_an_encoder_without_tracks_and_compares_the_rest(short_clips_store, tmp_path):
    result = run_compare(short_clips_store, CompareSettings(label="class", **FAST_COMPARE))
    assert [(p.audio, p.symbolic) for p in result.pairs] == [("audio-stats", "symbolic-stats")]
    assert "musicnn: no embedded tracks — left out" in result.notes
    assert "musicnn: no embedded tracks — left out" in comparison_to_json(result)["notes"]
    assert "audio-stats" in compare_summary(result)


def test_analysis_notes_an_encoder_without_tracks_in_the_report_and_the_terminal(short_clips_store, tmp_path):
    lines: list[str] = []
    result = analyze_everything(short_clips_store, AnalysisSettings(label="class"), tmp_path, step=lines.append)
    assert result.analysis.skipped == {"musicnn": "no embedded tracks"}
    assert {s.spec for s in result.analysis.spaces} == {"audio-stats", "symbolic-stats"}
    assert "note: musicnn: skipped — no embedded tracks" in lines
    assert "musicnn: skipped — no embedded tracks" in result.report.read_text()
    assert len(result.comparison.pairs) == 1


def test_midi_only_rows_are_analysed_and_the_comparison_is_a_note(midi_only_store, tmp_path):
    with pytest.raises(StoreError, match=r"audio: none; symbolic: symbolic-stats\) \(audio-stats: no tracks\)"):
        run_compare(midi_only_store, CompareSettings(label="style", **FAST_COMPARE))
    lines: list[str] = []
    result = analyze_everything(midi_only_store, AnalysisSettings(label="style"), tmp_path / "report", step=lines.append)
    assert result.comparison is None and result.analysis.skipped == {"audio-stats": "no embedded tracks"}
    assert any(line.startswith("note: no audio × symbolic comparison") for line in lines)
    assert "no audio × symbolic comparison" in result.report.read_text()
    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert metrics["encoders"]["symbolic-stats"]["n_tracks"] == 12


def test_a_store_without_embeddings_is_a_named_error(tmp_path):
    path = tmp_path / "empty.h5"
    with StoreWriter(path) as writer:   # a track table, no encoder
        writer.set_tracks(pd.DataFrame({"id": ["t0"], "audio_filename": [""], "midi_filename": ["m0.mid"],
                                        "style": ["a"]}))
    message = r"the store holds no embeddings — run `counterpoint embed ROOT --out .*empty.h5` first"
    for analysis in (lambda: analyze_everything(path, AnalysisSettings(label="style", **LINEAR_PROBE), tmp_path / "a"),
                     lambda: analyze_store(path, AnalysisSettings(label="style")),
                     lambda: run_compare(path, CompareSettings(label="style"))):
        with pytest.raises(StoreError, match=message):
            analysis()


@pytest.mark.parametrize("styles", [["a"], ["a", "b"], ["a", "b", "a"]])
def test_analysis_of_one_to_three_tracks_leaves_out_what_it_cannot_compute(tmp_path, styles):
    store = tiny_store(tmp_path, styles)
    lines: list[str] = []
    result = analyze_everything(store, AnalysisSettings(label="style", **LINEAR_PROBE), tmp_path / "report",
                                step=lines.append)
    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())
    n = len(styles)
    for spec in ("audio-stats", "symbolic-stats"):
        assert metrics["encoders"][spec]["n_tracks"] == n
        assert not (tmp_path / "report" / f"{spec}_umap.png").exists()
        assert (tmp_path / "report" / f"{spec}_pca.png").exists() == (n >= 2)
        assert (tmp_path / "report" / f"{spec}_centroid_distance.png").exists() == (n >= 2)
    assert any("UMAP (needs 5 tracks)" in line for line in lines)
    assert all(result.probes.table.error != "")            # too few tracks for a test split: a row that says so
    assert result.comparison is not None and result.comparison.pairs == []
    assert "No audio × symbolic pair could be compared: none has 10 labelled tracks" in \
        compare_summary(result.comparison)
    assert result.report.is_file()


def test_a_single_class_still_gets_its_views_and_a_note(tmp_path):
    store = tiny_store(tmp_path, ["only"] * 8)
    lines: list[str] = []
    result = analyze_everything(store, AnalysisSettings(label="style", **LINEAR_PROBE), tmp_path / "report",
                                step=lines.append)
    assert "note: audio-stats: one 'style' class only ('only') — no centroid distances, clustering or probe" in lines
    for method in ("pca", "tsne", "umap"):
        assert (tmp_path / "report" / f"audio-stats_{method}.png").stat().st_size > 1000
    assert not (tmp_path / "report" / "audio-stats_centroid_distance.png").exists()
    assert result.probes.table.error.str.contains("at least two classes, found 'only'").all()


def test_a_registered_section_writes_its_files_and_follows_the_comparison_on_the_page(tmp_path):
    store = tiny_store(tmp_path, ["a", "b"] * 6)
    analysis = analyze_store(store, AnalysisSettings(label="style"))
    comparison = run_compare(store, CompareSettings(label="style", **FAST_COMPARE))

    def layered_section(result: str, page: ReportPage) -> str:
        (page.out_dir / "layers").mkdir()
        (page.out_dir / "layers" / "layers.csv").write_text("a,b\n1,2\n")
        return f"<h2>Layer maps</h2><p>{result} {','.join(page.formats)}</p>"

    register_section(Section("test_layers", 55, write=layered_section))
    try:
        index = build_report(analysis, comparison, out_dir=tmp_path / "report", figure_formats=("png", "svg"),
                             results={"test_layers": "shown"})
    finally:
        unregister_section("test_layers")
    page = index.read_text()
    assert (tmp_path / "report" / "layers" / "layers.csv").is_file()
    assert "<h2>Layer maps</h2><p>shown png,svg</p>" in page
    assert page.index("Audio × symbolic in detail") < page.index("Layer maps")
