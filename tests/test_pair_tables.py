"""distinct_pairs and pair_weights' single-precision product against the earlier code."""

from __future__ import annotations

import numpy as np
import pytest

from harness.agreement._bootstrap import resample_weights
from harness.agreement._loo import distinct_pairs, pair_weights


def _old_distinct_pairs(x, ref, mask):
    uniq, inverse = np.unique(np.column_stack([x[mask], ref[mask]]), axis=0,
                              return_inverse=True)
    return uniq, inverse.ravel()


@pytest.mark.parametrize("kind", ["integer", "halves", "decimal", "constant", "empty"])
def test_distinct_pairs_equal_the_row_unique(kind: str) -> None:
    rng = np.random.default_rng(11)
    n = 400
    x = rng.integers(1, 7, n).astype(float)
    ref = {"integer": rng.integers(1, 7, n).astype(float),
           "halves": rng.integers(2, 13, n) / 2.0,
           "decimal": rng.normal(3.0, 1.0, n),
           "constant": np.full(n, 4.0),
           "empty": rng.integers(1, 7, n).astype(float)}[kind]
    if kind == "decimal":
        x = np.round(rng.normal(3.0, 1.0, n), 1)
    mask = rng.random(n) < (0.0 if kind == "empty" else 0.8)
    got_u, got_i = distinct_pairs(x, ref, mask)
    want_u, want_i = _old_distinct_pairs(x, ref, mask)
    np.testing.assert_array_equal(got_u, want_u)
    np.testing.assert_array_equal(got_i, want_i)
    assert got_u.shape == want_u.shape and got_i.shape == want_i.shape


def test_pair_weights_product_is_exact_at_crowd_size() -> None:
    """25 references of 1,056 items: the single-precision product equals the double one."""
    rng = np.random.default_rng(4)
    n, m, b = 1_056, 25, 200
    x = rng.integers(1, 7, n).astype(float)
    refs = rng.integers(2, 13, (n, m)) / 2.0
    masks = rng.random((n, m)) < 0.95
    pairs = {r: distinct_pairs(x, refs[:, r], masks[:, r]) for r in range(m)}
    got = pair_weights(pairs, masks, b, seed=2)
    items = resample_weights(np.ones(n), b, 2)
    for r, (uniq, inverse) in pairs.items():
        indicator = np.zeros((n, uniq.shape[0]))
        indicator[np.flatnonzero(masks[:, r]), inverse] = 1.0
        np.testing.assert_array_equal(got[r], items @ indicator)
        assert got[r].dtype == np.float64


@pytest.mark.parametrize("kind", ["halves", "decimal", "constant-judge", "one-reference"])
def test_leave_one_out_all_equals_one_call_per_reference(kind: str) -> None:
    from harness.agreement._loo import _leave_one_out, leave_one_out_all

    rng = np.random.default_rng(21)
    n, m = 300, 25
    x = rng.integers(1, 7, n).astype(float)
    if kind == "constant-judge":
        x[:] = 3.0
    refs = rng.integers(2, 13, (n, m)) / 2.0
    if kind == "decimal":
        refs = np.clip(rng.normal(3.5, 1.2, (n, m)), 1, 6).round(2)
    masks = rng.random((n, m)) < 0.9
    keys = [4] if kind == "one-reference" else list(range(m))
    pairs = {r: (*distinct_pairs(x, refs[:, r], masks[:, r]), masks[:, r]) for r in keys}
    if kind == "decimal":  # too many distinct pairs for the jackknife: None, as per reference
        assert leave_one_out_all(pairs, (1.0, 6.0)) is None
        assert all(_leave_one_out(u, i, mk, (1.0, 6.0)) is None for u, i, mk in pairs.values())
        small = {r: (u[:40], i[i < 40], mk & np.isin(np.cumsum(mk) - 1, np.flatnonzero(i < 40)))
                 for r, (u, i, mk) in list(pairs.items())[:5]}
        pairs = small
    with np.errstate(divide="ignore", invalid="ignore"):
        got = leave_one_out_all(pairs, (1.0, 6.0))
        assert got is not None and set(got) == set(pairs)
        for r, (uniq, inverse, mask) in pairs.items():
            want = _leave_one_out(uniq, inverse, mask, (1.0, 6.0))
            assert set(got[r]) == set(want)
            for name, vals in want.items():
                # bit for bit: stacked on a half-point grid, per reference otherwise
                np.testing.assert_array_equal(got[r][name][mask], vals[mask])


@pytest.mark.parametrize("kind", ["scores", "halves", "negative", "decimal", "inf", "neg-zero",
                                  "wide", "ints", "uints", "empty", "one", "float32"])
def test_grid_unique_equals_numpy_unique(kind: str) -> None:
    from harness.agreement._loo import grid_unique

    rng = np.random.default_rng(13)
    n = 5_000
    v = {"scores": rng.integers(1, 7, n).astype(float),
         "halves": rng.integers(2, 13, n) / 2.0,
         "negative": rng.integers(-9, 4, n) / 2.0,
         "decimal": rng.integers(1, 7, n) / 3.0,
         "inf": np.r_[rng.integers(1, 7, n).astype(float), np.inf],
         "neg-zero": np.r_[rng.integers(0, 3, n).astype(float), -0.0],
         "wide": np.r_[rng.integers(1, 7, n).astype(float), 1e9],
         "ints": rng.integers(-40, 900, n),
         "uints": rng.integers(0, 66, n).astype(np.uint32),
         "empty": np.empty(0),
         "one": np.array([2.5]),
         "float32": rng.integers(1, 7, n).astype(np.float32)}[kind]
    got_u, got_i = grid_unique(v)
    want_u, want_i = np.unique(v, return_inverse=True)
    assert got_u.dtype == want_u.dtype
    np.testing.assert_array_equal(got_u, want_u)
    np.testing.assert_array_equal(got_i, want_i.ravel())
    np.testing.assert_array_equal(np.signbit(got_u), np.signbit(want_u))
    np.testing.assert_array_equal(got_u[got_i], v)
