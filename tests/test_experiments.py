"""Experiment files: validation with line numbers, overrides, the shipped experiments."""

from pathlib import Path

import pytest

from harness.experiments import ExperimentError, load_experiment

GOOD = """\
[experiment]
name = "t"

[anchors]
path = "anchors/recipes/recipes-overall.jsonl"

[prompt]
name = "recipes-overall"
version = "2"

[judge]
provider = "openai"
model = "gpt-test"
temperature = 0.5
"""


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "exp.toml"
    p.write_text(text)
    return p


def test_a_good_file_loads_with_defaults(tmp_path):
    exp = load_experiment(_write(tmp_path, GOOD))
    assert exp.name == "t"
    assert exp.prompt.version == "v2"
    assert exp.anchors.split == "calibration"
    assert exp.scoring.mode is None and exp.scoring.samples == 1
    assert exp.run.concurrency == 8 and exp.budget.max_calls is None
    assert exp.source == tmp_path / "exp.toml"


def test_schema_errors_name_line_and_key(tmp_path):
    text = GOOD.replace("temperature = 0.5", "temperature = 5\ntemprature = 0")
    text = text.replace('provider = "openai"', 'provider = "openia"')
    with pytest.raises(ExperimentError) as exc:
        load_experiment(_write(tmp_path, text))
    msg = str(exc.value)
    assert f"{tmp_path / 'exp.toml'}:12: judge.provider:" in msg
    assert ":14: judge.temperature:" in msg
    assert ":15: judge.temprature: unknown key" in msg


def test_missing_key_points_at_its_table(tmp_path):
    text = GOOD.replace('model = "gpt-test"\n', "")
    with pytest.raises(ExperimentError, match=r"exp.toml:11: judge.model: required key"):
        load_experiment(_write(tmp_path, text))


def test_toml_syntax_error_has_its_line(tmp_path):
    text = GOOD.replace('name = "t"', 'name = "t')
    with pytest.raises(ExperimentError, match=r"exp.toml:2: invalid TOML"):
        load_experiment(_write(tmp_path, text))


def test_missing_file_and_key_in_place_of_env_name(tmp_path):
    with pytest.raises(ExperimentError) as missing:
        load_experiment(tmp_path / "nope.toml")
    assert str(missing.value) == f"{tmp_path / 'nope.toml'}: file not found"  # no line 0
    text = GOOD + 'api_key_env = "sk-live-1234567890"\n'
    with pytest.raises(ExperimentError, match="NAME of an environment variable"):
        load_experiment(_write(tmp_path, text))


def test_overrides_are_validated(tmp_path):
    exp = load_experiment(_write(tmp_path, GOOD))
    new = exp.with_overrides(judge={"model": "other", "base_url": None}, run={"concurrency": 3})
    assert new.judge.model == "other" and new.judge.provider == "openai"
    assert new.run.concurrency == 3 and new.source == exp.source
    with pytest.raises(ValueError):
        exp.with_overrides(run={"concurrency": 0})


def test_shipped_experiments_load_and_point_at_real_files(project_root, monkeypatch):
    monkeypatch.chdir(project_root)
    paths = sorted((project_root / "experiments").glob("*.toml"))
    assert paths, "no shipped experiments"
    for p in paths:
        exp = load_experiment(p)
        assert exp.judge.provider == "local"
        assert exp.anchors.path.is_file(), exp.anchors.path
        if exp.prompt.criteria:  # a scorecard: a prompt per question
            from harness.anchors import load_scorecard

            card = load_scorecard(exp.anchors.path)
            assert set(exp.prompt.criteria) == set(card.criterion_ids)
            for cid in card.criterion_ids:
                name = exp.prompt.for_criterion(cid)
                assert (exp.prompt.dir / name).is_dir(), name
        else:
            assert (exp.prompt.dir / exp.prompt.name).is_dir(), exp.prompt.name


def test_the_state_dir_defaults_to_judgecal_state_dir_as_the_stores_do(tmp_path, monkeypatch):
    """gate/judge used ./.judgecal while sessions and the journal honoured the variable, so a
    gate run with JUDGECAL_STATE_DIR set wrote its holdout looks into the project's store."""
    from harness.journal import default_state_dir

    path = _write(tmp_path, GOOD)
    monkeypatch.delenv("JUDGECAL_STATE_DIR", raising=False)
    assert load_experiment(path).state.dir == Path(".judgecal")
    monkeypatch.setenv("JUDGECAL_STATE_DIR", str(tmp_path / "state"))
    assert load_experiment(path).state.dir == tmp_path / "state" == default_state_dir()
    named = _write(tmp_path, GOOD + '\n[state]\ndir = "mine"\n')
    assert load_experiment(named).state.dir == Path("mine")  # the file's own wins
