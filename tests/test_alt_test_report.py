"""The alt-test in the reports (agree / judge / validate / the loop) and as a gate bar."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from harness.agreement import AgreementResult
from harness.anchors import open_ratings
from harness.cli import app
from harness.experiments import GateSection
from harness.experiments._config import TargetSection
from harness.gate._bars import Bar, BarError, evaluate_bar, gate_settings
from harness.loop._types import (
    CalibrationResult,
    DisagreementAnalysis,
    HoldoutRecord,
    IterationRecord,
)
from harness.prompts import load_prompt
from harness.reports import ReportSettings, agreement_report, render_report
from harness.reports._calibration import (
    alt_test_text,
    final_table_rows,
    render_calibration_html,
    render_calibration_markdown,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# the worked example of tests/test_alt_test.py, three times (30 items, the t-test)
HUMANS = [[3, 3, 3], [4, 4, 4], [2, 2, 3], [5, 4, 4], [1, 2, 3],
          [3, 3, 3], [2, 3, 2], [4, 5, 5], [1, 1, 1], [5, 5, 4]] * 3
JUDGE = [3, 4, 2, 4, 2, 5, 2, 5, 1, 3] * 3


@pytest.fixture
def ratings_csv(tmp_path: Path) -> Path:
    lines = ["item_id,rater_id,score"]
    for i, (h, j) in enumerate(zip(HUMANS, JUDGE, strict=True)):
        lines += [f"i{i:02d},{r},{v}" for r, v in zip("ABC", h, strict=True)]
        lines.append(f"i{i:02d},J,{j}")
    path = tmp_path / "ratings.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _report(path: Path, epsilon: float = 0.3):
    table = open_ratings(path, scale=(1, 5))
    return agreement_report(table, judge="J", settings=ReportSettings(
        n_resamples=0, alt_test_epsilon=epsilon))


def test_judge_section_has_the_alt_test(ratings_csv):
    report = _report(ratings_csv)
    doc = report.to_dict()
    alt = doc["judge"]["alt_test"]
    assert alt["epsilon"] == 0.3 and alt["q"] == 0.05
    assert alt["winning_rate"] == pytest.approx(2 / 3) and alt["passed"] is True
    assert alt["advantage_probability"] == pytest.approx(0.8)
    assert [(r["rater"], r["n_items"], r["rejected"]) for r in alt["per_rater"]] == [
        ("A", 30, True), ("B", 30, False), ("C", 30, True)]
    assert {"p_judge", "p_rater", "p_value"} <= set(alt["per_rater"][0])
    # the judge's column is not one of the humans it is tested against
    assert "J" not in {r["rater"] for r in alt["per_rater"]}
    fig = doc["judge"]["figures"]["alt_test"]
    assert fig["value"] == pytest.approx(2 / 3) and fig["ci95"] is None
    assert doc["settings"]["alt_test_epsilon"] == 0.3
    json.dumps(doc)  # plain JSON
    stricter = _report(ratings_csv, epsilon=0.2).to_dict()["judge"]["alt_test"]
    assert stricter["winning_rate"] == 0.0 and stricter["passed"] is False


def test_console_report_shows_the_alt_test(ratings_csv):
    console = Console(record=True, width=200)
    console.print(render_report(_report(ratings_csv)))
    text = console.export_text()
    assert "Alt-test per rater" in text
    assert "Alt-test (ε = 0.3, BY q = 0.05): PASS" in text
    assert "wins against 2 of 3 raters (ω = 0.67, needs ≥ 0.50)" in text


def test_undefined_alt_test_is_reported_with_its_reason(tmp_path):
    table = open_ratings(PROJECT_ROOT / "anchors/recipes/recipes-overall.jsonl",
                         split="holdout")
    consensus = np.asarray(table.consensus, dtype=float)
    report = agreement_report(table, judge_scores=consensus,
                              settings=ReportSettings(n_resamples=0))
    alt = report.to_dict()["judge"]["alt_test"]
    assert alt["winning_rate"] is None and alt["passed"] is None
    assert "no rater has 10 items" in alt["reason"]
    assert len(alt["excluded"]) == 88 and alt["per_rater"] == []
    console = Console(record=True, width=300)
    console.print(render_report(report))
    assert "Alt-test (ε = 0.2, BY q = 0.05): undefined (no rater has 10 items" in (
        console.export_text())


def test_agree_cli_epsilon(ratings_csv):
    runner = CliRunner()
    res = runner.invoke(app, ["agree", str(ratings_csv), "--judge", "J", "--scale", "1:5",
                              "--resamples", "0", "--json", "--epsilon", "0.3"])
    assert res.exit_code == 0, res.output
    alt = json.loads(res.stdout)["judge"]["alt_test"]
    assert alt["epsilon"] == 0.3 and alt["passed"] is True
    bad = runner.invoke(app, ["agree", str(ratings_csv), "--judge", "J", "--epsilon", "1"])
    assert bad.exit_code == 2 and "--epsilon" in bad.output


def test_judge_cli_refuses_a_bad_epsilon_before_judging(tmp_path):
    res = CliRunner().invoke(app, ["judge", str(tmp_path / "missing.toml"), "--epsilon", "1.5"])
    assert res.exit_code == 2 and "--epsilon must be a number in [0, 1)" in res.output


def test_gate_bar_on_the_winning_rate(ratings_csv):
    s = gate_settings(min=["alt_test=0.5"])
    assert [b.name for b in s.bars] == ["alt_test >= 0.5"]
    assert gate_settings(GateSection(min={"alt_test": 0.5})).bars == [
        Bar("min", "alt_test", 0.5)]
    with pytest.raises(BarError, match="higher is better"):
        gate_settings(max=["alt_test=0.5"])
    with pytest.raises(BarError, match="no regression bar on alt_test"):
        gate_settings(max_regression=["alt_test=0.1"], baseline="v1")
    fig = _report(ratings_csv).judge["figures"]["alt_test"]
    bar = Bar("min", "alt_test", 0.5)
    point = evaluate_bar(bar, fig, "point")
    lower = evaluate_bar(bar, fig, "lower-bound")  # no CI: the point value is checked
    assert point.passed and lower.passed
    assert lower.checked == pytest.approx(2 / 3) and "no CI" in lower.message
    assert not evaluate_bar(Bar("min", "alt_test", 0.7), fig, "lower-bound").passed
    undefined = evaluate_bar(bar, AgreementResult("alt_test", None, reason="too few items"),
                             "lower-bound")
    assert not undefined.passed and "too few items" in undefined.message


def test_experiment_file_alt_test_fields():
    assert TargetSection().alt_test_epsilon == 0.2
    assert TargetSection(alt_test_epsilon=0.1, secondary={"alt-test": 0.5}).secondary == {
        "alt_test": 0.5}
    with pytest.raises(ValueError, match="alt_test cannot be the primary"):
        TargetSection(metric="alt_test")
    with pytest.raises(ValueError):
        TargetSection(alt_test_epsilon=1.0)


def _records(ratings_csv: Path):
    report = _report(ratings_csv)
    j = report.judge
    prompt = load_prompt("recipes-overall", "v1", prompts_dir=PROJECT_ROOT / "prompts")
    n = len(report.item_ids)
    judge = np.array(JUDGE, dtype=float)
    consensus = np.array(HUMANS, dtype=float).mean(axis=1)
    run = {"n_requests": n, "n_cached": 0, "n_ok": n, "n_invalid": 0, "n_failed": 0,
           "cost": 0.0}
    analysis = DisagreementAnalysis(n_items=n, items=[], direction={
        "mean_bias": 0.0, "n_lenient": 0, "n_harsh": 0, "label": "balanced"}, by_tag=[],
        verbosity={"n": 0, "reading": ""})
    rec = IterationRecord(
        iteration=1, prompt=prompt, primary="icc", figures=j["figures"], ceiling=j["ceiling"],
        ceiling_method=j["ceiling_method"], run=run, analysis=analysis,
        item_ids=report.item_ids, judge_scores=judge, consensus=consensus, scale=(1.0, 5.0),
        confusion=j["confusion"])
    hold_figs = {**j["figures"], "alt_test": AgreementResult(
        "alt_test", None, reason="no rater has 10 items", details={"epsilon": 0.3})}
    hold = HoldoutRecord(prompt=prompt, figures=hold_figs, ceiling=j["ceiling"],
                         ceiling_method=j["ceiling_method"], run=run,
                         item_ids=report.item_ids, judge_scores=judge, consensus=consensus,
                         confusion=j["confusion"])
    return CalibrationResult(experiment="alt", primary="icc", threshold=0.7,
                             stop_reason="max_iterations", iterations=[rec], best=rec,
                             holdout=hold)


def test_calibration_report_shows_the_alt_test(ratings_csv, tmp_path):
    result = _records(ratings_csv)
    rows = final_table_rows(result)
    assert [r["alt_test_text"] for r in rows] == ["0.67 PASS", "n/a", "—"]
    assert rows[0]["alt_test"] == pytest.approx(2 / 3)
    md = render_calibration_markdown(result, html_path=tmp_path / "x.html", date="today")
    assert "alt-test ω" in md and "0.67 PASS" in md
    assert ("Alt-test of the best version on the calibration split (ε = 0.3): winning rate "
            "ω = 0.67 over 3 rater(s), PASS") in md
    assert ("Alt-test of the best version on the holdout split (ε = 0.3): undefined "
            "(no rater has 10 items)") in md
    assert alt_test_text(None) == "—"
    page = render_calibration_html(result, date="today")
    assert "alt-test ω" in page and "winning rate ω = 0.67 over 3 rater(s)" in page
