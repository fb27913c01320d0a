"""The ``judge_gate`` pytest fixture: gate a judge inside a team's own test suite.

Installed with judgecal (entry point ``pytest11``), so no ``conftest.py`` is needed::

    def test_recipe_judge_may_ship(judge_gate):
        result = judge_gate("experiments/recipes.toml", min={"spearman": 0.7},
                            max={"mae": 0.9}, offline=True)
        assert result.run.result.n_requests == 0

A failed bar fails the test with the gate table as the message; a gate that cannot run
(a bad file, a missing version, a provider failure, a call needed offline) fails it with
the reason. On success the fixture returns the :class:`harness.gate.GateResult`.

The harness is imported only when the fixture is used, so the plugin costs nothing in
test sessions that do not gate.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


def _resolve(experiment: str | Path, rootpath: Path) -> Path:
    """A relative experiment path: from the working directory, else from the rootdir."""
    p = Path(experiment)
    if p.is_absolute() or p.exists():
        return p
    candidate = rootpath / p
    return candidate if candidate.exists() else p


@pytest.fixture
def judge_gate(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """Run ``judgecal gate`` from a test: ``judge_gate(experiment, min=..., max=..., ...)``.

    Keyword arguments are those of :func:`harness.gate.check`: ``min``, ``max``,
    ``max_regression``, ``baseline``, ``on``, ``max_invalid``, ``split``, ``prompt``,
    ``alias``, ``offline``, ``allow_changed_anchors``, ``allow_judge_change``,
    ``n_resamples``. Bars in the
    experiment's ``[gate]`` table apply too.

    Returns
    -------
    callable
        Returns the :class:`~harness.gate.GateResult` when every bar passed; fails the test
        (``pytest.fail``) otherwise.
    """
    rootpath = Path(request.config.rootpath)

    def gate(experiment: str | Path, **kwargs: Any) -> Any:
        from harness.gate import GateError, GateFailed, check

        __tracebackhide__ = True
        # pytest.fail outside the except clauses: raised inside one, pytest shows the gate's
        # exception too ("During handling of the above exception..."), the message twice.
        try:
            return check(_resolve(experiment, rootpath), **kwargs)
        except GateFailed as exc:
            word = "inconclusive" if exc.result.outcome == "inconclusive" else "failed"
            message = f"judge gate {word} (exit {exc.result.exit_code}):\n{exc}"
        except GateError as exc:
            what = "input error" if exc.exit_code == 2 else "judge failure"
            message = f"judge gate could not run (exit {exc.exit_code}, {what}): {exc}"
        pytest.fail(message, pytrace=False)

    return gate
