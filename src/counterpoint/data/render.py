"""MIDI → audio with a General MIDI SoundFont, offline and without system libraries.

Synthesis goes through ``midirenderer`` (a Rust SoundFont synthesiser, wheels only) with the
small GM SoundFont ``TimGM6mb.sf2`` that ships inside ``pretty_midi``. ``midirenderer``
always produces 48 kHz stereo 16-bit WAV and stops at the last MIDI event, so this module
lengthens the file by a release tail before synthesis (notes ring out instead of being cut),
then downmixes, resamples with soxr and peak-normalises. Every step is deterministic: the
same MIDI bytes give the same WAV bytes.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

import numpy as np

from counterpoint.errors import TrackError

#: The rate ``midirenderer`` synthesises at (Hz); fixed by the library.
SYNTH_SAMPLE_RATE = 48000
#: Peak level the rendered audio is scaled to (linear; about -1 dBFS).
TARGET_PEAK = 0.89
#: Below this peak (linear) the rendering counts as silent.
SILENT_PEAK = 1e-4


def default_soundfont() -> Path:
    """The GM SoundFont bundled with ``pretty_midi`` (TimGM6mb.sf2, about 6 MB)."""
    import pretty_midi

    return Path(pretty_midi.__file__).resolve().parent / "TimGM6mb.sf2"


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


def synthesize(midi_bytes: bytes, sample_rate: int = 22050, soundfont: str | Path | None = None,
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


def render_midi(midi_path: str | Path, wav_path: str | Path, sample_rate: int = 22050,
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
        midi_bytes = midi_path.read_bytes()
    except OSError as exc:
        raise TrackError(f"{midi_path}: cannot read the MIDI file ({exc}) — check the path") from exc
    try:
        audio = synthesize(midi_bytes, sample_rate, soundfont_path, tail_seconds, mono)
    except (ValueError, RuntimeError, OSError, EOFError, KeyError, IndexError) as exc:
        raise TrackError(f"{midi_path}: cannot render to audio ({type(exc).__name__}: {exc}) — "
                         "re-export it as a standard MIDI file") from exc
    if audio.size == 0 or float(np.max(np.abs(audio))) < SILENT_PEAK:  # silence is left unscaled
        raise TrackError(f"{midi_path}: rendering is silent (no sounding notes) — check the MIDI file has notes "
                         "on non-muted channels")
    wav_path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(wav_path), audio, sample_rate, subtype="PCM_16", format="WAV")
    return wav_path
