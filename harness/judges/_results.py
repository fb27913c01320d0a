"""What a run returns: one :class:`Judgment` per task and the :class:`RunResult`."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, fields
from typing import Any, Literal

from ._scoring import Aggregation, aggregate

__all__ = ["Judgment", "JudgmentStatus", "RunResult"]

JudgmentStatus = Literal["ok", "invalid", "failed", "skipped"]


@dataclass(frozen=True)
class Judgment:
    """The outcome of one task.

    ``status``: ``ok`` (a score), ``invalid`` (replies never parsed; ``raw_reply`` and the
    reason in ``error``), ``failed`` (the provider kept failing; the error in ``error``),
    ``skipped`` (not run: budget spent or run stopped; not journaled). Tokens, cost,
    attempts and latency are summed over every call made for the task in this run (for a
    cached judgment: as journaled, the cost recomputed from the tokens at current prices).
    ``cost`` is ``None`` when the model's price is unknown. ``scores``: a multi-score
    call's scores by field (a scorecard judged in one call; ``score`` is then None).
    ``reply_model``: the model id the provider reported in its reply (``JudgeReply.model``;
    None when it reports none), the judge's fingerprint for drift attribution.
    """

    key: str
    item_id: str
    sample_index: int
    status: JudgmentStatus
    score: float | None
    reasoning: str | None
    raw_reply: str | None
    error: str | None
    cached: bool
    attempts: int
    input_tokens: int
    output_tokens: int
    cost: float | None
    latency_s: float | None
    scores: dict[str, float] | None = None
    reply_model: str | None = None

    def score_of(self, field: str | None = None) -> float | None:
        """The score (``field`` None) or one field's score of a multi-score call."""
        if field is None:
            return self.score
        return None if self.scores is None else self.scores.get(field)


@dataclass
class RunResult:
    """Every task's judgment (in task order) and the run's totals.

    ``n_requests``, ``input_tokens``, ``output_tokens`` and ``cost`` count the provider
    calls made in this run (retries and re-asks included; cached judgments excluded).
    ``cost`` is ``None`` when some call was made for a model with no known price.
    ``n_ok`` ... ``n_skipped`` count judgments by status, cached ones included.
    ``stopped`` says why a run ended before every task was run (a budget, the circuit
    breaker), ending with the number of tasks skipped; ``None`` when nothing stopped it.
    """

    judgments: list[Judgment]
    stopped: str | None
    n_requests: int
    n_cached: int
    n_ok: int
    n_invalid: int
    n_failed: int
    n_skipped: int
    input_tokens: int
    output_tokens: int
    cost: float | None
    elapsed_s: float

    def item_scores(self, how: Aggregation = "mean",
                    field: str | None = None) -> dict[str, float]:
        """One score per item with at least one ``ok`` sample.

        Parameters
        ----------
        how : {"mean", "median", "mode"}
            How the samples of an item are combined (see :func:`aggregate`).
        field : str, optional
            A multi-score run: this field's scores (:meth:`Judgment.score_of`).

        Returns
        -------
        dict of str to float
            Item id to score, in order of first appearance.
        """
        return {item: aggregate(scores, how)
                for item, scores in self.samples(field, ordered=False).items()}

    def samples(self, field: str | None = None, *,
                ordered: bool = True) -> dict[str, list[float]]:
        """The ``ok`` scores of each item (for :func:`retest_agreement`).

        Parameters
        ----------
        field : str, optional
            A multi-score run: this field's scores.
        ordered : bool
            In sample order (else in judgment order).
        """
        by_item: dict[str, list[tuple[int, float]]] = {}
        for j in self.judgments:
            score = j.score_of(field)
            if j.status == "ok" and score is not None:
                by_item.setdefault(j.item_id, []).append((j.sample_index, score))
        return {item: [s for _, s in (sorted(v) if ordered else v)]
                for item, v in by_item.items()}

    def to_rows(self) -> list[dict[str, Any]]:
        """One dict per judgment, with the :class:`Judgment` fields as keys (for a CSV)."""
        names = [f.name for f in fields(Judgment)]
        return [{n: getattr(j, n) for n in names} for j in self.judgments]

    def failure_causes(self) -> list[tuple[str, int]]:
        """The distinct reasons of the failed and invalid judgments, counted.

        A failed judgment's cause is its provider error without the per-task details (the
        ``[retries exhausted; 6 attempts]`` suffix, the item id, request ids); an invalid
        one's is ``"invalid: "`` and the last parse error, without the ``invalid reply in
        3 of 3 tries`` prefix. Cached judgments count like the others; skipped ones are not
        failures (``stopped`` says why they were not run).

        Returns
        -------
        list of (str, int)
            Cause and number of judgments, most common first (ties: first seen first).

        Examples
        --------
        >>> res = RunResult([], None, 0, 0, 0, 0, 0, 0, 0, 0, 0.0, 0.0)
        >>> res.failure_causes()
        []
        """
        causes: Counter[str] = Counter()
        for j in self.judgments:
            if j.status in ("failed", "invalid"):
                causes[_cause(j)] += 1
        return causes.most_common()


_ATTEMPTS_SUFFIX = re.compile(r"\s*\[(?:retries exhausted|not retryable); \d+ attempts?\]$")
_INVALID_PREFIX = re.compile(r"^invalid reply in \d+ of \d+ tries; last: ")
_REQUEST_ID = re.compile(r"\b(?:req|request|chatcmpl|msg)[_-][A-Za-z0-9]{8,}\b|\b[0-9a-f]{16,}\b")


def _cause(j: Judgment) -> str:
    """A judgment's failure reason without what is particular to the task."""
    text = j.error or ("no reason recorded" if j.status == "invalid" else "unknown error")
    text = _REQUEST_ID.sub("<id>", _ATTEMPTS_SUFFIX.sub("", text))
    if j.item_id:
        text = text.replace(j.item_id, "<item>")
    if j.status == "invalid":
        return "invalid: " + _INVALID_PREFIX.sub("", text)
    return text
