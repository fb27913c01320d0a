"""``judgecal judge``: one pass of a judge over the anchors, then the agreement report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from harness.anchors import AnchorError
from harness.experiments import Experiment, ExperimentError
from harness.judges import ProviderError, RunResult
from harness.judgments import (
    JudgeRun,
    human_text,
    is_scorecard_experiment,
    judge_anchors,
    judge_scorecard,
)
from harness.prompts import PromptError
from harness.reports import (
    ReportSettings,
    agreement_report,
    cost_text,
    render_report,
    render_scorecard,
    result_text,
    scorecard_report,
)

from ._agree import EPSILON_HELP
from ._common import (
    EXIT_INPUT,
    EXIT_JUDGE,
    ApiKeyEnvOpt,
    BaseUrlOpt,
    BatchOpt,
    ExperimentArg,
    JsonOpt,
    ModelOpt,
    ProgressOpt,
    ProviderOpt,
    RefreshOpt,
    Resamples,
    err,
    fail,
    load_with_judge_overrides,
    out,
    print_json,
    refuse_batch,
)


def judge(
    experiment: ExperimentArg,
    split: Annotated[str | None, typer.Option(
        help="calibration, holdout or all (default: the experiment's).")] = None,
    prompt: Annotated[str | None, typer.Option(help="Prompt version, e.g. v2.")] = None,
    provider: ProviderOpt = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    concurrency: Annotated[int | None, typer.Option(help="Concurrent calls.")] = None,
    batch: BatchOpt = None,
    engine: Annotated[str | None, typer.Option(
        help="local, or ray: the calls on Ray workers (RAY_ADDRESS, else a local Ray; "
             "pip install 'judgecal\\[ray]'). Default: the experiment's \\[run] engine.")] = None,
    out_csv: Annotated[Path | None, typer.Option("--out", help="Write judgments CSV here.")]
    = None,
    refresh: RefreshOpt = False,
    as_json: JsonOpt = False,
    resamples: Resamples = 1000,
    progress: ProgressOpt = True,
    max_invalid: Annotated[float | None, typer.Option(
        min=0.0, max=1.0,
        help="Largest share of invalid or failed judgments before exit 3 (default: the "
             "experiment's \\[run] max_invalid).")] = None,
    epsilon: Annotated[float | None, typer.Option(
        help=EPSILON_HELP + " Default: the experiment's \\[target] alt_test_epsilon.")] = None,
    criterion: Annotated[str | None, typer.Option(
        help="On a scorecard: judge this question only (its full report).")] = None,
) -> None:
    """Judge the anchors once with a fixed prompt version and report agreement with humans.

    On a scorecard experiment every question is judged (with its own prompt, or all in one
    call with ``\\[scorecard] mode = "one_call"``), and the report is the scorecard's (each
    question, the total, the rankings)."""
    if split not in (None, "calibration", "holdout", "all"):
        fail(f"--split must be calibration, holdout or all, got {split!r}")
    if epsilon is not None and not 0.0 <= epsilon < 1.0:  # before any call is paid for
        fail(f"--epsilon must be a number in [0, 1), got {epsilon:g}")
    try:
        exp = load_with_judge_overrides(
            experiment, provider=provider, model=model, base_url=base_url,
            api_key_env=api_key_env, run={"concurrency": concurrency,
                                          "max_invalid": max_invalid, "batch": batch,
                                          "engine": engine})
        refuse_batch(exp, experiment)
        scorecard = is_scorecard_experiment(exp)
        if criterion is not None and not scorecard:
            fail(f"{experiment}: --criterion needs a scorecard experiment (anchors with "
                 "criteria)")
        one_call = scorecard and exp.scorecard.mode == "one_call"
        if scorecard and (criterion is None or one_call):
            if prompt is not None and not one_call:
                fail("--prompt names one question's version: give --criterion too")
            _judge_scorecard(exp, split=split, refresh=refresh, progress=progress,
                             as_json=as_json, out_csv=out_csv, resamples=resamples,
                             epsilon=epsilon, prompt=prompt,
                             criteria=None if criterion is None else [criterion])
            return
        if scorecard:
            exp = exp.for_criterion(criterion)
        run = judge_anchors(exp, split=split, prompt_version=prompt, refresh=refresh,
                            show_progress=progress and not as_json, console=err)
    except (ExperimentError, AnchorError, PromptError) as exc:
        fail(str(exc), EXIT_INPUT)
    except ProviderError as exc:
        fail(str(exc), EXIT_JUDGE)
    except ValueError as exc:  # overrides that fail validation
        fail(f"{experiment}: {exc}", EXIT_INPUT)

    if out_csv is not None:
        run.write_csv(out_csv)
    check = run.invalid_check(exp.run.max_invalid)
    reason = run.unusable_reason(exp.run.max_invalid)
    settings = ReportSettings(n_resamples=resamples, alt_test_epsilon=(
        exp.target.alt_test_epsilon if epsilon is None else epsilon))
    report = agreement_report(run.table, judge_scores=run.judge_scores, settings=settings)
    if report.judge is not None:
        report.judge["rater_id"] = f"{run.judge_identity['provider']}:{exp.judge.model}"
    if as_json:
        doc = report.to_dict()
        doc["run"] = run.summary()
        doc["invalid"] = check.to_dict()
        print_json(doc)
    else:
        out.print(render_run(run))
        if run.result.n_ok:  # with no judge score, the report would be all "undefined"
            out.print(render_report(report))
        if out_csv is not None:
            out.print(f"judgments written to {out_csv}")
    if reason is not None:
        err.print(f"[bold red]error:[/] {escape(reason)}", soft_wrap=True)
        err.print("every judgment and its error: "
                  + (str(out_csv) if out_csv is not None else "rerun with --out FILE.csv"))
        raise typer.Exit(EXIT_JUDGE)


def _result_table(title: str, r: RunResult) -> Table:
    """A run's calls in one row: judgments, calls, statuses, tokens, cost, time."""
    t = Table(title=title, title_justify="left")
    for col in ("judgments", "calls", "cached", "ok", "invalid", "failed", "skipped",
                "tokens in/out", "cost", "time"):
        t.add_column(col, justify="right")
    t.add_row(str(len(r.judgments)), str(r.n_requests), str(r.n_cached), str(r.n_ok),
              str(r.n_invalid), str(r.n_failed), str(r.n_skipped),
              f"{r.input_tokens}/{r.output_tokens}", cost_text(r.cost), f"{r.elapsed_s:.1f} s")
    return t


def render_run(run: JudgeRun, *, warnings: bool = True) -> Table:
    """A run's calls, titled by its prompt version (a judgments file's run: by the file's
    name and hash, its label, not the hash twice), its warnings in the caption for a
    console (whole hashes shortened), or without them (``warnings=False``: the gate's table
    says them)."""
    recorded = run.scoring.get("mode") == "recorded"
    suffix = "" if recorded else f" ({run.prompt.hash[:12]})"
    t = _result_table(f"Run: {run.experiment.name} — {run.prompt.name} {run.prompt.label}"
                      f"{suffix} on the {run.split} split", run.result)
    if run.retest is not None:
        res = run.retest
        t.caption = ("judge test–retest ICC(1,1) across samples: "
                     + result_text(res))
    for w in run.warnings if warnings else []:
        t.caption = (t.caption + "\n" if t.caption else "") + f"! {human_text(w)}"
    return t


def _judge_scorecard(exp: Experiment, *, split: str | None, refresh: bool, progress: bool,
                     as_json: bool, out_csv: Path | None, resamples: int,
                     epsilon: float | None, prompt: str | None = None,
                     criteria: list[str] | None = None) -> None:
    """``judge`` on a scorecard experiment: every question, the total, the rankings."""
    try:
        sc = judge_scorecard(exp, split=split, refresh=refresh, criteria=criteria,
                             show_progress=progress and not as_json, console=err,
                             prompt_version=prompt)
    except (AnchorError, PromptError) as exc:
        fail(str(exc), EXIT_INPUT)
    except ProviderError as exc:
        fail(str(exc), EXIT_JUDGE)
    if out_csv is not None:
        sc.write_csv(out_csv)
    settings = ReportSettings(n_resamples=resamples, alt_test_epsilon=(
        exp.target.alt_test_epsilon if epsilon is None else epsilon))
    cards = sc.scorecard
    report = scorecard_report(
        {cid: run.table for cid, run in sc.runs.items()},
        kinds={cid: cards.spec(cid).kind for cid in sc.runs},
        labels={cid: cards.spec(cid).label for cid in sc.runs},
        total=sc.total_table, judge_scores=sc.judge_scores(), settings=settings,
        source=f"{exp.anchors.path} ({sc.split})")
    judge_id = f"{exp.judge.provider}:{exp.judge.model}"
    for rep in [*report.criteria.values(), report.total]:
        if rep is not None and rep.judge is not None:
            rep.judge["rater_id"] = judge_id
    reason = sc.unusable_reason(exp.run.max_invalid)
    if as_json:
        doc = report.to_dict()
        doc["runs"] = sc.summary()
        if sc.call is not None:
            doc["call"] = sc.call_summary()
        doc["invalid"] = {cid: run.invalid_check(exp.run.max_invalid).to_dict()
                          for cid, run in sc.runs.items()}
        doc["run_warnings"] = sc.warnings
        print_json(doc)
    else:
        if sc.call is not None:  # one call per item: its figures once, not per question
            first = next(iter(sc.runs.values()))
            out.print(_result_table(
                f"Run: {exp.name} — {first.prompt.name} {first.prompt.label} "
                f"({first.prompt.hash[:12]}) on the {sc.split} split, every question in one "
                "call", sc.call))
        else:
            for run in sc.runs.values():
                out.print(render_run(run))
        out.print(render_scorecard(report))
        for w in sc.warnings:
            out.print(f"[yellow]! {escape(w)}[/]")
        if out_csv is not None:
            out.print(f"judgments written to {out_csv}")
    if reason is not None:
        err.print(f"[bold red]error:[/] {escape(reason)}", soft_wrap=True)
        raise typer.Exit(EXIT_JUDGE)
