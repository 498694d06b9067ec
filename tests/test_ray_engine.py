"""The Ray engine on a local Ray instance: the same store as the local engine, failures recorded
the same way, resume, a killed actor retried, a batch that keeps killing its actor recorded."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'counterpoint[ray]')")

import killable_encoder  # noqa: E402,F401 (registers test-killable)
from conftest import make_class_folders  # noqa: E402
from counterpoint.data.manifest import load_manifest  # noqa: E402
from counterpoint.embed import embed_dataset  # noqa: E402
from counterpoint.engines import ray as ray_engine  # noqa: E402
from counterpoint.store import Store  # noqa: E402
from store_equality import assert_same_store  # noqa: E402
from tiny_models import CLAMP2_TINY_CONFIG, write_mert  # noqa: E402

TESTS = Path(__file__).parent


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    """One Ray instance on this machine's cores for the module, started as the engine starts it;
    its workers import the tests' own encoders from this folder."""
    import ray

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), *sys.path]))
        ray_engine.connect(None)
        yield
        ray.shutdown()


def test_ray_writes_the_store_the_local_engine_writes(dataset_with_bad_files, tmp_path) -> None:
    models = tmp_path / "models"
    specs = ["symbolic-stats", "audio-stats:batch_size=3", write_mert(models / "mert").spec]
    local = embed_dataset(dataset_with_bad_files, tmp_path / "local.h5", specs)
    ray_run = embed_dataset(dataset_with_bad_files, tmp_path / "ray.h5", specs, engine="ray")
    assert [(r.spec, r.embedded, len(r.failed)) for r in ray_run.runs] == \
        [(r.spec, r.embedded, len(r.failed)) for r in local.runs]
    assert all(r.embedded == 7 and len(r.failed) == 1 for r in ray_run.runs)
    assert [r.failed for r in ray_run.runs] == [r.failed for r in local.runs]  # stages and messages too
    assert_same_store(tmp_path / "local.h5", tmp_path / "ray.h5", [r.spec for r in local.runs])


def test_ray_resumes_what_the_store_holds(tmp_path) -> None:
    root = make_class_folders(tmp_path / "data", per_class=3)
    out = tmp_path / "s.h5"
    manifest = load_manifest(root)
    embed_dataset(replace(manifest, tracks=manifest.tracks[:4]), out, ["symbolic-stats"], engine="ray")
    seen = []
    resumed = embed_dataset(manifest, out, ["symbolic-stats"], engine="ray", progress=lambda *step: seen.append(step))
    assert (resumed.runs[0].skipped, resumed.runs[0].embedded) == (4, 2)
    assert seen[0] == ("symbolic-stats", 4, 6) and seen[-1] == ("symbolic-stats", 6, 6)
    embed_dataset(root, tmp_path / "local.h5", ["symbolic-stats"])
    assert_same_store(tmp_path / "local.h5", out, ["symbolic-stats"])


def test_an_actor_killed_mid_run_is_replaced_and_its_batch_retried(tmp_path) -> None:
    root = make_class_folders(tmp_path / "data", per_class=8)
    pids = tmp_path / "pids"
    pids.mkdir()
    spec = f"test-killable:pid_dir={pids},delay=0.3,batch_size=1"
    out = tmp_path / "ray.h5"
    result = {}
    run = threading.Thread(target=lambda: result.update(report=embed_dataset(root, out, [spec], engine="ray")))
    run.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(pids.iterdir()):
        time.sleep(0.05)
    [victim, *_] = [int(p.name) for p in pids.iterdir()]
    assert victim != os.getpid()
    os.kill(victim, signal.SIGKILL)
    run.join(timeout=300)
    assert not run.is_alive()
    assert len({p.name for p in pids.iterdir()}) >= 2  # a new actor took over
    report = result["report"]
    assert (report.runs[0].embedded, report.runs[0].failed) == (16, [])
    Store(out).verify()
    embed_dataset(root, tmp_path / "local.h5", ["test-killable:batch_size=1"])
    assert_same_store(tmp_path / "local.h5", out, ["test-killable"])


def test_a_batch_that_keeps_killing_its_actor_is_recorded_and_the_rest_embedded(tmp_path) -> None:
    root = make_class_folders(tmp_path / "data", per_class=3)
    out = tmp_path / "s.h5"
    report = embed_dataset(root, out, ["test-killable:crash_on=high/piece1,batch_size=2"], engine="ray")
    run = report.runs[0]
    lost = {track_id for track_id, _, _ in run.failed}
    assert "high/piece1" in lost and len(lost) == 2  # the culprit and the other track of its batch
    assert all(stage == "embed" and "died 3 times" in message for _, stage, message in run.failed)
    for track_id, _, message in run.failed:  # each names the file it was reading, not only a Ray process
        assert f"({root / track_id}.mid)" in message, message
    assert run.embedded == 4
    store = Store(out)
    store.verify()
    assert set(store.pooled("test-killable").obs["id"]).isdisjoint(lost)


def test_the_embed_command_runs_on_ray(tmp_path) -> None:
    from typer.testing import CliRunner

    from counterpoint.cli import app

    root = make_class_folders(tmp_path / "data", per_class=2)
    out = tmp_path / "s.h5"
    result = CliRunner().invoke(app, ["embed", str(root), "-e", "symbolic-stats", "-o", str(out), "--engine", "ray"])
    assert result.exit_code == 0, result.output
    assert "symbolic-stats: 4 embedded, 0 already in the store, 0 failed" in result.output
    embed_dataset(root, tmp_path / "local.h5", ["symbolic-stats"])
    assert_same_store(tmp_path / "local.h5", out, ["symbolic-stats"])


def test_garbage_weights_stop_a_ray_run_once_up_front_with_the_encoders_message(tmp_path) -> None:
    from typer.testing import CliRunner

    from counterpoint.cli import app

    root = make_class_folders(tmp_path / "data", per_class=2)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(np.random.default_rng(0).bytes(1000))
    store = tmp_path / "s.h5"
    spec = f"symbolic-stats+clamp2:weights={garbage},config={CLAMP2_TINY_CONFIG}"
    result = CliRunner().invoke(app, ["embed", str(root), "-e", spec, "-o", str(store), "--engine", "ray"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert result.output.count("cannot load") == 1 and "garbage.safetensors" in result.output
    assert not store.exists()  # the workers' check came before the store was opened
