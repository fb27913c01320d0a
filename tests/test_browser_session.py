"""A calibration session in a real browser: headless Debian Chromium driven by Playwright.

The session is made with the CLI, served by ``judgecal session serve`` in its own process,
and used through the pages only: two participants score blind, the facilitator reviews and
resolves, a re-score round measures the discussion, the session is finished (the anchor set
gains a version) and closed. A page on another origin tries to post into the app. A session
on a three-question scorecard is scored with radio buttons (levels, 1-5 points, N/A) and
resolved per (item, question), and the new scorecard version carries the consensus. Under
the after-submit visibility rule a participant sees nothing of a peer before submitting and
the submitted peers' scores after.

Chromium comes from Debian (``scripts/install-chromium.sh``, run by the README's test command);
Playwright's own browser download is not used. Without a Chromium the test is skipped, except
under ``CI=true``, where it fails.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import fakeserver as fs
import pytest
from fakeserver import free_port
from typer.testing import CliRunner

from harness.anchors import load_anchor_set, load_scorecard
from harness.cli import app as cli_app
from harness.sessions import SessionStore

CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ITEMS = ["baked_ziti_5_dependency", "blueberry_banana_bread_10_coref", "orange_chicken_5_coref"]


def _chromium() -> str | None:
    for candidate in (os.environ.get("JUDGECAL_CHROMIUM"), "/usr/bin/chromium",
                      "/usr/bin/chromium-browser", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    exe = _chromium()
    if exe is None:
        msg = ("no Chromium found (run scripts/install-chromium.sh, or set JUDGECAL_CHROMIUM)")
        if os.environ.get("CI"):
            pytest.fail(msg + "; CI must run the browser test")
        pytest.skip(msg)
    from playwright.sync_api import sync_playwright

    # Playwright starts Chromium with --headless and a fresh, empty --user-data-dir
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_FLAGS)
        yield b
        b.close()


def _wait_http(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"judgecal session serve exited with {proc.returncode}: "
                                 f"{proc.stderr.read() if proc.stderr else ''}")
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 - loopback
        except urllib.error.HTTPError:
            return  # 403 for an unknown token: the server is up
        except OSError:
            time.sleep(0.2)
            continue
        return
    raise AssertionError(f"no answer from {url} in {timeout:.0f} s")


def _cli(*args: str) -> str:
    res = CliRunner().invoke(cli_app, list(args))
    assert res.exit_code == 0, res.output
    return res.output


@pytest.fixture
def served(tmp_path: Path, project_root: Path) -> Iterator[dict]:
    """A session on a copy of the demo set, in scoring, served by ``judgecal session serve``."""
    anchors = tmp_path / "anchors"
    anchors.mkdir()
    src = anchors / "recipes-overall.jsonl"
    shutil.copy(project_root / "anchors" / "recipes" / "recipes-overall.jsonl", src)
    yield from _serve(tmp_path, src, ITEMS)


CARD_CRITERIA = [
    {"id": "greeted", "label": "Greeted the customer?", "rubric": "yes when the reply greets",
     "scale": {"levels": ["no", "yes"]}, "pass_mark": "yes"},
    {"id": "tone", "label": "Tone", "rubric": "1 rude .. 5 warm", "scale": {"min": 1, "max": 5},
     "na_allowed": True, "weight": 2},
    {"id": "resolved", "label": "Resolved the issue?", "rubric": "pass when resolved",
     "scale": {"levels": ["fail", "pass"]}, "critical": True, "pass_mark": "pass"},
]


@pytest.fixture
def served_card(tmp_path: Path) -> Iterator[dict]:
    """A session on a three-question support scorecard, in scoring, served."""
    src = tmp_path / "anchors" / "support.jsonl"
    src.parent.mkdir()
    header = {"judgecal_anchor_set": 1, "name": "support", "criteria": CARD_CRITERIA,
              "consensus": "mean"}
    items = [{"id": f"c{k}", "input": f"Where is my parcel {k}?",
              "output": f"Hello! It ships on day {k}.", "split": "calibration",
              "ratings": {"greeted": {"r1": "yes"}, "tone": {"r1": 4},
                          "resolved": {"r1": "pass"}}} for k in (1, 2)]
    src.write_text("\n".join(json.dumps(o) for o in [header, *items]) + "\n",
                   encoding="utf-8")
    yield from _serve(tmp_path, src, ["c1", "c2"])


@pytest.fixture
def served_async(tmp_path: Path, project_root: Path) -> Iterator[dict]:
    """As ``served``, under the after-submit visibility rule."""
    anchors = tmp_path / "anchors"
    anchors.mkdir()
    src = anchors / "recipes-overall.jsonl"
    shutil.copy(project_root / "anchors" / "recipes" / "recipes-overall.jsonl", src)
    yield from _serve(tmp_path, src, ITEMS, ("--visibility", "after-submit"))


def _serve(tmp_path: Path, src: Path, items: list[str],
           extra: tuple[str, ...] = ()) -> Iterator[dict]:
    state = str(tmp_path / "state")
    out = _cli("session", "create", str(src), "--state-dir", state, "--name", "browser",
               "-p", "ann=Ann Archer", "-p", "bob=Bob Baker",
               *[a for item in items for a in ("--item", item)], *extra)
    sid = re.search(r"created session (\S+)", out).group(1)
    fac = re.search(r"facilitator token: (\S+)", out).group(1)
    tokens = {}
    for pid in ("ann", "bob"):
        tokens[pid] = re.search(r"token for \S+: (\S+)",
                                _cli("session", "invite", sid, pid, "--state-dir", state,
                                     "--facilitator-token", fac)).group(1)
    _cli("session", "start", sid, "--state-dir", state, "--facilitator-token", fac)

    port = free_port()
    exe = Path(sys.executable).with_name("judgecal")
    proc = subprocess.Popen([str(exe), "session", "serve", sid, "--port", str(port),
                             "--state-dir", state],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_http(base + "/", proc)
        yield {"base": base, "sid": sid, "fac": fac, "tokens": tokens, "state": state,
               "src": src, "proc": proc}
    finally:
        fs.stop_process(proc)


def _fill(page, scores: dict[str, str], prefix: str = "score-") -> None:
    for item, value in scores.items():
        page.fill(f"#{prefix}{item}", value)


def test_session_end_to_end_in_chromium(browser, served) -> None:
    base, tok, fac = served["base"], served["tokens"], served["fac"]
    ann_ctx, bob_ctx, fac_ctx = (browser.new_context() for _ in range(3))
    for ctx in (ann_ctx, bob_ctx, fac_ctx):
        ctx.set_default_timeout(10_000)
    ann, bob, f = ann_ctx.new_page(), bob_ctx.new_page(), fac_ctx.new_page()

    # Ann: the page itself holds the scale (an off-scale value does not submit); the server
    # checks again (tests/test_session_web.py posts off-scale values directly)
    ann.goto(f"{base}/p/{tok['ann']}")
    assert ann.text_content("#participant-name") == "Ann Archer"
    _fill(ann, {ITEMS[0]: "1", ITEMS[1]: "2", ITEMS[2]: "9"})
    ann.click("#round1-save")
    assert ann.locator(f"#score-{ITEMS[2]}").evaluate("el => el.validity.rangeOverflow")
    assert ann.locator("#message").count() == 0
    with SessionStore(served["state"]) as store:
        assert not any(store.get(served["sid"]).scores(1).values())
    _fill(ann, {ITEMS[2]: "6"})
    ann.click("#round1-save")
    assert ann.text_content("#message") == "Scores saved."
    assert ann.input_value(f"#score-{ITEMS[2]}") == "6"

    # Bob: blind, he sees none of Ann's scores; he disagrees on ITEMS[0] and submits
    bob.goto(f"{base}/p/{tok['bob']}")
    assert "Ann Archer" not in bob.text_content("body")
    assert bob.locator("#round1-scores").count() == 0
    assert all(bob.input_value(f"#score-{i}") == "" for i in ITEMS)
    _fill(bob, {ITEMS[0]: "6", ITEMS[1]: "2.5", ITEMS[2]: "5.5"})
    bob.click("#round1-submit")
    assert bob.text_content("#message") == "Scores submitted and locked."
    assert bob.is_disabled(f"#score-{ITEMS[0]}")

    # the review cannot start before Ann submits (unless forced)
    f.goto(f"{base}/f/{fac}")
    assert "not submitted" in f.text_content("#participant-ann")
    f.click("#begin-review-button")
    assert "ann" in f.text_content("#errors")
    assert f.text_content("#state") == "scoring"
    ann.click("#round1-submit")
    assert ann.text_content("#message") == "Scores submitted and locked."

    f.goto(f"{base}/f/{fac}")
    f.click("#begin-review-button")
    assert f.text_content("#message") == "Review started."
    rows = f.locator("#review tbody tr")
    # flagged first: ITEMS[0] (1 vs 6) has the largest spread
    assert rows.nth(0).get_attribute("id") == f"row-{ITEMS[0]}"
    assert "flagged" in rows.nth(0).get_attribute("class")
    flagged = [r.get_attribute("id")[4:] for r in rows.all()
               if "flagged" in (r.get_attribute("class") or "")]
    assert ITEMS[0] in flagged
    # the stylesheet is allowed by the page's CSP and applied
    assert rows.nth(0).evaluate("el => getComputedStyle(el).backgroundColor") == \
        "rgb(255, 244, 214)"

    # after review begins, Ann sees the scores side by side
    ann.goto(f"{base}/p/{tok['ann']}")
    assert "6" in ann.text_content(f"#r1-row-{ITEMS[0]}")

    # finishing with unresolved flagged items is refused with the items named
    f.click("#finish-button")
    assert ITEMS[0] in f.text_content("#errors")
    assert not served["src"].with_name("recipes-overall.v2.jsonl").exists()

    # a rubric change, then every flagged item resolved through its form
    f.fill("#note-text", "Score the recipe text, not the dish.")
    f.click("#note-button")
    assert "Score the recipe text, not the dish." in f.text_content("#notes")
    for n, item in enumerate(flagged):
        f.fill(f"#res-consensus-{item}", str(2 + n))
        f.fill(f"#res-rationale-{item}", f"agreed after discussion {n}")
        f.click(f"#res-button-{item}")
        assert f.text_content("#message") == "Resolution recorded."
    assert "agreed after discussion 0" in f.text_content(f"#resolution-{ITEMS[0]}")

    # the re-score round on the flagged items (pre-checked); both re-score, blind
    assert f.is_checked(f"#rescore-item-{ITEMS[0]}")
    f.click("#rescore-button")
    for page, who, value in ((ann, "ann", "2.25"), (bob, "bob", "2.75")):
        page.goto(f"{base}/p/{tok[who]}")
        for item in flagged:
            page.fill(f"#r2-score-{item}", value)
        page.click("#round2-submit")
        page.wait_for_selector("#round2-submitted")  # the click's navigation may still run
        assert page.locator("#round2-submitted").count() == 1
    assert "2.25" not in bob.text_content("body")  # Ann's round-2 score stays hidden
    f.goto(f"{base}/f/{fac}")
    assert f.locator("#eff-before").count() == 1 and f.locator("#eff-after").count() == 1

    # finish: the anchor set gains a version, and the page names it
    f.click("#finish-button")
    new_path = served["src"].with_name("recipes-overall.v2.jsonl")
    assert f.text_content("#output-path") == str(new_path)
    new = load_anchor_set(new_path)
    header = json.loads(new_path.read_text(encoding="utf-8").splitlines()[0])
    assert header["version"] == 2 and header["parent"] == "recipes-overall.jsonl"
    by_id = {it.id: it for it in new.items}
    assert by_id[ITEMS[0]].consensus == 2.0
    assert by_id[ITEMS[0]].rationale == "agreed after discussion 0"
    assert served["src"].is_file()  # the old version is kept

    # the calibration log, then close: read-only from then on
    log = f.request.get(f"{base}/f/{fac}/log")
    assert log.ok and "Score the recipe text, not the dish." in log.text()
    f.click("#close-button")
    f.wait_for_selector("#closed")
    assert f.locator("#closed").count() == 1
    assert f.locator("form").count() == 0
    with SessionStore(served["state"]) as store:
        assert store.get(served["sid"]).state == "closed"
    for ctx in (ann_ctx, bob_ctx, fac_ctx):
        ctx.close()


def test_after_submit_visibility_in_chromium(browser, served_async) -> None:
    """Asynchronous calibration: a participant sees nothing of a peer before submitting,
    and the peers who have submitted after; an observer's page has no form."""
    base, tok, fac = served_async["base"], served_async["tokens"], served_async["fac"]
    obs = re.search(r"observer token for lead: (\S+)", _cli(
        "session", "observer", served_async["sid"], "lead=Lee Lead", "--sees", "submitted",
        "--state-dir", served_async["state"], "--facilitator-token", fac)).group(1)
    ann_ctx, bob_ctx, obs_ctx = (browser.new_context() for _ in range(3))
    for ctx in (ann_ctx, bob_ctx, obs_ctx):
        ctx.set_default_timeout(10_000)
    ann, bob, lead = ann_ctx.new_page(), bob_ctx.new_page(), obs_ctx.new_page()

    bob.goto(f"{base}/p/{tok['bob']}")
    _fill(bob, {ITEMS[0]: "5.5", ITEMS[1]: "4.5", ITEMS[2]: "3.5"})
    bob.click("#round1-submit")
    assert bob.text_content("#message") == "Scores submitted and locked."
    assert bob.locator("#round1-scores").count() == 0  # nobody else has submitted yet

    # Ann has not submitted: nothing of Bob's, although he has
    ann.goto(f"{base}/p/{tok['ann']}")
    body = ann.text_content("body")
    assert "Bob Baker" not in body and "5.5" not in body
    assert ann.locator("#round1-scores").count() == 0
    _fill(ann, {ITEMS[0]: "1", ITEMS[1]: "2", ITEMS[2]: "3"})
    ann.click("#round1-save")
    assert ann.locator("#round1-scores").count() == 0  # saved is not submitted
    # the observer (submitted scores only) sees Bob's, not Ann's saved ones
    lead.goto(f"{base}/o/{obs}")
    assert lead.locator("form").count() == 0
    assert lead.locator(f"#r1-row-{ITEMS[0]} td").all_text_contents() == ["5.5"]

    ann.click("#round1-submit")
    assert ann.text_content("#message") == "Scores submitted and locked."
    assert ann.locator("#async-note").count() == 1
    assert ann.locator(f"#r1-row-{ITEMS[0]} td").all_text_contents() == ["1", "5.5"]
    assert "Bob Baker" in ann.text_content("#round1-scores")
    bob.goto(f"{base}/p/{tok['bob']}")
    assert bob.locator(f"#r1-row-{ITEMS[0]} td").all_text_contents() == ["1", "5.5"]
    lead.goto(f"{base}/o/{obs}")
    assert lead.locator(f"#r1-row-{ITEMS[0]} td").all_text_contents() == ["1", "5.5"]
    with SessionStore(served_async["state"]) as store:
        assert store.get(served_async["sid"]).state == "scoring"  # the review has not begun
    for ctx in (ann_ctx, bob_ctx, obs_ctx):
        ctx.close()


def test_cross_site_post_is_refused_in_chromium(browser, served, tmp_path: Path) -> None:
    """A page on another origin that knows a participant's URL (and even the CSRF field)
    cannot post scores: Chromium sends its Origin, the app answers 403, nothing is stored."""
    base, tok = served["base"], served["tokens"]
    page = browser.new_page()
    page.goto(f"{base}/p/{tok['ann']}")
    csrf = page.get_attribute('input[name="csrf"]', "value")
    page.close()

    evil_dir = tmp_path / "evil"
    evil_dir.mkdir()
    fields = "".join(f'<input name="score-{i}" value="1">' for i in ITEMS)
    pages = {"nocsrf.html": ("", ""), "leaked.html": (csrf, ""),
             # a page can make Chromium send "Origin: null"; that is refused too
             "null-origin.html": (csrf, '<meta name="referrer" content="no-referrer">')}
    for name, (token, head) in pages.items():
        (evil_dir / name).write_text(
            f'<html><head>{head}</head><body onload="document.forms[0].submit()">'
            f'<form method="post" action="{base}/p/{tok["ann"]}">'
            f'<input name="csrf" value="{token}">{fields}'
            f'<input name="action" value="submit"></form></body></html>', encoding="utf-8")
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(  # noqa: E731
        *a, directory=str(evil_dir), **k)
    evil = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:
        for name in pages:
            page = browser.new_page()
            with page.expect_response(lambda r: r.request.method == "POST") as resp:
                page.goto(f"http://127.0.0.1:{evil.server_port}/{name}")
            assert resp.value.status == 403, name
            page.close()
    finally:
        evil.shutdown()
        evil.server_close()
    with SessionStore(served["state"]) as store:
        session = store.get(served["sid"])
        assert not any(session.scores(1).values())
        assert not any(p.submitted for p in session.info.participants)


def _pick(page, answers: dict[tuple[str, str], str]) -> None:
    """Click the radio button of each (item, question) answer."""
    for (item, question), value in answers.items():
        page.check(f'input[type="radio"][name="c-{question}:{item}"][value="{value}"]')


def test_scorecard_session_with_radio_buttons_in_chromium(browser, served_card) -> None:
    base, tok, fac = served_card["base"], served_card["tokens"], served_card["fac"]
    ann_ctx, bob_ctx, fac_ctx = (browser.new_context() for _ in range(3))
    for ctx in (ann_ctx, bob_ctx, fac_ctx):
        ctx.set_default_timeout(10_000)
    ann, bob, f = ann_ctx.new_page(), bob_ctx.new_page(), fac_ctx.new_page()

    ann.goto(f"{base}/p/{tok['ann']}")
    # the item's input and output beside its questions; each question its own controls
    assert "Where is my parcel 1?" in ann.text_content("#item-c1")
    assert "Hello! It ships on day 1." in ann.text_content("#item-c1")
    assert ann.locator('input[name="c-greeted:c1"]').count() == 2
    assert ann.locator('input[name="c-tone:c1"]').count() == 6  # 1..5 and N/A
    assert ann.locator('input[name="c-resolved:c1"][value="NA"]').count() == 0
    _pick(ann, {("c1", "greeted"): "yes", ("c1", "tone"): "4", ("c1", "resolved"): "pass",
                ("c2", "greeted"): "no", ("c2", "tone"): "NA"})
    ann.click("#round1-save")
    assert ann.text_content("#message") == "Scores saved."
    assert ann.is_checked('input[name="c-tone:c2"][value="NA"]')  # shown again as saved
    ann.click("#round1-submit")  # c2 / resolved is missing: refused, named
    assert "c2 / resolved" in ann.text_content("#errors")
    _pick(ann, {("c2", "resolved"): "pass"})
    ann.click("#round1-submit")
    assert ann.text_content("#message") == "Scores submitted and locked."
    assert ann.is_disabled('input[name="c-greeted:c1"][value="yes"]')

    bob.goto(f"{base}/p/{tok['bob']}")
    assert bob.locator("input:checked").count() == 0  # blind: none of Ann's answers
    _pick(bob, {("c1", "greeted"): "yes", ("c1", "tone"): "2", ("c1", "resolved"): "fail",
                ("c2", "greeted"): "no", ("c2", "tone"): "NA", ("c2", "resolved"): "pass"})
    bob.click("#round1-submit")
    assert bob.text_content("#message") == "Scores submitted and locked."

    with SessionStore(served_card["state"]) as store:
        stored = store.get(served_card["sid"]).scores(1)
    assert stored == {
        "ann": {"c1": {"greeted": "yes", "tone": 4.0, "resolved": "pass"},
                "c2": {"greeted": "no", "tone": "NA", "resolved": "pass"}},
        "bob": {"c1": {"greeted": "yes", "tone": 2.0, "resolved": "fail"},
                "c2": {"greeted": "no", "tone": "NA", "resolved": "pass"}}}

    f.goto(f"{base}/f/{fac}")
    f.click("#begin-review-button")
    assert f.text_content("#message") == "Review started."
    flagged = [r.get_attribute("id") for r in f.locator("#review tbody tr.flagged").all()]
    # pass vs fail (SD 0.71 of a range of 1), then tone 4 vs 2 (SD 1.41 of a range of 4)
    assert flagged == ["row-c1-resolved", "row-c1-tone"]
    # per question: kind, flagged pairs, N/A counted apart (both said N/A on c2's tone)
    cells = [c.strip() for c in f.locator("#question-tone td").all_text_contents()]
    assert cells[:3] == ["numeric", "1", "2"]
    assert "N/A" in f.text_content("#row-c2-tone")
    f.select_option("#res-consensus-c1-resolved", "pass")
    f.fill("#res-rationale-c1-resolved", "the parcel was traced")
    f.click("#res-button-c1-resolved")
    assert f.text_content("#message") == "Resolution recorded."
    f.fill("#res-consensus-c1-tone", "3")
    f.click("#res-button-c1-tone")
    f.click("#finish-button")
    new_path = served_card["src"].with_name("support.v2.jsonl")
    assert f.text_content("#output-path") == str(new_path)
    card = load_scorecard(new_path)
    assert card.item("c1").consensus == {"resolved": "pass", "tone": 3.0}
    assert card.item("c1").rationale["resolved"] == "the parcel was traced"
    for ctx in (ann_ctx, bob_ctx, fac_ctx):
        ctx.close()
