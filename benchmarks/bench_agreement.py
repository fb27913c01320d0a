"""Benchmark the agreement engine: the full report and ICC against pingouin.

Run from the project root:

    uv run --group bench python benchmarks/bench_agreement.py

Prints a Markdown table; `benchmarks/README.md` records the latest figures.
"""

from __future__ import annotations

import argparse
import platform
import statistics

import numpy as np
from _timing import timed

from harness.agreement import icc, icc_all
from harness.anchors import RatingsTable
from harness.reports import ReportSettings, agreement_report


def synthetic(n_items: int, n_raters: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Scores 1-5 for ``n_raters`` humans around a latent truth, and a judge column."""
    rng = np.random.default_rng(seed)
    truth = rng.normal(3.0, 1.0, size=n_items)
    humans = np.clip(np.rint(truth[:, None] + rng.normal(0, 0.7, (n_items, n_raters))), 1, 5)
    judge = np.clip(np.rint(truth + rng.normal(0.3, 0.9, n_items)), 1, 5)
    return humans, judge


def table_of(humans: np.ndarray, judge: np.ndarray) -> RatingsTable:
    scores = np.column_stack([humans, judge])
    return RatingsTable(
        item_ids=[f"item-{i}" for i in range(scores.shape[0])],
        rater_ids=[f"human-{j}" for j in range(humans.shape[1])] + ["judge"],
        scores=scores,
        na=np.zeros(scores.shape, dtype=bool),
        consensus=None,
        scale=(1.0, 5.0),
        source="synthetic",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--raters", type=int, default=5)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--scaling", action="store_true", help="also time other sizes")
    args = parser.parse_args()

    print(f"python {platform.python_version()}, numpy {np.__version__}, "
          f"{platform.machine()}, {platform.processor() or 'cpu'}")
    humans, judge = synthetic(args.items, args.raters)
    table = table_of(humans, judge)
    settings = ReportSettings(n_resamples=args.resamples, seed=0)
    report_t = timed(lambda: agreement_report(table, judge="judge", settings=settings),
                     args.repeat)
    print("\n| what | median | min | max |\n|---|---|---|---|")
    print(f"| full report, {args.items:,} items x {args.raters} raters + judge, "
          f"B={args.resamples} | {statistics.median(report_t):.3f} s | {min(report_t):.3f} s | "
          f"{max(report_t):.3f} s |")

    ours = timed(lambda: icc_all(humans), max(args.repeat, 20))
    single = timed(lambda: icc(humans, form="ICC(2,1)"), max(args.repeat, 20))
    try:
        import pandas as pd
        import pingouin as pg
    except ImportError:
        print("| pingouin not installed: `uv run --group bench ...` | | | |")
        return
    long = pd.DataFrame({
        "item": np.repeat(np.arange(humans.shape[0]), humans.shape[1]),
        "rater": np.tile(np.arange(humans.shape[1]), humans.shape[0]),
        "score": humans.ravel(),
    })
    theirs = timed(
        lambda: pg.intraclass_corr(long, targets="item", raters="rater", ratings="score"),
        args.repeat,
    )
    ratio = statistics.median(theirs) / statistics.median(ours)
    print(f"| judgecal icc_all (all six forms + F-test CIs) | "
          f"{statistics.median(ours) * 1e3:.2f} ms | {min(ours) * 1e3:.2f} ms | "
          f"{max(ours) * 1e3:.2f} ms |")
    print(f"| judgecal icc, one form (ICC(2,1) + F-test CI) | "
          f"{statistics.median(single) * 1e3:.2f} ms | {min(single) * 1e3:.2f} ms | "
          f"{max(single) * 1e3:.2f} ms |")
    print(f"| pingouin {pg.__version__} intraclass_corr (same data) | "
          f"{statistics.median(theirs) * 1e3:.1f} ms | {min(theirs) * 1e3:.1f} ms | "
          f"{max(theirs) * 1e3:.1f} ms |")
    print(f"\nicc speed-up over pingouin (median/median): {ratio:.0f}x for icc_all, "
          f"{statistics.median(theirs) / statistics.median(single):.0f}x for one form")
    check = pg.intraclass_corr(long, targets="item", raters="rater", ratings="score")
    mine = icc_all(humans)
    types = check.set_index("Type")["ICC"]
    theirs_21 = float(types.get("ICC(A,1)", types.get("ICC2", float("nan"))))
    print(f"same ICC(2,1): judgecal {mine['ICC(2,1)'].value:.6f}, pingouin {theirs_21:.6f}")

    if args.scaling:
        print("\n| items x raters | full report (median of 3) |\n|---|---|")
        for n_items, n_raters in ((1_000, 5), (10_000, 5), (100_000, 5), (10_000, 10),
                                  (10_000, 20)):
            h, j = synthetic(n_items, n_raters, seed=1)
            t = table_of(h, j)
            times = timed(lambda t=t: agreement_report(t, judge="judge", settings=settings), 3)
            print(f"| {n_items:,} x {n_raters} | {statistics.median(times):.3f} s |")


if __name__ == "__main__":
    main()
