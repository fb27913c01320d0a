"""A frozen anchor panel re-judged on a schedule (``judgecal panel``): run, record, attribute.

:func:`run_panel` re-judges an experiment's anchors with fresh calls (never the journal's
cache: a provider's silent change is invisible through it), records the run's judge
fingerprint and every item's score in the journal's ``panel_runs`` table, and compares the
run with the previous one (or a named baseline) by :func:`._attribution.attribute`.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._attribution import TOLERANCE, Attribution, attribute, panel_shift, production_shift

if TYPE_CHECKING:
    from harness.experiments import Experiment
    from harness.journal import PanelRun
    from harness.judges import Judge
    from harness.judgments import JudgeRun

#: The splits a panel may use.
PANEL_SPLITS = ("all", "calibration", "holdout")


class PanelInputError(ValueError):
    """Bad input for a panel run (``path:line: message`` where a file is at fault)."""


class PanelJudgeError(RuntimeError):
    """The judge could not re-judge the panel (no valid judgment, or the run stopped)."""


@dataclass
class PanelReport:
    """The outcome of :func:`run_panel`.

    Attributes
    ----------
    run : PanelRun
        This run (recorded in the journal unless ``record=False``).
    reference : PanelRun or None
        The run it was compared with (the previous run of the same panel, or the named
        baseline); None on a panel's first run.
    attribution : Attribution or None
        None on a first run.
    production : dict or None
        The production files compared (``current``, ``baseline``: their sources).
    warnings : list of str
    """

    run: PanelRun
    reference: PanelRun | None
    attribution: Attribution | None
    production: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def alert(self) -> bool:
        """Whether a drift was found (the command exits 1)."""
        return self.attribution is not None and self.attribution.verdict != "stable"

    def to_dict(self) -> dict[str, Any]:
        """The ``judgecal panel --json`` document."""
        fp_after = self.run.fingerprint
        doc: dict[str, Any] = {
            "verdict": None, "reason": "first run of this panel: recorded as the baseline",
            "panel": None, "production": None,
            "fingerprint": {"before": None, "after": fp_after, "changed": False, "fields": []},
            "silent_change": False,
        }
        if self.attribution is not None:
            doc.update(self.attribution.to_dict())
        doc["run"] = _run_dict(self.run)
        doc["reference"] = None if self.reference is None else _run_dict(self.reference)
        if doc["production"] is not None and self.production is not None:
            doc["production"]["files"] = self.production
        doc["warnings"] = list(self.warnings)
        return doc


def _run_dict(run: PanelRun) -> dict[str, Any]:
    return {"run_id": run.run_id, "experiment": run.experiment, "anchor_set": run.anchor_set,
            "items_hash": run.items_hash, "split": run.split, "created_at": run.created_at,
            "n_items": len(run.scores),
            "n_scored": sum(v is not None for v in run.scores.values())}


def judge_fingerprint(run: JudgeRun, params: dict[str, Any] | None) -> dict[str, Any]:
    """The fingerprint of the judge that made ``run``.

    Parameters
    ----------
    run : JudgeRun
        A run of :func:`harness.judgments.judge_anchors`.
    params : dict or None
        The request parameters (the journal's ``params`` of the run's calls).

    Returns
    -------
    dict
        ``provider``, ``model`` (as configured), ``reply_models`` (the distinct model ids
        the provider reported in its replies, sorted), ``prompt_hash`` with ``prompt``
        (name and version, for people), ``params`` and ``identity`` (the judge's identity:
        endpoint and options, never a key).
    """
    identity = dict(run.judge_identity)
    reported = {j.reply_model for j in run.result.judgments
                if j.status in ("ok", "invalid") and j.reply_model}
    return {"provider": identity.get("provider"), "model": identity.get("model"),
            "reply_models": sorted(reported), "prompt_hash": run.prompt.hash,
            "prompt": {"name": run.prompt.name, "version": run.prompt.label},
            "params": params, "identity": identity}


def _production(exp: Experiment, path: str | Path | None, scale: tuple[float, float],
                option: str) -> Any:
    from harness.estimate import EstimateInputError, production_scores

    if path is None:
        return None
    try:
        scores = production_scores(path, scale=scale,
                                   experiment_criterion=exp.anchors.criterion,
                                   how=exp.scoring.aggregate)
    except EstimateInputError as exc:
        raise PanelInputError(str(exc)) from None
    if not any(math.isfinite(v) for v in scores.scores):
        raise PanelInputError(f"{path}: {option}: no item with a valid score")
    return scores


def run_panel(exp: Experiment, *, split: str = "all", baseline: str | None = None,
              production: str | Path | None = None,
              baseline_production: str | Path | None = None,
              tolerance: float = TOLERANCE, min_move: float = 0.0,
              shift_tolerance: float = 0.0, record: bool = True,
              show_progress: bool = True, console: Any = None,
              judge: Judge | None = None) -> PanelReport:
    """Re-judge the experiment's anchor panel, record the run, and attribute any drift.

    Every input is checked before any call. The anchors of ``split`` are judged with
    ``refresh=True`` (every call made afresh; the replies replace the journal's), the
    run's fingerprint (:func:`judge_fingerprint`) and item scores are recorded, and the
    run is compared with the reference: ``baseline`` when named, else the latest earlier
    run of the same panel (same experiment name and ``AnchorSet.items_hash``).

    Parameters
    ----------
    exp : Experiment
    split : {"all", "calibration", "holdout"}
        The panel's items.
    baseline : str, optional
        A panel run id (or a unique prefix of one) to compare with.
    production, baseline_production : str or Path, optional
        Judgments files of the production items of the current and of a baseline window
        (both or neither): the system-drift side of the attribution.
    tolerance : float
        Share of panel items allowed to move (:func:`panel_shift`).
    min_move : float
        A panel score moved when it changed by more than this.
    shift_tolerance : float
        Production mean shift tolerated, in scale points (:func:`production_shift`).
    record : bool
        Record the run in the journal (False: compare only).
    show_progress : bool
    console : rich.console.Console, optional
    judge : Judge, optional
        The provider (default: built from the experiment).

    Returns
    -------
    PanelReport

    Raises
    ------
    PanelInputError
        Bad option values, an unknown baseline run (or one of another panel), bad
        production files: nothing is called or recorded.
    PanelJudgeError
        The re-judging stopped early (a budget, the circuit breaker) or gave no valid
        judgment: nothing is recorded.
    AnchorError, PromptError
        A bad anchor file or prompt (input errors).
    ProviderError
        A fatal provider error (a missing key, authentication).
    """
    from harness.anchors import load_anchor_set
    from harness.journal import Journal, PanelRun
    from harness.judgments import judge_anchors

    if split not in PANEL_SPLITS:
        raise PanelInputError(f"split must be one of {', '.join(PANEL_SPLITS)}, got {split!r}")
    if not 0.0 <= tolerance < 1.0:
        raise PanelInputError(f"tolerance must lie in [0, 1), got {tolerance:g}")
    if not (min_move >= 0.0 and shift_tolerance >= 0.0):
        raise PanelInputError("min_move and shift_tolerance must be >= 0")
    if (production is None) != (baseline_production is None):
        raise PanelInputError("system drift needs two production windows: give both the "
                              "current (--production) and the baseline "
                              "(--baseline-production) judgments files")
    aset = load_anchor_set(exp.anchors.path, criterion=exp.anchors.criterion)
    scale = (float(aset.meta.scale.min), float(aset.meta.scale.max))
    items_hash = aset.items_hash(None if split == "all" else split)
    prod_now = _production(exp, production, scale, "--production")
    prod_before = _production(exp, baseline_production, scale, "--baseline-production")

    journal = Journal(exp.state.dir)
    if baseline is not None:
        reference = journal.panel_run(baseline)
        if reference is None:
            raise PanelInputError(f"no panel run {baseline!r} in {journal.path} (or the "
                                  "prefix names several)")
        if reference.items_hash != items_hash:
            raise PanelInputError(
                f"panel run {reference.run_id} judged other items ({reference.split} split "
                f"of {reference.anchor_set}, items hash {reference.items_hash[:12]}), not "
                f"this panel ({split} split, {items_hash[:12]})")
    else:
        earlier = journal.panel_runs(experiment=exp.name, items_hash=items_hash)
        reference = earlier[-1] if earlier else None

    run = judge_anchors(exp, split=split, refresh=True, show_progress=show_progress,
                        console=console, judge=judge)
    res = run.result
    if res.stopped:
        raise PanelJudgeError(f"the panel run stopped early ({res.stopped}); nothing was "
                              "recorded")
    if res.n_ok == 0:
        raise PanelJudgeError(f"no valid judgment on the panel ({res.n_invalid} invalid, "
                              f"{res.n_failed} failed); nothing was recorded")
    records = journal.get_many(j.key for j in res.judgments if j.status != "skipped")
    params = next((json.loads(r.params) for r in records.values()), None)
    scores = {i: (None if not math.isfinite(v) else float(v))
              for i, v in zip(run.table.item_ids, run.judge_scores, strict=True)}
    this = PanelRun(run_id=uuid.uuid4().hex, experiment=exp.name,
                    anchor_set=aset.meta.name, items_hash=items_hash, split=split,
                    created_at=0.0, fingerprint=judge_fingerprint(run, params), scores=scores)
    if record:
        journal.record_panel_run(this)
        this = journal.panel_run(this.run_id) or this
    warnings = list(run.warnings)
    attribution = None
    files = None
    if reference is not None:
        shift = panel_shift(reference.scores, this.scores, tolerance=tolerance,
                            min_move=min_move)
        if shift.n_items < len(this.scores):
            warnings.append(f"{len(this.scores) - shift.n_items} panel item(s) without a "
                            "valid score in both runs were left out of the comparison")
        prod = None
        if prod_now is not None and prod_before is not None:
            prod = production_shift(prod_before.scores, prod_now.scores,
                                    tolerance=shift_tolerance)
            files = {"current": prod_now.source, "baseline": prod_before.source}
        attribution = attribute(shift, prod, reference.fingerprint, this.fingerprint)
    elif prod_now is not None:
        warnings.append("first run of this panel: the production files are not compared "
                        "(there is no earlier panel run to tell the judge from the system)")
    return PanelReport(run=this, reference=reference, attribution=attribution,
                       production=files, warnings=warnings)
