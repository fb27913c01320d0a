"""judge on a scorecard experiment: every question with its own prompt, the judge's total,
the journal keyed by item and question (a one-question run on the same data re-judges
nothing)."""

from __future__ import annotations

import csv
import json

import fakeserver as fs
import pytest
from typer.testing import CliRunner

from harness.anchors import load_scorecard
from harness.cli import app

runner = CliRunner()
CRITERIA = ["grammar", "fluency", "verbosity", "structure", "success", "overall"]


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("JC_CARD_KEY", "sk-test-card-0123456789abcdef")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture(scope="module")
def card(project_root):
    return load_scorecard(project_root / "anchors/recipes/recipes-scorecard.jsonl")


def handler_for(card):
    """The rounded consensus of the question the prompt asks about (by its statement)."""
    views = {cid: card.criterion(cid) for cid in card.criterion_ids}
    statement = {cid: card.spec(cid).label for cid in card.criterion_ids}
    cons = {cid: v.consensus() for cid, v in views.items()}
    by_output = {it.output.strip(): it.id for it in card.items}

    def handler(api, body, n):
        system = " ".join(m["content"] for m in body["messages"])
        cid = next(c for c, s in statement.items() if s in system)
        item = by_output[fs.recipe_output(body)]
        return fs.score(int(min(6, max(1, round(cons[cid][item])))))

    return handler


def experiment(tmp_path, project_root, server, anchors="recipes-scorecard.jsonl", extra=""):
    prompts = ", ".join(f'{c} = "recipes-{c}"' for c in CRITERIA)
    return fs.experiment_file(tmp_path, project_root, {
        "experiment": 'name = "card"',
        "anchors": f'path = "{project_root / "anchors/recipes" / anchors}"\nsplit = "holdout"'
                   + extra,
        "prompt": f'name = "recipes"\nversion = "v1"\ndir = "{tmp_path / "prompts"}"\n'
                  f"criteria = {{ {prompts} }}",
        "judge": (f'provider = "openai"\nmodel = "fake"\nbase_url = "{server.openai_url}"\n'
                  'api_key_env = "JC_CARD_KEY"'),
        "run": "concurrency = 8\nmax_attempts = 2",
    })


def test_judge_a_scorecard_then_one_question_from_the_journal(tmp_path, project_root, card):
    n_hold = sum(1 for it in card.items if it.split == "holdout")
    with fs.FakeServer(handler_for(card)) as server:
        exp = experiment(tmp_path, project_root, server)
        res = runner.invoke(app, ["judge", str(exp), "--json", "--resamples", "200",
                                  "--no-progress", "--out", str(tmp_path / "j.csv")])
        assert res.exit_code == 0, res.output
        doc = json.loads(res.stdout)
        assert server.stats.total == 6 * n_hold
        assert doc["kind"] == "scorecard" and list(doc["criteria"]) == CRITERIA
        for cid in CRITERIA:
            j = doc["criteria"][cid]["judge"]
            assert j["n_items"] == n_hold and j["rater_id"] == "openai:fake"
            assert doc["runs"][cid]["n_ok"] == n_hold
        # the judge's total from its six scores, as a rater's
        hold = card.split("holdout")
        first = hold.total().items[0]
        scores = {cid: float(round(hold.criterion(cid).consensus()[first.id]))
                  for cid in CRITERIA}
        assert doc["total"]["judge"]["n_items"] == n_hold
        rows = list(csv.DictReader((tmp_path / "j.csv").open()))
        assert len(rows) == 6 * n_hold and {r["criterion"] for r in rows} == set(CRITERIA)
        assert hold.total_of(scores) == pytest.approx(_total_of(tmp_path, first.id, hold))

        # one question alone, on its own one-criterion set: the same journal keys
        single = experiment(tmp_path / "single", project_root, server,
                            anchors="recipes-grammar.jsonl")
        text = single.read_text().replace('name = "recipes"', 'name = "recipes-grammar"')
        text = text.replace(f'dir = "{tmp_path / "single" / "state"}"',
                            f'dir = "{tmp_path / "state"}"')
        single.write_text(text)
        res = runner.invoke(app, ["judge", str(single), "--json", "--resamples", "200",
                                  "--no-progress"])
        assert res.exit_code == 0, res.output
        assert server.stats.total == 6 * n_hold  # every judgment from the journal
        alone = json.loads(res.stdout)["judge"]
        mine = doc["criteria"]["grammar"]["judge"]
        assert alone["figures"] == mine["figures"]
        # --criterion: one question of the scorecard, the one-question JSON
        res = runner.invoke(app, ["judge", str(exp), "--criterion", "grammar", "--json",
                                  "--resamples", "200", "--no-progress"])
        assert res.exit_code == 0, res.output
        assert json.loads(res.stdout)["judge"]["figures"] == mine["figures"]
        assert server.stats.total == 6 * n_hold


def _total_of(tmp_path, item_id, hold):
    rows = [r for r in csv.DictReader((tmp_path / "j.csv").open()) if r["item_id"] == item_id]
    return hold.total_of({r["criterion"]: float(r["score"]) for r in rows})


def test_a_scorecard_experiment_refuses_what_it_cannot_do(tmp_path, project_root, card):
    with fs.FakeServer(handler_for(card)) as server:
        exp = experiment(tmp_path, project_root, server)
        res = runner.invoke(app, ["judge", str(exp), "--prompt", "v1", "--no-progress"])
        assert res.exit_code == 2 and "give --criterion too" in res.output
        res = runner.invoke(app, ["judge", str(exp), "--criterion", "tone", "--no-progress"])
        assert res.exit_code == 2 and "tone" in res.output
        single = experiment(tmp_path / "s", project_root, server,
                            anchors="recipes-grammar.jsonl")
        res = runner.invoke(app, ["judge", str(single), "--criterion", "grammar"])
        assert res.exit_code == 2 and "needs a scorecard experiment" in res.output
        assert server.stats.total == 0


def test_a_scorecard_judgments_csv_is_read_one_question_at_a_time(tmp_path):
    from harness.judgments import read_judgment_scores

    path = tmp_path / "j.csv"
    path.write_text("item_id,criterion,sample_index,status,score\n"
                    "a,tone,0,ok,4\na,greeted,0,ok,1\nb,tone,0,ok,2\nb,greeted,0,invalid,\n")
    assert read_judgment_scores(path, criterion="tone") == ({"a": 4.0, "b": 2.0}, [])
    assert read_judgment_scores(path, criterion="greeted") == ({"a": 1.0}, ["b"])
    with pytest.raises(ValueError, match="name the question"):
        read_judgment_scores(path)
    plain = tmp_path / "p.csv"
    plain.write_text("item_id,sample_index,status,score\na,0,ok,4\n")
    with pytest.raises(ValueError, match="no criterion column"):
        read_judgment_scores(plain, criterion="tone")


def test_a_question_may_have_its_own_target(tmp_path, project_root):
    from harness.experiments import load_experiment

    exp_path = fs.experiment_file(tmp_path, project_root, {
        "experiment": 'name = "card"',
        "anchors": f'path = "{project_root / "anchors/recipes/recipes-scorecard.jsonl"}"',
        "judge": 'provider = "openai"\nmodel = "fake"',
        "target": 'metric = "icc"\nthreshold = 0.7\ncriteria = { success = 0.5, total = 0.6 }',
    })
    exp = load_experiment(exp_path)
    assert exp.for_criterion("success").target.threshold == 0.5
    assert exp.for_criterion("grammar").target.threshold == 0.7
    assert exp.for_criterion("grammar").target.criteria == {}
    from harness.loop._scorecard import total_threshold

    assert total_threshold(exp) == 0.6


def test_calibrate_refuses_a_target_for_an_unknown_question(tmp_path, project_root):
    exp_path = fs.experiment_file(tmp_path, project_root, {
        "experiment": 'name = "card"',
        "anchors": f'path = "{project_root / "anchors/recipes/recipes-scorecard.jsonl"}"',
        "judge": 'provider = "openai"\nmodel = "fake"\nbase_url = "http://127.0.0.1:9"',
        "target": 'metric = "icc"\ncriteria = { tone = 0.5 }',
    })
    res = runner.invoke(app, ["calibrate", str(exp_path), "--no-progress"])
    assert res.exit_code == 2, res.output
    assert "[target] criteria names tone" in " ".join(res.output.split())


def test_a_stopped_question_ends_the_scorecard_pass(tmp_path, project_root):
    # a refused port: the first question's circuit breaker trips; the other five are not
    # started (each would trip its own breaker) and the exit is 3
    prompts = ", ".join(f'{c} = "recipes-{c}"' for c in CRITERIA)
    exp = fs.experiment_file(tmp_path, project_root, {
        "experiment": 'name = "card"',
        "anchors": f'path = "{project_root / "anchors/recipes/recipes-scorecard.jsonl"}"\n'
                   'split = "holdout"',
        "prompt": f'name = "recipes"\nversion = "v1"\ndir = "{tmp_path / "prompts"}"\n'
                  f"criteria = {{ {prompts} }}",
        "judge": ('provider = "openai"\nmodel = "fake"\nbase_url = "http://127.0.0.1:9/v1"\n'
                  'api_key_env = "JC_CARD_KEY"'),
        "run": "concurrency = 2\nmax_attempts = 1",
    })
    res = runner.invoke(app, ["judge", str(exp), "--json", "--resamples", "0",
                              "--no-progress"])
    assert res.exit_code == 3, res.output
    doc = json.loads(res.stdout)
    assert list(doc["runs"]) == ["grammar"] and doc["runs"]["grammar"]["stopped"]
    assert doc["total"] is None
    assert doc["run_warnings"] == [
        f"question 'grammar' stopped ({doc['runs']['grammar']['stopped']}): "
        "fluency, verbosity, structure, success, overall not judged"]
    assert "question 'grammar'" in res.stderr


def test_the_budget_is_one_budget_for_the_whole_scorecard(tmp_path, project_root, card):
    """[budget] max_calls bounds the pass over every question, not each question's pass:
    the second question gets what the first left, and the pass stops there."""
    n_hold = sum(1 for it in card.items if it.split == "holdout")
    with fs.FakeServer(handler_for(card)) as server:
        exp = experiment(tmp_path, project_root, server)
        exp.write_text(exp.read_text() + f"\n[budget]\nmax_calls = {n_hold + 5}\n")
        res = runner.invoke(app, ["judge", str(exp), "--json", "--resamples", "0",
                                  "--no-progress"])
        assert server.stats.total == n_hold + 5
    doc = json.loads(res.stdout)
    assert list(doc["runs"]) == ["grammar", "fluency"]
    assert doc["runs"]["grammar"]["n_requests"] == n_hold
    assert doc["runs"]["fluency"]["n_requests"] == 5 and doc["runs"]["fluency"]["stopped"]
    assert "verbosity, structure, success, overall not judged" in doc["run_warnings"][0]
    assert res.exit_code == 3
