"""What every importer shares: the error, the record of one score, labels, the long frames
and their writers."""

from __future__ import annotations

import csv
import math
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from harness._numbers import parse_number

#: The columns of the long judgments format (``rationale`` is added when a source has one).
JUDGMENT_COLUMNS = ("item_id", "judge", "criterion", "sample", "score")
#: The optional column of the long judgments format.
RATIONALE_COLUMN = "rationale"
#: The columns of judgecal's long ratings format (``criterion`` when several).
RATING_COLUMNS = ("item_id", "rater_id", "score")


class ImporterError(ValueError):
    """A source that cannot be imported: the message starts with ``file:line`` or
    ``file`` (for an MLflow experiment, its name) and says what is wrong."""

    def __init__(self, where: str, message: str, line: int | None = None) -> None:
        self.where = where
        self.line = line
        super().__init__(f"{where}:{line}: {message}" if line is not None
                         else f"{where}: {message}")


@dataclass(frozen=True)
class Score:
    """One score read from a source, before samples are numbered.

    ``sample`` is the source's own repetition index (an Inspect epoch) or None, when the
    scores of one (item, rater, criterion) are numbered in the order read.
    """

    item_id: str
    rater: str
    criterion: str
    score: float
    rationale: str = ""
    sample: int | None = None
    where: str = ""  # for messages: where in the source the score was read


@dataclass
class Imported:
    """What an importer read from a source.

    Attributes
    ----------
    judgments : pandas.DataFrame
        The LLM judges' scores in the long judgments format (:data:`JUDGMENT_COLUMNS`, plus
        ``rationale`` when the source has any).
    humans : pandas.DataFrame
        Human raters' scores (``item_id, rater_id, criterion, score``, criterion None as in
        ``judgments``; empty for sources without humans).
    source : str
        The source as named (a path, an experiment).
    skipped : dict of str to int
        Scores not imported, by reason (an error instead of a value, a code scorer...).
    """

    judgments: pd.DataFrame
    humans: pd.DataFrame
    source: str
    skipped: dict[str, int] = field(default_factory=dict)


def raise_problems(where: str, problems: list[str], shown: int = 10) -> None:
    """Raise one ImporterError listing the first ``shown`` problems (one per line, each
    prefixed by ``where``), when there are any."""
    if problems:
        more = f"\n… and {len(problems) - shown} more" if len(problems) > shown else ""
        raise ImporterError(where, f"\n{where}: ".join(problems[:shown]) + more)


def parse_labels(labels: str | Sequence[str] | dict[str, float] | None,
                 where: str = "--labels") -> dict[str, float] | None:
    """Text labels -> numbers: ``"bad,ok,good"`` gives 0, 1, 2 (the codes judgecal gives a
    label scale's levels, in the order written); ``"no=0,yes=1"`` names each number.

    Raises
    ------
    ValueError
        For an empty label, a repeated one, a mixed or non-numeric mapping.

    Examples
    --------
    >>> parse_labels("bad,ok,good")
    {'bad': 0.0, 'ok': 1.0, 'good': 2.0}
    >>> parse_labels("fail=0,pass=1")
    {'fail': 0.0, 'pass': 1.0}
    """
    if labels is None:
        return None
    if isinstance(labels, dict):
        return {str(k): float(v) for k, v in labels.items()}
    parts = [p.strip() for p in (labels.split(",") if isinstance(labels, str) else labels)]
    if not parts or any(not p for p in parts):
        raise ValueError(f"{where}: expected labels separated by commas (bad,ok,good) or "
                         f"label=number pairs (fail=0,pass=1), got {labels!r}")
    named = ["=" in p for p in parts]
    result: dict[str, float] = {}
    for i, part in enumerate(parts):
        if any(named) and not all(named):
            raise ValueError(f"{where}: either every label names its number (fail=0,pass=1) "
                             f"or none does (bad,ok,good), got {labels!r}")
        label, _, raw = part.partition("=")
        label = label.strip()
        if label in result:
            raise ValueError(f"{where}: label {label!r} appears twice")
        try:
            result[label] = parse_number(raw.strip()) if all(named) else float(i)
        except ValueError as exc:
            raise ValueError(f"{where}: {label}: {exc}") from None
    return result


def to_number(value: Any, labels: dict[str, float] | None) -> tuple[float | None, str | None]:
    """A score from a source's value: (number, None) or (None, why not).

    Numbers are kept, booleans become 1/0, a text label is mapped by ``labels``, and a
    numeric text is read as a number; anything else is refused.
    """
    if isinstance(value, bool):
        return float(value), None
    if isinstance(value, int | float):
        if not math.isfinite(value):
            return None, f"value {value!r} is not a finite number"
        return float(value), None
    if isinstance(value, str):
        text = value.strip()
        if labels is not None and text in labels:
            return labels[text], None
        try:
            return parse_number(text), None
        except ValueError:
            pass
        if labels is None:
            return None, (f"text value {value!r} is not a number: give --labels (e.g. "
                          f"--labels bad,ok,good: 0, 1, 2) to import text labels")
        return None, f"text value {value!r} is not one of the labels {', '.join(labels)}"
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:60] + "…"
    return None, f"value {shown} is not a number, a boolean or a text label"


def number_samples(scores: Iterable[Score], where: str, *, unique: bool = False
                   ) -> list[tuple[Score, int]]:
    """Each score with its sample index: the source's own when it has one, else 0, 1, ...
    in the order read for each (item, rater, criterion).

    ``unique``: a second score of the same (item, rater, criterion) is an error (human
    raters: judgecal's ratings format has one score per cell).
    """
    seen: dict[tuple[str, str, str], list[int]] = {}
    first: dict[tuple[str, str, str, int], str] = {}
    out: list[tuple[Score, int]] = []
    for s in scores:
        key = (s.item_id, s.rater, s.criterion)
        taken = seen.setdefault(key, [])
        if unique and taken:
            on = f" on {s.criterion!r}" if s.criterion else ""
            prev = first[(*key, taken[0])]
            raise ImporterError(where, f"{s.where}: rater {s.rater!r} scored item "
                                       f"{s.item_id!r}{on} twice (also {prev})")
        n = s.sample if s.sample is not None else len(taken)
        if (*key, n) in first:
            raise ImporterError(where, f"{s.where}: a second score of item {s.item_id!r} by "
                                       f"{s.rater!r}, sample {n} (also {first[(*key, n)]})")
        first[(*key, n)] = s.where
        taken.append(n)
        out.append((s, n))
    return out


def build_frames(judged: list[Score], humans: list[Score], where: str
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The judgments frame and the human ratings frame.

    The criterion is None in both when the source has one criterion only; an empty
    rationale is None, and the column is left out when no score has one.
    """
    criteria = {s.criterion for s in judged} | {s.criterion for s in humans}
    blank = len(criteria) <= 1

    def crit(s: Score) -> str | None:
        return None if blank or not s.criterion else s.criterion

    rows = [{"item_id": s.item_id, "judge": s.rater, "criterion": crit(s), "sample": n,
             "score": s.score, RATIONALE_COLUMN: s.rationale or None}
            for s, n in number_samples(judged, where)]
    judgments = pd.DataFrame(rows, columns=[*JUDGMENT_COLUMNS, RATIONALE_COLUMN], dtype=object)
    if judgments[RATIONALE_COLUMN].isna().all():
        judgments = judgments.drop(columns=RATIONALE_COLUMN)
    judgments = judgments.astype({"sample": int, "score": float})
    hrows = [{"item_id": s.item_id, "rater_id": s.rater, "criterion": crit(s),
              "score": s.score} for s, _ in number_samples(humans, where, unique=True)]
    frame = pd.DataFrame(hrows, columns=["item_id", "rater_id", "criterion", "score"],
                         dtype=object)
    return judgments, frame.astype({"score": float})


def _cell(value: Any) -> str:
    """A text cell: empty for None (or NaN)."""
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else str(value)


def _fmt(value: float) -> str:
    """A score as CSV text: ``4`` for a whole number, else the shortest exact decimal."""
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(value)


def _write_csv(path: str | Path, header: list[str], rows: Iterable[list[str]]) -> None:
    """Write a CSV whole or not at all (a temporary file beside it, then renamed)."""
    p = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent or ".")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_judgments(df: pd.DataFrame, path: str | Path) -> None:
    """Write judgments in the long format: ``item_id,judge,criterion,sample,score``
    (``,rationale`` when the frame has that column).

    Parameters
    ----------
    df : pandas.DataFrame
        What :func:`import_judgments` returns.
    path : str or Path
        The CSV to write; replaced whole (nothing is left half-written on an error).
    """
    header = list(JUDGMENT_COLUMNS)
    if RATIONALE_COLUMN in df.columns:
        header.append(RATIONALE_COLUMN)
    rows = ([str(r.item_id), str(r.judge), _cell(r.criterion), str(int(r.sample)),
             _fmt(r.score)] + ([_cell(r.rationale)] if RATIONALE_COLUMN in header else [])
            for r in df.itertuples(index=False))
    _write_csv(path, header, rows)


def write_ratings(df: pd.DataFrame, path: str | Path) -> None:
    """Write human ratings in judgecal's long ratings format: ``item_id,rater_id,score``, or
    ``item_id,rater_id,criterion,score`` when the frame holds several criteria (what
    ``judgecal agree`` and :func:`harness.anchors.load_ratings` read).

    Parameters
    ----------
    df : pandas.DataFrame
        ``item_id, rater_id, criterion, score`` (:attr:`Imported.humans`).
    path : str or Path
        The CSV to write; replaced whole.
    """
    several = bool(df["criterion"].notna().any())
    header = ["item_id", "rater_id", "criterion", "score"] if several else list(RATING_COLUMNS)
    rows = ([str(r.item_id), str(r.rater_id)] + ([_cell(r.criterion)] if several else [])
            + [_fmt(r.score)] for r in df.itertuples(index=False))
    _write_csv(path, header, rows)


def judges_as_raters(judgments: pd.DataFrame, humans: pd.DataFrame) -> pd.DataFrame:
    """The human ratings with each judge added as one more rater (its mean over samples),
    so that ``judgecal agree FILE --judge ID`` compares a judge with the humans.

    Raises
    ------
    ValueError
        When a judge's id is also a human rater's.
    """
    clash = sorted(set(judgments["judge"]) & set(humans["rater_id"]))
    if clash:
        raise ValueError(f"judge id(s) {', '.join(clash)} are also human rater ids")
    cells = judgments.groupby(["item_id", "judge", "criterion"], sort=False, dropna=False)
    means = cells["score"].mean().reset_index().rename(columns={"judge": "rater_id"})
    return pd.concat([humans, means[["item_id", "rater_id", "criterion", "score"]]],
                     ignore_index=True)
