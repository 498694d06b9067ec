"""`counterpoint dataset check`: every problem of a dataset, found before hours of embedding.

The manifest already reports structural problems (missing columns, duplicate ids, missing
files, paths outside the root, broken links) and notes (unrecognised splits). This module
opens every file too: audio that cannot be decoded, is empty, truncated, holds no samples or
is silent, and MIDI that cannot be parsed or holds no notes. It also says how many files are
symbolic links and into which folders they lead.

Warnings leave every track in but point at something that would mislead later stages: a
pair whose audio and MIDI durations disagree by more than a tolerance (default
max(2 s, 5 %): probably not the same performance, or a cut excerpt), a given split that
puts one group on both sides (a leak; :func:`write_resplit` recomputes the splits grouped),
and a class-folder dataset whose root holds a metadata file that was ignored.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from counterpoint.data.audio import audio_duration, load_audio
from counterpoint.data.manifest import Manifest, Problem, Track
from counterpoint.data.midi import midi_duration
from counterpoint.data.tolerance import DurationTolerance
from counterpoint.errors import CounterpointError, TrackError
from counterpoint.progress import ProgressCallback

#: Files at the root of a class-folder dataset that look like metadata it would ignore.
METADATA_SUFFIXES = (".csv", ".tsv", ".json", ".yaml", ".yml")


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
    #: Remarks that keep every track but would mislead later stages (durations, leaking splits, ignored metadata).
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _as_problem(track: Track, path, error: TrackError) -> Problem:
    """Split a TrackError message "track 'x' (path): problem — fix" into its parts."""
    message = str(error).split(f"({path}): ", 1)[-1]
    problem, _, fix = message.partition(" — ")
    return Problem(track.id, str(path), problem, fix or "replace the file or remove the track")


def _file_problems(track: Track, tolerance: DurationTolerance) -> tuple[list[Problem], Problem | None]:
    """The problems of the track's files, and a warning when a pair's durations disagree."""
    found = []
    audio_s = midi_s = None
    if track.audio_path is not None:
        try:
            load_audio(track.audio_path, sample_rate=None, track_id=track.id)
            audio_s = audio_duration(track.audio_path)
        except TrackError as exc:
            found.append(_as_problem(track, track.audio_path, exc))
    if track.midi_path is not None:
        try:
            midi_s = midi_duration(track.midi_path, track_id=track.id)
        except TrackError as exc:
            found.append(_as_problem(track, track.midi_path, exc))
    return found, duration_warning(track, audio_s, midi_s, tolerance=tolerance)


def duration_warning(track: Track, audio_s: float | None, midi_s: float | None,
                     *, tolerance: DurationTolerance) -> Problem | None:
    """A warning when a pair's audio and MIDI last longer apart (seconds) than ``tolerance`` allows."""
    if audio_s is None or midi_s is None or tolerance.allows(audio_s, midi_s):
        return None
    return Problem(track.id, str(track.midi_path),
                   f"audio lasts {audio_s:.1f} s but the MIDI {midi_s:.1f} s (more than "
                   f"max({tolerance.seconds:g} s, {tolerance.fraction:.0%}) apart)",
                   "check that both files are the same performance and uncut, or widen --duration-tolerance")


def _pair_duration_warning(track: Track, tolerance: DurationTolerance) -> Problem | None:
    """:func:`duration_warning` of a pair from the audio file's header and the parsed MIDI, without decoding
    the audio; a file that cannot be read gives no warning (embedding records it as a failure)."""
    if not track.is_paired:
        return None
    try:
        midi_s = midi_duration(track.midi_path, track_id=track.id)
    except CounterpointError:  # an unreadable file: the embedding names it as a failure of its track
        return None
    try:
        audio_s = audio_duration(track.audio_path)
    except Exception:  # noqa: BLE001 — a header no decoder reads (any library's error): embedding names it
        return None
    return duration_warning(track, audio_s, midi_s, tolerance=tolerance)


def dataset_warnings(manifest: Manifest, workers: int = 2,
                     tolerance: DurationTolerance = DurationTolerance()) -> list[Problem]:
    """The warnings of :func:`check_dataset` (leaking splits, ignored metadata, pairs whose durations disagree)
    without decoding any audio: durations come from the audio headers, so a run can say them before it embeds."""
    warnings = [w for w in (straddling_groups(manifest), ignored_metadata(manifest)) if w is not None]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        warnings += [w for w in pool.map(lambda t: _pair_duration_warning(t, tolerance), manifest.tracks) if w]
    return warnings


def straddling_groups(manifest: Manifest) -> Problem | None:
    """A warning when the dataset's given split puts tracks of one group on more than one side."""
    sides: dict[str, set[str]] = {}
    for track in manifest:
        if track.group and track.split:
            sides.setdefault(track.group, set()).add(track.split)
    leaking = sorted(group for group, splits in sides.items() if len(splits) > 1)
    if not leaking:
        return None
    shown = ", ".join(repr(g) for g in leaking[:3]) + (f" … (+{len(leaking) - 3} more)" if len(leaking) > 3 else "")
    return Problem(None, None, f"the given split puts {len(leaking)} group(s) on more than one side ({shown}): "
                   "probes would be tested on groups they were trained on",
                   "rerun with --resplit to write splits recomputed by group")


def ignored_metadata(manifest: Manifest) -> Problem | None:
    """A warning when a class-folder dataset has a metadata file at its root, which class folders ignore."""
    if manifest.layout != "class folders":
        return None
    files = sorted(p.name for p in manifest.root.iterdir() if p.is_file() and p.suffix.lower() in METADATA_SUFFIXES)
    if not files:
        return None
    from counterpoint.data.adapters import guess_kind

    kind = guess_kind(manifest.root)
    suggestion = (f"`counterpoint dataset import {kind} {manifest.root} OUT` reads it (it looks like {kind})"
                  if kind else f"`counterpoint dataset import KIND {manifest.root} OUT` for a known dataset")
    return Problem(None, ", ".join(files), "the dataset was read as class folders (labels = folder names); "
                   "this metadata file was ignored",
                   f"{suggestion}, or --csv {files[0]} if it is a manifest (with --id-column / --id-from stem)")


def check_dataset(manifest: Manifest, *, open_files: bool = True, workers: int = 2,
                  progress: ProgressCallback | None = None,
                  tolerance: DurationTolerance = DurationTolerance()) -> DatasetReport:
    """Count tracks, pairs, labels and splits, list every problem (opening each file) and every warning."""
    problems = list(manifest.problems)
    warnings = [w for w in (straddling_groups(manifest), ignored_metadata(manifest)) if w is not None]
    if open_files:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            checked = pool.map(lambda track: _file_problems(track, tolerance), manifest.tracks)
            for done, (found, warning) in enumerate(checked, start=1):
                problems.extend(found)
                if warning is not None:
                    warnings.append(warning)
                if progress:
                    progress("checking files", done, len(manifest))
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
        link_targets=dict(link_targets.most_common()), warnings=warnings,
    )


@dataclass(frozen=True)
class Resplit:
    """A manifest written with splits recomputed by group: where it is and how many tracks each side holds."""

    path: Path
    group_column: str
    split_counts: dict[str, int]


def write_resplit(manifest: Manifest, label: str | None = None, seed: int = 0) -> Resplit:
    """Write ``ROOT/<manifest>.resplit.csv``: the same rows with ``split`` dealt out by group.

    Whole groups go to one side (stratified by ``label`` when given), as :func:`counterpoint.splits.assign_splits`
    deals them; the split the dataset gave is kept in the column ``given_split``. Read it with ``--csv``.
    """
    from counterpoint.splits import assign_splits

    if not any(track.group for track in manifest):
        raise CounterpointError(f"{manifest.root}: no track has a group — name the group column with --group COLUMN")
    if label is not None and label not in manifest.label_columns:
        raise CounterpointError(f"{manifest.root}: no label {label!r} to stratify by — choose one of "
                                f"{', '.join(manifest.label_columns)}")
    frame = manifest.to_frame()
    labels = frame[label] if label is not None else [""] * len(frame)
    frame.insert(frame.columns.get_loc("split") + 1, "given_split", frame["split"])
    frame["split"] = assign_splits(labels, frame["group"].tolist(), seed=seed)
    stem = Path(manifest.layout).stem if manifest.layout.endswith(".csv") else "info"
    path = manifest.root / f"{stem}.resplit.csv"
    frame.to_csv(path, index=False)
    return Resplit(path, "group", dict(Counter(frame["split"])))
