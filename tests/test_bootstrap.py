"""Bootstrap CIs: the generic scipy path and the fast multinomial kernels."""

import warnings

import numpy as np
import pytest

from harness.agreement import (
    PAIRED_FIGURES,
    bootstrap_ci,
    compare_to_reference,
    icc,
    krippendorff_alpha,
    spearman,
)
from harness.agreement._alpha_boot import (
    alpha_interval_bootstrap,
    unit_coincidences,
    weighted_alpha_interval,
)
from harness.agreement._paired import round_to_scale, weighted_figures


def _judge_and_consensus(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, 6, size=n)
    humans = np.clip(truth[:, None] + rng.integers(-1, 2, size=(n, 4)), 1, 5)
    consensus = humans.mean(axis=1)
    judge = np.clip(truth + rng.integers(-1, 2, size=n), 1, 5).astype(float)
    return judge, consensus


def test_kernels_with_unit_weights_reproduce_the_point_estimates():
    judge, consensus = _judge_and_consensus(300, seed=3)
    points = compare_to_reference(judge, consensus, scale=(1, 5), n_resamples=0)
    kernels = weighted_figures(judge, consensus, np.ones((1, judge.size)), scale=(1, 5))
    assert set(kernels) == set(PAIRED_FIGURES)
    for name in PAIRED_FIGURES:
        assert kernels[name][0] == pytest.approx(points[name].value, abs=1e-9), name


def test_kernels_with_integer_weights_equal_the_expanded_sample():
    judge, consensus = _judge_and_consensus(60, seed=5)
    rng = np.random.default_rng(9)
    counts = rng.integers(0, 4, size=judge.size).astype(float)
    counts[:3] = [1, 2, 3]  # keep a few items for sure
    expanded = np.repeat(np.arange(judge.size), counts.astype(int))
    points = compare_to_reference(judge[expanded], consensus[expanded], scale=(1, 5),
                                  n_resamples=0)
    kernels = weighted_figures(judge, consensus, counts[None, :], scale=(1, 5))
    for name in PAIRED_FIGURES:
        assert kernels[name][0] == pytest.approx(points[name].value, abs=1e-9), name


def test_fast_paired_cis_agree_with_the_generic_scipy_bootstrap():
    judge, consensus = _judge_and_consensus(150, seed=11)
    fast = compare_to_reference(judge, consensus, scale=(1, 5), n_resamples=2000, seed=1)
    slow = bootstrap_ci(spearman, judge, consensus, n_resamples=2000, seed=2)
    assert fast["spearman"].value == pytest.approx(slow.value)
    # Different random draws: the two intervals agree to Monte-Carlo error.
    assert fast["spearman"].ci95 == pytest.approx(slow.ci95, abs=0.02)
    slow_icc = bootstrap_ci(icc, np.column_stack([judge, consensus]), n_resamples=2000, seed=3,
                            form="ICC(2,1)")
    assert fast["icc"].ci95 == pytest.approx(slow_icc.ci95, abs=0.02)


def test_paired_cis_are_seeded_and_bracket_the_estimate():
    judge, consensus = _judge_and_consensus(200, seed=1)
    a = compare_to_reference(judge, consensus, scale=(1, 5), n_resamples=300, seed=7)
    b = compare_to_reference(judge, consensus, scale=(1, 5), n_resamples=300, seed=7)
    c = compare_to_reference(judge, consensus, scale=(1, 5), n_resamples=300, seed=8)
    for name in PAIRED_FIGURES:
        assert a[name].ci95 == b[name].ci95
        lo, hi = a[name].ci95
        assert lo <= a[name].value <= hi, name
    assert any(a[name].ci95 != c[name].ci95 for name in PAIRED_FIGURES)


def test_constant_judge_gives_undefined_rank_figures_not_nan():
    _, consensus = _judge_and_consensus(50, seed=2)
    const = np.full(consensus.size, 3.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figs = compare_to_reference(const, consensus, scale=(1, 5), n_resamples=100)
    assert figs["spearman"].value is None and figs["spearman"].reason
    assert figs["mae"].defined and figs["mae"].ci95 is not None


def test_missing_pairs_are_dropped_and_counted():
    judge, consensus = _judge_and_consensus(40, seed=4)
    judge[[0, 5]] = np.nan
    figs = compare_to_reference(judge, consensus, scale=(1, 5), n_resamples=0)
    assert figs["mae"].n_items == 38
    assert figs["mae"].details["n_pairs_dropped"] == 2


def test_round_to_scale_rounds_halves_up_and_clips():
    vals = np.array([0.2, 1.5, 2.49, 3.5, 4.5, 5.7])
    assert round_to_scale(vals, (1, 5)).tolist() == [1.0, 2.0, 2.0, 4.0, 5.0, 5.0]


def test_alpha_kernel_matches_krippendorff_alpha_with_missing_data():
    rng = np.random.default_rng(0)
    m = rng.integers(1, 6, size=(80, 5)).astype(float)
    m[rng.random(m.shape) < 0.3] = np.nan
    contrib, values = unit_coincidences(m)
    got = weighted_alpha_interval(contrib, values, np.ones((1, m.shape[0])))[0]
    assert got == pytest.approx(krippendorff_alpha(m, level="interval").value, abs=1e-12)
    counts = rng.integers(0, 3, size=m.shape[0])
    expanded = m[np.repeat(np.arange(m.shape[0]), counts)]
    got_w = weighted_alpha_interval(contrib, values, counts[None, :].astype(float))[0]
    assert got_w == pytest.approx(krippendorff_alpha(expanded, level="interval").value,
                                  abs=1e-12)


def test_alpha_bootstrap_close_to_generic():
    rng = np.random.default_rng(1)
    truth = rng.integers(1, 6, size=120)
    m = np.clip(truth[:, None] + rng.integers(-1, 2, size=(120, 4)), 1, 5).astype(float)
    fast = alpha_interval_bootstrap(m, n_resamples=2000, seed=0)
    slow = bootstrap_ci(krippendorff_alpha, m, n_resamples=2000, seed=1, level="interval")
    assert fast.value == pytest.approx(slow.value)
    assert fast.ci95 == pytest.approx(slow.ci95, abs=0.02)


def test_generic_bootstrap_reports_undefined_resamples():
    # Two distinct values only: many resamples have zero variance in one rater.
    a = [1, 1, 1, 1, 2]
    b = [1, 2, 1, 2, 2]
    res = bootstrap_ci(spearman, a, b, n_resamples=200, seed=0)
    assert res.defined
    assert res.ci95 is None
    assert res.details["bootstrap"]["n_undefined"] > 0
    assert "undefined" in res.details["bootstrap"]["reason"]


def test_generic_bootstrap_methods_and_errors():
    rng = np.random.default_rng(2)
    m = rng.integers(1, 6, size=(40, 3)).astype(float) + np.arange(40)[:, None] % 3
    for method in ("percentile", "basic", "bca"):
        res = bootstrap_ci(icc, m, n_resamples=200, seed=0, method=method, form="ICC(3,1)")
        assert res.ci95 is not None and res.ci_method.startswith(f"bootstrap {method}")
    with pytest.raises(ValueError, match="unknown bootstrap method"):
        bootstrap_ci(icc, m, method="studentized")


def test_resamples_are_capped():
    from harness.agreement._bootstrap import MAX_RESAMPLES, resample_weights
    from harness.reports import ReportSettings

    a = [1, 2, 3, 4, 5, 3, 2, 4, 5, 1]
    with pytest.raises(ValueError, match="n_resamples must be an integer from 1 to 100,000"):
        bootstrap_ci(spearman, a, a, n_resamples=MAX_RESAMPLES + 1)
    with pytest.raises(ValueError, match="from 0 to 100,000"):
        resample_weights(np.ones(3), 100_000_000, 0)
    with pytest.raises(ValueError, match="n_resamples"):
        ReportSettings(n_resamples=100_000_000)
    for bad in ({"confidence": float("nan")}, {"spread_threshold": float("inf")},
                {"spread_threshold": -1.0}):
        with pytest.raises(ValueError):
            ReportSettings(**bad)
    assert resample_weights(np.ones(3), 2, 0).shape == (2, 3)
