"""OpenAI's Batch API for :mod:`._batch`: JSONL upload, ``/v1/batches``, result files.

Each request is one JSONL line ``{"custom_id", "method": "POST", "url":
"/v1/chat/completions", "body"}`` whose body is :meth:`OpenAIJudge.build_params` of the
request, the synchronous call's keyword arguments (with the structured mode the judge
uses; an ``auto`` judge that never negotiated sends ``json_schema``, which the Batch API
takes). The file is uploaded with purpose ``batch`` and the batch created with a 24-hour
window. Results are read from the batch's output file (replies, decoded by the judge's
own reply reader) and error file (requests that failed or expired, with the provider's
text).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import openai

from ._base import FatalError, JudgeRequest, ProviderError, RetryableError, with_retries
from ._batch import BatchBackend, BatchOutcome, BatchState
from ._openai import OpenAIJudge, decode_json, error_detail

__all__ = ["OpenAIBatches"]

#: The Batch API's limits per batch: requests per input file, and the file's size.
MAX_REQUESTS = 50_000
MAX_BYTES = 200 * 1024 * 1024

#: Statuses after which a batch changes no more.
ENDED = frozenset({"completed", "expired", "failed", "cancelled"})

CHAT_URL = "/v1/chat/completions"


async def create_once(provider: str, create: Any) -> Any:
    """Await ``create()`` (a batch creation) once per retry, never twice after it may have
    succeeded: an error without an HTTP status (a timeout, a dropped connection) may hide a
    batch the provider made, so it is fatal (retrying could submit the requests twice).

    Parameters
    ----------
    provider : str
        For the message.
    create : callable
        Makes one creation attempt.

    Returns
    -------
    object
        What ``create()`` returned.
    """
    async def once() -> Any:
        try:
            return await create()
        except RetryableError as exc:
            if exc.status is not None:  # 429 / 5xx: nothing was created
                raise
            raise FatalError(
                f"creating a {provider} batch failed with no answer ({exc}); the batch may "
                "have been created all the same: check the provider's batch list (and "
                "cancel a stray one) before re-running") from None

    return await with_retries(once)


class OpenAIBatches(BatchBackend):
    """The Batch API behind an :class:`OpenAIJudge` (its client, key and endpoint).

    Parameters
    ----------
    judge : OpenAIJudge
    """

    provider = "openai"
    max_requests = MAX_REQUESTS
    max_bytes = MAX_BYTES

    def __init__(self, judge: OpenAIJudge) -> None:
        self.judge = judge
        self.endpoint = judge.endpoint

    def entry(self, custom_id: str, request: JudgeRequest) -> dict[str, Any]:
        """One JSONL line: the synchronous call's body for ``request``."""
        return {"custom_id": custom_id, "method": "POST", "url": CHAT_URL,
                "body": self.judge.build_params(request)}

    async def submit(self, entries: Sequence[dict[str, Any]]) -> str:
        """Upload the lines (purpose ``batch``) and create the batch; its id."""
        judge = self.judge
        client = judge._get_client()
        data = b"".join(json.dumps(e, ensure_ascii=False).encode("utf-8") + b"\n"
                        for e in entries)

        async def upload() -> str:
            with judge._sdk_errors(openai):
                file = await client.files.create(
                    file=("judgecal-batch.jsonl", data, "application/jsonl"), purpose="batch")
            return file.id

        file_id = await with_retries(upload)

        async def create() -> str:
            with judge._sdk_errors(openai):
                batch = await client.batches.create(
                    completion_window="24h", endpoint=CHAT_URL, input_file_id=file_id)
            return batch.id

        return await create_once(self.provider, create)

    async def poll(self, batch_id: str) -> BatchState:
        """``batches.retrieve``: the status, the request counts and the result files."""
        judge = self.judge
        with judge._sdk_errors(openai):
            batch = await judge._get_client().batches.retrieve(batch_id)
        counts = batch.request_counts
        done = (counts.completed + counts.failed) if counts is not None else 0
        error: str | None = None
        if batch.status == "failed":
            errors = batch.errors.data if batch.errors is not None else None
            error = "the batch failed: " + ("; ".join(
                f"{e.code or 'error'}"
                + (f" (line {e.line})" if e.line is not None else "")
                + f": {e.message or ''}" for e in errors) if errors else "no reason given")
        elif batch.status == "expired":
            error = "the batch expired (its 24-hour window ended) before this request ran"
        elif batch.status == "cancelled":
            error = "the batch was cancelled before this request ran"
        files = tuple(f for f in (batch.output_file_id, batch.error_file_id) if f)
        return BatchState(batch_id=batch.id, status=batch.status, ended=batch.status in ENDED,
                          done=done, total=counts.total if counts is not None else 0,
                          error=error, files=files)

    async def results(self, state: BatchState, requests: dict[str, JudgeRequest]
                      ) -> dict[str, BatchOutcome]:
        """Read the output and error files: a reply or an error per ``custom_id``."""
        judge = self.judge
        out: dict[str, BatchOutcome] = {}
        for file_id in state.files:
            async def download(fid: str = file_id) -> str:
                with judge._sdk_errors(openai):
                    content = await judge._get_client().files.content(fid)
                return content.content.decode("utf-8", errors="replace")

            for line in (await with_retries(download)).splitlines():
                obj = decode_json(line)
                cid = obj.get("custom_id") if isinstance(obj, Mapping) else None
                if not isinstance(cid, str) or cid not in requests or cid in out:
                    continue
                out[cid] = self._outcome(obj, requests[cid])
        return out

    def _outcome(self, line: Mapping[str, Any], request: JudgeRequest) -> BatchOutcome:
        response, error = line.get("response"), line.get("error")
        if isinstance(response, Mapping) and response.get("status_code") == 200:
            body = response.get("body")
            text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
            try:
                return BatchOutcome(reply=self.judge._reply(text, request))
            except ProviderError as exc:  # e.g. logprob mode without logprobs
                return BatchOutcome(error=f"{type(exc).__name__}: {exc}")
        if isinstance(response, Mapping) and response.get("status_code") is not None:
            status = response.get("status_code")
            return BatchOutcome(error=f"HTTP {status}: "
                                f"{error_detail(response.get('body'), 'no message')}")
        if isinstance(error, Mapping):
            return BatchOutcome(error=f"{error.get('code') or 'error'}: "
                                f"{error.get('message') or 'no message'}")
        return BatchOutcome(error=f"unreadable result line: {json.dumps(line)[:300]}")
