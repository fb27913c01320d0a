"""``judgecal session ...``: run a human calibration session (see docs/sessions.md)."""

from __future__ import annotations

import csv
import shlex
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from harness._say import listed_text, scale_text
from harness.anchors import Scorecard
from harness.anchors._schema import NA, SPLITS, fmt_num
from harness.reports import MISSING, number_text, result_text, share_text, signed_text
from harness.sessions import (
    OBSERVER_SEES,
    ItemRef,
    SessionError,
    SessionStore,
    calibration_log,
    effectiveness,
    format_due,
    item_ref,
    parse_score,
    propose_items,
    propose_scorecard_items,
    review,
)

from ._common import JsonOpt, err, fail, out, print_json, print_wide

session_app = typer.Typer(help="Run a human calibration session (raters calibrate with each "
                               "other before anchors become gold).", no_args_is_help=True)

StateDir = Annotated[Path | None, typer.Option(
    "--state-dir", envvar="JUDGECAL_STATE_DIR",
    help="State directory (sessions.sqlite); default .judgecal.")]
SessionId = Annotated[str, typer.Argument(metavar="SESSION", help="Session id.")]
FacToken = Annotated[str | None, typer.Option(
    "--facilitator-token", envvar="JUDGECAL_FACILITATOR_TOKEN",
    help="The facilitator token printed by 'create'.")]


def _store(state_dir: Path | None) -> SessionStore:
    return SessionStore(state_dir)


def _split_person(text: str) -> tuple[str, str]:
    pid, _, name = text.partition("=")
    return pid.strip(), (name.strip() or pid.strip())


def _read_pairs(path: Path) -> dict[str, str]:
    """A CSV with columns ``item_id`` (or ``item``) and ``score``."""
    rows = _csv_rows(path, "item_id,score")
    key = "item_id" if "item_id" in rows[0] else "item"
    if key not in rows[0] or "score" not in rows[0]:
        raise SessionError(f"{path}: expected columns item_id,score; got "
                           f"{', '.join(rows[0])}")
    return {r[key].strip(): (r["score"] or "").strip() for r in rows}


def _pairs(args: list[str]) -> dict[str, str]:
    outp: dict[str, str] = {}
    for a in args:
        item, sep, score = a.rpartition("=")
        if not sep or not item:
            raise SessionError(f"expected ITEM=SCORE, got {a!r}")
        outp[item] = score
    return outp


AnchorSetArg = Annotated[Path, typer.Argument(metavar="SET", help="Anchor set (.jsonl).")]
SplitOpt = Annotated[str | None, typer.Option(
    "--split", metavar="calibration|holdout",
    help="Only items of this split (changing holdout anchors makes the gate refuse earlier "
         "holdout figures until they are re-run).")]
JudgmentsOpt = Annotated[str | None, typer.Option(
    "--judgments", metavar="FILE",
    help="Judgments of the same set, as gate --judgments reads them: judgecal's `judge --out` "
         "CSV, a CSV/JSONL with item_id,score (optional judge, criterion, sample, status), "
         "or FORMAT:SOURCE (mlflow, inspect, promptfoo); adds the items with the largest "
         "|judge - consensus| (disagreement).")]
JudgmentsJudgeOpt = Annotated[str | None, typer.Option(
    "--judge", metavar="ID", help="With --judgments: the file's judge, when it has several.")]


def _load_any(path: Path):
    """A single-criterion set (AnchorSet) or a scorecard (Scorecard)."""
    from harness.anchors import AnchorError, load_scorecard

    try:
        card = load_scorecard(path)
    except AnchorError as exc:
        raise SessionError(str(exc)) from None
    return card.single if card.single is not None else card


def _csv_rows(path: Path, expected: str) -> list[dict[str, str]]:
    """A CSV's rows as dicts; a SessionError when it cannot be read or has no rows."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise SessionError(f"cannot read {path}: {exc.strerror}") from None
    if not rows:
        raise SessionError(f"{path}: no rows (expected columns {expected})")
    return rows


def _read_rows(path: Path, need: tuple[str, ...]) -> list[dict[str, str]]:
    rows = _csv_rows(path, ",".join(need))
    missing = [c for c in need if c not in rows[0]]
    if missing:
        raise SessionError(f"{path}: expected columns {','.join(need)}; got "
                           f"{', '.join(rows[0])}")
    return rows


def _read_card_values(path: Path) -> dict[str, dict[str, str]]:
    """A CSV ``item_id,criterion,score`` (a scorecard's values, one row per question)."""
    out: dict[str, dict[str, str]] = {}
    for n, r in enumerate(_read_rows(path, ("item_id", "criterion", "score")), start=2):
        item, crit = (r["item_id"] or "").strip(), (r["criterion"] or "").strip()
        if not item or not crit:
            raise SessionError(f"{path}:{n}: empty item_id or criterion")
        out.setdefault(item, {})[crit] = (r["score"] or "").strip()
    return out


def _read_refs(path: Path, ids: list[str]) -> dict[str, ItemRef]:
    """A CSV ``item_id,conversation_id,date`` (either of the last two may be empty)."""
    rows = _read_rows(path, ("item_id",))
    if "conversation_id" not in rows[0] and "date" not in rows[0]:
        raise SessionError(f"{path}: expected columns item_id,conversation_id,date; got "
                           f"{', '.join(rows[0])}")
    refs: dict[str, ItemRef] = {}
    for n, r in enumerate(rows, start=2):
        item = (r["item_id"] or "").strip()
        if item not in ids:
            raise SessionError(f"{path}:{n}: item {item!r} is not in the session")
        if item in refs:
            raise SessionError(f"{path}:{n}: item {item!r} has a reference already")
        try:
            refs[item] = item_ref(r.get("conversation_id"), r.get("date"))
        except SessionError as exc:
            raise SessionError(f"{path}:{n}: {exc}") from None
    return refs


def _read_reviews(path: Path, card: bool) -> tuple[dict[str, dict[str, object]],
                                                   dict[tuple[str, str, str], str]]:
    """Prior reviews: ``item_id,reviewer,score`` (a scorecard: ``item_id,reviewer,criterion,
    score``) -> reviewer -> item -> score (-> question -> value), and each value's
    ``file:line``."""
    need = ("item_id", "reviewer", "criterion", "score") if card else (
        "item_id", "reviewer", "score")
    reviews: dict[str, dict[str, object]] = {}
    sources: dict[tuple[str, str, str], str] = {}
    for n, r in enumerate(_read_rows(path, need), start=2):
        item, who = (r["item_id"] or "").strip(), (r["reviewer"] or "").strip()
        crit = (r["criterion"] or "").strip() if card else ""
        if not item or not who or (card and not crit):
            raise SessionError(f"{path}:{n}: empty {'/'.join(c for c in need[:-1])}")
        if (who, item, crit) in sources:
            raise SessionError(f"{path}:{n}: a second review of item {item!r}"
                               + (f", question {crit!r}," if card else "")
                               + f" by {who!r} (first on {sources[(who, item, crit)]})")
        sources[(who, item, crit)] = f"{path}:{n}"
        value = (r["score"] or "").strip()
        if card:
            per_q = reviews.setdefault(who, {}).setdefault(item, {})
            assert isinstance(per_q, dict)
            per_q[crit] = value
        else:
            reviews.setdefault(who, {})[item] = value
    return reviews, sources


def _card_baseline(path: Path) -> dict[str, dict[str, str]]:
    return _read_card_values(path)


def _card_pairs(args: list[str]) -> dict[str, dict[str, str]]:
    """``ITEM:QUESTION=VALUE`` arguments (a question id has no ':')."""
    outp: dict[str, dict[str, str]] = {}
    for a in args:
        key, sep, value = a.rpartition("=")
        item, colon, crit = key.rpartition(":")
        if not sep or not colon or not item or not crit:
            raise SessionError(f"this session is on a scorecard: expected ITEM:QUESTION=VALUE, "
                               f"got {a!r}")
        outp.setdefault(item, {})[crit] = value
    return outp


def _judge_scores(path: str | Path, aset, judge: str | None = None
                  ) -> tuple[dict[str, float], list[str]]:
    """Judge score per item of ``aset`` from a judgments file; warns of items never scored."""
    from harness.judgments import read_judgment_scores

    try:
        scores, no_valid = read_judgment_scores(path, item_ids=[it.id for it in aset.items],
                                                judge=judge)
    except ValueError as exc:
        raise SessionError(str(exc)) from None
    if no_valid:
        shown = listed_text(no_valid)
        err.print(f"[yellow]warning:[/] {len(no_valid)} item(s) in {escape(str(path))} have no "
                  f"valid judge score (every sample invalid, failed or skipped), so they "
                  f"cannot count for disagreement: {escape(shown)}", soft_wrap=True)
    return scores, no_valid


def _card_judge_scores(path: str | Path, card, judge: str | None = None
                       ) -> tuple[dict[str, dict[str, float]], list[str]]:
    """A scorecard's judge scores per question from a judgments file with a ``criterion``
    on each row (``judge --out`` on a scorecard); warns of (item, question) pairs never
    scored."""
    from harness.judgments import read_judgment_scores, read_judgments_file

    ids = [it.id for it in card.items]
    scores: dict[str, dict[str, float]] = {}
    missing: list[str] = []
    try:
        jfile = read_judgments_file(path)
        for cid in card.criterion_ids:
            scores[cid], no_valid = read_judgment_scores(jfile, item_ids=ids, criterion=cid,
                                                         judge=judge)
            missing += [f"{i}:{cid}" for i in no_valid]
    except ValueError as exc:
        raise SessionError(str(exc)) from None
    if missing:
        shown = listed_text(missing)
        err.print(f"[yellow]warning:[/] {len(missing)} (item, question) pair(s) in "
                  f"{escape(str(path))} have no valid judge score, so those items' judge "
                  f"totals are missing: {escape(shown)}", soft_wrap=True)
    return scores, missing


def _propose(aset, n: int, judgments: Any, split: str | None = None):
    """:func:`propose_items` (a scorecard: :func:`propose_scorecard_items` on its total)."""
    try:
        if isinstance(aset, Scorecard):
            return propose_scorecard_items(aset, n=n, judgments=judgments, split=split)
        return propose_items(aset, n=n, judgments=judgments, split=split)
    except ValueError as exc:
        raise SessionError(str(exc)) from None


def _proposal_scores(path: str, aset, judge: str | None = None) -> tuple[Any, list[str]]:
    """Judge scores steering a proposal: per item, or per question on a scorecard."""
    if isinstance(aset, Scorecard):
        return _card_judge_scores(path, aset, judge)
    return _judge_scores(path, aset, judge)


def _item_args(ids: list[str]) -> str:
    """The ids as ``--item ID`` options, shell-quoted, ready to paste into ``create``."""
    return " ".join(f"--item {shlex.quote(i)}" for i in ids)


def _prompt_rubric(ref: str, prompts_dir: Path, aset) -> tuple[str, str]:
    """``NAME`` or ``NAME@vN`` -> (label, instructions) of that judge prompt version."""
    from harness.prompts import PromptError, load_prompt
    from harness.sessions import prompt_rubric

    name, _, version = ref.partition("@")
    try:
        pv = load_prompt(name, version or "latest", prompts_dir=prompts_dir)
    except PromptError as exc:
        raise SessionError(str(exc)) from None
    return prompt_rubric(pv, aset)


def _is_judgments_csv(path: Path) -> bool:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh), [])
    except OSError as exc:
        raise SessionError(f"cannot read {path}: {exc.strerror}") from None
    return "status" in header and "sample_index" in header


def _baseline_scores(path: Path, aset) -> dict[str, float]:
    """A baseline review: ``item_id,score`` pairs, or a judgments CSV (``judge --out``),
    whose ``ok`` samples are averaged per item (items without one are an error)."""
    if _is_judgments_csv(path):
        scores, no_valid = _judge_scores(path, aset)
        if no_valid:
            raise SessionError(f"{path}: the baseline judge has no valid score for "
                               f"{len(no_valid)} item(s): {', '.join(no_valid[:10])}")
        return scores
    base: dict[str, float] = {}
    for k, v in _read_pairs(path).items():
        s = parse_score(v)
        if s == NA:
            raise SessionError(f"baseline score for {k!r} is NA; give a number")
        assert isinstance(s, float)
        base[k] = s
    return base


@session_app.command("propose")
def propose_cmd(
    anchor_set: AnchorSetArg,
    n: Annotated[int, typer.Option("--n", "-n", help="How many items to propose.")] = 12,
    judgments: JudgmentsOpt = None,
    judge: JudgmentsJudgeOpt = None,
    split: SplitOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Propose the items of a session (spectrum, boundary, spread, judge disagreement)."""
    if n < 1:
        fail(f"--n must be at least 1, got {n}")
    if judge is not None and judgments is None:
        fail("--judge only works with --judgments (it picks the file's judge)")
    try:
        aset = _load_any(anchor_set)
        scores, no_valid = (_proposal_scores(judgments, aset, judge) if judgments is not None
                            else (None, []))
        picks = _propose(aset, n, scores, split)
    except SessionError as exc:
        fail(str(exc))
    # the items the proposal was drawn from: the split's with --split
    n_pool = len((aset if split is None else aset.split(split)).items)
    if as_json:
        doc = {
            "anchor_set": str(anchor_set), "name": aset.meta.name, "split": split,
            "n_items": n_pool, "n": n,
            "judgments": judgments, "judge": judge,
            "no_valid_judgment": no_valid,
            "items": [{"item_id": p.item_id, "consensus": p.consensus, "sd": p.sd,
                       "judge_score": p.judge_score, "judge_delta": p.judge_delta,
                       "reasons": p.reasons} for p in picks],
            "create_args": [a for p in picks for a in ("--item", p.item_id)],
        }
        print_json(doc)
        return

    on_total = " (on the scorecard total, 0–1)" if isinstance(aset, Scorecard) else ""
    pool = f"{split} items" if split is not None else "items"
    t = Table(title=f"proposal: {len(picks)} of {n_pool} {pool} of "
                    f"{escape(aset.meta.name)}{on_total}", title_justify="left")
    t.add_column("item")
    t.add_column("consensus", justify="right")
    t.add_column("rater SD", justify="right")
    if judgments is not None:
        t.add_column("judge − consensus", justify="right")
    t.add_column("reasons")
    for p in picks:
        cells = [escape(p.item_id), number_text(p.consensus), number_text(p.sd)]
        if judgments is not None:
            cells.append(signed_text(p.judge_delta))
        cells.append(", ".join(p.reasons))
        t.add_row(*cells)
    print_wide(t)
    out.print(f"items for 'judgecal session create {escape(str(anchor_set))}':", soft_wrap=True)
    out.print(_item_args([p.item_id for p in picks]), markup=False, soft_wrap=True)


@session_app.command("create")
def create(
    anchor_set: AnchorSetArg,
    participant: Annotated[list[str], typer.Option(
        "--participant", "-p", help="Participant ID or ID=NAME (repeat).")] = [],  # noqa: B006
    item: Annotated[list[str], typer.Option(
        "--item", help="Item id to include (repeat); default all items.")] = [],  # noqa: B006
    propose: Annotated[int | None, typer.Option(
        help="Let propose_items choose N items (spectrum, boundary, spread; with "
             "--judgments also judge disagreement).")] = None,
    judgments: JudgmentsOpt = None,
    judge: JudgmentsJudgeOpt = None,
    from_escalations: Annotated[Path | None, typer.Option(
        "--from-escalations", metavar="FILE",
        help="The items a judge abstained on (judgecal selective --escalations FILE).")]
    = None,
    split: SplitOpt = None,
    name: Annotated[str | None, typer.Option(help="Session name.")] = None,
    rubric_label: Annotated[str | None, typer.Option(
        help="Where the rubric in force comes from, as a free label (default: the set's "
             "rubric); see --prompt for a judge prompt version.")] = None,
    prompt: Annotated[str | None, typer.Option(
        "--prompt", metavar="NAME[@vN]",
        help="Make a judge prompt version's instructions the rubric in force (default "
             "version: latest).")] = None,
    prompts_dir: Annotated[Path, typer.Option(help="The prompts directory.")] = Path("prompts"),
    threshold: Annotated[float | None, typer.Option(
        help="Flag items whose score SD exceeds this (default 10% of the scale range).")]
    = None,
    na: Annotated[bool, typer.Option("--na", help="Every item is N/A-eligible.")] = False,
    na_item: Annotated[list[str], typer.Option(
        help="An N/A-eligible item (repeat).")] = [],  # noqa: B006
    baseline: Annotated[Path | None, typer.Option(
        help="CSV item_id,score of a reviewer's scores, or a judgments CSV "
             "(judge --out) of a judge's, to compare against.")]
    = None,
    baseline_label: Annotated[str | None, typer.Option(
        help="Whose the baseline is, e.g. reviewer:alice or judge:v3.")] = None,
    threshold_share: Annotated[float | None, typer.Option(
        help="Scorecards: flag an (item, question) pair whose SD exceeds this share of the "
             "question's range (default 0.10; on pass/fail any disagreement).")] = None,
    due: Annotated[str | None, typer.Option(
        "--due", metavar="DATE",
        help="When scores are due: YYYY-MM-DD (the end of that day, UTC) or "
             "YYYY-MM-DDTHH:MM[+HH:MM]; shown to participants, extendable ('session due').")]
    = None,
    visibility: Annotated[str, typer.Option(
        "--visibility", metavar="blind|after-submit",
        help="Before review, participants see only their own scores (blind), or their "
             "submitted peers' too once they have submitted (after-submit).")] = "blind",
    refs: Annotated[Path | None, typer.Option(
        "--refs", help="CSV item_id,conversation_id,date: the evaluation each item came "
                       "from (kept in the log).")] = None,
    import_reviews: Annotated[Path | None, typer.Option(
        "--import-reviews",
        help="CSV item_id,reviewer,score (a scorecard: item_id,reviewer,criterion,score): "
             "existing reviews imported as each reviewer's submitted round 1.")] = None,
    state_dir: StateDir = None,
) -> None:
    """Create a session (draft) on an anchor set or a scorecard; prints its id and the
    facilitator token (shown once)."""
    if judgments is not None and propose is None:
        fail("--judgments only works with --propose N (it steers the proposal)")
    if judge is not None and judgments is None:
        fail("--judge only works with --judgments (it picks the file's judge)")
    if propose is not None and propose < 1:
        fail(f"--propose must be at least 1, got {propose}")
    try:
        aset = _load_any(anchor_set)
        ids: list[str] | None = list(item) or None
        if from_escalations is not None:
            if ids or propose is not None or split is not None:
                raise SessionError("give --from-escalations alone, without --item, "
                                   "--propose or --split")
            from harness.selective import read_escalations

            try:
                ids = read_escalations(from_escalations)
            except ValueError as exc:
                raise SessionError(str(exc)) from None
        if split is not None and ids:
            raise SessionError("give either --item or --split, not both")
        if isinstance(aset, Scorecard):
            if threshold is not None:
                raise SessionError("a scorecard's questions have different scales: give "
                                   "--threshold-share (a share of each question's range)")
        elif threshold_share is not None:
            raise SessionError("--threshold-share is for a scorecard; give --threshold")
        if propose is not None:
            if ids:
                raise SessionError("give either --item or --propose, not both")
            scores = (_proposal_scores(judgments, aset, judge)[0] if judgments is not None
                      else None)
            ids = [p.item_id for p in _propose(aset, propose, scores, split)]
        elif split is not None:
            if split not in SPLITS:
                raise SessionError(f"--split must be calibration or holdout, got {split!r}")
            ids = [it.id for it in aset.split(split).items]
        base = None
        if baseline is not None:
            base = (_card_baseline(baseline) if isinstance(aset, Scorecard)
                    else _baseline_scores(baseline, aset))
        rubric = None
        if prompt is not None:
            if rubric_label is not None:
                raise SessionError("give either --prompt or --rubric-label, not both")
            rubric_label, rubric = _prompt_rubric(prompt, prompts_dir, aset)
        session_ids = ids if ids is not None else [it.id for it in aset.items]
        item_refs = _read_refs(refs, session_ids) if refs is not None else None
        reviews, sources = (_read_reviews(import_reviews, isinstance(aset, Scorecard))
                            if import_reviews is not None else (None, None))
        session, token = _store(state_dir).create(
            aset, [_split_person(p) for p in participant], item_ids=ids, name=name,
            rubric_label=rubric_label, rubric=rubric, threshold=threshold,
            na_items=True if na else (na_item or False), baseline=base,
            baseline_label=baseline_label, threshold_share=threshold_share, due=due,
            visibility=visibility, item_refs=item_refs, prior_reviews=reviews,
            review_sources=sources,
        )
    except SessionError as exc:
        fail(str(exc))
    info = session.info
    if info.is_scorecard:
        out.print(f"created session [bold]{info.id}[/] ({escape(info.name)}): "
                  f"{len(info.item_ids)} items x {len(info.criterion_ids)} questions "
                  f"({escape(', '.join(info.criterion_ids))}), {len(info.participants)} "
                  f"participants, threshold SD > {share_text(info.threshold)} of each question's "
                  "range", soft_wrap=True)
    else:
        out.print(f"created session [bold]{info.id}[/] ({escape(info.name)}): "
                  f"{len(info.item_ids)} items, {len(info.participants)} participants, "
                  f"threshold SD > {info.threshold:g}")
    out.print(f"rubric in force: {escape(info.rubric_source)}")
    out.print(f"visibility before review: {info.visibility}"
              + (f"; scores due {format_due(info.due_at)}" if info.due_at is not None else ""))
    imported = [p.id for p in info.participants if p.imported]
    if imported:
        out.print(f"prior reviews imported as submitted round 1: {escape(', '.join(imported))}")
    out.print(f"facilitator token: {token}")
    out.print("keep it: it is shown only once (only its hash is stored)")


@session_app.command("list")
def list_cmd(
    as_json: JsonOpt = False,
    state_dir: StateDir = None,
) -> None:
    """List the sessions of the store: state, items, who has submitted, the new version."""
    from datetime import UTC, datetime

    try:
        store = _store(state_dir)
        infos = store.list()
    except SessionError as exc:
        fail(str(exc))

    def when(ts: float) -> str:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")

    if as_json:
        print_json([
            {"id": i.id, "name": i.name, "state": i.state, "anchor_set": i.anchor_path,
             "n_items": len(i.item_ids),
             "participants": [{"id": p.id, "name": p.name, "submitted": p.submitted,
                               "rescore_submitted": p.rescore_submitted}
                              for p in i.participants],
             "rescore_items": i.rescore_items, "output_path": i.output_path,
             "criteria": i.criterion_ids or None, "visibility": i.visibility,
             "due": None if i.due_at is None else format_due(i.due_at),
             "overdue": store.get(i.id).overdue(),
             "created": when(i.created_at), "updated": when(i.updated_at)}
            for i in infos])
        return
    if not infos:
        out.print("no sessions yet ('judgecal session create SET ...' starts one)")
        return
    t = Table(title=f"{len(infos)} session(s)", title_justify="left")
    for col in ("id", "name", "state", "items", "submitted", "due", "anchor set", "updated"):
        t.add_column(col, overflow="fold")
    for i in infos:
        done = sum(p.submitted for p in i.participants)
        late = store.get(i.id).overdue()
        due_cell = MISSING if i.due_at is None else format_due(i.due_at) + (
            f" (overdue: {escape(', '.join(late))})" if late else "")
        t.add_row(i.id, escape(i.name), i.state, str(len(i.item_ids)),
                  f"{done}/{len(i.participants)}", due_cell,
                  escape(i.output_path and f"{i.anchor_path} → {i.output_path}"
                         or i.anchor_path), when(i.updated_at))
    out.print(t)


@session_app.command("invite")
def invite(
    session_id: SessionId,
    participant: Annotated[str, typer.Argument(help="Participant ID or ID=NAME.")],
    facilitator_token: FacToken = None,
    state_dir: StateDir = None,
) -> None:
    """Give a participant their personal token (adds them in draft; re-issues otherwise)."""
    try:
        token = _store(state_dir).get(session_id).invite(_split_person(participant),
                                                         facilitator_token or "")
    except SessionError as exc:
        fail(str(exc))
    pid = _split_person(participant)[0]
    out.print(f"token for {escape(pid)}: {token}")


@session_app.command("due")
def due_cmd(
    session_id: SessionId,
    extend: Annotated[str | None, typer.Option(
        "--extend", metavar="DATE",
        help="Set the due date, or move it later: YYYY-MM-DD (the end of that day, UTC) or "
             "YYYY-MM-DDTHH:MM[+HH:MM] (needs the facilitator token).")] = None,
    facilitator_token: FacToken = None,
    state_dir: StateDir = None,
) -> None:
    """Show when scores are due and who is overdue; --extend sets or extends the date."""
    try:
        session = _store(state_dir).get(session_id)
        if extend is not None:
            session.extend_due(extend, facilitator_token or "")
        info = session.info
        late = session.overdue()
    except SessionError as exc:
        fail(str(exc))
    if info.due_at is None:
        out.print(f"session {session_id}: no due date")
        return
    out.print(f"session {session_id}: scores due {format_due(info.due_at)}")
    if late:
        out.print(f"overdue (not submitted): {escape(', '.join(late))}")
    elif session.is_overdue():
        out.print("past due; everyone has submitted")


@session_app.command("observer")
def observer_cmd(
    session_id: SessionId,
    observer: Annotated[str, typer.Argument(help="Observer ID or ID=NAME (a lead, a "
                                                 "manager).")],
    sees: Annotated[str, typer.Option(
        "--sees", metavar="always|submitted",
        help="Before review: every saved score (always), or the scores of the participants "
             "who have submitted (submitted).")] = "always",
    facilitator_token: FacToken = None,
    state_dir: StateDir = None,
) -> None:
    """Give an observer a read-only token (adds them, or re-issues a lost token)."""
    if sees not in OBSERVER_SEES:
        fail(f"--sees must be {' or '.join(OBSERVER_SEES)}, got {sees!r}")
    try:
        token = _store(state_dir).get(session_id).add_observer(
            _split_person(observer), facilitator_token or "", sees=sees)
    except SessionError as exc:
        fail(str(exc))
    oid = _split_person(observer)[0]
    out.print(f"observer token for {escape(oid)}: {token}")
    out.print("the observer opens /o/<token> of 'judgecal session serve'; read-only")


@session_app.command("import")
def import_cmd(
    session_id: SessionId,
    csv_file: Annotated[Path, typer.Argument(
        metavar="CSV", help="item_id,reviewer,score (a scorecard: item_id,reviewer,criterion,"
                            "score), one review per reviewer and item.")],
    facilitator_token: FacToken = None,
    state_dir: StateDir = None,
) -> None:
    """Import existing reviews as the reviewers' round-1 scores, already submitted."""
    try:
        session = _store(state_dir).get(session_id)
        reviews, sources = _read_reviews(csv_file, session.info.is_scorecard)
        who = session.import_reviews(reviews, facilitator_token or "", sources=sources)
    except SessionError as exc:
        fail(str(exc))
    out.print(f"imported as submitted round 1: {escape(', '.join(who))}")


@session_app.command("start")
def start(session_id: SessionId, facilitator_token: FacToken = None,
          state_dir: StateDir = None) -> None:
    """Open scoring (draft -> scoring): needs 2+ invited participants."""
    try:
        _store(state_dir).get(session_id).start_scoring(facilitator_token or "")
    except SessionError as exc:
        fail(str(exc))
    out.print(f"session {session_id}: scoring is open")


@session_app.command("score")
def score(
    session_id: SessionId,
    pairs: Annotated[list[str] | None, typer.Argument(
        metavar="[ITEM=SCORE]...",
        help="Scores (NA for not applicable); in a scorecard session ITEM:QUESTION=VALUE "
             "(a number, or a level such as pass).")]
    = None,
    participant: Annotated[str, typer.Option(help="Your participant id.")] = "",
    token: Annotated[str | None, typer.Option(envvar="JUDGECAL_PARTICIPANT_TOKEN",
                                              help="Your personal token (from invite).")]
    = None,
    csv_file: Annotated[Path | None, typer.Option(
        "--csv", help="CSV item_id,score (a scorecard: item_id,criterion,score).")] = None,
    submit: Annotated[bool, typer.Option(help="Submit (lock) your scores afterwards.")]
    = False,
    round_: Annotated[int, typer.Option("--round", help="1, or 2 for the re-score round.")]
    = 1,
    state_dir: StateDir = None,
) -> None:
    """Record your scores (blind: you see only your own until review)."""
    from harness.sessions import scores_visible_to

    if not participant:
        fail("give --participant")
    try:
        session = _store(state_dir).get(session_id)
        values: dict[str, object]
        if session.info.is_scorecard:
            card_values = _card_pairs(pairs or [])
            if csv_file is not None:
                for k, v in _read_card_values(csv_file).items():
                    card_values.setdefault(k, {}).update(v)
            values = dict(card_values)
        else:
            values = dict(_pairs(pairs or []))
            if csv_file is not None:
                values.update(_read_pairs(csv_file))
        if not values and not submit:
            raise SessionError("no scores given (ITEM=SCORE pairs or --csv)")
        if values:
            session.score(participant, token or "", values, round=round_)
        if submit:
            session.submit(participant, token or "", round=round_)
        mine = (scores_visible_to(session, participant)[participant] if round_ == 1
                else session.scores(2).get(participant, {}))
    except SessionError as exc:
        fail(str(exc))
    info = session.info
    n_items = len(info.item_ids) if round_ == 1 else len(info.rescore_items or [])
    if info.is_scorecard:
        n_q = len(info.criterion_ids)
        done = sum(len(qs) for qs in mine.values())
        out.print(f"{escape(participant)}: {done}/{n_items * n_q} (item, question) pairs "
                  f"scored in round {round_}" + (" — submitted" if submit else ""))
        return
    out.print(f"{escape(participant)}: {len(mine)}/{n_items} items scored in round {round_}"
              + (" — submitted" if submit else ""))


def _review_tables(session_id: str, state_dir: Path | None) -> None:
    session = _store(state_dir).get(session_id)
    rv = review(session)
    card = session.info.is_scorecard
    lo, hi = rv.scale
    if card:
        title = (f"session {rv.session_id}: {len(rv.items)} (item, question) pairs, "
                 f"{len(rv.flagged)} flagged (SD > {share_text(rv.threshold)} of each question's "
                 "range; unordered labels: more than one label)")
    else:
        title = (f"session {rv.session_id}: {len(rv.items)} items, {len(rv.flagged)} "
                 f"flagged (SD > {rv.threshold:g}, scale {scale_text(lo, hi)})")
    t = Table(title=title)
    t.add_column("item", no_wrap=True,
                 min_width=min(40, max((len(it.item_id) + 2 for it in rv.items), default=4)))
    if card:
        t.add_column("question", no_wrap=True)
    for p in rv.participants:
        t.add_column(p, justify="right")
    for col in ("n", "N/A", "mean", "median", "SD", "range", "share"):
        t.add_column(col, justify="right")
    t.add_column("outliers")
    if rv.baseline_label or any(it.baseline is not None for it in rv.items):
        t.add_column(f"Δ {rv.baseline_label or 'baseline'}", justify="right")
        with_base = True
    else:
        with_base = False
    t.add_column("resolution")

    num = number_text

    for it in rv.items:
        style = "bold yellow" if it.flagged else ""
        cells = [("⚑ " if it.flagged else "") + escape(it.item_id)]
        if card:
            cells.append(escape(it.criterion or ""))
        for p in rv.participants:
            v = it.scores.get(p)
            txt = "NA" if v == NA else (MISSING if v is None else (
                escape(v) if isinstance(v, str) else fmt_num(float(v))))
            cells.append(f"[red]{txt}[/]" if p in it.outliers else txt)
        cells += [str(it.n), str(it.n_na), num(it.mean), num(it.median), num(it.sd),
                  MISSING if it.range is None else fmt_num(it.range),
                  share_text(it.range_share),
                  ", ".join(it.outliers)]
        if with_base:
            cells.append(signed_text(it.baseline_delta))
        r = it.resolution
        cells.append("" if r is None else (
            MISSING if r.consensus is None else escape(r.consensus) if isinstance(r.consensus, str)
            else fmt_num(r.consensus)) + " ✓")
        t.add_row(*cells, style=style)
    out.print(t)

    val = result_text

    if card:
        q = Table(title="agreement among participants per question and on the total")
        for col in ("question", "scale", "flagged", "N/A", "ICC(2,1)", "alpha"):
            q.add_column(col)
        for qa in rv.questions.values():
            q.add_row(escape(qa.criterion), qa.kind, str(qa.n_flagged), str(qa.n_na),
                      escape(val(qa.icc)), escape(val(qa.alpha)))
        out.print(q)
    else:
        for label, res in (("ICC(2,1)", rv.icc), ("Krippendorff's alpha", rv.alpha)):
            out.print(f"{label} among participants: {escape(val(res))}")
    if rv.left_out:
        out.print(f"ICC and alpha on the participants who submitted; left out (not "
                  f"submitted): {escape(', '.join(rv.left_out))}")
    if session.info.rescore_items:
        for line in effectiveness(session).summary():
            out.print(line)


@session_app.command("review")
def review_cmd(
    session_id: SessionId,
    facilitator_token: FacToken = None,
    force: Annotated[bool, typer.Option(help="Start the review although not every "
                                             "participant has submitted.")] = False,
    state_dir: StateDir = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print one JSON document: every item's scores and spread, the "
                       "flags, the agreement among participants.")] = False,
) -> None:
    """Start the review (facilitator, from scoring) and print the review tables."""
    try:
        session = _store(state_dir).get(session_id)
        if session.state == "scoring":
            tr = session.begin_review(facilitator_token or "", force=force)
            if tr.missing:
                (err if as_json else out).print(
                    f"[yellow]review forced; not submitted: {escape(', '.join(tr.missing))}[/]")
        elif session.state == "draft":
            raise SessionError(f"cannot review: session {session_id} is in state 'draft'; "
                               "scoring has not started")
        if as_json:
            print_json(_review_doc(_store(state_dir).get(session_id)))
        else:
            _review_tables(session_id, state_dir)
    except SessionError as exc:
        fail(str(exc))


def _review_doc(session: Any) -> dict[str, Any]:
    """``session review --json``: the review's items, flags and agreement as JSON."""
    from dataclasses import asdict

    rv = review(session)
    doc: dict[str, Any] = {
        "session_id": rv.session_id, "state": session.state,
        "scorecard": session.info.is_scorecard, "participants": list(rv.participants),
        "threshold": rv.threshold, "scale": list(rv.scale), "n_items": len(rv.items),
        "n_flagged": len(rv.flagged), "baseline_label": rv.baseline_label,
        "left_out": list(rv.left_out), "forced_missing": list(rv.forced_missing),
        "items": [{**asdict(it), "label": it.label} for it in rv.items],
        "icc": rv.icc.to_dict(), "alpha": rv.alpha.to_dict(),
        "questions": {cid: {"label": qa.label, "kind": qa.kind, "threshold": qa.threshold,
                            "n_flagged": qa.n_flagged, "n_na": qa.n_na,
                            "icc": qa.icc.to_dict(), "alpha": qa.alpha.to_dict()}
                      for cid, qa in rv.questions.items()},
    }
    if session.info.rescore_items:
        doc["rescore"] = effectiveness(session).summary()
    return doc


@session_app.command("rescore")
def rescore(
    session_id: SessionId,
    items: Annotated[list[str], typer.Argument(metavar="ITEM...", help="Items to re-score.")],
    facilitator_token: FacToken = None,
    state_dir: StateDir = None,
) -> None:
    """Open the re-score round (round 2) on a subset, to measure the discussion's effect."""
    try:
        _store(state_dir).get(session_id).open_rescore(items, facilitator_token or "")
    except SessionError as exc:
        fail(str(exc))
    out.print(f"re-score round open on {len(items)} items: participants run "
              "'score --round 2 ... --submit'")


@session_app.command("note")
def note(
    session_id: SessionId,
    text: Annotated[str, typer.Argument(help="A rubric change agreed in the discussion.")],
    facilitator_token: FacToken = None,
    state_dir: StateDir = None,
) -> None:
    """Record a rubric change (free text) for the calibration log."""
    try:
        _store(state_dir).get(session_id).add_note(text, facilitator_token or "")
    except SessionError as exc:
        fail(str(exc))
    out.print("note recorded")


@session_app.command("resolve")
def resolve(
    session_id: SessionId,
    item: Annotated[str | None, typer.Argument(metavar="[ITEM]", help="Item to resolve.")]
    = None,
    score_: Annotated[str | None, typer.Option(
        "--score", help="Consensus score (in a scorecard session, a number or a level).")]
    = None,
    criterion: Annotated[str | None, typer.Option(
        "--criterion", "-q", help="The question to resolve (scorecard sessions).")] = None,
    rationale: Annotated[str | None, typer.Option(help="Why this consensus.")] = None,
    note_: Annotated[str | None, typer.Option("--note", help="Discussion note.")] = None,
    finish: Annotated[bool, typer.Option(
        help="Mark the session resolved and write the new anchor-set version.")] = False,
    output: Annotated[Path | None, typer.Option(
        help="Path of the new version (default <stem>.v<N>.jsonl beside the set).")] = None,
    facilitator_token: FacToken = None,
    state_dir: StateDir = None,
) -> None:
    """Record an item's resolution, and/or (--finish) write the new anchor version."""
    if item is None and not finish:
        fail("give an ITEM to resolve, or --finish")
    try:
        session = _store(state_dir).get(session_id)
        if item is not None:
            consensus: float | str | None = score_
            if score_ is not None and not session.info.is_scorecard:
                consensus = parse_score(score_)
                if consensus == NA:
                    raise SessionError("a consensus cannot be NA; give a number")
            session.resolve_item(item, facilitator_token or "", consensus=consensus,
                                 rationale=rationale, note=note_, criterion=criterion)
            what = item if criterion is None else f"{item} / {criterion}"
            out.print(f"resolution recorded for {escape(what)}")
        if finish:
            path = session.mark_resolved(facilitator_token or "", output)
            out.print(f"session {session_id} resolved; new anchor version: {path}")
    except SessionError as exc:
        fail(str(exc))


@session_app.command("close")
def close(session_id: SessionId, facilitator_token: FacToken = None,
          state_dir: StateDir = None) -> None:
    """Close the session (read-only from then on)."""
    try:
        _store(state_dir).get(session_id).close(facilitator_token or "")
    except SessionError as exc:
        fail(str(exc))
    out.print(f"session {session_id} closed")


@session_app.command("export")
def export(
    session_id: SessionId,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write the Markdown log here (default: print it).")] = None,
    state_dir: StateDir = None,
) -> None:
    """Export the calibration log (Markdown); from review on (scores are blind before)."""
    try:
        session = _store(state_dir).get(session_id)
        if session.state in ("draft", "scoring"):
            raise SessionError(f"cannot export: session {session_id} is in state "
                               f"{session.state!r}; scores are blind until review")
        text = calibration_log(session)
    except SessionError as exc:
        fail(str(exc))
    if output is None:
        out.print(text, markup=False)
    else:
        output.write_text(text, encoding="utf-8")
        out.print(f"calibration log written to {output}")


@session_app.command("insights")
def insights_cmd(
    last: Annotated[int | None, typer.Option(
        "--last", metavar="N", help="Only the N newest reviewed sessions (default: all).")]
    = None,
    as_json: JsonOpt = False,
    state_dir: StateDir = None,
) -> None:
    """Across sessions: the questions flagged most often, and each rater's outliers per
    question (sessions from review on)."""
    from harness.sessions import insights

    if last is not None and last < 1:
        fail(f"--last must be at least 1, got {last}")
    try:
        ins = insights(_store(state_dir), last=last)
    except SessionError as exc:
        fail(str(exc))
    if as_json:
        print_json(ins.to_json())
        return
    if not ins.sessions:
        out.print("no reviewed sessions yet (insights count sessions from review on)")
        return
    t = Table(title=f"{len(ins.sessions)} reviewed session(s): questions flagged most often",
              title_justify="left")
    for col in ("question", "sessions", "pairs", "flagged", "share"):
        t.add_column(col, justify="left" if col == "question" else "right")
    for q in ins.questions:
        t.add_row(escape(q.question), str(q.sessions), str(q.pairs), str(q.flagged),
                  share_text(q.flagged_share))
    out.print(t)
    r = Table(title="raters: outliers per question (most first)", title_justify="left")
    for col in ("rater", "question", "scored", "outliers"):
        r.add_column(col, justify="right" if col in ("scored", "outliers") else "left")
    for x in ins.raters:
        r.add_row(escape(x.rater), escape(x.question), str(x.scored), str(x.outliers))
    out.print(r)


from ._session_serve import serve_cmd  # noqa: E402 - registered after the other commands

session_app.command("serve")(serve_cmd)
