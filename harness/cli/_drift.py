"""``judgecal drift``: rolling ICC, far-from-consensus raters and control charts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from harness.anchors import AnchorError, load_ratings

from ._common import EXIT_BELOW_BAR, EXIT_INPUT, fail, out, parse_scale

if TYPE_CHECKING:
    from harness.drift import DriftReport


#: Streams with more windows than this list only the windows with something to see.
QUIET_LIMIT = 40


def _fmt(v: float | None) -> str:
    return "—" if v is None else f"{v:.3f}"


def drift_cmd(
    file: Annotated[Path, typer.Argument(help="Long-format CSV/JSONL of item_id, rater_id, "
                                         "score; item order in the file is time order.")],
    window: Annotated[int, typer.Option(help="Items per window.")] = 200,
    step: Annotated[int | None, typer.Option(help="Items between window starts "
                                             "(default: window // 4).")] = None,
    drop: Annotated[float, typer.Option(help="Alert when a window's ICC is this far below "
                                        "the baseline (first) window's.")] = 0.05,
    far: Annotated[float, typer.Option(help="A score is far when it differs from the other "
                                       "raters' consensus by more than this.")] = 1.0,
    min_far: Annotated[int, typer.Option("--min-far", help="Far items in one window that "
                                         "flag a rater.")] = 3,
    consensus: Annotated[str, typer.Option(help="Other raters' consensus: median or mean.")]
    = "median",
    scale: Annotated[str | None, typer.Option(help="Scale MIN:MAX (scores must lie on it).")]
    = None,
    charts: Annotated[Path | None, typer.Option(help="Write one control-chart PNG per rater "
                                                "into this directory.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    fail_on_alert: Annotated[bool, typer.Option(
        "--fail-on-alert", help="Exit 1 when the ICC alert fires or a rater is flagged.")]
    = False,
    all_windows: Annotated[bool, typer.Option(
        "--all-windows", help=f"List every window (by default a stream of more than "
                              f"{QUIET_LIMIT} windows lists only those with an alert or "
                              "a flag, the baseline and the last).")] = False,
) -> None:
    """Drift in a live ratings stream: rolling ICC alert, flagged raters, control charts."""
    if consensus not in ("median", "mean"):
        fail(f"--consensus must be median or mean, got {consensus!r}")
    try:
        table = load_ratings(file, scale=parse_scale(scale))
    except AnchorError as exc:
        fail(str(exc), EXIT_INPUT)
    from harness.drift import detect_drift, write_control_charts

    try:
        report = detect_drift(table, window=window, step=step, drop=drop, far=far,
                              min_far_items=min_far, consensus=consensus)
    except ValueError as exc:
        fail(str(exc), EXIT_INPUT)
    paths: list[Path] = []
    if charts is not None:
        try:
            paths = write_control_charts(report, charts)
        except OSError as exc:
            fail(f"--charts {charts}: {exc}", EXIT_INPUT)

    if as_json:
        doc = report.to_dict()
        doc["chart_files"] = [str(p) for p in paths]
        out.print_json(json.dumps(doc, ensure_ascii=False))
    else:
        _print(report, paths, all_windows)
    if fail_on_alert and (report.alert or report.flagged):
        raise typer.Exit(EXIT_BELOW_BAR)


def _window_span(report: DriftReport, i: int) -> str:
    w = report.windows[i]
    return f"items {w.start + 1}–{w.stop} ({escape(w.first_item)} … {escape(w.last_item)})"


def _print(report: DriftReport, paths: list[Path], all_windows: bool = False) -> None:
    n = len(report.item_ids)
    out.print(f"[bold]Drift[/] {escape(report.source)}: {n} items, "
              f"{len(report.rater_ids)} raters, window {report.window}, step {report.step}")
    for note in report.notes:
        out.print(f"[yellow]note:[/] {escape(note)}")
    if report.windows:
        t = Table(title=f"Rolling ICC(1,1) (baseline {_fmt(report.baseline_icc)}; "
                  f"alert when it drops by more than {report.drop:g})")
        for col in ("window", "items", "ICC", "drop", "alert", "flagged raters"):
            t.add_column(col)
        shown = report.windows
        if not all_windows and len(shown) > QUIET_LIMIT:
            keep = {report.baseline_window, len(shown) - 1}
            shown = [w for w in shown if w.alert or w.flagged or w.index in keep]
            t.caption = (f"{len(report.windows) - len(shown)} of {len(report.windows)} "
                         "windows without an alert or a flag not listed (--all-windows, "
                         "or --json, has them all)")
        for w in shown:
            icc = _fmt(w.icc.value) if w.icc.value is not None else f"— ({w.icc.reason})"
            t.add_row(str(w.index), f"{w.start + 1}–{w.stop}  ({escape(w.first_item)} … "
                      f"{escape(w.last_item)})", icc, _fmt(w.drop),
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
        ft = Table(title=f"Raters more than {report.far:g} from consensus on "
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
