"""Everything the command line prints: results on standard output, progress, steps and warnings on
standard error, and the progress bars that the one progress callback (:mod:`counterpoint.progress`) draws."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.text import Text

from counterpoint.console import console, task_progress
from counterpoint.progress import ProgressCallback

if TYPE_CHECKING:
    from rich.table import Table

#: The width results are laid out in when standard output is not a terminal (a pipe, a file, a notebook's
#: capture): wide enough that no table cell is cut or wrapped, as a table only takes the width it needs.
UNBOUNDED_WIDTH = 100_000


def result_table(title: str, columns: list[str], rows: list[list[object]]) -> Table:
    """A terminal table; its first column (what each row is: an encoder spec, a track id) is never
    wrapped, so a narrow terminal shrinks the other columns instead."""
    from rich.table import Table

    cells = [[Text(f"{v:.3f}" if isinstance(v, float) else str(v)) for v in row] for row in rows]
    table = Table(title=title, title_justify="left")
    for index, column in enumerate(columns):
        key_width = max([len(column)] + [len(row[0]) for row in cells]) if index == 0 else None
        table.add_column(column, no_wrap=index == 0, min_width=key_width)
    for row in cells:
        table.add_row(*row)
    return table


def styled(prefix: str, style: str, rest: str = "") -> Text:
    """``prefix`` in ``style`` followed by ``rest`` as plain text (file names may hold [brackets])."""
    return Text.assemble((prefix, style), f" {rest}" if rest else "")


def show(renderable: str | Text | Table) -> None:
    """Results go to standard output; long lines stay whole so they can be grepped. Strings are
    printed as they are: no rich markup, so a label like ``[x]`` stays visible. When standard output
    is not a terminal, tables are laid out at :data:`UNBOUNDED_WIDTH`, so no value is cut ("mo…")."""
    from rich.console import Console

    results = Console()
    if not results.is_terminal:
        results = Console(width=UNBOUNDED_WIDTH)
    results.print(renderable, soft_wrap=True, highlight=False, markup=False)


def show_json(document: Any) -> None:
    """One machine-readable JSON document on standard output (``--json``); paths and other values
    JSON cannot hold are written as text, NaN as null."""
    print(json.dumps(_json_safe(document), indent=2, ensure_ascii=False, default=str))


def _json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities as None (JSON has no NaN), numpy numbers as Python numbers."""
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", None) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def tell(text: str | Text) -> None:
    """Progress, steps and warnings go to standard error, so standard output holds only results."""
    console.print(text, highlight=False, soft_wrap=True, markup=False)


@contextmanager
def progress_bars() -> Iterator[ProgressCallback]:
    """The one adaptor of :data:`~counterpoint.progress.ProgressCallback` to the terminal: each ``what``
    its own bar, drawn on standard error."""
    with task_progress() as update:
        yield update


def number_text(value: object, spec: str = ".3f") -> str:
    """A figure for the terminal: ``—`` when missing."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "—"
    return "—" if math.isnan(number) else format(number, spec)


def interval_text(value: float, low: float, high: float) -> str:
    """``0.850 [0.750, 0.950]``."""
    return f"{number_text(value)} [{number_text(low)}, {number_text(high)}]" if number_text(value) != "—" else "—"


def accuracy_line(scored) -> str:
    """One probe accuracy on the terminal: value, 95 % interval, chance, permutation null and p, tracks."""
    return (f"probe accuracy {interval_text(scored.accuracy, scored.ci_low, scored.ci_high)} (95 % interval), chance "
            f"{number_text(scored.chance)} (majority share), permutation null {number_text(scored.null_mean)}, "
            f"p {number_text(scored.p_value, '.3g')}, {scored.n} tracks, {scored.n_classes} classes")


def show_verdicts(report) -> None:
    """The verdict sentences and compact tables of a written report (``ReportResult``), on stdout."""
    if report is not None and report.summary:
        show(report.summary)
