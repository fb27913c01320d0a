"""Calibration sessions on a scorecard: every question of every item, per-question flags,
resolutions per (item, question) in the new version, agreement per question and on the total,
and participant ICC on the participants who submitted."""

from __future__ import annotations

import json
import math
import re
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.agreement import icc, krippendorff_alpha
from harness.anchors import load_scorecard
from harness.cli import app as cli_app
from harness.sessions import (
    SessionError,
    SessionStore,
    calibration_log,
    effectiveness,
    rater_id,
    review,
    scores_visible_to,
)
from harness.sessions._web import create_app

CRITERIA = [
    {"id": "greeted", "label": "Greeted the customer?", "rubric": "yes when the reply greets",
     "scale": {"levels": ["no", "yes"]}, "pass_mark": "yes"},
    {"id": "tone", "label": "Tone", "rubric": "1 rude .. 5 warm", "scale": {"min": 1, "max": 5},
     "na_allowed": True, "weight": 2},
    {"id": "resolved", "label": "Resolved the issue?", "rubric": "pass when resolved",
     "scale": {"levels": ["fail", "pass"]}, "critical": True, "pass_mark": "pass"},
]


def make_card(tmp_path: Path, n: int = 4) -> Path:
    header = {"judgecal_anchor_set": 1, "name": "support-qa", "rubric": "Score the reply.",
              "criteria": CRITERIA, "consensus": "mean"}
    lines = [json.dumps(header)]
    for k in range(1, n + 1):
        lines.append(json.dumps({
            "id": f"i{k}", "input": f"customer question {k}", "output": f"agent reply {k}",
            "split": "calibration", "rationale": "prior note",
            "ratings": {"greeted": {"r1": "yes", "r2": "yes"}, "tone": {"r1": 3, "r2": 4},
                        "resolved": {"r1": "pass", "r2": "pass"}}}))
    p = tmp_path / "qa.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


# i1 and i2 disagree on some questions; i3 and i4 agree on every one
TABLE = {
    "ann": {"i1": {"greeted": "yes", "tone": 4, "resolved": "pass"},
            "i2": {"greeted": "no", "tone": 2, "resolved": "pass"},
            "i3": {"greeted": "yes", "tone": 5, "resolved": "pass"},
            "i4": {"greeted": "no", "tone": 1, "resolved": "fail"}},
    "bob": {"i1": {"greeted": "yes", "tone": 4, "resolved": "pass"},
            "i2": {"greeted": "yes", "tone": "NA", "resolved": "pass"},
            "i3": {"greeted": "yes", "tone": 5, "resolved": "pass"},
            "i4": {"greeted": "no", "tone": 1, "resolved": "fail"}},
    "cy": {"i1": {"greeted": "yes", "tone": 5, "resolved": "fail"},
           "i2": {"greeted": "no", "tone": 1, "resolved": "pass"},
           "i3": {"greeted": "yes", "tone": 5, "resolved": "pass"},
           "i4": {"greeted": "no", "tone": 1, "resolved": "fail"}},
}


@pytest.fixture
def store(tmp_path: Path):
    s = SessionStore(tmp_path / "state")
    yield s
    s.close()


def started(store: SessionStore, path: Path, people=("ann", "bob", "cy"), **kw):
    session, fac = store.create(path, list(people), **kw)
    tokens = {p: session.invite(p, fac) for p in people}
    session.start_scoring(fac)
    return session, fac, tokens


def in_review(store: SessionStore, tmp_path: Path):
    session, fac, tok = started(store, make_card(tmp_path))
    for p, scores in TABLE.items():
        session.score(p, tok[p], scores)
        session.submit(p, tok[p])
    session.begin_review(fac)
    return session, fac, tok


# ------------------------------------------------------------------ scoring


def test_scorecard_session_stores_questions(store: SessionStore, tmp_path: Path) -> None:
    session, fac, tok = started(store, make_card(tmp_path))
    info = session.info
    assert info.is_scorecard and info.criterion_ids == ["greeted", "tone", "resolved"]
    assert info.threshold_share == pytest.approx(0.10)
    session.score("ann", tok["ann"], {"i1": {"greeted": "yes", "tone": "4"}})
    session.score("ann", tok["ann"], {"i1": {"tone": "NA", "resolved": "fail"}})
    assert session.scores(1)["ann"] == {"i1": {"greeted": "yes", "tone": "NA",
                                               "resolved": "fail"}}
    # stored as the view's codes: fail = 0, yes = 1
    assert session.coded_scores(1)["ann"]["i1"] == {"greeted": 1.0, "tone": "NA",
                                                    "resolved": 0.0}
    # blind: bob sees only his own (nothing)
    assert scores_visible_to(session, "bob") == {"bob": {}}


@pytest.mark.parametrize("scores, message", [
    ({"i1": {"greeted": "maybe"}}, r"'maybe' is not one of no < yes"),
    ({"i1": {"greeted": "NA"}}, r"question 'greeted'.*N/A is not allowed"),
    ({"i1": {"tone": 6}}, r"question 'tone'.*6 is off the scale 1–5"),
    ({"i1": {"tone": "pass"}}, r"question 'tone'.*not a number"),
    ({"i1": {"mood": 3}}, r"unknown question 'mood'"),
    ({"i1": 4}, r"give a value per question"),
    ({"i9": {"tone": 3}}, r"item 'i9' is not open"),
])
def test_scorecard_scores_are_checked(store: SessionStore, tmp_path: Path, scores,
                                      message) -> None:
    session, _, tok = started(store, make_card(tmp_path))
    with pytest.raises(SessionError, match=message):
        session.score("ann", tok["ann"], scores)
    assert session.scores(1)["ann"] == {}  # nothing of a refused call is stored


def test_submit_needs_every_question(store: SessionStore, tmp_path: Path) -> None:
    session, _, tok = started(store, make_card(tmp_path, n=1))
    session.score("ann", tok["ann"], {"i1": {"greeted": "yes", "tone": 3}})
    with pytest.raises(SessionError, match=r"not scored 1 \(item, question\) pair\(s\): "
                                           r"i1 / resolved"):
        session.submit("ann", tok["ann"])
    session.score("ann", tok["ann"], {"i1": {"resolved": "pass"}})
    session.submit("ann", tok["ann"])
    assert session.info.participants[0].submitted


def test_scorecard_create_refuses_single_criterion_options(store: SessionStore,
                                                           tmp_path: Path) -> None:
    path = make_card(tmp_path)
    with pytest.raises(SessionError, match="threshold_share"):
        store.create(path, ["ann", "bob"], threshold=0.5)
    with pytest.raises(SessionError, match="na_allowed"):
        store.create(path, ["ann", "bob"], na_items=True)
    with pytest.raises(SessionError, match=r"baseline.*'i1'.*question 'greeted'"):
        store.create(path, ["ann", "bob"], baseline={"i1": {"greeted": "maybe"}})


# ------------------------------------------------------------------ the review


def test_per_question_flags_hand_computed(store: SessionStore, tmp_path: Path) -> None:
    session, _, _ = in_review(store, tmp_path)
    rv = review(session)
    rows = {it.label: it for it in rv.items}
    assert len(rv.items) == 4 * 3
    # thresholds: 10% of each question's range (pass/fail: 0.1, so any disagreement; 1-5: 0.4)
    assert rows["i1 / greeted"].threshold == pytest.approx(0.1)
    assert rows["i1 / tone"].threshold == pytest.approx(0.4)
    # i1 / tone: 4, 4, 5 -> mean 13/3, SD sqrt(1/3) = 0.577 > 0.4
    assert rows["i1 / tone"].mean == pytest.approx(13 / 3)
    assert rows["i1 / tone"].sd == pytest.approx(math.sqrt(1 / 3))
    assert rows["i1 / tone"].outliers == []  # 5 vs the others' median 4: 1 < 2 points
    # i1 / resolved: pass, pass, fail -> codes 1, 1, 0, SD sqrt(1/3); cy is the outlier
    assert rows["i1 / resolved"].sd == pytest.approx(math.sqrt(1 / 3))
    assert rows["i1 / resolved"].scores == {"ann": "pass", "bob": "pass", "cy": "fail"}
    assert rows["i1 / resolved"].mean == pytest.approx(2 / 3)  # the share passing
    assert rows["i1 / resolved"].outliers == ["cy"]
    assert rows["i2 / greeted"].outliers == ["bob"]
    # i2 / tone: 2, N/A, 1 -> n 2, N/A counted apart, SD sqrt(1/2) = 0.707
    assert (rows["i2 / tone"].n, rows["i2 / tone"].n_na) == (2, 1)
    assert rows["i2 / tone"].sd == pytest.approx(math.sqrt(0.5))
    assert rows["i2 / tone"].modal_share == pytest.approx(0.5)
    flagged = {"i1 / tone", "i1 / resolved", "i2 / greeted", "i2 / tone"}
    assert {it.label for it in rv.flagged} == flagged
    # flagged pairs first, by their SD as a share of the question's range
    assert [it.label for it in rv.items[:4]][2:] == ["i2 / tone", "i1 / tone"]
    assert {it.label for it in rv.items[:2]} == {"i1 / resolved", "i2 / greeted"}
    assert not any(it.flagged for it in rv.items[4:])
    # per question: flagged pairs and N/A counts
    q = rv.questions
    assert list(q) == ["greeted", "tone", "resolved", "total"]
    assert (q["greeted"].n_flagged, q["tone"].n_flagged, q["resolved"].n_flagged) == (1, 2, 1)
    assert (q["tone"].n_na, q["greeted"].n_na) == (1, 0)


def test_agreement_per_question_and_on_the_total(store: SessionStore, tmp_path: Path) -> None:
    session, _, _ = in_review(store, tmp_path)
    rv = review(session)
    # totals by hand: weights greeted 1, tone 2, resolved 1 (critical: fail -> 0)
    # i1: ann/bob (1 + 2*.75 + 1)/4 = .875, cy fails resolved -> 0
    # i2: ann (0 + 2*.25 + 1)/4 = .375, bob tone N/A -> (1 + 1)/2 = 1, cy (0 + 0 + 1)/4 = .25
    # i3: 1 for all; i4: resolved fails -> 0 for all
    totals = [[0.875, 0.875, 0.0], [0.375, 1.0, 0.25], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]
    assert rv.icc.value == pytest.approx(icc(totals, form="ICC(2,1)").value)
    assert rv.alpha.value == pytest.approx(krippendorff_alpha(totals, "interval").value)
    assert rv.questions["total"].icc.value == rv.icc.value
    # tone: i2 has an N/A and is dropped listwise from the ICC; alpha keeps it
    tone = [[4, 4, 5], [2, math.nan, 1], [5, 5, 5], [1, 1, 1]]
    assert rv.questions["tone"].icc.value == pytest.approx(icc(tone, form="ICC(2,1)").value)
    assert rv.questions["tone"].icc.n_items == 3
    assert rv.questions["tone"].alpha.value == pytest.approx(
        krippendorff_alpha(tone, "interval").value)
    resolved = [[1, 1, 0], [1, 1, 1], [1, 1, 1], [0, 0, 0]]
    assert rv.questions["resolved"].alpha.value == pytest.approx(
        krippendorff_alpha(resolved, "ordinal").value)
    eff = effectiveness(session)
    assert eff.on_total and eff.anchor.value == pytest.approx(rv.icc.value)


# ------------------------------------------------------------------ resolutions, new version


def test_resolutions_per_pair_written_and_read_back(store: SessionStore,
                                                    tmp_path: Path) -> None:
    session, fac, _ = in_review(store, tmp_path)
    with pytest.raises(SessionError, match=r"name the question"):
        session.resolve_item("i1", fac, consensus="pass")
    with pytest.raises(SessionError, match=r"cannot be N/A"):
        session.resolve_item("i2", fac, criterion="tone", consensus="NA")
    with pytest.raises(SessionError, match=r"'maybe' is not one of fail < pass"):
        session.resolve_item("i1", fac, criterion="resolved", consensus="maybe")
    r = session.resolve_item("i1", fac, criterion="resolved", consensus="pass",
                             rationale="the refund was issued")
    assert (r.criterion, r.consensus) == ("resolved", "pass")
    session.resolve_item("i1", fac, criterion="tone", consensus=4)
    session.resolve_item("i2", fac, criterion="greeted", consensus="no", rationale="no hello")
    with pytest.raises(SessionError, match=r"flagged \(item, question\) pair\(s\) without a "
                                           r"resolution: i2 / tone"):
        session.mark_resolved(fac)
    session.resolve_item("i2", fac, criterion="tone", note="discuss the rubric")  # no score
    session.resolve_item("i2", fac, criterion="tone", consensus=1.5, note="lukewarm")  # replaces
    assert set(session.pair_resolutions()) == {("i1", "resolved"), ("i1", "tone"),
                                               ("i2", "greeted"), ("i2", "tone")}
    assert session.resolutions() == {}  # the single-criterion view
    path = session.mark_resolved(fac)
    assert path.name == "qa.v2.jsonl"
    card = load_scorecard(path)  # a valid scorecard
    assert card.meta.version == 2 and card.meta.parent == "qa.jsonl"
    assert card.criterion_ids == ["greeted", "tone", "resolved"]
    i1, i2, i3 = card.item("i1"), card.item("i2"), card.item("i3")
    assert i1.consensus == {"resolved": "pass", "tone": 4.0}
    assert i1.rationale == {"greeted": "prior note", "tone": None,
                            "resolved": "the refund was issued"}
    assert i2.consensus == {"greeted": "no", "tone": 1.5}
    assert i3.consensus == {} and i3.rationale == "prior note"  # untouched
    sid = session.id
    assert i2.ratings["tone"][rater_id(sid, "bob")] == "NA"
    assert i1.ratings["resolved"][rater_id(sid, "cy")] == "fail"
    assert i1.ratings["tone"]["r1"] == 3.0  # the set's own raters are kept
    # each criterion's view carries the consensus (a label as its code)
    assert {it.id: it.consensus for it in card.criterion("resolved").items}["i1"] == 1.0
    assert {it.id: it.consensus for it in card.criterion("greeted").items}["i2"] == 0.0
    log = calibration_log(session)
    assert "| i1 | resolved | pass | the refund was issued |" in log
    assert "| question | scale | flagged | N/A | ICC(2,1) | Krippendorff's alpha |" in log


# ------------------------------------------------------------------ participants left out


def single_set(tmp_path: Path) -> Path:
    header = {"judgecal_anchor_set": 1, "name": "tiny", "criterion": "helpfulness",
              "rubric": "Score 1-5.", "scale": {"min": 1, "max": 5}, "consensus": "mean"}
    lines = [json.dumps(header)] + [json.dumps({
        "id": f"i{k}", "input": f"q{k}", "output": f"a{k}", "ratings": {"r1": 3},
        "split": "calibration"}) for k in range(4)]
    p = tmp_path / "tiny.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def test_participant_icc_on_those_who_submitted(store: SessionStore, tmp_path: Path) -> None:
    session, fac, tok = started(store, single_set(tmp_path))
    ann, bob = [1, 2, 4, 5], [2, 2, 5, 4]
    for p, vals in (("ann", ann), ("bob", bob)):
        session.score(p, tok[p], {f"i{k}": v for k, v in enumerate(vals)})
        session.submit(p, tok[p])
    session.score("cy", tok["cy"], {"i0": 3})  # one score, never submitted
    # with cy in, listwise deletion drops every item (today's "undefined")
    assert icc([[a, b, math.nan] for a, b in zip(ann, bob, strict=True)]).value is None
    session.begin_review(fac, force=True)
    rv = review(session)
    assert rv.left_out == ["cy"] and rv.agreement_raters == ["ann", "bob"]
    expected = icc([[a, b] for a, b in zip(ann, bob, strict=True)], form="ICC(2,1)")
    assert expected.value is not None
    assert rv.icc.value == pytest.approx(expected.value)
    assert (rv.icc.n_items, rv.icc.n_raters) == (4, 2)
    assert rv.items[0].scores["cy"] in (3.0, None)  # cy's scores are still shown
    assert effectiveness(session).anchor.value == pytest.approx(expected.value)
    log = calibration_log(session)
    assert "computed on the participants who submitted; left out: cy." in log


def test_scorecard_icc_leaves_out_who_did_not_submit(store: SessionStore,
                                                     tmp_path: Path) -> None:
    session, fac, tok = started(store, make_card(tmp_path))
    for p in ("ann", "bob"):
        session.score(p, tok[p], TABLE[p])
        session.submit(p, tok[p])
    session.begin_review(fac, force=True)
    rv = review(session)
    assert rv.left_out == ["cy"]
    totals = [[0.875, 0.875], [0.375, 1.0], [1.0, 1.0], [0.0, 0.0]]
    assert rv.icc.value == pytest.approx(icc(totals, form="ICC(2,1)").value)
    assert rv.questions["total"].icc.n_raters == 2


# ------------------------------------------------------------------ the web


def _csrf(page: str) -> str:
    m = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert m
    return m.group(1)


def test_web_scorecard_form_review_and_resolution(store: SessionStore, tmp_path: Path) -> None:
    session, fac, tok = started(store, make_card(tmp_path, n=2), people=("ann", "bob"))
    app = create_app(store, session.id)
    client = app.test_client()
    page = client.get(f"/p/{tok['ann']}").get_data(as_text=True)
    # the item's input and output beside the questions; each question its own controls
    assert "customer question 1" in page and "agent reply 2" in page
    assert len(re.findall(r'type="radio"[^>]*name="c-greeted:i1"', page)) == 2  # no, yes
    assert len(re.findall(r'type="radio"[^>]*name="c-tone:i1"', page)) == 6  # 1..5 and N/A
    assert len(re.findall(r'type="radio"[^>]*name="c-resolved:i1"', page)) == 2  # no N/A
    assert 'id="na-tone-i1"' in page and 'id="na-greeted-i1"' not in page
    token_csrf = _csrf(page)
    bad = client.post(f"/p/{tok['ann']}", data={
        "csrf": token_csrf, "c-greeted:i1": "maybe", "c-resolved:i1": "NA", "c-mood:i1": "1",
        "action": "save"})
    assert bad.status_code == 400
    errors = bad.get_data(as_text=True)
    assert "not one of no &lt; yes" in errors and "N/A is not allowed" in errors
    assert "unknown field" in errors
    assert session.scores(1)["ann"] == {}
    good = {"c-greeted:i1": "yes", "c-tone:i1": "4", "c-resolved:i1": "pass",
            "c-greeted:i2": "no", "c-tone:i2": "NA", "c-resolved:i2": "pass"}
    r = client.post(f"/p/{tok['ann']}", data={"csrf": token_csrf, "action": "submit", **good})
    assert r.status_code == 303
    assert session.scores(1)["ann"]["i2"] == {"greeted": "no", "tone": "NA",
                                              "resolved": "pass"}
    # blind: bob's page holds none of ann's values
    bob_page = client.get(f"/p/{tok['bob']}").get_data(as_text=True)
    assert " checked" not in bob_page and "round1-scores" not in bob_page
    bob_csrf = _csrf(bob_page)
    r = client.post(f"/p/{tok['bob']}", data={
        "csrf": bob_csrf, "action": "submit", **good, "c-resolved:i1": "fail"})
    assert r.status_code == 303
    session.begin_review(fac)
    fpage = client.get(f"/f/{fac}").get_data(as_text=True)
    assert 'id="row-i1-resolved"' in fpage and 'id="question-total"' in fpage
    assert 'class="flagged" id="row-i1-resolved"' in fpage
    assert 'id="resolve-i1-resolved"' in fpage and 'id="resolve-i1-tone"' not in fpage
    assert '<option value="pass"' in fpage and "agent reply 1" in fpage
    r = client.post(f"/f/{fac}/resolve", data={
        "csrf": _csrf(fpage), "item": "i1", "criterion": "resolved", "consensus": "pass",
        "rationale": "refund issued", "action": "resolve"})
    assert r.status_code == 303
    res = session.pair_resolutions()[("i1", "resolved")]
    assert (res.consensus, res.rationale) == ("pass", "refund issued")
    r = client.post(f"/f/{fac}/resolve", data={
        "csrf": _csrf(fpage), "item": "i1", "criterion": "resolved", "consensus": "maybe",
        "action": "resolve"})
    assert r.status_code == 400 and "not one of fail &lt; pass" in r.get_data(as_text=True)
    # after review, everyone's values per (item, question)
    board = client.get(f"/p/{tok['bob']}").get_data(as_text=True)
    assert re.search(r'id="r1-row-i1-resolved">.*?<td>pass</td>\s*<td>fail</td>', board, re.S)
    r = client.post(f"/f/{fac}/finish", data={"csrf": _csrf(fpage), "action": "finish"})
    assert r.status_code == 303
    assert load_scorecard(tmp_path / "qa.v2.jsonl").item("i1").consensus == {"resolved": "pass"}


# ------------------------------------------------------------------ the CLI


def test_cli_scorecard_session(tmp_path: Path) -> None:
    path = make_card(tmp_path, n=2)
    state = str(tmp_path / "st")

    def run(*args: str, code: int = 0) -> str:
        res = CliRunner().invoke(cli_app, ["session", *args, "--state-dir", state])
        assert res.exit_code == code, res.output
        return res.output

    out = run("create", str(path), "-p", "ann", "-p", "bob", "--threshold-share", "0.2")
    assert "2 items x 3 questions (greeted, tone, resolved)" in out
    sid = re.search(r"created session (\S+)", out).group(1)
    fac = re.search(r"facilitator token: (\S+)", out).group(1)
    run("create", str(path), "-p", "ann", "-p", "bob", "--threshold", "1", code=2)
    tok = {p: re.search(r"token for \S+: (\S+)", run("invite", sid, p, "--facilitator-token",
                                                      fac)).group(1) for p in ("ann", "bob")}
    run("start", sid, "--facilitator-token", fac)
    out = run("score", sid, "--participant", "ann", "--token", tok["ann"], "i1=4", code=2)
    assert "ITEM:QUESTION=VALUE" in out
    csv = tmp_path / "ann.csv"
    csv.write_text("item_id,criterion,score\ni2,greeted,no\ni2,tone,NA\ni2,resolved,pass\n",
                   encoding="utf-8")
    out = run("score", sid, "--participant", "ann", "--token", tok["ann"], "i1:greeted=yes",
              "i1:tone=4", "i1:resolved=pass", "--csv", str(csv), "--submit")
    assert "6/6 (item, question) pairs scored" in out
    run("score", sid, "--participant", "bob", "--token", tok["bob"], "i1:greeted=yes",
        "i1:tone=2", "i1:resolved=fail", "i2:greeted=no", "i2:tone=NA", "i2:resolved=pass",
        "--submit")
    out = run("review", sid, "--facilitator-token", fac)
    assert "question" in out and "2 flagged" in out
    run("resolve", sid, "i1", "--score", "3", "--facilitator-token", fac, code=2)
    run("resolve", sid, "i1", "-q", "tone", "--score", "3", "--facilitator-token", fac)
    run("resolve", sid, "i1", "-q", "resolved", "--score", "pass", "--rationale", "ok",
        "--finish", "--facilitator-token", fac)
    card = load_scorecard(tmp_path / "qa.v2.jsonl")
    assert card.item("i1").consensus == {"tone": 3.0, "resolved": "pass"}


# ------------------------------------------------------------------ the store


def test_version_1_store_is_migrated(tmp_path: Path) -> None:
    """A store written before scorecards (scores keyed by item only) opens and reads back."""
    db = tmp_path / "old.sqlite"
    store = SessionStore(db)
    session, fac, tok = started(store, single_set(tmp_path), people=("ann", "bob"))
    session.score("ann", tok["ann"], {"i0": 2, "i1": "4"})
    store.close()
    # rebuild the tables as version 1 had them
    conn = sqlite3.connect(db)
    conn.executescript("""
        CREATE TABLE s1 AS SELECT session_id, round, pid, item_id, score, na, at FROM scores;
        DROP TABLE scores;
        CREATE TABLE scores (session_id TEXT NOT NULL, round INTEGER NOT NULL,
            pid TEXT NOT NULL, item_id TEXT NOT NULL, score REAL,
            na INTEGER NOT NULL DEFAULT 0, at REAL NOT NULL,
            PRIMARY KEY (session_id, round, pid, item_id));
        INSERT INTO scores SELECT * FROM s1; DROP TABLE s1;
        DROP TABLE resolutions;
        CREATE TABLE resolutions (session_id TEXT NOT NULL, item_id TEXT NOT NULL,
            consensus REAL, rationale TEXT, note TEXT, at REAL NOT NULL,
            PRIMARY KEY (session_id, item_id));
        ALTER TABLE sessions DROP COLUMN criteria;
        ALTER TABLE sessions DROP COLUMN threshold_share;
        UPDATE meta SET v = '1' WHERE k = 'schema_version';
    """)
    conn.close()
    with SessionStore(db) as again:
        s = again.get(session.id)
        assert s.scores(1) == {"ann": {"i0": 2.0, "i1": 4.0}, "bob": {}}
        assert not s.info.is_scorecard
        s.score("bob", tok["bob"], {"i0": 3})
        version = again._connect().execute(
            "SELECT v FROM meta WHERE k = 'schema_version'").fetchone()[0]
        assert version == "3"  # then migrated on to version 3 (tests/test_session_visibility.py)


def test_rescore_round_on_a_scorecard(store: SessionStore, tmp_path: Path) -> None:
    session, fac, tok = in_review(store, tmp_path)
    session.open_rescore(["i1"], fac)
    with pytest.raises(SessionError, match=r"not scored 3 \(item, question\) pair"):
        session.submit("ann", tok["ann"], round=2)
    for p in TABLE:
        session.score(p, tok[p], {"i1": {"greeted": "yes", "tone": 4, "resolved": "pass"}},
                      round=2)
        session.submit(p, tok[p], round=2)
    # the final round: i1 now 0.875 for everyone, the other items as in round 1
    final = [[0.875] * 3, [0.375, 1.0, 0.25], [1.0] * 3, [0.0] * 3]
    eff = effectiveness(session)
    assert eff.anchor.value == pytest.approx(icc(final, form="ICC(2,1)").value)
    assert "on the scorecard total" in eff.summary()[0]
    assert session.final_scores()["cy"]["i1"]["resolved"] == "pass"
    assert session.scores(1)["cy"]["i1"]["resolved"] == "fail"  # round 1 kept


def test_label_question_rules() -> None:
    from harness.anchors import Criterion
    from harness.sessions import _card

    kind = Criterion.model_validate({
        "id": "kind", "label": "Kind", "rubric": "r", "weight": 0,
        "scale": {"levels": ["billing", "tech", "other"], "ordered": False}})
    three = Criterion.model_validate({
        "id": "done", "label": "Done?", "rubric": "r",
        "scale": {"levels": ["no", "partial", "yes"]}})
    pct = Criterion.model_validate({
        "id": "pct", "label": "Percent", "rubric": "r", "scale": {"min": 0, "max": 100}})
    # unordered labels: flagged on any second label; the outlier is the one the others
    # (all alike) do not share
    assert _card.is_flagged(kind, [0.0, 0.0, 1.0], None, 0.0)
    assert not _card.is_flagged(kind, [2.0, 2.0], None, 0.0)
    assert _card.outliers(kind, {"a": 0.0, "b": 0.0, "c": 1.0}, 2.0) == ["c"]
    assert _card.outliers(kind, {"a": 0.0, "b": 1.0, "c": 2.0}, 2.0) == []
    # ordered labels: more than half the range from the others' median
    assert _card.outliers(three, {"a": 0.0, "b": 2.0, "c": 2.0}, 2.0) == ["a"]
    assert _card.outliers(three, {"a": 1.0, "b": 2.0, "c": 2.0}, 2.0) == []
    assert _card.threshold(three, 0.1) == pytest.approx(0.2)
    # controls: radio buttons for levels and short integer scales, a number field otherwise
    assert _card.points(three) == [("no", "no"), ("partial", "partial"), ("yes", "yes")]
    assert _card.points(pct) is None
    assert _card.encode(three, "partial", "x") == 1.0
    assert _card.decode(three, 2.0) == "yes"
