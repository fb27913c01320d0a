"""Issue 12, section 2: the judge on the humans' footing, a gold that is gold, CI vs range."""

import json

import numpy as np
from scipy import stats

from harness.anchors import RatingsTable
from harness.reports import (
    ReportSettings,
    agreement_report,
    like_for_like_references,
    position,
    render_report,
)

# 3 raters, 6 items. The judge sits on the mean of the humans where they disagree.
A = [1, 2, 3, 4, 5, 2]
B = [2, 3, 4, 4, 5, 4]
C = [3, 2, 5, 4, 4, 3]
J = [2, 2, 4, 4, 5, 3]
# full consensus (A+B+C)/3 = [2, 7/3, 4, 4, 14/3, 3]
# leave-one-out consensuses, the references each human met:
LOO_A = [2.5, 2.5, 4.5, 4.0, 4.5, 3.5]  # (B+C)/2
LOO_B = [2.0, 2.0, 4.0, 4.0, 4.5, 2.5]  # (A+C)/2
LOO_C = [1.5, 2.5, 3.5, 4.0, 5.0, 3.0]  # (A+B)/2
# MAE of J: vs full   0, 1/3, 0, 0, 1/3, 0     -> 2/3 / 6 = 1/9  = 0.1111
#           vs LOO_A .5, .5, .5, 0, .5, .5     -> 2.5 / 6        = 0.4167
#           vs LOO_B  0,  0,  0, 0, .5, .5     -> 1.0 / 6        = 0.1667
#           vs LOO_C .5, .5, .5, 0,  0,  0     -> 1.5 / 6        = 0.25
#           like-for-like: (2.5 + 1 + 1.5) / 18 = 5/18         = 0.2778
# bias is linear, so its average is the full-consensus bias (0 here):
#   mean(J) = 20/6; mean(LOO_A) = 21.5/6, mean(LOO_B) = 19/6, mean(LOO_C) = 19.5/6
#   biases -1.5/6, 1/6, 0.5/6 -> mean 0; full: mean(full) = 20/6 -> 0.


def _table(scores, rater_ids=None, scale=(1.0, 5.0)):
    scores = np.asarray(scores, dtype=float)
    n, k = scores.shape
    return RatingsTable(item_ids=[f"i{i}" for i in range(n)],
                        rater_ids=rater_ids or [f"r{j}" for j in range(k)], scores=scores,
                        na=np.zeros(scores.shape, dtype=bool), consensus=None, scale=scale,
                        source="test")


def test_like_for_like_figures_by_hand():
    table = _table(np.column_stack([A, B, C]))
    rep = agreement_report(table, judge_scores=np.array(J, float),
                           settings=ReportSettings(n_resamples=200, seed=0))
    j = rep.judge
    assert j["reference"]["figures"] == "leave-one-out"
    assert j["reference"]["n_references"] == 3
    assert np.isclose(j["figures"]["mae"].value, 5 / 18)
    assert np.isclose(j["figures_full_consensus"]["mae"].value, 1 / 9)
    assert np.isclose(j["figures"]["bias"].value, 0.0, atol=1e-12)
    assert np.allclose(j["figures"]["mae"].details["per_reference"], [2.5 / 6, 1 / 6, 1.5 / 6])
    # Spearman: the mean of the three leave-one-out correlations
    rho = np.mean([stats.spearmanr(J, ref).statistic for ref in (LOO_A, LOO_B, LOO_C)])
    assert np.isclose(j["figures"]["spearman"].value, rho)
    assert np.isclose(j["figures_full_consensus"]["spearman"].value,
                      stats.spearmanr(J, np.mean([A, B, C], axis=0)).statistic)
    # one resampling unit (items): the averaged figure has a CI around it
    lo, hi = j["figures"]["mae"].ci95
    assert lo <= 5 / 18 <= hi
    doc = json.loads(json.dumps(rep.to_dict()))
    assert np.isclose(doc["judge"]["figures"]["mae"]["value"], 5 / 18)
    assert np.isclose(doc["judge"]["figures_full_consensus"]["mae"]["value"], 1 / 9)


def test_references_are_the_ones_each_human_met():
    table = _table(np.column_stack([A, B, C]))
    rep = agreement_report(table, settings=ReportSettings(n_resamples=0))
    refs, method = like_for_like_references(table, rep.human["raters"])
    assert method == "per-rater"
    np.testing.assert_allclose(refs, np.column_stack([LOO_A, LOO_B, LOO_C]))
    # the human row of rater A is A against LOO_A: the same reference the judge meets
    assert np.isclose(rep.human["raters"][0]["figures"]["mae"].value,
                      np.mean(np.abs(np.array(A) - LOO_A)))


def test_sparse_design_uses_the_sampled_draws():
    rng = np.random.default_rng(3)
    truth = rng.normal(3, 1, 40)
    scores = np.clip(np.rint(truth[:, None] + rng.normal(0, 0.7, (40, 30))), 1, 5)
    mask = rng.random(scores.shape) < 0.8  # each rater sees ~20% of the items
    scores[mask] = np.nan
    scores[:, :3] = np.clip(np.rint(truth[:, None] + rng.normal(0, 0.7, (40, 3))), 1, 5)
    scores[:, :3][rng.random((40, 3)) < 0.7] = np.nan
    table = _table(scores)
    judge = np.clip(np.rint(truth), 1, 5)
    rep = agreement_report(table, judge_scores=judge, settings=ReportSettings(n_resamples=100))
    j = rep.judge
    assert j["ceiling_method"] == "sampled single rater"
    assert j["reference"]["method"] == "sampled single rater"
    assert j["reference"]["n_references"] == 200
    assert j["figures"]["mae"].value > j["figures_full_consensus"]["mae"].value


def test_anti_agreeing_humans_are_not_a_gold():
    # Every item gets a low, a middle and a high rating from the three raters in turn: the
    # item means barely differ (2.67-3.33), the one-way ICC(1,1) is -0.44 [-0.47, -0.36].
    base = np.array([[1, 3, 5], [5, 1, 3], [3, 5, 1], [1, 3, 4], [4, 1, 3], [3, 4, 1],
                     [2, 3, 5], [5, 2, 3], [3, 5, 2]] * 2, dtype=float)
    table = _table(base)
    judge = np.full(base.shape[0], 3.0)
    judge[::2] = 4.0
    rep = agreement_report(table, judge_scores=judge,
                           settings=ReportSettings(n_resamples=100, primary="mae"))
    gold = rep.gold
    assert gold.reliable is False
    # a complete crossed table: the two-way ICC(2,1), whose interval counts the raters as a
    # sample (the one-way interval covers 81-88% on crossed panels in benchmarks/coverage.py)
    assert gold.figure == "ICC(2,1)"
    assert gold.value == rep.human["icc"]["ICC(2,1)"].value
    assert gold.ci95[1] < 0 and "not reliable enough to judge a judge" in gold.reason
    j = rep.judge
    assert set(j["position"].values()) == {"unreliable"}
    assert "ABOVE" not in j["verdict"] and "INSIDE" not in j["verdict"]
    assert "ICC(2,1)" in j["verdict"]
    doc = rep.to_dict()
    assert doc["gold"]["reliable"] is False and doc["gold"]["figure"] == "ICC(2,1)"
    # one rating missing: not a complete table, so the one-way ICC(1,1), which uses every
    # rating
    sparse = base.copy()
    sparse[0, 0] = np.nan
    rep = agreement_report(_table(sparse), judge_scores=judge,
                           settings=ReportSettings(n_resamples=100, primary="mae"))
    assert rep.gold.figure == "ICC(1,1)" and rep.gold.reliable is False
    text = _render_text(rep)
    assert "ABOVE" not in text and "INSIDE" not in text and "gold unreliable" in text


def _render_text(rep) -> str:
    from rich.console import Console

    console = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(render_report(rep))
    return console.export_text()


def test_reliable_gold_is_said():
    table = _table(np.column_stack([A, B, C] * 1))
    rep = agreement_report(table, settings=ReportSettings(n_resamples=0))
    assert rep.gold.figure in ("ICC(2,1)", "ICC(1,1)", "Krippendorff α")
    assert rep.to_dict()["gold"]["reliable"] is rep.gold.reliable


def test_position_compares_the_judge_ci_with_the_range():
    band = {"min": 0.60, "max": 0.70, "median": 0.65, "n": 3}
    assert position("icc", 0.65, band, ci=(0.62, 0.68)) == "within"
    assert position("icc", 0.65, band, ci=(0.50, 0.80)) == "overlaps"  # point inside
    assert position("icc", 0.75, band, ci=(0.66, 0.84)) == "overlaps"  # point above
    assert position("icc", 0.80, band, ci=(0.72, 0.88)) == "above"
    assert position("icc", 0.40, band, ci=(0.30, 0.55)) == "below"
    # lower is better: a CI wholly above the humans' MAE range is worse than every human
    mae = {"min": 0.40, "max": 0.50, "median": 0.45, "n": 3}
    assert position("mae", 0.60, mae, ci=(0.55, 0.65)) == "below"
    assert position("mae", 0.30, mae, ci=(0.25, 0.35)) == "above"
    assert position("mae", 0.45, mae, ci=(0.35, 0.55)) == "overlaps"
    # bias: the band is of |bias|; a CI straddling 0 reaches |bias| = 0
    bias = {"min": 0.10, "max": 0.30, "median": 0.2, "n": 3}
    assert position("bias", 0.0, bias, ci=(-0.05, 0.05)) == "above"
    assert position("bias", -0.2, bias, ci=(-0.25, -0.15)) == "within"
    assert position("bias", 0.2, bias, ci=(-0.05, 0.45)) == "overlaps"
    # no CI, or a range of 5 or more raters: the point decides, as before
    assert position("icc", 0.65, band) == "within"
    assert position("icc", 0.65, {**band, "n": 5}, ci=(0.50, 0.80)) == "within"
    assert position("icc", 0.75, {**band, "n": 200}, ci=(0.72, 0.88)) == "above"
    # an unreliable gold places nothing
    assert position("icc", 0.65, {**band, "reliable": False}, ci=(0.62, 0.68)) == "unreliable"


def test_three_raters_are_named_and_a_wide_ci_is_undecided():
    rng = np.random.default_rng(0)
    truth = rng.normal(3, 1.1, 60)
    humans = np.clip(np.rint(truth[:, None] + rng.normal(0, 0.6, (60, 3))), 1, 5)
    judge = np.clip(np.rint(truth + rng.normal(0, 0.6, 60)), 1, 5)
    rep = agreement_report(_table(humans), judge_scores=judge,
                           settings=ReportSettings(n_resamples=200, seed=0))
    j = rep.judge
    res, band = j["figures"]["icc"], j["ceiling"]["icc"]
    lo, hi = res.ci95
    assert hi - lo > band["max"] - band["min"]  # the CI is wider than the 3-number range
    assert j["position"]["icc"] == "overlaps"
    assert "only 3 raters" in j["verdict"] and "UNDECIDED" in j["verdict"]
    assert "INSIDE" not in j["verdict"]
