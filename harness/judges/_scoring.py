"""Turning a judge's reply into a score, and summarising a judge's repeated samples.

Two scoring modes (see :class:`~harness.judges._base.JudgeRequest`):

* ``structured``: the reply is one JSON object ``{"reasoning": ..., "score": <int>}``.
  The score must be an integer on the scale; anything else is an :class:`InvalidReply`,
  never a guess (no hunting for digits in free text).
* ``logprob`` (G-Eval, Liu et al. 2023): the score is the probability-weighted mean of the
  scale points, from the log-probabilities of the candidate tokens at the score position.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from harness.agreement import AgreementResult, undefined

from ._base import JudgeReply, JudgeRequest

__all__ = [
    "Aggregation",
    "InvalidReply",
    "ParsedScore",
    "aggregate",
    "parse_reply",
    "retest_agreement",
]

Aggregation = Literal["mean", "median", "mode"]

_QUOTE_CHARS = 200
_FENCE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n?(.*?)```", re.DOTALL)
_INTEGRAL_STR = re.compile(r"[+-]?[0-9]+(?:\.0*)?")
_INT_TOKEN = re.compile(r"[+-]?[0-9]+")


class InvalidReply(Exception):
    """A reply that does not carry a valid score; the message says what was wrong.

    Parameters
    ----------
    reason : str
        What was wrong, e.g. ``"score 7 is off the scale 1-5"``.
    raw : str, optional
        The raw reply; a truncated quote of it is appended to the message.
    """

    def __init__(self, reason: str, raw: str | None = None) -> None:
        self.reason = reason
        self.raw = raw
        message = reason if raw is None else f"{reason}; reply: {_quote(raw)}"
        super().__init__(message)


@dataclass(frozen=True)
class ParsedScore:
    """A score parsed from one reply.

    Attributes
    ----------
    score : float
        The score: an integer scale point (structured mode) or an expected value over the
        scale points (logprob mode).
    reasoning : str or None
        The judge's reasoning (structured mode) or a summary of the score distribution with
        the probability mass it covers (logprob mode).
    distribution : dict of int to float, optional
        Logprob mode: the normalised probability of each scale point seen among the tokens.
    mass : float, optional
        Logprob mode: the total probability of the scale-point tokens before normalising.
    scores : dict of str to float, optional
        A multi-score request: each field's score (a label field's score is the label's
        index in ``ScoreField.labels``).
    """

    score: float
    reasoning: str | None
    distribution: dict[int, float] | None = None
    mass: float | None = None
    #: A multi-score request (``request.fields``): field name -> score (a label's index);
    #: ``score`` is then NaN.
    scores: dict[str, float] | None = None


def _quote(raw: str, limit: int = _QUOTE_CHARS) -> str:
    text = raw if len(raw) <= limit else raw[:limit] + f"... [{len(raw) - limit} more chars]"
    return repr(text)


def parse_reply(reply: JudgeReply, request: JudgeRequest) -> ParsedScore:
    """Parse a provider's reply into a score on the request's scale.

    Parameters
    ----------
    reply : JudgeReply
        The provider's reply.
    request : JudgeRequest
        The request it answers: its ``mode`` and scale decide how the reply is read.

    Returns
    -------
    ParsedScore
        The score, the reasoning and, in logprob mode, the distribution over scale points.

    Raises
    ------
    InvalidReply
        Structured mode: no single JSON object, no ``score`` key, a score that is not an
        integer (``3.5``, ``true``, ``"four"``) or is off the scale, a non-string
        ``reasoning``. Logprob mode: no logprobs, no token that is a scale point, or less
        than ``request.min_score_mass`` of the probability on the scale points' tokens
        (the model meant to say something else first, e.g. "The"); the reason gives the
        mass and the likeliest tokens. A multi-score request (``request.fields``): a field
        missing, off its scale or not one of its labels, or a key that is no field (the
        whole reply is invalid: it did not follow the schema).

    Examples
    --------
    >>> from harness.judges._base import JudgeReply, JudgeRequest, Message
    >>> req = JudgeRequest(messages=(Message("user", "x"),), mode="structured",
    ...                    scale_min=1, scale_max=5)
    >>> parse_reply(JudgeReply(raw='Sure! {"reasoning": "fine", "score": 4}'), req).score
    4.0
    """
    if request.mode == "structured" and request.fields:
        return _parse_fields(reply, request)
    if request.mode == "structured":
        return _parse_structured(reply, request)
    if request.mode == "logprob":
        return _parse_logprob(reply, request)
    raise ValueError(f"unknown scoring mode {request.mode!r}")


# --------------------------------------------------------------------------- structured


def _parse_structured(reply: JudgeReply, request: JudgeRequest) -> ParsedScore:
    raw = reply.raw or ""
    if reply.structured is not None:
        obj: Any = reply.structured
    else:
        obj = _json_object(raw)
    if not isinstance(obj, dict):
        raise InvalidReply(f"expected a JSON object, got {type(obj).__name__}", raw)
    if "score" not in obj:
        keys = ", ".join(sorted(map(str, obj))) or "none"
        raise InvalidReply(f"no 'score' key in the JSON object (keys: {keys})", raw)
    score = _integral_score(obj["score"], raw)
    if not request.scale_min <= score <= request.scale_max:
        raise InvalidReply(
            f"score {score} is off the scale {request.scale_min}-{request.scale_max}", raw
        )
    reasoning = obj.get("reasoning")
    if reasoning is not None and not isinstance(reasoning, str):
        raise InvalidReply(
            f"'reasoning' must be a string, got {type(reasoning).__name__}", raw
        )
    return ParsedScore(score=float(score), reasoning=reasoning)


def _parse_fields(reply: JudgeReply, request: JudgeRequest) -> ParsedScore:
    """A multi-score reply: ``{"reasoning": ..., "<field>": <value>, ...}``."""
    raw = reply.raw or ""
    obj: Any = reply.structured if reply.structured is not None else _json_object(raw)
    if not isinstance(obj, dict):
        raise InvalidReply(f"expected a JSON object, got {type(obj).__name__}", raw)
    names = [f.name for f in request.fields]
    missing = [n for n in names if n not in obj]
    if missing:
        raise InvalidReply(f"no {', '.join(repr(n) for n in missing)} in the JSON object "
                           f"(expected {', '.join(names)})", raw)
    extra = sorted(str(k) for k in obj if k not in names and k != "reasoning")
    if extra:
        raise InvalidReply(f"unexpected key(s) {', '.join(map(repr, extra))} in the JSON "
                           f"object (expected reasoning, {', '.join(names)})", raw)
    scores: dict[str, float] = {}
    for f in request.fields:
        value = obj[f.name]
        if f.labels:
            if not isinstance(value, str) or value not in f.labels:
                raise InvalidReply(f"{f.name}: {value!r} is not one of {f.describe()}", raw)
            scores[f.name] = float(f.labels.index(value))
            continue
        try:
            point = _integral_score(value, raw)
        except InvalidReply as exc:
            raise InvalidReply(f"{f.name}: {exc.reason}", raw) from None
        if not f.minimum <= point <= f.maximum:
            raise InvalidReply(f"{f.name}: score {point} is off the scale {f.describe()}", raw)
        scores[f.name] = float(point)
    reasoning = obj.get("reasoning")
    if reasoning is not None and not isinstance(reasoning, str):
        raise InvalidReply(f"'reasoning' must be a string, got {type(reasoning).__name__}", raw)
    return ParsedScore(score=math.nan, reasoning=reasoning, scores=scores)


def _integral_score(value: Any, raw: str) -> int:
    """An integer score from an int, an integral float or an integral numeric string."""
    if isinstance(value, bool):
        raise InvalidReply(f"score must be an integer, got the boolean {value!r}", raw)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return int(value)
        raise InvalidReply(f"score must be an integer, got {value!r}", raw)
    if isinstance(value, str):
        text = value.strip()
        if _INTEGRAL_STR.fullmatch(text):
            return int(float(text))
        raise InvalidReply(f"score must be an integer, got the string {value!r}", raw)
    raise InvalidReply(f"score must be an integer, got {type(value).__name__} {value!r}", raw)


def _json_object(raw: str) -> Any:
    """The one JSON object in ``raw``: the whole text, a fenced block, or surrounded by prose."""
    text = raw.strip()
    if not text:
        raise InvalidReply("empty reply", raw)
    try:
        return json.loads(text)
    except RecursionError:
        raise InvalidReply("the reply's JSON is nested too deeply", raw) from None
    except json.JSONDecodeError:
        pass
    fences = _FENCE.findall(text)
    if len(fences) == 1:
        try:
            return json.loads(fences[0].strip())
        except RecursionError:
            raise InvalidReply("the reply's JSON is nested too deeply", raw) from None
        except json.JSONDecodeError as exc:
            raise InvalidReply(f"the fenced block is not valid JSON ({exc.msg})", raw) from None
    if len(fences) > 1:
        raise InvalidReply(f"{len(fences)} fenced blocks; expected one JSON object", raw)
    objects = _top_level_objects(text)
    if not objects:
        raise InvalidReply("no JSON object found in the reply", raw)
    if len(objects) > 1:
        raise InvalidReply(f"{len(objects)} JSON objects in the reply; expected one", raw)
    return objects[0]


def _top_level_objects(text: str) -> list[dict[str, Any]]:
    """Every JSON object embedded in ``text`` that is not inside another one."""
    decoder = json.JSONDecoder()
    found: list[dict[str, Any]] = []
    pos = text.find("{")
    while pos != -1:
        try:
            obj, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            pos = text.find("{", pos + 1)
            continue
        if isinstance(obj, dict):
            found.append(obj)
        pos = text.find("{", end)
    return found


# --------------------------------------------------------------------------- logprob


def _parse_logprob(reply: JudgeReply, request: JudgeRequest) -> ParsedScore:
    raw = reply.raw or ""
    if reply.score_logprobs is None:
        raise InvalidReply("provider returned no logprobs", raw)
    probs: dict[int, float] = {}
    for token, logprob in reply.score_logprobs.items():
        text = str(token).strip()
        if not _INT_TOKEN.fullmatch(text):
            continue
        point = int(text)
        if not request.scale_min <= point <= request.scale_max:
            continue
        if logprob is None or math.isnan(logprob):
            raise InvalidReply(f"logprob of token {token!r} is {logprob!r}", raw)
        # "4" and " 4" are different tokens for the same scale point: sum their probabilities
        probs[point] = probs.get(point, 0.0) + math.exp(logprob)
    mass = sum(probs.values())
    if not probs or mass <= 0.0:
        shown = ", ".join(repr(t) for t in list(reply.score_logprobs)[:20]) or "none"
        raise InvalidReply(
            f"no candidate token is a scale point {request.scale_min}-{request.scale_max} "
            f"(tokens: {shown})",
            raw,
        )
    total, mass = mass, min(mass, 1.0)
    # A relative tolerance keeps a mass equal to the minimum (up to exp/log rounding) valid.
    if mass < request.min_score_mass * (1.0 - 1e-9):
        have, need = _percents(mass, request.min_score_mass)
        likeliest = sorted(reply.score_logprobs.items(), key=lambda kv: -kv[1])[:3]
        raise InvalidReply(
            f"only {have} of the probability mass is on the scale's tokens (minimum {need}); "
            f"likeliest tokens: {', '.join(repr(t) for t, _ in likeliest)}",
            raw,
        )
    distribution = {s: probs[s] / total for s in sorted(probs)}
    score = sum(s * p for s, p in distribution.items())
    dist_text = ", ".join(f"{s}={p:.3f}" for s, p in distribution.items())
    reasoning = (
        f"expected value over scale tokens {dist_text}; "
        f"probability mass covered {mass:.3f}"
    )
    return ParsedScore(score=score, reasoning=reasoning, distribution=distribution, mass=mass)


def _percents(value: float, minimum: float) -> tuple[str, str]:
    """``value`` and ``minimum`` as percentages, with as many decimals as tell them apart."""
    for digits in range(5):
        have, need = f"{value:.{digits}%}", f"{minimum:.{digits}%}"
        if have != need:
            break
    return have, need


# --------------------------------------------------------------------------- samples


def aggregate(scores: Sequence[float], how: Aggregation = "mean") -> float:
    """Combine a judge's repeated samples for one item into one score.

    Parameters
    ----------
    scores : sequence of float
        The samples' scores (at least one).
    how : {"mean", "median", "mode"}
        ``"mode"`` returns the most frequent score, the smallest of them on a tie (a
        deterministic, conservative choice).

    Returns
    -------
    float
        The combined score.

    Raises
    ------
    ValueError
        No scores, a non-finite score, or an unknown ``how``.

    Examples
    --------
    >>> aggregate([3, 4, 4, 5], "mean"), aggregate([3, 4, 4, 5], "median")
    (4.0, 4.0)
    >>> aggregate([2, 2, 5, 5, 3], "mode")
    2.0
    """
    values = [float(s) for s in scores]
    if not values:
        raise ValueError("aggregate() needs at least one score")
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"scores must be finite, got {values!r}")
    if how == "mean":
        return float(statistics.fmean(values))
    if how == "median":
        return float(statistics.median(values))
    if how == "mode":
        counts = Counter(values)
        top = max(counts.values())
        return float(min(v for v, c in counts.items() if c == top))
    raise ValueError(f"how must be 'mean', 'median' or 'mode', got {how!r}")


def retest_agreement(samples: Mapping[str, Sequence[float]]) -> AgreementResult:
    """The judge's test-retest agreement with itself across its samples per item.

    One-way ICC(1,1) (:func:`harness.agreement.icc_oneway`) of the items x samples
    matrix, the samples taking the place of raters: how much of the variance in the
    judge's scores is between items rather than between repeated samples of one item.
    Items may have different numbers of samples; items with fewer than 2 are dropped.

    Parameters
    ----------
    samples : mapping of item id to sequence of float
        The scores of each item's samples.

    Returns
    -------
    AgreementResult
        ``statistic="icc"``, ``details["what"] = "test-retest"``, ``details["n_dropped"]``
        (items with fewer than 2 samples). Undefined (``value=None`` with a reason) for
        fewer than 3 items with 2 or more samples, or when every score is identical.

    Examples
    --------
    >>> r = retest_agreement({"a": [1, 1, 1], "b": [3, 3, 3], "c": [5, 5, 4]})
    >>> round(r.value, 3)
    0.968
    """
    rows = [[float(v) for v in vals] for vals in samples.values()]
    width = max((len(r) for r in rows), default=0)
    n_short = sum(1 for r in rows if len(r) < 2)
    if width < 2:
        return undefined(
            "icc",
            f"no item has 2 or more samples ({len(rows)} items)",
            n_items=0,
            form="ICC(1,1)",
            what="test-retest",
            n_dropped=n_short,
        )
    from harness.agreement import icc_oneway  # here: scoring a reply needs no scipy

    matrix = np.full((len(rows), width), np.nan)
    for i, r in enumerate(rows):
        matrix[i, : len(r)] = r
    result = icc_oneway(matrix)
    return replace(result, details={**result.details, "what": "test-retest"})
