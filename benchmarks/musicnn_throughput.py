"""How fast the musicnn encoder embeds audio on this machine: seconds of audio per wall second.

The whole path is timed — decode, resample to 16 kHz, mel spectrogram, network — once per
file (one ``embed_prepared`` call per track) and batched (the patches of ``--batch`` tracks
go through the network together, as the embedding runner does). Also timed separately: the front end alone
and the network alone, so the report says where the time goes.

    python benchmarks/musicnn_throughput.py [FOLDER] [--n 50] [--batch 8] [--threads 2]

Without FOLDER it writes ``--n`` seeded 30-second test WAVs (44.1 kHz stereo tones with
harmonics, vibrato, noise bursts and silence gaps) into a temporary folder. The numbers
depend on what else runs on the machine: on a shared machine they are pessimistic.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from counterpoint.data.manifest import AUDIO_EXTENSIONS, Track


@dataclass
class Throughput:
    """One timed configuration: seconds of audio handled and the wall seconds it took."""

    label: str
    audio_seconds: float
    wall_seconds: float

    @property
    def real_time_factor(self) -> float:
        return self.audio_seconds / self.wall_seconds


def write_test_tracks(folder: Path, count: int, seconds: float = 30.0, sample_rate: int = 44100, seed: int = 0) -> list[Path]:
    """``count`` stereo WAVs of musical test signal (random chords of harmonic tones)."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    paths = []
    for i in range(count):
        signal = np.zeros_like(t)
        for _ in range(4):
            f0 = 110.0 * 2 ** (rng.integers(0, 36) / 12)
            vibrato = 1 + 0.003 * np.sin(2 * np.pi * rng.uniform(4, 7) * t)
            for harmonic in range(1, 6):
                signal += np.sin(2 * np.pi * f0 * harmonic * vibrato * t + rng.uniform(0, 2 * np.pi)) / harmonic
        envelope = (np.sin(2 * np.pi * rng.uniform(0.5, 2) * t) > -0.8).astype(float)
        signal = signal * envelope + 0.05 * rng.standard_normal(len(t)) * (rng.uniform() < 0.5)
        signal = 0.2 * signal / np.max(np.abs(signal))
        stereo = np.stack([signal, np.roll(signal, 7)], axis=1).astype(np.float32)
        path = folder / f"test_{i:03d}.wav"
        sf.write(path, stereo, sample_rate)
        paths.append(path)
    return paths


def time_per_file(encoder, tracks: list[Track]) -> Throughput:
    start = time.perf_counter()
    seconds = sum(encoder.embed_prepared([encoder.prepare(t)])[0].duration for t in tracks)
    return Throughput("per file (one embed call per track)", seconds, time.perf_counter() - start)


def time_batched(encoder, tracks: list[Track], batch: int) -> Throughput:
    start = time.perf_counter()
    seconds = 0.0
    for first in range(0, len(tracks), batch):
        prepared = [encoder.prepare(t) for t in tracks[first:first + batch]]
        seconds += sum(e.duration for e in encoder.embed_prepared(prepared))
    return Throughput(f"batched ({batch} tracks per embed call)", seconds, time.perf_counter() - start)


def time_stages(encoder, tracks: list[Track]) -> list[Throughput]:
    """Front end alone (decode, resample, mel, patches) and network alone on the same tracks."""
    start = time.perf_counter()
    prepared = [encoder.prepare(t) for t in tracks]
    front = time.perf_counter() - start
    patches = [p.patches for p in prepared]
    start = time.perf_counter()
    encoder.layer_outputs(patches)
    network = time.perf_counter() - start
    seconds = sum(p.duration for p in prepared)
    return [Throughput("front end only (decode, resample, mel)", seconds, front),
            Throughput(f"network only ({sum(len(p) for p in patches)} patches)", seconds, network)]


def measure(folder: Path | None, n: int, batch: int, spec: str) -> list[Throughput]:
    from counterpoint.encoders.registry import build_encoder

    with tempfile.TemporaryDirectory() as scratch:
        if folder is None:
            paths = write_test_tracks(Path(scratch), n)
        else:
            paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS)[:n]
            if not paths:
                raise SystemExit(f"{folder}: no audio files ({', '.join(AUDIO_EXTENSIONS)}) found")
        tracks = [Track(p.stem, p, None) for p in paths]
        encoder = build_encoder(spec)
        encoder.embed(tracks[:1])  # load the weights and warm up the libraries once, untimed
        return [time_per_file(encoder, tracks), time_batched(encoder, tracks, batch), *time_stages(encoder, tracks)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, help="folder of audio files (default: generated test WAVs)")
    parser.add_argument("--n", type=int, default=50, help="number of tracks")
    parser.add_argument("--batch", type=int, default=8, help="tracks per batch in batched mode")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    parser.add_argument("--spec", default="musicnn", help="encoder spec, e.g. musicnn:model=MSD,layer=taggram")
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    results = measure(args.folder, args.n, args.batch, args.spec)
    print(f"{args.spec}: {args.n} tracks, torch threads {torch.get_num_threads()}")
    for result in results:
        print(f"  {result.label:45s} {result.audio_seconds:8.1f} s audio in {result.wall_seconds:7.1f} s wall "
              f"= {result.real_time_factor:6.1f}x real time")


if __name__ == "__main__":
    main()
