"""Sessions as the QA platforms run them: names, due dates, evaluation references,
visibility rules, observers, prior reviews imported as round 1, and the v2 -> v3 store."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app as cli_app
from harness.sessions import (
    SessionError,
    SessionStore,
    calibration_log,
    format_due,
    parse_due,
    review,
    scores_visible_to,
    scores_visible_to_observer,
)
from harness.sessions._web import create_app


def small_set(tmp_path: Path, n: int = 3) -> Path:
    header = {"judgecal_anchor_set": 1, "name": "tiny", "criterion": "helpfulness",
              "rubric": "Score 1-5.", "scale": {"min": 1, "max": 5, "labels": None},
              "consensus": "mean"}
    items = [{"id": f"i{k}", "input": f"q{k}", "output": f"a{k}", "split": "calibration",
              "ratings": {"r1": 3, "r2": 3}} for k in range(n)]
    p = tmp_path / "tiny.jsonl"
    p.write_text("\n".join(json.dumps(o) for o in [header, *items]) + "\n", encoding="utf-8")
    return p


CRITERIA = [
    {"id": "greeted", "label": "Greeted?", "rubric": "yes when it greets",
     "scale": {"levels": ["no", "yes"]}, "pass_mark": "yes"},
    {"id": "tone", "label": "Tone", "rubric": "1 rude .. 5 warm", "scale": {"min": 1, "max": 5},
     "na_allowed": True},
]


def card_set(tmp_path: Path) -> Path:
    header = {"judgecal_anchor_set": 1, "name": "support", "criteria": CRITERIA,
              "consensus": "mean"}
    items = [{"id": f"c{k}", "input": f"q{k}", "output": f"a{k}", "split": "calibration",
              "ratings": {"greeted": {"r1": "yes"}, "tone": {"r1": 4}}} for k in (1, 2)]
    p = tmp_path / "support.jsonl"
    p.write_text("\n".join(json.dumps(o) for o in [header, *items]) + "\n", encoding="utf-8")
    return p


DUE = "2025-07-01"
DUE_TS = datetime(2025, 7, 1, 23, 59, 59, tzinfo=UTC).timestamp()


class Clock:
    """An injectable clock: tests move it instead of sleeping."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(DUE_TS - 3600)


@pytest.fixture
def store(tmp_path: Path, clock: Clock):
    s = SessionStore(tmp_path / "state", clock=clock)
    yield s
    s.close()


def started(store: SessionStore, path: Path, people=("ann", "bob", "cy"), **kw):
    session, fac = store.create(path, list(people), **kw)
    tokens = {p: session.invite(p, fac) for p in people}
    session.start_scoring(fac)
    return session, fac, tokens


def client_for(store: SessionStore, session):
    app = create_app(store, session.id)
    app.config["TESTING"] = True
    return app.test_client()


def csrf(client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    return re.search(r'name="csrf" value="([0-9a-f]+)"', page.get_data(as_text=True)).group(1)


# ------------------------------------------------------------------ name, due date, refs


def test_parse_due() -> None:
    assert parse_due(DUE) == DUE_TS
    assert format_due(DUE_TS) == "2025-07-01 23:59 UTC"
    assert parse_due("2025-07-01T12:00+02:00") == datetime(
        2025, 7, 1, 10, 0, tzinfo=UTC).timestamp()
    assert parse_due("2025-07-01T12:00") == datetime(2025, 7, 1, 12, 0, tzinfo=UTC).timestamp()
    for bad in ("soon", "2025-13-01", "", "1.5"):
        with pytest.raises(SessionError, match="due date"):
            parse_due(bad)


def test_due_date_overdue_and_extension(store: SessionStore, clock: Clock,
                                        tmp_path: Path) -> None:
    session, fac = store.create(small_set(tmp_path), ["ann", "bob"],
                                name="New-hire ramp Q2", due=DUE)
    info = session.info
    assert info.name == "New-hire ramp Q2" and info.due_at == DUE_TS
    assert session.overdue() == [] and not session.is_overdue()
    clock.now = DUE_TS + 1
    assert session.overdue() == ["ann", "bob"]  # in draft nobody has submitted
    tokens = {p: session.invite(p, fac) for p in ("ann", "bob")}
    session.start_scoring(fac)
    session.score("ann", tokens["ann"], {"i0": 1, "i1": 2, "i2": 3})
    session.submit("ann", tokens["ann"])
    assert session.overdue() == ["bob"]
    assert session.overdue(now=DUE_TS - 1) == []
    with pytest.raises(SessionError, match="only be extended"):
        session.extend_due("2025-06-30", fac)
    with pytest.raises(SessionError, match="facilitator token"):
        session.extend_due("2025-07-08", tokens["ann"])
    assert session.extend_due("2025-07-08", fac) == parse_due("2025-07-08")
    assert session.overdue() == []
    clock.now = parse_due("2025-07-09")
    assert session.overdue() == ["bob"]
    session.begin_review(fac, force=True)
    assert session.overdue() == [] and not session.is_overdue()  # round 1 is closed
    with pytest.raises(SessionError, match="state 'review'"):
        session.extend_due("2025-08-01", fac)
    assert "- Scores due: 2025-07-08 23:59 UTC" in calibration_log(session)


def test_due_date_on_the_pages(store: SessionStore, clock: Clock, tmp_path: Path) -> None:
    session, fac, tok = started(store, small_set(tmp_path), ("ann", "bob"), due=DUE)
    session.score("bob", tok["bob"], {"i0": 1, "i1": 2, "i2": 3})
    session.submit("bob", tok["bob"])
    c = client_for(store, session)
    page = c.get(f"/p/{tok['ann']}").get_data(as_text=True)
    assert "Scores due: 2025-07-01 23:59 UTC" in page and "overdue-note" not in page
    assert 'id="overdue"' not in c.get(f"/f/{fac}").get_data(as_text=True)
    clock.now = DUE_TS + 60
    assert 'id="overdue-note"' in c.get(f"/p/{tok['ann']}").get_data(as_text=True)
    assert 'id="overdue-note"' not in c.get(f"/p/{tok['bob']}").get_data(as_text=True)
    fpage = c.get(f"/f/{fac}").get_data(as_text=True)
    assert re.search(r'<p id="overdue">Overdue \(not submitted\): ann</p>', fpage)
    # the facilitator extends it from the page; an earlier date is refused (400)
    r = c.post(f"/f/{fac}/due", data={"csrf": csrf(c, f"/f/{fac}"), "due": "2025-06-01"})
    assert r.status_code == 400 and "only be extended" in r.get_data(as_text=True)
    r = c.post(f"/f/{fac}/due", data={"csrf": csrf(c, f"/f/{fac}"), "due": "2025-07-03"})
    assert r.status_code == 303
    fpage = c.get(f"/f/{fac}?done=due").get_data(as_text=True)
    assert "Scores due: 2025-07-03 23:59 UTC" in fpage and 'id="overdue"' not in fpage
    assert session.info.due_at == parse_due("2025-07-03")


def test_item_references_kept_in_the_log(store: SessionStore, tmp_path: Path) -> None:
    refs = {"i0": {"conversation": "CONV-17", "date": "2025-05-02"},
            "i2": {"conversation": "CONV-<b>", "date": None}}
    session, fac, tok = started(store, small_set(tmp_path), ("ann", "bob"), item_refs=refs)
    info = session.info
    assert info.item_refs["i0"].conversation == "CONV-17"
    assert info.item_refs["i0"].date == "2025-05-02"
    assert info.item_refs["i2"].date is None and "i1" not in info.item_refs
    c = client_for(store, session)
    assert "Evaluation:\nconversation CONV-17, 2025-05-02" in c.get(
        f"/p/{tok['ann']}").get_data(as_text=True)
    for p in ("ann", "bob"):
        session.score(p, tok[p], {"i0": 1, "i1": 2, "i2": 3})
        session.submit(p, tok[p])
    session.begin_review(fac)
    log = calibration_log(session)
    assert "| i0 | CONV-17 | 2025-05-02 |" in log
    assert "| i2 | CONV-&lt;b&gt; | — |" in log
    assert 'id="ref-i0"' in c.get(f"/f/{fac}").get_data(as_text=True)
    with pytest.raises(SessionError, match="not an ISO date"):
        store.create(small_set(tmp_path), ["ann", "bob"], item_refs={"i0": {"date": "May 2"}})
    with pytest.raises(SessionError, match="not a session item"):
        store.create(small_set(tmp_path), ["ann", "bob"], item_ids=["i0"],
                     item_refs={"i1": {"conversation": "x"}})


# ------------------------------------------------------------------ visibility


SCORES = {"ann": {"i0": 1, "i1": 2, "i2": 3}, "bob": {"i0": 5, "i1": 4, "i2": 3},
          "cy": {"i0": 2, "i1": 2, "i2": 2}}


def test_blind_is_the_default(store: SessionStore, tmp_path: Path) -> None:
    session, fac, tok = started(store, small_set(tmp_path))
    assert session.info.visibility == "blind"
    for p in ("ann", "bob"):
        session.score(p, tok[p], SCORES[p])
        session.submit(p, tok[p])
    assert scores_visible_to(session, "ann") == {"ann": SCORES["ann"]}


def test_after_submit_visibility(store: SessionStore, tmp_path: Path) -> None:
    session, fac, tok = started(store, small_set(tmp_path), visibility="after-submit")
    for p in ("ann", "bob", "cy"):
        session.score(p, tok[p], SCORES[p])
    assert scores_visible_to(session, "ann") == {"ann": SCORES["ann"]}
    session.submit("bob", tok["bob"])
    # ann has not submitted: nothing of bob's, although he has
    assert scores_visible_to(session, "ann") == {"ann": SCORES["ann"]}
    assert scores_visible_to(session, "bob") == {"bob": SCORES["bob"]}
    session.submit("ann", tok["ann"])
    # ann sees bob (submitted), never cy's saved but unsubmitted scores
    assert scores_visible_to(session, "ann") == {"ann": SCORES["ann"], "bob": SCORES["bob"]}
    assert scores_visible_to(session, "cy") == {"cy": SCORES["cy"]}
    session.begin_review(fac, force=True)
    assert scores_visible_to(session, "cy") == SCORES
    with pytest.raises(SessionError, match="visibility must be one of"):
        store.create(small_set(tmp_path), ["ann", "bob"], visibility="open")


def test_after_submit_on_the_participant_page(store: SessionStore, tmp_path: Path) -> None:
    session, fac, tok = started(store, small_set(tmp_path), visibility="after-submit")
    c = client_for(store, session)
    for p in ("bob", "cy"):
        session.score(p, tok[p], SCORES[p])
    session.submit("bob", tok["bob"])
    page = c.get(f"/p/{tok['ann']}").get_data(as_text=True)
    assert 'id="round1-scores"' not in page and ">bob" not in page
    data = {"csrf": csrf(c, f"/p/{tok['ann']}"), "action": "submit",
            **{f"score-{k}": str(v) for k, v in SCORES["ann"].items()}}
    assert c.post(f"/p/{tok['ann']}", data=data).status_code == 303
    page = c.get(f"/p/{tok['ann']}").get_data(as_text=True)
    assert 'id="async-note"' in page
    row = re.search(r'<tr id="r1-row-i0">(.*?)</tr>', page, re.S).group(1)
    assert re.findall(r"<td>([^<]*)</td>", row) == ["1", "5"]  # ann (you), bob; not cy
    assert re.findall(r'<th scope="col">\s*([^<]*?)\s*</th>',
                      page.split('id="round1-scores"')[1].split("</thead>")[0]) == [
        "item", "ann (you)", "bob"]


# ------------------------------------------------------------------ observers


def test_observers_see_by_their_rule(store: SessionStore, tmp_path: Path) -> None:
    session, fac, tok = started(store, small_set(tmp_path))
    lead = session.add_observer(("lead", "Lee Lead"), fac, sees="always")
    mgr = session.add_observer("mgr", fac, sees="submitted")
    assert session.identify(lead) == ("observer", "lead")
    assert [(o.id, o.name, o.sees) for o in session.info.observers] == [
        ("lead", "Lee Lead", "always"), ("mgr", "mgr", "submitted")]
    session.score("ann", tok["ann"], SCORES["ann"])
    session.score("bob", tok["bob"], SCORES["bob"])
    session.submit("bob", tok["bob"])
    assert scores_visible_to_observer(session, "lead") == {
        "ann": SCORES["ann"], "bob": SCORES["bob"], "cy": {}}
    assert scores_visible_to_observer(session, "mgr") == {"bob": SCORES["bob"]}
    c = client_for(store, session)
    page = c.get(f"/o/{mgr}").get_data(as_text=True)
    row = re.search(r'<tr id="r1-row-i0">(.*?)</tr>', page, re.S).group(1)
    assert re.findall(r"<td>([^<]*)</td>", row) == ["5"]
    assert "<form" not in page
    page = c.get(f"/o/{lead}").get_data(as_text=True)
    row = re.search(r'<tr id="r1-row-i0">(.*?)</tr>', page, re.S).group(1)
    assert re.findall(r"<td>([^<]*)</td>", row) == ["1", "5", "—"]
    with pytest.raises(SessionError, match="an observer sees"):
        session.add_observer("x", fac, sees="never")
    with pytest.raises(SessionError, match="is a participant"):
        session.add_observer("ann", fac)


def test_observer_page_before_anyone_submits(store: SessionStore, tmp_path: Path) -> None:
    session, fac, tok = started(store, small_set(tmp_path))
    mgr = session.add_observer("mgr", fac, sees="submitted")
    session.score("ann", tok["ann"], SCORES["ann"])
    c = client_for(store, session)
    resp = c.get(f"/o/{mgr}")
    assert resp.headers["Content-Security-Policy"] == "default-src 'self'"
    page = resp.get_data(as_text=True)
    assert 'id="no-scores"' in page and 'id="round1-scores"' not in page
    assert c.get(f"/o/{mgr}", headers={"Host": "evil.example"}).status_code == 400


def test_every_state_change_refuses_an_observer_token(store: SessionStore,
                                                      tmp_path: Path) -> None:
    path = small_set(tmp_path)
    session, fac = store.create(path, ["ann", "bob"])
    obs = session.add_observer("lead", fac)
    fac_msg = "facilitator token"

    def refused(call, match: str = fac_msg) -> None:
        before = (session.info, session.scores(1), session.scores(2), session.notes(),
                  session.pair_resolutions())
        with pytest.raises(SessionError, match=match):
            call()
        assert (session.info, session.scores(1), session.scores(2), session.notes(),
                session.pair_resolutions()) == before

    # draft
    refused(lambda: session.invite("ann", obs))
    refused(lambda: session.add_observer("boss", obs))
    refused(lambda: session.extend_due(DUE, obs))
    refused(lambda: session.import_reviews({"rev": {"i0": 1, "i1": 1, "i2": 1}}, obs))
    refused(lambda: session.add_note("a note", obs))
    tok = {p: session.invite(p, fac) for p in ("ann", "bob")}
    refused(lambda: session.start_scoring(obs))
    session.start_scoring(fac)
    # scoring: the observer token is no participant's
    refused(lambda: session.score("ann", obs, {"i0": 1}), "wrong or missing token")
    refused(lambda: session.score("lead", obs, {"i0": 1}), "not a participant")
    session.score("ann", tok["ann"], SCORES["ann"])
    refused(lambda: session.submit("ann", obs), "wrong or missing token")
    for p in ("ann", "bob"):
        session.score(p, tok[p], SCORES[p])
        session.submit(p, tok[p])
    refused(lambda: session.begin_review(obs))
    session.begin_review(fac)
    # review
    refused(lambda: session.resolve_item("i0", obs, consensus=3))
    refused(lambda: session.add_note("a note", obs))
    refused(lambda: session.open_rescore(["i0"], obs))
    refused(lambda: session.mark_resolved(obs))
    session.open_rescore(["i0"], fac)
    refused(lambda: session.score("ann", obs, {"i0": 2}, round=2), "wrong or missing token")
    refused(lambda: session.submit("ann", obs, round=2), "wrong or missing token")
    for p in ("ann", "bob"):
        session.score(p, tok[p], {"i0": 3}, round=2)
        session.submit(p, tok[p], round=2)
    for item in ("i0", "i1"):  # the flagged ones
        session.resolve_item(item, fac, consensus=3)
    session.mark_resolved(fac)
    refused(lambda: session.close(obs))
    assert session.state == "resolved"


WRITE_ROUTES = ["/p/{t}", "/p/{t}/round2", "/f/{t}/review", "/f/{t}/resolve", "/f/{t}/note",
                "/f/{t}/rescore", "/f/{t}/finish", "/f/{t}/close", "/f/{t}/due"]


@pytest.mark.parametrize("state", ["scoring", "review"])
def test_every_post_route_refuses_an_observer_token(store: SessionStore, tmp_path: Path,
                                                    state: str) -> None:
    session, fac, tok = started(store, small_set(tmp_path), ("ann", "bob"))
    obs = session.add_observer("lead", fac)
    if state == "review":
        for p in ("ann", "bob"):
            session.score(p, tok[p], SCORES[p])
            session.submit(p, tok[p])
        session.begin_review(fac)
        session.open_rescore(["i0"], fac)
    c = client_for(store, session)
    # the observer's page carries no CSRF field; even the facilitator's would not do
    fac_csrf = csrf(c, f"/f/{fac}")
    before = (session.info, session.scores(1), session.scores(2), session.notes(),
              session.pair_resolutions())
    form = {"csrf": fac_csrf, "action": "submit", "score-i0": "2", "item": "i0",
            "consensus": "3", "text": "note", "force": "1", "due": "2030-01-01"}
    for route in WRITE_ROUTES:
        assert c.post(route.format(t=obs), data=form).status_code == 403, route
    assert c.post(f"/o/{obs}", data=form).status_code == 405
    for route in ("/f/{t}", "/f/{t}/log", "/f/{t}/insights", "/p/{t}"):
        assert c.get(route.format(t=obs)).status_code == 403, route
    assert (session.info, session.scores(1), session.scores(2), session.notes(),
            session.pair_resolutions()) == before
    # and no other token opens the observer page
    assert c.get(f"/o/{fac}").status_code == 403
    assert c.get(f"/o/{tok['ann']}").status_code == 403


# ------------------------------------------------------------------ prior reviews


def test_prior_reviews_as_submitted_round_1(store: SessionStore, tmp_path: Path) -> None:
    path = small_set(tmp_path)
    session, fac = store.create(path, ["ann", "bob"],
                                prior_reviews={"rev": {"i0": 4, "i1": "2", "i2": 3}})
    info = session.info
    assert [(p.id, p.submitted, p.imported, p.invited) for p in info.participants] == [
        ("ann", False, False, False), ("bob", False, False, False), ("rev", True, True, False)]
    assert session.scores(1)["rev"] == {"i0": 4.0, "i1": 2.0, "i2": 3.0}
    tok = {p: session.invite(p, fac) for p in ("ann", "bob")}
    session.start_scoring(fac)  # rev needs no token: round 1 is submitted
    with pytest.raises(SessionError, match="already submitted"):
        session.score("rev", session.invite("rev", fac), {"i0": 1})
    for p in ("ann", "bob"):
        session.score(p, tok[p], SCORES[p])
        session.submit(p, tok[p])
    session.begin_review(fac)
    row = next(it for it in review(session).items if it.item_id == "i0")
    assert row.scores == {"ann": 1.0, "bob": 5.0, "rev": 4.0}
    assert "| rev | rev | yes (a prior review, imported) |" in calibration_log(session)


def test_prior_reviews_refused_when_incomplete_or_off_scale(store: SessionStore,
                                                            tmp_path: Path) -> None:
    path = small_set(tmp_path)
    with pytest.raises(SessionError, match=r"does not cover 2 item\(s\) of the session: i1, i2"):
        store.create(path, ["ann", "bob"], prior_reviews={"rev": {"i0": 4}})
    with pytest.raises(SessionError, match=r"^r\.csv:3: prior review of 'rev': .*off the scale"):
        store.create(path, ["ann", "bob"], prior_reviews={"rev": {"i0": 4, "i1": 9, "i2": 1}},
                     review_sources={("rev", "i1", ""): "r.csv:3"})
    assert store.list() == []  # nothing was created


def test_import_reviews_in_scoring(store: SessionStore, tmp_path: Path) -> None:
    session, fac, tok = started(store, small_set(tmp_path))
    session.score("cy", tok["cy"], {"i0": 1})  # saved, not submitted: replaced
    assert session.import_reviews({"cy": {"i0": 2, "i1": 2, "i2": 2},
                                   "rev": {"i0": 5, "i1": 5, "i2": 5}}, fac) == ["cy", "rev"]
    info = session.info
    assert {p.id: (p.submitted, p.imported) for p in info.participants} == {
        "ann": (False, False), "bob": (False, False), "cy": (True, True), "rev": (True, True)}
    assert session.scores(1)["cy"] == {"i0": 2.0, "i1": 2.0, "i2": 2.0}
    session.score("ann", tok["ann"], SCORES["ann"])
    session.submit("ann", tok["ann"])
    with pytest.raises(SessionError, match="already submitted round 1"):
        session.import_reviews({"ann": {"i0": 2, "i1": 2, "i2": 2}}, fac)


def test_import_reviews_cli_on_a_scorecard(tmp_path: Path) -> None:
    state = str(tmp_path / "state")
    card = card_set(tmp_path)

    def run(*args: str, code: int = 0) -> str:
        res = CliRunner().invoke(cli_app, [*args, "--state-dir", state])
        assert res.exit_code == code, res.output
        return res.output

    bad = tmp_path / "bad.csv"
    bad.write_text("item_id,reviewer,criterion,score\nc1,rev,greeted,yes\nc1,rev,tone,4\n"
                   "c2,rev,greeted,maybe\nc2,rev,tone,NA\n", encoding="utf-8")
    outp = run("session", "create", str(card), "-p", "ann", "-p", "bob",
               "--import-reviews", str(bad), code=2)
    assert f"{bad}:4: prior review of 'rev'" in outp and "maybe" in outp
    assert json.loads(run("session", "list", "--json")) == []  # nothing written
    dup = tmp_path / "dup.csv"
    dup.write_text("item_id,reviewer,criterion,score\nc1,rev,greeted,yes\nc1,rev,greeted,no\n",
                   encoding="utf-8")
    outp = run("session", "create", str(card), "-p", "ann", "-p", "bob",
               "--import-reviews", str(dup), code=2)
    assert f"{dup}:3: a second review" in outp

    outp = run("session", "create", str(card), "-p", "ann", "-p", "bob", "--name",
               "New-hire ramp Q2", "--due", "2000-01-01", "--visibility", "after-submit")
    sid = re.search(r"created session (\S+)", outp).group(1)
    fac = re.search(r"facilitator token: (\S+)", outp).group(1)
    assert "visibility before review: after-submit; scores due 2000-01-01 23:59 UTC" in outp
    good = tmp_path / "good.csv"
    good.write_text("item_id,reviewer,criterion,score\nc1,rev,greeted,yes\nc1,rev,tone,4\n"
                    "c2,rev,greeted,no\nc2,rev,tone,NA\n", encoding="utf-8")
    assert "imported as submitted round 1: rev" in run(
        "session", "import", sid, str(good), "--facilitator-token", fac)
    with SessionStore(state) as s:
        assert s.get(sid).scores(1)["rev"] == {"c1": {"greeted": "yes", "tone": 4.0},
                                               "c2": {"greeted": "no", "tone": "NA"}}
    # the due date is long past: everyone who has not submitted is overdue
    doc = json.loads(run("session", "list", "--json"))[0]
    assert doc["name"] == "New-hire ramp Q2" and doc["visibility"] == "after-submit"
    assert doc["due"] == "2000-01-01 23:59 UTC" and doc["overdue"] == ["ann", "bob"]
    assert "overdue (not submitted): ann, bob" in run("session", "due", sid)
    run("session", "due", sid, "--extend", "2099-01-01", "--facilitator-token", fac)
    outp = run("session", "due", sid)
    assert "scores due 2099-01-01 23:59 UTC" in outp and "overdue" not in outp
    outp = run("session", "due", sid, "--extend", "2098-01-01", "--facilitator-token", fac,
               code=2)
    assert "only be extended" in outp
    outp = run("session", "observer", sid, "lead=Lee", "--sees", "submitted",
               "--facilitator-token", fac)
    obs = re.search(r"observer token for lead: (\S+)", outp).group(1)
    with SessionStore(state) as s:
        assert s.get(sid).identify(obs) == ("observer", "lead")
    run("session", "observer", sid, "boss", "--sees", "later", "--facilitator-token", fac,
        code=2)


def test_refs_cli(tmp_path: Path) -> None:
    state = str(tmp_path / "state")
    path = small_set(tmp_path)
    refs = tmp_path / "refs.csv"
    refs.write_text("item_id,conversation_id,date\ni0,CONV-1,2025-05-02\ni1,CONV-2,May\n",
                    encoding="utf-8")
    res = CliRunner().invoke(cli_app, ["session", "create", str(path), "-p", "ann", "-p",
                                       "bob", "--refs", str(refs), "--state-dir", state])
    assert res.exit_code == 2 and f"{refs}:3: date 'May' is not an ISO date" in res.output
    refs.write_text("item_id,conversation_id,date\ni0,CONV-1,2025-05-02\ni1,CONV-2,\n",
                    encoding="utf-8")
    res = CliRunner().invoke(cli_app, ["session", "create", str(path), "-p", "ann", "-p",
                                       "bob", "--refs", str(refs), "--state-dir", state])
    assert res.exit_code == 0, res.output
    sid = re.search(r"created session (\S+)", res.output).group(1)
    with SessionStore(state) as s:
        r = s.get(sid).info.item_refs
    assert (r["i0"].conversation, r["i0"].date, r["i1"].date) == ("CONV-1", "2025-05-02", None)


# ------------------------------------------------------------------ the v2 store


def test_version_2_store_is_migrated(tmp_path: Path) -> None:
    db = tmp_path / "v2.sqlite"
    store = SessionStore(db)
    session, fac, tok = started(store, small_set(tmp_path), ("ann", "bob"))
    session.score("ann", tok["ann"], {"i0": 2})
    store.close()
    conn = sqlite3.connect(db)
    conn.executescript("""
        ALTER TABLE sessions DROP COLUMN due_at;
        ALTER TABLE sessions DROP COLUMN visibility;
        ALTER TABLE sessions DROP COLUMN item_refs;
        ALTER TABLE sessions DROP COLUMN criterion;
        ALTER TABLE participants DROP COLUMN imported_at;
        DROP TABLE observers;
        UPDATE meta SET v = '2' WHERE k = 'schema_version';
    """)
    conn.close()
    with SessionStore(db) as again:
        s = again.get(session.id)
        info = s.info
        assert (info.visibility, info.due_at, info.item_refs, info.observers,
                info.criterion) == ("blind", None, {}, [], None)
        assert s.scores(1) == {"ann": {"i0": 2.0}, "bob": {}}
        assert not any(p.imported for p in info.participants)
        s.score("bob", tok["bob"], {"i0": 3})
        s.extend_due(DUE, fac)
        assert s.add_observer("lead", fac)
        assert again._connect().execute(
            "SELECT v FROM meta WHERE k = 'schema_version'").fetchone()[0] == "3"
    with SessionStore(db) as third:  # opening a migrated store again changes nothing
        assert third.get(session.id).info.due_at == DUE_TS
