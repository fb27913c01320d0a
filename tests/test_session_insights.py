"""Across sessions: questions flagged most often, raters' outliers per question (insights)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_session_visibility import card_set, small_set
from typer.testing import CliRunner

from harness.cli import app as cli_app
from harness.sessions import SessionStore, insights
from harness.sessions._web import create_app


def single_set(tmp_path: Path) -> Path:
    return small_set(tmp_path, 4)


def reviewed(store: SessionStore, path: Path, table: dict, *, review: bool = True, **kw):
    """A session scored by ``table`` (participant -> scores), all submitted, in review."""
    session, fac = store.create(path, list(table), **kw)
    tokens = {p: session.invite(p, fac) for p in table}
    session.start_scoring(fac)
    for p, scores in table.items():
        session.score(p, tokens[p], scores)
        session.submit(p, tokens[p])
    if review:
        session.begin_review(fac)
    return session, fac


# helpfulness (threshold SD 0.4): i0 = 1,1,4 and i3 = 4,4,1 flagged, cy the outlier on both
SINGLE = {"ann": {"i0": 1, "i1": 2, "i2": 3, "i3": 4},
          "bob": {"i0": 1, "i1": 2, "i2": 3, "i3": 4},
          "cy": {"i0": 4, "i1": 2, "i2": 3, "i3": 1}}
# greeted: c1 yes,yes,no flagged (dee the outlier); tone: c2 5,NA,1 flagged (2 numeric
# values: no outlier rule), bob's N/A not counted as scored
CARD = {"ann": {"c1": {"greeted": "yes", "tone": 4}, "c2": {"greeted": "yes", "tone": 5}},
        "bob": {"c1": {"greeted": "yes", "tone": 4}, "c2": {"greeted": "yes", "tone": "NA"}},
        "dee": {"c1": {"greeted": "no", "tone": 4}, "c2": {"greeted": "yes", "tone": 1}}}
# an older session: helpfulness i1 = 2,2,5 flagged, cy the outlier
OLD = {"ann": {"i0": 3, "i1": 2, "i2": 3, "i3": 3},
       "bob": {"i0": 3, "i1": 2, "i2": 3, "i3": 3},
       "cy": {"i0": 3, "i1": 5, "i2": 3, "i3": 3}}


@pytest.fixture
def store(tmp_path: Path):
    s = SessionStore(tmp_path / "state")
    yield s
    s.close()


@pytest.fixture
def three(store: SessionStore, tmp_path: Path):
    """OLD, then SINGLE, then CARD reviewed; a fourth session still in scoring."""
    path, card = single_set(tmp_path), card_set(tmp_path)
    old, fac_old = reviewed(store, path, OLD, name="old")
    single, fac = reviewed(store, path, SINGLE, name="single")
    scard, fac_card = reviewed(store, card, CARD, name="card")
    blind, _ = reviewed(store, path, SINGLE, review=False, name="still scoring")
    return {"old": old, "single": single, "card": scard, "blind": blind, "fac": fac}


def test_insights_over_the_last_two_sessions(store: SessionStore, three) -> None:
    ins = insights(store, last=2)
    assert [s.name for s in ins.sessions] == ["card", "single"]  # newest reviewed first
    assert [(q.question, q.sessions, q.pairs, q.flagged) for q in ins.questions] == [
        ("helpfulness", 1, 4, 2), ("greeted", 1, 2, 1), ("tone", 1, 2, 1)]
    assert ins.questions[0].flagged_share == 0.5
    by = {(r.rater, r.question): (r.scored, r.outliers) for r in ins.raters}
    assert by[("cy", "helpfulness")] == (4, 2)
    assert by[("ann", "helpfulness")] == (4, 0)
    assert by[("dee", "greeted")] == (2, 1)
    assert by[("bob", "tone")] == (1, 0)  # the N/A is not a score
    assert by[("dee", "tone")] == (2, 0)
    assert (ins.raters[0].rater, ins.raters[0].question) == ("cy", "helpfulness")


def test_insights_over_all_reviewed_sessions(store: SessionStore, three) -> None:
    ins = insights(store)
    # the session still in scoring is blind and has no review: not counted
    assert [s.name for s in ins.sessions] == ["card", "single", "old"]
    q = {x.question: (x.sessions, x.pairs, x.flagged) for x in ins.questions}
    assert q == {"helpfulness": (2, 8, 3), "greeted": (1, 2, 1), "tone": (1, 2, 1)}
    by = {(r.rater, r.question): (r.scored, r.outliers) for r in ins.raters}
    assert by[("cy", "helpfulness")] == (8, 3)
    assert ins.sessions[1].flagged == 2 and ins.sessions[1].questions == ["helpfulness"]
    with pytest.raises(ValueError, match="at least 1"):
        insights(store, last=0)


def test_insights_of_an_empty_store(store: SessionStore) -> None:
    ins = insights(store)
    assert ins.sessions == [] and ins.questions == [] and ins.raters == []


def test_insights_cli(tmp_path: Path, store: SessionStore, three) -> None:
    state = str(tmp_path / "state")
    res = CliRunner().invoke(cli_app, ["session", "insights", "--last", "2", "--json",
                                       "--state-dir", state])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert [s["name"] for s in doc["sessions"]] == ["card", "single"]
    assert doc["questions"][0] == {"question": "helpfulness", "sessions": 1, "pairs": 4,
                                   "flagged": 2, "flagged_share": 0.5}
    assert {"rater": "cy", "question": "helpfulness", "scored": 4,
            "outliers": 2} in doc["raters"]
    res = CliRunner().invoke(cli_app, ["session", "insights", "--state-dir", state])
    assert res.exit_code == 0, res.output
    assert "3 reviewed session(s)" in res.output
    lines = [ln for ln in res.output.splitlines() if "helpfulness" in ln]
    assert any(re.search(r"helpfulness\s*│\s*2\s*│\s*8\s*│\s*3\s*│\s*38%", ln) for ln in lines)
    res = CliRunner().invoke(cli_app, ["session", "insights", "--last", "0",
                                       "--state-dir", state])
    assert res.exit_code == 2 and "at least 1" in res.output


def test_insights_web_page(store: SessionStore, three) -> None:
    single, fac = three["single"], three["fac"]
    app = create_app(store, single.id)
    app.config["TESTING"] = True
    client = app.test_client()
    page = client.get(f"/f/{fac}/insights?last=2")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    row = re.search(r'<tr id="iq-helpfulness">(.*?)</tr>', html, re.S).group(1)
    assert re.findall(r'<td class="num">([^<]*)</td>', row) == ["1", "4", "2", "50%"]
    row = re.search(r'<tr id="ir-cy-helpfulness">(.*?)</tr>', html, re.S).group(1)
    assert re.findall(r'<td class="num">([^<]*)</td>', row) == ["4", "2"]
    assert "still scoring" not in html
    assert client.get(f"/f/{fac}/insights?last=x").status_code == 400
    assert client.get(f"/f/{fac}/insights?last=0").status_code == 400
    assert f'id="insights-link" href="/f/{fac}/insights"' in client.get(f"/f/{fac}").get_data(
        as_text=True)
    # participants and unknown tokens get nothing
    tok = single.invite("ann", fac)
    assert client.get(f"/f/{tok}/insights").status_code == 403
    assert client.get("/f/nope/insights").status_code == 403
