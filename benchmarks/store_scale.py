"""Cost of appending to a store as it grows: time and bytes written per 1000 tracks, peak memory.

For each size N (default 1k, 10k, 100k tracks already in the store, pooled + frames like
symbolic-stats: D=137, 3 frames per track), builds a store of N tracks, then appends batches of
``--batch`` tracks, one commit each, and reports per 1000 tracks: seconds, bytes passed to write
calls (``/proc/self/io`` wchar: journal + redo record + file), their ratio to the bytes added
(write amplification), and the growth law (exponent b of cost ∝ N^b between the smallest and
largest N: 0 = independent of the store's size, 1 = proportional to it). Then the peak memory
of reading every pooled vector back (tracemalloc, relative to the matrix's own bytes) and of
reading the frames of 100 tracks.

``--previous SRC`` runs the same measurements, in a subprocess of this run, on another version's
source folder (e.g. main's, extracted with ``git archive main src | tar -x -C /tmp/previous``)
and prints both side by side with their ratios.

    python benchmarks/store_scale.py                                  # this version
    python benchmarks/store_scale.py --previous /tmp/previous/src     # side by side
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd


def _wchar() -> int:
    with open("/proc/self/io") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith("wchar"))


def _ids(start: int, n: int) -> list[str]:
    return [f"piece/{i:08d}" for i in range(start, start + n)]


def _batch(start: int, n: int, dim: int, frames: int, rng: np.random.Generator) -> tuple[list[str], list]:
    from counterpoint.encoders.base import Embedding

    ids = _ids(start, n)
    embeddings = []
    for _ in ids:
        x = rng.standard_normal((frames, dim)).astype(np.float32)
        embeddings.append(Embedding(x, np.arange(frames) * 2.0, x.mean(axis=0), 30.0))
    return ids, embeddings


def _payload_bytes(n: int, dim: int, frames: int) -> int:
    """Bytes the store must hold for n tracks: pooled, frames, timestamps, offsets, two float columns, ids."""
    return n * (dim * 4 + frames * (dim * 4 + 8) + 3 * 8 + len(_ids(0, 1)[0]))


def measure(sizes: list[int], batch: int, repeats: int, dim: int, frames: int, folder: Path) -> dict:
    """Append cost at every size, then read memory at the largest; numbers only, printing is main's."""
    from counterpoint.store import EncoderMeta, Store, StoreWriter

    meta = EncoderMeta("bench-stats", "bench-stats", "symbolic", dim, {"name": "bench-stats"})
    rng = np.random.default_rng(0)
    rows = []
    path = folder / "store.h5"
    for size in sizes:
        for leftover in folder.glob("store.h5*"):
            shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
        total = size + repeats * batch
        table = pd.DataFrame({"id": _ids(0, total), "audio_filename": "", "midi_filename": "", "split": "", "group": ""})
        with StoreWriter(path) as writer:
            writer.set_tracks(table)
            writer.begin_encoder(meta)
            for start in range(0, size, 10_000):
                ids, embeddings = _batch(start, min(10_000, size - start), dim, frames, rng)
                writer.add_embeddings(meta.spec, ids, embeddings, [0.0] * len(ids))
                writer.commit()
        seconds, written = [], []
        with StoreWriter(path) as writer:
            writer.begin_encoder(meta)
            for r in range(repeats):
                ids, embeddings = _batch(size + r * batch, batch, dim, frames, rng)
                before, started = _wchar(), time.perf_counter()
                writer.add_embeddings(meta.spec, ids, embeddings, [0.0] * len(ids))
                writer.commit()
                seconds.append(time.perf_counter() - started)
                written.append(_wchar() - before)
        per_1000 = 1000 / batch
        rows.append({"tracks": size, "seconds_per_1000": float(np.median(seconds)) * per_1000,
                     "bytes_written_per_1000": float(np.median(written)) * per_1000,
                     "write_amplification": float(np.median(written)) / _payload_bytes(batch, dim, frames),
                     "file_bytes": path.stat().st_size})
    first, last = rows[0], rows[-1]
    growth = (math.log(last["seconds_per_1000"] / first["seconds_per_1000"]) / math.log(last["tracks"] / first["tracks"])
              if len(rows) > 1 else float("nan"))
    store = Store(path)
    tracemalloc.start()
    matrix = store.pooled(meta.spec)
    _, pooled_peak = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    held, _ = tracemalloc.get_traced_memory()  # the matrix and its metadata, still alive
    if "ids" in inspect.signature(store.frames).parameters:
        store.frames(meta.spec, ids=list(matrix.obs["id"][:: max(1, len(matrix) // 100)][:100]))
    else:  # a version that reads frames only all at once
        store.frames(meta.spec)
    _, frames_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"rows": rows, "growth_exponent": growth, "read_tracks": len(matrix), "matrix_bytes": matrix.X.nbytes,
            "pooled_read_peak_bytes": pooled_peak, "frames_100_read_peak_bytes": frames_peak - held,
            "peak_rss_bytes": _peak_rss()}


def _peak_rss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _run_previous(source: Path, args: argparse.Namespace) -> dict:
    """The same measurements on another version's source folder, in a subprocess (its own imports)."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "previous.json"
        command = [sys.executable, __file__, "--sizes", args.sizes, "--batch", str(args.batch), "--repeats",
                   str(args.repeats), "--dim", str(args.dim), "--frames", str(args.frames), "--json-out", str(out)]
        subprocess.run(command, check=True, env={**os.environ, "PYTHONPATH": str(source)})
        return json.loads(out.read_text())


def _table(result: dict, previous: dict | None) -> str:
    lines = []
    header = f"{'tracks in store':>16} {'s / 1000 tracks':>16} {'MB written / 1000':>18} {'write ampl.':>12}"
    if previous:
        header += f" | {'previous s':>11} {'previous ampl.':>15} {'previous / now':>15}"
    lines.append(header)
    for i, row in enumerate(result["rows"]):
        line = (f"{row['tracks']:>16,} {row['seconds_per_1000']:>16.3f} {row['bytes_written_per_1000'] / 1e6:>18.2f} "
                f"{row['write_amplification']:>11.1f}x")
        if previous:
            old = previous["rows"][i]
            line += (f" | {old['seconds_per_1000']:>11.3f} {old['write_amplification']:>14.1f}x "
                     f"{old['seconds_per_1000'] / row['seconds_per_1000']:>14.1f}x")
        lines.append(line)
    base = result["rows"][0]["seconds_per_1000"]
    lines.append("cost ratio to the smallest store: " + ", ".join(
        f"{r['tracks']:,}: {r['seconds_per_1000'] / base:.2f}" for r in result["rows"]))
    lines.append(f"growth law: cost per batch ∝ N^{result['growth_exponent']:.2f}"
                 + (f" (previous: N^{previous['growth_exponent']:.2f})" if previous else ""))
    lines.append(f"reading {result['read_tracks']:,} pooled vectors: peak {result['pooled_read_peak_bytes'] / 1e6:.1f} MB "
                 f"for a {result['matrix_bytes'] / 1e6:.1f} MB matrix "
                 f"({result['pooled_read_peak_bytes'] / result['matrix_bytes']:.2f}x, the rest is ids and metadata)")
    lines.append(f"reading the frames of 100 tracks: peak {result['frames_100_read_peak_bytes'] / 1e6:.2f} MB"
                 + (f" (previous, which reads all frames: {previous['frames_100_read_peak_bytes'] / 1e6:.2f} MB)"
                    if previous else "") + f"; process peak RSS {result['peak_rss_bytes'] / 1e6:.0f} MB")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000", help="tracks already in the store, comma-separated")
    parser.add_argument("--batch", type=int, default=1000, help="tracks per appended batch (one commit each)")
    parser.add_argument("--repeats", type=int, default=3, help="batches appended per size (the median is reported)")
    parser.add_argument("--dim", type=int, default=137)
    parser.add_argument("--frames", type=int, default=3, help="frames per track")
    parser.add_argument("--previous", type=Path, help="another version's src/ folder, measured side by side")
    parser.add_argument("--json-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as folder:
        result = measure(sizes, args.batch, args.repeats, args.dim, args.frames, Path(folder))
    if args.json_out:
        args.json_out.write_text(json.dumps(result))
        return
    previous = _run_previous(args.previous, args) if args.previous else None
    print(_table(result, previous))


if __name__ == "__main__":
    main()
