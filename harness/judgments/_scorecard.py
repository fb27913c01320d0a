"""Judging a scorecard: every question with its own prompt, then the judge's total."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from harness.anchors import TOTAL, AnchorError, Problem, RatingsTable, Scorecard, load_scorecard
from harness.experiments import Experiment
from harness.journal import Journal
from harness.judges import JudgeTask, RequestSpec, RunResult, ScoreField
from harness.prompts import PromptError, PromptVersion, render_scorecard

from . import (
    JudgeRun,
    build_judge,
    judge_anchors,
    resolve_prompt,
    run_tasks,
    write_judgments_csv,
)


def is_scorecard_experiment(exp: Experiment) -> bool:
    """Whether an experiment judges a whole scorecard (its anchors have criteria and it names
    no single ``[anchors] criterion``)."""
    if exp.anchors.criterion is not None:
        return False
    from harness.anchors import is_scorecard_input

    return is_scorecard_input(exp.anchors.path)


def one_call_refusal(exp: Experiment, command: str) -> str | None:
    """Why ``command`` (calibrate, gate, validate, promote) cannot take this experiment, or
    None: they revise, gate and promote each question's own prompt, which a scorecard
    judged in one call (``[scorecard] mode = "one_call"``) does not have."""
    if exp.scorecard.mode != "one_call":
        return None
    return (f"{exp.source or exp.name}: {command} works on each question's own prompt, and "
            f"[scorecard] mode = \"one_call\" judges every question with one prompt "
            f"({exp.prompt.name}); use mode = \"per_criterion\" to {command} question by "
            "question, or gate the one-call judge on its judgments: judge --split holdout "
            "--out FILE.csv, then gate --judgments FILE.csv")


@dataclass
class ScorecardRun:
    """One pass of a judge over every question of a scorecard.

    Attributes
    ----------
    experiment : Experiment
        The scorecard experiment.
    scorecard : Scorecard
        The anchors (the judged split).
    split : str
    runs : dict of str to JudgeRun
        Criterion id -> its run (its own prompt, on the criterion's view). In one-call
        mode, each question's view of the one call: its items' judgments with that
        question's score, and no calls, tokens or cost of its own (they are ``call``'s).
    total_table : RatingsTable or None
        The humans' totals (the total view's table), when every question was judged.
    total_scores : ndarray or None
        The judge's total per item of ``total_table`` (:meth:`Scorecard.total_of` of its
        scores; on a label question the judge's score is rounded to the nearest level first;
        NaN when a question has no valid judgment and no critical question failed).
    """

    experiment: Experiment
    scorecard: Scorecard
    split: str
    runs: dict[str, JudgeRun]
    total_table: RatingsTable | None = None
    total_scores: np.ndarray | None = None
    warnings: list[str] = field(default_factory=list)
    #: One-call mode: the pass's calls (one per item and sample, every question at once).
    call: RunResult | None = None

    @property
    def mode(self) -> str:
        """``"per_criterion"`` or ``"one_call"``."""
        return "per_criterion" if self.call is None else "one_call"

    def unusable_reason(self, max_share: float | None = None) -> str | None:
        """The first question whose run is unusable (:meth:`JudgeRun.unusable_reason`)."""
        for cid, run in self.runs.items():
            reason = run.unusable_reason(max_share)
            if reason is not None:
                return f"question {cid!r}: {reason}"
        return None

    def summary(self) -> dict[str, Any]:
        """Per question, the run's summary (:meth:`JudgeRun.summary`)."""
        return {cid: run.summary() for cid, run in self.runs.items()}

    def call_summary(self) -> dict[str, Any] | None:
        """One-call mode: the calls' figures (tasks, requests, statuses, tokens, cost)."""
        r = self.call
        if r is None:
            return None
        return {"n_tasks": len(r.judgments), "n_requests": r.n_requests,
                "n_cached": r.n_cached, "n_ok": r.n_ok, "n_invalid": r.n_invalid,
                "n_failed": r.n_failed, "n_skipped": r.n_skipped,
                "input_tokens": r.input_tokens, "output_tokens": r.output_tokens,
                "cost": r.cost, "elapsed_s": r.elapsed_s, "stopped": r.stopped}

    def judge_scores(self) -> dict[str, np.ndarray]:
        """Criterion id (and ``"total"``) -> the judge's scores aligned with its table."""
        out = {cid: run.judge_scores for cid, run in self.runs.items()}
        if self.total_scores is not None:
            out[TOTAL] = self.total_scores
        return out

    def write_csv(self, path: str | Path) -> Path:
        """Every judgment of every question, with a ``criterion`` column."""
        rows = [{**row, "criterion": cid} for cid, run in self.runs.items()
                for row in run.csv_rows()]
        return write_judgments_csv(path, rows)


def judge_scorecard(
    exp: Experiment,
    *,
    split: str | None = None,
    criteria: list[str] | None = None,
    refresh: bool = False,
    show_progress: bool = True,
    console: Any = None,
    judge: Any = None,
    prompt_version: str | None = None,
) -> ScorecardRun:
    """Judge every question (or the ones named) of a scorecard experiment's split.

    ``[scorecard] mode = "per_criterion"``: each question is judged as
    :func:`judge_anchors` judges a one-question experiment (:meth:`Experiment.for_criterion`:
    the question's view and its own prompt), so the journal keys each judgment by item and
    question and a changed question re-judges only itself.
    ``mode = "one_call"``: one call per item (and sample) scores every question, with the
    ``[prompt] name`` prompt (``scale: scorecard``) and a JSON schema with one property per
    question, each constrained to its scale or labels; the journal holds each call's
    scores by question. A question's figures are computed on the items the humans found it
    applicable to, as in per-criterion mode.
    With every question judged, the judge's total per item is formed like a rater's
    (:meth:`Scorecard.total_of`).

    Parameters
    ----------
    exp : Experiment
        A scorecard experiment (:func:`is_scorecard_experiment`).
    split : str, optional
        calibration, holdout or all (default: the experiment's).
    criteria : list of str, optional
        Only these questions (no total unless all are judged). A question whose run stops
        (circuit breaker, budget) ends the pass: the questions after it are not judged
        (``warnings`` says which), and there is no total. One-call mode: the call asks
        only for these questions. The experiment's ``[budget]`` is one budget for the
        whole pass: each question gets what the questions before it left.
    refresh, show_progress, console, judge
        As for :func:`judge_anchors`.
    prompt_version : str, optional
        One-call mode: the scorecard prompt's version (default: the experiment's). Per
        criterion, each question's version is the experiment's (``[prompt] version``).

    Raises
    ------
    AnchorError
        A criterion the scorecard does not have.
    """
    split = split or exp.anchors.split
    card = load_scorecard(exp.anchors.path)
    wanted = criteria or card.criterion_ids
    unknown = [c for c in wanted if c not in card.criterion_ids]
    if unknown:
        from harness.anchors import Problem

        raise AnchorError([Problem(str(exp.anchors.path), None, "criterion",
                                   f"no question {unknown[0]!r}; the questions are "
                                   f"{', '.join(card.criterion_ids)}")])
    if exp.scorecard.mode == "one_call":
        return _judge_one_call(exp, card, wanted, split, refresh=refresh,
                               show_progress=show_progress, console=console, judge=judge,
                               prompt_version=prompt_version)
    if prompt_version is not None:
        raise ValueError("prompt_version names the one prompt of a one-call scorecard; per "
                         "criterion, judge one question with judge_anchors")
    runs: dict[str, JudgeRun] = {}
    warnings: list[str] = []
    spent_calls, spent_cost = 0, 0.0
    for cid in wanted:
        sub = exp.for_criterion(cid)
        budget = _budget_left(exp, spent_calls, spent_cost)
        if budget is None:  # the scorecard's budget is one budget for the whole pass
            rest = wanted[wanted.index(cid):]
            warnings.append(f"the [budget] is spent: {', '.join(rest)} not judged")
            break
        if budget:
            sub = sub.with_overrides(budget=budget)
        runs[cid] = judge_anchors(sub, split=split, refresh=refresh,
                                  show_progress=show_progress, console=console, judge=judge)
        spent_calls += runs[cid].result.n_requests
        spent_cost += runs[cid].result.cost or 0.0
        if runs[cid].result.stopped and cid != wanted[-1]:
            # a tripped circuit breaker or a spent budget stops the run, not one question
            rest = wanted[wanted.index(cid) + 1:]
            warnings.append(f"question {cid!r} stopped ({runs[cid].result.stopped}): "
                            f"{', '.join(rest)} not judged")
            break
    sub = card if split == "all" else card.split(split)
    return _with_total(ScorecardRun(experiment=exp, scorecard=sub, split=split, runs=runs,
                                    warnings=warnings), card)


def _budget_left(exp: Experiment, calls: int, cost: float) -> dict[str, Any] | None:
    """What is left of the experiment's ``[budget]`` after ``calls`` calls costing
    ``cost`` (``{}``: no budget; None: spent)."""
    left: dict[str, Any] = {}
    if exp.budget.max_calls is not None:
        left["max_calls"] = exp.budget.max_calls - calls
        if left["max_calls"] <= 0:
            return None
    if exp.budget.max_cost is not None:
        left["max_cost"] = exp.budget.max_cost - cost
        if left["max_cost"] <= 0:
            return None
    return left


def _with_total(result: ScorecardRun, card: Scorecard) -> ScorecardRun:
    """The run with the humans' and the judge's totals, when every question was judged."""
    if set(result.runs) == set(card.criterion_ids):
        total = result.scorecard.total()
        if total.items:
            result.total_table = total.to_ratings()
            result.total_scores = judge_totals(result.scorecard, result.runs,
                                               result.total_table.item_ids)
    return result


def score_fields(card: Scorecard, criteria: list[str]) -> tuple[ScoreField, ...]:
    """The reply's fields for these questions: integers on a numeric scale, labels on a
    label scale (the reply's label is scored as its code, like the question's view).

    Raises
    ------
    AnchorError
        A numeric question whose scale is not whole numbers (a JSON schema cannot bound
        a judge's answer to it), or a question named ``reasoning``.
    """
    out = []
    for cid in criteria:
        spec = card.spec(cid)
        if cid == "reasoning":
            raise AnchorError([Problem(str(card.path), None, "criteria",
                                       "a question named 'reasoning' clashes with the reply's "
                                       "reasoning; rename it to judge in one call")])
        if spec.scale.levels is not None:
            out.append(ScoreField(cid, labels=tuple(spec.scale.levels)))
            continue
        lo, hi = spec.scale.min, spec.scale.max
        if lo is None or hi is None or not (float(lo).is_integer() and float(hi).is_integer()):
            raise AnchorError([Problem(str(card.path), None, "criteria",
                                       f"question {cid!r}: a one-call judge answers whole "
                                       f"numbers, and the scale {lo}-{hi} is not")])
        out.append(ScoreField(cid, int(lo), int(hi)))
    return tuple(out)


def _one_call_prompt(exp: Experiment, journal: Journal,
                     version: str | None = None) -> PromptVersion:
    prompt = resolve_prompt(exp, journal, version)
    if not prompt.is_scorecard:
        raise PromptError(prompt.path, prompt.header_lines.get("scale"),
                          f"[scorecard] mode = \"one_call\" needs a prompt that scores every "
                          f"question (header 'scale: scorecard'); {prompt.name} {prompt.label} "
                          f"scores one question on {prompt.scale[0]}-{prompt.scale[1]}")
    if exp.scoring.mode not in (None, "structured"):
        raise PromptError(prompt.path, prompt.header_lines.get("scoring"),
                          "a scorecard judged in one call is scored in structured mode; "
                          f"the experiment says [scoring] mode = {exp.scoring.mode!r}")
    return prompt


def _judge_one_call(exp: Experiment, card: Scorecard, wanted: list[str], split: str, *,
                    refresh: bool, show_progress: bool, console: Any, judge: Any,
                    prompt_version: str | None) -> ScorecardRun:
    """One call per item and sample scoring every wanted question; then each question's view."""
    journal = Journal(exp.state.dir)
    prompt = _one_call_prompt(exp, journal, prompt_version)
    fields = score_fields(card, wanted)
    specs = [card.spec(cid) for cid in wanted]
    sub = card if split == "all" else card.split(split)
    tasks = []
    for item in sub.items:
        messages = render_scorecard(prompt, item, criteria=specs, rubric=card.meta.rubric)
        for s in range(exp.scoring.samples):
            tasks.append(JudgeTask(item_id=item.id, sample_index=s, messages=messages,
                                   prompt_name=prompt.name, prompt_version=prompt.label,
                                   prompt_hash=prompt.hash, anchor_set=card.meta.name))
    codes = [c for f in fields for c in ((f.minimum, f.maximum) if not f.labels
                                         else (0, len(f.labels) - 1))]
    lo, hi = min(codes), max(codes)
    spec = RequestSpec(mode="structured", scale_min=lo, scale_max=max(hi, lo + 1),
                       temperature=exp.judge.temperature, max_tokens=exp.judge.max_tokens,
                       seed=exp.judge.seed, fields=fields)
    judge = judge or build_judge(exp)
    result = run_tasks(exp, judge, tasks, spec, journal, refresh=refresh,
                       show_progress=show_progress, console=console)
    identity = judge.identity()
    scoring = {"mode": "structured", "structured": judge.structured_used, "one_call": True}
    runs: dict[str, JudgeRun] = {}
    for cid in wanted:
        view = card.criterion(cid)
        table = (view if split == "all" else view.split(split)).to_ratings()
        part = _question_view(result, cid, set(table.item_ids))
        by_item = part.item_scores(exp.scoring.aggregate)
        scores = np.array([by_item.get(i, np.nan) for i in table.item_ids], dtype=float)
        runs[cid] = JudgeRun(experiment=exp, anchor_set=view, split=split, prompt=prompt,
                             judge_identity=identity, result=part, table=table,
                             judge_scores=scores, scoring=scoring)
    warnings = []
    if result.n_invalid or result.n_failed:
        warnings.append(f"{result.n_invalid} invalid and {result.n_failed} failed call(s): "
                        "every question of those items is left out of the figures")
    if result.stopped:
        warnings.append(f"run stopped early: {result.stopped}")
    return _with_total(ScorecardRun(experiment=exp, scorecard=sub, split=split, runs=runs,
                                    warnings=warnings, call=result), card)


def _question_view(result: RunResult, cid: str, items: set[str]) -> RunResult:
    """One question's part of a one-call run: its items' judgments with its score; the
    calls, tokens and cost stay with the call (zero here, so nothing is counted twice)."""
    js = [replace(j, score=j.score_of(cid), scores=None, attempts=0, input_tokens=0,
                  output_tokens=0, cost=0.0, latency_s=None)
          for j in result.judgments if j.item_id in items]
    n = {st: sum(j.status == st for j in js) for st in ("ok", "invalid", "failed", "skipped")}
    return RunResult(js, result.stopped, 0, sum(j.cached for j in js), n["ok"], n["invalid"],
                     n["failed"], n["skipped"], 0, 0, 0.0, 0.0)


def judge_totals(card: Scorecard, runs: dict[str, JudgeRun],
                 item_ids: list[str]) -> np.ndarray:
    """The judge's scorecard total per item, formed like a rater's.

    Parameters
    ----------
    card : Scorecard
        The scorecard (any split holding ``item_ids``).
    runs : dict of str to JudgeRun
        Every question's run (criterion id -> run on that question's view).
    item_ids : list of str
        The items to total (the total view's table order).

    Returns
    -------
    ndarray
        :func:`totals_from_scores` of the runs' scores.
    """
    scores = {cid: dict(zip(run.table.item_ids, run.judge_scores, strict=True))
              for cid, run in runs.items()}
    return totals_from_scores(card, scores, item_ids)


def totals_from_scores(card: Scorecard, scores: dict[str, dict[str, float]],
                       item_ids: list[str]) -> np.ndarray:
    """A judge's scorecard total per item from its scores per question, formed like a rater's.

    Parameters
    ----------
    card : Scorecard
        The scorecard (any split holding ``item_ids``).
    scores : dict of str to dict of str to float
        Criterion id -> item id -> the judge's score (a label question's as its code; NaN or
        absent: no valid judgment). Every question must be present.
    item_ids : list of str
        The items to total.

    Returns
    -------
    ndarray
        :meth:`Scorecard.total_of` of the judge's scores per item: a label question's score
        rounded to the nearest level first; a question the humans found not applicable (the
        item is not in the question's view) is N/A; NaN where the total cannot be formed (a
        question without a valid judgment and no critical question failed).
    """
    applicable = {cid: {it.id for it in card.criterion(cid).items} for cid in card.criterion_ids}
    out = np.full(len(item_ids), np.nan)
    for k, item in enumerate(item_ids):
        values: dict[str, float | str | None] = {}
        for cid in card.criterion_ids:
            spec = card.spec(cid)
            if item not in applicable[cid]:  # the humans found the question not applicable
                values[cid] = "NA" if spec.na_allowed else None
                continue
            v = scores[cid].get(item, np.nan)
            if v != v:  # NaN: no valid judgment
                values[cid] = None
            elif spec.scale.levels is not None:
                values[cid] = float(min(max(round(v), 0), len(spec.scale.levels) - 1))
            else:
                values[cid] = float(v)
        total = card.total_of(values)
        out[k] = total if isinstance(total, float) else np.nan
    return out
