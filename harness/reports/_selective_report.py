"""The HTML page of ``judgecal selective --report FILE.html``: the agreement–coverage curve
(SVG) and the tables, one judge or a cascade, on the reports' shared base layout."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness._say import (
    MISSING,
    confidence_text,
    cost_text,
    exact_text,
    p_text,
    share_interval_text,
    share_text,
)

__all__ = ["outcome_cells", "render_selective_html", "write_selective_report"]


def outcome_cells(o: Any) -> list[str]:
    """The coverage, agreement, 95% CI and "guarantee held" cells of a selective outcome,
    as the console and the HTML report print them.

    Parameters
    ----------
    o : SelectiveOutcome
        Read by its ``coverage``, ``agreement``, ``ci95`` and ``guarantee_held``.

    Returns
    -------
    list of str
        ``["62.5%", "91.2%", "[84.0%, 96.0%]", "yes"]`` (the agreement's CI in its unit);
        :data:`~harness.reports.MISSING` where there is no value, ``NO`` when the guarantee
        did not hold.
    """
    held = MISSING if o.guarantee_held is None else ("yes" if o.guarantee_held else "NO")
    return [share_text(o.coverage, 1), share_text(o.agreement, 1),
            share_interval_text(o.ci95, 1) or MISSING, held]


def _lam(t: float | None) -> str:
    return "none certified" if t is None else confidence_text(t)


def _num(v: Any, fmt: str = "") -> str:
    return MISSING if v is None else format(v, fmt)


_KEPT = ["split", "items", "kept", "coverage", "agreement", "95% CI", "guarantee held"]


def _kept_row(split: str, o: Any, extra: list[str] | None = None) -> list[str]:
    return [split, str(o.n), str(o.n_kept), *outcome_cells(o), *(extra or [])]


def _steps(steps: Any) -> dict[str, Any]:
    return {"headers": ["threshold", "kept", "disagreements", "risk", "upper bound",
                        "p-value", "rejected"],
            "rows": [[confidence_text(s.threshold), str(s.n_kept), str(s.n_errors),
                      exact_text(s.risk), exact_text(s.upper), p_text(s.p_value),
                      "yes" if s.rejected else "no"]
                     for s in steps],
            "numeric": (0, 1, 2, 3, 4, 5)}


def _single(report: Any) -> dict[str, Any]:
    t = report.threshold
    rows, verdict = [], []
    for split in report.data:
        o = t.calibration if split == "calibration" else report.holdout
        if o is not None:
            rows.append(_kept_row(split, o))
    verdict.append((f"Threshold: {_lam(t.threshold)} (confidence: {report.source}).",
                    t.threshold is None))
    if report.holdout is not None and report.holdout.guarantee_held is not None:
        h = report.holdout
        verdict.append((f"Holdout: {share_text(h.agreement, 1)} agreement on {h.n_kept} kept "
                        f"items ({share_text(h.coverage, 1)} coverage): the guarantee "
                        f"{'held' if h.guarantee_held else 'did NOT hold'}.",
                        not h.guarantee_held))
    test = {"heading": f"{len(t.steps)} test(s) from {t.min_kept} kept items, most "
                       "confident first", **_steps(t.steps)}
    return {"kept": {"title": "Items the judge keeps", "headers": _KEPT, "rows": rows,
                     "numeric": (1, 2, 3, 4)},
            "stages": None, "tests": [test], "verdict": verdict,
            "meta": [("confidence", report.source)]}


def _cost(c: dict[str, Any]) -> list[str]:
    tokens = None if c["input_tokens"] is None else c["input_tokens"] + c["output_tokens"]
    return [str(c["calls"]), _num(tokens, ","), cost_text(c["cost"])]


def _cascade(report: Any) -> dict[str, Any]:
    rows, stage_rows, verdict = [], [], []
    for split, o in report.outcomes.items():
        d = report.split_dict(split)
        rows.append(_kept_row(split, o.overall, [
            str(o.n_escalated), share_text(o.escalated_share, 1), *_cost(d["cost"]),
            *_cost(d["cost_last_stage_alone"])]))
        for j, s in enumerate(o.stages):
            stage_rows.append([f"{j + 1}. {report.labels[j]}", split,
                               _lam(report.thresholds[j]), str(s.n_reached),
                               str(s.outcome.n_kept), share_text(s.share_kept, 1),
                               *outcome_cells(s.outcome)[1:], *_cost(report.costs[split][j])])
        if split == "holdout" and o.overall.guarantee_held is not None:
            verdict.append((f"Holdout: {share_text(o.overall.agreement, 1)} agreement on the "
                            f"{o.overall.n_kept} items the cascade keeps "
                            f"({share_text(o.overall.coverage, 1)} coverage, "
                            f"{o.n_escalated} escalated to humans): the guarantee "
                            f"{'held' if o.overall.guarantee_held else 'did NOT hold'}.",
                            not o.overall.guarantee_held))
    cal = report.calibration
    verdict.insert(0, (f"Thresholds: {', '.join(_lam(t) for t in report.thresholds)} "
                       f"(each stage tested at delta {cal.stage_delta:g}; the union's "
                       f"guarantee with probability at least {cal.union_confidence:g}).",
                       not any(t is not None for t in report.thresholds)))
    tests = [{"heading": f"Stage {j + 1}: {report.labels[j]} ({len(t.steps)} test(s) on "
                         f"{t.calibration.n} calibration items that reach it)",
              **_steps(t.steps)} for j, t in enumerate(cal.stages)]
    return {"kept": {"title": "Items the cascade keeps",
                     "headers": [*_KEPT, "to humans", "share", "calls", "tokens", "cost",
                                 "last stage alone: calls", "tokens", "cost"],
                     "rows": rows, "numeric": tuple(range(1, 14))},
            "stages": {"headers": ["stage", "split", "threshold", "reached", "kept",
                                   "share of all", "agreement", "95% CI", "guarantee held",
                                   "calls", "tokens", "cost"],
                       "rows": stage_rows, "numeric": (2, 3, 4, 5, 6, 9, 10, 11)},
            "tests": tests, "verdict": verdict,
            "meta": [("stages", " → ".join(report.labels) + " → humans"),
                     ("confidence", ", ".join(report.sources))]}


def render_selective_html(report: Any, *, experiment: str, date: str | None = None) -> str:
    """The selective evaluation as one self-contained HTML page.

    Parameters
    ----------
    report : SelectiveReport or CascadeReport
        :func:`harness.selective.selective_check` or :func:`harness.selective.cascade_check`.
    experiment : str
        The experiment named in the title.
    date : str, optional
        The date shown; now (UTC) by default.

    Returns
    -------
    str
        Rendered from ``templates/selective.html`` (the shared base layout, the stylesheet
        inline, autoescaping on): the verdict, the kept-items tables (per stage for a
        cascade, with each stage's cost), the agreement–coverage curve as an SVG ``data:``
        URI, every fixed-sequence test and the warnings.
    """
    from ._plots import figure_data_uri
    from ._selective_plot import selective_figure
    from .templates import environment, stylesheet

    parts = _cascade(report) if hasattr(report, "labels") else _single(report)
    fig = selective_figure(report)
    width, height = (int(v * fig.dpi) for v in fig.get_size_inches())
    meta = [("experiment", experiment),
            ("target", f"{report.target:g} agreement with probability "
                       f"{1 - report.delta:g} (delta {report.delta:g})"),
            ("agreement per item", f"|judge − consensus| ≤ {report.tolerance:g}"),
            *parts.pop("meta"),
            ("escalated to humans", str(len(report.escalations()))),
            ("date", date or datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))]
    return environment().get_template("selective.html").render(
        title=f"Selective evaluation — {experiment}", inline_css=stylesheet(),
        page_class="report", meta=meta,
        figure={"src": figure_data_uri(fig, "svg"), "width": width, "height": height,
                "caption": "Agreement with the humans on the kept items against coverage; "
                           "dashed: the target."},
        warnings=list(report.warnings), **parts)


def write_selective_report(path: str | Path, report: Any, *, experiment: str,
                           date: str | None = None) -> Path:
    """Write :func:`render_selective_html` to ``path`` (its directory created)."""
    p = Path(path)
    text = render_selective_html(report, experiment=experiment, date=date)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return p
