"""``judgecal validate``, ``judgecal gate`` and ``judgecal promote``: may this judge ship?"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from harness.experiments import Experiment, ExperimentError
from harness.gate import (
    PRODUCTION_ALIAS,
    GateError,
    GateErrorOutcome,
    GateInputError,
    GateResult,
    JudgesValidation,
    ScorecardGateResult,
    gate_table,
    load_gate,
    promote,
    promoted_lines,
    run_gate,
    validate_judges,
    write_junit,
    write_summary,
)
from harness.judgments import human_text
from harness.reports import ScorecardReport, render_leaderboard, render_report, render_scorecard

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
    Resamples,
    err,
    fail,
    load_with_judge_overrides,
    out,
    print_json,
    print_wide,
    refuse_batch,
)
from ._judge import render_run

PromptOpt = Annotated[str | None, typer.Option(
    "--prompt", help="Prompt version, e.g. v2 (default: the experiment's).")]
GatePromptOpt = Annotated[list[str] | None, typer.Option(
    "--prompt", metavar="vN|QUESTION=vN",
    help="Prompt version, e.g. v2 (default: the experiment's). On a scorecard: "
         "QUESTION=vN, repeatable (the others keep the experiment's version); a bare vN only "
         "when one question is gated.")]
AliasOpt = Annotated[str | None, typer.Option(
    "--alias", help="MLflow Prompt Registry alias instead of --prompt, e.g. candidate.")]
SplitOpt = Annotated[str | None, typer.Option(
    help="calibration, holdout or all (default: \\[gate] split, else holdout).")]
MinOpt = Annotated[list[str] | None, typer.Option(
    "--min", metavar="METRIC=VALUE",
    help="A higher-is-better figure must reach VALUE (repeatable), e.g. icc=0.7; on a "
         "scorecard QUESTION.METRIC=VALUE or total.METRIC=VALUE, e.g. tone.icc=0.6.")]
MaxOpt = Annotated[list[str] | None, typer.Option(
    "--max", metavar="METRIC=VALUE",
    help="A lower-is-better figure (mae, bias as |bias|) must stay <= VALUE (repeatable).")]
OnOpt = Annotated[str | None, typer.Option(
    "--on", metavar="point|lower-bound",
    help="lower-bound (default): the CI decides, three outcomes — pass when its conservative "
         "end clears the bar, fail when its other end misses it too, inconclusive (exit 4) "
         "when it straddles the bar. point: pass or fail on the point estimate.")]
AllowGoldOpt = Annotated[bool, typer.Option(
    "--allow-unreliable-gold",
    help="Decide on the bars even when the human anchors' own reliability is not "
         "established (otherwise the gate is inconclusive, exit 4).")]
RegressionOpt = Annotated[list[str] | None, typer.Option(
    "--max-regression", metavar="METRIC=DELTA",
    help="Fail when worse than --baseline by more than DELTA on the same items.")]
BaselineOpt = Annotated[str | None, typer.Option(
    "--baseline", metavar="vM|ALIAS", help="The version regression bars compare against.")]
MaxInvalidOpt = Annotated[float | None, typer.Option(
    "--max-invalid", metavar="SHARE",
    help="Largest share of invalid or failed judgments (above: exit 3; default 0.05).")]
OfflineOpt = Annotated[bool, typer.Option(
    "--offline", help="Answer from the journal only; any call needed: exit 3.")]
AllowChangedOpt = Annotated[bool, typer.Option(
    "--allow-changed-anchors",
    help="Gate even when the holdout items changed since the version was calibrated.")]
AllowJudgeChangeOpt = Annotated[bool, typer.Option(
    "--allow-judge-change",
    help="Gate even when the version (or the baseline) was calibrated with another judge: "
         "provider, model, endpoint, scoring mode or parameters.")]
FreshHoldoutOpt = Annotated[bool, typer.Option(
    "--fresh-holdout",
    help="Assert that this holdout is new: no other version has been evaluated on it "
         "(refused with exit 2 if one has). Without it, the CIs tighten with the number of "
         "versions looked at on this holdout (Bonferroni).")]
JunitOpt = Annotated[Path | None, typer.Option(
    "--junit", metavar="PATH", help="Write JUnit XML (one testcase per bar).")]
SummaryOpt = Annotated[Path | None, typer.Option(
    "--summary", metavar="PATH",
    help="Write a Markdown summary (also appended to $GITHUB_STEP_SUMMARY when set).")]
JudgmentsOpt = Annotated[str | None, typer.Option(
    "--judgments", metavar="FILE",
    help="Use the judgments of a file instead of calling a judge: judgecal's `judge --out` "
         "CSV, or a CSV/JSONL with item_id,score (optional judge, criterion, sample, "
         "rationale). The judge is the file (name and sha256); \\[judge] is not used.")]
JudgmentsJudgeOpt = Annotated[str | None, typer.Option(
    "--judge", metavar="ID", help="With --judgments: the file's judge, when it has several.")]
ProbesOpt = Annotated[bool | None, typer.Option(
    "--probes/--no-probes",
    help="Fail when a must-pass bias probe (judgecal probe: injection) failed, or was never "
         "run, for this version and judge (default: the experiment's \\[gate] probes).")]
JudgesOpt = Annotated[list[str] | None, typer.Option(
    "--judge", metavar="ID",
    help="With --judgments: the file's judge, when it has several; repeat it to validate "
         "several judges side by side (a leaderboard).")]
JudgmentsCriterionOpt = Annotated[str | None, typer.Option(
    "--criterion", metavar="ID",
    help="With --judgments: the file's criterion, when it has several and the experiment's "
         "\\[anchors] criterion names none.")]


def _no_overrides(judgments: str | None, overrides: dict[str, str | None]) -> None:
    """``--judgments`` replaces the judge: the judge overrides make no sense with it."""
    given = [f"--{k.replace('_', '-')}" for k, v in overrides.items() if v is not None]
    if judgments is not None and given:
        raise GateInputError(f"--judgments replaces the judge: drop {', '.join(given)}")


def _overrides(provider: str | None, model: str | None, base_url: str | None,
               api_key_env: str | None) -> dict[str, str | None]:
    return {"provider": provider, "model": model, "base_url": base_url,
            "api_key_env": api_key_env}


def _experiment(experiment: Path, overrides: dict[str, str | None],
                **sections: dict[str, Any]) -> Experiment:
    """The experiment file with the command line's judge overrides laid over it."""
    try:
        return load_with_judge_overrides(experiment, **overrides, **sections)
    except ExperimentError as exc:
        raise GateInputError(str(exc)) from None
    except ValueError as exc:  # an override that fails validation
        raise GateInputError(f"{experiment}: {exc}") from None


def validate_cmd(
    experiment: ExperimentArg,
    prompt: PromptOpt = None,
    alias: AliasOpt = None,
    split: SplitOpt = None,
    provider: ProviderOpt = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    offline: OfflineOpt = False,
    allow_judge_change: AllowJudgeChangeOpt = False,
    max_invalid: MaxInvalidOpt = None,
    fresh_holdout: FreshHoldoutOpt = False,
    as_json: JsonOpt = False,
    resamples: Resamples = 1000,
    progress: ProgressOpt = True,
    judgments: JudgmentsOpt = None,
    judge: JudgesOpt = None,
    batch: BatchOpt = None,
    criterion: JudgmentsCriterionOpt = None,
) -> None:
    """Judge the holdout split with a fixed prompt version (no revision) and report agreement
    with the humans, with the human ceiling; with --judgments, report on a file's judgments
    (no judge is called), and with --judge repeated, rank those judges on a leaderboard."""
    overrides = _overrides(provider, model, base_url, api_key_env)
    try:
        _no_overrides(judgments, overrides)
        if judgments is not None and batch:
            raise GateInputError("--judgments replaces the judge: drop --batch")
        live = _experiment(experiment, overrides, run={"batch": batch})
        refuse_batch(live, experiment)
        exp, settings = load_gate(live, split=split, max_invalid=max_invalid)
        settings.bars = []
        settings.baseline = None
        if judge and len(judge) > 1:
            if judgments is None:
                raise GateInputError("--judge names judges of a --judgments file")
            _print_judges(validate_judges(exp, settings, judgments, judge,
                                          criterion=criterion, n_resamples=resamples,
                                          fresh_holdout=fresh_holdout), as_json)
            return
        result = run_gate(exp, settings, prompt=prompt, alias=alias, offline=offline,
                          allow_changed_anchors=True, allow_judge_change=allow_judge_change,
                          n_resamples=resamples, command="validate",
                          show_progress=progress and not as_json, console=err,
                          fresh_holdout=fresh_holdout, judgments=judgments,
                          judgments_judge=judge[0] if judge else None,
                          judgments_criterion=criterion)
    except GateError as exc:
        fail(str(exc), exc.exit_code)
    if isinstance(result, ScorecardGateResult):
        _print_scorecard_validation(result, as_json)
        return
    if as_json:
        doc = result.report.to_dict()
        doc["run"] = result.run.summary()
        doc["prompt"] = result.version.to_dict()
        doc["scoring"] = result.run.scoring
        doc["judge_check"] = result.judge.to_dict() if result.judge else None
        doc["checks"] = result.checks
        doc["invalid"] = result.invalid.to_dict()
        doc["gate_warnings"] = result.warnings
        doc["holdout_looks"] = (result.holdout_looks.to_dict()
                                if result.holdout_looks is not None else None)
        print_json(doc)
    else:
        out.print(render_run(result.run))
        out.print(render_report(result.report))
        if result.holdout_looks is not None:
            out.print(escape(result.holdout_looks.describe()))
        for w in result.warnings:
            if w not in result.run.warnings:
                out.print(f"[yellow]! {escape(human_text(w))}[/]")
    if not result.invalid.passed:
        err.print(f"[bold red]judge failure:[/] {escape(result.invalid.message)}")
        raise typer.Exit(EXIT_JUDGE)


def _print_judges(val: JudgesValidation, as_json: bool) -> None:
    """``validate`` of several judges: the leaderboard, then who failed the invalid check."""
    if as_json:
        print_json(val.to_dict())
    else:
        for res in val.results.values():
            out.print(render_run(res.run))
        out.print(render_leaderboard(val.board))
        looks = {r.holdout_looks.describe() for r in val.results.values() if r.holdout_looks}
        for line in sorted(looks):
            out.print(escape(line))
    failed = val.invalid_failed
    if failed:
        for j in failed:
            err.print(f"[bold red]judge failure:[/] {escape(j)}: "
                      f"{escape(val.results[j].invalid.message)}")
        raise typer.Exit(EXIT_JUDGE)


def _print_scorecard_validation(result: ScorecardGateResult, as_json: bool) -> None:
    """``validate`` on a scorecard: every question's report, the total, the rankings."""
    from harness.anchors import load_scorecard

    card = load_scorecard(result.experiment.anchors.path)
    report = ScorecardReport(
        source=f"{result.experiment.anchors.path} ({result.settings.split})",
        criteria={q: r.report for q, r in result.questions.items()},
        total=result.total.report if result.total is not None else None,
        labels={q: card.spec(q).label for q in result.questions})
    if as_json:
        doc = report.to_dict()
        doc["runs"] = {q: r.run.summary() for q, r in result.questions.items()}
        doc["prompts"] = {q: r.version.to_dict() for q, r in result.questions.items()}
        doc["invalid"] = {q: r.invalid.to_dict() for q, r in result.questions.items()}
        doc["holdout_looks"] = {q: r.holdout_looks.to_dict() if r.holdout_looks else None
                                for q, r in result.questions.items()}
        doc["gate_warnings"] = result.warnings + [w for r in result.questions.values()
                                                  for w in r.warnings]
        print_json(doc)
    else:
        for r in result.questions.values():
            out.print(render_run(r.run))
        out.print(render_scorecard(report))
        for q, r in result.questions.items():
            if r.holdout_looks is not None:
                out.print(escape(f"{q}: {r.holdout_looks.describe()}"))
    failed = [f"{q}: {r.invalid.message}" for q, r in result.questions.items()
              if not r.invalid.passed]
    if failed:
        err.print(f"[bold red]judge failure:[/] {escape('; '.join(failed))}")
        raise typer.Exit(EXIT_JUDGE)


def _gate(
    command: str,
    experiment: Path,
    *,
    overrides: dict[str, str | None],
    prompt: str | list[str] | None,
    alias: str | None,
    split: str | None,
    min_: list[str] | None,
    max_: list[str] | None,
    on: str | None,
    max_regression: list[str] | None,
    baseline: str | None,
    max_invalid: float | None,
    offline: bool,
    allow_changed_anchors: bool,
    allow_judge_change: bool,
    fresh_holdout: bool,
    allow_unreliable_gold: bool,
    as_json: bool,
    junit: Path | None,
    summary: Path | None,
    resamples: int,
    progress: bool,
    then: Any = None,
    judgments: str | None = None,
    judgments_judge: str | None = None,
    judgments_criterion: str | None = None,
    probes: bool | None = None,
) -> None:
    try:
        _no_overrides(judgments, overrides)
        exp, settings = load_gate(_experiment(experiment, overrides), min=min_, max=max_,
                                  max_regression=max_regression, on=on,
                                  max_invalid=max_invalid, baseline=baseline, split=split,
                                  probes=probes)
        result = run_gate(exp, settings, prompt=prompt, alias=alias, offline=offline,
                          allow_changed_anchors=allow_changed_anchors,
                          allow_judge_change=allow_judge_change, n_resamples=resamples,
                          command=command, show_progress=progress and not as_json,
                          console=err, fresh_holdout=fresh_holdout,
                          allow_unreliable_gold=allow_unreliable_gold, judgments=judgments,
                          judgments_judge=judgments_judge,
                          judgments_criterion=judgments_criterion)
        if then is not None:
            then(result)
    except GateError as exc:
        outcome = GateErrorOutcome(command, str(experiment), str(exc), exc.exit_code)
        _write(outcome, junit, summary)
        if as_json:
            print_json(outcome.to_dict())
        fail(str(exc), exc.exit_code)
    _write(result, junit, summary)
    if as_json:
        print_json(result.to_dict())
    else:
        parts = (list(result.questions.values()) if isinstance(result, ScorecardGateResult)
                 else [result])
        for part in parts:  # the run's warnings are the gate's: its table says them
            out.print(render_run(part.run, warnings=False))
            if part.baseline is not None:
                out.print(render_run(part.baseline.run))
        print_wide(gate_table(result))
        for line in promoted_lines(result.promoted):
            out.print(line, markup=False, soft_wrap=True)
        if command == "promote" and not result.promoted:
            out.print(f"not promoted: alias '{PRODUCTION_ALIAS}' unchanged")
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def _write(outcome: GateResult | ScorecardGateResult | GateErrorOutcome, junit: Path | None,
           summary: Path | None) -> None:
    try:
        if junit is not None:
            write_junit(junit, outcome)
        write_summary(outcome, summary)
    except OSError as exc:
        fail(f"cannot write the gate outputs: {exc}", EXIT_INPUT)


def gate_cmd(
    experiment: ExperimentArg,
    prompt: GatePromptOpt = None,
    alias: AliasOpt = None,
    min_: MinOpt = None,
    max_: MaxOpt = None,
    on: OnOpt = None,
    max_regression: RegressionOpt = None,
    baseline: BaselineOpt = None,
    max_invalid: MaxInvalidOpt = None,
    split: SplitOpt = None,
    provider: ProviderOpt = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    offline: OfflineOpt = False,
    allow_changed_anchors: AllowChangedOpt = False,
    allow_judge_change: AllowJudgeChangeOpt = False,
    fresh_holdout: FreshHoldoutOpt = False,
    allow_unreliable_gold: AllowGoldOpt = False,
    as_json: JsonOpt = False,
    junit: JunitOpt = None,
    summary: SummaryOpt = None,
    resamples: Resamples = 1000,
    progress: ProgressOpt = True,
    probes: ProbesOpt = None,
    judgments: JudgmentsOpt = None,
    judge: JudgmentsJudgeOpt = None,
    criterion: JudgmentsCriterionOpt = None,
) -> None:
    """Decide whether a judge may ship: judge the holdout with a fixed version, check the bars.

    Exit codes: 0 every bar passed; 1 a bar not met; 2 usage or input error; 3 judge or
    provider failure (too many invalid judgments, budget spent, provider unreachable, a
    call needed under --offline); 4 inconclusive (a bar's CI straddles it, with about how
    many more anchors would decide it, or the human anchors are not reliable).

    On a scorecard experiment every bar names its question or the total: --min tone.icc=0.6
    --min total.icc=0.7.

    With --judgments FILE the judgments of a file are gated instead (no judge is called; the
    prompt checks are skipped; --baseline names another judge of the file or another
    judgments file).
    """
    _gate("gate", experiment, overrides=_overrides(provider, model, base_url, api_key_env),
          prompt=prompt, alias=alias, split=split, min_=min_, max_=max_, on=on,
          max_regression=max_regression, baseline=baseline, max_invalid=max_invalid,
          offline=offline, allow_changed_anchors=allow_changed_anchors,
          allow_judge_change=allow_judge_change, fresh_holdout=fresh_holdout,
          allow_unreliable_gold=allow_unreliable_gold, as_json=as_json, junit=junit,
          summary=summary, resamples=resamples, progress=progress, judgments=judgments,
          judgments_judge=judge, judgments_criterion=criterion,
          probes=probes)


def promote_cmd(
    experiment: ExperimentArg,
    prompt: PromptOpt = None,
    alias: AliasOpt = None,
    min_: MinOpt = None,
    max_: MaxOpt = None,
    on: OnOpt = None,
    max_regression: RegressionOpt = None,
    baseline: BaselineOpt = None,
    max_invalid: MaxInvalidOpt = None,
    split: SplitOpt = None,
    provider: ProviderOpt = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    offline: OfflineOpt = False,
    allow_changed_anchors: AllowChangedOpt = False,
    allow_judge_change: AllowJudgeChangeOpt = False,
    fresh_holdout: FreshHoldoutOpt = False,
    allow_unreliable_gold: AllowGoldOpt = False,
    as_json: JsonOpt = False,
    junit: JunitOpt = None,
    summary: SummaryOpt = None,
    resamples: Resamples = 1000,
    probes: ProbesOpt = None,
    progress: ProgressOpt = True,
) -> None:
    """Set the MLflow Prompt Registry alias 'production' on a version, only if its gate passes
    (the same bars as `judgecal gate`)."""
    if prompt is None and alias is None:
        fail("promote needs the version: --prompt vN (or --alias NAME)", EXIT_INPUT)

    def then(result: GateResult) -> None:
        if result.passed:
            try:
                promote(result)
            except Exception as exc:  # noqa: BLE001 - an MLflow failure is reported as input
                raise GateError(f"the gate passed but the alias could not be set: {exc}"
                                ) from None

    _gate("promote", experiment, overrides=_overrides(provider, model, base_url, api_key_env),
          prompt=prompt, alias=alias, split=split, min_=min_, max_=max_, on=on,
          max_regression=max_regression, baseline=baseline, max_invalid=max_invalid,
          offline=offline, allow_changed_anchors=allow_changed_anchors,
          allow_judge_change=allow_judge_change, fresh_holdout=fresh_holdout,
          allow_unreliable_gold=allow_unreliable_gold, as_json=as_json, junit=junit,
          summary=summary, resamples=resamples, progress=progress, then=then,
          probes=probes)
