"""Provider batch APIs (harness.judges._batch): the real openai and anthropic SDKs against a
scripted local batch server (tests/batchserver.py)."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time

import batchserver as bs
import fakeserver as fs
import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.journal import BATCH_JOURNALED, SCHEMA_VERSION, Journal
from harness.judges import (
    BatchSettings,
    Message,
    RequestSpec,
    UnsupportedError,
    make_judge,
    run_judge_batch_sync,
    run_judge_sync,
)
from harness.judges._batch import custom_id_for, split_batches
from harness.judges._prices import Price, PriceTable
from harness.judges._runner import JudgeTask, RunSettings

KEY = "sk-test-batch-0123456789abcdef"
SPEC = RequestSpec(mode="structured", scale_min=1, scale_max=5)
PRICES = PriceTable({("openai", "fake-model"): Price(2.0, 8.0),
                     ("anthropic", "fake-model"): Price(2.0, 8.0)},
                    batch_factors={"openai": 0.5, "anthropic": 0.5})
FAST = {"poll_s": 0.05, "show_progress": False}
WAIT_S = 120  # upper bound on waiting for a child process; never an assertion


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("JC_BATCH_KEY", KEY)


@pytest.fixture
def journal(tmp_path):
    j = Journal(tmp_path / "state")
    yield j
    j.close()


def tasks(n: int, prefix: str = "i") -> list[JudgeTask]:
    return [JudgeTask(item_id=f"{prefix}{k}", sample_index=0, messages=(
        Message("system", "You judge recipes."),
        Message("user", f"ITEM: {prefix}{k}\nRate this recipe from 1 to 5.")))
        for k in range(n)]


def judge_for(api: str, server: bs.BatchServer):
    url = server.openai_url if api == "openai" else server.url
    return make_judge(api, "fake-model", base_url=url, api_key_env="JC_BATCH_KEY")


def batch(api, server, ts, journal, **kw):
    settings = BatchSettings(**{**FAST, **kw})
    return run_judge_batch_sync(judge_for(api, server), ts, SPEC, journal, settings,
                                prices=PRICES, secrets=[KEY])


def sync(api, server, ts, journal, **kw):
    return run_judge_sync(judge_for(api, server), ts, SPEC, journal,
                          RunSettings(show_progress=False, **kw), prices=PRICES, secrets=[KEY])


# --------------------------------------------------------------------------- the happy path


@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_batch_judges_journals_like_sync_and_a_sync_rerun_makes_no_call(api, tmp_path,
                                                                         journal):
    ts = tasks(6)
    with bs.BatchServer(bs.Script(polls=2)) as server:
        res = batch(api, server, ts, journal)
        assert server.stats.created[api] == 1 and server.stats.sync_calls == 0
        assert (res.n_ok, res.n_requests, res.n_cached, res.n_failed) == (6, 6, 0, 0)
        assert [j.score for j in res.judgments] == [fs.default_score(t.item_id) for t in ts]
        assert all(j.attempts == 1 and j.latency_s is not None for j in res.judgments)
        # custom_id = the journal key (a sha256 hex digest fits every provider's limit)
        ids = [e["custom_id"] for e in server.stats.entries]
        assert ids == [j.key for j in res.judgments]

        # the batch is journaled and closed
        (rec,) = journal.batches()
        assert rec.provider == api and rec.status == BATCH_JOURNALED and rec.round == 0
        assert set(rec.keys.values()) == {j.key for j in res.judgments}

        # a synchronous re-run answers every task from the journal: zero calls
        again = sync(api, server, ts, journal)
        assert again.n_requests == 0 and again.n_cached == 6 and server.stats.sync_calls == 0
        assert [j.score for j in again.judgments] == [j.score for j in res.judgments]

        # the records are those a synchronous call writes (only timing differs)
        other = Journal(tmp_path / "other")
        sync(api, server, ts, other)
        assert server.stats.sync_calls == 6
        for j in res.judgments:
            a, b = journal.get(j.key), other.get(j.key)
            assert a is not None and b is not None
            for name in ("status", "provider", "model", "params", "item_id", "messages",
                         "raw_reply", "score", "reasoning", "error", "attempts",
                         "input_tokens", "output_tokens"):
                assert getattr(a, name) == getattr(b, name), name
            # cost at batch prices: half the synchronous call's
            assert a.cost == pytest.approx(b.cost / 2)
        other.close()

        # each batch request's body is exactly the synchronous call's
        key_of = "body" if api == "openai" else "params"
        def canon(bodies):
            return sorted(json.dumps(b, sort_keys=True) for b in bodies)

        assert canon(e[key_of] for e in server.stats.entries) == \
            canon(server.stats.sync_bodies)
        if api == "openai":
            assert {e["url"] for e in server.stats.entries} == {"/v1/chat/completions"}
    # the key went to the server only
    assert any(KEY in " ".join(h.values()) for h in server.stats.headers)
    for path in (tmp_path / "state").iterdir():
        assert KEY.encode() not in path.read_bytes(), path


def test_run_cost_is_at_batch_price(journal):
    with bs.BatchServer() as server:
        res = batch("openai", server, tasks(3), journal)
    tokens_in, tokens_out = res.input_tokens, res.output_tokens
    assert tokens_out == 3 * 20
    assert res.cost == pytest.approx((tokens_in * 2.0 + tokens_out * 8.0) / 1e6 * 0.5)


# --------------------------------------------------------------------------- limits


@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_requests_are_split_by_the_batch_limit(api, journal):
    with bs.BatchServer() as server:
        res = batch(api, server, tasks(12), journal, max_requests=5)
        assert server.stats.created[api] == 3
        assert res.n_ok == 12 and res.n_requests == 12
    assert sorted(len(b.keys) for b in journal.batches()) == [2, 5, 5]


def test_split_by_bytes_and_a_request_too_large_for_any_batch():
    assert split_batches([5, 5, 5], max_requests=10, max_bytes=10) == ([[0, 1], [2]], [])
    assert split_batches([11, 3], max_requests=10, max_bytes=10) == ([[1]], [0])


def test_a_request_larger_than_a_batch_is_a_failed_judgment(journal):
    ts = tasks(3)
    big = JudgeTask(item_id="big", sample_index=0,
                    messages=(Message("user", "ITEM: big\n" + "x" * 5000),))
    with bs.BatchServer() as server:
        res = batch("openai", server, [*ts, big], journal, max_bytes=3000)
        assert server.stats.created["openai"] == 1 and len(server.stats.entries) == 3
    j = {x.item_id: x for x in res.judgments}
    assert j["big"].status == "failed" and "more than a openai batch may hold" in j["big"].error
    assert res.n_ok == 3 and res.n_requests == 3


def test_custom_id_maps_long_keys_deterministically():
    key = "a" * 64
    assert custom_id_for(key) == key
    long = "x" * 100
    assert custom_id_for(long) == custom_id_for(long) != custom_id_for(long + "y")
    assert len(custom_id_for(long)) == 64
    assert custom_id_for("has spaces") != "has spaces"


# --------------------------------------------------------------------------- resume


class Killed(KeyboardInterrupt):
    pass


@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_a_run_killed_while_polling_resumes_the_same_batch(api, journal):
    ts = tasks(7)

    def kill(state):
        raise Killed

    with bs.BatchServer(bs.Script(polls=3)) as server:
        with pytest.raises(Killed):
            batch(api, server, ts, journal, on_poll=kill)
        assert server.stats.created[api] == 1
        (open_batch,) = journal.batches(open_only=True)
        assert journal.count() == 0

        polled = []
        res = batch(api, server, ts, journal, on_poll=polled.append)
        # the same batch polled again, never a second submission
        assert server.stats.created[api] == 1
        assert {s.batch_id for s in polled} == {open_batch.batch_id}
        assert res.n_ok == 7 and res.n_cached == 0
        assert journal.batches(open_only=True) == []
        # and a third run has nothing to do
        third = batch(api, server, ts, journal)
        assert third.n_cached == 7 and server.stats.created[api] == 1
        assert server.stats.sync_calls == 0


def test_a_cli_run_killed_by_sigterm_resumes_with_no_second_submission(tmp_path,
                                                                      project_root):
    # polls: the batch stays in progress until the test lets it end
    script = bs.Script(polls=10**9)
    with bs.BatchServer(script) as server:
        exp = _experiment(tmp_path, project_root, server)
        args = ["judge", str(exp), "--batch", "--no-progress", "--json", "--resamples", "0"]
        proc = subprocess.Popen([sys.executable, "-m", "harness.cli", *args],
                                cwd=project_root, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + WAIT_S
            while time.monotonic() < deadline and proc.poll() is None \
                    and server.stats.retrieves < 2:
                time.sleep(0.05)
            if proc.poll() is not None:  # ended before it was killed: say why
                raise AssertionError(f"exit {proc.returncode}: {proc.communicate()[1]}")
            assert server.stats.retrieves >= 2  # created, journaled, polling
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=WAIT_S)
        finally:
            fs.stop_process(proc)
        assert proc.returncode == 143, err
        assert server.stats.created["openai"] == 1
        (open_batch,) = Journal(tmp_path / "state").batches(open_only=True)

        script.polls = 0  # the batch ends at its next poll
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 0, res.output
        doc = json.loads(res.output)["run"]
        assert server.stats.created["openai"] == 1  # polled again, never submitted twice
        assert doc["n_ok"] == doc["n_tasks"] == len(server.stats.entries) > 0
        assert Journal(tmp_path / "state").batch(open_batch.batch_id).status == \
            BATCH_JOURNALED


# --------------------------------------------------------------------------- failures


def test_an_expired_openai_batch_journals_the_done_and_fails_the_rest(journal):
    ts = tasks(6)
    late = {"i1", "i4"}
    with bs.BatchServer(bs.Script(outcome=lambda item, n: "expired"
                                  if item in late and n == 1 else "ok")) as server:
        res = batch("openai", server, ts, journal)
        j = {x.item_id: x for x in res.judgments}
        assert res.n_ok == 4 and res.n_failed == 2
        for item in late:
            assert j[item].status == "failed"
            assert "batch_expired" in j[item].error and "completion window" in j[item].error
            assert journal.get(j[item].key).status == "failed"
        (rec,) = journal.batches()
        assert rec.status == BATCH_JOURNALED

        # a re-run submits only the expired requests again
        again = batch("openai", server, ts, journal)
        assert server.stats.created["openai"] == 2
        assert [e["custom_id"] for e in server.stats.entries[6:]] == \
            [j["i1"].key, j["i4"].key]
        assert again.n_ok == 6 and again.n_cached == 4 and again.n_requests == 2


@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_a_partly_failed_batch_keeps_the_successes(api, journal):
    bad = {"i0", "i3"}
    with bs.BatchServer(bs.Script(outcome=lambda item, n: "error" if item in bad
                                  else "ok")) as server:
        res = batch(api, server, tasks(5), journal)
    j = {x.item_id: x for x in res.judgments}
    assert res.n_ok == 3 and res.n_failed == 2
    for item in bad:
        assert j[item].status == "failed"
        assert "fake batch says the request is malformed" in j[item].error
    assert sum(r.status == "ok" for r in journal.records()) == 3


def test_anthropic_expired_requests_are_failed(journal):
    with bs.BatchServer(bs.Script(outcome=lambda item, n: "expired" if item == "i2"
                                  else "ok")) as server:
        res = batch("anthropic", server, tasks(4), journal)
    j = {x.item_id: x for x in res.judgments}
    assert res.n_ok == 3 and j["i2"].status == "failed" and "expired" in j["i2"].error


def test_a_journaled_batch_the_provider_no_longer_knows_fails_its_requests(journal):
    def kill(state):
        raise Killed

    with bs.BatchServer(bs.Script(polls=3)) as server:
        with pytest.raises(Killed):
            batch("anthropic", server, tasks(2), journal, on_poll=kill)
        server.batches.clear()  # deleted at the provider
        res = batch("anthropic", server, tasks(2), journal)
        assert res.n_failed == 2 and server.stats.created["anthropic"] == 1
        assert all("does not know the batch any more" in j.error for j in res.judgments)
        assert journal.batches(open_only=True) == []
        # the next run submits them again
        res = batch("anthropic", server, tasks(2), journal)
        assert res.n_ok == 2 and server.stats.created["anthropic"] == 2


def test_a_batch_that_fails_validation_fails_every_request(journal):
    with bs.BatchServer(bs.Script(openai_status="failed")) as server:
        res = batch("openai", server, tasks(3), journal)
    assert res.n_failed == 3
    assert all("fake validation failure" in j.error for j in res.judgments)


@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_invalid_replies_are_asked_again_in_a_new_batch(api, journal):
    with bs.BatchServer(bs.Script(outcome=lambda item, n: "invalid" if item == "i1" and n < 3
                                  else "ok")) as server:
        res = batch(api, server, tasks(3), journal, parse_retries=1)
        # one re-ask: i1 invalid twice, recorded invalid after 2 tries
        assert server.stats.created[api] == 2
        j = {x.item_id: x for x in res.judgments}
        assert j["i1"].status == "invalid" and j["i1"].attempts == 2
        assert "invalid reply in 2 of 2 tries" in j["i1"].error
        assert res.n_requests == 4
        res = batch(api, server, tasks(3, "k"), journal, parse_retries=2)
        assert res.n_ok == 3


def test_max_calls_limits_what_is_submitted(journal):
    with bs.BatchServer() as server:
        res = batch("openai", server, tasks(5), journal, max_calls=3)
        assert len(server.stats.entries) == 3
    assert res.n_ok == 3 and res.n_skipped == 2
    assert res.stopped.startswith("budget: max_calls=3 reached") and "2 tasks skipped" in \
        res.stopped


def test_max_cost_submits_only_what_fits_at_batch_price(journal):
    with bs.BatchServer() as server:
        # each request is estimated at about 0.0021 USD at batch price (512 output tokens)
        res = batch("openai", server, tasks(5), journal, max_cost=0.005)
        assert len(server.stats.entries) == res.n_ok == 2 and res.n_skipped == 3
    assert res.stopped.startswith("budget: max_cost=0.005 USD reached")
    assert res.cost <= 0.005


def test_local_provider_has_no_batch_api(journal):
    judge = make_judge("local", "smol")
    with pytest.raises(UnsupportedError, match="no batch API"):
        run_judge_batch_sync(judge, tasks(1), SPEC, journal, BatchSettings(**FAST))


def test_anthropic_logprob_batch_is_refused_before_any_submission(journal):
    with bs.BatchServer() as server:
        from harness.judges import RunAborted

        with pytest.raises(RunAborted, match="logprob"):
            run_judge_batch_sync(judge_for("anthropic", server), tasks(2),
                                 RequestSpec(mode="logprob", scale_min=1, scale_max=5),
                                 journal, BatchSettings(**FAST))
        assert server.stats.created["anthropic"] == 0


# --------------------------------------------------------------------------- journal, prices


def test_a_version_2_journal_gains_the_batches_table(tmp_path):
    path = tmp_path / "journal.sqlite"
    Journal(path).close()
    conn = sqlite3.connect(path)  # as version 2 left it: no batches table
    conn.execute("DROP TABLE batches")
    conn.execute("UPDATE meta SET v = '2' WHERE k = 'schema_version'")
    conn.commit()
    conn.close()
    j = Journal(path)
    assert j.batches() == []
    version = j._connect().execute("SELECT v FROM meta WHERE k='schema_version'").fetchone()[0]
    assert version == str(SCHEMA_VERSION)
    j.close()


def test_price_file_batch_factors(tmp_path):
    table = PriceTable.load()
    assert table.batch_factor("openai") == table.batch_factor("anthropic") == 0.5
    assert table.batch_factor("local") == 1.0
    f = tmp_path / "prices.toml"
    f.write_text('[batch]\nopenai = 0.25\n[openai]\n"m" = { input = 4.0, output = 8.0 }\n')
    table = PriceTable.load([f])
    assert table.for_batch().price("openai", "m") == Price(1.0, 2.0, source=str(f))
    f.write_text("[batch]\nopenai = 2\n")
    with pytest.raises(ValueError, match="batch price factor must be a number from 0 to 1"):
        PriceTable.load([f])


# --------------------------------------------------------------------------- CLI


def _experiment(tmp_path, project_root, server, provider="openai", run=""):
    url = server.openai_url if provider == "openai" else server.url
    return fs.experiment_file(tmp_path, project_root, {
        "experiment": 'name = "batch"',
        "judge": f'provider = "{provider}"\nmodel = "fake-model"\nbase_url = "{url}"\n'
                 'api_key_env = "JC_BATCH_KEY"',
        "run": f"batch_poll_s = 0.05\nmax_invalid = 1.0\n{run}",
    })


def test_cli_judge_batch_runs_and_a_plain_rerun_is_cached(tmp_path, project_root):
    with bs.BatchServer() as server:
        exp = _experiment(tmp_path, project_root, server)
        res = CliRunner().invoke(app, ["judge", str(exp), "--batch", "--no-progress",
                                       "--json", "--resamples", "0"])
        assert res.exit_code == 0, res.output
        doc = json.loads(res.output)["run"]
        assert server.stats.created["openai"] == 1
        assert doc["n_requests"] == doc["n_ok"] == len(server.stats.entries) > 0
        res = CliRunner().invoke(app, ["judge", str(exp), "--no-progress", "--json",
                                       "--resamples", "0"])
        assert res.exit_code == 0, res.output
        assert json.loads(res.output)["run"]["n_requests"] == 0
        assert server.stats.sync_calls == 0


def test_cli_batch_true_in_the_experiment(tmp_path, project_root):
    with bs.BatchServer() as server:
        exp = _experiment(tmp_path, project_root, server, provider="anthropic",
                          run="batch = true")
        res = CliRunner().invoke(app, ["judge", str(exp), "--no-progress", "--json",
                                       "--resamples", "0"])
        assert res.exit_code == 0, res.output
        assert server.stats.created["anthropic"] == 1 and server.stats.sync_calls == 0
        # --no-batch overrides the file
        res = CliRunner().invoke(app, ["judge", str(exp), "--no-batch", "--refresh",
                                       "--no-progress", "--json", "--resamples", "0"])
        assert res.exit_code == 0, res.output
        assert server.stats.created["anthropic"] == 1 and server.stats.sync_calls > 0


@pytest.mark.parametrize("command", ["judge", "calibrate", "validate"])
def test_cli_batch_with_the_local_provider_exits_2(command, tmp_path, project_root):
    with bs.BatchServer() as server:
        exp = _experiment(tmp_path, project_root, server, provider="local")
        res = CliRunner().invoke(app, [command, str(exp), "--batch", "--no-progress"])
    assert res.exit_code == 2, res.output
    assert "provider local has no batch API" in res.output
    assert not (tmp_path / "state").exists() or Journal(tmp_path / "state").count() == 0


def test_cli_validate_batch_judges_the_holdout_through_the_batch_api(tmp_path, project_root):
    with bs.BatchServer() as server:
        exp = _experiment(tmp_path, project_root, server)
        res = CliRunner().invoke(app, ["validate", str(exp), "--prompt", "v1", "--batch",
                                       "--no-progress", "--json", "--resamples", "0"])
        assert res.exit_code == 0, res.output
        run = json.loads(res.output)["run"]
        assert run["split"] == "holdout" and server.stats.created["openai"] == 1
        assert run["n_requests"] == run["n_ok"] and server.stats.sync_calls == 0
        res = CliRunner().invoke(app, ["validate", str(exp), "--judgments", "x.csv",
                                       "--batch", "--no-progress"])
        assert res.exit_code == 2 and "drop --batch" in res.output


def test_batch_and_ray_are_two_ways_to_run_the_calls(tmp_path, project_root):
    with bs.BatchServer() as server:
        exp = _experiment(tmp_path, project_root, server, run='batch = true\nengine = "ray"')
        res = CliRunner().invoke(app, ["judge", str(exp), "--no-progress"])
    assert res.exit_code == 2 and "choose one" in res.output
