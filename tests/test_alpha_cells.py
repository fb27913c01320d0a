"""Krippendorff's per-unit coincidences from the observed cells equal the dense code's."""

from __future__ import annotations

import numpy as np
import pytest

from harness.agreement._alpha_boot import unit_coincidences


def dense_unit_coincidences(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The dense code before the cells-only version (the oracle)."""
    values = np.unique(matrix[~np.isnan(matrix)])
    v = values.size
    idx = np.searchsorted(values, np.nan_to_num(matrix, nan=values[0] if v else 0.0))
    present = ~np.isnan(matrix)
    counts = np.zeros((matrix.shape[0], v))
    rows = np.repeat(np.arange(matrix.shape[0]), matrix.shape[1])
    np.add.at(counts, (rows[present.ravel()], idx.ravel()[present.ravel()]), 1.0)
    m = counts.sum(axis=1)
    outer = counts[:, :, None] * counts[:, None, :]
    outer[:, np.arange(v), np.arange(v)] -= counts
    with np.errstate(invalid="ignore", divide="ignore"):
        contrib = np.where((m >= 2)[:, None, None], outer / (m - 1)[:, None, None], 0.0)
    return contrib.reshape(matrix.shape[0], v * v), values


def _tables():
    rng = np.random.default_rng(3)
    for n, k, p in ((30, 4, 0.8), (20, 50, 0.06), (10, 2, 1.0)):
        x = rng.integers(2, 11, (n, k)) / 2.0
        x[rng.random((n, k)) > p] = np.nan
        x[0] = np.nan
        yield x


@pytest.mark.parametrize("matrix", list(_tables()))
def test_cells_only_coincidences_equal_the_dense_oracle(matrix):
    contrib, values = unit_coincidences(matrix)
    want_contrib, want_values = dense_unit_coincidences(matrix)
    np.testing.assert_array_equal(values, want_values)
    np.testing.assert_array_equal(contrib, want_contrib)
