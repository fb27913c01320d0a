"""One look at a split: a version (or a judgments file) prepared, judged, recorded.

A :class:`Look` is a version's gate before anything is judged: resolved, checked and counted
in the holdout ledger (:func:`prepare_look`, or :func:`prepare_recorded_look` for the
judgments of a file). :func:`judge_look` then judges the split with it (or reads the file's
judgments) and :func:`finish_look` records the look in the ledger.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.anchors import AnchorError, AnchorSet
from harness.experiments import Experiment
from harness.journal import Journal
from harness.judges import Judge, ProviderError
from harness.judgments import (
    JudgeRun,
    JudgmentsFile,
    JudgmentsFileError,
    RecordedJudge,
    judge_anchors,
    read_judgments_file,
    recorded_run,
)
from harness.prompts import PromptError
from harness.tracking import JudgeRecord

from ._errors import GateInputError, GateJudgeError
from ._ledger import _tag_look, holdout_ledger, record_look
from ._result import HoldoutLooks, JudgeCheck, VersionRef
from ._versions import (
    _baseline_ref,
    _check_anchors,
    _check_judge,
    _judge_now,
    _ref_name,
    _Registry,
    check_examples,
    resolve_version,
)


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
        "prompt": f"not checked ({recorded.describe(full=True)})", "judgments": recorded.to_dict(),
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


def probe_failures(look: Look) -> list[str]:
    """Why the version and judge of ``look`` fail the gate on bias probes: the latest
    recorded must-pass probes (``judgecal probe``) that failed, or were never run."""
    from harness.probes import probe_gate_reasons

    assert look.jcheck is not None
    return probe_gate_reasons(look.journal, look.ref.prompt.hash, look.jcheck.hash)
