"""SIGTERM and SIGINT end a command the same way: cleanly, with exit code 128 + signal.

CI runners, systemd and Kubernetes stop a job with SIGTERM, whose default action kills the
process on the spot: an MLflow run would stay RUNNING forever and a calibration's state file
would say "running". :func:`handle_signals` turns both signals into :class:`Interrupted`, an
exception that unwinds the stack like Ctrl-C does: context managers mark runs FAILED, the
loop saves its state, and :func:`harness.cli.main` exits 143 (SIGTERM) or 130 (SIGINT).

:class:`Interrupted` derives from :class:`BaseException`, not :class:`Exception`, so an
``except Exception`` on the way never swallows it (and it is not a ``KeyboardInterrupt``,
which click would turn into "Aborted!" and exit 1).
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType


class Interrupted(BaseException):
    """The process received SIGTERM or SIGINT.

    Attributes
    ----------
    signum : int
    exit_code : int
        ``128 + signum``: 143 for SIGTERM, 130 for SIGINT.
    """

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.exit_code = 128 + signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}")


_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _raise(signum: int, frame: FrameType | None) -> None:
    # A second signal while the first one is being cleaned up takes the default action
    # (SIGINT: KeyboardInterrupt, SIGTERM: terminate), so an impatient user still gets out.
    for s in _SIGNALS:
        signal.signal(s, signal.SIG_DFL if s == signal.SIGTERM else signal.default_int_handler)
    raise Interrupted(signum)


@contextlib.contextmanager
def handle_signals() -> Iterator[None]:
    """Within the block, SIGTERM and SIGINT raise :class:`Interrupted` (main thread only)."""
    previous = {s: signal.getsignal(s) for s in _SIGNALS}
    for s in _SIGNALS:
        signal.signal(s, _raise)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)


__all__ = ["Interrupted", "handle_signals"]
