"""Scorecards: anchor sets whose items are scored on several criteria, and their total.

A scorecard file is an anchor-set file whose header declares ``criteria`` (see
``docs/scorecards.md``). :func:`load_scorecard` reads it (or a single-criterion file, as the
one-question case) into a :class:`Scorecard`; :meth:`Scorecard.criterion` gives, per
criterion, an ordinary :class:`~harness.anchors.AnchorSet` (that criterion's scale, ratings,
consensus and rubric) and :meth:`Scorecard.total` one on the total (0–1).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness._numbers import parse_number

from ._errors import _Collector
from ._load import (
    AnchorSet,
    _check_leakage,
    _inline_rubric_file,
    _parse_line,
    _read_items,
    file_digest,
    is_scorecard_header,
    read_set_lines,
)
from ._ratings import natural_key
from ._schema import (
    NA,
    RESERVED_CRITERION_IDS,
    AnchorItem,
    AnchorSetMeta,
    Criterion,
    CriterionScale,
    Scale,
    ScorecardItem,
    ScorecardMeta,
    fmt_num,
    map_validation_error,
    show,
)

#: The id of the scorecard total's view.
TOTAL = "total"
_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
#: Header keys of a single-criterion set that a scorecard gives per criterion instead.
_SINGLE_ONLY = ("criterion", "scale", "na_allowed")

#: A score as the views hold it: a number (a label's code), ``"NA"`` or None (missing).
Value = float | str | None


# --------------------------------------------------------------------------- the total


def scorecard_total(criteria: list[Criterion], values: Mapping[str, Value]) -> Value:
    """The scorecard total of one rater's (or the consensus's, or a judge's) scores.

    Parameters
    ----------
    criteria : list of Criterion
        The scorecard's criteria.
    values : mapping of str to float, str or None
        Criterion id -> a value on the criterion view's scale (a number; for a label
        criterion its code ``0 .. k-1`` or the label itself), ``"NA"`` (not applicable) or
        None / absent (missing).

    Returns
    -------
    float, "NA" or None
        ``0.0`` when any critical criterion fails (see :meth:`Criterion.fails`); else the
        weighted mean of :meth:`Criterion.unit` over the criteria that are not N/A,
        ``sum(w_c * u_c) / sum(w_c)``, in ``[0, 1]``. ``"NA"`` when every criterion is N/A
        (or the applicable ones all have weight 0); None when a criterion is missing and no
        critical criterion has failed.

    Raises
    ------
    ValueError
        For an unknown criterion id, an unknown label, or ``"NA"`` on a criterion without
        ``na_allowed``.

    Examples
    --------
    >>> tone = Criterion(id="tone", label="Tone", rubric="r",
    ...                  scale=CriterionScale(min=1, max=5), weight=1.0)
    >>> ok = Criterion(id="resolved", label="Resolved?", rubric="r",
    ...                scale=CriterionScale(levels=["fail", "pass"]), weight=3.0,
    ...                critical=True, pass_mark="pass")
    >>> scorecard_total([tone, ok], {"tone": 4, "resolved": "pass"})
    0.9375
    >>> scorecard_total([tone, ok], {"tone": 5, "resolved": "fail"})
    0.0
    """
    known = {c.id for c in criteria}
    unknown = [k for k in values if k not in known]
    if unknown:
        raise ValueError(f"unknown criterion {unknown[0]!r}; the criteria are "
                         f"{', '.join(c.id for c in criteria)}")
    coded: dict[str, Value] = {}
    for c in criteria:
        v = values.get(c.id)
        if v == NA:
            if not c.na_allowed:
                raise ValueError(f"criterion {c.id!r} does not allow N/A")
        elif isinstance(v, str):
            if c.scale.levels is None or v not in c.scale.levels:
                raise ValueError(f"{v!r} is not a label of criterion {c.id!r}")
            v = c.code(v)
        coded[c.id] = v
    if any(c.critical and isinstance(coded[c.id], float | int) and c.fails(float(coded[c.id]))
           for c in criteria):
        return 0.0
    if any(coded[c.id] is None for c in criteria):
        return None
    num = den = 0.0
    for c in criteria:
        v = coded[c.id]
        if isinstance(v, float | int):
            num += c.weight * c.unit(float(v))
            den += c.weight
    return NA if den == 0 else num / den


# --------------------------------------------------------------------------- the scorecard


@dataclass(eq=False)
class Scorecard:
    """A loaded scorecard: items scored on several criteria.

    Attributes
    ----------
    path : Path
        The file.
    meta : ScorecardMeta
        The header; ``rubric`` holds the common rubric text (read from ``rubric_file`` when
        the header names one), or None.
    items : list of ScorecardItem
        The items in file order.
    content_hash : str
        SHA-256 of the file's bytes (and of the rubric file's text, when named).
    subset : str or None
        ``"calibration"`` or ``"holdout"`` for a scorecard made by :meth:`split`.

    Notes
    -----
    For a single-criterion file read with :func:`load_scorecard`, :attr:`is_single` is True
    and :meth:`criterion` returns the set exactly as :func:`load_anchor_set` reads it.
    """

    path: Path
    meta: ScorecardMeta
    items: list[ScorecardItem]
    content_hash: str
    subset: str | None = None
    single: AnchorSet | None = field(default=None, repr=False)
    _views: dict[str, AnchorSet] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def is_single(self) -> bool:
        """True for a single-criterion file (the one-question case)."""
        return self.single is not None

    @property
    def criteria(self) -> list[Criterion]:
        """The criteria, in header order."""
        return list(self.meta.criteria)

    @property
    def criterion_ids(self) -> list[str]:
        """The criteria's ids, in header order (``"total"`` not included)."""
        return [c.id for c in self.meta.criteria]

    def spec(self, criterion_id: str) -> Criterion:
        """The criterion with this id (KeyError naming the known ones if there is none)."""
        for c in self.meta.criteria:
            if c.id == criterion_id:
                return c
        close = get_close_matches(criterion_id, self.criterion_ids, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise KeyError(f"no criterion {criterion_id!r} in {self.path}{hint}; the criteria are "
                       f"{', '.join(self.criterion_ids)} (and {TOTAL!r})")

    @property
    def rater_ids(self) -> list[str]:
        """Every rater id named on any criterion of any item, sorted (numbers as numbers)."""
        return sorted({r for it in self.items for rs in it.ratings.values() for r in rs},
                      key=natural_key)

    def item(self, item_id: str) -> ScorecardItem:
        """The item with this id (KeyError if there is none)."""
        for it in self.items:
            if it.id == item_id:
                return it
        raise KeyError(f"no item {item_id!r} in {self.path}")

    def split(self, name: str) -> Scorecard:
        """The items of one split, as a scorecard (its views are the views' splits)."""
        if name not in ("calibration", "holdout"):
            raise ValueError(f"unknown split {name!r}; use 'calibration' or 'holdout'")
        single = None if self.single is None else self.single.split(name)
        return Scorecard(self.path, self.meta, [it for it in self.items if it.split == name],
                         self.content_hash, subset=name, single=single)

    # ---------------------------------------------------------------- views

    def criterion(self, criterion_id: str) -> AnchorSet:
        """The anchor set of one criterion (or of the total, for ``"total"``).

        Parameters
        ----------
        criterion_id : str
            A criterion id, or ``"total"``.

        Returns
        -------
        AnchorSet
            ``meta.criterion`` is the id; ``meta.scale`` the criterion's (a label scale as
            the codes ``0 .. k-1``, labelled); ``meta.rubric`` the header's rubric (if any),
            a blank line and the criterion's; items are those with a consensus on the
            criterion (an item every rater marked N/A on it is left out), with that
            criterion's ratings, consensus, rationale and edge case; ``criterion_spec`` the
            criterion. A label criterion's view has the rule ``"explicit"`` and every item
            carries its (formed) consensus.

        Raises
        ------
        KeyError
            For an unknown id.
        """
        if criterion_id == TOTAL:
            return self.total()
        spec = self.spec(criterion_id)
        if self.single is not None:
            return self.single
        if criterion_id not in self._views:
            self._views[criterion_id] = self._criterion_view(spec)
        return self._views[criterion_id]

    def views(self) -> dict[str, AnchorSet]:
        """Criterion id -> its view, in header order, then ``"total"``."""
        out = {cid: self.criterion(cid) for cid in self.criterion_ids}
        out[TOTAL] = self.total()
        return out

    def _rubric(self, spec: Criterion) -> str:
        common = (self.meta.rubric or "").strip("\n")
        return f"{common}\n\n{spec.rubric}" if common else spec.rubric

    def _view_meta(self, criterion: str, rubric: str, scale: Scale, consensus: str,
                   na_allowed: bool) -> AnchorSetMeta:
        m = self.meta
        return AnchorSetMeta.model_construct(
            format_version=1, name=f"{m.name}/{criterion}", criterion=criterion,
            description=m.description, rubric=rubric, rubric_file=None, scale=scale,
            consensus=consensus, na_allowed=na_allowed, source=m.source,
            attribution=m.attribution, licence=m.licence, version=m.version, parent=m.parent,
        )

    def _criterion_view(self, spec: Criterion) -> AnchorSet:
        labels = spec.kind != "numeric"
        rule = "explicit" if labels else (spec.consensus or self.meta.consensus)
        items = []
        for it in self.items:
            ratings = {r: _code(spec, v) for r, v in it.ratings.get(spec.id, {}).items()}
            explicit = it.consensus.get(spec.id)
            consensus = None if explicit is None else _code(spec, explicit)
            if labels and consensus is None:
                consensus = _majority(spec, ratings)
            view = AnchorItem.model_construct(
                id=it.id, input=it.input, output=it.output, reference=it.reference,
                context=it.context, ratings=ratings, consensus=consensus,
                rationale=it.note("rationale", spec.id), edge_case=it.note("edge_case", spec.id),
                source=it.source, split=it.split, tags=list(it.tags),
            )
            view._line = it.line
            if view.formed_consensus(rule) is not None:
                items.append(view)
        meta = self._view_meta(spec.id, self._rubric(spec), spec.scale.code_scale(), rule,
                               spec.na_allowed)
        return AnchorSet(self.path, meta, items, self.content_hash, subset=self.subset,
                         criterion_spec=spec)

    def total(self) -> AnchorSet:
        """The anchor set of the scorecard total (scale 0–1, continuous).

        Returns
        -------
        AnchorSet
            Per item, each rater's total (:func:`scorecard_total` of the rater's scores on
            every criterion: ``"NA"`` when all are N/A, None when the rater missed one) and,
            as the explicit consensus, the total of the criteria's consensus (an item every
            criterion of which is N/A is left out). ``meta.criterion`` is ``"total"``,
            ``meta.consensus`` ``"explicit"``, ``meta.rubric`` the whole scorecard's rubric
            with each criterion's weight, pass mark and criticality (so the view's hashes
            change when any of them does).
        """
        if TOTAL in self._views:
            return self._views[TOTAL]
        crit_views = {cid: self.criterion(cid) for cid in self.criterion_ids}
        cons: dict[str, dict[str, float]] = {}
        for cid, view in crit_views.items():
            rule = view.meta.consensus
            cons[cid] = {}
            for vi in view.items:
                c = vi.formed_consensus(rule)
                if c is not None:
                    cons[cid][vi.id] = c
        by_id = {cid: {vi.id: vi for vi in v.items} for cid, v in crit_views.items()}
        items = []
        for it in self.items:
            cons_values: dict[str, Value] = {cid: cons[cid].get(it.id, NA)
                                             for cid in self.criterion_ids}
            total = scorecard_total(self.criteria, cons_values)
            if not isinstance(total, float):
                continue
            raters = sorted({r for cid in self.criterion_ids for r in it.ratings.get(cid, {})},
                            key=natural_key)
            ratings: dict[str, Value] = {}
            for r in raters:
                values: dict[str, Value] = {}
                for cid in self.criterion_ids:
                    vi = by_id[cid].get(it.id)
                    values[cid] = NA if vi is None else vi.ratings.get(r)
                ratings[r] = scorecard_total(self.criteria, values)
            view = AnchorItem.model_construct(
                id=it.id, input=it.input, output=it.output, reference=it.reference,
                context=it.context, ratings=ratings, consensus=total,
                rationale=it.rationale if isinstance(it.rationale, str) else None,
                edge_case=it.edge_case if isinstance(it.edge_case, str) else None,
                source=it.source, split=it.split, tags=list(it.tags),
            )
            view._line = it.line
            items.append(view)
        spec = Criterion.model_construct(
            id=TOTAL, label="Total", rubric=self.total_rubric(),
            scale=CriterionScale.model_construct(min=0.0, max=1.0, labels=None, levels=None,
                                                 ordered=None),
            na_allowed=True, weight=1.0, critical=False, pass_mark=None, values=None,
            consensus="explicit",
        )
        meta = self._view_meta(TOTAL, spec.rubric, Scale(min=0.0, max=1.0), "explicit", True)
        self._views[TOTAL] = AnchorSet(self.path, meta, items, self.content_hash,
                                       subset=self.subset, criterion_spec=spec)
        return self._views[TOTAL]

    def total_rubric(self) -> str:
        """The whole scorecard's rubric: the common text, then each criterion with its terms."""
        parts = []
        if (self.meta.rubric or "").strip():
            parts.append(self.meta.rubric or "")
        parts.append("Total: the weighted mean of the applicable criteria on a common 0-1 "
                     "scale; a failed critical criterion makes the total 0.")
        for c in self.criteria:
            terms = [f"scale {c.scale.describe()}", f"weight {fmt_num(c.weight)}"]
            if c.na_allowed:
                terms.append("N/A allowed")
            if c.pass_mark is not None:
                terms.append(f"pass mark {show(c.pass_mark)}")
            if c.values is not None:
                terms.append(f"values {show(c.values)}")
            if c.critical:
                terms.append("critical")
            parts.append(f"## {c.label} ({c.id}; {', '.join(terms)})\n\n{c.rubric}")
        return "\n\n".join(parts)

    def total_of(self, values: Mapping[str, Value]) -> Value:
        """:func:`scorecard_total` with this scorecard's criteria."""
        return scorecard_total(self.criteria, values)


def _code(spec: Criterion, value: Any) -> Value:
    """A stored value as the view holds it: a label as its code; numbers and NA as they are."""
    if isinstance(value, str) and value != NA:
        return spec.code(value)
    return value


def _majority(spec: Criterion, ratings: Mapping[str, Value]) -> float | None:
    """The most frequent label's code; a tie goes to the lowest (stricter) ordered level."""
    counts = Counter(v for v in ratings.values() if isinstance(v, float))
    if not counts:
        return None
    top = max(counts.values())
    return min(code for code, n in counts.items() if n == top)


# --------------------------------------------------------------------------- reading


def load_scorecard(path: str | Path) -> Scorecard:
    """Read and validate a scorecard file (or a single-criterion file, as one question).

    Parameters
    ----------
    path : str or Path
        A JSONL file whose header declares ``criteria`` (see ``docs/scorecards.md``), or
        an ordinary single-criterion anchor set.

    Returns
    -------
    Scorecard
        For a single-criterion file, a one-criterion scorecard whose ``criterion(id)`` is
        the set as :func:`~harness.anchors.load_anchor_set` reads it.

    Raises
    ------
    AnchorError
        Every problem found (up to 50), each as ``file:line: item 'id': field: message``:
        besides those of a single-criterion set, a criterion's bad id, scale, pass mark,
        values or consensus rule; a rating on an unknown criterion, a label a criterion
        does not have, a number on a label criterion, ``"NA"`` where the criterion does not
        allow it, an item with no score on a criterion, and an unordered label criterion
        whose raters split evenly with no explicit consensus.
    """
    p, data, probs, lines = read_set_lines(path)
    if not lines or not is_scorecard_header(lines[0][1]):
        from ._load import load_anchor_set

        aset = load_anchor_set(path)
        return _from_single(aset)
    lineno, text = lines[0]
    obj = _parse_line(text, lineno, probs)
    meta = None if obj is None else _read_header(obj, lineno, p, probs)
    check = None
    if meta is not None:
        def check(obj: dict[str, Any], item: ScorecardItem | None, lineno: int,
                  item_id: str | None, bad_fields: set[str]) -> None:
            if item is not None:
                _check_item(item, lineno, meta, probs)

    items = _read_items(lines, ScorecardItem, probs, check)
    if meta is not None and len(lines) == 1:
        probs.add(None, None, "no items after the header")
    _check_leakage(items, probs)
    probs.raise_if_any()
    assert meta is not None
    return Scorecard(p, meta, items, file_digest(data, meta.rubric_file, meta.rubric))


def _from_single(aset: AnchorSet) -> Scorecard:
    m = aset.meta
    spec = aset.spec
    meta = ScorecardMeta.model_construct(
        format_version=1, name=m.name, description=m.description, rubric=None,
        rubric_file=None, criteria=[spec], consensus=m.consensus, source=m.source,
        attribution=m.attribution, licence=m.licence, version=m.version, parent=m.parent,
    )
    items = []
    for it in aset.items:
        card_item = ScorecardItem.model_construct(
            id=it.id, input=it.input, output=it.output, reference=it.reference,
            context=it.context, ratings={spec.id: dict(it.ratings)},
            consensus={} if it.consensus is None else {spec.id: it.consensus},
            rationale=it.rationale, edge_case=it.edge_case, source=it.source, split=it.split,
            tags=list(it.tags),
        )
        card_item._line = it.line
        items.append(card_item)
    return Scorecard(aset.path, meta, items, aset.content_hash, subset=aset.subset, single=aset)


def _read_header(
    obj: dict[str, Any], lineno: int, set_path: Path, probs: _Collector
) -> ScorecardMeta | None:
    ok = True
    for key in _SINGLE_ONLY:
        if key in obj:
            probs.add(lineno, key, f"a scorecard header (one with 'criteria') has no {key!r}: "
                                   "each criterion declares its own id, scale and na_allowed")
            ok = False
    clean = {k: v for k, v in obj.items() if k not in _SINGLE_ONLY}
    try:
        meta = ScorecardMeta.model_validate(clean)
    except ValidationError as exc:
        for fld, msg in map_validation_error(ScorecardMeta, exc):
            probs.add(lineno, fld, msg)
        return None
    seen: dict[str, int] = {}
    for i, c in enumerate(meta.criteria):
        where = f"criteria[{i}]"
        if not _ID.fullmatch(c.id):
            probs.add(lineno, f"{where}.id", f"criterion id {c.id!r} must start with a letter "
                                             "and hold only letters, digits, '_' and '-'")
            ok = False
        elif c.id in RESERVED_CRITERION_IDS:
            probs.add(lineno, f"{where}.id", f"{c.id!r} is reserved (the total or a ratings "
                                             "column); choose another id")
            ok = False
        if c.id in seen:
            probs.add(lineno, f"{where}.id", f"duplicate criterion id {c.id!r} (also "
                                             f"criteria[{seen[c.id]}])")
            ok = False
        seen.setdefault(c.id, i)
        ok = _check_criterion(c, where, lineno, probs) and ok
    if meta.criteria and not any(c.weight > 0 for c in meta.criteria):
        probs.add(lineno, "criteria", "every criterion has weight 0: the total has nothing to "
                                      "average")
        ok = False
    if meta.rubric is not None and meta.rubric_file is not None:
        probs.add(lineno, "rubric", "give at most one of 'rubric' (the common text) and "
                                    "'rubric_file'")
        return None
    meta = _inline_rubric_file(meta, set_path, lineno, probs)
    return meta if ok else None


def _check_criterion(c: Criterion, where: str, lineno: int, probs: _Collector) -> bool:
    """Checks of one criterion that pydantic cannot make; True when it passed them."""
    n = len(probs.problems) + probs.n_more

    def bad(fld: str, message: str) -> None:
        probs.add(lineno, f"{where}.{fld}", f"criterion {c.id!r}: {message}")

    s = c.scale
    if not c.rubric.strip():
        bad("rubric", "the rubric is empty")
    if s.levels is None:
        if s.min is None or s.max is None:
            bad("scale", "give 'min' and 'max' (a numeric scale) or 'levels' (labels)")
        elif not s.min < s.max:
            bad("scale", f"min ({fmt_num(s.min)}) must be below max ({fmt_num(s.max)})")
        else:
            for key in s.labels or {}:
                try:
                    on_scale = s.min <= parse_number(key) <= s.max
                except ValueError:
                    on_scale = False
                if not on_scale:
                    bad(f"scale.labels.{key}", f"label keys must be points of the scale "
                                               f"{s.describe()}, written as strings")
        if s.ordered is not None:
            bad("scale.ordered", "'ordered' applies to a label scale ('levels')")
        if c.pass_mark is not None and not (
            isinstance(c.pass_mark, float | int) and s.min is not None and s.max is not None
            and s.min <= c.pass_mark <= s.max
        ):
            bad("pass_mark", f"a numeric criterion's pass mark is a number on its scale, got "
                             f"{show(c.pass_mark)}")
        if c.values is not None:
            bad("values", "'values' applies to an unordered label scale")
        if c.consensus == "majority":
            bad("consensus", "'majority' applies to label criteria; use mean, median or "
                             "explicit")
    else:
        if s.min is not None or s.max is not None or s.labels is not None:
            bad("scale", "a label scale has 'levels' (and 'ordered'), not min, max or labels")
        if len(s.levels) < 2:
            bad("scale.levels", "a label scale needs at least 2 levels")
        if len(set(s.levels)) != len(s.levels):
            bad("scale.levels", "a level is listed twice")
        for lv in s.levels:
            if not lv.strip() or lv.strip().upper() in ("NA", "N/A"):
                bad("scale.levels", f"{show(lv)} cannot be a level (empty, or the N/A mark)")
        passing = c.pass_mark if isinstance(c.pass_mark, list) else [c.pass_mark]
        if c.pass_mark is not None:
            if c.kind == "ordinal" and not isinstance(c.pass_mark, str):
                bad("pass_mark", "an ordered label scale's pass mark is one level (it and the "
                                 "levels above it pass)")
            elif isinstance(c.pass_mark, float | int) or not passing:
                bad("pass_mark", f"a label criterion's pass mark is a level, got "
                                 f"{show(c.pass_mark)}")
            else:
                for lv in passing:
                    if lv not in s.levels:
                        bad("pass_mark", f"{show(lv)} is not a level ({s.describe()})")
        if c.values is not None:
            if c.kind != "nominal":
                bad("values", "'values' applies to an unordered label scale (ordered levels "
                              "count as rank / (levels - 1))")
            elif set(c.values) != set(s.levels):
                bad("values", f"give a value for each level and no other ({s.describe()})")
            for lv, v in c.values.items():
                if not 0 <= v <= 1:
                    bad(f"values.{lv}", f"value {fmt_num(v)} is not between 0 and 1")
        if c.kind == "nominal" and c.weight > 0 and c.values is None and c.pass_mark is None:
            bad("values", "an unordered label criterion in the total needs 'values' (label -> "
                          "0-1) or a 'pass_mark'; or give it weight 0")
        if c.consensus in ("mean", "median"):
            bad("consensus", f"{c.consensus!r} does not apply to labels; use majority or "
                             "explicit")
    if c.weight < 0:
        bad("weight", f"weight {fmt_num(c.weight)} is negative")
    if c.critical and c.pass_mark is None:
        bad("pass_mark", "a critical criterion needs a pass mark (what fails the item)")
    return len(probs.problems) + probs.n_more == n


def _check_item(item: ScorecardItem, lineno: int, meta: ScorecardMeta,
                probs: _Collector) -> None:
    """Checks of one item against the criteria: known ids, values on each scale, a score."""
    specs = {c.id: c for c in meta.criteria}
    ids = list(specs)

    def unknown(fld: str, key: str) -> None:
        close = get_close_matches(key, ids, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        probs.add(lineno, f"{fld}.{key}", f"unknown criterion{hint}; the criteria are "
                                          f"{', '.join(ids)}", item.id)

    for key in item.ratings:
        if key not in specs:
            unknown("ratings", key)
    for key in item.consensus:
        if key not in specs:
            unknown("consensus", key)
    for name in ("rationale", "edge_case"):
        note = getattr(item, name)
        if isinstance(note, dict):
            for key in note:
                if key not in specs:
                    unknown(name, key)
    for c in meta.criteria:
        ratings = item.ratings.get(c.id, {})
        for rater, value in ratings.items():
            fld = f"ratings.{c.id}.{rater}"
            if not rater.strip():
                probs.add(lineno, f"ratings.{c.id}", "empty rater id", item.id)
            msg = _value_problem(c, value)
            if msg:
                probs.add(lineno, fld, msg, item.id)
        consensus = item.consensus.get(c.id)
        if consensus is not None:
            msg = "an explicit consensus cannot be N/A" if consensus == NA else \
                _value_problem(c, consensus)
            if msg:
                probs.add(lineno, f"consensus.{c.id}", msg, item.id)
        scored = [v for v in ratings.values() if v is not None and v != NA]
        if consensus is None and not scored:
            if any(v == NA for v in ratings.values()) and c.na_allowed:
                continue  # the question does not apply to this item: left out of its view
            detail = " (every rating is missing)" if ratings else ""
            if c.consensus == "explicit":
                what = "the criterion's consensus rule is 'explicit', so it needs a consensus"
            else:
                what = "no ratings and no consensus: the item has no score on it"
            probs.add(lineno, f"ratings.{c.id}", f"criterion {c.id!r}: {what}{detail}", item.id)
        elif consensus is None and c.consensus == "explicit":
            probs.add(lineno, f"consensus.{c.id}", f"criterion {c.id!r}: its consensus rule "
                                                   "is 'explicit', so every item needs one",
                      item.id)
        elif consensus is None and c.kind == "nominal":
            counts = Counter(v for v in scored if isinstance(v, str))
            if counts:
                top = max(counts.values())
                tied = sorted(lv for lv, k in counts.items() if k == top)
                if len(tied) > 1:
                    probs.add(lineno, f"consensus.{c.id}", (
                        f"criterion {c.id!r}: raters split evenly between "
                        f"{', '.join(map(repr, tied))} on an unordered scale; give an explicit "
                        "consensus"), item.id)


def _value_problem(c: Criterion, value: Any) -> str | None:
    """What is wrong with one rating (or consensus) on criterion ``c``, or None."""
    if value is None:
        return None
    if value == NA:
        return None if c.na_allowed else (f'"NA" (not applicable) is not allowed: criterion '
                                          f"{c.id!r} has na_allowed false")
    if c.scale.levels is None:
        if isinstance(value, str):
            hint = ' (write "not applicable" as "NA")' if value.strip().upper() in (
                "NA", "N/A") else ""
            return f"score {show(value)} is not a number{hint}"
        assert c.scale.min is not None and c.scale.max is not None
        if not c.scale.min <= value <= c.scale.max:
            return f"score {fmt_num(value)} is off the scale {c.scale.describe()}"
        return None
    if not isinstance(value, str):
        return (f"{show(value if not float(value).is_integer() else int(value))} is not a "
                f"label; criterion {c.id!r} takes {c.scale.describe()}")
    if value not in c.scale.levels:
        if value.strip().upper() in ("NA", "N/A"):
            return 'write "not applicable" as the string "NA"'
        close = get_close_matches(value, c.scale.levels, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"{show(value)} is not a label of criterion {c.id!r} ({c.scale.describe()}){hint}"
    return None

