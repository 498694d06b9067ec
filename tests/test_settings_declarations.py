"""Each setting is declared once (a Parameter on its settings field): the settings object, the params file and
the command line refuse a value out of range with the same message, the help shows the declared range,
None means unset, and settings are frozen and made with keywords only."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from counterpoint.cli import app
from counterpoint.config import (AlignedSettings, AnalysisSettings, CompareSettings, DistanceSettings,
                                 EquivarianceSettings, FactorSettings, RunSettings, TrainSettings, read_params_file,
                                 run_options)
from counterpoint.errors import CounterpointError
from counterpoint.parameters import REQUIRED, Parameter, declarations, flag_of

SETTINGS = (CompareSettings, AlignedSettings, FactorSettings, EquivarianceSettings, TrainSettings, AnalysisSettings,
            RunSettings, DistanceSettings)
#: What each settings class needs beyond its defaults.
NEEDED = {CompareSettings: {"label": "style"}, AlignedSettings: {"label": "style"}, AnalysisSettings: {"label": "style"}}
#: The command whose options come from each settings class, with the arguments it needs besides them.
COMMANDS = {CompareSettings: ["compare", "s.h5", "-l", "style", "-o", "c"],
            AlignedSettings: ["compare", "s.h5", "-l", "style", "-o", "c", "--aligned"],
            FactorSettings: ["factors", "s.h5", "-o", "f"],
            EquivarianceSettings: ["equivariance", "s.h5", "-o", "e"],
            TrainSettings: ["probe", "s.h5", "-l", "style", "-e", "x", "-o", "p"],
            AnalysisSettings: ["analyze", "s.h5", "-l", "style", "-o", "r"],
            RunSettings: ["run"],
            DistanceSettings: ["distance", "s.h5", "--a", "x=1", "--b", "x=2", "-o", "d"]}


def out_of_range(parameter: Parameter) -> object:
    """A value just outside the declared range (or choices) of ``parameter``."""
    if parameter.choices is not None:
        return "no-such-choice"
    if parameter.low is not None:
        step = 1 if parameter.value_type is int else 0.5
        return parameter.low if parameter.closed in ("right", "neither") else parameter.low - step
    step = 1 if parameter.value_type is int else 0.5
    return parameter.high if parameter.closed in ("left", "neither") else parameter.high + step


def ranged(cls: type) -> list[tuple[str, Parameter]]:
    return [(name, p) for name, p in declarations(cls).items()
            if p.choices is not None or p.low is not None or p.high is not None]


def command_option(words: list[str], name: str):
    """The click option of the command ``words`` whose Python name is ``name`` (None if it has none)."""
    command = typer.main.get_command(app)
    for word in words:
        if word in getattr(command, "commands", {}):
            command = command.commands[word]
    return next((param for param in command.params if param.name == name), None)


CASES = [(cls, name) for cls in SETTINGS for name, _ in ranged(cls)]


@pytest.mark.parametrize("cls, name", CASES, ids=[f"{cls.__name__}.{name}" for cls, name in CASES])
def test_a_value_out_of_range_is_refused_alike_by_the_settings_and_the_command_line(cls, name, tmp_path, monkeypatch):
    parameter = declarations(cls)[name]
    value = out_of_range(parameter)
    with pytest.raises(CounterpointError) as refused:
        cls(**NEEDED.get(cls, {}), **{name: value})
    message = str(refused.value)
    assert message.startswith(f"{flag_of(name)} ")
    option = command_option(COMMANDS[cls], name)
    if option is None:  # a setting only Python callers give (max_n_pairwise, max_segments, ...)
        return
    monkeypatch.chdir(tmp_path)
    flag = max(option.opts, key=len)
    result = CliRunner().invoke(app, [*COMMANDS[cls], flag, str(value)])
    assert result.exit_code == 2, result.output
    assert message.replace(flag_of(name), flag) in " ".join(result.output.replace("│", " ").split())
    # the help states the declared range, generated from the declaration
    assert parameter.range_symbols in option.help


def test_a_params_file_is_refused_with_the_message_of_the_settings(tmp_path: Path) -> None:
    for name, parameter in ranged(RunSettings):
        value = out_of_range(parameter)
        params = tmp_path / f"{name}.params"
        params.write_text(f"{flag_of(name)} {value}\n")
        with pytest.raises(CounterpointError) as direct:
            RunSettings(**{name: value})
        with pytest.raises(CounterpointError) as from_file:
            run_options(read_params_file(params), params)
        assert str(from_file.value) == f"{params}: {direct.value}"


def test_the_help_shows_the_declared_range() -> None:
    assert command_option(COMMANDS[CompareSettings], "n_boot").help == "Resamples per 95% interval.  [whole number ≥ 1]"
    assert "[whole number 0 … 4294967295]" in command_option(["probe"], "seed").help
    assert "[number in [0, 1)]" in command_option(["probe"], "dropout").help
    assert "[number > 0]" in command_option(["probe"], "lr").help
    assert "[one of local, ray]" in command_option(["run"], "engine").help


def test_every_params_key_is_a_run_option_and_every_run_option_a_flag_of_run() -> None:
    run_flags = {param.name for param in typer.main.get_command(app).commands["run"].params}
    # ROOT is the positional spelling of --dataset; --params-file is where the keys come from
    assert set(declarations(RunSettings)) == run_flags - {"params_file", "root"}
    assert {f.name for f in dataclasses.fields(RunSettings)} == set(declarations(RunSettings))


def test_none_means_unset() -> None:
    """No setting spells "unset" as "" or 0: unset is None, and it passes through to the analysis."""
    for cls in SETTINGS:
        for name, parameter in declarations(cls).items():
            assert parameter.default != "" or name == "probe_models", (cls.__name__, name)
            if parameter.default is None:
                assert cls(**NEEDED.get(cls, {}), **{name: None}).__getattribute__(name) is None
    options = RunSettings()
    assert (options.dataset, options.depth, options.group, options.batch_size, options.csv, options.ray_address) == \
        (None, None, None, None, None, None)
    analysis = options.analysis()
    assert (analysis.depth, analysis.group) == (None, None)


@pytest.mark.parametrize("cls", SETTINGS, ids=lambda cls: cls.__name__)
def test_settings_are_keyword_only_and_frozen(cls) -> None:
    with pytest.raises(TypeError):
        cls("style")
    settings = cls(**NEEDED.get(cls, {}))
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.seed = 1
    assert all(field.kw_only for field in dataclasses.fields(cls))


def test_shared_parts_are_declared_once() -> None:
    """Label selection and resampling are the same declarations in every settings class that has them."""
    for name in ("depth", "group"):
        assert declarations(CompareSettings)[name] is declarations(AlignedSettings)[name] \
               is declarations(AnalysisSettings)[name] is declarations(RunSettings)[name]
    for name in ("n_boot", "n_perm", "fixed_n_perm"):
        assert declarations(CompareSettings)[name] is declarations(AlignedSettings)[name] \
               is declarations(FactorSettings)[name] is declarations(EquivarianceSettings)[name] \
               is declarations(DistanceSettings)[name]
    seeds = {id(declarations(cls)["seed"]) for cls in SETTINGS}
    assert len(seeds) == 1
    assert declarations(CompareSettings)["label"].default is REQUIRED


def test_fixed_n_perm_says_what_the_flag_says() -> None:
    """``--fixed-n-perm`` and the field of the same name mean the same: the permutations are used as given."""
    from counterpoint.analysis.compare import verdict_permutations

    assert verdict_permutations(CompareSettings(label="style", n_perm=49, fixed_n_perm=True), 10).n_perm == 49
    assert verdict_permutations(CompareSettings(label="style", n_perm=49), 10).n_perm > 49
    option = command_option(COMMANDS[CompareSettings], "fixed_n_perm")
    assert option.opts == ["--fixed-n-perm"] and option.default is False


def test_the_settings_import_neither_encoders_nor_engines_and_the_cli_runs_as_a_module() -> None:
    code = ("import sys, counterpoint.config, counterpoint.parameters\n"
            "print(sorted(m for m in sys.modules if m.startswith(('counterpoint.encoders', 'counterpoint.engines', "
            "'torch', 'sklearn'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
    version = subprocess.run([sys.executable, "-m", "counterpoint.cli", "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.strip(), version.stderr


def test_encoder_parameters_keep_their_messages_and_error_type() -> None:
    from counterpoint.encoders.registry import build_encoder
    from counterpoint.errors import EncoderError

    with pytest.raises(EncoderError, match=r"^encoder symbolic-stats: window=-1.0 must be above 0 — window length"):
        build_encoder("symbolic-stats:window=-1")
    with pytest.raises(EncoderError, match=r"^encoder symbolic-stats: parameter window='x' is not a float"):
        build_encoder("symbolic-stats:window=x")
