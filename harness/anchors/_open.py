"""Open any scorecard input (an anchor set, a long ratings file with a ``criterion`` column,
a wide ratings file) as one ratings table per question, plus the total when it is known."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._errors import AnchorError, Problem
from ._json import parse_json_line
from ._load import is_scorecard_header
from ._ratings import RatingsTable, load_scorecard_ratings, natural_key
from ._schema import Criterion
from ._scorecard import TOTAL, Scorecard, load_scorecard, scorecard_total


@dataclass
class ScorecardTables:
    """One ratings table per question of a scorecard, and the total's.

    Attributes
    ----------
    tables : dict of str to RatingsTable
        Criterion id -> its ratings (label scales as codes 0..k-1), in the scorecard's order.
    kinds : dict of str to str
        Criterion id -> ``numeric``, ``ordinal`` or ``nominal``.
    labels : dict of str to str
        Criterion id -> its label.
    total : RatingsTable or None
        Each rater's total per item (0–1; :func:`total_ratings`), with the consensus total
        for an anchor set; None when the criteria (scales, weights, criticality) are not
        known, as for a bare ratings file, or a criterion has no column in the file.
    source : str
    scorecard : Scorecard or None
        The scorecard the criteria come from.
    """

    tables: dict[str, RatingsTable]
    kinds: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    total: RatingsTable | None = None
    source: str = ""
    scorecard: Scorecard | None = None


def is_scorecard_input(path: str | Path) -> bool:
    """Whether a file holds several questions: a scorecard anchor set, a long ratings file
    with a ``criterion`` column naming more than one, or a wide ratings file.

    Files that cannot be read are not scorecards here (the one-criterion readers report
    their problems with file and line).
    """
    p = Path(path)
    try:
        with p.open(encoding="utf-8-sig", newline="") as fh:
            first = fh.readline()
            rest = fh.read(1 << 20)
    except (OSError, UnicodeDecodeError):
        return False
    if not first.strip():
        return False
    if p.suffix.lower() == ".jsonl" or first.lstrip().startswith("{"):
        if is_scorecard_header(first):
            return True
        criteria = set()
        for line in [first, *rest.splitlines()[:5000]]:
            try:
                row = parse_json_line(line)
            except ValueError:  # the readers report it with file and line
                continue
            if isinstance(row, dict) and "criterion" in row:
                criteria.add(str(row["criterion"]))
        return len(criteria) > 1
    try:
        header = [h.strip() for h in next(csv.reader(io.StringIO(first)))]
    except (csv.Error, StopIteration):
        return False
    if "criterion" in header:
        col = header.index("criterion")
        names = {row[col].strip() for row in csv.reader(io.StringIO(rest))
                 if len(row) > col and row[col].strip()}
        return len(names) > 1
    return {"item_id", "rater_id"} <= set(header) and "score" not in header \
        and len(header) > 2


def open_scorecard(path: str | Path, *, split: str | None = None,
                   scorecard: Scorecard | None = None) -> ScorecardTables:
    """Read a scorecard input as one table per question (and the total when known).

    Parameters
    ----------
    path : str or Path
        A scorecard anchor set (its views, :meth:`Scorecard.criterion`), or a long / wide
        ratings file (:func:`load_scorecard_ratings`).
    split : {"calibration", "holdout"}, optional
        One split of an anchor set (an error for a ratings file).
    scorecard : Scorecard, optional
        For a ratings file: the scorecard its criteria belong to (labels are coded, scales
        and N/A rules checked, and each rater's total is formed, :func:`total_ratings`, when
        the file rates every criterion).

    Returns
    -------
    ScorecardTables

    Raises
    ------
    AnchorError
        Every problem with ``file:line``.
    """
    p = Path(path)
    with p.open(encoding="utf-8-sig", errors="replace") as fh:
        first = fh.readline()
    if is_scorecard_header(first):
        card = load_scorecard(p)
        if split is not None:
            card = card.split(split)
        views = {cid: card.criterion(cid) for cid in card.criterion_ids}
        total = card.total()
        src = str(p) + (f" ({split})" if split else "")
        return ScorecardTables(
            tables={cid: v.to_ratings() for cid, v in views.items()},
            kinds={cid: card.spec(cid).kind for cid in card.criterion_ids},
            labels={cid: card.spec(cid).label for cid in card.criterion_ids},
            total=total.to_ratings() if total.items else None, source=src, scorecard=card)
    if split is not None:
        raise AnchorError([Problem(str(p), None, "split",
                                   "a ratings file has no calibration/holdout split; "
                                   "use --split all")])
    tables = load_scorecard_ratings(p, scorecard)
    if scorecard is None:
        return ScorecardTables(tables=tables, kinds={c: "numeric" for c in tables},
                               labels={c: c for c in tables}, source=str(p))
    return ScorecardTables(
        tables=tables, kinds={c: scorecard.spec(c).kind for c in tables},
        labels={c: scorecard.spec(c).label for c in tables},
        total=(total_ratings(tables, scorecard.criteria, f"{p} ({TOTAL})")
               if all(c in tables for c in scorecard.criterion_ids) else None),
        source=str(p), scorecard=scorecard)


def total_ratings(tables: Mapping[str, RatingsTable], criteria: Sequence[Criterion],
                  source: str = "") -> RatingsTable:
    """Each rater's scorecard total per item, as a ratings table on the 0-1 scale.

    Parameters
    ----------
    tables : mapping of str to RatingsTable
        Criterion id -> its table (label criteria as their codes, as
        :func:`load_scorecard_ratings` reads them with the scorecard).
    criteria : sequence of Criterion
        The scorecard's criteria (scales, weights, pass marks, criticality).
    source : str
        The table's ``source``.

    Returns
    -------
    RatingsTable
        Items in stream order: an item's place is its earliest place in any criterion's
        stream (ties in criterion order). Per (item, rater), :func:`scorecard_total` of the
        rater's scores on every criterion: a number in ``[0, 1]`` (0 when a critical
        criterion fails), N/A when every criterion is N/A, missing when a criterion has no
        score from the rater and no critical one failed.
    """
    crits = list(criteria)
    order: dict[str, tuple[int, int]] = {}
    for ci, c in enumerate(crits):
        t = tables.get(c.id)
        if t is None:
            continue
        for pos, item in enumerate(t.item_ids):
            key = (pos, ci)
            if item not in order or key < order[item]:
                order[item] = key
    items = sorted(order, key=order.__getitem__)
    raters = sorted({r for t in tables.values() for r in t.rater_ids}, key=natural_key)
    look = {}
    for c in crits:
        t = tables.get(c.id)
        if t is not None:
            look[c.id] = (t, {it: i for i, it in enumerate(t.item_ids)},
                          {r: j for j, r in enumerate(t.rater_ids)})
    scores = np.full((len(items), len(raters)), np.nan)
    na = np.zeros(scores.shape, dtype=bool)
    for i, item in enumerate(items):
        for j, rater in enumerate(raters):
            values: dict[str, float | str | None] = {}
            for c in crits:
                values[c.id] = None
                if c.id not in look:
                    continue
                t, ii, rj = look[c.id]
                if item in ii and rater in rj:
                    x = t.scores[ii[item], rj[rater]]
                    if not math.isnan(x):
                        values[c.id] = float(x)
                    elif t.na[ii[item], rj[rater]]:
                        values[c.id] = "NA"
            total = scorecard_total(crits, values)
            if isinstance(total, float):
                scores[i, j] = total
            elif total == "NA":
                na[i, j] = True
    return RatingsTable(items, raters, scores, na, None, (0.0, 1.0), source)
