"""The agreement report of a scorecard: one full report per criterion and one on the total,
with the questions ranked by how much the humans agree and by the judge's gap to them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from harness.agreement import jsonable
from harness.anchors import RatingsTable

from ._agreement import AgreementReport, ReportSettings, agreement_report

#: The id of the total's report (the scorecard total, 0–1).
TOTAL = "total"


def primary_for(kind: str, scale: tuple[float, float], numeric_primary: str = "icc") -> str:
    """The judge figure a criterion's verdict is about, by the kind of its scale.

    Parameters
    ----------
    kind : {"numeric", "ordinal", "nominal"}
    scale : tuple of float
        The criterion's (coded) scale.
    numeric_primary : str
        The primary figure of numeric criteria (``--primary``; ICC(2,1) by default).

    Returns
    -------
    str
        ``numeric_primary`` for numeric scales; ``weighted_kappa`` for ordered labels (on
        two labels, pass/fail, quadratic-weighted κ is Cohen's κ); ``exact_agreement``
        (percent agreement) for unordered labels, where no weighting or correlation has a
        meaning.

    Examples
    --------
    >>> primary_for("numeric", (1, 5)), primary_for("ordinal", (0, 1))
    ('icc', 'weighted_kappa')
    >>> primary_for("nominal", (0, 2))
    'exact_agreement'
    """
    if kind == "numeric":
        return numeric_primary
    return "weighted_kappa" if kind == "ordinal" else "exact_agreement"


def human_figure(report: AgreementReport) -> tuple[str, float | None]:
    """The humans' agreement on one question, comparable across scale kinds.

    Krippendorff's α at the level the scale allows: interval for numeric scales and the
    total, ordinal for ordered labels, nominal for unordered labels (Krippendorff 2011).
    α is defined for any number of raters and missing ratings, and 1 / 0 mean perfect /
    chance agreement on every kind, so the questions can be ranked on it.

    Returns
    -------
    tuple of (str, float or None)
        The figure's name and value.
    """
    h = report.human
    kind = report.settings.scale_kind
    if kind == "nominal":
        res = h["categorical"]["krippendorff_alpha_nominal"]
        return "Krippendorff α (nominal)", res.value
    if kind == "ordinal":
        return "Krippendorff α (ordinal)", h["krippendorff_alpha_ordinal"].value
    return "Krippendorff α (interval)", h["krippendorff_alpha"].value


@dataclass
class ScorecardReport:
    """Every figure of ``judgecal agree`` on a scorecard.

    Attributes
    ----------
    source : str
    criteria : dict of str to AgreementReport
        One full report per criterion, in the scorecard's order; each with its own scale,
        kind (``settings.scale_kind``) and primary figure (``settings.primary``).
    total : AgreementReport or None
        The report on the scorecard total (0–1), when the criteria are known.
    labels : dict of str to str
        Criterion id -> its label.
    """

    source: str
    criteria: dict[str, AgreementReport]
    total: AgreementReport | None = None
    labels: dict[str, str] = field(default_factory=dict)

    def ranking(self) -> dict[str, list[dict[str, Any]]]:
        """The questions ranked two ways.

        Returns
        -------
        dict
            ``by_human_agreement``: every criterion, least agreement first (the "questions
            that confuse raters"): ``criterion``, ``label``, ``figure``, ``value`` (see
            :func:`human_figure`), ``flagged_items`` (items over the spread threshold) and
            ``n_items``; undefined figures last. ``by_judge_gap`` (with a judge): the
            judge's primary figure minus the human ceiling's median on it, largest shortfall
            first: ``criterion``, ``label``, ``figure``, ``judge``, ``ceiling``, ``gap``
            (undefined last).
        """
        human = []
        for cid, rep in self.criteria.items():
            name, value = human_figure(rep)
            human.append({"criterion": cid, "label": self.labels.get(cid, cid),
                          "figure": name, "value": value,
                          "flagged_items": rep.human["n_items_over_threshold"],
                          "n_items": len(rep.item_ids)})
        human.sort(key=lambda r: (r["value"] is None,
                                  r["value"] if r["value"] is not None else 0.0))
        out: dict[str, list[dict[str, Any]]] = {"by_human_agreement": human}
        if any(rep.judge is not None for rep in self.criteria.values()):
            gaps = []
            for cid, rep in self.criteria.items():
                if rep.judge is None:
                    continue
                primary = rep.settings.primary
                judge = rep.judge["figures"][primary].value
                ceiling = (rep.judge["ceiling"].get(primary) or {}).get("median")
                gap = _gap(primary, judge, ceiling)
                gaps.append({"criterion": cid, "label": self.labels.get(cid, cid),
                             "figure": primary, "judge": judge, "ceiling": ceiling,
                             "gap": gap})
            gaps.sort(key=lambda r: (r["gap"] is None,
                                     r["gap"] if r["gap"] is not None else 0.0))
            out["by_judge_gap"] = gaps
        return out

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` document: ``criteria`` (each a one-criterion report's document),
        ``total`` and ``ranking``."""
        return jsonable({
            "judgecal_report": 1,
            "kind": "scorecard",
            "source": self.source,
            "criteria": {cid: {**rep.to_dict(), "label": self.labels.get(cid, cid),
                               "scale_kind": rep.settings.scale_kind}
                         for cid, rep in self.criteria.items()},
            "total": self.total.to_dict() if self.total is not None else None,
            "ranking": self.ranking(),
        })


def _gap(name: str, judge: float | None, ceiling: float | None) -> float | None:
    """Judge minus ceiling, in the better direction (negative: the judge is worse)."""
    from ._agreement import CLOSER_TO_ZERO_IS_BETTER, LOWER_IS_BETTER

    if judge is None or ceiling is None:
        return None
    if name in LOWER_IS_BETTER:
        return float(ceiling - judge)
    if name in CLOSER_TO_ZERO_IS_BETTER:
        return float(abs(ceiling) - abs(judge))
    return float(judge - ceiling)


def scorecard_report(
    tables: Mapping[str, RatingsTable],
    *,
    kinds: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    total: RatingsTable | None = None,
    judge: str | None = None,
    judge_scores: Mapping[str, np.ndarray] | None = None,
    settings: ReportSettings | None = None,
    source: str = "",
) -> ScorecardReport:
    """The agreement report of every criterion of a scorecard, and of its total.

    Each criterion gets the full one-criterion report (:func:`agreement_report`) on its own
    table and scale: human reliability (plus percent agreement, Gwet's AC1, Fleiss' κ and
    nominal α on label scales), the human ceiling, the chance baseline and the verdict, on
    the primary figure its kind calls for (:func:`primary_for`). The alt-test aligns by
    exact match on label scales. The total is reported like a numeric criterion.

    Parameters
    ----------
    tables : mapping of str to RatingsTable
        Criterion id -> its ratings (label scales as codes 0..k-1), in the scorecard's order.
    kinds : mapping of str to str, optional
        Criterion id -> ``numeric``, ``ordinal`` or ``nominal`` (default: numeric).
    labels : mapping of str to str, optional
        Criterion id -> its label, for display.
    total : RatingsTable, optional
        The ratings of the total (0–1); its report is ``total``.
    judge : str, optional
        The rater id of the judge in every table (taken out of the human figures).
    judge_scores : mapping of str to ndarray, optional
        Criterion id (and ``"total"``) -> judge scores aligned with that table's items,
        as an alternative to ``judge``.
    settings : ReportSettings, optional
        Shared settings; ``primary`` applies to numeric criteria, ``scale_kind`` and the
        alt-test alignment are set per criterion.
    source : str

    Returns
    -------
    ScorecardReport
    """
    settings = settings or ReportSettings()
    kinds = dict(kinds or {})
    reports: dict[str, AgreementReport] = {}
    for cid, table in tables.items():
        kind = kinds.get(cid, "numeric")
        scale = table.scale or (0.0, 1.0)
        mine = replace(settings, scale_kind=kind,
                       primary=primary_for(kind, scale, settings.primary),
                       alt_test_alignment="exact" if kind != "numeric"
                       else settings.alt_test_alignment)
        reports[cid] = _one(table, judge, judge_scores, cid, mine)
    total_report = None
    if total is not None:
        total_report = _one(total, judge, judge_scores, TOTAL,
                            replace(settings, scale_kind="numeric"))
    return ScorecardReport(source=source, criteria=reports, total=total_report,
                           labels=dict(labels or {}))


def _one(table: RatingsTable, judge: str | None,
         judge_scores: Mapping[str, np.ndarray] | None, cid: str,
         settings: ReportSettings) -> AgreementReport:
    """One question's report; a named judge who did not rate this question gets no scores."""
    if judge is not None and judge not in table.rater_ids:
        return agreement_report(table, judge_scores=np.full(len(table.item_ids), np.nan),
                                settings=settings)
    scores = None if judge_scores is None else judge_scores.get(cid)
    return agreement_report(table, judge=judge, judge_scores=scores, settings=settings)
