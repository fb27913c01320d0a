"""The runner with real SDK judges against a fake server that fails on purpose.

Faults are seeded per (seed, item, attempt number) (:class:`fakeserver.FaultPlan`): 20% 429
(``Retry-After: 0``), 5% 500, 2% hangs longer than the client timeout, 2% garbage 200s.

"No item is judged twice" is checked on the server's counters. For every item, with
``R = 1 + parse_retries`` the number of parse rounds:

* ``scored[item]`` (200 replies carrying a valid in-scale score) is at most 1, and exactly 1
  for an ``ok`` item: once a valid score arrived the runner never asked again;
* ``scored[item] + unscorable[item]`` (all 200 replies with content) is at most ``R``: each
  unusable reply costs one parse re-ask, and there are at most ``R`` rounds;
* an ``invalid`` item got exactly ``R`` unusable replies and no valid one;
* a ``failed`` item got no valid score;
* ``requests[item] <= R * max_attempts`` (retries happen within a round).
"""

from __future__ import annotations

import inspect
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fakeserver as fs
import pytest

from harness.journal import Journal
from harness.judges._anthropic import AnthropicJudge
from harness.judges._base import Message
from harness.judges._openai import OpenAIJudge
from harness.judges._runner import (
    JudgeTask,
    RequestSpec,
    RunResult,
    RunSettings,
    run_judge_sync,
)

KEY = "sk-test-FAULTsecret0123456789"
PROJECT = Path(__file__).resolve().parents[1]

FAULTS = dict(p429=0.20, p500=0.05, ptimeout=0.02, pgarbage=0.02, retry_after="0", hang_s=1.0)
CLIENT_TIMEOUT_S = 0.3
PARSE_RETRIES = 2
MAX_ATTEMPTS = 8
ROUNDS = 1 + PARSE_RETRIES

#: Scripted items, whatever the fault plan says.
ALWAYS_GARBAGE = "item-garbage"
ALWAYS_OFF_SCALE = "item-offscale"
ALWAYS_500 = "item-500"


def make_tasks(n: int, extra: tuple[str, ...] = ()) -> list[JudgeTask]:
    """``n`` items ``item-000``... (plus ``extra`` ids), one sample each."""
    ids = [f"item-{i:03d}" for i in range(n)] + list(extra)
    return [
        JudgeTask(item_id=i, sample_index=0, prompt_name="fault", prompt_version="1",
                  messages=(Message("system", "You are a judge. Reply in JSON."),
                            Message("user", f"ITEM: {i}\nQuestion and answer text.")))
        for i in ids
    ]


def make_spec() -> RequestSpec:
    """The request parameters of every run here."""
    return RequestSpec(mode="structured", scale_min=1, scale_max=5)


def make_settings(concurrency: int = 16) -> RunSettings:
    """Small backoffs so a 200-item fault run takes a couple of seconds."""
    return RunSettings(concurrency=concurrency, max_attempts=MAX_ATTEMPTS,
                       parse_retries=PARSE_RETRIES, call_deadline_s=10.0,
                       retry_after_cap_s=0.05, backoff_initial_s=0.01, backoff_max_s=0.05,
                       show_progress=False)


def scripted(api: str, body: dict[str, Any], n: int) -> fs.Response | None:
    """Fixed behaviour for the scripted items; ``None`` (the fault plan) for the rest."""
    item = fs.item_of(body)
    if item == ALWAYS_GARBAGE:
        return fs.garbage()
    if item == ALWAYS_OFF_SCALE:
        return fs.off_scale(9)
    if item == ALWAYS_500:
        return fs.server_error(500)
    return None


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)


@pytest.fixture
def server() -> Iterator[fs.FakeServer]:
    with fs.FakeServer(scripted, faults=fs.FaultPlan(seed=7, **FAULTS),
                       keep_bodies=False) as srv:
        yield srv


def check_no_double_judging(result: RunResult, stats: dict[str, Any]) -> None:
    """The per-item invariants of the module docstring."""
    scored, unscorable, requests = stats["scored"], stats["unscorable"], stats["requests"]
    for j in result.judgments:
        s, u, r = scored.get(j.item_id, 0), unscorable.get(j.item_id, 0), requests.get(
            j.item_id, 0)
        assert s <= 1, (j.item_id, s)
        assert s + u <= ROUNDS, (j.item_id, s, u)
        assert r <= ROUNDS * MAX_ATTEMPTS, (j.item_id, r)
        if j.status == "ok":
            assert s == 1 and j.score == fs.default_score(j.item_id, 1, 5), j
            assert j.error is None
        elif j.status == "invalid":
            assert s == 0 and u == ROUNDS, (j.item_id, s, u)
            assert j.error and f"invalid reply in {ROUNDS} of {ROUNDS} tries" in j.error
            assert j.raw_reply
        else:
            assert j.status == "failed", j
            assert s == 0
            assert j.error and "retries exhausted" in j.error


def journal_text(tmp_path: Path) -> bytes:
    """Every byte the journal wrote (database and WAL)."""
    return b"".join(p.read_bytes() for p in tmp_path.rglob("journal.sqlite*"))


# --------------------------------------------------------------------------- fault runs


def test_openai_fault_run_every_item_ends_and_nothing_is_judged_twice(
        server: fs.FakeServer, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    judge = OpenAIJudge("gpt-fake", base_url=server.openai_url, timeout_s=CLIENT_TIMEOUT_S)
    tasks = make_tasks(200, extra=(ALWAYS_GARBAGE, ALWAYS_OFF_SCALE))
    journal = Journal(tmp_path)
    with caplog.at_level(logging.INFO):
        result = run_judge_sync(judge, tasks, make_spec(), journal, make_settings(),
                                secrets=[KEY])
    stats = server.snapshot()

    # The faults really happened.
    kinds = stats["kinds"]
    assert kinds["429"] > 20 and kinds["500"] > 3 and kinds["hang"] >= 1
    assert kinds["garbage"] >= 3
    assert result.stopped is None and result.n_skipped == 0
    assert len(result.judgments) == 202
    assert result.n_ok + result.n_invalid + result.n_failed == 202
    assert result.n_ok == 200 and result.n_failed == 0
    by_item = {j.item_id: j for j in result.judgments}
    assert by_item[ALWAYS_GARBAGE].status == "invalid"
    assert "no JSON object" in by_item[ALWAYS_GARBAGE].error
    assert by_item[ALWAYS_OFF_SCALE].status == "invalid"
    assert "off the scale" in by_item[ALWAYS_OFF_SCALE].error
    check_no_double_judging(result, stats)
    # attempts that timed out in the server's backlog are counted by the client only
    assert stats["total"] <= result.n_requests
    assert journal.count() == 202

    # A second run is answered from the journal: no request at all.
    again = run_judge_sync(judge, tasks, make_spec(), journal, make_settings(), secrets=[KEY])
    assert again.n_requests == 0 and server.snapshot()["total"] == stats["total"]
    assert again.n_cached == 202
    assert [(j.item_id, j.status, j.score) for j in again.judgments] == [
        (j.item_id, j.status, j.score) for j in result.judgments]

    # The key was sent on every request and never stored or logged.
    assert all(h["authorization"] == f"Bearer {KEY}" for h in server.stats.headers)
    journal.close()
    assert KEY.encode() not in journal_text(tmp_path)
    assert KEY not in caplog.text


def test_permanent_failure_is_failed_with_its_reason_and_retried_next_run(
        server: fs.FakeServer, tmp_path: Path) -> None:
    judge = OpenAIJudge("gpt-fake", base_url=server.openai_url, timeout_s=CLIENT_TIMEOUT_S)
    tasks = make_tasks(20, extra=(ALWAYS_500,))
    journal = Journal(tmp_path)
    result = run_judge_sync(judge, tasks, make_spec(), journal, make_settings())
    failed = [j for j in result.judgments if j.status == "failed"]
    assert [j.item_id for j in failed] == [ALWAYS_500]
    assert failed[0].attempts == MAX_ATTEMPTS
    assert "status 500" in failed[0].error and "retries exhausted" in failed[0].error
    assert server.stats.requests[ALWAYS_500] == MAX_ATTEMPTS
    check_no_double_judging(result, server.snapshot())
    (record,) = journal.records(item_id=ALWAYS_500)
    assert record.status == "failed" and "500" in (record.error or "")

    # Failures are journaled but not final: the next run calls for them, and only them.
    before = server.snapshot()
    again = run_judge_sync(judge, tasks, make_spec(), journal, make_settings())
    after = server.snapshot()
    assert again.n_requests == MAX_ATTEMPTS
    changed = {i for i, n in after["requests"].items() if n != before["requests"].get(i)}
    assert changed == {ALWAYS_500}


def test_anthropic_fault_run(server: fs.FakeServer, tmp_path: Path) -> None:
    judge = AnthropicJudge("claude-fake", base_url=server.url, timeout_s=CLIENT_TIMEOUT_S)
    tasks = make_tasks(50, extra=(ALWAYS_OFF_SCALE,))
    journal = Journal(tmp_path)
    result = run_judge_sync(judge, tasks, make_spec(), journal, make_settings(), secrets=[KEY])
    stats = server.snapshot()
    assert stats["paths"] == {"/v1/messages": stats["total"]}
    assert stats["kinds"]["429"] >= 5
    assert result.n_ok == 50 and result.n_invalid == 1 and result.n_skipped == 0
    check_no_double_judging(result, stats)
    again = run_judge_sync(judge, tasks, make_spec(), journal, make_settings())
    assert again.n_requests == 0 and server.snapshot()["total"] == stats["total"]
    journal.close()
    assert KEY.encode() not in journal_text(tmp_path)


# --------------------------------------------------------------------------- kill and resume

_CHILD = """\
import sys
from harness.journal import Journal
from harness.judges._base import Message
from harness.judges._openai import OpenAIJudge
from harness.judges._runner import JudgeTask, RequestSpec, RunSettings, run_judge_sync

MAX_ATTEMPTS, PARSE_RETRIES, CLIENT_TIMEOUT_S = {max_attempts}, {parse_retries}, {timeout}
{functions}
url, journal_dir, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
judge = OpenAIJudge("gpt-fake", base_url=url, timeout_s=CLIENT_TIMEOUT_S)
run_judge_sync(judge, make_tasks(n), make_spec(), Journal(journal_dir), make_settings(4))
print("FINISHED", flush=True)
"""


def child_script() -> str:
    """The child's program, with this module's task, spec and settings builders.

    Their source is copied in, so the child does not import this module (and pytest and
    the Anthropic SDK with it).
    """
    functions = "\n\n".join(inspect.getsource(f)
                             for f in (make_tasks, make_spec, make_settings))
    return _CHILD.format(max_attempts=MAX_ATTEMPTS, parse_retries=PARSE_RETRIES,
                         timeout=CLIENT_TIMEOUT_S, functions=functions)


def test_killed_run_resumes_with_only_the_missing_items(tmp_path: Path) -> None:
    n = 200
    # 50 ms per reply and 4 concurrent calls: about 2.5 s for the whole run, so the child
    # is still running when 40% of the items are journaled.
    with fs.FakeServer(latency=0.05, faults=fs.FaultPlan(seed=3, **FAULTS),
                       keep_bodies=False) as srv:
        script = tmp_path / "child.py"
        script.write_text(child_script())
        jdir = tmp_path / "state"
        env = {**os.environ, "OPENAI_API_KEY": KEY}
        child = subprocess.Popen([sys.executable, str(script), srv.openai_url, str(jdir),
                                  str(n)], env=env, cwd=PROJECT, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 40  # generous: a loaded machine imports slowly
            journaled = 0
            while time.monotonic() < deadline and child.poll() is None:
                if (jdir / "journal.sqlite").exists():
                    with Journal(jdir) as j:
                        journaled = j.count()
                    if journaled >= 0.4 * n:
                        break
                time.sleep(0.02)
            assert child.poll() is None, f"child ended early: {child.communicate()}"
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=5)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        assert child.returncode == -signal.SIGKILL
        time.sleep(0.2)  # let requests the child left in flight reach the server's counters

        journal = Journal(jdir)
        records = list(journal.records())
        assert 0.4 * n <= len(records) < n
        # ok/invalid records are final; a failed one (none expected here) is retried.
        done_before = {r.item_id for r in records if r.status in ("ok", "invalid")}
        before = srv.snapshot()
        assert set(before["requests"]) >= done_before

        result = run_judge_sync(OpenAIJudge("gpt-fake", base_url=srv.openai_url,
                                            timeout_s=CLIENT_TIMEOUT_S),
                                make_tasks(n), make_spec(), journal, make_settings())
        after = srv.snapshot()

    new = {i: after["requests"].get(i, 0) - before["requests"].get(i, 0)
           for i in after["requests"]}
    # Journaled items: not a single new request. The others: asked (again).
    assert all(new.get(i, 0) == 0 for i in done_before)
    missing = {f"item-{i:03d}" for i in range(n)} - done_before
    assert {i for i, d in new.items() if d > 0} == missing
    assert result.n_cached == len(done_before)
    # The client counts every attempt; an attempt that timed out before the server read it
    # (the server is busy with hanging requests) never reaches the server's counters. So the
    # server may see fewer requests than the client made, never more.
    assert sum(new.values()) <= result.n_requests
    # Every item ends judged or explicitly failed, and is journaled once.
    assert all(j.status in ("ok", "invalid", "failed") for j in result.judgments)
    assert all(j.error for j in result.judgments if j.status != "ok")
    assert journal.count() == n
    # Items in flight when the child died may have had their score delivered to a dead
    # process; every other item got at most one valid score in total.
    for item in done_before:
        assert after["scored"].get(item, 0) <= 1
    for item in missing:
        assert after["scored"].get(item, 0) <= 2
