"""The command line's start-up and the fixed cost of `embed`, each beside the interpreter's own start.

Times, as separate processes (median of ``--runs``): ``python -c pass`` (the floor), ``counterpoint
--version``, ``--help`` and ``embed --help``; then ``counterpoint embed`` of a dataset of one 30-s pair
(a WAV of musical test signal and a MIDI file) into a new store, per encoder: what a user waits for
beyond the seconds the encoder needs for that one file. Last, the heaviest packages that ``import
counterpoint.cli`` and the audio descriptors load (``python -X importtime``), to see what dominates.

    PYTHONPATH=src python benchmarks/startup.py --runs 7 --embed-runs 3

On a busy machine every number rises; the ratios to the floor compare better than the seconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

EMBED_ENCODERS = ("symbolic-stats", "audio-stats", "musicnn")
CLI = [sys.executable, "-m", "counterpoint.cli"]


def wall_seconds(command: list[str], runs: int) -> tuple[float, float]:
    """Median and smallest wall seconds of ``command`` over ``runs`` runs (each must exit 0)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def one_pair_dataset(root: Path, seconds: float = 30.0, sample_rate: int = 22050) -> Path:
    """``root/piece/one.wav`` (chords of harmonic tones, ``seconds`` long) and ``root/piece/one.mid``."""
    import pretty_midi
    import soundfile as sf

    folder = root / "piece"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    signal = sum(np.sin(2 * np.pi * 110.0 * 2 ** (rng.integers(0, 24) / 12) * h * t) / h for h in range(1, 5))
    sf.write(folder / "one.wav", (0.2 * signal / np.abs(signal).max()).astype(np.float32), sample_rate)
    midi = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(program=0)
    piano.notes = [pretty_midi.Note(80, 48 + (i * 5) % 24, i * 0.5, i * 0.5 + 0.45) for i in range(int(seconds * 2))]
    midi.instruments.append(piano)
    midi.write(str(folder / "one.mid"))
    return root


def heaviest_imports(code: str, count: int = 8) -> list[tuple[float, str]]:
    """The ``count`` packages that ``python -X importtime -c code`` spends most time in (cumulative ms of each
    package's first import, one line per package; counterpoint's modules each on their own)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True)
    heaviest: dict[str, float] = {}
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            name = parts[2].strip()
            key = name if name.startswith("counterpoint.") else name.split(".")[0]
            heaviest[key] = max(heaviest.get(key, 0.0), int(parts[1]) / 1000)
    return sorted(((ms, name) for name, ms in heaviest.items() if name != code.split()[-1]), reverse=True)[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs of each start-up command")
    parser.add_argument("--embed-runs", type=int, default=3, help="runs of each embed")
    parser.add_argument("--encoders", default=",".join(EMBED_ENCODERS))
    args = parser.parse_args()
    os.environ.setdefault("COUNTERPOINT_CACHE", tempfile.mkdtemp(prefix="startup-cache-"))

    rows = [("python -c pass", [sys.executable, "-c", "pass"])] + [
        (f"counterpoint {' '.join(words)}", CLI + list(words)) for words in (["--version"], ["--help"], ["embed", "--help"])]
    floor = None
    print(f"{'command':52s} {'median s':>9s} {'min s':>7s} {'× floor':>8s}")
    for label, command in rows:
        median, fastest = wall_seconds(command, args.runs)
        floor = floor or median
        print(f"{label:52s} {median:9.3f} {fastest:7.3f} {median / floor:8.1f}")
    with tempfile.TemporaryDirectory(prefix="startup-") as folder:
        root = one_pair_dataset(Path(folder) / "data")
        for encoder in args.encoders.split(","):
            times = []
            for run in range(args.embed_runs):
                store = Path(folder) / f"{encoder}-{run}.h5"
                start = time.perf_counter()
                subprocess.run(CLI + ["embed", str(root), "-e", encoder, "-o", str(store)], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                times.append(time.perf_counter() - start)
            median = statistics.median(times)
            print(f"{'counterpoint embed (one 30-s pair) -e ' + encoder:52s} {median:9.3f} {min(times):7.3f} "
                  f"{median / floor:8.1f}")
    for code in ("import counterpoint.cli", "import counterpoint.data.manifest, librosa.core.spectrum, librosa.feature.spectral"):
        print(f"\nheaviest imports of `{code}` (cumulative ms):")
        for ms, name in heaviest_imports(code):
            print(f"  {ms:8.1f}  {name}")


if __name__ == "__main__":
    main()
