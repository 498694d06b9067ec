"""How fast ``symbolic-stats`` embeds MIDI files, against parsing alone and the previous implementation.

Three configurations run side by side in one process on the same files, ``--rounds`` times in
turn (the best round of each counts, so a busy moment on a shared machine hurts less):

* **parse only**: ``symusic.Score(path)``, the floor: reading the file and nothing else;
* **symbolic-stats**: the encoder as the embedding runner calls it (read the file, every
  window and the whole piece);
* **previous**: the implementation before issue 12 (pretty_midi, one ``describe`` per window),
  kept in ``tests/symbolic_stats_previous.py``.

It prints files per second for each, the ratios new / previous and new / parse-only, and the
largest difference between the new and the previous descriptors (float32, as stored).

    python benchmarks/symbolic_stats_throughput.py [CORPUS] [--n 200] [--rounds 3]

CORPUS is a folder searched recursively for ``.mid``/``.midi`` files (e.g. a demo corpus);
without it, ``--n`` seeded generated pieces (those of the equivalence test) are written to a
temporary folder.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


@dataclass
class Timing:
    """One configuration: its label and the wall seconds of its best round over ``files`` files."""

    label: str
    files: int
    seconds: float

    @property
    def files_per_second(self) -> float:
        return self.files / self.seconds


def midi_files(corpus: Path | None, count: int, folder: Path) -> list[Path]:
    """The first ``count`` MIDI files of ``corpus`` (sorted), or ``count`` generated pieces in ``folder``."""
    if corpus is None:
        from test_symbolic_stats import write_random_piece

        return [write_random_piece(folder / f"piece{seed:04d}.mid", seed) for seed in range(count)]
    paths = sorted(p for p in corpus.rglob("*") if p.suffix.lower() in (".mid", ".midi"))
    if not paths:
        raise SystemExit(f"no .mid/.midi files under {corpus}")
    return paths[:count]


def time_rounds(configurations: dict[str, Callable[[Path], Any]], paths: list[Path], rounds: int) -> tuple[list[Timing], dict[str, list[Any]]]:
    """Run every configuration over ``paths``, in turn, ``rounds`` times: the best round of
    each, and each one's outputs of its last round."""
    best = {label: np.inf for label in configurations}
    outputs: dict[str, list[Any]] = {}
    for _ in range(rounds):
        for label, run in configurations.items():
            start = time.perf_counter()
            outputs[label] = [run(path) for path in paths]
            best[label] = min(best[label], time.perf_counter() - start)
    return [Timing(label, len(paths), seconds) for label, seconds in best.items()], outputs


def largest_difference(new: list[Any], previous: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> float:
    """Largest |new - previous| over every frame and pooled value, both as float32."""
    return max(max(np.abs(embedding.frames - frames.astype(np.float32)).max(initial=0.0),
                   np.abs(embedding.pooled - pooled.astype(np.float32)).max())
               for embedding, (frames, _, pooled) in zip(new, previous))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?", type=Path, help="folder of MIDI files (default: generated pieces)")
    parser.add_argument("--n", type=int, default=200, help="files to embed")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each configuration; the best counts")
    args = parser.parse_args()

    import symusic
    from symbolic_stats_previous import previous_embedding

    from counterpoint.data.manifest import Track
    from counterpoint.encoders.registry import build_encoder

    encoder = build_encoder("symbolic-stats")
    window, hop = encoder.params["window"], encoder.params["hop"]

    def embed(path: Path) -> Any:
        [embedding] = encoder.embed_prepared([encoder.prepare(Track(id=path.stem, audio_path=None, midi_path=path))])
        return embedding

    configurations = {
        "parse only (symusic)": lambda path: symusic.Score(path),
        "symbolic-stats": embed,
        "previous (pretty_midi)": lambda path: previous_embedding(path, window, hop),
    }
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pretty_midi's warnings about odd files
        paths = midi_files(args.corpus, args.n, Path(folder))
        for path in paths:  # the files in the page cache before anything is timed
            path.read_bytes()
        timings, outputs = time_rounds(configurations, paths, args.rounds)
        source = args.corpus or "generated pieces"
        print(f"{len(paths)} MIDI files ({source}), best of {args.rounds} rounds, window={window} s, hop={hop} s")
        for timing in timings:
            print(f"  {timing.label:<24} {timing.files_per_second:9.1f} files/s  {1e3 / timing.files_per_second:8.3f} ms/file")
        parse, new, previous = timings
        print(f"  new / previous: {previous.seconds / new.seconds:.1f}x faster")
        print(f"  new / parse only: {new.seconds / parse.seconds:.1f}x the parse time")
        print(f"  largest |new - previous| descriptor value: {largest_difference(outputs['symbolic-stats'], outputs['previous (pretty_midi)']):.3g}")


if __name__ == "__main__":
    main()
