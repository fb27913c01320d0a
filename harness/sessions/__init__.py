"""Human calibration sessions: raters calibrate with each other before anchors become gold.

A session is created from an anchor set (all items or a chosen subset, e.g. from
:func:`propose_items`) and runs ``draft -> scoring -> review -> resolved -> closed``:

draft
    :meth:`SessionStore.create` (returns the facilitator token, shown once);
    :meth:`Session.invite` gives each participant a personal token.
scoring
    :meth:`Session.start_scoring` (2+ invited participants). Blind: participants
    :meth:`Session.score` and :meth:`Session.submit` (locks their scores);
    :func:`scores_visible_to` shows a participant only their own scores until review.
review
    :meth:`Session.begin_review` (everyone submitted, or ``force=True``); :func:`review`
    computes per-item spread, flags, outliers and baseline distance; the facilitator
    records :meth:`Session.resolve_item` and :meth:`Session.add_note` (rubric changes), and
    may :meth:`Session.open_rescore` a second round (:func:`effectiveness`).
resolved
    :meth:`Session.mark_resolved` writes a new anchor-set version
    (:func:`write_anchor_version`).
closed
    :meth:`Session.close`; read-only. :func:`calibration_log` exports Markdown any time.

Scorecards: a session created on a scorecard file scores every question of every item
(:meth:`Session.score` takes item -> question -> value); the review has one row per
(item, question), flagged on each question's own threshold, and :attr:`Review.questions`
holds ICC/alpha per question and on the total; resolutions are per (item, question)
(:meth:`Session.pair_resolutions`) and finishing writes a new scorecard version
(:func:`write_scorecard_version`). A single-criterion set is the one-question case and
works as before.

A session may carry a due date (:meth:`Session.extend_due`, :meth:`Session.overdue` on the
store's injectable clock), evaluation references per item (:class:`ItemRef`), a visibility
rule (``blind`` or ``after-submit``, see :func:`scores_visible_to`), read-only observers
(:meth:`Session.add_observer`, :func:`scores_visible_to_observer`) and prior reviews imported
as submitted round-1 scores (:meth:`Session.import_reviews`). :func:`insights` counts flags
per question and outliers per rater across the store's last N reviewed sessions.

Every forbidden action raises :class:`SessionError`. The store is SQLite in WAL mode,
default ``<state dir>/sessions.sqlite`` (``$JUDGECAL_STATE_DIR`` or ``.judgecal``).
"""

from ._errors import SessionError
from ._insights import Insights, QuestionInsight, RaterInsight, insights
from ._log import calibration_log
from ._review import (
    ANCHOR_ICC_TARGET,
    ICC_FORM,
    ICC_GAIN_TARGET,
    Effectiveness,
    ItemReview,
    QuestionAgreement,
    Review,
    agreement_raters,
    effectiveness,
    outlier_raters,
    review,
)
from ._rubric import PLACEHOLDER_ITEM, prompt_rubric
from ._select import ProposedItem, propose_items, propose_scorecard_items
from ._store import (
    DEFAULT_OUTLIER_DISTANCE,
    DEFAULT_THRESHOLD_SHARE,
    MIN_PARTICIPANTS,
    OBSERVER_SEES,
    STATES,
    VISIBILITIES,
    ItemRef,
    Observer,
    Participant,
    Resolution,
    ReviewTransition,
    Session,
    SessionInfo,
    SessionStore,
    State,
    format_due,
    item_ref,
    parse_due,
    parse_score,
    scores_visible_to,
    scores_visible_to_observer,
)
from ._version import next_version_path, rater_id, write_anchor_version, write_scorecard_version

__all__ = [
    "ANCHOR_ICC_TARGET",
    "DEFAULT_OUTLIER_DISTANCE",
    "DEFAULT_THRESHOLD_SHARE",
    "ICC_FORM",
    "ICC_GAIN_TARGET",
    "MIN_PARTICIPANTS",
    "OBSERVER_SEES",
    "PLACEHOLDER_ITEM",
    "STATES",
    "VISIBILITIES",
    "Effectiveness",
    "Insights",
    "ItemRef",
    "ItemReview",
    "Observer",
    "Participant",
    "ProposedItem",
    "QuestionAgreement",
    "QuestionInsight",
    "RaterInsight",
    "Resolution",
    "Review",
    "ReviewTransition",
    "Session",
    "SessionError",
    "SessionInfo",
    "SessionStore",
    "State",
    "agreement_raters",
    "calibration_log",
    "effectiveness",
    "format_due",
    "insights",
    "item_ref",
    "next_version_path",
    "outlier_raters",
    "parse_due",
    "parse_score",
    "prompt_rubric",
    "propose_items",
    "propose_scorecard_items",
    "rater_id",
    "review",
    "scores_visible_to",
    "scores_visible_to_observer",
    "write_anchor_version",
    "write_scorecard_version",
]
