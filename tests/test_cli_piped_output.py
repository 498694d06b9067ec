"""Tables printed into a pipe, a file or a notebook hold every value whole, and ``--json`` prints the same
values as one JSON document (CliRunner's output is not a terminal, as in ``counterpoint store info | cat``)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import write_midi, write_tone
from counterpoint import embed_dataset
from counterpoint.cli import app
from counterpoint.encoders.registry import REGISTRY, declared_weights

runner = CliRunner()
#: A narrow terminal's width: a table laid out at this width would cut every long value below.
NARROW = {"COLUMNS": "60"}
LONG_CLASS = "a_style_name_long_enough_that_a_sixty_column_table_would_cut_it"


def invoke(*args: object):
    result = runner.invoke(app, [str(a) for a in args], env=NARROW)
    assert result.exit_code == 0, result.output
    return result


def a_store_with_long_ids_and_failures(tmp_path: Path) -> Path:
    """A real store of four pairs with long track ids, and two MIDI files that are not MIDI (two failures
    whose messages name their long file names)."""
    root = tmp_path / "dataset"
    for i in range(4):
        stem = f"{LONG_CLASS}_piece_number_{i}_with_a_long_identifier"
        write_midi(root / LONG_CLASS / f"{stem}.mid", [60 + (i + k) % 7 for k in range(8)])
        write_tone(root / LONG_CLASS / f"{stem}.wav", 220.0 + 20 * i, seconds=1.0)
    for i in range(2):
        broken = root / "other" / f"a_broken_midi_file_whose_name_is_long_too_{i}.mid"
        broken.parent.mkdir(parents=True, exist_ok=True)
        broken.write_bytes(b"MThd garbage")
        write_tone(broken.with_suffix(".wav"), 330.0, seconds=1.0)
    out = tmp_path / "store.h5"
    embed_dataset(root, out, ["symbolic-stats"], workers=0)
    return out


def test_store_info_piped_and_as_json_hold_every_long_id_and_failure_message(tmp_path: Path) -> None:
    from counterpoint.store import Store

    path = a_store_with_long_ids_and_failures(tmp_path)
    store = Store(path)
    failures = store.failures()
    assert len(failures) == 2 and all(len(message) > 60 for message in failures["error"])
    printed = invoke("store", "info", path, "--failures").output
    for row in failures.itertuples(index=False):
        assert f"{row.encoder} · {row.track_id} · {row.stage}: {row.error}" in printed
    assert "…" not in printed
    for column in store.tracks().columns.drop(["id", "audio_filename", "midi_filename"]):
        assert column in printed
    document = json.loads(invoke("store", "info", path, "--json").stdout)
    assert document["tracks"] == len(store.tracks())
    assert document["failures"] == failures.to_dict(orient="records")
    assert [e["spec"] for e in document["encoders"]] == ["symbolic-stats"]
    assert document["encoders"][0]["tracks"] == 4 and document["encoders"][0]["dim"] == store.encoders[0].dim


def test_weights_list_piped_and_as_json_hold_every_full_path_and_url(tmp_path: Path, monkeypatch) -> None:
    weights_dir = tmp_path / "a_weights_folder_with_a_name_long_enough_to_be_cut_in_a_narrow_table"
    monkeypatch.setenv("COUNTERPOINT_WEIGHTS_DIR", str(weights_dir))
    monkeypatch.setenv("COUNTERPOINT_CACHE", str(tmp_path / "cache"))
    declared = [f for files in declared_weights().values() for f in files]
    present = next(f for f in declared if f.model == "openl3")
    (weights_dir / "openl3").mkdir(parents=True)
    (weights_dir / "openl3" / present.filename).write_bytes(gzip.compress(b"the Keras weights"))
    printed = invoke("weights", "list").output
    assert "…" not in printed
    for f in declared:
        assert f.filename in printed and f.source in printed
    document = json.loads(invoke("weights", "list", "--json").stdout)
    assert [(row["model"], row["file"], row["source"]) for row in document] == [(f.model, f.filename, f.source)
                                                                                 for f in declared]
    found = [row for row in document if row["model"] == "openl3" and row["path"] is not None]
    assert [row["file"] for row in found] == [present.filename] and len(found[0]["path"]) > 60
    assert found[0]["path"] in printed


def test_encoders_piped_and_as_json_hold_every_name_and_requirement() -> None:
    printed = invoke("encoders").output
    document = json.loads(invoke("encoders", "--json").stdout)
    assert [row["name"] for row in document] == list(REGISTRY)
    assert "…" not in printed
    for row in document:
        assert row["name"] in printed and row["needs"] in printed
        assert row["usable"] == (row["unavailable_reason"] is None)
        if not row["usable"]:
            assert f"- {row['name']}: {row['unavailable_reason']}" in printed


def test_compare_and_probe_json_hold_the_headline_figures_and_the_written_paths(tmp_path: Path) -> None:
    import pandas as pd

    from conftest import make_class_folders

    root = make_class_folders(tmp_path / "data", {"low": 45, "high": 76}, per_class=5)
    store = tmp_path / "run.h5"
    embed_dataset(root, store, ["symbolic-stats", "audio-stats"], workers=0)
    compared = json.loads(invoke("compare", store, "--label", "class", "--out", tmp_path / "compare", "--n-boot", 20,
                                 "--n-perm", 19, "--figure-format", "png", "--json").stdout)
    verdicts = pd.read_csv(compared["files"]["verdict"])
    assert compared["folder"] == str(tmp_path / "compare") and Path(compared["files"]["json"]).is_file()
    assert [(row["audio"], row["symbolic"]) for row in compared["verdicts"]] == list(zip(verdicts["audio"],
                                                                                          verdicts["symbolic"]))
    assert [row["value"] for row in compared["verdicts"]] == pytest.approx(list(verdicts["value"]), rel=1e-9, nan_ok=True)
    probed = json.loads(invoke("probe", store, "--encoder", "symbolic-stats", "--label", "class", "--epochs", 20,
                               "--out", tmp_path / "probe", "--json").stdout)
    saved = json.loads((tmp_path / "probe" / "probe_accuracy.json").read_text())
    assert probed["accuracy"]["accuracy"] == saved["accuracy"] and probed["folder"] == str(tmp_path / "probe")
    table = json.loads(invoke("probe", store, "--label", "class", "--all-encoders", "--epochs", 20,
                              "--out", tmp_path / "probes", "--json").stdout)
    written = pd.read_csv(table["files"]["table_csv"])
    assert [(row["encoder"], row["model"]) for row in table["table"]] == list(zip(written["encoder"], written["model"]))
    assert [row["accuracy"] for row in table["table"]] == pytest.approx(list(written["accuracy"]), rel=1e-9)


def test_weights_sizes_are_shown_in_a_unit_that_shows_them_and_match_the_installed_files() -> None:
    document = json.loads(invoke("weights", "list", "--json").stdout)
    musicnn = [row for row in document if row["model"] == "musicnn"]
    assert {row["size"] for row in musicnn} == {"4.9 kB", "9.5 MB"}   # the .index files were "0.0 MB"
    assert all(not row["size"].startswith("0.0 ") for row in document)
    installed = [row for row in musicnn if row["path"] is not None]
    if not installed:
        pytest.skip("the musicnn wheel is not installed here (`counterpoint weights fetch musicnn`)")
    assert all(Path(row["path"]).stat().st_size == row["bytes"] for row in installed)
