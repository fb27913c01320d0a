"""The review of a session: per-item spread, flags, outliers, baseline distance, ICC.

Per item: the participants' scores side by side, ``n`` (numeric scores), N/A and missing
counted apart, mean, median, SD (sample SD, ``statistics.stdev``, as ``anchors lint``),
range and its share of the scale range. An item is *flagged* when its SD exceeds the
session's threshold (default 10% of the scale range). Flagged items come first, then by SD
(largest first).

Outlier rule: with at least 3 numeric scores, a rater is an outlier on an item when
``|score - median of the other raters' scores| >= outlier_distance`` (default 2 scale
points). On a 1–5 scale, ``1, 1, 4`` flags the rater of 4 (others' median 1, distance 3)
and neither rater of 1 (others' median 2.5, distance 1.5).

Agreement among participants uses :mod:`harness.agreement`: ICC(2,1) (two-way random,
absolute agreement, single rater: every participant scores every item, a crossed design,
and rater offsets count as disagreement), items with N/A or missing scores dropped
listwise; and Krippendorff's alpha (interval), which keeps incomplete items. Both are
computed on the participants who submitted: when the review was forced, those who had not
submitted are left out (:attr:`Review.left_out`), as their missing scores would otherwise
drop every item from the ICC.

Scorecard sessions: one row per (item, question), each with the question's own threshold
(``threshold_share`` of its range; on pass/fail any disagreement), label questions on their
codes ``0 .. k-1`` (unordered labels: flagged when the participants chose more than one
label, no mean or SD); ICC(2,1) and alpha per question (alpha at the question's level:
interval, ordinal or nominal; no ICC on unordered labels) and on the scorecard total
(:func:`harness.anchors.scorecard_total` of each participant's values).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.agreement import AgreementResult, icc, krippendorff_alpha
from harness.agreement._crowd import loo_medians
from harness.anchors import TOTAL, Criterion, scorecard_total
from harness.anchors._schema import NA
from harness.reports import exact_text, result_text

from . import _card
from ._store import Resolution, Score, Session, SessionInfo

ICC_FORM = "ICC(2,1)"
#: Effectiveness targets: ICC gain of the re-score round, and ICC of the final round.
ICC_GAIN_TARGET = 0.10
ANCHOR_ICC_TARGET = 0.85


@dataclass(frozen=True)
class ItemReview:
    """One item in the review."""

    item_id: str
    scores: dict[str, Score | None]  # participant -> score, "NA", or None (missing)
    n: int
    n_na: int
    n_missing: int
    mean: float | None
    median: float | None
    sd: float | None
    min: float | None
    max: float | None
    range: float | None
    range_share: float | None
    flagged: bool
    outliers: list[str]
    baseline: float | None
    baseline_delta: float | None  # item mean - baseline score
    resolution: Resolution | None
    #: The question (scorecard sessions; None otherwise), its threshold and modal share.
    criterion: str | None = None
    threshold: float | None = None
    modal_share: float | None = None

    @property
    def label(self) -> str:
        """``item`` or, in a scorecard session, ``item / question``."""
        return self.item_id if self.criterion is None else f"{self.item_id} / {self.criterion}"


@dataclass(frozen=True)
class QuestionAgreement:
    """Agreement among participants on one question of a scorecard (or its total)."""

    criterion: str
    label: str
    kind: str  # numeric, ordinal, nominal, or "total"
    threshold: float | None
    icc: AgreementResult
    alpha: AgreementResult
    n_flagged: int
    n_na: int


@dataclass(frozen=True)
class Review:
    """The whole review: items (flagged first), threshold, agreement among participants.

    In a scorecard session ``items`` holds one row per (item, question), ``threshold`` is
    the share of each question's range, ``icc`` and ``alpha`` are on the scorecard total
    and ``questions`` has the agreement per question, then ``"total"``.
    """

    session_id: str
    participants: list[str]
    threshold: float
    scale: tuple[float, float]
    items: list[ItemReview]
    icc: AgreementResult
    alpha: AgreementResult
    baseline_label: str | None = None
    forced_missing: list[str] = field(default_factory=list)
    #: Participants left out of ICC and alpha (not submitted when the review was forced).
    left_out: list[str] = field(default_factory=list)
    questions: dict[str, QuestionAgreement] = field(default_factory=dict)

    @property
    def flagged(self) -> list[ItemReview]:
        return [it for it in self.items if it.flagged]

    @property
    def agreement_raters(self) -> list[str]:
        """The participants ICC and alpha are computed on."""
        return [p for p in self.participants if p not in self.left_out]


def outlier_raters(scores: dict[str, float], distance: float) -> list[str]:
    """Raters whose score is at least ``distance`` from the median of the others' scores.

    Needs 3 or more scores (with 2, each would be the other's outlier); else empty.
    """
    if len(scores) < 3:
        return []
    values = np.array([list(scores.values())], dtype=float)
    others = loo_medians(values)[0]  # each rater's others' median, one sort for all
    return [r for r, s, m in zip(scores, values[0], others, strict=True)
            if abs(s - m) >= distance - 1e-9]


def _matrix(scores: dict[str, dict[str, Any]], items: list[str],
            raters: list[str]) -> list[list[float]]:
    rows = []
    for item in items:
        row = []
        for r in raters:
            v = scores.get(r, {}).get(item)
            row.append(float(v) if isinstance(v, int | float) else math.nan)
        rows.append(row)
    return rows


def participant_icc(scores: dict[str, dict[str, Any]], items: list[str],
                    raters: list[str]) -> AgreementResult:
    """ICC(2,1) among participants over ``items`` (listwise deletion of N/A and missing).

    ``scores`` is participant -> item -> value (a number, ``"NA"``); see
    :func:`question_values` for a scorecard question or its total.
    """
    return icc(_matrix(scores, items, raters), form=ICC_FORM)


def agreement_raters(info: SessionInfo) -> tuple[list[str], list[str]]:
    """(the participants agreement is computed on, those left out): everyone, less those
    who had not submitted when the review was forced."""
    left = [p for p in info.participant_ids if p in info.forced_missing]
    return [p for p in info.participant_ids if p not in left], left


def question_values(info: SessionInfo, coded: dict[str, dict[str, dict[str, Any]]],
                    criterion: str) -> dict[str, dict[str, Any]]:
    """Participant -> item -> value on one question (its code, ``"NA"``) or on the total
    (``criterion="total"``: :func:`scorecard_total` of the participant's values, ``"NA"``
    when every question is N/A, absent when a question is missing and none critical
    failed). ``""`` is a single-criterion session's one question."""
    out: dict[str, dict[str, Any]] = {}
    crits = info.criteria or []
    for pid, items in coded.items():
        row: dict[str, Any] = {}
        for item, qs in items.items():
            if criterion != TOTAL:
                if criterion in qs:
                    row[item] = qs[criterion]
                continue
            total = scorecard_total(crits, {c.id: qs.get(c.id) for c in crits})
            if total is not None:
                row[item] = total
        out[pid] = row
    return out


def _row(item: str, raw: dict[str, Any], shown: dict[str, Any], *, threshold: float,
         spec: Criterion | None, span: float, outlier_distance: float,
         baseline: float | None, resolution: Resolution | None) -> ItemReview:
    """One row of the review: an item (or an item's question) and its participants' values.

    ``raw`` holds the coded values (participant -> float, "NA" or None), ``shown`` what to
    display (the levels of a label question).
    """
    numeric = {r: float(v) for r, v in raw.items() if isinstance(v, int | float)}
    vals = list(numeric.values())
    nominal = spec is not None and spec.kind == "nominal"
    n_na = sum(1 for v in raw.values() if v == NA)
    n_missing = sum(1 for v in raw.values() if v is None)
    mean = math.fsum(vals) / len(vals) if vals and not nominal else None
    median = float(statistics.median(vals)) if vals and not nominal else None
    sd = statistics.stdev(vals) if len(vals) >= 2 and not nominal else None
    vmin, vmax = (min(vals), max(vals)) if vals and not nominal else (None, None)
    rng = vmax - vmin if vmin is not None and vmax is not None else None
    if spec is None:
        flagged = sd is not None and sd > threshold + 1e-12
        outs = outlier_raters(numeric, outlier_distance)
    else:
        flagged = _card.is_flagged(spec, vals, sd, threshold)
        outs = _card.outliers(spec, numeric, outlier_distance)
    return ItemReview(
        item_id=item, scores=shown, n=len(vals), n_na=n_na, n_missing=n_missing,
        mean=mean, median=median, sd=sd, min=vmin, max=vmax, range=rng,
        range_share=(rng / span) if rng is not None and span else None,
        flagged=flagged, outliers=outs, baseline=baseline,
        baseline_delta=(mean - baseline) if baseline is not None and mean is not None else None,
        resolution=resolution, criterion=None if spec is None else spec.id,
        threshold=threshold, modal_share=_card.modal_share(vals),
    )


def _spread(it: ItemReview) -> float:
    """How far the participants spread on a row, comparable across questions."""
    if it.range_share is None and it.modal_share is not None and it.sd is None:
        return 1.0 - it.modal_share  # unordered labels
    if it.sd is None:
        return 0.0
    span = (it.range / it.range_share) if it.range_share else None
    return it.sd / span if span else it.sd


def _undefined_icc(reason: str) -> AgreementResult:
    return AgreementResult("icc", None, reason=reason, details={"form": ICC_FORM})


def review(session: Session) -> Review:
    """Compute the review of a session's round-1 scores (any state; blindness is the
    caller's business, see :func:`scores_visible_to`)."""
    info = session.info
    coded = session.coded_scores(1)
    raters = info.participant_ids
    agree, left_out = agreement_raters(info)
    lo, hi = info.scale
    resolutions = session.pair_resolutions()
    base = info.baseline or {}
    items: list[ItemReview] = []
    questions: dict[str, QuestionAgreement] = {}
    if not info.is_scorecard:
        for item in info.item_ids:
            raw = {r: coded.get(r, {}).get(item, {}).get("") for r in raters}
            items.append(_row(item, raw, raw, threshold=info.threshold, spec=None,
                              span=hi - lo, outlier_distance=info.outlier_distance,
                              baseline=base.get(item), resolution=resolutions.get((item, None))))
        values = question_values(info, coded, "")
        matrix = _matrix(values, info.item_ids, agree)
        total_icc = icc(matrix, form=ICC_FORM)
        total_alpha = krippendorff_alpha(matrix, level="interval")
    else:
        share = info.threshold_share if info.threshold_share is not None else info.threshold
        for item in info.item_ids:
            for spec in info.criteria or []:
                raw = {r: coded.get(r, {}).get(item, {}).get(spec.id) for r in raters}
                shown = {r: _card.decode(spec, v) for r, v in raw.items()}
                clo, chi = _card.code_range(spec)
                b = base.get(item, {}).get(spec.id) if isinstance(base.get(item), dict) else None
                items.append(_row(item, raw, shown, threshold=_card.threshold(spec, share),
                                  spec=spec, span=chi - clo,
                                  outlier_distance=info.outlier_distance, baseline=b,
                                  resolution=resolutions.get((item, spec.id))))
        for spec in info.criteria or []:
            values = question_values(info, coded, spec.id)
            matrix = _matrix(values, info.item_ids, agree)
            rows = [it for it in items if it.criterion == spec.id]
            questions[spec.id] = QuestionAgreement(
                criterion=spec.id, label=spec.label, kind=spec.kind,
                threshold=_card.threshold(spec, share),
                icc=(icc(matrix, form=ICC_FORM) if spec.kind != "nominal" else _undefined_icc(
                    "unordered labels have no distance; see alpha (nominal)")),
                alpha=krippendorff_alpha(matrix, level=_card.alpha_level(spec)),
                n_flagged=sum(it.flagged for it in rows), n_na=sum(it.n_na for it in rows))
        values = question_values(info, coded, TOTAL)
        matrix = _matrix(values, info.item_ids, agree)
        total_icc = icc(matrix, form=ICC_FORM)
        total_alpha = krippendorff_alpha(matrix, level="interval")
        questions[TOTAL] = QuestionAgreement(
            criterion=TOTAL, label="scorecard total (0–1)", kind="total", threshold=None,
            icc=total_icc, alpha=total_alpha, n_flagged=0,
            n_na=sum(1 for p in agree for v in values.get(p, {}).values() if v == NA))
    order = {it.label: i for i, it in enumerate(items)}
    items.sort(key=lambda it: (not it.flagged, -_spread(it), order[it.label]))
    return Review(
        session_id=info.id, participants=raters, threshold=info.threshold, scale=info.scale,
        items=items, icc=total_icc, alpha=total_alpha, baseline_label=info.baseline_label,
        forced_missing=info.forced_missing, left_out=left_out, questions=questions,
    )


@dataclass(frozen=True)
class Effectiveness:
    """Did the discussion help? ICC(2,1) before vs after the re-score round.

    ``before`` and ``after`` are computed on the re-scored items only (round 1 vs round 2
    scores of the same items), so they compare like with like. ``anchor`` is the ICC of the
    final round over all session items (each participant's round-2 score where given, else
    round 1). A target is met when the figure is defined and reaches it.
    """

    items: list[str]
    before: AgreementResult
    after: AgreementResult | None
    anchor: AgreementResult
    gain_target: float = ICC_GAIN_TARGET
    anchor_target: float = ANCHOR_ICC_TARGET
    #: True in a scorecard session, where the figures are on the scorecard total.
    on_total: bool = False

    @property
    def gain(self) -> float | None:
        if self.after is None or self.after.value is None or self.before.value is None:
            return None
        return self.after.value - self.before.value

    @property
    def gain_met(self) -> bool | None:
        """None when there is no re-score round or the gain is undefined."""
        g = self.gain
        return None if g is None else g >= self.gain_target - 1e-12

    @property
    def anchor_met(self) -> bool:
        return self.anchor.value is not None and self.anchor.value >= self.anchor_target

    def summary(self) -> list[str]:
        """Plain-language lines, one per figure and target."""
        def fmt(r: AgreementResult | None) -> str:
            return "n/a (no re-score round)" if r is None else result_text(r)

        on = " on the scorecard total" if self.on_total else ""
        lines = [f"ICC(2,1){on} before the discussion ({len(self.items)} re-scored items): "
                 f"{fmt(self.before)}",
                 f"ICC(2,1) after (re-score round): {fmt(self.after)}"]
        g = self.gain
        if g is None:
            lines.append(f"gain target {exact_text(self.gain_target, sign=True)}: cannot be "
                         "assessed")
        else:
            lines.append(f"gain {exact_text(g, sign=True)}: target "
                         f"{exact_text(self.gain_target, sign=True)} "
                         f"{'met' if self.gain_met else 'NOT met'}")
        lines.append(f"anchor ICC(2,1) (final round, all items): {fmt(self.anchor)}: target "
                     f">= {exact_text(self.anchor_target)} "
                     f"{'met' if self.anchor_met else 'NOT met'}")
        return lines


def effectiveness(session: Session) -> Effectiveness:
    """ICC before vs after the re-score round, and the anchor ICC of the final round.

    On the participants of the review's agreement (see :func:`agreement_raters`); in a
    scorecard session on the scorecard total.
    """
    info = session.info
    raters, _ = agreement_raters(info)
    which = TOTAL if info.is_scorecard else ""
    r1 = question_values(info, session.coded_scores(1), which)
    sub = info.rescore_items or []
    before_items = sub or info.item_ids
    before = participant_icc(r1, before_items, raters)
    after = (participant_icc(question_values(info, session.coded_scores(2), which), sub,
                             raters) if sub else None)
    final = question_values(info, session.final_coded_scores(), which)
    anchor = participant_icc(final, info.item_ids, raters)
    return Effectiveness(items=list(sub), before=before, after=after, anchor=anchor,
                         on_total=info.is_scorecard)
