"""The records the calibration loop produces, shared by revisers, tracking and reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.agreement import AgreementResult
from harness.prompts import PromptVersion


@dataclass(frozen=True)
class Disagreement:
    """An item where judge and consensus differ by at least one scale point."""

    item_id: str
    judge: float
    consensus: float
    difference: float  # judge - consensus; > 0 lenient, < 0 harsh
    rationale: str | None
    tags: tuple[str, ...]
    output_chars: int


@dataclass
class DisagreementAnalysis:
    """Where the judge parts from the humans on the calibration split, and the patterns."""

    n_items: int
    items: list[Disagreement]  # |difference| >= 1, worst first
    direction: dict[str, Any]  # mean_bias, n_lenient, n_harsh, label: lenient|harsh|balanced
    by_tag: list[dict[str, Any]]  # tag, n, mae, bias; worst first
    verbosity: dict[str, Any]  # spearman of output length vs signed / absolute error, n, reading


@dataclass
class IterationRecord:
    """One iteration: a prompt version judged on the calibration split."""

    iteration: int  # 1-based
    prompt: PromptVersion
    primary: str  # figure name, e.g. "icc"
    figures: dict[str, AgreementResult]  # judge vs consensus on the calibration split
    ceiling: dict[str, Any]  # report["judge"]["ceiling"] (figure -> median/min/max)
    ceiling_method: str
    run: dict[str, Any]  # n_requests, n_cached, n_ok, n_invalid, n_failed, tokens, cost, ...
    analysis: DisagreementAnalysis
    item_ids: list[str]
    judge_scores: np.ndarray  # aligned with item_ids; NaN = no valid judgment
    consensus: np.ndarray
    scale: tuple[float, float]
    confusion: dict[str, Any]  # report["judge"]["confusion"]
    judgments_csv: Path | None = None
    mlflow_run_id: str | None = None
    revision: dict[str, Any] | None = None  # what the reviser did after this iteration
    #: Each item's lowest and highest human rating, shape (n_items, 2), aligned with item_ids.
    human_range: np.ndarray | None = None

    @property
    def primary_result(self) -> AgreementResult:
        return self.figures[self.primary]

    @property
    def primary_value(self) -> float | None:
        return self.primary_result.value


@dataclass
class HoldoutRecord:
    """The best version validated once on the holdout split."""

    prompt: PromptVersion
    figures: dict[str, AgreementResult]
    ceiling: dict[str, Any]
    ceiling_method: str
    run: dict[str, Any]
    item_ids: list[str]
    judge_scores: np.ndarray
    consensus: np.ndarray
    confusion: dict[str, Any]
    judgments_csv: Path | None = None
    #: Each item's lowest and highest human rating, shape (n_items, 2), aligned with item_ids.
    human_range: np.ndarray | None = None
    #: The target checked on the holdout CI, with three outcomes (a ``harness.gate.BarResult``):
    #: pass when the CI's conservative end meets it, fail when even its other end misses it,
    #: inconclusive when the CI straddles it or the human gold is not reliable.
    verdict: Any = None

    @property
    def outcome(self) -> str | None:
        """``pass``, ``fail`` or ``inconclusive``: the target on the holdout CI."""
        return self.verdict.outcome if self.verdict is not None else None


@dataclass
class CalibrationResult:
    """Everything one ``judgecal calibrate`` produced."""

    experiment: str
    primary: str
    threshold: float
    stop_reason: str  # "threshold", "plateau", "max_iterations", "manual", "budget", ...
    iterations: list[IterationRecord]
    best: IterationRecord | None
    holdout: HoldoutRecord | None = None
    gap: float | None = None  # calibration minus holdout, primary figure
    warnings: list[str] = field(default_factory=list)
    parent_run_id: str | None = None
    tracking_uri: str | None = None
    ui_command: str | None = None  # how to open the MLflow UI on this store
    report_html: Path | None = None
    report_md: Path | None = None
    secondary: dict[str, float] = field(default_factory=dict)  # extra bars: figure -> minimum
