"""A scripted local HTTP server speaking the OpenAI and Anthropic wire formats.

Used by the provider and fault-injection tests and by ``benchmarks/bench_runner.py``. It is
a real server on ``127.0.0.1`` (ephemeral port), so the SDKs are exercised for real: HTTP
keep-alive, headers, status codes, timeouts.

Endpoints
---------
``POST /v1/chat/completions``
    OpenAI Chat Completions: a JSON ``{"reasoning", "score"}`` message, or in logprob
    requests (``"logprobs": true``) the score digit with
    ``choices[0].logprobs.content[0].top_logprobs``; ``usage`` always.
``POST /v1/messages``
    Anthropic Messages: a ``tool_use`` block named after the request's tool with the
    judgement as its input; ``usage`` always.
``GET /_stats``
    The counters as JSON (for a server running in another process).

Scripting
---------
Every request is answered by ``handler(api, body, n)`` where ``api`` is ``"openai"`` or
``"anthropic"``, ``body`` the decoded request JSON and ``n`` the 1-based number of requests
received so far for the same item (the item id is read from a line ``ITEM: <id>`` in the
messages, see :func:`item_of`). The handler returns a :class:`Response` (see the factories
:func:`score`, :func:`rate_limited`, :func:`server_error`, :func:`error`, :func:`hang`,
:func:`garbage`, :func:`missing_fields`, :func:`off_scale`, :func:`wrong_content_type`) or
``None`` for the default: the seeded fault plan if one is set (:class:`FaultPlan`), else a
normal score. Scores come from :func:`default_score`, a deterministic function of the item
id within the request's scale.

Fault decisions are seeded per (seed, item, n), so they do not depend on the order in which
concurrent requests arrive: a rerun sees the same faults for the same attempts.

Counters (:attr:`FakeServer.stats`): total requests, requests per item, per-item count of
``200`` replies that carried a well-formed in-scale score (``scored``) and of ``200`` replies
that carried something else (``unscorable``: garbage, missing fields, off-scale), faults by
kind, and the request headers (so a test can check the key was sent). The server never
logs anything.

Running it in its own process (for benchmarks, so it does not share the client's GIL)::

    python tests/fakeserver.py --latency 0.2 --p429 0.2

prints ``PORT <n>`` on its first line and serves until stdin closes or it is terminated;
:class:`FakeServerProcess` does that for you.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.request import urlopen

from mlflowstore import migrated_store

Api = Literal["openai", "anthropic"]
Kind = Literal["score", "status", "hang", "raw"]

_ITEM_RE = re.compile(r"ITEM:\s*(\S+)")


def recipe_output(body: dict[str, Any]) -> str:
    """The output being judged in a request for the recipe demo prompt: the last
    ``<recipe>...</recipe>`` of the last message (earlier ones are few-shot examples)."""
    user = body["messages"][-1]["content"]
    return re.findall(r"<recipe>(.*?)</recipe>", user, re.S)[-1].strip()


def experiment_file(tmp_path: Path, project_root: Path, sections: dict[str, str]) -> Path:
    """``tmp_path/exp.toml`` on the recipe demo anchors with a copy of the prompts.

    The anchors, prompt folder, MLflow store, reports and state live under ``tmp_path``;
    ``sections`` gives (or overrides) the other tables' bodies, e.g. ``{"judge": ...}``.
    """
    prompts = tmp_path / "prompts"
    if not prompts.exists():
        shutil.copytree(project_root / "prompts", prompts)
    body = {
        "anchors": f'path = "{project_root / "anchors/recipes/recipes-overall.jsonl"}"',
        "prompt": f'name = "recipes-overall"\nversion = "v1"\ndir = "{prompts}"',
        "report": f'dir = "{tmp_path / "reports"}"',
        "state": f'dir = "{tmp_path / "state"}"',
        **sections,
    }
    if "tracking" not in body:  # a migrated empty store, as a user's existing mlflow.db
        body["tracking"] = f'tracking_uri = "{migrated_store(tmp_path / "mlflow.db")}"'
    p = tmp_path / "exp.toml"
    p.write_text("\n".join(f"[{k}]\n{v}\n" for k, v in body.items()))
    return p


def stop_process(proc: subprocess.Popen[Any], grace_s: float = 10.0) -> None:
    """Terminate a child process, and kill it if it has not ended after ``grace_s``."""
    proc.terminate()
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (nothing listens on it now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- responses


@dataclass
class Response:
    """What the server answers to one request.

    Parameters
    ----------
    kind : {"score", "status", "hang", "raw"}
        ``score``: a well-formed scoring reply in the API's format (``score`` overrides the
        deterministic score, ``off_scale`` marks it as deliberately outside the scale);
        ``status``: an error status with an API-shaped error body; ``hang``: sleep ``delay``
        seconds then drop the connection without answering; ``raw``: ``body`` verbatim.
    status : int
        HTTP status.
    score : int, optional
        Score to return (``kind="score"``).
    body : bytes or str, optional
        Body for ``kind="raw"``.
    headers : dict
        Extra response headers (e.g. ``Retry-After``).
    content_type : str
        ``Content-Type`` of the reply.
    delay : float, optional
        Seconds to wait before answering; ``None`` uses the server's latency.
    label : str
        Name of the fault, for the counters.
    """

    kind: Kind = "score"
    status: int = 200
    score: int | None = None
    body: bytes | str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    delay: float | None = None
    label: str = "score"
    off_scale: bool = False


def score(value: int | None = None, *, delay: float | None = None) -> Response:
    """A normal scoring reply (``value`` None: :func:`default_score` of the item)."""
    return Response("score", score=value, delay=delay)


def rate_limited(retry_after: str | float | None = "0", *, retry_after_ms: float | None = None,
                 delay: float | None = None) -> Response:
    """A 429 with ``Retry-After`` (seconds or an HTTP date) and/or ``retry-after-ms``."""
    headers = {}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if retry_after_ms is not None:
        headers["retry-after-ms"] = str(retry_after_ms)
    return Response("status", status=429, headers=headers, delay=delay, label="429")


def server_error(status: int = 500, *, delay: float | None = None) -> Response:
    """A 5xx error."""
    return Response("status", status=status, delay=delay, label=str(status))


def error(status: int, *, delay: float | None = None) -> Response:
    """Any error status (401, 400, 404, ...) with an API-shaped error body."""
    return Response("status", status=status, delay=delay, label=str(status))


def hang(seconds: float) -> Response:
    """Sleep ``seconds`` (longer than the client's timeout), then drop the connection."""
    return Response("hang", delay=seconds, label="hang")


def garbage(*, delay: float | None = None) -> Response:
    """A 200 whose body is not JSON although it says it is."""
    return Response("raw", body="<html><body>upstream exploded {{{</body></html>",
                    delay=delay, label="garbage")


def missing_fields(*, delay: float | None = None) -> Response:
    """A 200 with a JSON body that is not a completion/message (no choices, no content)."""
    return Response("raw", body=json.dumps({"id": "x", "object": "nothing"}), delay=delay,
                    label="missing_fields")


def off_scale(value: int = 99, *, delay: float | None = None) -> Response:
    """A well-formed scoring reply whose score is outside the scale."""
    return Response("score", score=value, delay=delay, label="off_scale", off_scale=True)


def wrong_content_type(*, delay: float | None = None) -> Response:
    """A normal scoring reply labelled ``text/plain``."""
    return Response("score", content_type="text/plain", delay=delay,
                    label="wrong_content_type")


Handler = Callable[[Api, dict[str, Any], int], "Response | None"]


# --------------------------------------------------------------------------- helpers


def item_of(body: dict[str, Any]) -> str:
    """The item id of a request: the first ``ITEM: <id>`` in its messages (or ``"?"``)."""
    texts: list[str] = []
    system = body.get("system")
    if isinstance(system, str):
        texts.append(system)
    for msg in body.get("messages") or []:
        content = msg.get("content") if isinstance(msg, dict) else None
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts.extend(str(b.get("text", "")) for b in content if isinstance(b, dict))
    for text in texts:
        m = _ITEM_RE.search(text)
        if m:
            return m.group(1)
    return "?"


def default_score(item_id: str, lo: int = 1, hi: int = 5) -> int:
    """A deterministic score in ``[lo, hi]`` for ``item_id``.

    Examples
    --------
    >>> default_score("a") == default_score("a")
    True
    >>> 1 <= default_score("b", 1, 5) <= 5
    True
    """
    h = int.from_bytes(hashlib.sha256(item_id.encode()).digest()[:8], "big")
    return lo + h % (hi - lo + 1)


def _scale(api: Api, body: dict[str, Any], default: tuple[int, int]) -> tuple[int, int]:
    """Scale bounds from the request's JSON schema / tool schema, else ``default``."""
    schema: Any = None
    if api == "openai":
        fmt = body.get("response_format") or {}
        schema = (fmt.get("json_schema") or {}).get("schema")
    else:
        for tool in body.get("tools") or []:
            schema = tool.get("input_schema")
            break
    try:
        prop = schema["properties"]["score"]
        return int(prop["minimum"]), int(prop["maximum"])
    except (TypeError, KeyError, ValueError):
        return default


@dataclass
class FaultPlan:
    """Seeded random faults, decided per (seed, item, attempt number).

    Parameters
    ----------
    p429, p500, ptimeout, pgarbage : float
        Probabilities of a 429 (with ``Retry-After: retry_after``), a 500, a hang of
        ``hang_s`` seconds, and a garbage 200. The rest are normal scores.
    seed : int
    retry_after : str
    hang_s : float
    """

    p429: float = 0.0
    p500: float = 0.0
    ptimeout: float = 0.0
    pgarbage: float = 0.0
    seed: int = 0
    retry_after: str = "0"
    hang_s: float = 1.0

    def choose(self, item: str, n: int) -> Response:
        """The response for the ``n``-th request about ``item``."""
        u = random.Random(f"{self.seed}:{item}:{n}").random()
        for p, make in (
            (self.p429, lambda: rate_limited(self.retry_after)),
            (self.p500, lambda: server_error(500)),
            (self.ptimeout, lambda: hang(self.hang_s)),
            (self.pgarbage, garbage),
        ):
            if u < p:
                return make()
            u -= p
        return score()


# --------------------------------------------------------------------------- the server


@dataclass
class Stats:
    """Counters of a :class:`FakeServer` (all guarded by the server's lock)."""

    total: int = 0
    requests: Counter = field(default_factory=Counter)
    scored: Counter = field(default_factory=Counter)
    unscorable: Counter = field(default_factory=Counter)
    kinds: Counter = field(default_factory=Counter)
    paths: Counter = field(default_factory=Counter)
    headers: list[dict[str, str]] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The counters as plain JSON-able dicts (headers and bodies left out)."""
        return {"total": self.total, "requests": dict(self.requests),
                "scored": dict(self.scored), "unscorable": dict(self.unscorable),
                "kinds": dict(self.kinds), "paths": dict(self.paths)}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        """Log nothing (request lines and headers never reach any log)."""

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        """``GET /_stats``: the counters."""
        if self.path.rstrip("/") == "/_stats":
            fake = self.server.fake
            with fake.lock:
                payload = json.dumps(fake.stats.to_dict()).encode()
            self._send(200, payload, "application/json", {})
        else:
            self._send(404, b'{"error": {"message": "not found"}}', "application/json", {})

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        """Route to the OpenAI or Anthropic endpoint and let the :class:`FakeServer` answer."""
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = self.path.split("?")[0].rstrip("/")
        if path.endswith("/chat/completions"):
            api: Api = "openai"
        elif path.endswith("/messages"):
            api = "anthropic"
        else:
            self._send(404, b'{"error": {"message": "no such endpoint"}}',
                       "application/json", {})
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        self.server.fake.serve(self, api, body,
                              {k.lower(): v for k, v in self.headers.items()}, path)

    def _send(self, status: int, payload: bytes, content_type: str,
              headers: dict[str, str]) -> bool:
        """Write one complete response; ``False`` when the client has gone."""
        head = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}",
                f"Content-Type: {content_type}", f"Content-Length: {len(payload)}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        try:
            # One write: headers and body together (no Nagle/delayed-ACK stalls).
            self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload)
            self.wfile.flush()
            return True
        except OSError:
            self.close_connection = True
            return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    fake: FakeServer


class FakeServer:
    """The scripted server, run in a background thread.

    Parameters
    ----------
    handler : callable, optional
        ``handler(api, body, n) -> Response | None`` (``None``: the default reply).
    latency : float
        Seconds every reply waits before it is sent (unless the response sets ``delay``).
    faults : FaultPlan, optional
        Seeded random faults for the default reply.
    scale : tuple of int
        Scale used when the request carries none (logprob and schema-less requests).
    keep_bodies : bool
        Keep every decoded request body in :attr:`stats` (``bodies``).

    Examples
    --------
    >>> with FakeServer() as srv:
    ...     srv.url.startswith("http://127.0.0.1:")
    True
    """

    def __init__(self, handler: Handler | None = None, *, latency: float = 0.0,
                 faults: FaultPlan | None = None, scale: tuple[int, int] = (1, 5),
                 keep_bodies: bool = True) -> None:
        self.handler = handler
        self.latency = latency
        self.faults = faults
        self.scale = scale
        self.keep_bodies = keep_bodies
        self.lock = threading.Lock()
        self.stats = Stats()
        self._stop = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeServer:
        """Bind an ephemeral port on 127.0.0.1 and serve in a daemon thread."""
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="fakeserver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; wakes hanging handlers."""
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port."""
        assert self._server is not None, "server not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (Anthropic base URL)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_url(self) -> str:
        """``http://127.0.0.1:<port>/v1`` (OpenAI base URL)."""
        return f"{self.url}/v1"

    def reset(self) -> None:
        """Zero the counters."""
        with self.lock:
            self.stats = Stats()

    def snapshot(self) -> dict[str, Any]:
        """A copy of the counters."""
        with self.lock:
            return json.loads(json.dumps(self.stats.to_dict()))

    # ------------------------------------------------------------------ serving

    def serve(self, h: _Handler, api: Api, body: dict[str, Any], headers: dict[str, str],
              path: str) -> None:
        """Count the request, ask the handler, wait, and answer (called per request)."""
        item = item_of(body)
        with self.lock:
            self.stats.total += 1
            self.stats.requests[item] += 1
            self.stats.paths[path] += 1
            n = self.stats.requests[item]
            self.stats.headers.append(headers)
            if self.keep_bodies:
                self.stats.bodies.append(body)
        resp = self.handler(api, body, n) if self.handler is not None else None
        if resp is None:
            resp = self.faults.choose(item, n) if self.faults is not None else score()
        with self.lock:
            self.stats.kinds[resp.label] += 1
        delay = self.latency if resp.delay is None else resp.delay
        if resp.kind == "hang":
            self._stop.wait(delay)
            h.close_connection = True  # drop the connection without answering
            return
        if delay > 0:
            self._stop.wait(delay)
        if resp.kind == "status":
            payload, ctype = _error_body(api, resp.status), "application/json"
        elif resp.kind == "raw":
            raw = resp.body if resp.body is not None else b""
            payload, ctype = (raw.encode() if isinstance(raw, str) else raw), resp.content_type
        else:
            lo, hi = _scale(api, body, self.scale)
            value = resp.score if resp.score is not None else default_score(item, lo, hi)
            payload = json.dumps(_score_body(api, body, item, value, lo, hi)).encode()
            ctype = resp.content_type
        sent = h._send(resp.status, payload, ctype, resp.headers)
        if sent and resp.status == 200:
            with self.lock:
                if resp.kind == "score" and not resp.off_scale:
                    self.stats.scored[item] += 1
                else:
                    self.stats.unscorable[item] += 1


def _error_body(api: Api, status: int) -> bytes:
    kinds = {400: "invalid_request_error", 401: "authentication_error",
             403: "permission_error", 404: "not_found_error", 429: "rate_limit_error",
             500: "api_error", 529: "overloaded_error"}
    kind = kinds.get(status, "api_error")
    message = f"fake server says {status}"
    if api == "anthropic":
        return json.dumps({"type": "error", "error": {"type": kind, "message": message}}
                          ).encode()
    return json.dumps({"error": {"message": message, "type": kind, "code": None}}).encode()


def _score_body(api: Api, body: dict[str, Any], item: str, value: int, lo: int, hi: int
                ) -> dict[str, Any]:
    reasoning = f"Item {item}: deterministic fake judgement."
    prompt_tokens = sum(len(str(m.get("content", ""))) // 4 for m in body.get("messages") or [])
    if api == "anthropic":
        tool = ((body.get("tools") or [{}])[0]).get("name", "submit_score")
        return {
            "id": f"msg_{item}", "type": "message", "role": "assistant",
            "model": body.get("model", "fake"), "stop_reason": "tool_use",
            "stop_sequence": None,
            "content": [
                {"type": "text", "text": "Scoring now."},
                {"type": "tool_use", "id": f"toolu_{item}", "name": tool,
                 "input": {"reasoning": reasoning, "score": value}},
            ],
            "usage": {"input_tokens": prompt_tokens, "output_tokens": 20},
        }
    logprobs = None
    if body.get("logprobs"):
        content = str(value)
        k = max(1, min(int(body.get("top_logprobs") or 1), 20))
        points = list(range(lo, hi + 1)) if hi - lo < 10 else [value]
        # 0.7 on the score, the rest shared by the other scale points.
        others = [p for p in points if p != value]
        probs = {value: 0.7 if others else 1.0}
        probs.update({p: 0.3 / len(others) for p in others})
        top = sorted(probs.items(), key=lambda kv: -kv[1])[:k]
        top_entries = [{"token": str(p), "logprob": math.log(q), "bytes": list(str(p).encode())}
                       for p, q in top]
        logprobs = {"content": [{"token": content, "logprob": math.log(probs[value]),
                                 "bytes": list(content.encode()), "top_logprobs": top_entries}],
                    "refusal": None}
        completion = 1
    else:
        content = json.dumps({"reasoning": reasoning, "score": value})
        completion = 20
    return {
        "id": f"chatcmpl-{item}", "object": "chat.completion", "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": logprobs,
                     "message": {"role": "assistant", "content": content, "refusal": None}}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion,
                  "total_tokens": prompt_tokens + completion},
    }


# --------------------------------------------------------------------------- other process


class FakeServerProcess:
    """The fake server in a child process (``python tests/fakeserver.py ...``).

    Parameters
    ----------
    latency : float
    faults : FaultPlan, optional

    Examples
    --------
    >>> with FakeServerProcess(latency=0.0) as srv:
    ...     srv.stats()["total"]
    0
    """

    def __init__(self, *, latency: float = 0.0, faults: FaultPlan | None = None) -> None:
        self.latency = latency
        self.faults = faults or FaultPlan()
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0

    def __enter__(self) -> FakeServerProcess:
        """Start the child and read its port."""
        f = self.faults
        cmd = [sys.executable, str(Path(__file__).resolve()), "--latency", str(self.latency),
               "--p429", str(f.p429), "--p500", str(f.p500), "--ptimeout", str(f.ptimeout),
               "--pgarbage", str(f.pgarbage), "--seed", str(f.seed),
               "--retry-after", f.retry_after, "--hang-s", str(f.hang_s)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.proc.kill()
            raise RuntimeError(f"fake server did not start: {line!r}")
        self.port = int(line.split()[1])
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the child's stdin (it stops), or kill it after 5 s."""
        if self.proc is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (Anthropic base URL)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_url(self) -> str:
        """``http://127.0.0.1:<port>/v1`` (OpenAI base URL)."""
        return f"{self.url}/v1"

    def stats(self) -> dict[str, Any]:
        """The child's counters (``GET /_stats``)."""
        with urlopen(f"{self.url}/_stats", timeout=5) as r:  # noqa: S310 - local URL
            return json.loads(r.read())


def main(argv: list[str] | None = None) -> None:
    """Run the server until stdin closes (``PORT <n>`` on the first stdout line)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.0)
    ap.add_argument("--p429", type=float, default=0.0)
    ap.add_argument("--p500", type=float, default=0.0)
    ap.add_argument("--ptimeout", type=float, default=0.0)
    ap.add_argument("--pgarbage", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--retry-after", default="0")
    ap.add_argument("--hang-s", type=float, default=1.0)
    args = ap.parse_args(argv)
    plan = FaultPlan(p429=args.p429, p500=args.p500, ptimeout=args.ptimeout,
                     pgarbage=args.pgarbage, seed=args.seed, retry_after=args.retry_after,
                     hang_s=args.hang_s)
    srv = FakeServer(latency=args.latency, faults=plan, keep_bodies=False).start()
    print(f"PORT {srv.port}", flush=True)
    try:
        sys.stdin.read()  # until the parent closes our stdin (or dies)
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
