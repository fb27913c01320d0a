"""The per-item spread from the observed cells equals the dense computation it replaced."""

from __future__ import annotations

import numpy as np
import pytest

from harness.anchors import RatingsTable
from harness.reports._agreement import _item_spread


def dense_spread(scores: np.ndarray) -> dict[str, np.ndarray]:
    """The dense code before the cells-only version: mean, median, sd, range per item."""
    present = ~np.isnan(scores)
    n = present.sum(axis=1)
    some, pairs = n >= 1, n >= 2
    safe = np.where(present, scores, 0.0)
    with np.errstate(invalid="ignore"):
        mean = np.where(some, safe.sum(axis=1) / np.maximum(n, 1), np.nan)
        dev = np.where(present, scores - mean[:, None], 0.0)
    sd = np.where(pairs, np.sqrt((dev**2).sum(axis=1) / np.maximum(n - 1, 1)), np.nan)
    rng = np.where(pairs, np.where(present, scores, -np.inf).max(axis=1)
                   - np.where(present, scores, np.inf).min(axis=1), np.nan)
    ordered = np.sort(np.where(present, scores, np.inf), axis=1)
    idx = np.arange(scores.shape[0])
    median = np.where(some, (ordered[idx, np.maximum((n - 1) // 2, 0)] + ordered[
        idx, np.minimum(np.maximum(n // 2, 0), scores.shape[1] - 1)]) / 2.0, np.nan)
    return {"mean": mean, "median": median, "sd": sd, "range": rng, "n_ratings": n}


def _tables():
    rng = np.random.default_rng(8)
    for n, k, p in ((40, 5, 0.7), (30, 60, 0.08), (25, 3, 1.0)):
        x = rng.integers(2, 11, (n, k)) / 2.0
        x[rng.random((n, k)) > p] = np.nan
        x[0] = np.nan  # an item nobody rated
        x[1] = np.nan
        x[1, 0] = 3.0  # one rating
        yield x
    yield np.full((4, 3), np.nan)  # no rating at all


@pytest.mark.parametrize("scores", list(_tables()))
def test_cells_only_spread_equals_the_dense_oracle(scores):
    ids = [f"i{i:02d}" for i in range(scores.shape[0])]
    table = RatingsTable(ids, [f"r{j}" for j in range(scores.shape[1])], scores,
                         np.zeros(scores.shape, dtype=bool), None, (1.0, 5.0), "t")
    consensus = np.nanmean(np.where(np.isnan(scores).all(axis=1)[:, None], 0.0, scores), axis=1)
    out = {row["item_id"]: row for row in _item_spread(table, consensus, (1.0, 5.0), 1.0)}
    want = dense_spread(scores)
    for i, item in enumerate(ids):
        for key in ("mean", "median", "sd", "range"):
            got = out[item][key]
            if np.isnan(want[key][i]):
                assert got is None, (item, key)
            else:
                assert got == pytest.approx(float(want[key][i]), rel=1e-12, abs=1e-12)
        assert out[item]["n_ratings"] == want["n_ratings"][i]
    sd = {item: -1.0 if r["sd"] is None else r["sd"] for item, r in out.items()}
    assert list(out) == sorted(ids, key=lambda item: (-sd[item], item))  # worst first


def test_median_of_is_numpys_median_bit_for_bit():
    from harness.reports._agreement import median_of

    rng = np.random.default_rng(2)
    for size in (1, 2, 3, 10, 11, 101):
        for _ in range(20):
            v = rng.normal(0, 3, size) * 10.0 ** rng.integers(-5, 5)
            assert median_of(v) == float(np.median(v))
            assert median_of(list(v)) == float(np.median(v))
