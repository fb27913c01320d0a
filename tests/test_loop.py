"""The calibration loop end to end, against the local test server and a real MLflow store."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import fakeserver as fs
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from harness.cli import app
from harness.experiments import load_experiment
from harness.journal import Journal
from harness.loop import LoopState, calibrate

KEY = "sk-test-loop-0123456789abcdef"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("JC_LOOP_KEY", KEY)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def learner(demo, *, learns=True, calls=None):
    """A server-side judge: constant 1 without examples, the rounded consensus with them."""
    by_output = {it.output.strip(): it for it in demo.items}
    consensus = demo.consensus()

    def handler(api, body, n):
        system = body["messages"][0]["content"]
        item = by_output[fs.recipe_output(body)]
        if calls is not None:
            calls.append(item.id)
        if learns and "Rated examples" in system:
            return fs.score(int(min(6, max(1, round(consensus[item.id])))))
        return fs.score(1 if item.id < "m" else 2)

    return handler


def write_experiment(tmp_path, project_root, server, **sections):
    return fs.experiment_file(tmp_path, project_root, {
        "experiment": 'name = "loop-test"',
        "judge": (f'provider = "openai"\nmodel = "fake"\nbase_url = "{server.openai_url}"\n'
                  'api_key_env = "JC_LOOP_KEY"'),
        "run": "concurrency = 8\nmax_attempts = 2",
        "target": 'metric = "icc"\nthreshold = 0.7',
        "stopping": "max_iterations = 4",
        "revision": 'strategy = "fewshot"\nk = 2\nmax_examples = 2',
        **sections,
    })


def test_loop_revises_until_the_threshold_then_validates_on_holdout(
        tmp_path, project_root, demo):
    calls: list[str] = []
    with fs.FakeServer(learner(demo, calls=calls)) as server:
        exp = load_experiment(write_experiment(tmp_path, project_root, server))
        result = calibrate(exp, show_progress=False)
    assert result.stop_reason == "threshold"
    assert [r.prompt.label for r in result.iterations] == ["v1", "v2"]
    assert result.best.prompt.label == "v2" and result.best.primary_value >= 0.7
    assert result.iterations[0].revision["new_version"] == "v2"
    # v2 is a new file with parent 1; v1 is untouched
    v2 = (tmp_path / "prompts/recipes-overall/v2.j2").read_text()
    assert "parent: 1" in v2
    assert (tmp_path / "prompts/recipes-overall/v1.j2").read_bytes() == \
        (project_root / "prompts/recipes-overall/v1.j2").read_bytes()
    # the few-shot examples are calibration items only; holdout judged once, at the end
    holdout = {it.id for it in demo.items if it.split == "holdout"}
    assert not holdout & set(re.findall(r'"id": "([^"]+)"', v2))
    assert result.holdout is not None and result.holdout.prompt.label == "v2"
    assert sum(1 for c in calls if c in holdout) == len(holdout)
    # the target on the holdout CI, three outcomes as the gate decides them
    lo, hi = result.holdout.figures["icc"].ci95
    v = result.holdout.verdict
    assert v.name == "icc >= 0.7 (lower 95% bound)" and v.checked == lo
    assert result.holdout.outcome == ("pass" if lo >= 0.7 else
                                      "fail" if hi < 0.7 else "inconclusive")
    # MLflow: a parent run with a nested run per iteration, all FINISHED
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    parent = client.get_run(result.parent_run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["judgecal.holdout_outcome"] == result.holdout.outcome
    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert len(children) == 2 and {c.info.status for c in children} == {"FINISHED"}
    hist = client.get_metric_history(result.parent_run_id, "calibration_icc")
    assert sorted(m.step for m in hist) == [1, 2]
    arts = {a.path for a in client.list_artifacts(children[0].info.run_id)}
    assert {"plots", "prompt", "judgments", "disagreements.md"} <= arts
    # reports written and linked
    assert result.report_html.is_file() and result.report_md.is_file()
    assert "v2" in result.report_md.read_text()
    assert LoopState.load(exp).status == "finished"
    # no key anywhere on disk
    for path in (tmp_path / "state").rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    assert KEY.encode() not in (tmp_path / "mlflow.db").read_bytes()


def test_loop_stops_on_a_plateau(tmp_path, project_root, demo):
    with fs.FakeServer(learner(demo, learns=False)) as server:
        exp = load_experiment(write_experiment(tmp_path, project_root, server,
                                               stopping="max_iterations = 5"))
        result = calibrate(exp, show_progress=False)
    assert result.stop_reason == "plateau"
    assert len(result.iterations) == 3  # no improvement >= 0.01 for 2 iterations
    assert any("below the human range" in w for w in result.warnings)
    # a judge saying 1 or 2 is far below 0.7 even at the upper end of its holdout CI
    assert result.holdout.outcome == "fail"
    assert result.holdout.figures["icc"].ci95[1] < 0.7
    assert "threshold ICC(2,1) ≥ 0.7 checked on the 95% CI: FAIL (ICC(2,1): even the upper" \
        in result.report_md.read_text()


def test_a_provider_failure_marks_the_mlflow_run_failed(tmp_path, project_root, demo):
    state = {"n": 0}
    good = learner(demo)

    def handler(api, body, n):
        state["n"] += 1
        if "Rated examples" in body["messages"][0]["content"]:
            return fs.error(401)
        return good(api, body, n)

    with fs.FakeServer(handler) as server:
        path = write_experiment(tmp_path, project_root, server)
        res = runner.invoke(app, ["calibrate", str(path), "--no-progress"])
    assert res.exit_code == 3, res.output
    assert "authentication failed" in res.output
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp_id = client.get_experiment_by_name("loop-test").experiment_id
    statuses = {r.info.status for r in client.search_runs([exp_id])}
    assert "RUNNING" not in statuses and "FAILED" in statuses


def test_manual_reviser_waits_for_the_user_then_continues(tmp_path, project_root, demo):
    with fs.FakeServer(learner(demo)) as server:
        path = write_experiment(tmp_path, project_root, server,
                                revision='strategy = "manual"')
        res = runner.invoke(app, ["calibrate", str(path), "--no-progress"])
        assert res.exit_code == 0, res.output
        assert "stopped because a manual revision is needed" in " ".join(res.output.split())
        briefs = list((tmp_path / "reports").glob("*brief*.md"))
        assert briefs and "v2.j2" in briefs[0].read_text()
        res = runner.invoke(app, ["calibrate", str(path), "--no-progress"])
        assert "waiting for a manual revision" in " ".join(res.output.split())
        # the user writes v2 (here: v1 plus one example line) and runs calibrate again
        v1 = (tmp_path / "prompts/recipes-overall/v1.j2").read_text()
        v2 = v1.replace("version: 1", "version: 2").replace("parent: none", "parent: 1")
        v2 = v2.replace("changelog: ", "changelog: manual: add an example. ", 1)
        v2 = v2.replace("-#}\n", '-#}\n{%- set examples = [{"id": "x", "input": "i", '
                        '"output": "o", "score": 3, "rationale": "r"}] -%}\n', 1)
        (tmp_path / "prompts/recipes-overall/v2.j2").write_text(v2)
        res = runner.invoke(app, ["calibrate", str(path), "--no-progress"])
        assert res.exit_code == 0, res.output
        flat = " ".join(res.output.split())
        assert "Alt-test of the best version on the holdout split (ε = 0.2)" in flat
        assert re.search(r"holdout verdict, icc >= 0\.7 \(lower 95% bound\): "
                         r"(PASS|FAIL|INCONCLUSIVE) — ICC\(2,1\)", flat), flat
    exp = load_experiment(path)
    assert LoopState.load(exp).status == "finished"
    assert [d["version"] for d in LoopState.load(exp).iterations] == ["v1", "v2"]


def test_a_killed_calibration_resumes_where_it_stopped(tmp_path, project_root, demo):
    calls: list[str] = []
    with fs.FakeServer(learner(demo, calls=calls), latency=0.05) as server:
        path = write_experiment(tmp_path, project_root, server, run="concurrency = 2")
        script = tmp_path / "run.py"
        script.write_text(
            "import sys\nfrom harness.experiments import load_experiment\n"
            "from harness.loop import calibrate\n"
            f"calibrate(load_experiment({str(path)!r}), show_progress=False)\n")
        proc = subprocess.Popen([sys.executable, str(script)], cwd=project_root)
        journal = Journal(tmp_path / "state")
        n_cal = sum(1 for it in demo.items if it.split == "calibration")
        deadline = time.time() + 60
        # kill during iteration 2 (iteration 1 judged, some of iteration 2 journaled)
        while time.time() < deadline and journal.count() < n_cal + 3:
            time.sleep(0.05)
        proc.kill()
        proc.wait()
        done_before = journal.count()
        assert n_cal < done_before < 2 * n_cal
        exp = load_experiment(path)
        parent_before = LoopState.load(exp).parent_run_id
        before = len(calls)
        result = calibrate(exp, show_progress=False)
    assert result.parent_run_id == parent_before
    assert result.stop_reason == "threshold"
    # the re-run asked only for what was missing: the rest of iteration 2 and the holdout
    n_hold = len(demo.items) - n_cal
    assert len(calls) - before == (2 * n_cal - done_before) + n_hold
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert client.get_run(result.parent_run_id).info.status == "FINISHED"


def test_json_of_the_state_is_readable(tmp_path, project_root, demo):
    with fs.FakeServer(learner(demo)) as server:
        exp = load_experiment(write_experiment(tmp_path, project_root, server))
        calibrate(exp, show_progress=False)
    doc = json.loads(LoopState.path_for(exp).read_text())
    assert doc["status"] == "finished" and doc["iterations"][0]["next_version"] == "v2"
    assert len(doc["iterations"][1]["hash"]) == 64 and doc["parent_run_id"]


def test_each_item_keeps_its_human_range_for_the_report():
    import numpy as np

    from harness.loop._loop import _human_range

    scores = np.array([[1.0, 3.0, np.nan], [np.nan, np.nan, np.nan], [4.0, 4.0, 2.0]])
    got = _human_range(scores)
    assert got[0].tolist() == [1.0, 3.0] and got[2].tolist() == [2.0, 4.0]
    assert np.isnan(got[1]).all()
