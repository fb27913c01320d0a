"""The calibration report: HTML + Markdown files, the final table, and the plots."""

from __future__ import annotations

import base64
import dataclasses
import struct
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from harness.agreement import (
    PAIRED_FIGURES,
    compare_to_reference,
    confusion_matrix,
    round_to_scale,
)
from harness.loop._types import (
    CalibrationResult,
    Disagreement,
    DisagreementAnalysis,
    HoldoutRecord,
    IterationRecord,
)
from harness.prompts import load_prompt, save_new_version
from harness.reports._calibration import final_table_rows, write_calibration_report
from harness.reports._plots import (
    bland_altman_plot,
    confusion_plot,
    figure_data_uri,
    figure_png,
    iterations_plot,
    scatter_plot,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SCALE = (1.0, 6.0)
XSS = "<script>alert(1)</script>"
N_BOOT = 100


# --------------------------------------------------------------------------- builders


def _humans(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Latent quality and three human raters' scores (items x 3)."""
    rng = np.random.default_rng(seed)
    truth = rng.uniform(1.5, 5.5, size=n)
    raters = np.clip(np.rint(truth[:, None] + rng.normal(0, 0.6, size=(n, 3))), 1, 6)
    return truth, raters


def _ceiling(raters: np.ndarray) -> dict:
    """Per-rater human ceiling: each rater vs the mean of the others, median/min/max."""
    vals: dict[str, list[float]] = {name: [] for name in PAIRED_FIGURES}
    for i in range(raters.shape[1]):
        others = np.delete(raters, i, axis=1).mean(axis=1)
        figs = compare_to_reference(raters[:, i], others, scale=SCALE, n_resamples=0)
        for name in PAIRED_FIGURES:
            if figs[name].defined:
                v = figs[name].value
                vals[name].append(abs(v) if name == "bias" else v)
    return {name: {"median": float(np.median(v)), "min": float(min(v)), "max": float(max(v)),
                   "n": len(v), "of": "|bias|" if name == "bias" else name}
            for name, v in vals.items()}


def _confusion(judge: np.ndarray, consensus: np.ndarray) -> dict:
    both = ~np.isnan(judge) & ~np.isnan(consensus)
    categories = list(np.arange(SCALE[0], SCALE[1] + 1))
    table = confusion_matrix(round_to_scale(judge[both], SCALE),
                             round_to_scale(consensus[both], SCALE), categories=categories)
    return {"rows": "judge (rounded)", "columns": "consensus (rounded)",
            "categories": categories, "counts": table.to_numpy().tolist()}


def _analysis(item_ids: list[str], judge: np.ndarray,
              consensus: np.ndarray) -> DisagreementAnalysis:
    diff = judge - consensus
    gaps = np.abs(np.nan_to_num(diff))
    idx = [i for i in np.argsort(-gaps, kind="stable") if gaps[i] >= 1]
    items = [
        Disagreement(item_id=item_ids[i], judge=float(judge[i]), consensus=float(consensus[i]),
                     difference=float(diff[i]),
                     rationale=XSS if k == 0 else f"Rationale for {item_ids[i]} & co.",
                     tags=("dessert",) if k % 2 else ("main", "vegan"), output_chars=300 + 7 * k)
        for k, i in enumerate(idx)
    ]
    bias = float(np.nanmean(diff)) if np.isfinite(diff).any() else 0.0
    return DisagreementAnalysis(
        n_items=len(item_ids), items=items,
        direction={"mean_bias": bias, "n_lenient": sum(d.difference > 0 for d in items),
                   "n_harsh": sum(d.difference < 0 for d in items),
                   "label": "lenient" if bias > 0.2 else "harsh" if bias < -0.2 else "balanced"},
        by_tag=[{"tag": "dessert", "n": 12, "mae": 0.9, "bias": 0.4},
                {"tag": "<main>", "n": 20, "mae": 0.5, "bias": -0.1}],
        verbosity={"spearman_signed": 0.21, "spearman_abs": 0.05, "n": len(item_ids),
                   "reading": "longer recipes score a little higher"},
    )


def _iteration(k: int, prompt, truth, raters, noise: float, *, n_nan: int = 0,
               judge: np.ndarray | None = None) -> IterationRecord:
    n = truth.size
    item_ids = [f"r{i:03d}" for i in range(n)]
    consensus = raters.mean(axis=1)
    if judge is None:
        rng = np.random.default_rng(100 + k)
        judge = np.clip(np.rint(truth + 0.3 + rng.normal(0, noise, size=n)), 1, 6)
        judge[:n_nan] = np.nan
    figures = compare_to_reference(judge, consensus, scale=SCALE, n_resamples=N_BOOT, seed=0)
    return IterationRecord(
        iteration=k, prompt=prompt, primary="icc", figures=figures, ceiling=_ceiling(raters),
        ceiling_method="per-rater",
        run={"n_requests": n, "n_cached": 0, "n_ok": n - n_nan, "n_invalid": n_nan,
             "n_failed": 0, "input_tokens": 500 * n, "output_tokens": 60 * n,
             "cost": None if k == 2 else 0.0125 * k, "elapsed_s": 3.5},
        analysis=_analysis(item_ids, judge, consensus), item_ids=item_ids, judge_scores=judge,
        consensus=consensus, scale=SCALE, confusion=_confusion(judge, consensus),
    )


def _holdout(prompt, icc_shift: float | None = None) -> HoldoutRecord:
    truth, raters = _humans(40, seed=7)
    consensus = raters.mean(axis=1)
    rng = np.random.default_rng(9)
    judge = np.clip(np.rint(truth + rng.normal(0, 0.7, size=truth.size)), 1, 6)
    figures = compare_to_reference(judge, consensus, scale=SCALE, n_resamples=N_BOOT, seed=0)
    return HoldoutRecord(
        prompt=prompt, figures=figures, ceiling=_ceiling(raters), ceiling_method="per-rater",
        run={"n_requests": 40, "n_cached": 0, "n_ok": 40, "n_invalid": 0, "n_failed": 0,
             "input_tokens": 20000, "output_tokens": 2400, "cost": 0.02, "elapsed_s": 2.0},
        item_ids=[f"h{i:03d}" for i in range(40)], judge_scores=judge, consensus=consensus,
        confusion=_confusion(judge, consensus),
    )


def _with_holdout_gap(result: CalibrationResult, gap: float) -> CalibrationResult:
    """``result`` with the holdout ICC set to the best calibration ICC minus ``gap``."""
    cal = result.best.primary_value
    h = result.holdout
    icc = dataclasses.replace(h.figures["icc"], value=cal - gap,
                              ci95=(cal - gap - 0.1, min(1.0, cal - gap + 0.08)))
    holdout = dataclasses.replace(h, figures={**h.figures, "icc": icc})
    return dataclasses.replace(result, holdout=holdout, gap=gap)


@pytest.fixture(scope="module")
def prompts(tmp_path_factory):
    root = tmp_path_factory.mktemp("prompts")
    shutil.copytree(PROJECT_ROOT / "prompts" / "recipes-overall", root / "recipes-overall")
    v1 = load_prompt("recipes-overall", "v1", prompts_dir=root)
    body = v1.body.replace(
        "First reason briefly",
        "Compare the recipe with the scale labels <exactly>, then reason briefly")
    assert body != v1.body
    v2 = save_new_version("recipes-overall", body, parent=1,
                          changelog="Anchor the rating on the scale labels (<b>tags</b> | pipe)",
                          scale=(1, 6), scoring="structured", prompts_dir=root)
    return v1, v2


@pytest.fixture(scope="module")
def result(prompts) -> CalibrationResult:
    v1, v2 = prompts
    truth, raters = _humans(60, seed=1)
    it1 = _iteration(1, v1, truth, raters, noise=1.1, n_nan=3)
    it2 = _iteration(2, v2, truth, raters, noise=0.55)
    res = CalibrationResult(
        experiment="recipes-overall-demo", primary="icc", threshold=0.7,
        stop_reason="threshold", iterations=[it1, it2], best=it2, holdout=_holdout(v2),
        warnings=["the anchor set has only 60 calibration items"], parent_run_id="abc123",
    )
    return _with_holdout_gap(res, 0.15)


# --------------------------------------------------------------------------- the files


def test_writes_both_files(result, tmp_path):
    html_path, md_path = write_calibration_report(result, tmp_path / "reports",
                                                  mlflow_link="http://127.0.0.1:5000/#/runs/abc")
    assert html_path == tmp_path / "reports" / "recipes-overall-demo-abc123.html"
    assert md_path == html_path.with_suffix(".md")
    assert html_path.is_file() and md_path.is_file()
    assert not list((tmp_path / "reports").glob("*.tmp"))


def test_html_self_contained_and_escaped(result, tmp_path):
    html_path, _ = write_calibration_report(result, tmp_path)
    page = html_path.read_text(encoding="utf-8")
    low = page.lower()
    assert 'src="http' not in low and "src='http" not in low
    assert "<link" not in low and "<script" not in low and "@import" not in low
    assert "url(" not in low
    svgs = re.findall(r'<img src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', page)
    # calibration, confusion, Bland-Altman, per-item on each split, and the iterations
    assert len(svgs) == 9
    assert all(base64.b64decode(s).lstrip().startswith(b"<?xml") and
               b"<svg" in base64.b64decode(s) for s in svgs)
    assert page.count("<figcaption>") == 9
    for caption in ("calibration: judge vs human consensus (v2, calibration)",
                    "per-item disagreements, largest first (v2, holdout)",
                    "confusion (v2, holdout)", "Bland–Altman (v2, calibration)",
                    "ICC(2,1) by iteration: the judge&#39;s figure and 95% CI"):
        assert caption in page, caption
    # user data is escaped: rationale, changelog, tags, prompt text in the diff
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;tags&lt;/b&gt;" in page and "<b>tags</b>" not in page
    assert "&lt;main&gt;" in page
    assert "&lt;exactly&gt;" in page and "<exactly>" not in page
    for section in ("Verdict", "Final table", "Plots", "Disagreements of the best version",
                    "Prompt: first version", "Warnings"):
        assert section in page
    assert "stop reason" in page and "threshold" in page
    assert "longer recipes score a little higher" in page
    assert "the anchor set has only 60 calibration items" in page


def test_gap_warning_only_when_gap_above_tenth(result, tmp_path):
    html_path, md_path = write_calibration_report(result, tmp_path / "big")
    assert "Overfitting warning" in html_path.read_text(encoding="utf-8")
    assert "Overfitting warning" in md_path.read_text(encoding="utf-8")

    small = _with_holdout_gap(result, 0.05)
    html_path, md_path = write_calibration_report(small, tmp_path / "small")
    page = html_path.read_text(encoding="utf-8")
    assert "Overfitting warning" not in page
    assert "Overfitting warning" not in md_path.read_text(encoding="utf-8")
    assert "gap: +0.05" in page


def test_far_below_ceiling_is_said_plainly(result, tmp_path):
    best = result.best
    poor = dataclasses.replace(best.figures["icc"], value=0.2, ci95=(0.05, 0.35))
    worse = dataclasses.replace(best, figures={**best.figures, "icc": poor})
    bad = dataclasses.replace(result, iterations=[result.iterations[0], worse], best=worse,
                              holdout=None, gap=None)
    html_path, md_path = write_calibration_report(bad, tmp_path)
    page = html_path.read_text(encoding="utf-8")
    assert "FAR BELOW the human ceiling" in page
    assert "not a substitute for a human rater" in page
    assert "does NOT meet the threshold" in page
    assert "not validated on a holdout" in page


def test_markdown_has_table_rows_and_link(result, tmp_path):
    html_path, md_path = write_calibration_report(result, tmp_path)
    md = md_path.read_text(encoding="utf-8")
    assert "## Verdict" in md and "## Final table" in md and "## Warnings" in md
    assert "![" not in md and "data:image" not in md
    assert str(html_path) in md
    table = [line for line in md.splitlines() if line.startswith("| ")]
    rows = final_table_rows(result)
    assert len(table) == 1 + len(rows)  # header + one line per row
    for row, line in zip(rows, table[1:], strict=True):
        assert row["version"] in line
        if row["hash"]:
            assert row["hash"] in line
        if row["primary"] is not None:
            assert f"{row['primary']:.2f}" in line
    assert "holdout" in table[3] and "human ceiling" in table[4]
    # the changelog's pipe does not break the table, its markup is escaped
    assert "\\|" in md and "<b>" not in md
    assert "the anchor set has only 60 calibration items" in md


# --------------------------------------------------------------------------- the table


def test_final_table_rows_match_inputs(result):
    rows = final_table_rows(result)
    assert [r["kind"] for r in rows] == ["iteration", "iteration", "holdout", "ceiling"]
    for row, rec in zip(rows[:2], result.iterations, strict=True):
        assert row["iteration"] == rec.iteration
        assert row["version"] == rec.prompt.label
        assert row["hash"] == rec.prompt.hash[:12]
        assert row["changelog"] == rec.prompt.changelog
        assert row["split"] == "calibration"
        assert row["primary"] == rec.figures["icc"].value
        assert row["primary_ci"] == rec.figures["icc"].ci95
        for name in ("spearman", "mae", "bias"):
            assert row[name] == rec.figures[name].value
        assert row["n_invalid"] == rec.run["n_invalid"]
        assert row["cost"] == rec.run["cost"]
    assert [r["best"] for r in rows[:2]] == [False, True]
    assert rows[0]["n_invalid"] == 3 and rows[1]["cost"] is None
    hold = rows[2]
    assert hold["split"] == "holdout" and hold["version"] == "v2" and hold["iteration"] == 2
    assert hold["primary"] == pytest.approx(result.best.primary_value - 0.15)
    assert hold["cost"] == 0.02
    ceiling = rows[3]
    band = result.best.ceiling["icc"]
    assert ceiling["version"] == "human ceiling"
    assert ceiling["primary"] == band["median"]
    assert ceiling["primary_ci"] == (band["min"], band["max"])
    assert ceiling["mae"] == result.best.ceiling["mae"]["median"]
    assert ceiling["bias"] >= 0  # |bias|


# --------------------------------------------------------------------------- degenerate data


def _is_png(fig: Figure) -> bool:
    return figure_png(fig).startswith(b"\x89PNG\r\n\x1a\n")


def test_plots_survive_degenerate_data(result):
    nan = np.full(20, np.nan)
    consensus = np.linspace(1, 6, 20)
    const = np.full(20, 4.0)
    empty_conf = {"categories": [1.0, 2.0, 3.0], "counts": [[0] * 3] * 3,
                  "rows": "judge (rounded)", "columns": "consensus (rounded)"}
    figs = [
        scatter_plot(nan, consensus, SCALE, title="all NaN"),
        bland_altman_plot(nan, consensus),
        scatter_plot(const, consensus, SCALE, title="constant"),
        bland_altman_plot(const, consensus),
        bland_altman_plot(np.array([3.0]), np.array([4.0])),
        confusion_plot(empty_conf),
        confusion_plot({"categories": [], "counts": []}),
        scatter_plot(np.array([]), np.array([]), SCALE, title="empty"),
    ]
    assert all(_is_png(f) for f in figs)
    assert "all NaN" in figs[0].axes[0].get_title() and "20 items without" in \
        figs[0].axes[0].get_title()
    assert figure_data_uri(figs[2]).startswith("data:image/png;base64,")

    single = dataclasses.replace(result, iterations=[result.iterations[0]],
                                 best=result.iterations[0], holdout=None, gap=None)
    assert _is_png(iterations_plot(single))
    assert _is_png(iterations_plot(dataclasses.replace(single, iterations=[], best=None)))


def test_report_with_degenerate_iteration(prompts, tmp_path):
    """One iteration, no holdout, every judge score NaN (so no best version)."""
    v1, _ = prompts
    truth, raters = _humans(30, seed=3)
    rec = _iteration(1, v1, truth, raters, noise=1.0, judge=np.full(30, np.nan))
    assert rec.primary_value is None
    res = CalibrationResult(experiment="all nan/../x", primary="icc", threshold=0.7,
                            stop_reason="max_iterations", iterations=[rec], best=None)
    html_path, md_path = write_calibration_report(res, tmp_path)
    assert html_path.parent == tmp_path and html_path.name.startswith("all_nan_.._x-")
    page = html_path.read_text(encoding="utf-8")
    assert "no best version" in page
    assert "30 item(s) without a valid judgment" in page
    rows = final_table_rows(res)
    assert rows[0]["primary"] is None and rows[0]["primary_reason"]
    assert "undefined" in md_path.read_text(encoding="utf-8")

    # a constant judge as the only, best version, with no holdout
    rec = _iteration(1, v1, truth, raters, noise=1.0, judge=np.full(30, 4.0))
    res = CalibrationResult(experiment="const", primary="icc", threshold=0.7,
                            stop_reason="plateau", iterations=[rec], best=rec)
    html_path, _ = write_calibration_report(res, tmp_path)
    page = html_path.read_text(encoding="utf-8")
    assert page.count('<img src="data:image/svg+xml;base64,') == 5
    assert "no diff" in page


def test_plots_render_to_png_for_100_items(result):
    # speed is measured in benchmarks/bench_loop.py, not asserted here
    rec = result.best
    truth, raters = _humans(100, seed=5)
    judge = np.clip(np.rint(truth + np.random.default_rng(0).normal(0, 0.6, 100)), 1, 6)
    consensus = raters.mean(axis=1)
    conf = _confusion(judge, consensus)
    for fig in (scatter_plot(judge, consensus, rec.scale, title="t"), confusion_plot(conf),
                bland_altman_plot(judge, consensus), iterations_plot(result)):
        assert figure_png(fig)[:8] == b"\x89PNG\r\n\x1a\n"


def test_disagreement_section_reads_as_prose(result, tmp_path):
    """A real analysis (analyze_disagreements on the demo set) is written out in words:
    direction, the excluded items, tags, the length effect as rho [CI], p, n."""
    from harness.anchors import load_anchor_set
    from harness.loop._disagree import analyze_disagreements

    aset = load_anchor_set(PROJECT_ROOT / "anchors" / "recipes" / "recipes-overall.jsonl")
    items = [it for it in aset.items if it.split == "calibration"]
    consensus = np.array([it.formed_consensus(aset.meta.consensus) for it in items])
    judge = np.where(consensus < 3.5, 5.0, 2.0)
    judge[0] = np.nan
    analysis = analyze_disagreements(aset, [it.id for it in items], judge, consensus)
    best = dataclasses.replace(result.best, analysis=analysis)
    res = dataclasses.replace(result, best=best, iterations=[*result.iterations[:-1], best])
    html_path, _ = write_calibration_report(res, tmp_path)
    section = html_path.read_text(encoding="utf-8").split("<h2>Disagreements")[1]
    section = section.split("<h2>")[0]
    text = re.sub(r"<[^>]+>", " ", section)
    d = analysis.direction
    assert f"Mean bias (judge − consensus) {d['mean_bias']:+.2f}:" in text
    assert f"{d['n_lenient']} lenient (judge higher), {d['n_harsh']} harsh" in text
    assert f"Left out, without a valid judge score or consensus: 1 ({items[0].id})" in text
    signed = analysis.verbosity["signed"]
    assert f"{signed['value']:.2f}" in text and f"n = {signed['n_items']}" in text
    assert "p = " in text
    for raw in ("statistic:", "ci_method:", "label_rule:", "excluded_ids", "True", "False"):
        assert raw not in text, raw
