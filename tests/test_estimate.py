"""Corrected population estimates: PPI/PPI++ means, Rogan-Gladen pass rates, `estimate`."""

from __future__ import annotations

import csv
import json
import math

import fakeserver as fs
import numpy as np
import pytest
import typer
from mlflowstore import migrated_store
from scipy import stats
from typer.testing import CliRunner

from harness.cli._estimate import estimate_cmd
from harness.estimate import (
    classical_mean,
    effective_labels,
    estimate_population,
    naive_mean,
    naive_pass_rate,
    power_tuning,
    ppi_mean,
    ppi_plusplus_mean,
    rogan_gladen,
    sensitivity_specificity,
)

Z = float(stats.norm.ppf(0.975))
KEY = "sk-test-estimate-0123456789abcdef"
runner = CliRunner()
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
app.command(name="estimate")(estimate_cmd)
app.command(name="noop")(lambda: None)  # keeps "estimate" a subcommand


# --------------------------------------------------------------------------- PPI, by hand


def test_ppi_mean_equals_the_formula_on_a_hand_computed_case():
    # judge one point too lenient on every anchor: the rectifier is exactly -1, with no spread
    y, f, fu = [1, 2, 3], [2, 3, 4], [3, 4, 5, 6]
    est = ppi_mean(y, f, fu)
    assert est.mean == pytest.approx(4.5 - 1.0)
    se = math.sqrt(1.25 / 4 + 0.0 / 3)  # var(fu) = 1.25 (1/N), var(f - y) = 0
    assert est.se == pytest.approx(se)
    assert est.ci == pytest.approx((3.5 - Z * se, 3.5 + Z * se))
    assert (est.method, est.lam, est.n_labelled, est.n_unlabelled) == ("ppi", 1.0, 3, 4)


def test_ppi_plusplus_lambda_and_mean_by_hand():
    y, f, fu = [1, 2, 3], [2, 3, 4], [3, 4, 5, 6]
    # Cov(y, f) = 2/3 (1/n); Var(f) over the 7 scores (ddof 1) = (115 - 27**2/7)/6 = 38/21;
    # lambda = (2/3) / ((1 + 3/4) * 38/21) = 4/19
    assert power_tuning(y, f, fu) == pytest.approx(4 / 19)
    est = ppi_plusplus_mean(y, f, fu)
    assert est.lam == pytest.approx(4 / 19)
    assert est.mean == pytest.approx(2 + 4 / 19 * (4.5 - 3))  # mean(y) + lam (mean fu - mean f)
    lam = 4 / 19
    se = math.sqrt(lam ** 2 * 1.25 / 4 + np.var(np.array(y) - lam * np.array(f)) / 3)
    assert est.se == pytest.approx(se)
    # lam = 1 is PPI, lam = 0 is the humans' mean
    assert ppi_plusplus_mean(y, f, fu, lam=1.0).mean == ppi_mean(y, f, fu).mean
    assert ppi_plusplus_mean(y, f, fu, lam=0.0).ci == pytest.approx(classical_mean(y).ci)
    # a constant judge carries nothing
    assert power_tuning(y, [3, 3, 3], [3] * 10) == 0.0


def test_ppi_matches_the_reference_implementation_ppi_py():
    """Values printed by ppi-python 0.2.3 (``ppi_py.ppi_mean_ci`` / ``ppi_mean_pointestimate``,
    alpha=0.05; lam=None for PPI++, lam=1 for PPI; ``classical_mean_ci``) on this data, run
    in a throwaway venv: the package pulls numba, scikit-learn and statsmodels, too heavy for
    the project's environment."""
    rng = np.random.default_rng(7)
    y = rng.integers(1, 7, 40).astype(float)
    f = np.clip(y + rng.integers(-1, 3, 40), 1, 6).astype(float)
    fu = rng.integers(1, 7, 500).astype(float)
    pp = ppi_plusplus_mean(y, f, fu)
    assert pp.mean == pytest.approx(3.4567818442036398, abs=1e-12)
    assert pp.ci == pytest.approx((3.1481158479466838, 3.7654478404605958), abs=1e-12)
    p1 = ppi_mean(y, f, fu)
    assert p1.mean == pytest.approx(3.347, abs=1e-12)
    assert p1.ci == pytest.approx((2.9855632600225084, 3.7084367399774916), abs=1e-12)
    assert classical_mean(y).ci == pytest.approx((3.3696318284833464, 4.380368171516654),
                                                 abs=1e-12)


def test_bad_arrays_are_refused():
    with pytest.raises(ValueError, match="aligned"):
        ppi_mean([1, 2, 3], [1, 2], [1, 2])
    with pytest.raises(ValueError, match="finite"):
        ppi_mean([1, 2, float("nan")], [1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="at least 2"):
        naive_mean([3])
    with pytest.raises(ValueError, match="lam"):
        ppi_plusplus_mean([1, 2], [1, 2], [1, 2], lam=1.5)
    with pytest.raises(ValueError, match="method"):
        estimate_population([1, 2], [1, 2], [1, 2], method="magic")


# --------------------------------------------------------------------------- coverage


def _population(rng, size=200_000):
    """A scored population: human consensus on 1-6, and a biased, noisy judge of it."""
    truth = np.clip(rng.normal(3.4, 1.1, size), 1, 6)
    judge = np.clip(np.round(truth + 0.7 + rng.normal(0, 0.6, size)), 1, 6)
    return truth, judge


def _covers(ci, value):
    return ci[0] <= value <= ci[1]


def test_corrected_ci_covers_the_truth_at_95_percent_and_the_naive_one_does_not():
    rng = np.random.default_rng(2024)
    truth, judge = _population(rng)
    theta = truth.mean()  # the population's true mean (what the humans would say)
    sims, n, big_n = 400, 80, 1500
    hits = {"ppi++": 0, "ppi": 0, "naive": 0}
    for _ in range(sims):
        lab = rng.integers(0, truth.size, n)
        unl = rng.integers(0, truth.size, big_n)
        hits["ppi++"] += _covers(ppi_plusplus_mean(truth[lab], judge[lab], judge[unl]).ci,
                                 theta)
        hits["ppi"] += _covers(ppi_mean(truth[lab], judge[lab], judge[unl]).ci, theta)
        hits["naive"] += _covers(naive_mean(judge[unl]).ci, theta)
    tol = 3 * math.sqrt(0.95 * 0.05 / sims)  # 3 binomial SDs of a 95% coverage
    for method in ("ppi++", "ppi"):
        assert abs(hits[method] / sims - 0.95) <= tol, (method, hits)
    assert hits["naive"] / sims < 0.05, hits  # a judge 0.7 too lenient: its CI misses


def test_effective_labels_perfect_judge_and_useless_judge():
    rng = np.random.default_rng(3)
    y = rng.integers(1, 6, 50).astype(float)
    fu = np.tile(y, 20)  # a perfect judge on a production with the anchors' spread
    est = ppi_mean(y, y, fu)
    # PPI variance = var(f)/N exactly: n_eff = var(y) / (var(fu)/N) = N
    assert effective_labels(y, est) == pytest.approx(fu.size)
    noise = rng.integers(1, 6, 50).astype(float)  # scores unrelated to the humans
    useless = ppi_plusplus_mean(y, noise, rng.integers(1, 6, 5000).astype(float))
    assert useless.lam < 0.3
    assert effective_labels(y, useless) == pytest.approx(y.size, rel=0.1)
    assert effective_labels(y, classical_mean(y)) == pytest.approx(y.size)


# --------------------------------------------------------------------------- Rogan-Gladen


def test_rogan_gladen_hand_computed():
    # Se 0.9 on 100 passing anchors, Sp 0.8 on 100 failing ones, 41% judged passing:
    # p = (0.41 + 0.8 - 1) / (0.9 + 0.8 - 1) = 0.21 / 0.7 = 0.3
    est = rogan_gladen(410, 1000, 90, 100, 80, 100)
    assert est.rate == pytest.approx(0.3)
    assert (est.sensitivity, est.specificity) == (0.9, 0.8)
    # the interval, written out: z^2/2 added to each count, z^2 to each total
    z2 = Z * Z
    q, se, sp = (410 + z2 / 2) / (1000 + z2), (90 + z2 / 2) / (100 + z2), \
        (80 + z2 / 2) / (100 + z2)
    p = (q + sp - 1) / (se + sp - 1)
    var = (q * (1 - q) / (1000 + z2) + p * p * se * (1 - se) / (100 + z2)
           + (1 - p) ** 2 * sp * (1 - sp) / (100 + z2)) / (se + sp - 1) ** 2
    assert est.ci == pytest.approx((p - Z * math.sqrt(var), p + Z * math.sqrt(var)))
    # the judge's own uncertainty counts: the same q with a perfectly known judge is narrower
    q_only = Z * math.sqrt(0.41 * 0.59 / 1000) / 0.7
    assert est.ci[1] - est.ci[0] > 2 * q_only * 1.5


def test_rogan_gladen_clips_and_refuses_what_it_cannot_know():
    # fewer judged passes than the false-pass rate explains: clipped to 0, CI in [0, 1]
    low = rogan_gladen(50, 1000, 90, 100, 80, 100)
    assert low.rate == 0.0 and low.ci[0] == 0.0 and 0 < low.ci[1] < 1
    chance = rogan_gladen(500, 1000, 50, 100, 50, 100)
    assert chance.rate is None and "<= 1" in chance.reason
    nobody = rogan_gladen(500, 1000, 0, 0, 50, 60)
    assert nobody.rate is None and "sensitivity cannot be estimated" in nobody.reason
    assert sensitivity_specificity([1, 1, 0, 0, 0], [1, 0, 0, 1, 0]) == (1, 2, 2, 3)
    naive = naive_pass_rate(0, 20)
    assert naive.rate == 0.0 and naive.ci[0] == 0.0 and naive.ci[1] > 0.1  # Wilson, not 0


def test_rogan_gladen_ci_covers_the_true_pass_rate():
    rng = np.random.default_rng(11)
    p, se, sp, n, big_n, sims = 0.3, 0.85, 0.8, 150, 2000, 400
    hits = naive_hits = 0
    for _ in range(sims):
        t = rng.random(n) < p
        j = np.where(t, rng.random(n) < se, rng.random(n) >= sp)
        tu = rng.random(big_n) < p
        ju = np.where(tu, rng.random(big_n) < se, rng.random(big_n) >= sp)
        counts = sensitivity_specificity(t, j)
        est = rogan_gladen(int(ju.sum()), big_n, *counts)
        hits += _covers(est.ci, p)
        naive_hits += _covers(naive_pass_rate(int(ju.sum()), big_n).ci, p)
    tol = 3 * math.sqrt(0.95 * 0.05 / sims)
    assert hits / sims >= 0.95 - tol, hits
    assert naive_hits / sims < 0.05  # the judge passes 39.5%, not 30%


def test_estimate_population_puts_it_together():
    est = estimate_population([1, 2, 3, 4, float("nan")], [2, 3, 4, float("nan"), 5],
                              [2, 3, 4, 5, float("nan")] * 5, method="ppi", pass_at=3)
    assert (est.n_anchors, est.n_production) == (3, 20)
    assert any("without a human consensus" in n for n in est.notes)
    assert any("without a valid judge score" in n for n in est.notes)
    assert est.naive.mean == 3.5 and est.corrected.mean == pytest.approx(2.5)
    doc = est.to_dict()
    assert set(doc) >= {"naive", "corrected", "pass_rate", "effective_labels", "n_anchors",
                        "n_production"}
    assert doc["corrected"]["method"] == "ppi" and len(doc["corrected"]["ci95"]) == 2
    # anchors 1, 2, 3 judged 2, 3, 4 with pass at 3: Se 1 (1 of 1), Sp 0.5 (1 of 2);
    # q = 0.75 -> (0.75 + 0.5 - 1) / (1 + 0.5 - 1) = 0.5
    assert doc["pass_rate"]["naive"]["rate"] == 0.75
    corrected = doc["pass_rate"]["corrected"]
    assert (corrected["sensitivity"], corrected["specificity"]) == (1.0, 0.5)
    assert corrected["rate"] == pytest.approx(0.5)
    json.dumps(doc)


# --------------------------------------------------------------------------- CLI


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("JC_EST_KEY", KEY)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def write_experiment(tmp_path, project_root, base_url="http://127.0.0.1:9/v1"):
    body = {
        "experiment": 'name = "estimate-test"',
        "anchors": f'path = "{project_root / "anchors/recipes/recipes-overall.jsonl"}"',
        "prompt": f'name = "recipes-overall"\nversion = "v1"\ndir = "{project_root / "prompts"}"',
        "judge": (f'provider = "openai"\nmodel = "fake"\nbase_url = "{base_url}"\n'
                  'api_key_env = "JC_EST_KEY"'),
        "run": "concurrency = 4\nmax_attempts = 1",
        "tracking": f'tracking_uri = "{migrated_store(tmp_path / "mlflow.db")}"',
        "state": f'dir = "{tmp_path / "state"}"',
    }
    p = tmp_path / "exp.toml"
    p.write_text("\n".join(f"[{k}]\n{v}\n" for k, v in body.items()))
    return p


def lenient(consensus):
    """A judge one point too lenient, rounded to the scale."""
    return int(min(6, max(1, round(consensus) + 1)))


def write_csv(path, rows, header=("item_id", "score")):
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture
def files(tmp_path, demo):
    cons = demo.consensus()
    anchors = write_csv(tmp_path / "anchor-judgments.csv",
                        [(i, lenient(c)) for i, c in cons.items()])
    rng = np.random.default_rng(5)
    values = np.clip(rng.normal(3.5, 1.0, 300), 1, 6)
    production = write_csv(tmp_path / "production.csv",
                           [(f"p{k}", lenient(v)) for k, v in enumerate(values)])
    return anchors, production, [lenient(v) for v in values]


def estimate(*args):
    return runner.invoke(app, ["estimate", *map(str, args)])


def test_cli_json_on_the_demo_anchors(tmp_path, project_root, demo, files):
    anchors, production, prod_scores = files
    exp = write_experiment(tmp_path, project_root)
    res = estimate(exp, "--judgments", production, "--anchor-judgments", anchors,
                   "--pass-at", 4, "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    cons = demo.consensus()
    truth = [c for c in cons.values()]
    judged = [lenient(c) for c in truth]
    ref = estimate_population(truth, judged, prod_scores, pass_at=4.0)
    assert doc["split"] == "all" and doc["n_anchors"] == len(demo.items)
    assert doc["n_production"] == 300
    assert doc["corrected"]["method"] == "ppi++"
    assert doc["corrected"]["mean"] == pytest.approx(ref.corrected.mean)
    assert doc["corrected"]["ci95"] == pytest.approx(list(ref.corrected.ci))
    assert doc["naive"]["mean"] == pytest.approx(np.mean(prod_scores))
    # the judge is about one point too lenient: the corrected mean is lower
    assert doc["naive"]["mean"] - doc["corrected"]["mean"] > 0.5
    assert doc["effective_labels"] == pytest.approx(ref.effective_labels)
    assert doc["effective_labels"] > len(demo.items)  # a good (if biased) judge adds labels
    pr = doc["pass_rate"]
    assert pr["pass_at"] == 4 and pr["naive"]["rate"] == pytest.approx(
        np.mean(np.array(prod_scores) >= 4))
    assert pr["corrected"]["method"] == "rogan-gladen"
    assert pr["corrected"]["rate"] == pytest.approx(ref.pass_corrected.rate)
    assert pr["corrected"]["rate"] < pr["naive"]["rate"]
    assert doc["anchor_judgments"]["kind"] == "file"
    assert doc["anchor_judgments"]["sha256"]

    # the calibration split only: fewer anchors, the same production
    res = estimate(exp, "--judgments", production, "--anchor-judgments", anchors,
                   "--split", "calibration", "--json", "--method", "ppi")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["n_anchors"] == sum(1 for it in demo.items if it.split == "calibration")
    assert doc["corrected"]["method"] == "ppi" and doc["corrected"]["lambda"] == 1.0
    assert doc["pass_rate"] is None


def test_cli_text_output(tmp_path, project_root, files):
    anchors, production, _ = files
    exp = write_experiment(tmp_path, project_root)
    res = estimate(exp, "--judgments", production, "--anchor-judgments", anchors,
                   "--pass-at", "4")
    assert res.exit_code == 0, res.output
    flat = " ".join(res.stdout.split())
    for text in ("mean, naive", "mean, corrected", "PPI++", "Rogan–Gladen",
                 "Effective labels", "300 production items"):
        assert text in flat, flat
    # the console says the JSON's estimates with three decimals (the formatter's digits)
    doc = json.loads(estimate(exp, "--judgments", production, "--anchor-judgments", anchors,
                              "--pass-at", "4", "--json").stdout)
    for label, est, key in (("mean, corrected", doc["corrected"], "mean"),
                            ("pass rate (≥ 4), corrected", doc["pass_rate"]["corrected"],
                             "rate")):
        lo, hi = est["ci95"]
        assert f"{label} │ {est[key]:.3f} │ [{lo:.3f}, {hi:.3f}]" in flat, flat


@pytest.mark.parametrize("rows, where, message", [
    ([("p1", 3), ("p2", "high")], 3, "score"),
    ([("p1", 3), ("p2", 9)], 3, "outside the anchor set's scale"),
    ([("", 3)], 2, "empty item_id"),
])
def test_cli_bad_production_file_names_its_line(tmp_path, project_root, files, rows, where,
                                               message):
    anchors, _, _ = files
    exp = write_experiment(tmp_path, project_root)
    bad = write_csv(tmp_path / "bad.csv", rows)
    res = estimate(exp, "--judgments", bad, "--anchor-judgments", anchors, "--json")
    assert res.exit_code == 2
    flat = " ".join(res.output.split())
    assert f"{bad}:{where}:" in flat and message in flat, flat
    assert res.stdout.strip() == "" or not res.stdout.lstrip().startswith("{")


def test_cli_bad_options_exit_2(tmp_path, project_root, files):
    anchors, production, _ = files
    exp = write_experiment(tmp_path, project_root)
    base = ["--judgments", production, "--anchor-judgments", anchors]
    for extra, message in ((["--pass-at", "7"], "pass mark 7"),
                           (["--pass-at", "nan"], "--pass-at"),
                           (["--split", "train"], "--split"),
                           (["--method", "mle"], "--method")):
        res = estimate(exp, *base, *extra)
        assert res.exit_code == 2, (extra, res.output)
        assert message in " ".join(res.output.split()), (extra, res.output)
    res = estimate(tmp_path / "missing.toml", *base)
    assert res.exit_code == 2
    too_few = write_csv(tmp_path / "one.csv", [("p1", 3)])
    res = estimate(exp, "--judgments", too_few, "--anchor-judgments", anchors)
    assert res.exit_code == 2 and "production" in res.output


def judge_handler(demo):
    by_output = {it.output.strip(): it for it in demo.items}
    consensus = demo.consensus()

    def handler(api, body, n):
        return fs.score(lenient(consensus[by_output[fs.recipe_output(body)].id]))

    return handler


def test_cli_journal_no_calls_without_allow_calls(tmp_path, project_root, demo, files):
    anchors, production, _ = files
    n_cal = sum(1 for it in demo.items if it.split == "calibration")
    with fs.FakeServer(judge_handler(demo)) as server:
        exp = write_experiment(tmp_path, project_root, server.openai_url)
        res = estimate(exp, "--judgments", production, "--split", "calibration", "--json")
        assert res.exit_code == 2, res.output
        assert server.stats.total == 0
        flat = " ".join(res.output.split())
        assert "no call was made" in flat and "--allow-calls" in flat

        res = estimate(exp, "--judgments", production, "--split", "calibration", "--json",
                       "--allow-calls")
        assert res.exit_code == 0, res.output
        assert server.stats.total == n_cal
        first = json.loads(res.stdout)
        assert first["anchor_judgments"]["kind"] == "journal"
        assert first["anchor_judgments"]["n_requests"] == n_cal

        # answered from the journal now: no call, the same figures
        res = estimate(exp, "--judgments", production, "--split", "calibration", "--json")
        assert res.exit_code == 0, res.output
        assert server.stats.total == n_cal
        again = json.loads(res.stdout)
    assert again["anchor_judgments"]["n_cached"] == n_cal
    assert again["corrected"] == first["corrected"]
    # the journal's judgments equal the same judge's from a file
    res = estimate(exp, "--judgments", production, "--split", "calibration", "--json",
                   "--anchor-judgments", anchors)
    from_file = json.loads(res.stdout)["corrected"]
    assert from_file["mean"] == pytest.approx(first["corrected"]["mean"])
    assert from_file["ci95"] == pytest.approx(first["corrected"]["ci95"])
    assert KEY not in res.output
