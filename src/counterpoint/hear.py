"""The HEAR 2021 module API (``load_model``, ``get_timestamp_embeddings``, ``get_scene_embeddings``)
for every Counterpoint audio encoder.

The encoder is named by a spec, as on the command line. With hear-eval-kit, the spec goes in
the JSON of ``--model-options`` (handed to :func:`load_model` as keyword arguments) and a
weights file, if any, in ``--model``::

    python -m heareval.embeddings.runner counterpoint.hear \\
        --model openl3_audio_mel256_music.h5 \\
        --model-options '{"spec": "openl3:input_repr=mel256,embedding_size=512"}'

:func:`load_model` returns a :class:`HearModel`, the ``torch.nn.Module`` the HEAR tools expect,
carrying ``sample_rate``, ``scene_embedding_size`` and ``timestamp_embedding_size``; the
encoders are ``model.encoder`` (scene embeddings) and ``model.timestamp_encoder``. Audio goes
in as ``[n_sounds, n_samples]`` at ``model.sample_rate`` Hz; timestamps come out in
milliseconds; the scene embedding is the pooled vector the store keeps for the same spec.

Through HEAR some encoders run with settings of their own, where the spec leaves them unset; each
encoder declares its HEAR framing (:attr:`~counterpoint.encoders.base.AudioEncoder.hear_parameters`,
:attr:`~counterpoint.encoders.base.AudioEncoder.hear_timestamp_hop`):

* musicnn gets ``center=true``: its 3-s patches are centred at 0, hop, 2·hop… s on audio padded
  with silence, so HEAR's clips (1 s and less) embed, and timestamps start at the sound's start;
* timestamps come at most 50 ms apart where the encoder's framing is a sliding window
  (musicnn: 48 ms, three 16-ms frames; openl3: 50 ms) — what hear-validator asks, so onsets
  can be placed within HEAR's 50-ms tolerance. Scene embeddings keep the spec's own hop.
  audio-stats keeps its blocks (they summarise ``hop`` seconds, 0.1 s at least).

>>> model = load_model(spec="audio-stats:hop=1.0")  # doctest: +SKIP
>>> embeddings, timestamps = get_timestamp_embeddings(audio, model)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import torch

from counterpoint.encoders.base import AudioEncoder
from counterpoint.encoders.registry import encoder_class
from counterpoint.errors import EncoderError
from counterpoint.specs import parse_spec


class HearModel(torch.nn.Module):
    """What HEAR's ``load_model`` returns: a torch module with the HEAR attributes, holding the encoders.

    ``encoder`` gives the scene embeddings, ``timestamp_encoder`` the timestamp embeddings (the
    same object unless HEAR uses a finer hop). The encoders pick their device from the spec
    (``device=cuda``); ``model.to(device)`` moves nothing, and audio on any device is accepted.
    """

    def __init__(self, encoder: AudioEncoder, timestamp_encoder: AudioEncoder) -> None:
        super().__init__()
        self.encoder = encoder
        self.timestamp_encoder = timestamp_encoder
        self.sample_rate = int(encoder.sample_rate)
        self.scene_embedding_size = int(encoder.dim)
        self.timestamp_embedding_size = int(timestamp_encoder.dim)

    def extra_repr(self) -> str:
        return f"spec={self.encoder.spec!r}, timestamps from spec={self.timestamp_encoder.spec!r}"

    def get_timestamp_embeddings(self, audio: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """HEAR: frames ``[n, T, D]`` and their timestamps in milliseconds ``[n, T]``, float32."""
        return self.timestamp_encoder.get_timestamp_embeddings(audio)

    def get_scene_embeddings(self, audio: Any) -> torch.Tensor:
        """HEAR: one vector per sound ``[n, D]``, float32: the encoder's pooled embedding."""
        return self.encoder.get_scene_embeddings(audio)


def load_model(model_file_path: str = "", spec: str = "musicnn") -> HearModel:
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
    scene_params = {**cls.hear_parameters, **raw}
    encoder = cls.from_spec(scene_params)
    if cls.hear_timestamp_hop is None or cls.hear_timestamp_hop[0] in raw:
        return HearModel(encoder, encoder)
    hop_parameter, hop = cls.hear_timestamp_hop
    return HearModel(encoder, cls.from_spec({**scene_params, hop_parameter: hop}))


def get_timestamp_embeddings(audio: Any, model: HearModel) -> tuple[torch.Tensor, torch.Tensor]:
    """HEAR: frames ``[n, T, D]`` and their timestamps in milliseconds ``[n, T]`` (float32 torch tensors)."""
    return model.get_timestamp_embeddings(audio)


def get_scene_embeddings(audio: Any, model: HearModel) -> torch.Tensor:
    """HEAR: one vector per sound ``[n, D]`` (float32 torch tensor), the encoder's pooled embedding."""
    return model.get_scene_embeddings(audio)
