"""Two toy encoders that embed audio and MIDI into one joint space of pitch-class energies, as a
new encoder is added: this module and one registry line each, nothing else in Counterpoint.

Each declares what Counterpoint needs to know about it: its joint space (``toy-pitch-class``), and
for the audio one its HEAR framing (timestamps every 0.25 s unless the spec sets ``hop``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from counterpoint.data.midi import load_pretty_midi
from counterpoint.encoders.base import AudioEncoder, Embedding, Encoder, Parameter
from counterpoint.encoders.registry import EncoderEntry, register

JOINT_SPACE = "toy-pitch-class"
SAMPLE_RATE = 22050


def unit_sum(x: np.ndarray) -> np.ndarray:
    total = x.sum(axis=-1, keepdims=True)
    return (x / np.where(total > 0, total, 1.0)).astype(np.float32)


class ToyAudioEncoder(AudioEncoder):
    """Energy per pitch class (FFT bins folded onto the 12 pitch classes) of blocks ``hop`` seconds long."""

    name = "test-toy-audio"
    sample_rate = SAMPLE_RATE
    joint_space = JOINT_SPACE
    hear_timestamp_hop: ClassVar[tuple[str, str] | None] = ("hop", "0.25")
    parameters = {"hop": Parameter(0.5, "seconds per block", low=0.05)}

    @property
    def dim(self) -> int:
        return 12

    def prepare_waveform(self, waveform: np.ndarray, source: str) -> Any:
        return waveform

    def embed_prepared(self, inputs):
        size = int(self.params["hop"] * SAMPLE_RATE)
        frequencies = np.fft.rfftfreq(size, 1 / SAMPLE_RATE)
        audible = frequencies > 30
        pitch_classes = np.round(12 * np.log2(frequencies[audible] / 440.0) + 69).astype(int) % 12
        out = []
        for waveform in inputs:
            blocks = [waveform[i:i + size] for i in range(0, max(len(waveform) - size, 0) + 1, size)]
            frames = np.stack([np.bincount(pitch_classes, np.abs(np.fft.rfft(b, size)[audible]) ** 2, 12) for b in blocks])
            stamps = (np.arange(len(blocks)) + 0.5) * self.params["hop"]
            out.append(Embedding(unit_sum(frames), stamps, unit_sum(frames.mean(axis=0)), len(waveform) / SAMPLE_RATE))
        return out


class ToySymbolicEncoder(Encoder):
    """The share of each pitch class among a MIDI file's notes (one frame per note)."""

    name = "test-toy-symbolic"
    modality = "symbolic"
    joint_space = JOINT_SPACE

    @property
    def dim(self) -> int:
        return 12

    def prepare(self, track):
        return load_pretty_midi(track.midi_path, track.id)

    def embed_prepared(self, inputs):
        out = []
        for midi in inputs:
            notes = [n for instrument in midi.instruments for n in instrument.notes]
            frames = np.zeros((len(notes), 12), np.float32)
            frames[np.arange(len(notes)), [n.pitch % 12 for n in notes]] = 1.0
            out.append(Embedding(frames, np.array([n.start for n in notes]), unit_sum(frames.sum(axis=0)),
                                 midi.get_end_time()))
        return out


register(EncoderEntry("test-toy-audio", __name__, "ToyAudioEncoder"))
register(EncoderEntry("test-toy-symbolic", __name__, "ToySymbolicEncoder"))
