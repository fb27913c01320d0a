"""The interval methods adopted after the coverage self-validation (benchmarks/coverage.py).

* The like-for-like judge figures (``compare_to_references``): Tukey's jackknife t interval on
  a variance-stabilising scale, which brought judge ICC, alpha, kappa, MAE and bias at 20 items
  from 89-93% coverage (percentile bootstrap) into 93-97%.
* Krippendorff's alpha among humans on a complete table (``alpha_interval_ci``): the two-way
  random-effects interval, which counts the raters as a sample (82-90% -> on target).
"""

import math

import numpy as np
import pytest
from scipy import stats

from harness.agreement import compare_to_references, icc, krippendorff_alpha
from harness.agreement._alpha_boot import alpha_interval_bootstrap, alpha_interval_ci
from harness.agreement._bootstrap import jackknife_t_interval
from harness.agreement._loo import JACKKNIFE_MAX_PAIRS


def _panel(n: int = 20, k: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = rng.normal(0.0, 1.0, n)
    humans = np.clip(np.round(3 + t[:, None] + rng.normal(0.0, 0.7, (n, k))), 1, 5)
    judge = np.clip(np.round(3.2 + 0.9 * t + rng.normal(0.0, 0.6, n)), 1, 5)
    return humans, judge


def _loo_refs(humans: np.ndarray) -> np.ndarray:
    k = humans.shape[1]
    return np.column_stack([np.delete(humans, j, axis=1).mean(axis=1) for j in range(k)])


def test_jackknife_t_of_a_mean_is_students_t():
    x = np.array([0.3, -1.2, 0.8, 2.5, 0.1, -0.4, 1.7])
    loo = (x.sum() - x) / (x.size - 1)
    lo, hi = jackknife_t_interval(x.mean(), loo, confidence=0.9)
    ref = stats.ttest_1samp(x, 0.0).confidence_interval(confidence_level=0.9)
    assert (lo, hi) == pytest.approx((ref.low, ref.high), abs=1e-12)


def test_jackknife_t_on_fisher_z_by_hand():
    loo = np.array([0.50, 0.62, 0.55, 0.58, 0.47, 0.60])
    point, n = 0.56, 6
    z = np.arctanh(loo)
    se = math.sqrt((n - 1) / n * ((z - z.mean()) ** 2).sum())
    half = stats.t.ppf(0.975, n - 1) * se
    got = jackknife_t_interval(point, loo, transform="fisher_z")
    assert got == pytest.approx((math.tanh(math.atanh(point) - half),
                                 math.tanh(math.atanh(point) + half)), abs=1e-12)
    # outside the scale's domain (a perfect correlation) or no spread: no interval
    assert jackknife_t_interval(1.0, loo, transform="fisher_z") is None
    assert jackknife_t_interval(0.5, np.full(6, 0.5), transform="fisher_z") is None


def test_like_for_like_interval_is_the_jackknife_of_the_averaged_figure():
    # Leave each item out by hand, recompute the averaged figures, and rebuild the interval.
    humans, judge = _panel()
    refs = _loo_refs(humans)
    figs = compare_to_references(judge, refs, scale=(1, 5), n_resamples=200, seed=0)
    n = judge.size
    scales = {"icc": "fisher_z", "weighted_kappa": "fisher_z", "spearman": "fisher_z",
              "kendall_tau_b": "fisher_z", "krippendorff_alpha": "fisher_z", "mae": "log",
              "bias": "identity"}
    loo = {name: [] for name in scales}
    for i in range(n):
        keep = np.arange(n) != i
        sub = compare_to_references(judge[keep], refs[keep], scale=(1, 5), n_resamples=0)
        for name in scales:
            loo[name].append(sub[name].value)
    for name, scale in scales.items():
        expected = jackknife_t_interval(figs[name].value, np.array(loo[name]), transform=scale)
        assert figs[name].ci95 == pytest.approx(expected, abs=1e-10), name
        assert figs[name].ci_method.startswith("jackknife t"), name
        assert figs[name].details["jackknife"]["n"] == n
    assert figs["icc"].ci_method == "jackknife t on Fisher z (n=20, Tukey 1958)"
    assert figs["mae"].ci_method == "jackknife t on log scale (n=20, Tukey 1958)"
    assert figs["within_one"].ci_method.startswith("Wilson")


def test_many_distinct_pairs_keep_the_percentile_bootstrap():
    rng = np.random.default_rng(4)
    n = JACKKNIFE_MAX_PAIRS + 50
    t = rng.normal(0.0, 1.0, n)
    humans = 3 + t[:, None] + rng.normal(0.0, 0.7, (n, 3))  # continuous: every pair distinct
    judge = 3 + 0.9 * t + rng.normal(0.0, 0.6, n)
    figs = compare_to_references(judge, _loo_refs(humans), scale=(1, 5), n_resamples=200)
    assert figs["icc"].ci_method.startswith("bootstrap percentile")
    assert "jackknife" not in figs["icc"].details


def test_alpha_interval_ci_is_the_two_way_random_interval_on_a_complete_table():
    humans, _ = _panel(n=30, k=4, seed=2)
    res = alpha_interval_ci(humans)
    alpha = krippendorff_alpha(humans, level="interval")
    two_way = icc(humans, form="ICC(2,1)")
    assert res.value == alpha.value
    assert res.ci95 == two_way.ci95
    assert res.ci_method == "F-test, two-way random (Shrout & Fleiss 1979)"
    # interval alpha from the two-way mean squares (the identity the docstring states)
    ms = two_way.details["mean_squares"]
    n, k = humans.shape
    r, c, e = ms["BMS"], ms["JMS"], ms["EMS"]
    by_ms = (r - c / n - (n - 1) * e / n) / (r + (k - 1) * e + (k - 1) * c / (n - 1))
    assert by_ms == pytest.approx(alpha.value, abs=1e-12)


def test_alpha_interval_ci_falls_back_to_the_item_bootstrap_with_missing_ratings():
    humans, _ = _panel(n=30, k=4, seed=2)
    humans[3, 1] = np.nan
    res = alpha_interval_ci(humans, n_resamples=300, seed=1)
    boot = alpha_interval_bootstrap(humans, n_resamples=300, seed=1)
    assert res.ci95 == boot.ci95 and res.ci_method.startswith("bootstrap percentile")


def test_an_averaged_share_gets_kishs_effective_number_of_items():
    from harness.agreement import compare_to_references
    from harness.agreement._loo import MIN_DESIGN_ITEMS, _effective_items

    # per item, the share of the 2 references the judge matches exactly: 1, 1/2, 1, 0 (x10)
    x = np.tile([3.0, 3.0, 4.0, 1.0], 10)
    refs = np.tile([[3.0, 3.0], [3.0, 4.0], [4.0, 4.0], [2.0, 3.0]], (10, 1))
    covered = ~np.isnan(refs)
    # p = 0.625, var(q) = 0.171875 (ddof 0): n_eff = 40 p (1 - p) / var = 54.5 -> 55
    assert _effective_items(x, refs, covered, "exact_agreement", (1, 5), 40) == 55
    # within one: q = 1, 1, 1, 1/2: n_eff = 40 (0.875)(0.125) / 0.046875 = 93, capped at the
    # 80 (item, reference) pairs
    assert _effective_items(x, refs, covered, "within_one", (1, 5), 40) == 80
    figs = compare_to_references(x, refs, scale=(1, 5), n_resamples=50)
    assert figs["exact_agreement"].value == pytest.approx(0.625)
    assert figs["exact_agreement"].ci_method == "Wilson score (n=55)"
    # too few items on one side to estimate the design effect: the n of one reference
    few = MIN_DESIGN_ITEMS - 1
    assert _effective_items(x[:4 * few], refs[:4 * few], covered[:4 * few], "within_one",
                            (1, 5), 4 * few) == 4 * few
    # every item matching every reference: nothing to estimate, n stays
    assert _effective_items(refs[:, 0], np.column_stack([refs[:, 0]] * 2), covered,
                            "exact_agreement", (1, 5), 40) == 40
