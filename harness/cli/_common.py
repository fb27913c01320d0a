"""Shared CLI plumbing: consoles, exit codes and error printing."""

from __future__ import annotations

import sys
from typing import NoReturn

from rich.console import Console

EXIT_OK = 0
EXIT_BELOW_BAR = 1
EXIT_INPUT = 2
EXIT_JUDGE = 3

out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False)


def fail(message: str, code: int = EXIT_INPUT) -> NoReturn:
    """Print ``message`` on stderr and exit with ``code``."""
    from rich.markup import escape

    err.print(f"[bold red]error:[/] {escape(message)}", markup=True, soft_wrap=True)
    sys.exit(code)


def parse_scale(text: str | None) -> tuple[float, float] | None:
    """``--scale MIN:MAX`` as two floats (None when not given); a bad value exits 2."""
    if text is None:
        return None
    try:
        lo, hi = (float(v) for v in text.split(":"))
    except ValueError:
        fail(f"--scale must look like MIN:MAX (e.g. 1:5), got {text!r}")
    if lo >= hi:
        fail(f"--scale {text}: MIN must be below MAX")
    return lo, hi
