"""Run a judge over many tasks: concurrency, retries, budgets, and the journal.

Every task (one item, one sample) is keyed by :func:`harness.journal.call_key`. A task whose
key is in the journal with status ``ok`` or ``invalid`` is answered from there without a
call; every finished task is journaled the moment it ends, so a run that is killed, aborted
or stopped (budget, circuit breaker) loses nothing it computed and a re-run calls only for
the rest. The budget and the breaker live in :mod:`._accounting`, the outputs in
:mod:`._results`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from rich.console import Console
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)
from tenacity.wait import wait_base

from harness._say import cost_text
from harness.journal import CallRecord, Journal, call_key, canonical_json, redact

from ._accounting import CircuitBreaker, Ledger
from ._base import (
    FatalError,
    Judge,
    JudgeReply,
    JudgeRequest,
    Message,
    ProviderError,
    RetryableError,
    ScoreField,
    ScoringMode,
    Usage,
)
from ._prices import PriceTable
from ._progress import pass_progress
from ._results import Judgment, JudgmentStatus, RunResult
from ._scoring import InvalidReply, parse_reply

__all__ = [
    "JudgeTask",
    "Judgment",
    "RequestSpec",
    "RetryAfterWait",
    "RunAborted",
    "RunResult",
    "RunSettings",
    "run_judge",
    "run_judge_sync",
]

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class JudgeTask:
    """One judge call to make: an item's rendered messages and the sample number."""

    item_id: str
    sample_index: int
    messages: tuple[Message, ...]
    prompt_name: str | None = None
    prompt_version: str | None = None
    prompt_hash: str | None = None
    anchor_set: str | None = None


@dataclass(frozen=True)
class RequestSpec:
    """The request parameters shared by every task of a run.

    :meth:`params` is the ``params`` part of the journal key: changing any field makes
    new calls. ``fields`` (a scorecard judged in one call: one score per question) is
    left out of the params when empty, so one-score keys are those of earlier versions.
    """

    mode: ScoringMode
    scale_min: int
    scale_max: int
    temperature: float = 0.0
    max_tokens: int = 512
    top_logprobs: int = 20
    seed: int | None = None
    min_score_mass: float = 0.5
    fields: tuple[ScoreField, ...] = ()

    def __post_init__(self) -> None:
        if self.mode not in ("structured", "logprob"):
            raise ValueError(f"mode must be 'structured' or 'logprob', got {self.mode!r}")
        if self.fields:
            names = [f.name for f in self.fields]
            if self.mode != "structured":
                raise ValueError("several scores in one call need mode 'structured'")
            if len(set(names)) != len(names) or "reasoning" in names:
                raise ValueError(f"field names must be distinct and not 'reasoning': {names}")
        if not (isinstance(self.scale_min, int) and isinstance(self.scale_max, int)):
            raise ValueError("scale_min and scale_max must be integers")
        if self.scale_min >= self.scale_max:
            raise ValueError(f"empty scale {self.scale_min}-{self.scale_max}")
        if not 0.0 < self.min_score_mass <= 1.0:
            raise ValueError(f"min_score_mass must be in (0, 1], got {self.min_score_mass}")

    def request_for(self, task: JudgeTask) -> JudgeRequest:
        """The provider request for ``task``.

        Parameters
        ----------
        task : JudgeTask
            The task.

        Returns
        -------
        JudgeRequest
            With ``seed + task.sample_index`` as the seed when a seed is set, so that the
            samples of one item are not forced to be identical by a shared seed.
        """
        seed = None if self.seed is None else self.seed + task.sample_index
        return JudgeRequest(
            messages=tuple(task.messages),
            mode=self.mode,
            scale_min=self.scale_min,
            scale_max=self.scale_max,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            top_logprobs=self.top_logprobs,
            seed=seed,
            min_score_mass=self.min_score_mass,
            fields=self.fields,
        )

    def params(self) -> dict[str, Any]:
        """The request parameters as the journal key holds them."""
        out = asdict(self)
        if not self.fields:
            del out["fields"]
        return out


@dataclass
class RunSettings:
    """How a run behaves: concurrency, retries, deadlines, budget, progress display."""

    concurrency: int = 8
    max_attempts: int = 6
    parse_retries: int = 2
    call_deadline_s: float = 120.0
    retry_after_cap_s: float = 60.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    refresh: bool = False
    max_calls: int | None = None
    max_cost: float | None = None
    circuit_breaker: int = 5
    show_progress: bool = True

    def validate(self) -> None:
        """Raise ``ValueError`` for settings that make no sense."""
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {self.concurrency}")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if self.parse_retries < 0:
            raise ValueError(f"parse_retries must be >= 0, got {self.parse_retries}")
        if not self.call_deadline_s > 0:
            raise ValueError(f"call_deadline_s must be > 0, got {self.call_deadline_s}")
        for name in ("retry_after_cap_s", "backoff_initial_s", "backoff_max_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.max_calls is not None and self.max_calls < 0:
            raise ValueError(f"max_calls must be >= 0, got {self.max_calls}")
        if self.max_cost is not None and not self.max_cost >= 0:
            raise ValueError(f"max_cost must be >= 0, got {self.max_cost}")


class RunAborted(ProviderError):
    """The run was aborted: a fatal provider error that every other call would repeat.

    Judgments finished before the abort are in the journal; ``partial`` holds the
    :class:`RunResult` so far (unfinished tasks ``skipped``).
    """

    partial: RunResult | None = None


class _Stopped(Exception):
    """Internal: the run stopped (budget or circuit breaker); no call may start."""


# --------------------------------------------------------------------------- retry wait


class RetryAfterWait(wait_base):
    """Tenacity wait: the provider's Retry-After (capped) if given, else full-jitter backoff.

    Parameters
    ----------
    initial_s : float
        Window of the first exponential backoff, ``wait_random_exponential(multiplier=...)``.
    max_s : float
        Largest backoff window.
    retry_after_cap_s : float
        Largest wait honoured from a Retry-After header.
    """

    def __init__(self, initial_s: float, max_s: float, retry_after_cap_s: float) -> None:
        self._backoff = wait_random_exponential(multiplier=initial_s, max=max_s)
        self._cap = retry_after_cap_s

    def __call__(self, retry_state: RetryCallState) -> float:
        """Seconds to wait before the next attempt."""
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None and outcome.failed else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            try:
                value = float(retry_after)
            except (TypeError, ValueError):
                value = math.nan
            if math.isfinite(value) and value >= 0:
                return min(value, self._cap)
        return float(self._backoff(retry_state))


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, ProviderError) and exc.retryable


# --------------------------------------------------------------------------- the run


@dataclass
class _Spend:
    """What one task's calls cost, summed over its attempts."""

    attempts: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float | None = 0.0
    latency_s: float = 0.0


class _Run:
    def __init__(
        self,
        judge: Judge,
        spec: RequestSpec,
        journal: Journal | None,
        settings: RunSettings,
        prices: PriceTable,
        secrets: Sequence[str],
    ) -> None:
        self.judge = judge
        self.spec = spec
        self.journal = journal
        self.settings = settings
        self.prices = prices
        self.secrets = tuple(s for s in secrets if s)
        self.identity = judge.identity()
        self.params = spec.params()
        self.params_json = canonical_json(self.params)
        self.ledger = Ledger(
            max_calls=settings.max_calls, max_cost=settings.max_cost,
            cost_of=lambda usage: prices.cost(judge.provider, judge.model, usage),
            breaker=CircuitBreaker(settings.circuit_breaker), redact=self.redact,
        )
        self.counts: Counter[str] = Counter()
        self.on_done: Callable[[Judgment], None] = lambda j: None

    @property
    def stopped(self) -> str | None:
        return self.ledger.stopped

    def redact(self, text: str) -> str:
        return redact(text, self.secrets) or ""

    # ------------------------------------------------------------ one task

    async def attempt(self, request: JudgeRequest, spend: _Spend, key: str) -> JudgeReply:
        """One provider call, within the budget, the deadline and the breaker."""
        ledger = self.ledger
        reservation = await ledger.acquire(request)
        if reservation is None:
            raise _Stopped(ledger.stopped)
        spend.attempts += 1
        usage: Usage | None = None
        mark = ledger.breaker.mark()
        t0 = time.perf_counter()
        call = asyncio.ensure_future(self.judge.complete(request))
        try:
            await asyncio.wait({call, ledger.tripped}, timeout=self.settings.call_deadline_s,
                               return_when=asyncio.FIRST_COMPLETED)
            if call.done():
                try:
                    reply = call.result()
                except ProviderError as exc:
                    ledger.outcome(key, exc, mark)
                    raise
            elif ledger.tripped.done():  # the breaker tripped: this call is abandoned
                raise _Stopped(ledger.stopped)
            else:
                exc = RetryableError(
                    f"no reply within call_deadline_s={self.settings.call_deadline_s:g} s")
                ledger.outcome(key, exc, mark)
                raise exc
            usage = reply.usage or Usage()
            ledger.outcome(key, None, mark)
        finally:
            if not call.done():
                call.cancel()
                await asyncio.wait({call})
            if not call.cancelled():
                with contextlib.suppress(BaseException):
                    call.exception()  # retrieved: no "never retrieved" warning
            spend.latency_s += time.perf_counter() - t0
            cost = ledger.settle(reservation, usage)
            if usage is not None:
                spend.input_tokens += usage.input_tokens
                spend.output_tokens += usage.output_tokens
                spend.cost = None if cost is None or spend.cost is None else spend.cost + cost
        return reply

    async def call(self, request: JudgeRequest, task: JudgeTask, spend: _Spend,
                   key: str) -> JudgeReply:
        """One reply, retrying retryable errors; raises the last error when they run out."""
        s = self.settings

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome is not None else None
            log.info(
                "%s sample %d: attempt %d failed (%s), retrying in %.2f s",
                task.item_id, task.sample_index, state.attempt_number,
                self.redact(f"{type(exc).__name__}: {exc}"), state.upcoming_sleep,
            )

        retrying = AsyncRetrying(
            retry=retry_if_exception(_is_retryable),
            wait=RetryAfterWait(s.backoff_initial_s, s.backoff_max_s, s.retry_after_cap_s),
            stop=stop_after_attempt(s.max_attempts),
            before_sleep=before_sleep,
            sleep=self.ledger.sleep,  # a backoff ends early when the run stops
            reraise=True,
        )
        reply: JudgeReply | None = None
        async for attempt_ctx in retrying:
            with attempt_ctx:
                reply = await self.attempt(request, spend, key)
        assert reply is not None
        return reply

    async def run_task(self, task: JudgeTask, key: str) -> Judgment:
        request = self.spec.request_for(task)
        spend = _Spend()
        rounds = 1 + self.settings.parse_retries
        last: tuple[str, InvalidReply] | None = None
        reply_model: str | None = None  # as the provider reported it in its last reply
        for round_no in range(rounds):
            # A re-ask sends the identical request. A deterministic provider (temperature 0,
            # a fixed seed, a local model, a provider-side cache) may well return the same
            # invalid reply again; those re-asks are then wasted, but they are ordinary calls:
            # counted in n_requests, tokens and cost, checked against the budget, and
            # bounded by parse_retries. The request is deliberately not altered to coax a
            # valid reply, since that would change what is being measured.
            try:
                reply = await self.call(request, task, spend, key)
            except _Stopped:
                note = f"not run: {self.stopped}"
                if spend.attempts:
                    note = f"unfinished after {spend.attempts} calls: {self.stopped}"
                return self.finish(task, key, "skipped", spend, error=note, journal=False)
            except FatalError as exc:
                raise self.abort(task, exc) from None
            except ProviderError as exc:  # retries exhausted, or a non-retryable error
                what = "retries exhausted" if exc.retryable else "not retryable"
                status = f" (status {exc.status})" if exc.status is not None else ""
                error = (
                    f"{type(exc).__name__}{status}: {exc} "
                    f"[{what}; {spend.attempts} attempts]"
                )
                return self.finish(task, key, "failed", spend, error=error)
            try:
                parsed = parse_reply(reply, request)
            except InvalidReply as exc:
                last = (reply.raw, exc)
                reply_model = reply.model
                log.info("%s sample %d: invalid reply (%d of %d): %s", task.item_id,
                         task.sample_index, round_no + 1, rounds, self.redact(exc.reason))
                continue
            return self.finish(task, key, "ok", spend,
                               score=None if parsed.scores is not None else parsed.score,
                               scores=parsed.scores, reasoning=parsed.reasoning, raw=reply.raw,
                               reply_model=reply.model)
        assert last is not None
        raw, exc = last
        error = f"invalid reply in {rounds} of {rounds} tries; last: {exc.reason}"
        return self.finish(task, key, "invalid", spend, raw=raw, error=error,
                           reply_model=reply_model)

    def finish(
        self,
        task: JudgeTask,
        key: str,
        status: JudgmentStatus,
        spend: _Spend,
        *,
        score: float | None = None,
        scores: dict[str, float] | None = None,
        reasoning: str | None = None,
        raw: str | None = None,
        error: str | None = None,
        journal: bool = True,
        reply_model: str | None = None,
    ) -> Judgment:
        # Replies are stored and shown: a proxy or an injected model may echo the key. The
        # reply was parsed before this point; only what is kept is redacted.
        error, raw, reasoning = (redact(t, self.secrets) for t in (error, raw, reasoning))
        judgment = Judgment(
            key=key, item_id=task.item_id, sample_index=task.sample_index, status=status,
            score=score, reasoning=reasoning, raw_reply=raw, error=error, cached=False,
            attempts=spend.attempts, input_tokens=spend.input_tokens,
            output_tokens=spend.output_tokens, cost=spend.cost,
            latency_s=spend.latency_s if spend.attempts else None, scores=scores,
            reply_model=reply_model,
        )
        if journal and self.journal is not None:  # None: a Ray worker, the driver journals
            assert status != "skipped"
            self.journal.put(self.record(task, judgment))
        self.counts[status] += 1
        self.on_done(judgment)
        return judgment

    def record(self, task: JudgeTask, j: Judgment) -> CallRecord:
        """The journal record of a finished (not skipped) task's judgment."""
        return CallRecord(
            key=j.key, status=j.status, provider=self.judge.provider, model=self.judge.model,
            params=self.params_json, item_id=task.item_id, sample_index=task.sample_index,
            messages=canonical_json([m.to_dict() for m in task.messages]),
            prompt_name=task.prompt_name, prompt_version=task.prompt_version,
            prompt_hash=task.prompt_hash, anchor_set=task.anchor_set, raw_reply=j.raw_reply,
            score=j.score, scores=None if j.scores is None else canonical_json(j.scores),
            reasoning=j.reasoning, error=j.error, attempts=j.attempts,
            input_tokens=j.input_tokens, output_tokens=j.output_tokens,
            cost=j.cost,  # None: unknown price
            latency_s=j.latency_s, reply_model=j.reply_model,
        )

    def abort(self, task: JudgeTask, exc: FatalError) -> RunAborted:
        status = f" (status {exc.status})" if exc.status is not None else ""
        message = self.redact(
            f"run aborted: {self.judge.provider}/{self.judge.model} raised "
            f"{type(exc).__name__}{status} on item {task.item_id!r} sample "
            f"{task.sample_index}: {exc}. Every other call would fail the same way; "
            f"the {sum(self.counts.values())} judgments finished before the abort are in "
            "the journal."
        )
        return RunAborted(message, status=exc.status)

    def cached(self, task: JudgeTask, record: CallRecord) -> Judgment:
        usage = Usage(record.input_tokens, record.output_tokens)
        cost = self.prices.cost(self.judge.provider, self.judge.model, usage)
        if cost is None and record.cost is not None:  # priced then, no longer in the table
            cost = record.cost
        return Judgment(
            key=record.key, item_id=task.item_id, sample_index=task.sample_index,
            status=record.status, score=record.score,
            # journals written before replies were redacted on the way in
            reasoning=redact(record.reasoning, self.secrets),
            raw_reply=redact(record.raw_reply, self.secrets),
            error=redact(record.error, self.secrets),
            cached=True,
            attempts=record.attempts, input_tokens=record.input_tokens,
            output_tokens=record.output_tokens,
            cost=cost, latency_s=record.latency_s,
            scores=None if record.scores is None else json.loads(record.scores),
            reply_model=record.reply_model,
        )


def _skipped(task: JudgeTask, key: str, reason: str) -> Judgment:
    return Judgment(
        key=key, item_id=task.item_id, sample_index=task.sample_index, status="skipped",
        score=None, reasoning=None, raw_reply=None, error=reason, cached=False, attempts=0,
        input_tokens=0, output_tokens=0, cost=0.0, latency_s=None,
    )


def _reused(j: Judgment, task: JudgeTask) -> Judgment:
    """The judgment of a task whose key repeats an earlier task's: the same call's result."""
    if j.status == "skipped":
        return replace(j, item_id=task.item_id)
    return replace(j, item_id=task.item_id, cached=True, attempts=0, input_tokens=0,
                   output_tokens=0, cost=0.0, latency_s=None)


def _stats_text(run: _Run, n_cached: int) -> str:
    c, led = run.counts, run.ledger
    return (
        f"cached {n_cached} | ok {c['ok']} | invalid {c['invalid']} | failed {c['failed']} "
        f"| calls {led.n_requests} | tokens {led.input_tokens}+{led.output_tokens} "
        f"| cost {cost_text(None if led.cost_unknown else led.spent)}"
    )


@dataclass
class _Plan:
    """A run before its calls: the tasks' keys, the journal's answers, what is pending."""

    run: _Run
    tasks: Sequence[JudgeTask]
    keys: list[str]
    first: dict[str, JudgeTask]  # the first task of each key
    results: dict[str, Judgment]  # answered from the journal so far
    pending: deque[tuple[str, JudgeTask]]
    n_cached: int  # distinct keys answered from the journal
    t_start: float

    def result(self, results: dict[str, Judgment]) -> RunResult:
        """The run's result: ``results`` (by key) in task order, the rest ``skipped``."""
        run = self.run
        judgments: list[Judgment] = []
        for key, task in zip(self.keys, self.tasks, strict=True):
            j = results.get(key) or _skipped(task, key, f"not run: {run.stopped or 'aborted'}")
            judgments.append(j if self.first[key] is task else _reused(j, task))
        by_status = Counter(j.status for j in judgments)
        led = run.ledger
        return RunResult(
            judgments=judgments, stopped=led.stop_message(by_status["skipped"]),
            n_requests=led.n_requests, n_cached=sum(j.cached for j in judgments),
            n_ok=by_status["ok"], n_invalid=by_status["invalid"],
            n_failed=by_status["failed"], n_skipped=by_status["skipped"],
            input_tokens=led.input_tokens, output_tokens=led.output_tokens,
            cost=None if led.cost_unknown else led.spent,
            elapsed_s=time.perf_counter() - self.t_start,
        )

    @contextlib.contextmanager
    def progress(self, console: Console | None) -> Iterator[Callable[[Judgment], None]]:
        """The progress bar; yields the callback that advances it by one judgment."""
        run = self.run
        with pass_progress("judging", total=len(self.first), completed=self.n_cached,
                           stats=_stats_text(run, self.n_cached), console=console,
                           enabled=run.settings.show_progress) as update:

            def on_done(_: Judgment) -> None:
                update(advance=1, stats=_stats_text(run, self.n_cached))

            yield on_done


def _plan(
    judge: Judge,
    tasks: Sequence[JudgeTask],
    spec: RequestSpec,
    journal: Journal,
    settings: RunSettings | None,
    prices: PriceTable | None,
    secrets: Sequence[str],
) -> _Plan:
    """Check the settings, key every task and answer what the journal holds.

    The part of :func:`run_judge` before any call, shared with the Ray engine
    (:mod:`._ray`). Raises as :func:`run_judge` does (``ValueError``, ``RunAborted``).
    """
    settings = settings if settings is not None else RunSettings()
    settings.validate()
    if prices is None:
        prices = PriceTable.load(state_dir=journal.path.parent)
    t_start = time.perf_counter()
    if settings.max_cost is not None and not prices.knows(judge.provider, judge.model):
        raise ValueError(
            f"max_cost={settings.max_cost:g} is set but the price of {judge.provider}/"
            f"{judge.model} is unknown, so a cost budget cannot be enforced; add it to a "
            "prices.toml (USD per million input/output tokens) or drop max_cost"
        )
    run = _Run(judge, spec, journal, settings, prices, secrets)
    judge.bind_journal(journal)

    keys = [
        call_key(identity=run.identity, params=run.params,
                 messages=[m.to_dict() for m in t.messages], sample_index=t.sample_index)
        for t in tasks
    ]
    first: dict[str, JudgeTask] = {}
    for key, task in zip(keys, tasks, strict=True):
        first.setdefault(key, task)
    records = journal.get_many(first)
    results: dict[str, Judgment] = {}
    pending: deque[tuple[str, JudgeTask]] = deque()
    for key, task in first.items():
        rec = records.get(key)
        if rec is not None and rec.status in ("ok", "invalid") and not settings.refresh:
            results[key] = run.cached(task, rec)
        else:
            pending.append((key, task))
    n_cached_unique = len(results)

    if pending and spec.mode == "logprob" and not judge.supports_logprobs:
        raise RunAborted(
            f"run aborted: {judge.provider}/{judge.model} does not support logprob scoring "
            "(supports_logprobs is False); use mode='structured' or another judge"
        )

    return _Plan(run=run, tasks=tasks, keys=keys, first=first, results=results,
                 pending=pending, n_cached=n_cached_unique, t_start=t_start)


async def run_judge(
    judge: Judge,
    tasks: Sequence[JudgeTask],
    spec: RequestSpec,
    journal: Journal,
    settings: RunSettings | None = None,
    *,
    prices: PriceTable | None = None,
    secrets: Sequence[str] = (),
    console: Console | None = None,
) -> RunResult:
    """Judge every task once, answering from the journal what is already there.

    Parameters
    ----------
    judge : Judge
        The provider. It is not closed here.
    tasks : sequence of JudgeTask
        The calls to make (one per item and sample). Tasks with the same journal key (the
        same messages and sample index under another item id) are called once and share
        the result (the repeats are marked ``cached``).
    spec : RequestSpec
        The request parameters.
    journal : Journal
        Where results are read from and written to, each the moment it is finished.
    settings : RunSettings, optional
        Concurrency, retries, deadline, budget, progress (defaults: ``RunSettings()``).
    prices : PriceTable, optional
        Token prices; by default the shipped table overridden by ``prices.toml`` in the
        journal's directory (the state directory).
    secrets : sequence of str
        Strings (API keys) removed, with anything shaped like a key, from every text that
        is stored, returned or logged: errors, replies and reasoning (a proxy or an
        injected model may echo the key), also when read back from the journal.
    console : rich.console.Console, optional
        Where the progress bar goes.

    Returns
    -------
    RunResult
        Judgments in task order, and totals. A run stopped by its budget or by the circuit
        breaker returns normally, with the unfinished tasks ``skipped`` (not journaled, so
        a re-run calls for them) and the reason in ``stopped``. ``max_calls`` stops before
        a call beyond it; ``max_cost`` reserves every call in flight's estimated cost (see
        :mod:`harness.judges._accounting`) and starts no call that could exceed it; the
        circuit breaker (``RunSettings.circuit_breaker`` consecutive connection errors,
        timeouts or 5xx with no reply between them, persisting across a retry, over two
        tasks at least) cancels the calls in flight.

    Raises
    ------
    RunAborted
        A :class:`FatalError` (authentication, bad request, unsupported request, including
        logprob mode on a judge without logprobs): pending calls are cancelled; finished
        judgments stay journaled and are in ``RunAborted.partial``.
    ValueError
        Invalid settings, or ``max_cost`` set for a model with no known price (a cost budget
        cannot be enforced without one).
    """
    plan = _plan(judge, tasks, spec, journal, settings, prices, secrets)
    run, pending, results = plan.run, plan.pending, plan.results
    settings = run.settings
    limit = settings.concurrency
    if judge.max_concurrency:
        limit = min(limit, judge.max_concurrency)

    with plan.progress(console) as progress:
        run.on_done = progress

        async def worker() -> None:
            while pending and run.stopped is None:
                key, task = pending.popleft()
                results[key] = await run.run_task(task, key)

        workers = [asyncio.create_task(worker()) for _ in range(min(limit, len(pending)))]
        try:
            if workers:
                done, _ = await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
                errors = [w.exception() for w in done if not w.cancelled() and w.exception()]
                if errors:
                    raise errors[0]
        except RunAborted as exc:
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            exc.partial = plan.result(results)
            raise
        finally:
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
    return plan.result(results)


def run_judge_sync(
    judge: Judge,
    tasks: Sequence[JudgeTask],
    spec: RequestSpec,
    journal: Journal,
    settings: RunSettings | None = None,
    *,
    prices: PriceTable | None = None,
    secrets: Sequence[str] = (),
    console: Console | None = None,
) -> RunResult:
    """:func:`run_judge` in a fresh event loop (``asyncio.run``); same parameters and result.

    Parameters
    ----------
    judge, tasks, spec, journal, settings, prices, secrets, console
        As in :func:`run_judge`.

    Returns
    -------
    RunResult
        As in :func:`run_judge`.
    """
    return asyncio.run(run_judge(judge, tasks, spec, journal, settings, prices=prices,
                                 secrets=secrets, console=console))
