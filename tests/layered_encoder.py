"""Test encoders with a known answer for layer maps: layers that are known functions of one vector per track.

Both encoders read their track's real file (audio decoded, MIDI parsed) and derive the same
vector ``v`` (dimension :data:`DIM`) from the track id with a seeded generator, so the symbolic
encoder's pooled vector *is* ``v``. The audio encoder's layers are ``v`` itself (``same``), a
random rotation of it (``rotated``), ``v`` scaled by 2.5 (``scaled``) and a vector drawn
independently of ``v`` (``independent``): debiased CKA with the symbolic encoder is 1 for the
first three (CKA is invariant to rotation and isotropic scaling) and about 0 for the last.
"""

from __future__ import annotations

import hashlib

import numpy as np

from counterpoint.data.midi import load_pretty_midi
from counterpoint.encoders.base import AudioEncoder, Embedding, Encoder, LayeredEncoder, Parameter, layers_parameter
from counterpoint.encoders.registry import EncoderEntry, register

DIM = 6
LAYERS = ("same", "rotated", "scaled", "independent")
ROTATION = np.linalg.qr(np.random.default_rng(5).normal(size=(DIM, DIM)))[0]


def track_vector(track_id: str, stream: int = 0) -> np.ndarray:
    """The seeded vector of a track (``stream`` 1: one drawn independently of stream 0)."""
    seed = int(hashlib.sha256(f"{stream}:{track_id}".encode()).hexdigest()[:8], 16)
    return np.random.default_rng(seed).normal(size=DIM)


class KnownLayersEncoder(LayeredEncoder, AudioEncoder):
    name = "test-known-layers"
    sample_rate = 8000
    parameters = {"layer": Parameter("same", "which known function of v", LAYERS),
                  "layers": layers_parameter("same|independent"),
                  "batch_size": Parameter(3, "tracks per batch")}
    #: model passes so far (a test checks one pass per batch serves every layer)
    passes = 0

    @property
    def dim(self) -> int:
        return DIM

    def layer_names(self) -> list[str]:
        return list(LAYERS)

    def prepare(self, track):
        waveform = super().prepare(track)
        return track.id, waveform

    def prepare_waveform(self, waveform, source):
        return waveform

    def embed_prepared(self, inputs):
        return self.embed_layers(inputs, [self.params["layer"]])[self.params["layer"]]

    def embed_layers(self, inputs, layers):
        KnownLayersEncoder.passes += 1
        functions = {"same": lambda i: track_vector(i), "rotated": lambda i: track_vector(i) @ ROTATION,
                     "scaled": lambda i: 2.5 * track_vector(i), "independent": lambda i: track_vector(i, stream=1)}
        out = {}
        for layer in layers:
            out[layer] = [Embedding(functions[layer](track_id)[None, :], np.array([0.0]), functions[layer](track_id),
                                    len(waveform) / self.sample_rate) for track_id, waveform in inputs]
        return out


class KnownVectorEncoder(Encoder):
    name = "test-known-vector"
    modality = "symbolic"
    parameters = {"batch_size": Parameter(4, "tracks per batch")}

    @property
    def dim(self) -> int:
        return DIM

    def prepare(self, track):
        return track.id, load_pretty_midi(track.midi_path, track.id).get_end_time()

    def embed_prepared(self, inputs):
        return [Embedding(track_vector(i)[None, :], np.array([0.0]), track_vector(i), end) for i, end in inputs]


register(EncoderEntry("test-known-layers", __name__, "KnownLayersEncoder"))
register(EncoderEntry("test-known-vector", __name__, "KnownVectorEncoder"))
