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


def _dense_item_sums(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    present = ~np.isnan(scores)
    return np.where(present, scores, 0.0).sum(axis=1), present.sum(axis=1)


@pytest.mark.parametrize("kind", ["integer", "halves", "decimal", "huge", "inf", "empty"])
def test_item_sums_equal_the_dense_row_sums_bit_for_bit(kind: str) -> None:
    from harness.agreement._crowd import item_sums

    rng = np.random.default_rng(9)
    shape = (60, 400)
    vals = {"integer": rng.integers(1, 7, shape).astype(float),
            "halves": rng.integers(2, 13, shape) / 2.0,
            "decimal": rng.normal(3.0, 1.0, shape),
            "huge": rng.integers(1, 7, shape) * 2.0**50,
            "inf": np.where(rng.random(shape) < 0.01, np.inf, 1.0),
            "empty": np.ones(shape)}[kind]
    keep = rng.random(shape) < (0.0 if kind == "empty" else 0.3)
    keep[0] = False  # an item nobody rated
    x = np.where(keep, vals, np.nan)
    sums, counts = item_sums(x)
    want_s, want_c = _dense_item_sums(x)
    np.testing.assert_array_equal(sums, want_s)
    np.testing.assert_array_equal(counts, want_c)
    assert counts.dtype == want_c.dtype


def test_mean_consensus_is_the_nan_mean() -> None:
    from harness.reports._agreement import _mean_consensus

    rng = np.random.default_rng(2)
    x = np.where(rng.random((80, 200)) < 0.05, rng.integers(1, 6, (80, 200)).astype(float),
                 np.nan)
    counts = (~np.isnan(x)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        want = np.where(counts > 0, np.nansum(x, axis=1) / np.maximum(counts, 1), np.nan)
    np.testing.assert_array_equal(_mean_consensus(x), want)


def test_shared_cells_scan_each_array_once_and_read_only(monkeypatch) -> None:
    from harness.agreement import _matrix

    calls = []
    real = _matrix.present_cells
    monkeypatch.setattr(_matrix, "present_cells", lambda m: calls.append(m.shape) or real(m))
    monkeypatch.setattr(_matrix, "SHARED_CELLS_MIN", 10)
    rng = np.random.default_rng(1)
    x = np.where(rng.random((20, 30)) < 0.2, 1.0, np.nan)
    y = x.copy()
    with _matrix.shared_cells():
        a = observed_cells(x)
        b = observed_cells(x)
        c = observed_cells(y)  # another object: scanned on its own
        assert a[0] is b[0] and c[0] is not a[0]
        with pytest.raises(ValueError):
            a[0][0] = 5  # shared arrays are read-only
    assert len(calls) == 2
    observed_cells(x)  # the memo ends with the block
    assert len(calls) == 3
    np.testing.assert_array_equal(a[0], np.nonzero(~np.isnan(x))[0])


def test_the_report_is_the_same_with_and_without_shared_cells(monkeypatch) -> None:
    import json

    from harness.agreement import _matrix
    from harness.anchors import RatingsTable
    from harness.reports import ReportSettings, agreement_report

    rng = np.random.default_rng(7)
    n, k = 120, 360  # one-shot raters: 3 ratings per item
    x = np.full((n, k), np.nan)
    x[np.repeat(np.arange(n), 3), rng.permutation(k)] = rng.integers(1, 6, k)
    table = RatingsTable([f"i{i}" for i in range(n)], [f"r{j}" for j in range(k)], x,
                         np.zeros(x.shape, dtype=bool), None, (1.0, 5.0), "t")
    judge = np.clip(np.rint(np.nanmean(x, axis=1) + rng.normal(0, 0.7, n)), 1, 5)
    settings = ReportSettings(n_resamples=50)
    monkeypatch.setattr(_matrix, "SHARED_CELLS_MIN", 1)
    shared = json.dumps(agreement_report(table, judge_scores=judge, settings=settings).to_dict())
    monkeypatch.setattr(_matrix, "SHARED_CELLS_MIN", 10**12)
    alone = json.dumps(agreement_report(table, judge_scores=judge, settings=settings).to_dict())
    assert shared == alone


def test_exact_pair_sums_only_on_a_moderate_half_point_grid() -> None:
    """The demo's sampled references are means of many ratings (not on a half-point grid):
    its jackknife must take the per-reference path and keep the last bits."""
    from harness.agreement._loo import _exact_pair_sums

    assert _exact_pair_sums(np.array([[1.0, 2.5], [6.0, 3.5]]), 1_056)
    assert not _exact_pair_sums(np.array([[1.0, 2.0 / 3.0]]), 1_056)
    assert not _exact_pair_sums(np.array([[1.0, 2.5e4]]), 1_056)
    assert not _exact_pair_sums(np.array([[1.0, 2.5]]), 2_000_000)
