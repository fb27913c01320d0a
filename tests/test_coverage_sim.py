"""The self-validation simulator (benchmarks/coverage.py): its true values are right.

Each truth the coverage table is scored against (closed forms, or one-dimensional normal
integrals) is checked against the estimate on one very large simulated data set with a
fixed seed, within a few standard errors.
"""

import importlib.util
import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from harness.agreement import compare_to_reference, compare_to_references, icc

# Loaded under its own name: "coverage" is also the coverage.py package.
_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "coverage.py"
_SPEC = importlib.util.spec_from_file_location("judgecal_bench_coverage", _PATH)
cov = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = cov
_SPEC.loader.exec_module(cov)


def test_continuous_human_truth_is_the_closed_form():
    m = replace(cov.Model(), ordinal=False)
    t = cov.human_truth(m, 3)
    total = m.sigma_t**2 + m.sigma_b**2 + m.sigma_e**2
    rho2, rho3 = m.sigma_t**2 / total, m.sigma_t**2 / (m.sigma_t**2 + m.sigma_e**2)
    assert t["ICC(2,1)"] == pytest.approx(rho2, abs=1e-9)
    assert t["ICC(3,1)"] == pytest.approx(rho3, abs=1e-9)
    assert t["ICC(2,k)"] == pytest.approx(3 * rho2 / (1 + 2 * rho2), abs=1e-9)
    assert t["alpha"] == t["ICC(1,1)"] == t["ICC(2,1)"]


@pytest.mark.parametrize("ordinal", [False, True])
def test_human_truth_matches_a_large_simulation(ordinal):
    # Many raters, so the estimate is of the population (raters random), not of one panel.
    m = replace(cov.Model(), ordinal=ordinal)
    sim = cov.simulate(m, 4000, 100, np.random.default_rng(7))
    truth = cov.human_truth(m, 100)
    for form in ("ICC(1,1)", "ICC(2,1)", "ICC(3,1)"):
        assert icc(sim.humans, form=form).value == pytest.approx(truth[form], abs=0.015), form


@pytest.mark.parametrize("ordinal", [False, True])
def test_judge_truth_matches_a_large_simulation(ordinal):
    # The panel is fixed (the judge figures are conditional on the raters drawn).
    m = replace(cov.Model(), ordinal=ordinal)
    biases = np.array([-0.4, 0.1, 0.5])
    rng = np.random.default_rng(11)
    n = 200_000
    t = rng.normal(0.0, m.sigma_t, n)
    x = m.center + t[:, None] + biases + rng.normal(0.0, m.sigma_e, (n, 3))
    j = m.center + m.lam * t + m.offset + rng.normal(0.0, m.sigma_u, n)
    if ordinal:
        x, j = cov.round_to_scale(x, cov.SCALE), cov.round_to_scale(j, cov.SCALE)
    est = compare_to_reference(j, x.mean(axis=1), scale=cov.SCALE, n_resamples=0)
    truth = cov.judge_truth(m, biases)
    for name in cov.JUDGE_FIGURES:
        assert est[name].value == pytest.approx(truth[name], abs=0.006), name


@pytest.mark.parametrize("ordinal", [False, True])
def test_like_for_like_judge_truth_matches_a_large_simulation(ordinal):
    # The report's figures: the judge against each leave-one-out consensus, averaged over the
    # k choices. Another seed than the full-consensus check; the panel is fixed.
    m = replace(cov.Model(), ordinal=ordinal)
    biases = np.array([-0.4, 0.1, 0.5])
    sim = cov.simulate(m, 200_000, 3, np.random.default_rng(23), biases)
    est = compare_to_references(sim.judge, cov.loo_references(sim.humans), scale=cov.SCALE,
                                n_resamples=0)
    truth = cov.judge_truth_loo(m, biases)
    for name in cov.JUDGE_FIGURES:
        assert est[name].value == pytest.approx(truth[name], abs=0.006), name
    # The leave-one-out reference is noisier: the like-for-like truth is the lower one.
    full = cov.judge_truth(m, biases)
    assert truth["icc"] < full["icc"] and truth["spearman"] < full["spearman"]
    assert truth["mae"] > full["mae"]


def test_continuous_rank_truths_are_the_bivariate_normal_forms():
    m = replace(cov.Model(), ordinal=False)
    truth = cov.judge_truth(m, np.zeros(5))
    r = m.lam / math.sqrt((m.lam**2 + m.sigma_u**2) * (1 + m.sigma_e**2 / 5))
    assert truth["spearman"] == pytest.approx(6 / math.pi * math.asin(r / 2))
    assert truth["kendall_tau_b"] == pytest.approx(2 / math.pi * math.asin(r))
    assert truth["bias"] == pytest.approx(m.offset)


def test_a_replication_is_seeded():
    m = cov.Model()
    a = cov.simulate(m, 20, 3, np.random.default_rng(3))
    b = cov.simulate(m, 20, 3, np.random.default_rng(3))
    assert np.array_equal(a.humans, b.humans) and np.array_equal(a.judge, b.judge)
    assert set(np.unique(a.humans)) <= {1.0, 2.0, 3.0, 4.0, 5.0}


def test_agreement_shares_have_an_interval_even_when_every_item_agrees():
    # 20 items, all within one point: the percentile bootstrap of the share is [1, 1], which
    # misses a true within-one agreement of 0.95 whenever the sample happens to be perfect
    # (coverage 59-73% at n = 20 in benchmarks/coverage.py). A share of items is a binomial
    # proportion; the Wilson score interval gives [0.839, 1] here.
    judge = np.array([1, 2, 3, 4, 5] * 4, dtype=float)
    consensus = judge + np.array([0.0, 0.7, -0.7, 0.3] * 5)
    figs = compare_to_reference(judge, consensus, scale=(1, 5), n_resamples=1000)
    lo, hi = figs["within_one"].ci95
    assert figs["within_one"].value == 1.0
    assert lo == pytest.approx(0.8389, abs=1e-4) and hi == 1.0
    assert figs["within_one"].ci_method.startswith("Wilson")
    # exact agreement (rounded): 5 of 20 items differ after rounding (0.7 -> 1 point)
    share = figs["exact_agreement"]
    n, z = 20, 1.959963984540054
    p = share.value
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    assert share.ci95 == pytest.approx((centre - half, centre + half))


@pytest.mark.parametrize("ordinal", [False, True])
def test_alt_test_truth_is_the_gap_the_alt_test_estimates(ordinal):
    # The truth is advantage_gaps on a very large data set; on any one data set it must be
    # p_judge - p_rater of harness.agreement.alt_test, rater by rater.
    from harness.agreement import alt_test

    m = replace(cov.Model(), ordinal=ordinal)
    sim = cov.simulate(m, 60, 4, np.random.default_rng(2))
    res = alt_test(sim.humans, sim.judge, epsilon=0.2)
    gaps = [t.p_judge - t.p_rater for t in res.per_rater]
    assert cov.advantage_gaps(sim) == pytest.approx(gaps, abs=1e-12)


def test_the_worse_alt_test_judge_is_worse_by_more_than_epsilon():
    m = replace(cov.Model(), **cov.ALT_JUDGES["worse"])
    truth = cov.alt_test_truth(m, np.array([-0.3, 0.0, 0.3]))
    assert truth["truth"] == "worse" and max(truth["gaps"]) < -cov.ALT_EPSILON
    better = replace(cov.Model(), **cov.ALT_JUDGES["better"])
    assert cov.alt_test_truth(better, np.array([-0.3, 0.0, 0.3]))["truth"] == "better"
