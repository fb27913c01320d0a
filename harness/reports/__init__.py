"""Reports: the agreement report (human reliability, judge vs humans), the calibration report
(self-contained HTML and Markdown), the scorecard report (one report per question and the
total, the questions ranked), the leaderboard of several judges, and the plots they share."""

from ._agreement import (
    CLOSER_TO_ZERO_IS_BETTER,
    FIGURE_LABELS,
    LOWER_IS_BETTER,
    SCALE_KINDS,
    AgreementReport,
    GoldReliability,
    ReportSettings,
    agreement_report,
    gold_reliability,
    human_ceiling,
    leave_one_out_consensus,
    like_for_like_references,
    position,
)
from ._calibration import (
    alt_test_sentences,
    final_table_rows,
    render_calibration_html,
    render_calibration_markdown,
    scorecard_table_rows,
    write_calibration_report,
)
from ._format import percent
from ._leaderboard import Leaderboard, leaderboard, leaderboard_from_scores, paired_difference
from ._plots import (
    bland_altman_plot,
    confusion_plot,
    figure_data_uri,
    figure_png,
    iterations_plot,
    scatter_plot,
)
from ._render import render_leaderboard, render_report, render_scorecard
from ._scorecard import ScorecardReport, primary_for, scorecard_report

__all__ = [
    "CLOSER_TO_ZERO_IS_BETTER",
    "FIGURE_LABELS",
    "LOWER_IS_BETTER",
    "SCALE_KINDS",
    "AgreementReport",
    "GoldReliability",
    "Leaderboard",
    "ReportSettings",
    "ScorecardReport",
    "agreement_report",
    "alt_test_sentences",
    "bland_altman_plot",
    "confusion_plot",
    "figure_data_uri",
    "figure_png",
    "final_table_rows",
    "gold_reliability",
    "human_ceiling",
    "iterations_plot",
    "leaderboard",
    "leaderboard_from_scores",
    "leave_one_out_consensus",
    "like_for_like_references",
    "paired_difference",
    "percent",
    "position",
    "primary_for",
    "render_calibration_html",
    "render_calibration_markdown",
    "render_leaderboard",
    "render_report",
    "render_scorecard",
    "scatter_plot",
    "scorecard_table_rows",
    "scorecard_report",
    "write_calibration_report",
]
