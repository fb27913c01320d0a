"""``judgecal anchors ...``: inspect and lint anchor sets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from harness.anchors import AnchorError, lint_anchor_set, load_scorecard

from ._common import fail, out, print_json

_NOTE_LIMIT = 5  # notes of one kind beyond this are summarised in one row

anchors_app = typer.Typer(help="Inspect and lint anchor sets.", no_args_is_help=True)


@anchors_app.command("lint")
def lint(
    anchor_set: Annotated[Path, typer.Argument(metavar="SET", help="Anchor set file (.jsonl).")],
    strict: Annotated[bool, typer.Option(help="Exit 1 when there are warnings.")] = False,
    all_notes: Annotated[bool, typer.Option("--all", help="List every note, not a summary "
                                            "of notes that repeat.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document (every "
                                          "finding).")] = False,
) -> None:
    """Check an anchor set against the calibration guidance (warnings, not errors)."""
    try:
        aset = load_scorecard(anchor_set)
    except AnchorError as exc:
        fail(str(exc))
    findings = lint_anchor_set(aset)
    splits = {s: sum(1 for it in aset.items if it.split == s) for s in ("calibration", "holdout")}
    ids = aset.criterion_ids
    what = f"criterion {ids[0]!r}" if aset.is_single else f"criteria {', '.join(ids)}"
    n_warn = sum(1 for f in findings if f.level == "warning")
    if as_json:
        print_json({
            "anchor_set": str(anchor_set), "name": aset.meta.name, "criteria": list(ids),
            "splits": splits, "n_raters": len(aset.rater_ids), "n_warnings": n_warn,
            "n_notes": len(findings) - n_warn,
            "findings": [{"level": f.level, "criterion": f.criterion, "code": f.code,
                          "item_id": f.item_id, "message": f.message} for f in findings]})
        if strict and n_warn:
            raise typer.Exit(1)
        return
    out.print(
        f"[bold]{aset.meta.name}[/] ({anchor_set}): {what}, "
        f"{splits['calibration']} calibration + {splits['holdout']} holdout items, "
        f"{len(aset.rater_ids)} raters"
    )
    if not findings:
        out.print("[green]no findings[/]")
        return
    per_criterion = any(f.criterion for f in findings)
    t = Table(show_header=True)
    t.add_column("level")
    if per_criterion:
        t.add_column("criterion")
    t.add_column("code")
    t.add_column("item")
    t.add_column("message")
    by_code: dict[tuple[str | None, str], list] = {}
    for f in findings:
        by_code.setdefault((f.criterion, f.code), []).append(f)
    for f in findings:
        same = by_code[(f.criterion, f.code)]
        crit = [f.criterion or "(set)"] if per_criterion else []
        if f.level == "info" and not all_notes and len(same) > _NOTE_LIMIT:
            if f is same[0]:
                t.add_row("[cyan]info[/]", *crit, f.code, f"{len(same)} items",
                          f"e.g. {f.item_id}: {f.message} (--all lists every one)")
            continue
        style = "yellow" if f.level == "warning" else "cyan"
        t.add_row(f"[{style}]{f.level}[/]", *crit, f.code, f.item_id or "", f.message)
    out.print(t)
    out.print(f"{n_warn} warning(s), {len(findings) - n_warn} note(s)")
    if strict and n_warn:
        raise typer.Exit(1)
