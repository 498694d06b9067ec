"""What every encoder is: a spec, a modality, a dimension, a fingerprint and a batched embed.

An encoder works in two steps so that one bad file never spoils a batch:

* :meth:`Encoder.prepare` reads one track's file into the encoder's input (decoded audio,
  a parsed MIDI, patches...). It raises :class:`~counterpoint.errors.TrackError` naming the
  file when that file cannot be used; the runner records it and goes on.
* :meth:`Encoder.embed_prepared` turns a batch of prepared inputs into one
  :class:`Embedding` each, running the model once per batch.

Before either, the runner calls :meth:`Encoder.load`, which builds the model and reads its
weights, so that a bad weights file fails once, before any track, instead of once per track.

Parameters come from a spec string such as ``musicnn:model=MTT,layer=max_pool``; the
encoder declares them in :attr:`Encoder.parameters` with defaults, choices and ranges, and
unknown, ill-typed or out-of-range values give an :class:`~counterpoint.errors.EncoderError`.
Two parameters change speed, never numbers: ``batch_size`` (tracks the runner hands over at
once, every encoder) and ``forward_batch`` (windows per model call, encoders with a model).

Encoders with a torch model subclass :class:`~counterpoint.encoders.torch_base.TorchEncoder`.

Audio encoders subclass :class:`AudioEncoder`: they turn a decoded waveform into their input
(:meth:`AudioEncoder.prepare_waveform`) and inherit reading the file and the HEAR 2021 API
(:mod:`counterpoint.hear` holds its module-level functions).
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Iterable, Sequence

import numpy as np

from counterpoint import __version__
from counterpoint.data.audio import stream_audio
from counterpoint.data.manifest import Track
from counterpoint.data.resample import Resampler
from counterpoint.errors import EncoderError, TrackError
from counterpoint.parameters import Parameter

if TYPE_CHECKING:
    from counterpoint.encoders.weights import WeightFile

#: Parameters that change how fast an encoder runs, never its numbers.
RUNTIME_PARAMETERS = ("device", "batch_size", "forward_batch")
#: Tracks per runner batch of an encoder that declares no ``batch_size`` parameter.
DEFAULT_BATCH_SIZE = 8


@dataclass
class Embedding:
    """One track's embedding: per-frame vectors with their times, and one pooled vector.

    ``frames`` is float32 ``[T, D]``, ``timestamps`` the centre of each frame in seconds
    ``[T]``, ``pooled`` float32 ``[D]``. ``duration`` is the length of the input in seconds
    (audio length, or MIDI end time), used for real-time factors.
    """

    frames: np.ndarray
    timestamps: np.ndarray
    pooled: np.ndarray
    duration: float

    def __post_init__(self) -> None:
        self.frames = np.asarray(self.frames, dtype=np.float32).reshape(len(self.timestamps), -1)
        self.timestamps = np.asarray(self.timestamps, dtype=np.float64)
        self.pooled = np.asarray(self.pooled, dtype=np.float32).ravel()
        if self.frames.shape[0] and self.frames.shape[1] != self.pooled.shape[0]:
            raise ValueError(f"frames have dimension {self.frames.shape[1]} but pooled has {self.pooled.shape[0]}")


def batch_size_parameter(default: int) -> Parameter:
    """The ``batch_size`` every encoder declares: tracks per runner batch (speed only)."""
    return Parameter(default, "tracks the runner hands the encoder at once (their windows share forward passes); "
                              "speed and memory only", low=1)


class Encoder(ABC):
    """Base class of all encoders. Subclasses set the class attributes and two methods."""

    name: ClassVar[str]
    modality: ClassVar[str]  # "audio" or "symbolic"
    description: ClassVar[str] = ""
    parameters: ClassVar[dict[str, Parameter]] = {}
    #: Bumped when a change to the code changes the numbers, so stores are recomputed.
    code_version: ClassVar[str] = "1"
    #: What the encoder needs to run, shown by `counterpoint encoders`.
    requirements: ClassVar[str] = "nothing beyond the base install"
    #: The likely cause of NaN/inf in an embedding and its fix, for the failure message.
    non_finite_hint: ClassVar[str] = "check the file (e.g. audio far louder than 0 dBFS: normalise it)"
    #: The weight files the encoder may use (every variant's), which `counterpoint weights list` and
    #: `fetch` show and download, by model (:func:`counterpoint.encoders.registry.declared_weights`).
    weight_files: ClassVar[tuple["WeightFile", ...]] = ()
    #: The trained joint space the encoder embeds into together with encoders of the other modality
    #: (CLaMP 3's audio and symbolic branches: ``clamp3``), or None. Encoders of one joint space are
    #: also compared directly, without a learnt mapping (:mod:`counterpoint.analysis.retrieval`).
    joint_space: ClassVar[str | None] = None
    #: The parameters whose values tell apart joint spaces of one family (CLaMP 3's ``variant``:
    #: its "saas" and "c2" checkpoints are different spaces).
    joint_space_parameters: ClassVar[tuple[str, ...]] = ()
    #: True for an encoder with a model whose :meth:`prepare` needs nothing that :meth:`load` builds: the local
    #: engine then starts its file-reading workers before the model loads, so that both start-ups overlap.
    prepares_before_load: ClassVar[bool] = False
    #: The modules :meth:`prepare` imports: imported by the file-reading workers as they start where
    #: :attr:`prepares_before_load` (while the model loads), else by this process before it forks them (so
    #: every worker inherits them instead of importing them again).
    prepare_imports: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why the encoder cannot run on this machine now (missing weights...), or None."""
        return None

    def __init__(self, **params: Any) -> None:
        params = self._renamed(params)
        self._refuse_unknown(params)
        self.params = {key: params.get(key, p.default) for key, p in self.parameters.items()}
        for key, value in params.items():
            self.parameters[key].check(key, value, f"encoder {self.name}", error=EncoderError)

    @classmethod
    def _refuse_unknown(cls, params: dict[str, Any]) -> None:
        """An EncoderError naming the parameters of ``params`` the encoder does not declare; the untrained
        control's ``init``/``init_seed`` on an encoder without a trained model get their own message."""
        unknown = set(params) - set(cls.parameters)
        if unknown & {"init", "init_seed"}:
            raise EncoderError(f"encoder {cls.name}: has no trained weights, so it has no untrained control — "
                               "init= and init_seed= apply to the model encoders only (musicnn, mert, clap, clamp2, "
                               "clamp3-symbolic, clamp3-audio, openl3); leave them out of this spec")
        if unknown:
            known = ", ".join(cls.parameters) or "none"
            raise EncoderError(f"encoder {cls.name}: unknown parameter(s) {', '.join(sorted(unknown))} (known: {known})")

    @classmethod
    def _renamed(cls, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` with deprecated names (:attr:`Parameter.formerly`) replaced by the current ones."""
        current = {p.formerly: name for name, p in cls.parameters.items() if p.formerly}
        renamed = {}
        for key, value in params.items():
            if key in current:
                warnings.warn(f"encoder {cls.name}: parameter {key}= is now called {current[key]}= — "
                              f"write {current[key]}={value} (the old name will go)", DeprecationWarning, stacklevel=3)
                if current[key] in params:
                    raise EncoderError(f"encoder {cls.name}: {key}= and {current[key]}= are the same parameter — give it once")
                key = current[key]
            renamed[key] = value
        return renamed

    @classmethod
    def parse_parameters(cls, raw: dict[str, str]) -> dict[str, Any]:
        """Typed, checked values of a spec's raw ``key=value`` texts (no model is built)."""
        raw = cls._renamed(raw)
        cls._refuse_unknown(raw)
        return {k: cls.parameters[k].parse(k, v, f"encoder {cls.name}", error=EncoderError) for k, v in raw.items()}

    @classmethod
    def from_spec(cls, raw: dict[str, str]) -> "Encoder":
        return cls(**cls.parse_parameters(raw))

    @classmethod
    def canonical_spec(cls, params: dict[str, Any]) -> str:
        """Name plus every parameter in ``params`` that differs from its default, in declaration order."""
        changed = [f"{k}={params[k]}" for k, p in cls.parameters.items()
                   if k in params and params[k] != p.default and k not in RUNTIME_PARAMETERS]
        return cls.name + (":" + ",".join(changed) if changed else "")

    @property
    def spec(self) -> str:
        """The canonical spec: name plus every parameter that differs from its default."""
        return self.canonical_spec(self.params)

    @property
    def shared_space(self) -> str | None:
        """The joint space these parameters embed into (``clamp3:variant=saas``), or None; recorded in
        the store's encoder record, where the analysis reads it."""
        if self.joint_space is None:
            return None
        values = ",".join(f"{key}={self.params[key]}" for key in self.joint_space_parameters)
        return self.joint_space + (":" + values if values else "")

    def recorded_parameters(self) -> dict[str, dict[str, Any]]:
        """Each parameter's value, default and whether it is a runtime one (speed only), as the store
        records them so that it reads specs (``window=8`` is ``window=8.0``) without the encoder."""
        return {key: {"value": value, "default": self.parameters[key].default, "runtime": key in RUNTIME_PARAMETERS}
                for key, value in self.params.items()}

    @property
    def batch_size(self) -> int:
        """Tracks per runner batch: the ``batch_size`` parameter, or :data:`DEFAULT_BATCH_SIZE`."""
        return int(self.params.get("batch_size", DEFAULT_BATCH_SIZE))

    @property
    @abstractmethod
    def dim(self) -> int:
        """Length of the pooled vector (and of each frame)."""

    def feature_names(self) -> list[str] | None:
        """Names of the dimensions, for hand-made descriptors; None for learned spaces."""
        return None

    def weights_digest(self) -> str | None:
        """A digest of the weights in use, or None for encoders without weights."""
        return None

    def fingerprint(self) -> dict[str, Any]:
        """Everything that determines the numbers: a rerun with the same fingerprint is skipped."""
        params = {(self.parameters[k].formerly or k): v for k, v in self.params.items() if k not in RUNTIME_PARAMETERS}
        if params.get("init") == "trained":  # the trained weights: fingerprints (and stores) made before init= stay valid
            params.pop("init")
            params.pop("init_seed", None)
        # A randomly initialised network (init=random, the untrained control) reads no trained weights.
        weights = None if self.params.get("init") == "random" else self.weights_digest()
        return {"name": self.name, "params": params, "weights": weights,
                "code_version": self.code_version, "counterpoint": __version__.split(".")[0]}

    def load(self) -> None:
        """Build the model and read its weights now (encoders with a model override this).

        Idempotent: encoders load lazily and keep the model, so a later embed reuses it.
        Raises WeightsError or EncoderError when the weights cannot be used.
        """

    @abstractmethod
    def prepare(self, track: Track) -> Any:
        """Read one track's file into this encoder's input; raise TrackError naming the file."""

    @abstractmethod
    def embed_prepared(self, inputs: Sequence[Any]) -> list[Embedding]:
        """Embed a batch of prepared inputs, one Embedding each, in order."""

    def embed(self, tracks: Sequence[Track]) -> list[Embedding]:
        """Prepare and embed tracks in one go (raises on the first bad track)."""
        return self.embed_prepared([self.prepare(t) for t in tracks])

    def outputs(self) -> list["Encoder"]:
        """The single-output encoders whose store entries one pass of this encoder writes: itself
        (a :class:`LayeredEncoder` given ``layers=`` writes one per layer)."""
        return [self]

    def embed_outputs(self, inputs: Sequence[Any]) -> list[list[Embedding]]:
        """One model pass over a batch: per output of :meth:`outputs`, one Embedding per input."""
        return [self.embed_prepared(inputs)]

    def layer_info(self) -> "LayerInfo | None":
        """Which layer of which base encoder this encoder returns, or None for an encoder without layers."""
        return None


@dataclass(frozen=True)
class LayerInfo:
    """One layer of a network: its name (the ``layer=`` value), its position in the network
    (-1 for a value that is no single layer, e.g. MERT's ``all-mean``), and the base spec —
    the encoder's spec without ``layer=``, shared by all its layers."""

    layer: str
    index: int
    base: str


#: The value of ``layers=`` that selects every layer of the network.
ALL_LAYERS = "all"


def layers_parameter(example: str) -> Parameter:
    """The ``layers`` parameter of a :class:`LayeredEncoder`; ``example`` is a list of its layers."""
    return Parameter("", f"embed several layers in one model pass, one store entry each (the entry layer=X alone "
                         f"would make): {ALL_LAYERS}, or a |-separated list, e.g. layers={example}")


class LayeredEncoder(Encoder):
    """An encoder whose ``layer`` parameter picks one of several layers of its network.

    With ``layers=all`` (or ``layers=a|b|c``) it runs the network once per batch and returns
    every selected layer (:meth:`outputs`, :meth:`embed_outputs`); the runner stores each as the
    entry ``ENC:layer=X`` would make, same spec and fingerprint, so either run skips what the
    other stored. Subclasses declare ``layer`` and ``layers`` (:func:`layers_parameter`) and write
    :meth:`layer_names` and :meth:`embed_layers`.
    """

    def __init__(self, **params: Any) -> None:
        if params.get("layers") and "layer" in params:
            raise EncoderError(f"encoder {self.name}: layer= and layers= both given — give layer=X for one layer or "
                               f"layers={ALL_LAYERS} (or a |-separated list) for several")
        super().__init__(**params)

    @abstractmethod
    def layer_names(self) -> list[str]:
        """Every layer of the network, in network order (input side first)."""

    @abstractmethod
    def embed_layers(self, inputs: Sequence[Any], layers: Sequence[str]) -> dict[str, list[Embedding]]:
        """One model pass over a batch: per layer, the Embeddings ``layer=X`` alone gives."""

    def selected_layers(self) -> list[str]:
        """The layers ``layers=`` names (every layer for ``all``); empty without ``layers=``."""
        text = str(self.params["layers"]).strip()
        if not text:
            return []
        known = self.layer_names()
        if text == ALL_LAYERS:
            return known
        chosen = [part.strip() for part in text.split("|") if part.strip()]
        unknown = [layer for layer in chosen if layer not in known]
        if unknown or len(set(chosen)) != len(chosen):
            raise EncoderError(f"encoder {self.name}: layers={text} — {'unknown layer(s) ' + ', '.join(unknown) if unknown else 'a layer named twice'}; "
                               f"its layers are {'|'.join(known)} (or layers={ALL_LAYERS})")
        return chosen

    def single_layer(self, layer: str) -> "LayeredEncoder":
        """This encoder returning ``layer`` only (no model of its own: it shares nothing but the parameters).
        Only the parameters given a value other than their default are passed on, as a user would write them
        (``init_seed``, say, is refused with the trained weights even at its default)."""
        params = {k: v for k, v in self.params.items() if k != "layers" and v != self.parameters[k].default}
        single = type(self)(**{**params, "layer": layer})
        if getattr(self, "max_seconds", None) is not None:  # an audio encoder reading only the start of files
            single.max_seconds = self.max_seconds
        return single

    def outputs(self) -> list[Encoder]:
        layers = self.selected_layers()
        return [self.single_layer(layer) for layer in layers] if layers else [self]

    def embed_outputs(self, inputs: Sequence[Any]) -> list[list[Embedding]]:
        layers = self.selected_layers()
        if not layers:
            return [self.embed_prepared(inputs)]
        by_layer = self.embed_layers(inputs, layers)
        return [by_layer[layer] for layer in layers]

    def fingerprint(self) -> dict[str, Any]:
        """The fingerprint without ``layers=``: each layer's entry is the one ``layer=X`` alone makes,
        and stores made before the encoder had ``layers=`` stay valid."""
        fingerprint = super().fingerprint()
        fingerprint["params"].pop("layers", None)
        return fingerprint

    def layer_info(self) -> LayerInfo | None:
        if self.params["layers"]:
            return None  # several layers: each output has its own
        layer = str(self.params["layer"])
        names = self.layer_names()
        base = self.canonical_spec({k: v for k, v in self.params.items() if k not in ("layer", "layers")})
        return LayerInfo(layer, names.index(layer) if layer in names else -1, base)


class AudioEncoder(Encoder):
    """An encoder of mono audio at :attr:`sample_rate`, offering the HEAR 2021 API.

    Subclasses set :attr:`sample_rate` (a class attribute, or a property when it comes from
    parameters or a loaded config) and :meth:`prepare_waveform`; :meth:`prepare` decodes a
    track's file at that rate and hands it on, and the HEAR methods embed waveforms given in
    memory through the same two steps, so their numbers are the store's.
    """

    modality: ClassVar[str] = "audio"
    #: How a file at another rate is brought to :attr:`sample_rate`: the way the model's reference
    #: code resamples (None: soxr, as ``librosa.load`` does). Part of the fingerprint.
    resampler: ClassVar[Resampler | None] = None
    #: Seconds read from the start of each file (None: the whole file); ``embed --max-seconds`` sets it.
    max_seconds: float | None = None
    #: HEAR framing (:mod:`counterpoint.hear`): spec parameters set for HEAR's scene and timestamp
    #: embeddings unless the spec sets them (musicnn: ``center=true``, so HEAR's clips of 1 s and less embed).
    hear_parameters: ClassVar[dict[str, str]] = {}
    #: HEAR framing: the hop parameter and its value (seconds) for HEAR timestamp embeddings unless the
    #: spec sets it, where the encoder's framing is a sliding window (at most 50 ms apart, as
    #: hear-validator asks); None keeps the spec's framing.
    hear_timestamp_hop: ClassVar[tuple[str, str] | None] = None

    @property
    @abstractmethod
    def sample_rate(self) -> int:
        """Rate in Hz of the waveforms :meth:`prepare_waveform` and the HEAR functions take."""

    @abstractmethod
    def prepare_waveform(self, waveform: np.ndarray, source: str) -> Any:
        """This encoder's input from a mono float32 waveform at :attr:`sample_rate`.

        Raises TrackError starting with ``source`` (a track and its file, or ``sound i``)
        when the waveform cannot be embedded, e.g. because it is too short.
        """

    def prepare_stream(self, pieces: Iterable[np.ndarray], source: str) -> Any:
        """This encoder's input from a waveform that arrives in pieces (mono float32 at :attr:`sample_rate`,
        :func:`~counterpoint.data.audio.stream_audio`): by default the whole waveform, handed to
        :meth:`prepare_waveform`; an encoder whose features allow it overrides this to hold one piece at a time."""
        return self.prepare_waveform(np.concatenate(list(pieces)), source)

    def prepare(self, track: Track) -> Any:
        if track.audio_path is None:
            raise TrackError(f"track {track.id!r}: has no audio file — {self.name} embeds audio")
        pieces = stream_audio(track.audio_path, self.sample_rate, track_id=track.id, resampler=self.resampler,
                              max_seconds=self.max_seconds)
        return self.prepare_stream(pieces, f"track {track.id!r} ({track.audio_path})")

    def fingerprint(self) -> dict[str, Any]:
        """The encoder's fingerprint, plus the resampler's name when it has its own, and the seconds read
        of each file when :attr:`max_seconds` cuts them (so stores of other cuts are not mixed)."""
        fingerprint = super().fingerprint()
        if self.resampler is not None:
            fingerprint["resampler"] = self.resampler.name
        if self.max_seconds is not None:
            fingerprint["max_seconds"] = self.max_seconds
        return fingerprint

    # HEAR 2021 API ---------------------------------------------------------------------

    @property
    def timestamp_embedding_size(self) -> int:
        """HEAR: dimension of each timestamp embedding."""
        return self.dim

    @property
    def scene_embedding_size(self) -> int:
        """HEAR: dimension of each scene embedding."""
        return self.dim

    def embed_sounds(self, audio: Any, caller: str = "embed_sounds") -> list[Embedding]:
        """Embed the rows of ``audio`` ``[n_sounds, n_samples]`` (torch or numpy, at :attr:`sample_rate`)."""
        batch = np.asarray(audio.detach().cpu().numpy() if hasattr(audio, "detach") else audio, dtype=np.float32)
        if batch.ndim != 2 or batch.shape[1] == 0:
            raise EncoderError(f"encoder {self.name} {caller}: audio must be [n_sounds, n_samples] with n_samples > 0 "
                               f"at {self.sample_rate} Hz, got shape {batch.shape}")
        return self.embed_prepared([self.prepare_waveform(row, f"sound {i}") for i, row in enumerate(batch)])

    def get_timestamp_embeddings(self, audio: Any) -> tuple[Any, Any]:
        """HEAR: ``audio`` ``[n_sounds, n_samples]`` at :attr:`sample_rate` → float32 torch tensors of
        the frames ``[n, T, D]`` and their timestamps in milliseconds ``[n, T]``."""
        import torch

        embeddings = self.embed_sounds(audio, "get_timestamp_embeddings")
        frames = torch.from_numpy(np.stack([e.frames for e in embeddings]))
        stamps = torch.from_numpy(np.stack([e.timestamps * 1000.0 for e in embeddings]).astype(np.float32))
        return frames, stamps

    def get_scene_embeddings(self, audio: Any) -> Any:
        """HEAR: ``audio`` ``[n_sounds, n_samples]`` at :attr:`sample_rate` → the pooled vectors
        ``[n, D]`` (torch), the ones the store keeps."""
        import torch

        embeddings = self.embed_sounds(audio, "get_scene_embeddings")
        return torch.from_numpy(np.stack([e.pooled for e in embeddings]))
