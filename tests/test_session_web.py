"""The session web app (harness.sessions._web) with Flask's test client."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

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


def csrf(client, path: str) -> str:
    page = client.get(path)
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
    assert r.status_code == 400 and "has not scored" in r.get_data(as_text=True)
    assert not session.info.participants[0].submitted


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
    assert "<td>1</td>" in row0 and "<td>5</td>" in row0 and "2.828" in row0
    # after review participants may see scores, but the page still shows only their own
    assert "Bob" not in client.get(f"/p/{tok['ann']}").get_data(as_text=True)
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
