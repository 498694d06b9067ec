"""The verdict's arithmetic and rule, the figure formats and the escaping of inlined data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from counterpoint.analysis.statistics import bh_adjust, holm_adjust, with_adjusted_p_values
from counterpoint.significance import (accuracy_p_value, family_permutations, permutations_for_family, smallest_holm_p,
                                       undecidable_family_note)
from counterpoint.config import AnalysisSettings, figure_formats
from counterpoint.errors import CounterpointError
from counterpoint.report.figures import class_colours
from counterpoint.ranges import MEASURES
from counterpoint.report.html import format_value, inline_json, table_html
from counterpoint.report.verdict import TRACK_CLAIM, pair_sentences, row_verdict, verdict_section


def test_holm_multiplies_by_the_remaining_tests_and_stays_monotone() -> None:
    adjusted = holm_adjust([0.01, 0.04, 0.03, np.nan, 0.5])
    assert adjusted[:3] == pytest.approx([0.04, 0.09, 0.09])   # 0.01·4, then max(0.03·3, 0.04·2)
    assert np.isnan(adjusted[3]) and adjusted[4] == pytest.approx(0.5)


def test_benjamini_hochberg_scales_by_rank_and_takes_the_running_minimum_from_the_top() -> None:
    adjusted = bh_adjust([0.01, 0.04, 0.03, np.nan, 0.5])
    # m = 4 finite: sorted 0.01, 0.03, 0.04, 0.5 → ·4/1, ·4/2, ·4/3, ·4/4 = 0.04, 0.06, 0.0533, 0.5, then the
    # minimum over the ranks above: 0.03 takes 0.0533 from 0.04's rank.
    assert adjusted[[0, 2, 1, 4]] == pytest.approx([0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.5])
    assert np.isnan(adjusted[3])


def test_adjusted_p_values_treat_the_whole_table_as_one_family() -> None:
    table = with_adjusted_p_values(pd.DataFrame({"p_value": [0.01, 0.02, np.nan]}))
    assert table.p_holm.tolist()[:2] == pytest.approx([0.02, 0.02]) and np.isnan(table.p_holm.iloc[2])
    assert table.p_bh.tolist()[:2] == pytest.approx([0.02, 0.02])
    assert with_adjusted_p_values(pd.DataFrame({"p_value": []})).columns.tolist() == ["p_value", "p_holm", "p_bh"]


def test_accuracy_p_value_is_the_binomial_tail_by_hand() -> None:
    assert accuracy_p_value(3, 3, 0.5) == pytest.approx(1 / 8)           # all 3 right: 0.5³
    assert accuracy_p_value(2, 3, 0.5) == pytest.approx(4 / 8)           # (3 + 1) / 8
    assert accuracy_p_value(0, 5, 0.25) == pytest.approx(1.0)
    assert np.isnan(accuracy_p_value(0, 0, 0.5)) and np.isnan(accuracy_p_value(1, 2, float("nan")))


def test_permutations_suffice_for_the_family() -> None:
    # 10·m/α − 1: m = 10 tests → 1999, whose smallest Holm p is 10/2000 = α/10.
    assert permutations_for_family(10) == 1999 and smallest_holm_p(10, 1999) == pytest.approx(0.005)
    assert permutations_for_family(5) == 999 and permutations_for_family(0) == 199
    # The demo's old default: 10 verdict tests with 199 permutations could reach Holm p = 0.05 at best.
    assert smallest_holm_p(10, 199) == pytest.approx(0.05)


def test_a_tables_permutations_are_raised_to_its_family_at_most_9999_and_never_lowered() -> None:
    assert family_permutations(199, 8) == 1599 and family_permutations(199, 1) == 199
    assert family_permutations(199, 169) == 9999  # a 13 × 13 layer map would need 33,799
    assert family_permutations(20_000, 8) == 20_000 and family_permutations(49, 8, scale=False) == 49
    assert undecidable_family_note("t", 8, 1599) is None and undecidable_family_note("t", 0, 9) is None
    assert undecidable_family_note("layer map", 169, 9999) is None  # 169 / 10,000 < 0.05: decidable at the cap
    note = undecidable_family_note("t", 8, 99)
    assert note.startswith("t: 8 tests with 99 permutations each") and "0.08" in note and "--n-perm 1599" in note


def _rows(p_holm: list[float], ci_low: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"audio": "a", "symbolic": "s", "measure": ["cka_debiased", "recall@1"], "method": ["", "ridge"],
                         "direction": ["", "audio→symbolic"], "value": [0.5, 0.6], "ci_low": ci_low,
                         "ci_high": [0.9, 0.9], "chance": [np.nan, 0.1], "null_mean": [0.0, 0.1],
                         "p_value": p_holm, "p_holm": p_holm, "p_bh": p_holm, "n": 30})


def test_the_verdict_block_shows_both_adjustments_and_says_what_they_control() -> None:
    html = verdict_section(_rows([0.0005, 0.02], [0.2, 0.3]))
    assert '>p (Holm)</th>' in html and '>p (BH)</th>' in html and "0.0005" in html
    assert "every row of the verdict table" in html and "family-wise error" in html and "false discovery rate" in html


def _sentence(p_holm: list[float], ci_low: list[float]) -> str:
    [sentence] = pair_sentences(_rows(p_holm, ci_low), TRACK_CLAIM)
    return sentence


def test_the_sentence_follows_the_rule() -> None:
    assert " agree track by track: all 2 " in _sentence([0.01, 0.02], [0.2, 0.3])
    partly = _sentence([0.01, 0.02], [0.2, 0.05])   # Recall@1's interval reaches below chance
    assert "agree track by track partly" in partly
    before, after = partly.split("touches chance:")
    assert "debiased CKA" in before and "Recall@1" in after
    assert _sentence([0.2, 0.3], [0.2, 0.3]).startswith("No evidence")


#: What Python writes for missing or logical values, and a zero rounded from below: never shown to a reader.
LEAKS = ("None", "nan", "NaN", "True", "False", "-0.0", "<NA>", "&lt;NA&gt;", "inf")


def test_a_null_rounded_to_zero_a_missing_value_and_a_truth_value_read_as_words_and_numbers() -> None:
    rows = _rows([0.0005, 0.02], [-0.0004, 0.3])
    rows["null_mean"] = [-0.00004, 0.1]   # a CKA null mean just below zero
    rows.loc[1, "n"] = np.nan
    html = verdict_section(rows)
    frame = pd.DataFrame({"figure": ["a", "b", "c", "d"], "value": [-0.0004, np.nan, None, -1234.4],
                          "flag": [True, False, np.bool_(True), None],
                          "count": pd.array([1, None, 3, 4], dtype="Int64"),
                          "text": ["x", pd.NA, None, "y"]}, dtype=object)
    table = table_html(frame, caption="leaks")
    for leak in LEAKS:
        assert leak not in html and leak not in table, leak
    assert "vs null mean 0.00 (p" in html and "[0.000, 0.900]" in html
    assert [format_value(v) for v in (-0.0004, -1234.4, True, np.bool_(False), None, np.nan, pd.NA)] == \
        ["0.000", "-1234", "yes", "no", "—", "—", "—"]
    assert "<caption>leaks</caption>" in table and 'aria-label="leaks"' in table


def test_a_range_without_an_upper_bound_is_said_in_words() -> None:
    assert MEASURES["median_rank"].describe() == "median rank in [1, n]"


def test_a_significant_figure_whose_interval_reaches_below_chance_only_touches_it() -> None:
    row = _rows([0.001, 0.001], [-0.2, 0.3]).iloc[0]
    assert row_verdict(row) == "above chance, but the interval touches chance"


def test_figure_formats_are_checked_once() -> None:
    assert figure_formats("svg, PDF,svg") == ("svg", "pdf")
    assert AnalysisSettings(label="style").figure_formats == ("png",)  # SVG and PDF on request: a light folder
    with pytest.raises(CounterpointError, match="--figure-format 'jpg'"):
        figure_formats("jpg")


def test_inlined_json_cannot_close_its_script_element() -> None:
    text = inline_json({"label": "</script><img src=x onerror=alert(1)>", "b": "a & b"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text)["label"].startswith("</script>")


def test_a_class_keeps_its_colour_whatever_else_is_there() -> None:
    assert class_colours(["b", "a"])["b"] == class_colours(["a", "b", "b"])["b"]
    assert len(set(class_colours([f"c{i}" for i in range(9)]).values())) == 9
