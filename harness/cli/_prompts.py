"""``judgecal prompts ...``: list the versions of a judge prompt and diff two of them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from harness.journal import Journal, default_state_dir
from harness.prompts import PromptError, diff, list_prompts, list_versions, resolve

from ._common import fail, out

prompts_app = typer.Typer(help="List and compare versioned judge prompts.",
                          no_args_is_help=True)

_DirOption = Annotated[Path, typer.Option("--prompts-dir", help="The prompts directory.")]


@prompts_app.command("list")
def list_cmd(
    name: Annotated[str | None, typer.Argument(metavar="NAME", help="The prompt's name "
                                               "(prompts/NAME/); omit to list the prompts.")
                    ] = None,
    prompts_dir: _DirOption = Path("prompts"),
) -> None:
    """List the versions of a prompt: parent, hash, scoring, scale, changelog, calls."""
    if name is None:
        names = list_prompts(prompts_dir)
        if not names:
            fail(f"no prompts in {prompts_dir} (expected {prompts_dir}/<name>/v1.j2)")
        for n in names:
            out.print(Text(n))
        return
    try:
        versions = list_versions(name, prompts_dir)
    except PromptError as exc:
        fail(str(exc))
    db = default_state_dir() / "journal.sqlite"
    journal = Journal(db) if db.is_file() else None
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
                                                         else f"{pv.scale[0]}-{pv.scale[1]}")]
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


@prompts_app.command("diff")
def diff_cmd(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The prompt's name.")],
    a: Annotated[str, typer.Argument(metavar="VA", help="From version (v1, 1 or latest).")],
    b: Annotated[str, typer.Argument(metavar="VB", help="To version (v2, 2 or latest).")],
    prompts_dir: _DirOption = Path("prompts"),
) -> None:
    """Show the unified diff between two versions of a prompt."""
    try:
        pa, pb = resolve(name, a, prompts_dir), resolve(name, b, prompts_dir)
    except PromptError as exc:
        fail(str(exc))
    text = diff(pa, pb)
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
