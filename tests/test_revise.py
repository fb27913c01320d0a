"""Revisers (fewshot, llm, manual), the holdout guard, and providers' free-text generate()."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import fakeserver as fs
import numpy as np
import pytest

from harness.anchors import AnchorItem, AnchorSet, load_anchor_set
from harness.judges._base import (
    FatalError,
    Judge,
    JudgeReply,
    JudgeRequest,
    Message,
    UnsupportedError,
)
from harness.loop._disagree import analyze_disagreements
from harness.loop._revise import (
    EXAMPLES_COMMENT,
    FewShotReviser,
    HoldoutLeakError,
    LLMReviser,
    ManualReviser,
    RevisionContext,
    RevisionError,
    examples_in,
    examples_line,
    make_reviser,
    with_examples,
)
from harness.loop._types import Disagreement, DisagreementAnalysis
from harness.prompts import (
    PromptVersion,
    list_versions,
    load_prompt,
    load_prompt_file,
    render_for_anchor,
    resolve,
    save_new_version,
)

NAME = "recipes-overall"

# Judge minus consensus per calibration item (by sorted id position): distinct sizes, so the
# order of the disagreements is known; two ties of size 2.0 to check the id tie-break.
OFFSETS = [3.0, -2.5, 2.0, -2.0, 1.5, -1.4, 1.2, 1.1, -1.05, 0.5, 0.2, 0.0]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def aset(project_root: Path) -> AnchorSet:
    return load_anchor_set(project_root / "anchors/recipes/recipes-overall.jsonl")


@pytest.fixture(scope="module")
def cal_items(aset: AnchorSet) -> tuple[AnchorItem, ...]:
    return tuple(sorted(aset.split("calibration").items, key=lambda it: it.id))


@pytest.fixture
def prompts_dir(tmp_path: Path, project_root: Path) -> Path:
    dst = tmp_path / "prompts"
    shutil.copytree(project_root / "prompts", dst)
    return dst


def analysis_for(aset: AnchorSet, items: Sequence[AnchorItem],
                 offsets: Sequence[float] = OFFSETS) -> DisagreementAnalysis:
    ids = [it.id for it in items]
    cons = np.array([aset.consensus()[i] for i in ids])
    off = np.zeros(len(ids))
    off[:len(offsets)] = offsets[:len(ids)]
    return analyze_disagreements(aset, ids, cons + off, cons)


def expected_order(items: Sequence[AnchorItem]) -> list[str]:
    pairs = [(abs(o), it.id) for it, o in zip(items, OFFSETS, strict=False) if abs(o) >= 1]
    return [i for _, i in sorted(pairs, key=lambda p: (-p[0], p[1]))]


def make_ctx(aset: AnchorSet, items: Sequence[AnchorItem], pv: PromptVersion, prompts_dir: Path,
             tmp_path: Path, analysis: DisagreementAnalysis | None = None,
             **kw: Any) -> RevisionContext:
    return RevisionContext(prompt=pv, anchor_set=aset, calibration_items=tuple(items),
                           analysis=analysis or analysis_for(aset, items), iteration=1,
                           prompts_dir=prompts_dir, brief_dir=tmp_path / "reports", **kw)


def v1(prompts_dir: Path, name: str = NAME) -> PromptVersion:
    return resolve(name, "v1", prompts_dir)


# --------------------------------------------------------------------------- fewshot


def test_fewshot_adds_the_k_worst_as_examples(aset, cal_items, prompts_dir, tmp_path) -> None:
    pv = v1(prompts_dir)
    parent_bytes = pv.path.read_bytes()
    out = FewShotReviser(k=3).revise(make_ctx(aset, cal_items, pv, prompts_dir, tmp_path))
    worst = expected_order(cal_items)[:3]
    assert not out.stop and out.new_version is not None
    new = out.new_version
    assert (new.label, new.parent, new.scale, new.scoring) == ("v2", 1, pv.scale, pv.scoring)
    assert [e["id"] for e in out.examples] == worst
    assert examples_in(new) == out.examples
    by_id = {it.id: it for it in cal_items}
    for ex in out.examples:
        it = by_id[ex["id"]]
        assert (ex["input"], ex["output"]) == (it.input, it.output)
        assert ex["score"] == round(aset.consensus()[it.id], 1)
        assert ex["rationale"] == it.rationale
    assert new.changelog == (f"fewshot: added 3 worst calibration disagreement(s) as examples "
                             f"({', '.join(worst)})")
    assert "+{%- set examples = examples + [" in out.diff
    assert pv.path.read_bytes() == parent_bytes  # the parent is untouched
    # A valid version on disk: loads with every check, renders with the examples in the
    # system message and nothing before the first marker.
    again = load_prompt(NAME, "v2", prompts_dir=prompts_dir)
    assert again.hash == new.hash and load_prompt_file(new.path).body == new.body
    lines = new.body.splitlines()
    assert lines[0] == EXAMPLES_COMMENT and lines[1].startswith("{%- set examples = examples + [")
    assert lines[1].endswith("] -%}") and lines[2] == "[system]"
    assert "null" not in lines[1]
    msgs = render_for_anchor(new, aset, cal_items[-1])
    assert [m.role for m in msgs] == ["system", "user"]
    assert msgs[0].content.startswith("You are a careful evaluator")
    assert "Rated examples:" in msgs[0].content
    for k, ex in enumerate(out.examples, 1):
        assert f"Example {k}: {ex['input']}" in msgs[0].content
        assert ex["output"] in msgs[0].content
        assert f"Score: {ex['score']:g}" in msgs[0].content
    assert "Example 4:" not in msgs[0].content
    # The parent renders without examples.
    assert "Rated examples:" not in render_for_anchor(pv, aset, cal_items[-1])[0].content


def test_fewshot_second_revision_adds_new_ones_and_replaces_the_line(aset, cal_items,
                                                                     prompts_dir,
                                                                     tmp_path) -> None:
    reviser = FewShotReviser(k=3, max_examples=6)
    first = reviser.revise(make_ctx(aset, cal_items, v1(prompts_dir), prompts_dir, tmp_path))
    second = reviser.revise(make_ctx(aset, cal_items, first.new_version, prompts_dir,
                                     tmp_path))
    assert second.new_version is not None and second.new_version.parent == 2
    ids = [e["id"] for e in second.examples]
    assert ids == expected_order(cal_items)[:6]  # the old three first, then the next three
    assert len(set(ids)) == len(ids)
    text = second.new_version.text
    assert text.count("set examples = examples +") == 1
    assert text.count(EXAMPLES_COMMENT) == 1
    content = render_for_anchor(second.new_version, aset, cal_items[0])[0].content
    assert "Example 6:" in content and "Example 7:" not in content


def test_fewshot_cap_drops_the_oldest(aset, cal_items, prompts_dir, tmp_path) -> None:
    reviser = FewShotReviser(k=3, max_examples=4)
    first = reviser.revise(make_ctx(aset, cal_items, v1(prompts_dir), prompts_dir, tmp_path))
    second = reviser.revise(make_ctx(aset, cal_items, first.new_version, prompts_dir,
                                     tmp_path))
    order = expected_order(cal_items)
    assert [e["id"] for e in second.examples] == order[2:6]
    assert f"dropped the oldest ({order[0]}, {order[1]}) to keep 4" in \
        second.new_version.changelog


def test_fewshot_is_deterministic(aset, cal_items, project_root, tmp_path) -> None:
    files = []
    for run in ("one", "two"):
        pdir = tmp_path / run / "prompts"
        shutil.copytree(project_root / "prompts", pdir)
        out = FewShotReviser().revise(make_ctx(aset, cal_items, v1(pdir), pdir, tmp_path / run))
        files.append(out.new_version.path.read_bytes())
    assert files[0] == files[1]


def test_fewshot_stops_when_nothing_to_add(aset, cal_items, prompts_dir, tmp_path) -> None:
    calm = analysis_for(aset, cal_items, [0.5] * len(cal_items))
    out = FewShotReviser().revise(make_ctx(aset, cal_items, v1(prompts_dir), prompts_dir,
                                           tmp_path, analysis=calm))
    assert out.stop and out.new_version is None and out.diff == ""
    assert "no disagreements" in out.message
    # Every disagreement already an example.
    few = analysis_for(aset, cal_items, [3.0, -2.0])
    reviser = FewShotReviser(k=3)
    first = reviser.revise(make_ctx(aset, cal_items, v1(prompts_dir), prompts_dir, tmp_path,
                                    analysis=few))
    assert len(first.examples) == 2
    again = reviser.revise(make_ctx(aset, cal_items, first.new_version, prompts_dir, tmp_path,
                                    analysis=few))
    assert again.stop and again.new_version is None
    assert "already examples" in again.message
    assert [p.label for p in list_versions(NAME, prompts_dir)] == ["v1", "v2"]


def test_fewshot_works_on_the_logprob_template(aset, cal_items, prompts_dir, tmp_path) -> None:
    pv = v1(prompts_dir, "recipes-overall-logprob")
    out = FewShotReviser(k=2).revise(make_ctx(aset, cal_items, pv, prompts_dir, tmp_path))
    assert out.new_version.scoring == "logprob"
    msgs = render_for_anchor(out.new_version, aset, cal_items[0])
    assert msgs[0].role == "system" and "Example 2:" in msgs[0].content


def test_fewshot_arguments() -> None:
    with pytest.raises(ValueError):
        FewShotReviser(k=0)
    with pytest.raises(ValueError):
        FewShotReviser(k=4, max_examples=3)


TRICKY = ('quotes " and \' and a backslash \\ and \\n literal, %} {% {{ x }} }} {# #} -%}\n'
          "second line\ttab \u2028 line separator, accents é ü, CJK 漢字, emoji 😀🎉, "
          "a literal \\ud83d, null, [system]\n[user]")


def test_examples_line_round_trip_with_awkward_text(aset, prompts_dir, tmp_path) -> None:
    examples = [
        {"id": "t1", "input": TRICKY, "output": TRICKY + "!", "score": 2.5, "rationale": TRICKY},
        {"id": "t2", "input": "plain", "output": "out", "score": 4, "rationale": None},
    ]
    line = examples_line(examples)
    assert line.count("\n") == 2 and line.isascii()
    assert "null" not in line.replace(", null,", "")
    body = with_examples("[system]\n{% for ex in examples %}<{{ ex.output }}|{{ ex.score }}|"
                         "{{ ex.rationale }}>{% endfor %}\n[user]\n{{ item.output }}\n", examples)
    pv = save_new_version("tricky", body, parent=None, changelog="test", scale=(1, 6),
                          scoring="structured", prompts_dir=prompts_dir)
    back = examples_in(load_prompt_file(pv.path))
    assert back == [{**examples[0]}, {**examples[1], "rationale": ""}]
    msgs = render_for_anchor(pv, aset, aset.split("calibration").items[0])
    assert msgs[0].content == f"<{TRICKY}!|2.5|{TRICKY}><out|4|>"
    # The text's marker-like lines stay inside the system message.
    assert [m.role for m in msgs] == ["system", "user"]
    # Replacing, not stacking.
    body2 = with_examples(pv.body, examples[1:])
    assert body2.count("set examples") == 1 and "t1" not in body2
    assert with_examples(pv.body, []).count("set examples") == 0


def test_examples_in_without_examples_and_bad_line(prompts_dir) -> None:
    assert examples_in(v1(prompts_dir)) == []
    body = "{%- set examples = examples + [1, 2] -%}\n[user]\n{{ item.output }}\n"
    pv = save_new_version("bad", body, parent=None, changelog="x", scale=(1, 6),
                          scoring="structured", prompts_dir=prompts_dir)
    with pytest.raises(Exception, match=r"v1\.j2:8: .*list of objects"):
        examples_in(pv)


# --------------------------------------------------------------------------- holdout guard


def test_context_refuses_holdout_items(aset, cal_items, prompts_dir, tmp_path) -> None:
    hold = aset.split("holdout").items
    with pytest.raises(HoldoutLeakError, match="not calibration items"):
        make_ctx(aset, (*cal_items, hold[0]), v1(prompts_dir), prompts_dir, tmp_path,
                 analysis=analysis_for(aset, cal_items))
    # A holdout item relabelled as calibration is still caught (the set knows its split).
    forged = hold[0].model_copy(update={"split": "calibration"})
    with pytest.raises(HoldoutLeakError):
        make_ctx(aset, (*cal_items, forged), v1(prompts_dir), prompts_dir, tmp_path,
                 analysis=analysis_for(aset, cal_items))


def test_context_refuses_an_analysis_naming_holdout_items(aset, cal_items, prompts_dir,
                                                          tmp_path) -> None:
    hold = aset.split("holdout").items
    offsets = list(OFFSETS) + [0.0] * (len(cal_items) - len(OFFSETS)) + [3.0, 3.0, 3.0]
    leaky = analysis_for(aset, [*cal_items, *hold[:3]], offsets)
    assert {d.item_id for d in leaky.items} & {h.id for h in hold}
    with pytest.raises(HoldoutLeakError, match="not among the calibration items"):
        make_ctx(aset, cal_items, v1(prompts_dir), prompts_dir, tmp_path, analysis=leaky)
    # Handed in directly: a disagreement with a holdout id.
    h = hold[0]
    fake = DisagreementAnalysis(
        n_items=1, items=[Disagreement(h.id, 6.0, 1.0, 5.0, h.rationale, tuple(h.tags),
                                       len(h.output))],
        direction={"mean_bias": 5.0, "n_lenient": 1, "n_harsh": 0, "label": "lenient"},
        by_tag=[], verbosity={})
    with pytest.raises(HoldoutLeakError, match=h.id):
        make_ctx(aset, cal_items, v1(prompts_dir), prompts_dir, tmp_path, analysis=fake)
    # Or as an excluded id.
    excl = analysis_for(aset, cal_items)
    excl.direction["excluded_ids"] = [h.id]
    with pytest.raises(HoldoutLeakError):
        make_ctx(aset, cal_items, v1(prompts_dir), prompts_dir, tmp_path, analysis=excl)


def test_revisers_take_only_a_context(prompts_dir) -> None:
    for reviser in (FewShotReviser(), ManualReviser(), LLMReviser(ScriptedJudge([]))):
        with pytest.raises(TypeError, match="RevisionContext"):
            reviser.revise(object())  # type: ignore[arg-type]


def test_llm_request_holds_calibration_items_only(aset, cal_items, prompts_dir,
                                                  tmp_path) -> None:
    judge = ScriptedJudge([reply(revised_body(v1(prompts_dir)))])
    ctx = make_ctx(aset, cal_items, v1(prompts_dir), prompts_dir, tmp_path)
    LLMReviser(judge).revise(ctx)
    sent = "\n".join(m.content for m in judge.calls[0]["messages"])
    for h in aset.split("holdout").items:
        assert h.id not in sent
        assert h.output not in sent
    for item_id in expected_order(cal_items):
        it = ctx.calibration_item(item_id)
        assert it.output[:200] in sent and it.rationale in sent


# --------------------------------------------------------------------------- llm reviser


class ScriptedJudge(Judge):
    """A judge whose generate() returns scripted replies (no network)."""

    provider = "fake"

    def __init__(self, replies: Sequence[str]) -> None:
        super().__init__("fake-model")
        self.replies = list(replies)
        self.calls: list[dict[str, Any]] = []

    async def complete(self, request: JudgeRequest) -> JudgeReply:  # pragma: no cover
        raise AssertionError("the reviser must not score")

    async def generate(self, messages: Sequence[Message], *, max_tokens: int,
                       temperature: float) -> str:
        self.calls.append({"messages": list(messages), "max_tokens": max_tokens,
                           "temperature": temperature})
        return self.replies.pop(0)


def revised_body(pv: PromptVersion) -> str:
    from harness.loop._revise import strip_examples

    return strip_examples(pv.body).replace(
        "First reason briefly",
        "Penalise repeated or garbled steps even when the recipe is long. First reason briefly")


def reply(body: str, changelog: str | None = "Penalise garbled, repetitive steps.") -> str:
    text = f"Here is the revision.\n<<<TEMPLATE\n{body}TEMPLATE>>>\n"
    if changelog is not None:
        text += f"<<<CHANGELOG\n{changelog}\nCHANGELOG>>>\n"
    return text


def test_llm_reviser_happy_path(aset, cal_items, prompts_dir, tmp_path) -> None:
    pv = v1(prompts_dir)
    body = revised_body(pv)
    judge = ScriptedJudge([reply(body)])
    out = LLMReviser(judge, max_tokens=1000, temperature=0.3).revise(
        make_ctx(aset, cal_items, pv, prompts_dir, tmp_path))
    new = out.new_version
    assert not out.stop and new is not None
    assert (new.label, new.parent, new.scale, new.scoring) == ("v2", 1, (1, 6), "structured")
    assert new.body == body
    assert new.changelog == "llm (fake/fake-model): Penalise garbled, repetitive steps."
    assert "+Score on a scale" not in out.diff and "Penalise repeated or garbled" in out.diff
    assert out.examples == []
    call = judge.calls[0]
    assert (call["max_tokens"], call["temperature"]) == (1000, 0.3)
    user = call["messages"][1].content
    assert "Criterion: overall" in user and "Scale: 1–6" in user
    assert aset.meta.rubric in user
    assert "<<<TEMPLATE\n[system]\nYou are a careful evaluator" in user
    assert "judgecal-prompt" not in user  # the header is not sent
    load_prompt(NAME, "v2", prompts_dir=prompts_dir)


def test_llm_reviser_keeps_the_fewshot_examples(aset, cal_items, prompts_dir,
                                                tmp_path) -> None:
    first = FewShotReviser(k=2).revise(make_ctx(aset, cal_items, v1(prompts_dir), prompts_dir,
                                                tmp_path))
    pv = first.new_version
    judge = ScriptedJudge([reply(revised_body(pv), changelog=None)])
    out = LLMReviser(judge).revise(make_ctx(aset, cal_items, pv, prompts_dir, tmp_path))
    assert out.examples == first.examples
    assert out.new_version.changelog.startswith("llm (fake/fake-model): revised from ")
    sent = judge.calls[0]["messages"][1].content
    assert "set examples" not in sent  # the model sees the body without the examples lines
    assert out.new_version.text.count("set examples") == 1


def test_llm_reviser_strips_a_fence_and_a_copied_header(aset, cal_items, prompts_dir,
                                                        tmp_path) -> None:
    pv = v1(prompts_dir)
    body = revised_body(pv)
    fenced = f"```jinja\n{pv.text[:len(pv.text) - len(pv.body)]}{body}```\n"
    out = LLMReviser(ScriptedJudge([reply(fenced)])).revise(
        make_ctx(aset, cal_items, pv, prompts_dir, tmp_path))
    assert out.new_version.body == body


def test_llm_reviser_no_change_stops(aset, cal_items, prompts_dir, tmp_path) -> None:
    pv = v1(prompts_dir)
    out = LLMReviser(ScriptedJudge([reply(pv.body)])).revise(
        make_ctx(aset, cal_items, pv, prompts_dir, tmp_path))
    assert out.stop and out.new_version is None and "no change" in out.message


def _break(pv: PromptVersion, how: str) -> str:
    body = revised_body(pv)
    return {
        "no_block": "I think the prompt is fine as it is.",
        "empty": "<<<TEMPLATE\n\nTEMPLATE>>>",
        "no_user_marker": reply(body.replace("[user]\n", "")),
        "no_system_marker": reply(body.replace("[system]\n", "")),
        "no_output": reply(body.replace('{{ item.output | untrusted("recipe") }}',
                                        "(the recipe)")),
        "undefined_variable": reply(body.replace("{{ item.input }}", "{{ item.inptu }}")),
        "syntax_error": reply(body.replace("{%- endif %}", "", 1)),
        "hard_coded_scale": reply(body.replace("{{ scale.max }}", "6")),
        "examples_line": reply(examples_line([{"id": "x", "input": "i", "output": "o",
                                               "score": 3, "rationale": "r"}]) + body),
        "text_before_marker": reply("Preamble.\n" + body),
    }[how]


@pytest.mark.parametrize("how, message", [
    ("no_block", "no <<<TEMPLATE"),
    ("empty", "empty"),
    ("no_user_marker", r"marker line\(s\) \[user\]"),
    ("no_system_marker", r"\[system\]"),
    ("no_output", "item.output"),
    ("undefined_variable", "does not render for calibration item .*item.inptu"),
    ("syntax_error", "invalid: .*syntax"),
    ("hard_coded_scale", "scale.max"),
    ("examples_line", "examples are managed by judgecal"),
    ("text_before_marker", "text before the first message marker"),
])
def test_llm_reviser_refuses_invalid_templates(aset, cal_items, prompts_dir, tmp_path,
                                               how: str, message: str) -> None:
    pv = v1(prompts_dir)
    with pytest.raises(RevisionError, match=message):
        LLMReviser(ScriptedJudge([_break(pv, how)])).revise(
            make_ctx(aset, cal_items, pv, prompts_dir, tmp_path))
    assert [p.label for p in list_versions(NAME, prompts_dir)] == ["v1"]  # nothing written


def test_llm_reviser_through_the_openai_provider(aset, cal_items, prompts_dir,
                                                 tmp_path) -> None:
    from harness.judges._openai import OpenAIJudge

    pv = v1(prompts_dir)
    text = reply(revised_body(pv))
    with fs.FakeServer(handler=lambda api, body, n: text_response(api, text)) as srv:
        judge = OpenAIJudge("gpt-fake", base_url=srv.openai_url, api_key_env=None)
        out = make_reviser("llm", judge=judge).revise(
            make_ctx(aset, cal_items, pv, prompts_dir, tmp_path))
    assert out.new_version.label == "v2"
    assert out.new_version.changelog.startswith("llm (openai/gpt-fake): ")


# --------------------------------------------------------------------------- manual


def test_manual_reviser_writes_a_brief_and_stops(aset, cal_items, prompts_dir,
                                                 tmp_path) -> None:
    from harness.agreement import icc, mae

    pv = v1(prompts_dir)
    figures = {"icc": icc([[1, 2], [3, 3], [5, 6], [2, 2]]), "mae": mae([1, 2], [2, 2])}
    ctx = make_ctx(aset, cal_items, pv, prompts_dir, tmp_path, figures=figures)
    out = ManualReviser().revise(ctx)
    assert out.stop and out.new_version is None and out.diff == ""
    assert out.brief_path == tmp_path / "reports" / "recipes-overall-v1-brief.md"
    brief = out.brief_path.read_text(encoding="utf-8")
    nxt = prompts_dir / NAME / "v2.j2"
    assert str(nxt) in out.message and "parent: 1" in out.message
    assert brief.startswith("# Disagreement brief: recipes-overall v1")
    assert f"cp {pv.path} {nxt}" in brief
    assert "`version: 2`, `parent: 1`" in brief
    assert "judgecal calibrate" in brief
    assert "| icc |" in brief and "| mae |" in brief
    assert "| item | consensus | judge | difference |" in brief
    for item_id in expected_order(cal_items):
        assert f"`{item_id}`" in brief
    for h in aset.split("holdout").items:
        assert h.id not in brief
    assert not nxt.exists()  # the user creates it


def test_make_reviser() -> None:
    assert isinstance(make_reviser("fewshot", k=2, max_examples=5), FewShotReviser)
    assert isinstance(make_reviser("manual"), ManualReviser)
    llm = make_reviser("llm", judge=ScriptedJudge([]), max_tokens=100, temperature=0.0)
    assert isinstance(llm, LLMReviser) and llm.max_tokens == 100
    with pytest.raises(ValueError, match="needs a judge"):
        make_reviser("llm")
    with pytest.raises(ValueError, match="unknown reviser"):
        make_reviser("genetic")


# --------------------------------------------------------------------------- generate()


def text_response(api: str, text: str) -> fs.Response:
    """A 200 carrying free text in the API's format."""
    if api == "anthropic":
        body = {"id": "msg_1", "type": "message", "role": "assistant", "model": "fake",
                "stop_reason": "end_turn", "stop_sequence": None,
                "content": [{"type": "text", "text": text}],
                "usage": {"input_tokens": 10, "output_tokens": 5}}
    else:
        body = {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "fake",
                "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                             "message": {"role": "assistant", "content": text,
                                         "refusal": None}}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}
    return fs.Response("raw", body=json.dumps(body), label="text")


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def provider_judge(provider: str, srv: fs.FakeServer) -> Judge:
    from harness.judges import make_judge

    url = srv.openai_url if provider == "openai" else srv.url
    return make_judge(provider, f"{provider}-fake", base_url=url)


def generate(judge: Judge, messages: Sequence[Message], **kw: Any) -> str:
    async def go() -> str:
        try:
            return await judge.generate(messages, **kw)
        finally:
            await judge.aclose()

    return asyncio.run(go())


MESSAGES = (Message("system", "You edit prompts."), Message("user", "Say hi."))


@pytest.fixture
def text_server() -> Iterator[fs.FakeServer]:
    with fs.FakeServer(keep_bodies=True,
                       handler=lambda api, body, n: text_response(api, "Hello there.")) as srv:
        yield srv


@pytest.mark.usefixtures("keys")
def test_openai_generate_plain_chat_call(text_server: fs.FakeServer) -> None:
    judge = provider_judge("openai", text_server)
    assert generate(judge, MESSAGES, max_tokens=77, temperature=0.4) == "Hello there."
    sent = text_server.stats.bodies[0]
    assert sent["messages"] == [m.to_dict() for m in MESSAGES]
    assert (sent["max_tokens"], sent["temperature"]) == (77, 0.4)
    assert "response_format" not in sent and "logprobs" not in sent


@pytest.mark.usefixtures("keys")
def test_anthropic_generate_plain_messages_call(text_server: fs.FakeServer) -> None:
    judge = provider_judge("anthropic", text_server)
    assert generate(judge, MESSAGES, max_tokens=55, temperature=0.4) == "Hello there."
    sent = text_server.stats.bodies[0]
    assert sent["system"] == "You edit prompts."
    assert sent["messages"] == [{"role": "user", "content": "Say hi."}]
    assert sent["max_tokens"] == 55
    assert "tools" not in sent and "tool_choice" not in sent and "temperature" not in sent


@pytest.mark.usefixtures("keys")
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_generate_retries_retryable_errors(provider: str) -> None:
    def handler(api: str, body: dict[str, Any], n: int) -> fs.Response:
        return fs.rate_limited("0") if n == 1 else fs.server_error(503) if n == 2 \
            else text_response(api, "third time lucky")

    with fs.FakeServer(handler=handler) as srv:
        assert generate(provider_judge(provider, srv), MESSAGES, max_tokens=10,
                        temperature=0.0) == "third time lucky"
        assert srv.stats.total == 3


@pytest.mark.usefixtures("keys")
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_generate_fatal_errors_are_not_retried(provider: str) -> None:
    with fs.FakeServer(handler=lambda api, body, n: fs.error(401)) as srv:
        with pytest.raises(FatalError, match="authentication failed"):
            generate(provider_judge(provider, srv), MESSAGES, max_tokens=10, temperature=0.0)
        assert srv.stats.total == 1


def test_generate_default_is_unsupported() -> None:
    class Bare(Judge):
        provider = "bare"

        async def complete(self, request: JudgeRequest) -> JudgeReply:  # pragma: no cover
            raise AssertionError

    with pytest.raises(UnsupportedError, match="bare cannot generate"):
        asyncio.run(Bare("m").generate(MESSAGES, max_tokens=5, temperature=0.0))


def test_local_generate_one_short_call() -> None:
    from harness.judges._local import LocalJudge

    judge = LocalJudge()
    text = generate(judge, [Message("user", "Name one fruit.")], max_tokens=8,
                    temperature=0.0)
    assert isinstance(text, str) and text.strip()
    with pytest.raises(FatalError, match="max_tokens"):
        generate(judge, [Message("user", "x")], max_tokens=0, temperature=0.0)


def test_llm_reviser_provider_failure_is_a_revision_error(aset, cal_items, prompts_dir,
                                                          tmp_path) -> None:
    class Failing(ScriptedJudge):
        async def generate(self, messages, *, max_tokens, temperature):
            raise FatalError("context window exceeded")

    with pytest.raises(RevisionError, match="fake/fake-model failed: context window") as info:
        LLMReviser(Failing([])).revise(make_ctx(aset, cal_items, v1(prompts_dir), prompts_dir,
                                                tmp_path))
    assert isinstance(info.value.__cause__, FatalError)
