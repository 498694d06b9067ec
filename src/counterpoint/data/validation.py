"""`counterpoint dataset check`: every problem of a dataset, found before hours of embedding.

The manifest already reports structural problems (missing columns, duplicate ids, missing
files, paths outside the root, broken links) and notes (unrecognised splits). This module
opens every file too: audio that cannot be decoded, is empty, truncated, holds no samples or
is silent, and MIDI that cannot be parsed or holds no notes. It also says how many files are
symbolic links and into which folders they lead.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from counterpoint.data.audio import load_audio
from counterpoint.data.manifest import Manifest, Problem, Track
from counterpoint.data.midi import load_pretty_midi
from counterpoint.errors import TrackError


@dataclass
class DatasetReport:
    """Counts and problems of a dataset."""

    root: str
    layout: str
    n_tracks: int
    n_pairs: int
    n_audio_only: int
    n_midi_only: int
    label_counts: dict[str, dict[str, int]]
    split_counts: dict[str, int]
    problems: list[Problem]
    notes: list[Problem] = field(default_factory=list)
    #: Files reached through a symbolic link, and how many of them lie outside the root.
    n_linked: int = 0
    n_linked_outside: int = 0
    #: The folder each linked file really lies in → how many linked files lie there.
    link_targets: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def _as_problem(track: Track, path, error: TrackError) -> Problem:
    """Split a TrackError message "track 'x' (path): problem — fix" into its parts."""
    message = str(error).split(f"({path}): ", 1)[-1]
    problem, _, fix = message.partition(" — ")
    return Problem(track.id, str(path), problem, fix or "replace the file or remove the track")


def _file_problems(track: Track) -> list[Problem]:
    found = []
    if track.audio_path is not None:
        try:
            load_audio(track.audio_path, sample_rate=None, track_id=track.id)
        except TrackError as exc:
            found.append(_as_problem(track, track.audio_path, exc))
    if track.midi_path is not None:
        try:
            load_pretty_midi(track.midi_path, track_id=track.id)
        except TrackError as exc:
            found.append(_as_problem(track, track.midi_path, exc))
    return found


def check_dataset(manifest: Manifest, open_files: bool = True, workers: int = 2,
                  progress: Callable[[int, int], None] | None = None) -> DatasetReport:
    """Count tracks, pairs, labels and splits, and list every problem (opening each file)."""
    problems = list(manifest.problems)
    if open_files:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for done, found in enumerate(pool.map(_file_problems, manifest.tracks), start=1):
                problems.extend(found)
                if progress:
                    progress(done, len(manifest))
    link_targets = Counter(str(link.target.parent) for link in manifest.links)
    label_counts = {column: dict(Counter(t.labels.get(column, "") for t in manifest).most_common())
                    for column in manifest.label_columns}
    return DatasetReport(
        root=str(manifest.root), layout=manifest.layout, n_tracks=len(manifest),
        n_pairs=sum(t.is_paired for t in manifest),
        n_audio_only=sum(t.audio_path is not None and t.midi_path is None for t in manifest),
        n_midi_only=sum(t.midi_path is not None and t.audio_path is None for t in manifest),
        label_counts=label_counts, split_counts=dict(Counter(t.split or "(none)" for t in manifest)),
        problems=problems, notes=list(manifest.notes), n_linked=len(manifest.links),
        n_linked_outside=sum(not link.target.is_relative_to(manifest.root) for link in manifest.links),
        link_targets=dict(link_targets.most_common()),
    )
