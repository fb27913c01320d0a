"""The calibration loop: judge, measure, log, stop or revise; then validate on the holdout."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from harness._locks import LockHeld, file_lock
from harness.anchors import AnchorSet, load_anchor_set
from harness.experiments import Experiment
from harness.gate import (
    Bar,
    BarResult,
    ceiling_of,
    direction,
    evaluate_bar,
    holdout_ledger,
    holdout_look_tags,
    plan_bar,
    record_look,
)
from harness.journal import Journal, canonical_json
from harness.judges import Judge, make_judge
from harness.judgments import (
    JudgeRun,
    build_judge,
    judge_anchors,
    resolve_prompt,
)
from harness.prompts import PromptVersion, load_prompt, load_prompt_file, mlflow_template
from harness.reports import (
    LOWER_IS_BETTER,
    AgreementReport,
    ReportSettings,
    agreement_report,
    bland_altman_plot,
    confusion_plot,
    iterations_plot,
    number_text,
    position,
    range_text,
    scatter_plot,
    signed_text,
    write_calibration_report,
)
from harness.tracking import (
    JudgeRecord,
    Tracker,
    judge_params,
    judge_tags,
    metrics_from_figures,
)

from ._disagree import analysis_markdown, analyze_disagreements
from ._revise import RevisionContext, make_reviser
from ._types import CalibrationResult, HoldoutRecord, IterationRecord

if TYPE_CHECKING:
    from ._scorecard import ScorecardCalibrationResult

T = TypeVar("T")

#: Calibration-holdout gap in the primary figure above which the anchors were overfitted.
OVERFIT_GAP = 0.10


# --------------------------------------------------------------------------- state


@dataclass
class LoopState:
    """What survives a kill: enough to continue the same calibration.

    Stored as JSON under ``<state dir>/calibrations/<experiment>.json`` and written after
    every step. Judgments themselves are in the journal, so re-judging a finished iteration
    costs no calls.
    """

    experiment: str
    config_hash: str
    status: str = "running"  # running | interrupted | awaiting_manual | finished
    parent_run_id: str | None = None
    start_version: str | None = None
    # per finished iteration: {"iteration", "version", "hash", "next_version"}
    iterations: list[dict[str, Any]] = field(default_factory=list)
    #: Why a finished calibration stopped, and its reports (read back by :func:`replay`).
    stop_reason: str | None = None
    report_html: str | None = None
    report_md: str | None = None

    @staticmethod
    def path_for(exp: Experiment) -> Path:
        return Path(exp.state.dir) / "calibrations" / f"{exp.name}.json"

    @staticmethod
    def lock_path(exp: Experiment) -> Path:
        """The lock file one running calibration of the experiment holds."""
        return Path(exp.state.dir) / "calibrations" / f"{exp.name}.lock"

    @classmethod
    def load(cls, exp: Experiment) -> LoopState | None:
        p = cls.path_for(exp)
        if not p.is_file():
            return None
        return cls(**json.loads(p.read_text()))

    def save(self, exp: Experiment) -> None:
        p = self.path_for(exp)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        os.replace(tmp, p)


def report_settings(exp: Experiment, aset: AnchorSet) -> ReportSettings:
    """The agreement report's settings of a calibration: the target's figure, and the
    scale's kind (a label question of a scorecard is compared by exact match).

    Parameters
    ----------
    exp : Experiment
    aset : AnchorSet
        The calibrated set (a one-criterion set or a scorecard question's view).

    Returns
    -------
    ReportSettings
    """
    kind = aset.spec.kind
    return ReportSettings(primary=exp.target.metric,
                          alt_test_epsilon=exp.target.alt_test_epsilon, scale_kind=kind,
                          alt_test_alignment="absolute" if kind == "numeric" else "exact")


def config_hash(exp: Experiment, aset: AnchorSet) -> str:
    """What must not change for a calibration to be continued."""
    relevant = exp.model_dump(mode="json", exclude={"budget", "run", "report"})
    payload = canonical_json({"experiment": relevant, "anchors": aset.content_hash})
    return hashlib.sha256(payload.encode()).hexdigest()


# --------------------------------------------------------------------------- helpers


def better(name: str, a: float | None, b: float | None) -> bool:
    """Whether figure value ``a`` is better than ``b`` (None is worst)."""
    if a is None:
        return False
    if b is None:
        return True
    return a < b if name in LOWER_IS_BETTER else a > b


def meets(name: str, value: float | None, bar: float) -> bool:
    if value is None:
        return False
    return value <= bar if name in LOWER_IS_BETTER else value >= bar


def target_met(primary: str, threshold: float, secondary: dict[str, float],
               figures: dict[str, Any]) -> bool:
    """Whether figures meet the target: the primary figure and every secondary bar.

    Parameters
    ----------
    primary : str
        The target's figure.
    threshold : float
        Its bar (a minimum, or a maximum for lower-is-better figures).
    secondary : dict of str to float
        Extra bars, figure -> bar.
    figures : dict of str to AgreementResult
        The version's figures.

    Returns
    -------
    bool
    """
    return meets(primary, figures[primary].value, threshold) and all(
        meets(name, figures[name].value, bar) for name, bar in secondary.items())


def plateaued(values: list[float | None], name: str, delta: float, patience: int) -> bool:
    """True when the last ``patience`` iterations improved the best value by < ``delta``."""
    if len(values) <= patience:
        return False
    sign = -1.0 if name in LOWER_IS_BETTER else 1.0
    def score(v: float | None) -> float:
        return -np.inf if v is None else sign * v
    before = max(score(v) for v in values[:-patience])
    recent = max(score(v) for v in values[-patience:])
    if not np.isfinite(recent):
        return True
    return recent - before < delta if np.isfinite(before) else False


def _run_metrics(summary: dict[str, Any], prefix: str) -> dict[str, float | None]:
    keys = ("n_requests", "n_cached", "n_invalid", "n_failed", "input_tokens",
            "output_tokens", "cost", "mean_latency_s")
    return {f"{prefix}{k}": summary[k] for k in keys}


class LoopStopped(Exception):
    """The run was stopped by its budget or a provider failure; everything is kept.

    Also raised when an iteration (or the holdout validation) has more invalid or failed
    judgments than ``[run] max_invalid`` allows: such a version never becomes the best
    version nor gets an alias; the state is kept, so a re-run continues.
    """


class CalibrationLocked(Exception):
    """Another process is running a calibration of the same experiment."""


# --------------------------------------------------------------------------- the loop


@dataclass
class _Context:
    exp: Experiment
    aset: AnchorSet
    judge: Judge
    journal: Journal
    settings: ReportSettings
    report_dir: Path
    console: Any
    show_progress: bool
    say: Callable[[str], None]
    human_report: AgreementReport | None = None
    holdout_human_report: AgreementReport | None = None


def calibrate(
    exp: Experiment,
    *,
    console: Any = None,
    show_progress: bool = True,
    judge: Judge | None = None,
    reviser_judge: Judge | None = None,
    say: Callable[[str], None] | None = None,
    restart: bool = False,
) -> CalibrationResult | ScorecardCalibrationResult:
    """Run the calibration loop of an experiment.

    One iteration judges the calibration split with the current prompt version, computes
    the agreement report and the disagreement analysis, logs everything to MLflow (a nested
    run under the calibration's parent run), checks the stop rules (threshold reached,
    plateau, iteration limit) and otherwise asks the reviser for the next version. At the
    end the best version is validated once on the holdout split, which no reviser ever sees.

    A calibration killed halfway is continued by calling this again with the same
    experiment: finished iterations are re-read from the journal (no calls) and the MLflow
    parent run is reopened. ``restart=True`` starts a new calibration instead.

    On a scorecard experiment (``harness.judgments.is_scorecard_experiment``) this is
    :func:`calibrate_scorecard`: every question with this loop, the worst first, and a
    :class:`ScorecardCalibrationResult`.
    """
    from harness.judgments import is_scorecard_experiment

    if is_scorecard_experiment(exp):
        from ._scorecard import calibrate_scorecard

        return calibrate_scorecard(exp, console=console, show_progress=show_progress,
                                   judge=judge, reviser_judge=reviser_judge, say=say,
                                   restart=restart)
    say = say or (lambda _msg: None)
    aset = load_anchor_set(exp.anchors.path, criterion=exp.anchors.criterion)
    return run_locked(exp, lambda: _calibrate(
        exp, aset, console=console, show_progress=show_progress, judge=judge,
        reviser_judge=reviser_judge, say=say, restart=restart))


def run_locked(exp: Experiment, run: Callable[[], T]) -> T:
    """``run()`` holding the experiment's calibration lock (one calibration at a time).

    Parameters
    ----------
    exp : Experiment
    run : callable
        The calibration, called with no arguments while the lock is held.

    Returns
    -------
    Whatever ``run`` returns.

    Raises
    ------
    CalibrationLocked
        Another process holds the lock (its holder and the lock file are named).
    """
    try:
        with file_lock(LoopState.lock_path(exp), wait=False, note=f"pid {os.getpid()}"):
            return run()
    except LockHeld as exc:
        raise CalibrationLocked(
            f"another calibration of {exp.name} is running"
            + (f", {exc.holder}" if exc.holder else "")
            + f" (lock {exc.path}); wait for it to end, or stop it, then run again"
        ) from None


def _calibrate(exp: Experiment, aset: AnchorSet, *, console: Any, show_progress: bool,
               judge: Judge | None, reviser_judge: Judge | None,
               say: Callable[[str], None], restart: bool) -> CalibrationResult:
    journal = Journal(exp.state.dir)
    chash = config_hash(exp, aset)
    state = None if restart else LoopState.load(exp)
    superseded: tuple[str, str] | None = None  # (run id, why) of an unfinished calibration
    if state is not None and (state.config_hash != chash or state.status == "finished"):
        if state.status != "finished" and state.parent_run_id:
            superseded = (state.parent_run_id, "the experiment's configuration or anchors "
                          "changed, so the calibration started again")
        state = None
    if restart:
        old = LoopState.load(exp)
        if old is not None and old.status != "finished" and old.parent_run_id:
            superseded = (old.parent_run_id, "the calibration was restarted (--restart)")
    if state is None:
        state = LoopState(experiment=exp.name, config_hash=chash)
    resuming = bool(state.iterations) or state.parent_run_id is not None

    judge = judge or build_judge(exp)
    secrets = [os.environ[n] for n in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY",
                                       exp.judge.api_key_env or "",
                                       exp.revision.api_key_env or "") if n and os.environ.get(n)]
    tracker = Tracker(exp.tracking.experiment_name or exp.name, exp.tracking.tracking_uri,
                      secrets=secrets)
    settings = report_settings(exp, aset)
    ctx = _Context(exp=exp, aset=aset, judge=judge, journal=journal, settings=settings,
                   report_dir=Path(exp.report.dir), console=console,
                   show_progress=show_progress, say=say)
    if exp.revision.strategy == "llm" and reviser_judge is None:
        r = exp.revision
        if r.provider is None or r.model is None:
            raise ValueError("[revision] strategy = 'llm' needs provider and model")
        reviser_judge = make_judge(r.provider, r.model, base_url=r.base_url,
                                   api_key_env=r.api_key_env)
    reviser = make_reviser(exp.revision.strategy, k=exp.revision.k,
                           max_examples=exp.revision.max_examples, judge=reviser_judge,
                           max_tokens=exp.revision.max_tokens,
                           temperature=exp.revision.temperature)

    # A resumed calibration replays its finished iterations from the journal (no calls),
    # taking the versions its revisions produced; a manual brief must have been answered.
    manual_next = None
    if state.status == "awaiting_manual":
        manual_next = _manual_next(exp, state.iterations[-1]["version"])
        if manual_next is None:
            raise ManualRevisionPending(exp, state.iterations[-1]["version"], Path(exp.report.dir))
    if state.start_version is None:
        state.start_version = resolve_prompt(exp, journal).label
    if exp.tracking.register_prompts:  # refused before any call, not at the first registration
        mlflow_template(resolve_prompt(exp, journal, state.start_version))
    version_label = state.start_version
    state.status = "running"

    params = {
        "experiment": exp.name, "anchor_set": aset.meta.name,
        "anchor_set_hash": aset.content_hash, "provider": exp.judge.provider,
        "model": exp.judge.model, "temperature": exp.judge.temperature,
        "samples": exp.scoring.samples, "reviser": exp.revision.strategy,
        "primary_metric": exp.target.metric, "threshold": exp.target.threshold,
        "max_iterations": exp.stopping.max_iterations, "prompt_name": exp.prompt.name,
        "start_version": state.start_version,
    }
    tags = {"judgecal.kind": "calibration", "judgecal.config_hash": chash,
            "judgecal.anchor_set_hash": aset.content_hash}
    iterations: list[IterationRecord] = []
    result = CalibrationResult(experiment=exp.name, primary=exp.target.metric,
                               threshold=exp.target.threshold, stop_reason="",
                               iterations=iterations, best=None,
                               tracking_uri=tracker.tracking_uri,
                               ui_command=tracker.ui_command(),
                               secondary=dict(exp.target.secondary))
    with tracker.start_calibration(exp.name, params=params, tags=tags,
                                   resume_run_id=state.parent_run_id) as crun:
        state.parent_run_id = crun.run_id
        result.parent_run_id = crun.run_id
        state.save(exp)
        if superseded is not None and superseded[0] != crun.run_id:
            tracker.supersede(superseded[0], crun.run_id, superseded[1])
            say(f"the unfinished calibration run {superseded[0]} was marked FAILED: "
                f"{superseded[1]} (new run {crun.run_id})")
        try:
            _iterate(ctx, crun, tracker, result, state, iterations, reviser, manual_next,
                     version_label, resuming)
        except LoopStopped as exc:
            crun.set_tags({"judgecal.stopped": str(exc)})
            state.save(exp)
            raise
        except BaseException as exc:
            if not isinstance(exc, Exception):  # SIGTERM, SIGINT: resumable
                state.status = "interrupted"
                state.save(exp)
                crun.set_tags({"judgecal.stopped": f"interrupted ({type(exc).__name__}: "
                               f"{exc}); run judgecal calibrate again to continue"})
            raise
    return result


def _iterate(ctx: _Context, crun: Any, tracker: Tracker, result: CalibrationResult,
             state: LoopState, iterations: list[IterationRecord], reviser: Any,
             manual_next: str | None, version_label: str, resuming: bool) -> None:
    exp, aset, journal, say = ctx.exp, ctx.aset, ctx.journal, ctx.say
    if resuming:
        say(f"continuing calibration {exp.name} (MLflow run {crun.run_id}) after "
            f"{len(state.iterations)} finished iteration(s)")
    done_runs = crun.finished_iterations()
    recorded = {d["iteration"]: d for d in state.iterations}

    for it in range(1, exp.stopping.max_iterations + 1):
        prompt = load_prompt(exp.prompt.name, version_label, prompts_dir=exp.prompt.dir,
                             journal=journal)
        say(f"iteration {it}: judging the calibration split with {prompt.name} "
            f"{prompt.label} ({prompt.hash[:12]})")
        rec = _judge_iteration(ctx, it, prompt)
        iterations.append(rec)
        values = [r.primary_value for r in iterations]
        passed = target_met(exp.target.metric, exp.target.threshold, exp.target.secondary,
                            rec.figures)
        stop = None
        if passed:
            stop = "threshold"
        elif plateaued(values, exp.target.metric, exp.stopping.plateau_delta,
                       exp.stopping.plateau_patience):
            stop = "plateau"
        elif it == exp.stopping.max_iterations:
            stop = "max_iterations"

        next_label = recorded.get(it, {}).get("next_version")
        if (next_label is None and manual_next is not None
                and it == len(state.iterations) and it in recorded):
            next_label, stop = manual_next, None  # the user answered the brief
            manual_next = None
        if stop is None and next_label is None:
            outcome = reviser.revise(RevisionContext(
                prompt=prompt, anchor_set=aset,
                calibration_items=tuple(aset.split("calibration").items),
                analysis=rec.analysis, iteration=it, prompts_dir=Path(exp.prompt.dir),
                brief_dir=ctx.report_dir,
            ))
            rec.revision = {"strategy": exp.revision.strategy, "message": outcome.message,
                            "diff": outcome.diff,
                            "new_version": outcome.new_version.label
                            if outcome.new_version else None,
                            "brief": str(outcome.brief_path) if outcome.brief_path
                            else None}
            say(f"  revision: {outcome.message}")
            if outcome.stop:
                stop = "manual" if exp.revision.strategy == "manual" else "nothing_to_revise"
            else:
                next_label = outcome.new_version.label
        elif next_label is not None:
            rec.revision = {"strategy": exp.revision.strategy, "resumed": True,
                            "new_version": next_label}

        if it not in done_runs:
            _log_iteration(crun, ctx, rec)
        if exp.tracking.register_prompts:
            tracker.register_prompt_version(
                prompt, commit_message=prompt.changelog,
                tags={"calibration_run": crun.run_id, "iteration": str(it),
                      **judge_tags(ctx.judge.identity(), judge_params(exp, prompt.scoring))},
            )
        entry = {"iteration": it, "version": prompt.label, "hash": prompt.hash,
                 "next_version": next_label if stop is None else None}
        state.iterations = [d for d in state.iterations if d["iteration"] != it] + [entry]
        if stop == "manual":
            state.status = "awaiting_manual"
        state.save(exp)
        if stop is not None:
            result.stop_reason = stop
            break
        version_label = next_label

    _finish(ctx, crun, tracker, result, state)


def replay(
    exp: Experiment,
    *,
    console: Any = None,
    show_progress: bool = True,
    judge: Judge | None = None,
    say: Callable[[str], None] | None = None,
) -> CalibrationResult | None:
    """The result of a finished calibration, read back without calling the judge.

    Every recorded iteration's version is judged again on the calibration split and the
    best one on the holdout split, all from the journal (no calls); nothing is logged to
    MLflow and the holdout ledger records no new look.

    Parameters
    ----------
    exp : Experiment
        A one-question experiment (or one question of a scorecard).
    console, show_progress, judge, say
        As for :func:`calibrate`.

    Returns
    -------
    CalibrationResult or None
        None when the experiment has no finished calibration of its current configuration
        and anchors (then :func:`calibrate` would start one).
    """
    aset = load_anchor_set(exp.anchors.path, criterion=exp.anchors.criterion)
    state = LoopState.load(exp)
    if (state is None or state.status != "finished" or not state.iterations
            or state.config_hash != config_hash(exp, aset)):
        return None
    journal = Journal(exp.state.dir)
    ctx = _Context(exp=exp, aset=aset, judge=judge or build_judge(exp), journal=journal,
                   settings=report_settings(exp, aset), report_dir=Path(exp.report.dir),
                   console=console, show_progress=show_progress,
                   say=say or (lambda _msg: None))
    tracker = Tracker(exp.tracking.experiment_name or exp.name, exp.tracking.tracking_uri)
    result = CalibrationResult(experiment=exp.name, primary=exp.target.metric,
                               threshold=exp.target.threshold,
                               stop_reason=state.stop_reason or "finished", iterations=[],
                               best=None, parent_run_id=state.parent_run_id,
                               tracking_uri=tracker.tracking_uri,
                               ui_command=tracker.ui_command(),
                               secondary=dict(exp.target.secondary))
    for entry in sorted(state.iterations, key=lambda d: d["iteration"]):
        prompt = load_prompt(exp.prompt.name, entry["version"], prompts_dir=exp.prompt.dir,
                             journal=journal)
        if prompt.hash != entry["hash"]:
            return None
        rec = _judge_iteration(ctx, entry["iteration"], prompt)
        if entry.get("next_version"):
            rec.revision = {"strategy": exp.revision.strategy, "resumed": True,
                            "new_version": entry["next_version"]}
        result.iterations.append(rec)
    result.best = best = _best(result.iterations, exp.target.metric)
    assert best is not None
    _, result.holdout = _holdout(ctx, best)
    _gap(result)
    _honesty_warnings(result)
    for attr in ("report_html", "report_md"):
        path = getattr(state, attr)
        if path and Path(path).is_file():
            setattr(result, attr, Path(path))
    return result


def _manual_next(exp: Experiment, last_label: str) -> str | None:
    """The version the user saved after a manual brief: a file whose parent is ``last``."""
    folder = Path(exp.prompt.dir) / exp.prompt.name
    last_n = int(last_label.lstrip("v"))
    for path in sorted(folder.glob("v*.j2"), key=lambda p: int(p.stem[1:])):
        pv = load_prompt_file(path)
        if pv.version > last_n and pv.parent == last_n:
            return pv.label
    return None


class ManualRevisionPending(Exception):
    """The manual reviser wrote a brief; the loop goes on once the user saves a version."""

    def __init__(self, exp: Experiment, last: str, brief_dir: Path) -> None:
        n = int(last.lstrip("v"))
        self.next_path = Path(exp.prompt.dir) / exp.prompt.name / f"v{n + 1}.j2"
        super().__init__(
            f"waiting for a manual revision: save {self.next_path} (parent: {n}) using the "
            f"brief in {brief_dir}, then run `judgecal calibrate` again"
        )


def _judge(ctx: _Context, split: str, prompt: PromptVersion, csv_name: str) -> JudgeRun:
    """Judge one split; a run that stopped or has too few valid judgments stops the loop.

    The judgments CSV is written either way (``<state>/runs/<experiment>/<csv_name>``), so
    the stop message can point at every error.
    """
    run = judge_anchors(ctx.exp, split=split, prompt_version=prompt.label, judge=ctx.judge,
                        show_progress=ctx.show_progress, console=ctx.console)
    csv_path = Path(ctx.exp.state.dir) / "runs" / ctx.exp.name / csv_name
    run.write_csv(csv_path)
    run.csv_path = csv_path
    reason = run.unusable_reason(ctx.exp.run.max_invalid)
    if reason is not None:
        raise LoopStopped(f"{reason}; every judgment and its error: {csv_path}")
    return run


def _report(ctx: _Context, run: JudgeRun, holdout: bool = False) -> AgreementReport:
    cached = ctx.holdout_human_report if holdout else ctx.human_report
    rep = agreement_report(run.table, judge_scores=run.judge_scores, settings=ctx.settings,
                           humans_from=cached)
    if holdout:
        ctx.holdout_human_report = ctx.holdout_human_report or rep
    else:
        ctx.human_report = ctx.human_report or rep
    return rep


def _judge_iteration(ctx: _Context, it: int, prompt: PromptVersion) -> IterationRecord:
    run = _judge(ctx, "calibration", prompt, f"iter{it}-{prompt.label}.csv")
    rep = _report(ctx, run)
    j = rep.judge
    consensus = np.asarray(run.table.consensus, dtype=float)
    analysis = analyze_disagreements(ctx.aset, run.table.item_ids, run.judge_scores, consensus)
    csv_path = run.csv_path
    return IterationRecord(
        iteration=it, prompt=prompt, primary=ctx.exp.target.metric, figures=j["figures"],
        ceiling=j["ceiling"], ceiling_method=j["ceiling_method"], run=run.summary(),
        analysis=analysis, item_ids=list(run.table.item_ids), judge_scores=run.judge_scores,
        consensus=consensus, scale=rep.scale, confusion=j["confusion"], judgments_csv=csv_path,
        human_range=_human_range(run.table.scores),
    )


def _human_range(scores: np.ndarray) -> np.ndarray:
    """Each item's lowest and highest human rating, shape (n_items, 2) (NaN: no rating)."""
    ratings = np.asarray(scores, dtype=float)
    out = np.full((ratings.shape[0], 2), np.nan)
    rated = ~np.isnan(ratings).all(axis=1)
    out[rated, 0] = np.nanmin(ratings[rated], axis=1)
    out[rated, 1] = np.nanmax(ratings[rated], axis=1)
    return out


def _log_iteration(crun: Any, ctx: _Context, rec: IterationRecord) -> None:
    exp = ctx.exp
    params = {"iteration": rec.iteration, "prompt_version": rec.prompt.label,
              "prompt_hash": rec.prompt.hash, "prompt_parent": rec.prompt.parent,
              "model": exp.judge.model, "provider": exp.judge.provider,
              "temperature": exp.judge.temperature, "scoring": rec.prompt.scoring,
              "anchor_set_hash": ctx.aset.content_hash, "reviser": exp.revision.strategy,
              "split": "calibration"}
    metrics = {**metrics_from_figures(rec.figures), **_run_metrics(rec.run, "")}
    with crun.iteration(rec.iteration, params=params,
                        tags={"prompt_version": rec.prompt.label}) as irun:
        rec.mlflow_run_id = irun.run_id
        irun.log_metrics(metrics, step=rec.iteration)
        irun.log_text(rec.prompt.text, f"prompt/{rec.prompt.name}-{rec.prompt.label}.j2")
        if rec.judgments_csv is not None:
            irun.log_artifact(rec.judgments_csv, "judgments")
        irun.log_text(analysis_markdown(rec.analysis, anchor_set=ctx.aset),
                      "disagreements.md")
        if rec.revision and rec.revision.get("diff"):
            irun.log_text(rec.revision["diff"], "revision.diff")
        title = f"{rec.prompt.label} on calibration"
        irun.log_figure(scatter_plot(rec.judge_scores, rec.consensus, rec.scale, title=title),
                        "plots/scatter.png")
        irun.log_figure(confusion_plot(rec.confusion), "plots/confusion.png")
        irun.log_figure(bland_altman_plot(rec.judge_scores, rec.consensus),
                        "plots/bland_altman.png")
    # the parent run carries the primary figure per iteration (step = iteration)
    crun.log_metrics({f"calibration_{k}": v for k, v in
                      metrics_from_figures({rec.primary: rec.primary_result}).items()},
                     step=rec.iteration)


def _best(iterations: list[IterationRecord], name: str) -> IterationRecord | None:
    best = None
    for rec in iterations:
        if best is None or better(name, rec.primary_value, best.primary_value):
            best = rec
    if best is not None and best.primary_value is None:
        return iterations[-1]
    return best


def _finish(ctx: _Context, crun: Any, tracker: Tracker, result: CalibrationResult,
            state: LoopState) -> None:
    exp = ctx.exp
    result.best = best = _best(result.iterations, exp.target.metric)
    if state.status == "awaiting_manual" or best is None:
        result.warnings.append("no holdout validation: the calibration is not finished")
    else:
        ctx.say(f"validating {best.prompt.label} once on the holdout split")
        run, hold = _holdout(ctx, best)
        result.holdout = hold
        # the holdout ledger: this calibration's one look at the holdout
        jparams = judge_params(exp, best.prompt.scoring)
        jhash = JudgeRecord.of(run.judge_identity, jparams).hash  # as the gate's
        looks = holdout_ledger(ctx.journal, ctx.aset, "holdout", best.prompt, jhash,
                               "calibrate")
        record_look(ctx.journal, ctx.aset, looks, best.prompt, jhash, "calibrate",
                    run_id=crun.run_id)
        if looks is not None:
            crun.set_tags(holdout_look_tags(looks))
        crun.set_tags({"judgecal.holdout_outcome": result.holdout.outcome})
        _gap(result)
        crun.log_metrics({f"holdout_{k}": v for k, v in
                          metrics_from_figures(hold.figures).items()},
                         step=best.iteration)
        if exp.tracking.register_prompts:
            reg = tracker.register_prompt_version(
                best.prompt, commit_message=best.prompt.changelog,
                tags={"calibration_run": crun.run_id,
                      **judge_tags(run.judge_identity, jparams)})
            tracker.set_prompt_alias(best.prompt.name, "candidate", reg)
            htags = {f"holdout_{k}": f"{v:.6g}" for k, v in
                     metrics_from_figures(hold.figures).items()}
            htags.update({"holdout_anchor_set_hash": ctx.aset.content_hash,
                          "holdout_items_hash": ctx.aset.items_hash("holdout"),
                          "holdout_n_items": str(len(run.table.item_ids)),
                          "calibration_run": crun.run_id})
            if looks is not None:
                htags.update(holdout_look_tags(looks))
            # the holdout figures' judge is the version's judge record, and the alias's
            htags.update(judge_tags(run.judge_identity, jparams))
            htags.update(judge_tags(run.judge_identity, jparams, alias="candidate"))
            tracker.set_prompt_version_tags(best.prompt.name, reg, htags)
    _honesty_warnings(result)
    crun.set_tags({"judgecal.stop_reason": result.stop_reason,
                   "judgecal.best_version": best.prompt.label if best else ""})
    if result.gap is not None:
        crun.log_metrics({"calibration_holdout_gap": result.gap},
                         step=best.iteration if best else 0)
    crun.log_figure(iterations_plot(result), "plots/agreement_by_iteration.png")
    html, md = write_calibration_report(result, ctx.report_dir,
                                        mlflow_link=tracker.run_link(crun.run_id))
    result.report_html, result.report_md = html, md
    crun.log_artifact(html, "report")
    crun.log_artifact(md, "report")
    crun.set_tags({"judgecal.report_html": str(html)})
    if state.status != "awaiting_manual":
        state.status = "finished"
    state.stop_reason = result.stop_reason
    state.report_html, state.report_md = str(html), str(md)
    state.save(exp)


def _holdout(ctx: _Context, best: IterationRecord) -> tuple[JudgeRun, HoldoutRecord]:
    """Judge the holdout split with the best version; its record with the target's verdict."""
    exp = ctx.exp
    run = _judge(ctx, "holdout", best.prompt, f"holdout-{best.prompt.label}.csv")
    rep = _report(ctx, run, holdout=True)
    j = rep.judge
    consensus = np.asarray(run.table.consensus, dtype=float)
    return run, HoldoutRecord(
        prompt=best.prompt, figures=j["figures"], ceiling=j["ceiling"],
        ceiling_method=j["ceiling_method"], run=run.summary(),
        item_ids=list(run.table.item_ids), judge_scores=run.judge_scores,
        consensus=consensus, confusion=j["confusion"],
        human_range=_human_range(run.table.scores),
        verdict=holdout_verdict(rep, run.judge_scores, consensus, exp.target.metric,
                                exp.target.threshold),
    )


def _gap(result: CalibrationResult) -> None:
    """The calibration–holdout gap in the primary figure, with a warning when the holdout
    is worse than the calibration split by more than :data:`OVERFIT_GAP` (in the figure's
    direction: lower is better for MAE, closer to zero for bias). A holdout that does
    better is no sign of overfitting."""
    from harness.reports import CLOSER_TO_ZERO_IS_BETTER

    if result.best is None or result.holdout is None:
        return
    cal = result.best.primary_value
    hold = result.holdout.figures[result.primary].value
    if cal is not None and hold is not None:
        result.gap = cal - hold
        name = result.primary
        if name in CLOSER_TO_ZERO_IS_BETTER:
            worse = abs(hold) - abs(cal)
        elif name in LOWER_IS_BETTER:
            worse = hold - cal
        else:
            worse = cal - hold
        if worse > OVERFIT_GAP:
            result.warnings.append(
                f"the holdout {name} is {number_text(worse)} worse than on the calibration "
                f"split (gap {signed_text(result.gap)}, more than {number_text(OVERFIT_GAP)}): "
                "the prompt may be overfitted to the calibration anchors"
            )


def holdout_verdict(report: AgreementReport, judge_scores: np.ndarray, consensus: np.ndarray,
                    metric: str, threshold: float) -> BarResult:
    """The target checked on the holdout CI, as the gate checks a bar (three outcomes).

    Parameters
    ----------
    report : AgreementReport
        The holdout report (its ``judge`` section, its gold check).
    judge_scores, consensus : ndarray
        The judge's holdout scores and the consensus, aligned by item (for the planner).
    metric : str
        The target figure.
    threshold : float
        The target: a minimum for higher-is-better figures, a maximum for MAE and |bias|.

    Returns
    -------
    BarResult
        ``harness.gate.evaluate_bar`` under ``lower-bound``, with about how many more anchors
        would decide it when inconclusive (``plan_bar``); inconclusive whatever the CI when
        the report finds the human gold unreliable (the gate's rule without
        ``--allow-unreliable-gold``).
    """
    assert report.judge is not None
    bar = Bar("min" if direction(metric) == "higher" else "max", metric, threshold)
    ceiling, method, pos = ceiling_of(report.judge, metric)
    confidence = report.settings.confidence
    verdict = evaluate_bar(bar, report.judge["figures"][metric], "lower-bound",
                           ceiling=ceiling, ceiling_method=method, position=pos,
                           confidence=confidence)
    gold = report.gold
    if gold is not None and not gold.reliable:
        verdict.outcome, verdict.passed = "inconclusive", False
        verdict.message = (f"the human gold is not reliable ({gold.reason}): a judge cannot be "
                           f"judged against it; on the CI alone: {verdict.message}")
        return verdict
    plan_bar(verdict, judge_scores, consensus, scale=report.scale, confidence=confidence)
    return verdict


def _honesty_warnings(result: CalibrationResult) -> None:
    best = result.best
    if best is None:
        return
    band = best.ceiling.get(result.primary, {})
    value = best.primary_value
    pos = position(result.primary, value, band, ci=best.primary_result.ci95)
    if pos == "unreliable":
        result.warnings.append(
            f"the judge is not compared with the humans: {band.get('gold_reason')}"
        )
    elif pos == "below":
        result.warnings.append(
            f"the best version's {result.primary} ({number_text(value)}) is below the human "
            f"range ({range_text(band['min'], band['max'])}): this judge is not a substitute "
            "for a human rater on these anchors"
        )
    scores = best.judge_scores[~np.isnan(best.judge_scores)]
    if scores.size and np.unique(scores).size == 1:
        result.warnings.append(
            f"the judge gave every calibration item the same score ({scores[0]:g})"
        )
