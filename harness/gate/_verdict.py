"""The verdict: figures -> bars -> outcomes, on what a gate measured.

The agreement report a gate decides on (:func:`gate_report`), the baseline's figures on the
candidate's footing, the paired loss tests of the regression bars and every bar's outcome
(:func:`evaluate_bars`). Pure computation on scores and tables: no I/O, no MLflow, no judge
or provider, no journal (``tests/test_gate_layers.py`` checks the imports).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from harness.agreement import AgreementResult, compare_to_reference, compare_to_references
from harness.anchors import RatingsTable
from harness.experiments import Experiment
from harness.reports import (
    AgreementReport,
    ReportSettings,
    agreement_report,
    like_for_like_references,
    primary_for,
)

from ._bars import Bar, BarResult, LossTest, ceiling_of, evaluate_bar, evaluate_regression
from ._stats import loss_test, plan_bar


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
