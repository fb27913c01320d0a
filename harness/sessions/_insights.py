"""Across sessions: which questions are flagged most often, and which raters stand out.

:func:`insights` reads the last N reviewed sessions of a store (state ``review``,
``resolved`` or ``closed``: before review the scores are blind and nothing is flagged yet),
newest first, and counts per question the (item, question) pairs reviewed and flagged, and
per rater and question the pairs the rater scored and the times the rater was an outlier
(the review's outlier rule). A scorecard's questions are its criteria' ids; a
single-criterion session's one question is its set's criterion (for a session created
before schema version 3, read from its anchor set, else the set's name). The same question
id in two scorecards counts as one question; the same participant id in two sessions as
one rater.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.anchors._schema import NA

from ._review import review
from ._store import SessionInfo, SessionStore

#: The states whose sessions count (a review exists).
REVIEWED_STATES = ("review", "resolved", "closed")


@dataclass(frozen=True)
class QuestionInsight:
    """One question across the sessions considered."""

    question: str
    sessions: int
    pairs: int
    flagged: int

    @property
    def flagged_share(self) -> float:
        """Flagged pairs as a share of the pairs reviewed."""
        return self.flagged / self.pairs if self.pairs else 0.0


@dataclass(frozen=True)
class RaterInsight:
    """One rater on one question across the sessions considered."""

    rater: str
    question: str
    scored: int
    outliers: int


@dataclass(frozen=True)
class SessionSummary:
    """A session counted by :func:`insights`."""

    id: str
    name: str
    created_at: float
    questions: list[str]
    flagged: int


@dataclass(frozen=True)
class Insights:
    """Questions flagged most often first; raters with the most outliers first."""

    sessions: list[SessionSummary]
    questions: list[QuestionInsight]
    raters: list[RaterInsight] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready document (``judgecal session insights --json``)."""
        return {
            "sessions": [{"id": s.id, "name": s.name, "created_at": s.created_at,
                          "questions": s.questions, "flagged": s.flagged}
                         for s in self.sessions],
            "questions": [{"question": q.question, "sessions": q.sessions, "pairs": q.pairs,
                           "flagged": q.flagged, "flagged_share": q.flagged_share}
                          for q in self.questions],
            "raters": [{"rater": r.rater, "question": r.question, "scored": r.scored,
                        "outliers": r.outliers} for r in self.raters],
        }


def question_of(info: SessionInfo) -> str:
    """The id under which a single-criterion session's one question is counted."""
    if info.criterion:
        return info.criterion
    from harness.anchors import AnchorError, load_anchor_set

    try:
        return load_anchor_set(info.anchor_path).meta.criterion
    except (AnchorError, OSError):
        return info.anchor_name


def insights(store: SessionStore, last: int | None = None) -> Insights:
    """Flags and outliers per question and per rater over the last ``last`` reviewed
    sessions of ``store`` (all of them by default).

    Parameters
    ----------
    store : SessionStore
    last : int, optional
        How many of the newest reviewed sessions to count (at least 1).

    Returns
    -------
    Insights
        ``questions`` sorted by flagged pairs (most first), then by the flagged share;
        ``raters`` by outlier count (most first), then rater and question.
    """
    if last is not None and last < 1:
        raise ValueError(f"last must be at least 1, got {last}")
    infos = [i for i in store.list() if i.state in REVIEWED_STATES]
    if last is not None:
        infos = infos[:last]
    q_sessions: dict[str, int] = {}
    q_pairs: dict[str, int] = {}
    q_flagged: dict[str, int] = {}
    r_scored: dict[tuple[str, str], int] = {}
    r_out: dict[tuple[str, str], int] = {}
    summaries: list[SessionSummary] = []
    for info in infos:
        rv = review(store.get(info.id))
        single = None if info.is_scorecard else question_of(info)
        seen: list[str] = []
        for it in rv.items:
            q = it.criterion if it.criterion is not None else single
            assert q is not None
            if q not in seen:
                seen.append(q)
            q_pairs[q] = q_pairs.get(q, 0) + 1
            q_flagged[q] = q_flagged.get(q, 0) + int(it.flagged)
            for rater, value in it.scores.items():
                if value is None or value == NA:
                    continue
                key = (rater, q)
                r_scored[key] = r_scored.get(key, 0) + 1
                r_out[key] = r_out.get(key, 0) + int(rater in it.outliers)
        for q in seen:
            q_sessions[q] = q_sessions.get(q, 0) + 1
        summaries.append(SessionSummary(info.id, info.name, info.created_at, seen,
                                        len(rv.flagged)))
    questions = [QuestionInsight(q, q_sessions[q], q_pairs[q], q_flagged[q]) for q in q_pairs]
    questions.sort(key=lambda x: (-x.flagged, -x.flagged_share, x.question))
    raters = [RaterInsight(r, q, n, r_out[(r, q)]) for (r, q), n in r_scored.items()]
    raters.sort(key=lambda x: (-x.outliers, x.rater, x.question))
    return Insights(sessions=summaries, questions=questions, raters=raters)
