"""``judgecal panel``: re-judge a frozen anchor panel and say whether the judge or the system
drifted (the work is in :func:`harness.drift.run_panel`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

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


def _ci(ci: tuple[float, float] | None, fmt: str = "+.3f") -> str:
    if ci is None or not all(math.isfinite(c) for c in ci):
        return "—"
    return f"[{ci[0]:{fmt}}, {ci[1]:{fmt}}]"


def panel_cmd(
    experiment: Annotated[Path, typer.Argument(help="Experiment file (.toml): its anchors "
                                               "are the panel, its judge is re-judged.")],
    split: Annotated[str, typer.Option(help="The panel's items: all, calibration or "
                                            "holdout.")] = "all",
    production: Annotated[str | None, typer.Option(
        "--production", metavar="FILE",
        help="The judge's scores on the current window of production items (a judgments "
             "file, as for `estimate --judgments`).")] = None,
    baseline_production: Annotated[str | None, typer.Option(
        "--baseline-production", metavar="FILE",
        help="The judge's scores on a baseline window of production items (needed with "
             "--production).")] = None,
    baseline: Annotated[str | None, typer.Option(
        "--baseline", metavar="RUN",
        help="Compare with this panel run (an id or a unique prefix; default: the previous "
             "run of the same panel).")] = None,
    tolerance: Annotated[float, typer.Option(
        help="Share of panel items allowed to move: the panel changed when the 95% CI of "
             "the moved share lies above it.")] = 0.05,
    min_move: Annotated[float, typer.Option(
        "--min-move", help="A panel score moved when it changed by more than this (scale "
                           "points; default 0: any change).")] = 0.0,
    shift_tolerance: Annotated[float, typer.Option(
        "--shift-tolerance", help="Production mean shift tolerated (scale points): "
                                  "production changed when the 95% CI lies beyond it.")]
    = 0.0,
    no_record: Annotated[bool, typer.Option(
        "--no-record", help="Compare only: do not record this run in the journal.")] = False,
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
    from harness.anchors import AnchorError
    from harness.drift import PANEL_SPLITS, PanelInputError, PanelJudgeError, run_panel
    from harness.experiments import ExperimentError, load_experiment
    from harness.judges import ProviderError
    from harness.judgments import is_scorecard_experiment
    from harness.prompts import PromptError

    if split not in PANEL_SPLITS:
        fail(f"--split must be one of {', '.join(PANEL_SPLITS)}, got {split!r}")
    for name, value in (("--tolerance", tolerance), ("--min-move", min_move),
                        ("--shift-tolerance", shift_tolerance)):
        if not (math.isfinite(value) and value >= 0):
            fail(f"{name} must be a finite number >= 0, got {value:g}")
    if tolerance >= 1:
        fail(f"--tolerance is a share of the panel's items, below 1; got {tolerance:g}")
    try:
        exp = load_experiment(experiment)
    except ExperimentError as exc:
        fail(str(exc), EXIT_INPUT)
    if is_scorecard_experiment(exp):
        fail(f"{experiment}: a scorecard: a panel is one question; name it with [anchors] "
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
        _print(report, experiment)
    if report.alert:
        raise typer.Exit(EXIT_BELOW_BAR)


def _print(report: PanelReport, experiment: Path) -> None:
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
    t.add_row("panel: share of items moved", f"{p.moved_share:.3f} ({p.n_moved}/{p.n_items})",
              _ci(p.ci95, ".3f"), f"{'yes' if p.changed else 'no'} (tolerance "
                                  f"{p.tolerance:g})")
    t.add_row("panel: mean shift", f"{p.mean_shift:+.3f}", _ci(p.mean_ci95), "")
    if att.production is not None:
        q = att.production
        t.add_row("production: mean shift", f"{q.mean_shift:+.3f} ({q.n_baseline} -> "
                  f"{q.n_current} items)", _ci(q.ci95),
                  f"{'yes' if q.changed else 'no'} (tolerance {q.tolerance:g})")
    print_wide(t)
    changed = ", ".join(att.fingerprint_changed) or "unchanged"
    out.print(f"Fingerprint: {escape(changed)}")
    colour = "green" if att.verdict == "stable" else "bold red"
    out.print(f"[{colour}]Verdict: {att.verdict}[/] — {escape(att.reason)}")
    if att.silent_change:
        out.print("[bold red]ALERT:[/] the provider changed the judge silently (same model "
                  "id, prompt and parameters; different answers on the panel).")
