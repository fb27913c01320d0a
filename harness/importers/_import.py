"""Dispatch to the format's reader: :func:`import_source` and :func:`import_judgments`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ._common import Imported, ImporterError

#: The source formats, as ``judgecal import FORMAT`` and ``--judgments FORMAT:FILE`` name them.
FORMATS = ("mlflow", "inspect", "promptfoo")

#: The options each format takes (keyword arguments of :func:`import_source`).
OPTIONS = {
    "mlflow": ("tracking_uri", "item_key", "labels", "criterion"),
    "inspect": ("labels", "criterion"),
    "promptfoo": ("item_key", "labels", "criterion"),
}


def import_source(fmt: str, source: str | Path, **options: Any) -> Imported:
    """Read a source of format ``fmt``: its judges' scores and its human raters' scores.

    Parameters
    ----------
    fmt : str
        One of :data:`FORMATS`.
    source : str or Path
        A file (inspect, promptfoo) or an MLflow experiment's name or id (mlflow).
    **options
        The format's options (:data:`OPTIONS`); None means "not given". ``tracking_uri``
        (mlflow), ``item_key`` (mlflow: a trace tag or request-metadata key; promptfoo: a
        test variable) holding the item id, ``labels`` (text values -> numbers:
        ``"bad,ok,good"`` or ``"fail=0,pass=1"``), ``criterion`` (import only this one).

    Returns
    -------
    Imported

    Raises
    ------
    ImporterError
        For a source that cannot be read; ValueError for an unknown format or option.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    unknown = sorted(k for k, v in options.items() if v is not None and k not in OPTIONS[fmt])
    if unknown:
        raise ValueError(f"format {fmt!r} takes no option {', '.join(unknown)} (it takes "
                         f"{', '.join(OPTIONS[fmt])})")
    given = {k: v for k, v in options.items() if v is not None}
    if fmt == "mlflow":
        from ._mlflow import read_mlflow

        return read_mlflow(str(source), **given)
    if fmt == "inspect":
        from ._inspect import read_inspect

        return read_inspect(source, **given)
    from ._promptfoo import read_promptfoo

    return read_promptfoo(source, **given)


def import_judgments(fmt: str, source: str | Path, **options: Any) -> pd.DataFrame:
    """The judges' scores of a source, in the long judgments format.

    Parameters
    ----------
    fmt : str
        One of :data:`FORMATS`.
    source : str or Path
        A file, or an MLflow experiment's name or id.
    **options
        As for :func:`import_source`.

    Returns
    -------
    pandas.DataFrame
        Columns ``item_id`` (str), ``judge`` (str), ``criterion`` (str, None throughout for
        a source of one criterion), ``sample`` (int), ``score`` (float), and ``rationale``
        (str, None where a score has none) when the source has any.

    Raises
    ------
    ImporterError
        For a source that cannot be read, or that holds no judge's score (only humans).
    """
    imported = import_source(fmt, source, **options)
    if imported.judgments.empty:
        raise ImporterError(str(source), f"no LLM-judge scores (only {len(imported.humans)} "
                                         "human rating(s))")
    return imported.judgments
