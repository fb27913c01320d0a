r"""Corrected population estimates: do their 95% intervals cover the truth? (``judgecal estimate``)

Run from the project root::

    uv run python benchmarks/bench_estimate.py           # 1,000 replications per row (~1 min)
    uv run python benchmarks/bench_estimate.py --quick   # 200 per row
    uv run python benchmarks/bench_estimate.py --json out.json

Prints Markdown tables; ``benchmarks/README.md`` ("Corrected estimates") records the figures.

Simulated populations
---------------------
A population of 200,000 items, each with a human consensus ``Y = clip(N(3.4, 1.1), 1, 6)``
(a 1-6 scale like the demo anchors) and a judge score ``f``, rounded to the scale and clipped:

* ``biased``: ``f = Y + 0.7 + N(0, 0.6)`` (a good judge, 0.7 too lenient);
* ``compressed``: ``f = 3.5 + 0.4 (Y - 3.5) + 0.3 + N(0, 0.5)`` (hedges to the middle);
* ``noisy``: ``f = Y + N(0, 1.5)`` (unbiased but poor);
* ``useless``: ``f`` independent of ``Y`` (``N(4, 1)``).

Each replication draws ``n`` anchors (with ``Y``) and ``N = 2,000`` production items (judge
score only) with replacement; the truth is the population's mean of ``Y`` and its share with
``Y >= 4``. Reported: the share of replications whose 95% CI covers the truth, the mean CI
width, and for the corrected mean the median effective labels.

Real ratings
------------
No recorded LLM judgments of the demo anchors ship with the project (``../shared`` holds the
crowd ratings only), so the real-data check uses real ratings as the judge on the 52 recipe
texts of ``anchors/recipes/recipes-overall.jsonl`` (15-20 crowd ratings each), whose truth is
the mean of their 'overall' consensus: the "judge" of an item is one of its crowd ratings
drawn at random (``one rating``: a real, noisy annotator), or its consensus on another
question (``fluency``, ``grammar``: a real, correlated but systematically different score).
Production is all 52 texts (judge scores only); each replication draws ``n`` anchors from
them with replacement.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.estimate import (  # noqa: E402
    classical_mean,
    effective_labels,
    naive_mean,
    naive_pass_rate,
    ppi_mean,
    ppi_plusplus_mean,
    rogan_gladen,
    sensitivity_specificity,
)

PASS_AT = 4.0
BIG_N = 2000


def population(kind: str, rng: np.random.Generator, size: int = 200_000):
    y = np.clip(rng.normal(3.4, 1.1, size), 1, 6)
    if kind == "biased":
        f = y + 0.7 + rng.normal(0, 0.6, size)
    elif kind == "compressed":
        f = 3.5 + 0.4 * (y - 3.5) + 0.3 + rng.normal(0, 0.5, size)
    elif kind == "noisy":
        f = y + rng.normal(0, 1.5, size)
    elif kind == "useless":
        f = rng.normal(4, 1, size)
    else:
        raise ValueError(kind)
    return y, np.clip(np.round(f), 1, 6)


def _cover(ci, value) -> bool:
    return ci is not None and ci[0] <= value <= ci[1]


def simulate(kind: str, n: int, sims: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    y, f = population(kind, rng)
    theta, p_true = float(y.mean()), float((y >= PASS_AT).mean())
    rows: dict[str, list] = {k: [] for k in ("naive", "humans", "ppi", "ppi++", "pass_naive",
                                             "pass_rg")}
    neff, undefined = [], 0
    for _ in range(sims):
        lab = rng.integers(0, y.size, n)
        unl = rng.integers(0, y.size, BIG_N)
        yl, fl, fu = y[lab], f[lab], f[unl]
        for name, est in (("naive", naive_mean(fu)), ("humans", classical_mean(yl)),
                          ("ppi", ppi_mean(yl, fl, fu)), ("ppi++", ppi_plusplus_mean(yl, fl, fu))):
            rows[name].append((_cover(est.ci, theta), est.ci[1] - est.ci[0]))
            if name == "ppi++":
                neff.append(effective_labels(yl, est))
        x = int((fu >= PASS_AT).sum())
        pn = naive_pass_rate(x, BIG_N)
        rows["pass_naive"].append((_cover(pn.ci, p_true), pn.ci[1] - pn.ci[0]))
        rg = rogan_gladen(x, BIG_N, *sensitivity_specificity(yl >= PASS_AT, fl >= PASS_AT))
        if rg.rate is None:
            undefined += 1
        else:
            rows["pass_rg"].append((_cover(rg.ci, p_true), rg.ci[1] - rg.ci[0]))
    out = {"judge": kind, "n": n, "N": BIG_N, "sims": sims, "truth_mean": theta,
           "truth_pass": p_true, "median_effective_labels": float(np.median(neff)),
           "rg_undefined": undefined}
    for name, vals in rows.items():
        arr = np.array(vals, dtype=float).reshape(-1, 2)
        out[name] = {"coverage": float(arr[:, 0].mean()) if len(arr) else None,
                     "width": float(arr[:, 1].mean()) if len(arr) else None}
    return out


def real_ratings(judge: str, n: int, sims: int, seed: int) -> dict:
    from harness.anchors import load_anchor_set

    aset = load_anchor_set(ROOT / "anchors/recipes/recipes-overall.jsonl")
    cons = aset.consensus()
    ids = [it.id for it in aset.items]
    y = np.array([cons[i] for i in ids], dtype=float)
    ratings = [np.array([v for v in it.ratings.values() if v is not None], dtype=float)
               for it in aset.items]
    other = None
    if judge != "one rating":
        other_set = load_anchor_set(ROOT / f"anchors/recipes/recipes-{judge}.jsonl")
        oc = other_set.consensus()
        other = np.array([oc[i] for i in ids], dtype=float)
    rng = np.random.default_rng(seed)
    theta = float(y.mean())
    hits = {"naive": 0, "humans": 0, "ppi": 0, "ppi++": 0}
    widths: dict[str, list[float]] = {k: [] for k in hits}
    for _ in range(sims):
        f = other if other is not None else np.array(
            [r[rng.integers(0, r.size)] for r in ratings])
        lab = rng.integers(0, len(ids), n)
        for name, est in (("naive", naive_mean(f)), ("humans", classical_mean(y[lab])),
                          ("ppi", ppi_mean(y[lab], f[lab], f)),
                          ("ppi++", ppi_plusplus_mean(y[lab], f[lab], f))):
            hits[name] += _cover(est.ci, theta)
            widths[name].append(est.ci[1] - est.ci[0])
    return {"judge": judge, "n": n, "N": len(ids), "sims": sims, "truth_mean": theta,
            **{k: {"coverage": hits[k] / sims, "width": float(np.mean(widths[k]))}
               for k in hits}}


def _pct(x) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="200 replications per row")
    ap.add_argument("--sims", type=int, default=None)
    ap.add_argument("--seed", type=int, default=20240)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    sims = args.sims or (200 if args.quick else 1000)
    t0 = time.perf_counter()
    results = []
    for kind in ("biased", "compressed", "noisy", "useless"):
        for n in (30, 52, 100, 200):
            results.append(simulate(kind, n, sims, args.seed + n))
    real = [real_ratings(judge, n, sims, args.seed + n)
            for judge in ("one rating", "fluency", "grammar") for n in (15, 30)]
    elapsed = time.perf_counter() - t0

    print(f"Simulated populations, N = {BIG_N} production items, {sims} replications per "
          "row; coverage of the 95% CI (mean width)\n")
    print("| judge | n anchors | naive mean | humans only | PPI | PPI++ | median n_eff "
          "(PPI++) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        cells = [f"{_pct(r[k]['coverage'])} ({r[k]['width']:.3f})"
                 for k in ("naive", "humans", "ppi", "ppi++")]
        print(f"| {r['judge']} | {r['n']} | {' | '.join(cells)} | "
              f"{r['median_effective_labels']:.0f} |")
    print(f"\nPass rate (consensus >= {PASS_AT:g}): coverage of the 95% CI (mean width)\n")
    print("| judge | n anchors | naive (Wilson) | Rogan-Gladen | RG undefined |")
    print("|---|---:|---:|---:|---:|")
    for r in results:
        rg = r["pass_rg"]
        rg_cell = "—" if rg["coverage"] is None else f"{_pct(rg['coverage'])} ({rg['width']:.3f})"
        print(f"| {r['judge']} | {r['n']} | {_pct(r['pass_naive']['coverage'])} "
              f"({r['pass_naive']['width']:.3f}) | {rg_cell} | {r['rg_undefined']} |")
    print("\nReal ratings (recipes-overall's 52 texts): coverage of their mean consensus "
          f"{real[0]['truth_mean']:.3f} (mean width)\n")
    print("| judge | n anchors | naive mean | humans only | PPI | PPI++ |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in real:
        cells = [f"{_pct(r[k]['coverage'])} ({r[k]['width']:.3f})"
                 for k in ("naive", "humans", "ppi", "ppi++")]
        print(f"| {r['judge']} | {r['n']} | {' | '.join(cells)} |")
    print(f"\n{elapsed:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"simulated": results, "real": real}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
