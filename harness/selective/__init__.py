"""Abstain or escalate, with a guarantee: selective evaluation (Trust or Escalate).

A judge keeps an item when its confidence is at least a threshold chosen on the calibration
split, and escalates the others to humans; on the kept items its agreement with the humans
is at least ``target`` with probability at least ``1 - delta`` (Jung, Brahman & Choi,
ICLR 2025). :mod:`._stats` holds the statistics (pure functions over arrays),
:mod:`._confidence` reads the judge's own confidence from a run, :mod:`._run` ties them to
an experiment (what ``judgecal selective`` runs). :mod:`._cascade` (the statistics) and
:mod:`._cascade_run` (on experiments) chain judges: a cheaper judge first, a stronger one
for what it abstains on, humans last (``judgecal selective EXP --then EXP2``).
"""

from ._cascade import (
    CascadeCalibration,
    CascadeOutcome,
    StageOutcome,
    cascade_assign,
    cascade_outcome,
    cascade_thresholds,
    stage_delta,
)
from ._cascade_run import (
    CascadeReport,
    CascadeStageRuns,
    cascade_check,
    cascade_from_runs,
    stage_cost,
)
from ._confidence import (
    CONFIDENCE_SOURCES,
    ConfidenceSource,
    SelectiveError,
    parse_distribution,
    run_confidence,
)
from ._run import (
    ESCALATION_COLUMNS,
    SelectiveReport,
    SplitData,
    read_escalations,
    selective_check,
    selective_from_runs,
    split_runs,
    write_escalations,
)
from ._stats import (
    CurvePoint,
    SelectiveOutcome,
    SelectiveThreshold,
    ThresholdStep,
    agreement_coverage_curve,
    agreement_indicator,
    binomial_tail_pvalue,
    clopper_pearson_upper,
    fixed_sequence_threshold,
    min_kept,
    sample_agreement,
    selective_outcome,
    spread_confidence,
    top_mass,
)

__all__ = ["CONFIDENCE_SOURCES", "CascadeCalibration", "CascadeOutcome", "CascadeReport",
           "CascadeStageRuns", "StageOutcome", "cascade_assign", "cascade_check",
           "cascade_from_runs", "cascade_outcome", "cascade_thresholds", "split_runs",
           "stage_cost", "stage_delta", "ESCALATION_COLUMNS", "ConfidenceSource", "CurvePoint",
           "SelectiveError", "SelectiveOutcome", "SelectiveReport", "SelectiveThreshold",
           "SplitData", "ThresholdStep", "agreement_coverage_curve", "agreement_indicator",
           "binomial_tail_pvalue", "clopper_pearson_upper", "fixed_sequence_threshold",
           "min_kept", "parse_distribution", "read_escalations", "run_confidence",
           "sample_agreement", "selective_check", "selective_from_runs",
           "selective_outcome", "spread_confidence", "top_mass", "write_escalations"]
