"""harness.agreement._dist and the numpy correlations against scipy, their source of truth.

Relative tolerance 1e-12 on dense grids. Where scipy itself is less accurate than that, the
test says where and checks against values computed with mpmath at 40 digits instead:

- ``scipy.special.stdtr`` (t cdf) for |t| < 1e-3 at small df loses up to 3e-9 (at t = 1e-8,
  df = 1: 0.4999999952568 where 1/2 + atan(t)/pi = 0.4999999968169); checked against the
  closed forms for df = 1 and 2.
- ``scipy.special.fdtrc`` / ``fdtri`` (cephes) are off by up to 2.7e-11 for a denominator df
  of 1e5 and more (e.g. fdtrc(4, 1e6, 2.894) by 2.5e-11, where _dist is within 3e-16 of
  mpmath); there the grid uses 5e-11, and F(1, d) and F(2, d) are checked against forms
  without the incomplete beta (T_d squared, and a closed form).
- ``scipy.special.betaincinv`` with a and b 100 times apart (off by up to 1e-9) and
  ``betainc(0.5, 0.5, 0.999999999)``: the points in ``MPMATH``.
- Tails below 1e-290 (scipy underflows to 0 before _dist does) are left out.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special, stats

from harness.agreement import _correlation, _dist
from harness.agreement._errors import confusion_counts, confusion_matrix

RTOL = 1e-12
DFS = [1, 1.5, 2, 3, 4, 5, 7, 9.5, 10, 15, 30, 50, 100, 300, 1e3, 1e4]
HUGE_DFS = [1e5, 1e6]
QS = np.r_[np.logspace(-10, -1, 19), np.linspace(0.1, 0.9, 9), 1 - np.logspace(-1, -10, 19)]


def _close(ours: float, ref: float, rtol: float = RTOL) -> bool:
    if abs(ref) < 1e-290 and abs(ours) < 1e-290:  # scipy's underflow, not a difference
        return True
    return ours == ref or abs(ours - ref) <= rtol * abs(ref)


def _failures(pairs, rtol: float = RTOL) -> list:
    return [(args, ours, ref) for args, ours, ref in pairs if not _close(ours, ref, rtol)]


# -- normal ------------------------------------------------------------------------------------


def test_normal_quantile_and_tails_match_scipy():
    assert not _failures([(q, _dist.norm_ppf(float(q)), special.ndtri(q)) for q in QS])
    xs = np.linspace(-37.5, 37.5, 1501)  # Phi(-37.5) = 4.6e-308, still a normal float
    assert not _failures([(x, _dist.norm_sf(float(x)), special.ndtr(-x)) for x in xs])
    assert not _failures([(x, _dist.norm_cdf(float(x)), special.ndtr(x)) for x in xs])
    assert _dist.norm_ppf(0.0) == -math.inf and _dist.norm_ppf(1.0) == math.inf
    assert math.isnan(_dist.norm_ppf(1.5))


# -- Student t -------------------------------------------------------------------------------


@pytest.mark.parametrize("df", DFS + HUGE_DFS)
def test_t_cdf_matches_scipy(df):
    ts = np.r_[-np.logspace(-3, 8, 45)[::-1], 0.0, np.logspace(-3, 8, 45)]
    assert not _failures([(t, _dist.t_cdf(float(t), df), special.stdtr(df, t)) for t in ts])


def test_t_cdf_near_zero_matches_the_closed_forms_where_scipy_does_not():
    for t in np.r_[-np.logspace(-12, -3, 19), np.logspace(-12, -3, 19)]:
        assert _close(_dist.t_cdf(float(t), 1.0), 0.5 + math.atan(t) / math.pi, 1e-15)
        assert _close(_dist.t_cdf(float(t), 2.0), 0.5 + t / (2 * math.sqrt(2 + t * t)), 1e-15)
    # scipy's own value is 3e-9 off here
    assert not _close(float(special.stdtr(1.0, -1e-8)), 0.5 + math.atan(-1e-8) / math.pi)


def test_t_cdf_vectorised_and_edges():
    t = np.array([-np.inf, -2.0, 0.0, 2.0, np.inf, np.nan])
    df = np.array([3, 3, 3, 3, 3, 3])
    out = _dist.t_cdf(t, df)
    assert isinstance(out, np.ndarray) and out.dtype == float
    np.testing.assert_allclose(out[:5], stats.t.cdf(t[:5], df[:5]), rtol=RTOL)
    assert np.isnan(out[5])
    assert _dist.t_cdf(1.5, math.inf) == pytest.approx(special.ndtr(1.5), rel=RTOL)
    assert _dist.t_sf(2.0, 5.0) == pytest.approx(special.stdtr(5.0, -2.0), rel=RTOL)


@pytest.mark.parametrize("df", DFS + HUGE_DFS)
def test_t_ppf_matches_scipy(df):
    assert not _failures([(q, _dist.t_ppf(float(q), df), special.stdtrit(df, q)) for q in QS])


def test_t_ppf_edges():
    assert _dist.t_ppf(0.5, 7.0) == 0.0
    assert _dist.t_ppf(1.0, 7.0) == math.inf and _dist.t_ppf(0.0, 7.0) == -math.inf
    assert math.isnan(_dist.t_ppf(0.3, 0.0))


# -- F -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("dfn", DFS)
def test_f_sf_matches_scipy(dfn):
    fs = np.logspace(-6, 6, 37)
    pairs = []
    for dfd in DFS:
        for f in fs:
            ref = float(special.fdtrc(dfn, dfd, f))
            if ref > 1e-290:
                pairs.append(((f, dfd), _dist.f_sf(float(f), dfn, dfd), ref))
    assert not _failures(pairs)


@pytest.mark.parametrize("dfn", DFS)
def test_f_ppf_matches_scipy(dfn):
    pairs = [((q, dfd), _dist.f_ppf(float(q), dfn, dfd), special.fdtri(dfn, dfd, q))
             for dfd in DFS for q in QS[::2]]
    assert not _failures(pairs)


def test_f_with_a_huge_denominator_df_within_scipys_own_error():
    pairs = []
    for dfn in DFS + HUGE_DFS:
        for dfd in HUGE_DFS:
            for q in QS[::3]:
                pairs.append(((q, dfn, dfd), _dist.f_ppf(float(q), dfn, dfd),
                              special.fdtri(dfn, dfd, q)))
            for f in np.logspace(-3, 3, 13):
                pairs.append(((f, dfn, dfd), _dist.f_sf(float(f), dfn, dfd),
                              special.fdtrc(dfn, dfd, f)))
    assert not _failures(pairs, rtol=5e-11)


def test_f_sf_where_scipy_is_off_matches_an_independent_form():
    # F(1, d) = T_d^2 and F(2, d) has a closed form: no incomplete beta involved
    for f in (0.5, 2.0, 5.8780160722749235, 30.0):
        d = 1e6
        two_sided_t = 2.0 * _dist.t_cdf(-math.sqrt(f), d)
        assert _close(_dist.f_sf(f, 1.0, d), two_sided_t, 1e-13)
        assert _close(_dist.f_sf(f, 2.0, d), math.exp(-d / 2 * math.log1p(2 * f / d)), 1e-13)


# -- the incomplete beta function --------------------------------------------------------------


#: Where scipy's betainc / betaincinv are off by more than 1e-12: (function, a, b, argument)
#: -> the value by mpmath at 40 digits (_dist is within 1e-15 of each; scipy's error given).
MPMATH = {
    ("betainc", 0.5, 0.5, 0.999999999): 0.99997986831543953137,  # scipy 1.1e-12
    ("betaincinv", 1e3, 1e5, 0.9): 0.01030226822449850518,  # scipy 4.2e-11
    ("betaincinv", 1e3, 1e5, 0.999): 0.010891429361850576196,  # scipy 1.3e-12
    ("betaincinv", 1e3, 1e5, 0.99999): 0.011285622954399765128,  # scipy 9.0e-12
    ("betaincinv", 1e3, 1e5, 0.999999): 0.011452265734704072971,  # scipy 9.1e-12
    ("betaincinv", 1e3, 1e5, 0.999999999): 0.011883943416300389332,  # scipy 9.9e-10
    ("betaincinv", 1e3, 1e5, 0.9999999999): 0.012012015908717534405,  # scipy 9.8e-10
    ("betaincinv", 1e5, 1e3, 1e-10): 0.98798798408679033844,  # scipy 1.2e-11
    ("betaincinv", 1e5, 1e3, 1e-9): 0.98811605658531243002,  # scipy 1.2e-11
}


@pytest.mark.parametrize("a", [0.5, 1.0, 2.5, 10.0, 50.0, 1e3, 1e5])
def test_betainc_and_its_inverse_match_scipy(a):
    xs = np.r_[np.logspace(-10, -1, 10), np.linspace(0.1, 0.9, 9), 1 - np.logspace(-1, -10, 10)]
    checks = []
    for b in [0.5, 1.0, 2.5, 10.0, 50.0, 1e3, 1e5]:
        for x in xs:
            x = float(x)
            checks.append((("betainc", a, b, x), _dist.betainc(a, b, x), special.betainc(a, b, x)))
            checks.append((("betaincc", a, b, x), _dist.betaincc(a, b, x),
                           special.betaincc(a, b, x)))
        for p in QS[::2]:
            p = float(p)
            checks.append((("betaincinv", a, b, p), _dist.betaincinv(a, b, p),
                           special.betaincinv(a, b, p)))
    for key, ours, _ in _failures(checks):
        assert key in MPMATH, (key, ours)
        assert _close(ours, MPMATH[key], 1e-15), (key, ours)


def test_betainc_edges():
    assert _dist.betainc(2.0, 3.0, 0.0) == 0.0 and _dist.betainc(2.0, 3.0, 1.0) == 1.0
    assert math.isnan(_dist.betainc(2.0, 3.0, 1.5))
    with pytest.raises(ValueError, match="positive"):
        _dist.betainc(0.0, 1.0, 0.5)


# -- ranks, binomial, BY ---------------------------------------------------------------------


def test_rankdata_matches_scipy():
    rng = np.random.default_rng(0)
    for _ in range(50):
        x = rng.integers(0, 6, size=int(rng.integers(1, 40))).astype(float)
        np.testing.assert_array_equal(_dist.rankdata(x), stats.rankdata(x))
    m = rng.integers(1, 6, size=(30, 4)).astype(float)
    m[rng.random(m.shape) < 0.2] = np.nan
    np.testing.assert_array_equal(_dist.rankdata(m, axis=0),
                                  stats.rankdata(m, axis=0, nan_policy="omit"))


def test_binom_half_pmf_matches_scipy():
    for n in (0, 1, 2, 7, 30, 200):
        ref = stats.binom.pmf(np.arange(n + 1), n, 0.5)
        np.testing.assert_allclose(_dist.binom_half_pmf(n), ref, rtol=RTOL)


def test_fdr_by_matches_scipy():
    rng = np.random.default_rng(1)
    for m in (1, 2, 5, 40):
        p = rng.random(m) ** 3
        np.testing.assert_allclose(_dist.fdr_by(p),
                                   stats.false_discovery_control(p, method="by"), rtol=RTOL)
    tied = np.array([0.01, 0.01, 0.2, 0.2, 0.9])
    np.testing.assert_allclose(_dist.fdr_by(tied),
                               stats.false_discovery_control(tied, method="by"), rtol=RTOL)


# -- the correlations --------------------------------------------------------------------------


def _pairs(seed: int):
    """Continuous, 1-5 with ties, permutations, mixed; n from 3 to 300."""
    rng = np.random.default_rng(seed)
    for trial in range(160):
        n = int(rng.integers(3, 300)) if trial % 5 else int(rng.integers(3, 12))
        kind = trial % 4
        if kind == 0:
            x = rng.normal(size=n)
            y = x + rng.normal(size=n) * rng.uniform(0.1, 3)
        elif kind == 1:
            x = rng.integers(1, 6, size=n).astype(float)
            y = np.clip(x + rng.integers(-1, 2, size=n), 1, 5).astype(float)
        elif kind == 2:
            x, y = rng.permutation(n).astype(float), rng.permutation(n).astype(float)
        else:
            x, y = rng.integers(1, 4, size=n).astype(float), rng.normal(size=n).round(1)
        if x.max() > x.min() and y.max() > y.min():
            yield x, y


def _p_close(ours: float, ref: float) -> bool:
    # below 1e-100 the p-value's relative condition number exceeds 1e4: 1e-10 there
    return _close(ours, ref, RTOL if ref > 1e-100 else 1e-10)


def test_spearman_matches_scipy():
    for x, y in _pairs(2):
        r, p = _correlation._spearman_r_p(x, y)
        ref = stats.spearmanr(x, y)
        assert _close(r, ref.statistic, 1e-14) and _p_close(p, ref.pvalue), (x, y)


def test_pearson_matches_scipy():
    for x, y in _pairs(3):
        r, p = _correlation._pearson_r_p(x, y)
        ref = stats.pearsonr(x, y)
        assert abs(r - ref.statistic) <= 1e-14 and _p_close(p, ref.pvalue), (x, y)


@pytest.mark.parametrize("cells", [4_000_000, 0])  # the table, and the inversion count
def test_kendall_tau_b_matches_scipy(cells, monkeypatch):
    monkeypatch.setattr(_correlation, "_TABLE_CELLS", cells)
    n_exact = 0
    for x, y in _pairs(4):
        tau, p = _correlation._kendall_tau_p(x, y)
        ref = stats.kendalltau(x, y)
        assert _close(tau, ref.statistic, 1e-14) and _p_close(p, ref.pvalue), (x, y)
        n_exact += len(set(x)) == x.size and len(set(y)) == y.size and x.size <= 33
    assert n_exact >= 5  # the exact distribution was exercised


def test_kendall_exact_p_past_33_items_with_one_discordant_pair():
    x = np.arange(50.0)
    y = x.copy()
    y[[10, 11]] = y[[11, 10]]
    tau, p = _correlation._kendall_tau_p(x, y)
    ref = stats.kendalltau(x, y)
    assert _close(tau, ref.statistic, 1e-14) and _close(p, ref.pvalue)


def test_confusion_counts_equal_the_pandas_table():
    rng = np.random.default_rng(5)
    j = rng.integers(1, 6, size=200).astype(float)
    c = rng.integers(1, 6, size=200).astype(float)
    j[::17] = np.nan
    counts, n, dropped = confusion_counts(j, c, categories=[1, 2, 3, 4, 5, 6])
    table = confusion_matrix(list(j), list(c), categories=[1, 2, 3, 4, 5, 6])
    np.testing.assert_array_equal(counts, table.to_numpy())
    assert (n, dropped) == (table.attrs["n_items"], table.attrs["n_dropped"]) == (188, 12)
    with pytest.raises(ValueError, match=r"judge score 7 "):
        confusion_counts(np.array([1, 7]), [1, 2], categories=[1, 2, 3])
    strings, _, _ = confusion_counts(["a", "b", None], ["b", "b", "a"], categories=["a", "b"])
    assert strings.tolist() == [[0, 1], [0, 1]]


@pytest.mark.parametrize(("a", "b", "p"), [(5.5, 5.525, 0.975), (25.5, 502.0, 0.975),
                                           (25.5, 502.0, 0.025), (2.742, 5.5, 0.9),
                                           (40.0, 3.0, 0.1)])
def test_the_inversions_start_is_on_the_quantiles_side(a, b, p):
    """NR 6.4's start (A&S 26.5.22) for a, b >= 1: near the root, not at the mirrored tail.

    The sign of the normal deviate was flipped, so the upper quantile started from the lower
    one: Newton still found the root, with about twice the incomplete-beta evaluations.
    """
    from harness.agreement._dist import _inverse_start

    x0, y0 = _inverse_start(a, b, p, 1.0 - p)
    root = _dist.betaincinv(a, b, p)
    assert x0 + y0 == pytest.approx(1.0)
    assert abs(x0 - root) < 0.25 * min(root, 1.0 - root) + 0.01
