"""What recording a track's source identity costs next to embedding it.

Every embedded file is read once more for its SHA-256 digest (:mod:`counterpoint.sources`), in
the worker that reads it to embed it; a resume only stats files whose path, size and mtime
match the record. This writes a 30-s WAV (44.1 kHz stereo, 16-bit) and a MIDI file, and prints
side by side the seconds of: the digest, a resume's check of an unchanged file (stat only), of
a touched one (stat + digest), and the preparation + embedding of the file by audio-stats and by
symbolic-stats, with the digest's share of each.

    python benchmarks/source_digest.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from conftest import write_midi  # noqa: E402

from counterpoint.data.manifest import Track  # noqa: E402
from counterpoint.encoders.registry import build_encoder  # noqa: E402
from counterpoint.sources import FileState, file_digest, is_changed  # noqa: E402


def best(repeat: int, work) -> float:
    """The least wall seconds of ``repeat`` runs (the page cache holds the file after the first)."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        wav, mid = Path(folder) / "a.wav", Path(folder) / "a.mid"
        rng = np.random.default_rng(0)
        sf.write(wav, (0.1 * rng.standard_normal((30 * 44100, 2))).astype(np.float32), 44100, subtype="PCM_16")
        write_midi(mid, [60 + i % 12 for i in range(240)], step=0.125)
        recorded = {path: FileState.read(path).identity(0, path.name) for path in (wav, mid)}
        rows = []
        for spec, path, track in (("audio-stats", wav, Track("a", wav, None, {})),
                                  ("symbolic-stats", mid, Track("a", None, mid, {}))):
            encoder = build_encoder(spec)
            encoder.load()
            embed = best(args.repeat, lambda: encoder.embed_prepared([encoder.prepare(track)]))
            digest = best(args.repeat, lambda: file_digest(path))
            unchanged = best(args.repeat, lambda: is_changed(recorded[path], 0, path.name, path=path))
            os.utime(path)
            touched = best(args.repeat, lambda: is_changed(recorded[path], 0, path.name, path=path))
            rows.append((spec, path.stat().st_size, digest, unchanged, touched, embed))
    print(f"{'encoder':<15} {'bytes':>10} {'digest s':>9} {'resume: same s':>15} {'resume: touched s':>18} "
          f"{'prepare+embed s':>16} {'digest/embed':>13}")
    for spec, size, digest, unchanged, touched, embed in rows:
        print(f"{spec:<15} {size:>10,} {digest:>9.5f} {unchanged:>15.6f} {touched:>18.5f} {embed:>16.4f} "
              f"{digest / embed:>12.2%}")


if __name__ == "__main__":
    main()
