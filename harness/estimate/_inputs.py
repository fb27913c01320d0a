"""An experiment's anchors and a production judgments file, read into the estimate's arrays.

The statistics (:mod:`._ppi`, :mod:`._rogan_gladen`, :mod:`._population`) know nothing of
files, journals or providers; this module is the one place that feeds them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from harness._say import scale_text

from ._population import PopulationEstimate, estimate_population

if TYPE_CHECKING:
    from harness.anchors import AnchorSet
    from harness.experiments import Experiment
    from harness.judges import Judge

#: The splits an estimate may use as anchors.
SPLITS = ("all", "calibration", "holdout")


class EstimateInputError(ValueError):
    """Bad input for an estimate (``path:line: message`` where a file is at fault)."""


class CallsNeededError(EstimateInputError):
    """The anchors' judgments are not all in the journal and calls were not allowed."""


class EstimateJudgeError(RuntimeError):
    """The judge failed while judging the anchors (a provider error, a run stopped)."""


@dataclass
class AnchorScores:
    """The anchors of a split: the humans' consensus beside the judge's score.

    Attributes
    ----------
    item_ids : list of str
    truth, judged : numpy.ndarray
        Aligned with ``item_ids``; NaN where there is none.
    source : dict
        Where the judge's scores came from (``journal`` with the prompt and judge, or
        ``file`` with its path and hash).
    warnings : list of str
    """

    item_ids: list[str]
    truth: np.ndarray
    judged: np.ndarray
    source: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


@dataclass
class ProductionScores:
    """The judge's scores on production items (one per item, samples combined).

    Attributes
    ----------
    item_ids : list of str
    scores : numpy.ndarray
        NaN for an item without a valid judgment.
    source : dict
        ``path``, ``sha256``, ``judge``, ``criterion``.
    """

    item_ids: list[str]
    scores: np.ndarray
    source: dict[str, Any]


@dataclass
class EstimateReport:
    """:class:`PopulationEstimate` with what it was computed from.

    Attributes
    ----------
    estimate : PopulationEstimate
    split : str
    anchors : AnchorScores
    production : ProductionScores
    scale : tuple of float
    warnings : list of str
    """

    estimate: PopulationEstimate
    split: str
    anchors: AnchorScores
    production: ProductionScores
    scale: tuple[float, float]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The ``judgecal estimate --json`` document."""
        doc = self.estimate.to_dict()
        doc.update(split=self.split, scale=list(self.scale),
                   anchor_judgments=self.anchors.source, production=self.production.source,
                   warnings=list(self.warnings))
        return doc


def _recorded(source: str | Path, *, judge: str | None, criterion: str | None,
              experiment_criterion: str | None) -> Any:
    """The judge picked in a judgments file; ``judge`` picks only in a file with a judge
    column (one ``--judge`` serves the production and the anchors' files: a file without
    that column is one judge's, whichever it is)."""
    from harness.judgments import JudgmentsFileError, read_judgments_file

    try:
        jfile = read_judgments_file(source)
        return jfile.pick(judge if jfile.judges else None, criterion,
                          experiment_criterion=experiment_criterion)
    except JudgmentsFileError as exc:
        raise EstimateInputError(str(exc)) from None


def _judge_named(judge: str | None, sources: list[dict[str, Any]]) -> None:
    """``--judge`` must pick in one of the judgments files (none has a judge column: it
    names no judge, a mistake rather than a choice)."""
    if judge is not None and all(s.get("judge") is None for s in sources):
        files = " and ".join(str(s["path"]) for s in sources)
        raise EstimateInputError(f"--judge {judge}: no judge column in {files}, so no "
                                 "judge to pick: drop --judge")


def production_scores(source: str | Path, *, scale: tuple[float, float] | None = None,
                      judge: str | None = None, criterion: str | None = None,
                      experiment_criterion: str | None = None,
                      how: str = "mean") -> ProductionScores:
    """The judge's scores on production items from a judgments file.

    The file is read by :func:`harness.judgments.read_judgments_file` (judgecal's
    ``judge --out`` CSV, or a long CSV/JSONL with ``item_id`` and ``score``); an item's
    ``ok`` samples are combined by ``how``; an item without one has NaN.

    Parameters
    ----------
    source : str or Path
    scale : tuple of float, optional
        ``(min, max)``: a score outside it is an error naming its line.
    judge, criterion : str, optional
        The file's judge and criterion, when it has several; ``judge`` is not looked for
        in a file without a judge column (one judge's).
    experiment_criterion : str, optional
        The experiment's ``[anchors] criterion`` (the file's must match).
    how : {"mean", "median", "mode"}

    Returns
    -------
    ProductionScores

    Raises
    ------
    EstimateInputError
        ``path:line: message``: a malformed file, a score off the scale, an ambiguous pick.
    """
    from harness.judges import aggregate

    recorded = _recorded(source, judge=judge, criterion=criterion,
                         experiment_criterion=experiment_criterion)
    samples: dict[str, list[float]] = {}
    for row in recorded.rows().itertuples(index=False):
        scores = samples.setdefault(row.item_id, [])
        if row.status != "ok":
            continue
        if scale is not None and not scale[0] <= row.score <= scale[1]:
            raise EstimateInputError(f"{row.line}: item {row.item_id!r}: score {row.score:g} "
                                     f"is outside the anchor set's scale {scale[0]:g}-"
                                     f"{scale[1]:g}")
        scores.append(float(row.score))
    ids = list(samples)
    values = np.array([aggregate(v, how) if v else np.nan  # type: ignore[arg-type]
                       for v in samples.values()], dtype=float)
    return ProductionScores(ids, values, recorded.to_dict())


def _anchor_set(exp: Experiment) -> AnchorSet:
    from harness.anchors import AnchorError, load_anchor_set

    try:
        return load_anchor_set(exp.anchors.path, criterion=exp.anchors.criterion)
    except AnchorError as exc:
        raise EstimateInputError(str(exc)) from None


def anchor_scores(exp: Experiment, *, split: str = "all",
                  anchor_judgments: str | Path | None = None, judge_id: str | None = None,
                  criterion: str | None = None, allow_calls: bool = False,
                  judge: Judge | None = None, show_progress: bool = False,
                  console: Any = None) -> AnchorScores:
    """The humans' consensus and the judge's scores on one split of the anchors.

    The judge's scores come from ``anchor_judgments`` (a judgments file; nothing is called)
    or else from the experiment's judge through the journal: every anchor judgment already
    journaled for the experiment's prompt, model and parameters is reused, and a judgment
    that is not there is a call, refused unless ``allow_calls``.

    Parameters
    ----------
    exp : Experiment
    split : {"all", "calibration", "holdout"}
    anchor_judgments : str or Path, optional
        A judgments file of the anchors.
    judge_id, criterion : str, optional
        The judgments file's judge and criterion, when it has several.
    allow_calls : bool
        Let the experiment's judge be called for anchors the journal has no reply for.
    judge : Judge, optional
        The judge to use instead of the experiment's (tests).
    show_progress : bool
    console : rich.console.Console, optional

    Returns
    -------
    AnchorScores

    Raises
    ------
    CallsNeededError
        A call is needed and ``allow_calls`` is False (no call was made).
    EstimateInputError
        A bad anchor set, prompt or judgments file, an unknown split.
    EstimateJudgeError
        The provider failed, or no anchor got a valid judgment.
    """
    if split not in SPLITS:
        raise EstimateInputError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    if anchor_judgments is not None:
        from harness.judgments import JudgmentsFileError, recorded_run

        aset = _anchor_set(exp)
        recorded = _recorded(anchor_judgments, judge=judge_id, criterion=criterion,
                             experiment_criterion=exp.anchors.criterion)
        try:
            run = recorded_run(exp, aset, split, recorded)
        except JudgmentsFileError as exc:
            raise EstimateInputError(str(exc)) from None
        source: dict[str, Any] = {"kind": "file", **recorded.to_dict()}
    else:
        run = _judged_from_journal(exp, split, allow_calls=allow_calls, judge=judge,
                                   show_progress=show_progress, console=console)
        source = {"kind": "journal", "judge": run.judge_identity,
                  "prompt": {"name": run.prompt.name, "version": run.prompt.label,
                             "hash": run.prompt.hash},
                  "n_requests": run.result.n_requests, "n_cached": run.result.n_cached}
    table = run.table
    truth = np.asarray(table.consensus if table.consensus is not None
                       else np.full(len(table.item_ids), np.nan), dtype=float)
    return AnchorScores(list(table.item_ids), truth, np.asarray(run.judge_scores, dtype=float),
                        source, list(run.warnings))


def _judged_from_journal(exp: Experiment, split: str, *, allow_calls: bool,
                         judge: Judge | None, show_progress: bool, console: Any) -> Any:
    from harness.anchors import AnchorError
    from harness.gate import gate_judge
    from harness.judges import ProviderError, RunAborted
    from harness.judgments import judge_anchors
    from harness.prompts import PromptError

    try:
        if judge is None:
            judge = gate_judge(exp, offline=not allow_calls)
        elif not allow_calls:
            from harness.gate import OfflineJudge

            judge = OfflineJudge(judge)
        run = judge_anchors(exp, split=split, judge=judge, show_progress=show_progress,
                            console=console)
    except (AnchorError, PromptError) as exc:
        raise EstimateInputError(str(exc)) from None
    except RunAborted as exc:
        m = re.search(r"on item '(.+?)' sample (\d+): offline:", str(exc))
        if not allow_calls and m:
            raise CallsNeededError(
                f"{exp.source or exp.name}: the journal has no judgment of anchor "
                f"{m.group(1)!r} (sample {m.group(2)}, {split} split) for this prompt, "
                "model and parameters; no call was made. Judge the anchors first "
                "(judgecal judge), pass their judgments with --anchor-judgments FILE, or let "
                "estimate call the judge with --allow-calls") from None
        raise EstimateJudgeError(str(exc)) from None
    except ProviderError as exc:
        raise EstimateJudgeError(str(exc)) from None
    except ValueError as exc:  # e.g. max_cost for a model without a price
        raise EstimateInputError(str(exc)) from None
    reason = run.unusable_reason()
    if reason is not None:
        raise EstimateJudgeError(reason)
    return run


def estimate_experiment(exp: Experiment, production: str | Path, *, split: str = "all",
                        anchor_judgments: str | Path | None = None,
                        pass_at: float | None = None, method: str = "ppi++",
                        judge_id: str | None = None, criterion: str | None = None,
                        allow_calls: bool = False, judge: Judge | None = None,
                        show_progress: bool = False, console: Any = None) -> EstimateReport:
    """Corrected population estimates for an experiment's judge (``judgecal estimate``).

    The anchors of ``split`` (the humans' consensus beside the judge's scores, from
    :func:`anchor_scores`) correct the judge's scores on the production items of
    ``production`` (:func:`production_scores`) with
    :func:`~harness.estimate.estimate_population`.

    Parameters
    ----------
    exp : Experiment
    production : str or Path
        A judgments file of the production items.
    split : {"all", "calibration", "holdout"}
    anchor_judgments : str or Path, optional
        A judgments file of the anchors instead of the journal.
    pass_at : float, optional
        The pass mark, within the anchor set's scale (above its minimum).
    method : {"ppi++", "ppi"}
    judge_id, criterion : str, optional
        Picks in the judgments files; ``judge_id`` in those with a judge column (a file
        without one is one judge's), and at least one must have it.
    allow_calls : bool
        See :func:`anchor_scores`.
    judge : Judge, optional
    show_progress : bool
    console : rich.console.Console, optional

    Returns
    -------
    EstimateReport

    Raises
    ------
    EstimateInputError, CallsNeededError, EstimateJudgeError
    """
    aset = _anchor_set(exp)
    scale = (float(aset.meta.scale.min), float(aset.meta.scale.max))
    if pass_at is not None and not (np.isfinite(pass_at) and scale[0] < pass_at <= scale[1]):
        raise EstimateInputError(f"pass mark {pass_at:g} must lie above the scale's minimum "
                                 f"and at most its maximum (scale {scale_text(*scale)})")
    prod = production_scores(production, scale=scale, judge=judge_id, criterion=criterion,
                             experiment_criterion=exp.anchors.criterion,
                             how=exp.scoring.aggregate)
    if anchor_judgments is None:  # before the journal is read (or the judge called)
        _judge_named(judge_id, [prod.source])
    anchors = anchor_scores(exp, split=split, anchor_judgments=anchor_judgments,
                            judge_id=judge_id, criterion=criterion, allow_calls=allow_calls,
                            judge=judge, show_progress=show_progress, console=console)
    if anchor_judgments is not None:
        _judge_named(judge_id, [prod.source, anchors.source])
    try:
        est = estimate_population(anchors.truth, anchors.judged, prod.scores, pass_at=pass_at,
                                  method=method)
    except ValueError as exc:
        raise EstimateInputError(f"{production}: {exc}" if "production" in str(exc)
                                 else f"{exp.anchors.path} ({split} split): {exc}") from None
    warnings = list(anchors.warnings)
    overlap = set(prod.item_ids) & set(anchors.item_ids)
    if overlap:
        warnings.append(f"{len(overlap)} production item(s) are anchors too (e.g. "
                        f"{sorted(overlap)[0]!r}): the estimate assumes the anchors are a "
                        "random sample of production, not part of it")
    return EstimateReport(est, split, anchors, prod, scale, warnings)


__all__ = ["SPLITS", "AnchorScores", "CallsNeededError", "EstimateInputError",
           "EstimateJudgeError", "EstimateReport", "ProductionScores", "anchor_scores",
           "estimate_experiment", "production_scores"]
