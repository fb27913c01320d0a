"""The alt-test on the observed cells equals the dense items x raters code it replaced."""

from __future__ import annotations

import numpy as np
import pytest

from harness.agreement import alt_test
from harness.agreement._alt_test import (
    MIN_OTHER_RATERS,
    T_TEST_MIN_ITEMS,
    _scaled_ranks,
    signed_rank_less,
)
from harness.agreement._dist import t_cdf


def dense_indicators(scores, judge, usable, alignment):
    """The dense ``_indicators`` before the cells-only version (the oracle)."""
    present = ~np.isnan(scores)
    filled = np.where(present, scores, 0.0)
    k = present.sum(axis=1, keepdims=True) - 1.0
    if alignment == "exact":
        eq_judge = (scores == judge[:, None]) & present
        n_eq_judge = eq_judge.sum(axis=1, keepdims=True) - eq_judge
        labels, code = np.unique(filled, return_inverse=True)
        code = code.reshape(scores.shape)
        counts = np.zeros((scores.shape[0], labels.size), dtype=np.int64)
        rows = np.broadcast_to(np.arange(scores.shape[0])[:, None], scores.shape)
        np.add.at(counts, (rows[present], code[present]), 1)
        n_eq_rater = np.take_along_axis(counts, code, axis=1) - 1
        a_f, a_h = n_eq_judge.astype(float), n_eq_rater.astype(float)
        tol = 0.0
    else:
        total = filled.sum(axis=1, keepdims=True) - filled
        a_f = -np.abs(judge[:, None] * k - total)
        a_h = -np.abs(filled * k - total)
        scale = np.nanmax(np.abs(np.concatenate([filled.ravel(), np.nan_to_num(judge)])))
        tol = 1e-9 * max(1.0, float(scale)) * max(1.0, float(np.max(k, initial=1.0)))
    return usable & (a_f >= a_h - tol), usable & (a_h >= a_f - tol)


def dense_t_pvalues(d, usable, epsilon):
    n = usable.sum(axis=0).astype(float)
    mean = np.where(usable, d, 0.0).sum(axis=0) / np.maximum(n, 1)
    ss = (np.where(usable, d - mean, 0.0) ** 2).sum(axis=0)
    sd = np.sqrt(ss / np.maximum(n - 1, 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = t_cdf((mean - epsilon) / (sd / np.sqrt(n)), np.maximum(n - 1, 1))
    return np.where(sd > 0, p, np.where(mean < epsilon, 0.0, 1.0))


def _tables():
    rng = np.random.default_rng(17)
    for n, k, p, step in ((60, 5, 0.8, 1.0), (40, 12, 0.5, 1.0), (80, 4, 1.0, 0.5),
                          (25, 30, 0.3, 1.0)):
        truth = rng.normal(3, 1, n)
        x = np.clip(np.round((truth[:, None] + rng.normal(0, 0.8, (n, k))) / step) * step, 1, 5)
        x[rng.random((n, k)) > p] = np.nan
        judge = np.clip(np.rint(truth + rng.normal(0, 0.7, n)), 1, 5)
        judge[rng.random(n) < 0.05] = np.nan
        yield x, judge


@pytest.mark.parametrize("case", list(_tables()))
@pytest.mark.parametrize("alignment", ["absolute", "exact", "rank"])
def test_per_rater_figures_equal_the_dense_oracle(case, alignment):
    x, judge = case
    eps = 0.15
    res = alt_test(x, judge, epsilon=eps, alignment=alignment, min_items=5)
    scores, j = x, judge
    if alignment == "rank":
        scores, j = _scaled_ranks(x), _scaled_ranks(judge[:, None])[:, 0]
    present = ~np.isnan(x)
    enough = present.sum(axis=1) >= MIN_OTHER_RATERS + 1
    usable = present & (~np.isnan(judge) & enough)[:, None]
    w_f, w_h = dense_indicators(scores, j, usable, alignment)
    n_j = usable.sum(axis=0)
    d = w_h.astype(float) - w_f.astype(float)
    p_t = dense_t_pvalues(d, usable, eps)
    assert res.per_rater, res.reason
    for r in res.per_rater:
        col = int(r.rater)
        assert r.n_items == n_j[col]
        assert r.p_judge == w_f[:, col].sum() / n_j[col]
        assert r.p_rater == w_h[:, col].sum() / n_j[col]
        if n_j[col] >= T_TEST_MIN_ITEMS:
            assert r.test == "t" and r.p_value == p_t[col]
        else:
            want = signed_rank_less(d[usable[:, col], col] - eps)
            assert r.test == "wilcoxon" and r.p_value == (1.0 if np.isnan(want) else want)
    assert {e["rater"] for e in res.excluded} == {str(c) for c in np.flatnonzero(n_j < 5)}
