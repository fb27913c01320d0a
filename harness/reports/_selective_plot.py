"""The agreement–coverage curve of selective evaluation (``judgecal selective``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["agreement_coverage_figure"]

_COLORS = {"calibration": "#1f77b4", "holdout": "#d62728"}


def agreement_coverage_figure(curves: Mapping[str, Sequence[Any]], *, target: float,
                              threshold: float | None = None,
                              points: Mapping[str, tuple[float, float | None]] | None = None
                              ) -> Any:
    """Agreement with the humans on the kept items against coverage, one line per split.

    Parameters
    ----------
    curves : mapping of str to sequence of CurvePoint
        Per split (``calibration``, ``holdout``), most confident first
        (:func:`harness.selective.agreement_coverage_curve`).
    target : float
        The agreement guaranteed (a dashed line).
    threshold : float, optional
        The certified threshold (named in the title; None: none certified).
    points : mapping of str to (coverage, agreement), optional
        Each split's operating point at the threshold (marked).

    Returns
    -------
    matplotlib.figure.Figure
        Drawn on the Agg canvas (no pyplot, no global state).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.0, 4.0), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    fig.subplots_adjust(left=0.14, right=0.96, bottom=0.13, top=0.88)
    drawn = False
    for split, curve in curves.items():
        if not curve:
            continue
        color = _COLORS.get(split, "0.3")
        ax.plot([p.coverage for p in curve], [p.agreement for p in curve], marker=".",
                color=color, label=split, drawstyle="steps-post" if len(curve) > 40 else None)
        drawn = True
        point = (points or {}).get(split)
        if point is not None and point[1] is not None and point[0] > 0:
            ax.plot([point[0]], [point[1]], marker="o", markersize=9, color=color,
                    markerfacecolor="none")
    ax.axhline(target, color="0.4", linestyle="--", linewidth=1, label=f"target {target:g}")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("coverage (share of items the judge keeps)")
    ax.set_ylabel("agreement with the humans on kept items")
    lam = "none certified" if threshold is None else f"threshold {threshold:.3f}"
    ax.set_title(f"Agreement vs coverage ({lam})", fontsize=10)
    if not drawn:
        ax.text(0.5, 0.5, "no item with a confidence", ha="center", va="center",
                transform=ax.transAxes, color="0.4")
    ax.legend(loc="lower left", fontsize=8)
    return fig
