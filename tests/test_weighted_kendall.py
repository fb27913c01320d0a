"""The weighted Kendall tau-b by matrix products equals the cumulative-sum code it replaced."""

from __future__ import annotations

import numpy as np
import pytest

from harness.agreement import kendall_tau_b
from harness.agreement._paired import _weighted_kendall_tau_b


def cumsum_tau_b(x, y, w):
    """The code before the matrix products (the oracle)."""
    w = np.atleast_2d(w)
    n = w.sum(axis=1)
    vx, ix = np.unique(x, return_inverse=True)
    vy, iy = np.unique(y, return_inverse=True)
    one_hot = np.zeros((x.size, vx.size * vy.size))
    one_hot[np.arange(x.size), ix * vy.size + iy] = 1.0
    t = (w @ one_hot).reshape(w.shape[0], vx.size, vy.size)
    b = t.shape[0]
    ge = t[:, ::-1, ::-1].cumsum(axis=1).cumsum(axis=2)[:, ::-1, ::-1]
    ge_le = t[:, ::-1, :].cumsum(axis=1)[:, ::-1, :].cumsum(axis=2)
    after = np.zeros_like(t)
    after[:, :-1, :-1] = ge[:, 1:, 1:]
    below = np.zeros_like(t)
    below[:, :-1, 1:] = ge_le[:, 1:, :-1]
    conc = (t * after).reshape(b, -1).sum(axis=1)
    disc = (t * below).reshape(b, -1).sum(axis=1)
    rows, cols = t.sum(axis=2), t.sum(axis=1)
    n0 = n * (n - 1) / 2.0
    n1 = (rows * (rows - 1) / 2.0).sum(axis=1)
    n2 = (cols * (cols - 1) / 2.0).sum(axis=1)
    den = np.sqrt((n0 - n1) * (n0 - n2))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, (conc - disc) / den, np.nan)


def _pairs(seed: int, nx: int, ny: int):
    rng = np.random.default_rng(seed)
    cells = np.array([(a, b) for a in range(nx) for b in range(ny)], dtype=float)
    keep = cells[rng.random(len(cells)) < 0.7] if len(cells) > 2 else cells
    return keep[:, 0] + 1.0, keep[:, 1] / 2.0 + 1.0


@pytest.mark.parametrize("sign_pairs", [256, 0], ids=["sign-matrix", "contingency"])
@pytest.mark.parametrize(("nx", "ny"), [(6, 11), (1, 5), (4, 1), (20, 30), (2, 2)])
def test_matrix_products_equal_the_cumsum_code(nx, ny, sign_pairs, monkeypatch):
    from harness.agreement import _paired

    monkeypatch.setattr(_paired, "SIGN_MATRIX_PAIRS", sign_pairs)
    x, y = _pairs(nx * 100 + ny, nx, ny)
    rng = np.random.default_rng(1)
    counts = rng.multinomial(300, np.ones(x.size) / x.size, size=200).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        got = _weighted_kendall_tau_b(x, y, counts, counts.sum(axis=1))
        np.testing.assert_array_equal(got, cumsum_tau_b(x, y, counts))  # counts: exact
        frac = counts * rng.random(counts.shape)
        np.testing.assert_allclose(_weighted_kendall_tau_b(x, y, frac, frac.sum(axis=1)),
                                   cumsum_tau_b(x, y, frac), rtol=1e-12, atol=1e-15)


def test_unit_weights_give_kendalls_tau_b():
    rng = np.random.default_rng(4)
    x = rng.integers(1, 6, 40).astype(float)
    y = rng.integers(2, 11, 40) / 2.0
    got = _weighted_kendall_tau_b(x, y, np.ones((1, 40)), np.array([40.0]))[0]
    assert got == pytest.approx(kendall_tau_b(x, y).value, rel=1e-12)


def old_weighted_spearman(x, y, w, n):
    """The mid-ranks per pair and the weighted Pearson over the pairs (the oracle)."""

    def midranks(values):
        levels, idx = np.unique(values, return_inverse=True)
        one_hot = np.zeros((values.size, levels.size))
        one_hot[np.arange(values.size), idx] = 1.0
        per_level = w @ one_hot
        below = np.cumsum(per_level, axis=1) - per_level
        return (below + (per_level + 1.0) / 2.0)[:, idx]

    a, b = midranks(x), midranks(y)
    ma = (w * a).sum(axis=1) / n
    mb = (w * b).sum(axis=1) / n
    saa = (w * a * a).sum(axis=1) / n - ma**2
    sbb = (w * b * b).sum(axis=1) / n - mb**2
    sab = (w * a * b).sum(axis=1) / n - ma * mb
    tiny = 1e-12 * np.maximum(1.0, np.maximum(np.abs(ma), np.abs(mb))) ** 2
    r = sab / np.sqrt(saa * sbb)
    return np.where((saa > tiny) & (sbb > tiny), r, np.nan)


@pytest.mark.parametrize(("nx", "ny"), [(6, 11), (1, 5), (4, 1), (20, 30), (2, 2)])
def test_spearman_from_value_sums_equals_the_pairwise_code(nx, ny):
    from harness.agreement._paired import _weighted_spearman

    x, y = _pairs(nx * 100 + ny + 7, nx, ny)
    rng = np.random.default_rng(2)
    counts = rng.multinomial(300, np.ones(x.size) / x.size, size=200).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        n = counts.sum(axis=1)
        np.testing.assert_array_equal(_weighted_spearman(x, y, counts, n),
                                      old_weighted_spearman(x, y, counts, n))  # exact
        frac = counts * rng.random(counts.shape)
        n = frac.sum(axis=1)
        np.testing.assert_allclose(_weighted_spearman(x, y, frac, n),
                                   old_weighted_spearman(x, y, frac, n), rtol=1e-12,
                                   atol=1e-14)
