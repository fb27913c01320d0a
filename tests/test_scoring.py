"""Reply parsing, sample aggregation and test-retest agreement (harness.judges._scoring)."""

from __future__ import annotations

import math

import pytest

from harness.judges._base import JudgeReply, JudgeRequest, Message
from harness.judges._scoring import (
    InvalidReply,
    aggregate,
    parse_reply,
    retest_agreement,
)

MSGS = (Message("user", "grade this"),)
STRUCT = JudgeRequest(messages=MSGS, mode="structured", scale_min=1, scale_max=5)
LOGP = JudgeRequest(messages=MSGS, mode="logprob", scale_min=1, scale_max=5)


def parse_raw(text: str) -> float:
    return parse_reply(JudgeReply(raw=text), STRUCT).score


def parse_struct(obj: dict) -> float:
    return parse_reply(JudgeReply(raw="", structured=obj), STRUCT).score


# --------------------------------------------------------------------------- structured


def test_structured_valid_object_and_reasoning():
    parsed = parse_reply(
        JudgeReply(raw="", structured={"reasoning": "clear and correct", "score": 4}), STRUCT
    )
    assert parsed.score == 4.0
    assert parsed.reasoning == "clear and correct"
    assert parsed.distribution is None


def test_structured_from_raw_json():
    assert parse_raw('{"reasoning": "ok", "score": 2}') == 2.0


def test_structured_fenced_json():
    text = 'Here is my verdict:\n```json\n{"reasoning": "meh", "score": 3}\n```\nThanks.'
    assert parse_raw(text) == 3.0
    assert parse_raw('```\n{"score": 5}\n```') == 5.0


def test_structured_prose_around_one_object():
    text = 'After careful thought {"reasoning": "has {braces} inside", "score": 1} done.'
    parsed = parse_reply(JudgeReply(raw=text), STRUCT)
    assert parsed.score == 1.0
    assert parsed.reasoning == "has {braces} inside"


def test_structured_no_digit_hunting_in_free_text():
    with pytest.raises(InvalidReply, match="no JSON object found"):
        parse_raw("I would give this a 4 out of 5.")


def test_structured_two_objects_are_ambiguous():
    with pytest.raises(InvalidReply, match="2 JSON objects"):
        parse_raw('{"score": 2} or maybe {"score": 4}')


def test_structured_missing_score_quotes_raw():
    with pytest.raises(InvalidReply, match="no 'score' key") as info:
        parse_raw('{"reasoning": "forgot the score", "rating": 4}')
    assert "forgot the score" in str(info.value)


@pytest.mark.parametrize("score", [7, 0, -1, 6])
def test_structured_off_scale(score):
    with pytest.raises(InvalidReply, match=f"score {score} is off the scale 1-5"):
        parse_struct({"score": score})


def test_structured_non_integer():
    with pytest.raises(InvalidReply, match="must be an integer, got 3.5"):
        parse_struct({"score": 3.5})
    with pytest.raises(InvalidReply, match="must be an integer"):
        parse_struct({"score": "3.5"})
    with pytest.raises(InvalidReply, match="must be an integer"):
        parse_struct({"score": "four"})
    with pytest.raises(InvalidReply, match="must be an integer"):
        parse_struct({"score": None})
    with pytest.raises(InvalidReply, match="must be an integer"):
        parse_struct({"score": [4]})


def test_structured_integral_float_and_string_accepted():
    assert parse_struct({"score": 4.0}) == 4.0
    assert parse_struct({"score": "4"}) == 4.0
    assert parse_struct({"score": " 2 "}) == 2.0
    assert parse_raw('{"score": "5"}') == 5.0


def test_structured_bool_rejected():
    with pytest.raises(InvalidReply, match="boolean True"):
        parse_struct({"score": True})


def test_structured_non_string_reasoning_rejected():
    with pytest.raises(InvalidReply, match="'reasoning' must be a string"):
        parse_struct({"score": 3, "reasoning": ["a", "b"]})


def test_structured_empty_and_non_object():
    with pytest.raises(InvalidReply, match="empty reply"):
        parse_raw("   ")
    with pytest.raises(InvalidReply, match="expected a JSON object, got list"):
        parse_raw("[4]")


def test_invalid_reply_quote_is_truncated():
    with pytest.raises(InvalidReply) as info:
        parse_raw("x" * 5000)
    assert len(str(info.value)) < 400
    assert "more chars" in str(info.value)


# --------------------------------------------------------------------------- logprob


def lp(p: float) -> float:
    return math.log(p)


def test_logprob_expected_value_by_hand():
    # p(3)=0.2, p(4)=0.5, p(5)=0.2 (mass 0.9) plus a non-scale token
    reply = JudgeReply(raw="4", score_logprobs={"3": lp(0.2), "4": lp(0.5), "5": lp(0.2),
                                                "The": lp(0.1)})
    parsed = parse_reply(reply, LOGP)
    # normalised: 2/9, 5/9, 2/9 -> (6 + 20 + 10) / 9 = 4.0
    assert parsed.score == pytest.approx(4.0)
    assert parsed.distribution == pytest.approx({3: 2 / 9, 4: 5 / 9, 5: 2 / 9})
    assert parsed.mass == pytest.approx(0.9)
    assert "0.900" in parsed.reasoning


def test_logprob_asymmetric_by_hand():
    reply = JudgeReply(raw="1", score_logprobs={"1": lp(0.6), "2": lp(0.3), "5": lp(0.1)})
    # 0.6*1 + 0.3*2 + 0.1*5 = 1.7
    assert parse_reply(reply, LOGP).score == pytest.approx(1.7)


def test_logprob_merges_tokens_of_one_scale_point():
    reply = JudgeReply(raw="4", score_logprobs={"4": lp(0.3), " 4": lp(0.2), "2": lp(0.3),
                                                "\n2": lp(0.1)})
    parsed = parse_reply(reply, LOGP)
    # 4: 0.5, 2: 0.4 -> normalised 5/9, 4/9 -> (20 + 8) / 9
    assert parsed.distribution == pytest.approx({2: 4 / 9, 4: 5 / 9})
    assert parsed.score == pytest.approx(28 / 9)
    assert parsed.mass == pytest.approx(0.9)


def test_logprob_ignores_off_scale_and_non_integer_tokens():
    reply = JudgeReply(raw="3", score_logprobs={"3": lp(0.5), "7": lp(0.2), "0": lp(0.1),
                                                "3.5": lp(0.1), "three": lp(0.1)})
    parsed = parse_reply(reply, LOGP)
    assert parsed.score == 3.0
    assert parsed.mass == pytest.approx(0.5)


def test_logprob_no_scale_tokens():
    reply = JudgeReply(raw="Well", score_logprobs={"Well": lp(0.7), "9": lp(0.3)})
    with pytest.raises(InvalidReply, match="no candidate token is a scale point 1-5"):
        parse_reply(reply, LOGP)


def test_logprob_below_the_minimum_mass_is_invalid():
    # The model's likeliest first token was "The": only 15% of the mass is on scale points.
    reply = JudgeReply(raw="The", score_logprobs={"The": lp(0.8), "4": lp(0.1), "3": lp(0.05),
                                                  "A": lp(0.05)})
    with pytest.raises(InvalidReply) as info:
        parse_reply(reply, LOGP)
    assert info.value.reason == (
        "only 15% of the probability mass is on the scale's tokens (minimum 50%); "
        "likeliest tokens: 'The', '4', '3'"
    )


@pytest.mark.parametrize("minimum", [0.5, 0.3, 0.9])
def test_logprob_minimum_mass_boundary(minimum):
    def reply(mass):
        return JudgeReply(raw="4", score_logprobs={"4": lp(mass), "x": lp(1 - mass)})

    request = JudgeRequest(messages=MSGS, mode="logprob", scale_min=1, scale_max=5,
                           min_score_mass=minimum)
    assert parse_reply(reply(minimum), request).mass == pytest.approx(minimum)  # at: valid
    assert parse_reply(reply(minimum + 0.001), request).score == 4.0  # just above
    with pytest.raises(InvalidReply, match="probability mass") as info:
        parse_reply(reply(minimum - 0.001), request)  # just below
    # The two percentages are told apart however close they are.
    low, high = f"{minimum - 0.001:.1%}", f"{minimum:.1%}"
    assert f"only {low} of the probability mass" in info.value.reason
    assert f"(minimum {high})" in info.value.reason


def test_logprob_minimum_mass_default_is_one_half():
    assert LOGP.min_score_mass == 0.5
    reply = JudgeReply(raw="4", score_logprobs={"4": lp(0.49), "The": lp(0.51)})
    with pytest.raises(InvalidReply, match=r"only 49% .* \(minimum 50%\)"):
        parse_reply(reply, LOGP)


def test_logprob_missing_logprobs():
    with pytest.raises(InvalidReply, match="provider returned no logprobs"):
        parse_reply(JudgeReply(raw="4"), LOGP)


# --------------------------------------------------------------------------- aggregation


def test_aggregate():
    assert aggregate([1, 2, 6]) == 3.0
    assert aggregate([1, 2, 6], "median") == 2.0
    assert aggregate([1, 2, 3, 4], "median") == 2.5
    assert aggregate([4, 4, 2], "mode") == 4.0
    assert aggregate([5, 5, 1, 1, 3], "mode") == 1.0  # smallest of ties
    assert aggregate([3.7], "mode") == 3.7
    with pytest.raises(ValueError, match="at least one"):
        aggregate([])
    with pytest.raises(ValueError, match="how must be"):
        aggregate([1, 2], "max")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- retest


def test_retest_perfectly_consistent():
    res = retest_agreement({"a": [1, 1, 1], "b": [3, 3, 3], "c": [5, 5, 5], "d": [2, 2]})
    assert res.value == pytest.approx(1.0)
    assert res.details["what"] == "test-retest"
    assert res.n_items == 4


def test_retest_constant_is_undefined():
    res = retest_agreement({"a": [3, 3], "b": [3, 3], "c": [3, 3]})
    assert res.value is None
    assert "identical" in res.reason


def test_retest_drops_single_sample_items_and_handles_noise():
    samples = {"a": [1, 2, 1], "b": [4, 4, 5], "c": [2, 3, 2], "d": [5, 5, 5], "e": [3]}
    res = retest_agreement(samples)
    assert res.details["n_dropped"] == 1
    assert res.n_items == 4
    assert 0.5 < res.value < 1.0


def test_retest_too_few_items():
    assert retest_agreement({"a": [1, 2], "b": [3, 4]}).value is None
    res = retest_agreement({"a": [1], "b": [3]})
    assert res.value is None and "2 or more samples" in res.reason
    assert retest_agreement({}).value is None
