"""A small real symbolic encoder that hears no pitch: the mean, spread and number of note durations.

Transposition leaves every duration as it is, so its embedding of a transposed copy equals the
original's exactly: the invariant encoder of the equivariance tests.
"""

from __future__ import annotations

import numpy as np

from counterpoint.data.midi import load_pretty_midi
from counterpoint.encoders.base import Embedding, Encoder, Parameter
from counterpoint.encoders.registry import EncoderEntry, register


class DurationEncoder(Encoder):
    name = "test-durations"
    modality = "symbolic"
    parameters = {"batch_size": Parameter(4, "tracks per batch")}

    @property
    def dim(self) -> int:
        return 3

    def feature_names(self) -> list[str]:
        return ["duration_mean", "duration_std", "notes"]

    def prepare(self, track):
        return load_pretty_midi(track.midi_path, track.id)

    def embed_prepared(self, inputs):
        out = []
        for midi in inputs:
            durations = np.array([n.end - n.start for inst in midi.instruments for n in inst.notes])
            pooled = np.array([durations.mean(), durations.std(), len(durations)], np.float32)
            out.append(Embedding(pooled[None], np.zeros(1), pooled, midi.get_end_time()))
        return out


register(EncoderEntry("test-durations", __name__, "DurationEncoder"))
