"""Fast item-level bootstrap CI for Krippendorff's alpha (interval) among many raters."""

from __future__ import annotations

import numpy as np

from ._bootstrap import bootstrap_ci, resample_weights, with_percentile_ci
from ._krippendorff import krippendorff_alpha
from ._matrix import as_matrix
from ._result import AgreementResult

_MAX_VALUES = 100


def unit_coincidences(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-unit coincidence contributions, shape (n_units, V*V), and the distinct values.

    Unit u with value counts n_u and m_u >= 2 values contributes
    (n_u n_u^T - diag(n_u)) / (m_u - 1) to Krippendorff's coincidence matrix; units with fewer
    than two values contribute nothing (Krippendorff 2011, section C).
    """
    values = np.unique(matrix[~np.isnan(matrix)])
    v = values.size
    idx = np.searchsorted(values, np.nan_to_num(matrix, nan=values[0] if v else 0.0))
    present = ~np.isnan(matrix)
    counts = np.zeros((matrix.shape[0], v))
    rows = np.repeat(np.arange(matrix.shape[0]), matrix.shape[1])
    np.add.at(counts, (rows[present.ravel()], idx.ravel()[present.ravel()]), 1.0)
    m = counts.sum(axis=1)
    outer = counts[:, :, None] * counts[:, None, :]
    outer[:, np.arange(v), np.arange(v)] -= counts
    with np.errstate(invalid="ignore", divide="ignore"):
        contrib = np.where((m >= 2)[:, None, None], outer / (m - 1)[:, None, None], 0.0)
    return contrib.reshape(matrix.shape[0], v * v), values


def weighted_alpha_interval(contrib: np.ndarray, values: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Interval alpha for each row of frequency weights ``w`` (B, n_units)."""
    v = values.size
    o = (w @ contrib).reshape(w.shape[0], v, v)
    delta = (values[:, None] - values[None, :]) ** 2
    n_c = o.sum(axis=2)
    total = n_c.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        d_o = np.einsum("bij,ij->b", o, delta) / total
        d_e = np.einsum("bi,ij,bj->b", n_c, delta, n_c) / (total * (total - 1.0))
        alpha = 1.0 - d_o / d_e
    return np.where(np.isfinite(alpha) & (d_e > 0), alpha, np.nan)


def alpha_interval_bootstrap(
    matrix: np.ndarray,
    point: AgreementResult | None = None,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> AgreementResult:
    """Krippendorff's alpha (interval) with an item-level bootstrap percentile CI.

    Equivalent to ``bootstrap_ci(krippendorff_alpha, matrix, level="interval")`` with the
    percentile method, but the resamples are multinomial counts over the distinct unit
    contributions, so 1,000 resamples of 10,000 units take milliseconds.
    """
    matrix = as_matrix(matrix)
    point = point or krippendorff_alpha(matrix, level="interval")
    if not point.defined:
        return point
    contrib, values = unit_coincidences(matrix)
    if values.size > _MAX_VALUES:
        return bootstrap_ci(krippendorff_alpha, matrix, n_resamples=n_resamples, seed=seed,
                            confidence=confidence, level="interval")
    uniq, counts = np.unique(contrib, axis=0, return_counts=True)
    reps = weighted_alpha_interval(uniq, values, resample_weights(counts, n_resamples, seed))
    return with_percentile_ci(point, reps, n_resamples=n_resamples, seed=seed,
                              confidence=confidence)
