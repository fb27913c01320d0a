"""The Ray engine (``[run] engine = "ray"``): equal to the local runner, single-writer
journal, resume after a kill, the concurrency bound over all workers, no key through Ray.

Runs on a local Ray instance (2 CPUs) started once for the module, against the scripted
server with the real OpenAI SDK in the workers."""

from __future__ import annotations

import os
import pickle
import threading
import time
from collections import Counter
from functools import partial

import fakeserver as fs
import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.experiments import load_experiment
from harness.journal import Journal
from harness.judges import JudgeTask, Message, RequestSpec, RunAborted, RunSettings, make_judge
from harness.judges._ray import run_judge_ray
from harness.judgments import build_judge, judge_anchors

# Before Ray is imported: workers use this environment, not a `uv run` of their own.
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
ray = pytest.importorskip("ray")

KEY_ENV = "JC_RAY_TEST_KEY"
KEY = "sk-ray-test-judgecal-0123456789abcdef"


@pytest.fixture(scope="module", autouse=True)
def ray_local():
    # The workers inherit the environment Ray starts with: the key is there, never shipped.
    os.environ[KEY_ENV] = KEY
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _experiment(tmp_path, project_root, server, name, run="concurrency = 3"):
    return fs.experiment_file(tmp_path / name, project_root, {
        "experiment": f'name = "{name}"',
        "judge": (f'provider = "openai"\nmodel = "fake"\nbase_url = "{server.openai_url}"\n'
                  f'api_key_env = "{KEY_ENV}"'),
        "run": f"max_attempts = 3\n{run}",
        "scoring": "parse_retries = 1",
    })


def _summary(run):
    return [(j.item_id, j.sample_index, j.status, j.score) for j in run.result.judgments]


def _scripted(plan):
    """Scores by recipe text, with ``plan``'s faults decided per (text, attempt number)."""
    lock, seen = threading.Lock(), Counter()

    def handler(api, body, n):
        text = fs.recipe_output(body)
        with lock:
            seen[text] += 1
            k = seen[text]
        resp = plan.choose(text, k)
        return fs.score(fs.default_score(text, 1, 6)) if resp.label == "score" else resp

    return handler, seen


def test_ray_run_equals_local_run(tmp_path, project_root):
    # Seeded faults (decided per item and attempt, not by arrival order): 429s and
    # unparseable replies, so retries and re-asks happen on the workers as they do locally.
    plan = fs.FaultPlan(seed=3, p429=0.15, pgarbage=0.3)
    with fs.FakeServer() as server:
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        server.handler, local_calls = _scripted(plan)
        local = load_experiment(_experiment(tmp_path, project_root, server, "a"))
        local_run = judge_anchors(local, split="calibration", show_progress=False)
        server.handler, ray_calls = _scripted(plan)
        on_ray = load_experiment(_experiment(tmp_path, project_root, server, "b",
                                             'concurrency = 3\nengine = "ray"'))
        ray_run = judge_anchors(on_ray, split="calibration", show_progress=False)
    statuses = {j.status for j in local_run.result.judgments}
    assert statuses == {"ok", "invalid"}, statuses
    assert len({j.score for j in local_run.result.judgments}) > 2
    assert _summary(ray_run) == _summary(local_run)
    assert ray_calls == local_calls
    assert ray_run.result.n_requests == local_run.result.n_requests == sum(local_calls.values())
    keys = {r.key for r in Journal(local.state.dir).records()}
    assert keys == {r.key for r in Journal(on_ray.state.dir).records()}
    assert keys == {j.key for j in ray_run.result.judgments}
    # the driver journaled what the workers computed, as the local runner does
    by_key = {r.key: r for r in Journal(on_ray.state.dir).records()}
    for j in ray_run.result.judgments:
        assert (by_key[j.key].status, by_key[j.key].score) == (j.status, j.score)
        assert by_key[j.key].attempts == j.attempts


def _tasks(n):
    return [JudgeTask(item_id=f"it{i}", sample_index=0,
                      messages=(Message("user", f"Rate this.\nITEM: it{i}"),))
            for i in range(n)]


def _factory(server):
    return partial(make_judge, "openai", "fake", base_url=server.openai_url,
                   api_key_env=KEY_ENV, options={"structured": "json_schema"})


SPEC = RequestSpec(mode="structured", scale_min=1, scale_max=5)


def _run(server, journal, settings, tasks, **kw):
    make = _factory(server)
    return run_judge_ray(make, make(), tasks, SPEC, journal, settings,
                         secret_envs=(KEY_ENV,), **kw)


def _settle(server):
    """Wait until the server has had no new request for a second (at most 30 s)."""
    seen = -1
    for _ in range(30):
        if server.snapshot()["total"] == seen:
            return
        seen = server.snapshot()["total"]
        time.sleep(1.0)


def test_killed_run_keeps_finished_results_and_resume_calls_only_the_rest(tmp_path):
    tasks = _tasks(12)
    settings = RunSettings(concurrency=2, show_progress=False)
    with fs.FakeServer(latency=0.02) as server:
        journal = Journal(tmp_path / "state")
        put, written = journal.put, []

        def killed_after_five(record):
            if len(written) == 5:
                raise KeyboardInterrupt  # the driver dies with calls in flight
            put(record)
            written.append(record.key)

        journal.put = killed_after_five
        with pytest.raises(KeyboardInterrupt):
            _run(server, journal, settings, tasks)
        journal.put = put
        assert journal.count() == 5
        _settle(server)  # a killed worker's call may still reach the server
        first = server.snapshot()["requests"]
        server.reset()
        result = _run(server, journal, settings, tasks)
        again = server.snapshot()["requests"]
    assert result.n_ok == 12 and result.n_cached == 5 and result.n_requests == 7
    done = {r.item_id for r in journal.records() if r.key in written}
    assert set(again) == {t.item_id for t in tasks} - done
    assert all(n == 1 for n in again.values())
    assert set(first) >= done


def test_budget_stops_the_run_and_a_rerun_calls_only_what_is_missing(tmp_path):
    tasks = _tasks(10)
    with fs.FakeServer() as server:
        journal = Journal(tmp_path / "state")
        stopped = _run(server, journal, RunSettings(concurrency=2, max_calls=4,
                                                    show_progress=False), tasks, workers=2)
        assert server.snapshot()["total"] == 4
        assert (stopped.n_ok, stopped.n_skipped, stopped.n_requests) == (4, 6, 4)
        assert stopped.stopped.startswith(
            "budget: max_calls=2 reached on each of the 2 Ray workers")
        assert journal.count() == 4
        server.reset()
        rest = _run(server, journal, RunSettings(concurrency=2, show_progress=False), tasks)
        assert server.snapshot()["total"] == 6
    assert (rest.n_ok, rest.n_cached, rest.n_requests) == (10, 4, 6)


def test_concurrency_is_the_bound_over_all_workers(tmp_path):
    lock, state = threading.Lock(), {"now": 0, "peak": 0}

    def slow(api, body, n):
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(0.15)
        with lock:
            state["now"] -= 1
        return None

    with fs.FakeServer(slow) as server:
        result = _run(server, Journal(tmp_path / "state"),
                      RunSettings(concurrency=3, show_progress=False), _tasks(12), workers=2)
    assert result.n_ok == 12
    assert 2 <= state["peak"] <= 3


def test_fatal_error_on_a_worker_aborts_with_the_finished_results(tmp_path):
    def refuse_late(api, body, n):
        return fs.error(401) if fs.item_of(body) in ("it6", "it7") else None

    tasks = _tasks(8)
    with fs.FakeServer(refuse_late) as server:
        journal = Journal(tmp_path / "state")
        with pytest.raises(RunAborted, match=r"\(status 401\) on item 'it6'.*the 6 judg") as info:
            _run(server, journal, RunSettings(concurrency=1, show_progress=False), tasks)
    partial_result = info.value.partial
    assert partial_result is not None
    assert partial_result.n_ok == journal.count() == 6
    assert KEY not in str(info.value)


def test_a_worker_whose_judge_differs_from_the_drivers_aborts(tmp_path):
    with fs.FakeServer() as server, fs.FakeServer() as other:
        with pytest.raises(RunAborted, match="not the driver's"):
            run_judge_ray(_factory(other), _factory(server)(), _tasks(2), SPEC,
                          Journal(tmp_path / "state"), RunSettings(show_progress=False))
        assert other.snapshot()["total"] == server.snapshot()["total"] == 0


def test_the_key_stays_in_the_workers_environment(tmp_path, project_root):
    with fs.FakeServer() as server:
        exp = load_experiment(_experiment(tmp_path, project_root, server, "k",
                                          'engine = "ray"'))
        # what the engine ships to the workers: the experiment, with the key's NAME only
        assert KEY.encode() not in pickle.dumps(partial(build_judge, exp))
        run = judge_anchors(exp, split="calibration", show_progress=False)
        headers = server.stats.headers
    assert run.result.n_ok == len(run.result.judgments)
    assert headers and all(h.get("authorization") == f"Bearer {KEY}" for h in headers)


def test_cli_engine_ray_equals_engine_local(tmp_path, project_root):
    import json

    docs = {}
    with fs.FakeServer() as server:
        for engine in ("local", "ray"):
            (tmp_path / engine).mkdir()
            exp = _experiment(tmp_path, project_root, server, engine)
            res = CliRunner().invoke(app, ["judge", str(exp), "--engine", engine, "--json",
                                           "--no-progress", "--resamples", "50"])
            assert res.exit_code == 0, res.output
            docs[engine] = json.loads(res.stdout)
        bad = CliRunner().invoke(app, ["judge", str(exp), "--engine", "spark"])
    assert docs["ray"]["run"]["n_ok"] == docs["local"]["run"]["n_ok"] > 0
    assert docs["ray"]["judge"] == docs["local"]["judge"]
    assert bad.exit_code == 2
