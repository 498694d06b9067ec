"""How close the musicnn encoder runs to its compute ceiling on this machine, in seconds of audio per wall second.

Times on the same files, in one process:

* decoding and resampling to 16 kHz alone (``load_audio``; the files are read once untimed
  first, so every stage finds them cached);
* the front end alone: decode, resample, mel spectrogram, patches (``prepare``);
* the ceiling: the network alone on those patches, all tracks' patches in passes side by side
  on the cores (``layer_outputs``);
* the whole path as ``counterpoint embed`` runs it (runner reading the next batch while the
  network works, store), with this version and with the previous one (the front end's BLAS
  at its own number of threads, fighting the network's threads).

Each line gives wall and CPU seconds, files/s, x real time and the ratio of its wall time to
the network's.

    python benchmarks/musicnn_throughput.py [FOLDER] [--n 50] [--threads 2] [--spec musicnn]

Without FOLDER it writes ``--n`` seeded 30-second 44.1-kHz stereo test WAVs into a temporary
folder; /tmp/demo-base/corpus/audio holds the demo's 22.05-kHz files.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from pathlib import Path

from audio_bench import Stage, benchmark_tracks, embed_through_runner, format_table, timed
from counterpoint.data.audio import load_audio
from counterpoint.encoders import musicnn
from counterpoint.encoders.registry import build_encoder


@contextlib.contextmanager
def previous_front_end() -> Iterator[None]:
    """The front end as the previous version ran it: the mel projection's BLAS at its own threads."""
    kept = musicnn.single_threaded_blas
    musicnn.single_threaded_blas = contextlib.nullcontext
    try:
        yield
    finally:
        musicnn.single_threaded_blas = kept


def measure(folder: Path | None, n: int, spec: str) -> tuple[list[Stage], Stage]:
    """Every stage on the same ``n`` files; returns the stages and the network's (the ceiling)."""
    encoder = build_encoder(spec)
    with benchmark_tracks(folder, n) as manifest:
        tracks = manifest.tracks
        encoder.embed(tracks[:1])  # load the weights, warm the cache and the libraries up, untimed
        for track in tracks:
            load_audio(track.audio_path, musicnn.SAMPLE_RATE, track_id=track.id)
        prepared: list[musicnn.PreparedAudio] = []

        def decode() -> float:
            return sum(len(load_audio(t.audio_path, musicnn.SAMPLE_RATE,
                                      track_id=t.id)) for t in tracks) / musicnn.SAMPLE_RATE

        def front_end() -> float:
            prepared[:] = [encoder.prepare(t) for t in tracks]
            return sum(p.duration for p in prepared)

        def network() -> float:
            encoder.layer_outputs([p.patches for p in prepared])
            return sum(p.duration for p in prepared)

        def whole_previous() -> float:
            with previous_front_end():
                return embed_through_runner(manifest, encoder)

        stages = [timed("decode + resample to 16 kHz", len(tracks), decode),
                  timed("front end (decode, resample, mel, patches)", len(tracks), front_end)]
        ceiling = timed(f"ceiling: network alone ({sum(len(p.patches) for p in prepared)} patches)", len(tracks), network)
        stages += [ceiling,
                   timed("whole path, this version (runner, read-ahead, store)", len(tracks),
                         lambda: embed_through_runner(manifest, encoder)),
                   timed("whole path, previous version", len(tracks), whole_previous)]
    return stages, ceiling


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, help="folder of audio files (default: generated 44.1-kHz test WAVs)")
    parser.add_argument("--n", type=int, default=50, help="number of tracks")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    parser.add_argument("--spec", default="musicnn", help="encoder spec, e.g. musicnn:model=MSD,layer=taggram")
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    stages, ceiling = measure(args.folder, args.n, args.spec)
    source = args.folder or "generated 44.1-kHz stereo test WAVs"
    print(format_table(f"{args.spec}: {args.n} tracks of {source}, torch threads {torch.get_num_threads()}", stages,
                       ceiling).replace("/ floor", "/ netw."))
    whole, previous = stages[-2:]
    print(f"  whole path: {whole.real_time_factor:.1f}x real time, {ceiling.wall_seconds / whole.wall_seconds:.0%} of the "
          f"network's speed; {previous.wall_seconds / whole.wall_seconds:.2f}x the previous version")


if __name__ == "__main__":
    main()
