"""``judgecal drift --anchors SET --judge EXPERIMENT`` is ``judgecal panel EXPERIMENT``: the
same library function (:func:`harness.drift.run_panel`), the same JSON."""

from __future__ import annotations

import json
import shutil

import fakeserver as fs
import pytest
from test_panel import Judge, n_holdout, write_experiment
from typer.testing import CliRunner

from harness.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("JC_PANEL_KEY", "sk-test-panel-0123456789abcdef")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def _cli(*args):
    return runner.invoke(app, [*map(str, args)])


def _same(doc):
    """The document without what differs between two runs (the run's id and time)."""
    doc = json.loads(json.dumps(doc))
    for key in ("run_id", "created_at"):
        doc["run"].pop(key)
    return doc


def test_both_spellings_give_the_same_json(tmp_path, project_root, demo):
    script = Judge(demo)
    n = n_holdout(demo)
    anchors = project_root / "anchors/recipes/recipes-overall.jsonl"
    with fs.FakeServer(script) as server:
        exp = write_experiment(tmp_path, project_root, server.openai_url)
        first = _cli("drift", "--anchors", anchors, "--judge", exp, "--split", "holdout",
                     "--json")
        assert first.exit_code == 0, first.output
        assert json.loads(first.stdout)["verdict"] is None  # recorded as the baseline
        script.answers = "harsh"  # a silent change behind the same model name
        via_panel = _cli("panel", exp, "--split", "holdout", "--no-record", "--json")
        via_drift = _cli("drift", "--anchors", anchors, "--judge", exp, "--split", "holdout",
                         "--no-record", "--json")
        assert server.stats.total == 3 * n
    assert via_panel.exit_code == via_drift.exit_code == 1, via_drift.output
    a, b = json.loads(via_panel.stdout), json.loads(via_drift.stdout)
    assert a["verdict"] == "judge" and a["silent_change"] is True
    assert _same(a) == _same(b)
    assert b["reference"]["run_id"] == json.loads(first.stdout)["run"]["run_id"]


def test_a_panel_set_elsewhere_and_the_printed_verdict(tmp_path, project_root, demo):
    script = Judge(demo)
    copy = tmp_path / "frozen-panel.jsonl"  # the same items: the same panel (items hash)
    shutil.copy(project_root / "anchors/recipes/recipes-overall.jsonl", copy)
    with fs.FakeServer(script) as server:
        exp = write_experiment(tmp_path, project_root, server.openai_url)
        assert _cli("panel", exp, "--split", "holdout").exit_code == 0
        script.answers = "harsh"
        res = _cli("drift", "--anchors", copy, "--judge", exp, "--split", "holdout",
                   "--no-record")
        doc = _cli("drift", "--anchors", copy, "--judge", exp, "--split", "holdout",
                   "--no-record", "--json")
    assert res.exit_code == 1, res.output
    assert "Verdict: judge" in res.output and "ALERT" in res.output
    # the table and the verdict's reason say the same share, CI and shift (three decimals)
    flat = " ".join(res.output.split())
    assert "│ 1.000 (31/31) │ [0.890, 1.000] │ yes (tolerance 0.05) │" in flat
    assert "│ panel: mean shift │ -0.935 │" in flat
    assert ("31 of 31 panel items moved (share 1.000, 95% CI [0.890, 1.000]; tolerance "
            "0.05), mean shift -0.935") in flat
    assert json.loads(doc.stdout)["verdict"] == "judge"
    # a smaller panel set: another panel (its items hash), judged on its own items
    lines = copy.read_text().splitlines()
    copy.write_text("\n".join(lines[:-3]) + "\n")
    with fs.FakeServer(script) as server:
        exp = write_experiment(tmp_path, project_root, server.openai_url)
        res = _cli("drift", "--anchors", copy, "--judge", exp, "--json")
        assert server.stats.total == len(demo.items) - 3
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["verdict"] is None and doc["run"]["n_items"] == len(demo.items) - 3


def test_bad_panel_input_exits_2(tmp_path, project_root):
    exp = write_experiment(tmp_path, project_root, "http://127.0.0.1:9/v1")
    anchors = project_root / "anchors/recipes/recipes-overall.jsonl"
    for args, message in ((["--anchors", anchors], "needs --judge"),
                          ([anchors, "--judge", exp], "not both"),
                          (["--judge", exp, "--split", "later"], "--split"),
                          (["--anchors", tmp_path / "none.jsonl", "--judge", exp],
                           "no such file"),
                          ([], "ratings FILE")):
        res = _cli("drift", *args)
        assert res.exit_code == 2 and message in res.output, (args, res.output)


def test_both_spellings_refuse_bad_options_alike(tmp_path, project_root, demo):
    """One validation for both spellings: the same exit 2 and message naming the CLI flag,
    before any call or record."""
    from harness.journal import Journal

    anchors = project_root / "anchors/recipes/recipes-overall.jsonl"
    with fs.FakeServer(Judge(demo)) as server:
        exp = write_experiment(tmp_path, project_root, server.openai_url)
        for args, message in ((["--split", "train"], "--split must be one of"),
                              (["--tolerance", "1.5"], "--tolerance is a share"),
                              (["--min-move", "-1"], "--min-move must be a finite number"),
                              (["--shift-tolerance", "nan"], "--shift-tolerance must be")):
            via_panel = _cli("panel", exp, *args)
            via_drift = _cli("drift", "--anchors", anchors, "--judge", exp, *args)
            for res in (via_panel, via_drift):
                assert res.exit_code == 2, (args, res.output)
                assert message in " ".join(res.output.split()), (args, res.output)
        assert server.stats.total == 0
    assert Journal(tmp_path / "state").panel_runs() == []
