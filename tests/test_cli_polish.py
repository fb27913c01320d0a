"""The command line's finish: --version, --json everywhere, exit codes in --help, tables that
fit (complete values in a pipe), and the small fixes (UI hint, overfitting warning, help
text, missing-key message, the pytest plugin's message)."""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import click
import fakeserver as fs
import pytest
import typer
from typer.testing import CliRunner

from harness.cli import app

runner = CliRunner()
DEMO = "anchors/recipes/recipes-overall.jsonl"
KEY = "sk-test-polish-0123456789abcdef"


@pytest.fixture(autouse=True)
def _narrow_pipe(monkeypatch, project_root):
    """Every command here prints into a pipe (not a terminal) 80 columns wide, as in CI."""
    monkeypatch.chdir(project_root)
    monkeypatch.setenv("COLUMNS", "80")
    for var in ("FORCE_COLOR", "TTY_COMPATIBLE", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(var, raising=False)


def _ratings_csv(path: Path, judges: tuple[str, ...]) -> Path:
    rows = ["item_id,rater_id,score"]
    for i in range(16):
        base = 1 + i % 5
        for r, off in (("ann", 0), ("bob", 1 if i % 3 == 0 else 0), ("cy", -1 if i % 4 else 0)):
            rows.append(f"q{i},{r},{min(5, max(1, base + off))}")
        for k, j in enumerate(judges):
            rows.append(f"q{i},{j},{min(5, max(1, base + (i + k) % 3 - 1))}")
    path.write_text("\n".join(rows) + "\n")
    return path


def _ci_text(fig: dict) -> str:
    lo, hi = fig["ci95"]
    return f"{fig['value']:.2f} [{lo:.2f}, {hi:.2f}]"


# --------------------------------------------------------------------------- tables


def test_tables_in_a_pipe_print_complete_values_never_an_ellipsis(tmp_path):
    f = _ratings_csv(tmp_path / "scores.csv", ("judge-gpt-4o-mini-2024-07-18-with-rubric",))
    args = ["agree", str(f), "--judge", "judge-gpt-4o-mini-2024-07-18-with-rubric",
            "--scale", "1:5", "--resamples", "200"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "…" not in res.stdout
    doc = json.loads(runner.invoke(app, [*args, "--json"]).stdout)
    for name in ("icc", "spearman", "mae"):
        assert _ci_text(doc["judge"]["figures"][name]) in res.stdout, name
    # a table is printed as wide as it needs, however narrow the "terminal"
    assert max(len(line) for line in res.stdout.splitlines()) > 80


def test_a_leaderboard_in_a_pipe_is_complete(tmp_path):
    judges = ("judge-a-long-provider-model-name", "judge-b-another-long-model-name")
    f = _ratings_csv(tmp_path / "scores.csv", judges)
    args = ["agree", str(f), *[a for j in judges for a in ("--judge", j)], "--scale", "1:5",
            "--resamples", "100"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "…" not in res.stdout
    for j in judges:
        assert j in res.stdout


def test_a_terminal_wraps_long_cells_instead_of_cutting_them():
    from rich.table import Table

    from harness.cli._common import FittingConsole

    class Tty:
        def __init__(self):
            self.parts = []

        def write(self, text):
            self.parts.append(text)

        def flush(self):
            pass

        def isatty(self):
            return True

    tty = Tty()
    console = FittingConsole(file=tty, width=40, highlight=False, color_system=None)
    t = Table()
    t.add_column("split", no_wrap=True)
    t.add_column("value [95% CI]", no_wrap=True)
    t.add_row("calibration-of-a-long-name", "-0.06 [-0.29, 0.17] and a long note here")
    console.print(t)
    text = "".join(tty.parts)
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 40
    for word in ("-0.06", "[-0.29,", "0.17]", "note", "here"):
        assert word in text


# --------------------------------------------------------------------------- --json


def test_prompts_list_and_diff_json():
    res = runner.invoke(app, ["prompts", "list", "--json"])
    assert res.exit_code == 0, res.output
    assert "recipes-overall" in json.loads(res.stdout)["prompts"]
    res = runner.invoke(app, ["prompts", "list", "recipes-overall", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["name"] == "recipes-overall"
    v1 = doc["versions"][0]
    assert v1["version"] == "v1" and len(v1["hash"]) == 64 and v1["scale"] == [1, 6]
    res = runner.invoke(app, ["prompts", "diff", "recipes-overall", "v1", "v1", "--json"])
    assert res.exit_code == 0
    doc = json.loads(res.stdout)
    assert doc["identical"] and doc["diff"] == ""
    res = runner.invoke(app, ["prompts", "diff", "recipes-overall", "v1", "v9", "--json"])
    assert res.exit_code == 2 and res.stdout == ""


def test_anchors_lint_json_keeps_the_exit_code():
    res = runner.invoke(app, ["anchors", "lint", "anchors/recipes/recipes-grammar.jsonl",
                              "--json", "--strict"])
    doc = json.loads(res.stdout)
    assert doc["n_warnings"] == sum(f["level"] == "warning" for f in doc["findings"])
    assert res.exit_code == (1 if doc["n_warnings"] else 0)
    assert doc["splits"]["calibration"] > 0 and doc["n_raters"] > 0


def test_session_review_json(tmp_path):
    from test_sessions import small_set

    from harness.sessions import SessionStore

    store = SessionStore(tmp_path / "state")
    try:
        session, fac = store.create(small_set(tmp_path), ["ann", "bob", "cy"])
        tokens = {p: session.invite(p, fac) for p in ("ann", "bob", "cy")}
        session.start_scoring(fac)
        for p, scores in {"ann": [1, 2, 3, 4], "bob": [1, 2, 3, 4],
                          "cy": [5, 2, 3, 4]}.items():
            session.score(p, tokens[p], {f"i{i}": s for i, s in enumerate(scores)})
            session.submit(p, tokens[p])
        sid = session.id
    finally:
        store.close()
    res = runner.invoke(app, ["session", "review", sid, "--facilitator-token", fac,
                              "--state-dir", str(tmp_path / "state"), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["session_id"] == sid and doc["participants"] == ["ann", "bob", "cy"]
    assert doc["items"][0]["item_id"] == "i0" and doc["items"][0]["flagged"]
    assert doc["items"][0]["scores"] == {"ann": 1, "bob": 1, "cy": 5}
    assert doc["n_flagged"] == 1 and "value" in doc["icc"]


def _consensus_judge(demo):
    """A server-side judge that answers each item's rounded human consensus."""
    by_output = {it.output.strip(): it for it in demo.items}
    consensus = demo.consensus()

    def handler(api, body, n):
        item = by_output[fs.recipe_output(body)]
        return fs.score(int(min(6, max(1, round(consensus[item.id])))))

    return handler


def test_calibrate_json_then_its_table_in_a_pipe(tmp_path, project_root, demo, monkeypatch,
                                                 capsys):
    from harness.cli._calibrate import print_result
    from harness.experiments import load_experiment
    from harness.loop import replay

    monkeypatch.setenv("JC_POLISH_KEY", KEY)
    with fs.FakeServer(_consensus_judge(demo)) as server:
        exp = fs.experiment_file(tmp_path, project_root, {
            "experiment": 'name = "polish-calibration-with-a-long-name"',
            "judge": (f'provider = "openai"\nmodel = "fake"\nbase_url = "{server.openai_url}"'
                      '\napi_key_env = "JC_POLISH_KEY"'),
            "run": "concurrency = 8\nmax_attempts = 2",
            "target": 'metric = "icc"\nthreshold = 0.7',
            "stopping": "max_iterations = 2",
        })
        res = runner.invoke(app, ["calibrate", str(exp), "--no-progress", "--json"])
        assert res.exit_code == 0, res.output
        doc = json.loads(res.stdout)
        # a progress line in a log stays one line (rich broke it at 80 columns)
        said = [line for line in res.stderr.splitlines() if "iteration 1: judging" in line]
        assert len(said) == 1 and re.search(r" v1 \([0-9a-f]{12}\)$", said[0]), res.stderr
        calls = server.stats.total
        result = replay(load_experiment(exp))  # read back from the journal
        assert server.stats.total == calls
    assert doc["experiment"] == "polish-calibration-with-a-long-name"
    assert doc["primary"] == "icc" and doc["stop_reason"] == "threshold"
    assert doc["best"]["version"] == "v1" and doc["best"]["alias"] == "candidate"
    assert [it["version"] for it in doc["iterations"]] == ["v1"]
    assert doc["holdout"]["split"] == "holdout" and doc["holdout"]["primary"] > 0.7
    assert doc["holdout"]["verdict"]["outcome"] in ("pass", "fail", "inconclusive")
    assert doc["mlflow"]["run_id"] and doc["report"]["html"].endswith(".html")
    capsys.readouterr()
    print_result(result)
    text = capsys.readouterr().out
    assert "…" not in text
    assert "calibration" in text.split() and "holdout" in text.split()
    assert doc["holdout"]["primary_text"] in text


# --------------------------------------------------------------------------- fixes


def _result(**kw):
    from harness.loop import CalibrationResult

    base = dict(experiment="e", primary="icc", threshold=0.7, stop_reason="threshold",
                iterations=[], best=None, parent_run_id="abc123")
    return CalibrationResult(**{**base, **kw})


@pytest.mark.parametrize("uri, ui, hint", [
    ("http://127.0.0.1:5000", "http://127.0.0.1:5000",
     "open the MLflow UI at: http://127.0.0.1:5000"),
    ("sqlite:///mlflow.db", "mlflow ui --backend-store-uri sqlite:///mlflow.db",
     "open the MLflow UI with: uv run mlflow ui --backend-store-uri sqlite:///mlflow.db"),
])
def test_the_mlflow_ui_hint(capsys, uri, ui, hint):
    from harness.cli._calibrate import print_result

    print_result(_result(tracking_uri=uri, ui_command=ui))
    text = capsys.readouterr().out
    assert hint in text and "uv run http" not in text


@pytest.mark.parametrize("primary, cal, hold, warns", [
    ("icc", 0.60, 0.80, False),   # holdout better: no warning
    ("icc", 0.80, 0.60, True),    # holdout worse by 0.20
    ("icc", 0.80, 0.75, False),   # worse, within 0.10
    ("mae", 0.80, 0.50, False),   # lower is better: the holdout is better
    ("mae", 0.50, 0.80, True),
])
def test_the_overfitting_warning_only_when_the_holdout_is_worse(primary, cal, hold, warns):
    from harness.loop._loop import _gap

    result = _result(primary=primary, best=SimpleNamespace(primary_value=cal),
                     holdout=SimpleNamespace(figures={primary: SimpleNamespace(value=hold)}))
    _gap(result)
    assert result.gap == pytest.approx(cal - hold)
    assert bool(result.warnings) is warns


def _params():
    cmd = typer.main.get_command(app)
    ctx = click.Context(cmd)

    def walk(group, path):
        for name, sub in group.commands.items():
            if isinstance(sub, click.Group):
                yield from walk(sub, [*path, name])
            else:
                yield [*path, name], sub

    for path, sub in walk(cmd, []):
        texts = [p.help or "" for p in sub.params] + [sub.help or ""]
        yield path, [t for t in texts if t]
    del ctx


def test_every_bracketed_help_text_is_shown():
    """Rich markup ate ``[gate]`` from ``--split``'s help: every ``[section]`` is shown."""
    missing = {}
    for path, texts in _params():
        wanted = {m for t in texts for m in re.findall(r"\[[a-z_]+\][a-z_ ]*", t)}
        if not wanted:
            continue
        res = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "2000"})
        shown = " ".join(res.stdout.split())
        lost = [w for w in wanted if re.sub(r"^\\", "", w).split()[0] not in shown]
        if lost or "\\[" in shown:
            missing[" ".join(path)] = lost or ["a backslash"]
    assert not missing
    res = runner.invoke(app, ["gate", "--help"], env={"COLUMNS": "2000"})
    assert "(default: [gate] split, else holdout)" in " ".join(res.stdout.split())


def _ragged(text: str) -> list[str]:
    """Lines of a help's prose (before its first panel) cut short inside a paragraph."""
    prose = text.split("╭")[0]
    short = []
    for para in re.split(r"\n\s*\n", prose):
        lines = [line.strip() for line in para.splitlines() if line.strip()]
        short += [line for line in lines[:-1] if len(line) < 50]
    return short


def test_help_paragraphs_are_wrapped_once_and_flags_show_no_type():
    """Docstrings are wrapped at 100 columns; typer kept those breaks and wrapped again at
    80, so `agree --help` read "... a criterion / column, / or a wide file ...". Every
    command's help, groups' subcommands included, fills its lines."""
    ragged, typed_flags = {}, []
    for path, _ in [([], None), *_params()]:
        res = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "80"})
        assert res.exit_code == 0, path
        if short := _ragged(res.stdout):
            ragged[" ".join(path)] = short
        # typer 0.29 said "--json <bool>" (a flag takes no value) and "--judge <list[str]>"
        # (a repeated option takes one value each time)
        if "<bool>" in res.stdout or "<list[" in res.stdout:
            typed_flags.append(" ".join(path))
    assert not ragged
    assert not typed_flags
    res = runner.invoke(app, ["agree", "--help"], env={"COLUMNS": "80"})
    assert "a criterion column, or a wide file" in " ".join(res.stdout.split())


def test_a_missing_key_names_the_cli_flag_and_the_experiment_field(tmp_path, project_root,
                                                                   monkeypatch):
    monkeypatch.delenv("JC_POLISH_NO_KEY", raising=False)
    with fs.FakeServer(lambda api, body, n: fs.score(3)) as server:
        exp = fs.experiment_file(tmp_path, project_root, {
            "experiment": 'name = "nokey"',
            "judge": (f'provider = "openai"\nmodel = "fake"\nbase_url = "{server.openai_url}"'
                      '\napi_key_env = "JC_POLISH_NO_KEY"'),
        })
        res = runner.invoke(app, ["judge", str(exp), "--no-progress"])
        assert server.stats.total == 0
    assert res.exit_code == 3
    text = " ".join(res.stderr.split())
    assert "$JC_POLISH_NO_KEY is not set" in text
    assert "--api-key-env" in text and "[judge] api_key_env" in text
    assert "api_key_env=None" not in text


pytest_plugins = ["pytester"]


def test_the_pytest_plugin_says_its_failure_once(pytester):
    pytester.makepyfile(test_team="""
        import types
        import harness.gate as g

        def test_below(judge_gate, monkeypatch):
            res = types.SimpleNamespace(outcome="fail", exit_code=1)
            def check(*a, **k):
                raise g.GateFailed(res, "GATE-TABLE-LINE icc >= 0.999 FAIL")
            monkeypatch.setattr(g, "check", check)
            judge_gate("x.toml", min={"icc": 0.999})

        def test_cannot_run(judge_gate, monkeypatch):
            def check(*a, **k):
                raise g.GateInputError("x.toml:3: BAD-THING")
            monkeypatch.setattr(g, "check", check)
            judge_gate("x.toml")
    """)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q", "-rN")
    result.assert_outcomes(failed=2)
    text = result.stdout.str()
    assert "judge gate failed (exit 1)" in text
    assert "judge gate could not run (exit 2, input error)" in text
    assert text.count("GATE-TABLE-LINE") == 1 and text.count("BAD-THING") == 1
    assert "During handling of the above exception" not in text


# --------------------------------------------------------------------------- version, help


def test_version():
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0
    assert res.stdout.strip() == f"judgecal {importlib.metadata.version('judgecal')}"


def test_the_exit_codes_are_in_the_top_level_help_and_the_readme(project_root):
    from harness.cli._common import EXIT_CODES

    res = runner.invoke(app, ["--help"], env={"COLUMNS": "2000"})
    shown = " ".join(res.stdout.split())
    assert "Exit codes" in shown
    readme = (project_root / "README.md").read_text()
    section = readme.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    for code, meaning in EXIT_CODES:
        assert f"{code}: {meaning.split(';')[0]}" in shown, code
        assert f"| {code} |" in section, code
    assert readme.count("## Exit codes") == 1


def test_the_installed_command_prints_its_version():
    res = subprocess.run([sys.executable, "-m", "harness.cli", "--version"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"judgecal {importlib.metadata.version('judgecal')}"
