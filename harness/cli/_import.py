"""``judgecal import``: judgments from MLflow, Inspect AI or promptfoo as a judgments CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.importers import (
    FORMATS,
    ImporterError,
    import_source,
    judges_as_raters,
    write_judgments,
    write_ratings,
)

from ._common import EXIT_INPUT, fail, out


def _check_out(path: Path | None, option: str) -> None:
    """Exit 2 unless ``path`` can be written (its folder exists, it is not a folder)."""
    if path is None:
        return
    if path.is_dir():
        fail(f"{option} {path}: is a directory", EXIT_INPUT)
    if not path.absolute().parent.is_dir():
        fail(f"{option} {path}: no folder {path.absolute().parent}", EXIT_INPUT)


def import_cmd(
    fmt: Annotated[str, typer.Argument(
        metavar="FORMAT", help=f"The source's format: {', '.join(FORMATS)}.")],
    source: Annotated[str, typer.Argument(
        metavar="SOURCE",
        help="An Inspect log or promptfoo results JSON; for mlflow, the experiment's name "
             "or id.")],
    output: Annotated[Path | None, typer.Option(
        "-o", "--out", metavar="JUDGMENTS.csv",
        help="Write the judges' scores here (item_id,judge,criterion,sample,score"
             "[,rationale]).")] = None,
    humans: Annotated[Path | None, typer.Option(
        "--humans", metavar="RATINGS.csv",
        help="Write the human raters' scores here (item_id,rater_id[,criterion],score), "
             "for judgecal agree (mlflow: HUMAN feedback).")] = None,
    with_judges: Annotated[bool, typer.Option(
        "--with-judges",
        help="Add each judge to the --humans file as a rater (its mean over samples), so "
             "that judgecal agree RATINGS.csv --judge ID compares it with the humans.")
    ] = False,
    tracking_uri: Annotated[str | None, typer.Option(
        help="mlflow: the tracking server (default $MLFLOW_TRACKING_URI, else "
             "sqlite:///mlflow.db).")] = None,
    item_key: Annotated[str | None, typer.Option(
        metavar="KEY",
        help="Where the item id is: mlflow, a trace tag or request-metadata key (default the "
             "trace id); promptfoo, a test variable (default 'id', else testIdx).")] = None,
    labels: Annotated[str | None, typer.Option(
        metavar="A,B,C",
        help="Text values as numbers: 'bad,ok,good' (0, 1, 2) or 'fail=0,pass=1'; without "
             "it a text value is refused.")] = None,
    criterion: Annotated[str | None, typer.Option(
        help="Import only this criterion (mlflow: feedback name; promptfoo: named score; "
             "inspect: key of a dict score).")] = None,
) -> None:
    """Judgments recorded by another tool, as a judgecal judgments file: one row per
    (item, judge, criterion, sample), read by validate/gate --judgments."""
    if fmt not in FORMATS:
        fail(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}", EXIT_INPUT)
    if output is None and humans is None:
        fail("nothing to write: give -o JUDGMENTS.csv and/or --humans RATINGS.csv",
             EXIT_INPUT)
    if with_judges and humans is None:
        fail("--with-judges adds the judges to the --humans file: give --humans too",
             EXIT_INPUT)
    if humans is not None and fmt != "mlflow":
        fail(f"--humans: a {fmt} source has judges only (human ratings come from mlflow's "
             "HUMAN feedback)", EXIT_INPUT)
    _check_out(output, "-o")
    _check_out(humans, "--humans")
    try:
        got = import_source(fmt, source, tracking_uri=tracking_uri, item_key=item_key,
                            labels=labels, criterion=criterion)
    except (ImporterError, ValueError) as exc:
        fail(str(exc), EXIT_INPUT)
    j, h = got.judgments, got.humans
    if output is not None and j.empty:
        fail(f"{source}: no LLM-judge scores to write to {output} ({len(h)} human "
             "rating(s); write them with --humans alone)", EXIT_INPUT)
    if humans is not None and h.empty:
        fail(f"{source}: no HUMAN feedback to write to {humans}", EXIT_INPUT)
    ratings = h
    if with_judges:
        try:
            ratings = judges_as_raters(j, h)
        except ValueError as exc:
            fail(f"--with-judges: {exc}", EXIT_INPUT)
    if humans is not None:
        write_ratings(ratings, humans)
    if output is not None:
        write_judgments(j, output)
        crit = j["criterion"].dropna().unique()
        out.print(f"{len(j)} judgment(s) of {j['item_id'].nunique()} item(s) by "
                  f"{j['judge'].nunique()} judge(s) ({', '.join(j['judge'].unique())})"
                  + (f" on {len(crit)} criteria" if len(crit) else "") + f" -> {output}",
                  markup=False)
    if humans is not None:
        out.print(f"{len(h)} human rating(s) by {h['rater_id'].nunique()} rater(s)"
                  + (f" and {j['judge'].nunique()} judge(s) as raters" if with_judges else "")
                  + f" -> {humans}", markup=False)
    if got.skipped:
        out.print("skipped: " + ", ".join(f"{n} {why}" for why, n in got.skipped.items()),
                  markup=False)
