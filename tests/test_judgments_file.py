"""`validate` and `gate` on a judgments file (`--judgments FILE`): no judge is called.

The done-when: a gate (and a validate) on the `judge --out` CSV of a live run equals the gate
on that live run, bar for bar and figure for figure.
"""

from __future__ import annotations

import csv
import json

import fakeserver as fs
import pytest
from test_gate import judge_handler, write_experiment
from test_gate_scorecard import experiment as card_experiment
from test_gate_scorecard import handler_for
from typer.testing import CliRunner

from harness.anchors import load_scorecard
from harness.cli import app
from harness.gate import gate_settings, run_gate
from harness.journal import Journal
from harness.judgments import JudgmentsFileError, read_judgments_file

runner = CliRunner()
KEY = "sk-test-gate-0123456789abcdef"
BARS = ["--min", "icc=0.6", "--min", "spearman=0.5", "--max", "mae=1.2", "--resamples", "200"]


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("JC_GATE_KEY", KEY)
    monkeypatch.setenv("JC_CARD_KEY", KEY)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


@pytest.fixture(scope="module")
def holdout(demo):
    return [it.id for it in demo.items if it.split == "holdout"]


def cli(*args):
    return runner.invoke(app, [*map(str, args)])


def offline_experiment(tmp_path, project_root, demo, **sections):
    """An experiment whose [judge] cannot work: a refused port and an unset key."""
    folder = tmp_path / "nojudge"
    folder.mkdir(exist_ok=True)
    return write_experiment(folder, project_root, demo, f"http://127.0.0.1:{fs.free_port()}/v1",
                            judge=(f'provider = "openai"\nmodel = "fake"\nbase_url = '
                                   f'"http://127.0.0.1:{fs.free_port()}/v1"\n'
                                   'api_key_env = "JC_UNSET_KEY"'), **sections)


def write_long(path, rows, columns):
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(columns)
        w.writerows(rows)
    return path


def consensus_rows(demo, ids, judge=None, criterion=None):
    c = demo.consensus()
    return [[*(x for x in (judge, criterion) if x is not None), i, round(c[i])] for i in ids]


# --------------------------------------------------------------------------- done when


def test_gate_and_validate_on_judge_out_equal_the_live_run(tmp_path, project_root, demo,
                                                           holdout, monkeypatch):
    live_dir = tmp_path / "live"
    live_dir.mkdir()
    with fs.FakeServer(judge_handler(demo)) as server:
        exp = write_experiment(live_dir, project_root, demo, server.openai_url)
        out = tmp_path / "judged.csv"
        res = cli("judge", exp, "--split", "holdout", "--out", out, "--no-progress")
        assert res.exit_code == 0, res.output
        live = cli("gate", exp, *BARS, "--json", "--no-progress")
        live_v = cli("validate", exp, "--json", "--resamples", "200", "--no-progress")
        calls = server.stats.total
    assert live.exit_code in (0, 1, 4), live.output
    monkeypatch.delenv("JC_GATE_KEY")
    other = offline_experiment(tmp_path, project_root, demo)
    res = cli("gate", other, *BARS, "--judgments", out, "--json", "--no-progress")
    assert res.exit_code == live.exit_code, res.output
    a, b = json.loads(live.stdout), json.loads(res.stdout)
    assert calls == len(holdout)  # the live gate and validate answered from the journal
    for key in ("outcome", "status", "passed", "exit_code", "bars", "invalid", "gold",
                "n_items", "split", "holdout_looks"):
        if key == "holdout_looks":
            assert a[key]["confidence"] == b[key]["confidence"] == 0.95
            continue
        assert a[key] == b[key], key
    assert b["judge"]["provider"] == "file" and b["judge"]["model"] == "judged.csv"
    assert len(b["judge"]["sha256"]) == 64
    assert b["prompt"]["name"] == "judged.csv" and b["prompt"]["hash"] == b["judge"]["sha256"]
    assert b["checks"]["prompt"] == (f"not checked (judgments from {out} "
                                     f"(sha256:{b['judge']['sha256']}))")
    assert b["run"]["n_requests"] == 0
    assert any("prompt not checked" in w for w in b["warnings"])

    res = cli("validate", other, "--judgments", out, "--json", "--resamples", "200",
              "--no-progress")
    assert res.exit_code == 0, res.output
    a, b = json.loads(live_v.stdout), json.loads(res.stdout)
    assert a["judge"]["figures"] == b["judge"]["figures"]
    assert a["human"] == b["human"] and a["invalid"] == b["invalid"]
    assert b["judge"]["rater_id"] == "file:judged.csv"


def test_a_scorecard_gate_on_its_judge_out_equals_the_live_gate(tmp_path, project_root,
                                                                monkeypatch):
    card = load_scorecard(project_root / "anchors/recipes/recipes-scorecard.jsonl")
    bars = ["--min", "grammar.spearman=0.3", "--min", "total.spearman=0.3",
            "--resamples", "50", "--no-progress", "--json"]
    live_dir, file_dir = tmp_path / "live", tmp_path / "file"
    live_dir.mkdir()
    file_dir.mkdir()
    with fs.FakeServer(handler_for(card)) as server:
        exp = card_experiment(live_dir, project_root, server)
        out = tmp_path / "card.csv"
        res = cli("judge", exp, "--split", "holdout", "--out", out, "--no-progress")
        assert res.exit_code in (0, 3), res.output
        live = cli("gate", exp, *bars)
        url = server.openai_url
    monkeypatch.delenv("JC_CARD_KEY")
    exp = card_experiment(file_dir, project_root, type("Gone", (), {"openai_url": url}))
    res = cli("gate", exp, "--judgments", out, *bars)
    assert res.exit_code == live.exit_code, res.output
    a, b = json.loads(live.stdout), json.loads(res.stdout)
    assert a["outcome"] == b["outcome"] and a["bars"] == b["bars"]
    assert a["total"]["figures"] == b["total"]["figures"]
    assert b["questions"]["grammar"]["judge"]["criterion"] == "grammar"


# --------------------------------------------------------------------------- no provider


def test_no_judge_is_built_or_called(tmp_path, project_root, demo, holdout, monkeypatch):
    import harness.gate._versions as gate_mod
    import harness.judgments as judgments_mod

    def refuse(*args, **kwargs):
        raise AssertionError("a judge was built")

    monkeypatch.setattr(gate_mod, "make_judge", refuse)
    monkeypatch.setattr(judgments_mod, "make_judge", refuse)
    exp = offline_experiment(tmp_path, project_root, demo)
    f = write_long(tmp_path / "j.csv", consensus_rows(demo, holdout), ["item_id", "score"])
    from harness.experiments import load_experiment

    e = load_experiment(exp)
    result = run_gate(e, gate_settings(e.gate, min=["spearman=0.5"], on="point"),
                      judgments=f, n_resamples=0)
    assert result.passed and result.run.result.n_requests == 0
    assert result.run.n_items == len(holdout) and result.invalid.n == len(holdout)
    assert result.judge.status == "not checked (judgments from a file)"


# --------------------------------------------------------------------------- samples, items


def test_samples_are_aggregated_and_fractional_means_kept(tmp_path, project_root, demo,
                                                          holdout):
    exp = offline_experiment(tmp_path, project_root, demo, scoring="aggregate = \"median\"")
    rows = []
    for k, i in enumerate(holdout):
        if k == 0:
            rows += [[i, 0, 2], [i, 1, 5], [i, 2, 6]]  # median 5, mean 4.33
        else:
            rows.append([i, 0, 3.5])  # a mean of samples made elsewhere
    f = write_long(tmp_path / "s.csv", rows, ["item_id", "sample", "score"])
    from harness.experiments import load_experiment

    e = load_experiment(exp)
    settings = gate_settings(e.gate, on="point", max_invalid=1.0)
    result = run_gate(e, settings, judgments=f, n_resamples=0, command="validate")
    scores = dict(zip(result.run.table.item_ids, result.run.judge_scores, strict=True))
    assert scores[holdout[0]] == 5.0
    assert all(scores[i] == 3.5 for i in holdout[1:])
    assert result.run.retest is not None  # one item has 3 samples


def test_extra_items_ignored_missing_items_count_against_max_invalid(tmp_path, project_root,
                                                                     demo, holdout):
    exp = offline_experiment(tmp_path, project_root, demo)
    every = [it.id for it in demo.items]
    present = [i for i in every if i not in holdout[:2]]  # calibration items too
    rows = consensus_rows(demo, present) + [["not-an-item", 3]]
    f = write_long(tmp_path / "m.csv", rows, ["item_id", "score"])
    res = cli("gate", exp, "--judgments", f, "--min", "spearman=0.3", "--json",
              "--no-progress")
    assert res.exit_code == 3, res.output
    doc = json.loads(res.stdout)
    assert doc["n_items"] == len(holdout) and doc["invalid"]["n"] == len(holdout)
    assert doc["invalid"]["n_failed"] == 2 and not doc["invalid"]["passed"]
    assert doc["invalid"]["causes"][0]["cause"] == "no judgment of this item in m.csv"
    assert any("1 item(s) of m.csv not in" in w for w in doc["warnings"])
    res = cli("gate", exp, "--judgments", f, "--min", "spearman=0.3", "--max-invalid", "0.5",
              "--on", "point", "--json", "--no-progress")
    assert res.exit_code == 0, res.output


# --------------------------------------------------------------------------- judges, criteria


def test_several_judges_need_judge_and_each_is_a_look(tmp_path, project_root, demo, holdout):
    exp = offline_experiment(tmp_path, project_root, demo)
    rows = consensus_rows(demo, holdout, judge="a") + consensus_rows(demo, holdout, judge="b")
    f = write_long(tmp_path / "two.csv", rows, ["judge", "item_id", "score"])
    res = cli("gate", exp, "--judgments", f, "--min", "spearman=0.3", "--no-progress")
    assert res.exit_code == 2
    assert "2 judges in the file (a, b): pick one with --judge ID" in res.output
    res = cli("gate", exp, "--judgments", f, "--judge", "c", "--min", "spearman=0.3",
              "--no-progress")
    assert res.exit_code == 2 and "no judge 'c' (its judges: a, b)" in res.output
    first = cli("gate", exp, "--judgments", f, "--judge", "a", "--min", "spearman=0.3",
                "--json", "--no-progress")
    second = cli("gate", exp, "--judgments", f, "--judge", "b", "--min", "spearman=0.3",
                 "--max-regression", "spearman=0.1", "--baseline", "a", "--json",
                 "--no-progress")
    assert first.exit_code == 0 and second.exit_code == 0, second.output
    one, two = json.loads(first.stdout), json.loads(second.stdout)
    assert one["holdout_looks"]["n_versions"] == 1 and two["holdout_looks"]["n_versions"] == 2
    assert two["judge"]["judge"] == "b" and two["baseline"]["name"] == "two.csv"
    assert two["bars"][1]["outcome"] == "pass"  # the same scores: no regression
    assert len({v["prompt_hash"] for v in two["holdout_looks"]["versions"]}) == 1


def test_a_criterion_column_must_match_or_be_picked(tmp_path, project_root, demo, holdout):
    exp = offline_experiment(tmp_path, project_root, demo)
    rows = (consensus_rows(demo, holdout, criterion="overall")
            + consensus_rows(demo, holdout, criterion="tone"))
    f = write_long(tmp_path / "crit.csv", rows, ["criterion", "item_id", "score"])
    res = cli("validate", exp, "--judgments", f, "--no-progress")
    assert res.exit_code == 2 and "pick one with --criterion ID" in res.output
    res = cli("validate", exp, "--judgments", f, "--criterion", "overall", "--json",
              "--no-progress")
    assert res.exit_code == 0, res.output
    exp2 = offline_experiment(tmp_path, project_root, demo, anchors=(
        f'path = "{project_root / "anchors/recipes/recipes-overall.jsonl"}"\n'
        'criterion = "overall"'))
    res = cli("validate", exp2, "--judgments", f, "--json", "--no-progress")
    assert res.exit_code == 0, res.output
    res = cli("validate", exp2, "--judgments", f, "--criterion", "tone", "--no-progress")
    assert res.exit_code == 2 and "the experiment judges 'overall'" in res.output


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(("text", "where", "message"), [
    ("item_id,score\na,4\nb,four\n", ":3:", "'four' is not a plain decimal number"),
    ("item,score\na,4\n", ":1:", "missing column(s) item_id"),
    ("item_id,sample,score\na,0,4\na,0,5\n", ":3:", "sample 0 given twice"),
    ("item_id,score,status\na,4,ok\nb,,maybe\n", ":3:", "unknown status 'maybe'"),
    ("item_id,score\n,4\n", ":2:", "empty item_id"),
])
def test_malformed_csv_is_file_line_exit_2_nothing_recorded(tmp_path, project_root, demo,
                                                            text, where, message):
    exp = offline_experiment(tmp_path, project_root, demo)
    f = tmp_path / "bad.csv"
    f.write_text(text)
    res = cli("gate", exp, "--judgments", f, "--min", "icc=0.5", "--no-progress")
    assert res.exit_code == 2, res.output
    flat = " ".join(res.output.split())
    assert f"bad.csv{where}" in flat and message in flat
    assert not (tmp_path / "nojudge/state").exists() or not Journal(
        tmp_path / "nojudge/state").holdout_versions(demo.items_hash("holdout"))


def test_scores_off_the_scale_and_files_of_another_set_are_input_errors(tmp_path,
                                                                        project_root, demo,
                                                                        holdout):
    exp = offline_experiment(tmp_path, project_root, demo)
    f = write_long(tmp_path / "off.csv", [[holdout[0], 60]], ["item_id", "score"])
    res = cli("validate", exp, "--judgments", f, "--no-progress")
    assert res.exit_code == 2 and "off.csv:2:" in res.output and "outside" in res.output
    f = write_long(tmp_path / "other.csv", [["x1", 3], ["x2", 4]], ["item_id", "score"])
    res = cli("validate", exp, "--judgments", f, "--no-progress")
    assert res.exit_code == 2 and "another anchor set" in " ".join(res.output.split())


def test_judgments_refuse_prompt_overrides_and_promote(tmp_path, project_root, demo, holdout):
    exp = offline_experiment(tmp_path, project_root, demo)
    f = write_long(tmp_path / "j.csv", consensus_rows(demo, holdout), ["item_id", "score"])
    res = cli("gate", exp, "--judgments", f, "--prompt", "v1", "--min", "icc=0.5",
              "--no-progress")
    assert res.exit_code == 2 and "drop --prompt/--alias" in res.output
    res = cli("validate", exp, "--judgments", f, "--model", "x", "--no-progress")
    assert res.exit_code == 2 and "drop --model" in res.output
    from harness.experiments import load_experiment

    e = load_experiment(exp)
    with pytest.raises(Exception, match="no prompt version to promote"):
        run_gate(e, gate_settings(e.gate, min=["icc=0.5"]), judgments=f, command="promote")


# --------------------------------------------------------------------------- the reader


def test_jsonl_and_judgecal_csv_read_to_one_shape(tmp_path):
    j = tmp_path / "j.jsonl"
    j.write_text('{"item_id": "a", "score": 4, "rationale": "ok", "judge": "m1"}\n\n'
                 '{"item_id": 7, "score": null, "sample": 0}\n')
    with pytest.raises(JudgmentsFileError, match="no judge on a row"):
        read_judgments_file(j).pick()
    j.write_text('{"item_id": "a", "score": 4, "rationale": "ok"}\n'
                 '{"item_id": 7, "score": null, "sample": 0}\n')
    f = read_judgments_file(j)
    assert list(f.frame["item_id"]) == ["a", "7"]
    assert list(f.frame["status"]) == ["ok", "invalid"]
    assert f.frame["rationale"][0] == "ok" and f.pick().identity()["model"] == "j.jsonl"
    bad = tmp_path / "b.jsonl"
    bad.write_text('{"item_id": "a", "score": 4}\n[1]\n')
    with pytest.raises(JudgmentsFileError, match=r"b\.jsonl:2: a line is one JSON object"):
        read_judgments_file(bad)
    own = tmp_path / "own.csv"
    own.write_text("item_id,sample_index,status,score,consensus,reasoning,error\n"
                   "a,0,ok,4.0,3.5,fine,\na,1,failed,,3.5,,timeout\n")
    f = read_judgments_file(own)
    assert list(f.frame["status"]) == ["ok", "failed"]
    assert f.frame["error"].isna().tolist() == [True, False] and f.frame["error"][1] == "timeout"
    assert list(f.frame["sample"]) == [0, 1]


def test_format_file_is_routed_to_the_importers_as_one_table(tmp_path, monkeypatch):
    import pandas as pd

    import harness.importers as importers

    calls = []

    def fake(fmt, source):
        calls.append((fmt, source))
        return pd.DataFrame({"item_id": ["a", "a", "b"], "judge": ["m", "m", "m"],
                             "criterion": [None, None, None], "sample": [0, 1, 0],
                             "score": [4.0, 5.0, float("nan")]})

    monkeypatch.setattr(importers, "import_judgments", fake)
    src = tmp_path / "results.json"
    src.write_text("{}")
    f = read_judgments_file(f"promptfoo:{src}")
    assert calls == [("promptfoo", str(src))]
    assert list(f.frame["status"]) == ["ok", "ok", "invalid"]
    assert f.sha256 == __import__("hashlib").sha256(b"{}").hexdigest()
    assert f.pick().identity() == {"provider": "file", "model": "results.json",
                                   "sha256": f.sha256, "judge": "m"}
