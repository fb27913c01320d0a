"""The holdout ledger: every look at a holdout is recorded, and the gate's CIs count them."""

from __future__ import annotations

import json

import fakeserver as fs
import pytest
from mlflow.tracking import MlflowClient
from test_gate import as_json, gate, judge_handler, write_experiment

from harness.anchors import load_anchor_set
from harness.experiments import load_experiment
from harness.gate import holdout_confidence, load_gate, run_gate
from harness.journal import Journal
from harness.loop import calibrate
from harness.reports import ReportSettings, agreement_report

KEY = "sk-test-ledger-0123456789abcdef"


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("JC_GATE_KEY", KEY)
    monkeypatch.setenv("JC_LOOP_KEY", KEY)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


def _look(journal, *, prompt_hash="p1", judge_hash="j1", command="gate", version="v1"):
    return journal.record_holdout_look(
        items_hash="h", anchor_set="a", prompt_name="p", prompt_version=version,
        prompt_hash=prompt_hash, judge_hash=judge_hash, command=command)


def test_the_journal_counts_a_look_per_version_and_judge(tmp_path):
    journal = Journal(tmp_path)
    assert journal.holdout_versions("h") == []
    assert _look(journal) is True
    assert _look(journal) is False                      # the same gate re-run: ignored
    assert _look(journal, command="promote") is True    # recorded, the same look
    assert _look(journal, judge_hash="j2") is True      # another judge: another look
    assert _look(journal, prompt_hash="p2", version="v2") is True
    assert len(journal.holdout_looks("h")) == 4
    looks = journal.holdout_versions("h")
    assert [(x.prompt_hash, x.judge_hash, x.command) for x in looks] == [
        ("p1", "j1", "gate"), ("p1", "j2", "gate"), ("p2", "j1", "gate")]
    assert journal.holdout_versions("other") == []
    # the ledger survives reopening the journal
    journal.close()
    assert len(Journal(tmp_path).holdout_versions("h")) == 3
    assert [holdout_confidence(m) for m in (1, 2, 4)] == [0.95, 0.975, 0.9875]


def test_two_versions_on_one_holdout_tighten_the_gate(tmp_path, project_root, demo):
    from harness.prompts import load_prompt
    from harness.tracking import Tracker

    holdout_hash = demo.items_hash("holdout")
    with fs.FakeServer(judge_handler(demo)) as server:
        exp_path = write_experiment(tmp_path, project_root, demo, server.openai_url)
        tracker = Tracker("gate-test", f"sqlite:///{tmp_path / 'mlflow.db'}")
        v2 = load_prompt("recipes-overall", "v2", prompts_dir=tmp_path / "prompts")
        reg = tracker.register_prompt_version(v2, commit_message="test",
                                              tags={"holdout_items_hash": holdout_hash})

        res = gate(exp_path, "--prompt", "v1", "--min", "icc=0.3", "--json")
        assert res.exit_code == 0, res.output
        looks = as_json(res)["holdout_looks"]
        assert looks["n_versions"] == 1 and looks["confidence"] == 0.95
        assert looks["alpha"] == 0.05 and looks["items_hash"] == holdout_hash
        assert [v["prompt_version"] for v in looks["versions"]] == ["v1"]

        # a second version on the same holdout: 2 looks, CIs at 1 - 0.05/2
        exp, settings = load_gate(exp_path, min={"icc": 0.5}, on="lower-bound")
        result = run_gate(exp, settings, prompt="v2", n_resamples=200)
        assert result.holdout_looks.n_versions == 2
        assert result.report.settings.confidence == 0.975
        def judge_icc(confidence):  # the report's own figure, at a given confidence
            return agreement_report(
                result.run.table, judge_scores=result.run.judge_scores,
                settings=ReportSettings(n_resamples=200, seed=0, confidence=confidence,
                                        primary="icc")).judge["figures"]["icc"]

        expected, at95 = judge_icc(0.975), judge_icc(0.95)
        bar = result.bars[0]
        assert bar.ci95 == pytest.approx(expected.ci95)
        assert bar.checked == pytest.approx(expected.ci95[0])
        assert expected.ci95[0] < at95.ci95[0]
        # the bar says at which confidence it was checked
        assert bar.name == "icc >= 0.5 (lower 97.5% bound)" and bar.confidence == 0.975
        assert "lower 97.5% bound" in bar.message
        # recorded on the registered version's tags too
        tags = tracker.prompt_version_tags("recipes-overall", reg)
        assert tags["judgecal.holdout_looks"] == "2"
        assert tags["judgecal.holdout_looks_items_hash"] == holdout_hash

        # the same version again (gate, validate): the same look, still 2
        junit, summary = tmp_path / "g.xml", tmp_path / "g.md"
        res = gate(exp_path, "--prompt", "v2", "--min", "icc=0.5", "--on", "lower-bound",
                   "--resamples", "200", "--json", "--junit", junit, "--summary", summary)
        assert res.exit_code == 0, res.output
        doc = as_json(res)
        assert doc["holdout_looks"]["n_versions"] == 2
        assert doc["holdout_looks"]["confidence"] == 0.975
        assert [v["current"] for v in doc["holdout_looks"]["versions"]] == [False, True]
        assert doc["bars"][0]["checked"] == pytest.approx(expected.ci95[0])
        xml = junit.read_text()
        assert 'name="holdout_looks" value="2"' in xml
        assert 'name="ci_confidence" value="0.975"' in xml
        md = summary.read_text()
        assert "holdout looks: 2 versions" in md and "value [97.5% CI]" in md
        assert "(lower 97.5%)" in md
        res = gate(exp_path, "--prompt", "v2", "--resamples", "0", command="validate")
        assert res.exit_code == 0, res.output
        assert "holdout looks: 2 versions" in " ".join(res.output.split())
        res = gate(exp_path, "--prompt", "v2", "--json", "--resamples", "0",
                   command="validate")
        assert as_json(res)["holdout_looks"]["n_versions"] == 2
        # the calibration split is not the holdout: no ledger, 95% CIs
        res = gate(exp_path, "--prompt", "v2", "--split", "calibration", "--min", "icc=0.3",
                   "--json")
        assert res.exit_code == 0, res.output
        assert as_json(res)["holdout_looks"] is None
    looks = Journal(tmp_path / "state").holdout_looks(holdout_hash)
    assert sorted((x.prompt_version, x.command) for x in looks) == [
        ("v1", "gate"), ("v2", "gate"), ("v2", "validate")]


def test_fresh_holdout_refused_after_another_version_and_accepted_on_a_new_one(
        tmp_path, project_root, demo):
    with fs.FakeServer(judge_handler(demo)) as server:
        exp_path = write_experiment(tmp_path, project_root, demo, server.openai_url)
        # a holdout nobody has looked at is fresh
        res = gate(exp_path, "--prompt", "v1", "--min", "icc=0.3", "--fresh-holdout",
                   "--json")
        assert res.exit_code == 0, res.output
        looks = as_json(res)["holdout_looks"]
        assert looks["fresh_holdout"] is True and looks["n_versions"] == 1
        # the same version again is still the only look
        res = gate(exp_path, "--prompt", "v1", "--min", "icc=0.3", "--fresh-holdout")
        assert res.exit_code == 0, res.output
        # another version: refused before any judge call, nothing recorded
        calls = server.stats.total
        res = gate(exp_path, "--prompt", "v2", "--min", "icc=0.3", "--fresh-holdout")
        assert res.exit_code == 2, res.output
        text = " ".join(res.output.split())
        assert "is not fresh: 1 other version(s)" in text and "recipes-overall v1" in text
        res = gate(exp_path, "--prompt", "v2", "--fresh-holdout", command="validate")
        assert res.exit_code == 2, res.output
        assert server.stats.total == calls
        assert len(Journal(tmp_path / "state").holdout_versions(
            demo.items_hash("holdout"))) == 1

        # a new holdout (one holdout item re-labelled): fresh again
        lines = (project_root / "anchors/recipes/recipes-overall.jsonl").read_text(
            encoding="utf-8").splitlines()
        for i, line in enumerate(lines[1:], start=1):
            item = json.loads(line)
            if item["split"] == "holdout":
                item["rationale"] = "re-labelled"
                lines[i] = json.dumps(item, ensure_ascii=False)
                break
        new = tmp_path / "new-holdout.jsonl"
        new.write_text("\n".join(lines) + "\n", encoding="utf-8")
        exp_path = write_experiment(tmp_path, project_root, demo, server.openai_url,
                                    anchors=f'path = "{new}"')
        res = gate(exp_path, "--prompt", "v2", "--min", "icc=0.3", "--fresh-holdout",
                   "--json")
        assert res.exit_code == 0, res.output
        looks = as_json(res)["holdout_looks"]
        assert looks["n_versions"] == 1 and looks["confidence"] == 0.95
        assert looks["items_hash"] == load_anchor_set(new).items_hash("holdout") \
            != demo.items_hash("holdout")


def test_the_loop_records_one_look_per_calibration(tmp_path, project_root, demo):
    from test_loop import learner
    from test_loop import write_experiment as write_loop_experiment

    holdout_hash = demo.items_hash("holdout")
    with fs.FakeServer(learner(demo)) as server:
        exp = load_experiment(write_loop_experiment(tmp_path, project_root, server))
        result = calibrate(exp, show_progress=False)
        assert result.best.prompt.label == "v2" and len(result.iterations) == 2
        journal = Journal(tmp_path / "state")
        looks = journal.holdout_looks(holdout_hash)
        assert [(x.prompt_version, x.command, x.run_id) for x in looks] == [
            ("v2", "calibrate", result.parent_run_id)]
        client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
        assert client.get_run(result.parent_run_id).data.tags[
            "judgecal.holdout_looks"] == "1"
        # a calibration started again writes a new version (v3): its own one look
        again = calibrate(exp, show_progress=False, restart=True)
        assert again.best.prompt.label == "v3"
        looks = journal.holdout_versions(holdout_hash)
        assert [(x.prompt_version, x.run_id) for x in looks] == [
            ("v2", result.parent_run_id), ("v3", again.parent_run_id)]
        assert client.get_run(again.parent_run_id).data.tags["judgecal.holdout_looks"] == "2"
        # gating the calibrated version (the alias) is the same look; another version adds one
        exp_path = tmp_path / "exp.toml"
        res = gate(exp_path, "--alias", "candidate", "--min", "icc=0.3", "--json")
        assert res.exit_code == 0, res.output
        doc = as_json(res)
        assert doc["prompt"]["version"] == "v3"
        assert doc["holdout_looks"]["n_versions"] == 2
        assert doc["holdout_looks"]["confidence"] == 0.975
        res = gate(exp_path, "--prompt", "v1", "--max", "mae=5", "--json")
        assert res.exit_code == 0, res.output
        doc = as_json(res)
        assert doc["holdout_looks"]["n_versions"] == 3
        assert [v["command"] for v in doc["holdout_looks"]["versions"]] == [
            "calibrate", "calibrate", "gate"]
    # the candidate's registry tags: the looks when it was last evaluated (by the gate)
    from harness.tracking import Tracker

    found = Tracker("loop-test", f"sqlite:///{tmp_path / 'mlflow.db'}").prompt_version_for_alias(
        "recipes-overall", "candidate")
    assert found is not None and found[1]["judgecal_version"] == "v3"
    assert found[1]["judgecal.holdout_looks"] == "2"
