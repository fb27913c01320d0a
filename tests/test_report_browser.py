"""The calibration report in a real browser: headless Chromium driven by Playwright.

A report is written from a two-iteration calibration with a holdout, opened from its file,
and checked as a reader sees it: the title and heading, the final and runs tables with
their rows, the shared stylesheet applied, every plot loaded (an SVG image with a natural
size, laid out within the page), no error in the console; a full-page screenshot is saved
in the test's directory. Chromium and the fixture that starts it are those of the session
browser test (skipped without a Chromium, except under ``CI=true``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from test_browser_session import browser  # noqa: F401 - the Chromium fixture
from test_calibration_report import PROJECT_ROOT, _holdout, _humans, _iteration

from harness.loop._types import CalibrationResult
from harness.prompts import load_prompt, save_new_version
from harness.reports import final_table_rows, write_calibration_report


@pytest.fixture
def report(tmp_path: Path) -> tuple[Path, CalibrationResult]:
    root = tmp_path / "prompts"
    shutil.copytree(PROJECT_ROOT / "prompts" / "recipes-overall", root / "recipes-overall")
    v1 = load_prompt("recipes-overall", "v1", prompts_dir=root)
    v2 = save_new_version("recipes-overall", v1.body + "\nUse the scale labels <exactly>.",
                          parent=1, changelog="Anchor on the labels <b>x</b>", scale=(1, 6),
                          scoring="structured", prompts_dir=root)
    truth, raters = _humans(60, seed=1)
    it1 = _iteration(1, v1, truth, raters, noise=1.1, n_nan=3)
    it2 = _iteration(2, v2, truth, raters, noise=0.55)
    it2.human_range = np.column_stack([raters.min(axis=1), raters.max(axis=1)])
    result = CalibrationResult(
        experiment="recipes <demo>", primary="icc", threshold=0.7, stop_reason="threshold",
        iterations=[it1, it2], best=it2, holdout=_holdout(v2), parent_run_id="run1",
        warnings=["the anchor set has only 60 calibration items"])
    html_path, _ = write_calibration_report(result, tmp_path / "reports")
    return html_path, result


def test_report_renders_with_every_plot(browser, report, tmp_path: Path) -> None:  # noqa: F811
    html_path, result = report
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(html_path.as_uri())
    page.wait_for_load_state("load")

    assert page.title() == "Calibration report — recipes <demo>"
    assert page.text_content("h1") == "Calibration report — recipes <demo>"
    rows = final_table_rows(result)
    assert page.locator("#final tbody tr").count() == len(rows)
    assert page.locator("#final thead th").count() == 12
    assert "human ceiling" in page.text_content("#final tbody tr.ceiling")
    assert page.locator("#runs tbody tr").count() == 3  # two iterations and the holdout
    assert page.locator("#top-disagreements tbody tr").count() >= 1
    # the inline stylesheet (shared with the session app) is applied
    assert page.locator("#final tr.best td").first.evaluate(
        "el => getComputedStyle(el).backgroundColor") == "rgb(238, 246, 238)"

    images = page.locator("#plots img")
    assert images.count() == 9
    sizes = images.evaluate_all(
        "els => els.map(e => [e.complete, e.naturalWidth, e.naturalHeight,"
        " e.getBoundingClientRect().width, e.currentSrc.slice(0, 26)])")
    width = page.evaluate("document.documentElement.clientWidth")
    for complete, nat_w, nat_h, shown_w, src in sizes:
        assert complete and nat_w > 0 and nat_h > 0
        assert src == "data:image/svg+xml;base64,"
        assert 0 < shown_w <= width
    assert errors == []

    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    page.close()
