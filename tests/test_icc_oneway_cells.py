"""The one-way ICC from the observed cells equals the dense computation it replaced."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.agreement import icc_oneway, icc_oneway_forms
from harness.agreement._dist import f_ppf, f_sf


def dense_icc_oneway(x: np.ndarray, average: bool = False, confidence: float = 0.95):
    """The code before the cells-only version (items x raters, dense), as an oracle."""
    present = ~np.isnan(x)
    n_i = present.sum(axis=1)
    keep = n_i >= 2
    x, present, n_i = x[keep], present[keep], n_i[keep]
    a = x.shape[0]
    if a < 3:
        return None
    vals = np.where(present, x, 0.0)
    total = int(n_i.sum())
    means = vals.sum(axis=1) / n_i
    grand = vals.sum() / total
    ssb = float(n_i @ (means - grand) ** 2)
    ssw = float((np.where(present, x - means[:, None], 0.0) ** 2).sum())
    df1, df2 = a - 1, total - a
    msb, msw = ssb / df1, ssw / df2
    n0 = (total - float(n_i @ n_i) / total) / df1
    den = msb if average else msb + (n0 - 1.0) * msw
    if not den > 0.0:
        return None
    value = (msb - msw) / den
    ci = None
    if msw > 0 and msb > 0:
        f_stat = msb / msw
        q = 1.0 - (1.0 - confidence) / 2.0
        f_lo = f_stat / f_ppf(q, df1, df2)
        f_hi = f_stat * f_ppf(q, df2, df1)
        ci = ((1.0 - 1.0 / f_lo, 1.0 - 1.0 / f_hi) if average else
              ((f_lo - 1.0) / (f_lo + n0 - 1.0), (f_hi - 1.0) / (f_hi + n0 - 1.0)))
        return value, ci, msb, msw, n0, f_sf(f_stat, df1, df2)
    return value, ci, msb, msw, n0, None


def _tables():
    rng = np.random.default_rng(21)
    for n, k, p in ((30, 4, 0.6), (12, 40, 0.1), (200, 3, 0.9), (5, 2, 1.0)):
        truth = rng.normal(3, 1, n)
        x = np.clip(np.rint(truth[:, None] + rng.normal(0, 0.8, (n, k))), 1, 5)
        x[rng.random((n, k)) > p] = np.nan
        yield x
    # one-shot raters: one rating per column
    dense = rng.integers(1, 7, (50, 3)).astype(float)
    rows, cols = np.nonzero(~np.isnan(dense))
    once = np.full((50, rows.size), np.nan)
    once[rows, np.arange(rows.size)] = dense[rows, cols]
    yield once
    yield np.array([[1.0, 2.0], [3.0, np.nan], [2.0, 2.0], [4.0, 5.0]])  # too few items
    yield np.full((6, 3), 3.0)  # identical ratings


@pytest.mark.parametrize("x", list(_tables()))
@pytest.mark.parametrize("average", [False, True])
def test_cells_only_equals_the_dense_oracle(x, average):
    want = dense_icc_oneway(x, average)
    got = icc_oneway(x, average=average)
    form = "ICC(1,k)" if average else "ICC(1,1)"
    assert icc_oneway_forms(x)[form] == got
    if want is None:
        assert not got.defined
        return
    value, ci, msb, msw, n0, p = want
    assert math.isclose(got.value, value, rel_tol=1e-12, abs_tol=1e-12)
    assert (got.ci95 is None) == (ci is None)
    if ci is not None:
        np.testing.assert_allclose(got.ci95, ci, rtol=1e-12, atol=1e-12)
        assert math.isclose(got.details["p_value"], p, rel_tol=1e-9, abs_tol=1e-300)
    ms = got.details["mean_squares"]
    np.testing.assert_allclose([ms["MSB"], ms["MSW"], got.details["n0"]], [msb, msw, n0],
                               rtol=1e-12)
    assert got.details["n_ratings"] == int((~np.isnan(x)).sum(axis=1)[
        (~np.isnan(x)).sum(axis=1) >= 2].sum())
