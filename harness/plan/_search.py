"""How many items decide a bar: a bootstrap grown to larger samples, and the n search.

The current anchors are the best picture of what more anchors would look like. Drawing
``m`` items with replacement from the ``n`` at hand (a multinomial over the distinct rows)
``B`` times and computing the figure on each draw gives its sampling spread at ``m`` items;
half the width of the central ``confidence`` interval of those ``B`` values is the CI
half-width to expect with ``m`` anchors. :func:`items_for` then finds the smallest ``m``
whose half-width is at most a target (doubling from ``n``, then bisection), with the same
seed at every ``m`` so that the curve it searches is smooth.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: The most items a planner looks at; beyond it the answer is "more than CAP".
CAP = 10_000
#: Resamples per candidate size (the planner needs a width, not a precise interval).
PLAN_RESAMPLES = 300


def distinct_rows(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """The distinct rows of aligned columns and how many items share each.

    Parameters
    ----------
    *columns : ndarray, shape (n,)
        Aligned per-item values (no NaN).

    Returns
    -------
    tuple of (list of ndarray, ndarray)
        The columns of the distinct rows, and the count of each row.

    Examples
    --------
    >>> cols, counts = distinct_rows(np.array([1., 1., 2.]), np.array([3., 3., 4.]))
    >>> [c.tolist() for c in cols], counts.tolist()
    ([[1.0, 2.0], [3.0, 4.0]], [2.0, 1.0])
    """
    stacked = np.column_stack([np.asarray(c, dtype=float) for c in columns])
    rows, counts = np.unique(stacked, axis=0, return_counts=True)
    return [rows[:, j] for j in range(rows.shape[1])], counts.astype(float)


def half_width(
    statistic: Callable[[np.ndarray], np.ndarray],
    counts: np.ndarray,
    m: int,
    *,
    confidence: float = 0.95,
    n_resamples: int = PLAN_RESAMPLES,
    seed: int = 0,
) -> float:
    """The CI half-width to expect with ``m`` items drawn like the current ones.

    Parameters
    ----------
    statistic : callable
        Maps a (B, U) array of frequency weights over the U distinct rows to the figure on
        each weighting, shape (B,) (NaN: undefined).
    counts : ndarray, shape (U,)
        How many current items share each distinct row.
    m : int
        Items in the grown sample.
    confidence : float
        The level of the interval (the gate's: 95%, or tightened by holdout looks).
    n_resamples : int
    seed : int

    Returns
    -------
    float
        Half the width of the central ``confidence`` interval of the figure over the draws;
        NaN when the figure is undefined on more than a tenth of them.
    """
    rng = np.random.default_rng(seed)
    p = np.asarray(counts, dtype=float) / float(np.sum(counts))
    w = rng.multinomial(int(m), p, size=n_resamples).astype(float)
    values = np.asarray(statistic(w), dtype=float)
    ok = values[np.isfinite(values)]
    if ok.size < 0.9 * n_resamples:
        return float("nan")
    tail = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(ok, [tail, 1.0 - tail])
    return float(hi - lo) / 2.0


def items_for(
    width_at: Callable[[int], float],
    target: float,
    *,
    start: int,
    cap: int = CAP,
) -> int | None:
    """The smallest number of items whose half-width is at most ``target``.

    Doubles from ``start`` until the half-width clears the target (or the cap is passed),
    then bisects between the last two sizes.

    Parameters
    ----------
    width_at : callable
        Items -> the half-width expected (:func:`half_width` with the rest bound); a NaN
        counts as too wide.
    target : float
        The half-width to reach (> 0).
    start : int
        The first size tried (e.g. the current number of items; at least 3).
    cap : int
        The most items considered.

    Returns
    -------
    int or None
        None when even ``cap`` items do not reach the target.

    Examples
    --------
    >>> items_for(lambda m: 1.0 / m ** 0.5, 0.1, start=4)
    100
    """
    if not target > 0:
        return None

    def ok(m: int) -> bool:
        w = width_at(m)
        return bool(np.isfinite(w) and w <= target)

    def bisect(lo: int, hi: int) -> int:
        """The smallest size in (lo, hi] that is narrow enough (hi is, lo is not)."""
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if ok(mid):
                hi = mid
            else:
                lo = mid
        return hi

    lo = max(3, int(start))
    if ok(lo):
        # already narrow enough: search down to the smallest size that still is
        return bisect(2, lo)
    hi = lo
    while True:
        if hi >= cap:
            return None
        lo, hi = hi, min(cap, hi * 2)
        if ok(hi):
            return bisect(lo, hi)


def anchors_to_decide(
    statistic: Callable[[np.ndarray], np.ndarray],
    counts: np.ndarray,
    estimate: float,
    bar: float,
    *,
    confidence: float = 0.95,
    n_resamples: int = PLAN_RESAMPLES,
    seed: int = 0,
    cap: int = CAP,
) -> int | None:
    """How many more anchors (at the current raters) would likely decide a bar.

    The bar is decided once the CI no longer reaches it: once its half-width is under the
    margin ``|estimate - bar|``. The half-width at ``m`` items is that of the figure over
    ``m`` items resampled from the current ones (:func:`half_width`).

    Parameters
    ----------
    statistic : callable
        Weights (B, U) -> the figure (B,), as in :func:`half_width`.
    counts : ndarray, shape (U,)
        Items per distinct row (their sum is the current number of items n).
    estimate : float
        The figure's point value now.
    bar : float
        The value checked against.
    confidence : float
    n_resamples : int
    seed : int
    cap : int
        The most items (in all) considered.

    Returns
    -------
    int or None
        The anchors to add (at least 1), or None when the margin is zero or more than
        ``cap`` items in all would be needed.
    """
    n = int(round(float(np.sum(counts))))
    margin = abs(float(estimate) - float(bar))
    if n < 3 or margin <= 0:
        return None
    need = items_for(lambda m: half_width(statistic, counts, m, confidence=confidence,
                                          n_resamples=n_resamples, seed=seed),
                     margin, start=n, cap=cap)
    if need is None:
        return None
    return max(1, need - n)
