"""The runner against a real SDK and a local server that fails: the circuit breaker, the
cost budget with reservations for calls in flight, and the key in replies.

Each test drives :func:`run_judge_sync` with an :class:`OpenAIJudge` (the real ``openai``
SDK) against :mod:`fakeserver` or a free port nobody listens on, and asserts what happened:
how many calls were made, each task's status, the ``stopped`` text, what was stored.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import fakeserver as fs
import pytest

from harness.journal import Journal
from harness.judges._base import Message
from harness.judges._openai import OpenAIJudge
from harness.judges._prices import Price, PriceTable
from harness.judges._runner import JudgeTask, RequestSpec, RunSettings, run_judge_sync

#: Not shaped like a key (no ``sk-`` prefix, no ``Bearer``), so only the explicit secret
#: list can find it: the test proves the runner redacts what it is given.
KEY = "judgecal-ECHO-key-0123456789abcdef"
SPEC = RequestSpec(mode="structured", scale_min=1, scale_max=5)
FREE = PriceTable()  # no price: cost unknown, no cost budget


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal(tmp_path / "journal.sqlite")
    yield j
    j.close()


def tasks(n: int, prefix: str = "item") -> list[JudgeTask]:
    return [JudgeTask(item_id=f"{prefix}-{i:03d}", sample_index=0,
                      messages=(Message("system", "You are a judge. Reply in JSON."),
                                Message("user", f"ITEM: {prefix}-{i:03d}\nRate this.")))
            for i in range(n)]


def settings(**kw: Any) -> RunSettings:
    base = dict(concurrency=8, max_attempts=6, parse_retries=0, call_deadline_s=10.0,
                retry_after_cap_s=0.01, backoff_initial_s=0.01, backoff_max_s=0.02,
                circuit_breaker=5, show_progress=False)
    return RunSettings(**{**base, **kw})


def judge_at(url: str, timeout_s: float = 5.0) -> OpenAIJudge:
    # The structured mode is fixed, not negotiated: one runner attempt is one request.
    return OpenAIJudge("gpt-fake", base_url=url, timeout_s=timeout_s, structured="json_schema")


# --------------------------------------------------------------------------- breaker


def test_refused_connections_trip_the_breaker_after_a_few_calls(journal: Journal) -> None:
    judge = judge_at(f"http://127.0.0.1:{fs.free_port()}/v1")  # nobody listens
    s = settings()
    res = run_judge_sync(judge, tasks(40), SPEC, journal, s, prices=FREE, secrets=[KEY])

    # Not 40 x 6 attempts: the first wave of 8 calls fails together (one event), the
    # first retry that fails too trips the breaker, and no call starts after that.
    assert s.circuit_breaker < res.n_requests <= max(s.circuit_breaker, s.concurrency) \
        + s.concurrency
    assert res.n_ok == res.n_invalid == 0
    assert res.n_failed + res.n_skipped == 40 and res.n_skipped >= 40 - s.concurrency
    assert res.stopped is not None
    assert re.match(r"circuit breaker: (\d+) consecutive failed calls with no reply \(last: "
                    r"connection to provider openai failed", res.stopped), res.stopped
    assert f"{res.n_skipped} tasks skipped" in res.stopped
    # skipped tasks are not journaled (a re-run tries them); failed ones are
    assert journal.count() == res.n_failed
    skipped = [j for j in res.judgments if j.status == "skipped"]
    assert all("circuit breaker" in (j.error or "") for j in skipped)


def test_a_server_that_never_answers_trips_the_breaker(journal: Journal) -> None:
    with fs.FakeServer(lambda api, body, n: fs.hang(10.0), keep_bodies=False) as srv:
        s = settings(concurrency=4, circuit_breaker=3, call_deadline_s=0.2)
        res = run_judge_sync(judge_at(srv.openai_url), tasks(12), SPEC, journal, s,
                             prices=FREE)
    assert res.n_requests <= max(s.circuit_breaker, s.concurrency) + s.concurrency
    assert res.n_ok == 0 and res.n_failed + res.n_skipped == 12
    assert res.stopped is not None
    assert re.match(r"circuit breaker: \d+ consecutive failed calls with no reply \(last: no "
                    r"reply within call_deadline_s=0\.2 s\)", res.stopped), res.stopped


def test_a_429_storm_that_recovers_does_not_trip_the_breaker(journal: Journal) -> None:
    def storm(api: str, body: dict[str, Any], n: int) -> fs.Response | None:
        return fs.rate_limited("0") if n <= 3 else None  # three 429s per item, then a score

    with fs.FakeServer(storm, keep_bodies=False) as srv:
        s = settings(circuit_breaker=3)
        res = run_judge_sync(judge_at(srv.openai_url), tasks(30), SPEC, journal, s,
                             prices=FREE)
        stats = srv.snapshot()
    assert stats["kinds"]["429"] == 90
    assert res.stopped is None and res.n_ok == 30 and res.n_requests == 120


def test_intermittent_500s_between_replies_do_not_trip_the_breaker(journal: Journal) -> None:
    def every_other(api: str, body: dict[str, Any], n: int) -> fs.Response | None:
        return fs.server_error(500) if n == 1 else None  # each item: a 500, then a score

    with fs.FakeServer(every_other, keep_bodies=False) as srv:
        s = settings(concurrency=1, circuit_breaker=2)
        res = run_judge_sync(judge_at(srv.openai_url), tasks(20), SPEC, journal, s,
                             prices=FREE)
    assert res.stopped is None and res.n_ok == 20 and res.n_requests == 40


def test_a_blip_that_fails_every_call_in_flight_at_once_does_not_trip_it(
        journal: Journal) -> None:
    """The first 8 requests (one wave of concurrent calls) get a 503, then all is well: the
    streak never persisted across a retry, so the retries decide and succeed.

    The server holds the first 8 requests until all 8 have arrived (a barrier), so they are
    one wave however slowly a busy machine starts the workers."""
    lock, seen = threading.Lock(), [0]
    wave = threading.Barrier(8)

    def blip(api: str, body: dict[str, Any], n: int) -> fs.Response | None:
        with lock:
            seen[0] += 1
            first_wave = seen[0] <= 8
        if first_wave:
            wave.wait(timeout=60)
            return fs.server_error(503)
        return None

    with fs.FakeServer(blip, keep_bodies=False) as srv:
        s = settings(concurrency=8, circuit_breaker=3)
        res = run_judge_sync(judge_at(srv.openai_url), tasks(40), SPEC, journal, s,
                             prices=FREE)
    assert res.stopped is None and res.n_ok == 40 and res.n_requests == 48


def test_one_item_the_server_always_fails_does_not_trip_the_breaker(journal: Journal) -> None:
    """A poison item (a 500 on every attempt) is one failed judgment, not an outage: the
    streak must span two tasks."""
    def poison(api: str, body: dict[str, Any], n: int) -> fs.Response | None:
        return fs.server_error(500) if fs.item_of(body) == "item-003" else None

    with fs.FakeServer(poison, keep_bodies=False) as srv:
        s = settings(concurrency=1, circuit_breaker=3, max_attempts=6)
        res = run_judge_sync(judge_at(srv.openai_url), tasks(10), SPEC, journal, s,
                             prices=FREE)
    assert res.stopped is None and res.n_ok == 9 and res.n_failed == 1
    assert res.n_requests == 9 + 6


def test_breaker_off(journal: Journal) -> None:
    judge = judge_at(f"http://127.0.0.1:{fs.free_port()}/v1")
    s = settings(circuit_breaker=0, max_attempts=2)
    res = run_judge_sync(judge, tasks(6), SPEC, journal, s, prices=FREE)
    assert res.stopped is None and res.n_failed == 6 and res.n_requests == 12


# --------------------------------------------------------------------------- cost budget


def test_max_cost_reserves_the_calls_in_flight(journal: Journal) -> None:
    # The fake server reports 20 completion tokens; with max_tokens=20 and only output
    # tokens priced, a call's reservation equals its actual cost: 0.02 USD. The cap allows
    # 10 calls whatever the order in which the 8 concurrent calls end.
    prices = PriceTable({("openai", "gpt-fake"): Price(0.0, 1000.0)})
    spec = replace(SPEC, max_tokens=20)
    with fs.FakeServer(keep_bodies=False) as srv:
        s = settings(concurrency=8, max_cost=0.21)
        res = run_judge_sync(judge_at(srv.openai_url), tasks(40), spec, journal, s,
                             prices=prices)
        served = srv.snapshot()["total"]
    assert res.cost is not None and res.cost <= 0.21
    assert res.n_requests == served == 10
    assert res.n_ok == 10 and res.n_skipped == 30
    assert res.cost == pytest.approx(0.2)
    assert res.stopped is not None
    assert res.stopped.startswith("budget: max_cost=0.21 USD reached: spent 0.2000 USD of "
                                  "the 0.21 USD cap")
    assert res.stopped.endswith("; 30 tasks skipped")
    assert journal.count() == 10


def test_max_cost_estimate_above_the_actual_cost(journal: Journal) -> None:
    # max_tokens=512 reserves 512 output tokens; the server uses 20. The run goes on while
    # the remaining budget covers one more estimate and never spends past the cap.
    prices = PriceTable({("openai", "gpt-fake"): Price(10.0, 100.0)})
    with fs.FakeServer(keep_bodies=False) as srv:
        s = settings(concurrency=8, max_cost=0.1)
        res = run_judge_sync(judge_at(srv.openai_url), tasks(60), SPEC, journal, s,
                             prices=prices)
    assert res.cost is not None and res.cost <= 0.1
    per_call = res.cost / res.n_requests
    estimate = prices.cost("openai", "gpt-fake", _Tok(0, 512))
    # stopped only when even one more reservation would not fit
    assert res.cost + estimate > 0.1 - per_call
    assert res.n_ok + res.n_skipped == 60 and res.n_ok == res.n_requests


class _Tok:
    def __init__(self, i: int, o: int) -> None:
        self.input_tokens, self.output_tokens = i, o


# --------------------------------------------------------------------------- the key in replies


def _echo(api: str, body: dict[str, Any], n: int) -> fs.Response | None:
    """A proxy that echoes the key: in the reasoning, or as an unparseable reply."""
    item = fs.item_of(body)
    if item.endswith("0"):
        content = f"Sure! I was given {KEY}; no score today."
    else:
        content = json.dumps({"reasoning": f"Authorised with {KEY}.", "score": 3})
    reply = {"id": "x", "object": "chat.completion", "created": 0, "model": "gpt-fake",
             "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                          "message": {"role": "assistant", "content": content}}],
             "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}
    return fs.Response("raw", body=json.dumps(reply), label="echo")


def test_a_reply_echoing_the_key_is_stored_redacted(
        journal: Journal, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with fs.FakeServer(_echo, keep_bodies=False) as srv:
        res = run_judge_sync(judge_at(srv.openai_url), tasks(12), SPEC, journal,
                             settings(parse_retries=1), prices=FREE, secrets=[KEY])
    assert res.n_ok == 10 and res.n_invalid == 2  # parsed from the original reply
    ok = next(j for j in res.judgments if j.status == "ok")
    assert ok.score == 3.0 and ok.reasoning == "Authorised with [REDACTED]."
    bad = next(j for j in res.judgments if j.status == "invalid")
    assert bad.raw_reply == "Sure! I was given [REDACTED]; no score today."
    assert KEY not in repr(res.to_rows())
    assert KEY not in caplog.text
    journal.close()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("journal.sqlite*"))
    assert stored and KEY.encode() not in stored


def test_a_key_in_an_old_journal_is_redacted_when_read_back(journal: Journal) -> None:
    with fs.FakeServer(keep_bodies=False) as srv:
        first = run_judge_sync(judge_at(srv.openai_url), tasks(2), SPEC, journal,
                               settings(), prices=FREE, secrets=[KEY])
        # a journal written before replies were redacted
        for j in first.judgments:
            rec = journal.get(j.key)
            journal.put(replace(rec, raw_reply=f"raw {KEY}", reasoning=f"why {KEY}",
                                error=f"err {KEY}"))
        again = run_judge_sync(judge_at(srv.openai_url), tasks(2), SPEC, journal,
                               settings(), prices=FREE, secrets=[KEY])
    assert again.n_cached == 2 and again.n_requests == 0
    assert KEY not in repr(again.to_rows())
    assert again.judgments[0].reasoning == "why [REDACTED]"


def test_the_same_500_to_everything_trips_the_breaker(journal: Journal) -> None:
    with fs.FakeServer(lambda api, body, n: fs.server_error(500), keep_bodies=False) as srv:
        s = settings(concurrency=4, circuit_breaker=5)
        res = run_judge_sync(judge_at(srv.openai_url), tasks(30), SPEC, journal, s,
                             prices=FREE)
        served = srv.snapshot()["total"]
    assert served == res.n_requests <= max(s.circuit_breaker, s.concurrency) + s.concurrency
    assert res.n_ok == 0 and res.n_failed + res.n_skipped == 30 and res.n_skipped >= 26
    assert res.stopped is not None and "(last: provider openai server error (HTTP 500): " \
        "fake server says 500)" in res.stopped
    # tasks whose retries ran out before the trip are failed, all for the one cause
    assert res.failure_causes() == ([("RetryableError (status 500): provider openai server "
                                      "error (HTTP 500): fake server says 500", res.n_failed)]
                                    if res.n_failed else [])
