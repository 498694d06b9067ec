"""Cost of ``analyze --label`` and ``probe --model linear`` as the label's class count grows.

Builds a symbolic-stats-like store (137 dimensions, 3 frames per track; each track its class's
random centre plus unit noise, classes of equal size) through the project's ``StoreWriter`` for
every case ``TRACKSxCLASSES`` (default 400 tracks × 2, 20, 200 classes and 2,000 × 1,000), then
runs each command in a fresh process and reports its wall time and peak RSS (the child's
``ru_maxrss``, read with ``os.wait4``), the ratios to the first case, and the growth law over the
cases with the first case's track count: the exponent b of cost ∝ classes^b (0: independent of the
class count, 1: proportional to it). The goal is at most 1.5 GB and at most twice the 2-class time.

``--previous SRC`` runs the same commands on another version's source folder (e.g. main's,
``git archive main src | tar -x -C /tmp/previous``) and prints both side by side; the machine is
shared, so compare ratios measured in the same run. ``--cases`` chooses the cases (run the old
code only on small ones: it drew one picture per class pair).

    python benchmarks/many_classes.py
    python benchmarks/many_classes.py --cases 400x2,400x20,400x50 --previous /tmp/previous/src
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

DIM = 137
FRAMES = 3
COMMANDS = {
    "analyze": lambda store, out: ["analyze", str(store), "--label", "style", "--out", str(out)],
    "probe linear": lambda store, out: ["probe", str(store), "--encoder", "symbolic-stats", "--label", "style",
                                        "--model", "linear", "--out", str(out)],
}


def build_store(path: Path, n_tracks: int, n_classes: int, seed: int = 0) -> None:
    """A store of ``n_tracks`` symbolic-stats-like embeddings labelled ``style`` with ``n_classes`` classes."""
    from counterpoint.encoders.base import Embedding
    from counterpoint.store import EncoderMeta, StoreWriter

    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_classes, DIM)).astype(np.float32)
    ids = [f"piece/{i:06d}" for i in range(n_tracks)]
    classes = np.arange(n_tracks) % n_classes
    table = pd.DataFrame({"id": ids, "audio_filename": "", "midi_filename": [f"{i}.mid" for i in ids], "split": "",
                          "group": "", "style": [f"class{c:04d}" for c in classes]})
    meta = EncoderMeta("symbolic-stats", "symbolic-stats", "symbolic", DIM, {"name": "symbolic-stats"})
    embeddings = []
    for c in classes:
        frames = (centres[c] + rng.standard_normal((FRAMES, DIM))).astype(np.float32)
        embeddings.append(Embedding(frames, np.arange(FRAMES) * 2.0, frames.mean(axis=0), 2.0 * FRAMES))
    with StoreWriter(path) as writer:
        writer.set_tracks(table)
        writer.begin_encoder(meta)
        writer.add_embeddings(meta.spec, ids, embeddings, [0.0] * n_tracks)
        writer.commit()


def run_measured(arguments: list[str], source: str) -> tuple[float, int]:
    """(wall seconds, peak RSS bytes) of ``counterpoint ARGUMENTS`` in a fresh process importing ``source``."""
    command = [sys.executable, "-c", "from counterpoint.cli import app; app()", *arguments]
    started = time.perf_counter()
    child = subprocess.Popen(command, env={**os.environ, "PYTHONPATH": source}, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    stderr = child.stderr.read().decode(errors="replace") if child.stderr else ""
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"`counterpoint {' '.join(arguments)}` failed ({child.returncode}):\n{stderr[-2000:]}")
    return seconds, usage.ru_maxrss * 1024


def measure(cases: list[tuple[int, int]], sources: dict[str, str], folder: Path) -> pd.DataFrame:
    rows = []
    for n_tracks, n_classes in cases:
        store = folder / f"store_{n_tracks}x{n_classes}.h5"
        build_store(store, n_tracks, n_classes)
        for name, arguments in COMMANDS.items():
            for version, source in sources.items():
                out = folder / f"out_{version}_{name.replace(' ', '_')}_{n_tracks}x{n_classes}"
                seconds, rss = run_measured(arguments(store, out), source)
                rows.append({"version": version, "command": name, "tracks": n_tracks, "classes": n_classes,
                             "seconds": seconds, "peak_rss_mb": rss / 1e6})
                print(f"  {version:>8} {name:<13} {n_tracks:>6} tracks {n_classes:>5} classes: {seconds:7.1f} s, "
                      f"peak RSS {rss / 1e6:7.0f} MB", flush=True)
    return pd.DataFrame(rows)


def growth_exponent(rows: pd.DataFrame, column: str) -> float:
    """Slope of log(cost) against log(classes), least squares over the given rows."""
    if rows["classes"].nunique() < 2:
        return float("nan")
    return float(np.polyfit(np.log(rows["classes"]), np.log(rows[column]), 1)[0])


def report(frame: pd.DataFrame) -> str:
    lines = []
    first_tracks = int(frame["tracks"].iloc[0])
    for (version, command), rows in frame.groupby(["version", "command"], sort=False):
        base = rows.iloc[0]
        lines.append(f"{version} · {command}")
        for row in rows.itertuples():
            lines.append(f"  {row.tracks:>6} tracks × {row.classes:>5} classes: {row.seconds:7.1f} s "
                         f"({row.seconds / base.seconds:5.2f}x), peak RSS {row.peak_rss_mb:7.0f} MB "
                         f"({row.peak_rss_mb / base.peak_rss_mb:5.2f}x)")
        same = rows[rows["tracks"] == first_tracks]
        lines.append(f"  growth over {first_tracks} tracks: time ∝ classes^{growth_exponent(same, 'seconds'):.2f}, "
                     f"peak RSS ∝ classes^{growth_exponent(same, 'peak_rss_mb'):.2f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="400x2,400x20,400x200,2000x1000", help="TRACKSxCLASSES, comma-separated")
    parser.add_argument("--previous", type=Path, help="another version's src/ folder, measured side by side")
    args = parser.parse_args()
    cases = [tuple(int(v) for v in case.split("x")) for case in args.cases.split(",")]
    sources = {"this": str(Path(__file__).resolve().parents[1] / "src")}
    if args.previous:
        sources["previous"] = str(args.previous.resolve())
    with tempfile.TemporaryDirectory() as folder:
        frame = measure(cases, sources, Path(folder))
    print(report(frame))


if __name__ == "__main__":
    main()
