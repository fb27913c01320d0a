"""Judging a scorecard: every question with its own prompt, then the judge's total."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.anchors import TOTAL, AnchorError, RatingsTable, Scorecard, load_scorecard
from harness.experiments import Experiment

from . import JudgeRun, judge_anchors, write_judgments_csv


def is_scorecard_experiment(exp: Experiment) -> bool:
    """Whether an experiment judges a whole scorecard (its anchors have criteria and it names
    no single ``[anchors] criterion``)."""
    if exp.anchors.criterion is not None:
        return False
    from harness.anchors import is_scorecard_input

    return is_scorecard_input(exp.anchors.path)


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
        Criterion id -> its run (its own prompt, on the criterion's view).
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
) -> ScorecardRun:
    """Judge every question (or the ones named) of a scorecard experiment's split.

    Each question is judged as :func:`judge_anchors` judges a one-question experiment
    (:meth:`Experiment.for_criterion`: the question's view and its own prompt), so the
    journal keys each judgment by item and question and a changed question re-judges only
    itself. With every question judged, the judge's total per item is formed like a
    rater's (:meth:`Scorecard.total_of`).

    Parameters
    ----------
    exp : Experiment
        A scorecard experiment (:func:`is_scorecard_experiment`).
    split : str, optional
        calibration, holdout or all (default: the experiment's).
    criteria : list of str, optional
        Only these questions (no total unless all are judged). A question whose run stops
        (circuit breaker, budget) ends the pass: the questions after it are not judged
        (``warnings`` says which), and there is no total.
    refresh, show_progress, console, judge
        As for :func:`judge_anchors`.

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
    runs: dict[str, JudgeRun] = {}
    warnings: list[str] = []
    for cid in wanted:
        runs[cid] = judge_anchors(exp.for_criterion(cid), split=split, refresh=refresh,
                                  show_progress=show_progress, console=console, judge=judge)
        if runs[cid].result.stopped and cid != wanted[-1]:
            # a tripped circuit breaker or a spent budget stops the run, not one question
            rest = wanted[wanted.index(cid) + 1:]
            warnings.append(f"question {cid!r} stopped ({runs[cid].result.stopped}): "
                            f"{', '.join(rest)} not judged")
            break
    sub = card if split == "all" else card.split(split)
    result = ScorecardRun(experiment=exp, scorecard=sub, split=split, runs=runs,
                          warnings=warnings)
    if set(runs) == set(card.criterion_ids):
        total = sub.total()
        if total.items:
            result.total_table = total.to_ratings()
            result.total_scores = judge_totals(sub, runs, result.total_table.item_ids)
    return result


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
        :meth:`Scorecard.total_of` of the judge's scores per item: a label question's score
        rounded to the nearest level first; a question the humans found not applicable is
        N/A; NaN where the total cannot be formed (a question without a valid judgment and
        no critical question failed).
    """
    by_item = {cid: dict(zip(run.table.item_ids, run.judge_scores, strict=True))
               for cid, run in runs.items()}
    out = np.full(len(item_ids), np.nan)
    for k, item in enumerate(item_ids):
        values: dict[str, float | str | None] = {}
        for cid in card.criterion_ids:
            spec = card.spec(cid)
            if item not in by_item[cid]:  # the humans found the question not applicable
                values[cid] = "NA" if spec.na_allowed else None
                continue
            v = by_item[cid][item]
            if v != v:  # NaN: no valid judgment
                values[cid] = None
            elif spec.scale.levels is not None:
                values[cid] = float(min(max(round(v), 0), len(spec.scale.levels) - 1))
            else:
                values[cid] = float(v)
        total = card.total_of(values)
        out[k] = total if isinstance(total, float) else np.nan
    return out
