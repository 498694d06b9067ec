"""A small real symbolic encoder for store and runner tests: pitch-class histograms.

``delay`` (seconds per batch) stretches a run so a test can kill it half-way.
"""

from __future__ import annotations

import time

import numpy as np

from counterpoint.data.midi import load_pretty_midi
from counterpoint.encoders.base import Embedding, Encoder, Parameter
from counterpoint.encoders.registry import EncoderEntry, register


class PitchClassEncoder(Encoder):
    name = "test-pitch-class"
    modality = "symbolic"
    parameters = {"delay": Parameter(0.0, "seconds to wait per batch"),
                  "batch_size": Parameter(2, "tracks per batch"),
                  "fail_on": Parameter("", "track id whose batch raises inside the model step")}

    @property
    def dim(self) -> int:
        return 12

    def feature_names(self) -> list[str]:
        return [f"pc{i}" for i in range(12)]

    def prepare(self, track):
        midi = load_pretty_midi(track.midi_path, track.id)
        return track.id, midi

    def embed_prepared(self, inputs):
        time.sleep(self.params["delay"])
        if any(track_id == self.params["fail_on"] for track_id, _ in inputs):
            raise RuntimeError("model step failed on purpose")
        out = []
        for _, midi in inputs:
            notes = [n for inst in midi.instruments for n in inst.notes]
            frames = np.zeros((len(notes), 12), np.float32)
            for row, note in enumerate(notes):
                frames[row, note.pitch % 12] = 1.0
            out.append(Embedding(frames, np.array([n.start for n in notes]), frames.mean(axis=0), midi.get_end_time()))
        return out


register(EncoderEntry("test-pitch-class", __name__, "PitchClassEncoder"))
