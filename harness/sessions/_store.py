"""Calibration sessions in SQLite: lifecycle, participants, tokens, blind scoring, resolutions.

The database (default ``<state dir>/sessions.sqlite``) is in WAL mode with a busy timeout,
like :mod:`harness.journal`, so a facilitator and participants on one machine (or a shared
volume) can use it at once; every write is its own ``BEGIN IMMEDIATE`` transaction, and the
state is re-read inside it, so two processes cannot both make a transition.

Tokens are random (``secrets.token_urlsafe``); only their SHA-256 is stored.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import json
import math
import re
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness._numbers import parse_number
from harness._say import scale_text
from harness._sqlite import ThreadLocalSQLite
from harness.anchors import AnchorSet, Criterion, Scorecard, load_anchor_set, load_scorecard
from harness.anchors._schema import NA, fmt_num
from harness.journal import default_state_dir

from . import _card
from ._errors import SessionError

State = Literal["draft", "scoring", "review", "resolved", "closed"]
STATES: tuple[State, ...] = ("draft", "scoring", "review", "resolved", "closed")
#: Default variance threshold: this share of the scale range, on the SD of an item's scores.
DEFAULT_THRESHOLD_SHARE = 0.10
#: Default outlier distance in scale points (|score - median of the others| >= this).
DEFAULT_OUTLIER_DISTANCE = 2.0
MIN_PARTICIPANTS = 2
#: Visibility rules before review: participants see only their own scores (``blind``), or
#: also their peers' submitted scores once they have submitted their own (``after-submit``).
VISIBILITIES = ("blind", "after-submit")
#: What an observer sees before review: every saved score, or submitted scores only.
OBSERVER_SEES = ("always", "submitted")

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    anchor_path TEXT NOT NULL,
    anchor_hash TEXT NOT NULL,
    anchor_name TEXT NOT NULL,
    item_ids TEXT NOT NULL,
    rubric TEXT,
    rubric_source TEXT NOT NULL,
    scale_min REAL NOT NULL,
    scale_max REAL NOT NULL,
    threshold REAL NOT NULL,
    outlier_distance REAL NOT NULL,
    na_items TEXT NOT NULL,
    baseline TEXT,
    baseline_label TEXT,
    facilitator_hash TEXT NOT NULL,
    rescore_items TEXT,
    forced_missing TEXT,
    output_path TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    criteria TEXT,
    threshold_share REAL,
    due_at REAL,
    visibility TEXT NOT NULL DEFAULT 'blind',
    item_refs TEXT,
    criterion TEXT
);
CREATE TABLE IF NOT EXISTS participants (
    session_id TEXT NOT NULL,
    pid TEXT NOT NULL,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    token_hash TEXT,
    submitted_at REAL,
    rescore_submitted_at REAL,
    imported_at REAL,
    PRIMARY KEY (session_id, pid)
);
CREATE TABLE IF NOT EXISTS observers (
    session_id TEXT NOT NULL,
    oid TEXT NOT NULL,
    name TEXT NOT NULL,
    sees TEXT NOT NULL,
    position INTEGER NOT NULL,
    token_hash TEXT NOT NULL,
    PRIMARY KEY (session_id, oid)
);
CREATE TABLE IF NOT EXISTS scores (
    session_id TEXT NOT NULL,
    round INTEGER NOT NULL,
    pid TEXT NOT NULL,
    item_id TEXT NOT NULL,
    score REAL,
    na INTEGER NOT NULL DEFAULT 0,
    at REAL NOT NULL,
    criterion TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (session_id, round, pid, item_id, criterion)
);
CREATE TABLE IF NOT EXISTS resolutions (
    session_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    consensus REAL,
    rationale TEXT,
    note TEXT,
    at REAL NOT NULL,
    criterion TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (session_id, item_id, criterion)
);
CREATE TABLE IF NOT EXISTS notes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    text TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
"""
SCHEMA_VERSION = 3
# version 1 -> 2 (scorecard sessions): the sessions' criteria and threshold share; scores and
# resolutions keyed by criterion too ('' in a single-criterion session)
# version 2 -> 3: a due date, the visibility rule, the items' evaluation references and the
# criterion of a single-criterion session; imported participants; observers (a new table)
_V3_COLUMNS = {
    "sessions": {"due_at": "REAL", "visibility": "TEXT NOT NULL DEFAULT 'blind'",
                 "item_refs": "TEXT", "criterion": "TEXT"},
    "participants": {"imported_at": "REAL"},
}
_V1_TABLES = {
    "scores": "session_id, round, pid, item_id, score, na, at",
    "resolutions": "session_id, item_id, consensus, rationale, note, at",
}

Score = float | str  # a float score or "NA"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh random token (shown once; only its hash is stored)."""
    return secrets.token_urlsafe(18)


@dataclass(frozen=True)
class Participant:
    """A participant: id, display name, whether invited (has a token) and submitted."""

    id: str
    name: str
    invited: bool
    submitted: bool
    rescore_submitted: bool
    #: Whether round 1 is a prior review imported by the facilitator (submitted on import).
    imported: bool = False


@dataclass(frozen=True)
class Observer:
    """An observer (a lead, a manager): reads with their own token, changes nothing.

    ``sees`` is ``"always"`` (every participant's saved round-1 scores, at any time) or
    ``"submitted"`` (a participant's scores once that participant has submitted them).
    """

    id: str
    name: str
    sees: str


@dataclass(frozen=True)
class ItemRef:
    """The evaluation an item came from: the conversation id and its date (ISO text)."""

    conversation: str | None
    date: str | None


@dataclass(frozen=True)
class Resolution:
    """The facilitator's decision on one item (on one question of a scorecard session).

    ``consensus`` is a number, or for a label question the level; ``criterion`` is the
    question's id in a scorecard session, else None.
    """

    item_id: str
    consensus: float | str | None
    rationale: str | None
    note: str | None
    at: float
    criterion: str | None = None


@dataclass(frozen=True)
class SessionInfo:
    """A snapshot of a session's settings and state (read from the database)."""

    id: str
    name: str
    state: State
    anchor_path: str
    anchor_hash: str
    anchor_name: str
    item_ids: list[str]
    rubric: str | None
    rubric_source: str
    scale: tuple[float, float]
    threshold: float
    outlier_distance: float
    na_items: list[str]
    baseline: dict[str, float] | None
    baseline_label: str | None
    rescore_items: list[str] | None
    forced_missing: list[str]
    output_path: str | None
    created_at: float
    updated_at: float
    participants: list[Participant] = field(default_factory=list)
    #: The questions of a scorecard session (None for a single-criterion session).
    criteria: list[Criterion] | None = None
    #: A scorecard session's flag threshold as a share of each question's range.
    threshold_share: float | None = None
    #: When round-1 scores are due (seconds since the epoch, UTC), or None.
    due_at: float | None = None
    #: Who sees whose scores before review: ``"blind"`` or ``"after-submit"``.
    visibility: str = "blind"
    #: Item id -> the evaluation it came from (only items that have one).
    item_refs: dict[str, ItemRef] = field(default_factory=dict)
    observers: list[Observer] = field(default_factory=list)
    #: The criterion of a single-criterion session's set (None for a scorecard, and for a
    #: session created before schema version 3).
    criterion: str | None = None

    @property
    def participant_ids(self) -> list[str]:
        return [p.id for p in self.participants]

    @property
    def is_scorecard(self) -> bool:
        """Whether the session scores several questions (a scorecard) per item."""
        return self.criteria is not None

    @property
    def criterion_ids(self) -> list[str]:
        """The questions' ids (empty for a single-criterion session)."""
        return [c.id for c in self.criteria or []]

    def spec(self, criterion: str) -> Criterion:
        """The question with this id (SessionError naming the known ones otherwise)."""
        for c in self.criteria or []:
            if c.id == criterion:
                return c
        if self.criteria is None:
            raise SessionError(f"session {self.id} scores one criterion; it has no "
                               f"question {criterion!r}")
        raise SessionError(f"unknown question {criterion!r} in session {self.id}; the "
                           f"questions are {', '.join(self.criterion_ids)}")


@dataclass(frozen=True)
class ReviewTransition:
    """The result of moving a session to review: ``missing`` lists who had not submitted."""

    forced: bool
    missing: list[str]


class SessionStore(ThreadLocalSQLite):
    """The SQLite store of calibration sessions.

    Parameters
    ----------
    path : str or Path, optional
        The database file (``.sqlite``/``.db``) or a state directory (then
        ``<dir>/sessions.sqlite``); default ``$JUDGECAL_STATE_DIR`` or ``.judgecal``.
    """

    def __init__(self, path: str | Path | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        p = Path(path) if path is not None else default_state_dir()
        if p.suffix not in (".sqlite", ".db"):
            p = p / "sessions.sqlite"
        p.parent.mkdir(parents=True, exist_ok=True)
        super().__init__(p)
        #: "Now" for due dates (seconds since the epoch); tests inject a fixed clock.
        self.clock = clock
        conn = self._connect()
        conn.executescript(_SCHEMA)
        conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                     (str(SCHEMA_VERSION),))
        if "criterion" not in _columns(conn, "scores"):
            self._migrate_v1()
        version = conn.execute("SELECT v FROM meta WHERE k = 'schema_version'").fetchone()[0]
        if int(version) < SCHEMA_VERSION or any(
                col not in _columns(conn, table)
                for table, cols in _V3_COLUMNS.items() for col in cols):
            self._migrate_v2()

    def _migrate_v1(self) -> None:
        """Bring a version-1 store (single-criterion sessions only) to version 2."""
        with self._tx() as conn:
            if "criterion" in _columns(conn, "scores"):
                return  # another process migrated it meanwhile
            if "criteria" not in _columns(conn, "sessions"):
                conn.execute("ALTER TABLE sessions ADD COLUMN criteria TEXT")
                conn.execute("ALTER TABLE sessions ADD COLUMN threshold_share REAL")
            for table, cols in _V1_TABLES.items():
                conn.execute(f"ALTER TABLE {table} RENAME TO {table}_v1")
                create = re.search(rf"CREATE TABLE IF NOT EXISTS {table} \(.*?\n\);",
                                   _SCHEMA, re.S)
                assert create is not None
                conn.execute(create.group(0))
                conn.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {table}_v1")
                conn.execute(f"DROP TABLE {table}_v1")
            conn.execute("UPDATE meta SET v = '2' WHERE k = 'schema_version'")

    def _migrate_v2(self) -> None:
        """Bring a version-2 store to version 3 (new columns; the observers table is
        created by the schema script)."""
        with self._tx() as conn:
            for table, cols in _V3_COLUMNS.items():
                have = _columns(conn, table)
                for col, decl in cols.items():
                    if col not in have:  # another process may have added it meanwhile
                        conn.execute(f"ALTER TABLE {table} ADD COLUMN {col} {decl}")
            conn.execute("UPDATE meta SET v = ? WHERE k = 'schema_version'",
                         (str(SCHEMA_VERSION),))

    def __enter__(self) -> SessionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # ------------------------------------------------------------------ creating

    def create(
        self,
        anchor_set: AnchorSet | Scorecard | str | Path,
        participants: Iterable[str | tuple[str, str]],
        *,
        item_ids: Iterable[str] | None = None,
        name: str | None = None,
        rubric_label: str | None = None,
        rubric: str | None = None,
        threshold: float | None = None,
        outlier_distance: float = DEFAULT_OUTLIER_DISTANCE,
        na_items: bool | Iterable[str] = False,
        baseline: Mapping[str, Any] | None = None,
        baseline_label: str | None = None,
        threshold_share: float | None = None,
        due: float | _dt.datetime | str | None = None,
        visibility: str = "blind",
        item_refs: Mapping[str, ItemRef | Mapping[str, Any]] | None = None,
        prior_reviews: Mapping[str, Mapping[str, Any]] | None = None,
        review_sources: Mapping[tuple[str, str, str], str] | None = None,
    ) -> tuple[Session, str]:
        """Create a session in ``draft``; returns it and the facilitator token (shown once).

        Parameters
        ----------
        anchor_set : AnchorSet, Scorecard or path
            The set the items come from. A path is read with :func:`load_scorecard`: a
            scorecard file (several questions) makes a scorecard session, a
            single-criterion file today's session.
        participants : iterable of str or (id, name)
            Participant ids (letters, digits, ``_.-``), optionally with display names.
        item_ids : iterable of str, optional
            A subset of the set's items (e.g. from :func:`propose_items`); default all.
        rubric_label : str, optional
            A judge prompt version label naming the rubric in force; default the anchor
            set's rubric (its text is stored with the session).
        rubric : str, optional
            The rubric text in force, e.g. a judge prompt's instructions from
            :func:`prompt_rubric` (give ``rubric_label`` with it); default the anchor set's
            rubric (a scorecard's common rubric; each question keeps its own).
        threshold : float, optional
            Flag items whose score SD exceeds this; default 10% of the scale range.
            Single-criterion sessions only (a scorecard's questions have different scales:
            see ``threshold_share``).
        outlier_distance : float
            A rater is an outlier on an item when ``|score - median of the others|`` is at
            least this many scale points (default 2; needs 3+ numeric scores). In a
            scorecard session this applies to numeric questions (label questions: see
            :func:`harness.sessions._card.outliers`).
        na_items : bool or iterable of str
            Items that may be scored N/A: True for all, False for none, or a list of ids.
            Single-criterion sessions only: a scorecard question is N/A-eligible when its
            criterion declares ``na_allowed``.
        baseline : mapping, optional
            A named reviewer's or a judge's scores to compare against: item id -> score,
            or in a scorecard session item id -> question id -> value (a number or a
            level); ``baseline_label`` names them (e.g. ``"reviewer:alice"`` or
            ``"judge:helpfulness@v3"``).
        threshold_share : float, optional
            Scorecard sessions: flag an (item, question) pair whose SD exceeds this share
            of the question's range (default 0.10: on pass/fail, any disagreement).
        due : float, datetime or str, optional
            When round-1 scores are due (see :func:`parse_due`); shown to participants,
            extendable (:meth:`Session.extend_due`), and the participants who have not
            submitted by then are :meth:`Session.overdue`.
        visibility : {"blind", "after-submit"}
            Before review, participants see only their own scores (``blind``, the
            default), or also the scores of every peer who has submitted once they have
            submitted their own (``after-submit``: asynchronous calibration).
        item_refs : mapping, optional
            Item id -> the evaluation it came from: an :class:`ItemRef` or a mapping with
            ``conversation`` and/or ``date`` (ISO); kept in the log.
        prior_reviews : mapping, optional
            Reviewer id -> item id -> score (-> question -> value on a scorecard): existing
            reviews imported as each reviewer's round 1, submitted (see
            :meth:`Session.import_reviews`); ``review_sources`` labels each
            ``(reviewer, item, question)`` (e.g. ``file:line``) in error messages.
        """
        aset = _load_any(anchor_set)
        card = aset if isinstance(aset, Scorecard) else None
        if rubric is not None and not rubric.strip():
            raise SessionError("the rubric text is empty")
        if rubric is not None and not rubric_label:
            raise SessionError("a rubric text needs a rubric_label saying where it comes from")
        all_ids = [it.id for it in aset.items]
        ids = list(item_ids) if item_ids is not None else all_ids
        known_ids = set(all_ids)
        unknown = [i for i in ids if i not in known_ids]
        if unknown:
            raise SessionError(f"unknown item id(s) in {aset.path}: {', '.join(unknown)}")
        if len(set(ids)) != len(ids):
            raise SessionError("duplicate item ids in the chosen subset")
        if not ids:
            raise SessionError("a session needs at least one item")
        if not (math.isfinite(outlier_distance) and outlier_distance > 0):
            raise SessionError("outlier distance must be a positive number")
        share: float | None = None
        criteria_json: str | None = None
        base: dict[str, Any] | None = None
        if card is None:
            assert isinstance(aset, AnchorSet)
            if threshold_share is not None:
                raise SessionError("threshold_share is for a scorecard session; give a "
                                   "threshold (an SD on the set's scale)")
            lo, hi = aset.meta.scale.min, aset.meta.scale.max
            if threshold is None:
                threshold = DEFAULT_THRESHOLD_SHARE * (hi - lo)
            if na_items is True:
                na_list = list(ids)
            elif na_items is False:
                na_list = []
            else:
                na_list = list(na_items)
                bad = [i for i in na_list if i not in ids]
                if bad:
                    raise SessionError(f"N/A-eligible item(s) not in the session: "
                                       f"{', '.join(bad)}")
            if baseline is not None:
                base = {}
                for item, value in baseline.items():
                    if item not in ids:
                        raise SessionError(f"baseline item {item!r} is not in the session")
                    base[item] = _check_number(value, lo, hi, f"baseline score for {item!r}")
            set_rubric = aset.meta.rubric
        else:
            if threshold is not None:
                raise SessionError("a scorecard's questions have different scales: give "
                                   "threshold_share (a share of each question's range), not "
                                   "threshold")
            if na_items is not False:
                raise SessionError("in a scorecard session a question is N/A-eligible when "
                                   "its criterion declares na_allowed; na_items does not apply")
            share = DEFAULT_THRESHOLD_SHARE if threshold_share is None else threshold_share
            threshold = share
            lo, hi = 0.0, 1.0  # the total's scale
            na_list = []
            criteria_json = _card.criteria_to_json(card.criteria)
            if baseline is not None:
                base = _card_baseline(card.criteria, baseline, ids)
            set_rubric = card.meta.rubric
        if not (math.isfinite(threshold) and threshold >= 0):
            raise SessionError(f"threshold must be a non-negative number, got {threshold!r}")
        if visibility not in VISIBILITIES:
            raise SessionError(f"visibility must be one of {', '.join(VISIBILITIES)}, got "
                               f"{visibility!r}")
        due_at = parse_due(due) if due is not None else None
        refs = _clean_refs(item_refs or {}, ids)
        people = [_participant(p) for p in participants]
        seen: set[str] = set()
        for pid, _ in people:
            if pid in seen:
                raise SessionError(f"participant {pid!r} listed twice")
            seen.add(pid)

        sid = secrets.token_hex(4)
        token = new_token()
        now = time.time()
        row = {
            "id": sid, "name": name or f"{aset.meta.name} calibration", "state": "draft",
            "anchor_path": str(aset.path), "anchor_hash": aset.content_hash,
            "anchor_name": aset.meta.name, "item_ids": json.dumps(ids),
            "rubric": rubric if rubric is not None else set_rubric,
            "rubric_source": rubric_label or f"anchor set {aset.meta.name} rubric",
            "scale_min": lo, "scale_max": hi, "threshold": float(threshold),
            "outlier_distance": float(outlier_distance), "na_items": json.dumps(na_list),
            "baseline": json.dumps(base) if base is not None else None,
            "baseline_label": baseline_label, "facilitator_hash": _hash(token),
            "rescore_items": None, "forced_missing": None, "output_path": None,
            "created_at": now, "updated_at": now, "criteria": criteria_json,
            "threshold_share": share, "due_at": due_at, "visibility": visibility,
            "item_refs": json.dumps(refs) if refs else None,
            "criterion": None if card is not None else aset.meta.criterion,
        }
        imports = (_clean_reviews(row, prior_reviews, review_sources)
                   if prior_reviews is not None else {})
        with self._tx() as conn:
            conn.execute(f"INSERT INTO sessions ({', '.join(row)}) VALUES "
                         f"({', '.join('?' * len(row))})", tuple(row.values()))
            for pos, (pid, pname) in enumerate(people):
                _add_participant(conn, sid, pid, pname, pos)
            what = f"{len(card.criteria)} questions, " if card is not None else ""
            _event(conn, sid, "created", f"{len(ids)} items, {what}{len(people)} participants")
            _store_imports(conn, sid, imports)
        return Session(self, sid), token

    def get(self, session_id: str) -> Session:
        """The session with this id (SessionError if there is none)."""
        row = self._connect().execute("SELECT id FROM sessions WHERE id = ?",
                                      (session_id,)).fetchone()
        if row is None:
            raise SessionError(f"no session {session_id!r} in {self.path}")
        return Session(self, session_id)

    def list(self) -> list[SessionInfo]:
        """Every session, newest first."""
        rows = self._connect().execute("SELECT id FROM sessions ORDER BY created_at DESC, "
                                      "rowid DESC")
        return [Session(self, r["id"]).info for r in rows.fetchall()]


def _load_any(source: AnchorSet | Scorecard | str | Path) -> AnchorSet | Scorecard:
    """A set given as an object or a path: a single-criterion file as an AnchorSet, a
    scorecard file as a Scorecard."""
    if isinstance(source, AnchorSet | Scorecard):
        if isinstance(source, Scorecard) and source.single is not None:
            return source.single
        return source
    from harness.anchors import AnchorError

    try:
        card = load_scorecard(source)
    except AnchorError as exc:
        raise SessionError(str(exc)) from None
    return card.single if card.single is not None else card


def _card_baseline(criteria: list[Criterion], baseline: Mapping[str, Any],
                   ids: list[str]) -> dict[str, dict[str, float]]:
    specs = {c.id: c for c in criteria}
    out: dict[str, dict[str, float]] = {}
    for item, values in baseline.items():
        if item not in ids:
            raise SessionError(f"baseline item {item!r} is not in the session")
        if not isinstance(values, Mapping):
            raise SessionError(f"baseline for {item!r}: give question -> value (a scorecard "
                               "session)")
        for cid, value in values.items():
            if cid not in specs:
                raise SessionError(f"baseline for {item!r}: unknown question {cid!r}")
            code = _card.encode(specs[cid], value, f"baseline for item {item!r}, question "
                                                   f"{cid!r}")
            if code == NA:
                continue  # the baseline found the question not applicable: no distance
            assert isinstance(code, float)
            out.setdefault(item, {})[cid] = code
    return out


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}


def _load(path: str | Path) -> AnchorSet:
    from harness.anchors import AnchorError

    try:
        return load_anchor_set(path)
    except AnchorError as exc:
        raise SessionError(str(exc)) from None


def _participant(p: str | tuple[str, str]) -> tuple[str, str]:
    pid, pname = (p, p) if isinstance(p, str) else p
    if not isinstance(pid, str) or not _ID_RE.match(pid):
        raise SessionError(f"participant id {pid!r}: use letters, digits, '_', '.', '-' "
                           "(starting with a letter or digit)")
    return pid, (pname or pid)


def _check_number(value: Any, lo: float, hi: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SessionError(f"{what}: {value!r} is not a number")
    v = float(value)
    if not math.isfinite(v) or not lo <= v <= hi:
        raise SessionError(f"{what}: {fmt_num(v) if math.isfinite(v) else v} is off the "
                           f"scale {scale_text(lo, hi)}")
    return v


_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_due(value: float | _dt.datetime | str) -> float:
    """A due date as seconds since the epoch.

    A number is taken as such; a ``datetime`` without a time zone, and ISO text without an
    offset, are UTC; a date alone (``2025-07-01``) means the end of that day
    (23:59:59 UTC).

    Raises
    ------
    SessionError
        Anything else.
    """
    if isinstance(value, bool):
        raise SessionError(f"due date {value!r}: give a date")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise SessionError(f"due date {value!r} is not a time")
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            if _DATE_RE.fullmatch(text):
                d = _dt.date.fromisoformat(text)
                value = _dt.datetime(d.year, d.month, d.day, 23, 59, 59)
            else:
                value = _dt.datetime.fromisoformat(text)
        except ValueError:
            raise SessionError(f"due date {text!r}: give YYYY-MM-DD (the end of that day, "
                               "UTC) or YYYY-MM-DDTHH:MM[+HH:MM] (UTC unless an offset is "
                               "given)") from None
    if not isinstance(value, _dt.datetime):
        raise SessionError(f"due date {value!r}: give a date")
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.UTC)
    return value.timestamp()


def format_due(ts: float) -> str:
    """A due date as people read it: ``2025-07-01 23:59 UTC``."""
    return _dt.datetime.fromtimestamp(ts, tz=_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _clean_refs(refs: Mapping[str, ItemRef | Mapping[str, Any]],
                ids: list[str]) -> dict[str, dict[str, str | None]]:
    """Item references as stored: item -> {conversation, date}; the date ISO-checked."""
    out: dict[str, dict[str, str | None]] = {}
    for item, ref in refs.items():
        if item not in ids:
            raise SessionError(f"evaluation reference for item {item!r}: not a session item")
        if isinstance(ref, ItemRef):
            conv, when = ref.conversation, ref.date
        elif isinstance(ref, Mapping):
            extra = set(ref) - {"conversation", "date"}
            if extra:
                raise SessionError(f"evaluation reference for item {item!r}: unknown "
                                   f"field(s) {', '.join(sorted(map(str, extra)))} (give "
                                   "conversation and date)")
            conv, when = ref.get("conversation"), ref.get("date")
        else:
            raise SessionError(f"evaluation reference for item {item!r}: give a "
                               "conversation id and a date")
        try:
            ref = item_ref(conv, when)
        except SessionError as exc:
            raise SessionError(f"evaluation reference for item {item!r}: {exc}") from None
        out[item] = {"conversation": ref.conversation, "date": ref.date}
    return out


def item_ref(conversation: object, date: object) -> ItemRef:
    """An :class:`ItemRef` from a conversation id and an ISO date (``YYYY-MM-DD``, or a
    date and time), either of which may be empty (not both); SessionError otherwise."""
    conv = str(conversation).strip() if conversation is not None else ""
    when = str(date).strip() if date is not None else ""
    if not conv and not when:
        raise SessionError("give a conversation id, a date or both")
    if when:
        try:
            (_dt.date if _DATE_RE.fullmatch(when) else _dt.datetime).fromisoformat(when)
        except ValueError:
            raise SessionError(f"date {when!r} is not an ISO date (YYYY-MM-DD)") from None
    return ItemRef(conv or None, when or None)


Rows = list[tuple[str, str, float | None, int]]


def _clean_reviews(row: Mapping[str, Any] | sqlite3.Row,
                   reviews: Mapping[str, Mapping[str, Any]],
                   sources: Mapping[tuple[str, str, str], str] | None) -> dict[str, Rows]:
    """Prior reviews checked against a session's row: reviewer -> score rows covering every
    item (every question of every item on a scorecard), as a submitted round 1 must."""
    ids = json.loads(row["item_ids"])
    crits = _card.criteria_from_json(row["criteria"]) if row["criteria"] else None
    na_ok = set(json.loads(row["na_items"]))
    out: dict[str, Rows] = {}
    for reviewer, items in reviews.items():
        pid, _ = _participant(reviewer)
        if pid in out:
            raise SessionError(f"prior reviews of {pid!r} given twice")
        if not isinstance(items, Mapping):
            raise SessionError(f"prior review of {pid!r}: give item -> score")
        clean: Rows = []
        for item, value in items.items():
            pairs = value if crits is not None and isinstance(value, Mapping) else {"": value}
            for crit, v in pairs.items():
                src = (sources or {}).get((reviewer, item, crit))
                where = f"{src}: " if src else ""
                try:
                    if item not in ids:
                        raise SessionError(f"item {item!r} is not in the session")
                    if crits is None:
                        clean += _clean_scores({item: v}, na_ok, row["scale_min"],
                                               row["scale_max"], row["id"])
                    elif crit == "":
                        raise SessionError(f"item {item!r}: this session is on a scorecard; "
                                           "give a value per question")
                    else:
                        clean += _clean_card_scores(crits, {item: {crit: v}})
                except SessionError as exc:
                    raise SessionError(f"{where}prior review of {pid!r}: {exc}") from None
        have = {(i, c) for i, c, _, _ in clean}
        missing = [f"{i} / {c}" if c else i for i in ids
                   for c in ([q.id for q in crits] if crits else [""]) if (i, c) not in have]
        if missing:
            what = "(item, question) pair(s)" if crits else "item(s)"
            raise SessionError(
                f"prior review of {pid!r} does not cover {len(missing)} {what} of the session: "
                f"{', '.join(missing[:10])}{' …' if len(missing) > 10 else ''}; an imported "
                "review becomes a submitted round 1, which needs every one (choose the "
                "session's items to match the reviews)")
        out[pid] = clean
    if not out:
        raise SessionError("no prior reviews given")
    return out


def _add_participant(conn: sqlite3.Connection, sid: str, pid: str, name: str, pos: int,
                     token_hash: str | None = None, imported_at: float | None = None) -> None:
    if conn.execute("SELECT 1 FROM observers WHERE session_id = ? AND oid = ?",
                    (sid, pid)).fetchone():
        raise SessionError(f"{pid!r} is an observer of session {sid}; a participant needs "
                           "another id")
    conn.execute("INSERT INTO participants (session_id, pid, name, position, token_hash, "
                 "submitted_at, rescore_submitted_at, imported_at) VALUES (?,?,?,?,?,?,?,?)",
                 (sid, pid, name, pos, token_hash, imported_at, None, imported_at))


def _store_imports(conn: sqlite3.Connection, sid: str, imports: Mapping[str, Rows]) -> None:
    """Write checked prior reviews as submitted round-1 scores (adding the reviewers)."""
    now = time.time()
    for pid, clean in imports.items():
        prow = conn.execute("SELECT submitted_at FROM participants WHERE session_id = ? AND "
                            "pid = ?", (sid, pid)).fetchone()
        if prow is None:
            pos = conn.execute("SELECT COUNT(*) FROM participants WHERE session_id = ?",
                               (sid,)).fetchone()[0]
            _add_participant(conn, sid, pid, pid, pos, imported_at=now)
        elif prow["submitted_at"] is not None:
            raise SessionError(f"participant {pid!r} has already submitted round 1; a prior "
                               "review cannot replace submitted scores")
        else:
            conn.execute("DELETE FROM scores WHERE session_id = ? AND round = 1 AND pid = ?",
                          (sid, pid))
            conn.execute("UPDATE participants SET submitted_at = ?, imported_at = ? WHERE "
                         "session_id = ? AND pid = ?", (now, now, sid, pid))
        conn.executemany(
            "INSERT INTO scores (session_id, round, pid, item_id, criterion, score, na, at) "
            "VALUES (?,1,?,?,?,?,?,?)", [(sid, pid, i, c, v, na, now) for i, c, v, na in clean])
        _event(conn, sid, "imported", f"{pid}: a prior review as round 1 ({len(clean)} scores)")


def _event(conn: sqlite3.Connection, sid: str, kind: str, detail: str | None = None) -> None:
    conn.execute("INSERT INTO events (session_id, kind, detail, at) VALUES (?,?,?,?)",
                 (sid, kind, detail, time.time()))
    conn.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (time.time(), sid))


def parse_score(text: str) -> Score:
    """``"4"`` -> 4.0, ``"NA"``/``"N/A"`` -> ``"NA"`` (SessionError otherwise)."""
    t = text.strip()
    if t.upper() in ("NA", "N/A"):
        return NA
    try:
        return parse_number(t)  # no 1_0, nan, inf or non-ASCII digits
    except ValueError:
        raise SessionError(f"score {text!r} is not a number (or NA)") from None


class Session:
    """One calibration session, bound to its store; every call re-reads the database.

    Lifecycle: ``draft -> scoring -> review -> resolved -> closed``. Every write checks
    the state inside its transaction; a forbidden action raises :class:`SessionError`
    naming the current state and what is needed. ``closed`` is read-only.
    """

    def __init__(self, store: SessionStore, session_id: str) -> None:
        self.store = store
        self.id = session_id

    def __repr__(self) -> str:
        return f"Session({self.id!r}, state={self.state!r})"

    def identify(self, token: str) -> tuple[str, str | None] | None:
        """Who holds ``token``: ``("facilitator", None)``, ``("participant", pid)``,
        ``("observer", oid)`` or None.

        Read-only; tokens are compared as hashes in constant time. Writes check their token
        again themselves.
        """
        h = _hash(token)
        conn = self.store._connect()
        row = conn.execute("SELECT facilitator_hash FROM sessions WHERE id = ?",
                           (self.id,)).fetchone()
        if row is not None and hmac.compare_digest(h, row["facilitator_hash"]):
            return ("facilitator", None)
        found = None
        for r in conn.execute("SELECT pid, token_hash FROM participants WHERE session_id = ?",
                              (self.id,)):
            if r["token_hash"] and hmac.compare_digest(h, r["token_hash"]):
                found = r["pid"]
        if found is not None:
            return ("participant", found)
        for r in conn.execute("SELECT oid, token_hash FROM observers WHERE session_id = ?",
                              (self.id,)):
            if hmac.compare_digest(h, r["token_hash"]):
                found = r["oid"]
        return ("observer", found) if found is not None else None

    # ------------------------------------------------------------------ reading

    @property
    def info(self) -> SessionInfo:
        conn = self.store._connect()
        row = conn.execute("SELECT * FROM sessions WHERE id = ?", (self.id,)).fetchone()
        if row is None:
            raise SessionError(f"no session {self.id!r}")
        parts = [
            Participant(r["pid"], r["name"], r["token_hash"] is not None,
                        r["submitted_at"] is not None, r["rescore_submitted_at"] is not None,
                        r["imported_at"] is not None)
            for r in conn.execute("SELECT * FROM participants WHERE session_id = ? "
                                  "ORDER BY position", (self.id,))
        ]
        observers = [Observer(r["oid"], r["name"], r["sees"]) for r in conn.execute(
            "SELECT * FROM observers WHERE session_id = ? ORDER BY position", (self.id,))]
        refs = json.loads(row["item_refs"]) if row["item_refs"] else {}
        return SessionInfo(
            id=row["id"], name=row["name"], state=row["state"],
            anchor_path=row["anchor_path"], anchor_hash=row["anchor_hash"],
            anchor_name=row["anchor_name"], item_ids=json.loads(row["item_ids"]),
            rubric=row["rubric"], rubric_source=row["rubric_source"],
            scale=(row["scale_min"], row["scale_max"]), threshold=row["threshold"],
            outlier_distance=row["outlier_distance"], na_items=json.loads(row["na_items"]),
            baseline=json.loads(row["baseline"]) if row["baseline"] else None,
            baseline_label=row["baseline_label"],
            rescore_items=json.loads(row["rescore_items"]) if row["rescore_items"] else None,
            forced_missing=json.loads(row["forced_missing"]) if row["forced_missing"] else [],
            output_path=row["output_path"], created_at=row["created_at"],
            updated_at=row["updated_at"], participants=parts,
            criteria=_card.criteria_from_json(row["criteria"]) if row["criteria"] else None,
            threshold_share=row["threshold_share"], due_at=row["due_at"],
            visibility=row["visibility"],
            item_refs={k: ItemRef(v.get("conversation"), v.get("date")) for k, v in refs.items()},
            observers=observers, criterion=row["criterion"],
        )

    @property
    def state(self) -> State:
        row = self.store._connect().execute("SELECT state FROM sessions WHERE id = ?",
                                            (self.id,)).fetchone()
        return row["state"]

    def coded_scores(self, round: int = 1) -> dict[str, dict[str, dict[str, _card.Code]]]:
        """Participant -> item -> question -> stored value (a code or ``"NA"``) of a round.

        The question key is ``""`` in a single-criterion session. Unfiltered, like
        :meth:`scores`.
        """
        out: dict[str, dict[str, dict[str, _card.Code]]] = {
            p: {} for p in self.info.participant_ids}
        rows = self.store._connect().execute(
            "SELECT pid, item_id, criterion, score, na FROM scores WHERE session_id = ? AND "
            "round = ? ORDER BY rowid", (self.id, round))
        for r in rows:
            out.setdefault(r["pid"], {}).setdefault(r["item_id"], {})[r["criterion"]] = (
                NA if r["na"] else float(r["score"]))
        return out

    def scores(self, round: int = 1) -> dict[str, dict[str, Any]]:
        """Participant -> item -> score (float or ``"NA"``) of one round; unfiltered.

        In a scorecard session: participant -> item -> question id -> value (a number, a
        level of a label question, or ``"NA"``).

        This is the raw view (for the review and the export); participants should be
        shown :func:`scores_visible_to` instead.
        """
        return self._shown(self.coded_scores(round))

    def _shown(self, coded: dict[str, dict[str, dict[str, _card.Code]]]) -> dict[str, Any]:
        info = self.info
        if not info.is_scorecard:
            return {p: {item: qs[""] for item, qs in items.items() if "" in qs}
                    for p, items in coded.items()}
        specs = {c.id: c for c in info.criteria or []}
        return {p: {item: {c: _card.decode(specs[c], v) for c, v in qs.items() if c in specs}
                    for item, qs in items.items()} for p, items in coded.items()}

    def final_coded_scores(self) -> dict[str, dict[str, dict[str, _card.Code]]]:
        """:meth:`coded_scores` of the final round (round 2 where given, else round 1)."""
        final = self.coded_scores(1)
        for pid, items in self.coded_scores(2).items():
            for item, qs in items.items():
                final.setdefault(pid, {}).setdefault(item, {}).update(qs)
        return final

    def final_scores(self) -> dict[str, dict[str, Any]]:
        """Each participant's latest score per item (round 2 where given, else round 1);
        per item and question in a scorecard session."""
        return self._shown(self.final_coded_scores())

    def resolutions(self) -> dict[str, Resolution]:
        """Item -> resolution, in a single-criterion session (empty in a scorecard session:
        see :meth:`pair_resolutions`)."""
        return {item: r for (item, c), r in self.pair_resolutions().items() if c is None}

    def pair_resolutions(self) -> dict[tuple[str, str | None], Resolution]:
        """(item, question) -> resolution; the question is None in a single-criterion
        session. A label question's consensus is its level."""
        info = self.info
        specs = {c.id: c for c in info.criteria or []}
        rows = self.store._connect().execute(
            "SELECT * FROM resolutions WHERE session_id = ? ORDER BY at", (self.id,))
        out: dict[tuple[str, str | None], Resolution] = {}
        for r in rows:
            crit = r["criterion"] or None
            cons = r["consensus"]
            if crit is not None and cons is not None and crit in specs:
                cons = _card.decode(specs[crit], float(cons))
            out[(r["item_id"], crit)] = Resolution(r["item_id"], cons, r["rationale"],
                                                   r["note"], r["at"], crit)
        return out

    def notes(self) -> list[tuple[float, str]]:
        """Rubric-change notes: (time, text), oldest first."""
        rows = self.store._connect().execute(
            "SELECT at, text FROM notes WHERE session_id = ? ORDER BY seq", (self.id,))
        return [(r["at"], r["text"]) for r in rows]

    def events(self) -> list[tuple[float, str, str | None]]:
        """The session's history: (time, kind, detail), oldest first."""
        rows = self.store._connect().execute(
            "SELECT at, kind, detail FROM events WHERE session_id = ? ORDER BY seq",
            (self.id,))
        return [(r["at"], r["kind"], r["detail"]) for r in rows]

    def load_anchor_set(self) -> AnchorSet:
        """The session's anchor set, checked to be unchanged since the session was created.

        A single-criterion session only; see :meth:`load_scorecard`.
        """
        info = self.info
        if info.is_scorecard:
            raise SessionError(f"session {self.id} is on a scorecard; use load_scorecard")
        aset = _load(info.anchor_path)
        if aset.content_hash != info.anchor_hash:
            raise SessionError(f"the anchor set {info.anchor_path} changed since session "
                               f"{self.id} was created; restore it or start a new session")
        return aset

    def load_scorecard(self) -> Scorecard:
        """The session's set as a :class:`Scorecard` (a single-criterion set as the
        one-question case), checked to be unchanged since the session was created."""
        from harness.anchors import AnchorError

        info = self.info
        try:
            card = load_scorecard(info.anchor_path)
        except AnchorError as exc:
            raise SessionError(str(exc)) from None
        if card.content_hash != info.anchor_hash:
            raise SessionError(f"the anchor set {info.anchor_path} changed since session "
                               f"{self.id} was created; restore it or start a new session")
        return card

    def item_texts(self) -> dict[str, tuple[str, str]]:
        """Item id -> (input, output) of the session's set (SessionError if it changed)."""
        return {it.id: (it.input, it.output) for it in self.load_scorecard().items}

    # ------------------------------------------------------------------ guards

    def _row(self, conn: sqlite3.Connection) -> sqlite3.Row:
        return conn.execute("SELECT * FROM sessions WHERE id = ?", (self.id,)).fetchone()

    def _require(self, conn: sqlite3.Connection, action: str, *states: State) -> sqlite3.Row:
        row = self._row(conn)
        state = row["state"]
        if state == "closed":
            raise SessionError(f"session {self.id} is closed (read-only): cannot {action}")
        if state not in states:
            raise SessionError(f"cannot {action}: session {self.id} is in state {state!r}; "
                               f"this needs state {' or '.join(map(repr, states))}")
        return row

    def _check_facilitator(self, row: sqlite3.Row, token: str | None, action: str) -> None:
        if not token or not hmac.compare_digest(_hash(token), row["facilitator_hash"]):
            raise SessionError(f"cannot {action}: this needs the facilitator token printed "
                               "when the session was created (wrong or missing token)")

    def _check_participant(self, conn: sqlite3.Connection, pid: str,
                           token: str | None) -> sqlite3.Row:
        prow = conn.execute("SELECT * FROM participants WHERE session_id = ? AND pid = ?",
                            (self.id, pid)).fetchone()
        if prow is None:
            raise SessionError(f"{pid!r} is not a participant of session {self.id}")
        if prow["token_hash"] is None:
            raise SessionError(f"participant {pid!r} has not been invited yet (no token); "
                               "the facilitator runs 'invite'")
        if not token or not hmac.compare_digest(_hash(token), prow["token_hash"]):
            raise SessionError(f"wrong or missing token for participant {pid!r}")
        return prow

    # ------------------------------------------------------------------ facilitator

    def invite(self, participant: str | tuple[str, str], facilitator_token: str) -> str:
        """Issue (or re-issue) a participant's personal token; returns it (shown once).

        A new participant can be added only in ``draft``; re-issuing a lost token is allowed
        in any state before ``closed``.
        """
        pid, pname = _participant(participant)
        with self.store._tx() as conn:
            row = self._require(conn, "invite participants", "draft", "scoring", "review",
                                "resolved")
            self._check_facilitator(row, facilitator_token, "invite participants")
            exists = conn.execute("SELECT 1 FROM participants WHERE session_id = ? AND pid = ?",
                                  (self.id, pid)).fetchone()
            token = new_token()
            if exists:
                conn.execute("UPDATE participants SET token_hash = ? WHERE session_id = ? "
                             "AND pid = ?", (_hash(token), self.id, pid))
            else:
                if row["state"] != "draft":
                    raise SessionError(f"cannot add participant {pid!r}: session {self.id} is "
                                       f"in state {row['state']!r}; participants can be added "
                                       "only in 'draft'")
                pos = conn.execute("SELECT COUNT(*) FROM participants WHERE session_id = ?",
                                   (self.id,)).fetchone()[0]
                _add_participant(conn, self.id, pid, pname, pos, _hash(token))
            _event(conn, self.id, "invited", pid)
        return token

    def start_scoring(self, facilitator_token: str) -> None:
        """``draft -> scoring``: needs at least 2 participants, each invited (with a token)."""
        with self.store._tx() as conn:
            row = self._require(conn, "start scoring", "draft")
            self._check_facilitator(row, facilitator_token, "start scoring")
            parts = conn.execute("SELECT pid, token_hash, imported_at FROM participants "
                                 "WHERE session_id = ?", (self.id,)).fetchall()
            if len(parts) < MIN_PARTICIPANTS:
                raise SessionError(f"cannot start scoring: session {self.id} is in state "
                                   f"'draft' with {len(parts)} participant(s); at least "
                                   f"{MIN_PARTICIPANTS} are needed")
            # an imported reviewer has submitted already: no token needed to score
            uninvited = [p["pid"] for p in parts
                         if p["token_hash"] is None and p["imported_at"] is None]
            if uninvited:
                raise SessionError(f"cannot start scoring: participant(s) not invited yet "
                                   f"(no token): {', '.join(uninvited)}; run 'invite' first")
            conn.execute("UPDATE sessions SET state = 'scoring' WHERE id = ?", (self.id,))
            _event(conn, self.id, "scoring")

    def add_observer(self, observer: str | tuple[str, str], facilitator_token: str, *,
                     sees: str = "always") -> str:
        """Issue (or re-issue) an observer's token; returns it (shown once).

        An observer (a lead, a manager) reads the session with their own token and cannot
        change anything. Before review they see every participant's saved round-1 scores
        (``sees="always"``) or only those of the participants who have submitted
        (``"submitted"``); from review on, everyone's, like a participant. Re-issuing
        updates ``sees``. Any state before ``closed``.
        """
        oid, oname = _participant(observer)
        if sees not in OBSERVER_SEES:
            raise SessionError(f"an observer sees {' or '.join(OBSERVER_SEES)}, got {sees!r}")
        with self.store._tx() as conn:
            row = self._require(conn, "add an observer", "draft", "scoring", "review",
                                "resolved")
            self._check_facilitator(row, facilitator_token, "add an observer")
            if conn.execute("SELECT 1 FROM participants WHERE session_id = ? AND pid = ?",
                            (self.id, oid)).fetchone():
                raise SessionError(f"{oid!r} is a participant of session {self.id}; an "
                                   "observer needs another id")
            token = new_token()
            pos = conn.execute("SELECT COUNT(*) FROM observers WHERE session_id = ?",
                               (self.id,)).fetchone()[0]
            conn.execute("INSERT INTO observers (session_id, oid, name, sees, position, "
                         "token_hash) VALUES (?,?,?,?,?,?) ON CONFLICT (session_id, oid) DO "
                         "UPDATE SET sees = excluded.sees, token_hash = excluded.token_hash",
                         (self.id, oid, oname, sees, pos, _hash(token)))
            _event(conn, self.id, "observer", f"{oid} (sees {sees})")
        return token

    def import_reviews(self, reviews: Mapping[str, Mapping[str, Any]],
                       facilitator_token: str, *,
                       sources: Mapping[tuple[str, str, str], str] | None = None) -> list[str]:
        """Import existing reviews as the reviewers' round-1 scores, submitted.

        ``reviews`` maps reviewer id -> item id -> score (-> question id -> value on a
        scorecard), one review per reviewer and item, covering every session item (every
        question). A reviewer who is not a participant becomes one (no token needed: their
        round 1 is already submitted; ``invite`` gives them one to read the pages); a
        participant who has not submitted has their saved round-1 scores replaced. In
        ``draft`` or ``scoring``. ``sources`` labels each ``(reviewer, item, question)``
        (question ``""`` in a single-criterion session), e.g. ``file:line``, in errors.
        Returns the reviewers imported.
        """
        with self.store._tx() as conn:
            row = self._require(conn, "import prior reviews", "draft", "scoring")
            self._check_facilitator(row, facilitator_token, "import prior reviews")
            imports = _clean_reviews(row, reviews, sources)
            _store_imports(conn, self.id, imports)
        return list(imports)

    def extend_due(self, due: float | _dt.datetime | str, facilitator_token: str) -> float:
        """Set the due date, or move it later (never earlier); in ``draft`` or ``scoring``.
        Returns it (seconds since the epoch; see :func:`parse_due`)."""
        when = parse_due(due)
        with self.store._tx() as conn:
            row = self._require(conn, "change the due date", "draft", "scoring")
            self._check_facilitator(row, facilitator_token, "change the due date")
            if row["due_at"] is not None and when <= row["due_at"]:
                raise SessionError(f"the due date can only be extended: {format_due(when)} is "
                                   f"not after the current {format_due(row['due_at'])}")
            conn.execute("UPDATE sessions SET due_at = ? WHERE id = ?", (when, self.id))
            _event(conn, self.id, "due", format_due(when))
        return when

    def overdue(self, now: float | None = None) -> list[str]:
        """The participants who have not submitted round 1 although it is due.

        Empty without a due date, before it (``now``, default the store's clock) and from
        review on.
        """
        info = self.info
        t = self.store.clock() if now is None else now
        if info.due_at is None or t <= info.due_at or info.state not in ("draft", "scoring"):
            return []
        return [p.id for p in info.participants if not p.submitted]

    def is_overdue(self, now: float | None = None) -> bool:
        """Whether the due date has passed (``now``, default the store's clock) while round
        1 is still open (``draft`` or ``scoring``)."""
        info = self.info
        t = self.store.clock() if now is None else now
        return (info.due_at is not None and t > info.due_at
                and info.state in ("draft", "scoring"))

    def begin_review(self, facilitator_token: str, force: bool = False) -> ReviewTransition:
        """``scoring -> review``: when every participant has submitted, or with ``force``.

        Returns the participants who had not submitted (``missing``; their unsubmitted
        scores are kept and shown, and locked from now on).
        """
        with self.store._tx() as conn:
            row = self._require(conn, "start the review", "scoring")
            self._check_facilitator(row, facilitator_token, "start the review")
            missing = [r["pid"] for r in conn.execute(
                "SELECT pid FROM participants WHERE session_id = ? AND submitted_at IS NULL "
                "ORDER BY position", (self.id,))]
            if missing and not force:
                raise SessionError(f"cannot start the review: session {self.id} is in state "
                                   f"'scoring' and not every participant has submitted "
                                   f"(missing: {', '.join(missing)}); wait, or force it")
            conn.execute("UPDATE sessions SET state = 'review', forced_missing = ? WHERE id = ?",
                         (json.dumps(missing), self.id))
            _event(conn, self.id, "review",
                   f"forced; missing: {', '.join(missing)}" if missing else None)
        return ReviewTransition(forced=bool(missing), missing=missing)

    def resolve_item(self, item_id: str, facilitator_token: str, *,
                     consensus: float | str | None = None, rationale: str | None = None,
                     note: str | None = None, criterion: str | None = None) -> Resolution:
        """Record (or replace) the resolution of one item (in ``review``).

        In a scorecard session, of one (item, question) pair: ``criterion`` names the
        question, and ``consensus`` is a number on its scale or one of its levels.
        """
        info = self.info
        if info.is_scorecard and criterion is None:
            raise SessionError(f"session {self.id} is on a scorecard: name the question to "
                               f"resolve ({', '.join(info.criterion_ids)})")
        spec = info.spec(criterion) if criterion is not None else None
        with self.store._tx() as conn:
            row = self._require(conn, "record a resolution", "review")
            self._check_facilitator(row, facilitator_token, "record a resolution")
            if item_id not in json.loads(row["item_ids"]):
                raise SessionError(f"item {item_id!r} is not in session {self.id}")
            code: float | None = None
            if consensus is not None and spec is not None:
                where = f"consensus for item {item_id!r}, question {spec.id!r}"
                if isinstance(consensus, str) and consensus.strip().upper() in ("NA", "N/A"):
                    raise SessionError(f"{where}: a consensus cannot be N/A")
                c = _card.encode(spec, consensus, where)
                assert isinstance(c, float)
                code = c
            elif consensus is not None:
                code = _check_number(consensus, row["scale_min"], row["scale_max"],
                                     f"consensus for {item_id!r}")
            if code is None and not (note or rationale):
                raise SessionError("a resolution needs a consensus score, a rationale or a note")
            now = time.time()
            conn.execute("INSERT OR REPLACE INTO resolutions (session_id, item_id, criterion, "
                         "consensus, rationale, note, at) VALUES (?,?,?,?,?,?,?)",
                         (self.id, item_id, criterion or "", code, rationale, note, now))
            _event(conn, self.id, "resolution",
                   item_id if criterion is None else f"{item_id} / {criterion}")
        shown = code if spec is None or code is None else _card.decode(spec, code)
        return Resolution(item_id, shown, rationale, note, now, criterion)

    def add_note(self, text: str, facilitator_token: str) -> None:
        """Record a rubric change (free text) agreed in the discussion."""
        if not text.strip():
            raise SessionError("the note is empty")
        with self.store._tx() as conn:
            row = self._require(conn, "add a note", "draft", "scoring", "review", "resolved")
            self._check_facilitator(row, facilitator_token, "add a note")
            conn.execute("INSERT INTO notes (session_id, text, at) VALUES (?,?,?)",
                         (self.id, text.strip(), time.time()))
            _event(conn, self.id, "note")

    def open_rescore(self, item_ids: Iterable[str], facilitator_token: str) -> None:
        """Open the effectiveness re-score round (round 2) on a subset, in ``review``."""
        ids = list(dict.fromkeys(item_ids))  # a repeated id would count twice in the ICC
        with self.store._tx() as conn:
            row = self._require(conn, "open the re-score round", "review")
            self._check_facilitator(row, facilitator_token, "open the re-score round")
            if row["rescore_items"]:
                raise SessionError(f"session {self.id} already has a re-score round")
            known = json.loads(row["item_ids"])
            bad = [i for i in ids if i not in known]
            if bad or not ids:
                raise SessionError(f"re-score items must be session items: "
                                   f"{', '.join(bad) or '(none given)'}")
            conn.execute("UPDATE sessions SET rescore_items = ? WHERE id = ?",
                         (json.dumps(ids), self.id))
            _event(conn, self.id, "rescore", f"{len(ids)} items")

    def mark_resolved(self, facilitator_token: str, output: str | Path | None = None) -> Path:
        """``review -> resolved``: write the new anchor-set version; returns its path.

        Every flagged item must have a resolution. See
        :func:`harness.sessions.write_anchor_version` for what is written.
        """
        from ._review import review
        from ._version import write_anchor_version

        with self.store._tx() as conn:
            row = self._require(conn, "resolve the session", "review")
            self._check_facilitator(row, facilitator_token, "resolve the session")
        rv = review(self)
        done = self.pair_resolutions()
        open_items = [r.label for r in rv.items
                      if r.flagged and (r.item_id, r.criterion) not in done]
        if open_items:
            what = "(item, question) pair(s)" if self.info.is_scorecard else "item(s)"
            raise SessionError(f"cannot resolve session {self.id}: flagged {what} without a "
                               f"resolution: {', '.join(open_items)}")
        info = self.info
        if info.rescore_items:
            pending = [p.id for p in info.participants if not p.rescore_submitted]
            if pending:
                raise SessionError(f"cannot resolve session {self.id}: the re-score round is "
                                   f"open and not submitted by: {', '.join(pending)}")
        path = write_anchor_version(self, output)
        try:
            with self.store._tx() as conn:
                # another finish may have won meanwhile: then this file is an orphan
                self._require(conn, "resolve the session", "review")
                conn.execute("UPDATE sessions SET state = 'resolved', output_path = ? "
                             "WHERE id = ?", (str(path), self.id))
                _event(conn, self.id, "resolved", str(path))
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return path

    def close(self, facilitator_token: str) -> None:
        """``resolved -> closed`` (read-only from then on)."""
        with self.store._tx() as conn:
            row = self._require(conn, "close the session", "resolved")
            self._check_facilitator(row, facilitator_token, "close the session")
            conn.execute("UPDATE sessions SET state = 'closed' WHERE id = ?", (self.id,))
            _event(conn, self.id, "closed")

    # ------------------------------------------------------------------ participants

    def score(self, participant: str, token: str, scores: Mapping[str, Any],
              round: int = 1) -> None:
        """Record (or overwrite) a participant's scores; before they submit.

        ``scores`` maps item id -> number on the scale, or ``"NA"`` on an N/A-eligible item.
        In a scorecard session it maps item id -> question id -> a number (numeric
        question), a level (label question) or ``"NA"`` (where the question allows it);
        any subset may be saved, the rest later.
        Round 1 needs state ``scoring``; round 2 (the re-score round) needs ``review`` with
        the round opened, and only its items.
        """
        if round not in (1, 2):
            raise SessionError(f"round must be 1 or 2, got {round!r}")
        with self.store._tx() as conn:
            if round == 1:
                row = self._require(conn, "score", "scoring")
                allowed = json.loads(row["item_ids"])
            else:
                row = self._require(conn, "re-score", "review")
                if not row["rescore_items"]:
                    raise SessionError(f"cannot re-score: session {self.id} has no re-score "
                                       "round open (the facilitator opens one in review)")
                allowed = json.loads(row["rescore_items"])
            prow = self._check_participant(conn, participant, token)
            col = "submitted_at" if round == 1 else "rescore_submitted_at"
            if prow[col] is not None:
                hint = (" (re-scoring is only possible in the re-score round)" if round == 1
                        else "")
                raise SessionError(f"participant {participant!r} has already submitted round "
                                   f"{round}; the scores are locked{hint}")
            open_items = set(allowed)
            for item in scores:
                if item not in open_items:
                    raise SessionError(f"item {item!r} is not open for scoring in round {round} "
                                       f"of session {self.id}")
            if row["criteria"]:
                clean = _clean_card_scores(_card.criteria_from_json(row["criteria"]), scores)
            else:
                clean = _clean_scores(scores, set(json.loads(row["na_items"])),
                                      row["scale_min"], row["scale_max"], self.id)
            now = time.time()
            conn.executemany(
                "INSERT OR REPLACE INTO scores (session_id, round, pid, item_id, criterion, "
                "score, na, at) VALUES (?,?,?,?,?,?,?,?)",
                [(self.id, round, participant, item, crit, v, na, now)
                 for item, crit, v, na in clean])

    def submit(self, participant: str, token: str, round: int = 1) -> None:
        """Lock a participant's scores of a round; every open item must be scored (every
        question of every item in a scorecard session)."""
        with self.store._tx() as conn:
            if round == 1:
                row = self._require(conn, "submit", "scoring")
                needed = json.loads(row["item_ids"])
            else:
                row = self._require(conn, "submit the re-score round", "review")
                if not row["rescore_items"]:
                    raise SessionError(f"session {self.id} has no re-score round open")
                needed = json.loads(row["rescore_items"])
            prow = self._check_participant(conn, participant, token)
            col = "submitted_at" if round == 1 else "rescore_submitted_at"
            if prow[col] is not None:
                raise SessionError(f"participant {participant!r} has already submitted round "
                                   f"{round}")
            have = {(r["item_id"], r["criterion"]) for r in conn.execute(
                "SELECT item_id, criterion FROM scores WHERE session_id = ? AND round = ? AND "
                "pid = ?", (self.id, round, participant))}
            crits = ([c.id for c in _card.criteria_from_json(row["criteria"])]
                     if row["criteria"] else [""])
            missing = [f"{i} / {c}" if c else i for i in needed for c in crits
                       if (i, c) not in have]
            if missing:
                what = "(item, question) pair(s)" if row["criteria"] else "item(s)"
                raise SessionError(f"cannot submit: {participant!r} has not scored "
                                   f"{len(missing)} {what}: {', '.join(missing[:10])}"
                                   f"{' …' if len(missing) > 10 else ''}")
            conn.execute(f"UPDATE participants SET {col} = ? WHERE session_id = ? AND pid = ?",
                         (time.time(), self.id, participant))
            _event(conn, self.id, "submitted", f"{participant} (round {round})")


def _clean_scores(scores: Mapping[str, Any], na_ok: set[str], lo: float, hi: float,
                  sid: str) -> list[tuple[str, str, float | None, int]]:
    """A single-criterion session's scores as rows ``(item, "", score, na)``."""
    clean: list[tuple[str, str, float | None, int]] = []
    for item, value in scores.items():
        if isinstance(value, str):
            value = parse_score(value)
        if value == NA:
            if item not in na_ok:
                raise SessionError(f"item {item!r} is not N/A-eligible in session "
                                   f"{sid}; give a score on the scale")
            clean.append((item, "", None, 1))
        else:
            clean.append((item, "", _check_number(value, lo, hi, f"score for {item!r}"), 0))
    return clean


def _clean_card_scores(criteria: list[Criterion], scores: Mapping[str, Any]
                       ) -> list[tuple[str, str, float | None, int]]:
    """A scorecard session's scores as rows ``(item, question, code, na)``."""
    specs = {c.id: c for c in criteria}
    clean: list[tuple[str, str, float | None, int]] = []
    for item, values in scores.items():
        if not isinstance(values, Mapping):
            raise SessionError(f"item {item!r}: this session is on a scorecard; give a value "
                               f"per question ({', '.join(specs)})")
        for cid, value in values.items():
            if cid not in specs:
                raise SessionError(f"item {item!r}: unknown question {cid!r}; the questions "
                                   f"are {', '.join(specs)}")
            code = _card.encode(specs[cid], value, f"item {item!r}, question {cid!r}")
            clean.append((item, cid, None, 1) if code == NA else (item, cid, float(code), 0))
    return clean


def scores_visible_to(session: Session, participant: str) -> dict[str, dict[str, Any]]:
    """The round-1 scores ``participant`` may see. Participant -> item -> score (->
    question -> value in a scorecard session, as :meth:`Session.scores`).

    From review on, everyone's. Before review, by the session's visibility rule: only
    their own (``blind``); under ``after-submit``, once they have submitted, also those of
    every peer who has submitted (never a peer's unsubmitted scores).
    """
    info = session.info
    me = next((p for p in info.participants if p.id == participant), None)
    if me is None:
        raise SessionError(f"{participant!r} is not a participant of session {session.id}")
    if info.state in ("draft", "scoring"):
        if info.visibility == "after-submit" and me.submitted:
            return _visible(session, [p.id for p in info.participants if p.submitted])
        return _visible(session, [participant])
    return _visible(session, None)


def scores_visible_to_observer(session: Session, observer: str) -> dict[str, dict[str, Any]]:
    """The round-1 scores an observer may see (as :func:`scores_visible_to`).

    From review on, everyone's; before, every participant's saved scores (``sees``
    ``always``) or those of the participants who have submitted (``submitted``).
    """
    info = session.info
    obs = next((o for o in info.observers if o.id == observer), None)
    if obs is None:
        raise SessionError(f"{observer!r} is not an observer of session {session.id}")
    if info.state in ("draft", "scoring") and obs.sees == "submitted":
        return _visible(session, [p.id for p in info.participants if p.submitted])
    return _visible(session, None)


def _visible(session: Session, who: list[str] | None) -> dict[str, dict[str, Any]]:
    """Round-1 scores of ``who`` (None: everyone), participant -> item -> score."""
    all_scores = session.scores(1)
    if who is None:
        return all_scores
    return {p: dict(all_scores.get(p, {})) for p in who}
