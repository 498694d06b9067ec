"""A synthetic paired corpus of N tracks through ``counterpoint analyze``: time, peak memory, page and folder size.

For every size N (default 10k and 100k; ``--sizes``) the benchmark writes a store through the real
``StoreWriter``: an "audio" and a "symbolic" encoder of 768 float32 dimensions each, both a random
linear image of one shared 32-dimensional latent plus their own noise, the latent itself a class
centre of ``style`` (20 classes) plus a composer offset; label columns ``style`` (20 classes),
``composer`` (N/25 classes, each writing in every style) and ``era`` (5 classes), ``group`` =
composer (so splits and folds never put a composer on two sides); and per-frame embeddings
(``--frame-share`` of the tracks 8 frames of 2 s each, the others one frame, their pooled vector)
so the frame paths have data. Then it runs
``counterpoint analyze STORE --label style --probe-models linear`` (``--probe-models linear,mlp``,
``--aligned`` add work) in a fresh process under ``nice`` and measures its wall time and peak RSS
(the child's ``ru_maxrss`` from ``os.wait4``), the size of ``index.html`` and of the report folder,
and the seconds of every report section's computation (``run``) and writing (``write``), timed by
wrapping each registered section, and the 5-minute load average before and after (what else ran). One
size at a time; the machine may be shared, so the sizes' ratios, measured in one run, mean more than the
absolute seconds.

The growth law: least-squares slopes of log(time), log(peak RSS), log(page size) and
log(folder size) against log(N) over the sizes run (at least two; three or more for a fit that
means something), extrapolated to 100k and 1M tracks.

    python benchmarks/corpus_scale.py --sizes 2500,5000,10000 --json-out corpus_scale.json
    python benchmarks/corpus_scale.py                        # 10k and 100k (about 30 minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

DIM = 768
LATENT = 32
N_STYLES = 20
N_ERAS = 5
TRACKS_PER_COMPOSER = 25
FRAMES = 8
HOP_SECONDS = 2.0
BATCH = 5000
SOURCE = Path(__file__).resolve().parents[1] / "src"


def corpus_labels(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """The track table: ids, file names, ``style`` / ``composer`` / ``era`` labels, ``group`` = composer."""
    n_composers = max(N_STYLES, n // TRACKS_PER_COMPOSER)
    ids = [f"piece/{i:07d}" for i in range(n)]
    composers = np.array([f"composer{c:05d}" for c in range(n_composers)])[rng.integers(0, n_composers, n)]
    return pd.DataFrame({"id": ids, "audio_filename": [f"{i}.wav" for i in ids],
                         "midi_filename": [f"{i}.mid" for i in ids], "split": "", "group": composers,
                         "style": [f"style{s:02d}" for s in rng.integers(0, N_STYLES, n)], "composer": composers,
                         "era": [f"era{e}" for e in rng.integers(0, N_ERAS, n)]})


def build_store(path: Path, n: int, frame_share: float, seed: int = 0) -> dict:
    """Write the paired store of ``n`` tracks (see the module's docstring); returns what it holds."""
    from counterpoint.encoders.base import Embedding
    from counterpoint.store import EncoderMeta, StoreWriter

    rng = np.random.default_rng(seed)
    table = corpus_labels(n, rng)
    style = table["style"].str[5:].astype(int).to_numpy()
    composer = table["composer"].str[8:].astype(int).to_numpy()
    style_centres = 1.5 * rng.standard_normal((N_STYLES, LATENT))
    composer_offsets = 0.5 * rng.standard_normal((composer.max() + 1, LATENT))
    latent = style_centres[style] + composer_offsets[composer] + rng.standard_normal((n, LATENT))
    with_frames = rng.random(n) < frame_share
    metas = [EncoderMeta("bench-audio", "bench-audio", "audio", DIM, {"name": "bench-audio"}),
             EncoderMeta("bench-symbolic", "bench-symbolic", "symbolic", DIM, {"name": "bench-symbolic"})]
    ids = table["id"].tolist()
    with StoreWriter(path) as writer:
        writer.set_tracks(table)
        for meta in metas:
            projection = rng.standard_normal((LATENT, DIM)) / np.sqrt(LATENT)
            writer.begin_encoder(meta)
            for start in range(0, n, BATCH):
                stop = min(n, start + BATCH)
                pooled = (latent[start:stop] @ projection + 1.5 * rng.standard_normal((stop - start, DIM))).astype(np.float32)
                embeddings = []
                for row, vector in zip(range(start, stop), pooled):
                    if with_frames[row]:
                        frames = vector + 0.3 * rng.standard_normal((FRAMES, DIM)).astype(np.float32)
                        times = (np.arange(FRAMES) + 0.5) * HOP_SECONDS
                    else:  # one frame: the pooled vector itself
                        frames, times = vector[None], np.array([FRAMES * HOP_SECONDS / 2])
                    embeddings.append(Embedding(frames, times, vector, FRAMES * HOP_SECONDS))
                writer.add_embeddings(meta.spec, ids[start:stop], embeddings, [0.0] * (stop - start))
                writer.commit()
    return {"tracks": n, "tracks_with_frames": int(with_frames.sum()), "composers": int(table["composer"].nunique()),
            "store_bytes": path.stat().st_size}


def _timed_sections(times_out: Path) -> None:
    """In the child process: wrap every registered section's ``run`` and ``write`` with a timer whose
    seconds go to ``times_out`` (JSON) when the process exits."""
    import atexit
    import dataclasses

    from counterpoint.report.sections import register_section, sections

    seconds: dict[str, float] = {}

    def timed(key: str, function):
        def wrapper(*arguments):
            started = time.perf_counter()
            try:
                return function(*arguments)
            finally:
                seconds[key] = seconds.get(key, 0.0) + time.perf_counter() - started
        return wrapper

    for section in sections():
        register_section(dataclasses.replace(
            section, write=timed(f"{section.name} write", section.write),
            run=timed(f"{section.name} run", section.run) if section.run else None))
    atexit.register(lambda: times_out.write_text(json.dumps(seconds)))


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def run_analyze(store: Path, out: Path, *, probe_models: str, aligned: bool, source: Path = SOURCE) -> dict:
    """``counterpoint analyze`` (of the ``source`` folder) in a fresh, niced process: wall and CPU seconds, peak
    RSS, page and folder bytes, per-section seconds."""
    times = out.with_suffix(".sections.json")
    arguments = ["analyze", str(store), "--label", "style", "--out", str(out), "--probe-models", probe_models,
                 *(["--aligned"] if aligned else [])]
    script = ("import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
              "from corpus_scale import _timed_sections; _timed_sections(Path(sys.argv[2])); "
              "from counterpoint.cli import app; sys.argv = ['counterpoint', *sys.argv[3:]]; app()")
    command = ["nice", "-n", "10", sys.executable, "-c", script, str(Path(__file__).parent), str(times), *arguments]
    started = time.perf_counter()
    child = subprocess.Popen(command, env={**os.environ, "PYTHONPATH": str(source)}, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    stderr = child.stderr.read().decode(errors="replace") if child.stderr else ""
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"`counterpoint {' '.join(arguments)}` failed:\n{stderr[-3000:]}")
    sections = json.loads(times.read_text()) if times.exists() else {}
    return {"analyze_seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime, "peak_rss_bytes": usage.ru_maxrss * 1024,
            "index_html_bytes": (out / "index.html").stat().st_size, "folder_bytes": folder_bytes(out),
            "section_seconds": dict(sorted(sections.items(), key=lambda item: -item[1]))}


GROWTH_COLUMNS = {"analyze_seconds": "time", "cpu_seconds": "CPU time", "peak_rss_bytes": "peak RSS", "index_html_bytes": "index.html",
                  "folder_bytes": "report folder"}


def growth_laws(rows: pd.DataFrame, targets: tuple[int, ...] = (100_000, 1_000_000)) -> dict:
    """Per measure: the exponent b and constant a of cost ≈ a·N^b (least squares on logs) and its value at ``targets``."""
    if rows["tracks"].nunique() < 2:
        return {}
    laws = {}
    for column in GROWTH_COLUMNS:
        slope, intercept = np.polyfit(np.log(rows["tracks"]), np.log(rows[column]), 1)
        laws[column] = {"exponent": float(slope), "constant": float(np.exp(intercept)),
                        "at": {str(n): float(np.exp(intercept) * n ** slope) for n in targets}}
    return laws


def _size(value: float) -> str:
    return f"{value / 1e6:,.1f} MB" if value < 1e9 else f"{value / 1e9:,.2f} GB"


def _duration(value: float) -> str:
    return f"{value:,.0f} s" if value < 3600 else f"{value / 3600:,.1f} h"


def table(rows: pd.DataFrame, laws: dict) -> str:
    """The printed table, the slowest sections of the largest size, and the growth laws."""
    lines = [f"{'tracks':>9} {'store':>10} {'analyze':>9} {'CPU':>9} {'peak RSS':>10} {'index.html':>11} {'folder':>10}"]
    for row in rows.itertuples():
        lines.append(f"{row.tracks:>9,} {_size(row.store_bytes):>10} {_duration(row.analyze_seconds):>9} "
                     f"{_duration(row.cpu_seconds):>9} "
                     f"{_size(row.peak_rss_bytes):>10} {_size(row.index_html_bytes):>11} {_size(row.folder_bytes):>10}")
    largest = rows.iloc[-1]
    lines.append(f"slowest sections at {largest.tracks:,} tracks: " + ", ".join(
        f"{name} {seconds:.0f} s" for name, seconds in list(largest.section_seconds.items())[:6]))
    for column, law in laws.items():
        display = _duration if column.endswith("seconds") else _size
        lines.append(f"growth law: {GROWTH_COLUMNS[column]} ∝ N^{law['exponent']:.2f} → "
                     + ", ".join(f"{int(n):,} tracks: {display(v)}" for n, v in law["at"].items()))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000", help="track counts, comma-separated")
    parser.add_argument("--probe-models", default="linear", help="the report's probe models, e.g. linear,mlp")
    parser.add_argument("--aligned", action="store_true", help="also run the time-aligned comparison")
    parser.add_argument("--frame-share", type=float, default=0.05, help="share of tracks with per-frame embeddings")
    parser.add_argument("--json-out", type=Path, help="write every measurement as JSON here")
    parser.add_argument("--source", type=Path, default=SOURCE,
                        help="the src/ folder to measure (e.g. another version's, from git archive)")
    parser.add_argument("--keep", type=Path, help="keep the stores and reports in this folder (default: a temporary "
                                                  "one); a store already there is reused")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as temporary:
        folder = args.keep or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        for n in sizes:
            store = folder / f"corpus_{n}.h5"
            if store.exists():   # kept from an earlier run (--keep): the same seed wrote the same store
                built = {"tracks": n, "store_bytes": store.stat().st_size}
            else:
                started = time.perf_counter()
                built = build_store(store, n, args.frame_share)
                built["build_seconds"] = time.perf_counter() - started
            load_before = os.getloadavg()[1]
            measured = run_analyze(store, folder / f"report_{n}", probe_models=args.probe_models, aligned=args.aligned,
                                   source=args.source.resolve())
            # What else ran: the 5-minute load average before and after (2 alone on 2 busy cores, more when shared).
            rows.append({**built, **measured, "load_average_5min": [load_before, os.getloadavg()[1]]})
            print(json.dumps(rows[-1]), flush=True)
    frame = pd.DataFrame(rows)
    laws = growth_laws(frame)
    print(table(frame, laws))
    if args.json_out:
        args.json_out.write_text(json.dumps({"settings": {"probe_models": args.probe_models, "aligned": args.aligned,
                                                          "frame_share": args.frame_share, "dim": DIM},
                                             "rows": rows, "growth_laws": laws}, indent=1))


if __name__ == "__main__":
    main()
