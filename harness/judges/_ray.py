"""The Ray engine: a judge's calls on Ray workers, the journal on the driver.

For judges on a team's own models (vLLM or llama.cpp servers, the embedded model) with many
items. :func:`run_judge_ray` does what :func:`harness.judges.run_judge` does, with the same
task keys, journal answers, retries, re-asks and budget checks (the runner's own code, run
inside each worker), but the calls are made by Ray actors, each holding its own judge (an
SDK client, or a loaded model), built there by a factory: no key travels through Ray, a
worker reads it from its own environment.

The driver alone writes the journal: it sends at most ``concurrency`` tasks out at a time
and journals each result the moment it comes back (a ``ray.wait`` loop), so a run killed
midway keeps every finished result and a re-run sends only the missing tasks.

Ray is an optional dependency (``judgecal[ray]``), imported only when a run starts. With
``RAY_ADDRESS`` set the run joins that cluster, otherwise Ray starts locally.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from rich.console import Console

from harness.journal import Journal

from ._base import FatalError, Judge
from ._prices import PriceTable
from ._runner import (
    JudgeTask,
    Judgment,
    RequestSpec,
    RunAborted,
    RunResult,
    RunSettings,
    _plan,
    _Run,
)

__all__ = ["JudgeFactory", "RayUnavailable", "ray_layout", "run_judge_ray"]

log = logging.getLogger("harness.judges._runner")

#: Builds the judge inside a worker (a picklable callable: a module-level function or a
#: ``functools.partial`` of one; never a judge holding a key).
JudgeFactory = Callable[[], Judge]

#: In-flight calls one worker takes when its judge sets no bound (OpenAI-compatible servers).
CALLS_PER_WORKER = 16


class RayUnavailable(ValueError):
    """Ray is not installed (``pip install 'judgecal[ray]'``)."""


def ray_layout(concurrency: int, per_judge: int | None, n_tasks: int, cpus: int,
               workers: int | None = None) -> tuple[int, int]:
    """How many workers to start and how many calls each takes at once.

    Parameters
    ----------
    concurrency : int
        ``[run] concurrency``: the most calls in flight over the whole cluster.
    per_judge : int or None
        The judge's ``max_concurrency`` (the embedded model: 1), a bound per worker.
    n_tasks : int
        Tasks to run.
    cpus : int
        CPUs of the cluster (a worker reserves one).
    workers : int, optional
        Workers wanted (default: enough for ``concurrency``, at most ``cpus``).

    Returns
    -------
    tuple of int
        ``(workers, calls per worker)``.

    Examples
    --------
    >>> ray_layout(8, 1, 100, cpus=2)   # the embedded model: one call per worker
    (2, 1)
    >>> ray_layout(8, None, 100, cpus=4)  # a server: one worker takes 8 calls
    (1, 8)
    >>> ray_layout(5, None, 100, cpus=4, workers=2)
    (2, 3)
    """
    limit = max(1, min(concurrency, n_tasks))
    per = per_judge or CALLS_PER_WORKER
    if workers is None:
        workers = min(max(1, cpus), math.ceil(limit / per))
    workers = max(1, min(workers, limit))
    return workers, min(per, math.ceil(limit / workers))


class _WorkerRun(_Run):
    """The runner's per-task code without a journal; a fatal error is handed back."""

    def abort(self, task: JudgeTask, exc: FatalError) -> RunAborted:
        exc.args = (self.redact(str(exc)),)
        aborted = RunAborted(str(exc))
        aborted.fatal = exc  # type: ignore[attr-defined]
        return aborted


class _Worker:
    """One Ray actor: a judge and the runner's per-task code (retries, re-asks, budget)."""

    def __init__(self, make_judge: JudgeFactory, identity: dict[str, Any], spec: RequestSpec,
                 settings: RunSettings, prices: PriceTable, secret_envs: Sequence[str]) -> None:
        judge = make_judge()
        if judge.identity() != identity:
            raise ValueError(
                f"the judge built on a Ray worker is not the driver's: {judge.identity()} != "
                f"{identity} (its environment differs, e.g. OPENAI_BASE_URL)")
        secrets = [os.environ[name] for name in secret_envs if os.environ.get(name)]
        self.run = _WorkerRun(judge, spec, None, settings, prices, secrets)

    async def judge(self, task: JudgeTask, key: str
                    ) -> tuple[Judgment | None, str | None, FatalError | None]:
        """Run one task: ``(judgment, why this worker stopped, fatal error)``."""
        try:
            judgment = await self.run.run_task(task, key)
        except RunAborted as exc:
            return None, None, exc.fatal  # type: ignore[attr-defined]
        return judgment, self.run.stopped, None


def _ray() -> Any:
    """The ``ray`` module, connected (``RAY_ADDRESS``) or started locally."""
    # Under `uv run`, Ray starts every worker with `uv run` in a copy of the working directory
    # (a second environment, built from scratch: minutes, and llama-cpp-python compiled
    # again); the workers use this one. Ray reads the switch when it is first imported.
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    try:
        import ray
    except ImportError as exc:
        raise RayUnavailable(
            "the Ray engine needs Ray: pip install 'judgecal[ray]' (or uv sync --extra ray)"
        ) from exc
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        if address:
            ray.init(address=address)
        else:
            ray.init(include_dashboard=False)
    return ray


def _tally(run: _Run, j: Judgment) -> None:
    """Add a worker's calls for ``j`` to the driver's totals (calls, tokens, cost)."""
    led = run.ledger
    led.n_requests += j.attempts
    led.input_tokens += j.input_tokens
    led.output_tokens += j.output_tokens
    if j.cost is None:
        led.cost_unknown = True
    else:
        led.spent += j.cost


def _book(run: _Run, task: JudgeTask, j: Judgment, journal: Journal) -> None:
    """What the local runner's ``finish`` does for a result that came back from a worker."""
    if j.status != "skipped":
        journal.put(run.record(task, j))
    _tally(run, j)
    run.counts[j.status] += 1
    run.on_done(j)


def _shares(total: float | None, n: int, integer: bool) -> list[Any]:
    """``total`` split over ``n`` workers (the shares add up to it); None: no budget."""
    if total is None:
        return [None] * n
    if integer:
        return [int(total) // n + (i < int(total) % n) for i in range(n)]
    return [total / n] * n


def run_judge_ray(
    make_judge: JudgeFactory,
    judge: Judge,
    tasks: Sequence[JudgeTask],
    spec: RequestSpec,
    journal: Journal,
    settings: RunSettings | None = None,
    *,
    prices: PriceTable | None = None,
    secrets: Sequence[str] = (),
    secret_envs: Sequence[str] = (),
    console: Console | None = None,
    workers: int | None = None,
) -> RunResult:
    """Judge every task once on Ray workers, answering from the journal what is there.

    Parameters
    ----------
    make_judge : callable
        Builds the judge on each worker (picklable; the key is read there, from the
        worker's environment). Its identity must equal ``judge``'s.
    judge : Judge
        The same judge on the driver: its identity keys the tasks (no call is made).
    tasks, spec, journal, prices, secrets, console
        As in :func:`harness.judges.run_judge` (``secrets`` redact on the driver).
    settings : RunSettings, optional
        As in :func:`harness.judges.run_judge`. ``concurrency`` bounds the calls in flight
        over all workers; ``max_calls`` and ``max_cost`` are split into equal shares, one
        per worker (they add up to the budget, so it holds; a worker that spent its share
        takes no more tasks, and the run stops when all have); the circuit breaker counts
        per worker and stops the run when one trips.
    secret_envs : sequence of str
        Names of the environment variables holding keys: each worker redacts their values.
    workers : int, optional
        Workers to start (default from :func:`ray_layout`).

    Returns
    -------
    RunResult
        As :func:`harness.judges.run_judge` returns it; with the same replies, the same
        judgments and journal keys.

    Raises
    ------
    RunAborted
        A fatal provider error on a worker, or a worker that failed (its judge could not
        be built); finished judgments are journaled and in ``RunAborted.partial``.
    RayUnavailable
        Ray is not installed.
    ValueError
        As :func:`harness.judges.run_judge`.
    """
    plan = _plan(judge, tasks, spec, journal, settings, prices, secrets)
    run, pending, results = plan.run, plan.pending, plan.results
    if not pending:
        return plan.result(results)
    ray = _ray()
    s = run.settings
    n, per_worker = ray_layout(s.concurrency, judge.max_concurrency, len(pending),
                               int(ray.cluster_resources().get("CPU", 1)), workers)
    limit = min(s.concurrency, n * per_worker)
    actor = ray.remote(_Worker)
    actors = [
        actor.options(num_cpus=1, max_concurrency=per_worker).remote(
            make_judge, run.identity, spec,
            replace(s, max_calls=calls, max_cost=cost, show_progress=False),
            run.prices, tuple(secret_envs))
        for calls, cost in zip(_shares(s.max_calls, n, True), _shares(s.max_cost, n, False),
                               strict=True)
    ]
    log.info("Ray engine: %d workers, %d calls each at most, %d in flight at most",
             n, per_worker, limit)
    load = [0] * n
    spent: set[int] = set()  # workers that spent their share of the budget
    in_flight: dict[Any, tuple[int, str, JudgeTask]] = {}
    stopped: str | None = None
    try:
        with plan.progress(console) as progress:
            run.on_done = progress
            while True:
                while pending and stopped is None and len(in_flight) < limit:
                    free = [k for k in range(n) if k not in spent and load[k] < per_worker]
                    if not free:
                        break
                    i = min(free, key=load.__getitem__)
                    key, task = pending.popleft()
                    in_flight[actors[i].judge.remote(task, key)] = (i, key, task)
                    load[i] += 1
                if not in_flight:
                    break
                done, _ = ray.wait(list(in_flight), num_returns=1)
                for ref in done:
                    i, key, task = in_flight.pop(ref)
                    load[i] -= 1
                    try:
                        judgment, why, fatal = ray.get(ref)
                    except ray.exceptions.RayError as exc:
                        raise RunAborted(run.redact(
                            f"run aborted: a Ray worker failed on item {task.item_id!r}: "
                            f"{exc}")) from None
                    if fatal is not None:
                        raise run.abort(task, fatal)
                    assert judgment is not None
                    if why is not None and why.startswith("budget:") and n > 1:
                        # This worker's share is spent: the others take the rest of theirs.
                        spent.add(i)
                        if len(spent) == n and stopped is None:
                            stopped = (f"{why} on each of the {n} Ray workers (the run's "
                                       "budget split into equal shares)")
                        if judgment.status == "skipped" and stopped is None:
                            _tally(run, judgment)
                            pending.appendleft((key, task))
                            continue
                    elif why is not None and stopped is None:
                        stopped = why if n == 1 else f"{why} (one of {n} Ray workers)"
                    if stopped is not None:
                        run.ledger._reason = stopped  # the run's stop, as the ledger keeps it
                    results[key] = judgment
                    _book(run, task, judgment, journal)
    except RunAborted as exc:
        exc.partial = plan.result(results)
        raise
    finally:
        for a in actors:
            ray.kill(a)
    return plan.result(results)

