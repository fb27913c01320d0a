"""Sessions read the judgments files ``gate --judgments`` reads (one reader).

``session propose --judgments`` and ``session create --propose N --judgments`` (and
:func:`harness.judgments.read_judgment_scores`) take judgecal's ``judge --out`` CSV, a long
CSV or JSONL (``item_id``, ``score``, optional ``judge``, ``criterion``, ``sample``,
``status``) and ``FORMAT:SOURCE`` of other tools; a file of several judges needs ``--judge``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_importers import _promptfoo_file, _promptfoo_result
from test_session_propose import JUDGE, created_item_ids, judge_csv, make_set
from typer.testing import CliRunner

from harness.judgments import JudgmentsFileError, read_judgment_scores
from harness.sessions import SessionStore

runner = CliRunner()


def _invoke(*args: str, env: dict[str, str] | None = None):
    from harness.cli import app

    return runner.invoke(app, ["session", *args], env=env or {})


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def two_judges(tmp_path: Path) -> Path:
    """Judge ``m1`` gives :data:`JUDGE`; judge ``m2`` agrees with the raters on hi2."""
    rows = [{"item_id": i, "judge": "m1", "score": s} for i, s in JUDGE.items()]
    rows += [{"item_id": i, "judge": "m2", "score": 4.0 if i == "hi2" else s}
             for i, s in JUDGE.items()]
    return write_jsonl(tmp_path / "two.jsonl", rows)


def promptfoo(tmp_path: Path) -> Path:
    """A promptfoo results file of two providers on the set's items (the ``id`` variable)."""
    results = [_promptfoo_result(t, "openai:gpt-4o-mini", {"id": i}, score=s)
               for t, (i, s) in enumerate(JUDGE.items())]
    results += [_promptfoo_result(t, "anthropic:claude", {"id": i}, score=3.0)
                for t, i in enumerate(JUDGE)]
    return _promptfoo_file(tmp_path / "results.json", results)


# ------------------------------------------------------------------ the reader


def test_reader_takes_jsonl_and_a_long_csv_without_status(tmp_path: Path) -> None:
    rows = [{"item_id": "a", "score": 2, "sample": 0}, {"item_id": "a", "score": 5, "sample": 1},
            {"item_id": "b", "score": None}, {"item_id": "c", "score": "4"}]
    scores, no_valid = read_judgment_scores(write_jsonl(tmp_path / "j.jsonl", rows),
                                            item_ids=["a", "b", "c"], how="median")
    assert scores == {"a": 3.5, "c": 4.0} and no_valid == ["b"]
    long = tmp_path / "long.csv"
    long.write_text("item_id,score\na,2\na,4\nb,\n", encoding="utf-8")
    assert read_judgment_scores(long) == ({"a": 3.0}, ["b"])


def test_reader_picks_a_judge_like_gate(tmp_path: Path) -> None:
    path = two_judges(tmp_path)
    with pytest.raises(JudgmentsFileError,
                       match=re.escape(f"{path}: 2 judges in the file (m1, m2): pick one")):
        read_judgment_scores(path)
    assert read_judgment_scores(path, judge="m1")[0] == JUDGE
    assert read_judgment_scores(path, judge="m2")[0]["hi2"] == 4.0
    with pytest.raises(JudgmentsFileError, match=r"no judge 'm3' \(its judges: m1, m2\)"):
        read_judgment_scores(path, judge="m3")
    with pytest.raises(JudgmentsFileError, match="no judge 'm1' .*no judge column"):
        read_judgment_scores(judge_csv(tmp_path, JUDGE), judge="m1")


def test_reader_reads_a_scorecards_jsonl_one_question_at_a_time(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "card.jsonl", [
        {"item_id": "a", "criterion": "tone", "score": 4},
        {"item_id": "a", "criterion": "greeted", "score": 1},
        {"item_id": "b", "criterion": "tone", "score": 2},
        {"item_id": "b", "criterion": "greeted", "score": None, "status": "invalid"}])
    assert read_judgment_scores(path, criterion="tone") == ({"a": 4.0, "b": 2.0}, [])
    assert read_judgment_scores(path, criterion="greeted") == ({"a": 1.0}, ["b"])
    with pytest.raises(ValueError, match=re.escape(f"{path}:1: the judgments of a scorecard")):
        read_judgment_scores(path)
    with pytest.raises(ValueError, match="no judgments of criterion 'grammar'"):
        read_judgment_scores(path, criterion="grammar")


def test_reader_takes_an_imported_promptfoo_file(tmp_path: Path) -> None:
    src = f"promptfoo:{promptfoo(tmp_path)}"
    with pytest.raises(JudgmentsFileError, match="2 judges in the file"):
        read_judgment_scores(src, item_ids=JUDGE)
    assert read_judgment_scores(src, item_ids=JUDGE, judge="openai:gpt-4o-mini") == (JUDGE, [])
    with pytest.raises(ValueError, match="not in the anchor set: lo, lo2"):
        read_judgment_scores(src, item_ids=["mid"], judge="anthropic:claude")


def test_a_non_ok_row_needs_no_number(tmp_path: Path) -> None:
    """What the old sessions reader accepted: a failed row's score cell is not read."""
    path = tmp_path / "j.csv"
    path.write_text("item_id,sample_index,status,score\na,0,ok,4\nb,0,failed,n/a\n",
                    encoding="utf-8")
    assert read_judgment_scores(path) == ({"a": 4.0}, ["b"])


# ------------------------------------------------------------------ CLI


def test_cli_create_propose_from_a_jsonl(tmp_path: Path) -> None:
    set_path = make_set(tmp_path)
    jpath = write_jsonl(tmp_path / "judged.jsonl",
                        [{"item_id": i, "score": s} for i, s in JUDGE.items()])
    state = tmp_path / "state"
    res = _invoke("create", str(set_path), "-p", "ann", "-p", "bob", "--propose", "6",
                  "--judgments", str(jpath), env={"JUDGECAL_STATE_DIR": str(state)})
    ids = created_item_ids(res, state)
    assert "hi2" in ids and len(ids) == 6


def test_cli_propose_from_a_promptfoo_file_needs_the_judge(tmp_path: Path) -> None:
    set_path = make_set(tmp_path)
    src = f"promptfoo:{promptfoo(tmp_path)}"
    res = _invoke("propose", str(set_path), "--n", "6", "--judgments", src, "--json")
    assert res.exit_code == 2
    flat = " ".join(res.stderr.split())
    assert "2 judges in the file (openai:gpt-4o-mini, anthropic:claude)" in flat
    assert "--judge ID" in flat
    res = _invoke("propose", str(set_path), "--n", "6", "--judgments", src,
                  "--judge", "openai:gpt-4o-mini", "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["judgments"] == src and doc["judge"] == "openai:gpt-4o-mini"
    last = doc["items"][-1]
    assert last["item_id"] == "hi2" and last["judge_delta"] == pytest.approx(-3.0)


def test_cli_create_picks_a_judge_of_several(tmp_path: Path) -> None:
    set_path = make_set(tmp_path)
    jpath = two_judges(tmp_path)
    state = tmp_path / "state"
    env = {"JUDGECAL_STATE_DIR": str(state)}
    common = ["create", str(set_path), "-p", "ann", "--propose", "6", "--judgments", str(jpath)]
    res = _invoke(*common, env=env)
    assert res.exit_code == 2 and "pick one with --judge ID" in " ".join(res.stderr.split())
    assert not state.exists() or not SessionStore(state).list()
    res = _invoke(*common, "--judge", "m1", env=env)
    assert res.exit_code == 0, res.output
    assert "6 items" in res.stdout


def test_cli_judge_without_judgments_is_refused(tmp_path: Path) -> None:
    set_path = make_set(tmp_path)
    res = _invoke("propose", str(set_path), "--judge", "m1")
    assert res.exit_code == 2 and "--judge only works with --judgments" in res.stderr
    res = _invoke("create", str(set_path), "-p", "ann", "--propose", "3", "--judge", "m1",
                  env={"JUDGECAL_STATE_DIR": str(tmp_path / "st")})
    assert res.exit_code == 2 and "--judge only works with --judgments" in res.stderr


def test_cli_scorecard_judgments_from_an_import_read_once_per_command(tmp_path, project_root,
                                                                     monkeypatch):
    """A scorecard's questions come from one reading of the source (an import runs once),
    the judge picked among several."""
    import pandas as pd
    from test_session_scorecard_propose import consensus_judgments

    import harness.importers as importers
    from harness.anchors import load_scorecard

    path = project_root / "anchors/recipes/recipes-scorecard.jsonl"
    card = load_scorecard(path)
    total = card.total().consensus()
    worst = max(total, key=total.get)
    good, bad = consensus_judgments(card), consensus_judgments(card, worst)
    rows = [(item, judge, cid, 0, v) for judge, judged in (("fair", good), ("harsh", bad))
            for cid, scores in judged.items() for item, v in scores.items()]
    calls = []

    def fake(fmt, source):
        calls.append((fmt, source))
        return pd.DataFrame(rows, columns=["item_id", "judge", "criterion", "sample", "score"])

    monkeypatch.setattr(importers, "import_judgments", fake)
    src = tmp_path / "results.json"
    src.write_text("{}")
    res = _invoke("propose", str(path), "-n", "6", "--judgments", f"promptfoo:{src}",
                  "--judge", "harsh", "--json")
    assert res.exit_code == 0, res.output
    assert calls == [("promptfoo", str(src))]
    doc = json.loads(res.stdout)
    by_id = {it["item_id"]: it for it in doc["items"]}
    assert worst in by_id and "disagreement" in by_id[worst]["reasons"]
    res = _invoke("propose", str(path), "-n", "6", "--judgments", f"promptfoo:{src}")
    assert res.exit_code == 2 and "2 judges in the file (fair, harsh)" in " ".join(
        res.stderr.split())
