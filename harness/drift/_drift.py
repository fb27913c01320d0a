"""Drift detection on a stream of ratings: rolling ICC, far-from-consensus raters, charts.

Items are taken in the order of the table (for a long-format file, the order in which each
item first appears; that order is treated as time). Windows are runs of ``window``
consecutive items, starting every ``step`` items.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from harness.agreement import AgreementResult, icc_oneway, jsonable, undefined
from harness.agreement._crowd import loo_means, loo_medians
from harness.anchors import RatingsTable

__all__ = [
    "ControlChart",
    "DriftReport",
    "DriftWindow",
    "control_chart",
    "detect_drift",
    "loo_deviations",
    "write_control_charts",
]

#: d2 for moving ranges of two consecutive points: sigma ~ mean(|MR|) / D2.
D2 = 1.128
#: Width of the control limits, in sigmas.
SIGMAS = 3.0


@dataclass(frozen=True)
class DriftWindow:
    """One window of consecutive items.

    Attributes
    ----------
    index : int
        Position of the window in the report (0 = the baseline window, when defined).
    start, stop : int
        Item positions ``[start, stop)`` in stream order (0-based, ``stop`` exclusive).
    first_item, last_item : str
        Ids of the first and last item of the window.
    icc : AgreementResult
        One-way ICC(1,1) of the window (undefined, with a reason, when it cannot be had).
    drop : float or None
        ``baseline ICC - window ICC`` (positive = worse); None when either is undefined.
    alert : bool
        True when ``drop`` exceeds the report's ``drop`` threshold.
    far_counts : dict of str to int
        Per rater, items of the window where the rater is more than ``far`` from the
        leave-one-out consensus.
    n_compared : dict of str to int
        Per rater, items of the window with both a score by the rater and a consensus of
        the other raters (the denominator for ``far_counts``).
    flagged : list of str
        Raters with at least ``min_far_items`` far items in this window.
    """

    index: int
    start: int
    stop: int
    first_item: str
    last_item: str
    icc: AgreementResult
    drop: float | None
    alert: bool
    far_counts: dict[str, int]
    n_compared: dict[str, int]
    flagged: list[str]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "index": self.index,
            "start": self.start,
            "stop": self.stop,
            "first_item": self.first_item,
            "last_item": self.last_item,
            "icc": self.icc.value,
            "icc_reason": self.icc.reason,
            "icc_n_items": self.icc.n_items,
            "drop": self.drop,
            "alert": self.alert,
            "far_counts": dict(self.far_counts),
            "n_compared": dict(self.n_compared),
            "flagged": list(self.flagged),
        }


@dataclass(frozen=True)
class ControlChart:
    """Individuals control chart of one rater's deviation from the others' consensus.

    Attributes
    ----------
    rater : str
        The rater id.
    positions : ndarray of int
        Stream positions of the items with a deviation (the rater scored the item and at
        least one other rater did too).
    deviations : ndarray of float
        Signed ``score - leave-one-out consensus`` at those positions.
    centre : float or None
        Mean deviation over the baseline window.
    sigma : float or None
        Moving-range estimate ``mean(|d_t - d_{t-1}|) / 1.128`` over the baseline window,
        falling back to the sample SD when the moving range is 0.
    ucl, lcl : float or None
        ``centre +/- 3 sigma``.
    n_baseline : int
        Deviations inside the baseline window.
    n_out : int
        Deviations after the baseline window outside the limits.
    first_out : int or None
        Stream position of the first of those.
    span : int
        Items in the moving mean drawn on the chart (the report's ``step``).
    reason : str or None
        Why ``centre``/``sigma`` are undefined, or a note on degenerate limits.
    """

    rater: str
    positions: np.ndarray
    deviations: np.ndarray
    centre: float | None
    sigma: float | None
    ucl: float | None
    lcl: float | None
    n_baseline: int
    n_out: int
    first_out: int | None
    span: int = 1
    reason: str | None = None

    def to_dict(self, include_series: bool = False) -> dict[str, Any]:
        """A JSON-ready dictionary (the per-item series only with ``include_series``)."""
        d: dict[str, Any] = {
            "rater": self.rater,
            "n_points": int(self.positions.size),
            "centre": self.centre,
            "sigma": self.sigma,
            "ucl": self.ucl,
            "lcl": self.lcl,
            "n_baseline": self.n_baseline,
            "n_out_of_control": self.n_out,
            "first_out_of_control": self.first_out,
            "moving_mean_span": self.span,
            "reason": self.reason,
        }
        if include_series:
            d["positions"] = self.positions.tolist()
            d["deviations"] = jsonable(self.deviations)
        return d


@dataclass(frozen=True)
class DriftReport:
    """The outcome of :func:`detect_drift`.

    Attributes
    ----------
    source : str
        Where the ratings came from.
    item_ids, rater_ids : list of str
        Items in stream order; raters.
    window, step : int
        Window length and stride, in items.
    drop, far : float
        ICC alert threshold; far-from-consensus distance.
    min_far_items : int
        Far items in one window that flag a rater.
    consensus : str
        ``"median"`` or ``"mean"`` of the other raters.
    windows : list of DriftWindow
        The windows, in stream order.
    baseline_icc : float or None
        ICC of the baseline window (the first window with a defined ICC).
    baseline_window : int or None
        Index of that window.
    first_alert : int or None
        Index of the first window whose ICC fell more than ``drop`` below the baseline.
    flagged : dict of str to list of int
        Per flagged rater, the indices of the windows in which it was flagged.
    charts : dict of str to ControlChart
        One control chart per rater.
    notes : list of str
        Why results are undefined or partial (too few items, one rater, ...).
    """

    source: str
    item_ids: list[str]
    rater_ids: list[str]
    window: int
    step: int
    drop: float
    far: float
    min_far_items: int
    consensus: str
    windows: list[DriftWindow]
    baseline_icc: float | None
    baseline_window: int | None
    first_alert: int | None
    flagged: dict[str, list[int]]
    charts: dict[str, ControlChart]
    notes: list[str] = field(default_factory=list)

    @property
    def alert(self) -> bool:
        """True when the ICC alert fired in some window."""
        return self.first_alert is not None

    @property
    def alert_runs(self) -> list[tuple[int, int]]:
        """The alert windows as runs of consecutive windows, ``(first, last)`` indices.

        A lone alert window in a long stream can be chance (a window's ICC varies by about
        0.01 at 200 items); a sustained drop shows as a long run, often the last one.
        """
        runs: list[tuple[int, int]] = []
        for w in self.windows:
            if not w.alert:
                continue
            if runs and runs[-1][1] == w.index - 1:
                runs[-1] = (runs[-1][0], w.index)
            else:
                runs.append((w.index, w.index))
        return runs

    def first_flag(self, rater: str) -> int | None:
        """Index of the first window in which ``rater`` was flagged (None: never)."""
        wins = self.flagged.get(rater)
        return wins[0] if wins else None

    def to_dict(self, include_series: bool = False) -> dict[str, Any]:
        """A JSON-ready dictionary; undefined figures are None (never NaN).

        Parameters
        ----------
        include_series : bool
            Also include each control chart's per-item positions and deviations.

        Returns
        -------
        dict
        """

        def _win(i: int | None) -> dict[str, Any] | None:
            if i is None:
                return None
            w = self.windows[i]
            return {"index": i, "start": w.start, "stop": w.stop,
                    "first_item": w.first_item, "last_item": w.last_item}

        return jsonable({
            "source": self.source,
            "n_items": len(self.item_ids),
            "n_raters": len(self.rater_ids),
            "settings": {"window": self.window, "step": self.step, "drop": self.drop,
                         "far": self.far, "min_far_items": self.min_far_items,
                         "consensus": f"leave-one-out {self.consensus} of the other raters",
                         "icc": "ICC(1,1) one-way, unbalanced",
                         "baseline": "first window with a defined ICC"},
            "baseline_icc": self.baseline_icc,
            "baseline_window": _win(self.baseline_window),
            "alert": self.alert,
            "first_alert": _win(self.first_alert),
            "alert_runs": [{"first": _win(a), "last": _win(b), "n_windows": b - a + 1}
                           for a, b in self.alert_runs],
            "windows": [w.to_dict() for w in self.windows],
            "flagged": {r: {"windows": list(ws), "first": _win(ws[0])}
                        for r, ws in self.flagged.items()},
            "charts": {r: c.to_dict(include_series) for r, c in self.charts.items()},
            "notes": list(self.notes),
        })


# ------------------------------------------------------------------------ computation


def loo_deviations(scores: np.ndarray, consensus: str = "median") -> np.ndarray:
    """Each score minus the consensus of the *other* raters on the same item.

    Parameters
    ----------
    scores : ndarray, shape (n_items, n_raters)
        NaN where missing.
    consensus : {"median", "mean"}
        How the other raters' scores are combined. The median (default) keeps one drifting
        rater from moving the reference of everybody else; the mean is the plain
        leave-one-out mean.

    Returns
    -------
    ndarray, same shape
        NaN where the rater did not score the item or no other rater did.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 3.0, np.nan], [2.0, np.nan, np.nan], [1.0, 1.0, 4.0]])
    >>> loo_deviations(x).tolist()
    [[-2.0, 2.0, nan], [nan, nan, nan], [-1.5, -1.5, 3.0]]
    >>> loo_deviations(x, "mean")[2].tolist()
    [-1.5, -1.5, 3.0]
    """
    if consensus not in ("median", "mean"):
        raise ValueError(f"consensus must be 'median' or 'mean', got {consensus!r}")
    x = np.asarray(scores, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"expected an items x raters matrix, got shape {x.shape}")
    # every rater's leave-one-out consensus at once (O(items x raters), no copy per rater)
    return x - (loo_medians(x) if consensus == "median" else loo_means(x))


def _window_starts(n: int, window: int, step: int) -> list[int]:
    if n < window:
        return []
    starts = list(range(0, n - window + 1, step))
    if starts[-1] + window < n:  # cover the newest items: last window ends at the stream end
        starts.append(n - window)
    return starts


def _moving_mean(d: np.ndarray, span: int) -> np.ndarray:
    return np.convolve(d, np.ones(span) / span, "valid") if d.size >= span else d[:0]


def _chart(rater: str, dev: np.ndarray, base: tuple[int, int] | None,
           span: int) -> ControlChart:
    pos = np.flatnonzero(~np.isnan(dev))
    d = dev[pos]
    empty = dict(centre=None, sigma=None, ucl=None, lcl=None, n_baseline=0, n_out=0,
                 first_out=None, span=span)
    if base is None:
        return ControlChart(rater, pos, d, **empty, reason="no baseline window")
    in_base = (pos >= base[0]) & (pos < base[1])
    b = d[in_base]
    if b.size < 2:
        return ControlChart(rater, pos, d, **{**empty, "n_baseline": int(b.size)},
                            reason=f"{b.size} deviation(s) in the baseline window; need 2")
    centre = float(b.mean())
    sigma = float(np.abs(np.diff(b)).mean() / D2)
    reason = None
    if sigma == 0.0:
        sigma = float(b.std(ddof=1))
        reason = "moving range 0 in the baseline; sigma from the sample SD"
    if sigma == 0.0:
        reason = "constant deviation in the baseline; limits collapse onto the centre line"
    ucl, lcl = centre + SIGMAS * sigma, centre - SIGMAS * sigma
    after = pos >= base[1]
    out = after & ((d > ucl) | (d < lcl))
    first = int(pos[out][0]) if out.any() else None
    return ControlChart(rater, pos, d, centre, sigma, ucl, lcl, int(b.size), int(out.sum()),
                        first, span, reason)


def detect_drift(
    table: RatingsTable,
    *,
    window: int = 200,
    step: int | None = None,
    drop: float = 0.05,
    far: float = 1.0,
    min_far_items: int = 3,
    consensus: str = "median",
) -> DriftReport:
    """Rolling reliability and per-rater drift over a stream of ratings.

    Parameters
    ----------
    table : RatingsTable
        Items in stream (time) order, as :func:`harness.anchors.load_ratings` gives them
        (order of first appearance in the file).
    window : int
        Items per window (at least 3).
    step : int, optional
        Stride between window starts; default ``max(1, window // 4)``. When the windows do
        not reach the end of the stream, one more window ending at the last item is added.
    drop : float
        ICC alert: a window whose ICC is more than ``drop`` below the baseline ICC.
    far : float
        A rater's score is *far* on an item when it differs from the mean of the other
        raters' scores on that item by more than ``far``.
    min_far_items : int
        A rater with this many far items in one window is flagged in that window.
    consensus : {"median", "mean"}
        How the other raters' scores on an item form the rater's reference (see Notes).

    Returns
    -------
    DriftReport

    Raises
    ------
    ValueError
        For out-of-range settings. Degenerate data (fewer items than a window, a single
        rater) is not an error: the figures are undefined and ``notes`` says why.

    Notes
    -----
    *ICC.* Live annotation usually assigns each item to a subset of the raters, so the
    two-way forms (which need every rater on every item, or lose the item) do not apply;
    the unbalanced one-way ICC(1,1) of :func:`harness.agreement.icc_oneway` uses every item
    with two or more ratings.

    *Baseline.* The first window with a defined ICC. This assumes the stream starts in a
    good state (e.g. right after rater training). A rolling baseline (the previous window)
    would miss slow drift; a fixed external reference (say, the anchor-set ICC) could be
    substituted by comparing ``window.icc`` directly.

    *Consensus.* Leave-one-out: each rater is compared with the *other* raters on the item,
    so a drifting rater does not pull its own reference along. The default combines them
    by the median: with the mean, one rater drifting by ``+d`` shifts every other rater's
    reference by ``d / (m - 1)`` and gets honest raters flagged too. With one or two other
    raters the median is the mean. Items where nobody else scored are skipped.

    *Control charts.* Individuals charts of the signed deviation; centre = mean deviation
    in the baseline window, sigma from the mean moving range (robust to a slow trend within
    the baseline), limits at 3 sigma.

    Examples
    --------
    >>> import numpy as np
    >>> from harness.anchors import RatingsTable
    >>> s = np.tile([[1.0], [2.0], [3.0], [4.0], [5.0]], (4, 3))
    >>> t = RatingsTable([f"i{k}" for k in range(20)], ["a", "b", "c"], s,
    ...                  np.zeros_like(s, dtype=bool))
    >>> rep = detect_drift(t, window=10, step=5)
    >>> [(w.start, w.stop) for w in rep.windows], rep.alert, rep.flagged
    ([(0, 10), (5, 15), (10, 20)], False, {})
    """
    if isinstance(window, bool) or not isinstance(window, int) or window < 3:
        raise ValueError(f"window must be an integer of at least 3, got {window!r}")
    if step is None:
        step = max(1, window // 4)
    if isinstance(step, bool) or not isinstance(step, int) or step < 1:
        raise ValueError(f"step must be a positive integer, got {step!r}")
    if not (isinstance(drop, int | float) and math.isfinite(drop) and drop >= 0):
        raise ValueError(f"drop must be a finite number >= 0, got {drop!r}")
    if not (isinstance(far, int | float) and math.isfinite(far) and far >= 0):
        raise ValueError(f"far must be a finite number >= 0, got {far!r}")
    if isinstance(min_far_items, bool) or not isinstance(min_far_items, int) \
            or min_far_items < 1:
        raise ValueError(f"min_far_items must be a positive integer, got {min_far_items!r}")

    if consensus not in ("median", "mean"):
        raise ValueError(f"consensus must be 'median' or 'mean', got {consensus!r}")
    scores = np.asarray(table.scores, dtype=float)
    n, k = scores.shape
    raters = list(table.rater_ids)
    notes: list[str] = []
    if k < 2:
        notes.append(f"{k} rater(s): agreement and consensus need at least 2; "
                     "every ICC and deviation is undefined")
    starts = _window_starts(n, window, step)
    if not starts:
        notes.append(f"{n} item(s), fewer than one window of {window}; "
                     f"use a window of at most {n} to get figures")
    dev = loo_deviations(scores, consensus) if k else np.empty((n, 0))
    far_mask = np.abs(np.nan_to_num(dev, nan=0.0)) > far
    compared = ~np.isnan(dev)

    windows: list[DriftWindow] = []
    baseline: float | None = None
    baseline_idx: int | None = None
    first_alert: int | None = None
    flagged: dict[str, list[int]] = {}
    for idx, s in enumerate(starts):
        e = s + window
        sub = scores[s:e]
        res = icc_oneway(sub) if k >= 2 else undefined(
            "icc", "fewer than 2 raters", n_items=e - s, n_raters=k)
        if baseline is None and res.value is not None:
            baseline, baseline_idx = res.value, idx
        d = (baseline - res.value) if (baseline is not None and res.value is not None) \
            else None
        alert = d is not None and d > drop
        if alert and first_alert is None:
            first_alert = idx
        fc = far_mask[s:e].sum(axis=0)
        nc = compared[s:e].sum(axis=0)
        flag = [r for r, c in zip(raters, fc, strict=True) if c >= min_far_items]
        for r in flag:
            flagged.setdefault(r, []).append(idx)
        windows.append(DriftWindow(
            index=idx, start=s, stop=e, first_item=table.item_ids[s],
            last_item=table.item_ids[e - 1], icc=res, drop=d, alert=bool(alert),
            far_counts={r: int(c) for r, c in zip(raters, fc, strict=True)},
            n_compared={r: int(c) for r, c in zip(raters, nc, strict=True)},
            flagged=flag,
        ))
    if starts and baseline is None:
        notes.append("no window has a defined ICC (see each window's icc_reason); "
                     "no ICC alert is possible")
    base_range = None
    if baseline_idx is not None:
        base_range = (windows[baseline_idx].start, windows[baseline_idx].stop)
    elif starts:
        base_range = (starts[0], starts[0] + window)
    charts = {r: _chart(r, dev[:, j], base_range, step) for j, r in enumerate(raters)}
    return DriftReport(
        source=table.source, item_ids=list(table.item_ids), rater_ids=raters, window=window,
        step=step, drop=float(drop), far=float(far), min_far_items=min_far_items,
        consensus=consensus,
        windows=windows, baseline_icc=baseline, baseline_window=baseline_idx,
        first_alert=first_alert, flagged=flagged, charts=charts, notes=notes,
    )


# ------------------------------------------------------------------------ plotting


def control_chart(report: DriftReport, rater: str) -> Figure:
    """Control chart of one rater: deviation from the others' consensus, item by item.

    Parameters
    ----------
    report : DriftReport
        From :func:`detect_drift`.
    rater : str
        A rater id of the report.

    Returns
    -------
    matplotlib.figure.Figure
        Drawn on the Agg canvas (no ``pyplot`` state). Points outside the limits after the
        baseline are red; the dashed grey lines are ``+/- far``; flagged windows are shaded.

    Raises
    ------
    KeyError
        For an unknown rater.
    """
    if rater not in report.charts:
        raise KeyError(f"no rater {rater!r}; raters: {', '.join(report.rater_ids)}")
    ch = report.charts[rater]
    fig = Figure(figsize=(9.0, 3.6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.15, top=0.86)
    for wi in report.flagged.get(rater, []):
        w = report.windows[wi]
        ax.axvspan(w.start, w.stop - 1, color="#ffcc80", alpha=0.25, lw=0)
    if report.baseline_window is not None:
        b = report.windows[report.baseline_window]
        ax.axvspan(b.start, b.stop - 1, color="#c8e6c9", alpha=0.4, lw=0, label="baseline")
    if ch.positions.size:
        ax.plot(ch.positions, ch.deviations, ".", ms=3, color="#1f77b4", label="deviation")
        if ch.ucl is not None and ch.lcl is not None:
            out = (ch.positions >= (report.windows[report.baseline_window].stop
                                    if report.baseline_window is not None else 0)) & (
                (ch.deviations > ch.ucl) | (ch.deviations < ch.lcl))
            ax.plot(ch.positions[out], ch.deviations[out], ".", ms=5, color="#d62728")
        span = ch.span
        if ch.positions.size >= span:
            ax.plot(ch.positions[span - 1:], _moving_mean(ch.deviations, span),
                    color="black", lw=1, label=f"mean of {span}")
    else:
        ax.text(0.5, 0.5, "no deviations (no items shared with other raters)",
                ha="center", va="center", transform=ax.transAxes, color="0.4")
    if ch.centre is not None:
        ax.axhline(ch.centre, color="#2ca02c", lw=1, label="centre")
    if ch.ucl is not None and ch.lcl is not None:
        ax.axhline(ch.ucl, color="#d62728", lw=1, ls="-", label="±3σ")
        ax.axhline(ch.lcl, color="#d62728", lw=1, ls="-")
    for y in (report.far, -report.far):
        ax.axhline(y, color="0.5", lw=0.8, ls="--")
    n_flag = len(report.flagged.get(rater, []))
    title = f"{rater}: score − others' {report.consensus}  "
    title += f"({n_flag} flagged window{'s' * (n_flag != 1)}"
    title += f", {ch.n_out} point{'s' * (ch.n_out != 1)} out of control)"
    if ch.reason:
        title += f"\n{ch.reason}"
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("item (stream order)")
    ax.set_ylabel("deviation")
    ax.legend(loc="upper left", fontsize=7, ncols=5)
    return fig


def _safe_name(rater: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", rater).strip("._") or "rater"


def write_control_charts(report: DriftReport, out_dir: str | Path) -> list[Path]:
    """Write one PNG control chart per rater into ``out_dir`` (created if needed).

    Parameters
    ----------
    report : DriftReport
        From :func:`detect_drift`.
    out_dir : str or Path
        Target directory.

    Returns
    -------
    list of Path
        ``control-<rater>.png`` per rater (unsafe characters replaced by ``_``; a numeric
        suffix keeps names distinct).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    used: set[str] = set()
    for rater in report.rater_ids:
        name = base = _safe_name(rater)
        i = 1
        while name.lower() in used:
            i += 1
            name = f"{base}-{i}"
        used.add(name.lower())
        path = out / f"control-{name}.png"
        control_chart(report, rater).savefig(path, format="png")
        paths.append(path)
    return paths
