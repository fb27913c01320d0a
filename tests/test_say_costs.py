"""One way to say a figure, continued (harness._say): a cost in every output that shows
one, the plots' labels, and the numbers compared with a bar in the selective figures."""

from __future__ import annotations

import dataclasses
import io
from types import SimpleNamespace

import numpy as np
import pytest
import test_say
from rich.console import Console

from harness._say import cost_text, signed_text

#: A calibration result whose best version has test_say's ICC (test_say's fixture).
calibration = test_say.calibration

# --------------------------------------------------------------------------- the rule


def test_a_cost_has_four_decimals_and_one_word_for_unknown():
    assert cost_text(0.01234) == "$0.0123" and cost_text(0.0) == "$0.0000"
    assert cost_text(2.5) == "$2.5000" and cost_text(1204.5) == "$1,204.5000"
    assert cost_text(0.00005001) == "$0.0001"
    # a cost that is not zero is never said as free, nor as a negative zero
    assert cost_text(0.00003) == "< $0.0001" and cost_text(-0.0) == "$0.0000"
    assert cost_text(None) == cost_text(float("nan")) == "unknown"


# --------------------------------------------------------------------------- every output


def _run_result(cost: float | None):
    from harness.judges._results import RunResult

    return RunResult(judgments=[], stopped=None, n_requests=30, n_cached=4, n_ok=30,
                     n_invalid=0, n_failed=0, n_skipped=0, input_tokens=1200,
                     output_tokens=90, cost=cost, elapsed_s=1.5)


@pytest.mark.parametrize("cost", [0.01234, 0.00003, None])
def test_the_judge_table_and_the_gate_say_the_same_cost(cost):
    """``judgecal gate`` prints the run's table (the judge command's) beside the gate's table;
    the Markdown summary and JUnit say the run line: one cost string in all of them."""
    from test_say import _gate_result

    from harness.cli._judge import render_run
    from harness.gate._outputs import junit_xml, markdown, table_text

    result = _gate_result()
    run = result.run
    run.result = _run_result(cost)
    run.experiment = SimpleNamespace(name="demo")
    run.prompt = SimpleNamespace(name="recipes-overall", label="v2", hash="0" * 64)
    run.retest, run.warnings = None, []
    console = Console(record=True, width=250, file=io.StringIO())
    console.print(render_run(run))
    table = console.export_text()
    said = cost_text(cost)
    row = next(line for line in table.splitlines() if "1200/90" in line)
    assert said in row.split("│")[-3], row  # the "cost" column
    md, junit, gate = markdown(result), junit_xml(result), table_text(result, width=250)
    for name, text in {"markdown": md, "junit": junit, "gate table": gate}.items():
        assert f"cost {said}" in text.replace("&lt;", "<"), name
        assert "cost ?" not in text and "$0.0000" not in text, name


def test_a_progress_line_says_an_unknown_cost_as_the_tables_do():
    from harness.judges._batch import _BatchRun
    from harness.judges._runner import _stats_text

    counts = {"ok": 3, "invalid": 0, "failed": 0}
    ledger = SimpleNamespace(cost_unknown=True, spent=0.0, n_requests=3, input_tokens=30,
                             output_tokens=3)
    run = SimpleNamespace(counts=counts, ledger=ledger)
    assert _stats_text(run, 2).endswith("| cost unknown")
    ledger.cost_unknown, ledger.spent = False, 0.01234
    assert _stats_text(run, 2).endswith("| cost $0.0123")
    batch = SimpleNamespace(run=run, states={}, active=[])
    assert _BatchRun.stats_text(batch, 2).endswith("| cost $0.0123")
    ledger.cost_unknown = True
    assert _BatchRun.stats_text(batch, 2).endswith("| cost unknown")


def test_the_calibration_report_says_a_cost_by_the_rule(calibration):
    from harness.reports import render_calibration_html, render_calibration_markdown

    it = calibration.iterations[0]
    it = dataclasses.replace(it, run={**it.run, "cost": 0.00003})
    result = dataclasses.replace(calibration, iterations=[it], best=it)
    md, page = render_calibration_markdown(result), render_calibration_html(result)
    assert "| &lt; $0.0001 |" in md and "&lt; $0.0001" in page  # Markdown escapes "<"
    assert "$0.0000" not in md + page
    it = dataclasses.replace(it, run={**it.run, "cost": None})
    result = dataclasses.replace(calibration, iterations=[it], best=it)
    assert "| unknown |" in render_calibration_markdown(result).replace("  ", " ")


def test_a_selective_stage_cost_says_the_cost_by_the_rule():
    from harness.cli._selective import _cost

    known = {"calls": 21, "input_tokens": 3000, "output_tokens": 400, "cost": 0.01234}
    assert _cost(known) == "21 calls, 3,400 tokens, $0.0123"
    # a model with no known price: said, not left out
    assert _cost({**known, "cost": None}) == "21 calls, 3,400 tokens, cost unknown"
    # a judgments file has neither tokens nor a cost
    assert _cost({"calls": 21, "input_tokens": None, "output_tokens": None, "cost": None}) == \
        "21 calls"


# --------------------------------------------------------------------------- the plots


def _texts(fig) -> list[str]:
    """The texts drawn on a figure's first axes, then its legends' (the axes' and the
    figure's)."""
    ax = fig.axes[0]
    legends = [x for x in (ax.get_legend(), *fig.legends) if x is not None]
    return [t.get_text() for t in ax.texts] + [t.get_text() for x in legends
                                               for t in x.get_texts()]


def test_bland_altman_labels_are_signed_differences():
    from harness.reports._plots import bland_altman_plot

    consensus = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 3.0])
    judge = consensus + np.array([0.5, -0.25, 0.0, 1.0, -0.5, 0.2])
    fig = bland_altman_plot(judge, consensus)
    diff = judge - consensus
    bias, sd = diff.mean(), diff.std(ddof=1)
    assert [t.strip() for t in _texts(fig)] == [
        f"bias {signed_text(bias)}", f"+1.96 SD {signed_text(bias + 1.96 * sd)}",
        f"−1.96 SD {signed_text(bias - 1.96 * sd)}"]
    # a bias that rounds to zero is neither positive nor negative (it read "-0.00")
    fig = bland_altman_plot([1.0, 2.0, 2.999], [1.0, 2.0, 3.0])
    assert _texts(fig)[0].strip() == "bias 0.00"


def test_the_iterations_plot_says_its_threshold_as_a_bar(calibration):
    from harness.reports._plots import iterations_plot

    result = dataclasses.replace(calibration, threshold=0.7049)
    assert "threshold 0.705" in _texts(iterations_plot(result))  # ":g" said 0.7049
    result = dataclasses.replace(calibration, threshold=0.7)
    assert "threshold 0.7" in _texts(iterations_plot(result))


def _curve(*points: tuple[float, float]):
    return [SimpleNamespace(coverage=c, agreement=a) for c, a in points]


def test_the_selective_figure_says_target_and_threshold_as_bars():
    from harness.reports._selective_plot import agreement_coverage_figure, selective_figure

    curves = {"calibration": _curve((0.2, 1.0), (0.6, 0.9), (1.0, 0.8))}
    fig = agreement_coverage_figure(curves, target=0.85, threshold=0.7000001)
    assert "target 0.85" in _texts(fig)
    assert fig.axes[0].get_title() == "Agreement vs coverage (threshold 0.7)"
    cascade = SimpleNamespace(labels=["small", "large"], target=0.9, thresholds=[0.61234, None],
                              outcomes={}, curve=lambda j: curves["calibration"])
    fig = selective_figure(cascade)
    assert "target 0.9" in _texts(fig)
    assert fig.axes[0].get_title() == "Agreement vs coverage (cascade thresholds 0.6123, none)"


def test_a_confidence_has_four_significant_digits_and_differs_from_its_threshold():
    """Confidences crowd near 1: exact_text's three decimals said 0.9996 as "1"."""
    from harness._say import confidence_text

    assert [confidence_text(x) for x in (0.83972, 0.99961, 1.0, 0.5, None)] == \
        ["0.8397", "0.9996", "1", "0.5", "—"]
    # an escalation's reason never reads "confidence 0.9999 below the threshold 0.9999"
    c, lam = 0.99986, 0.99994
    assert confidence_text(c) == confidence_text(lam) == "0.9999"
    assert confidence_text(c, beside=lam) == "0.99986"
    assert confidence_text(lam, beside=lam) == "0.9999"


def test_selective_says_a_threshold_one_way_in_the_console_the_report_and_the_plot():
    from harness._say import confidence_text
    from harness.reports._selective_plot import agreement_coverage_figure
    from harness.reports._selective_report import _lam, _steps

    lam = 0.99961
    title = agreement_coverage_figure({}, target=0.8, threshold=lam).axes[0].get_title()
    assert title == f"Agreement vs coverage (threshold {confidence_text(lam)})"
    assert _lam(lam) == "0.9996"
    step = SimpleNamespace(threshold=lam, n_kept=3, n_errors=0, risk=0.0, upper=0.1,
                           p_value=0.5, rejected=True)
    assert _steps([step])["rows"][0][0] == "0.9996"


def test_a_judges_mean_score_in_the_disagreement_table_keeps_two_decimals():
    """The disagreement table's judge score is a mean of samples: two decimals at most, not
    score_text's six digits (a rating on the scale)."""
    from harness._say import score_text
    from harness.loop._disagree import _score

    assert [_score(x) for x in (4.0, 3.5, 11 / 3)] == ["4", "3.5", "3.67"]
    assert score_text(11 / 3) == "3.66667"
