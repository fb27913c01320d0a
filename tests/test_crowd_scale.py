"""Crowd-scale statistics: the leave-one-out consensus from per-item summaries equals the
straightforward copy-the-table-per-rater computation, and costs O(items) memory per rater.

The reference implementations below are the ones the code used before (one copy of the
items x raters table per rater); they are kept here, simple, to check the fast ones.
"""

import statistics
import tracemalloc
import warnings

import numpy as np
import pytest

from harness.agreement import PAIRED_FIGURES, compare_to_reference
from harness.agreement._crowd import (
    item_sums,
    loo_mean_column,
    loo_mean_pairs,
    loo_means,
    loo_medians,
)
from harness.agreement._loo import reference_points
from harness.anchors import RatingsTable
from harness.drift import loo_deviations
from harness.reports import (
    ReportSettings,
    agreement_report,
    human_ceiling,
    leave_one_out_consensus,
    like_for_like_references,
)
from harness.reports._agreement import CEILING_DRAWS, _sampled_draws
from harness.sessions._review import outlier_raters

# ----------------------------------------------------------------- reference implementations


def ref_loo_mean(scores, j):
    """Mean of the raters other than j, per item: the table copied without column j."""
    others = np.delete(scores, j, axis=1)
    counts = (~np.isnan(others)).sum(axis=1)
    sums = np.nansum(others, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def ref_loo_deviations(scores, consensus):
    """Each score minus the median (or mean) of the others, one column copy per rater."""
    present = ~np.isnan(scores)
    others = present.sum(axis=1, keepdims=True) - present
    out = np.full_like(scores, np.nan)
    combine = np.nanmedian if consensus == "median" else np.nanmean
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows
        for j in range(scores.shape[1]):
            rest = np.delete(scores, j, axis=1)
            ref = combine(rest, axis=1) if rest.shape[1] else np.full(scores.shape[0], np.nan)
            out[:, j] = scores[:, j] - ref
    return np.where(present & (others >= 1), out, np.nan)


def ref_outlier_raters(scores, distance):
    if len(scores) < 3:
        return []
    return [r for r, s in scores.items()
            if abs(s - statistics.median([v for q, v in scores.items() if q != r]))
            >= distance - 1e-9]


# ----------------------------------------------------------------- tables


def random_table(seed, n=30, k=8, missing=0.3, halves=False, one_shot=0):
    """Scores 1-5 around a latent truth, with missing cells, optional half points, and
    ``one_shot`` extra raters who each scored a single item."""
    rng = np.random.default_rng(seed)
    truth = rng.normal(3, 1, n)
    s = np.clip(np.rint(truth[:, None] + rng.normal(0, 0.8, (n, k))), 1, 5)
    if halves:
        s = np.clip(s + 0.5 * (rng.random(s.shape) < 0.3), 1, 5)
    s[rng.random(s.shape) < missing] = np.nan
    if one_shot:
        extra = np.full((n, one_shot), np.nan)
        rows = rng.integers(0, n, one_shot)
        extra[rows, np.arange(one_shot)] = rng.integers(1, 6, one_shot)
        s = np.column_stack([s, extra])
    s[0, :] = np.nan  # an item nobody rated
    s[1, 1:] = np.nan  # an item one rater rated
    return s, np.clip(np.rint(truth + rng.normal(0, 1, n)), 1, 5)


def as_table(scores, rater_ids=None, scale=(1.0, 5.0)):
    n, k = scores.shape
    return RatingsTable([f"i{i:03d}" for i in range(n)],
                        rater_ids or [f"r{j:04d}" for j in range(k)], scores,
                        np.zeros(scores.shape, dtype=bool), None, scale, "test")


def one_shot_encoding(scores):
    """The same ratings, each given its own rater id (item order, then column order)."""
    rows, cols = np.nonzero(~np.isnan(scores))
    out = np.full((scores.shape[0], rows.size), np.nan)
    out[rows, np.arange(rows.size)] = scores[rows, cols]
    return out


TABLES = [dict(seed=s, **kw) for s, kw in enumerate([
    {}, {"missing": 0.0}, {"missing": 0.6}, {"halves": True}, {"k": 3, "missing": 0.1},
    {"k": 25, "missing": 0.8}, {"one_shot": 20}, {"k": 2, "missing": 0.2},
])]


# ----------------------------------------------------------------- the mean of the others


@pytest.mark.parametrize("spec", TABLES)
def test_loo_mean_from_sums_equals_the_copy_per_rater(spec):
    scores, _ = random_table(**spec)
    sums, counts = item_sums(scores)
    full = loo_means(scores)
    for j in range(scores.shape[1]):
        expected = ref_loo_mean(scores, j)
        np.testing.assert_allclose(loo_mean_column(sums, counts, scores[:, j]), expected,
                                   rtol=0, atol=1e-12)
        np.testing.assert_allclose(leave_one_out_consensus(scores, j), expected,
                                   rtol=0, atol=1e-12)
        rated = ~np.isnan(scores[:, j])
        np.testing.assert_allclose(full[:, j], np.where(rated, expected, np.nan),
                                   rtol=0, atol=1e-12)


@pytest.mark.parametrize("consensus", ["median", "mean"])
@pytest.mark.parametrize("spec", TABLES)
def test_loo_deviations_equal_the_copy_per_rater(spec, consensus):
    scores, _ = random_table(**spec)
    np.testing.assert_allclose(loo_deviations(scores, consensus),
                               ref_loo_deviations(scores, consensus), rtol=0, atol=1e-12)


def test_loo_median_of_every_size_and_tie_pattern():
    rng = np.random.default_rng(7)
    for k in range(1, 9):
        scores = rng.integers(1, 4, (200, k)).astype(float)  # many ties on a 1-3 scale
        scores[rng.random(scores.shape) < 0.25] = np.nan
        expected = scores - ref_loo_deviations(scores, "median")  # the others' median
        np.testing.assert_allclose(loo_medians(scores), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("spec", TABLES)
def test_session_outliers_equal_the_median_of_the_others_per_rater(spec):
    scores, _ = random_table(**spec)
    for distance in (1.0, 1.5, 2.0):
        for row in scores:
            item = {f"r{j}": float(v) for j, v in enumerate(row) if not np.isnan(v)}
            assert outlier_raters(item, distance) == ref_outlier_raters(item, distance)


# ----------------------------------------------------------------- the report


def _same(a, b):
    """Two AgreementResults with the same figure, reason, CI and details (to 1e-12)."""
    assert a.defined == b.defined and a.reason == b.reason and a.n_items == b.n_items
    if a.defined:
        assert abs(a.value - b.value) <= 1e-12
    assert (a.ci95 is None) == (b.ci95 is None)
    if a.ci95 is not None:
        np.testing.assert_allclose(a.ci95, b.ci95, rtol=0, atol=1e-12)
    assert a.details.keys() == b.details.keys()


@pytest.mark.parametrize("spec", TABLES)
def test_rater_rows_and_references_equal_the_copy_per_rater(spec):
    scores, judge = random_table(**spec)
    table = as_table(scores)
    rep = agreement_report(table, judge_scores=judge, settings=ReportSettings(n_resamples=50))
    rows = rep.human["raters"]
    assert [r["rater_id"] for r in rows] == table.rater_ids
    for j, row in enumerate(rows):
        ref = ref_loo_mean(scores, j)
        expected = compare_to_reference(scores[:, j], ref, scale=(1.0, 5.0), n_resamples=0)
        assert row["n_items"] == int((~np.isnan(scores[:, j]) & ~np.isnan(ref)).sum())
        for name, res in expected.items():
            _same(row["figures"][name], res)
    refs, method = like_for_like_references(table, rows)
    if method == "per-rater":
        eligible = [j for j, r in enumerate(rows) if r["n_items"] >= max(3, 0.5 * scores.shape[0])]
        expected = np.column_stack([np.where(np.isnan(scores[:, j]), np.nan,
                                             ref_loo_mean(scores, j)) for j in eligible])
        np.testing.assert_allclose(refs, expected, rtol=0, atol=1e-12)


def _draws_reference(scores, one, rest):
    """``one`` is one of each usable item's ratings and ``rest`` the mean of the others."""
    n = (~np.isnan(scores)).sum(axis=1)
    for i in range(scores.shape[0]):
        if n[i] < 2:
            assert np.isnan(one[i]) and np.isnan(rest[i])
            continue
        vals = list(scores[i][~np.isnan(scores[i])])
        assert one[i] in vals
        vals.remove(one[i])
        assert abs(rest[i] - np.mean(vals)) <= 1e-12


@pytest.mark.parametrize("spec", TABLES)
def test_sampled_draws_pick_one_rating_per_item(spec):
    scores, _ = random_table(**spec)
    draws = list(_sampled_draws(scores, seed=3))
    assert len(draws) == CEILING_DRAWS
    for one, rest in draws[:20]:
        _draws_reference(scores, one, rest)


def test_sampled_draws_are_uniform_over_an_items_ratings():
    # one item with ratings 1..4: each is drawn about 1/4 of the time (200 draws x 50 items)
    scores = np.tile(np.array([1.0, np.nan, 2.0, 3.0, np.nan, 4.0]), (50, 1))
    picks = np.concatenate([one for one, _ in _sampled_draws(scores, seed=0)])
    shares = np.bincount(picks.astype(int), minlength=5)[1:] / picks.size
    np.testing.assert_allclose(shares, 0.25, atol=0.02)


def test_the_sampled_ceiling_does_not_depend_on_how_raters_are_encoded():
    # the demo's crowd: the same ratings as 88 raters or as one-shot raters (one id per
    # rating) are the same draws, the same ceiling and the same like-for-like figures
    scores, judge = random_table(seed=11, n=40, k=30, missing=0.85)
    few, shot = as_table(scores), as_table(one_shot_encoding(scores))
    settings = ReportSettings(n_resamples=50)
    a = agreement_report(few, judge_scores=judge, settings=settings)
    b = agreement_report(shot, judge_scores=judge, settings=settings)
    assert a.judge["ceiling_method"] == b.judge["ceiling_method"] == "sampled single rater"
    assert a.judge["ceiling"] == b.judge["ceiling"]
    for name, res in a.judge["figures"].items():
        if name != "alt_test":
            _same(res, b.judge["figures"][name])


# ----------------------------------------------------------------- memory per rater


def _peak(fn):
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_ceiling_and_references_never_copy_the_table():
    # 300 items x 3,000 one-shot raters: the table is 7.2 MB. One temporary of its size (the
    # items' sums) is fine; a copy of it per rater (the table without the rater's column)
    # or a random matrix of its size per draw is what made crowd tables slow
    rng = np.random.default_rng(0)
    scores = np.full((300, 3000), np.nan)
    scores[np.repeat(np.arange(300), 10), np.arange(3000)] = rng.integers(1, 6, 3000)
    table = as_table(scores)
    size = scores.nbytes
    rows = [{"rater_id": r, "n_items": 1, "figures": {}} for r in table.rater_ids]
    assert _peak(lambda: list(_sampled_draws(scores, seed=0))) < size / 4
    assert _peak(lambda: human_ceiling(table, rows, (1.0, 5.0))) < size / 4
    assert _peak(lambda: like_for_like_references(table, rows)) < size / 4
    assert _peak(lambda: [leave_one_out_consensus(scores, j) for j in range(50)]) < 1.5 * size
    crossed = as_table(np.tile(scores[:, :1], (1, 3000)))  # every rater eligible: per-rater
    rows = [{"rater_id": r, "n_items": 300, "figures": {}} for r in crossed.rater_ids]
    refs, method = like_for_like_references(crossed, rows)
    assert method == "per-rater" and refs.shape == (300, 3000)
    assert _peak(lambda: like_for_like_references(crossed, rows)) < 2.5 * size  # refs + 1


# ----------------------------------------------------------------- the judge's bootstrap


def ref_bootstrap_replicates(x, refs, scale, n_resamples, seed):
    """The judge's bootstrap as first written: a (B, n) matrix of item counts, and every
    figure computed on all n items of each reference with those counts as weights."""
    from harness.agreement._bootstrap import resample_weights
    from harness.agreement._loo import MAX_BOOTSTRAP_REFERENCES
    from harness.agreement._paired import weighted_figures

    covered = ~np.isnan(x)[:, None] & ~np.isnan(refs)
    rows = np.flatnonzero(covered.any(axis=1))
    w = resample_weights(np.ones(rows.size), n_resamples, seed)
    m = refs.shape[1]
    boot = range(m) if m <= MAX_BOOTSTRAP_REFERENCES else sorted(
        {int(i) for i in np.linspace(0, m - 1, MAX_BOOTSTRAP_REFERENCES).round()})
    out = []
    for r in boot:
        mask = covered[rows, r]
        if mask.sum() >= 3:
            out.append(weighted_figures(x[rows][mask], refs[rows, r][mask], w[:, mask],
                                        scale=scale))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_judge_bootstrap_on_distinct_pairs_equals_the_item_level_one(seed, monkeypatch):
    # a 1-40 scale: more distinct pairs than the jackknife takes, so the percentile
    # interval of the bootstrap is the one reported
    from harness.agreement import _bootstrap
    from harness.agreement._bootstrap import with_percentile_ci
    from harness.agreement._loo import compare_to_references

    rng = np.random.default_rng(seed)
    n, m = 300, (4, 12, 30)[seed]
    truth = rng.uniform(1, 40, n)
    x = np.clip(np.rint(truth + rng.normal(0, 4, n)), 1, 40)
    refs = np.clip(np.rint(2 * (truth[:, None] + rng.normal(0, 3, (n, m)))) / 2, 1, 40)
    refs[rng.random(refs.shape) < 0.2] = np.nan
    x[:3] = np.nan
    monkeypatch.setattr(_bootstrap, "WEIGHT_BLOCK_CELLS", 1000)  # many small blocks
    got = compare_to_references(x, refs, scale=(1, 40), n_resamples=60, seed=seed)
    reps = ref_bootstrap_replicates(x, refs, (1, 40), 60, seed)
    checked = 0
    for name, res in got.items():
        if not (res.ci_method or "").startswith("bootstrap"):
            continue
        avg = np.mean(np.vstack([r[name] for r in reps]), axis=0)
        want = with_percentile_ci(res, avg, n_resamples=60, seed=seed, confidence=0.95)
        np.testing.assert_allclose(res.ci95, want.ci95, rtol=0, atol=1e-12)
        checked += 1
    assert checked >= 5


def test_weight_blocks_are_the_resample_weights():
    from harness.agreement._bootstrap import resample_weight_blocks, resample_weights

    counts = np.array([3.0, 1.0, 5.0, 2.0])
    whole = resample_weights(counts, 101, seed=4)
    for cells in (1, 7, 40, 10_000):
        blocks = list(resample_weight_blocks(counts, 101, seed=4, max_cells=cells))
        assert all(b.shape[0] * 4 <= max(cells, 4) for b in blocks)
        np.testing.assert_array_equal(np.vstack(blocks), whole)


# ----------------------------------------------------------------- many references at once


def ref_reference_points(pairs, scale):
    """One :func:`compare_to_reference` per (scores, reference) pair, as the code did."""
    out = {name: [] for name in PAIRED_FIGURES}
    for x, ref in pairs:
        figs = compare_to_reference(x, ref, scale=scale, n_resamples=0)
        for name in PAIRED_FIGURES:
            out[name].append(figs[name].value if figs[name].defined else np.nan)
    return {name: np.array(v, dtype=float) for name, v in out.items()}


def _assert_points_equal(got, want):
    assert got.keys() == want.keys()
    for name in want:
        assert got[name].shape == want[name].shape, name
        np.testing.assert_array_equal(np.isnan(got[name]), np.isnan(want[name]), err_msg=name)
        np.testing.assert_allclose(got[name], want[name], rtol=0, atol=1e-12, err_msg=name)


def _draw_pairs(spec):
    scores, judge = random_table(**spec)
    return ([(judge, col) for col in loo_means(scores).T]  # the judge vs each rater's ref
            + [(one, rest) for one, rest in _sampled_draws(scores, seed=spec["seed"])][:40])


@pytest.mark.parametrize("spec", TABLES)
def test_reference_points_equal_one_compare_per_reference(spec):
    # one-shot raters, missing cells, an item nobody rated, constant and tiny references
    # (a one-shot rater's reference has one item): every figure as compare_to_reference's
    pairs = _draw_pairs(spec)
    _assert_points_equal(reference_points(pairs, scale=(1.0, 5.0)),
                         ref_reference_points(pairs, (1.0, 5.0)))


def test_reference_points_on_edge_cases_and_small_blocks(monkeypatch):
    from harness.agreement import _loo

    rng = np.random.default_rng(5)
    x = rng.integers(1, 6, 40).astype(float)
    base = np.clip(x + rng.normal(0, 1, 40), 1, 5)
    nan = np.full(40, np.nan)
    pairs = [
        (x, base), (x, np.full(40, 3.0)),  # a constant reference
        (np.full(40, 2.0), base),  # constant scores
        (x, np.where(np.arange(40) < 2, base, np.nan)),  # 2 items: no correlation
        (x, np.where(np.arange(40) < 3, base, np.nan)),  # 3 items
        (x, nan), (nan, base),  # nothing in common
        (x, np.full(40, 3.4)),  # constant after rounding, not before
        (np.where(x > 3, 4.6, 4.4), base),  # 4.4 and 4.6: two values, one after rounding
        (x, x), (x, 6 - x),  # perfect agreement, perfect reversal
    ]
    want = ref_reference_points(pairs, (1.0, 5.0))
    _assert_points_equal(reference_points(pairs, scale=(1.0, 5.0)), want)
    _assert_points_equal(reference_points(iter(pairs), scale=(1.0, 5.0)), want)  # a generator
    monkeypatch.setattr(_loo, "POINT_BLOCK_CELLS", 50)  # one reference per block
    _assert_points_equal(reference_points(pairs, scale=(1.0, 5.0)), want)
    monkeypatch.setattr(_loo, "MAX_POINT_TABLE_CELLS", 10)  # every block the slow way
    _assert_points_equal(reference_points(pairs, scale=(1.0, 5.0)), want)
    assert all(v.size == 0 for v in reference_points([], scale=(1.0, 5.0)).values())


def test_reference_points_on_decimal_scores_and_a_wide_scale():
    # many distinct decimals (large tables: part of the blocks go the slow way) and a 0-100
    # scale; and the same on a non-integer scale, where no kernel serves
    rng = np.random.default_rng(9)
    x = np.round(rng.uniform(0, 100, 300), 1)
    pairs = [(x, np.round(np.clip(x + rng.normal(0, 10, 300), 0, 100), 2)) for _ in range(6)]
    pairs += [(np.rint(x), np.rint(np.clip(x + rng.normal(0, 5, 300), 0, 100)))
              for _ in range(6)]
    for scale in ((0.0, 100.0), (0.5, 100.5)):
        _assert_points_equal(reference_points(pairs, scale=scale),
                             ref_reference_points(pairs, scale))


def ref_human_ceiling_bands(table, scale, seed=0):
    """The sampled ceiling's values as first written: one compare_to_reference per draw."""
    from harness.reports._agreement import _band

    bands = {name: [] for name in PAIRED_FIGURES}
    for one, rest in _sampled_draws(table.scores, seed):
        figs = compare_to_reference(one, rest, scale=scale, n_resamples=0)
        for name in PAIRED_FIGURES:
            if figs[name].defined:
                bands[name].extend(_band(name, [figs[name].value]))
    return bands


@pytest.mark.parametrize("spec", [t for t in TABLES if t.get("missing", 0.3) >= 0.3])
def test_sampled_ceiling_equals_one_compare_per_draw(spec):
    scores, _ = random_table(**spec)
    for table in (as_table(scores), as_table(one_shot_encoding(scores))):
        rows = [{"rater_id": r, "n_items": 1, "figures": {}} for r in table.rater_ids]
        got = human_ceiling(table, rows, (1.0, 5.0), seed=2)
        assert got["method"] == "sampled single rater"
        for name, vals in ref_human_ceiling_bands(table, (1.0, 5.0), seed=2).items():
            fig = got["figures"][name]
            assert fig["n"] == len(vals)
            if vals:
                assert abs(fig["median"] - float(np.median(vals))) <= 1e-12
                lo, hi = np.percentile(vals, [2.5, 97.5])
                assert abs(fig["min"] - lo) <= 1e-12 and abs(fig["max"] - hi) <= 1e-12


def ref_compare_points(x, refs, scale):
    """compare_to_references' points as first written: one compare_to_reference each."""
    m = refs.shape[1]
    per_ref = [compare_to_reference(x, refs[:, r], scale=scale, n_resamples=0)
               for r in range(m)]
    out = {}
    for name in PAIRED_FIGURES:
        ok = [r for r in range(m) if per_ref[r][name].defined]
        reason = per_ref[0][name].reason if m else "no reference"
        out[name] = (per_ref[ok[0]][name].statistic if ok else None,
                     [float(per_ref[r][name].value) for r in ok], None if ok else reason)
    return out


@pytest.mark.parametrize("spec", TABLES)
def test_compare_to_references_points_equal_one_compare_per_reference(spec):
    from harness.agreement._loo import compare_to_references

    scores, judge = random_table(**spec)
    cases = [loo_means(scores), np.column_stack(
        [rest for _, rest in _sampled_draws(scores, seed=1)][:30] or [np.full(len(judge), 1.0)])]
    cases.append(np.full((len(judge), 2), 3.0))  # constant references: undefined figures
    for refs in cases:
        got = compare_to_references(judge, refs, scale=(1.0, 5.0), n_resamples=0)
        for name, (statistic, vals, reason) in ref_compare_points(judge, refs,
                                                                  (1.0, 5.0)).items():
            res = got[name]
            if vals:
                assert res.statistic == statistic
                assert res.details["n_references"] == len(vals)
                np.testing.assert_allclose(res.details["per_reference"], vals, rtol=0,
                                           atol=1e-12)
                assert abs(res.value - float(np.mean(vals))) <= 1e-12
            else:
                assert not res.defined
                assert res.reason == f"{reason}, against every reference"


def test_many_references_do_not_call_the_statistics_once_each(monkeypatch):
    # the sampled ceiling's 200 draws and the judge's 200 references: a handful of full
    # compare_to_reference evaluations (the first reference's names; references too small
    # or constant for the kernels), not one per reference
    from harness.agreement import _loo
    from harness.reports import _agreement

    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        return compare_to_reference(*args, **kwargs)

    monkeypatch.setattr(_loo, "compare_to_reference", counted)
    monkeypatch.setattr(_agreement, "compare_to_reference", counted)
    scores, judge = random_table(seed=4, n=200, k=40, missing=0.9)
    table = as_table(one_shot_encoding(scores))
    rows = [{"rater_id": r, "n_items": 1, "figures": {}} for r in table.rater_ids]
    ceiling = human_ceiling(table, rows, (1.0, 5.0))
    assert ceiling["method"] == "sampled single rater" and ceiling["n"] == CEILING_DRAWS
    assert len(calls) <= 2
    refs, _ = like_for_like_references(table, rows)
    calls.clear()
    _loo.compare_to_references(judge, refs, scale=(1.0, 5.0), n_resamples=20)
    assert refs.shape[1] == CEILING_DRAWS and len(calls) <= 2


@pytest.mark.parametrize(("cells", "per_covered"), [(500, 32), (10**7, 10**6)],
                         ids=["reduceat", "indicator-product"])
def test_pair_weights_equal_the_item_counts_summed_per_pair(monkeypatch, cells, per_covered):
    from harness.agreement import _bootstrap, _loo
    from harness.agreement._bootstrap import resample_weights
    from harness.agreement._loo import distinct_pairs, pair_weights

    monkeypatch.setattr(_loo, "MATMUL_CELLS_PER_COVERED", per_covered)

    rng = np.random.default_rng(3)
    n, m = 120, 5
    x = rng.integers(1, 6, n).astype(float)
    refs = rng.integers(2, 11, (n, m)) / 2.0
    masks = rng.random((n, m)) < 0.7
    pairs = {r: distinct_pairs(x, refs[:, r], masks[:, r]) for r in (0, 2, 3, 4)}
    monkeypatch.setattr(_bootstrap, "WEIGHT_BLOCK_CELLS", cells)  # 500: several blocks
    got = pair_weights(pairs, masks, 33, seed=8)
    items = resample_weights(np.ones(n), 33, 8)  # (B, n) counts of the items
    for r, (uniq, inverse) in pairs.items():
        want = np.zeros((33, uniq.shape[0]))
        for k, i in enumerate(np.flatnonzero(masks[:, r])):
            want[:, inverse[k]] += items[:, i]
        np.testing.assert_array_equal(got[r], want)
        assert got[r].flags["C_CONTIGUOUS"]


@pytest.mark.parametrize("spec", TABLES)
def test_loo_mean_pairs_are_the_column_means_on_the_rated_items(spec):
    scores, _ = random_table(**spec)
    sums, counts = item_sums(scores)
    pairs = list(loo_mean_pairs(scores))
    assert len(pairs) == scores.shape[1]
    for j, (items, own, others) in enumerate(pairs):
        ref = ref_loo_mean(scores, j)
        both = np.flatnonzero(~np.isnan(scores[:, j]) & ~np.isnan(ref))
        np.testing.assert_array_equal(items, both)
        np.testing.assert_array_equal(own, scores[both, j])
        np.testing.assert_array_equal(others, loo_mean_column(sums, counts, scores[:, j])[both])
    rows = agreement_report(as_table(scores), settings=ReportSettings(n_resamples=0)).human[
        "raters"]
    for j, row in enumerate(rows):  # the same figures, details included
        want = compare_to_reference(scores[:, j], ref_loo_mean(scores, j), scale=(1.0, 5.0),
                                    n_resamples=0)
        for name, res in want.items():
            assert row["figures"][name].details.get("n_pairs_dropped") == res.details.get(
                "n_pairs_dropped")
            assert row["figures"][name].value == res.value
