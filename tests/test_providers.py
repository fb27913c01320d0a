"""OpenAIJudge and AnthropicJudge against a real local HTTP server speaking their formats.

The SDKs run for real (HTTP, headers, status codes, timeouts); only the server is fake
(:mod:`fakeserver`). Decision tested here: a ``200`` whose body is not a usable completion
(not JSON, missing fields, a mislabelled content type) is NOT a provider error; it comes back
as a :class:`JudgeReply` with the body text in ``raw`` and ``structured=None``, so the
runner's parser records it ``invalid`` (after its parse re-asks) with the reply quoted.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import math
import time
from collections.abc import Iterator
from typing import Any

import fakeserver as fs
import pytest

from harness.journal import Journal
from harness.judges._anthropic import TOOL_NAME, AnthropicJudge
from harness.judges._base import (
    FatalError,
    JudgeReply,
    JudgeRequest,
    Message,
    ProviderError,
    RetryableError,
    UnsupportedError,
)
from harness.judges._openai import OpenAIJudge, endpoint_id, parse_retry_after
from harness.judges._prices import PriceTable
from harness.judges._runner import JudgeTask, RequestSpec, RunResult, RunSettings, run_judge_sync

OPENAI_KEY = "sk-test-OPENAIsecret0123456789"
ANTHROPIC_KEY = "sk-ant-ANTHROPICsecret0123456789"
PROVIDERS = ["openai", "anthropic"]


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


@pytest.fixture
def server() -> Iterator[fs.FakeServer]:
    with fs.FakeServer() as srv:
        yield srv


def request(mode: str = "structured", item: str = "a1", lo: int = 1, hi: int = 5,
            **kw: Any) -> JudgeRequest:
    msgs = (Message("system", "You are a strict judge."),
            Message("user", f"ITEM: {item}\nRate this answer."))
    return JudgeRequest(messages=msgs, mode=mode, scale_min=lo, scale_max=hi, **kw)


def make(provider: str, srv: fs.FakeServer, **kw: Any) -> OpenAIJudge | AnthropicJudge:
    if provider == "openai":
        return OpenAIJudge("gpt-fake", base_url=srv.openai_url, **kw)
    return AnthropicJudge("claude-fake", base_url=srv.url, **kw)


def call(judge: OpenAIJudge | AnthropicJudge, req: JudgeRequest) -> JudgeReply:
    async def go() -> JudgeReply:
        try:
            return await judge.complete(req)
        finally:
            await judge.aclose()

    return asyncio.run(go())


def call_error(judge: OpenAIJudge | AnthropicJudge, req: JudgeRequest) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        call(judge, req)
    return info.value


def sent_key(headers: dict[str, str]) -> str | None:
    """The key a request carried (``Authorization: Bearer`` or ``x-api-key``)."""
    auth = headers.get("authorization", "")
    return auth.removeprefix("Bearer ") if auth else headers.get("x-api-key")


def key_of(provider: str) -> str:
    return OPENAI_KEY if provider == "openai" else ANTHROPIC_KEY


# --------------------------------------------------------------------------- happy paths


def test_openai_structured_sends_the_schema_and_parses_the_reply(server: fs.FakeServer) -> None:
    judge = OpenAIJudge("gpt-fake", base_url=server.openai_url)
    reply = call(judge, request(lo=1, hi=7, temperature=0.7, seed=11, max_tokens=300))
    assert reply.structured == {"reasoning": "Item a1: deterministic fake judgement.",
                                "score": fs.default_score("a1", 1, 7)}
    assert json.loads(reply.raw) == reply.structured
    assert reply.usage.input_tokens > 0 and reply.usage.output_tokens == 20
    assert reply.model == "gpt-fake"
    body = server.stats.bodies[0]
    assert server.stats.paths == {"/v1/chat/completions": 1}
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "judgement" and fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    assert schema["properties"]["score"] == {"type": "integer", "minimum": 1, "maximum": 7}
    assert schema["required"] == ["reasoning", "score"]
    assert schema["additionalProperties"] is False
    assert body["temperature"] == 0.7 and body["seed"] == 11 and body["max_tokens"] == 300
    assert body["messages"][0] == {"role": "system", "content": "You are a strict judge."}
    assert "logprobs" not in body
    assert sent_key(server.stats.headers[0]) == OPENAI_KEY


@pytest.mark.parametrize("structured", ["json_object", "none"])
def test_openai_weaker_structured_settings(server: fs.FakeServer, structured: str) -> None:
    judge = OpenAIJudge("m", base_url=server.openai_url, structured=structured,
                        max_tokens_param="max_completion_tokens")
    reply = call(judge, request())
    assert reply.structured is not None and reply.structured["score"] in range(1, 6)
    body = server.stats.bodies[0]
    if structured == "json_object":  # JSON mode carrying the schema (llama.cpp enforces it)
        fmt = body["response_format"]
        assert fmt["type"] == "json_object"
        assert fmt["schema"]["properties"]["score"] == {"type": "integer", "minimum": 1,
                                                        "maximum": 5}
    else:
        assert "response_format" not in body
    assert body["max_completion_tokens"] == 512 and "max_tokens" not in body
    assert "seed" not in body  # seed None is not sent


def test_openai_logprob_returns_first_token_top_logprobs(server: fs.FakeServer) -> None:
    judge = OpenAIJudge("m", base_url=server.openai_url)
    reply = call(judge, request("logprob", item="lp", top_logprobs=50))
    best = fs.default_score("lp", 1, 5)
    assert reply.raw == str(best)
    assert reply.score_logprobs is not None
    assert set(reply.score_logprobs) == {"1", "2", "3", "4", "5"}
    assert max(reply.score_logprobs, key=reply.score_logprobs.get) == str(best)
    body = server.stats.bodies[0]
    assert body["logprobs"] is True and body["top_logprobs"] == 20  # capped at the API max
    assert 1 <= body["max_tokens"] <= 3
    assert "response_format" not in body


def test_openai_logprob_without_logprobs_is_unsupported(server: fs.FakeServer) -> None:
    completion = {"id": "x", "object": "chat.completion", "model": "m",
                  "choices": [{"index": 0, "message": {"role": "assistant", "content": "4"},
                               "finish_reason": "stop", "logprobs": None}],
                  "usage": {"prompt_tokens": 3, "completion_tokens": 1}}
    server.handler = lambda api, body, n: fs.Response("raw", body=json.dumps(completion))
    err = call_error(OpenAIJudge("m", base_url=server.openai_url), request("logprob"))
    assert isinstance(err, UnsupportedError)
    assert "no logprobs" in str(err)


def test_anthropic_structured_sends_the_tool_and_parses_its_input(server: fs.FakeServer) -> None:
    judge = AnthropicJudge("claude-fake", base_url=server.url)
    reply = call(judge, request(item="b2", lo=0, hi=10, seed=3))
    assert reply.structured == {"reasoning": "Item b2: deterministic fake judgement.",
                                "score": fs.default_score("b2", 0, 10)}
    blocks = json.loads(reply.raw)
    assert [b["type"] for b in blocks] == ["text", "tool_use"]
    assert blocks[1]["input"] == reply.structured
    assert reply.usage.output_tokens == 20 and reply.usage.input_tokens > 0
    body = server.stats.bodies[0]
    assert server.stats.paths == {"/v1/messages": 1}
    assert body["system"] == "You are a strict judge."
    assert [m["role"] for m in body["messages"]] == ["user"]
    assert body["tool_choice"] == {"type": "tool", "name": TOOL_NAME}
    (tool,) = body["tools"]
    assert tool["name"] == TOOL_NAME
    assert tool["input_schema"]["properties"]["score"] == {"type": "integer", "minimum": 0,
                                                           "maximum": 10}
    assert tool["input_schema"]["required"] == ["reasoning", "score"]
    assert body["max_tokens"] == 512
    assert "seed" not in body and "temperature" not in body
    assert sent_key(server.stats.headers[0]) == ANTHROPIC_KEY


def test_anthropic_temperature_only_on_request(server: fs.FakeServer) -> None:
    call(AnthropicJudge("c", base_url=server.url, send_temperature=True),
         request(temperature=0.3))
    assert server.stats.bodies[0]["temperature"] == 0.3


def test_anthropic_logprob_is_unsupported_before_any_request(server: fs.FakeServer) -> None:
    err = call_error(AnthropicJudge("c", base_url=server.url), request("logprob"))
    assert isinstance(err, UnsupportedError)
    assert "no token logprobs" in str(err) and "'structured'" in str(err)
    assert server.stats.total == 0
    assert AnthropicJudge.supports_logprobs is False and OpenAIJudge.supports_logprobs is True


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("provider", PROVIDERS)
def test_429_retry_after_seconds(server: fs.FakeServer, provider: str) -> None:
    server.handler = lambda api, body, n: fs.rate_limited("7")
    err = call_error(make(provider, server), request())
    assert isinstance(err, RetryableError) and err.status == 429
    assert err.retry_after == 7.0
    assert server.stats.total == 1  # SDK retries are off


@pytest.mark.parametrize("provider", PROVIDERS)
def test_429_retry_after_http_date(server: fs.FakeServer, provider: str) -> None:
    when = email.utils.formatdate(time.time() + 5, usegmt=True)
    server.handler = lambda api, body, n: fs.rate_limited(when)
    err = call_error(make(provider, server), request())
    assert isinstance(err, RetryableError) and err.status == 429
    assert err.retry_after is not None and 3.0 < err.retry_after <= 5.5
    assert server.stats.total == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_429_retry_after_ms_and_absent(server: fs.FakeServer, provider: str) -> None:
    server.handler = lambda api, body, n: fs.rate_limited("30", retry_after_ms=250)
    err = call_error(make(provider, server), request())
    assert err.retry_after == 0.25  # retry-after-ms wins
    server.handler = lambda api, body, n: fs.rate_limited(None)
    err = call_error(make(provider, server), request())
    assert isinstance(err, RetryableError) and err.retry_after is None


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("status", [500, 502, 503, 529])
def test_5xx_is_retryable_and_sent_once(server: fs.FakeServer, provider: str,
                                        status: int) -> None:
    # An explicit structured mode: no negotiation (see the negotiation tests for "auto").
    server.handler = lambda api, body, n: fs.server_error(status)
    kw = {"structured": "json_schema"} if provider == "openai" else {}
    err = call_error(make(provider, server, **kw), request())
    assert isinstance(err, RetryableError) and err.status == status
    assert server.stats.total == 1  # exactly one request: the SDK does not retry


@pytest.mark.parametrize("provider", PROVIDERS)
def test_timeout_is_retryable(server: fs.FakeServer, provider: str) -> None:
    # The server would hang 30 s; the client's own timeout is what ends the call.
    server.handler = lambda api, body, n: fs.hang(30.0)
    err = call_error(make(provider, server, timeout_s=0.3), request())
    assert isinstance(err, RetryableError) and err.status is None
    assert str(err) == f"provider {provider} request timed out after 0.3 s"
    assert server.stats.total == 1 and server.stats.kinds == {"hang": 1}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_connection_refused_is_retryable(provider: str) -> None:
    url = f"http://127.0.0.1:{fs.free_port()}"  # nobody listens
    judge = (OpenAIJudge("m", base_url=f"{url}/v1") if provider == "openai"
             else AnthropicJudge("c", base_url=url))
    err = call_error(judge, request())
    assert isinstance(err, RetryableError)
    assert key_of(provider) not in str(err)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_401_is_fatal_and_names_the_variable_not_the_key(server: fs.FakeServer,
                                                         provider: str) -> None:
    server.handler = lambda api, body, n: fs.error(401)
    err = call_error(make(provider, server), request())
    assert isinstance(err, FatalError) and not isinstance(err, UnsupportedError)
    assert err.status == 401
    env = "OPENAI_API_KEY" if provider == "openai" else "ANTHROPIC_API_KEY"
    assert f"authentication failed for provider {provider}" in str(err)
    assert f"${env}" in str(err)
    assert key_of(provider) not in str(err) and key_of(provider) not in repr(err)
    assert err.__cause__ is None and err.__suppress_context__
    assert server.stats.total == 1


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("status", [400, 403, 404, 422])
def test_other_4xx_are_fatal(server: fs.FakeServer, provider: str, status: int) -> None:
    server.handler = lambda api, body, n: fs.error(status)
    kw = {"structured": "json_schema"} if provider == "openai" else {}
    err = call_error(make(provider, server, **kw), request())
    assert isinstance(err, FatalError) and err.status == status
    assert f"fake server says {status}" in str(err)
    assert server.stats.total == 1


def test_error_messages_are_redacted(server: fs.FakeServer) -> None:
    # A server that echoes the key back in its error message.
    echo = {"error": {"message": f"Incorrect API key provided: {OPENAI_KEY}"}}
    server.handler = lambda api, body, n: fs.Response("raw", status=401, body=json.dumps(echo))
    err = call_error(OpenAIJudge("m", base_url=server.openai_url), request())
    assert isinstance(err, FatalError)
    assert OPENAI_KEY not in str(err) and "[REDACTED]" in str(err)


# --------------------------------------------------------------------------- malformed 200s


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("reply", ["garbage", "missing_fields"])
def test_malformed_200_comes_back_raw(server: fs.FakeServer, provider: str, reply: str) -> None:
    response = getattr(fs, reply)()
    server.handler = lambda api, body, n: response
    out = call(make(provider, server), request())
    assert isinstance(out, JudgeReply)
    assert out.raw == response.body and out.structured is None
    assert out.score_logprobs is None


def test_malformed_200_in_logprob_mode_comes_back_raw(server: fs.FakeServer) -> None:
    # Not a completion at all: a garbage reply (the runner's parser marks it invalid), not a
    # server without logprob support.
    server.handler = lambda api, body, n: fs.garbage()
    out = call(OpenAIJudge("m", base_url=server.openai_url), request("logprob"))
    assert out.score_logprobs is None and out.raw.startswith("<html>")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_off_scale_and_mislabelled_replies_are_passed_through(server: fs.FakeServer,
                                                              provider: str) -> None:
    server.handler = lambda api, body, n: fs.off_scale(99)
    out = call(make(provider, server), request())
    assert out.structured is not None and out.structured["score"] == 99  # the runner rejects
    server.handler = lambda api, body, n: fs.wrong_content_type()
    out = call(make(provider, server), request())
    assert out.structured is not None and out.structured["score"] in range(1, 6)


def test_openai_content_that_is_not_json_is_raw_only(server: fs.FakeServer) -> None:
    completion = {"id": "x", "object": "chat.completion", "model": "m",
                  "choices": [{"index": 0, "message": {"role": "assistant",
                                                      "content": "I'd say 4 out of 5."},
                               "finish_reason": "stop"}]}
    server.handler = lambda api, body, n: fs.Response("raw", body=json.dumps(completion))
    out = call(OpenAIJudge("m", base_url=server.openai_url, structured="none"), request())
    assert out.raw == "I'd say 4 out of 5." and out.structured is None
    assert out.usage.input_tokens == 0  # no usage block: zeros, not an error


# --------------------------------------------------------------------------- keys


@pytest.mark.parametrize("provider", PROVIDERS)
def test_missing_env_var_is_fatal(monkeypatch: pytest.MonkeyPatch, provider: str) -> None:
    monkeypatch.delenv("JUDGECAL_TEST_KEY", raising=False)
    cls = OpenAIJudge if provider == "openai" else AnthropicJudge
    with pytest.raises(FatalError, match=r"\$JUDGECAL_TEST_KEY"):
        cls("m", api_key_env="JUDGECAL_TEST_KEY")
    monkeypatch.setenv("JUDGECAL_TEST_KEY", "  ")
    with pytest.raises(FatalError, match="JUDGECAL_TEST_KEY"):
        cls("m", api_key_env="JUDGECAL_TEST_KEY")
    default_env = "OPENAI_API_KEY" if provider == "openai" else "ANTHROPIC_API_KEY"
    monkeypatch.delenv(default_env)
    with pytest.raises(FatalError, match=default_env) as info:
        cls("m")
    assert key_of(provider) not in str(info.value)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_custom_env_var_and_no_key(server: fs.FakeServer, monkeypatch: pytest.MonkeyPatch,
                                   provider: str) -> None:
    monkeypatch.setenv("MY_KEY", "custom-key-0123456789")
    call(make(provider, server, api_key_env="MY_KEY"), request())
    call(make(provider, server, api_key_env=None), request())
    h1, h2 = server.stats.headers
    assert sent_key(h1) == "custom-key-0123456789"
    assert sent_key(h2) == "not-needed"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_key_not_in_identity_repr_or_logs(server: fs.FakeServer, provider: str,
                                          caplog: pytest.LogCaptureFixture) -> None:
    port = server.port
    if provider == "openai":
        judge: OpenAIJudge | AnthropicJudge = OpenAIJudge(
            "gpt-fake", base_url=f"http://user:pw@127.0.0.1:{port}/v1", structured="json_object")
        assert judge.identity() == {"provider": "openai", "model": "gpt-fake",
                                    "endpoint": f"http://127.0.0.1:{port}/v1",
                                    "structured": "json_object",
                                    "max_tokens_param": "max_tokens"}
        assert OpenAIJudge("m").identity()["endpoint"] == "https://api.openai.com:443/v1"
    else:
        judge = AnthropicJudge("claude-fake", base_url=f"http://127.0.0.1:{port}")
        assert judge.identity() == {"provider": "anthropic", "model": "claude-fake",
                                    "endpoint": f"http://127.0.0.1:{port}",
                                    "send_temperature": False}
        assert AnthropicJudge("m").identity()["endpoint"] == "https://api.anthropic.com:443"
    key = key_of(provider)
    text = json.dumps(judge.identity()) + repr(judge) + str(vars(judge).get("base_url"))
    assert key not in text
    with caplog.at_level(logging.DEBUG):
        call(make(provider, server), request())
        server.handler = lambda api, body, n: fs.error(401)
        call_error(make(provider, server), request())
    assert key not in caplog.text
    assert all(sent_key(h) == key for h in server.stats.headers)  # sent every time


def test_judge_survives_a_second_event_loop(server: fs.FakeServer) -> None:
    judge = OpenAIJudge("m", base_url=server.openai_url)

    async def once() -> JudgeReply:
        return await judge.complete(request())

    assert asyncio.run(once()).structured is not None
    assert asyncio.run(once()).structured is not None  # fresh client for the new loop
    asyncio.run(judge.aclose())
    assert server.stats.total == 2


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after({"Retry-After": "1.5"}) == 1.5
    assert parse_retry_after({"Retry-After": "-3"}) == 0.0
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({"retry-after-ms": "nope", "retry-after": "2"}) == 2.0
    past = email.utils.formatdate(time.time() - 60, usegmt=True)
    assert parse_retry_after({"Retry-After": past}) == 0.0
    assert parse_retry_after(None) is None


# --------------------------------------------------------------------------- endpoint identity

SPEC = RequestSpec(mode="structured", scale_min=1, scale_max=5)


def tasks(*items: str) -> list[JudgeTask]:
    return [JudgeTask(item, 0, (Message("user", f"ITEM: {item}\nRate this answer."),))
            for item in items]


def run_tasks(judge: OpenAIJudge | AnthropicJudge, journal: Journal, items: list[JudgeTask],
              spec: RequestSpec = SPEC, **kw: Any) -> RunResult:
    settings = RunSettings(**{"show_progress": False, "backoff_initial_s": 0.0,
                              "backoff_max_s": 0.0, **kw})
    try:
        return run_judge_sync(judge, items, spec, journal, settings, prices=PriceTable())
    finally:
        asyncio.run(judge.aclose())


def test_endpoint_id_keeps_scheme_host_port_and_path_only() -> None:
    assert endpoint_id("http://u:p@LocalHost:8000/v1/?k=1#f") == "http://localhost:8000/v1"
    assert endpoint_id("http://127.0.0.1/v1//") == "http://127.0.0.1:80/v1"
    assert endpoint_id("https://h.example") == "https://h.example:443"
    assert endpoint_id("http://[::1]:8089/v1") == "http://[::1]:8089/v1"
    assert endpoint_id("http://h:8000/v1") != endpoint_id("http://h:8089/v1")
    assert endpoint_id("http://h:8000/a") != endpoint_id("http://h:8000/b")
    assert endpoint_id("http://h:80/v1") == endpoint_id("http://h/v1/")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_two_servers_on_one_host_do_not_share_journaled_replies(tmp_path: Any,
                                                                provider: str) -> None:
    items = tasks("x1", "x2", "x3")
    with fs.FakeServer(lambda api, body, n: fs.score(2)) as one, \
            fs.FakeServer(lambda api, body, n: fs.score(4)) as two, \
            Journal(tmp_path / "journal.sqlite") as journal:
        first = run_tasks(make(provider, one), journal, items)
        second = run_tasks(make(provider, two), journal, items)
        again = run_tasks(make(provider, one), journal, items)
    assert [j.score for j in first.judgments] == [2.0, 2.0, 2.0]
    assert one.stats.total == 3 and first.n_cached == 0
    # Same host, another port: its own calls and its own scores, nothing from the journal.
    assert [j.score for j in second.judgments] == [4.0, 4.0, 4.0]
    assert two.stats.total == 3 and second.n_cached == 0
    # The first server's replies are still there for the first server.
    assert again.n_cached == 3 and one.stats.total == 3
    assert [j.score for j in again.judgments] == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_dead_port_fails_and_is_not_answered_from_the_journal(tmp_path: Any,
                                                                provider: str) -> None:
    items = tasks("x1", "x2")
    dead = fs.free_port()  # nobody listens there
    with fs.FakeServer() as live, Journal(tmp_path / "journal.sqlite") as journal:
        assert run_tasks(make(provider, live), journal, items).n_ok == 2
        url = f"http://127.0.0.1:{dead}"
        judge = (OpenAIJudge("gpt-fake", base_url=f"{url}/v1") if provider == "openai"
                 else AnthropicJudge("claude-fake", base_url=url))
        res = run_tasks(judge, journal, items, max_attempts=1)
    assert res.n_ok == 0 and res.n_cached == 0
    assert {j.status for j in res.judgments} <= {"failed", "skipped"}
    assert any("connection" in (j.error or "").lower() for j in res.judgments)


def test_options_that_change_a_request_are_in_the_identity() -> None:
    base = OpenAIJudge("m", base_url="http://h:1/v1")
    assert base.identity()["structured"] == "auto"
    for kw in ({"structured": "json_object"}, {"max_tokens_param": "max_completion_tokens"},
               {"base_url": "http://h:2/v1"}):
        other = OpenAIJudge("m", **{"base_url": "http://h:1/v1", **kw})
        assert other.identity() != base.identity()
    assert (AnthropicJudge("c", send_temperature=True).identity()
            != AnthropicJudge("c").identity())
    assert OpenAIJudge("m", base_url="http://h:1/v1", timeout_s=5).identity() == base.identity()


# --------------------------------------------------------------------------- structured="auto"


def refusing(*refused: str, status: int = 500) -> fs.Handler:
    """A handler that answers ``status`` to requests whose response format is refused."""
    def handler(api: str, body: dict[str, Any], n: int) -> fs.Response | None:
        kind = (body.get("response_format") or {}).get("type", "none")
        return fs.server_error(status) if kind in refused else None
    return handler


def formats(srv: fs.FakeServer) -> list[str]:
    """The response format type of every request the server received, in order."""
    return [(b.get("response_format") or {}).get("type", "none") for b in srv.stats.bodies]


def test_auto_downgrades_to_json_object_once_and_remembers_it(
        tmp_path: Any, caplog: pytest.LogCaptureFixture) -> None:
    # llama-cpp-python's server: HTTP 500 to json_schema, json_object with a schema works.
    items = tasks(*(f"i{k}" for k in range(8)))
    with fs.FakeServer(refusing("json_schema")) as srv, \
            Journal(tmp_path / "journal.sqlite") as journal:
        judge = OpenAIJudge("llama", base_url=srv.openai_url)
        assert judge.structured_used is None  # not known before the first call
        with caplog.at_level(logging.INFO, logger="harness.judges._openai"):
            res = run_tasks(judge, journal, items, concurrency=4)
        assert res.n_ok == 8 and res.n_failed == 0
        assert formats(srv).count("json_schema") == 1  # one refused call, not one per item
        assert srv.stats.kinds == {"500": 1, "score": 8}
        assert formats(srv)[1:] == ["json_object"] * 8
        assert judge.structured_used == "json_object"
        assert judge.identity()["structured"] == "auto"  # keys do not change
        known = journal.endpoint_mode(srv.openai_url, "llama")
        assert known is not None and known.structured == "json_object"
        assert "json_schema refused with HTTP 500" in (known.reason or "")
        warning = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warning) == 1 and srv.openai_url in warning[0].getMessage()
        assert "HTTP 500" in warning[0].getMessage()
        assert "json_object" in warning[0].getMessage()

        # A new judge on the same journal starts with the remembered mode: no negotiation.
        srv.reset()
        again = OpenAIJudge("llama", base_url=srv.openai_url)
        res = run_tasks(again, journal, items, concurrency=4, refresh=True)
        assert res.n_ok == 8 and formats(srv) == ["json_object"] * 8
        assert again.structured_used == "json_object"
        srv.reset()
        more = OpenAIJudge("llama", base_url=srv.openai_url)
        res = run_tasks(more, journal, tasks("new1", "new2"))
        assert res.n_ok == 2 and res.n_cached == 0 and formats(srv) == ["json_object"] * 2
        # The same server under another model name negotiates for itself.
        srv.reset()
        res = run_tasks(OpenAIJudge("other", base_url=srv.openai_url), journal, items[:2])
        assert res.n_ok == 2 and formats(srv) == ["json_schema", "json_object", "json_object"]


def test_auto_accepting_json_schema_is_remembered_too(tmp_path: Any) -> None:
    with fs.FakeServer() as srv, Journal(tmp_path / "journal.sqlite") as journal:
        judge = OpenAIJudge("gpt-fake", base_url=srv.openai_url)
        assert run_tasks(judge, journal, tasks("a", "b")).n_ok == 2
        assert formats(srv) == ["json_schema", "json_schema"]
        assert judge.structured_used == "json_schema"
        known = journal.endpoint_mode(srv.openai_url, "gpt-fake")
        assert known is not None and known.structured == "json_schema"


def test_auto_falls_back_to_plain_text(tmp_path: Any) -> None:
    handler = refusing("json_schema", "json_object", status=400)
    with fs.FakeServer(handler) as srv, Journal(tmp_path / "journal.sqlite") as journal:
        judge = OpenAIJudge("m", base_url=srv.openai_url)
        res = run_tasks(judge, journal, tasks("a", "b", "c"))
        assert res.n_ok == 3  # the runner's parser reads the JSON object from the text
        assert formats(srv) == ["json_schema", "json_object", "none", "none", "none"]
        assert judge.structured_used == "text"
        known = journal.endpoint_mode(srv.openai_url, "m")
        assert known is not None and known.structured == "none"


def test_auto_against_a_server_that_fails_every_mode_decides_nothing(tmp_path: Any) -> None:
    with fs.FakeServer(lambda api, body, n: fs.server_error(500)) as srv, \
            Journal(tmp_path / "journal.sqlite") as journal:
        judge = OpenAIJudge("m", base_url=srv.openai_url)
        judge.bind_journal(journal)
        err = call_error(judge, request())
        # Broken, not unsupported: the first refusal is raised, nothing is remembered.
        assert isinstance(err, RetryableError) and err.status == 500
        assert formats(srv) == ["json_schema", "json_object", "none"]
        assert judge.structured_used is None
        assert journal.endpoint_mode(srv.openai_url, "m") is None
        # Once the server works, the next call negotiates afresh.
        srv.handler = None
        assert call(judge, request()).structured is not None
        assert formats(srv)[3:] == ["json_schema"] and judge.structured_used == "json_schema"


@pytest.mark.parametrize("fault", [fs.rate_limited("0"), fs.error(401), fs.hang(30.0)])
def test_auto_does_not_downgrade_on_errors_that_are_not_refusals(fault: fs.Response) -> None:
    with fs.FakeServer(lambda api, body, n: fault) as srv:
        judge = OpenAIJudge("m", base_url=srv.openai_url, timeout_s=0.3)
        err = call_error(judge, request())
        assert err.status == (None if fault.kind == "hang" else fault.status)
        assert formats(srv) == ["json_schema"] and judge.structured_used is None


def test_explicit_structured_setting_is_not_negotiated(tmp_path: Any) -> None:
    with fs.FakeServer(refusing("json_schema")) as srv, \
            Journal(tmp_path / "journal.sqlite") as journal:
        judge = OpenAIJudge("m", base_url=srv.openai_url, structured="json_schema")
        assert judge.structured_used == "json_schema"
        judge.bind_journal(journal)
        err = call_error(judge, request())
        assert err.status == 500 and formats(srv) == ["json_schema"]
        assert journal.endpoint_mode(srv.openai_url, "m") is None


def test_logprob_mode_does_not_negotiate(server: fs.FakeServer) -> None:
    judge = OpenAIJudge("m", base_url=server.openai_url)
    assert call(judge, request("logprob")).score_logprobs is not None
    assert formats(server) == ["none"] and judge.structured_used is None


def test_offline_gate_judge_knows_the_remembered_mode(tmp_path: Any) -> None:
    from harness.gate._versions import OfflineJudge

    with Journal(tmp_path / "journal.sqlite") as journal:
        journal.remember_endpoint_mode("http://127.0.0.1:9/v1", "m", "json_object", "test")
        offline = OfflineJudge(OpenAIJudge("m", base_url="http://127.0.0.1:9/v1"))
        offline.bind_journal(journal)
    assert offline.structured_used == "json_object"
    assert AnthropicJudge("c").structured_used == "tool"


def test_logprob_reply_with_little_mass_on_the_scale_is_invalid(tmp_path: Any) -> None:
    top = [{"token": t, "logprob": math.log(p), "bytes": list(t.encode())}
           for t, p in (("The", 0.8), ("4", 0.1), ("3", 0.05), ("A", 0.05))]
    first = {"token": "The", "logprob": top[0]["logprob"], "top_logprobs": top}
    completion = {"id": "x", "object": "chat.completion", "model": "m",
                  "choices": [{"index": 0, "finish_reason": "length",
                               "message": {"role": "assistant", "content": "The"},
                               "logprobs": {"content": [first]}}],
                  "usage": {"prompt_tokens": 9, "completion_tokens": 1}}
    body = json.dumps(completion)
    with fs.FakeServer(lambda api, b, n: fs.Response("raw", body=body)) as srv, \
            Journal(tmp_path / "journal.sqlite") as journal:
        spec = RequestSpec(mode="logprob", scale_min=1, scale_max=5)  # min_score_mass 0.5
        res = run_tasks(OpenAIJudge("m", base_url=srv.openai_url), journal, tasks("a"), spec,
                        parse_retries=0)
        (j,) = res.judgments
        assert j.status == "invalid" and j.score is None
        assert ("only 15% of the probability mass is on the scale's tokens (minimum 50%)"
                in (j.error or ""))
        (rec,) = journal.records(item_id="a")
        assert rec.status == "invalid" and "only 15%" in (rec.error or "")
        # A lower minimum (an experiment's [scoring] min_score_mass) accepts it.
        low = RequestSpec(mode="logprob", scale_min=1, scale_max=5, min_score_mass=0.1)
        res = run_tasks(OpenAIJudge("m", base_url=srv.openai_url), journal, tasks("a"), low)
        assert res.judgments[0].status == "ok"
        assert res.judgments[0].score == pytest.approx((4 * 0.1 + 3 * 0.05) / 0.15)
