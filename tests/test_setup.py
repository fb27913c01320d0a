"""The project's set-up promises: CI runs exactly the README's test command."""

import re


def _readme_commands(project_root):
    text = (project_root / "README.md").read_text()
    block = re.search(r"## Set-up: two commands\n.*?```bash\n(.*?)```", text, re.S)
    assert block, "README has no set-up block"
    return [ln for ln in block.group(1).splitlines() if ln and not ln.startswith("#")]


def test_ci_runs_the_readme_test_command_verbatim(project_root):
    commands = _readme_commands(project_root)
    assert len(commands) == 2, commands
    ci = (project_root / ".ci" / "run").read_text().splitlines()
    assert commands[1] in ci
    assert "MLFLOW_DISABLE_TELEMETRY=true" in commands[1]


def test_main_command_calibrates_a_shipped_local_experiment(project_root):
    main = _readme_commands(project_root)[0]
    path = re.search(r"judgecal calibrate (\S+)", main).group(1)
    assert (project_root / path).is_file()
    text = (project_root / path).read_text()
    assert 'provider = "local"' in text  # offline, no key


def test_telemetry_is_off_in_tests():
    import os

    assert os.environ.get("MLFLOW_DISABLE_TELEMETRY") == "true"
