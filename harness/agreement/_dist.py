r"""The few distribution functions the agreement figures need, without scipy.

``judgecal agree`` computes every figure with numpy and these functions; importing
``scipy.stats`` alone costs about 13x ``python -c "import numpy"`` (1.8 s against 0.1 s on a
2-core machine, benchmarks/README.md), ``scipy.special`` about 5x. scipy stays the source of
truth: tests/test_dist.py checks every function here against it on dense grids.

Normal: :func:`norm_cdf`, :func:`norm_sf` (``math.erfc``) and :func:`norm_ppf`
(``statistics.NormalDist.inv_cdf``, Wichura's AS 241). Student t, F and beta: from the
regularized incomplete beta function :math:`I_x(a, b)` (:func:`betainc`), evaluated by its
continued fraction (modified Lentz) with the prefactor :math:`x^a (1-x)^b / B(a, b)` computed
without cancellation for large parameters (DiDonato & Morris 1992), and inverted by a
bracketed Newton iteration (:func:`betaincinv`). Also :func:`rankdata` (mid-ranks),
:func:`binom_half_pmf` and :func:`fdr_by` (Benjamini & Yekutieli).

References
----------
DiDonato, A. R. & Morris, A. H. (1992). Algorithm 708: significant digit computation of the
incomplete beta function ratios. *ACM Trans. Math. Softw.* 18, 360-373.

Press, W. H., Teukolsky, S. A., Vetterling, W. T. & Flannery, B. P. (2007). *Numerical
Recipes*, 3rd ed., sections 6.4 (incomplete beta function, its continued fraction and its
inverse) and 5.2 (modified Lentz's method).

Abramowitz, M. & Stegun, I. A. (1964). *Handbook of Mathematical Functions*, 26.5.22 (the
starting value of the inversion) and 6.1.41 (Stirling's series).
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

__all__ = [
    "betainc",
    "betaincc",
    "betaincinv",
    "binom_half_pmf",
    "f_ppf",
    "f_sf",
    "fdr_by",
    "norm_cdf",
    "norm_ppf",
    "norm_sf",
    "rankdata",
    "t_cdf",
    "t_ppf",
    "t_sf",
]

_EPS = 2.220446049250313e-16
_TINY = 1e-300  # Lentz's guard against a zero denominator
_MAX_TERMS = 200_000  # the continued fraction needs O(sqrt(max(a, b))) terms
_BIG = 10.0  # from here Stirling's series for ln Gamma is used (7 terms: error < 1e-17)
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_SQRT_HALF = math.sqrt(0.5)
_STANDARD = NormalDist()


# -- normal --------------------------------------------------------------------------------


def norm_cdf(x: float) -> float:
    r"""Standard normal distribution function, :math:`\Phi(x) = \tfrac12 \operatorname{erfc}
    (-x/\sqrt2)`.

    Parameters
    ----------
    x : float

    Returns
    -------
    float
        :math:`P(Z \le x)`, relative accuracy a few ulp in both tails.
    """
    return 0.5 * math.erfc(-x * _SQRT_HALF)


def norm_sf(x: float) -> float:
    r"""Standard normal survival function, :math:`1 - \Phi(x) = \tfrac12 \operatorname{erfc}
    (x/\sqrt2)` (what ``scipy.special.ndtr(-x)`` computes).

    Parameters
    ----------
    x : float

    Returns
    -------
    float
        :math:`P(Z > x)`.
    """
    return 0.5 * math.erfc(x * _SQRT_HALF)


def norm_ppf(p: float) -> float:
    r"""Standard normal quantile :math:`\Phi^{-1}(p)` (``scipy.special.ndtri``).

    ``statistics.NormalDist().inv_cdf``: Wichura's (1988) algorithm AS 241, rational
    approximations with about 16 significant digits.

    Parameters
    ----------
    p : float
        Probability in [0, 1].

    Returns
    -------
    float
        ``-inf`` at 0, ``inf`` at 1, NaN outside [0, 1].

    References
    ----------
    Wichura, M. J. (1988). Algorithm AS 241: the percentage points of the normal
    distribution. *Applied Statistics* 37, 477-484.
    """
    if not 0.0 < p < 1.0:
        return -math.inf if p == 0.0 else math.inf if p == 1.0 else math.nan
    return _STANDARD.inv_cdf(p)


# -- the incomplete beta function ------------------------------------------------------------


def _stirling_delta(z: float) -> float:
    r""":math:`\ln\Gamma(z) - ((z - \tfrac12)\ln z - z + \tfrac12 \ln 2\pi)` for z >= 10.

    Stirling's series (A&S 6.1.41), :math:`\sum_k B_{2k} / (2k(2k-1) z^{2k-1})` to
    :math:`z^{-13}`; the first omitted term is below 3e-17 at z = 10.
    """
    w = 1.0 / z
    w2 = w * w
    return w * (1.0 / 12.0 + w2 * (-1.0 / 360.0 + w2 * (1.0 / 1260.0 + w2 * (
        -1.0 / 1680.0 + w2 * (1.0 / 1188.0 + w2 * (-691.0 / 360360.0 + w2 / 156.0))))))


def _rlog1(e: float, one_plus_e: float) -> float:
    r""":math:`e - \ln(1 + e)` for e > -1, with full relative accuracy near 0.

    ``one_plus_e`` is :math:`1 + e` computed directly (used away from 0, where forming
    ``1 + e`` from ``e`` would lose the digits of a tiny :math:`1 + e`).

    With :math:`w = e/(2+e)`, :math:`\ln(1+e) = 2\operatorname{atanh} w`, so
    :math:`e - \ln(1+e) = e^2/(2+e) - 2(w^3/3 + w^5/5 + \dots)` (DiDonato & Morris 1992 use
    a rational approximation of the same function, ``rlog1``).
    """
    if abs(e) > 0.5:
        return math.inf if one_plus_e <= 0.0 else e - math.log(one_plus_e)
    w = e / (2.0 + e)
    w2 = w * w
    term, total, k = w * w2, 0.0, 3
    while True:
        add = term / k
        total += add
        if abs(add) <= 1e-17 * abs(total):
            break
        term *= w2
        k += 2
    return e * e / (2.0 + e) - 2.0 * total


def _log_gamma_ratio(a: float, b: float) -> float:
    r""":math:`\ln\Gamma(a) - \ln\Gamma(a + b)` for a >= 10, without cancellation.

    From Stirling's series: :math:`-b \ln a - (a + b - \tfrac12)\ln(1 + b/a) + b + \delta(a)
    - \delta(a + b)` (the ``algdiv`` of DiDonato & Morris 1992).
    """
    return (-b * math.log(a) - (a + b - 0.5) * math.log1p(b / a) + b
            + _stirling_delta(a) - _stirling_delta(a + b))


def _log_beta(a: float, b: float) -> float:
    r""":math:`\ln B(a, b)` to an absolute accuracy of a few ulp of its size."""
    lo, hi = min(a, b), max(a, b)
    if hi < _BIG:
        return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    if lo < _BIG:
        return math.lgamma(lo) + _log_gamma_ratio(hi, lo)
    s = a + b
    return (a * math.log(a / s) + b * math.log(b / s) + 0.5 * (math.log(s) - math.log(a)
            - math.log(b)) + _HALF_LOG_2PI + _stirling_delta(a) + _stirling_delta(b)
            - _stirling_delta(s))


def _log_front(a: float, b: float, x: float, y: float) -> float:
    r""":math:`\ln(x^a y^b / B(a, b))`, with ``y = 1 - x`` given to full precision.

    For a, b >= 10 (where :math:`a \ln x` and :math:`\ln B` are large and nearly cancel),
    DiDonato & Morris's (1992) ``brcomp``: with :math:`\lambda = (a+b)x - a`,

    .. math:: \ln\frac{x^a y^b}{B(a,b)} = -a\,\mathrm{rlog1}(\lambda/a)
              - b\,\mathrm{rlog1}(-\lambda/b) + \tfrac12\ln\frac{ab}{a+b}
              - \tfrac12\ln 2\pi - \delta(a) - \delta(b) + \delta(a+b),

    every term small or of one sign. Otherwise :math:`a\ln x + b\ln y - \ln B(a, b)`.
    """
    if a >= _BIG and b >= _BIG:
        s = a + b
        lam = s * x - a if a <= b else b - s * y
        return (-a * _rlog1(lam / a, s * x / a) - b * _rlog1(-lam / b, s * y / b)
                + 0.5 * (math.log(a) + math.log(b / s)) - _HALF_LOG_2PI
                - _stirling_delta(a) - _stirling_delta(b) + _stirling_delta(s))
    log_x = math.log1p(-y) if y < 0.5 else math.log(x)
    log_y = math.log1p(-x) if x < 0.5 else math.log(y)
    return a * log_x + b * log_y - _log_beta(a, b)


def _continued_fraction(a: float, b: float, x: float, y: float) -> float:
    r"""The continued fraction of :math:`I_x(a,b) = \frac{x^a y^b}{a B(a,b)}
    \cfrac{1}{1+\cfrac{d_1}{1+\cfrac{d_2}{1+\dots}}}` (NR 6.4.5), by modified Lentz.

    :math:`d_{2m+1} = -\frac{(a+m)(a+b+m)x}{(a+2m)(a+2m+1)}`, :math:`d_{2m} =
    \frac{m(b-m)x}{(a+2m-1)(a+2m)}`; converges quickly for x < (a+1)/(a+b+2).
    """
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    # 1 - (a+b)x/(a+1); near x = 1 (then b is small) rewritten with y = 1 - x
    d = 1.0 - qab * x / qap if x < 0.5 else (1.0 - b + qab * y) / qap
    if abs(d) < _TINY:
        d = _TINY
    d = 1.0 / d
    h = d
    for m in range(1, _MAX_TERMS):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        if abs(d) < _TINY:
            d = _TINY
        c = 1.0 + aa / c
        if abs(c) < _TINY:
            c = _TINY
        d = 1.0 / d
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        if abs(d) < _TINY:
            d = _TINY
        c = 1.0 + aa / c
        if abs(c) < _TINY:
            c = _TINY
        d = 1.0 / d
        step = d * c
        h *= step
        if abs(step - 1.0) <= _EPS:
            return h
    raise ArithmeticError(f"incomplete beta: no convergence for a={a}, b={b}, x={x}")


def _gamma_q_ratio(b: float, z: float) -> float:
    r""":math:`Q(b, z) / r` with :math:`r = e^{-z} z^b / \Gamma(b)`, for 0 < b <= 1.

    Q is the regularized upper incomplete gamma function. For z < b + 1 from the series
    of :math:`P = 1 - Q` (NR 6.2.5); else Legendre's continued fraction of Q (NR 6.2.7,
    modified Lentz), which gives :math:`Q/r` without forming r (no underflow).
    """
    if z < b + 1.0:
        term = total = 1.0 / b
        n = 0
        while abs(term) > _EPS * abs(total):
            n += 1
            term *= z / (b + n)
            total += term
        # P = e^-z z^b / Gamma(b) * total; r = e^-z z^b / Gamma(b)
        log_r = -z + b * math.log(z) - math.lgamma(b)
        return (1.0 - math.exp(log_r) * total) / math.exp(log_r)
    bb = z + 1.0 - b
    c = 1.0 / _TINY
    d = 1.0 / bb
    h = d
    for i in range(1, _MAX_TERMS):
        an = -i * (i - b)
        bb += 2.0
        d = an * d + bb
        if abs(d) < _TINY:
            d = _TINY
        c = bb + an / c
        if abs(c) < _TINY:
            c = _TINY
        d = 1.0 / d
        step = d * c
        h *= step
        if abs(step - 1.0) <= _EPS:
            return h
    raise ArithmeticError(f"incomplete gamma: no convergence for b={b}, z={z}")


def _large_a_small_b(a: float, b: float, x: float, y: float) -> float | None:
    r""":math:`I_x(a, b)` for a >= 15, b <= 1 and x near 1: Temme's asymptotic expansion.

    DiDonato & Morris (1992), ``bgrat``: with :math:`\nu = a + (b-1)/2`,
    :math:`z = -\nu \ln x`,

    .. math:: I_x(a,b) = \frac{\Gamma(a+b)}{\Gamma(a)\,\nu^b} e^{-z} \frac{z^b}{\Gamma(b)}
              \sum_{n \ge 0} d_n J_n,

    :math:`J_0 = Q(b, z) / (e^{-z} z^b / \Gamma(b))`,
    :math:`J_n = \frac{(b+2n-2)(b+2n-1) J_{n-1} + (z+b+2n-1)(\ln x / 2)^{2n-2}}{4\nu^2}`,
    :math:`d_0 = 1`, :math:`d_n = (b-1) c_n + \frac1n \sum_{i=1}^{n-1} (bi - n) c_i
    d_{n-i}`, :math:`c_n = 1/(2n+1)!`. Written in y, so it keeps the digits that the
    continued fraction, written in x, loses near x = 1. None when it does not converge.
    """
    nu = a + 0.5 * (b - 1.0)
    log_x = math.log1p(-y) if y <= 0.375 else math.log(x)
    z = -nu * log_x
    if z <= 0.0:
        return None
    log_u = -z + b * math.log(z) - math.lgamma(b) - _log_gamma_ratio(a, b) - b * math.log(nu)
    j = _gamma_q_ratio(b, z)
    total = j
    v = 0.25 / (nu * nu)
    t2 = 0.25 * log_x * log_x
    t, cn, n2 = 1.0, 1.0, 0.0
    c: list[float] = [0.0]
    d: list[float] = [1.0]
    for n in range(1, 31):
        bp2n = b + n2
        j = (bp2n * (bp2n + 1.0) * j + (z + bp2n + 1.0) * t) * v
        n2 += 2.0
        t *= t2
        cn /= n2 * (n2 + 1.0)
        c.append(cn)
        s = sum((b * i - n) * c[i] * d[n - i] for i in range(1, n))
        d.append((b - 1.0) * cn + s / n)
        dj = d[n] * j
        total += dj
        if total <= 0.0:
            return None
        if abs(dj) <= _EPS * total:
            return math.exp(log_u) * total
    return None


def _lower_tail(a: float, b: float, x: float, y: float) -> float:
    r""":math:`I_x(a, b)` for x < (a+1)/(a+b+2), where it is the smaller tail.

    The continued fraction; near x = 1 (a > b), where the fraction, written in x, would
    lose up to log10(a/b) digits, Temme's expansion at :math:`b_0 = b - n \in (0, 1]`
    and the upward recurrence :math:`I_x(a, b_0 + k + 1) = I_x(a, b_0 + k) + x^a
    y^{b_0+k} / ((b_0+k) B(a, b_0+k))` (DLMF 8.17.20; ``bup``), every term positive.
    """
    if x > 0.5 and a >= 15.0 and b <= 200.0:
        n = max(0, math.ceil(b) - 1)
        b0 = b - n
        base = _large_a_small_b(a, b0, x, y)
        if base is not None:
            ups = sum(math.exp(_log_front(a, b0 + k, x, y)) / (b0 + k) for k in range(n))
            return base + ups
    return math.exp(_log_front(a, b, x, y)) * _continued_fraction(a, b, x, y) / a


def _beta_pair(a: float, b: float, x: float, y: float) -> tuple[float, float]:
    """:math:`(I_x(a,b), 1 - I_x(a,b))`, the smaller of the two to full relative accuracy."""
    if x <= 0.0:
        return 0.0, 1.0
    if y <= 0.0:
        return 1.0, 0.0
    if x * (a + b + 2.0) < a + 1.0:
        lower = min(_lower_tail(a, b, x, y), 1.0)
        return lower, 1.0 - lower
    upper = min(_lower_tail(b, a, y, x), 1.0)
    return 1.0 - upper, upper


def _check_ab(a: float, b: float) -> None:
    if not (a > 0.0 and b > 0.0):
        raise ValueError(f"the beta parameters must be positive, got a={a!r}, b={b!r}")


def betainc(a: float, b: float, x: float) -> float:
    r"""Regularized incomplete beta function (``scipy.special.betainc``).

    .. math:: I_x(a, b) = \frac{1}{B(a, b)} \int_0^x t^{a-1} (1-t)^{b-1}\,dt

    By the continued fraction NR 6.4.5 when :math:`x < (a+1)/(a+b+2)`, else by
    :math:`I_x(a,b) = 1 - I_{1-x}(b,a)`; the prefactor as in :func:`_log_front`.

    Parameters
    ----------
    a, b : float
        Positive shape parameters.
    x : float
        In [0, 1].

    Returns
    -------
    float
        NaN for x outside [0, 1].

    Examples
    --------
    >>> round(betainc(2.0, 3.0, 0.4), 12)   # 1 - (1-x)^3 (1 + 3x) = 1 - 0.216 * 2.2
    0.5248
    """
    _check_ab(a, b)
    if not 0.0 <= x <= 1.0:
        return math.nan
    return _beta_pair(a, b, x, 1.0 - x)[0]


def betaincc(a: float, b: float, x: float) -> float:
    r"""Complement :math:`1 - I_x(a, b)` (``scipy.special.betaincc``), to full relative
    accuracy when it is small.

    Parameters
    ----------
    a, b : float
        Positive shape parameters.
    x : float
        In [0, 1].

    Returns
    -------
    float
    """
    _check_ab(a, b)
    if not 0.0 <= x <= 1.0:
        return math.nan
    return _beta_pair(a, b, x, 1.0 - x)[1]


def _inverse_start(a: float, b: float, p: float, q: float) -> tuple[float, float]:
    """Starting point (x, 1 - x) of the inversion, NR 6.4 (A&S 26.5.22 for a, b >= 1)."""
    if a >= 1.0 and b >= 1.0:
        pp = min(p, q)
        t = math.sqrt(-2.0 * math.log(pp))
        z = (2.30753 + t * 0.27061) / (1.0 + t * (0.99229 + t * 0.04481)) - t
        if p < q:  # NR's sign: x = a / (a + b e^(2w)) falls as w grows with z
            z = -z
        al = (z * z - 3.0) / 6.0
        h = 2.0 / (1.0 / (2.0 * a - 1.0) + 1.0 / (2.0 * b - 1.0))
        w = (z * math.sqrt(al + h) / h
             - (1.0 / (2.0 * b - 1.0) - 1.0 / (2.0 * a - 1.0)) * (al + 5.0 / 6.0 - 2.0 / (3.0 * h)))
        e = min(2.0 * w, 700.0)
        ratio = b * math.exp(e) / a  # y / x
        return 1.0 / (1.0 + ratio), ratio / (1.0 + ratio)
    lna, lnb = math.log(a / (a + b)), math.log(b / (a + b))
    t, u = math.exp(a * lna) / a, math.exp(b * lnb) / b
    w = t + u
    if p < t / w:
        x = (a * w * p) ** (1.0 / a)
        return x, 1.0 - x
    y = (b * w * q) ** (1.0 / b)
    return 1.0 - y, y


def _solve(a: float, b: float, p: float, q: float, in_x: bool,
           start: tuple[float, float]) -> tuple[float, float]:
    """Newton on the log of the smaller tail, in the log of ``x`` (``in_x``) or ``y``.

    The root stays bracketed; a step that leaves the bracket bisects it instead (in the
    logarithm when the bracket spans more than a factor 4).
    """
    small_lower = p <= q
    target = math.log(p if small_lower else q)
    lo, hi = 0.0, 1.0  # bracket of v (x or y)
    v = start[0] if in_x else start[1]
    if not 0.0 < v < 1.0:
        v = 0.5
    for _ in range(300):
        x, y = (v, 1.0 - v) if in_x else (1.0 - v, v)
        lower, upper = _beta_pair(a, b, x, y)
        tail = lower if small_lower else upper
        g = -math.inf if tail <= 0.0 else math.log(tail) - target  # >0: the tail is too big
        if g == 0.0:
            return x, y
        # the lower tail grows with x; v too large when (lower too big) == in_x
        too_large = (g > 0.0) == (small_lower == in_x)
        if too_large:
            hi = v
        else:
            lo = v
        new = math.nan
        if math.isfinite(g):
            # d ln(tail) / d ln v = v * pdf / tail, pdf = x^(a-1) y^(b-1) / B(a, b)
            slope = math.exp(_log_front(a, b, x, y) - math.log(x) - math.log(y)) * v / tail
            if slope > 0.0 and math.isfinite(slope):
                # ln(tail) moves with ln v in the direction of too_large's sign
                new = v * math.exp(max(-50.0, min(50.0, -abs(g) / slope
                                                  * (1.0 if too_large else -1.0))))
        if not lo < new < hi:
            new = math.sqrt(lo * hi) if lo > 0.0 and hi > 4.0 * lo else 0.5 * (lo + hi)
        if abs(new - v) <= 2.0 * _EPS * v or new in (lo, hi):
            v = new
            break
        v = new
    return (v, 1.0 - v) if in_x else (1.0 - v, v)


def _beta_inverse(a: float, b: float, p: float, q: float) -> tuple[float, float]:
    """(x, 1 - x) with :math:`I_x(a,b) = p`, ``q = 1 - p``; the smaller to full precision."""
    if p <= 0.0:
        return 0.0, 1.0
    if q <= 0.0:
        return 1.0, 0.0
    start = _inverse_start(a, b, p, q)
    in_x = start[0] <= start[1]
    x, y = _solve(a, b, p, q, in_x, start)
    if (x <= y) != in_x:  # the root is on the other side of 1/2: solve for the small one
        x, y = _solve(a, b, p, q, not in_x, (x, y))
    return x, y


def betaincinv(a: float, b: float, p: float) -> float:
    r"""Inverse of :func:`betainc` in x (``scipy.special.betaincinv``): :math:`I_x(a, b) = p`.

    Started from NR 6.4's approximation (A&S 26.5.22 for :math:`a, b \ge 1`, else the
    leading terms near 0 and 1), then Newton's method on :math:`\ln` of the smaller tail
    against the logarithm of the smaller of x, 1 - x, kept inside a bracket.

    Parameters
    ----------
    a, b : float
        Positive shape parameters.
    p : float
        Probability in [0, 1].

    Returns
    -------
    float
        NaN for p outside [0, 1].

    Examples
    --------
    >>> round(betaincinv(2.0, 3.0, 0.5248), 12)
    0.4
    """
    _check_ab(a, b)
    if not 0.0 <= p <= 1.0:
        return math.nan
    return _beta_inverse(a, b, p, 1.0 - p)[0]


# -- Student t ---------------------------------------------------------------------------------


def _t_xy(t: float, df: float) -> tuple[float, float]:
    """``(df / (df + t^2), t^2 / (df + t^2))``, each by one division (no 1 - x)."""
    t2 = t * t
    if math.isinf(t2):
        r = df / abs(t) / abs(t)
        return r / (1.0 + r), 1.0 / (1.0 + r)
    s = df + t2
    return df / s, t2 / s


def _t_cdf(t: float, df: float) -> float:
    if math.isnan(t) or math.isnan(df) or df <= 0.0:
        return math.nan
    if math.isinf(t):
        return 1.0 if t > 0 else 0.0
    if math.isinf(df):
        return norm_cdf(t)
    x, y = _t_xy(t, df)
    tail = 0.5 * _beta_pair(0.5 * df, 0.5, x, y)[0]  # P(T < -|t|)
    return tail if t < 0 else 1.0 - tail


_t_cdf_ufunc = np.frompyfunc(_t_cdf, 2, 1)


def t_cdf(t, df):
    r"""Student t distribution function (``scipy.stats.t.cdf``, ``scipy.special.stdtr``).

    .. math:: P(T \le t) = \tfrac12 I_{\nu/(\nu+t^2)}(\nu/2, \tfrac12) \quad (t < 0),

    and one minus that at :math:`-t` for t >= 0; the normal for :math:`\nu = \infty`.

    Parameters
    ----------
    t : float or array_like
    df : float or array_like
        Degrees of freedom :math:`\nu > 0` (broadcast against ``t``).

    Returns
    -------
    float or ndarray
        A float for scalar arguments; NaN for NaN arguments or df <= 0.

    Examples
    --------
    >>> round(t_cdf(2.0, 1.0), 12)   # 1/2 + atan(2)/pi
    0.85241638235
    """
    out = _t_cdf_ufunc(t, df)
    if isinstance(out, np.ndarray):
        return out.astype(float)
    return float(out)


def t_sf(t, df):
    r"""Student t survival function :math:`P(T > t)`, the cdf at :math:`-t` (as scipy).

    Parameters
    ----------
    t, df : float or array_like

    Returns
    -------
    float or ndarray
    """
    return t_cdf(np.negative(t), df)


def t_ppf(q: float, df: float) -> float:
    r"""Student t quantile (``scipy.stats.t.ppf``, ``scipy.special.stdtrit``).

    With :math:`p = 2\min(q, 1-q)` and :math:`x` solving :math:`I_x(\nu/2, \tfrac12) = p`
    (:func:`betaincinv`), :math:`|t| = \sqrt{\nu (1-x)/x}`, negative for q < 1/2.

    Parameters
    ----------
    q : float
        Probability in [0, 1].
    df : float
        Degrees of freedom > 0.

    Returns
    -------
    float

    Examples
    --------
    >>> round(t_ppf(0.975, 10.0), 10)
    2.228138852
    """
    if math.isnan(q) or math.isnan(df) or df <= 0.0 or not 0.0 <= q <= 1.0:
        return math.nan
    if q == 0.5:
        return 0.0
    if q in (0.0, 1.0):
        return math.inf if q == 1.0 else -math.inf
    if math.isinf(df):
        return norm_ppf(q)
    small = q if q < 0.5 else 1.0 - q
    x, y = _beta_inverse(0.5 * df, 0.5, 2.0 * small, 1.0 - 2.0 * small)
    t = math.sqrt(df) * math.sqrt(y / x) if x > 0.0 else math.inf
    return -t if q < 0.5 else t


# -- F -------------------------------------------------------------------------------------------


def _check_df(dfn: float, dfd: float) -> bool:
    return dfn > 0.0 and dfd > 0.0


def f_sf(f: float, dfn: float, dfd: float) -> float:
    r"""Survival function of the F distribution (``scipy.special.fdtrc``, ``f.sf``).

    .. math:: P(F > f) = I_{d_2/(d_2 + d_1 f)}(d_2/2, d_1/2)

    Parameters
    ----------
    f : float
    dfn, dfd : float
        Numerator and denominator degrees of freedom, positive.

    Returns
    -------
    float
        1 for f <= 0, 0 for f = inf, NaN for NaN or a non-positive df.

    Examples
    --------
    >>> round(f_sf(3.0, 2.0, 10.0), 12)   # (1 + 2 f / 10)^-5 for dfn = 2
    0.095367431641
    """
    if math.isnan(f) or not _check_df(dfn, dfd):
        return math.nan
    if f <= 0.0:
        return 1.0
    if math.isinf(f):
        return 0.0
    num = dfn * f
    if math.isinf(num):
        r = dfd / dfn / f
        x, y = 1.0 / (1.0 + r), r / (1.0 + r)
    else:
        s = num + dfd
        x, y = num / s, dfd / s
    return _beta_pair(0.5 * dfn, 0.5 * dfd, x, y)[1]


def f_ppf(q: float, dfn: float, dfd: float) -> float:
    r"""Quantile of the F distribution (``scipy.special.fdtri``, ``scipy.stats.f.ppf``).

    With x solving :math:`I_x(d_1/2, d_2/2) = q` (:func:`betaincinv`, both x and 1 - x to
    full precision), :math:`f = d_2 x / (d_1 (1 - x))`.

    Parameters
    ----------
    q : float
        Probability in [0, 1].
    dfn, dfd : float
        Degrees of freedom, positive.

    Returns
    -------
    float

    Examples
    --------
    >>> round(f_ppf(0.5, 2.0, 2.0), 12)
    1.0
    """
    if math.isnan(q) or not _check_df(dfn, dfd) or not 0.0 <= q <= 1.0:
        return math.nan
    if q == 0.0:
        return 0.0
    if q == 1.0:
        return math.inf
    x, y = _beta_inverse(0.5 * dfn, 0.5 * dfd, q, 1.0 - q)
    return math.inf if y == 0.0 else (dfd * x) / (dfn * y)


# -- ranks, the binomial, multiple testing -------------------------------------------------------


def _midranks(v: np.ndarray) -> np.ndarray:
    order = np.argsort(v, kind="mergesort")
    s = v[order]
    n = s.size
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]]) if n else np.zeros(0, np.intp)
    ends = np.r_[starts[1:], n]
    ranks = np.empty(n)
    ranks[order] = np.repeat((starts + 1 + ends) / 2.0, ends - starts)
    return ranks


def rankdata(x, axis: int | None = None) -> np.ndarray:
    """Mid-ranks: 1 for the smallest, tied values share the mean of their ranks.

    ``scipy.stats.rankdata(x, method="average")``; with ``axis=0`` on a 2-D array each
    column is ranked among its non-NaN values and NaN stays NaN (``nan_policy="omit"``).

    Parameters
    ----------
    x : array_like
        Values; 1-D (``axis=None`` ranks the flattened array) or 2-D with ``axis=0``.
    axis : {None, 0}

    Returns
    -------
    ndarray of float

    Examples
    --------
    >>> rankdata([10, 20, 20, 5]).tolist()
    [2.0, 3.5, 3.5, 1.0]
    """
    a = np.asarray(x, dtype=float)
    if axis is None:
        return _midranks(a.ravel())
    if axis != 0 or a.ndim != 2:
        raise ValueError("rankdata ranks a 1-D array, or the columns of a 2-D one (axis=0)")
    out = np.full(a.shape, np.nan)
    for j in range(a.shape[1]):
        keep = ~np.isnan(a[:, j])
        out[keep, j] = _midranks(a[keep, j])
    return out


def binom_half_pmf(n: int) -> np.ndarray:
    r"""The Binomial(n, 1/2) probabilities :math:`\binom{n}{k} 2^{-n}`, k = 0..n, each
    correctly rounded (exact integers, one division).

    Parameters
    ----------
    n : int
        Number of trials, >= 0.

    Returns
    -------
    ndarray, shape (n + 1,)

    Examples
    --------
    >>> binom_half_pmf(2).tolist()
    [0.25, 0.5, 0.25]
    """
    denom = 1 << n
    return np.array([math.comb(n, k) / denom for k in range(n + 1)])


def fdr_by(p_values) -> np.ndarray:
    r"""Benjamini-Yekutieli adjusted p-values (``scipy.stats.false_discovery_control(p,
    method="by")``).

    With the m p-values sorted, :math:`p_{(i)} \cdot \frac{m}{i} \sum_{k=1}^m \frac1k`, made
    monotone from the largest down (running minimum) and capped at 1; rejecting where the
    adjusted value is at most q controls the false discovery rate at q under any dependence.

    Parameters
    ----------
    p_values : array_like of float
        In [0, 1], 1-D.

    Returns
    -------
    ndarray
        Adjusted p-values in the input order.

    References
    ----------
    Benjamini, Y. & Yekutieli, D. (2001). The control of the false discovery rate in
    multiple testing under dependency. *Annals of Statistics* 29, 1165-1188.

    Examples
    --------
    >>> fdr_by([0.01, 0.04, 0.03]).round(4).tolist()
    [0.055, 0.0733, 0.0733]
    """
    ps = np.asarray(p_values, dtype=float).ravel()
    m = ps.size
    if m == 0:
        return ps.copy()
    order = np.argsort(ps)
    i = np.arange(1, m + 1)
    adjusted = ps[order] * (m / i)
    adjusted *= np.sum(1.0 / i)
    adjusted = np.minimum.accumulate(adjusted[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.clip(adjusted, 0.0, 1.0)
    return out
