"""Judge-aware session proposals: the judgments CSV reader, propose_items, the CLI."""

from __future__ import annotations

import csv
import json
import math
import re
import shlex
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from typer.testing import CliRunner

from harness.anchors import load_anchor_set
from harness.judges._runner import Judgment, RunResult
from harness.judgments import JudgeRun, read_judgment_scores, write_judgments_csv
from harness.reports import number_text, signed_text
from harness.sessions import SessionStore, propose_items

runner = CliRunner()

# id -> (r1, r2): consensus is the mean on a 1-5 scale.
RATINGS = {
    "lo": (1, 1),        # 1.0  low
    "lo2": (2, 2),       # 2.0  low
    "mid": (3, 3),       # 3.0  mid, boundary
    "spready": (1, 5),   # 3.0  mid, boundary, top spread
    "hi": (5, 5),        # 5.0  high
    "hi2": (4, 4),       # 4.0  high
    "mid2": (3, 4),      # 3.5  mid, boundary
    "target": (2, 3),    # 2.5  mid, boundary
}
# Judge scores: hi2 is the largest |judge - consensus| (judge 1 vs 4: -3), target next (+2.5).
JUDGE = {"lo": 1.0, "lo2": 2.0, "mid": 3.0, "spready": 3.0, "hi": 5.0, "hi2": 1.0,
         "mid2": 3.5, "target": 5.0}


def make_set(tmp_path: Path) -> Path:
    header = {"judgecal_anchor_set": 1, "name": "prop", "criterion": "helpfulness",
              "rubric": "Score 1-5.", "scale": {"min": 1, "max": 5, "labels": None},
              "consensus": "mean", "na_allowed": False}
    lines = [json.dumps(header)]
    for i, (item_id, (a, b)) in enumerate(RATINGS.items()):
        lines.append(json.dumps({"id": item_id, "input": f"q{i}", "output": f"answer {i}",
                                 "ratings": {"r1": a, "r2": b}, "split": "calibration"}))
    p = tmp_path / "prop.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


HEADER = ["item_id", "sample_index", "status", "score", "consensus", "reasoning"]


def write_rows(path: Path, rows: list[list[object]], header=HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def judge_csv(tmp_path: Path, scores: dict[str, float], name: str = "j.csv") -> Path:
    """Two ok samples per item, averaging to ``scores[item]``, plus an invalid sample."""
    rows: list[list[object]] = []
    for item, s in scores.items():
        rows += [[item, 0, "ok", s - 0.5, "", "fine"], [item, 1, "ok", s + 0.5, "", ""],
                 [item, 2, "invalid", "", "", ""]]
    return write_rows(tmp_path / name, rows)


def _judgment(item: str, k: int, status: str, score: float | None) -> Judgment:
    return Judgment(key=f"{item}-{k}", item_id=item, sample_index=k, status=status,
                    score=score, reasoning="line one\nline two", raw_reply="{}",
                    error=None if status == "ok" else "bad reply", cached=False, attempts=1,
                    input_tokens=1, output_tokens=1, cost=None, latency_s=0.1)


# ------------------------------------------------------------------ the reader


def test_reader_reads_what_judge_writes(tmp_path: Path) -> None:
    judgments = [_judgment("a", 0, "ok", 2.0), _judgment("a", 1, "ok", 5.0),
                 _judgment("a", 2, "invalid", None), _judgment("b", 0, "failed", None),
                 _judgment("b", 1, "skipped", None), _judgment("c", 0, "ok", 4.0)]
    result = RunResult(judgments=judgments, stopped=None, n_requests=6, n_cached=0, n_ok=3,
                       n_invalid=1, n_failed=1, n_skipped=1, input_tokens=6, output_tokens=6,
                       cost=None, elapsed_s=0.1)
    fake_run = SimpleNamespace(result=result, table=SimpleNamespace(
        item_ids=["a", "b", "c"], consensus=np.array([3.0, np.nan, 4.0])))
    path = write_judgments_csv(tmp_path / "out" / "judgments.csv",
                               JudgeRun.csv_rows(fake_run))  # type: ignore[arg-type]
    scores, no_valid = read_judgment_scores(path, item_ids=["a", "b", "c", "d"])
    assert scores == {"a": 3.5, "c": 4.0}
    assert no_valid == ["b"]
    assert read_judgment_scores(path, how="median")[0]["a"] == 3.5


def test_reader_averages_ok_samples_only(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "j.csv", [
        ["x", 0, "ok", "2", "", ""], ["x", 1, "ok", "3", "", ""], ["x", 2, "ok", "5", "", ""],
        ["y", 0, "invalid", "", "", "unparsable"], ["y", 1, "ok", "1", "", ""],
        ["z", 0, "failed", "", "", ""], ["z", 1, "invalid", "", "", ""],
        ["w", 0, "skipped", "", "", ""],
    ])
    scores, no_valid = read_judgment_scores(path)
    assert scores == {"x": pytest.approx(10 / 3), "y": 1.0}
    assert no_valid == ["z", "w"]


@pytest.mark.parametrize(("rows", "header", "match"), [
    ([["x", 0, "ok", "3"]], ["item_id", "sample_index", "status"], r":1: missing column.*score"),
    ([["x", 0, "ok", "3"]], ["item", "sample_index", "status", "score"],
     r":1: missing column.*item_id"),
    ([["x", 0, "ok", "3"], ["y", 0, "ok", "high"]], HEADER[:4], r":3: item 'y'.*'high'"),
    ([["x", 0, "ok", ""]], HEADER[:4], r":2: item 'x'.*not a number"),
    ([["x", 0, "ok", "nan"]], HEADER[:4], r":2: item 'x'.*not a number"),
    ([["x", 0, "great", "3"]], HEADER[:4], r":2: unknown status 'great'"),
    ([["", 0, "ok", "3"]], HEADER[:4], r":2: empty item_id"),
    ([["x", 0, "ok", "3", "extra"]], HEADER[:4], r":2: more fields"),
    ([], HEADER[:4], r": no judgment rows"),
])
def test_reader_rejects_malformed_files(tmp_path: Path, rows, header, match) -> None:
    path = write_rows(tmp_path / "bad.csv", rows, header=header)
    with pytest.raises(ValueError, match=re.escape(str(path)) + match):
        read_judgment_scores(path)


def test_reader_line_numbers_count_multiline_fields(tmp_path: Path) -> None:
    # The reasoning of the first row spans three physical lines (2-4): the bad row is line 5.
    path = write_rows(tmp_path / "j.csv", [["x", 0, "ok", "3", "", "a\nb\nc"],
                                           ["y", 0, "ok", "n/a", "", ""]])
    with pytest.raises(ValueError, match=re.escape(f"{path}:5: item 'y'")):
        read_judgment_scores(path)
    # a bad row that itself spans lines 2-3 is reported at the line it starts on
    path = write_rows(tmp_path / "k.csv", [["y", 0, "ok", "n/a", "", "a\nb"]])
    with pytest.raises(ValueError, match=re.escape(f"{path}:2: item 'y'")):
        read_judgment_scores(path)


def test_reader_empty_missing_and_foreign_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match="empty file"):
        read_judgment_scores(empty)
    with pytest.raises(ValueError, match="cannot read .*nope.csv"):
        read_judgment_scores(tmp_path / "nope.csv")
    path = judge_csv(tmp_path, {"lo": 1.0, "other": 2.0, "else": 3.0})
    with pytest.raises(ValueError, match="not in the anchor set: other, else") as info:
        read_judgment_scores(path, item_ids=RATINGS)
    assert str(path) in str(info.value) and "'lo'" not in str(info.value)
    # all-invalid unknown items are caught as well
    path = write_rows(tmp_path / "k.csv", [["ghost", 0, "invalid", "", "", ""]])
    with pytest.raises(ValueError, match="ghost"):
        read_judgment_scores(path, item_ids=RATINGS)


# ------------------------------------------------------------------ propose_items


def test_propose_items_picks_largest_disagreement(tmp_path: Path) -> None:
    aset = load_anchor_set(make_set(tmp_path))
    plain = propose_items(aset, n=6)
    assert "hi2" not in {p.item_id for p in plain}
    assert all("disagreement" not in p.reasons and p.judge_delta is None for p in plain)

    picks = propose_items(aset, n=6, judgments=JUDGE)
    assert [p.reasons[0] for p in picks] == ["low", "mid", "high", "boundary", "spread",
                                             "disagreement"]
    last = picks[-1]
    assert last.item_id == "hi2"
    assert last.judge_score == 1.0 and last.judge_delta == pytest.approx(-3.0)
    # the next disagreement pick is the next largest |delta| not yet taken
    by_id = {p.item_id: p for p in propose_items(aset, n=8, judgments=JUDGE)}
    assert by_id["target"].judge_delta == pytest.approx(2.5)
    assert "disagreement" in by_id["target"].reasons
    assert "disagreement" in by_id["lo"].reasons  # every judged item is a member


def test_propose_items_judgment_edge_cases(tmp_path: Path) -> None:
    aset = load_anchor_set(make_set(tmp_path))
    with pytest.raises(ValueError, match="not in the anchor set 'prop': stray"):
        propose_items(aset, n=4, judgments={"lo": 1.0, "stray": 2.0})
    # NaN (no valid judge score) counts as missing, not as the largest disagreement
    picks = propose_items(aset, n=6, judgments={**JUDGE, "hi2": math.nan})
    assert picks[-1].item_id == "target" and picks[-1].reasons[0] == "disagreement"
    assert all(p.judge_delta is None or math.isfinite(p.judge_delta) for p in picks)
    hi2 = {p.item_id: p for p in propose_items(aset, n=8, judgments={**JUDGE, "hi2": math.nan})}[
        "hi2"]
    assert hi2.judge_score is None and hi2.judge_delta is None
    assert "disagreement" not in hi2.reasons


# ------------------------------------------------------------------ CLI


def _invoke(*args: str, env: dict[str, str] | None = None):
    from harness.cli import app

    return runner.invoke(app, ["session", *args], env=env or {})


def test_cli_propose_table_and_paste_line(tmp_path: Path) -> None:
    set_path = make_set(tmp_path)
    jpath = judge_csv(tmp_path, JUDGE)
    res = _invoke("propose", str(set_path), "--n", "6", "--judgments", str(jpath))
    assert res.exit_code == 0, res.output
    assert "judge −" in res.output and "disagreement" in res.output
    assert "-3.00" in res.output  # hi2's judge - consensus
    last = res.stdout.strip().splitlines()[-1]
    args = shlex.split(last)
    assert args[::2] == ["--item"] * 6
    assert args[1::2] == [p.item_id for p in
                          propose_items(load_anchor_set(set_path), n=6, judgments=JUDGE)]
    assert args[-1] == "hi2"

    res = _invoke("propose", str(set_path), "-n", "3")
    assert res.exit_code == 0, res.output
    assert "judge −" not in res.output and "disagreement" not in res.output
    assert shlex.split(res.stdout.strip().splitlines()[-1]) == [
        "--item", "lo", "--item", "mid", "--item", "hi"]


def test_cli_propose_table_in_a_pipe_counts_the_split(tmp_path: Path,
                                                      project_root: Path) -> None:
    """Piped (not a terminal): one header line with complete column names (was 'rater' /
    'SD' over two lines); with --split, the title counts the split's items (was 'of 52')."""
    recipes = project_root / "anchors" / "recipes" / "recipes-overall.jsonl"
    aset = load_anchor_set(recipes)
    cal = [it.id for it in aset.items if it.split == "calibration"]
    assert 0 < len(cal) < len(aset.items)
    jpath = judge_csv(tmp_path, {i: 3.0 for i in cal})
    res = _invoke("propose", str(recipes), "--n", "4", "--split", "calibration",
                  "--judgments", str(jpath))
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert f"proposal: 4 of {len(cal)} calibration items of recipes-overall" in lines[0]
    header = [line for line in lines if "consensus" in line]
    assert len(header) == 1 and "rater SD" in header[0] and "judge − consensus" in header[0]
    assert not any(line.strip("│┃ ") in ("SD", "consensus") for line in lines)
    rows = [[c.strip() for c in line.strip("│ ").split("│")] for line in lines
            if line.startswith("│")]
    picks = propose_items(aset, n=4, split="calibration",
                          judgments={i: 3.0 for i in cal})
    assert [r[0] for r in rows] == [p.item_id for p in picks]
    assert [r[1:4] for r in rows] == [[number_text(p.consensus), number_text(p.sd),
                                       signed_text(p.judge_delta)] for p in picks]
    doc = json.loads(_invoke("propose", str(recipes), "--n", "4", "--split", "calibration",
                             "--json").stdout)
    assert doc["n_items"] == len(cal)


def test_cli_propose_json(tmp_path: Path) -> None:
    set_path = make_set(tmp_path)
    scores = dict(JUDGE)
    del scores["lo2"]
    jpath = judge_csv(tmp_path, scores)
    with jpath.open("a", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([["lo2", 0, "invalid", "", "", ""],
                                  ["lo2", 1, "failed", "", "", ""]])
    res = _invoke("propose", str(set_path), "--n", "6", "--judgments", str(jpath), "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["n"] == 6 and doc["n_items"] == len(RATINGS)
    assert doc["no_valid_judgment"] == ["lo2"]
    assert "lo2" in res.stderr and "no valid judge score" in res.stderr
    last = doc["items"][-1]
    assert last["item_id"] == "hi2" and last["reasons"][0] == "disagreement"
    assert last["judge_score"] == 1.0 and last["judge_delta"] == pytest.approx(-3.0)
    assert last["consensus"] == 4.0 and last["sd"] == 0.0
    assert doc["create_args"] == [a for it in doc["items"] for a in ("--item", it["item_id"])]

    res = _invoke("propose", str(set_path), "--n", "2", "--json")
    doc = json.loads(res.stdout)
    assert doc["judgments"] is None and doc["no_valid_judgment"] == []
    assert all(it["judge_delta"] is None for it in doc["items"])


def test_cli_propose_bad_input_exits_2(tmp_path: Path) -> None:
    set_path = make_set(tmp_path)
    foreign = judge_csv(tmp_path, {"lo": 1.0, "someone_elses": 2.0})
    res = _invoke("propose", str(set_path), "--judgments", str(foreign))
    assert res.exit_code == 2 and "someone_elses" in res.stderr
    assert "another anchor set" in res.stderr
    bad = write_rows(tmp_path / "bad.csv", [["lo", 0, "ok", "x"]], header=HEADER[:4])
    res = _invoke("propose", str(set_path), "--judgments", str(bad))
    assert res.exit_code == 2 and "bad.csv:2:" in res.stderr
    res = _invoke("propose", str(set_path), "--n", "0")
    assert res.exit_code == 2 and "--n must be at least 1" in res.stderr
    res = _invoke("propose", str(tmp_path / "missing.jsonl"))
    assert res.exit_code == 2 and "missing.jsonl" in res.stderr
    res = _invoke("propose", str(set_path), "--judgments", str(tmp_path / "nope.csv"))
    assert res.exit_code == 2 and "nope.csv" in res.stderr


def created_item_ids(res, state: Path) -> list[str]:
    """The items of the session ``session create`` made (``res``: its CliRunner result)."""
    assert res.exit_code == 0, res.output
    sid = re.search(r"created session (\w+)", res.stdout).group(1)
    store = SessionStore(state)
    try:
        return store.get(sid).info.item_ids
    finally:
        store.close()


def test_cli_create_with_judgments(tmp_path: Path) -> None:
    set_path = make_set(tmp_path)
    jpath = judge_csv(tmp_path, JUDGE)
    state = tmp_path / "state"
    env = {"JUDGECAL_STATE_DIR": str(state)}
    res = _invoke("create", str(set_path), "-p", "ann", "-p", "bob", "--propose", "6",
                  "--judgments", str(jpath), env=env)
    ids = created_item_ids(res, state)
    assert "hi2" in ids and len(ids) == 6

    # the paste line of 'propose' is accepted by 'create' as is
    res = _invoke("propose", str(set_path), "--n", "4", "--judgments", str(jpath))
    pasted = shlex.split(res.stdout.strip().splitlines()[-1])
    res = _invoke("create", str(set_path), "-p", "ann", "-p", "bob", *pasted, env=env)
    assert res.exit_code == 0, res.output
    assert "4 items" in res.stdout

    res = _invoke("create", str(set_path), "-p", "ann", "-p", "bob",
                  "--judgments", str(jpath), env=env)
    assert res.exit_code == 2 and "--judgments only works with --propose" in res.stderr
    foreign = judge_csv(tmp_path, {"stranger": 3.0}, name="foreign.csv")
    res = _invoke("create", str(set_path), "-p", "ann", "-p", "bob", "--propose", "4",
                  "--judgments", str(foreign), env=env)
    assert res.exit_code == 2 and "stranger" in res.stderr
    res = _invoke("create", str(set_path), "-p", "ann", "-p", "bob", "--propose", "0", env=env)
    assert res.exit_code == 2 and "--propose must be at least 1" in res.stderr


def test_cli_create_baseline_from_a_judgments_csv(tmp_path: Path) -> None:
    """A judgments CSV as --baseline: ok samples averaged per item (not the last row)."""
    set_path = make_set(tmp_path)
    state = tmp_path / "state"
    env = {"JUDGECAL_STATE_DIR": str(state)}
    res = _invoke("create", str(set_path), "-p", "ann", "-p", "bob", "--baseline",
                  str(judge_csv(tmp_path, JUDGE)), "--baseline-label", "judge:v3", env=env)
    assert res.exit_code == 0, res.output
    sid = re.search(r"created session (\w+)", res.stdout).group(1)
    store = SessionStore(state)
    try:
        info = store.get(sid).info
    finally:
        store.close()
    assert info.baseline == JUDGE  # each item: samples s-0.5 and s+0.5, the invalid one left out
    assert info.baseline_label == "judge:v3"

    rows = [["lo", 0, "ok", 2.0, "", ""], ["hi", 0, "invalid", "", "", ""]]
    res = _invoke("create", str(set_path), "-p", "ann", "-p", "bob", "--baseline",
                  str(write_rows(tmp_path / "part.csv", rows)), env=env)
    assert res.exit_code == 2
    assert "no valid score for 1 item(s): hi" in res.stderr


def test_split_restricts_proposals_and_sessions(tmp_path: Path, project_root: Path) -> None:
    recipes = project_root / "anchors" / "recipes" / "recipes-overall.jsonl"
    aset = load_anchor_set(recipes)
    split = {it.id: it.split for it in aset.items}
    picks = propose_items(aset, n=10, split="calibration")
    assert len(picks) == 10 and {split[p.item_id] for p in picks} == {"calibration"}
    assert {split[p.item_id] for p in propose_items(aset, n=10)} == {"calibration", "holdout"}
    with pytest.raises(ValueError, match="split must be"):
        propose_items(aset, split="train")

    res = _invoke("propose", str(recipes), "--n", "6", "--split", "holdout", "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["split"] == "holdout"
    assert {split[i["item_id"]] for i in doc["items"]} == {"holdout"}
    res = _invoke("propose", str(recipes), "--split", "train")
    assert res.exit_code == 2 and "split must be" in res.stderr

    env = {"JUDGECAL_STATE_DIR": str(tmp_path / "state")}
    res = _invoke("create", str(recipes), "-p", "ann", "-p", "bob", "--split", "calibration",
                  env=env)
    assert res.exit_code == 0, res.output
    n_cal = sum(s == "calibration" for s in split.values())
    assert f"{n_cal} items" in res.stdout
    res = _invoke("create", str(recipes), "-p", "ann", "-p", "bob", "--split", "holdout",
                  "--propose", "5", env=env)
    assert res.exit_code == 0 and "5 items" in res.stdout
    sid = re.search(r"created session (\w+)", res.stdout).group(1)
    with SessionStore(tmp_path / "state") as store:
        assert {split[i] for i in store.get(sid).info.item_ids} == {"holdout"}
    res = _invoke("create", str(recipes), "-p", "ann", "-p", "bob", "--split", "calibration",
                  "--item", aset.items[0].id, env=env)
    assert res.exit_code == 2 and "--item or --split" in res.stderr
