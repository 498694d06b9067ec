"""Shared test helpers: tiny real datasets written on the fly (real MIDI, real WAV files)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile as sf

FIXTURES = Path(__file__).parent / "fixtures"


@contextmanager
def without_root_rights() -> Iterator[None]:
    """Run the block as a user file permissions apply to: root ignores them, so root drops its
    effective uid to nobody (65534) until the block ends."""
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    if as_root:
        os.seteuid(65534)
    try:
        yield
    finally:
        if as_root:
            os.seteuid(0)


def write_midi(path: Path, pitches: list[int], step: float = 0.25, program: int = 0, velocity: int = 80) -> Path:
    """A one-instrument MIDI file playing ``pitches`` one after the other."""
    midi = pretty_midi.PrettyMIDI(initial_tempo=120)
    instrument = pretty_midi.Instrument(program=program)
    for i, pitch in enumerate(pitches):
        instrument.notes.append(pretty_midi.Note(velocity, pitch, i * step, i * step + step * 0.9))
    midi.instruments.append(instrument)
    path.parent.mkdir(parents=True, exist_ok=True)
    midi.write(str(path))
    return path


def write_tone(path: Path, frequency: float, seconds: float = 2.0, sample_rate: int = 22050, amplitude: float = 0.3) -> Path:
    """A WAV file holding a sine tone with a little noise (so it is not trivially periodic)."""
    rng = np.random.default_rng(int(frequency))
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    signal = amplitude * np.sin(2 * np.pi * frequency * t) + 0.01 * rng.standard_normal(t.size)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, signal.astype(np.float32), sample_rate)
    return path


def make_class_folders(root: Path, classes: dict[str, int] | None = None, per_class: int = 4,
                       seconds: float = 1.5) -> Path:
    """``root/<class>/<stem>.{wav,mid}`` pairs whose pitch content differs by class; audio lasts ``seconds``."""
    classes = classes or {"low": 48, "high": 72}
    for name, base in classes.items():
        for i in range(per_class):
            write_midi(root / name / f"piece{i}.mid", [base + (i + k) % 7 for k in range(16)])
            write_tone(root / name / f"piece{i}.wav", 110.0 * 2 ** ((base - 45 + i) / 12), seconds=seconds)
    return root


def make_info_csv_dataset(root: Path, rows: list[dict[str, str]], files: bool = True) -> Path:
    """An info.csv dataset; with ``files`` the named audio and MIDI files are created."""
    import pandas as pd

    root.mkdir(parents=True, exist_ok=True)
    for i, row in enumerate(rows):
        if files and row.get("audio_filename"):
            write_tone(root / row["audio_filename"], 220.0 + 30 * i, seconds=1.0)
        if files and row.get("midi_filename"):
            write_midi(root / row["midi_filename"], [60 + (i + k) % 12 for k in range(8)])
    pd.DataFrame(rows).to_csv(root / "info.csv", index=False)
    return root


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module's tiny models on one torch thread: faster than two on a small, shared CPU."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def dataset_with_bad_files(tmp_path_factory) -> Path:
    """Class folders of eight good pairs, a WAV that is not audio and a MIDI file that is not MIDI (the engines' tests)."""
    root = make_class_folders(tmp_path_factory.mktemp("engine") / "data", per_class=4, seconds=1.0)
    (root / "low" / "piece1.wav").write_bytes(b"RIFF but not really a wave file")
    (root / "high" / "piece2.mid").write_bytes(b"MThd garbage")
    return root


@pytest.fixture
def class_dataset(tmp_path: Path) -> Path:
    return make_class_folders(tmp_path / "dataset")
