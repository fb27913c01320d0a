"""harness.tracking against real MLflow stores: an embedded SQLite store and a real server.

Everything written through :class:`~harness.tracking.Tracker` is read back with MLflow's own
``MlflowClient``. The local tests share one SQLite store (its first use runs MLflow's schema
migrations, which take seconds) with one experiment per test. The tracking server used by
the last test is started when this module starts (it takes ~15 s to boot) and stopped by
its process id (and process group) when the test ends.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from fakeserver import free_port
from matplotlib.figure import Figure
from mlflow import MlflowClient

from harness.agreement import AgreementResult, undefined
from harness.prompts import load_prompt_file
from harness.tracking import (
    DEFAULT_TRACKING_URI,
    JudgeRecord,
    Tracker,
    judge_record,
    judge_tags,
    metrics_from_figures,
    mlflow_key,
    prompt_registry_name,
    resolve_tracking_uri,
)

FAKE_KEY = "sk-proj-FAKEabcdef0123456789XYZ"  # shaped like an OpenAI key
EXPLICIT_SECRET = "hunter2-not-key-shaped"  # only redacted because it is passed as a secret
SERVER_BOOT_TIMEOUT = 60.0
REMOTE_TEST = "test_remote_tracking_server"


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """No tracking URI from the environment; an empty working directory that must stay
    free of MLflow's default store (nothing may fall back to MLflow's global state)."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    yield
    assert not (cwd / "mlflow.db").exists() and not (cwd / "mlruns").exists()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite tracking store shared by the local tests (``sqlite:///<tmp>/mlflow.db``)."""
    return f"sqlite:///{tmp_path_factory.mktemp('store')}/mlflow.db"


@pytest.fixture
def tracker(store: str, request: pytest.FixtureRequest) -> Tracker:
    return Tracker(f"exp-{request.node.name}", store, secrets=[EXPLICIT_SECRET])


def _client(uri: str) -> MlflowClient:
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _write_prompt(root: Path, name: str, version: int, body: str, *, parent: int | None = None,
                  changelog: str = "A version.") -> Path:
    path = root / name / f"v{version}.j2"
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (f"{{#- judgecal-prompt\nversion: {version}\n"
              f"parent: {parent if parent is not None else 'none'}\n"
              f"changelog: {changelog}\nscale: 1-5\nscoring: structured\n-#}}\n")
    path.write_bytes((header + body).encode("utf-8"))
    return path


PROMPT_BODY_V1 = (
    "[system]\n"
    "Rate the answer on {{ criterion }} from {{ scale.min }} to {{ scale.max }}.   \n"
    "{% if examples %}{% for ex in examples %}Example: {{ ex.output }} -> {{ ex.score }}\n"
    "{% endfor %}{% endif %}\n"
    "[user]\n"
    "<answer>{{ item.output }}</answer>\té — ünïcode\n\n"
)
PROMPT_BODY_V2 = PROMPT_BODY_V1.replace("Rate the answer", "Reason first, then rate the answer")


# ------------------------------------------------------------------------ local store


def test_calibration_with_nested_iterations_reads_back(tracker: Tracker, store: str,
                                                       tmp_path: Path) -> None:
    csv = tmp_path / "judgments.csv"
    csv.write_text("item_id,judge,consensus\na,3,4\nb,5,5\n", encoding="utf-8")
    fig = Figure(figsize=(2, 2))
    fig.add_subplot().plot([1, 2, 3], [1, 4, 9])

    with tracker.start_calibration("calibrate-demo", params={"threshold": 0.7, "primary": "icc"},
                                   tags={"anchor_set": "recipes"}) as cal:
        assert cal.finished_iterations() == {}
        ids = {}
        for i in (1, 2):
            with cal.iteration(i, params={"prompt_version": f"v{i}", "n_items": 100},
                               tags={"prompt": "judge-x"}) as it:
                figures = {"icc": AgreementResult("icc", 0.5 + i / 10, ci95=(0.4, 0.9)),
                           "kappa": undefined("kappa", "zero variance")}
                it.log_metrics({**metrics_from_figures(figures), "cost_usd": 0.01 * i}, step=i)
                it.log_artifact(csv, "judgments")
                it.log_dict({"iteration": i, "values": (1.5, float("nan"))}, "report/iter.json")
                it.log_figure(fig, "plots/scatter.png")
            ids[i] = it.run_id
            cal.log_metrics({"best_icc": 0.5 + i / 10}, step=i)
        assert cal.finished_iterations() == ids
        assert cal.find_iteration(2) == ids[2] and cal.find_iteration(3) is None
    assert cal.ended

    client = _client(store)
    parent = client.get_run(cal.run_id)
    assert parent.info.status == "FINISHED"
    assert parent.info.run_name == "calibrate-demo"
    assert parent.data.params == {"threshold": "0.7", "primary": "icc"}
    assert parent.data.tags["anchor_set"] == "recipes"
    history = client.get_metric_history(cal.run_id, "best_icc")
    assert [(m.step, round(m.value, 6)) for m in history] == [(1, 0.6), (2, 0.7)]

    children = client.search_runs([parent.info.experiment_id],
                                  filter_string=f"tags.`mlflow.parentRunId` = '{cal.run_id}'")
    assert sorted(int(r.data.tags["iteration"]) for r in children) == [1, 2]
    for run in children:
        i = int(run.data.tags["iteration"])
        assert run.info.status == "FINISHED"
        assert run.info.run_name == f"iteration-{i}"
        assert run.data.tags["prompt"] == "judge-x"
        assert run.data.params == {"prompt_version": f"v{i}", "n_items": "100"}
        assert set(run.data.metrics) == {"icc", "icc_ci_lo", "icc_ci_hi", "cost_usd"}
        assert [m.step for m in client.get_metric_history(run.info.run_id, "icc")] == [i]
        top = {f.path for f in client.list_artifacts(run.info.run_id)}
        assert top == {"judgments", "report", "plots"}
        assert [f.path for f in client.list_artifacts(run.info.run_id, "plots")] == [
            "plots/scatter.png"]
        local = Path(client.download_artifacts(run.info.run_id, "", str(tmp_path / f"dl{i}")))
        assert (local / "judgments" / "judgments.csv").read_bytes() == csv.read_bytes()
        assert (local / "plots" / "scatter.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        report = (local / "report" / "iter.json").read_text()
        assert json.loads(report) == {"iteration": i, "values": [1.5, None]}
    # Artifacts of a SQLite store live beside the database, not in the working directory.
    db_dir = Path(store.removeprefix("sqlite:///")).parent
    assert Path(children[0].info.artifact_uri).is_relative_to(db_dir / "mlruns")

    link = tracker.run_link(cal.run_id)
    assert link == f"experiment {parent.info.experiment_id}, run {cal.run_id}"
    assert tracker.ui_command() == f"mlflow ui --backend-store-uri {store}"


@pytest.mark.parametrize("exc_type", [RuntimeError, KeyboardInterrupt])
def test_exception_in_iteration_marks_iteration_and_parent_failed(
        tracker: Tracker, store: str, exc_type: type[BaseException]) -> None:
    with pytest.raises(exc_type, match="boom"):  # noqa: SIM117 - the two exits are the point
        with tracker.start_calibration("failing", params={}, tags={}) as cal:
            with cal.iteration(1, params={"p": 1}):
                pass
            with cal.iteration(2, params={"p": 2}) as it2:
                raise exc_type("boom")
    client = _client(store)
    assert client.get_run(cal.run_id).info.status == "FAILED"
    assert client.get_run(it2.run_id).info.status == "FAILED"
    assert client.get_run(cal.find_iteration(1)).info.status == "FINISHED"
    assert cal.finished_iterations().keys() == {1}


def test_iteration_left_open_is_ended_with_the_parent(tracker: Tracker, store: str) -> None:
    with pytest.raises(ValueError, match="outside"):  # noqa: SIM117
        with tracker.start_calibration("open-child", params={}, tags={}) as cal:
            it = cal.iteration(1, params={})  # not used as a context manager
            raise ValueError("outside the iteration")
    client = _client(store)
    assert client.get_run(it.run_id).info.status == "FAILED"
    assert client.get_run(cal.run_id).info.status == "FAILED"


def test_resume_after_kill(tracker: Tracker, store: str, request: pytest.FixtureRequest) -> None:
    # First "process": the parent and iteration 1 finish, then it dies inside iteration 2
    # (no context-manager exit ever runs).
    first = tracker.start_calibration("resumable", params={"max_iterations": 5, "seed": 1},
                                      tags={"anchor_set": "recipes"})
    with first.iteration(1, params={"prompt_version": "v1"}) as it1:
        it1.log_metrics({"icc": 0.61}, step=1)
    stale = first.iteration(2, params={"prompt_version": "v2"})
    client = _client(store)
    assert client.get_run(first.run_id).info.status == "RUNNING"
    del first, stale

    # Second "process": a new tracker reopens the run.
    again = Tracker(f"exp-{request.node.name}", store, secrets=[EXPLICIT_SECRET])
    with again.start_calibration("resumable", params={"max_iterations": 8, "seed": 1},
                                 tags={"anchor_set": "recipes"}, resume_run_id=it1.parent_run_id
                                 ) as cal:
        assert cal.resumed and cal.run_id == it1.parent_run_id
        assert client.get_run(cal.run_id).info.status == "RUNNING"
        done = cal.finished_iterations()
        assert done == {1: it1.run_id}
        assert cal.find_iteration(2) is None
        for i in (1, 2):
            if cal.find_iteration(i):
                continue
            with cal.iteration(i, params={"prompt_version": f"v{i}"}) as it:
                it.log_metrics({"icc": 0.72}, step=i)
        assert cal.finished_iterations().keys() == {1, 2}

    parent = client.get_run(cal.run_id)
    assert parent.info.status == "FINISHED"
    # Params are immutable in MLflow: the first value stays, the new one is kept as a tag.
    assert parent.data.params == {"max_iterations": "5", "seed": "1"}
    assert parent.data.tags["resumed.max_iterations"] == "8"
    assert parent.data.tags["judgecal.resume_count"] == "1"
    children = client.search_runs([parent.info.experiment_id],
                                  filter_string=f"tags.`mlflow.parentRunId` = '{cal.run_id}'")
    by_status = sorted((r.data.tags["iteration"], r.info.status) for r in children)
    # The iteration the kill interrupted is KILLED, not left RUNNING; it was redone.
    assert by_status == [("1", "FINISHED"), ("2", "FINISHED"), ("2", "KILLED")]


def test_resume_rejects_a_run_of_another_experiment(tracker: Tracker, store: str) -> None:
    other = Tracker("exp-other-experiment", store)
    with other.start_calibration("x", params={}, tags={}) as run:
        pass
    with pytest.raises(ValueError, match="belongs to experiment"):
        tracker.start_calibration("x", params={}, tags={}, resume_run_id=run.run_id)
    with pytest.raises(ValueError, match="not found"):
        tracker.start_calibration("x", params={}, tags={}, resume_run_id="0" * 32)
    assert _client(store).get_run(run.run_id).info.status == "FINISHED"  # left alone


def test_prompt_registry(tracker: Tracker, store: str, tmp_path: Path) -> None:
    name = "judge-registry_test.v"
    v1 = load_prompt_file(_write_prompt(tmp_path, name, 1, PROMPT_BODY_V1,
                                        changelog="First version."))
    v2 = load_prompt_file(_write_prompt(tmp_path, name, 2, PROMPT_BODY_V2, parent=1,
                                        changelog="Reason before the score."))
    assert prompt_registry_name(name) == name  # judgecal names need no mapping

    assert tracker.find_prompt_version(name, v1.hash) is None
    assert tracker.prompt_version_for_alias(name, "candidate") is None  # no such prompt yet
    n1 = tracker.register_prompt_version(v1, commit_message="v1: first", tags={"iteration": 1})
    n2 = tracker.register_prompt_version(v2, commit_message="v2: reason first",
                                         tags={"iteration": 2})
    assert (n1, n2) == (1, 2)
    # Idempotent: a resumed calibration registers nothing new.
    assert tracker.register_prompt_version(v2, commit_message="again", tags={}) == n2
    assert tracker.register_prompt_version(v1, commit_message="again", tags={}) == n1
    assert tracker.find_prompt_version(name, v2.hash) == n2

    client = _client(store)
    for pv, n in ((v1, n1), (v2, n2)):
        loaded = client.load_prompt(name, version=n, cache_ttl_seconds=0)
        # the file verbatim, byte for byte, in a tag; the template is MLflow's chat form
        assert loaded.tags["judgecal_text"].encode("utf-8") == pv.path.read_bytes()
        assert "{{ item.output }}" in loaded.tags["judgecal_text"]
        assert [m["role"] for m in loaded.template] == ["system", "user"]
        assert loaded.tags["judgecal_version"] == pv.label
        assert loaded.tags["content_hash"] == pv.hash
        assert loaded.tags["scoring"] == "structured"
        assert loaded.tags["scale"] == "1-5"
        assert loaded.commit_message.startswith(pv.label)
    assert client.load_prompt(name, version=n1).tags["parent"] == "none"
    assert client.load_prompt(name, version=n2).tags["parent"] == "v1"
    assert len(client.search_prompt_versions(name)) == 2
    # Linked to this tracker's experiment (MLflow links to its global one otherwise).
    deadline = time.monotonic() + 10  # MLflow links in a background thread
    found: list[str] = []
    while time.monotonic() < deadline and name not in found:
        found = [p.name for p in client.search_prompts(
            filter_string=f'experiment_id = "{tracker.experiment_id}"')]
        time.sleep(0.05)
    assert name in found
    assert tracker.prompt_text(name, n2) == v2.text

    tracker.set_prompt_alias(name, "candidate", n2)
    tracker.set_prompt_version_tags(name, n2, {"holdout_icc": 0.71, "holdout_gap": None,
                                               "holdout_n": 40})
    resolved = tracker.prompt_version_for_alias(name, "candidate")
    assert resolved is not None
    number, tags = resolved
    assert number == n2
    assert tags["holdout_icc"] == "0.71" and tags["holdout_n"] == "40"
    assert "holdout_gap" not in tags
    assert not any(k.startswith("mlflow.") for k in tags)
    assert client.get_prompt_version_by_alias(name, "candidate").version == n2
    assert tracker.prompt_version_for_alias(name, "production") is None

    with tracker.start_calibration("linking", params={}, tags={}) as cal:
        cal.link_prompt(name, n1)
        cal.link_prompt(name, n2)
        cal.link_prompt(name, n2)  # once only
    linked = json.loads(client.get_run(cal.run_id).data.tags["mlflow.linkedPrompts"])
    assert linked == [{"name": name, "version": "1"}, {"name": name, "version": "2"}]

    # Moving the alias to another version.
    tracker.set_prompt_alias(name, "candidate", n1)
    assert tracker.prompt_version_for_alias(name, "candidate")[0] == n1


def test_judge_tags_record_the_judge_and_name_what_changed(tracker: Tracker, store: str,
                                                          tmp_path: Path) -> None:
    name = "judge-record"
    v1 = load_prompt_file(_write_prompt(tmp_path, name, 1, PROMPT_BODY_V1))
    identity = {"provider": "openai", "model": "gpt-4o-mini",
                "endpoint": "https://api.example.com:443/v1", "options": {"b": 2, "a": 1}}
    params = {"mode": "logprob", "temperature": 0.0, "seed": None, "samples": 3,
              "aggregate": "median"}
    tags = judge_tags(identity, params)
    assert tags["judgecal.judge.model"] == "gpt-4o-mini"
    assert tags["judgecal.judge.options"] == '{"a": 1, "b": 2}'  # canonical JSON
    assert tags["judgecal.judge.params.seed"] == "null"
    assert len(tags["judgecal.judge_hash"]) == 64
    # the same judge written in another key order has the same hash
    same = judge_tags(dict(reversed(identity.items())), dict(reversed(params.items())))
    assert same["judgecal.judge_hash"] == tags["judgecal.judge_hash"]

    n = tracker.register_prompt_version(v1, commit_message="v1", tags=tags)
    tracker.set_prompt_alias(name, "production", n)
    llama = {**identity, "model": "llama3.1", "endpoint": "http://127.0.0.1:8089/v1"}
    tracker.set_prompt_version_tags(name, n, judge_tags(llama, params, alias="production"))
    stored = tracker.prompt_version_tags(name, n)
    rec = judge_record(stored)
    assert rec is not None and rec.hash == tags["judgecal.judge_hash"]
    assert rec.fields["params.samples"] == "3"
    assert rec.differences(JudgeRecord.of(identity, params)) == []
    assert rec.differences(JudgeRecord.of(llama, {**params, "temperature": 0.7})) == [
        "model: registered gpt-4o-mini, now llama3.1",
        "endpoint: registered https://api.example.com:443/v1, now http://127.0.0.1:8089/v1",
        "params.temperature: registered 0.0, now 0.7",
    ]
    # read through the alias: the judge it was set with; an alias without a record of its
    # own falls back to the version's; a version without any record reads as None
    assert judge_record(stored, alias="production").fields["model"] == "llama3.1"
    assert judge_record(stored, alias="candidate").fields["model"] == "gpt-4o-mini"
    assert judge_record({"content_hash": "x"}) is None and judge_record(None) is None


def test_secrets_redacted_and_nan_metrics_skipped(tracker: Tracker, store: str,
                                                  tmp_path: Path) -> None:
    leaky = tmp_path / "leaky.txt"
    leaky.write_text(f"error: 401 with key {FAKE_KEY}\n", encoding="utf-8")
    clean = tmp_path / "clean.txt"
    clean.write_text("nothing secret\n", encoding="utf-8")
    with tracker.start_calibration("secrets", params={"judge": f"openai key={FAKE_KEY}",
                                                      "password": EXPLICIT_SECRET,
                                                      "skipped": None},
                                   tags={"note": f"Authorization: Bearer {FAKE_KEY}"}) as cal:
        cal.set_tags({"explicit": f"x {EXPLICIT_SECRET} y"})
        cal.log_text(f"a reply mentioning {FAKE_KEY} and {EXPLICIT_SECRET}", "replies.txt")
        cal.log_dict({"config": {"api_key": FAKE_KEY}}, "config.json")
        cal.log_artifact(leaky)
        cal.log_artifact(clean)
        cal.log_metrics({"ok": 0.5, "nan": float("nan"), "none": None, "inf": math.inf},
                        step=1)
        cal.log_metrics({"nan": float("nan")}, step=2)  # an all-skipped batch is a no-op

    client = _client(store)
    run = client.get_run(cal.run_id)
    everything = " ".join([*run.data.params.values(), *run.data.tags.values()])
    dl = Path(client.download_artifacts(cal.run_id, "", str(tmp_path / "dl")))
    for f in dl.iterdir():
        everything += f.read_text(encoding="utf-8")
    assert FAKE_KEY not in everything
    assert EXPLICIT_SECRET not in everything
    assert run.data.params["password"] == "[REDACTED]"
    assert run.data.params["judge"] == "openai key=[REDACTED]"
    assert "skipped" not in run.data.params
    assert run.data.tags["explicit"] == "x [REDACTED] y"
    assert (dl / "leaky.txt").read_text() == "error: 401 with key [REDACTED]\n"
    assert (dl / "clean.txt").read_text() == "nothing secret\n"
    assert leaky.read_text().count(FAKE_KEY) == 1  # the local file is left alone
    assert run.data.metrics == {"ok": 0.5}
    assert client.get_metric_history(cal.run_id, "nan") == []


def test_long_values_are_truncated_and_keys_made_valid(tracker: Tracker, store: str) -> None:
    with tracker.start_calibration("limits", params={"rubric": "x" * 7000, "ICC(2,1)": 1},
                                   tags={"long": "y" * 9000}) as cal:
        cal.log_metrics({"holdout/ICC(2,1)": 0.5, "a//b": 1.0}, step=0)
    run = _client(store).get_run(cal.run_id)
    assert len(run.data.params["rubric"]) == 6000
    assert run.data.params["ICC_2_1_"] == "1"
    assert len(run.data.tags["long"]) == 8000
    assert run.data.metrics == {"holdout/ICC_2_1_": 0.5, "a/b": 1.0}


def test_env_uri_overrides_configured_and_mlflow_is_quiet(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    env_uri = f"sqlite:///{tmp_path}/env/fresh.db"  # a fresh store: migrations run here
    configured = tmp_path / "configured" / "mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", env_uri)
    assert resolve_tracking_uri(f"sqlite:///{configured}") == env_uri
    capfd.readouterr()
    tr = Tracker("exp-env", f"sqlite:///{configured}")
    assert tr.tracking_uri == env_uri
    with tr.start_calibration("env", params={"a": 1}, tags={}) as cal:
        cal.log_text("hi", "hi.txt")
    out, err = capfd.readouterr()
    assert out == ""
    assert "INFO" not in err and "alembic" not in err.lower()
    assert (tmp_path / "env" / "fresh.db").is_file()
    assert not configured.exists()
    assert _client(env_uri).get_run(cal.run_id).info.status == "FINISHED"

    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.chdir(tmp_path)
    assert DEFAULT_TRACKING_URI == "sqlite:///mlflow.db"
    assert resolve_tracking_uri(None) == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert resolve_tracking_uri("http://127.0.0.1:5000") == "http://127.0.0.1:5000"


def test_metrics_from_figures() -> None:
    figures = {
        "icc": AgreementResult("icc", 0.8, ci95=(0.7, 0.9)),
        "spearman": AgreementResult("spearman", -0.1),
        "kappa(quadratic)": AgreementResult("kappa", 0.6, ci95=(0.5, 0.7)),
        "alpha": undefined("alpha", "one rater"),
    }
    assert metrics_from_figures(figures, prefix="holdout/") == {
        "holdout/icc": 0.8, "holdout/icc_ci_lo": 0.7, "holdout/icc_ci_hi": 0.9,
        "holdout/spearman": -0.1,
        "holdout/kappa_quadratic_": 0.6, "holdout/kappa_quadratic__ci_lo": 0.5,
        "holdout/kappa_quadratic__ci_hi": 0.7,
    }
    assert metrics_from_figures({}) == {}
    for key in ("../x", "./a", "a/./b", "", "..", "a:b"):
        fixed = mlflow_key(key)
        assert fixed and not fixed.startswith(("/", "..")) and "//" not in fixed
        assert "/./" not in f"/{fixed}/" and ":" not in fixed


# ---------------------------------------------------------------------- remote server


class _Server:
    """An ``mlflow server`` subprocess started by this module (own process group)."""

    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.artifacts = root / "artifacts"
        self.log = root / "server.log"
        exe = Path(sys.executable).parent / "mlflow"
        env = {k: v for k, v in os.environ.items()
               if k not in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
        env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"  # no job-runner process needed
        self.started = time.monotonic()
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [str(exe), "server", "--host", "127.0.0.1", "--port", str(self.port),
                 "--workers", "1", "--backend-store-uri", f"sqlite:///{root}/srv.db",
                 "--artifacts-destination", str(self.artifacts), "--serve-artifacts"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]

    def wait_healthy(self) -> None:
        deadline = self.started + SERVER_BOOT_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"mlflow server exited with {self.proc.returncode}:\n{self.output()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        pytest.fail(f"mlflow server not healthy after {SERVER_BOOT_TIMEOUT:.0f} s:\n"
                    f"{self.output()}")

    def stop(self) -> None:
        """Terminate the server by its pid and its process group (uvicorn worker)."""
        pid = self.proc.pid  # with start_new_session, also the process group id
        if self.proc.poll() is None:
            self.proc.terminate()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)  # any worker that outlived the server


@pytest.fixture(scope="module", autouse=True)
def _server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """Boot the server at the start of the module (only if the remote test is selected),
    so that its ~15 s start overlaps the local tests."""
    if not any(item.name == REMOTE_TEST for item in request.session.items):
        yield None
        return
    server = _Server(tmp_path_factory.mktemp("server"))
    try:
        yield server
    finally:
        server.stop()


def test_remote_tracking_server(_server: _Server | None, tmp_path: Path) -> None:
    assert _server is not None
    try:
        _server.wait_healthy()
        tr = Tracker("exp-remote", _server.url, secrets=[EXPLICIT_SECRET])
        assert tr.tracking_uri == _server.url
        pv = load_prompt_file(_write_prompt(tmp_path / "prompts", "judge-remote", 1,
                                            PROMPT_BODY_V1))
        with tr.start_calibration("remote", params={"judge": "fake", "secret": EXPLICIT_SECRET},
                                  tags={}) as cal:
            n = tr.register_prompt_version(pv, commit_message="v1", tags={"iteration": 1})
            with cal.iteration(1, params={"prompt_version": "v1"}) as it:
                it.log_metrics({"icc": 0.66, "nan": float("nan")}, step=1)
                it.log_text("# Iteration 1\n", "notes/summary.md")
                it.link_prompt(pv.name, n)
            tr.set_prompt_alias(pv.name, "candidate", n)
        assert tr.register_prompt_version(pv, commit_message="again", tags={}) == n

        client = _client(_server.url)
        parent = client.get_run(cal.run_id)
        assert parent.info.status == "FINISHED"
        assert parent.data.params == {"judge": "fake", "secret": "[REDACTED]"}
        child = client.get_run(it.run_id)
        assert child.info.status == "FINISHED"
        assert child.data.tags["mlflow.parentRunId"] == cal.run_id
        assert child.data.metrics == {"icc": 0.66}
        assert json.loads(child.data.tags["mlflow.linkedPrompts"]) == [
            {"name": pv.name, "version": str(n)}]
        assert child.info.artifact_uri.startswith("mlflow-artifacts:")  # proxied by the server
        assert [f.path for f in client.list_artifacts(it.run_id, "notes")] == [
            "notes/summary.md"]
        got = client.download_artifacts(it.run_id, "notes/summary.md", str(tmp_path))
        assert Path(got).read_text() == "# Iteration 1\n"
        assert [p.name for p in _server.artifacts.rglob("summary.md")] == ["summary.md"]
        loaded = client.load_prompt(pv.name, version=n, cache_ttl_seconds=0)
        assert loaded.tags["judgecal_text"] == pv.text  # template: MLflow's chat form
        assert tr.prompt_version_for_alias(pv.name, "candidate")[0] == n
        assert cal.finished_iterations() == {1: it.run_id}
        assert tr.run_link(cal.run_id).endswith(
            f"{_server.url}/#/experiments/{parent.info.experiment_id}/runs/{cal.run_id}")
        assert tr.ui_command() == _server.url
    finally:
        _server.stop()
    assert _server.proc.poll() is not None
