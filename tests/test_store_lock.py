"""One writer per store: real processes contend for the write lock beside the store file."""

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import pitch_class_encoder  # noqa: F401  (registers test-pitch-class)
from conftest import make_class_folders
from counterpoint.embed import embed_dataset
from counterpoint.encoders.registry import build_encoder
from counterpoint.errors import StoreError
from counterpoint.store import Store, StoreWriter, lock_path

TESTS = str(Path(__file__).parent)

# Embeds with test-pitch-class; after its first batch it writes READY and waits for GATE, so
# the test knows the run holds the store while a second run tries to write.
HOLDING_RUN = """
import sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
import pitch_class_encoder
from counterpoint.embed import embed_dataset

def hold_after_first_batch(spec, done, total):
    if done and not Path({ready!r}).exists():
        Path({ready!r}).write_text("holding")
        while not Path({gate!r}).exists():
            time.sleep(0.02)

report = embed_dataset({root!r}, {out!r}, ["test-pitch-class"], progress=hold_after_first_batch)
print("embedded", report.runs[0].embedded)
"""

SECOND_RUN = """
import sys
sys.path.insert(0, {tests!r})
import pitch_class_encoder
from counterpoint.embed import embed_dataset
from counterpoint.errors import StoreError
try:
    report = embed_dataset({root!r}, {out!r}, ["test-pitch-class:delay=0.0001"])
except StoreError as exc:
    print(exc)
    sys.exit(3)
print("embedded", report.runs[0].embedded)
"""


def _wait_for(path: Path, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def test_a_second_writer_is_refused_while_the_first_keeps_all_its_results(tmp_path):
    root = make_class_folders(tmp_path / "d", per_class=4)
    out = tmp_path / "shared.h5"
    ready, gate = tmp_path / "ready", tmp_path / "gate"
    first = subprocess.Popen([sys.executable, "-c", HOLDING_RUN.format(tests=TESTS, ready=str(ready), gate=str(gate),
                                                                       root=str(root), out=str(out))],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(ready, first)
        second = subprocess.run([sys.executable, "-c", SECOND_RUN.format(tests=TESTS, root=str(root), out=str(out))],
                                capture_output=True, text=True, timeout=300)
        assert second.returncode == 3, second.stdout + second.stderr
        assert f"{out} is being written by pid {first.pid} on {socket.gethostname()} since" in second.stdout
        assert "wait for it" in second.stdout
        # Readers are not locked out while the writer works.
        assert len(Store(out).tracks()) == 8
    finally:
        gate.write_text("go")
        stdout, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr
    assert "embedded 8" in stdout
    store = Store(out)
    assert store.encoder_specs == ["test-pitch-class"] and len(store.pooled("test-pitch-class")) == 8
    assert not lock_path(out).exists() or lock_path(out).read_text() == ""  # released
    # Once the first run is done, the second one runs and both results stay.
    again = subprocess.run([sys.executable, "-c", SECOND_RUN.format(tests=TESTS, root=str(root), out=str(out))],
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "embedded 8" in again.stdout, again.stdout + again.stderr
    assert sorted(Store(out).encoder_specs) == ["test-pitch-class", "test-pitch-class:delay=0.0001"]
    assert all(len(Store(out).pooled(spec)) == 8 for spec in Store(out).encoder_specs)


def test_a_second_writer_in_the_same_process_is_refused(tmp_path):
    out = tmp_path / "s.h5"
    with StoreWriter(out):
        with pytest.raises(StoreError, match=rf"is being written by pid {os.getpid()} on "):
            StoreWriter(out)
    with StoreWriter(out):  # released on leaving the block
        pass


def test_a_lock_left_by_a_killed_writer_is_taken_over_with_a_note(tmp_path, class_dataset, caplog):
    out = tmp_path / "s.h5"
    ready = tmp_path / "ready"
    script = (f"import sys, time\nfrom pathlib import Path\nfrom counterpoint.store import StoreWriter\n"
              f"writer = StoreWriter({str(out)!r})\nPath({str(ready)!r}).write_text('locked')\ntime.sleep(600)\n")
    holder = subprocess.Popen([sys.executable, "-c", script])
    _wait_for(ready, holder)
    with pytest.raises(StoreError, match=f"pid {holder.pid}"):
        StoreWriter(out)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    left = json.loads(lock_path(out).read_text())
    assert left["pid"] == holder.pid  # the dead writer's record is still there
    with caplog.at_level(logging.WARNING, logger="counterpoint.store"):
        report = embed_dataset(class_dataset, out, [build_encoder("test-pitch-class")])
    assert report.runs[0].embedded == 8
    assert f"pid {holder.pid}" in caplog.text and "no longer running" in caplog.text
