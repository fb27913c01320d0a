"""The calibration report: HTML + Markdown files, the final table, and the plots."""

from __future__ import annotations

import base64
import dataclasses
import re
import shutil
import struct
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
    calibration_plot,
    confusion_plot,
    disagreement_plot,
    figure_data_uri,
    figure_png,
    figure_svg,
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


# --------------------------------------------------------------------------- readable plots


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", png[16:24])


def _clipped(fig: Figure) -> bool:
    """Whether anything drawn (titles, labels, tick labels, legends, colour bars) reaches
    beyond the figure: what a saved image would cut off."""
    fig.canvas.draw()
    tight = fig.get_tightbbox(fig.canvas.get_renderer())  # inches, drawn artists only
    w, h = fig.get_size_inches()
    eps = 0.01
    return tight.x0 < -eps or tight.y0 < -eps or tight.x1 > w + eps or tight.y1 > h + eps


def _items(n: int, seed: int) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    truth, raters = _humans(n, seed)
    judge = np.clip(np.rint(truth + np.random.default_rng(seed).normal(0.4, 0.9, n)), 1, 6)
    return ([f"item-{i:03d}" for i in range(n)], judge, raters.mean(axis=1),
            np.column_stack([raters.min(axis=1), raters.max(axis=1)]))


def test_figures_are_vector_or_twice_the_resolution(result):
    fig = calibration_plot(result.best.judge_scores, result.best.consensus, SCALE, title="t")
    svg = figure_svg(fig)
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "</svg>" in svg
    again = calibration_plot(result.best.judge_scores, result.best.consensus, SCALE, title="t")
    assert figure_svg(again) == svg  # deterministic: no date, fixed ids
    w, h = fig.get_size_inches() * fig.dpi
    assert _png_size(figure_png(fig)) == (round(2 * w), round(2 * h))
    assert _png_size(figure_png(fig, scale=1)) == (round(w), round(h))
    assert figure_data_uri(fig, "svg").startswith("data:image/svg+xml;base64,")
    with pytest.raises(ValueError, match="png or svg"):
        figure_data_uri(fig, "gif")


def test_no_text_is_clipped(result):
    ids, judge, consensus, spread = _items(60, seed=11)
    rec = result.best
    figs = [
        iterations_plot(result),
        confusion_plot(rec.confusion, title="Confusion (a long version name, calibration)"),
        calibration_plot(judge, consensus, SCALE, title="Calibration (v12, calibration)"),
        disagreement_plot(ids, judge, consensus, SCALE, human_range=spread),
        bland_altman_plot(judge, consensus, title="Bland–Altman (v12, holdout)"),
        scatter_plot(rec.judge_scores, rec.consensus, SCALE, title="Judge vs humans (v2)"),
    ]
    for fig in figs:
        assert not _clipped(fig), fig.axes[0].get_title()
    # the check sees a clipped text
    figs[4].axes[0].text(1.3, 0.5, "beyond the right edge", transform=figs[4].axes[0].transAxes)
    assert _clipped(figs[4])
    # the colour bar is labelled, the legends name what is drawn
    assert figs[1].axes[1].get_ylabel() == "items"
    legend = [t.get_text() for t in figs[0].legends[0].get_texts()]
    assert {"humans: human range", "human median", "threshold 0.7", "judge's 95% CI",
            "judge, calibration split", "best version", "judge, holdout (v2)"} <= set(legend)


def test_iterations_plot_draws_the_ci_band_and_the_human_band(result):
    fig = iterations_plot(result)
    ax = fig.axes[0]
    band = result.best.ceiling["icc"]
    spans = [p for p in ax.patches if p.get_label() == "humans: human range"]
    assert len(spans) == 1
    y0, y1 = spans[0].get_y(), spans[0].get_y() + spans[0].get_height()
    assert y0 == pytest.approx(band["min"]) and y1 == pytest.approx(band["max"])
    ci = [c for c in ax.collections if c.get_label() == "judge's 95% CI"]
    assert len(ci) == 1
    verts = ci[0].get_paths()[0].vertices
    for rec in result.iterations:
        lo, hi = rec.figures["icc"].ci95
        at = verts[np.isclose(verts[:, 0], rec.iteration), 1]
        assert min(at) == pytest.approx(lo) and max(at) == pytest.approx(hi)


def test_calibration_plot_means_per_consensus_level():
    judge = np.array([1.0, 3.0, 2.0, 2.0, 6.0, np.nan, 5.0])
    consensus = np.array([1.2, 0.9, 2.0, 2.4, 5.6, 3.0, 6.0])
    fig = calibration_plot(judge, consensus, SCALE, title="t")
    ax = fig.axes[0]
    identity = [ln for ln in ax.lines if ln.get_label().startswith("identity")]
    assert len(identity) == 1 and list(identity[0].get_xdata()) == [1.0, 6.0] \
        and list(identity[0].get_ydata()) == [1.0, 6.0]
    means = [ln for ln in ax.lines if ln.get_marker() == "o"]
    assert len(means) == 1
    assert list(means[0].get_xdata()) == [1.0, 2.0, 6.0]
    assert list(means[0].get_ydata()) == pytest.approx([2.0, 2.0, 5.5])
    assert "(n = 6)" in ax.get_title() and "1 item without a valid judgment" in ax.get_title()
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["n=2", "n=2", "n=2"]


def test_disagreement_plot_sorts_items_and_shows_the_human_spread():
    ids = ["a", "b", "c", "d", "e"]
    judge = np.array([3.0, 6.0, np.nan, 2.0, 4.0])
    consensus = np.array([3.5, 2.0, 4.0, 4.5, 4.0])
    spread = np.array([[3, 4], [1, 3], [4, 4], [4, 5], [3, 5]], dtype=float)
    fig = disagreement_plot(ids, judge, consensus, SCALE, human_range=spread, top=3)
    ax = fig.axes[0]
    # |differences|: b 4, d 2.5, a 0.5, e 0; c has no judge score
    assert [t.get_text() for t in ax.get_yticklabels()] == ["b", "d", "a"]
    assert "3 largest of 4" in ax.get_title() and "1 item without" in ax.get_title()
    assert ax.get_ylim()[0] > ax.get_ylim()[1]  # the largest at the top
    bands = [c for c in ax.collections if c.get_label() == "human spread (min–max)"]
    assert len(bands) == 1
    segs = [s[:, 0].tolist() for s in bands[0].get_segments()]
    assert segs == [[1.0, 3.0], [4.0, 5.0], [3.0, 4.0]]
    legend = {t.get_text() for t in fig.legends[0].get_texts()}
    assert legend == {"human spread (min–max)", "human consensus", "judge higher",
                      "judge lower"}

    bare = disagreement_plot(ids, judge, consensus, SCALE)
    assert "human spread not recorded" in bare.axes[0].get_title()
    empty = disagreement_plot(ids, np.full(5, np.nan), consensus, SCALE)
    assert "no item with both" in empty.axes[0].texts[0].get_text()
    assert _is_png(empty) and _is_png(bare)
    with pytest.raises(ValueError, match="human_range has 2 rows"):
        disagreement_plot(ids, judge, consensus, SCALE, human_range=spread[:2])


def test_plot_module_imports_no_matplotlib():
    import subprocess
    import sys

    code = ("import sys, harness.reports._plots, harness.reports.templates; "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=PROJECT_ROOT)
    assert out.stdout.strip() == "False"


def test_report_template_ships_with_the_package():
    from harness.reports import templates

    names = {p.name for p in templates.DIRECTORY.iterdir()}
    assert {"base.html", "calibration.html", "macros.html", "style.css"} <= names
    env = templates.environment()
    page = env.get_template("base.html").render(title="<x>", inline_css=templates.stylesheet())
    assert "<h1>&lt;x&gt;</h1>" in page and "tr.flagged" in page and "<link" not in page
