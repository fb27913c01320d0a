"""The gate's statistics beyond the report: the paired loss CI of a regression bar, and how
many more anchors would decide an inconclusive bar."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._bars import NO_CI_FIGURES, BarResult, direction


def loss_ci(metric: str, candidate: np.ndarray, baseline: np.ndarray, consensus: np.ndarray,
            *, scale: tuple[float, float], n_resamples: int, seed: int = 0,
            confidence: float = 0.95) -> tuple[float, float] | None:
    """Paired item-bootstrap CI of the candidate's loss against the baseline on one figure.

    Both versions are resampled with the same item draws, so the interval is that of the
    difference on the same items (narrow when the two versions agree on most items).

    Parameters
    ----------
    metric : str
        The figure key.
    candidate, baseline, consensus : ndarray
        Scores aligned by item (NaN: missing); items missing from any are left out.
    scale : tuple of float
    n_resamples : int
        Resamples B; 0 gives no interval.
    seed : int
    confidence : float

    Returns
    -------
    tuple of float or None
        ``(lo, hi)`` of the loss (positive: worse), or None when it cannot be computed
        (fewer than 3 items, no resamples, or the figure undefined on some resample).
    """
    from harness.agreement._bootstrap import resample_weights
    from harness.agreement._paired import weighted_figures

    keep = ~(np.isnan(candidate) | np.isnan(baseline) | np.isnan(consensus))
    if n_resamples <= 0 or keep.sum() < 3:
        return None
    x_c, x_b, y = candidate[keep], baseline[keep], consensus[keep]
    w = resample_weights(np.ones(x_c.size), n_resamples, seed)
    rc = weighted_figures(x_c, y, w, scale=scale).get(metric)
    rb = weighted_figures(x_b, y, w, scale=scale).get(metric)
    if rc is None or rb is None:
        return None
    d = direction(metric)
    loss = rb - rc if d == "higher" else rc - rb if d == "lower" else np.abs(rc) - np.abs(rb)
    if np.isnan(loss).any():
        return None
    tail = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(loss, [tail, 1.0 - tail])
    return float(lo), float(hi)


def _statistic(metric: str, scale: tuple[float, float], cols: list[np.ndarray]
               ) -> Callable[[np.ndarray], np.ndarray]:
    """Weights over distinct rows -> the bar's figure (or a regression's loss), vectorized."""
    from harness.agreement._paired import weighted_figures

    d = direction(metric)

    def stat(w: np.ndarray) -> np.ndarray:
        fig = weighted_figures(cols[0], cols[1], w, scale=scale)[metric]
        if len(cols) == 2:
            return np.abs(fig) if d == "closer_to_zero" else fig
        base = weighted_figures(cols[2], cols[1], w, scale=scale)[metric]
        return base - fig if d == "higher" else fig - base if d == "lower" \
            else np.abs(fig) - np.abs(base)

    return stat


def plan_bar(b: BarResult, scores: np.ndarray, consensus: np.ndarray, *,
             scale: tuple[float, float], confidence: float,
             baseline_scores: np.ndarray | None = None, seed: int = 0) -> BarResult:
    """Fill ``more_anchors_to_decide`` on an inconclusive bar (:func:`anchors_to_decide`).

    The judge's scores and the consensus (and, for a regression bar, the baseline's scores)
    are resampled together from the current items and grown until the CI half-width of the
    figure (or the loss) is under the margin between its point value and the bar.

    Parameters
    ----------
    b : BarResult
        Left as it is unless inconclusive with a defined value.
    scores, consensus : ndarray
        Per item, aligned (NaN: missing).
    scale : tuple of float
    confidence : float
        The bar's CI level.
    baseline_scores : ndarray, optional
        For a ``max_regression`` bar.
    seed : int

    Returns
    -------
    BarResult
        ``b``, updated in place.
    """
    from harness.plan import anchors_to_decide, distinct_rows

    if not b.inconclusive or b.value is None or b.bar.metric in NO_CI_FIGURES:
        return b
    cols = [np.asarray(scores, dtype=float), np.asarray(consensus, dtype=float)]
    if b.bar.kind == "max_regression":
        if baseline_scores is None or b.baseline_value is None:
            return b
        cols.append(np.asarray(baseline_scores, dtype=float))
        d = direction(b.bar.metric)
        base, cand = b.baseline_value, b.value
        estimate = base - cand if d == "higher" else cand - base if d == "lower" \
            else abs(cand) - abs(base)
    else:
        estimate = abs(b.value) if direction(b.bar.metric) == "closer_to_zero" else b.value
    keep = np.all([~np.isnan(c) for c in cols], axis=0)
    if keep.sum() < 3:
        return b
    rows, counts = distinct_rows(*[c[keep] for c in cols])
    b.more_anchors_to_decide = anchors_to_decide(
        _statistic(b.bar.metric, scale, rows), counts, estimate, b.bar.threshold,
        confidence=confidence, seed=seed)
    b.planned = True
    return b
