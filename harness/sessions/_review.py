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
listwise; and Krippendorff's alpha (interval), which keeps incomplete items.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from harness.agreement import AgreementResult, icc, krippendorff_alpha
from harness.anchors._schema import NA

from ._store import Resolution, Score, Session

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


@dataclass(frozen=True)
class Review:
    """The whole review: items (flagged first), threshold, agreement among participants."""

    session_id: str
    participants: list[str]
    threshold: float
    scale: tuple[float, float]
    items: list[ItemReview]
    icc: AgreementResult
    alpha: AgreementResult
    baseline_label: str | None = None
    forced_missing: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> list[ItemReview]:
        return [it for it in self.items if it.flagged]


def outlier_raters(scores: dict[str, float], distance: float) -> list[str]:
    """Raters whose score is at least ``distance`` from the median of the others' scores.

    Needs 3 or more scores (with 2, each would be the other's outlier); else empty.
    """
    if len(scores) < 3:
        return []
    out = []
    for rater, s in scores.items():
        others = [v for r, v in scores.items() if r != rater]
        if abs(s - statistics.median(others)) >= distance - 1e-9:
            out.append(rater)
    return out


def _matrix(scores: dict[str, dict[str, Score]], items: list[str],
            raters: list[str]) -> list[list[float]]:
    rows = []
    for item in items:
        row = []
        for r in raters:
            v = scores.get(r, {}).get(item)
            row.append(float(v) if isinstance(v, int | float) else math.nan)
        rows.append(row)
    return rows


def participant_icc(scores: dict[str, dict[str, Score]], items: list[str],
                    raters: list[str]) -> AgreementResult:
    """ICC(2,1) among participants over ``items`` (listwise deletion of N/A and missing)."""
    return icc(_matrix(scores, items, raters), form=ICC_FORM)


def review(session: Session) -> Review:
    """Compute the review of a session's round-1 scores (any state; blindness is the
    caller's business, see :func:`scores_visible_to`)."""
    info = session.info
    scores = session.scores(1)
    raters = info.participant_ids
    lo, hi = info.scale
    span = hi - lo
    resolutions = session.resolutions()
    base = info.baseline or {}
    items: list[ItemReview] = []
    for item in info.item_ids:
        row: dict[str, Score | None] = {r: scores.get(r, {}).get(item) for r in raters}
        numeric = {r: float(v) for r, v in row.items() if isinstance(v, int | float)}
        vals = list(numeric.values())
        n_na = sum(1 for v in row.values() if v == NA)
        n_missing = sum(1 for v in row.values() if v is None)
        mean = math.fsum(vals) / len(vals) if vals else None
        median = float(statistics.median(vals)) if vals else None
        sd = statistics.stdev(vals) if len(vals) >= 2 else None
        vmin, vmax = (min(vals), max(vals)) if vals else (None, None)
        rng = vmax - vmin if vals else None
        b = base.get(item)
        items.append(ItemReview(
            item_id=item, scores=row, n=len(vals), n_na=n_na, n_missing=n_missing,
            mean=mean, median=median, sd=sd, min=vmin, max=vmax, range=rng,
            range_share=(rng / span) if rng is not None and span else None,
            flagged=sd is not None and sd > info.threshold + 1e-12,
            outliers=outlier_raters(numeric, info.outlier_distance),
            baseline=b, baseline_delta=(mean - b) if b is not None and mean is not None else None,
            resolution=resolutions.get(item),
        ))
    order = {it.item_id: i for i, it in enumerate(items)}
    items.sort(key=lambda it: (not it.flagged, -(it.sd or 0.0), order[it.item_id]))
    matrix = _matrix(scores, info.item_ids, raters)
    return Review(
        session_id=info.id, participants=raters, threshold=info.threshold, scale=info.scale,
        items=items, icc=icc(matrix, form=ICC_FORM),
        alpha=krippendorff_alpha(matrix, level="interval"),
        baseline_label=info.baseline_label, forced_missing=info.forced_missing,
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
            if r is None:
                return "n/a (no re-score round)"
            return f"{r.value:.3f}" if r.value is not None else f"undefined ({r.reason})"

        lines = [f"ICC(2,1) before the discussion ({len(self.items)} re-scored items): "
                 f"{fmt(self.before)}",
                 f"ICC(2,1) after (re-score round): {fmt(self.after)}"]
        g = self.gain
        if g is None:
            lines.append(f"gain target +{self.gain_target:.2f}: cannot be assessed")
        else:
            lines.append(f"gain {g:+.3f}: target +{self.gain_target:.2f} "
                         f"{'met' if self.gain_met else 'NOT met'}")
        lines.append(f"anchor ICC(2,1) (final round, all items): {fmt(self.anchor)}: target "
                     f">= {self.anchor_target:.2f} {'met' if self.anchor_met else 'NOT met'}")
        return lines


def effectiveness(session: Session) -> Effectiveness:
    """ICC before vs after the re-score round, and the anchor ICC of the final round."""
    info = session.info
    raters = info.participant_ids
    r1 = session.scores(1)
    sub = info.rescore_items or []
    before_items = sub or info.item_ids
    before = participant_icc(r1, before_items, raters)
    after = participant_icc(session.scores(2), sub, raters) if sub else None
    anchor = participant_icc(session.final_scores(), info.item_ids, raters)
    return Effectiveness(items=list(sub), before=before, after=after, anchor=anchor)
