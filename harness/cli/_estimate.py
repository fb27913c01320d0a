"""``judgecal estimate``: a judged population's mean and pass rate, corrected with the anchors."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from harness._say import scale_text
from harness.reports import MISSING, interval_text, number_text, undefined_text

from ._common import EXIT_INPUT, EXIT_JUDGE, JsonOpt, err, fail, out, print_json, print_wide

if TYPE_CHECKING:
    from harness.estimate import EstimateReport


#: Decimals of the estimates (a mean, a pass rate) and their CIs: an estimate of a population
#: from a few hundred items is read to the third decimal (a pass rate of 0.849 [0.832, 0.864]
#: has a CI 0.03 wide, which two decimals would say as 0.85 [0.83, 0.86]).
DIGITS = 3


def _ci(ci: tuple[float, float] | list[float] | None) -> str:
    return interval_text(ci, DIGITS) or MISSING


def _est(x: float) -> str:
    return number_text(x, DIGITS)


def estimate_cmd(
    experiment: Annotated[Path, typer.Argument(help="Experiment file (.toml): its anchors "
                                               "and judge.")],
    judgments: Annotated[str, typer.Option(
        "--judgments", metavar="FILE",
        help="The judge's scores on the unlabelled production items: judgecal's `judge --out` "
             "CSV, or a long CSV/JSONL with item_id and score (samples of an item combined "
             "by the experiment's \\[scoring] aggregate).")],
    anchor_judgments: Annotated[str | None, typer.Option(
        "--anchor-judgments", metavar="FILE",
        help="The judge's scores on the anchors from a judgments file (default: the "
             "experiment's judge, answered from the journal).")] = None,
    split: Annotated[str, typer.Option(help="Anchors used: all, calibration or holdout.")]
    = "all",
    pass_at: Annotated[str | None, typer.Option(
        "--pass-at", metavar="SCORE",
        help="Pass mark: report the share at or above it (naive and Rogan-Gladen "
             "corrected).")] = None,
    method: Annotated[str, typer.Option(
        help="Corrected mean: ppi++ (power-tuned, never worse than the anchors alone) or "
             "ppi.")] = "ppi++",
    judge_id: Annotated[str | None, typer.Option(
        "--judge", metavar="ID",
        help="The judge of the judgments files that name their judges (a judge column); a "
             "file without one is one judge's and takes any --judge.")]
    = None,
    criterion: Annotated[str | None, typer.Option(
        "--criterion", metavar="ID",
        help="The judgments files' criterion, when they have several.")] = None,
    allow_calls: Annotated[bool, typer.Option(
        "--allow-calls", help="Call the experiment's judge for anchors the journal has no "
                              "judgment of (by default such an anchor is an error, exit 2, "
                              "and nothing is called).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Mean score and pass rate of judged production items, corrected for the judge's errors.

    The anchors (human consensus beside the judge's score) correct the judge's figures on
    the production items: prediction-powered inference (PPI++) for the mean, Rogan-Gladen
    for the pass rate, each with a 95% CI, beside the naive judge-only figures and the
    number of human labels the judge is worth. Exit 2 on bad input or when the anchors'
    judgments are not in the journal (no call is made without --allow-calls); 3 when the
    judge fails.
    """
    from harness._numbers import parse_number
    from harness.estimate import (
        METHODS,
        SPLITS,
        CallsNeededError,
        EstimateInputError,
        EstimateJudgeError,
        estimate_experiment,
    )
    from harness.experiments import ExperimentError, load_experiment

    if split not in SPLITS:
        fail(f"--split must be one of {', '.join(SPLITS)}, got {split!r}")
    if method not in METHODS:
        fail(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
    mark = None
    if pass_at is not None:
        try:
            mark = parse_number(pass_at.strip())
        except ValueError as exc:
            fail(f"--pass-at takes a score, got {pass_at!r}: {exc}")
    try:
        exp = load_experiment(experiment)
    except ExperimentError as exc:
        fail(str(exc), EXIT_INPUT)
    try:
        report = estimate_experiment(exp, judgments, split=split,
                                     anchor_judgments=anchor_judgments, pass_at=mark,
                                     method=method, judge_id=judge_id, criterion=criterion,
                                     allow_calls=allow_calls,
                                     show_progress=allow_calls and not as_json, console=err)
    except CallsNeededError as exc:
        fail(str(exc), EXIT_INPUT)
    except EstimateInputError as exc:
        fail(str(exc), EXIT_INPUT)
    except EstimateJudgeError as exc:
        fail(str(exc), EXIT_JUDGE)
    if as_json:
        print_json(report.to_dict())
        return
    _print(report, experiment)


def _print(report: EstimateReport, experiment: Path) -> None:
    est = report.estimate
    src = report.anchors.source
    judged_by = (f"judgments file {src['path']}" if src["kind"] == "file"
                 else f"the journal ({src['prompt']['name']} {src['prompt']['version']}, "
                      f"{src['judge'].get('provider')}:{src['judge'].get('model')})")
    out.print(f"[bold]Estimate[/] {escape(str(experiment))}: {est.n_production} production "
              f"items ({escape(str(report.production.source['path']))}), {est.n_anchors} "
              f"anchors ({report.split} split, judge scores from {escape(judged_by)})")
    from harness.judgments import human_text

    for note in [*report.warnings, *est.notes]:
        out.print(f"[yellow]note:[/] {escape(human_text(note))}")
    lo, hi = report.scale
    t = Table(title=f"Mean score (scale {scale_text(lo, hi)}) and pass rate, 95% CIs")
    for col in ("figure", "estimate", "95% CI", "how"):
        t.add_column(col)
    c = est.corrected
    t.add_row("mean, naive", _est(est.naive.mean), _ci(est.naive.ci),
              "the judge's mean on production, as if it never erred")
    lam = "" if c.lam is None else f", λ = {number_text(c.lam)}"
    t.add_row("[bold]mean, corrected[/]", f"[bold]{_est(c.mean)}[/]", _ci(c.ci),
              f"{c.method.upper()}{lam}")
    t.add_row("mean, humans only", _est(est.classical.mean), _ci(est.classical.ci),
              f"the consensus of the {est.n_anchors} anchors, no judge")
    if est.pass_at is not None and est.pass_naive is not None:
        pn, pc = est.pass_naive, est.pass_corrected
        t.add_row(f"pass rate (≥ {est.pass_at:g}), naive", _est(pn.rate), _ci(pn.ci),
                  f"{pn.passed} of {pn.n_unlabelled} passed by the judge (Wilson CI)")
        if pc is not None and pc.rate is not None:
            t.add_row(f"[bold]pass rate (≥ {est.pass_at:g}), corrected[/]",
                      f"[bold]{_est(pc.rate)}[/]", _ci(pc.ci),
                      f"Rogan–Gladen; judge sensitivity {number_text(pc.sensitivity)} on "
                      f"{pc.n_pass}, specificity {number_text(pc.specificity)} on {pc.n_fail} "
                      "anchors")
        elif pc is not None:
            t.add_row(f"pass rate (≥ {est.pass_at:g}), corrected", undefined_text(), MISSING,
                      escape(pc.reason or ""))
    print_wide(t)
    n_eff = est.effective_labels
    if math.isfinite(n_eff):
        gain = n_eff - est.n_anchors
        worth = (f"the judge adds about {gain:.0f} human labels' worth" if gain >= 0.5 else
                 "the judge adds nothing" if gain > -0.5 else
                 f"the judge costs about {-gain:.0f} labels' worth (try --method ppi++)")
        out.print(f"Effective labels: the corrected mean is as precise as {n_eff:.1f} human "
                  f"labels alone would make it ({est.n_anchors} anchors; {worth}).")
    if est.pass_at is None:
        out.print("Pass rates: give --pass-at SCORE.")
