"""Encoder specs as text (``name:key=value,key=value``), read without the encoders: the store reads
the specs it is asked for with what the encoders declared when they wrote their records (their
parameters' values and defaults), so that reading a store never imports an encoder.
"""

from __future__ import annotations

from typing import Any

from counterpoint.errors import EncoderError

#: The texts a yes/no parameter accepts, and those that mean yes.
BOOLEAN_TEXTS = ("true", "false", "1", "0", "yes", "no")
TRUE_TEXTS = ("true", "1", "yes")


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """Split ``name:key=value,key=value`` into the name and its raw parameters.

    >>> parse_spec("musicnn:model=MSD,layer=taggram")
    ('musicnn', {'model': 'MSD', 'layer': 'taggram'})
    """
    name, _, rest = spec.strip().partition(":")
    params: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise EncoderError(f"encoder spec {spec!r}: {item!r} is not key=value — write e.g. {name}:key=value,key2=value2")
        params[key.strip()] = value.strip()
    return name.strip(), params


def typed_value(text: str, default: Any) -> Any:
    """``text`` read as a value of the type of ``default`` (text when the default is None); yes/no
    parameters read :data:`BOOLEAN_TEXTS`. Raises ValueError when ``text`` is not such a value."""
    kind = type(default) if default is not None else str
    if kind is bool:
        lowered = text.lower()
        if lowered not in BOOLEAN_TEXTS:
            raise ValueError(text)
        return lowered in TRUE_TEXTS
    return kind(text)
