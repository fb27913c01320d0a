"""The whole corrected estimate of a population from arrays: means, pass rates, n_eff."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._ppi import (
    MeanEstimate,
    classical_mean,
    effective_labels,
    naive_mean,
    ppi_mean,
    ppi_plusplus_mean,
)
from ._rogan_gladen import (
    PassRateEstimate,
    naive_pass_rate,
    rogan_gladen,
    sensitivity_specificity,
)

#: The corrected mean's methods.
METHODS = ("ppi++", "ppi")


@dataclass
class PopulationEstimate:
    """Naive and corrected estimates of a population's mean score and pass rate.

    Attributes
    ----------
    naive : MeanEstimate
        The judge's mean on the production items alone.
    corrected : MeanEstimate
        PPI or PPI++ with the anchors.
    classical : MeanEstimate
        The humans' mean on the anchors alone (what the anchors say without the judge).
    effective_labels : float
        :func:`~harness.estimate.effective_labels` of ``corrected``.
    pass_at : float or None
        The pass mark (a score at or above it passes); None: no pass rates.
    pass_naive, pass_corrected : PassRateEstimate or None
    n_anchors, n_production : int
        Items used (with a human truth and a judge score; with a judge score).
    notes : list of str
        Items left out and why.
    """

    naive: MeanEstimate
    corrected: MeanEstimate
    classical: MeanEstimate
    effective_labels: float
    pass_at: float | None
    pass_naive: PassRateEstimate | None
    pass_corrected: PassRateEstimate | None
    n_anchors: int
    n_production: int
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The ``judgecal estimate --json`` document (without the caller's context)."""
        def num(x: float) -> float | None:
            return None if x is None or not np.isfinite(x) else float(x)

        return {
            "naive": {"mean": self.naive.mean, "ci95": list(self.naive.ci),
                      "se": self.naive.se},
            "corrected": {"mean": self.corrected.mean, "ci95": list(self.corrected.ci),
                          "se": self.corrected.se, "method": self.corrected.method,
                          "lambda": self.corrected.lam},
            "humans_only": {"mean": self.classical.mean, "ci95": list(self.classical.ci),
                            "se": self.classical.se},
            "pass_rate": None if self.pass_at is None else {
                "pass_at": self.pass_at,
                "naive": None if self.pass_naive is None else self.pass_naive.to_dict(),
                "corrected": None if self.pass_corrected is None
                else self.pass_corrected.to_dict()},
            "effective_labels": num(self.effective_labels),
            "n_anchors": self.n_anchors,
            "n_production": self.n_production,
            "notes": list(self.notes),
        }


def estimate_population(truth: ArrayLike, judged: ArrayLike, production: ArrayLike, *,
                        pass_at: float | None = None, method: str = "ppi++",
                        alpha: float = 0.05) -> PopulationEstimate:
    """Mean score and pass rate of a judged population, naive and corrected with anchors.

    Parameters
    ----------
    truth : array_like
        The humans' consensus on the anchors (NaN: none; such anchors are left out).
    judged : array_like
        The judge's score on the same anchors, aligned (NaN: no valid judgment; left out).
    production : array_like
        The judge's scores on the production items (NaN left out).
    pass_at : float, optional
        A score at or above it passes (for the humans' consensus and the judge's score
        alike); None: no pass rates.
    method : {"ppi++", "ppi"}
        The corrected mean: :func:`~harness.estimate.ppi_plusplus_mean` (power-tuned, the
        default) or :func:`~harness.estimate.ppi_mean`.
    alpha : float
        1 - the level of the intervals.

    Returns
    -------
    PopulationEstimate

    Raises
    ------
    ValueError
        Fewer than 2 usable anchors or production items, arrays not aligned, an unknown
        method.

    Examples
    --------
    >>> est = estimate_population([1, 2, 3, 4], [2, 3, 4, 5], [2, 3, 4, 5] * 10, method="ppi")
    >>> est.naive.mean, est.corrected.mean
    (3.5, 2.5)
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    t = np.asarray(truth, dtype=float).ravel()
    f = np.asarray(judged, dtype=float).ravel()
    if t.size != f.size:
        raise ValueError(f"truth and judged must be aligned: {t.size} and {f.size} values")
    u = np.asarray(production, dtype=float).ravel()
    notes = []
    keep = np.isfinite(t) & np.isfinite(f)
    if (~np.isfinite(t)).any():
        notes.append(f"{int((~np.isfinite(t)).sum())} anchor(s) without a human consensus "
                     "left out")
    no_judge = np.isfinite(t) & ~np.isfinite(f)
    if no_judge.any():
        notes.append(f"{int(no_judge.sum())} anchor(s) without a valid judge score left out "
                     "(if the judge fails more on some kind of item, the correction is "
                     "biased towards the others)")
    if (~np.isfinite(u)).any():
        notes.append(f"{int((~np.isfinite(u)).sum())} production item(s) without a valid "
                     "judge score left out")
    t, f, u = t[keep], f[keep], u[np.isfinite(u)]
    if t.size < 2:
        raise ValueError(f"{t.size} anchor(s) with both a human consensus and a judge score: "
                         "at least 2 are needed")
    if u.size < 2:
        raise ValueError(f"{u.size} production item(s) with a judge score: at least 2 are "
                         "needed")
    fn = ppi_plusplus_mean if method == "ppi++" else ppi_mean
    corrected = fn(t, f, u, alpha=alpha)
    pass_naive = pass_corrected = None
    if pass_at is not None:
        x = int((u >= pass_at).sum())
        pass_naive = naive_pass_rate(x, int(u.size), alpha=alpha)
        pass_corrected = rogan_gladen(x, int(u.size),
                                      *sensitivity_specificity(t >= pass_at, f >= pass_at),
                                      alpha=alpha)
    return PopulationEstimate(
        naive=naive_mean(u, alpha=alpha), corrected=corrected,
        classical=classical_mean(t, alpha=alpha),
        effective_labels=effective_labels(t, corrected), pass_at=pass_at,
        pass_naive=pass_naive, pass_corrected=pass_corrected, n_anchors=int(t.size),
        n_production=int(u.size), notes=notes)


__all__ = ["METHODS", "PopulationEstimate", "estimate_population"]
