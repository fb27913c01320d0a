"""Running a gate: load the experiment and bars, look at the split, decide.

The orchestration only: :func:`load_gate` (experiment file + bars), :func:`run_gate` (one
look prepared, judged and decided: :mod:`._versions`, :mod:`._looks`, :mod:`._verdict`) and
:func:`check`, its pytest-facing call (:class:`GateFailed`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.anchors import AnchorError, load_anchor_set
from harness.experiments import Experiment, ExperimentError, load_experiment
from harness.judges import Judge
from harness.judgments import JudgmentsFile

from ._bars import BarError, GateSettings, gate_settings, holm_family
from ._errors import GateInputError
from ._looks import (
    check_servable,
    finish_look,
    judge_look,
    open_judgments,
    pick_judgments,
    prepare_look,
    prepare_recorded_look,
    probe_failures,
    rater_id,
    recorded_baseline,
)
from ._result import BaselineRun, GateResult
from ._verdict import Scored, baseline_figures, evaluate_bars, gate_report, loss_tests
from ._versions import the_gates_judge


def run_gate(
    exp: Experiment,
    settings: GateSettings,
    *,
    prompt: str | Sequence[str] | Mapping[str, str] | None = None,
    alias: str | None = None,
    offline: bool = False,
    allow_changed_anchors: bool = False,
    allow_judge_change: bool = False,
    n_resamples: int = 1000,
    command: str = "gate",
    show_progress: bool = False,
    console: Any = None,
    judge: Judge | None = None,
    fresh_holdout: bool = False,
    allow_unreliable_gold: bool = False,
    judgments: str | Path | JudgmentsFile | None = None,
    judgments_judge: str | None = None,
    judgments_criterion: str | None = None,
) -> GateResult:
    """Judge one split with a fixed prompt version and check the bars.

    Every check that can refuse the gate runs before any judge call: the version (and the
    baseline) must exist, its few-shot examples must not include holdout items, and the
    holdout items must be those it was calibrated on (the ``holdout_items_hash`` tag of its
    registry version) unless ``allow_changed_anchors``, and the version (and the baseline)
    must have been calibrated with the judge configured now (provider, model, endpoint,
    scoring mode and parameters: the ``judgecal.judge_hash`` tag) unless
    ``allow_judge_change``. Judgments come from the journal when it has them, so a re-run
    with nothing changed makes no call.

    Parameters
    ----------
    exp : Experiment
    settings : GateSettings
        From :func:`gate_settings`.
    prompt : str, sequence of str or mapping, optional
        The version (default: the experiment's). On a scorecard experiment (several
        questions, each with its own prompt): ``{"tone": "v2"}`` or ``["tone=v2"]`` per
        question (the others: the experiment's version), or a bare ``"v2"`` only when one
        question is judged (see :func:`harness.gate.run_scorecard_gate`).
    alias : str, optional
        A registry alias instead of ``prompt`` (on a scorecard: each question's prompt's).
    offline : bool
        No judge call may be made (any needed one: :class:`GateJudgeError`, naming the item).
    allow_changed_anchors : bool
        Gate even when the holdout items changed since calibration (a warning).
    allow_judge_change : bool
        Gate even when the version or the baseline was calibrated with another judge (a
        warning, and the result says so). A version with no judge record is gated with a
        warning.
    n_resamples : int
        Bootstrap resamples for the CIs (seeded: the same inputs give the same CIs).
    command : {"gate", "validate", "promote"}
        ``validate`` needs no bars and only warns about changed anchors.
    show_progress : bool
    console : rich.console.Console, optional
        Where the progress bar goes.
    judge : Judge, optional
        Default: :func:`gate_judge`.
    fresh_holdout : bool
        Assert that no other version (or judge) has been evaluated on this holdout; refused
        (exit 2) when one has.
    allow_unreliable_gold : bool
        Decide on the bars even when the report finds the human consensus unreliable
        (``report.gold.reliable`` False); without it such a gate is inconclusive (exit 4).
    judgments : str, Path or JudgmentsFile, optional
        Gate the judgments of a file instead of a prompt version
        (:func:`harness.judgments.read_judgments_file`): no provider is built or called,
        ``[judge]`` and ``[prompt]`` are not used, the judge is the file (its name and
        SHA-256). Only the split's items count; a split item missing from the file counts
        against ``max_invalid``. The prompt, anchors-since-calibration and judge checks do
        not apply (the result's ``checks`` say so); bars, the holdout ledger (keyed by the
        file's hash) and regression bars (``settings.baseline``: another judge of the file
        or another judgments file) do. Not with ``prompt``, ``alias`` or ``promote``.
    judgments_judge : str, optional
        The ``judge`` of the file to gate, when it has several.
    judgments_criterion : str, optional
        The file's ``criterion`` to read, when it has several and ``[anchors] criterion``
        does not name one (a scorecard reads each question's).

    Each bar ends pass, fail or inconclusive (:func:`evaluate_bar`); an inconclusive bar
    carries about how many more anchors would decide it (:func:`plan_bar`).

    Every evaluation of the holdout is recorded in the holdout ledger (the journal's
    ``holdout_looks``, and ``judgecal.holdout_looks`` on the version's registry tags when it
    is registered) once its figures are computed. With m distinct (version, judge) looks at
    this holdout, this one included, every CI of the result is computed at
    ``1 - 0.05 / m`` (:func:`holdout_confidence`): each look is another chance to ship a
    judge by luck.

    Returns
    -------
    GateResult

    Raises
    ------
    GateInputError
        Exit 2: no bars, unknown version or alias, a refused version (holdout examples,
        changed anchors, another judge), bad anchors, ``fresh_holdout`` on a holdout that
        other versions have looked at.
    GateJudgeError
        Exit 3: the provider failed, the budget ran out, a call was needed offline.
    """
    if command != "validate" and not settings.bars:
        raise GateInputError(
            "no bars to check: give --min METRIC=VALUE / --max METRIC=VALUE / "
            "--max-regression METRIC=DELTA, or a [gate] table in the experiment file"
        )
    if settings.on == "lower-bound" and n_resamples <= 0 and settings.bars:
        raise GateInputError("--on lower-bound (the default: the CI decides) needs "
                             "confidence intervals: --resamples > 0, or --on point")
    from ._scorecard import is_scorecard_gate, run_scorecard_gate

    source = None
    if judgments is not None:
        if prompt is not None or alias is not None:
            raise GateInputError("--judgments gates the judgments of a file, not a prompt "
                                 "version: drop --prompt/--alias")
        if command == "promote":
            raise GateInputError("promote sets a prompt version's alias; judgments from a "
                                 "file have no prompt version to promote (use gate)")
        source = open_judgments(judgments)
    elif judgments_judge is not None or judgments_criterion is not None:
        raise GateInputError("--judge and --criterion pick judgments in a --judgments file")
    if is_scorecard_gate(exp):
        return run_scorecard_gate(
            exp, settings, prompt=prompt, alias=alias, offline=offline,
            allow_changed_anchors=allow_changed_anchors,
            allow_judge_change=allow_judge_change, n_resamples=n_resamples, command=command,
            show_progress=show_progress, console=console, judge=judge,
            fresh_holdout=fresh_holdout, allow_unreliable_gold=allow_unreliable_gold,
            judgments=source, judgments_judge=judgments_judge,
            judgments_criterion=judgments_criterion)
    qualified = [b.name for b in settings.bars if b.criterion is not None]
    if qualified:
        raise GateInputError(
            f"bar {qualified[0]}: a bar qualified by a question (CRITERION.METRIC) needs a "
            f"scorecard experiment; {exp.anchors.path} is gated as one question: drop the "
            "qualifier (e.g. --min icc=0.7)")
    if isinstance(prompt, Mapping):
        raise GateInputError("--prompt QUESTION=VERSION is for a scorecard experiment; give "
                             "the version, e.g. --prompt v2")
    if isinstance(prompt, list | tuple):
        if len(prompt) > 1:
            raise GateInputError(f"--prompt given {len(prompt)} times: a one-question "
                                 "experiment gates one version")
        prompt = prompt[0] if prompt else None
    if isinstance(prompt, str) and "=" in prompt:
        raise GateInputError(f"--prompt {prompt}: QUESTION=VERSION is for a scorecard "
                             "experiment; give the version, e.g. --prompt v2")
    try:
        aset = load_anchor_set(exp.anchors.path, criterion=exp.anchors.criterion)
    except AnchorError as exc:
        raise GateInputError(str(exc)) from None
    if source is not None and settings.probes:
        raise GateInputError("bias probes are recorded for a prompt version and its live "
                             "judge: a gate on --judgments cannot check them (drop probes)")
    if source is not None:
        recorded = pick_judgments(source, judgments_judge, judgments_criterion,
                                  experiment_criterion=exp.anchors.criterion)
        look = prepare_recorded_look(
            exp, aset, settings.split, recorded, command=command, fresh_holdout=fresh_holdout,
            base_recorded=(recorded_baseline(source, settings.baseline, recorded)
                           if settings.baseline else None))
    else:
        judge = the_gates_judge(exp, judge, offline=offline)
        look = prepare_look(exp, aset, settings.split, prompt=prompt, alias=alias,
                            baseline=settings.baseline, judge=judge,
                            allow_changed_anchors=allow_changed_anchors,
                            allow_judge_change=allow_judge_change, command=command,
                            fresh_holdout=fresh_holdout)
    check_servable([look], command)
    run, base_run = judge_look(look, settings.split, judge, offline=offline,
                               show_progress=show_progress, console=console)
    report = gate_report(run.table, run.judge_scores, look.exp, aset.spec.kind,
                         n_resamples, look.confidence)
    report.judge["rater_id"] = rater_id(run, exp)
    baseline = (BaselineRun(look.base_ref, base_run,
                            baseline_figures(run.table, report, base_run.judge_scores))
                if base_run is not None and look.base_ref is not None else None)
    scores = Scored(run.table, run.judge_scores, report,
                    base_run.judge_scores if base_run is not None else None,
                    baseline.ref.label if baseline is not None else None,
                    baseline.figures if baseline is not None else None, look.confidence)
    tests = loss_tests(settings.bars, scores, on=settings.on, n_resamples=n_resamples)
    holm_family(tests.values())
    bars = evaluate_bars(settings.bars, scores, on=settings.on, tests=tests)
    finish_look(look, command)
    return GateResult(command=command, experiment=exp, settings=settings, version=look.ref,
                      run=run, report=report, bars=bars,
                      invalid=run.invalid_check(settings.max_invalid), baseline=baseline,
                      checks=look.checks, judge=look.jcheck, warnings=look.warnings,
                      holdout_looks=look.looks, allow_unreliable_gold=allow_unreliable_gold,
                      probe_failures=probe_failures(look) if settings.probes else [])


# --------------------------------------------------------------------------- one call


def load_gate(
    experiment: str | Path | Experiment,
    *,
    min: Mapping[str, float] | Iterable[str] | None = None,  # noqa: A002 - the option name
    max: Mapping[str, float] | Iterable[str] | None = None,  # noqa: A002 - the option name
    max_regression: Mapping[str, float] | Iterable[str] | None = None,
    on: str | None = None,
    max_invalid: float | None = None,
    baseline: str | None = None,
    split: str | None = None,
    probes: bool | None = None,
) -> tuple[Experiment, GateSettings]:
    """Load an experiment file and its gate settings, with extra bars merged in.

    Parameters
    ----------
    experiment : str, Path or Experiment
        The experiment file, or an experiment already loaded (e.g. with the command line's
        judge overrides).
    min, max, max_regression, on, max_invalid, baseline, split, probes
        As :func:`gate_settings`.

    Returns
    -------
    tuple of (Experiment, GateSettings)

    Raises
    ------
    GateInputError
        A bad file or bad bars.
    """
    try:
        exp = experiment if isinstance(experiment, Experiment) else load_experiment(experiment)
        source = exp.source if isinstance(experiment, Experiment) else experiment
        settings = gate_settings(exp.gate, min=min, max=max, max_regression=max_regression,
                                 on=on, max_invalid=max_invalid, baseline=baseline,
                                 split=split, probes=probes, source=f"{source} [gate]")
    except (ExperimentError, BarError) as exc:
        raise GateInputError(str(exc)) from None
    return exp, settings


class GateFailed(AssertionError):
    """A gate that did not pass; ``str()`` is the gate table.

    Attributes
    ----------
    result : GateResult
    """

    def __init__(self, result: GateResult, text: str) -> None:
        super().__init__(text)
        self.result = result


def check(
    experiment: str | Path,
    *,
    min: Mapping[str, float] | Iterable[str] | None = None,  # noqa: A002 - the option name
    max: Mapping[str, float] | Iterable[str] | None = None,  # noqa: A002 - the option name
    max_regression: Mapping[str, float] | Iterable[str] | None = None,
    baseline: str | None = None,
    on: str | None = None,
    max_invalid: float | None = None,
    split: str | None = None,
    prompt: str | None = None,
    alias: str | None = None,
    offline: bool = False,
    allow_changed_anchors: bool = False,
    allow_judge_change: bool = False,
    n_resamples: int = 1000,
    render: Callable[[GateResult], str] | None = None,
    fresh_holdout: bool = False,
    allow_unreliable_gold: bool = False,
    judgments: str | Path | None = None,
    judgments_judge: str | None = None,
) -> GateResult:
    """Run a gate from Python (what the ``judge_gate`` pytest fixture calls).

    Parameters
    ----------
    experiment : str or Path
        The experiment file; its ``[gate]`` bars apply, the ones given here add to them.
    min, max, max_regression : mapping, optional
        Bars, e.g. ``min={"spearman": 0.7}``, ``max={"mae": 0.9}``.
    baseline, on, max_invalid, split
        As the command-line options.
    prompt, alias : str, optional
        The version to gate (default: the experiment's).
    offline : bool
        Answer from the journal only.
    allow_changed_anchors : bool
    allow_judge_change : bool
        Gate a version (or compare with a baseline) calibrated with another judge.
    n_resamples : int
        Bootstrap resamples for the CIs.
    render : callable, optional
        Turns a failed result into the exception text (default: the plain-text gate table).
    fresh_holdout : bool
        Assert that no other version has been evaluated on this holdout (else exit 2).
    allow_unreliable_gold : bool
        Decide on the bars even when the human consensus is not reliable.
    judgments, judgments_judge : optional
        Gate the judgments of a file (and its judge) instead of a prompt version; see
        :func:`run_gate`.

    Returns
    -------
    GateResult
        When every bar passed.

    Raises
    ------
    GateFailed
        A bar failed or is inconclusive (``result.outcome`` says which), or too many
        judgments were invalid; the message is the gate table.
    GateError
        The gate could not run (``exit_code`` 2 or 3).
    """
    exp, settings = load_gate(experiment, min=min, max=max, max_regression=max_regression,
                              on=on, max_invalid=max_invalid, baseline=baseline, split=split)
    result = run_gate(exp, settings, prompt=prompt, alias=alias, offline=offline,
                      allow_changed_anchors=allow_changed_anchors,
                      allow_judge_change=allow_judge_change, n_resamples=n_resamples,
                      fresh_holdout=fresh_holdout,
                      allow_unreliable_gold=allow_unreliable_gold, judgments=judgments,
                      judgments_judge=judgments_judge)
    if not result.passed:
        if render is None:
            from ._outputs import table_text

            render = table_text
        raise GateFailed(result, render(result))
    return result
