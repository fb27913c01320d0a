"""Drift on scorecards: per-criterion rolling ICC and rater flags, the total, and
per-rater-per-question bias flags (library and ``judgecal drift``)."""

import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from harness.agreement import icc_oneway
from harness.anchors import (
    RatingsTable,
    load_ratings,
    load_scorecard,
    load_scorecard_ratings,
    total_ratings,
)
from harness.cli._drift import drift_cmd
from harness.drift import (
    bias_flags,
    detect_drift,
    detect_scorecard_drift,
    read_stream,
    window_bias,
)

CRITERIA = ("greet", "resolved", "tone")
RATERS = [f"r{j}" for j in range(5)]
WINDOW = 100

_app = typer.Typer()
_app.command(name="drift")(drift_cmd)
_app.command(name="noop")(lambda: None)  # keep "drift" a subcommand
runner = CliRunner()


def _stream(seed, n=400, harsh=None, sigma=0.3, missing=0.0):
    """Integer 1-5 scores on three questions; ``harsh`` = {(criterion, rater): shift}."""
    rng = np.random.default_rng(seed)
    harsh = harsh or {}
    items = [f"q{i}" for i in range(n)]
    tables = {}
    for c in CRITERIA:
        s = rng.uniform(1, 5, n)[:, None] + rng.normal(0, sigma, (n, len(RATERS)))
        for j, r in enumerate(RATERS):
            s[:, j] += harsh.get((c, r), 0.0)
        s = np.clip(np.round(s), 1, 5)
        if missing:
            s[rng.random(s.shape) < missing] = np.nan
        tables[c] = RatingsTable(items, list(RATERS), s, np.zeros(s.shape, dtype=bool),
                                 source=c)
    return tables


def _write_long(path, tables, only=None):
    """Long CSV, item by item (time order); ``only``: one criterion, without the column."""
    crits = [only] if only else list(tables)
    lines = ["item_id,rater_id,score" if only else "item_id,rater_id,criterion,score"]
    first = tables[crits[0]]
    for i, item in enumerate(first.item_ids):
        for c in crits:
            for j, r in enumerate(tables[c].rater_ids):
                v = tables[c].scores[i, j]
                if not np.isnan(v):
                    lines.append(f"{item},{r},{int(v)}" if only else f"{item},{r},{c},{int(v)}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _write_wide(path, tables):
    crits = list(tables)
    lines = ["item_id,rater_id," + ",".join(crits)]
    first = tables[crits[0]]
    for i, item in enumerate(first.item_ids):
        for j, r in enumerate(first.rater_ids):
            cells = [tables[c].scores[i, j] for c in crits]
            if all(np.isnan(v) for v in cells):
                continue
            lines.append(f"{item},{r}," + ",".join("" if np.isnan(v) else str(int(v))
                                                   for v in cells))
    path.write_text("\n".join(lines) + "\n")
    return path


def _json(args):
    res = runner.invoke(_app, ["drift", *map(str, args), "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


# ------------------------------------------------------------------------ bias flags


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rater_harsher_on_one_question_is_flagged_there_and_nowhere_else(seed):
    tables = _stream(seed, harsh={("tone", "r2"): -1.0})
    rep = detect_scorecard_drift(tables, window=WINDOW)
    assert [(f.criterion, f.rater, f.direction) for f in rep.flags] == \
        [("tone", "r2", "harsher")]
    flag = rep.flags[0]
    tone = rep.criteria["tone"]
    # harsher by a point in every window (a point less, but never below 1: about -0.9)
    assert flag.windows == [w.index for w in tone.windows]
    assert -1.0 <= flag.stream_bias < -0.8
    assert all(-1.0 <= b < -0.5 for b in flag.biases)
    # the same rater on the other questions: within a tenth of a point of the others
    for c in ("greet", "resolved"):
        mean, n = window_bias(rep.criteria[c])
        assert np.abs(mean[:, RATERS.index("r2")]).max() < 0.15
        assert (n == WINDOW).all()
    doc = rep.to_dict()
    (f,) = doc["rater_question_flags"]
    assert f["criterion"] == "tone" and f["rater"] == "r2" and f["only_question"] is True
    assert f["n_windows"] == len(tone.windows) and f["first"]["start"] == 0
    assert f["threshold"] == 0.5 and doc["settings"]["min_bias_items"] == 30


def test_bias_is_the_mean_loo_deviation_over_the_window():
    tables = _stream(3, n=300, harsh={("greet", "r4"): 0.8}, missing=0.3)
    rep = detect_drift(tables["greet"], window=WINDOW)
    mean, n = window_bias(rep)
    from harness.drift import loo_deviations

    dev = loo_deviations(tables["greet"].scores)
    for w in rep.windows:
        d = dev[w.start:w.stop]
        ok = ~np.isnan(d)
        assert np.array_equal(n[w.index], ok.sum(axis=0))
        assert np.allclose(mean[w.index], np.nanmean(d, axis=0))
    flags = bias_flags(rep, "greet", bias=0.5, min_items=10)
    assert [(f.rater, f.direction) for f in flags] == [("r4", "more lenient")]
    # a window needs min_items compared items: no window has 1,000
    assert bias_flags(rep, "greet", bias=0.5, min_items=1000) == []


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("missing", [0.0, 0.4])
def test_no_bias_no_question_flag(seed, missing):
    rep = detect_scorecard_drift(_stream(seed, missing=missing), window=WINDOW)
    assert rep.flags == []


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_min_bias_items_on_a_sparse_noisy_stream(seed):
    """Each rater scores 1 item in 5, with noise SD 0.8: at the default window (200) a
    window holds about 25 of a rater's items with someone else's score beside them. The
    default (30 items) flags no honest pair and finds a one-point lean; 10 items flag honest
    pairs on this stream (the reason the default is 30)."""
    quiet = _stream(seed, n=1000, sigma=0.8, missing=0.8)
    assert detect_scorecard_drift(quiet).flags == []
    assert detect_scorecard_drift(_stream(0, n=1000, sigma=0.8, missing=0.8),
                                  min_bias_items=10).flags != []
    harsh = _stream(seed, n=1000, sigma=0.8, missing=0.8, harsh={("tone", "r2"): -1.0})
    assert [(f.criterion, f.rater, f.direction) for f in detect_scorecard_drift(harsh).flags] \
        == [("tone", "r2", "harsher")]


def test_rater_harsher_on_every_question_is_flagged_on_each_and_not_only_question():
    harsh = {(c, "r1"): -1.0 for c in CRITERIA}
    rep = detect_scorecard_drift(_stream(4, harsh=harsh), window=WINDOW)
    assert sorted((f.criterion, f.rater) for f in rep.flags) == \
        [(c, "r1") for c in CRITERIA]
    assert {f["only_question"] for f in rep.to_dict()["rater_question_flags"]} == {False}


# ------------------------------------------------------------------------ per criterion


def test_each_criterion_equals_todays_drift_on_its_rows_alone(tmp_path):
    tables = _stream(5, harsh={("tone", "r2"): -1.0}, missing=0.2)
    f = _write_long(tmp_path / "card.csv", tables)
    stream = read_stream(f)
    assert list(stream) == list(CRITERIA)
    rep = detect_scorecard_drift(stream, window=WINDOW, source=str(f))
    doc = _json([f, "--window", WINDOW])
    assert list(doc["criteria"]) == list(CRITERIA)
    for c in CRITERIA:
        alone = _write_long(tmp_path / f"{c}.csv", tables, only=c)
        own = load_ratings(alone)
        single = detect_drift(own, window=WINDOW).to_dict()
        mine = rep.criteria[c].to_dict()
        assert mine.pop("source") == f"{f} ({c})" and single.pop("source") == str(alone)
        assert mine == single
        # through the CLI: today's JSON on the criterion's own file, key for key
        today = _json([alone, "--window", WINDOW])
        got = dict(doc["criteria"][c])
        got.pop("source"), today.pop("source"), today.pop("chart_files")
        assert got == today
        assert [w["icc"] for w in got["windows"]] == \
            [icc_oneway(own.scores[w["start"]:w["stop"]]).value
             for w in got["windows"]]
    assert doc["total"] is None
    assert "--scorecard" in doc["notes"][0]
    assert [(x["criterion"], x["rater"]) for x in doc["rater_question_flags"]] == \
        [("tone", "r2")]


def test_wide_file_gives_the_long_files_report(tmp_path):
    tables = _stream(6, harsh={("resolved", "r0"): 1.0}, missing=0.1)
    long = _json([_write_long(tmp_path / "long.csv", tables), "--window", WINDOW])
    wide = _json([_write_wide(tmp_path / "wide.csv", tables), "--window", WINDOW])
    for doc in (long, wide):
        for c in doc["criteria"].values():
            c.pop("source")
        doc.pop("source")
    assert wide == long
    assert [(x["criterion"], x["rater"], x["direction"])
            for x in wide["rater_question_flags"]] == [("resolved", "r0", "more lenient")]


def test_one_criterion_file_keeps_todays_json_shape(tmp_path):
    tables = _stream(7)
    plain = _json([_write_long(tmp_path / "plain.csv", tables, only="tone"), "--window", 100])
    one = {"tone": tables["tone"]}
    with_col = _json([_write_long(tmp_path / "col.csv", one), "--window", 100])
    assert set(with_col) == set(plain) and "criteria" not in with_col
    plain.pop("source"), with_col.pop("source")
    assert with_col == plain


# ------------------------------------------------------------------------ the total


HEADER = {
    "judgecal_anchor_set": 1, "name": "support-qa",
    "criteria": [
        {"id": "greet", "label": "Greeted?", "rubric": "r", "scale": {"min": 1, "max": 5}},
        {"id": "tone", "label": "Tone", "rubric": "r", "scale": {"min": 1, "max": 5}},
        {"id": "resolved", "label": "Resolved?", "rubric": "r",
         "scale": {"levels": ["fail", "pass"]}, "weight": 2, "critical": True,
         "pass_mark": "pass"},
    ],
}


def _card(tmp_path):
    item = {"id": "a1", "input": "i", "output": "o", "split": "calibration",
            "ratings": {"greet": {"x": 4}, "tone": {"x": 4}, "resolved": {"x": "pass"}}}
    p = tmp_path / "card.jsonl"
    p.write_text(json.dumps(HEADER) + "\n" + json.dumps(item) + "\n")
    return p


def _labelled_long(path, seed=8, n=300, harsh_tone=None):
    """greet, tone 1-5 and resolved pass/fail (fail when the rater's latent < 2)."""
    rng = np.random.default_rng(seed)
    lines = ["item_id,rater_id,criterion,score"]
    for i in range(n):
        base = rng.uniform(1, 5, 3)
        for r in RATERS:
            g, t, res = np.clip(np.round(base + rng.normal(0, 0.3, 3)), 1, 5)
            if r == harsh_tone:
                t = max(1, t - 1)
            lines += [f"q{i},{r},greet,{int(g)}", f"q{i},{r},tone,{int(t)}",
                      f"q{i},{r},resolved,{'fail' if res < 2 else 'pass'}"]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_total_from_the_scorecard_with_critical_failure(tmp_path):
    card = load_scorecard(_card(tmp_path))
    f = tmp_path / "r.csv"
    f.write_text("item_id,rater_id,criterion,score\n"
                 "q1,a,greet,5\nq1,a,tone,3\nq1,a,resolved,pass\n"
                 "q1,b,greet,5\nq1,b,tone,5\nq1,b,resolved,fail\n"
                 "q2,a,greet,1\nq2,a,resolved,pass\n"
                 "q2,b,greet,2\nq2,b,tone,4\nq2,b,resolved,pass\n")
    tables = read_stream(f, scorecard=card)
    t = total_ratings(tables, card.criteria)
    assert t.item_ids == ["q1", "q2"] and t.rater_ids == ["a", "b"] and t.scale == (0.0, 1.0)
    # (1 * 1 + 1 * 0.5 + 2 * 1) / 4; b failed the critical question; a missed tone on q2
    assert t.scores[0].tolist() == [0.875, 0.0]
    assert np.isnan(t.scores[1, 0]) and t.scores[1, 1] == pytest.approx((0.25 + 0.75 + 2) / 4)


def test_total_is_watched_with_scorecard_and_a_one_question_bias_stays_off_it(tmp_path):
    card_path = _card(tmp_path)
    f = _labelled_long(tmp_path / "r.csv", harsh_tone="r3")
    doc = _json([f, "--scorecard", card_path, "--window", WINDOW])
    assert list(doc["criteria"]) == ["greet", "tone", "resolved"]
    card = load_scorecard(card_path)
    tables = load_scorecard_ratings(f, card)
    total = total_ratings(tables, card.criteria)
    expected = detect_drift(total, window=WINDOW, far=0.25).to_dict()
    expected.pop("source"), doc["total"].pop("source")
    assert doc["total"] == expected
    assert doc["total"]["settings"]["far"] == 0.25 and doc["settings"]["bias"]["total"] == 0.125
    # a point lower on tone moves r3's total by 1/4 (weight) * 1/4 (a point of 1-5) =
    # 0.0625 at most, plus the noise of the window's mean: below the total's 0.125
    assert [(x["criterion"], x["rater"]) for x in doc["rater_question_flags"]] == \
        [("tone", "r3")]
    dev = window_bias(detect_drift(total, window=WINDOW))[0][:, RATERS.index("r3")]
    assert dev.min() > -0.1 and dev.max() < 0
    # at a lower threshold on the total, flagged there too (an honest rater's window mean
    # on the total reaches 0.04 here: the total's 0/1 critical jumps make it noisy)
    doc = _json([f, "--scorecard", card_path, "--window", WINDOW, "--bias", "total=0.05"])
    assert sorted((x["criterion"], x["rater"]) for x in doc["rater_question_flags"]) == \
        [("tone", "r3"), ("total", "r3")]


# ------------------------------------------------------------------------ CLI


def test_cli_table_output_and_fail_on_alert(tmp_path):
    f = _write_long(tmp_path / "card.csv", _stream(9, harsh={("tone", "r2"): -1.0}))
    res = runner.invoke(_app, ["drift", str(f), "--window", "100", "--min-far", "100",
                               "--charts", str(tmp_path / "ch")], terminal_width=200)
    assert res.exit_code == 0, res.output
    text = " ".join(res.stdout.split())
    assert "scorecard of 3 criteria" in text and "harsher" in text
    assert "r2 │ tone │ harsher" in text
    assert sorted(p.relative_to(tmp_path / "ch").as_posix()
                  for p in (tmp_path / "ch").rglob("*.png")) == \
        [f"{c}/control-{r}.png" for c in CRITERIA for r in RATERS]
    res = runner.invoke(_app, ["drift", str(f), "--window", "100", "--min-far", "100",
                               "--fail-on-alert"])
    assert res.exit_code == 1, res.output
    quiet = _write_long(tmp_path / "quiet.csv", _stream(9))
    res = runner.invoke(_app, ["drift", str(quiet), "--window", "100", "--min-far", "100",
                               "--fail-on-alert"])
    assert res.exit_code == 0 and "No rater biased on a question" in res.stdout


def test_cli_per_criterion_thresholds(tmp_path):
    f = _write_long(tmp_path / "card.csv", _stream(10, harsh={("tone", "r2"): -1.0}))
    doc = _json([f, "--window", WINDOW, "--far", "2", "--far", "tone=0.5", "--bias",
                 "tone=1.5"])
    assert {c: d["settings"]["far"] for c, d in doc["criteria"].items()} == \
        {"greet": 2.0, "resolved": 2.0, "tone": 0.5}
    assert doc["settings"]["bias"] == {"greet": 0.5, "resolved": 0.5, "tone": 1.5}
    assert doc["rater_question_flags"] == []


def test_cli_input_errors(tmp_path):
    card = _card(tmp_path)
    f = _labelled_long(tmp_path / "r.csv", n=5)

    def run(*args):
        res = runner.invoke(_app, ["drift", *map(str, args)])
        return res.exit_code, " ".join(res.output.split())

    # labels without the scorecard: not numbers, with file:line
    code, msg = run(f)
    assert code == 2 and f"{f}:4: score: score 'pass' is not a number" in msg
    bad = tmp_path / "bad.csv"
    bad.write_text("item_id,rater_id,criterion,score\nq1,a,greet,4\nq1,a,mood,3\n")
    code, msg = run(bad, "--scorecard", card)
    assert code == 2 and f"{bad}:3: criterion: unknown criterion 'mood'" in msg
    off = tmp_path / "off.csv"
    off.write_text("item_id,rater_id,criterion,score\nq1,a,greet,4\nq1,a,tone,7\n")
    code, msg = run(off, "--scale", "1:5")
    assert code == 2 and f"{off}:3: score" in msg and "off the scale" in msg
    assert run(off, "--scale", "1:5", "--scorecard", card)[0] == 2
    assert run(off, "--far", "mood=1")[0] == 2
    assert run(off, "--bias", "x")[0] == 2
    assert run(off, "--far", "1", "--far", "2")[0] == 2
    assert run(off, "--min-bias", "0")[0] == 2
    plain = _write_long(tmp_path / "plain.csv", _stream(0, n=20), only="tone")
    code, msg = run(plain, "--bias", "0.3")
    assert code == 2 and "several criteria" in msg
    assert run(plain, "--min-bias", "5")[0] == 2
    single = tmp_path / "single.jsonl"
    single.write_text(json.dumps({"judgecal_anchor_set": 1, "name": "s", "criterion": "c",
                                  "rubric": "r", "scale": {"min": 1, "max": 5},
                                  "consensus": "mean"}) + "\n"
                      + json.dumps({"id": "a", "input": "i", "output": "o",
                                    "split": "calibration", "ratings": {"x": 3}}) + "\n")
    code, msg = run(plain, "--scorecard", single)
    assert code == 2 and "one criterion" in msg
