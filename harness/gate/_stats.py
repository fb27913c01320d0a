"""The gate's statistics beyond the report: the paired test of a regression bar's loss, and
how many more anchors would decide an inconclusive bar."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._bars import NO_CI_FIGURES, BarResult, LossTest, direction


def loss_test(metric: str, candidate: np.ndarray, baseline: np.ndarray, consensus: np.ndarray,
              *, scale: tuple[float, float], n_resamples: int, seed: int = 0,
              confidence: float = 0.95, family: int = 1) -> LossTest | None:
    r"""Paired item-bootstrap test of the candidate's loss against the baseline on one figure.

    Both versions are resampled with the same item draws, so the distribution is that of
    the difference on the same items (narrow when the two versions agree on most items).
    From the B resampled losses :math:`L^*_b`:

    * the CI is their percentile interval at ``confidence``;
    * the one-sided p-value of H0 "no loss" (L ≤ 0) is
      :math:`(1 + \#\{L^*_b \le 0\}) / (B + 1)` (the percentile test; Davison & Hinkley
      1997, §4.4);
    * the standard error is their SD, and the smallest loss detectable with 80% power at
      one-sided level α/m (α = 1 − confidence, m = ``family``, the first step of Holm) is
      :math:`(z_{1-α/m} + z_{0.8})\,\mathrm{se}`;
    * the one-sided upper bound is their :math:`1 - α/m` quantile.

    Parameters
    ----------
    metric : str
        The figure key.
    candidate, baseline, consensus : ndarray
        Scores aligned by item (NaN: missing); items missing from any are left out.
    scale : tuple of float
    n_resamples : int
        Resamples B; 0 gives no test.
    seed : int
    confidence : float
        The gate's confidence (0.95, or tightened by holdout looks); α = 1 − confidence.
    family : int
        How many regression bars are tested together (Holm's m).

    Returns
    -------
    LossTest or None
        None when the loss cannot be tested (fewer than 3 shared items, no resamples, or
        the figure undefined on some resample). ``p_holm`` is left to :func:`holm_family`.
    """
    from harness.agreement._bootstrap import resample_weights
    from harness.agreement._dist import norm_ppf
    from harness.agreement._paired import weighted_figures

    keep = ~(np.isnan(candidate) | np.isnan(baseline) | np.isnan(consensus))
    n = int(keep.sum())
    if n_resamples <= 0 or n < 3:
        return None
    from harness.plan import distinct_rows

    # items with the same (candidate, baseline, consensus) are interchangeable: resample
    # the distinct rows with multinomial counts (the same distribution as item draws)
    (x_c, x_b, y), counts = distinct_rows(candidate[keep], baseline[keep], consensus[keep])
    w = np.vstack([counts, resample_weights(counts, n_resamples, seed)])
    rc = weighted_figures(x_c, y, w, scale=scale, figures=(metric,)).get(metric)
    rb = weighted_figures(x_b, y, w, scale=scale, figures=(metric,)).get(metric)
    if rc is None or rb is None:
        return None
    d = direction(metric)
    losses = rb - rc if d == "higher" else rc - rb if d == "lower" else np.abs(rc) - np.abs(rb)
    if np.isnan(losses).any():
        return None
    point, boot = float(losses[0]), losses[1:]
    alpha = 1.0 - confidence
    tail = alpha / 2.0
    lo, hi = np.quantile(boot, [tail, 1.0 - tail])
    one_sided = alpha / max(1, family)
    se = float(boot.std(ddof=1))
    return LossTest(
        loss=point, ci=(float(lo), float(hi)),
        p_value=float((1 + np.count_nonzero(boot <= 0.0)) / (boot.size + 1)),
        se=se, n_items=n, alpha=alpha, family=max(1, family),
        upper=float(np.quantile(boot, 1.0 - one_sided)),
        detectable=float((norm_ppf(1.0 - one_sided) + norm_ppf(0.8)) * se))


def _statistic(metric: str, scale: tuple[float, float], cols: list[np.ndarray]
               ) -> Callable[[np.ndarray], np.ndarray]:
    """Weights over distinct rows -> the bar's figure, vectorized."""
    from harness.agreement._paired import weighted_figures

    d = direction(metric)

    def stat(w: np.ndarray) -> np.ndarray:
        fig = weighted_figures(cols[0], cols[1], w, scale=scale, figures=(metric,))[metric]
        return np.abs(fig) if d == "closer_to_zero" else fig

    return stat


def plan_bar(b: BarResult, scores: np.ndarray, consensus: np.ndarray, *,
             scale: tuple[float, float], confidence: float, seed: int = 0) -> BarResult:
    """Fill ``more_anchors_to_decide`` on an inconclusive ``min`` or ``max`` bar.

    The judge's scores and the consensus are resampled together from the current items
    and grown until the CI half-width of the figure is under the margin between its point
    value and the bar (:func:`harness.plan.anchors_to_decide`). A regression bar carries
    its own answer (:meth:`LossTest.anchors_to_detect`).

    Parameters
    ----------
    b : BarResult
        Left as it is unless an inconclusive min/max bar with a defined value.
    scores, consensus : ndarray
        Per item, aligned (NaN: missing).
    scale : tuple of float
    confidence : float
        The bar's CI level.
    seed : int

    Returns
    -------
    BarResult
        ``b``, updated in place.
    """
    from harness.plan import anchors_to_decide, distinct_rows

    if (not b.inconclusive or b.value is None or b.bar.metric in NO_CI_FIGURES
            or b.bar.kind == "max_regression"):
        return b
    cols = [np.asarray(scores, dtype=float), np.asarray(consensus, dtype=float)]
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
