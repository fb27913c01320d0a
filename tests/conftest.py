"""Shared test configuration."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED = PROJECT_ROOT.parent / "shared"


def pytest_configure(config: pytest.Config) -> None:
    """Write the package's bytecode once when the environment forbids Python to write it.

    With ``PYTHONDONTWRITEBYTECODE`` set (as on CI machines), every ``judgecal`` subprocess a
    test starts would compile the whole package from source again (~0.4 s each); installed
    packages get theirs from ``uv sync --compile-bytecode`` (the README's commands).
    """
    if os.environ.get("PYTHONDONTWRITEBYTECODE") and not hasattr(config, "workerinput"):
        # once, in the main process (pytest-xdist's workers have ``workerinput``)
        import compileall

        compileall.compile_dir(PROJECT_ROOT / "harness", quiet=1)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"../shared/ not found beside the project root ({SHARED})")
    return SHARED


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def demo(project_root: Path):
    """The demo anchor set (recipes, criterion 'overall'), loaded once; tests only read it."""
    from harness.anchors import load_anchor_set

    return load_anchor_set(project_root / "anchors/recipes/recipes-overall.jsonl")
