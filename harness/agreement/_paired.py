"""One set of scores against a reference: every figure at once, with fast bootstrap CIs.

The judge-vs-consensus panel (and each human against the others' consensus) needs nine
statistics, each with an item-level bootstrap CI. Recomputing nine statistics on 1,000
resamples of 10,000 items one by one costs minutes; here the resamples are drawn once, as
multinomial counts over the distinct (score, reference) pairs, and every statistic is
computed for all resamples at once from weighted sufficient statistics. A resample drawn
this way has exactly the distribution of an item-level resample (items with the same pair
are interchangeable), so the intervals are those of the ordinary bootstrap.

Point estimates come from the public statistics themselves, so they are the figures the
reference cases check; the weighted kernels serve only the resamples, and the tests check
that with unit weights they reproduce the point estimates.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import replace

import numpy as np

from ._bootstrap import resample_weights, with_percentile_ci
from ._correlation import kendall_tau_b, spearman
from ._dist import norm_ppf
from ._errors import mae, mean_bias
from ._icc import icc, icc_value
from ._kappa import cohen_kappa
from ._krippendorff import krippendorff_alpha
from ._percent import percent_agreement
from ._result import AgreementResult

#: Figures of :func:`compare_to_reference`, in report order.
PAIRED_FIGURES = (
    "spearman",
    "kendall_tau_b",
    "icc",
    "weighted_kappa",
    "krippendorff_alpha",
    "exact_agreement",
    "within_one",
    "mae",
    "bias",
)

#: Shares of items (binomial proportions): Wilson score interval instead of the bootstrap.
SHARE_FIGURES = ("exact_agreement", "within_one")

_MAX_TABLE_CELLS = 20_000  # distinct (score, reference) value pairs for the table kernels


def round_to_scale(values: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    """Round to the nearest scale point, halves up (3.5 -> 4), kept inside the scale."""
    lo, hi = scale
    return np.clip(np.floor(values - lo + 0.5) + lo, lo, hi)


def compare_to_reference(
    scores: Sequence[float] | np.ndarray,
    reference: Sequence[float] | np.ndarray,
    *,
    scale: tuple[float, float],
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, AgreementResult]:
    """Agreement of ``scores`` with a ``reference`` (a consensus), each figure with its CI.

    Parameters
    ----------
    scores, reference : sequence of float
        One score per item from the rater under test (a judge, or one human) and the
        reference for the same items (the consensus of the humans, or of the other humans).
        Items with either missing (NaN) are left out.
    scale : (min, max)
        The integer rating scale. Categorical figures (weighted kappa, exact and within-one
        agreement) use both series rounded to the nearest scale point, halves up, since a
        consensus formed by a mean is rarely a scale point.
    n_resamples : int
        Bootstrap resamples B for the CIs; 0 computes point estimates only.
    confidence : float
        Level of the intervals: item-level percentile bootstrap, except for the shares of
        items (exact and within-one agreement), which get the Wilson score interval.
    seed : int
        Seed of the resampling.

    Returns
    -------
    dict of str to AgreementResult
        Keyed by :data:`PAIRED_FIGURES`: Spearman rho, Kendall tau-b, ICC(2,1) of the two
        series, quadratic-weighted Cohen kappa, Krippendorff alpha (interval), exact and
        within-one agreement, MAE, and mean signed bias (scores minus reference; positive
        means lenient).

    Examples
    --------
    >>> from harness.agreement import compare_to_reference
    >>> figs = compare_to_reference([1, 2, 3, 4, 5, 4], [1.3, 2.0, 2.7, 4.3, 4.7, 3.3],
    ...                             scale=(1, 5), n_resamples=0)
    >>> round(figs["mae"].value, 3), figs["exact_agreement"].value
    (0.317, 0.8333333333333334)
    """
    x = np.asarray(scores, dtype=float)
    y = np.asarray(reference, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"scores and reference must be equal-length 1-D, got {x.shape}, {y.shape}")
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    n_dropped = int((~keep).sum())
    pair = np.column_stack([x, y])
    points = _points(x, y, scale, icc(pair, form="ICC(2,1)"))
    if n_dropped:
        points = {
            k: replace(v, details={**v.details, "n_pairs_dropped": n_dropped})
            for k, v in points.items()
        }
    if n_resamples <= 0 or x.size < 3:
        return points

    # Distinct pairs and multinomial resample counts over them.
    uniq, counts = np.unique(pair, axis=0, return_counts=True)
    boot = weighted_figures(uniq[:, 0], uniq[:, 1],
                            resample_weights(counts, n_resamples, seed), scale=scale)
    out: dict[str, AgreementResult] = {}
    for name, res in points.items():
        reps = boot.get(name)
        if not res.defined or reps is None:
            out[name] = res
        elif name in SHARE_FIGURES:
            out[name] = with_wilson_ci(res, x.size, confidence)
        else:
            out[name] = with_percentile_ci(res, reps, n_resamples=n_resamples, seed=seed,
                                           confidence=confidence)
    return out


def _points(x: np.ndarray, y: np.ndarray, scale: tuple[float, float],
            icc_result: AgreementResult | None) -> dict[str, AgreementResult]:
    """The point figures of complete ``x``, ``y`` (the ICC given: with or without its CI)."""
    categories = list(np.arange(scale[0], scale[1] + 1, dtype=float))
    rx, ry = round_to_scale(x, scale), round_to_scale(y, scale)
    rounded = np.column_stack([rx, ry])
    points = {
        "spearman": _named_sides(spearman(x, y), x, y),
        "kendall_tau_b": _named_sides(kendall_tau_b(x, y), x, y),
        "icc": icc_result,
        "weighted_kappa": cohen_kappa(rx, ry, weights="quadratic", categories=categories),
        "krippendorff_alpha": krippendorff_alpha(np.column_stack([x, y]), level="interval"),
        "exact_agreement": percent_agreement(rounded, tolerance=0),
        "within_one": percent_agreement(rounded, tolerance=1),
        "mae": mae(x, y),
        "bias": mean_bias(x, y),
    }
    return {k: v for k, v in points.items() if v is not None}


def _named_sides(res: AgreementResult, x: np.ndarray, y: np.ndarray) -> AgreementResult:
    """A rank correlation's zero-variance reason naming the scores and the reference.

    The correlations name their arguments ``a`` and ``b``; here they are the scores under
    test and the reference, and a reader of a report knows them by those names.
    """
    if res.defined or not (res.reason or "").startswith("zero variance"):
        return res
    const = [name for name, v in (("the scores", x), ("the reference", y))
             if v.max() == v.min()]
    verb = "are" if len(const) > 1 or const == ["the scores"] else "is"
    return replace(res, reason=f"zero variance: {' and '.join(const)} {verb} constant")


def point_values(scores: np.ndarray, reference: np.ndarray, *, scale: tuple[float, float]
                 ) -> dict[str, float]:
    """The values of ``compare_to_reference(scores, reference, scale=scale, n_resamples=0)``.

    The same statistics on the same items, but the ICC without its F-test interval (its F
    quantiles cost more than the other eight figures together); for callers that keep only
    the values (:func:`~harness.agreement._loo.reference_points`).

    Parameters
    ----------
    scores, reference : ndarray, shape (n,)
        As for :func:`compare_to_reference` (NaN = none).
    scale : (min, max)
        The integer rating scale.

    Returns
    -------
    dict of str to float
        Keyed by :data:`PAIRED_FIGURES`; NaN where the figure is undefined.
    """
    x = np.asarray(scores, dtype=float)
    y = np.asarray(reference, dtype=float)
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    vals = {k: (float(v.value) if v.defined else math.nan)
            for k, v in _points(x, y, scale, None).items()}
    value = icc_value(np.column_stack([x, y]), form="ICC(2,1)")
    vals["icc"] = math.nan if value is None else float(value)
    return {name: vals[name] for name in PAIRED_FIGURES}


def with_wilson_ci(point: AgreementResult, n: int, confidence: float) -> AgreementResult:
    r"""Attach the Wilson score interval of a share of ``n`` items to ``point``.

    Exact and within-one agreement are binomial proportions over items. Their percentile
    bootstrap collapses to ``[1, 1]`` when every sampled item agrees, which at 20 items
    missed a true within-one agreement of 0.95 in about a third of simulated data sets
    (``benchmarks/coverage.py``); the Wilson (1927) interval,
    :math:`(\hat p + z^2/2n \pm z \sqrt{\hat p (1 - \hat p)/n + z^2/4n^2}) / (1 + z^2/n)`,
    keeps its coverage near the nominal level down to small n and near 0 or 1
    (Brown, Cai & DasGupta 2001).
    """
    p = float(point.value)
    z = norm_ppf(1.0 - (1.0 - confidence) / 2.0)
    den = 1.0 + z * z / n
    centre = (p + z * z / (2.0 * n)) / den
    half = z / den * math.sqrt(max(p * (1.0 - p), 0.0) / n + z * z / (4.0 * n * n))
    ci = (max(0.0, centre - half), min(1.0, centre + half))
    return point.with_ci(ci, f"Wilson score (n={n})")


def weighted_figures(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, *, scale: tuple[float, float],
    figures: Collection[str] | None = None,
) -> dict[str, np.ndarray]:
    """Every paired figure for B weightings of the same U value pairs at once.

    Parameters
    ----------
    x, y : ndarray, shape (U,)
        Distinct (score, reference) pairs.
    w : ndarray, shape (B, U)
        Frequency weights (resample counts) of each pair; each row is one resample.
    figures : collection of str, optional
        Compute only these (default: all); Kendall's τ-b is the costly one on many
        distinct values.

    Returns
    -------
    dict of str to ndarray of shape (B,)
        NaN where a figure is undefined on that weighting (e.g. zero variance).
    """
    w = np.atleast_2d(np.asarray(w, dtype=float))
    n = w.sum(axis=1)
    d = x - y
    want = set(PAIRED_FIGURES if figures is None else figures)
    out: dict[str, np.ndarray] = {}
    if "mae" in want:
        out["mae"] = w @ np.abs(d) / n
    if "bias" in want:
        out["bias"] = w @ d / n
    rx, ry = round_to_scale(x, scale), round_to_scale(y, scale)
    if "exact_agreement" in want:
        out["exact_agreement"] = w @ (rx == ry).astype(float) / n
    if "within_one" in want:
        out["within_one"] = w @ (np.abs(rx - ry) <= 1).astype(float) / n

    with np.errstate(divide="ignore", invalid="ignore"):
        if "spearman" in want:
            out["spearman"] = _weighted_spearman(x, y, w, n)
        if "icc" in want:
            out["icc"] = _weighted_icc21(x, y, w, n)
        if "krippendorff_alpha" in want:
            out["krippendorff_alpha"] = _weighted_alpha_interval(x, y, w, n)
        if "weighted_kappa" in want:
            out["weighted_kappa"] = _weighted_kappa_quadratic(rx, ry, w, n, scale)
        tau = _weighted_kendall_tau_b(x, y, w, n) if "kendall_tau_b" in want else None
        if tau is not None:
            out["kendall_tau_b"] = tau
    for key, vals in out.items():
        out[key] = np.where(np.isfinite(vals), vals, np.nan)
    return out


def _one_hot(index: np.ndarray, size: int) -> np.ndarray:
    oh = np.zeros((index.size, size))
    oh[np.arange(index.size), index] = 1.0
    return oh


def _weighted_pearson(a: np.ndarray, b: np.ndarray, w: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Weighted Pearson r; ``a``/``b`` are (U,) or (B, U)."""
    wa, wb = w * a, w * b
    return _pearson_of_sums(wa.sum(axis=1), wb.sum(axis=1), (wa * a).sum(axis=1),
                            (wb * b).sum(axis=1), (wa * b).sum(axis=1), n)


def _pearson_of_sums(sa: np.ndarray, sb: np.ndarray, saa: np.ndarray, sbb: np.ndarray,
                     sab: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Pearson r from the weighted sums of a, b, a^2, b^2 and ab over total weight n."""
    ma = sa / n
    mb = sb / n
    saa = saa / n - ma**2
    sbb = sbb / n - mb**2
    sab = sab / n - ma * mb
    tiny = 1e-12 * np.maximum(1.0, np.maximum(np.abs(ma), np.abs(mb))) ** 2
    r = sab / np.sqrt(saa * sbb)
    return np.where((saa > tiny) & (sbb > tiny), r, np.nan)


def _weighted_spearman(x: np.ndarray, y: np.ndarray, w: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Pearson r of the weighted mid-ranks; the sums of a rank and its square per value.

    A value's mid-rank is the same for every pair holding it, so the sums of the ranks and
    of their squares run over the V distinct values (their counts times their mid-ranks),
    not the U pairs; only the cross sum needs the pairs. Counts times half-integer ranks are
    exact, so the sums equal the pairwise ones bit for bit under resample counts.
    """
    lx, ix = np.unique(x, return_inverse=True)
    ly, iy = np.unique(y, return_inverse=True)
    cx, cy = w @ _one_hot(ix, lx.size), w @ _one_hot(iy, ly.size)  # (B, V) value counts
    mx = np.cumsum(cx, axis=1) - cx + (cx + 1.0) / 2.0  # mid-ranks of the values
    my = np.cumsum(cy, axis=1) - cy + (cy + 1.0) / 2.0
    wcx, wcy = cx * mx, cy * my
    return _pearson_of_sums(wcx.sum(axis=1), wcy.sum(axis=1), (wcx * mx).sum(axis=1),
                            (wcy * my).sum(axis=1), (w * mx[:, ix] * my[:, iy]).sum(axis=1), n)


def _weighted_icc21(x: np.ndarray, y: np.ndarray, w: np.ndarray, n: np.ndarray) -> np.ndarray:
    """ICC(2,1) of the two columns (x, y): two-way ANOVA with k = 2 from weighted sums."""
    k = 2.0
    sx, sy = w @ x, w @ y
    grand = (sx + sy) / (k * n)
    row_mean = (x + y) / k
    ss_rows = k * (w @ row_mean**2) - k * n * grand**2
    ss_cols = n * ((sx / n - grand) ** 2 + (sy / n - grand) ** 2)
    ss_total = w @ (x**2 + y**2) - k * n * grand**2
    ss_err = ss_total - ss_rows - ss_cols
    msr = ss_rows / (n - 1)
    msc = ss_cols / (k - 1)
    mse = ss_err / ((n - 1) * (k - 1))
    den = msr + (k - 1) * mse + k * (msc - mse) / n
    return np.where(den > 0, (msr - mse) / den, np.nan)


def _weighted_alpha_interval(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, n: np.ndarray
) -> np.ndarray:
    """Krippendorff's alpha, interval metric, two coders, no missing values."""
    total = 2.0 * n
    d_o = (w @ (x - y) ** 2) / n
    s1 = w @ (x + y)
    s2 = w @ (x**2 + y**2)
    d_e = (2.0 * total * s2 - 2.0 * s1**2) / (total * (total - 1.0))
    return np.where(d_e > 0, 1.0 - d_o / d_e, np.nan)


def _contingency(
    ix: np.ndarray, iy: np.ndarray, nx: int, ny: int, w: np.ndarray
) -> np.ndarray:
    """(B, nx, ny) weighted contingency tables of category indices ``ix`` x ``iy``."""
    return (w @ _one_hot(ix * ny + iy, nx * ny)).reshape(w.shape[0], nx, ny)


def _weighted_kappa_quadratic(
    rx: np.ndarray, ry: np.ndarray, w: np.ndarray, n: np.ndarray, scale: tuple[float, float]
) -> np.ndarray:
    q = int(round(scale[1] - scale[0])) + 1
    ix = (rx - scale[0]).astype(int)
    iy = (ry - scale[0]).astype(int)
    table = _contingency(ix, iy, q, q, w) / n[:, None, None]
    pos = np.arange(q)
    weights = 1.0 - (pos[:, None] - pos[None, :]) ** 2 / max(q - 1, 1) ** 2
    po = np.einsum("bij,ij->b", table, weights)
    pe = np.einsum("bi,ij,bj->b", table.sum(axis=2), weights, table.sum(axis=1))
    return np.where(pe < 1.0, (po - pe) / (1.0 - pe), np.nan)


def _weighted_kendall_tau_b(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, n: np.ndarray
) -> np.ndarray | None:
    """Kendall tau-b from (B, Vx, Vy) contingency tables; None if the table is too big."""
    vx, ix = np.unique(x, return_inverse=True)
    vy, iy = np.unique(y, return_inverse=True)
    if vx.size * vy.size > _MAX_TABLE_CELLS:
        return None
    if x.size <= SIGN_MATRIX_PAIRS:
        # few distinct pairs (a bootstrap's (score, reference) pairs on a scale): each
        # unordered pair of items counted twice by the U x U sign matrix, w M w = 2 (C - D);
        # the ties' sums from the contingency tables' margins, as below. Exact for counts
        sign = np.sign(x[None, :] - x[:, None]) * np.sign(y[None, :] - y[:, None])
        s = ((w @ sign) * w).sum(axis=1) / 2.0
        t = _contingency(ix, iy, vx.size, vy.size, w)
        rows, cols = t.sum(axis=2), t.sum(axis=1)
    else:
        s, rows, cols = _kendall_table_sums(ix, iy, vx.size, vy.size, w)
    n0 = n * (n - 1) / 2.0
    n1 = (rows * (rows - 1) / 2.0).sum(axis=1)
    n2 = (cols * (cols - 1) / 2.0).sum(axis=1)
    den = np.sqrt((n0 - n1) * (n0 - n2))
    return np.where(den > 0, s / den, np.nan)


#: :func:`_weighted_kendall_tau_b` takes the U x U sign matrix of the distinct pairs up to
#: this many pairs (a 256 x 256 product per block of weights), else the contingency table.
SIGN_MATRIX_PAIRS = 256


def _kendall_table_sums(ix: np.ndarray, iy: np.ndarray, nx: int, ny: int, w: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """C - D, and the counts of each x and y value, from the (B, nx, ny) contingency tables."""
    t = _contingency(ix, iy, nx, ny, w)
    b, nx, ny = t.shape
    # below[i, l] = sum of t[k, l] over k > i; then over l > j (concordant with cell i, j)
    # or l < j (discordant): three matrix products for all B tables (exact for counts)
    later_x = np.triu(np.ones((nx, nx)), 1)  # [i, k] = 1 where k > i
    below = (later_x @ t.transpose(1, 0, 2).reshape(nx, b * ny)).reshape(nx, b, ny)
    below = below.transpose(1, 0, 2).reshape(b * nx, ny)
    after = (below @ np.tril(np.ones((ny, ny)), -1)).reshape(b, nx, ny)  # [l, j]: l > j
    before = (below @ np.triu(np.ones((ny, ny)), 1)).reshape(b, nx, ny)  # l < j
    concordant = (t * after).reshape(b, -1).sum(axis=1)
    discordant = (t * before).reshape(b, -1).sum(axis=1)
    return concordant - discordant, t.sum(axis=2), t.sum(axis=1)


