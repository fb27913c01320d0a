"""`judgecal judge` end to end: experiment -> prompt -> real SDK -> local server -> report."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import fakeserver as fs
import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.journal import Journal

KEY = "sk-test-judgecal-0123456789abcdef"
runner = CliRunner()


def _consensus_judge(demo, offset=0):
    """A server-side judge that answers the rounded human consensus (+ offset)."""
    by_output = {it.output.strip(): it for it in demo.items}
    consensus = demo.consensus()

    def handler(api, body, n):
        item = by_output[fs.recipe_output(body)]
        value = int(min(6, max(1, round(consensus[item.id]) + offset)))
        return fs.score(value)

    return handler


def _experiment(tmp_path, project_root, server, **extra):
    text = f"""
[experiment]
name = "e2e"

[anchors]
path = "{project_root / 'anchors/recipes/recipes-overall.jsonl'}"

[prompt]
name = "recipes-overall"
version = "v1"
dir = "{project_root / 'prompts'}"

[judge]
provider = "openai"
model = "fake-model"
base_url = "{server.openai_url}"
api_key_env = "JC_TEST_KEY"

[run]
concurrency = 4
max_attempts = 2

[state]
dir = "{tmp_path / 'state'}"
"""
    for section, body in extra.items():
        text += f"\n[{section}]\n{body}\n"
    p = tmp_path / "exp.toml"
    p.write_text(text)
    return p


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("JC_TEST_KEY", KEY)


def _run(*args):
    return runner.invoke(app, ["judge", *map(str, args), "--no-progress"])


def test_judge_runs_journals_and_reports(tmp_path, project_root, demo):
    with fs.FakeServer(_consensus_judge(demo)) as server:
        exp = _experiment(tmp_path, project_root, server)
        out_csv = tmp_path / "judgments.csv"
        res = _run(exp, "--json", "--resamples", "200", "--out", out_csv)
        assert res.exit_code == 0, res.output
        doc = json.loads(res.output)
        n_cal = sum(1 for it in demo.items if it.split == "calibration")
        assert doc["run"]["n_requests"] == n_cal == server.stats.total
        assert doc["run"]["n_ok"] == n_cal and doc["run"]["prompt"]["version"] == "v1"
        assert doc["n_items"] == n_cal
        # a judge that answers the rounded consensus tracks the humans closely
        assert doc["judge"]["figures"]["spearman"]["value"] > 0.9
        assert doc["judge"]["position"]["icc"] in ("within", "above")
        with out_csv.open() as fh:
            rows = list(csv.DictReader(fh))
        assert len(rows) == n_cal and {r["status"] for r in rows} == {"ok"}

        # a re-run with nothing changed makes zero calls
        res = _run(exp, "--json", "--resamples", "0")
        assert res.exit_code == 0, res.output
        again = json.loads(res.output)["run"]
        assert again["n_requests"] == 0 and again["n_cached"] == n_cal
        assert server.stats.total == n_cal

        # the holdout split is judged separately
        res = _run(exp, "--json", "--resamples", "0", "--split", "holdout")
        assert res.exit_code == 0, res.output
        assert json.loads(res.output)["run"]["n_requests"] == len(demo.items) - n_cal

    journal = Journal(tmp_path / "state")
    assert journal.count() == len(demo.items)
    recs = list(journal.records(prompt_name="recipes-overall"))
    assert {r.prompt_version for r in recs} == {"v1"}
    # the key went to the server, and nowhere else
    assert any(KEY in " ".join(h.values()) for h in server.stats.headers)
    for path in [*(tmp_path / "state").iterdir(), out_csv]:
        assert KEY.encode() not in Path(path).read_bytes(), path


def test_rich_output_names_the_run_and_the_verdict(tmp_path, project_root, demo):
    with fs.FakeServer(_consensus_judge(demo, offset=-3)) as server:
        exp = _experiment(tmp_path, project_root, server)
        res = _run(exp, "--resamples", "100")
    assert res.exit_code == 0, res.output
    assert "recipes-overall v1" in res.output
    assert "Judge 'openai:fake-model' vs human consensus" in res.output
    flat = " ".join(res.output.split())
    assert "is BELOW the human range" in flat  # a judge 3 points harsh is not a human


def test_budget_stops_cleanly_and_the_rest_runs_later(tmp_path, project_root, demo):
    with fs.FakeServer(_consensus_judge(demo)) as server:
        exp = _experiment(tmp_path, project_root, server, budget="max_calls = 5")
        res = _run(exp, "--json", "--resamples", "0")
        assert res.exit_code == 3
        doc = json.loads(res.stdout)
        assert doc["run"]["n_requests"] == 5 and doc["run"]["stopped"].startswith("budget")
        assert Journal(tmp_path / "state").count() == 5
        exp = _experiment(tmp_path, project_root, server)
        res = _run(exp, "--json", "--resamples", "0")
        assert res.exit_code == 0, res.output
        n_cal = sum(1 for it in demo.items if it.split == "calibration")
        assert json.loads(res.output)["run"]["n_requests"] == n_cal - 5


def test_missing_key_exits_3_naming_the_variable(tmp_path, project_root, monkeypatch):
    monkeypatch.delenv("JC_TEST_KEY")
    with fs.FakeServer() as server:
        res = _run(_experiment(tmp_path, project_root, server))
        assert server.stats.total == 0
    assert res.exit_code == 3
    assert "JC_TEST_KEY" in res.output


def test_input_errors_exit_2(tmp_path, project_root):
    with fs.FakeServer() as server:
        exp = _experiment(tmp_path, project_root, server)
        res = _run(exp, "--prompt", "v9")
        assert res.exit_code == 2 and "v9" in res.output
        exp = _experiment(tmp_path, project_root, server, scoring='mode = "logprob"')
        res = _run(exp)
        assert res.exit_code == 2 and "never switched silently" in res.output
        res = _run(tmp_path / "missing.toml")
        assert res.exit_code == 2 and "file not found" in res.output
        assert server.stats.total == 0


@pytest.mark.parametrize("command", ["judge", "calibrate"])
def test_unknown_provider_exits_2(command, project_root):
    exp = project_root / "experiments" / "recipes-overall-local.toml"
    res = runner.invoke(app, [command, str(exp), "--provider", "nope"])
    assert res.exit_code == 2
    assert "unknown --provider 'nope'" in " ".join(res.stderr.split())
