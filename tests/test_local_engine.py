"""The local engine's file-reading worker processes: the same store as one reading thread, and a
worker killed by a file fails only that track."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import killable_encoder  # noqa: F401 (registers test-killable)
from conftest import make_class_folders
from counterpoint.embed import embed_dataset
from counterpoint.errors import CounterpointError
from counterpoint.store import Store
from store_equality import assert_same_store

SPECS = ["symbolic-stats", "audio-stats:batch_size=3"]


def test_worker_processes_write_the_store_one_reading_thread_writes(dataset_with_bad_files, tmp_path) -> None:
    thread = embed_dataset(dataset_with_bad_files, tmp_path / "thread.h5", SPECS, workers=0)
    workers = embed_dataset(dataset_with_bad_files, tmp_path / "workers.h5", SPECS, workers=2)
    assert [(r.embedded, len(r.failed)) for r in workers.runs] == [(r.embedded, len(r.failed)) for r in thread.runs]
    assert [(r.embedded, len(r.failed)) for r in workers.runs] == [(7, 1), (7, 1)]
    assert [r.failed for r in workers.runs] == [r.failed for r in thread.runs]  # same stages, same messages, same order
    assert_same_store(tmp_path / "thread.h5", tmp_path / "workers.h5", [s.replace(":batch_size=3", "") for s in SPECS])


def test_a_file_that_kills_its_worker_fails_only_itself(tmp_path) -> None:
    root = make_class_folders(tmp_path / "data", per_class=5)
    out = tmp_path / "s.h5"
    report = embed_dataset(root, out, ["test-killable:crash_on=low/piece2,batch_size=2"], workers=2)
    run = report.runs[0]
    assert run.embedded == 9
    [(track_id, stage, message)] = run.failed
    assert (track_id, stage) == ("low/piece2", "load")
    assert "the process reading it died" in message and "piece2.mid" in message
    store = Store(out)
    store.verify()
    assert sorted(store.pooled("test-killable").obs["id"]) == sorted(f"{c}/piece{i}" for c in ("low", "high")
                                                                       for i in range(5) if (c, i) != ("low", 2))


def test_engine_options_are_checked_before_any_work(class_dataset, tmp_path) -> None:
    from typer.testing import CliRunner

    from counterpoint.cli import app

    out = tmp_path / "s.h5"
    unknown = CliRunner().invoke(app, ["embed", str(class_dataset), "-e", "symbolic-stats", "-o", str(out),
                                       "--engine", "spark"])
    assert unknown.exit_code != 0 and "engine 'spark' is not one of local, ray" in unknown.output
    stray = CliRunner().invoke(app, ["embed", str(class_dataset), "-e", "symbolic-stats", "-o", str(out),
                                     "--ray-address", "auto"])
    assert stray.exit_code != 0 and "--ray-address auto needs --engine ray" in stray.output
    assert not out.exists()


def test_every_engine_implements_the_one_interface_and_refuses_options_of_another(class_dataset, tmp_path) -> None:
    from counterpoint.engines import ENGINES, Engine, engine_for
    from counterpoint.engines.local import LocalEngine

    assert sorted(ENGINES) == ["local", "ray"]
    local = engine_for("local", workers=0)
    assert isinstance(local, LocalEngine) and isinstance(local, Engine) and local.workers == 0
    with pytest.raises(CounterpointError, match="only the local engine takes them"):
        engine_for("ray", workers=2)
    with pytest.raises(CounterpointError, match="only the local engine takes them"):
        embed_dataset(class_dataset, tmp_path / "s.h5", ["symbolic-stats"], engine="ray", workers=2)
    assert not (tmp_path / "s.h5").exists()


def test_a_params_file_chooses_the_engine(tmp_path) -> None:
    from counterpoint.config import RunSettings, read_params_file
    from counterpoint.pipeline import run_pipeline

    toml = tmp_path / "run.toml"
    toml.write_text('dataset = "corpus"\nengine = "ray"\nray_address = "ray://head:10001"\n')
    assert read_params_file(toml) == {"dataset": "corpus", "engine": "ray", "ray_address": "ray://head:10001"}
    options = RunSettings(dataset="corpus", engine="local", ray_address="auto")
    with pytest.raises(CounterpointError, match="needs --engine ray"):
        run_pipeline(options)  # before the dataset is read


def test_the_local_engine_never_imports_ray(class_dataset, tmp_path) -> None:
    script = ("import sys\nfrom counterpoint.embed import embed_dataset\n"
              f"embed_dataset({str(class_dataset)!r}, {str(tmp_path / 's.h5')!r}, ['symbolic-stats'])\n"
              "print('ray imported' if 'ray' in sys.modules else 'no ray')")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "no ray"
