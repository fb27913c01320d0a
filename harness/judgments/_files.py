"""Judgments made elsewhere: a judgments file as a judge (``--judgments FILE``).

A judgments file is judgecal's own ``judge --out`` CSV, or a long CSV or JSONL with the
columns ``item_id`` and ``score`` and optionally ``judge``, ``criterion``, ``sample`` (or
``sample_index``), ``status``, ``rationale`` (or ``reasoning``) and ``confidence`` (the
judge's own, read by ``judgecal selective``; the frame has it only when the file has it).
Every source is read into one table shape (:func:`judgments_frame`: a
:class:`pandas.DataFrame` with ``item_id``, ``judge``, ``criterion``, ``sample``, ``score``
and the optional columns), the shape ``harness.importers.import_judgments`` returns, so
``FORMAT:FILE`` goes through the same place.

The judge's identity is the file: its name and the SHA-256 of its bytes
(:class:`RecordedJudge`), with the judge and criterion picked in it. :func:`recorded_run`
turns a pick into the :class:`~harness.judgments.JudgeRun` a provider's run would have
given on a split (samples aggregated like judgecal's, items missing from the file counted
as judgments without a score); no provider is built and nothing is called.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

import numpy as np

from harness.anchors import AnchorSet
from harness.judges import Judgment, RunResult, retest_agreement
from harness.judges._runner import JudgmentStatus
from harness.prompts import PromptVersion

if TYPE_CHECKING:
    import pandas as pd

    from harness.experiments import Experiment

    from . import JudgeRun

#: The ``provider`` of a recorded judge's identity.
FILE_PROVIDER = "file"

#: The columns of :func:`judgments_frame` (``harness.importers.import_judgments`` gives the
#: first five; the others are optional there).
FRAME_COLUMNS = ["item_id", "judge", "criterion", "sample", "score", "status", "rationale",
                 "error", "line"]

_ALIASES = {"sample_index": "sample", "reasoning": "rationale"}
_STATUSES = set(get_args(JudgmentStatus))


#: What a run on a judgments file did not do (the end of :meth:`RecordedJudge.warning`).
NOT_CALLED = "prompt not checked, no judge called"

#: Hex digits of a hash said in human text (JSON says the whole hash).
SHORT_HASH = 12

_FULL_HASH = re.compile(rf"\bsha256:([0-9a-f]{{{SHORT_HASH}}})[0-9a-f]{{{64 - SHORT_HASH}}}\b")


def hash_text(sha256: str, *, full: bool = False) -> str:
    """A file's hash said one way: ``sha256:`` and its first 12 hex digits, or all of them.

    Parameters
    ----------
    sha256 : str
        The hex digest.
    full : bool
        All 64 digits (JSON and other machine-read output: complete values).

    Returns
    -------
    str
        ``sha256:0123456789ab`` (never an ellipsis).
    """
    return f"sha256:{sha256 if full else sha256[:SHORT_HASH]}"


def human_text(text: str) -> str:
    """A message for a console: every whole hash said as :func:`hash_text` says it there.

    Run warnings carry the whole hash (JSON shows them as they are); a printer passes each
    through this function.

    Parameters
    ----------
    text : str

    Returns
    -------
    str
        ``text`` with each ``sha256:`` and 64 hex digits cut to 12 digits.
    """
    return _FULL_HASH.sub(r"sha256:\1", text)


def identity_text(identity: dict[str, Any]) -> str:
    """A recorded judge's identity (:meth:`RecordedJudge.identity`) for a console.

    Returns
    -------
    str
        ``file:NAME (sha256:0123456789ab, judge ID, criterion ID)``.
    """
    picks = [f"{k} {identity[k]}" for k in ("judge", "criterion") if identity.get(k)]
    return (f"{identity.get('provider')}:{identity.get('model')} "
            f"({', '.join([hash_text(str(identity.get('sha256', ''))), *picks])})")


class JudgmentsFileError(ValueError):
    """A judgments file that cannot be used (``path:line: message``)."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _text(value: Any) -> str | None:
    """A cell as stripped text; None when empty or absent."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def _row(where: str, cells: dict[str, Any], has_status: bool) -> dict[str, Any]:
    """One judgment row of the frame from a CSV row or JSON object (``where``: path:line)."""
    from harness._numbers import parse_number

    item = _text(cells.get("item_id"))
    if item is None:
        raise JudgmentsFileError(f"{where}: empty item_id")
    status = _text(cells.get("status")) if has_status else None
    raw = cells.get("score")
    score: float | None
    if status is not None and status != "ok":
        score = None  # a judgment without a score: its score cell is not read
    elif isinstance(raw, bool):
        raise JudgmentsFileError(f"{where}: item {item!r}: score {raw!r} is not a number")
    elif isinstance(raw, int | float):
        score = float(raw)
        if not math.isfinite(score):
            raise JudgmentsFileError(f"{where}: item {item!r}: score {raw!r} is not finite")
    elif status == "ok" and isinstance(raw, str):
        try:  # judgecal's own CSV: the row says ok, so its score must be a number
            score = parse_number(raw.strip())
        except ValueError:
            raise JudgmentsFileError(f"{where}: item {item!r}: status ok but score "
                                     f"{raw.strip()!r} is not a number (a plain decimal "
                                     "number such as 4 or 3.5)") from None
    elif _text(raw) is None:
        score = None
    else:
        try:
            score = parse_number(str(raw).strip())
        except ValueError as exc:
            raise JudgmentsFileError(f"{where}: item {item!r}: score {exc}") from None
    if status is None:
        status = "ok" if score is not None else "invalid"
    if status not in _STATUSES:
        raise JudgmentsFileError(f"{where}: unknown status {status!r} (expected "
                                 f"{', '.join(sorted(_STATUSES))})")
    if status == "ok" and score is None:
        raise JudgmentsFileError(f"{where}: item {item!r}: status ok but no score")
    sample = _text(cells.get("sample"))
    index: int | None = None
    if sample is not None:
        if not sample.isascii() or not sample.isdigit():
            raise JudgmentsFileError(f"{where}: item {item!r}: sample {sample!r} is not a "
                                     "whole number >= 0")
        index = int(sample)
    error = _text(cells.get("error"))
    confidence = _confidence(where, item, cells.get("confidence"))
    if status != "ok" and error is None:
        error = "no score" if status == "invalid" else status
    return {"item_id": item, "judge": _text(cells.get("judge")),
            "criterion": _text(cells.get("criterion")), "sample": index,
            "score": score if status == "ok" else None, "status": status,
            "rationale": _text(cells.get("rationale")), "error": error, "line": where,
            "confidence": confidence}


def _confidence(where: str, item: str, raw: Any) -> float | None:
    """The optional ``confidence`` cell (the judge's own, for ``judgecal selective``)."""
    from harness._numbers import parse_number

    if isinstance(raw, int | float) and not isinstance(raw, bool):
        value = float(raw)
    elif _text(raw) is None:
        return None
    else:
        try:
            value = parse_number(str(raw).strip())
        except ValueError as exc:
            raise JudgmentsFileError(f"{where}: item {item!r}: confidence {exc}") from None
    if not math.isfinite(value):
        raise JudgmentsFileError(f"{where}: item {item!r}: confidence {raw!r} is not finite")
    return value


def _read_csv(path: Path) -> tuple[list[dict[str, Any]], set[str]]:
    rows: list[dict[str, Any]] = []
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader, None)
            if not header or not any(h.strip() for h in header):
                raise JudgmentsFileError(f"{path}: empty file; expected a judgments CSV "
                                         "(columns item_id, score, ...)")
            names = [_ALIASES.get(h.strip().lower(), h.strip().lower()) for h in header]
            dup = sorted({n for n in names if n and names.count(n) > 1})
            if dup:
                raise JudgmentsFileError(f"{path}:1: column(s) {', '.join(dup)} given twice "
                                         "(sample and sample_index, rationale and reasoning "
                                         "are one column)")
            missing = [c for c in ("item_id", "score") if c not in names]
            if missing:
                raise JudgmentsFileError(f"{path}:1: missing column(s) {', '.join(missing)}; "
                                         "a judgments file has item_id and score")
            start = reader.line_num + 1
            for cells in reader:
                line, start = start, reader.line_num + 1
                if not any(c.strip() for c in cells):
                    continue
                if len(cells) > len(names):
                    raise JudgmentsFileError(f"{path}:{line}: more fields than the header has")
                rows.append(_row(f"{path}:{line}", dict(zip(names, cells, strict=False)),
                                 "status" in names))
        except csv.Error as exc:
            raise JudgmentsFileError(f"{path}:{reader.line_num}: {exc}") from None
    return rows, set(names)


def _read_jsonl(path: Path) -> tuple[list[dict[str, Any]], set[str]]:
    rows: list[dict[str, Any]] = []
    columns: set[str] = set()
    with path.open(encoding="utf-8-sig") as fh:
        for n, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                raise JudgmentsFileError(f"{path}:{n}: not JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise JudgmentsFileError(f"{path}:{n}: a line is one JSON object, got "
                                         f"{type(obj).__name__}")
            cells = {_ALIASES.get(k.lower(), k.lower()): v for k, v in obj.items()}
            missing = [c for c in ("item_id", "score") if c not in cells]
            if missing:
                raise JudgmentsFileError(f"{path}:{n}: missing key(s) {', '.join(missing)}")
            for key in ("item_id", "judge", "criterion", "sample"):
                if isinstance(cells.get(key), dict | list | bool):
                    raise JudgmentsFileError(f"{path}:{n}: {key} must be text or a number")
            columns.update(k for k, v in cells.items() if v is not None)
            rows.append(_row(f"{path}:{n}", cells, "status" in cells))
    return rows, columns


def _is_jsonl(path: Path) -> bool:
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        return True
    if path.suffix.lower() == ".csv":
        return False
    with path.open("rb") as fh:
        return fh.read(64).lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")


def judgments_frame(source: str | Path) -> tuple[pd.DataFrame, Path]:
    """Every judgment of a judgments file, one row per judgment (the one reading place).

    Parameters
    ----------
    source : str or Path
        A judgments file (CSV, or JSONL: ``.jsonl``/``.ndjson`` or a file whose first
        character is ``{``), or ``FORMAT:SOURCE`` (a format of ``harness.importers``:
        ``mlflow``, ``inspect``, ``promptfoo``) read by
        ``harness.importers.import_judgments``, when ``source`` is not itself a file.

    Returns
    -------
    frame : pandas.DataFrame
        The columns :data:`FRAME_COLUMNS`: ``judge``, ``criterion`` None where the file has
        none; ``sample`` None where it does not number samples; ``score`` None for a
        judgment without one (``status`` then says why); ``line`` is ``path:line``.
    path : Path
        The file read (its bytes are the judge's identity; for an imported MLflow
        experiment, its name and the table's hash).

    Raises
    ------
    JudgmentsFileError
        ``path:line: message`` for a malformed file.
    """
    import pandas as pd

    text = str(source)
    fmt, sep, rest = text.partition(":")
    if sep and fmt.isidentifier() and not Path(text).exists():
        from harness.importers import FORMATS, ImporterError, import_judgments

        if fmt in FORMATS:
            try:
                frame = import_judgments(fmt, rest).copy()
            except ImporterError as exc:
                raise JudgmentsFileError(str(exc)) from None
            for col in FRAME_COLUMNS:
                if col not in frame.columns:
                    frame[col] = None
            ok = frame["score"].notna()
            frame["status"] = frame["status"].where(frame["status"].notna(),
                                                    ok.map({True: "ok", False: "invalid"}))
            frame["line"] = [f"{text} row {n}" for n in range(1, len(frame) + 1)]
            return frame[FRAME_COLUMNS], Path(rest)
    path = Path(source)
    try:
        rows, names = _read_jsonl(path) if _is_jsonl(path) else _read_csv(path)
    except OSError as exc:
        raise JudgmentsFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise JudgmentsFileError(f"{path}: not UTF-8 text ({exc.reason})") from None
    if not rows:
        raise JudgmentsFileError(f"{path}: no judgment rows")
    # an optional confidence column only when the file has one (the frame's hash unchanged)
    extra = ["confidence"] if "confidence" in names else []
    return pd.DataFrame(rows, columns=FRAME_COLUMNS + extra), path


@dataclass(eq=False)
class JudgmentsFile:
    """A judgments file read (:func:`read_judgments_file`).

    Attributes
    ----------
    path : Path
    sha256 : str
        Of the file's bytes.
    frame : pandas.DataFrame
        :func:`judgments_frame`.
    """

    path: Path
    sha256: str
    frame: pd.DataFrame

    @property
    def judges(self) -> list[str]:
        """The distinct ``judge`` values, in order of first appearance (empty: no column)."""
        return list(dict.fromkeys(j for j in self.frame["judge"] if j is not None))

    @property
    def criteria(self) -> list[str]:
        """The distinct ``criterion`` values, in order of first appearance."""
        return list(dict.fromkeys(c for c in self.frame["criterion"] if c is not None))

    def pick(self, judge: str | None = None, criterion: str | None = None, *,
             experiment_criterion: str | None = None) -> RecordedJudge:
        """The one judge (and question) whose judgments are used.

        Parameters
        ----------
        judge : str, optional
            Needed when the file has several judges.
        criterion : str, optional
            The question; needed when the file has several criteria and the experiment does
            not name one.
        experiment_criterion : str, optional
            The experiment's ``[anchors] criterion``: the file's criterion must match it.

        Returns
        -------
        RecordedJudge

        Raises
        ------
        JudgmentsFileError
            Several judges and none picked, an unknown judge or criterion (listing them),
            rows without a judge or criterion beside rows with one.
        """
        judges, criteria = self.judges, self.criteria
        if judges and self.frame["judge"].isna().any():
            raise JudgmentsFileError(f"{self._first_line('judge')}: no judge on a row of a "
                                     "file whose other rows name their judge")
        if criteria and self.frame["criterion"].isna().any():
            raise JudgmentsFileError(f"{self._first_line('criterion')}: no criterion on a row "
                                     "of a file whose other rows name their criterion")
        if judge is not None and judge not in judges:
            listed = ", ".join(judges) if judges else "none: the file has no judge column"
            raise JudgmentsFileError(f"{self.path}: no judge {judge!r} (its judges: {listed})")
        if judge is None and len(judges) > 1:
            raise JudgmentsFileError(f"{self.path}: {len(judges)} judges in the file "
                                     f"({', '.join(judges)}): pick one with --judge ID")
        if judge is None and judges:
            judge = judges[0]
        if criterion is not None and experiment_criterion is not None \
                and criterion != experiment_criterion:
            raise JudgmentsFileError(f"criterion {criterion!r}: the experiment judges "
                                     f"{experiment_criterion!r}")
        wanted = criterion or experiment_criterion
        if wanted is not None and criteria and wanted not in criteria:
            raise JudgmentsFileError(f"{self.path}: no judgments of criterion {wanted!r} "
                                     f"(its criteria: {', '.join(criteria)})")
        if wanted is None and len(criteria) > 1:
            raise JudgmentsFileError(f"{self.path}: judgments of {len(criteria)} criteria "
                                     f"({', '.join(criteria)}): pick one with --criterion ID "
                                     "(or name it in the experiment's [anchors] criterion)")
        if wanted is None and criteria:
            wanted = criteria[0]
        return RecordedJudge(self, judge, wanted if criteria else None)

    def _first_line(self, column: str) -> str:
        return str(self.frame.loc[self.frame[column].isna(), "line"].iloc[0])


def read_judgments_file(source: str | Path) -> JudgmentsFile:
    """Read a judgments file (see :func:`judgments_frame`) and hash it.

    Parameters
    ----------
    source : str or Path
        The file, or ``FORMAT:FILE``.

    Returns
    -------
    JudgmentsFile

    Raises
    ------
    JudgmentsFileError
        ``path:line: message``: a malformed file, a judgment given twice.
    """
    frame, path = judgments_frame(source)
    try:
        # an imported source that is no file (an MLflow experiment): the hash of its table
        sha = _sha256(path) if path.is_file() else hashlib.sha256(
            frame.drop(columns="line").to_csv(index=False).encode()).hexdigest()
    except OSError as exc:
        raise JudgmentsFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    numbered = frame.dropna(subset=["sample"])
    keys = numbered[["judge", "criterion", "item_id", "sample"]].astype(str)
    dup = keys.duplicated(keep="first")
    if dup.any():
        row = numbered[dup.to_numpy()].iloc[0]
        raise JudgmentsFileError(f"{row['line']}: item {row['item_id']!r} sample "
                                 f"{int(row['sample'])} given twice")
    return JudgmentsFile(path, sha, frame)


@dataclass(eq=False)
class RecordedJudge:
    """A judge that is a judgments file: its name, content hash, and the pick in it.

    Attributes
    ----------
    file : JudgmentsFile
    judge : str, optional
        The ``judge`` column's value used.
    criterion : str, optional
        The ``criterion`` column's value used.
    """

    file: JudgmentsFile
    judge: str | None = None
    criterion: str | None = None
    _prompt: dict[tuple[float, float], PromptVersion] = field(default_factory=dict,
                                                              repr=False)

    @property
    def name(self) -> str:
        return self.file.path.name

    @property
    def sha256(self) -> str:
        return self.file.sha256

    @property
    def label(self) -> str:
        """``sha256:0123456789ab`` (``… judge ID``, ``… criterion ID`` when picked)."""
        return " ".join([hash_text(self.sha256), *(f"{k} {v}" for k, v in self._picks())])

    def _picks(self) -> list[tuple[str, str]]:
        return [(k, v) for k, v in (("judge", self.judge), ("criterion", self.criterion))
                if v is not None]

    def describe(self, *, full: bool = False) -> str:
        """Where the judgments come from, the judge's identity in words.

        Parameters
        ----------
        full : bool
            The whole hash (JSON, logs) rather than its first 12 digits (human text).

        Returns
        -------
        str
            ``judgments from PATH (sha256:0123456789ab, judge ID, criterion ID)``.
        """
        return f"judgments from {self.file.path} ({self._said(full)})"

    def _said(self, full: bool) -> str:
        return ", ".join([hash_text(self.sha256, full=full),
                          *(f"{k} {v}" for k, v in self._picks())])

    def warning(self, *, full: bool = False) -> str:
        """The one warning of a run on a judgments file (gate, validate, estimate, selective).

        Parameters
        ----------
        full : bool
            The whole hash (JSON) rather than its first 12 digits (human text).

        Returns
        -------
        str
            ``judgments from PATH (sha256:0123456789ab); prompt not checked, no judge
            called``.
        """
        return f"{self.describe(full=full)}; {NOT_CALLED}"

    def identity(self) -> dict[str, Any]:
        """The judge's identity: ``provider`` ``file``, ``model`` the file's name, the hash."""
        out: dict[str, Any] = {"provider": FILE_PROVIDER, "model": self.name,
                               "sha256": self.sha256}
        if self.judge is not None:
            out["judge"] = self.judge
        if self.criterion is not None:
            out["criterion"] = self.criterion
        return out

    def params(self, exp: Experiment) -> dict[str, Any]:
        """The only parameter that changes the scores used: how samples are combined."""
        return {"mode": "recorded", "aggregate": exp.scoring.aggregate}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary: path, name, sha256, judge, criterion."""
        return {"path": str(self.file.path), "name": self.name, "sha256": self.sha256,
                "judge": self.judge, "criterion": self.criterion}

    def as_prompt(self, aset: AnchorSet) -> PromptVersion:
        """The file in the place of a prompt version: its name, the hash as label and hash.

        The holdout ledger keys a look by this hash (and the judge hash of
        :meth:`identity`); reports name the file where they name a version.
        """
        scale = (aset.meta.scale.min, aset.meta.scale.max)
        if scale not in self._prompt:
            self._prompt[scale] = PromptVersion(
                name=self.name, version=0, label=self.label, parent=None,
                changelog=self.describe(), scale=(int(scale[0]), int(scale[1])),
                scoring="recorded", path=self.file.path, text="", body="", hash=self.sha256)
        return self._prompt[scale]

    def rows(self) -> pd.DataFrame:
        """The file's rows of this judge and criterion."""
        f = self.file.frame
        mask = np.ones(len(f), dtype=bool)
        if self.judge is not None:
            mask &= (f["judge"] == self.judge).to_numpy()
        if self.criterion is not None:
            mask &= (f["criterion"] == self.criterion).to_numpy()
        return f[mask]


def _judgments(recorded: RecordedJudge, aset: AnchorSet, item_ids: list[str]
               ) -> tuple[list[Judgment], int, int]:
    """The split's judgments from the file (a missing item: failed samples), the number of
    split items missing from it, and of the file's items outside the anchor set."""
    rows = recorded.rows()
    wanted = set(item_ids)
    known = {it.id for it in aset.items}
    by_item: dict[str, list[Any]] = {}
    for row in rows.itertuples(index=False):
        if row.item_id in wanted:
            by_item.setdefault(row.item_id, []).append(row)
    outside = len({i for i in rows["item_id"] if i not in known})
    if not by_item:
        raise JudgmentsFileError(
            f"{recorded.file.path}: no judgment of any of the {len(item_ids)} items judged "
            f"here ({recorded.describe()}); the file probably holds another anchor set's "
            "judgments")
    scale = aset.meta.scale
    width = max(len(v) for v in by_item.values())
    out: list[Judgment] = []
    for item in item_ids:
        found = by_item.get(item)
        if not found:
            out.extend(Judgment("", item, s, "failed", None, None, None,
                                f"no judgment of this item in {recorded.name}", False, 0, 0,
                                0, 0.0, None) for s in range(width))
            continue
        numbered = sorted(found, key=lambda r: r.sample) if all(
            r.sample is not None and r.sample == r.sample for r in found) else found
        for s, row in enumerate(numbered):
            status, score = row.status, row.score
            if status == "ok" and not scale.contains(score):
                raise JudgmentsFileError(f"{row.line}: item {item!r}: score {score:g} is "
                                         f"outside the anchor set's scale {scale.min:g}-"
                                         f"{scale.max:g}")
            error = row.error
            if status == "skipped":  # the run that wrote the file stopped before it
                status, error = "failed", f"skipped in {recorded.name} (its run stopped)"
            index = int(row.sample) if row.sample is not None and row.sample == row.sample \
                else s
            out.append(Judgment("", item, index, status,
                                float(score) if status == "ok" else None, row.rationale,
                                None, error, False, 0, 0, 0, 0.0, None))
    return out, len(set(item_ids) - set(by_item)), outside


def recorded_run(exp: Experiment, aset: AnchorSet, split: str,
                 recorded: RecordedJudge) -> JudgeRun:
    """The judge run a judgments file stands for on one split of an anchor set.

    The split's items only; an item with several samples is combined by the experiment's
    ``[scoring] aggregate`` as a provider's samples are (a score that is already a mean of
    samples is taken as it is); a split item missing from the file is a judgment without a
    score (status ``failed``: it counts against ``max_invalid``); ``skipped`` rows of
    judgecal's CSV count as missing. Nothing is called.

    Parameters
    ----------
    exp : Experiment
        ``[scoring] aggregate`` is read; ``[judge]`` is not.
    aset : AnchorSet
        Every split (items outside it in the file are counted in a warning).
    split : {"calibration", "holdout", "all"}
    recorded : RecordedJudge

    Returns
    -------
    JudgeRun
        ``judge_identity`` is :meth:`RecordedJudge.identity`, ``prompt`` the file's stand-in
        (:meth:`RecordedJudge.as_prompt`), ``scoring`` ``{"mode": "recorded", ...}``.

    Raises
    ------
    JudgmentsFileError
        A score off the anchor set's scale, or no judgment of any item of the split.
    """
    from . import JudgeRun

    subset = aset if split == "all" else aset.split(split)
    table = subset.to_ratings()
    judgments, missing, outside = _judgments(recorded, aset, list(table.item_ids))
    count = {s: sum(1 for j in judgments if j.status == s) for s in _STATUSES}
    result = RunResult(judgments, None, 0, 0, count["ok"], count["invalid"], count["failed"],
                       0, 0, 0, 0.0, 0.0)
    how = exp.scoring.aggregate
    by_item = result.item_scores(how)
    scores = np.array([by_item.get(i, np.nan) for i in table.item_ids], dtype=float)
    run = JudgeRun(experiment=exp, anchor_set=aset, split=split,
                   prompt=recorded.as_prompt(aset), judge_identity=recorded.identity(),
                   result=result, table=table, judge_scores=scores,
                   scoring={"mode": "recorded", "structured": None,
                            "judgments": recorded.to_dict()})
    samples = result.samples()
    if any(len(v) > 1 for v in samples.values()):
        run.retest = retest_agreement(samples)
    run.warnings.append(recorded.warning(full=True))  # printers shorten it: human_text
    if missing:
        run.warnings.append(f"{missing} item(s) of the {split} split missing from "
                            f"{recorded.name}: counted as judgments without a score")
    if outside:
        run.warnings.append(f"{outside} item(s) of {recorded.name} not in {aset.path}: "
                            "ignored")
    if count["invalid"] or count["failed"]:
        run.warnings.append(f"{count['invalid']} invalid and {count['failed']} failed "
                            "judgment(s): they are left out of the agreement figures")
    return run


__all__ = ["FILE_PROVIDER", "FRAME_COLUMNS", "NOT_CALLED", "SHORT_HASH", "JudgmentsFile",
           "JudgmentsFileError", "RecordedJudge", "hash_text", "human_text", "identity_text",
           "judgments_frame", "read_judgments_file", "recorded_run"]
