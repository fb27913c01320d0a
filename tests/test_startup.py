"""Start-up: the command line imports a heavy library only when a command needs it.

Checked by the modules a fresh interpreter holds in ``sys.modules``, never by time (the
timings are in benchmarks/bench_startup.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from harness.cli import COMMANDS, app

#: Never imported by ``import harness.cli`` or ``judgecal --help``.
HEAVY = ("matplotlib", "mlflow", "pandas", "scipy", "openai", "anthropic", "flask",
         "llama_cpp", "ray", "inspect_ai")


def _heavy_after(code: str) -> tuple[list[str], str]:
    """Run ``code`` in a fresh interpreter; the HEAVY top-level modules it left imported."""
    probe = textwrap.dedent(code) + textwrap.dedent(f"""
        import json, sys
        print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}} & set({HEAVY!r}))))
    """)
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1]), res.stdout


def test_import_harness_cli_imports_no_heavy_library():
    heavy, _ = _heavy_after("import harness.cli")
    assert heavy == []


def test_the_pytest_plugin_imports_no_heavy_library():
    """Every pytest run where judgecal is installed loads the plugin (pytest11 entry point)."""
    heavy, _ = _heavy_after("import harness.gate.pytest_plugin")
    assert heavy == []


def test_help_lists_every_command_and_imports_no_heavy_library():
    heavy, out = _heavy_after("""
        import sys
        from harness.cli import main
        sys.argv = ["judgecal", "--help"]
        try:
            main()
        except SystemExit as exc:
            assert exc.code in (0, None), exc.code
    """)
    assert heavy == []
    for name in COMMANDS:
        assert f" {name} " in out, name


def test_a_command_leaves_its_objects_frozen_for_shutdown(tmp_path):
    """Shutdown's cyclic collections would walk every object the command made (~30 ms of
    ``agree``: benchmarks/bench_startup.py); main freezes them when the command ends, also
    when it fails, and the output is complete."""
    for args, code in ((["--help"], 0), (["agree", str(tmp_path / "missing.csv")], 2)):
        res = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
            import gc, sys
            from harness.cli import main
            sys.argv = ["judgecal", *{args!r}]
            before = gc.get_freeze_count()
            try:
                main()
            except SystemExit as exc:
                print("exit", exc.code, "frozen", gc.get_freeze_count() - before)
        """)], capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "200"})
        last = res.stdout.strip().splitlines()[-1].split()
        assert last[:2] == ["exit", str(code)], res.stdout + res.stderr
        assert int(last[3]) > 10_000, last


def test_the_installed_command_prints_its_help():
    res = subprocess.run([sys.executable, "-m", "harness.cli", "--help"], capture_output=True,
                         text=True, timeout=300, env={"COLUMNS": "200", "PATH": ""})
    assert res.returncode == 0, res.stderr
    assert "Calibrate LLM judges against human raters." in res.stdout
    assert "agree" in res.stdout and "session" in res.stdout


def _agree_modules(args: list[str]) -> tuple[list[str], str]:
    return _heavy_after(f"""
        import sys
        from harness.cli import main
        sys.argv = ["judgecal", "agree", *{args!r}]
        try:
            main()
        except SystemExit as exc:
            assert exc.code in (0, None), exc.code
    """)


def test_agree_on_a_small_csv_imports_no_heavy_library(tmp_path):
    rows = ["item_id,rater_id,score"]
    for i in range(20):
        rows += [f"i{i},{r},{1 + (i + k) % 5}" for k, r in enumerate(("a", "b", "c", "judge"))]
    path = tmp_path / "ratings.csv"
    path.write_text("\n".join(rows) + "\n")
    heavy, out = _agree_modules([str(path), "--judge", "judge"])
    assert "ICC" in out
    assert heavy == []


def test_agree_json_on_the_demo_set_imports_no_heavy_library():
    demo = Path(__file__).resolve().parents[1] / "anchors" / "recipes" / "recipes-overall.jsonl"
    heavy, out = _agree_modules([str(demo), "--json"])
    assert '"figures"' in out or '"human"' in out
    assert heavy == []


def test_the_agreement_figures_import_no_scipy_or_pandas():
    heavy, _ = _heavy_after("""
        import numpy as np
        from harness.agreement import (alt_test, icc, icc_oneway, kendall_tau_b, pearson,
                                       spearman, compare_to_reference, confusion_counts)
        rng = np.random.default_rng(0)
        m = rng.integers(1, 6, size=(40, 4)).astype(float)
        icc(m); icc_oneway(m); spearman(m[:, 0], m[:, 1]); kendall_tau_b(m[:, 0], m[:, 1])
        pearson(m[:, 0], m[:, 1]); confusion_counts(m[:, 0], m[:, 1], [1, 2, 3, 4, 5])
        compare_to_reference(m[:, 3], m[:, :3].mean(axis=1), scale=(1, 5), n_resamples=50)
        alt_test(m[:, :3], m[:, 3])
    """)
    assert heavy == []


# -- the lazy command group -------------------------------------------------------------


def _real_commands() -> dict[str, object]:
    group = typer.main.get_command(app)
    return dict(group.commands)  # every command imported


def test_each_listed_help_line_is_the_commands_own():
    for name, cmd in _real_commands().items():
        own = (cmd.short_help or cmd.help or "").split("\n\n")[0].strip()
        assert COMMANDS[name].help == own, f"harness.cli.COMMANDS[{name!r}].help is stale"


def _listing(group, capsys) -> str:
    """``judgecal --help`` as ``group`` prints it (typer's rich help prints to stdout)."""
    with group.make_context("judgecal", [], resilient_parsing=True) as ctx:
        text = ctx.get_help()
    return text + capsys.readouterr().out


def test_lazy_listing_equals_the_listing_of_the_real_commands(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")
    lazy = typer.main.get_command(app)
    lazy_text = _listing(lazy, capsys)
    assert lazy.commands._loaded == {}  # listed without importing a command
    loaded = typer.main.get_command(app)
    dict(loaded.commands)
    loaded_text = _listing(loaded, capsys)
    assert "agree" in lazy_text and "session" in lazy_text
    assert lazy_text == loaded_text


@pytest.mark.parametrize("path", [["agree"], ["anchors", "lint"], ["session", "serve"]])
def test_a_commands_own_help_is_its_full_help(path):
    res = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "--help" in res.stdout and "Usage: judgecal " + " ".join(path) in \
        " ".join(res.stdout.split())


def test_an_unknown_command_is_a_usage_error_with_a_suggestion():
    res = CliRunner().invoke(app, ["agre"])
    assert res.exit_code == 2
    assert "agree" in res.output
