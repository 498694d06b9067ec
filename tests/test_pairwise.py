"""The one pairwise driver (counterpoint.analysis.pairwise) and the one naming of a pair's files."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from counterpoint.analysis.time_aligned import AlignedPair
from counterpoint.analysis.pairwise import PairSkipped, each_pair, family_notes, family_table
from counterpoint.errors import CounterpointError
from counterpoint.report.time_aligned import curve_stem
from counterpoint.report.compare import plot_names
from counterpoint.report.files import pair_slug, slug, write_json
from counterpoint.significance import holm_adjust


def test_each_pair_loops_in_order_and_notes_each_pair_left_out():
    def compare_pair(audio: str, symbolic: str):
        if audio == "a2" and symbolic == "s1":
            raise PairSkipped("only 3 paired tracks — skipped (need 10)")
        if symbolic == "s2" and audio == "a1":
            raise CounterpointError("too few groups")
        if audio == "a3":
            return None
        return f"{audio}+{symbolic}"

    notes: list[str] = []
    found = each_pair(["a1", "a2", "a3"], ["s1", "s2"], compare_pair, notes=notes,
                      left_out="no time-aligned comparison")
    assert list(found.done) == [("a1", "s1"), ("a2", "s2")] and found.done[("a2", "s2")] == "a2+s2"
    assert found.skipped == {("a1", "s2"): "no time-aligned comparison — too few groups",
                             ("a2", "s1"): "only 3 paired tracks — skipped (need 10)"}
    assert notes == ["a1 × s2: no time-aligned comparison — too few groups",
                     "a2 × s1: only 3 paired tracks — skipped (need 10)"]
    with pytest.raises(ZeroDivisionError):   # a bug is not a pair left out
        each_pair(["a"], ["s"], lambda a, s: 1 / 0, notes=[])


def test_a_family_table_adjusts_its_finite_p_values_as_one_family_and_notes_undecidable_families():
    rows = [{"audio": "a", "measure": "x", "p_value": p} for p in (0.01, 0.04, float("nan"), 0.03)]
    table = family_table(rows, ["audio", "measure", "p_value", "p_holm", "p_bh"])
    assert list(table.columns) == ["audio", "measure", "p_value", "p_holm", "p_bh"]
    np.testing.assert_allclose(table.p_holm.to_numpy(), holm_adjust([0.01, 0.04, math.nan, 0.03]), equal_nan=True)
    assert math.isnan(table.p_holm[2]) and table.p_holm[0] == pytest.approx(0.03)
    empty = family_table([], ["audio", "p_value", "p_holm", "p_bh"])
    assert empty.empty and list(empty.columns) == ["audio", "p_value", "p_holm", "p_bh"]
    # 3 tests of 49 permutations reach Holm p 3/50 = 0.06 at best: undecidable at 0.05; 199 permutations decide.
    notes = family_notes([("small table", table, 49), ("counted table", 3, 199)], fixed=True)
    assert len(notes) == 1 and notes[0].startswith("small table: 3 tests with 49 permutations")
    assert "--fixed-n-perm" in notes[0]


def test_one_pair_has_one_name_in_every_sections_files(tmp_path):
    audio, symbolic = "musicnn:model=MSD,layer=penultimate", "symbolic-stats"
    name = pair_slug(audio, symbolic)
    assert name == "musicnn_model=MSD_layer=penultimate__symbolic-stats"
    assert slug("a/../b c") == "a_.._b_c" and slug("∅") == "_" and len(slug("x" * 300)) == 120

    class Pair:   # what plot_names reads of a compared pair
        pass

    pair = Pair()
    pair.audio, pair.symbolic = audio, symbolic
    assert plot_names(pair) == {"ranks": f"ranks_{name}.png", "cca": f"cca_{name}.png"}
    assert curve_stem(AlignedPair(audio, symbolic, 10, 100, 3)) == f"agreement_curve_{name}"


def test_the_one_json_writer_writes_nan_as_null_and_numpy_as_numbers(tmp_path):
    frame = pd.DataFrame({"value": [0.5, np.nan], "n": np.array([3, 4], dtype=np.int64)})
    path = write_json(tmp_path / "x.json", {"rows": frame, "array": np.array([1.0, np.inf], dtype=np.float32),
                                            "p": np.float64("nan"), "path": tmp_path})
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"rows": [{"value": 0.5, "n": 3}, {"value": None, "n": 4}], "array": [1.0, None],
                                "p": None, "path": str(tmp_path)}
