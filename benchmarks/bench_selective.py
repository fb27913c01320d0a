"""Does the abstention guarantee hold? (``judgecal selective``, Trust or Escalate)

A calibrated judge by simulation: confidence c ~ U(0.5, 1) and P(agree | c) = c, so the risk
of the items kept at a threshold lambda is R(lambda) = (1 - lambda) / 2 and the best threshold
for a target agreement of 0.8 is lambda = 0.6 (coverage 0.8). For each of REPS seeded
calibration sets of N items, the fixed-sequence threshold (exact Clopper–Pearson bound at
delta) and the naive one (the lowest threshold whose observed agreement reaches the target)
are chosen; the guarantee held when the true risk at the chosen threshold is at most
1 - target. Reported: the share of repetitions where it held (target: at least 1 - delta for
the fixed-sequence rule), and the mean coverage against the oracle's.

    uv run python benchmarks/bench_selective.py                 # N = 150, 300 repetitions
    uv run python benchmarks/bench_selective.py --n 60 500 --reps 500
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.selective import (  # noqa: E402
    agreement_coverage_curve,
    fixed_sequence_threshold,
)


def risk(threshold: float | None) -> float:
    return 0.0 if threshold is None else (1 - threshold) / 2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[60, 150, 500])
    ap.add_argument("--reps", type=int, default=300)
    ap.add_argument("--target", type=float, default=0.8)
    ap.add_argument("--delta", type=float, default=0.1)
    args = ap.parse_args()
    oracle = 1 - 2 * (1 - args.target)  # R(lambda) = 1 - target
    print(f"# target {args.target}, delta {args.delta}, {args.reps} repetitions; oracle "
          f"threshold {oracle:.2f}, coverage {(1 - oracle) / 0.5:.2f}")
    print("| items | guarantee held: fixed-sequence | naive | mean coverage: fixed-sequence "
          "| start 30 | naive |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n in args.n:
        rng = np.random.default_rng(20250117 + n)
        held = {None: 0, 30: 0}
        cover = {None: [], 30: []}
        naive_held, naive_cover = 0, []
        for _ in range(args.reps):
            c = 0.5 + 0.5 * rng.random(n)
            ok = rng.random(n) < c
            for start in held:
                t = fixed_sequence_threshold(c, ok, target=args.target, delta=args.delta,
                                             start=start)
                held[start] += risk(t.threshold) <= 1 - args.target + 1e-12
                cover[start].append(t.calibration.coverage)
            curve = [p for p in agreement_coverage_curve(c, ok) if p.n_kept >= 11]
            naive = min((p.threshold for p in curve if p.agreement >= args.target),
                        default=None)
            naive_held += risk(naive) <= 1 - args.target + 1e-12
            naive_cover.append(float(np.mean(c >= naive)) if naive is not None else 0.0)
        print(f"| {n} | {held[None] / args.reps:.0%} | {naive_held / args.reps:.0%} | "
              f"{np.mean(cover[None]):.2f} | {np.mean(cover[30]):.2f} | "
              f"{np.mean(naive_cover):.2f} |")


if __name__ == "__main__":
    main()
