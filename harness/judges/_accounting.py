"""What a run may still do: its call and cost budget, and its circuit breaker.

The runner asks :class:`Ledger` before every provider call (:meth:`Ledger.acquire`) and
tells it how the call ended (:meth:`Ledger.settle`, :meth:`Ledger.outcome`). The ledger
keeps the run's totals, reserves the estimated cost of every call in flight so that
``max_cost`` holds even with many concurrent calls, and stops the run when the budget is
spent or the provider looks down (the circuit breaker). It knows nothing of tasks or of the
journal.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Sequence

from ._base import JudgeRequest, Message, ProviderError, Usage

__all__ = [
    "CHARS_PER_TOKEN",
    "TOKENS_PER_MESSAGE",
    "CircuitBreaker",
    "Ledger",
    "estimate_input_tokens",
    "is_outage",
]

log = logging.getLogger("harness.judges._runner")

#: Characters per input token assumed when a call's cost is reserved before it is made.
#: English prose averages about 4 characters per token with the GPT and Claude tokenizers,
#: code and most European languages 2.5-3.5; 2 over-estimates all of them (CJK text, at
#: about 1-1.5 characters per token, is the exception). The output side of an estimate is
#: the request's ``max_tokens`` in full, which usually dominates anyway.
CHARS_PER_TOKEN = 2.0

#: Tokens added per message for the chat format's role markers and separators.
TOKENS_PER_MESSAGE = 4


def estimate_input_tokens(messages: Sequence[Message]) -> int:
    """A conservative count of a request's input tokens, from its characters.

    Parameters
    ----------
    messages : sequence of Message
        The request's messages.

    Returns
    -------
    int
        ``ceil(characters / CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE * len(messages)``.

    Examples
    --------
    >>> estimate_input_tokens([Message("user", "x" * 100)])
    54
    """
    chars = sum(len(m.content) for m in messages)
    return math.ceil(chars / CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE * len(messages)


def is_outage(exc: BaseException) -> bool:
    """Whether a failed call says nothing reached the provider or its server failed.

    Connection errors and timeouts (a :class:`ProviderError` with no HTTP status, which
    includes the runner's own call deadline), 408 and 5xx count; a 429 (the provider is up
    and says "slow down") and any other reply do not.
    """
    if not isinstance(exc, ProviderError) or not exc.retryable:
        return False
    return exc.status is None or exc.status == 408 or exc.status >= 500


class CircuitBreaker:
    """Trips after ``threshold`` consecutive outage failures with no reply in between.

    What counts (see :func:`is_outage`): connection errors, timeouts (the runner's call
    deadline too), 408 and 5xx. Any reply (an HTTP 200, even an unparseable one, or a 4xx
    other than 429) resets the count; a 429 neither counts nor resets (a rate-limit storm
    is not an outage). Three rules keep a transient fault from stopping a long run:

    * a failure counts only when its call started after the last reply (a call already in
      flight when the provider last answered says nothing about the provider now);
    * the streak must include a call that started after an earlier failure of the streak
      (the failure persisted across a retry): a blip that fails every call in flight at
      once, or a client stall that times them all out together, is one event, and the
      retries decide;
    * the failures must come from at least two different tasks: one item the server always
      fails (a poison item) is one failed judgment, not an outage (so a run with one task
      to call never trips it).

    It therefore trips after ``max(threshold, concurrency) + concurrency`` calls at most.

    Parameters
    ----------
    threshold : int
        Consecutive failures that trip it; 0 turns it off.

    Examples
    --------
    >>> b = CircuitBreaker(2)
    >>> first, second = b.mark(), b.mark()  # two calls start together
    >>> b.failure("a", "refused", first), b.failure("b", "refused", second)
    (False, False)
    >>> b.failure("a", "refused", b.mark())  # a retry, started after those failures
    True
    """

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.count = 0
        self.last: str | None = None
        self._replies = 0
        self._tasks: set[str] = set()
        self._persisted = False

    def mark(self) -> tuple[int, int]:
        """Note a call's start: pass the result to :meth:`failure` if the call fails."""
        return self._replies, self.count

    def failure(self, task: str, message: str, mark: tuple[int, int]) -> bool:
        """Count an outage failure of a call of ``task``; whether the breaker trips now.

        ``mark`` is :meth:`mark` when the failed call started; ``message`` the error.
        """
        replies, count = mark
        if replies != self._replies:
            return False  # the provider answered while this call was in flight
        self.count += 1
        self._tasks.add(task)
        self._persisted = self._persisted or count > 0
        self.last = message
        return (self.threshold > 0 and self.count >= self.threshold and self._persisted
                and len(self._tasks) >= 2)

    def reply(self) -> None:
        """A reply arrived: the provider is up."""
        self._replies += 1
        self.count = 0
        self._tasks.clear()
        self._persisted = False


class Ledger:
    """A run's budget, totals and stop state.

    Parameters
    ----------
    max_calls : int or None
        Calls the run may start.
    max_cost : float or None
        USD the run may spend, with the estimated cost of every call in flight reserved.
    cost_of : callable
        ``cost_of(usage)``: USD of a call's :class:`Usage`, ``None`` when the price is
        unknown.
    breaker : CircuitBreaker
        The run's circuit breaker.
    redact : callable
        Removes secrets from a provider message before it is kept in :attr:`stopped`.
    """

    def __init__(self, *, max_calls: int | None, max_cost: float | None,
                 cost_of: Callable[[Usage], float | None], breaker: CircuitBreaker,
                 redact: Callable[[str], str]) -> None:
        self.max_calls = max_calls
        self.max_cost = max_cost
        self._cost_of = cost_of
        self.breaker = breaker
        self._redact = redact
        self.n_requests = 0  # calls started
        self.spent = 0.0  # known cost of the calls that ended
        self.reserved = 0.0  # estimated cost of the calls in flight
        self.cost_unknown = False
        self.input_tokens = 0
        self.output_tokens = 0
        self._reason: str | None = None  # why the run stopped (without the skipped count)
        self._next_estimate = 0.0
        self._waiters: list[asyncio.Future[None]] = []
        self._stopping: asyncio.Future[None] | None = None
        self._tripped: asyncio.Future[None] | None = None

    # ------------------------------------------------------------ state

    @property
    def stopped(self) -> str | None:
        """Why no call may start any more (``None`` while calls may start)."""
        return self._reason

    def stop_message(self, n_skipped: int) -> str | None:
        """The run's ``stopped`` text, with the number of tasks skipped, or ``None``."""
        if self._reason is None:
            return None
        return f"{self._reason}; {n_skipped} tasks skipped"

    def _futures(self) -> tuple[asyncio.Future[None], asyncio.Future[None]]:
        if self._stopping is None or self._tripped is None:
            loop = asyncio.get_running_loop()
            self._stopping, self._tripped = loop.create_future(), loop.create_future()
        return self._stopping, self._tripped

    @property
    def tripped(self) -> asyncio.Future[None]:
        """Done when the breaker tripped: calls in flight are to be cancelled."""
        return self._futures()[1]

    def _stop(self, reason: str, *, cancel_in_flight: bool = False) -> None:
        if self._reason is None:
            self._reason = reason
            (log.warning if cancel_in_flight else log.info)(
                "%s; no more calls are started", reason)
        stopping, tripped = self._futures()
        if not stopping.done():
            stopping.set_result(None)
        if cancel_in_flight and not tripped.done():
            tripped.set_result(None)
        self._wake()

    def _wake(self) -> None:
        for fut in self._waiters:
            if not fut.done():
                fut.set_result(None)
        self._waiters.clear()

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` (a retry's backoff), or less when the run stops meanwhile."""
        stopping, _ = self._futures()
        if stopping.done():
            return
        await asyncio.wait({stopping}, timeout=seconds)

    # ------------------------------------------------------------ calls

    def estimate(self, request: JudgeRequest) -> float:
        """Conservative USD of one call of ``request`` (0 when the price is unknown)."""
        usage = Usage(estimate_input_tokens(request.messages), int(request.max_tokens))
        return self._cost_of(usage) or 0.0

    async def acquire(self, request: JudgeRequest) -> float | None:
        """Start a call: its reservation (USD), or ``None`` when the run has stopped.

        A call whose estimate does not fit in ``max_cost`` beside what is spent and
        reserved waits while other calls are in flight (their actual cost may leave room);
        with none in flight the run stops.
        """
        estimate = self.estimate(request) if self.max_cost is not None else 0.0
        while True:
            if self._reason is not None:
                return None
            if self.max_calls is not None and self.n_requests >= self.max_calls:
                self._stop(f"budget: max_calls={self.max_calls} reached")
                continue
            if self.max_cost is not None and \
                    self.spent + self.reserved + estimate > self.max_cost:
                if self.reserved > 0:
                    waiter = asyncio.get_running_loop().create_future()
                    self._waiters.append(waiter)
                    await waiter
                    continue
                self._next_estimate = estimate
                self._stop(self._cost_reason())
                continue
            self.n_requests += 1
            self.reserved += estimate
            return estimate

    def _cost_reason(self) -> str:
        cap = self.max_cost
        assert cap is not None
        text = (f"budget: max_cost={cap:g} USD reached: spent {self.spent:.4f} USD of the "
                f"{cap:g} USD cap; the next call, estimated at {self._next_estimate:.4f} USD, "
                "would exceed it")
        if self.spent > cap:
            text += " (spent over the cap: replies used more input tokens than estimated)"
        return text

    def settle(self, reservation: float, usage: Usage | None) -> float | None:
        """End a call: release its reservation and book its actual cost (``None``: unknown).

        ``usage`` is ``None`` for a call that failed (no tokens are known to be billed).
        """
        self.reserved = max(0.0, self.reserved - reservation)
        cost: float | None = 0.0
        if usage is not None:
            self.input_tokens += usage.input_tokens
            self.output_tokens += usage.output_tokens
            cost = self._cost_of(usage)
            if cost is None:
                self.cost_unknown = True
            else:
                self.spent += cost
        self._wake()
        return cost

    def outcome(self, task: str, exc: BaseException | None, mark: tuple[int, int]) -> None:
        """Feed the breaker with how a call of ``task`` ended.

        Parameters
        ----------
        task : str
            The task's key.
        exc : BaseException or None
            ``None`` for a reply, else the call's error.
        mark : tuple of int
            ``breaker.mark()`` when the call started.
        """
        if exc is None:
            self.breaker.reply()
            return
        if not isinstance(exc, ProviderError):
            return
        if exc.status == 429:
            return
        if not is_outage(exc):
            self.breaker.reply()
            return
        if self.breaker.failure(task, self._redact(str(exc)), mark) and self._reason is None:
            b = self.breaker
            self._stop(f"circuit breaker: {b.count} consecutive failed calls with no reply "
                       f"(last: {b.last})", cancel_in_flight=True)
