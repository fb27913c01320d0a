"""Calibrating a scorecard: every question with the one-question loop, the worst first.

:func:`calibrate_scorecard` ranks the questions by how far their current prompt version
falls short of the target on the calibration split, then runs :func:`calibrate` on each
question as a one-question experiment (:meth:`Experiment.for_criterion`: its own prompt
versions, loop state, MLflow parent run and holdout validation), worst first; a question
that already passes stops at its first iteration, unrevised. At the end the judge's total is
formed from each question's best version, on the calibration split and once on the holdout
split with the target's three-valued verdict.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.agreement import AgreementResult
from harness.anchors import Scorecard, load_anchor_set, load_scorecard
from harness.experiments import Experiment
from harness.gate import BarResult
from harness.journal import Journal
from harness.judges import Judge
from harness.judgments import (
    build_judge,
    judge_anchors,
    judge_totals,
    one_call_refusal,
    resolve_prompt,
)
from harness.reports import (
    LOWER_IS_BETTER,
    ReportSettings,
    agreement_report,
    number_text,
    primary_for,
    undefined_text,
)

from ._loop import (
    LoopState,
    ManualRevisionPending,
    calibrate,
    config_hash,
    holdout_verdict,
    meets,
    replay,
    report_settings,
    run_locked,
    target_met,
)
from ._types import CalibrationResult

#: Why a scorecard calibration ended, for people.
SCORECARD_STOP_TEXT = {
    "all_pass": "every question and the total reached the target",
    "total_fails": "every question reached the target but the total did not",
    "not_all_pass": "some questions stopped below the target (plateau or iteration limit)",
    "manual": "a manual revision is needed",
}


@dataclass
class QuestionRank:
    """Where one question stood before it was calibrated.

    Attributes
    ----------
    criterion : str
    version : str
        The version judged (the one its calibration starts or continues from).
    primary : str
        The question's primary figure (:func:`harness.reports.primary_for`).
    value : float or None
        Its value on the calibration split (None: undefined).
    shortfall : float
        How far it falls short of the target, in the figure's units (> 0: it fails, <= 0:
        it passes; ``inf`` when undefined).
    finished : bool
        Its calibration had finished before: it is read back, not run again.
    """

    criterion: str
    version: str
    primary: str
    value: float | None
    shortfall: float
    finished: bool = False


@dataclass
class ScorecardCalibrationResult:
    """Everything one ``judgecal calibrate`` of a scorecard produced.

    Attributes
    ----------
    experiment : str
    threshold : float
        The target, on every question's primary figure and on the total's.
    total_primary : str
        The total's primary figure (``[target] metric``; the total is numeric, 0–1).
    questions : dict of str to CalibrationResult
        Question -> its calibration, in the order they were calibrated (worst first; those
        finished earlier last, as read back).
    order : list of str
        The questions calibrated in this run, worst first.
    ranking : list of QuestionRank
        Every question, worst first, as ranked before calibrating.
    replayed : list of str
        Questions whose calibration had finished: read back from the journal, not run.
    pending : dict of str to str
        Question -> the manual revision it waits for.
    total_calibration, total_holdout : dict of str to AgreementResult or None
        The judge's total (formed from each question's best version) against the humans'.
    total_verdict : BarResult or None
        The target on the total's holdout CI, three outcomes (as a question's holdout).
    stop_reason : str
        ``all_pass``, ``total_fails``, ``not_all_pass`` or ``manual``.
    """

    experiment: str
    threshold: float
    total_primary: str
    questions: dict[str, CalibrationResult] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    ranking: list[QuestionRank] = field(default_factory=list)
    replayed: list[str] = field(default_factory=list)
    pending: dict[str, str] = field(default_factory=dict)
    total_calibration: dict[str, AgreementResult] | None = None
    total_holdout: dict[str, AgreementResult] | None = None
    total_verdict: BarResult | None = None
    stop_reason: str = ""
    warnings: list[str] = field(default_factory=list)
    #: The MLflow run that sums up the scorecard (its questions' runs tagged with its id).
    run_id: str | None = None

    @property
    def revised(self) -> dict[str, list[str]]:
        """Question -> the versions its revisions wrote (only the questions revised)."""
        out = {}
        for cid, res in self.questions.items():
            versions = [rec.revision["new_version"] for rec in res.iterations
                        if rec.revision and rec.revision.get("new_version")]
            if versions:
                out[cid] = versions
        return out

    def passes(self, criterion: str) -> bool:
        """Whether a question's best version meets the target on the calibration split."""
        res = self.questions.get(criterion)
        return res is not None and res.best is not None and target_met(
            res.primary, res.threshold, res.secondary, res.best.figures)

    @property
    def total_passes(self) -> bool:
        """Whether the judge's total meets the target on the calibration split."""
        if self.total_calibration is None:
            return False
        res = self.total_calibration[self.total_primary]
        return meets(self.total_primary, res.value, self.threshold)


def total_threshold(exp: Experiment) -> float:
    """The total's target: ``[target] criteria.total``, else the shared threshold."""
    return exp.target.criteria.get("total", exp.target.threshold)


def question_experiment(exp: Experiment, card: Scorecard, criterion: str) -> Experiment:
    """One question of a scorecard experiment, as the loop calibrates it.

    :meth:`Experiment.for_criterion`, with the target's figure the one the question's scale
    calls for (:func:`harness.reports.primary_for`: ``[target] metric`` on a numeric
    question, κ on ordered labels, exact agreement on unordered ones); the threshold is the
    question's own (``[target] criteria``) or the scorecard's.

    Parameters
    ----------
    exp : Experiment
        The scorecard experiment.
    card : Scorecard
    criterion : str

    Returns
    -------
    Experiment
    """
    sub = exp.for_criterion(criterion)
    spec = card.spec(criterion)
    scale = spec.scale.code_scale()
    metric = primary_for(spec.kind, (scale.min, scale.max), exp.target.metric)
    if metric != sub.target.metric:
        sub = sub.with_overrides(target={"metric": metric})
    return sub


def shortfall(name: str, value: float | None, threshold: float) -> float:
    """How far a figure falls short of its target (> 0 fails; ``inf`` when undefined).

    Examples
    --------
    >>> round(shortfall("icc", 0.5, 0.7), 2), round(shortfall("mae", 0.5, 0.7), 2)
    (0.2, -0.2)
    """
    if value is None or not math.isfinite(value):
        return math.inf
    return value - threshold if name in LOWER_IS_BETTER else threshold - value


def calibrate_scorecard(
    exp: Experiment,
    *,
    console: Any = None,
    show_progress: bool = True,
    judge: Judge | None = None,
    reviser_judge: Judge | None = None,
    say: Callable[[str], None] | None = None,
    restart: bool = False,
) -> ScorecardCalibrationResult:
    """Calibrate every question of a scorecard experiment, the worst first.

    Each question's current version is judged on the calibration split (journaled: the
    loop's first iteration re-reads those judgments) and the questions are ranked by their
    primary figure's shortfall to the target. Each question is then calibrated with
    :func:`calibrate` on :func:`question_experiment`, worst first: a failing question is
    revised until it passes, plateaus or reaches the iteration limit; a passing one stops at
    its first iteration. A question whose calibration had finished (same configuration and
    anchors) is read back (:func:`replay`), not run again; ``restart=True`` restarts every
    question. Finally the judge's total is formed from each question's best version on the
    calibration split and on the holdout split, with the target's verdict on its holdout CI.

    Parameters
    ----------
    exp : Experiment
        A scorecard experiment (``harness.judgments.is_scorecard_experiment``).
    console, show_progress, judge, reviser_judge, say, restart
        As for :func:`calibrate`; ``say`` names the question each message is about.

    Returns
    -------
    ScorecardCalibrationResult

    Raises
    ------
    CalibrationLocked
        Another process calibrates this scorecard.
    LoopStopped, ProviderError
        As :func:`calibrate` raises them, for the question being calibrated (the questions
        finished before keep their results; a re-run continues).
    """
    say = say or (lambda _msg: None)
    refusal = one_call_refusal(exp, "calibrate")
    if refusal is not None:
        raise ValueError(refusal)
    card = load_scorecard(exp.anchors.path)  # bad input is refused before any judge is built
    unknown = sorted(set(exp.target.criteria) - {*card.criterion_ids, "total"})
    if unknown:
        raise ValueError(f"{exp.source}: [target] criteria names {', '.join(unknown)}, not a "
                         f"question of {exp.anchors.path} (the questions: "
                         f"{', '.join(card.criterion_ids)}, and total)")
    return run_locked(exp, lambda: _calibrate_scorecard(
        exp, console=console, show_progress=show_progress, judge=judge or build_judge(exp),
        reviser_judge=reviser_judge, say=say, restart=restart))


def _calibrate_scorecard(exp: Experiment, *, console: Any, show_progress: bool, judge: Judge,
                         reviser_judge: Judge | None, say: Callable[[str], None],
                         restart: bool) -> ScorecardCalibrationResult:
    card = load_scorecard(exp.anchors.path)
    subs = {cid: question_experiment(exp, card, cid) for cid in card.criterion_ids}
    result = ScorecardCalibrationResult(experiment=exp.name,
                                        threshold=total_threshold(exp),
                                        total_primary=exp.target.metric)
    journal = Journal(exp.state.dir)
    opts = {"console": console, "show_progress": show_progress, "judge": judge}

    # every question where it stands: finished ones are read back, the others judged
    done: dict[str, CalibrationResult] = {}
    for cid, sub in subs.items():
        def tell(msg: str, cid: str = cid) -> None:
            say(f"[{cid}] {msg}")
        old = None if restart else replay(sub, say=tell, **opts)
        if old is not None:
            done[cid] = old
            value = old.best.primary_value if old.best else None
            result.ranking.append(QuestionRank(
                cid, old.best.prompt.label if old.best else "", sub.target.metric, value,
                shortfall(sub.target.metric, value, sub.target.threshold), finished=True))
            continue
        result.ranking.append(_rank(sub, cid, journal, restart, **opts))
    result.ranking.sort(key=lambda r: (r.finished, -r.shortfall))
    result.order = [r.criterion for r in result.ranking if not r.finished]
    result.replayed = [r.criterion for r in result.ranking if r.finished]
    if result.replayed:
        say(f"finished before, read back from the journal: {', '.join(result.replayed)}")
    if result.order:
        say("worst first: " + ", ".join(
            f"{r.criterion} ({r.primary} {_num(r.value)}, "
            + ("passes" if r.shortfall <= 0 else f"short by {_num(r.shortfall)}") + ")"
            for r in result.ranking if not r.finished))

    for cid in result.order:
        sub = subs[cid]
        rank = next(r for r in result.ranking if r.criterion == cid)

        def tell(msg: str, cid: str = cid) -> None:
            say(f"[{cid}] {msg}")
        tell("passes the target: judged once, validated, not revised" if rank.shortfall <= 0
             else f"calibrating question {cid!r} ({card.spec(cid).label})")
        try:
            res = calibrate(sub, reviser_judge=reviser_judge, say=tell, restart=restart,
                            **opts)
        except ManualRevisionPending as exc:
            result.pending[cid] = str(exc)
            tell(str(exc))
            continue
        result.questions[cid] = res
        revised = result.revised.get(cid)
        tell(f"stopped ({res.stop_reason}); "
             + (f"revised: {', '.join(revised)}" if revised else "not revised")
             + (f"; best {res.best.prompt.label}" if res.best else ""))
    for cid in result.replayed:
        result.questions[cid] = done[cid]

    _totals(exp, card, subs, result, judge)
    if result.pending or any(r.stop_reason == "manual" for r in result.questions.values()):
        result.stop_reason = "manual"
    elif all(result.passes(cid) for cid in card.criterion_ids):
        result.stop_reason = "all_pass" if result.total_passes else "total_fails"
        if not result.total_passes:
            result.warnings.append(
                "every question reaches its target but the total's "
                f"{exp.target.metric} does not reach {total_threshold(exp):g}: no question is "
                "left to revise (the weights and critical questions decide the total); see the "
                "per-item totals")
    else:
        result.stop_reason = "not_all_pass"
    result.run_id = _log_scorecard(exp, card, result)
    return result


def _log_scorecard(exp: Experiment, card: Scorecard, result: ScorecardCalibrationResult
                   ) -> str:
    """One MLflow run for the whole scorecard: each question's best figure on both splits,
    the total's, the outcome, and a link both ways with every question's own parent run."""
    import os

    from harness.tracking import Tracker

    secrets = [os.environ[n] for n in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY",
                                       exp.judge.api_key_env or "") if n and os.environ.get(n)]
    tracker = Tracker(exp.tracking.experiment_name or exp.name, exp.tracking.tracking_uri,
                      secrets=secrets)
    metrics: dict[str, float | None] = {}
    tags: dict[str, str] = {"judgecal.stop_reason": result.stop_reason,
                            "judgecal.anchor_set": card.meta.name}
    for cid, res in result.questions.items():
        if res.best is not None:
            fig = res.best.figures.get(res.primary)
            metrics[f"{cid}.{res.primary}"] = fig.value if fig is not None else None
            tags[f"judgecal.question.{cid}.best_version"] = res.best.prompt.label
        if res.holdout is not None:
            fig = res.holdout.figures.get(res.primary)
            metrics[f"{cid}.holdout_{res.primary}"] = fig.value if fig is not None else None
            tags[f"judgecal.question.{cid}.holdout_outcome"] = res.holdout.outcome
        if res.parent_run_id:
            tags[f"judgecal.question.{cid}.run_id"] = res.parent_run_id
    for split, figures in (("", result.total_calibration), ("holdout_", result.total_holdout)):
        for name, fig in (figures or {}).items():
            metrics[f"total.{split}{name}"] = fig.value
    if result.total_verdict is not None:
        tags["judgecal.holdout_outcome"] = result.total_verdict.outcome
    for cid, why in result.pending.items():
        tags[f"judgecal.question.{cid}.pending"] = why
    params = {"anchors": str(exp.anchors.path), "questions": ",".join(card.criterion_ids),
              "order": ",".join(result.order), "threshold": result.threshold,
              "total_primary": result.total_primary, "mode": exp.scorecard.mode}
    run_id = tracker.log_summary_run(
        f"{exp.name} scorecard", run_type="scorecard", params=params, metrics=metrics,
        tags=tags, documents={"scorecard/ranking.json": [
            {"question": r.criterion, "version": r.version, "primary": r.primary,
             "value": _finite(r.value), "shortfall": _finite(r.shortfall),
             "finished_before": r.finished}
            for r in result.ranking]})
    for res in result.questions.values():  # the same store: one client tags them all
        if res.parent_run_id:
            tracker.set_run_tags(res.parent_run_id, {"judgecal.scorecard_run_id": run_id})
    return run_id


def _rank(sub: Experiment, cid: str, journal: Journal, restart: bool, *, console: Any,
          show_progress: bool, judge: Judge) -> QuestionRank:
    """Judge a question's current version on the calibration split (journaled)."""
    aset = load_anchor_set(sub.anchors.path, criterion=cid)
    state = None if restart else LoopState.load(sub)
    version = None
    if (state is not None and state.start_version
            and state.config_hash == config_hash(sub, aset)):
        version = state.start_version  # an unfinished calibration continues from there
    version = version or resolve_prompt(sub, journal).label
    run = judge_anchors(sub, split="calibration", prompt_version=version, judge=judge,
                        show_progress=show_progress, console=console)
    metric = sub.target.metric
    value = None
    if run.unusable_reason(sub.run.max_invalid) is None:
        rep = agreement_report(run.table, judge_scores=run.judge_scores,
                               settings=report_settings(sub, aset))
        value = rep.judge["figures"][metric].value
    return QuestionRank(cid, version, metric, value,
                        shortfall(metric, value, sub.target.threshold))


def _totals(exp: Experiment, card: Scorecard, subs: dict[str, Experiment],
            result: ScorecardCalibrationResult, judge: Judge) -> None:
    """The judge's total from each question's best version, on both splits."""
    results = result.questions
    if set(results) != set(card.criterion_ids) or any(r.best is None for r in results.values()):
        return
    settings = ReportSettings(primary=exp.target.metric,
                              alt_test_epsilon=exp.target.alt_test_epsilon)
    for split in ("calibration", "holdout"):
        if split == "holdout" and any(r.holdout is None for r in results.values()):
            return
        sub_card = card.split(split)
        total = sub_card.total()
        if not total.items:
            continue
        table = total.to_ratings()
        runs = {cid: judge_anchors(subs[cid], split=split, judge=judge, show_progress=False,
                                   prompt_version=results[cid].best.prompt.label)
                for cid in card.criterion_ids}
        scores = judge_totals(sub_card, runs, table.item_ids)
        rep = agreement_report(table, judge_scores=scores, settings=settings)
        if split == "calibration":
            result.total_calibration = rep.judge["figures"]
        else:
            result.total_holdout = rep.judge["figures"]
            result.total_verdict = holdout_verdict(
                rep, scores, np.asarray(table.consensus, dtype=float), exp.target.metric,
                total_threshold(exp))


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _num(value: float | None) -> str:
    return undefined_text() if value is None or not math.isfinite(value) else number_text(value)
