"""Lint an anchor set against the calibration guidance (warnings and notes, never errors)."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, replace
from typing import Literal

from harness._say import exact_text, listed_text, scale_text, share_text

from ._load import AnchorSet, normalize_output
from ._schema import NA, AnchorItem, fmt_num
from ._scorecard import TOTAL, Scorecard

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
#: Half-width of the total's boundary band around 0.5 (the total is on 0–1).
TOTAL_BOUNDARY_HALF_WIDTH = 0.1
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
    criterion : str or None
        For a scorecard: the criterion concerned (``"total"`` for the total), or None for a
        finding about the whole set. Always None for a single-criterion set.
    """

    level: Literal["warning", "info"]
    code: str
    message: str
    item_id: str | None = None
    criterion: str | None = None


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
    return listed_text([it.id for it in items], _MAX_IDS)


def lint_anchor_set(aset: AnchorSet | Scorecard) -> list[LintFinding]:
    """Check an anchor set (or a scorecard) against the calibration guidance.

    Parameters
    ----------
    aset : AnchorSet or Scorecard
        A loaded set (both splits). A single-criterion :class:`Scorecard` is linted as its
        set; a scorecard of several criteria by :func:`lint_scorecard`.

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
    if isinstance(aset, Scorecard):
        if not aset.is_single:
            return lint_scorecard(aset)
        aset = aset.criterion(aset.criterion_ids[0])
    warnings: list[LintFinding] = []
    infos: list[LintFinding] = []
    cal = [it for it in aset.items if it.split == "calibration"]
    hold = [it for it in aset.items if it.split == "holdout"]
    _check_size(cal, warnings)
    _check_spectrum(aset, warnings)
    _check_rationale(aset.items, warnings)
    _check_edge_cases([bool((it.edge_case or "").strip()) for it in cal], warnings)
    _check_holdout(cal, hold, warnings)
    _check_raters(aset, warnings, infos)
    _check_provenance(aset.meta.source, aset.meta.licence, infos)
    return warnings + infos


def lint_scorecard(card: Scorecard) -> list[LintFinding]:
    """Check a scorecard: the whole set, each criterion, and the total.

    Parameters
    ----------
    card : Scorecard
        A loaded scorecard (both splits).

    Returns
    -------
    list of LintFinding
        Warnings first (the whole set's, then each criterion's in header order, then the
        total's), then notes in the same order; ``criterion`` names the criterion of a
        per-criterion finding (``"total"`` for the total).

    Notes
    -----
    The whole set: ``calibration-size``, ``no-edge-cases`` (no calibration item has an edge
    case note on any criterion), ``no-holdout`` / ``holdout-small`` / ``holdout-overlap``,
    ``provenance``, as for a single set.

    Each criterion, on its view (:meth:`Scorecard.criterion`):

    * numeric: the spectrum (``spectrum-high`` / ``-low`` / ``-boundary``), ``few-raters``,
      ``high-spread``, as for a single set;
    * labels: ``spectrum-level``, at least 3 calibration items whose consensus is each level;
      ``spectrum-boundary``, at least 3 calibration items on which the raters did not all
      give the same label (the contested cases that show the judge where the line is);
      ``few-raters``;
    * ``missing-rationale``: items with no rationale for the criterion;
    * N/A use: ``na-split`` (warning) an item some raters marked N/A and others scored;
      ``na-unused`` (info) a criterion that allows N/A no rater used;
      ``not-applicable`` (info) the items every rater marked N/A (left out of its view).

    The total (:meth:`Scorecard.total`): the spectrum on 0–1 (clearly high >= 0.75,
    clearly low <= 0.25, boundary within 0.1 of 0.5) and, as a note, ``critical-failures``:
    the items whose total is 0 because a critical criterion failed.
    """
    warnings: list[LintFinding] = []
    infos: list[LintFinding] = []
    cal = [it for it in card.items if it.split == "calibration"]
    hold = [it for it in card.items if it.split == "holdout"]
    _check_size(cal, warnings)
    has_edge = [any((it.note("edge_case", c) or "").strip() for c in card.criterion_ids)
                for it in cal]
    _check_edge_cases(has_edge, warnings)
    _check_holdout(cal, hold, warnings)
    _check_provenance(card.meta.source, card.meta.licence, infos)
    whole = len(warnings), len(infos)
    per: list[tuple[list[LintFinding], list[LintFinding]]] = []
    for spec in card.criteria:
        view = card.criterion(spec.id)
        w: list[LintFinding] = []
        i: list[LintFinding] = []
        if spec.kind == "numeric":
            _check_spectrum(view, w)
        else:
            _check_levels(view, w)
        _check_rationale(view.items, w)
        _check_raters(view, w, i)
        _check_na(card, spec.id, spec.na_allowed, w, i)
        per.append(([replace(f, criterion=spec.id) for f in w],
                     [replace(f, criterion=spec.id) for f in i]))
    total = card.total()
    w, i = [], []
    _check_spectrum(total, w, boundary_half_width=TOTAL_BOUNDARY_HALF_WIDTH)
    _check_critical(card, total, i)
    per.append(([replace(f, criterion=TOTAL) for f in w],
                [replace(f, criterion=TOTAL) for f in i]))
    out = warnings[:whole[0]]
    for w, _ in per:
        out += w
    out += infos[:whole[1]]
    for _, i in per:
        out += i
    return out


# --------------------------------------------------------------------------- checks


def _check_size(cal: list, warnings: list[LintFinding]) -> None:
    if not CALIBRATION_MIN <= len(cal) <= CALIBRATION_MAX:
        why = ("too few to show the judge the range of the scale" if len(cal) < CALIBRATION_MIN
               else "more than a prompt can carry or a reviewer can check")
        warnings.append(LintFinding(
            "warning", "calibration-size", f"{len(cal)} calibration items; the guidance is "
                                           f"{CALIBRATION_MIN}–{CALIBRATION_MAX} ({why})"))


def _check_spectrum(aset: AnchorSet, warnings: list[LintFinding],
                    boundary_half_width: float = BOUNDARY_HALF_WIDTH) -> None:
    rule = aset.meta.consensus
    scale = aset.meta.scale
    cal = [it for it in aset.items if it.split == "calibration"]
    high, low, _ = spectrum_bands(aset)
    b_lo, b_hi = scale.midpoint - boundary_half_width, scale.midpoint + boundary_half_width
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
                                          f"{fmt_num(b_hi)}, within {boundary_half_width:g} "
                                          "of the scale midpoint)"),
    ):
        if n < MIN_PER_BAND:
            warnings.append(LintFinding(
                "warning", code, f"{n} {what} calibration item(s); want at least {MIN_PER_BAND}"))


def _check_levels(view: AnchorSet, warnings: list[LintFinding]) -> None:
    """The spectrum of a label criterion: each level, and contested items."""
    spec = view.spec
    assert spec.scale.levels is not None
    cal = [it for it in view.items if it.split == "calibration"]
    counts = Counter(it.formed_consensus(view.meta.consensus) for it in cal)
    for code, level in enumerate(spec.scale.levels):
        n = counts.get(float(code), 0)
        if n < MIN_PER_BAND:
            warnings.append(LintFinding(
                "warning", "spectrum-level", f"{n} calibration item(s) with the consensus "
                                             f"{level!r}; want at least {MIN_PER_BAND}"))
    contested = sum(1 for it in cal if len(set(it.numeric_ratings().values())) > 1)
    if contested < MIN_PER_BAND:
        warnings.append(LintFinding(
            "warning", "spectrum-boundary", f"{contested} boundary calibration item(s) (raters "
                                            f"gave different labels); want at least "
                                            f"{MIN_PER_BAND}"))


def _check_rationale(items: list[AnchorItem], warnings: list[LintFinding]) -> None:
    no_rationale = [it for it in items if not (it.rationale or "").strip()]
    if no_rationale:
        warnings.append(LintFinding(
            "warning", "missing-rationale", f"{len(no_rationale)} item(s) have no rationale: "
                                            f"{_ids(no_rationale)}"))


def _check_edge_cases(has_edge: list[bool], warnings: list[LintFinding]) -> None:
    if has_edge and not any(has_edge):
        warnings.append(LintFinding(
            "warning", "no-edge-cases", "no calibration item documents an edge case "
                                        "(edge_case); note the hard or surprising cases the "
                                        "judge should learn from"))


def _check_holdout(cal: list[AnchorItem], hold: list[AnchorItem],
                   warnings: list[LintFinding]) -> None:
    def warn(code: str, message: str, item_id: str | None = None) -> None:
        warnings.append(LintFinding("warning", code, message, item_id))

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


def _check_raters(aset: AnchorSet, warnings: list[LintFinding],
                  infos: list[LintFinding]) -> None:
    scale = aset.meta.scale
    labels = aset.spec.kind != "numeric"
    threshold = SPREAD_FRACTION * scale.range
    for it in aset.items:
        values = list(it.numeric_ratings().values())
        if len(values) < MIN_RATERS:
            extra = " (the explicit consensus rests on them)" if it.consensus is not None else ""
            warnings.append(LintFinding(
                "warning", "few-raters", f"{len(values)} numeric rating(s), fewer than "
                                         f"{MIN_RATERS}: the consensus is unreliable{extra}",
                it.id))
        if len(values) >= 2 and not labels:
            sd = statistics.stdev(values)
            if sd > threshold:
                infos.append(LintFinding(
                    "info", "high-spread",
                    f"raters disagree: SD {exact_text(sd)} > {exact_text(threshold)} "
                    f"({share_text(SPREAD_FRACTION)} of "
                    f"the scale range), scores {scale_text(min(values), max(values))} "
                    f"from {len(values)} raters",
                    it.id,
                ))


def _check_na(card: Scorecard, cid: str, na_allowed: bool, warnings: list[LintFinding],
              infos: list[LintFinding]) -> None:
    """How a criterion's N/A mark is used: split items, never used, items left out."""
    all_na = []
    any_na = False
    for it in card.items:
        values = list(it.ratings.get(cid, {}).values())
        n_na = sum(1 for v in values if v == NA)
        n_scored = sum(1 for v in values if v is not None and v != NA)
        any_na = any_na or n_na > 0
        if n_na and n_scored:
            warnings.append(LintFinding(
                "warning", "na-split", f"{n_na} rater(s) marked the question not applicable, "
                                       f"{n_scored} scored it: raters disagree whether it "
                                       "applies", it.id))
        elif n_na and it.consensus.get(cid) is None:
            all_na.append(it)
    if na_allowed and not any_na:
        infos.append(LintFinding("info", "na-unused", "N/A is allowed but no rater used it"))
    if all_na:
        infos.append(LintFinding(
            "info", "not-applicable", f"{len(all_na)} item(s) every rater marked N/A, left out "
                                      f"of this criterion's view and total: {_ids(all_na)}"))


def _check_critical(card: Scorecard, total: AnchorSet, infos: list[LintFinding]) -> None:
    critical = [c for c in card.criteria if c.critical]
    if not critical:
        return
    failed = []
    for it in total.items:
        names = []
        for c in critical:
            view = card.criterion(c.id)
            try:
                vi = view.item(it.id)
            except KeyError:
                continue
            value = vi.formed_consensus(view.meta.consensus)
            if value is not None and c.fails(value):
                names.append(c.id)
        if names:
            failed.append((it, names))
    if failed:
        infos.append(LintFinding(
            "info", "critical-failures",
            f"{len(failed)} of {len(total.items)} item(s) have a total of 0 because the "
            f"consensus fails a critical criterion: "
            + listed_text([f"{it.id} ({'/'.join(n)})" for it, n in failed], _MAX_IDS)))


def _check_provenance(source: str | None, licence: str | None,
                      infos: list[LintFinding]) -> None:
    missing_prov = [k for k, v in (("source", source), ("licence", licence)) if not v]
    if missing_prov:
        infos.append(LintFinding("info", "provenance",
                                 f"the header gives no {' or '.join(missing_prov)}"))
