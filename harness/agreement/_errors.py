"""Judge-vs-consensus error figures: mean absolute error, mean bias, confusion matrix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._matrix import as_pair
from ._result import AgreementResult, undefined

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["confusion_counts", "confusion_matrix", "mae", "mean_bias"]


def _differences(
    statistic: str, judge: Sequence[Any], consensus: Sequence[Any]
) -> tuple[np.ndarray, int, AgreementResult | None]:
    """judge - consensus over complete pairs; the undefined result when there are none."""
    j, c = as_pair(judge, consensus)
    d = j - c
    keep = ~np.isnan(d)
    n_dropped = int(d.size - np.count_nonzero(keep))
    d = d[keep]
    if not np.isfinite(d).all():
        raise ValueError(f"{statistic}: ratings must be finite (use None/NaN for missing)")
    if d.size == 0:
        return (
            d,
            n_dropped,
            undefined(
                statistic, "no complete (judge, consensus) pairs", n_raters=2, n_dropped=n_dropped
            ),
        )
    return d, n_dropped, None


def mae(judge: Sequence[Any], consensus: Sequence[Any]) -> AgreementResult:
    r"""Mean absolute error of the judge against the human consensus.

    .. math:: \mathrm{MAE} = \frac{1}{n} \sum_{i=1}^{n} |j_i - c_i|

    over the n items where both the judge score :math:`j_i` and the consensus :math:`c_i`
    are present (pairs with a missing value are dropped).

    Parameters
    ----------
    judge, consensus : sequence of float
        Judge scores and consensus (e.g. mean or median human) scores of the same items;
        ``None``/NaN = missing.

    Returns
    -------
    AgreementResult
        ``statistic="mae"``, in the units of the rating scale; ``n_items`` = complete
        pairs; ``details``: ``n_dropped``. Undefined when no pair is complete.

    References
    ----------
    Willmott, C. J. & Matsuura, K. (2005). Advantages of the mean absolute error (MAE) over
    the root mean square error (RMSE). Climate Research 30, 79-82.

    Examples
    --------
    >>> from harness.agreement import mae
    >>> mae([4, 3, 5, None], [3, 3, 3, 2]).value
    1.0
    """
    d, n_dropped, bad = _differences("mae", judge, consensus)
    if bad is not None:
        return bad
    return AgreementResult(
        statistic="mae",
        value=float(np.abs(d).mean()),
        n_items=int(d.size),
        n_raters=2,
        details={"n_dropped": n_dropped},
    )


def mean_bias(judge: Sequence[Any], consensus: Sequence[Any]) -> AgreementResult:
    r"""Mean signed difference of the judge from the human consensus.

    .. math:: \mathrm{bias} = \frac{1}{n} \sum_{i=1}^{n} (j_i - c_i)

    Positive: the judge scores higher (more lenient) than the humans; negative: stricter.
    Pairs with a missing value are dropped. This is the mean difference of a Bland-Altman
    analysis.

    Parameters
    ----------
    judge, consensus : sequence of float
        Judge scores and consensus scores of the same items; ``None``/NaN = missing.

    Returns
    -------
    AgreementResult
        ``statistic="mean_bias"``; ``n_items`` = complete pairs; ``details``: ``n_dropped``
        and ``sd`` (sample standard deviation of the differences, ``None`` when n < 2).
        Undefined when no pair is complete.

    References
    ----------
    Bland, J. M. & Altman, D. G. (1986). Statistical methods for assessing agreement between
    two methods of clinical measurement. Lancet 327(8476), 307-310.

    Examples
    --------
    >>> from harness.agreement import mean_bias
    >>> mean_bias([4, 3, 5, None], [3, 3, 3, 2]).value   # the judge is lenient
    1.0
    >>> mean_bias([2, 3], [3, 4]).value
    -1.0
    """
    d, n_dropped, bad = _differences("mean_bias", judge, consensus)
    if bad is not None:
        return bad
    return AgreementResult(
        statistic="mean_bias",
        value=float(d.mean()),
        n_items=int(d.size),
        n_raters=2,
        details={
            "n_dropped": n_dropped,
            "sd": float(d.std(ddof=1)) if d.size > 1 else None,
        },
    )


def _is_missing(value: Any) -> bool:
    """None or a float NaN (numpy's included), the missing ratings of a sequence."""
    return value is None or (isinstance(value, float | np.floating) and value != value)


def _category_codes(name: str, values: Sequence[Any], cats: list[Any],
                    index: dict[Any, int]) -> tuple[np.ndarray, np.ndarray]:
    """Each value's category index (-1 where missing) and the missing mask."""
    arr = np.asarray(values) if not isinstance(values, np.ndarray) else values
    if arr.dtype.kind in "fiub" and all(isinstance(c, int | float | np.number) for c in cats):
        v = arr.astype(float).ravel()
        missing = np.isnan(v)
        keys = np.array([float(c) for c in cats])
        order = np.argsort(keys, kind="stable")
        pos = np.clip(np.searchsorted(keys[order], v), 0, len(cats) - 1)
        codes = np.where(keys[order][pos] == v, order[pos], -1)
        v = arr.ravel()
    else:
        items = list(values)
        missing = np.array([_is_missing(x) for x in items], dtype=bool)
        codes = np.array([-1 if m else index.get(x, -1) for x, m in zip(items, missing,
                                                                       strict=True)],
                         dtype=np.intp)
        v = np.array(items, dtype=object)
    bad = (codes < 0) & ~missing
    if bad.any():
        value = v[np.flatnonzero(bad)[0]]
        value = value.item() if isinstance(value, np.generic) else value
        raise ValueError(f"{name} score {value!r} is not one of the categories {cats}")
    return codes, missing


def confusion_counts(
    judge: Sequence[Any], consensus: Sequence[Any], categories: Sequence[Any]
) -> tuple[np.ndarray, int, int]:
    """Counts of judge scores (rows) against consensus scores (columns), in numpy.

    The table of :func:`confusion_matrix` without pandas (which costs about 9x ``import
    numpy`` to import): ``agree`` needs only the counts.

    Parameters
    ----------
    judge, consensus : sequence
        Scores of the same items; ``None``/NaN = missing (the pair is not counted).
    categories : sequence
        The full ordered set of scores; values are matched by equality (``3.0`` is ``3``).

    Returns
    -------
    counts : ndarray of int64, shape (q, q)
        ``counts[i, j]``: items the judge scored ``categories[i]`` and the consensus
        ``categories[j]``.
    n_items : int
        Complete pairs counted.
    n_dropped : int
        Pairs with a missing value.

    Raises
    ------
    ValueError
        A score is not in ``categories``, the lengths differ, or ``categories`` is empty or
        has duplicates.

    Examples
    --------
    >>> counts, n, dropped = confusion_counts([1, 2, 2], [1, 2, None], categories=[1, 2])
    >>> counts.tolist(), n, dropped
    ([[1, 0], [0, 1]], 2, 1)
    """
    cats = list(categories)
    if not cats:
        raise ValueError("categories must not be empty")
    index: dict[Any, int] = {}
    dups = []
    for i, c in enumerate(cats):
        if c in index:
            dups.append(c)
        index.setdefault(c, i)
    if dups:
        raise ValueError(f"categories has duplicates: {sorted(set(dups), key=str)}")
    j_len, c_len = len(judge), len(consensus)
    if j_len != c_len:
        raise ValueError(f"judge and consensus need the same length, got {j_len} and {c_len}")
    ji, j_missing = _category_codes("judge", judge, cats, index)
    ci, c_missing = _category_codes("consensus", consensus, cats, index)
    keep = ~(j_missing | c_missing)
    q = len(cats)
    counts = np.bincount(ji[keep] * q + ci[keep], minlength=q * q).reshape(q, q)
    n_items = int(np.count_nonzero(keep))
    return counts.astype(np.int64), n_items, int(keep.size - n_items)


def confusion_matrix(
    judge: Sequence[Any], consensus: Sequence[Any], categories: Sequence[Any]
) -> pd.DataFrame:
    """Cross-tabulation of judge scores (rows) against consensus scores (columns).

    A pandas view of :func:`confusion_counts`. Unlike the other functions here this returns
    a table, not an :class:`AgreementResult`:
    a count for every (judge, consensus) pair of the declared ``categories``, including
    categories nobody used (rows/columns of zeros), so tables from different runs line up.
    The diagonal holds the exact agreements.

    Parameters
    ----------
    judge, consensus : sequence
        Scores of the same items. ``None``/NaN = missing; pairs with a missing value are
        not counted.
    categories : sequence
        The full ordered set of scores (e.g. ``[1, 2, 3, 4, 5]``); values are matched by
        equality, so ``3.0`` matches ``3``.

    Returns
    -------
    pandas.DataFrame
        ``q x q`` integer counts, index ``categories`` named ``"judge"``, columns
        ``categories`` named ``"consensus"``. ``df.attrs["n_items"]`` holds the number of
        complete pairs counted and ``df.attrs["n_dropped"]`` the pairs dropped as missing.

    Raises
    ------
    ValueError
        A (non-missing) score is not in ``categories`` (the message names it), the lengths
        differ, or ``categories`` is empty or has duplicates.

    Examples
    --------
    >>> from harness.agreement import confusion_matrix
    >>> table = confusion_matrix([1, 2, 2, 3], [1, 2, 3, None], categories=[1, 2, 3, 4])
    >>> table  # doctest: +NORMALIZE_WHITESPACE
    consensus  1  2  3  4
    judge
    1          1  0  0  0
    2          0  1  1  0
    3          0  0  0  0
    4          0  0  0  0
    >>> table.attrs["n_items"], table.attrs["n_dropped"]
    (3, 1)
    """
    import pandas as pd  # here: the other figures need no pandas

    counts, n_items, n_dropped = confusion_counts(judge, consensus, categories)
    cats = list(categories)
    table = pd.DataFrame(
        counts,
        index=pd.Index(cats, name="judge"),
        columns=pd.Index(cats, name="consensus"),
    )
    table.attrs["n_items"] = n_items
    table.attrs["n_dropped"] = n_dropped
    return table
