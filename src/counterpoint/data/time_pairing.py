"""Time pairing, a step of the dataset stage: each track's audio paired with its score in time,
identity for renderings, DTW on chroma otherwise. It reads the dataset's audio and MIDI files and
keeps the paths beside the store (:func:`store_time_pairing`); the time-aligned comparison
(:mod:`counterpoint.analysis.time_aligned`) reads the paths it returns, never the files.

* **identity**: the audio is a rendering of the MIDI (``audio_source`` reads ``rendered:…``, as
  ``counterpoint dataset render`` writes it), so audio time is score time.
* **dtw**: dynamic time warping (``librosa.sequence.dtw``) between the constant-Q chroma of the
  audio and the chroma of the MIDI's piano roll at the same frame rate
  (:mod:`counterpoint.data.chroma`), with cosine distance. The score may match any stretch of the
  audio (subsequence DTW: the path need not start at the audio's first frame nor end at its last),
  so leading silence and a release or reverb tail after the last note are left out rather than
  smeared over the first and last chords; one silence column at both ends of both sequences lets
  silence match silence. Horizontal and vertical steps cost :data:`STEP_PENALTY` more than
  diagonal ones, so the path follows the tempo and does not wander on repeated chords.
* **auto**: identity for rendered rows, dtw for the others.

Frame rate: :data:`DTW_HOP` samples at 22 050 Hz (≈ 43 frames per second) while a track lasts
less than :data:`MAX_DTW_FRAMES` frames; longer tracks get a coarser hop, so the cost matrix
never exceeds ``MAX_DTW_FRAMES²`` cells. DTW paths are kept in the store's
:class:`~counterpoint.warping.WarpingPathFile` and reused while the audio and MIDI files and these
settings are unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from counterpoint.config import ALIGNMENTS
from counterpoint.data.chroma import CHROMA_SAMPLE_RATE, audio_chroma, midi_chroma, read_audio
from counterpoint.data.midi import midi_duration
from counterpoint.errors import CounterpointError, TrackError
from counterpoint.progress import ProgressCallback
from counterpoint.warping import (IDENTITY, RENDERED_PREFIX, TimePairing, TimePairs, WarpingPath, WarpingPathFile,
                                  file_digest, warping_file_path)

#: What :func:`pair_tracks_in_time` reports progress as.
PROGRESS_WHAT = "pairing tracks in time"
#: Samples (at 22 050 Hz) between chroma frames.
DTW_HOP = 512
#: Most frames per sequence; longer tracks get a coarser hop.
MAX_DTW_FRAMES = 4000
#: Extra cost of a horizontal or vertical DTW step (cosine distances of chroma lie in [0, 1]).
STEP_PENALTY = 0.1
#: The constant-Q transform needs a hop that is a multiple of this many samples.
CQT_HOP_MULTIPLE = 64
#: Where in its frame a score column's time is taken (0.5: its centre, since MIDI column k covers
#: ``[k, k+1) / frame_rate``; audio columns are centred on ``k / frame_rate``).
SCORE_COLUMN_TIME = 0.5


def method_for(audio_source: str, choice: str) -> str:
    """``identity`` or ``dtw`` for a row with this ``audio_source`` under ``--alignment choice``."""
    if choice not in ALIGNMENTS:
        raise CounterpointError(f"--alignment {choice!r}: choose one of {', '.join(ALIGNMENTS)}")
    if choice != "auto":
        return choice
    return "identity" if str(audio_source).strip().startswith(RENDERED_PREFIX) else "dtw"


def dtw_path(score: np.ndarray, audio: np.ndarray, frame_rate: float) -> WarpingPath:
    """The DTW path between score chroma ``[F, Ts]`` and audio chroma ``[F, Ta]`` (unit columns,
    ``frame_rate`` per second; score column k covers ``[k, k+1) / frame_rate`` s, audio column k is
    centred at ``k / frame_rate`` s), as matched times in seconds."""
    import librosa

    silence = np.zeros((score.shape[0], 1))
    silence[-1] = 1.0
    padded_score, padded_audio = np.hstack([silence, score, silence]), np.hstack([silence, audio, silence])
    cost = 1.0 - padded_score.T @ padded_audio
    _, path = librosa.sequence.dtw(C=cost, subseq=True, weights_add=np.array([0.0, STEP_PENALTY, STEP_PENALTY]))
    path = path[::-1] - 1  # ends first → start first; undo the silence pad
    # Points on a pad say only "before the start" or "after the end": the path's ends clamp there instead.
    inside = (path[:, 0] >= 0) & (path[:, 0] < score.shape[1]) & (path[:, 1] >= 0) & (path[:, 1] < audio.shape[1])
    path = path[inside].astype(np.float64)
    return WarpingPath("dtw", (path[:, 0] + SCORE_COLUMN_TIME) / frame_rate, path[:, 1] / frame_rate)


def dtw_hop(duration_seconds: float) -> int:
    """The chroma hop (samples at 22 050 Hz) for a track of this length: :data:`DTW_HOP`, or a
    coarser multiple of :data:`CQT_HOP_MULTIPLE` keeping the track under :data:`MAX_DTW_FRAMES` frames."""
    needed = duration_seconds * CHROMA_SAMPLE_RATE / MAX_DTW_FRAMES
    return int(max(DTW_HOP, CQT_HOP_MULTIPLE * np.ceil(needed / CQT_HOP_MULTIPLE)))


def align_files(audio_path: str | Path, midi_path: str | Path, track_id: str | None = None) -> WarpingPath:
    """The DTW path of one audio file against its MIDI file (see the module docstring).

    Raises :class:`~counterpoint.errors.TrackError` naming the file when either cannot be read.
    """
    waveform = read_audio(audio_path, track_id)
    score_seconds = midi_duration(midi_path, track_id)
    hop = dtw_hop(max(len(waveform) / CHROMA_SAMPLE_RATE, score_seconds))
    frame_rate = CHROMA_SAMPLE_RATE / hop
    return dtw_path(midi_chroma(midi_path, frame_rate, track_id), audio_chroma(waveform, hop), frame_rate)


def path_errors(estimated: WarpingPath, true_score_to_audio, score_seconds: np.ndarray) -> np.ndarray:
    """Absolute error (s) of ``estimated``'s audio time at each of ``score_seconds``, against
    ``true_score_to_audio`` (a function of score seconds, or a :class:`WarpingPath`)."""
    truth = true_score_to_audio.score_to_audio if isinstance(true_score_to_audio, WarpingPath) else true_score_to_audio
    score_seconds = np.asarray(score_seconds, dtype=np.float64)
    return np.abs(estimated.score_to_audio(score_seconds) - truth(score_seconds))


def dtw_settings() -> str:
    """What decides whether a kept DTW path is still valid, besides the two files' bytes (JSON text)."""
    return json.dumps({"hop": DTW_HOP, "max_frames": MAX_DTW_FRAMES, "step_penalty": STEP_PENALTY,
                       "features": "chroma_cqt+silence", "subsequence": True, "version": 2}, sort_keys=True)


def pair_tracks_in_time(obs: pd.DataFrame, dataset_root: str | Path, choice: str = "auto", *,
                        kept: WarpingPathFile | None = None,
                        progress: ProgressCallback | None = None) -> TimePairs:
    """The warping path of every row of a track table (``id``, ``audio_filename``, ``midi_filename``,
    optional ``audio_source``), files read under ``dataset_root``.

    ``choice`` is ``auto``, ``identity`` or ``dtw`` (see :func:`method_for`). DTW paths are looked up
    in ``kept`` first (by the files' digests and :func:`dtw_settings`) and written there when computed.
    A track whose files cannot be read or aligned is a note naming it; the others go on.
    ``progress("pairing tracks in time", done, total)`` is called after each track.
    """
    paths: dict[str, WarpingPath] = {}
    methods: dict[str, str] = {}
    notes: list[str] = []
    settings = dtw_settings()
    kept_file = [kept]  # emptied when the kept file cannot be read or written: then every path is computed
    sources = obs["audio_source"] if "audio_source" in obs else pd.Series([""] * len(obs))
    for done, (track_id, audio_name, midi_name, source) in enumerate(
            zip(obs["id"].astype(str), obs["audio_filename"], obs["midi_filename"], sources), start=1):
        method = method_for("" if pd.isna(source) else str(source), choice)
        if method == "identity":
            paths[track_id], methods[track_id] = IDENTITY, "identity"
        else:
            try:
                paths[track_id], methods[track_id] = _dtw_of_row(track_id, Path(dataset_root), audio_name, midi_name,
                                                                 settings, kept_file, notes)
            except CounterpointError as error:
                notes.append(f"track {track_id!r}: not aligned — {error}")
        if progress is not None:
            progress(PROGRESS_WHAT, done, len(obs))
    return TimePairs(paths, methods, notes, None if kept is None or not kept.path.is_file() else kept.path)


def store_time_pairing(store_path: str | Path) -> TimePairing:
    """The time pairing of a store's tracks: :func:`pair_tracks_in_time` keeping its DTW paths in the
    file beside the store (:func:`~counterpoint.warping.warping_file_path`), reused while the audio
    and MIDI files and the DTW settings are unchanged. Hand it to
    :func:`~counterpoint.analysis.time_aligned.run_aligned_compare` as ``time_pairing``."""
    kept_path = warping_file_path(store_path)

    def pair(obs: pd.DataFrame, dataset_root: str | Path, choice: str, *,
             progress: ProgressCallback | None = None) -> TimePairs:
        return pair_tracks_in_time(obs, dataset_root, choice, kept=WarpingPathFile(kept_path), progress=progress)

    return pair


def _dtw_of_row(track_id: str, root: Path, audio_name: object, midi_name: object, settings: str,
                kept_file: list[WarpingPathFile | None], notes: list[str]) -> tuple[WarpingPath, str]:
    if not isinstance(audio_name, str) or not audio_name or not isinstance(midi_name, str) or not midi_name:
        raise TrackError("DTW needs both an audio and a MIDI file, and the track table lacks one")
    audio_path, midi_path = root / audio_name, root / midi_name
    for path in (audio_path, midi_path):
        if not path.is_file():
            raise TrackError(f"{path}: file not found — DTW reads the dataset's files; give the store's dataset "
                             "folder back its files, or use --alignment identity for renderings")
    digests = (file_digest(audio_path), file_digest(midi_path))
    kept = kept_file[0]
    if kept is not None:
        try:
            found = kept.get(track_id, *digests, settings)
        except CounterpointError as error:
            notes.append(f"{error} (every path of this run is computed, none kept)")
            kept_file[0], kept, found = None, None, None
        if found is not None:
            return found, "dtw (kept)"
    path = align_files(audio_path, midi_path, track_id)
    if kept is not None:
        try:
            kept.put(track_id, *digests, settings, path)
        except (CounterpointError, OSError) as error:
            notes.append(f"warping paths not kept ({error}) — they are computed again next time")
            kept_file[0] = None
    return path, "dtw"
