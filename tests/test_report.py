"""The agreement report: human reliability, the human ceiling, the judge panel."""

import json
import warnings

import numpy as np
import pytest

from harness.agreement import spearman
from harness.anchors import RatingsTable
from harness.reports import ReportSettings, agreement_report, leave_one_out_consensus, position


def _table(scores, *, na=None, rater_ids=None, scale=(1.0, 5.0), consensus=None):
    scores = np.asarray(scores, dtype=float)
    n, k = scores.shape
    return RatingsTable(
        item_ids=[f"i{i:03d}" for i in range(n)],
        rater_ids=rater_ids or [f"r{j}" for j in range(k)],
        scores=scores,
        na=np.zeros(scores.shape, dtype=bool) if na is None else np.asarray(na),
        consensus=consensus,
        scale=scale,
        source="test",
    )


def _panel(n=120, k=5, seed=0, judge_noise=0.6, judge_offset=0.0):
    rng = np.random.default_rng(seed)
    truth = rng.normal(3, 1.1, n)
    humans = np.clip(np.rint(truth[:, None] + rng.normal(0, 0.6, (n, k))), 1, 5)
    judge = np.clip(np.rint(truth + judge_offset + rng.normal(0, judge_noise, n)), 1, 5)
    return humans, judge


SETTINGS = ReportSettings(n_resamples=200, seed=0)


def test_a_humanlike_judge_is_inside_the_range_of_5_humans():
    # 5 raters: the point decides (the judge's 0.83 is inside the humans' 0.74-0.84).
    humans, judge = _panel()
    table = _table(np.column_stack([humans, judge]), rater_ids=[*"abcde", "judge"])
    rep = agreement_report(table, judge="judge", settings=SETTINGS)
    assert rep.human_rater_ids == list("abcde")
    j = rep.judge
    band = j["ceiling"]["icc"]
    assert band["n"] == 5 and band["min"] <= j["figures"]["icc"].value <= band["max"]
    assert j["position"]["icc"] == "within"
    assert "INSIDE" in j["verdict"]
    lo, hi = j["figures"]["icc"].ci95
    assert lo < j["figures"]["icc"].value < hi


def test_with_3_humans_the_judges_ci_not_its_point_meets_the_range():
    # 3 raters: the range is three numbers, and the judge's whole CI must be inside it.
    humans, judge = _panel(k=3)
    table = _table(np.column_stack([humans, judge]), rater_ids=[*"abc", "judge"])
    rep = agreement_report(table, judge="judge", settings=SETTINGS)
    j = rep.judge
    band, fig = j["ceiling"]["icc"], j["figures"]["icc"]
    assert band["n"] == 3
    lo, hi = fig.ci95
    assert lo < band["min"] or hi > band["max"]  # the CI is wider than the range
    assert j["position"]["icc"] == "overlaps"
    assert "UNDECIDED" in j["verdict"] and "only 3 raters" in j["verdict"]


def test_a_random_judge_is_below_every_human():
    humans, _ = _panel(seed=1)
    rng = np.random.default_rng(5)
    judge = rng.integers(1, 6, humans.shape[0]).astype(float)
    rep = agreement_report(_table(humans), judge_scores=judge, settings=SETTINGS)
    assert rep.judge["position"]["spearman"] == "below"
    assert rep.judge["position"]["mae"] == "below"
    assert "BELOW the human range" in rep.judge["verdict"]


def test_a_constant_judge_is_called_out_and_rank_figures_are_undefined():
    humans, _ = _panel(seed=2)
    judge = np.ones(humans.shape[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rep = agreement_report(_table(humans), judge_scores=judge, settings=SETTINGS)
    assert any("same score (1)" in w for w in rep.warnings)
    assert rep.judge["figures"]["spearman"].value is None
    assert rep.judge["figures"]["spearman"].reason
    json.dumps(rep.to_dict(), allow_nan=False)  # no NaN anywhere in the document


def test_ceiling_is_each_human_against_the_others():
    humans, judge = _panel(n=60, k=4, seed=3)
    rep = agreement_report(_table(humans), judge_scores=judge,
                           settings=ReportSettings(n_resamples=0))
    expected = []
    for j in range(humans.shape[1]):
        ref = leave_one_out_consensus(humans, j)
        expected.append(spearman(humans[:, j], ref).value)
    band = rep.judge["ceiling"]["spearman"]
    assert band["median"] == pytest.approx(np.median(expected))
    assert band["min"] == pytest.approx(min(expected))
    assert band["max"] == pytest.approx(max(expected))
    assert band["n"] == 4
    assert rep.judge["ceiling_method"] == "per-rater"


def test_chance_baseline_is_the_modal_consensus_score():
    humans, judge = _panel(n=80, seed=4)
    rep = agreement_report(_table(humans), judge_scores=judge, settings=SETTINGS)
    base = rep.judge["baseline"]
    rounded = np.clip(np.floor(humans.mean(axis=1) + 0.5), 1, 5)
    vals, counts = np.unique(rounded, return_counts=True)
    assert base["score"] == vals[np.argmax(counts)]
    assert base["figures"]["weighted_kappa"].value == pytest.approx(0.0, abs=1e-12)
    assert base["figures"]["spearman"].value is None


def test_outlier_rater_is_flagged():
    humans, _ = _panel(n=100, k=6, seed=6)
    humans[:, 2] = 6 - humans[:, 2]  # rater r2 reversed the scale
    rep = agreement_report(_table(humans), settings=SETTINGS)
    flagged = [r["rater_id"] for r in rep.human["raters"] if r["outlier"]]
    assert flagged == ["r2"]
    assert rep.judge is None


def test_items_over_the_spread_threshold_are_flagged_worst_first():
    scores = [[3, 3, 3, 3], [1, 5, 1, 5], [2, 3, 2, 3], [1, 1, 5, 5], [4, 4, 5, 4]]
    rep = agreement_report(_table(scores), settings=ReportSettings(n_resamples=0))
    items = rep.human["items"]
    # default threshold: SD > 10% of the range (0.4)
    assert [it["item_id"] for it in items[:2]] == ["i001", "i003"]
    assert [it["flagged"] for it in items] == [True, True, True, True, False]
    assert items[-1]["sd"] == 0.0
    assert rep.human["n_items_over_threshold"] == 4


def test_na_is_counted_apart_from_missing():
    scores = np.array([[3, np.nan, 4], [2, 2, np.nan], [5, 4, 4], [1, 2, 1]], dtype=float)
    na = np.zeros(scores.shape, dtype=bool)
    na[0, 1] = True  # r1 said N/A on i000; r2 simply did not rate i001
    rep = agreement_report(_table(scores, na=na), settings=ReportSettings(n_resamples=0))
    assert rep.human["na"] == {"total": 1, "by_item": {"i000": 1}, "by_rater": {"r1": 1}}
    assert rep.human["n_missing"] == 1


def test_position_respects_the_direction_of_each_figure():
    band = {"min": 0.4, "max": 0.8, "median": 0.6}
    assert position("spearman", 0.3, band) == "below"
    assert position("spearman", 0.9, band) == "above"
    assert position("mae", 0.9, band) == "below"
    assert position("mae", 0.3, band) == "above"
    assert position("bias", -0.9, {"min": -0.5, "max": 0.3, "median": 0.0}) == "below"
    assert position("bias", -0.2, {"min": -0.5, "max": 0.3, "median": 0.0}) == "within"
    assert position("spearman", None, band) is None


def test_report_json_document_is_complete():
    humans, judge = _panel(n=50, seed=7)
    rep = agreement_report(_table(humans), judge_scores=judge, settings=SETTINGS)
    doc = json.loads(json.dumps(rep.to_dict(), allow_nan=False))
    assert doc["judgecal_report"] == 1
    assert set(doc["human"]["icc"]) == {"ICC(1,1)", "ICC(2,1)", "ICC(3,1)", "ICC(1,k)",
                                        "ICC(2,k)", "ICC(3,k)"}
    fig = doc["judge"]["figures"]["icc"]
    assert fig["statistic"] == "icc" and len(fig["ci95"]) == 2
    assert sum(map(sum, doc["judge"]["confusion"]["counts"])) == 50
    assert doc["settings"]["spread_threshold"] == pytest.approx(0.4)


def test_unknown_primary_is_rejected():
    humans, judge = _panel(n=20)
    with pytest.raises(ValueError, match="unknown primary"):
        agreement_report(_table(humans), judge_scores=judge,
                         settings=ReportSettings(primary="accuracy"))


def test_item_spread_figures_match_numpy_on_sparse_data():
    rng = np.random.default_rng(12)
    scores = rng.integers(1, 6, (40, 6)).astype(float)
    scores[rng.random(scores.shape) < 0.4] = np.nan
    scores[0, :] = np.nan
    scores[1, 1:] = np.nan
    rep = agreement_report(_table(scores), settings=ReportSettings(n_resamples=0))
    by_id = {it["item_id"]: it for it in rep.human["items"]}
    for i in range(scores.shape[0]):
        row = scores[i][~np.isnan(scores[i])]
        it = by_id[f"i{i:03d}"]
        assert it["n_ratings"] == row.size
        if row.size == 0:
            assert it["mean"] is None and it["median"] is None and it["sd"] is None
            continue
        assert it["mean"] == pytest.approx(row.mean())
        assert it["median"] == pytest.approx(np.median(row))
        if row.size >= 2:
            assert it["sd"] == pytest.approx(row.std(ddof=1))
            assert it["range"] == row.max() - row.min()
        else:
            assert it["sd"] is None and not it["flagged"]
    sds = [it["sd"] if it["sd"] is not None else -1 for it in rep.human["items"]]
    assert sds == sorted(sds, reverse=True)


def test_disagreements_are_items_a_point_or_more_off_worst_first():
    humans = np.array([[3, 3, 3], [1, 1, 2], [5, 5, 5], [2, 2, 2], [4, 4, 4]], dtype=float)
    judge = np.array([3, 4, 3, 3, 4], dtype=float)  # off by 0, 2.67, -2, 1, 0
    rep = agreement_report(_table(humans), judge_scores=judge,
                           settings=ReportSettings(n_resamples=0))
    got = [(d["item_id"], round(d["difference"], 2)) for d in rep.judge["disagreements"]]
    assert got == [("i001", 2.67), ("i002", -2.0), ("i003", 1.0)]


def test_sparse_designs_get_a_sampled_single_rater_ceiling():
    # 60 items, 30 raters, each item rated by 4 of them: no rater sees half the items
    rng = np.random.default_rng(21)
    n, k = 60, 30
    truth = rng.normal(3, 1.1, n)
    scores = np.full((n, k), np.nan)
    for i in range(n):
        cols = rng.choice(k, size=4, replace=False)
        scores[i, cols] = np.clip(np.rint(truth[i] + rng.normal(0, 0.6, 4)), 1, 5)
    good = np.clip(np.rint(truth + rng.normal(0, 0.5, n)), 1, 5)
    bad = rng.integers(1, 6, n).astype(float)
    settings = ReportSettings(n_resamples=0)
    rep_good = agreement_report(_table(scores), judge_scores=good, settings=settings)
    rep_bad = agreement_report(_table(scores), judge_scores=bad, settings=settings)
    assert rep_good.judge["ceiling_method"] == "sampled single rater"
    band = rep_good.judge["ceiling"]["spearman"]
    assert band["n"] == 200 and band["min"] < band["median"] < band["max"]
    assert rep_good.judge["position"]["spearman"] in ("within", "above")
    assert rep_bad.judge["position"]["spearman"] == "below"
    assert rep_bad.judge["position"]["bias"] in ("within", "below")
    assert rep_good.judge["ceiling"]["bias"]["of"] == "|bias|"
    assert rep_good.judge["ceiling"]["bias"]["min"] >= 0


def test_human_section_and_ceiling_are_reused_for_a_new_judge():
    humans, judge = _panel(n=60, seed=8)
    table = _table(humans)
    first = agreement_report(table, judge_scores=judge, settings=SETTINGS)
    again = agreement_report(table, judge_scores=np.roll(judge, 1), settings=SETTINGS,
                             humans_from=first)
    fresh = agreement_report(table, judge_scores=np.roll(judge, 1), settings=SETTINGS)
    assert again.human is first.human
    assert again.judge["ceiling"] == fresh.judge["ceiling"]
    assert again.judge["figures"]["icc"].value == fresh.judge["figures"]["icc"].value
    assert again.warnings == fresh.warnings
    with pytest.raises(ValueError, match="different items"):
        agreement_report(_table(humans[:30]), judge_scores=judge[:30], humans_from=first)
