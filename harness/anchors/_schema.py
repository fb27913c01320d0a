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

FORMAT_VERSION = 1
SPLITS = ("calibration", "holdout")
CONSENSUS_RULES = ("mean", "median", "explicit")
NA = "NA"

ConsensusRule = Literal["mean", "median", "explicit"]
SplitName = Literal["calibration", "holdout"]

_CONFIG = ConfigDict(extra="forbid", strict=True, frozen=False)


def fmt_num(x: float) -> str:
    """Format a score compactly: ``7`` for 7.0, ``3.5`` for 3.5."""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


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
        return f"{fmt_num(self.min)}–{fmt_num(self.max)}"


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
