"""Reading an anchor set (JSONL: header line + one item per line) with located errors."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath
from typing import Any, TypeVar

import numpy as np
from pydantic import BaseModel, ValidationError

from harness._numbers import parse_number
from harness._say import scale_text

from ._errors import AnchorError, Problem, _Collector, no_such_file
from ._json import parse_json_line
from ._ratings import RatingsTable, build_table, load_ratings, natural_key
from ._schema import (
    NA,
    SPLITS,
    AnchorItem,
    AnchorSetMeta,
    Criterion,
    CriterionScale,
    fmt_num,
    map_validation_error,
    show,
)

HEADER_KEY = "judgecal_anchor_set"

M = TypeVar("M", bound=BaseModel)
H = TypeVar("H", bound=BaseModel)

#: A ``rubric_file`` larger than this is refused (a rubric is a page of text, not a corpus).
MAX_RUBRIC_BYTES = 1_000_000


def normalize_output(text: str) -> str:
    """The form in which outputs are compared for leakage: whitespace collapsed, case-folded."""
    return " ".join(text.split()).casefold()


@dataclass(eq=False)
class AnchorSet:
    """A loaded anchor set.

    Attributes
    ----------
    path : Path
        The set file.
    meta : AnchorSetMeta
        The header, with ``rubric`` holding the rubric text (read from ``rubric_file`` if
        the header names one).
    items : list of AnchorItem
        The items in file order; ``item.line`` is the file line.
    content_hash : str
        SHA-256 (hex) of the set file's bytes, followed, when the header names a
        ``rubric_file``, by a NUL byte and the rubric file's bytes.
    subset : str or None
        ``"calibration"`` or ``"holdout"`` for a set made by :meth:`split`, else None.
    criterion_spec : Criterion or None
        For a view on one criterion (or the total) of a scorecard: that criterion as the
        scorecard declares it. None for a single-criterion file (:attr:`spec` then describes
        the header's criterion).

    Notes
    -----
    A single-criterion set is the one-question case of a scorecard: :attr:`criteria` is its
    own criterion and :meth:`criterion` returns the set itself. A view made by
    :meth:`Scorecard.criterion <harness.anchors.Scorecard.criterion>` is an ordinary
    ``AnchorSet`` (its ``meta.scale``, ratings and consensus are that criterion's), so every
    consumer of anchor sets can use it unchanged.
    """

    path: Path
    meta: AnchorSetMeta
    items: list[AnchorItem]
    content_hash: str
    subset: str | None = field(default=None)
    criterion_spec: Criterion | None = field(default=None)

    def __len__(self) -> int:
        return len(self.items)

    def items_hash(self, split: str | None = None) -> str:
        """SHA-256 of the items of one split (all items if None), independent of the file.

        Covers every field of those items, the header's scale and consensus rule, and the
        rubric text (inline or read from ``rubric_file``: the rubric the raters scored by),
        so a gate can tell whether the holdout changed since a version was calibrated,
        while edits to the other split or to the file's layout do not count.
        """
        items = [it for it in self.items if split is None or it.split == split]
        payload = {
            "scale": self.meta.scale.model_dump(mode="json"),
            "consensus": self.meta.consensus,
            "rubric": self.meta.rubric,
            "items": [it.model_dump(mode="json") for it in items],
        }
        return _sha(payload)

    def split(self, name: str) -> AnchorSet:
        """The items of one split, as an anchor set with the same meta.

        Parameters
        ----------
        name : {"calibration", "holdout"}
            The split.

        Returns
        -------
        AnchorSet
            A subset (possibly empty) with ``subset == name``.
        """
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; use 'calibration' or 'holdout'")
        return replace(self, items=[it for it in self.items if it.split == name], subset=name)

    # ---------------------------------------------------------------- criteria

    @property
    def spec(self) -> Criterion:
        """The criterion this set scores (for a single-criterion file, built from its header).

        A label criterion's view has a numeric ``meta.scale`` of codes ``0 .. k-1``;
        ``spec.kind`` (``"numeric"``, ``"ordinal"`` or ``"nominal"``) tells which statistic
        fits it.
        """
        if self.criterion_spec is not None:
            return self.criterion_spec
        m = self.meta
        return Criterion.model_construct(
            id=m.criterion, label=m.criterion, rubric=m.rubric or "",
            scale=CriterionScale.model_construct(min=m.scale.min, max=m.scale.max,
                                                 labels=m.scale.labels, levels=None,
                                                 ordered=None),
            na_allowed=m.na_allowed, weight=1.0, critical=False, pass_mark=None, values=None,
            consensus=None,
        )

    @property
    def criteria(self) -> list[Criterion]:
        """The criteria of the set: one, its own (see :attr:`spec`)."""
        return [self.spec]

    @property
    def criterion_ids(self) -> list[str]:
        """``[spec.id]``."""
        return [self.spec.id]

    def criterion(self, criterion_id: str) -> AnchorSet:
        """The view on one criterion: for a one-criterion set, the set itself.

        Raises
        ------
        KeyError
            When ``criterion_id`` is not this set's criterion.
        """
        if criterion_id != self.spec.id:
            raise KeyError(f"{self.path} scores the criterion {self.spec.id!r}, not "
                           f"{criterion_id!r}")
        return self

    def spec_hash(self) -> str:
        """SHA-256 of what a judge is asked: criterion id, scale, N/A rule and rubric text.

        Changes when the criterion's wording or scale changes, not when ratings do: the
        key under which judgments of this criterion can be kept.
        """
        spec = self.spec
        payload = {"criterion": spec.id, "scale": spec.scale.model_dump(mode="json"),
                   "na_allowed": self.meta.na_allowed, "rubric": self.meta.rubric}
        return _sha(payload)

    def criterion_hash(self) -> str:
        """SHA-256 of the criterion (:meth:`spec_hash`) and all its items (:meth:`items_hash`).

        Changes when the criterion's rubric, scale, consensus rule or any of its items,
        ratings or consensus change, and not when another criterion of the same scorecard
        does. A numeric criterion of a scorecard and a single-criterion file with the same
        rubric, scale and items have the same hash.
        """
        return _sha({"spec": self.spec_hash(), "items": self.items_hash(None)})

    @property
    def rater_ids(self) -> list[str]:
        """Every rater id named in any item's ``ratings``, sorted (numbers as numbers)."""
        return sorted({r for it in self.items for r in it.ratings}, key=natural_key)

    def item(self, item_id: str) -> AnchorItem:
        """The item with this id (KeyError if there is none)."""
        for it in self.items:
            if it.id == item_id:
                return it
        raise KeyError(f"no item {item_id!r} in {self.path}")

    def consensus(self) -> dict[str, float | None]:
        """Item id -> consensus (explicit, or formed by the set's rule)."""
        return {it.id: it.formed_consensus(self.meta.consensus) for it in self.items}

    def to_ratings(self) -> RatingsTable:
        """The ratings as an items x raters table, with the consensus and the scale.

        Returns
        -------
        RatingsTable
            Rows in file order, raters as :attr:`rater_ids`; N/A and missing kept apart.
        """
        cells = {(it.id, r): v for it in self.items for r, v in it.ratings.items()}
        cons = [it.formed_consensus(self.meta.consensus) for it in self.items]
        source = str(self.path) + (f" ({self.subset})" if self.subset else "")
        return build_table(
            cells,
            [it.id for it in self.items],
            rater_ids=self.rater_ids,
            consensus=np.array([np.nan if c is None else c for c in cons], dtype=float),
            scale=(self.meta.scale.min, self.meta.scale.max),
            source=source,
        )


def _sha(payload: Any) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- reading


class _DupKeys:
    """``object_pairs_hook`` that remembers keys given twice in one JSON object."""

    def __init__(self) -> None:
        self.dups: list[str] = []

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in pairs:
            if k in out:
                self.dups.append(k)
            out[k] = v
        return out


def _parse_line(text: str, lineno: int, probs: _Collector) -> dict[str, Any] | None:
    hook = _DupKeys()
    try:
        obj = parse_json_line(text, object_pairs_hook=hook)
    except ValueError as exc:
        probs.add(lineno, None, str(exc))
        return None
    if not isinstance(obj, dict):
        probs.add(lineno, None, f"expected a JSON object, got {show(obj)[:40]}")
        return None
    for key in hook.dups:
        probs.add(lineno, key, "key given twice in one object (the last value would win)")
    return obj


def _lines(data: bytes, probs: _Collector) -> list[tuple[int, str]]:
    """Non-blank lines as (line number, text); undecodable lines become problems."""
    out = []
    for lineno, raw in enumerate(data.split(b"\n"), start=1):
        if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            probs.add(lineno, None, f"not valid UTF-8 at byte {exc.start + 1} of the line")
            continue
        if text.strip():
            out.append((lineno, text))
    return out


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _read_header(
    obj: dict[str, Any], lineno: int, set_path: Path, probs: _Collector
) -> AnchorSetMeta | None:
    if HEADER_KEY not in obj:
        hint = (" (it looks like an item: is the header line missing?)"
                if "id" in obj or "ratings" in obj else "")
        probs.add(lineno, None, f'not an anchor-set header: the first line must be '
                                f'{{"{HEADER_KEY}": 1, "name": ..., "criterion": ..., '
                                f'"scale": ..., ...}}{hint}')
        return None
    try:
        meta = AnchorSetMeta.model_validate(obj)
    except ValidationError as exc:
        for fld, msg in map_validation_error(AnchorSetMeta, exc):
            probs.add(lineno, fld, msg)
        return None
    ok = True
    scale = meta.scale
    if not scale.min < scale.max:
        probs.add(lineno, "scale", f"min ({fmt_num(scale.min)}) must be below max "
                                   f"({fmt_num(scale.max)})")
        ok = False
    elif scale.labels is not None:
        for key in scale.labels:
            try:
                point = parse_number(key)
            except ValueError:
                probs.add(lineno, f"scale.labels.{key}", "label keys must be scale points "
                                                          '(numbers written as strings, e.g. "1")')
                ok = False
                continue
            if not scale.contains(point):
                probs.add(lineno, f"scale.labels.{key}",
                          f"label for {key}, which is off the scale {scale.describe()}")
                ok = False
    if (meta.rubric is None) == (meta.rubric_file is None):
        probs.add(lineno, "rubric", "give exactly one of 'rubric' (the text) and "
                                    "'rubric_file' (a path relative to the set file)")
        return None
    meta = _inline_rubric_file(meta, set_path, lineno, probs)
    if meta is None:
        return None
    if not (meta.rubric or "").strip():
        probs.add(lineno, "rubric", "the rubric is empty")
        ok = False
    return meta if ok else None


def _inline_rubric_file(meta: H, set_path: Path, lineno: int, probs: _Collector) -> H | None:
    """The header with ``rubric`` read from its ``rubric_file`` (as it is without one);
    None when the file cannot be read (the problem is in ``probs``)."""
    if meta.rubric_file is None:
        return meta
    text = _read_rubric_file(meta.rubric_file, set_path, lineno, probs)
    if text is None:
        return None
    return meta.model_copy(update={"rubric": text})


def _read_rubric_file(name: str, set_path: Path, lineno: int, probs: _Collector) -> str | None:
    """The text of the header's ``rubric_file``, which must lie inside the set's directory.

    The path is resolved (symlinks included) before it is checked, so neither ``..``, an
    absolute path nor a symlink can make the loader read a file elsewhere (whose text would
    become the judge's instructions, sent to a provider).
    """
    base = set_path.parent.resolve()
    where = f"rubric file {name!r} must be a file inside the anchor set's directory ({base})"
    if not name.strip() or PurePath(name).is_absolute() or name.startswith("~"):
        probs.add(lineno, "rubric_file", f"{where}, given as a path relative to the set file; "
                                         "this is an absolute path")
        return None
    target = (set_path.parent / name).resolve()
    if not target.is_relative_to(base):
        probs.add(lineno, "rubric_file", f"{where}; this one leads outside it (to {target})")
        return None
    if not target.exists():
        probs.add(lineno, "rubric_file", f"rubric file {name!r} not found (looked for {target})")
        return None
    if not target.is_file():
        probs.add(lineno, "rubric_file", f"rubric file {name!r} is not a regular file")
        return None
    try:
        size = target.stat().st_size
        if size > MAX_RUBRIC_BYTES:
            probs.add(lineno, "rubric_file", f"rubric file {name!r} has {size} bytes; a rubric "
                                             f"has at most {MAX_RUBRIC_BYTES}")
            return None
        return target.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        probs.add(lineno, "rubric_file", f"rubric file {name!r} is not valid UTF-8 (at byte "
                                         f"{exc.start + 1})")
    except OSError as exc:
        probs.add(lineno, "rubric_file", f"cannot read rubric file {name!r}: "
                                         f"{exc.strerror or exc}")
    return None


def _check_item(
    obj: dict[str, Any],
    lineno: int,
    item_id: str | None,
    meta: AnchorSetMeta,
    bad_fields: set[str],
    probs: _Collector,
) -> None:
    """Checks that need the header: scale, N/A, consensus rule; on the raw object."""
    scale = meta.scale
    ratings = obj.get("ratings")
    n_numeric = 0
    if isinstance(ratings, dict):
        for rater, value in ratings.items():
            fld = f"ratings.{rater}"
            if not rater.strip():
                probs.add(lineno, "ratings", "empty rater id", item_id)
            if _is_number(value):
                n_numeric += 1
                if not scale.contains(value):
                    probs.add(lineno, fld, f"score {fmt_num(value)} is off the scale "
                                           f"{scale.describe()}", item_id)
            elif value == NA and not meta.na_allowed:
                probs.add(lineno, fld, '"NA" (not applicable) is not allowed: the header '
                                       "has na_allowed false", item_id)
    consensus = obj.get("consensus")
    if _is_number(consensus) and not scale.contains(consensus):
        probs.add(lineno, "consensus", f"consensus {fmt_num(consensus)} is off the scale "
                                       f"{scale.describe()}", item_id)
    if "consensus" in bad_fields or "ratings" in bad_fields:
        return
    if consensus is None and meta.consensus == "explicit":
        probs.add(lineno, "consensus", "the set's consensus rule is 'explicit', so every item "
                                       "needs a consensus", item_id)
    elif consensus is None and n_numeric == 0:
        detail = ""
        if isinstance(ratings, dict) and ratings:
            detail = " (every rating is N/A or missing)"
        probs.add(lineno, "ratings", f"no numeric ratings and no consensus{detail}: the item "
                                     "has no score to calibrate against", item_id)


def read_set_lines(path: str | Path) -> tuple[Path, bytes, _Collector, list[tuple[int, str]]]:
    """The bytes and non-blank lines of an anchor-set or scorecard file.

    Raises
    ------
    AnchorError
        For a missing, unreadable or empty file (one problem).
    """
    p = Path(path)
    probs = _Collector(str(path))
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise probs.fail(None, None, no_such_file(p, "anchor-set file")) from None
    except IsADirectoryError:
        raise probs.fail(None, None, "is a directory, not an anchor-set file") from None
    except OSError as exc:
        raise probs.fail(None, None, f"cannot read the file: {exc.strerror}") from None
    if not data.strip():
        raise probs.fail(None, None, f'file is empty; an anchor set starts with a header line '
                                     f'{{"{HEADER_KEY}": 1, ...}} followed by one item per line')
    lines = _lines(data, probs)
    if lines and lines[0][1].lstrip()[:1] not in ("{", "["):
        # not JSON at all (a ratings CSV, a text file): one problem, not one per line
        lineno, first = lines[0]
        hint = ("; a ratings CSV (item_id, rater_id, score) is read by `judgecal agree`"
                if "," in first else "")
        raise probs.fail(lineno, None, f"not an anchor set: its first line should be a JSON "
                         f'header {{"{HEADER_KEY}": 1, ...}}, found {first.strip()[:60]!r}'
                         f"{hint}")
    return p, data, probs, lines


def file_digest(data: bytes, rubric_file: str | None, rubric: str | None) -> str:
    """:attr:`AnchorSet.content_hash` of a file's bytes (and its rubric file's text)."""
    digest = hashlib.sha256(data)
    if rubric_file is not None:
        digest.update(b"\x00" + (rubric or "").encode("utf-8"))
    return digest.hexdigest()


def load_anchor_set(path: str | Path, criterion: str | None = None) -> AnchorSet:
    """Read and validate an anchor set file.

    Parameters
    ----------
    path : str or Path
        A JSONL anchor set: a header line, then one item per line (see ``anchors/README.md``).
    criterion : str, optional
        For a scorecard file (a header with ``criteria``): the criterion whose view to
        return, or ``"total"`` for the scorecard total (see :func:`load_scorecard`). For a
        single-criterion file it must name the file's own criterion.

    Returns
    -------
    AnchorSet
        The validated set (or the scorecard's view on ``criterion``).

    Raises
    ------
    AnchorError
        With every problem found (up to 50), each naming the file, line and field:
        malformed JSON (with the column), a missing or wrong header, unknown or missing
        fields, wrong types, off-scale scores or consensus, ``"NA"`` when N/A is not
        allowed, items without any score, duplicate ids, bad split values, and
        calibration/holdout leakage (the same output in both splits). A missing or empty
        file is a single problem. A scorecard file read without ``criterion``, or a
        ``criterion`` the file does not have, is an error too.
    """
    p, data, probs, lines = read_set_lines(path)
    if lines and is_scorecard_header(lines[0][1]):
        from ._scorecard import load_scorecard

        card = load_scorecard(path)
        if criterion is None:
            raise probs.fail(lines[0][0], "criteria", (
                f"this is a scorecard with {len(card.criteria)} criteria "
                f"({', '.join(card.criterion_ids)}): read it with load_scorecard, or choose "
                "one criterion (or 'total')"))
        try:
            return card.criterion(criterion)
        except KeyError as exc:
            raise probs.fail(lines[0][0], "criteria", exc.args[0]) from None
    aset = _load_single(p, data, probs, lines)
    if criterion is not None and criterion != aset.meta.criterion:
        raise probs.fail(lines[0][0], "criterion", (
            f"the set scores the criterion {aset.meta.criterion!r}, not {criterion!r}"))
    return aset


def is_scorecard_header(text: str) -> bool:
    """Whether a first line is a scorecard header (an anchor-set header with ``criteria``)."""
    try:
        obj = parse_json_line(text)
    except ValueError:
        return False
    return isinstance(obj, dict) and HEADER_KEY in obj and "criteria" in obj


def _load_single(
    p: Path, data: bytes, probs: _Collector, lines: list[tuple[int, str]]
) -> AnchorSet:
    meta: AnchorSetMeta | None = None
    header_ok = False
    if lines:
        lineno, text = lines[0]
        obj = _parse_line(text, lineno, probs)
        if obj is not None:
            meta = _read_header(obj, lineno, p, probs)
        header_ok = meta is not None

    check = None
    if meta is not None:
        def check(obj: dict[str, Any], item: AnchorItem | None, lineno: int,
                  item_id: str | None, bad_fields: set[str]) -> None:
            _check_item(obj, lineno, item_id, meta, bad_fields, probs)

    items = _read_items(lines, AnchorItem, probs, check)
    if header_ok and len(lines) == 1:
        probs.add(None, None, "no items after the header")
    _check_leakage(items, probs)
    probs.raise_if_any()
    assert meta is not None
    return AnchorSet(p, meta, items, file_digest(data, meta.rubric_file, meta.rubric))


def _read_items(
    lines: list[tuple[int, str]],
    model: type[M],
    probs: _Collector,
    check: Callable[[dict[str, Any], M | None, int, str | None, set[str]], None] | None,
) -> list[M]:
    """The items of a set file's lines after the header, each validated as ``model``.

    Parameters
    ----------
    lines : list of (int, str)
        The file's non-blank lines (the first is the header, which is skipped).
    model : type
        The pydantic item model (an anchor item or a scorecard item).
    probs : _Collector
        Where problems go, each located at its line: a bad JSON line, a second header,
        a validation error, an empty output, a duplicate id.
    check : callable or None
        Called as ``check(obj, item, lineno, item_id, bad_fields)`` after validation for the
        checks that need the header (``item`` is None when validation failed; ``bad_fields``
        names the top-level fields that failed it); None when the header is unreadable.

    Returns
    -------
    list
        The items that validated, in file order, each carrying its line; an item whose id
        repeats an earlier one is left out.
    """
    items: list[M] = []
    first_line_of: dict[str, int] = {}
    for lineno, text in lines[1:]:
        obj = _parse_line(text, lineno, probs)
        if obj is None:
            continue
        if HEADER_KEY in obj:
            probs.add(lineno, None, "a second header line; only the first line is the header")
            continue
        raw_id = obj.get("id")
        item_id = raw_id if isinstance(raw_id, str) and raw_id else None
        bad_fields: set[str] = set()
        item: M | None = None
        try:
            item = model.model_validate(obj)
        except ValidationError as exc:
            errors = map_validation_error(model, exc)
            for fld, msg in errors:
                probs.add(lineno, fld, msg, item_id)
            bad_fields = {(fld or "").split(".")[0].split("[")[0] for fld, _ in errors}
        if check is not None:
            check(obj, item, lineno, item_id, bad_fields)
        if isinstance(obj.get("output"), str) and not obj["output"].strip():
            probs.add(lineno, "output", "the output (the text being judged) is empty", item_id)
        if item_id is not None:
            if item_id in first_line_of:
                probs.add(lineno, "id", f"duplicate id {item_id!r} (also on line "
                                        f"{first_line_of[item_id]})", item_id)
                continue
            first_line_of[item_id] = lineno
        if item is not None:
            item._line = lineno
            items.append(item)
    return items


def _check_leakage(items: list[AnchorItem], probs: _Collector) -> None:
    """Report every holdout item whose output also appears in the calibration split."""
    calibration: dict[str, AnchorItem] = {}
    for it in items:
        if it.split == "calibration":
            calibration.setdefault(normalize_output(it.output), it)
    for it in items:
        if it.split != "holdout":
            continue
        twin = calibration.get(normalize_output(it.output))
        if twin is not None:
            probs.add(it.line, "output", f"leakage: the same output as calibration item "
                                         f"{twin.id!r} (line {twin.line}); an output must not "
                                         "appear in both splits", it.id)


# --------------------------------------------------------------------------- dispatch


def _is_anchor_set_file(path: Path) -> bool:
    if path.suffix.lower() != ".jsonl":
        return False
    try:
        with path.open("rb") as fh:
            for raw in fh:
                if raw.strip():
                    return HEADER_KEY.encode() in raw
    except OSError:
        return False
    return False


def open_ratings(
    path: str | Path,
    scale: tuple[float, float] | None = None,
    split: str | None = None,
    criterion: str | None = None,
) -> RatingsTable:
    """Ratings from an anchor set or from a long-format ratings file, whichever ``path`` is.

    Parameters
    ----------
    path : str or Path
        An anchor set (``.jsonl`` whose first line is the ``judgecal_anchor_set`` header)
        or a long-format ``.csv`` / ``.jsonl`` ratings file.
    scale : tuple of float, optional
        ``(min, max)``. For a ratings file, see :func:`load_ratings`; for an anchor set it
        must match the set's own scale.
    split : {"calibration", "holdout"}, optional
        Only that split of an anchor set (an error for a ratings file).
    criterion : str, optional
        One criterion of a scorecard (or ``"total"``), or of a ratings file with a
        ``criterion`` column (see :func:`load_anchor_set` and :func:`load_ratings`).

    Returns
    -------
    RatingsTable
        With the consensus for an anchor set; without it for a ratings file.

    Raises
    ------
    AnchorError
        For any problem reading the file, an empty split, a split asked of a ratings file,
        or a scale that contradicts the anchor set's.
    """
    p = Path(path)
    shown = str(path)
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use 'calibration' or 'holdout'")
    if not _is_anchor_set_file(p):
        if split is not None:
            raise AnchorError([Problem(shown, None, "split", f"split {split!r} applies only to "
                                       "anchor sets; this is a long-format ratings file")])
        return load_ratings(p, scale=scale, criterion=criterion)
    aset = load_anchor_set(p, criterion=criterion)
    if scale is not None and (float(scale[0]), float(scale[1])) != (aset.meta.scale.min,
                                                                    aset.meta.scale.max):
        raise AnchorError([Problem(
            shown, None, "scale",
            f"the scale {scale_text(scale[0], scale[1])} was asked for, but the anchor "
            f"set's scale is {aset.meta.scale.describe()}",
        )])
    if split is not None:
        aset = aset.split(split)
        if not aset.items:
            raise AnchorError([Problem(shown, None, "split", f"the set has no {split} items")])
    return aset.to_ratings()
