"""Files per second of the local engine with file-reading worker processes vs one reading thread.

Before the engine had workers, one thread read the next batch while the model embedded the
current one; decoding, resampling and spectrograms hold the GIL much of the time, so the
two mostly took turns. ``workers=0`` keeps that behaviour; the default forks one worker per
core. For each encoder this script embeds the same ``--n`` seeded tracks of CORPUS into a
fresh store both ways, in one process, checks that the two stores hold the same numbers,
and prints files/s side by side with the ratio. With ``--ray`` it also runs the Ray engine
on a local Ray instance (started before the clock; its actors' start-up and model loading
are inside its time, the local engine's model loading is not).

    python benchmarks/local_engine_workers.py [CORPUS] [--n 40] [--encoders audio-stats,musicnn] [--ray]

CORPUS defaults to /tmp/demo-base/corpus. The numbers depend on what else runs on the
machine; the ratio is the figure to compare.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from counterpoint.data.manifest import Manifest, load_manifest
from counterpoint.embed import embed_dataset
from counterpoint.engines.local import default_workers
from counterpoint.store import Store

DEFAULT_CORPUS = Path("/tmp/demo-base/corpus")


def files_per_second(manifest: Manifest, spec: str, store: Path, workers: int | None = None,
                     engine: str = "local") -> float:
    """Embed ``manifest`` with ``spec`` into a fresh ``store``; tracks per wall second of the run."""
    report = embed_dataset(manifest, store, [spec], workers=workers, engine=engine)
    run = report.runs[0]
    if run.failed:
        raise SystemExit(f"{spec}: {len(run.failed)} failures, e.g. {run.failed[0]}")
    return run.embedded / run.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS, help="dataset folder")
    parser.add_argument("--n", type=int, default=40, help="tracks to embed")
    parser.add_argument("--seed", type=int, default=0, help="seed of the track sample")
    parser.add_argument("--encoders", default="audio-stats,musicnn", help="comma-separated encoder specs")
    parser.add_argument("--ray", action="store_true", help="also time the Ray engine on a local Ray instance")
    args = parser.parse_args()
    if args.ray:
        from counterpoint.engines import ray as ray_engine

        ray_engine.connect(None)
    manifest = load_manifest(args.corpus)
    chosen = sorted(random.Random(args.seed).sample(range(len(manifest)), min(args.n, len(manifest))))
    subset = replace(manifest, tracks=[manifest.tracks[i] for i in chosen])
    workers = default_workers()
    print(f"{len(subset)} tracks of {args.corpus}; {workers} worker processes vs 1 reading thread")
    ray_header = f"{'ray files/s':>13}{'ratio':>8}" if args.ray else ""
    print(f"{'encoder':<16}{'thread files/s':>16}{'workers files/s':>17}{'ratio':>8}{ray_header}  same numbers")
    with tempfile.TemporaryDirectory() as folder:
        for spec in args.encoders.split(","):
            started = time.perf_counter()
            before = files_per_second(subset, spec, Path(folder) / f"{spec}-thread.h5", workers=0)
            after = files_per_second(subset, spec, Path(folder) / f"{spec}-workers.h5", workers=workers)
            kinds = ["thread", "workers"]
            ray_column = ""
            if args.ray:
                on_ray = files_per_second(subset, spec, Path(folder) / f"{spec}-ray.h5", engine="ray")
                kinds.append("ray")
                ray_column = f"{on_ray:>13.2f}{on_ray / before:>8.2f}"
            stores = [Store(Path(folder) / f"{spec}-{kind}.h5").pooled(spec) for kind in kinds]
            same = all(list(m.obs["id"]) == list(stores[0].obs["id"]) and np.array_equal(m.X, stores[0].X)
                       for m in stores)
            print(f"{spec:<16}{before:>16.2f}{after:>17.2f}{after / before:>8.2f}{ray_column}  {same} "
                  f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
