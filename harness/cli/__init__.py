"""The ``judgecal`` command line: parses arguments and prints; the work is in the library.

Exit codes (the same for every command):

* 0 — success (for a gate: every bar passed)
* 1 — a judge fell below a bar
* 2 — usage or input error (bad file, unknown metric, missing version); nothing written
* 3 — judge or provider failure (including too many invalid or failed judgments)
* 4 — inconclusive (gate, promote): a bar's CI straddles it (the output says about how many
  more anchors would decide it), or the human anchors are not reliable enough
* 130, 143 — interrupted by SIGINT or SIGTERM (runs marked FAILED, state saved)
"""

from __future__ import annotations

import sys

import typer

from ._agree import agree
from ._anchors import anchors_app
from ._calibrate import calibrate_cmd
from ._common import EXIT_CODES_HELP, VersionOpt
from ._drift import drift_cmd
from ._estimate import estimate_cmd
from ._gate import gate_cmd, promote_cmd, validate_cmd
from ._import import import_cmd
from ._judge import judge
from ._plan import plan_cmd
from ._probe import probe_cmd
from ._prompts import prompts_app
from ._selective import selective_cmd
from ._session import session_app
from ._signals import Interrupted, handle_signals

app = typer.Typer(
    name="judgecal",
    help="Calibrate LLM judges against human raters.",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(version: VersionOpt = False) -> None:
    """Calibrate LLM judges against human raters."""


app.command(name="agree")(agree)
app.command(name="judge")(judge)
app.command(name="calibrate")(calibrate_cmd)
app.command(name="validate")(validate_cmd)
app.command(name="gate")(gate_cmd)
app.command(name="promote")(promote_cmd)
app.command(name="drift")(drift_cmd)
app.command(name="estimate")(estimate_cmd)
app.command(name="selective")(selective_cmd)
app.command(name="probe")(probe_cmd)
app.command(name="plan")(plan_cmd)
app.command(name="import")(import_cmd)
app.add_typer(anchors_app, name="anchors")
app.add_typer(prompts_app, name="prompts")
app.add_typer(session_app, name="session")



def main() -> None:
    """The ``judgecal`` command: the typer app, with SIGTERM handled like SIGINT."""
    from ._common import err

    try:
        with handle_signals():
            app()
    except Interrupted as exc:
        err.print(f"[bold red]interrupted:[/] {exc}; runs in progress were marked FAILED and "
                  "finished judgments are in the journal (run the command again to continue)")
        sys.exit(exc.exit_code)


__all__ = ["app", "main"]
