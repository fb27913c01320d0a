"""What a gate decided: the version gated, the checks, the verdict and its exit code.

The types a gate returns (:class:`GateResult` and its parts) and the verdict rules that
need no judge, MLflow or file: the gate in ``_gate`` fills them, the writers in
``_outputs`` read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from harness.agreement import AgreementResult
from harness.anchors import RatingsTable
from harness.experiments import Experiment
from harness.judgments import InvalidCheck, JudgeRun
from harness.prompts import PromptVersion
from harness.reports import AgreementReport

from ._bars import BarResult, GateSettings

EXIT_PASS = 0
EXIT_BELOW_BAR = 1
EXIT_INPUT = 2
EXIT_JUDGE = 3
#: A bar's CI straddles it (or the figure is undefined), or the human gold is not reliable.
EXIT_INCONCLUSIVE = 4

#: The family-wise error rate the gate's CIs hold across all looks at one holdout.
HOLDOUT_ALPHA = 0.05


def holdout_confidence(n_looks: int, alpha: float = HOLDOUT_ALPHA) -> float:
    """The confidence of the gate's CIs after ``n_looks`` looks at a holdout (Bonferroni).

    Each look (a distinct version or judge evaluated on the same holdout) is another chance
    to ship a judge that passed by luck; splitting ``alpha`` over the looks keeps the chance
    that any of them passed by luck at most ``alpha``.

    Parameters
    ----------
    n_looks : int
        Distinct looks, this one included (at least 1).
    alpha : float

    Returns
    -------
    float
        ``1 - alpha / n_looks``.

    Examples
    --------
    >>> holdout_confidence(1), holdout_confidence(2), round(holdout_confidence(5), 3)
    (0.95, 0.975, 0.99)
    """
    return 1.0 - alpha / max(1, int(n_looks))


def _bars_outcome(bars: list[BarResult], gold_unreliable: bool) -> str:
    """One part's outcome: ``inconclusive`` on unreliable gold, else ``fail`` if a bar
    failed, ``inconclusive`` if a bar is, ``pass`` otherwise."""
    if gold_unreliable:
        return "inconclusive"
    if any(b.outcome == "fail" for b in bars):
        return "fail"
    return "inconclusive" if any(b.inconclusive for b in bars) else "pass"


class _Outcome:
    """``exit_code``, ``passed`` and ``status`` of a result from its ``outcome``, and its
    failed and inconclusive bars from its ``bars``."""

    outcome: str
    bars: list[BarResult]

    @property
    def failed_bars(self) -> list[BarResult]:
        return [b for b in self.bars if b.outcome == "fail"]

    @property
    def inconclusive_bars(self) -> list[BarResult]:
        return [b for b in self.bars if b.outcome == "inconclusive"]

    @property
    def exit_code(self) -> int:
        """0 pass; 1 a bar failed; 3 too many invalid or failed judgments; 4 inconclusive."""
        return {"pass": EXIT_PASS, "fail": EXIT_BELOW_BAR, "inconclusive": EXIT_INCONCLUSIVE
                }.get(self.outcome, EXIT_JUDGE)

    @property
    def passed(self) -> bool:
        return self.exit_code == EXIT_PASS

    @property
    def status(self) -> str:
        """The outcome: ``pass``, ``fail``, ``inconclusive`` or ``error``."""
        return self.outcome


@dataclass
class HoldoutLooks:
    """The holdout ledger as this evaluation saw it (this look included).

    Attributes
    ----------
    items_hash : str
        The holdout (``AnchorSet.items_hash("holdout")``).
    versions : list of dict
        One per distinct (prompt hash, judge hash) pair evaluated on it, oldest first:
        ``prompt_name``, ``prompt_version``, ``prompt_hash``, ``judge_hash``, ``command``
        (the first that looked), ``looked_at`` (ISO time), ``current`` (this evaluation).
    fresh_holdout : bool
        ``--fresh-holdout`` was given (and held: no other version had looked).
    recorded : bool
        This look was new in the ledger (False: the same version and judge had looked).
    """

    items_hash: str
    versions: list[dict[str, Any]]
    fresh_holdout: bool = False
    recorded: bool = False

    @property
    def n_versions(self) -> int:
        return len(self.versions)

    @property
    def alpha(self) -> float:
        """The share of :data:`HOLDOUT_ALPHA` left to this look."""
        return HOLDOUT_ALPHA / max(1, self.n_versions)

    @property
    def confidence(self) -> float:
        """The confidence of the CIs (:func:`holdout_confidence`)."""
        return holdout_confidence(self.n_versions)

    def describe(self) -> str:
        """``holdout looks: 2 versions (v1, v2) · CIs at 97.5% (Bonferroni, 0.05 / 2)``."""
        names = ", ".join(v["prompt_version"] for v in self.versions)
        unit = "version" if self.n_versions == 1 else "versions"
        text = (f"holdout looks: {self.n_versions} {unit} evaluated on this holdout "
                f"({names}) · CIs at {self.confidence:.4g} = 1 - 0.05/{self.n_versions} "
                "(Bonferroni over the looks)")
        return text + (" · fresh holdout" if self.fresh_holdout else "")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (``n_versions``, ``versions``, ``alpha``, ``confidence``)."""
        return {"items_hash": self.items_hash, "n_versions": self.n_versions,
                "versions": self.versions, "alpha": self.alpha,
                "confidence": self.confidence, "fresh_holdout": self.fresh_holdout}


@dataclass
class VersionRef:
    """A prompt version as the gate resolved it.

    Attributes
    ----------
    prompt : PromptVersion
        The local file (checked against the journal for edits).
    alias : str, optional
        The registry alias it was reached through.
    registry_version : int, optional
        Its number in the MLflow Prompt Registry, when registered.
    tags : dict, optional
        Its registry version tags.
    """

    prompt: PromptVersion
    alias: str | None = None
    registry_version: int | None = None
    tags: dict[str, str] | None = None

    @property
    def label(self) -> str:
        return self.prompt.label

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {"name": self.prompt.name, "version": self.prompt.label,
                "hash": self.prompt.hash, "alias": self.alias,
                "registry_version": self.registry_version}


@dataclass
class JudgeCheck:
    """The judge the gate runs with, against the one each version was calibrated with.

    A prompt version is not a judge: the same prompt on another model, endpoint or with
    other parameters is another judge, and its figures say nothing about this one.

    Attributes
    ----------
    identity : dict
        The judge now: ``Judge.identity()`` (provider, model, endpoint, options).
    params : dict
        The parameters that can change a judgment (:func:`harness.tracking.judge_params`).
    hash : str
        :func:`harness.tracking.judge_hash` of both.
    status : str
        ``unchanged``, ``changed (allowed)``, ``no judge record`` (registered before
        judges were recorded: a warning) or ``no calibration record`` (not registered).
    differences : list of str
        ``"model: registered a, now b"``, when changed.
    baseline_status : str, optional
        The same for the baseline version.
    baseline_differences : list of str
    """

    identity: dict[str, Any]
    params: dict[str, Any]
    hash: str
    status: str = "no calibration record"
    differences: list[str] = field(default_factory=list)
    baseline_status: str | None = None
    baseline_differences: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """The version or the baseline was calibrated with another judge (allowed)."""
        return bool(self.differences or self.baseline_differences)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {"identity": self.identity, "params": self.params, "hash": self.hash,
                "changed": self.changed, "status": self.status,
                "differences": self.differences, "baseline_status": self.baseline_status,
                "baseline_differences": self.baseline_differences}


@dataclass
class BaselineRun:
    """The baseline version judged on the same split."""

    ref: VersionRef
    run: JudgeRun
    figures: dict[str, AgreementResult]


@dataclass
class GateResult(_Outcome):
    """Everything one gate (or validate, or promote) decided, and why.

    Attributes
    ----------
    command : {"gate", "validate", "promote"}
    experiment : Experiment
    settings : GateSettings
    version : VersionRef
    run : JudgeRun
    report : AgreementReport
    bars : list of BarResult
    invalid : InvalidCheck
    baseline : BaselineRun, optional
    checks : dict
        The anchor-change and few-shot checks, as done.
    judge : JudgeCheck, optional
        The judge now, and whether it is the one the versions were calibrated with.
    warnings : list of str
    promoted : dict, optional
        For ``promote`` that passed: the alias set and the registry version.
    holdout_looks : HoldoutLooks, optional
        The holdout ledger (None on the calibration split); its ``confidence`` is that of
        every CI in the result.
    allow_unreliable_gold : bool
        Decide on the bars even when the report says the human consensus is not reliable
        (``report.gold.reliable`` False); otherwise that makes the gate inconclusive.
    probe_failures : list of str
        With ``settings.probes``: the must-pass bias probes that failed (or were never
        run) for this version and judge; any makes the outcome ``fail``.
    """

    command: str
    experiment: Experiment
    settings: GateSettings
    version: VersionRef
    run: JudgeRun
    report: AgreementReport
    bars: list[BarResult]
    invalid: InvalidCheck
    baseline: BaselineRun | None = None
    checks: dict[str, Any] = field(default_factory=dict)
    judge: JudgeCheck | None = None
    warnings: list[str] = field(default_factory=list)
    promoted: dict[str, Any] | None = None
    holdout_looks: HoldoutLooks | None = None
    allow_unreliable_gold: bool = False
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(
        timespec="seconds"))
    #: With ``[gate] probes``: why must-pass bias probes fail the gate (empty: none).
    probe_failures: list[str] = field(default_factory=list)

    @property
    def gold(self) -> Any:
        """The report's check of the human gold (``.reliable``, ``.figure``, ``.reason``),
        or None when the report has none."""
        return getattr(self.report, "gold", None)

    @property
    def gold_unreliable(self) -> bool:
        """The human consensus is not reliable and ``allow_unreliable_gold`` was not given."""
        gold = self.gold
        return gold is not None and not bool(getattr(gold, "reliable", True)) \
            and not self.allow_unreliable_gold

    @property
    def outcome(self) -> str:
        """``pass``, ``fail``, ``inconclusive`` (or ``error``: too many invalid judgments).

        Unreliable gold (unless allowed): inconclusive. Else fail if a must-pass bias probe
        failed or any bar failed, inconclusive if any is inconclusive, pass otherwise.
        """
        if not self.invalid.passed:
            return "error"
        if self.probe_failures:
            return "fail"
        return _bars_outcome(self.bars, self.gold_unreliable)

    @property
    def title(self) -> str:
        v = self.version
        via = f" (alias {v.alias})" if v.alias else ""
        return (f"{self.experiment.name}: {v.prompt.name} {v.label}{via} on the "
                f"{self.run.split} split ({self.run.n_items} items)")

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` document."""
        doc: dict[str, Any] = {
            "judgecal_gate": 1,
            "command": self.command,
            "status": self.status,
            "passed": self.passed,
            "exit_code": self.exit_code,
            "outcome": self.outcome,
            "gold": self._gold_dict(),
            "created_at": self.created_at,
            "experiment": self.experiment.name,
            "experiment_file": str(self.experiment.source) if self.experiment.source else None,
            "split": self.run.split,
            "n_items": self.run.n_items,
            "prompt": self.version.to_dict(),
            "judge": self.run.judge_identity,
            "judge_check": self.judge.to_dict() if self.judge is not None else None,
            "judge_changed": self.judge is not None and self.judge.changed,
            "scoring": self.run.scoring,
            "settings": self.settings.to_dict(),
            "bars": [b.to_dict() for b in self.bars],
            "invalid": self.invalid.to_dict(),
            "baseline": None,
            "checks": self.checks,
            "warnings": self.warnings,
            "run": self.run.summary(),
            "promoted": self.promoted,
            "probe_failures": self.probe_failures,
            "holdout_looks": (self.holdout_looks.to_dict()
                              if self.holdout_looks is not None else None),
        }
        if self.baseline is not None:
            doc["baseline"] = {**self.baseline.ref.to_dict(),
                               "run": self.baseline.run.summary(),
                               "figures": {k: v.value for k, v in
                                           self.baseline.figures.items()}}
        return doc

    def _gold_dict(self) -> dict[str, Any] | None:
        gold = self.gold
        if gold is None:
            return None
        return {"reliable": bool(getattr(gold, "reliable", True)),
                "figure": getattr(gold, "figure", None), "reason": getattr(gold, "reason", None),
                "allowed": self.allow_unreliable_gold}

    def gold_message(self) -> str | None:
        """Why unreliable gold made the gate inconclusive (or was allowed), else None."""
        gold = self.gold
        if gold is None or bool(getattr(gold, "reliable", True)):
            return None
        what = f"the human anchors are not reliable enough to judge a judge " \
               f"({getattr(gold, 'figure', '?')}: {getattr(gold, 'reason', '')})"
        if self.allow_unreliable_gold:
            return what + "; decided on the bars anyway (--allow-unreliable-gold)"
        return what + ": inconclusive (--allow-unreliable-gold decides on the bars anyway)"


# --------------------------------------------------------------------------- scorecards


@dataclass
class TotalGate:
    """The scorecard total's part of a gate: the judge's totals against the humans'.

    Attributes
    ----------
    table : RatingsTable
        The humans' totals (``Scorecard.total()`` of the judged split).
    scores : ndarray
        The judge's total per item (:func:`harness.judgments.judge_totals` of the
        questions' runs).
    report : AgreementReport
    bars : list of BarResult
    versions : dict of str to str
        Question -> the version label whose scores make the judge's total.
    holdout_looks : HoldoutLooks, optional
        The total's own ledger: a look is a distinct combination of the questions' versions
        (and judges).
    confidence : float
        The confidence of the total's CIs: the highest of the total's ledger and of the
        questions' (the most-looked-at holdout decides: the widest CIs).
    baseline : str, optional
        The baseline's label, when regression bars compare against one.
    baseline_figures : dict, optional
    """

    table: RatingsTable
    scores: np.ndarray
    report: AgreementReport
    bars: list[BarResult]
    versions: dict[str, str]
    holdout_looks: HoldoutLooks | None = None
    confidence: float = 0.95
    baseline: str | None = None
    baseline_figures: dict[str, AgreementResult] | None = None

    @property
    def n_items(self) -> int:
        return len(self.table.item_ids)


@dataclass
class ScorecardGateResult(_Outcome):
    """A gate on a scorecard: one gate per question with bars, and the total's bars.

    Attributes
    ----------
    command : str
    experiment : Experiment
        The scorecard experiment.
    settings : GateSettings
        Every bar, each qualified by its question (``Bar.criterion``) or ``total``.
    questions : dict of str to GateResult
        Every judged question (those with bars, and every question when a total bar needs
        them), in the scorecard's order; each is the one-question gate of
        ``Experiment.for_criterion`` with that question's bars.
    total : TotalGate, optional
        When a bar is on ``total``.
    warnings : list of str
        The gate's own (each question's are in its result).
    allow_unreliable_gold : bool
    """

    command: str
    experiment: Experiment
    settings: GateSettings
    questions: dict[str, GateResult]
    total: TotalGate | None = None
    warnings: list[str] = field(default_factory=list)
    allow_unreliable_gold: bool = False
    promoted: dict[str, Any] | None = None
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(
        timespec="seconds"))

    @property
    def gated(self) -> list[str]:
        """The questions with bars (in the scorecard's order), then ``total`` if it has."""
        out = [q for q, r in self.questions.items() if r.bars]
        return out + (["total"] if self.total is not None and self.total.bars else [])

    @property
    def bars(self) -> list[BarResult]:
        """Every bar's result, question by question, the total's last."""
        out = [b for r in self.questions.values() for b in r.bars]
        return out + (self.total.bars if self.total is not None else [])

    @property
    def total_gold_unreliable(self) -> bool:
        """The humans' totals are not reliable (and that is not allowed)."""
        gold = getattr(self.total.report, "gold", None) if self.total is not None else None
        return gold is not None and not bool(getattr(gold, "reliable", True)) \
            and not self.allow_unreliable_gold

    def part_outcomes(self) -> dict[str, str]:
        """Each gated question's outcome (:attr:`GateResult.outcome`), and the total's."""
        out = {q: self.questions[q].outcome for q in self.gated if q in self.questions}
        if self.total is not None and self.total.bars:
            out["total"] = _bars_outcome(self.total.bars, self.total_gold_unreliable)
        return out

    @property
    def invalid_failed(self) -> list[str]:
        """The judged questions with too many invalid or failed judgments."""
        return [q for q, r in self.questions.items() if not r.invalid.passed]

    @property
    def outcome(self) -> str:
        """``error`` when a judged question had too many invalid judgments; else ``fail``
        when any bar fails, ``inconclusive`` when any bar is (or a gated question's, or the
        total's, human gold is unreliable), ``pass`` otherwise."""
        if self.invalid_failed:
            return "error"
        outcomes = set(self.part_outcomes().values())
        if "fail" in outcomes:
            return "fail"
        return "inconclusive" if "inconclusive" in outcomes else "pass"

    @property
    def split(self) -> str:
        return self.settings.split

    @property
    def title(self) -> str:
        versions = ", ".join(f"{q} {r.version.label}" for q, r in self.questions.items())
        alias = {r.version.alias for r in self.questions.values()}
        via = f" (alias {alias.pop()})" if len(alias) == 1 and None not in alias else ""
        return (f"{self.experiment.name}: scorecard, {versions}{via} on the {self.split} "
                "split")

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` document: ``bars`` each with its ``criterion``; ``questions`` (each
        question's gate document) and ``total``."""
        total = None
        if self.total is not None:
            t = self.total
            total = {"n_items": t.n_items, "versions": t.versions,
                     "bars": [b.to_dict() for b in t.bars],
                     "figures": {k: v.value for k, v in t.report.judge["figures"].items()}
                     if t.report.judge else None,
                     "confidence": t.confidence,
                     "holdout_looks": (t.holdout_looks.to_dict()
                                       if t.holdout_looks is not None else None),
                     "baseline": t.baseline}
        return {
            "judgecal_gate": 1,
            "kind": "scorecard",
            "command": self.command,
            "status": self.status,
            "passed": self.passed,
            "exit_code": self.exit_code,
            "outcome": self.outcome,
            "outcomes": self.part_outcomes(),
            "created_at": self.created_at,
            "experiment": self.experiment.name,
            "experiment_file": str(self.experiment.source) if self.experiment.source else None,
            "split": self.split,
            "settings": self.settings.to_dict(),
            "bars": [{**b.to_dict(), "criterion": b.bar.criterion} for b in self.bars],
            "questions": {q: r.to_dict() for q, r in self.questions.items()},
            "total": total,
            "warnings": self.warnings,
            "promoted": self.promoted,
        }
