r"""Selective evaluation with a guarantee of human agreement (Trust or Escalate).

Pure functions over arrays: a judge's confidence per item and whether it agreed with the
humans. Nothing here knows of providers, journals or files.

The guarantee (Jung, Brahman & Choi, "Trust or Escalate: LLM Judges with Provable
Guarantees for Human Agreement", ICLR 2025, §2): with a confidence :math:`c(x)` and a
threshold :math:`\hat\lambda` chosen on calibration items, the judge keeps an item when
:math:`c(x) \ge \hat\lambda` and escalates it otherwise, and

.. math::

    P\big(P(\text{judge agrees with the humans} \mid c(x) \ge \hat\lambda)
    \ge 1 - \alpha\big) \ge 1 - \delta ,

the outer probability over the draw of the calibration items. :math:`\hat\lambda` comes
from fixed-sequence testing (Bauer 1991; Learn then Test, Angelopoulos et al. 2021): the
candidate thresholds are scanned from the most confident down, each tests
:math:`H_0(\lambda): R(\lambda) > \alpha` (the risk of disagreeing among the kept items
above :math:`\alpha`) with the exact binomial p-value :math:`P(\mathrm{Bin}(n(\lambda),
\alpha) \le k(\lambda))`, and the scan stops at the first threshold that does not reject;
:math:`\hat\lambda` is the last one rejected.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["CurvePoint", "SelectiveOutcome", "SelectiveThreshold", "ThresholdStep",
           "agreement_coverage_curve", "agreement_indicator", "binomial_tail_pvalue",
           "clopper_pearson_upper", "fixed_sequence_threshold", "min_kept",
           "sample_agreement", "selective_outcome", "spread_confidence", "top_mass"]


# --------------------------------------------------------------------------- bounds


def clopper_pearson_upper(k: int, n: int, delta: float) -> float:
    r"""The exact one-sided upper :math:`1-\delta` confidence bound of a binomial rate.

    With :math:`k` errors among :math:`n` items, the Clopper–Pearson (1934) bound is the
    rate :math:`u` at which seeing :math:`k` or fewer errors has probability
    :math:`\delta`: :math:`P(\mathrm{Bin}(n, u) \le k) = \delta`, that is
    :math:`u = B^{-1}(1-\delta;\, k+1,\, n-k)` (the Beta quantile); :math:`u = 1` when
    :math:`k = n` (or :math:`n = 0`).

    Parameters
    ----------
    k : int
        Errors (0 to n).
    n : int
        Items (0 or more).
    delta : float
        In (0, 1).

    Returns
    -------
    float

    Examples
    --------
    >>> round(clopper_pearson_upper(0, 10, 0.1), 4)  # 1 - 0.1 ** (1 / 10)
    0.2057
    """
    _check_counts(k, n)
    _check_level(delta, "delta")
    if n == 0 or k >= n:
        return 1.0
    from scipy.stats import beta

    return float(beta.ppf(1.0 - delta, k + 1, n - k))


def binomial_tail_pvalue(k: int, n: int, alpha: float) -> float:
    r"""The exact p-value of :math:`H_0: \text{risk} > \alpha` given :math:`k` errors in
    :math:`n`: :math:`P(\mathrm{Bin}(n, \alpha) \le k)` (1 when :math:`n = 0`).

    It is at most :math:`\delta` exactly when :func:`clopper_pearson_upper` ``(k, n,
    delta)`` is at most :math:`\alpha` (the binomial CDF falls as the rate grows).

    Examples
    --------
    >>> round(binomial_tail_pvalue(0, 11, 0.2), 4)  # 0.8 ** 11
    0.0859
    """
    _check_counts(k, n)
    _check_level(alpha, "alpha")
    if n == 0:
        return 1.0
    from scipy.stats import binom

    return float(binom.cdf(k, n, alpha))


def min_kept(target: float, delta: float) -> int:
    r"""The fewest kept items that could certify ``target``: the least :math:`n` with
    :math:`(1-\alpha)^n \le \delta` (no error at all), :math:`\alpha = 1 - \text{target}`.

    Thresholds keeping fewer items cannot reject whatever the judge's answers, so the scan
    skips them (the authors' code skips thresholds keeping fewer than 30 items); the skip
    depends on the confidences only, never on agreement.

    Examples
    --------
    >>> min_kept(0.8, 0.1)
    11
    """
    alpha = 1.0 - target
    _check_level(alpha, "1 - target")
    _check_level(delta, "delta")
    n = max(1, math.ceil(math.log(delta) / math.log(1.0 - alpha)))
    while n > 1 and (1.0 - alpha) ** (n - 1) <= delta:  # the float ceil's off-by-one
        n -= 1
    while (1.0 - alpha) ** n > delta:
        n += 1
    return n


# --------------------------------------------------------------------------- threshold


@dataclass(frozen=True)
class ThresholdStep:
    """One test of the fixed sequence: the items kept at ``threshold`` and the verdict.

    Attributes
    ----------
    threshold : float
    n_kept, n_errors : int
    risk : float
        ``n_errors / n_kept``.
    upper : float
        :func:`clopper_pearson_upper` of the risk.
    p_value : float
        :func:`binomial_tail_pvalue`.
    rejected : bool
        ``upper <= alpha``: this threshold is certified.
    """

    threshold: float
    n_kept: int
    n_errors: int
    risk: float
    upper: float
    p_value: float
    rejected: bool

    def to_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "n_kept": self.n_kept, "n_errors": self.n_errors,
                "risk": self.risk, "upper": self.upper, "p_value": self.p_value,
                "rejected": self.rejected}


@dataclass(frozen=True)
class SelectiveOutcome:
    """The judge at a threshold on one set of items.

    Attributes
    ----------
    n : int
        Items (those without a consensus left out).
    n_kept : int
        Items with confidence at or above the threshold.
    coverage : float
        ``n_kept / n`` (0 when no threshold).
    agreement : float or None
        The share of kept items on which the judge agreed with the humans (None: none kept).
    ci95 : tuple of float or None
        The two-sided 95% Clopper–Pearson interval of ``agreement``.
    guarantee_held : bool or None
        ``agreement >= target`` (None: no item kept).
    """

    n: int
    n_kept: int
    coverage: float
    agreement: float | None
    ci95: tuple[float, float] | None
    guarantee_held: bool | None

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "n_kept": self.n_kept, "coverage": self.coverage,
                "agreement": self.agreement,
                "ci95": list(self.ci95) if self.ci95 is not None else None,
                "guarantee_held": self.guarantee_held}


@dataclass(frozen=True)
class SelectiveThreshold:
    """The threshold of :func:`fixed_sequence_threshold` and how it was found.

    Attributes
    ----------
    threshold : float or None
        :math:`\\hat\\lambda`: keep an item when its confidence is at least this; None when
        no threshold was certified (every item is escalated).
    target : float
        :math:`1-\\alpha`.
    delta : float
    min_kept : int
        Thresholds keeping fewer items were skipped (:func:`min_kept`, or a later
        ``start``).
    steps : tuple of ThresholdStep
        Every test made, most confident first; the last one did not reject unless the scan
        ran out of thresholds.
    calibration : SelectiveOutcome
        The judge at the threshold on the calibration items.
    """

    threshold: float | None
    target: float
    delta: float
    min_kept: int
    steps: tuple[ThresholdStep, ...]
    calibration: SelectiveOutcome

    @property
    def alpha(self) -> float:
        return 1.0 - self.target

    @property
    def certified(self) -> bool:
        return self.threshold is not None

    def keep(self, confidence: Any) -> np.ndarray:
        """Which items the judge keeps (a boolean array; NaN confidence: escalated)."""
        c = np.asarray(confidence, dtype=float)
        if self.threshold is None:
            return np.zeros(c.shape, dtype=bool)
        with np.errstate(invalid="ignore"):
            return c >= self.threshold

    def to_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "target": self.target, "delta": self.delta,
                "certified": self.certified, "min_kept": self.min_kept,
                "steps": [s.to_dict() for s in self.steps],
                **self.calibration.to_dict()}


def fixed_sequence_threshold(confidence: Any, correct: Any, *, target: float,
                             delta: float, start: int | None = None) -> SelectiveThreshold:
    r"""The abstention threshold that guarantees ``target`` agreement with probability
    ``1 - delta`` (Jung, Brahman & Choi, ICLR 2025, §2: fixed-sequence testing with the
    exact binomial bound).

    The candidate thresholds are the distinct confidences of the items (the kept set
    changes only there, so a finer fixed grid gives the same kept sets), scanned from the
    most confident down. At each, with :math:`n(\lambda)` items of confidence
    :math:`\ge\lambda` and :math:`k(\lambda)` of them disagreeing with the humans,
    :math:`H_0: R(\lambda) > \alpha` is rejected when the Clopper–Pearson upper bound
    :math:`B^{-1}(1-\delta; k+1, n-k) \le \alpha` (equivalently
    :math:`P(\mathrm{Bin}(n, \alpha) \le k) \le \delta`). The scan stops at the first
    threshold that does not reject; :math:`\hat\lambda` is the last rejected one:
    :math:`\hat\lambda = \inf\{\lambda : H_0(\lambda') \text{ rejected for every tested }
    \lambda' \ge \lambda\}`. Thresholds keeping fewer than :func:`min_kept` items cannot
    reject and are skipped.

    Parameters
    ----------
    confidence : array-like of float
        The judge's confidence per item (higher: surer); NaN for an item without a valid
        judgment (never kept).
    correct : array-like of bool
        Whether the judge agreed with the humans on the item (see
        :func:`agreement_indicator`).
    target : float
        :math:`1-\alpha`, the least agreement wanted on the kept items, in (0, 1).
    delta : float
        The chance, in (0, 1), that the guarantee fails for the calibration drawn.
    start : int, optional
        Skip the thresholds keeping fewer items than this (at least :func:`min_kept`, the
        default). The first test must see (almost) no disagreement among its few items, so
        a later start often certifies a lower threshold (the authors' code starts at 30
        kept items); it depends on the confidences only, so the guarantee stays.

    Returns
    -------
    SelectiveThreshold

    Examples
    --------
    Twelve sure and right items, then three unsure and wrong ones:

    >>> conf = [0.9] * 12 + [0.5] * 3
    >>> ok = [True] * 12 + [False] * 3
    >>> t = fixed_sequence_threshold(conf, ok, target=0.8, delta=0.1)
    >>> t.threshold, t.calibration.n_kept, t.calibration.coverage
    (0.9, 12, 0.8)
    """
    c, ok = _pairs(confidence, correct)
    alpha = 1.0 - target
    _check_level(alpha, "1 - target")
    _check_level(delta, "delta")
    need = min_kept(target, delta)
    if start is not None:
        if isinstance(start, bool) or not isinstance(start, int | np.integer) or start < 1:
            raise ValueError(f"start must be a whole number >= 1, got {start!r}")
        need = max(need, int(start))
    finite = np.isfinite(c)
    values = np.unique(c[finite])[::-1]  # distinct confidences, most confident first
    # n(λ) and k(λ) for each distinct value: items sorted by confidence, cumulative counts
    order = np.argsort(-c[finite], kind="stable")
    sorted_c = c[finite][order]
    errors = np.cumsum(~ok[finite][order])
    steps: list[ThresholdStep] = []
    threshold: float | None = None
    for lam in values:
        n = int(np.searchsorted(-sorted_c, -lam, side="right"))
        if n < need:
            continue
        k = int(errors[n - 1])
        upper = clopper_pearson_upper(k, n, delta)
        step = ThresholdStep(float(lam), n, k, k / n, upper,
                             binomial_tail_pvalue(k, n, alpha), upper <= alpha)
        steps.append(step)
        if not step.rejected:
            break
        threshold = float(lam)
    outcome = selective_outcome(c, ok, threshold, target=target)
    return SelectiveThreshold(threshold, target, delta, need, tuple(steps), outcome)


def selective_outcome(confidence: Any, correct: Any, threshold: float | None, *,
                      target: float) -> SelectiveOutcome:
    """Coverage and agreement of the items kept at ``threshold`` (None: nothing kept).

    Parameters
    ----------
    confidence : array-like of float
        NaN: never kept.
    correct : array-like of bool
    threshold : float or None
    target : float
        For ``guarantee_held`` (agreement on the kept items at least ``target``).

    Returns
    -------
    SelectiveOutcome

    Examples
    --------
    >>> o = selective_outcome([0.9, 0.8, 0.2, 0.1], [True, False, True, False], 0.5,
    ...                       target=0.5)
    >>> o.n_kept, o.coverage, o.agreement, o.guarantee_held
    (2, 0.5, 0.5, True)
    """
    c, ok = _pairs(confidence, correct)
    n = int(c.size)
    if threshold is None:
        kept = np.zeros(n, dtype=bool)
    else:
        with np.errstate(invalid="ignore"):
            kept = c >= threshold
    m = int(kept.sum())
    if m == 0:
        return SelectiveOutcome(n, 0, 0.0, None, None, None)
    hits = int(ok[kept].sum())
    agreement = hits / m
    return SelectiveOutcome(n, m, m / n, agreement, _clopper_pearson_two_sided(hits, m),
                            agreement >= target - 1e-12)


@dataclass(frozen=True)
class CurvePoint:
    """One point of the agreement–coverage curve: keep confidence >= ``threshold``."""

    threshold: float
    n_kept: int
    coverage: float
    agreement: float

    def to_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "n_kept": self.n_kept,
                "coverage": self.coverage, "agreement": self.agreement}


def agreement_coverage_curve(confidence: Any, correct: Any) -> list[CurvePoint]:
    """Agreement on the kept items against coverage, one point per distinct confidence.

    Parameters
    ----------
    confidence : array-like of float
        NaN: never kept.
    correct : array-like of bool

    Returns
    -------
    list of CurvePoint
        Most confident first (coverage rising).

    Examples
    --------
    >>> [(p.coverage, p.agreement) for p in agreement_coverage_curve([0.9, 0.5],
    ...                                                               [True, False])]
    [(0.5, 1.0), (1.0, 0.5)]
    """
    c, ok = _pairs(confidence, correct)
    finite = np.isfinite(c)
    order = np.argsort(-c[finite], kind="stable")
    sorted_c, hits = c[finite][order], np.cumsum(ok[finite][order])
    out = []
    for lam in np.unique(sorted_c)[::-1]:
        m = int(np.searchsorted(-sorted_c, -lam, side="right"))
        out.append(CurvePoint(float(lam), m, m / c.size, float(hits[m - 1]) / m))
    return out


# --------------------------------------------------------------------------- per item


def agreement_indicator(judge: Any, consensus: Any, *, tolerance: float = 0.5,
                        nominal: bool = False) -> np.ndarray:
    r"""Whether the judge agreed with the humans on each item.

    A numeric scale: :math:`|j_i - c_i| \le t` (``tolerance`` t; the default 0.5 counts
    a judge score within half a point of the consensus, i.e. one that rounds to the
    consensus's scale point). Labels (``nominal``): exact match. A missing judge score or
    consensus (NaN) is not agreement.

    Examples
    --------
    >>> agreement_indicator([4.0, 3.4, 2.0], [4.0, 4.0, float("nan")]).tolist()
    [True, False, False]
    """
    j = np.asarray(judge, dtype=float)
    c = np.asarray(consensus, dtype=float)
    if j.shape != c.shape:
        raise ValueError(f"judge scores and consensus differ in length: {j.size} vs {c.size}")
    if not math.isfinite(tolerance) or tolerance < 0:
        raise ValueError(f"tolerance must be a finite number >= 0, got {tolerance!r}")
    with np.errstate(invalid="ignore"):
        if nominal:
            return np.asarray(j == c, dtype=bool)
        return np.asarray(np.abs(j - c) <= tolerance + 1e-9, dtype=bool)


def top_mass(distribution: Mapping[Any, float]) -> float:
    """The probability of the likeliest scale point (logprob mode's confidence).

    Examples
    --------
    >>> top_mass({1: 0.1, 2: 0.7, 3: 0.2})
    0.7
    """
    if not distribution:
        raise ValueError("an empty distribution has no top mass")
    total = float(sum(distribution.values()))
    return float(max(distribution.values())) / total if total > 0 else math.nan


def spread_confidence(distribution: Mapping[Any, float], scale: tuple[float, float]
                      ) -> float:
    r"""One minus the distribution's standard deviation over its largest possible value
    on the scale (half the range): 1 when all the mass is on one point, 0 when it is split
    between the two ends.

    Examples
    --------
    >>> spread_confidence({1: 0.5, 5: 0.5}, (1, 5))
    0.0
    >>> spread_confidence({3: 1.0}, (1, 5))
    1.0
    """
    if not distribution:
        raise ValueError("an empty distribution has no spread")
    points = np.array([float(k) for k in distribution], dtype=float)
    p = np.array(list(distribution.values()), dtype=float)
    p = p / p.sum()
    mean = float((points * p).sum())
    sd = math.sqrt(max(0.0, float((p * (points - mean) ** 2).sum())))
    half = (scale[1] - scale[0]) / 2.0
    return 1.0 - sd / half if half > 0 else 1.0


def sample_agreement(samples: Sequence[float]) -> float:
    """The share of an item's samples equal to their mode (the agreement of n samples).

    Examples
    --------
    >>> sample_agreement([4, 4, 3, 4, 5])
    0.6
    """
    if not samples:
        raise ValueError("no samples")
    counts = Counter(float(s) for s in samples)
    return max(counts.values()) / len(samples)


# --------------------------------------------------------------------------- helpers


def _pairs(confidence: Any, correct: Any) -> tuple[np.ndarray, np.ndarray]:
    c = np.asarray(confidence, dtype=float).ravel()
    ok = np.asarray(correct, dtype=bool).ravel()
    if c.shape != ok.shape:
        raise ValueError(f"confidence and correct differ in length: {c.size} vs {ok.size}")
    if np.isinf(c).any():
        raise ValueError("a confidence is infinite; use NaN for an item without one")
    return c, ok


def _clopper_pearson_two_sided(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    from scipy.stats import beta

    a = (1.0 - level) / 2.0
    lo = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1.0 - a, k + 1, n - k))
    return lo, hi


def _check_counts(k: int, n: int) -> None:
    if n < 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")


def _check_level(value: float, name: str) -> None:
    if not (isinstance(value, int | float) and 0.0 < value < 1.0):
        raise ValueError(f"{name} must be in (0, 1), got {value!r}")
