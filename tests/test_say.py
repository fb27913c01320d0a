"""One way to say a figure (harness._say): the rules, and every output using them."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import numpy as np
import pytest
from rich.console import Console

from harness.agreement import AgreementResult
from harness.gate import Bar, evaluate_bar
from harness.gate._outputs import junit_xml, markdown, table_text, write_summary
from harness.gate._result import GateResult
from harness.judgments import InvalidCheck
from harness.reports import (
    MISSING,
    band_text,
    exact_text,
    figure_text,
    interval_text,
    number_text,
    p_text,
    position_text,
    result_text,
    share_interval_text,
    share_text,
    signed_text,
    undefined_text,
    verdict_line,
    verdict_word,
)

# --------------------------------------------------------------------------- the rules


def test_a_figure_has_two_decimals_and_no_negative_zero():
    assert number_text(0.614) == "0.61"
    assert number_text(0.615) in ("0.61", "0.62")  # binary rounding, never three digits
    assert number_text(1.0) == "1.00" and number_text(-0.04) == "-0.04"
    assert number_text(-0.001) == "0.00" and number_text(-0.0) == "0.00"
    assert number_text(2.0, 0) == "2" and number_text(-0.4, 0) == "0"
    assert number_text(None) == MISSING == "—"
    assert number_text(float("nan")) == MISSING and number_text(float("inf")) == MISSING


def test_a_number_beside_a_bar_keeps_three_decimals_without_trailing_zeros():
    assert exact_text(0.6549) == "0.655" and exact_text(0.7) == "0.7"
    assert exact_text(0.69951) == "0.7" and exact_text(0.6994) == "0.699"
    assert exact_text(-0.0004) == "0" and exact_text(0.0) == "0" and exact_text(None) == "—"
    assert exact_text(0.05, sign=True) == "+0.05"
    assert exact_text(-0.05, sign=True) == "-0.05" and exact_text(0.0, sign=True) == "0"


def test_signed_differences():
    assert signed_text(0.05) == "+0.05" and signed_text(-0.126) == "-0.13"
    assert signed_text(-0.001) == "0.00" and signed_text(0.0) == "0.00"
    assert signed_text(None) == "—"


def test_shares_and_changes_in_a_share():
    assert share_text(0.125, 1) == "12.5%" and share_text(-0.03, 1) == "-3.0%"
    assert share_text(0.125, 1, sign=True) == "+12.5%"
    assert share_text(-0.03, 1, sign=True) == "-3.0%"
    # a change that rounds to zero is neither negative nor positive
    assert share_text(-0.0001, 1) == "0.0%" and share_text(0.0001, 1, sign=True) == "0.0%"
    assert share_text(float("nan"), sign=True) == MISSING
    assert share_interval_text((-0.2, 0.2), 1, sign=True) == "[-20.0%, +20.0%]"
    assert share_interval_text((0.04, 0.21)) == "[4%, 21%]" and share_interval_text(None) == ""


def test_a_figure_with_its_ci_and_undefined_figures():
    assert interval_text((0.471, 0.7249)) == "[0.47, 0.72]" and interval_text(None) == ""
    assert figure_text(0.614, (0.471, 0.7249)) == "0.61 [0.47, 0.72]"
    assert figure_text(-0.001, (-0.2, 0.003)) == "0.00 [-0.20, 0.00]"
    assert figure_text(0.614) == "0.61"
    assert figure_text(None) == "—"
    assert figure_text(None, reason="one item") == "undefined (one item)"
    assert figure_text(None, reason="") == "undefined" == undefined_text()
    res = AgreementResult("icc", 0.614, ci95=(0.471, 0.7249))
    assert result_text(res) == "0.61 [0.47, 0.72]"
    assert result_text(res.to_dict() if hasattr(res, "to_dict") else
                       {"value": 0.614, "ci95": [0.471, 0.7249]}) == "0.61 [0.47, 0.72]"
    bad = AgreementResult("icc", None, reason="constant ratings")
    assert result_text(bad) == "undefined (constant ratings)"
    assert result_text(bad, reason=False) == "undefined"
    no_ci = AgreementResult("icc", 0.5, details={"bootstrap": {"reason": "constant resample"}})
    assert result_text(no_ci) == "0.50 [no CI: undefined on some resamples]"
    assert result_text(None) == "—"


def test_human_band_positions_and_verdicts():
    assert band_text({"median": 0.62, "min": 0.4, "max": 0.741}) == "0.62 (0.40–0.74)"
    assert band_text({"median": 0.1, "min": 0.02, "max": 0.3, "of": "|bias|"}) == \
        "|bias| 0.10 (0.02–0.30)"
    assert band_text({"median": None}) == "—" and band_text(None) == "—"
    assert [position_text(p) for p in ("below", "within", "above", "overlaps", "unreliable",
                                       None)] == [
        "below", "within", "above", "undecided (CI overlaps)", "— (gold unreliable)", "—"]
    assert [verdict_word(o) for o in ("pass", "fail", "inconclusive", "error", None)] == [
        "PASS", "FAIL", "INCONCLUSIVE", "ERROR", "—"]
    assert verdict_line("pass", 2, where="1 question(s)") == \
        "PASS: all 2 bar(s) met on 1 question(s)"
    assert verdict_line("inconclusive", 2, n_undecided=1, gold_unreliable=True) == \
        "INCONCLUSIVE (exit 4): the human anchors are not reliable enough to judge a judge"
    assert verdict_line("error", 2).startswith("JUDGE FAILURE")
    assert p_text(0.0004) == "< 0.001" and p_text(0.0312) == "0.031"
    assert share_text(0.125) == "12%" and share_text(0.125, 1) == "12.5%"


def test_the_formatter_imports_nothing_heavy():
    code = ("import sys, harness.reports as r; r.figure_text(0.5, (0.1, 0.9)); "
            "import harness._say; "
            "print(','.join(m for m in ('numpy', 'pandas', 'scipy', 'matplotlib', 'mlflow', "
            "'rich', 'jinja2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""


# --------------------------------------------------------------------------- every output

#: The judge's ICC in every output below, and how it must read.
ICC = AgreementResult("icc", 0.614, ci95=(0.471, 0.7249), n_items=30)
SAID = "0.61 [0.47, 0.72]"
CEILING = {"median": 0.62, "min": 0.4, "max": 0.781, "n": 3}
CEILING_SAID = "0.62 (0.40–0.78)"


def _gate_result() -> GateResult:
    """A gate on one ICC bar (the CI straddles it) beside a passing Spearman bar, with the
    parts the outputs read stood in by plain namespaces."""
    icc = evaluate_bar(Bar("min", "icc", 0.6), ICC, "lower-bound", ceiling=CEILING,
                       ceiling_method="per-rater", position="within")
    rho = evaluate_bar(Bar("min", "spearman", 0.5),
                       AgreementResult("spearman", 0.8, ci95=(0.7, 0.9)), "lower-bound")
    assert icc.outcome == "inconclusive" and rho.outcome == "pass"
    prompt = SimpleNamespace(name="recipes-overall", hash="0" * 64, label="v2")
    version = SimpleNamespace(prompt=prompt, alias=None, registry_version=None, label="v2",
                              to_dict=lambda: {"version": "v2"})
    run = SimpleNamespace(
        split="holdout", n_items=30, judge_identity={"provider": "openai", "model": "fake"},
        scoring={"mode": "structured"},
        result=SimpleNamespace(n_requests=30, n_cached=0, cost=None, elapsed_s=1.5),
        summary=lambda: {})
    report = SimpleNamespace(settings=SimpleNamespace(confidence=0.95),
                             judge={"ceiling_method": "per-rater"}, gold=None)
    return GateResult(
        command="gate", experiment=SimpleNamespace(name="demo", source=None),
        settings=SimpleNamespace(on="lower-bound", max_invalid=0.05, to_dict=lambda: {}),
        version=version, run=run, report=report, bars=[icc, rho],
        invalid=InvalidCheck(n=30, n_invalid=0, n_failed=0, share=0.0, max_share=0.05,
                             passed=True))


def test_a_gate_says_the_figure_the_same_in_every_output(tmp_path, monkeypatch):
    result = _gate_result()
    console = table_text(result, width=250)
    md = markdown(result)
    junit = junit_xml(result)
    step = tmp_path / "step.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    write_summary(result, None)
    doc = json.loads(json.dumps(result.to_dict()))
    outputs = {"console": console, "markdown": md, "junit": junit,
               "step summary": step.read_text(encoding="utf-8")}
    for name, text in outputs.items():
        assert SAID in text, name
        assert CEILING_SAID in text, name
        assert "INCONCLUSIVE" in text and "PASS" in text, name
        assert "0.62 [" not in text, name  # no output rounds the figure on its own
    # the bar's message (console, JUnit, Markdown and JSON alike) in the bar rule
    icc = doc["bars"][0]
    assert icc["message"] == ("ICC(2,1) 95% CI [0.471, 0.725] (point 0.614) straddles the "
                              "bar 0.6: inconclusive")
    for name, text in outputs.items():
        assert icc["message"] in text.replace("&gt;", ">"), name
    case = ET.fromstring(junit).find(".//testcase[@name='icc >= 0.6 (lower 95% bound)']")
    out = case.find("system-out").text
    assert f"value [95% CI]: {SAID}" in out and "checked: 0.471 (lower 95%)" in out
    assert "position vs humans: within" in out and "verdict: INCONCLUSIVE: " in out
    assert "INCONCLUSIVE (exit 4): 1 of 2 bar(s) undecided" in console


@pytest.fixture(scope="module")
def calibration():
    """A calibration result (the calibration report tests' builders) whose best version has
    :data:`ICC` and :data:`CEILING`."""
    import test_calibration_report as cr

    from harness.loop._types import CalibrationResult
    from harness.prompts import load_prompt

    v1 = load_prompt("recipes-overall", "v1", prompts_dir=cr.PROJECT_ROOT / "prompts")
    truth, raters = cr._humans(40, seed=1)
    it = cr._iteration(1, v1, truth, raters, noise=0.55)
    it = dataclasses.replace(it, figures={**it.figures, "icc": ICC},
                             ceiling={**it.ceiling, "icc": {**CEILING, "of": "icc"}})
    return CalibrationResult(experiment="say-demo", primary="icc", threshold=0.7,
                             stop_reason="threshold", iterations=[it], best=it, holdout=None,
                             warnings=[], parent_run_id="say1")


def test_an_agreement_figure_reads_the_same_in_console_markdown_and_html(calibration, capsys):
    from harness.cli._calibrate import print_result
    from harness.reports import render_calibration_html, render_calibration_markdown

    print_result(calibration)
    console = capsys.readouterr().out
    md = render_calibration_markdown(calibration)
    html = render_calibration_html(calibration)
    for name, text in {"console": console, "markdown": md, "html": html}.items():
        assert SAID in text, name
        assert CEILING_SAID in text, name  # the human ceiling's row
        assert "0.40–0.78" in text, name  # the human band, the same digits everywhere


def test_the_agreement_report_console_and_json_say_the_same_verdict():
    from harness.anchors import RatingsTable
    from harness.reports import ReportSettings, agreement_report, render_report

    rng = np.random.default_rng(0)
    truth = rng.normal(3, 1.1, 60)
    humans = np.clip(np.rint(truth[:, None] + rng.normal(0, 0.6, (60, 4))), 1, 5)
    judge = np.clip(np.rint(truth + rng.normal(0, 0.6, 60)), 1, 5)
    table = RatingsTable(item_ids=[f"i{i:02d}" for i in range(60)],
                         rater_ids=["h1", "h2", "h3", "h4", "judge"],
                         scores=np.column_stack([humans, judge]),
                         na=np.zeros((60, 5), dtype=bool), consensus=None,
                         scale=(1.0, 5.0), source="test")
    report = agreement_report(table, judge="judge", settings=ReportSettings(n_resamples=100,
                                                                             seed=0))
    said = result_text(report.judge["figures"]["icc"])
    doc = json.loads(json.dumps(report.to_dict(), default=str))
    console = Console(record=True, width=250)
    console.print(render_report(report))
    text = console.export_text()
    assert said in doc["judge"]["verdict"] and said in text
    assert doc["judge"]["verdict"] in text.replace("\n", " ") or \
        doc["judge"]["verdict"][:60] in text
