"""The gate's layers: the verdict (figures -> bars -> outcome) knows no MLflow, judge or journal.

Checked two ways: by the modules a fresh interpreter holds in ``sys.modules`` after importing
the module (with a control showing the probe sees them when a module does load them), and by
every import statement of its source, function-local ones included (a lazy import never shows
in ``sys.modules`` at import time).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import harness.gate._verdict as verdict

#: What the verdict must not load: MLflow, the providers' SDKs, the judges, the journal, the
#: tracking layer and the modules of the gate that use them.
FORBIDDEN = (
    "mlflow", "openai", "anthropic", "llama_cpp", "sqlite3",
    "harness.journal", "harness.judges", "harness.judgments", "harness.tracking",
    "harness.gate._versions", "harness.gate._looks", "harness.gate._ledger",
    "harness.gate._promote", "harness.gate._gate",
)


def _loaded_after(module: str) -> list[str]:
    """The FORBIDDEN modules (or their submodules) a fresh interpreter holds after importing
    ``module``."""
    probe = textwrap.dedent(f"""
        import json, sys
        import {module}
        forbidden = {FORBIDDEN!r}
        print(json.dumps(sorted({{f for f in forbidden for m in sys.modules
                                  if m == f or m.startswith(f + ".")}})))
    """)
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_importing_the_verdict_loads_no_mlflow_judge_or_journal():
    assert _loaded_after("harness.gate._verdict") == []


def test_the_probe_sees_what_a_looks_module_loads():
    """The control: a module that does import the judges and the journal is caught."""
    loaded = _loaded_after("harness.gate._looks")
    assert {"harness.journal", "harness.judges", "harness.gate._versions"} <= set(loaded)


def _imported_names(source: str) -> list[str]:
    """Every module an import statement of ``source`` names (relative ones as
    ``harness.gate.<name>``), function-local imports included."""
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 1:
                base = f"harness.gate.{node.module}" if node.module else "harness.gate"
                names += [base] if node.module else [f"{base}.{a.name}" for a in node.names]
            else:
                names.append(node.module or "")
    return names


def _forbidden_in(names: list[str]) -> list[str]:
    return sorted({n for n in names for f in FORBIDDEN if n == f or n.startswith(f + ".")})


def test_no_import_of_the_verdict_names_mlflow_a_judge_or_the_journal():
    names = _imported_names(Path(verdict.__file__).read_text(encoding="utf-8"))
    assert "harness.reports" in names and "harness.gate._bars" in names  # the scan reads it
    assert _forbidden_in(names) == []


@pytest.mark.parametrize("line", [
    "from harness.journal import Journal",
    "from ._versions import gate_judge",
    "    from harness.tracking import Tracker",
    "    import mlflow",
])
def test_the_source_scan_catches_a_forbidden_import(line):
    """The control: each such import, at the top or inside a function, is caught."""
    source = f"def f():\n{line}\n" if line.startswith(" ") else f"{line}\n"
    assert _forbidden_in(_imported_names(source)) != []
