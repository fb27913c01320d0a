"""Scorecard sessions: the questions' values, their codes, spread and outlier rules.

A session on a scorecard (an anchor-set file whose header declares ``criteria``) scores
every question of every item. Values are stored as the criterion view's codes (a number on a
numeric scale; ``0 .. k-1`` for a label scale, in the declared order) so that the review,
ICC and alpha work on numbers; people type and see the labels.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter
from collections.abc import Mapping
from typing import Any

from harness._say import MISSING, NA_RATING
from harness.anchors import Criterion
from harness.anchors._schema import NA, fmt_num

from ._errors import SessionError

#: A stored value: a code (float) or ``"NA"``.
Code = float | str
#: A value as people see it: a number, a label or ``"NA"``.
Shown = float | str

#: Numeric criteria with integer ends and at most this many points get radio buttons.
MAX_RADIO_POINTS = 11


def criteria_to_json(criteria: list[Criterion]) -> str:
    """The criteria as stored with a session (their full header entries)."""
    return json.dumps([c.model_dump(mode="json") for c in criteria], ensure_ascii=False)


def criteria_from_json(text: str) -> list[Criterion]:
    """The criteria stored with a session."""
    return [Criterion.model_validate(c, strict=False) for c in json.loads(text)]


def code_range(spec: Criterion) -> tuple[float, float]:
    """The ends of a criterion's coded scale (``min, max``, or ``0, k-1``)."""
    s = spec.scale.code_scale()
    return s.min, s.max


def encode(spec: Criterion, value: Any, what: str) -> Code:
    """A value typed or posted for ``spec`` as stored: a code, or ``"NA"``.

    Numbers (or numeric text) on a numeric scale; one of the levels on a label scale;
    ``"NA"`` (or ``N/A``) only when the criterion allows it.

    Raises
    ------
    SessionError
        Naming ``what`` (e.g. ``"item 'i1', question 'tone'"``) and the scale.
    """
    if isinstance(value, str) and value.strip().upper() in ("NA", "N/A"):
        if not spec.na_allowed:
            raise SessionError(f"{what}: N/A is not allowed (the question is not "
                               "N/A-eligible); give a value on its scale")
        return NA
    levels = spec.scale.levels
    if levels is not None:
        if isinstance(value, str) and value.strip() in levels:
            return spec.code(value.strip())
        raise SessionError(f"{what}: {value!r} is not one of {spec.scale.describe()}")
    if isinstance(value, str):
        from ._store import parse_score

        try:
            value = parse_score(value)
        except SessionError as exc:
            raise SessionError(f"{what}: {exc}") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SessionError(f"{what}: {value!r} is not a number")
    lo, hi = code_range(spec)
    if not lo <= float(value) <= hi:
        raise SessionError(f"{what}: {fmt_num(float(value))} is off the scale "
                           f"{spec.scale.describe()}")
    return float(value)


def decode(spec: Criterion, code: Code | None) -> Shown | None:
    """A stored code as people see it: the level of a label scale, else the number."""
    if code is None or code == NA or spec.scale.levels is None:
        return code
    return spec.level(float(code))


def show(spec: Criterion, code: Code | None) -> str:
    """A stored code as text: ``—`` (missing), ``N/A``, a level or a number."""
    v = decode(spec, code)
    if v is None:
        return MISSING
    if v == NA:
        return NA_RATING
    return v if isinstance(v, str) else fmt_num(float(v))


def points(spec: Criterion) -> list[tuple[str, str]] | None:
    """The radio buttons of a question, ``(value, text)``; None for a number field.

    A label scale gets one button per level; a numeric scale with integer ends and at most
    :data:`MAX_RADIO_POINTS` points one per integer (worded by the scale's labels, when
    given); another numeric scale a number field.
    """
    s = spec.scale
    if s.levels is not None:
        return [(lv, lv) for lv in s.levels]
    assert s.min is not None and s.max is not None
    if not (float(s.min).is_integer() and float(s.max).is_integer()
            and s.max - s.min + 1 <= MAX_RADIO_POINTS):
        return None
    labels = s.labels or {}
    out = []
    for x in range(int(s.min), int(s.max) + 1):
        word = labels.get(str(x))
        out.append((str(x), f"{x} ({word})" if word else str(x)))
    return out


def threshold(spec: Criterion, share: float) -> float:
    """The SD above which a (item, question) pair is flagged: ``share`` of the coded range."""
    lo, hi = code_range(spec)
    return share * (hi - lo)


def modal_share(values: list[float]) -> float | None:
    """The share of the values on the most frequent one (None without values)."""
    if not values:
        return None
    return max(Counter(values).values()) / len(values)


def is_flagged(spec: Criterion, values: list[float], sd: float | None, limit: float) -> bool:
    """Whether the participants' values on one pair spread too far.

    Numeric and ordered label questions: the sample SD (of the codes) exceeds ``limit``
    (:func:`threshold`; for pass/fail at the default share, any disagreement). Unordered
    labels: the participants chose more than one label.
    """
    if spec.kind == "nominal":
        return len(set(values)) > 1
    return sd is not None and sd > limit + 1e-12


def outliers(spec: Criterion, scores: Mapping[str, float], distance: float) -> list[str]:
    """Outlier raters on one pair (3 or more values; else none).

    Numeric: ``|value - median of the others| >= distance`` scale points (as a
    single-criterion session). Ordered labels: more than half the levels' range from the
    others' median (on pass/fail, the one ``fail`` among passes). Unordered labels: the
    others all chose one other label.
    """
    if len(scores) < 3:
        return []
    out = []
    for rater, v in scores.items():
        others = [x for r, x in scores.items() if r != rater]
        if spec.kind == "numeric":
            bad = abs(v - statistics.median(others)) >= distance - 1e-9
        elif spec.kind == "ordinal":
            lo, hi = code_range(spec)
            bad = abs(v - statistics.median(others)) > (hi - lo) / 2 + 1e-9
        else:
            bad = len(set(others)) == 1 and others[0] != v
        if bad:
            out.append(rater)
    return out


def alpha_level(spec: Criterion) -> str:
    """Krippendorff's alpha level of a question: interval, ordinal or nominal."""
    return {"numeric": "interval", "ordinal": "ordinal", "nominal": "nominal"}[spec.kind]
