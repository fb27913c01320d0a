"""The calibration loop: revise a judge prompt until it agrees with the humans, or cannot.

:func:`calibrate` runs one experiment: judge the calibration split, measure agreement,
analyse the disagreements, log to MLflow, stop (threshold, plateau, limit) or revise, and
finally validate the best version once on the holdout split. Revisers (``fewshot``,
``llm``, ``manual``) only ever see calibration items. On a scorecard it runs
:func:`calibrate_scorecard`: every question with the same loop, the worst first, then the
judge's total.
"""

from ._disagree import analysis_markdown, analyze_disagreements
from ._loop import (
    OVERFIT_GAP,
    CalibrationLocked,
    LoopState,
    LoopStopped,
    ManualRevisionPending,
    calibrate,
    plateaued,
    replay,
    target_met,
)
from ._revise import HoldoutLeakError, RevisionContext, RevisionOutcome, make_reviser
from ._scorecard import (
    SCORECARD_STOP_TEXT,
    QuestionRank,
    ScorecardCalibrationResult,
    calibrate_scorecard,
    question_experiment,
)
from ._types import (
    CalibrationResult,
    Disagreement,
    DisagreementAnalysis,
    HoldoutRecord,
    IterationRecord,
)

__all__ = [
    "OVERFIT_GAP",
    "SCORECARD_STOP_TEXT",
    "CalibrationLocked",
    "CalibrationResult",
    "Disagreement",
    "DisagreementAnalysis",
    "HoldoutLeakError",
    "HoldoutRecord",
    "IterationRecord",
    "LoopState",
    "LoopStopped",
    "ManualRevisionPending",
    "QuestionRank",
    "RevisionContext",
    "RevisionOutcome",
    "ScorecardCalibrationResult",
    "analysis_markdown",
    "analyze_disagreements",
    "calibrate",
    "calibrate_scorecard",
    "make_reviser",
    "plateaued",
    "question_experiment",
    "replay",
    "target_met",
]
