"""Pydantic models of the on-disk anchor-set format (header line and item lines)."""

from __future__ import annotations

import json
import math
import statistics
from difflib import get_close_matches
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    PrivateAttr,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from harness._say import scale_text, score_text

FORMAT_VERSION = 1
SPLITS = ("calibration", "holdout")
CONSENSUS_RULES = ("mean", "median", "explicit")
NA = "NA"

ConsensusRule = Literal["mean", "median", "explicit"]
SplitName = Literal["calibration", "holdout"]

_CONFIG = ConfigDict(extra="forbid", strict=True, frozen=False)


def fmt_num(x: float) -> str:
    """Format a score compactly: ``7`` for 7.0, ``3.5`` for 3.5 (see
    :func:`harness.reports.score_text`)."""
    return score_text(x)


def show(value: Any) -> str:
    """A value as it would appear in the JSON file (``true``, ``"four"``, ``null``)."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _check_rating(value: Any) -> float | str | None:
    """One value of ``ratings``: a finite number, the string ``"NA"``, or null."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise PydanticCustomError(
            "score_type", "score {value} is not a number (a boolean, not a score)",
            {"value": show(value)},
        )
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise PydanticCustomError("score_type", "score {value} is not a finite number",
                                      {"value": show(value)})
        return float(value)
    if isinstance(value, str):
        if value == NA:
            return NA
        if value.strip().upper() in ("NA", "N/A"):
            raise PydanticCustomError(
                "score_type", 'score {value}: write "not applicable" as the string "NA"',
                {"value": show(value)},
            )
        raise PydanticCustomError(
            "score_type",
            'score {value} is not a number (use a number, "NA" for not applicable, '
            "or null for missing)",
            {"value": show(value)},
        )
    raise PydanticCustomError(
        "score_type", "score {value} is not a number", {"value": show(value)}
    )


#: A rating as stored: a float score, ``"NA"`` (not applicable) or None (missing).
Rating = Annotated[float | str | None, PlainValidator(_check_rating)]


class Scale(BaseModel):
    """The rating scale: ``min`` and ``max`` score, and optional labels of the scale points.

    ``labels`` maps a scale point (as a string, e.g. ``"1"``) to its wording; None when the
    scale points carry no labels.
    """

    model_config = _CONFIG

    min: float = Field(allow_inf_nan=False)
    max: float = Field(allow_inf_nan=False)
    labels: dict[str, str] | None = None

    @property
    def range(self) -> float:
        """``max - min``."""
        return self.max - self.min

    @property
    def midpoint(self) -> float:
        """``(min + max) / 2``."""
        return (self.min + self.max) / 2

    def contains(self, score: float) -> bool:
        """Whether ``score`` lies on the scale (``min <= score <= max``)."""
        return self.min <= score <= self.max

    def describe(self) -> str:
        """``1–6``."""
        return scale_text(self.min, self.max)


class AnchorSetMeta(BaseModel):
    """The header line of an anchor set (line 1).

    After :func:`~harness.anchors.load_anchor_set`, ``rubric`` always holds the rubric
    text, read from ``rubric_file`` when the header names a file (``rubric_file`` then
    keeps the path as written).
    """

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    format_version: Literal[1] = Field(alias="judgecal_anchor_set")
    name: str = Field(min_length=1)
    criterion: str = Field(min_length=1)
    description: str | None = None
    rubric: str | None = None
    rubric_file: str | None = None
    scale: Scale
    consensus: ConsensusRule
    na_allowed: bool = False
    source: str | None = None
    attribution: str | None = None
    licence: str | None = None
    #: The set's version (1 for an original set; a calibration session writes v2, v3, ...).
    version: int = Field(default=1, ge=1)
    #: The file this version was derived from (a path relative to this file), or None.
    parent: str | None = None


class AnchorItem(BaseModel):
    """One anchor item (a line after the header).

    ``ratings`` maps rater id to a score (float), ``"NA"`` (the rater judged the item not
    applicable) or None (missing: the rater did not rate it). ``line`` is the file line the
    item was read from (0 when the item was built in code).
    """

    model_config = _CONFIG

    id: str = Field(min_length=1)
    input: str
    output: str
    reference: str | None = None
    context: str | None = None
    ratings: dict[str, Rating] = Field(default_factory=dict)
    consensus: float | None = Field(default=None, allow_inf_nan=False)
    rationale: str | None = None
    edge_case: str | None = None
    source: str | None = None
    split: SplitName
    tags: list[str] = Field(default_factory=list)

    _line: int = PrivateAttr(default=0)

    @property
    def line(self) -> int:
        """The file line this item was read from (0 if not read from a file)."""
        return self._line

    def numeric_ratings(self) -> dict[str, float]:
        """Rater id -> score, for the raters who gave a numeric score."""
        return {r: float(v) for r, v in self.ratings.items() if isinstance(v, float | int)}

    def na_raters(self) -> list[str]:
        """Rater ids that marked the item not applicable (``"NA"``)."""
        return [r for r, v in self.ratings.items() if v == NA]

    def missing_raters(self) -> list[str]:
        """Rater ids listed with ``null`` (missing) in ``ratings``."""
        return [r for r, v in self.ratings.items() if v is None]

    def formed_consensus(self, rule: str) -> float | None:
        """The item's consensus: the explicit ``consensus`` if given, else ``rule`` applied.

        Parameters
        ----------
        rule : {"mean", "median", "explicit"}
            The set's consensus rule. N/A and missing ratings are excluded.

        Returns
        -------
        float or None
            None when there is neither an explicit consensus nor a numeric rating (or the
            rule is ``"explicit"`` and none is given).
        """
        if self.consensus is not None:
            return float(self.consensus)
        values = list(self.numeric_ratings().values())
        if rule == "explicit" or not values:
            return None
        if rule == "mean":
            return math.fsum(values) / len(values)
        if rule == "median":
            return float(statistics.median(values))
        raise ValueError(f"unknown consensus rule {rule!r}; use one of {CONSENSUS_RULES}")


# ------------------------------------------------------------------ pydantic error mapping


def field_path(loc: tuple[Any, ...]) -> str | None:
    """``('ratings', 'rater_3')`` -> ``ratings.rater_3``; ``('tags', 0)`` -> ``tags[0]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or None


def _known_fields(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names (by alias) of the (sub)model an unknown key was found in."""
    current: Any = model
    for part in loc[:-1]:
        fields = getattr(current, "model_fields", None)
        if fields is None or part not in _aliases(current):
            return []
        name = _aliases(current)[part]
        current = fields[name].annotation
    if not hasattr(current, "model_fields"):
        return []
    return list(_aliases(current))


def _aliases(model: Any) -> dict[str, str]:
    return {(f.alias or n): n for n, f in model.model_fields.items()}


def map_validation_error(
    model: type[BaseModel], exc: ValidationError
) -> list[tuple[str | None, str]]:
    """Turn a pydantic error into ``(field, message)`` pairs in plain words."""
    out: list[tuple[str | None, str]] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        kind = err["type"]
        value = err.get("input")
        field = field_path(loc)
        if kind == "missing":
            msg = "required field is missing"
        elif kind == "extra_forbidden":
            msg = "unknown field"
            close = get_close_matches(str(loc[-1]), _known_fields(model, loc), n=1)
            if close:
                msg += f" (did you mean {close[0]!r}?)"
        elif kind == "score_type":
            msg = err["msg"]
        elif field == "judgecal_anchor_set" and kind == "literal_error":
            msg = (f"unsupported format version {show(value)} "
                   f"(this judgecal reads version {FORMAT_VERSION})")
        elif kind == "literal_error":
            msg = f"{show(value)} is not allowed; use {err['ctx']['expected']}"
        elif kind in ("string_type", "float_type", "int_type", "bool_type", "list_type",
                      "dict_type", "model_type"):
            expected = {
                "string_type": "a string", "float_type": "a number", "int_type": "an integer",
                "bool_type": "true or false", "list_type": "a list", "dict_type": "an object",
                "model_type": "an object",
            }[kind]
            msg = f"expected {expected}, got {show(value)}"
        elif kind == "string_too_short":
            msg = "must not be empty"
        elif kind == "finite_number":
            msg = f"{show(value)} is not a finite number"
        else:
            msg = err["msg"]
        out.append((field, msg))
    return out


# ------------------------------------------------------------------ scorecards (several criteria)

#: Criterion ids a scorecard may not use: the total's id and the columns of a ratings file.
RESERVED_CRITERION_IDS = ("total", "item_id", "rater_id", "criterion", "score")
#: Consensus rules of a label criterion (the set's mean/median apply to numeric criteria).
LABEL_CONSENSUS_RULES = ("majority", "explicit")
ScaleKind = Literal["numeric", "ordinal", "nominal"]


def _check_card_value(value: Any) -> float | str | None:
    """One rating or consensus value of a scorecard item: a finite number, a string or null.

    Whether a string is one of the criterion's labels (or ``"NA"``) is checked by the loader,
    which knows the criterion.
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise PydanticCustomError(
            "score_type", "score {value} is not a number or a label (a boolean, not a score)",
            {"value": show(value)},
        )
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise PydanticCustomError("score_type", "score {value} is not a finite number",
                                      {"value": show(value)})
        return float(value)
    raise PydanticCustomError(
        "score_type", "score {value} is not a number, a label, \"NA\" or null",
        {"value": show(value)},
    )


#: A scorecard rating as stored: a number, a label (or ``"NA"``), or None (missing).
CardValue = Annotated[float | str | None, PlainValidator(_check_card_value)]


class CriterionScale(BaseModel):
    """The scale of one scorecard criterion: numeric, or labels (ordered or not).

    Give either ``min`` and ``max`` (a numeric scale; ``labels`` may word its points, as in
    :class:`Scale`) or ``levels`` (a label scale such as ``["fail", "pass"]`` or
    ``["no", "partial", "yes"]``, worst first when ``ordered``).
    """

    model_config = _CONFIG

    min: float | None = Field(default=None, allow_inf_nan=False)
    max: float | None = Field(default=None, allow_inf_nan=False)
    labels: dict[str, str] | None = None
    levels: list[str] | None = None
    ordered: bool | None = None

    @property
    def kind(self) -> ScaleKind:
        """``"numeric"``, ``"ordinal"`` (ordered labels) or ``"nominal"`` (unordered labels)."""
        if self.levels is None:
            return "numeric"
        return "nominal" if self.ordered is False else "ordinal"

    def code_scale(self) -> Scale:
        """The numeric :class:`Scale` the criterion's view uses.

        A numeric scale as it is; a label scale as the codes ``0 .. k-1`` of its levels, in
        the declared order, with the levels as the points' labels.
        """
        if self.levels is None:
            assert self.min is not None and self.max is not None
            return Scale(min=self.min, max=self.max, labels=self.labels)
        return Scale(min=0.0, max=float(len(self.levels) - 1),
                     labels={str(i): lv for i, lv in enumerate(self.levels)})

    def describe(self) -> str:
        """``1–5``, ``fail < pass`` or ``billing | technical | other``."""
        if self.levels is None:
            return scale_text(self.min or 0.0, self.max or 0.0)
        return (" | " if self.kind == "nominal" else " < ").join(self.levels)


class Criterion(BaseModel):
    """One question of a scorecard (an entry of the header's ``criteria``).

    Attributes
    ----------
    id : str
        A short identifier (letters, digits, ``_`` and ``-``, starting with a letter), used
        as a CSV column, in gate bars (``tone.icc``) and as the journal's key.
    label : str
        The question as people read it ("Greeted the customer?").
    rubric : str
        The criterion's own rubric text (the header's ``rubric``, when given, comes first).
    scale : CriterionScale
        Numeric range or labels.
    na_allowed : bool
        Whether a rater may mark the question not applicable (``"NA"``).
    weight : float
        Weight in the scorecard total (``>= 0``; 0 keeps the question out of the total
        while it can still fail it when critical).
    critical : bool
        A failed critical question makes the item's total 0.
    pass_mark : float, str, list of str or None
        What passes: a number (a numeric score at or above it), a level (an ordered level at
        or above it), or a label or list of labels (unordered). Required when ``critical``.
    values : dict of str to float or None
        For unordered labels: each label's value on the total's 0–1 scale.
    consensus : {"mean", "median", "majority", "explicit"} or None
        The criterion's own consensus rule; None for the header's rule (numeric criteria)
        or ``"majority"`` (label criteria).
    """

    model_config = _CONFIG

    id: str = Field(min_length=1)
    label: str = Field(min_length=1)
    rubric: str = Field(min_length=1)
    scale: CriterionScale
    na_allowed: bool = False
    weight: float = Field(default=1.0, allow_inf_nan=False)
    critical: bool = False
    pass_mark: float | str | list[str] | None = None
    values: dict[str, float] | None = None
    consensus: Literal["mean", "median", "majority", "explicit"] | None = None

    @property
    def kind(self) -> ScaleKind:
        """The scale's kind (see :attr:`CriterionScale.kind`)."""
        return self.scale.kind

    def code(self, label: str) -> float:
        """The code (``0 .. k-1``) of one of a label scale's levels."""
        assert self.scale.levels is not None
        return float(self.scale.levels.index(label))

    def level(self, code: float) -> str:
        """The level of a label scale with this code."""
        assert self.scale.levels is not None
        return self.scale.levels[int(code)]

    def fails(self, value: float) -> bool:
        """Whether a value on the view's scale (a score, or a label's code) fails the pass mark.

        Numeric: ``value < pass_mark``; ordered labels: the level lies below the pass level;
        unordered labels: the label is not among the passing ones. Always False when no pass
        mark is declared.
        """
        if self.pass_mark is None:
            return False
        if self.kind == "numeric":
            assert isinstance(self.pass_mark, float | int)
            return value < float(self.pass_mark)
        if self.kind == "ordinal":
            assert isinstance(self.pass_mark, str)
            return value < self.code(self.pass_mark)
        passing = [self.pass_mark] if isinstance(self.pass_mark, str) else list(self.pass_mark)
        return self.level(value) not in passing

    def unit(self, value: float) -> float:
        """A value on the view's scale as a share of the common 0–1 scale of the total.

        Numeric: ``(x - min) / (max - min)``; ordered labels: ``rank / (k - 1)``;
        unordered labels: ``values[label]``, else 1 for a passing label and 0 otherwise.
        """
        s = self.scale
        if s.kind == "numeric":
            assert s.min is not None and s.max is not None
            return (value - s.min) / (s.max - s.min)
        assert s.levels is not None
        if s.kind == "ordinal":
            return value / (len(s.levels) - 1)
        label = self.level(value)
        if self.values is not None:
            return float(self.values[label])
        return 0.0 if self.fails(value) else 1.0


class ScorecardMeta(BaseModel):
    """The header line of a scorecard set: an anchor-set header with ``criteria``.

    ``rubric`` (or ``rubric_file``) is optional here: text common to every criterion (the
    raters' general instruction), put before each criterion's own rubric.
    """

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    format_version: Literal[1] = Field(alias="judgecal_anchor_set")
    name: str = Field(min_length=1)
    description: str | None = None
    rubric: str | None = None
    rubric_file: str | None = None
    criteria: list[Criterion] = Field(min_length=1)
    consensus: ConsensusRule = "mean"
    source: str | None = None
    attribution: str | None = None
    licence: str | None = None
    version: int = Field(default=1, ge=1)
    parent: str | None = None


#: A per-criterion note (rationale, edge case): one text for every criterion, or one each.
PerCriterionText = str | dict[str, str | None] | None


class ScorecardItem(BaseModel):
    """One item of a scorecard set: per-criterion ratings, consensus and notes.

    ``ratings`` maps criterion id -> rater id -> a score (numeric criteria), a label (label
    criteria), ``"NA"`` or None (missing). ``consensus`` maps criterion id -> an explicit
    consensus. ``rationale`` and ``edge_case`` are one text for the whole item or an object
    from criterion id to text.
    """

    model_config = _CONFIG

    id: str = Field(min_length=1)
    input: str
    output: str
    reference: str | None = None
    context: str | None = None
    ratings: dict[str, dict[str, CardValue]] = Field(default_factory=dict)
    consensus: dict[str, CardValue] = Field(default_factory=dict)
    rationale: PerCriterionText = None
    edge_case: PerCriterionText = None
    source: str | None = None
    split: SplitName
    tags: list[str] = Field(default_factory=list)

    _line: int = PrivateAttr(default=0)

    @property
    def line(self) -> int:
        """The file line this item was read from (0 if not read from a file)."""
        return self._line

    def note(self, name: str, criterion: str) -> str | None:
        """``rationale`` or ``edge_case`` for one criterion."""
        value = getattr(self, name)
        if isinstance(value, dict):
            return value.get(criterion)
        return value
