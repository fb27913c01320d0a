"""The fault suite: ``judgecal judge`` and ``judgecal calibrate`` against a sick provider.

Each test runs the real command (``python -m harness.cli``, its own process, so signals and
exit codes are the real ones) against the scripted server of ``fakeserver`` on 127.0.0.1,
with a real MLflow SQLite store, and asserts what a CI job would see: the exit code, the
MLflow run states and aliases, the journal's counts (nothing lost, nothing judged twice)
and what the console says. docs/reliability.md lists the guarantees these tests hold.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import fakeserver as fs
import pytest
from mlflow.tracking import MlflowClient

from harness.experiments import load_experiment
from harness.journal import Journal
from harness.loop import LoopState

KEY = "sk-test-faults-0123456789abcdef"
WAIT_S = 120  # upper bound on waiting for a child process; never an assertion


@pytest.fixture(scope="module")
def ids_by_output(demo):
    return {it.output.strip(): it.id for it in demo.items}


def split_ids(demo, split):
    return {it.id for it in demo.items if it.split == split}


def write_experiment(tmp_path: Path, project_root: Path, base_url: str, **sections) -> Path:
    return fs.experiment_file(tmp_path, project_root, {
        "experiment": 'name = "faults"',
        "judge": (f'provider = "openai"\nmodel = "fake"\nbase_url = "{base_url}"\n'
                  'api_key_env = "JC_FAULT_KEY"\ntimeout_s = 5'),
        "run": ("concurrency = 4\nmax_attempts = 3\ncall_deadline_s = 5\n"
                "retry_after_cap_s = 0.05"),
        "target": 'metric = "icc"\nthreshold = 0.7',
        "stopping": "max_iterations = 3",
        "revision": 'strategy = "fewshot"\nk = 2\nmax_examples = 2',
        **sections,
    })


def cli(project_root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "harness.cli", *args]


def env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    e["JC_FAULT_KEY"] = KEY
    e["COLUMNS"] = "200"
    return e


def run_cli(project_root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli(project_root, *args), cwd=project_root, env=env(),
                          capture_output=True, text=True, timeout=WAIT_S)


def one_line(text: str) -> str:
    return " ".join(text.split())


class Recorder:
    """A server-side judge: scores from a function, with per-item counts of scored replies."""

    def __init__(self, ids_by_output, respond=None) -> None:
        self.ids = ids_by_output
        self.respond = respond or (lambda item, n: fs.score(3))
        self.lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.scored: Counter[str] = Counter()

    def __call__(self, api, body, n):
        item = self.ids.get(fs.recipe_output(body), "?")
        with self.lock:
            self.requests[item] += 1
            k = self.requests[item]
        resp = self.respond(item, k)
        if resp.kind == "score":
            with self.lock:
                self.scored[item] += 1
        return resp


def mlflow_runs(tmp_path: Path, name: str = "faults") -> list:
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = client.get_experiment_by_name(name)
    return [] if exp is None else client.search_runs([exp.experiment_id])


def parents(runs) -> list:
    return [r for r in runs if "mlflow.parentRunId" not in r.data.tags]


def candidate_alias(tmp_path: Path) -> object | None:
    from harness.tracking import Tracker

    tracker = Tracker("faults", f"sqlite:///{tmp_path / 'mlflow.db'}")
    return tracker.prompt_version_for_alias("recipes-overall", "candidate")


def journal_statuses(tmp_path: Path) -> Counter[str]:
    p = tmp_path / "state" / "journal.sqlite"
    if not p.exists():
        return Counter()
    return Counter(r.status for r in Journal(p).records())


def no_key_on_disk(tmp_path: Path) -> None:
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.stat().st_size < 50_000_000:
            assert KEY.encode() not in path.read_bytes(), path


# --------------------------------------------------------------------------- judge


def test_judge_against_a_refused_port_stops_early_and_exits_3(tmp_path, project_root):
    port = fs.free_port()  # nobody listens there: every connection is refused
    path = write_experiment(tmp_path, project_root, f"http://127.0.0.1:{port}/v1")
    res = run_cli(project_root, "judge", str(path), "--no-progress", "--out",
                  str(tmp_path / "j.csv"))
    text = one_line(res.stderr)
    assert res.returncode == 3, res.stderr
    assert "circuit breaker" in text
    assert "connection" in text.lower()  # the cause, named
    # the breaker stopped it: most items were never called (skipped, not journaled)
    statuses = journal_statuses(tmp_path)
    assert statuses["ok"] == 0 and statuses["failed"] <= 4
    rows = (tmp_path / "j.csv").read_text().splitlines()[1:]
    assert sum(",skipped," in r for r in rows) >= 15


def test_judge_when_every_call_is_a_500_exits_3_naming_the_cause(
        tmp_path, project_root, ids_by_output):
    rec = Recorder(ids_by_output, lambda item, n: fs.server_error(500))
    with fs.FakeServer(rec) as server:
        path = write_experiment(tmp_path, project_root, server.openai_url)
        res = run_cli(project_root, "judge", str(path), "--no-progress")
    text = one_line(res.stderr)
    assert res.returncode == 3, res.stderr
    assert "HTTP 500" in text and "circuit breaker" in text
    # stopped after a few consecutive failures: fewer requests than the 21 items (without
    # the breaker: 21 items x 3 attempts, each json_schema refusal tried in other modes)
    assert sum(rec.requests.values()) < 21
    assert len(rec.requests) <= 5 + 4


def test_judge_against_a_server_that_never_answers_exits_3(tmp_path, project_root,
                                                           ids_by_output):
    rec = Recorder(ids_by_output, lambda item, n: fs.hang(3))
    with fs.FakeServer(rec) as server:
        path = write_experiment(tmp_path, project_root, server.openai_url,
                                run="concurrency = 4\nmax_attempts = 3\ncall_deadline_s = 0.3")
        res = run_cli(project_root, "judge", str(path), "--no-progress")
    assert res.returncode == 3, res.stderr
    assert "circuit breaker" in one_line(res.stderr)
    assert sum(rec.requests.values()) < 21


def test_judge_through_a_429_storm_judges_each_item_once(tmp_path, project_root, demo,
                                                         ids_by_output):
    rec = Recorder(ids_by_output,
                   lambda item, n: fs.rate_limited("0") if n <= 2 else fs.score(4))
    with fs.FakeServer(rec) as server:
        path = write_experiment(tmp_path, project_root, server.openai_url,
                                run="concurrency = 4\nmax_attempts = 4\n"
                                    "retry_after_cap_s = 0.01")
        res = run_cli(project_root, "judge", str(path), "--no-progress", "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    n_cal = len(split_ids(demo, "calibration"))
    assert doc["run"]["n_ok"] == n_cal and doc["invalid"]["passed"]
    assert journal_statuses(tmp_path) == Counter({"ok": n_cal})  # 0 lost
    assert set(rec.scored.values()) == {1}  # 0 judged twice
    no_key_on_disk(tmp_path)


def test_judge_with_garbage_replies_exits_3_with_invalid_counted(tmp_path, project_root,
                                                                 ids_by_output):
    rec = Recorder(ids_by_output, lambda item, n: fs.garbage())
    with fs.FakeServer(rec) as server:
        path = write_experiment(tmp_path, project_root, server.openai_url)
        res = run_cli(project_root, "judge", str(path), "--no-progress", "--json")
    assert res.returncode == 3
    doc = json.loads(res.stdout)
    assert doc["invalid"]["passed"] is False and doc["invalid"]["n_invalid"] == doc["run"][
        "n_tasks"]
    assert any(c["cause"].startswith("invalid") for c in doc["invalid"]["causes"])
    assert "no valid judgment for recipes-overall v1" in one_line(res.stderr)
    assert "21× invalid: no JSON object found" in one_line(res.stderr)


def test_judge_fails_when_some_items_fail_beyond_max_invalid(tmp_path, project_root, demo,
                                                             ids_by_output):
    bad = sorted(split_ids(demo, "calibration"))[:3]  # 3 of 21 = 14% > 5%
    rec = Recorder(ids_by_output,
                   lambda item, n: fs.server_error(503) if item in bad else fs.score(3))
    with fs.FakeServer(rec) as server:
        # the breaker off: this is about the share of failed items, not an outage
        path = write_experiment(tmp_path, project_root, server.openai_url,
                                run="concurrency = 4\nmax_attempts = 2\n"
                                    "retry_after_cap_s = 0.01\ncircuit_breaker = 0")
        res = run_cli(project_root, "judge", str(path), "--no-progress",
                      "--max-invalid", "0.5")
        assert res.returncode == 0, res.stderr  # 14% is allowed when the bar says 50%
        res = run_cli(project_root, "judge", str(path), "--no-progress")
    assert res.returncode == 3
    assert "3 failed" in one_line(res.stderr) and "HTTP 503" in one_line(res.stderr)


# --------------------------------------------------------------------------- calibrate


def test_calibrate_with_every_call_failing_exits_3_and_sets_no_alias(
        tmp_path, project_root, demo, ids_by_output):
    rec = Recorder(ids_by_output, lambda item, n: fs.server_error(500))
    with fs.FakeServer(rec) as server:
        path = write_experiment(tmp_path, project_root, server.openai_url)
        res = run_cli(project_root, "calibrate", str(path), "--no-progress")
    out = one_line(res.stdout + res.stderr)
    assert res.returncode == 3, out
    assert "HTTP 500" in out and "nothing to revise" not in out
    assert not set(rec.requests) & split_ids(demo, "holdout")  # no holdout round
    runs = mlflow_runs(tmp_path)
    assert [r.info.status for r in parents(runs)] == ["FAILED"]
    assert "RUNNING" not in {r.info.status for r in runs}
    assert candidate_alias(tmp_path) is None
    state = LoopState.load(load_experiment(path))
    assert state.status == "running" and state.iterations == []  # resumable, nothing kept
    assert not list((tmp_path / "prompts" / "recipes-overall").glob("v2.j2"))


def test_calibrate_stops_when_the_holdout_cannot_be_judged(tmp_path, project_root, demo,
                                                           ids_by_output):
    holdout = split_ids(demo, "holdout")
    rec = Recorder(ids_by_output,
                   lambda item, n: fs.error(400) if item in holdout else fs.score(3))
    with fs.FakeServer(rec) as server:
        path = write_experiment(tmp_path, project_root, server.openai_url,
                                stopping="max_iterations = 1")
        res = run_cli(project_root, "calibrate", str(path), "--no-progress")
    assert res.returncode == 3, res.stderr
    assert "holdout split" in one_line(res.stderr)
    assert candidate_alias(tmp_path) is None
    assert [r.info.status for r in parents(mlflow_runs(tmp_path))] == ["FAILED"]


def _start_calibration(project_root, path, tmp_path):
    return subprocess.Popen(cli(project_root, "calibrate", str(path), "--no-progress"),
                            cwd=project_root, env=env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for_journal(tmp_path: Path, n: int, proc: subprocess.Popen) -> int:
    journal = tmp_path / "state" / "journal.sqlite"
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and Journal(journal).count() >= n:
            return Journal(journal).count()
        time.sleep(0.05)
    raise AssertionError(f"the calibration never journaled {n} judgments: "
                         f"{proc.poll()=}")


def test_sigterm_marks_the_run_failed_saves_state_and_resume_finishes(
        tmp_path, project_root, demo, ids_by_output):
    rec = Recorder(ids_by_output, lambda item, n: fs.score(3, delay=0.05))
    with fs.FakeServer(rec) as server:
        path = write_experiment(tmp_path, project_root, server.openai_url,
                                stopping="max_iterations = 1", run="concurrency = 2")
        proc = _start_calibration(project_root, path, tmp_path)
        _wait_for_journal(tmp_path, 4, proc)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=WAIT_S)
        assert proc.returncode == 143, err
        assert "interrupted" in err
        exp = load_experiment(path)
        state = LoopState.load(exp)
        assert state.status == "interrupted" and state.parent_run_id
        [parent] = parents(mlflow_runs(tmp_path))
        assert parent.info.status == "FAILED" and parent.info.run_id == state.parent_run_id
        assert "RUNNING" not in {r.info.status for r in mlflow_runs(tmp_path)}
        done = Journal(tmp_path / "state" / "journal.sqlite").count()

        res = run_cli(project_root, "calibrate", str(path), "--no-progress")
    assert res.returncode == 0, res.stderr
    [parent] = parents(mlflow_runs(tmp_path))
    assert parent.info.run_id == state.parent_run_id and parent.info.status == "FINISHED"
    # nothing lost, nothing judged twice: one journaled judgment per item; only the calls
    # in flight at the signal (at most `concurrency` = 2) were answered and asked again
    assert done < len(demo.items)
    assert journal_statuses(tmp_path) == Counter({"ok": len(demo.items)})
    assert set(rec.scored) == {it.id for it in demo.items}
    assert sum(n - 1 for n in rec.scored.values()) <= 2


def test_kill_9_then_a_changed_config_fails_the_old_run_with_a_pointer(
        tmp_path, project_root, ids_by_output):
    rec = Recorder(ids_by_output, lambda item, n: fs.score(3, delay=0.05))
    with fs.FakeServer(rec) as server:
        path = write_experiment(tmp_path, project_root, server.openai_url,
                                stopping="max_iterations = 1", run="concurrency = 2")
        proc = _start_calibration(project_root, path, tmp_path)
        _wait_for_journal(tmp_path, 3, proc)
        proc.kill()
        proc.communicate(timeout=WAIT_S)
        old = LoopState.load(load_experiment(path)).parent_run_id
        [p] = parents(mlflow_runs(tmp_path))
        assert p.info.status == "RUNNING"  # kill -9 leaves no chance to clean up
        path = write_experiment(tmp_path, project_root, server.openai_url,
                                stopping="max_iterations = 1", run="concurrency = 2",
                                target='metric = "icc"\nthreshold = 0.6')
        res = run_cli(project_root, "calibrate", str(path), "--no-progress")
    assert res.returncode == 0, res.stderr
    by_id = {r.info.run_id: r for r in parents(mlflow_runs(tmp_path))}
    assert len(by_id) == 2
    new = LoopState.load(load_experiment(path)).parent_run_id
    assert new != old and by_id[new].info.status == "FINISHED"
    assert by_id[old].info.status == "FAILED"
    assert by_id[old].data.tags["judgecal.superseded_by"] == new
    assert new in by_id[old].data.tags["mlflow.note.content"]


def test_two_calibrations_of_one_experiment_one_is_refused(tmp_path, project_root,
                                                          ids_by_output):
    gate = threading.Event()

    def respond(item, n):
        gate.wait(WAIT_S)
        return fs.score(3)

    rec = Recorder(ids_by_output, respond)
    with fs.FakeServer(rec) as server:
        # the server holds its replies until the second process has run: on a busy machine
        # starting it takes more than the suite's usual 5 s call deadline, so the held calls
        # get the whole wait (the test is about the lock, not about deadlines)
        path = write_experiment(tmp_path, project_root, server.openai_url,
                                stopping="max_iterations = 1",
                                run=f"concurrency = 4\nmax_attempts = 3\n"
                                    f"call_deadline_s = {WAIT_S}",
                                judge=(f'provider = "openai"\nmodel = "fake"\n'
                                       f'base_url = "{server.openai_url}"\n'
                                       f'api_key_env = "JC_FAULT_KEY"\ntimeout_s = {WAIT_S}'))
        first = _start_calibration(project_root, path, tmp_path)
        try:
            deadline = time.monotonic() + WAIT_S
            while not sum(rec.requests.values()) and time.monotonic() < deadline:
                time.sleep(0.05)  # the first one holds the lock and is calling
            second = run_cli(project_root, "calibrate", str(path), "--no-progress")
        finally:
            gate.set()
        _, err = first.communicate(timeout=WAIT_S)
    assert second.returncode == 2
    assert (f"another calibration of faults is running, pid {first.pid}"
            in one_line(second.stderr))
    assert first.returncode == 0, err
    assert len(parents(mlflow_runs(tmp_path))) == 1


def test_two_processes_open_a_fresh_mlflow_store_at_once(tmp_path, project_root):
    script = ("import sys\nfrom harness.tracking import Tracker\n"
              "print(Tracker(sys.argv[1], sys.argv[2]).experiment_id)\n")
    uri = f"sqlite:///{tmp_path / 'fresh.db'}"
    procs = [subprocess.Popen([sys.executable, "-c", script, f"e{i}", uri], cwd=project_root,
                              env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for i in range(3)]
    results = [p.communicate(timeout=WAIT_S) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [e[-400:] for _, e in results]
    assert len({o.strip() for o, _ in results}) == 3
