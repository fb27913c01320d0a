"""A judge prompt version as the rubric in force of a session."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.anchors import load_anchor_set
from harness.cli import app
from harness.prompts import load_prompt, save_new_version
from harness.sessions import SessionError, SessionStore, prompt_rubric
from harness.sessions._web import create_app

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RECIPES = PROJECT_ROOT / "anchors" / "recipes" / "recipes-overall.jsonl"


@pytest.fixture
def prompts_dir(tmp_path: Path) -> Path:
    root = tmp_path / "prompts"
    shutil.copytree(PROJECT_ROOT / "prompts" / "recipes-overall", root / "recipes-overall")
    return root


def test_prompt_rubric_is_the_system_instructions(prompts_dir: Path) -> None:
    aset = load_anchor_set(RECIPES)
    pv = load_prompt("recipes-overall", "v1", prompts_dir=prompts_dir)
    label, text = prompt_rubric(pv, aset)
    assert label == f"judge prompt recipes-overall v1 ({pv.short_hash})"
    assert aset.meta.rubric.strip() in text  # the set's rubric, rendered into the prompt
    assert "scale of integers from 1 to 6" in text
    assert "(the output being rated)" not in text  # the [user] part is left out
    assert "[system]" not in text


def test_prompt_without_system_message_is_shown_whole(prompts_dir: Path) -> None:
    aset = load_anchor_set(RECIPES)
    pv = save_new_version("plain", "Rate {{ item.output }} for {{ criterion }}, {{ scale.min }}"
                          "-{{ scale.max }}.", parent=None, changelog="one message",
                          scale=(1, 6), scoring="structured", prompts_dir=prompts_dir)
    label, text = prompt_rubric(pv, aset)
    assert text == "[user]\nRate (the output being rated) for overall, 1-6."
    other = save_new_version("five", "Rate {{ item.output }}.", parent=None,
                             changelog="a 1-5 prompt", scale=(1, 5), scoring="structured",
                             prompts_dir=prompts_dir)
    with pytest.raises(SessionError, match="five v1 cannot be the rubric of recipes-overall"):
        prompt_rubric(other, aset)


def test_store_keeps_the_rubric_text(tmp_path: Path, prompts_dir: Path) -> None:
    aset = load_anchor_set(RECIPES)
    label, text = prompt_rubric(load_prompt("recipes-overall", "v1", prompts_dir=prompts_dir),
                                aset)
    with SessionStore(tmp_path / "state") as store:
        session, fac = store.create(aset, ["ann", "bob"], rubric_label=label, rubric=text)
        assert session.info.rubric == text and session.info.rubric_source == label
        tok = session.invite("ann", fac)
        page = create_app(store, session.id).test_client().get(f"/p/{tok}")
        body = page.get_data(as_text=True)
        assert f"In force: {label}." in body
        assert "scale of integers from 1 to 6" in body
        with pytest.raises(SessionError, match="needs a rubric_label"):
            store.create(aset, ["ann", "bob"], rubric=text)
        with pytest.raises(SessionError, match="empty"):
            store.create(aset, ["ann", "bob"], rubric=" ", rubric_label="x")
        plain, _ = store.create(aset, ["ann", "bob"])
        assert plain.info.rubric == aset.meta.rubric


def test_cli_create_with_prompt(tmp_path: Path, prompts_dir: Path) -> None:
    runner = CliRunner()
    state = str(tmp_path / "state")
    base = ["session", "create", str(RECIPES), "-p", "ann", "-p", "bob", "--state-dir", state,
            "--prompts-dir", str(prompts_dir)]
    res = runner.invoke(app, [*base, "--prompt", "recipes-overall@v1"])
    assert res.exit_code == 0, res.output
    pv = load_prompt("recipes-overall", "v1", prompts_dir=prompts_dir)
    assert f"rubric in force: judge prompt recipes-overall v1 ({pv.short_hash})" in res.stdout
    sid = re.search(r"created session (\w+)", res.stdout).group(1)
    with SessionStore(state) as store:
        info = store.get(sid).info
    assert info.rubric == prompt_rubric(pv, load_anchor_set(RECIPES))[1]

    res = runner.invoke(app, [*base, "--prompt", "nope"])
    assert res.exit_code == 2 and "nope" in res.stderr
    res = runner.invoke(app, [*base, "--prompt", "recipes-overall@v9"])
    assert res.exit_code == 2 and "v9" in res.stderr
    res = runner.invoke(app, [*base, "--prompt", "recipes-overall", "--rubric-label", "x"])
    assert res.exit_code == 2 and "not both" in res.stderr
