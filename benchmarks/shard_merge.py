"""Cost of `store merge`: merging N shards, and merging one more shard into a store that grows.

Writes N synthetic shard stores (``--tracks`` in all, split by the shard rule; pooled + frames
like symbolic-stats: D=137, 3 frames per track), as ``embed --shard i/N`` would record them, then
measures, each in a subprocess of its own (so its peak RSS is the merge's):

- merging all N shards into a new store, beside writing the same rows into one store directly
  (the store's own writer, one process: what an unsharded run's writer does);
- merging the last shard into a store that holds the N−1 others, beside merging it into an empty
  store: the ratio says whether a merge costs what it adds (1×) or what the store holds.

    python benchmarks/shard_merge.py                        # 20,000 tracks in 4 shards
    python benchmarks/shard_merge.py --tracks 100000 --shards 8
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

DIM, FRAMES, SPEC = 137, 3, "bench-stats"


def _table(count: int) -> pd.DataFrame:
    return pd.DataFrame({"id": [f"piece/{i:08d}" for i in range(count)], "audio_filename": "",
                         "midi_filename": [f"piece/{i:08d}.mid" for i in range(count)], "split": "", "group": ""})


def _write(path: Path, table: pd.DataFrame, ids: list[str], provenance: dict[str, str]) -> None:
    """A store of ``table`` holding synthetic embeddings of ``ids`` (seeded by id, so every copy is the same)."""
    from counterpoint.encoders.base import Embedding
    from counterpoint.store import EncoderMeta, StoreWriter

    meta = EncoderMeta(SPEC, SPEC, "symbolic", DIM, {"name": SPEC})
    with StoreWriter(path, provenance=provenance) as writer:
        writer.set_tracks(table)
        writer.begin_encoder(meta)
        for start in range(0, len(ids), 5000):
            batch = ids[start:start + 5000]
            embeddings = []
            for track_id in batch:
                x = np.random.default_rng(int(track_id.split("/")[1])).standard_normal((FRAMES, DIM)).astype(np.float32)
                embeddings.append(Embedding(x, np.arange(FRAMES) * 2.0, x.mean(axis=0), 30.0))
            writer.add_embeddings(SPEC, batch, embeddings, [0.0] * len(batch))
            writer.commit()


def _timed(code: str) -> dict:
    """Run ``code`` in a fresh interpreter: its wall seconds, peak RSS and bytes written (wchar)."""
    script = ("import json, resource, time\n"
              "def wchar():\n    return next(int(l.split()[1]) for l in open('/proc/self/io') if l.startswith('wchar'))\n"
              f"started, written = time.perf_counter(), wchar()\n{code}\n"
              "print(json.dumps({'seconds': time.perf_counter() - started, 'written': wchar() - written, "
              "'peak_rss': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))")
    result = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure(tracks: int, shards: int, folder: Path) -> dict:
    from counterpoint.shards import Shard, manifest_fingerprint, shard_ids

    table = _table(tracks)
    fingerprint = manifest_fingerprint(table)
    paths = []
    for i in range(shards):
        paths.append(folder / f"part-{i}.h5")
        _write(paths[-1], table, shard_ids(table["id"], Shard(i, shards)),
               {"shard": f"{i}/{shards}", "manifest_fingerprint": fingerprint})
    bench = Path(__file__).resolve()
    direct = _timed(f"import sys; sys.path.insert(0, {str(bench.parent)!r}); from shard_merge import _write, _table\n"
                    f"t = _table({tracks}); _write(__import__('pathlib').Path({str(folder / 'direct.h5')!r}), t, "
                    "list(t['id']), {})")
    merge = "from counterpoint.store_merge import merge_stores\nmerge_stores({shards!r}, {out!r})"
    whole = _timed(merge.format(shards=[str(p) for p in paths], out=str(folder / "merged.h5")))
    shutil.copyfile(folder / "merged.h5", folder / "merged-check.h5")
    _timed(merge.format(shards=[str(p) for p in paths[:-1]], out=str(folder / "grown.h5")))
    last_into_grown = _timed(merge.format(shards=[str(paths[-1])], out=str(folder / "grown.h5")))
    last_into_empty = _timed(merge.format(shards=[str(paths[-1])], out=str(folder / "alone.h5")))
    return {"tracks": tracks, "shards": shards, "direct": direct, "merge_all": whole,
            "last_shard_tracks": len(shard_ids(table["id"], Shard(shards - 1, shards))),
            "last_into_grown": last_into_grown, "last_into_empty": last_into_empty,
            "store_bytes": (folder / "merged.h5").stat().st_size}


def report(result: dict) -> str:
    d, m, g, e = result["direct"], result["merge_all"], result["last_into_grown"], result["last_into_empty"]
    mb = 1e6
    return "\n".join([
        f"{result['tracks']:,} tracks (D={DIM}, {FRAMES} frames each) in {result['shards']} shards; merged store "
        f"{result['store_bytes'] / mb:.1f} MB",
        f"{'':44} {'seconds':>8} {'tracks/s':>9} {'MB written':>11} {'peak RSS MB':>12}",
        *(f"{name:44} {r['seconds']:>8.2f} {n / r['seconds']:>9,.0f} {r['written'] / mb:>11.1f} {r['peak_rss'] / mb:>12.0f}"
          for name, r, n in [("one writer, all rows (no shards)", d, result["tracks"]),
                             (f"merge of the {result['shards']} shards into a new store", m, result["tracks"]),
                             ("last shard into a store of the others", g, result["last_shard_tracks"]),
                             ("last shard into an empty store", e, result["last_shard_tracks"])]),
        f"merge / one writer: {m['seconds'] / d['seconds']:.2f}x time; last shard into the grown store / into an "
        f"empty one: {g['seconds'] / e['seconds']:.2f}x time, {g['written'] / e['written']:.2f}x bytes written "
        f"(the grown store holds {result['shards'] - 1}x the shard's tracks)",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", type=int, default=20_000)
    parser.add_argument("--shards", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        print(report(measure(args.tracks, args.shards, Path(folder))))


if __name__ == "__main__":
    main()
