"""Peak memory and time of embedding one long audio file, against its length.

Writes a mono 22.05-kHz 16-bit WAV of each length (default 10 min, 1 h, 2 h: 26, 159, 318 MB; music-like:
notes changing every 0.4 s, beats and a little noise), then embeds it with each encoder (default
audio-stats and musicnn) in a fresh process — the file read, resampled and embedded as ``counterpoint
embed`` does it (``encoder.embed([track])``; ``--stage prepare`` stops before the model) — and reports the wall time and the process's peak RSS
(``ru_maxrss`` of the child, read with ``os.wait4``), the peak's ratio to the file's size, and the
growth law: the exponent b of cost ∝ length^b between the shortest and the longest file (1: memory
grows with the file, near 0: it does not). The goal is at most 1 GB for 2 hours.

``--previous SRC`` also runs another version's source folder (``git archive main src | tar -x -C
/tmp/previous``) on the lengths ``--previous-minutes`` (keep them short: the whole-file reader needs
about 23 times the file's size) and prints its figures and growth law beside.

    python benchmarks/long_audio.py
    python benchmarks/long_audio.py --minutes 5,10 --previous /tmp/previous/src --previous-minutes 5,10
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RATE = 22050
#: What one measured process runs: embed ``path`` with ``spec`` and print the embedding's shape.
CHILD = """
import sys, json
from pathlib import Path
from counterpoint.data.manifest import Track
from counterpoint.encoders.registry import build_encoder
encoder = build_encoder(sys.argv[1])
track = Track("long", Path(sys.argv[2]), None)
if sys.argv[3] == "embed":
    encoder.load()
    embedding = encoder.embed([track])[0]
    print(json.dumps({"frames": len(embedding.frames), "duration": embedding.duration}))
else:  # the file read, resampled and cut into the model's input: everything that grows with the file
    prepared = encoder.prepare(track)
    print(json.dumps({"frames": len(getattr(prepared, "patches", getattr(prepared, "frames", []))),
                      "duration": prepared.duration}))
"""


def write_long_wav(path: Path, minutes: float, seed: int = 0) -> None:
    """A music-like mono 16-bit WAV written a minute at a time (the writer's memory stays small)."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    phase = 0.0
    with sf.SoundFile(path, "w", samplerate=RATE, channels=1, subtype="PCM_16") as handle:
        for minute in range(math.ceil(minutes)):
            n = int(min(60.0, (minutes - minute) * 60.0) * RATE)
            t = minute * 60.0 + np.arange(n) / RATE
            pitch = 220.0 * 2 ** (rng.integers(0, 12, size=151)[((t - minute * 60.0) / 0.4).astype(int)] / 12)
            phases = phase + 2 * np.pi * np.cumsum(pitch) / RATE
            phase = float(phases[-1])
            beat = 0.6 + 0.4 * np.cos(2 * np.pi * 2 * t)
            handle.write((0.3 * np.sin(phases) * beat + 0.02 * rng.standard_normal(n)).astype(np.float32))


def run_measured(spec: str, path: Path, source: str, stage: str) -> dict:
    """Wall seconds, peak RSS and frame count of ``stage`` (embed or prepare) of ``path`` with ``spec``, in a
    fresh process."""
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", CHILD, spec, str(path), stage],
                             env={**os.environ, "PYTHONPATH": source},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    out, err = child.stdout.read().decode(), child.stderr.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"embedding {path} with {spec} failed:\n{err[-2000:]}")
    return {"seconds": seconds, "peak_rss_mb": usage.ru_maxrss * 1024 / 1e6, **json.loads(out.strip().splitlines()[-1])}


def growth(rows: list[dict], key: str) -> float:
    first, last = rows[0], rows[-1]
    if last["minutes"] == first["minutes"]:
        return float("nan")
    return math.log(last[key] / first[key]) / math.log(last["minutes"] / first["minutes"])


def measure(specs: list[str], minutes: list[float], source: str, folder: Path, label: str,
            stage: str) -> dict[str, list[dict]]:
    results: dict[str, list[dict]] = {spec: [] for spec in specs}
    for length in minutes:
        path = folder / f"long_{length:g}min.wav"
        if not path.exists():
            write_long_wav(path, length)
        for spec in specs:
            row = {"minutes": length, "file_mb": path.stat().st_size / 1e6, **run_measured(spec, path, source, stage)}
            results[spec].append(row)
            print(f"  {label:>8} {spec:<12} {length:>6g} min ({row['file_mb']:6.0f} MB file): {row['seconds']:7.1f} s, "
                  f"peak RSS {row['peak_rss_mb']:6.0f} MB ({row['peak_rss_mb'] / row['file_mb']:5.1f}x the file), "
                  f"{row['frames']} frames", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", default="10,60,120", help="file lengths in minutes, comma-separated")
    parser.add_argument("--encoders", default="audio-stats,musicnn", help="encoder specs, comma-separated")
    parser.add_argument("--previous", type=Path, help="another version's src/ folder")
    parser.add_argument("--previous-minutes", default="5,10", help="lengths the previous version is run on")
    parser.add_argument("--stage", choices=("embed", "prepare"), default="embed",
                        help="embed (read and run the model) or prepare (read, resample, cut into the model's input: "
                             "all that grows with the file, without the model's time)")
    args = parser.parse_args()
    specs = args.encoders.split(",")
    with tempfile.TemporaryDirectory() as folder:
        runs = {"this": measure(specs, [float(m) for m in args.minutes.split(",")],
                                str(Path(__file__).resolve().parents[1] / "src"), Path(folder), "this", args.stage)}
        if args.previous:
            runs["previous"] = measure(specs, [float(m) for m in args.previous_minutes.split(",")],
                                       str(args.previous.resolve()), Path(folder), "previous", args.stage)
    for label, results in runs.items():
        for spec, rows in results.items():
            print(f"{label} · {spec}: peak RSS ∝ length^{growth(rows, 'peak_rss_mb'):.2f}, "
                  f"time ∝ length^{growth(rows, 'seconds'):.2f} ({rows[0]['minutes']:g} → {rows[-1]['minutes']:g} min); "
                  f"at {rows[-1]['minutes']:g} min: {rows[-1]['peak_rss_mb']:.0f} MB, {rows[-1]['seconds']:.0f} s")


if __name__ == "__main__":
    main()
