"""Regression bars: a loss fails only when it is beyond the allowed one *and* significant
(one-sided paired bootstrap, Holm across the bars); an undetectable loss is inconclusive."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from harness.agreement import AgreementResult, holm
from harness.gate import Bar, LossTest, evaluate_regression, holm_family, loss_test

# --------------------------------------------------------------------------- Holm


def test_holm_on_a_worked_example():
    # m = 4: the sorted p-values 0.005, 0.01, 0.03, 0.04 are multiplied by 4, 3, 2, 1
    # (0.02, 0.03, 0.06, 0.04) and made non-decreasing (0.04 -> 0.06)
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5]) == pytest.approx([0.5])
    assert holm([0.3, 0.4, 0.9]) == pytest.approx([0.9, 0.9, 0.9])  # capped at 1 after x3
    out = holm([0.01, np.nan, 0.02])  # NaN: not tested, not counted in m
    assert np.isnan(out[1]) and out[[0, 2]] == pytest.approx([0.02, 0.02])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm([1.2])


def test_holm_rejects_what_the_sequential_procedure_rejects():
    rng = np.random.default_rng(7)
    for _ in range(200):
        m = int(rng.integers(1, 8))
        p = rng.uniform(0, 0.08, m) ** rng.uniform(0.5, 2)
        alpha = 0.05
        # Holm (1979): compare p_(i) with alpha / (m - i + 1), stop at the first that fails
        rejected = np.zeros(m, dtype=bool)
        for i, j in enumerate(np.argsort(p, kind="stable")):
            if p[j] > alpha / (m - i):
                break
            rejected[j] = True
        assert ((holm(p) <= alpha) == rejected).all()


def test_holm_matches_pingouin_when_it_is_installed():
    pingouin = pytest.importorskip("pingouin")
    p = np.random.default_rng(1).uniform(0, 0.2, 9)
    _, ref = pingouin.multicomp(p, method="holm")
    assert holm(p) == pytest.approx(ref, abs=1e-15)


# --------------------------------------------------------------------------- the test


def _pair(n, shift, seed=0):
    """A consensus, a baseline judge and a candidate whose errors are larger by ``shift``."""
    rng = np.random.default_rng(seed)
    y = rng.uniform(1, 5, n)
    base = y + rng.normal(0, 0.5, n)
    cand = y + rng.normal(0, 0.5, n) + np.where(rng.random(n) < 0.5, shift, -shift)
    return cand, base, y


def test_the_paired_test_of_a_linear_figure_matches_its_normal_theory():
    # the MAE loss is the mean of the paired differences d_i = |c_i - y_i| - |b_i - y_i|: its
    # bootstrap SE is sd(d)/sqrt(n) (ddof 0), its one-sided p-value about 1 - Phi(mean/se)
    cand, base, y = _pair(120, 0.15, seed=2)
    t = loss_test("mae", cand, base, y, scale=(1, 5), n_resamples=4000, seed=3)
    d = np.abs(cand - y) - np.abs(base - y)
    se = d.std() / np.sqrt(d.size)
    assert t.loss == pytest.approx(d.mean(), abs=1e-12)
    assert t.se == pytest.approx(se, rel=0.05)
    assert t.p_value == pytest.approx(stats.norm.sf(d.mean() / se), abs=0.01)
    assert t.n_items == 120 and t.alpha == pytest.approx(0.05) and t.family == 1
    # 80% power at one-sided 5%: (1.645 + 0.842) se
    assert t.detectable == pytest.approx(2.486 * t.se, rel=1e-3)
    assert t.ci[0] < t.loss < t.upper < t.ci[1] + 1e-12
    # two bars tested together: each is tested at 2.5% on the first Holm step
    t2 = loss_test("mae", cand, base, y, scale=(1, 5), n_resamples=4000, seed=3, family=2)
    assert t2.detectable == pytest.approx((1.960 + 0.842) * t2.se, rel=1e-3)
    assert t2.p_value == t.p_value and t2.upper > t.upper


def test_identical_versions_have_no_loss_and_a_tight_test():
    cand, base, y = _pair(40, 0.0)
    t = loss_test("icc", base, base, y, scale=(1, 5), n_resamples=500)
    assert t.loss == 0 and t.se == 0 and t.detectable == 0 and t.p_value == 1.0
    assert loss_test("icc", base[:2], base[:2], y[:2], scale=(1, 5), n_resamples=500) is None
    assert loss_test("icc", cand, base, y, scale=(1, 5), n_resamples=0) is None


def test_holm_family_adjusts_the_bars_together():
    def lt(p):
        return LossTest(loss=0.1, ci=(0.0, 0.2), p_value=p, se=0.05, n_items=50, alpha=0.05,
                        family=3, upper=0.19, detectable=0.12)

    tests = [lt(0.01), None, lt(0.03), lt(0.02)]
    holm_family(tests)
    assert [t.p_holm for t in tests if t is not None] == pytest.approx([0.03, 0.04, 0.04])
    # each of 0.02, 0.03, 0.04 is significant alone; over three bars none is (Holm: 0.06)
    family = [lt(0.02), lt(0.03), lt(0.04)]
    assert all(t.significant for t in family)
    holm_family(family)
    assert [t.p_holm for t in family] == pytest.approx([0.06] * 3)
    assert not any(t.significant for t in family)


# --------------------------------------------------------------------------- the outcomes


BAR = Bar("max_regression", "icc", 0.05)


def _reg(cand, base, **test):
    t = LossTest(**{"loss": round(base - cand, 12), "ci": (-0.1, 0.2), "p_value": 0.5,
                    "se": 0.02, "n_items": 50, "alpha": 0.05, "family": 1,
                    "upper": 0.1, "detectable": 0.04, **test})
    return evaluate_regression(BAR, AgreementResult("icc", cand), AgreementResult("icc", base),
                               baseline="v1", n_items=50, on="lower-bound", test=t)


def test_a_loss_beyond_the_allowed_one_fails_only_when_significant():
    r = _reg(0.60, 0.72, p_value=0.004)
    assert r.outcome == "fail" and r.checked == pytest.approx(0.12)
    assert "worse by 0.12, more than the allowed 0.05, and significant" in r.message
    r = _reg(0.60, 0.72, p_value=0.2, detectable=0.2)
    assert r.outcome == "inconclusive"
    assert "not significant (one-sided p = 0.200)" in r.message
    assert "underpowered: the smallest loss detectable here is 0.2" in r.message
    # detectable 0.2 at n = 50: a loss of 0.12 becomes detectable at 50 (0.2/0.12)^2 = 139
    assert r.more_anchors_to_decide == 139 - 50
    assert r.decide_text() == "about 89 more anchors would decide the ICC(2,1) regression " \
                              "<= 0.05 vs v1"
    # Holm decides: the raw p clears 5%, the adjusted one does not
    r = _reg(0.60, 0.72, p_value=0.03, p_holm=0.09, family=3)
    assert r.outcome == "inconclusive" and "Holm-adjusted over 3 bars 0.090" in r.message


def test_a_small_loss_passes_only_when_the_test_could_have_seen_the_allowed_one():
    r = _reg(0.70, 0.72)  # loss 0.02; a loss of 0.04 would be detected
    assert r.outcome == "pass" and "a loss of 0.05 would be detected here" in r.message
    r = _reg(0.70, 0.72, detectable=0.1, upper=0.04)  # underpowered, but bounded
    assert r.outcome == "pass" and "upper bound 0.04 is within the allowed 0.05" in r.message
    r = _reg(0.70, 0.72, detectable=0.1, upper=0.09)
    assert r.outcome == "inconclusive"
    assert "underpowered: the smallest loss detectable here is 0.1" in r.message
    assert r.more_anchors_to_decide == 200 - 50  # 50 (0.1/0.05)^2
    d = r.to_dict()
    assert d["test"]["smallest_detectable"] == 0.1 and d["more_anchors_to_decide"] == 150


def test_point_and_untestable_regressions():
    bar_args = {"baseline": "v1", "n_items": 50}
    cand, base = AgreementResult("icc", 0.60), AgreementResult("icc", 0.72)
    assert evaluate_regression(BAR, cand, base, **bar_args).outcome == "fail"
    assert evaluate_regression(BAR, base, cand, **bar_args).outcome == "pass"
    r = evaluate_regression(BAR, cand, base, on="lower-bound", **bar_args)
    assert r.outcome == "inconclusive" and "cannot be tested" in r.message
    undefined = AgreementResult("icc", None, reason="zero variance")
    assert evaluate_regression(BAR, undefined, base, **bar_args).outcome == "fail"
    assert evaluate_regression(BAR, undefined, base, on="lower-bound",
                               **bar_args).outcome == "inconclusive"


def test_the_rule_holds_on_simulated_versions():
    # a truly equal candidate at n = 400 passes; a candidate truly worse by far fails
    cand, base, y = _pair(400, 0.0, seed=11)
    t = loss_test("mae", cand, base, y, scale=(1, 5), n_resamples=2000)
    r = evaluate_regression(Bar("max_regression", "mae", 0.1), AgreementResult("mae", 0),
                            AgreementResult("mae", 0), baseline="v1", n_items=400,
                            on="lower-bound", test=t)
    assert t.detectable < 0.1 and r.outcome == "pass"
    cand, base, y = _pair(400, 0.8, seed=12)
    t = loss_test("mae", cand, base, y, scale=(1, 5), n_resamples=2000)
    mae_c, mae_b = float(np.abs(cand - y).mean()), float(np.abs(base - y).mean())
    r = evaluate_regression(Bar("max_regression", "mae", 0.1), AgreementResult("mae", mae_c),
                            AgreementResult("mae", mae_b), baseline="v1", n_items=400,
                            on="lower-bound", test=t)
    assert t.loss > 0.1 and t.p_value < 0.001 and r.outcome == "fail"
