"""The progress of a judge pass: a live bar in a terminal, one complete line elsewhere.

In a CI log or a pipe, rich renders a progress bar once, at the console's default width of 80
columns, and crops its cells (``jud… cached 21 | … cost $0.…``). There the pass ends with one
plain line that says every value in full instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from rich import get_console
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Column


@contextlib.contextmanager
def pass_progress(label: str, *, total: int, completed: int, stats: str,
                  console: Console | None, enabled: bool, eta: bool = True
                  ) -> Iterator[Callable[..., None]]:
    """Show a pass's progress; yields ``update(completed=None, advance=0, stats=None)``.

    Parameters
    ----------
    label : str
        What is being done (``"judging"``, ``"batch"``).
    total, completed : int
        Tasks in all, and already done (answered from the journal).
    stats : str
        The running counts shown beside the bar (cached, ok, invalid, calls, cost, ...).
    console : rich.console.Console, optional
        Where to show it (default: rich's console, standard output).
    enabled : bool
        False shows nothing.
    eta : bool
        Show the time remaining (a live bar only).
    """
    console = console if console is not None else get_console()
    state: dict[str, Any] = {"completed": completed, "stats": stats}
    if not enabled or not console.is_terminal:
        def update_plain(completed: int | None = None, advance: int = 0,
                         stats: str | None = None) -> None:
            state["completed"] = (state["completed"] if completed is None else completed) + advance
            if stats is not None:
                state["stats"] = stats

        yield update_plain
        if enabled:
            console.print(f"{label}: {state['completed']}/{total} · {state['stats']}",
                          soft_wrap=True, highlight=False, markup=False)
        return
    # The label and the counts keep their width; the stats wrap onto a second line in a
    # narrow terminal instead of being cropped.
    columns = [TextColumn(f"[bold]{label}", table_column=Column(no_wrap=True,
                                                                min_width=len(label))),
               BarColumn(bar_width=20), MofNCompleteColumn(),
               TextColumn("{task.fields[stats]}", table_column=Column(ratio=1,
                                                                      overflow="fold"))]
    progress = Progress(*columns, *([TimeRemainingColumn()] if eta else []), console=console,
                        transient=False)
    with progress:
        bar = progress.add_task(label, total=total, completed=completed, stats=stats)

        def update_live(completed: int | None = None, advance: int = 0,
                        stats: str | None = None) -> None:
            fields = {} if stats is None else {"stats": stats}
            if completed is not None:
                progress.update(bar, completed=completed + advance, **fields)
            else:
                progress.update(bar, advance=advance, **fields)

        yield update_live
