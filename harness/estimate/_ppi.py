"""Means of a population scored by a judge, corrected with a few human labels.

Prediction-powered inference (PPI) for the mean and its power-tuned form (PPI++):

* Angelopoulos, A. N., Bates, S., Fannjiang, C., Jordan, M. I. & Zrnic, T. (2023).
  Prediction-powered inference. *Science* 382(6671), 669-674 (arXiv:2301.09633).
* Angelopoulos, A. N., Duchi, J. C. & Zrnic, T. (2024). PPI++: Efficient prediction-powered
  inference. arXiv:2311.01453.

Notation: ``n`` labelled items (the anchors) with human truth :math:`Y_i` and judge score
:math:`f(X_i)`; ``N`` unlabelled items (production) with judge score :math:`f(\\tilde X_j)`.
The labelled items must be a random sample of the same population as the unlabelled ones.
Variances use the ``1/n`` (``ddof=0``) convention of the authors' reference implementation
(``ppi_py``), so the intervals here equal ``ppi_py.ppi_mean_ci`` (checked in the tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats


@dataclass(frozen=True)
class MeanEstimate:
    """A population mean with its normal-approximation confidence interval.

    Attributes
    ----------
    mean : float
    ci : tuple of float
        ``(low, high)`` at level ``1 - alpha``.
    se : float
        The estimate's standard error.
    method : {"naive", "classical", "ppi", "ppi++"}
        ``naive``: the judge's mean on the unlabelled items alone; ``classical``: the humans'
        mean on the labelled items alone; ``ppi``: :func:`ppi_mean`; ``ppi++``:
        :func:`ppi_plusplus_mean`.
    n_labelled, n_unlabelled : int
        Items of each kind used (0 where the method uses none).
    lam : float or None
        The weight of the judge's scores (PPI: 1; PPI++: the tuned value; else None).
    alpha : float
    """

    mean: float
    ci: tuple[float, float]
    se: float
    method: str
    n_labelled: int
    n_unlabelled: int
    lam: float | None = None
    alpha: float = 0.05

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (``ci95`` when ``alpha`` is 0.05, else ``ci``)."""
        key = "ci95" if abs(self.alpha - 0.05) < 1e-12 else "ci"
        return {"mean": self.mean, key: list(self.ci), "se": self.se, "method": self.method,
                "lambda": self.lam, "n_labelled": self.n_labelled,
                "n_unlabelled": self.n_unlabelled}


def _vector(values: ArrayLike, name: str, least: int = 2) -> np.ndarray:
    arr = np.asarray(values, dtype=float).ravel()
    if arr.size < least:
        raise ValueError(f"{name}: at least {least} values are needed, got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: every value must be finite (drop missing ones first)")
    return arr


def _pair(y: ArrayLike, yhat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y_arr, f_arr = _vector(y, "y"), _vector(yhat, "yhat")
    if y_arr.size != f_arr.size:
        raise ValueError(f"y and yhat must be aligned: {y_arr.size} human values, "
                         f"{f_arr.size} judge scores")
    return y_arr, f_arr


def _check_alpha(alpha: float) -> float:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    return float(alpha)


def _interval(mean: float, se: float, alpha: float) -> tuple[float, float]:
    z = float(stats.norm.ppf(1 - alpha / 2))
    return (mean - z * se, mean + z * se)


def naive_mean(yhat_unlabelled: ArrayLike, *, alpha: float = 0.05) -> MeanEstimate:
    """The judge-only mean of the unlabelled items, as if the judge were never wrong.

    .. math:: \\hat\\theta_{naive} = \\frac{1}{N}\\sum_j f(\\tilde X_j), \\qquad
              \\widehat{se} = \\hat\\sigma_f / \\sqrt{N}

    Its interval covers the mean of the *judge's* scores, not the humans' mean: a biased
    judge's interval narrows around the wrong value as ``N`` grows.

    Parameters
    ----------
    yhat_unlabelled : array_like
        The judge's scores on the unlabelled items (finite, at least 2).
    alpha : float
        1 - the interval's level.

    Returns
    -------
    MeanEstimate

    Examples
    --------
    >>> round(naive_mean([1, 2, 3, 4]).mean, 2)
    2.5
    """
    f = _vector(yhat_unlabelled, "yhat_unlabelled")
    alpha = _check_alpha(alpha)
    mean, se = float(f.mean()), float(f.std() / np.sqrt(f.size))
    return MeanEstimate(mean, _interval(mean, se, alpha), se, "naive", 0, int(f.size),
                        None, alpha)


def classical_mean(y: ArrayLike, *, alpha: float = 0.05) -> MeanEstimate:
    """The humans-only mean of the labelled items (what the anchors give without a judge).

    .. math:: \\hat\\theta_{classical} = \\bar Y, \\qquad \\widehat{se} = \\hat\\sigma_Y/\\sqrt n

    Parameters
    ----------
    y : array_like
        The human truth on the labelled items (finite, at least 2).
    alpha : float

    Returns
    -------
    MeanEstimate

    Examples
    --------
    >>> round(classical_mean([2, 4]).se, 6)  # sd 1 (ddof=0) over sqrt(2)
    0.707107
    """
    y_arr = _vector(y, "y")
    alpha = _check_alpha(alpha)
    mean, se = float(y_arr.mean()), float(y_arr.std() / np.sqrt(y_arr.size))
    return MeanEstimate(mean, _interval(mean, se, alpha), se, "classical", int(y_arr.size), 0,
                        None, alpha)


def _ppi(y: np.ndarray, f: np.ndarray, f_u: np.ndarray, lam: float, alpha: float,
         method: str) -> MeanEstimate:
    mean = float(lam * f_u.mean() + (y - lam * f).mean())
    se = float(np.sqrt((lam * f_u).std() ** 2 / f_u.size + (y - lam * f).std() ** 2 / y.size))
    return MeanEstimate(mean, _interval(mean, se, alpha), se, method, int(y.size),
                        int(f_u.size), float(lam), alpha)


def ppi_mean(y: ArrayLike, yhat: ArrayLike, yhat_unlabelled: ArrayLike, *,
             alpha: float = 0.05) -> MeanEstimate:
    """Prediction-powered estimate of the population mean (Angelopoulos et al., 2023).

    The judge's mean on the unlabelled items, minus its mean error (the *rectifier*) measured
    on the labelled items:

    .. math::

        \\hat\\theta^{PP} = \\frac{1}{N}\\sum_{j=1}^{N} f(\\tilde X_j)
            - \\frac{1}{n}\\sum_{i=1}^{n} \\bigl(f(X_i) - Y_i\\bigr)

        \\widehat{se} = \\sqrt{\\hat\\sigma^2_{f}/N + \\hat\\sigma^2_{f-Y}/n}

    with the interval :math:`\\hat\\theta^{PP} \\pm z_{1-\\alpha/2}\\,\\widehat{se}` (the
    paper's mean-estimation interval, normal approximation). It is valid whatever the
    judge's errors, provided the labelled items are a random sample of the population; its
    width depends on how well the judge predicts the humans.

    Parameters
    ----------
    y : array_like
        The human truth on the ``n`` labelled items.
    yhat : array_like
        The judge's scores on the same items, aligned with ``y``.
    yhat_unlabelled : array_like
        The judge's scores on the ``N`` unlabelled items.
    alpha : float
        1 - the interval's level.

    Returns
    -------
    MeanEstimate
        ``method`` ``"ppi"``, ``lam`` 1.

    References
    ----------
    Angelopoulos, A. N., Bates, S., Fannjiang, C., Jordan, M. I. & Zrnic, T. (2023).
    Prediction-powered inference. *Science* 382, 669-674.

    Examples
    --------
    A judge that scores one point too high everywhere: the rectifier removes the point.

    >>> est = ppi_mean([1, 2, 3], [2, 3, 4], [3, 4, 5, 6])
    >>> est.mean
    3.5
    """
    y_arr, f = _pair(y, yhat)
    f_u = _vector(yhat_unlabelled, "yhat_unlabelled")
    return _ppi(y_arr, f, f_u, 1.0, _check_alpha(alpha), "ppi")


def power_tuning(y: ArrayLike, yhat: ArrayLike, yhat_unlabelled: ArrayLike) -> float:
    """PPI++'s variance-minimising weight of the judge for a mean, clipped to [0, 1].

    For :math:`\\hat\\theta_\\lambda = \\bar Y + \\lambda(\\bar f_{N} - \\bar f_{n})` the variance
    :math:`\\lambda^2 \\sigma_f^2/N + \\operatorname{Var}(Y - \\lambda f)/n` is least at

    .. math::

        \\hat\\lambda = \\frac{\\widehat{\\operatorname{Cov}}(Y, f)}
                             {(1 + n/N)\\,\\widehat{\\operatorname{Var}}(f)}

    (PPI++, Angelopoulos, Duchi & Zrnic 2024, the optimal :math:`\\lambda` of their §3 for a
    general M-estimator, whose Hessian is the identity for a mean). The covariance is taken
    on the labelled pairs (``1/n``), the variance of :math:`f` on labelled and unlabelled
    scores together (``ddof=1``), as in ``ppi_py``. A constant judge gets 0.

    Parameters
    ----------
    y, yhat : array_like
        Human truth and judge scores on the labelled items.
    yhat_unlabelled : array_like
        Judge scores on the unlabelled items.

    Returns
    -------
    float
        :math:`\\hat\\lambda \\in [0, 1]` (0: the judge is ignored, the classical mean;
        1: plain PPI).

    Examples
    --------
    >>> power_tuning([1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4] * 100) > 0.9
    True
    """
    y_arr, f = _pair(y, yhat)
    f_u = _vector(yhat_unlabelled, "yhat_unlabelled")
    n, big_n = y_arr.size, f_u.size
    cov = float(np.mean((y_arr - y_arr.mean()) * (f - f.mean())))
    var = float(np.var(np.concatenate([f, f_u]), ddof=1))
    if var <= 0:
        return 0.0
    return float(np.clip(cov / ((1 + n / big_n) * var), 0.0, 1.0))


def ppi_plusplus_mean(y: ArrayLike, yhat: ArrayLike, yhat_unlabelled: ArrayLike, *,
                      alpha: float = 0.05, lam: float | None = None) -> MeanEstimate:
    """Power-tuned prediction-powered mean (PPI++, Angelopoulos, Duchi & Zrnic 2024).

    .. math::

        \\hat\\theta_\\lambda = \\frac{1}{n}\\sum_i Y_i
            + \\lambda\\Bigl(\\frac{1}{N}\\sum_j f(\\tilde X_j) - \\frac1n\\sum_i f(X_i)\\Bigr)

        \\widehat{se} = \\sqrt{\\lambda^2\\hat\\sigma^2_{f}/N + \\hat\\sigma^2_{Y-\\lambda f}/n}

    with :math:`\\lambda` from :func:`power_tuning` unless given. :math:`\\lambda = 1` is
    plain PPI (:func:`ppi_mean`), :math:`\\lambda = 0` the classical humans-only mean
    (:func:`classical_mean`); the tuned value is never (asymptotically) worse than either,
    so a useless judge costs nothing.

    Parameters
    ----------
    y, yhat : array_like
        Human truth and judge scores on the ``n`` labelled items (aligned).
    yhat_unlabelled : array_like
        Judge scores on the ``N`` unlabelled items.
    alpha : float
        1 - the interval's level.
    lam : float, optional
        A fixed weight in [0, 1] instead of the tuned one.

    Returns
    -------
    MeanEstimate
        ``method`` ``"ppi++"``, ``lam`` the weight used.

    References
    ----------
    Angelopoulos, A. N., Duchi, J. C. & Zrnic, T. (2024). PPI++: Efficient prediction-powered
    inference. arXiv:2311.01453.

    Examples
    --------
    >>> est = ppi_plusplus_mean([1, 2, 3], [2, 3, 4], [3, 4, 5, 6], lam=1.0)
    >>> est.mean == ppi_mean([1, 2, 3], [2, 3, 4], [3, 4, 5, 6]).mean
    True
    """
    y_arr, f = _pair(y, yhat)
    f_u = _vector(yhat_unlabelled, "yhat_unlabelled")
    if lam is None:
        lam = power_tuning(y_arr, f, f_u)
    elif not 0 <= lam <= 1:
        raise ValueError(f"lam must lie in [0, 1], got {lam}")
    return _ppi(y_arr, f, f_u, float(lam), _check_alpha(alpha), "ppi++")


def effective_labels(y: ArrayLike, corrected: MeanEstimate) -> float:
    """How many human labels alone would give the corrected estimate's variance.

    .. math::

        n_{eff} = n\\,\\frac{\\widehat{\\operatorname{Var}}_{classical}}
                            {\\widehat{\\operatorname{Var}}_{corrected}}
                = \\frac{\\hat\\sigma^2_Y}{\\widehat{se}^2_{corrected}}

    where :math:`\\widehat{\\operatorname{Var}}_{classical} = \\hat\\sigma^2_Y/n` is the
    variance of the humans-only mean of the ``n`` labelled items (:func:`classical_mean`).
    :math:`n_{eff} - n` is what the judge's scores on the unlabelled items are worth in
    human labels; :math:`n_{eff} < n` means the judge made the estimate worse (plain PPI with
    a poor judge; PPI++ stays at about ``n`` then).

    Parameters
    ----------
    y : array_like
        The human truth on the labelled items.
    corrected : MeanEstimate
        The corrected estimate from the same items.

    Returns
    -------
    float
        ``inf`` when the corrected standard error is 0 and the humans' is not; ``nan`` when
        the humans all agree (no variance to compare).

    Examples
    --------
    >>> y = [1, 2, 3, 4]
    >>> round(effective_labels(y, classical_mean(y)), 9)
    4.0
    """
    y_arr = _vector(y, "y")
    var_y = float(y_arr.var())
    if var_y == 0:
        return float("nan")
    if corrected.se == 0:
        return float("inf")
    return var_y / corrected.se ** 2


__all__ = ["MeanEstimate", "classical_mean", "effective_labels", "naive_mean",
           "power_tuning", "ppi_mean", "ppi_plusplus_mean"]
