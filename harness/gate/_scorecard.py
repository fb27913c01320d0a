"""The gate on a scorecard: bars per question (``tone.icc``) and on the total (``total.icc``).

Each question is gated as the one-question experiment :meth:`Experiment.for_criterion` is
(its own prompt, version, anchors check, judge check and holdout ledger); the total's bars
are checked on the judge's totals (:func:`harness.judgments.judge_totals`) against the
humans' totals, with a ledger of their own.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from harness.anchors import TOTAL, AnchorError, Scorecard, load_scorecard
from harness.experiments import Experiment
from harness.judges import Judge
from harness.judgments import JudgmentsFile, is_scorecard_experiment, judge_totals, one_call_refusal

from ._bars import Bar, GateSettings, LossTest, holm_family
from ._errors import GateInputError
from ._ledger import holdout_ledger, record_look
from ._looks import (
    Look,
    check_servable,
    finish_look,
    judge_look,
    pick_judgments,
    prepare_look,
    prepare_recorded_look,
    rater_id,
    recorded_baseline,
)
from ._result import BaselineRun, GateResult, ScorecardGateResult, TotalGate
from ._verdict import Scored, baseline_figures, evaluate_bars, gate_report, loss_tests
from ._versions import the_gates_judge


def is_scorecard_gate(exp: Experiment) -> bool:
    """Whether ``exp`` is gated as a scorecard (several questions, no ``[anchors]
    criterion``)."""
    return is_scorecard_experiment(exp)


def _did_you_mean(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def check_scorecard_bars(bars: list[Bar], card: Scorecard, source: str) -> None:
    """Every bar names a question of the scorecard or ``total``.

    Raises
    ------
    GateInputError
        An unqualified bar (naming the questions), or an unknown question (with "did you
        mean").
    """
    ids = card.criterion_ids
    questions = ", ".join(ids)
    for bar in bars:
        if bar.criterion is None:
            raise GateInputError(
                f"bar {bar.name}: {source} is a scorecard: a bar names its question, "
                f"CRITERION.{bar.metric} (the questions: {questions}) or {TOTAL}.{bar.metric} "
                f"(the total), e.g. --min {ids[0]}.{bar.metric}=VALUE")
        if bar.criterion != TOTAL and bar.criterion not in ids:
            raise GateInputError(
                f"bar {bar.name}: no question {bar.criterion!r} in {source}"
                f"{_did_you_mean(bar.criterion, [*ids, TOTAL])} (the questions: {questions}; "
                f"and {TOTAL})")


def scorecard_versions(prompt: str | Sequence[str] | Mapping[str, str] | None,
                       judged: list[str], card: Scorecard) -> dict[str, str | None]:
    """The version of each judged question: ``--prompt`` on a scorecard.

    Parameters
    ----------
    prompt : str, sequence of str or mapping, optional
        None: the experiment's version for every question. ``"v2"``: only when one question
        is judged. ``"tone=v2"`` (or several, or ``{"tone": "v2"}``): per question, the
        others the experiment's.
    judged : list of str
        The questions the gate judges.
    card : Scorecard

    Returns
    -------
    dict of str to str or None
        Question -> version (None: the experiment's).

    Raises
    ------
    GateInputError
        A bare version with several questions judged, an unknown question, a question that
        is not judged, a question named twice.
    """
    out: dict[str, str | None] = dict.fromkeys(judged)
    if prompt is None:
        return out
    items: list[str]
    if isinstance(prompt, Mapping):
        items = [f"{q}={v}" for q, v in prompt.items()]
    elif isinstance(prompt, str):
        items = [prompt]
    else:
        items = list(prompt)
    if len(items) == 1 and "=" not in items[0]:
        if len(judged) == 1:
            return {judged[0]: items[0]}
        raise GateInputError(
            f"--prompt {items[0]}: each question of the scorecard has its own prompt, and "
            f"this gate judges {len(judged)} of them ({', '.join(judged)}): name the "
            f"question, --prompt {judged[0]}={items[0]} (repeatable; the others keep the "
            "experiment's version), or give --alias NAME (each question's prompt's alias)")
    seen: set[str] = set()
    for item in items:
        q, sep, version = (part.strip() for part in item.partition("="))
        if not sep or not q or not version:
            raise GateInputError(f"--prompt {item}: on a scorecard, give QUESTION=VERSION "
                                 "(e.g. --prompt tone=v2)")
        if q not in card.criterion_ids:
            raise GateInputError(f"--prompt {item}: no question {q!r}"
                                 f"{_did_you_mean(q, card.criterion_ids)} (the questions: "
                                 f"{', '.join(card.criterion_ids)})")
        if q not in out:
            raise GateInputError(f"--prompt {item}: question {q!r} has no bar and no total "
                                 f"bar needs it, so it is not gated (gated: "
                                 f"{', '.join(judged)})")
        if q in seen:
            raise GateInputError(f"--prompt names question {q!r} twice")
        seen.add(q)
        out[q] = version
    return out


@dataclass
class _Composite:
    """The versions that make the judge's total, as the holdout ledger sees one version."""

    name: str
    label: str
    hash: str


def _composite(exp: Experiment, looks: dict[str, Look]) -> tuple[_Composite, str]:
    parts = sorted((q, look.ref.prompt.hash, look.jcheck.hash) for q, look in looks.items())
    prompt_hash = hashlib.sha256("\n".join(f"{q}:{p}" for q, p, _ in parts)
                                 .encode()).hexdigest()
    judge_hash = hashlib.sha256("\n".join(f"{q}:{j}" for q, _, j in parts)
                                .encode()).hexdigest()
    label = ",".join(f"{q}={look.ref.label}" for q, look in looks.items())
    return _Composite(f"{exp.prompt.name}/{TOTAL}", label, prompt_hash), judge_hash


def _recorded_looks(exp: Experiment, card: Scorecard, judged: list[str], split: str,
                    source: JudgmentsFile, judge: str | None, criterion: str | None,
                    baseline: str | None, command: str, fresh_holdout: bool
                    ) -> dict[str, Look]:
    """Each judged question's look on a judgments file (its ``criterion`` rows)."""
    if criterion is not None:
        raise GateInputError(f"--criterion {criterion}: a scorecard reads every question's "
                             f"judgments from the file's criterion column")
    if not source.criteria:
        raise GateInputError(
            f"--judgments: {source.path} has no criterion column, and {exp.anchors.path} is a "
            f"scorecard ({', '.join(card.criterion_ids)}): each row must name its question")
    looks = {}
    for q in judged:
        recorded = pick_judgments(source, judge, q)
        looks[q] = prepare_recorded_look(
            exp.for_criterion(q), card.criterion(q), split, recorded, command=command,
            fresh_holdout=fresh_holdout,
            base_recorded=recorded_baseline(source, baseline, recorded) if baseline else None)
    return looks


def run_scorecard_gate(
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
    judgments: JudgmentsFile | None = None,
    judgments_judge: str | None = None,
    judgments_criterion: str | None = None,
) -> ScorecardGateResult:
    """Gate a scorecard: each question's bars on its own run, the total's on the judge's totals.

    The questions judged are those with bars, or every question when a bar is on
    ``total`` (the judge's total needs every question's score). Each is checked exactly as
    the one-question gate on :meth:`Experiment.for_criterion` checks it (version, few-shot
    examples, anchors, judge, holdout ledger), all before any judge call; its bars are
    evaluated on its own report, so a question's figures equal that gate's.

    The total: the judge's total per item is formed like a rater's
    (:func:`harness.judgments.judge_totals`) and compared with the humans' totals
    (``Scorecard.total()``); its looks are kept in the ledger of the total's holdout (one
    look per distinct combination of the questions' versions and judges), and its CIs are
    at the highest confidence of that ledger and the questions' ledgers (the most-looked-at
    holdout decides: the widest CIs).

    Regression bars are one Holm family across the whole gate. The outcome: error when a
    judged question has too many invalid judgments; else fail if any bar fails, else
    inconclusive if any bar is (or the human gold of a gated question or of the total is
    not reliable, unless ``allow_unreliable_gold``), else pass.

    Parameters
    ----------
    exp : Experiment
        A scorecard experiment (anchors with criteria, no ``[anchors] criterion``).
    settings : GateSettings
        Every bar qualified: ``tone.icc``, ``total.icc``.
    prompt : str, sequence of str or mapping, optional
        See :func:`scorecard_versions`.
    alias : str, optional
        A registry alias, looked up on each question's prompt.
    offline, allow_changed_anchors, allow_judge_change, n_resamples, command,
    show_progress, console, judge, fresh_holdout, allow_unreliable_gold
        As :func:`harness.gate.run_gate`; ``settings.baseline`` is an alias (each
        question's) or, when one question is judged, a version.
    judgments : JudgmentsFile, optional
        Each question's judgments from the file's ``criterion`` column instead of a judge
        run (see :func:`harness.gate.run_gate`); ``settings.baseline`` is then another
        judge of the file or another judgments file.
    judgments_judge : str, optional
        The file's judge, when it has several.
    judgments_criterion : str, optional
        Refused: a scorecard reads every question's criterion.

    Returns
    -------
    ScorecardGateResult

    Raises
    ------
    GateInputError
        An unqualified bar, an unknown question, an ambiguous version, a scorecard judged
        in one call (``[scorecard] mode = "one_call"``: gate its judgments file), or any
        refusal of a question's gate. ``promote`` promotes every judged question's version
        (:func:`harness.gate.promote`). ``validate`` judges
        every question and the total, with no bars.
    GateJudgeError
        A question's judge run failed.
    """
    source = str(exp.anchors.path)
    refusal = one_call_refusal(exp, command) if judgments is None else None
    if refusal is not None:
        raise GateInputError(refusal)
    if settings.probes:
        raise GateInputError("bias probes are checked on a one-question gate: gate each "
                             "question with [anchors] criterion = \"<id>\" and probes on")
    try:
        card = load_scorecard(exp.anchors.path)
    except AnchorError as exc:
        raise GateInputError(str(exc)) from None
    check_scorecard_bars(settings.bars, card, source)
    # validate measures every question and the total, with no bars
    with_total = command == "validate" or any(b.criterion == TOTAL for b in settings.bars)
    judged = [q for q in card.criterion_ids
              if with_total or any(b.criterion == q for b in settings.bars)]
    versions = scorecard_versions(prompt, judged, card)
    if prompt is not None and alias is not None:
        raise GateInputError("give --prompt or --alias, not both")
    baseline = settings.baseline
    if baseline and len(judged) > 1 and (baseline == "latest" or baseline.lstrip("v")
                                         .isdigit()):
        raise GateInputError(
            f"--baseline {baseline}: each question of the scorecard has its own prompt and "
            f"this gate judges {len(judged)} of them; give a registry alias as the baseline "
            "(each question's, e.g. --baseline production)")

    # every check, for every question and the total, before any judge call
    looks: dict[str, Look] = {}
    if judgments is not None:  # no judge is built: the file is the judge
        looks = _recorded_looks(exp, card, judged, settings.split, judgments,
                                judgments_judge, judgments_criterion, baseline, command,
                                fresh_holdout)
    else:
        judge = the_gates_judge(exp, judge, offline=offline)
        for q in judged:
            looks[q] = prepare_look(exp.for_criterion(q), card.criterion(q), settings.split,
                                    prompt=versions[q], alias=alias, baseline=baseline,
                                    judge=judge, allow_changed_anchors=allow_changed_anchors,
                                    allow_judge_change=allow_judge_change, command=command,
                                    fresh_holdout=fresh_holdout)
    total_view = card.total() if with_total else None
    total_look = None
    composite = None
    if total_view is not None:
        composite, composite_judge = _composite(exp, looks)
        total_look = holdout_ledger(looks[judged[0]].journal, total_view, settings.split,
                                    composite, composite_judge, command,  # type: ignore[arg-type]
                                    fresh_holdout=fresh_holdout)

    check_servable(looks.values(), command)
    runs = {}
    base_runs = {}
    for q in judged:
        runs[q], base_runs[q] = judge_look(looks[q], settings.split, judge, offline=offline,
                                           show_progress=show_progress, console=console)

    # measure every part, then the regression tests as one family, then the bars
    parts: dict[str, Scored] = {}
    results: dict[str, GateResult] = {}
    for q in judged:
        look, run, base_run = looks[q], runs[q], base_runs[q]
        report = gate_report(run.table, run.judge_scores, look.exp, look.aset.spec.kind,
                             n_resamples, look.confidence)
        report.judge["rater_id"] = rater_id(run, exp)
        base = (BaselineRun(look.base_ref, base_run,
                            baseline_figures(run.table, report, base_run.judge_scores))
                if base_run is not None and look.base_ref is not None else None)
        parts[q] = Scored(run.table, run.judge_scores, report,
                          base_run.judge_scores if base_run is not None else None,
                          base.ref.label if base is not None else None,
                          base.figures if base is not None else None, look.confidence)
        results[q] = GateResult(
            command=command, experiment=look.exp,
            settings=replace(settings, bars=[b for b in settings.bars if b.criterion == q]),
            version=look.ref, run=run, report=report, bars=[],
            invalid=run.invalid_check(settings.max_invalid), baseline=base,
            checks=look.checks, judge=look.jcheck, warnings=look.warnings,
            holdout_looks=look.looks, allow_unreliable_gold=allow_unreliable_gold)
    total: TotalGate | None = None
    if total_view is not None:
        sub = card if settings.split == "all" else card.split(settings.split)
        table = sub.total().to_ratings()
        scores = judge_totals(sub, runs, table.item_ids)
        confidence = max([total_look.confidence if total_look is not None else 0.95,
                          *(look.confidence for look in looks.values())])
        report = gate_report(table, scores, exp, "numeric", n_resamples, confidence)
        report.judge["rater_id"] = (rater_id(runs[judged[0]], exp) if judgments is not None
                                    else f"{exp.judge.provider}:{exp.judge.model}")
        base_scores = base_figs = base_label = None
        if all(base_runs[q] is not None for q in judged) and baseline:
            base_scores = judge_totals(sub, {q: r for q, r in base_runs.items()
                                             if r is not None}, table.item_ids)
            base_figs = baseline_figures(table, report, base_scores)
            base_label = baseline
        parts[TOTAL] = Scored(table, scores, report, base_scores, base_label, base_figs,
                              confidence)
        total = TotalGate(table, scores, report, [], {q: looks[q].ref.label for q in judged},
                          holdout_looks=total_look, confidence=confidence,
                          baseline=base_label, baseline_figures=base_figs)
    family = sum(1 for b in settings.bars if b.kind == "max_regression")
    tests: dict[Bar, LossTest | None] = {}
    for cid, scored in parts.items():
        tests.update(loss_tests([b for b in settings.bars if b.criterion == cid], scored,
                                on=settings.on, n_resamples=n_resamples, family=family))
    holm_family(tests.values())
    for cid, scored in parts.items():
        bars = evaluate_bars([b for b in settings.bars if b.criterion == cid], scored,
                             on=settings.on, tests=tests)
        if cid == TOTAL:
            assert total is not None
            total.bars = bars
        else:
            results[cid].bars = bars

    for q in judged:
        finish_look(looks[q], command)
    if total_view is not None and composite is not None:
        record_look(looks[judged[0]].journal, total_view, total_look,
                    composite, composite_judge, command)  # type: ignore[arg-type]
    return ScorecardGateResult(command=command, experiment=exp, settings=settings,
                               questions=results, total=total,
                               allow_unreliable_gold=allow_unreliable_gold)

