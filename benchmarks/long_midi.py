"""Time and peak memory of reading and embedding one long MIDI file with ``symbolic-stats``.

A valid 5-hour piece at 480 ticks per quarter note and 120 BPM reaches 1.7e7 ticks (a length the
readers once refused as "likely corrupt"); each density is embedded in its own process, so the
peak RSS printed is that of one file:

    python benchmarks/long_midi.py [--hours 5] [--notes-per-beat 0.125 1 8]

Printed per density: notes, file size, seconds to check and parse (:func:`load_score`), seconds
to embed (read, every 4-s window and the whole piece), frames, and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mido


def write_piece(path: Path, hours: float, notes_per_beat: float) -> int:
    """A one-track piece at 120 BPM lasting ``hours``: chords of up to 4 notes, ``notes_per_beat`` notes a beat."""
    ticks_per_beat = 480
    beats = int(hours * 3600 * 2)
    chord = max(1, min(4, int(notes_per_beat)))
    step = max(1, round(ticks_per_beat * chord / notes_per_beat))
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500_000)])
    notes, tick = 0, 0
    while tick < beats * ticks_per_beat:
        pitches = [48 + (notes + k * 4) % 36 for k in range(chord)]
        track += [mido.Message("note_on", note=p, velocity=80, time=0) for p in pitches]
        track += [mido.Message("note_off", note=p, time=step if k == 0 else 0) for k, p in enumerate(pitches)]
        notes, tick = notes + chord, tick + step
    midi = mido.MidiFile(ticks_per_beat=ticks_per_beat)
    midi.tracks.append(track)
    midi.save(str(path))
    return notes


def measure(path: str) -> dict:
    from counterpoint.data.manifest import Track
    from counterpoint.data.midi import load_score
    from counterpoint.encoders.symbolic_stats import SymbolicStatsEncoder

    start = time.perf_counter()
    load_score(path)
    parsed = time.perf_counter() - start
    start = time.perf_counter()
    [embedding] = SymbolicStatsEncoder().embed([Track(id="long", audio_path=None, midi_path=Path(path))])
    embedded = time.perf_counter() - start
    return {"parse_s": parsed, "embed_s": embedded, "frames": int(embedding.frames.shape[0]),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=5.0)
    parser.add_argument("--notes-per-beat", type=float, nargs="+", default=[0.125, 1.0, 8.0])
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    with tempfile.TemporaryDirectory() as folder:
        print(f"{'notes/beat':>10} {'notes':>9} {'MB':>6} {'parse s':>8} {'embed s':>8} {'frames':>7} {'peak RSS MB':>11}")
        for density in args.notes_per_beat:
            path = Path(folder) / f"long-{density:g}.mid"
            notes = write_piece(path, args.hours, density)
            result = json.loads(subprocess.run([sys.executable, __file__, "--measure", str(path)], check=True,
                                               capture_output=True, text=True).stdout)
            print(f"{density:>10g} {notes:>9} {path.stat().st_size / 1e6:>6.1f} {result['parse_s']:>8.2f} "
                  f"{result['embed_s']:>8.2f} {result['frames']:>7} {result['peak_rss_mb']:>11.0f}")


if __name__ == "__main__":
    main()
