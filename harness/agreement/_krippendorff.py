"""Krippendorff's alpha for nominal, ordinal, interval and ratio data with missing values."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._kappa import _cat_list, _coerce, _distinct_numeric, _encode
from ._matrix import observed_cells, present_cells
from ._result import AgreementResult, undefined

__all__ = ["krippendorff_alpha"]

_LEVELS = ("nominal", "ordinal", "interval", "ratio")
# the dense path builds a units x values count matrix and a values x values coincidence
# matrix; beyond these sizes (e.g. continuous scores) a sparse path is used instead
_DENSE_MAX_VALUES = 128
_DENSE_MAX_CELLS = 20_000_000
# distinct values listed in details["values"] at most
_MAX_LISTED_VALUES = 1000
# block size (values) for the ratio-level expected disagreement with many distinct values
_RATIO_BLOCK = 1024


def krippendorff_alpha(matrix: Any, level: str = "interval") -> AgreementResult:
    r"""Krippendorff's alpha reliability coefficient.

    Units with :math:`m_u \ge 2` values are pairable; the others are ignored. With
    :math:`n_{uc}` the number of values c in unit u, the coincidence matrix and the
    pairable value frequencies are

    .. math::

        o_{ck} = \sum_u \frac{n_{uc} (n_{uk} - [c = k])}{m_u - 1}, \qquad
        n_c = \sum_k o_{ck}, \qquad n = \sum_c n_c,

    and, with the level's squared difference :math:`\delta^2_{ck}`,

    .. math::

        D_o = \frac{1}{n} \sum_{c,k} o_{ck}\, \delta^2_{ck}, \qquad
        D_e = \frac{1}{n (n - 1)} \sum_{c,k} n_c n_k\, \delta^2_{ck}, \qquad
        \alpha = 1 - \frac{D_o}{D_e}.

    Levels (Krippendorff 2011):

    - ``"nominal"``: :math:`\delta^2_{ck} = [c \ne k]`;
    - ``"ordinal"``: :math:`\delta^2_{ck} = \left(\sum_{g=c}^{k} n_g - \frac{n_c +
      n_k}{2}\right)^2`, Krippendorff's rank-frequency metric using the pairable value
      frequencies (not irrCAC's "ordinal weights");
    - ``"interval"``: :math:`(c - k)^2`;
    - ``"ratio"``: :math:`\left(\frac{c - k}{c + k}\right)^2`, with distance 0 for the pair
      (0, 0); values must be non-negative.

    Parameters
    ----------
    matrix : array-like
        Units (rows) x coders (columns), ``None``/NaN = missing. This is the **transpose**
        of Krippendorff's coders x units layout. Numbers, or for ``"nominal"`` also labels
        (e.g. strings).
    level : {"interval", "nominal", "ordinal", "ratio"}
        Level of measurement, i.e. the difference function.

    Returns
    -------
    AgreementResult
        ``statistic="krippendorff_alpha"``, ``n_items`` = pairable units, ``n_raters`` =
        coders with a value in a pairable unit. ``details``: ``D_o``, ``D_e``,
        ``n_pairable`` (pairable values n), ``level``, ``values`` (the distinct pairable
        values; omitted beyond 1000 of them), ``n_values``, ``n_units_ignored`` (units with
        fewer than 2 values). Undefined when no unit is pairable or all pairable values are
        equal (:math:`D_e = 0`). No confidence interval (use a bootstrap).

    Raises
    ------
    ValueError
        Unknown ``level``; labels with a level other than ``"nominal"``; negative values
        with ``"ratio"``.

    Notes
    -----
    Computed from a units x values count matrix (``np.bincount``) and the coincidence
    matrix. With many distinct values (continuous scores) the same :math:`D_o` and
    :math:`D_e` are computed without the values x values matrices: closed forms for
    nominal, interval and ordinal (ordinal = interval on the mid-cumulative frequencies
    :math:`\sum_{g<c} n_g + n_c/2`), pairs of coders for the ratio :math:`D_o`. The ratio
    :math:`D_e` has no closed form and costs O(V^2) in the number V of distinct values
    (seconds for tens of thousands of distinct continuous scores).

    References
    ----------
    Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability. Annenberg School
    for Communication, Departmental Papers (ASC) 43. https://repository.upenn.edu/asc_papers/43

    Examples
    --------
    Krippendorff (2011), section A: two observers, ten units, binary data.

    >>> from harness.agreement import krippendorff_alpha
    >>> obs_a = [0, 1, 0, 0, 0, 0, 0, 0, 1, 0]
    >>> obs_b = [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]
    >>> res = krippendorff_alpha(list(zip(obs_a, obs_b)), level="nominal")
    >>> round(res.value, 3), res.details["n_pairable"]
    (0.095, 20)
    >>> round(krippendorff_alpha([["a", "a"], ["b", "b"], ["a", "b"], ["c", None]],
    ...                          level="nominal").value, 4)
    0.4444
    """
    what = "krippendorff_alpha"
    if level not in _LEVELS:
        raise ValueError(f"{what}: level must be one of {', '.join(_LEVELS)}; got {level!r}")
    arr, numeric = _coerce(matrix, 2, what)
    if not numeric and level != "nominal":
        raise ValueError(
            f"{what}: level={level!r} needs numeric values; labels (e.g. strings) only work "
            "with level='nominal'"
        )
    ncol = arr.shape[1]
    rows, cols, code, cats = _cells(arr, numeric,
                                    lambda i: f"row {i // ncol}, column {i % ncol}", what)
    if level == "ratio" and len(cats) and cats[0] < 0:
        raise ValueError(f"{what}: level='ratio' needs non-negative values, got {cats[0]:g}")

    m_all = np.bincount(rows, minlength=arr.shape[0])
    pairable = m_all >= 2
    n_units = int(pairable.sum())
    n_ignored = int(arr.shape[0] - n_units)
    base: dict[str, Any] = {"level": level, "n_units_ignored": n_ignored}
    if n_units == 0:
        return undefined(
            what, "no unit has 2 or more values: nothing is pairable",
            n_items=0, n_raters=0, n_pairable=0, **base,
        )
    keep = pairable[rows]
    unit = (np.cumsum(pairable) - 1)[rows[keep]]  # 0..n_units-1, in row order
    cols, code, m = cols[keep], code[keep], m_all[pairable].astype(float)
    n_raters = int(np.count_nonzero(np.bincount(cols, minlength=ncol)))

    # recode over the values that occur in pairable units
    used = np.zeros(len(cats), dtype=bool)
    used[code] = True
    code = (np.cumsum(used) - 1)[code]
    values = cats[used] if numeric else [c for c, u in zip(cats, used, strict=True) if u]
    v = len(values)
    n_c = np.bincount(code, minlength=v).astype(float)
    n = float(n_c.sum())
    base.update(n_pairable=int(n), n_values=v)
    if v <= _MAX_LISTED_VALUES:
        base["values"] = _cat_list(values)
    if v < 2:
        return undefined(
            what, f"no variation: every pairable value is {_cat_list(values)[0]!r} (D_e = 0)",
            n_items=n_units, n_raters=n_raters, D_o=0.0, D_e=0.0, **base,
        )

    x = np.asarray(values, dtype=float) if numeric else None
    if v <= _DENSE_MAX_VALUES and n_units * v <= _DENSE_MAX_CELLS:
        d_o, d_e = _dense(unit, code, m, n_c, x, level)
    else:
        d_o, d_e = _sparse(unit, cols, code, m, n_c, x, level)
    d_o /= n
    d_e /= n * (n - 1.0)
    details = {"D_o": d_o, "D_e": d_e, **base}
    if not d_e > 0:
        return undefined(
            what, "no variation among pairable values (D_e = 0)",
            n_items=n_units, n_raters=n_raters, **details,
        )
    return AgreementResult(
        statistic=what,
        value=1.0 - d_o / d_e,
        n_items=n_units,
        n_raters=n_raters,
        details=details,
    )


def _cells(arr: np.ndarray, numeric: bool, locate: Any, what: str
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, Any]:
    """The present values as cells: rows, columns (row-major order), value codes, values.

    Numbers are coded from the observed cells only (O(values), whatever the number of
    coders); labels, and a non-finite number (for its error), by :func:`_encode`.
    """
    if numeric:
        rows, cols = observed_cells(arr)
        vals = arr[rows, cols]
        if np.isfinite(vals).all():
            cats, code = _distinct_numeric(vals)
            return rows, cols, code, cats
    codes, cats = _encode(arr, numeric, None, locate, what)
    rows, cols = present_cells(codes >= 0)
    return rows, cols, codes[rows, cols], cats


def _ratio_delta(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """((a - b) / (a + b))^2, 0 where a + b == 0 (the pair (0, 0))."""
    s = a + b
    out = np.zeros(np.broadcast(a, b).shape)
    np.divide(a - b, s, out=out, where=s != 0)
    return out**2


def _delta(level: str, x: np.ndarray | None, n_c: np.ndarray) -> np.ndarray:
    """The values x values squared-difference matrix of ``level``."""
    v = n_c.size
    if level == "nominal":
        return 1.0 - np.eye(v)
    assert x is not None
    if level == "ratio":
        return _ratio_delta(x[:, None], x[None, :])
    if level == "ordinal":
        x = _midranks(n_c)
    return (x[:, None] - x[None, :]) ** 2


def _midranks(n_c: np.ndarray) -> np.ndarray:
    """sum_{g<c} n_g + n_c/2: the ordinal metric is (M_k - M_c)^2 on these."""
    return np.cumsum(n_c) - n_c / 2.0


def _dense(unit: np.ndarray, code: np.ndarray, m: np.ndarray, n_c: np.ndarray,
           x: np.ndarray | None, level: str) -> tuple[float, float]:
    """Sum of o_ck delta_ck and of n_c n_k delta_ck via the coincidence matrix.

    ``unit`` and ``code``: each pairable value's unit and value index, in unit order.
    """
    n_units, v = m.size, n_c.size
    keys = unit * v + code
    counts = np.bincount(keys, minlength=n_units * v).reshape(n_units, v).astype(float)
    scaled = counts / (m - 1.0)[:, None]
    o = scaled.T @ counts
    o[np.diag_indices(v)] -= scaled.sum(axis=0)
    delta = _delta(level, x, n_c)
    return float((o * delta).sum()), float(n_c @ delta @ n_c)


def _sparse(unit: np.ndarray, cols: np.ndarray, code: np.ndarray, m: np.ndarray,
            n_c: np.ndarray, x: np.ndarray | None, level: str) -> tuple[float, float]:
    """As :func:`_dense` without values x values matrices (many distinct values)."""
    n_units, v = m.size, n_c.size
    n = n_c.sum()
    if level == "ratio":
        assert x is not None
        coders = np.unique(cols)  # the units x coders table of the pairable values
        present = np.zeros((n_units, coders.size), dtype=bool)
        vals = np.full(present.shape, np.nan)
        present[unit, np.searchsorted(coders, cols)] = True
        vals[unit, np.searchsorted(coders, cols)] = x[code]
        num = np.zeros(n_units)
        for i in range(vals.shape[1]):  # pairs of coders, vectorized over units
            for j in range(i + 1, vals.shape[1]):
                both = present[:, i] & present[:, j]
                d = _ratio_delta(np.where(both, vals[:, i], 0.0), np.where(both, vals[:, j], 0.0))
                num += 2.0 * d
        d_o = float((num / (m - 1.0)).sum())
        d_e = 0.0
        for start in range(0, v, _RATIO_BLOCK):  # blocks of values, bounded memory
            block = slice(start, start + _RATIO_BLOCK)
            d_e += float(n_c[block] @ _ratio_delta(x[block, None], x[None, :]) @ n_c)
        return d_o, d_e

    # (unit, value) cells with their counts n_uc
    cells, n_uc = np.unique(unit * v + code, return_counts=True)
    unit, code = cells // v, cells % v
    n_uc = n_uc.astype(float)
    if level == "nominal":
        same = np.bincount(unit, weights=n_uc**2, minlength=n_units)
        return float(((m**2 - same) / (m - 1.0)).sum()), float(n**2 - (n_c**2).sum())
    # interval / ordinal: sum_{c,k} n_uc n_uk (x_c - x_k)^2 = 2 m_u sum_c n_uc (x_c - xbar_u)^2
    assert x is not None
    xs = _midranks(n_c) if level == "ordinal" else x
    xs = xs - (n_c @ xs) / n
    xbar_u = np.bincount(unit, weights=n_uc * xs[code], minlength=n_units) / m
    ss_u = np.bincount(unit, weights=n_uc * (xs[code] - xbar_u[unit]) ** 2, minlength=n_units)
    d_o = float((2.0 * m * ss_u / (m - 1.0)).sum())
    d_e = float(2.0 * n * (n_c * xs**2).sum())
    return d_o, d_e
