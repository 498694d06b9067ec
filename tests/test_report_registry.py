"""One declaration per measure, one registry of sections: a measure and a section declared in this file alone
reach the report page, its JSON and the command line, with no other module touched."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import make_info_csv_dataset
from counterpoint.analysis.statistics import Estimate
from counterpoint.cli import app
from counterpoint.embed import embed_dataset
from counterpoint.ranges import MEASURES, UNIT, StatisticRangeError, declare_measure, measure_range, verdict_figures
from counterpoint.report.files import write_json
from counterpoint.report.sections import (ReportPage, Section, SectionInputs, register_section, sections,
                                          unregister_section)
from counterpoint.results import AnalysisOutcome, TabledResult

TOY_MEASURE = "toy_norm_agreement"


def toy_norm_agreement(audio: np.ndarray, symbolic: np.ndarray, settings) -> Estimate:
    """Share of paired tracks on the same side of the median row norm in both spaces (chance 0.5)."""
    above_a = np.linalg.norm(audio, axis=1) > np.median(np.linalg.norm(audio, axis=1))
    above_s = np.linalg.norm(symbolic, axis=1) > np.median(np.linalg.norm(symbolic, axis=1))
    value = float(np.mean(above_a == above_s))
    rng = np.random.default_rng(settings.seed)
    null = np.array([np.mean(above_a == rng.permutation(above_s)) for _ in range(99)])
    p = (1 + np.sum(null >= value)) / 100
    return Estimate(value=value, ci_low=max(0.0, value - 0.1), ci_high=min(1.0, value + 0.1), p_value=float(p),
                    n=len(audio), n_resample=len(audio), chance=0.5, null_mean=float(null.mean()))


@dataclass
class TrackCounts(TabledResult):
    """The toy section's result, following the analysis protocol."""

    settings: dict
    counts: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        return {"track_counts": self.counts}


def count_tracks(inputs: SectionInputs) -> TrackCounts:
    counts = pd.DataFrame([{"encoder": spec, "tracks": len(matrix), "mean_norm": float(np.nan)}
                           for spec, matrix in inputs.matrices.items()])
    return TrackCounts({"label": inputs.options.label}, counts, ["toy: the mean norm is not computed"])


def track_counts_html(result: TrackCounts, page: ReportPage) -> str:
    write_json(page.out_dir / "track_counts.json", result.as_dict())
    rows = "".join(f"<li>{row.encoder}: {row.tracks} tracks</li>" for row in result.counts.itertuples())
    return f'<section id="toy-counts"><h2>Toy track counts</h2><ul>{rows}</ul></section>'


def track_counts_summary(result: TrackCounts) -> str:
    return "toy track counts: " + ", ".join(f"{r.encoder} {r.tracks}" for r in result.counts.itertuples())


@pytest.fixture
def toy_plugins():
    declare_measure(TOY_MEASURE, UNIT, title="toy norm agreement", verdict=(TOY_MEASURE, ""),
                    prose="Toy norm agreement: the share of tracks on the same side of the median norm in both spaces.",
                    compute=toy_norm_agreement)
    register_section(Section("toy_counts", 85, run=count_tracks, write=track_counts_html,
                             summary=track_counts_summary))
    yield
    MEASURES.pop(TOY_MEASURE)
    unregister_section("toy_counts")


@pytest.fixture(scope="module")
def paired_store(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("registry")
    rows = [{"id": f"t{i}", "audio_filename": f"a{i}.wav", "midi_filename": f"m{i}.mid", "style": "ab"[i % 2]}
            for i in range(12)]
    embed_dataset(make_info_csv_dataset(folder / "data", rows), folder / "store.h5", "symbolic-stats,audio-stats")
    return folder / "store.h5"


def test_a_measure_and_a_section_declared_here_reach_the_page_the_json_and_the_terminal(toy_plugins, paired_store,
                                                                                         tmp_path):
    assert (TOY_MEASURE, "") in verdict_figures() and measure_range(TOY_MEASURE) is UNIT
    assert "toy_counts" in [section.name for section in sections()]
    out = tmp_path / "report"
    run = CliRunner().invoke(app, ["analyze", str(paired_store), "--label", "style", "--out", str(out),
                                   "--figure-format", "png"])
    assert run.exit_code == 0, run.output
    # The terminal: the measure in the verdict (title from its declaration), the section's summary.
    assert "toy norm agreement" in run.output
    assert "toy track counts: " in run.output and "audio-stats 12" in run.output
    # The JSON: the measure's rows in compare.json, computed on the pair; the section's own file.
    compare = json.loads((out / "compare" / "compare.json").read_text())
    toy_rows = [row for row in compare["alignment"] if row["measure"] == TOY_MEASURE]
    assert [(row["audio"], row["symbolic"]) for row in toy_rows] == [("audio-stats", "symbolic-stats")]
    assert 0.0 <= toy_rows[0]["value"] <= 1.0 and toy_rows[0]["n"] == 12
    counts = json.loads((out / "track_counts.json").read_text())
    assert counts["settings"] == {"label": "style"} and counts["notes"] == ["toy: the mean norm is not computed"]
    assert {row["encoder"]: row["tracks"] for row in counts["track_counts"]} == {"audio-stats": 12,
                                                                                  "symbolic-stats": 12}
    assert counts["track_counts"][0]["mean_norm"] is None   # NaN written as null
    # The page: the measure in the verdict with its prose, the section in its place (after the probes' slot,
    # before the embedding times).
    page = (out / "index.html").read_text()
    assert "toy norm agreement" in page and "Toy norm agreement: the share of tracks" in page
    assert page.index("Audio × symbolic in detail") < page.index("Toy track counts") < page.index("Embedding time")
    # The verdict's permutations follow its family, now one figure larger (6 rows per pair).
    assert compare["settings"]["n_perm"] == 200 * 6 - 1


def test_without_the_plugins_neither_appears_and_an_undeclared_measure_is_refused(paired_store, tmp_path):
    assert TOY_MEASURE not in MEASURES and "toy_counts" not in [section.name for section in sections()]
    with pytest.raises(StatisticRangeError, match="declare_measure"):
        measure_range(TOY_MEASURE)
    run = CliRunner().invoke(app, ["compare", str(paired_store), "--label", "style", "--out", str(tmp_path),
                                   "--n-boot", "20", "--figure-format", "png"])
    assert run.exit_code == 0, run.output
    assert "toy" not in run.output
    compare = json.loads((tmp_path / "compare.json").read_text())
    assert TOY_MEASURE not in {row["measure"] for row in compare["alignment"]}
    assert compare["settings"]["n_perm"] == 200 * 5 - 1


def test_every_result_follows_the_one_protocol(toy_plugins, paired_store):
    from counterpoint.analysis.analyze import analyze_store
    from counterpoint.analysis.compare import run_compare
    from counterpoint.config import AnalysisSettings, CompareSettings

    results = [analyze_store(paired_store, AnalysisSettings(label="style", reductions=("pca",))),
               run_compare(paired_store, CompareSettings(label="style", k=3, n_boot=5, n_perm=5)),
               count_tracks(SectionInputs(None, AnalysisSettings(label="style"), {}, {}, [], print))]
    for result in results:
        assert isinstance(result, AnalysisOutcome)
        assert all(isinstance(table, pd.DataFrame) for table in result.tables.values())
        json.dumps(result.as_dict(), allow_nan=False)   # NaN written as null, every value JSON's own
    compare = results[1]
    written = compare.as_dict()["alignment"]
    assert len(written) == len(compare.alignment) and written[0].keys() == set(compare.alignment.columns)
    missing = compare.alignment.isna().to_numpy()
    assert missing.any() and all((value is None) == missing[i, j] for i, row in enumerate(written)
                                 for j, value in enumerate(row.values()))
