"""Hostile input that used to escape as a traceback or be silently accepted."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.experiments import ExperimentError, load_experiment
from harness.gate import BarError, parse_assignment
from harness.judges import InvalidReply, JudgeReply, JudgeRequest, Message, parse_reply
from harness.judges._openai import decode_json
from harness.sessions._store import SessionError, parse_score

DEEP = "[" * 100_000 + "]" * 100_000


def _request() -> JudgeRequest:
    return JudgeRequest(messages=(Message("user", "x"),), mode="structured", scale_min=1,
                        scale_max=5)


def test_a_reply_nested_100000_deep_is_invalid_not_a_crash():
    with pytest.raises(InvalidReply, match="nested too deeply"):
        parse_reply(JudgeReply(raw=DEEP), _request())
    with pytest.raises(InvalidReply, match="nested too deeply"):
        parse_reply(JudgeReply(raw=f"```json\n{DEEP}\n```"), _request())
    assert decode_json(DEEP) is None  # a provider body that deep is "not JSON"


def test_an_experiment_nested_too_deep_is_a_file_error(tmp_path):
    p = tmp_path / "x.toml"
    p.write_text("a = " + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(ExperimentError, match="nested too deeply"):
        load_experiment(p)


@pytest.mark.parametrize("text", ["1_0", "nan", "inf", "٤", "0x4"])
def test_session_scores_are_plain_numbers(text):
    with pytest.raises(SessionError, match="not a number"):
        parse_score(text)
    assert parse_score(" 4 ") == 4.0 and parse_score("N/A") == "NA"


@pytest.mark.parametrize("text", ["icc=1_0", "icc=nan", "icc=inf", "icc=0x1"])
def test_gate_bars_are_plain_numbers(text):
    with pytest.raises(BarError, match="number"):
        parse_assignment(text, "min")
    assert parse_assignment("icc=0.7", "min") == ("icc", 0.7)


@pytest.mark.parametrize("command", ["judge", "validate", "gate"])
def test_resamples_beyond_the_cap_exit_2_before_anything_runs(command, tmp_path):
    res = CliRunner().invoke(app, [command, str(tmp_path / "missing.toml"),
                                   "--resamples", "100000000"], env={"COLUMNS": "200"})
    assert res.exit_code == 2
    assert "'--resamples'" in res.output and "less than or equal to 100000" in res.output
