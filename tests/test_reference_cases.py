"""Every case of ../shared/reference/agreement_cases.json through harness.agreement.

Conventions (see ../shared/reference/README.md):

- Two-rater statistics (cohen_kappa, spearman, kendall_tau_b, pearson) are called
  ``f(a, b, **params)`` with ``data == [a, b]``.
- All other statistics take an items x raters matrix, ``f(matrix, **params)``. A case of one
  of them may still be given in the two-rater form ``[a, b]`` (percent agreement of two
  raters, Gwet's AC1 from a contingency ``table``); its matrix is then the transpose of
  ``data``. Rule: two-rater form iff ``len(data) == 2 and len(data[0]) > 2``. Checked by hand
  against every case: the two-rater-form cases have 20 or 100 items, and no matrix-form case
  has exactly 2 items (rows). :func:`test_layout_rule` pins this down.
- ``params`` minus the informational ``mcgraw_wong`` key are passed as keyword arguments.

Nothing is skipped: cases of statistics whose module is not written yet fail.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

import harness.agreement as agreement

CASES_FILE = (
    Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "agreement_cases.json"
)
TWO_RATER_STATISTICS = {"cohen_kappa", "spearman", "kendall_tau_b", "pearson"}
INFORMATIONAL_PARAMS = {"mcgraw_wong"}
# tolerance for the ICC's F and ANOVA mean squares (given to 10 decimals in the file)
ANOVA_TOL = 1e-6


def _load_cases() -> list[dict[str, Any]]:
    if not CASES_FILE.is_file():
        raise FileNotFoundError(f"reference cases not found: {CASES_FILE}")
    with CASES_FILE.open(encoding="utf-8") as fh:
        cases = json.load(fh)["cases"]
    if not cases:
        raise ValueError(f"no cases in {CASES_FILE}")
    return cases


CASES = _load_cases()


def _two_rater_form(case: dict[str, Any]) -> bool:
    data = case["data"]
    return len(data) == 2 and len(data[0]) > 2


def _run(case: dict[str, Any]) -> Any:
    func = getattr(agreement, case["statistic"])
    params = {k: v for k, v in case.get("params", {}).items() if k not in INFORMATIONAL_PARAMS}
    data = case["data"]
    if case["statistic"] in TWO_RATER_STATISTICS:
        a, b = data
        return func(a, b, **params)
    matrix = [list(item) for item in zip(*data, strict=True)] if _two_rater_form(case) else data
    return func(matrix, **params)


def _observed(result: Any, key: str) -> Any:
    if key == "value":
        return result.value
    if key == "ci95":
        return result.ci95
    raise KeyError(f"no rule to read {key!r} from a result")


def _close(observed: Any, expected: Any, tol: float) -> bool:
    if isinstance(expected, list):
        return (
            observed is not None
            and len(observed) == len(expected)
            and all(_close(o, e, tol) for o, e in zip(observed, expected, strict=True))
        )
    return observed is not None and math.isfinite(observed) and abs(observed - expected) <= tol


def test_layout_rule() -> None:
    """The two-rater-form rule above classifies the cases as read by hand."""
    two_rater_form_matrix_cases = {
        c["id"] for c in CASES if c["statistic"] not in TWO_RATER_STATISTICS and _two_rater_form(c)
    }
    assert two_rater_form_matrix_cases == {
        "percent_agreement_exact_irr_anxiety_r1r2",
        "percent_agreement_within1_irr_anxiety_r1r2",
        "percent_agreement_exact_irrcac_abstractors",
        "gwet_ac1_irrcac_abstractors",
    }
    for c in CASES:
        if "table" in c:  # a source contingency table always means two-rater form
            assert _two_rater_form(c), c["id"]
        if c["statistic"] in TWO_RATER_STATISTICS or _two_rater_form(c):
            assert len(c["data"]) == 2 and len(c["data"][0]) == len(c["data"][1]), c["id"]


def test_case_file_complete() -> None:
    assert len(CASES) == 40
    assert len({c["id"] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_reference_case(case: dict[str, Any]) -> None:
    result = _run(case)
    expected = case["expected"]
    assert result.value is not None, f"undefined: {result.reason}"

    for key, tol in case["tolerance"].items():
        observed = _observed(result, key)
        assert _close(observed, expected[key], tol), (
            f"{key}: got {observed}, expected {expected[key]} +/- {tol}"
        )

    published = case.get("published")
    if published is not None:
        ptol = published["tolerance"]
        for key, want in published.items():
            if key == "tolerance":
                continue
            tol = ptol[key] if isinstance(ptol, dict) else ptol
            observed = _observed(result, key)
            assert _close(observed, want, tol), (
                f"published {key}: got {observed}, expected {want} +/- {tol}"
            )

    if case["statistic"] == "icc":
        details = result.details
        if "F" in expected:
            assert abs(details["F"] - expected["F"]) <= ANOVA_TOL * max(1.0, abs(expected["F"]))
        for name, want in expected.get("anova_mean_squares", {}).items():
            got = details["mean_squares"][name]
            assert abs(got - want) <= ANOVA_TOL * max(1.0, abs(want)), (
                f"mean square {name}: got {got}, expected {want}"
            )
