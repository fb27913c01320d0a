"""The alternative annotator test (Calderon, Reichart & Dror, ACL 2025) on worked examples."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from harness.agreement import alt_test
from harness.agreement._alt_test import signed_rank_less
from harness.anchors import open_ratings

# Three raters A, B, C and a judge J on ten items (scale 1-5).
HUMANS = [[3, 3, 3], [4, 4, 4], [2, 2, 3], [5, 4, 4], [1, 2, 3],
          [3, 3, 3], [2, 3, 2], [4, 5, 5], [1, 1, 1], [5, 5, 4]]
JUDGE = [3, 4, 2, 4, 2, 5, 2, 5, 1, 3]
# Leave one rater out; the other two's mean m is the reference; alignment -|x - m|.
# d_i = W_rater - W_judge: -1 the judge is closer, +1 the rater is closer, 0 a tie.
#   item  A,B,C  J | leave A: m, d | leave B: m, d | leave C: m, d
#   1     3,3,3  3 |  3    0       |  3    0       |  3    0
#   2     4,4,4  4 |  4    0       |  4    0       |  4    0
#   3     2,2,3  2 |  2.5  0 (.5=.5)| 2.5  0       |  2   -1 (C 1, J 0)
#   4     5,4,4  4 |  4   -1 (A 1) |  4.5  0       |  4.5  0
#   5     1,2,3  2 |  2.5 -1 (1.5 vs .5) | 2  0    |  1.5 -1 (1.5 vs .5)
#   6     3,3,3  5 |  3   +1 (J 2) |  3   +1       |  3   +1
#   7     2,3,2  2 |  2.5  0       |  2   -1 (B 1) |  2.5  0
#   8     4,5,5  5 |  5   -1 (A 1) |  4.5  0       |  4.5  0
#   9     1,1,1  1 |  1    0       |  1    0       |  1    0
#   10    5,5,4  3 |  4.5 +1 (.5 vs 1.5) | 4.5 +1  |  5   +1 (1 vs 2)
D = {
    "A": [0, 0, 0, -1, -1, 1, 0, -1, 0, 1],
    "B": [0, 0, 0, 0, 0, 1, -1, 0, 0, 1],
    "C": [0, 0, -1, 0, -1, 1, 0, 0, 0, 1],
}
# p_judge = share of d <= 0, p_rater = share of d >= 0
P_JUDGE = {"A": 0.8, "B": 0.8, "C": 0.8}
P_RATER = {"A": 0.7, "B": 0.9, "C": 0.8}


def _indicators(d: list[int]) -> tuple[np.ndarray, np.ndarray]:
    arr = np.array(d)
    return (arr >= 0).astype(float), (arr <= 0).astype(float)  # W_rater, W_judge


def _brute_signed_rank_less(x: np.ndarray) -> float:
    """P(W+ <= observed) by enumerating all 2^n sign vectors (n <= 12)."""
    x = x[x != 0]
    ranks = stats.rankdata(np.abs(x))
    observed = ranks[x > 0].sum()
    signs = np.array(list(itertools.product([0, 1], repeat=x.size)))
    w = signs @ ranks
    return float(np.mean(w <= observed + 1e-9))


def test_worked_example_ten_items_uses_wilcoxon():
    res = alt_test(HUMANS, JUDGE, rater_ids=["A", "B", "C"], epsilon=0.2)
    assert [r.rater for r in res.per_rater] == ["A", "B", "C"]
    for r in res.per_rater:
        assert r.n_items == 10
        assert r.test == "wilcoxon"  # fewer than 30 items
        assert r.p_judge == pytest.approx(P_JUDGE[r.rater])
        assert r.p_rater == pytest.approx(P_RATER[r.rater])
        x = np.array(D[r.rater], dtype=float) - 0.2
        assert r.p_value == pytest.approx(_brute_signed_rank_less(x))
    # rater A: d - 0.2 has |.| 0.2 x5 (mid-rank 3), 0.8 x2 (6.5, both positive), 1.2 x3 (9):
    # W+ = 13, and P(W+ <= 13) = 82/1024 under the signed-rank null.
    assert res.per_rater[0].p_value == pytest.approx(82 / 1024)
    scipy_p = stats.wilcoxon(np.array(D["A"]) - 0.2, alternative="less").pvalue
    assert res.per_rater[0].p_value == pytest.approx(scipy_p)
    # none survives Benjamini-Yekutieli at 0.05 (smallest threshold 0.05 / (3 * 11/6))
    assert res.winning_rate == 0.0 and res.passed is False
    assert res.advantage_probability == pytest.approx(0.8)
    doc = res.to_dict()
    assert set(doc) >= {"epsilon", "q", "winning_rate", "advantage_probability", "passed",
                        "per_rater"}
    assert set(doc["per_rater"][0]) >= {"rater", "n_items", "p_judge", "p_rater", "p_value",
                                        "rejected"}
    assert doc["epsilon"] == 0.2 and doc["q"] == 0.05


def test_worked_example_thirty_items_t_test_and_by():
    # the ten items three times: 30 items, the paired t-test; epsilon 0.3
    res = alt_test(HUMANS * 3, JUDGE * 3, rater_ids=["A", "B", "C"], epsilon=0.3)
    by_rater = {r.rater: r for r in res.per_rater}
    # t = (mean(d) - eps) / (s_d / sqrt(n)), n = 30, df = 29:
    #   A: mean -0.1, sum (d - mean)^2 = 3 * (5 - 10 * 0.01) = 14.7, s^2 = 14.7 / 29
    #      t = -0.4 / sqrt(14.7 / 870) = -3.0772
    #   B: mean 0.1, sum = 3 * 2.9 = 8.7, s^2 = 0.3, t = -0.2 / sqrt(0.3 / 30) = -2.0
    #   C: mean 0, sum = 12, s^2 = 12 / 29, t = -0.3 / sqrt(12 / 870) = -2.5544
    hand_t = {"A": -0.4 / math.sqrt(14.7 / 870), "B": -2.0, "C": -0.3 / math.sqrt(12 / 870)}
    for rater, t in hand_t.items():
        r = by_rater[rater]
        assert r.test == "t" and r.n_items == 30
        assert r.p_value == pytest.approx(stats.t.cdf(t, 29), rel=1e-9)
        w_rater, w_judge = _indicators(D[rater] * 3)
        paired = stats.ttest_rel(w_rater, w_judge + 0.3, alternative="less")
        assert paired.statistic == pytest.approx(t)
        assert r.p_value == pytest.approx(paired.pvalue, rel=1e-9)
        one = stats.ttest_1samp(w_rater - w_judge, 0.3, alternative="less")
        assert r.p_value == pytest.approx(one.pvalue, rel=1e-9)
    p = np.array([by_rater[k].p_value for k in "ABC"])
    # BY thresholds k/3 * 0.05 / (11/6): 0.00909, 0.01818, 0.02727
    # sorted p: A 0.00227 (yes), C 0.00808 (yes), B 0.02747 (no: just above 0.02727)
    assert p[1] > 0.05 * 3 / 3 * 6 / 11 and p[1] < 0.05  # BH would reject B, BY does not
    assert [by_rater[k].rejected for k in "ABC"] == list(
        stats.false_discovery_control(p, method="by") <= 0.05)
    assert [by_rater[k].rejected for k in "ABC"] == [True, False, True]
    assert res.winning_rate == pytest.approx(2 / 3)
    assert res.passed is True
    assert res.advantage_probability == pytest.approx(0.8)


def test_signed_rank_matches_enumeration_with_ties():
    rng = np.random.default_rng(3)
    for _ in range(20):
        n = int(rng.integers(4, 12))
        x = rng.choice([-1.2, -0.2, 0.8, 1.5, -0.5], size=n)
        assert signed_rank_less(x) == pytest.approx(_brute_signed_rank_less(x))
    assert math.isnan(signed_rank_less(np.zeros(5)))


def test_judge_scores_missing_and_items_with_too_few_others_are_left_out():
    humans = [row + [None] for row in HUMANS] * 3  # a fourth rater who rated nothing
    humans[0] = [3, 3, None, None]  # item 1: only two raters: no item for anyone
    judge = list(JUDGE * 3)
    judge[1] = float("nan")  # item 2: no judge score
    res = alt_test(humans, judge, rater_ids=["A", "B", "C", "D"])
    assert [r.n_items for r in res.per_rater] == [28, 28, 28]
    assert res.n_items == 28
    assert res.excluded == ({"rater": "D", "n_items": 0, "reason":
                             "0 item(s) with a judge score and at least 2 other raters; "
                             "the test needs 10"},)


def test_too_few_items_or_raters_is_undefined_with_a_reason():
    res = alt_test(HUMANS[:6], JUDGE[:6], rater_ids=["A", "B", "C"])
    assert not res.defined and res.winning_rate is None and res.passed is None
    assert "no rater has 10 items" in res.reason and "the most is 6;" in res.reason
    assert "(" not in res.reason  # printed inside "undefined (...)"
    assert [e["n_items"] for e in res.excluded] == [6, 6, 6]
    fig = res.as_figure()
    assert fig.value is None and fig.reason == res.reason
    two = alt_test([row[:2] for row in HUMANS], JUDGE)
    assert not two.defined and "at least 3 human raters" in two.reason
    assert alt_test(HUMANS[:6], JUDGE[:6], min_items=5).defined


def test_exact_alignment_for_nominal_labels():
    # labels 0/1/2; the judge copies the majority label, rater C is contrary on 6 of 12
    humans = [[0, 0, 1], [1, 1, 0], [2, 2, 2], [0, 0, 2], [1, 1, 1], [2, 2, 0]] * 2
    judge = [0, 1, 2, 0, 1, 2] * 2
    res = alt_test(humans, judge, rater_ids=["A", "B", "C"], alignment="exact", min_items=5)
    by_rater = {r.rater: r for r in res.per_rater}
    # leave C out: the others agree with the judge on every item -> the judge always wins or
    # ties; C matches the others only on items 3 and 5
    assert by_rater["C"].p_judge == 1.0
    assert by_rater["C"].p_rater == pytest.approx(4 / 12)
    # leave A out: the others are B and C; on item 1, A=0, J=0 match B only: a tie
    assert by_rater["A"].p_judge == 1.0 and by_rater["A"].p_rater == 1.0


def test_rank_alignment_ignores_a_monotone_rescaling_of_the_judge():
    rng = np.random.default_rng(7)
    truth = rng.normal(size=40)
    humans = truth[:, None] + rng.normal(scale=0.8, size=(40, 4))
    judge = truth + rng.normal(scale=0.3, size=40)
    a = alt_test(humans, judge, alignment="rank")
    b = alt_test(humans, np.exp(judge) * 10, alignment="rank")
    assert a.to_dict() == b.to_dict()
    assert alt_test(humans, np.exp(judge) * 10).advantage_probability < 0.2


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="epsilon"):
        alt_test(HUMANS, JUDGE, epsilon=1.0)
    with pytest.raises(ValueError, match="alignment"):
        alt_test(HUMANS, JUDGE, alignment="rmse")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="one score per item"):
        alt_test(HUMANS, JUDGE[:5])
    with pytest.raises(ValueError, match="q must"):
        alt_test(HUMANS, JUDGE, q=0)


def test_demo_anchor_set_88_crowd_raters():
    table = open_ratings("anchors/recipes/recipes-overall.jsonl")
    consensus = np.asarray(table.consensus, dtype=float)
    # each of the 88 raters rated 12 of the 52 texts (15-88 raters per text)
    const = alt_test(table.scores, np.full(consensus.shape, 4.0), rater_ids=table.rater_ids)
    assert len(const.per_rater) == 88 and not const.excluded
    assert {r.n_items for r in const.per_rater} == {12}
    assert {r.test for r in const.per_rater} == {"wilcoxon"}
    assert const.winning_rate == 0.0 and const.passed is False
    assert const.advantage_probability == pytest.approx(0.415, abs=0.005)
    mean = alt_test(table.scores, consensus, rater_ids=table.rater_ids)
    assert mean.winning_rate == 1.0 and mean.passed is True
    # one split alone leaves each rater too few items (at most 5 on calibration)
    cal = open_ratings("anchors/recipes/recipes-overall.jsonl", split="calibration")
    res = alt_test(cal.scores, np.asarray(cal.consensus, dtype=float),
                   rater_ids=cal.rater_ids)
    assert not res.defined and "the most is 5;" in res.reason and len(res.excluded) == 88


def test_exact_alignment_counts_match_pairwise_comparison():
    rng = np.random.default_rng(11)
    humans = rng.integers(0, 4, size=(40, 5)).astype(float)
    humans[rng.random(humans.shape) < 0.2] = np.nan
    judge = rng.integers(0, 4, size=40).astype(float)
    res = alt_test(humans, judge, alignment="exact")
    assert len(res.per_rater) == 5
    for r in res.per_rater:
        j = int(r.rater)
        present = ~np.isnan(humans)
        wins_judge = wins_rater = n = 0
        for i in range(40):
            others = [humans[i, k] for k in range(5) if k != j and present[i, k]]
            if not present[i, j] or len(others) < 2:
                continue
            a_f = sum(o == judge[i] for o in others)
            a_h = sum(o == humans[i, j] for o in others)
            n += 1
            wins_judge += a_f >= a_h
            wins_rater += a_h >= a_f
        assert (r.n_items, r.p_judge, r.p_rater) == (n, wins_judge / n, wins_rater / n)
