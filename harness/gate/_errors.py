"""Why a gate could not decide: input errors (exit 2) and judge failures (exit 3)."""

from __future__ import annotations

from ._result import EXIT_INPUT, EXIT_JUDGE


class GateError(Exception):
    """The gate could not decide; :attr:`exit_code` is the command's exit status."""

    exit_code: int = EXIT_INPUT


class GateInputError(GateError):
    """Usage or input error: bad file, unknown metric, missing version, a refused version."""

    exit_code = EXIT_INPUT


class GateJudgeError(GateError):
    """The judge or its provider failed: unreachable, budget spent, a call needed offline."""

    exit_code = EXIT_JUDGE
