"""Several judges at once: the leaderboard.

Every judge is measured against the same humans (no named judge is ever counted as one),
with the same settings and seed, so each judge's entry is exactly its single-judge report
on a file where the other judges are absent. Beside the judges: the human ceiling, the
chance baseline, and for each pair of judges the paired difference on the primary figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import combinations
from typing import Any

import numpy as np

from harness._say import scale_text
from harness.agreement import AgreementResult, compare_to_references, undefined
from harness.agreement._bootstrap import with_percentile_ci
from harness.agreement._loo import MAX_BOOTSTRAP_REFERENCES, distinct_pairs, pair_weights
from harness.agreement._paired import weighted_figures
from harness.anchors import RatingsTable

from ._agreement import (
    CLOSER_TO_ZERO_IS_BETTER,
    LOWER_IS_BETTER,
    AgreementReport,
    ReportSettings,
    _mean_consensus,
    agreement_report,
    like_for_like_references,
    report_json,
)


@dataclass
class Leaderboard:
    """Several judges against the same humans.

    Attributes
    ----------
    reports : dict of str to AgreementReport
        Judge id -> its single-judge report (``report.judge`` is the entry of ``"judges"``
        in the JSON), in the order the judges were given. They share one human section.
    rows : list of dict
        One row per judge, best first on the primary figure (undefined last): ``judge``,
        ``figures`` (figure -> AgreementResult, as in the judge's report), ``position``
        and ``n_items``.
    ceiling : dict
        The human ceiling per figure (``median``, ``min``, ``max``, ``n``) and its method.
    baseline : dict
        The chance baseline: a constant judge giving the modal consensus score
        (``score``, ``figures``), as in the single-judge report.
    pairs : list of dict
        For each pair of judges (in the order given): ``a``, ``b``, ``figure``,
        ``difference`` (a − b, an AgreementResult with its paired-bootstrap CI),
        ``better`` (the judge whose figure is better when the CI excludes 0, else None)
        and ``n_items`` (the items both judges scored).
    warnings : list of str
        The human warnings, then each judge's, prefixed with its id.
    scale_inferred : bool
        True when no scale was known and the observed range of the humans and every
        judge is used.
    """

    reports: dict[str, AgreementReport]
    rows: list[dict[str, Any]]
    ceiling: dict[str, Any]
    baseline: dict[str, Any]
    pairs: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)
    scale_inferred: bool = False

    @property
    def first(self) -> AgreementReport:
        """One of the reports (they share the source, scale, settings and humans)."""
        return next(iter(self.reports.values()))

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` document: the single-judge report's, with ``"judges"`` (judge id ->
        an object shaped exactly like the single-judge ``"judge"``) and ``"pairs"``
        instead of ``"judge"``."""
        doc = self.first.to_dict()
        del doc["judge"]
        doc["scale"]["inferred"] = self.scale_inferred
        doc["warnings"] = list(self.warnings)
        doc["judges"] = {jid: rep.to_dict()["judge"] for jid, rep in self.reports.items()}
        doc["leaderboard"] = [r["judge"] for r in self.rows]
        doc["pairs"] = self.pairs
        return report_json(doc)


def leaderboard(
    table: RatingsTable,
    *,
    judges: Sequence[str],
    settings: ReportSettings | None = None,
) -> Leaderboard:
    """The leaderboard of several judges that are raters of ``table``.

    Every judge's column is taken out of the human table before anything is computed, so
    no judge is counted as a human (in the consensus of a ratings file, the human figures,
    the ceiling or the alt-test), and the humans are the same for every judge.

    Parameters
    ----------
    table : RatingsTable
        Humans and judges. An anchor set's consensus is its gold and is kept as it is.
    judges : sequence of str
        Rater ids of the judges (at least one; duplicates are ignored).
    settings : ReportSettings, optional

    Returns
    -------
    Leaderboard

    Raises
    ------
    KeyError
        For a judge id that is not a rater of ``table``.
    ValueError
        When no judge is given or no human rater is left.
    """
    names = list(dict.fromkeys(judges))
    scores = {j: table.column(j) for j in names}
    humans = table
    for j in names:
        humans = humans.drop_rater(j)
    return leaderboard_from_scores(humans, scores, settings=settings)


def leaderboard_from_scores(
    table: RatingsTable,
    judge_scores: Mapping[str, np.ndarray],
    *,
    settings: ReportSettings | None = None,
) -> Leaderboard:
    """The leaderboard of judges given as score arrays (``validate``'s judges, say).

    Parameters
    ----------
    table : RatingsTable
        The human ratings only.
    judge_scores : mapping of str to ndarray
        Judge id -> scores aligned with ``table.item_ids`` (NaN: no valid judgment).
    settings : ReportSettings, optional

    Returns
    -------
    Leaderboard
        Each judge's report equals ``agreement_report(table, judge_scores=...)`` with the
        same settings (its ``rater_id`` set to the judge's id).

    Raises
    ------
    ValueError
        With no judge, no human rater, or scores not aligned with the items.
    """
    settings = settings or ReportSettings()
    if not judge_scores:
        raise ValueError("a leaderboard needs at least one judge")
    if not table.rater_ids:
        raise ValueError("no human raters are left once the judges are taken out")
    arrays = {j: np.asarray(s, dtype=float) for j, s in judge_scores.items()}
    for j, s in arrays.items():
        if s.shape != (len(table.item_ids),):
            raise ValueError(f"judge {j!r}: {s.shape[0] if s.ndim else 0} scores for "
                             f"{len(table.item_ids)} items")
    inferred = table.scale is None
    if inferred:  # one scale for every judge: the range of the humans and all the judges
        values = np.concatenate([table.scores.ravel(), *arrays.values()])
        values = values[~np.isnan(values)]
        if values.size == 0:
            raise ValueError(f"{table.source}: no scores at all")
        table = replace(table, scale=(float(np.floor(values.min())),
                                      float(np.ceil(values.max()))))
    reports: dict[str, AgreementReport] = {}
    first: AgreementReport | None = None
    for jid, s in arrays.items():
        rep = agreement_report(table, judge_scores=s, settings=settings, humans_from=first)
        assert rep.judge is not None
        rep.judge["rater_id"] = jid
        rep.scale_inferred = inferred
        reports[jid] = rep
        first = first or rep
    assert first is not None
    warnings = list(first.human_warnings)
    if inferred:
        lo, hi = first.scale
        warnings.insert(0, f"no scale given: using the observed range {scale_text(lo, hi)} of the "
                           "humans and every judge; pass the scale to compare figures across "
                           "files")
    for jid, rep in reports.items():
        warnings.extend(f"{jid}: {w}" for w in rep.judge["warnings"])  # type: ignore[index]
    primary = settings.primary
    rows = [{"judge": jid, "figures": rep.judge["figures"],  # type: ignore[index]
             "position": rep.judge["position"], "n_items": rep.judge["n_items"]}  # type: ignore[index]
            for jid, rep in reports.items()]
    rows.sort(key=lambda r: _rank_key(primary, r["figures"][primary]))
    j0 = max(reports.values(), key=lambda r: r.judge["n_items"]).judge  # type: ignore[index]
    assert j0 is not None
    ceiling = {"method": j0["ceiling_method"], "figures": j0["ceiling"]}
    refs, _ = like_for_like_references(table, first.human["raters"], seed=settings.seed)
    if refs.shape[1] == 0:  # no leave-one-out reference: the judges meet the consensus
        cons = table.consensus if table.consensus is not None else _mean_consensus(table.scores)
        refs = cons[:, None]
    pairs = [_pair(a, b, arrays, refs, first.scale, settings)
             for a, b in combinations(reports, 2)]
    return Leaderboard(reports=reports, rows=rows, ceiling=ceiling, baseline=j0["baseline"],
                       pairs=pairs, warnings=warnings, scale_inferred=inferred)


def _quality(name: str, value: float) -> float:
    """A figure on a higher-is-better scale (for ranking and for saying which is better)."""
    if name in LOWER_IS_BETTER:
        return -value
    if name in CLOSER_TO_ZERO_IS_BETTER:
        return -abs(value)
    return value


def _rank_key(name: str, res: AgreementResult) -> tuple[int, float]:
    return (1, 0.0) if not res.defined else (0, -_quality(name, float(res.value)))


def _pair(a: str, b: str, arrays: Mapping[str, np.ndarray], refs: np.ndarray,
          scale: tuple[float, float], settings: ReportSettings) -> dict[str, Any]:
    name = settings.primary
    diff = paired_difference(arrays[a], arrays[b], refs, figure=name, scale=scale,
                             n_resamples=settings.n_resamples, seed=settings.seed,
                             confidence=settings.confidence)
    better = None
    if diff.defined and diff.ci95 is not None:
        lo, hi = diff.ci95
        sign = -1.0 if name in LOWER_IS_BETTER or name in CLOSER_TO_ZERO_IS_BETTER else 1.0
        if lo > 0 or hi < 0:
            better = a if sign * (lo if lo > 0 else hi) > 0 else b
    return {"a": a, "b": b, "figure": name,
            "of": "|bias|" if name in CLOSER_TO_ZERO_IS_BETTER else name,
            "difference": diff, "better": better, "n_items": diff.n_items}


def paired_difference(
    a: np.ndarray,
    b: np.ndarray,
    references: np.ndarray,
    *,
    figure: str,
    scale: tuple[float, float],
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> AgreementResult:
    """Judge ``a`` minus judge ``b`` on one figure, like-for-like, with a paired bootstrap CI.

    Both judges are compared with the same references (the leave-one-out consensuses of
    :func:`~harness.reports.like_for_like_references`, averaged as in
    :func:`~harness.agreement.compare_to_references`) on the items both scored; the CI is
    the percentile interval of the difference over B item resamples drawn once and shared by
    both judges (the same seed as their own CIs), so what the two have in common cancels.
    For ``bias`` the difference is of ``|bias|``. Each resample is held as counts of each
    judge's distinct (score, reference) pairs per reference
    (:func:`~harness.agreement._loo.pair_weights`): memory O(B x distinct pairs), with item
    counts drawn in bounded blocks, not the (B x items) matrix (800 MB at 100,000 items).

    Parameters
    ----------
    a, b : ndarray, shape (n,)
        The two judges' scores (NaN: none).
    references : ndarray, shape (n, m)
        The references, NaN where one does not cover an item.
    figure : str
        One of :data:`~harness.agreement.PAIRED_FIGURES`.
    scale : tuple of float
    n_resamples : int
        B; 0 gives the point only.
    seed : int
    confidence : float

    Returns
    -------
    AgreementResult
        ``statistic`` ``"difference of <figure>"``; undefined (with the reason) when the
        figure is undefined for either judge; ``n_items`` the shared items.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    refs = np.asarray(references, dtype=float)
    both = ~np.isnan(a) & ~np.isnan(b)
    a, b = np.where(both, a, np.nan), np.where(both, b, np.nan)
    stat = f"difference of {figure}"
    fa, fb = (compare_to_references(x, refs, scale=scale, n_resamples=0)[figure]
              for x in (a, b))
    covered = both[:, None] & ~np.isnan(refs)
    n_items = int(covered.any(axis=1).sum())
    if not (fa.defined and fb.defined):
        why = fa.reason if not fa.defined else fb.reason
        return undefined(stat, f"undefined for one of the judges ({why})", n_items=n_items)
    absolute = figure in CLOSER_TO_ZERO_IS_BETTER
    point = (abs(fa.value) - abs(fb.value)) if absolute else fa.value - fb.value  # type: ignore[operator]
    res = AgreementResult(statistic=stat, value=float(point), n_items=n_items, n_raters=2,
                          details={"a": fa.value, "b": fb.value, "paired": True})
    if n_resamples <= 0 or n_items < 3:
        return res
    rows = np.flatnonzero(covered.any(axis=1))
    cov = covered[rows]
    m = refs.shape[1]
    use = range(m) if m <= MAX_BOOTSTRAP_REFERENCES else sorted(
        {int(i) for i in np.linspace(0, m - 1, MAX_BOOTSTRAP_REFERENCES).round()})
    use = [r for r in use if cov[:, r].sum() >= 3]
    # each judge's distinct (score, reference) pairs per reference, keyed r (a) and m + r (b),
    # weighted by the same item resamples: (B, pairs) arrays, never the (B, items) matrix
    pairs = {k * m + r: distinct_pairs(x[rows], refs[rows, r], cov[:, r])
             for k, x in enumerate((a, b)) for r in use}
    weights = pair_weights(pairs, np.hstack([cov, cov]), n_resamples, seed)
    reps = []
    for r in use:
        ra, rb = (weighted_figures(pairs[key][0][:, 0], pairs[key][0][:, 1], weights[key],
                                   scale=scale, figures=(figure,)).get(figure)
                  for key in (r, m + r))
        if ra is None or rb is None:
            return replace(res, details={**res.details, "bootstrap": {
                "reason": "no bootstrap for this figure on these data"}})
        reps.append(np.abs(ra) - np.abs(rb) if absolute else ra - rb)
    if not reps:
        return res
    return with_percentile_ci(res, np.mean(np.vstack(reps), axis=0), n_resamples=n_resamples,
                              seed=seed, confidence=confidence)
