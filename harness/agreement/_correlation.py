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
from scipy import special, stats

from ._matrix import as_pair
from ._result import AgreementResult, undefined

__all__ = ["kendall_tau_b", "pearson", "spearman"]


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
        reason = f"fewer than {min_n} complete pairs (got {n})"
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
    z = special.ndtri(1.0 - (1.0 - confidence) / 2.0)
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
        details["ci_note"] = f"the Fisher z interval needs more than {df_sub} pairs (got {n})"
    return AgreementResult(
        statistic=statistic,
        value=float(r),
        ci95=ci,
        n_items=n,
        n_raters=2,
        ci_method=method if ci is not None else None,
        details=details,
    )


def spearman(
    a: Sequence[Any], b: Sequence[Any], ties: str = "average", confidence: float = 0.95
) -> AgreementResult:
    r"""Spearman's rank correlation between two raters.

    The Pearson correlation of the ranks, ties given their average rank (mid-ranks):

    .. math:: r_s = \frac{\sum_i (R_i - \bar R)(S_i - \bar S)}
                         {\sqrt{\sum_i (R_i - \bar R)^2 \sum_i (S_i - \bar S)^2}}

    (with ties this is *not* the shortcut :math:`1 - 6 \sum d_i^2 / (n(n^2-1))`). Computed with
    :func:`scipy.stats.spearmanr`. The confidence interval is a Fisher z interval with the
    variance of Fieller, Hartley & Pearson (1957), :math:`\tanh(\operatorname{atanh}(r_s) \pm
    z_{q} \sqrt{1.06 / (n - 3)})`; it needs n > 3.

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
    res = stats.spearmanr(x, y)
    # Fieller et al. (1957): var(atanh(r_s)) ~ 1.06 / (n - 3)
    return _with_ci(
        "spearman",
        res.statistic,
        res.pvalue,
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
    :func:`scipy.stats.kendalltau` (tau-b, also R ``cor(method="kendall")``). The confidence
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
    res = stats.kendalltau(x, y)
    # Fieller et al. (1957): var(atanh(tau_b)) ~ 0.437 / (n - 4)
    return _with_ci(
        "kendall_tau_b",
        res.statistic,
        res.pvalue,
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

    Computed with :func:`scipy.stats.pearsonr`. The confidence interval is Fisher's z
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
    res = stats.pearsonr(x, y)
    # Fisher (1921): var(atanh(r)) ~ 1 / (n - 3)
    return _with_ci(
        "pearson",
        res.statistic,
        res.pvalue,
        x.size,
        n_dropped,
        var_num=1.0,
        df_sub=3,
        confidence=confidence,
        method="Fisher z",
    )
