"""The range of every statistic Counterpoint reports, checked before a table is reported, and the one
declaration of each measure (:func:`declare_measure`: range, name, prose, verdict role), made beside its
computation and read here, by the comparison and by the report.

A value outside its range is a bug, never a finding: :func:`check_table` and :func:`check_values`
raise a :class:`StatisticRangeError` naming the measure, the row (encoder pair or encoder) and the
column instead of letting the value be written. NaN means "not computed" and passes.

Intervals are checked against the same range as their figure. The reflected (basic) half-sample
intervals of CKA and RSA can leave the range near its ends; they are clipped to it where they are
made (:func:`counterpoint.analysis.statistics.half_sample_ci`) and reported clipped. Percentile
bootstrap intervals are quantiles of the statistic itself, so they stay in range on their own.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from counterpoint.errors import CounterpointError

#: Rounding allowed beyond a bound (values are float64 sums of float32 products).
TOLERANCE = 1e-9


class StatisticRangeError(CounterpointError):
    """A reported statistic left its mathematical range: a bug in Counterpoint, never written out."""


@dataclass(frozen=True)
class Range:
    """``low ≤ value ≤ high`` (``low < value`` when ``low_open``); ``high_is_n``: the upper bound is the
    row's ``n`` (a rank among n candidates)."""

    low: float
    high: float
    low_open: bool = False
    high_is_n: bool = False

    def bounds(self, n: float = math.inf) -> tuple[float, float]:
        return self.low, (n if self.high_is_n and math.isfinite(n) else self.high)

    def holds(self, value: float, n: float = math.inf) -> bool:
        if not math.isfinite(value):
            return math.isnan(value)
        low, high = self.bounds(n)
        above = value > low if self.low_open else value >= low - TOLERANCE
        return above and value <= high + TOLERANCE

    def describe(self, n: float = math.inf) -> str:
        """``[0, 1]``, ``(0, 1]``; ``[1, n]`` for a rank among n when no ``n`` is given, ``∞)`` for no upper bound."""
        low, high = self.bounds(n)
        upper = f"{high:g}]" if math.isfinite(high) else "n]" if self.high_is_n else "∞)"
        return f"{'(' if self.low_open else '['}{low:g}, {upper}"


UNIT = Range(0.0, 1.0)
CORRELATION = Range(-1.0, 1.0)

@dataclass(frozen=True)
class Measure:
    """Everything about one reported figure, declared once beside its computation (:func:`declare_measure`).

    ``name``: as in the tables, without its ``@k`` suffix (``mutual_knn``); ``range``: where its values,
    intervals, chance and null mean must lie; ``title``: as a reader names it (``debiased CKA``); ``prose``:
    one sentence for the report on what it measures and against which null; ``verdict``: the row key
    (``measure`` column, method) of its headline figure in the track-by-track verdict, None when it is not
    one, with ``verdict_rows`` rows per pair (two directions: 2); ``compute``: for a cross-modal figure that
    the comparison runs on every pair beyond the built-in ones, ``compute(audio, symbolic, settings)`` →
    an :class:`~counterpoint.analysis.statistics.Estimate` of the paired matrices (rows = same tracks).
    """

    name: str
    range: Range
    title: str = ""
    prose: str = ""
    verdict: tuple[str, str] | None = None
    verdict_rows: int = 1
    compute: Callable[..., Any] | None = None

    def describe(self) -> str:
        """``debiased CKA in [-1, 1]``."""
        return f"{self.title or self.name} in {self.range.describe()}"


#: Every declared measure, by name, in the order declared (:func:`declare_measure`).
MEASURES: dict[str, Measure] = {}


def declare_measure(name: str, range: Range, *, title: str = "", prose: str = "",
                    verdict: tuple[str, str] | None = None, verdict_rows: int = 1,
                    compute: Callable[..., Any] | None = None) -> Measure:
    """Declare a reported figure once (see :class:`Measure`), in the module that computes it; returns it.

    Its range check, its name and prose in the report, its place in the verdict and (with ``compute``) its
    computation on every compared pair all read this declaration. Declaring a name again replaces it.
    """
    measure = Measure(name, range, title, prose, verdict, verdict_rows, compute)
    MEASURES[name] = measure
    return measure


def base_name(measure: str) -> str:
    """A measure's name without its ``@k`` suffix: ``recall@5`` → ``recall``."""
    return re.sub(r"@\d+$", "", str(measure))


def measure_title(measure: str) -> str:
    """A measure as a reader names it, ``@k`` kept: ``recall@1`` → ``Recall@1``, ``mutual_knn@10`` →
    ``mutual-kNN@10``; an undeclared name as it is."""
    declared = MEASURES.get(base_name(measure))
    if declared is None or not declared.title:
        return str(measure)
    return declared.title + str(measure)[len(base_name(measure)):]


def verdict_figures() -> tuple[tuple[str, str], ...]:
    """The (measure, method) keys of the track-by-track verdict's figures, in the order declared."""
    return tuple(m.verdict for m in MEASURES.values() if m.verdict is not None)


def verdict_rows_per_pair() -> int:
    """Rows of the track-by-track verdict per compared pair (a figure of both directions counts twice)."""
    return sum(m.verdict_rows for m in MEASURES.values() if m.verdict is not None)


def pair_measures() -> list[Measure]:
    """The declared cross-modal figures the comparison computes on every pair beyond its built-in ones."""
    return [m for m in MEASURES.values() if m.compute is not None]


#: p-values: a Monte-Carlo one counts the observed arrangement, so it is never 0; adjusted ones are capped at 1.
P_VALUE = Range(0.0, 1.0, low_open=True)
P_COLUMNS = ("p_value", "p_holm", "p_bh")
#: Columns of a long table (one row per figure) that share the figure's range.
FIGURE_COLUMNS = ("value", "ci_low", "ci_high", "chance", "null_mean")


def measure_range(measure: str) -> Range:
    """The range of a measure (``recall@5`` → that of ``recall``); a :class:`StatisticRangeError` when none is known."""
    name = base_name(measure)
    if name not in MEASURES:
        raise StatisticRangeError(f"no range is declared for the measure {measure!r} — declare it with "
                                  "counterpoint.ranges.declare_measure beside its computation before reporting it")
    return MEASURES[name].range


def _fail(measure: str, where: str, column: str, value: float, allowed: str) -> StatisticRangeError:
    return StatisticRangeError(f"{measure} of {where}: {column} = {value!r} is outside {allowed} — a bug in "
                               "Counterpoint, not a finding; please report it with the inputs of this pair")


def check_values(measure: str, values: Iterable[float], where: str, *, column: str = "value",
                 n: float = math.inf) -> None:
    """Every one of ``values`` (e.g. a pair's canonical correlations) in ``measure``'s range."""
    allowed = P_VALUE if column in P_COLUMNS else measure_range(measure)
    for value in np.asarray(list(values), dtype=np.float64).ravel():
        if not allowed.holds(float(value), n):
            raise _fail(measure, where, column, float(value), allowed.describe(n))


def check_table(table: pd.DataFrame, keys: Sequence[str], measure_column: str = "measure") -> pd.DataFrame:
    """Check a long table (one row per figure) and return it unchanged.

    Each row's value, interval ends, chance level and null mean must lie in its measure's range, the
    interval must not be reversed, and its p-values (raw, Holm, BH) must lie in (0, 1]. ``keys`` are
    the columns that name the row in the error (``audio``, ``symbolic``; or ``encoder``).
    """
    for row in table.to_dict(orient="records"):
        where = " × ".join(str(row[key]) for key in keys)
        measure = str(row[measure_column])
        n = float(row["n"]) if "n" in row and pd.notna(row["n"]) else math.inf
        for column in (*FIGURE_COLUMNS, *P_COLUMNS):
            if column in row and pd.notna(row[column]):
                check_values(measure, [row[column]], where, column=column, n=n)
        low, high = row.get("ci_low", math.nan), row.get("ci_high", math.nan)
        if pd.notna(low) and pd.notna(high) and low > high + TOLERANCE:
            raise StatisticRangeError(f"{measure} of {where}: the interval [{low!r}, {high!r}] is reversed — a bug "
                                      "in Counterpoint, not a finding")
    return table


def check_columns(table: pd.DataFrame, measures: Mapping[str, str], keys: Sequence[str]) -> pd.DataFrame:
    """Check a wide table (one row per encoder × model, say) and return it unchanged: each column of
    ``measures`` holds that measure (``{"accuracy_mean": "accuracy"}``), its p-value columns lie in (0, 1]."""
    for row in table.to_dict(orient="records"):
        where = " · ".join(str(row[key]) for key in keys)
        for column, measure in {**measures, **{p: "p-value" for p in P_COLUMNS}}.items():
            if column in row and pd.notna(row[column]):
                check_values(measure, [row[column]], where, column=column)
    return table
