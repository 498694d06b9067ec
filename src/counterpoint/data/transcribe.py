"""Audio → MIDI with Spotify's basic-pitch (Bittner et al., ICASSP 2022), without TensorFlow.

The model's ONNX file ships inside the ``basic-pitch`` wheel (installed ``--no-deps``, because
its own requirements pull TensorFlow); it runs here on ``onnxruntime``, built once per run.
Audio is decoded as basic-pitch does (mono, 22 050 Hz, soxr as ``librosa.load``), cut into its
2-s windows with 30 frames of overlap, run a batch of windows per model call, and stitched
back; basic-pitch's own ``note_creation`` turns the onset, note and contour outputs into notes
with its defaults (onset threshold 0.5, frame threshold 0.3, notes of at least 127.7 ms,
the melodia trick, pitch bends), so the MIDI is what ``basic-pitch`` itself writes.

:func:`transcribe_dataset` fills the rows of a dataset that lack MIDI (or, with
``every_row``, adds a transcribed row beside every real one) and writes ``info.csv`` with
``midi_source = transcribed:basic-pitch-<version>``.
"""

from __future__ import annotations

import functools
import importlib.metadata
import logging
import warnings
from pathlib import Path

import numpy as np

from counterpoint.data.audio import audio_duration, load_audio
from counterpoint.data.completion import (ORIGINAL, CompletionReport, Job, complete_rows, dataset_table,
                                          made_path, open_dataset, temporary_path)
from counterpoint.data.transcribe_settings import TranscribeSettings
from counterpoint.errors import CounterpointError, TrackError
from counterpoint.progress import ProgressCallback

#: Rate basic-pitch's model reads (Hz) and the hop of its output frames (samples).
SAMPLE_RATE = 22050
FFT_HOP = 256
#: Samples per model window (2 s less one hop) and output frames dropped at each window seam.
WINDOW_SAMPLES = 2 * SAMPLE_RATE - FFT_HOP
OVERLAP_FRAMES = 30
FRAMES_PER_SECOND = SAMPLE_RATE // FFT_HOP
FAILURES_NAME = "transcribe_failures.csv"
INSTALL = "pip install --no-deps basic-pitch==0.4.0 onnxruntime mir_eval (or `make setup`)"
#: The ONNX graph's input and outputs (note, onset, contour), as basic-pitch names them.
_INPUT = "serving_default_input_2:0"
_OUTPUTS = {"note": "StatefulPartitionedCall:1", "onset": "StatefulPartitionedCall:2",
            "contour": "StatefulPartitionedCall:0"}


def basic_pitch_version() -> str:
    """The installed basic-pitch version; a CounterpointError saying how to install it when absent."""
    try:
        return importlib.metadata.version("basic-pitch")
    except importlib.metadata.PackageNotFoundError:
        raise CounterpointError(f"transcription needs the basic-pitch wheel (for its model file): {INSTALL}") from None


def midi_source() -> str:
    """The ``midi_source`` of a transcribed row: ``transcribed:basic-pitch-<version>``."""
    return f"transcribed:basic-pitch-{basic_pitch_version()}"


def _note_creation():
    """basic-pitch's note-creation module, imported without its warnings about absent backends
    (TensorFlow, CoreML, TFLite: we run the ONNX file)."""
    basic_pitch_version()
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        import basic_pitch
        import basic_pitch.note_creation as note_creation
    finally:
        root.setLevel(level)
    return basic_pitch, note_creation


def _windows(waveform: np.ndarray) -> np.ndarray:
    """basic-pitch's framing: half the overlap of silence in front, windows of ``WINDOW_SAMPLES``
    every ``WINDOW_SAMPLES - overlap`` samples, the last one zero-padded; ``[n, WINDOW_SAMPLES, 1]``."""
    overlap = OVERLAP_FRAMES * FFT_HOP
    hop = WINDOW_SAMPLES - overlap
    padded = np.concatenate([np.zeros(overlap // 2, dtype=np.float32), waveform])
    starts = range(0, len(padded), hop)
    windows = np.zeros((len(starts), WINDOW_SAMPLES, 1), dtype=np.float32)
    for row, start in enumerate(starts):
        piece = padded[start:start + WINDOW_SAMPLES]
        windows[row, :len(piece), 0] = piece
    return windows


class BasicPitch:
    """The basic-pitch model on onnxruntime, built once; :meth:`transcribe` gives a PrettyMIDI.

    ``settings`` holds the note-creation thresholds and the windows per model call.
    """

    def __init__(self, settings: TranscribeSettings = TranscribeSettings()) -> None:
        self.settings = settings
        try:
            import onnxruntime
        except ImportError:
            raise CounterpointError(f"transcription runs basic-pitch's model on onnxruntime: {INSTALL}") from None
        basic_pitch, self._note_creation = _note_creation()
        model = Path(basic_pitch.__file__).parent / "saved_models" / "icassp_2022" / "nmp.onnx"
        if not model.is_file():
            raise CounterpointError(f"{model}: basic-pitch's ONNX model is missing — reinstall it: {INSTALL}")
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])

    def model_output(self, waveform: np.ndarray) -> dict[str, np.ndarray]:
        """The model's ``note``, ``onset`` ``[frames, 88]`` and ``contour`` ``[frames, 264]`` activations
        of a mono 22 050-Hz ``waveform``, at 86 frames per second, seams removed as basic-pitch does."""
        windows = _windows(waveform)
        parts: dict[str, list[np.ndarray]] = {name: [] for name in _OUTPUTS}
        step = self.settings.windows_per_call
        for start in range(0, len(windows), step):
            outputs = self._session.run(list(_OUTPUTS.values()), {_INPUT: windows[start:start + step]})
            for name, output in zip(_OUTPUTS, outputs):
                parts[name].append(output)
        trim = OVERLAP_FRAMES // 2
        n_frames = int(np.floor(len(waveform) * (FRAMES_PER_SECOND / SAMPLE_RATE)))
        result = {}
        for name, chunks in parts.items():
            stacked = np.concatenate(chunks)[:, trim:-trim, :]
            result[name] = stacked.reshape(-1, stacked.shape[2])[:n_frames]
        return result

    def transcribe(self, waveform: np.ndarray):
        """Notes of a mono 22 050-Hz ``waveform`` as a ``pretty_midi.PrettyMIDI`` (basic-pitch's output,
        one Electric Piano instrument with pitch bends, 120 bpm)."""
        settings = self.settings
        min_note_frames = int(np.round(settings.minimum_note_ms / 1000 * (SAMPLE_RATE / FFT_HOP)))
        midi, _ = self._note_creation.model_output_to_notes(
            self.model_output(waveform), onset_thresh=settings.onset_threshold, frame_thresh=settings.frame_threshold,
            min_note_len=min_note_frames, melodia_trick=True)
        return midi


def transcribe_file(model: BasicPitch, audio_path: str | Path, midi_path: str | Path,
                    *, max_seconds: float = TranscribeSettings.max_seconds, track_id: str | None = None) -> Path:
    """Transcribe ``audio_path`` into the MIDI file ``midi_path`` (written atomically).

    Raises :class:`TrackError` naming the file when it is longer than ``max_seconds``, cannot be
    decoded, is silent, or yields no notes.
    """
    audio_path, midi_path = Path(audio_path), Path(midi_path)
    who = f"track {track_id!r} ({audio_path})" if track_id else str(audio_path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # librosa's audioread fallback on an unreadable file
            seconds = audio_duration(audio_path)
    except Exception:  # unreadable header: load_audio below names the problem
        seconds = 0.0
    if seconds > max_seconds:
        raise TrackError(f"{who}: {seconds:.0f} s of audio is longer than the {max_seconds:.0f}-s limit of "
                         "transcription — cut the file into parts, or raise --max-seconds")
    waveform = load_audio(audio_path, SAMPLE_RATE, track_id=track_id)
    midi = model.transcribe(waveform)
    if not any(instrument.notes for instrument in midi.instruments):
        raise TrackError(f"{who}: basic-pitch found no notes (noise, speech or very quiet audio?) — "
                         "check the recording, or leave the track without MIDI")
    midi_path.parent.mkdir(parents=True, exist_ok=True)
    partial = temporary_path(midi_path)
    midi.write(str(partial))
    partial.replace(midi_path)
    return midi_path


#: Suffix of the id of a row added for the transcription of a recording that has real MIDI.
TRANSCRIBED_ID_SUFFIX = "~transcribed"


def transcribe_dataset(root: str | Path, out: str | Path | None = None, *, every_row: bool = False,
                       settings: TranscribeSettings = TranscribeSettings(), model: BasicPitch | None = None,
                       progress: ProgressCallback | None = None) -> CompletionReport:
    """Transcribe the audio of every row of the dataset at ``root`` that has no MIDI, and write
    the completed dataset (``info.csv`` with ``midi_source``) to ``out`` (default: ``root`` itself).

    With ``every_row``, rows that have real MIDI get a second row ``<id>~transcribed`` with the
    same audio, labels and group, and the transcription as its MIDI, so real and transcribed MIDI
    of the same recordings can be compared. Transcriptions go to
    ``OUT/transcribed/basic-pitch-<version>/<audio path>.mid``; one that exists is reused (resume).
    A file that fails is listed in ``OUT/transcribe_failures.csv`` and its row keeps no MIDI.
    ``settings`` shape the transcription (and its ``max_seconds`` limit); ``model`` is built from
    them when not given. ``progress("transcribing", done, total)`` is called after every file.
    """
    source = midi_source()
    manifest, target = open_dataset(root, out)
    table = dataset_table(manifest)
    folder = f"transcribed/{source.removeprefix('transcribed:')}"
    wanted = []  # (row index or None for a new row, source row, midi file relative to target)
    existing = set(table["id"])
    for index, row in table.iterrows():
        if not row["audio_filename"]:
            continue
        relative = made_path(Path(), folder, row["audio_filename"], suffix=".mid").as_posix()
        if not row["midi_filename"]:
            wanted.append((index, row, relative))
        elif every_row and row["midi_source"] == ORIGINAL and row["id"] + TRANSCRIBED_ID_SUFFIX not in existing:
            wanted.append((None, row, relative))
    if any(not (target / relative).is_file() for _, _, relative in wanted):
        model = model or BasicPitch(settings)  # built once, and only when there is something to transcribe
    jobs = [Job(index, row, relative, source, row["id"] + TRANSCRIBED_ID_SUFFIX,
                functools.partial(transcribe_file, model, manifest.root / row["audio_filename"],
                                  max_seconds=settings.max_seconds, track_id=row["id"]))
            for index, row, relative in wanted]
    report = CompletionReport(target, target / "info.csv", target / FAILURES_NAME, problems=list(manifest.problems))
    return complete_rows(table, jobs, "midi", report=report, failures_name=FAILURES_NAME, progress=progress)
