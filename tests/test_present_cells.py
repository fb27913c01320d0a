"""present_cells / observed_cells: np.nonzero's indices, in its order, from the flat indices."""

from __future__ import annotations

import numpy as np
import pytest

from harness.agreement._crowd import loo_mean_pairs
from harness.agreement._matrix import observed_cells, present_cells


@pytest.mark.parametrize("shape", [(0, 0), (0, 4), (5, 0), (1, 1), (7, 3), (40, 900), (300, 2)])
@pytest.mark.parametrize("density", [0.0, 0.01, 0.5, 1.0])
def test_present_cells_is_nonzero(shape: tuple[int, int], density: float) -> None:
    rng = np.random.default_rng(shape[0] * 1000 + shape[1])
    mask = rng.random(shape) < density
    for m in (mask, mask.T, np.asfortranarray(mask)):
        rows, cols = present_cells(m)
        want_r, want_c = np.nonzero(m)
        assert rows.dtype == want_r.dtype and cols.dtype == want_c.dtype
        np.testing.assert_array_equal(rows, want_r)
        np.testing.assert_array_equal(cols, want_c)


def test_observed_cells_of_a_one_shot_table() -> None:
    rng = np.random.default_rng(3)
    x = np.full((50, 150), np.nan)
    x[np.repeat(np.arange(50), 3), rng.permutation(150)] = rng.integers(1, 6, 150)
    rows, cols = observed_cells(x)
    want = np.nonzero(~np.isnan(x))
    np.testing.assert_array_equal(rows, want[0])
    np.testing.assert_array_equal(cols, want[1])


def test_loo_mean_pairs_rater_order_is_the_transposed_scan() -> None:
    """Rater by rater, items ascending: the order of np.nonzero over the transposed table."""
    rng = np.random.default_rng(5)
    x = np.where(rng.random((30, 12)) < 0.4, rng.integers(1, 6, (30, 12)).astype(float), np.nan)
    got = list(loo_mean_pairs(x))
    counts = (~np.isnan(x)).sum(axis=1)
    sums = np.nansum(x, axis=1)
    assert len(got) == x.shape[1]
    for j, (items, own, mean) in enumerate(got):
        want = np.flatnonzero(~np.isnan(x[:, j]) & (counts > 1))
        np.testing.assert_array_equal(items, want)
        np.testing.assert_array_equal(own, x[want, j])
        np.testing.assert_array_equal(mean, (sums[want] - x[want, j]) / (counts[want] - 1))
