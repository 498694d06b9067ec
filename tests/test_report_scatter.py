"""The data of the report's linked scatter plots: every track once with the metadata columns the page colours
and hovers by, and above the scatter limit a stated subsample stratified by the label (every class kept), every
track's PCA coordinates in CSV files (t-SNE and UMAP of the drawn tracks) and rasterised static scatters."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from counterpoint.analysis.analyze import AnalysisResult, analyze_space
from counterpoint.config import AnalysisSettings
from counterpoint.errors import CounterpointError
from counterpoint.matrix import EmbeddingMatrix
from counterpoint.report.build import build_report
from counterpoint.report.figures import OTHER_COLOUR, class_colours, scatter_2d
from counterpoint.report.scatter import categorical_column, numeric_column, numeric_values, page_data
from counterpoint.splits import stratified_subsample

#: Three classes of very different sizes: a subsample must still keep the rarest.
CLASS_SIZES = {"rock": 40, "jazz": 15, "folk": 5}


def corpus(sizes: dict[str, int] = CLASS_SIZES, dim: int = 8, seed: int = 0) -> pd.DataFrame:
    """Track metadata as a store returns it (every value text): a label, a grouping column, a numeric column,
    a column naming each track, a constant column and the file paths."""
    labels = [name for name, size in sizes.items() for _ in range(size)]
    n = len(labels)
    return pd.DataFrame({"id": [f"t{i:03d}" for i in range(n)], "audio_filename": [f"audio/t{i:03d}.wav" for i in range(n)],
                         "midi_filename": [f"midi/t{i:03d}.mid" for i in range(n)], "style": labels,
                         "composer": [f"composer {i % 4}" for i in range(n)], "tempo_qpm": [str(60 + i) for i in range(n)],
                         "work": [f"work {i}" for i in range(n)], "source": ["one"] * n})


def analysis_of(obs: pd.DataFrame, settings: AnalysisSettings, reductions: tuple[str, ...] = ("pca",)) -> AnalysisResult:
    """Two real spaces (symbolic and audio) of the tracks in ``obs``, analysed for ``settings.label``."""
    seed = 0
    rng = np.random.default_rng(seed)
    codes = np.unique(obs["style"], return_inverse=True)[1]
    spaces = []
    for spec, modality in (("sym", "symbolic"), ("aud", "audio")):
        X = (3 * rng.standard_normal((codes.max() + 1, 8))[codes] + rng.standard_normal((len(obs), 8))).astype(np.float32)
        spaces.append(analyze_space(EmbeddingMatrix(spec, modality, X, obs), settings.label, reductions=reductions,
                                    seed=settings.seed, view_limit=settings.scatter_limit))
    return AnalysisResult(Path("corpus.h5"), settings.label, spaces, pd.DataFrame({"encoder": ["sym"]}), {}, 0,
                          settings=settings)


def inlined(page: Path) -> dict:
    """The JSON the page's scripts read."""
    text = page.read_text(encoding="utf-8")
    return json.loads(re.search(r'<script type="application/json" id="cp-data">(.*?)</script>', text, re.S).group(1))


def test_each_track_is_inline_once_with_the_columns_it_can_be_coloured_by(tmp_path: Path) -> None:
    obs = corpus()
    analysis = analysis_of(obs, AnalysisSettings(label="style"))
    colours = class_colours(obs["style"])
    data = page_data(analysis, None, colours, out_dir=tmp_path)
    # The label first; paths, the id, a column naming each track (work) and a constant one (source) left out;
    # a numeric column is kept although each track has its own value.
    assert [c["name"] for c in data["columns"]] == ["style", "composer", "tempo_qpm"]
    style, composer, tempo = data["columns"]
    assert style["kind"] == composer["kind"] == "categorical" and tempo["kind"] == "numeric"
    assert style["colours"] == [colours[level] for level in style["levels"]]  # the static figures' colours
    assert (tempo["low"], tempo["high"]) == (60.0, 60.0 + len(obs) - 1)
    assert data["tracks"]["ids"] == obs["id"].tolist() and data["tracks"]["drawn"] is None
    assert data["subsample"] is None and data["webgl"] is False
    # Each drawn track's values, in the order of the ids: the page's hover reads them.
    assert [composer["levels"][code] for code in composer["codes"]] == obs["composer"].tolist()
    assert tempo["values"] == [float(v) for v in obs["tempo_qpm"]]
    assert [style["levels"][code] for code in data["tracks"]["label"]] == obs["style"].tolist()
    for space in data["spaces"]:   # per space only positions and coordinates, no copy of the metadata
        assert set(space) == {"spec", "title", "rows", "projections"} and space["rows"] == list(range(len(obs)))
    assert data["tracks"]["audio_base"] == "" and data["tracks"]["audio"] == [""] * len(obs)  # no dataset root


def test_a_column_with_more_than_twenty_values_names_the_most_frequent_and_greys_the_rest(tmp_path: Path) -> None:
    obs = corpus({"rock": 100, "jazz": 20})
    obs["composer"] = [f"composer {min(i, 29):02d}" if i < 60 else "composer 00" for i in range(len(obs))]
    data = page_data(analysis_of(obs, AnalysisSettings(label="style")), None, class_colours(obs["style"]),
                     out_dir=tmp_path)
    composer = next(c for c in data["columns"] if c["name"] == "composer")
    assert len(composer["levels"]) == 30 and sum(composer["named"]) == 20
    assert composer["other"] == "other (10 classes)"
    assert all(colour == OTHER_COLOUR for colour, named in zip(composer["colours"], composer["named"]) if not named)
    assert len({colour for colour, named in zip(composer["colours"], composer["named"]) if named}) == 18  # palette size


def test_the_stratified_subsample_keeps_every_class_in_proportion_and_is_seeded() -> None:
    labels = np.array(["rock"] * 900 + ["jazz"] * 95 + ["folk"] * 5)
    chosen = stratified_subsample(labels, 100, seed=3)
    kept = dict(zip(*np.unique(labels[chosen], return_counts=True)))
    assert kept == {"rock": 90, "jazz": 10, "folk": 1}   # 5 folk tracks round to 0.5: still one
    assert np.array_equal(chosen, np.sort(chosen)) and len(set(chosen)) == len(chosen)
    np.testing.assert_array_equal(chosen, stratified_subsample(labels, 100, seed=3))
    assert not np.array_equal(chosen, stratified_subsample(labels, 100, seed=4))
    np.testing.assert_array_equal(stratified_subsample(labels[:50], 100), np.arange(50))   # at most n: every row


def test_above_the_limit_the_page_draws_a_stated_stratified_subsample(tmp_path: Path) -> None:
    obs = corpus()
    settings = AnalysisSettings(label="style", scatter_limit=12, seed=5, reductions=("pca",), figure_formats=("svg",))
    page = build_report(analysis_of(obs, settings), out_dir=tmp_path / "report", figure_formats=("svg",))
    data = inlined(page)
    drawn = data["tracks"]["drawn"]
    assert data["webgl"] is True and data["subsample"]["n"] == len(drawn) == 12 and data["subsample"]["total"] == 60
    assert data["tracks"]["ids"] == obs["id"].tolist()   # every id, for the search
    style = data["columns"][0]
    assert sorted(style["levels"][code] for code in set(style["codes"])) == sorted(CLASS_SIZES)  # every class drawn
    assert sorted(style["levels"][code] for code in style["codes"]) == sorted(["rock"] * 8 + ["jazz"] * 3 + ["folk"])
    assert drawn == stratified_subsample(obs["style"].to_numpy(), 12, seed=5).tolist()
    for space in data["spaces"]:
        assert space["rows"] == list(range(12)) and len(space["projections"]["pca"]["x"]) == 12
    text = page.read_text(encoding="utf-8")
    assert "Showing 12 of 60 tracks, stratified by style (seed 5" in text
    # The full coordinates stay in the CSV files; the static scatters of every track are rasterised.
    views = pd.read_csv(tmp_path / "report" / "sym_2d_views.csv")
    assert views["id"].tolist() == obs["id"].tolist() and {"pca_x", "pca_y"} <= set(views.columns)
    assert "<image" in (tmp_path / "report" / "sym_pca.svg").read_text()


def test_above_the_limit_t_sne_places_only_the_drawn_tracks_and_pca_every_track(tmp_path: Path) -> None:
    obs = corpus()
    settings = AnalysisSettings(label="style", scatter_limit=12, seed=5, reductions=("pca", "tsne"),
                                figure_formats=("svg",))
    analysis = analysis_of(obs, settings, reductions=settings.reductions)
    drawn = stratified_subsample(obs["style"].to_numpy(), 12, seed=5)
    for space in analysis.spaces:
        placed = np.flatnonzero(np.isfinite(space.projections["tsne"]).all(1))
        np.testing.assert_array_equal(placed, drawn)   # the page's drawn tracks, no other
        assert np.isfinite(space.projections["pca"]).all()
        assert any("TSNE placed a subsample of 12 of the 60 tracks, stratified by 'style' (seed 5)" in note
                   for note in space.notes)
    page = build_report(analysis, out_dir=tmp_path / "report", figure_formats=("svg",))
    data = inlined(page)
    for space in data["spaces"]:
        assert space["rows"] == list(range(12)) and np.isfinite(space["projections"]["tsne"]["x"]).all()
    views = pd.read_csv(tmp_path / "report" / "sym_2d_views.csv")
    assert views["pca_x"].notna().all() and views["tsne_x"].notna().sum() == 12
    assert views.loc[views["tsne_x"].notna(), "id"].tolist() == obs["id"].iloc[drawn].tolist()
    # A limit leaving fewer tracks than t-SNE needs: no t-SNE view, said; PCA still of every track.
    few = analysis_of(obs, AnalysisSettings(label="style", scatter_limit=3, reductions=("pca", "tsne")),
                      reductions=("pca", "tsne"))
    assert set(few.spaces[0].projections) == {"pca"}
    assert any("no TSNE (needs 7 tracks) view of 60 labelled tracks, of which the scatter limit leaves 4 to place"
               in note for note in few.spaces[0].notes)


def test_at_or_below_the_limit_every_track_is_drawn_as_vectors(tmp_path: Path) -> None:
    settings = AnalysisSettings(label="style", scatter_limit=60, reductions=("pca",), figure_formats=("svg",))
    page = build_report(analysis_of(corpus(), settings), out_dir=tmp_path / "report", figure_formats=("svg",))
    data = inlined(page)
    assert data["subsample"] is None and data["webgl"] is False and len(data["spaces"][0]["rows"]) == 60
    assert "Showing" not in page.read_text(encoding="utf-8")
    assert "<image" not in (tmp_path / "report" / "sym_pca.svg").read_text()


def test_a_rasterised_scatter_stays_small_however_many_points(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    sizes = {}
    for n in (600, 6000):
        labels = np.array(["a", "b", "c"] * (n // 3))
        coords = rng.standard_normal((n, 2))
        for rasterized in (False, True):
            path = scatter_2d(coords, labels, title="t", stem=tmp_path / f"{n}{rasterized}",
                              colours=class_colours(labels), formats=("svg",), rasterized=rasterized)
            sizes[n, rasterized] = path.stat().st_size
    assert sizes[6000, False] > 5 * sizes[600, False], sizes    # vectors: one path per point
    # one image of the points: bounded by its pixels (it grows as they fill, far slower than the vectors)
    assert sizes[6000, True] / sizes[600, True] < 0.5 * sizes[6000, False] / sizes[600, False], sizes
    assert sizes[6000, True] < sizes[6000, False] / 3, sizes


def test_the_scatter_limit_is_a_checked_setting() -> None:
    with pytest.raises(CounterpointError, match="scatter_limit|scatter-limit"):
        AnalysisSettings(label="style", scatter_limit=0)


def test_missing_values_are_said_not_guessed() -> None:
    tempo = pd.Series(["60", "", "72.5", None])
    numbers = numeric_values(tempo)
    assert numbers is not None and numbers.tolist()[::2] == [60.0, 72.5] and numbers.iloc[[1, 3]].isna().all()
    assert numeric_column("tempo", numbers)["values"] == [60.0, None, 72.5, None]
    assert numeric_values(pd.Series(["60", "fast"])) is None   # one word: text
    era = categorical_column("era", ["romantic", "", "baroque", None])
    assert era["levels"] == ["(no value)", "baroque", "romantic"] and era["codes"] == [2, 0, 1, 0]


def test_spaces_without_a_2d_view_leave_no_scatter_data(tmp_path: Path) -> None:
    data = page_data(analysis_of(corpus(), AnalysisSettings(label="style"), reductions=()), None, {}, out_dir=tmp_path)
    assert data["spaces"] == [] and data["columns"] == [] and data["tracks"]["ids"] == []
