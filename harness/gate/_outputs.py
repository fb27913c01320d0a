"""What a gate writes: the console table, JSON, JUnit XML and the Markdown summary."""

from __future__ import annotations

import io
import os
import re
import socket
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from harness.judgments import FILE_PROVIDER, InvalidCheck, human_text, identity_text
from harness.reports import (
    FIGURE_LABELS,
    MISSING,
    band_text,
    cost_text,
    exact_text,
    figure_text,
    number_text,
    p_text,
    position_text,
    share_text,
    verdict_line,
    verdict_word,
)
from harness.tracking import JudgeRecord

from ._bars import BarResult, direction, percent
from ._result import GateResult, ScorecardGateResult

#: The environment variable GitHub Actions reads the job summary from.
STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"


@dataclass
class GateErrorOutcome:
    """A gate that could not decide (exit 2 or 3), for the JUnit and Markdown writers.

    Attributes
    ----------
    command : str
        ``gate`` or ``promote``.
    experiment : str
        The experiment file as given.
    message : str
    exit_code : int
    """

    command: str
    experiment: str
    message: str
    exit_code: int

    @property
    def kind(self) -> str:
        return "input error" if self.exit_code == 2 else "judge failure"

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` document of a gate that could not decide."""
        return {"judgecal_gate": 1, "command": self.command, "status": "error",
                "outcome": "error", "passed": False, "exit_code": self.exit_code,
                "experiment_file": self.experiment, "error": self.message}


# --------------------------------------------------------------------------- cells


def _conf(result: GateResult) -> float:
    """The confidence of the result's CIs (the report's: tightened by the holdout looks)."""
    return float(result.report.settings.confidence)


def value_cell(b: BarResult) -> str:
    """``0.72 [0.61, 0.80]``: the figure and its CI (95%, or tightened by the holdout looks)."""
    return figure_text(b.value, b.ci95, reason="")


def checked_cell(b: BarResult, confidence: float = 0.95) -> str:
    """What was compared with the threshold, and how it was obtained.

    Parameters
    ----------
    b : BarResult
    confidence : float
        The level of the CIs (the gate's, tightened by the holdout looks).

    Returns
    -------
    str
    """
    if b.checked is None:
        return MISSING
    if b.bar.kind == "max_regression":
        loss = _point_loss(b)
        if loss is None:
            return exact_text(b.checked, sign=True)
        t = b.test
        if t is None:
            return f"loss {exact_text(loss, sign=True)}"
        p = t.p_value if t.p_holm is None else t.p_holm
        holm = " Holm" if t.family > 1 else ""
        return (f"loss {exact_text(loss, sign=True)} [{exact_text(t.ci[0], sign=True)}, "
                f"{exact_text(t.ci[1], sign=True)}], p{holm} {p_text(p)}, "
                f"detectable {exact_text(t.detectable)}")
    if b.on == "point":
        return f"{exact_text(b.checked)} (point)"
    end = "lower" if b.bar.kind == "min" else "upper"
    return f"{exact_text(b.checked)} ({end} {percent(confidence)})"


def _point_loss(b: BarResult) -> float | None:
    if b.value is None or b.baseline_value is None:
        return None
    d = direction(b.bar.metric)
    if d == "higher":
        return b.baseline_value - b.value
    if d == "lower":
        return b.value - b.baseline_value
    return abs(b.value) - abs(b.baseline_value)


def threshold_cell(b: BarResult) -> str:
    """``>= 0.7``, ``<= 0.9`` or ``loss <= 0.05``."""
    if b.bar.kind == "min":
        return f">= {b.bar.threshold:g}"
    if b.bar.kind == "max":
        return f"<= {b.bar.threshold:g}"
    return f"loss <= {b.bar.threshold:g}"


def baseline_cell(b: BarResult) -> str:
    """The baseline version's figure, ``v1: 0.65``; ``—`` without a baseline."""
    if b.baseline is None:
        return MISSING
    return f"{b.baseline}: {number_text(b.baseline_value)}"


def ceiling_cell(b: BarResult) -> str:
    """The human ceiling: ``0.62 (0.40–0.74)``, median and range or 95% band."""
    return band_text(b.ceiling)


def _ceiling_note(result: GateResult) -> str:
    method = result.report.judge["ceiling_method"] if result.report.judge else None
    if method == "per-rater":
        return "human ceiling: median (range) of each human rater vs the others' consensus"
    return "human ceiling: median (95% band) of a single human rating vs the others' mean"


def _label(b: BarResult) -> str:
    return FIGURE_LABELS.get(b.bar.metric, b.bar.metric)


def _run_line(result: GateResult) -> str:
    r = result.run.result
    j = result.run.judge_identity
    text = (f"judge {j.get('provider')}:{j.get('model')} · {r.n_requests} calls, "
            f"{r.n_cached} from the journal · {result.invalid.message} · cost {cost_text(r.cost)}")
    if result.baseline is not None:
        b = result.baseline.run.result
        text += (f" · baseline {result.baseline.ref.label}: {b.n_requests} calls, "
                 f"{b.n_cached} from the journal")
    return text


def _judge_line(result: GateResult) -> str:
    """The judge the gate ran with: identity, scoring mode actually used, parameters, hash."""
    ident = result.run.judge_identity
    scoring = result.run.scoring or {}
    rest = ", ".join(f"{k}={v}" for k, v in ident.items() if k not in ("provider", "model"))
    text = f"judge {ident.get('provider')}:{ident.get('model')}" + (f" ({rest})" if rest else "")
    if ident.get("provider") == FILE_PROVIDER:
        text = f"judge {identity_text(ident)}"
    text += f" · scoring {scoring.get('mode', '?')}"
    if scoring.get("structured"):
        text += f" via {scoring['structured']}"
    j = result.judge
    if j is not None:
        params = ", ".join(f"{k}={v}" for k, v in j.params.items() if k != "mode")
        text += f" · {params} · judge hash {j.hash[:12]}"
        if j.changed:
            text += " · JUDGE CHANGED since calibration (--allow-judge-change)"
        else:
            text += f" · judge check: {j.status}"
    return text


def _verdict(result: GateResult) -> str:
    probes = (f"; must-pass bias probe(s): {'; '.join(result.probe_failures)}"
              if getattr(result, "probe_failures", None) else "")
    return verdict_line(result.outcome, len(result.bars), n_failed=len(result.failed_bars),
                        n_undecided=len(result.inconclusive_bars),
                        detail=probes if result.outcome == "fail" else "",
                        gold_unreliable=result.gold_unreliable)


def _notes(result: GateResult) -> list[str]:
    """One line per failed or inconclusive bar (with the anchors that would decide it)."""
    lines = _bar_notes(result.bars)
    gold = result.gold_message()
    if gold:
        lines.append(f"! {gold}")
    return lines


def _bar_notes(bars: list[BarResult]) -> list[str]:
    """``! bar: message`` per failed bar, ``? bar: message; to decide`` per inconclusive one."""
    lines = []
    for b in bars:
        if b.outcome == "fail":
            lines.append(f"! {b.name}: {b.message}")
        elif b.inconclusive:
            decide = b.decide_text()
            lines.append(f"? {b.name}: {b.message}" + (f"; {decide}" if decide else ""))
    return lines


def _invalid_cells(inv: InvalidCheck) -> list[str | Text]:
    """The console row of the invalid-share check, from the figure column on."""
    return ["invalid or failed", share_text(inv.share, 1), exact_text(inv.share),
            f"<= {inv.max_share:g}", MISSING, MISSING,
            outcome_text("pass") if inv.passed
            else Text(f"{verdict_word('fail')} (exit 3)", style="bold red")]


def promoted_lines(promoted: dict[str, Any] | None, *, md: bool = False) -> list[str]:
    """What ``promote`` set, one line per version (a scorecard: per question)."""
    if not promoted:
        return []
    q = "`" if md else "'"
    alias = f"alias {q}{promoted['alias']}{q}"
    if "questions" not in promoted:
        return [f"promoted: {alias} -> {promoted['name']} {promoted['version']} (registry "
                f"version {promoted['registry_version']}, {promoted['tracking_uri']})"]
    return [f"promoted: {alias} -> {d['name']} {d['version']} (question {cid}, registry "
            f"version {d['registry_version']}, {promoted['tracking_uri']})"
            for cid, d in promoted["questions"].items()]


def outcome_text(outcome: str) -> Text:
    """The result cell: ``PASS`` (green), ``FAIL`` (red), ``INCONCLUSIVE`` (yellow)."""
    word = outcome if outcome in ("pass", "fail") else "inconclusive"
    style = {"pass": "bold green", "fail": "bold red"}.get(word, "bold yellow")
    return Text(verdict_word(word), style=style)


# --------------------------------------------------------------------------- console


def gate_table(result: GateResult | ScorecardGateResult) -> Table:
    """The gate as a rich table: one row per bar, then the invalid-share check.

    On a scorecard, a ``question`` column names each bar's question (or ``total``), and
    every judged question has its invalid-share row.

    Parameters
    ----------
    result : GateResult or ScorecardGateResult

    Returns
    -------
    rich.table.Table
    """
    if isinstance(result, ScorecardGateResult):
        from ._scorecard_outputs import scorecard_table

        t = scorecard_table(result)
        t.caption = human_text(str(t.caption or ""))  # its questions' warnings, for a console
        return t
    t = Table(title=f"Gate: {result.title}", title_justify="left")
    for col in ("bar", "figure", f"value [{percent(_conf(result))} CI]", "checked",
                "threshold", "baseline", "human ceiling", "result"):
        t.add_column(col, justify="left" if col in ("bar", "figure", "result") else "right")
    for b in result.bars:
        t.add_row(b.name, _label(b), value_cell(b), checked_cell(b, _conf(result)),
                  threshold_cell(b),
                  baseline_cell(b), ceiling_cell(b), outcome_text(b.outcome or "fail"))
    t.add_row(result.invalid.name, *_invalid_cells(result.invalid))
    lines = [_run_line(result), _judge_line(result), _ceiling_note(result)]
    if result.holdout_looks is not None:
        lines.append(result.holdout_looks.describe())
    lines += _notes(result)
    lines += [f"! {human_text(w)}" for w in result.warnings]
    lines.append(_verdict(result))
    t.caption = "\n".join(lines)
    t.caption_justify = "left"
    return t


def table_text(result: GateResult | ScorecardGateResult, *, width: int = 140) -> str:
    """The gate table as plain text (for test failures and logs).

    Parameters
    ----------
    result : GateResult or ScorecardGateResult
    width : int
        Line width.

    Returns
    -------
    str
    """
    buf = io.StringIO()
    console = Console(file=buf, width=width, no_color=True, highlight=False,
                      force_terminal=False, soft_wrap=False)
    console.print(gate_table(result))
    return buf.getvalue()


# --------------------------------------------------------------------------- JUnit


def _details(result: GateResult, b: BarResult) -> str:
    return _details_at(_conf(result), b)


def _details_at(conf: float, b: BarResult) -> str:
    rows = [
        f"bar: {b.name}",
        *([f"question: {b.bar.criterion}"] if b.bar.criterion is not None else []),
        f"figure: {_label(b)} ({b.bar.metric})",
        f"value [{percent(conf)} CI]: {value_cell(b)}",
        f"checked: {checked_cell(b, conf)}",
        f"threshold: {threshold_cell(b)}",
        f"baseline: {baseline_cell(b)}",
        f"human ceiling: {ceiling_cell(b)}"
        + (f" ({b.ceiling_method})" if b.ceiling_method else ""),
        f"position vs humans: {position_text(b.position)}",
        f"verdict: {verdict_word(b.outcome or 'fail')}: {b.message}",
        *([f"to decide: {b.decide_text()}"] if b.decide_text() else []),
    ]
    return "\n".join(rows)


def _classname(name: str) -> str:
    return "judgecal.gate." + (re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "experiment")


def junit_xml(outcome: GateResult | ScorecardGateResult | GateErrorOutcome) -> str:
    """JUnit XML for CI systems: one ``testcase`` per bar plus the invalid-share check.

    On a scorecard: one testcase per (question, bar), its classname
    ``judgecal.gate.<experiment>.<question>`` (``total`` for the total's bars), and one
    invalid-share testcase per judged question.

    A failed bar carries ``<failure message=... type="BelowBar">``, an inconclusive bar
    ``<skipped message=...>`` (the reason, and the anchors that would decide it), a failed
    invalid-share check ``type="JudgeFailure"``; unreliable human gold (not allowed) adds a
    skipped ``human gold`` testcase. Every testcase has its details (value, CI, threshold,
    baseline, human ceiling) in ``system-out``. A gate that could not decide is one
    testcase with an ``<error>``.

    Parameters
    ----------
    outcome : GateResult, ScorecardGateResult or GateErrorOutcome

    Returns
    -------
    str
        The document, UTF-8, with an XML declaration.
    """
    if isinstance(outcome, ScorecardGateResult):
        from ._scorecard_outputs import scorecard_junit

        return scorecard_junit(outcome)
    root = ET.Element("testsuites", name="judgecal")
    if isinstance(outcome, GateErrorOutcome):
        suite = ET.SubElement(root, "testsuite", name=f"judgecal {outcome.command}: "
                              f"{outcome.experiment}", tests="1", failures="0", errors="1",
                              skipped="0", time="0", hostname=socket.gethostname())
        case = ET.SubElement(suite, "testcase", classname=_classname(Path(outcome.experiment)
                                                                     .stem),
                             name=f"judgecal {outcome.command}", time="0")
        err = ET.SubElement(case, "error", message=outcome.message,
                            type="InputError" if outcome.exit_code == 2 else "JudgeFailure")
        err.text = f"exit code {outcome.exit_code} ({outcome.kind}): {outcome.message}"
        root.set("tests", "1")
        root.set("failures", "0")
        root.set("errors", "1")
        return _serialize(root)

    result = outcome
    v = result.version
    gold_case = result.gold_message() is not None
    n_tests = len(result.bars) + 1 + int(gold_case)
    n_fail = len(result.failed_bars) + (0 if result.invalid.passed else 1)
    n_skip = len(result.inconclusive_bars) + int(result.gold_unreliable)
    elapsed = f"{result.run.result.elapsed_s:.3f}"
    suite = ET.SubElement(
        root, "testsuite",
        name=f"judgecal {result.command}: {result.experiment.name} {v.prompt.name} {v.label} "
        f"({result.run.split})",
        tests=str(n_tests), failures=str(n_fail), errors="0", skipped=str(n_skip),
        time=elapsed, timestamp=result.created_at, hostname=socket.gethostname(),
    )
    props = ET.SubElement(suite, "properties")
    r = result.run.result
    for name, value in [
        ("experiment", result.experiment.name),
        ("experiment_file", str(result.experiment.source or "")),
        ("prompt", v.prompt.name), ("prompt_version", v.label), ("prompt_hash", v.prompt.hash),
        ("alias", v.alias or ""), ("registry_version", v.registry_version or ""),
        ("split", result.run.split), ("n_items", result.run.n_items),
        ("judge", f"{result.run.judge_identity.get('provider')}:"
                  f"{result.run.judge_identity.get('model')}"),
        ("scoring_mode", (result.run.scoring or {}).get("mode") or ""),
        ("scoring_structured", (result.run.scoring or {}).get("structured") or ""),
        *_judge_properties(result),
        ("on", result.settings.on), ("max_invalid", result.settings.max_invalid),
        ("baseline", result.baseline.ref.label if result.baseline else ""),
        ("n_requests", r.n_requests), ("n_cached", r.n_cached),
        ("anchors", result.checks.get("anchors", "")),
        *_looks_properties(result),
        ("exit_code", result.exit_code), ("status", result.status),
        ("outcome", result.outcome),
    ]:
        ET.SubElement(props, "property", name=name, value=str(value))
    classname = _classname(result.experiment.name)
    for b in result.bars:
        _junit_bar_case(suite, classname, b, _details(result, b))
    _junit_invalid_case(suite, classname, result.invalid)
    if gold_case:
        _junit_gold_case(suite, classname, result.gold_message() or "", result.gold_unreliable)
    notes = [_run_line(result), _judge_line(result), _ceiling_note(result),
             *([result.holdout_looks.describe()] if result.holdout_looks is not None else []),
             *_notes(result), *[f"! {w}" for w in result.warnings], _verdict(result)]
    return _junit_finish(root, suite, notes, n_tests, n_fail, n_skip, elapsed)


def _junit_bar_case(suite: ET.Element, classname: str, b: BarResult, details: str) -> None:
    """A bar's testcase: ``failure`` (BelowBar) or ``skipped`` (inconclusive), details out."""
    case = ET.SubElement(suite, "testcase", classname=classname, name=b.name, time="0")
    if b.outcome == "fail":
        fail = ET.SubElement(case, "failure", message=b.message, type="BelowBar")
        fail.text = details
    elif b.inconclusive:
        decide = b.decide_text()
        ET.SubElement(case, "skipped", message=f"inconclusive: {b.message}"
                      + (f"; {decide}" if decide else ""))
    ET.SubElement(case, "system-out").text = details


def _junit_invalid_case(suite: ET.Element, classname: str, inv: InvalidCheck) -> None:
    """The invalid-share check's testcase: a ``JudgeFailure`` failure when it fails."""
    case = ET.SubElement(suite, "testcase", classname=classname, name=inv.name, time="0")
    if not inv.passed:
        fail = ET.SubElement(case, "failure", message=inv.message, type="JudgeFailure")
        fail.text = inv.message
    ET.SubElement(case, "system-out").text = inv.message


def _junit_gold_case(suite: ET.Element, classname: str, message: str,
                     inconclusive: bool) -> None:
    """The ``human gold`` testcase, skipped when weak gold makes the gate inconclusive."""
    case = ET.SubElement(suite, "testcase", classname=classname, name="human gold", time="0")
    if inconclusive:
        ET.SubElement(case, "skipped", message=f"inconclusive: {message}")
    ET.SubElement(case, "system-out").text = message


def _junit_finish(root: ET.Element, suite: ET.Element, notes: list[str], n_tests: int,
                  n_fail: int, n_skip: int, elapsed: str) -> str:
    """The suite's notes as its ``system-out``, the counts on the root, the document."""
    ET.SubElement(suite, "system-out").text = "\n".join(notes)
    root.set("tests", str(n_tests))
    root.set("failures", str(n_fail))
    root.set("errors", "0")
    root.set("skipped", str(n_skip))
    root.set("time", elapsed)
    return _serialize(root)


def _judge_properties(result: GateResult) -> list[tuple[str, Any]]:
    """``judge.<field>`` (as in the registry tags), ``judge_hash``, ``judge_changed``..."""
    j = result.judge
    if j is None:
        return []
    fields = JudgeRecord.of(j.identity, j.params).fields
    return [*((f"judge.{k}", v) for k, v in fields.items()), ("judge_hash", j.hash),
            ("judge_check", j.status), ("judge_changed", str(j.changed).lower())]


def _looks_properties(result: GateResult) -> list[tuple[str, Any]]:
    """``holdout_looks`` (distinct versions), ``holdout_versions``, ``ci_confidence``..."""
    looks = result.holdout_looks
    props: list[tuple[str, Any]] = [("ci_confidence", f"{_conf(result):.6g}")]
    if looks is None:
        return props
    return [*props, ("holdout_looks", looks.n_versions),
            ("holdout_versions", ", ".join(v["prompt_version"] for v in looks.versions)),
            ("holdout_items_hash", looks.items_hash),
            ("fresh_holdout", str(looks.fresh_holdout).lower())]


def _serialize(root: ET.Element) -> str:
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def write_junit(path: str | Path,
                outcome: GateResult | ScorecardGateResult | GateErrorOutcome) -> Path:
    """Write :func:`junit_xml` to ``path`` (parent directories created).

    Parameters
    ----------
    path : str or Path
    outcome : GateResult or GateErrorOutcome

    Returns
    -------
    Path
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(junit_xml(outcome), encoding="utf-8")
    return p


# --------------------------------------------------------------------------- Markdown


_MD_OUTCOME = {"pass": f"✅ {verdict_word('pass')}", "fail": f"❌ **{verdict_word('fail')}**",
               "inconclusive": f"❔ **{verdict_word('inconclusive')}**"}


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_table(bars: list[BarResult], conf: float, inv: InvalidCheck | None) -> list[str]:
    """A Markdown table of bars (then the invalid-share check, if given), and a blank line."""
    lines = [f"| bar | value [{percent(conf)} CI] | checked | threshold | baseline | "
             "human ceiling | result |", "|---|---:|---:|---:|---:|---:|---|"]
    for b in bars:
        lines.append(
            f"| {_md(b.name)} | {_md(value_cell(b))} | {_md(checked_cell(b, conf))} | "
            f"{_md(threshold_cell(b))} | {_md(baseline_cell(b))} | {_md(ceiling_cell(b))} | "
            + _MD_OUTCOME.get(b.outcome or "fail", _MD_OUTCOME["fail"]) + " |")
    if inv is not None:
        lines.append(f"| {_md(inv.name)} | {share_text(inv.share, 1)} | "
                     f"{exact_text(inv.share)} | <= {inv.max_share:g} | {MISSING} | {MISSING} | "
                     + (_MD_OUTCOME["pass"] if inv.passed
                        else f"⚠️ **{verdict_word('fail')}** (exit 3)") + " |")
    return [*lines, ""]


def _md_bar_notes(bars: list[BarResult]) -> list[str]:
    """A bullet per failed bar and per inconclusive bar (with what would decide it)."""
    lines = []
    for b in bars:
        if b.outcome == "fail":
            lines.append(f"- ❌ **{_md(b.name)}**: {_md(b.message)}")
        elif b.inconclusive:
            decide = b.decide_text()
            lines.append(f"- ❔ **{_md(b.name)}** inconclusive: {_md(b.message)}"
                         + (f"; **{_md(decide)}**" if decide else ""))
    return lines


def markdown(outcome: GateResult | ScorecardGateResult | GateErrorOutcome) -> str:
    """The gate as a Markdown section (for ``--summary`` and ``$GITHUB_STEP_SUMMARY``).

    On a scorecard: one table per question (and the total), each headed by its outcome.

    Parameters
    ----------
    outcome : GateResult, ScorecardGateResult or GateErrorOutcome

    Returns
    -------
    str
        Ends with a blank line, so that appended sections stay separate.
    """
    if isinstance(outcome, ScorecardGateResult):
        from ._scorecard_outputs import scorecard_markdown

        return scorecard_markdown(outcome)
    if isinstance(outcome, GateErrorOutcome):
        return (f"### ⚠️ judgecal {outcome.command} could not decide: "
                f"`{_md(outcome.experiment)}`\n\n"
                f"Exit code {outcome.exit_code} ({outcome.kind}):\n\n"
                f"```\n{outcome.message}\n```\n\n")
    result = outcome
    icon = {0: "✅", 1: "❌", 4: "❔"}.get(result.exit_code, "⚠️")
    lines = [f"### {icon} judgecal {result.command} {result.status}: {_md(result.title)}", ""]
    lines += _md_table(result.bars, _conf(result), result.invalid)
    lines += _md_bar_notes(result.bars)
    if result.gold_message():
        lines.append(f"- ❔ {_md(result.gold_message())}")
    lines.append(f"- {_md(_run_line(result))}")
    lines.append(f"- {_md(_judge_line(result))}")
    if result.judge is not None and result.judge.changed:
        diff = result.judge.differences + result.judge.baseline_differences
        lines.append(f"- ⚠️ **judge changed** since calibration (--allow-judge-change): "
                     f"{_md('; '.join(diff))}")
    lines.append(f"- {_md(_ceiling_note(result))}")
    if result.holdout_looks is not None:
        lines.append(f"- {_md(result.holdout_looks.describe())}")
    v = result.version
    lines.append(f"- prompt hash `{v.prompt.hash[:12]}`"
                 + (f", registry version {v.registry_version}" if v.registry_version else "")
                 + f"; anchors: {_md(result.checks.get('anchors', MISSING))}")
    for w in result.warnings:
        lines.append(f"- ⚠️ {_md(human_text(w))}")
    lines += [f"- {_md(line)}" for line in promoted_lines(result.promoted, md=True)]
    lines.append(f"- **{_md(_verdict(result))}**")
    return "\n".join(lines) + "\n\n"


def write_summary(outcome: GateResult | ScorecardGateResult | GateErrorOutcome,
                  path: str | Path | None = None, *, step_summary: bool = True
                  ) -> list[Path]:
    """Write the Markdown summary to ``path`` and append it to ``$GITHUB_STEP_SUMMARY``.

    ``path`` is overwritten, except when it is the step-summary file itself: that one is
    only ever appended to (once), so the summaries of other steps stay.

    Parameters
    ----------
    outcome : GateResult or GateErrorOutcome
    path : str or Path, optional
    step_summary : bool
        Append to ``$GITHUB_STEP_SUMMARY`` when that variable is set.

    Returns
    -------
    list of Path
        The files written.
    """
    text = markdown(outcome)
    written: list[Path] = []
    env = os.environ.get(STEP_SUMMARY_ENV) if step_summary else None
    env_path = Path(env).resolve() if env else None
    if path is not None:
        p = Path(path)
        if env_path is not None and p.resolve() == env_path:
            pass  # appended below
        else:
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text, encoding="utf-8")
            written.append(p)
    if env_path is not None:
        env_path.parent.mkdir(parents=True, exist_ok=True)
        with env_path.open("a", encoding="utf-8") as fh:
            fh.write(text)
        written.append(env_path)
    return written
