"""`judgecal validate / gate / promote` end to end: real SDK -> local server -> bars -> outputs."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import fakeserver as fs
import pytest
import typer
from mlflowstore import migrated_store
from typer.testing import CliRunner

from harness.cli._gate import gate_cmd, promote_cmd, validate_cmd
from harness.gate import check, gate_settings, junit_xml, run_gate
from harness.loop._revise import examples_line

pytest_plugins = ["pytester"]

KEY = "sk-test-gate-0123456789abcdef"
runner = CliRunner()
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
app.command(name="validate")(validate_cmd)
app.command(name="gate")(gate_cmd)
app.command(name="promote")(promote_cmd)


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("JC_GATE_KEY", KEY)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


@pytest.fixture(scope="module")
def n_hold(demo):
    return sum(1 for it in demo.items if it.split == "holdout")


def judge_handler(demo):
    """Server-side judge: the rounded consensus for a prompt with examples, else noisier."""
    by_output = {it.output.strip(): it for it in demo.items}
    consensus = demo.consensus()

    def handler(api, body, n):
        system = body["messages"][0]["content"]
        item = by_output[fs.recipe_output(body)]
        value = round(consensus[item.id])
        if "Rated examples" not in system:
            value += sum(map(ord, item.id)) % 3 - 1  # -1, 0 or +1
        return fs.score(int(min(6, max(1, value))))

    return handler


def _example(item):
    return {"id": item.id, "input": item.input, "output": item.output, "score": 4,
            "rationale": "test"}


def write_prompts(tmp_path, project_root, demo):
    """v1 (the shipped one), v2 (a calibration example), v3 (a holdout example: leaked)."""
    folder = tmp_path / "prompts" / "recipes-overall"
    folder.mkdir(parents=True, exist_ok=True)
    v1 = (project_root / "prompts/recipes-overall/v1.j2").read_text()
    (folder / "v1.j2").write_text(v1)
    end = v1.index("-#}\n") + 4
    cal = next(it for it in demo.items if it.split == "calibration")
    hold = next(it for it in demo.items if it.split == "holdout")
    for n, item in ((2, cal), (3, hold)):
        header = (v1[:end].replace("version: 1", f"version: {n}")
                  .replace("parent: none", "parent: 1"))
        (folder / f"v{n}.j2").write_text(header + examples_line([_example(item)]) + v1[end:])
    return tmp_path / "prompts", hold.id


def write_experiment(tmp_path, project_root, demo, base_url, **sections):
    prompts, _ = write_prompts(tmp_path, project_root, demo)
    body = {
        "experiment": 'name = "gate-test"',
        "anchors": f'path = "{project_root / "anchors/recipes/recipes-overall.jsonl"}"',
        "prompt": f'name = "recipes-overall"\nversion = "v2"\ndir = "{prompts}"',
        "judge": (f'provider = "openai"\nmodel = "fake"\nbase_url = "{base_url}"\n'
                  'api_key_env = "JC_GATE_KEY"'),
        "run": "concurrency = 4\nmax_attempts = 2",
        "tracking": f'tracking_uri = "{migrated_store(tmp_path / "mlflow.db")}"',
        "state": f'dir = "{tmp_path / "state"}"',
    }
    body.update(sections)
    p = tmp_path / "exp.toml"
    p.write_text("\n".join(f"[{k}]\n{v}\n" for k, v in body.items()))
    return p


def gate(*args, command="gate"):
    return runner.invoke(app, [command, *map(str, args), "--no-progress"])


def as_json(res):
    return json.loads(res.stdout)


def parse_junit(path):
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    return root, suite, cases


# --------------------------------------------------------------------------- pass, offline


def test_gate_passes_and_an_offline_rerun_makes_zero_calls(tmp_path, project_root, demo,
                                                           n_hold):
    with fs.FakeServer(judge_handler(demo)) as server:
        exp = write_experiment(tmp_path, project_root, demo, server.openai_url,
                               gate="min = { icc = 0.7 }\nmax = { mae = 0.9 }")
        junit = tmp_path / "out/gate.xml"
        res = gate(exp, "--min", "spearman=0.8", "--json", "--junit", junit)
        assert res.exit_code == 0, res.output
        assert server.stats.total == n_hold
        doc = as_json(res)
        assert doc["passed"] and doc["exit_code"] == 0 and doc["split"] == "holdout"
        assert doc["prompt"]["version"] == "v2" and doc["n_items"] == n_hold
        names = [b["name"] for b in doc["bars"]]
        assert names == ["icc >= 0.7 (lower 95% bound)", "spearman >= 0.8 (lower 95% bound)",
                         "mae <= 0.9 (upper 95% bound)"]
        icc = doc["bars"][0]
        assert icc["value"] > 0.9 and icc["ci95"][0] <= icc["value"] <= icc["ci95"][1]
        assert icc["ceiling"]["median"] is not None and icc["ceiling_method"]
        assert doc["invalid"]["share"] == 0 and doc["invalid"]["passed"]
        assert any("no calibration record" in w for w in doc["warnings"])
        assert doc["checks"]["anchors"] == "no calibration record"

        # the CI re-run: same prompt, model, parameters, anchors -> no call at all
        res = gate(exp, "--min", "spearman=0.8", "--offline", "--junit", junit)
        assert res.exit_code == 0, res.output
        assert server.stats.total == n_hold
        assert "PASS: all 3 bar(s) met" in res.stdout and "icc >= 0.7" in res.stdout
    root, suite, cases = parse_junit(junit)
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "0", "0")
    assert root.get("tests") == "4" and root.get("failures") == "0"
    assert set(cases) == {"icc >= 0.7 (lower 95% bound)", "spearman >= 0.8 (lower 95% bound)",
                          "mae <= 0.9 (upper 95% bound)", "invalid share <= 0.05"}
    assert all(c.find("failure") is None for c in cases.values())
    assert "human ceiling" in cases["icc >= 0.7 (lower 95% bound)"].find("system-out").text
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["prompt_version"] == "v2" and props["n_requests"] == "0"
    assert props["n_cached"] == str(n_hold)


def test_offline_on_a_fresh_journal_exits_3_before_any_call(tmp_path, project_root, demo):
    with fs.FakeServer(judge_handler(demo)) as server:
        exp = write_experiment(tmp_path, project_root, demo, server.openai_url)
        junit = tmp_path / "gate.xml"
        res = gate(exp, "--min", "icc=0.5", "--offline", "--junit", junit)
        assert server.stats.total == 0
    assert res.exit_code == 3, res.output
    flat = " ".join(res.output.split())
    assert "offline" in flat and re.search(r"for item '[a-z0-9_]+'", flat)
    root, suite, cases = parse_junit(junit)
    assert suite.get("errors") == "1" and root.get("errors") == "1"
    (case,) = cases.values()
    assert case.find("error").get("type") == "JudgeFailure"


# --------------------------------------------------------------------------- bars


def test_a_bar_not_met_exits_1_with_junit_and_summaries(tmp_path, project_root, demo,
                                                        monkeypatch):
    step = tmp_path / "step_summary.md"
    step.write_text("## an earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    with fs.FakeServer(judge_handler(demo)) as server:
        exp = write_experiment(tmp_path, project_root, demo, server.openai_url)
        junit, summary = tmp_path / "gate.xml", tmp_path / "summary.md"
        res = gate(exp, "--min", "icc=0.99", "--max", "mae=0.05", "--min", "rho=0.5",
                   "--on", "point", "--junit", junit, "--summary", summary)
        assert res.exit_code == 1, res.output
        # --summary pointing at the step summary itself: appended once, nothing clobbered
        res = gate(exp, "--min", "icc=0.5", "--summary", step)
        assert res.exit_code == 0, res.output
    root, suite, cases = parse_junit(junit)
    assert (suite.get("tests"), suite.get("failures")) == ("4", "2")
    failure = cases["icc >= 0.99 (point)"].find("failure")
    assert failure is not None and failure.get("type") == "BelowBar"
    assert "is below the bar 0.99" in failure.get("message")
    assert "is above the bar 0.05" in cases["mae <= 0.05 (point)"].find("failure").get("message")
    assert cases["spearman >= 0.5 (point)"].find("failure") is None
    md = summary.read_text()
    assert md.startswith("### ❌ judgecal gate fail") and "| icc >= 0.99 (point) |" in md
    assert "human ceiling" in md and "❌ **FAIL**" in md
    text = step.read_text()
    assert text.startswith("## an earlier step\n")
    assert text.count("### ❌ judgecal gate fail") == 1
    assert text.count("### ✅ judgecal gate pass") == 1


def test_lower_bound_fails_where_the_point_estimate_passes(tmp_path, project_root, demo):
    with fs.FakeServer(judge_handler(demo)) as server:
        exp = write_experiment(tmp_path, project_root, demo, server.openai_url)
        res = gate(exp, "--min", "icc=0.1", "--json")
        assert res.exit_code == 0, res.output
        bar = as_json(res)["bars"][0]
        lo, value = bar["ci95"][0], bar["value"]
        assert lo < value
        mid = round((lo + value) / 2, 4)
        res = gate(exp, "--min", f"icc={mid}", "--on", "point", "--json")
        assert res.exit_code == 0, res.output
        # the CI straddles the bar: inconclusive (exit 4), no longer a failure
        res = gate(exp, "--min", f"icc={mid}", "--on", "lower-bound", "--json")
        assert res.exit_code == 4, res.output
        doc = as_json(res)
        assert doc["bars"][0]["checked"] == pytest.approx(lo)
        assert doc["bars"][0]["outcome"] == "inconclusive" and doc["outcome"] == "inconclusive"
        assert "95% CI" in doc["bars"][0]["message"]
        # a --max bar under lower-bound is checked on the upper end of its CI
        res = gate(exp, "--max", "mae=5", "--on", "lower-bound", "--json")
        mae = as_json(res)["bars"][0]
        assert res.exit_code == 0 and mae["checked"] == pytest.approx(mae["ci95"][1])
        assert mae["name"] == "mae <= 5 (upper 95% bound)"
        assert server.stats.total == sum(1 for it in demo.items if it.split == "holdout")


def test_regression_against_a_baseline_on_the_same_items(tmp_path, project_root, demo,
                                                         n_hold):
    with fs.FakeServer(judge_handler(demo)) as server:
        exp = write_experiment(tmp_path, project_root, demo, server.openai_url)
        # v1 (no examples, noisier) is worse than v2 by far more than 0.01
        res = gate(exp, "--prompt", "v1", "--max-regression", "icc=0.01", "--baseline", "v2",
                   "--on", "point", "--json")
        assert res.exit_code == 1, res.output
        bar = as_json(res)["bars"][0]
        assert bar["name"] == "icc regression <= 0.01 vs v2"
        assert bar["baseline_value"] > bar["value"] and bar["checked"] > 0.01
        assert f"on {n_hold} shared items" in bar["message"]
        # the other way round: no regression; the bar in the file, the baseline on the CLI
        exp.write_text(exp.read_text() + "\n[gate]\nmax_regression = { icc = 0.01 }\n")
        res = gate(exp, "--prompt", "v2", "--baseline", "v1", "--min", "icc=0.7",
                   "--on", "point", "--json")
        assert res.exit_code == 0, res.output
        doc = as_json(res)
        assert [(b["kind"], b["passed"]) for b in doc["bars"]] == [("min", True),
                                                                   ("max_regression", True)]
        assert doc["bars"][1]["baseline"] == "v1" and doc["baseline"]["version"] == "v1"
        # the default: a paired test; v2 gains on v1, so its loss is negative, bounded
        # below the allowed 0.01, and passes
        res = gate(exp, "--prompt", "v2", "--baseline", "v1", "--min", "icc=0.7",
                   "--on", "lower-bound", "--json")
        assert res.exit_code == 0, res.output
        (reg,) = [b for b in as_json(res)["bars"] if b["kind"] == "max_regression"]
        lo, hi = reg["checked_ci95"]
        assert lo <= reg["checked"] <= hi < 0 and reg["test"]["ci"] == [lo, hi]
        assert reg["test"]["p_value"] > 0.5 and not reg["test"]["significant"]
        assert reg["name"] == "icc regression <= 0.01 vs v1 (paired test)"
        # and v1 against v2 fails: worse by more than 0.01, and significant
        res = gate(exp, "--prompt", "v1", "--baseline", "v2", "--json")
        assert res.exit_code == 1, res.output
        (reg,) = [b for b in as_json(res)["bars"] if b["kind"] == "max_regression"]
        assert reg["outcome"] == "fail" and reg["test"]["significant"]
        assert reg["test"]["p_value"] <= 0.05 and "significant (one-sided p" in reg["message"]
        assert server.stats.total == 2 * n_hold  # each version judged once


# --------------------------------------------------------------------------- exit 2


def test_usage_and_input_errors_exit_2(tmp_path, project_root, demo):
    with fs.FakeServer(judge_handler(demo)) as server:
        exp = write_experiment(tmp_path, project_root, demo, server.openai_url)
        cases = [
            (["--min", "nonsense=0.7"], "unknown metric 'nonsense'"),
            (["--min", "icc"], "expects METRIC=VALUE"),
            (["--min", "icc=high"], "is not a number"),
            (["--min", "mae=0.5"], "use --max mae=VALUE"),
            (["--max", "icc=0.5"], "use --min icc=VALUE"),
            (["--min", "icc=0.7", "--prompt", "v9"], "v9"),
            (["--min", "icc=0.7", "--on", "upper"], "--on must be one of"),
            (["--min", "icc=0.7", "--max-invalid", "1.5"], "between 0 and 1"),
            (["--max-regression", "icc=0.1"], "needs a baseline"),
            (["--max-regression", "icc=0.1", "--baseline", "v9"], "v9"),
            (["--min", "icc=0.7", "--prompt", "v2", "--alias", "candidate"], "not both"),
            (["--min", "icc=0.7", "--alias", "candidate"], "not found"),
            ([], "no bars to check"),
        ]
        for args, message in cases:
            res = gate(exp, *args)
            assert res.exit_code == 2, (args, res.output)
            assert message in " ".join(res.output.split()), (args, res.output)
        res = gate(tmp_path / "missing.toml", "--min", "icc=0.7")
        assert res.exit_code == 2 and "file not found" in res.output
        bad = tmp_path / "bad.toml"
        bad.write_text("[experiment\nname = 1\n")
        res = gate(bad, "--min", "icc=0.7")
        assert res.exit_code == 2 and "invalid TOML" in res.output
        bad.write_text(exp.read_text() + "\n[gate]\nmin = { accuracy = 0.7 }\n")
        res = gate(bad)
        assert res.exit_code == 2 and "unknown metric 'accuracy'" in res.output
        assert re.search(r"bad\.toml:\d+: gate\.min", res.output)
        bad.write_text(exp.read_text() + "\n[gate]\nmin = { mae = 0.7 }\n")
        res = gate(bad)
        assert res.exit_code == 2 and "[gate] min" in res.output
        res = gate(exp, command="promote")
        assert res.exit_code == 2 and "--prompt" in res.output
        assert server.stats.total == 0


def test_a_version_with_holdout_examples_is_refused(tmp_path, project_root, demo):
    with fs.FakeServer(judge_handler(demo)) as server:
        exp = write_experiment(tmp_path, project_root, demo, server.openai_url)
        _, hold_id = write_prompts(tmp_path, project_root, demo)
        res = gate(exp, "--prompt", "v3", "--min", "icc=0.1")
        assert res.exit_code == 2, res.output
        assert hold_id in res.output and "holdout" in res.output
        res = gate(exp, "--prompt", "v3", command="validate")
        assert res.exit_code == 2, res.output
        assert server.stats.total == 0


# --------------------------------------------------------------------------- exit 3


def test_invalid_replies_above_the_allowed_share_exit_3(tmp_path, project_root, demo):
    good = judge_handler(demo)
    holdout = sorted(it.id for it in demo.items if it.split == "holdout")
    bad_items = {it.output.strip() for it in demo.items if it.id in holdout[:4]}

    def handler(api, body, n):
        if fs.recipe_output(body) in bad_items:
            return fs.off_scale(99)
        return good(api, body, n)

    with fs.FakeServer(handler) as server:
        exp = write_experiment(tmp_path, project_root, demo, server.openai_url,
                               scoring="parse_retries = 0")
        junit = tmp_path / "gate.xml"
        res = gate(exp, "--min", "icc=0.5", "--junit", junit, "--json")
        assert res.exit_code == 3, res.output
        doc = as_json(res)
        assert doc["invalid"]["n_invalid"] == 4 and not doc["invalid"]["passed"]
        _, suite, cases = parse_junit(junit)
        fail = cases["invalid share <= 0.05"].find("failure")
        assert fail is not None and fail.get("type") == "JudgeFailure"
        assert "4 invalid" in fail.get("message")
        # allowed share raised: the invalid replies come from the journal, the bar decides
        res = gate(exp, "--min", "icc=0.5", "--max-invalid", "0.2")
        assert res.exit_code == 0, res.output


def test_provider_unreachable_exits_3(tmp_path, project_root, demo):
    exp = write_experiment(tmp_path, project_root, demo, f"http://127.0.0.1:{fs.free_port()}/v1",
                           run="concurrency = 8\nmax_attempts = 1")
    res = gate(exp, "--min", "icc=0.5")
    assert res.exit_code == 3, res.output
    flat = " ".join(res.output.split())
    # all calls failing, or the circuit breaker stopping the run: the cause is named
    assert re.search(r"unreachable|circuit breaker", flat) and "Connection error" in flat


def test_budget_spent_exits_3(tmp_path, project_root, demo):
    with fs.FakeServer(judge_handler(demo)) as server:
        exp = write_experiment(tmp_path, project_root, demo, server.openai_url,
                               budget="max_calls = 5")
        res = gate(exp, "--min", "icc=0.5")
        assert server.stats.total == 5
    assert res.exit_code == 3, res.output
    assert "budget" in res.output


# --------------------------------------------------------------------------- MLflow


def _tracker(tmp_path):
    from harness.tracking import Tracker

    return Tracker("gate-test", migrated_store(tmp_path / "mlflow.db"))


def test_alias_and_the_holdout_hash_recorded_at_calibration(tmp_path, project_root, demo):
    from harness.prompts import load_prompt

    with fs.FakeServer(judge_handler(demo)) as server:
        exp = write_experiment(tmp_path, project_root, demo, server.openai_url)
        tracker = _tracker(tmp_path)
        v2 = load_prompt("recipes-overall", "v2", prompts_dir=tmp_path / "prompts")
        reg = tracker.register_prompt_version(
            v2, commit_message="test", tags={"holdout_items_hash": demo.items_hash("holdout")})
        tracker.set_prompt_alias("recipes-overall", "candidate", reg)

        res = gate(exp, "--alias", "candidate", "--min", "icc=0.7", "--json")
        assert res.exit_code == 0, res.output
        doc = as_json(res)
        assert doc["prompt"] == {"name": "recipes-overall", "version": "v2", "hash": v2.hash,
                                 "alias": "candidate", "registry_version": reg}
        assert doc["checks"]["anchors"] == "unchanged"
        assert not any("calibration record" in w for w in doc["warnings"])
        # registered without a judge record (before judges were recorded): a warning only
        assert doc["checks"]["judge"] == "no judge record" and not doc["judge_changed"]
        assert any("has no judge record" in w for w in doc["warnings"])

        # the holdout items changed since calibration: refused, unless allowed
        tracker.set_prompt_version_tags("recipes-overall", reg, {"holdout_items_hash": "0" * 64})
        res = gate(exp, "--alias", "candidate", "--min", "icc=0.7")
        assert res.exit_code == 2, res.output
        assert "changed since recipes-overall v2 was calibrated" in " ".join(res.output.split())
        res = gate(exp, "--prompt", "v2", "--min", "icc=0.7", "--allow-changed-anchors",
                   "--json")
        assert res.exit_code == 0, res.output
        doc = as_json(res)
        assert doc["checks"]["anchors"] == "changed (allowed)"
        assert doc["prompt"]["registry_version"] == reg
        assert any("--allow-changed-anchors" in w for w in doc["warnings"])
        # validate only warns
        res = gate(exp, "--prompt", "v2", "--resamples", "0", command="validate")
        assert res.exit_code == 0, res.output
        assert "Agreement report" in res.output
        assert "not comparable" in " ".join(res.output.split())


def test_promote_sets_production_only_when_the_gate_passes(tmp_path, project_root, demo):
    with fs.FakeServer(judge_handler(demo)) as server:
        exp = write_experiment(tmp_path, project_root, demo, server.openai_url)
        res = gate(exp, "--prompt", "v2", "--min", "icc=0.999", command="promote")
        assert res.exit_code == 1, res.output
        assert "not promoted" in res.output
        tracker = _tracker(tmp_path)
        assert tracker.prompt_version_for_alias("recipes-overall", "production") is None
        res = gate(exp, "--prompt", "v2", "--min", "icc=0.7", "--json", command="promote")
        assert res.exit_code == 0, res.output
        promoted = as_json(res)["promoted"]
        assert promoted["alias"] == "production" and promoted["version"] == "v2"
    found = tracker.prompt_version_for_alias("recipes-overall", "production")
    assert found is not None
    number, tags = found
    assert number == promoted["registry_version"] and tags["judgecal_version"] == "v2"
    assert "icc >= 0.7" in tags["production_gate"]


# --------------------------------------------------------------------------- validate, API


def test_validate_reports_agreement_with_the_human_ceiling(tmp_path, project_root, demo,
                                                           n_hold):
    with fs.FakeServer(judge_handler(demo)) as server:
        exp = write_experiment(tmp_path, project_root, demo, server.openai_url)
        res = runner.invoke(app, ["validate", str(exp), "--json", "--no-progress",
                                  "--resamples", "200"])
        assert res.exit_code == 0, res.output
        doc = as_json(res)
        assert doc["run"]["n_requests"] == n_hold and doc["n_items"] == n_hold
        assert doc["run"]["split"] == "holdout" and doc["prompt"]["version"] == "v2"
        assert doc["judge"]["ceiling"]["icc"]["median"] is not None
        res = gate(exp, "--split", "calibration", command="validate")
        assert res.exit_code == 0, res.output
        assert "on the calibration split" in " ".join(res.output.split())


def test_junit_of_an_input_error_and_library_settings(tmp_path):
    from harness.gate import GateErrorOutcome

    xml = junit_xml(GateErrorOutcome("gate", "x.toml", "bad <thing> & \"more\"", 2))
    root = ET.fromstring(xml)
    err = root.find("testsuite/testcase/error")
    assert err.get("message") == "bad <thing> & \"more\"" and err.get("type") == "InputError"
    s = gate_settings(None, min={"kappa": 0.6}, max=["bias=0.3"], on="lower-bound")
    assert [b.name for b in s.bars] == ["weighted_kappa >= 0.6", "|bias| <= 0.3"]
    assert run_gate.__doc__ and check.__doc__


# --------------------------------------------------------------------------- pytest plugin


def test_the_judge_gate_fixture_in_a_team_test_suite(tmp_path, project_root, demo, pytester):
    with fs.FakeServer(judge_handler(demo)) as server:
        exp = write_experiment(tmp_path, project_root, demo, server.openai_url,
                               gate='on = "point"')
        pytester.makepyfile(test_team=f"""
            def test_judge_may_ship(judge_gate):
                result = judge_gate({str(exp)!r}, min={{"spearman": 0.7}}, max={{"mae": 0.9}})
                assert result.passed and result.bars[0].name == "spearman >= 0.7 (point)"

            def test_offline_rerun(judge_gate):
                result = judge_gate({str(exp)!r}, min={{"spearman": 0.7}}, offline=True)
                assert result.run.result.n_requests == 0

            def test_judge_below_the_bar(judge_gate):
                judge_gate({str(exp)!r}, min={{"icc": 0.999}})

            def test_missing_version(judge_gate):
                judge_gate({str(exp)!r}, min={{"icc": 0.5}}, prompt="v9")
        """)
        result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q")
        n_calls = server.stats.total
    result.assert_outcomes(passed=2, failed=2)
    text = result.stdout.str()
    assert "judge gate failed (exit 1)" in text and "icc >= 0.999 (point)" in text
    assert "judge gate could not run (exit 2, input error)" in text and "v9" in text
    assert n_calls == sum(1 for it in demo.items if it.split == "holdout")


# --------------------------------------------------------------------------- the judge


def _models(handler, seen):
    """The handler, recording the model each request asked for."""

    def wrapped(api, body, n):
        seen.append(body.get("model"))
        return handler(api, body, n)

    return wrapped


def test_calibrated_judge_recorded_and_another_judge_refused(tmp_path, project_root, demo,
                                                            n_hold):
    from harness.experiments import load_experiment
    from harness.loop import calibrate

    seen: list[str] = []
    with fs.FakeServer(_models(judge_handler(demo), seen)) as server:
        exp = write_experiment(tmp_path, project_root, demo, server.openai_url,
                               stopping="max_iterations = 1",
                               report=f'dir = "{tmp_path / "reports"}"')
        calibrate(load_experiment(exp), show_progress=False)
        tracker = _tracker(tmp_path)
        number, tags = tracker.prompt_version_for_alias("recipes-overall", "candidate")
        # the version and the alias record the judge: provider, model, endpoint, parameters
        assert tags["judgecal_version"] == "v2"
        assert tags["judgecal.judge.provider"] == "openai"
        assert tags["judgecal.judge.model"] == "fake"
        assert str(server.port) in "".join(v for k, v in tags.items()
                                           if k.startswith("judgecal.judge."))
        assert tags["judgecal.judge.params.mode"] == "structured"
        assert tags["judgecal.judge.params.temperature"] == "0.0"
        assert tags["judgecal.judge.params.samples"] == "1"
        assert len(tags["judgecal.judge_hash"]) == 64
        assert tags["judgecal.alias.candidate.judge_hash"] == tags["judgecal.judge_hash"]

        # the same judge: gated, answered from the journal
        calls = server.stats.total
        res = gate(exp, "--alias", "candidate", "--min", "icc=0.7", "--json")
        assert res.exit_code == 0, res.output
        doc = as_json(res)
        assert doc["checks"]["judge"] == "unchanged" and doc["judge_changed"] is False
        assert doc["judge_check"]["hash"] == tags["judgecal.judge_hash"]
        assert server.stats.total == calls

        # another model (--model overrides the file): refused before any call, fields named
        for command in ("gate", "validate", "promote"):
            bars = [] if command == "validate" else ["--min", "icc=0.7"]
            res = gate(exp, "--alias", "candidate", *bars, "--model", "llama3.1",
                       command=command)
            assert res.exit_code == 2, (command, res.output)
            flat = " ".join(res.output.split())
            assert "model: registered fake, now llama3.1" in flat, flat
            assert "--allow-judge-change" in flat
        assert server.stats.total == calls
        assert tracker.prompt_version_for_alias("recipes-overall", "production") is None
        # another endpoint is another judge too
        other = f"http://localhost:{server.port}/v1"
        res = gate(exp, "--alias", "candidate", "--min", "icc=0.7", "--base-url", other)
        assert res.exit_code == 2 and "now" in res.output and "localhost" in res.output

        # allowed: gated with the judge now configured, and the result says it changed
        summary = tmp_path / "summary.md"
        junit = tmp_path / "gate.xml"
        res = gate(exp, "--alias", "candidate", "--min", "icc=0.7", "--model", "llama3.1",
                   "--allow-judge-change", "--json", "--summary", summary, "--junit", junit)
        assert res.exit_code == 0, res.output
        doc = as_json(res)
        assert doc["judge_changed"] is True and doc["checks"]["judge"] == "changed (allowed)"
        assert doc["judge"]["model"] == "llama3.1"
        assert "model: registered fake, now llama3.1" in doc["judge_check"]["differences"]
        assert any("--allow-judge-change" in w for w in doc["warnings"])
        assert seen[-n_hold:] == ["llama3.1"] * n_hold  # the override reached the server
        assert "**judge changed**" in summary.read_text()
        _, suite, _ = parse_junit(junit)
        props = {p.get("name"): p.get("value") for p in suite.find("properties")}
        assert props["judge.model"] == "llama3.1" and props["judge_changed"] == "true"
        assert props["scoring_mode"] == "structured"
        res = gate(exp, "--alias", "candidate", "--min", "icc=0.7", "--model", "llama3.1",
                   "--allow-judge-change", "--offline")
        assert res.exit_code == 0, res.output
        assert "JUDGE CHANGED" in " ".join(res.output.split())


def test_promote_records_the_judge_and_a_baseline_of_another_judge_is_refused(
        tmp_path, project_root, demo):
    with fs.FakeServer(judge_handler(demo)) as server:
        exp = write_experiment(tmp_path, project_root, demo, server.openai_url)
        res = gate(exp, "--prompt", "v1", "--min", "icc=0.1", "--model", "gpt-4o-mini",
                   "--json", command="promote")
        assert res.exit_code == 0, res.output
        doc = as_json(res)
        number, tags = _tracker(tmp_path).prompt_version_for_alias("recipes-overall",
                                                                   "production")
        assert tags["judgecal_version"] == "v1"
        assert tags["judgecal.alias.production.judge.model"] == "gpt-4o-mini"
        assert tags["judgecal.alias.production.judge_hash"] == doc["judge_check"]["hash"]
        assert tags["judgecal.judge.model"] == "gpt-4o-mini"  # registered by promote

        # v2 (never registered) against production, on the file's model: refused
        args = ["--prompt", "v2", "--max-regression", "icc=0.5", "--baseline", "production"]
        res = gate(exp, *args)
        assert res.exit_code == 2, res.output
        flat = " ".join(res.output.split())
        assert "the baseline recipes-overall v1 (alias production" in flat
        assert "model: registered gpt-4o-mini, now fake" in flat
        res = gate(exp, *args, "--allow-judge-change", "--json")
        assert res.exit_code == 0, res.output
        doc = as_json(res)
        assert doc["judge_changed"] is True
        assert doc["judge_check"]["baseline_status"] == "changed (allowed)"
        assert doc["judge_check"]["baseline_differences"] == [
            "model: registered gpt-4o-mini, now fake"]
        # the library refuses too, and allows with allow_judge_change=True
        from harness.gate import GateInputError

        with pytest.raises(GateInputError, match="registered gpt-4o-mini, now fake"):
            check(exp, max_regression={"icc": 0.5}, baseline="production", prompt="v2")
        assert check(exp, max_regression={"icc": 0.5}, baseline="production", prompt="v2",
                     allow_judge_change=True).judge.changed


def test_json_reports_the_scoring_mode_used_by_a_logprob_run(tmp_path, project_root, demo):
    with fs.FakeServer(judge_handler(demo)) as server:
        exp = write_experiment(tmp_path, project_root, demo, server.openai_url)
        folder = tmp_path / "prompts" / "recipes-overall"
        v2 = (folder / "v2.j2").read_text()
        (folder / "v4.j2").write_text(v2.replace("version: 2", "version: 4")
                                      .replace("scoring: structured", "scoring: logprob"))
        res = gate(exp, "--prompt", "v4", "--min", "icc=0.1", "--json")
        assert res.exit_code == 0, res.output
        doc = as_json(res)
        assert doc["scoring"] == {"mode": "logprob", "structured": None}
        assert doc["judge_check"]["params"]["mode"] == "logprob"
        res = gate(exp, "--prompt", "v4", "--json", command="validate")
        assert res.exit_code == 0, res.output
        assert as_json(res)["scoring"]["mode"] == "logprob"
