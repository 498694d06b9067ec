"""Progress bars for the terminal (with `counterpoint.cli.output`, the only code that prints)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console

console = Console(stderr=True)


def _progress():
    """The bars (rich.progress is imported here, when a command draws one, not at start-up)."""
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    class RateColumn(TextColumn):
        """Items per second of a task."""

        def __init__(self) -> None:
            super().__init__("")

        def render(self, task):  # type: ignore[override]
            speed = task.finished_speed or task.speed
            return f"{speed:5.1f} files/s" if speed else "  —  files/s"

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn(),
                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console,
                    transient=False)


@contextmanager
def task_progress() -> Iterator:
    """A callback ``update(name, done, total)`` that draws one bar per name."""
    tasks: dict[str, int] = {}
    with _progress() as progress:
        def update(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = progress.add_task(name, total=total)
            progress.update(tasks[name], completed=done, total=total)
        yield update
