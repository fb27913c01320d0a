"""Judge-runner throughput against the fake OpenAI-compatible server.

Measures, over N items (default 500) with 16 concurrent calls and 200 ms server latency
(a ceiling of 16 / 0.2 = 80 requests/s):

(a) a bare asyncio loop calling the same SDK (``AsyncOpenAI(max_retries=0)``,
    ``chat.completions.create``) under a semaphore of 16: the ceiling the runner is held to;
(b) ``run_judge`` with ``OpenAIJudge``, concurrency 16 and a fresh journal (target: at
    least 90% of (a));
(c) ``run_judge`` against the same server answering 20% of requests 429 with
    ``Retry-After: 0`` (after the same latency) and small backoffs: successful judgments/s
    (target: at least 70% of (b));
(d) a warm re-run of (b): every judgment from the journal, zero requests (target < 2 s).

The server runs in its own process by default (``tests/fakeserver.py``), so it does not
share the client's GIL and event loop; ``--in-process-server`` runs it in a thread instead.

    uv run python benchmarks/bench_runner.py            # 500 items, 3 repeats
    uv run python benchmarks/bench_runner.py --items 200 --repeats 1
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import fakeserver as fs  # noqa: E402
import openai  # noqa: E402

from harness.journal import Journal  # noqa: E402
from harness.judges._base import Message  # noqa: E402
from harness.judges._openai import OpenAIJudge  # noqa: E402
from harness.judges._runner import (  # noqa: E402
    JudgeTask,
    RequestSpec,
    RunResult,
    RunSettings,
    run_judge,
)

CONCURRENCY = 16
LATENCY_S = 0.2


def make_tasks(n: int, tag: str) -> list[JudgeTask]:
    """``n`` one-sample tasks; ``tag`` keeps the items of separate runs apart."""
    return [
        JudgeTask(item_id=f"{tag}-{i:04d}", sample_index=0,
                  messages=(Message("system", "You are a strict judge. Reply in JSON."),
                            Message("user", f"ITEM: {tag}-{i:04d}\nQuestion: ...\n"
                                            "Answer: ...\nRate the answer from 1 to 5.")))
        for i in range(n)
    ]


SPEC = RequestSpec(mode="structured", scale_min=1, scale_max=5)


def settings(**kw: Any) -> RunSettings:
    """Runner settings of the benchmark (no progress bar)."""
    base: dict[str, Any] = dict(concurrency=CONCURRENCY, max_attempts=8, parse_retries=2,
                                call_deadline_s=30.0, show_progress=False)
    base.update(kw)
    return RunSettings(**base)


def server(in_process: bool, **faults: Any) -> AbstractContextManager[Any]:
    """The fake server at 200 ms latency, in a child process unless ``in_process``."""
    plan = fs.FaultPlan(**faults)
    if in_process:
        return fs.FakeServer(latency=LATENCY_S, faults=plan, keep_bodies=False)
    return fs.FakeServerProcess(latency=LATENCY_S, faults=plan)


def server_stats(srv: Any) -> dict[str, Any]:
    """The server's counters, wherever it runs."""
    return srv.stats() if isinstance(srv, fs.FakeServerProcess) else srv.snapshot()


# --------------------------------------------------------------------------- (a) bare loop


async def bare_loop(url: str, tasks: list[JudgeTask]) -> tuple[float, float]:
    """The same requests straight through the SDK; returns (wall s, client CPU s)."""
    judge = OpenAIJudge("fake", base_url=url, api_key_env=None)
    client = openai.AsyncOpenAI(api_key="not-needed", base_url=url, max_retries=0,
                                timeout=30.0)
    sem = asyncio.Semaphore(CONCURRENCY)

    async def one(task: JudgeTask) -> None:
        params = judge.build_params(SPEC.request_for(task))
        async with sem:
            await client.chat.completions.create(**params)

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(t) for t in tasks))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    await client.close()
    return wall, cpu


# --------------------------------------------------------------------------- (b)-(d) runner


async def runner(url: str, tasks: list[JudgeTask], journal: Journal, **kw: Any
                 ) -> tuple[RunResult, float, float]:
    """One ``run_judge``; returns (result, wall s, client CPU s)."""
    judge = OpenAIJudge("fake", base_url=url, api_key_env=None)
    cpu0, t0 = time.process_time(), time.perf_counter()
    result = await run_judge(judge, tasks, SPEC, journal, settings(**kw))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    await judge.aclose()
    return result, wall, cpu


def median(xs: list[float]) -> float:
    """The median of ``xs``."""
    return statistics.median(xs)


def measure(repeats: int, fn: Callable[[int], tuple[float, float, float]]
            ) -> tuple[float, float, float]:
    """Run ``fn(repeat)`` -> (rate, wall, cpu) ``repeats`` times; medians."""
    runs = [fn(r) for r in range(repeats)]
    return tuple(median([run[k] for run in runs]) for k in range(3))  # type: ignore[return-value]


def main(argv: list[str] | None = None) -> None:
    """Run (a)-(d) and print the Markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--in-process-server", action="store_true",
                    help="run the fake server in a thread of this process")
    args = ap.parse_args(argv)
    # The runner logs each retried 429 as a warning; keep the table readable.
    logging.getLogger("harness").setLevel(logging.ERROR)
    n, reps = args.items, args.repeats
    tmp = Path(tempfile.mkdtemp(prefix="bench_runner_"))
    rows: list[tuple[str, str, str, str, str]] = []

    with server(args.in_process_server) as srv:
        url = srv.openai_url

        def run_a(r: int) -> tuple[float, float, float]:
            wall, cpu = asyncio.run(bare_loop(url, make_tasks(n, f"a{r}")))
            return n / wall, wall, cpu

        bare_rate, bare_wall, bare_cpu = measure(reps, run_a)

        journals: list[tuple[Journal, list[JudgeTask]]] = []

        def run_b(r: int) -> tuple[float, float, float]:
            tasks = make_tasks(n, f"b{r}")
            journal = Journal(tmp / f"b{r}")
            result, wall, cpu = asyncio.run(runner(url, tasks, journal))
            assert result.n_ok == n and result.n_requests == n, result
            journals.append((journal, tasks))
            return result.n_requests / wall, wall, cpu

        run_rate, run_wall, run_cpu = measure(reps, run_b)

        def run_d(r: int) -> tuple[float, float, float]:
            journal, tasks = journals[r % len(journals)]
            before = server_stats(srv)["total"]
            result, wall, cpu = asyncio.run(runner(url, tasks, journal))
            assert result.n_requests == 0 and result.n_cached == n, result
            assert server_stats(srv)["total"] == before
            return 0.0, wall, cpu

        _, warm_wall, warm_cpu = measure(reps, run_d)

    with server(args.in_process_server, p429=0.2, retry_after="0", seed=1) as srv:
        url = srv.openai_url
        n429: list[int] = []

        def run_c(r: int) -> tuple[float, float, float]:
            tasks = make_tasks(n, f"c{r}")
            journal = Journal(tmp / f"c{r}")
            before = server_stats(srv)
            result, wall, cpu = asyncio.run(runner(
                url, tasks, journal, backoff_initial_s=0.01, backoff_max_s=0.05,
                retry_after_cap_s=0.05))
            after = server_stats(srv)
            assert result.n_ok == n, result
            n429.append(after["kinds"].get("429", 0) - before["kinds"].get("429", 0))
            return result.n_ok / wall, wall, cpu

        fault_rate, fault_wall, fault_cpu = measure(reps, run_c)

    ratio_b = run_rate / bare_rate
    ratio_c = fault_rate / run_rate
    rows = [
        ("(a) bare SDK loop, semaphore 16", f"{bare_wall:.2f} s", f"{bare_rate:.1f} req/s",
         f"{bare_cpu:.2f} s", "ceiling 80 req/s"),
        ("(b) `run_judge`, concurrency 16, fresh journal", f"{run_wall:.2f} s",
         f"{run_rate:.1f} req/s", f"{run_cpu:.2f} s",
         f"**{ratio_b:.1%} of (a)** (target ≥ 90%)"),
        (f"(c) `run_judge`, 20% 429 (Retry-After 0; {median(n429):.0f} 429s per run)",
         f"{fault_wall:.2f} s", f"{fault_rate:.1f} judgments/s", f"{fault_cpu:.2f} s",
         f"**{ratio_c:.1%} of (b)** (target ≥ 70%)"),
        ("(d) warm re-run of (b): 0 requests", f"**{warm_wall:.3f} s**", "—",
         f"{warm_cpu:.2f} s", "target < 2 s"),
    ]
    where = "a thread of this process" if args.in_process_server else "a separate process"
    print(f"\n{n} items, {CONCURRENCY} concurrent, {LATENCY_S * 1000:.0f} ms server latency, "
          f"server in {where}; median of {reps} run(s); Python {platform.python_version()}, "
          f"openai {openai.__version__}\n")
    print("| run | wall | throughput | client CPU | vs |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
