"""What `run` pays before embedding to say the dataset check's warnings, against `dataset check` itself.

`run` calls :func:`counterpoint.data.validation.dataset_warnings` (audio durations from the files'
headers, MIDI parsed for its end time, no audio decoded); `dataset check` calls
:func:`~counterpoint.data.validation.check_dataset`, which decodes every audio file. Both run twice,
interleaved, so the second round reads files the page cache holds; the table gives each one's wall
seconds and its ratio to `dataset_warnings`, and the MIDI parsing and header reading alone.

    python benchmarks/dataset_warnings.py demo-output/corpus

Peak memory: run it under ``/usr/bin/time -v``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from counterpoint.data.audio import audio_duration
from counterpoint.data.manifest import load_manifest
from counterpoint.data.midi import load_pretty_midi
from counterpoint.data.validation import check_dataset, dataset_warnings


def seconds(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", help="dataset folder (info.csv or class folders), e.g. the demo corpus")
    args = parser.parse_args()
    manifest = load_manifest(args.root)
    paired = [t for t in manifest if t.is_paired]
    audio_duration(paired[0].audio_path)  # librosa's import, outside the timings
    rows = []
    for round_ in (1, 2):
        rows.append((f"dataset_warnings (run), round {round_}", seconds(lambda: dataset_warnings(manifest))))
        rows.append((f"check_dataset (dataset check), round {round_}", seconds(lambda: check_dataset(manifest))))
    rows.append(("audio headers only, one thread", seconds(lambda: [audio_duration(t.audio_path) for t in paired])))
    rows.append(("MIDI parsing only, one thread", seconds(lambda: [load_pretty_midi(t.midi_path) for t in paired])))
    floor = rows[2][1]
    print(f"{len(manifest)} tracks, {len(paired)} paired")
    for label, wall in rows:
        print(f"{label:45s} {wall:7.2f} s  {wall / floor:5.2f}x")


if __name__ == "__main__":
    main()
