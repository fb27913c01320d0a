"""Pass rates judged by an imperfect judge, corrected for its sensitivity and specificity.

Rogan, W. J. & Gladen, B. (1978). Estimating prevalence from the results of a screening
test. *American Journal of Epidemiology* 107(1), 71-76.

The confidence interval follows Lang, Z. & Reiczigel, J. (2014). Confidence limits for
prevalence of disease adjusted for estimated sensitivity and specificity. *Preventive
Veterinary Medicine* 113(1), 13-22: the delta method over the three estimated proportions
(apparent pass rate, sensitivity, specificity), each adjusted Agresti-Coull style (``z²/2``
passes and ``z²/2`` fails added) so that a sensitivity or specificity of 1 on a few anchors
still carries its uncertainty. Our adjustment adds ``z²/2`` to every proportion; the paper
studies a few variants of the added amounts, so the interval here is in its spirit rather
than a copy of one of them (its coverage is checked by simulation in the tests and in
``benchmarks/bench_estimate.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from harness.reports import exact_text


@dataclass(frozen=True)
class PassRateEstimate:
    """A share of items at or above a pass mark, with a confidence interval.

    Attributes
    ----------
    rate : float or None
        None when undefined (``reason`` says why).
    ci : tuple of float or None
        ``(low, high)`` at level ``1 - alpha``, within [0, 1].
    method : {"naive", "rogan-gladen"}
    n_unlabelled : int
        Items whose judge pass/fail is counted.
    passed : int
        Of them, those the judge passed.
    sensitivity, specificity : float or None
        Rogan-Gladen: the judge's, measured on the labelled items (human truth).
    n_pass, n_fail : int
        Rogan-Gladen: labelled items the humans pass and fail.
    reason : str or None
        Why the estimate is undefined.
    alpha : float
    """

    rate: float | None
    ci: tuple[float, float] | None
    method: str
    n_unlabelled: int
    passed: int
    sensitivity: float | None = None
    specificity: float | None = None
    n_pass: int = 0
    n_fail: int = 0
    reason: str | None = None
    alpha: float = 0.05

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (``ci95`` when ``alpha`` is 0.05, else ``ci``)."""
        key = "ci95" if abs(self.alpha - 0.05) < 1e-12 else "ci"
        out: dict[str, Any] = {"rate": self.rate,
                               key: None if self.ci is None else list(self.ci),
                               "method": self.method, "n_unlabelled": self.n_unlabelled,
                               "judge_passed": self.passed}
        if self.method != "naive":
            out.update(sensitivity=self.sensitivity, specificity=self.specificity,
                       n_pass_anchors=self.n_pass, n_fail_anchors=self.n_fail)
        out["reason"] = self.reason
        return out


def _z(alpha: float) -> float:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    return float(stats.norm.ppf(1 - alpha / 2))


def _count(k: int, n: int, name: str) -> None:
    if n < 0 or not 0 <= k <= n:
        raise ValueError(f"{name}: need 0 <= count <= total, got {k} of {n}")


def naive_pass_rate(passed: int, n: int, *, alpha: float = 0.05) -> PassRateEstimate:
    """The share the judge passes, as if it were never wrong (Wilson score interval).

    .. math:: \\hat q = x / N, \\qquad
              \\frac{\\hat q + \\frac{z^2}{2N} \\pm z\\sqrt{\\frac{\\hat q(1-\\hat q)}{N}
              + \\frac{z^2}{4N^2}}}{1 + z^2/N}

    Parameters
    ----------
    passed : int
        Items the judge scored at or above the pass mark.
    n : int
        Items judged (at least 1).
    alpha : float

    Returns
    -------
    PassRateEstimate

    References
    ----------
    Wilson, E. B. (1927). Probable inference, the law of succession, and statistical
    inference. *JASA* 22(158), 209-212.

    Examples
    --------
    >>> naive_pass_rate(30, 100).rate
    0.3
    """
    _count(passed, n, "passed")
    if n == 0:
        raise ValueError("naive_pass_rate: no item judged")
    z = _z(alpha)
    q = passed / n
    centre = (q + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(q * (1 - q) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return PassRateEstimate(q, (max(0.0, centre - half), min(1.0, centre + half)), "naive",
                            n, passed, alpha=alpha)


def sensitivity_specificity(truth: ArrayLike, judged: ArrayLike) -> tuple[int, int, int, int]:
    """Counts for the judge's sensitivity and specificity on labelled items.

    Parameters
    ----------
    truth : array_like of bool
        The humans pass the item (e.g. consensus at or above the pass mark).
    judged : array_like of bool
        The judge passes it; aligned with ``truth``.

    Returns
    -------
    true_pass, n_pass, true_fail, n_fail : int
        Items both pass, items the humans pass, items both fail, items the humans fail:
        sensitivity = true_pass / n_pass, specificity = true_fail / n_fail.

    Examples
    --------
    >>> sensitivity_specificity([True, True, False, False], [True, False, False, False])
    (1, 2, 2, 2)
    """
    t = np.asarray(truth, dtype=bool).ravel()
    j = np.asarray(judged, dtype=bool).ravel()
    if t.size != j.size:
        raise ValueError(f"truth and judged must be aligned: {t.size} and {j.size} values")
    return int((t & j).sum()), int(t.sum()), int((~t & ~j).sum()), int((~t).sum())


def rogan_gladen(passed: int, n: int, true_pass: int, n_pass: int, true_fail: int,
                 n_fail: int, *, alpha: float = 0.05) -> PassRateEstimate:
    """The true pass rate from the judge's apparent one (Rogan & Gladen, 1978).

    With :math:`\\hat q = x/N` the share the judge passes on the unlabelled items and the
    judge's sensitivity :math:`\\widehat{Se}` and specificity :math:`\\widehat{Sp}` measured on
    the labelled items (human truth),

    .. math::

        \\hat p = \\frac{\\hat q + \\widehat{Sp} - 1}{\\widehat{Se} + \\widehat{Sp} - 1},
        \\quad\\text{clipped to } [0, 1].

    The interval is the delta method over the three independent proportions,

    .. math::

        \\widehat{\\operatorname{Var}}(\\tilde p) = \\frac{
            \\tilde q(1-\\tilde q)/\\tilde N + \\tilde p^2\\,\\widetilde{Se}(1-\\widetilde{Se})
            /\\tilde n_{pass} + (1-\\tilde p)^2\\,\\widetilde{Sp}(1-\\widetilde{Sp})
            /\\tilde n_{fail}}{(\\widetilde{Se} + \\widetilde{Sp} - 1)^2}

    on Agresti-Coull-adjusted proportions (tilde: :math:`z^2/2` added to each count and
    :math:`z^2` to each total, after Lang & Reiczigel 2014), :math:`\\tilde p \\pm z
    \\sqrt{\\cdot}` clipped to [0, 1]. It includes the uncertainty of the judge's
    sensitivity and specificity, which dominates when the anchors are few.

    Parameters
    ----------
    passed, n : int
        Unlabelled items the judge passes, and items judged.
    true_pass, n_pass : int
        Labelled items the humans pass: of them, those the judge passes too.
    true_fail, n_fail : int
        Labelled items the humans fail: of them, those the judge fails too.
    alpha : float

    Returns
    -------
    PassRateEstimate
        ``rate`` None with a ``reason`` when undefined: no labelled item on one side of the
        pass mark, or :math:`\\widehat{Se} + \\widehat{Sp} \\le 1` (the judge's pass/fail says
        nothing about the humans').

    Examples
    --------
    A judge that passes 90% of what the humans pass and fails 80% of what they fail, and
    passes 41% of production: the true rate is (0.41 + 0.8 - 1) / (0.9 + 0.8 - 1) = 0.3.

    >>> round(rogan_gladen(410, 1000, 90, 100, 80, 100).rate, 12)
    0.3
    """
    for k, tot, name in ((passed, n, "passed"), (true_pass, n_pass, "true_pass"),
                         (true_fail, n_fail, "true_fail")):
        _count(k, tot, name)
    if n == 0:
        raise ValueError("rogan_gladen: no unlabelled item judged")
    z = _z(alpha)
    base = {"method": "rogan-gladen", "n_unlabelled": n, "passed": passed, "n_pass": n_pass,
            "n_fail": n_fail, "alpha": alpha}
    if n_pass == 0 or n_fail == 0:
        side = "at or above" if n_pass == 0 else "below"
        which = "sensitivity" if n_pass == 0 else "specificity"
        return PassRateEstimate(None, None, **base,
                                sensitivity=true_pass / n_pass if n_pass else None,
                                specificity=true_fail / n_fail if n_fail else None,
                                reason=f"no labelled item's human score is {side} the pass "
                                       f"mark: the judge's {which} cannot be estimated")
    q, se, sp = passed / n, true_pass / n_pass, true_fail / n_fail
    base.update(sensitivity=se, specificity=sp)
    if se + sp <= 1:
        return PassRateEstimate(None, None, **base,
                                reason=f"the judge's sensitivity + specificity on the labelled "
                                       f"items is {exact_text(se + sp)} <= 1: its pass/fail "
                                       "carries no information about the humans' (Rogan-Gladen "
                                       "undefined)")
    p = float(np.clip((q + sp - 1) / (se + sp - 1), 0.0, 1.0))
    add, z2 = z * z / 2, z * z
    qa, sea, spa = ((passed + add) / (n + z2), (true_pass + add) / (n_pass + z2),
                    (true_fail + add) / (n_fail + z2))
    j = sea + spa - 1
    if j <= 0:  # the adjustment shrinks Se and Sp towards 1/2: no interval from so little
        return PassRateEstimate(p, (0.0, 1.0), **base)
    pa = float(np.clip((qa + spa - 1) / j, 0.0, 1.0))
    var = (qa * (1 - qa) / (n + z2) + pa ** 2 * sea * (1 - sea) / (n_pass + z2)
           + (1 - pa) ** 2 * spa * (1 - spa) / (n_fail + z2)) / j ** 2
    half = z * float(np.sqrt(var))
    low, high = max(0.0, pa - half), min(1.0, pa + half)
    return PassRateEstimate(p, (min(low, p), max(high, p)), **base)


__all__ = ["PassRateEstimate", "naive_pass_rate", "rogan_gladen", "sensitivity_specificity"]
