"""The journal: every judge call, its raw reply and parsed score, in SQLite.

Each call is keyed by a hash of everything that determines its reply (provider, model,
parameters, rendered messages, sample index), so a re-run with nothing changed is answered
from here and makes no call, and a run killed halfway re-runs only what is missing.
The database is in WAL mode with a busy timeout, so two processes can share it; each record
is written in its own transaction the moment its call ends.

API keys never reach the journal: keys are not part of a judge's identity, and provider
errors are stored as their message after :func:`redact`.

The journal also keeps the holdout ledger (:meth:`Journal.record_holdout_look`,
:meth:`Journal.holdout_looks`): which prompt versions, with which judge, have been evaluated
on an anchor set's holdout. A *look* is one distinct (prompt hash, judge hash) pair evaluated
on a holdout (identified by ``AnchorSet.items_hash("holdout")``); the same pair evaluated
again, by any command, is the same look.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal

from harness._sqlite import ThreadLocalSQLite
from harness._state import default_state_dir

Status = Literal["ok", "invalid", "failed"]

#: 2: ``calls.scores`` (the scores of a multi-score call, canonical JSON).
#: 3: the ``batches`` table (provider batches submitted and not yet journaled).
#: 4: ``calls.reply_model`` (the model id the provider reported) and the ``panel_runs``
#: table (runs of a frozen anchor panel, for drift attribution).
#: 5: the ``probe_runs`` table (bias probes' results, read by the gate).
SCHEMA_VERSION = 5

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    key TEXT PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('ok', 'invalid', 'failed')),
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    params TEXT NOT NULL,
    prompt_name TEXT,
    prompt_version TEXT,
    prompt_hash TEXT,
    anchor_set TEXT,
    item_id TEXT NOT NULL,
    sample_index INTEGER NOT NULL,
    messages TEXT NOT NULL,
    raw_reply TEXT,
    score REAL,
    scores TEXT,
    reasoning TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 1,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost REAL,
    latency_s REAL,
    created_at REAL NOT NULL,
    reply_model TEXT
);
CREATE INDEX IF NOT EXISTS calls_prompt ON calls (prompt_name, prompt_version);
CREATE INDEX IF NOT EXISTS calls_item ON calls (item_id);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS endpoints (
    endpoint TEXT NOT NULL,
    model TEXT NOT NULL,
    structured TEXT NOT NULL,
    reason TEXT,
    decided_at REAL NOT NULL,
    PRIMARY KEY (endpoint, model)
);
CREATE TABLE IF NOT EXISTS holdout_looks (
    items_hash TEXT NOT NULL,
    anchor_set TEXT,
    prompt_name TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    prompt_hash TEXT NOT NULL,
    judge_hash TEXT NOT NULL,
    command TEXT NOT NULL,
    run_id TEXT,
    looked_at REAL NOT NULL,
    PRIMARY KEY (items_hash, prompt_hash, judge_hash, command)
);
"""


@dataclass(frozen=True)
class EndpointMode:
    """How an endpoint constrains structured replies, as negotiated once and remembered."""

    endpoint: str
    model: str
    structured: str
    reason: str | None
    decided_at: float


@dataclass(frozen=True)
class HoldoutLook:
    """One evaluation of a holdout by a prompt version with a judge, as the ledger keeps it.

    Attributes
    ----------
    items_hash : str
        ``AnchorSet.items_hash("holdout")``: what identifies the holdout.
    anchor_set : str or None
        The anchor set's name (for people; the hash is what counts).
    prompt_name, prompt_version, prompt_hash : str
        The version evaluated (its content hash is what counts).
    judge_hash : str
        ``judgecal.judge_hash`` of the judge it was evaluated with
        (:func:`harness.tracking.judge_tags`).
    command : str
        ``validate``, ``gate``, ``promote`` or ``calibrate`` (the loop's one holdout look).
    run_id : str or None
        The MLflow run, when there is one (the calibration's parent run).
    looked_at : float
        Unix time of the first such evaluation.
    """

    items_hash: str
    anchor_set: str | None
    prompt_name: str
    prompt_version: str
    prompt_hash: str
    judge_hash: str
    command: str
    run_id: str | None
    looked_at: float

    @property
    def version_key(self) -> tuple[str, str]:
        """What makes a look distinct: ``(prompt_hash, judge_hash)``."""
        return self.prompt_hash, self.judge_hash


_LOOK_COLUMNS = [f.name for f in fields(HoldoutLook)]

#: Version 3: one row per batch submitted to a provider's batch API.
_BATCHES = """
CREATE TABLE IF NOT EXISTS batches (
    batch_id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    model TEXT NOT NULL,
    keys TEXT NOT NULL,
    status TEXT NOT NULL,
    round INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS batches_status ON batches (provider, endpoint, model, status);
"""

#: Version 4: one row per run of a frozen anchor panel (``judgecal panel``).
_PANEL_RUNS = """
CREATE TABLE IF NOT EXISTS panel_runs (
    run_id TEXT PRIMARY KEY,
    experiment TEXT NOT NULL,
    anchor_set TEXT,
    items_hash TEXT NOT NULL,
    split TEXT NOT NULL,
    created_at REAL NOT NULL,
    fingerprint TEXT NOT NULL,
    scores TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS panel_runs_panel ON panel_runs (experiment, items_hash, created_at);
"""


@dataclass(frozen=True)
class PanelRun:
    """One run of a frozen anchor panel (:mod:`harness.drift`), as the journal keeps it.

    Attributes
    ----------
    run_id : str
        A random id (hex).
    experiment : str
        The experiment's name.
    anchor_set : str or None
        The anchor set's name (for people; ``items_hash`` is what counts).
    items_hash : str
        ``AnchorSet.items_hash(split)`` of the panel (None split: ``all``).
    split : str
        ``all``, ``calibration`` or ``holdout``.
    created_at : float
        Unix time of the run.
    fingerprint : dict
        The judge as the run saw it: provider, configured model and identity, the model
        ids the provider reported, the prompt's name, version and hash, the request
        parameters.
    scores : dict of str to float or None
        Each panel item's score (samples combined); None for an item without a valid
        judgment.
    """

    run_id: str
    experiment: str
    anchor_set: str | None
    items_hash: str
    split: str
    created_at: float
    fingerprint: dict[str, Any]
    scores: dict[str, float | None]


_PANEL_COLUMNS = [f.name for f in fields(PanelRun)]


#: Version 5: one row per bias probe run (``judgecal probe``), read by the gate.
_PROBE_RUNS = """
CREATE TABLE IF NOT EXISTS probe_runs (
    prompt_hash TEXT NOT NULL,
    judge_hash TEXT NOT NULL,
    probe TEXT NOT NULL,
    prompt_name TEXT,
    prompt_version TEXT,
    anchor_set TEXT,
    split TEXT NOT NULL,
    passed INTEGER,
    result TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS probe_runs_version ON probe_runs (prompt_hash, judge_hash, probe,
                                                             created_at);
"""


#: The status of a batch whose results are all in ``calls``.
BATCH_JOURNALED = "journaled"


@dataclass(frozen=True)
class BatchRecord:
    """One batch submitted to a provider's batch API, as the journal keeps it.

    Attributes
    ----------
    batch_id : str
        The provider's batch id.
    provider, endpoint, model : str
        Where it was submitted (the judge's provider, endpoint and model).
    keys : dict of str to str
        The batch's ``custom_id`` of each request to its journal key (the same string
        when the key is a valid ``custom_id``).
    status : str
        The provider's status when last seen (``in_progress``, ``ended``, ``expired``...),
        or :data:`BATCH_JOURNALED` once its results are written to ``calls``.
    round : int
        0 for a first submission; ``n`` for the ``n``-th re-ask of invalid replies.
    created_at, updated_at : float
        Unix times of the submission and of the last status change.
    """

    batch_id: str
    provider: str
    endpoint: str
    model: str
    keys: dict[str, str]
    status: str
    round: int = 0
    created_at: float = 0.0
    updated_at: float = 0.0

    @property
    def open(self) -> bool:
        """Whether the batch's results are still to be journaled."""
        return self.status != BATCH_JOURNALED


_BATCH_COLUMNS = [f.name for f in fields(BatchRecord)]


@dataclass(frozen=True)
class CallRecord:
    """One journaled call (or its final failure)."""

    key: str
    status: Status
    provider: str
    model: str
    params: str  # canonical JSON
    item_id: str
    sample_index: int
    messages: str  # canonical JSON of the rendered messages
    prompt_name: str | None = None
    prompt_version: str | None = None
    prompt_hash: str | None = None
    anchor_set: str | None = None
    raw_reply: str | None = None
    score: float | None = None
    #: A multi-score call's scores (canonical JSON of field -> score); None otherwise.
    scores: str | None = None
    reasoning: str | None = None
    error: str | None = None
    attempts: int = 1
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float | None = None  # USD; None when the model's price is unknown
    latency_s: float | None = None
    created_at: float = 0.0
    #: The model id the provider reported in its reply (None: none reported, or older).
    reply_model: str | None = None


_COLUMNS = [f.name for f in fields(CallRecord)]


def canonical_json(obj: Any) -> str:
    """Deterministic JSON (sorted keys, no spaces) for hashing and storage."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def call_key(
    *, identity: dict[str, Any], params: dict[str, Any], messages: list[dict[str, str]],
    sample_index: int,
) -> str:
    """The journal key of a call: sha256 of everything that determines its reply."""
    payload = canonical_json(
        {"judge": identity, "params": params, "messages": messages, "sample": sample_index}
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


_SECRET_PATTERNS = [
    re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"(?i)(api[_-]?key|authorization|x-api-key|bearer)([\"'=:\s]+)[A-Za-z0-9_\-\.]{8,}"),
]


def redact(text: str | None, secrets: Iterable[str] = ()) -> str | None:
    """Remove API keys from ``text``: the given secrets, and anything shaped like a key."""
    if text is None:
        return None
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[REDACTED]")
    text = _SECRET_PATTERNS[0].sub("[REDACTED]", text)
    return _SECRET_PATTERNS[1].sub(lambda m: f"{m.group(1)}{m.group(2)}[REDACTED]", text)


class Journal(ThreadLocalSQLite):
    """SQLite journal of judge calls (WAL mode; safe to share between processes).

    Parameters
    ----------
    path : str or Path
        The database file, or a state directory (then ``<dir>/journal.sqlite``).
    """

    def __init__(self, path: str | Path | None = None) -> None:
        p = Path(path) if path is not None else default_state_dir()
        if p.suffix not in (".sqlite", ".db"):
            p = p / "journal.sqlite"
        p.parent.mkdir(parents=True, exist_ok=True)
        super().__init__(p)
        with self._connect() as conn:
            conn.executescript(_SCHEMA)
            _migrate(conn)
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)",
                         (str(SCHEMA_VERSION),))

    # ----------------------------------------------------------------- reading

    def get(self, key: str) -> CallRecord | None:
        row = self._connect().execute("SELECT * FROM calls WHERE key = ?", (key,)).fetchone()
        return _record(row) if row is not None else None

    def get_many(self, keys: Iterable[str]) -> dict[str, CallRecord]:
        """Records for ``keys`` (those present), in one pass.

        The keys are looked up in sorted order: neighbouring keys share B-tree pages, which
        halved the lookup time per key of a re-run on a 1,000,000-entry journal
        (``benchmarks/bench_journal.py``).
        """
        keys = sorted(set(keys))
        out: dict[str, CallRecord] = {}
        conn = self._connect()
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for row in conn.execute(f"SELECT * FROM calls WHERE key IN ({marks})", chunk):
                out[row["key"]] = _record(row)
        return out

    def prompt_hashes(self, prompt_name: str, prompt_version: str) -> dict[str, int]:
        """Content hashes journaled for a prompt version, with their number of calls."""
        rows = self._connect().execute(
            "SELECT prompt_hash, COUNT(*) AS n FROM calls WHERE prompt_name = ? "
            "AND prompt_version = ? GROUP BY prompt_hash",
            (prompt_name, prompt_version),
        )
        return {r["prompt_hash"]: r["n"] for r in rows if r["prompt_hash"] is not None}

    def records(self, **where: Any) -> Iterator[CallRecord]:
        """Records matching column equalities, e.g. ``records(prompt_name="x")``."""
        bad = set(where) - set(_COLUMNS)
        if bad:
            raise ValueError(f"unknown journal columns: {sorted(bad)}")
        clause = " AND ".join(f"{k} = ?" for k in where) or "1"
        rows = self._connect().execute(
            f"SELECT * FROM calls WHERE {clause} ORDER BY created_at", tuple(where.values())
        )
        for row in rows:
            yield _record(row)

    def count(self) -> int:
        return int(self._connect().execute("SELECT COUNT(*) FROM calls").fetchone()[0])

    def endpoint_mode(self, endpoint: str, model: str) -> EndpointMode | None:
        """The structured mode remembered for ``model`` at ``endpoint``, if any.

        Parameters
        ----------
        endpoint : str
            The normalised endpoint (``scheme://host:port/path``).
        model : str
            The model name as the endpoint knows it.

        Returns
        -------
        EndpointMode or None
        """
        row = self._connect().execute(
            "SELECT * FROM endpoints WHERE endpoint = ? AND model = ?", (endpoint, model)
        ).fetchone()
        if row is None:
            return None
        return EndpointMode(endpoint=row["endpoint"], model=row["model"],
                            structured=row["structured"], reason=row["reason"],
                            decided_at=row["decided_at"])

    def remember_endpoint_mode(self, endpoint: str, model: str, structured: str,
                               reason: str | None = None) -> None:
        """Remember the structured mode negotiated with ``model`` at ``endpoint``.

        Parameters
        ----------
        endpoint : str
            The normalised endpoint.
        model : str
            The model name.
        structured : str
            The mode that worked (e.g. ``json_schema``, ``json_object``, ``none``).
        reason : str, optional
            Why (the refusal of the stronger modes), without secrets.
        """
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("INSERT OR REPLACE INTO endpoints VALUES (?, ?, ?, ?, ?)",
                         (endpoint, model, structured, reason, time.time()))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def batch(self, batch_id: str) -> BatchRecord | None:
        """The batch ``batch_id``, or None.

        Parameters
        ----------
        batch_id : str
            The provider's batch id.

        Returns
        -------
        BatchRecord or None
        """
        row = self._connect().execute("SELECT * FROM batches WHERE batch_id = ?",
                                      (batch_id,)).fetchone()
        return None if row is None else _batch_record(row)

    def batches(self, *, provider: str | None = None, endpoint: str | None = None,
                model: str | None = None, open_only: bool = False) -> list[BatchRecord]:
        """The batches submitted (to one provider, endpoint and model), oldest first.

        Parameters
        ----------
        provider, endpoint, model : str, optional
            Restrict to these (None: any).
        open_only : bool
            Only the batches whose results are not journaled yet.

        Returns
        -------
        list of BatchRecord
        """
        where = {"provider": provider, "endpoint": endpoint, "model": model}
        clauses = [f"{k} = ?" for k, v in where.items() if v is not None]
        values: list[Any] = [v for v in where.values() if v is not None]
        if open_only:
            clauses.append("status != ?")
            values.append(BATCH_JOURNALED)
        rows = self._connect().execute(
            f"SELECT * FROM batches WHERE {' AND '.join(clauses) or '1'} "
            "ORDER BY created_at, batch_id", values)
        return [_batch_record(r) for r in rows]

    def panel_runs(self, *, experiment: str | None = None,
                   items_hash: str | None = None) -> list[PanelRun]:
        """The anchor panel's recorded runs, oldest first.

        Parameters
        ----------
        experiment : str, optional
            Only this experiment's runs (None: any).
        items_hash : str, optional
            Only the runs of this panel (``AnchorSet.items_hash``; None: any).

        Returns
        -------
        list of PanelRun
        """
        where = {"experiment": experiment, "items_hash": items_hash}
        clauses = [f"{k} = ?" for k, v in where.items() if v is not None]
        values = [v for v in where.values() if v is not None]
        rows = self._connect().execute(
            f"SELECT * FROM panel_runs WHERE {' AND '.join(clauses) or '1'} "
            "ORDER BY created_at, run_id", values)
        return [_panel_run(r) for r in rows]

    def panel_run(self, run_id: str) -> PanelRun | None:
        """The panel run ``run_id`` (or the one run whose id starts with it), or None.

        Parameters
        ----------
        run_id : str
            A run id or a prefix of one (at least 4 characters).

        Returns
        -------
        PanelRun or None
            None also when the prefix is shared by several runs.
        """
        conn = self._connect()
        row = conn.execute("SELECT * FROM panel_runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None and len(run_id) >= 4:
            rows = conn.execute("SELECT * FROM panel_runs WHERE substr(run_id, 1, ?) = ?",
                                (len(run_id), run_id)).fetchall()
            row = rows[0] if len(rows) == 1 else None
        return None if row is None else _panel_run(row)

    def holdout_looks(self, items_hash: str) -> list[HoldoutLook]:
        """Every recorded evaluation of the holdout ``items_hash``, oldest first.

        Parameters
        ----------
        items_hash : str
            ``AnchorSet.items_hash("holdout")``.

        Returns
        -------
        list of HoldoutLook
            One row per (version, judge, command); see :meth:`holdout_versions` for the
            distinct looks.
        """
        rows = self._connect().execute(
            "SELECT * FROM holdout_looks WHERE items_hash = ? ORDER BY looked_at, command",
            (items_hash,))
        return [HoldoutLook(**{c: r[c] for c in _LOOK_COLUMNS}) for r in rows]

    def holdout_versions(self, items_hash: str) -> list[HoldoutLook]:
        """The distinct looks at a holdout: the first evaluation of each (prompt, judge) pair.

        Parameters
        ----------
        items_hash : str

        Returns
        -------
        list of HoldoutLook
            Oldest first; its length is the number of looks.
        """
        first: dict[tuple[str, str], HoldoutLook] = {}
        for look in self.holdout_looks(items_hash):
            first.setdefault(look.version_key, look)
        return list(first.values())

    # ----------------------------------------------------------------- writing

    def record_holdout_look(self, *, items_hash: str, prompt_name: str, prompt_version: str,
                            prompt_hash: str, judge_hash: str, command: str,
                            anchor_set: str | None = None, run_id: str | None = None) -> bool:
        """Record that a version, with a judge, was evaluated on a holdout.

        Idempotent: the same (holdout, prompt hash, judge hash, command) is recorded once
        (the first time is kept), so re-running the same gate does not add a look.

        Parameters
        ----------
        items_hash : str
            ``AnchorSet.items_hash("holdout")``.
        prompt_name, prompt_version, prompt_hash : str
        judge_hash : str
            ``judgecal.judge_hash`` (:func:`harness.tracking.judge_tags`).
        command : str
        anchor_set : str, optional
        run_id : str, optional

        Returns
        -------
        bool
            True when this was not recorded before.
        """
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            cur = conn.execute(
                f"INSERT OR IGNORE INTO holdout_looks ({','.join(_LOOK_COLUMNS)}) "
                f"VALUES ({','.join('?' * len(_LOOK_COLUMNS))})",
                (items_hash, anchor_set, prompt_name, prompt_version, prompt_hash, judge_hash,
                 command, run_id, time.time()))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return cur.rowcount == 1


    def record_panel_run(self, run: PanelRun) -> None:
        """Store a run of an anchor panel (its own transaction).

        Parameters
        ----------
        run : PanelRun
            ``created_at`` of 0 is set to now.
        """
        values = {**asdict(run), "fingerprint": canonical_json(run.fingerprint),
                  "scores": canonical_json(run.scores), "created_at": run.created_at
                  or time.time()}
        self._write(f"INSERT INTO panel_runs ({','.join(_PANEL_COLUMNS)}) "
                    f"VALUES ({','.join('?' * len(_PANEL_COLUMNS))})",
                    [values[c] for c in _PANEL_COLUMNS])

    def record_probe_runs(self, *, prompt_hash: str, judge_hash: str,
                          results: dict[str, dict[str, Any]], prompt_name: str | None = None,
                          prompt_version: str | None = None, anchor_set: str | None = None,
                          split: str = "all") -> None:
        """Store one bias-probe run (:mod:`harness.probes`): a row per probe, one transaction.

        Parameters
        ----------
        prompt_hash, judge_hash : str
            The prompt version and judge probed.
        results : dict of str to dict
            Probe name to its JSON result (with ``passed``).
        prompt_name, prompt_version, anchor_set : str, optional
        split : str
        """
        now = time.time()
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(
                "INSERT INTO probe_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(prompt_hash, judge_hash, name, prompt_name, prompt_version, anchor_set,
                  split, None if doc.get("passed") is None else int(bool(doc["passed"])),
                  canonical_json(doc), now) for name, doc in results.items()])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def latest_probe_runs(self, prompt_hash: str, judge_hash: str) -> dict[str, dict[str, Any]]:
        """The latest recorded result of each probe of a prompt version and judge.

        Returns
        -------
        dict of str to dict
            Probe name to its JSON result (empty: never probed).
        """
        rows = self._connect().execute(
            "SELECT probe, result FROM probe_runs WHERE prompt_hash = ? AND judge_hash = ? "
            "ORDER BY created_at, rowid", (prompt_hash, judge_hash))
        return {r[0]: json.loads(r[1]) for r in rows}

    def record_batch(self, batch: BatchRecord) -> None:
        """Store a batch the moment the provider has accepted it (its own transaction).

        Parameters
        ----------
        batch : BatchRecord
            ``created_at`` / ``updated_at`` of 0 are set to now.
        """
        now = time.time()
        values = {**asdict(batch), "keys": canonical_json(batch.keys),
                  "created_at": batch.created_at or now, "updated_at": batch.updated_at or now}
        self._write(f"INSERT OR REPLACE INTO batches ({','.join(_BATCH_COLUMNS)}) "
                    f"VALUES ({','.join('?' * len(_BATCH_COLUMNS))})",
                    [values[c] for c in _BATCH_COLUMNS])

    def set_batch_status(self, batch_id: str, status: str) -> None:
        """Record a batch's new status (:data:`BATCH_JOURNALED` once its results are in).

        Parameters
        ----------
        batch_id : str
        status : str
        """
        self._write("UPDATE batches SET status = ?, updated_at = ? WHERE batch_id = ?",
                    [status, time.time(), batch_id])

    def _write(self, sql: str, values: list[Any]) -> None:
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(sql, values)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def put(self, record: CallRecord) -> None:
        """Store ``record`` (replacing a record with the same key) in its own transaction;
        inside :meth:`bulk`, at the end of the block with the others."""
        buffer = getattr(self._local, "bulk", None)
        if buffer is not None:
            buffer.append(record)
            return
        self.put_many([record])

    def put_many(self, records: Iterable[CallRecord]) -> int:
        """Store several records in one transaction (all or none); returns how many.

        One transaction per record costs a WAL commit each; a batch of results (a provider
        batch downloaded at once) is written this way instead (see ``benchmarks/
        bench_journal.py``).
        """
        now = time.time()
        rows = [[getattr(r, c) for c in _COLUMNS] if r.created_at else
                [now if c == "created_at" else getattr(r, c) for c in _COLUMNS]
                for r in records]
        if not rows:
            return 0
        marks = ",".join("?" * len(_COLUMNS))
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(f"INSERT OR REPLACE INTO calls ({','.join(_COLUMNS)}) "
                             f"VALUES ({marks})", rows)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return len(rows)

    @contextlib.contextmanager
    def bulk(self) -> Iterator[None]:
        """Buffer this thread's :meth:`put` calls and write them in one transaction at the
        end of the block (nothing is written if the block raises: a killed bulk write
        leaves the journal as it was before it).

        Examples
        --------
        >>> import tempfile
        >>> j = Journal(tempfile.mkdtemp())
        >>> with j.bulk():
        ...     j.put(CallRecord("k", "ok", "p", "m", "{}", "a", 0, "[]", score=3.0))
        ...     j.count()
        0
        >>> j.count()
        1
        """
        if getattr(self._local, "bulk", None) is not None:  # nested: the outer block writes
            yield
            return
        self._local.bulk = []
        try:
            yield
            records = self._local.bulk
        finally:
            self._local.bulk = None
        self.put_many(records)

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a journal written by an earlier version up to :data:`SCHEMA_VERSION`."""
    have = {r[1] for r in conn.execute("PRAGMA table_info(calls)")}
    for column in ("scores", "reply_model"):  # versions 1 -> 2 and 3 -> 4
        if column in have:
            continue
        try:
            conn.execute(f"ALTER TABLE calls ADD COLUMN {column} TEXT")
        except sqlite3.OperationalError as exc:  # another process migrated it first
            if "duplicate column" not in str(exc):
                raise
    conn.executescript(_BATCHES)  # version 2 -> 3 (idempotent)
    conn.executescript(_PANEL_RUNS)  # version 3 -> 4 (idempotent)
    conn.executescript(_PROBE_RUNS)  # version 4 -> 5 (idempotent)


def _batch_record(row: sqlite3.Row) -> BatchRecord:
    values = {c: row[c] for c in _BATCH_COLUMNS}
    values["keys"] = json.loads(values["keys"])
    return BatchRecord(**values)


def _panel_run(row: sqlite3.Row) -> PanelRun:
    values = {c: row[c] for c in _PANEL_COLUMNS}
    values["fingerprint"] = json.loads(values["fingerprint"])
    values["scores"] = json.loads(values["scores"])
    return PanelRun(**values)


def _record(row: sqlite3.Row) -> CallRecord:
    return CallRecord(**{c: row[c] for c in _COLUMNS})


__all__ = [
    "BATCH_JOURNALED",
    "BatchRecord",
    "CallRecord",
    "EndpointMode",
    "HoldoutLook",
    "Journal",
    "PanelRun",
    "Status",
    "call_key",
    "canonical_json",
    "default_state_dir",
    "redact",
]
