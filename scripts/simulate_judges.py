#!/usr/bin/env python
"""Write an anchor set's human ratings as a long CSV, plus three *simulated* LLM judges.

No recorded LLM judgments ship with the demo data, so this script makes some for showing
``judgecal agree --judges PREFIX`` (the leaderboard in README.md). The judges are not
models: each is the item's human consensus (the mean of its ratings) plus seeded noise,
rounded to the scale and clipped to it:

* ``sim-close``:   consensus + N(0, 0.5)
* ``sim-lenient``: consensus + 1 + N(0, 0.5) (a constant offset: ranks kept, ICC and MAE hit)
* ``sim-noisy``:   consensus + N(0, 2.0)

The output has ``item_id,rater_id,score`` (``NA`` kept as ``NA``), the humans first in file
order, then the judges. The output is deterministic for a given seed (stdlib and numpy).

Usage::

    uv run python scripts/simulate_judges.py [--anchors anchors/recipes/recipes-overall.jsonl]
                                             [--out judges.csv] [--seed 0]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

#: Judge id -> (offset, noise SD) around the consensus.
JUDGES = {"sim-close": (0.0, 0.5), "sim-lenient": (1.0, 0.5), "sim-noisy": (0.0, 2.0)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--anchors", type=Path, default=Path("anchors/recipes/recipes-overall.jsonl"))
    ap.add_argument("--out", type=Path, default=Path("judges.csv"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    lines = args.anchors.read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    lo, hi = header["scale"]["min"], header["scale"]["max"]
    items = [json.loads(line) for line in lines[1:] if line.strip()]
    rng = np.random.default_rng(args.seed)
    rows: list[tuple[str, str, str]] = []
    consensus: dict[str, float] = {}
    for it in items:
        numeric = [v for v in it["ratings"].values() if isinstance(v, int | float)]
        rows += [(it["id"], r, "NA" if v == "NA" else f"{v:g}")
                 for r, v in it["ratings"].items() if v is not None]
        consensus[it["id"]] = (it["consensus"] if it.get("consensus") is not None
                               else float(np.mean(numeric)))
    for judge, (offset, sd) in JUDGES.items():
        for it in items:
            score = consensus[it["id"]] + offset + rng.normal(0.0, sd)
            rows.append((it["id"], judge, f"{int(np.clip(np.floor(score + 0.5), lo, hi))}"))
    with args.out.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["item_id", "rater_id", "score"])
        w.writerows(rows)
    print(f"wrote {args.out}: {len(items)} items, {len(JUDGES)} simulated judges "
          f"({', '.join(JUDGES)}), seed {args.seed}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
