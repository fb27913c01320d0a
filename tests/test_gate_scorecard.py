"""`judgecal gate` on a scorecard: bars per question (tone.icc) and on the total (total.icc),
in TOML too; one JUnit testcase per (question, bar); a question's bar equals the one-question
gate on the same data; the total's bar is checked on the judge's totals."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import fakeserver as fs
import numpy as np
import pytest
from typer.testing import CliRunner

from harness.anchors import load_scorecard
from harness.cli import app
from harness.experiments import load_experiment
from harness.gate import ScorecardGateResult, gate_settings, load_gate, run_gate
from harness.reports import ReportSettings, agreement_report

runner = CliRunner()
CRITERIA = ["grammar", "fluency", "verbosity", "structure", "success", "overall"]
#: The question the fake judge gets backwards (7 - the consensus on the 1-6 scale).
BAD = "verbosity"


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("JC_CARD_KEY", "sk-test-card-0123456789abcdef")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


@pytest.fixture(scope="module")
def card(project_root):
    return load_scorecard(project_root / "anchors/recipes/recipes-scorecard.jsonl")


@pytest.fixture(scope="module")
def n_hold(card):
    return sum(1 for it in card.items if it.split == "holdout")


def judged(card, cid, item_id):
    """What the fake judge answers: the rounded consensus, backwards on BAD."""
    value = int(min(6, max(1, round(card.criterion(cid).consensus()[item_id]))))
    return 7 - value if cid == BAD else value


def handler_for(card):
    statement = {cid: card.spec(cid).label for cid in card.criterion_ids}
    by_output = {it.output.strip(): it.id for it in card.items}

    def handler(api, body, n):
        system = " ".join(m["content"] for m in body["messages"])
        cid = next(c for c, s in statement.items() if s in system)
        return fs.score(judged(card, cid, by_output[fs.recipe_output(body)]))

    return handler


def experiment(tmp_path, project_root, server, *, gate="", anchors_extra=""):
    prompts = ", ".join(f'{c} = "recipes-{c}"' for c in CRITERIA)
    sections = {
        "experiment": 'name = "card"',
        "anchors": f'path = "{project_root / "anchors/recipes/recipes-scorecard.jsonl"}"'
                   + anchors_extra,
        "prompt": f'name = "recipes"\nversion = "v1"\ndir = "{tmp_path / "prompts"}"\n'
                  f"criteria = {{ {prompts} }}",
        "judge": (f'provider = "openai"\nmodel = "fake"\nbase_url = "{server.openai_url}"\n'
                  'api_key_env = "JC_CARD_KEY"'),
        "run": "concurrency = 8\nmax_attempts = 2",
    }
    if gate:
        sections["gate"] = gate
    return fs.experiment_file(tmp_path, project_root, sections)


def gate(*args):
    return runner.invoke(app, ["gate", *map(str, args), "--resamples", "200", "--no-progress"])


def test_one_question_fails_the_scorecard_gate(tmp_path, project_root, card, n_hold):
    with fs.FakeServer(handler_for(card)) as server:
        exp = experiment(tmp_path, project_root, server)
        junit, summary = tmp_path / "gate.xml", tmp_path / "gate.md"
        res = gate(exp, "--min", "grammar.icc=0.6", "--min", f"{BAD}.icc=0.6",
                   "--max", "grammar.mae=1.0", "--junit", junit, "--summary", summary,
                   "--json")
        assert res.exit_code == 1, res.output
        assert server.stats.total == 2 * n_hold  # only the two gated questions are judged
        doc = json.loads(res.stdout)
        assert doc["kind"] == "scorecard" and doc["outcome"] == "fail"
        assert doc["outcomes"] == {"grammar": "pass", BAD: "fail"}
        assert [(b["criterion"], b["name"], b["outcome"]) for b in doc["bars"]] == [
            ("grammar", "grammar.icc >= 0.6 (lower 95% bound)", "pass"),
            ("grammar", "grammar.mae <= 1 (upper 95% bound)", "pass"),
            (BAD, f"{BAD}.icc >= 0.6 (lower 95% bound)", "fail"),
        ]
        bad = doc["bars"][2]
        assert bad["value"] < 0 and bad["ci95"][1] < 0.6
        assert list(doc["questions"]) == ["grammar", BAD] and doc["total"] is None
        assert doc["questions"]["grammar"]["prompt"]["name"] == "recipes-grammar"

        root = ET.parse(junit).getroot()
        suite = root.find("testsuite")
        cases = [(c.get("classname"), c.get("name"), c.find("failure") is not None)
                 for c in suite.findall("testcase")]
        assert cases[:3] == [
            ("judgecal.gate.card.grammar", "grammar.icc >= 0.6 (lower 95% bound)", False),
            ("judgecal.gate.card.grammar", "grammar.mae <= 1 (upper 95% bound)", False),
            (f"judgecal.gate.card.{BAD}", f"{BAD}.icc >= 0.6 (lower 95% bound)", True),
        ]
        # then one invalid-share testcase per judged question, both passing
        assert [(c, f) for c, _, f in cases[3:]] == [("judgecal.gate.card.grammar", False),
                                                      (f"judgecal.gate.card.{BAD}", False)]
        assert [c for c in cases if c[2]] == [cases[2]]
        assert root.get("tests") == "5" and root.get("failures") == "1"
        props = {p.get("name"): p.get("value") for p in suite.iter("property")}
        assert props["prompt.grammar"] == "recipes-grammar" and props["exit_code"] == "1"

        md = summary.read_text()
        assert "#### question `grammar`: ✅ PASS" in md
        assert f"#### question `{BAD}`: ❌ **FAIL**" in md
        assert md.index("`grammar`") < md.index("grammar.mae") < md.index(f"`{BAD}`")

        # the console table has a question column; a re-run is answered from the journal
        res = gate(exp, "--min", "grammar.icc=0.6", "--min", f"{BAD}.icc=0.6", "--offline")
        assert res.exit_code == 1, res.output
        assert server.stats.total == 2 * n_hold
        assert "question" in res.stdout and "FAIL: 1 of 2 bar(s) not met (on verbosity)" \
            in res.stdout


def test_a_question_bar_equals_the_one_question_gate(tmp_path, project_root, card, n_hold):
    with fs.FakeServer(handler_for(card)) as server:
        path = experiment(tmp_path, project_root, server)
        exp, settings = load_gate(path, min=["grammar.icc=0.6", "grammar.rho=0.5"],
                                  max=["grammar.bias=0.5"])
        card_result = run_gate(exp, settings, n_resamples=200)
        assert isinstance(card_result, ScorecardGateResult) and card_result.passed
        assert server.stats.total == n_hold
        # the one-question experiment on the same data: the question's view, its prompt
        one = load_experiment(path).for_criterion("grammar")
        alone = run_gate(one, gate_settings(min={"icc": 0.6, "rho": 0.5}, max={"bias": 0.5}),
                         n_resamples=200)
        assert server.stats.total == n_hold  # same journal keys: nothing re-judged
        assert len(alone.bars) == len(card_result.bars) == 3
        for mine, theirs in zip(card_result.bars, alone.bars, strict=True):
            assert mine.bar.criterion == "grammar" and theirs.bar.criterion is None
            assert mine.bar.label == theirs.bar.name
            assert (mine.value, mine.ci95, mine.checked, mine.outcome, mine.ceiling) == \
                (theirs.value, theirs.ci95, theirs.checked, theirs.outcome, theirs.ceiling)
        # the same version and judge on the same holdout is one look, not two
        assert alone.holdout_looks.n_versions == 1


def test_a_total_bar_from_toml_is_checked_on_the_judge_totals(tmp_path, project_root, card,
                                                                n_hold):
    with fs.FakeServer(handler_for(card)) as server:
        exp = experiment(tmp_path, project_root, server,
                         gate='min = { total.icc = 0.3, "grammar.kappa" = 0.5 }\n'
                              "max = { total.mae = 0.05 }")
        res = gate(exp, "--json")
        assert res.exit_code == 1, res.output
        doc = json.loads(res.stdout)
        assert server.stats.total == 6 * n_hold  # the total needs every question
        assert [(b["criterion"], b["metric"]) for b in doc["settings"]["bars"]] == [
            ("total", "icc"), ("grammar", "weighted_kappa"), ("total", "mae")]
        assert [(b["criterion"], b["name"], b["outcome"]) for b in doc["bars"]] == [
            ("grammar", "grammar.weighted_kappa >= 0.5 (lower 95% bound)", "pass"),
            ("total", "total.icc >= 0.3 (lower 95% bound)", "pass"),
            ("total", "total.mae <= 0.05 (upper 95% bound)", "fail"),
        ]
        assert doc["outcomes"] == {"grammar": "pass", "total": "fail"}
        total_bars = doc["bars"][1:]
        # the judge's total per item, formed by hand like a rater's from its six answers
        hold = card.split("holdout")
        table = hold.total().to_ratings()
        totals = np.array([hold.total_of({c: float(judged(card, c, item)) for c in CRITERIA})
                           for item in table.item_ids], dtype=float)
        expected = agreement_report(table, judge_scores=totals,
                                    settings=ReportSettings(n_resamples=200))
        icc = expected.judge["figures"]["icc"]
        mae = expected.judge["figures"]["mae"]
        assert total_bars[0]["value"] == pytest.approx(icc.value)
        assert total_bars[0]["ci95"] == pytest.approx(list(icc.ci95))
        assert total_bars[1]["value"] == pytest.approx(mae.value)
        assert total_bars[1]["ci95"] == pytest.approx(list(mae.ci95))
        # with BAD backwards the total still tracks the humans (ICC 0.88 [0.81, 0.93]) but
        # is off by about 0.11 on 0-1: even the lower end of the MAE's CI is above 0.05
        assert icc.value == pytest.approx(0.879, abs=5e-3) and icc.ci95[0] > 0.3
        assert mae.ci95[0] > 0.05
        assert doc["total"]["n_items"] == len(table.item_ids)
        assert doc["total"]["versions"] == dict.fromkeys(CRITERIA, "v1")
        assert doc["total"]["holdout_looks"]["n_versions"] == 1
        # a re-run with the same versions is the same look at the total's holdout
        res = gate(exp, "--json", "--offline")
        assert json.loads(res.stdout)["total"]["holdout_looks"]["n_versions"] == 1
        assert server.stats.total == 6 * n_hold


def test_bars_that_do_not_fit_the_experiment_are_input_errors(tmp_path, project_root, card):
    with fs.FakeServer(handler_for(card)) as server:
        exp = experiment(tmp_path, project_root, server)
        res = gate(exp, "--min", "icc=0.6")
        assert res.exit_code == 2
        assert "a bar names its question" in res.output and "grammar, fluency" in res.output
        res = gate(exp, "--min", "gramar.icc=0.6")
        assert res.exit_code == 2 and "did you mean 'grammar'" in res.output
        res = gate(exp, "--min", "grammar.icc=0.6", "--min", "success.icc=0.6",
                   "--prompt", "v1")
        assert res.exit_code == 2 and "--prompt grammar=v1" in res.output
        res = gate(exp, "--min", "grammar.icc=0.6", "--prompt", "fluency=v1")
        assert res.exit_code == 2 and "not gated" in res.output
        res = gate(exp, "--min", "grammar.icc=0.6", "--prompt", "grammar=v9")
        assert res.exit_code == 2 and "v9" in res.output
        bad_toml = experiment(tmp_path / "t", project_root, server,
                              gate="min = { total.foo = 0.5 }")
        res = gate(bad_toml)
        assert res.exit_code == 2 and "exp.toml" in res.output and "unknown metric" in res.output
        single = experiment(tmp_path / "s", project_root, server,
                            anchors_extra='\ncriterion = "grammar"')
        res = gate(single, "--min", "grammar.icc=0.6")
        assert res.exit_code == 2 and "needs a scorecard experiment" in res.output
        assert server.stats.total == 0


def test_prompt_per_question_and_a_bare_version_with_one_question(tmp_path, project_root,
                                                                   card, n_hold):
    with fs.FakeServer(handler_for(card)) as server:
        exp = experiment(tmp_path, project_root, server)
        res = gate(exp, "--min", "grammar.icc=0.6", "--prompt", "v1", "--json")
        assert res.exit_code == 0, res.output
        res = gate(exp, "--min", "grammar.icc=0.6", "--min", "fluency.icc=0.6",
                   "--prompt", "grammar=v1", "--prompt", "fluency=v1", "--json")
        assert res.exit_code == 0, res.output
        doc = json.loads(res.stdout)
        assert {q: d["prompt"]["version"] for q, d in doc["questions"].items()} == \
            {"grammar": "v1", "fluency": "v1"}
        assert server.stats.total == 2 * n_hold


def test_another_version_of_one_question_is_a_new_look_at_the_total(tmp_path, project_root,
                                                                     card, n_hold):
    with fs.FakeServer(handler_for(card)) as server:
        exp = experiment(tmp_path, project_root, server)
        folder = tmp_path / "prompts" / "recipes-grammar"
        v1 = (folder / "v1.j2").read_text()
        (folder / "v2.j2").write_text(v1.replace("version: 1", "version: 2")
                                      .replace("parent: none", "parent: 1")
                                      .replace("reason briefly", "reason very briefly"))
        res = gate(exp, "--min", "total.icc=0.3", "--json")
        assert res.exit_code == 0, res.output
        first = json.loads(res.stdout)
        assert first["total"]["holdout_looks"]["n_versions"] == 1
        res = gate(exp, "--min", "total.icc=0.3", "--prompt", "grammar=v2", "--json")
        assert res.exit_code == 0, res.output
        doc = json.loads(res.stdout)
        assert server.stats.total == 7 * n_hold  # grammar v2 judged, the rest from the journal
        looks = doc["total"]["holdout_looks"]
        assert looks["n_versions"] == 2 and looks["confidence"] == pytest.approx(0.975)
        assert doc["total"]["versions"]["grammar"] == "v2"
        assert doc["total"]["confidence"] == pytest.approx(0.975)
        assert doc["questions"]["grammar"]["holdout_looks"]["n_versions"] == 2
        assert doc["questions"]["fluency"]["holdout_looks"]["n_versions"] == 1
        # the same point figure, a wider CI: two looks at the total's holdout
        a, b = first["bars"][0], doc["bars"][0]
        assert a["value"] == pytest.approx(b["value"])
        assert b["ci95"][0] < a["ci95"][0] and b["ci95"][1] > a["ci95"][1]


def test_validate_a_scorecard_reports_every_question_and_the_total(tmp_path, project_root,
                                                                   card, n_hold):
    with fs.FakeServer(handler_for(card)) as server:
        exp = experiment(tmp_path, project_root, server)
        res = runner.invoke(app, ["validate", str(exp), "--json", "--resamples", "200",
                                  "--no-progress"])
        assert res.exit_code == 0, res.output
        doc = json.loads(res.stdout)
        assert server.stats.total == 6 * n_hold
        assert doc["kind"] == "scorecard" and list(doc["criteria"]) == CRITERIA
        assert doc["prompts"]["grammar"]["version"] == "v1"
        # the question judged backwards is the judge's worst gap to the humans
        assert doc["ranking"]["by_judge_gap"][0]["criterion"] == BAD
        assert doc["total"]["judge"]["n_items"] == doc["total"]["n_items"]
        # the same figures as the gate's on the same runs (from the journal)
        res = gate(exp, "--min", "grammar.icc=0.1", "--json", "--offline")
        assert res.exit_code == 0, res.output
        bar = json.loads(res.stdout)["bars"][0]
        assert bar["value"] == pytest.approx(doc["criteria"]["grammar"]["judge"]["figures"]
                                             ["icc"]["value"])
        assert server.stats.total == 6 * n_hold
        res = runner.invoke(app, ["validate", str(exp), "--resamples", "200", "--offline",
                                  "--no-progress"])
        assert res.exit_code == 0 and "Judge–human gap" in res.output
        res = runner.invoke(app, ["promote", str(exp), "--min", "grammar.icc=0.1",
                                  "--alias", "candidate", "--no-progress"])
        assert res.exit_code == 2 and "candidate" in res.output  # no such alias yet


def test_promote_a_scorecard_moves_every_judged_question_or_none(tmp_path, project_root, card,
                                                                monkeypatch):
    """promote on a scorecard: the gate on every judged question and the total; on a pass
    each question's version gets 'production' (servable with plain MLflow) and the
    scorecard's tags; on a failure no alias moves."""
    import mlflow

    versions = [a for c in CRITERIA for a in ("--prompt", f"{c}=v1")]
    with fs.FakeServer(handler_for(card)) as server:
        exp = experiment(tmp_path, project_root, server)
        res = runner.invoke(app, ["promote", str(exp), *versions, "--min", f"{BAD}.icc=0.5",
                                  "--min", "total.icc=0.0", "--resamples", "200",
                                  "--no-progress"])
        assert res.exit_code == 1, res.output
        assert "not promoted: alias 'production' unchanged" in res.output
        res = runner.invoke(app, ["promote", str(exp), *versions, "--min", "grammar.icc=0.3",
                                  "--min", "total.icc=0.0", "--resamples", "200",
                                  "--no-progress", "--offline"])
        assert res.exit_code == 0, res.output
    lines = [ln for ln in res.output.splitlines() if ln.startswith("promoted:")]
    assert len(lines) == 6
    assert lines[0].startswith("promoted: alias 'production' -> recipes-grammar v1 (question "
                               "grammar, registry version 1, sqlite:///")
    # an application's plain MLflow, pointed at the store for this test only (set_tracking_uri
    # would leak into every later test through the process-wide URI and its env variable)
    import mlflow.tracking._tracking_service.utils as tracking_utils

    monkeypatch.setattr(tracking_utils, "_tracking_uri", None)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    for cid in CRITERIA:
        pv = mlflow.genai.load_prompt(f"prompts:/recipes-{cid}@production")
        assert pv.tags["production_scorecard"] == "card"
        assert "total.icc" in pv.tags["production_scorecard_gate"]
        assert pv.tags["production_scorecard_questions"] == ",".join(CRITERIA)
        assert [m["role"] for m in pv.template] == ["system", "user"]
