"""The calibration report: one self-contained HTML page and a Markdown summary.

:func:`write_calibration_report` writes ``<experiment>-<parent run id or timestamp>.html``
(rendered from the Jinja templates in ``harness/reports/templates``: the base layout and the
stylesheet shared with the session web app, the stylesheet inline; plots inline as SVG
``data:`` URIs; no external reference; everything taken from data is escaped) and the
``.md`` beside it (verdict, final table, warnings: what
a CI summary or a pull-request comment shows). :func:`final_table_rows` gives the rows of
the final table, which the CLI also prints.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from harness._say import (
    MISSING,
    NOT_APPLICABLE,
    band_text,
    cost_text,
    figure_text,
    number_text,
    p_text,
    percent,
    range_text,
    result_text,
    score_text,
    share_text,
    signed_text,
    undefined_text,
    verdict_word,
)
from harness.agreement import AgreementResult
from harness.prompts import diff as prompt_diff

from ._agreement import (
    CLOSER_TO_ZERO_IS_BETTER,
    FEW_RATERS,
    FIGURE_LABELS,
    LOWER_IS_BETTER,
    ci_decides,
    position,
)
from ._plots import (
    bland_altman_plot,
    calibration_plot,
    confusion_plot,
    disagreement_plot,
    figure_data_uri,
    iterations_plot,
)

if TYPE_CHECKING:
    from harness.loop._types import CalibrationResult, DisagreementAnalysis, IterationRecord

#: Calibration minus holdout (in the better direction) above which overfitting is flagged.
GAP_WARNING = 0.10
#: How far beyond the worst single human a judge counts as *far* below the ceiling: in
#: figure units for the bounded figures, as a share of the scale range for MAE and |bias|.
FAR_BELOW = 0.10
FAR_BELOW_SCALE_SHARE = 0.10
#: Disagreements listed with their rationales.
TOP_DISAGREEMENTS = 15
#: Figures beside the primary one in the final table.
KEY_FIGURES = ("spearman", "mae", "bias")


# --------------------------------------------------------------------------- formatting


_num = number_text


def _value_ci(value: float | None, ci: tuple[float, float] | None) -> str:
    return figure_text(value, ci, reason="")


def _value(res: AgreementResult | None) -> float | None:
    return None if res is None else res.value


def _label(name: str) -> str:
    return FIGURE_LABELS.get(name, name)


def _band_label(method: str | None) -> str:
    return "human range" if method == "per-rater" else "single-human 95% band"


# --------------------------------------------------------------------------- the table


def _primary_text(value: float | None, ci: tuple[float, float] | None,
                  reason: str | None) -> str:
    return figure_text(value, ci, reason=reason or "")


def _row(rec_iteration: int | None, prompt: Any, split: str, kind: str,
         figures: dict[str, AgreementResult], run: dict[str, Any], primary: str,
         best: bool) -> dict[str, Any]:
    res = figures.get(primary)
    return {
        "kind": kind,
        "iteration": rec_iteration,
        "version": prompt.label,
        "hash": prompt.short_hash,
        "changelog": prompt.changelog,
        "split": split,
        "best": best,
        "primary_name": primary,
        "primary": _value(res),
        "primary_ci": None if res is None else res.ci95,
        "primary_reason": None if res is None else res.reason,
        "primary_text": _primary_text(_value(res), None if res is None else res.ci95,
                                      None if res is None else res.reason),
        **{name: _value(figures.get(name)) for name in KEY_FIGURES},
        "alt_test": _value(figures.get("alt_test")),
        "alt_test_text": alt_test_text(figures.get("alt_test")),
        "n_items": None if res is None else res.n_items,
        "n_invalid": run.get("n_invalid"),
        "n_failed": run.get("n_failed"),
        "cost": run.get("cost"),
    }


def final_table_rows(result: CalibrationResult) -> list[dict[str, Any]]:
    """The rows of the final table: every version, the holdout, the human ceiling.

    Parameters
    ----------
    result : CalibrationResult
        The calibration run.

    Returns
    -------
    list of dict
        One row per iteration (``kind="iteration"``, ``split="calibration"``), then the
        best version on the holdout (``kind="holdout"``, ``split="holdout"``) when it was
        validated, then a pseudo-row for the human ceiling on the calibration split
        (``kind="ceiling"``, ``version="human ceiling"``: the median of each figure over
        single humans, ``primary_ci`` the band (min, max); bias as |bias|).
        Keys: kind, iteration, version, hash (short), changelog, split, best, primary_name,
        primary, primary_ci, primary_reason, primary_text (``"0.71 [0.60, 0.80]"`` or
        ``"undefined (reason)"``), spearman, mae, bias, alt_test (the alt-test's winning
        rate), alt_test_text (:func:`alt_test_text`), n_items, n_invalid, n_failed, cost.
        Undefined figures, unknown costs and cells that do not apply are ``None``.
    """
    primary = result.primary
    best = result.best
    rows = [
        _row(rec.iteration, rec.prompt, "calibration", "iteration", rec.figures, rec.run,
             primary, best is not None and rec.iteration == best.iteration)
        for rec in result.iterations
    ]
    if result.holdout is not None:
        h = result.holdout
        rows.append(_row(best.iteration if best is not None else None, h.prompt, "holdout",
                         "holdout", h.figures, h.run, primary, True))
    ref = best or (result.iterations[-1] if result.iterations else None)
    if ref is not None:
        ceiling = ref.ceiling or {}

        def med(name: str) -> float | None:
            return (ceiling.get(name) or {}).get("median")

        band = ceiling.get(primary) or {}
        has_band = band.get("min") is not None and band.get("max") is not None
        rows.append({
            "kind": "ceiling",
            "iteration": None,
            "version": "human ceiling",
            "hash": None,
            "changelog": f"{_band_label(ref.ceiling_method)}: median (min–max) of a single "
                         "human vs the others' consensus (bias as |bias|)",
            "split": "calibration",
            "best": False,
            "primary_name": primary,
            "primary": med(primary),
            "primary_ci": (band["min"], band["max"]) if has_band else None,
            "primary_reason": None if has_band else "no human ceiling",
            "primary_text": (band_text(band) if has_band and med(primary) is not None
                             else MISSING),
            **{name: med(name) for name in KEY_FIGURES},
            "alt_test": None,
            "alt_test_text": MISSING,
            "n_items": None,
            "n_invalid": None,
            "n_failed": None,
            "cost": None,
            "ceiling_method": ref.ceiling_method,
        })
    return rows


_COLUMNS = ("iteration", "version", "hash", "changelog", "split", "primary", "spearman",
            "mae", "bias", "alt_test", "n_invalid", "cost")


def alt_test_text(fig: AgreementResult | None) -> str:
    """The alt-test's winning rate for a table cell: ``"0.67 PASS"``, ``"0.00 FAIL"``.

    ``"—"`` when the report had no alt-test, ``"n/a"`` when it was undefined (too few
    items per rater; the reason is in the report).

    Examples
    --------
    >>> alt_test_text(AgreementResult("alt_test", 0.5, details={"passed": True}))
    '0.50 PASS'
    >>> alt_test_text(None)
    '—'
    """
    if fig is None:
        return MISSING
    if fig.value is None:
        return NOT_APPLICABLE
    return f"{number_text(fig.value)} " + verdict_word("pass" if fig.details.get("passed")
                                                       else "fail")


def _cells(row: dict[str, Any]) -> list[str]:
    """The row as display strings (not escaped), in the order of :data:`_COLUMNS`."""
    it = row["iteration"]
    version = row["version"] + (" ★" if row["best"] and row["kind"] == "iteration" else "")
    primary = row["primary_text"]
    return [
        "" if it is None else str(it),
        version,
        row["hash"] or "",
        row["changelog"] or "",
        row["split"],
        primary,
        _num(row["spearman"]),
        _num(row["mae"]),
        _num(row["bias"]) if row["bias"] is None or row["kind"] == "ceiling"
        else signed_text(row["bias"]),
        row.get("alt_test_text") or MISSING,
        "" if row["n_invalid"] is None else str(row["n_invalid"]),
        "" if row["kind"] == "ceiling" else cost_text(row["cost"]),
    ]


def _headers(primary: str) -> list[str]:
    return ["it.", "version", "hash", "changelog", "split", f"{_label(primary)} [95% CI]",
            "Spearman ρ", "MAE", "bias", "alt-test ω", "invalid", "cost"]


# --------------------------------------------------------------------------- the verdict


def _better(name: str, a: float, b: float) -> float:
    """How much better ``a`` is than ``b`` (positive = better), in the figure's direction."""
    if name in CLOSER_TO_ZERO_IS_BETTER:
        return abs(b) - abs(a)
    if name in LOWER_IS_BETTER:
        return b - a
    return a - b


def _meets(name: str, value: float, threshold: float) -> bool:
    if name in CLOSER_TO_ZERO_IS_BETTER:
        return abs(value) <= threshold
    if name in LOWER_IS_BETTER:
        return value <= threshold
    return value >= threshold


def _threshold_words(name: str, threshold: float) -> str:
    if name in CLOSER_TO_ZERO_IS_BETTER:
        return f"|{_label(name)}| ≤ {threshold:g}"
    if name in LOWER_IS_BETTER:
        return f"{_label(name)} ≤ {threshold:g}"
    return f"{_label(name)} ≥ {threshold:g}"


def _gap(result: CalibrationResult) -> tuple[float | None, float | None]:
    """(calibration − holdout as reported, how much worse the holdout is)."""
    best, h = result.best, result.holdout
    if best is None or h is None:
        return result.gap, None
    cal, hold = best.primary_value, _value(h.figures.get(result.primary))
    if cal is None or hold is None:
        return result.gap, None
    gap = result.gap if result.gap is not None else cal - hold
    return gap, _better(result.primary, cal, hold)


def _alt_test_sentence(split: str, fig: AgreementResult) -> tuple[str, bool]:
    d = fig.details
    head = f"Alt-test of the best version on the {split} split (ε = {d.get('epsilon', 0):g})"
    if fig.value is None:
        return f"{head}: {undefined_text(fig.reason)}.", False
    ok = bool(d.get("passed"))
    rho = d.get("advantage_probability")
    return (f"{head}: winning rate ω = {number_text(fig.value)} over {fig.n_raters} rater(s), "
            f"{verdict_word('pass' if ok else 'fail')} (needs ≥ 0.50); advantage probability "
            f"ρ = {_num(rho)}.", not ok)


def scorecard_table_rows(result: Any) -> list[dict[str, Any]]:
    """The rows of a scorecard calibration's final table: one per question, then the total.

    Parameters
    ----------
    result : ScorecardCalibrationResult
        ``harness.loop.calibrate`` on a scorecard.

    Returns
    -------
    list of dict
        Per question, in the order calibrated (worst first): ``kind="question"``,
        ``question``, ``version`` (the best), ``primary_name``, ``calibration_text`` and
        ``holdout_text`` (``"0.71 [0.60, 0.80]"``, ``"undefined (reason)"``, or None when not
        validated), ``outcome`` (the holdout verdict: pass, fail, inconclusive; None),
        ``passes`` (the target on the calibration split), ``stop_reason``, ``revised`` (the
        versions its revisions wrote), ``replayed`` (finished before, read back). Then the
        total (``kind="total"``, ``question="total"``, no version, no stop reason), when
        every question has a best version. A question waiting for a manual revision is
        ``kind="pending"`` with its message as ``stop_reason``.
    """
    rows: list[dict[str, Any]] = []
    revised = result.revised
    for cid, res in result.questions.items():
        best, hold = res.best, res.holdout
        cal = best.figures.get(res.primary) if best is not None else None
        hres = hold.figures.get(res.primary) if hold is not None else None
        rows.append({
            "kind": "question", "question": cid,
            "version": best.prompt.label if best is not None else None,
            "primary_name": res.primary,
            "calibration_text": _result_text(cal),
            "holdout_text": _result_text(hres),
            "outcome": hold.outcome if hold is not None else None,
            "passes": result.passes(cid), "stop_reason": res.stop_reason,
            "revised": revised.get(cid, []), "replayed": cid in result.replayed,
        })
    for cid, message in result.pending.items():
        rows.append({"kind": "pending", "question": cid, "version": None,
                     "primary_name": None, "calibration_text": None, "holdout_text": None,
                     "outcome": None, "passes": False, "stop_reason": message,
                     "revised": [], "replayed": False})
    if result.total_calibration is not None:
        name = result.total_primary
        rows.append({
            "kind": "total", "question": "total", "version": None, "primary_name": name,
            "calibration_text": _result_text(result.total_calibration.get(name)),
            "holdout_text": _result_text((result.total_holdout or {}).get(name)),
            "outcome": result.total_verdict.outcome if result.total_verdict else None,
            "passes": result.total_passes, "stop_reason": None, "revised": [],
            "replayed": False,
        })
    return rows


def _result_text(res: AgreementResult | None) -> str | None:
    return None if res is None else _primary_text(res.value, res.ci95, res.reason)


def alt_test_sentences(result: CalibrationResult) -> list[tuple[str, bool]]:
    """The alt-test of the best version on the calibration and holdout splits, when run.

    Parameters
    ----------
    result : CalibrationResult

    Returns
    -------
    list of (str, bool)
        One sentence per split (``Alt-test of the best version on the holdout split
        (ε = 0.2): winning rate ω = 0.67 …`` or ``…: undefined (reason).``), and whether
        it is alarming (a failed test).
    """
    out = []
    if result.best is not None and result.best.figures.get("alt_test") is not None:
        out.append(_alt_test_sentence("calibration", result.best.figures["alt_test"]))
    if result.holdout is not None and result.holdout.figures.get("alt_test") is not None:
        out.append(_alt_test_sentence("holdout", result.holdout.figures["alt_test"]))
    return out


def _verdict(result: CalibrationResult) -> tuple[list[tuple[str, bool]], list[str]]:
    """Verdict sentences (text, alarming?) and the warnings derived (plain, not escaped)."""
    name = result.primary
    label = _label(name)
    out: list[tuple[str, bool]] = []
    warnings: list[str] = []
    best = result.best
    if best is None:
        out.append((f"No prompt version produced a defined {label}: there is no best "
                    "version and the judge cannot be trusted.", True))
        return out, warnings
    res = best.primary_result
    target = _threshold_words(name, result.threshold)
    if res.value is None:
        out.append((f"Best version {best.prompt.label} (iteration {best.iteration}): {label} "
                    f"is {undefined_text(res.reason)}.", True))
    else:
        ok = _meets(name, res.value, result.threshold)
        out.append((f"Best version {best.prompt.label} (iteration {best.iteration}, hash "
                    f"{best.prompt.short_hash}): {label} on the calibration split "
                    f"{_value_ci(res.value, res.ci95)}, "
                    f"{'meets' if ok else 'does NOT meet'} the threshold {target}.", not ok))
    h = result.holdout
    if h is not None:
        hres = h.figures.get(name)
        if hres is None or hres.value is None:
            reason = "missing" if hres is None else hres.reason
            out.append((f"On the holdout split {label} is {undefined_text(reason)}.", True))
        elif h.verdict is not None:
            v = h.verdict
            decide = f" {v.decide_text()[0].upper()}{v.decide_text()[1:]}." \
                if v.decide_text() else ""
            out.append((f"On the holdout split: {_value_ci(hres.value, hres.ci95)}; the "
                        f"threshold {target} checked on the {percent(v.confidence)} CI: "
                        f"{verdict_word(v.outcome)} ({v.message}).{decide}", v.outcome != "pass"))
        else:
            ok = _meets(name, hres.value, result.threshold)
            out.append((f"On the holdout split: {_value_ci(hres.value, hres.ci95)}, "
                        f"{'meets' if ok else 'does NOT meet'} the threshold {target}.", not ok))
    else:
        out.append(("The best version was not validated on a holdout split.", False))
    out.extend(alt_test_sentences(result))
    gap, worse = _gap(result)
    if gap is not None:
        out.append((f"Calibration − holdout gap: {signed_text(gap)}.", False))
    if worse is not None and worse > GAP_WARNING:
        msg = (f"Overfitting warning: the holdout {label} is {_num(worse)} worse than on the "
               f"calibration split (gap > {_num(GAP_WARNING)}): the prompt may be fitted to the "
               "calibration items; trust the holdout figure.")
        out.append((msg, True))
        warnings.append(msg)

    band = (best.ceiling or {}).get(name) or {}
    what = _band_label(best.ceiling_method)
    if res.value is None:
        pass
    elif band.get("reliable") is False:
        out.append((f"The judge's {label} is not compared with the humans: the anchors are "
                    "not reliable enough to judge a judge"
                    + (f" ({band['gold_reason']})" if band.get("gold_reason") else "")
                    + ".", True))
    elif band.get("min") is None or band.get("max") is None:
        out.append(("No human ceiling could be computed (too few raters per item).", False))
    else:
        few = (f"; only {band['n']} raters, so the range is {band['n']} numbers"
               if best.ceiling_method == "per-rater" and band.get("n") is not None
               and band["n"] < FEW_RATERS else "")
        rng = (f"{what} {range_text(band['min'], band['max'])}, median "
               f"{_num(band['median'])}{few}")
        pos = position(name, res.value, band, ci=res.ci95)
        whole = "whole CI" if res.ci95 and ci_decides(band) else "value"
        if pos == "within":
            out.append((f"The judge's {label} is INSIDE the {rng} (its {whole}).", False))
        elif pos == "above":
            out.append((f"The judge's {label} is ABOVE the {rng} (its {whole}).", False))
        elif pos == "overlaps":
            out.append((f"The judge's {label} {_value_ci(res.value, res.ci95)} is UNDECIDED "
                        f"against the {rng}: its CI overlaps the edge of the range.", False))
        else:
            worst = band["max"] if name in LOWER_IS_BETTER | CLOSER_TO_ZERO_IS_BETTER \
                else band["min"]
            value = abs(res.value) if name in CLOSER_TO_ZERO_IS_BETTER else res.value
            short = -_better(name, value, worst)
            limit = FAR_BELOW
            if name in LOWER_IS_BETTER | CLOSER_TO_ZERO_IS_BETTER:
                limit = FAR_BELOW_SCALE_SHARE * (best.scale[1] - best.scale[0])
            if short > limit:
                msg = (f"The judge is FAR BELOW the human ceiling: its {label} "
                       f"{_num(res.value)} is {_num(short)} worse than the worst single human "
                       f"({rng}). It is not a substitute for a human rater.")
                out.append((msg, True))
                warnings.append(f"The judge is far below the human ceiling on {label} "
                                f"({_num(res.value)} vs {rng}).")
            else:
                out.append((f"The judge's {label} is BELOW the {rng}: not yet a substitute "
                            "for a human rater.", True))
    return out, warnings


def _all_warnings(result: CalibrationResult, derived: list[str]) -> list[str]:
    out = list(derived)
    for rec in result.iterations:
        n_missing = int(np.isnan(np.asarray(rec.judge_scores, dtype=float)).sum())
        if n_missing:
            out.append(f"iteration {rec.iteration} ({rec.prompt.label}): {n_missing} item(s) "
                       "without a valid judgment were left out of the figures")
    if any(rec.run.get("cost") is None for rec in result.iterations):
        out.append("the cost of some iterations is unknown (no price for the model)")
    out.extend(w for w in result.warnings if w not in out)
    return out


# --------------------------------------------------------------------------- HTML

#: Width of a plot in the page, in CSS pixels per inch of the figure (its height follows).
_PX_PER_INCH = 96


def _fmt_any(value: Any) -> str:
    if isinstance(value, AgreementResult):
        return result_text(value)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return _num(value)
    if isinstance(value, int):
        return str(value)
    if value is None:
        return MISSING
    if isinstance(value, list | tuple):
        return ", ".join(_fmt_any(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_fmt_any(v)}" for k, v in value.items())
    return str(value)


def _html_meta(result: CalibrationResult, date: str,
               mlflow_link: str | None) -> list[tuple[str, str, str | None]]:
    """The header table: (key, text, link or None)."""
    rows: list[tuple[str, str, str | None]] = [
        ("experiment", result.experiment, None),
        ("date", date, None),
        ("stop reason", result.stop_reason, None),
        ("iterations", str(len(result.iterations)), None),
        ("primary figure", f"{_label(result.primary)} — threshold "
                           f"{_threshold_words(result.primary, result.threshold)}", None),
    ]
    if result.secondary:
        rows.append(("secondary bars", ", ".join(
            _threshold_words(k, v) for k, v in result.secondary.items()), None))
    if result.parent_run_id:
        rows.append(("parent run", result.parent_run_id, None))
    if mlflow_link:
        href = mlflow_link if re.match(r"^https?://", mlflow_link, re.I) else None
        rows.append(("tracking", mlflow_link, href))
    elif result.tracking_uri:
        rows.append(("tracking", result.tracking_uri, None))
    return rows


def _html_final(result: CalibrationResult, rows: list[dict[str, Any]]) -> dict[str, Any]:
    classes = ["ceiling" if r["kind"] == "ceiling" else "holdout" if r["kind"] == "holdout"
               else "best" if r["best"] else "" for r in rows]
    return {"headers": _headers(result.primary), "rows": [_cells(r) for r in rows],
            "classes": classes, "numeric": (0, 6, 7, 8, 9, 10)}


def _html_runs(result: CalibrationResult) -> dict[str, Any]:
    keys = ("n_requests", "n_cached", "n_ok", "n_invalid", "n_failed", "input_tokens",
            "output_tokens")
    runs = [(f"{rec.iteration} ({rec.prompt.label})", "calibration", rec.run)
            for rec in result.iterations]
    if result.holdout is not None:
        runs.append((result.holdout.prompt.label, "holdout", result.holdout.run))
    rows = [[name, split, *(_fmt_any(run.get(k)) for k in keys), cost_text(run.get("cost")),
             _num(run.get("elapsed_s"), 1)] for name, split, run in runs]
    costs = [run.get("cost") for _, _, run in runs]
    total = None if any(c is None for c in costs) else sum(costs)
    return {"headers": ["run", "split", "requests", "cached", "ok", "invalid", "failed",
                        "input tokens", "output tokens", "cost", "elapsed s"],
            "rows": rows, "numeric": tuple(range(2, 11)), "total": cost_text(total),
            "some_unknown": total is None and bool(costs)}


def _figure_entry(fig: Any, caption: str, *, wide: bool = False) -> dict[str, Any]:
    """A plot for the page: an SVG ``data:`` URI, its caption and its size in CSS pixels."""
    w, h = fig.get_size_inches()
    return {"src": figure_data_uri(fig, "svg"), "caption": caption, "wide": wide,
            "width": round(w * _PX_PER_INCH), "height": round(h * _PX_PER_INCH)}


def _split_figures(item_ids: list[str], judge_scores: Any, consensus: Any,
                   confusion: dict[str, Any], scale: tuple[float, float], where: str,
                   human_range: Any) -> list[dict[str, Any]]:
    """Calibration, confusion, Bland–Altman and per-item plots of one version on one split."""
    return [
        _figure_entry(calibration_plot(judge_scores, consensus, scale,
                                       title=f"Calibration ({where})"),
                      f"calibration: judge vs human consensus ({where})"),
        _figure_entry(confusion_plot(confusion, title=f"Confusion ({where})"),
                      f"confusion ({where})"),
        _figure_entry(bland_altman_plot(judge_scores, consensus,
                                        title=f"Bland–Altman ({where})"),
                      f"Bland–Altman ({where})"),
        _figure_entry(disagreement_plot(item_ids, judge_scores, consensus, scale,
                                        human_range=human_range,
                                        title=f"Items by |judge − consensus| ({where})"),
                      f"per-item disagreements, largest first ({where})", wide=True),
    ]


def _html_plots(result: CalibrationResult) -> list[dict[str, Any]]:
    groups = []
    best = result.best
    if best is not None:
        for run, split in ((best, "calibration"), (result.holdout, "holdout")):
            if run is None:
                continue
            groups.append({
                "heading": f"Best version on the {split} split ({run.prompt.label})",
                "figures": _split_figures(run.item_ids, run.judge_scores, run.consensus,
                                          run.confusion, best.scale,
                                          f"{run.prompt.label}, {split}",
                                          getattr(run, "human_range", None)),
            })
    groups.append({
        "heading": "Agreement by iteration",
        "figures": [_figure_entry(iterations_plot(result),
                                  f"{_label(result.primary)} by iteration: the judge's "
                                  "figure and 95% CI against the human band", wide=True)],
    })
    return groups


def _html_analysis(rec: IterationRecord) -> dict[str, Any]:
    a: DisagreementAnalysis = rec.analysis
    d = a.direction or {}
    thr = d.get("threshold", 1.0)
    mb = d.get("mean_bias")
    share = f" ({share_text(len(a.items) / a.n_items)})" if a.n_items else ""
    facts = [
        f"Items scored: {a.n_items}.",
        f"Disagreements (|judge − consensus| ≥ {thr:g}): {len(a.items)}{share}: "
        f"{d.get('n_lenient', 0)} lenient (judge higher), {d.get('n_harsh', 0)} harsh "
        "(judge lower).",
    ]
    if d.get("n_excluded"):
        ids = d.get("excluded_ids", [])
        facts.append(f"Left out, without a valid judge score or consensus: {d['n_excluded']} "
                     f"({', '.join(ids[:10])}{', …' if len(ids) > 10 else ''}).")
    v = a.verbosity or {}
    verbosity = None
    if v:
        rows = [[what, _rho_words(v[key])]
                for key, what in (("signed", "length vs judge − consensus"),
                                  ("absolute", "length vs |judge − consensus|"))
                if isinstance(v.get(key), dict)]
        verbosity = {"reading": v.get("reading"), "rows": rows}
    top = a.items[:TOP_DISAGREEMENTS]
    return {
        "version": rec.prompt.label,
        "lead": (f"Mean bias (judge − consensus) {signed_text(mb)}: "
                 if isinstance(mb, int | float)
                 else "Direction: "),
        "label": d.get("label") or MISSING,
        "rule": f" ({d['label_rule']})" if d.get("label_rule") else "",
        "facts": facts,
        "by_tag": [[str(r["tag"]) + (" (n < 2)" if r.get("small") else ""), str(r["n"]),
                    _num(r["mae"]), signed_text(r["bias"]), str(r.get("n_disagreements", 0))]
                   for r in a.by_tag],
        "verbosity": verbosity,
        "top": [[it.item_id, score_text(it.judge), _num(it.consensus), signed_text(it.difference),
                 str(it.output_chars), ", ".join(it.tags), it.rationale or "—"] for it in top],
        "n_disagreements": len(a.items),
        "threshold": f"{thr:g}",
    }


def _rho_words(res: dict[str, Any]) -> str:
    """A correlation result (as a dict) as ``0.05 [−0.41, 0.49], p = 0.83, n = 20``."""
    value = res.get("value")
    if value is None:
        return result_text(res)
    text = result_text(res)
    p = (res.get("details") or {}).get("p_value")
    if isinstance(p, int | float):
        text += f", p = {p_text(p)}"
    if res.get("n_items") is not None:
        text += f", n = {res['n_items']}"
    return text


def _diff_class(line: str) -> str | None:
    if line.startswith(("+++", "---", "@@")):
        return "hunk"
    if line.startswith("+"):
        return "add"
    if line.startswith("-"):
        return "del"
    return None


def _html_diff(result: CalibrationResult) -> dict[str, Any]:
    if not result.iterations or result.best is None:
        return {"kind": "none"}
    first, best = result.iterations[0].prompt, result.best.prompt
    if first.hash == best.hash:
        return {"kind": "same", "first": first.label, "text": first.text}
    return {"kind": "diff", "first": first.label, "first_hash": first.short_hash,
            "best": best.label, "best_hash": best.short_hash, "changelog": best.changelog,
            "lines": [(_diff_class(line), line)
                      for line in prompt_diff(first, best).splitlines()]}


def render_calibration_html(result: CalibrationResult, *, mlflow_link: str | None = None,
                            date: str | None = None) -> str:
    """The calibration report as one self-contained HTML page.

    Parameters
    ----------
    result : CalibrationResult
        The calibration run.
    mlflow_link : str, optional
        A link to the tracking run (made a hyperlink when it is ``http(s)://``).
    date : str, optional
        The date shown in the header; now (UTC) by default.

    Returns
    -------
    str
        The page, rendered from ``harness/reports/templates/calibration.html`` (the base
        layout shared with the session web app) with autoescaping: the shared stylesheet
        inline, plots as SVG ``data:`` URIs, no script and no external reference; every
        string from data is HTML-escaped.
    """
    from .templates import environment, stylesheet

    date = date or datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    sentences, derived = _verdict(result)
    rows = final_table_rows(result)
    return environment().get_template("calibration.html").render(
        title=f"Calibration report — {result.experiment}",
        inline_css=stylesheet(),
        page_class="report",
        meta=_html_meta(result, date, mlflow_link),
        verdict=sentences,
        final=_html_final(result, rows),
        runs=_html_runs(result),
        plots=_html_plots(result),
        analysis=_html_analysis(result.best) if result.best is not None else None,
        diff=_html_diff(result),
        warnings=_all_warnings(result, derived),
    )


# --------------------------------------------------------------------------- Markdown


def _md_cell(text: str) -> str:
    return html.escape(text, quote=False).replace("|", "\\|").replace("\n", " ").strip()


def render_calibration_markdown(result: CalibrationResult, *, html_path: Path | str | None = None,
                                mlflow_link: str | None = None, date: str | None = None) -> str:
    """The Markdown summary: verdict, final table, warnings and where the HTML report is.

    Parameters
    ----------
    result : CalibrationResult
        The calibration run.
    html_path : Path or str, optional
        The HTML report, named at the end.
    mlflow_link : str, optional
        A link to the tracking run.
    date : str, optional
        The date shown; now (UTC) by default.

    Returns
    -------
    str
        GitHub-flavoured Markdown without images; text from data is escaped for tables.
    """
    date = date or datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    sentences, derived = _verdict(result)
    warnings = _all_warnings(result, derived)
    rows = final_table_rows(result)
    out = [f"# Calibration report — {_md_cell(result.experiment)}", ""]
    meta = f"{date} · stop reason: **{_md_cell(result.stop_reason)}** · " \
           f"{len(result.iterations)} iteration(s) · " \
           f"threshold {_threshold_words(result.primary, result.threshold)}"
    out.append(meta)
    if mlflow_link:
        out.append(f"Tracking: {_md_cell(mlflow_link)}")
    elif result.parent_run_id:
        out.append(f"Parent run: `{_md_cell(result.parent_run_id)}`")
    out += ["", "## Verdict", ""]
    out += [f"- ⚠ **{_md_cell(s)}**" if alarm else f"- {_md_cell(s)}" for s, alarm in sentences]
    out += ["", "## Final table", ""]
    headers = _headers(result.primary)
    out.append("| " + " | ".join(headers) + " |")
    out.append("|" + "|".join("---:" if i in {0, 6, 7, 8, 9, 10} else "---"
                              for i in range(len(headers))) + "|")
    for r in rows:
        cells = [_md_cell(c) for c in _cells(r)]
        if r["kind"] == "ceiling":
            cells = [f"*{c}*" if c else c for c in cells]
        elif r["kind"] == "holdout" or r["best"]:
            cells[1] = f"**{cells[1]}**"
        out.append("| " + " | ".join(cells) + " |")
    out += ["", "## Warnings", ""]
    out += [f"- {_md_cell(w)}" for w in warnings] or ["None."]
    if html_path is not None:
        out += ["", f"Full report with plots, disagreements and the prompt diff: "
                    f"`{_md_cell(str(html_path))}`"]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- files


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "calibration"


def write_calibration_report(result: CalibrationResult, out_dir: Path, *,
                             mlflow_link: str | None = None) -> tuple[Path, Path]:
    """Write the HTML report and the Markdown summary of a calibration run.

    Parameters
    ----------
    result : CalibrationResult
        The calibration run.
    out_dir : Path
        The directory (created if needed).
    mlflow_link : str, optional
        A link to the tracking run, shown in the header.

    Returns
    -------
    (Path, Path)
        ``out_dir/<experiment>-<parent run id or UTC timestamp>.html`` and the ``.md``
        beside it. ``result`` is not modified.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    stamp = _slug(result.parent_run_id) if result.parent_run_id \
        else now.strftime("%Y%m%dT%H%M%SZ")
    base = f"{_slug(result.experiment)}-{stamp}"
    html_path, md_path = out_dir / f"{base}.html", out_dir / f"{base}.md"
    date = now.strftime("%Y-%m-%d %H:%M UTC")
    page = render_calibration_html(result, mlflow_link=mlflow_link, date=date)
    summary = render_calibration_markdown(result, html_path=html_path, mlflow_link=mlflow_link,
                                          date=date)
    for path, text in ((html_path, page), (md_path, summary)):
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return html_path, md_path
