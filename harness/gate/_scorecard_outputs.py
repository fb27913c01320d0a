"""What a scorecard gate writes: the console table with a question column, JUnit with one
testcase per (question, bar), and the Markdown summary grouped by question."""

from __future__ import annotations

import re
import socket
import xml.etree.ElementTree as ET

from rich.table import Table

from harness.anchors import TOTAL
from harness.reports import verdict_line, verdict_word

from ._bars import BarResult
from ._outputs import (
    _MD_OUTCOME,
    _bar_notes,
    _ceiling_note,
    _classname,
    _details_at,
    _invalid_cells,
    _judge_line,
    _junit_bar_case,
    _junit_finish,
    _junit_gold_case,
    _junit_invalid_case,
    _label,
    _md,
    _md_bar_notes,
    _md_table,
    _run_line,
    baseline_cell,
    ceiling_cell,
    checked_cell,
    outcome_text,
    promoted_lines,
    threshold_cell,
    value_cell,
)
from ._result import ScorecardGateResult


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "question"


def _conf(result: ScorecardGateResult, cid: str) -> float:
    """The confidence of one part's CIs (each question's ledger; the total's own)."""
    if cid == TOTAL:
        assert result.total is not None
        return result.total.confidence
    return float(result.questions[cid].report.settings.confidence)


def _parts(result: ScorecardGateResult) -> list[tuple[str, list[BarResult]]]:
    """(question or ``total``, its bars), for every part with bars, in the scorecard's order."""
    out = [(q, r.bars) for q, r in result.questions.items() if r.bars]
    if result.total is not None and result.total.bars:
        out.append((TOTAL, result.total.bars))
    return out


def _gold_messages(result: ScorecardGateResult) -> list[tuple[str, str, bool]]:
    """(part, message, makes it inconclusive) for each gated part whose human gold is weak."""
    out = []
    for q in result.gated:
        if q == TOTAL:
            assert result.total is not None
            gold = getattr(result.total.report, "gold", None)
            if gold is not None and not bool(getattr(gold, "reliable", True)):
                what = (f"the humans' totals are not reliable enough to judge a judge "
                        f"({getattr(gold, 'figure', '?')}: {getattr(gold, 'reason', '')})")
                out.append((q, what + ("; decided on the bars anyway (--allow-unreliable-gold)"
                                       if result.allow_unreliable_gold else
                                       ": inconclusive (--allow-unreliable-gold decides on "
                                       "the bars anyway)"), result.total_gold_unreliable))
            continue
        r = result.questions[q]
        msg = r.gold_message()
        if msg:
            out.append((q, msg, r.gold_unreliable))
    return out


def _verdict(result: ScorecardGateResult) -> str:
    n = len(result.bars)
    questions = sum(1 for cid, _ in _parts(result) if cid != TOTAL)
    where = f"{questions} question(s)" + (" and the total" if result.total is not None
                                          and result.total.bars else "")
    if result.outcome == "fail":
        failed = sorted({b.bar.criterion or "" for b in result.failed_bars},
                        key=[*result.questions, TOTAL].index)
        detail = f" (on {', '.join(failed)})"
    elif result.outcome in ("pass", "inconclusive"):
        detail = ""
    else:
        detail = f" on {', '.join(result.invalid_failed)}"
    return verdict_line(result.outcome, n, n_failed=len(result.failed_bars),
                        n_undecided=len(result.inconclusive_bars), where=where, detail=detail,
                        gold_unreliable=not result.inconclusive_bars)


def _notes(result: ScorecardGateResult) -> list[str]:
    return _bar_notes(result.bars) + [f"! {q}: {msg}" for q, msg, _ in _gold_messages(result)]


def _caption(result: ScorecardGateResult) -> list[str]:
    first = next(iter(result.questions.values()))
    lines = [f"{q}: {_run_line(r)}" for q, r in result.questions.items()]
    lines += [_judge_line(first), _ceiling_note(first)]
    for q, r in result.questions.items():
        if r.holdout_looks is not None:
            lines.append(f"{q}: {r.holdout_looks.describe()}")
    if result.total is not None:
        t = result.total
        if t.holdout_looks is not None:
            lines.append(f"{TOTAL}: {t.holdout_looks.describe()}")
        lines.append(f"{TOTAL}: the judge's total per item from "
                     f"{', '.join(f'{q} {v}' for q, v in t.versions.items())} "
                     f"({t.n_items} items; CIs at {t.confidence:.4g}, the highest of its "
                     "ledger's and the questions')")
    lines += _notes(result)
    lines += [f"! {q}: {w}" for q, r in result.questions.items() for w in r.warnings]
    lines += [f"! {w}" for w in result.warnings]
    lines.append(_verdict(result))
    return lines


def scorecard_table(result: ScorecardGateResult) -> Table:
    """The scorecard gate as a rich table: one row per (question, bar), then each judged
    question's invalid-share check."""
    t = Table(title=f"Gate: {result.title}", title_justify="left")
    for col in ("question", "bar", "figure", "value [CI]", "checked", "threshold",
                "baseline", "human ceiling", "result"):
        t.add_column(col, justify="left" if col in ("question", "bar", "figure", "result")
                     else "right")
    for cid, bars in _parts(result):
        conf = _conf(result, cid)
        for b in bars:
            t.add_row(cid, b.bar.label, _label(b), value_cell(b), checked_cell(b, conf),
                      threshold_cell(b), baseline_cell(b), ceiling_cell(b),
                      outcome_text(b.outcome or "fail"))
    for q, r in result.questions.items():
        t.add_row(q, r.invalid.name, *_invalid_cells(r.invalid))
    t.caption = "\n".join(_caption(result))
    t.caption_justify = "left"
    return t


def scorecard_junit(result: ScorecardGateResult) -> str:
    """JUnit XML: one testcase per (question, bar), classname ``judgecal.gate.<experiment>.
    <question>``; one invalid-share testcase per judged question; a ``human gold`` testcase
    per gated part whose gold is not reliable."""
    root = ET.Element("testsuites", name="judgecal")
    golds = _gold_messages(result)
    n_tests = len(result.bars) + len(result.questions) + len(golds)
    n_fail = len(result.failed_bars) + len(result.invalid_failed)
    n_skip = len(result.inconclusive_bars) + sum(1 for _, _, inc in golds if inc)
    elapsed = f"{sum(r.run.result.elapsed_s for r in result.questions.values()):.3f}"
    suite = ET.SubElement(
        root, "testsuite",
        name=f"judgecal {result.command}: {result.experiment.name} scorecard ({result.split})",
        tests=str(n_tests), failures=str(n_fail), errors="0", skipped=str(n_skip),
        time=elapsed, timestamp=result.created_at, hostname=socket.gethostname())
    props = ET.SubElement(suite, "properties")
    first = next(iter(result.questions.values()))
    pairs: list[tuple[str, object]] = [
        ("experiment", result.experiment.name),
        ("experiment_file", str(result.experiment.source or "")),
        ("split", result.split),
        ("judge", f"{first.run.judge_identity.get('provider')}:"
                  f"{first.run.judge_identity.get('model')}"),
        ("on", result.settings.on), ("max_invalid", result.settings.max_invalid),
        ("baseline", result.settings.baseline or ""),
    ]
    for q, r in result.questions.items():
        pairs += [(f"prompt.{q}", r.version.prompt.name),
                  (f"prompt_version.{q}", r.version.label),
                  (f"prompt_hash.{q}", r.version.prompt.hash),
                  (f"ci_confidence.{q}", f"{_conf(result, q):.6g}")]
    if result.total is not None:
        pairs.append((f"ci_confidence.{TOTAL}", f"{result.total.confidence:.6g}"))
    pairs += [("exit_code", result.exit_code), ("status", result.status),
              ("outcome", result.outcome)]
    for name, value in pairs:
        ET.SubElement(props, "property", name=name, value=str(value))
    base = _classname(result.experiment.name)
    for cid, bars in _parts(result):
        conf = _conf(result, cid)
        for b in bars:
            _junit_bar_case(suite, f"{base}.{_safe(cid)}", b, _details_at(conf, b))
    for q, r in result.questions.items():
        _junit_invalid_case(suite, f"{base}.{_safe(q)}", r.invalid)
    for cid, msg, inconclusive in golds:
        _junit_gold_case(suite, f"{base}.{_safe(cid)}", msg, inconclusive)
    return _junit_finish(root, suite, _caption(result), n_tests, n_fail, n_skip, elapsed)


def scorecard_markdown(result: ScorecardGateResult) -> str:
    """The Markdown summary, one table per question (and the total)."""
    icon = {0: "✅", 1: "❌", 4: "❔"}.get(result.exit_code, "⚠️")
    lines = [f"### {icon} judgecal {result.command} {result.status}: {_md(result.title)}", ""]
    for cid, bars in _parts(result):
        conf = _conf(result, cid)
        part = result.part_outcomes().get(cid, "pass")
        lines += [f"#### {'total' if cid == TOTAL else f'question `{cid}`'}: "
                  + _MD_OUTCOME.get(part, verdict_word(part)), ""]
        lines += _md_table(bars, conf, None if cid == TOTAL else result.questions[cid].invalid)
    lines += _md_bar_notes(result.bars)
    for line in _caption(result)[:-1]:
        if not line.startswith(("! ", "? ")):
            lines.append(f"- {_md(line)}")
    for q, msg, _ in _gold_messages(result):
        lines.append(f"- ❔ {_md(q)}: {_md(msg)}")
    for q, r in result.questions.items():
        for w in r.warnings:
            lines.append(f"- ⚠️ {_md(q)}: {_md(w)}")
    lines += [f"- {_md(line)}" for line in promoted_lines(result.promoted, md=True)]
    lines.append(f"- **{_md(_verdict(result))}**")
    return "\n".join(lines) + "\n\n"
