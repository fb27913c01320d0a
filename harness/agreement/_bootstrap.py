"""Item-level bootstrap confidence intervals for any agreement statistic."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import numpy as np

from ._dist import t_ppf
from ._limits import MAX_RESAMPLES
from ._matrix import as_matrix, as_pair
from ._result import AgreementResult

_METHODS = {"percentile": "percentile", "basic": "basic", "bca": "BCa"}


def check_resamples(n_resamples: int, *, minimum: int = 0) -> int:
    """``n_resamples`` if it is an integer from ``minimum`` to :data:`MAX_RESAMPLES`.

    Raises
    ------
    ValueError
        Otherwise, saying the allowed range.
    """
    if (isinstance(n_resamples, bool) or not isinstance(n_resamples, int | np.integer)
            or not minimum <= n_resamples <= MAX_RESAMPLES):
        raise ValueError(f"n_resamples must be an integer from {minimum} to {MAX_RESAMPLES:,}, "
                         f"got {n_resamples!r}")
    return int(n_resamples)


def bootstrap_ci(
    statistic: Callable[..., AgreementResult],
    *data: Any,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    method: str = "percentile",
    **params: Any,
) -> AgreementResult:
    """Item-level bootstrap confidence interval for an agreement statistic.

    Items (rows of the ratings matrix, or pairs of ratings for a two-rater statistic) are
    resampled with replacement; raters are kept. The statistic is recomputed on each
    resample and the interval is read from the bootstrap distribution with
    :func:`scipy.stats.bootstrap`.

    Parameters
    ----------
    statistic : callable
        A statistic of :mod:`harness.agreement`, e.g. :func:`~harness.agreement.icc` or
        :func:`~harness.agreement.spearman`.
    *data
        What the statistic takes: one items x raters matrix, or two rating sequences.
    n_resamples : int
        Number of bootstrap resamples B (default 1000; 1 to :data:`MAX_RESAMPLES`).
    confidence : float
        Confidence level (default 0.95).
    seed : int
        Seed of the random generator; the same seed gives the same interval.
    method : {"percentile", "basic", "bca"}
        Interval construction (Efron & Tibshirani 1993, ch. 13-14). BCa needs a jackknife
        over the items as well, so it costs n more evaluations.
    **params
        Passed to the statistic.

    Returns
    -------
    AgreementResult
        The point estimate on the full data, with ``ci95`` from the bootstrap (replacing any
        analytic interval) and ``details["bootstrap"]`` giving B, the seed, the method and the
        number of resamples on which the statistic was undefined. If the point estimate is
        undefined it is returned unchanged; if any resample is undefined the interval is
        withheld (``ci95=None``) and ``details["bootstrap"]["reason"]`` says why, since
        dropping those resamples would bias the interval.

    Notes
    -----
    The percentile interval is [theta*_(alpha/2), theta*_(1 - alpha/2)], the quantiles of
    the B bootstrap replicates theta*. With few items (say under 20) every
    bootstrap interval is optimistic; read it as a rough guide.

    References
    ----------
    Efron, B., & Tibshirani, R. J. (1993). *An Introduction to the Bootstrap*. Chapman & Hall.

    Examples
    --------
    >>> from harness.agreement import bootstrap_ci, spearman
    >>> a = [1, 2, 3, 4, 5, 3, 2, 4, 5, 1]
    >>> b = [1, 3, 3, 4, 4, 2, 2, 5, 5, 2]
    >>> r = bootstrap_ci(spearman, a, b, n_resamples=200, seed=1)
    >>> round(r.value, 3), r.ci95[0] < r.value < r.ci95[1]
    (0.868, True)
    """
    key = method.lower()
    if key not in _METHODS:
        raise ValueError(f"unknown bootstrap method {method!r}; use one of {sorted(_METHODS)}")
    check_resamples(n_resamples, minimum=1)

    if len(data) == 1:
        matrix = as_matrix(data[0])
        n = matrix.shape[0]

        def evaluate(idx: np.ndarray) -> AgreementResult:
            return statistic(matrix[idx], **params)

        point = statistic(matrix, **params)
    elif len(data) == 2:
        a, b = as_pair(*data)
        n = a.shape[0]

        def evaluate(idx: np.ndarray) -> AgreementResult:
            return statistic(a[idx], b[idx], **params)

        point = statistic(a, b, **params)
    else:
        raise TypeError("bootstrap_ci takes one ratings matrix or two rating sequences")

    if not point.defined:
        return point

    undefined_count = 0

    def value(idx: np.ndarray) -> float:
        nonlocal undefined_count
        res = evaluate(np.asarray(idx, dtype=np.intp))
        if res.value is None:
            undefined_count += 1
            return np.nan
        return res.value

    info: dict[str, Any] = {
        "n_resamples": n_resamples,
        "seed": seed,
        "method": key,
        "confidence": confidence,
    }
    from scipy import stats  # here: importing the package needs no scipy

    with warnings.catch_warnings():
        # A degenerate bootstrap distribution is reported through `info`, not a warning.
        warnings.simplefilter("ignore")
        out = stats.bootstrap(
            (np.arange(n),),
            value,
            n_resamples=n_resamples,
            vectorized=False,
            confidence_level=confidence,
            method=_METHODS[key],
            rng=np.random.default_rng(seed),
        )
    info["n_undefined"] = undefined_count
    lo, hi = float(out.confidence_interval.low), float(out.confidence_interval.high)
    details = dict(point.details)
    details["bootstrap"] = info
    if undefined_count or not (np.isfinite(lo) and np.isfinite(hi)):
        info["reason"] = (
            f"the statistic was undefined on {undefined_count} of the resamples"
            if undefined_count
            else "the bootstrap distribution is degenerate"
        )
        ci = None
    else:
        ci = (lo, hi)
    result = AgreementResult(
        statistic=point.statistic,
        value=point.value,
        n_items=point.n_items,
        n_raters=point.n_raters,
        details=details,
    )
    return result.with_ci(ci, f"bootstrap {key} (B={n_resamples}, seed={seed})")


def resample_weights(counts: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """Bootstrap resamples as multinomial counts over groups of interchangeable items.

    ``counts[u]`` items share the same data (a distinct row). Drawing n items with
    replacement and counting how many fall in each group is a multinomial draw with
    probabilities ``counts / n``, so a (B, U) array of such draws has exactly the
    distribution of B item-level resamples, at the cost of U numbers per resample.
    """
    check_resamples(n_resamples)
    n = int(counts.sum())
    rng = np.random.default_rng(seed)
    return rng.multinomial(n, counts / n, size=n_resamples).astype(float)


#: Cells (resamples x groups) of one block of :func:`resample_weight_blocks`: 4M float64
#: cells are 32 MB, so 1,000 resamples of 100,000 items never sit in memory at once (800 MB).
WEIGHT_BLOCK_CELLS = 4_000_000


def resample_weight_blocks(counts: np.ndarray, n_resamples: int, seed: int,
                           max_cells: int | None = None) -> Iterator[np.ndarray]:
    """:func:`resample_weights` in blocks of resamples, in memory bounded by ``max_cells``.

    The blocks, stacked, are exactly ``resample_weights(counts, n_resamples, seed)``: the
    same generator draws the resamples one after another either way.

    Parameters
    ----------
    counts : ndarray, shape (U,)
        Items per group (all ones for item-level resampling).
    n_resamples, seed
        As for :func:`resample_weights`.
    max_cells : int, optional
        At most this many cells (resamples x U) per block (at least one resample); default
        :data:`WEIGHT_BLOCK_CELLS`.

    Yields
    ------
    ndarray of float, shape (b, U)
        The next b resamples.
    """
    check_resamples(n_resamples)
    n = int(counts.sum())
    rng = np.random.default_rng(seed)
    cells = WEIGHT_BLOCK_CELLS if max_cells is None else int(max_cells)
    step = max(1, cells // max(int(counts.size), 1))
    for start in range(0, n_resamples, step):
        size = min(step, n_resamples - start)
        yield rng.multinomial(n, counts / n, size=size).astype(float)


def with_percentile_ci(
    point: AgreementResult,
    replicates: np.ndarray,
    *,
    n_resamples: int,
    seed: int,
    confidence: float,
) -> AgreementResult:
    """Attach the percentile interval of bootstrap ``replicates`` (NaN = undefined) to ``point``.

    The interval is withheld (``ci95=None``, with the reason in ``details["bootstrap"]``) if
    the statistic was undefined on any resample, as in :func:`bootstrap_ci`.
    """
    n_bad = int(np.isnan(replicates).sum())
    info: dict[str, Any] = {
        "n_resamples": n_resamples,
        "seed": seed,
        "method": "percentile",
        "confidence": confidence,
        "n_undefined": n_bad,
    }
    if n_bad:
        info["reason"] = f"the statistic was undefined on {n_bad} of the resamples"
        ci = None
    else:
        tail = (1.0 - confidence) / 2.0
        lo, hi = np.quantile(replicates, [tail, 1.0 - tail])
        ci = (float(lo), float(hi))
    res = replace(point, details={**point.details, "bootstrap": info})
    return res.with_ci(ci, f"bootstrap percentile (B={n_resamples}, seed={seed})")


#: Variance-stabilising scales of :func:`jackknife_t_interval`: (forward, inverse, label for
#: the CI method string).
JACKKNIFE_TRANSFORMS: dict[str, tuple[Callable[[np.ndarray], np.ndarray],
                         Callable[[np.ndarray], np.ndarray], str]] = {
    "fisher_z": (np.arctanh, np.tanh, " on Fisher z"),
    "log": (np.log, np.exp, " on log scale"),
    "identity": (lambda v: v, lambda v: v, ""),
}


def jackknife_t_interval(
    point: float, leave_one_out: np.ndarray, *, transform: str = "identity",
    confidence: float = 0.95,
) -> tuple[float, float] | None:
    r"""Tukey's jackknife t interval of a statistic, on a variance-stabilising scale.

    With :math:`g` the transform, :math:`\hat\theta` the estimate on all n items and
    :math:`\hat\theta_{(i)}` the estimate without item i, the interval is

    .. math::

        g^{-1}\Big(g(\hat\theta) \pm t_{n-1,\,1-a/2}\,\widehat{se}\Big), \qquad
        \widehat{se}^2 = \frac{n-1}{n} \sum_i \big(g(\hat\theta_{(i)}) - \bar g_{(\cdot)}\big)^2

    Parameters
    ----------
    point : float
        The estimate on all items.
    leave_one_out : ndarray, shape (n,)
        The estimate with each item left out in turn.
    transform : {"fisher_z", "log", "identity"}
        ``"fisher_z"`` (atanh) for correlation-type figures in (-1, 1), ``"log"`` for a
        positive figure such as MAE, ``"identity"`` for a mean (for the mean of per-item
        values this is exactly Student's t interval).
    confidence : float
        Two-sided level.

    Returns
    -------
    (float, float) or None
        None when a value is undefined or outside the transform's domain (e.g. a
        correlation of exactly 1), or the jackknife variance is 0.

    References
    ----------
    Tukey, J. W. (1958). Bias and confidence in not-quite large samples (abstract).
    *Ann. Math. Statist.* 29, 614. Efron, B., & Tibshirani, R. J. (1993). *An Introduction to
    the Bootstrap*, ch. 11 (the jackknife estimate of standard error). Fisher, R. A. (1921).
    On the "probable error" of a coefficient of correlation. *Metron* 1, 3-32.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([1.0, 2.0, 4.0, 7.0])
    >>> loo = (x.sum() - x) / 3  # the mean without each item
    >>> lo, hi = jackknife_t_interval(x.mean(), loo)
    >>> from scipy import stats
    >>> t = stats.ttest_1samp(x, 0).confidence_interval()
    >>> bool(np.isclose(lo, t.low) and np.isclose(hi, t.high))
    True
    """
    fwd, inv, _ = JACKKNIFE_TRANSFORMS[transform]
    vals = np.asarray(leave_one_out, dtype=float)
    n = vals.size
    if n < 3:
        return None
    with np.errstate(all="ignore"):
        g_point, g_loo = fwd(np.float64(point)), fwd(vals)
    if not (np.isfinite(g_point) and np.all(np.isfinite(g_loo))):
        return None
    se = math.sqrt((n - 1) / n * float(((g_loo - g_loo.mean()) ** 2).sum()))
    if not se > 0.0:
        return None
    half = t_ppf(1.0 - (1.0 - confidence) / 2.0, n - 1) * se
    return float(inv(g_point - half)), float(inv(g_point + half))
