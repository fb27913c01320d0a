"""One pass of a judge over an anchor set: render, call, journal, align with the humans.

:func:`judge_anchors` is what ``judgecal judge`` runs, and what the calibration loop calls
once per iteration: anchors + prompt -> judge -> judgments, with every call journaled.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness._say import listed_text
from harness.anchors import AnchorSet, RatingsTable, load_anchor_set
from harness.experiments import Experiment
from harness.journal import Journal
from harness.judges import (
    BatchSettings,
    Judge,
    JudgeTask,
    PriceTable,
    RequestSpec,
    RunResult,
    RunSettings,
    aggregate,
    make_judge,
    retest_agreement,
    run_judge_batch_sync,
    run_judge_sync,
)
from harness.judges._scoring import Aggregation
from harness.prompts import PromptError, PromptVersion, latest, load_prompt, render_for_anchor

from ._check import InvalidCheck, unusable_reason


@dataclass
class JudgeRun:
    """The outcome of :func:`judge_anchors`."""

    experiment: Experiment
    anchor_set: AnchorSet
    split: str
    prompt: PromptVersion
    judge_identity: dict[str, Any]
    result: RunResult
    table: RatingsTable
    judge_scores: np.ndarray  # aligned with table.item_ids; NaN = no valid judgment
    retest: Any | None = None  # AgreementResult when samples > 1
    warnings: list[str] = field(default_factory=list)
    #: {"mode": "structured" | "logprob", "structured": how the provider constrained it}
    scoring: dict[str, Any] = field(default_factory=dict)
    #: Where :meth:`write_csv` last wrote the judgments (set by the caller that wrote them).
    csv_path: Path | None = None

    def invalid_check(self, max_share: float) -> InvalidCheck:
        """The share of judgments without a score against ``max_share`` (see InvalidCheck)."""
        return InvalidCheck.of(self.result, max_share)

    def unusable_reason(self, max_share: float | None = None) -> str | None:
        """Why this run cannot be used for agreement figures, or None (see
        :func:`unusable_reason`; ``max_share`` None: only a stop or no valid judgment)."""
        return unusable_reason(self.result, f"{self.prompt.name} {self.prompt.label} on the "
                               f"{self.split} split", max_share)

    @property
    def n_items(self) -> int:
        return len(self.table.item_ids)

    def summary(self) -> dict[str, Any]:
        """The run in figures: what was asked, answered, cached, failed, and what it cost.

        This is the ``run`` part of ``judgecal judge --json`` and ``judgecal gate --json``,
        and what the calibration loop keeps (and logs) per iteration.
        """
        r = self.result
        latencies = [j.latency_s for j in r.judgments if j.latency_s is not None and not j.cached]
        return {
            "experiment": self.experiment.name,
            "split": self.split,
            "prompt": {"name": self.prompt.name, "version": self.prompt.label,
                       "hash": self.prompt.hash},
            "judge": self.judge_identity,
            "scoring": self.scoring,
            "n_tasks": len(r.judgments),
            "n_requests": r.n_requests,
            "n_cached": r.n_cached,
            "n_ok": r.n_ok,
            "n_invalid": r.n_invalid,
            "n_failed": r.n_failed,
            "n_skipped": r.n_skipped,
            "input_tokens": r.input_tokens,
            "output_tokens": r.output_tokens,
            "cost": r.cost,
            "elapsed_s": r.elapsed_s,
            "mean_latency_s": float(np.mean(latencies)) if latencies else None,
            "stopped": r.stopped,
            "retest": self.retest.to_dict() if self.retest is not None else None,
            "warnings": self.warnings,
        }

    def csv_rows(self) -> list[dict[str, Any]]:
        """The rows of :meth:`write_csv`: one per judgment, with the item's consensus."""
        consensus = dict(zip(self.table.item_ids, self.table.consensus
                             if self.table.consensus is not None else [], strict=False))
        out = []
        for row in self.result.to_rows():
            c = consensus.get(row["item_id"])
            out.append({**row, "consensus": None if c is None or np.isnan(c) else c})
        return out

    def write_csv(self, path: str | Path) -> Path:
        """One row per judgment (each sample), with the item's consensus beside it."""
        return write_judgments_csv(path, self.csv_rows())


#: The columns of a judgments CSV (``judge --out``); a scorecard's adds ``criterion`` second.
CSV_COLUMNS = ["item_id", "sample_index", "status", "score", "consensus", "reasoning",
               "error", "cached", "attempts", "input_tokens", "output_tokens", "cost",
               "latency_s", "raw_reply", "key"]


def write_judgments_csv(path: str | Path, rows: list[dict[str, Any]]) -> Path:
    """Write judgments CSV rows (with a ``criterion`` column when any row has one)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    columns = list(CSV_COLUMNS)
    if any("criterion" in r for r in rows):
        columns.insert(1, "criterion")
    with p.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return p


def resolve_prompt(exp: Experiment, journal: Journal | None,
                   version: str | None = None) -> PromptVersion:
    """The prompt version an experiment asks for (``latest`` resolved), checked for edits."""
    wanted = version or exp.prompt.version
    if wanted == "latest":
        wanted = latest(exp.prompt.name, prompts_dir=exp.prompt.dir).label
    return load_prompt(exp.prompt.name, wanted, prompts_dir=exp.prompt.dir, journal=journal)


def build_judge(exp: Experiment) -> Judge:
    j = exp.judge
    return make_judge(j.provider, j.model, base_url=j.base_url, api_key_env=j.api_key_env,
                      timeout_s=j.timeout_s, options=j.options)


def scoring_mode(exp: Experiment, prompt: PromptVersion) -> str:
    """The scoring mode, named by the prompt or the experiment; they must agree."""
    if exp.scoring.mode is not None and exp.scoring.mode != prompt.scoring:
        raise PromptError(
            prompt.path, 1,
            f"scoring mode mismatch: the prompt {prompt.label} says '{prompt.scoring}' but the "
            f"experiment says '{exp.scoring.mode}'; modes are never switched silently — make "
            "them agree (or drop [scoring] mode to use the prompt's)",
        )
    return prompt.scoring


def judge_anchors(
    exp: Experiment,
    *,
    split: str | None = None,
    prompt_version: str | None = None,
    refresh: bool = False,
    show_progress: bool = True,
    console: Any = None,
    judge: Judge | None = None,
    examples: tuple[dict[str, Any], ...] = (),
) -> JudgeRun:
    """Judge every item of one split of the experiment's anchor set.

    Raises
    ------
    AnchorError, PromptError
        Bad anchor file or prompt (input errors).
    ProviderError
        A missing key, an authentication failure or another fatal provider error.
    """
    split = split or exp.anchors.split
    aset = load_anchor_set(exp.anchors.path, criterion=exp.anchors.criterion)
    subset = aset if split == "all" else aset.split(split)
    journal = Journal(exp.state.dir)
    prompt = resolve_prompt(exp, journal, prompt_version)
    mode = scoring_mode(exp, prompt)
    if prompt.scale is None:
        raise PromptError(prompt.path, prompt.header_lines.get("scale"),
                          f"{prompt.name} {prompt.label} scores a whole scorecard in one call "
                          f"(scale: scorecard); {exp.anchors.path} is judged one question at "
                          "a time: name a one-question prompt, or judge the scorecard with "
                          "[scorecard] mode = \"one_call\"")
    if (prompt.scale[0], prompt.scale[1]) != (int(aset.meta.scale.min),
                                              int(aset.meta.scale.max)):
        raise PromptError(prompt.path, 1,
                          f"scale {prompt.scale[0]}-{prompt.scale[1]} of {prompt.label} does "
                          f"not match the anchor set's {aset.meta.scale.min:g}-"
                          f"{aset.meta.scale.max:g}")
    tasks = []
    for item in subset.items:
        messages = render_for_anchor(prompt, aset, item, examples=examples)
        for s in range(exp.scoring.samples):
            tasks.append(JudgeTask(item_id=item.id, sample_index=s, messages=tuple(messages),
                                   prompt_name=prompt.name, prompt_version=prompt.label,
                                   prompt_hash=prompt.hash, anchor_set=aset.meta.name))
    spec = request_spec(exp, prompt, mode)
    judge = judge or build_judge(exp)
    result = run_tasks(exp, judge, tasks, spec, journal, refresh=refresh,
                       show_progress=show_progress, console=console)
    table = subset.to_ratings()
    by_item = result.item_scores(exp.scoring.aggregate)
    scores = np.array([by_item.get(i, np.nan) for i in table.item_ids], dtype=float)
    run = JudgeRun(experiment=exp, anchor_set=aset, split=split, prompt=prompt,
                   judge_identity=judge.identity(), result=result, table=table,
                   judge_scores=scores,
                   scoring={"mode": mode, "structured": judge.structured_used
                            if mode == "structured" else None})
    if exp.scoring.samples > 1:
        samples: dict[str, list[float]] = {}
        for j in result.judgments:
            if j.status == "ok" and j.score is not None:
                samples.setdefault(j.item_id, []).append(j.score)
        run.retest = retest_agreement(samples)
    if result.n_invalid or result.n_failed:
        run.warnings.append(
            f"{result.n_invalid} invalid and {result.n_failed} failed judgment(s): they are "
            "left out of the agreement figures and listed in the judgments CSV"
        )
    if result.stopped:
        run.warnings.append(f"run stopped early: {result.stopped}")
    return run


def request_spec(exp: Experiment, prompt: PromptVersion, mode: str) -> RequestSpec:
    """The request parameters of a one-question judge pass with ``prompt`` (what
    :func:`judge_anchors` and the bias probes' re-runs send)."""
    return RequestSpec(mode=mode, scale_min=prompt.scale[0], scale_max=prompt.scale[1],
                       temperature=exp.judge.temperature, max_tokens=exp.judge.max_tokens,
                       top_logprobs=exp.judge.top_logprobs, seed=exp.judge.seed,
                       min_score_mass=exp.scoring.min_score_mass)


def run_tasks(exp: Experiment, judge: Judge, tasks: list[JudgeTask], spec: RequestSpec,
              journal: Journal, *, refresh: bool = False, show_progress: bool = True,
              console: Any = None) -> RunResult:
    """Run ``tasks`` through ``judge`` with the experiment's run settings, budget, prices
    and key redaction (what :func:`judge_anchors` and a one-call scorecard pass share).

    With ``[run] batch = true`` the tasks go through the provider's batch API
    (:func:`harness.judges.run_judge_batch_sync`, polled every ``[run] batch_poll_s``);
    a provider without one (``local``) raises :class:`~harness.judges.UnsupportedError`
    before any call. With ``[run] engine = "ray"`` the calls run on Ray workers, each
    building the judge from the experiment (:func:`harness.judges._ray.run_judge_ray`).
    """
    secrets = [os.environ[name] for name in _key_envs(exp) if os.environ.get(name)]
    prices = PriceTable.load(state_dir=exp.state.dir)
    if exp.run.batch:
        batch = BatchSettings(
            poll_s=exp.run.batch_poll_s, parse_retries=exp.scoring.parse_retries,
            refresh=refresh, max_calls=exp.budget.max_calls, max_cost=exp.budget.max_cost,
            show_progress=show_progress)
        return run_judge_batch_sync(judge, tasks, spec, journal, batch, prices=prices,
                                    secrets=secrets, console=console)
    settings = RunSettings(
        concurrency=exp.run.concurrency, max_attempts=exp.run.max_attempts,
        parse_retries=exp.scoring.parse_retries, call_deadline_s=exp.run.call_deadline_s,
        retry_after_cap_s=exp.run.retry_after_cap_s, refresh=refresh,
        max_calls=exp.budget.max_calls, max_cost=exp.budget.max_cost,
        circuit_breaker=exp.run.circuit_breaker, show_progress=show_progress,
    )
    if exp.run.engine == "ray":
        from functools import partial

        from harness.judges._ray import run_judge_ray

        return run_judge_ray(partial(build_judge, exp), judge, tasks, spec, journal, settings,
                             prices=prices, secrets=secrets, secret_envs=_key_envs(exp),
                             console=console)
    return run_judge_sync(judge, tasks, spec, journal, settings, prices=prices,
                          secrets=secrets, console=console)


def read_judgment_scores(
    path: str | Path | JudgmentsFile, item_ids: Iterable[str] | None = None,
    how: Aggregation = "mean", criterion: str | None = None, judge: str | None = None,
) -> tuple[dict[str, float], list[str]]:
    """Judge scores per item from a judgments file (what ``gate --judgments`` reads).

    The file is read by :func:`read_judgments_file` (judgecal's ``judge --out`` CSV, a long
    CSV or JSONL, or ``FORMAT:SOURCE`` of ``harness.importers``) and its judge picked by
    :meth:`JudgmentsFile.pick`. Only judgments with status ``ok`` count; an item's samples
    are combined by ``how`` (see :func:`harness.judges.aggregate`). Judgments with another
    status (``invalid``, ``failed``, ``skipped``, or no score) are left out, and an item none
    of whose judgments is ``ok`` is listed in the second return value rather than silently
    dropped.

    Parameters
    ----------
    path : str, Path or JudgmentsFile
        The file (needs ``item_id`` and ``score``; judgecal's CSV has ``status`` too), or
        ``FORMAT:SOURCE`` (``mlflow``, ``inspect``, ``promptfoo``), or the file already read
        (a scorecard's questions read from one reading).
    item_ids : iterable of str, optional
        The anchor set's item ids: an item id of the file outside them is an error (the file
        most likely belongs to another set).
    how : {"mean", "median", "mode"}
        How an item's ``ok`` samples are combined.
    criterion : str, optional
        For a scorecard's judgments (a ``criterion`` on each row): the question to read.
        Such a file without ``criterion`` is an error (its questions' scores must not be
        averaged together), and so is ``criterion`` on a file without criteria.
    judge : str, optional
        The file's judge (its ``judge`` column); needed when it has several.

    Returns
    -------
    scores : dict of str to float
        Item id to judge score, items in order of first appearance.
    no_valid : list of str
        Items in the file without a single ``ok`` judgment, in order of first appearance.

    Raises
    ------
    JudgmentsFileError
        A subclass of ValueError: an unreadable or malformed file (``path:line: ...``:
        missing columns, an unknown status, an ``ok`` row without a finite numeric score, an
        empty item id, no rows), several judges and no ``judge`` (naming them), an unknown
        judge or criterion, or item ids outside ``item_ids``.
    """
    jfile = path if isinstance(path, JudgmentsFile) else read_judgments_file(path)
    first = str(jfile.frame["line"].iloc[0])
    if jfile.criteria and criterion is None:
        raise JudgmentsFileError(f"{first}: the judgments of a scorecard (a criterion on "
                                 f"each row: {', '.join(jfile.criteria)}): name the question "
                                 "to read")
    if criterion is not None and not jfile.criteria:
        raise JudgmentsFileError(f"{first}: no criterion column: not the judgments of a "
                                 f"scorecard, so no question {criterion!r}")
    rows = jfile.pick(judge, criterion).rows()
    samples: dict[str, list[float]] = {}
    seen: dict[str, None] = {}
    for item, status, score in zip(rows["item_id"], rows["status"], rows["score"],
                                   strict=True):
        seen.setdefault(item)
        if status == "ok":
            samples.setdefault(item, []).append(float(score))
    if item_ids is not None:
        known = set(item_ids)
        unknown = [i for i in seen if i not in known]
        if unknown:
            shown = listed_text(unknown)
            raise JudgmentsFileError(f"{jfile.path}: item id(s) not in the anchor set: "
                                     f"{shown}; the judgments probably belong to another "
                                     "anchor set")
    scores = {i: aggregate(samples[i], how) for i in seen if i in samples}
    return scores, [i for i in seen if i not in samples]


def _key_envs(exp: Experiment) -> list[str]:
    names = {"OPENAI_API_KEY", "ANTHROPIC_API_KEY"}
    if exp.judge.api_key_env:
        names.add(exp.judge.api_key_env)
    return sorted(names)


from ._files import (  # noqa: E402 - needs JudgeRun above
    FILE_PROVIDER,
    JudgmentsFile,
    JudgmentsFileError,
    RecordedJudge,
    hash_text,
    human_text,
    identity_text,
    read_judgments_file,
    recorded_run,
)
from ._scorecard import (  # noqa: E402 - needs JudgeRun and judge_anchors above
    ScorecardRun,
    is_scorecard_experiment,
    judge_scorecard,
    judge_totals,
    one_call_refusal,
    totals_from_scores,
)

__all__ = ["CSV_COLUMNS", "FILE_PROVIDER", "InvalidCheck", "JudgeRun", "JudgmentsFile",
           "JudgmentsFileError", "RecordedJudge", "ScorecardRun", "build_judge", "hash_text",
           "human_text", "identity_text", "is_scorecard_experiment", "judge_anchors",
           "judge_scorecard", "judge_totals", "one_call_refusal", "read_judgment_scores",
           "read_judgments_file", "recorded_run", "request_spec", "resolve_prompt", "scoring_mode",
           "totals_from_scores", "unusable_reason", "write_judgments_csv"]
