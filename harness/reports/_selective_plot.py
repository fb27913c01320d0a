"""The agreement–coverage curve of selective evaluation (``judgecal selective``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness._say import confidence_text, exact_text

__all__ = ["agreement_coverage_figure", "selective_figure"]

_COLORS = {"calibration": "#1f77b4", "holdout": "#d62728"}
#: Curves of other names (a cascade's stages), in order.
_CYCLE = ("#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")
_MARKERS = {"calibration": "s", "holdout": "D"}


def agreement_coverage_figure(curves: Mapping[str, Sequence[Any]], *, target: float,
                              threshold: float | str | None = None,
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
    threshold : float or str, optional
        The certified threshold (named in the title; None: none certified; a string is
        shown as it is).
    points : mapping of str to (coverage, agreement), optional
        Each split's operating point at the threshold (marked on its curve); a point whose
        name is not a curve's (a cascade's overall point on a split) is marked on its own,
        in the legend.

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
    others = iter(_CYCLE * 4)
    for split, curve in curves.items():
        if not curve:
            continue
        color = _COLORS.get(split) or next(others)
        ax.plot([p.coverage for p in curve], [p.agreement for p in curve], marker=".",
                color=color, label=split, drawstyle="steps-post" if len(curve) > 40 else None)
        drawn = True
        point = (points or {}).get(split)
        if point is not None and point[1] is not None and point[0] > 0:
            ax.plot([point[0]], [point[1]], marker="o", markersize=9, color=color,
                    markerfacecolor="none")
    for name, point in (points or {}).items():
        if name in curves or point[1] is None or point[0] <= 0:
            continue
        split = next((s for s in _MARKERS if s in name), None)
        ax.plot([point[0]], [point[1]], linestyle="none", marker=_MARKERS.get(split, "o"),
                markersize=8, color=_COLORS.get(split, "0.2"), label=name)
        drawn = True
    ax.axhline(target, color="0.4", linestyle="--", linewidth=1,
               label=f"target {exact_text(target)}")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("coverage (share of items the judge keeps)")
    ax.set_ylabel("agreement with the humans on kept items")
    lam = ("none certified" if threshold is None else threshold if isinstance(threshold, str)
           else f"threshold {confidence_text(threshold)}")
    ax.set_title(f"Agreement vs coverage ({lam})", fontsize=10)
    if not drawn:
        ax.text(0.5, 0.5, "no item with a confidence", ha="center", va="center",
                transform=ax.transAxes, color="0.4")
    ax.legend(loc="lower left", fontsize=8)
    return fig


def selective_figure(report: Any) -> Any:
    """The agreement–coverage figure of ``judgecal selective`` (``--plot``, MLflow, the HTML
    report).

    Parameters
    ----------
    report : SelectiveReport or CascadeReport
        One judge: its curve on each split with the operating point at the threshold. A
        cascade: each stage's judge alone on the calibration items, and the cascade's
        overall operating point on each split.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if hasattr(report, "labels"):  # a cascade
        curves = {f"{label} alone": report.curve(j) for j, label in enumerate(report.labels)}
        points = {f"cascade, {split}": (o.overall.coverage, o.overall.agreement)
                  for split, o in report.outcomes.items()}
        lams = ", ".join("none" if t is None else confidence_text(t)
                         for t in report.thresholds)
        return agreement_coverage_figure(curves, target=report.target,
                                         threshold=f"cascade thresholds {lams}", points=points)
    points = {}
    for split in report.data:
        o = report.threshold.calibration if split == "calibration" else report.holdout
        if o is not None:
            points[split] = (o.coverage, o.agreement)
    return agreement_coverage_figure({s: report.curve(s) for s in report.data},
                                     target=report.target,
                                     threshold=report.threshold.threshold, points=points)
