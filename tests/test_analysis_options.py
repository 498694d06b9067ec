"""Numeric options of compare, probe, analyze and run are checked by the API itself, before any work."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from counterpoint.analysis.compare import run_compare
from counterpoint.errors import CounterpointError
from counterpoint.pipeline import RunOptions, analyze_everything, run_pipeline
from counterpoint.probes.models import parse_hidden_sizes
from counterpoint.probes.train import TrainSettings


@pytest.mark.parametrize("option, value, message", [
    ("k", 0, "k = 0: give a whole number ≥ 1"),
    ("n_boot", -1, "n-boot = -1: give a whole number ≥ 1"),
    ("n_boot", 0, "n-boot = 0: give a whole number ≥ 1"),
    ("n_perm", 0, "n-perm = 0: give a whole number ≥ 1"),
    ("seed", -3, "seed = -3: give a whole number ≥ 0"),
    ("k", 2.5, "k = 2.5: give a whole number ≥ 1"),
])
def test_compare_options_out_of_range_are_refused_before_any_work(tmp_path: Path, option, value, message):
    with pytest.raises(CounterpointError, match=message):
        run_compare(tmp_path / "missing.h5", "style", tmp_path / "out", **{option: value})
    assert not (tmp_path / "out").exists()


def test_hidden_sizes_are_parsed_or_refused_with_the_text_given():
    assert parse_hidden_sizes("256") == (256,)
    assert parse_hidden_sizes(" 256, 128 ") == (256, 128)
    for text in ("abc", "", "0", "-4", "1.5", "256,,128", "256;128", "²"):
        with pytest.raises(CounterpointError) as error:
            parse_hidden_sizes(text)
        assert str(error.value) == f"hidden sizes must be comma-separated positive integers, got {text!r}"


@pytest.mark.parametrize("settings", [dict(epochs=0), dict(patience=0), dict(batch_size=-1), dict(lr=0.0),
                                      dict(lr=math.nan), dict(lr=math.inf), dict(weight_decay=-0.1), dict(seed=-1)])
def test_training_settings_out_of_range_are_refused(settings):
    with pytest.raises(CounterpointError, match="training settings"):
        TrainSettings(**settings)


@pytest.mark.parametrize("options, message", [
    (dict(seed=-1), "seed = -1"), (dict(probe_seeds=0, probe_models=["linear"]), "probe seeds = 0"),
    (dict(depth=-1), "depth = -1"),
])
def test_analysis_options_out_of_range_are_refused(tmp_path: Path, options, message):
    with pytest.raises(CounterpointError, match=message):
        analyze_everything(tmp_path / "missing.h5", "style", tmp_path / "out", **options)


@pytest.mark.parametrize("field, value", [("batch_size", -1), ("depth", -2), ("seed", -1), ("probe_seeds", 0)])
def test_run_options_are_checked_before_embedding(tmp_path: Path, field, value):
    options = RunOptions(dataset=str(tmp_path / "data"), out=str(tmp_path / "out"), **{field: value})
    with pytest.raises(CounterpointError, match=f"{field.replace('_', '-')} = {value}"):
        run_pipeline(options)
    assert not (tmp_path / "out").exists()
