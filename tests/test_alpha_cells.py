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


def _wide(seed: int, level: str) -> np.ndarray:
    """One-shot coders: every value its own column (as a crowd with one rating per id)."""
    rng = np.random.default_rng(seed)
    dense = rng.integers(0, 6, (25, 3)).astype(float) / (2.0 if level == "ratio" else 1.0)
    dense[rng.random(dense.shape) < 0.25] = np.nan
    rows, cols = np.nonzero(~np.isnan(dense))
    wide = np.full((25, rows.size), np.nan)
    wide[rows, np.arange(rows.size)] = dense[rows, cols]
    return dense, wide


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
@pytest.mark.parametrize("sparse", [False, True])
def test_alpha_is_the_same_whatever_the_coder_encoding(level, sparse, monkeypatch):
    """The values, not the coders, make alpha: one-shot coders give the crossed figure."""
    from harness.agreement import _krippendorff, krippendorff_alpha

    if sparse:
        monkeypatch.setattr(_krippendorff, "_DENSE_MAX_VALUES", 1)
    for seed in range(4):
        dense, wide = _wide(seed, level)
        a, b = krippendorff_alpha(dense, level=level), krippendorff_alpha(wide, level=level)
        labels = krippendorff_alpha(np.where(np.isnan(wide), None, wide).tolist(), level=level)
        assert a.value == pytest.approx(b.value, rel=1e-12, abs=1e-12)
        assert b.value == labels.value and b.details == labels.details
        assert b.n_items == a.n_items and b.details["n_pairable"] == a.details["n_pairable"]
