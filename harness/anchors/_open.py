"""Open any scorecard input (an anchor set, a long ratings file with a ``criterion`` column,
a wide ratings file) as one ratings table per question, plus the total when it is known."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from ._errors import AnchorError, Problem
from ._load import is_scorecard_header
from ._ratings import RatingsTable, build_table, load_scorecard_ratings
from ._schema import NA
from ._scorecard import TOTAL, Scorecard, load_scorecard


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
        Each rater's total per item and the consensus total (0–1); None when the criteria
        (scales, weights, criticality) are not known, as for a bare ratings file.
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
                row = json.loads(line)
            except ValueError:
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
        and N/A rules checked, and the total is formed per rater with
        :meth:`Scorecard.total_of`; the consensus total is that of the raters' mean per
        criterion).

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
        total=_total_table(tables, scorecard, str(p)), source=str(p), scorecard=scorecard)


def _total_table(tables: dict[str, RatingsTable], card: Scorecard,
                 source: str) -> RatingsTable | None:
    """Each rater's scorecard total per item (criteria the file lacks count as N/A)."""
    items: list[str] = []
    for t in tables.values():
        items.extend(i for i in t.item_ids if i not in items)
    raters = sorted({r for t in tables.values() for r in t.rater_ids})
    index = {cid: ({i: k for k, i in enumerate(t.item_ids)},
                   {r: k for k, r in enumerate(t.rater_ids)}) for cid, t in tables.items()}
    cells: dict[tuple[str, str], float | str | None] = {}
    for item in items:
        for rater in raters:
            values: dict[str, float | str | None] = {}
            for cid in card.criterion_ids:
                t = tables.get(cid)
                if t is None:  # the file does not rate this criterion at all
                    values[cid] = NA
                    continue
                i, j = index[cid][0].get(item), index[cid][1].get(rater)
                if i is None or j is None:
                    values[cid] = None
                elif t.na[i, j]:
                    values[cid] = NA
                else:
                    v = t.scores[i, j]
                    values[cid] = None if v != v else float(v)
            cells[(item, rater)] = card.total_of(values)
    if not cells:
        return None
    return build_table(cells, items, rater_ids=raters, scale=(0.0, 1.0),
                       source=f"{source} ({TOTAL})")
