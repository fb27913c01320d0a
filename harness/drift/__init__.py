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
"""

from ._drift import (
    ControlChart,
    DriftReport,
    DriftWindow,
    control_chart,
    detect_drift,
    loo_deviations,
    write_control_charts,
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
    "BiasFlag",
    "ControlChart",
    "DriftReport",
    "DriftWindow",
    "ScorecardDriftReport",
    "bias_flags",
    "control_chart",
    "detect_drift",
    "detect_scorecard_drift",
    "loo_deviations",
    "read_stream",
    "window_bias",
    "write_control_charts",
    "write_scorecard_charts",
]
