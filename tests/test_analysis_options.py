"""Numeric options of compare, probe, analyze and run are checked by their settings objects, before any work."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from counterpoint.config import (SEED_HIGH, AlignedSettings, AnalysisSettings, CompareSettings, FactorSettings, RunSettings,
                                TrainSettings)
from counterpoint.errors import CounterpointError
from counterpoint.pipeline import run_pipeline
from counterpoint.probes.models import parse_hidden_sizes


@pytest.mark.parametrize("option, value, message", [
    ("k", 0, "--k = 0: give a whole number greater than or equal to 1"),
    ("n_boot", -1, "--n-boot = -1: give a whole number greater than or equal to 1"),
    ("n_boot", 0, "--n-boot = 0: give a whole number greater than or equal to 1"),
    ("n_perm", 0, "--n-perm = 0: give a whole number greater than or equal to 1"),
    ("seed", -3, "--seed = -3: give a whole number greater than or equal to 0 and less than or equal to 4294967295"),
    ("k", 2.5, "--k = 2.5: give a whole number greater than or equal to 1"),
])
def test_compare_options_out_of_range_are_refused(option, value, message):
    with pytest.raises(CounterpointError) as error:
        CompareSettings(label="style", **{option: value})
    assert str(error.value) == message


@pytest.mark.parametrize("make", [lambda seed: CompareSettings(label="style", seed=seed),
                                  lambda seed: AlignedSettings(label="style", seed=seed),
                                  lambda seed: FactorSettings(seed=seed), lambda seed: TrainSettings(seed=seed),
                                  lambda seed: AnalysisSettings(label="style", seed=seed)],
                         ids=["compare", "aligned", "factors", "train", "analysis"])
def test_every_settings_object_takes_the_seeds_numpy_takes_and_no_more(make):
    """Seeds run from 0 to 2³²−1 everywhere (numpy's limit): the top one is kept, one more is a named error."""
    assert SEED_HIGH == 2**32 - 1
    assert make(SEED_HIGH).seed == SEED_HIGH
    with pytest.raises(CounterpointError, match="4294967295"):
        make(SEED_HIGH + 1)


def test_hidden_sizes_are_parsed_or_refused_with_the_text_given():
    assert parse_hidden_sizes("256") == (256,)
    assert parse_hidden_sizes(" 256, 128 ") == (256, 128)
    for text in ("abc", "", "0", "-4", "1.5", "256,,128", "256;128", "²"):
        with pytest.raises(CounterpointError) as error:
            parse_hidden_sizes(text)
        assert str(error.value) == f"hidden sizes must be comma-separated positive integers, got {text!r}"


@pytest.mark.parametrize("settings", [dict(epochs=0), dict(patience=0), dict(training_batch=-1), dict(lr=0.0),
                                      dict(lr=math.nan), dict(lr=math.inf), dict(weight_decay=-0.1), dict(seed=-1)])
def test_training_settings_out_of_range_are_refused(settings):
    (name, value), = settings.items()
    with pytest.raises(CounterpointError, match=f"--{name.replace('_', '-')} = {value!r}: give "):
        TrainSettings(**settings)


@pytest.mark.parametrize("settings, message", [(dict(dropout=1.0), "dropout = 1.0"), (dict(dropout=-0.1), "dropout"),
                                               (dict(hidden=(256, 0)), "hidden = 0")])
def test_probe_architecture_out_of_range_is_refused(settings, message):
    with pytest.raises(CounterpointError, match=message):
        TrainSettings(**settings)


@pytest.mark.parametrize("options, message", [
    (dict(seed=-1), "seed = -1"), (dict(probe_seeds=0, probe_models=["linear"]), "probe-seeds = 0"),
    (dict(depth=-1), "depth = -1"), (dict(reductions=("pca", "mds")), "unknown reduction 'mds'"),
])
def test_analysis_options_out_of_range_are_refused(options, message):
    with pytest.raises(CounterpointError, match=message):
        AnalysisSettings(label="style", **options)


@pytest.mark.parametrize("field, value", [("batch_size", -1), ("depth", -2), ("seed", -1), ("seed", 2**32),
                                          ("probe_seeds", 0)])
def test_run_options_are_checked_before_embedding(tmp_path: Path, field, value):
    """Run options are checked when they are made, so no run can start with a value out of range."""
    with pytest.raises(CounterpointError, match=f"{field.replace('_', '-')} = {value}"):
        run_pipeline(RunSettings(dataset=str(tmp_path / "data"), out=str(tmp_path / "out"), **{field: value}))
    assert not (tmp_path / "out").exists()
