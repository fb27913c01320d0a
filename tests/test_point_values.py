"""Points without intervals (the leave-one-out references' fallback) equal the full figures."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.agreement import compare_to_reference, icc
from harness.agreement._icc import ICC_FORMS, icc_value
from harness.agreement._loo import reference_points
from harness.agreement._paired import PAIRED_FIGURES, point_values


def _cases():
    rng = np.random.default_rng(11)
    for n in (2, 3, 5, 30):
        x = rng.integers(1, 6, n).astype(float)
        y = rng.integers(2, 11, n) / 2.0
        yield x, y
        yield np.full(n, 3.0), y  # a constant side (the modal-score baseline)
        yield x, np.full(n, 2.5)
        holes = x.copy()
        holes[rng.random(n) < 0.3] = np.nan
        yield holes, y
    yield np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0, 4.0])  # no error variance


@pytest.mark.parametrize("case", list(_cases()))
def test_point_values_are_the_values_of_compare_to_reference(case):
    x, y = case
    want = compare_to_reference(x, y, scale=(1.0, 5.0), n_resamples=0)
    got = point_values(x, y, scale=(1.0, 5.0))
    assert list(got) == list(PAIRED_FIGURES)
    for name in PAIRED_FIGURES:
        if want[name].defined:
            assert got[name] == want[name].value, name
        else:
            assert math.isnan(got[name]), name


@pytest.mark.parametrize("form", ICC_FORMS)
def test_icc_value_is_the_value_of_icc(form):
    rng = np.random.default_rng(4)
    for shape in ((6, 3), (40, 2), (2, 4)):
        m = rng.integers(1, 6, shape).astype(float)
        m[0, 0] = np.nan
        want = icc(m, form=form)
        assert icc_value(m, form=form) == (want.value if want.defined else None)
    assert icc_value(np.ones((5, 2)), form=form) is None


def test_reference_points_with_a_constant_score_take_the_fallback_exactly():
    rng = np.random.default_rng(2)
    const = np.full(40, 4.0)
    refs = rng.integers(2, 11, (40, 7)) / 2.0
    refs[rng.random(refs.shape) < 0.2] = np.nan
    pts = reference_points(((const, refs[:, r]) for r in range(7)), scale=(1.0, 5.0))
    for r in range(7):
        full = compare_to_reference(const, refs[:, r], scale=(1.0, 5.0), n_resamples=0)
        for name in PAIRED_FIGURES:
            want = full[name].value if full[name].defined else np.nan
            np.testing.assert_allclose(pts[name][r], want, rtol=1e-12, atol=1e-12)


def test_reference_points_on_constant_and_rounding_constant_sides_equal_the_statistics():
    rng = np.random.default_rng(9)
    n = 25
    sides = {
        "varies": rng.integers(1, 6, n).astype(float),
        "constant": np.full(n, 2.0),
        "rounds constant": 3.0 + rng.choice([0.0, 0.25, -0.25], n),  # raw varies, rounded 3
        "two items": np.where(np.arange(n) < 2, 4.0, np.nan),
    }
    cols = []
    for a in sides.values():
        for b in sides.values():
            cols.append((a, b))
    pts = reference_points(iter(cols), scale=(1.0, 5.0))
    for r, (a, b) in enumerate(cols):
        full = compare_to_reference(a, b, scale=(1.0, 5.0), n_resamples=0)
        for name in PAIRED_FIGURES:
            want = full[name].value if full[name].defined else np.nan
            np.testing.assert_allclose(pts[name][r], want, rtol=1e-12, atol=1e-12,
                                       err_msg=f"{name} on column {r}")


@pytest.mark.parametrize(("x", "y", "side"), [
    ([3.0, 3.0, 3.0, 3.0], [1.0, 2.0, 4.0, 5.0], "the scores are constant"),
    ([1.0, 2.0, 4.0, 5.0], [2.5, 2.5, 2.5, 2.5], "the reference is constant"),
    ([3.0, 3.0, 3.0, 3.0], [2.5, 2.5, 2.5, 2.5], "the scores and the reference are constant"),
])
def test_an_undefined_rank_correlation_names_the_constant_side(x, y, side):
    """The statistics call their arguments a and b; a report's reader knows scores and
    reference (the chance baseline's constant used to read "rater a is constant")."""
    figs = compare_to_reference(x, y, scale=(1.0, 5.0), n_resamples=0)
    for name in ("spearman", "kendall_tau_b"):
        assert figs[name].reason == f"zero variance: {side}", name
    assert figs["mae"].defined  # the other figures are not touched


def test_the_chance_column_says_constant_once():
    from rich.console import Console

    from harness.anchors import RatingsTable
    from harness.reports import ReportSettings, agreement_report, render_report

    rng = np.random.default_rng(3)
    truth = rng.integers(1, 6, 20).astype(float)
    raters = np.column_stack([np.clip(truth + rng.integers(-1, 2, 20), 1, 5) for _ in range(4)])
    table = RatingsTable([f"i{k}" for k in range(20)], ["r1", "r2", "r3", "judge"], raters,
                         np.zeros(raters.shape, bool), scale=(1.0, 5.0))
    report = agreement_report(table, judge="judge", settings=ReportSettings(n_resamples=50))
    assert "the scores are constant" in report.judge["baseline"]["figures"]["spearman"].reason
    console = Console(width=200, record=True, highlight=False)
    console.print(render_report(report))
    text = console.export_text()
    spearman_row = next(line for line in text.splitlines() if "Spearman ρ" in line)
    assert "undefined (constant)" in spearman_row
    assert "zero variance" not in spearman_row and "against every reference" not in text
