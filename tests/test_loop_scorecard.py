"""calibrate on a scorecard: every question with the one-question loop, the worst first; a
passing question is not revised; a re-run reads the finished questions back (no calls); an
interrupted scorecard continues where it stopped; the judge's total on the holdout."""

from __future__ import annotations

import json
import re

import fakeserver as fs
import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from harness.anchors import load_scorecard
from harness.cli import app
from harness.experiments import load_experiment
from harness.loop import LoopState, ScorecardCalibrationResult, calibrate, question_experiment
from harness.reports import ReportSettings, agreement_report

KEY = "sk-test-loop-card-0123456789abcdef"
runner = CliRunner()
QUESTIONS = ["grammar", "overall"]


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("JC_LOOP_KEY", KEY)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def two_questions(project_root, tmp_path):
    """The demo scorecard cut to two numeric questions of weight 1, none critical."""
    lines = (project_root / "anchors/recipes/recipes-scorecard.jsonl").read_text().splitlines()
    header = json.loads(lines[0])
    header["name"] = "recipes-two"
    header["criteria"] = [{**c, "weight": 1, "critical": False}
                          for c in header["criteria"] if c["id"] in QUESTIONS]
    for c in header["criteria"]:
        c.pop("pass_mark", None)
    out = [json.dumps(header)]
    for line in lines[1:]:
        item = json.loads(line)
        for key in ("ratings", "consensus", "rationale", "edge_case"):
            if isinstance(item.get(key), dict):
                item[key] = {c: v for c, v in item[key].items() if c in QUESTIONS}
        out.append(json.dumps(item))
    path = tmp_path / "two.jsonl"
    path.write_text("\n".join(out) + "\n")
    return path


def handler_for(card, calls):
    """grammar: the rounded consensus from the start (passes at v1); overall: 1 or 2 until
    the prompt has rated examples, then the rounded consensus (passes at v2)."""
    statement = {cid: card.spec(cid).label for cid in card.criterion_ids}
    cons = {cid: card.criterion(cid).consensus() for cid in card.criterion_ids}
    by_output = {it.output.strip(): it.id for it in card.items}

    def handler(api, body, n):
        system = body["messages"][0]["content"]
        text = " ".join(m["content"] for m in body["messages"])
        cid = next(c for c, s in statement.items() if s in text)
        item = by_output[fs.recipe_output(body)]
        calls.append((cid, item))
        if cid == "overall" and "Rated examples" not in system:
            return fs.score(1 if item < "m" else 2)
        return fs.score(int(min(6, max(1, round(cons[cid][item])))))

    return handler


def write_experiment(tmp_path, project_root, server, anchors):
    prompts = ", ".join(f'{c} = "recipes-{c}"' for c in QUESTIONS)
    return fs.experiment_file(tmp_path, project_root, {
        "experiment": 'name = "card"',
        "anchors": f'path = "{anchors}"',
        "prompt": f'name = "recipes"\nversion = "v1"\ndir = "{tmp_path / "prompts"}"\n'
                  f"criteria = {{ {prompts} }}",
        "judge": (f'provider = "openai"\nmodel = "fake"\nbase_url = "{server.openai_url}"\n'
                  'api_key_env = "JC_LOOP_KEY"'),
        "run": "concurrency = 8\nmax_attempts = 2",
        "target": 'metric = "icc"\nthreshold = 0.7',
        "stopping": "max_iterations = 4",
        "revision": 'strategy = "fewshot"\nk = 2\nmax_examples = 2',
    })


def hand_total(card, split):
    """The total a judge giving every question its rounded consensus has, per item."""
    sub = card.split(split)
    cons = {cid: sub.criterion(cid).consensus() for cid in QUESTIONS}
    table = sub.total().to_ratings()
    scores = np.array([sub.total_of({cid: float(round(cons[cid][i])) for cid in QUESTIONS})
                       for i in table.item_ids])
    return table, scores


def test_the_worst_question_is_revised_first_and_the_passing_one_not(
        tmp_path, project_root):
    anchors = two_questions(project_root, tmp_path)
    card = load_scorecard(anchors)
    n_cal = sum(1 for it in card.items if it.split == "calibration")
    n_hold = len(card.items) - n_cal
    calls: list[tuple[str, str]] = []
    said: list[str] = []
    with fs.FakeServer(handler_for(card, calls)) as server:
        exp = load_experiment(write_experiment(tmp_path, project_root, server, anchors))
        result = calibrate(exp, show_progress=False, say=said.append)
        assert isinstance(result, ScorecardCalibrationResult)
        # ranked on v1: overall (a judge saying 1 or 2) falls short, grammar passes
        assert result.order == ["overall", "grammar"]
        assert [r.criterion for r in result.ranking] == ["overall", "grammar"]
        assert result.ranking[0].shortfall > 0 >= result.ranking[1].shortfall
        assert [r.version for r in result.ranking] == ["v1", "v1"]
        # only overall was revised (v2, with rated examples); grammar kept v1
        assert result.revised == {"overall": ["v2"]}
        over, gram = result.questions["overall"], result.questions["grammar"]
        assert [r.prompt.label for r in over.iterations] == ["v1", "v2"]
        assert [r.prompt.label for r in gram.iterations] == ["v1"]
        assert over.stop_reason == gram.stop_reason == "threshold"
        assert (tmp_path / "prompts/recipes-overall/v2.j2").is_file()
        assert not (tmp_path / "prompts/recipes-grammar/v2.j2").exists()
        assert any(m.startswith("[overall] ") and "revision:" in m for m in said)
        assert not any(m.startswith("[grammar] ") and "revision:" in m for m in said)
        # no call wasted: the ranking's judgments are the first iterations'
        assert len(calls) == 3 * n_cal + 2 * n_hold
        assert sum(1 for c, _ in calls if c == "grammar") == n_cal + n_hold
        # every question passes, and the total from each one's best version
        assert result.passes("overall") and result.passes("grammar")
        for split, figures in (("calibration", result.total_calibration),
                               ("holdout", result.total_holdout)):
            table, scores = hand_total(card, split)
            want = agreement_report(table, judge_scores=scores,
                                    settings=ReportSettings(primary="icc"))
            assert figures["icc"].value == pytest.approx(want.judge["figures"]["icc"].value)
        assert result.total_calibration["icc"].value >= 0.7
        assert result.stop_reason == "all_pass"
        lo, hi = result.total_holdout["icc"].ci95
        v = result.total_verdict
        assert v.name == "icc >= 0.7 (lower 95% bound)" and v.checked == lo
        assert v.outcome == ("pass" if lo >= 0.7 else "fail" if hi < 0.7 else "inconclusive")
        # each question its own state (a slash in the name) and MLflow experiment
        for cid in QUESTIONS:
            sub = question_experiment(exp, card, cid)
            assert LoopState.path_for(sub) == tmp_path / f"state/calibrations/card/{cid}.json"
            assert LoopState.load(sub).status == "finished"
        client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
        for cid in QUESTIONS:
            run = client.get_run(result.questions[cid].parent_run_id)
            assert run.info.status == "FINISHED"
            assert client.get_experiment(run.info.experiment_id).name == f"card/{cid}"
            assert run.data.tags["judgecal.scorecard_run_id"] == result.run_id
        # one run sums up the scorecard, in the scorecard's own experiment
        card_run = client.get_run(result.run_id)
        assert card_run.info.status == "FINISHED"
        assert client.get_experiment(card_run.info.experiment_id).name == "card"
        assert card_run.data.tags["judgecal.run_type"] == "scorecard"
        assert card_run.data.tags["judgecal.holdout_outcome"] == v.outcome
        for cid in QUESTIONS:
            q = result.questions[cid]
            assert card_run.data.tags[f"judgecal.question.{cid}.run_id"] == q.parent_run_id
            assert card_run.data.metrics[f"{cid}.icc"] == pytest.approx(
                q.best.figures["icc"].value)
        assert card_run.data.metrics["total.holdout_icc"] == pytest.approx(
            result.total_holdout["icc"].value)
        assert card_run.data.params["order"] == "overall,grammar"

        # a re-run reads both questions back: no call, no new version, same figures
        again = calibrate(exp, show_progress=False)
        assert len(calls) == 3 * n_cal + 2 * n_hold
        assert again.order == [] and sorted(again.replayed) == QUESTIONS
        assert again.revised == {"overall": ["v2"]}
        assert {c: r.best.prompt.label for c, r in again.questions.items()} == \
            {"overall": "v2", "grammar": "v1"}
        assert again.questions["overall"].parent_run_id == over.parent_run_id
        assert again.total_verdict.outcome == v.outcome and again.stop_reason == "all_pass"
        assert not (tmp_path / "prompts/recipes-overall/v3.j2").exists()

        # the CLI's final table: a row per question and the total (from the journal)
        res = runner.invoke(app, ["calibrate", str(tmp_path / "exp.toml"), "--no-progress"])
        assert res.exit_code == 0, res.output
        assert len(calls) == 3 * n_cal + 2 * n_hold
        flat = " ".join(res.output.split())
        assert "Calibration of scorecard card" in flat
        for cid, version in (("overall", "v2"), ("grammar", "v1"), ("total", "—")):
            assert re.search(rf"│ {cid} +│ {version} +│ icc +│ \d\.\d\d \[", res.output)
        assert "revised: overall (v2)" in flat
        assert f"total on the holdout, icc >= 0.7 (lower 95% bound): {v.outcome.upper()}" in flat
        assert "stopped because every question and the total reached the target" in flat


def test_an_interrupted_scorecard_continues_where_it_stopped(tmp_path, project_root):
    anchors = two_questions(project_root, tmp_path)
    card = load_scorecard(anchors)
    n_cal = sum(1 for it in card.items if it.split == "calibration")
    n_hold = len(card.items) - n_cal
    calls: list[tuple[str, str]] = []

    def stop_before_the_holdout(msg):
        if msg.startswith("[overall] validating"):
            raise KeyboardInterrupt("test")

    with fs.FakeServer(handler_for(card, calls)) as server:
        exp = load_experiment(write_experiment(tmp_path, project_root, server, anchors))
        with pytest.raises(KeyboardInterrupt):
            calibrate(exp, show_progress=False, say=stop_before_the_holdout)
        sub = question_experiment(exp, card, "overall")
        state = LoopState.load(sub)
        assert state.status == "interrupted"
        assert LoopState.load(question_experiment(exp, card, "grammar")) is None
        client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
        assert client.get_run(state.parent_run_id).info.status == "FAILED"
        before = len(calls)
        assert before == 3 * n_cal  # both ranked on v1, overall judged with v2
        result = calibrate(exp, show_progress=False)
    # overall continued in its run; only the two holdout validations were asked for
    assert result.questions["overall"].parent_run_id == state.parent_run_id
    assert client.get_run(state.parent_run_id).info.status == "FINISHED"
    assert len(calls) - before == 2 * n_hold
    assert result.revised == {"overall": ["v2"]} and result.stop_reason == "all_pass"
