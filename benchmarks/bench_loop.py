"""Benchmark the calibration loop's own overhead per iteration, judge calls excluded.

Run from the project root:

    uv run python benchmarks/bench_loop.py [--items 100] [--iterations 3]

A synthetic anchor set (100 items, 5 raters, 1-6 scale) is calibrated with an in-process
judge that answers instantly, against an MLflow SQLite store in a temporary directory. The
first calibration creates the store and fills the journal; the measured one (``restart``)
re-judges every item from the journal, so no judge call is made and everything timed is the
loop: rendering, the journal look-ups, the agreement report with 1,000-resample bootstrap
CIs, the disagreement analysis, the revision, three plots and the MLflow logging.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from harness.experiments import load_experiment
from harness.judges import Judge, JudgeReply, JudgeRequest, Usage
from harness.loop import calibrate

ROOT = Path(__file__).resolve().parents[1]


class InstantJudge(Judge):
    """Answers at once: a score from a hash of the output, with a one-line reasoning."""

    provider = "bench"

    async def complete(self, request: JudgeRequest) -> JudgeReply:
        text = request.messages[-1].content
        h = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
        score = request.scale_min + h % (request.scale_max - request.scale_min + 1)
        body = {"reasoning": "synthetic", "score": score}
        return JudgeReply(raw=json.dumps(body), structured=body,
                          usage=Usage(input_tokens=400, output_tokens=20))


def write_anchor_set(path: Path, n_items: int, n_raters: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    header = {
        "judgecal_anchor_set": 1, "name": "bench", "criterion": "overall",
        "rubric": "Overall, the text is well written.",
        "scale": {"min": 1, "max": 6, "labels": None}, "consensus": "mean",
        "na_allowed": False, "source": "synthetic benchmark data",
    }
    lines = [json.dumps(header)]
    n_cal = n_items // 2
    for i in range(n_items):
        truth = rng.uniform(1, 6)
        ratings = {f"r{j}": int(np.clip(round(truth + rng.normal(0, 0.8)), 1, 6))
                   for j in range(n_raters)}
        lines.append(json.dumps({
            "id": f"item-{i:04d}", "input": f"Task {i}",
            "output": f"Synthetic output number {i}. " + "Some words. " * int(rng.integers(5, 60)),
            "ratings": ratings, "rationale": f"mean of {n_raters} ratings",
            "edge_case": None, "source": "synthetic", "tags": [f"t{i % 4}"],
            "split": "calibration" if i < n_cal else "holdout",
        }))
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=100, help="calibration items")
    parser.add_argument("--raters", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=3)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="judgecal-bench-loop-"))
    try:
        shutil.copytree(ROOT / "prompts" / "recipes-overall", tmp / "prompts" / "bench")
        write_anchor_set(tmp / "bench.jsonl", 2 * args.items, args.raters)
        exp_path = tmp / "exp.toml"
        exp_path.write_text(f"""
[experiment]
name = "bench-loop"
[anchors]
path = "{tmp / 'bench.jsonl'}"
[prompt]
name = "bench"
version = "v1"
dir = "{tmp / 'prompts'}"
[judge]
provider = "local"
model = "instant"
[target]
threshold = 0.99
[stopping]
max_iterations = {args.iterations}
plateau_patience = {args.iterations}
[revision]
strategy = "fewshot"
k = 2
max_examples = 4
[tracking]
tracking_uri = "sqlite:///{tmp / 'mlflow.db'}"
[report]
dir = "{tmp / 'reports'}"
[state]
dir = "{tmp / 'state'}"
""")
        exp = load_experiment(exp_path)
        judge = InstantJudge("instant")
        t0 = time.perf_counter()
        calibrate(exp, judge=judge, show_progress=False)
        first = time.perf_counter() - t0

        marks: list[float] = []

        def say(msg: str) -> None:
            if msg.startswith(("iteration ", "validating ")):
                marks.append(time.perf_counter())

        t0 = time.perf_counter()
        result = calibrate(exp, judge=judge, show_progress=False, restart=True, say=say)
        total = time.perf_counter() - t0
        per_iter = [b - a for a, b in zip(marks, marks[1:], strict=False)]
        calls = sum(r.run["n_requests"] for r in result.iterations)
        print(f"items per split: {args.items}, raters: {args.raters}, "
              f"iterations: {len(result.iterations)}, judge calls in the timed run: {calls}")
        print(f"first calibration (fresh MLflow store, judge calls made): {first:.2f} s")
        print("\n| what | seconds |\n|---|---|")
        for i, t in enumerate(per_iter, start=1):
            print(f"| iteration {i} (judge + report + analysis + revise + MLflow) | {t:.3f} |")
        print(f"| median per iteration | {statistics.median(per_iter):.3f} |")
        print(f"| whole timed calibration incl. holdout and HTML report | {total:.2f} |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
