"""Leave-one-out consensus of every rater at once: O(items x raters), for crowd-sized tables.

Scoring a rater against the consensus of the *other* raters by copying the table without
that rater's column costs O(items x raters) per rater, O(items x raters^2) in all: minutes
for 1,056 items x 3,168 one-shot raters. Here the consensus of the others comes from
per-item summaries computed once:

* the mean of the others: the item's sum and count, minus the rater's own score
  (:func:`item_sums`, :func:`loo_mean_column`, :func:`loo_means`; rater by rater over the
  ratings alone, :func:`loo_mean_pairs`);
* the median of the others, which no sum gives: each item's ratings sorted once, and the
  median of the remaining n - 1 values read off the sorted row around the rater's own
  position (:func:`loo_medians`), O(items x raters x log raters) for the sort.

Scores that are integers or halves (any rating scale) give bit-for-bit the figures of the
copy-per-rater computation; other decimals may differ in the last bit of a sum.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._matrix import observed_cells

__all__ = ["item_sums", "loo_mean_column", "loo_mean_pairs", "loo_means", "loo_medians"]


def item_sums(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per item the sum and the number of the ratings (NaN = no rating).

    Parameters
    ----------
    scores : ndarray, shape (n_items, n_raters)

    Returns
    -------
    sums : ndarray of float, shape (n_items,)
    counts : ndarray of int, shape (n_items,)
    """
    rows, cols = observed_cells(scores)
    values = scores[rows, cols]
    counts = np.bincount(rows, minlength=scores.shape[0])
    if _sums_exact(values, counts):  # any order gives the same floats: O(ratings)
        return np.bincount(rows, weights=values, minlength=scores.shape[0]), counts
    present = ~np.isnan(scores)
    return np.where(present, scores, 0.0).sum(axis=1), counts


def _sums_exact(values: np.ndarray, counts: np.ndarray) -> bool:
    """Whether every partial sum of a row's values is exact in double precision.

    Multiples of 1/2 (integer and half-point scales) whose row sums stay below 2**52 in
    magnitude: then a sum in any order is the same float, so the ratings' per-item
    ``bincount`` equals the dense row sums bit for bit. Other decimals keep the dense sum.
    """
    if not values.size:
        return True
    twice = values * 2.0
    top = float(np.abs(values).max()) * float(counts.max())
    return bool(top < 2.0**51 and np.array_equal(twice, np.rint(twice)))


def loo_mean_column(sums: np.ndarray, counts: np.ndarray, column: np.ndarray) -> np.ndarray:
    """The mean of the raters other than one, per item, from the items' sums and counts.

    Parameters
    ----------
    sums, counts : ndarray, shape (n_items,)
        From :func:`item_sums` of the whole table.
    column : ndarray, shape (n_items,)
        The left-out rater's scores (NaN = not rated).

    Returns
    -------
    ndarray, shape (n_items,)
        Where the rater scored the item, the mean of the item's other ratings; where not,
        the mean of all of them; NaN where no other rater scored the item. Equal to the
        mean over the table without the rater's column.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 3.0, np.nan], [2.0, np.nan, np.nan], [1.0, 1.0, 4.0]])
    >>> sums, counts = item_sums(x)
    >>> loo_mean_column(sums, counts, x[:, 2]).tolist()
    [2.0, 2.0, 1.0]
    """
    rated = ~np.isnan(column)
    others = counts - rated
    total = np.where(rated, sums - np.where(rated, column, 0.0), sums)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(others > 0, total / np.maximum(others, 1), np.nan)


def loo_mean_pairs(scores: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Rater by rater, its ratings and the mean of the others on the same items.

    One pass over the table finds the ratings, rater by rater; each rater's pairs are then
    slices of them: O(ratings) in all, where :func:`loo_mean_column` per rater costs a pass
    over every item per rater (1,056 items x 3,168 one-shot raters: 3.3M cells for 3,168
    ratings).

    Parameters
    ----------
    scores : ndarray, shape (n_items, n_raters)
        NaN = no rating.

    Yields
    ------
    (items, own, others) : tuple of ndarray
        For each rater in column order: the items (row indices, ascending) it rated and
        someone else rated too, its scores there and the mean of the other ratings there,
        equal to ``loo_mean_column`` on those items.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 3.0, np.nan], [2.0, np.nan, np.nan], [1.0, 1.0, 4.0]])
    >>> [others.tolist() for _, _, others in loo_mean_pairs(x)]
    [[3.0, 2.5], [1.0, 2.5], [1.0]]
    """
    x = np.asarray(scores, dtype=float)
    sums, counts = item_sums(x)
    items, raters = observed_cells(x)
    order = np.argsort(raters, kind="stable")  # rater by rater, items ascending
    raters, items = raters[order], items[order]
    own = x[items, raters]
    others = counts[items] - 1
    keep = others > 0
    raters, items, own = raters[keep], items[keep], own[keep]
    mean = (sums[items] - own) / others[keep]
    bounds = np.searchsorted(raters, np.arange(x.shape[1] + 1))
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        yield items[lo:hi], own[lo:hi], mean[lo:hi]


def loo_means(scores: np.ndarray) -> np.ndarray:
    """The mean of the other raters at every rated cell (NaN elsewhere).

    Parameters
    ----------
    scores : ndarray, shape (n_items, n_raters)
        NaN = no rating.

    Returns
    -------
    ndarray, same shape
        Cell (i, j): the mean of item i's ratings other than rater j's, where j rated i
        and someone else did too; NaN elsewhere.
    """
    x = np.asarray(scores, dtype=float)
    present = ~np.isnan(x)
    sums, counts = item_sums(x)
    others = counts[:, None] - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (sums[:, None] - x) / np.maximum(others, 1)
    return np.where(present & (others > 0), out, np.nan)


def loo_medians(scores: np.ndarray) -> np.ndarray:
    """The median of the other raters at every rated cell (NaN elsewhere).

    Each item's ratings are sorted once; leaving out the rating at sorted position p, the
    remaining m = n - 1 values are the sorted row without position p, so their median is
    read at positions ``(m - 1) // 2`` and ``m // 2`` of that row (one position further
    from p on). Ties need no care: leaving out any copy of a value leaves the same values.

    Parameters
    ----------
    scores : ndarray, shape (n_items, n_raters)
        NaN = no rating.

    Returns
    -------
    ndarray, same shape
        Cell (i, j): the median of item i's ratings other than rater j's (the mean of the
        two middle ones for an even number), where j rated i and someone else did too;
        NaN elsewhere.

    Examples
    --------
    >>> import numpy as np
    >>> loo_medians(np.array([[1.0, 1.0, 4.0, np.nan], [5.0, 1.0, 2.0, 3.0]])).tolist()
    [[2.5, 2.5, 1.0, nan], [2.0, 3.0, 3.0, 2.0]]
    """
    x = np.asarray(scores, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"expected an items x raters matrix, got shape {x.shape}")
    n_items, k = x.shape
    if k == 0 or n_items == 0:
        return np.full(x.shape, np.nan)
    present = ~np.isnan(x)
    n = present.sum(axis=1)
    order = np.argsort(x, axis=1, kind="stable")  # NaN last
    ordered = np.take_along_axis(x, order, axis=1)
    pos = np.empty_like(order)
    np.put_along_axis(pos, order, np.broadcast_to(np.arange(k), x.shape), axis=1)
    m = np.maximum(n - 1, 1)[:, None]  # values left; rows with m = 0 are masked below
    last = np.maximum(n - 1, 0)[:, None]

    def remaining(t: np.ndarray) -> np.ndarray:
        # the t-th smallest of the row without position pos: skip over pos
        idx = np.minimum(np.where(t < pos, t, t + 1), last)
        return np.take_along_axis(ordered, np.broadcast_to(idx, x.shape), axis=1)

    lo = remaining(np.broadcast_to((m - 1) // 2, x.shape))
    hi = remaining(np.broadcast_to(m // 2, x.shape))
    return np.where(present & (n[:, None] >= 2), (lo + hi) / 2.0, np.nan)
