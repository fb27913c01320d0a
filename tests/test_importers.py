"""Importers: MLflow 3 assessments, Inspect AI eval logs and promptfoo results as judgments.

The MLflow and Inspect fixtures are made with the real libraries (traces and feedback logged
with ``mlflow.log_feedback`` in a temporary SQLite store; an ``EvalLog`` written with
``inspect_ai.log.write_eval_log``); promptfoo is a Node tool, so its results file is written
by hand from the documented schema (``EvaluateSummaryV3``: ``results.results[]`` with
``testIdx``, ``testCase.vars``, ``provider``, ``gradingResult``, ``score``, ``namedScores``).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.anchors import load_ratings, load_scorecard_ratings
from harness.cli import app
from harness.importers import (
    FORMATS,
    ImporterError,
    import_judgments,
    import_source,
    parse_labels,
    write_judgments,
)

runner = CliRunner()
# MLflow's SQLAlchemy store warns on its first use (the fixture makes a client directly).
pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader:DeprecationWarning")


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _records(df) -> list[tuple]:
    """The frame's rows as tuples, None for an empty criterion."""
    return [(r.item_id, r.judge, r.criterion, r.sample, r.score)
            for r in df.itertuples(index=False)]


def test_formats_and_labels():
    assert FORMATS == ("mlflow", "inspect", "promptfoo")
    assert parse_labels("bad, ok ,good") == {"bad": 0.0, "ok": 1.0, "good": 2.0}
    assert parse_labels("fail=0,pass=1") == {"fail": 0.0, "pass": 1.0}
    for bad in ("a,,b", "a,a", "a=1,b", "a=x"):
        with pytest.raises(ValueError, match="--labels"):
            parse_labels(bad)
    with pytest.raises(ValueError, match="unknown format"):
        import_judgments("braintrust", "x.json")
    with pytest.raises(ValueError, match="takes no option tracking_uri"):
        import_judgments("promptfoo", "x.json", tracking_uri="sqlite:///x.db")


# --------------------------------------------------------------------------- MLflow


def _judge(source_id: str):
    from mlflow.entities import AssessmentSource, AssessmentSourceType

    return AssessmentSource(source_type=AssessmentSourceType.LLM_JUDGE, source_id=source_id)


def _human(source_id: str):
    from mlflow.entities import AssessmentSource, AssessmentSourceType

    return AssessmentSource(source_type=AssessmentSourceType.HUMAN, source_id=source_id)


@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory):
    """A SQLite tracking store with two experiments logged by the real MLflow API.

    ``one``: three traces tagged item=r1..r3, feedback 'quality' by the judge
    openai:/gpt-4o (r1 twice: two samples; r3 an error instead of a value), by the humans
    alice and bob (alice's r2 overridden by a new value), and by a CODE scorer; trace r3
    also has a text label. ``two``: one trace, feedback 'accuracy' and 'tone' from a judge
    and a human, plus an expectation.
    """
    import mlflow
    from mlflow.entities import AssessmentSource
    from mlflow.tracking._tracking_service import utils as tracking_utils

    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'store.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tracking_utils, "_tracking_uri", None)
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        client = mlflow.MlflowClient(uri)
        ids: dict[str, list[str]] = {}
        for name, items in (("one", ["r1", "r2", "r3"]), ("two", ["s1"])):
            exp = client.create_experiment(name)
            mp.setenv("MLFLOW_EXPERIMENT_ID", exp)
            mp.setattr(mlflow.tracking.fluent, "_active_experiment_id", None)
            ids[name] = []
            for item in items:
                with mlflow.start_span(name="app") as span:
                    span.set_inputs({"question": f"q {item}"})
                    span.set_outputs({"answer": f"a {item}"})
                    ids[name].append(span.trace_id)
            mlflow.flush_trace_async_logging()
            for item, tid in zip(items, ids[name], strict=True):
                client.set_trace_tag(tid, "item", item)
        r1, r2, r3 = ids["one"]
        gpt = _judge("openai:/gpt-4o")
        mlflow.log_feedback(trace_id=r1, name="quality", value=4, source=gpt,
                            rationale="clear and correct")
        mlflow.log_feedback(trace_id=r1, name="quality", value=5, source=gpt)
        mlflow.log_feedback(trace_id=r2, name="quality", value=2.5, source=gpt)
        mlflow.log_feedback(trace_id=r3, name="quality", error=TimeoutError("judge timed out"),
                            source=gpt)
        mlflow.log_feedback(trace_id=r1, name="quality", value=True, source=_human("alice"))
        old = mlflow.log_feedback(trace_id=r2, name="quality", value=1,
                                  source=_human("alice"))
        mlflow.override_feedback(trace_id=r2, assessment_id=old.assessment_id, value=3,
                                 source=_human("alice"))
        mlflow.log_feedback(trace_id=r1, name="quality", value=5, source=_human("bob"))
        mlflow.log_feedback(trace_id=r2, name="quality", value=2, source=_human("bob"))
        mlflow.log_feedback(trace_id=r3, name="quality", value="good", source=_human("bob"))
        mlflow.log_feedback(trace_id=r1, name="quality", value=0.7,
                            source=AssessmentSource(source_type="CODE", source_id="len"))
        (s1,) = ids["two"]
        mlflow.log_feedback(trace_id=s1, name="accuracy", value=4, source=_judge("claude"))
        mlflow.log_feedback(trace_id=s1, name="tone", value=2, source=_judge("claude"))
        mlflow.log_feedback(trace_id=s1, name="accuracy", value=5, source=_human("alice"))
        mlflow.log_expectation(trace_id=s1, name="expected", value="four")
    return {"uri": uri, "ids": ids}


def test_mlflow_judges_humans_and_what_is_skipped(mlflow_store):
    """LLM_JUDGE feedback -> judgments (a judge's second score of a trace is sample 1),
    HUMAN feedback -> human ratings (the overriding value, not the overridden one); errors,
    CODE scorers and overridden feedback are skipped and counted; a text label is mapped by
    labels."""
    got = import_source("mlflow", "one", tracking_uri=mlflow_store["uri"], item_key="item",
                        labels="bad,ok,good")
    assert _records(got.judgments) == [
        ("r1", "openai:/gpt-4o", None, 0, 4.0),
        ("r1", "openai:/gpt-4o", None, 1, 5.0),
        ("r2", "openai:/gpt-4o", None, 0, 2.5),
    ]
    assert list(got.judgments["rationale"]) == ["clear and correct", None, None]
    humans = sorted(map(tuple, got.humans[["item_id", "rater_id", "score"]].to_numpy()))
    assert humans == [("r1", "alice", 1.0), ("r1", "bob", 5.0), ("r2", "alice", 3.0),
                      ("r2", "bob", 2.0), ("r3", "bob", 2.0)]
    assert got.skipped == {"error instead of a value": 1, "overridden": 1, "CODE source": 1}


def test_mlflow_trace_ids_criteria_and_refusals(mlflow_store):
    """Without --item-key the item is the trace id; several feedback names are criteria; a
    text value without labels is refused naming the trace and the way out."""
    (s1,) = mlflow_store["ids"]["two"]
    got = import_source("mlflow", "two", tracking_uri=mlflow_store["uri"])
    assert _records(got.judgments) == [(s1, "claude", "accuracy", 0, 4.0),
                                       (s1, "claude", "tone", 0, 2.0)]
    assert got.humans.to_dict("records") == [
        {"item_id": s1, "rater_id": "alice", "criterion": "accuracy", "score": 5.0}]
    assert got.skipped == {"expectations": 1}
    only = import_judgments("mlflow", "two", tracking_uri=mlflow_store["uri"],
                            criterion="tone")
    assert _records(only) == [(s1, "claude", None, 0, 2.0)]

    with pytest.raises(ImporterError, match=r"^one: trace tr-\w+ assessment a-\w+ "
                                            r"\('quality'\): text value 'good' is not a "
                                            r"number: give --labels"):
        import_source("mlflow", "one", tracking_uri=mlflow_store["uri"], item_key="item")
    with pytest.raises(ImporterError, match="has no tag or request metadata 'case'"):
        import_source("mlflow", "two", tracking_uri=mlflow_store["uri"], item_key="case")
    with pytest.raises(ImporterError, match="^nope: no MLflow experiment .* experiments "
                                            "there: .*one"):
        import_source("mlflow", "nope", tracking_uri=mlflow_store["uri"])


def test_mlflow_tracking_uri_given_wins_over_the_environment(mlflow_store, tmp_path,
                                                             monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'other.db'}")
    df = import_judgments("mlflow", "two", tracking_uri=mlflow_store["uri"])
    assert list(df["judge"]) == ["claude", "claude"]
    assert not (tmp_path / "other.db").exists()


def test_mlflow_missing_store_is_not_created(tmp_path):
    db = tmp_path / "absent.db"
    with pytest.raises(ImporterError, match="no MLflow tracking store"):
        import_source("mlflow", "one", tracking_uri=f"sqlite:///{db}")
    assert not db.exists()


def test_cli_mlflow_to_agree(mlflow_store, tmp_path):
    """judgecal import mlflow: the judgments CSV, and a ratings file of the humans with the
    judge as a rater, which judgecal agree reads and compares."""
    out, ratings = tmp_path / "j.csv", tmp_path / "ratings.csv"
    result = runner.invoke(app, ["import", "mlflow", "one", "--tracking-uri",
                                 mlflow_store["uri"], "--item-key", "item", "--labels",
                                 "bad,ok,good", "-o", str(out), "--humans", str(ratings),
                                 "--with-judges"])
    assert result.exit_code == 0, result.output
    assert "3 judgment(s) of 2 item(s) by 1 judge(s)" in result.output
    assert _rows(out) == [
        {"item_id": "r1", "judge": "openai:/gpt-4o", "criterion": "", "sample": "0",
         "score": "4", "rationale": "clear and correct"},
        {"item_id": "r1", "judge": "openai:/gpt-4o", "criterion": "", "sample": "1",
         "score": "5", "rationale": ""},
        {"item_id": "r2", "judge": "openai:/gpt-4o", "criterion": "", "sample": "0",
         "score": "2.5", "rationale": ""},
    ]
    table = load_ratings(ratings)
    assert table.rater_ids == ["alice", "bob", "openai:/gpt-4o"]
    assert table.column("openai:/gpt-4o")[:2].tolist() == [4.5, 2.5]  # r1: mean of 4, 5
    assert math.isnan(table.column("openai:/gpt-4o")[2])
    agree = runner.invoke(app, ["agree", str(ratings), "--judge", "openai:/gpt-4o",
                                "--json", "--resamples", "0"])
    assert agree.exit_code == 0, agree.output
    assert json.loads(agree.output)["judge"]["rater_id"] == "openai:/gpt-4o"


def test_cli_mlflow_two_criteria_ratings(mlflow_store, tmp_path):
    ratings = tmp_path / "r.csv"
    result = runner.invoke(app, ["import", "mlflow", "two", "--tracking-uri",
                                 mlflow_store["uri"], "--humans", str(ratings),
                                 "--with-judges"])
    assert result.exit_code == 0, result.output
    tables = load_scorecard_ratings(ratings)
    assert list(tables) == ["accuracy", "tone"]
    assert tables["accuracy"].rater_ids == ["alice", "claude"]
    assert tables["tone"].rater_ids == ["claude"]


def test_cli_refusals_write_nothing(mlflow_store, tmp_path):
    out = tmp_path / "j.csv"
    cases = [
        (["import", "mlflow", "one", "--tracking-uri", mlflow_store["uri"], "-o", str(out)],
         "text value 'good' is not a number"),
        (["import", "mlflow", "nope", "--tracking-uri", mlflow_store["uri"], "-o", str(out)],
         "no MLflow experiment"),
        (["import", "langsmith", "x", "-o", str(out)], "unknown format 'langsmith'"),
        (["import", "promptfoo", "x.json"], "nothing to write"),
        (["import", "promptfoo", str(tmp_path / "none.json"), "-o", str(out)],
         "none.json: no such file"),
        (["import", "promptfoo", "x.json", "-o", str(tmp_path / "no" / "j.csv")],
         "no folder"),
        (["import", "promptfoo", "x.json", "-o", str(out), "--with-judges"],
         "give --humans too"),
    ]
    for args, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in " ".join(result.output.split()), (args, result.output)
        assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- Inspect AI


def _inspect_log(path: Path, samples: list[tuple], scorers: dict[str, dict]) -> Path:
    """Write an Inspect eval log with ``samples`` = [(id, epoch, {score name: value})] and
    ``scorers`` = {score name: scorer params} using inspect_ai's own classes."""
    from inspect_ai.log import (
        EvalConfig,
        EvalDataset,
        EvalLog,
        EvalResults,
        EvalSample,
        EvalScore,
        EvalSpec,
        write_eval_log,
    )
    from inspect_ai.scorer import Score

    log = EvalLog(
        status="success",
        eval=EvalSpec(created="2026-01-01T00:00:00+00:00", task="recipes", dataset=EvalDataset(),
                      model="mockllm/model", config=EvalConfig(epochs=2)),
        results=EvalResults(total_samples=len(samples), completed_samples=len(samples),
                            scores=[EvalScore(name=n, scorer=n, params=p)
                                    for n, p in scorers.items()]),
        samples=[EvalSample(id=sid, epoch=epoch, input="q", target="t",
                            scores={n: Score(value=v, explanation=f"{n} on {sid}/{epoch}")
                                    for n, v in scores.items()})
                 for sid, epoch, scores in samples],
    )
    write_eval_log(log, str(path))
    return path


def test_inspect_log(tmp_path):
    """Sample id -> item, epoch -> sample, score name and grader model -> judge; C/I/P by
    Inspect's value_to_float (1, 0, 0.5); numbers as they are."""
    pytest.importorskip("inspect_ai")
    path = _inspect_log(tmp_path / "run.eval", [
        (1, 1, {"model_graded_qa": "C", "match": 1}),
        (1, 2, {"model_graded_qa": "P", "match": 0}),
        ("two", 1, {"model_graded_qa": "I", "match": 0.25}),
    ], {"model_graded_qa": {"model": "openai/gpt-4o"}, "match": {}})
    df = import_judgments("inspect", path)
    assert sorted(_records(df)) == [
        ("1", "match@mockllm/model", None, 0, 1.0),
        ("1", "match@mockllm/model", None, 1, 0.0),
        ("1", "model_graded_qa@openai/gpt-4o", None, 0, 1.0),
        ("1", "model_graded_qa@openai/gpt-4o", None, 1, 0.5),
        ("two", "match@mockllm/model", None, 0, 0.25),
        ("two", "model_graded_qa@openai/gpt-4o", None, 0, 0.0),
    ]
    assert set(df["rationale"]) >= {"model_graded_qa on two/1"}
    out = tmp_path / "j.csv"
    write_judgments(df, out)
    assert _rows(out)[0]["item_id"] == "1" and _rows(out)[0]["criterion"] == ""


def test_inspect_dict_scores_labels_and_refusals(tmp_path):
    pytest.importorskip("inspect_ai")
    path = _inspect_log(tmp_path / "rubric.eval", [
        ("a", 1, {"rubric": {"accuracy": 4, "style": "high"}}),
    ], {"rubric": {}})
    with pytest.raises(ImporterError, match=r"rubric.eval: sample 'a' epoch 1 score "
                                            r"'rubric' \['style'\]: text value 'high'"):
        import_judgments("inspect", path)
    df = import_judgments("inspect", path, labels="low,high")
    assert _records(df) == [("a", "rubric@mockllm/model", "accuracy", 0, 4.0),
                            ("a", "rubric@mockllm/model", "style", 0, 1.0)]
    bad = _inspect_log(tmp_path / "list.eval", [("a", 1, {"rubric": [1, 2]})], {"rubric": {}})
    with pytest.raises(ImporterError, match=r"value \[1, 2\] is not a number"):
        import_judgments("inspect", bad)
    junk = tmp_path / "junk.eval"
    junk.write_bytes(b"not a zip")
    result = runner.invoke(app, ["import", "inspect", str(junk), "-o", str(tmp_path / "j.csv")])
    assert result.exit_code == 2
    assert "junk.eval: not a readable Inspect eval log" in result.output
    assert not (tmp_path / "j.csv").exists()
    result = runner.invoke(app, ["import", "inspect", str(path), "--humans",
                                 str(tmp_path / "r.csv")])
    assert result.exit_code == 2 and "judges only" in result.output


# --------------------------------------------------------------------------- promptfoo


def _promptfoo_result(test_idx: int, provider: str, variables: dict, *, score=None,
                      named=None, reason="", prompt_idx: int = 0, error: bool = False):
    """One EvaluateResult as the promptfoo docs define it."""
    result = {
        "promptIdx": prompt_idx, "testIdx": test_idx, "promptId": f"p{prompt_idx}",
        "testCase": {"vars": variables, "assert": [{"type": "llm-rubric"}]},
        "provider": {"id": provider, "label": ""},
        "prompt": {"raw": "Rate: {{answer}}", "label": f"rubric-v{prompt_idx + 1}"},
        "vars": variables, "success": not error, "latencyMs": 12,
        "failureReason": 2 if error else 0, "score": 0 if error else score,
        "namedScores": named or {},
        "gradingResult": None if error else {"pass": True, "score": score, "reason": reason,
                                             "namedScores": named or {}},
    }
    if error:
        result["error"] = "API error 500"
    return result


def _promptfoo_file(path: Path, results: list[dict]) -> Path:
    path.write_text(json.dumps({
        "evalId": "eval-abc-2026-01-01T00:00:00",
        "results": {"version": 3, "timestamp": "2026-01-01T00:00:00.000Z",
                    "prompts": [], "results": results, "stats": {"successes": len(results)}},
        "config": {"description": "recipes"}, "shareableUrl": None,
    }, indent=2), encoding="utf-8")
    return path


def test_promptfoo_named_scores(tmp_path):
    """namedScores keys are criteria; the 'id' variable is the item; an errored result is
    skipped; the gradingResult's reason is the rationale."""
    path = _promptfoo_file(tmp_path / "results.json", [
        _promptfoo_result(0, "openai:gpt-4o-mini", {"id": "r1", "answer": "x"}, score=0.75,
                          named={"accuracy": 1, "tone": 0.5}, reason="fine"),
        _promptfoo_result(0, "anthropic:messages:claude", {"id": "r1", "answer": "x"},
                          score=0.5, named={"accuracy": 0.5, "tone": 0.5}),
        _promptfoo_result(1, "openai:gpt-4o-mini", {"id": "r2", "answer": "y"}, error=True),
    ])
    got = import_source("promptfoo", path)
    assert _records(got.judgments) == [
        ("r1", "openai:gpt-4o-mini", "accuracy", 0, 1.0),
        ("r1", "openai:gpt-4o-mini", "tone", 0, 0.5),
        ("r1", "anthropic:messages:claude", "accuracy", 0, 0.5),
        ("r1", "anthropic:messages:claude", "tone", 0, 0.5),
    ]
    assert list(got.judgments["rationale"]) == ["fine", "fine", None, None]
    assert got.skipped == {"errors": 1}
    assert got.humans.empty


def test_promptfoo_test_index_prompts_and_repeats(tmp_path):
    """Without an 'id' variable the item is testIdx; two prompts make the prompt label part
    of the judge; a repeated test is a second sample; --item-key names another variable."""
    rows = [_promptfoo_result(t, "openai:gpt-4o-mini", {"case": f"c{t}"}, score=s,
                              prompt_idx=p)
            for t, p, s in [(0, 0, 1), (0, 1, 0), (1, 0, 0.5), (0, 0, 0.8)]]
    path = _promptfoo_file(tmp_path / "results.json", rows)
    assert _records(import_judgments("promptfoo", path)) == [
        ("0", "openai:gpt-4o-mini|rubric-v1", None, 0, 1.0),
        ("0", "openai:gpt-4o-mini|rubric-v2", None, 0, 0.0),
        ("1", "openai:gpt-4o-mini|rubric-v1", None, 0, 0.5),
        ("0", "openai:gpt-4o-mini|rubric-v1", None, 1, 0.8),
    ]
    assert [r[0] for r in _records(import_judgments("promptfoo", path, item_key="case"))] \
        == ["c0", "c0", "c1", "c0"]
    with pytest.raises(ImporterError, match=r"results.json: results.results\[0\]: the test "
                                            r"has no variable 'qid'"):
        import_judgments("promptfoo", path, item_key="qid")


def test_promptfoo_malformed(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "results": {\n    "results": [,]\n  }\n}\n', encoding="utf-8")
    with pytest.raises(ImporterError, match=r"broken.json:3: invalid JSON"):
        import_judgments("promptfoo", broken)
    other = tmp_path / "other.json"
    other.write_text('{"version": 3}', encoding="utf-8")
    with pytest.raises(ImporterError, match="not a promptfoo results file"):
        import_judgments("promptfoo", other)
    text = _promptfoo_file(tmp_path / "text.json", [
        _promptfoo_result(0, "openai:gpt-4o-mini", {"id": "r1"}, score="great")])
    out = tmp_path / "j.csv"
    result = runner.invoke(app, ["import", "promptfoo", str(text), "-o", str(out)])
    assert result.exit_code == 2
    assert "text.json: results.results[0]: text value 'great' is not a number" in \
        " ".join(result.output.split())
    assert not out.exists()
