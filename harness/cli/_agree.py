"""``judgecal agree``: the agreement report for a ratings file or an anchor set."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness._say import listed_text
from harness.agreement import DEFAULT_EPSILON, PAIRED_FIGURES
from harness.anchors import (
    AnchorError,
    is_scorecard_input,
    load_scorecard,
    open_ratings,
    open_scorecard,
)
from harness.reports import (
    ReportSettings,
    agreement_report,
    leaderboard,
    render_leaderboard,
    render_report,
    render_scorecard,
    scorecard_report,
)

from ._common import EXIT_INPUT, JsonOpt, Resamples, fail, out, parse_scale, print_json

#: ``--epsilon``: the alt-test's cost-benefit penalty (shared by ``agree`` and ``judge``).
EPSILON_HELP = ("The alt-test's cost-benefit penalty ε in [0, 1): 0.2 for expert raters, "
                "0.15 skilled, 0.1 crowd workers.")


def agree(
    file: Annotated[Path, typer.Argument(help="Long-format CSV/JSONL of item_id, rater_id, "
                                         "score, or an anchor set (.jsonl).")],
    judge: Annotated[list[str] | None, typer.Option(
        help="Rater id whose scores are a judge's; repeat it for a leaderboard of several "
             "judges (no judge is counted as a human).")] = None,
    judges: Annotated[str | None, typer.Option(
        help="Every rater whose id starts with PREFIX is a judge (with --judge: both).")]
    = None,
    as_json: JsonOpt = False,
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
    criterion: Annotated[str | None, typer.Option(
        help="On a scorecard: the full report of one question (or 'total').")] = None,
    scorecard: Annotated[Path | None, typer.Option(
        help="For a ratings file of several questions: the scorecard anchor set its "
             "criteria come from (scales, labels, N/A rules; enables the total).")] = None,
) -> None:
    """Agreement among human raters, and of a judge with their consensus.

    On a scorecard (an anchor set with criteria, a ratings file with a criterion column,
    or a wide file with one column per question): the report of every question and of the
    total, and the questions ranked by human agreement and by the judge's gap.

    With several judges (--judge repeated, or --judges PREFIX): a leaderboard of the judges
    against the same humans, the human ceiling, the chance baseline and the paired
    difference of each pair of judges on the primary figure."""
    if split not in ("calibration", "holdout", "all"):
        fail(f"--split must be calibration, holdout or all, got {split!r}")
    if primary not in PAIRED_FIGURES:
        fail(f"unknown --primary {primary!r}; use one of {', '.join(PAIRED_FIGURES)}")
    named = list(dict.fromkeys(judge or []))
    if is_scorecard_input(file):
        if len(named) > 1 or judges is not None:
            fail(f"{file}: several judges (--judge repeated, --judges) are not supported on a "
                 "scorecard yet; run agree with one --judge, or on one question's ratings")
        _agree_scorecard(file, judge=named[0] if named else None, as_json=as_json, split=split,
                         resamples=resamples, seed=seed, primary=primary,
                         spread_threshold=spread_threshold, rows=rows, epsilon=epsilon,
                         criterion=criterion, scorecard=scorecard)
        return
    try:
        table = open_ratings(file, scale=parse_scale(scale),
                             split=None if split == "all" else split, criterion=criterion)
    except AnchorError as exc:
        fail(str(exc), EXIT_INPUT)
    named = _judges(file, table.rater_ids, named, judges)
    settings = _settings(resamples, seed, primary, spread_threshold, epsilon)
    if len(named) > 1:
        try:
            board = leaderboard(table, judges=named, settings=settings)
        except ValueError as exc:
            fail(f"{file}: {exc}", EXIT_INPUT)
        if as_json:
            print_json(board.to_dict())
        else:
            out.print(render_leaderboard(board))
        return
    try:
        report = agreement_report(table, judge=named[0] if named else None, settings=settings)
    except ValueError as exc:
        fail(f"{file}: {exc}", EXIT_INPUT)
    if as_json:
        print_json(report.to_dict())
    else:
        out.print(render_report(report, max_rows=rows))


def _judges(file: Path, raters: list[str], named: list[str], prefix: str | None) -> list[str]:
    """The judges: the ``--judge`` ids in order, then the raters ``--judges PREFIX`` names."""
    known = listed_text(raters)
    for j in named:
        if j not in raters:
            fail(f"{file}: no rater {j!r} (raters: {known})")
    if prefix is not None:
        matched = [r for r in raters if r.startswith(prefix)]
        if not matched:
            fail(f"{file}: no rater id starts with {prefix!r} (raters: {known})")
        named = list(dict.fromkeys([*named, *matched]))
    if len(named) > 1 and len(named) == len(raters):
        fail(f"{file}: every rater is a judge; no human rater is left to compare them with")
    return named


def _settings(resamples: int, seed: int, primary: str, spread_threshold: float | None,
              epsilon: float) -> ReportSettings:
    try:
        return ReportSettings(n_resamples=resamples, seed=seed, primary=primary,
                              spread_threshold=spread_threshold, alt_test_epsilon=epsilon)
    except ValueError as exc:
        fail(f"--spread-threshold: {exc}" if "spread_threshold" in str(exc) else str(exc))
        raise  # unreachable: fail exits


def _agree_scorecard(file: Path, *, judge: str | None, as_json: bool, split: str,
                     resamples: int, seed: int, primary: str,
                     spread_threshold: float | None, rows: int, epsilon: float,
                     criterion: str | None, scorecard: Path | None) -> None:
    """``agree`` on several questions: a report per question, the total, the rankings."""
    try:
        card = load_scorecard(scorecard) if scorecard is not None else None
        if card is not None and card.is_single:
            fail(f"{scorecard}: --scorecard needs an anchor set with criteria")
        data = open_scorecard(file, split=None if split == "all" else split, scorecard=card)
    except AnchorError as exc:
        fail(str(exc), EXIT_INPUT)
    known = [*data.tables, *(["total"] if data.total is not None else [])]
    if criterion is not None and criterion not in known:
        fail(f"{file}: no question {criterion!r}; the questions are {', '.join(known)}")
    if judge is not None:
        raters = {r for t in data.tables.values() for r in t.rater_ids}
        if judge not in raters:
            fail(f"{file}: no rater {judge!r} in any question")
    settings = _settings(resamples, seed, primary, spread_threshold, epsilon)
    try:
        report = scorecard_report(data.tables, kinds=data.kinds, labels=data.labels,
                                  total=data.total, judge=judge, settings=settings,
                                  source=data.source)
    except ValueError as exc:
        fail(f"{file}: {exc}", EXIT_INPUT)
    if criterion is not None:
        one = report.total if criterion == "total" else report.criteria[criterion]
        assert one is not None
        if as_json:
            print_json(one.to_dict())
        else:
            out.print(render_report(one, max_rows=rows))
        return
    if as_json:
        print_json(report.to_dict())
    else:
        out.print(render_scorecard(report, max_rows=rows))
