"""Plots of the calibration report: matplotlib figures drawn with the Agg canvas.

Every function returns a :class:`matplotlib.figure.Figure` built directly (no ``pyplot``,
so no global figure state and nothing to close), laid out by matplotlib's constrained
layout (titles, axis labels, legends and colour bars are never clipped).
:func:`figure_svg`, :func:`figure_png` (at twice the figure's resolution) and
:func:`figure_data_uri` turn one into a vector image, PNG bytes or an inline ``data:`` URI.

matplotlib is imported inside the functions (importing this module costs nothing).

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

from harness._say import exact_text, score_text, signed_text

from ._agreement import CLOSER_TO_ZERO_IS_BETTER, FIGURE_LABELS

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from harness.loop._types import CalibrationResult

#: Size of every figure, in inches, and its resolution (dots per inch of the figure; PNGs
#: from :func:`figure_png` are drawn at :data:`PNG_SCALE` times this).
FIGSIZE = (5.0, 4.0)
DPI = 100
PNG_SCALE = 2.0
#: Half-width of the uniform jitter added to judge scores in the scatter plot.
JITTER = 0.18
#: Items shown in the per-item disagreement chart (the largest differences).
TOP_ITEMS = 30
#: Above this many points, scatter markers are drawn as one embedded image in an SVG.
RASTERIZE_ABOVE = 2000

_POINT = "#1f77b4"
_CEILING = "#2ca02c"
_HOLDOUT = "#d62728"
_LENIENT = "#d62728"
_HARSH = "#1f77b4"
_TITLE_SIZE = 11
_LABEL_SIZE = 10
_TICK_SIZE = 9
_LEGEND_SIZE = 8.5


def _figure(figsize: tuple[float, float] = FIGSIZE) -> tuple[Figure, Axes]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.tick_params(labelsize=_TICK_SIZE)
    ax.xaxis.label.set_size(_LABEL_SIZE)
    ax.yaxis.label.set_size(_LABEL_SIZE)
    return fig, ax


def _title(ax: Axes, text: str) -> None:
    ax.set_title(text, fontsize=_TITLE_SIZE)


def _empty(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes,
            color="0.4", fontsize=_LABEL_SIZE, wrap=True)


def _pairs(judge_scores: Any, consensus: Any) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Complete pairs, the number of items without a judge score, and without a consensus."""
    keep, j, c, n_no_judge, n_no_ref = _complete(judge_scores, consensus)
    return j[keep], c[keep], n_no_judge, n_no_ref


def _complete(judge_scores: Any, consensus: Any
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """The mask of complete pairs, both arrays, and the two counts of missing values."""
    j = np.asarray(judge_scores, dtype=float).ravel()
    c = np.asarray(consensus, dtype=float).ravel()
    if j.shape != c.shape:
        raise ValueError(f"judge scores and consensus differ in length: {j.size} vs {c.size}")
    no_judge = np.isnan(j)
    no_ref = np.isnan(c)
    keep = ~(no_judge | no_ref)
    return keep, j, c, int((no_judge & ~no_ref).sum()), int(no_ref.sum())


def _dropped_note(n_no_judge: int) -> str:
    if not n_no_judge:
        return ""
    plural = "s" if n_no_judge != 1 else ""
    return f"\n({n_no_judge} item{plural} without a valid judgment left out)"


def _scale_ticks(ax: Axes, lo: float, hi: float, *, x: bool = True, y: bool = True) -> None:
    ticks = np.arange(np.ceil(lo), np.floor(hi) + 1)
    if ticks.size <= 12:
        if x:
            ax.set_xticks(ticks)
        if y:
            ax.set_yticks(ticks)


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
        ax.scatter(c, j + jitter, s=18, alpha=0.6, color=_POINT, edgecolors="none",
                   label="item", rasterized=j.size > RASTERIZE_ABOVE)
        ax.legend(loc="upper left", fontsize=_LEGEND_SIZE, frameon=False)
    else:
        _empty(ax, "no item with both a judge score and a consensus")
    ax.set_xlim(lo - margin, hi + margin)
    ax.set_ylim(lo - margin, hi + margin)
    _scale_ticks(ax, lo, hi)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("human consensus")
    ax.set_ylabel("judge score (jittered)")
    _title(ax, f"{title} (n = {j.size}){_dropped_note(n_no_judge)}")
    return fig


def calibration_plot(
    judge_scores: Sequence[float] | np.ndarray,
    consensus: Sequence[float] | np.ndarray,
    scale: tuple[float, float],
    *,
    title: str,
    seed: int = 0,
) -> Figure:
    """Calibration plot: the judge's mean score at each level of the human consensus.

    Parameters
    ----------
    judge_scores, consensus : sequence of float
        Aligned per item; NaN judge scores (no valid judgment) are left out.
    scale : (min, max)
        The rating scale; both axes span it.
    title : str
        The figure title.
    seed : int
        Seed of the jitter of the individual items drawn behind the means.

    Returns
    -------
    matplotlib.figure.Figure
        The items as faint jittered points; for each consensus level (the consensus rounded
        to the nearest scale point) the judge's mean score with a 95% interval of the mean
        (mean ± 1.96 standard errors; none for a level of one item), the number of items
        written beside it; and the identity line, where a calibrated judge's means lie.
    """
    j, c, n_no_judge, _ = _pairs(judge_scores, consensus)
    fig, ax = _figure((5.0, 5.0))
    lo, hi = float(scale[0]), float(scale[1])
    margin = 0.4
    ax.plot([lo, hi], [lo, hi], color="0.45", linestyle="--", linewidth=1,
            label="identity (judge = humans)")
    if j.size:
        rng = np.random.default_rng(seed)
        ax.scatter(c, j + rng.uniform(-JITTER, JITTER, size=j.size), s=12, alpha=0.25,
                   color="0.35", edgecolors="none", label="items (jittered)",
                   rasterized=j.size > RASTERIZE_ABOVE)
        level = np.clip(np.rint(c), np.ceil(lo), np.floor(hi))
        xs, means, half, counts = [], [], [], []
        for x in np.unique(level):
            sel = j[level == x]
            xs.append(x)
            means.append(sel.mean())
            half.append(1.96 * sel.std(ddof=1) / np.sqrt(sel.size) if sel.size > 1 else 0.0)
            counts.append(sel.size)
        ax.errorbar(xs, means, yerr=half, fmt="o-", color=_POINT, capsize=4, markersize=6,
                    linewidth=1.5, label="judge's mean per consensus level (95% CI)")
        for x, m, n in zip(xs, means, counts, strict=True):
            ax.annotate(f"n={n}", (x, m), textcoords="offset points", xytext=(6, -12),
                        fontsize=7.5, color="0.3")
        fig.legend(loc="outside lower center", fontsize=_LEGEND_SIZE, frameon=False)
    else:
        _empty(ax, "no item with both a judge score and a consensus")
    ax.set_xlim(lo - margin, hi + margin)
    ax.set_ylim(lo - margin, hi + margin)
    _scale_ticks(ax, lo, hi)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("human consensus (rounded to the scale for the means)")
    ax.set_ylabel("judge score")
    _title(ax, f"{title} (n = {j.size}){_dropped_note(n_no_judge)}")
    return fig


def disagreement_plot(
    item_ids: Sequence[str],
    judge_scores: Sequence[float] | np.ndarray,
    consensus: Sequence[float] | np.ndarray,
    scale: tuple[float, float],
    *,
    human_range: Any = None,
    title: str = "Items by |judge − consensus|",
    top: int = TOP_ITEMS,
) -> Figure:
    """Per-item disagreement chart: items sorted by |judge − consensus|, worst at the top.

    Parameters
    ----------
    item_ids : sequence of str
        Aligned with the scores.
    judge_scores, consensus : sequence of float
        Aligned per item; NaN judge scores are left out.
    scale : (min, max)
        The rating scale (the horizontal axis).
    human_range : array-like of shape (n_items, 2), optional
        Each item's lowest and highest human rating, drawn as a band behind the item (the
        human spread); without it the title says the spread was not recorded.
    title : str
        The figure title.
    top : int
        The number of items shown: the ``top`` largest differences (ties in item order).

    Returns
    -------
    matplotlib.figure.Figure
        One row per item: the consensus (open circle), the judge (diamond, red when higher,
        blue when lower), a line between them, and the human spread.
    """
    keep, j, c, n_no_judge, _ = _complete(judge_scores, consensus)
    ids = [str(i) for i in item_ids]
    if len(ids) != j.size:
        raise ValueError(f"item ids and scores differ in length: {len(ids)} vs {j.size}")
    spread = None
    if human_range is not None:
        spread = np.asarray(human_range, dtype=float).reshape(-1, 2)
        if spread.shape[0] != j.size:
            raise ValueError(f"human_range has {spread.shape[0]} rows for {j.size} items")
    idx = np.flatnonzero(keep)
    order = idx[np.argsort(-np.abs(j[idx] - c[idx]), kind="stable")][:max(top, 0)]
    k = order.size
    fig, ax = _figure((6.4, max(3.2, 0.27 * k + 1.9)))
    lo, hi = float(scale[0]), float(scale[1])
    shown = f"{k} largest of {idx.size}" if k < idx.size else f"n = {k}"
    note = "" if spread is not None else "\n(human spread not recorded)"
    _title(ax, f"{title} ({shown}){note}{_dropped_note(n_no_judge)}")
    ax.set_xlabel("score")
    ax.set_xlim(lo - 0.3, hi + 0.3)
    _scale_ticks(ax, lo, hi, y=False)
    if not k:
        ax.set_yticks([])
        _empty(ax, "no item with both a judge score and a consensus")
        return fig
    y = np.arange(k, dtype=float)
    jj, cc = j[order], c[order]
    if spread is not None:
        s = spread[order]
        ok = np.isfinite(s).all(axis=1)
        ax.hlines(y[ok], s[ok, 0], s[ok, 1], color=_CEILING, alpha=0.35, linewidth=7,
                  label="human spread (min–max)")
    colours = np.where(jj > cc, _LENIENT, np.where(jj < cc, _HARSH, "0.4"))
    ax.hlines(y, np.minimum(jj, cc), np.maximum(jj, cc), colors=colours, linewidth=1.5)
    ax.scatter(cc, y, marker="o", s=36, facecolors="white", edgecolors="0.15", zorder=3,
               label="human consensus")
    for colour, what in ((_LENIENT, "judge higher"), (_HARSH, "judge lower"),
                         ("0.4", "judge equal")):
        sel = colours == colour
        if sel.any():
            ax.scatter(jj[sel], y[sel], marker="D", s=30, color=colour, zorder=4,
                       label=what)
    ax.set_yticks(y, [i if len(i) <= 28 else i[:27] + "…" for i in np.array(ids)[order]],
                  fontsize=8 if k <= 40 else 6)
    ax.set_ylim(k - 0.5, -0.5)
    ax.grid(axis="x", color="0.9", linewidth=0.8)
    ax.set_axisbelow(True)
    fig.legend(loc="outside lower center", ncols=2, fontsize=_LEGEND_SIZE, frameon=False)
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
        so exact agreements lie on the rising diagonal; a labelled colour bar.
    """
    categories = list(confusion.get("categories") or [])
    counts = np.asarray(confusion.get("counts") or [], dtype=float)
    fig, ax = _figure()
    n = int(np.nansum(counts)) if counts.size else 0
    head = title or "Confusion"
    _title(ax, f"{head} (n = {n})")
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
    labels = [score_text(float(v)) for v in categories]
    ax.set_xticks(range(q), labels)
    ax.set_yticks(range(q), labels)
    fontsize = 9 if q <= 7 else 7 if q <= 11 else 5
    for r in range(q):
        for col in range(q):
            value = counts[r, col]
            ax.text(col, r, f"{value:g}", ha="center", va="center", fontsize=fontsize,
                    color="white" if value > 0.6 * top else "black")
    bar = fig.colorbar(image, ax=ax, shrink=0.85)
    bar.set_label("items", fontsize=_LABEL_SIZE)
    bar.ax.tick_params(labelsize=_TICK_SIZE)
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
    _title(ax, f"{title} (n = {j.size}){_dropped_note(n_no_judge)}")
    ax.set_xlabel("mean of judge and consensus")
    ax.set_ylabel("judge − consensus")
    if not j.size:
        _empty(ax, "no item with both a judge score and a consensus")
        return fig
    mean = (j + c) / 2.0
    diff = j - c
    ax.scatter(mean, diff, s=18, alpha=0.55, color=_POINT, edgecolors="none",
               rasterized=j.size > RASTERIZE_ABOVE)
    ax.axhline(0.0, color="0.75", linewidth=0.8)
    bias = float(diff.mean())
    lines = [(bias, f"bias {signed_text(bias)}", "-")]
    if diff.size >= 2:
        sd = float(diff.std(ddof=1))
        lines += [(bias + 1.96 * sd, f"+1.96 SD {signed_text(bias + 1.96 * sd)}", "--"),
                  (bias - 1.96 * sd, f"−1.96 SD {signed_text(bias - 1.96 * sd)}", "--")]
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
    """The primary figure per iteration, with its CI band, against the human band.

    Parameters
    ----------
    result : CalibrationResult
        The calibration run.

    Returns
    -------
    matplotlib.figure.Figure
        One point per iteration with its 95% CI as an error bar and, over two or more
        iterations, as a shaded band; the human ceiling of the primary figure shaded
        (min–max: "human range" for a per-rater ceiling, "single-human 95% band" for a
        sampled one; for bias, whose band is of |bias|, both signs) with its median as a
        dotted line; the threshold as a dashed line; the holdout figure of the best version
        as a distinct marker. Undefined figures are left out and counted in the title. The
        legend sits below the axes.
    """
    name = result.primary
    label = FIGURE_LABELS.get(name, name)
    fig, ax = _figure((6.4, 4.8))
    ax.set_xlabel("iteration (prompt version)")
    ax.set_ylabel(label)
    records = list(result.iterations)
    xs = [r.iteration for r in records]
    defined = [r for r in records if r.figures.get(name) is not None
               and r.figures[name].value is not None]
    n_undefined = len(records) - len(defined)
    note = f"\n({n_undefined} undefined, not shown)" if n_undefined else ""
    _title(ax, f"{label} by iteration: judge vs humans{note}")
    if not records:
        _empty(ax, "no iterations")
        return fig

    ref = result.best or records[-1]
    band = (ref.ceiling or {}).get(name) or {}
    if band.get("min") is not None and band.get("max") is not None:
        lo, hi = float(band["min"]), float(band["max"])
        band_label = _band_label(ref.ceiling_method)
        ax.axhspan(lo, hi, color=_CEILING, alpha=0.18, label=f"humans: {band_label}",
                   linewidth=0)
        if name in CLOSER_TO_ZERO_IS_BETTER:
            ax.axhspan(-hi, -lo, color=_CEILING, alpha=0.18, linewidth=0)
        if band.get("median") is not None:
            ax.axhline(float(band["median"]), color=_CEILING, linestyle=":", linewidth=1.2,
                       label="human median")
    thresholds = [result.threshold]
    if name in CLOSER_TO_ZERO_IS_BETTER:
        thresholds.append(-result.threshold)
    for k, t in enumerate(thresholds):
        ax.axhline(t, color="0.2", linestyle="--", linewidth=1,
                   label=f"threshold {exact_text(result.threshold)}" if k == 0 else None)

    if defined:
        x = np.array([r.iteration for r in defined], dtype=float)
        y = np.array([r.figures[name].value for r in defined], dtype=float)
        lo_ci, hi_ci = y.copy(), y.copy()
        for i, r in enumerate(defined):
            ci = r.figures[name].ci95
            if ci is not None:
                lo_ci[i], hi_ci[i] = min(ci[0], y[i]), max(ci[1], y[i])
        if len(defined) >= 2:
            ax.fill_between(x, lo_ci, hi_ci, color=_POINT, alpha=0.15, linewidth=0,
                            label="judge's 95% CI")
        ax.errorbar(x, y, yerr=np.vstack([y - lo_ci, hi_ci - y]), fmt="o-", color=_POINT,
                    capsize=3, markersize=5, label="judge, calibration split")
        if result.best is not None and any(r.iteration == result.best.iteration
                                               for r in defined):
            b = result.best
            ax.plot([b.iteration], [b.figures[name].value], "o", markersize=12,
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
                        markersize=7, label=f"judge, holdout ({holdout.prompt.label})")
    ax.set_xticks(xs, [f"{r.iteration}\n{r.prompt.label}" for r in records])
    ax.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
    fig.legend(loc="outside lower center", ncols=2, fontsize=_LEGEND_SIZE, frameon=False)
    return fig


def figure_png(fig: Figure, *, scale: float = PNG_SCALE) -> bytes:
    """The figure rendered as PNG, at ``scale`` times its resolution.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    scale : float
        Pixels per figure dot: 2 (the default) for sharp images on high-density screens.

    Returns
    -------
    bytes
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi * scale, pil_kwargs={"compress_level": 1})
    return buf.getvalue()


def figure_svg(fig: Figure) -> str:
    """The figure as an SVG document (vector; text drawn as paths, so no font is needed).

    Parameters
    ----------
    fig : matplotlib.figure.Figure

    Returns
    -------
    str
        No date, and element ids from a fixed salt: the same figure built twice gives
        the same text.
    """
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "judgecal", "svg.fonttype": "path"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


def figure_data_uri(fig: Figure, fmt: str = "png") -> str:
    """The figure as an inline ``data:`` URI: PNG (twice the resolution) or SVG.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    fmt : {"png", "svg"}

    Returns
    -------
    str
        ``data:image/png;base64,...`` or ``data:image/svg+xml;base64,...``.
    """
    if fmt == "svg":
        data, mime = figure_svg(fig).encode("utf-8"), "image/svg+xml"
    elif fmt == "png":
        data, mime = figure_png(fig), "image/png"
    else:
        raise ValueError(f"unknown image format {fmt!r}: png or svg")
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")
