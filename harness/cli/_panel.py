"""``judgecal panel``: re-judge a frozen anchor panel and say whether the judge or the system
drifted (the work is in :func:`harness.drift.run_panel`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from harness.reports import exact_text, number_text, signed_text

from ._common import (
    EXIT_BELOW_BAR,
    EXIT_INPUT,
    EXIT_JUDGE,
    JsonOpt,
    err,
    fail,
    out,
    print_json,
    print_wide,
)

if TYPE_CHECKING:
    from harness.drift import PanelReport
    from harness.experiments import Experiment

#: The panel's options, shared by ``panel`` and ``drift --anchors SET --judge EXPERIMENT``.
PanelSplit = Annotated[str, typer.Option(
    "--split", help="The panel's items: all, calibration or holdout.")]
Production = Annotated[str | None, typer.Option(
    "--production", metavar="FILE",
    help="The judge's scores on the current window of production items (a judgments file, as "
         "for `estimate --judgments`).")]
BaselineProduction = Annotated[str | None, typer.Option(
    "--baseline-production", metavar="FILE",
    help="The judge's scores on a baseline window of production items (needed with "
         "--production).")]
BaselineRun = Annotated[str | None, typer.Option(
    "--baseline", metavar="RUN",
    help="Compare with this panel run (an id or a unique prefix; default: the previous run of "
         "the same panel).")]
Tolerance = Annotated[float, typer.Option(
    "--tolerance", help="Share of panel items allowed to move: the panel changed when the 95% "
                        "CI of the moved share lies above it.")]
MinMove = Annotated[float, typer.Option(
    "--min-move", help="A panel score moved when it changed by more than this (scale points; "
                       "default 0: any change).")]
ShiftTolerance = Annotated[float, typer.Option(
    "--shift-tolerance", help="Production mean shift tolerated (scale points): production "
                              "changed when the 95% CI lies beyond it.")]
NoRecord = Annotated[bool, typer.Option(
    "--no-record", help="Compare only: do not record this run in the journal.")]


def panel_cmd(
    experiment: Annotated[Path, typer.Argument(help="Experiment file (.toml): its anchors "
                                               "are the panel, its judge is re-judged.")],
    split: PanelSplit = "all",
    production: Production = None,
    baseline_production: BaselineProduction = None,
    baseline: BaselineRun = None,
    tolerance: Tolerance = 0.05,
    min_move: MinMove = 0.0,
    shift_tolerance: ShiftTolerance = 0.0,
    no_record: NoRecord = False,
    as_json: JsonOpt = False,
) -> None:
    """Re-judge the anchor panel with fresh calls: did the judge drift, or the system?

    Every run records the judge's fingerprint (the model id the provider reports, the
    prompt hash, the request parameters) and the panel's scores, and compares them with
    the previous run: the panel moved -> judge drift; production moved (with
    --production and --baseline-production) while the panel held still -> system drift;
    both -> both. A panel that moved under an unchanged fingerprint is reported as a
    silent change by the provider. Exit 0 when stable (or on a panel's first run), 1 on a
    drift (judge, system or both, silent change included), 2 on bad input (nothing
    called or recorded), 3 when the judge fails.
    """
    from harness.experiments import ExperimentError, load_experiment

    check_panel_options(split=split, tolerance=tolerance, min_move=min_move,
                        shift_tolerance=shift_tolerance)
    try:
        exp = load_experiment(experiment)
    except ExperimentError as exc:
        fail(str(exc), EXIT_INPUT)
    run_and_print_panel(exp, experiment, split=split, production=production,
                        baseline_production=baseline_production, baseline=baseline,
                        tolerance=tolerance, min_move=min_move,
                        shift_tolerance=shift_tolerance, no_record=no_record, as_json=as_json)


def check_panel_options(*, split: str, tolerance: float, min_move: float,
                        shift_tolerance: float) -> None:
    """Exit 2 on a panel option out of range (before anything is loaded or called).

    Parameters
    ----------
    split : str
        One of :data:`harness.drift.PANEL_SPLITS`.
    tolerance : float
        A share of the panel's items: finite, at least 0 and below 1.
    min_move, shift_tolerance : float
        Scale points: finite and at least 0.
    """
    from harness.drift import PANEL_SPLITS

    if split not in PANEL_SPLITS:
        fail(f"--split must be one of {', '.join(PANEL_SPLITS)}, got {split!r}")
    for name, value in (("--tolerance", tolerance), ("--min-move", min_move),
                        ("--shift-tolerance", shift_tolerance)):
        if not (math.isfinite(value) and value >= 0):
            fail(f"{name} must be a finite number >= 0, got {value:g}")
    if tolerance >= 1:
        fail(f"--tolerance is a share of the panel's items, below 1; got {tolerance:g}")


def run_and_print_panel(exp: Experiment, label: Path, *, split: str, production: str | None,
                        baseline_production: str | None, baseline: str | None,
                        tolerance: float, min_move: float, shift_tolerance: float,
                        no_record: bool, as_json: bool) -> None:
    """Re-judge the experiment's anchor panel, print the comparison and exit as ``judgecal
    panel`` does (``panel EXPERIMENT`` and ``drift --anchors SET --judge EXPERIMENT``).

    Parameters
    ----------
    exp : Experiment
        Loaded; its anchors are the panel (``drift`` has replaced them by SET first).
    label : Path
        The experiment file, as messages and the printed heading name it.
    split, production, baseline_production, baseline, tolerance, min_move, shift_tolerance
        As :func:`harness.drift.run_panel` takes them; checked by
        :func:`check_panel_options` first.
    no_record : bool
        Compare only: the run is not recorded in the journal.
    as_json : bool
        Print :meth:`PanelReport.to_dict` instead of the tables.

    Notes
    -----
    Exits 2 on bad input (nothing called or recorded), 3 when the judge fails, 1 on a
    drift alert; returns normally when stable or on a panel's first run.
    """
    from harness.anchors import AnchorError
    from harness.drift import PanelInputError, PanelJudgeError, run_panel
    from harness.judges import ProviderError
    from harness.judgments import is_scorecard_experiment
    from harness.prompts import PromptError

    check_panel_options(split=split, tolerance=tolerance, min_move=min_move,
                        shift_tolerance=shift_tolerance)
    if is_scorecard_experiment(exp):
        fail(f"{label}: a scorecard: a panel is one question; name it with [anchors] "
             "criterion")
    try:
        report = run_panel(exp, split=split, baseline=baseline, production=production,
                           baseline_production=baseline_production, tolerance=tolerance,
                           min_move=min_move, shift_tolerance=shift_tolerance,
                           record=not no_record, show_progress=not as_json, console=err)
    except (PanelInputError, AnchorError, PromptError) as exc:
        fail(str(exc), EXIT_INPUT)
    except (PanelJudgeError, ProviderError) as exc:
        fail(str(exc), EXIT_JUDGE)
    if as_json:
        print_json(report.to_dict())
    else:
        _print(report, label)
    if report.alert:
        raise typer.Exit(EXIT_BELOW_BAR)


def _print(report: PanelReport, experiment: Path) -> None:
    from harness.drift import PANEL_DIGITS as DIGITS
    from harness.drift import panel_ci_text as _ci

    run, ref = report.run, report.reference
    fp = run.fingerprint
    out.print(f"[bold]Panel[/] {escape(str(experiment))}: {len(run.scores)} anchors "
              f"({run.split} split of {escape(str(run.anchor_set))}), run {run.run_id[:12]}; "
              f"judge {escape(str(fp.get('provider')))}:{escape(str(fp.get('model')))} "
              f"reporting {escape(', '.join(fp.get('reply_models') or []) or 'no model id')}")
    for note in report.warnings:
        out.print(f"[yellow]note:[/] {escape(note)}")
    att = report.attribution
    if att is None or ref is None:
        out.print("First run of this panel: recorded as the baseline; the next run is "
                  "compared with it.")
        return
    p = att.panel
    t = Table(title=f"Compared with run {ref.run_id[:12]}, 95% CIs")
    for col in ("figure", "estimate", "95% CI", "changed"):
        t.add_column(col)
    t.add_row("panel: share of items moved",
              f"{number_text(p.moved_share, DIGITS)} ({p.n_moved}/{p.n_items})", _ci(p.ci95),
              f"{'yes' if p.changed else 'no'} (tolerance {exact_text(p.tolerance)})")
    t.add_row("panel: mean shift", signed_text(p.mean_shift, DIGITS), _ci(p.mean_ci95), "")
    if att.production is not None:
        q = att.production
        t.add_row("production: mean shift", f"{signed_text(q.mean_shift, DIGITS)} "
                  f"({q.n_baseline} -> {q.n_current} items)", _ci(q.ci95),
                  f"{'yes' if q.changed else 'no'} (tolerance {exact_text(q.tolerance)})")
    print_wide(t)
    changed = ", ".join(att.fingerprint_changed) or "unchanged"
    out.print(f"Fingerprint: {escape(changed)}")
    colour = "green" if att.verdict == "stable" else "bold red"
    out.print(f"[{colour}]Verdict: {att.verdict}[/] — {escape(att.reason)}")
    if att.silent_change:
        out.print("[bold red]ALERT:[/] the provider changed the judge silently (same model "
                  "id, prompt and parameters; different answers on the panel).")
