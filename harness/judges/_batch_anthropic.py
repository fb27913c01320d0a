"""Anthropic's Message Batches for :mod:`._batch`: ``/v1/messages/batches``.

Each request is ``{"custom_id", "params"}`` whose params are
:meth:`AnthropicJudge.build_params` of the request (the synchronous call's keyword
arguments; an ``extra_body`` is merged into them, as the SDK would send it). Results are
streamed from the batch's ``results_url``: a ``succeeded`` message is read by the judge's
own reply reader; ``errored``, ``expired`` and ``canceled`` requests carry the provider's
text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import anthropic

from ._anthropic import AnthropicJudge, _reply
from ._base import JudgeRequest, with_retries
from ._batch import BatchBackend, BatchOutcome, BatchState
from ._batch_openai import create_once

__all__ = ["AnthropicBatches"]

#: Message Batches' limits per batch: requests, and the creation request's size.
MAX_REQUESTS = 100_000
MAX_BYTES = 256 * 1024 * 1024


class AnthropicBatches(BatchBackend):
    """Message Batches behind an :class:`AnthropicJudge` (its client, key and endpoint).

    Parameters
    ----------
    judge : AnthropicJudge
    """

    provider = "anthropic"
    max_requests = MAX_REQUESTS
    max_bytes = MAX_BYTES

    def __init__(self, judge: AnthropicJudge) -> None:
        self.judge = judge
        self.endpoint = judge.endpoint

    def entry(self, custom_id: str, request: JudgeRequest) -> dict[str, Any]:
        """One batch request: the synchronous call's parameters for ``request``."""
        params = self.judge.build_params(request)
        extra = params.pop("extra_body", None) or {}
        return {"custom_id": custom_id, "params": {**params, **extra}}

    async def submit(self, entries: Sequence[dict[str, Any]]) -> str:
        """``messages.batches.create``; the batch id."""
        judge = self.judge

        async def create() -> str:
            with judge._sdk_errors(anthropic):
                batch = await judge._get_client().messages.batches.create(
                    requests=list(entries))
            return batch.id

        return await create_once(self.provider, create)

    async def poll(self, batch_id: str) -> BatchState:
        """``messages.batches.retrieve``: the processing status and the request counts."""
        judge = self.judge
        with judge._sdk_errors(anthropic):
            batch = await judge._get_client().messages.batches.retrieve(batch_id)
        c = batch.request_counts
        done = c.succeeded + c.errored + c.expired + c.canceled
        return BatchState(batch_id=batch.id, status=batch.processing_status,
                          ended=batch.processing_status == "ended", done=done,
                          total=done + c.processing)

    async def results(self, state: BatchState, requests: dict[str, JudgeRequest]
                      ) -> dict[str, BatchOutcome]:
        """Stream the results: a reply or the provider's error per ``custom_id``."""
        judge = self.judge

        async def download() -> dict[str, BatchOutcome]:
            out: dict[str, BatchOutcome] = {}
            with judge._sdk_errors(anthropic):
                stream = await judge._get_client().messages.batches.results(state.batch_id)
                async for item in stream:
                    if item.custom_id in requests and item.custom_id not in out:
                        out[item.custom_id] = _outcome(item.result)
            return out

        return await with_retries(download)


def _outcome(result: Any) -> BatchOutcome:
    kind = getattr(result, "type", None)
    if kind == "succeeded":
        message = result.message.to_dict(mode="json")
        return BatchOutcome(reply=_reply(json.dumps(message, ensure_ascii=False)))
    if kind == "errored":
        err = getattr(getattr(result, "error", None), "error", None)
        what = f"{getattr(err, 'type', 'error')}: {getattr(err, 'message', '')}"
        return BatchOutcome(error=f"errored: {what}")
    if kind == "expired":
        return BatchOutcome(error="expired: the batch's 24-hour window ended before this "
                            "request ran")
    if kind == "canceled":
        return BatchOutcome(error="canceled: the batch was canceled before this request ran")
    return BatchOutcome(error=f"unknown result type {kind!r}")
