"""Several judges at once: `agree --judge A --judge B …` / `--judges PREFIX` and the
leaderboard (no judge counted as a human; each judge's entry equals its single-judge run)."""

import json

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from harness.anchors import open_ratings
from harness.cli import app
from harness.reports import (
    ReportSettings,
    agreement_report,
    leaderboard,
    leaderboard_from_scores,
    paired_difference,
    render_leaderboard,
)

runner = CliRunner()
HUMANS = ("ann", "bob", "cy", "dee", "eve")
JUDGES = {"llm-a": 0.5, "llm-b": 1.0, "llm-c": 1.5}  # judge -> noise SD around the truth


def _rows(n_items=30, seed=3, judges=JUDGES, skip=None):
    """Five humans and three judges of growing noise on a 1-5 scale (a fixed seed)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_items):
        truth = rng.uniform(1, 5)
        for r in HUMANS:
            rows.append((f"q{i}", r, int(np.clip(round(truth + rng.normal(0, 0.7)), 1, 5))))
        for j, sd in judges.items():
            score = int(np.clip(round(truth + rng.normal(0, sd)), 1, 5))
            if skip is None or (j, f"q{i}") not in skip:
                rows.append((f"q{i}", j, score))
    return rows


def _csv(path, rows, without=()):
    path.write_text("item_id,rater_id,score\n" + "".join(
        f"{i},{r},{s}\n" for i, r, s in rows if r not in without))
    return path


def _json(args):
    res = runner.invoke(app, ["agree", *args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


SETTINGS = ["--scale", "1:5", "--resamples", "200", "--seed", "7"]


def test_each_judge_equals_its_single_judge_run_without_the_other_judges(tmp_path):
    rows = _rows()
    full = _csv(tmp_path / "all.csv", rows)
    board = _json([str(full), "--judge", "llm-a", "--judge", "llm-b", "--judge", "llm-c",
                   *SETTINGS])
    assert list(board["judges"]) == ["llm-a", "llm-b", "llm-c"]
    assert "judge" not in board
    assert board["n_human_raters"] == len(HUMANS)
    for j in JUDGES:
        others = [k for k in JUDGES if k != j]
        alone = _json([str(_csv(tmp_path / f"{j}.csv", rows, without=others)), "--judge", j,
                       *SETTINGS])
        # every figure, CI, ceiling, position, baseline, alt-test and verdict
        assert board["judges"][j] == alone["judge"]
        assert board["human"] == alone["human"]
        assert board["gold"] == alone["gold"]
        assert alone["n_human_raters"] == len(HUMANS)
        figs = board["judges"][j]["figures"]
        assert figs["icc"]["ci95"] is not None and figs["mae"]["ci95"] is not None


def test_judges_prefix_names_every_matching_rater_and_none_is_a_human(tmp_path):
    f = _csv(tmp_path / "r.csv", _rows())
    board = _json([str(f), "--judges", "llm-", *SETTINGS])
    assert list(board["judges"]) == ["llm-a", "llm-b", "llm-c"]
    rater_ids = {r["rater_id"] for r in board["human"]["raters"]}
    assert rater_ids == set(HUMANS)
    alt_raters = {r["rater"] for r in board["judges"]["llm-b"]["alt_test"]["per_rater"]}
    assert alt_raters <= set(HUMANS)
    # --judge and --judges together: the named first, then the prefix's, once each
    both = _json([str(f), "--judge", "llm-c", "--judges", "llm-", *SETTINGS])
    assert list(both["judges"]) == ["llm-c", "llm-a", "llm-b"]


def test_one_judge_keeps_the_single_judge_document(tmp_path):
    f = _csv(tmp_path / "r.csv", _rows(), without=("llm-b", "llm-c"))
    doc = _json([str(f), "--judge", "llm-a", *SETTINGS])
    assert doc["judge"]["rater_id"] == "llm-a"
    assert "judges" not in doc and "pairs" not in doc
    # a prefix that matches one rater is one judge too
    assert _json([str(f), "--judges", "llm-", *SETTINGS]) == doc


def test_pairs_are_the_paired_difference_of_the_primary_figure(tmp_path):
    f = _csv(tmp_path / "r.csv", _rows())
    board = _json([str(f), "--judges", "llm-", *SETTINGS])
    pairs = {(p["a"], p["b"]): p for p in board["pairs"]}
    assert list(pairs) == [("llm-a", "llm-b"), ("llm-a", "llm-c"), ("llm-b", "llm-c")]
    for (a, b), p in pairs.items():
        assert p["figure"] == "icc" and p["n_items"] == 30
        diff = p["difference"]
        fa = board["judges"][a]["figures"]["icc"]["value"]
        fb = board["judges"][b]["figures"]["icc"]["value"]
        assert diff["value"] == pytest.approx(fa - fb, abs=1e-12)
        lo, hi = diff["ci95"]
        assert lo <= diff["value"] <= hi
        assert p["better"] == (a if lo > 0 else b if hi < 0 else None)
    # the noisiest judge is clearly worse than the least noisy one
    assert pairs[("llm-a", "llm-c")]["better"] == "llm-a"
    assert board["leaderboard"] == ["llm-a", "llm-b", "llm-c"]


def test_paired_difference_of_a_judge_with_itself_is_exactly_zero():
    rng = np.random.default_rng(0)
    truth = rng.uniform(1, 5, 40)
    refs = np.column_stack([np.clip(np.round(truth + rng.normal(0, 0.6, 40)), 1, 5)
                            for _ in range(3)])
    judge = np.clip(np.round(truth + rng.normal(0, 1, 40)), 1, 5)
    d = paired_difference(judge, judge.copy(), refs, figure="icc", scale=(1, 5),
                          n_resamples=200, seed=1)
    assert d.value == 0.0 and d.ci95 == (0.0, 0.0) and d.n_items == 40
    # an unpaired comparison would not cancel: the judges' own CIs are wide
    other = np.clip(judge + 1, 1, 5)
    d2 = paired_difference(other, judge, refs, figure="bias", scale=(1, 5), n_resamples=200,
                           seed=1)
    assert d2.statistic == "difference of bias" and d2.ci95 is not None
    assert d2.value == pytest.approx(abs(np.mean(other - refs.mean(axis=1)))
                                     - abs(np.mean(judge - refs.mean(axis=1))), abs=1e-9)


def test_library_leaderboard_equals_leaderboard_from_scores_and_single_reports(tmp_path):
    table = open_ratings(_csv(tmp_path / "r.csv", _rows()), scale=(1, 5))
    settings = ReportSettings(n_resamples=100, seed=2, primary="mae")
    board = leaderboard(table, judges=list(JUDGES), settings=settings)
    humans = table
    for j in JUDGES:
        humans = humans.drop_rater(j)
    scores = {j: table.column(j) for j in JUDGES}
    again = leaderboard_from_scores(humans, scores, settings=settings)
    assert board.to_dict() == again.to_dict()
    for j in JUDGES:
        single = agreement_report(humans, judge_scores=scores[j], settings=settings)
        entry = board.to_dict()["judges"][j]
        assert entry == {**single.to_dict()["judge"], "rater_id": j}
    # ranked on MAE, lower first; the ceiling and the baseline are the humans'
    maes = [r["figures"]["mae"].value for r in board.rows]
    assert maes == sorted(maes)
    assert board.ceiling["figures"]["mae"]["median"] is not None
    assert board.baseline["score"] in (1.0, 2.0, 3.0, 4.0, 5.0)
    assert {p["figure"] for p in board.pairs} == {"mae"}
    with pytest.raises(ValueError, match="2 scores for 30 items"):
        leaderboard_from_scores(humans, {"x": np.ones(2)}, settings=settings)
    with pytest.raises(ValueError, match="at least one judge"):
        leaderboard_from_scores(humans, {}, settings=settings)


def test_a_judge_that_skipped_items_is_paired_on_the_shared_items(tmp_path):
    skip = {("llm-b", f"q{i}") for i in range(5)}
    f = _csv(tmp_path / "r.csv", _rows(skip=skip))
    board = _json([str(f), "--judges", "llm-", *SETTINGS])
    assert board["judges"]["llm-b"]["n_missing"] == 5
    pairs = {(p["a"], p["b"]): p for p in board["pairs"]}
    assert pairs[("llm-a", "llm-b")]["n_items"] == 25
    assert pairs[("llm-a", "llm-c")]["n_items"] == 30
    assert any(w.startswith("llm-b: 5 item(s) have no judge score") for w in board["warnings"])


def test_no_scale_uses_one_observed_range_for_every_judge(tmp_path):
    rows = [(i, r, s) for i, r, s in _rows() if r != "llm-c"]
    rows += [(f"q{i}", "llm-c", 6 if i == 0 else 3) for i in range(30)]  # goes off to 6
    f = _csv(tmp_path / "r.csv", rows)
    board = _json([str(f), "--judges", "llm-", "--resamples", "0"])
    assert board["scale"] == {"min": 1.0, "max": 6.0, "inferred": True}
    assert board["warnings"][0].startswith("no scale given: using the observed range 1–6")


def test_bad_judge_options_exit_2_and_say_why(tmp_path, project_root):
    f = _csv(tmp_path / "r.csv", _rows())
    cases = [
        (["--judge", "llm-a", "--judge", "nobody"], "no rater 'nobody'"),
        (["--judges", "gpt-"], "no rater id starts with 'gpt-'"),
        (["--judges", ""], "every rater is a judge"),
    ]
    for args, message in cases:
        res = runner.invoke(app, ["agree", str(f), *args])
        assert res.exit_code == 2, (args, res.output)
        assert message in res.stderr
        assert res.stdout == ""
    # many raters: the first ten and how many there are, never a bare ellipsis
    demo = project_root / "anchors" / "recipes" / "recipes-overall.jsonl"
    res = runner.invoke(app, ["agree", str(demo), "--judge", "nobody"])
    assert res.exit_code == 2 and "participant_9, … (88 in all))" in " ".join(res.stderr.split())
    card = project_root / "anchors" / "recipes"
    scorecards = sorted(card.glob("*scorecard*.jsonl"))
    if scorecards:
        res = runner.invoke(app, ["agree", str(scorecards[0]), "--judges", "r"])
        assert res.exit_code == 2 and "not supported on a scorecard" in res.stderr


def test_a_scorecard_with_several_judges_is_refused(tmp_path):
    wide = tmp_path / "wide.csv"
    wide.write_text("item_id,rater_id,clarity,accuracy\n" + "".join(
        f"q{i},{r},{1 + (i + k) % 5},{1 + (i * k) % 5}\n"
        for i in range(8) for k, r in enumerate(["ann", "bob", "cy", "llm-a", "llm-b"])))
    res = runner.invoke(app, ["agree", str(wide), "--judge", "llm-a", "--judge", "llm-b"])
    assert res.exit_code == 2
    assert "not supported on a scorecard" in res.stderr
    one = runner.invoke(app, ["agree", str(wide), "--judge", "llm-a", "--resamples", "0"])
    assert one.exit_code == 0, one.output


def _render(board, width):
    console = Console(width=width, record=True, highlight=False)
    console.print(render_leaderboard(board))
    return console.export_text()


def test_the_leaderboard_reads_at_80_columns_and_widens_when_it_can(tmp_path):
    table = open_ratings(_csv(tmp_path / "r.csv", _rows()), scale=(1, 5))
    board = leaderboard(table, judges=list(JUDGES),
                        settings=ReportSettings(n_resamples=100, seed=0))
    narrow = _render(board, 80)
    assert max(len(line) for line in narrow.splitlines()) <= 80
    for text in ("Judges ranked by ICC(2,1)", "human ceiling", "chance: always",
                 "Paired differences on ICC(2,1)", "llm-a − llm-c"):
        assert text in narrow
    # vertical layout: one line per figure and judge, the figure named once
    assert sum("Spearman ρ" in line for line in narrow.splitlines()) == 1
    assert sum("│ llm-b " in line for line in narrow.splitlines()) >= 10
    wide = _render(board, 160)
    header = next(line for line in wide.splitlines() if "figure" in line and "llm-a" in line)
    assert "llm-b" in header and "llm-c" in header and "human ceiling" in header
    # the CI of every judge's primary figure is printed as in the single-judge report
    icc = board.reports["llm-c"].judge["figures"]["icc"]
    assert f"{icc.value:.2f} [{icc.ci95[0]:.2f}, {icc.ci95[1]:.2f}]" in narrow


def test_agree_prints_the_leaderboard(tmp_path):
    f = _csv(tmp_path / "r.csv", _rows())
    res = runner.invoke(app, ["agree", str(f), "--judges", "llm-", *SETTINGS])
    assert res.exit_code == 0, res.output
    assert "Leaderboard" in res.stdout and "3 judges" in res.stdout
    assert "5 human raters" in res.stdout


# ----------------------------------------------------------------- the paired bootstrap at scale


def ref_paired_difference(a, b, references, *, figure, scale, n_resamples, seed, confidence):
    """paired_difference as first written: a (B, items) weight matrix, every figure computed
    on the items of each reference (the oracle for the distinct-pair version)."""
    from dataclasses import replace

    from harness.agreement import AgreementResult, compare_to_references, undefined
    from harness.agreement._bootstrap import resample_weights, with_percentile_ci
    from harness.agreement._loo import MAX_BOOTSTRAP_REFERENCES
    from harness.agreement._paired import weighted_figures
    from harness.reports._agreement import CLOSER_TO_ZERO_IS_BETTER

    a, b, refs = (np.asarray(v, dtype=float) for v in (a, b, references))
    both = ~np.isnan(a) & ~np.isnan(b)
    a, b = np.where(both, a, np.nan), np.where(both, b, np.nan)
    stat = f"difference of {figure}"
    fa, fb = (compare_to_references(x, refs, scale=scale, n_resamples=0)[figure]
              for x in (a, b))
    covered = both[:, None] & ~np.isnan(refs)
    n_items = int(covered.any(axis=1).sum())
    if not (fa.defined and fb.defined):
        why = fa.reason if not fa.defined else fb.reason
        return undefined(stat, f"undefined for one of the judges ({why})", n_items=n_items)
    absolute = figure in CLOSER_TO_ZERO_IS_BETTER
    point = (abs(fa.value) - abs(fb.value)) if absolute else fa.value - fb.value
    res = AgreementResult(statistic=stat, value=float(point), n_items=n_items, n_raters=2,
                          details={"a": fa.value, "b": fb.value, "paired": True})
    if n_resamples <= 0 or n_items < 3:
        return res
    rows = np.flatnonzero(covered.any(axis=1))
    w = resample_weights(np.ones(rows.size), n_resamples, seed)
    m = refs.shape[1]
    use = range(m) if m <= MAX_BOOTSTRAP_REFERENCES else sorted(
        {int(i) for i in np.linspace(0, m - 1, MAX_BOOTSTRAP_REFERENCES).round()})
    reps = []
    for r in use:
        mask = covered[rows, r]
        if mask.sum() < 3:
            continue
        ref = refs[rows, r][mask]
        ra, rb = (weighted_figures(x[rows][mask], ref, w[:, mask], scale=scale,
                                   figures=(figure,)).get(figure) for x in (a, b))
        if ra is None or rb is None:
            return replace(res, details={**res.details, "bootstrap": {
                "reason": "no bootstrap for this figure on these data"}})
        reps.append(np.abs(ra) - np.abs(rb) if absolute else ra - rb)
    if not reps:
        return res
    return with_percentile_ci(res, np.mean(np.vstack(reps), axis=0), n_resamples=n_resamples,
                              seed=seed, confidence=confidence)


def _judges_and_refs(seed, n=150, m=6, scale_max=5, missing=0.2):
    rng = np.random.default_rng(seed)
    truth = rng.uniform(1, scale_max, n)
    a = np.clip(np.rint(truth + rng.normal(0, 0.6, n)), 1, scale_max)
    b = np.clip(np.rint(truth + rng.normal(0.3, 1.0, n)), 1, scale_max)
    a[rng.random(n) < 0.05] = np.nan  # judges that skipped items
    b[rng.random(n) < 0.05] = np.nan
    refs = np.clip(np.rint(2 * (truth[:, None] + rng.normal(0, 0.7, (n, m)))) / 2, 1, scale_max)
    refs[rng.random(refs.shape) < missing] = np.nan
    return a, b, refs


@pytest.mark.parametrize("figure", ["icc", "spearman", "kendall_tau_b", "weighted_kappa",
                                    "krippendorff_alpha", "mae", "bias", "exact_agreement"])
@pytest.mark.parametrize("seed, m, scale_max", [(0, 4, 5), (1, 30, 5), (2, 5, 40)])
def test_paired_difference_on_distinct_pairs_equals_the_item_weights(figure, seed, m,
                                                                       scale_max, monkeypatch):
    # the same seed, the same CI as the (B, items) matrix, to 1e-12: few and many (> 25)
    # references, missing cells, judges that skipped items, a 1-40 scale with many pairs
    from harness.agreement import _bootstrap

    a, b, refs = _judges_and_refs(seed, m=m, scale_max=scale_max)
    kw = dict(figure=figure, scale=(1, scale_max), n_resamples=120, seed=seed, confidence=0.9)
    want = ref_paired_difference(a, b, refs, **kw)
    monkeypatch.setattr(_bootstrap, "WEIGHT_BLOCK_CELLS", 2_000)  # item counts in blocks
    got = paired_difference(a, b, refs, **kw)
    assert got.statistic == want.statistic and got.n_items == want.n_items
    assert got.defined == want.defined and got.reason == want.reason
    assert abs(got.value - want.value) <= 1e-12
    assert got.details.keys() == want.details.keys()
    assert (got.ci95 is None) == (want.ci95 is None)
    if want.ci95 is not None:
        np.testing.assert_allclose(got.ci95, want.ci95, rtol=0, atol=1e-12)


def test_paired_difference_never_holds_the_resamples_by_items_matrix(monkeypatch):
    # 5,000 items x 400 resamples: the (B, items) weights alone are 16 MB; in blocks of
    # 100,000 cells and as counts of a few dozen distinct pairs, the peak stays below half
    import tracemalloc

    from harness.agreement import _bootstrap

    a, b, refs = _judges_and_refs(7, n=5_000, m=3)
    paired_difference(a, b, refs, figure="icc", scale=(1, 5), n_resamples=10)  # imports
    monkeypatch.setattr(_bootstrap, "WEIGHT_BLOCK_CELLS", 100_000)
    tracemalloc.start()
    try:
        res = paired_difference(a, b, refs, figure="icc", scale=(1, 5), n_resamples=400)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert res.ci95 is not None
    assert peak < 400 * 5_000 * 8 / 2  # the (B, items) version: 29 MB
