"""Three outcomes: pass, fail, inconclusive (exit 4), and the anchors that would decide a bar."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import fakeserver as fs
import numpy as np
import pytest
from test_gate import as_json, gate, judge_handler, write_experiment

from harness.agreement import AgreementResult
from harness.gate import (
    EXIT_INCONCLUSIVE,
    Bar,
    evaluate_bar,
    gate_settings,
)
from harness.gate import _verdict as gate_module
from harness.plan import anchors_to_decide


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("JC_GATE_KEY", "sk-test-gate-0123456789abcdef")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


# --------------------------------------------------------------------------- bars


ICC = AgreementResult("icc", 0.75, ci95=(0.62, 0.85))


@pytest.mark.parametrize(("bar", "outcome"), [
    (Bar("min", "icc", 0.60), "pass"),          # the lower end clears it
    (Bar("min", "icc", 0.70), "inconclusive"),  # 0.62 < 0.70 <= 0.85
    (Bar("min", "icc", 0.90), "fail"),          # even the upper end misses it
])
def test_a_min_bar_has_three_outcomes_on_the_ci(bar, outcome):
    r = evaluate_bar(bar, ICC, "lower-bound")
    assert r.outcome == outcome and r.passed == (outcome == "pass")
    assert r.to_dict()["outcome"] == outcome
    assert ("more_anchors_to_decide" in r.to_dict()) == (outcome == "inconclusive")


def test_point_keeps_two_outcomes():
    assert evaluate_bar(Bar("min", "icc", 0.70), ICC, "point").outcome == "pass"
    assert evaluate_bar(Bar("min", "icc", 0.80), ICC, "point").outcome == "fail"
    undefined = AgreementResult("icc", None, reason="zero variance")
    assert evaluate_bar(Bar("min", "icc", 0.7), undefined, "point").outcome == "fail"
    assert evaluate_bar(Bar("min", "icc", 0.7), undefined, "lower-bound").outcome == \
        "inconclusive"


def test_max_and_abs_bias_bars_on_the_ci():
    mae = AgreementResult("mae", 0.5, ci95=(0.4, 0.6))
    assert evaluate_bar(Bar("max", "mae", 0.65), mae, "lower-bound").outcome == "pass"
    assert evaluate_bar(Bar("max", "mae", 0.55), mae, "lower-bound").outcome == "inconclusive"
    assert evaluate_bar(Bar("max", "mae", 0.35), mae, "lower-bound").outcome == "fail"
    bias = AgreementResult("bias", -0.1, ci95=(-0.3, 0.05))  # |bias| in [0, 0.3]
    assert evaluate_bar(Bar("max", "bias", 0.2), bias, "lower-bound").outcome == "inconclusive"
    assert evaluate_bar(Bar("max", "bias", 0.35), bias, "lower-bound").outcome == "pass"
    far = AgreementResult("bias", 0.5, ci95=(0.4, 0.6))  # |bias| in [0.4, 0.6]
    assert evaluate_bar(Bar("max", "bias", 0.3), far, "lower-bound").outcome == "fail"


def test_on_comes_from_the_command_line_then_the_file():
    from harness.experiments import GateSection

    assert gate_settings(None, min={"icc": 0.7}).on == GateSection().on
    assert gate_settings(GateSection(on="lower-bound"), min={"icc": 0.7}).on == "lower-bound"
    assert gate_settings(GateSection(on="point"), min={"icc": 0.7}).on == "point"
    assert gate_settings(GateSection(on="point"), min={"icc": 0.7}, on="lower-bound").on == \
        "lower-bound"


def test_the_decide_line_names_the_figure_and_the_bar():
    r = evaluate_bar(Bar("min", "icc", 0.7), ICC, "lower-bound")
    r.more_anchors_to_decide, r.planned = 40, True
    assert r.decide_text() == "about 40 more anchors would decide ICC(2,1) >= 0.7"
    r.more_anchors_to_decide = None
    assert "more than 10,000" in r.decide_text()


# --------------------------------------------------------------------------- the planner


def test_anchors_to_decide_a_mean_matches_the_closed_form():
    # the mean of m draws from the pilot has SD sigma/sqrt(m): the 95% half-width clears a
    # margin W at m = (1.96 sigma / W)^2
    rng = np.random.default_rng(3)
    x = rng.normal(0.0, 1.0, 60)
    sigma = x.std()  # the resampled population's SD (ddof 0)
    margin = 0.1

    def mean(w):
        return w @ x / w.sum(axis=1)

    more = anchors_to_decide(mean, np.ones(x.size), x.mean(), x.mean() - margin,
                             n_resamples=2000)
    expected = (1.959964 * sigma / margin) ** 2
    assert more is not None
    assert x.size + more == pytest.approx(expected, rel=0.1)
    # at a tightened confidence (97.5%: two holdout looks) more anchors are needed
    tighter = anchors_to_decide(mean, np.ones(x.size), x.mean(), x.mean() - margin,
                                n_resamples=2000, confidence=0.975)
    assert x.size + tighter == pytest.approx((2.241403 * sigma / margin) ** 2, rel=0.1)
    # no margin: nothing would decide it; a tiny one: more than the cap
    assert anchors_to_decide(mean, np.ones(x.size), 0.3, 0.3) is None
    assert anchors_to_decide(mean, np.ones(x.size), 0.0, 0.001, n_resamples=200) is None


# --------------------------------------------------------------------------- end to end


def _straddling_bar(exp):
    res = gate(exp, "--min", "icc=0.1", "--json")
    assert res.exit_code == 0, res.output
    bar = as_json(res)["bars"][0]
    lo, value = bar["ci95"][0], bar["value"]
    assert lo < value
    return round((lo + value) / 2, 4)


def test_an_inconclusive_gate_exits_4_with_json_junit_and_summary(tmp_path, project_root,
                                                                  demo):
    with fs.FakeServer(judge_handler(demo)) as server:
        exp = write_experiment(tmp_path, project_root, demo, server.openai_url)
        mid = _straddling_bar(exp)
        junit, summary = tmp_path / "g.xml", tmp_path / "g.md"
        res = gate(exp, "--min", f"icc={mid}", "--max", "mae=5", "--on", "lower-bound",
                   "--json", "--junit", junit, "--summary", summary)
        assert res.exit_code == EXIT_INCONCLUSIVE == 4, res.output
        doc = as_json(res)
        assert doc["outcome"] == "inconclusive" and doc["status"] == "inconclusive"
        assert doc["exit_code"] == 4 and doc["passed"] is False
        icc, mae = doc["bars"]
        assert (icc["outcome"], mae["outcome"]) == ("inconclusive", "pass")
        more = icc["more_anchors_to_decide"]
        assert isinstance(more, int) and more >= 1
        assert icc["to_decide"] == f"about {more} more anchors would decide ICC(2,1) >= {mid:g}"
        assert "more_anchors_to_decide" not in mae
        # JUnit: the inconclusive bar is a skipped testcase with the reason
        root = ET.parse(junit).getroot()
        suite = root.find("testsuite")
        assert (suite.get("skipped"), suite.get("failures")) == ("1", "0")
        cases = {c.get("name"): c for c in suite.findall("testcase")}
        skipped = cases[f"icc >= {mid:g} (lower 95% bound)"].find("skipped")
        assert skipped is not None and cases[f"icc >= {mid:g} (lower 95% bound)"].find(
            "failure") is None
        assert skipped.get("message").startswith("inconclusive: ")
        assert "straddles the bar" in skipped.get("message")
        assert f"about {more} more anchors would decide" in skipped.get("message")
        assert cases["mae <= 5 (upper 95% bound)"].find("skipped") is None
        md = summary.read_text()
        assert md.startswith("### ❔ judgecal gate inconclusive")
        assert "❔ **INCONCLUSIVE**" in md and f"about {more} more anchors" in md
        # the console says it too; --on point keeps two outcomes
        res = gate(exp, "--min", f"icc={mid}", "--on", "lower-bound")
        assert res.exit_code == 4 and "INCONCLUSIVE (exit 4)" in res.stdout
        flat = re.sub(r"\s+", " ", res.stdout)
        assert re.search(r"about \d+ more anchors would decide ICC\(2,1\)", flat), flat
        res = gate(exp, "--min", f"icc={mid}", "--on", "point", "--json")
        assert res.exit_code == 0 and as_json(res)["outcome"] == "pass"


def test_a_failed_bar_beats_an_inconclusive_one(tmp_path, project_root, demo):
    with fs.FakeServer(judge_handler(demo)) as server:
        exp = write_experiment(tmp_path, project_root, demo, server.openai_url)
        mid = _straddling_bar(exp)
        res = gate(exp, "--min", f"icc={mid}", "--max", "mae=0.01", "--on", "lower-bound",
                   "--json")
        assert res.exit_code == 1, res.output
        doc = as_json(res)
        assert doc["outcome"] == "fail"
        assert [b["outcome"] for b in doc["bars"]] == ["inconclusive", "fail"]


def test_unreliable_gold_makes_the_gate_inconclusive_unless_allowed(tmp_path, project_root,
                                                                    demo, monkeypatch):
    real = gate_module.agreement_report

    def unreliable(*args, **kwargs):
        report = real(*args, **kwargs)
        report.gold = SimpleNamespace(reliable=False, figure="ICC(1,1) 0.05 [-0.10, 0.20]",
                                      reason="the humans' ICC CI reaches 0")
        return report

    monkeypatch.setattr(gate_module, "agreement_report", unreliable)
    with fs.FakeServer(judge_handler(demo)) as server:
        exp = write_experiment(tmp_path, project_root, demo, server.openai_url)
        junit = tmp_path / "g.xml"
        res = gate(exp, "--min", "icc=0.1", "--json", "--junit", junit)
        assert res.exit_code == 4, res.output
        doc = as_json(res)
        assert doc["outcome"] == "inconclusive" and doc["bars"][0]["outcome"] == "pass"
        assert doc["gold"] == {"reliable": False, "figure": "ICC(1,1) 0.05 [-0.10, 0.20]",
                               "reason": "the humans' ICC CI reaches 0", "allowed": False}
        gold_case = [c for c in ET.parse(junit).getroot().iter("testcase")
                     if c.get("name") == "human gold"]
        assert gold_case and "not reliable" in gold_case[0].find("skipped").get("message")
        res = gate(exp, "--min", "icc=0.1", "--allow-unreliable-gold", "--json")
        assert res.exit_code == 0, res.output
        assert as_json(res)["gold"]["allowed"] is True


def test_a_report_without_gold_is_decided_on_the_bars(tmp_path, project_root, demo,
                                                      monkeypatch):
    real = gate_module.agreement_report

    def no_gold(*args, **kwargs):
        report = real(*args, **kwargs)
        if hasattr(report, "gold"):
            report.gold = None
        return report

    monkeypatch.setattr(gate_module, "agreement_report", no_gold)
    with fs.FakeServer(judge_handler(demo)) as server:
        exp = write_experiment(tmp_path, project_root, demo, server.openai_url)
        res = gate(exp, "--min", "icc=0.1", "--json")
        assert res.exit_code == 0, res.output
        assert json.loads(res.stdout)["gold"] is None
