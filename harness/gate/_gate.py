"""Running a gate: resolve the version, check it may be gated, judge, measure, decide."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from harness.agreement import AgreementResult, compare_to_reference, compare_to_references
from harness.anchors import AnchorError, AnchorSet, RatingsTable, load_anchor_set
from harness.experiments import Experiment, ExperimentError, load_experiment
from harness.journal import Journal
from harness.judges import FatalError, Judge, JudgeReply, JudgeRequest, ProviderError, make_judge
from harness.judgments import (
    JudgeRun,
    JudgmentsFile,
    JudgmentsFileError,
    RecordedJudge,
    judge_anchors,
    read_judgments_file,
    recorded_run,
    resolve_prompt,
    scoring_mode,
)
from harness.prompts import PromptError, PromptVersion, examples_in
from harness.reports import (
    AgreementReport,
    ReportSettings,
    agreement_report,
    like_for_like_references,
    primary_for,
)
from harness.tracking import JudgeRecord, judge_params, judge_record, judge_tags

from ._bars import (
    Bar,
    BarError,
    BarResult,
    GateSettings,
    LossTest,
    ceiling_of,
    evaluate_bar,
    evaluate_regression,
    gate_settings,
    holm_family,
)
from ._errors import GateError, GateInputError, GateJudgeError
from ._ledger import (
    _tag_look,
    holdout_ledger,
    holdout_look_tags,
    record_look,
)
from ._result import (
    BaselineRun,
    GateResult,
    HoldoutLooks,
    JudgeCheck,
    ScorecardGateResult,
    VersionRef,
)
from ._stats import loss_test, plan_bar

#: The registry alias ``promote`` sets.
PRODUCTION_ALIAS = "production"

_VERSION = re.compile(r"^v?\d+$")


# --------------------------------------------------------------------------- judges


class OfflineJudge(Judge):
    """A judge that may answer only from the journal: any call raises :class:`FatalError`.

    It has the wrapped judge's identity, so the journal keys are the same; the runner looks
    every task up in the journal first and only calls :meth:`complete` for a task that is
    not there, which then aborts the run (naming the item) before any request is sent.

    Parameters
    ----------
    inner : Judge
        The judge whose journaled replies may be used.
    """

    def __init__(self, inner: Judge) -> None:
        super().__init__(inner.model)
        self.inner = inner
        self.provider = inner.provider
        self.supports_logprobs = inner.supports_logprobs
        self.max_concurrency = inner.max_concurrency

    def identity(self) -> dict[str, Any]:
        """The wrapped judge's identity (the journal keys depend on it)."""
        return self.inner.identity()

    def bind_journal(self, journal: Any) -> None:
        """Bind the wrapped judge (its remembered endpoint mode becomes known here too)."""
        self.inner.bind_journal(journal)
        self.structured_used = self.inner.structured_used

    async def complete(self, request: JudgeRequest) -> JudgeReply:
        """Refuse: under ``--offline`` no judge call may be made."""
        raise FatalError(
            "offline: a judge call is needed (no journaled reply for this prompt, model, "
            "parameters and anchor text); run the gate once without --offline to fill the "
            "journal"
        )


def gate_judge(exp: Experiment, *, offline: bool = False) -> Judge:
    """The experiment's judge, built so that a run answered from the journal needs no key.

    The OpenAI and Anthropic judges read their API key only at the first call
    (``check_key=False``): a CI re-run with nothing changed needs neither key nor network.

    Parameters
    ----------
    exp : Experiment
    offline : bool
        Wrap the judge in :class:`OfflineJudge`.

    Returns
    -------
    Judge
    """
    j = exp.judge
    options = dict(j.options)
    if j.provider in ("openai", "anthropic"):
        options.setdefault("check_key", False)
    judge = make_judge(j.provider, j.model, base_url=j.base_url, api_key_env=j.api_key_env,
                       timeout_s=j.timeout_s, options=options)
    return OfflineJudge(judge) if offline else judge


# --------------------------------------------------------------------------- registry


class _Registry:
    """Lazy access to the MLflow Prompt Registry of an experiment (read only here)."""

    def __init__(self, exp: Experiment) -> None:
        self.exp = exp
        self._tracker: Any = None
        self.uri = os.environ.get("MLFLOW_TRACKING_URI") or exp.tracking.tracking_uri

    def exists(self) -> bool:
        """False when the store is a SQLite file that does not exist (nothing recorded)."""
        from harness.tracking._env import sqlite_path

        path = sqlite_path(self.uri)
        return path is None or path.is_file()

    def tracker(self) -> Any:
        if self._tracker is None:
            from harness.tracking import Tracker

            self._tracker = Tracker(self.exp.tracking.experiment_name or self.exp.name,
                                    self.exp.tracking.tracking_uri)
        return self._tracker

    def alias(self, name: str, alias: str) -> tuple[int, dict[str, str]] | None:
        if not self.exists():
            return None
        return self.tracker().prompt_version_for_alias(name, alias)

    def record(self, pv: PromptVersion) -> tuple[int, dict[str, str]] | None:
        """The registry version holding ``pv`` (same content hash) and its tags."""
        if not self.exists():
            return None
        tracker = self.tracker()
        number = tracker.find_prompt_version(pv.name, pv.hash)
        if number is None:
            return None
        return number, tracker.prompt_version_tags(pv.name, number)


def resolve_version(exp: Experiment, journal: Journal, registry: _Registry, *,
                    prompt: str | None = None, alias: str | None = None,
                    what: str = "--prompt") -> VersionRef:
    """Find the prompt version to gate: ``--prompt vN``, ``--alias NAME`` or the experiment's.

    Parameters
    ----------
    exp : Experiment
    journal : Journal
        For the check that a used version was not edited.
    registry : _Registry
    prompt : str, optional
        A version (``v2``, ``2``, ``latest``).
    alias : str, optional
        A registry alias; the local file must be the registered text (same hash).
    what : str
        The option named in messages.

    Returns
    -------
    VersionRef

    Raises
    ------
    GateInputError
        Unknown version or alias, a registered version whose local file differs.
    """
    if prompt is not None and alias is not None:
        raise GateInputError("give --prompt or --alias, not both")
    if alias is None:
        try:
            pv = resolve_prompt(exp, journal, prompt)
        except PromptError as exc:
            raise GateInputError(f"{what}: {exc}") from None
        return VersionRef(pv)
    try:
        found = registry.alias(exp.prompt.name, alias)
    except Exception as exc:  # noqa: BLE001 - any MLflow failure is an unusable input here
        raise GateInputError(f"alias {alias!r}: cannot read the MLflow Prompt Registry at "
                             f"{registry.uri}: {exc}") from None
    if found is None:
        raise GateInputError(
            f"alias {alias!r} of prompt {exp.prompt.name!r} not found in the MLflow Prompt "
            f"Registry at {registry.uri} (set by `judgecal calibrate` for 'candidate' and by "
            "`judgecal promote` for 'production')"
        )
    number, tags = found
    label = tags.get("judgecal_version")
    if not label:
        raise GateInputError(f"alias {alias!r} points at registry version {number}, which has "
                             "no judgecal_version tag (not registered by judgecal)")
    try:
        pv = resolve_prompt(exp, journal, label)
    except PromptError as exc:
        raise GateInputError(f"alias {alias!r} -> {label}: {exc}") from None
    if tags.get("content_hash") and tags["content_hash"] != pv.hash:
        raise GateInputError(
            f"alias {alias!r} points at {exp.prompt.name} {label} (registry version {number}, "
            f"hash {tags['content_hash'][:12]}), but {pv.path} has hash {pv.hash[:12]}: the "
            "local file is not the registered version"
        )
    return VersionRef(pv, alias=alias, registry_version=number, tags=tags)


def _baseline_ref(exp: Experiment, journal: Journal, registry: _Registry, baseline: str
                  ) -> VersionRef:
    if _VERSION.match(baseline) or baseline == "latest":
        return resolve_version(exp, journal, registry, prompt=baseline, what="--baseline")
    return resolve_version(exp, journal, registry, alias=baseline, what="--baseline")


# --------------------------------------------------------------------------- checks


def check_examples(pv: PromptVersion, aset: AnchorSet) -> list[str]:
    """The holdout item ids among the few-shot examples embedded in a version.

    Parameters
    ----------
    pv : PromptVersion
    aset : AnchorSet

    Returns
    -------
    list of str
        Sorted; empty when the version shows no holdout item.
    """
    holdout = {it.id for it in aset.items if it.split == "holdout"}
    return sorted({str(ex.get("id")) for ex in examples_in(pv)} & holdout)


def _check_anchors(ref: VersionRef, record: tuple[int, dict[str, str]] | None,
                   aset: AnchorSet, split: str, allow_changed: bool,
                   warnings: list[str], uri: str, command: str) -> dict[str, Any]:
    current = aset.items_hash("holdout")
    out: dict[str, Any] = {"holdout_items_hash": current, "recorded_holdout_items_hash": None,
                           "registry_version": None}
    if split == "calibration":
        out["anchors"] = "not checked (calibration split)"
        return out
    if record is None:
        out["anchors"] = "no calibration record"
        warnings.append(
            f"no calibration record for {ref.prompt.name} {ref.label} in MLflow ({uri}): "
            "cannot check that the holdout items are unchanged since it was calibrated"
        )
        return out
    number, tags = record
    out["registry_version"] = number
    recorded = tags.get("holdout_items_hash")
    out["recorded_holdout_items_hash"] = recorded
    if not recorded:
        out["anchors"] = "no calibration record"
        warnings.append(
            f"{ref.prompt.name} {ref.label} is registry version {number} but has no calibration "
            "record (no holdout_items_hash tag): cannot check that the holdout items are "
            "unchanged since it was calibrated"
        )
        return out
    if recorded == current:
        out["anchors"] = "unchanged"
        return out
    text = (f"the holdout items of {aset.path} changed since {ref.prompt.name} {ref.label} was "
            f"calibrated (recorded hash {recorded[:12]}, now {current[:12]})")
    if not allow_changed:
        raise GateInputError(
            f"{text}: its holdout figures are not comparable with the calibration record. "
            "Calibrate again, or pass --allow-changed-anchors to gate anyway"
        )
    out["anchors"] = "changed (allowed)"
    warnings.append(f"{text}; its figures are not comparable with the calibration record"
                    if command == "validate"
                    else f"{text}; gating anyway (--allow-changed-anchors)")
    return out


def _judge_now(exp: Experiment, judge: Judge, pv: PromptVersion
               ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The identity and parameters of ``judge`` judging ``pv`` with the experiment's settings."""
    try:
        mode = scoring_mode(exp, pv)
    except PromptError as exc:
        raise GateInputError(str(exc)) from None
    return dict(judge.identity()), judge_params(exp, mode)


def _check_judge(what: str, tags: Mapping[str, str] | None, alias: str | None,
                 now: JudgeRecord, allow: bool, warnings: list[str], *,
                 baseline: bool = False) -> tuple[str, list[str]]:
    """Compare the judge a version was calibrated with (its registry tags) with ``now``.

    Returns the status and the differences; raises :class:`GateInputError` naming them
    when the judge changed and ``allow`` is false.
    """
    if tags is None:
        return "no calibration record", []
    recorded = judge_record(tags, alias=alias)
    judge_now = ":".join(now.fields.get(k, "?") for k in ("provider", "model"))
    if recorded is None:
        warnings.append(
            f"{what} has no judge record (registered before judgecal recorded the judge): "
            f"cannot check that it was calibrated with this judge ({judge_now})"
        )
        return "no judge record", []
    diff = recorded.differences(now)
    if not diff:
        return "unchanged", []
    text = (f"{what} was {'judged' if baseline else 'calibrated'} with another judge than "
            f"the one configured now: {'; '.join(diff)}")
    if not allow:
        why = ("a regression against it would compare two prompts on this judge, not this "
               "judge against the baseline's; pass --allow-judge-change to compare anyway"
               if baseline else
               "the same prompt with another model, endpoint or parameters is another judge, "
               "and its calibration says nothing about this one. Calibrate it with this "
               "judge, or pass --allow-judge-change to gate anyway")
        raise GateInputError(f"{text}. {why[0].upper()}{why[1:]}")
    warnings.append(f"{text}; gating anyway (--allow-judge-change)")
    return "changed (allowed)", diff


def _ref_name(ref: VersionRef) -> str:
    via = f" (alias {ref.alias})" if ref.alias else ""
    reg = f", registry version {ref.registry_version}" if ref.registry_version else ""
    return f"{ref.prompt.name} {ref.label}{via}{reg}"


# --------------------------------------------------------------------------- running


def _judge_split(exp: Experiment, split: str, ref: VersionRef, judge: Judge, *,
                 offline: bool, show_progress: bool, console: Any) -> JudgeRun:
    from harness.judges import RunAborted

    try:
        run = judge_anchors(exp, split=split, prompt_version=ref.label, judge=judge,
                            show_progress=show_progress, console=console)
    except (AnchorError, PromptError) as exc:
        raise GateInputError(str(exc)) from None
    except RunAborted as exc:
        m = re.search(r"on item '(.+?)' sample (\d+): offline:", str(exc))
        if offline and m:
            raise GateJudgeError(
                f"--offline: a judge call is needed for item {m.group(1)!r} (sample "
                f"{m.group(2)}) of {ref.prompt.name} {ref.label} on the {split} split: the "
                "journal has no reply for this prompt, model, parameters and anchor text. "
                "No call was made; run once without --offline to fill the journal"
            ) from None
        raise GateJudgeError(str(exc)) from None
    except ProviderError as exc:
        raise GateJudgeError(str(exc)) from None
    except ValueError as exc:  # e.g. max_cost for a model without a price
        raise GateInputError(str(exc)) from None
    reason = run.unusable_reason()  # the invalid share is a bar of its own
    if reason is not None:
        raise GateJudgeError(reason)
    return run


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
        judge = judge or gate_judge(exp, offline=offline)
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


def probe_failures(look: Look) -> list[str]:
    """Why the version and judge of ``look`` fail the gate on bias probes: the latest
    recorded must-pass probes (``judgecal probe``) that failed, or were never run."""
    from harness.probes import probe_gate_reasons

    assert look.jcheck is not None
    return probe_gate_reasons(look.journal, look.ref.prompt.hash, look.jcheck.hash)


@dataclass
class Look:
    """One version's gate before anything is judged: resolved, checked, in the ledger.

    Attributes
    ----------
    exp : Experiment
        The (one-question) experiment.
    aset : AnchorSet
        Its anchors (every split).
    journal : Journal
    registry : _Registry
    ref, base_ref : VersionRef
        The version gated and the baseline (None without regression bars).
    record : tuple, optional
        The version's registry number and tags.
    checks : dict
    jcheck : JudgeCheck
    looks : HoldoutLooks, optional
    warnings : list of str
    recorded, base_recorded : RecordedJudge, optional
        With ``--judgments``: the file whose judgments stand for the version's run (and the
        baseline's); ``ref`` and ``base_ref`` then hold their stand-ins
        (:meth:`RecordedJudge.as_prompt`).
    """

    exp: Experiment
    aset: AnchorSet
    journal: Journal
    registry: _Registry
    ref: VersionRef
    base_ref: VersionRef | None
    record: tuple[int, dict[str, str]] | None
    checks: dict[str, Any]
    jcheck: JudgeCheck
    looks: HoldoutLooks | None
    warnings: list[str]
    recorded: RecordedJudge | None = None
    base_recorded: RecordedJudge | None = None

    @property
    def confidence(self) -> float:
        """The confidence of this look's CIs (tightened by the holdout ledger)."""
        return self.looks.confidence if self.looks is not None else 0.95


def check_servable(looks: Iterable[Look], command: str) -> None:
    """Before ``promote`` judges anything: every version must translate to MLflow's chat
    form (:func:`harness.prompts.mlflow_template`), or the alias could not serve it."""
    if command != "promote":
        return
    from harness.prompts import mlflow_template

    for look in looks:
        try:
            mlflow_template(look.ref.prompt)
        except PromptError as exc:
            raise GateInputError(f"{exc} (promote registers the version in MLflow's chat "
                                 "form, which an application loads with plain MLflow)"
                                 ) from None


def prepare_look(exp: Experiment, aset: AnchorSet, split: str, *, prompt: str | None,
                 alias: str | None, baseline: str | None, judge: Judge,
                 allow_changed_anchors: bool, allow_judge_change: bool, command: str,
                 fresh_holdout: bool) -> Look:
    """Every check that can refuse a version, before any judge call (see :func:`run_gate`).

    Returns
    -------
    Look

    Raises
    ------
    GateInputError
    """
    journal = Journal(exp.state.dir)
    registry = _Registry(exp)
    warnings: list[str] = []
    ref = resolve_version(exp, journal, registry, prompt=prompt, alias=alias)
    base_ref = _baseline_ref(exp, journal, registry, baseline) if baseline else None

    leaked = check_examples(ref.prompt, aset)
    if leaked:
        raise GateInputError(
            f"{ref.prompt.path}: the few-shot examples of {ref.label} include holdout item(s) "
            f"{', '.join(leaked)}: a version that has seen holdout items cannot be validated on "
            "them (the fewshot reviser only uses calibration items; fix the version)"
        )
    if base_ref is not None and check_examples(base_ref.prompt, aset):
        warnings.append(f"the baseline {base_ref.label} embeds holdout items as examples: its "
                        "holdout figures are optimistic")
    try:
        record = (ref.registry_version, ref.tags) if ref.tags is not None \
            else registry.record(ref.prompt)
    except Exception as exc:  # noqa: BLE001 - an unreadable store is reported, not fatal
        record = None
        warnings.append(f"cannot read the MLflow Prompt Registry at {registry.uri}: {exc}")
    if ref.registry_version is None and record is not None:
        ref.registry_version, ref.tags = record
    checks = _check_anchors(ref, record, aset, split,
                            allow_changed_anchors or command == "validate", warnings,
                            registry.uri, command)
    checks["holdout_examples"] = "none"

    identity, params = _judge_now(exp, judge, ref.prompt)
    now = JudgeRecord.of(identity, params)
    jcheck = JudgeCheck(identity, params, now.hash)
    jcheck.status, jcheck.differences = _check_judge(
        _ref_name(ref), record[1] if record is not None else None, ref.alias, now,
        allow_judge_change, warnings)
    if base_ref is not None:
        try:
            base_record = ((base_ref.registry_version, base_ref.tags)
                           if base_ref.tags is not None else registry.record(base_ref.prompt))
        except Exception as exc:  # noqa: BLE001 - an unreadable store is reported, not fatal
            base_record = None
            warnings.append(f"cannot read the MLflow Prompt Registry at {registry.uri}: {exc}")
        if base_ref.registry_version is None and base_record is not None:
            base_ref.registry_version, base_ref.tags = base_record
        jcheck.baseline_status, jcheck.baseline_differences = _check_judge(
            f"the baseline {_ref_name(base_ref)}",
            base_record[1] if base_record is not None else None, base_ref.alias,
            JudgeRecord.of(*_judge_now(exp, judge, base_ref.prompt)), allow_judge_change,
            warnings,
            baseline=True)
    checks["judge"] = jcheck.status
    looks = holdout_ledger(journal, aset, split, ref.prompt, jcheck.hash, command,
                           fresh_holdout=fresh_holdout)
    return Look(exp, aset, journal, registry, ref, base_ref, record, checks, jcheck, looks,
                warnings)


def judge_look(look: Look, split: str, judge: Judge | None, *, offline: bool, show_progress: bool,
               console: Any) -> tuple[JudgeRun, JudgeRun | None]:
    """Judge the split with the look's version (and its baseline); run warnings added.

    A look on a judgments file (``look.recorded``) reads its runs from the file
    (:func:`harness.judgments.recorded_run`) and calls nothing; ``judge`` may be None then.
    """
    if look.recorded is not None:
        run = _recorded_split(look, split, look.recorded)
        base_run = (_recorded_split(look, split, look.base_recorded)
                    if look.base_recorded is not None else None)
        look.warnings.extend(run.warnings)
        return run, base_run
    assert judge is not None
    run = _judge_split(look.exp, split, look.ref, judge, offline=offline,
                       show_progress=show_progress, console=console)
    base_run = (_judge_split(look.exp, split, look.base_ref, judge, offline=offline,
                             show_progress=show_progress, console=console)
                if look.base_ref is not None else None)
    look.warnings.extend(run.warnings)
    return run, base_run


def open_judgments(judgments: str | Path | JudgmentsFile) -> JudgmentsFile:
    """A judgments file read (``--judgments FILE``), its errors as input errors.

    Parameters
    ----------
    judgments : str, Path or JudgmentsFile
        A file (judgecal's ``judge --out`` CSV, a long CSV or JSONL), ``FORMAT:FILE``, or
        one already read.

    Returns
    -------
    JudgmentsFile

    Raises
    ------
    GateInputError
        ``path:line: message`` (exit 2).
    """
    if isinstance(judgments, JudgmentsFile):
        return judgments
    try:
        return read_judgments_file(judgments)
    except JudgmentsFileError as exc:
        raise GateInputError(str(exc)) from None


def pick_judgments(source: JudgmentsFile, judge: str | None, criterion: str | None, *,
                   experiment_criterion: str | None = None, what: str = "--judgments"
                   ) -> RecordedJudge:
    """:meth:`JudgmentsFile.pick`, its errors as input errors naming ``what``."""
    try:
        return source.pick(judge, criterion, experiment_criterion=experiment_criterion)
    except JudgmentsFileError as exc:
        raise GateInputError(f"{what}: {exc}") from None


def recorded_baseline(source: JudgmentsFile, baseline: str, recorded: RecordedJudge
                      ) -> RecordedJudge:
    """The baseline of a gate on a judgments file: another judge of the same file, or
    another judgments file, on the same criterion (no prompt version is judged).

    Raises
    ------
    GateInputError
        ``baseline`` is neither (naming the file's judges).
    """
    if baseline in source.judges:
        return pick_judgments(source, baseline, recorded.criterion, what="--baseline")
    fmt, sep, _ = baseline.partition(":")
    if Path(baseline).is_file() or (sep and fmt.isidentifier()):
        other = open_judgments(baseline)
        return pick_judgments(other, None, recorded.criterion if other.criteria else None,
                              what="--baseline")
    judges = f"its judges: {', '.join(source.judges)}" if source.judges else "it has no " \
        "judge column"
    raise GateInputError(
        f"--baseline {baseline}: with --judgments no prompt version is judged; the baseline "
        f"is another judge of {source.path} ({judges}) or another judgments file")


def prepare_recorded_look(exp: Experiment, aset: AnchorSet, split: str,
                          recorded: RecordedJudge, *, base_recorded: RecordedJudge | None,
                          command: str, fresh_holdout: bool) -> Look:
    """The look of a judgments file: no prompt, registry or judge check applies.

    The file stands where a version stands (:meth:`RecordedJudge.as_prompt`: its name, its
    SHA-256 as label and hash), so the holdout ledger keys the look by the file's hash and
    the identity of the judge picked in it; its checks say what was not checked, and a
    warning says where the judgments come from.

    Raises
    ------
    GateInputError
        ``fresh_holdout`` on a holdout other versions or files have looked at.
    """
    journal = Journal(exp.state.dir)
    not_checked = "not checked (judgments from a file)"
    ref = VersionRef(recorded.as_prompt(aset))
    base_ref = VersionRef(base_recorded.as_prompt(aset)) if base_recorded is not None else None
    checks: dict[str, Any] = {
        "holdout_items_hash": aset.items_hash("holdout"), "recorded_holdout_items_hash": None,
        "registry_version": None, "anchors": not_checked, "holdout_examples": not_checked,
        "prompt": f"not checked ({recorded.describe()})", "judgments": recorded.to_dict(),
    }
    if base_recorded is not None:
        checks["baseline_judgments"] = base_recorded.to_dict()
    identity, params = recorded.identity(), recorded.params(exp)
    jcheck = JudgeCheck(identity, params, JudgeRecord.of(identity, params).hash,
                        status=not_checked,
                        baseline_status=not_checked if base_recorded is not None else None)
    looks = holdout_ledger(journal, aset, split, ref.prompt, jcheck.hash, command,
                           fresh_holdout=fresh_holdout)
    return Look(exp, aset, journal, _Registry(exp), ref, base_ref, None, checks, jcheck,
                looks, [], recorded=recorded, base_recorded=base_recorded)


def _recorded_split(look: Look, split: str, recorded: RecordedJudge) -> JudgeRun:
    try:
        run = recorded_run(look.exp, look.aset, split, recorded)
    except JudgmentsFileError as exc:
        raise GateInputError(str(exc)) from None
    reason = run.unusable_reason()  # the invalid share is a bar of its own
    if reason is not None:
        raise GateJudgeError(reason)
    return run


def rater_id(run: JudgeRun, exp: Experiment) -> str:
    """The judge's name in the report: ``provider:model`` (``file:NAME`` for a file)."""
    if run.scoring.get("mode") == "recorded":
        return f"{run.judge_identity.get('provider')}:{run.judge_identity.get('model')}"
    return f"{run.judge_identity['provider']}:{exp.judge.model}"


def finish_look(look: Look, command: str) -> None:
    """Record the look in the holdout ledger (and on the version's registry tags)."""
    record_look(look.journal, look.aset, look.looks, look.ref.prompt, look.jcheck.hash,
                command)
    _tag_look(look.registry, look.looks, look.ref.prompt, look.record, look.warnings)


def gate_report(table: RatingsTable, judge_scores: np.ndarray, exp: Experiment, kind: str,
                n_resamples: int, confidence: float) -> AgreementReport:
    """The agreement report a gate decides on, with the scale's own primary figure.

    Parameters
    ----------
    table : RatingsTable
    judge_scores : ndarray
    exp : Experiment
        ``[target] metric`` (the primary of numeric scales) and ``alt_test_epsilon``.
    kind : {"numeric", "ordinal", "nominal"}
        The criterion's kind (``AnchorSet.spec.kind``); label scales use κ or percent
        agreement as the primary figure and exact-match alt-test
        (:func:`harness.reports.primary_for`), as ``agree`` on a scorecard does.
    n_resamples : int
    confidence : float

    Returns
    -------
    AgreementReport
    """
    settings = gate_report_settings(table, exp, kind, n_resamples, confidence)
    report = agreement_report(table, judge_scores=judge_scores, settings=settings)
    assert report.judge is not None
    return report


def gate_report_settings(table: RatingsTable, exp: Experiment, kind: str, n_resamples: int,
                         confidence: float) -> ReportSettings:
    """The report settings of :func:`gate_report` (shared with a leaderboard of judges)."""
    scale = table.scale or (0.0, 1.0)
    settings = ReportSettings(n_resamples=max(0, n_resamples), confidence=confidence,
                              primary=primary_for(kind, scale, exp.target.metric),
                              alt_test_epsilon=exp.target.alt_test_epsilon,
                              scale_kind=kind)
    if kind != "numeric":
        settings = replace(settings, alt_test_alignment="exact")
    return settings


def baseline_figures(table: RatingsTable, report: AgreementReport,
                     base_scores: np.ndarray) -> dict[str, AgreementResult]:
    """The baseline's figures on the candidate's footing: against the leave-one-out
    references a human met (the consensus when there are none)."""
    refs, _ = like_for_like_references(table, report.human["raters"],
                                       seed=report.settings.seed)
    if refs.shape[1]:
        return compare_to_references(base_scores, refs, scale=report.scale, n_resamples=0)
    return compare_to_reference(base_scores, np.asarray(table.consensus, dtype=float),
                                scale=report.scale, n_resamples=0)


@dataclass
class Scored:
    """What a part of a gate measured: the judge's scores against the humans' table.

    Attributes
    ----------
    table : RatingsTable
    scores : ndarray
        The judge's scores aligned with ``table``.
    report : AgreementReport
    base_scores : ndarray, optional
        The baseline's scores (regression bars).
    base_label : str, optional
    base_figures : dict, optional
        The baseline's figures (:func:`baseline_figures`).
    confidence : float
    """

    table: RatingsTable
    scores: np.ndarray
    report: AgreementReport
    base_scores: np.ndarray | None
    base_label: str | None
    base_figures: dict[str, AgreementResult] | None
    confidence: float

    @property
    def consensus(self) -> np.ndarray:
        return np.asarray(self.table.consensus, dtype=float)


def loss_tests(bars: list[Bar], scored: Scored, *, on: str, n_resamples: int,
               family: int | None = None) -> dict[Bar, LossTest | None]:
    """The paired test of every regression bar (not yet Holm-adjusted: :func:`holm_family`).

    ``family``: how many regression bars are tested together (default: those in ``bars``).
    """
    regressions = [bar for bar in bars if bar.kind == "max_regression"]
    if not regressions or on == "point":
        return {}
    assert scored.base_scores is not None
    return {bar: loss_test(bar.metric, scored.scores, scored.base_scores, scored.consensus,
                           scale=scored.report.scale, n_resamples=n_resamples,
                           confidence=scored.confidence, family=family or len(regressions))
            for bar in regressions}


def evaluate_bars(bars: list[Bar], scored: Scored, *, on: str,
                  tests: Mapping[Bar, LossTest | None]) -> list[BarResult]:
    """Every bar's outcome on one measured part (:func:`evaluate_bar`,
    :func:`evaluate_regression`; inconclusive bars planned with :func:`plan_bar`)."""
    report, consensus, confidence = scored.report, scored.consensus, scored.confidence
    assert report.judge is not None
    out: list[BarResult] = []
    for bar in bars:
        ceiling, method, pos = ceiling_of(report.judge, bar.metric)
        if bar.kind == "max_regression":
            assert scored.base_scores is not None and scored.base_label is not None
            cand_scores, base_scores = scored.scores, scored.base_scores
            both = ~np.isnan(cand_scores) & ~np.isnan(base_scores)
            c = compare_to_reference(np.where(both, cand_scores, np.nan), consensus,
                                     scale=report.scale, n_resamples=0)[bar.metric]
            b = compare_to_reference(np.where(both, base_scores, np.nan), consensus,
                                     scale=report.scale, n_resamples=0)[bar.metric]
            out.append(evaluate_regression(bar, c, b, baseline=scored.base_label,
                                           n_items=int(both.sum()), on=on,
                                           test=tests.get(bar), ceiling=ceiling,
                                           ceiling_method=method, confidence=confidence))
        else:
            figs = scored.base_figures
            out.append(evaluate_bar(
                bar, report.judge["figures"][bar.metric], on, ceiling=ceiling,
                ceiling_method=method, position=pos, baseline=scored.base_label,
                baseline_figure=figs.get(bar.metric) if figs else None,
                confidence=confidence,
            ))
            plan_bar(out[-1], scored.scores, consensus, scale=report.scale,
                     confidence=confidence)
    return out


def promote(result: GateResult | ScorecardGateResult, *,
            alias: str = PRODUCTION_ALIAS) -> dict[str, Any]:
    """Point the registry alias (``production``) at the gated version; only after a pass.

    The version is registered first when it is not (idempotent: same content hash, same
    registry version), and tagged with the gate's verdict and the judge it was gated with
    (:func:`harness.tracking.judge_tags` with ``alias``: ``judgecal.alias.production.judge.*``).
    On a scorecard, every judged question's version is promoted (each on its own prompt's
    alias), only when the whole scorecard gate passed; every version is checked to
    translate to MLflow's chat form before any alias moves, and each is tagged with the
    scorecard and all of its bars.

    Parameters
    ----------
    result : GateResult or ScorecardGateResult
        A gate that passed.
    alias : str

    Returns
    -------
    dict
        ``alias``, ``name``, ``version``, ``registry_version``, ``tracking_uri``; on a
        scorecard ``alias``, ``tracking_uri`` and ``questions`` (question id -> ``name``,
        ``version``, ``registry_version``).

    Raises
    ------
    GateError
        When the gate did not pass (nothing is changed).
    PromptError
        A version MLflow cannot render like judgecal (nothing is changed).
    """
    if not result.passed:
        raise GateError(f"the gate did not pass: alias {alias!r} not set")
    from harness.prompts import mlflow_template

    if isinstance(result, ScorecardGateResult):
        parts = result.questions
        for part in parts.values():  # every version translates, or no alias moves
            mlflow_template(part.version.prompt)
        bars = _bars_text(result.bars)
        scorecard_tags = {f"{alias}_scorecard": result.experiment.name,
                          f"{alias}_scorecard_gate": bars,
                          f"{alias}_scorecard_questions": ",".join(parts)}
        done = {q: _promote_version(part, alias, scorecard_tags) for q, part in parts.items()}
        uri = next(iter(done.values()))["tracking_uri"]
        result.promoted = {"alias": alias, "tracking_uri": uri,
                           "questions": {q: {k: v for k, v in d.items()
                                             if k not in ("alias", "tracking_uri")}
                                         for q, d in done.items()}}
        return result.promoted
    mlflow_template(result.version.prompt)
    result.promoted = _promote_version(result, alias, {})
    return result.promoted


def _bars_text(bars: list[BarResult]) -> str:
    return "; ".join(f"{b.name}: {b.checked:.4g}" if b.checked is not None else b.name
                     for b in bars)


def _promote_version(result: GateResult, alias: str, extra: dict[str, str]) -> dict[str, Any]:
    """Register a gated version, point ``alias`` at it and tag it with its gate."""
    from harness.tracking import Tracker

    exp, pv = result.experiment, result.version.prompt
    envs = {"OPENAI_API_KEY", "ANTHROPIC_API_KEY", exp.judge.api_key_env or "OPENAI_API_KEY"}
    tracker = Tracker(exp.tracking.experiment_name or exp.name, exp.tracking.tracking_uri,
                      secrets=[os.environ[e] for e in sorted(envs) if os.environ.get(e)])
    j = result.judge
    jtags = judge_tags(j.identity, j.params) if j is not None else {}
    number = tracker.register_prompt_version(
        pv, commit_message=pv.changelog or f"{pv.label}",
        tags={"promoted_by": "judgecal", **jtags})
    tracker.set_prompt_alias(pv.name, alias, number)
    tracker.set_prompt_version_tags(pv.name, number, {
        f"{alias}_gate": _bars_text(result.bars), f"{alias}_promoted_at": result.created_at,
        f"{alias}_gate_split": result.run.split,
        f"{alias}_gate_items_hash": result.checks.get("holdout_items_hash"),
        f"{alias}_gate_judge": result.checks.get("judge"),
        **(holdout_look_tags(result.holdout_looks) if result.holdout_looks else {}),
        **(judge_tags(j.identity, j.params, alias=alias) if j is not None else {}),
        **extra,
    })
    result.version.registry_version = number
    return {"alias": alias, "name": pv.name, "version": pv.label, "registry_version": number,
            "tracking_uri": tracker.tracking_uri}


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
