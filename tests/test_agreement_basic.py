"""Behaviour of icc, the correlations, percent agreement and the judge-vs-consensus errors."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from harness.agreement import (
    ICC_FORMS,
    confusion_matrix,
    icc,
    icc_all,
    kendall_tau_b,
    mae,
    mean_bias,
    pearson,
    percent_agreement,
    spearman,
)

SHROUT_FLEISS = [
    [9, 2, 5, 8],
    [6, 1, 3, 2],
    [8, 4, 6, 8],
    [7, 1, 2, 6],
    [10, 5, 6, 9],
    [6, 2, 4, 7],
]


# --------------------------------------------------------------------------- ICC


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("ICC(A,1)", "ICC(2,1)"),
        ("ICC(C,1)", "ICC(3,1)"),
        ("ICC(1)", "ICC(1,1)"),
        ("ICC(k)", "ICC(1,k)"),
        ("ICC(A,k)", "ICC(2,k)"),
        ("ICC(C,k)", "ICC(3,k)"),
        ("icc(a, 1)", "ICC(2,1)"),
        (" ICC( C , K ) ", "ICC(3,k)"),
        ("icc(2,K)", "ICC(2,k)"),
        ("ICC3k", "ICC(3,k)"),
    ],
)
def test_icc_aliases_equal_canonical(alias: str, canonical: str) -> None:
    a, c = icc(SHROUT_FLEISS, form=alias), icc(SHROUT_FLEISS, form=canonical)
    assert a.value == c.value
    assert a.ci95 == c.ci95
    assert a.details["form"] == canonical


def test_icc_unknown_form_lists_valid_forms() -> None:
    with pytest.raises(ValueError, match=r"ICC\(1,1\).*ICC\(3,k\)"):
        icc(SHROUT_FLEISS, form="ICC(4,1)")


def test_icc_bad_arguments() -> None:
    with pytest.raises(ValueError, match="missing"):
        icc(SHROUT_FLEISS, missing="pairwise")
    with pytest.raises(ValueError, match="confidence"):
        icc(SHROUT_FLEISS, confidence=95)


def test_icc_all_equals_six_icc_calls() -> None:
    rng = np.random.default_rng(7)
    m = rng.integers(1, 6, size=(40, 4)).astype(float)
    m[[3, 11], [0, 2]] = np.nan
    everything = icc_all(m)
    assert tuple(everything) == ICC_FORMS
    for form in ICC_FORMS:
        single = icc(m, form=form)
        assert everything[form] == single


def test_icc_details() -> None:
    r = icc(SHROUT_FLEISS, form="ICC(2,1)")
    d = r.details
    assert d["form"] == "ICC(2,1)"
    assert d["mcgraw_wong"] == "ICC(A,1)"
    assert set(d["mean_squares"]) == {"BMS", "JMS", "EMS", "WMS"}
    assert d["df1"] == 5 and d["df2"] == 15
    assert d["p_value"] == pytest.approx(stats.f.sf(d["F"], 5, 15))
    assert d["n_dropped"] == 0
    assert r.ci_method == "F-test"
    assert r.n_items == 6 and r.n_raters == 4
    r.to_dict()  # JSON-ready


def test_icc_listwise_deletion() -> None:
    m = [row[:] for row in SHROUT_FLEISS] + [[None, 3, 4, 5], [1, None, None, 2]]
    r = icc(m, form="ICC(3,1)")
    assert r.details["n_dropped"] == 2
    assert r.n_items == 6
    assert r.value == pytest.approx(icc(SHROUT_FLEISS, form="ICC(3,1)").value, abs=1e-12)
    with pytest.raises(ValueError, match="2 of 8 items"):
        icc(m, missing="raise")


def test_icc_accepts_numpy_and_pandas() -> None:
    ref = icc(SHROUT_FLEISS).value
    assert icc(np.array(SHROUT_FLEISS)).value == pytest.approx(ref)
    assert icc(pd.DataFrame(SHROUT_FLEISS, columns=list("abcd"))).value == pytest.approx(ref)


@pytest.mark.parametrize(
    ("matrix", "reason"),
    [
        ([[1], [2], [3], [4]], "fewer than 2 raters"),
        ([[1, 2], [3, 4]], "fewer than 3 complete items"),
        ([[2, 2, 2]] * 5, "zero variance"),
        ([[0.1, 0.1]] * 7, "zero variance"),
        ([[None, None], [None, None], [None, None]], "listwise deletion dropped all 3"),
        ([[1, None], [None, 2], [3, None], [4, 4]], "fewer than 3 complete items"),
        (np.empty((0, 3)), "fewer than 3 complete items"),
    ],
)
def test_icc_degenerate_inputs_are_undefined(matrix, reason: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        results = icc_all(matrix)
        single = icc(matrix, form="ICC(3,k)")
    for r in [*results.values(), single]:
        assert r.value is None
        assert reason in r.reason
        assert r.ci95 is None
        # printed as "undefined (reason)": a reason with its own parentheses nested them
        assert "(" not in r.reason, r.reason


def test_icc_constant_items_keeps_value_drops_ci() -> None:
    # every rater agrees perfectly on each item: ICC = 1, F infinite, no F-test interval
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        results = icc_all([[1, 1, 1], [2, 2, 2], [4, 4, 4], [5, 5, 5]])
    for r in results.values():
        assert r.value == 1.0
        assert r.ci95 is None
        assert "ci_note" in r.details


def test_icc_no_between_item_variance() -> None:
    # only the raters differ: MSR = MSE = 0; consistency ICCs are 0/0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        results = icc_all([[1, 2, 3]] * 5)
    assert results["ICC(3,1)"].value is None and "MSR = 0" in results["ICC(3,1)"].reason
    assert results["ICC(3,k)"].value is None
    assert results["ICC(2,1)"].value == 0.0
    assert results["ICC(2,1)"].ci95 is None
    assert results["ICC(1,1)"].value == pytest.approx(-0.5)
    assert all(r.value is None or math.isfinite(r.value) for r in results.values())


def test_icc_infinite_rating_rejected() -> None:
    with pytest.raises(ValueError, match="finite"):
        icc([[1, 2], [3, math.inf], [4, 5]])


def _slow_icc(m: np.ndarray, confidence: float = 0.95) -> dict[str, tuple[float, float, float]]:
    """Textbook two-way ANOVA with explicit loops, then Shrout & Fleiss / McGraw & Wong."""
    n, k = m.shape
    grand = sum(m[i, j] for i in range(n) for j in range(k)) / (n * k)
    row_means = [sum(m[i, j] for j in range(k)) / k for i in range(n)]
    col_means = [sum(m[i, j] for i in range(n)) / n for j in range(k)]
    ss_total = sum((m[i, j] - grand) ** 2 for i in range(n) for j in range(k))
    ss_rows = k * sum((rm - grand) ** 2 for rm in row_means)
    ss_cols = n * sum((cm - grand) ** 2 for cm in col_means)
    ss_within = sum((m[i, j] - row_means[i]) ** 2 for i in range(n) for j in range(k))
    ss_err = ss_total - ss_rows - ss_cols
    msr, msc = ss_rows / (n - 1), ss_cols / (k - 1)
    mse, msw = ss_err / ((n - 1) * (k - 1)), ss_within / (n * (k - 1))
    q = 1 - (1 - confidence) / 2
    out = {}
    # one-way and consistency forms: F-test limits
    for form, num, den_w, f, df2 in [
        ("1", msr - msw, msw, msr / msw, n * (k - 1)),
        ("3", msr - mse, mse, msr / mse, (n - 1) * (k - 1)),
    ]:
        fl = f / stats.f.ppf(q, n - 1, df2)
        fu = f * stats.f.ppf(q, df2, n - 1)
        out[f"ICC({form},1)"] = (
            num / (msr + (k - 1) * den_w),
            (fl - 1) / (fl + k - 1),
            (fu - 1) / (fu + k - 1),
        )
        out[f"ICC({form},k)"] = (num / msr, 1 - 1 / fl, 1 - 1 / fu)
    # absolute agreement: McGraw & Wong (1996) Table 7, Satterthwaite df
    rho = (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n)
    a = k * rho / (n * (1 - rho))
    b = 1 + k * rho * (n - 1) / (n * (1 - rho))
    v = (a * msc + b * mse) ** 2 / ((a * msc) ** 2 / (k - 1) + (b * mse) ** 2 / ((n - 1) * (k - 1)))
    fs = stats.f.ppf(q, n - 1, v)
    fs2 = stats.f.ppf(q, v, n - 1)
    lo = n * (msr - fs * mse) / (fs * (k * msc + (k * n - k - n) * mse) + n * msr)
    hi = n * (fs2 * msr - mse) / (k * msc + (k * n - k - n) * mse + n * fs2 * msr)
    out["ICC(2,1)"] = (rho, lo, hi)
    out["ICC(2,k)"] = (
        (msr - mse) / (msr + (msc - mse) / n),
        k * lo / (1 + (k - 1) * lo),
        k * hi / (1 + (k - 1) * hi),
    )
    return out


@pytest.mark.parametrize(("n", "k", "seed"), [(30, 3, 1), (12, 6, 2), (200, 2, 3)])
def test_icc_matches_slow_loop_anova(n: int, k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    item = rng.normal(0, 1.0, size=(n, 1))
    rater = rng.normal(0, 0.5, size=(1, k))
    m = np.clip(np.round(3 + item + rater + rng.normal(0, 0.7, size=(n, k))), 1, 5)
    slow = _slow_icc(m)
    fast = icc_all(m)
    for form in ICC_FORMS:
        value, lo, hi = slow[form]
        assert fast[form].value == pytest.approx(value, abs=1e-10), form
        assert fast[form].ci95 == pytest.approx((lo, hi), abs=1e-8), form


def test_icc_confidence_level() -> None:
    r90 = icc(SHROUT_FLEISS, form="ICC(3,1)", confidence=0.90)
    r95 = icc(SHROUT_FLEISS, form="ICC(3,1)")
    assert r90.value == r95.value
    assert r95.ci95[0] < r90.ci95[0] < r90.value < r90.ci95[1] < r95.ci95[1]


# -------------------------------------------------------------------- correlations

TUNA_X = [44.4, 45.9, 41.9, 53.3, 44.7, 44.1, 50.7, 45.2, 60.1]
TUNA_Y = [2.6, 3.1, 2.5, 5.0, 3.6, 4.0, 5.2, 2.8, 3.8]


def test_pearson_ci_matches_fisher_formula() -> None:
    r = pearson(TUNA_X, TUNA_Y)
    n = len(TUNA_X)
    z = stats.norm.ppf(0.975)
    lo = math.tanh(math.atanh(r.value) - z / math.sqrt(n - 3))
    hi = math.tanh(math.atanh(r.value) + z / math.sqrt(n - 3))
    assert r.ci95 == pytest.approx((lo, hi), abs=1e-12)
    assert r.ci_method == "Fisher z"
    assert r.details["p_value"] == pytest.approx(stats.pearsonr(TUNA_X, TUNA_Y).pvalue)
    r90 = pearson(TUNA_X, TUNA_Y, confidence=0.9)
    assert r.ci95[0] < r90.ci95[0] < r90.ci95[1] < r.ci95[1]


def test_rank_correlation_cis() -> None:
    n = len(TUNA_X)
    z = stats.norm.ppf(0.975)
    s = spearman(TUNA_X, TUNA_Y)
    se = math.sqrt(1.06 / (n - 3))
    assert s.ci95 == pytest.approx(
        (math.tanh(math.atanh(0.6) - z * se), math.tanh(math.atanh(0.6) + z * se))
    )
    assert s.ci_method == "Fisher z (Fieller 1957)"
    t = kendall_tau_b(TUNA_X, TUNA_Y)
    se = math.sqrt(0.437 / (n - 4))
    zt = math.atanh(t.value)
    assert t.ci95 == pytest.approx((math.tanh(zt - z * se), math.tanh(zt + z * se)))


def test_correlations_pairwise_deletion() -> None:
    x = [*TUNA_X, None, 50.0]
    y = [*TUNA_Y, 3.0, float("nan")]
    for func in (spearman, kendall_tau_b, pearson):
        full, partial = func(TUNA_X, TUNA_Y), func(x, y)
        assert partial.value == pytest.approx(full.value)
        assert partial.details["n_dropped"] == 2
        assert partial.n_items == len(TUNA_X)


@pytest.mark.parametrize("func", [spearman, kendall_tau_b, pearson])
def test_correlations_undefined(func) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        const_b = func([1, 2, 3, 4], [2, 2, 2, 2])
        const_both = func([1, 1, 1], [2, 2, 2])
        too_few = func([1, 2, None], [3, 4, 5])
    assert const_b.value is None and "rater b is constant" in const_b.reason
    assert const_both.value is None and "a and b" in const_both.reason
    assert too_few.value is None and "fewer than 3" in too_few.reason


def test_correlation_perfect_and_small_n() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        perfect = pearson([1, 2, 3, 4, 5], [2, 4, 6, 8, 10])
        three = spearman([1, 2, 3], [1, 3, 2])
    assert perfect.value == pytest.approx(1.0)
    assert perfect.ci95 == pytest.approx((1.0, 1.0))
    assert three.value == pytest.approx(0.5)
    assert three.ci95 is None and "ci_note" in three.details


def test_spearman_ties_option() -> None:
    assert spearman([1, 2, 2, 3], [1, 3, 2, 4], ties="average").value == pytest.approx(
        stats.spearmanr([1, 2, 2, 3], [1, 3, 2, 4]).statistic
    )
    with pytest.raises(ValueError, match="ties"):
        spearman([1, 2, 3], [1, 2, 3], ties="min")


# --------------------------------------------------------------- percent agreement


def test_percent_agreement_two_raters_tolerance() -> None:
    m = [[1, 1], [2, 3], [3, 5], [4, None], [5, 4]]
    assert percent_agreement(m).value == pytest.approx(1 / 4)
    assert percent_agreement(m, tolerance=1).value == pytest.approx(3 / 4)
    assert percent_agreement(m, tolerance=2).value == pytest.approx(1.0)
    r = percent_agreement(m)
    assert r.n_items == 4 and r.details["n_excluded"] == 1
    # with two raters both multi-rater rules agree
    assert percent_agreement(m, multi_rater="pairwise").value == r.value


def test_percent_agreement_pairwise_vs_all_raters_by_hand() -> None:
    m = [
        [1, 1, 1],  # all agree: all_raters 1, pairwise 3/3
        [1, 1, 2],  # one pair of 3 agrees: 0, 1/3
        [1, 2, 3],  # none: 0, 0
        [2, None, 2],  # 2 ratings, agree: 1, 1
        [None, 4, None],  # 1 rating: excluded
    ]
    allr = percent_agreement(m, multi_rater="all_raters")
    pair = percent_agreement(m, multi_rater="pairwise")
    assert allr.value == pytest.approx(2 / 4)
    assert pair.value == pytest.approx((1 + 1 / 3 + 0 + 1) / 4)
    assert allr.n_items == pair.n_items == 4
    # within one point: all_raters -> items 1, 2, 4; pairwise -> 1, 1, 2/3, 1
    assert percent_agreement(m, tolerance=1).value == pytest.approx(3 / 4)
    assert percent_agreement(m, tolerance=1, multi_rater="pairwise").value == pytest.approx(
        (1 + 1 + 2 / 3 + 1) / 4
    )
    assert percent_agreement(m, missing="units_with_at_least_2_ratings").value == allr.value


def test_percent_agreement_pairwise_matches_loop() -> None:
    rng = np.random.default_rng(11)
    m = rng.integers(1, 5, size=(300, 6)).astype(float)
    m[rng.random(m.shape) < 0.25] = np.nan
    for tol in (0, 1):
        shares = []
        for row in m:
            vals = row[~np.isnan(row)]
            r = len(vals)
            if r < 2:
                continue
            agree = sum(abs(vals[i] - vals[j]) <= tol for i in range(r) for j in range(r) if i != j)
            shares.append(agree / (r * (r - 1)))
        got = percent_agreement(m, tolerance=tol, multi_rater="pairwise")
        assert got.value == pytest.approx(np.mean(shares), abs=1e-12)
        assert got.n_items == len(shares)


def test_percent_agreement_undefined_and_bad_args() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = percent_agreement([[1, None, None], [None, None, 2], [None, None, None]])
    assert r.value is None and "2 or more ratings" in r.reason
    with pytest.raises(ValueError, match="multi_rater"):
        percent_agreement([[1, 2]], multi_rater="majority")
    with pytest.raises(ValueError, match="missing"):
        percent_agreement([[1, 2]], missing="listwise")
    with pytest.raises(ValueError, match="tolerance"):
        percent_agreement([[1, 2]], tolerance=-1)


# ------------------------------------------------------------------ judge vs consensus


def test_mae_and_bias_signs() -> None:
    judge = [5, 4, 3, None, 2]
    consensus = [4, 4, 1, 3, 3]
    m, b = mae(judge, consensus), mean_bias(judge, consensus)
    assert m.value == pytest.approx((1 + 0 + 2 + 1) / 4)
    assert b.value == pytest.approx((1 + 0 + 2 - 1) / 4)  # judge higher: positive
    assert mean_bias(consensus, judge).value == pytest.approx(-b.value)
    assert mae(consensus, judge).value == m.value
    assert m.n_items == b.n_items == 4
    assert m.details["n_dropped"] == b.details["n_dropped"] == 1


def test_errors_undefined_without_pairs() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for func in (mae, mean_bias):
            r = func([1, None], [None, 2])
            assert r.value is None and r.reason


def test_confusion_matrix() -> None:
    table = confusion_matrix([1, 2, 2, 3, None], [1, 2, 3, 3, 2], categories=[1, 2, 3, 4])
    assert list(table.index) == [1, 2, 3, 4] and list(table.columns) == [1, 2, 3, 4]
    assert table.index.name == "judge" and table.columns.name == "consensus"
    expected = np.zeros((4, 4), dtype=int)
    expected[0, 0] = expected[1, 1] = expected[1, 2] = expected[2, 2] = 1
    np.testing.assert_array_equal(table.to_numpy(), expected)
    assert table.loc[4].sum() == 0 and table[4].sum() == 0  # unused category kept
    assert table.attrs["n_items"] == 4 and table.attrs["n_dropped"] == 1
    # float scores match integer categories
    assert confusion_matrix([1.0, 2.0], [2.0, 2.0], [1, 2]).loc[1, 2] == 1


def test_confusion_matrix_invalid_value_named() -> None:
    with pytest.raises(ValueError, match=r"judge score 7"):
        confusion_matrix([1, 7], [1, 2], categories=[1, 2, 3])
    with pytest.raises(ValueError, match=r"consensus score 0"):
        confusion_matrix([1, 2], [1, 0], categories=[1, 2, 3])
    with pytest.raises(ValueError, match="duplicates"):
        confusion_matrix([1], [1], categories=[1, 1, 2])


def test_kendall_on_many_distinct_values_counts_joint_ties_sparsely() -> None:
    # 100,000 continuous pairs (a 10^5 x 10^5 grid of distinct values) with some cells tied
    # in both: the joint ties were counted on a dense n^2 vector (80 GB here).
    rng = np.random.default_rng(3)
    x = rng.normal(size=100_000)
    y = x + rng.normal(size=x.size)
    x[:50], y[:50] = x[50:100], y[50:100]  # 50 pairs tied in both x and y
    got = kendall_tau_b(x, y)
    ref = stats.kendalltau(x, y)
    assert got.value == pytest.approx(ref.statistic, rel=1e-12)
    assert got.details["p_value"] == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-300)
