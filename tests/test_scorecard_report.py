"""agree on a scorecard: one full report per criterion, the total, and the questions ranked."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from harness.anchors import RatingsTable
from harness.cli import app
from harness.reports import ReportSettings, agreement_report
from harness.reports._scorecard import human_figure, primary_for, scorecard_report


def _table(scores, scale, source="t"):
    s = np.asarray(scores, dtype=float)
    return RatingsTable(item_ids=[f"i{k:02d}" for k in range(s.shape[0])],
                        rater_ids=[f"r{k}" for k in range(s.shape[1])], scores=s,
                        na=np.zeros(s.shape, dtype=bool), scale=scale, source=source)


def _tables(seed=0, n=30):
    rng = np.random.default_rng(seed)
    truth = rng.normal(0, 1, n)
    tone = np.clip(np.rint(3 + truth[:, None] + rng.normal(0, 0.4, (n, 4))), 1, 5)
    # raters agree little on "clarity": mostly noise
    clarity = np.clip(np.rint(3 + 0.3 * truth[:, None] + rng.normal(0, 1.2, (n, 4))), 1, 5)
    # pass/fail, coded 0/1, agreeing well
    resolved = (truth[:, None] + rng.normal(0, 0.3, (n, 4)) > 0).astype(float)
    return {"tone": _table(tone, (1, 5)), "clarity": _table(clarity, (1, 5)),
            "resolved": _table(resolved, (0, 1))}


SETTINGS = ReportSettings(n_resamples=200, seed=1)


def test_each_criterion_gets_the_report_a_one_criterion_run_gives():
    tables = _tables()
    sc = scorecard_report(tables, kinds={"resolved": "ordinal"}, settings=SETTINGS,
                          judge="r3")
    alone = agreement_report(tables["tone"], judge="r3", settings=SETTINGS).to_dict()
    doc = sc.to_dict()["criteria"]["tone"]
    assert doc["human"] == alone["human"] and doc["judge"] == alone["judge"]
    assert doc["settings"]["primary"] == "icc" and doc["scale_kind"] == "numeric"
    # the pass/fail question: kappa is its primary figure, the alt-test aligns on exact
    # match, and the humans get the categorical figures
    res = sc.criteria["resolved"]
    assert res.settings.primary == "weighted_kappa"
    assert res.settings.alt_test_alignment == "exact"
    cat = sc.to_dict()["criteria"]["resolved"]["human"]["categorical"]
    assert set(cat) == {"percent_agreement", "gwet_ac1", "fleiss_kappa",
                        "krippendorff_alpha_nominal"}
    assert "categorical" not in doc["human"]


def test_categorical_figures_on_a_hand_checked_table():
    # 4 items x 2 raters on pass/fail: they agree on 3 of 4 items
    t = _table([[1, 1], [0, 0], [1, 0], [1, 1]], (0, 1))
    rep = scorecard_report({"q": t}, kinds={"q": "ordinal"}, settings=SETTINGS).criteria["q"]
    cat = rep.human["categorical"]
    assert cat["percent_agreement"].value == pytest.approx(0.75)
    # Fleiss: p_pass = 5/8, Pe = (5/8)^2 + (3/8)^2 = 34/64, Po = 3/4 -> (0.75 - 34/64)/(30/64)
    assert cat["fleiss_kappa"].value == pytest.approx((0.75 - 34 / 64) / (30 / 64))
    # Gwet AC1: Pe = sum_q pi_q (1 - pi_q) / (Q - 1) = 2 (5/8)(3/8) with Q = 2 categories
    pe = 2 * (5 / 8) * (3 / 8)
    assert cat["gwet_ac1"].value == pytest.approx((0.75 - pe) / (1 - pe))


def test_questions_are_ranked_by_human_agreement_and_by_the_judge_gap():
    sc = scorecard_report(_tables(), kinds={"resolved": "ordinal"}, settings=SETTINGS,
                          judge="r3", labels={"tone": "Tone"})
    ranking = sc.ranking()
    human = ranking["by_human_agreement"]
    assert [r["criterion"] for r in human][0] == "clarity"  # the noisy question first
    values = [r["value"] for r in human]
    assert values == sorted(values)
    assert human[-1]["figure"].startswith("Krippendorff α")
    tone = next(r for r in human if r["criterion"] == "tone")
    assert tone["label"] == "Tone" and tone["value"] == human_figure(sc.criteria["tone"])[1]
    gaps = ranking["by_judge_gap"]
    assert [g["gap"] for g in gaps] == sorted(g["gap"] for g in gaps)
    for g in gaps:
        rep = sc.criteria[g["criterion"]]
        p = rep.settings.primary
        assert g["gap"] == pytest.approx(rep.judge["figures"][p].value
                                         - rep.judge["ceiling"][p]["median"])
    assert sc.to_dict()["ranking"] == ranking


def test_primary_figure_by_kind():
    assert primary_for("numeric", (1, 5), "spearman") == "spearman"
    assert primary_for("ordinal", (0, 2)) == "weighted_kappa"
    assert primary_for("nominal", (0, 1)) == "exact_agreement"
    with pytest.raises(ValueError, match="scale kind"):
        ReportSettings(scale_kind="interval")


# --------------------------------------------------------------------------- the CLI

runner = CliRunner()


def _agree(*args):
    res = runner.invoke(app, ["agree", *map(str, args)])
    return res, (json.loads(res.stdout) if res.exit_code == 0 and "--json" in args else None)


def test_agree_on_the_demo_scorecard_equals_the_one_criterion_runs(project_root):
    card = project_root / "anchors/recipes/recipes-scorecard.jsonl"
    res, doc = _agree(card, "--split", "holdout", "--resamples", "0", "--json")
    assert res.exit_code == 0, res.output
    assert doc["kind"] == "scorecard"
    assert list(doc["criteria"]) == ["grammar", "fluency", "verbosity", "structure",
                                     "success", "overall"]
    for cid in ("grammar", "success"):
        _, alone = _agree(project_root / f"anchors/recipes/recipes-{cid}.jsonl", "--split",
                          "holdout", "--resamples", "0", "--json")
        mine = doc["criteria"][cid]
        assert mine["human"] == alone["human"] and mine["gold"] == alone["gold"]
        assert mine["n_items"] == alone["n_items"]
    assert doc["total"]["scale"] == {"min": 0.0, "max": 1.0, "inferred": False}
    ranked = [r["criterion"] for r in doc["ranking"]["by_human_agreement"]]
    assert sorted(ranked) == sorted(doc["criteria"])
    # --criterion ID: that question's report, in today's one-criterion shape
    res, one = _agree(card, "--split", "holdout", "--resamples", "0", "--criterion",
                      "grammar", "--json")
    assert res.exit_code == 0 and one["kind"] == "agreement"
    assert one["human"] == doc["criteria"]["grammar"]["human"]
    res, _ = _agree(card, "--criterion", "tone")
    assert res.exit_code == 2 and "no question 'tone'" in res.output


def _long_file(tmp_path, harsh_judge=False):
    rng = np.random.default_rng(5)
    rows = ["item_id,rater_id,criterion,score"]
    for i in range(25):
        truth = rng.normal(0, 1)
        for r in ("ann", "bob", "cy", "llm"):
            tone = int(np.clip(round(3 + truth + rng.normal(0, 0.5)), 1, 5))
            greet = int(truth + rng.normal(0, 0.4) > -0.5)
            if r == "llm":
                greet = int(rng.random() < 0.5)  # the judge guesses on greeting
            rows += [f"q{i:02d},{r},tone,{tone}", f"q{i:02d},{r},greeted,{greet}"]
    path = tmp_path / "card.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_agree_on_a_long_ratings_file_with_a_judge(tmp_path):
    path = _long_file(tmp_path)
    res, doc = _agree(path, "--judge", "llm", "--resamples", "100", "--json")
    assert res.exit_code == 0, res.output
    assert set(doc["criteria"]) == {"tone", "greeted"} and doc["total"] is None
    for c in doc["criteria"].values():
        assert c["n_human_raters"] == 3 and c["judge"]["rater_id"] == "llm"
    gaps = doc["ranking"]["by_judge_gap"]
    assert gaps[0]["criterion"] == "greeted"  # the guessing judge's worst question
    res, _ = _agree(path, "--judge", "dan")
    assert res.exit_code == 2 and "no rater 'dan'" in res.output
    res, _ = _agree(path, "--judge", "llm", "--resamples", "100")
    assert res.exit_code == 0 and "Judge–human gap" in res.output
    assert "Questions that confuse raters" in res.output
