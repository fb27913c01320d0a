"""A scripted local server for the providers' batch APIs (OpenAI and Anthropic).

Used by ``tests/test_batch.py`` with the real ``openai`` and ``anthropic`` SDKs. A threaded
HTTP server on ``127.0.0.1`` (ephemeral port) implementing:

OpenAI (base URL ``<url>/v1``)
    ``POST /v1/files`` (multipart upload, purpose ``batch``), ``GET /v1/files/{id}/content``,
    ``POST /v1/batches`` (create), ``GET /v1/batches/{id}`` (retrieve),
    ``POST /v1/batches/{id}/cancel``.
Anthropic (base URL ``<url>``)
    ``POST /v1/messages/batches`` (create), ``GET /v1/messages/batches/{id}`` (retrieve),
    ``GET /v1/messages/batches/{id}/results`` (JSONL), ``POST .../{id}/cancel``.

Scripting (:class:`Script`): a batch answers ``polls`` retrieves as in progress, then ends;
each request's fate is ``outcome(item, n)`` (``item`` read from ``ITEM: <id>`` in its
messages, ``n`` the 1-based number of requests for that item in all batches so far):
``"ok"`` (a well-formed judgement, scored by :func:`fakeserver.default_score`), ``"invalid"``
(a reply without a JSON judgement), ``"error"`` (the request failed: HTTP 400 with a message)
or ``"expired"`` (not run before the window ended). An OpenAI batch with an expired request
ends ``expired`` (the completed requests in the output file, the expired ones in the error
file), otherwise ``completed``; ``openai_status="failed"`` makes it fail validation.

Counters (:attr:`BatchServer.stats`): batches created per API, files uploaded, retrieves,
every submitted request entry (so a test can compare bodies with the synchronous call's)
and the request headers. The synchronous endpoints (``POST /v1/chat/completions``,
``POST /v1/messages``) answer a well-formed judgement too, counted in ``sync_calls`` with
their bodies in ``sync_bodies``: a synchronous run against the same endpoint shares the
batch run's journal keys.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import fakeserver as fs

Outcome = str  # "ok" | "invalid" | "error" | "expired"


@dataclass
class Script:
    """How batches behave.

    Parameters
    ----------
    polls : int
        Retrieves answered ``in_progress`` before a batch ends.
    outcome : callable
        ``outcome(item, n) -> "ok" | "invalid" | "error" | "expired"``.
    openai_status : str, optional
        Force an OpenAI batch's final status (``"failed"``, ``"cancelled"``).
    """

    polls: int = 1
    outcome: Callable[[str, int], Outcome] = lambda item, n: "ok"
    openai_status: str | None = None


@dataclass
class Stats:
    created: Counter[str] = field(default_factory=Counter)
    uploads: int = 0
    retrieves: int = 0
    entries: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    per_item: Counter[str] = field(default_factory=Counter)
    sync_calls: int = 0
    sync_bodies: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Batch:
    id: str
    api: str
    entries: list[dict[str, Any]]
    outcomes: list[Outcome]
    created_at: float
    input_file_id: str | None = None
    polls: int = 0
    cancelled: bool = False
    output_file_id: str | None = None
    error_file_id: str | None = None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        """Log nothing."""

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self.server.owner.route(self, "GET", self._body())

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        self.server.owner.route(self, "POST", self._body())

    def send(self, status: int, payload: bytes | dict[str, Any],
             content_type: str = "application/json") -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        head = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}",
                f"Content-Type: {content_type}", f"Content-Length: {len(data)}"]
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data)
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: BatchServer


class BatchServer:
    """The scripted batch server, in a background thread.

    Parameters
    ----------
    script : Script, optional

    Examples
    --------
    >>> with BatchServer() as srv:
    ...     srv.url.startswith("http://127.0.0.1:")
    True
    """

    def __init__(self, script: Script | None = None) -> None:
        self.script = script or Script()
        self.lock = threading.Lock()
        self.stats = Stats()
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, _Batch] = {}
        self._ids = itertools.count(1)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> BatchServer:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.owner = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (the Anthropic base URL)."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def openai_url(self) -> str:
        """``<url>/v1`` (the OpenAI base URL)."""
        return f"{self.url}/v1"

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):04d}"

    # ------------------------------------------------------------------ routing

    def route(self, h: _Handler, method: str, raw: bytes) -> None:
        path = h.path.split("?")[0].rstrip("/")
        parts = path.strip("/").split("/")
        with self.lock:
            self.stats.headers.append({k.lower(): v for k, v in h.headers.items()})
        if method == "POST" and path in ("/v1/chat/completions", "/v1/messages"):
            body = json.loads(raw or b"{}")
            with self.lock:
                self.stats.sync_calls += 1
                self.stats.sync_bodies.append(body)
            return h.send(200, _reply("openai" if "chat" in path else "anthropic", body, "ok"))
        if method == "POST" and path == "/v1/files":
            return self._upload(h, raw)
        if method == "GET" and len(parts) == 4 and parts[:2] == ["v1", "files"] \
                and parts[3] == "content":
            data = self.files.get(parts[2])
            return h.send(200, data, "application/octet-stream") if data is not None else \
                h.send(404, {"error": {"message": f"no file {parts[2]}"}})
        if method == "POST" and path == "/v1/batches":
            return self._create_openai(h, json.loads(raw or b"{}"))
        if parts[:2] == ["v1", "batches"] and len(parts) >= 3:
            batch = self.batches.get(parts[2])
            if batch is None:
                return h.send(404, {"error": {"message": "no such batch"}})
            if len(parts) == 4 and parts[3] == "cancel":
                batch.cancelled = True
            else:
                self._advance(batch)
            return h.send(200, self._openai_batch(batch))
        if method == "POST" and path == "/v1/messages/batches":
            return self._create_anthropic(h, json.loads(raw or b"{}"))
        if parts[:3] == ["v1", "messages", "batches"] and len(parts) >= 4:
            batch = self.batches.get(parts[3])
            if batch is None:
                return h.send(404, {"type": "error", "error": {"type": "not_found_error",
                                                               "message": "no such batch"}})
            if len(parts) == 5 and parts[4] == "results":
                return h.send(200, self._anthropic_results(batch), "application/binary")
            if len(parts) == 5 and parts[4] == "cancel":
                batch.cancelled = True
            else:
                self._advance(batch)
            return h.send(200, self._anthropic_batch(batch))
        return h.send(404, {"error": {"message": f"no route {method} {path}"}})

    # ------------------------------------------------------------------ OpenAI

    def _upload(self, h: _Handler, raw: bytes) -> None:
        ctype = h.headers.get("Content-Type", "")
        boundary = ctype.split("boundary=")[-1].strip('"').encode()
        fields: dict[str, bytes] = {}
        for part in raw.split(b"--" + boundary):
            head, sep, body = part.partition(b"\r\n\r\n")
            if not sep:
                continue
            name = head.split(b'name="')[1].split(b'"')[0].decode() if b'name="' in head \
                else "?"
            fields[name] = body[:-2] if body.endswith(b"\r\n") else body
        with self.lock:
            file_id = self._id("file")
            self.files[file_id] = fields.get("file", b"")
            self.stats.uploads += 1
        h.send(200, {"id": file_id, "object": "file", "bytes": len(self.files[file_id]),
                     "created_at": int(time.time()), "filename": "batch.jsonl",
                     "purpose": fields.get("purpose", b"").decode(), "status": "processed"})

    def _create_openai(self, h: _Handler, body: dict[str, Any]) -> None:
        data = self.files.get(body.get("input_file_id", ""))
        if data is None:
            return h.send(400, {"error": {"message": "unknown input_file_id"}})
        entries = [json.loads(line) for line in data.decode().splitlines() if line.strip()]
        batch = self._new("openai", entries, [e["body"] for e in entries])
        batch.input_file_id = body["input_file_id"]
        h.send(200, self._openai_batch(batch))

    def _new(self, api: str, entries: list[dict[str, Any]], bodies: list[dict[str, Any]]
             ) -> _Batch:
        with self.lock:
            outcomes = []
            for b in bodies:
                item = fs.item_of(b)
                self.stats.per_item[item] += 1
                outcomes.append(self.script.outcome(item, self.stats.per_item[item]))
            batch = _Batch(id=self._id("batch" if api == "openai" else "msgbatch"), api=api,
                           entries=entries, outcomes=outcomes, created_at=time.time())
            self.batches[batch.id] = batch
            self.stats.created[api] += 1
            self.stats.entries.extend(entries)
        return batch

    def _advance(self, batch: _Batch) -> None:
        with self.lock:
            self.stats.retrieves += 1
            batch.polls += 1
            if self._ended(batch) and batch.api == "openai" and batch.output_file_id is None:
                self._openai_files(batch)

    def _ended(self, batch: _Batch) -> bool:
        return batch.cancelled or batch.polls > self.script.polls

    def _openai_status(self, batch: _Batch) -> str:
        if not self._ended(batch):
            return "in_progress"
        if batch.cancelled:
            return "cancelled"
        if self.script.openai_status:
            return self.script.openai_status
        return "expired" if "expired" in batch.outcomes else "completed"

    def _openai_files(self, batch: _Batch) -> None:
        status = self._openai_status(batch)
        out: list[str] = []
        errs: list[str] = []
        if status != "failed":
            for i, (entry, fate) in enumerate(zip(batch.entries, batch.outcomes, strict=True)):
                if batch.cancelled and fate != "ok":
                    continue
                line: dict[str, Any] = {"id": f"batch_req_{i}", "custom_id": entry["custom_id"]}
                if fate in ("ok", "invalid"):
                    line["response"] = {"status_code": 200, "request_id": f"req_{i}",
                                        "body": _reply("openai", entry["body"], fate)}
                    line["error"] = None
                    out.append(json.dumps(line))
                elif fate == "error":
                    line["response"] = {"status_code": 400, "request_id": f"req_{i}", "body": {
                        "error": {"message": "fake batch says the request is malformed",
                                  "type": "invalid_request_error", "code": None}}}
                    line["error"] = None
                    errs.append(json.dumps(line))
                else:
                    line["response"] = None
                    line["error"] = {"code": "batch_expired", "message": "This request could "
                                     "not be executed before the completion window expired."}
                    errs.append(json.dumps(line))
        if out:
            batch.output_file_id = self._id("file")
            self.files[batch.output_file_id] = ("\n".join(out) + "\n").encode()
        if errs:
            batch.error_file_id = self._id("file")
            self.files[batch.error_file_id] = ("\n".join(errs) + "\n").encode()
        if not out:
            batch.output_file_id = batch.output_file_id or ""

    def _openai_batch(self, batch: _Batch) -> dict[str, Any]:
        status = self._openai_status(batch)
        ended = status != "in_progress"
        n = len(batch.entries)
        done = sum(f in ("ok", "invalid") for f in batch.outcomes) if ended else 0
        failed = sum(f == "error" for f in batch.outcomes) if ended else 0
        errors = None
        if status == "failed":
            errors = {"object": "list", "data": [{"code": "invalid_request", "line": 1,
                                                  "message": "fake validation failure",
                                                  "param": None}]}
        return {"id": batch.id, "object": "batch", "endpoint": "/v1/chat/completions",
                "errors": errors, "input_file_id": batch.input_file_id,
                "completion_window": "24h", "status": status,
                "output_file_id": batch.output_file_id or None,
                "error_file_id": batch.error_file_id, "created_at": int(batch.created_at),
                "request_counts": {"total": n, "completed": done, "failed": failed},
                "metadata": None}

    # ------------------------------------------------------------------ Anthropic

    def _create_anthropic(self, h: _Handler, body: dict[str, Any]) -> None:
        entries = body.get("requests") or []
        batch = self._new("anthropic", entries, [e["params"] for e in entries])
        h.send(200, self._anthropic_batch(batch))

    def _anthropic_batch(self, batch: _Batch) -> dict[str, Any]:
        ended = self._ended(batch)
        created = datetime.fromtimestamp(batch.created_at, UTC)
        counts = {"processing": 0 if ended else len(batch.entries), "succeeded": 0,
                  "errored": 0, "canceled": 0, "expired": 0}
        if ended:
            for fate in batch.outcomes:
                counts[_anthropic_kind(fate, batch.cancelled)] += 1
        return {"id": batch.id, "type": "message_batch",
                "processing_status": "ended" if ended else "in_progress",
                "request_counts": counts, "created_at": created.isoformat(),
                "expires_at": (created + timedelta(hours=24)).isoformat(),
                "ended_at": datetime.now(UTC).isoformat() if ended else None,
                "archived_at": None, "cancel_initiated_at": None,
                "results_url": f"{self.url}/v1/messages/batches/{batch.id}/results"
                if ended else None}

    def _anthropic_results(self, batch: _Batch) -> bytes:
        lines = []
        for entry, fate in zip(batch.entries, batch.outcomes, strict=True):
            kind = _anthropic_kind(fate, batch.cancelled)
            result: dict[str, Any] = {"type": kind}
            if kind == "succeeded":
                result["message"] = _reply("anthropic", entry["params"], fate)
            elif kind == "errored":
                result["error"] = {"type": "error", "error": {
                    "type": "invalid_request_error",
                    "message": "fake batch says the request is malformed"}}
            lines.append(json.dumps({"custom_id": entry["custom_id"], "result": result}))
        return ("\n".join(lines) + "\n").encode()


def _anthropic_kind(fate: Outcome, cancelled: bool) -> str:
    if fate in ("ok", "invalid"):
        return "succeeded"
    if cancelled:
        return "canceled"
    return "errored" if fate == "error" else "expired"


def _reply(api: str, body: dict[str, Any], fate: Outcome) -> dict[str, Any]:
    """A reply body as the synchronous API would send it (the fake server's)."""
    item = fs.item_of(body)
    lo, hi = fs._scale(api, body, (1, 5))  # noqa: SLF001 - the fake server's own helper
    reply = fs._score_body(api, body, item, fs.default_score(item, lo, hi), lo, hi)  # noqa: SLF001
    if fate == "invalid":
        if api == "openai":
            reply["choices"][0]["message"]["content"] = "I would rather not say."
        else:
            reply["content"] = [{"type": "text", "text": "I would rather not say."}]
    return reply
