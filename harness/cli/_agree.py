"""``judgecal agree``: the agreement report for a ratings file or an anchor set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from harness.agreement import DEFAULT_EPSILON, PAIRED_FIGURES
from harness.anchors import AnchorError, open_ratings
from harness.reports import ReportSettings, agreement_report, render_report

from ._common import EXIT_INPUT, Resamples, fail, out, parse_scale

#: ``--epsilon``: the alt-test's cost-benefit penalty (shared by ``agree`` and ``judge``).
EPSILON_HELP = ("The alt-test's cost-benefit penalty ε in [0, 1): 0.2 for expert raters, "
                "0.15 skilled, 0.1 crowd workers.")


def agree(
    file: Annotated[Path, typer.Argument(help="Long-format CSV/JSONL of item_id, rater_id, "
                                         "score, or an anchor set (.jsonl).")],
    judge: Annotated[str | None, typer.Option(help="Rater id whose scores are the judge's.")]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    scale: Annotated[str | None, typer.Option(help="Scale MIN:MAX for a ratings file "
                                              "(default: the observed range).")] = None,
    split: Annotated[str, typer.Option(help="Anchor-set split: calibration, holdout or all.")]
    = "all",
    resamples: Resamples = 1000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    primary: Annotated[str, typer.Option(help="Figure the verdict is about: "
                                         + ", ".join(PAIRED_FIGURES))] = "icc",
    spread_threshold: Annotated[float | None, typer.Option(
        help="Flag items whose rater SD exceeds this (default: 10% of the scale range).")]
    = None,
    rows: Annotated[int, typer.Option(help="Rows shown per table.")] = 10,
    epsilon: Annotated[float, typer.Option(help=EPSILON_HELP)] = DEFAULT_EPSILON,
) -> None:
    """Agreement among human raters, and of a judge with their consensus."""
    if split not in ("calibration", "holdout", "all"):
        fail(f"--split must be calibration, holdout or all, got {split!r}")
    if primary not in PAIRED_FIGURES:
        fail(f"unknown --primary {primary!r}; use one of {', '.join(PAIRED_FIGURES)}")
    try:
        table = open_ratings(file, scale=parse_scale(scale),
                             split=None if split == "all" else split)
    except AnchorError as exc:
        fail(str(exc), EXIT_INPUT)
    if judge is not None and judge not in table.rater_ids:
        known = ", ".join(table.rater_ids[:10]) + (" …" if len(table.rater_ids) > 10 else "")
        fail(f"{file}: no rater {judge!r} (raters: {known})")
    try:
        settings = ReportSettings(n_resamples=resamples, seed=seed, primary=primary,
                                  spread_threshold=spread_threshold,
                                  alt_test_epsilon=epsilon)
    except ValueError as exc:
        fail(f"--spread-threshold: {exc}" if "spread_threshold" in str(exc) else str(exc))
    try:
        report = agreement_report(table, judge=judge, settings=settings)
    except ValueError as exc:
        fail(f"{file}: {exc}", EXIT_INPUT)
    if as_json:
        out.print_json(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        out.print(render_report(report, max_rows=rows))
