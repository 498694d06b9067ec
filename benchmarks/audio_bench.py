"""What the audio encoder benchmarks share: test tracks, timed stages and the table they print.

Each benchmark times its encoder's stages on the same files in one process and prints every
stage's wall seconds, files per second, real-time factor and its ratio to the stage named as
the floor, so numbers taken on a busy machine still compare stages with each other.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from counterpoint.data.manifest import AUDIO_EXTENSIONS, Manifest, Track


@dataclass
class Stage:
    """One timed stage: what it did, the files and seconds of audio it handled, the wall and CPU seconds it took."""

    label: str
    files: int
    audio_seconds: float
    wall_seconds: float
    cpu_seconds: float

    @property
    def real_time_factor(self) -> float:
        return self.audio_seconds / self.wall_seconds


def timed(label: str, files: int, work: Callable[[], float]) -> Stage:
    """Run ``work`` (returning the seconds of audio it handled) and time it."""
    cpu, wall = time.process_time(), time.perf_counter()
    seconds = work()
    return Stage(label, files, seconds, time.perf_counter() - wall, time.process_time() - cpu)


def write_test_tracks(folder: Path, count: int, seconds: float = 30.0, sample_rate: int = 44100, seed: int = 0) -> list[Path]:
    """``count`` seeded stereo WAVs of musical test signal: chords of harmonic tones with vibrato,
    gaps and noise bursts."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    paths = []
    for i in range(count):
        signal = np.zeros_like(t)
        for _ in range(4):
            f0 = 110.0 * 2 ** (rng.integers(0, 36) / 12)
            vibrato = 1 + 0.003 * np.sin(2 * np.pi * rng.uniform(4, 7) * t)
            for harmonic in range(1, 6):
                signal += np.sin(2 * np.pi * f0 * harmonic * vibrato * t + rng.uniform(0, 2 * np.pi)) / harmonic
        envelope = (np.sin(2 * np.pi * rng.uniform(0.5, 2) * t) > -0.8).astype(float)
        signal = signal * envelope + 0.05 * rng.standard_normal(len(t)) * (rng.uniform() < 0.5)
        signal = 0.2 * signal / np.max(np.abs(signal))
        stereo = np.stack([signal, np.roll(signal, 7)], axis=1).astype(np.float32)
        path = folder / f"test_{i:03d}.wav"
        sf.write(path, stereo, sample_rate)
        paths.append(path)
    return paths


@contextmanager
def benchmark_tracks(folder: Path | None, n: int) -> Iterator[Manifest]:
    """A manifest of the first ``n`` audio files under ``folder`` (sorted), or of ``n`` generated
    44.1-kHz stereo test WAVs in a temporary folder when ``folder`` is None."""
    with tempfile.TemporaryDirectory() as scratch:
        if folder is None:
            root, paths = Path(scratch), write_test_tracks(Path(scratch), n)
        else:
            root = folder
            paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS)[:n]
            if not paths:
                raise SystemExit(f"{folder}: no audio files ({', '.join(AUDIO_EXTENSIONS)}) found")
        yield Manifest(root=root, tracks=[Track(p.stem, p, None) for p in paths])


def embed_through_runner(manifest: Manifest, encoder) -> float:
    """Embed every track with ``encoder`` as ``counterpoint embed`` does (runner, read-ahead, store) into a
    temporary store; the seconds of audio embedded."""
    from counterpoint.embed import embed_dataset
    from counterpoint.store import Store

    with tempfile.TemporaryDirectory() as scratch:
        report = embed_dataset(manifest, Path(scratch) / "bench.h5", [encoder])
        if report.runs[0].failed:
            raise SystemExit(f"{encoder.spec}: {len(report.runs[0].failed)} tracks failed: {report.runs[0].failed[0]}")
        return Store(report.store).encoder(encoder.spec).input_seconds


def format_table(title: str, stages: list[Stage], floor: Stage) -> str:
    """One line per stage: wall and CPU seconds, files/s, x real time, and the ratio of its wall time to ``floor``'s."""
    lines = [title, f"  {'stage':58s} {'wall s':>7s} {'cpu s':>7s} {'files/s':>8s} {'x real':>7s} {'/ floor':>8s}"]
    for stage in stages:
        lines.append(f"  {stage.label:58s} {stage.wall_seconds:7.2f} {stage.cpu_seconds:7.2f} "
                     f"{stage.files / stage.wall_seconds:8.2f} {stage.real_time_factor:7.1f} "
                     f"{stage.wall_seconds / floor.wall_seconds:8.2f}")
    return "\n".join(lines)
