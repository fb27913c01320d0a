"""Abstain or escalate (Trust or Escalate): the threshold, its guarantee, the CLI."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import beta, binom

from harness.selective import (
    agreement_coverage_curve,
    agreement_indicator,
    binomial_tail_pvalue,
    clopper_pearson_upper,
    fixed_sequence_threshold,
    min_kept,
    parse_distribution,
    sample_agreement,
    selective_outcome,
    spread_confidence,
    top_mass,
)

# --------------------------------------------------------------------------- bounds


@pytest.mark.parametrize("k,n", [(0, 1), (0, 11), (1, 15), (3, 20), (7, 40), (19, 20)])
@pytest.mark.parametrize("delta", [0.05, 0.1, 0.2])
def test_clopper_pearson_upper_is_the_beta_quantile(k, n, delta):
    u = clopper_pearson_upper(k, n, delta)
    assert u == pytest.approx(beta.ppf(1 - delta, k + 1, n - k), abs=1e-12)
    # the defining property: seeing k or fewer errors at rate u has probability delta
    assert binom.cdf(k, n, u) == pytest.approx(delta, abs=1e-9)


def test_clopper_pearson_edges():
    assert clopper_pearson_upper(5, 5, 0.1) == 1.0
    assert clopper_pearson_upper(0, 0, 0.1) == 1.0
    assert clopper_pearson_upper(0, 10, 0.1) == pytest.approx(1 - 0.1 ** (1 / 10))
    with pytest.raises(ValueError, match="0 <= k <= n"):
        clopper_pearson_upper(3, 2, 0.1)
    with pytest.raises(ValueError, match="delta"):
        clopper_pearson_upper(0, 2, 1.0)


@pytest.mark.parametrize("alpha", [0.1, 0.2, 0.3])
def test_bound_and_pvalue_reject_together(alpha):
    """upper(k, n, delta) <= alpha exactly when P(Bin(n, alpha) <= k) <= delta."""
    delta = 0.1
    for n in range(1, 60):
        for k in range(n + 1):
            by_bound = clopper_pearson_upper(k, n, delta) <= alpha
            p = binomial_tail_pvalue(k, n, alpha)
            if abs(p - delta) > 1e-9:  # off the boundary itself
                assert by_bound == (p <= delta), (n, k)


@pytest.mark.parametrize("target,delta", [(0.8, 0.1), (0.9, 0.05), (0.7, 0.2), (0.95, 0.1)])
def test_min_kept_is_the_fewest_items_that_can_reject(target, delta):
    n = min_kept(target, delta)
    alpha = 1 - target
    assert clopper_pearson_upper(0, n, delta) <= alpha
    assert clopper_pearson_upper(0, n - 1, delta) > alpha


# --------------------------------------------------------------------------- threshold


def _known_case():
    """20 items, confidences 0.99 down to 0.80; item 15 (confidence 0.85) disagrees."""
    conf = np.round(1 - 0.01 * np.arange(1, 21), 2)
    ok = np.ones(20, dtype=bool)
    ok[14] = False
    return conf, ok


def test_threshold_on_a_case_with_a_known_answer():
    # target 0.8, delta 0.1: at least 11 kept items (0.8**11 = 0.086 <= 0.1 < 0.8**10).
    # Keeping 11..14 items with no error: upper bounds 0.189, 0.175, 0.162, 0.152 <= 0.2,
    # rejected. Keeping 15 with one error: upper 0.2356 > 0.2: the scan stops there, so the
    # threshold is the 14th confidence, 0.86 -- although keeping all 20 (one error, upper
    # 0.181) would pass on its own: fixed-sequence testing never looks past a failure.
    conf, ok = _known_case()
    t = fixed_sequence_threshold(conf, ok, target=0.8, delta=0.1)
    assert t.min_kept == 11
    assert t.threshold == pytest.approx(0.86)
    assert [s.n_kept for s in t.steps] == [11, 12, 13, 14, 15]
    assert [s.rejected for s in t.steps] == [True, True, True, True, False]
    assert t.steps[-1].n_errors == 1
    assert t.steps[-1].upper == pytest.approx(beta.ppf(0.9, 2, 14))
    assert t.steps[-1].p_value == pytest.approx(binom.cdf(1, 15, 0.2))
    assert clopper_pearson_upper(1, 20, 0.1) <= 0.2  # the later threshold that is not taken
    cal = t.calibration
    assert (cal.n, cal.n_kept, cal.coverage, cal.agreement, cal.guarantee_held) == \
        (20, 14, 0.7, 1.0, True)
    assert t.keep(conf).sum() == 14


def test_no_threshold_when_the_first_test_fails():
    conf, ok = _known_case()
    ok[0] = False  # an error among the 11 most confident: upper(1, 11) = 0.30 > 0.2
    t = fixed_sequence_threshold(conf, ok, target=0.8, delta=0.1)
    assert t.threshold is None and not t.certified
    assert len(t.steps) == 1 and not t.steps[0].rejected
    assert (t.calibration.n_kept, t.calibration.coverage, t.calibration.agreement) == \
        (0, 0.0, None)
    assert not t.keep(conf).any()


def test_too_few_items_certify_nothing():
    t = fixed_sequence_threshold([0.9] * 10, [True] * 10, target=0.8, delta=0.1)
    assert t.threshold is None and t.steps == ()


def test_ties_and_missing_confidences():
    # 12 items at 0.9 (all right), 3 at 0.5 (wrong), 2 without a judgment (NaN, never kept)
    conf = [0.9] * 12 + [0.5] * 3 + [np.nan] * 2
    ok = [True] * 12 + [False] * 3 + [True] * 2
    t = fixed_sequence_threshold(conf, ok, target=0.8, delta=0.1)
    assert t.threshold == 0.9
    assert (t.calibration.n, t.calibration.n_kept) == (17, 12)
    assert t.keep(conf).tolist() == [True] * 12 + [False] * 5


def test_selective_outcome_and_curve():
    conf = [0.9, 0.8, 0.8, 0.2, np.nan]
    ok = [True, False, True, True, True]
    o = selective_outcome(conf, ok, 0.8, target=0.7)
    assert (o.n, o.n_kept, o.agreement, o.guarantee_held) == (5, 3, pytest.approx(2 / 3),
                                                              False)
    lo, hi = o.ci95
    assert lo == pytest.approx(beta.ppf(0.025, 2, 2)) and hi == pytest.approx(
        beta.ppf(0.975, 3, 1))
    curve = agreement_coverage_curve(conf, ok)
    assert [(p.threshold, p.n_kept, p.coverage) for p in curve] == [
        (0.9, 1, 0.2), (0.8, 3, 0.6), (0.2, 4, 0.8)]
    assert [p.agreement for p in curve] == [1.0, pytest.approx(2 / 3), 0.75]


def test_agreement_indicator():
    j = [4.0, 4.5, 3.4, 2.0, np.nan]
    c = [4.0, 4.0, 4.0, np.nan, 3.0]
    assert agreement_indicator(j, c).tolist() == [True, True, False, False, False]
    assert agreement_indicator(j, c, tolerance=0).tolist() == [True, False, False, False,
                                                               False]
    assert agreement_indicator([1, 2], [1, 3], nominal=True).tolist() == [True, False]
    with pytest.raises(ValueError, match="tolerance"):
        agreement_indicator(j, c, tolerance=-1)


def test_confidence_signals():
    assert top_mass({1: 0.1, 2: 0.7, 3: 0.2}) == pytest.approx(0.7)
    assert spread_confidence({2: 1.0}, (1, 6)) == 1.0
    assert spread_confidence({1: 0.5, 6: 0.5}, (1, 6)) == pytest.approx(0.0)
    assert sample_agreement([3, 3, 4]) == pytest.approx(2 / 3)
    text = ("expected value over scale tokens 1=0.010, 4=0.790, 5=0.200; probability mass "
            "covered 0.950")
    assert parse_distribution(text) == {1: 0.01, 4: 0.79, 5: 0.2}
    assert parse_distribution("a structured judgment's reasoning") is None


def test_the_distribution_summary_of_a_logprob_judgment_reads_back():
    """The reasoning judgecal journals for a logprob reply holds the distribution."""
    import math

    from harness.judges._base import JudgeReply, JudgeRequest
    from harness.judges._scoring import parse_reply

    request = JudgeRequest(messages=(), mode="logprob", scale_min=1, scale_max=5)
    reply = JudgeReply(raw="4", score_logprobs={"4": math.log(0.6), "3": math.log(0.3),
                                                "x": math.log(0.1)})
    parsed = parse_reply(reply, request)
    back = parse_distribution(parsed.reasoning)
    assert back is not None
    assert back == {k: pytest.approx(v, abs=5e-4) for k, v in parsed.distribution.items()}
    assert top_mass(back) == pytest.approx(top_mass(parsed.distribution), abs=1e-3)


# --------------------------------------------------------------------------- guarantee


def _population(rng, n):
    """A calibrated judge: confidence c ~ U(0.5, 1) and P(agree | c) = c, so the risk of the
    items kept at lambda is R(lambda) = (1 - lambda) / 2."""
    c = 0.5 + 0.5 * rng.random(n)
    return c, rng.random(n) < c


def _risk(threshold):
    return 0.0 if threshold is None else (1 - threshold) / 2


def test_the_guarantee_holds_at_one_minus_delta_over_repetitions():
    # target 0.8: R(lambda) <= 0.2 exactly when lambda >= 0.6, the best coverage is 0.8
    target, delta, reps = 0.8, 0.1, 300
    rng = np.random.default_rng(20250117)
    held = {None: 0, 30: 0}
    coverage = {None: [], 30: []}
    naive_held = 0
    for _ in range(reps):
        c, ok = _population(rng, 150)
        for start in held:
            t = fixed_sequence_threshold(c, ok, target=target, delta=delta, start=start)
            held[start] += _risk(t.threshold) <= 1 - target + 1e-12
            coverage[start].append(t.calibration.coverage)
        # the naive rule: the lowest threshold whose empirical agreement reaches the target
        curve = [p for p in agreement_coverage_curve(c, ok) if p.n_kept >= 11]
        naive = min((p.threshold for p in curve if p.agreement >= target), default=None)
        naive_held += _risk(naive) <= 1 - target + 1e-12
    assert held[None] / reps >= 1 - delta
    assert held[30] / reps >= 1 - delta
    assert naive_held / reps < 1 - delta  # without the bound the guarantee does not hold
    # not bought by abstaining on everything; starting at 30 kept items covers more
    assert 0.2 < float(np.mean(coverage[None])) < float(np.mean(coverage[30])) < 0.8


def test_start_skips_small_kept_sets():
    conf, ok = _known_case()
    t = fixed_sequence_threshold(conf, ok, target=0.8, delta=0.1, start=16)
    # 16 kept with one error: upper 0.222 > 0.2, the first test fails
    assert t.min_kept == 16 and t.threshold is None
    # 18, 19, 20 kept with one error: upper 0.199, 0.190, 0.181, all rejected
    t = fixed_sequence_threshold(conf, ok, target=0.8, delta=0.1, start=18)
    assert [s.n_kept for s in t.steps] == [18, 19, 20]
    assert t.threshold == pytest.approx(0.80)
    with pytest.raises(ValueError, match="start"):
        fixed_sequence_threshold(conf, ok, target=0.8, delta=0.1, start=0)


# --------------------------------------------------------------------------- CLI


def _cli(*args):
    from typer.testing import CliRunner

    from harness.cli import app

    return CliRunner().invoke(app, [*map(str, args)])


def _experiment(tmp_path, project_root, *, prompt="recipes-overall", extra=""):
    p = tmp_path / "exp.toml"
    p.write_text(f"""
[experiment]
name = "sel"

[anchors]
path = "{project_root / 'anchors/recipes/recipes-overall.jsonl'}"

[prompt]
name = "{prompt}"
version = "v1"
dir = "{project_root / 'prompts'}"

[judge]
provider = "openai"
model = "fake-model"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "JC_SEL_KEY"

[run]
concurrency = 4
max_attempts = 2

[state]
dir = "{tmp_path / 'state'}"
{extra}
""")
    return p


def _plan(demo):
    """Per split, items sorted by id: the first ``right`` of each split are judged right
    with high confidence, the others wrong with low confidence. Calibration (21 items):
    16 right at confidence 0.99 - 0.01 i, then 5 wrong at 0.45 - 0.005 i. Holdout (31): 25
    right, 6 wrong."""
    consensus = demo.consensus()
    plan = {}
    for split, right in (("calibration", 16), ("holdout", 25)):
        ids = sorted(it.id for it in demo.split(split).items)
        for i, item in enumerate(ids):
            c = consensus[item]
            ok = i < right
            plan[item] = {"split": split, "ok": ok,
                          "score": c if ok else (1.0 if c > 3.5 else 6.0),
                          "point": round(c) if ok else (1 if c > 3.5 else 6),
                          "confidence": round(0.99 - 0.01 * i, 2) if ok
                          else round(0.45 - 0.005 * i, 3)}
    return plan


def _judgments_csv(tmp_path, demo, confidence=True):
    import csv

    path = tmp_path / "judged.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["item_id", "score"] + (["confidence"] if confidence else []))
        for item, p in _plan(demo).items():
            w.writerow([item, p["score"]] + ([p["confidence"]] if confidence else []))
    return path


def test_cli_on_recorded_judgments(tmp_path, project_root, demo):
    import csv
    import json

    exp = _experiment(tmp_path, project_root)
    esc, svg = tmp_path / "esc.csv", tmp_path / "curve.svg"
    res = _cli("selective", exp, "--judgments", _judgments_csv(tmp_path, demo), "--target",
               "0.8", "--delta", "0.1", "--json", "--escalations", esc, "--plot", svg)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    # calibration: 11..16 kept without error pass (upper(0, 16) = 0.134); 17 kept with one
    # error fails (0.210 > 0.2): the threshold is the 16th confidence, 0.84
    assert doc["confidence"] == "recorded" and doc["certified"] is True
    assert doc["threshold"] == pytest.approx(0.84)
    cal, hold = doc["calibration"], doc["holdout"]
    assert {k: cal[k] for k in ("threshold", "n", "n_kept", "agreement", "guarantee_held")} \
        == {"threshold": pytest.approx(0.84), "n": 21, "n_kept": 16, "agreement": 1.0,
            "guarantee_held": True}
    assert cal["coverage"] == pytest.approx(16 / 21)
    # holdout: the 16 items at confidence >= 0.84 are kept, all right
    assert (hold["n"], hold["n_kept"], hold["agreement"], hold["guarantee_held"]) == \
        (31, 16, 1.0, True)
    assert hold["coverage"] == pytest.approx(16 / 31)
    with esc.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == doc["n_escalated"] == (21 - 16) + (31 - 16)
    assert {r["split"] for r in rows} == {"calibration", "holdout"}
    assert all("below the threshold 0.84" in r["reason"] for r in rows)
    assert svg.read_text().lstrip().startswith(("<?xml", "<svg"))

    # the escalated items feed a human session
    res = _cli("session", "create", project_root / "anchors/recipes/recipes-overall.jsonl",
               "-p", "alice", "--from-escalations", esc, "--state-dir", tmp_path / "s")
    assert res.exit_code == 0, res.output
    assert f"{len(rows)} items" in res.output


def test_cli_prints_a_table_and_refuses_bad_input(tmp_path, project_root, demo):
    exp = _experiment(tmp_path, project_root)
    judged = _judgments_csv(tmp_path, demo)
    res = _cli("selective", exp, "--judgments", judged, "--no-track")
    assert res.exit_code == 0, res.output
    assert "threshold: 0.84" in res.output and "escalated: 20 item(s)" in res.output
    out = tmp_path / "never.csv"
    for args, message in ((["--target", "1.2"], "--target"), (["--delta", "0"], "--delta"),
                          (["--plot", tmp_path / "x.txt"], ".svg"),
                          (["--confidence", "vibes"], "--confidence")):
        res = _cli("selective", exp, "--judgments", judged, "--escalations", out, *args)
        assert res.exit_code == 2 and message in res.output, res.output
    # no confidence column and one sample per item: no signal, refused
    bare = _judgments_csv(tmp_path / "b", demo, confidence=False) \
        if (tmp_path / "b").mkdir() is None else None
    res = _cli("selective", exp, "--judgments", bare, "--escalations", out)
    assert res.exit_code == 2 and "no confidence signal" in res.output
    assert not out.exists()


def test_session_create_refuses_an_unknown_escalated_item(tmp_path, project_root):
    esc = tmp_path / "esc.csv"
    esc.write_text("item_id,split,reason\nnot-an-item,holdout,x\n")
    res = _cli("session", "create", project_root / "anchors/recipes/recipes-overall.jsonl",
               "-p", "alice", "--from-escalations", esc, "--state-dir", tmp_path / "s")
    assert res.exit_code == 2 and "not-an-item" in res.output


def _logprob_handler(demo):
    import json
    import math
    import re

    import fakeserver as fs

    plan = _plan(demo)
    by_output = {it.output.strip(): it.id for it in demo.items}

    def handler(api, body, n):
        item = plan[by_output[fs.recipe_output(body)]]
        # the point has the confidence as its probability; the rest is spread so that the
        # expected value stays near the point (within 0.5 of the consensus when right, more
        # than 1 away when wrong) and no other point is likelier
        point, top = item["point"], item["confidence"]
        if item["ok"]:
            rest = [p for p in (point - 1, point + 1) if 1 <= p <= 6]
        else:
            rest = [2, 3, 4] if point == 1 else [5, 4, 3]
        probs = {point: top, **{p: (1 - top) / len(rest) for p in rest}}
        entries = [{"token": str(p), "logprob": math.log(q), "bytes": list(str(p).encode())}
                   for p, q in sorted(probs.items(), key=lambda kv: -kv[1])]
        completion = {
            "id": "c", "object": "chat.completion", "created": 0, "model": "fake-model",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {
                "role": "assistant", "content": str(item["point"]), "refusal": None},
                "logprobs": {"content": [{"token": str(item["point"]),
                                          "logprob": math.log(top), "bytes": [],
                                          "top_logprobs": entries}], "refusal": None}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11}}
        assert re.search(r"logprobs", json.dumps(body))
        return fs.Response("raw", body=json.dumps(completion))

    return handler


def test_cli_with_the_fake_server_in_logprob_mode(tmp_path, project_root, demo, monkeypatch):
    import json

    import fakeserver as fs

    monkeypatch.setenv("JC_SEL_KEY", "sk-test-selective-0123456789abcdef")
    with fs.FakeServer(_logprob_handler(demo), scale=(1, 6)) as server:
        exp = _experiment(tmp_path, project_root, prompt="recipes-overall-logprob")
        exp.write_text(exp.read_text().replace("http://127.0.0.1:9/v1", server.openai_url))
        res = _cli("selective", exp, "--json", "--no-progress")
        assert res.exit_code == 0, res.output
        calls = server.stats.total
        assert calls == 52
        # answered from the journal the second time: no call
        res2 = _cli("selective", exp, "--json", "--no-progress")
        assert res2.exit_code == 0 and server.stats.total == calls
    doc = json.loads(res.stdout)
    assert doc["confidence"] == "top_mass"
    # the expected value over the distribution is within 0.5 of the consensus exactly for
    # the confident items, as in the recorded case: same threshold and coverage
    assert doc["threshold"] == pytest.approx(0.84, abs=2e-3)
    assert doc["calibration"]["n_kept"] == 16 and doc["holdout"]["n_kept"] == 16
    assert json.loads(res2.stdout)["threshold"] == doc["threshold"]


def test_cli_logs_the_curve_to_mlflow_with_tracking(tmp_path, project_root, demo,
                                                    monkeypatch):
    import json

    from mlflow import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    exp = _experiment(tmp_path, project_root,
                      extra=f'[tracking]\ntracking_uri = "{uri}"\n')
    res = _cli("selective", exp, "--judgments", _judgments_csv(tmp_path, demo), "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    run = MlflowClient(uri).get_run(doc["mlflow"]["run_id"])
    assert run.data.tags["judgecal.run_type"] == "selective"
    assert run.data.metrics["calibration.coverage"] == pytest.approx(16 / 21)
    assert run.data.metrics["threshold"] == pytest.approx(0.84)
    files = {f.path for f in MlflowClient(uri).list_artifacts(run.info.run_id, "selective")}
    assert files == {"selective/agreement_coverage.png", "selective/selective.json"}


def test_cli_with_the_fake_server_in_samples_mode(tmp_path, project_root, demo, monkeypatch):
    import json
    import threading
    from collections import Counter

    import fakeserver as fs

    plan = _plan(demo)
    by_output = {it.output.strip(): it.id for it in demo.items}
    seen, lock = Counter(), threading.Lock()

    def handler(api, body, n):
        item_id = by_output[fs.recipe_output(body)]
        item = plan[item_id]
        with lock:
            seen[item_id] += 1
            k = seen[item_id]
        if item["ok"]:
            return fs.score(item["point"])  # three samples alike: confidence 1
        # wrong, and one sample of three differs: confidence 2/3
        shift = 1 if item["point"] == 1 else -1
        return fs.score(item["point"] + (shift if k == 2 else 0))

    monkeypatch.setenv("JC_SEL_KEY", "sk-test-selective-0123456789abcdef")
    with fs.FakeServer(handler, scale=(1, 6)) as server:
        exp = _experiment(tmp_path, project_root, extra="[scoring]\nsamples = 3\n")
        exp.write_text(exp.read_text().replace("http://127.0.0.1:9/v1", server.openai_url))
        res = _cli("selective", exp, "--json", "--no-progress")
        assert server.stats.total == 3 * 52
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["confidence"] == "samples"
    assert doc["threshold"] == 1.0, (doc["steps"], doc["warnings"])
    assert (doc["calibration"]["n_kept"], doc["holdout"]["n_kept"]) == (16, 25)
    assert doc["holdout"]["agreement"] == 1.0
