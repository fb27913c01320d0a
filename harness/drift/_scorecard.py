"""Drift on a scorecard stream: each criterion's rolling ICC and rater flags, the total, and
per-rater-per-question bias flags.

A scorecard stream is one ratings table per criterion (``item_id,rater_id,criterion,score``
or a wide CSV, read by :func:`harness.anchors.load_scorecard_ratings`). Each criterion is
watched exactly as :func:`~harness.drift.detect_drift` watches a one-criterion stream; the
total (when the criteria's scales, weights and pass marks are known from a scorecard set)
is one more stream on the 0-1 scale. On top of these, a *bias flag* marks a rater whose
mean signed deviation from the other raters' consensus on one question stays beyond a
threshold in a window: the "consistently harsher on one question" pattern.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.agreement import jsonable
from harness.anchors import (
    TOTAL,
    AnchorError,
    Criterion,
    CriterionScale,
    RatingsTable,
    Scorecard,
    load_ratings,
    load_scorecard_ratings,
    total_ratings,
)
from harness.anchors._ratings import CRITERION_COLUMN

from ._drift import DriftReport, detect_drift, write_control_charts

__all__ = [
    "BIAS",
    "MIN_BIAS_ITEMS",
    "TOTAL_BIAS",
    "TOTAL_FAR",
    "BiasFlag",
    "ScorecardDriftReport",
    "bias_flags",
    "detect_scorecard_drift",
    "read_stream",
    "window_bias",
    "write_scorecard_charts",
]

#: Default bias threshold on a criterion, in points of its scale (codes for labels).
BIAS = 0.5
#: Default bias threshold on the total (0-1 scale): half of ``TOTAL_FAR``.
TOTAL_BIAS = 0.125
#: Default far-from-consensus distance on the total (0-1 scale): one point of a 1-5 scale.
TOTAL_FAR = 0.25
#: Default minimum number of a rater's compared items in a window for a bias flag.
MIN_BIAS_ITEMS = 30

Thresholds = float | Mapping[str, float]


# --------------------------------------------------------------------------- reading


def read_stream(
    path: str | Path,
    *,
    scale: tuple[float, float] | None = None,
    scorecard: Scorecard | None = None,
) -> RatingsTable | dict[str, RatingsTable]:
    """Read a ratings stream: one table (one criterion) or one table per criterion.

    Parameters
    ----------
    path : str or Path
        A long ratings file (``item_id,rater_id,score``, optionally with ``criterion``) or
        a wide CSV (``item_id,rater_id,<criterion>...``), CSV or JSONL.
    scale : tuple of float, optional
        ``(min, max)`` every score must lie on (on every criterion of a scorecard file).
    scorecard : Scorecard, optional
        The scorecard the scores belong to (at least 2 criteria): criteria, scales (labels
        read as their codes) and N/A rules are checked against it.

    Returns
    -------
    RatingsTable or dict of str to RatingsTable
        A single table for a file of one criterion (a plain long file, a long file whose
        ``criterion`` column names one criterion, a wide file of one criterion column),
        exactly as :func:`~harness.anchors.load_ratings` reads it; otherwise criterion id
        -> table.

    Raises
    ------
    AnchorError
        Every problem with ``file:line``.
    ValueError
        For a bad ``scale``, or both ``scale`` and ``scorecard``, or a scorecard of one
        criterion.
    """
    if scorecard is not None:
        if scale is not None:
            raise ValueError("give the scorecard or a scale, not both: the scorecard has "
                             "each criterion's scale")
        if len(scorecard.criteria) < 2:
            raise ValueError(f"{scorecard.path} has one criterion; read its ratings without "
                             "the scorecard (with its scale)")
        return load_scorecard_ratings(path, scorecard)
    try:
        return load_ratings(path, scale=scale)
    except AnchorError as single_error:
        try:
            tables = load_scorecard_ratings(path)
        except AnchorError as card_error:
            # a plain long file (no criterion column) keeps the one-criterion reader's
            # message; otherwise the scorecard reader's is the better one (a wide file's bad
            # cell rather than "missing column 'score'"; bad scores are the same in both)
            if _no_criterion_column(card_error):
                raise single_error from None
            raise
    if scale is not None:
        # checked on every criterion with file:line, as load_ratings checks one
        lo, hi = float(scale[0]), float(scale[1])
        specs = [Criterion(id=cid, label=cid, rubric="(--scale)",
                           scale=CriterionScale(min=lo, max=hi), na_allowed=True)
                 for cid in tables]
        tables = load_scorecard_ratings(path, specs)
        tables = {cid: _with_scale(t, (lo, hi)) for cid, t in tables.items()}
    if len(tables) == 1:
        return next(iter(tables.values()))
    return tables


def _no_criterion_column(error: AnchorError) -> bool:
    """Whether the scorecard reader failed only because the file names no criterion."""
    return len(error.problems) == 1 and error.problems[0].field == CRITERION_COLUMN \
        and error.problems[0].line == 1


def _with_scale(t: RatingsTable, scale: tuple[float, float]) -> RatingsTable:
    return RatingsTable(t.item_ids, t.rater_ids, t.scores, t.na, t.consensus, scale, t.source)


# --------------------------------------------------------------------------- the total


# --------------------------------------------------------------------------- bias


def window_bias(report: DriftReport) -> tuple[np.ndarray, np.ndarray]:
    """Each rater's mean signed deviation from the others' consensus, window by window.

    Parameters
    ----------
    report : DriftReport
        From :func:`~harness.drift.detect_drift` (its control charts hold the deviations).

    Returns
    -------
    mean : ndarray of float, shape (n_windows, n_raters)
        ``mean(score - leave-one-out consensus)`` over the window's items the rater scored
        and at least one other rater did too; NaN where there are none.
    n : ndarray of int, same shape
        The number of those items.
    """
    w, k = len(report.windows), len(report.rater_ids)
    mean = np.full((w, k), np.nan)
    n = np.zeros((w, k), dtype=int)
    starts = np.array([x.start for x in report.windows], dtype=int)
    stops = np.array([x.stop for x in report.windows], dtype=int)
    for j, r in enumerate(report.rater_ids):
        ch = report.charts[r]
        if not w or not ch.positions.size:
            continue
        cum = np.concatenate([[0.0], np.cumsum(ch.deviations)])
        lo = np.searchsorted(ch.positions, starts, side="left")
        hi = np.searchsorted(ch.positions, stops, side="left")
        n[:, j] = hi - lo
        has = n[:, j] > 0
        mean[has, j] = (cum[hi[has]] - cum[lo[has]]) / n[has, j]
    return mean, n


@dataclass(frozen=True)
class BiasFlag:
    """A rater consistently harsher (or more lenient) than the others on one question.

    Attributes
    ----------
    criterion : str
        The criterion id (``"total"`` for the scorecard total).
    rater : str
        The rater id.
    direction : {"harsher", "more lenient"}
        The sign of the deviation (below / above the others' consensus).
    windows : list of int
        Indices (in the criterion's report) of the windows where the flag holds.
    biases : list of float
        The rater's mean signed deviation in each of those windows.
    n_items : list of int
        The compared items behind each of those means.
    stream_bias : float or None
        The rater's mean signed deviation over the whole stream on this criterion.
    stream_n : int
        The items behind it.
    threshold : float
        The bias threshold used on this criterion.
    """

    criterion: str
    rater: str
    direction: str
    windows: list[int]
    biases: list[float]
    n_items: list[int]
    stream_bias: float | None
    stream_n: int
    threshold: float

    @property
    def worst(self) -> float:
        """The mean deviation of largest size among the flagged windows (signed)."""
        return max(self.biases, key=abs)


def bias_flags(report: DriftReport, criterion: str, *, bias: float = BIAS,
               min_items: int = MIN_BIAS_ITEMS) -> list[BiasFlag]:
    """Raters whose mean signed deviation on one criterion is beyond ``bias`` in a window.

    A rater is flagged on the criterion in every window where it has at least
    ``min_items`` compared items and ``|mean(score - consensus of the others)| > bias``;
    windows with a negative mean make a ``"harsher"`` flag, a positive one ``"more
    lenient"`` (a rater can have both, in different windows).

    Parameters
    ----------
    report : DriftReport
        The criterion's report.
    criterion : str
        Its id (carried into the flags).
    bias : float
        Threshold on the mean signed deviation, in points of the criterion's scale.
    min_items : int
        Compared items a window needs before its mean can flag.

    Returns
    -------
    list of BiasFlag
        In rater order, harsher before more lenient.
    """
    mean, n = window_bias(report)
    flags: list[BiasFlag] = []
    for j, r in enumerate(report.rater_ids):
        ch = report.charts[r]
        stream = float(ch.deviations.mean()) if ch.deviations.size else None
        for direction, sign in (("harsher", -1.0), ("more lenient", 1.0)):
            hit = (n[:, j] >= min_items) & (sign * np.nan_to_num(mean[:, j]) > bias)
            idx = [int(i) for i in np.flatnonzero(hit)]
            if idx:
                flags.append(BiasFlag(criterion, r, direction, idx,
                                      [float(mean[i, j]) for i in idx],
                                      [int(n[i, j]) for i in idx],
                                      stream, int(ch.deviations.size), float(bias)))
    return flags


# --------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class ScorecardDriftReport:
    """The outcome of :func:`detect_scorecard_drift`.

    Attributes
    ----------
    source : str
        Where the ratings came from.
    criteria : dict of str to DriftReport
        Per criterion, its report (equal to :func:`detect_drift` on that criterion's table).
    total : DriftReport or None
        The report on the scorecard total; None when the criteria were not given.
    flags : list of BiasFlag
        Per-rater-per-question bias flags (criteria and total), most windows first.
    far, bias : dict of str to float
        The thresholds used, per criterion id (and ``"total"``).
    min_bias_items : int
        Compared items a window needs for a bias flag.
    notes : list of str
        Why the total is missing, criteria without ratings, ...
    """

    source: str
    criteria: dict[str, DriftReport]
    total: DriftReport | None
    flags: list[BiasFlag]
    far: dict[str, float]
    bias: dict[str, float]
    min_bias_items: int
    notes: list[str] = field(default_factory=list)

    def reports(self) -> dict[str, DriftReport]:
        """Criterion id -> report, then ``"total"`` when there is one."""
        out = dict(self.criteria)
        if self.total is not None:
            out[TOTAL] = self.total
        return out

    @property
    def alert(self) -> bool:
        """True when some criterion's (or the total's) ICC alert fired."""
        return any(r.alert for r in self.reports().values())

    @property
    def any_flag(self) -> bool:
        """True when a rater is flagged far from consensus or biased on some question."""
        return bool(self.flags) or any(r.flagged for r in self.reports().values())

    def to_dict(self, include_series: bool = False) -> dict[str, Any]:
        """A JSON-ready dictionary: ``criteria``, ``total``, ``rater_question_flags``.

        ``criteria[id]`` (and ``total``) has exactly the keys of
        :meth:`DriftReport.to_dict`; undefined figures are None (never NaN).
        """
        reports = self.reports()
        flagged_on: dict[str, set[str]] = {}
        for f in self.flags:
            if f.criterion != TOTAL:
                flagged_on.setdefault(f.rater, set()).add(f.criterion)

        def _flag(f: BiasFlag) -> dict[str, Any]:
            w0 = reports[f.criterion].windows[f.windows[0]]
            return {
                "criterion": f.criterion, "rater": f.rater, "direction": f.direction,
                "n_windows": len(f.windows), "windows": list(f.windows),
                "first": {"index": w0.index, "start": w0.start, "stop": w0.stop,
                          "first_item": w0.first_item, "last_item": w0.last_item},
                "bias_in_windows": list(f.biases), "n_items_in_windows": list(f.n_items),
                "worst_bias": f.worst, "stream_bias": f.stream_bias,
                "stream_n_items": f.stream_n, "threshold": f.threshold,
                "only_question": f.criterion != TOTAL
                and flagged_on.get(f.rater, set()) == {f.criterion},
            }

        return jsonable({
            "source": self.source,
            "criteria": {cid: r.to_dict(include_series) for cid, r in self.criteria.items()},
            "total": None if self.total is None else self.total.to_dict(include_series),
            "rater_question_flags": [_flag(f) for f in self.flags],
            "settings": {
                "far": dict(self.far), "bias": dict(self.bias),
                "min_bias_items": self.min_bias_items,
                "bias_rule": "flagged in a window when the rater has >= min_bias_items "
                             "compared items and |mean(score - leave-one-out consensus of "
                             "the other raters)| > bias",
            },
            "notes": list(self.notes),
        })


def _per_criterion(value: Thresholds, ids: Sequence[str], default: float,
                   total_default: float, what: str) -> dict[str, float]:
    if isinstance(value, Mapping):
        unknown = [k for k in value if k not in ids and k != TOTAL]
        if unknown:
            raise ValueError(f"{what}: no criterion {unknown[0]!r}; the criteria are "
                             f"{', '.join(ids)} (and {TOTAL!r})")
        out = {cid: float(value.get(cid, default)) for cid in ids}
        out[TOTAL] = float(value.get(TOTAL, total_default))
    else:
        out = {cid: float(value) for cid in ids}
        out[TOTAL] = float(total_default)
    for k, v in out.items():
        if not (math.isfinite(v) and v >= 0):
            raise ValueError(f"{what} for {k!r} must be a finite number >= 0, got {v!r}")
    return out


def detect_scorecard_drift(
    tables: Mapping[str, RatingsTable],
    *,
    criteria: Sequence[Criterion] | None = None,
    window: int = 200,
    step: int | None = None,
    drop: float = 0.05,
    far: Thresholds = 1.0,
    min_far_items: int = 3,
    bias: Thresholds = BIAS,
    min_bias_items: int = MIN_BIAS_ITEMS,
    consensus: str = "median",
    source: str = "",
) -> ScorecardDriftReport:
    """Drift of every criterion of a scorecard stream, of its total, and per-question bias.

    Parameters
    ----------
    tables : mapping of str to RatingsTable
        Criterion id -> its table, items in stream order
        (:func:`~harness.anchors.load_scorecard_ratings`).
    criteria : sequence of Criterion, optional
        The scorecard's criteria; when given, the total is watched too
        (:func:`harness.anchors.total_ratings`). Without them the total is None (its
        scales, weights and pass marks are unknown) and a note says so.
    window, step, drop, min_far_items, consensus
        As in :func:`~harness.drift.detect_drift`, for every criterion and the total.
    far : float or mapping of str to float
        Far-from-consensus distance. A number applies to every criterion (in its own points;
        label criteria in codes); a mapping gives it per criterion id and ``"total"``
        (missing ids: 1.0). The total's default is ``TOTAL_FAR`` (0.25).
    bias : float or mapping of str to float
        Bias threshold, likewise (default ``BIAS`` = 0.5; the total's ``TOTAL_BIAS`` =
        0.125).
    min_bias_items : int
        Compared items a window needs before a rater's mean deviation can flag it.
    source : str
        Where the ratings came from.

    Returns
    -------
    ScorecardDriftReport
        ``criteria[id]`` equals ``detect_drift(tables[id], ...)`` with that criterion's
        ``far``.

    Raises
    ------
    ValueError
        For bad settings (as :func:`detect_drift`), a threshold for an unknown criterion,
        criteria that do not match the tables.
    """
    if isinstance(min_bias_items, bool) or not isinstance(min_bias_items, int) \
            or min_bias_items < 1:
        raise ValueError(f"min_bias_items must be a positive integer, got {min_bias_items!r}")
    ids = list(tables)
    if not ids:
        raise ValueError("no criteria: the stream has no ratings")
    notes: list[str] = []
    if criteria is not None:
        known = {c.id for c in criteria}
        extra = [cid for cid in ids if cid not in known]
        if extra:
            raise ValueError(f"criterion {extra[0]!r} of the ratings is not one of the "
                             f"scorecard's ({', '.join(c.id for c in criteria)})")
    fars = _per_criterion(far, ids, 1.0, TOTAL_FAR, "far")
    biases = _per_criterion(bias, ids, BIAS, TOTAL_BIAS, "bias")
    settings = dict(window=window, step=step, drop=drop, min_far_items=min_far_items,
                    consensus=consensus)
    reports = {cid: detect_drift(tables[cid], far=fars[cid], **settings) for cid in ids}
    total = None
    if criteria is None:
        notes.append("no scorecard given: the total needs each criterion's scale, weight "
                     "and pass mark (judgecal drift --scorecard ANCHORS.jsonl)")
    else:
        absent = [c.id for c in criteria if c.id not in tables]
        if absent:
            notes.append(f"no ratings of {', '.join(absent)} in the stream: the total is "
                         "not watched (every rater's total would be missing)")
        else:
            src = f"{source} ({TOTAL})" if source else TOTAL
            total = detect_drift(total_ratings(tables, criteria, src), far=fars[TOTAL],
                                 **settings)
    flags: list[BiasFlag] = []
    for cid, rep in {**reports, **({TOTAL: total} if total is not None else {})}.items():
        flags += bias_flags(rep, cid, bias=biases[cid], min_items=min_bias_items)
    pos = {cid: i for i, cid in enumerate([*ids, TOTAL])}
    flags.sort(key=lambda f: (-len(f.windows), -abs(f.worst), pos[f.criterion]))
    return ScorecardDriftReport(
        source=source, criteria=reports, total=total, flags=flags,
        far={k: v for k, v in fars.items() if k != TOTAL or total is not None},
        bias={k: v for k, v in biases.items() if k != TOTAL or total is not None},
        min_bias_items=min_bias_items, notes=notes,
    )


def write_scorecard_charts(report: ScorecardDriftReport, out_dir: str | Path) -> list[Path]:
    """Control charts of every criterion (and the total): ``out_dir/<id>/control-<rater>.png``.

    Parameters
    ----------
    report : ScorecardDriftReport
        From :func:`detect_scorecard_drift`.
    out_dir : str or Path
        Target directory (created if needed).

    Returns
    -------
    list of Path
        Every file written, criterion by criterion.
    """
    paths: list[Path] = []
    for cid, rep in report.reports().items():
        paths += write_control_charts(rep, Path(out_dir) / cid)
    return paths
