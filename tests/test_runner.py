"""The judge runner (harness.judges._runner) against a scripted in-process judge."""

from __future__ import annotations

import asyncio
import io
import logging
import math
import sqlite3
import threading
from dataclasses import replace

import pytest
from rich.console import Console
from tenacity import RetryCallState

from harness.journal import Journal
from harness.judges._base import (
    FatalError,
    JudgeReply,
    Message,
    ProviderError,
    RetryableError,
    UnsupportedError,
    Usage,
)
from harness.judges._prices import Price, PriceTable
from harness.judges._runner import (
    JudgeTask,
    RequestSpec,
    RetryAfterWait,
    RunAborted,
    RunSettings,
    run_judge,
    run_judge_sync,
)
from tests.fakejudge import FakeJudge, item_of, make_task, raw, structured

SPEC = RequestSpec(mode="structured", scale_min=1, scale_max=5)
FAST = {"show_progress": False, "backoff_initial_s": 0.001, "backoff_max_s": 0.005}
NO_PRICES = PriceTable()


def settings(**kw) -> RunSettings:
    return RunSettings(**{**FAST, **kw})


def run(judge, tasks, journal, spec=SPEC, prices=NO_PRICES, secrets=(), **kw):
    return run_judge_sync(judge, tasks, spec, journal, settings(**kw), prices=prices,
                          secrets=secrets)


def tasks_for(*items: str, samples: int = 1) -> list[JudgeTask]:
    return [make_task(i, s) for i in items for s in range(samples)]


@pytest.fixture
def journal(tmp_path):
    j = Journal(tmp_path / "journal.sqlite")
    yield j
    j.close()


def by_item(result):
    return {j.item_id: j for j in result.judgments}


# --------------------------------------------------------------------------- outcomes


def test_every_task_ends_with_a_status_and_none_is_judged_twice(journal):
    script = {
        "good": [structured(4)],
        "flaky": [RetryableError("503 overloaded", status=503), structured(2)],
        "garbled": [raw("I'd say a solid four.")],
        "down": [RetryableError("502 bad gateway", status=502)],
        "refused": [ProviderError("content filtered", status=400)],
    }
    judge = FakeJudge(script)
    res = run(judge, tasks_for(*script), journal, max_attempts=3, parse_retries=2)

    got = by_item(res)
    assert {i: j.status for i, j in got.items()} == {
        "good": "ok", "flaky": "ok", "garbled": "invalid", "down": "failed",
        "refused": "failed",
    }
    assert got["good"].score == 4.0 and got["flaky"].score == 2.0
    assert got["garbled"].score is None and got["down"].score is None
    for j in res.judgments:
        assert (j.error is None) == (j.status == "ok")
    assert "no JSON object found" in got["garbled"].error
    assert got["garbled"].raw_reply == "I'd say a solid four."
    assert "502 bad gateway" in got["down"].error and "3 attempts" in got["down"].error
    assert "not retryable" in got["refused"].error
    # each call accounted for: 1 + 2 (one retry) + 3 (two re-asks) + 3 (attempts) + 1
    assert dict(judge.calls) == {"good": 1, "flaky": 2, "garbled": 3, "down": 3, "refused": 1}
    assert res.n_requests == judge.total_calls == 10
    assert (res.n_ok, res.n_invalid, res.n_failed, res.n_skipped) == (2, 1, 2, 0)
    assert got["flaky"].attempts == 2 and got["garbled"].attempts == 3
    assert got["garbled"].input_tokens == 300  # summed over the re-asks
    assert res.input_tokens == 100 + 100 + 300
    # every finished task is in the journal, with the same outcome
    recs = journal.get_many(j.key for j in res.judgments)
    assert {r.item_id: r.status for r in recs.values()} == {
        i: j.status for i, j in got.items()
    }
    assert recs[got["garbled"].key].raw_reply == "I'd say a solid four."


def test_second_run_is_answered_from_the_journal(journal):
    tasks = tasks_for("a", "b", "c", samples=2)
    script = {"c": [raw("nope")]}
    first = run(FakeJudge(script), tasks, journal, parse_retries=0)
    assert first.n_cached == 0 and first.n_requests == 6

    again = FakeJudge(script)
    second = run(again, tasks, journal, parse_retries=0)
    assert again.total_calls == 0 and second.n_requests == 0
    assert second.n_cached == 6 and all(j.cached for j in second.judgments)
    assert [(j.key, j.status, j.score, j.raw_reply) for j in second.judgments] == [
        (j.key, j.status, j.score, j.raw_reply) for j in first.judgments
    ]
    assert second.cost == 0.0  # nothing was spent in this run


def test_refresh_calls_again(journal):
    tasks = tasks_for("a", "b")
    run(FakeJudge(), tasks, journal)
    judge = FakeJudge(default=structured(5))
    res = run(judge, tasks, journal, refresh=True)
    assert judge.total_calls == 2 and res.n_cached == 0
    assert [j.score for j in res.judgments] == [5.0, 5.0]
    assert {r.score for r in journal.records()} == {5.0}


def test_a_journaled_failure_is_retried_next_run(journal):
    tasks = tasks_for("a")
    first = run(FakeJudge({"a": [RetryableError("timeout")]}), tasks, journal, max_attempts=2)
    assert first.judgments[0].status == "failed"
    judge = FakeJudge()
    second = run(judge, tasks, journal)
    assert judge.total_calls == 1 and second.judgments[0].status == "ok"
    assert journal.get(first.judgments[0].key).status == "ok"


def test_changing_the_spec_or_model_makes_new_calls(journal):
    tasks = tasks_for("a")
    run(FakeJudge(), tasks, journal)
    judge = FakeJudge()
    run(judge, tasks, journal, spec=replace(SPEC, temperature=0.7))
    other = FakeJudge(model="fake-2")
    run(other, tasks, journal)
    assert judge.total_calls == 1 and other.total_calls == 1
    assert journal.count() == 3


# --------------------------------------------------------------------------- retries


def test_retryable_errors_are_retried_then_succeed(journal):
    script = {"a": [RetryableError("429", status=429, retry_after=0.001),
                    RetryableError("500", status=500), structured(5)]}
    judge = FakeJudge(script)
    res = run(judge, tasks_for("a"), journal, max_attempts=4)
    j = res.judgments[0]
    assert j.status == "ok" and j.score == 5.0 and j.attempts == 3
    assert judge.calls["a"] == 3 and res.n_requests == 3
    assert j.latency_s is not None and j.latency_s >= 0
    assert journal.get(j.key).attempts == 3


def _state_after(exc: BaseException, attempt: int) -> RetryCallState:
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = attempt
    state.set_exception((type(exc), exc, None))
    return state


def test_retry_after_is_honoured_and_capped():
    wait = RetryAfterWait(initial_s=1.0, max_s=30.0, retry_after_cap_s=5.0)
    assert wait(_state_after(RetryableError("429", retry_after=2.5), 1)) == 2.5
    assert wait(_state_after(RetryableError("429", retry_after=0.0), 1)) == 0.0
    assert wait(_state_after(RetryableError("429", retry_after=3600), 1)) == 5.0
    # without Retry-After: full jitter in [0, initial * 2**(n-1)], capped at max_s
    for attempt, bound in [(1, 1.0), (2, 2.0), (4, 8.0), (10, 30.0)]:
        for _ in range(50):
            w = wait(_state_after(RetryableError("503"), attempt))
            assert 0.0 <= w <= bound
    # a nonsensical Retry-After falls back to the backoff
    w = wait(_state_after(RetryableError("429", retry_after=float("nan")), 1))
    assert 0.0 <= w <= 1.0


def test_retry_after_used_by_the_runner(journal, monkeypatch):
    waits: list[float] = []
    original = RetryAfterWait.__call__

    def spy(self, state):
        w = original(self, state)
        waits.append(w)
        return w

    monkeypatch.setattr(RetryAfterWait, "__call__", spy)
    script = {"a": [RetryableError("429", retry_after=0.002),
                    RetryableError("429", retry_after=99.0), structured(3)]}
    res = run(FakeJudge(script), tasks_for("a"), journal, retry_after_cap_s=0.004)
    assert res.judgments[0].status == "ok"
    assert waits == [0.002, 0.004]


def test_deadline_turns_a_hung_call_into_a_retry_and_then_a_failure(journal):
    judge = FakeJudge(latency_s=lambda item: 30.0 if item == "slow" else 0.0)
    res = run(judge, tasks_for("slow", "fast"), journal, call_deadline_s=0.05, max_attempts=2)
    got = by_item(res)
    assert got["fast"].status == "ok"
    assert got["slow"].status == "failed" and got["slow"].attempts == 2
    assert "call_deadline_s=0.05" in got["slow"].error
    assert judge.calls["slow"] == 2
    assert journal.get(got["slow"].key).status == "failed"


# --------------------------------------------------------------------------- aborts


def test_fatal_error_aborts_and_keeps_finished_results(journal):
    script = {"c": [FatalError("401 invalid api key", status=401)]}
    judge = FakeJudge(script)
    tasks = tasks_for("a", "b", "c", "d", "e")
    with pytest.raises(RunAborted, match="401") as info:
        run(judge, tasks, journal, concurrency=1)
    assert "FatalError" in str(info.value) and "'c'" in str(info.value)
    assert info.value.status == 401
    assert dict(judge.calls) == {"a": 1, "b": 1, "c": 1}  # no retry, nothing after
    assert {r.item_id for r in journal.records()} == {"a", "b"}
    partial = info.value.partial
    assert [j.status for j in partial.judgments] == ["ok", "ok", "skipped", "skipped",
                                                     "skipped"]
    # a re-run after fixing the key calls only for the rest
    judge2 = FakeJudge()
    res = run(judge2, tasks, journal)
    assert dict(judge2.calls) == {"c": 1, "d": 1, "e": 1}
    assert res.n_ok == 5


def test_fatal_error_cancels_calls_in_flight(journal):
    judge = FakeJudge({"bad": [FatalError("400 bad request: unknown model", status=400)]},
                      latency_s=lambda item: 0.0 if item == "bad" else 30.0)
    tasks = tasks_for("slow1", "slow2", "bad", "later")
    with pytest.raises(RunAborted, match="unknown model"):
        run(judge, tasks, journal, concurrency=3)
    assert journal.count() == 0
    assert "later" not in judge.calls


def test_unsupported_aborts(journal):
    logprob = replace(SPEC, mode="logprob")
    judge = FakeJudge(supports_logprobs=False)
    with pytest.raises(RunAborted, match="does not support logprob"):
        run(judge, tasks_for("a"), journal, spec=logprob)
    assert judge.total_calls == 0

    judge = FakeJudge({"a": [UnsupportedError("no logprobs for this model")]})
    with pytest.raises(RunAborted, match="UnsupportedError"):
        run(judge, tasks_for("a", "b"), journal, spec=logprob, concurrency=1)
    assert judge.total_calls == 1


def test_unexpected_exception_propagates(journal):
    judge = FakeJudge({"a": [KeyError("provider bug")]})
    with pytest.raises(KeyError):
        run(judge, tasks_for("a"), journal)
    assert journal.count() == 0


# --------------------------------------------------------------------------- parsing


def test_invalid_reply_reasked_then_recorded_invalid(journal):
    script = {
        "a": [raw('{"score": 9}'), raw('{"score": 3.5}'), raw('{"score": 7}')],
        "b": [raw("dunno"), raw('```json\n{"reasoning": "ok now", "score": 2}\n```')],
    }
    judge = FakeJudge(script)
    res = run(judge, tasks_for("a", "b"), journal, parse_retries=2)
    got = by_item(res)
    assert judge.calls["a"] == 3 and judge.calls["b"] == 2
    assert got["a"].status == "invalid" and got["a"].raw_reply == '{"score": 7}'
    assert "off the scale" in got["a"].error and "3 of 3" in got["a"].error
    assert got["b"].status == "ok" and got["b"].score == 2.0
    assert got["b"].reasoning == "ok now"
    rec = journal.get(got["a"].key)
    assert rec.status == "invalid" and rec.raw_reply == '{"score": 7}' and rec.score is None
    # an invalid result is a result: not re-asked on the next run
    judge2 = FakeJudge()
    again = run(judge2, tasks_for("a", "b"), journal)
    assert judge2.total_calls == 0 and by_item(again)["a"].status == "invalid"


def test_parse_retries_zero_means_one_call(journal):
    judge = FakeJudge({"a": [raw("x")]})
    res = run(judge, tasks_for("a"), journal, parse_retries=0)
    assert judge.calls["a"] == 1 and res.judgments[0].status == "invalid"


def test_logprob_mode(journal):
    reply = JudgeReply(raw="4", score_logprobs={"3": math.log(0.25), "4": math.log(0.75)},
                       usage=Usage(50, 1))
    res = run(FakeJudge(default=reply), tasks_for("a"), journal,
              spec=replace(SPEC, mode="logprob"))
    j = res.judgments[0]
    assert j.status == "ok" and j.score == pytest.approx(3.75)
    assert "probability mass covered 1.000" in j.reasoning


# --------------------------------------------------------------------------- budgets


def test_max_calls_stops_cleanly_and_a_rerun_fills_the_rest(journal):
    tasks = tasks_for(*[f"i{n}" for n in range(10)])
    judge = FakeJudge()
    res = run(judge, tasks, journal, concurrency=2, max_calls=4)
    assert res.stopped == "budget: max_calls=4 reached; 6 tasks skipped"
    assert res.n_requests == 4 == judge.total_calls
    assert res.n_ok == 4 and res.n_skipped == 6
    assert all(j.error.startswith("not run: budget") for j in res.judgments
               if j.status == "skipped")
    assert journal.count() == 4

    judge2 = FakeJudge()
    res2 = run(judge2, tasks, journal, max_calls=100)
    assert res2.stopped is None and judge2.total_calls == 6
    assert set(judge2.calls).isdisjoint(judge.calls)
    assert res2.n_ok == 10 and res2.n_cached == 4


def test_budget_spent_during_retries_skips_the_task(journal):
    judge = FakeJudge({"a": [RetryableError("503"), structured(3)]})
    res = run(judge, tasks_for("a", "b"), journal, concurrency=1, max_calls=1)
    j = res.judgments[0]
    assert j.status == "skipped" and j.attempts == 1 and "unfinished" in j.error
    assert journal.count() == 0
    assert res.stopped == "budget: max_calls=1 reached; 2 tasks skipped"


def test_max_cost_with_a_price(journal):
    prices = PriceTable({("fake", "fake-1"): Price(1000.0, 0.0)})  # 100 tokens = 0.1 USD
    judge = FakeJudge()
    res = run(judge, tasks_for(*"abcdef"), journal, prices=prices, concurrency=1,
              max_cost=0.25)
    # The fake judge reports 100 input tokens for a 60-character prompt, more than the
    # reservation's estimate (2 characters a token): the third call fit its estimate and
    # cost more, and the stop message says so.
    assert judge.total_calls == 3 and res.n_ok == 3 and res.n_skipped == 3
    assert res.cost == pytest.approx(0.3)
    assert res.stopped.startswith("budget: max_cost=0.25 USD reached: spent 0.3000 USD of "
                                  "the 0.25 USD cap")
    assert "spent over the cap" in res.stopped and res.stopped.endswith("; 3 tasks skipped")
    assert res.judgments[0].cost == pytest.approx(0.1)
    assert journal.get(res.judgments[0].key).cost == pytest.approx(0.1)


def test_max_cost_without_a_price_fails_fast(journal):
    judge = FakeJudge()
    with pytest.raises(ValueError, match="cannot be enforced"):
        run(judge, tasks_for("a"), journal, max_cost=1.0)
    assert judge.total_calls == 0


def test_unknown_price_is_unknown_cost_and_local_is_free(journal):
    res = run(FakeJudge(), tasks_for("a"), journal)
    assert res.cost is None and res.judgments[0].cost is None
    local = run(FakeJudge(provider="local"), tasks_for("a"), journal, max_cost=0.0001)
    assert local.cost == 0.0 and local.judgments[0].cost == 0.0 and local.stopped is None


# --------------------------------------------------------------------------- concurrency


def test_concurrency_limit_is_respected(journal):
    judge = FakeJudge(latency_s=0.01)
    run(judge, tasks_for(*[f"i{n}" for n in range(12)]), journal, concurrency=3)
    assert judge.max_in_flight == 3

    judge = FakeJudge(latency_s=0.01, max_concurrency=2)
    run(judge, tasks_for(*[f"j{n}" for n in range(8)]), journal, concurrency=8)
    assert judge.max_in_flight == 2


def test_duplicate_tasks_are_called_once(journal):
    msgs = (Message("user", "Grade this. item: same"),)
    tasks = [JudgeTask("x", 0, msgs), JudgeTask("y", 0, msgs)]
    judge = FakeJudge()
    res = run(judge, tasks, journal)
    assert judge.total_calls == 1
    assert [(j.item_id, j.status, j.cached) for j in res.judgments] == [
        ("x", "ok", False), ("y", "ok", True)]


def test_samples_seed_rows_and_item_scores(journal):
    def script(request, n, item):
        return structured({"a": [2, 3, 4], "b": [5, 5, 5]}[item][request.seed - 7])

    judge = FakeJudge(script)
    res = run(judge, tasks_for("a", "b", samples=3), journal, spec=replace(SPEC, seed=7))
    assert sorted(r.seed for r in judge.requests) == [7, 7, 8, 8, 9, 9]
    assert res.item_scores() == {"a": 3.0, "b": 5.0}
    assert res.item_scores("mode") == {"a": 2.0, "b": 5.0}
    assert res.samples() == {"a": [2.0, 3.0, 4.0], "b": [5.0, 5.0, 5.0]}
    rows = res.to_rows()
    assert len(rows) == 6 and rows[0]["item_id"] == "a" and rows[0]["status"] == "ok"
    assert set(rows[0]) >= {"key", "score", "error", "cached", "cost", "latency_s"}


# --------------------------------------------------------------------------- secrets


def test_secrets_are_redacted_everywhere(journal, caplog):
    secret = "hunter2-very-secret-token"
    script = {
        "a": [RetryableError(f"401 from proxy: key={secret} and sk-abcdefghijkl1234")],
        "b": [FatalError(f"invalid x-api-key {secret}", status=401)],
    }
    caplog.set_level(logging.DEBUG, logger="harness.judges._runner")
    res = run(FakeJudge(script), tasks_for("a"), journal, secrets=[secret], max_attempts=2)
    err = res.judgments[0].error
    assert secret not in err and "sk-abcdefghijkl1234" not in err and "[REDACTED]" in err
    assert secret not in (journal.get(res.judgments[0].key).error or "")
    assert caplog.records and all(secret not in r.getMessage() for r in caplog.records)
    with pytest.raises(RunAborted) as info:
        run(FakeJudge(script), tasks_for("b"), journal, secrets=[secret])
    assert secret not in str(info.value) and "[REDACTED]" in str(info.value)


# --------------------------------------------------------------------------- resuming


def test_a_killed_run_resumes_with_only_the_missing_calls(tmp_path):
    path = tmp_path / "j.sqlite"
    tasks = tasks_for(*[f"i{n}" for n in range(8)])
    fast = {"i0", "i1", "i2"}
    judge = FakeJudge(latency_s=lambda item: 0.0 if item in fast else 30.0)

    async def kill_midway() -> None:
        journal = Journal(path)
        job = asyncio.create_task(run_judge(judge, tasks, SPEC, journal, settings(concurrency=8),
                                            prices=NO_PRICES))
        for _ in range(2000):
            if journal.count() == len(fast):
                break
            await asyncio.sleep(0.005)
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job
        journal.close()

    asyncio.run(kill_midway())
    with Journal(path) as journal:
        assert {r.item_id for r in journal.records()} == fast
        judge2 = FakeJudge()
        res = run(judge2, tasks, journal)
        assert set(judge2.calls) == {f"i{n}" for n in range(3, 8)}
        assert all(v == 1 for v in judge2.calls.values())
        assert res.n_ok == 8 and res.n_cached == 3


def test_two_journals_on_one_file_from_two_threads(tmp_path):
    path = tmp_path / "shared.sqlite"
    Journal(path).close()
    results = {}

    def worker(prefix: str) -> None:
        with Journal(path) as journal:
            tasks = tasks_for(*[f"{prefix}{n}" for n in range(40)])
            results[prefix] = run(FakeJudge(), tasks, journal, concurrency=4)

    threads = [threading.Thread(target=worker, args=(p,)) for p in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results["a"].n_ok == results["b"].n_ok == 40
    with Journal(path) as journal:
        assert journal.count() == 80
        assert {r.status for r in journal.records()} == {"ok"}
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


def test_item_of_helper():
    assert item_of(SPEC.request_for(make_task("q-17"))) == "q-17"


def test_progress_bar_reports_counts(journal):
    buf = io.StringIO()
    console = Console(file=buf, width=200, force_terminal=False)
    run(FakeJudge(), tasks_for("a", "b"), journal)
    run_judge_sync(FakeJudge({"c": [raw("?")]}), tasks_for("a", "b", "c"), SPEC, journal,
                   settings(show_progress=True, parse_retries=0), prices=NO_PRICES,
                   console=console)
    out = buf.getvalue()
    assert "3/3" in out and "cached 2" in out and "invalid 1" in out and "cost unknown" in out


@pytest.mark.parametrize("terminal", [False, True])
def test_progress_in_a_log_is_one_complete_line(journal, terminal):
    """In a pipe or a CI log (80 columns), the pass ends with one line that says every value
    in full (rich cropped its cells to 'jud… cached 21 | … cost $0.…'); a terminal gets the
    live bar."""
    buf = io.StringIO()
    console = Console(file=buf, width=80, force_terminal=terminal)
    names = [f"a-long-item-name-{i:03d}" for i in range(12)]
    run(FakeJudge(), tasks_for(*names[:9]), journal)
    run_judge_sync(FakeJudge(), tasks_for(*names), SPEC, journal,
                   settings(show_progress=True), prices=NO_PRICES, console=console)
    lines = [x for x in buf.getvalue().splitlines() if x.strip()]
    if terminal:
        assert "12/12" in buf.getvalue()
        return
    assert len(lines) == 1 and "…" not in lines[0]
    stats = lines[0].split(" · ", 1)[1]
    assert lines[0].startswith("judging: 12/12 · ")
    assert stats.startswith("cached 9 | ok 3 | invalid 0 | failed 0 | calls 3")
    assert stats.endswith("cost unknown")


# --------------------------------------------------------------------------- failure causes


def test_failure_causes_are_counted_without_per_item_details(journal):
    def filtered(request, n, item):
        raise ProviderError(f"content filtered for item {item} (request req_{item}0123456789)",
                            status=400)

    script = {
        "d1": [RetryableError("502 bad gateway", status=502)],
        "d2": [RetryableError("502 bad gateway", status=502)],
        "d3": [RetryableError("502 bad gateway", status=502)],
        "f1": [filtered], "f2": [filtered],
        "g1": [raw("nope")], "g2": [raw("I'd say 4")], "g3": [raw('{"score": 9}')],
        "ok": [structured(4)],
    }
    res = run(FakeJudge(script), tasks_for(*script), journal, max_attempts=2,
              parse_retries=1)
    assert res.failure_causes() == [
        ("RetryableError (status 502): 502 bad gateway", 3),
        ("ProviderError (status 400): content filtered for item <item> (request <id>)", 2),
        ("invalid: no JSON object found in the reply", 2),
        ("invalid: score 9 is off the scale 1-5", 1),
    ]
    # the judgments keep their own details
    assert "[retries exhausted; 2 attempts]" in by_item(res)["d1"].error
    # cached invalid judgments count too; skipped ones are not failures
    again = run(FakeJudge(script), tasks_for(*script, "new"), journal, max_attempts=2,
                parse_retries=1, max_calls=0)
    assert again.n_skipped == 6
    assert again.failure_causes() == [("invalid: no JSON object found in the reply", 2),
                                      ("invalid: score 9 is off the scale 1-5", 1)]
