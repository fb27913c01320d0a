"""The agreement report: human reliability, and a judge against the human consensus."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness._say import (
    figure_text,
    number_text,
    percent,
    range_text,
    result_text,
    scale_text,
    undefined_text,
    verdict_word,
)
from harness.agreement import (
    ALIGNMENTS,
    DEFAULT_EPSILON,
    PAIRED_FIGURES,
    AgreementResult,
    alpha_interval_ci,
    alt_test,
    compare_to_reference,
    confusion_counts,
    fleiss_kappa,
    gwet_ac1,
    icc_all,
    icc_oneway_forms,
    jsonable,
    krippendorff_alpha,
    percent_agreement,
    round_to_scale,
    undefined,
)
from harness.agreement._bootstrap import check_resamples
from harness.agreement._crowd import item_sums, loo_mean_column, loo_mean_pairs
from harness.agreement._loo import compare_to_references, reference_points
from harness.agreement._matrix import observed_cells, shared_cells
from harness.anchors import RatingsTable

#: How each paired figure is labelled and which direction is better.
FIGURE_LABELS = {
    "spearman": "Spearman ρ",
    "kendall_tau_b": "Kendall τ-b",
    "icc": "ICC(2,1)",
    "weighted_kappa": "κ (quadratic)",
    "krippendorff_alpha": "Krippendorff α (interval)",
    "exact_agreement": "exact agreement",
    "within_one": "within-one agreement",
    "mae": "MAE",
    "bias": "bias (judge − consensus)",
    "alt_test": "alt-test winning rate ω",
    "pearson": "Pearson r",  # judgecal plan's third figure
}
LOWER_IS_BETTER = {"mae"}
CLOSER_TO_ZERO_IS_BETTER = {"bias"}

#: Modified z-score above which a rater is flagged as an outlier (Iglewicz & Hoaglin 1993).
OUTLIER_Z = 3.5
#: The kinds of scale a report knows (a scorecard criterion's ``scale.kind``).
SCALE_KINDS: tuple[str, ...] = ("numeric", "ordinal", "nominal")


@dataclass
class ReportSettings:
    """Knobs of the agreement report."""

    n_resamples: int = 1000
    seed: int = 0
    confidence: float = 0.95
    spread_threshold: float | None = None  # SD above which an item is flagged; None = 10% range
    primary: str = "icc"
    alt_test_epsilon: float = DEFAULT_EPSILON  # the alt-test's cost-benefit penalty
    alt_test_alignment: str = "absolute"
    #: ``numeric``, or a label scale coded 0..k-1: ``ordinal`` (ordered labels, pass/fail)
    #: or ``nominal``; label scales add the categorical figures among humans.
    scale_kind: str = "numeric"

    def __post_init__(self) -> None:
        check_resamples(self.n_resamples)
        if self.scale_kind not in SCALE_KINDS:
            raise ValueError(f"unknown scale kind {self.scale_kind!r}; use one of "
                             f"{', '.join(SCALE_KINDS)}")
        eps = self.alt_test_epsilon
        if isinstance(eps, bool) or not (isinstance(eps, float | int) and 0 <= eps < 1):
            raise ValueError(f"alt_test_epsilon (--epsilon) must be a number in [0, 1), "
                             f"got {eps!r}")
        if self.alt_test_alignment not in ALIGNMENTS:
            raise ValueError(f"unknown alt-test alignment {self.alt_test_alignment!r}; use "
                             f"one of {', '.join(ALIGNMENTS)}")
        if not (isinstance(self.confidence, float | int) and 0 < self.confidence < 1):
            raise ValueError(f"confidence must be a number between 0 and 1, got "
                             f"{self.confidence!r}")
        if self.spread_threshold is not None and not (
                isinstance(self.spread_threshold, float | int)
                and math.isfinite(self.spread_threshold) and self.spread_threshold >= 0):
            raise ValueError(f"spread_threshold must be a finite number >= 0, got "
                             f"{self.spread_threshold!r}")

    def threshold_for(self, scale: tuple[float, float]) -> float:
        if self.spread_threshold is not None:
            return self.spread_threshold
        return 0.10 * (scale[1] - scale[0])


@dataclass(frozen=True)
class GoldReliability:
    """Is the human consensus a gold standard? The humans' reliability and its verdict.

    Attributes
    ----------
    reliable : bool
        True when the lower end of the figure's CI is above 0: the humans agree beyond
        chance, so a judge can be measured against them.
    figure : str
        The figure used: ``"ICC(1,1)"`` (one-way, every rating; analytic F interval), or
        ``"Krippendorff α"`` (interval, bootstrap CI) when ICC(1,1) has no value or no CI.
    value : float or None
    ci95 : tuple of float or None
        The interval at the report's confidence level.
    reason : str
        One sentence saying why the gold is, or is not, reliable.
    """

    reliable: bool
    figure: str
    value: float | None
    ci95: tuple[float, float] | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """The ``"gold"`` object of the report's JSON."""
        return {"reliable": self.reliable, "figure": self.figure, "value": self.value,
                "ci95": list(self.ci95) if self.ci95 is not None else None,
                "reason": self.reason}


def gold_reliability(human: dict[str, Any], confidence: float = 0.95) -> GoldReliability:
    """Whether the human consensus can serve as the gold for judging a judge.

    The figure is, on a complete crossed table (every rater scored every item), the
    humans' ICC(2,1): its F-test interval counts the raters as a sample, and covered the
    truth 94–97% of the time in ``benchmarks/coverage.py``, where the one-way ICC(1,1)'s
    covered 81–88% at 200 items (the one-way model cannot see the raters' offsets). On any
    other design (crowd data, missing ratings) it is the one-way ICC(1,1), which uses every
    rating and is the right model when items have their own raters. Krippendorff α
    (interval) stands in when that figure is undefined or has no interval. Human
    reliability is *established* when the figure's CI lies above 0; when it reaches 0 or
    below (or there is no CI), the report does not place a judge against the humans.

    Parameters
    ----------
    human : dict
        ``AgreementReport.human``.
    confidence : float
        The level of the report's intervals (for the wording).
    """
    pct = percent(confidence)
    two_way = human["icc"].get("ICC(2,1)")
    complete = (two_way is not None and two_way.defined
                and not two_way.details.get("n_dropped") and human.get("n_missing", 0) == 0)
    candidates = ((("ICC(2,1)", two_way),) if complete else ()) + (
        ("ICC(1,1)", human["icc_oneway"]["ICC(1,1)"]),
        ("Krippendorff α", human["krippendorff_alpha"]))
    chosen = next(((n, r) for n, r in candidates if r.defined and r.ci95 is not None), None)
    if chosen is None:
        name, res = candidates[0]
        why = res.reason if not res.defined else "it has no confidence interval"
        return GoldReliability(False, name, res.value, None,
                               f"the anchors are not reliable enough to judge a judge: human "
                               f"reliability is not established ({name}: {why})")
    name, res = chosen
    lo, hi = res.ci95  # type: ignore[misc]
    text = f"the humans' {name} is {figure_text(res.value, (lo, hi))}"
    if lo > 0:
        return GoldReliability(True, name, res.value, (lo, hi),
                               f"{text}: its {pct} CI is above 0, the humans agree beyond chance")
    return GoldReliability(False, name, res.value, (lo, hi),
                           f"the anchors are not reliable enough to judge a judge: {text}, "
                           f"its {pct} CI reaches 0")


@dataclass
class AgreementReport:
    """Every figure of ``judgecal agree``; :meth:`to_dict` is the ``--json`` document."""

    source: str
    scale: tuple[float, float]
    scale_inferred: bool
    settings: ReportSettings
    item_ids: list[str]
    human_rater_ids: list[str]
    human: dict[str, Any]
    judge: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    human_warnings: list[str] = field(default_factory=list)
    gold: GoldReliability | None = None

    def to_dict(self) -> dict[str, Any]:
        doc = {
            "judgecal_report": 1,
            "kind": "agreement",
            "source": self.source,
            "scale": {"min": self.scale[0], "max": self.scale[1], "inferred": self.scale_inferred},
            "settings": {
                "n_resamples": self.settings.n_resamples,
                "seed": self.settings.seed,
                "confidence": self.settings.confidence,
                "spread_threshold": self.settings.threshold_for(self.scale),
                "primary": self.settings.primary,
                "alt_test_epsilon": self.settings.alt_test_epsilon,
                "alt_test_alignment": self.settings.alt_test_alignment,
            },
            "n_items": len(self.item_ids),
            "n_human_raters": len(self.human_rater_ids),
            "human": self.human,
            "gold": self.gold.to_dict() if self.gold is not None else None,
            "judge": self.judge,
            "warnings": self.warnings,
        }
        return report_json(doc)


def report_json(obj: Any, cache: dict[int, Any] | None = None) -> Any:
    """``obj`` as plain JSON, each :class:`AgreementResult` by its ``to_dict``, in one walk.

    What ``jsonable`` makes of ``obj`` with every result replaced by its dictionary; a result
    object met more than once (one-shot raters share their undefined figures: 533 distinct
    results behind 28,550 in a crowd report) is converted once and its dictionary shared,
    so the document is for dumping or reading, not for editing in place.

    Parameters
    ----------
    obj : Any
        A report's sections: dicts, lists, tuples, results, numpy values, plain leaves.
    cache : dict, optional
        Result ``id`` to its dictionary (one per call by default).

    Returns
    -------
    Any
        JSON-ready: str keys, lists, finite floats or ``None``.
    """
    if cache is None:
        cache = {}
    kind = type(obj)
    if kind is dict:  # plain leaves and results inline: a crowd's rows are small dicts
        out = {}
        for k, v in obj.items():
            vk = type(v)
            if vk in _PLAIN:
                out[k if type(k) is str else str(k)] = v
            elif vk is AgreementResult:  # a rater's figures: 9 results per row
                got = cache.get(id(v))
                if got is None:
                    got = cache[id(v)] = jsonable(v.to_dict())
                out[k if type(k) is str else str(k)] = got
            else:
                out[k if type(k) is str else str(k)] = report_json(v, cache)
        return out
    if kind is list or kind is tuple:
        return [v if type(v) in _PLAIN else report_json(v, cache) for v in obj]
    if isinstance(obj, AgreementResult):
        got = cache.get(id(obj))
        if got is None:
            got = cache[id(obj)] = jsonable(obj.to_dict())
        return got
    if isinstance(obj, dict):
        return {str(k): report_json(v, cache) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [report_json(v, cache) for v in obj]
    return jsonable(obj)


#: Leaves that are JSON as they are (floats are not: NaN and inf become None).
_PLAIN = frozenset({str, int, bool, type(None)})


def agreement_report(
    table: RatingsTable,
    *,
    judge: str | None = None,
    judge_scores: np.ndarray | None = None,
    settings: ReportSettings | None = None,
    humans_from: AgreementReport | None = None,
) -> AgreementReport:
    """Build the agreement report for a ratings table.

    Parameters
    ----------
    table : RatingsTable
        Human ratings (items x raters), with the per-item consensus when the table comes
        from an anchor set.
    judge : str, optional
        The rater id in ``table`` that is the judge. Its column is taken out of the human
        figures and compared with the consensus of the others.
    judge_scores : ndarray, optional
        Judge scores aligned with ``table.item_ids`` (NaN = no valid judgment), as an
        alternative to ``judge``.
    settings : ReportSettings, optional
        Bootstrap size, seed, confidence, spread threshold and primary figure.
    humans_from : AgreementReport, optional
        An earlier report on the same table (same items, raters and settings): its human
        section and human ceiling are reused, since they do not depend on the judge. The
        calibration loop judges the same items every iteration.
    """
    with shared_cells():  # the table's observed cells found once for all the statistics
        return _agreement_report(table, judge=judge, judge_scores=judge_scores,
                                 settings=settings, humans_from=humans_from)


def _agreement_report(
    table: RatingsTable,
    *,
    judge: str | None,
    judge_scores: np.ndarray | None,
    settings: ReportSettings | None,
    humans_from: AgreementReport | None,
) -> AgreementReport:
    settings = settings or ReportSettings()
    if settings.primary not in PAIRED_FIGURES:
        raise ValueError(
            f"unknown primary figure {settings.primary!r}; use one of {', '.join(PAIRED_FIGURES)}"
        )
    warnings: list[str] = []
    consensus = table.consensus
    if judge is not None:
        judge_scores = table.column(judge)
        table = table.drop_rater(judge)

    scale, inferred = _scale_of(table, judge_scores)
    if inferred:
        warnings.append(
            f"no scale given: using the observed range {scale_text(scale[0], scale[1])}; "
            "pass the scale to compare figures across files"
        )
    scores = table.scores
    if consensus is None:
        consensus = _mean_consensus(scores)
    if humans_from is not None:
        if humans_from.item_ids != list(table.item_ids) or (
            humans_from.human_rater_ids != list(table.rater_ids)
        ):
            raise ValueError("humans_from is a report on different items or raters")
        human = humans_from.human
        human_warnings = list(humans_from.human_warnings)
    else:
        human_warnings = []
        human = _human_section(table, consensus, scale, settings, human_warnings)
    warnings.extend(human_warnings)
    report = AgreementReport(
        source=table.source,
        scale=scale,
        scale_inferred=inferred,
        settings=settings,
        item_ids=list(table.item_ids),
        human_rater_ids=list(table.rater_ids),
        human=human,
        warnings=warnings,
        human_warnings=human_warnings,
        gold=gold_reliability(human, settings.confidence),
    )
    if judge_scores is not None:
        if "ceiling" not in human:
            human["ceiling"] = human_ceiling(table, human["raters"], scale, seed=settings.seed)
        references = like_for_like_references(table, human["raters"], seed=settings.seed)
        report.judge = _judge_section(
            judge or "judge", np.asarray(judge_scores, dtype=float), consensus, references,
            scale, human["ceiling"], report.gold, settings, table.item_ids,
        )
        _add_alt_test(report.judge, table, np.asarray(judge_scores, dtype=float), settings)
        warnings.extend(report.judge["warnings"])
    return report


def _scale_of(
    table: RatingsTable, judge_scores: np.ndarray | None
) -> tuple[tuple[float, float], bool]:
    if table.scale is not None:
        return (float(table.scale[0]), float(table.scale[1])), False
    values = table.scores[~np.isnan(table.scores)]
    if judge_scores is not None:
        js = np.asarray(judge_scores, dtype=float)
        values = np.concatenate([values, js[~np.isnan(js)]])
    if values.size == 0:
        raise ValueError(f"{table.source}: no scores at all")
    return (float(np.floor(values.min())), float(np.ceil(values.max()))), True


def _mean_consensus(scores: np.ndarray) -> np.ndarray:
    sums, counts = item_sums(scores)  # the NaN-skipping row sums, O(ratings) on a scale
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


# --------------------------------------------------------------------------- humans


def _human_section(
    table: RatingsTable,
    consensus: np.ndarray,
    scale: tuple[float, float],
    settings: ReportSettings,
    warnings: list[str],
) -> dict[str, Any]:
    scores = table.scores
    iccs = icc_all(scores, missing="listwise", confidence=settings.confidence)
    some = next(iter(iccs.values()))
    dropped = some.details.get("n_dropped", 0)
    if dropped:
        warnings.append(
            f"ICC among humans uses the {scores.shape[0] - dropped} of {scores.shape[0]} items "
            "rated by every rater (listwise deletion); the one-way ICC and Krippendorff α "
            "use every rating"
        )
    oneway = icc_oneway_forms(scores, confidence=settings.confidence)
    alpha = krippendorff_alpha(scores, level="interval")
    if alpha.defined and settings.n_resamples > 0:
        # raters counted as a sample on a complete table; the item bootstrap otherwise
        alpha = alpha_interval_ci(
            scores, alpha, n_resamples=settings.n_resamples, seed=settings.seed,
            confidence=settings.confidence,
        )
    alpha_ordinal = krippendorff_alpha(scores, level="ordinal")

    raters = _rater_rows(table, scale)
    items = _item_spread(table, consensus, scale, settings.threshold_for(scale))
    na = {
        "total": table.n_na,
        "by_item": {k: v for k, v in table.na_counts_by_item().items() if v},
        "by_rater": {k: v for k, v in table.na_counts_by_rater().items() if v},
    }
    out = {
        "icc": iccs,
        "icc_oneway": oneway,
        "krippendorff_alpha": alpha,
        "krippendorff_alpha_ordinal": alpha_ordinal,
        "raters": raters,
        "items": items,
        "n_items_over_threshold": sum(1 for it in items if it["flagged"]),
        "na": na,
        "n_missing": int(table.n_missing),
    }
    if settings.scale_kind != "numeric":
        out["categorical"] = categorical_figures(scores, scale)
    return out


def categorical_figures(scores: np.ndarray, scale: tuple[float, float]) -> dict[str, Any]:
    """Agreement among raters on a label scale (codes 0..k-1): the figures QA teams read.

    Parameters
    ----------
    scores : ndarray, shape (items, raters)
        Label codes; NaN for missing or N/A.
    scale : tuple of float
        ``(0, k-1)``.

    Returns
    -------
    dict
        ``percent_agreement`` (pairwise, Gwet 2014: every item with 2 or more ratings),
        ``gwet_ac1`` (Gwet 2008; robust to skewed prevalence, e.g. almost every item a pass),
        ``fleiss_kappa`` (Fleiss 1971; on the items rated by every rater, which it needs)
        and ``krippendorff_alpha_nominal``.
    """
    categories = list(np.arange(scale[0], scale[1] + 1, dtype=float))
    complete = ~np.isnan(scores).any(axis=1)
    try:
        fleiss = fleiss_kappa(scores[complete], categories=categories)
        if not complete.all():
            fleiss.details["n_dropped"] = int((~complete).sum())
    except ValueError as exc:
        fleiss = undefined("fleiss_kappa", str(exc))
    try:
        ac1 = gwet_ac1(scores, categories=categories)
    except ValueError as exc:
        ac1 = undefined("gwet_ac1", str(exc))
    return {
        "percent_agreement": percent_agreement(scores, multi_rater="pairwise",
                                               missing="units_with_at_least_2_ratings"),
        "gwet_ac1": ac1,
        "fleiss_kappa": fleiss,
        "krippendorff_alpha_nominal": krippendorff_alpha(scores, level="nominal"),
    }


def leave_one_out_consensus(scores: np.ndarray, col: int) -> np.ndarray:
    """Mean of the other raters per item (NaN where no other rater rated the item).

    From the items' sums and counts (:func:`~harness.agreement._crowd.loo_mean_column`):
    the table is not copied without the column.
    """
    sums, counts = item_sums(scores)
    return loo_mean_column(sums, counts, scores[:, col])


def _rater_rows(table: RatingsTable, scale: tuple[float, float]) -> list[dict[str, Any]]:
    """Each rater against the mean of the others, O(ratings) in all.

    The others' mean comes from the items' sums and counts, computed once, and each rater's
    pairs from one pass over the ratings (:func:`~harness.agreement._crowd.loo_mean_pairs`).
    Raters whose (score, reference) pairs are the same, in the same item order (crowd raters
    who each scored one item are a few dozen such pairs among thousands of raters), share
    one :func:`compare_to_reference`: the figures depend on nothing else.
    """
    scores = table.scores
    rows: list[dict[str, Any]] = []
    seen: dict[tuple[bytes, bytes], dict[str, AgreementResult]] = {}
    for rater, (items, mine, ref) in zip(table.rater_ids, loo_mean_pairs(scores), strict=True):
        key = (mine.tobytes(), ref.tobytes())
        figures = seen.get(key)
        if figures is None:  # on the full item list, so that n_pairs_dropped is the same
            full_mine, full_ref = np.full(scores.shape[0], np.nan), np.full(scores.shape[0],
                                                                              np.nan)
            full_mine[items], full_ref[items] = mine, ref
            figures = seen[key] = compare_to_reference(full_mine, full_ref, scale=scale,
                                                       n_resamples=0)
        rows.append({"rater_id": rater, "n_items": int(items.size), "figures": dict(figures),
                     "outlier": False, "outlier_reasons": []})
    _flag_outliers(rows, min_gap=0.10 * (scale[1] - scale[0]))
    return rows


def median_of(values: Any) -> float:
    """``float(np.median(values))`` of values without NaN, without importing ``numpy.ma``.

    ``np.median`` imports ``numpy.ma`` for its NaN check (6 ms of ``agree``'s start-up);
    the middle value, or the mean of the two middle values, is the same figure.

    Parameters
    ----------
    values : array-like
        At least one number, none NaN.

    Returns
    -------
    float
        The median.
    """
    s = np.sort(np.asarray(values, dtype=float).ravel())
    return float((s[(s.size - 1) // 2] + s[s.size // 2]) / 2.0)


def _flag_outliers(rows: list[dict[str, Any]], *, min_gap: float) -> None:
    """Flag raters far from the others' consensus.

    A rater is an outlier when its MAE or |bias| against the others' consensus has a
    modified z-score above 3.5 (Iglewicz & Hoaglin 1993) *and* exceeds the raters' median by
    more than ``min_gap`` scale points (10% of the range), so that a tight panel does not get
    a rater flagged for a difference nobody would notice.
    """
    for key, transform in (("mae", abs), ("bias", abs)):
        vals = np.array([
            transform(r["figures"][key].value)
            if r["figures"][key].defined and r["n_items"] >= 3 else np.nan
            for r in rows
        ])
        ok = ~np.isnan(vals)
        if ok.sum() < 3:
            continue
        med = median_of(vals[ok])
        mad = median_of(np.abs(vals[ok] - med))
        if mad == 0:
            continue
        z = 0.6745 * (vals - med) / mad
        for r, zi, v in zip(rows, z, vals, strict=True):
            if np.isfinite(zi) and zi > OUTLIER_Z and v - med > min_gap:
                r["outlier"] = True
                label = "MAE" if key == "mae" else "|bias|"
                r["outlier_reasons"].append(
                    f"{label} {number_text(v)} vs raters' median {number_text(med)} "
                    f"(modified z {number_text(zi, 1)})"
                )


def _item_spread(
    table: RatingsTable, consensus: np.ndarray, scale: tuple[float, float], threshold: float
) -> list[dict[str, Any]]:
    """Per-item spread of the ratings (vectorized over items), worst first.

    From the observed cells sorted by item and value: O(ratings log ratings), whatever the
    number of raters (one-shot crowd raters make the items x raters table mostly empty).
    """
    scores = table.scores
    rows, cols = observed_cells(scores)
    vals = scores[rows, cols]
    n_items = scores.shape[0]
    n = np.bincount(rows, minlength=n_items)
    span = scale[1] - scale[0]
    some, pairs = n >= 1, n >= 2
    with np.errstate(invalid="ignore"):
        mean = np.where(some, np.bincount(rows, weights=vals, minlength=n_items)
                        / np.maximum(n, 1), np.nan)
        dev = vals - mean[rows]
        sd = np.where(pairs, np.sqrt(np.bincount(rows, weights=dev**2, minlength=n_items)
                                     / np.maximum(n - 1, 1)), np.nan)
    ordered = vals[np.lexsort((vals, rows))]  # item by item, ascending
    first = np.concatenate([[0], np.cumsum(n)[:-1]])
    last = np.minimum(first + np.maximum(n - 1, 0), max(vals.size - 1, 0))

    def at(idx: np.ndarray) -> np.ndarray:
        return ordered[np.minimum(idx, last)] if vals.size else np.full(n_items, np.nan)

    rng = np.where(pairs, at(last) - at(first), np.nan)
    median = np.where(some, (at(first + np.maximum((n - 1) // 2, 0))
                             + at(first + n // 2)) / 2.0, np.nan)
    n_na = table.na.sum(axis=1)
    flagged = pairs & (np.nan_to_num(sd) > threshold)

    def num(v: float) -> float | None:
        return None if np.isnan(v) else float(v)

    out = [
        {
            "item_id": item,
            "n_ratings": int(n[i]),
            "n_na": int(n_na[i]),
            "mean": num(mean[i]),
            "median": num(median[i]),
            "consensus": num(consensus[i]),
            "sd": num(sd[i]),
            "range": num(rng[i]),
            "share_of_scale": None if np.isnan(rng[i]) or span == 0 else float(rng[i] / span),
            "flagged": bool(flagged[i]),
        }
        for i, item in enumerate(table.item_ids)
    ]
    order = np.lexsort((np.array(table.item_ids, dtype=object).astype(str),
                        -np.nan_to_num(sd, nan=-1.0)))
    return [out[i] for i in order]


# --------------------------------------------------------------------------- judge


#: A rater counts towards the per-rater ceiling when it rated at least this share of items.
CEILING_MIN_COVERAGE = 0.5
#: Draws of the sampled single-rater ceiling (sparse designs).
CEILING_DRAWS = 200


def _band(name: str, vals: list[float]) -> list[float]:
    # bias is better the closer to zero: its band is of |bias|
    return [abs(v) for v in vals] if name in CLOSER_TO_ZERO_IS_BETTER else vals


def _eligible(rows: list[dict[str, Any]], n_items: int) -> list[int]:
    """Indices of the raters that enter the per-rater ceiling (enough items each)."""
    return [j for j, r in enumerate(rows)
            if r["n_items"] >= max(3, CEILING_MIN_COVERAGE * n_items)]


def _sampled_draws(scores: np.ndarray, seed: int):  # noqa: ANN202 - a generator
    """The seeded draws of the sampled single rater: ``(one, rest)`` per draw.

    Per item one human rating is drawn at random (``one``) and the mean of the item's other
    ratings is its reference (``rest``); items with fewer than 2 ratings are NaN in both.
    :func:`human_ceiling` and :func:`like_for_like_references` use the same draws.

    A draw picks, per item, one of the item's ratings uniformly (``Generator.integers``
    over its count, the ratings taken in column order): O(items) per draw after one pass
    over the table, and the same draws however the raters are encoded (88 crowd raters, or
    one id per rating).
    """
    rows, cols = observed_cells(scores)  # the ratings, item by item, in column order
    values = scores[rows, cols]
    n = np.bincount(rows, minlength=scores.shape[0])
    sums = np.bincount(rows, weights=values, minlength=scores.shape[0])
    first = np.searchsorted(rows, np.arange(scores.shape[0]))  # each item's first rating
    rng = np.random.default_rng(seed)
    usable = n >= 2
    high = np.maximum(n, 1)
    last = max(values.size - 1, 0)
    others = np.where(usable, n - 1, 1)  # the unusable items' values are NaN anyway
    for _ in range(CEILING_DRAWS if usable.sum() >= 3 else 0):
        pick = rng.integers(0, high)  # one of each item's ratings, uniformly
        one = np.where(usable, values[np.minimum(first + pick, last)]
                       if values.size else np.nan, np.nan)
        rest = np.where(usable, (sums - one) / others, np.nan)
        yield one, rest


def like_for_like_references(
    table: RatingsTable, rows: list[dict[str, Any]], *, seed: int = 0
) -> tuple[np.ndarray, str]:
    """The references a judge is compared with, on the same footing as a single human.

    Exactly the references of :func:`human_ceiling`: with a crossed design, one column per
    rater j of the ceiling (those who rated at least half of the items), holding the mean of
    the *other* raters on the items j rated (NaN elsewhere), so the judge meets the very
    reference j met, on the same items; with a sparse design, one column per seeded draw of
    the sampled single rater, holding the mean of each item's ratings other than the drawn
    one. :func:`~harness.agreement._loo.compare_to_references` averages the judge's figures
    over the columns.

    Returns
    -------
    (ndarray of shape (items, m), str)
        The references and the ceiling's method (``"per-rater"`` or
        ``"sampled single rater"``); m = 0 when no reference exists (a single rater).
    """
    scores = table.scores
    eligible = _eligible(rows, len(table.item_ids))
    if len(eligible) >= 2:
        sums, counts = item_sums(scores)
        cols = [np.where(np.isnan(scores[:, j]), np.nan,
                         loo_mean_column(sums, counts, scores[:, j])) for j in eligible]
        return np.column_stack(cols), "per-rater"
    cols = [rest for _, rest in _sampled_draws(scores, seed)]
    refs = np.column_stack(cols) if cols else np.empty((scores.shape[0], 0))
    return refs, "sampled single rater"


def human_ceiling(
    table: RatingsTable,
    rows: list[dict[str, Any]],
    scale: tuple[float, float],
    *,
    seed: int = 0,
) -> dict[str, Any]:
    """How well a single human agrees with the consensus of the others, per figure.

    With a crossed design (each rater scored at least half of the items) the ceiling is
    every such rater against the leave-one-out consensus of the others: the median and the
    range (min-max) over raters. When raters saw only a few items each (crowd data, raters
    nested in lists), a rater's figure on a handful of items is mostly noise and the range
    of 88 such figures says nothing; the ceiling is then a *sampled single rater*: for each
    item one of its human ratings is drawn at random and compared with the mean of the
    item's other ratings, over all items at once; over 200 seeded draws the median and the
    2.5-97.5 percentile band are reported. For ``bias`` the band is of ``|bias|``.
    """
    eligible = [rows[j] for j in _eligible(rows, len(table.item_ids))]
    if len(eligible) >= 2:
        method = "per-rater"
        values = {name: [r["figures"][name].value for r in eligible
                         if r["figures"][name].defined] for name in PAIRED_FIGURES}
        bands = {name: _band(name, v) for name, v in values.items()}
        summary = {name: (np.min(b), np.max(b)) if b else None for name, b in bands.items()}
    else:
        method = "sampled single rater"
        points = reference_points(_sampled_draws(table.scores, seed), scale=scale)
        bands = {name: _band(name, [float(v) for v in vals if not np.isnan(v)])
                 for name, vals in points.items()}
        summary = {name: tuple(np.percentile(b, [2.5, 97.5])) if b else None
                   for name, b in bands.items()}
    out: dict[str, Any] = {"method": method, "figures": {}}
    for name in PAIRED_FIGURES:
        b = bands[name]
        if summary[name] is None:
            out["figures"][name] = {"median": None, "min": None, "max": None, "n": 0}
        else:
            out["figures"][name] = {
                "median": median_of(b), "min": float(summary[name][0]),
                "max": float(summary[name][1]), "n": len(b),
                "of": "|bias|" if name in CLOSER_TO_ZERO_IS_BETTER else name,
            }
    out["n"] = len(eligible) if method == "per-rater" else CEILING_DRAWS
    return out


#: With fewer raters than this the per-rater human range is a handful of numbers: the report
#: says so, and compares the judge's CI (not its point) with the range.
FEW_RATERS = 5


def ci_decides(band: dict[str, Any]) -> bool:
    """Whether the judge's CI (not its point) is compared with this human range.

    True when the range is the figures of fewer than :data:`FEW_RATERS` raters: three
    numbers are no band, and a judge whose CI is wider than them is not "inside" on its
    point estimate. A range of 5 or more raters (or a sampled single-human 95% band, which
    carries its own sampling spread) is compared with the point.
    """
    return band.get("n") is not None and band["n"] < FEW_RATERS


def _as_quality(name: str, lo: float, hi: float) -> tuple[float, float]:
    """An interval of a figure as an interval of what its human band holds (|bias| for bias)."""
    if name not in CLOSER_TO_ZERO_IS_BETTER:
        return lo, hi
    if lo <= 0 <= hi:
        return 0.0, max(abs(lo), abs(hi))
    return min(abs(lo), abs(hi)), max(abs(lo), abs(hi))


def position(name: str, value: float | None, band: dict[str, Any], *,
             ci: tuple[float, float] | None = None) -> str | None:
    """Where a judge's figure falls against the human range.

    Parameters
    ----------
    name : str
        The figure (direction: see :data:`LOWER_IS_BETTER`, :data:`CLOSER_TO_ZERO_IS_BETTER`).
    value : float or None
        The judge's figure.
    band : dict
        The human ceiling of the figure (``min``, ``max``; ``reliable`` False when the
        human gold is not reliable, see :func:`gold_reliability`).
    ci : (lo, hi), optional
        The judge's interval. Used when the range has fewer than :data:`FEW_RATERS` raters
        (:func:`ci_decides`): the *whole* interval must lie inside, above or below the range
        for "within", "above" or "below"; an interval that straddles an end of the range
        gives "overlaps" (undecided). Otherwise the point decides.

    Returns
    -------
    str or None
        ``"below"`` (worse than every human, whatever the figure's direction),
        ``"within"``, ``"above"``, ``"overlaps"``, ``"unreliable"`` (the humans do not
        agree well enough to judge a judge against them), or None (no value or no range).
    """
    if value is None or band.get("min") is None:
        return None
    if band.get("reliable") is False:
        return "unreliable"
    lo, hi = band["min"], band["max"]
    if not ci_decides(band):
        ci = None
    v_lo, v_hi = _as_quality(name, *(ci if ci is not None else (value, value)))
    if ci is None and name in CLOSER_TO_ZERO_IS_BETTER:
        v_lo = v_hi = abs(value)
    if name in LOWER_IS_BETTER or name in CLOSER_TO_ZERO_IS_BETTER:
        if v_lo > hi:
            return "below"
        if v_hi < lo:
            return "above"
    else:
        if v_hi < lo:
            return "below"
        if v_lo > hi:
            return "above"
    return "within" if lo <= v_lo and v_hi <= hi else "overlaps"


def _judge_section(
    judge_id: str,
    judge_scores: np.ndarray,
    consensus: np.ndarray,
    references: tuple[np.ndarray, str],
    scale: tuple[float, float],
    ceiling_info: dict[str, Any],
    gold: GoldReliability,
    settings: ReportSettings,
    item_ids: list[str],
) -> dict[str, Any]:
    warnings: list[str] = []
    has_judge = ~np.isnan(judge_scores)
    has_ref = ~np.isnan(consensus)
    n_missing = int((~has_judge & has_ref).sum())
    if n_missing:
        warnings.append(
            f"{n_missing} item(s) have no judge score and are left out of the judge figures"
        )
    boot = {"n_resamples": settings.n_resamples, "seed": settings.seed,
            "confidence": settings.confidence}
    full = compare_to_reference(judge_scores, consensus, scale=scale, **boot)
    refs, ref_method = references
    if refs.shape[1]:
        figures = compare_to_references(judge_scores, refs, scale=scale, **boot)
        footing = {
            "figures": "leave-one-out",
            "method": ref_method,
            "n_references": int(refs.shape[1]),
            "description": (
                "the judge against each reference a single human met in the human ceiling "
                + ("(the mean of the other raters, on the items that rater scored)"
                   if ref_method == "per-rater" else
                   "(per item the mean of the ratings other than one drawn at random)")
                + f", averaged over the {refs.shape[1]} references; "
                "figures_full_consensus: against the consensus of every rater"),
        }
    else:
        figures = dict(full)
        footing = {"figures": "full consensus", "method": None, "n_references": 0,
                   "description": "no leave-one-out reference exists (fewer than 2 ratings "
                                  "per item): the judge is compared with the full consensus"}
        warnings.append(footing["description"])
    unreliable = {} if gold.reliable else {"gold_reason": gold.reason}
    ceiling = {name: {**band, "reliable": gold.reliable, **unreliable}
               for name, band in ceiling_info["figures"].items()}
    pos = {name: position(name, figures[name].value, ceiling[name], ci=figures[name].ci95)
           for name in PAIRED_FIGURES}

    both = has_judge & has_ref
    rounded_ref = round_to_scale(consensus[both], scale)
    levels, counts = np.unique(rounded_ref, return_counts=True)
    modal = float(levels[np.argmax(counts)]) if levels.size else None
    baseline: dict[str, Any] = {"score": modal, "figures": {}}
    if modal is not None:
        const = np.where(both, modal, np.nan)
        baseline["figures"] = (compare_to_references(const, refs, scale=scale, n_resamples=0)
                               if refs.shape[1] else
                               compare_to_reference(const, consensus, scale=scale,
                                                    n_resamples=0))

    categories = list(np.arange(scale[0], scale[1] + 1, dtype=float))
    confusion, _, _ = confusion_counts(
        round_to_scale(judge_scores[both], scale), rounded_ref, categories=categories
    )
    distinct = np.unique(judge_scores[has_judge])
    if distinct.size == 1:
        warnings.append(
            f"the judge gave the same score ({distinct[0]:g}) to all {int(has_judge.sum())} "
            "items: it does not discriminate between them, and its rank figures are undefined"
        )
    elif distinct.size == 2 and scale[1] - scale[0] >= 3:
        warnings.append(
            f"the judge used only 2 distinct scores ({', '.join(f'{v:g}' for v in distinct)}) "
            f"on a {scale_text(scale[0], scale[1])} scale"
        )
    verdict = _verdict(settings.primary, figures[settings.primary], ceiling[settings.primary],
                       pos[settings.primary], ceiling_info["method"], gold,
                       full[settings.primary])
    disagreements = _disagreements(judge_scores, consensus, item_ids)
    return {
        "rater_id": judge_id,
        "n_items": int(both.sum()),
        "n_missing": n_missing,
        "figures": figures,
        "figures_full_consensus": full,
        "reference": footing,
        "ceiling": ceiling,
        "ceiling_method": ceiling_info["method"],
        "position": pos,
        "baseline": baseline,
        "confusion": {
            "rows": "judge (rounded)",
            "columns": "consensus (rounded)",
            "categories": categories,
            "counts": confusion.tolist(),
        },
        "score_distribution": {f"{v:g}": int(c) for v, c in
                               zip(*np.unique(judge_scores[has_judge], return_counts=True),
                                   strict=True)},
        "disagreements": disagreements,
        "verdict": verdict,
        "warnings": warnings,
    }


def _add_alt_test(section: dict[str, Any], table: RatingsTable, judge_scores: np.ndarray,
                  settings: ReportSettings) -> None:
    """The alt-test of the judge against the human raters (the judge's column not among them).

    ``section["alt_test"]`` is its JSON object; ``section["figures"]["alt_test"]`` the winning
    rate as a figure (no CI), which is what a gate bar ``--min alt_test=0.5`` reads.
    """
    res = alt_test(table.scores, judge_scores, rater_ids=list(table.rater_ids),
                   epsilon=settings.alt_test_epsilon,
                   alignment=settings.alt_test_alignment)  # type: ignore[arg-type]
    section["alt_test"] = res.to_dict()
    section["figures"]["alt_test"] = res.as_figure()
    section["alt_test_verdict"] = alt_test_verdict(section["alt_test"])


def alt_test_verdict(doc: dict[str, Any]) -> str:
    """One sentence on an ``"alt_test"`` JSON object: passed or not, and by how much.

    Examples
    --------
    >>> alt_test_verdict({"epsilon": 0.2, "q": 0.05, "winning_rate": 0.5,
    ...                   "advantage_probability": 0.71, "passed": True,
    ...                   "per_rater": [{"rejected": True}, {"rejected": False}],
    ...                   "excluded": [], "reason": None})
    'Alt-test (ε = 0.2, BY q = 0.05): PASS — the judge can replace a human rater: it wins against 1 of 2 raters (ω = 0.50, needs ≥ 0.50); advantage probability ρ = 0.71.'
    """  # noqa: E501 - a doctest line
    head = f"Alt-test (ε = {doc['epsilon']:g}, BY q = {doc['q']:g})"
    if doc["winning_rate"] is None:
        return f"{head}: {undefined_text(doc['reason'])}."
    n = len(doc["per_rater"])
    wins = sum(1 for r in doc["per_rater"] if r["rejected"])
    excluded = len(doc.get("excluded") or [])
    tail = (f"; {excluded} rater(s) left out with too few items" if excluded else "")
    what = (f"{verdict_word('pass')} — the judge can replace a human rater" if doc["passed"]
            else f"{verdict_word('fail')} — not shown to replace a human rater")
    return (f"{head}: {what}: it wins against {wins} of {n} raters "
            f"(ω = {number_text(doc['winning_rate'])}, needs ≥ 0.50); advantage probability "
            f"ρ = {number_text(doc['advantage_probability'])}{tail}.")


def _disagreements(
    judge_scores: np.ndarray, consensus: np.ndarray, item_ids: list[str]
) -> list[dict[str, Any]]:
    """Items where judge and consensus differ by at least one scale point, worst first."""
    diff = judge_scores - consensus
    idx = np.flatnonzero(np.abs(np.nan_to_num(diff)) >= 1.0)
    ids = np.array(item_ids, dtype=object)[idx].astype(str)
    idx = idx[np.lexsort((ids, -np.abs(diff[idx])))]
    return [
        {"item_id": item_ids[i], "judge": float(judge_scores[i]),
         "consensus": float(consensus[i]), "difference": float(diff[i])}
        for i in idx
    ]


def _verdict(name: str, res: AgreementResult, band: dict[str, Any], pos: str | None,
             method: str, gold: GoldReliability, full: AgreementResult | None = None) -> str:
    """The one-sentence verdict on the primary figure (see :func:`position` for the rule)."""
    label = FIGURE_LABELS[name]
    if not res.defined:
        return (f"{label} of the judge is {undefined_text(res.reason)}: the judge cannot be "
                "trusted.")
    also = (f" (like-for-like; vs the consensus of all raters {number_text(full.value)})"
            if full is not None and full.defined else "")
    head = f"Judge {label} {result_text(res)}{also}"
    if not gold.reliable:
        return (f"{head}: not compared with the humans — {gold.reason}. Fix the anchors "
                "(rubric, rater training, more raters) before certifying a judge on them.")
    if band.get("min") is None:
        return f"{head}; no human ceiling could be computed (too few raters per item)."
    what = "human range" if method == "per-rater" else "single-human 95% band"
    few = (f"; only {band.get('n')} raters, so the range is {band.get('n')} numbers"
           if method == "per-rater" and (band.get("n") or 0) < FEW_RATERS else "")
    rng = (f"{what} {range_text(band['min'], band['max'])}, median "
           f"{number_text(band['median'])}{few}")
    whole = "its whole CI is" if res.ci95 and ci_decides(band) else "it is"
    if pos == "within":
        return f"{head} is INSIDE the human range: {whole} within the {rng}."
    if pos == "above":
        return f"{head} is ABOVE the human range: {whole} above the {rng}."
    if pos == "overlaps":
        return (f"{head}: UNDECIDED — its CI overlaps the edge of the {rng}; more anchors "
                "would narrow it.")
    return (f"{head} is BELOW the human range: {whole} below the {rng}: not yet a substitute "
            "for a human.")
