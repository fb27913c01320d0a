"""``judgecal selective``: abstain or escalate, with a guarantee (Trust or Escalate)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from harness._say import confidence_text, cost_text

from ._common import (
    EXIT_INPUT,
    EXIT_JUDGE,
    ExperimentArg,
    JsonOpt,
    ProgressOpt,
    RefreshOpt,
    err,
    fail,
    out,
    print_json,
    print_wide,
)

if TYPE_CHECKING:
    from harness.experiments import Experiment
    from harness.selective import CascadeReport, SelectiveReport

_PLOT_FORMATS = (".svg", ".png", ".pdf")


def selective_cmd(
    experiment: ExperimentArg,
    target: Annotated[float, typer.Option(
        help="Agreement with the humans guaranteed on the items the judge keeps (1 - "
             "alpha).")] = 0.8,
    delta: Annotated[float, typer.Option(
        help="Chance that the guarantee fails for the calibration drawn.")] = 0.1,
    tolerance: Annotated[float, typer.Option(
        help="The judge agrees on an item when |judge - consensus| <= this (0.5: its score "
             "rounds to the consensus's scale point).")] = 0.5,
    confidence: Annotated[str, typer.Option(
        help="The judge's confidence: auto (a judgments file's confidence column, else the "
             "logprob top mass, else the agreement of the samples), top_mass, spread, "
             "samples or recorded.")] = "auto",
    start: Annotated[int | None, typer.Option(
        "--start", metavar="N", min=1,
        help="Test thresholds from the one keeping N items (default: the fewest that could "
             "certify the target; the paper's code starts at 30).")] = None,
    then: Annotated[list[Path] | None, typer.Option(
        "--then", metavar="EXPERIMENT",
        help="A cascade: the experiment of a stronger judge for the items the previous one "
             "abstains on (repeatable, cheapest first; the same anchor set); humans last.")]
    = None,
    joint: Annotated[bool, typer.Option(
        "--joint",
        help="A cascade: test each stage at delta / stages, so that the guarantee on all "
             "kept items holds with probability 1 - delta (default: each stage at delta, "
             "as the paper).")] = False,
    judgments: Annotated[list[str] | None, typer.Option(
        "--judgments", metavar="FILE",
        help="Use a judgments file (judge --out, long CSV/JSONL) instead of calling the "
             "judge; an optional confidence column is the judge's confidence. A cascade: "
             "one file shared by the stages, or one per stage in order.")] = None,
    judge_id: Annotated[list[str] | None, typer.Option(
        "--judge", metavar="ID", help="With --judgments: the file's judge (a cascade: one "
                                      "per stage, in order).")] = None,
    criterion: Annotated[str | None, typer.Option(
        "--criterion", metavar="ID",
        help="A scorecard's question (or the judgments file's criterion).")] = None,
    escalations: Annotated[Path | None, typer.Option(
        "--escalations", metavar="FILE",
        help="Write the items the judge abstains on (CSV item_id,split,reason,...), for "
             "'judgecal session create SET --from-escalations FILE'.")] = None,
    plot: Annotated[Path | None, typer.Option(
        "--plot", metavar="FILE.svg", help="Write the agreement-coverage curve (.svg, .png, "
                                           ".pdf).")] = None,
    report_path: Annotated[Path | None, typer.Option(
        "--report", metavar="FILE.html",
        help="Write an HTML page: the tables and the agreement-coverage curve.")] = None,
    track: Annotated[bool | None, typer.Option(
        "--track/--no-track",
        help="Log the result and the curve to MLflow (default: when the experiment file has "
             "a \\[tracking] section).")] = None,
    refresh: RefreshOpt = False,
    progress: ProgressOpt = True,
    as_json: JsonOpt = False,
) -> None:
    """Choose the confidence below which the judge abstains, so that on the items it keeps
    it agrees with the humans at least TARGET of the time with probability 1 - DELTA.

    The threshold is chosen on the calibration split by fixed-sequence testing with the
    exact binomial bound (Jung, Brahman & Choi, ICLR 2025) and checked on the holdout.
    With --then, a cascade: each stage's threshold is chosen on the calibration items every
    earlier stage abstained on; what no stage keeps goes to humans."""
    from harness.anchors import AnchorError
    from harness.experiments import ExperimentError
    from harness.judges import ProviderError
    from harness.prompts import PromptError
    from harness.selective import (
        CONFIDENCE_SOURCES,
        SelectiveError,
        cascade_check,
        selective_check,
    )

    for name, value in (("--target", target), ("--delta", delta)):
        if not 0.0 < value < 1.0:
            fail(f"{name} must be a number in (0, 1), got {value:g}")
    if not tolerance >= 0.0 or tolerance == float("inf"):
        fail(f"--tolerance must be a finite number >= 0, got {tolerance:g}")
    if confidence not in CONFIDENCE_SOURCES:
        fail(f"--confidence must be one of {', '.join(CONFIDENCE_SOURCES)}, got "
             f"{confidence!r}")
    if plot is not None and plot.suffix.lower() not in _PLOT_FORMATS:
        fail(f"--plot {plot}: name a .svg, .png or .pdf file")
    if report_path is not None and report_path.suffix.lower() not in (".html", ".htm"):
        fail(f"--report {report_path}: name an .html file")
    files, judges, stages = judgments or [], judge_id or [], 1 + len(then or [])
    if judges and not files:
        fail("--judge names a judge of a --judgments file")
    if len(files) not in (0, 1, stages):
        fail(f"--judgments: {len(files)} files for {stages} stage(s): give one (shared) or "
             "one per stage")
    if len(judges) not in (0, stages):
        fail(f"--judge: {len(judges)} names for {stages} stage(s): name one judge per stage")
    if joint and not then:
        fail("--joint applies to a cascade (--then EXPERIMENT)")
    try:
        exps = [_load(path, criterion) for path in [experiment, *(then or [])]]
        exp = exps[0]
        if then:
            report = cascade_check(
                exps, target=target, delta=delta, tolerance=tolerance,
                confidence=confidence,  # type: ignore[arg-type]
                judgments=files or None, judges=judges or None, criterion=criterion,
                joint=joint, start=start, refresh=refresh,
                show_progress=progress and not as_json, console=err)
        else:
            report = selective_check(
                exp, target=target, delta=delta, tolerance=tolerance,
                confidence=confidence,  # type: ignore[arg-type]
                judgments=files[0] if files else None, judge=judges[0] if judges else None,
                criterion=criterion, start=start, refresh=refresh,
                show_progress=progress and not as_json, console=err)
    except (ExperimentError, AnchorError, PromptError, SelectiveError) as exc:
        fail(str(exc), EXIT_INPUT)
    except ProviderError as exc:
        fail(str(exc), EXIT_JUDGE)
    except ValueError as exc:  # a judgments file's error (path:line: message)
        fail(str(exc), EXIT_INPUT)
    if report.unusable:
        fail("; ".join(report.unusable), EXIT_JUDGE)

    doc = report.to_dict()
    if escalations is not None:
        from harness.selective import write_escalations

        write_escalations(escalations, report.escalations())
        doc["escalations"] = str(escalations)
    if report_path is not None:
        from harness.reports._selective_report import write_selective_report

        write_selective_report(report_path, report, experiment=" → ".join(e.name for e in exps))
        doc["report"] = str(report_path)
    fig = _figure(report) if plot is not None or _tracking(exp, track) else None
    if plot is not None:
        plot.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(plot, format=plot.suffix.lower().lstrip("."))
        doc["plot"] = str(plot)
    if _tracking(exp, track):
        doc["mlflow"] = _log_mlflow(exp, report, doc, fig)
    if as_json:
        print_json(doc, default=str)
        return
    if then:
        _print_cascade(report, doc)  # type: ignore[arg-type]
    else:
        _print(report, doc)  # type: ignore[arg-type]


def _load(path: Path, criterion: str | None) -> Experiment:
    """An experiment (a scorecard's question with ``--criterion``)."""
    from harness.experiments import load_experiment
    from harness.judgments import is_scorecard_experiment

    exp = load_experiment(path)
    if is_scorecard_experiment(exp):
        if criterion is None:
            fail(f"{path}: a scorecard: name the question with --criterion ID")
        exp = exp.for_criterion(criterion)
    return exp


def _figure(report: SelectiveReport | CascadeReport) -> Any:
    from harness.reports._selective_plot import selective_figure

    return selective_figure(report)


def _tracking(exp: Experiment, track: bool | None) -> bool:
    """``--track/--no-track``, else whether the experiment file has a ``[tracking]`` section."""
    if track is not None:
        return track
    import tomllib

    if exp.source is None:
        return False
    try:
        return "tracking" in tomllib.loads(Path(exp.source).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return False


def _log_mlflow(exp: Experiment, report: SelectiveReport | CascadeReport, doc: dict[str, Any],
                fig: Any) -> dict[str, str]:
    """One MLflow run (``judgecal.run_type`` ``selective``): parameters, the figures of each
    split (a cascade: overall, and each stage's threshold and kept share), the JSON document
    and the curve's figure."""
    from harness.tracking import Tracker

    envs = {"OPENAI_API_KEY", "ANTHROPIC_API_KEY", exp.judge.api_key_env or "OPENAI_API_KEY"}
    tracker = Tracker(exp.tracking.experiment_name or exp.name, exp.tracking.tracking_uri,
                      secrets=[os.environ[e] for e in sorted(envs) if os.environ.get(e)])
    params: dict[str, Any] = {"target": report.target, "delta": report.delta,
                              "tolerance": report.tolerance}
    metrics: dict[str, float | None] = {}
    if hasattr(report, "labels"):  # a cascade
        params.update({"cascade": " -> ".join(report.labels), "joint": report.calibration.joint,
                       "confidence": ",".join(report.sources)})
        for j, lam in enumerate(report.thresholds):
            metrics[f"stage{j + 1}.threshold"] = lam
        for split in report.outcomes:
            d = report.split_dict(split)
            metrics.update({f"{split}.coverage": d["coverage"],
                            f"{split}.agreement": d["agreement"],
                            f"{split}.escalated_share": d["escalated_share"]})
            for s in d["stages"]:
                metrics[f"{split}.stage{s['stage']}.share_kept"] = s["share_kept"]
    else:
        params.update({"confidence": report.source, "min_kept": report.threshold.min_kept,
                       **{f"judge.{k}": v for k, v in report.judge.items()}})
        for split in report.data:
            d = report.split_dict(split)
            metrics.update({f"{split}.coverage": d.get("coverage"),
                            f"{split}.agreement": d.get("agreement")})
        metrics["threshold"] = report.threshold.threshold
    with tracker.start_calibration(f"selective {exp.name}", params=params,
                                   tags={"judgecal.command": "selective"}) as run:
        run.set_tags({"judgecal.run_type": "selective"})
        run.log_metrics(metrics, step=0)
        run.log_dict(doc, "selective/selective.json")
        run.log_figure(fig, "selective/agreement_coverage.png")
        return {"run_id": run.run_id, "tracking_uri": tracker.tracking_uri}


def _print(report: SelectiveReport, doc: dict[str, Any]) -> None:
    from harness.reports._selective_report import outcome_cells

    t = report.threshold
    lam = ("none certified: every item is escalated" if t.threshold is None
           else confidence_text(t.threshold))
    out.print(f"selective evaluation: target agreement {report.target:g} with probability "
              f"{1 - report.delta:g} (delta {report.delta:g}); confidence: {report.source}; "
              f"agreement: |judge - consensus| <= {report.tolerance:g}", soft_wrap=True)
    out.print(f"threshold: [bold]{escape(lam)}[/] ({len(t.steps)} test(s) from "
              f"{t.min_kept} kept items, most confident first)")
    table = Table(title="Items the judge keeps")
    for col in ("split", "items", "kept", "coverage", "agreement", "95% CI",
                "guarantee held"):
        table.add_column(col, justify="left" if col == "split" else "right")
    for split in report.data:
        o = t.calibration if split == "calibration" else report.holdout
        if o is None:
            continue
        table.add_row(split, str(o.n), str(o.n_kept), *outcome_cells(o))
    print_wide(table)
    if report.holdout is not None and report.holdout.guarantee_held is False:
        out.print("the holdout's agreement on kept items is below the target: the guarantee "
                  "holds with probability 1 - delta over calibrations, and a small holdout "
                  "varies (see its CI)", soft_wrap=True)
    _print_warnings(report.warnings)
    out.print(f"escalated: {doc['n_escalated']} item(s)"
              + (f", written to {escape(doc['escalations'])}" if "escalations" in doc else ""))
    _print_outputs(doc)


def _print_warnings(warnings: list[str]) -> None:
    from harness.judgments import human_text

    for w in warnings:
        err.print(f"[yellow]warning:[/] {escape(human_text(w))}", soft_wrap=True)


def _print_outputs(doc: dict[str, Any]) -> None:
    if "plot" in doc:
        out.print(f"agreement-coverage curve: {escape(doc['plot'])}")
    if "report" in doc:
        out.print(f"HTML report: {escape(doc['report'])}")
    if "mlflow" in doc:
        out.print(f"logged to MLflow run {doc['mlflow']['run_id']}")


def _cost(c: dict[str, Any]) -> str:
    """A stage's spend: ``21 calls, 3,400 tokens, $0.0123``; ``…, cost unknown`` for a model
    with no known price; the calls alone from a judgments file (it has neither tokens nor a
    cost)."""
    text = f"{c['calls']} calls"
    if c["input_tokens"] is not None:
        text += f", {c['input_tokens'] + c['output_tokens']:,} tokens"
    if c["cost"] is not None:
        text += f", {cost_text(c['cost'])}"
    elif c["input_tokens"] is not None:
        text += f", cost {cost_text(None)}"
    return text


def _print_cascade(report: CascadeReport, doc: dict[str, Any]) -> None:
    from harness.reports import share_text
    from harness.reports._selective_report import outcome_cells

    cal = report.calibration
    out.print(f"cascaded selective evaluation: {escape(' -> '.join(report.labels))} -> "
              f"humans; target agreement {report.target:g}; each stage tested at delta "
              f"{cal.stage_delta:g} ({'joint: ' if cal.joint else ''}the guarantee on all kept "
              f"items with probability at least {cal.union_confidence:g}); agreement: |judge - "
              f"consensus| <= {report.tolerance:g}", soft_wrap=True)
    table = Table(title="Per stage")
    for col in ("stage", "split", "threshold", "reached", "kept", "share of all",
                "agreement", "95% CI", "held", "cost"):
        table.add_column(col, justify="left" if col in ("stage", "split", "cost") else "right")
    for split, o in report.outcomes.items():
        for s, st in zip(doc[split]["stages"], o.stages, strict=True):
            lam = "none" if s["threshold"] is None else confidence_text(s["threshold"])
            table.add_row(f"{s['stage']}. {escape(s['label'])}", split, lam,
                          str(st.n_reached), str(st.outcome.n_kept), share_text(st.share_kept, 1),
                          *outcome_cells(st.outcome)[1:], _cost(s["cost"]))
    print_wide(table)
    table = Table(title="The cascade")
    for col in ("split", "items", "kept", "coverage", "agreement", "95% CI", "guarantee held",
                "to humans", "cost", "last stage alone"):
        table.add_column(col, justify="left" if col in ("split", "cost", "last stage alone")
                         else "right")
    for split, o in report.outcomes.items():
        d = doc[split]
        table.add_row(split, str(d["n"]), str(d["n_kept"]), *outcome_cells(o.overall),
                      f"{d['n_escalated']} ({share_text(d['escalated_share'], 1)})",
                      _cost(d["cost"]), _cost(d["cost_last_stage_alone"]))
    print_wide(table)
    _print_warnings(report.warnings)
    out.print(f"escalated to humans: {doc['n_escalated']} item(s)"
              + (f", written to {escape(doc['escalations'])}" if "escalations" in doc else ""))
    _print_outputs(doc)
