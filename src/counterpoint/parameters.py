"""One way to declare a value someone may set: its default, help text, type, range and choices.

An encoder declares its spec parameters with :class:`Parameter` (``musicnn:hop=1.5``), and every
settings class of :mod:`counterpoint.config` declares its fields with it (:func:`declared`), so
the command line's options, the params/TOML keys and the checks of a value are generated from
one declaration. The caller says where a value came from and which error to raise: this module
knows nothing of encoders, settings or the command line, and imports nothing heavy.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, Field, dataclass, field, fields
from numbers import Integral, Real
from typing import Any

from counterpoint.errors import CounterpointError

#: The default of a setting that must be given (``CompareSettings.label``).
REQUIRED: Any = MISSING


def _number(value: float) -> str:
    """A bound as a user writes it: ``4294967295``, ``0.5``."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


@dataclass(frozen=True)
class Parameter:
    """One parameter: its default, help text and the values it may take.

    ``choices`` lists the allowed values; ``low`` / ``high`` bound numbers (inclusive, unless
    ``closed`` says otherwise: ``"both"``, ``"left"``, ``"right"`` or ``"neither"``). ``kind`` is
    the type of a value (default: the default's type; give it where the default is None, "unset").
    ``formerly`` is the parameter's old name: encoder specs may still use it (with a
    DeprecationWarning), and the fingerprint keeps it so stores made before the rename stay valid.
    """

    default: Any
    help: str
    choices: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    closed: str = "both"
    formerly: str | None = None
    kind: type | None = None

    @property
    def value_type(self) -> type:
        """The type of a value: ``kind``, else the default's type (``str`` for a default of None)."""
        if self.kind is not None:
            return self.kind
        return type(self.default) if self.default not in (None, REQUIRED) else str

    def parse(self, name: str, text: str, where: str, *, error: type[CounterpointError] = CounterpointError) -> Any:
        """The typed value of ``name=text`` (a spec's parameter), checked by :meth:`check`; ``where`` starts
        the message (``encoder musicnn``) and ``error`` is what is raised."""
        kind = self.value_type
        try:
            if kind is bool:
                lowered = text.lower()
                if lowered not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(text)
                value: Any = lowered in ("true", "1", "yes")
            else:
                value = kind(text)
        except ValueError:
            raise error(f"{where}: parameter {name}={text!r} is not a {kind.__name__} — {self.help}") from None
        self.check(name, value, where, error=error)
        return value

    def check(self, name: str, value: Any, where: str, *, error: type[CounterpointError] = CounterpointError) -> None:
        """Raise ``error`` naming ``where`` and the parameter if ``value`` is not among the choices or out of range."""
        if self.choices is not None and value not in self.choices:
            options = ", ".join(str(c) for c in self.choices)
            raise error(f"{where}: {name}={value!r} is not one of {options}")
        if not self.in_range(value):
            raise error(f"{where}: {name}={value} must be {self.range_text} — {self.help}")

    def in_range(self, value: Any) -> bool:
        """Whether ``value`` lies within ``low`` … ``high`` (True when neither is declared)."""
        above = self.low is None or (value >= self.low if self.closed in ("both", "left") else value > self.low)
        below = self.high is None or (value <= self.high if self.closed in ("both", "right") else value < self.high)
        return above and below

    @property
    def range_text(self) -> str:
        """The allowed range in words, e.g. ``at least 0.1`` or ``at least 8 and at most 256``."""
        low_word = "at least" if self.closed in ("both", "left") else "above"
        high_word = "at most" if self.closed in ("both", "right") else "below"
        if self.low is not None and self.high is not None:
            return f"{low_word} {self.low:g} and {high_word} {self.high:g}"
        return f"{low_word} {self.low:g}" if self.low is not None else f"{high_word} {self.high:g}"

    # ---- a setting: one field of a settings class, an option of the command line, a params key ----

    @property
    def wanted(self) -> str:
        """What a setting's value must be, in words: ``a whole number greater than or equal to 1``."""
        if self.choices is not None:
            return f"one of {', '.join(str(c) for c in self.choices)}"
        noun = {int: "a whole number", float: "a finite number", bool: "true or false"}.get(self.value_type, "a text")
        bounds = []
        if self.low is not None:
            bounds.append(f"greater than{' or equal to' if self.closed in ('both', 'left') else ''} {_number(self.low)}")
        if self.high is not None:
            bounds.append(f"less than{' or equal to' if self.closed in ('both', 'right') else ''} {_number(self.high)}")
        return " ".join([noun, " and ".join(bounds)]) if bounds else noun

    def problem(self, flag: str, value: Any) -> str | None:
        """Why ``value`` cannot be the setting ``flag`` (``--n-boot = 0: give a whole number greater than or
        equal to 1``, ``--engine 'spark' is not one of local, ray``); None when it can. None itself is "unset", always allowed where the default is None."""
        if value is None and self.default is None:
            return None
        kind = self.value_type
        if kind is int:
            valid = isinstance(value, Integral) and not isinstance(value, bool)
        elif kind is float:
            valid = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
        else:
            valid = isinstance(value, kind)
        if valid and self.choices is not None and value not in self.choices:
            return f"{flag} {value!r} is not one of {', '.join(str(c) for c in self.choices)}"
        if valid and kind in (int, float):
            valid = self.in_range(value)
        return None if valid else f"{flag} = {value!r}: give {self.wanted}"

    @property
    def range_symbols(self) -> str:
        """The allowed values in symbols, for a help text: ``whole number ≥ 1``, ``number in [0, 1)``,
        ``whole number 0 … 4294967295``, ``one of auto, identity, dtw``; empty when anything goes."""
        if self.choices is not None:
            return f"one of {', '.join(str(c) for c in self.choices)}"
        noun = {int: "whole number", float: "number"}.get(self.value_type, "value")
        low_closed, high_closed = self.closed in ("both", "left"), self.closed in ("both", "right")
        if self.low is not None and self.high is not None:
            if low_closed and high_closed:
                return f"{noun} {_number(self.low)} … {_number(self.high)}"
            return f"{noun} in {'[' if low_closed else '('}{_number(self.low)}, {_number(self.high)}{']' if high_closed else ')'}"
        if self.low is not None:
            return f"{noun} {'≥' if low_closed else '>'} {_number(self.low)}"
        if self.high is not None:
            return f"{noun} {'≤' if high_closed else '<'} {_number(self.high)}"
        return ""

    def help_text(self) -> str:
        """The help of an option: the declared help and, in brackets as click shows a default, the values it
        accepts (generated from the declaration, never a stale copy)."""
        return f"{self.help}  [{self.range_symbols}]" if self.range_symbols else self.help


def declared(parameter: Parameter) -> Any:
    """A dataclass field declared by ``parameter`` (its default; no default for :data:`REQUIRED`)."""
    metadata = {"parameter": parameter}
    if parameter.default is REQUIRED:
        return field(metadata=metadata)
    return field(default=parameter.default, metadata=metadata)


def declaration(item: Field) -> Parameter | None:
    """The :class:`Parameter` that declares the dataclass field ``item``, or None."""
    return item.metadata.get("parameter")


def declarations(cls: type) -> dict[str, Parameter]:
    """Every declared field of the dataclass ``cls`` (or of an instance), by field name."""
    return {item.name: parameter for item in fields(cls) if (parameter := declaration(item)) is not None}


def flag_of(name: str) -> str:
    """How the setting ``name`` is typed on the command line: ``n_boot`` → ``--n-boot``."""
    return "--" + name.replace("_", "-")


def check_declared(settings: object) -> None:
    """Raise a :class:`CounterpointError` for the first declared field of ``settings`` whose value its
    declaration refuses — the one check behind the dataclass, the params file and the command line."""
    for name, parameter in declarations(settings).items():
        message = parameter.problem(flag_of(name), getattr(settings, name))
        if message is not None:
            raise CounterpointError(message)
