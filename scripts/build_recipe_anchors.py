#!/usr/bin/env python
"""Build the recipe demo anchor sets from the Stein et al. (DMR 2023) crowd ratings.

Reads the shared data package (``ratings.csv``, ``items.jsonl``, ``criteria.json``,
``PROVENANCE.md``, ``LICENSE``, ``LICENSE.cc-by``) and writes, into ``--out``:

* ``recipes-<criterion>.jsonl`` for every criterion: one anchor set each (format in
  ``anchors/README.md``), consensus rule ``mean``, every rater's score kept;
* ``recipes-scorecard.jsonl``: the six criteria as one scorecard set (format in
  ``docs/scorecards.md``), the same items, ratings, rationales, edge-case notes and split as
  the six sets, so that each criterion's view equals its single-criterion set;
* ``ATTRIBUTION.md`` (CC BY 4.0 notice, list of changes, citation), ``README.md`` (what the
  sets hold and how they were split), and byte-identical copies of ``LICENSE`` and
  ``LICENSE.cc-by``.

The split is by recipe (all five conditions of a recipe go to the same split, so near-
duplicate texts never straddle it): 4 recipes + 1 filler in calibration (21 items), 6
recipes + 1 filler in holdout (31 items). Among all C(10, 4) x 2 assignments, those whose
calibration split covers the spectrum on ``overall`` (at least 3 clearly high, 3 clearly low
and 3 boundary items, as ``judgecal anchors lint`` defines them) come first; among them the
one whose calibration and holdout consensus distributions on ``overall`` are closest is
chosen: smallest maximum absolute difference of the three quartiles, then smallest
two-sample KS statistic, then the alphabetically first recipe tuple. The same split is used
for every criterion. The output is deterministic (stdlib, numpy and pandas only).

Usage::

    uv run python scripts/build_recipe_anchors.py [--source DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = PROJECT_ROOT.parent / "shared" / "data" / "recipes"
DEFAULT_OUT = PROJECT_ROOT / "anchors" / "recipes"

UPSTREAM_REPO = "interactive-cookbook/recipe-generation"
UPSTREAM_COMMIT = "2baf50f28b93e1700292ff1cb0aec5f799a1fc44"
JUDGE_BENCH_COMMIT = "5a0bf500325029efb5dc8adff2c1e991996f0e78"
PAPER = ("Stein, Donatelli & Koller (2023), From Sentence to Action: Splitting AMR Graphs for "
         "Recipe Instructions, DMR 2023, https://aclanthology.org/2023.dmr-1.6/")
SPLIT_CRITERION = "overall"
N_CALIBRATION_RECIPES = 4
CONDITIONS = ("original", "context", "no_context", "dependency", "coref")
#: Short system tag per condition (the long description is in the rationale).
SYSTEM_TAGS = {
    "original": "system:human-written",
    "context": "system:GART5-1",
    "no_context": "system:GART5-0",
    "dependency": "system:dependency-baseline",
    "coref": "system:coref-variant",
    "coherence": "system:filler",
    "grammaticality": "system:filler",
}
FILLER_NOTES = {
    "coherence": ("Filler item, not a system output (upstream 'coherence' filler): a "
                  "human-written recipe with its sentences in scrambled order, a deliberately "
                  "bad text of the attention-check kind; scored by all {n} raters."),
    "grammaticality": ("Filler item, not a system output (upstream 'grammaticality' filler): a "
                       "recipe with deliberately ungrammatical sentences, a text of the "
                       "attention-check kind; scored by all {n} raters."),
}
LICENCE = ("CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/) for the ratings and texts; "
           "the upstream repository also offers Apache-2.0. Copies: LICENSE.cc-by and LICENSE "
           "beside this file; notice and changes in ATTRIBUTION.md.")


def natural_key(text: str) -> tuple:
    return tuple((0, int(t)) if t.isdigit() else (1, t) for t in re.split(r"(\d+)", text)), text


def fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


# --------------------------------------------------------------------------- source


@dataclass
class Source:
    items: list[dict]
    criteria: dict
    ratings: pd.DataFrame
    provenance: str
    path: Path


def read_source(src: Path) -> Source:
    items = [json.loads(line) for line in (src / "items.jsonl").read_text("utf-8").splitlines()
             if line.strip()]
    criteria = json.loads((src / "criteria.json").read_text("utf-8"))
    ratings = pd.read_csv(src / "ratings.csv", dtype={"item_id": str, "rater_id": str,
                                                      "criterion": str})
    provenance = (src / "PROVENANCE.md").read_text("utf-8")
    for commit in (UPSTREAM_COMMIT, JUDGE_BENCH_COMMIT):
        if commit not in provenance and commit not in json.dumps(criteria):
            raise SystemExit(f"commit {commit} not found in the source's provenance")
    if ratings["score"].isna().any():
        raise SystemExit("ratings.csv has missing scores; this script expects none")
    ids = [it["item_id"] for it in items]
    if len(ids) != len(set(ids)) or set(ids) != set(ratings["item_id"]):
        raise SystemExit("items.jsonl and ratings.csv do not hold the same items")
    if ratings.duplicated(["item_id", "rater_id", "criterion"]).any():
        raise SystemExit("ratings.csv has duplicate (item, rater, criterion) rows")
    return Source(items, criteria, ratings, provenance, src)


def design(items: list[dict]) -> tuple[list[str], list[str]]:
    """Recipe ids (sorted) and filler item ids (in file order); checks 10 x 5 + 2."""
    recipes: dict[str, set[str]] = {}
    fillers = []
    for it in items:
        if it["is_filler"]:
            fillers.append(it["item_id"])
        else:
            recipes.setdefault(it["recipe_id"], set()).add(it["condition"])
    if len(fillers) != 2 or len(recipes) != 10 or any(
        conds != set(CONDITIONS) for conds in recipes.values()
    ):
        raise SystemExit("expected 10 recipes x 5 conditions + 2 fillers")
    return sorted(recipes), fillers


def item_stats(source: Source, criterion: str) -> dict[str, dict]:
    """Per item: the ratings (rater -> int score, raters in natural order) and summary."""
    df = source.ratings[source.ratings["criterion"] == criterion]
    if df.empty:
        raise SystemExit(f"no ratings for criterion {criterion!r}")
    out = {}
    for item_id, grp in df.groupby("item_id", sort=False):
        pairs = sorted(zip(grp["rater_id"], grp["score"], strict=True),
                       key=lambda p: natural_key(p[0]))
        scores = np.array([s for _, s in pairs], dtype=float)
        out[item_id] = {
            "ratings": {r: int(s) for r, s in pairs},
            "n": len(pairs),
            "mean": float(scores.mean()),
            "sd": float(scores.std(ddof=1)) if len(scores) > 1 else 0.0,
            "min": float(scores.min()),
            "max": float(scores.max()),
            "counts": {int(k): int(v) for k, v in
                       sorted(pd.Series(scores).value_counts().items())},
        }
    return out


# --------------------------------------------------------------------------- split


def quartiles(values: np.ndarray) -> np.ndarray:
    return np.quantile(values, [0.25, 0.5, 0.75])


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov–Smirnov statistic: max |ECDF_a - ECDF_b|."""
    grid = np.union1d(a, b)
    fa = np.searchsorted(np.sort(a), grid, side="right") / a.size
    fb = np.searchsorted(np.sort(b), grid, side="right") / b.size
    return float(np.max(np.abs(fa - fb)))


@dataclass
class Split:
    calibration_recipes: tuple[str, ...]
    calibration_filler: str
    holdout_recipes: tuple[str, ...]
    holdout_filler: str
    quartile_gap: float
    ks: float
    n_candidates: int

    def split_of(self, item: dict) -> str:
        if item["is_filler"]:
            return "calibration" if item["item_id"] == self.calibration_filler else "holdout"
        return "calibration" if item["recipe_id"] in self.calibration_recipes else "holdout"


def covers_spectrum(values: np.ndarray, scale: tuple[float, float]) -> bool:
    """At least 3 clearly high, 3 clearly low and 3 boundary values.

    The same definition as ``harness.anchors.lint_anchor_set``: top / bottom quarter of the
    scale range, and within 0.5 of the scale midpoint.
    """
    lo, hi = scale
    span = hi - lo
    mid = (lo + hi) / 2
    n_high = int((values >= hi - 0.25 * span).sum())
    n_low = int((values <= lo + 0.25 * span).sum())
    n_boundary = int(((values >= mid - 0.5) & (values <= mid + 0.5)).sum())
    return min(n_high, n_low, n_boundary) >= 3


def choose_split(
    items: list[dict], consensus: dict[str, float], scale: tuple[float, float]
) -> Split:
    """Pick the calibration recipes and filler (see the module docstring for the rule)."""
    recipes, fillers = design(items)
    candidates = []
    for cal_recipes in itertools.combinations(recipes, N_CALIBRATION_RECIPES):
        for cal_filler in fillers:
            cal, hold = [], []
            for it in items:
                in_cal = (it["item_id"] == cal_filler if it["is_filler"]
                          else it["recipe_id"] in cal_recipes)
                (cal if in_cal else hold).append(consensus[it["item_id"]])
            a, b = np.array(cal), np.array(hold)
            gap = float(np.max(np.abs(quartiles(a) - quartiles(b))))
            # rounded so that float noise cannot reorder candidates across platforms
            key = (not covers_spectrum(a, scale), round(gap, 9), round(ks_statistic(a, b), 9),
                   cal_recipes, cal_filler)
            candidates.append(key)
    _, gap, ks, cal_recipes, cal_filler = min(candidates)
    return Split(
        calibration_recipes=cal_recipes,
        calibration_filler=cal_filler,
        holdout_recipes=tuple(r for r in recipes if r not in cal_recipes),
        holdout_filler=next(f for f in fillers if f != cal_filler),
        quartile_gap=gap,
        ks=ks,
        n_candidates=len(candidates),
    )


# --------------------------------------------------------------------------- sets


def criterion_rubric(crit: dict) -> str:
    """The criterion's own part of the rubric: task instruction and statement."""
    statement = f"Statement: {crit['statement']}"
    if crit.get("statement_source_string", statement) != statement:
        raise SystemExit(f"criterion {crit['name']}: statement and source string differ")
    return "\n\n".join([crit["task_instruction"], statement])


def rubric_text(criteria: dict, crit: dict) -> str:
    return "\n\n".join([criteria["general_instruction"], criterion_rubric(crit)])


def attribution_notice(provenance: str) -> str:
    """The CC BY 4.0 §3(a) notice sentence from PROVENANCE.md, unwrapped."""
    m = re.search(r"\*\*Attribution notice \(CC BY 4\.0 §3\(a\)\):\*\* (.*?)\n"
                  r"\*\*Changes made:\*\*", provenance, re.S)
    if not m:
        raise SystemExit("PROVENANCE.md: attribution notice not found")
    return " ".join(m.group(1).split())


def provenance_block(provenance: str) -> str:
    """The notice and list of changes from PROVENANCE.md, verbatim (as wrapped there)."""
    start = provenance.index("**Attribution notice (CC BY 4.0 §3(a)):**")
    end = provenance.index("\n## Citation", start)
    return provenance[start:end].strip("\n")


def bibtex(provenance: str) -> str:
    m = re.search(r"```bibtex\n(.*?)```", provenance, re.S)
    if not m:
        raise SystemExit("PROVENANCE.md: citation not found")
    return m.group(1).rstrip("\n")


def header(source: Source, crit: dict, split: Split) -> dict:
    criteria = source.criteria
    scale = criteria["scale"]
    if crit["scale_labels"] is not None or scale["labels"] is not None:
        raise SystemExit("scale labels were expected to be null (none recorded in the study)")
    verbosity = (" Note: the statement is positively phrased, so a HIGH score means concise "
                 "(NOT verbose)." if crit["name"] == "verbosity" else "")
    description = (
        f"Real crowd ratings from Stein et al. (DMR 2023) of 52 cooking-recipe texts "
        f"(10 recipes x 5 conditions: the human-written original and four automatic "
        f"rewrites by the study's systems, plus 2 filler items) on the statement "
        f"\"{crit['statement']}\", "
        f"by 88 crowd workers (15–20 per text, 88 per filler) on a 1–6 agreement scale. "
        f"The study recorded no labels for the scale points (only that 1 is worst and 6 best), "
        f"so labels are null.{verbosity} Consensus: the mean of the ratings. Split by recipe "
        f"(all conditions of a recipe in one split): calibration = "
        f"{', '.join(split.calibration_recipes)} + filler {split.calibration_filler}; "
        f"holdout = the other 6 recipes + filler {split.holdout_filler}; chosen among all "
        f"C(10,4) x 2 assignments to cover the spectrum and match the consensus quartiles on "
        f"'{SPLIT_CRITERION}'. "
        f"Built by scripts/build_recipe_anchors.py."
    )
    return {
        "judgecal_anchor_set": 1,
        "name": f"recipes-{crit['name']}",
        "criterion": crit["name"],
        "description": description,
        "rubric": rubric_text(criteria, crit),
        "scale": {"min": crit["scale_min"], "max": crit["scale_max"], "labels": None},
        "consensus": "mean",
        "na_allowed": False,
        "source": (f"{UPSTREAM_REPO} @ {UPSTREAM_COMMIT}, crowd-sourcing-evaluation/ (ratings "
                   f"and texts); rater-facing instructions and statement from "
                   f"dmg-illc/JUDGE-BENCH @ {JUDGE_BENCH_COMMIT}, "
                   f"data/recipe_crowd_sourcing_data/questions.json; paper: {PAPER}"),
        "attribution": attribution_notice(source.provenance) + " Changes: see ATTRIBUTION.md.",
        "licence": LICENCE,
    }


def edge_case(item: dict, st: dict, top_decile_sd: float) -> str | None:
    notes = []
    if item["is_filler"]:
        notes.append(FILLER_NOTES[item["condition"]].format(n=st["n"]))
    if st["sd"] >= top_decile_sd:
        dist = ", ".join(f"{score}: {n}" for score, n in st["counts"].items())
        notes.append(f"Raters split: SD {st['sd']:.2f} is in the top decile of the 52 items "
                     f"for this criterion (scores and how many raters gave them: {dist}).")
    return " ".join(notes) or None


def build_items(source: Source, crit_name: str, split: Split) -> list[dict]:
    stats = item_stats(source, crit_name)
    top_decile_sd = float(np.quantile([s["sd"] for s in stats.values()], 0.9))
    rows = []
    for it in source.items:
        st = stats[it["item_id"]]
        tags = [f"condition:{it['condition']}", SYSTEM_TAGS[it["condition"]],
                f"recipe:{it['recipe_id']}"]
        if it["is_filler"]:
            tags.append("filler")
        rows.append({
            "id": it["item_id"],
            "input": f"Cooking instructions for: {it['dish']}",
            "output": it["text"],
            "reference": None,
            "context": None,
            "ratings": st["ratings"],
            "consensus": None,
            "rationale": (f"Mean of {st['n']} crowd ratings {st['mean']:.2f} (SD {st['sd']:.2f}, "
                          f"range {fmt(st['min'])}–{fmt(st['max'])}); condition "
                          f"{it['condition']}: {it['system']}"),
            "edge_case": edge_case(it, st, top_decile_sd),
            "source": (f"{UPSTREAM_REPO} @ {UPSTREAM_COMMIT[:7]}, crowd-sourcing-evaluation "
                       f"(Stein et al., DMR 2023): item {it['item_id']}"),
            "split": split.split_of(it),
            "tags": tags,
        })
    return rows


#: The demo scorecard's choices (not the study's): 'success' is the critical question (a
#: recipe most raters could not cook from fails as a whole), and 'overall', the raters' own
#: summary judgement, is kept as a question but out of the total (weight 0), so that the
#: computed total can be compared with it.
SCORECARD_CRITICAL = "success"
SCORECARD_PASS_MARK = 2.5
SCORECARD_ZERO_WEIGHT = "overall"


def scorecard_header(source: Source, crits: dict[str, dict], split: Split) -> dict:
    """The scorecard's header: the six criteria, each with its own rubric and scale."""
    base = header(source, crits[SPLIT_CRITERION], split)
    criteria = []
    for name, crit in crits.items():
        if crit["scale_labels"] is not None:
            raise SystemExit("scale labels were expected to be null")
        entry = {
            "id": name,
            "label": crit["statement"],
            "rubric": criterion_rubric(crit),
            "scale": {"min": crit["scale_min"], "max": crit["scale_max"], "labels": None},
            "na_allowed": False,
            "weight": 0 if name == SCORECARD_ZERO_WEIGHT else 1,
            "critical": name == SCORECARD_CRITICAL,
        }
        if name == SCORECARD_CRITICAL:
            entry["pass_mark"] = SCORECARD_PASS_MARK
        criteria.append(entry)
    description = (
        "The six criteria of the recipe study (Stein et al., DMR 2023) as one scorecard: the "
        "same 52 texts, crowd ratings, consensus rule (mean) and calibration/holdout split as "
        "the six single-criterion sets recipes-<criterion>.jsonl, so each criterion's view "
        "equals its set. The study rated each statement separately and defined no total; the "
        f"total here is a demo choice: '{SCORECARD_CRITICAL}' is critical (a consensus below "
        f"{fmt(SCORECARD_PASS_MARK)} on 1-6 fails the text), '{SCORECARD_ZERO_WEIGHT}' (the "
        "raters' own summary) has weight 0, the other five weight 1. "
        "Built by scripts/build_recipe_anchors.py."
    )
    return {
        "judgecal_anchor_set": 1,
        "name": "recipes-scorecard",
        "description": description,
        "rubric": source.criteria["general_instruction"],
        "criteria": criteria,
        "consensus": "mean",
        "source": base["source"],
        "attribution": base["attribution"],
        "licence": base["licence"],
    }


def scorecard_items(per_criterion: dict[str, list[dict]]) -> list[dict]:
    """One item per text, with every criterion's ratings, rationale and edge-case note."""
    names = list(per_criterion)
    rows = []
    for parts in zip(*per_criterion.values(), strict=True):
        first = parts[0]
        if any(p["id"] != first["id"] or p["split"] != first["split"] for p in parts):
            raise SystemExit("the criteria's items are not in the same order")
        rows.append({
            "id": first["id"],
            "input": first["input"],
            "output": first["output"],
            "reference": None,
            "context": None,
            "ratings": {n: p["ratings"] for n, p in zip(names, parts, strict=True)},
            "consensus": {},
            "rationale": {n: p["rationale"] for n, p in zip(names, parts, strict=True)},
            "edge_case": {n: p["edge_case"] for n, p in zip(names, parts, strict=True)},
            "source": first["source"],
            "split": first["split"],
            "tags": first["tags"],
        })
    return rows


def scorecard_summary(source: Source) -> dict:
    """The demo total's consensus per item, computed here from the means (a cross-check of
    ``harness.anchors``' own total): 0 when the critical criterion's mean is below the pass
    mark, else the mean of ``(mean - min) / (max - min)`` over the criteria of weight 1."""
    crits = [c for c in source.criteria["criteria"]]
    means = {c["name"]: item_stats(source, c["name"]) for c in crits}
    totals = []
    n_critical = 0
    for it in source.items:
        iid = it["item_id"]
        if means[SCORECARD_CRITICAL][iid]["mean"] < SCORECARD_PASS_MARK:
            n_critical += 1
            totals.append(0.0)
            continue
        units = [(means[c["name"]][iid]["mean"] - c["scale_min"])
                 / (c["scale_max"] - c["scale_min"])
                 for c in crits if c["name"] != SCORECARD_ZERO_WEIGHT]
        totals.append(float(np.mean(units)))
    q = " / ".join(f"{v:.2f}" for v in quartiles(np.array(totals)))
    return {"n_critical": n_critical, "quartiles": q, "totals": totals}


def dump_jsonl(path: Path, head: dict, rows: list[dict]) -> None:
    lines = [json.dumps(head, ensure_ascii=False)]
    lines += [json.dumps(r, ensure_ascii=False) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")


# --------------------------------------------------------------------------- docs


def attribution_md(source: Source, names: list[str]) -> str:
    files = ", ".join(f"`{n}`" for n in names)
    return f"""# Attribution: recipe anchor sets

The anchor sets in this folder ({files}) are built by `scripts/build_recipe_anchors.py`
from the judgecal shared data package `data/recipes/`, which itself packages the crowd ratings
and recipe texts of {UPSTREAM_REPO} @ `{UPSTREAM_COMMIT}`.

## Attribution notice and changes (as required by the source package, verbatim)

{provenance_block(source.provenance)}

## Further changes made here (`scripts/build_recipe_anchors.py`)

- One file per criterion: only that criterion's scores, regrouped per item into a `ratings`
  object keyed by the original anonymised rater ids (`participant_N`). No score was altered,
  added or dropped.
- `recipes-scorecard.jsonl` holds the same scores, per item and criterion (`ratings` keyed by
  criterion, then rater), with the same added fields per criterion. Its weights, the critical
  criterion and the pass mark are choices of this demo, not of the study.
- The rater columns `list_number`, `presentation_order`, `rater_experience` and
  `rater_time_s`, and the item fields `lists`, `reported_in_paper`, `text_source` and
  `recipe_texts_file`, were not carried over.
- Added per item: `input`, a task line made from the dish name ("Cooking instructions for:
  <dish>"); `rationale`, a line computed from the ratings (count, mean, SD, range) with the
  condition and its description; `edge_case`, a note on the two filler items and on items whose
  rater SD is in the top decile for the criterion (null otherwise); `tags` (condition, a short
  system tag, recipe, `filler`); `source` (upstream reference and item id); and `split`
  (calibration or holdout, by recipe; see `README.md`).
- The recipe texts (`output`) are those of the source package unchanged.
- Added a header per set: `rubric` is the study's general instruction, task instruction and the
  criterion's statement, verbatim, joined by blank lines; the scale is 1–6 with no point labels
  (none were recorded in the study); consensus rule `mean`.

## Licence

`LICENSE` (Apache-2.0) and `LICENSE.cc-by` (CC BY 4.0) here are byte-identical copies of the
upstream licence files. The upstream repository does not say which licence covers which part;
on the usual reading (Apache-2.0 for code, CC BY 4.0 for data and text) the ratings and texts
here are under CC BY 4.0. The texts of the `original` condition are human-written web recipes
from the ARA corpus, and the generated texts derive from them; rights in those underlying
recipes were not checked. The instruction sentences and statements in each `rubric` are the
study's own wording, taken from JUDGE-BENCH @ `{JUDGE_BENCH_COMMIT}` (which has no licence) and
quoted for documentation.

## Citation

```bibtex
{bibtex(source.provenance)}
```
"""


def readme_md(source: Source, split: Split, summary: dict[str, dict],
              scorecard: dict | None = None) -> str:
    rows = []
    for name, s in summary.items():
        cq = " / ".join(f"{q:.2f}" for q in s["cal_q"])
        hq = " / ".join(f"{q:.2f}" for q in s["hold_q"])
        rows.append(f"| `recipes-{name}.jsonl` | {cq} | {hq} | {s['n_edge']} |")
    table = "\n".join(rows)
    cal = ", ".join(f"`{r}`" for r in split.calibration_recipes)
    hold = ", ".join(f"`{r}`" for r in split.holdout_recipes)
    sc_line = ""
    if scorecard is not None:
        sc_line = (f"{scorecard['n_critical']} of the 52 texts fail `{SCORECARD_CRITICAL}`; "
                   f"the total's consensus\nquartiles (both splits) are "
                   f"{scorecard['quartiles']}.")
    return f"""# Recipe anchor sets (demo, real crowd ratings)

Generated by `scripts/build_recipe_anchors.py`; do not edit by hand. Source, licence and
changes: `ATTRIBUTION.md`.

Each set holds 52 recipe texts (10 recipes x 5 conditions + 2 fillers) rated by crowd workers
(15–20 per text, 88 per filler) on a 1–6 agreement scale for one criterion of Stein et al.
(DMR 2023). The consensus is the mean of the ratings (rule `mean`); every rater's score is
kept. The scale points had no labels in the study, so `labels` is null.

`recipes-scorecard.jsonl` holds the six criteria as one scorecard (format:
`docs/scorecards.md`): the same items, ratings, rationales, edge-case notes and split, so each
criterion's view (`load_scorecard(...).criterion("grammar")`) equals `recipes-grammar.jsonl`.
The study defined no total. The demo's total (a choice made here, not the study's) averages
the 0–1 shares of the criteria of weight 1, all but `{SCORECARD_ZERO_WEIGHT}` (the raters' own
summary, weight 0), and is 0 for a text whose consensus on the critical criterion
`{SCORECARD_CRITICAL}` is below {fmt(SCORECARD_PASS_MARK)}.
{sc_line}

## Split

By recipe, so that the five near-identical versions of a recipe never straddle the split:

- calibration (21 items): {cal} and the filler `{split.calibration_filler}`;
- holdout (31 items): {hold} and the filler `{split.holdout_filler}`.

Chosen among all {split.n_candidates} assignments (C(10,4) recipe sets x which filler goes to
calibration). Assignments whose calibration split covers the spectrum on `{SPLIT_CRITERION}`
(at least 3 clearly high items, consensus >= 4.75; 3 clearly low, <= 2.25; 3 boundary,
3.0–4.0; the definitions of `judgecal anchors lint`) come first; among them, the one whose
calibration and holdout `{SPLIT_CRITERION}` consensus distributions are closest: smallest
maximum absolute difference of the quartiles (here {split.quartile_gap:.3f}), then smallest
two-sample KS statistic (here {split.ks:.3f}), then the alphabetically first recipe set. The
same split is used for every criterion (so the spectrum is only guaranteed for
`{SPLIT_CRITERION}`).

Consensus quartiles (Q1 / median / Q3) per split, and the number of items with an `edge_case`
note (the 2 fillers plus the items whose rater SD is in the top decile):

| set | calibration | holdout | edge-case notes |
| --- | --- | --- | --- |
{table}
"""


# --------------------------------------------------------------------------- main


def build(src: Path, out: Path) -> dict:
    """Write every set and document into ``out``; return a summary."""
    source = read_source(src)
    crits = {c["name"]: c for c in source.criteria["criteria"]}
    split_stats = item_stats(source, SPLIT_CRITERION)
    scale = (float(source.criteria["scale"]["min"]), float(source.criteria["scale"]["max"]))
    split = choose_split(source.items, {k: v["mean"] for k, v in split_stats.items()}, scale)
    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, dict] = {}
    names = []
    per_criterion: dict[str, list[dict]] = {}
    for name, crit in crits.items():
        rows = build_items(source, name, split)
        per_criterion[name] = rows
        fname = f"recipes-{name}.jsonl"
        dump_jsonl(out / fname, header(source, crit, split), rows)
        names.append(fname)
        stats = item_stats(source, name)
        cal = np.array([stats[r["id"]]["mean"] for r in rows if r["split"] == "calibration"])
        hold = np.array([stats[r["id"]]["mean"] for r in rows if r["split"] == "holdout"])
        summary[name] = {"cal_q": quartiles(cal), "hold_q": quartiles(hold),
                         "n_edge": sum(1 for r in rows if r["edge_case"])}
    dump_jsonl(out / "recipes-scorecard.jsonl", scorecard_header(source, crits, split),
               scorecard_items(per_criterion))
    names.append("recipes-scorecard.jsonl")
    for lic in ("LICENSE", "LICENSE.cc-by"):
        shutil.copyfile(src / lic, out / lic)
    (out / "ATTRIBUTION.md").write_text(attribution_md(source, names), "utf-8", newline="\n")
    (out / "README.md").write_text(readme_md(source, split, summary, scorecard_summary(source)),
                                   "utf-8", newline="\n")
    return {"split": split, "summary": summary, "files": names}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE,
                        help=f"shared recipes data directory (default: {DEFAULT_SOURCE})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"output directory (default: {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    if not (args.source / "ratings.csv").is_file():
        parser.error(f"{args.source} has no ratings.csv")
    result = build(args.source, args.out)
    split: Split = result["split"]
    print(f"wrote {len(result['files'])} sets to {args.out}")
    print(f"calibration: {', '.join(split.calibration_recipes)} + {split.calibration_filler}")
    print(f"holdout:     {', '.join(split.holdout_recipes)} + {split.holdout_filler}")
    print(f"quartile gap {split.quartile_gap:.3f}, KS {split.ks:.3f} "
          f"({split.n_candidates} candidates)")
    for name, s in result["summary"].items():
        print(f"  {name:10s} Q calibration {np.round(s['cal_q'], 2)}  holdout "
              f"{np.round(s['hold_q'], 2)}  edge notes {s['n_edge']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
