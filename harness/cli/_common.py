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
