"""Rich progress on stderr for long work (downloads, exports, import analysis).

Shown only when stderr is a terminal (and not when data is being written to that same
terminal); it appears at once, so the first second of a long command is never silent, and
is removed when the work ends. Callbacks may come from worker threads (Rich locks)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from batchtop.tui.cli.terminal import is_terminal


def wanted(*, data_on_stdout: bool = False) -> bool:
    if not is_terminal(sys.stderr):
        return False
    return not (data_on_stdout and is_terminal(sys.stdout))


@contextmanager
def task(
    description: str, *, total: float | None = None, unit: str = "", enabled: bool = True
) -> Iterator[Callable[[float], None]]:
    """`with task("Downloading …") as advance: … advance(done)`: `done` so far (absolute)."""
    if not enabled or not wanted():
        yield lambda _done: None
        return
    from batchtop.tui.cli.render import console
    from rich.progress import (
        BarColumn,
        Progress,
        SpinnerColumn,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = [SpinnerColumn(), TextColumn("{task.description}")]
    if total:
        columns += [BarColumn(), TaskProgressColumn()]
    columns += [TextColumn("{task.fields[shown]}"), TimeElapsedColumn()]
    with Progress(*columns, console=console(stderr=True), transient=True) as bar:
        handle = bar.add_task(description, total=total, shown="")

        def advance(done: float) -> None:
            shown = f"{done:,.0f}{unit}" if unit != " bytes" else _size(done)
            bar.update(handle, completed=done, shown=shown)

        yield advance


def _size(n: float) -> str:
    from batchtop.tui.format import size

    return size(int(n))
