"""Size of the report page and folder as the corpus grows: the scatters' inlined data, the static scatters.

Builds a symbolic-stats-like store per track count (137 dimensions, 3 frames per track; 7 styles of unequal
size, each track its style's random centre plus unit noise; metadata as a manifest gives it: audio and MIDI
file names, a split, 40 composers, a numeric tempo) through the project's ``StoreWriter``, runs
``counterpoint analyze STORE --label style`` (its Python form, with ``--reductions``) in a fresh process for each
version, and reports per case: the
size of ``index.html``, of its inlined scatter data (``#cp-data``), of the report folder and of its largest
SVG, the wall time and peak RSS (``ru_maxrss`` of the child, read with ``os.wait4``). The scatter limit
(:data:`counterpoint.config.SCATTER_LIMIT`, 5,000) is the version's default.

``--previous SRC`` measures another version's source folder side by side (e.g. ``git archive main src | tar -x
-C /tmp/previous``); the machine is shared, so compare sizes (deterministic) rather than times.

    python benchmarks/report_page_size.py --tracks 2000,20000 --reductions pca --previous /tmp/previous/src
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

DIM = 137
FRAMES = 3
STYLE_SHARES = (0.4, 0.2, 0.15, 0.1, 0.08, 0.05, 0.02)


def build_store(path: Path, n_tracks: int, seed: int = 0) -> None:
    """A store of ``n_tracks`` symbolic-stats-like embeddings with a manifest's metadata (see the docstring)."""
    from counterpoint.encoders.base import Embedding
    from counterpoint.store import EncoderMeta, StoreWriter

    rng = np.random.default_rng(seed)
    styles = rng.choice(len(STYLE_SHARES), size=n_tracks, p=STYLE_SHARES)
    centres = rng.standard_normal((len(STYLE_SHARES), DIM)).astype(np.float32)
    ids = [f"piece-{i:06d}" for i in range(n_tracks)]
    table = pd.DataFrame({"id": ids, "audio_filename": [f"audio/{i}.wav" for i in ids],
                          "midi_filename": [f"midi/{i}.mid" for i in ids],
                          "split": rng.choice(["train", "validation", "test"], size=n_tracks, p=(0.7, 0.15, 0.15)),
                          "group": "", "style": [f"style{s}" for s in styles],
                          "composer": [f"composer {c:02d}" for c in rng.integers(0, 40, n_tracks)],
                          "tempo_qpm": [str(t) for t in rng.integers(60, 180, n_tracks)]})
    meta = EncoderMeta("symbolic-stats", "symbolic-stats", "symbolic", DIM, {"name": "symbolic-stats"})
    embeddings = []
    for s in styles:
        frames = (centres[s] + rng.standard_normal((FRAMES, DIM))).astype(np.float32)
        embeddings.append(Embedding(frames, np.arange(FRAMES) * 2.0, frames.mean(axis=0), 2.0 * FRAMES))
    with StoreWriter(path) as writer:
        writer.set_tracks(table)
        writer.begin_encoder(meta)
        writer.add_embeddings(meta.spec, ids, embeddings, [0.0] * n_tracks)
        writer.commit()


#: ``counterpoint analyze STORE --label style --out OUT`` with the 2-D views given (the command line offers all three).
ANALYZE = ("import sys; from pathlib import Path; from counterpoint.config import AnalysisSettings; "
           "from counterpoint.pipeline import analyze_everything; analyze_everything(Path(sys.argv[1]), "
           "AnalysisSettings(label='style', reductions=tuple(sys.argv[3].split(','))), Path(sys.argv[2]))")


def run_measured(arguments: list[str], source: str) -> tuple[float, int]:
    """(wall seconds, peak RSS bytes) of :data:`ANALYZE` with ``ARGUMENTS`` in a fresh process importing ``source``."""
    command = [sys.executable, "-c", ANALYZE, *arguments]
    started = time.perf_counter()
    child = subprocess.Popen(command, env={**os.environ, "PYTHONPATH": source}, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    stderr = child.stderr.read().decode(errors="replace") if child.stderr else ""
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"analyze {' '.join(arguments)} failed:\n{stderr[-2000:]}")
    return seconds, usage.ru_maxrss * 1024


def sizes(out: Path) -> dict[str, float]:
    """MB of the page, its inlined scatter data, the whole folder and its largest SVG."""
    page = (out / "index.html").read_text(encoding="utf-8")
    data = re.search(r'<script type="application/json" id="cp-data">(.*?)</script>', page, re.S)
    files = [p for p in out.rglob("*") if p.is_file()]
    return {"page_mb": len(page.encode()) / 1e6, "scatter_data_mb": len(data.group(1).encode()) / 1e6 if data else 0.0,
            "folder_mb": sum(p.stat().st_size for p in files) / 1e6,
            "largest_svg_mb": max((p.stat().st_size for p in files if p.suffix == ".svg"), default=0) / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", default="2000,20000", help="track counts, comma-separated")
    parser.add_argument("--previous", type=Path, help="another version's src/ folder, measured side by side")
    parser.add_argument("--reductions", default="pca,tsne,umap",
                        help="2-D views, comma-separated (pca alone is fast; each view adds its share of the page)")
    parser.add_argument("--keep", type=Path, help="write the stores and reports here (default: a temporary folder)")
    args = parser.parse_args()
    sources = {"this": str(Path(__file__).resolve().parents[1] / "src")}
    if args.previous:
        sources["previous"] = str(args.previous.resolve())
    with tempfile.TemporaryDirectory() as temporary:
        folder = args.keep or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        rows = []
        for n_tracks in (int(n) for n in args.tracks.split(",")):
            store = folder / f"store_{n_tracks}.h5"
            if not store.exists():
                build_store(store, n_tracks)
            for version, source in sources.items():
                out = folder / f"report_{version}_{n_tracks}"
                seconds, rss = run_measured([str(store), str(out), args.reductions], source)
                rows.append({"version": version, "tracks": n_tracks, **sizes(out), "seconds": seconds,
                             "peak_rss_mb": rss / 1e6})
                print(pd.DataFrame(rows[-1:]).round(2).to_string(index=False, header=len(rows) == 1), flush=True)
    print(pd.DataFrame(rows).round(2).to_string(index=False))


if __name__ == "__main__":
    main()
