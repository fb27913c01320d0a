"""Correlations between two raters (e.g. an LLM judge and a human): Spearman, Kendall, Pearson.

Pairs with a missing rating on either side are dropped (pairwise deletion). Confidence
intervals use Fisher's z transform, with the Fieller, Hartley & Pearson (1957) variances for
the rank correlations.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._dist import betaincc, norm_ppf, norm_sf, rankdata, t_sf
from ._matrix import as_pair
from ._result import AgreementResult, undefined

__all__ = ["kendall_tau_b", "pearson", "spearman"]

#: Kendall's pairs are counted on the table of distinct (x, y) values up to this many cells.
_TABLE_CELLS = 4_000_000


def _paired(
    statistic: str, a: Sequence[Any], b: Sequence[Any], min_n: int = 3
) -> tuple[np.ndarray, np.ndarray, int, AgreementResult | None]:
    """Drop incomplete pairs; return the undefined result when the correlation has no value."""
    x, y = as_pair(a, b)
    keep = ~(np.isnan(x) | np.isnan(y))
    n_dropped = int(keep.size - np.count_nonzero(keep))
    if n_dropped:
        x, y = x[keep], y[keep]
    if np.isinf(x).any() or np.isinf(y).any():
        raise ValueError(f"{statistic}: ratings must be finite (use None/NaN for missing)")
    n = x.size
    reason = None
    if n < min_n:
        reason = f"fewer than {min_n} complete pairs, got {n}"
    else:
        const = [name for name, v in (("a", x), ("b", y)) if v.max() == v.min()]
        if const:
            reason = (
                f"zero variance: rater {' and '.join(const)} "
                f"{'is' if len(const) == 1 else 'are'} constant"
            )
    if reason is not None:
        return (
            x,
            y,
            n_dropped,
            undefined(statistic, reason, n_items=n, n_raters=2, n_dropped=n_dropped),
        )
    return x, y, n_dropped, None


def _fisher_ci(r: float, se: float, confidence: float) -> tuple[float, float]:
    """tanh(atanh(r) -/+ z_q * se), z_q the normal quantile; r = +/-1 gives (r, r)."""
    z = norm_ppf(1.0 - (1.0 - confidence) / 2.0)
    with np.errstate(divide="ignore"):
        zr = np.arctanh(np.float64(r))
    return float(np.tanh(zr - z * se)), float(np.tanh(zr + z * se))


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")


def _with_ci(
    statistic: str,
    r: float,
    p_value: float,
    n: int,
    n_dropped: int,
    var_num: float,
    df_sub: int,
    confidence: float,
    method: str,
) -> AgreementResult:
    """Assemble the result; the CI is tanh(atanh(r) +/- z sqrt(var_num / (n - df_sub)))."""
    details: dict[str, Any] = {
        "p_value": float(p_value),
        "n_dropped": n_dropped,
        "confidence": confidence,
    }
    if n > df_sub:
        ci: tuple[float, float] | None = _fisher_ci(
            r, math.sqrt(var_num / (n - df_sub)), confidence
        )
    else:
        ci = None
        details["ci_note"] = f"the Fisher z interval needs more than {df_sub} pairs, got {n}"
    return AgreementResult(
        statistic=statistic,
        value=float(r),
        ci95=ci,
        n_items=n,
        n_raters=2,
        ci_method=method if ci is not None else None,
        details=details,
    )


def _spearman_r_p(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    r"""Spearman's r_s (Pearson's r of the mid-ranks) and its two-sided p-value.

    As ``scipy.stats.spearmanr``: :math:`t = r_s \sqrt{(n-2) / ((1+r_s)(1-r_s))}`, referred
    to Student's t with n - 2 degrees of freedom.
    """
    r = float(np.corrcoef(rankdata(x), rankdata(y))[0, 1])
    dof = x.size - 2
    with np.errstate(divide="ignore"):
        t = r * math.sqrt(max(dof / ((r + 1.0) * (1.0 - r)), 0.0)) if abs(r) < 1.0 \
            else math.copysign(math.inf, r)
    return r, 2.0 * t_sf(abs(t), dof)


def _discordant_and_ties(x: np.ndarray, y: np.ndarray) -> tuple[int, int, int, int, list]:
    """Discordant pairs, pairs tied in x, in y, in both, and the tie-group sizes of x, y.

    On a grid of the distinct values (a contingency table) when it is small, as for rating
    scales; else by counting inversions of y after sorting by (x, y), one bit of the rank at
    a time (O(n log^2 n), all in numpy).
    """
    xu, xi = np.unique(x, return_inverse=True)
    yu, yi = np.unique(y, return_inverse=True)
    xcnt = np.bincount(xi).astype(np.int64)
    ycnt = np.bincount(yi).astype(np.int64)
    if xu.size * yu.size <= _TABLE_CELLS:
        table = np.zeros((xu.size, yu.size), dtype=np.int64)
        np.add.at(table, (xi, yi), 1)
        # pairs (i, j) with x_i < x_j and y_i > y_j: cell (r, c) times the cells below-left
        below = np.cumsum(table[::-1], axis=0)[::-1]  # rows r.. (x >= x_r)
        strictly_below = np.vstack([below[1:], np.zeros((1, yu.size), np.int64)])
        left = np.cumsum(strictly_below, axis=1) - strictly_below  # columns < c
        dis = int((table * left).sum())
        joint = table[table > 1]
    else:
        order = np.lexsort((yi, xi))
        yo = yi[order]
        ranks = np.empty(x.size, dtype=np.int64)
        ranks[np.argsort(yo, kind="stable")] = np.arange(x.size)  # ties: no inversion
        dis = 0
        for bit in range(max(int(x.size - 1).bit_length(), 1) - 1, -1, -1):
            group = ranks >> (bit + 1)
            ones = (ranks >> bit) & 1
            srt = np.argsort(group, kind="stable")
            g, o = group[srt], ones[srt]
            start = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
            before = np.cumsum(o) - o  # ones before each element, all groups
            before -= np.repeat(before[start], np.diff(np.r_[start, g.size]))
            dis += int(before[o == 0].sum())
        # pairs tied in both: counts of the distinct (x, y) cells (sparse: up to n^2 cells)
        _, joint = np.unique(xi.astype(np.int64) * yu.size + yi, return_counts=True)
        joint = joint[joint > 1]
    pairs = lambda c: int((c * (c - 1) // 2).sum())  # noqa: E731
    return dis, pairs(xcnt), pairs(ycnt), pairs(joint), [xcnt[xcnt > 1], ycnt[ycnt > 1]]


def _kendall_exact_p(n: int, concordant: int) -> float:
    """Two-sided exact p-value of Kendall's tau without ties: twice the smaller tail of the
    number of concordant pairs (permutations counted by inversions, Mahonian numbers)."""
    total = n * (n - 1) // 2
    c = min(concordant, total - concordant)
    counts = [1] + [0] * c  # permutations of 1 element with k inversions, k <= c
    for j in range(2, n + 1):  # insert element j: adds 0..j-1 inversions
        run, new = 0, []
        for k in range(c + 1):
            run += counts[k]
            if k >= j:
                run -= counts[k - j]
            new.append(run)
        counts = new
    p = min(1.0, 2 * sum(counts) / math.factorial(n))
    return p if p >= 2.2250738585072014e-308 else 0.0  # scipy flushes to 0 below the normals


def _kendall_tau_p(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    r"""Kendall's tau-b and its two-sided p-value, as ``scipy.stats.kendalltau``.

    Exact (the permutation distribution) without ties when n <= 33 or at most one pair is
    discordant (or concordant); else the normal approximation of :math:`S = n_c - n_d` with
    the tie-corrected variance (Kendall 1970, eq. 4.4):

    .. math:: \operatorname{var} S = \frac{v_0 - v_x - v_y}{18}
              + \frac{2 t_x t_y}{n(n-1)} + \frac{u_x u_y}{9 n (n-1)(n-2)},

    :math:`v_0 = n(n-1)(2n+5)`, :math:`v_x = \sum t(t-1)(2t+5)`, :math:`u_x = \sum t(t-1)
    (t-2)` over the tie groups of x, :math:`t_x` the pairs tied in x.
    """
    n = x.size
    dis, xtie, ytie, ntie, (gx, gy) = _discordant_and_ties(x, y)
    tot = n * (n - 1) // 2
    s = tot - xtie - ytie + ntie - 2 * dis
    tau = min(1.0, max(-1.0, s / math.sqrt(tot - xtie) / math.sqrt(tot - ytie)))
    if xtie == 0 and ytie == 0 and (n <= 33 or min(dis, tot - dis) <= 1):
        return tau, _kendall_exact_p(n, tot - dis)
    m = n * (n - 1.0)
    x0, y0 = float((gx * (gx - 1.0) * (gx - 2)).sum()), float((gy * (gy - 1.0) * (gy - 2)).sum())
    x1 = float((gx * (gx - 1.0) * (2 * gx + 5)).sum())
    y1 = float((gy * (gy - 1.0) * (2 * gy + 5)).sum())
    var = (m * (2 * n + 5) - x1 - y1) / 18 + (2 * xtie * ytie) / m + x0 * y0 / (9 * m * (n - 2))
    return tau, 2.0 * norm_sf(abs(s / math.sqrt(var)))


def _pearson_r_p(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    r"""Pearson's r and its two-sided p-value, as ``scipy.stats.pearsonr``.

    Under independence of normal variables :math:`(r + 1)/2 \sim \mathrm{Beta}(n/2 - 1,
    n/2 - 1)`: :math:`p = 2 (1 - I_{(|r|+1)/2}(n/2-1, n/2-1))`.
    """
    xm, ym = x - x.mean(), y - y.mean()
    xmax, ymax = np.abs(xm).max(), np.abs(ym).max()
    xs, ys = xm / (xmax * np.linalg.norm(xm / xmax)), ym / (ymax * np.linalg.norm(ym / ymax))
    r = float(np.clip(np.vecdot(xs, ys) if hasattr(np, "vecdot") else xs @ ys, -1.0, 1.0))
    ab = x.size / 2.0 - 1.0
    return r, 2.0 * betaincc(ab, ab, (abs(r) + 1.0) / 2.0)


def spearman(
    a: Sequence[Any], b: Sequence[Any], ties: str = "average", confidence: float = 0.95
) -> AgreementResult:
    r"""Spearman's rank correlation between two raters.

    The Pearson correlation of the ranks, ties given their average rank (mid-ranks):

    .. math:: r_s = \frac{\sum_i (R_i - \bar R)(S_i - \bar S)}
                         {\sqrt{\sum_i (R_i - \bar R)^2 \sum_i (S_i - \bar S)^2}}

    (with ties this is *not* the shortcut :math:`1 - 6 \sum d_i^2 / (n(n^2-1))`). Computed with
    numpy (mid-ranks, as :func:`scipy.stats.spearmanr`). The confidence interval is a Fisher z
    interval with the variance of Fieller, Hartley & Pearson (1957),
    :math:`\tanh(\operatorname{atanh}(r_s) \pm z_{q} \sqrt{1.06 / (n - 3)})`; it needs n > 3.

    Parameters
    ----------
    a, b : sequence
        The two raters' ratings of the same items; ``None``/NaN = missing. Pairs with a
        missing rating on either side are dropped.
    ties : {"average"}
        Tie handling; only mid-ranks are supported.
    confidence : float
        Coverage of the interval stored in ``ci95``.

    Returns
    -------
    AgreementResult
        ``statistic="spearman"``, ``ci_method="Fisher z (Fieller 1957)"``; ``details``:
        ``p_value`` (two-sided, t approximation as in scipy), ``n_dropped``, ``confidence``
        and ``ci_note`` when no interval could be formed. Undefined (``value=None``) with
        fewer than 3 complete pairs or when a rater is constant.

    References
    ----------
    Spearman, C. (1904). The proof and measurement of association between two things.
    American Journal of Psychology 15, 72-101.

    Fieller, E. C., Hartley, H. O. & Pearson, E. S. (1957). Tests for rank correlation
    coefficients. I. Biometrika 44, 470-481.

    Examples
    --------
    Hollander & Wolfe (1973) tuna data (R ``?cor.test``):

    >>> from harness.agreement import spearman
    >>> x = [44.4, 45.9, 41.9, 53.3, 44.7, 44.1, 50.7, 45.2, 60.1]
    >>> y = [2.6, 3.1, 2.5, 5.0, 3.6, 4.0, 5.2, 2.8, 3.8]
    >>> res = spearman(x, y)
    >>> round(res.value, 4), [round(v, 4) for v in res.ci95]
    (0.6, [-0.1299, 0.9082])
    """
    if ties != "average":
        raise ValueError(f"ties must be 'average' (mid-ranks), got {ties!r}")
    _check_confidence(confidence)
    x, y, n_dropped, bad = _paired("spearman", a, b)
    if bad is not None:
        return bad
    r, p = _spearman_r_p(x, y)
    # Fieller et al. (1957): var(atanh(r_s)) ~ 1.06 / (n - 3)
    return _with_ci(
        "spearman",
        r,
        p,
        x.size,
        n_dropped,
        var_num=1.06,
        df_sub=3,
        confidence=confidence,
        method="Fisher z (Fieller 1957)",
    )


def kendall_tau_b(a: Sequence[Any], b: Sequence[Any], confidence: float = 0.95) -> AgreementResult:
    r"""Kendall's tau-b between two raters (corrected for ties in both).

    .. math:: \tau_b = \frac{n_c - n_d}{\sqrt{(n_0 - n_1)(n_0 - n_2)}}

    with :math:`n_c`, :math:`n_d` the concordant and discordant pairs, :math:`n_0 =
    n(n-1)/2`, and :math:`n_1`, :math:`n_2` the pairs tied in ``a`` and in ``b``. Computed with
    numpy, as :func:`scipy.stats.kendalltau` (tau-b, also R ``cor(method="kendall")``). The
    confidence
    interval is a Fisher z interval with the Fieller, Hartley & Pearson (1957) variance,
    :math:`\tanh(\operatorname{atanh}(\tau_b) \pm z_{q} \sqrt{0.437 / (n - 4)})`; it needs
    n > 4.

    Parameters
    ----------
    a, b : sequence
        The two raters' ratings of the same items; ``None``/NaN = missing (pairwise deletion).
    confidence : float
        Coverage of the interval stored in ``ci95``.

    Returns
    -------
    AgreementResult
        ``statistic="kendall_tau_b"``, ``ci_method="Fisher z (Fieller 1957)"``; ``details``:
        ``p_value`` (scipy: exact without ties for small n, else normal approximation),
        ``n_dropped``, ``confidence``, ``ci_note``. Undefined with fewer than 3 complete pairs
        or a constant rater.

    References
    ----------
    Kendall, M. G. (1945). The treatment of ties in ranking problems. Biometrika 33, 239-251.

    Fieller, E. C., Hartley, H. O. & Pearson, E. S. (1957). Biometrika 44, 470-481.

    Examples
    --------
    >>> from harness.agreement import kendall_tau_b
    >>> x = [44.4, 45.9, 41.9, 53.3, 44.7, 44.1, 50.7, 45.2, 60.1]
    >>> y = [2.6, 3.1, 2.5, 5.0, 3.6, 4.0, 5.2, 2.8, 3.8]
    >>> round(kendall_tau_b(x, y).value, 4)
    0.4444
    """
    _check_confidence(confidence)
    x, y, n_dropped, bad = _paired("kendall_tau_b", a, b)
    if bad is not None:
        return bad
    tau, p = _kendall_tau_p(x, y)
    # Fieller et al. (1957): var(atanh(tau_b)) ~ 0.437 / (n - 4)
    return _with_ci(
        "kendall_tau_b",
        tau,
        p,
        x.size,
        n_dropped,
        var_num=0.437,
        df_sub=4,
        confidence=confidence,
        method="Fisher z (Fieller 1957)",
    )


def pearson(a: Sequence[Any], b: Sequence[Any], confidence: float = 0.95) -> AgreementResult:
    r"""Pearson's product-moment correlation between two raters.

    .. math:: r = \frac{\sum_i (x_i - \bar x)(y_i - \bar y)}
                       {\sqrt{\sum_i (x_i - \bar x)^2 \sum_i (y_i - \bar y)^2}}

    Computed as :func:`scipy.stats.pearsonr` does. The confidence interval is Fisher's z
    interval, :math:`\tanh(\operatorname{atanh}(r) \pm z_{q} / \sqrt{n - 3})` with
    :math:`z_q` the standard normal quantile at :math:`q = 1 - (1 - \text{confidence})/2`
    (as R ``cor.test``); it needs n > 3.

    Parameters
    ----------
    a, b : sequence
        The two raters' ratings of the same items; ``None``/NaN = missing (pairwise deletion).
    confidence : float
        Coverage of the interval stored in ``ci95``.

    Returns
    -------
    AgreementResult
        ``statistic="pearson"``, ``ci_method="Fisher z"``; ``details``: ``p_value``
        (two-sided t test), ``n_dropped``, ``confidence``, ``ci_note``. Undefined with fewer
        than 3 complete pairs or a constant rater.

    References
    ----------
    Fisher, R. A. (1921). On the "probable error" of a coefficient of correlation deduced
    from a small sample. Metron 1, 3-32.

    Examples
    --------
    >>> from harness.agreement import pearson
    >>> x = [44.4, 45.9, 41.9, 53.3, 44.7, 44.1, 50.7, 45.2, 60.1]
    >>> y = [2.6, 3.1, 2.5, 5.0, 3.6, 4.0, 5.2, 2.8, 3.8]
    >>> res = pearson(x, y)
    >>> round(res.value, 4), [round(v, 4) for v in res.ci95]
    (0.5712, [-0.1497, 0.8956])
    """
    _check_confidence(confidence)
    x, y, n_dropped, bad = _paired("pearson", a, b)
    if bad is not None:
        return bad
    r, p = _pearson_r_p(x, y)
    # Fisher (1921): var(atanh(r)) ~ 1 / (n - 3)
    return _with_ci(
        "pearson",
        r,
        p,
        x.size,
        n_dropped,
        var_num=1.0,
        df_sub=3,
        confidence=confidence,
        method="Fisher z",
    )
