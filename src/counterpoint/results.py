"""The one protocol every analysis follows, and the one JSON form of its result.

An analysis (per-space analysis, comparison, time-aligned comparison, layer maps, controlled factors,
probe table) takes a store (or matrices read from one) and one settings object, and returns a result
that offers:

* ``tables``: name → DataFrame, every table the analysis computed (what the report writes as CSV);
* ``notes``: what was left out and why, in sentences a reader can act on;
* ``settings``: what it was computed with (a settings dataclass, or a mapping);
* ``as_dict()``: the JSON form, NaN written as null (:func:`json_ready`).

:class:`AnalysisOutcome` states the protocol for type checkers and ``isinstance``;
:class:`TabledResult` gives a result its default ``as_dict()`` (settings, notes, every table as records).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd


@runtime_checkable
class AnalysisOutcome(Protocol):
    """What every analysis returns (see the module's docstring)."""

    notes: list[str]

    @property
    def tables(self) -> dict[str, pd.DataFrame]: ...

    def as_dict(self) -> dict[str, Any]: ...


def json_ready(value: Any) -> Any:
    """``value`` as plain JSON data: NaN and ±inf as None (JSON has no NaN), numpy scalars and arrays as
    Python numbers and lists, DataFrames as lists of records, dataclasses as dicts, paths as text."""
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, pd.DataFrame):
        return [json_ready(row) for row in value.to_dict(orient="records")]
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return json_ready(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(key) if not isinstance(key, str) else key: json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [json_ready(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)


class TabledResult:
    """The default JSON form of a result that follows :class:`AnalysisOutcome`: its settings, notes and
    every table as records, NaN as null."""

    def as_dict(self) -> dict[str, Any]:
        return json_ready({"settings": self.settings, "notes": self.notes, **self.tables})
