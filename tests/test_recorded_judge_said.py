"""A judgments file's judge said one way by gate, validate, estimate and selective.

One line says where the judgments come from (``judgments from PATH (sha256:HASH12); prompt
not checked, no judge called``), printed once by each command with its own warnings' prefix;
the hash is ``sha256:`` and 12 hex digits in human text, the full hash in JSON, never an
ellipsis.
"""

from __future__ import annotations

import hashlib
import json

from test_estimate import (
    files,  # noqa: F401 - a fixture
    write_csv,
)
from test_estimate import write_experiment as estimate_experiment
from test_judgments_file import BARS, cli, offline_experiment, write_long
from test_selective import _experiment as selective_experiment
from test_selective import _judgments_csv

NOT_CALLED = "prompt not checked, no judge called"


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def lines(output):
    return [line.rstrip() for line in output.splitlines()]


def judged(tmp_path, demo):
    return write_long(tmp_path / "judged.csv",
                      [[i, round(c)] for i, c in demo.consensus().items()],
                      ["item_id", "score"])


def test_gate_says_the_file_once_and_its_json_the_full_hash(tmp_path, project_root, demo):
    exp = offline_experiment(tmp_path, project_root, demo)
    f = judged(tmp_path, demo)
    full = sha(f)
    res = cli("gate", exp, "--judgments", f, *BARS, "--no-progress")
    assert res.exit_code == 0, res.output
    line = f"! judgments from {f} (sha256:{full[:12]}); {NOT_CALLED}"
    assert lines(res.output).count(line) == 1, res.output
    assert "…" not in res.output and "sha256 " not in res.output
    assert res.output.count(NOT_CALLED) == 1
    # the run's title names the file and its hash once
    assert f"judged.csv sha256:{full[:12]} on the holdout split" in res.output
    assert f"({full[:12]})" not in res.output
    # the judge line says the hash the same way
    assert f"judge file:judged.csv (sha256:{full[:12]})" in res.output

    res = cli("gate", exp, "--judgments", f, *BARS, "--no-progress", "--json")
    assert res.exit_code == 0, res.output
    assert "…" not in res.stdout
    doc = json.loads(res.stdout)
    assert doc["checks"]["prompt"] == f"not checked (judgments from {f} (sha256:{full}))"
    assert doc["warnings"].count(f"judgments from {f} (sha256:{full}); {NOT_CALLED}") == 1
    assert doc["judge"]["sha256"] == full


def test_validate_says_the_file_once(tmp_path, project_root, demo):
    exp = offline_experiment(tmp_path, project_root, demo)
    f = judged(tmp_path, demo)
    full = sha(f)
    res = cli("validate", exp, "--judgments", f, "--resamples", 200, "--no-progress")
    assert res.exit_code == 0, res.output
    line = f"! judgments from {f} (sha256:{full[:12]}); {NOT_CALLED}"
    assert lines(res.output).count(line) == 1, res.output
    assert res.output.count(NOT_CALLED) == 1
    assert "…" not in res.output
    assert f"Run: gate-test — judged.csv sha256:{full[:12]} on the holdout split" \
        in res.output, res.output
    assert f"({full[:12]})" not in res.output

    res = cli("validate", exp, "--judgments", f, "--resamples", 200, "--no-progress",
              "--json")
    assert res.exit_code == 0, res.output
    assert "…" not in res.stdout
    doc = json.loads(res.stdout)
    said = f"judgments from {f} (sha256:{full}); {NOT_CALLED}"
    assert doc["gate_warnings"].count(said) == 1


def test_estimate_says_the_anchor_file_once(tmp_path, project_root, files):  # noqa: F811
    anchors, production, _ = files
    exp = estimate_experiment(tmp_path, project_root)
    full = sha(anchors)
    res = cli("estimate", exp, "--judgments", production, "--anchor-judgments", anchors)
    assert res.exit_code == 0, res.output
    line = f"note: judgments from {anchors} (sha256:{full[:12]}); {NOT_CALLED}"
    assert lines(res.output).count(line) == 1, res.output
    assert res.output.count(NOT_CALLED) == 1 and "…" not in res.output
    res = cli("estimate", exp, "--judgments", production, "--anchor-judgments", anchors,
              "--json")
    assert "…" not in res.stdout
    doc = json.loads(res.stdout)
    assert doc["warnings"] == [f"judgments from {anchors} (sha256:{full}); {NOT_CALLED}"]


def test_selective_says_the_file_once(tmp_path, project_root, demo):
    exp = selective_experiment(tmp_path, project_root)
    f = _judgments_csv(tmp_path, demo)
    full = sha(f)
    res = cli("selective", exp, "--judgments", f, "--no-track")
    assert res.exit_code == 0, res.output
    line = f"warning: judgments from {f} (sha256:{full[:12]}); {NOT_CALLED}"
    assert lines(res.output).count(line) == 1, res.output
    assert res.output.count(NOT_CALLED) == 1 and "…" not in res.output
    res = cli("selective", exp, "--judgments", f, "--no-track", "--json")
    assert res.exit_code == 0, res.output
    assert "…" not in res.stdout
    doc = json.loads(res.stdout)
    assert f"judgments from {f} (sha256:{full}); {NOT_CALLED}" in doc["warnings"]


def test_estimate_judge_picks_in_the_file_that_has_judges(tmp_path, project_root, demo):
    """One --judge for two files: a file without a judge column has one judge, whoever it
    is; the --judge picks in the file that names its judges."""
    exp = estimate_experiment(tmp_path, project_root)
    cons = demo.consensus()
    anchors = write_csv(tmp_path / "anchors.csv",
                        [(j, i, round(c) if j == "close" else 7 - round(c))
                         for i, c in cons.items() for j in ("close", "contrary")],
                        header=("judge", "item_id", "score"))
    production = write_csv(tmp_path / "prod.csv", [(f"p{k}", 1 + k % 6) for k in range(60)])
    res = cli("estimate", exp, "--judgments", production, "--anchor-judgments", anchors,
              "--judge", "close", "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["anchor_judgments"]["judge"] == "close"
    assert doc["production"]["judge"] is None
    # a --judge that names a judge of neither file is still an error
    res = cli("estimate", exp, "--judgments", production, "--anchor-judgments", anchors,
              "--judge", "nobody")
    assert res.exit_code == 2 and "nobody" in res.output
    plain = write_csv(tmp_path / "plain.csv", [(i, round(c)) for i, c in cons.items()])
    res = cli("estimate", exp, "--judgments", production, "--anchor-judgments", plain,
              "--judge", "close")
    assert res.exit_code == 2, res.output
    assert "--judge close" in " ".join(res.output.split())
