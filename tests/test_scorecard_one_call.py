"""A scorecard judged in one call per item (``[scorecard] mode = "one_call"``): one request
asks for every question under a JSON schema with one property per question (an integer
range, or the question's labels), the reply's scores are journaled by question, and each
question's figures equal the per-question run's on the same scores."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import time

import fakeserver as fs
import pytest
from typer.testing import CliRunner

from harness.anchors import load_scorecard
from harness.cli import app
from harness.experiments import load_experiment
from harness.journal import SCHEMA_VERSION, Journal
from harness.judges import InvalidReply, JudgeReply, JudgeRequest, Message, ScoreField, parse_reply
from harness.judgments import judge_scorecard
from harness.prompts import PromptError, load_prompt_file

runner = CliRunner()
CRITERIA = ["grammar", "fluency", "verbosity", "structure", "success", "overall"]
SUPPORT = [ScoreField("greeted", labels=("no", "yes")), ScoreField("tone", 1, 5)]


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("JC_CARD_KEY", "sk-test-card-0123456789abcdef")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture(scope="module")
def card(project_root):
    return load_scorecard(project_root / "anchors/recipes/recipes-scorecard.jsonl")


def request(*fields: ScoreField) -> JudgeRequest:
    return JudgeRequest(messages=(Message("user", "x"),), mode="structured", scale_min=0,
                        scale_max=5, fields=fields)


# --------------------------------------------------------------------------- the reply


def test_schema_has_one_property_per_question_constrained_to_its_scale():
    assert request(*SUPPORT).score_schema() == {
        "type": "object",
        "properties": {"reasoning": {"type": "string"},
                       "greeted": {"type": "string", "enum": ["no", "yes"]},
                       "tone": {"type": "integer", "minimum": 1, "maximum": 5}},
        "required": ["reasoning", "greeted", "tone"],
        "additionalProperties": False,
    }


def test_a_reply_gives_each_question_its_score_and_a_label_its_code():
    reply = JudgeReply(raw='ok {"reasoning": "r", "greeted": "yes", "tone": "4"}')
    parsed = parse_reply(reply, request(*SUPPORT))
    assert parsed.scores == {"greeted": 1.0, "tone": 4.0} and parsed.reasoning == "r"


@pytest.mark.parametrize("obj, reason", [
    ({"reasoning": "r", "greeted": "yes"}, "no 'tone' in the JSON object"),
    ({"reasoning": "r", "greeted": "yes", "tone": 6}, "tone: score 6 is off the scale 1-5"),
    ({"reasoning": "r", "greeted": "Yes", "tone": 3}, "greeted: 'Yes' is not one of no|yes"),
    ({"reasoning": "r", "greeted": "yes", "tone": 3.5}, "tone: score must be an integer"),
    ({"reasoning": "r", "greeted": "yes", "tone": 3, "score": 3}, "unexpected key(s) 'score'"),
])
def test_a_reply_off_the_schema_is_invalid_as_a_whole(obj, reason):
    with pytest.raises(InvalidReply) as info:
        parse_reply(JudgeReply(raw=json.dumps(obj)), request(*SUPPORT))
    assert reason in info.value.reason


def test_scorecard_prompt_header(tmp_path):
    d = tmp_path / "p"
    d.mkdir()
    head = "{#- judgecal-prompt\nversion: 1\nparent: none\nchangelog: c\nscale: scorecard\n"
    (d / "v1.j2").write_text(head + "scoring: structured\n-#}\n"
                             "{% for c in criteria %}{{ c.id }} {% endfor %}{{ item.output }}")
    pv = load_prompt_file(d / "v1.j2")
    assert pv.is_scorecard and pv.scale is None
    (d / "v1.j2").write_text(head + "scoring: logprob\n-#}\nx")
    with pytest.raises(PromptError, match="v1.j2:6: a scorecard prompt"):
        load_prompt_file(d / "v1.j2")


def test_the_local_grammar_gives_every_question_a_value_on_its_scale():
    """A real decode of SmolLM2 under the one-call grammar."""
    from harness.judges._local import LocalJudge

    fields = (ScoreField("grammar", 1, 6), ScoreField("greeted", labels=("no", "yes")),
              ScoreField("tone", 1, 5))
    req = JudgeRequest(messages=(
        Message("system", "Rate the recipe: grammar 1-6, greeted no/yes, tone 1-5. Reply in "
                          "JSON with a short reasoning."),
        Message("user", "Preheat the oven. Mix flour and eggs, bake for 30 minutes.")),
        mode="structured", scale_min=0, scale_max=6, max_tokens=160, fields=fields)
    reply = asyncio.run(LocalJudge().complete(req))
    parsed = parse_reply(reply, req)
    assert list(json.loads(reply.raw)) == ["reasoning", "grammar", "greeted", "tone"]
    assert set(parsed.scores) == {"grammar", "greeted", "tone"}
    assert 1 <= parsed.scores["grammar"] <= 6 and parsed.scores["greeted"] in (0.0, 1.0)


# --------------------------------------------------------------------------- end to end


def chat(obj: dict) -> fs.Response:
    """An OpenAI chat completion whose content is ``obj`` as JSON."""
    body = {"id": "chatcmpl-x", "object": "chat.completion", "created": int(time.time()),
            "model": "fake", "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                                          "message": {"role": "assistant", "refusal": None,
                                                      "content": json.dumps(obj)}}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 30, "total_tokens": 130}}
    return fs.Response("raw", body=json.dumps(body))


def consensus_scores(card):
    """Item -> question -> the rounded consensus (what both judges below answer)."""
    cons = {cid: card.criterion(cid).consensus() for cid in card.criterion_ids}
    return {it.id: {cid: int(min(6, max(1, round(cons[cid].get(it.id, 3)))))
                    for cid in card.criterion_ids} for it in card.items}


def one_call_handler(card, asked=None):
    by_output = {it.output.strip(): it.id for it in card.items}
    scores = consensus_scores(card)

    def handler(api, body, n):
        item = by_output[fs.recipe_output(body)]
        props = body["response_format"]["json_schema"]["schema"]["properties"]
        if asked is not None:
            asked.append(props)
        return chat({"reasoning": "fine", **{c: scores[item][c] for c in props
                                              if c != "reasoning"}})

    return handler


def per_question_handler(card):
    by_output = {it.output.strip(): it.id for it in card.items}
    statement = {cid: card.spec(cid).label for cid in card.criterion_ids}
    scores = consensus_scores(card)

    def handler(api, body, n):
        system = " ".join(m["content"] for m in body["messages"])
        cid = next(c for c, s in statement.items() if s in system)
        return fs.score(scores[by_output[fs.recipe_output(body)]][cid])

    return handler


def experiment(tmp_path, project_root, server, *, one_call=True, name="card"):
    if one_call:
        prompt = f'name = "recipes-scorecard"\nversion = "v1"\ndir = "{tmp_path / "prompts"}"'
    else:
        pairs = ", ".join(f'{c} = "recipes-{c}"' for c in CRITERIA)
        prompt = (f'name = "recipes"\nversion = "v1"\ndir = "{tmp_path / "prompts"}"\n'
                  f"criteria = {{ {pairs} }}")
    return fs.experiment_file(tmp_path, project_root, {
        "experiment": f'name = "{name}"',
        "anchors": f'path = "{project_root / "anchors/recipes/recipes-scorecard.jsonl"}"\n'
                   'split = "holdout"',
        "prompt": prompt,
        "scorecard": f'mode = "{"one_call" if one_call else "per_criterion"}"',
        "judge": (f'provider = "openai"\nmodel = "fake"\nbase_url = "{server.openai_url}"\n'
                  'api_key_env = "JC_CARD_KEY"'),
        "run": "concurrency = 8\nmax_attempts = 2",
    })


def judge_json(exp, *extra):
    res = runner.invoke(app, ["judge", str(exp), "--json", "--resamples", "50",
                              "--no-progress", *extra])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_one_call_per_item_equals_one_call_per_question(tmp_path, project_root, card):
    n_hold = sum(1 for it in card.items if it.split == "holdout")
    asked: list[dict] = []
    with fs.FakeServer(one_call_handler(card, asked)) as server:
        exp = experiment(tmp_path / "one", project_root, server)
        one = judge_json(exp, "--out", str(tmp_path / "one.csv"))
        assert server.stats.total == n_hold  # six questions, one call per recipe
        assert list(asked[0]) == ["reasoning", *CRITERIA]
        assert asked[0]["grammar"] == {"type": "integer", "minimum": 1, "maximum": 6}
        assert all("recipes-scorecard" not in m["content"] and m["content"]
                   for m in server.stats.bodies[0]["messages"])
        again = judge_json(exp)  # every call is in the journal
        assert server.stats.total == n_hold
    with fs.FakeServer(per_question_handler(card)) as server:
        per = judge_json(experiment(tmp_path / "per", project_root, server, one_call=False))
        assert server.stats.total == 6 * n_hold
    assert one["call"]["n_requests"] == n_hold and one["call"]["n_ok"] == n_hold
    assert again["call"]["n_requests"] == 0 and again["call"]["n_cached"] == n_hold
    for cid in CRITERIA:
        assert one["runs"][cid]["n_ok"] == n_hold and one["runs"][cid]["n_requests"] == 0
        assert one["criteria"][cid]["judge"] == per["criteria"][cid]["judge"], cid
        assert again["criteria"][cid]["judge"] == one["criteria"][cid]["judge"]
    assert one["total"]["judge"] == per["total"]["judge"]
    assert one["ranking"] == per["ranking"]
    # the CSV has one row per item and question, each with that question's score
    rows = (tmp_path / "one.csv").read_text().splitlines()
    assert rows[0].startswith("item_id,criterion,") and len(rows) == 1 + 6 * n_hold
    # the journal keeps each call's scores by question
    scores = [json.loads(r.scores) for r in Journal(tmp_path / "one/state").records()]
    assert len(scores) == n_hold and all(list(s) == sorted(CRITERIA) for s in scores)


def test_one_question_of_a_one_call_scorecard(tmp_path, project_root, card):
    asked: list[dict] = []
    with fs.FakeServer(one_call_handler(card, asked)) as server:
        exp = experiment(tmp_path, project_root, server)
        doc = judge_json(exp, "--criterion", "success")
    assert list(asked[0]) == ["reasoning", "success"]
    assert list(doc["criteria"]) == ["success"] and doc["total"] is None


SUPPORT_CARD = [
    {"judgecal_anchor_set": 1, "name": "support-qa", "rubric": "Score the support reply.",
     "criteria": [
         {"id": "greeted", "label": "Greeted the customer?", "rubric": "Did the agent greet?",
          "scale": {"levels": ["no", "yes"]}},
         {"id": "resolved", "label": "Resolved the issue?", "rubric": "Was it resolved?",
          "scale": {"levels": ["fail", "pass"]}, "na_allowed": True, "weight": 2,
          "critical": True, "pass_mark": "pass"},
         {"id": "tone", "label": "Tone", "rubric": "Rate the tone 1-5.",
          "scale": {"min": 1, "max": 5, "labels": None}}],
     "consensus": "mean", "source": "test", "licence": "CC0"},
    *[{"id": f"t{k}", "input": "q", "output": f"reply number {k}", "split": "holdout",
       "ratings": {"greeted": {"r1": "yes", "r2": "yes" if k % 3 else "no"},
                   "resolved": ({"r1": "NA", "r2": "NA"} if k == 0 else
                                {"r1": "pass" if k % 2 else "fail", "r2": "pass"}),
                   "tone": {"r1": 1 + k % 5, "r2": 1 + (k + 1) % 5}}} for k in range(12)],
]
SUPPORT_PROMPT = """{#- judgecal-prompt
version: 1
parent: none
changelog: c
scale: scorecard
scoring: structured
-#}
[system]
{{ rubric }}
{% for c in criteria %}{{ c.id }} ({{ c.label }}): {% if c.scale.levels -%}
{{ c.scale.levels | join("/") }}{% else %}{{ c.scale.min }}-{{ c.scale.max }}{% endif %}
{% endfor %}
[user]
{{ item.output | untrusted("reply") }}
"""


def test_label_questions_on_anthropic_and_a_critical_failure(tmp_path, project_root):
    """Labels answered by name and scored as their codes; an item the humans found not
    applicable on a question is left out of that question; a failed critical question
    makes the judge's total 0."""
    path = tmp_path / "support.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in SUPPORT_CARD) + "\n")
    (tmp_path / "prompts/support").mkdir(parents=True)
    (tmp_path / "prompts/support/v1.j2").write_text(SUPPORT_PROMPT)
    tools = []

    def handler(api, body, n):
        tools.append(body["tools"][0])
        k = int(re.search(r"reply number (\d+)", body["messages"][-1]["content"])[1])
        answer = {"reasoning": "r", "greeted": "yes", "resolved": "fail" if k == 5 else "pass",
                  "tone": 3}
        return fs.Response("raw", body=json.dumps({
            "id": "msg_x", "type": "message", "role": "assistant", "model": "fake",
            "stop_reason": "tool_use", "stop_sequence": None,
            "content": [{"type": "tool_use", "id": "toolu_x", "name": tools[-1]["name"],
                         "input": answer}],
            "usage": {"input_tokens": 10, "output_tokens": 10}}))

    with fs.FakeServer(handler) as server:
        exp_path = fs.experiment_file(tmp_path, project_root, {
            "experiment": 'name = "support"',
            "anchors": f'path = "{path}"\nsplit = "holdout"',
            "prompt": f'name = "support"\ndir = "{tmp_path / "prompts"}"',
            "scorecard": 'mode = "one_call"',
            "judge": (f'provider = "anthropic"\nmodel = "fake"\nbase_url = "{server.url}"\n'
                      'api_key_env = "JC_CARD_KEY"'),
        })
        sc = judge_scorecard(load_experiment(exp_path), show_progress=False)
    assert server.stats.total == 12 and sc.mode == "one_call"
    assert tools[0]["input_schema"]["properties"]["resolved"] == {
        "type": "string", "enum": ["fail", "pass"]}
    assert list(sc.runs["greeted"].judge_scores) == [1.0] * 12
    resolved = sc.runs["resolved"]
    assert "t0" not in resolved.table.item_ids and len(resolved.judge_scores) == 11
    total = dict(zip(sc.total_table.item_ids, sc.total_scores, strict=True))
    assert total["t5"] == 0.0  # critical 'resolved' failed
    # t1: greeted yes (1), resolved pass (1, weight 2), tone 3 on 1-5 (0.5): (1 + 2 + 0.5) / 4
    assert total["t1"] == pytest.approx(3.5 / 4)
    # t0: resolved not applicable, so (1 + 0.5) / 2
    assert total["t0"] == pytest.approx(0.75)


def test_wrong_prompt_kind_is_refused_before_any_call(tmp_path, project_root):
    with fs.FakeServer() as server:
        exp = experiment(tmp_path, project_root, server)
        text = exp.read_text().replace('name = "recipes-scorecard"', 'name = "recipes-grammar"')
        exp.write_text(text)
        res = runner.invoke(app, ["judge", str(exp), "--no-progress"])
        assert res.exit_code == 2
        assert "needs a prompt that scores every question" in res.output
        exp.write_text(text.replace('mode = "one_call"', 'mode = "per_criterion"').replace(
            'name = "recipes-grammar"', 'name = "recipes"\ncriteria = { grammar = '
                                        '"recipes-scorecard" }'))
        res = runner.invoke(app, ["judge", str(exp), "--no-progress"])
        assert res.exit_code == 2
        assert "scores a whole scorecard in one call" in res.output
        assert server.stats.total == 0


def test_a_version_1_journal_gains_the_scores_column(tmp_path):
    path = tmp_path / "journal.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE calls (key TEXT PRIMARY KEY, status TEXT NOT NULL, provider "
                     "TEXT NOT NULL, model TEXT NOT NULL, params TEXT NOT NULL, prompt_name "
                     "TEXT, prompt_version TEXT, prompt_hash TEXT, anchor_set TEXT, item_id "
                     "TEXT NOT NULL, sample_index INTEGER NOT NULL, messages TEXT NOT NULL, "
                     "raw_reply TEXT, score REAL, reasoning TEXT, error TEXT, attempts INTEGER "
                     "NOT NULL DEFAULT 1, input_tokens INTEGER NOT NULL DEFAULT 0, "
                     "output_tokens INTEGER NOT NULL DEFAULT 0, cost REAL, latency_s REAL, "
                     "created_at REAL NOT NULL)")
        conn.execute("INSERT INTO calls (key, status, provider, model, params, item_id, "
                     "sample_index, messages, score, created_at) VALUES ('k', 'ok', 'openai', "
                     "'m', '{}', 'a', 0, '[]', 4.0, 1.0)")
    journal = Journal(path)
    old = journal.get("k")
    assert old.score == 4.0 and old.scores is None
    Journal(path)  # a second open (another process) does not trip on the migrated table
    meta = dict(sqlite3.connect(path).execute("SELECT k, v FROM meta"))
    assert meta["schema_version"] == str(SCHEMA_VERSION)


def test_calibrate_refuses_a_one_call_scorecard_before_any_call(tmp_path, project_root):
    with fs.FakeServer() as server:
        exp = experiment(tmp_path, project_root, server)
        res = runner.invoke(app, ["calibrate", str(exp), "--no-progress"])
        assert res.exit_code == 2, res.output
        assert "calibrate works on each question's own prompt" in res.output
        assert "gate --judgments" in res.output
        assert server.stats.total == 0


def test_a_one_call_judge_is_gated_on_its_judgments_file(tmp_path, project_root, card):
    """gate on a one-call experiment refuses a live run (it gates each question's prompt)
    and takes the one-call judge's own holdout judgments instead, with no call."""
    with fs.FakeServer(one_call_handler(card)) as server:
        exp = experiment(tmp_path, project_root, server)
        res = runner.invoke(app, ["gate", str(exp), "--min", "grammar.icc=0.1",
                                  "--no-progress"])
        assert res.exit_code == 2 and "gate works on each question's own prompt" in res.output
        assert server.stats.total == 0
        judge_json(exp, "--split", "holdout", "--out", str(tmp_path / "hold.csv"))
        calls = server.stats.total
        res = runner.invoke(app, ["gate", str(exp), "--judgments", str(tmp_path / "hold.csv"),
                                  "--min", "grammar.icc=0.3", "--min", "total.icc=0.3",
                                  "--resamples", "200", "--no-progress", "--json"])
        assert res.exit_code == 0, res.output
        assert server.stats.total == calls
    doc = json.loads(res.stdout)
    assert [b["name"].split()[0] for b in doc["bars"]] == ["grammar.icc", "total.icc"]
    assert all(b["outcome"] == "pass" for b in doc["bars"])
