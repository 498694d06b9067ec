"""Everything the command line prints: results on standard output, progress, steps and warnings on
standard error, and the progress bars that the one progress callback (:mod:`counterpoint.progress`) draws."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

from rich.table import Table
from rich.text import Text

from counterpoint.console import console, task_progress
from counterpoint.progress import ProgressCallback


def result_table(title: str, columns: list[str], rows: list[list[object]]) -> Table:
    """A terminal table; its first column (what each row is: an encoder spec, a track id) is never
    wrapped, so a narrow terminal shrinks the other columns instead."""
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
    printed as they are: no rich markup, so a label like ``[x]`` stays visible."""
    from rich.console import Console

    Console().print(renderable, soft_wrap=True, highlight=False, markup=False)


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
