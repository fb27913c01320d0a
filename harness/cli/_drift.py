"""``judgecal drift``: rolling ICC, far-from-consensus raters and control charts; with
``--anchors SET --judge EXPERIMENT``, the frozen anchor panel (``judgecal panel``'s work,
:func:`harness.drift.run_panel`: judge drift or system drift)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from harness._say import EXACT_DIGITS
from harness.anchors import AnchorError
from harness.reports import MISSING, exact_text, figure_text, number_text, signed_text

from ._common import EXIT_BELOW_BAR, EXIT_INPUT, JsonOpt, fail, out, parse_scale, print_json
from ._panel import (
    BaselineProduction,
    BaselineRun,
    MinMove,
    NoRecord,
    PanelSplit,
    Production,
    ShiftTolerance,
    Tolerance,
)

if TYPE_CHECKING:
    from harness.anchors import RatingsTable, Scorecard
    from harness.drift import DriftReport, ScorecardDriftReport


#: Streams with more windows than this list only the windows with something to see.
QUIET_LIMIT = 40


def drift_cmd(
    file: Annotated[Path | None, typer.Argument(
        help="Ratings CSV/JSONL: item_id, rater_id, score (optionally criterion), or a wide "
             "CSV item_id, rater_id, <criterion>...; item order in the file is time order. "
             "Not with --judge (the anchor panel).")] = None,
    window: Annotated[int, typer.Option(help="Items per window.")] = 200,
    step: Annotated[int | None, typer.Option(help="Items between window starts "
                                             "(default: window // 4).")] = None,
    drop: Annotated[float, typer.Option(help="Alert when a window's ICC is this far below "
                                        "the baseline (first) window's.")] = 0.05,
    far: Annotated[list[str] | None, typer.Option(
        help="A score is far when it differs from the other raters' consensus by more than "
             "this (default 1). On a scorecard, ID=X sets one criterion's (total=X the "
             "total's, default 0.25); repeatable.")] = None,
    min_far: Annotated[int, typer.Option("--min-far", help="Far items in one window that "
                                         "flag a rater.")] = 3,
    consensus: Annotated[str, typer.Option(help="Other raters' consensus: median or mean.")]
    = "median",
    scale: Annotated[str | None, typer.Option(help="Scale MIN:MAX (scores must lie on it; "
                                              "on a scorecard file, on every criterion).")]
    = None,
    scorecard: Annotated[Path | None, typer.Option(
        help="Scorecard set (JSONL anchors) the ratings belong to: its criteria's scales, "
             "labels, weights and pass marks; the total is watched only with it.")] = None,
    bias: Annotated[list[str] | None, typer.Option(
        help="Scorecard: flag a rater whose mean signed deviation from the others' "
             "consensus on one question is beyond this in a window (default 0.5; ID=X per "
             "criterion, total=X for the total, default 0.125); repeatable.")] = None,
    min_bias: Annotated[int | None, typer.Option(
        "--min-bias", help="Scorecard: compared items a rater needs in a window for a bias "
                           "flag (default 30).")] = None,
    charts: Annotated[Path | None, typer.Option(help="Write one control-chart PNG per rater "
                                                "into this directory (a scorecard: one "
                                                "subdirectory per criterion).")] = None,
    anchors: Annotated[Path | None, typer.Option(
        "--anchors", metavar="SET",
        help="The frozen anchor panel (JSONL anchor set; default: the --judge experiment's "
             "anchors). With --judge: re-judge it, as 'judgecal panel'.")] = None,
    judge: Annotated[Path | None, typer.Option(
        "--judge", metavar="EXPERIMENT",
        help="Re-judge the anchor panel with this experiment's judge and prompt (fresh "
             "calls): did the judge drift, or the system? Same as 'judgecal panel "
             "EXPERIMENT'; its options follow.")] = None,
    split: PanelSplit = "all",
    production: Production = None,
    baseline_production: BaselineProduction = None,
    baseline: BaselineRun = None,
    tolerance: Tolerance = 0.05,
    min_move: MinMove = 0.0,
    shift_tolerance: ShiftTolerance = 0.0,
    no_record: NoRecord = False,
    as_json: JsonOpt = False,
    fail_on_alert: Annotated[bool, typer.Option(
        "--fail-on-alert", help="Exit 1 when an ICC alert fires or a rater is flagged.")]
    = False,
    all_windows: Annotated[bool, typer.Option(
        "--all-windows", help=f"List every window (by default a stream of more than "
                              f"{QUIET_LIMIT} windows lists only those with an alert or "
                              "a flag, the baseline and the last).")] = False,
) -> None:
    """Drift in a live ratings stream: rolling ICC alert, flagged raters, control charts.

    With --anchors SET --judge EXPERIMENT: re-judge the frozen anchor panel and say whether
    the judge or the system drifted (the same as 'judgecal panel EXPERIMENT')."""
    if judge is not None or anchors is not None:
        _panel(file, anchors, judge, split=split, production=production,
               baseline_production=baseline_production, baseline=baseline,
               tolerance=tolerance, min_move=min_move, shift_tolerance=shift_tolerance,
               no_record=no_record, as_json=as_json)
        return
    if file is None:
        fail("give a ratings FILE, or --anchors SET --judge EXPERIMENT for the anchor panel")
    if consensus not in ("median", "mean"):
        fail(f"--consensus must be median or mean, got {consensus!r}")
    far_default, far_by = _thresholds("--far", far)
    bias_default, bias_by = _thresholds("--bias", bias)
    from harness.drift import read_stream

    card = None
    if scorecard is not None:
        if scale is not None:
            fail("give --scorecard or --scale, not both: the scorecard has each criterion's "
                 "scale")
        from harness.anchors import load_scorecard

        try:
            card = load_scorecard(scorecard)
        except AnchorError as exc:
            fail(str(exc), EXIT_INPUT)
    try:
        stream = read_stream(file, scale=parse_scale(scale), scorecard=card)
    except AnchorError as exc:
        fail(str(exc), EXIT_INPUT)
    except ValueError as exc:
        fail(f"--scorecard {scorecard}: {exc}", EXIT_INPUT)
    if isinstance(stream, dict):
        _scorecard(stream, card, file, window=window, step=step, drop=drop,
                   far={**({} if far_default is None else {"*": far_default}), **far_by},
                   min_far=min_far, consensus=consensus,
                   bias={**({} if bias_default is None else {"*": bias_default}), **bias_by},
                   min_bias=min_bias, charts=charts, as_json=as_json,
                   fail_on_alert=fail_on_alert, all_windows=all_windows)
        return
    if far_by or bias_by or bias_default is not None or min_bias is not None:
        fail("--bias, --min-bias and --far ID=X apply to a ratings file of several "
             "criteria; this one has one")
    from harness.drift import detect_drift, write_control_charts

    try:
        report = detect_drift(stream, window=window, step=step, drop=drop,
                              far=1.0 if far_default is None else far_default,
                              min_far_items=min_far, consensus=consensus)
    except ValueError as exc:
        fail(str(exc), EXIT_INPUT)
    _show(report, write_control_charts, _print, charts=charts, as_json=as_json,
          all_windows=all_windows, alerted=fail_on_alert and bool(report.alert or report.flagged))


def _panel(file: Path | None, anchors: Path | None, judge: Path | None, *, split: str,
           production: str | None, baseline_production: str | None, baseline: str | None,
           tolerance: float, min_move: float, shift_tolerance: float, no_record: bool,
           as_json: bool) -> None:
    """``drift --anchors SET --judge EXPERIMENT``: the anchor panel SET re-judged by the
    experiment's judge, as ``judgecal panel`` does it (:func:`._panel.run_and_print_panel`;
    the experiment's anchors replaced by SET when they differ)."""
    from harness.experiments import ExperimentError, load_experiment

    from ._panel import check_panel_options, run_and_print_panel

    if judge is None:
        fail("--anchors SET needs --judge EXPERIMENT: the judge to re-judge the panel with")
    if file is not None:
        fail(f"{file}: give a ratings FILE or the anchor panel (--anchors, --judge), not both")
    check_panel_options(split=split, tolerance=tolerance, min_move=min_move,
                        shift_tolerance=shift_tolerance)
    try:
        exp = load_experiment(judge)
    except ExperimentError as exc:
        fail(str(exc), EXIT_INPUT)
    if anchors is not None and anchors.resolve() != Path(exp.anchors.path).resolve():
        if not anchors.is_file():
            fail(f"--anchors {anchors}: no such file", EXIT_INPUT)
        exp = exp.with_overrides(anchors={"path": anchors})
    run_and_print_panel(exp, judge, split=split, production=production,
                        baseline_production=baseline_production, baseline=baseline,
                        tolerance=tolerance, min_move=min_move,
                        shift_tolerance=shift_tolerance, no_record=no_record, as_json=as_json)


def _thresholds(option: str, values: list[str] | None) -> tuple[float | None, dict[str, float]]:
    """``--far 1 --far tone=0.5``: the bare number (or None) and the per-criterion ones."""
    from harness._numbers import parse_number

    default: float | None = None
    by: dict[str, float] = {}
    for text in values or []:
        key, sep, num = text.rpartition("=")
        try:
            value = parse_number(num.strip())
        except ValueError:
            fail(f"{option} takes a number or ID=NUMBER, got {text!r}")
        if value < 0:
            fail(f"{option} {text}: must be >= 0")
        if not sep:
            if default is not None:
                fail(f"{option}: give at most one bare number (and ID=NUMBER per criterion)")
            default = value
        elif not key.strip():
            fail(f"{option} takes a number or ID=NUMBER, got {text!r}")
        else:
            by[key.strip()] = value
    return default, by


def _scorecard(tables: dict[str, RatingsTable], card: Scorecard | None, file: Path, *,
               window: int, step: int | None, drop: float, far: dict[str, float],
               min_far: int, consensus: str, bias: dict[str, float], min_bias: int | None,
               charts: Path | None, as_json: bool, fail_on_alert: bool,
               all_windows: bool) -> None:
    from harness.drift import detect_scorecard_drift, write_scorecard_charts

    def expand(given: dict[str, float]) -> dict[str, float]:
        # a bare number is every criterion's; the library's defaults fill the rest
        base = given.pop("*", None)
        return {**({} if base is None else {cid: base for cid in tables}), **given}

    try:
        report = detect_scorecard_drift(
            tables, criteria=None if card is None else card.criteria, window=window,
            step=step, drop=drop, far=expand(far), min_far_items=min_far,
            bias=expand(bias), consensus=consensus, source=str(file),
            **({} if min_bias is None else {"min_bias_items": min_bias}))
    except ValueError as exc:
        fail(str(exc), EXIT_INPUT)
    _show(report, write_scorecard_charts, _print_scorecard, charts=charts, as_json=as_json,
          all_windows=all_windows, alerted=fail_on_alert and bool(report.alert or report.any_flag))


def _show(report: DriftReport | ScorecardDriftReport,
          write_charts: Callable[[Any, Path], list[Path]],
          print_report: Callable[[Any, list[Path], bool], None], *, charts: Path | None,
          as_json: bool, all_windows: bool, alerted: bool) -> None:
    """Write the charts, print the report (JSON with the chart files, or tables), and exit 1
    when ``alerted`` (an alert or a flag under --fail-on-alert)."""
    paths: list[Path] = []
    if charts is not None:
        try:
            paths = write_charts(report, charts)
        except OSError as exc:
            fail(f"--charts {charts}: {exc}", EXIT_INPUT)
    if as_json:
        doc = report.to_dict()
        doc["chart_files"] = [str(p) for p in paths]
        print_json(doc)
    else:
        print_report(report, paths, all_windows)
    if alerted:
        raise typer.Exit(EXIT_BELOW_BAR)


def _window_span(report: DriftReport, i: int) -> str:
    w = report.windows[i]
    return f"items {w.start + 1}–{w.stop} ({escape(w.first_item)} … {escape(w.last_item)})"


def _change_text(drop: float | None) -> str:
    """A window's ICC minus the baseline's, signed (a rise ``+0.012``, a drop ``-0.063``):
    :func:`signed_text` with the three decimals of a number said beside a bar (the alert's
    ``--drop``), so a drop just past the bar does not read as the bar."""
    return signed_text(None if drop is None else -drop, EXACT_DIGITS)


def _print(report: DriftReport, paths: list[Path], all_windows: bool = False) -> None:
    n = len(report.item_ids)
    out.print(f"[bold]Drift[/] {escape(report.source)}: {n} items, "
              f"{len(report.rater_ids)} raters, window {report.window}, step {report.step}")
    for note in report.notes:
        out.print(f"[yellow]note:[/] {escape(note)}")
    if report.windows:
        t = Table(title=f"Rolling ICC(1,1) (baseline {number_text(report.baseline_icc)}; "
                  f"alert when it drops by more than {exact_text(report.drop)})")
        for col in ("window", "items", "ICC", "change from baseline", "alert",
                    "flagged raters"):
            t.add_column(col)
        shown = report.windows
        if not all_windows and len(shown) > QUIET_LIMIT:
            keep = {report.baseline_window, len(shown) - 1}
            shown = [w for w in shown if w.alert or w.flagged or w.index in keep]
            t.caption = (f"{len(report.windows) - len(shown)} of {len(report.windows)} "
                         "windows without an alert or a flag not listed (--all-windows, "
                         "or --json, has them all)")
        for w in shown:
            icc = figure_text(w.icc.value, reason=w.icc.reason)
            t.add_row(str(w.index), f"{w.start + 1}–{w.stop}  ({escape(w.first_item)} … "
                      f"{escape(w.last_item)})", escape(icc), _change_text(w.drop),
                      "[bold red]ALERT[/]" if w.alert else "",
                      escape(", ".join(w.flagged)))
        out.print(t)
    if report.alert:
        runs = report.alert_runs
        w = report.windows[report.first_alert]
        out.print(f"[bold red]ICC alert[/]: first in window {w.index}, "
                  f"{_window_span(report, w.index)}")
        if len(runs) > 1:
            longest = max(runs, key=lambda r: (r[1] - r[0], r[0]))
            out.print(f"  in {len(runs)} runs of consecutive windows; the longest: windows "
                      f"{longest[0]}–{longest[1]} ({longest[1] - longest[0] + 1} windows), "
                      f"from {_window_span(report, longest[0])}; the last run starts in "
                      f"window {runs[-1][0]}")
    elif report.windows:
        out.print("[green]No ICC alert.[/]")
    if report.flagged:
        ft = Table(title=f"Raters more than {exact_text(report.far)} from consensus on "
                   f"{report.min_far_items}+ items in a window")
        for col in ("rater", "first flagged (items)", "windows flagged", "max far items"):
            ft.add_column(col)
        for r, wins in report.flagged.items():
            first = report.windows[wins[0]]
            worst = max(report.windows[i].far_counts[r] for i in wins)
            ft.add_row(escape(r), f"{first.start + 1}–{first.stop}",
                       f"{len(wins)}: {', '.join(map(str, wins))}", str(worst))
        out.print(ft)
    elif report.windows:
        out.print("[green]No rater flagged.[/]")
    if paths:
        out.print(f"Control charts: {len(paths)} PNG file(s) in {escape(str(paths[0].parent))}")


def _print_scorecard(report: ScorecardDriftReport, paths: list[Path],
                     all_windows: bool = False) -> None:
    reports = report.reports()
    any_rep = next(iter(reports.values()))
    out.print(f"[bold]Drift[/] {escape(report.source)}: scorecard of {len(report.criteria)} "
              f"criteria{' and the total' if report.total is not None else ''}, window "
              f"{any_rep.window}, step {any_rep.step}")
    for note in report.notes:
        out.print(f"[yellow]note:[/] {escape(note)}")
    biased: dict[str, list[str]] = {}
    for f in report.flags:
        biased.setdefault(f.criterion, []).append(f"{f.rater} ({f.direction})")
    t = Table(title=f"Per question: rolling ICC(1,1) (alert when it drops by more than "
              f"{exact_text(any_rep.drop)}), raters far from consensus, biased raters")
    for col in ("question", "items", "raters", "baseline ICC", "last ICC", "ICC alert",
                "far-flagged raters", "biased raters"):
        t.add_column(col)
    for cid, rep in reports.items():
        last = rep.windows[-1].icc.value if rep.windows else None
        alert = MISSING
        if rep.alert:
            w = rep.windows[rep.first_alert]
            alert = f"[bold red]from items {w.start + 1}–{w.stop}[/]"
        t.add_row(escape(cid), str(len(rep.item_ids)), str(len(rep.rater_ids)),
                  number_text(rep.baseline_icc), number_text(last), alert,
                  escape(", ".join(rep.flagged)), escape(", ".join(biased.get(cid, []))))
    out.print(t)
    if report.flags:
        ft = Table(title=f"Raters consistently harsher or more lenient on a question (mean "
                   f"deviation from the others' consensus beyond the threshold, "
                   f"{report.min_bias_items}+ items in a window)")
        for col in ("rater", "question", "direction", "windows flagged",
                    "first flagged (items)", "worst mean deviation", "over the stream",
                    "threshold"):
            ft.add_column(col)
        for f in report.flags:
            rep = reports[f.criterion]
            w0 = rep.windows[f.windows[0]]
            i = f.biases.index(f.worst)
            stream = (MISSING if f.stream_bias is None
                      else f"{exact_text(f.stream_bias, sign=True)} ({f.stream_n})")
            ft.add_row(escape(f.rater), escape(f.criterion), f.direction,
                       f"{len(f.windows)} of {len(rep.windows)}", f"{w0.start + 1}–{w0.stop}",
                       f"{exact_text(f.worst, sign=True)} ({f.n_items[i]} items)", stream,
                       exact_text(f.threshold))
        out.print(ft)
    else:
        out.print("[green]No rater biased on a question.[/]")
    for cid, rep in reports.items():
        if rep.alert or rep.flagged:
            out.rule(f"{escape(cid)}")
            _print(rep, [], all_windows)
    if paths:
        out.print(f"Control charts: {len(paths)} PNG file(s) in "
                  f"{escape(str(paths[0].parent.parent))}/<question>/")
