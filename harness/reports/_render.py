"""Rich renderables for the agreement report (the CLI only prints them)."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from harness._say import (
    MISSING,
    band_text,
    number_text,
    p_text,
    percent,
    position_text,
    result_text,
    scale_text,
    score_text,
    signed_text,
    undefined_text,
)
from harness.agreement import PAIRED_FIGURES, AgreementResult

from ._agreement import FIGURE_LABELS, AgreementReport


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


_fmt = number_text


def _fmt_result(res: AgreementResult) -> Text:
    return Text(result_text(res), style="" if res.defined else "yellow")


def _chance_cell(res: AgreementResult | None) -> Text | str:
    """The chance baseline's figure: a rank correlation of its constant score is undefined,
    and the column's heading ("chance: always 4") already says why."""
    if res is None:
        return MISSING
    if not res.defined and "the scores are constant" in (res.reason or ""):
        return Text(undefined_text("constant"), style="yellow")
    return _fmt_result(res)


_POSITION_STYLE = {"below": "bold red", "within": "green", "above": "bold green",
                   "overlaps": "yellow", "unreliable": "yellow"}


def render_report(report: AgreementReport, *, max_rows: int = 10) -> RenderableType:
    """The whole report as one rich renderable."""
    parts: list[RenderableType] = []
    lo, hi = report.scale
    head = Text.assemble(
        ("Agreement report", "bold"),
        f" — {report.source}: {_count(len(report.item_ids), 'item')}, "
        f"{_count(len(report.human_rater_ids), 'human rater')}, scale {scale_text(lo, hi)}"
        + (" (inferred)" if report.scale_inferred else ""),
    )
    parts.append(head)
    for w in report.warnings:
        parts.append(Text(f"! {w}", style="yellow"))
    gold = getattr(report, "gold", None)
    if gold is not None:
        parts.append(Text(f"Gold: {gold.reason}.",
                          style="green" if gold.reliable else "bold yellow"))
    if report.judge is not None:
        parts.extend(_judge_tables(report))
    parts.extend(_human_tables(report, max_rows))
    return Group(*parts)


def _judge_tables(report: AgreementReport) -> list[RenderableType]:
    j = report.judge
    assert j is not None
    conf = percent(report.settings.confidence)
    t = Table(title=f"Judge '{j['rater_id']}' vs human consensus ({j['n_items']} items)",
              title_justify="left")
    t.add_column("figure")
    ref = j.get("reference") or {}
    like = ref.get("figures") == "leave-one-out"
    t.add_column(f"judge [{conf} CI]" + (" like-for-like" if like else ""), justify="right")
    if like:
        t.add_column(f"vs all {len(report.human_rater_ids)} humans", justify="right")
    sampled = j["ceiling_method"] != "per-rater"
    t.add_column("single human: median (95% band)" if sampled
                 else "human ceiling: median (range)", justify="right")
    t.add_column(f"chance: always {_fmt(j['baseline']['score'], 0)}", justify="right")
    t.add_column("judge vs humans")
    for name in PAIRED_FIGURES:
        band = j["ceiling"][name]
        ceiling = band_text(band)
        base = j["baseline"]["figures"].get(name)
        pos = j["position"][name]
        full = ([_fmt(j["figures_full_consensus"][name].value)] if like else [])
        t.add_row(
            FIGURE_LABELS[name],
            _fmt_result(j["figures"][name]),
            *full,
            ceiling,
            _chance_cell(base),
            _position_text(pos),
        )
    if like:
        t.caption = ("like-for-like: the judge against each leave-one-out consensus a single "
                     f"human met ({ref['n_references']} references, averaged), as in the "
                     "human ceiling; 'vs all humans': against the consensus of every rater")
    out: list[RenderableType] = [t]
    cm = Table(title="Confusion matrix (rows: judge, columns: consensus; both rounded)",
               title_justify="left")
    cm.add_column("")
    cats = j["confusion"]["categories"]
    for c in cats:
        cm.add_column(score_text(c), justify="right")
    for c, row in zip(cats, j["confusion"]["counts"], strict=True):
        cm.add_row(score_text(c), *[str(int(v)) for v in row])
    out.append(cm)
    pos = j["position"].get(report.settings.primary)
    verdict_style = ("bold green" if pos in ("within", "above")
                     else "bold yellow" if pos in ("overlaps", "unreliable") else "bold red")
    out.append(Text(j["verdict"], style=verdict_style))
    if j.get("alt_test") is not None:
        out.extend(_alt_test_lines(j["alt_test"], j.get("alt_test_verdict", "")))
    return out


def _alt_test_lines(doc: dict[str, Any], verdict: str, max_rows: int = 10
                    ) -> list[RenderableType]:
    """The alt-test: its verdict, and per rater when there are few raters."""
    style = ("yellow" if doc["winning_rate"] is None
             else "bold green" if doc["passed"] else "bold red")
    out: list[RenderableType] = []
    rows = doc["per_rater"]
    if rows and len(rows) <= max_rows:
        t = Table(title="Alt-test per rater (left out; the others are the reference)",
                  title_justify="left")
        for col in ("rater", "items", "test", "judge ≥ rater", "rater ≥ judge", "p",
                    "judge wins"):
            t.add_column(col, justify="left" if col in ("rater", "test") else "right")
        for r in rows:
            t.add_row(r["rater"], str(r["n_items"]), r["test"], _fmt(r["p_judge"]),
                      _fmt(r["p_rater"]), p_text(r["p_value"]),
                      Text("yes", style="green") if r["rejected"] else "no")
        out.append(t)
    out.append(Text(verdict, style=style))
    return out


def _human_tables(report: AgreementReport, max_rows: int) -> list[RenderableType]:
    h = report.human
    out: list[RenderableType] = []
    t = Table(title="Human reliability", title_justify="left")
    t.add_column("statistic")
    t.add_column(f"value [{percent(report.settings.confidence)} CI]", justify="right")
    t.add_column("items", justify="right")
    reasons = {res.reason for res in h["icc"].values()}
    if all(not res.defined for res in h["icc"].values()) and len(reasons) == 1:
        t.add_row("ICC, two-way (all six forms)", _fmt_result(next(iter(h["icc"].values()))),
                  str(next(iter(h["icc"].values())).n_items))
    else:
        for form, res in h["icc"].items():
            t.add_row(form, _fmt_result(res), str(res.n_items))
    for form, res in h["icc_oneway"].items():
        n0 = res.details.get("n0")
        label = f"{form} one-way, unbalanced" + (f" (n0 = {n0:.1f})" if n0 else "")
        t.add_row(label, _fmt_result(res), str(res.n_items))
    t.add_row("Krippendorff α (interval)", _fmt_result(h["krippendorff_alpha"]),
              str(h["krippendorff_alpha"].n_items))
    t.add_row("Krippendorff α (ordinal)", _fmt_result(h["krippendorff_alpha_ordinal"]),
              str(h["krippendorff_alpha_ordinal"].n_items))
    out.append(t)

    raters = h["raters"]
    flagged = [r for r in raters if r["outlier"]]
    rt = Table(
        title=f"Each rater vs the others' consensus ({len(raters)} raters, "
        f"{len(flagged)} flagged as outliers)",
        title_justify="left",
    )
    for col in ("rater", "items", "Spearman ρ", "MAE", "bias", "flag"):
        rt.add_column(col, justify="left" if col in ("rater", "flag") else "right")
    ordered = sorted(raters, key=_rater_sort_key)
    for r in ordered[:max_rows]:
        f = r["figures"]
        rt.add_row(
            r["rater_id"], str(r["n_items"]), _fmt(f["spearman"].value), _fmt(f["mae"].value),
            _fmt(f["bias"].value),
            Text("; ".join(r["outlier_reasons"]), style="red") if r["outlier"] else "",
        )
    if len(ordered) > max_rows:
        rt.caption = f"{len(ordered) - max_rows} more raters in --json"
    out.append(rt)

    items = h["items"]
    thr = report.settings.threshold_for(report.scale)
    it = Table(
        title=f"Items by rater spread ({h['n_items_over_threshold']} of {len(items)} over "
        f"SD {number_text(thr)} = threshold)",
        title_justify="left",
    )
    for col in ("item", "ratings", "N/A", "mean", "SD", "range", "share of scale"):
        it.add_column(col, justify="left" if col == "item" else "right")
    for row in items[:max_rows]:
        it.add_row(
            Text(row["item_id"], style="red" if row["flagged"] else ""),
            str(row["n_ratings"]), str(row["n_na"]), _fmt(row["mean"]), _fmt(row["sd"]),
            _fmt(row["range"], 0), _fmt(row["share_of_scale"]),
        )
    out.append(it)
    na = h["na"]
    if na["total"]:
        out.append(Text(
            f"N/A ratings: {na['total']} (by item: {_top(na['by_item'])}; "
            f"by rater: {_top(na['by_rater'])})"
        ))
    return out


def _rater_sort_key(r: dict[str, Any]) -> tuple[int, float, str]:
    mae = r["figures"]["mae"].value
    return (0 if r["outlier"] else 1, -(mae if mae is not None else -1.0), r["rater_id"])


def _top(counts: dict[str, int], k: int = 5) -> str:
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    text = ", ".join(f"{key} {val}" for key, val in items[:k])
    return text + (f", … {len(items) - k} more" if len(items) > k else "")


def render_scorecard(report: Any, *, max_rows: int = 10) -> RenderableType:
    """A scorecard report (:class:`~harness.reports.ScorecardReport`) as one renderable: one
    row per question and the total, then the questions ranked. ``agree --criterion ID``
    shows one question's full report (:func:`render_report`)."""
    from ._scorecard import human_figure

    parts: list[RenderableType] = [Text.assemble(
        ("Scorecard agreement report", "bold"),
        f" — {report.source}: {_count(len(report.criteria), 'question')}"
        + (" and the total" if report.total is not None else ""))]
    rows = dict(report.criteria)
    if report.total is not None:
        rows["total"] = report.total
    has_judge = any(r.judge is not None for r in rows.values())
    t = Table(title="Per question (full report: agree --criterion ID)", title_justify="left")
    for col in ("question", "scale", "items", "humans: α", "flagged"):
        t.add_column(col, justify="left" if col in ("question", "scale") else "right")
    if has_judge:
        for col in ("judge: primary figure [CI]", "human ceiling", "judge vs humans"):
            t.add_column(col, justify="right" if col != "judge vs humans" else "left")
    for cid, rep in rows.items():
        kind = rep.settings.scale_kind
        lo, hi = rep.scale
        scale = scale_text(lo, hi) + ("" if kind == "numeric" else f" {kind}")
        _, alpha = human_figure(rep)
        cells: list[Any] = [cid,
                            scale, str(len(rep.item_ids)), _fmt(alpha),
                            str(rep.human["n_items_over_threshold"])]
        if has_judge:
            if rep.judge is None:
                cells += [MISSING, MISSING, MISSING]
            else:
                p = rep.settings.primary
                band = rep.judge["ceiling"][p]
                pos = rep.judge["position"][p]
                figure = _fmt_result(rep.judge["figures"][p])
                cells += [Text.assemble(f"{FIGURE_LABELS[p]} ", figure),
                          _fmt(band.get("median")),
                          _position_text(pos)]
        t.add_row(*cells)
    t.caption = ("humans: α at the scale's level (interval, ordinal or nominal); flagged: "
                 "items whose rater SD is over the spread threshold")
    parts.append(t)
    ranking = report.ranking()
    r = Table(title="Questions that confuse raters (least human agreement first)",
              title_justify="left")
    for col in ("#", "question", "α", "flagged items"):
        r.add_column(col, justify="left" if col == "question" else "right")
    for k, row in enumerate(ranking["by_human_agreement"][:max_rows], start=1):
        r.add_row(str(k), row["criterion"], _fmt(row["value"]),
                  f"{row['flagged_items']} of {row['n_items']}")
    parts.append(r)
    if "by_judge_gap" in ranking:
        g = Table(title="Judge–human gap (judge minus the human ceiling's median; worst first)",
                  title_justify="left")
        for col in ("#", "question", "figure", "judge", "ceiling", "gap"):
            g.add_column(col, justify="left" if col in ("question", "figure") else "right")
        for k, row in enumerate(ranking["by_judge_gap"][:max_rows], start=1):
            g.add_row(str(k), row["criterion"], FIGURE_LABELS.get(row["figure"], row["figure"]),
                      _fmt(row["judge"]), _fmt(row["ceiling"]),
                      signed_text(row["gap"]))
        parts.append(g)
    return Group(*parts)


def render_leaderboard(board: Any) -> RenderableType:
    """A :class:`~harness.reports.Leaderboard` as one renderable: the judges ranked on the
    primary figure beside the human ceiling and the chance baseline, every figure with its
    CI (figures as rows and one column per judge when that fits the width, else one row per
    figure and judge), the paired differences, and each judge's verdict."""
    rep = board.first
    p = rep.settings.primary
    label = FIGURE_LABELS[p]
    conf = percent(rep.settings.confidence)
    lo, hi = rep.scale
    parts: list[RenderableType] = [Text.assemble(
        ("Leaderboard", "bold"),
        f" — {rep.source}: {_count(len(rep.item_ids), 'item')}, "
        f"{_count(len(rep.human_rater_ids), 'human rater')}, "
        f"{_count(len(board.reports), 'judge')}, scale {scale_text(lo, hi)}"
        + (" (inferred)" if board.scale_inferred else ""))]
    parts.extend(Text(f"! {w}", style="yellow") for w in board.warnings)
    if rep.gold is not None:
        parts.append(Text(f"Gold: {rep.gold.reason}.",
                          style="green" if rep.gold.reliable else "bold yellow"))
    sampled = board.ceiling["method"] != "per-rater"
    t = Table(title=f"Judges ranked by {label} (like-for-like, {conf} CI)",
              title_justify="left")
    for col, just in (("#", "right"), ("judge", "left"), (label, "right"),
                      ("vs humans", "left"), ("alt-test ω", "right")):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for k, row in enumerate(board.rows, start=1):
        pos = row["position"][p]
        t.add_row(str(k), row["judge"], _fmt_result(row["figures"][p]), _position_text(pos),
                  _fmt(row["figures"]["alt_test"].value))
    t.add_row("", "single human" if sampled else "human ceiling",
              _ceiling_text(board.ceiling["figures"][p]), "", "", style="dim")
    base = board.baseline["figures"].get(p)
    t.add_row("", f"chance: always {_fmt(board.baseline['score'], 0)}",
              _chance_cell(base), "", "", style="dim")
    t.caption = ("human ceiling: median (95% band of a sampled single rater)" if sampled
                 else "human ceiling: median (range over the raters)")
    parts.append(t)
    parts.append(_AllFigures(board))
    if board.pairs:
        pt = Table(title=f"Paired differences on {label} (first − second; the same item "
                         f"resamples for both, seed {rep.settings.seed})", title_justify="left")
        for col, just in (("judges", "left"), (f"Δ [{conf} CI]", "right"),
                          ("items", "right"), ("better", "left")):
            pt.add_column(col, justify=just)  # type: ignore[arg-type]
        for pair in board.pairs:
            pt.add_row(f"{pair['a']} − {pair['b']}", _fmt_result(pair["difference"]),
                       str(pair["n_items"]),
                       Text(pair["better"], style="bold") if pair["better"]
                       else Text("no clear difference", style="dim"))
        if p in ("bias",):
            pt.caption = "differences of |bias|"
        parts.append(pt)
    for jid, r in board.reports.items():
        pos = r.judge["position"].get(p)
        style = ("green" if pos in ("within", "above")
                 else "yellow" if pos in ("overlaps", "unreliable") else "red")
        parts.append(Text.assemble((f"{jid}: ", "bold"), (r.judge["verdict"], style)))
    return Group(*parts)


def _position_text(pos: str | None) -> Text:
    return Text(position_text(pos), style=_POSITION_STYLE.get(pos or "", ""))


def _cell(res: AgreementResult) -> Text:
    """A figure and its CI in a table cell: an undefined one without its reason (in JSON)."""
    return _fmt_result(res) if res.defined else Text(result_text(res, reason=False),
                                                     style="yellow")


_ceiling_text = band_text


class _AllFigures:
    """Every figure of every judge: one column per judge when it fits the width, else one
    row per figure and judge (the vertical layout)."""

    def __init__(self, board: Any) -> None:
        self.board = board

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from rich.measure import Measurement

        wide = self._wide()
        unbounded = options.update(width=10_000)
        if Measurement.get(console, unbounded, wide).maximum <= options.max_width:
            yield wide
        else:
            yield self._vertical()

    def __rich_measure__(self, console: Any, options: Any) -> Any:
        """From the vertical layout's least width to the wide layout's whole width (so a
        console that prints at the natural width, as in a CI log, shows the wide one)."""
        from rich.measure import Measurement

        wide = Measurement.get(console, options, self._wide())
        narrow = Measurement.get(console, options, self._vertical())
        return Measurement(min(narrow.minimum, wide.minimum), wide.maximum)

    def _title(self) -> str:
        conf = percent(self.board.first.settings.confidence)
        return f"Every figure [{conf} CI]"

    def _figure_names(self) -> list[str]:
        return [*PAIRED_FIGURES, "alt_test"]

    def _wide(self) -> Table:
        b = self.board
        t = Table(title=self._title(), title_justify="left")
        t.add_column("figure")
        for row in b.rows:
            t.add_column(row["judge"], justify="right")
        t.add_column("human ceiling", justify="right")
        t.add_column("chance", justify="right")
        for name in self._figure_names():
            base = b.baseline["figures"].get(name)
            t.add_row(FIGURE_LABELS[name],
                      *[_cell(row["figures"][name]) for row in b.rows],
                      _ceiling_text(b.ceiling["figures"].get(name, {})),
                      _cell(base) if base is not None else MISSING)
        return t

    def _vertical(self) -> Table:
        b = self.board
        t = Table(title=self._title(), title_justify="left")
        for col, just in (("figure", "left"), ("judge", "left"), ("value", "right"),
                          ("vs humans", "left")):
            t.add_column(col, justify=just, overflow="fold")  # type: ignore[arg-type]
        for name in self._figure_names():
            first = True
            for row in b.rows:
                t.add_row(FIGURE_LABELS[name] if first else "", row["judge"],
                          _cell(row["figures"][name]),
                          _position_text(row["position"].get(name)))
                first = False
            band = b.ceiling["figures"].get(name)
            if band is not None:
                t.add_row("", "human ceiling", _ceiling_text(band), "", style="dim")
            base = b.baseline["figures"].get(name)
            if base is not None:
                t.add_row("", "chance", _cell(base), "", style="dim",
                          end_section=True)
            else:
                t.rows[-1].end_section = True
        return t
