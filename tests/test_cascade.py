"""Cascaded selective evaluation: a cheaper judge first, a stronger one for what it abstains
on, humans last. Thresholds on a case computed by hand, the guarantee by simulation, the CLI
on two recorded judges, the HTML report."""

from __future__ import annotations

import base64
import csv
import json
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import numpy as np
import pytest

from harness.selective import (
    cascade_assign,
    cascade_outcome,
    cascade_thresholds,
    clopper_pearson_upper,
    fixed_sequence_threshold,
    stage_delta,
)

# --------------------------------------------------------------------------- arrays


def test_each_stage_is_calibrated_on_the_items_that_reach_it():
    # target 0.8, delta 0.2: at least 8 kept items (0.8**8 = 0.168 <= 0.2 < 0.8**7).
    # cheap: 10 right at 0.99..0.90, then 11 at 0.50..0.40 (the first of them wrong):
    # 8, 9, 10 kept without error pass; 11 with one error fails (upper 0.249 > 0.2).
    cheap = np.r_[0.99 - 0.01 * np.arange(10), 0.50 - 0.01 * np.arange(11)]
    cheap_ok = np.r_[np.ones(10, bool), np.zeros(11, bool)]
    # strong: wrong and sure on the 10 items the cheap judge keeps (never reach it), right
    # at 0.95..0.87 on 9 of the 11 that reach it, wrong at 0.30, 0.29 on the last two
    strong = np.r_[np.full(10, 0.99), 0.95 - 0.01 * np.arange(9), [0.30, 0.29]]
    strong_ok = np.r_[np.zeros(10, bool), np.ones(9, bool), np.zeros(2, bool)]
    cal = cascade_thresholds([cheap, strong], [cheap_ok, strong_ok], target=0.8, delta=0.2)
    assert clopper_pearson_upper(1, 11, 0.2) > 0.2 >= clopper_pearson_upper(0, 10, 0.2)
    assert cal.thresholds == [pytest.approx(0.90), pytest.approx(0.87)]
    one, two = cal.stages
    assert (one.calibration.n, one.calibration.n_kept) == (21, 10)
    # stage 2 saw only the 11 items the cheap judge abstained on: 8, 9 kept pass, 10 kept
    # with one error fails (upper 0.271)
    assert (two.calibration.n, two.calibration.n_kept) == (11, 9)
    assert [s.n_kept for s in two.steps] == [8, 9, 10]
    # on every item the strong judge's first test would fail (its 10 sure items are wrong)
    assert not fixed_sequence_threshold(strong, strong_ok, target=0.8, delta=0.2).certified
    assert cal.assign([cheap, strong]).tolist() == [0] * 10 + [1] * 9 + [-1, -1]
    o = cascade_outcome([cheap, strong], [cheap_ok, strong_ok], cal.thresholds, target=0.8)
    assert (o.overall.n, o.overall.n_kept, o.overall.agreement, o.n_escalated) == \
        (21, 19, 1.0, 2)
    assert [(s.n_reached, s.outcome.n_kept) for s in o.stages] == [(21, 10), (11, 9)]
    assert [s.share_kept for s in o.stages] == [pytest.approx(10 / 21), pytest.approx(9 / 21)]
    assert cal.union_confidence == pytest.approx(0.6)  # 1 - 2 x 0.2


def test_joint_splits_delta_and_an_uncertified_stage_passes_everything_on():
    assert stage_delta(0.1, 3, joint=True) == pytest.approx(0.1 / 3)
    # the first stage wrong on all 15 items certifies nothing and keeps nothing: the second
    # sees every item, at delta 0.05 each: upper(0, 15, 0.05) = 0.181 <= 0.2 certifies,
    # where 13 items would not (0.206)
    cal = cascade_thresholds([[0.9] * 15, [0.8] * 15], [[False] * 15, [True] * 15],
                             target=0.8, delta=0.1, joint=True)
    assert cal.thresholds == [None, 0.8] and cal.stage_delta == pytest.approx(0.05)
    assert cal.stages[1].calibration.n == 15 and cal.stages[1].min_kept == 14
    assert clopper_pearson_upper(0, 13, 0.05) > 0.2 >= clopper_pearson_upper(0, 15, 0.05)
    assert cascade_assign([[np.nan, 0.9], [0.8, np.nan]], [0.5, 0.5]).tolist() == [1, 0]


def _population(rng, n):
    """Two independent calibrated judges: confidence c ~ U(0.5, 1), P(agree | c) = c. The
    risk of what stage j keeps at lambda_j is (1 - lambda_j) / 2, whatever reached it."""
    c = 0.5 + 0.5 * rng.random((2, n))
    return c, rng.random((2, n)) < c


def test_the_guarantee_holds_in_simulation():
    target, delta, reps, n = 0.8, 0.1, 200, 200
    rng = np.random.default_rng(20250217)
    held = {False: np.zeros(3), True: np.zeros(3)}  # stage 1, stage 2, union
    coverage = {False: [], True: []}
    single = []
    for _ in range(reps):
        c, ok = _population(rng, n)
        for joint in (False, True):
            cal = cascade_thresholds(list(c), list(ok), target=target, delta=delta,
                                     joint=joint)
            lam = [1.0 if t is None else t for t in cal.thresholds]
            p1 = 2 * (1 - lam[0])                    # share kept by stage 1
            p2 = (1 - p1) * 2 * (1 - lam[1])         # reaches stage 2 and kept there
            risks = [(1 - lam[0]) / 2, (1 - lam[1]) / 2]
            union = (p1 * risks[0] + p2 * risks[1]) / (p1 + p2) if p1 + p2 else 0.0
            held[joint] += [risks[0] <= 1 - target, risks[1] <= 1 - target,
                            union <= 1 - target + 1e-12]
            coverage[joint].append(p1 + p2)
        t = fixed_sequence_threshold(c[0], ok[0], target=target, delta=delta)
        single.append(0.0 if t.threshold is None else 2 * (1 - t.threshold))
    rates = {k: v / reps for k, v in held.items()}
    # the paper's rule: each stage at delta, each stage's guarantee at 1 - delta; the
    # union's is bounded by 1 - 2 delta and holds more often
    assert rates[False][0] >= 1 - delta and rates[False][1] >= 1 - delta
    assert rates[False][2] >= 1 - delta
    # joint: each stage at delta / 2, the union's guarantee at 1 - delta (and more)
    assert rates[True][2] >= 1 - delta and rates[True][2] >= rates[False][2]
    # the second judge adds coverage over the first alone; joint costs some
    assert np.mean(coverage[False]) > np.mean(single) + 0.1
    assert np.mean(coverage[True]) < np.mean(coverage[False])


# --------------------------------------------------------------------------- CLI


def _cli(*args):
    from typer.testing import CliRunner

    from harness.cli import app

    return CliRunner().invoke(app, [*map(str, args)])


def _experiment(tmp_path, project_root, name="cheap", anchors="anchors/recipes/"
                "recipes-overall.jsonl"):
    p = tmp_path / f"{name}.toml"
    p.write_text(f"""
[experiment]
name = "{name}"

[anchors]
path = "{project_root / anchors}"

[prompt]
name = "recipes-overall"
version = "v1"
dir = "{project_root / 'prompts'}"

[judge]
provider = "openai"
model = "{name}-model"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "JC_CASCADE_KEY"

[state]
dir = "{tmp_path / 'state'}"
""")
    return p


def _plan(demo):
    """Per split (items sorted by id, index i): each judge's (right, confidence).

    Calibration (21): the cheap judge right at 0.99 - 0.01 i for i < 10, wrong at
    0.50 - 0.01 (i - 10) after; the strong judge wrong and sure (0.99) for i < 10, right at
    0.95 - 0.01 (i - 10) for 10 <= i < 19, wrong at 0.30, 0.29 on the last two.
    Holdout (31): cheap right at 0.99 - 0.01 i for i < 15, wrong at 0.45 - 0.005 (i - 15)
    after; strong wrong and sure for i < 10, right at 0.95 - 0.005 (i - 10) for
    10 <= i < 25 except i = 24 (wrong at 0.88), wrong at 0.5 for i >= 25.
    """
    out = {}
    for split in ("calibration", "holdout"):
        ids = sorted(it.id for it in demo.split(split).items)
        for i, item in enumerate(ids):
            if split == "calibration":
                cheap = (True, 0.99 - 0.01 * i) if i < 10 else (False, 0.50 - 0.01 * (i - 10))
                strong = ((False, 0.99) if i < 10 else (True, 0.95 - 0.01 * (i - 10))
                          if i < 19 else (False, 0.30 - 0.01 * (i - 19)))
            else:
                cheap = (True, 0.99 - 0.01 * i) if i < 15 else (False, 0.45 - 0.005 * (i - 15))
                strong = ((False, 0.99) if i < 10 else (i != 24, 0.95 - 0.005 * (i - 10))
                          if i < 25 else (False, 0.5))
            out[item] = {"split": split, "index": i, "cheap": cheap, "strong": strong}
    return out


def _judgments(tmp_path, demo):
    consensus = demo.consensus()
    path = tmp_path / "two-judges.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["item_id", "judge", "score", "confidence"])
        for item, p in _plan(demo).items():
            c = consensus[item]
            for judge in ("cheap", "strong"):
                right, conf = p[judge]
                w.writerow([item, judge, c if right else (1.0 if c > 3.5 else 6.0),
                            round(conf, 3)])
    return path


def _ids(demo, split, indexes):
    ids = sorted(it.id for it in demo.split(split).items)
    return {ids[i] for i in indexes}


def test_cli_cascade_on_two_recorded_judges(tmp_path, project_root, demo):
    cheap, strong = _experiment(tmp_path, project_root), _experiment(tmp_path, project_root,
                                                                     "strong")
    judged = _judgments(tmp_path, demo)
    esc, page = tmp_path / "esc.csv", tmp_path / "report" / "cascade.html"
    res = _cli("selective", cheap, "--then", strong, "--judgments", judged, "--judge", "cheap",
               "--judge", "strong", "--target", "0.8", "--delta", "0.2", "--json",
               "--escalations", esc, "--report", page, "--no-track")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["cascade"] is True and doc["joint"] is False
    assert doc["thresholds"] == [pytest.approx(0.90), pytest.approx(0.87)]
    assert doc["stage_delta"] == 0.2 and doc["union_confidence"] == pytest.approx(0.6)
    assert [s["label"] for s in doc["stages"]] == ["cheap (cheap)", "strong (strong)"]
    assert [s["confidence"] for s in doc["stages"]] == ["recorded", "recorded"]
    cal, hold = doc["calibration"], doc["holdout"]
    # calibration: the cheap judge keeps 10, the strong 9 of the 11 left, 2 to humans
    assert (cal["n"], cal["n_kept"], cal["agreement"], cal["n_escalated"],
            cal["guarantee_held"]) == (21, 19, 1.0, 2, True)
    assert [(s["n_reached"], s["n_kept"], s["agreement"]) for s in cal["stages"]] == \
        [(21, 10, 1.0), (11, 9, 1.0)]
    # holdout: cheap keeps its 10 items at >= 0.90; strong keeps 15 of the 21 left (0.95 ..
    # 0.88 >= 0.87), one of them wrong; 6 to humans
    assert (hold["n"], hold["n_kept"], hold["n_escalated"]) == (31, 25, 6)
    assert hold["agreement"] == pytest.approx(24 / 25) and hold["guarantee_held"] is True
    assert hold["coverage"] == pytest.approx(25 / 31)
    assert hold["escalated_share"] == pytest.approx(6 / 31)
    assert [(s["n_reached"], s["n_kept"]) for s in hold["stages"]] == [(31, 10), (21, 15)]
    assert hold["stages"][1]["agreement"] == pytest.approx(14 / 15)
    assert hold["stages"][1]["guarantee_held"] is True
    # cost: each stage is called on the items that reach it (a judgments file: no tokens)
    assert [s["cost"]["calls"] for s in cal["stages"]] == [21, 11]
    assert [s["cost"]["calls"] for s in hold["stages"]] == [31, 21]
    assert cal["cost"] == {"calls": 32, "input_tokens": None, "output_tokens": None,
                           "cost": None}
    assert hold["cost_last_stage_alone"]["calls"] == 31
    # what reaches humans
    with esc.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == doc["n_escalated"] == 8
    assert {r["item_id"] for r in rows if r["split"] == "calibration"} == \
        _ids(demo, "calibration", [19, 20])
    assert {r["item_id"] for r in rows if r["split"] == "holdout"} == \
        _ids(demo, "holdout", range(25, 31))
    assert all(r["reason"].startswith("every stage abstained") for r in rows)
    res = _cli("session", "create", project_root / "anchors/recipes/recipes-overall.jsonl",
               "-p", "alice", "--from-escalations", esc, "--state-dir", tmp_path / "s")
    assert res.exit_code == 0 and "8 items" in res.output, res.output
    # the HTML report: the stage table and the curve as SVG
    parsed = _parse(page.read_text(encoding="utf-8"))
    assert "Selective evaluation — cheap → strong" in parsed.title
    assert parsed.tables >= 4 and "stages-table" in parsed.ids
    _check_svg(parsed)

    # the library mirrors the CLI
    from harness.experiments import load_experiment
    from harness.selective import cascade_check

    report = cascade_check([load_experiment(cheap), load_experiment(strong)], target=0.8,
                           delta=0.2, judgments=[judged], judges=["cheap", "strong"])
    assert json.loads(json.dumps(report.to_dict(), default=str)) == \
        {k: v for k, v in doc.items() if k not in ("escalations", "report")}


def test_cli_cascade_prints_tables_and_refuses_bad_input(tmp_path, project_root, demo):
    cheap, strong = _experiment(tmp_path, project_root), _experiment(tmp_path, project_root,
                                                                     "strong")
    judged = _judgments(tmp_path, demo)
    base = ["selective", cheap, "--then", strong, "--judgments", judged, "--delta", "0.2"]
    res = _cli(*base, "--judge", "cheap", "--judge", "strong", "--no-track")
    assert res.exit_code == 0, res.output
    assert "Per stage" in res.output and "escalated to humans: 8 item(s)" in res.output
    res = _cli(*base, "--judge", "cheap", "--judge", "strong", "--joint", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["stage_delta"] == pytest.approx(0.1)
    out = tmp_path / "never.csv"
    for args, message in ((["--judge", "cheap"], "one judge per stage"),
                          (["--judge", "a", "--judge", "b"], "b"),
                          (["--judge", "cheap", "--judge", "strong", "--report",
                            tmp_path / "x.txt"], ".html")):
        res = _cli(*base, *args, "--escalations", out)
        assert res.exit_code == 2 and message in res.output, res.output
    res = _cli("selective", cheap, "--judgments", judged, "--judge", "cheap", "--joint")
    assert res.exit_code == 2 and "--joint" in res.output
    # a stage on another anchor set
    other = tmp_path / "other.jsonl"
    lines = (project_root / "anchors/recipes/recipes-overall.jsonl").read_text().splitlines()
    other.write_text("\n".join(lines[:-3]) + "\n")
    odd = _experiment(tmp_path, project_root, "odd", anchors=other)
    res = _cli("selective", cheap, "--then", odd, "--judgments", judged, "--judge", "cheap",
               "--judge", "strong", "--delta", "0.2", "--escalations", out)
    assert res.exit_code == 2 and "different anchors" in res.output, res.output
    assert not out.exists()


# --------------------------------------------------------------------------- HTML report


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.title, self.tables, self.images, self.ids = "", 0, [], set()
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        self._in_title = tag == "title"
        self.tables += tag == "table"
        if tag == "img":
            self.images.append(a)

    def handle_data(self, data):
        if self._in_title:
            self.title += data

    def handle_endtag(self, tag):
        self._in_title = False


def _parse(text):
    page = _Page()
    page.feed(text)
    return page


def _check_svg(page):
    svgs = [im for im in page.images if im["src"].startswith("data:image/svg+xml;base64,")]
    assert len(svgs) == 1
    root = ET.fromstring(base64.b64decode(svgs[0]["src"].split(",", 1)[1]))
    assert root.tag.endswith("svg")


def test_report_of_one_judge(tmp_path, project_root, demo):
    """``--report`` without a cascade: the split table, the tests and the curve."""
    consensus = demo.consensus()
    judged = tmp_path / "one.csv"
    with judged.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["item_id", "score", "confidence"])
        for item, p in _plan(demo).items():
            right, conf = p["cheap"]
            c = consensus[item]
            w.writerow([item, c if right else (1.0 if c > 3.5 else 6.0), round(conf, 3)])
    page = tmp_path / "one.html"
    res = _cli("selective", _experiment(tmp_path, project_root), "--judgments", judged,
               "--delta", "0.2", "--report", page, "--no-track")
    assert res.exit_code == 0, res.output
    assert f"HTML report: {page}" in res.output.replace("\n", "")
    text = page.read_text(encoding="utf-8")
    parsed = _parse(text)
    assert {"kept-table", "verdict", "curve", "tests"} <= parsed.ids
    assert "stages-table" not in parsed.ids
    assert "Threshold: 0.9" in text and '<link rel="stylesheet"' not in text
    _check_svg(parsed)
    # one way to say a figure: the console and the page say the holdout the same; the
    # tests' risks and bounds are numbers compared with a bar (trailing zeros dropped)
    cells = ["holdout", "31", "10", "32.3%", "100.0%", "[69.2%, 100.0%]", "yes"]
    line = next(x for x in res.output.splitlines() if "holdout" in x)
    assert [c.strip() for c in line.strip("│ ").split("│")] == cells
    assert ("<td>holdout</td>" + "".join(f'<td class="num">{c}</td>' for c in cells[1:5])
            + "<td>[69.2%, 100.0%]</td><td>yes</td>") in text
    assert '<td class="num">0.091</td><td class="num">0.249</td><td class="num">0.322</td>' \
        in text


@pytest.mark.parametrize("cascade", [False, True])
def test_a_live_judge_without_a_confidence_signal_is_refused_before_any_call(
        tmp_path, project_root, cascade):
    """Structured mode with one sample per item has no confidence to threshold: exit 2 and
    no call, also when only a later stage of a cascade lacks it (the first has samples)."""
    import fakeserver as fs

    with fs.FakeServer(scale=(1, 6)) as server:
        def exp(name, scoring):
            d = tmp_path / name
            d.mkdir()
            return fs.experiment_file(d, project_root, {
                "experiment": f'name = "{name}"',
                "judge": (f'provider = "openai"\nmodel = "fake"\nbase_url = '
                          f'"{server.openai_url}"\napi_key_env = "JC_CASCADE_KEY"'),
                "scoring": scoring})
        single = exp("single", "samples = 1")
        args = ([exp("sampled", "samples = 3"), "--then", single] if cascade else [single])
        res = _cli("selective", *args, "--no-track")
        assert res.exit_code == 2, res.output
        assert "no confidence signal: single judges in structured mode" in res.output
        assert server.stats.total == 0
