"""Human calibration sessions: lifecycle, blindness, review, versions, log, CLI."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.anchors import load_anchor_set
from harness.reports import MISSING
from harness.sessions import (
    SessionError,
    SessionStore,
    calibration_log,
    effectiveness,
    outlier_raters,
    propose_items,
    rater_id,
    review,
    scores_visible_to,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RECIPES = PROJECT_ROOT / "anchors" / "recipes" / "recipes-overall.jsonl"


def small_set(tmp_path: Path, n: int = 4, na_allowed: bool = False) -> Path:
    """A 1–5 set of ``n`` items with two prior raters each."""
    header = {"judgecal_anchor_set": 1, "name": "tiny", "criterion": "helpfulness",
              "rubric": "Score 1-5.", "scale": {"min": 1, "max": 5, "labels": None},
              "consensus": "mean", "na_allowed": na_allowed}
    lines = [json.dumps(header)]
    for i in range(n):
        lines.append(json.dumps({
            "id": f"i{i}", "input": f"q{i}", "output": f"answer {i}",
            "ratings": {"r1": 1 + i % 5, "r2": 1 + i % 5}, "split": "calibration",
        }))
    p = tmp_path / "tiny.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


@pytest.fixture
def store(tmp_path: Path) -> SessionStore:
    s = SessionStore(tmp_path / "state")
    yield s
    s.close()


def started(store: SessionStore, path: Path, people=("ann", "bob", "cy"), **kw):
    session, fac = store.create(path, list(people), **kw)
    tokens = {p: session.invite(p, fac) for p in people}
    session.start_scoring(fac)
    return session, fac, tokens


def score_all(session, tokens, table: dict[str, dict[str, object]], submit=True):
    for p, scores in table.items():
        session.score(p, tokens[p], scores)
        if submit:
            session.submit(p, tokens[p])


# ------------------------------------------------------------------ lifecycle


def test_store_defaults_to_state_dir(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("JUDGECAL_STATE_DIR", str(tmp_path / "st"))
    s = SessionStore()
    assert s.path == tmp_path / "st" / "sessions.sqlite"
    mode = s._connect().execute("PRAGMA journal_mode").fetchone()[0]
    assert mode.lower() == "wal"
    s.close()


def test_forbidden_transitions(store: SessionStore, tmp_path: Path) -> None:
    path = small_set(tmp_path)
    session, fac = store.create(path, ["ann"])
    assert session.state == "draft"
    session.invite("ann", fac)
    with pytest.raises(SessionError, match=r"'draft' with 1 participant.*at least 2"):
        session.start_scoring(fac)
    with pytest.raises(SessionError, match="state 'draft'.*needs state 'scoring'"):
        session.begin_review(fac)
    with pytest.raises(SessionError, match="state 'draft'"):
        session.close(fac)
    session.invite(("bob", "Bob B."), fac)
    session.start_scoring(fac)
    with pytest.raises(SessionError, match="state 'scoring'.*needs state 'draft'"):
        session.start_scoring(fac)
    with pytest.raises(SessionError, match="participants can be added only in 'draft'"):
        session.invite("cy", fac)
    with pytest.raises(SessionError, match="not every participant has submitted"):
        session.begin_review(fac)
    with pytest.raises(SessionError, match="needs state 'review'"):
        session.resolve_item("i0", fac, consensus=3)
    with pytest.raises(SessionError, match="needs state 'review'"):
        session.mark_resolved(fac)


def test_uninvited_participant_blocks_start(store: SessionStore, tmp_path: Path) -> None:
    session, fac = store.create(small_set(tmp_path), ["ann", "bob"])
    session.invite("ann", fac)
    with pytest.raises(SessionError, match="not invited yet.*bob"):
        session.start_scoring(fac)


def test_force_review_lists_missing(store: SessionStore, tmp_path: Path) -> None:
    session, fac, tok = started(store, small_set(tmp_path, n=2))
    score_all(session, tok, {"ann": {"i0": 1, "i1": 2}})
    session.score("bob", tok["bob"], {"i0": 2})
    result = session.begin_review(fac, force=True)
    assert result.forced and result.missing == ["bob", "cy"]
    assert session.state == "review"
    assert session.info.forced_missing == ["bob", "cy"]
    with pytest.raises(SessionError, match="needs state 'scoring'"):
        session.score("bob", tok["bob"], {"i1": 2})


def test_tokens_required(store: SessionStore, tmp_path: Path) -> None:
    session, fac = store.create(small_set(tmp_path), ["ann", "bob"])
    with pytest.raises(SessionError, match="facilitator token"):
        session.invite("ann", "wrong")
    ta = session.invite("ann", fac)
    tb = session.invite("bob", fac)
    with pytest.raises(SessionError, match="facilitator token"):
        session.start_scoring("nope")
    session.start_scoring(fac)
    with pytest.raises(SessionError, match="wrong or missing token for participant 'ann'"):
        session.score("ann", tb, {"i0": 3})
    with pytest.raises(SessionError, match="wrong or missing token"):
        session.score("ann", "", {"i0": 3})
    session.score("ann", ta, {"i0": 3})
    # only hashes are stored
    raw = store.path.read_bytes() + Path(str(store.path) + "-wal").read_bytes()
    assert fac.encode() not in raw and ta.encode() not in raw


def test_submit_locks_and_needs_every_item(store: SessionStore, tmp_path: Path) -> None:
    session, fac, tok = started(store, small_set(tmp_path, n=2), people=("ann", "bob"))
    session.score("ann", tok["ann"], {"i0": 3})
    with pytest.raises(SessionError, match="has not scored 1 item.*i1"):
        session.submit("ann", tok["ann"])
    session.score("ann", tok["ann"], {"i0": 4, "i1": 2})
    session.submit("ann", tok["ann"])
    with pytest.raises(SessionError, match="already submitted.*re-score round"):
        session.score("ann", tok["ann"], {"i0": 5})


def test_bad_scores(store: SessionStore, tmp_path: Path) -> None:
    session, fac, tok = started(store, small_set(tmp_path, n=3), na_items=["i1"])
    with pytest.raises(SessionError, match="off the scale 1–5"):
        session.score("ann", tok["ann"], {"i0": 6})
    with pytest.raises(SessionError, match="not N/A-eligible"):
        session.score("ann", tok["ann"], {"i0": "NA"})
    with pytest.raises(SessionError, match="not a number"):
        session.score("ann", tok["ann"], {"i0": "four"})
    with pytest.raises(SessionError, match="not open for scoring"):
        session.score("ann", tok["ann"], {"zz": 3})
    session.score("ann", tok["ann"], {"i1": "N/A"})
    assert session.scores()["ann"] == {"i1": "NA"}


# ------------------------------------------------------------------ blindness, N/A


def test_blind_until_review(store: SessionStore, tmp_path: Path) -> None:
    session, fac, tok = started(store, small_set(tmp_path, n=2), people=("ann", "bob"))
    score_all(session, tok, {"ann": {"i0": 1, "i1": 2}}, submit=False)
    session.score("bob", tok["bob"], {"i0": 5})
    assert scores_visible_to(session, "ann") == {"ann": {"i0": 1.0, "i1": 2.0}}
    assert scores_visible_to(session, "bob") == {"bob": {"i0": 5.0}}
    session.submit("ann", tok["ann"])
    session.score("bob", tok["bob"], {"i1": 4})
    session.submit("bob", tok["bob"])
    assert scores_visible_to(session, "bob") == {"bob": {"i0": 5.0, "i1": 4.0}}
    session.begin_review(fac)
    vis = scores_visible_to(session, "ann")
    assert vis["bob"] == {"i0": 5.0, "i1": 4.0} and vis["ann"] == {"i0": 1.0, "i1": 2.0}


def test_na_excluded_from_spread_and_counted(store: SessionStore, tmp_path: Path) -> None:
    session, fac, tok = started(store, small_set(tmp_path, n=1), people=("a", "b", "c"),
                                na_items=True)
    score_all(session, tok, {"a": {"i0": 2}, "b": {"i0": 4}, "c": {"i0": "NA"}})
    session.begin_review(fac)
    (it,) = review(session).items
    assert it.n == 2 and it.n_na == 1 and it.n_missing == 0
    assert it.mean == 3.0 and it.median == 3.0
    assert it.sd == pytest.approx(2 ** 0.5)
    assert it.range == 2.0 and it.range_share == pytest.approx(0.5)


# ------------------------------------------------------------------ review


def test_outlier_rule_flags_1_1_4() -> None:
    assert outlier_raters({"a": 1, "b": 1, "c": 4}, 2.0) == ["c"]
    assert outlier_raters({"a": 1, "b": 2, "c": 2}, 2.0) == []
    assert outlier_raters({"a": 1, "b": 5}, 2.0) == []  # 2 raters: no outliers


def test_review_sorting_flags_outliers_baseline(store: SessionStore, tmp_path: Path) -> None:
    path = small_set(tmp_path, n=3)
    session, fac, tok = started(store, path, baseline={"i0": 2, "i1": 3},
                                baseline_label="judge:v3")
    assert session.info.threshold == pytest.approx(0.4)  # 10% of the 1–5 range
    score_all(session, tok, {
        "ann": {"i0": 3, "i1": 1, "i2": 4},
        "bob": {"i0": 3, "i1": 1, "i2": 4},
        "cy": {"i0": 3, "i1": 4, "i2": 5},
    })
    session.begin_review(fac)
    rv = review(session)
    assert [it.item_id for it in rv.items] == ["i1", "i2", "i0"]  # flagged, by SD
    assert [it.flagged for it in rv.items] == [True, True, False]
    i1 = rv.items[0]
    assert i1.outliers == ["cy"] and i1.scores == {"ann": 1.0, "bob": 1.0, "cy": 4.0}
    assert i1.baseline_delta == pytest.approx(2.0 - 3.0)
    assert rv.items[2].baseline_delta == pytest.approx(1.0)
    assert rv.items[1].baseline is None and rv.items[1].baseline_delta is None
    assert rv.icc.details["form"] == "ICC(2,1)"
    assert rv.icc.value is not None


def test_resolutions_and_required_for_flagged(store: SessionStore, tmp_path: Path) -> None:
    path = small_set(tmp_path, n=2)
    session, fac, tok = started(store, path)
    score_all(session, tok, {"ann": {"i0": 1, "i1": 2}, "bob": {"i0": 1, "i1": 2},
                             "cy": {"i0": 4, "i1": 2}})
    session.begin_review(fac)
    with pytest.raises(SessionError, match="flagged item.*without a resolution: i0"):
        session.mark_resolved(fac)
    with pytest.raises(SessionError, match="off the scale"):
        session.resolve_item("i0", fac, consensus=9)
    with pytest.raises(SessionError, match="facilitator token"):
        session.resolve_item("i0", "bad", consensus=1)
    session.resolve_item("i0", fac, consensus=1, rationale="fails the task", note="cy misread")
    session.resolve_item("i0", fac, consensus=2, rationale="partly useful", note="revised")
    res = session.resolutions()
    assert set(res) == {"i0"} and res["i0"].consensus == 2.0
    assert res["i0"].rationale == "partly useful" and res["i0"].note == "revised"
    assert review(session).items[0].resolution.consensus == 2.0


# ------------------------------------------------------------------ new anchor version


def test_new_anchor_version_written_and_loadable(store: SessionStore, tmp_path: Path) -> None:
    src = tmp_path / "anchors" / "recipes-overall.jsonl"
    src.parent.mkdir()
    shutil.copy(RECIPES, src)
    before = src.read_bytes()
    aset = load_anchor_set(src)
    ids = [it.id for it in aset.items[:3]]
    session, fac, tok = started(store, src, people=("ann", "bob"), item_ids=ids)
    score_all(session, tok, {"ann": dict(zip(ids, [1, 3, 6], strict=True)),
                             "bob": dict(zip(ids, [4, 3, 6], strict=True))})
    session.begin_review(fac)
    session.resolve_item(ids[0], fac, consensus=2, rationale="agreed: weak", note="n")
    path = session.mark_resolved(fac)
    assert path == src.parent / "recipes-overall.v2.jsonl"
    assert session.state == "resolved" and session.info.output_path == str(path)
    assert src.read_bytes() == before
    new = load_anchor_set(path)
    assert new.meta.version == 2 and new.meta.parent == "recipes-overall.jsonl"
    assert len(new.items) == len(aset.items)
    first = new.item(ids[0])
    assert first.consensus == 2.0 and first.rationale == "agreed: weak"
    assert first.ratings[rater_id(session.id, "ann")] == 1.0
    assert first.ratings[rater_id(session.id, "bob")] == 4.0
    old_first = aset.item(ids[0])
    assert set(old_first.ratings) < set(first.ratings)
    untouched = new.item(aset.items[5].id)
    assert untouched == aset.items[5]
    assert new.item(ids[1]).consensus == aset.item(ids[1]).consensus  # not resolved
    assert load_anchor_set(src).meta.version == 1 and load_anchor_set(src).meta.parent is None


def test_version_numbering_and_na(store: SessionStore, tmp_path: Path) -> None:
    path = small_set(tmp_path, n=2)
    session, fac, tok = started(store, path, people=("ann", "bob"), na_items=True)
    score_all(session, tok, {"ann": {"i0": "NA", "i1": 2}, "bob": {"i0": 3, "i1": 2}})
    session.begin_review(fac)
    out = session.mark_resolved(fac, tmp_path / "elsewhere" / "x.jsonl")
    new = load_anchor_set(out)
    assert new.meta.na_allowed and new.item("i0").ratings[rater_id(session.id, "ann")] == "NA"
    assert new.meta.parent == "../tiny.jsonl" and new.meta.version == 2



def test_losing_a_finish_race_leaves_no_orphan_version(store: SessionStore, tmp_path: Path,
                                                       monkeypatch) -> None:
    """Two finishes at once: the one that finds the session already resolved when it comes
    to record its file removes that file and raises."""
    import harness.sessions._version as version_mod

    path = small_set(tmp_path, n=2)
    session, fac, tok = started(store, path, people=("ann", "bob"))
    score_all(session, tok, {"ann": {"i0": 2, "i1": 2}, "bob": {"i0": 2, "i1": 2}})
    session.begin_review(fac)
    real = version_mod.write_anchor_version
    written: list[Path] = []

    def racing(sess, output=None):
        out = real(sess, output)
        written.append(out)
        with store._tx() as conn:  # the other finish wins while this one writes
            conn.execute("UPDATE sessions SET state = 'resolved' WHERE id = ?", (session.id,))
        return out

    monkeypatch.setattr(version_mod, "write_anchor_version", racing)
    with pytest.raises(SessionError, match="resolve the session"):
        session.mark_resolved(fac)
    assert written and not written[0].exists()
    assert path.is_file()

# ------------------------------------------------------------------ log, effectiveness


def _resolved_session(store: SessionStore, tmp_path: Path):
    path = small_set(tmp_path, n=4)
    session, fac, tok = started(store, path)
    score_all(session, tok, {
        "ann": {"i0": 1, "i1": 2, "i2": 4, "i3": 5},
        "bob": {"i0": 1, "i1": 4, "i2": 3, "i3": 5},
        "cy": {"i0": 3, "i1": 2, "i2": 5, "i3": 4},
    })
    session.begin_review(fac)
    return session, fac, tok


def test_effectiveness_before_after(store: SessionStore, tmp_path: Path) -> None:
    session, fac, tok = _resolved_session(store, tmp_path)
    eff0 = effectiveness(session)
    assert eff0.after is None and eff0.gain is None and eff0.gain_met is None
    with pytest.raises(SessionError, match="no re-score round"):
        session.score("ann", tok["ann"], {"i0": 1}, round=2)
    session.open_rescore(["i0", "i1", "i2", "i3", "i1"], fac)  # a repeat counts once
    assert session.info.rescore_items == ["i0", "i1", "i2", "i3"]
    for p, s in {"ann": {"i0": 1, "i1": 2, "i2": 4, "i3": 5},
                 "bob": {"i0": 1, "i1": 2, "i2": 4, "i3": 5},
                 "cy": {"i0": 1, "i1": 2, "i2": 4, "i3": 4}}.items():
        session.score(p, tok[p], s, round=2)
        session.submit(p, tok[p], round=2)
    eff = effectiveness(session)
    assert eff.before.value == pytest.approx(review(session).icc.value)
    assert eff.after.value > eff.before.value
    assert eff.gain == pytest.approx(eff.after.value - eff.before.value)
    assert eff.gain_met is True
    assert eff.anchor.value == pytest.approx(eff.after.value)  # all items re-scored
    assert eff.anchor_met is (eff.anchor.value >= 0.85)
    text = "\n".join(eff.summary())
    assert "target +0.1 met" in text and "target >= 0.85" in text
    with pytest.raises(SessionError, match="already submitted round 2"):
        session.score("ann", tok["ann"], {"i0": 3}, round=2)
    assert "| id | name | submitted | re-score submitted |" in calibration_log(session)
    assert "| cy | cy | yes | yes |" in calibration_log(session)


def test_calibration_log(store: SessionStore, tmp_path: Path) -> None:
    session, fac, tok = _resolved_session(store, tmp_path)
    session.add_note("Score 2 needs a partial answer, not just a topic match.", fac)
    flagged = [it.item_id for it in review(session).flagged]
    for item in flagged:
        session.resolve_item(item, fac, consensus=2, rationale=f"why {item}", note="talked")
    session.mark_resolved(fac)
    log = calibration_log(session)
    assert log.startswith("# Calibration log: tiny calibration")
    assert "Date: " in log and "| ann | ann | yes |" in log
    assert "## Items and spreads" in log and "**flagged**" in log
    assert f"| {flagged[0]} | 2 | why {flagged[0]} | talked |" in log
    assert "Score 2 needs a partial answer" in log
    assert "ICC(2,1) (two-way random, absolute agreement):" in log
    assert "anchor ICC(2,1)" in log
    assert "New anchor version" in log


def test_closed_is_read_only(store: SessionStore, tmp_path: Path) -> None:
    session, fac, tok = _resolved_session(store, tmp_path)
    for item in [it.item_id for it in review(session).flagged]:
        session.resolve_item(item, fac, consensus=3, rationale="r")
    session.mark_resolved(fac)
    session.close(fac)
    assert session.state == "closed"
    attempts = [
        lambda: session.invite("ann", fac),
        lambda: session.add_note("x", fac),
        lambda: session.resolve_item("i0", fac, consensus=3),
        lambda: session.score("ann", tok["ann"], {"i0": 3}),
        lambda: session.submit("ann", tok["ann"]),
        lambda: session.open_rescore(["i0"], fac),
        lambda: session.close(fac),
        lambda: session.start_scoring(fac),
    ]
    for attempt in attempts:
        with pytest.raises(SessionError, match="closed \\(read-only\\)"):
            attempt()
    assert "Calibration log" in calibration_log(session)  # reading still works


# ------------------------------------------------------------------ selection


def test_propose_items_covers_spectrum_and_spread() -> None:
    aset = load_anchor_set(RECIPES)
    picks = propose_items(aset, n=8)
    assert len(picks) == 8 and len({p.item_id for p in picks}) == 8
    first = {p.reasons[0] for p in picks}
    assert {"low", "high", "spread"} <= first
    top_sd = max(aset.items, key=lambda it: _sd(it.numeric_ratings().values()))
    assert top_sd.id in {p.item_id for p in picks}
    judge = {it.id: 6.0 for it in aset.items}
    picks_j = propose_items(aset, n=12, judgments=judge)
    assert any(p.reasons[0] == "disagreement" for p in picks_j)


def _sd(values) -> float:
    import statistics

    vals = list(values)
    return statistics.stdev(vals) if len(vals) > 1 else 0.0


def test_create_rejects_unknown_items(store: SessionStore, tmp_path: Path) -> None:
    with pytest.raises(SessionError, match="unknown item id"):
        store.create(small_set(tmp_path), ["a", "b"], item_ids=["nope"])
    with pytest.raises(SessionError, match="participant id"):
        store.create(small_set(tmp_path), ["a b"])


# ------------------------------------------------------------------ CLI


def test_cli_happy_path(tmp_path: Path) -> None:
    from harness.cli._session import session_app

    runner = CliRunner()
    src = tmp_path / "recipes-overall.jsonl"
    shutil.copy(RECIPES, src)
    before = src.read_bytes()
    ids = [it.id for it in load_anchor_set(src).items[:3]]
    env = {"JUDGECAL_STATE_DIR": str(tmp_path / "state")}

    def run(*args: str, code: int = 0):
        res = runner.invoke(session_app, list(args), env=env)
        assert res.exit_code == code, res.output
        return res.output

    created = run("create", str(src), "-p", "ann=Ann A.", "-p", "bob",
                  *[a for i in ids for a in ("--item", i)])
    sid = re.search(r"created session (\w+)", created).group(1)
    fac = re.search(r"facilitator token: (\S+)", created).group(1)
    tokens = {}
    for p in ("ann", "bob"):
        tokens[p] = re.search(r"token for \w+: (\S+)",
                              run("invite", sid, p, "--facilitator-token", fac)).group(1)
    run("start", sid, "--facilitator-token", "wrong", code=2)
    run("start", sid, "--facilitator-token", fac)
    run("score", sid, "--participant", "ann", "--token", tokens["bob"], f"{ids[0]}=2", code=2)
    run("score", sid, "--participant", "ann", "--token", tokens["ann"],
        f"{ids[0]}=1", f"{ids[1]}=3", f"{ids[2]}=6", "--submit")
    csv_file = tmp_path / "bob.csv"
    csv_file.write_text("item_id,score\n" + "".join(
        f"{i},{s}\n" for i, s in zip(ids, [5, 3, 6], strict=True)), encoding="utf-8")
    run("export", sid, code=2)  # blind: no log before review
    out = run("score", sid, "--participant", "bob", "--token", tokens["bob"],
              "--csv", str(csv_file), "--submit")
    assert "3/3 items scored" in out
    out = run("review", sid, "--facilitator-token", fac)
    assert "1 flagged" in out and "ICC(2,1)" in out
    assert out.index(ids[0]) < out.index(ids[1])  # flagged first
    run("resolve", sid, "--finish", "--facilitator-token", fac, code=2)  # flagged open
    run("note", sid, "Clarify score 3.", "--facilitator-token", fac)
    run("resolve", sid, ids[0], "--score", "3", "--rationale", "middling", "--note", "n",
        "--facilitator-token", fac)
    out = run("resolve", sid, "--finish", "--facilitator-token", fac)
    new_path = tmp_path / "recipes-overall.v2.jsonl"
    assert str(new_path) in out.replace("\n", "")
    assert load_anchor_set(new_path).item(ids[0]).consensus == 3.0
    assert src.read_bytes() == before
    run("close", sid, "--facilitator-token", fac)
    run("resolve", sid, ids[1], "--score", "3", "--facilitator-token", fac, code=2)
    log_path = tmp_path / "log.md"
    run("export", sid, "-o", str(log_path))
    log = log_path.read_text(encoding="utf-8")
    assert "Ann A." in log and "Clarify score 3." in log and "middling" in log

    # list: both sessions, newest first, with state, submissions and the new version
    second = re.search(r"created session (\w+)", run("create", str(src), "-p", "ann",
                                                      "-p", "bob")).group(1)
    listed = json.loads(run("list", "--json"))
    assert [s["id"] for s in listed] == [second, sid]
    assert listed[0]["state"] == "draft" and listed[1]["state"] == "closed"
    assert listed[1]["n_items"] == 3 and listed[1]["output_path"] == str(new_path)
    assert [p["submitted"] for p in listed[1]["participants"]] == [True, True]
    table = " ".join(run("list").split())
    assert sid in table and second in table and "closed" in table and "2/2" in table
    # no due date: the dash every table uses for a missing value (was an en dash)
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[1:-1]]
            for line in run("list").splitlines() if line.startswith("│")}
    assert rows[second][5] == rows[sid][5] == MISSING and "–" not in table


def test_cli_list_empty_store(tmp_path: Path) -> None:
    from harness.cli._session import session_app

    res = CliRunner().invoke(session_app, ["list", "--state-dir", str(tmp_path / "s")])
    assert res.exit_code == 0 and "no sessions yet" in res.output


def test_cli_forbidden_action_exits_2(tmp_path: Path) -> None:
    from harness.cli._session import session_app

    runner = CliRunner()
    env = {"JUDGECAL_STATE_DIR": str(tmp_path / "state")}
    res = runner.invoke(session_app, ["create", str(small_set(tmp_path)), "-p", "solo"],
                        env=env)
    assert res.exit_code == 0, res.output
    sid = re.search(r"created session (\w+)", res.output).group(1)
    fac = re.search(r"facilitator token: (\S+)", res.output).group(1)
    runner.invoke(session_app, ["invite", sid, "solo", "--facilitator-token", fac], env=env)
    res = runner.invoke(session_app, ["start", sid, "--facilitator-token", fac], env=env)
    assert res.exit_code == 2
    assert "at least 2" in res.output
    res = runner.invoke(session_app, ["review", "nosuch"], env=env)
    assert res.exit_code == 2


# a value that would be live HTML, a link, an image or emphasis if it reached the Markdown raw
HOSTILE = ("<script>alert(1)</script><img src=x onerror=alert(2)> [click](javascript:alert(3)) "
           "![i](http://e.example/x.png) <http://e.example> **b** _i_ `c` ~~s~~ a|b &amp; \\*")


def test_calibration_log_escapes_user_text(store: SessionStore, tmp_path: Path) -> None:
    """Every user-controlled value of the log comes out inert and readable: rendered as
    CommonMark (with tables), it is the user's text, with no tag, link, image or emphasis."""
    from html import escape

    from markdown_it import MarkdownIt

    folder = tmp_path / "d<script>`x`&[l](j:a)"
    folder.mkdir()
    ids = [f"i{i}<b>|_{i}_" for i in range(3)]
    header = {"judgecal_anchor_set": 1, "name": HOSTILE, "criterion": "helpfulness",
              "rubric": HOSTILE, "scale": {"min": 1, "max": 5, "labels": None},
              "consensus": "mean", "na_allowed": False}
    lines = [json.dumps(header)] + [
        json.dumps({"id": item, "input": HOSTILE, "output": HOSTILE,
                    "ratings": {"r1": 3, "r2": 3}, "split": "calibration"}) for item in ids]
    path = folder / "set.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    session, fac = store.create(
        path, [("ann", HOSTILE), ("bob", "Bob"), ("cy", "Cy")], name=HOSTILE,
        rubric_label=HOSTILE, baseline={i: 3.0 for i in ids}, baseline_label=HOSTILE)
    tok = {p: session.invite(p, fac) for p in ("ann", "bob", "cy")}
    session.start_scoring(fac)
    score_all(session, tok, {"ann": dict.fromkeys(ids, 1), "bob": dict.fromkeys(ids, 5),
                             "cy": dict.fromkeys(ids, 5)})
    session.begin_review(fac)
    session.add_note(HOSTILE, fac)
    session.add_note("first line\n# not a heading\n<script>x</script>\n[r]: http://e.example", fac)
    for item in ids:
        session.resolve_item(item, fac, consensus=3, rationale=HOSTILE, note=HOSTILE)
    session.mark_resolved(fac)

    log = calibration_log(session)
    # no raw tag, autolink or comment, but in the code spans of the two paths
    raw = [ln for ln in log.splitlines() if "<" in ln]
    assert [ln.split(":")[0] for ln in raw] == ["- Anchor set", "- New anchor version"]
    assert all(ln.endswith("``)") or ln.endswith("``") for ln in raw)
    html = MarkdownIt("commonmark").enable("table").render(log)
    for tag in ("<script", "<img", "<a ", "<em>", "<del>", "<h2>first", "<h1>not"):
        assert tag not in html
    assert re.findall(r"<strong>(.*?)</strong>", html) == ["flagged"] * len(ids)
    assert re.findall(r"<h1>(.*?)</h1>", html) == [f"Calibration log: {escape(HOSTILE)}"]
    shown = escape(HOSTILE, quote=False)
    # the session name, participant name, rubric label, baseline label, anchor-set name,
    # note, and each item's rationale and note: the user's text, verbatim
    assert html.count(shown) >= 1 + 1 + 1 + 1 + 1 + 1 + 2 * len(ids)
    for item in ids:
        assert f"<td>{escape(item)}</td>" in html
    assert f"<code>{escape(str(path))}</code>" in html
    assert "first line # not a heading &lt;script&gt;x&lt;/script&gt; [r]: http://e.example" \
        in html
