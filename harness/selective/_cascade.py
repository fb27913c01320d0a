r"""Cascaded selective evaluation: a cheaper judge first, a stronger one for what it abstains
on, humans last (Jung, Brahman & Choi, ICLR 2025, "Cascaded Selective Evaluation").

Pure functions over arrays, as :mod:`._stats`: each stage's confidence per item and whether
it agreed with the humans. Nothing here knows of providers, journals or files.

**Calibration.** The stages are taken in order. Stage :math:`j`'s threshold
:math:`\hat\lambda_j` is chosen by :func:`~._stats.fixed_sequence_threshold` on the
calibration items that *reach* it — those every earlier stage abstained on — at level
:math:`\delta_j`, with the same :math:`\alpha` for every stage (the authors' code does the
same: each judge is calibrated on the items not yet kept). An item is kept by the first
stage whose confidence reaches its threshold, and escalated to humans when none does.

**The guarantee.** Stage :math:`j`'s test controls its own risk on the items that reach it:
with probability at least :math:`1-\delta_j`, its agreement on the items it keeps is at least
:math:`1-\alpha`. The cascade's agreement on the union of kept items is the kept-share
weighted average of the stages' agreements, so it is at least :math:`1-\alpha` whenever
every stage's guarantee holds: with probability at least :math:`1-\sum_j \delta_j` (a union
bound). The paper tests every stage at the same :math:`\delta` (``joint=False``, the
default here: each stage's guarantee at :math:`1-\delta`, the union's at
:math:`1-k\delta`); ``joint=True`` tests each at :math:`\delta/k` so that the union's holds
with probability at least :math:`1-\delta`.

A caveat the paper's argument passes over: an earlier stage's fixed-sequence scan looked at
the correctness of the items between its stopping point and its threshold, and those items
reach the later stages, so the items a later stage is calibrated on are not quite a fresh
sample. The simulation in ``tests/test_cascade.py`` measures how often the guarantees hold
(docs/production.md has the figures).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._stats import (
    SelectiveOutcome,
    SelectiveThreshold,
    fixed_sequence_threshold,
    selective_outcome,
)

__all__ = ["CascadeCalibration", "CascadeOutcome", "StageOutcome", "cascade_assign",
           "cascade_outcome", "cascade_thresholds", "stage_delta"]

#: The value of :func:`cascade_assign` for an item no stage keeps (escalated to humans).
HUMANS = -1


def stage_delta(delta: float, n_stages: int, *, joint: bool = False) -> float:
    """The level each stage is tested at: ``delta`` (the paper), or ``delta / n_stages``
    (``joint``: the union's guarantee at ``1 - delta``).

    Examples
    --------
    >>> stage_delta(0.1, 2), stage_delta(0.1, 2, joint=True)
    (0.1, 0.05)
    """
    if n_stages < 1:
        raise ValueError(f"a cascade has at least one stage, got {n_stages}")
    return delta / n_stages if joint else delta


@dataclass(frozen=True)
class CascadeCalibration:
    """The thresholds of :func:`cascade_thresholds`.

    Attributes
    ----------
    stages : tuple of SelectiveThreshold
        Stage by stage, each chosen on the calibration items that reached it (its
        ``calibration`` outcome is on those items).
    target : float
    delta : float
        The overall level asked for.
    joint : bool
        Whether each stage was tested at ``delta / k`` (else at ``delta``).
    """

    stages: tuple[SelectiveThreshold, ...]
    target: float
    delta: float
    joint: bool

    @property
    def thresholds(self) -> list[float | None]:
        return [s.threshold for s in self.stages]

    @property
    def stage_delta(self) -> float:
        return stage_delta(self.delta, len(self.stages), joint=self.joint)

    @property
    def union_confidence(self) -> float:
        """The probability with which the union's guarantee holds: ``1 - sum(delta_j)``
        (a union bound over the stages' guarantees; never below 0)."""
        return max(0.0, 1.0 - self.stage_delta * len(self.stages))

    def assign(self, confidences: Sequence[Any]) -> np.ndarray:
        """The stage that keeps each item (0-based), or ``-1``: escalated to humans."""
        return cascade_assign(confidences, self.thresholds)


def cascade_assign(confidences: Sequence[Any], thresholds: Sequence[float | None]
                   ) -> np.ndarray:
    """Which stage keeps each item: the first whose confidence reaches its threshold.

    Parameters
    ----------
    confidences : sequence of array-like of float
        One array per stage, aligned on the same items; NaN: that stage has no valid
        judgment of the item (it passes it on).
    thresholds : sequence of float or None
        One per stage; None: the stage keeps nothing.

    Returns
    -------
    numpy.ndarray of int
        The 0-based stage, or ``-1`` (:data:`HUMANS`) when no stage keeps the item.

    Examples
    --------
    >>> cascade_assign([[0.9, 0.5, 0.5], [0.1, 0.8, 0.2]], [0.8, 0.7]).tolist()
    [0, 1, -1]
    """
    arrays = _aligned(confidences)
    if len(arrays) != len(thresholds):
        raise ValueError(f"{len(arrays)} confidence arrays for {len(thresholds)} thresholds")
    out = np.full(arrays[0].size if arrays else 0, HUMANS, dtype=int)
    for j, (c, lam) in enumerate(zip(arrays, thresholds, strict=True)):
        if lam is None:
            continue
        with np.errstate(invalid="ignore"):
            take = (out == HUMANS) & (c >= lam)
        out[take] = j
    return out


def cascade_thresholds(confidences: Sequence[Any], corrects: Sequence[Any], *,
                       target: float, delta: float, joint: bool = False,
                       start: int | None = None) -> CascadeCalibration:
    r"""Each stage's threshold, on the calibration items that reach it.

    Stage 1 is calibrated on every item; stage :math:`j` on the items no earlier stage
    keeps, by :func:`~harness.selective.fixed_sequence_threshold` at :math:`\delta_j`
    (:func:`stage_delta`). A stage that certifies nothing keeps nothing and passes every
    item on.

    Parameters
    ----------
    confidences, corrects : sequence of array-like
        One array per stage, aligned on the same calibration items: the stage's confidence
        (NaN: no valid judgment) and whether it agreed with the humans.
    target, delta : float
        :math:`1-\alpha` and the overall level.
    joint : bool
        Test each stage at ``delta / k`` (the union's guarantee at ``1 - delta``) instead
        of ``delta`` (the paper: each stage's guarantee at ``1 - delta``).
    start : int, optional
        See :func:`~harness.selective.fixed_sequence_threshold` (the same for every stage).

    Returns
    -------
    CascadeCalibration

    Examples
    --------
    A cheap judge sure and right on 12 items, unsure and wrong on 12 others, on which a
    stronger judge is sure and right:

    >>> cheap, cheap_ok = [0.9] * 12 + [0.3] * 12, [True] * 12 + [False] * 12
    >>> strong, strong_ok = [0.2] * 12 + [0.9] * 12, [False] * 12 + [True] * 12
    >>> cal = cascade_thresholds([cheap, strong], [cheap_ok, strong_ok], target=0.8,
    ...                          delta=0.1)
    >>> cal.thresholds, [s.calibration.n for s in cal.stages]
    ([0.9, 0.9], [24, 12])
    """
    conf = _aligned(confidences)
    ok = _aligned(corrects, dtype=bool)
    if len(conf) != len(ok) or not conf:
        raise ValueError(f"need one confidence and one correct array per stage, got "
                         f"{len(conf)} and {len(ok)}")
    level = stage_delta(delta, len(conf), joint=joint)
    reaching = np.ones(conf[0].size, dtype=bool)
    stages = []
    for c, k in zip(conf, ok, strict=True):
        t = fixed_sequence_threshold(c[reaching], k[reaching], target=target, delta=level,
                                     start=start)
        stages.append(t)
        reaching &= ~t.keep(c)
    return CascadeCalibration(tuple(stages), target, delta, joint)


@dataclass(frozen=True)
class StageOutcome:
    """One stage on one set of items.

    Attributes
    ----------
    n_reached : int
        Items that reached the stage (every earlier stage abstained).
    outcome : SelectiveOutcome
        The stage at its threshold on the items that reached it (``coverage`` is the share
        of those it keeps; ``guarantee_held``: agreement on its kept items at least the
        target).
    share_kept : float
        The share of *all* items this stage keeps.
    """

    n_reached: int
    outcome: SelectiveOutcome
    share_kept: float

    def to_dict(self) -> dict[str, Any]:
        o = self.outcome.to_dict()
        return {"n_reached": self.n_reached, "n_kept": o["n_kept"],
                "share_kept": self.share_kept, "coverage_of_reached": o["coverage"],
                "agreement": o["agreement"], "ci95": o["ci95"],
                "guarantee_held": o["guarantee_held"]}


@dataclass(frozen=True)
class CascadeOutcome:
    """The cascade on one set of items: per stage, and overall.

    Attributes
    ----------
    stages : tuple of StageOutcome
    overall : SelectiveOutcome
        On the union of kept items: ``coverage`` the share of items some stage keeps,
        ``agreement`` on them, ``guarantee_held``.
    assigned : numpy.ndarray of int
        Per item, the stage that keeps it (0-based) or ``-1``: escalated to humans.
    """

    stages: tuple[StageOutcome, ...]
    overall: SelectiveOutcome
    assigned: np.ndarray

    @property
    def n_escalated(self) -> int:
        return int((self.assigned == HUMANS).sum())

    @property
    def escalated_share(self) -> float:
        return self.n_escalated / self.assigned.size if self.assigned.size else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**self.overall.to_dict(), "n_escalated": self.n_escalated,
                "escalated_share": self.escalated_share,
                "stages": [s.to_dict() for s in self.stages]}


def cascade_outcome(confidences: Sequence[Any], corrects: Sequence[Any],
                    thresholds: Sequence[float | None], *, target: float) -> CascadeOutcome:
    """Coverage and agreement of a calibrated cascade on a set of items.

    Parameters
    ----------
    confidences, corrects : sequence of array-like
        One array per stage, aligned on the same items.
    thresholds : sequence of float or None
        :attr:`CascadeCalibration.thresholds`.
    target : float
        For ``guarantee_held``.

    Returns
    -------
    CascadeOutcome

    Examples
    --------
    >>> o = cascade_outcome([[0.9, 0.5, 0.5], [0.1, 0.8, 0.2]],
    ...                     [[True, True, True], [True, False, True]], [0.8, 0.7],
    ...                     target=0.5)
    >>> o.overall.n_kept, o.overall.agreement, o.n_escalated
    (2, 0.5, 1)
    """
    conf = _aligned(confidences)
    ok = _aligned(corrects, dtype=bool)
    assigned = cascade_assign(conf, thresholds)
    n = assigned.size
    stages = []
    reaching = np.ones(n, dtype=bool)
    hit = np.zeros(n, dtype=bool)
    for j, (c, k, lam) in enumerate(zip(conf, ok, thresholds, strict=True)):
        o = selective_outcome(c[reaching], k[reaching], lam, target=target)
        mine = assigned == j
        stages.append(StageOutcome(int(reaching.sum()), o, int(mine.sum()) / n if n else 0.0))
        hit[mine] = k[mine]
        reaching &= ~mine
    kept = assigned != HUMANS
    # the overall outcome: "confidence" 1 for kept items, 0 for the others, threshold 1
    overall = selective_outcome(kept.astype(float), hit, 1.0 if kept.any() else None,
                                target=target)
    return CascadeOutcome(tuple(stages), overall, assigned)


def _aligned(arrays: Sequence[Any], dtype: Any = float) -> list[np.ndarray]:
    out = [np.asarray(a, dtype=dtype).ravel() for a in arrays]
    if out and any(a.size != out[0].size for a in out):
        raise ValueError("the stages' arrays differ in length: "
                         + ", ".join(str(a.size) for a in out))
    return out
