"""``judgecal probe``: bias probes (verbosity, injection, rewording, retest) against a placebo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from harness.judgments import human_text
from harness.reports import share_text, signed_text

from ._common import (
    EXIT_BELOW_BAR,
    EXIT_INPUT,
    EXIT_JUDGE,
    ExperimentArg,
    JsonOpt,
    ProgressOpt,
    RefreshOpt,
    err,
    fail,
    out,
    print_wide,
)

if TYPE_CHECKING:
    from harness.probes import ProbeReport

_SPLITS = ("all", "calibration", "holdout")


def probe_cmd(
    experiment: ExperimentArg,
    probes: Annotated[str, typer.Option(
        "--probes", metavar="NAMES",
        help="Comma-separated: verbosity, injection, rewording, retest.")
    ] = "verbosity,injection,rewording,retest",
    split: Annotated[str, typer.Option(help="all, calibration or holdout.")] = "all",
    tolerance: Annotated[float, typer.Option(
        help="A probe fails when its moved share exceeds the placebo's by at least this, "
             "with the 95% CI's lower end above 0.")] = 0.05,
    injection_text: Annotated[str | None, typer.Option(
        "--injection-text", metavar="TEXT",
        help="The line the injection probe appends to the judged output.")] = None,
    rewording: Annotated[Path | None, typer.Option(
        "--rewording", metavar="FILE",
        help="The paraphrased rubric (default: a rule-based rewording).")] = None,
    judgments: Annotated[str | None, typer.Option(
        "--judgments", metavar="FILE",
        help="Retest on recorded judgments (two samples per item) instead of calling the "
             "judge; only --probes retest.")] = None,
    judge_id: Annotated[str | None, typer.Option(
        "--judge", metavar="ID", help="With --judgments: the file's judge.")] = None,
    refresh: RefreshOpt = False,
    progress: ProgressOpt = True,
    as_json: JsonOpt = False,
) -> None:
    """Re-judge the anchors with one controlled change per probe and report the share of
    judgments that move, netted against a placebo re-run (same inputs, new samples).

    Exit 1 when a must-pass probe (injection) fails; advisory probes only report."""
    from harness.anchors import AnchorError
    from harness.experiments import ExperimentError, load_experiment
    from harness.judges import ProviderError
    from harness.probes import DEFAULT_INJECTION, ProbeError, parse_probes, run_probes
    from harness.prompts import PromptError

    if split not in _SPLITS:
        fail(f"--split must be one of {', '.join(_SPLITS)}, got {split!r}")
    if not 0.0 < tolerance < 1.0:
        fail(f"--tolerance must be a number in (0, 1), got {tolerance:g}")
    if judge_id is not None and judgments is None:
        fail("--judge names a judge of a --judgments file")
    if injection_text is not None and not injection_text.strip():
        fail("--injection-text is empty")
    try:
        names = parse_probes(probes)
        reworded = None
        if rewording is not None:
            try:
                reworded = rewording.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                fail(f"--rewording {rewording}: cannot read it ({exc})")
            if not reworded:
                fail(f"{rewording}:1: empty rewording")
        exp = load_experiment(experiment)
        report = run_probes(exp, names, split=split, tolerance=tolerance,
                            injection_text=injection_text or DEFAULT_INJECTION,
                            rewording=reworded, judgments=judgments, judgments_judge=judge_id,
                            refresh=refresh, show_progress=progress and not as_json,
                            console=err)
    except (ExperimentError, AnchorError, PromptError, ProbeError) as exc:
        fail(str(exc), EXIT_INPUT)
    except ProviderError as exc:
        fail(str(exc), EXIT_JUDGE)
    except ValueError as exc:  # a judgments file's error (path:line: message)
        fail(str(exc), EXIT_INPUT)
    if report.unusable:
        fail("; ".join(report.unusable), EXIT_JUDGE)
    if as_json:
        out.print_json(json.dumps(report.to_dict(), default=str, ensure_ascii=False))
    else:
        _print(report)
    if report.failed_must_pass:
        raise typer.Exit(EXIT_BELOW_BAR)


def _print(report: ProbeReport) -> None:
    p = report.prompt
    out.print(f"bias probes: {escape(str(p['name']))} {escape(str(p['version']))} on the "
              f"{report.split} split; tolerance {share_text(report.tolerance, 1)} of the "
              "judgments", soft_wrap=True)
    table = Table(title="Probes (moved: the score changed; netted against the placebo)")
    for col in ("probe", "kind", "items", "moved", "placebo", "excess", "95% CI",
                "mean shift", "result"):
        table.add_column(col, justify="left" if col in ("probe", "kind", "result")
                         else "right")
    for r in report.probes.values():
        result = (r.verdict if r.passed is not False
                  else f"[bold red]{r.verdict}[/]" if r.must_pass else f"[yellow]{r.verdict}[/]")
        table.add_row(r.name, "must-pass" if r.must_pass else "advisory", str(r.n),
                      share_text(r.moved_share, 1),
                      "(not netted)" if r.placebo_moved_share is None
                      else share_text(r.placebo_moved_share, 1),
                      r.excess_text, r.ci_text, signed_text(r.mean_shift), result)
    print_wide(table)
    for w in report.warnings:
        err.print(f"[yellow]warning:[/] {escape(human_text(w))}", soft_wrap=True)
    for r in report.probes.values():
        if r.passed is False:
            out.print(escape(r.reason), soft_wrap=True)
    out.print(escape(report.verdict_text), soft_wrap=True)
    out.print(escape(report.source_text), soft_wrap=True)
