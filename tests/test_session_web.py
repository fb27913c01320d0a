"""The session web app (harness.sessions._web) with Flask's test client."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.reports import result_text
from harness.sessions import SessionStore
from harness.sessions._web import create_app


def make_set(tmp_path: Path) -> Path:
    header = {"judgecal_anchor_set": 1, "name": "tiny", "criterion": "helpfulness",
              "rubric": "Score 1-5 for <b>helpfulness</b>.",
              "scale": {"min": 1, "max": 5, "labels": None},
              "consensus": "mean", "na_allowed": True}
    outputs = ["plain answer", "<script>alert('x')</script>", "third", "fourth"]
    lines = [json.dumps(header)]
    for i, o in enumerate(outputs):
        lines.append(json.dumps({"id": f"item{i}", "input": f"question {i}", "output": o,
                                 "ratings": {"r1": 3, "r2": 3}, "split": "calibration"}))
    p = tmp_path / "tiny.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


@pytest.fixture
def env(tmp_path: Path):
    store = SessionStore(tmp_path / "state")
    session, fac = store.create(make_set(tmp_path), [("ann", "Ann A."), ("bob", "Bob B.")],
                                na_items=["item3"])
    tokens = {p: session.invite(p, fac) for p in ("ann", "bob")}
    session.start_scoring(fac)
    app = create_app(store, session.id)
    app.config["TESTING"] = True
    yield app.test_client(), session, fac, tokens
    store.close()


def csrf(client, path: str, headers: dict[str, str] | None = None) -> str:
    page = client.get(path, headers=headers or {})
    assert page.status_code == 200
    m = re.search(r'name="csrf" value="([0-9a-f]+)"', page.get_data(as_text=True))
    assert m
    return m.group(1)


def post_scores(client, token: str, scores: dict[str, str], action: str = "save", **extra):
    data = {"csrf": csrf(client, f"/p/{token}"), "action": action}
    data.update({f"score-{k}": v for k, v in scores.items()})
    data.update(extra)
    return client.post(f"/p/{token}", data=data)


ANN = {"item0": "1", "item1": "2", "item2": "3", "item3": "4"}
BOB = {"item0": "5", "item1": "2", "item2": "3", "item3": "4"}


def test_two_participants_score_and_blindness(env) -> None:
    client, session, _, tok = env
    r = post_scores(client, tok["ann"], {"item0": "1.25"})
    assert r.status_code == 303
    r = post_scores(client, tok["bob"], {"item0": "4.75", "item1": "2"})
    assert r.status_code == 303
    assert session.scores(1) == {"ann": {"item0": 1.25}, "bob": {"item0": 4.75, "item1": 2.0}}
    ann_page = client.get(f"/p/{tok['ann']}").get_data(as_text=True)
    bob_page = client.get(f"/p/{tok['bob']}").get_data(as_text=True)
    assert "Ann A." in ann_page and 'value="1.25"' in ann_page
    assert "4.75" not in ann_page and "Bob B." not in ann_page
    assert "1.25" not in bob_page and "4.75" in bob_page
    assert 'id="round1-scores"' not in ann_page  # nobody's scores side by side before review
    # submit locks
    r = post_scores(client, tok["ann"], {"item0": "1", "item1": "2", "item2": "3"},
                    action="submit", **{"na-item3": "1"})
    assert r.status_code == 303
    assert session.info.participants[0].submitted
    assert session.scores(1)["ann"]["item3"] == "NA"
    page = client.get(f"/p/{tok['ann']}").get_data(as_text=True)
    assert "submitted" in page and "4.75" not in page
    r = client.post(f"/p/{tok['ann']}", data={"csrf": csrf(client, f"/p/{tok['ann']}"),
                                              "score-item0": "5"})
    assert r.status_code == 400
    assert session.scores(1)["ann"]["item0"] == 1.0


def test_headers_and_escaping(env) -> None:
    client, _, fac, tok = env
    r = client.get(f"/p/{tok['ann']}")
    assert r.headers["Content-Security-Policy"] == "default-src 'self'"
    assert r.headers["X-Frame-Options"] == "DENY"
    # not no-referrer: that makes browsers post the pages' own forms with "Origin: null"
    assert r.headers["Referrer-Policy"] == "same-origin"
    body = r.get_data(as_text=True)
    assert "<script>" not in body
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in body
    assert "&lt;b&gt;helpfulness&lt;/b&gt;" in body
    assert 'name="na-item3"' in body and 'name="na-item0"' not in body
    assert "Set-Cookie" not in r.headers


def test_bad_tokens_are_403(env) -> None:
    client, session, fac, tok = env
    for path in ("/p/nope", "/f/nope", f"/p/{fac}", f"/f/{tok['ann']}"):
        r = client.get(path)
        assert r.status_code == 403
        assert r.get_data(as_text=True) == "Forbidden\n"
    # participant token on facilitator-only POSTs
    ann_csrf = csrf(client, f"/p/{tok['ann']}")
    r = client.post(f"/f/{tok['ann']}/review", data={"csrf": ann_csrf, "force": "1"})
    assert r.status_code == 403
    r = client.post(f"/f/{tok['ann']}/resolve", data={"csrf": ann_csrf, "item": "item0",
                                                      "consensus": "3"})
    assert r.status_code == 403
    assert session.state == "scoring"
    r = client.post("/p/nope", data={"csrf": "x", "score-item0": "3"})
    assert r.status_code == 403
    assert session.scores(1) == {"ann": {}, "bob": {}}


def test_csrf_and_origin(env) -> None:
    client, session, fac, tok = env
    t = tok["ann"]
    assert client.post(f"/p/{t}", data={"score-item0": "3"}).status_code in (400, 403)
    assert client.post(f"/p/{t}", data={"csrf": "0" * 64,
                                        "score-item0": "3"}).status_code in (400, 403)
    # another token's CSRF value does not work either
    bob_csrf = csrf(client, f"/p/{tok['bob']}")
    assert client.post(f"/p/{t}", data={"csrf": bob_csrf,
                                        "score-item0": "3"}).status_code in (400, 403)
    good = csrf(client, f"/p/{t}")
    r = client.post(f"/p/{t}", data={"csrf": good, "score-item0": "3"},
                    headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    r = client.post(f"/p/{t}", data={"csrf": good, "score-item0": "3"},
                    headers={"Origin": "null"})
    assert r.status_code == 403
    assert session.scores(1) == {"ann": {}, "bob": {}}
    r = client.post(f"/f/{fac}/review", data={"force": "1"})
    assert r.status_code == 403
    r = client.post(f"/f/{fac}/review", data={"csrf": csrf(client, f"/f/{fac}"), "force": "1"},
                    headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    assert session.state == "scoring"
    # same origin is accepted
    r = client.post(f"/p/{t}", data={"csrf": good, "score-item0": "3"},
                    headers={"Origin": "http://localhost"})
    assert r.status_code == 303
    assert session.scores(1)["ann"] == {"item0": 3.0}


def test_validation_errors_save_nothing(env) -> None:
    client, session, _, tok = env
    t = tok["ann"]
    cases = [
        ({"item0": "3", "item1": "6"}, {}, "off the scale"),
        ({"item0": "3", "item1": "0.5"}, {}, "off the scale"),
        ({"item0": "abc"}, {}, "not a number"),
        ({"item0": "3"}, {"na-item0": "1"}, "N/A is not allowed"),
        ({"item0": "3", "bogus": "2"}, {}, "unknown item"),
    ]
    for scores, extra, msg in cases:
        r = post_scores(client, t, scores, **extra)
        assert r.status_code == 400
        body = r.get_data(as_text=True)
        assert 'id="errors"' in body and msg in body
        assert session.scores(1)["ann"] == {}
    # submitting with items missing shows the store's error and locks nothing
    r = post_scores(client, t, {"item0": "3"}, action="submit")
    body = r.get_data(as_text=True)
    assert r.status_code == 400 and "has not scored" in body
    assert "Saved, but not submitted" in body
    assert not session.info.participants[0].submitted
    assert session.scores(1)["ann"] == {"item0": 3.0}


def test_facilitator_review_flow(env) -> None:
    client, session, fac, tok = env
    page = client.get(f"/f/{fac}").get_data(as_text=True)
    assert "Start the review" in page and 'id="review"' not in page
    assert post_scores(client, tok["ann"], ANN, action="submit").status_code == 303
    # not everyone submitted: refused without force, shown as an error
    r = client.post(f"/f/{fac}/review", data={"csrf": csrf(client, f"/f/{fac}")})
    assert r.status_code == 400 and "not every participant has submitted" in r.get_data(
        as_text=True)
    assert session.state == "scoring"
    assert post_scores(client, tok["bob"], BOB, action="save").status_code == 303
    r = client.post(f"/f/{fac}/review", data={"csrf": csrf(client, f"/f/{fac}"), "force": "1"})
    assert r.status_code == 303
    assert session.state == "review"
    page = client.get(f"/f/{fac}").get_data(as_text=True)
    rows = re.findall(r'<tr class="(flagged|ok)" id="row-([^"]+)"', page)
    assert rows[0] == ("flagged", "item0")
    assert [r[0] for r in rows].count("flagged") == 1
    assert 'id="resolve-item0"' in page and 'id="resolve-item1"' not in page
    row0 = page.split('id="row-item0"')[1].split("</tr>")[0]
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", row0)
    # flag, ann, bob, n, N/A, mean, median, SD, range, share, outliers, resolution
    assert cells == ["⚑", "1", "5", "2", "0", "3.00", "3.00", "2.83", "1–5", "100%", "", "open"]
    # from review on a participant sees everyone's round-1 scores, read-only
    ann_page = client.get(f"/p/{tok['ann']}").get_data(as_text=True)
    assert "Bob B." in ann_page and 'id="round1-scores"' in ann_page
    assert 'id="round1"' not in ann_page
    token = csrf(client, f"/f/{fac}")
    r = client.post(f"/f/{fac}/resolve", data={"csrf": token, "item": "item0",
                                               "consensus": "9"})
    assert r.status_code == 400 and "off the scale" in r.get_data(as_text=True)
    r = client.post(f"/f/{fac}/resolve", data={"csrf": token, "item": "nope",
                                               "consensus": "3"})
    assert r.status_code == 400 and "unknown item" in r.get_data(as_text=True)
    assert session.resolutions() == {}
    r = client.post(f"/f/{fac}/resolve", data={
        "csrf": token, "item": "item0", "consensus": "3",
        "rationale": "<i>split</i> the difference", "note": ""})
    assert r.status_code == 303
    res = session.resolutions()["item0"]
    assert res.consensus == 3.0 and res.rationale == "<i>split</i> the difference"
    page = client.get(f"/f/{fac}").get_data(as_text=True)
    assert "&lt;i&gt;split&lt;/i&gt;" in page and "<i>split" not in page


# ------------------------------------------------------------------ the rest of the session

EVIL = {"Origin": "http://evil.example"}


def fpost(client, fac: str, route: str, headers=None, **data):
    """POST a facilitator form with the right CSRF field."""
    payload = {"csrf": csrf(client, f"/f/{fac}")}
    payload.update(data)
    return client.post(f"/f/{fac}/{route}", data=payload, headers=headers or {})


def post_round2(client, token: str, scores: dict[str, str], action: str = "save",
                csrf_value: str | None = None, **extra):
    data = {"csrf": csrf_value or csrf(client, f"/p/{token}"), "action": action}
    data.update({f"score-{k}": v for k, v in scores.items()})
    data.update(extra)
    return client.post(f"/p/{token}/round2", data=data)


def in_review(session, fac: str, tok: dict[str, str]) -> None:
    """Both participants score (ANN/BOB: only item0 is flagged) and submit; review begins."""
    for pid, scores in (("ann", ANN), ("bob", BOB)):
        session.score(pid, tok[pid], {k: float(v) for k, v in scores.items()})
        session.submit(pid, tok[pid])
    session.begin_review(fac)


def element(page: str, tag: str, id_: str) -> str:
    """The opening tag of the element with this id (fails when absent)."""
    m = re.search(rf'<{tag}\b[^>]*\bid="{re.escape(id_)}"[^>]*>', page)
    assert m, f"no <{tag} id={id_!r}>"
    return m.group(0)


def test_round1_board_only_from_review(env) -> None:
    client, session, fac, tok = env
    session.score("ann", tok["ann"], {"item0": 1.25, "item1": 2, "item2": 3, "item3": "NA"})
    session.score("bob", tok["bob"], {"item0": 4.75, "item1": 2, "item2": 3, "item3": 4})
    ann = client.get(f"/p/{tok['ann']}").get_data(as_text=True)
    assert "4.75" not in ann and 'id="round1-scores"' not in ann and 'id="round1"' in ann
    session.begin_review(fac, force=True)
    ann = client.get(f"/p/{tok['ann']}").get_data(as_text=True)
    row = ann.split('id="r1-row-item0"')[1].split("</tr>")[0]
    assert "<td>1.25</td>" in row and "<td>4.75</td>" in row
    assert "N/A" in ann.split('id="r1-row-item3"')[1].split("</tr>")[0]
    assert "Ann A. (you)" in ann
    assert 'id="round1"' not in ann and 'id="round2"' not in ann  # nothing to score now


def test_note_form(env) -> None:
    client, session, fac, tok = env
    assert 'id="note"' not in client.get(f"/f/{fac}").get_data(as_text=True)  # scoring
    in_review(session, fac, tok)
    page = client.get(f"/f/{fac}").get_data(as_text=True)
    assert 'id="note"' in page and 'id="no-notes"' in page
    r = fpost(client, fac, "note", text="   ")
    assert r.status_code == 400 and "the note is empty" in r.get_data(as_text=True)
    assert 'id="errors"' in r.get_data(as_text=True)
    r = fpost(client, fac, "note", text="Score 2 needs a <b>partial</b> answer")
    assert r.status_code == 303 and r.headers["Location"].endswith("?done=note")
    assert [t for _, t in session.notes()] == ["Score 2 needs a <b>partial</b> answer"]
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert 'id="message"' in page and "Note recorded." in page
    notes = page.split('id="notes"')[1].split("</ul>")[0]
    assert "&lt;b&gt;partial&lt;/b&gt;" in notes and "<b>" not in notes
    # the participants see the agreed rubric changes from review on
    assert "&lt;b&gt;partial&lt;/b&gt;" in client.get(f"/p/{tok['ann']}").get_data(as_text=True)


def test_resolution_state_and_prefill(env) -> None:
    client, session, fac, tok = env
    in_review(session, fac, tok)
    page = client.get(f"/f/{fac}").get_data(as_text=True)
    assert 'class="open"' in element(page, "td", "resolution-item0")
    assert 'class=""' in element(page, "td", "resolution-item1")  # not flagged
    assert 'value=""' in element(page, "input", "res-consensus-item0")
    r = fpost(client, fac, "resolve", item="item0", consensus="2.5", rationale="half way",
              note="n1")
    assert r.status_code == 303
    page = client.get(f"/f/{fac}").get_data(as_text=True)
    assert 'class="resolved"' in element(page, "td", "resolution-item0")
    assert 'value="2.5"' in element(page, "input", "res-consensus-item0")
    assert 'value="half way"' in element(page, "input", "res-rationale-item0")
    assert 'value="n1"' in element(page, "input", "res-note-item0")
    assert "Update resolution" in page
    # editing replaces it
    r = fpost(client, fac, "resolve", item="item0", consensus="3.5", rationale="again")
    assert r.status_code == 303
    res = session.resolutions()["item0"]
    assert (res.consensus, res.rationale, res.note) == (3.5, "again", None)
    # a refused edit keeps the typed values on the page and the stored resolution
    r = fpost(client, fac, "resolve", item="item0", consensus="9", rationale="typed")
    body = r.get_data(as_text=True)
    assert r.status_code == 400 and "off the scale" in body
    assert 'value="9"' in element(body, "input", "res-consensus-item0")
    assert 'value="typed"' in element(body, "input", "res-rationale-item0")
    assert session.resolutions()["item0"].consensus == 3.5


def test_rescore_round_blind_and_effectiveness(env) -> None:
    client, session, fac, tok = env
    in_review(session, fac, tok)
    page = client.get(f"/f/{fac}").get_data(as_text=True)
    assert "checked" in element(page, "input", "rescore-item-item0")  # flagged
    assert "checked" not in element(page, "input", "rescore-item-item1")
    assert 'id="effectiveness"' not in page
    r = fpost(client, fac, "rescore")
    assert r.status_code == 400 and "(none given)" in r.get_data(as_text=True)
    r = fpost(client, fac, "rescore", item=["item0", "nope"])
    body = r.get_data(as_text=True)
    assert r.status_code == 400 and "re-score items must be session items: nope" in body
    assert "checked" in element(body, "input", "rescore-item-item0")
    assert session.info.rescore_items is None
    r = fpost(client, fac, "rescore", item=["item0", "item1", "item3", "item0"])
    assert r.status_code == 303 and r.headers["Location"].endswith("?done=rescore")
    assert session.info.rescore_items == ["item0", "item1", "item3"]
    page = client.get(f"/f/{fac}").get_data(as_text=True)
    assert 'id="rescore"' not in page and 'id="effectiveness-pending"' in page
    assert "round 2 not submitted" in page.split('id="r2-status-ann"')[1].split("</li>")[0]
    assert fpost(client, fac, "rescore", item=["item2"]).status_code == 400  # only once

    ann_t, bob_t = tok["ann"], tok["bob"]
    ann = client.get(f"/p/{ann_t}").get_data(as_text=True)
    assert 'id="round2"' in ann and 'id="round2-submit"' in ann
    assert 'id="r2-score-item0"' in ann and 'id="r2-score-item2"' not in ann
    assert 'id="r2-na-item3"' in ann and 'id="r2-na-item0"' not in ann
    # the same validation as round 1; nothing saved on an error
    cases = [
        ({"item0": "3", "item2": "3"}, {}, "not open for scoring in round 2"),
        ({"item0": "6"}, {}, "off the scale"),
        ({"item0": "x"}, {}, "not a number"),
        ({}, {"na-item0": "1"}, "N/A is not allowed"),
        ({"item3": "2"}, {"na-item3": "1"}, "not both"),
        ({"bogus": "2"}, {}, "unknown item"),
    ]
    for scores, extra, msg in cases:
        r = post_round2(client, ann_t, scores, **extra)
        assert r.status_code == 400, msg
        assert msg in r.get_data(as_text=True)
        assert session.scores(2)["ann"] == {}
    # round 1 is locked in review
    r = post_scores(client, ann_t, {"item0": "2"})
    assert r.status_code == 400 and "cannot score" in r.get_data(as_text=True)
    # distinctive round-2 values; each participant sees only their own
    assert post_round2(client, ann_t, {"item0": "2.125"}).status_code == 303
    assert post_round2(client, bob_t, {"item0": "3.875", "item1": "2"},
                       **{"na-item3": "1"}).status_code == 303
    assert session.scores(2) == {"ann": {"item0": 2.125},
                                 "bob": {"item0": 3.875, "item1": 2.0, "item3": "NA"}}
    ann = client.get(f"/p/{ann_t}?saved=r2").get_data(as_text=True)
    assert "Round-2 scores saved." in ann
    assert 'value="2.125"' in element(ann, "input", "r2-score-item0") and "3.875" not in ann
    bob = client.get(f"/p/{bob_t}").get_data(as_text=True)
    assert "3.875" in bob and "2.125" not in bob
    assert "checked" in element(bob, "input", "r2-na-item3")
    r = post_round2(client, ann_t, {"item1": "2"}, action="submit")
    body = r.get_data(as_text=True)
    assert r.status_code == 400 and "has not scored" in body and "item3" in body
    assert "Saved, but not submitted" in body
    assert session.scores(2)["ann"] == {"item0": 2.125, "item1": 2.0}
    r = post_round2(client, ann_t, {"item3": "4"}, action="submit")
    assert r.status_code == 303 and r.headers["Location"].endswith("?saved=r2submitted")
    ann = client.get(f"/p/{ann_t}").get_data(as_text=True)
    assert 'id="round2-submitted"' in ann and 'id="round2-save"' not in ann
    assert "disabled" in element(ann, "input", "r2-score-item0")
    r = post_round2(client, ann_t, {"item0": "5"})
    assert r.status_code == 400 and "already submitted round 2" in r.get_data(as_text=True)
    page = client.get(f"/f/{fac}").get_data(as_text=True)
    assert "submitted round 2" in page.split('id="r2-status-ann"')[1].split("</li>")[0]
    assert "not submitted" in page.split('id="r2-status-bob"')[1].split("</li>")[0]
    assert 'id="effectiveness"' not in page
    assert post_round2(client, bob_t, {"item0": "3.875"}, action="submit").status_code == 303
    # blind for good: ann never sees bob's round 2, before or after everyone submitted
    assert "3.875" not in client.get(f"/p/{ann_t}").get_data(as_text=True)
    assert "2.125" not in client.get(f"/p/{bob_t}").get_data(as_text=True)
    page = client.get(f"/f/{fac}").get_data(as_text=True)
    from harness.sessions import effectiveness

    lines = effectiveness(session).summary()
    assert 'id="effectiveness-pending"' not in page
    for id_, line in zip(("eff-before", "eff-after", "eff-gain", "eff-anchor"), lines,
                         strict=True):
        assert re.search(rf'<li id="{id_}">\s*{re.escape(line)}', page.replace("&gt;", ">"))
    assert "target +0.1" in page and "target &gt;= 0.85" in page


def test_round2_refused_when_no_round_is_open(env) -> None:
    client, session, fac, tok = env
    ann_csrf = csrf(client, f"/p/{tok['ann']}")  # the page has no form to read it from later
    r = post_round2(client, tok["ann"], {})
    assert r.status_code == 400 and "cannot re-score" in r.get_data(as_text=True)  # scoring
    in_review(session, fac, tok)
    assert 'id="round2"' not in client.get(f"/p/{tok['ann']}").get_data(as_text=True)
    r = post_round2(client, tok["ann"], {}, csrf_value=ann_csrf)
    assert r.status_code == 400 and "no re-score round open" in r.get_data(as_text=True)
    r = post_round2(client, tok["ann"], {"item0": "3"}, csrf_value=ann_csrf)
    assert r.status_code == 400 and "not open for scoring in round 2" in r.get_data(
        as_text=True)
    assert session.scores(2)["ann"] == {}


def test_finish_writes_the_new_version_and_close(env) -> None:
    from harness.anchors import load_anchor_set

    client, session, fac, tok = env
    r = fpost(client, fac, "finish")
    assert r.status_code == 400 and "cannot resolve the session" in r.get_data(as_text=True)
    assert 'id="finish"' not in client.get(f"/f/{fac}").get_data(as_text=True)
    in_review(session, fac, tok)
    r = fpost(client, fac, "close")
    assert r.status_code == 400 and "cannot close the session" in r.get_data(as_text=True)
    r = fpost(client, fac, "finish")
    body = r.get_data(as_text=True)
    assert r.status_code == 400 and 'id="errors"' in body
    assert "flagged item(s) without a resolution: item0" in body
    assert fpost(client, fac, "resolve", item="item0", consensus="3",
                 rationale="agreed").status_code == 303
    session.open_rescore(["item1"], fac)
    r = fpost(client, fac, "finish")
    assert r.status_code == 400 and "not submitted by: ann, bob" in r.get_data(as_text=True)
    for pid in ("ann", "bob"):
        session.score(pid, tok[pid], {"item1": 2.0}, round=2)
        session.submit(pid, tok[pid], round=2)
    parent = Path(session.info.anchor_path)
    new_path = parent.with_name("tiny.v2.jsonl")
    assert not new_path.exists()
    r = fpost(client, fac, "finish", output="/tmp/elsewhere.jsonl")  # no path from the web
    assert r.status_code == 303 and r.headers["Location"].endswith("?done=finished")
    assert session.state == "resolved"
    assert session.info.output_path == str(new_path) and new_path.exists()
    assert not Path("/tmp/elsewhere.jsonl").exists()
    header = json.loads(new_path.read_text(encoding="utf-8").splitlines()[0])
    assert header["version"] == 2 and header["parent"] == "tiny.jsonl"
    new = load_anchor_set(new_path)
    assert new.meta.version == 2
    assert new.item("item0").consensus == 3.0 and new.item("item0").rationale == "agreed"
    assert new.item("item1").ratings[f"session:{session.id}:ann"] == 2.0
    page = client.get(f"/f/{fac}?done=finished").get_data(as_text=True)
    assert "new anchor-set version is written" in page
    assert str(new_path) in page.split('id="output-path"')[1].split("</code>")[0]
    assert 'id="finish"' not in page and 'id="close"' in page and 'id="close-button"' in page
    assert 'id="effectiveness"' in page and 'id="resolve-item0"' not in page
    r = fpost(client, fac, "close")
    assert r.status_code == 303 and r.headers["Location"].endswith("?done=closed")
    assert session.state == "closed"
    page = client.get(f"/f/{fac}").get_data(as_text=True)
    assert 'id="closed"' in page and "<form" not in page and str(new_path) in page
    assert 'id="closed"' in client.get(f"/p/{tok['ann']}").get_data(as_text=True)


def test_closed_session_refuses_every_post(env) -> None:
    client, session, fac, tok = env
    # a closed session's pages have no forms: read the CSRF fields while scoring
    fields = {tok["ann"]: csrf(client, f"/p/{tok['ann']}"), fac: csrf(client, f"/f/{fac}")}
    in_review(session, fac, tok)
    session.resolve_item("item0", fac, consensus=3)
    session.mark_resolved(fac)
    session.close(fac)
    before = (session.events(), session.scores(1), session.scores(2), session.resolutions(),
              session.notes())
    ann = tok["ann"]
    posts = [
        (f"/p/{ann}", ann, {"score-item0": "3"}),
        (f"/p/{ann}", ann, {"action": "save"}),  # nothing to save is refused too
        (f"/p/{ann}/round2", ann, {"score-item0": "3"}),
        (f"/f/{fac}/review", fac, {"force": "1"}),
        (f"/f/{fac}/resolve", fac, {"item": "item0", "consensus": "2"}),
        (f"/f/{fac}/note", fac, {"text": "late"}),
        (f"/f/{fac}/rescore", fac, {"item": "item0"}),
        (f"/f/{fac}/finish", fac, {}),
        (f"/f/{fac}/close", fac, {}),
    ]
    for path, token, data in posts:
        r = client.post(path, data={"csrf": fields[token], **data})
        assert r.status_code == 400, path
        body = r.get_data(as_text=True)
        assert 'id="errors"' in body and "closed" in body, path
    assert (session.events(), session.scores(1), session.scores(2), session.resolutions(),
            session.notes()) == before
    assert session.state == "closed"


def test_calibration_log_route(env) -> None:
    client, session, fac, tok = env
    r = client.get(f"/f/{fac}/log")
    assert r.status_code == 409 and "blind until review" in r.get_data(as_text=True)
    assert 'id="log-link"' not in client.get(f"/f/{fac}").get_data(as_text=True)
    in_review(session, fac, tok)
    session.add_note("a rubric change", fac)
    page = client.get(f"/f/{fac}").get_data(as_text=True)
    assert f'href="/f/{fac}/log"' in element(page, "a", "log-link")
    r = client.get(f"/f/{fac}/log")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/markdown; charset=utf-8"
    assert r.headers["Content-Security-Policy"] == "default-src 'self'"
    from harness.sessions import calibration_log

    text = r.get_data(as_text=True)
    assert text.startswith("# Calibration log:") and "a rubric change" in text
    assert text == calibration_log(session)
    for bad in (tok["ann"], "nope"):
        r = client.get(f"/f/{bad}/log")
        assert r.status_code == 403 and "Calibration" not in r.get_data(as_text=True)


def test_new_routes_check_token_csrf_and_origin(env) -> None:
    client, session, fac, tok = env
    ann = tok["ann"]
    ann_csrf, fac_csrf = csrf(client, f"/p/{ann}"), csrf(client, f"/f/{fac}")
    in_review(session, fac, tok)
    fac_routes = {"note": {"text": "x"}, "rescore": {"item": "item0"}, "finish": {},
                  "close": {}}
    for route, data in fac_routes.items():
        attempts = [
            (f"/f/{ann}/{route}", {"csrf": ann_csrf}, {}),  # participant token
            (f"/f/nope/{route}", {"csrf": fac_csrf}, {}),  # unknown token
            (f"/f/{fac}/{route}", {}, {}),  # no CSRF field
            (f"/f/{fac}/{route}", {"csrf": ann_csrf}, {}),  # another token's CSRF
            (f"/f/{fac}/{route}", {"csrf": "0" * 64}, {}),  # wrong CSRF
            (f"/f/{fac}/{route}", {"csrf": fac_csrf}, EVIL),  # foreign Origin
        ]
        for path, extra, headers in attempts:
            r = client.post(path, data={**data, **extra}, headers=headers)
            assert r.status_code == 403, (route, extra, headers)
            assert r.get_data(as_text=True) == "Forbidden\n"
    for path, extra, headers in [
        (f"/p/{fac}/round2", {"csrf": fac_csrf}, {}),  # facilitator token
        ("/p/nope/round2", {"csrf": ann_csrf}, {}),
        (f"/p/{ann}/round2", {}, {}),
        (f"/p/{ann}/round2", {"csrf": fac_csrf}, {}),
        (f"/p/{ann}/round2", {"csrf": ann_csrf}, EVIL),
    ]:
        r = client.post(path, data={"score-item0": "2", **extra}, headers=headers)
        assert r.status_code == 403, (path, extra, headers)
    assert session.notes() == [] and session.info.rescore_items is None
    assert session.state == "review" and session.scores(2)["ann"] == {}
    # the same requests with the right token, CSRF and origin go through
    r = client.post(f"/f/{fac}/note", data={"csrf": fac_csrf, "text": "x"},
                    headers={"Origin": "http://localhost"})
    assert r.status_code == 303 and len(session.notes()) == 1
    assert client.post(f"/f/{fac}/rescore",
                       data={"csrf": fac_csrf, "item": "item0"}).status_code == 303
    r = client.post(f"/p/{ann}/round2", data={"csrf": ann_csrf, "score-item0": "2"},
                    headers={"Origin": "http://localhost"})
    assert r.status_code == 303 and session.scores(2)["ann"] == {"item0": 2.0}


def test_stable_ids_for_browser_tests(env) -> None:
    client, session, fac, tok = env
    ann = client.get(f"/p/{tok['ann']}").get_data(as_text=True)
    for tag, id_ in [("form", "round1"), ("button", "round1-save"),
                     ("button", "round1-submit"), ("input", "score-item0"),
                     ("input", "na-item3"), ("fieldset", "item-item0")]:
        element(ann, tag, id_)
    assert '<label for="score-item0">' in ann and '<label for="na-item3">' in ann
    page = client.get(f"/f/{fac}").get_data(as_text=True)
    for tag, id_ in [("form", "begin-review"), ("input", "force"),
                     ("button", "begin-review-button")]:
        element(page, tag, id_)
    in_review(session, fac, tok)
    page = client.get(f"/f/{fac}").get_data(as_text=True)
    for tag, id_ in [("form", "note"), ("textarea", "note-text"), ("button", "note-button"),
                     ("form", "rescore"), ("button", "rescore-button"),
                     ("form", "finish"), ("button", "finish-button"),
                     ("form", "resolve-item0"), ("button", "res-button-item0"),
                     ("a", "log-link"), ("table", "review")]:
        element(page, tag, id_)
    for b in re.findall(r"<button\b[^>]*>", page):
        assert 'name="action"' in b and 'id="' in b
    for i in re.findall(r'<(?:input|textarea)\b(?![^>]*type="hidden")[^>]*>', page):
        m = re.search(r'id="([^"]+)"', i)
        assert m and f'<label for="{m.group(1)}">' in page, i


def test_serve_cmd_refuses_remote_host(tmp_path: Path) -> None:
    import typer

    from harness.cli._session_serve import serve_cmd

    app = typer.Typer()
    app.command()(serve_cmd)
    r = CliRunner().invoke(app, ["abc", "--host", "0.0.0.0", "--state-dir", str(tmp_path)])
    assert r.exit_code == 2
    r = CliRunner().invoke(app, ["nosuch", "--state-dir", str(tmp_path)])
    assert r.exit_code == 2


def test_serve_cmd_prints_links(tmp_path: Path, monkeypatch) -> None:
    import typer
    from flask import Flask

    from harness.cli._session_serve import serve_cmd

    store = SessionStore(tmp_path / "state")
    session, _ = store.create(make_set(tmp_path), ["ann", "bob"])
    store.close()
    calls = []
    monkeypatch.setattr(Flask, "run", lambda self, **kw: calls.append(kw))
    app = typer.Typer()
    app.command()(serve_cmd)
    r = CliRunner().invoke(app, [session.id, "--port", "9001", "--state-dir",
                                 str(tmp_path / "state")])
    assert r.exit_code == 0, r.output
    assert "http://127.0.0.1:9001/p/<participant token>" in r.output
    assert "http://127.0.0.1:9001/f/<facilitator token>" in r.output
    assert calls and calls[0]["host"] == "127.0.0.1" and calls[0]["port"] == 9001


def test_review_table_stats_baseline_and_agreement(tmp_path: Path) -> None:
    """The review page shows what the issue asks per item (mean, median, SD, range, share,
    N/A, outliers, baseline distance) and the participants' ICC / alpha, as the library
    computes them."""
    from harness.sessions import review

    path = make_set(tmp_path)
    header, *rows = path.read_text(encoding="utf-8").splitlines()
    h = json.loads(header)
    h["scale"]["labels"] = {"1": "useless", "5": "<b>perfect</b>"}
    path.write_text("\n".join([json.dumps(h), *rows]) + "\n", encoding="utf-8")
    store = SessionStore(tmp_path / "state")
    session, fac = store.create(path, ["ann", "bob", "cy"], na_items=["item3"],
                                baseline={"item0": 2.0, "item1": 4.0},
                                baseline_label="judge:v3")
    tok = {p: session.invite(p, fac) for p in ("ann", "bob", "cy")}
    session.start_scoring(fac)
    client = create_app(store, session.id).test_client()
    page = client.get(f"/p/{tok['ann']}").get_data(as_text=True)
    labels = page.split('id="scale-labels"')[1].split("</dl>")[0]
    assert "useless" in labels and "&lt;b&gt;perfect&lt;/b&gt;" in labels
    table = {"ann": [1, 2, 3, "NA"], "bob": [1, 2, 3, 4], "cy": [4, 3, 3, 4]}
    for pid, vals in table.items():
        session.score(pid, tok[pid], dict(zip(["item0", "item1", "item2", "item3"], vals,
                                              strict=True)))
        session.submit(pid, tok[pid])
    session.begin_review(fac)
    page = client.get(f"/f/{fac}").get_data(as_text=True)
    head = page.split('id="review"')[1].split("</thead>")[0]
    assert "Δ judge:v3" in head
    row0 = page.split('id="row-item0"')[1].split("</tr>")[0]
    # 1, 1, 4: cy is the outlier; mean 2 vs baseline 2
    assert '<td class="num outlier">4</td>' in row0
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", row0)
    assert cells == ["⚑", "1", "1", "4", "3", "0", "2.00", "1.00", "1.73", "1–4", "75%", "cy",
                     "0.00", "open"]
    row3 = page.split('id="row-item3"')[1].split("</tr>")[0]
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", row3)
    assert cells[:6] == ["", "N/A", "4", "4", "2", "1"] and cells[-2] == "—"
    rv = review(session)
    agreement = page.split('id="agreement"')[1].split("</p>")[0]
    assert f"ICC(2,1) {result_text(rv.icc)}, " in agreement  # 0.41 [0.10, 0.71], n items...
    assert f"alpha (interval) {result_text(rv.alpha)}, " in agreement
    css = client.get("/static/session.css")
    assert css.status_code == 200 and css.mimetype == "text/css"
    assert css.headers["Content-Security-Policy"] == "default-src 'self'"
    assert 'href="/static/session.css"' in page
    store.close()


# ------------------------------------------------------------------ Host header, start-up

FOREIGN = {"Host": "evil.example:8765", "Origin": "http://evil.example:8765"}


def test_foreign_host_is_refused_on_every_route(env) -> None:
    """DNS rebinding: a page of evil.example whose name now resolves to 127.0.0.1 is
    same-origin with its own name, so Origin and CSRF (readable from the page) pass; the
    Host header names the attacker's host and is refused (400) on every route, storing
    nothing."""
    client, session, fac, tok = env
    ann = tok["ann"]
    ann_csrf, fac_csrf = csrf(client, f"/p/{ann}"), csrf(client, f"/f/{fac}")

    def refused(method: str, path: str, **data: str) -> None:
        r = client.open(path, method=method, data=data or None, headers=FOREIGN)
        assert r.status_code == 400, (method, path)
        assert r.get_data(as_text=True) == "Bad Request: unexpected Host header\n"
        assert r.headers["Content-Security-Policy"] == "default-src 'self'"
        assert ann_csrf not in r.get_data(as_text=True)

    for path in (f"/p/{ann}", f"/f/{fac}", f"/f/{fac}/log", "/static/session.css", "/nope",
                 "/p/nope"):
        refused("GET", path)
    refused("POST", f"/p/{ann}", csrf=ann_csrf, action="submit", **{
        f"score-{k}": v for k, v in ANN.items()})
    refused("POST", f"/f/{fac}/review", csrf=fac_csrf, force="1")
    assert session.scores(1) == {"ann": {}, "bob": {}} and session.state == "scoring"
    in_review(session, fac, tok)
    before = (session.events(), session.scores(2), session.resolutions(), session.notes())
    refused("POST", f"/f/{fac}/resolve", csrf=fac_csrf, item="item0", consensus="3")
    refused("POST", f"/f/{fac}/note", csrf=fac_csrf, text="x")
    refused("POST", f"/f/{fac}/rescore", csrf=fac_csrf, item="item0")
    refused("POST", f"/f/{fac}/finish", csrf=fac_csrf)
    refused("POST", f"/f/{fac}/close", csrf=fac_csrf)
    assert (session.events(), session.scores(2), session.resolutions(),
            session.notes()) == before
    assert session.state == "review" and session.info.rescore_items is None
    # the same request with the app's own host goes through
    r = client.post(f"/f/{fac}/note", data={"csrf": fac_csrf, "text": "x"},
                    headers={"Host": "localhost", "Origin": "http://localhost"})
    assert r.status_code == 303 and len(session.notes()) == 1


def test_served_hosts_and_ports(tmp_path: Path) -> None:
    from harness.sessions._web import serve_plan

    store = SessionStore(tmp_path / "state")
    session, _ = store.create(make_set(tmp_path), ["ann", "bob"])
    plan = serve_plan("127.0.0.1", 8765)
    client = create_app(store, session.id, hosts=plan.hosts).test_client()
    for host in ("127.0.0.1:8765", "localhost:8765", "[::1]:8765", "LOCALHOST:8765",
                 "localhost"):
        assert client.get("/nope", headers={"Host": host}).status_code == 404, host
    for host in ("evil.example:8765", "localhost:9999", "127.0.0.1.evil.example:8765",
                 "localhost.:8765", "[::1]evil:8765", "localhost:8765@evil", ""):
        assert client.get("/nope", headers={"Host": host}).status_code == 400, host
    # a public name (a reverse proxy's): with the served port, its own port, or none
    plan = serve_plan("127.0.0.1", 8765, public_hosts=["Judge.Example", "proxy.lan:443"])
    client = create_app(store, session.id, hosts=plan.hosts).test_client()
    for host in ("judge.example:8765", "judge.example", "proxy.lan:443", "proxy.lan",
                 "127.0.0.1:8765"):
        assert client.get("/nope", headers={"Host": host}).status_code == 404, host
    for host in ("judge.example:443", "proxy.lan:8765", "evil.example"):
        assert client.get("/nope", headers={"Host": host}).status_code == 400, host
    store.close()


def test_serve_plan_warning_and_refusals() -> None:
    from harness.sessions._web import serve_plan

    local = serve_plan("127.0.0.1", 8765)
    assert local.warning is None and local.base == "http://127.0.0.1:8765"
    assert set(local.hosts) == {"127.0.0.1:8765", "localhost:8765", "[::1]:8765"}
    assert serve_plan("::1", 8765).warning is None
    assert serve_plan("localhost", 8765).base == "http://localhost:8765"
    with pytest.raises(ValueError, match="--allow-remote"):
        serve_plan("0.0.0.0", 8765)
    with pytest.raises(ValueError, match="--public-host"):
        serve_plan("0.0.0.0", 8765, allow_remote=True)  # what would users type?
    for bad in ("https://judge.example", "judge.example/", "a b", "judge.example:0",
                "judge.example:70000", ""):
        with pytest.raises(ValueError, match="--public-host"):
            serve_plan("127.0.0.1", 8765, public_hosts=[bad])
    lan = serve_plan("192.168.1.5", 8765, allow_remote=True)
    assert lan.hosts == ["192.168.1.5:8765"] and lan.base == "http://192.168.1.5:8765"
    every = serve_plan("0.0.0.0", 8765, public_hosts=["judge.lan"], allow_remote=True)
    assert every.base == "http://judge.lan:8765"
    assert "judge.lan:8765" in every.hosts and "127.0.0.1:8765" in every.hosts
    for plan in (lan, every):
        w = plan.warning
        assert w and "plain HTTP" in w and "in the clear" in w
        assert "anyone on the network" in w and "reverse proxy" in w


def test_serve_cmd_warns_when_remote(tmp_path: Path, monkeypatch) -> None:
    import typer
    from flask import Flask

    from harness.cli._session_serve import serve_cmd

    store = SessionStore(tmp_path / "state")
    session, _ = store.create(make_set(tmp_path), ["ann", "bob"])
    store.close()
    served = []
    monkeypatch.setattr(Flask, "run", lambda self, **kw: served.append((self, kw)))
    app = typer.Typer()
    app.command()(serve_cmd)
    state = ["--state-dir", str(tmp_path / "state")]
    r = CliRunner().invoke(app, [session.id, "--port", "9001", "--host", "0.0.0.0",
                                 "--allow-remote", "--public-host", "judge.lan", *state])
    assert r.exit_code == 0, r.output
    assert "warning" in r.stderr and "plain HTTP" in r.stderr and "reverse proxy" in r.stderr
    assert "http://judge.lan:9001/p/<participant token>" in r.stdout
    web, kw = served[-1]
    assert kw["host"] == "0.0.0.0" and kw["port"] == 9001
    client = web.test_client()
    assert client.get("/p/nope", headers={"Host": "judge.lan:9001"}).status_code == 403
    assert client.get("/p/nope", headers={"Host": "evil.example:9001"}).status_code == 400
    # no --public-host for a wildcard bind: exit 2, nothing served
    r = CliRunner().invoke(app, [session.id, "--host", "0.0.0.0", "--allow-remote", *state])
    assert r.exit_code == 2 and "--public-host" in r.stderr and len(served) == 1
    # loopback: no warning, and the app refuses a foreign Host
    r = CliRunner().invoke(app, [session.id, "--port", "9001", *state])
    assert r.exit_code == 0 and "warning" not in r.stderr
    client = served[-1][0].test_client()
    assert client.get("/p/nope", headers={"Host": "127.0.0.1:9001"}).status_code == 403
    assert client.get("/p/nope", headers={"Host": "evil.example:9001"}).status_code == 400


def test_forms_work_behind_a_tls_proxy(tmp_path: Path) -> None:
    """Behind a TLS-terminating proxy the app sees plain HTTP, the browser sends
    ``Origin: https://NAME``: the page's own forms go through; another origin does not."""
    from harness.sessions._web import serve_plan

    store = SessionStore(tmp_path / "state")
    session, fac = store.create(make_set(tmp_path), ["ann", "bob"])
    tok = session.invite("ann", fac)
    session.invite("bob", fac)
    session.start_scoring(fac)
    plan = serve_plan("127.0.0.1", 8765, public_hosts=["judge.example"])
    client = create_app(store, session.id, hosts=plan.hosts).test_client()
    host = {"Host": "judge.example"}
    good = csrf(client, f"/p/{tok}", host)
    for origin in ("https://evil.example", "https://judge.example.evil.example", "null",
                   "https://judge.example:9999", "ftp://judge.example"):
        r = client.post(f"/p/{tok}", data={"csrf": good, "score-item0": "3"},
                        headers={**host, "Origin": origin})
        assert r.status_code == 403, origin
    assert session.scores(1)["ann"] == {}
    r = client.post(f"/p/{tok}", data={"csrf": good, "score-item0": "3"},
                    headers={**host, "Origin": "https://judge.example"})
    assert r.status_code == 303 and session.scores(1)["ann"] == {"item0": 3.0}
    store.close()

