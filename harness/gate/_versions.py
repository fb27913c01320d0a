"""What is being gated and whether it is intact: the version, its judge, their checks.

Resolving the prompt version (``--prompt``, ``--alias``, the baseline) through the journal and
the MLflow Prompt Registry (read only), building the judge a gate runs with (:class:`OfflineJudge`
under ``--offline``), and the checks that refuse a version before any judge call: holdout
items among its few-shot examples, holdout items changed since it was calibrated, another
judge than the one it was calibrated with.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from harness.anchors import AnchorSet
from harness.experiments import Experiment
from harness.journal import Journal
from harness.judges import (
    FatalError,
    Judge,
    JudgeReply,
    JudgeRequest,
    ProviderError,
    make_judge,
)
from harness.judgments import resolve_prompt, scoring_mode
from harness.prompts import PromptError, PromptVersion, examples_in
from harness.tracking import JudgeRecord, judge_params, judge_record

from ._errors import GateInputError, GateJudgeError
from ._result import VersionRef

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


def the_gates_judge(exp: Experiment, judge: Judge | None, *, offline: bool) -> Judge:
    """``judge``, or :func:`gate_judge`: a judge that cannot be built (its provider's extra
    not installed, an unknown provider) is a :class:`GateJudgeError` (exit 3, with the
    JUnit and summary a gate writes), not a traceback.
    """
    if judge is not None:
        return judge
    try:
        return gate_judge(exp, offline=offline)
    except ProviderError as exc:
        raise GateJudgeError(f"the judge cannot be built: {exc}") from None


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
