"""Plots of the calibration report: matplotlib figures drawn with the Agg canvas.

Every function returns a :class:`matplotlib.figure.Figure` built directly (no ``pyplot``,
so no global figure state and nothing to close); :func:`figure_png` and
:func:`figure_data_uri` turn one into PNG bytes or an inline ``data:`` URI.

Judge scores that are NaN (no valid judgment) are left out of every plot, and their count
is noted in the title. Degenerate data (nothing left, a constant judge, a single iteration)
gives a figure saying so instead of an exception.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ._agreement import CLOSER_TO_ZERO_IS_BETTER, FIGURE_LABELS

if TYPE_CHECKING:
    from harness.loop._types import CalibrationResult

#: Size of every figure, in inches, and its resolution.
FIGSIZE = (5.0, 4.0)
DPI = 100
#: Half-width of the uniform jitter added to judge scores in the scatter plot.
JITTER = 0.18

_POINT = "#1f77b4"
_CEILING = "#2ca02c"
_HOLDOUT = "#d62728"


def _figure(figsize: tuple[float, float] = FIGSIZE) -> tuple[Figure, Axes]:
    fig = Figure(figsize=figsize, dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    fig.subplots_adjust(left=0.14, right=0.96, bottom=0.13, top=0.88)
    return fig, ax


def _empty(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes,
            color="0.4", fontsize=10, wrap=True)


def _pairs(judge_scores: Any, consensus: Any) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Complete pairs, the number of items without a judge score, and without a consensus."""
    j = np.asarray(judge_scores, dtype=float).ravel()
    c = np.asarray(consensus, dtype=float).ravel()
    if j.shape != c.shape:
        raise ValueError(f"judge scores and consensus differ in length: {j.size} vs {c.size}")
    no_judge = np.isnan(j)
    no_ref = np.isnan(c)
    keep = ~(no_judge | no_ref)
    return j[keep], c[keep], int((no_judge & ~no_ref).sum()), int(no_ref.sum())


def _dropped_note(n_no_judge: int) -> str:
    if not n_no_judge:
        return ""
    plural = "s" if n_no_judge != 1 else ""
    return f"\n({n_no_judge} item{plural} without a valid judgment left out)"


def scatter_plot(
    judge_scores: Sequence[float] | np.ndarray,
    consensus: Sequence[float] | np.ndarray,
    scale: tuple[float, float],
    *,
    title: str,
    seed: int = 0,
) -> Figure:
    """Judge score against human consensus, one point per item, with the identity line.

    Parameters
    ----------
    judge_scores, consensus : sequence of float
        Aligned per item; NaN judge scores (no valid judgment) are left out.
    scale : (min, max)
        The rating scale; both axes span it (with a margin for the jitter).
    title : str
        The figure title.
    seed : int
        Seed of the vertical jitter that separates tied judge scores.

    Returns
    -------
    matplotlib.figure.Figure
    """
    j, c, n_no_judge, _ = _pairs(judge_scores, consensus)
    fig, ax = _figure()
    lo, hi = float(scale[0]), float(scale[1])
    margin = 0.4
    ax.plot([lo, hi], [lo, hi], color="0.5", linestyle="--", linewidth=1, label="judge = humans")
    if j.size:
        rng = np.random.default_rng(seed)
        jitter = rng.uniform(-JITTER, JITTER, size=j.size)
        ax.scatter(c, j + jitter, s=18, alpha=0.6, color=_POINT, edgecolors="none")
        ax.legend(loc="upper left", fontsize=8, frameon=False)
    else:
        _empty(ax, "no item with both a judge score and a consensus")
    ax.set_xlim(lo - margin, hi + margin)
    ax.set_ylim(lo - margin, hi + margin)
    ticks = np.arange(np.ceil(lo), np.floor(hi) + 1)
    if ticks.size <= 12:
        ax.set_xticks(ticks)
        ax.set_yticks(ticks)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("human consensus")
    ax.set_ylabel("judge (jittered)")
    ax.set_title(f"{title} (n = {j.size}){_dropped_note(n_no_judge)}", fontsize=10)
    return fig


def confusion_plot(confusion: dict[str, Any], *, title: str | None = None) -> Figure:
    """Heatmap of the confusion counts, the count written in every cell.

    Parameters
    ----------
    confusion : dict
        ``{"categories", "counts", "rows", "columns"}`` as in the agreement report: counts
        is a square list of lists, rows are the judge scores and columns the consensus,
        both rounded to the scale.
    title : str, optional
        The figure title; by default "Confusion (n = ...)".

    Returns
    -------
    matplotlib.figure.Figure
        Judge on the vertical axis, lowest score at the bottom (as in the scatter plot),
        so exact agreements lie on the rising diagonal.
    """
    categories = list(confusion.get("categories") or [])
    counts = np.asarray(confusion.get("counts") or [], dtype=float)
    fig, ax = _figure()
    n = int(np.nansum(counts)) if counts.size else 0
    head = title or "Confusion"
    ax.set_title(f"{head} (n = {n})", fontsize=10)
    ax.set_xlabel(str(confusion.get("columns") or "consensus (rounded)"))
    ax.set_ylabel(str(confusion.get("rows") or "judge (rounded)"))
    q = len(categories)
    if q == 0 or counts.shape != (q, q):
        _empty(ax, "no confusion table")
        ax.set_xticks([])
        ax.set_yticks([])
        return fig
    counts = np.nan_to_num(counts)
    top = counts.max() if counts.max() > 0 else 1.0
    image = ax.imshow(counts, origin="lower", cmap="Blues", vmin=0, vmax=top, aspect="equal")
    labels = [f"{float(v):g}" for v in categories]
    ax.set_xticks(range(q), labels)
    ax.set_yticks(range(q), labels)
    fontsize = 9 if q <= 7 else 7 if q <= 11 else 5
    for r in range(q):
        for col in range(q):
            value = counts[r, col]
            ax.text(col, r, f"{value:g}", ha="center", va="center", fontsize=fontsize,
                    color="white" if value > 0.6 * top else "black")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return fig


def bland_altman_plot(
    judge_scores: Sequence[float] | np.ndarray,
    consensus: Sequence[float] | np.ndarray,
    *,
    title: str = "Bland–Altman",
) -> Figure:
    """Bland–Altman plot: difference (judge − consensus) against the mean of the two.

    Parameters
    ----------
    judge_scores, consensus : sequence of float
        Aligned per item; NaN judge scores are left out.
    title : str
        The figure title.

    Returns
    -------
    matplotlib.figure.Figure
        With the mean bias and the 95% limits of agreement (bias ± 1.96 SD of the
        differences, sample SD) as labelled horizontal lines.
    """
    j, c, n_no_judge, _ = _pairs(judge_scores, consensus)
    fig, ax = _figure()
    ax.set_title(f"{title} (n = {j.size}){_dropped_note(n_no_judge)}", fontsize=10)
    ax.set_xlabel("mean of judge and consensus")
    ax.set_ylabel("judge − consensus")
    if not j.size:
        _empty(ax, "no item with both a judge score and a consensus")
        return fig
    mean = (j + c) / 2.0
    diff = j - c
    ax.scatter(mean, diff, s=18, alpha=0.55, color=_POINT, edgecolors="none")
    ax.axhline(0.0, color="0.75", linewidth=0.8)
    bias = float(diff.mean())
    lines = [(bias, f"bias {bias:+.2f}", "-")]
    if diff.size >= 2:
        sd = float(diff.std(ddof=1))
        lines += [(bias + 1.96 * sd, f"+1.96 SD {bias + 1.96 * sd:+.2f}", "--"),
                  (bias - 1.96 * sd, f"−1.96 SD {bias - 1.96 * sd:+.2f}", "--")]
    for y, label, style in lines:
        ax.axhline(y, color=_HOLDOUT if style == "-" else "0.3", linestyle=style, linewidth=1)
        ax.text(1.0, y, f" {label}", transform=ax.get_yaxis_transform(), ha="right",
                va="bottom", fontsize=8)
    span = max(float(np.abs(diff).max()), max(abs(y) for y, _, _ in lines), 0.5)
    ax.set_ylim(-1.15 * span - 0.1, 1.15 * span + 0.1)
    return fig


def _band_label(method: str | None) -> str:
    return "human range" if method == "per-rater" else "single-human 95% band"


def iterations_plot(result: CalibrationResult) -> Figure:
    """The primary figure per iteration, against the human ceiling and the threshold.

    Parameters
    ----------
    result : CalibrationResult
        The calibration run.

    Returns
    -------
    matplotlib.figure.Figure
        One point per iteration with its 95% CI as an error bar; the human ceiling of the
        primary figure shaded (min–max: "human range" for a per-rater ceiling,
        "single-human 95% band" for a sampled one; for bias, whose band is of |bias|,
        both signs); the threshold as a dashed line; the holdout figure of the best
        version as a distinct marker. Undefined figures are left out and counted in the
        title.
    """
    name = result.primary
    label = FIGURE_LABELS.get(name, name)
    fig, ax = _figure()
    ax.set_xlabel("iteration")
    ax.set_ylabel(label)
    records = list(result.iterations)
    xs = [r.iteration for r in records]
    defined = [r for r in records if r.figures.get(name) is not None
               and r.figures[name].value is not None]
    n_undefined = len(records) - len(defined)
    note = f"\n({n_undefined} undefined, not shown)" if n_undefined else ""
    ax.set_title(f"{label} by iteration{note}", fontsize=10)
    if not records:
        _empty(ax, "no iterations")
        return fig

    ref = result.best or records[-1]
    band = (ref.ceiling or {}).get(name) or {}
    if band.get("min") is not None and band.get("max") is not None:
        lo, hi = float(band["min"]), float(band["max"])
        band_label = _band_label(ref.ceiling_method)
        ax.axhspan(lo, hi, color=_CEILING, alpha=0.15, label=band_label, linewidth=0)
        if name in CLOSER_TO_ZERO_IS_BETTER:
            ax.axhspan(-hi, -lo, color=_CEILING, alpha=0.15, linewidth=0)
    thresholds = [result.threshold]
    if name in CLOSER_TO_ZERO_IS_BETTER:
        thresholds.append(-result.threshold)
    for k, t in enumerate(thresholds):
        ax.axhline(t, color="0.2", linestyle="--", linewidth=1,
                   label=f"threshold {result.threshold:g}" if k == 0 else None)

    if defined:
        x = np.array([r.iteration for r in defined], dtype=float)
        y = np.array([r.figures[name].value for r in defined], dtype=float)
        err = np.zeros((2, len(defined)))
        for i, r in enumerate(defined):
            ci = r.figures[name].ci95
            if ci is not None:
                err[0, i] = max(0.0, y[i] - ci[0])
                err[1, i] = max(0.0, ci[1] - y[i])
        ax.errorbar(x, y, yerr=err, fmt="o-", color=_POINT, capsize=3, markersize=5,
                    label="calibration (95% CI)")
        if result.best is not None and any(r.iteration == result.best.iteration
                                               for r in defined):
            b = result.best
            ax.plot([b.iteration], [b.figures[name].value], "o", markersize=11,
                    markerfacecolor="none", markeredgecolor=_POINT, label="best version")
    else:
        _empty(ax, f"{label} undefined in every iteration")

    holdout = result.holdout
    if holdout is not None and result.best is not None:
        res = holdout.figures.get(name)
        if res is not None and res.value is not None:
            hx = result.best.iteration + 0.15
            herr = None
            if res.ci95 is not None:
                herr = [[max(0.0, res.value - res.ci95[0])], [max(0.0, res.ci95[1] - res.value)]]
            ax.errorbar([hx], [res.value], yerr=herr, fmt="D", color=_HOLDOUT, capsize=3,
                        markersize=7, label=f"holdout ({holdout.prompt.label})")
    ax.set_xticks(xs, [f"{r.iteration}\n{r.prompt.label}" for r in records])
    ax.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
    ax.legend(loc="best", fontsize=7, framealpha=0.8)
    fig.subplots_adjust(bottom=0.17)
    return fig


def figure_png(fig: Figure) -> bytes:
    """The figure rendered as PNG.

    Parameters
    ----------
    fig : matplotlib.figure.Figure

    Returns
    -------
    bytes
    """
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi, pil_kwargs={"compress_level": 1})
    return buf.getvalue()


def figure_data_uri(fig: Figure) -> str:
    """The figure as an inline ``data:image/png;base64,...`` URI.

    Parameters
    ----------
    fig : matplotlib.figure.Figure

    Returns
    -------
    str
    """
    return "data:image/png;base64," + base64.b64encode(figure_png(fig)).decode("ascii")
