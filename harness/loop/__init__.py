"""The calibration loop: revise a judge prompt until it agrees with the humans, or cannot.

:func:`calibrate` runs one experiment: judge the calibration split, measure agreement,
analyse the disagreements, log to MLflow, stop (threshold, plateau, limit) or revise, and
finally validate the best version once on the holdout split. Revisers (``fewshot``,
``llm``, ``manual``) only ever see calibration items.
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
)
from ._revise import HoldoutLeakError, RevisionContext, RevisionOutcome, make_reviser
from ._types import (
    CalibrationResult,
    Disagreement,
    DisagreementAnalysis,
    HoldoutRecord,
    IterationRecord,
)

__all__ = [
    "OVERFIT_GAP",
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
    "RevisionContext",
    "RevisionOutcome",
    "analysis_markdown",
    "analyze_disagreements",
    "calibrate",
    "make_reviser",
    "plateaued",
]
