"""RatingsTable's N/A and missing counts against the dense expressions they replace."""

from __future__ import annotations

import numpy as np
import pytest

from harness.anchors import RatingsTable


@pytest.mark.parametrize("with_na", [False, True])
def test_counts_equal_the_dense_expressions(with_na: bool) -> None:
    rng = np.random.default_rng(6)
    shape = (70, 230)
    scores = np.where(rng.random(shape) < 0.2, rng.integers(1, 6, shape).astype(float), np.nan)
    na = np.isnan(scores) & (rng.random(shape) < (0.1 if with_na else 0.0))
    table = RatingsTable([f"i{k}" for k in range(shape[0])],
                         [f"r{k}" for k in range(shape[1])], scores, na, None, (1.0, 5.0), "t")
    assert table.n_missing == int((np.isnan(scores) & ~na).sum())
    assert table.n_scores == int((~np.isnan(scores)).sum())
    assert table.n_na == int(na.sum())
    assert table.na_counts_by_item() == {
        f"i{k}": int(n) for k, n in enumerate(na.sum(axis=1))}
    assert table.na_counts_by_rater() == {
        f"r{k}": int(n) for k, n in enumerate(na.sum(axis=0))}
    assert with_na == (table.n_na > 0)
