"""Benchmark the agreement engine at crowd scale: rater encodings, cost per rating, memory.

Run from the project root:

    uv run python benchmarks/bench_crowd.py                 # everything, up to 1M ratings
    uv run python benchmarks/bench_crowd.py --parts a       # one part
    uv run python benchmarks/bench_crowd.py --max-ratings 100000

Figures are ratios against a baseline measured in the same run (no absolute targets):

(a) the same ratings encoded as the original raters vs one-shot raters (one rater id per
    rating): the recipe demo (52 texts x 88 crowd raters vs 52 x 1,056) and the shape of
    issue 15 (1,056 items x 3 raters vs 1,056 x 3,168). Target: one-shot <= 3x.
(b) cost per rating from 10,000 to 1,000,000 ratings (items x 10 raters: 9 humans and a
    judge, synthetic, seeded), load + report + JSON in a fresh process each. Target: the
    cost per rating at 1M within 1.5x of the cost at 10k (linear).
(c) peak memory (ru_maxrss) of ``judgecal agree FILE --judge judge --json`` on 1M ratings,
    and of the same command with the JSON written by ``json.dumps`` instead of rich's
    ``Console.print_json``. Target: under 2 GiB.
(d) the scaling curve of (b) as a Markdown table (``benchmarks/README.md``, "Crowd scale").
(e) the leaderboard of 3 judges on 100,000 items (9 humans each, the default 1,000
    resamples), in a fresh process: peak RSS of ``leaderboard_from_scores`` and the
    tracemalloc peak of one ``paired_difference`` (the paired bootstrap of two judges).
    Run it with ``PYTHONPATH=<an older checkout>`` to measure the code before a change.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

#: BLAS threads, pinned before numpy loads (both encodings alike; subprocesses inherit it):
#: on a shared 2-core machine OpenBLAS's threads fight the other processes for the cores,
#: and the kernels ran 3-4x slower unpinned under load, the small encoding's share of BLAS
#: differing from the large one's. Set OPENBLAS_NUM_THREADS yourself to measure otherwise.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402 - after the thread pinning
from _timing import timed  # noqa: E402

from harness.anchors import RatingsTable, open_ratings  # noqa: E402
from harness.reports import ReportSettings, agreement_report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ROOT / "anchors" / "recipes" / "recipes-overall.jsonl"
SIZES = (10_000, 30_000, 100_000, 300_000, 1_000_000)
RATERS = 10  # per item: 9 humans and the judge


# --------------------------------------------------------------------------- (a) encodings


def one_shot(table: RatingsTable) -> RatingsTable:
    """The same ratings with one rater id per rating (item order, then column order)."""
    rows, cols = np.nonzero(~np.isnan(table.scores))
    scores = np.full((len(table.item_ids), rows.size), np.nan)
    scores[rows, np.arange(rows.size)] = table.scores[rows, cols]
    return RatingsTable(list(table.item_ids), [f"once-{k}" for k in range(rows.size)], scores,
                        np.zeros(scores.shape, dtype=bool), table.consensus, table.scale,
                        table.source + " (one-shot raters)")


def simulated_judge(table: RatingsTable, seed: int = 0) -> np.ndarray:
    """The humans' mean per item plus seeded noise, rounded onto the scale."""
    lo, hi = table.scale or (np.nanmin(table.scores), np.nanmax(table.scores))
    mean = np.nanmean(table.scores, axis=1)
    noise = np.random.default_rng(seed).normal(0.0, 0.8, mean.size)
    return np.clip(np.rint(mean + noise), lo, hi)


def crossed(n_items: int, n_raters: int, seed: int = 0) -> RatingsTable:
    """Scores 1-6 of every item by every rater, around a latent truth."""
    rng = np.random.default_rng(seed)
    truth = rng.normal(3.5, 1.0, n_items)
    scores = np.clip(np.rint(truth[:, None] + rng.normal(0, 0.8, (n_items, n_raters))), 1, 6)
    return RatingsTable([f"item-{i}" for i in range(n_items)],
                        [f"rater-{j}" for j in range(n_raters)], scores,
                        np.zeros(scores.shape, dtype=bool), None, (1.0, 6.0), "synthetic")


def report_seconds(table: RatingsTable, judge: np.ndarray, repeat: int) -> list[float]:
    """Wall times of the full report (with the judge) and its JSON document."""
    settings = ReportSettings()
    return timed(lambda: agreement_report(table, judge_scores=judge, settings=settings)
                 .to_dict(), repeat)


def part_a(repeat: int) -> None:
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print("\n(a) the same ratings, two encodings of the raters: report + JSON, median of "
          f"{repeat}\n")
    print("| ratings | encoding | items x raters | ceiling | median | min-max | ratio |")
    print("|---|---|---|---|---|---|---|")
    demo = open_ratings(RECIPES)
    pairs = [("recipe demo (overall)", demo), ("issue 15 shape (synthetic, 1-6)",
                                               crossed(1_056, 3))]
    for label, few in pairs:
        judge = simulated_judge(few)
        base = None
        for name, table in (("original raters", few), ("one-shot raters", one_shot(few))):
            times = report_seconds(table, judge, repeat)
            t = statistics.median(times)
            base = base or t
            rep = agreement_report(table, judge_scores=judge,
                                   settings=ReportSettings(n_resamples=0))
            method = rep.judge["ceiling_method"] if rep.judge else "-"
            shape = f"{len(table.item_ids):,} x {len(table.rater_ids):,}"
            print(f"| {label} | {name} | {shape} | {method} | {t:.2f} s | "
                  f"{min(times):.2f}-{max(times):.2f} s | {t / base:.2f}x |")


# --------------------------------------------------------------------------- (b, d) scaling


def write_ratings(path: Path, n_items: int, seed: int = 0) -> None:
    """A long CSV of ``n_items`` x 10 ratings: 9 humans (1-5) and a judge."""
    rng = np.random.default_rng(seed)
    truth = rng.normal(3.0, 1.0, n_items)
    humans = np.clip(np.rint(truth[:, None] + rng.normal(0, 0.7, (n_items, RATERS - 1))), 1, 5)
    judge = np.clip(np.rint(truth + rng.normal(0.2, 0.8, n_items)), 1, 5)
    scores = np.column_stack([humans, judge]).astype(int)
    raters = [f"human-{k}" for k in range(RATERS - 1)] + ["judge"]
    with path.open("w", encoding="utf-8") as fh:
        fh.write("item_id,rater_id,score\n")
        for i in range(n_items):
            fh.writelines(f"item-{i},{r},{s}\n" for r, s in zip(raters, scores[i], strict=True))


#: One library run in a fresh process: load the CSV, build the report with the judge, dump
#: the JSON; prints seconds per stage and the peak resident memory.
LIBRARY_RUN = textwrap.dedent("""
    import json, resource, sys, time
    from harness.anchors import load_ratings
    from harness.reports import ReportSettings, agreement_report
    t0 = time.perf_counter()
    table = load_ratings(sys.argv[1])
    t1 = time.perf_counter()
    rep = agreement_report(table, judge="judge", settings=ReportSettings())
    t2 = time.perf_counter()
    text = json.dumps(rep.to_dict(), indent=2, ensure_ascii=False)
    t3 = time.perf_counter()
    print(json.dumps({"load": t1 - t0, "report": t2 - t1, "json": t3 - t2,
                      "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
""")


def library_run(path: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", LIBRARY_RUN, str(path)], check=True,
                         capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def part_b(workdir: Path, max_ratings: int) -> None:
    print(f"\n(b, d) cost per rating, items x {RATERS} ratings (9 humans + judge), load + "
          "report + JSON, one fresh process each\n")
    print("| ratings | items | load | report | JSON | total | per rating | vs 10k | peak RSS |")
    print("|---|---|---|---|---|---|---|---|---|")
    base = None
    for n in (s for s in SIZES if s <= max_ratings):
        path = workdir / f"ratings-{n}.csv"
        write_ratings(path, n // RATERS)
        r = library_run(path)
        total = r["load"] + r["report"] + r["json"]
        per = total / n * 1e6
        base = base or per
        print(f"| {n:,} | {n // RATERS:,} | {r['load']:.2f} s | {r['report']:.2f} s | "
              f"{r['json']:.2f} s | {total:.2f} s | {per:.1f} µs | {per / base:.2f}x | "
              f"{r['maxrss_kb'] / 1024:.0f} MB |")


# --------------------------------------------------------------------------- (e) leaderboard

#: The leaderboard of 3 judges in a fresh process: seconds and peak memory (JSON line).
LEADERBOARD_RUN = textwrap.dedent("""
    import json, resource, sys, time, tracemalloc
    import numpy as np
    from harness.anchors import RatingsTable
    from harness.reports import (ReportSettings, leaderboard_from_scores,
                                 like_for_like_references, paired_difference)
    from harness.reports._agreement import _rater_rows
    n = int(sys.argv[1])
    rng = np.random.default_rng(0)
    truth = rng.normal(3.0, 1.0, n)
    humans = np.clip(np.rint(truth[:, None] + rng.normal(0, 0.7, (n, 9))), 1, 5)
    judges = {f"judge-{k}": np.clip(np.rint(truth + rng.normal(0.1 * k, 0.5 + 0.3 * k, n)),
                                    1, 5) for k in range(3)}
    table = RatingsTable([f"item-{i}" for i in range(n)], [f"human-{j}" for j in range(9)],
                         humans, np.zeros(humans.shape, dtype=bool), None, (1.0, 5.0), "bench")
    refs, _ = like_for_like_references(table, _rater_rows(table, (1.0, 5.0)))
    a, b = judges["judge-0"], judges["judge-1"]
    tracemalloc.start()
    t0 = time.perf_counter()
    paired_difference(a, b, refs, figure="icc", scale=(1.0, 5.0), n_resamples=1000)
    t1 = time.perf_counter()
    pair_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    t2 = time.perf_counter()
    leaderboard_from_scores(table, judges, settings=ReportSettings())
    t3 = time.perf_counter()
    print(json.dumps({"pair_s": t1 - t0, "pair_peak": pair_peak, "board_s": t3 - t2,
                      "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
""")


def part_e(n_items: int) -> None:
    out = subprocess.run([sys.executable, "-c", LEADERBOARD_RUN, str(n_items)], check=True,
                         capture_output=True, text=True, cwd=ROOT)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"\n(e) leaderboard of 3 judges, {n_items:,} items x 9 humans, 1,000 resamples\n")
    print("| step | time | peak memory |\n|---|---|---|")
    print(f"| paired_difference (2 judges, icc) | {r['pair_s']:.2f} s | "
          f"{r['pair_peak'] / 2**20:,.0f} MiB (tracemalloc) |")
    print(f"| leaderboard_from_scores (3 judges, 3 pairs) | {r['board_s']:.2f} s | "
          f"{r['maxrss_kb'] / 1024:,.0f} MB (peak RSS of the process) |")


# --------------------------------------------------------------------------- (c) CLI memory

#: ``judgecal agree`` as installed, in a child process whose peak memory is read back.
CLI_RUN = textwrap.dedent("""
    import resource, subprocess, sys
    subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
    print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
""")

#: The same command with the JSON written by json.dumps (rich's print_json bypassed).
PLAIN_JSON_CLI = textwrap.dedent("""
    import json, sys
    import harness.cli._common as common
    common.out.print_json = lambda text: sys.stdout.write(
        json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\\n")
    from harness.cli import main
    sys.argv = ["judgecal", *sys.argv[1:]]
    main()
""")


def peak_mb(cmd: list[str]) -> float:
    out = subprocess.run([sys.executable, "-c", CLI_RUN, *cmd], check=True,
                         capture_output=True, text=True, cwd=ROOT)
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def part_c(workdir: Path, max_ratings: int) -> None:
    n = max(s for s in SIZES if s <= max_ratings)
    path = workdir / f"ratings-{n}.csv"
    if not path.exists():
        write_ratings(path, n // RATERS)
    args = ["agree", str(path), "--judge", "judge", "--json"]
    print(f"\n(c) peak memory (ru_maxrss) of agree --json on {n:,} ratings "
          f"({path.stat().st_size / 1e6:.0f} MB CSV)\n")
    print("| command | peak RSS |\n|---|---|")
    cli = peak_mb([sys.executable, "-m", "harness.cli", *args])
    print(f"| judgecal {' '.join(args[:1])} FILE --judge judge --json | {cli:,.0f} MB |")
    plain = peak_mb([sys.executable, "-c", PLAIN_JSON_CLI, *args])
    print(f"| the same, JSON written by json.dumps (not rich print_json) | {plain:,.0f} MB |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default="a,b,c", help="comma-separated: a, b, c, e")
    parser.add_argument("--leaderboard-items", type=int, default=100_000)
    parser.add_argument("--max-ratings", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    parts = {p.strip() for p in args.parts.split(",")}
    print(f"python {platform.python_version()}, numpy {np.__version__}, "
          f"{platform.machine()}, {platform.processor() or 'cpu'}, "
          f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}")
    if "a" in parts:
        part_a(args.repeat)
    with tempfile.TemporaryDirectory(prefix="bench-crowd-") as tmp:
        if "b" in parts:
            part_b(Path(tmp), args.max_ratings)
        if "c" in parts:
            part_c(Path(tmp), args.max_ratings)
    if "e" in parts:
        part_e(args.leaderboard_items)


if __name__ == "__main__":
    main()
