"""Judgments from other tools, in judgecal's long judgments format.

:func:`import_judgments` reads a source of one of :data:`FORMATS` into a frame of
``item_id, judge, criterion, sample, score`` (and ``rationale`` when the source has one):
one row per (item, judge, criterion, sample); the criterion is None (an empty CSV cell) when
the source has one criterion only, and the sample numbers a judge's repeated scores of an
item (0, 1, ...).
:func:`write_judgments` writes it as CSV. :func:`import_source` also returns the human
raters a source holds (MLflow's HUMAN feedback), which :func:`write_ratings` writes in the
long ratings format ``judgecal agree`` reads.

* ``mlflow``: MLflow 3 feedback assessments on an experiment's traces (the source is the
  experiment's name or id): LLM_JUDGE sources are judges, HUMAN sources human raters.
* ``inspect``: an Inspect AI eval log (needs ``judgecal[inspect]``).
* ``promptfoo``: a promptfoo results JSON (``promptfoo eval -o results.json``).

A source that cannot be imported raises :class:`ImporterError` (a ``ValueError``) whose
message starts with ``file:line`` or ``file``.
"""

from __future__ import annotations

from ._common import (
    JUDGMENT_COLUMNS,
    Imported,
    ImporterError,
    judges_as_raters,
    parse_labels,
    write_judgments,
    write_ratings,
)
from ._import import FORMATS, OPTIONS, import_judgments, import_source

__all__ = [
    "FORMATS",
    "JUDGMENT_COLUMNS",
    "OPTIONS",
    "Imported",
    "ImporterError",
    "import_judgments",
    "import_source",
    "judges_as_raters",
    "parse_labels",
    "write_judgments",
    "write_ratings",
]
