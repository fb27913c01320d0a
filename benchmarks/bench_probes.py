"""Do the bias probes find a planted bias, and leave a judge without one alone?

A scripted judge by simulation (recorded judgments, no call): N anchors with a consensus on
the 1-6 scale; every run of the judge scores an item at its rounded consensus, moved one
point up or down with probability FLIP (its sampling noise at a temperature above 0). The
baseline, the placebo and the probe are three such runs; on the verbosity probe's run a
planted bias moves a share BIAS of the items one point up (the padding sways the judge).
Each run is judged by :func:`harness.probes.compare_probe`, the figure ``judgecal probe``
uses (excess of the moved share over the placebo's, paired bootstrap CI, tolerance 0.05).
Reported: the share of REPS runs where the probe is flagged (failed): the power for a bias,
the false-alarm rate for none (BIAS 0, the placebo against itself).

    uv run python benchmarks/bench_probes.py                  # N 52 and 150, 200 runs
    uv run python benchmarks/bench_probes.py --n 52 --bias 0 0.1 0.2 --flip 0.05 0.2
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.probes import compare_probe  # noqa: E402


def run(rng: np.random.Generator, truth: np.ndarray, flip: float, bias: float = 0.0
        ) -> dict[str, float]:
    """One run of the scripted judge: rounded truth, noise, and the planted bias."""
    noise = rng.choice([-1, 0, 1], size=truth.size, p=[flip / 2, 1 - flip, flip / 2])
    scores = truth + noise + (rng.random(truth.size) < bias)
    return {f"i{k}": float(v) for k, v in enumerate(np.clip(scores, 1, 6))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[52, 150])
    ap.add_argument("--bias", type=float, nargs="+", default=[0.0, 0.05, 0.1, 0.2, 0.3])
    ap.add_argument("--flip", type=float, nargs="+", default=[0.0, 0.1])
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--resamples", type=int, default=2000)
    args = ap.parse_args()
    print(f"# {args.reps} runs per cell; tolerance 0.05; share of runs flagged "
          "(bias 0: false alarms)")
    print("| anchors | judge noise (flip) | " + " | ".join(f"bias {b:g}" for b in args.bias)
          + " |")
    print("|---:|---:|" + "---:|" * len(args.bias))
    for n in args.n:
        for flip in args.flip:
            cells = []
            for bias in args.bias:
                rng = np.random.default_rng(20250217 + n + int(1000 * flip)
                                            + int(1000 * bias))
                truth = rng.integers(1, 7, size=n).astype(float)
                flagged = 0
                for _ in range(args.reps):
                    base, placebo = run(rng, truth, flip), run(rng, truth, flip)
                    probe = run(rng, truth, flip, bias)
                    r = compare_probe("verbosity", base, probe, placebo,
                                      n_resamples=args.resamples)
                    flagged += not r.passed
                cells.append(f"{flagged / args.reps:.0%}")
            print(f"| {n} | {flip:g} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
