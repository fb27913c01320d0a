"""Cohen's and Fleiss' kappa, Gwet's AC1/AC2 and Krippendorff's alpha.

The reference cases of ../shared/reference/agreement_cases.json for these five statistics run
through the private modules directly; the other tests check behaviour against independent
hand computations (plain Python loops over the definitions).
"""

from __future__ import annotations

import itertools
import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.agreement import _kappa, _krippendorff
from harness.agreement._kappa import cohen_kappa, fleiss_kappa, gwet_ac1, gwet_ac2
from harness.agreement._krippendorff import krippendorff_alpha

CASES_FILE = (
    Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "agreement_cases.json"
)
FUNCS = {
    "cohen_kappa": _kappa.cohen_kappa,
    "fleiss_kappa": _kappa.fleiss_kappa,
    "gwet_ac1": _kappa.gwet_ac1,
    "gwet_ac2": _kappa.gwet_ac2,
    "krippendorff_alpha": _krippendorff.krippendorff_alpha,
}


def _cases() -> list[dict[str, Any]]:
    with CASES_FILE.open(encoding="utf-8") as fh:
        return [c for c in json.load(fh)["cases"] if c["statistic"] in FUNCS]


CASES = _cases()
BY_ID = {c["id"]: c for c in CASES}


def _run(case: dict[str, Any]):
    func, data, params = FUNCS[case["statistic"]], case["data"], case["params"]
    if case["statistic"] == "cohen_kappa":
        return func(data[0], data[1], **params)
    if len(data) == 2 and len(data[0]) > 2:  # two-rater form [a, b] -> items x raters
        data = [list(row) for row in zip(*data, strict=True)]
    return func(data, **params)


def test_case_count() -> None:
    assert len(CASES) == 19


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_reference_case(case: dict[str, Any]) -> None:
    res = _run(case)
    assert res.value is not None, res.reason
    assert res.statistic == case["statistic"]
    for key, tol in case["tolerance"].items():
        got = res.value if key == "value" else res.ci95
        assert abs(got - case["expected"][key]) <= tol, (key, got, case["expected"][key])
    published = case.get("published")
    if published:
        assert abs(res.value - published["value"]) <= published["tolerance"]


# --------------------------------------------------------------------------------------
# Cohen's kappa
# --------------------------------------------------------------------------------------


def _expand(table: list[list[int]], cats: list[Any]) -> tuple[list[Any], list[Any]]:
    a, b = [], []
    for i, row in enumerate(table):
        for j, count in enumerate(row):
            a += [cats[i]] * count
            b += [cats[j]] * count
    return a, b


def _hand_kappa(table: list[list[int]], weight) -> float:
    """Weighted kappa straight from the definition, plain loops."""
    q = len(table)
    n = sum(map(sum, table))
    rows = [sum(table[i]) / n for i in range(q)]
    cols = [sum(table[i][j] for i in range(q)) / n for j in range(q)]
    po = sum(weight(i, j) * table[i][j] / n for i in range(q) for j in range(q))
    pe = sum(weight(i, j) * rows[i] * cols[j] for i in range(q) for j in range(q))
    return (po - pe) / (1 - pe)


def test_cohen_kappa_matches_hand_computation() -> None:
    table = [[11, 3, 1], [2, 9, 4], [0, 5, 15]]
    a, b = _expand(table, [1, 2, 3])
    res = cohen_kappa(a, b)
    # po = 35/50; marginals rows (15, 15, 20)/50, columns (13, 17, 20)/50
    po, pe = 35 / 50, (15 * 13 + 15 * 17 + 20 * 20) / 50**2
    assert res.value == pytest.approx((po - pe) / (1 - pe), abs=1e-12)
    assert res.details["po"] == pytest.approx(po)
    assert res.details["pe"] == pytest.approx(pe)
    assert res.details["table"] == table
    assert res.details["categories"] == [1, 2, 3]
    assert res.details["weights"] is None
    assert res.n_items == 50 and res.n_raters == 2
    lin = cohen_kappa(a, b, weights="linear")
    quad = cohen_kappa(a, b, weights="quadratic")
    assert lin.value == pytest.approx(_hand_kappa(table, lambda i, j: 1 - abs(i - j) / 2))
    assert quad.value == pytest.approx(_hand_kappa(table, lambda i, j: 1 - (i - j) ** 2 / 4))
    assert lin.details["weights"] == "linear"


def test_cohen_kappa_ase_matches_sas() -> None:
    # SAS PROC FREQ SkinCondition: kappa 0.3449, ASE 0.0724; vcd 95% CI 0.2030-0.4868
    res = _run(BY_ID["cohen_kappa_sas_skin_unweighted"])
    assert res.details["ase"] == pytest.approx(0.0724, abs=5e-5)
    assert res.ci95[0] == pytest.approx(0.2030, abs=5e-5)
    assert res.ci95[1] == pytest.approx(0.4868, abs=5e-5)
    assert res.ci_method


def test_cohen_kappa_unused_declared_category_changes_weighted_kappa() -> None:
    # nobody used 3 on the 1-5 scale: declared positions of 4 and 5 differ from observed ones
    a = [1, 2, 4, 5, 2, 4, 1, 5, 4, 2]
    b = [1, 4, 4, 5, 2, 2, 2, 5, 5, 2]
    observed = cohen_kappa(a, b, weights="linear")
    declared = cohen_kappa(a, b, weights="linear", categories=[1, 2, 3, 4, 5])
    assert observed.details["categories"] == [1, 2, 4, 5]
    assert declared.value != pytest.approx(observed.value, abs=1e-6)
    table5 = [[0] * 5 for _ in range(5)]
    for x, y in zip(a, b, strict=True):
        table5[x - 1][y - 1] += 1
    assert declared.value == pytest.approx(_hand_kappa(table5, lambda i, j: 1 - abs(i - j) / 4))
    table4 = [[table5[i][j] for j in (0, 1, 3, 4)] for i in (0, 1, 3, 4)]
    assert observed.value == pytest.approx(_hand_kappa(table4, lambda i, j: 1 - abs(i - j) / 3))
    # unweighted kappa does not depend on an unused category
    assert cohen_kappa(a, b, categories=[1, 2, 3, 4, 5]).value == pytest.approx(
        cohen_kappa(a, b).value
    )
    # weighted kappa is invariant to rescaling the disagreement weights, so an unused
    # category at the END of the scale leaves it unchanged (unlike Gwet's AC2)
    at_end = cohen_kappa(a, b, weights="linear", categories=[1, 2, 3, 4, 5, 6])
    assert at_end.value == pytest.approx(declared.value, abs=1e-12)
    assert gwet_ac2(np.column_stack([a, b]), weights="linear",
                    categories=[1, 2, 3, 4, 5, 6]).value != pytest.approx(
        gwet_ac2(np.column_stack([a, b]), weights="linear", categories=[1, 2, 3, 4, 5]).value
    )


def test_cohen_kappa_categories_give_position_weights_not_values() -> None:
    a, b = [10, 20, 40, 40, 20], [10, 40, 40, 20, 20]
    coded = cohen_kappa([1, 2, 3, 3, 2], [1, 3, 3, 2, 2], weights="quadratic")
    assert cohen_kappa(a, b, weights="quadratic").value == pytest.approx(coded.value)


def test_cohen_kappa_invalid_value_names_value_and_position() -> None:
    with pytest.raises(ValueError, match=r"rating 7 at index 2 of a .*categories \[1, 2, 3\]"):
        cohen_kappa([1, 2, 7, 3], [1, 2, 3, 3], categories=[1, 2, 3])
    with pytest.raises(ValueError, match="index 1 of b"):
        cohen_kappa([1, 2], [1, 2.5], categories=[1, 2, 3])
    with pytest.raises(ValueError, match="weights"):
        cohen_kappa([1, 2], [1, 2], weights="squared")
    with pytest.raises(ValueError, match="equal-length"):
        cohen_kappa([1, 2, 3], [1, 2])


def test_cohen_kappa_drops_incomplete_pairs_and_takes_labels() -> None:
    res = cohen_kappa(["y", "y", None, "n", "n"], ["y", "n", "n", "n", float("nan")])
    ref = cohen_kappa(["y", "y", "n"], ["y", "n", "n"])
    assert res.value == pytest.approx(ref.value)
    assert res.details["n_dropped"] == 2 and res.n_items == 3
    assert res.details["categories"] == ["n", "y"]


# --------------------------------------------------------------------------------------
# Undefined results: value None, a reason, no warnings
# --------------------------------------------------------------------------------------

UNDEFINED = {
    "cohen_same_constant": lambda: cohen_kappa([2, 2, 2], [2, 2, 2]),
    "cohen_same_constant_weighted": lambda: cohen_kappa([2, 2], [2, 2], weights="quadratic",
                                                        categories=[1, 2, 3]),
    "cohen_no_pairs": lambda: cohen_kappa([1, None], [None, 2]),
    "cohen_empty": lambda: cohen_kappa([], []),
    "fleiss_constant": lambda: fleiss_kappa([[1, 1, 1], [1, 1, 1]]),
    "fleiss_one_rating": lambda: fleiss_kappa([[1, None], [2, None]]),
    "fleiss_no_ratings": lambda: fleiss_kappa([[None, None]]),
    "gwet_no_pairs": lambda: gwet_ac1([[1, None], [None, 2]]),
    "gwet_one_category": lambda: gwet_ac1([[3, 3], [3, 3]]),
    "gwet_ac2_no_ratings": lambda: gwet_ac2([[None, None]]),
    "alpha_constant": lambda: krippendorff_alpha([[4, 4], [4, None], [4, 4]]),
    "alpha_constant_nominal_str": lambda: krippendorff_alpha([["a", "a"]], level="nominal"),
    "alpha_not_pairable": lambda: krippendorff_alpha([[1, None], [None, 2]], level="ordinal"),
    "alpha_all_missing": lambda: krippendorff_alpha(np.full((3, 2), np.nan), level="ratio"),
}


@pytest.mark.parametrize("name", list(UNDEFINED))
def test_undefined_has_reason_and_no_warning(name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = UNDEFINED[name]()
    assert res.value is None
    assert not res.defined
    assert isinstance(res.reason, str) and res.reason
    assert res.ci95 is None


def test_defined_results_emit_no_warning() -> None:
    rng = np.random.default_rng(3)
    m = rng.integers(1, 6, size=(40, 4)).astype(float)
    m[rng.random(m.shape) < 0.3] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cohen_kappa(m[:, 0], m[:, 1], weights="quadratic", categories=[1, 2, 3, 4, 5])
        gwet_ac1(m)
        gwet_ac2(m, categories=[1, 2, 3, 4, 5])
        for level in ("nominal", "ordinal", "interval", "ratio"):
            krippendorff_alpha(m, level=level)
        fleiss_kappa(np.nan_to_num(m, nan=3.0))
        # perfect agreement: zero standard error
        perfect = cohen_kappa([1, 2, 3], [1, 2, 3])
    assert perfect.value == pytest.approx(1.0)
    assert perfect.ci95 == pytest.approx((1.0, 1.0))


# --------------------------------------------------------------------------------------
# Fleiss' kappa
# --------------------------------------------------------------------------------------


def test_fleiss_row_count_mismatch_names_row() -> None:
    m = [[1, 2, 2], [1, 1, 1], [2, None, 2], [3, 3, 3]]
    with pytest.raises(ValueError, match=r"row 2 has 2 ratings but most items have 3"):
        fleiss_kappa(m)


def test_fleiss_matches_hand_computation_and_drops_empty_items() -> None:
    m = [[1, 1, 1], [1, 1, 2], [2, 2, 2], [3, 3, 2], [3, 3, 3], [None, None, None]]
    res = fleiss_kappa(m)
    # P_i = 1, 1/3, 1, 1/3, 1; every category has 5 of 15 ratings
    po, pe = (3 + 2 / 3) / 5, 3 * (1 / 3) ** 2
    assert res.value == pytest.approx((po - pe) / (1 - pe))
    assert res.details["n_empty_dropped"] == 1
    assert res.n_items == 5 and res.n_raters == 3
    with pytest.raises(ValueError, match="rating 2 at row 1, column 2"):
        fleiss_kappa(m, categories=[1, 3])


# --------------------------------------------------------------------------------------
# Gwet's AC1 / AC2
# --------------------------------------------------------------------------------------


def test_gwet_ac2_identity_weights_equals_ac1() -> None:
    rng = np.random.default_rng(7)
    m = rng.integers(1, 5, size=(60, 4)).astype(float)
    m[rng.random(m.shape) < 0.25] = np.nan
    cats = [1, 2, 3, 4]
    ac1 = gwet_ac1(m, categories=cats)
    assert gwet_ac2(m, weights=np.eye(4), categories=cats).value == pytest.approx(ac1.value)
    assert gwet_ac2(m, weights=None, categories=cats).value == pytest.approx(ac1.value)
    assert gwet_ac2(m, categories=cats).value != pytest.approx(ac1.value)


def test_gwet_ac1_rejects_weights() -> None:
    with pytest.raises(ValueError, match="gwet_ac2"):
        gwet_ac1([[1, 2], [2, 2]], weights="quadratic")


def test_gwet_ac2_published_vignette_values() -> None:
    # irrCAC vignette, cac.raw4raters quadratic: AC2 = 0.914, pa = 0.9753788, pe = 0.7137044
    data = BY_ID["gwet_ac1_irrcac_raw4raters_missing"]["data"]
    res = gwet_ac2(data, weights="quadratic", categories=[1, 2, 3, 4, 5])
    assert res.value == pytest.approx(0.914, abs=5e-4)
    assert res.details["pa"] == pytest.approx(0.9753788, abs=5e-8)
    assert res.details["pe"] == pytest.approx(0.7137044, abs=5e-8)
    # pa = 0.8181818, pe = 0.1903212 for AC1 on the same data
    ac1 = gwet_ac1(data, categories=[1, 2, 3, 4, 5])
    assert ac1.details["pa"] == pytest.approx(0.8181818, abs=5e-8)
    assert ac1.details["pe"] == pytest.approx(0.1903212, abs=5e-8)
    # cont3x3abstractors with quadratic weights: AC2 = 0.9402369
    a, b = BY_ID["gwet_ac1_irrcac_abstractors"]["data"]
    assert gwet_ac2(np.column_stack([a, b]), categories=[1, 2, 3]).value == pytest.approx(
        0.9402369, abs=5e-8
    )


def test_gwet_ac1_hand_computation_with_missing() -> None:
    m = [[1, 1, 1], [1, 1, 2], [2, 2, None], [3, 3, 2], [3, None, None]]
    res = gwet_ac1(m)
    pa = (1 + 1 / 3 + 1 + 1 / 3) / 4  # the last item has one rating: not in pa
    pe = 1 / 2 * 3 * (1 / 3) * (2 / 3)  # pi = (1/3, 1/3, 1/3), it counts in pi
    assert res.value == pytest.approx((pa - pe) / (1 - pe))
    assert res.details["n_items_pa"] == 4 and res.n_items == 5
    # an unused declared category changes AC1 (q enters p_e)
    assert gwet_ac1(m, categories=[1, 2, 3, 4]).value != pytest.approx(res.value)


# --------------------------------------------------------------------------------------
# Krippendorff's alpha
# --------------------------------------------------------------------------------------


def _naive_alpha(matrix: list[list[Any]], level: str) -> float:
    """Krippendorff (2011) by the book: coincidences from every ordered pair in every unit."""
    values = sorted({v for row in matrix for v in row if v is not None})
    idx = {v: i for i, v in enumerate(values)}
    o = [[0.0] * len(values) for _ in values]
    for row in matrix:
        vals = [v for v in row if v is not None]
        if len(vals) < 2:
            continue
        for i, j in itertools.permutations(range(len(vals)), 2):
            o[idx[vals[i]]][idx[vals[j]]] += 1 / (len(vals) - 1)
    n_c = [sum(r) for r in o]
    n = sum(n_c)

    def delta(c: int, k: int) -> float:
        vc, vk = values[c], values[k]
        if level == "nominal":
            return float(c != k)
        if level == "interval":
            return (vc - vk) ** 2
        if level == "ratio":
            return 0.0 if vc + vk == 0 else ((vc - vk) / (vc + vk)) ** 2
        lo, hi = min(c, k), max(c, k)
        return (sum(n_c[lo : hi + 1]) - (n_c[c] + n_c[k]) / 2) ** 2

    rng = range(len(values))
    d_o = sum(o[c][k] * delta(c, k) for c in rng for k in rng) / n
    d_e = sum(n_c[c] * n_c[k] * delta(c, k) for c in rng for k in rng) / (n * (n - 1))
    return 1 - d_o / d_e


def _random_matrix(seed: int, shape=(30, 4), high=6, p_missing=0.3) -> list[list[Any]]:
    rng = np.random.default_rng(seed)
    m = rng.integers(0, high, size=shape).tolist()
    holes = rng.random(shape) < p_missing
    return [[None if holes[i][j] else v for j, v in enumerate(row)] for i, row in enumerate(m)]


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_alpha_matches_naive_definition(level: str, seed: int) -> None:
    m = _random_matrix(seed)
    res = krippendorff_alpha(m, level=level)
    assert res.value == pytest.approx(_naive_alpha(m, level), abs=1e-12)
    assert res.details["level"] == level
    assert set(res.details) >= {"D_o", "D_e", "n_pairable", "level", "values"}


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_alpha_sparse_path_equals_dense(level: str, monkeypatch: pytest.MonkeyPatch) -> None:
    m = _random_matrix(11, shape=(50, 5), high=9)
    dense = krippendorff_alpha(m, level=level)
    monkeypatch.setattr(_krippendorff, "_DENSE_MAX_VALUES", 0)
    sparse = krippendorff_alpha(m, level=level)
    assert sparse.value == pytest.approx(dense.value, abs=1e-12)
    assert sparse.details["D_o"] == pytest.approx(dense.details["D_o"], abs=1e-12)
    assert sparse.details["D_e"] == pytest.approx(dense.details["D_e"], abs=1e-12)


def test_alpha_nominal_string_labels() -> None:
    data = BY_ID["krippendorff_2011_C_nominal"]["data"]
    names = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}
    labels = [[None if v is None else names[v] for v in row] for row in data]
    res = krippendorff_alpha(labels, level="nominal")
    assert res.value == pytest.approx(0.7434210526, abs=1e-9)
    assert sorted(res.details["values"]) == sorted(names.values())
    with pytest.raises(ValueError, match="nominal"):
        krippendorff_alpha(labels, level="ordinal")


def test_alpha_ratio_with_zeros() -> None:
    m = [[0, 0], [0, 0], [1, 2], [0, 3], [2, 2], [3, None]]
    res = krippendorff_alpha(m, level="ratio")
    assert res.value == pytest.approx(_naive_alpha(m, "ratio"), abs=1e-12)
    # (0,0) twice: D_o = 2 * (1/3)^2 (pair 1,2) + 2 * 1 (pair 0,3), over n = 10 values
    assert res.details["D_o"] == pytest.approx((2 / 9 + 2) / 10)
    with pytest.raises(ValueError, match="non-negative"):
        krippendorff_alpha([[-1, 1], [2, 2]], level="ratio")


def test_alpha_published_ordinal_and_ratio_of_data_c() -> None:
    data = BY_ID["krippendorff_2011_C_nominal"]["data"]
    assert krippendorff_alpha(data, level="ordinal").value == pytest.approx(0.815, abs=5e-4)
    assert krippendorff_alpha(data, level="ratio").value == pytest.approx(0.797, abs=5e-4)


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_alpha_independent_of_row_and_column_order(level: str) -> None:
    m = np.array(_random_matrix(5, shape=(40, 5)), dtype=float)
    base = krippendorff_alpha(m, level=level).value
    rng = np.random.default_rng(0)
    assert krippendorff_alpha(m[:, rng.permutation(5)], level=level).value == pytest.approx(
        base, abs=1e-12
    )
    assert krippendorff_alpha(m[rng.permutation(40)], level=level).value == pytest.approx(
        base, abs=1e-12
    )


def test_alpha_ignores_unpairable_units() -> None:
    data = BY_ID["krippendorff_wikipedia_nominal"]["data"]
    res = krippendorff_alpha(data, level="nominal")
    # unit 1 has one value, units 2 and 14 none (1-based)
    assert res.details["n_units_ignored"] == 3
    assert res.n_items == len(data) - 3
    extra = [*data, [7, None, None]]  # a lone value, never seen elsewhere: no effect
    assert krippendorff_alpha(extra, level="nominal").value == pytest.approx(res.value)
    with pytest.raises(ValueError, match="level"):
        krippendorff_alpha(data, level="metric")


def test_alpha_accepts_float_arrays_and_continuous_scores() -> None:
    rng = np.random.default_rng(2)
    truth = rng.normal(size=(300, 1))
    m = truth + 0.5 * rng.normal(size=(300, 3))
    m[rng.random(m.shape) < 0.1] = np.nan
    res = krippendorff_alpha(m, level="interval")
    # interval alpha = 1 - D_o/D_e straight from pairs of values
    pairs_within, n, all_vals = 0.0, 0, []
    for row in m:
        vals = row[~np.isnan(row)]
        if vals.size < 2:
            continue
        diffs = (vals[:, None] - vals[None, :]) ** 2
        pairs_within += diffs.sum() / (vals.size - 1)
        n += vals.size
        all_vals.extend(vals)
    all_vals = np.array(all_vals)
    d_e = ((all_vals[:, None] - all_vals[None, :]) ** 2).sum() / (n * (n - 1))
    assert res.value == pytest.approx(1 - (pairs_within / n) / d_e, abs=1e-10)
    assert math.isfinite(res.details["D_o"])
