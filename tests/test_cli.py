"""The command line itself: version, usage lines, option ranges, where output goes, the safety net."""

from __future__ import annotations

import gzip
import sys
import zipfile
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from conftest import make_class_folders, write_tone
from counterpoint import __version__
from counterpoint.cli import app, friendly

runner = CliRunner()
README = Path(__file__).parents[1] / "README.md"


def invoke(*args: object, **kwargs):
    return runner.invoke(app, [str(a) for a in args], **kwargs)


def assert_no_traceback(result) -> None:
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


def all_command_paths() -> list[list[str]]:
    """Every leaf command as its words, e.g. ['store', 'info']."""
    def walk(command, prefix: list[str]) -> list[list[str]]:
        if hasattr(command, "commands"):  # a group (typer ships its own click)
            return [path for name, sub in command.commands.items() for path in walk(sub, prefix + [name])]
        return [prefix]
    return walk(typer.main.get_command(app), [])


def test_version_alone_prints_the_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == __version__


@pytest.mark.parametrize("words", all_command_paths(), ids=" ".join)
def test_usage_lines_name_the_arguments_in_capitals(words: list[str]) -> None:
    result = invoke(*words, "--help")
    assert result.exit_code == 0, result.output
    usage = result.output.splitlines()[0]
    assert usage.startswith("Usage: ") and "{" not in usage, usage


OUT_OF_RANGE = [
    (["tag", "x.wav", "--top", "0"], "--top"),
    (["embed", "data", "-o", "s.h5", "--batch-size", "-1"], "--batch-size"),
    (["embed", "data", "-o", "s.h5", "--max-seconds", "0"], "--max-seconds"),
    (["import-legacy", "old.h5", "-o", "s.h5", "--hop", "0"], "--hop"),
    (["analyze", "s.h5", "-l", "style", "-o", "r", "--depth", "-1"], "--depth"),
    (["analyze", "s.h5", "-l", "style", "-o", "r", "--probe-seeds", "0"], "--probe-seeds"),
    (["analyze", "s.h5", "-l", "style", "-o", "r", "--seed", "-3"], "--seed"),
    (["compare", "s.h5", "-l", "style", "-o", "c", "--k", "0"], "--k"),
    (["compare", "s.h5", "-l", "style", "-o", "c", "--n-boot", "-5"], "--n-boot"),
    (["compare", "s.h5", "-l", "style", "-o", "c", "--n-perm", "0"], "--n-perm"),
    (["probe", "s.h5", "-l", "style", "-e", "x", "-o", "p", "--seeds", "0"], "--seeds"),
    (["probe", "s.h5", "-l", "style", "-e", "x", "-o", "p", "--epochs", "0"], "--epochs"),
    (["probe", "s.h5", "-l", "style", "-e", "x", "-o", "p", "--patience", "0"], "--patience"),
    (["probe", "s.h5", "-l", "style", "-e", "x", "-o", "p", "--lr", "0"], "--lr"),
    (["probe", "s.h5", "-l", "style", "-e", "x", "-o", "p", "--dropout", "1"], "--dropout"),
    (["probe", "s.h5", "-l", "style", "-e", "x", "-o", "p", "--training-batch", "0"], "--training-batch"),
    (["probe", "s.h5", "-l", "style", "-e", "x", "-o", "p", "--max-tracks", "-1"], "--max-tracks"),
    (["demo-data", "corpus", "--pieces-per-style", "0"], "--pieces-per-style"),
    (["demo-data", "corpus", "--seconds", "-1"], "--seconds"),
    (["demo-data", "corpus", "--workers", "0"], "--workers"),
    (["demo", "out", "--seconds", "0"], "--seconds"),
    (["run", "--batch-size", "-1"], "--batch-size"),
    (["run", "--probe-seeds", "0"], "--probe-seeds"),
]


@pytest.mark.parametrize("args, option", OUT_OF_RANGE, ids=[" ".join(a) for a, _ in OUT_OF_RANGE])
def test_numeric_options_out_of_range_are_refused_naming_the_option(args: list[str], option: str, tmp_path: Path,
                                                                     monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert_no_traceback(result)
    assert option in result.output and ("greater than" in result.output or "less than" in result.output)


def test_hidden_sizes_that_are_not_positive_numbers_are_refused(tmp_path: Path) -> None:
    for text in ("abc", "256,x", "0", ""):
        result = invoke("probe", tmp_path / "s.h5", "-l", "style", "-e", "x", "-o", tmp_path / "p", "--hidden", text)
        assert result.exit_code == 2, (text, result.output)
        assert_no_traceback(result)
        assert "--hidden" in result.output and "256,128" in result.output


def test_a_params_file_is_held_to_the_same_ranges_as_the_flags(tmp_path: Path) -> None:
    params = tmp_path / "run.params"
    params.write_text(f"--dataset {tmp_path}\n--batch-size -1\n")
    result = invoke("run", "--params-file", params)
    assert result.exit_code == 2, result.output
    assert_no_traceback(result)
    assert "run.params" in result.output and "--batch-size" in result.output and "-1" in result.output


def test_flags_on_the_command_line_override_the_params_file(tmp_path: Path) -> None:
    params = tmp_path / "run.params"
    params.write_text(f"--dataset {tmp_path / 'from-the-file'}\n--encoders symbolic-stats\n")
    result = invoke("run", "--params-file", params, "--dataset", tmp_path / "from-the-flag")
    assert result.exit_code == 2, result.output
    assert_no_traceback(result)
    assert "from-the-flag: no such dataset folder" in result.output and "from-the-file" not in result.output


def test_an_empty_encoder_list_is_refused(class_dataset: Path, tmp_path: Path) -> None:
    for specs in ("", " + , "):
        result = invoke("embed", class_dataset, "-e", specs, "-o", tmp_path / "s.h5")
        assert result.exit_code == 2, result.output
        assert_no_traceback(result)
        assert "no encoder" in result.output and "symbolic-stats" in result.output
    assert not (tmp_path / "s.h5").exists()


def test_embed_into_an_existing_folder_suggests_a_file_inside_it(class_dataset: Path, tmp_path: Path) -> None:
    folder = tmp_path / "results"
    folder.mkdir()
    result = invoke("embed", class_dataset, "-e", "symbolic-stats", "-o", folder)
    assert result.exit_code == 2, result.output
    assert_no_traceback(result)
    assert "is a folder" in result.output and str(folder / "embeddings.h5") in result.output.replace("\n", "")


@pytest.mark.parametrize("command", [["analyze", "-l", "class"], ["compare", "-l", "class"],
                                     ["probe", "-l", "class", "-e", "symbolic-stats"]])
def test_an_output_folder_that_is_an_existing_file_is_refused(command: list[str], tmp_path: Path) -> None:
    taken = tmp_path / "taken.txt"
    taken.write_text("a file")
    result = invoke(command[0], tmp_path / "s.h5", *command[1:], "-o", taken)
    assert result.exit_code == 2, result.output
    assert_no_traceback(result)
    assert "taken.txt" in result.output and "is a file" in result.output


def test_tag_prints_a_block_per_file_and_an_error_line_for_a_bad_one(tmp_path: Path) -> None:
    good = [write_tone(tmp_path / f"tone{i}.wav", 330.0 * (i + 1), seconds=3.5) for i in range(2)]
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    result = invoke("tag", good[0], empty, good[1], "--top", 2)
    assert result.exit_code == 1, result.output
    assert_no_traceback(result)
    blocks = result.stdout.strip().split("\n\n")
    assert [block.splitlines()[0] for block in blocks] == [f"{good[0]}:", f"{good[1]}:"]
    assert all(len(block.splitlines()) == 3 for block in blocks)
    assert "empty.wav" in result.stderr and "error" in result.stderr


def test_results_go_to_stdout_and_progress_to_stderr(tmp_path: Path) -> None:
    root = make_class_folders(tmp_path / "data", per_class=4)
    store = tmp_path / "s.h5"
    embedded = invoke("embed", root, "-e", "symbolic-stats", "-o", store)
    assert embedded.exit_code == 0, embedded.output
    assert "symbolic-stats: 8 embedded" in embedded.stdout and f"store: {store}" in embedded.stdout
    assert "━" in embedded.stderr and "━" not in embedded.stdout  # the progress bar
    analysed = invoke("analyze", store, "-l", "class", "-o", tmp_path / "report", "--no-compare")
    assert analysed.exit_code == 0, analysed.output
    assert analysed.stdout.strip() == f"report: {tmp_path / 'report' / 'index.html'}"
    assert analysed.stderr.strip(), "the steps of the analysis are progress: standard error"
    exported = invoke("export", store, "-e", "symbolic-stats", "-o", tmp_path / "x.npz")
    assert exported.exit_code == 0 and f"wrote {tmp_path / 'x.npz'}" in exported.stdout


def test_an_unexpected_exception_is_one_line_with_exit_code_3_and_the_traceback_saved(tmp_path: Path,
                                                                                      monkeypatch) -> None:
    monkeypatch.setenv("COUNTERPOINT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("COUNTERPOINT_DEBUG", raising=False)
    broken = typer.Typer()

    @broken.command()
    @friendly
    def explode() -> None:
        {}["missing key"]

    result = runner.invoke(broken, [])
    assert result.exit_code == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("internal error (please report): KeyError: 'missing key'")
    saved = Path(lines[0].rsplit(" in ", 1)[1].split(" ")[0])
    assert saved.is_file() and "Traceback" in saved.read_text() and "explode" in saved.read_text()
    assert "Traceback" not in result.output
    monkeypatch.setenv("COUNTERPOINT_DEBUG", "1")
    shown = runner.invoke(broken, [])
    assert shown.exit_code == 3 and "Traceback" in shown.stderr and "explode" in shown.stderr


def test_weights_list_names_the_published_openl3_files_and_finds_a_downloaded_one(tmp_path: Path,
                                                                                    monkeypatch) -> None:
    monkeypatch.setenv("COUNTERPOINT_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("COUNTERPOINT_CACHE", str(tmp_path / "cache"))
    published = "openl3_audio_mel256_music-v0_4_0.h5.gz"
    assert "openl3_audio_<repr>_<content>-v0_4_0.h5.gz" in README.read_text()
    (tmp_path / "weights" / "openl3").mkdir(parents=True)
    (tmp_path / "weights" / "openl3" / published).write_bytes(gzip.compress(b"the Keras weights"))
    result = invoke("weights", "list", env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    openl3_rows = [line for line in result.output.splitlines() if line.startswith("│ openl3")]
    assert len(openl3_rows) == 6 and all("-v0_4_0.h5.gz" in row for row in openl3_rows)
    downloaded = [row for row in openl3_rows if published in row]
    assert len(downloaded) == 1 and "missing" not in downloaded[0]
    assert sum("missing" not in row for row in openl3_rows) == 1


def write_wheel(folder: Path, name: str, version: str, files: dict[str, bytes]) -> Path:
    """A minimal real wheel (pure Python, one package) that pip can install."""
    dist_info = f"{name}-{version}.dist-info"
    contents = {**files,
                f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
                f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = "".join(f"{path},,\n" for path in contents) + f"{dist_info}/RECORD,,\n"
    path = folder / f"{name}-{version}-py3-none-any.whl"
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as wheel:
        for member, data in {**contents, f"{dist_info}/RECORD": record.encode()}.items():
            wheel.writestr(member, data)
    return path


def test_weights_fetch_musicnn_installs_the_wheel_without_its_dependencies(tmp_path: Path, monkeypatch) -> None:
    """pip runs for real, from a local folder standing in for PyPI, into a target folder, not this venv."""
    write_wheel(tmp_path / "index", "musicnn", "0.1.0",
                {"musicnn/__init__.py": b"import tensorflow\n", "musicnn/MTT_musicnn/.index": b"checkpoint index"})
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "index"))
    monkeypatch.setenv("PIP_TARGET", str(tmp_path / "target"))
    result = invoke("weights", "fetch", "musicnn")
    assert result.exit_code == 0, result.output
    assert_no_traceback(result)
    assert (tmp_path / "target" / "musicnn" / "MTT_musicnn" / ".index").read_bytes() == b"checkpoint index"
    assert "pip install --no-deps musicnn==0.1.0" in result.stderr and sys.executable in result.stderr


def test_every_option_rule_names_options_its_command_has() -> None:
    """A rule naming a flag its command lacks would never fire: each flag of OPTION_RULES is a real spelling."""
    from counterpoint.cli import OPTION_RULES, Exclusive

    commands = {" ".join(words): words for words in all_command_paths()}
    root = typer.main.get_command(app)
    for rule in OPTION_RULES:
        command = root
        for word in commands[rule.command]:
            command = command.commands[word]
        spellings = {opt for param in command.params for opt in [*param.opts, *getattr(param, "secondary_opts", [])]}
        named = [rule.flag, *(rule.others if isinstance(rule, Exclusive) else (rule.needed,))]
        assert set(named) <= spellings, (rule, set(named) - spellings)


def test_options_that_agree_still_run_and_a_switch_left_on_is_no_conflict(tmp_path: Path) -> None:
    """The rules fire on what was typed: --aligned with --compare (its default, typed) is fine; and the
    same flags spelled in a params file are held to the same rules."""
    params = tmp_path / "run.params"
    params.write_text(f"--dataset {tmp_path / 'nowhere'}\n--aligned\n--compare\n")
    result = invoke("run", "--params-file", params)
    assert result.exit_code == 2 and "nowhere: no such dataset folder" in result.output, result.output
    result = invoke("run", "--params-file", params, "--no-compare")
    assert result.exit_code == 2 and "--aligned cannot be combined with --no-compare" in result.output, result.output


def test_run_takes_the_dataset_as_root_with_e_and_o_as_embed_does(class_dataset: Path, tmp_path: Path) -> None:
    # A label the dataset lacks is refused before anything is embedded: the message shows ROOT was read as the dataset.
    by_root = invoke("run", class_dataset, "-e", "symbolic-stats", "-o", tmp_path / "out", "--label", "nosuch")
    assert by_root.exit_code == 2 and f"{class_dataset}: no label column 'nosuch'" in by_root.output
    by_flag = invoke("run", "--dataset", class_dataset, "--encoders", "symbolic-stats", "--out", tmp_path / "out",
                     "--label", "nosuch")
    assert by_flag.exit_code == 2 and by_flag.output == by_root.output
    both = invoke("run", class_dataset, "--dataset", tmp_path / "other", "-o", tmp_path / "out")
    assert both.exit_code == 2 and f"ROOT {class_dataset} and --dataset {tmp_path / 'other'}" in both.output
    params = tmp_path / "run.params"
    params.write_text(f"--dataset {tmp_path / 'other'}\n")
    from_file = invoke("run", class_dataset, "--params-file", params)
    assert from_file.exit_code == 2 and f"--dataset of {params}" in from_file.output
    assert not (tmp_path / "out").exists()


def test_demo_data_help_states_the_range_its_option_accepts(tmp_path: Path) -> None:
    assert "x>=3" in invoke("demo-data", "--help", env={"COLUMNS": "200"}).output
    refused = invoke("demo-data", tmp_path / "corpus", "--pieces-per-style", 2)
    assert refused.exit_code == 2 and "'--pieces-per-style'" in refused.output and not (tmp_path / "corpus").exists()
