"""The HEAR 2021 module API (``load_model``, ``get_timestamp_embeddings``, ``get_scene_embeddings``)
for every Counterpoint audio encoder.

The encoder is named by a spec, as on the command line. With hear-eval-kit, the spec goes in
the JSON of ``--model-options`` (handed to :func:`load_model` as keyword arguments) and a
weights file, if any, in ``--model``::

    python -m heareval.embeddings.runner counterpoint.hear \\
        --model openl3_audio_mel256_music.h5 \\
        --model-options '{"spec": "openl3:input_repr=mel256,embedding_size=512"}'

Audio goes in as ``[n_sounds, n_samples]`` at ``model.sample_rate`` Hz; timestamps come out
in milliseconds; the scene embedding is the encoder's pooled vector (what the store keeps).

>>> model = load_model(spec="audio-stats:frame_hop=1.0")  # doctest: +SKIP
>>> embeddings, timestamps = get_timestamp_embeddings(audio, model)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from counterpoint.encoders.base import AudioEncoder, parse_spec
from counterpoint.encoders.registry import encoder_class
from counterpoint.errors import EncoderError


def load_model(model_file_path: str = "", spec: str = "musicnn") -> AudioEncoder:
    """HEAR ``load_model``: the audio encoder ``spec`` describes, reading ``model_file_path`` if given.

    A non-empty ``model_file_path`` becomes the encoder's ``weights`` parameter; encoders
    without one (they find their weights themselves) refuse it with an EncoderError.
    """
    name, raw = parse_spec(spec)
    cls = encoder_class(name)
    if not issubclass(cls, AudioEncoder):
        raise EncoderError(f"HEAR load_model: encoder {name} embeds {cls.modality}, not audio — "
                           "give the spec of an audio encoder (`counterpoint encoders` lists them)")
    if model_file_path:
        if "weights" not in cls.parameters:
            raise EncoderError(f"HEAR load_model: encoder {name} takes no weights file, but got model_file_path="
                               f"{model_file_path!r} — leave it empty ({name} finds its weights itself; "
                               "`counterpoint encoders` says where)")
        if raw.get("weights", model_file_path) != model_file_path:
            raise EncoderError(f"HEAR load_model: spec {spec!r} names weights={raw['weights']} but model_file_path is "
                               f"{model_file_path!r} — give the weights file once")
        raw["weights"] = model_file_path
    return cls.from_spec(raw)


def get_timestamp_embeddings(audio: Any, model: AudioEncoder) -> tuple[Any, Any]:
    """HEAR: frames ``[n, T, D]`` and their timestamps in milliseconds ``[n, T]`` (torch tensors)."""
    return model.get_timestamp_embeddings(audio)


def get_scene_embeddings(audio: Any, model: AudioEncoder) -> Any:
    """HEAR: one vector per sound ``[n, D]`` (torch tensor), the encoder's pooled embedding."""
    return model.get_scene_embeddings(audio)
