"""The items x raters ratings table, and the long-format ratings reader (CSV / JSONL)."""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from harness._numbers import parse_number
from harness._say import scale_text

from ._errors import _Collector, no_such_file
from ._json import parse_json_line
from ._schema import Criterion, fmt_num, show

if TYPE_CHECKING:
    from ._scorecard import Scorecard

#: Required columns of a long-format ratings file.
RATINGS_COLUMNS = ("item_id", "rater_id", "score")
#: The optional column of a long-format file that names the criterion of each score.
CRITERION_COLUMN = "criterion"
_NA_WORDS = ("NA", "N/A")


def natural_key(text: str) -> tuple[tuple[tuple[int, Any], ...], str]:
    """Sort key that orders ``participant_2`` before ``participant_10``."""
    tokens = tuple(
        (0, int(t)) if t.isdigit() else (1, t) for t in re.split(r"(\d+)", text)
    )
    return tokens, text


@dataclass(frozen=True, eq=False)
class RatingsTable:
    """Scores of items (rows) by raters (columns).

    Attributes
    ----------
    item_ids : list of str
        Row labels, in file order.
    rater_ids : list of str
        Column labels, sorted (numbers inside ids compare as numbers).
    scores : ndarray of float, shape (n_items, n_raters)
        NaN where the rating is missing *or* N/A.
    na : ndarray of bool, same shape
        True where the rater judged the item not applicable.
    consensus : ndarray of float or None
        Per-item consensus (explicit, or formed by the set's rule) for a table from an
        anchor set; None for a long-format ratings file.
    scale : tuple of float or None
        ``(min, max)`` of the rating scale, when known.
    source : str
        Where the ratings came from (a path, plus the split for a subset).

    Notes
    -----
    Treat the arrays as read-only; methods return new tables.
    """

    item_ids: list[str]
    rater_ids: list[str]
    scores: np.ndarray
    na: np.ndarray
    consensus: np.ndarray | None = None
    scale: tuple[float, float] | None = None
    source: str = ""

    def __post_init__(self) -> None:
        shape = (len(self.item_ids), len(self.rater_ids))
        if self.scores.shape != shape or self.na.shape != shape:
            raise ValueError(
                f"scores {self.scores.shape} and na {self.na.shape} must both have shape "
                f"{shape} (items x raters)"
            )
        if self.consensus is not None and self.consensus.shape != (shape[0],):
            raise ValueError(f"consensus must have shape ({shape[0]},)")
        if len(set(self.item_ids)) != len(self.item_ids):
            raise ValueError("item_ids must be unique")
        if len(set(self.rater_ids)) != len(self.rater_ids):
            raise ValueError("rater_ids must be unique")

    # ---------------------------------------------------------------- lookup

    def _rater_index(self, rater_id: str) -> int:
        try:
            return self.rater_ids.index(rater_id)
        except ValueError:
            raise KeyError(self._unknown("rater", rater_id, self.rater_ids)) from None

    def _unknown(self, what: str, key: str, known: list[str]) -> str:
        where = f" in {self.source}" if self.source else ""
        if len(known) <= 20:
            return f"no {what} {key!r}{where}; known {what}s: {', '.join(known) or '(none)'}"
        close = [k for k in known if key.lower() in k.lower()][:5]
        hint = f"; similar: {', '.join(close)}" if close else ""
        return f"no {what} {key!r}{where} ({len(known)} {what}s{hint})"

    def column(self, rater_id: str) -> np.ndarray:
        """Scores of one rater, aligned with ``item_ids`` (NaN = missing or N/A).

        Parameters
        ----------
        rater_id : str
            A rater id of the table.

        Returns
        -------
        ndarray of float
            A copy of the rater's column.

        Raises
        ------
        KeyError
            For an unknown rater id (the message lists the known ones when there are few).
        """
        return self.scores[:, self._rater_index(rater_id)].copy()

    def drop_rater(self, rater_id: str) -> RatingsTable:
        """The table without one rater's column.

        The consensus is kept as it is (it is the anchor set's gold, not recomputed).

        Raises
        ------
        KeyError
            For an unknown rater id.
        """
        j = self._rater_index(rater_id)
        keep = [k for k in range(len(self.rater_ids)) if k != j]
        return RatingsTable(
            item_ids=list(self.item_ids),
            rater_ids=[self.rater_ids[k] for k in keep],
            scores=self.scores[:, keep],
            na=self.na[:, keep],
            consensus=None if self.consensus is None else self.consensus.copy(),
            scale=self.scale,
            source=self.source,
        )

    def subset(self, item_ids: Iterable[str]) -> RatingsTable:
        """The table restricted to ``item_ids``, in the order given (raters unchanged).

        Raises
        ------
        KeyError
            For an item id not in the table.
        """
        index = {item: i for i, item in enumerate(self.item_ids)}
        wanted = list(item_ids)
        rows = []
        for item in wanted:
            if item not in index:
                raise KeyError(self._unknown("item", item, self.item_ids))
            rows.append(index[item])
        return RatingsTable(
            item_ids=wanted,
            rater_ids=list(self.rater_ids),
            scores=self.scores[rows, :],
            na=self.na[rows, :],
            consensus=None if self.consensus is None else self.consensus[rows],
            scale=self.scale,
            source=self.source,
        )

    # ---------------------------------------------------------------- counts

    def na_counts_by_item(self) -> dict[str, int]:
        """Item id -> number of raters who marked it N/A."""
        if not self.na.any():  # no N/A (the usual crowd table): no pass over the columns
            return dict.fromkeys(self.item_ids, 0)
        return {item: int(n) for item, n in zip(self.item_ids, self.na.sum(axis=1), strict=True)}

    def na_counts_by_rater(self) -> dict[str, int]:
        """Rater id -> number of items the rater marked N/A."""
        if not self.na.any():
            return dict.fromkeys(self.rater_ids, 0)
        return {r: int(n) for r, n in zip(self.rater_ids, self.na.sum(axis=0), strict=True)}

    @property
    def n_na(self) -> int:
        """Number of N/A cells."""
        return int(np.count_nonzero(self.na))

    @property
    def n_missing(self) -> int:
        """Number of missing cells (no score and not N/A), e.g. items a rater never saw."""
        missing = int(np.count_nonzero(np.isnan(self.scores)))
        if self.na.any():  # N/A cells hold no score: they are not missing
            missing -= int(np.count_nonzero(np.isnan(self.scores) & self.na))
        return missing

    @property
    def n_scores(self) -> int:
        """Number of numeric scores."""
        return int(self.scores.size - np.count_nonzero(np.isnan(self.scores)))


def build_table(
    cells: dict[tuple[str, str], float | str | None],
    item_order: list[str],
    *,
    rater_ids: list[str] | None = None,
    consensus: np.ndarray | None = None,
    scale: tuple[float, float] | None = None,
    source: str = "",
) -> RatingsTable:
    """A :class:`RatingsTable` from ``(item, rater) -> score | "NA" | None`` cells."""
    raters = rater_ids if rater_ids is not None else sorted(
        {r for _, r in cells}, key=natural_key
    )
    ri = {r: j for j, r in enumerate(raters)}
    ii = {it: i for i, it in enumerate(item_order)}
    scores = np.full((len(item_order), len(raters)), np.nan)
    na = np.zeros(scores.shape, dtype=bool)
    for (item, rater), value in cells.items():
        if value is None:
            continue
        if isinstance(value, str):
            na[ii[item], ri[rater]] = True
        else:
            scores[ii[item], ri[rater]] = float(value)
    return RatingsTable(list(item_order), list(raters), scores, na, consensus, scale, source)


# --------------------------------------------------------------------------- reading


def _parse_score(value: Any) -> tuple[float | str | None, str | None]:
    """A score from a ratings file: (value, None) or (None, error message)."""
    if value is None:
        return None, None
    if isinstance(value, bool):
        return None, f"score {show(value)} is not a number"
    if isinstance(value, int | float):
        if not math.isfinite(value):
            return None, f"score {show(value)} is not a finite number"
        return float(value), None
    if isinstance(value, str):
        text = value.strip(" \t\r\n")
        if not text:
            return None, None
        if text.upper() in _NA_WORDS:
            return "NA", None
        try:
            return parse_number(text), None
        except ValueError:
            return None, (f"score {value!r} is not a number (write a plain decimal number "
                          "such as 4 or 3.5, NA, or leave it empty)")
    return None, f"score {show(value)} is not a number"


def _read_text(path: Path, probs: _Collector) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise probs.fail(None, None, no_such_file(path)) from None
    except IsADirectoryError:
        raise probs.fail(None, None, "is a directory, not a ratings file") from None
    except OSError as exc:
        raise probs.fail(None, None, f"cannot read the file: {exc.strerror}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise probs.fail(line, None, f"not valid UTF-8 ({exc.reason})") from None


@dataclass(frozen=True)
class _Row:
    """One score read from a ratings file, before it is checked."""

    line: int
    item: Any
    rater: Any
    criterion: str | None
    value: Any
    field: str


def _csv_rows(
    text: str, probs: _Collector, wide: set[str] | bool
) -> list[_Row] | None:
    """Rows of a long CSV (``item_id,rater_id[,criterion],score``) or, when ``wide`` allows
    it, of a wide one (``item_id,rater_id,<criterion>...``: one score per criterion column).

    ``wide`` is False (long only), True (any further column is a criterion) or the set of
    criterion ids whose columns are read (further columns are ignored).
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        probs.add(None, None, "file is empty; expected a header line item_id,rater_id,score")
        return None
    except csv.Error as exc:
        probs.add(1, None, f"malformed CSV: {exc}")
        return None
    names = [h.strip().lstrip("\ufeff").lower() for h in header]
    if not any(names):
        probs.add(1, None, "the header line is empty; expected item_id,rater_id,score")
        return None
    seen: set[str] = set()
    for name in names:
        if name and name in seen:
            probs.add(1, name, "column appears twice in the header")
        seen.add(name)
    raw_names = [h.strip().lstrip("\ufeff") for h in header]
    wide_cols: list[tuple[str, str]] = []  # (column, criterion id as written)
    if wide is not False and "score" not in names and "item_id" in names and "rater_id" in names:
        for name, raw in zip(names, raw_names, strict=True):
            if name in ("item_id", "rater_id", CRITERION_COLUMN) or not name:
                continue
            if wide is True:
                wide_cols.append((name, raw))
            else:
                match = next((cid for cid in wide if cid.lower() == name), None)
                if match is not None:
                    wide_cols.append((name, match))
        if not wide_cols:
            known = "" if wide is True else f" ({', '.join(sorted(wide))})"
            probs.add(1, None, "no score column: a long file has item_id,rater_id,score; a "
                               f"wide one item_id,rater_id and one column per criterion{known} "
                               f"(header: {', '.join(header)})")
            return None
    if not wide_cols:
        missing = [c for c in RATINGS_COLUMNS if c not in names]
        for col in missing:
            probs.add(1, col, f"missing column {col!r} (header: {', '.join(header)})")
        if missing:
            return None
    if probs:
        return None
    has_criterion = CRITERION_COLUMN in names and not wide_cols
    rows: list[_Row] = []
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            probs.add(start, None, f"malformed CSV: {exc}")
            break
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != len(names):
            probs.add(start, None, f"row has {len(row)} fields but the header has {len(names)}")
            continue
        rec = dict(zip(names, row, strict=True))
        if wide_cols:
            for col, cid in wide_cols:
                rows.append(_Row(start, rec["item_id"], rec["rater_id"], cid, rec[col], col))
            continue
        crit = None
        if has_criterion:
            crit = rec[CRITERION_COLUMN].strip()
            if not crit:
                probs.add(start, CRITERION_COLUMN, "the criterion is empty")
                continue
        rows.append(_Row(start, rec["item_id"], rec["rater_id"], crit, rec["score"], "score"))
    return rows


def _jsonl_rows(text: str, probs: _Collector) -> list[_Row] | None:
    rows: list[_Row] = []
    any_line = False
    with_criterion: list[int] = []
    without: list[int] = []
    for lineno, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        any_line = True
        try:
            obj = parse_json_line(raw, constant_hint=" (use null for a missing score)")
        except ValueError as exc:
            probs.add(lineno, None, str(exc))
            continue
        if not isinstance(obj, dict):
            probs.add(lineno, None, f"expected a JSON object, got {type(obj).__name__}")
            continue
        if "judgecal_anchor_set" in obj:
            probs.add(lineno, None, "this is an anchor set, not a long-format ratings file "
                                    "(read it with load_anchor_set or open_ratings)")
            return None
        missing = [c for c in RATINGS_COLUMNS if c not in obj]
        for col in missing:
            probs.add(lineno, col, f"missing key {col!r}")
        if missing:
            continue
        crit = None
        if CRITERION_COLUMN in obj:
            crit = obj[CRITERION_COLUMN]
            if not isinstance(crit, str) or not crit.strip():
                probs.add(lineno, CRITERION_COLUMN, f"the criterion must be a non-empty "
                                                    f"string, got {show(crit)}")
                continue
            crit = crit.strip()
            with_criterion.append(lineno)
        else:
            without.append(lineno)
        rows.append(_Row(lineno, obj["item_id"], obj["rater_id"], crit, obj["score"], "score"))
    if not any_line:
        probs.add(None, None, "file is empty; expected one JSON object per line with "
                              "item_id, rater_id and score")
        return None
    if with_criterion and without:
        for lineno in without[:5]:
            probs.add(lineno, CRITERION_COLUMN, f"missing key {CRITERION_COLUMN!r} (line "
                                                f"{with_criterion[0]} names a criterion)")
    return rows


def _as_id(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _criterion_value(spec: Criterion, raw: Any, wide: bool) -> tuple[float | str | None,
                                                                     str | None]:
    """A cell on a known criterion: (value as the criterion's view holds it, None) or
    (None, error). Labels become their codes; ``NA`` is checked against ``na_allowed``; an
    empty wide cell is N/A when the criterion allows N/A, else missing."""
    text = raw.strip(" \t\r\n") if isinstance(raw, str) else raw
    if (text is None or text == "") and wide and spec.na_allowed:
        return "NA", None
    if spec.scale.levels is not None and isinstance(text, str) and text in spec.scale.levels:
        return spec.code(text), None
    if spec.scale.levels is not None and isinstance(text, str) and text and \
            text.upper() not in _NA_WORDS:
        close = get_close_matches(text, spec.scale.levels, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return None, (f"{text!r} is not a label of criterion {spec.id!r} "
                      f"({spec.scale.describe()}){hint}")
    value, error = _parse_score(raw)
    if error:
        return None, error
    if value == "NA" and not spec.na_allowed:
        return None, (f"{raw.strip() if isinstance(raw, str) else raw!r} (not applicable) is "
                      f"not allowed: criterion {spec.id!r} has na_allowed false")
    if isinstance(value, float):
        if spec.scale.levels is not None:
            return None, (f"score {fmt_num(value)} is not a label; criterion {spec.id!r} "
                          f"takes {spec.scale.describe()}")
        lo, hi = spec.scale.min, spec.scale.max
        assert lo is not None and hi is not None
        if not lo <= value <= hi:
            return None, f"score {fmt_num(value)} is off the scale {spec.scale.describe()}"
    return value, None


def _read_tables(
    path: str | Path,
    *,
    scale: tuple[float, float] | None,
    specs: dict[str, Criterion] | None,
    wide: bool,
    one: bool = False,
    only: str | None = None,
) -> tuple[dict[str | None, RatingsTable], bool]:
    """Every criterion's table of a ratings file (key None when it names no criterion), and
    whether the file has a criterion column (or is wide).

    ``one``: the caller wants a single table, so a file of several criteria is an error
    unless ``only`` names the criterion to read (the other rows are skipped unread).
    """
    p = Path(path)
    shown = str(path)
    probs = _Collector(shown)
    suffix = p.suffix.lower()
    if suffix not in (".csv", ".jsonl"):
        if p.is_dir():
            raise probs.fail(None, None, "is a directory, not a ratings file")
        if not p.suffix and not p.exists():
            raise probs.fail(None, None, no_such_file(p))
        raise probs.fail(None, None, f"unsupported ratings file type {p.suffix or '(none)'!r}; "
                                     "use .csv or .jsonl (long format: item_id, rater_id, score)")
    text = _read_text(p, probs)
    wide_arg: set[str] | bool = (set(specs) if specs is not None else True) if wide else False
    rows = _csv_rows(text, probs, wide_arg) if suffix == ".csv" else _jsonl_rows(text, probs)
    if rows is None:
        probs.raise_if_any()
        raise AssertionError("unreachable")  # pragma: no cover
    is_wide = any(r.field != "score" for r in rows)
    has_criterion = any(r.criterion is not None for r in rows)
    if one and has_criterion:
        found = list(dict.fromkeys(r.criterion for r in rows if r.criterion is not None))
        if only is None and len(found) > 1:
            raise probs.fail(None, CRITERION_COLUMN, (
                f"the file holds ratings of {len(found)} criteria ({', '.join(found)}): choose "
                "one (criterion=..., --criterion) or read them all with load_scorecard_ratings"))
        if only is not None:
            if only not in found:
                close = get_close_matches(only, found, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise probs.fail(None, CRITERION_COLUMN, f"no ratings of criterion {only!r}"
                                                         f"{hint}; the file holds "
                                                         f"{', '.join(found)}")
            rows = [r for r in rows if r.criterion == only]

    cells: dict[str | None, dict[tuple[str, str], float | str | None]] = {}
    orders: dict[str | None, list[str]] = {}
    first_line: dict[tuple[str, str, str | None], int] = {}
    seen_items: set[tuple[str | None, str]] = set()
    for row in rows:
        lineno = row.line
        item = _as_id(row.item)
        rater = _as_id(row.rater)
        crit = row.criterion
        ok = True
        if item is None:
            probs.add(lineno, "item_id", f"item_id must be a non-empty string, got "
                                         f"{show(row.item)}")
            ok = False
        if rater is None:
            probs.add(lineno, "rater_id", f"rater_id must be a non-empty string, got "
                                          f"{show(row.rater)}")
            ok = False
        spec = None
        if specs is not None and crit is not None:
            spec = specs.get(crit)
            if spec is None:
                close = get_close_matches(crit, list(specs), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                probs.add(lineno, CRITERION_COLUMN, f"unknown criterion {crit!r}{hint}; the "
                                                    f"criteria are {', '.join(specs)}")
                continue
        if spec is not None:
            value, error = _criterion_value(spec, row.value, is_wide)
        else:
            value, error = _parse_score(row.value)
        if error:
            probs.add(lineno, row.field, error)
            ok = False
        elif (spec is None and isinstance(value, float) and scale is not None
              and not scale[0] <= value <= scale[1]):
            probs.add(lineno, row.field, f"score {fmt_num(value)} is off the scale "
                                         f"{scale_text(scale[0], scale[1])}")
            ok = False
        if item is None or rater is None:
            continue
        key = (item, rater, crit)
        if key in first_line:
            on = f" on criterion {crit!r}" if crit is not None else ""
            probs.add(lineno, None, f"duplicate rating of item {item!r} by rater {rater!r}{on} "
                                    f"(first on line {first_line[key]})")
            continue
        first_line[key] = lineno
        if not ok:
            continue
        cells.setdefault(crit, {})[(item, rater)] = value
        if (crit, item) not in seen_items:
            seen_items.add((crit, item))
            orders.setdefault(crit, []).append(item)
    if not rows and not probs:
        probs.add(None, None, "no ratings in the file (only a header)")
    probs.raise_if_any()
    tables: dict[str | None, RatingsTable] = {}
    for crit, crit_cells in cells.items():
        tscale = scale
        if specs is not None and crit is not None:
            cs = specs[crit].scale.code_scale()
            tscale = (cs.min, cs.max)
        tables[crit] = build_table(crit_cells, orders[crit], scale=tscale,
                                   source=shown if crit is None else f"{shown} ({crit})")
    return tables, has_criterion


def load_ratings(
    path: str | Path,
    scale: tuple[float, float] | None = None,
    criterion: str | None = None,
) -> RatingsTable:
    """Read a long-format ratings file: one row per (item, rater) score.

    Parameters
    ----------
    path : str or Path
        A ``.csv`` file (header line required; columns ``item_id``, ``rater_id``, ``score``
        and optionally ``criterion``; further columns are ignored) or a ``.jsonl`` file (one
        object per line with those keys; further keys are ignored).
    scale : tuple of float, optional
        ``(min, max)``: when given, every score must lie on it, and it becomes the table's
        scale.
    criterion : str, optional
        For a file with a ``criterion`` column: read only that criterion's rows. Needed
        when the file holds more than one criterion (read them all with
        :func:`load_scorecard_ratings`).

    Returns
    -------
    RatingsTable
        Items in order of first appearance, raters sorted; ``consensus`` is None.

    Raises
    ------
    AnchorError
        Listing every problem with ``file:line`` (CSV lines count the header as line 1):
        a missing column, a non-numeric score, a duplicate (item_id, rater_id) pair (both
        lines named), an off-scale score, an empty file; a file of several criteria without
        ``criterion``, or a ``criterion`` the file does not hold.

    Notes
    -----
    An empty score (or JSON null) is *missing*; ``NA`` or ``N/A`` (any case) is *not
    applicable*. Both are NaN in ``scores``; ``na`` marks the N/A cells.
    """
    if scale is not None:
        lo, hi = float(scale[0]), float(scale[1])
        if not lo < hi:
            raise ValueError(f"scale min must be below max, got {scale!r}")
        scale = (lo, hi)
    tables, has_criterion = _read_tables(path, scale=scale, specs=None, wide=False, one=True,
                                         only=criterion)
    if not has_criterion and criterion is not None:
        raise _Collector(str(path)).fail(1, CRITERION_COLUMN, (
            f"criterion {criterion!r} was asked for, but the file has no "
            f"{CRITERION_COLUMN!r} column"))
    return next(iter(tables.values()))


def load_scorecard_ratings(
    path: str | Path,
    criteria: Scorecard | Sequence[Criterion] | None = None,
) -> dict[str, RatingsTable]:
    """Read a ratings file of several criteria: one table per criterion.

    Parameters
    ----------
    path : str or Path
        A long file (``item_id,rater_id,criterion,score``, CSV or JSONL) or a wide CSV
        (``item_id,rater_id,<criterion>,<criterion>...``: one row per (item, rater), one
        column per criterion).
    criteria : Scorecard or sequence of Criterion, optional
        The scorecard the scores belong to. When given, every criterion named must be one
        of its criteria; labels become their codes (the criterion views' scales); ``NA``
        is an error on a criterion without ``na_allowed``; scores must lie on each scale;
        in a wide file, columns that are not criteria are ignored and an empty cell of a
        criterion with ``na_allowed`` is N/A (elsewhere an empty cell is missing). Without
        it, every score must be a number and every further column of a wide CSV is a
        criterion.

    Returns
    -------
    dict of str to RatingsTable
        Criterion id -> its table (items in order of first appearance, raters sorted), in
        the scorecard's order when ``criteria`` is given, else in order of appearance.

    Raises
    ------
    AnchorError
        Every problem with ``file:line``: those of :func:`load_ratings`, an unknown
        criterion (with a "did you mean"), a label the criterion does not have, ``NA``
        where it is not allowed, a long file without a ``criterion`` column.
    """
    specs: dict[str, Criterion] | None = None
    if criteria is not None:
        seq = criteria.criteria if hasattr(criteria, "criteria") else criteria
        specs = {c.id: c for c in seq}
    tables, has_criterion = _read_tables(path, scale=None, specs=specs, wide=True)
    if not has_criterion:
        raise _Collector(str(path)).fail(1, CRITERION_COLUMN, (
            f"no {CRITERION_COLUMN!r} column: a scorecard's long file has "
            "item_id,rater_id,criterion,score (or use a wide CSV: item_id,rater_id,<criterion>"
            "...); a one-criterion file is read with load_ratings"))
    order = list(specs) if specs is not None else [c for c in tables if c is not None]
    return {c: tables[c] for c in order if c in tables}
