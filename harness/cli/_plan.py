"""``judgecal plan``: how many anchors and raters to label, before labelling."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from harness.agreement import DEFAULT_EPSILON
from harness.anchors import AnchorError, open_ratings
from harness.plan import CAP, EXPECT_KEYS, PlanError, make_plan, model_for, pilot_model
from harness.reports import FIGURE_LABELS, MISSING, number_text

from ._common import EXIT_INPUT, JsonOpt, fail, out, print_json


def _expectations(values: list[str] | None) -> dict[str, float]:
    """``["icc=0.6", "human_icc=0.5"]`` -> ``{"icc": 0.6, "human_icc": 0.5}``."""
    result: dict[str, float] = {}
    for text in values or []:
        key, sep, raw = text.partition("=")
        key = key.strip().lower()
        key = {"rho": "spearman", "r": "pearson"}.get(key, key)
        if not sep or key not in EXPECT_KEYS:
            fail(f"--expect expects NAME=VALUE with NAME one of {', '.join(EXPECT_KEYS)}, "
                 f"got {text!r}", EXIT_INPUT)
        try:
            result[key] = float(raw)
        except ValueError:
            fail(f"--expect {text}: {raw!r} is not a number", EXIT_INPUT)
    return result


def _items(n: int | None) -> str:
    return f"more than {CAP:,}" if n is None else f"{n:,}"


def plan_cmd(
    anchors: Annotated[Path | None, typer.Argument(
        help="A pilot anchor set (or ratings file): its human reliability and raters per "
             "item set the model.")] = None,
    half_width: Annotated[float, typer.Option(
        "--half-width", metavar="W", help="The 95% CI half-width wanted on each figure.")] = 0.1,
    expect: Annotated[list[str] | None, typer.Option(
        "--expect", metavar="NAME=VALUE",
        help="Assumed values (repeatable): one judge figure (icc, spearman or pearson, "
             "against the consensus) and/or human_icc (one rater's reliability).")] = None,
    raters: Annotated[list[int] | None, typer.Option(
        "--raters", metavar="K",
        help="Raters per item to plan for (repeatable; default: the pilot's, else 3).")] = None,
    epsilon: Annotated[float, typer.Option(
        help="The alt-test's epsilon (0.2 experts, 0.15 skilled, 0.1 crowd).")
    ] = DEFAULT_EPSILON,
    seed: Annotated[int, typer.Option(help="Simulation seed.")] = 0,
    alt_test: Annotated[bool, typer.Option(
        "--alt-test/--no-alt-test", help="Size the alt-test for 80% power.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """How many items (and raters) give a 95% CI half-width W on each judge figure, and how
    many give the alt-test 80% power: simulated from a generative model (item true scores
    + rater noise + judge noise), set from a pilot anchor set or from --expect."""
    expected = _expectations(expect)
    pilot = None
    try:
        if anchors is not None:
            try:
                table = open_ratings(anchors)
            except AnchorError as exc:
                fail(str(exc), EXIT_INPUT)
            model, pilot = pilot_model(table.scores)
            pilot["source"] = str(anchors)
            ks = list(raters or [max(2, pilot["raters"])])
            if any(k in expected for k in ("icc", "spearman", "pearson")):
                expected.setdefault("human_icc", pilot["human_icc"])
                model = model_for(expected, ks[0])
            elif expected:
                model = model_for(expected, ks[0])
        else:
            if not expected:
                fail("plan needs a pilot anchor set or assumed values: judgecal plan "
                     "ANCHORS.jsonl, or --expect icc=0.6 --raters 3", EXIT_INPUT)
            ks = list(raters or [3])
            model = model_for(expected, ks[0])
        plan = make_plan(model, ks, half_width=half_width, epsilon=epsilon, seed=seed,
                         alt_test=alt_test, source="pilot" if pilot else "assumed",
                         pilot=pilot)
    except PlanError as exc:
        fail(str(exc), EXIT_INPUT)
    if as_json:
        print_json(plan.to_dict())
        return
    m = plan.model
    out.print(f"model: true scores SD 1, rater noise SD {number_text(m.sigma_e, 3)} (one "
              f"rater's ICC {number_text(m.human_icc())}), judge noise SD "
              f"{number_text(m.sigma_d, 3)}"
              + (f" · from the pilot {pilot['source']} ({pilot['items']} items, "
                 f"{pilot['raters']} raters per item)" if pilot else " · assumed"))
    t = Table(title=f"Items for a 95% CI half-width of {half_width:g}", title_justify="left")
    t.add_column("figure")
    for k in plan.raters:
        t.add_column(f"{k} raters: expected", justify="right")
        t.add_column(f"{k} raters: items", justify="right")
    for f, rows in plan.figures.items():
        cells = []
        for k in plan.raters:
            row = rows[str(k)]
            cells += [number_text(row["expected"]), _items(row["items"])]
        t.add_row(FIGURE_LABELS.get(f, f), *cells)
    if plan.alt_test:
        cells = []
        for k in plan.raters:
            row = plan.alt_test[str(k)]
            cells += [MISSING, _items(row["items"]) if "reason" not in row else "needs 3 raters"]
        t.add_row(f"alt-test (ε = {epsilon:g}, 80% power)", *cells)
    t.caption = (f"simulated: {seed=}, 400 data sets per size (100 for the alt-test's power); "
                 "'more than 10,000': the CI does not get that narrow within the cap")
    t.caption_justify = "left"
    out.print(t)
