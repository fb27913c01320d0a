"""``judgecal prompts ...``: list the versions of a judge prompt and diff two of them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from harness._say import scale_text
from harness.journal import Journal, default_state_dir
from harness.prompts import (
    PromptError,
    PromptVersion,
    diff,
    list_prompts,
    list_versions,
    resolve,
)

from ._common import fail, out, print_json

prompts_app = typer.Typer(help="List and compare versioned judge prompts.",
                          no_args_is_help=True)

_DirOption = Annotated[Path, typer.Option("--prompts-dir", help="The prompts directory.")]
_JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


@prompts_app.command("list")
def list_cmd(
    name: Annotated[str | None, typer.Argument(metavar="NAME", help="The prompt's name "
                                               "(prompts/NAME/); omit to list the prompts.")
                    ] = None,
    prompts_dir: _DirOption = Path("prompts"),
    as_json: _JsonOption = False,
) -> None:
    """List the versions of a prompt: parent, hash, scoring, scale, changelog, calls."""
    if name is None:
        names = list_prompts(prompts_dir)
        if not names:
            fail(f"no prompts in {prompts_dir} (expected {prompts_dir}/<name>/v1.j2)")
        if as_json:
            print_json({"prompts_dir": str(prompts_dir), "prompts": names})
            return
        for n in names:
            out.print(Text(n))
        return
    try:
        versions = list_versions(name, prompts_dir)
    except PromptError as exc:
        fail(str(exc))
    db = default_state_dir() / "journal.sqlite"
    journal = Journal(db) if db.is_file() else None
    if as_json:
        try:
            print_json({"name": name, "dir": str(prompts_dir / name),
                        "versions": [_version_doc(pv, journal) for pv in versions]})
        finally:
            if journal is not None:
                journal.close()
        return
    t = Table(show_header=True, title=Text(f"{name} ({prompts_dir / name})"))
    t.add_column("version", no_wrap=True)
    t.add_column("parent", no_wrap=True)
    t.add_column("hash", no_wrap=True)
    t.add_column("scoring", no_wrap=True)
    t.add_column("scale", no_wrap=True)
    if journal is not None:
        t.add_column("calls", justify="right", no_wrap=True)
    t.add_column("changelog", overflow="fold")
    try:
        for pv in versions:
            row: list[Text] = [Text(pv.label), Text(pv.parent_label), Text(pv.short_hash),
                               Text(pv.scoring), Text("scorecard" if pv.scale is None
                                                         else scale_text(*pv.scale))]
            if journal is not None:
                used = journal.prompt_hashes(pv.name, pv.label)
                n = sum(used.values())
                if used and pv.hash not in used:
                    row.append(Text(f"{n} (edited since!)", style="bold red"))
                else:
                    row.append(Text(str(n)))
            row.append(Text(pv.changelog))
            t.add_row(*row)
    finally:
        if journal is not None:
            journal.close()
    out.print(t)


def _version_doc(pv: PromptVersion, journal: Journal | None) -> dict[str, Any]:
    """One version for ``prompts list --json``; ``calls`` and ``edited_since_calls`` only
    when there is a journal."""
    doc: dict[str, Any] = {
        "version": pv.label, "parent": None if pv.parent is None else pv.parent_label,
        "hash": pv.hash,
        "scoring": pv.scoring, "scale": None if pv.scale is None else list(pv.scale),
        "scorecard": pv.scale is None, "changelog": pv.changelog, "path": str(pv.path)}
    if journal is not None:
        used = journal.prompt_hashes(pv.name, pv.label)
        doc["calls"] = sum(used.values())
        doc["edited_since_calls"] = bool(used) and pv.hash not in used
    return doc


@prompts_app.command("diff")
def diff_cmd(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The prompt's name.")],
    a: Annotated[str, typer.Argument(metavar="VA", help="From version (v1, 1 or latest).")],
    b: Annotated[str, typer.Argument(metavar="VB", help="To version (v2, 2 or latest).")],
    prompts_dir: _DirOption = Path("prompts"),
    as_json: _JsonOption = False,
) -> None:
    """Show the unified diff between two versions of a prompt."""
    try:
        pa, pb = resolve(name, a, prompts_dir), resolve(name, b, prompts_dir)
    except PromptError as exc:
        fail(str(exc))
    text = diff(pa, pb)
    if as_json:
        print_json({"name": name, "from": {"version": pa.label, "hash": pa.hash},
                    "to": {"version": pb.label, "hash": pb.hash},
                    "identical": not text, "diff": text})
        return
    if not text:
        out.print(Text(f"{pa.label} and {pb.label} are identical (sha256 {pa.short_hash})"))
        return
    for line in text.splitlines():
        if line.startswith(("---", "+++")):
            style = "bold"
        elif line.startswith("@@"):
            style = "cyan"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        else:
            style = ""
        out.print(Text(line, style=style), soft_wrap=True)
