"""Drift monitoring on live annotation streams (``judgecal drift``).

:func:`detect_drift` -> :class:`DriftReport`: a rolling one-way ICC over windows of
consecutive items with an alert on a drop from the baseline window, per-rater flags for
raters far from the others' consensus, and per-rater control charts
(:func:`control_chart`, :func:`write_control_charts`). See ``docs/drift.md``.
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

__all__ = [
    "ControlChart",
    "DriftReport",
    "DriftWindow",
    "control_chart",
    "detect_drift",
    "loo_deviations",
    "write_control_charts",
]
