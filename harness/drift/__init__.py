"""Drift monitoring on live annotation streams (``judgecal drift``).

:func:`detect_drift` -> :class:`DriftReport`: a rolling one-way ICC over windows of
consecutive items with an alert on a drop from the baseline window, per-rater flags for
raters far from the others' consensus, and per-rater control charts
(:func:`control_chart`, :func:`write_control_charts`).

Scorecards (several questions): :func:`read_stream` reads one table or one per criterion;
:func:`detect_scorecard_drift` -> :class:`ScorecardDriftReport` watches each criterion as
:func:`detect_drift` does, the total (given the scorecard's criteria), and flags a rater
consistently harsher or more lenient than the others on one question (:class:`BiasFlag`).
See ``docs/drift.md``.

Judge or system (``judgecal panel``): :func:`run_panel` re-judges a frozen anchor panel
with fresh calls, records the judge's fingerprint and the scores (the journal's
``panel_runs``), and :func:`attribute` tells judge drift (the panel moved) from system
drift (production moved, the panel did not), with the silent-change alert (the panel moved
under an unchanged fingerprint). Statistics: :func:`panel_shift`, :func:`production_shift`.
See ``docs/production.md``.
"""

from ._attribution import (
    PANEL_DIGITS,
    TOLERANCE,
    Attribution,
    PanelShift,
    ProductionShift,
    attribute,
    fingerprint_changes,
    panel_ci_text,
    panel_shift,
    production_shift,
)
from ._drift import (
    ControlChart,
    DriftReport,
    DriftWindow,
    control_chart,
    detect_drift,
    loo_deviations,
    write_control_charts,
)
from ._panel import (
    PANEL_SPLITS,
    PanelInputError,
    PanelJudgeError,
    PanelReport,
    judge_fingerprint,
    run_panel,
)
from ._scorecard import (
    BiasFlag,
    ScorecardDriftReport,
    bias_flags,
    detect_scorecard_drift,
    read_stream,
    window_bias,
    write_scorecard_charts,
)

__all__ = [
    "PANEL_DIGITS",
    "PANEL_SPLITS",
    "TOLERANCE",
    "Attribution",
    "BiasFlag",
    "ControlChart",
    "DriftReport",
    "DriftWindow",
    "PanelInputError",
    "PanelJudgeError",
    "PanelReport",
    "PanelShift",
    "ProductionShift",
    "attribute",
    "ScorecardDriftReport",
    "bias_flags",
    "control_chart",
    "detect_drift",
    "detect_scorecard_drift",
    "fingerprint_changes",
    "judge_fingerprint",
    "loo_deviations",
    "panel_ci_text",
    "panel_shift",
    "production_shift",
    "read_stream",
    "run_panel",
    "window_bias",
    "write_control_charts",
    "write_scorecard_charts",
]
