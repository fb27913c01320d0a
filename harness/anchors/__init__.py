"""Anchor sets: gold items scored by several human raters, split into calibration and holdout.

The on-disk format (one JSONL file per set: a header line, then one item per line) is
documented in ``anchors/README.md``.

Reading
    :func:`load_anchor_set` -> :class:`AnchorSet`; :func:`load_ratings` reads a long-format
    ratings file (CSV or JSONL) into a :class:`RatingsTable`; :func:`open_ratings` reads
    either. Bad files raise :class:`AnchorError`, listing every :class:`Problem` with its
    file, line and field.
Checking
    :func:`lint_anchor_set` -> list of :class:`LintFinding` (warnings and notes against the
    calibration guidance).
"""

from ._errors import MAX_PROBLEMS, AnchorError, Problem
from ._lint import LintFinding, lint_anchor_set, spectrum_bands
from ._load import AnchorSet, load_anchor_set, normalize_output, open_ratings
from ._ratings import RatingsTable, load_ratings
from ._schema import AnchorItem, AnchorSetMeta, Scale

__all__ = [
    "MAX_PROBLEMS",
    "AnchorError",
    "AnchorItem",
    "AnchorSet",
    "AnchorSetMeta",
    "LintFinding",
    "Problem",
    "RatingsTable",
    "Scale",
    "lint_anchor_set",
    "load_anchor_set",
    "load_ratings",
    "normalize_output",
    "open_ratings",
    "spectrum_bands",
]
