"""An in-process, scripted :class:`Judge` for tests.

The item id travels in the user message (``"item: <id>"``, see :func:`make_task`) and is
read back from the request, so a script can answer per item.

A script is either

* a function ``(request, call_number, item_id) -> JudgeReply`` that may raise a
  :class:`ProviderError` (``call_number`` counts this item's calls from 1), or
* a dict ``item_id -> list of outcomes``: the n-th call for the item gets the n-th outcome
  (the last one repeats); an outcome is a :class:`JudgeReply`, an exception to raise, or a
  function as above. Items not in the dict get ``default``.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from harness.judges._base import (
    Judge,
    JudgeReply,
    JudgeRequest,
    Message,
    Usage,
)
from harness.judges._runner import JudgeTask

ScriptFn = Callable[[JudgeRequest, int, str], JudgeReply]
Outcome = JudgeReply | BaseException | ScriptFn

_ITEM = re.compile(r"item: (\S+)")


def make_task(item_id: str, sample_index: int = 0, **kw: Any) -> JudgeTask:
    """A task whose user message names ``item_id``."""
    messages = (
        Message("system", "You are a strict grader. Reply with JSON."),
        Message("user", f"Grade this. item: {item_id}"),
    )
    return JudgeTask(item_id=item_id, sample_index=sample_index, messages=messages, **kw)


def item_of(request: JudgeRequest) -> str:
    """The item id named in the request's user message."""
    for m in request.messages:
        if m.role == "user" and (found := _ITEM.search(m.content)):
            return found.group(1)
    raise AssertionError("no 'item: <id>' in the request")


def structured(score: Any, reasoning: str = "because", tokens: tuple[int, int] = (100, 20),
               ) -> JudgeReply:
    """A structured-mode reply carrying ``score``."""
    body = {"reasoning": reasoning, "score": score}
    return JudgeReply(raw=str(body), structured=body, usage=Usage(*tokens), model="fake-1")


def raw(text: str, tokens: tuple[int, int] = (100, 20)) -> JudgeReply:
    """A reply with only raw text (parsed by the runner)."""
    return JudgeReply(raw=text, usage=Usage(*tokens), model="fake-1")


class FakeJudge(Judge):
    """A scripted judge that records every call.

    Parameters
    ----------
    script : function or dict, optional
        See the module docstring. Default: every call scores 3.
    model : str
        Model name (part of the journal key).
    latency_s : float or function of item id, optional
        ``asyncio.sleep`` before answering.
    supports_logprobs : bool
    max_concurrency : int, optional
    provider : str
        Provider name (e.g. ``"local"`` for a free judge).
    """

    def __init__(
        self,
        script: ScriptFn | Mapping[str, Sequence[Outcome]] | None = None,
        *,
        model: str = "fake-1",
        latency_s: float | Callable[[str], float] = 0.0,
        supports_logprobs: bool = True,
        max_concurrency: int | None = None,
        provider: str = "fake",
        default: Outcome | None = None,
    ) -> None:
        super().__init__(model)
        self.provider = provider
        self.supports_logprobs = supports_logprobs
        self.max_concurrency = max_concurrency
        self._script = script
        self._default = default if default is not None else structured(3)
        self._latency = latency_s
        self._lock = threading.Lock()
        self.total_calls = 0
        self.calls: Counter[str] = Counter()
        self.requests: list[JudgeRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.closed = False

    async def complete(self, request: JudgeRequest) -> JudgeReply:
        item = item_of(request)
        with self._lock:
            self.total_calls += 1
            self.calls[item] += 1
            n = self.calls[item]
            self.requests.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            delay = self._latency(item) if callable(self._latency) else self._latency
            if delay:
                await asyncio.sleep(delay)
            else:
                await asyncio.sleep(0)  # let other tasks run, as a real call would
            return self._answer(request, n, item)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _answer(self, request: JudgeRequest, n: int, item: str) -> JudgeReply:
        if self._script is None:
            outcome: Outcome = self._default
        elif callable(self._script):
            outcome = self._script
        else:
            seq = self._script.get(item)
            outcome = self._default if not seq else seq[min(n, len(seq)) - 1]
        if isinstance(outcome, BaseException):
            raise outcome
        if isinstance(outcome, JudgeReply):
            return outcome
        return outcome(request, n, item)

    async def aclose(self) -> None:
        self.closed = True
