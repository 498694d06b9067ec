"""The encoder registry: spec string → encoder instance, and what each encoder needs.

Encoder modules are imported only when used, so listing encoders or running the symbolic
ones never pays for importing torch or transformers.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from counterpoint.encoders.base import Encoder
from counterpoint.errors import CounterpointError, EncoderError
from counterpoint.specs import parse_spec

if TYPE_CHECKING:
    from counterpoint.encoders.weights import WeightFile


@dataclass(frozen=True)
class EncoderEntry:
    name: str
    module: str
    class_name: str

    def load(self) -> type[Encoder]:
        module = importlib.import_module(self.module)
        return getattr(module, self.class_name)


#: Every encoder Counterpoint knows, in the order `counterpoint encoders` lists them.
REGISTRY: dict[str, EncoderEntry] = {
    entry.name: entry
    for entry in (
        EncoderEntry("symbolic-stats", "counterpoint.encoders.symbolic_stats", "SymbolicStatsEncoder"),
        EncoderEntry("audio-stats", "counterpoint.encoders.audio_stats", "AudioStatsEncoder"),
        EncoderEntry("musicnn", "counterpoint.encoders.musicnn", "MusicnnEncoder"),
        EncoderEntry("clamp2", "counterpoint.encoders.clamp", "Clamp2Encoder"),
        EncoderEntry("clamp3-symbolic", "counterpoint.encoders.clamp", "Clamp3SymbolicEncoder"),
        EncoderEntry("mert", "counterpoint.encoders.mert", "MertEncoder"),
        EncoderEntry("clamp3-audio", "counterpoint.encoders.clamp3_audio", "Clamp3AudioEncoder"),
        EncoderEntry("clap", "counterpoint.encoders.clap", "ClapEncoder"),
        EncoderEntry("openl3", "counterpoint.encoders.openl3", "OpenL3Encoder"),
    )
}

from counterpoint.defaults import DEFAULT_ENCODERS  # noqa: E402  (encoders `embed` and `run` use when none are named)


def register(entry: EncoderEntry) -> None:
    """Add an encoder (a plug-in, or a test's own) to the registry."""
    REGISTRY[entry.name] = entry


def encoder_class(name: str) -> type[Encoder]:
    if name not in REGISTRY:
        raise EncoderError(f"unknown encoder {name!r} — `counterpoint encoders` lists the known ones: {', '.join(REGISTRY)}")
    return REGISTRY[name].load()


def declared_weights() -> dict[str, list["WeightFile"]]:
    """Every registered encoder's weight files (:attr:`Encoder.weight_files`) by model, in registry
    order, each once; an encoder whose module cannot be imported here (a missing library) is left out."""
    declared: dict[str, list[WeightFile]] = {}
    for entry in REGISTRY.values():
        try:
            files = entry.load().weight_files
        except (ImportError, CounterpointError):
            continue
        for file in files:
            if file not in declared.setdefault(file.model, []):
                declared[file.model].append(file)
    return declared


def build_encoder(spec: str) -> Encoder:
    """Build the encoder a spec such as ``musicnn:model=MSD`` describes."""
    name, raw = parse_spec(spec)
    return encoder_class(name).from_spec(raw)


def build_encoders(specs: str | list[str]) -> list[Encoder]:
    """Build encoders from a list of specs or one string of them (see :func:`split_spec_list`)."""
    if isinstance(specs, str):
        specs = split_spec_list(specs)
    if not specs:
        raise EncoderError(f"no encoder named — give at least one spec, e.g. --encoders {','.join(DEFAULT_ENCODERS)} "
                           "(`counterpoint encoders` lists them)")
    encoders = [build_encoder(s) for s in specs]
    seen: set[str] = set()
    for encoder in encoders:
        if encoder.spec in seen:
            raise EncoderError(f"encoder {encoder.spec} is named twice — name each encoder once")
        seen.add(encoder.spec)
    return encoders


def split_spec_list(text: str) -> list[str]:
    """Split ``a,b:x=1,y=2+c`` style lists: ``+`` always separates; a comma separates only
    where the next item is not a ``key=value`` of the previous spec."""
    specs: list[str] = []
    for chunk in filter(None, (c.strip() for c in text.replace(";", "+").split("+"))):
        for item in filter(None, (i.strip() for i in chunk.split(","))):
            if "=" in item and ":" not in item.split("=", 1)[0] and specs:
                specs[-1] += "," + item
            else:
                specs.append(item)
    return specs
