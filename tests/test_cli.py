"""The judgecal command line: `agree` and `anchors lint`, output and exit codes."""

import json
import shutil
import subprocess

import pytest
from typer.testing import CliRunner

from harness.cli import app

runner = CliRunner()
DEMO = "anchors/recipes/recipes-overall.jsonl"


@pytest.fixture(autouse=True)
def _in_project(monkeypatch, project_root):
    monkeypatch.chdir(project_root)


def _write_csv(path, rows):
    path.write_text("item_id,rater_id,score\n" + "".join(f"{r}\n" for r in rows))
    return path


def _ratings_rows(n_items=12):
    rows = []
    for i in range(n_items):
        base = 1 + i % 5
        offsets = (("ann", 0), ("bob", 1 if i % 3 == 0 else 0), ("cy", -1 if i % 4 == 0 else 0))
        for r, off in offsets:
            rows.append(f"q{i},{r},{min(5, max(1, base + off))}")
        rows.append(f"q{i},judge,{min(5, base + (i % 2))}")
    return rows


def test_agree_on_the_demo_anchors():
    res = runner.invoke(app, ["agree", DEMO, "--resamples", "200"])
    assert res.exit_code == 0, res.output
    assert "Human reliability" in res.output
    assert "Krippendorff α (interval)" in res.output
    assert "52 items" in res.output


def test_agree_json_with_a_judge_from_a_csv_made_elsewhere(tmp_path):
    f = _write_csv(tmp_path / "scores.csv", _ratings_rows())
    res = runner.invoke(app, ["agree", str(f), "--judge", "judge", "--json", "--scale", "1:5",
                              "--resamples", "100"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["n_items"] == 12 and doc["n_human_raters"] == 3
    assert doc["judge"]["rater_id"] == "judge"
    assert doc["scale"] == {"min": 1.0, "max": 5.0, "inferred": False}
    assert doc["judge"]["figures"]["spearman"]["ci95"] is not None
    assert doc["judge"]["verdict"].startswith("Judge ICC(2,1)")


def test_agree_infers_the_scale_and_says_so(tmp_path):
    f = _write_csv(tmp_path / "scores.csv", _ratings_rows())
    res = runner.invoke(app, ["agree", str(f), "--json", "--resamples", "0"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["scale"]["inferred"] is True
    assert any("observed range" in w for w in doc["warnings"])


def test_agree_bad_csv_names_file_and_line_and_exits_2(tmp_path):
    rows = _ratings_rows(3)
    rows[4] = "q1,ann,four"  # line 6 of the file (header is line 1)
    f = _write_csv(tmp_path / "bad.csv", rows)
    res = runner.invoke(app, ["agree", str(f)])
    assert res.exit_code == 2
    assert f"{f}:6" in res.output
    assert "four" in res.output


def test_agree_broken_anchor_set_exits_2(tmp_path, project_root):
    lines = (project_root / DEMO).read_text().splitlines()
    lines[3] = lines[3][:-5]  # truncate item on line 4: malformed JSON
    f = tmp_path / "broken.jsonl"
    f.write_text("\n".join(lines) + "\n")
    res = runner.invoke(app, ["agree", str(f)])
    assert res.exit_code == 2
    assert f"{f}:4" in res.output


def test_agree_unknown_judge_and_bad_options_exit_2(tmp_path):
    f = _write_csv(tmp_path / "scores.csv", _ratings_rows())
    for args in (["--judge", "nobody"], ["--scale", "5"], ["--split", "train"],
                 ["--primary", "accuracy"]):
        res = runner.invoke(app, ["agree", str(f), *args])
        assert res.exit_code == 2, (args, res.output)
    res = runner.invoke(app, ["agree", str(tmp_path / "missing.csv")])
    assert res.exit_code == 2
    assert "missing.csv" in res.output


def test_agree_split_restricts_items():
    res = runner.invoke(app, ["agree", DEMO, "--split", "calibration", "--json",
                              "--resamples", "0"])
    assert res.exit_code == 0, res.output
    cal = json.loads(res.output)["n_items"]
    res = runner.invoke(app, ["agree", DEMO, "--split", "holdout", "--json", "--resamples", "0"])
    hold = json.loads(res.output)["n_items"]
    assert cal + hold == 52 and 15 <= cal <= 25


def test_anchors_lint_demo_and_broken(tmp_path, project_root):
    res = runner.invoke(app, ["anchors", "lint", DEMO])
    assert res.exit_code == 0, res.output
    assert "calibration" in res.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    res = runner.invoke(app, ["anchors", "lint", str(bad)])
    assert res.exit_code == 2
    assert f"{bad}:1" in res.output


def test_console_script_is_installed():
    exe = shutil.which("judgecal")
    assert exe, "the judgecal console script is not on PATH"
    res = subprocess.run([exe, "--help"], capture_output=True, text=True, check=False)
    assert res.returncode == 0
    assert "agree" in res.stdout


def test_anchors_lint_summarises_repeated_notes_unless_all():
    res = runner.invoke(app, ["anchors", "lint", DEMO])
    assert res.exit_code == 0
    assert res.output.count("high-spread") == 1
    assert "52 items" in res.output
    res_all = runner.invoke(app, ["anchors", "lint", DEMO, "--all"])
    assert res_all.exit_code == 0
    assert res_all.output.count("high-spread") == 52


def test_anchors_lint_strict_exits_1_on_warnings():
    res = runner.invoke(app, ["anchors", "lint", "anchors/recipes/recipes-grammar.jsonl",
                              "--strict"])
    assert res.exit_code == 1
    assert "spectrum-low" in res.output


# --------------------------------------------------------------------------- hostile input


@pytest.mark.parametrize("scale", ["nan:inf", "1:inf", "-inf:5", "1_0:20", "1:\u0665", "1:5:7",
                                   "1e999:2"])
def test_agree_scale_must_be_two_finite_plain_numbers(tmp_path, scale):
    f = _write_csv(tmp_path / "scores.csv", _ratings_rows())
    res = runner.invoke(app, ["agree", str(f), "--scale", scale])
    assert res.exit_code == 2, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert "error: --scale" in res.output


def test_agree_resamples_are_capped(tmp_path):
    from harness.agreement._bootstrap import MAX_RESAMPLES

    f = _write_csv(tmp_path / "scores.csv", _ratings_rows())
    for value in (str(MAX_RESAMPLES + 1), "100000000", "-1"):
        res = runner.invoke(app, ["agree", str(f), "--resamples", value])
        assert res.exit_code == 2, (value, res.output)
        assert isinstance(res.exception, SystemExit)
        assert "--resamples" in res.output
    res = runner.invoke(app, ["agree", str(f), "--resamples", "0", "--json"])
    assert res.exit_code == 0, res.output


def test_agree_csv_with_an_underscored_score_names_the_line(tmp_path):
    rows = _ratings_rows(3)
    rows[2] = "q0,cy,1_0"  # line 4
    f = _write_csv(tmp_path / "scores.csv", rows)
    res = runner.invoke(app, ["agree", str(f)])
    assert res.exit_code == 2
    assert f"{f}:4: score: score '1_0' is not a number" in res.output


def test_agree_deeply_nested_ratings_jsonl_exits_2(tmp_path):
    f = tmp_path / "r.jsonl"
    f.write_text('{"item_id": "a", "rater_id": "x", "score": ' + "[" * 100_000 + "]" * 100_000
                 + "}\n")
    res = runner.invoke(app, ["agree", str(f)])
    assert res.exit_code == 2, res.output
    assert isinstance(res.exception, SystemExit)
    assert f"{f}:1: malformed JSON: nested too deeply" in res.output


@pytest.mark.parametrize("score", ["1_0", "nan", "inf", "\u0664"])
def test_judgment_scores_are_plain_numbers(tmp_path, score):
    from harness.judgments import read_judgment_scores

    f = tmp_path / "j.csv"
    f.write_text(f"item_id,sample_index,status,score\na,0,ok,4\nb,0,ok,{score}\n",
                 encoding="utf-8")
    with pytest.raises(ValueError, match=rf"^{f}:3: item 'b': status ok but score"):
        read_judgment_scores(f)
