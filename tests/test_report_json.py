"""The report's JSON document in one walk equals the two-walk conversion (the old code)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from harness.agreement import AgreementResult, jsonable
from harness.anchors import RatingsTable, open_ratings
from harness.reports import ReportSettings, agreement_report
from harness.reports._agreement import report_json

ROOT = Path(__file__).resolve().parents[1]


def _old_results_to_dicts(obj):
    """The conversion before report_json: every result by to_dict, then jsonable."""
    if isinstance(obj, AgreementResult):
        return obj.to_dict()
    if isinstance(obj, dict):
        return {k: _old_results_to_dicts(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_old_results_to_dicts(v) for v in obj]
    return obj


def _one_shot_crowd(n_items: int = 60) -> tuple[RatingsTable, np.ndarray]:
    rng = np.random.default_rng(5)
    truth = rng.normal(3.5, 1.0, n_items)
    dense = np.clip(np.rint(truth[:, None] + rng.normal(0, 0.8, (n_items, 3))), 1, 6)
    rows, cols = np.nonzero(~np.isnan(dense))
    scores = np.full((n_items, rows.size), np.nan)
    scores[rows, np.arange(rows.size)] = dense[rows, cols]
    table = RatingsTable([f"i{i}" for i in range(n_items)],
                         [f"once-{k}" for k in range(rows.size)], scores,
                         np.zeros(scores.shape, dtype=bool), None, (1.0, 6.0), "crowd")
    judge = np.clip(np.rint(truth + rng.normal(0, 0.8, n_items)), 1, 6)
    return table, judge


def _check(report) -> None:
    doc = report.to_dict()
    raw = {"human": report.human, "judge": report.judge, "warnings": report.warnings}
    assert report_json(raw) == jsonable(_old_results_to_dicts(raw))
    assert json.loads(json.dumps(doc, allow_nan=False)) == doc


def test_one_walk_equals_the_old_conversion_on_one_shot_raters():
    table, judge = _one_shot_crowd()
    _check(agreement_report(table, judge_scores=judge, settings=ReportSettings(n_resamples=50)))


def test_one_walk_equals_the_old_conversion_on_the_demo_set():
    table = open_ratings(ROOT / "anchors" / "recipes" / "recipes-overall.jsonl")
    _check(agreement_report(table, settings=ReportSettings(n_resamples=50)))


def test_a_shared_result_is_converted_once_and_numpy_leaves_made_plain():
    res = AgreementResult(statistic="icc", value=np.float64(0.5), n_items=np.int64(3),
                          n_raters=2, ci95=(np.float64(0.1), float("nan")),
                          details={"k": np.arange(2)})
    doc = report_json({"a": res, "b": [res, (np.float64(np.inf), 1)], 3: np.int64(4)})
    assert doc["a"] is doc["b"][0]
    assert doc["a"]["value"] == 0.5 and type(doc["a"]["n_items"]) is int
    assert doc["a"]["ci95"] == [0.1, None] and doc["a"]["details"] == {"k": [0, 1]}
    assert doc["b"][1] == [None, 1] and doc["3"] == 4
