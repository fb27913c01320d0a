"""Scorecard anchor sets: several criteria per item, per-criterion views, the total."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from harness.anchors import (
    TOTAL,
    AnchorError,
    AnchorSet,
    Criterion,
    CriterionScale,
    lint_anchor_set,
    load_anchor_set,
    load_ratings,
    load_scorecard,
    load_scorecard_ratings,
    open_ratings,
    scorecard_total,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RECIPES_SRC = PROJECT_ROOT.parent / "shared" / "data" / "recipes"
RECIPES_OUT = PROJECT_ROOT / "anchors" / "recipes"
SCORECARD = RECIPES_OUT / "recipes-scorecard.jsonl"
CRITERIA = ("grammar", "fluency", "verbosity", "structure", "success", "overall")

# --------------------------------------------------------------------------- helpers

GREETED = {"id": "greeted", "label": "Greeted the customer?", "rubric": "Did the agent greet?",
           "scale": {"levels": ["no", "yes"]}}
RESOLVED = {"id": "resolved", "label": "Resolved the issue?", "rubric": "Was it resolved?",
            "scale": {"levels": ["fail", "pass"]}, "na_allowed": True, "weight": 2,
            "critical": True, "pass_mark": "pass"}
TONE = {"id": "tone", "label": "Tone", "rubric": "Rate the tone 1-5.",
        "scale": {"min": 1, "max": 5, "labels": None}}
TOPIC = {"id": "topic", "label": "Topic", "rubric": "Which topic?",
         "scale": {"levels": ["billing", "technical", "other"], "ordered": False},
         "weight": 0}


def card_header(criteria: list[dict] | None = None, **over: Any) -> dict[str, Any]:
    h: dict[str, Any] = {
        "judgecal_anchor_set": 1, "name": "support-qa", "rubric": "Score the support reply.",
        "criteria": criteria if criteria is not None else [GREETED, RESOLVED, TONE, TOPIC],
        "consensus": "mean", "source": "test", "licence": "CC0",
    }
    h.update(over)
    return h


def card_item(iid: str, ratings: dict[str, dict[str, Any]], split: str = "calibration",
              **over: Any) -> dict[str, Any]:
    it: dict[str, Any] = {"id": iid, "input": "q", "output": f"output of {iid}",
                          "ratings": ratings, "rationale": "because", "split": split}
    it.update(over)
    return it


#: Four items whose totals are worked out by hand in the tests below.
ITEMS = [
    card_item("a", {"greeted": {"r1": "yes", "r2": "yes", "r3": "no"},
                    "resolved": {"r1": "pass", "r2": "pass", "r3": "fail"},
                    "tone": {"r1": 4, "r2": 5, "r3": 3},
                    "topic": {"r1": "billing", "r2": "billing", "r3": "other"}}),
    card_item("b", {"greeted": {"r1": "yes", "r2": "yes", "r3": "yes"},
                    "resolved": {"r1": "fail", "r2": "fail", "r3": "pass"},
                    "tone": {"r1": 5, "r2": 5, "r3": 5},
                    "topic": {"r1": "technical", "r2": "technical", "r3": "technical"}}),
    card_item("c", {"greeted": {"r1": "yes", "r2": "no", "r3": "yes"},
                    "resolved": {"r1": "NA", "r2": "NA", "r3": "NA"},
                    "tone": {"r1": 2, "r2": 3, "r3": 4},
                    "topic": {"r1": "other", "r2": "other", "r3": "other"}}),
    card_item("d", {"greeted": {"r1": "yes", "r2": "no"},
                    "resolved": {"r1": "pass", "r2": "pass"},
                    "tone": {"r1": 1, "r2": 1},
                    "topic": {"r1": "technical", "r2": "technical"}}, split="holdout"),
]


def write(tmp_path: Path, lines: list[Any], name: str = "card.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(ln if isinstance(ln, str) else json.dumps(ln) for ln in lines)
                    + "\n", encoding="utf-8")
    return path


def errors_of(path: Path) -> list[str]:
    with pytest.raises(AnchorError) as info:
        load_scorecard(path)
    return [str(p) for p in info.value.problems]


# --------------------------------------------------------------------------- the demo


@pytest.fixture(scope="module")
def demo():
    return load_scorecard(SCORECARD)


@pytest.mark.parametrize("criterion", CRITERIA)
def test_demo_view_equals_the_single_criterion_set(demo, criterion: str) -> None:
    view = demo.criterion(criterion)
    single = load_anchor_set(RECIPES_OUT / f"recipes-{criterion}.jsonl")
    assert isinstance(view, AnchorSet)
    assert view.meta.criterion == single.meta.criterion == criterion
    assert view.meta.scale == single.meta.scale
    assert view.meta.rubric == single.meta.rubric
    assert view.meta.consensus == single.meta.consensus == "mean"
    assert [it.model_dump() for it in view.items] == [it.model_dump() for it in single.items]
    assert view.consensus() == single.consensus()
    a, b = view.to_ratings(), single.to_ratings()
    assert a.item_ids == b.item_ids and a.rater_ids == b.rater_ids
    np.testing.assert_array_equal(a.scores, b.scores)
    np.testing.assert_array_equal(a.consensus, b.consensus)
    for split in ("calibration", "holdout"):
        assert [it.id for it in view.split(split).items] == \
            [it.id for it in single.split(split).items]
        assert view.items_hash(split) == single.items_hash(split)
    # the same criterion on the same data has the same identity in either file
    assert view.spec_hash() == single.spec_hash()
    assert view.criterion_hash() == single.criterion_hash()


def test_demo_views_differ_from_each_other(demo) -> None:
    hashes = {demo.criterion(c).criterion_hash() for c in CRITERIA}
    assert len(hashes) == len(CRITERIA)


def test_demo_ratings_file_gives_the_views_tables(demo) -> None:
    tables = load_scorecard_ratings(RECIPES_SRC / "ratings.csv", demo)
    assert list(tables) == list(CRITERIA)
    for c in CRITERIA:
        view = demo.criterion(c).to_ratings()
        t = tables[c].subset(view.item_ids)
        assert sorted(t.rater_ids) == sorted(view.rater_ids)
        for r in view.rater_ids:
            np.testing.assert_array_equal(t.column(r), view.column(r))


def test_demo_total_by_hand(demo) -> None:
    df = pd.read_csv(RECIPES_SRC / "ratings.csv")
    means = df.groupby(["item_id", "criterion"])["score"].mean()
    total = demo.total()
    assert total.meta.criterion == TOTAL
    assert (total.meta.scale.min, total.meta.scale.max) == (0.0, 1.0)
    assert len(total) == 52
    n_zero = 0
    for it in total.items:
        if means[(it.id, "success")] < 2.5:
            expected = 0.0
            n_zero += 1
        else:
            expected = np.mean([(means[(it.id, c)] - 1) / 5
                                for c in ("grammar", "fluency", "verbosity", "structure",
                                          "success")])
        assert it.consensus == pytest.approx(expected, abs=1e-12), it.id
    assert n_zero == 10
    # one rater's total on one item, by hand
    it = total.item("baked_ziti_5_dependency")
    row = df[(df.item_id == it.id) & (df.rater_id == "participant_0")].set_index("criterion")
    s = row["score"]
    want = 0.0 if s["success"] < 2.5 else np.mean(
        [(s[c] - 1) / 5 for c in ("grammar", "fluency", "verbosity", "structure", "success")])
    assert it.ratings["participant_0"] == pytest.approx(want)


def test_demo_lint_reports_per_criterion_and_total(demo) -> None:
    findings = lint_anchor_set(demo)
    warnings = [(f.criterion, f.code) for f in findings if f.level == "warning"]
    assert warnings == [("grammar", "spectrum-low"), ("structure", "spectrum-low"),
                        ("success", "spectrum-low")]
    crit = [f for f in findings if f.code == "critical-failures"]
    assert len(crit) == 1 and crit[0].criterion == TOTAL
    assert crit[0].message.startswith("10 of 52 item(s) have a total of 0")
    # the single-criterion sets lint as before: no criterion on their findings
    single = lint_anchor_set(load_anchor_set(RECIPES_OUT / "recipes-grammar.jsonl"))
    assert single and all(f.criterion is None for f in single)
    assert [f.code for f in single if f.level == "warning"] == ["spectrum-low"]


def test_cli_lint_prints_the_criteria() -> None:
    from harness.cli import app

    res = CliRunner().invoke(app, ["anchors", "lint", str(SCORECARD)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "criteria grammar, fluency, verbosity, structure, success, overall" in res.output
    assert "critical-failures" in res.output and "criterion" in res.output


# --------------------------------------------------------------------------- views and total


def test_views_and_total_by_hand(tmp_path: Path) -> None:
    card = load_scorecard(write(tmp_path, [card_header(), *ITEMS]))
    assert not card.is_single
    assert card.criterion_ids == ["greeted", "resolved", "tone", "topic"]
    greeted = card.criterion("greeted")
    assert greeted.spec.kind == "ordinal"
    assert (greeted.meta.scale.min, greeted.meta.scale.max) == (0.0, 1.0)
    assert greeted.meta.scale.labels == {"0": "no", "1": "yes"}
    assert greeted.meta.rubric == "Score the support reply.\n\nDid the agent greet?"
    # majority; d's tie (yes / no) goes to the stricter level
    assert greeted.consensus() == {"a": 1.0, "b": 1.0, "c": 1.0, "d": 0.0}
    assert greeted.item("a").ratings == {"r1": 1.0, "r2": 1.0, "r3": 0.0}
    # c: every rater marked 'resolved' not applicable, so it is not in that view
    resolved = card.criterion("resolved")
    assert resolved.consensus() == {"a": 1.0, "b": 0.0, "d": 1.0}
    assert card.criterion("topic").spec.kind == "nominal"
    assert card.criterion("tone").consensus() == {"a": 4.0, "b": 5.0, "c": 3.0, "d": 1.0}

    total = card.total()
    # a: (1*1 + 2*1 + 1*(4-1)/4) / (1+2+1) = 0.9375; b: 'resolved' (critical) failed -> 0;
    # c: 'resolved' N/A -> (1 + 0.5) / 2 = 0.75; d: (0 + 2 + 0) / 4 = 0.5. topic has weight 0.
    assert total.consensus() == {"a": 0.9375, "b": 0.0, "c": 0.75, "d": 0.5}
    assert total.item("a").ratings == {"r1": 0.9375, "r2": 1.0, "r3": 0.0}
    assert total.item("b").ratings == {"r1": 0.0, "r2": 0.0, "r3": 1.0}
    assert total.item("c").ratings == {"r1": 0.625, "r2": 0.25, "r3": 0.875}
    assert total.item("d").ratings == {"r1": 0.75, "r2": 0.5}
    assert total.meta.consensus == "explicit" and total.meta.na_allowed
    assert card.criterion(TOTAL) is total
    assert list(card.views()) == ["greeted", "resolved", "tone", "topic", TOTAL]
    # splits
    hold = card.split("holdout")
    assert [it.id for it in hold.total().items] == ["d"]
    assert hold.criterion("tone").subset == "holdout"
    assert card.criterion("tone").split("holdout").items_hash() == \
        hold.criterion("tone").items_hash()


def test_a_critical_question_failing_zeroes_the_total(tmp_path: Path) -> None:
    # the same replies, once resolved and once not: everything else at the top of its scale
    top = {"greeted": {"r1": "yes", "r2": "yes", "r3": "yes"},
           "tone": {"r1": 5, "r2": 5, "r3": 5},
           "topic": {"r1": "billing", "r2": "billing", "r3": "billing"}}
    ok = card_item("ok", {**top, "resolved": {"r1": "pass", "r2": "pass", "r3": "pass"}})
    bad = card_item("bad", {**top, "resolved": {"r1": "fail", "r2": "fail", "r3": "pass"}})
    forced = card_item("forced", {**top, "resolved": {"r1": "pass", "r2": "pass",
                                                      "r3": "pass"}},
                       consensus={"resolved": "fail"})
    card = load_scorecard(write(tmp_path, [card_header(), ok, bad, forced]))
    total = card.total()
    assert total.consensus() == {"ok": 1.0, "bad": 0.0, "forced": 0.0}
    assert total.item("bad").ratings == {"r1": 0.0, "r2": 0.0, "r3": 1.0}
    assert card.criterion("resolved").item("forced").consensus == 0.0
    # a numeric critical question: below the pass mark fails
    tone = {**TONE, "critical": True, "pass_mark": 3}
    card2 = load_scorecard(write(tmp_path, [card_header([GREETED, tone]), card_item(
        "x", {"greeted": {"r1": "yes", "r2": "yes"}, "tone": {"r1": 2, "r2": 3}})], "n.jsonl"))
    # consensus tone = 2.5 < 3 fails; rater r2's 3 passes: (1 + 0.5) / 2
    assert card2.total().consensus() == {"x": 0.0}
    assert card2.total().item("x").ratings == {"r1": 0.0, "r2": 0.75}
    lint = [f for f in lint_anchor_set(card2) if f.code == "critical-failures"]
    assert lint[0].message.startswith("1 of 1 item(s) have a total of 0") and "x (tone)" in \
        lint[0].message


def test_scorecard_total_function() -> None:
    tone = Criterion(id="tone", label="Tone", rubric="r", scale=CriterionScale(min=1, max=5))
    ok = Criterion(id="resolved", label="R", rubric="r",
                   scale=CriterionScale(levels=["fail", "pass"]), weight=3.0, critical=True,
                   pass_mark="pass", na_allowed=True)
    topic = Criterion(id="topic", label="T", rubric="r",
                      scale=CriterionScale(levels=["a", "b", "c"], ordered=False),
                      values={"a": 1.0, "b": 0.5, "c": 0.0})
    crits = [tone, ok, topic]
    assert scorecard_total(crits, {"tone": 3, "resolved": "pass", "topic": "b"}) == \
        pytest.approx((0.5 + 3 + 0.5) / 5)
    assert scorecard_total(crits, {"tone": 3, "resolved": 1.0, "topic": 2.0}) == \
        pytest.approx((0.5 + 3 + 0) / 5)
    assert scorecard_total(crits, {"tone": 3, "resolved": "NA", "topic": "a"}) == 0.75
    # a critical failure decides even when another answer is missing
    assert scorecard_total(crits, {"tone": None, "resolved": "fail"}) == 0.0
    assert scorecard_total(crits, {"tone": 3, "resolved": "pass"}) is None
    assert scorecard_total([ok], {"resolved": "NA"}) == "NA"
    with pytest.raises(ValueError, match="does not allow N/A"):
        scorecard_total(crits, {"tone": "NA", "resolved": "pass", "topic": "a"})
    with pytest.raises(ValueError, match="unknown criterion 'tnoe'"):
        scorecard_total(crits, {"tnoe": 3})
    with pytest.raises(ValueError, match="'maybe' is not a label"):
        scorecard_total(crits, {"tone": 3, "resolved": "maybe", "topic": "a"})


def test_identity_changes_only_with_that_criterion(tmp_path: Path) -> None:
    base = load_scorecard(write(tmp_path, [card_header(), *ITEMS], "a.jsonl"))
    reworded = [dict(c) for c in (GREETED, RESOLVED, TONE, TOPIC)]
    reworded[2]["rubric"] = "Rate the tone 1-5, politeness first."
    edited = load_scorecard(write(tmp_path, [card_header(reworded), *ITEMS], "b.jsonl"))
    rescored = json.loads(json.dumps(ITEMS))
    rescored[2]["ratings"]["greeted"]["r2"] = "yes"  # c: the consensus stays 'yes'

    changed = load_scorecard(write(tmp_path, [card_header(), *rescored], "c.jsonl"))
    for cid in base.criterion_ids:
        b, e, c = base.criterion(cid), edited.criterion(cid), changed.criterion(cid)
        assert (b.spec_hash() == e.spec_hash()) == (cid != "tone")
        assert (b.criterion_hash() == e.criterion_hash()) == (cid != "tone")
        assert b.spec_hash() == c.spec_hash()  # ratings do not change what a judge is asked
        assert (b.criterion_hash() == c.criterion_hash()) == (cid != "greeted")
    # the total covers every criterion's rubric and terms
    assert base.total().criterion_hash() != edited.total().criterion_hash()
    assert base.total().criterion_hash() != changed.total().criterion_hash()
    reweighted = [dict(c) for c in (GREETED, RESOLVED, TONE, TOPIC)]
    reweighted[0]["weight"] = 2
    w = load_scorecard(write(tmp_path, [card_header(reweighted), *ITEMS], "d.jsonl"))
    assert w.total().spec_hash() != base.total().spec_hash()
    assert w.criterion("greeted").criterion_hash() == base.criterion("greeted").criterion_hash()


def test_single_criterion_file_is_the_one_question_case() -> None:
    path = RECIPES_OUT / "recipes-grammar.jsonl"
    aset = load_anchor_set(path)
    assert [c.id for c in aset.criteria] == ["grammar"]
    assert aset.criterion("grammar") is aset
    assert aset.spec.kind == "numeric" and aset.spec.weight == 1.0
    with pytest.raises(KeyError, match="not 'tone'"):
        aset.criterion("tone")
    card = load_scorecard(path)
    assert card.is_single and card.criterion_ids == ["grammar"]
    view = card.criterion("grammar")
    assert view.items_hash() == aset.items_hash() and view.content_hash == aset.content_hash
    assert card.split("holdout").criterion("grammar").items_hash() == \
        aset.split("holdout").items_hash()
    # its total is the criterion on 0-1
    t = card.total()
    assert t.consensus()[aset.items[0].id] == pytest.approx(
        (aset.consensus()[aset.items[0].id] - 1) / 5)


def test_load_anchor_set_on_a_scorecard_needs_a_criterion(tmp_path: Path) -> None:
    path = write(tmp_path, [card_header(), *ITEMS])
    with pytest.raises(AnchorError) as info:
        load_anchor_set(path)
    assert str(info.value) == (
        f"{path}:1: criteria: this is a scorecard with 4 criteria (greeted, resolved, tone, "
        "topic): read it with load_scorecard, or choose one criterion (or 'total')")
    assert load_anchor_set(path, criterion="tone").meta.criterion == "tone"
    assert load_anchor_set(path, criterion="total").meta.scale.max == 1.0
    with pytest.raises(AnchorError, match="no criterion 'tnoe'.*did you mean 'tone'"):
        load_anchor_set(path, criterion="tnoe")
    with pytest.raises(AnchorError, match="scores the criterion 'grammar', not 'tone'"):
        load_anchor_set(RECIPES_OUT / "recipes-grammar.jsonl", criterion="tone")
    table = open_ratings(path, split="calibration", criterion="tone")
    assert table.item_ids == ["a", "b", "c"] and table.consensus.tolist() == [4.0, 5.0, 3.0]


# --------------------------------------------------------------------------- errors


def test_header_errors_are_located(tmp_path: Path) -> None:
    crits = [
        {**GREETED, "id": "greeted"},
        {**RESOLVED, "pass_mark": None},                          # critical without a mark
        {**TONE, "id": "total"},                                  # reserved
        {**TOPIC, "weight": 1},                                   # nominal, no values/mark
        {"id": "bad id", "label": "x", "rubric": "r", "scale": {"min": 3, "max": 1}},
        {"id": "g2", "label": "x", "rubric": "r", "scale": {"levels": ["a", "a"]},
         "pass_mark": 2, "weight": -1, "colour": "red"},
    ]
    path = write(tmp_path, [card_header(crits, scale={"min": 1, "max": 5}), *ITEMS])
    msgs = errors_of(path)
    p = f"{path}:1"
    assert f"{p}: scale: a scorecard header (one with 'criteria') has no 'scale': each " \
        "criterion declares its own id, scale and na_allowed" in msgs
    assert f"{p}: criteria[5].colour: unknown field" in msgs
    path = write(tmp_path, [card_header(crits[:5]), *ITEMS], "b.jsonl")
    msgs = errors_of(path)
    assert msgs == [
        f"{p.replace('card', 'b')}: criteria[1].pass_mark: criterion 'resolved': a critical "
        "criterion needs a pass mark (what fails the item)",
        f"{p.replace('card', 'b')}: criteria[2].id: 'total' is reserved (the total or a "
        "ratings column); choose another id",
        f"{p.replace('card', 'b')}: criteria[3].values: criterion 'topic': an unordered label "
        "criterion in the total needs 'values' (label -> 0-1) or a 'pass_mark'; or give it "
        "weight 0",
        f"{p.replace('card', 'b')}: criteria[4].id: criterion id 'bad id' must start with a "
        "letter and hold only letters, digits, '_' and '-'",
        f"{p.replace('card', 'b')}: criteria[4].scale: criterion 'bad id': min (3) must be "
        "below max (1)",
    ]
    g2 = {"id": "g2", "label": "x", "rubric": "r", "scale": {"levels": ["a", "a"]},
          "pass_mark": 2, "weight": -1}
    msgs = errors_of(write(tmp_path, [card_header([g2]), card_item("a", {"g2": {"r": "a"}})],
                           "c.jsonl"))
    assert any("criteria[0].scale.levels: criterion 'g2': a level is listed twice" in m
               for m in msgs)
    assert any("criteria[0].pass_mark: criterion 'g2': an ordered label scale's pass mark is "
               "one level (it and the levels above it pass)" in m for m in msgs)
    assert any("criteria[0].weight: criterion 'g2': weight -1 is negative" in m for m in msgs)
    assert any("every criterion has weight 0" in m for m in msgs)


def test_item_errors_are_located(tmp_path: Path) -> None:
    items = [
        card_item("a", {"greeted": {"r1": "yse", "r2": 1},
                        "resolved": {"r1": "pass"},
                        "tone": {"r1": 7, "r2": "NA"},
                        "topic": {"r1": "billing"},
                        "tnoe": {"r1": 3}}),
        card_item("b", {"greeted": {"r1": "yes"}, "resolved": {"r1": "pass"},
                        "tone": {"r1": 3},
                        "topic": {"r1": "billing", "r2": "other"}}),
        card_item("c", {"greeted": {"r1": "yes"}, "resolved": {"r1": "n/a"},
                        "tone": {"r1": None}, "topic": {"r1": "billing"}},
                  consensus={"greeted": "NA"}),
        card_item("d", {"greeted": {"r1": True}, "resolved": {"r1": "pass"},
                        "tone": {"r1": 3}, "topic": {"r1": "billing"}}),
    ]
    path = write(tmp_path, [card_header(), *items])
    msgs = errors_of(path)
    assert msgs == [
        f"{path}:2: item 'a': ratings.tnoe: unknown criterion (did you mean 'tone'?); the "
        "criteria are greeted, resolved, tone, topic",
        f"{path}:2: item 'a': ratings.greeted.r1: \"yse\" is not a label of criterion "
        "'greeted' (no < yes) (did you mean 'yes'?)",
        f"{path}:2: item 'a': ratings.greeted.r2: 1 is not a label; criterion 'greeted' "
        "takes no < yes",
        f"{path}:2: item 'a': ratings.tone.r1: score 7 is off the scale 1–5",
        f"{path}:2: item 'a': ratings.tone.r2: \"NA\" (not applicable) is not allowed: "
        "criterion 'tone' has na_allowed false",
        f"{path}:3: item 'b': consensus.topic: criterion 'topic': raters split evenly "
        "between 'billing', 'other' on an unordered scale; give an explicit consensus",
        f"{path}:4: item 'c': consensus.greeted: an explicit consensus cannot be N/A",
        f"{path}:4: item 'c': ratings.resolved.r1: write \"not applicable\" as the string "
        "\"NA\"",
        f"{path}:4: item 'c': ratings.tone: criterion 'tone': no ratings and no consensus: the "
        "item has no score on it (every rating is missing)",
        f"{path}:5: item 'd': ratings.greeted.r1: score true is not a number or a label (a "
        "boolean, not a score)",
    ]


def test_deeply_nested_scorecard_item_is_a_located_error(tmp_path: Path) -> None:
    deep = "[" * 200 + "]" * 200
    path = write(tmp_path, [card_header(), '{"id": "x", "input": ' + deep + "}"])
    assert errors_of(path) == [f"{path}:2: malformed JSON: nested too deeply (more than 64 "
                               "levels of arrays and objects)"]


# --------------------------------------------------------------------------- ratings files


def test_long_ratings_with_a_criterion_column(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("item_id,rater_id,criterion,score\n"
                    "a,r1,tone,4\na,r2,tone,5\na,r1,resolved,pass\na,r2,resolved,NA\n"
                    "b,r1,tone,\nb,r1,resolved,fail\n", encoding="utf-8")
    card = load_scorecard(write(tmp_path, [card_header(), *ITEMS]))
    tables = load_scorecard_ratings(path, card)
    assert list(tables) == ["resolved", "tone"]  # the scorecard's order
    tone, resolved = tables["tone"], tables["resolved"]
    assert tone.scale == (1.0, 5.0) and tone.item_ids == ["a", "b"]
    assert tone.column("r1").tolist()[0] == 4.0 and tone.n_missing == 2
    assert resolved.scale == (0.0, 1.0)
    assert resolved.column("r1").tolist() == [1.0, 0.0]
    assert resolved.na_counts_by_rater() == {"r1": 0, "r2": 1}
    # without the scorecard: numbers only, any criterion
    with pytest.raises(AnchorError, match=r"r.csv:4: score: score 'pass' is not a number"):
        load_scorecard_ratings(path)
    # load_ratings picks one criterion, and refuses to mix several
    assert load_ratings(path, criterion="tone").column("r2").tolist()[0] == 5.0
    with pytest.raises(AnchorError) as info:
        load_ratings(path)
    assert str(info.value) == (f"{path}: criterion: the file holds ratings of 2 criteria "
                               "(tone, resolved): choose one (criterion=..., --criterion) or "
                               "read them all with load_scorecard_ratings")
    # NA where the criterion does not allow it; an unknown criterion; a duplicate
    bad = tmp_path / "bad.csv"
    bad.write_text("item_id,rater_id,criterion,score\na,r1,tone,N/A\na,r1,tnoe,3\n"
                   "a,r1,resolved,pass\na,r1,resolved,fail\n", encoding="utf-8")
    with pytest.raises(AnchorError) as info:
        load_scorecard_ratings(bad, card)
    assert [str(p) for p in info.value.problems] == [
        f"{bad}:2: score: 'N/A' (not applicable) is not allowed: criterion 'tone' has "
        "na_allowed false",
        f"{bad}:3: criterion: unknown criterion 'tnoe' (did you mean 'tone'?); the criteria "
        "are greeted, resolved, tone, topic",
        f"{bad}:5: duplicate rating of item 'a' by rater 'r1' on criterion 'resolved' (first "
        "on line 4)",
    ]


def test_jsonl_ratings_with_a_criterion_key(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    rows = [{"item_id": "a", "rater_id": "r1", "criterion": "tone", "score": 4},
            {"item_id": "a", "rater_id": "r1", "criterion": "greeted", "score": "yes"},
            {"item_id": "a", "rater_id": "r2", "score": 3}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    card = load_scorecard(write(tmp_path, [card_header(), *ITEMS]))
    with pytest.raises(AnchorError, match=r"r.jsonl:3: criterion: missing key 'criterion' "
                                          r"\(line 1 names a criterion\)"):
        load_scorecard_ratings(path, card)
    path.write_text("\n".join(json.dumps(r) for r in rows[:2]) + "\n", encoding="utf-8")
    tables = load_scorecard_ratings(path, card)
    assert tables["greeted"].column("r1").tolist() == [1.0]
    assert tables["tone"].column("r1").tolist() == [4.0]


def test_wide_ratings(tmp_path: Path) -> None:
    card = load_scorecard(write(tmp_path, [card_header(), *ITEMS]))
    path = tmp_path / "wide.csv"
    path.write_text("item_id,rater_id,greeted,resolved,tone,topic,comment\n"
                    "a,r1,yes,pass,4,billing,fine\n"
                    "a,r2,no,,5,other,\n"
                    "b,r1,yes,N/A,,technical,x\n", encoding="utf-8")
    tables = load_scorecard_ratings(path, card)
    assert list(tables) == ["greeted", "resolved", "tone", "topic"]
    # empty on a criterion with na_allowed is N/A; elsewhere missing
    assert tables["resolved"].na.tolist() == [[False, True], [True, False]]
    assert tables["tone"].n_missing == 2 and tables["tone"].n_na == 0
    assert tables["topic"].column("r2").tolist()[0] == 2.0
    # without a scorecard every further column is a criterion (and must hold numbers)
    num = tmp_path / "num.csv"
    num.write_text("item_id,rater_id,tone,clarity\na,r1,4,2\na,r2,NA,3\n", encoding="utf-8")
    plain = load_scorecard_ratings(num)
    assert list(plain) == ["tone", "clarity"] and plain["tone"].n_na == 1
    # NA on a criterion without na_allowed, a label the criterion lacks
    bad = tmp_path / "bad.csv"
    bad.write_text("item_id,rater_id,greeted,tone\na,r1,NA,maybe\n", encoding="utf-8")
    with pytest.raises(AnchorError) as info:
        load_scorecard_ratings(bad, card)
    assert [str(p) for p in info.value.problems] == [
        f"{bad}:2: greeted: 'NA' (not applicable) is not allowed: criterion 'greeted' has "
        "na_allowed false",
        f"{bad}:2: tone: score 'maybe' is not a number (write a plain decimal number such as 4 "
        "or 3.5, NA, or leave it empty)",
    ]
    # a wide file is not read by load_ratings (which keeps asking for a score column)
    with pytest.raises(AnchorError, match="missing column 'score'"):
        load_ratings(num)


# --------------------------------------------------------------------------- lint


def test_lint_checks_each_criterion_and_na_use(tmp_path: Path) -> None:
    na_tone = {**TONE, "na_allowed": True}
    items = [*ITEMS,
             card_item("e", {"greeted": {"r1": "yes", "r2": "yes", "r3": "yes"},
                             "resolved": {"r1": "NA", "r2": "pass", "r3": "pass"},
                             "tone": {"r1": 3, "r2": 3, "r3": 3},
                             "topic": {"r1": "other", "r2": "other", "r3": "other"}},
                       rationale={"greeted": "hi", "tone": "ok"})]
    card = load_scorecard(write(tmp_path, [card_header([GREETED, RESOLVED, na_tone, TOPIC]),
                                           *items]))
    findings = lint_anchor_set(card)
    got = [(f.criterion, f.code, f.item_id) for f in findings]
    assert got[:3] == [(None, "calibration-size", None), (None, "no-edge-cases", None),
                       (None, "holdout-small", None)]
    assert ("greeted", "spectrum-level", None) in got
    assert ("greeted", "spectrum-boundary", None) in got
    assert ("resolved", "na-split", "e") in got
    assert ("resolved", "missing-rationale", None) in got
    assert ("tone", "na-unused", None) in got
    assert ("resolved", "not-applicable", None) in got
    assert ("total", "spectrum-low", None) in got
    assert ("total", "spectrum-high", None) not in got
    msg = {(f.criterion, f.code): f.message for f in findings}
    assert msg[("greeted", "spectrum-level")] == ("0 calibration item(s) with the consensus "
                                                  "'no'; want at least 3")
    assert msg[("resolved", "not-applicable")] == (
        "1 item(s) every rater marked N/A, left out of this criterion's view and total: c")
    assert msg[("resolved", "missing-rationale")] == "1 item(s) have no rationale: e"
    levels = [f.level for f in findings]
    assert levels == sorted(levels, key=lambda x: x != "warning")  # warnings first
