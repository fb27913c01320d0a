"""Promoting a gated version: the MLflow Prompt Registry alias (``production``) moved to it.

Only after a pass; the version is registered (idempotent) and tagged with its gate, its
judge and the holdout ledger.
"""

from __future__ import annotations

import os
from typing import Any

from harness.tracking import judge_tags

from ._bars import BarResult
from ._errors import GateError
from ._ledger import holdout_look_tags
from ._result import GateResult, ScorecardGateResult

#: The registry alias ``promote`` sets.
PRODUCTION_ALIAS = "production"


def promote(result: GateResult | ScorecardGateResult, *,
            alias: str = PRODUCTION_ALIAS) -> dict[str, Any]:
    """Point the registry alias (``production``) at the gated version; only after a pass.

    The version is registered first when it is not (idempotent: same content hash, same
    registry version), and tagged with the gate's verdict and the judge it was gated with
    (:func:`harness.tracking.judge_tags` with ``alias``: ``judgecal.alias.production.judge.*``).
    On a scorecard, every judged question's version is promoted (each on its own prompt's
    alias), only when the whole scorecard gate passed; every version is checked to
    translate to MLflow's chat form before any alias moves, and each is tagged with the
    scorecard and all of its bars.

    Parameters
    ----------
    result : GateResult or ScorecardGateResult
        A gate that passed.
    alias : str

    Returns
    -------
    dict
        ``alias``, ``name``, ``version``, ``registry_version``, ``tracking_uri``; on a
        scorecard ``alias``, ``tracking_uri`` and ``questions`` (question id -> ``name``,
        ``version``, ``registry_version``).

    Raises
    ------
    GateError
        When the gate did not pass (nothing is changed).
    PromptError
        A version MLflow cannot render like judgecal (nothing is changed).
    """
    if not result.passed:
        raise GateError(f"the gate did not pass: alias {alias!r} not set")
    from harness.prompts import mlflow_template

    if isinstance(result, ScorecardGateResult):
        parts = result.questions
        for part in parts.values():  # every version translates, or no alias moves
            mlflow_template(part.version.prompt)
        bars = _bars_text(result.bars)
        scorecard_tags = {f"{alias}_scorecard": result.experiment.name,
                          f"{alias}_scorecard_gate": bars,
                          f"{alias}_scorecard_questions": ",".join(parts)}
        done = {q: _promote_version(part, alias, scorecard_tags) for q, part in parts.items()}
        uri = next(iter(done.values()))["tracking_uri"]
        result.promoted = {"alias": alias, "tracking_uri": uri,
                           "questions": {q: {k: v for k, v in d.items()
                                             if k not in ("alias", "tracking_uri")}
                                         for q, d in done.items()}}
        return result.promoted
    mlflow_template(result.version.prompt)
    result.promoted = _promote_version(result, alias, {})
    return result.promoted


def _bars_text(bars: list[BarResult]) -> str:
    return "; ".join(f"{b.name}: {b.checked:.4g}" if b.checked is not None else b.name
                     for b in bars)


def _promote_version(result: GateResult, alias: str, extra: dict[str, str]) -> dict[str, Any]:
    """Register a gated version, point ``alias`` at it and tag it with its gate."""
    from harness.tracking import Tracker

    exp, pv = result.experiment, result.version.prompt
    envs = {"OPENAI_API_KEY", "ANTHROPIC_API_KEY", exp.judge.api_key_env or "OPENAI_API_KEY"}
    tracker = Tracker(exp.tracking.experiment_name or exp.name, exp.tracking.tracking_uri,
                      secrets=[os.environ[e] for e in sorted(envs) if os.environ.get(e)])
    j = result.judge
    jtags = judge_tags(j.identity, j.params) if j is not None else {}
    number = tracker.register_prompt_version(
        pv, commit_message=pv.changelog or f"{pv.label}",
        tags={"promoted_by": "judgecal", **jtags})
    tracker.set_prompt_alias(pv.name, alias, number)
    tracker.set_prompt_version_tags(pv.name, number, {
        f"{alias}_gate": _bars_text(result.bars), f"{alias}_promoted_at": result.created_at,
        f"{alias}_gate_split": result.run.split,
        f"{alias}_gate_items_hash": result.checks.get("holdout_items_hash"),
        f"{alias}_gate_judge": result.checks.get("judge"),
        **(holdout_look_tags(result.holdout_looks) if result.holdout_looks else {}),
        **(judge_tags(j.identity, j.params, alias=alias) if j is not None else {}),
        **extra,
    })
    result.version.registry_version = number
    return {"alias": alias, "name": pv.name, "version": pv.label, "registry_version": number,
            "tracking_uri": tracker.tracking_uri}
