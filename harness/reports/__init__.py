"""Reports: the agreement report (human reliability, judge vs humans), the calibration report
(self-contained HTML and Markdown), the scorecard report (one report per question and the
total, the questions ranked), the leaderboard of several judges, and the plots they share."""

from harness._lazy import lazy_exports

# Imported on first use: the agreement report does not pay for matplotlib (the plots) nor
# the HTML report for the statistics it does not show.
__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "._agreement": (
        "CLOSER_TO_ZERO_IS_BETTER", "FIGURE_LABELS", "LOWER_IS_BETTER", "SCALE_KINDS",
        "AgreementReport", "GoldReliability", "ReportSettings", "agreement_report",
        "gold_reliability", "human_ceiling", "leave_one_out_consensus", "like_for_like_references",
        "position",
    ),
    "._calibration": (
        "alt_test_sentences", "final_table_rows", "render_calibration_html",
        "render_calibration_markdown", "scorecard_table_rows", "write_calibration_report",
    ),
    "harness._say": (
        "MISSING", "NA_RATING", "NOT_APPLICABLE", "UNKNOWN_COST", "band_text", "confidence_text",
        "cost_text", "exact_text", "figure_text", "interval_text", "number_text", "p_text",
        "percent", "position_text", "range_text", "result_text", "score_text",
        "share_interval_text", "share_text", "signed_text", "undefined_text", "verdict_line",
        "verdict_word",
    ),
    "._leaderboard": ("Leaderboard", "leaderboard", "leaderboard_from_scores", "paired_difference"),
    "._plots": (
        "bland_altman_plot", "confusion_plot", "figure_data_uri", "figure_png", "iterations_plot",
        "scatter_plot",
    ),
    "._render": ("render_leaderboard", "render_report", "render_scorecard"),
    "._scorecard": ("ScorecardReport", "primary_for", "scorecard_report"),
})
