"""compare --untrained-control: each figure beside the same figure of the untrained twin (init=random), with
trained − untrained, paired intervals and corrected one-sided p-values; the no-twin error names the spec."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import make_class_folders
from counterpoint.analysis.compare import run_compare
from counterpoint.analysis.untrained import control_rows, run_untrained_control
from counterpoint.cli import app
from counterpoint.config import CompareSettings
from counterpoint.errors import StoreError
from counterpoint.store import Store, untrained_twins
from tiny_models import write_mert

SETTINGS = CompareSettings(label="class", n_boot=200, n_perm=99, fixed_n_perm=True)


def invoke(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A store with a tiny MERT, its untrained twin and symbolic-stats (16 tracks, 2 classes); and one without the twin."""
    folder = tmp_path_factory.mktemp("control")
    root = make_class_folders(folder / "data", per_class=8, seconds=1.5)
    mert = write_mert(folder / "mert").spec
    paths = {}
    for name, specs in (("with_twin", f"{mert}+{mert},init=random+symbolic-stats"), ("without", f"{mert}+symbolic-stats")):
        paths[name] = folder / f"{name}.h5"
        result = invoke("embed", root, "--encoders", specs, "--out", paths[name])
        assert result.exit_code == 0, result.output + repr(result.exception)
    paths["mert"] = mert
    return paths


def test_the_twin_is_found_by_its_spec_less_init(stores) -> None:
    store = Store(stores["with_twin"])
    twins = untrained_twins(store.encoders)
    assert twins == {stores["mert"]: f"{stores['mert']},init=random"}


def test_control_differs_from_trained_and_its_intervals_hold_the_estimates(stores) -> None:
    store = Store(stores["with_twin"])
    comparison = run_compare(store, SETTINGS)
    control = run_untrained_control(comparison, store, required=True)
    table = control.control
    trained_pair = table[(table.audio == stores["mert"]) & (table.symbolic == "symbolic-stats")]
    assert list(trained_pair.figure) == ["cka_debiased", "mutual_knn@10", "recall@1", "mrr"]
    # the trained figures are the comparison's own (the twin covers every track: same tracks, same split)
    alignment = comparison.alignment
    for figure in ("cka_debiased", "mutual_knn@10"):
        expected = alignment[(alignment.audio == stores["mert"]) & (alignment.measure == figure)].value.iloc[0]
        assert trained_pair.set_index("figure").value_trained[figure] == pytest.approx(expected, abs=1e-9)
    ridge = alignment[(alignment.audio == stores["mert"]) & (alignment.method == "ridge")
                      & alignment.direction.str.startswith("audio") & (alignment.measure == "recall@1")]
    assert trained_pair.set_index("figure").value_trained["recall@1"] == pytest.approx(ridge.value.iloc[0], abs=1e-12)
    # the untrained network is another space: its CKA with the score differs from the trained one
    cka = trained_pair.set_index("figure").loc["cka_debiased"]
    assert abs(cka.value_trained - cka.value_untrained) > 1e-3
    assert np.allclose(trained_pair.value, trained_pair.value_trained - trained_pair.value_untrained)
    assert ((trained_pair.ci_low <= trained_pair.value + 1e-12) & (trained_pair.value <= trained_pair.ci_high + 1e-12)).all()
    assert ((table.p_value > 0) & (table.p_value <= 1)).all() and (table.p_holm >= table.p_value - 1e-12).all()
    # the twin is no compared space of its own: it appears only in place of its trained encoder
    assert set(table.replaced) == {stores["mert"]}
    assert {(pair.audio, pair.symbolic) for pair in comparison.pairs} == {(stores["mert"], "symbolic-stats")}


def test_the_twin_is_no_space_of_its_own_in_the_per_space_analysis_or_probe_table(stores, tmp_path: Path) -> None:
    """The untrained twin is left out of the per-space figures (with a note naming its trained encoder), of the
    default probe table and of the compared pairs; an init=random encoder without its trained encoder is analysed."""
    from counterpoint.analysis.analyze import analyze_store
    from counterpoint.config import AnalysisSettings
    from counterpoint.probes.run import probe_table

    twin = f"{stores['mert']},init=random"
    store = Store(stores["with_twin"])
    assert [r.spec for r in store.analysed_encoders()] == [stores["mert"], "symbolic-stats"]
    analysis = analyze_store(store, AnalysisSettings(label="class", reductions=("pca",)))
    assert [s.spec for s in analysis.spaces] == [stores["mert"], "symbolic-stats"]
    assert f"untrained twin of {stores['mert']}" in analysis.skipped[twin]
    assert any(note.startswith(f"{twin}: skipped") for note in analysis.notes)
    assert list(probe_table(store, "class", repeats=1).table.encoder) == [stores["mert"], "symbolic-stats"]
    from counterpoint.report.sections import SectionInputs, sections
    probes = next(s for s in sections() if s.name == "probes")
    matrices = {r.spec: store.pooled(r.spec) for r in store.encoders_with_tracks()}
    report_probes = probes.run(SectionInputs(store, AnalysisSettings(label="class", probe_models=("linear",),
                                                                     probe_seeds=1), matrices, {}, [], print))
    assert list(report_probes.table.encoder) == [stores["mert"], "symbolic-stats"]
    # asked for by name, the twin is probed like any encoder
    assert list(probe_table(store, "class", repeats=1, encoders=[twin]).table.encoder) == [twin]
    # a store holding the untrained encoder alone analyses it
    alone = tmp_path / "alone.h5"
    root = make_class_folders(tmp_path / "data", per_class=8)
    result = invoke("embed", root, "-e", twin, "-o", alone)
    assert result.exit_code == 0, result.output
    assert [s.spec for s in analyze_store(alone, AnalysisSettings(label="class", reductions=("pca",))).spaces] == [twin]


def test_a_clear_difference_is_detected_and_none_is_not() -> None:
    """Known answers on synthetic spaces: a trained space that is the score plus noise against a random one (the
    difference is large, its p small); the same space as its own twin (difference 0 exactly, p large)."""
    rng = np.random.default_rng(0)
    n = 60
    score = rng.standard_normal((n, 8))
    trained = score @ rng.standard_normal((8, 12)) + 0.3 * rng.standard_normal((n, 12))
    untrained = rng.standard_normal((n, 12))
    labels = np.repeat(["a", "b"], n // 2)
    settings = CompareSettings(label="label", n_boot=300, k=5)
    rows = pd.DataFrame(control_rows(trained, untrained, score, audio_side=True, labels=labels, groups=None,
                                     given_split=None, settings=settings)).set_index("figure")
    assert rows.loc["cka_debiased", "value"] > 0.5 and rows.loc["cka_debiased", "p_value"] < 0.01
    assert rows.loc["mutual_knn@5", "value"] > 0.2 and rows.loc["mutual_knn@5", "p_value"] < 0.01
    same = pd.DataFrame(control_rows(trained, trained, score, audio_side=True, labels=labels, groups=None,
                                     given_split=None, settings=settings)).set_index("figure")
    assert (same.value == 0).all() and (same.p_value > 0.3).all()


def test_cli_writes_the_control_and_prints_a_sentence_per_pair(stores, tmp_path: Path) -> None:
    out = tmp_path / "compare"
    result = invoke("compare", stores["with_twin"], "--label", "class", "--out", out, "--n-boot", "100",
                    "--n-perm", "99", "--fixed-n-perm", "--untrained-control")
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert f"untrained architecture ({stores['mert']},init=random) gives" in result.output
    table = pd.read_csv(out / "untrained_control.csv")
    assert len(table) == 4 and set(table.measure) == {"trained_minus_untrained"}
    assert json.loads((out / "untrained_control.json").read_text())["twins"] == {stores["mert"]: f"{stores['mert']},init=random"}


def test_no_twin_is_an_error_naming_the_spec_to_embed(stores, tmp_path: Path) -> None:
    store = Store(stores["without"])
    with pytest.raises(StoreError, match=r'no untrained twin of .*counterpoint embed ROOT -e ".*init=random" -o'):
        run_untrained_control(run_compare(store, SETTINGS), store, required=True)
    result = invoke("compare", stores["without"], "--label", "class", "--out", tmp_path / "c", "--untrained-control",
                    "--n-boot", "50", "--n-perm", "19", "--fixed-n-perm")
    assert result.exit_code == 2 and "init=random" in result.output


def test_untrained_control_cannot_combine_with_layers(stores, tmp_path: Path) -> None:
    result = invoke("compare", stores["with_twin"], "--label", "class", "--out", tmp_path / "c", "--layers",
                    "--untrained-control")
    assert result.exit_code == 2 and "--untrained-control" in result.output


def test_the_report_section_runs_after_the_comparison_and_writes_its_files(stores, tmp_path: Path) -> None:
    from counterpoint.config import AnalysisSettings
    from counterpoint.report.sections import ReportPage, SectionInputs, sections

    store = Store(stores["with_twin"])
    section = next(s for s in sections() if s.name == "untrained")
    comparison = next(s for s in sections() if s.name == "comparison")
    assert comparison.order < section.order  # it reads the comparison's result
    announced: list[str] = []
    inputs = SectionInputs(store, AnalysisSettings(label="class"), {}, {"comparison": run_compare(store, SETTINGS)},
                           [], announced.append)
    result = section.run(inputs)
    assert announced and len(result.control) == 4
    html = section.write(result, ReportPage(tmp_path, ("png",), {"untrained": result}, []))
    assert "Calibration: trained versus untrained networks" in html and "the untrained architecture" in html
    assert len(pd.read_csv(tmp_path / "untrained" / "untrained_control.csv")) == 4
    # without a twin in the store the section shows nothing and says nothing
    plain = Store(stores["without"])
    quiet = SectionInputs(plain, AnalysisSettings(label="class"), {}, {"comparison": run_compare(plain, SETTINGS)},
                          [], announced.append)
    assert section.run(quiet) is None and quiet.notes == []
