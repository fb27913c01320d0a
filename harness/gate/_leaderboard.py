"""``validate`` of several judges at once: each judge's holdout look, then one leaderboard."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.experiments import Experiment
from harness.judgments import JudgmentsFile
from harness.reports import Leaderboard, leaderboard_from_scores

from ._bars import GateSettings
from ._errors import GateInputError
from ._gate import run_gate
from ._looks import open_judgments
from ._result import GateResult, ScorecardGateResult
from ._verdict import gate_report_settings


@dataclass
class JudgesValidation:
    """Several judges of one judgments file validated on the same split.

    Attributes
    ----------
    results : dict of str to GateResult
        Judge id -> its ``validate`` (its own holdout look, invalid check and report).
    board : Leaderboard
        The judges side by side against the same humans, at ``confidence``.
    confidence : float
        The CIs' confidence: the highest of the judges' holdout ledgers (every judge
        looked at the holdout, so the most-looked-at ledger decides).
    """

    results: dict[str, GateResult]
    board: Leaderboard
    confidence: float

    @property
    def invalid_failed(self) -> list[str]:
        """The judges with too many invalid or missing judgments."""
        return [j for j, r in self.results.items() if not r.invalid.passed]

    def to_dict(self) -> dict[str, Any]:
        """The leaderboard's JSON with each judge's run, checks and ledger."""
        doc = self.board.to_dict()
        doc["confidence"] = self.confidence
        doc["runs"] = {j: r.run.summary() for j, r in self.results.items()}
        doc["invalid"] = {j: r.invalid.to_dict() for j, r in self.results.items()}
        doc["holdout_looks"] = {j: r.holdout_looks.to_dict() if r.holdout_looks else None
                                for j, r in self.results.items()}
        doc["gate_warnings"] = {j: r.warnings for j, r in self.results.items()}
        return doc


def validate_judges(exp: Experiment, settings: GateSettings,
                    judgments: str | Path | JudgmentsFile, judges: list[str], *,
                    criterion: str | None = None, n_resamples: int = 1000,
                    fresh_holdout: bool = False) -> JudgesValidation:
    """``validate`` several judges of a judgments file and rank them on one leaderboard.

    Each judge is validated as ``validate --judgments FILE --judge ID`` validates it (a
    holdout look of its own in the ledger, its invalid check, its warnings); the
    leaderboard (:func:`harness.reports.leaderboard_from_scores`) then puts them against the
    same humans with the gate's report settings, with paired differences on the primary
    figure.

    Parameters
    ----------
    exp : Experiment
        A one-question experiment (several judges of a scorecard are validated one at a
        time).
    settings : GateSettings
        No bars, no baseline (as ``validate``).
    judgments : str, Path or JudgmentsFile
        The file (or ``FORMAT:SOURCE``).
    judges : list of str
        Two or more of the file's judges.
    criterion, n_resamples, fresh_holdout
        As :func:`run_gate`.

    Returns
    -------
    JudgesValidation

    Raises
    ------
    GateInputError
        Fewer than two judges, a judge twice, a scorecard experiment, or any refusal of a
        judge's ``validate``.
    """
    if len(judges) < 2 or len(set(judges)) != len(judges):
        raise GateInputError("a leaderboard needs two or more different --judge")
    source = judgments if isinstance(judgments, JudgmentsFile) else open_judgments(judgments)
    results: dict[str, GateResult] = {}
    for j in judges:
        res = run_gate(exp, settings, command="validate", allow_changed_anchors=True,
                       n_resamples=n_resamples, fresh_holdout=fresh_holdout, judgments=source,
                       judgments_judge=j, judgments_criterion=criterion)
        if isinstance(res, ScorecardGateResult):
            raise GateInputError("several judges on a scorecard: validate them one at a time "
                                 "(--judge ID), each gives the scorecard report")
        results[j] = res
    first = results[judges[0]]
    confidence = max(r.report.settings.confidence for r in results.values())
    table = first.run.table
    report_settings = gate_report_settings(table, exp, first.run.anchor_set.spec.kind,
                                           n_resamples, confidence)
    board = leaderboard_from_scores(table, {j: r.run.judge_scores for j, r in results.items()},
                                    settings=report_settings)
    return JudgesValidation(results, board, confidence)
