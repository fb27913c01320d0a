"""Sessions on a scorecard chosen from judgments: ``session propose`` / ``create --propose``
(on the scorecard total, steered by the judge's total) and ``--prompt`` with a scorecard
prompt as the rubric."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.anchors import load_scorecard
from harness.cli import app
from harness.sessions import SessionStore, propose_items, propose_scorecard_items

runner = CliRunner()


@pytest.fixture(scope="module")
def card(project_root):
    return load_scorecard(project_root / "anchors/recipes/recipes-scorecard.jsonl")


def consensus_judgments(card, worst: str | None = None) -> dict[str, dict[str, float]]:
    """A judge that answers every question's rounded consensus; on ``worst`` it fails the
    critical question 'success' (score 1), so its total there is 0."""
    out = {}
    for cid in card.criterion_ids:
        cons = card.criterion(cid).consensus()
        out[cid] = {i: float(round(v)) for i, v in cons.items()}
    if worst is not None:
        out["success"][worst] = 1.0
    return out


def write_judgments(path: Path, judgments: dict[str, dict[str, float]]) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["item_id", "criterion", "sample_index", "status", "score"])
        for cid, scores in judgments.items():
            for item, v in scores.items():
                w.writerow([item, cid, 0, "ok", v])
    return path


def test_a_scorecard_proposal_is_the_totals_proposal(card):
    mine = [p.item_id for p in propose_scorecard_items(card, n=8)]
    assert mine == [p.item_id for p in propose_items(card.total(), n=8)]


def test_the_judges_total_steers_the_disagreement_category(card):
    total = card.total()
    cons = total.consensus()
    # the item with the highest consensus total: failing its critical question is the
    # largest gap the judge's total can show
    worst = max(cons, key=cons.get)
    picks = propose_scorecard_items(card, n=12, judgments=consensus_judgments(card, worst))
    by_id = {p.item_id: p for p in picks}
    assert worst in by_id and "disagreement" in by_id[worst].reasons
    assert by_id[worst].judge_score == 0.0
    assert by_id[worst].judge_delta == pytest.approx(-cons[worst])
    # its gap is the largest; rounding every other question moves a total by far less
    gaps = sorted((abs(p.judge_delta), p.item_id) for p in picks if p.judge_delta is not None)
    assert gaps[-1][1] == worst and gaps[-2][0] < 0.25


def test_judgments_must_cover_every_question(card):
    judged = consensus_judgments(card)
    del judged["overall"]
    with pytest.raises(ValueError, match="no score on overall"):
        propose_scorecard_items(card, judgments=judged)


def test_cli_propose_and_create_from_a_scorecards_judgments(tmp_path, project_root, card):
    path = project_root / "anchors/recipes/recipes-scorecard.jsonl"
    total = card.total().consensus()
    worst = max(total, key=total.get)
    jfile = write_judgments(tmp_path / "j.csv", consensus_judgments(card, worst))
    res = runner.invoke(app, ["session", "propose", str(path), "-n", "6", "--judgments",
                              str(jfile), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert worst in [it["item_id"] for it in doc["items"]]
    state = tmp_path / "st"
    res = runner.invoke(app, [
        "session", "create", str(path), "-p", "ann", "-p", "bob", "--threshold-share", "0.2",
        "--propose", "6", "--judgments", str(jfile), "--prompt", "recipes-scorecard",
        "--prompts-dir", str(project_root / "prompts"), "--state-dir", str(state)])
    assert res.exit_code == 0, res.output
    assert "6 items x 6 questions" in res.output
    assert "rubric in force: judge prompt recipes-scorecard v1" in res.output
    sid = re.search(r"created session (\S+)", res.output).group(1)
    info = SessionStore(state).get(sid).info
    assert worst in info.item_ids and len(info.item_ids) == 6
    assert "The statements, each with its key and its scale" in info.rubric
    assert f"- success: {card.spec('success').label}" in info.rubric


def test_cli_refuses_a_one_question_prompt_or_partial_judgments(tmp_path, project_root, card):
    path = project_root / "anchors/recipes/recipes-scorecard.jsonl"
    common = ["session", "create", str(path), "-p", "ann", "--threshold-share", "0.2",
              "--state-dir", str(tmp_path / "st"), "--prompts-dir", str(project_root / "prompts")]
    res = runner.invoke(app, [*common, "--split", "holdout", "--prompt", "recipes-grammar"])
    assert res.exit_code == 2
    assert "needs a prompt with 'scale: scorecard'" in res.output
    judged = consensus_judgments(card)
    del judged["grammar"]
    res = runner.invoke(app, [*common, "--propose", "4", "--judgments",
                              str(write_judgments(tmp_path / "j.csv", judged))])
    assert res.exit_code == 2
    assert not (tmp_path / "st").exists() or not SessionStore(tmp_path / "st").list()
