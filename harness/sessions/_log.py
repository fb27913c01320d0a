"""The calibration log: a Markdown record of a session.

Every value a person typed or a file supplied (session, participant, anchor-set and item
names, labels, rationales, notes, paths) goes through :func:`md_text` or :func:`md_code`, so
it renders as the text it is: no HTML tag, link, image, emphasis, table cell or line of its
own.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from harness._say import scale_text
from harness.agreement import AgreementResult
from harness.anchors._schema import NA, fmt_num
from harness.reports import (
    MISSING,
    NOT_APPLICABLE,
    exact_text,
    number_text,
    result_text,
    share_text,
    signed_text,
)

from ._review import effectiveness, review
from ._store import Session, format_due


def _date(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _value(v: object) -> str:
    """A score as a log cell: ``NA``, ``—`` (missing), a level (escaped) or a number."""
    if v == NA:
        return "NA"
    if v is None:
        return MISSING
    if isinstance(v, str):
        return md_text(v)
    return fmt_num(float(v))  # type: ignore[arg-type]


_num = number_text


def stat_text(r: AgreementResult | None) -> str:
    """``0.41 [0.10, 0.71], 12 items x 3 raters`` (the CI at 95%), or why it is undefined;
    for the log and the facilitator's page."""
    if r is None:
        return NOT_APPLICABLE
    if r.value is None:
        return result_text(r)
    return f"{result_text(r)}, {r.n_items} items x {r.n_raters} raters"


_LINE_BREAKS = re.compile(r"\r\n|[\r\n]")
# Markdown punctuation that can open a construct inline: escape, code span, emphasis, link
# and image brackets, strikethrough, a table cell's border
_MD_PUNCT = re.compile(r"([\\`*_\[\]~|])")
_BACKTICKS = re.compile(r"`+")


def md_text(text: object) -> str:
    """``text`` as inert Markdown inline text that renders as itself.

    ``&``, ``<`` and ``>`` become entities (no raw HTML, autolink or comment); the
    characters that open inline constructs (``\\ ` * _ [ ] ~ |``) are backslash-escaped (no
    link, image, emphasis, code or table cell); line breaks become spaces (no heading, list,
    block or link definition of its own). A bare URL may still be autolinked by a GFM
    renderer; its visible text is then the URL itself.
    """
    s = _LINE_BREAKS.sub(" ", "" if text is None else str(text))
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_PUNCT.sub(r"\\\1", s)


def md_code(text: object) -> str:
    """``text`` as a Markdown code span, fenced by more backticks than it contains."""
    s = _LINE_BREAKS.sub(" ", str(text))
    fence = "`" * (1 + max((len(m) for m in _BACKTICKS.findall(s)), default=0))
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def calibration_log(session: Session) -> str:
    """The session as Markdown: date, participants, items, spreads, decisions, rubric
    changes, ICC among participants and (with a re-score round) the effectiveness."""
    info = session.info
    rv = review(session)
    eff = effectiveness(session)
    lo, hi = info.scale
    lines = [
        f"# Calibration log: {md_text(info.name)}",
        "",
        f"- Session: {md_code(info.id)} (state: {info.state})",
        f"- Date: {_date(info.created_at)} (last change {_date(info.updated_at)})",
        f"- Anchor set: {md_text(info.anchor_name)} ({md_code(info.anchor_path)})",
        f"- Rubric in force: {md_text(info.rubric_source)}",
        f"- Visibility before review: {info.visibility}",
    ]
    if info.due_at is not None:
        lines.append(f"- Scores due: {format_due(info.due_at)}")
    card = info.is_scorecard
    if card:
        lines += [
            f"- Scorecard: {len(info.criterion_ids)} questions "
            f"({md_text(', '.join(info.criterion_ids))}); variance threshold: SD > "
            f"{share_text(info.threshold)} of each question's range",
            f"- Items: {len(info.item_ids)}; flagged (item, question) pairs: {len(rv.flagged)}",
        ]
    else:
        lines += [
            f"- Scale: {scale_text(lo, hi)}; variance threshold: SD > "
            f"{info.threshold:g}",
            f"- Items: {len(info.item_ids)}; flagged: {len(rv.flagged)}",
        ]
    if info.baseline_label or info.baseline:
        lines.append(f"- Baseline: {md_text(info.baseline_label or 'given scores')}")
    if info.output_path:
        lines.append(f"- New anchor version: {md_code(info.output_path)}")
    r2 = bool(info.rescore_items)
    lines += ["", "## Participants", "",
              "| id | name | submitted |" + (" re-score submitted |" if r2 else ""),
              "| --- | --- | --- |" + (" --- |" if r2 else "")]
    for p in info.participants:
        done = "yes (a prior review, imported)" if p.imported else (
            "yes" if p.submitted else "no")
        row = f"| {md_text(p.id)} | {md_text(p.name)} | {done} |"
        if r2:
            row += f" {'yes' if p.rescore_submitted else 'no'} |"
        lines.append(row)
    if info.forced_missing:
        missing = md_text(", ".join(info.forced_missing))
        lines += ["", f"Review forced; not submitted: {missing}."]

    if info.observers:
        lines += ["", "Observers (read-only): " + ", ".join(
            f"{md_text(o.name)} ({md_text(o.id)}, sees {o.sees})" for o in info.observers)
            + "."]
    if info.item_refs:
        lines += ["", "## Evaluations", "", "| item | conversation | date |",
                  "| --- | --- | --- |"]
        for item in info.item_ids:
            ref = info.item_refs.get(item)
            if ref is not None:
                lines.append(f"| {md_text(item)} | {md_text(ref.conversation or MISSING)} | "
                             f"{md_text(ref.date or MISSING)} |")

    lines += ["", "## Items and spreads", ""]
    head = ["item", *(["question"] if card else []), *map(md_text, rv.participants), "n",
            "N/A", "mean", "median", "SD", "range", "flag", "outliers"]
    if info.baseline:
        head.append("Δ baseline")
    lines += ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for it in rv.items:
        cells = [md_text(it.item_id), *([md_text(it.criterion)] if card else [])]
        for p in rv.participants:
            cells.append(_value(it.scores.get(p)))
        cells += [str(it.n), str(it.n_na), _num(it.mean), _num(it.median), _num(it.sd),
                  MISSING if it.range is None else fmt_num(it.range),
                  "**flagged**" if it.flagged else "", md_text(", ".join(it.outliers))]
        if info.baseline:
            cells.append(signed_text(it.baseline_delta))
        lines.append("| " + " | ".join(cells) + " |")

    lines += ["", "## Decisions", ""]
    res = session.pair_resolutions()
    if res:
        if card:
            lines += ["| item | question | consensus | rationale | note |",
                      "| --- | --- | --- | --- | --- |"]
        else:
            lines += ["| item | consensus | rationale | note |", "| --- | --- | --- | --- |"]
        for r in res.values():
            q = f" {md_text(r.criterion)} |" if card else ""
            lines.append(f"| {md_text(r.item_id)} |{q} {_value(r.consensus)} | "
                         f"{md_text(r.rationale)} | {md_text(r.note)} |")
    else:
        lines.append("No resolutions recorded.")

    lines += ["", "## Rubric changes", ""]
    notes = session.notes()
    lines += [f"- {_date(at)}: {md_text(text)}" for at, text in notes] or ["None recorded."]

    lines += ["", "## Agreement among participants", ""]
    if card:
        lines += ["| question | scale | flagged | N/A | ICC(2,1) | Krippendorff's alpha |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for qa in rv.questions.values():
            lines.append(f"| {md_text(qa.criterion)} | {qa.kind} | {qa.n_flagged} | "
                         f"{qa.n_na} | {md_text(stat_text(qa.icc))} | "
                         f"{md_text(stat_text(qa.alpha))} |")
    else:
        lines += [f"- ICC(2,1) (two-way random, absolute agreement): {stat_text(rv.icc)}",
                  f"- Krippendorff's alpha (interval): {stat_text(rv.alpha)}"]
    if rv.left_out:
        lines += ["", "ICC and alpha are computed on the participants who submitted; left "
                      f"out: {md_text(', '.join(rv.left_out))}."]
    if info.rescore_items:
        lines += ["", "## Effectiveness (re-score round)", ""]
        lines += [f"- {s}" for s in eff.summary()]
    else:
        lines += ["", "## Effectiveness", "",
                  "No re-score round; "
                  f"anchor ICC(2,1) {stat_text(eff.anchor)}: target >= "
                  f"{exact_text(eff.anchor_target)} "
                  f"{'met' if eff.anchor_met else 'NOT met'}."]
    return "\n".join(lines) + "\n"
