"""Chance-corrected agreement on categories: Cohen's, Fleiss' kappa and Gwet's AC1/AC2.

All four statistics work from counts, never from per-item Python loops: ratings are first
coded as positions in the category set (:func:`_encode`), then tallied with
``np.bincount`` into a two-rater contingency table (Cohen) or an items x categories count
matrix (Fleiss, Gwet).

Weights (Cohen's weighted kappa, Gwet's AC2) are built from **positions** in the declared
category set, not from the raw values (see ``../shared/reference/README.md``):

- ``None``: identity (unweighted), :math:`w_{kl} = [k = l]`;
- ``"linear"``: :math:`w_{kl} = 1 - |k - l| / (q - 1)`;
- ``"quadratic"``: :math:`w_{kl} = 1 - (k - l)^2 / (q - 1)^2`;
- or an explicit q x q array.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._result import AgreementResult, undefined

__all__ = ["cohen_kappa", "fleiss_kappa", "gwet_ac1", "gwet_ac2"]

_Z95 = 1.959963984540054  # standard normal 97.5% quantile
# largest items x categories count matrix built (float64 cells); guards against continuous
# scores being passed to a categorical statistic
_MAX_COUNT_CELLS = 20_000_000
# integer-valued ratings spanning at most this many points are coded with np.bincount
_INT_FAST_RANGE = 100_000


# --------------------------------------------------------------------------------------
# input coercion and coding (shared with _krippendorff)
# --------------------------------------------------------------------------------------


def _is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, float | np.floating) and v != v)


def _coerce(data: Any, ndim: int, what: str) -> tuple[np.ndarray, bool]:
    """Coerce ratings into an array of ``ndim`` dimensions.

    Returns ``(array, numeric)``: a float array with NaN for missing when every rating is a
    number (or ``None``/NaN), otherwise an object array of labels with ``None`` for missing.
    """
    if hasattr(data, "to_numpy"):  # pandas
        try:
            arr = data.to_numpy(dtype=float, na_value=np.nan)
        except (TypeError, ValueError):
            arr = data.to_numpy(dtype=object, na_value=None)
    elif isinstance(data, np.ndarray):
        arr = data
    else:
        arr = np.array(data, dtype=object)
    if arr.ndim != ndim:
        raise ValueError(
            f"{what}: expected a {ndim}-D array of ratings, got shape {arr.shape}"
            + (" (rows of unequal length?)" if arr.dtype == object and ndim == 2 else "")
        )
    kind = arr.dtype.kind
    if kind in "fiub":
        return arr.astype(float, copy=False), True
    if kind in "US":
        return arr.astype(object), False
    if kind != "O":
        raise TypeError(f"{what}: cannot use ratings of dtype {arr.dtype}")
    flat = arr.ravel()
    missing = np.fromiter((_is_missing(v) for v in flat), dtype=bool, count=flat.size)
    missing = missing.reshape(arr.shape)
    if not any(isinstance(v, str | bytes) for v in flat):
        try:
            return np.where(missing, np.nan, arr).astype(float), True
        except (TypeError, ValueError):
            pass
    out = arr.copy()
    out[missing] = None
    return out, False


def _plain(v: Any) -> Any:
    """A numpy scalar as a plain Python number (ints stay ints)."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def _encode(
    arr: np.ndarray,
    numeric: bool,
    categories: Sequence[Any] | None,
    locate: Callable[[int], str],
    what: str,
) -> tuple[np.ndarray, np.ndarray | list[Any]]:
    """Code ratings as positions in the category set.

    Returns ``(codes, cats)``: an int array of ``arr``'s shape with -1 for missing, and the
    categories (a float array when numeric, else a list). With ``categories=None`` the
    categories are the sorted distinct observed values. A rating outside declared
    categories raises ValueError naming the value and ``locate(flat_index)``.
    """
    codes = np.full(arr.shape, -1, dtype=np.intp)
    if numeric:
        mask = ~np.isnan(arr)
        vals = arr[mask]
        if np.isinf(vals).any():
            i = int(np.flatnonzero(mask)[np.flatnonzero(np.isinf(vals))[0]])
            raise ValueError(f"{what}: non-finite rating {arr.flat[i]} at {locate(i)}")
        if categories is None:
            cats, code = _distinct_numeric(vals)
        else:
            try:
                cats = np.asarray(list(categories), dtype=float)
            except (TypeError, ValueError):
                raise ValueError(
                    f"{what}: ratings are numeric but categories are not: {list(categories)!r}"
                ) from None
            _check_categories(cats.tolist(), what)
            order = np.argsort(cats, kind="stable")
            sorted_cats = cats[order]
            pos = np.minimum(np.searchsorted(sorted_cats, vals), cats.size - 1)
            ok = sorted_cats[pos] == vals
            if not ok.all():
                i = int(np.flatnonzero(mask)[np.flatnonzero(~ok)[0]])
                raise ValueError(
                    f"{what}: rating {_plain(arr.flat[i])!r} at {locate(i)} is not one of the "
                    f"declared categories {[_plain(c) for c in cats]}"
                )
            code = order[pos]
        codes[mask] = code
        return codes, cats

    flat = arr.ravel()
    present = [v is not None for v in flat]
    if categories is None:
        distinct = dict.fromkeys(v for v, p in zip(flat, present, strict=True) if p)
        try:
            cats_list = sorted(distinct)
        except TypeError:  # mixed label types: keep order of first appearance
            cats_list = list(distinct)
    else:
        cats_list = list(categories)
        _check_categories(cats_list, what)
    lookup = {c: k for k, c in enumerate(cats_list)}
    coded = np.fromiter(
        (lookup.get(v, -2) if p else -1 for v, p in zip(flat, present, strict=True)),
        dtype=np.intp,
        count=flat.size,
    )
    bad = np.flatnonzero(coded == -2)
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{what}: rating {flat[i]!r} at {locate(i)} is not one of the declared "
            f"categories {cats_list!r}"
        )
    return coded.reshape(arr.shape), cats_list


def _distinct_numeric(vals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values and each value's position among them."""
    if vals.size == 0:
        return np.empty(0), np.empty(0, dtype=np.intp)
    lo, hi = vals.min(), vals.max()
    if hi - lo <= _INT_FAST_RANGE and np.array_equal(vals, np.floor(vals)):
        off = (vals - lo).astype(np.intp)
        present = np.bincount(off) > 0
        lookup = np.cumsum(present) - 1
        return lo + np.flatnonzero(present), lookup[off]
    cats, code = np.unique(vals, return_inverse=True)
    return cats, code.reshape(-1)


def _check_categories(cats: list[Any], what: str) -> None:
    if not cats:
        raise ValueError(f"{what}: categories is empty")
    try:
        distinct = len(set(cats))
    except TypeError:
        raise ValueError(f"{what}: categories must be hashable labels, got {cats!r}") from None
    if distinct != len(cats):
        raise ValueError(f"{what}: categories contain duplicates: {cats!r}")


def _cat_list(cats: np.ndarray | list[Any]) -> list[Any]:
    return [_plain(c) for c in cats]


def _weight_matrix(weights: Any, q: int, what: str) -> tuple[np.ndarray, Any]:
    """The q x q agreement weights and a JSON-friendly description of them."""
    if weights is None:
        return np.eye(q), None
    if isinstance(weights, str):
        if weights not in ("linear", "quadratic"):
            raise ValueError(
                f"{what}: weights must be None, 'linear', 'quadratic' or a q x q array; "
                f"got {weights!r}"
            )
        if q == 1:
            return np.ones((1, 1)), weights
        pos = np.arange(q, dtype=float)
        diff = np.abs(pos[:, None] - pos[None, :]) / (q - 1)
        return (1.0 - diff if weights == "linear" else 1.0 - diff**2), weights
    w = np.asarray(weights, dtype=float)
    if w.shape != (q, q) or not np.isfinite(w).all():
        raise ValueError(
            f"{what}: a custom weight matrix must be a finite {q} x {q} array (one row and "
            f"column per category), got shape {w.shape}"
        )
    return w, "custom"


def _count_matrix(codes: np.ndarray, q: int, what: str) -> np.ndarray:
    """Items x categories counts r_ik from a coded items x raters matrix."""
    n = codes.shape[0]
    if n * q > _MAX_COUNT_CELLS:
        raise ValueError(
            f"{what}: {n} items x {q} categories is too large for a categorical statistic; "
            "are these continuous scores? Use krippendorff_alpha(level='interval') or icc"
        )
    valid = codes >= 0
    keys = (np.arange(n)[:, None] * q + codes)[valid]
    return np.bincount(keys, minlength=n * q).reshape(n, q).astype(float)


def _coded_matrix(
    matrix: Any, categories: Sequence[Any] | None, what: str
) -> tuple[np.ndarray, np.ndarray | list[Any]]:
    arr, numeric = _coerce(matrix, 2, what)
    ncol = arr.shape[1]
    return _encode(
        arr, numeric, categories, lambda i: f"row {i // ncol}, column {i % ncol}", what
    )


# --------------------------------------------------------------------------------------
# Cohen's kappa
# --------------------------------------------------------------------------------------


def cohen_kappa(
    a: Sequence[Any],
    b: Sequence[Any],
    weights: str | np.ndarray | None = None,
    categories: Sequence[Any] | None = None,
) -> AgreementResult:
    r"""Cohen's kappa (unweighted or weighted) between two raters.

    With :math:`p_{kl}` the share of items rated category k by rater ``a`` and l by rater
    ``b``, marginals :math:`p_{k+}` and :math:`p_{+l}`, and agreement weights
    :math:`w_{kl}` (identity when unweighted),

    .. math::

        p_o = \sum_{kl} w_{kl} p_{kl}, \qquad
        p_e = \sum_{kl} w_{kl} p_{k+} p_{+l}, \qquad
        \kappa = \frac{p_o - p_e}{1 - p_e}

    (Cohen 1960; weighted: Cohen 1968). Linear weights are
    :math:`1 - |k - l|/(q - 1)`, quadratic :math:`1 - (k - l)^2/(q - 1)^2`, with k, l the
    positions in ``categories``.

    The standard error is the large-sample (non-null) one of Fleiss, Cohen & Everitt (1969),
    as in SAS PROC FREQ and R ``vcd::Kappa``:

    .. math::

        \mathrm{var}(\kappa) = \frac{\sum_{kl} p_{kl} \left[w_{kl} - (\bar w_{k\cdot}
        + \bar w_{\cdot l})(1 - \kappa)\right]^2 - \left[\kappa - p_e (1 - \kappa)\right]^2}
        {n (1 - p_e)^2}

    with :math:`\bar w_{k\cdot} = \sum_l p_{+l} w_{kl}` and
    :math:`\bar w_{\cdot l} = \sum_k p_{k+} w_{kl}`; ``ci95`` is the Wald interval
    :math:`\kappa \pm 1.96\,\mathrm{SE}`, not truncated to [-1, 1].

    Parameters
    ----------
    a, b : sequence
        The two raters' ratings of the same items, equal length. ``None``/NaN = missing;
        an item missing either rating is dropped. Numbers or (for unweighted kappa) labels.
    weights : {None, "linear", "quadratic"} or array-like, optional
        Agreement weights; ``None`` (default) is unweighted kappa. A q x q array gives
        custom weights indexed by category position.
    categories : sequence, optional
        The full ordered category set. Default: the sorted distinct observed values.
        **Declare it for weighted kappa**: the weights depend on the positions in the full
        scale, so an unused category inside the scale changes the result (e.g. a 1-5 scale
        on which nobody used 3). An unused category at either end does not (weighted kappa
        is invariant to rescaling the disagreement weights), but declaring is still safer.

    Returns
    -------
    AgreementResult
        ``statistic="cohen_kappa"``, ``n_items`` = pairs used, ``n_raters`` = 2,
        ``ci95`` with ``ci_method``. ``details``: ``po``, ``pe``, ``ase`` (large-sample
        standard error), ``weights`` (None, "linear", "quadratic" or "custom"),
        ``categories``, ``table`` (confusion table, rows = ``a``, columns = ``b``, as
        nested lists of counts) and ``n_dropped`` (pairs with a missing rating).
        Undefined when no pair is complete, or when chance agreement :math:`p_e = 1`
        (e.g. both raters always used the same single category).

    Raises
    ------
    ValueError
        Unequal lengths, unknown ``weights``, or a rating not in ``categories`` (the message
        names the value and its 0-based index).

    References
    ----------
    - Cohen, J. (1960). A coefficient of agreement for nominal scales. *Educational and
      Psychological Measurement*, 20, 37-46.
    - Cohen, J. (1968). Weighted kappa. *Psychological Bulletin*, 70, 213-220.
    - Fleiss, J. L., Cohen, J., & Everitt, B. S. (1969). Large sample standard errors of
      kappa and weighted kappa. *Psychological Bulletin*, 72, 323-327.

    Examples
    --------
    Wikipedia's example: 50 proposals, yes/yes 20, yes/no 5, no/yes 10, no/no 15.

    >>> from harness.agreement import cohen_kappa
    >>> a = ["yes"] * 25 + ["no"] * 25
    >>> b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    >>> res = cohen_kappa(a, b)
    >>> round(res.value, 4), res.details["po"], res.details["pe"]
    (0.4, 0.7, 0.5)
    >>> round(cohen_kappa([1, 2, 3, 3, 2], [1, 2, 3, 2, 2], weights="quadratic",
    ...                   categories=[1, 2, 3, 4]).value, 4)
    0.8
    """
    what = "cohen_kappa"
    xa, num_a = _coerce(a, 1, what)
    xb, num_b = _coerce(b, 1, what)
    if xa.shape != xb.shape:
        raise ValueError(
            f"{what}: the two raters need equal-length ratings, got {xa.size} and {xb.size}"
        )
    numeric = num_a and num_b
    if numeric:
        pair = np.column_stack([xa, xb])
    else:
        pair = np.empty((xa.size, 2), dtype=object)
        pair[:, 0] = np.where(np.isnan(xa), None, xa) if num_a else xa
        pair[:, 1] = np.where(np.isnan(xb), None, xb) if num_b else xb
    codes, cats = _encode(pair, numeric, categories, lambda i: f"index {i // 2} of {'ab'[i % 2]}",
                          what)
    q = len(cats)
    if q:
        w, kind = _weight_matrix(weights, q, what)
    else:  # nothing rated and no categories declared: validate the kind only
        kind = _weight_matrix(weights if weights is None or isinstance(weights, str) else None,
                              1, what)[1]
    keep = (codes >= 0).all(axis=1)
    n = int(keep.sum())
    n_dropped = int(codes.shape[0] - n)
    if n < 1:
        return undefined(
            what, "no item was rated by both raters", n_items=0, n_raters=2,
            n_dropped=n_dropped, weights=kind, categories=_cat_list(cats),
        )
    ca, cb = codes[keep, 0], codes[keep, 1]
    table = np.bincount(ca * q + cb, minlength=q * q).reshape(q, q)
    p = table / n
    pr, pc = p.sum(axis=1), p.sum(axis=0)
    po = float((w * p).sum())
    pe = float(pr @ w @ pc)
    details: dict[str, Any] = {
        "po": po,
        "pe": pe,
        "weights": kind,
        "categories": _cat_list(cats),
        "table": table.tolist(),
        "n_dropped": n_dropped,
    }
    if not 1.0 - pe > 1e-12:
        used = _cat_list([cats[k] for k in np.flatnonzero(pr + pc)])
        return undefined(
            what,
            f"chance agreement p_e = 1 (categories used: {used}); kappa is 0/0",
            n_items=n, n_raters=2, **details,
        )
    kappa = (po - pe) / (1.0 - pe)

    # Fleiss, Cohen & Everitt (1969) large-sample variance
    wbar_row = w @ pc  # \bar w_{k.} = sum_l p_{+l} w_{kl}
    wbar_col = pr @ w  # \bar w_{.l} = sum_k p_{k+} w_{kl}
    dev = w - (wbar_row[:, None] + wbar_col[None, :]) * (1.0 - kappa)
    var = ((p * dev**2).sum() - (kappa - pe * (1.0 - kappa)) ** 2) / (n * (1.0 - pe) ** 2)
    ase = math.sqrt(max(float(var), 0.0))
    details["ase"] = ase
    return AgreementResult(
        statistic=what,
        value=float(kappa),
        ci95=(float(kappa - _Z95 * ase), float(kappa + _Z95 * ase)),
        ci_method="Wald, large-sample SE (Fleiss, Cohen & Everitt 1969)",
        n_items=n,
        n_raters=2,
        details=details,
    )


# --------------------------------------------------------------------------------------
# Fleiss' kappa
# --------------------------------------------------------------------------------------


def fleiss_kappa(matrix: Any, categories: Sequence[Any] | None = None) -> AgreementResult:
    r"""Fleiss' kappa for many raters, each item rated the same number of times.

    With N items, m ratings per item and :math:`n_{ij}` the number of ratings of item i in
    category j:

    .. math::

        P_i = \frac{\sum_j n_{ij}^2 - m}{m(m - 1)}, \quad
        \bar P = \frac{1}{N}\sum_i P_i, \quad
        p_j = \frac{1}{N m}\sum_i n_{ij}, \quad
        \bar P_e = \sum_j p_j^2, \quad
        \kappa = \frac{\bar P - \bar P_e}{1 - \bar P_e}

    (Fleiss 1971). Rater identity is irrelevant: columns are rating slots.

    Parameters
    ----------
    matrix : array-like
        Items (rows) x rating slots (columns); ``None``/NaN = missing. Every item must
        carry the same number of ratings; items with no rating at all are dropped.
    categories : sequence, optional
        The category set; only used to validate the ratings (unused categories do not
        change Fleiss' kappa). Default: the distinct observed values.

    Returns
    -------
    AgreementResult
        ``statistic="fleiss_kappa"``, ``n_items`` = N, ``n_raters`` = m (ratings per item).
        ``details``: ``po`` (:math:`\bar P`), ``pe`` (:math:`\bar P_e`), ``categories``,
        ``category_proportions`` (:math:`p_j`), ``ratings_per_item`` and ``n_empty_dropped``.
        Undefined when there are no items, only one rating per item, or
        :math:`\bar P_e = 1` (every rating in one category). No confidence interval: the
        Fleiss (1971) standard error holds only under the null kappa = 0; use a bootstrap.

    Raises
    ------
    ValueError
        An item has a different number of ratings from the others (the message names the
        first such row), or a rating is not in ``categories``. For unequal numbers of
        ratings use :func:`gwet_ac1` or :func:`krippendorff_alpha`.

    References
    ----------
    Fleiss, J. L. (1971). Measuring nominal scale agreement among many raters.
    *Psychological Bulletin*, 76, 378-382.

    Examples
    --------
    >>> from harness.agreement import fleiss_kappa
    >>> m = [[1, 1, 1], [1, 1, 2], [2, 2, 2], [3, 3, 2], [3, 3, 3]]
    >>> res = fleiss_kappa(m)
    >>> round(res.value, 4), round(res.details["po"], 4), round(res.details["pe"], 4)
    (0.6, 0.7333, 0.3333)
    """
    what = "fleiss_kappa"
    codes, cats = _coded_matrix(matrix, categories, what)
    q = len(cats)
    counts = _count_matrix(codes, max(q, 1), what)
    r_all = counts.sum(axis=1)
    nonempty = r_all > 0
    n_empty = int((~nonempty).sum())
    counts, r = counts[nonempty], r_all[nonempty]
    n_items = counts.shape[0]
    base: dict[str, Any] = {"categories": _cat_list(cats), "n_empty_dropped": n_empty}
    if n_items == 0:
        return undefined(what, "no ratings", n_items=0, n_raters=0, **base)
    values, freq = np.unique(r, return_counts=True)
    m = float(values[np.argmax(freq)])
    if values.size > 1:
        row = int(np.flatnonzero(nonempty & (r_all != m))[0])
        raise ValueError(
            f"{what} needs the same number of ratings on every item: row {row} has "
            f"{int(r_all[row])} ratings but most items have "
            f"{int(m)}; use gwet_ac1 or krippendorff_alpha for items with missing ratings"
        )
    base["ratings_per_item"] = int(m)
    if m < 2:
        return undefined(
            what, "each item has only one rating; agreement needs at least 2",
            n_items=n_items, n_raters=int(m), **base,
        )
    p_i = ((counts**2).sum(axis=1) - m) / (m * (m - 1.0))
    po = float(p_i.mean())
    pj = counts.sum(axis=0) / (n_items * m)
    pe = float((pj**2).sum())
    details = {"po": po, "pe": pe, **base, "category_proportions": pj.tolist()}
    if not 1.0 - pe > 1e-12:
        only = _plain(cats[int(np.argmax(pj))])
        return undefined(
            what, f"no variation: every rating is {only!r}, so chance agreement P_e = 1",
            n_items=n_items, n_raters=int(m), **details,
        )
    return AgreementResult(
        statistic=what,
        value=(po - pe) / (1.0 - pe),
        n_items=n_items,
        n_raters=int(m),
        details=details,
    )


# --------------------------------------------------------------------------------------
# Gwet's AC1 / AC2
# --------------------------------------------------------------------------------------


def _gwet(matrix: Any, weights: Any, categories: Sequence[Any] | None, what: str
          ) -> AgreementResult:
    codes, cats = _coded_matrix(matrix, categories, what)
    q = len(cats)
    n_raters = int((codes >= 0).any(axis=0).sum())
    kind = weights if weights is None or isinstance(weights, str) else "custom"
    base: dict[str, Any] = {"weights": kind, "categories": _cat_list(cats)}
    if q == 0:
        return undefined(what, "no ratings", n_items=0, n_raters=0, **base)
    w, kind = _weight_matrix(weights, q, what)
    base["weights"] = kind
    counts = _count_matrix(codes, q, what)
    r = counts.sum(axis=1)
    rated = r >= 1
    multi = r >= 2
    n_rated = int(rated.sum())
    n_multi = int(multi.sum())
    base["n_items_pa"] = n_multi
    if n_multi == 0:
        return undefined(
            what, "no item has 2 or more ratings", n_items=n_rated, n_raters=n_raters, **base
        )
    if q < 2:
        return undefined(
            what,
            f"only one category ({_cat_list(cats)[0]!r}); chance agreement is undefined. "
            "Declare the full category set with categories=",
            n_items=n_rated, n_raters=n_raters, **base,
        )
    # observed agreement over items with >= 2 ratings (Gwet 2014)
    cm, rm = counts[multi], r[multi]
    r_star = cm @ w.T  # r*_ik = sum_l w_kl r_il
    pa = float(((cm * (r_star - 1.0)).sum(axis=1) / (rm * (rm - 1.0))).mean())
    # category propensities over items with >= 1 rating
    pi = (counts[rated] / r[rated, None]).mean(axis=0)
    t_w = float(w.sum())
    pe = float(t_w / (q * (q - 1.0)) * (pi * (1.0 - pi)).sum())
    details = {"pa": pa, "pe": pe, **base, "pi": pi.tolist()}
    if not 1.0 - pe > 1e-12:
        return undefined(
            what, f"chance agreement p_e = {pe:.6g} >= 1", n_items=n_rated,
            n_raters=n_raters, **details,
        )
    return AgreementResult(
        statistic=what,
        value=(pa - pe) / (1.0 - pe),
        n_items=n_rated,
        n_raters=n_raters,
        details=details,
    )


_GWET_NOTES = r"""
    Gwet's (2014) estimator for any number of raters and missing ratings. With
    :math:`r_{ik}` the number of ratings of item i in category k, :math:`r_i = \sum_k
    r_{ik}`, q categories and agreement weights :math:`w_{kl}`:

    .. math::

        r^*_{ik} = \sum_l w_{kl} r_{il}, \qquad
        p_a = \frac{1}{n'} \sum_{i: r_i \ge 2}
              \frac{\sum_k r_{ik} (r^*_{ik} - 1)}{r_i (r_i - 1)},

        \pi_k = \frac{1}{n} \sum_{i: r_i \ge 1} \frac{r_{ik}}{r_i}, \qquad
        p_e = \frac{T_w}{q (q - 1)} \sum_k \pi_k (1 - \pi_k), \qquad
        AC = \frac{p_a - p_e}{1 - p_e}

    where n' is the number of items with at least 2 ratings, n the number with at least 1,
    and :math:`T_w = \sum_{kl} w_{kl}` (q for identity weights, giving AC1's
    :math:`p_e = \frac{1}{q-1}\sum_k \pi_k(1-\pi_k)`). q counts the **declared** categories,
    so an unused declared category lowers :math:`p_e`.
"""


def gwet_ac1(
    matrix: Any, weights: None = None, categories: Sequence[Any] | None = None
) -> AgreementResult:
    r"""Gwet's AC1, the unweighted first-order agreement coefficient.
    {notes}
    Parameters
    ----------
    matrix : array-like
        Items (rows) x raters (columns); ``None``/NaN = missing. Two raters are simply two
        columns (transpose a ``[a, b]`` pair).
    weights : None
        Must be ``None``; AC1 is unweighted. For weights use :func:`gwet_ac2`.
    categories : sequence, optional
        The full category set; default the sorted distinct observed values.

    Returns
    -------
    AgreementResult
        ``statistic="gwet_ac1"``, ``n_items`` = items with at least one rating, ``n_raters``
        = columns with at least one rating. ``details``: ``pa``, ``pe``, ``pi`` (category
        propensities), ``weights``, ``categories``, ``n_items_pa`` (items with >= 2
        ratings). Undefined when no item has 2 ratings or only one category is known. No
        confidence interval (use a bootstrap).

    References
    ----------
    - Gwet, K. L. (2008). Computing inter-rater reliability and its variance in the presence
      of high agreement. *British Journal of Mathematical and Statistical Psychology*, 61,
      29-48.
    - Gwet, K. L. (2014). *Handbook of Inter-Rater Reliability* (4th ed.). Advanced
      Analytics.

    Examples
    --------
    >>> from harness.agreement import gwet_ac1
    >>> m = [[1, 1, 1], [1, 1, 2], [2, 2, None], [3, 3, 2], [3, None, None]]
    >>> res = gwet_ac1(m)
    >>> round(res.value, 4), round(res.details["pa"], 4), round(res.details["pe"], 4)
    (0.5, 0.6667, 0.3333)
    """
    if weights is not None:
        raise ValueError(
            f"gwet_ac1 is unweighted (weights=None); got weights={weights!r}. "
            "Use gwet_ac2(matrix, weights=...) for weighted agreement"
        )
    return _gwet(matrix, None, categories, "gwet_ac1")


def gwet_ac2(
    matrix: Any,
    weights: str | np.ndarray | None = "quadratic",
    categories: Sequence[Any] | None = None,
) -> AgreementResult:
    r"""Gwet's AC2, the weighted agreement coefficient for ordinal ratings.
    {notes}
    Parameters
    ----------
    matrix : array-like
        Items (rows) x raters (columns); ``None``/NaN = missing.
    weights : {"quadratic", "linear", None} or array-like
        Agreement weights from positions in ``categories``: linear
        :math:`1 - |k-l|/(q-1)`, quadratic :math:`1 - (k-l)^2/(q-1)^2`, or a q x q array.
        ``None`` (identity) gives AC1.
    categories : sequence, optional
        The full ordered category set; default the sorted distinct observed values.
        **Declare it**: weights depend on positions in the full scale.

    Returns
    -------
    AgreementResult
        ``statistic="gwet_ac2"``; ``n_items``, ``n_raters`` and ``details`` as in
        :func:`gwet_ac1`.

    References
    ----------
    Gwet, K. L. (2014). *Handbook of Inter-Rater Reliability* (4th ed.), chapter 3
    (weighted AC2 with missing ratings). Advanced Analytics.

    Examples
    --------
    >>> from harness.agreement import gwet_ac2
    >>> m = [[1, 1, 1], [1, 1, 2], [2, 2, None], [3, 3, 2], [3, None, None]]
    >>> res = gwet_ac2(m, categories=[1, 2, 3])
    >>> round(res.value, 4), round(res.details["pa"], 4), round(res.details["pe"], 4)
    (0.75, 0.9167, 0.6667)
    """
    return _gwet(matrix, weights, categories, "gwet_ac2")


gwet_ac1.__doc__ = (gwet_ac1.__doc__ or "").replace("{notes}", _GWET_NOTES)
gwet_ac2.__doc__ = (gwet_ac2.__doc__ or "").replace("{notes}", _GWET_NOTES)
