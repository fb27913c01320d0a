"""Does the anchor panel blame the right party: the judge, the system, or nobody?

By simulation (recorded scores, no call), with the statistics ``judgecal panel`` uses
(:func:`harness.drift.panel_shift`, :func:`harness.drift.production_shift`,
:func:`harness.drift.attribute`, default tolerances). A frozen panel of N anchors is judged
twice; two production windows of M items are judged, one before and one after. The judge
scores an item at its true quality (1-6), moved one point up or down with probability FLIP
(sampling noise). Three scenarios, REPS seeded runs each:

* nothing changed: the same judge and the same system on both sides;
* a silent judge change: the second judge is one point harsher on a share SHIFT of the items
  (panel and production alike; the fingerprint unchanged);
* a system change: the second production window's quality is one point higher on a share
  SHIFT of its items; the judge is the same.

Reported: the share of runs per verdict (``stable``, ``judge``, ``system``, ``both``). Right
attribution: ``stable`` when nothing changed (anything else is a false alarm); ``judge`` or
``both`` (the judge named) for the judge change; ``system`` for the system change.

    uv run python benchmarks/bench_panel.py                 # N 52, M 500, 200 runs
    uv run python benchmarks/bench_panel.py --n 31 100 --shift 0.1 0.3 --flip 0 0.05
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.drift import attribute, panel_shift, production_shift  # noqa: E402

FP = {"reply_models": ["model-a"], "prompt_hash": "p", "params": {}}


def judge(rng: np.random.Generator, quality: np.ndarray, flip: float, harsh: float = 0.0
          ) -> np.ndarray:
    noise = rng.choice([-1, 0, 1], size=quality.size, p=[flip / 2, 1 - flip, flip / 2])
    return np.clip(quality + noise - (rng.random(quality.size) < harsh), 1, 6)


def one_run(rng: np.random.Generator, scenario: str, n: int, m: int, shift: float,
            flip: float) -> str:
    panel = rng.integers(1, 7, size=n).astype(float)
    prod_before = rng.integers(2, 6, size=m).astype(float)
    prod_after = rng.integers(2, 6, size=m).astype(float)
    harsh = shift if scenario == "judge" else 0.0
    if scenario == "system":
        prod_after = np.clip(prod_after + (rng.random(m) < shift), 1, 6)
    before = judge(rng, panel, flip)
    after = judge(rng, panel, flip, harsh)
    p = panel_shift({f"i{k}": v for k, v in enumerate(before)},
                    {f"i{k}": v for k, v in enumerate(after)})
    q = production_shift(judge(rng, prod_before, flip), judge(rng, prod_after, flip, harsh))
    return attribute(p, q, FP, FP).verdict


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[52])
    ap.add_argument("--m", type=int, default=500)
    ap.add_argument("--shift", type=float, nargs="+", default=[0.1, 0.2, 0.4])
    ap.add_argument("--flip", type=float, nargs="+", default=[0.0, 0.02])
    ap.add_argument("--reps", type=int, default=200)
    args = ap.parse_args()
    print(f"# {args.reps} runs per row; production windows of {args.m} items; verdict shares")
    print("| panel | flip | scenario | shift | stable | judge | system | both | right |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    right = {"none": {"stable"}, "judge": {"judge", "both"}, "system": {"system"}}
    for n in args.n:
        for flip in args.flip:
            for scenario in ("none", "judge", "system"):
                for shift in ([0.0] if scenario == "none" else args.shift):
                    rng = np.random.default_rng(20250217 + n + int(1000 * flip)
                                                + int(1000 * shift) + len(scenario))
                    v = Counter(one_run(rng, scenario, n, args.m, shift, flip)
                                for _ in range(args.reps))
                    shares = [v[k] / args.reps for k in ("stable", "judge", "system", "both")]
                    ok = sum(v[k] for k in right[scenario]) / args.reps
                    print(f"| {n} | {flip:g} | {scenario} | {shift:g} | "
                          + " | ".join(f"{s:.0%}" for s in shares) + f" | **{ok:.0%}** |")


if __name__ == "__main__":
    main()
