"""``judgecal calibrate``: the calibration loop, then the final table and where to look."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from harness.anchors import AnchorError
from harness.experiments import ExperimentError
from harness.judges import ProviderError
from harness.loop import (
    SCORECARD_STOP_TEXT,
    CalibrationLocked,
    CalibrationResult,
    LoopStopped,
    ManualRevisionPending,
    ScorecardCalibrationResult,
    calibrate,
)
from harness.prompts import PromptError
from harness.reports import (
    MISSING,
    alt_test_sentences,
    final_table_rows,
    number_text,
    scorecard_table_rows,
    signed_text,
    verdict_word,
)

from ._common import (
    EXIT_INPUT,
    EXIT_JUDGE,
    ApiKeyEnvOpt,
    BaseUrlOpt,
    BatchOpt,
    ExperimentArg,
    ModelOpt,
    ProviderOpt,
    err,
    fail,
    load_with_judge_overrides,
    out,
    print_json,
    print_wide,
    refuse_batch,
)

if TYPE_CHECKING:
    from harness.gate import BarResult

_STOP_TEXT = {
    "threshold": "the target was reached",
    "plateau": "agreement stopped improving (plateau)",
    "max_iterations": "the iteration limit was reached",
    "manual": "a manual revision is needed",
    "nothing_to_revise": "the reviser had nothing left to add",
}


def calibrate_cmd(
    experiment: ExperimentArg,
    provider: ProviderOpt = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    max_iterations: Annotated[int | None, typer.Option(help="Iteration limit.")] = None,
    restart: Annotated[bool, typer.Option(
        help="Start a new calibration instead of continuing an unfinished one.")] = False,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    batch: BatchOpt = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print one JSON document: the iterations, the best version, the "
                       "holdout and its verdict (progress and messages on stderr).")] = False,
) -> None:
    """Revise the judge prompt until agreement passes the target or plateaus; validate on
    the holdout split; log everything to MLflow. On a scorecard: every question so, the
    worst first, then the judge's total."""
    try:
        exp = load_with_judge_overrides(
            experiment, provider=provider, model=model, base_url=base_url,
            api_key_env=api_key_env, stopping={"max_iterations": max_iterations},
            run={"batch": batch})
    except ExperimentError as exc:
        fail(str(exc), EXIT_INPUT)
    except ValueError as exc:  # overrides that fail validation
        fail(f"{experiment}: {exc}", EXIT_INPUT)
    refuse_batch(exp, experiment)
    try:
        result = calibrate(exp, console=err, show_progress=progress and not as_json,
                           restart=restart,
                           say=lambda msg: err.print(f"[cyan]·[/] {msg}", highlight=False))
    except ManualRevisionPending as exc:
        if as_json:
            print_json({"status": "manual_revision_pending", "message": str(exc)})
        else:
            out.print(str(exc))
        return
    except (AnchorError, PromptError, CalibrationLocked) as exc:
        fail(str(exc), EXIT_INPUT)
    except (ProviderError, LoopStopped) as exc:
        fail(str(exc), EXIT_JUDGE)
    except ValueError as exc:  # e.g. [revision] strategy 'llm' without a model
        fail(str(exc), EXIT_INPUT)
    if as_json:
        print_json(scorecard_doc(result) if isinstance(result, ScorecardCalibrationResult)
                   else result_doc(result))
    elif isinstance(result, ScorecardCalibrationResult):
        print_scorecard_result(result)
    else:
        print_result(result)


def ui_hint(ui_command: str) -> str:
    """How to open the MLflow UI: the command for a local store, the URL of a server."""
    if ui_command.startswith("mlflow "):
        return f"open the MLflow UI with: uv run {ui_command}"
    return f"open the MLflow UI at: {ui_command}"


def result_doc(result: CalibrationResult) -> dict[str, Any]:
    """``calibrate --json``: the final table's rows as a JSON-ready document.

    Parameters
    ----------
    result : CalibrationResult

    Returns
    -------
    dict
        ``iterations`` (the rows of :func:`harness.reports.final_table_rows`), ``holdout``
        (its row and the ``verdict``, or None), ``human_ceiling``, ``best``, ``gap``,
        ``stop_reason``, ``alt_test`` sentences, ``warnings``, ``report`` and ``mlflow``.
    """
    rows = final_table_rows(result)
    hold = next((r for r in rows if r["kind"] == "holdout"), None)
    verdict = result.holdout.verdict if result.holdout is not None else None
    best = result.best
    return {
        "experiment": result.experiment, "primary": result.primary,
        "threshold": result.threshold, "secondary": result.secondary,
        "stop_reason": result.stop_reason,
        "stopped_because": _STOP_TEXT.get(result.stop_reason, result.stop_reason),
        "iterations": [r for r in rows if r["kind"] == "iteration"],
        "holdout": None if hold is None else {
            **hold, "verdict": verdict.to_dict() if verdict is not None else None},
        "human_ceiling": next((r for r in rows if r["kind"] == "ceiling"), None),
        "best": None if best is None else {
            "name": best.prompt.name, "version": best.prompt.label,
            "iteration": best.iteration, "hash": best.prompt.hash,
            "alias": "candidate" if result.holdout is not None else None},
        "gap": result.gap,
        "alt_test": [sentence for sentence, _ in alt_test_sentences(result)],
        "warnings": list(result.warnings),
        "report": None if not result.report_html else {
            "html": str(result.report_html), "markdown": str(result.report_md)},
        "mlflow": None if not result.tracking_uri else {
            "run_id": result.parent_run_id, "tracking_uri": result.tracking_uri,
            "ui": result.ui_command},
    }


def scorecard_doc(result: ScorecardCalibrationResult) -> dict[str, Any]:
    """``calibrate --json`` on a scorecard: the per-question table, each question's
    :func:`result_doc`, the total's verdict."""
    verdict = result.total_verdict
    return {
        "experiment": result.experiment, "threshold": result.threshold,
        "total_primary": result.total_primary, "stop_reason": result.stop_reason,
        "stopped_because": SCORECARD_STOP_TEXT.get(result.stop_reason, result.stop_reason),
        "table": scorecard_table_rows(result),
        "questions": {cid: result_doc(res) for cid, res in result.questions.items()},
        "revised": result.revised, "replayed": list(result.replayed),
        "pending": dict(result.pending),
        "total_verdict": verdict.to_dict() if verdict is not None else None,
        "warnings": list(result.warnings),
    }


def print_result(result: CalibrationResult) -> None:
    t = Table(title=f"Calibration of {result.experiment}: {result.primary} "
              f"(target {result.threshold:g})", title_justify="left")
    for col in ("iter", "version", "split", f"{result.primary} [95% CI]", "spearman", "MAE",
                "bias", "alt-test ω", "invalid"):
        t.add_column(col, justify="left" if col in ("version", "split") else "right",
                     no_wrap=True)
    rows = final_table_rows(result)
    for row in rows:
        bias = row.get("bias")
        t.add_row(*[_cell(row.get(k)) for k in (
            "iteration", "version", "split", "primary_text", "spearman", "mae")],
            _cell(bias) if bias is None or row["kind"] == "ceiling" else signed_text(bias),
            *[_cell(row.get(k)) for k in ("alt_test_text", "n_invalid")])
    print_wide(t)
    seen = set()
    for rec in result.iterations:
        if rec.prompt.label in seen:
            continue
        seen.add(rec.prompt.label)
        out.print(f"  {rec.prompt.label} ({rec.prompt.hash[:12]}): {rec.prompt.changelog}")
    out.print(f"stopped because {_STOP_TEXT.get(result.stop_reason, result.stop_reason)}")
    for sentence, alarming in alt_test_sentences(result):
        out.print(f"[yellow]{sentence}[/]" if alarming else sentence, highlight=False)
    verdict = result.holdout.verdict if result.holdout is not None else None
    if verdict is not None:
        _print_verdict("holdout verdict", verdict)
    if result.best is not None:
        out.print(f"best version: {result.best.prompt.name} {result.best.prompt.label}"
                  + (" (MLflow alias 'candidate')" if result.holdout else ""))
    for w in result.warnings:
        out.print(f"[yellow]! {w}[/]")
    if result.report_html:
        out.print(f"report: {result.report_html}")
        out.print(f"summary: {result.report_md}")
    if result.tracking_uri:
        out.print(f"MLflow: run {result.parent_run_id} in {result.tracking_uri}")
        out.print(ui_hint(result.ui_command))


def _print_verdict(what: str, verdict: BarResult) -> None:
    """``<what>, <bar>: PASS — message`` (coloured by outcome), then what would decide it."""
    style = {"pass": "green", "fail": "red"}.get(verdict.outcome, "yellow")
    out.print(f"{what}, {verdict.name}: [bold {style}]{verdict_word(verdict.outcome)}[/] "
              f"— {verdict.message}", highlight=False)
    if verdict.decide_text():
        out.print(f"  {verdict.decide_text()}", highlight=False)


def _cell(value: object) -> str:
    if value is None:
        return MISSING
    if isinstance(value, float):
        return number_text(value)
    return str(value)


def print_scorecard_result(result: ScorecardCalibrationResult) -> None:
    """The final table of a scorecard: a row per question (worst first) and the total."""
    t = Table(title=f"Calibration of scorecard {result.experiment}: each question's primary "
              f"figure (target {result.threshold:g})", title_justify="left")
    for col in ("question", "version", "figure", "calibration [95% CI]", "holdout [95% CI]",
                "holdout verdict", "stopped"):
        t.add_column(col, justify="left", no_wrap=True)
    rows = scorecard_table_rows(result)
    for row in rows:
        if row["kind"] == "pending":
            t.add_row(row["question"], *[MISSING] * 5, "manual revision pending")
            continue
        t.add_row(row["question"], _cell(row["version"]), _cell(row["primary_name"]),
                  _cell(row["calibration_text"]), _cell(row["holdout_text"]),
                  verdict_word(row["outcome"]),
                  _cell(_STOP_TEXT.get(row["stop_reason"], row["stop_reason"])
                        if row["stop_reason"] else None))
    print_wide(t)
    revised = result.revised
    if revised:
        out.print("revised: " + ", ".join(f"{c} ({', '.join(v)})" for c, v in revised.items()),
                  highlight=False)
    kept = [r["question"] for r in rows if r["kind"] == "question" and not r["revised"]]
    if kept:
        out.print(f"not revised: {', '.join(kept)}", highlight=False)
    if result.replayed:
        out.print(f"finished before (read back from the journal, not run again): "
                  f"{', '.join(result.replayed)}", highlight=False)
    for cid, message in result.pending.items():
        out.print(f"{cid}: {message}", highlight=False)
    verdict = result.total_verdict
    if verdict is not None:
        _print_verdict("total on the holdout", verdict)
    out.print(f"stopped because "
              f"{SCORECARD_STOP_TEXT.get(result.stop_reason, result.stop_reason)}")
    for w in result.warnings:
        out.print(f"[yellow]! {w}[/]")
    for cid, res in result.questions.items():
        for w in res.warnings:
            out.print(f"[yellow]! {cid}: {w}[/]")
        if res.report_html:
            out.print(f"{cid} report: {res.report_html}", highlight=False)
        if res.parent_run_id:
            out.print(f"{cid} MLflow: run {res.parent_run_id} in {res.tracking_uri}",
                      highlight=False)
    ui = next((r.ui_command for r in result.questions.values() if r.ui_command), None)
    if ui:
        out.print(ui_hint(ui))
