"""How close ``audio-stats`` runs to its floor, decoding and resampling the audio, on this machine.

Times on the same files, in one process:

* the floor: decode and resample every file to 22.05 kHz (``load_audio``, what every audio
  encoder pays; the files are read once untimed first, so every stage finds them cached);
* the whole path as ``counterpoint embed`` runs it (runner, read-ahead thread, store), with
  this version and with the previous one (code version 1: one librosa function per
  descriptor, the tracks of a batch one after another, BLAS left at its own threads);
* the descriptors alone on the decoded waveforms, both versions.

Each line gives wall and CPU seconds, files/s, x real time and the ratio to the floor; the
last lines give this version's speed-up over the previous one.

    python benchmarks/audio_stats_throughput.py [FOLDER] [--n 120] [--spec audio-stats]

Without FOLDER it writes ``--n`` seeded 30-second 44.1-kHz stereo test WAVs into a temporary
folder; /tmp/demo-base/corpus/audio holds the demo's 22.05-kHz mono files (nothing to resample).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from audio_bench import Stage, benchmark_tracks, embed_through_runner, format_table, timed
from counterpoint.data.audio import load_audio
from counterpoint.encoders.audio_stats import AudioStatsEncoder, reference_frame_descriptors, reference_tempogram_means
from counterpoint.encoders.registry import build_encoder


class PreviousAudioStats(AudioStatsEncoder):
    """audio-stats as code version 1 ran it: every descriptor from its own librosa function (the
    tempogram too), summarised where the runner embeds, BLAS at its own number of threads."""

    def prepare_waveform(self, waveform: np.ndarray, source: str):
        return reference_frame_descriptors(np.asarray(waveform, dtype=np.float32), self.sample_rate,
                                           n_mels=int(self.params["n_mels"]), n_mfcc=int(self.params["n_mfcc"]))

    def prepare_stream(self, pieces, source: str):
        """The runner reads long files in pieces; version 1 took the whole waveform."""
        return self.prepare_waveform(np.concatenate(list(pieces)), source)

    def embed_prepared(self, inputs):
        return [self.summarised(frames, reference_tempogram_means) for frames in inputs]


def measure(folder: Path | None, n: int, spec: str) -> tuple[list[Stage], Stage]:
    """Every stage on the same ``n`` files; returns the stages and the floor among them."""
    encoder = build_encoder(spec)
    previous = PreviousAudioStats(**encoder.params)
    with benchmark_tracks(folder, n) as manifest:
        tracks = manifest.tracks
        # warm the cache, untimed
        waveforms = [load_audio(t.audio_path, encoder.sample_rate, track_id=t.id) for t in tracks]
        seconds = sum(len(w) for w in waveforms) / encoder.sample_rate
        for model in (previous, encoder):  # warm the libraries up, untimed
            model.embed_prepared([model.prepare_waveform(waveforms[0], "warm-up")])

        def decode() -> float:
            return sum(len(load_audio(t.audio_path, encoder.sample_rate,
                                      track_id=t.id)) for t in tracks) / encoder.sample_rate

        def descriptors(model: AudioStatsEncoder) -> float:
            for first in range(0, len(waveforms), model.batch_size):
                model.embed_prepared([model.prepare_waveform(w, "benchmark")
                                      for w in waveforms[first:first + model.batch_size]])
            return seconds

        floor = timed(f"floor: decode + resample to {encoder.sample_rate} Hz", len(tracks), decode)
        stages = [
            floor,
            timed("whole path, this version (runner, read-ahead, store)", len(tracks),
                  lambda: embed_through_runner(manifest, encoder)),
            timed("whole path, previous version", len(tracks), lambda: embed_through_runner(manifest, previous)),
            timed("descriptors alone, this version", len(tracks), lambda: descriptors(encoder)),
            timed("descriptors alone, previous version", len(tracks), lambda: descriptors(previous)),
        ]
    return stages, floor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, help="folder of audio files (default: generated 44.1-kHz test WAVs)")
    parser.add_argument("--n", type=int, default=120, help="number of tracks (120: the size the throughput issue measured)")
    parser.add_argument("--spec", default="audio-stats", help="encoder spec, e.g. audio-stats:hop=1.0")
    args = parser.parse_args()
    stages, floor = measure(args.folder, args.n, args.spec)
    source = args.folder or "generated 44.1-kHz stereo test WAVs"
    print(format_table(f"{args.spec}: {args.n} tracks of {source}", stages, floor))
    whole, whole_before, alone, alone_before = stages[1:]
    print(f"  speed-up over the previous version: whole path {whole_before.wall_seconds / whole.wall_seconds:.2f}x, "
          f"descriptors alone {alone_before.wall_seconds / alone.wall_seconds:.2f}x")


if __name__ == "__main__":
    main()
