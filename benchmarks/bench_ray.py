"""The Ray engine: 1 vs 2 workers on the embedded judge, and its overhead on a fake server.

(a) The embedded SmolLM2 judge on the first ``--local-items`` recipes (default 8), with a
    fresh journal each time, on 1 and on 2 Ray workers (``concurrency`` = workers: the model
    takes one call at a time, so each worker holds its own copy). The wall time includes
    starting the workers and loading the model in each; the speed-up is their ratio.
(b) ``--items`` tasks (default 300) against the fake OpenAI-compatible server in its own
    process (``--latency`` 50 ms), concurrency 8: the local runner (``run_judge_sync``) and
    the Ray engine with 1 and 2 workers, alternating, ``--repeats`` times each; the overhead
    is the ratio of median wall times, measured in the same run.

Ray is started once, locally, before anything is timed (its start-up is printed apart).

    uv run python benchmarks/bench_ray.py
    uv run python benchmarks/bench_ray.py --local-items 4 --items 100 --repeats 1
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

# Before Ray is imported: workers run in this environment, not a `uv run` of their own.
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import fakeserver as fs  # noqa: E402
import ray  # noqa: E402

from harness.anchors import load_anchor_set  # noqa: E402
from harness.journal import Journal  # noqa: E402
from harness.judges import (  # noqa: E402
    JudgeTask,
    Message,
    RequestSpec,
    RunResult,
    RunSettings,
    make_judge,
    run_judge_sync,
)
from harness.judges._ray import run_judge_ray  # noqa: E402

ANCHORS = ROOT / "anchors" / "recipes" / "recipes-overall.jsonl"


def recipe_tasks(n: int) -> list[JudgeTask]:
    """The first ``n`` recipes as one-sample tasks: the rubric, then the recipe."""
    aset = load_anchor_set(ANCHORS)
    rubric = aset.meta.rubric if isinstance(aset.meta.rubric, str) else str(aset.meta.rubric)
    return [JudgeTask(item_id=it.id, sample_index=0, messages=(
        Message("system", f"{rubric}\n\nReply in JSON: a short reasoning, then the score "
                          "(an integer from 1 to 6)."),
        Message("user", f"{it.input}\n\n{it.output}\n\nYour rating:")))
        for it in aset.items[:n]]


def server_tasks(n: int, tag: str) -> list[JudgeTask]:
    """``n`` small tasks for the fake server; ``tag`` keeps runs apart."""
    return [JudgeTask(item_id=f"{tag}-{i:04d}", sample_index=0,
                      messages=(Message("user", f"ITEM: {tag}-{i:04d}\nRate 1 to 5."),))
            for i in range(n)]


def timed(fn) -> tuple[RunResult, float]:
    """``fn()`` and its wall time."""
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def embedded(n_items: int) -> None:
    """(a): 1 vs 2 workers on the embedded judge."""
    tasks = recipe_tasks(n_items)
    spec = RequestSpec(mode="structured", scale_min=1, scale_max=6, max_tokens=160)
    make = partial(make_judge, "local", "smollm2")
    rows = []
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            result, wall = timed(lambda w=workers, d=tmp: run_judge_ray(
                make, make(), tasks, spec, Journal(Path(d) / "journal.sqlite"),
                RunSettings(concurrency=w, show_progress=False), workers=w))
        rows.append((workers, wall, result))
    print(f"\n(a) embedded judge, {n_items} recipes, fresh journal each run\n")
    print("| workers | wall s | judgments/s | ok | invalid | scores |")
    print("|---|---|---|---|---|---|")
    for workers, wall, r in rows:
        scores = [j.score for j in r.judgments]
        print(f"| {workers} | {wall:.1f} | {len(r.judgments) / wall:.3f} | {r.n_ok} | "
              f"{r.n_invalid} | {scores} |")
    same = [j.score for j in rows[0][2].judgments] == [j.score for j in rows[1][2].judgments]
    print(f"\nspeed-up 2 vs 1 workers: {rows[0][1] / rows[1][1]:.2f}x; "
          f"same scores on 1 and 2 workers: {same}")


def overhead(n_items: int, latency: float, repeats: int) -> None:
    """(b): the Ray engine against the local runner on the fake server."""
    spec = RequestSpec(mode="structured", scale_min=1, scale_max=5)
    settings = RunSettings(concurrency=8, show_progress=False)
    walls: dict[str, list[float]] = {"local": [], "ray, 1 worker": [], "ray, 2 workers": []}
    with fs.FakeServerProcess(latency=latency) as srv, tempfile.TemporaryDirectory() as tmp:
        make = partial(make_judge, "openai", "fake", base_url=srv.openai_url,
                       api_key_env="", options={"structured": "json_schema"})
        for r in range(repeats):
            for name in walls:
                tasks = server_tasks(n_items, f"{name[:5]}{r}")
                journal = Journal(Path(tmp) / f"{len(walls[name])}-{name}.sqlite")
                if name == "local":
                    fn = partial(run_judge_sync, make(), tasks, spec, journal, settings)
                else:
                    fn = partial(run_judge_ray, make, make(), tasks, spec, journal, settings,
                                 workers=1 if "1" in name else 2)
                result, wall = timed(fn)
                assert result.n_ok == n_items, result.stopped
                walls[name].append(wall)
    base = statistics.median(walls["local"])
    ceiling = n_items * latency / settings.concurrency
    print(f"\n(b) {n_items} tasks, fake server at {latency * 1000:.0f} ms, concurrency 8, "
          f"{repeats} runs each (ceiling {ceiling:.2f} s)\n")
    print("| engine | median wall s | judgments/s | wall / local |")
    print("|---|---|---|---|")
    for name, ws in walls.items():
        m = statistics.median(ws)
        print(f"| {name} | {m:.2f} | {n_items / m:.1f} | {m / base:.2f} |")


def main() -> None:
    """Run (a) and (b) and print Markdown."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--local-items", type=int, default=8)
    ap.add_argument("--items", type=int, default=300)
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-local", action="store_true", help="skip (a)")
    args = ap.parse_args()
    print(f"Python {platform.python_version()}, Ray {ray.__version__}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    t0 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    print(f"ray.init (local, 2 CPUs): {time.perf_counter() - t0:.1f} s")
    try:
        if not args.skip_local:
            embedded(args.local_items)
        overhead(args.items, args.latency, args.repeats)
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
