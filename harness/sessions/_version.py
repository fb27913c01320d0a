"""Writing a session's outcome as a new version of its anchor set (the old file is kept).

What is written (``<dir>/<stem>.v<N>.jsonl`` next to the original unless a path is given;
``<stem>`` drops an existing ``.v<K>`` suffix; ``N`` is the parent's ``version`` + 1, or the
next free number):

* the header of the parent, with ``version`` = N and ``parent`` = the parent file's path
  relative to the new file; a ``rubric_file`` is kept when the new file sits in the same
  folder, else the rubric text is written inline; ``na_allowed`` becomes true when a
  participant's N/A is written (N/A must stay distinguishable from missing);
* every item of the parent, in order; for each *resolved* item with a consensus score, its
  ``consensus`` and ``rationale`` replaced by the resolution's;
* every session item gets the participants' final scores (round 2 where given, else round 1)
  in its ``ratings``, under rater ids ``session:<session id>:<participant id>`` so they never
  clash with the set's own raters and stay traceable to the session. Note: for an item
  without an explicit consensus, a ``mean``/``median`` consensus rule now includes them.

A scorecard session writes a scorecard (:func:`write_scorecard_version`): the same header
with ``version`` and ``parent``; per item, the participants' final values on every question
under ``ratings[<question>]`` (levels for label questions, ``"NA"`` where given), and for
each resolved (item, question) pair with a consensus, ``consensus[<question>]`` and the
question's ``rationale`` (a whole-item rationale text becomes one entry per question first).
The file is re-read with :func:`~harness.anchors.load_scorecard`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.anchors import load_anchor_set, load_scorecard
from harness.anchors._schema import NA

from ._errors import SessionError

if TYPE_CHECKING:
    from ._store import Session

_VERSION_SUFFIX = re.compile(r"\.v\d+$")


def rater_id(session_id: str, participant: str) -> str:
    """The rater id a participant's scores get in the new anchor version."""
    return f"session:{session_id}:{participant}"


def next_version_path(parent: Path, version: int) -> Path:
    """``anchors/x.jsonl`` (version 1) -> ``anchors/x.v2.jsonl`` (or the next free N)."""
    stem = _VERSION_SUFFIX.sub("", parent.stem)
    n = version + 1
    while (path := parent.with_name(f"{stem}.v{n}{parent.suffix}")).exists():
        n += 1
    return path


def write_anchor_version(session: Session, output: str | Path | None = None) -> Path:
    """Write the session's outcome as a new anchor-set version; returns its path.

    The result is re-read with :func:`load_anchor_set` before returning (a file that does
    not load is removed and SessionError raised). An existing ``output`` is never
    overwritten. A scorecard session goes to :func:`write_scorecard_version`.
    """
    if session.info.is_scorecard:
        return write_scorecard_version(session, output)
    aset = session.load_anchor_set()
    info = session.info
    parent = Path(aset.path)
    out, version = _out_path(parent, aset.meta.version, output)
    final = session.final_scores()
    resolutions = session.resolutions()
    session_items = set(info.item_ids)

    header = _header(aset.meta.model_dump(by_alias=True, mode="json"), parent, out, version)
    lines = []
    wrote_na = False
    for it in aset.items:
        obj = it.model_dump(mode="json")
        if it.id in session_items:
            ratings = dict(obj.get("ratings") or {})
            for pid in info.participant_ids:
                v = final.get(pid, {}).get(it.id)
                if v is None:
                    continue
                ratings[rater_id(info.id, pid)] = v
                wrote_na = wrote_na or v == NA
            obj["ratings"] = ratings
            res = resolutions.get(it.id)
            if res is not None and res.consensus is not None:
                obj["consensus"] = res.consensus
                obj["rationale"] = res.rationale
        lines.append(json.dumps(obj, ensure_ascii=False))
    if wrote_na:
        header["na_allowed"] = True
    return _write(out, header, lines, load_anchor_set)


def _out_path(parent: Path, parent_version: int, output: str | Path | None) -> tuple[Path, int]:
    if output is None:
        out = next_version_path(parent, parent_version)
        version = int(re.search(r"\.v(\d+)$", out.stem).group(1))  # type: ignore[union-attr]
    else:
        out = Path(output)
        version = parent_version + 1
    if out.exists():
        raise SessionError(f"{out} exists; choose another output path")
    return out, version


def _header(header: dict[str, Any], parent: Path, out: Path, version: int) -> dict[str, Any]:
    if header.get("rubric_file") and out.parent.resolve() == parent.parent.resolve():
        header["rubric"] = None
    else:
        header["rubric_file"] = None
    header["version"] = version
    header["parent"] = os.path.relpath(parent.resolve(), out.parent.resolve())
    return header


def _write(out: Path, header: dict[str, Any], lines: list[str], check: Any) -> Path:
    text = "\n".join([json.dumps(header, ensure_ascii=False), *lines]) + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "x", encoding="utf-8") as fh:
        fh.write(text)
    try:
        check(out)
    except Exception as exc:  # never leave a bad file behind
        out.unlink(missing_ok=True)
        raise SessionError(f"the new anchor version did not load: {exc}") from exc
    return out


def write_scorecard_version(session: Session, output: str | Path | None = None) -> Path:
    """Write a scorecard session's outcome as a new scorecard version; returns its path.

    Per item, each participant's final value on every question is added to
    ``ratings[<question>]`` under :func:`rater_id`; each resolved (item, question) pair
    with a consensus sets ``consensus[<question>]`` and that question's rationale. The
    result is re-read with :func:`~harness.anchors.load_scorecard` (a file that does not
    load is removed and SessionError raised, e.g. when new ratings split an unordered
    question evenly with no explicit consensus). An existing ``output`` is never
    overwritten.
    """
    card = session.load_scorecard()
    info = session.info
    parent = Path(card.path)
    out, version = _out_path(parent, card.meta.version, output)
    final = session.final_scores()
    resolutions = session.pair_resolutions()
    session_items = set(info.item_ids)
    crits = info.criterion_ids
    header = _header(card.meta.model_dump(by_alias=True, mode="json", exclude_none=False),
                     parent, out, version)
    lines = []
    for it in card.items:
        obj = it.model_dump(mode="json")
        if it.id in session_items:
            ratings = {c: dict(v) for c, v in (obj.get("ratings") or {}).items()}
            for pid in info.participant_ids:
                for cid, v in final.get(pid, {}).get(it.id, {}).items():
                    ratings.setdefault(cid, {})[rater_id(info.id, pid)] = v
            obj["ratings"] = ratings
            consensus = dict(obj.get("consensus") or {})
            rationale = obj.get("rationale")
            for cid in crits:
                res = resolutions.get((it.id, cid))
                if res is None or res.consensus is None:
                    continue
                consensus[cid] = res.consensus
                if not isinstance(rationale, dict):
                    rationale = {} if rationale is None else {c: rationale for c in crits}
                rationale[cid] = res.rationale
            obj["consensus"] = consensus
            obj["rationale"] = rationale
        lines.append(json.dumps(obj, ensure_ascii=False))
    return _write(out, header, lines, load_scorecard)
