"""Proposing the items of a calibration session from an anchor set."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field

from harness._say import listed_text
from harness.anchors import AnchorSet, Scorecard, spectrum_bands
from harness.anchors._schema import SPLITS


@dataclass
class ProposedItem:
    """An item proposed for a session and why (``reasons``: the categories it fills).

    ``judge_score`` is the judge's score when judgments were given for the item, and
    ``judge_delta`` is ``judge_score - consensus`` (None without either).
    """

    item_id: str
    consensus: float | None
    sd: float | None
    judge_delta: float | None
    reasons: list[str] = field(default_factory=list)
    judge_score: float | None = None


def propose_items(
    anchor_set: AnchorSet, n: int = 12, judgments: Mapping[str, float] | None = None,
    split: str | None = None,
) -> list[ProposedItem]:
    """Propose ``n`` items that make a good calibration session.

    Categories, filled in turn (round-robin, one item each per turn, skipping items already
    taken): *low*, *mid* and *high* by consensus (the bands of :func:`spectrum_bands`: the
    bottom and top quarter of the scale range, and what lies between, lowest/highest/most
    central first), *boundary* (consensus closest to the scale midpoint, within ±0.5),
    *spread* (highest rater SD first) and, when ``judgments`` (item id -> judge score) are
    given, *disagreement* (largest ``|judge - consensus|`` first). A judgment that is not a
    finite number (e.g. NaN for an item without a valid judge score) counts as missing.
    ``split`` (``"calibration"`` or ``"holdout"``) proposes only that split's items: a
    session that changes holdout anchors makes the gate refuse the holdout figures of
    earlier calibrations until they are re-run.

    Raises
    ------
    ValueError
        ``n`` below 1, or ``judgments`` naming items that are not in the anchor set.

    Returns
    -------
    list of ProposedItem
        In the order picked; each lists every category it belongs to (the first is the one
        it was picked for).
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be 'calibration' or 'holdout', got {split!r}")
    judged: dict[str, float] = {}
    if judgments:
        known = {it.id for it in anchor_set.items}
        unknown = [i for i in judgments if i not in known]
        if unknown:
            shown = listed_text(unknown)
            raise ValueError(f"judgments name item(s) not in the anchor set "
                             f"{anchor_set.meta.name!r}: {shown}")
        judged = {i: float(v) for i, v in judgments.items()
                  if v is not None and math.isfinite(float(v))}
    high, low, (b_lo, b_hi) = spectrum_bands(anchor_set)
    mid_point = anchor_set.meta.scale.midpoint
    info: dict[str, ProposedItem] = {}
    pool = anchor_set if split is None else anchor_set.split(split)
    for it in pool.items:
        cons = it.formed_consensus(anchor_set.meta.consensus)
        vals = list(it.numeric_ratings().values())
        sd = statistics.stdev(vals) if len(vals) >= 2 else None
        j = judged.get(it.id)
        delta = (j - cons) if j is not None and cons is not None else None
        info[it.id] = ProposedItem(it.id, cons, sd, delta, judge_score=j)
    scored = [p for p in info.values() if p.consensus is not None]
    cats: dict[str, list[ProposedItem]] = {
        "low": sorted((p for p in scored if p.consensus <= low),  # type: ignore[operator]
                      key=lambda p: p.consensus),
        "mid": sorted((p for p in scored if low < p.consensus < high),  # type: ignore[operator]
                      key=lambda p: abs(p.consensus - mid_point)),  # type: ignore[operator]
        "high": sorted((p for p in scored if p.consensus >= high),  # type: ignore[operator]
                       key=lambda p: -p.consensus),  # type: ignore[operator]
        "boundary": sorted((p for p in scored
                            if b_lo <= p.consensus <= b_hi),  # type: ignore[operator]
                           key=lambda p: abs(p.consensus - mid_point)),  # type: ignore[operator]
        "spread": sorted((p for p in info.values() if p.sd is not None),
                         key=lambda p: -p.sd),  # type: ignore[operator]
    }
    if judgments:
        cats["disagreement"] = sorted((p for p in info.values() if p.judge_delta is not None),
                                      key=lambda p: -abs(p.judge_delta))  # type: ignore[arg-type]
    members = {name: {p.item_id for p in lst} for name, lst in cats.items()}
    picked: list[ProposedItem] = []
    taken: set[str] = set()
    cursors = dict.fromkeys(cats, 0)
    target = min(n, len(info))
    while len(picked) < target:
        progressed = False
        for name, lst in cats.items():
            if len(picked) >= target:
                break
            while cursors[name] < len(lst) and lst[cursors[name]].item_id in taken:
                cursors[name] += 1
            if cursors[name] < len(lst):
                p = lst[cursors[name]]
                p.reasons = [name] + [c for c in cats if c != name and p.item_id in members[c]]
                picked.append(p)
                taken.add(p.item_id)
                progressed = True
        if not progressed:
            break
    return picked


def propose_scorecard_items(
    card: Scorecard, n: int = 12,
    judgments: Mapping[str, Mapping[str, float]] | None = None, split: str | None = None,
) -> list[ProposedItem]:
    """Propose ``n`` items of a scorecard for a session: :func:`propose_items` on its total.

    The categories are those of :func:`propose_items` on the scorecard total's view (0–1):
    low, mid and high totals, the boundary (totals nearest 0.5), the spread of the raters'
    own totals, and, with ``judgments``, the gap between the judge's total (formed like a
    rater's from its score on every question) and the consensus total.

    Parameters
    ----------
    card : Scorecard
        The scorecard.
    n : int
        How many items.
    judgments : mapping, optional
        Criterion id -> item id -> the judge's score (a label question's as its code), for
        every question (``judge --out`` on a scorecard, read per question).
    split : str, optional
        Only this split's items.

    Returns
    -------
    list of ProposedItem
        As :func:`propose_items`, on the total's scale.

    Raises
    ------
    ValueError
        ``judgments`` missing a question or naming items that are not in the scorecard.
    """
    from harness.judgments import totals_from_scores

    total = card.total()
    judged = None
    if judgments is not None:
        missing = [c for c in card.criterion_ids if c not in judgments]
        if missing:
            raise ValueError(f"the judgments have no score on {', '.join(missing)}: the "
                             "judge's total needs every question")
        known = {it.id for it in card.items}
        unknown = sorted({i for sc in judgments.values() for i in sc if i not in known})
        if unknown:
            raise ValueError(f"judgments name item(s) not in the scorecard "
                             f"{card.meta.name!r}: {', '.join(unknown[:10])}")
        ids = [it.id for it in total.items]
        values = totals_from_scores(card, {c: dict(v) for c, v in judgments.items()}, ids)
        judged = dict(zip(ids, (float(v) for v in values), strict=True))
    return propose_items(total, n=n, judgments=judged, split=split)

