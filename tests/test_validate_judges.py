"""`validate --judgments FILE --judge A --judge B --judge C`: several recorded judges on the
holdout, each with its own look in the ledger, ranked on one leaderboard whose entries equal
each judge's own `validate`."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from test_judgments_file import offline_experiment
from typer.testing import CliRunner

from harness.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def three_judges(path, demo):
    """'close' answers the rounded consensus, 'noisy' adds seeded noise, 'contrary' turns
    the scale around; every judge scores every item of the set."""
    rng = np.random.default_rng(7)
    cons = demo.consensus()
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["item_id", "judge", "score"])
        for item, c in cons.items():
            w.writerow([item, "close", round(c)])
            w.writerow([item, "noisy", int(np.clip(round(c + rng.normal(0, 1.5)), 1, 6))])
            w.writerow([item, "contrary", 7 - round(c)])
    return path


def validate(exp, *args):
    res = runner.invoke(app, ["validate", str(exp), "--resamples", "200", "--no-progress",
                              "--json", *map(str, args)])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_a_leaderboard_of_recorded_judges_equals_their_own_validations(
        tmp_path, project_root, demo):
    exp = offline_experiment(tmp_path, project_root, demo)
    jfile = three_judges(tmp_path / "j.csv", demo)
    board = validate(exp, "--judgments", jfile, "--judge", "close", "--judge", "noisy",
                     "--judge", "contrary")
    assert list(board["judges"]) == ["close", "noisy", "contrary"]
    assert board["leaderboard"] == ["close", "noisy", "contrary"]
    assert set(board["runs"]) == {"close", "noisy", "contrary"}
    # three looks at the holdout: the CIs are at the ledger's confidence for three
    looks = board["holdout_looks"]["contrary"]
    assert looks["n_versions"] == 3 and board["confidence"] == pytest.approx(looks["confidence"])
    pair = next(p for p in board["pairs"] if {p["a"], p["b"]} == {"close", "contrary"})
    assert pair["better"] == "close"
    # each judge alone, now that the ledger has the same three looks: the same entry
    for judge in ("close", "noisy", "contrary"):
        alone = validate(exp, "--judgments", jfile, "--judge", judge)
        mine = board["judges"][judge]
        assert mine["figures"] == alone["judge"]["figures"], judge
        assert mine["position"] == alone["judge"]["position"]
    assert board["human"] == alone["human"]


def test_several_judges_need_a_file_and_distinct_ids(tmp_path, project_root, demo):
    exp = offline_experiment(tmp_path, project_root, demo)
    jfile = three_judges(tmp_path / "j.csv", demo)
    res = runner.invoke(app, ["validate", str(exp), "--judge", "a", "--judge", "b"])
    assert res.exit_code == 2 and "--judgments" in res.output
    res = runner.invoke(app, ["validate", str(exp), "--judgments", str(jfile), "--judge",
                              "close", "--judge", "close"])
    assert res.exit_code == 2 and "two or more different --judge" in res.output
    res = runner.invoke(app, ["validate", str(exp), "--judgments", str(jfile), "--judge",
                              "close", "--judge", "nobody"])
    assert res.exit_code == 2 and "nobody" in res.output
