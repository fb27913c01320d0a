"""Disagreement analysis: items, direction, tags, length effect, exclusions, Markdown."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.anchors import AnchorSet, load_anchor_set
from harness.loop._disagree import (
    BIAS_LABEL_MIN,
    analysis_markdown,
    analyze_disagreements,
    direction_label,
)

HEADER = {"judgecal_anchor_set": 1, "name": "toy", "criterion": "helpfulness",
          "rubric": "Score 1-6 for helpfulness.", "scale": {"min": 1, "max": 6, "labels": None},
          "consensus": "mean"}


def write_set(tmp_path: Path, items: list[dict[str, Any]]) -> AnchorSet:
    """An anchor set file in the documented format (header line, then one item per line)."""
    lines = [json.dumps(HEADER)]
    for it in items:
        row = {"id": it["id"], "input": it.get("input", f"question {it['id']}"),
               "output": it.get("output", f"answer {it['id']}"),
               "consensus": it["consensus"], "rationale": it.get("rationale"),
               "split": it.get("split", "calibration"), "tags": it.get("tags", [])}
        lines.append(json.dumps(row))
    path = tmp_path / "toy.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_anchor_set(path)


def analyse(aset: AnchorSet, judge: dict[str, float], **kw: Any):
    ids = list(judge)
    cons = aset.consensus()
    return analyze_disagreements(aset, ids, np.array([judge[i] for i in ids], dtype=float),
                                 np.array([cons[i] for i in ids], dtype=float), **kw)


@pytest.fixture
def toy(tmp_path: Path) -> AnchorSet:
    return write_set(tmp_path, [
        {"id": "a", "consensus": 2.0, "rationale": "Vague | unhelpful", "tags": ["short", "x"]},
        {"id": "b", "consensus": 5.0, "rationale": "Clear and complete", "tags": ["long"]},
        {"id": "c", "consensus": 3.0, "rationale": None, "tags": ["short"]},
        {"id": "d", "consensus": 4.0, "rationale": "Fine", "tags": ["long"]},
        {"id": "e", "consensus": 3.5, "rationale": "Mixed", "tags": []},
    ])


# --------------------------------------------------------------------------- items


def test_items_are_the_disagreements_worst_first_with_anchor_details(toy: AnchorSet) -> None:
    a = analyse(toy, {"a": 5, "b": 2, "c": 3, "d": 4.5, "e": 2.5})
    # differences: a +3, b -3, c 0, d +0.5, e -1
    assert [d.item_id for d in a.items] == ["a", "b", "e"]  # |3|, |3| (tie by id), |1|
    first = a.items[0]
    assert (first.judge, first.consensus, first.difference) == (5.0, 2.0, 3.0)
    assert first.rationale == "Vague | unhelpful"
    assert first.tags == ("short", "x")
    assert first.output_chars == len("answer a")
    assert a.items[1].difference == -3.0
    assert a.n_items == 5


def test_threshold(toy: AnchorSet) -> None:
    judge = {"a": 5, "b": 2, "c": 3, "d": 4.5, "e": 2.5}
    assert [d.item_id for d in analyse(toy, judge, threshold=2.0).items] == ["a", "b"]
    assert [d.item_id for d in analyse(toy, judge, threshold=0.5).items] == ["a", "b", "e", "d"]
    with pytest.raises(ValueError, match="threshold"):
        analyse(toy, judge, threshold=0)


def test_bad_inputs(toy: AnchorSet) -> None:
    with pytest.raises(ValueError, match="same length"):
        analyze_disagreements(toy, ["a", "b"], np.array([1.0]), np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="not in anchor set"):
        analyze_disagreements(toy, ["zz"], np.array([1.0]), np.array([1.0]))


# --------------------------------------------------------------------------- direction


def test_direction_lenient_counts_and_bias(toy: AnchorSet) -> None:
    a = analyse(toy, {"a": 4, "b": 6, "c": 3, "d": 4, "e": 2.5})
    # differences +2, +1, 0, 0, -1 -> mean 0.4
    d = a.direction
    assert d["mean_bias"] == pytest.approx(0.4)
    assert (d["n_lenient"], d["n_harsh"], d["label"]) == (2, 1, "lenient")
    assert d["threshold"] == 1.0 and d["n_excluded"] == 0


def test_direction_harsh_and_balanced(toy: AnchorSet) -> None:
    harsh = analyse(toy, {"a": 1, "b": 4, "c": 2, "d": 4, "e": 3.5})  # -1,-1,-1,0,0 -> -0.6
    assert harsh.direction["label"] == "harsh"
    assert harsh.direction["n_harsh"] == 3
    balanced = analyse(toy, {"a": 4, "b": 3, "c": 3, "d": 4, "e": 3.5})  # +2,-2,0,0,0
    assert balanced.direction["mean_bias"] == pytest.approx(0.0)
    assert balanced.direction["label"] == "balanced"
    assert (balanced.direction["n_lenient"], balanced.direction["n_harsh"]) == (1, 1)


def test_direction_label_rule() -> None:
    assert BIAS_LABEL_MIN == 0.25
    assert direction_label(0.25) == "lenient"
    assert direction_label(-0.25) == "harsh"
    assert direction_label(0.2499) == "balanced"
    assert direction_label(None) == "balanced"


# --------------------------------------------------------------------------- tags


def test_by_tag_figures_sorted_worst_first_and_small_tags_marked(toy: AnchorSet) -> None:
    a = analyse(toy, {"a": 5, "b": 2, "c": 3, "d": 4.5, "e": 2.5})
    rows = {r["tag"]: r for r in a.by_tag}
    assert set(rows) == {"short", "x", "long"}  # untagged e is in no row
    # short: a +3, c 0 -> MAE 1.5, bias 1.5; long: b -3, d +0.5 -> MAE 1.75, bias -1.25
    assert rows["short"]["n"] == 2
    assert rows["short"]["mae"] == pytest.approx(1.5)
    assert rows["short"]["bias"] == pytest.approx(1.5)
    assert rows["long"]["mae"] == pytest.approx(1.75)
    assert rows["long"]["bias"] == pytest.approx(-1.25)
    assert rows["long"]["n_disagreements"] == 1
    assert rows["x"]["n"] == 1 and rows["x"]["small"] is True
    assert rows["x"]["mae"] == pytest.approx(3.0)
    assert rows["short"]["small"] is False
    assert [r["tag"] for r in a.by_tag] == ["x", "long", "short"]


# --------------------------------------------------------------------------- length effect


def test_verbosity_longer_outputs_scored_higher(tmp_path: Path) -> None:
    items = [{"id": f"i{k}", "consensus": 3.0, "output": "word " * (5 + 20 * k),
              "tags": []} for k in range(8)]
    aset = write_set(tmp_path, items)
    # The judge gives longer outputs ever higher scores than the humans.
    judge = {f"i{k}": 3.0 + 0.4 * k for k in range(8)}
    judge["i0"], judge["i1"] = 3.1, 2.9
    v = analyse(aset, judge).verbosity
    assert v["n"] == 8
    assert v["rho_signed"] > 0.9
    assert v["signed"]["value"] == v["rho_signed"] and v["signed"]["statistic"] == "spearman"
    assert "longer outputs get higher scores than the humans give" in v["reading"]
    assert "verbosity bias" in v["reading"]
    assert "weak evidence" in v["reading"]  # only 8 items


def test_verbosity_shorter_outputs_scored_higher(tmp_path: Path) -> None:
    items = [{"id": f"i{k:02d}", "consensus": 3.0, "output": "w " * (5 + 10 * k)}
             for k in range(12)]
    aset = write_set(tmp_path, items)
    judge = {f"i{k:02d}": 6.0 - 0.25 * k for k in range(12)}
    v = analyse(aset, judge).verbosity
    assert v["rho_signed"] < -0.9
    assert "lower scores" in v["reading"] and "weak evidence" not in v["reading"]


def test_verbosity_undefined_keeps_the_reason(tmp_path: Path) -> None:
    aset = write_set(tmp_path, [{"id": f"i{k}", "consensus": 3.0, "output": "x" * (k + 1)}
                                for k in range(5)])
    v = analyse(aset, {f"i{k}": 3.0 for k in range(5)}).verbosity  # zero error everywhere
    assert v["rho_signed"] is None and v["rho_absolute"] is None
    assert v["signed"]["reason"]
    assert v["reading"].startswith("length effect undefined: ")
    assert v["signed"]["reason"] in v["reading"]
    # Too few items.
    v2 = analyse(aset, {"i0": 4.0, "i1": 2.0}).verbosity
    assert v2["rho_signed"] is None and "undefined" in v2["reading"]


def test_verbosity_weak_effect_is_no_clear_effect(tmp_path: Path) -> None:
    lengths = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120]
    errors = [1, -1, -1, 1, 1, -1, -1, 1, 1, -1, -1, 1]  # no trend, signed or absolute
    aset = write_set(tmp_path, [{"id": f"i{k:02d}", "consensus": 3.0, "output": "x" * n}
                                for k, n in enumerate(lengths)])
    v = analyse(aset, {f"i{k:02d}": 3.0 + e for k, e in enumerate(errors)}).verbosity
    assert abs(v["rho_signed"]) < 0.3
    assert v["reading"].startswith("no clear length effect")
    assert "absolute ρ undefined" in v["reading"]  # |error| is constant


# --------------------------------------------------------------------------- exclusions


def test_nan_judge_scores_are_excluded_and_counted(toy: AnchorSet) -> None:
    a = analyse(toy, {"a": math.nan, "b": 2, "c": 3, "d": math.nan, "e": 3.5})
    assert a.n_items == 3
    assert a.direction["n_excluded"] == 2
    assert a.direction["excluded_ids"] == ["a", "d"]
    assert [d.item_id for d in a.items] == ["b"]
    assert a.verbosity["n"] == 3
    assert all(r["n"] <= 1 for r in a.by_tag if r["tag"] in ("short", "long"))
    assert "excluded" in analysis_markdown(a)


def test_all_unscored(toy: AnchorSet) -> None:
    a = analyse(toy, dict.fromkeys("abcde", math.nan))
    assert a.n_items == 0 and a.items == [] and a.by_tag == []
    assert a.direction["mean_bias"] is None and a.direction["label"] == "balanced"
    assert "undefined" in a.verbosity["reading"]
    assert "No item differs" in analysis_markdown(a)


# --------------------------------------------------------------------------- Markdown


def test_markdown_report(toy: AnchorSet) -> None:
    a = analyse(toy, {"a": 5, "b": 2, "c": 3, "d": 4.5, "e": 2.5})
    md = analysis_markdown(a, anchor_set=toy)
    assert md.startswith("## Disagreements on the calibration split")
    assert "Anchor set `toy`, criterion **helpfulness**, scale 1–6." in md
    assert "| item | consensus | judge | difference | output chars | tags | rationale |" in md
    assert "| `a` | 2.00 | 5 | +3.00 | 8 | `short`, `x` | Vague \\| unhelpful |" in md
    assert "| `b` | 5.00 | 2 | -3.00 |" in md
    assert "### By tag" in md and "`x` (n < 2)" in md
    assert "Output length:" in md
    short = analysis_markdown(a, max_items=1)
    assert "| `a` |" in short and "| `b` |" not in short
    assert "and 2 more disagreement(s)" in short


def test_demo_calibration_items(project_root: Path) -> None:
    aset = load_anchor_set(project_root / "anchors/recipes/recipes-overall.jsonl")
    cal = aset.split("calibration")
    ids = [it.id for it in cal.items]
    cons = np.array([aset.consensus()[i] for i in ids])
    judge = np.full(len(ids), 6.0)
    a = analyze_disagreements(aset, ids, judge, cons)
    assert a.n_items == len(ids)
    assert {d.item_id for d in a.items} <= set(ids)
    assert a.direction["label"] == "lenient"
    assert all(a.items[k].difference >= a.items[k + 1].difference
               for k in range(len(a.items) - 1))
    assert a.verbosity["rho_signed"] is not None
    assert "| item |" in analysis_markdown(a, anchor_set=aset)
