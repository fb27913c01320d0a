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
