"""Drift detection: rolling ICC alert, rater flags, control charts and ``judgecal drift``."""

import json
import math

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from harness.anchors import RatingsTable
from harness.cli._drift import drift_cmd
from harness.drift import control_chart, detect_drift, loo_deviations, write_control_charts

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
