"""Reports: the agreement report (human reliability, judge vs humans) and its renderings."""

from ._agreement import (
    FIGURE_LABELS,
    AgreementReport,
    ReportSettings,
    agreement_report,
    leave_one_out_consensus,
    position,
)
from ._render import render_report

__all__ = [
    "FIGURE_LABELS",
    "AgreementReport",
    "ReportSettings",
    "agreement_report",
    "leave_one_out_consensus",
    "position",
    "render_report",
]
