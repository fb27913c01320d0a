"""Shared CLI plumbing: consoles, exit codes and error printing."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console

from harness.agreement._bootstrap import MAX_RESAMPLES
from harness.judges import PROVIDERS

if TYPE_CHECKING:
    from harness.experiments import Experiment

EXIT_OK = 0
EXIT_BELOW_BAR = 1
EXIT_INPUT = 2
EXIT_JUDGE = 3

# The judge overrides every command that judges takes (judge, calibrate, validate, gate,
# promote): laid over the experiment's [judge] by load_with_judge_overrides.
ProviderOpt = Annotated[str | None, typer.Option(help=", ".join(PROVIDERS))]
ModelOpt = Annotated[str | None, typer.Option(help="Model name.")]
BaseUrlOpt = Annotated[str | None, typer.Option(help="OpenAI-compatible server URL.")]
ApiKeyEnvOpt = Annotated[str | None, typer.Option(
    help="NAME of the environment variable with the API key ('' for none).")]

out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False)


def print_wide(renderable: Any, width: int = 120) -> None:
    """Print on stdout; when that is not a terminal (a CI log, a pipe), at least ``width``
    columns wide, so that a table is not squeezed into 80 columns and cut."""
    if out.is_terminal:
        out.print(renderable)
        return
    Console(file=out.file, width=max(out.width, width), highlight=False,
            soft_wrap=False).print(renderable)


def fail(message: str, code: int = EXIT_INPUT) -> NoReturn:
    """Print ``message`` on stderr and exit with ``code``."""
    from rich.markup import escape

    err.print(f"[bold red]error:[/] {escape(message)}", markup=True, soft_wrap=True)
    sys.exit(code)


def parse_scale(text: str | None) -> tuple[float, float] | None:
    """``--scale MIN:MAX`` as two finite floats (None when not given); a bad value exits 2.

    Both ends are plain decimal numbers (:func:`harness._numbers.parse_number`): no ``nan``,
    ``inf``, ``1_0`` or non-ASCII digits.
    """
    from harness._numbers import parse_number

    if text is None:
        return None
    parts = text.split(":")
    try:
        if len(parts) != 2:
            raise ValueError("two numbers are needed")
        lo, hi = (parse_number(v.strip()) for v in parts)
    except ValueError as exc:
        fail(f"--scale must be MIN:MAX with two finite numbers (e.g. 1:5), got {text!r}: {exc}")
    if lo >= hi:
        fail(f"--scale {text}: MIN must be below MAX")
    return lo, hi


#: ``--resamples N``: bootstrap resamples, 0 to MAX_RESAMPLES (typer itself exits 2 outside).
Resamples = Annotated[int, typer.Option(
    min=0, max=MAX_RESAMPLES,
    help=f"Bootstrap resamples for CIs (0: none; at most {MAX_RESAMPLES:,}).")]


def load_with_judge_overrides(experiment: Path, *, provider: str | None, model: str | None,
                              base_url: str | None, api_key_env: str | None,
                              **sections: dict[str, Any]) -> Experiment:
    """The experiment file with the command line's ``--provider/--model/--base-url/
    --api-key-env`` (and any other ``section={field: value}``) laid over it; None leaves a
    field as the file has it. An unknown provider exits 2; ExperimentError and ValueError
    (an override that fails validation) propagate."""
    from harness.experiments import load_experiment

    if provider is not None and provider not in PROVIDERS:
        fail(f"unknown --provider {provider!r}; use one of {', '.join(PROVIDERS)}")
    return load_experiment(experiment).with_overrides(
        judge={"provider": provider, "model": model, "base_url": base_url,
               "api_key_env": api_key_env}, **sections)


#: ``--batch/--no-batch``: an override of the experiment's ``[run] batch`` (judge, calibrate,
#: validate).
BatchOpt = Annotated[bool | None, typer.Option(
    "--batch/--no-batch",
    help="Judge through the provider's batch API (openai, anthropic): half price, results "
         "within 24 hours; a killed run resumes polling the same batches (default: the "
         "experiment's [run] batch).")]


def refuse_batch(exp: Any, experiment: Path) -> None:
    """Exit 2, before any call, when batch judging is asked of a provider without a batch
    API (``local``)."""
    from harness.judges import batch_refusal

    reason = batch_refusal(exp.judge.provider) if exp.run.batch else None
    if reason is not None:
        fail(f"{experiment}: {reason}", EXIT_INPUT)
