"""Drift attribution on a frozen anchor panel: judge or system (``judgecal panel``)."""

from __future__ import annotations

import json
import sqlite3

import fakeserver as fs
import numpy as np
import pytest
import typer
from scipy import stats
from typer.testing import CliRunner

from harness.cli._panel import panel_cmd
from harness.drift import attribute, fingerprint_changes, panel_shift, production_shift
from harness.journal import SCHEMA_VERSION, Journal

KEY = "sk-test-panel-0123456789abcdef"
runner = CliRunner()
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
app.command(name="panel")(panel_cmd)
app.command(name="noop")(lambda: None)  # keeps "panel" a subcommand


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("JC_PANEL_KEY", KEY)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def write_experiment(tmp_path, project_root, base_url, *, model="fake", name="panel-test"):
    return fs.experiment_file(tmp_path, project_root, {
        "experiment": f'name = "{name}"',
        "judge": (f'provider = "openai"\nmodel = "{model}"\nbase_url = "{base_url}"\n'
                  'api_key_env = "JC_PANEL_KEY"'),
        "run": "concurrency = 4\nmax_attempts = 1",
    })


class Judge:
    """A scripted judge behind the fake server: ``answers`` picks the score of an item,
    ``reported`` the model id the server reports (None: the requested one)."""

    def __init__(self, demo, answers="consensus", reported=None):
        self.by_output = {it.output.strip(): it.id for it in demo.items}
        self.consensus = demo.consensus()
        self.answers = answers
        self.reported = reported
        self.first = min(it.id for it in demo.items if it.split == "holdout")

    def score_of(self, item):
        c = int(min(6, max(1, round(self.consensus[item]))))
        if self.answers == "consensus":
            return c
        if self.answers == "harsh":  # the judge changed: one point harsher on every item
            return c - 1 if c > 1 else 2
        if self.answers == "one-off":  # a single item scored differently
            return c if item != self.first else (c - 1 if c > 1 else 2)
        raise ValueError(self.answers)

    def __call__(self, api, body, n):
        value = self.score_of(self.by_output[fs.recipe_output(body)])
        if self.reported is None:
            return fs.score(value)
        reply = {
            "id": "chatcmpl-x", "object": "chat.completion", "created": 0,
            "model": self.reported,
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                         "message": {"role": "assistant", "refusal": None,
                                     "content": json.dumps({"reasoning": "ok",
                                                            "score": value})}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }
        return fs.Response("raw", body=json.dumps(reply))


# --------------------------------------------------------------------------- plumbing


def test_the_reported_model_reaches_the_judgment_and_the_journal(tmp_path, project_root,
                                                                 demo):
    from harness.experiments import load_experiment
    from harness.judgments import judge_anchors

    script = Judge(demo, reported="fake-2025-01-01")
    with fs.FakeServer(script) as server:
        exp = load_experiment(write_experiment(tmp_path, project_root, server.openai_url))
        run = judge_anchors(exp, split="holdout", show_progress=False)
        assert {j.reply_model for j in run.result.judgments} == {"fake-2025-01-01"}
        journal = Journal(exp.state.dir)
        records = list(journal.records(prompt_name="recipes-overall"))
        assert len(records) == 31
        assert {r.reply_model for r in records} == {"fake-2025-01-01"}
        # answered from the journal: the reported model comes back with the cached judgment
        again = judge_anchors(exp, split="holdout", show_progress=False)
        assert again.result.n_requests == 0
        assert {j.reply_model for j in again.result.judgments} == {"fake-2025-01-01"}


def test_an_old_journal_gains_the_reply_model_column_and_the_panel_table(tmp_path):
    path = tmp_path / "journal.sqlite"
    Journal(path).close()
    conn = sqlite3.connect(path)  # as version 3 left it
    conn.execute("ALTER TABLE calls DROP COLUMN reply_model")
    conn.execute("DROP TABLE panel_runs")
    conn.execute("INSERT INTO calls (key, status, provider, model, params, item_id, "
                 "sample_index, messages, score, created_at) VALUES ('k', 'ok', 'openai', "
                 "'m', '{}', 'a', 0, '[]', 4.0, 1.0)")
    conn.execute("UPDATE meta SET v = '3' WHERE k = 'schema_version'")
    conn.commit()
    conn.close()
    j = Journal(path)
    old = j.get("k")
    assert old.score == 4.0 and old.reply_model is None
    assert j.panel_runs() == []
    version = j._connect().execute("SELECT v FROM meta WHERE k='schema_version'").fetchone()[0]
    assert version == str(SCHEMA_VERSION) and SCHEMA_VERSION >= 4
    j.close()
    Journal(path).close()  # opening a migrated journal again changes nothing


# --------------------------------------------------------------------------- statistics


def test_panel_shift_by_hand():
    before = {f"i{k}": 3.0 for k in range(20)}
    after = dict(before, i0=4.0, i1=2.0, i2=5.0)
    after["i19"] = None  # no valid score in the current run: left out
    s = panel_shift(before, after, tolerance=0.05)
    assert (s.n_items, s.n_moved) == (19, 3)
    assert s.moved_share == pytest.approx(3 / 19)
    # Wilson score interval, written out
    z, n, p = stats.norm.ppf(0.975), 19, 3 / 19
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert s.ci95 == pytest.approx((centre - half, centre + half))
    assert s.ci95[0] == pytest.approx(0.0552, abs=1e-4)
    assert s.changed  # the lower bound 0.055 exceeds 0.05
    assert not panel_shift(before, after, tolerance=0.06).changed
    assert s.mean_shift == pytest.approx((1 - 1 + 2) / 19)
    assert s.mean_ci95[0] <= s.mean_shift <= s.mean_ci95[1]
    assert panel_shift(before, after) == s  # seeded: the same CI every time
    # min_move: a change of one point does not count as a move when 1 is tolerated
    assert panel_shift(before, after, min_move=1.0).n_moved == 1
    with pytest.raises(ValueError, match="no item scored in both"):
        panel_shift({"a": 3.0}, {"b": 3.0})


def test_production_shift_is_welchs_interval():
    rng = np.random.default_rng(3)
    base = rng.integers(1, 7, 80).astype(float)
    cur = np.concatenate([rng.integers(2, 7, 60).astype(float), [np.nan]])
    s = production_shift(base, cur)
    ref = stats.ttest_ind(cur[:-1], base, equal_var=False).confidence_interval(0.95)
    assert s.ci95 == pytest.approx((ref.low, ref.high))
    assert s.mean_shift == pytest.approx(cur[:-1].mean() - base.mean())
    assert (s.n_baseline, s.n_current) == (80, 60)
    assert s.changed == (ref.low > 0 or ref.high < 0)
    assert production_shift([3, 3, 4, 4], [3, 4, 3, 4]).changed is False
    assert production_shift([3, 3, 4, 4], [4, 4, 5, 5]).changed is True
    assert production_shift([3, 3, 4, 4], [4, 4, 5, 5], tolerance=1.0).changed is False


def test_attribution_table():
    same = {"i0": 3.0, "i1": 4.0, "i2": 2.0, "i3": 5.0}
    moved = {k: v + 1 for k, v in same.items()}
    stable_panel = panel_shift(same, same)
    moved_panel = panel_shift(same, moved)
    assert moved_panel.changed and not stable_panel.changed
    up = production_shift([3, 3, 4, 4] * 10, [4, 4, 5, 5] * 10)
    flat = production_shift([3, 3, 4, 4] * 10, [3, 4, 3, 4] * 10)
    fp = {"provider": "openai", "model": "m", "reply_models": ["m-1"], "prompt_hash": "h",
          "params": {"temperature": 0.0}, "identity": {"model": "m"}}
    new = dict(fp, reply_models=["m-2"])
    cases = [(moved_panel, up, "both"), (moved_panel, flat, "judge"),
             (moved_panel, None, "judge"), (stable_panel, up, "system"),
             (stable_panel, flat, "stable"), (stable_panel, None, "stable")]
    for panel, prod, verdict in cases:
        a = attribute(panel, prod, fp, fp)
        assert a.verdict == verdict
        assert a.silent_change == panel.changed
    a = attribute(moved_panel, None, fp, new)
    assert a.verdict == "judge" and not a.silent_change
    assert a.fingerprint_changed == ["reply_models"]
    assert "reply_models" in a.reason
    assert fingerprint_changes(fp, dict(fp, params={"temperature": 0.5})) == ["params"]
    assert fingerprint_changes(fp, dict(fp, reply_models=["m-1"])) == []


# --------------------------------------------------------------------------- the command


def panel(*args):
    return runner.invoke(app, ["panel", *map(str, args)])


def write_csv(path, rows):
    path.write_text("item_id,score\n" + "".join(f"{i},{s}\n" for i, s in rows))
    return path


def production_files(tmp_path, shift=0):
    base = [(f"p{k}", 3 + k % 2) for k in range(60)]
    cur = [(f"q{k}", min(6, 3 + k % 2 + shift)) for k in range(60)]
    return write_csv(tmp_path / "base.csv", base), write_csv(tmp_path / "cur.csv", cur)


def n_holdout(demo):
    return sum(1 for it in demo.items if it.split == "holdout")


def test_a_silent_judge_change_is_attributed_to_the_judge(tmp_path, project_root, demo):
    script = Judge(demo)
    n = n_holdout(demo)
    with fs.FakeServer(script) as server:
        exp = write_experiment(tmp_path, project_root, server.openai_url)
        first = panel(exp, "--split", "holdout", "--json")
        assert first.exit_code == 0, first.output
        doc = json.loads(first.stdout)
        assert doc["verdict"] is None and doc["panel"] is None
        assert doc["fingerprint"]["after"]["reply_models"] == ["fake"]
        assert doc["fingerprint"]["after"]["params"]["temperature"] == 0.0
        assert doc["run"]["n_items"] == doc["run"]["n_scored"] == n
        assert server.stats.total == n

        script.answers = "harsh"  # the provider swaps the model behind the same name
        res = panel(exp, "--split", "holdout", "--json")
        assert server.stats.total == 2 * n  # fresh calls: the journal's cache is not used
    assert res.exit_code == 1, res.output
    doc = json.loads(res.stdout)
    assert doc["verdict"] == "judge"
    assert doc["silent_change"] is True
    assert doc["fingerprint"]["changed"] is False
    assert doc["fingerprint"]["before"]["reply_models"] == ["fake"]
    p = doc["panel"]
    assert (p["n_items"], p["n_moved"], p["moved_share"]) == (n, n, 1.0)
    cons = demo.consensus()
    holdout = [it.id for it in demo.items if it.split == "holdout"]
    expected = np.mean([script.score_of(i) - int(min(6, max(1, round(cons[i]))))
                        for i in holdout])
    assert p["mean_shift"] == pytest.approx(expected)
    assert p["mean_ci95"][1] < 0  # harsher
    assert doc["reference"]["run_id"] == first_id(first)
    runs = Journal(tmp_path / "state").panel_runs()
    assert [r.run_id for r in runs] == [first_id(first), doc["run"]["run_id"]]
    assert runs[1].scores[holdout[0]] == script.score_of(holdout[0])


def first_id(result):
    return json.loads(result.stdout)["run"]["run_id"]


def test_stable_answers_and_a_production_shift_are_system_drift(tmp_path, project_root,
                                                                 demo):
    base, cur = production_files(tmp_path, shift=1)
    script = Judge(demo)
    with fs.FakeServer(script) as server:
        exp = write_experiment(tmp_path, project_root, server.openai_url)
        assert panel(exp, "--split", "holdout", "--json").exit_code == 0
        res = panel(exp, "--split", "holdout", "--production", cur,
                    "--baseline-production", base, "--json")
        assert res.exit_code == 1, res.output
        doc = json.loads(res.stdout)
        assert doc["verdict"] == "system" and doc["silent_change"] is False
        assert doc["panel"]["n_moved"] == 0 and doc["panel"]["changed"] is False
        prod = doc["production"]
        assert prod["mean_shift"] == pytest.approx(1.0)
        assert prod["changed"] is True and prod["ci95"][0] > 0
        assert (prod["n_baseline"], prod["n_current"]) == (60, 60)
        assert prod["files"]["current"]["path"].endswith("cur.csv")

        # the judge changed as well: both, and the system's share cannot be told apart
        script.answers = "harsh"
        res = panel(exp, "--split", "holdout", "--production", cur,
                    "--baseline-production", base, "--json")
        assert res.exit_code == 1, res.output
        assert json.loads(res.stdout)["verdict"] == "both"

        # the same answers again and no production shift: stable, exit 0 (text output)
        res = panel(exp, "--split", "holdout", "--production", base,
                    "--baseline-production", base)
    assert res.exit_code == 0, res.output
    flat_text = " ".join(res.stdout.split())
    assert "Verdict: stable" in flat_text and "share of items moved" in flat_text


def test_a_reported_model_change_is_judge_drift_not_silent(tmp_path, project_root, demo):
    script = Judge(demo, reported="fake-2025-01-01")
    with fs.FakeServer(script) as server:
        exp = write_experiment(tmp_path, project_root, server.openai_url)
        assert panel(exp, "--split", "holdout", "--json").exit_code == 0
        script.answers, script.reported = "harsh", "fake-2025-06-01"
        res = panel(exp, "--split", "holdout")
    assert res.exit_code == 1, res.output
    text = " ".join(res.stdout.split())
    assert "Verdict: judge" in text and "reply_models" in text
    assert "silently" not in text and "ALERT" not in text
    runs = Journal(tmp_path / "state").panel_runs()
    assert [r.fingerprint["reply_models"] for r in runs] == [["fake-2025-01-01"],
                                                            ["fake-2025-06-01"]]


def test_one_moved_item_is_within_tolerance_and_a_named_baseline(tmp_path, project_root,
                                                                  demo):
    script = Judge(demo)
    n = n_holdout(demo)
    with fs.FakeServer(script) as server:
        exp = write_experiment(tmp_path, project_root, server.openai_url)
        base_id = first_id(panel(exp, "--split", "holdout", "--json"))
        script.answers = "one-off"
        res = panel(exp, "--split", "holdout", "--json")
        assert res.exit_code == 0, res.output  # 1 of 31: the CI's lower bound is below 5%
        doc = json.loads(res.stdout)
        assert doc["verdict"] == "stable"
        assert (doc["panel"]["n_moved"], doc["panel"]["n_items"]) == (1, n)
        assert doc["panel"]["ci95"][0] < 0.05
        # against a named baseline, with a tolerance of 0, one move is a change
        script.answers = "harsh"
        res = panel(exp, "--split", "holdout", "--baseline", base_id[:8], "--json",
                    "--no-record")
        assert res.exit_code == 1, res.output
        doc = json.loads(res.stdout)
        assert doc["reference"]["run_id"] == base_id and doc["panel"]["n_moved"] == n
    assert len(Journal(tmp_path / "state").panel_runs()) == 2  # --no-record kept none


def test_bad_input_exits_2_before_any_call(tmp_path, project_root, demo):
    base, cur = production_files(tmp_path)
    bad = write_csv(tmp_path / "bad.csv", [("p1", 3), ("p2", 9)])
    with fs.FakeServer(Judge(demo)) as server:
        exp = write_experiment(tmp_path, project_root, server.openai_url)
        for args, message in (
            (["--production", cur], "--baseline-production"),
            (["--production", bad, "--baseline-production", base],
             f"{bad}:3:"),
            (["--baseline", "nosuchrun"], "no panel run"),
            (["--split", "train"], "--split"),
            (["--tolerance", "1.5"], "--tolerance"),
            (["--min-move", "-1"], "--min-move"),
        ):
            res = panel(exp, "--split", "holdout", *args, "--json") if args[0] != "--split" \
                else panel(exp, *args)
            assert res.exit_code == 2, (args, res.output)
            assert message in " ".join(res.output.split()), (args, res.output)
        assert server.stats.total == 0
    assert Journal(tmp_path / "state").panel_runs() == []
    assert KEY not in res.output


def test_the_panel_command_is_registered():
    from harness.cli import app as main_app

    res = runner.invoke(main_app, ["panel", "--help"])
    assert res.exit_code == 0, res.output
    assert "--baseline-production" in res.output
