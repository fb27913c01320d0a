"""A cascade of judges on an experiment's anchors: each stage's threshold on the calibration
items that reach it, the holdout check per stage and overall, the items escalated to humans
and what each stage costs (what ``judgecal selective EXP --then EXP2`` runs)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.reports import confidence_text

from ._cascade import (
    HUMANS,
    CascadeCalibration,
    CascadeOutcome,
    cascade_outcome,
    cascade_thresholds,
)
from ._confidence import ConfidenceSource, SelectiveError, run_confidence
from ._run import SplitData, check_live_signal, split_runs
from ._stats import CurvePoint, agreement_coverage_curve

if TYPE_CHECKING:
    from harness.experiments import Experiment
    from harness.judgments import JudgeRun, RecordedJudge

__all__ = ["CascadeReport", "CascadeStageRuns", "cascade_check", "cascade_from_runs",
           "stage_cost"]


@dataclass
class CascadeStageRuns:
    """One stage's judge runs: the calibration run, the holdout run (or None), the judgments
    file behind recorded runs (or None), and a label for people."""

    label: str
    calibration: JudgeRun
    holdout: JudgeRun | None = None
    recorded: RecordedJudge | None = None


def stage_cost(run: JudgeRun, items: Sequence[str]) -> dict[str, Any]:
    """What a stage's judge spent on some items of a run: ``calls`` (judgments: items times
    samples), ``input_tokens``, ``output_tokens`` and ``cost`` (USD).

    Tokens and cost are as the journal has them (a judgment answered from the journal
    counts what its call cost when it was made, priced today), None for a judgments file
    (it has none) and the cost None when some model's price is unknown.
    """
    wanted = set(items)
    mine = [j for j in run.result.judgments if j.item_id in wanted and j.status != "skipped"]
    recorded = run.scoring.get("mode") == "recorded"
    tokens_in = None if recorded else sum(j.input_tokens for j in mine)
    tokens_out = None if recorded else sum(j.output_tokens for j in mine)
    cost = None if recorded or any(j.cost is None for j in mine) else \
        float(sum(j.cost or 0.0 for j in mine))
    return {"items": len(wanted), "calls": len(mine), "input_tokens": tokens_in,
            "output_tokens": tokens_out, "cost": cost}


def _add_costs(costs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"calls": sum(c["calls"] for c in costs)}
    for key in ("input_tokens", "output_tokens", "cost"):
        values = [c[key] for c in costs]
        out[key] = None if any(v is None for v in values) else sum(values)
    return out


@dataclass
class CascadeReport:
    """The outcome of :func:`cascade_check` / :func:`cascade_from_runs`.

    Attributes
    ----------
    labels : list of str
        The stages, cheapest first.
    sources : list of str
        Each stage's confidence signal.
    tolerance : float
    calibration : CascadeCalibration
        The thresholds, each chosen on the calibration items that reached its stage.
    outcomes : dict of str to CascadeOutcome
        Per split (``calibration``, ``holdout``).
    data : dict of str to list of SplitData
        Per split, one per stage (aligned on the same items).
    costs : dict of str to list of dict
        Per split, each stage's :func:`stage_cost` on the items that reached it.
    last_alone : dict of str to dict
        Per split, the last stage's cost on every item (the cascade's saving is against it).
    judges : list of dict
    warnings, unusable : list of str
    """

    labels: list[str]
    sources: list[str]
    tolerance: float
    calibration: CascadeCalibration
    outcomes: dict[str, CascadeOutcome]
    data: dict[str, list[SplitData]]
    costs: dict[str, list[dict[str, Any]]]
    last_alone: dict[str, dict[str, Any]]
    judges: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unusable: list[str] = field(default_factory=list)

    @property
    def target(self) -> float:
        return self.calibration.target

    @property
    def delta(self) -> float:
        return self.calibration.delta

    @property
    def thresholds(self) -> list[float | None]:
        return self.calibration.thresholds

    @property
    def holdout(self) -> CascadeOutcome | None:
        return self.outcomes.get("holdout")

    def curve(self, stage: int, split: str = "calibration") -> list[CurvePoint]:
        """The agreement–coverage curve of one stage's judge alone on every item of a
        split (what that judge would do without the cascade)."""
        d = self.data[split][stage]
        return agreement_coverage_curve(d.confidence, d.correct)

    def split_dict(self, split: str) -> dict[str, Any]:
        """Overall ``coverage``, ``agreement``, ``guarantee_held`` (and counts, CI, the
        escalated share, the cost) with each stage's figures under ``stages``."""
        o = self.outcomes[split]
        doc = {"thresholds": self.thresholds, **o.to_dict(),
               "cost": _add_costs(self.costs[split]),
               "cost_last_stage_alone": self.last_alone[split]}
        for j, stage in enumerate(doc["stages"]):
            stage.update({"stage": j + 1, "label": self.labels[j],
                          "threshold": self.thresholds[j], "cost": self.costs[split][j]})
        return doc

    def escalations(self) -> list[dict[str, Any]]:
        """The items every stage abstained on, per split (ESCALATION_COLUMNS; the
        confidence, threshold and score are the last stage's)."""
        rows = []
        last = len(self.labels) - 1
        for split, stages in self.data.items():
            assigned = self.outcomes[split].assigned
            for i, item in enumerate(stages[0].item_ids):
                if assigned[i] != HUMANS:
                    continue
                why = []
                for j, d in enumerate(stages):
                    c, lam = d.confidence[i], self.thresholds[j]
                    if np.isnan(c):
                        why.append(f"{self.labels[j]}: no valid judgment")
                    elif lam is None:
                        why.append(f"{self.labels[j]}: no threshold certified")
                    else:
                        why.append(f"{self.labels[j]}: confidence "
                                   f"{confidence_text(c, beside=lam)} below "
                                   f"{confidence_text(lam)}")
                d = stages[last]
                c, s = d.confidence[i], d.judge_scores[i]
                rows.append({"item_id": item, "split": split,
                             "reason": "every stage abstained (" + "; ".join(why) + ")",
                             "confidence": None if np.isnan(c) else float(c),
                             "threshold": self.thresholds[last],
                             "judge_score": None if np.isnan(s) else float(s),
                             "consensus": float(d.consensus[i])})
        return rows

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` document of a cascade."""
        cal = self.calibration
        stages = []
        for j, t in enumerate(cal.stages):
            stages.append({"stage": j + 1, "label": self.labels[j],
                           "confidence": self.sources[j], "judge": self.judges[j]
                           if j < len(self.judges) else {},
                           "threshold": t.threshold, "certified": t.certified,
                           "delta": t.delta, "min_kept": t.min_kept,
                           "steps": [s.to_dict() for s in t.steps],
                           "curve": [p.to_dict() for p in self.curve(j)]})
        return {
            "cascade": True, "target": self.target, "delta": self.delta,
            "joint": cal.joint, "stage_delta": cal.stage_delta,
            "union_confidence": cal.union_confidence, "tolerance": self.tolerance,
            "thresholds": self.thresholds, "certified": any(t.certified for t in cal.stages),
            "stages": stages,
            "calibration": self.split_dict("calibration"),
            "holdout": self.split_dict("holdout") if "holdout" in self.outcomes else None,
            "n_escalated": len(self.escalations()), "warnings": self.warnings,
        }


def cascade_from_runs(stages: Sequence[CascadeStageRuns], *, target: float, delta: float,
                      tolerance: float = 0.5, confidence: ConfidenceSource = "auto",
                      joint: bool = False, start: int | None = None) -> CascadeReport:
    """The cascade's thresholds on the stages' calibration runs, checked on their holdout
    runs.

    Parameters
    ----------
    stages : sequence of CascadeStageRuns
        Cheapest first; every stage judged the same anchor items.
    target, delta, tolerance, confidence, start
        See :func:`~harness.selective.selective_from_runs` (``confidence`` is resolved
        per stage).
    joint : bool
        Test each stage at ``delta / k`` (see :func:`~harness.selective.cascade_thresholds`).

    Returns
    -------
    CascadeReport

    Raises
    ------
    SelectiveError
        No stage, no confidence signal in a stage, stages on different items, or no
        calibration item with a consensus.
    """
    if not stages:
        raise SelectiveError("a cascade needs at least one stage")
    splits = ["calibration"] + (["holdout"] if all(s.holdout is not None for s in stages)
                                else [])
    data: dict[str, list[SplitData]] = {s: [] for s in splits}
    sources: list[str] = []
    warnings: list[str] = []
    for st in stages:
        conf, source = run_confidence(st.calibration, confidence, recorded=st.recorded)
        sources.append(source)
        data["calibration"].append(SplitData.of(st.calibration, conf, tolerance=tolerance))
        if "holdout" in data:
            hconf, _ = run_confidence(st.holdout, source,  # type: ignore[arg-type]
                                      recorded=st.recorded)
            data["holdout"].append(SplitData.of(st.holdout, hconf,  # type: ignore[arg-type]
                                                tolerance=tolerance))
        for run in (st.calibration, st.holdout):
            if run is not None:
                warnings += [f"{st.label}: {w}" for w in run.warnings
                             if f"{st.label}: {w}" not in warnings]
    for split, per_stage in data.items():
        first = per_stage[0]
        for st, d in zip(stages[1:], per_stage[1:], strict=True):
            if d.item_ids != first.item_ids or not np.array_equal(d.consensus,
                                                                  first.consensus):
                raise SelectiveError(
                    f"the cascade's stages judge different anchors: {st.label} on the {split} "
                    f"split has {len(d.item_ids)} item(s), {stages[0].label} "
                    f"{len(first.item_ids)} (every stage must use the same anchor set)")
    if not data["calibration"][0].item_ids:
        raise SelectiveError("no calibration item has a human consensus")
    cal = data["calibration"]
    calibration = cascade_thresholds([d.confidence for d in cal], [d.correct for d in cal],
                                     target=target, delta=delta, joint=joint, start=start)
    outcomes, costs, last_alone = {}, {}, {}
    for split, per_stage in data.items():
        o = cascade_outcome([d.confidence for d in per_stage],
                            [d.correct for d in per_stage], calibration.thresholds,
                            target=target)
        outcomes[split] = o
        ids = np.array(per_stage[0].item_ids, dtype=object)
        reaching = np.ones(ids.size, dtype=bool)
        costs[split] = []
        for j, st in enumerate(stages):
            run = st.calibration if split == "calibration" else st.holdout
            costs[split].append(stage_cost(run, list(ids[reaching])))  # type: ignore[arg-type]
            reaching &= o.assigned != j
        last = stages[-1].calibration if split == "calibration" else stages[-1].holdout
        last_alone[split] = stage_cost(last, list(ids))  # type: ignore[arg-type]
    for j, t in enumerate(calibration.stages):
        if not t.certified:
            warnings.append(
                f"stage {j + 1} ({stages[j].label}): no threshold certifies {target:g} "
                f"agreement at delta {t.delta:g} on the {t.calibration.n} calibration items "
                f"that reach it (at least {t.min_kept} kept items are needed even with no "
                "disagreement): it keeps nothing and passes every item on")
    return CascadeReport([s.label for s in stages], sources, tolerance, calibration, outcomes,
                         data, costs, last_alone,
                         judges=[dict(s.calibration.judge_identity) for s in stages],
                         warnings=warnings)


def cascade_check(experiments: Sequence[Experiment], *, target: float, delta: float,
                  tolerance: float = 0.5, confidence: ConfidenceSource = "auto",
                  judgments: Sequence[str | Path] | None = None,
                  judges: Sequence[str | None] | None = None, criterion: str | None = None,
                  joint: bool = False, start: int | None = None, refresh: bool = False,
                  show_progress: bool = False, console: Any = None) -> CascadeReport:
    """Judge both splits with every stage's judge and calibrate the cascade.

    Parameters
    ----------
    experiments : sequence of Experiment
        The stages, cheapest first (``judgecal selective EXP --then EXP2 ...``); they must
        use the same anchor set. Each stage's judge answers from the journal when it
        already judged the anchors.
    target, delta, tolerance, confidence, start
        See :func:`~harness.selective.selective_check`.
    judgments : sequence of str or Path, optional
        Judgments files instead of calls: one shared by every stage (with ``judges``
        naming each stage's judge in it) or one per stage.
    judges : sequence of str or None, optional
        Each stage's judge in its judgments file (one per stage).
    criterion : str, optional
        A scorecard's question (or the judgments files' criterion).
    joint : bool
        See :func:`cascade_from_runs`.
    refresh, show_progress, console
        Passed to :func:`~harness.judgments.judge_anchors`.

    Returns
    -------
    CascadeReport

    Raises
    ------
    SelectiveError, AnchorError, PromptError, JudgmentsFileError
        Input errors (checked before any call where they can be).
    ProviderError
        A provider failure.
    """
    k = len(experiments)
    files = list(judgments or [])
    names = list(judges or [])
    if len(files) not in (0, 1, k):
        raise SelectiveError(f"{len(files)} judgments files for {k} stages: give one shared "
                             "file or one per stage")
    if names and (len(names) != k or not files):
        raise SelectiveError(f"{len(names)} judge name(s) for {k} stages: name one judge per "
                             "stage, with judgments files")
    if len(files) == 1:
        files = files * k
    if not files:  # every live stage's signal, before any stage is judged
        for exp in experiments:
            check_live_signal(exp, confidence)
    stages = []
    used: list[tuple[Experiment, list[JudgeRun]]] = []
    for j, exp in enumerate(experiments):
        file = files[j] if files else None
        name = names[j] if names else None
        runs, recorded = split_runs(exp, judgments=file, judge=name, criterion=criterion,
                                    refresh=refresh, show_progress=show_progress,
                                    console=console, confidence=confidence)
        label = exp.name if name is None else f"{exp.name} ({name})"
        stages.append(CascadeStageRuns(label if label not in [s.label for s in stages]
                                       else f"{label} #{j + 1}", runs[0],
                                       runs[1] if len(runs) > 1 else None, recorded))
        used.append((exp, runs))
    report = cascade_from_runs(stages, target=target, delta=delta, tolerance=tolerance,
                               confidence=confidence, joint=joint, start=start)
    report.unusable = [r for exp, runs in used for r in
                       (run.unusable_reason(exp.run.max_invalid) for run in runs)
                       if r is not None]
    return report
