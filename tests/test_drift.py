"""Drift detection: rolling ICC alert, rater flags, control charts and ``judgecal drift``."""

import json
import math
import re

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from harness.anchors import RatingsTable
from harness.cli._drift import drift_cmd
from harness.drift import control_chart, detect_drift, loo_deviations, write_control_charts
from harness.reports import signed_text

WINDOW = 200
DRIFT_AT = 600


def _stream(seed, n=1000, k=5, drift_at=None, shift=1.5, sigma=0.2, missing=0.0):
    """Integer 1-5 ratings of a continuous true score; rater ``r3`` shifts from ``drift_at``."""
    rng = np.random.default_rng(seed)
    true = rng.uniform(1, 5, n)
    s = true[:, None] + rng.normal(0, sigma, (n, k))
    if drift_at is not None:
        s[drift_at:, 3] += shift
    s = np.clip(np.round(s), 1, 5)
    if missing:
        s[rng.random((n, k)) < missing] = np.nan
    return RatingsTable([f"q{i}" for i in range(n)], [f"r{j}" for j in range(k)], s,
                        np.zeros_like(s, dtype=bool), source=f"synthetic-{seed}")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_drifting_rater_is_flagged_within_a_window_and_not_before(seed):
    rep = detect_drift(_stream(seed, drift_at=DRIFT_AT), window=WINDOW)
    assert list(rep.flagged) == ["r3"]
    first = rep.windows[rep.first_flag("r3")]
    assert first.stop > DRIFT_AT  # contains drifted items
    assert first.start >= DRIFT_AT - WINDOW
    assert first.stop <= DRIFT_AT + WINDOW
    for i in rep.flagged["r3"]:
        assert rep.windows[i].stop > DRIFT_AT
    # every window entirely after the drift flags r3
    assert all("r3" in w.flagged for w in rep.windows if w.start >= DRIFT_AT)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_icc_alert_fires_after_the_drift_not_before(seed):
    rep = detect_drift(_stream(seed, drift_at=DRIFT_AT), window=WINDOW)
    assert rep.alert
    assert rep.baseline_window == 0
    w = rep.windows[rep.first_alert]
    assert DRIFT_AT < w.stop <= DRIFT_AT + WINDOW
    assert not any(x.alert for x in rep.windows if x.stop <= DRIFT_AT)
    d = rep.to_dict()
    assert d["first_alert"]["start"] == w.start and d["alert"] is True


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("missing", [0.0, 0.4])
def test_no_drift_no_alert_nobody_flagged(seed, missing):
    rep = detect_drift(_stream(seed, missing=missing), window=WINDOW)
    assert not rep.alert
    assert rep.flagged == {}
    assert all(w.icc.value is not None for w in rep.windows)


def test_windows_cover_the_stream_and_step_default():
    rep = detect_drift(_stream(0, n=1010), window=200)
    assert rep.step == 50
    assert rep.windows[0].start == 0
    assert rep.windows[-1].stop == 1010
    assert rep.windows[-2].start == 800


def test_loo_median_spares_honest_raters_but_mean_does_not():
    t = _stream(0, drift_at=DRIFT_AT)
    assert list(detect_drift(t).flagged) == ["r3"]
    assert len(detect_drift(t, consensus="mean").flagged) > 1
    x = np.array([[1.0, 2.0, 3.0, 4.0]])
    assert np.allclose(loo_deviations(x, "mean"), [[-2.0, -2 / 3, 2 / 3, 2.0]])


def test_degenerate_inputs_give_notes_not_crashes():
    short = detect_drift(_stream(0, n=50), window=200)
    assert short.windows == [] and not short.alert and short.flagged == {}
    assert "fewer than one window" in short.notes[0]
    assert json.dumps(short.to_dict())
    one = _stream(0, n=300, k=1)
    rep = detect_drift(one, window=100)
    assert rep.baseline_icc is None and not rep.alert
    assert any("1 rater" in n for n in rep.notes)
    d = rep.to_dict()
    assert d["windows"][0]["icc"] is None and d["windows"][0]["icc_reason"]
    assert d["charts"]["r0"]["centre"] is None and d["charts"]["r0"]["reason"]
    for bad in ({"window": 2}, {"step": 0}, {"drop": -1}, {"far": math.nan},
                {"min_far_items": 0}, {"consensus": "mode"}):
        with pytest.raises(ValueError):
            detect_drift(one, **bad)


def test_to_dict_is_strict_json():
    rep = detect_drift(_stream(1, drift_at=DRIFT_AT, missing=0.3), window=WINDOW)
    text = json.dumps(rep.to_dict(include_series=True), allow_nan=False)
    doc = json.loads(text)
    assert doc["settings"]["window"] == WINDOW
    assert len(doc["charts"]["r3"]["positions"]) == doc["charts"]["r3"]["n_points"]


def test_control_chart_shows_the_shift(tmp_path):
    rep = detect_drift(_stream(0, drift_at=DRIFT_AT), window=WINDOW)
    ch = rep.charts["r3"]
    assert ch.centre is not None and ch.ucl > ch.centre > ch.lcl
    # single points on a discrete scale leave the limits now and then; after the drift
    # most of them do
    out = (ch.deviations > ch.ucl) | (ch.deviations < ch.lcl)
    before = out[(ch.positions >= WINDOW) & (ch.positions < DRIFT_AT)].mean()
    after = out[ch.positions >= DRIFT_AT].mean()
    assert after > max(0.4, 2.5 * before), (before, after)
    assert ch.deviations[ch.positions >= DRIFT_AT].mean() > 0.8
    fig = control_chart(rep, "r3")
    assert fig.axes
    with pytest.raises(KeyError):
        control_chart(rep, "nobody")
    paths = write_control_charts(rep, tmp_path / "charts")
    assert [p.name for p in paths] == [f"control-r{j}.png" for j in range(5)]
    assert all(p.stat().st_size > 1000 for p in paths)
    assert paths[0].read_bytes()[:4] == b"\x89PNG"


# ------------------------------------------------------------------------ CLI

_app = typer.Typer()
_app.command(name="drift")(drift_cmd)
_app.command(name="noop")(lambda: None)  # keep "drift" a subcommand
runner = CliRunner()


def _write_long(path, table):
    lines = ["item_id,rater_id,score"]
    for i, item in enumerate(table.item_ids):
        for j, r in enumerate(table.rater_ids):
            v = table.scores[i, j]
            if not np.isnan(v):
                lines.append(f"{item},{r},{int(v)}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_cli_json_and_charts(tmp_path):
    f = _write_long(tmp_path / "r.csv", _stream(2, n=400, drift_at=250))
    res = runner.invoke(_app, ["drift", str(f), "--window", "100", "--json",
                               "--charts", str(tmp_path / "ch")])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["n_items"] == 400 and doc["settings"]["step"] == 25
    assert doc["alert"] is True
    assert list(doc["flagged"]) == ["r3"]
    assert doc["flagged"]["r3"]["first"]["stop"] > 250
    assert len(doc["chart_files"]) == 5
    res = runner.invoke(_app, ["drift", str(f), "--window", "100", "--fail-on-alert"])
    assert res.exit_code == 1, res.output
    assert "ICC alert" in res.stdout and "r3" in res.stdout


def _table_rows(text):
    """The rows of the rolling-ICC table: the cells of each line that starts with a window
    number."""
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if len(cells) >= 4 and cells[0].isdigit():
            rows.append(cells)
    return rows


def test_cli_change_column_is_signed_one_way(tmp_path):
    """The window's ICC minus the baseline's, every cell by one rule (signed_text, three
    decimals beside the alert bar): a rise is positive, a drop negative (was a 'drop'
    column mixing '0', '-0.06' and '-0.063', a rise showing as a negative drop)."""
    table = _stream(2, n=400, drift_at=250)
    rep = detect_drift(table, window=100)
    res = runner.invoke(_app, ["drift", str(_write_long(tmp_path / "r.csv", table)),
                               "--window", "100"])
    assert res.exit_code == 0, res.output
    header = next(line for line in res.stdout.splitlines() if "window" in line
                  and "ICC" in line)
    assert "change from baseline" in header and "drop" not in header
    rows = _table_rows(res.stdout)
    assert [int(r[0]) for r in rows] == [w.index for w in rep.windows]
    changes = [r[3] for r in rows]
    assert changes == [signed_text(-w.drop, 3) for w in rep.windows]
    assert all(re.fullmatch(r"[+-]\d\.\d{3}|0\.000", c) for c in changes), changes
    assert changes[0] == "0.000"
    rises = [c for c, w in zip(changes, rep.windows, strict=True) if w.drop < -0.0005]
    drops = [c for c, w in zip(changes, rep.windows, strict=True) if w.drop > 0.0005]
    assert rises and all(c.startswith("+") for c in rises)
    assert drops and all(c.startswith("-") for c in drops)


def test_cli_no_drift_table_output(tmp_path):
    f = _write_long(tmp_path / "r.csv", _stream(3, n=300))
    res = runner.invoke(_app, ["drift", str(f), "--window", "100", "--scale", "1:5",
                               "--fail-on-alert"])
    assert res.exit_code == 0, res.output
    assert "No ICC alert" in res.stdout and "No rater flagged" in res.stdout


def test_cli_input_errors(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("item_id,rater_id,score\nq1,a,x\n")
    assert runner.invoke(_app, ["drift", str(bad)]).exit_code == 2
    assert runner.invoke(_app, ["drift", str(tmp_path / "missing.csv")]).exit_code == 2
    f = _write_long(tmp_path / "r.csv", _stream(0, n=50))
    assert runner.invoke(_app, ["drift", str(f), "--window", "1"]).exit_code == 2
    assert runner.invoke(_app, ["drift", str(f), "--scale", "5:1"]).exit_code == 2
    res = runner.invoke(_app, ["drift", str(f)])  # fewer items than a window: a note
    assert res.exit_code == 0 and "fewer than one window" in res.stdout


def _dip_then_drift(seed=5, n=1400):
    """Every rater noisy on items 200-300 (a passing dip), then r3 drifts from item 900."""
    rng = np.random.default_rng(seed)
    true = rng.uniform(1, 5, n)
    sigma = np.full(n, 0.2)
    sigma[200:300] = 2.5
    s = true[:, None] + rng.normal(0, 1, (n, 5)) * sigma[:, None]
    s[900:, 3] += 1.5
    s = np.clip(np.round(s), 1, 5)
    return RatingsTable([f"q{i}" for i in range(n)], [f"r{j}" for j in range(5)], s,
                        np.zeros_like(s, dtype=bool), source="dip-then-drift")


def test_alert_runs_separate_a_passing_dip_from_a_sustained_drop():
    rep = detect_drift(_dip_then_drift(), window=100)
    runs = rep.alert_runs
    assert len(runs) == 2, runs
    (a0, b0), (a1, b1) = runs
    # the first run: only windows overlapping the noisy items 200-300
    assert all(rep.windows[i].stop > 200 and rep.windows[i].start < 300
               for i in range(a0, b0 + 1))
    # the last run: from the drift to the end of the stream
    assert rep.windows[a1].stop > 900 and rep.windows[a1].start <= 900
    assert b1 == len(rep.windows) - 1
    assert all(w.alert == any(a <= w.index <= b for a, b in runs) for w in rep.windows)
    d = rep.to_dict()
    assert [(r["first"]["index"], r["last"]["index"], r["n_windows"]) for r in d["alert_runs"]] \
        == [(a0, b0, b0 - a0 + 1), (a1, b1, b1 - a1 + 1)]


def test_cli_long_stream_lists_only_windows_with_something_to_see(tmp_path):
    rep = detect_drift(_dip_then_drift(), window=100)
    f = _write_long(tmp_path / "r.csv", _dip_then_drift())
    res = runner.invoke(_app, ["drift", str(f), "--window", "100"], terminal_width=200)
    assert res.exit_code == 0, res.output
    quiet = [w for w in rep.windows
             if not (w.alert or w.flagged or w.index in (0, len(rep.windows) - 1))]
    assert quiet and len(rep.windows) > 40
    assert f"{len(quiet)} of {len(rep.windows)} windows without an alert or a flag" \
        in " ".join(res.stdout.split())
    listed = {int(m) for m in re.findall(r"^\s*│?\s*(\d+)\s+│", res.stdout, re.M)}
    assert listed == {w.index for w in rep.windows} - {w.index for w in quiet}
    (a0, _), (a1, b1) = rep.alert_runs
    assert "in 2 runs of consecutive windows; the longest: windows " \
        f"{a1}–{b1}" in " ".join(res.stdout.split())
    res = runner.invoke(_app, ["drift", str(f), "--window", "100", "--all-windows"],
                        terminal_width=200)
    assert "not listed" not in res.stdout
