"""docs/ci.md's workflow works when copied: valid YAML, the files it names exist, the journal
it caches is judgecal's state directory, and every `judgecal` command in it parses."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import click
import pytest
import typer
import yaml

from harness.cli import app
from harness.experiments import load_experiment
from harness.journal import default_state_dir

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "ci.md"


def _workflow() -> dict:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1
    return yaml.safe_load(blocks[0])


def _steps() -> list[dict]:
    (job,) = _workflow()["jobs"].values()
    return job["steps"]


def _env() -> dict[str, str]:
    (job,) = _workflow()["jobs"].values()
    return {k: str(v) for k, v in job.get("env", {}).items()}


def _commands() -> list[list[str]]:
    """Every ``judgecal`` command of the workflow, its variables expanded."""
    env = {**_env(), "GITHUB_STEP_SUMMARY": "/tmp/step-summary.md"}
    found = []
    for step in _steps():
        run = step.get("run", "")
        if "judgecal" not in run:
            continue
        words = shlex.split(" ".join(run.split()))
        words = [re.sub(r"\$(\w+)", lambda m: env[m.group(1)], w) for w in words]
        found.append(words[words.index("judgecal") + 1:])
    return found


def test_the_workflow_is_yaml_with_the_gate_and_its_outputs():
    wf = _workflow()
    assert wf["permissions"]["checks"] == "write"
    steps = _steps()
    uses = [s.get("uses", "") for s in steps]
    assert any(u.startswith("actions/cache/restore@") for u in uses)
    assert any(u.startswith("actions/cache/save@") for u in uses)
    (gate,) = _commands()
    assert gate[0] == "gate"
    junit = gate[gate.index("--junit") + 1]
    assert gate[gate.index("--summary") + 1] == "/tmp/step-summary.md"
    published = [s for s in steps if "junit" in s.get("uses", "")]
    assert published and published[0]["with"]["report_paths"] == junit
    assert all(s.get("if") == "always()" for s in published)


def test_every_file_the_workflow_names_exists():
    for path in re.findall(r"experiments/[\w.-]+\.toml", DOC.read_text(encoding="utf-8")):
        assert (ROOT / path).is_file(), path
    for step in _steps():
        key = step.get("with", {}).get("key", "")
        for glob in re.findall(r"'([^']+)/\*\*'", key):
            assert (ROOT / glob).is_dir(), glob


def test_the_cached_journal_is_the_experiments_state_dir(monkeypatch):
    monkeypatch.delenv("JUDGECAL_STATE_DIR", raising=False)
    monkeypatch.chdir(ROOT)
    cached = {Path(s["with"]["path"]) for s in _steps() if "actions/cache" in s.get("uses", "")}
    exp = load_experiment(ROOT / _env()["EXPERIMENT"])
    assert cached == {default_state_dir()} == {exp.state.dir}


@pytest.mark.parametrize("words", _commands(), ids=lambda w: w[0])
def test_every_judgecal_command_parses(words):
    group = typer.main.get_command(app)
    ctx = click.Context(group, info_name="judgecal")
    cmd = group.get_command(ctx, words[0])
    assert cmd is not None, words[0]
    sub = cmd.make_context(words[0], list(words[1:]), parent=ctx)  # exits 2 on a bad option
    experiment = sub.params["experiment"]
    assert (ROOT / experiment).is_file() and os.path.isabs(experiment) is False
