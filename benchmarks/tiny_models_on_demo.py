"""The tiny models of every weight-needing encoder on real tracks: does each one run, how fast.

Writes the tiny models of ``tests/tiny_models.py`` (published file layouts, loaded through
the official code path) into a temporary folder, picks ``--n`` tracks of CORPUS (seeded),
runs :func:`counterpoint.embed.embed_dataset` with all of them plus ``symbolic-stats`` into
a temporary store, and prints per encoder: tracks embedded, failures, wall seconds and the
real-time factor (seconds of input audio or MIDI per wall second). Tiny models are much
faster than the real ones except OpenL3, whose network is full size; the numbers show that
the pipeline around the models works on real files, not how fast the real models are.

    python benchmarks/tiny_models_on_demo.py [CORPUS] [--n 20] [--seed 0] [--threads 1]

CORPUS defaults to /work/demo-corpus (210 paired 30-s tracks) when it exists.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from counterpoint.data.manifest import load_manifest  # noqa: E402
from counterpoint.embed import embed_dataset  # noqa: E402
from counterpoint.store import Store  # noqa: E402
from tiny_models import write_tiny_models  # noqa: E402

DEFAULT_CORPUS = Path("/work/demo-corpus")


def run_tiny_models(corpus: Path, n: int, seed: int, workdir: Path) -> pd.DataFrame:
    """Embed ``n`` seeded tracks of ``corpus`` with every tiny model; one row per encoder."""
    manifest = load_manifest(corpus)
    chosen = sorted(random.Random(seed).sample(range(len(manifest)), min(n, len(manifest))))
    subset = replace(manifest, tracks=[manifest.tracks[i] for i in chosen])
    specs = [model.spec for model in write_tiny_models(workdir / "models").values()] + ["symbolic-stats"]
    report = embed_dataset(subset, workdir / "tiny.h5", specs)
    store = Store(report.store)
    rows = []
    for run in report.runs:
        record = store.encoder(run.spec)
        rows.append({"encoder": record.name, "modality": record.modality, "dim": record.dim,
                     "embedded": run.embedded, "failures": len(run.failed), "seconds": run.seconds,
                     "input_seconds": record.input_seconds,
                     "x_real_time": record.input_seconds / run.seconds if run.seconds else float("nan"),
                     "first_failure": run.failed[0][2] if run.failed else ""})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS, help="dataset folder")
    parser.add_argument("--n", type=int, default=20, help="tracks to embed")
    parser.add_argument("--seed", type=int, default=0, help="seed of the track sample")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        parser.error(f"no dataset folder {args.corpus} — give CORPUS (an info.csv or class-folder dataset)")
    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as workdir:
        table = run_tiny_models(args.corpus, args.n, args.seed, Path(workdir))
    print(f"{args.n} tracks of {args.corpus} (seed {args.seed}), {args.threads} torch thread(s)")
    print(table.drop(columns="first_failure").to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    for row in table[table["failures"] > 0].itertuples():
        print(f"{row.encoder}: first failure: {row.first_failure}")


if __name__ == "__main__":
    main()
