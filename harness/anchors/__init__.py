"""Anchor sets: gold items scored by several human raters, split into calibration and holdout.

The on-disk format (one JSONL file per set: a header line, then one item per line) is
documented in ``anchors/README.md``.

Reading
    :func:`load_anchor_set` -> :class:`AnchorSet`; :func:`load_ratings` reads a long-format
    ratings file (CSV or JSONL) into a :class:`RatingsTable`; :func:`open_ratings` reads
    either. Bad files raise :class:`AnchorError`, listing every :class:`Problem` with its
    file, line and field.
Scorecards
    A header may declare ``criteria`` (several questions, each with its own scale, N/A rule,
    weight and criticality). :func:`load_scorecard` -> :class:`Scorecard`, whose
    :meth:`Scorecard.criterion` gives an ordinary :class:`AnchorSet` per criterion (and
    ``"total"``, the weighted 0–1 total; see :func:`scorecard_total`).
    :func:`load_scorecard_ratings` reads long (``criterion`` column) or wide ratings files
    into one table per criterion; :func:`open_scorecard` reads any of them as
    :class:`ScorecardTables` (one table per question, and the total when the criteria are
    known), :func:`is_scorecard_input` tells a several-question file from a one-question
    one. ``docs/scorecards.md`` has the format and the formula.
Checking
    :func:`lint_anchor_set` -> list of :class:`LintFinding` (warnings and notes against the
    calibration guidance).
"""

from ._errors import MAX_PROBLEMS, AnchorError, Problem
from ._lint import LintFinding, lint_anchor_set, spectrum_bands
from ._load import AnchorSet, load_anchor_set, normalize_output, open_ratings
from ._open import ScorecardTables, is_scorecard_input, open_scorecard, total_ratings
from ._ratings import RatingsTable, load_ratings, load_scorecard_ratings, natural_key
from ._schema import (
    AnchorItem,
    AnchorSetMeta,
    Criterion,
    CriterionScale,
    Scale,
    ScorecardItem,
    ScorecardMeta,
)
from ._scorecard import TOTAL, Scorecard, load_scorecard, scorecard_total

__all__ = [
    "MAX_PROBLEMS",
    "AnchorError",
    "AnchorItem",
    "AnchorSet",
    "AnchorSetMeta",
    "Criterion",
    "CriterionScale",
    "LintFinding",
    "Problem",
    "RatingsTable",
    "Scale",
    "Scorecard",
    "ScorecardItem",
    "ScorecardMeta",
    "ScorecardTables",
    "TOTAL",
    "is_scorecard_input",
    "lint_anchor_set",
    "load_anchor_set",
    "load_ratings",
    "load_scorecard",
    "load_scorecard_ratings",
    "natural_key",
    "normalize_output",
    "open_ratings",
    "open_scorecard",
    "total_ratings",
    "scorecard_total",
    "spectrum_bands",
]
