"""The ``judgecal`` command line: parses arguments and prints; the work is in the library.

Exit codes (the same for every command):

* 0 — success (for a gate: every bar passed)
* 1 — a judge fell below a bar
* 2 — usage or input error (bad file, unknown metric, missing version); nothing written
* 3 — judge or provider failure (including too many invalid or failed judgments)
* 4 — inconclusive (gate, promote): a bar's CI straddles it (the output says about how many
  more anchors would decide it), or the human anchors are not reliable enough
* 130, 143 — interrupted by SIGINT or SIGTERM (runs marked FAILED, state saved)

Each command's module is imported only when that command runs (or its own ``--help`` is
asked for): ``judgecal --help`` lists the commands from :data:`COMMANDS` alone, so it
imports neither the statistics, the plots, MLflow nor a provider's SDK.
"""

from __future__ import annotations

import gc
import importlib
import sys
from collections.abc import Iterator, MutableMapping
from typing import Any, NamedTuple

import typer
from typer.core import TyperCommand, TyperGroup

from ._common import EXIT_CODES_HELP, VersionOpt
from ._signals import Interrupted, handle_signals


class LazyCommand(NamedTuple):
    """Where a command lives, and the line ``judgecal --help`` shows for it."""

    module: str
    """The module under ``harness.cli`` that defines it (e.g. ``"._agree"``)."""
    attr: str
    """The command's function, or the ``typer.Typer`` of a command group."""
    help: str
    """The first paragraph of its help (its docstring's, or its Typer's ``help``)."""


#: Every command, in the order ``judgecal --help`` lists them. A test checks each ``help``
#: against the command's own.
COMMANDS: dict[str, LazyCommand] = {
    "agree": LazyCommand("._agree", "agree", "Agreement among human raters, and of a judge "
                         "with their consensus."),
    "judge": LazyCommand("._judge", "judge", "Judge the anchors once with a fixed prompt "
                         "version and report agreement with humans."),
    "calibrate": LazyCommand(
        "._calibrate", "calibrate_cmd",
        "Revise the judge prompt until agreement passes the target or plateaus; validate on "
        "the holdout split; log everything to MLflow. On a scorecard: every question so, the "
        "worst first, then the judge's total."),
    "validate": LazyCommand(
        "._gate", "validate_cmd",
        "Judge the holdout split with a fixed prompt version (no revision) and report "
        "agreement with the humans, with the human ceiling; with --judgments, report on a "
        "file's judgments (no judge is called), and with --judge repeated, rank those judges "
        "on a leaderboard."),
    "gate": LazyCommand("._gate", "gate_cmd", "Decide whether a judge may ship: judge the "
                        "holdout with a fixed version, check the bars."),
    "promote": LazyCommand(
        "._gate", "promote_cmd",
        "Set the MLflow Prompt Registry alias 'production' on a version, only if its gate "
        "passes (the same bars as `judgecal gate`)."),
    "drift": LazyCommand("._drift", "drift_cmd", "Drift in a live ratings stream: rolling ICC "
                         "alert, flagged raters, control charts."),
    "panel": LazyCommand("._panel", "panel_cmd", "Re-judge the anchor panel with fresh "
                         "calls: did the judge drift, or the system?"),
    "probe": LazyCommand(
        "._probe", "probe_cmd",
        "Re-judge the anchors with one controlled change per probe and report the share of "
        "judgments that move, netted against a placebo re-run (same inputs, new samples)."),
    "estimate": LazyCommand("._estimate", "estimate_cmd", "Mean score and pass rate of judged "
                            "production items, corrected for the judge's errors."),
    "selective": LazyCommand(
        "._selective", "selective_cmd",
        "Choose the confidence below which the judge abstains, so that on the items it keeps "
        "it agrees with the humans at least TARGET of the time with probability 1 - DELTA."),
    "plan": LazyCommand(
        "._plan", "plan_cmd",
        "How many items (and raters) give a 95% CI half-width W on each judge figure, and "
        "how many give the alt-test 80% power: simulated from a generative model (item true "
        "scores + rater noise + judge noise), set from a pilot anchor set or from --expect."),
    "import": LazyCommand(
        "._import", "import_cmd",
        "Judgments recorded by another tool, as a judgecal judgments file: one row per "
        "(item, judge, criterion, sample), read by validate/gate --judgments."),
    "anchors": LazyCommand("._anchors", "anchors_app", "Inspect and lint anchor sets."),
    "prompts": LazyCommand("._prompts", "prompts_app",
                           "List and compare versioned judge prompts."),
    "session": LazyCommand("._session", "session_app", "Run a human calibration session "
                           "(raters calibrate with each other before anchors become gold)."),
}


def load_command(name: str, *, rich_markup_mode: Any = None) -> Any:
    """Import command ``name``'s module and build its click command, as typer would.

    Parameters
    ----------
    name : str
        A key of :data:`COMMANDS`.
    rich_markup_mode : optional
        The group's markup mode (typer's default when None).

    Returns
    -------
    click.Command
        A command, or a group for ``anchors``, ``prompts`` and ``session``.
    """
    entry = COMMANDS[name]
    obj = getattr(importlib.import_module(entry.module, __name__), entry.attr)
    if isinstance(obj, typer.Typer):
        group = typer.main.get_group(obj)
        group.name = name
        return _tidied(group)
    settings = {} if rich_markup_mode is None else {"rich_markup_mode": rich_markup_mode}
    single = typer.Typer(add_completion=False, **settings)
    single.command(name=name)(obj)
    return _tidied(typer.main.get_command(single))


def _tidied(command: Any) -> Any:
    """``command`` (and its subcommands) with help that reads as written.

    * Each help paragraph on one line. The help comes from docstrings wrapped at 100
      columns; typer's rich help keeps the line breaks of every paragraph after the first
      and wraps again at the terminal's width, so an 80-column help read as a ragged column
      (``a criterion   /  column,  /  or a wide file``). Joined, each paragraph is wrapped
      once, at the width it is printed. A paragraph that starts with ``\b`` (click's mark
      for "keep these lines") is left as it is.
    * A flag shows no value type: typer 0.29 prints ``--json <bool>``, as if the flag took
      a value (``--json true`` is an error); a repeatable option shows its value's type.
    """
    if command.help:
        command.help = "\n\n".join(
            para if para.lstrip().startswith("\b") else " ".join(para.split())
            for para in command.help.split("\n\n"))
    for param in command.params:
        _no_flag_type(param)
    command.get_help_option = _flag_help_option(command.get_help_option)
    for sub in getattr(command, "commands", {}).values():
        _tidied(sub)
    return command


def _no_flag_type(param: Any) -> Any:
    """A flag's help without ``<bool>`` (its metavar, empty, stands in for the type); a
    repeatable option's with its value's type (``--judge <str>``, not ``<list[str]>``: the
    option takes one value each time it is given)."""
    if param.metavar is not None:
        return param
    if getattr(param, "is_flag", False):
        param.metavar = ""
    elif getattr(param, "multiple", False) and hasattr(param, "bare_type"):
        kind = param.bare_type()
        if kind.startswith("list[") and kind.endswith("]"):
            param.metavar = f"<{kind[5:-1]}>"
    return param


def _flag_help_option(get_help_option: Any) -> Any:
    """``get_help_option`` whose ``--help`` shows no ``<bool>`` either."""
    def wrapped(ctx: Any) -> Any:
        option = get_help_option(ctx)
        return None if option is None else _no_flag_type(option)
    return wrapped


class _Commands(MutableMapping[str, Any]):
    """A group's commands: the names of :data:`COMMANDS`, each imported on first access."""

    def __init__(self, group: LazyGroup, loaded: dict[str, Any]) -> None:
        self._group = group
        self._loaded = dict(loaded)

    def __getitem__(self, name: str) -> Any:
        if name not in self._loaded:
            if name not in COMMANDS:
                raise KeyError(name)
            self._loaded[name] = load_command(name,
                                              rich_markup_mode=self._group.rich_markup_mode)
        return self._loaded[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        yield from COMMANDS
        yield from (name for name in self._loaded if name not in COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS) + sum(name not in COMMANDS for name in self._loaded)

    def __contains__(self, name: object) -> bool:
        return name in COMMANDS or name in self._loaded


class LazyGroup(TyperGroup):
    """The top-level group: a command's module is imported when the command is resolved.

    While the group formats its own help, :meth:`get_command` answers with a stand-in that
    carries only the command's name and one-line help (from :data:`COMMANDS`), so
    ``judgecal --help`` imports no command module. Anything else (running a command, its own
    ``--help``, ``group.commands[...]``) gets the real command.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.commands = _Commands(self, dict(self.commands))
        self._listing = False
        for param in self.params:
            _no_flag_type(param)

    def get_help_option(self, ctx: Any) -> Any:  # noqa: D102 - click's
        option = super().get_help_option(ctx)
        return None if option is None else _no_flag_type(option)

    def list_commands(self, ctx: Any) -> list[str]:  # noqa: D102 - click's
        return list(self.commands)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:  # noqa: D102 - click's
        loaded = self.commands._loaded  # type: ignore[attr-defined]
        if self._listing and cmd_name in COMMANDS and cmd_name not in loaded:
            return TyperCommand(cmd_name, help=COMMANDS[cmd_name].help,
                                rich_markup_mode=self.rich_markup_mode)
        return self.commands.get(cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:  # noqa: D102 - click's
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    name="judgecal",
    cls=LazyGroup,
    help="Calibrate LLM judges against human raters.",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(version: VersionOpt = False) -> None:
    """Calibrate LLM judges against human raters."""


def main() -> None:
    """The ``judgecal`` command: the typer app, with SIGTERM handled like SIGINT.

    When the command ends, every object it leaves is frozen (:func:`gc.freeze`): the
    interpreter's shutdown then frees them without the cyclic collections that would walk
    them all first (pydantic's and typer's objects make those ~30 ms, a tenth of ``agree``'s
    start-up; ``benchmarks/bench_startup.py``). Files, stores and runs are closed before
    that, by their ``with`` blocks and ``atexit`` handlers, which still run.
    """
    from ._common import err

    try:
        with handle_signals():
            try:
                app()
            finally:
                gc.freeze()
    except Interrupted as exc:
        err.print(f"[bold red]interrupted:[/] {exc}; runs in progress were marked FAILED and "
                  "finished judgments are in the journal (run the command again to continue)")
        sys.exit(exc.exit_code)


__all__ = ["COMMANDS", "LazyGroup", "app", "load_command", "main"]
