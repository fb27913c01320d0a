"""Selective evaluation of an experiment's judge: the threshold on the calibration split,
the check on the holdout, the escalated items (what ``judgecal selective`` runs)."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.reports import confidence_text

from ._confidence import ConfidenceSource, SelectiveError, choose_source, run_confidence
from ._stats import (
    CurvePoint,
    SelectiveOutcome,
    SelectiveThreshold,
    agreement_coverage_curve,
    agreement_indicator,
    fixed_sequence_threshold,
    selective_outcome,
)

if TYPE_CHECKING:
    from harness.experiments import Experiment
    from harness.judgments import JudgeRun, RecordedJudge

__all__ = ["ESCALATION_COLUMNS", "SelectiveReport", "SplitData", "read_escalations",
           "selective_check", "selective_from_runs", "split_runs", "write_escalations"]

#: The columns of an escalations file (``--escalations FILE``).
ESCALATION_COLUMNS = ["item_id", "split", "reason", "confidence", "threshold", "judge_score",
                      "consensus"]


@dataclass(frozen=True)
class SplitData:
    """One split's items as selective evaluation sees them (arrays aligned with ids)."""

    split: str
    item_ids: tuple[str, ...]
    confidence: np.ndarray
    judge_scores: np.ndarray
    consensus: np.ndarray
    correct: np.ndarray

    @classmethod
    def of(cls, run: JudgeRun, confidence: np.ndarray, *, tolerance: float) -> SplitData:
        """Items with a consensus only (without one, agreement is undefined)."""
        ids = list(run.table.item_ids)
        consensus = (np.asarray(run.table.consensus, dtype=float)
                     if run.table.consensus is not None else np.full(len(ids), np.nan))
        keep = ~np.isnan(consensus)
        judge = np.asarray(run.judge_scores, dtype=float)
        conf = np.where(np.isnan(judge), np.nan, confidence)  # no valid score: never kept
        return cls(run.split, tuple(i for i, k in zip(ids, keep, strict=True) if k),
                   conf[keep], judge[keep], consensus[keep],
                   agreement_indicator(judge[keep], consensus[keep], tolerance=tolerance))


@dataclass
class SelectiveReport:
    """The outcome of :func:`selective_check`.

    Attributes
    ----------
    source : str
        The confidence signal (``top_mass``, ``spread``, ``samples``, ``recorded``).
    tolerance : float
        Agreement per item: ``|judge - consensus| <= tolerance``.
    threshold : SelectiveThreshold
        Chosen on the calibration split; its ``calibration`` outcome.
    holdout : SelectiveOutcome or None
        The threshold applied to the holdout split (None: no holdout judged).
    data : dict of str to SplitData
    judge : dict
        The judge's identity.
    warnings : list of str
    unusable : list of str
        Why a split's judge run cannot be used (stopped, too many judgments without a
        score: :meth:`harness.judgments.JudgeRun.unusable_reason`); empty when usable.
    """

    source: str
    tolerance: float
    threshold: SelectiveThreshold
    holdout: SelectiveOutcome | None
    data: dict[str, SplitData]
    judge: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    unusable: list[str] = field(default_factory=list)

    @property
    def target(self) -> float:
        return self.threshold.target

    @property
    def delta(self) -> float:
        return self.threshold.delta

    def curve(self, split: str) -> list[CurvePoint]:
        """The agreement–coverage curve of one split."""
        d = self.data[split]
        return agreement_coverage_curve(d.confidence, d.correct)

    def split_dict(self, split: str) -> dict[str, Any]:
        """``threshold``, ``coverage``, ``agreement``, ``guarantee_held`` (and counts, CI)."""
        o = self.threshold.calibration if split == "calibration" else self.holdout
        if o is None:
            return {}
        return {"threshold": self.threshold.threshold, **o.to_dict()}

    def escalations(self) -> list[dict[str, Any]]:
        """The items the judge abstains on, per split: one row of ESCALATION_COLUMNS each."""
        lam = self.threshold.threshold
        rows = []
        for split, d in self.data.items():
            kept = self.threshold.keep(d.confidence)
            for i, item in enumerate(d.item_ids):
                if kept[i]:
                    continue
                c = d.confidence[i]
                if np.isnan(c):
                    reason = "no valid judgment"
                elif lam is None:
                    reason = f"no threshold certifies {self.target:g} agreement"
                else:
                    reason = (f"confidence {confidence_text(c, beside=lam)} below the "
                              f"threshold {confidence_text(lam)}")
                rows.append({"item_id": item, "split": split, "reason": reason,
                             "confidence": None if np.isnan(c) else float(c),
                             "threshold": lam,
                             "judge_score": None if np.isnan(d.judge_scores[i])
                             else float(d.judge_scores[i]),
                             "consensus": float(d.consensus[i])})
        return rows

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` document."""
        return {
            "target": self.target, "delta": self.delta, "tolerance": self.tolerance,
            "confidence": self.source, "certified": self.threshold.certified,
            "threshold": self.threshold.threshold, "min_kept": self.threshold.min_kept,
            "calibration": self.split_dict("calibration"),
            "holdout": self.split_dict("holdout") if self.holdout is not None else None,
            "steps": [s.to_dict() for s in self.threshold.steps],
            "curve": {s: [p.to_dict() for p in self.curve(s)] for s in self.data},
            "n_escalated": len(self.escalations()),
            "judge": self.judge, "warnings": self.warnings,
        }


def selective_from_runs(calibration: JudgeRun, holdout: JudgeRun | None, *, target: float,
                        delta: float, tolerance: float = 0.5,
                        confidence: ConfidenceSource = "auto",
                        recorded: Any = None, start: int | None = None) -> SelectiveReport:
    """The threshold on the calibration run, checked on the holdout run.

    Parameters
    ----------
    calibration, holdout : JudgeRun
        The judge's runs on each split (holdout None: no check).
    target, delta : float
        See :func:`~harness.selective.fixed_sequence_threshold`.
    tolerance : float
        Agreement per item (:func:`~harness.selective.agreement_indicator`).
    confidence : str
        See :func:`~harness.selective.run_confidence`.
    recorded : RecordedJudge, optional
        The judgments file behind recorded runs.
    start : int, optional
        See :func:`~harness.selective.fixed_sequence_threshold`.

    Returns
    -------
    SelectiveReport

    Raises
    ------
    SelectiveError
        No confidence signal, or no calibration item with a consensus.
    """
    conf, source = run_confidence(calibration, confidence, recorded=recorded)
    cal = SplitData.of(calibration, conf, tolerance=tolerance)
    if not cal.item_ids:
        raise SelectiveError("no calibration item has a human consensus")
    threshold = fixed_sequence_threshold(cal.confidence, cal.correct, target=target,
                                         delta=delta, start=start)
    data = {"calibration": cal}
    outcome = None
    warnings = list(dict.fromkeys(calibration.warnings))
    if holdout is not None:
        hconf, _ = run_confidence(holdout, source, recorded=recorded)  # type: ignore[arg-type]
        hold = SplitData.of(holdout, hconf, tolerance=tolerance)
        data["holdout"] = hold
        outcome = selective_outcome(hold.confidence, hold.correct, threshold.threshold,
                                    target=target)
        warnings += [w for w in holdout.warnings if w not in warnings]
    if not threshold.certified:
        warnings.append(
            f"no threshold certifies {target:g} agreement at delta {delta:g} on the "
            f"{len(cal.item_ids)} calibration items (at least {threshold.min_kept} kept "
            "items are needed even with no disagreement): every item is escalated")
    return SelectiveReport(source, tolerance, threshold, outcome, data,
                           judge=dict(calibration.judge_identity), warnings=warnings)


def selective_check(exp: Experiment, *, target: float, delta: float, tolerance: float = 0.5,
                    confidence: ConfidenceSource = "auto", judgments: str | Path | None = None,
                    judge: str | None = None, criterion: str | None = None,
                    start: int | None = None, refresh: bool = False, show_progress: bool = False,
                    console: Any = None) -> SelectiveReport:
    """Judge the calibration and holdout splits and choose the abstention threshold.

    The judge is the experiment's, through :func:`harness.judgments.judge_anchors` (answers
    from the journal when already judged), or a judgments file (``judgments``; no call).

    Parameters
    ----------
    exp : Experiment
    target, delta, tolerance, confidence
        See :func:`selective_from_runs`.
    judgments : str or Path, optional
        A judgments file (``judge --out``, long CSV/JSONL, ``FORMAT:SOURCE``), with an
        optional ``confidence`` column.
    judge, criterion : str, optional
        The file's judge and criterion when it has several.
    start : int, optional
        See :func:`~harness.selective.fixed_sequence_threshold`.
    refresh, show_progress, console
        Passed to :func:`~harness.judgments.judge_anchors`.

    Returns
    -------
    SelectiveReport

    Raises
    ------
    SelectiveError, AnchorError, PromptError, JudgmentsFileError
        Input errors.
    ProviderError
        A provider failure.
    """
    runs, recorded = split_runs(exp, judgments=judgments, judge=judge, criterion=criterion,
                                refresh=refresh, show_progress=show_progress, console=console,
                                confidence=confidence)
    report = selective_from_runs(runs[0], runs[1] if len(runs) > 1 else None, target=target,
                                 delta=delta, tolerance=tolerance, confidence=confidence,
                                 recorded=recorded, start=start)
    report.unusable = [r for r in (run.unusable_reason(exp.run.max_invalid) for run in runs)
                       if r is not None]
    return report


def split_runs(exp: Experiment, *, judgments: str | Path | None = None, judge: str | None = None,
               criterion: str | None = None, refresh: bool = False, show_progress: bool = False,
               console: Any = None, confidence: ConfidenceSource = "auto"
               ) -> tuple[list[JudgeRun], RecordedJudge | None]:
    """The judge's runs on the calibration split and (when it has items) the holdout.

    The experiment's judge through :func:`harness.judgments.judge_anchors` (the journal
    first), or the judgments file ``judgments`` (its judge ``judge``; nothing is called).
    Before the experiment's judge is called, its scoring is checked to give the
    ``confidence`` signal (logprob mode or several samples), so that a judge without one
    fails as bad input with no call made.

    Returns
    -------
    runs : list of JudgeRun
        The calibration run first, then the holdout's when the set has a holdout.
    recorded : RecordedJudge or None
        The judgments file's judge (its ``confidence`` column), or None.

    Raises
    ------
    SelectiveError
        No calibration item; and what the judging raises.
    """
    from harness.anchors import load_anchor_set
    from harness.judgments import judge_anchors, read_judgments_file, recorded_run

    aset = load_anchor_set(exp.anchors.path, criterion=exp.anchors.criterion)
    recorded = None
    splits = [s for s in ("calibration", "holdout") if aset.split(s).items]
    if judgments is not None:
        recorded = read_judgments_file(judgments).pick(
            judge, criterion, experiment_criterion=exp.anchors.criterion)
        runs = [recorded_run(exp, aset, s, recorded) for s in splits]
    else:
        check_live_signal(exp, confidence)
        runs = [judge_anchors(exp, split=s, refresh=refresh, show_progress=show_progress,
                              console=console) for s in splits]
    if not runs or runs[0].split != "calibration":
        raise SelectiveError(f"{exp.anchors.path}: no calibration item to choose a threshold "
                             "on")
    return runs, recorded


def check_live_signal(exp: Experiment, confidence: ConfidenceSource = "auto") -> None:
    """Check, before any call, that the experiment's judge gives the ``confidence`` signal.

    A live judge has one only in logprob mode or with several samples per item
    (``[scoring] samples``); the same rule and messages as :func:`run_confidence`.

    Raises
    ------
    SelectiveError
        No signal, or not the one asked for; PromptError for a broken prompt.
    """
    from harness.judgments import resolve_prompt, scoring_mode

    mode = scoring_mode(exp, resolve_prompt(exp, None))
    choose_source(confidence, has_column=False, mode=mode, several=exp.scoring.samples > 1,
                  what=f"{exp.name} judges in {mode} mode with one sample per item")


# --------------------------------------------------------------------------- escalations


def write_escalations(path: str | Path, rows: list[dict[str, Any]]) -> Path:
    """Write escalated items (:meth:`SelectiveReport.escalations`) as CSV."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=ESCALATION_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in r.items()})
    return p


def read_escalations(path: str | Path) -> list[str]:
    """The item ids of an escalations file (``item_id`` column; others ignored), in order.

    Raises
    ------
    SelectiveError
        ``path:line: message``: unreadable, no ``item_id`` column, an empty id, no rows.
    """
    p = Path(path)
    ids: dict[str, None] = {}
    try:
        with p.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or "item_id" not in [f.strip() for f in
                                                          reader.fieldnames]:
                raise SelectiveError(f"{p}:1: no item_id column; expected an escalations "
                                     "file (judgecal selective --escalations FILE)")
            key = next(f for f in reader.fieldnames if f.strip() == "item_id")
            start = reader.line_num + 1
            for row in reader:
                line, start = start, reader.line_num + 1
                item = (row.get(key) or "").strip()
                if not item:
                    raise SelectiveError(f"{p}:{line}: empty item_id")
                ids.setdefault(item)
    except OSError as exc:
        raise SelectiveError(f"cannot read {p}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise SelectiveError(f"{p}: not UTF-8 text ({exc.reason})") from None
    except csv.Error as exc:
        raise SelectiveError(f"{p}: {exc}") from None
    if not ids:
        raise SelectiveError(f"{p}: no escalated items")
    return list(ids)
