"""`judgecal plan` and harness.plan: the planner's n against closed forms, and its JSON."""

from __future__ import annotations

import json
import math

import pytest
import typer
from typer.testing import CliRunner

from harness.cli._plan import plan_cmd
from harness.plan import (
    PlanError,
    items_for,
    make_plan,
    model_for,
    pilot_model,
    simulated_half_width,
)

runner = CliRunner()
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
app.command(name="plan")(plan_cmd)
app.command(name="noop")(lambda: None)  # keeps "plan" a subcommand


def plan(*args):
    return runner.invoke(app, ["plan", *map(str, args)])


def fisher_half_width(r: float, n: int, z: float = 1.959964) -> float:
    """Half the width of the Fisher-z 95% CI of a Pearson r at n items."""
    zr, se = math.atanh(r), 1.0 / math.sqrt(n - 3)
    return (math.tanh(zr + z * se) - math.tanh(zr - z * se)) / 2.0


def test_the_model_gives_the_expected_figures_in_closed_form():
    m = model_for({"icc": 0.6}, 3)
    assert m.sigma_e == m.sigma_d  # the judge is as noisy as one rater by default
    assert m.expected(3)["icc"] == pytest.approx(0.6)
    m = model_for({"pearson": 0.5, "human_icc": 0.5}, 3)
    assert m.human_icc() == pytest.approx(0.5)
    assert m.expected(3)["pearson"] == pytest.approx(0.5)
    m = model_for({"spearman": 0.7}, 5)
    assert m.expected(5)["spearman"] == pytest.approx(0.7)
    # a noiseless judge against a 3-rater consensus of raters at ICC 0.3 cannot reach 0.95
    with pytest.raises(PlanError, match="out of reach"):
        model_for({"icc": 0.95, "human_icc": 0.3}, 3)
    with pytest.raises(PlanError, match="one judge figure"):
        model_for({"icc": 0.6, "spearman": 0.6}, 3)


def test_the_simulated_figure_is_unbiased_and_its_width_is_fishers():
    m = model_for({"pearson": 0.6}, 3)
    for n in (30, 120):
        sim = simulated_half_width(m, "pearson", n, 3, reps=4000, seed=1)
        assert sim == pytest.approx(fisher_half_width(0.6, n), rel=0.06)


def test_the_planners_n_for_a_pearson_r_matches_fisher_z():
    r, w = 0.6, 0.1
    closed = next(n for n in range(4, 100_000) if fisher_half_width(r, n) <= w)
    m = model_for({"pearson": r}, 3)
    n = items_for(lambda n: simulated_half_width(m, "pearson", n, 3, reps=2000, seed=0),
                  w, start=10)
    assert n == pytest.approx(closed, rel=0.1)


def test_the_search_doubles_then_bisects_and_caps():
    seen = []

    def width(n):
        seen.append(n)
        return 1.0 / math.sqrt(n)

    assert items_for(width, 0.05, start=10) == 400
    assert seen[:7] == [10, 20, 40, 80, 160, 320, 640]  # then bisection in (320, 640]
    assert items_for(lambda n: 1.0, 0.1, start=10, cap=1000) is None


def test_the_alt_test_needs_more_items_at_a_smaller_epsilon():
    m = model_for({"icc": 0.6}, 3)
    loose = make_plan(m, [3], half_width=0.2, epsilon=0.2, figures=(), power_reps=60)
    tight = make_plan(m, [3], half_width=0.2, epsilon=0.1, figures=(), power_reps=60)
    n_loose, n_tight = loose.alt_test["3"]["items"], tight.alt_test["3"]["items"]
    assert n_loose is not None and n_tight is not None and n_tight > n_loose
    assert loose.alt_test["3"]["power_at_items"] >= 0.8
    two = make_plan(m, [2], half_width=0.2, figures=())
    assert two.alt_test["2"]["items"] is None and "3 raters" in two.alt_test["2"]["reason"]


def test_plan_json_from_assumed_values():
    res = plan("--expect", "icc=0.6", "--raters", "3", "--half-width", "0.1", "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["source"] == "assumed" and doc["raters"] == [3] and doc["half_width"] == 0.1
    assert set(doc["figures"]) == {"icc", "spearman", "pearson"}
    icc = doc["figures"]["icc"]
    assert isinstance(icc["items"], int) and 80 <= icc["items"] <= 250
    assert icc["expected"] == pytest.approx(0.6) and icc["half_width_at_items"] <= 0.1
    assert doc["alt_test"]["epsilon"] == 0.2 and doc["alt_test"]["power"] == 0.8
    assert isinstance(doc["alt_test"]["items"], int)
    assert doc["model"]["sigma_rater"] == pytest.approx(1.0)
    # seeded: the same command gives the same plan
    again = plan("--expect", "icc=0.6", "--raters", "3", "--half-width", "0.1", "--json")
    assert json.loads(again.stdout)["figures"] == doc["figures"]


def test_plan_from_a_pilot_anchor_set_and_the_table(project_root):
    pilot = project_root / "anchors/recipes/recipes-overall.jsonl"
    res = plan(pilot, "--half-width", "0.15", "--no-alt-test", "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["source"] == "pilot" and doc["pilot"]["items"] > 0
    assert doc["raters"] == [doc["pilot"]["raters"]]
    assert 0 < doc["model"]["human_icc"] < 1
    assert doc["model"]["human_icc"] == pytest.approx(doc["pilot"]["human_icc"])
    res = plan("--expect", "icc=0.6", "--raters", "3", "--raters", "5", "--half-width", "0.15",
               "--no-alt-test")
    assert res.exit_code == 0, res.output
    assert "3 raters" in res.stdout and "5 raters" in res.stdout and "ICC(2,1)" in res.stdout
    # every figure by its label, as in the agreement report (Pearson's row said "pearson")
    assert "Spearman ρ" in res.stdout and "Pearson r" in res.stdout
    assert "│ pearson" not in res.stdout


@pytest.mark.parametrize(("args", "message"), [
    ([], "pilot anchor set or assumed values"),
    (["--expect", "kappa=0.6"], "--expect expects NAME=VALUE"),
    (["--expect", "icc=high"], "is not a number"),
    (["--expect", "icc=1.2"], "strictly between 0 and 1"),
    (["--expect", "icc=0.6", "--half-width", "0"], "--half-width"),
    (["--expect", "icc=0.6", "--raters", "1"], "at least 2"),
])
def test_bad_plans_exit_2(args, message):
    res = plan(*args)
    assert res.exit_code == 2, res.output
    assert message in res.output


def test_a_pilot_without_reliability_is_refused():
    import numpy as np

    with pytest.raises(PlanError, match="human_icc"):
        pilot_model(np.array([[1.0, 5.0], [5.0, 1.0], [1.0, 5.0], [5.0, 1.0]]))
