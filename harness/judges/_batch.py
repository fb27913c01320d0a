"""Judge through a provider's batch API: submit, poll, download, journal.

:func:`run_judge_batch` is the batch counterpart of :func:`~harness.judges.run_judge`: the
same tasks, request parameters and journal, the same :class:`RunResult`, but the pending
calls go to the provider as batches (OpenAI's Batch API, Anthropic's Message Batches) at
the batch price, answered within the provider's window (up to 24 hours) instead of at once.

The flow, per run:

1. Tasks whose journal key is already answered (``ok`` / ``invalid``) come from the journal,
   as in a synchronous run.
2. Batches journaled by an earlier run (the ``batches`` table) and still open are polled
   again, never submitted again: a run killed while it waited resumes where it was.
3. The remaining requests (within ``max_calls`` / ``max_cost``) are split by the provider's
   limits (requests and bytes per batch), each part submitted and journaled the moment the
   provider accepts it. A request's body is the one the synchronous provider sends
   (``build_params`` of the provider class) and its ``custom_id`` the journal key.
4. Every open batch is polled every ``poll_s`` seconds (a progress bar shows the requests
   done); an ended batch's results are parsed with :func:`parse_reply` and journaled as
   :class:`~harness.journal.CallRecord`\\ s exactly like a synchronous call's, so a later
   synchronous run answers them from the journal. Requests that failed or expired in the
   batch are ``failed`` judgments carrying the provider's error text (a re-run submits them
   again); invalid replies are asked again in a new batch, ``parse_retries`` times at most.

Provider specifics (wire format, limits, results) live in :mod:`._batch_openai` and
:mod:`._batch_anthropic`; this module knows only :class:`BatchBackend`.
"""

from __future__ import annotations

import abc
import asyncio
import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

from harness._say import cost_text
from harness.journal import BATCH_JOURNALED, BatchRecord, Journal

from ._base import FatalError, Judge, JudgeReply, JudgeRequest, ProviderError, with_retries
from ._prices import PriceTable
from ._progress import pass_progress
from ._results import Judgment, RunResult
from ._runner import JudgeTask, RequestSpec, RunAborted, RunSettings, _plan, _Run
from ._runner import _Spend as Spend
from ._scoring import InvalidReply, parse_reply

__all__ = [
    "BATCH_PROVIDERS",
    "BatchBackend",
    "BatchOutcome",
    "BatchSettings",
    "BatchState",
    "batch_refusal",
    "custom_id_for",
    "make_backend",
    "run_judge_batch",
    "run_judge_batch_sync",
    "split_batches",
]

log = logging.getLogger(__name__)

#: Providers with a batch API.
BATCH_PROVIDERS = ("openai", "anthropic")

#: What a ``custom_id`` may be at every provider (Anthropic's rule, the stricter).
_CUSTOM_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def batch_refusal(provider: str) -> str | None:
    """Why ``provider`` cannot judge in batches, or None when it can.

    Parameters
    ----------
    provider : str
        The judge's provider name.

    Returns
    -------
    str or None

    Examples
    --------
    >>> batch_refusal("openai") is None
    True
    >>> batch_refusal("local")[:40]
    'provider local has no batch API: --batch'
    """
    if provider in BATCH_PROVIDERS:
        return None
    return (f"provider {provider} has no batch API: --batch (or [run] batch = true) needs "
            f"provider {' or '.join(BATCH_PROVIDERS)}; judge with the local runner instead "
            "(drop --batch)")


def custom_id_for(key: str) -> str:
    """The batch ``custom_id`` of a journal key: the key itself when it is a valid id.

    A journal key (a sha256 hex digest, 64 characters) is one. Anything else (longer, or
    with other characters) maps to ``k`` and the first 63 hex digits of its sha256: the
    same key always gets the same id, and the batch's journal row keeps the mapping.

    Parameters
    ----------
    key : str
        The journal key.

    Returns
    -------
    str
        At most 64 characters of ``[A-Za-z0-9_-]``.

    Examples
    --------
    >>> custom_id_for("ab" * 32) == "ab" * 32
    True
    >>> cid = custom_id_for("x" * 65)
    >>> len(cid), cid[0]
    (64, 'k')
    """
    if _CUSTOM_ID.fullmatch(key):
        return key
    return "k" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:63]


# --------------------------------------------------------------------------- backend


@dataclass(frozen=True)
class BatchState:
    """A batch as the provider reports it on a poll.

    Attributes
    ----------
    batch_id : str
    status : str
        The provider's status (OpenAI ``in_progress``, ``completed``, ``expired``...;
        Anthropic ``in_progress``, ``canceling``, ``ended``).
    ended : bool
        Whether its results can be downloaded (nothing more will change).
    done, total : int
        Requests processed so far, and in all.
    error : str or None
        Why the whole batch, or its unfinished requests, failed (OpenAI's validation
        errors, an expired window, a cancellation), if they did.
    files : tuple of str
        Where the results are (OpenAI's output and error file ids).
    """

    batch_id: str
    status: str
    ended: bool
    done: int = 0
    total: int = 0
    error: str | None = None
    files: tuple[str, ...] = ()


@dataclass(frozen=True)
class BatchOutcome:
    """One request's result in an ended batch: a reply, or the provider's error text."""

    reply: JudgeReply | None = None
    error: str | None = None


class BatchBackend(abc.ABC):
    """A provider's batch API: what :func:`run_judge_batch` needs of it.

    Implementations translate requests with the provider judge's own request builder and
    errors with its SDK error mapping; they keep no state between calls but the judge's.

    Attributes
    ----------
    provider : str
        The provider name.
    endpoint : str
        The judge's endpoint (where batches are journaled as submitted).
    max_requests, max_bytes : int
        The provider's limits per batch (requests, bytes of the request lines).
    """

    provider: str
    endpoint: str
    max_requests: int
    max_bytes: int

    @abc.abstractmethod
    def entry(self, custom_id: str, request: JudgeRequest) -> dict[str, Any]:
        """The batch's JSON entry for one request (its body as a synchronous call's)."""

    @abc.abstractmethod
    async def submit(self, entries: Sequence[dict[str, Any]]) -> str:
        """Submit one batch of entries; the provider's batch id.

        Raises
        ------
        ProviderError
            The batch was not accepted (a :class:`FatalError` when it may have been:
            the caller must not submit it again).
        """

    @abc.abstractmethod
    async def poll(self, batch_id: str) -> BatchState:
        """The batch's state now."""

    @abc.abstractmethod
    async def results(self, state: BatchState, requests: dict[str, JudgeRequest]
                      ) -> dict[str, BatchOutcome]:
        """The outcome of each request of an ended batch, by ``custom_id``.

        Parameters
        ----------
        state : BatchState
            The batch's last state (ended).
        requests : dict of str to JudgeRequest
            The batch's requests by ``custom_id`` (how to read each reply).

        Returns
        -------
        dict of str to BatchOutcome
            Requests without a result in the batch are left out.
        """

    def size(self, entry: dict[str, Any]) -> int:
        """Bytes an entry takes in the batch (its JSON line and the newline)."""
        return len(json.dumps(entry, ensure_ascii=False).encode("utf-8")) + 1


def make_backend(judge: Judge, *, max_requests: int | None = None,
                 max_bytes: int | None = None) -> BatchBackend:
    """The batch backend of ``judge``'s provider.

    Parameters
    ----------
    judge : Judge
        An :class:`~harness.judges.OpenAIJudge` or :class:`~harness.judges.AnthropicJudge`.
    max_requests, max_bytes : int, optional
        Lower limits per batch than the provider's (a test splits at 5 requests).

    Returns
    -------
    BatchBackend

    Raises
    ------
    UnsupportedError
        The provider has no batch API (``local``).
    """
    from ._base import UnsupportedError

    reason = batch_refusal(judge.provider)
    if reason is not None:
        raise UnsupportedError(reason)
    backend: BatchBackend
    if judge.provider == "openai":
        from ._batch_openai import OpenAIBatches

        backend = OpenAIBatches(judge)  # type: ignore[arg-type]
    else:
        from ._batch_anthropic import AnthropicBatches

        backend = AnthropicBatches(judge)  # type: ignore[arg-type]
    if max_requests is not None:
        backend.max_requests = min(backend.max_requests, int(max_requests))
    if max_bytes is not None:
        backend.max_bytes = min(backend.max_bytes, int(max_bytes))
    return backend


def split_batches(sizes: Sequence[int], *, max_requests: int, max_bytes: int
                  ) -> tuple[list[list[int]], list[int]]:
    """Split requests, in order, into batches within the limits.

    Parameters
    ----------
    sizes : sequence of int
        Each request's bytes.
    max_requests, max_bytes : int
        Limits per batch.

    Returns
    -------
    batches : list of list of int
        Indices into ``sizes``, each list one batch.
    too_large : list of int
        Requests larger than ``max_bytes`` on their own (in no batch).

    Examples
    --------
    >>> split_batches([1, 1, 1, 1, 1], max_requests=2, max_bytes=100)
    ([[0, 1], [2, 3], [4]], [])
    >>> split_batches([60, 50, 200, 40], max_requests=10, max_bytes=100)
    ([[0], [1, 3]], [2])
    """
    out: list[list[int]] = []
    too_large: list[int] = []
    current: list[int] = []
    used = 0
    for i, size in enumerate(sizes):
        if size > max_bytes:
            too_large.append(i)
            continue
        if current and (len(current) >= max_requests or used + size > max_bytes):
            out.append(current)
            current, used = [], 0
        current.append(i)
        used += size
    if current:
        out.append(current)
    return out, too_large


# --------------------------------------------------------------------------- settings


@dataclass
class BatchSettings:
    """How a batch run behaves.

    Attributes
    ----------
    poll_s : float
        Seconds between polls of the open batches.
    parse_retries : int
        Invalid replies asked again (each time in a new batch), as ``RunSettings``.
    refresh : bool
        Submit every task again, journaled or not.
    max_calls, max_cost : optional
        The budget: requests submitted, and USD at batch prices (each request's
        conservative estimate reserved when it is submitted).
    max_requests, max_bytes : int, optional
        Lower per-batch limits than the provider's.
    show_progress : bool
        Show the progress bar.
    on_poll : callable, optional
        Called with every :class:`BatchState` polled (tests stop a run there).
    """

    poll_s: float = 30.0
    parse_retries: int = 2
    refresh: bool = False
    max_calls: int | None = None
    max_cost: float | None = None
    max_requests: int | None = None
    max_bytes: int | None = None
    show_progress: bool = True
    on_poll: Callable[[BatchState], None] | None = field(default=None, repr=False)

    def validate(self) -> None:
        """Raise ``ValueError`` for settings that make no sense."""
        if not self.poll_s >= 0:
            raise ValueError(f"poll_s must be >= 0, got {self.poll_s}")
        if self.parse_retries < 0:
            raise ValueError(f"parse_retries must be >= 0, got {self.parse_retries}")
        for name in ("max_requests", "max_bytes"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        self.run_settings().validate()

    def run_settings(self) -> RunSettings:
        """The synchronous runner's settings that apply to a batch run."""
        return RunSettings(parse_retries=self.parse_retries, refresh=self.refresh,
                           max_calls=self.max_calls, max_cost=self.max_cost,
                           circuit_breaker=0, show_progress=self.show_progress)


# --------------------------------------------------------------------------- the run


class _BatchRun:
    """One batch run's state: the tasks, the open batches, what each request spent."""

    def __init__(self, run: _Run, backend: BatchBackend, settings: BatchSettings,
                 pending: dict[str, JudgeTask]) -> None:
        self.run = run
        self.backend = backend
        self.settings = settings
        self.pending = pending
        self.requests = {key: run.spec.request_for(task) for key, task in pending.items()}
        self.results: dict[str, Judgment] = {}
        self.spend: dict[str, Spend] = {}
        self.reserved: dict[str, float] = {}
        self.active: list[BatchRecord] = []
        self.states: dict[str, BatchState] = {}
        self.submitted_at: dict[str, float] = {}
        self.on_done: Callable[[], None] = lambda: None

    @property
    def journal(self) -> Journal:
        return self.run.journal

    # ------------------------------------------------------------ submitting

    def admit(self, keys: list[str]) -> list[str]:
        """The keys the budget lets through (first come); the rest are left pending."""
        ledger, s = self.run.ledger, self.settings
        admitted: list[str] = []
        for key in keys:
            if ledger.stopped is not None:
                break
            if s.max_calls is not None and ledger.n_requests >= s.max_calls:
                ledger._stop(f"budget: max_calls={s.max_calls} reached")
                break
            estimate = ledger.estimate(self.requests[key]) if s.max_cost is not None else 0.0
            if s.max_cost is not None and ledger.spent + ledger.reserved + estimate > s.max_cost:
                ledger._stop(f"budget: max_cost={s.max_cost:g} USD reached: the next "
                             f"request, estimated at {estimate:.4f} USD at batch price, would "
                             f"exceed it ({ledger.spent + ledger.reserved:.4f} USD spent or "
                             "reserved)")
                break
            ledger.n_requests += 1
            ledger.reserved += estimate
            self.reserved[key] = estimate
            admitted.append(key)
        return admitted

    async def submit(self, keys: list[str], round_no: int) -> None:
        """Submit ``keys`` (already admitted) as one batch or more, journaling each."""
        backend = self.backend
        ids = {custom_id_for(k): k for k in keys}
        if len(ids) != len(keys):  # two keys mapping to one id: never expected
            raise FatalError("two journal keys map to one batch custom_id")
        entries = [backend.entry(cid, self.requests[key]) for cid, key in ids.items()]
        cids = list(ids)
        parts, too_large = split_batches([backend.size(e) for e in entries],
                                         max_requests=backend.max_requests,
                                         max_bytes=backend.max_bytes)
        for i in too_large:
            key = ids[cids[i]]
            self.run.ledger.n_requests -= 1  # admitted, never sent
            self.settle(key, self.spend.setdefault(key, Spend()), None)
            self.fail(key, f"the request takes {backend.size(entries[i])} bytes, more than "
                      f"a {backend.provider} batch may hold ({backend.max_bytes})", attempts=0)
        for part in parts:
            batch_id = await backend.submit([entries[i] for i in part])
            record = BatchRecord(
                batch_id=batch_id, provider=backend.provider, endpoint=backend.endpoint,
                model=self.run.judge.model, keys={cids[i]: ids[cids[i]] for i in part},
                status="submitted", round=round_no)
            self.journal.record_batch(record)
            log.info("%s batch %s submitted: %d requests (round %d)", backend.provider,
                     batch_id, len(part), round_no)
            self.active.append(record)
            self.submitted_at[batch_id] = time.time()

    # ------------------------------------------------------------ results

    def spend_of(self, key: str, round_no: int) -> Spend:
        spend = self.spend.setdefault(key, Spend())
        spend.attempts = max(spend.attempts, round_no) + 1
        return spend

    def settle(self, key: str, spend: Spend, reply: JudgeReply | None) -> None:
        usage = None if reply is None else reply.usage
        cost = self.run.ledger.settle(self.reserved.pop(key, 0.0), usage)
        if usage is not None:
            spend.input_tokens += usage.input_tokens
            spend.output_tokens += usage.output_tokens
            spend.cost = None if cost is None or spend.cost is None else spend.cost + cost

    def fail(self, key: str, error: str, *, attempts: int | None = None) -> None:
        spend = self.spend.setdefault(key, Spend())
        if attempts is not None:
            spend.attempts = attempts
        self.results[key] = self.run.finish(self.pending[key], key, "failed", spend,
                                            error=error)
        self.on_done()

    async def collect(self, record: BatchRecord, state: BatchState,
                      outcomes: dict[str, BatchOutcome] | None = None) -> list[str]:
        """Journal an ended batch's results (downloaded unless ``outcomes`` are given); the
        keys whose replies are to be asked again."""
        cids = {cid: key for cid, key in record.keys.items()
                if key in self.pending and key not in self.results}
        if outcomes is None:
            outcomes = await self.backend.results(state, {cid: self.requests[key]
                                                          for cid, key in cids.items()})
        elapsed = time.time() - (self.submitted_at.get(record.batch_id) or record.created_at)
        where = f"{self.backend.provider} batch {record.batch_id}"
        reask: list[str] = []
        rounds = 1 + self.settings.parse_retries
        # one transaction for the whole batch (no await inside: nothing else writes);
        # a run killed here re-downloads the batch, which is not yet marked journaled
        with self.journal.bulk():
            for cid, key in cids.items():
                task = self.pending[key]
                spend = self.spend_of(key, record.round)
                spend.latency_s += max(0.0, elapsed)
                outcome = outcomes.get(cid)
                if outcome is None:
                    self.settle(key, spend, None)
                    why = f": {state.error}" if state.error else ""
                    self.fail(key, f"{where} ended ({state.status}) without a result for this "
                              f"request{why}")
                    continue
                self.settle(key, spend, outcome.reply)
                if outcome.reply is None:
                    self.fail(key, f"{where}: {outcome.error or 'no reply'}")
                    continue
                request = self.requests[key]
                try:
                    parsed = parse_reply(outcome.reply, request)
                except InvalidReply as exc:
                    if record.round + 1 < rounds:
                        log.info("%s sample %d: invalid reply (%d of %d): %s", task.item_id,
                                 task.sample_index, record.round + 1, rounds,
                                 self.run.redact(exc.reason))
                        reask.append(key)
                        continue
                    self.results[key] = self.run.finish(
                        task, key, "invalid", spend, raw=outcome.reply.raw,
                        error=f"invalid reply in {rounds} of {rounds} tries; last: {exc.reason}")
                    self.on_done()
                    continue
                self.results[key] = self.run.finish(
                    task, key, "ok", spend,
                    score=None if parsed.scores is not None else parsed.score,
                    scores=parsed.scores, reasoning=parsed.reasoning, raw=outcome.reply.raw)
                self.on_done()
        return reask

    # ------------------------------------------------------------ polling

    async def poll_all(self, sleep: Callable[[float], Any]) -> None:
        """Poll the open batches until every one is journaled."""
        while self.active:
            for record in list(self.active):
                try:
                    state = await with_retries(lambda r=record: self.backend.poll(r.batch_id))
                except FatalError as exc:
                    if exc.status != 404:
                        raise
                    # The provider no longer knows it (deleted, or another account's key):
                    # its requests fail, and the next run submits them again.
                    state = BatchState(batch_id=record.batch_id, status="not found",
                                       ended=True, error=f"the provider does not know the "
                                       f"batch any more ({exc})")
                    self.states[record.batch_id] = state
                    await self.close(record, state, collect=False)
                    continue
                self.states[record.batch_id] = state
                if state.status != record.status and not state.ended:
                    self.journal.set_batch_status(record.batch_id, state.status)
                self.on_done()
                if self.settings.on_poll is not None:
                    self.settings.on_poll(state)
                if state.ended:
                    await self.close(record, state)
            if self.active:
                await sleep(self.settings.poll_s)

    async def close(self, record: BatchRecord, state: BatchState, *, collect: bool = True
                    ) -> None:
        """Journal an ended batch's results (``collect=False``: none, every request fails)
        and submit its invalid replies again."""
        outcomes = None if collect else {}
        reask = await self.collect(record, state, outcomes)
        # Journaled before a re-ask is submitted: a run killed in between submits the
        # re-asked requests again as new ones, never this batch's twice.
        self.journal.set_batch_status(record.batch_id, BATCH_JOURNALED)
        self.active.remove(record)
        if reask:
            for key in reask:
                self.run.ledger.n_requests += 1
                self.reserved[key] = 0.0
            await self.submit(reask, record.round + 1)

    def stats_text(self, n_cached: int) -> str:
        c, led = self.run.counts, self.run.ledger
        done = sum(s.done for b, s in self.states.items()
                   if any(r.batch_id == b for r in self.active))
        total = sum(s.total for b, s in self.states.items()
                    if any(r.batch_id == b for r in self.active))
        status = ", ".join(sorted({self.states[r.batch_id].status for r in self.active
                                   if r.batch_id in self.states})) or "-"
        cost = cost_text(None if led.cost_unknown else led.spent)
        return (f"batches {len(self.active)} open ({status}; {done}/{total} done) | cached "
                f"{n_cached} | ok {c['ok']} | invalid {c['invalid']} | failed {c['failed']} "
                f"| cost {cost}")


async def run_judge_batch(
    judge: Judge,
    tasks: Sequence[JudgeTask],
    spec: RequestSpec,
    journal: Journal,
    settings: BatchSettings | None = None,
    *,
    prices: PriceTable | None = None,
    secrets: Sequence[str] = (),
    console: Console | None = None,
    backend: BatchBackend | None = None,
) -> RunResult:
    """Judge every task once through the provider's batch API (see the module docstring).

    Parameters
    ----------
    judge : Judge
        An OpenAI or Anthropic judge (not closed here).
    tasks : sequence of JudgeTask
        As in :func:`~harness.judges.run_judge` (tasks sharing a journal key are sent once).
    spec : RequestSpec
        The request parameters.
    journal : Journal
        Results are read from and written to it; so are the batches submitted.
    settings : BatchSettings, optional
        Poll interval, re-asks, budget, limits, progress.
    prices : PriceTable, optional
        List prices (default: the shipped table and the state directory's); costs are
        computed at batch prices (:meth:`PriceTable.for_batch`).
    secrets : sequence of str
        Strings removed from everything stored, returned or logged (as for ``run_judge``).
    console : rich.console.Console, optional
        Where the progress bar goes.
    backend : BatchBackend, optional
        Default :func:`make_backend` of the judge with the settings' limits.

    Returns
    -------
    RunResult
        As :func:`~harness.judges.run_judge`'s. ``elapsed_s`` includes the wait for the
        batches; each judgment's ``latency_s`` is its batch's time from submission (or
        from this run's start, for a batch resumed) to its results.

    Raises
    ------
    UnsupportedError
        The judge's provider has no batch API (before anything is submitted).
    RunAborted
        A fatal provider error (the upload or the batch refused, logprob mode on a judge
        without logprobs) or a batch that cannot be polled: judgments finished before are
        journaled, batches submitted stay journaled and a re-run polls them again.
    ValueError
        Invalid settings, or ``max_cost`` with a model of unknown price.
    """
    settings = settings if settings is not None else BatchSettings()
    settings.validate()
    if backend is None:
        backend = make_backend(judge, max_requests=settings.max_requests,
                               max_bytes=settings.max_bytes)
    if prices is None:
        prices = PriceTable.load(state_dir=journal.path.parent)
    plan = _plan(judge, tasks, spec, journal, settings.run_settings(), prices.for_batch(),
                 secrets)
    run = plan.run
    state = _BatchRun(run, backend, settings, dict(plan.pending))
    state.results.update(plan.results)
    n_cached = plan.n_cached

    with pass_progress("batch", total=len(plan.first), completed=n_cached,
                       stats=state.stats_text(n_cached), console=console,
                       enabled=settings.show_progress, eta=False) as update:

        def on_done() -> None:
            update(completed=len(state.results), stats=state.stats_text(n_cached))

        state.on_done = on_done
        try:
            # Batches an earlier run submitted for these keys: polled, never sent again.
            covered: set[str] = set()
            for record in journal.batches(provider=backend.provider, endpoint=backend.endpoint,
                                          model=judge.model, open_only=True):
                mine = [k for k in record.keys.values() if k in state.pending]
                if mine and not settings.refresh:
                    state.active.append(record)
                    covered.update(mine)
                    for key in mine:
                        state.run.ledger.n_requests += 1
                        state.reserved[key] = 0.0
                    log.info("%s batch %s: resumed (%d requests of this run)",
                             backend.provider, record.batch_id, len(mine))
            fresh = state.admit([k for k in state.pending if k not in covered])
            if fresh:
                await state.submit(fresh, 0)
            on_done()
            await state.poll_all(asyncio.sleep)
        except ProviderError as exc:
            open_ids = ", ".join(r.batch_id for r in state.active)
            message = run.redact(
                f"run aborted: {judge.provider}/{judge.model} batch run: "
                f"{type(exc).__name__}"
                + (f" (status {exc.status})" if exc.status is not None else "")
                + f": {exc}."
                + (f" Batches still open ({open_ids}) are in the journal: a re-run polls them "
                   "again and submits nothing twice." if open_ids else ""))
            aborted = RunAborted(message, status=exc.status)
            aborted.partial = plan.result(state.results)
            raise aborted from None
    return plan.result(state.results)


def run_judge_batch_sync(
    judge: Judge,
    tasks: Sequence[JudgeTask],
    spec: RequestSpec,
    journal: Journal,
    settings: BatchSettings | None = None,
    *,
    prices: PriceTable | None = None,
    secrets: Sequence[str] = (),
    console: Console | None = None,
    backend: BatchBackend | None = None,
) -> RunResult:
    """:func:`run_judge_batch` in a fresh event loop (``asyncio.run``).

    Parameters
    ----------
    judge, tasks, spec, journal, settings, prices, secrets, console, backend
        As in :func:`run_judge_batch`.

    Returns
    -------
    RunResult
    """
    return asyncio.run(run_judge_batch(judge, tasks, spec, journal, settings, prices=prices,
                                       secrets=secrets, console=console, backend=backend))
