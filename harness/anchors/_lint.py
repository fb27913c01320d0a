"""Lint an anchor set against the calibration guidance (warnings and notes, never errors)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Literal

from ._load import AnchorSet, normalize_output
from ._schema import AnchorItem, fmt_num

#: Calibration split size the guidance asks for.
CALIBRATION_MIN, CALIBRATION_MAX = 15, 25
#: Items wanted in each band of the spectrum (clearly high, clearly low, boundary).
MIN_PER_BAND = 3
#: Width of the "clearly high" / "clearly low" bands, as a share of the scale range.
BAND_FRACTION = 0.25
#: Half-width of the boundary band around the scale midpoint, in scale points.
BOUNDARY_HALF_WIDTH = 0.5
#: Fewer numeric ratings than this per item make its consensus unreliable.
MIN_RATERS = 3
#: An item's rater SD above this share of the scale range is noted as high spread.
SPREAD_FRACTION = 0.10
#: A holdout split smaller than this gives agreement figures with very wide intervals.
HOLDOUT_MIN = 10
#: At most this many ids are listed in one finding.
_MAX_IDS = 10


@dataclass(frozen=True)
class LintFinding:
    """One lint finding.

    Attributes
    ----------
    level : {"warning", "info"}
        ``warning``: the set falls short of the guidance; ``info``: worth knowing.
    code : str
        Stable identifier, e.g. ``calibration-size`` or ``high-spread``.
    message : str
        What was found, in words.
    item_id : str or None
        The item concerned, for per-item findings.
    """

    level: Literal["warning", "info"]
    code: str
    message: str
    item_id: str | None = None


def spectrum_bands(aset: AnchorSet) -> tuple[float, float, tuple[float, float]]:
    """The thresholds of the spectrum check for the set's scale.

    Returns
    -------
    high : float
        Consensus at or above this is *clearly high* (top quarter of the scale range).
    low : float
        Consensus at or below this is *clearly low* (bottom quarter).
    boundary : tuple of float
        Consensus within this closed interval (midpoint ± 0.5) is a *boundary* item.
    """
    scale = aset.meta.scale
    high = scale.max - BAND_FRACTION * scale.range
    low = scale.min + BAND_FRACTION * scale.range
    mid = scale.midpoint
    return high, low, (mid - BOUNDARY_HALF_WIDTH, mid + BOUNDARY_HALF_WIDTH)


def _ids(items: list[AnchorItem]) -> str:
    names = [it.id for it in items]
    text = ", ".join(names[:_MAX_IDS])
    return text + (f", … ({len(names)} in all)" if len(names) > _MAX_IDS else "")


def lint_anchor_set(aset: AnchorSet) -> list[LintFinding]:
    """Check an anchor set against the calibration guidance.

    Parameters
    ----------
    aset : AnchorSet
        A loaded set (both splits).

    Returns
    -------
    list of LintFinding
        Warnings first, then notes; empty when the set meets the guidance.

    Notes
    -----
    Checks (codes in brackets):

    * 15–25 calibration items [``calibration-size``].
    * The calibration consensus covers the spectrum: at least 3 *clearly high* items
      (consensus in the top quarter of the scale range, e.g. >= 4.75 on 1–6), 3 *clearly low*
      (bottom quarter, <= 2.25 on 1–6) and 3 *boundary* items (within 0.5 of the scale
      midpoint, 3.0–4.0 on 1–6) [``spectrum-high``, ``spectrum-low``, ``spectrum-boundary``].
    * Every item has a rationale [``missing-rationale``, the ids listed].
    * Some calibration items document an edge case [``no-edge-cases``].
    * A holdout split exists [``no-holdout``], has at least 10 items [``holdout-small``] and
      shares no id or output with the calibration split [``holdout-overlap``].
    * Each item has at least 3 numeric ratings [``few-raters``].
    * Note: items whose rater SD exceeds 10% of the scale range [``high-spread``, info].
    * Note: the header names no source or licence [``provenance``, info].
    """
    warnings: list[LintFinding] = []
    infos: list[LintFinding] = []
    rule = aset.meta.consensus
    scale = aset.meta.scale
    cal = [it for it in aset.items if it.split == "calibration"]
    hold = [it for it in aset.items if it.split == "holdout"]

    def warn(code: str, message: str, item_id: str | None = None) -> None:
        warnings.append(LintFinding("warning", code, message, item_id))

    if not CALIBRATION_MIN <= len(cal) <= CALIBRATION_MAX:
        why = ("too few to show the judge the range of the scale" if len(cal) < CALIBRATION_MIN
               else "more than a prompt can carry or a reviewer can check")
        warn("calibration-size", f"{len(cal)} calibration items; the guidance is "
                                 f"{CALIBRATION_MIN}–{CALIBRATION_MAX} ({why})")

    high, low, (b_lo, b_hi) = spectrum_bands(aset)
    cons = [(it, it.formed_consensus(rule)) for it in cal]
    n_high = sum(1 for _, c in cons if c is not None and c >= high)
    n_low = sum(1 for _, c in cons if c is not None and c <= low)
    n_boundary = sum(1 for _, c in cons if c is not None and b_lo <= c <= b_hi)
    for code, n, what in (
        ("spectrum-high", n_high, f"clearly high (consensus >= {fmt_num(high)}, the top "
                                  f"quarter of the {scale.describe()} scale)"),
        ("spectrum-low", n_low, f"clearly low (consensus <= {fmt_num(low)}, the bottom "
                                f"quarter of the {scale.describe()} scale)"),
        ("spectrum-boundary", n_boundary, f"boundary (consensus {fmt_num(b_lo)}–"
                                          f"{fmt_num(b_hi)}, within {BOUNDARY_HALF_WIDTH:g} "
                                          "of the scale midpoint)"),
    ):
        if n < MIN_PER_BAND:
            warn(code, f"{n} {what} calibration item(s); want at least {MIN_PER_BAND}")

    no_rationale = [it for it in aset.items if not (it.rationale or "").strip()]
    if no_rationale:
        warn("missing-rationale", f"{len(no_rationale)} item(s) have no rationale: "
                                  f"{_ids(no_rationale)}")

    if cal and not any((it.edge_case or "").strip() for it in cal):
        warn("no-edge-cases", "no calibration item documents an edge case (edge_case); note "
                              "the hard or surprising cases the judge should learn from")

    if not hold:
        warn("no-holdout", "no holdout items: agreement measured on the calibration items "
                           "alone is optimistic, since the prompt was tuned on them")
    elif len(hold) < HOLDOUT_MIN:
        warn("holdout-small", f"only {len(hold)} holdout item(s); with fewer than "
                              f"{HOLDOUT_MIN} the agreement figures have very wide intervals")
    cal_ids = {it.id: it for it in cal}
    cal_outputs = {normalize_output(it.output): it for it in cal}
    for it in hold:
        if it.id in cal_ids:
            warn("holdout-overlap", f"id {it.id!r} is in both splits", it.id)
        twin = cal_outputs.get(normalize_output(it.output))
        if twin is not None:
            warn("holdout-overlap", f"same output as calibration item {twin.id!r}", it.id)

    threshold = SPREAD_FRACTION * scale.range
    for it in aset.items:
        values = list(it.numeric_ratings().values())
        if len(values) < MIN_RATERS:
            extra = " (the explicit consensus rests on them)" if it.consensus is not None else ""
            warn("few-raters", f"{len(values)} numeric rating(s), fewer than {MIN_RATERS}: "
                               f"the consensus is unreliable{extra}", it.id)
        if len(values) >= 2:
            sd = statistics.stdev(values)
            if sd > threshold:
                infos.append(LintFinding(
                    "info", "high-spread",
                    f"raters disagree: SD {sd:.2f} > {threshold:.2f} ({SPREAD_FRACTION:.0%} of "
                    f"the scale range), scores {fmt_num(min(values))}–{fmt_num(max(values))} "
                    f"from {len(values)} raters",
                    it.id,
                ))

    missing_prov = [k for k in ("source", "licence") if not getattr(aset.meta, k)]
    if missing_prov:
        infos.append(LintFinding("info", "provenance",
                                 f"the header gives no {' or '.join(missing_prov)}"))
    return warnings + infos
