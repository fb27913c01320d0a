"""Percent agreement (raw, chance-uncorrected), two raters or many, with a tolerance."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._matrix import as_matrix
from ._result import AgreementResult, undefined

__all__ = ["percent_agreement"]

_RULES = ("all_raters", "pairwise")
_MISSING = (None, "units_with_at_least_2_ratings")


def percent_agreement(
    matrix: Any,
    tolerance: float = 0,
    multi_rater: str = "all_raters",
    missing: str | None = None,
) -> AgreementResult:
    r"""Share of items on which raters agree, within ``tolerance``.

    Two raters: the share of items rated by both with :math:`|a_i - b_i| \le t`
    (``tolerance`` t; 0 = exact agreement, 1 = within one point).

    More than two raters, ``multi_rater`` picks one of two definitions in use; for two raters
    both reduce to the rule above. Only items with at least 2 (non-missing) ratings count.

    - ``"all_raters"`` (R irr ``agree``): an item agrees when all its ratings lie within the
      tolerance, :math:`\max_j x_{ij} - \min_j x_{ij} \le t`; the result is the share of
      agreeing items.
    - ``"pairwise"`` (Gwet 2014): with :math:`r_i` ratings on item i, the share of agreeing
      ordered rater pairs, :math:`p_i = \#\{(j, l): j \ne l, |x_{ij} - x_{il}| \le t\} /
      (r_i (r_i - 1))`, averaged over the items with :math:`r_i \ge 2`. With t = 0 this is
      Gwet's :math:`p_a = \frac{1}{n'} \sum_i \sum_q r_{iq}(r_{iq} - 1) / (r_i(r_i - 1))`.

    Parameters
    ----------
    matrix : array-like
        Items (rows) x raters (columns), numeric; ``None``/NaN = missing.
    tolerance : float
        Largest difference still counted as agreement (>= 0).
    multi_rater : {"all_raters", "pairwise"}
        The definition used with more than two raters.
    missing : {None, "units_with_at_least_2_ratings"}
        Missing-data convention; both values mean the same thing (the only one supported):
        items with fewer than 2 ratings are left out.

    Returns
    -------
    AgreementResult
        ``statistic="percent_agreement"``, a proportion in [0, 1] (not a percentage);
        ``n_items`` counts the items with >= 2 ratings. ``details``: ``tolerance``,
        ``multi_rater`` (``"two_raters"`` when the matrix has two columns), ``n_excluded``
        (items with fewer than 2 ratings) and, except for ``"pairwise"`` with more than two
        raters, ``n_agree``. Undefined when no item has 2 ratings.

    References
    ----------
    Gamer, M., Lemon, J., Fellows, I. & Singh, P. (2019). irr: Various coefficients of
    interrater reliability and agreement, function ``agree``. R package 0.84.1.

    Gwet, K. L. (2014). Handbook of Inter-Rater Reliability, 4th ed. Advanced Analytics,
    chapter 2 (percent agreement with missing ratings).

    Examples
    --------
    >>> from harness.agreement import percent_agreement
    >>> m = [[1, 1, 1], [1, 1, 2], [3, 2, 1], [2, None, 2]]
    >>> percent_agreement(m).value            # items 1 and 4 agree fully
    0.5
    >>> round(percent_agreement(m, multi_rater="pairwise").value, 4)   # (1 + 1/3 + 0 + 1)/4
    0.5833
    >>> percent_agreement(m, tolerance=1).value
    0.75
    """
    if multi_rater not in _RULES:
        raise ValueError(f"multi_rater must be one of {_RULES}, got {multi_rater!r}")
    if missing not in _MISSING:
        raise ValueError(f"missing must be one of {_MISSING}, got {missing!r}")
    if not (np.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(f"tolerance must be a finite number >= 0, got {tolerance!r}")
    x = as_matrix(matrix)
    if np.isinf(x).any():
        raise ValueError("ratings must be finite (use None/NaN for a missing rating)")
    n_total, k = x.shape
    rule = "two_raters" if k == 2 else multi_rater
    # raters x items, contiguous: every step below is a whole-row (all items) operation
    xt = np.ascontiguousarray(x.T)
    r = (~np.isnan(xt)).sum(axis=0)  # ratings per item
    usable = r >= 2
    n = int(np.count_nonzero(usable))
    details: dict[str, Any] = {
        "tolerance": tolerance,
        "multi_rater": rule,
        "n_excluded": n_total - n,
    }
    if n == 0:
        return undefined(
            "percent_agreement",
            "no item has 2 or more ratings",
            n_items=0,
            n_raters=k,
            **details,
        )
    if rule == "pairwise":
        value = _pairwise(xt, r, usable, tolerance)
    else:
        # all_raters (and two raters): range of the item's ratings within the tolerance;
        # fmax/fmin skip NaN without warnings
        spread = np.fmax.reduce(xt, axis=0) - np.fmin.reduce(xt, axis=0)
        n_agree = int(np.count_nonzero((spread <= tolerance) & usable))
        details["n_agree"] = n_agree
        value = n_agree / n
    return AgreementResult(
        statistic="percent_agreement",
        value=float(value),
        n_items=n,
        n_raters=k,
        details=details,
    )


def _pairwise(xt: np.ndarray, r: np.ndarray, usable: np.ndarray, tolerance: float) -> float:
    """Mean over usable items of the share of agreeing rater pairs (Gwet).

    ``xt`` is raters x items. One vectorized comparison per rater pair (over all items at
    once): O(n k^2) work, O(n) extra memory, no loop over items. Comparisons involving NaN
    are False, so missing ratings never agree.
    """
    k = xt.shape[0]
    agree = np.zeros(xt.shape[1])
    for j in range(k - 1):
        agree += (np.abs(xt[j + 1 :] - xt[j]) <= tolerance).sum(axis=0)
    ru = r[usable]
    return float(np.mean(agree[usable] / (ru * (ru - 1) / 2.0)))
