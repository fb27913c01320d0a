"""Benchmark drift detection and human calibration sessions (library and web pages).

Run from the project root:

    uv run python benchmarks/bench_sessions.py            # ~35 s on 2 cores
    uv run python benchmarks/bench_sessions.py --quick    # smaller sizes, ~20 s

Everything is synthetic and seeded (no network); files go to a temporary directory.

1. Drift: a long-format CSV stream of N items x 5 raters (1-5 scale, about 10% of cells
   missing, one rater drifting by +1 from 60% of the stream on). Timed: reading it with
   ``load_ratings`` (what ``judgecal drift`` does first), ``detect_drift`` (window 200,
   default step 50), ``DriftReport.to_dict()`` + ``json.dumps`` (the ``--json`` output) and
   ``write_control_charts`` (one PNG per rater, Agg). Peak memory of ``detect_drift`` is
   the tracemalloc peak (Python and numpy allocations), measured in a separate, untimed run.
2. Sessions: an anchor set of N items (about 1 kB of text each, labelled 1-5 scale, 10% of
   items N/A-eligible) and a session of all of them with P participants in a SQLite store.
   Each participant records all their scores in one ``Session.score`` call, then
   ``Session.submit``; on a second session one participant scores item by item (one call,
   one transaction, per item). Then ``review``, ``calibration_log``, one ``resolve_item``
   per flagged item, ``write_anchor_version`` alone and ``mark_resolved``.
3. Web pages (Flask test client on ``create_app``): the participant page while scoring
   (the form, own scores filled in) and in review (everyone's scores), a participant's save
   (POST of the whole form), and the facilitator page in review, before and after the
   flagged items are resolved.

Times are medians of ``--repeat`` runs after one warm-up run unless said otherwise.
Prints Markdown tables; ``benchmarks/README.md`` records the latest figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import shutil
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
from _timing import timed

from harness.anchors import load_ratings
from harness.drift import detect_drift, write_control_charts
from harness.sessions import (
    SessionStore,
    calibration_log,
    review,
    write_anchor_version,
)
from harness.sessions._web import create_app

RATERS = 5
WINDOW = 200
WORDS = ("the sauce", "stir well", "preheat the oven", "season to taste", "a pinch of salt",
         "simmer gently", "until golden", "chopped onions", "fold in", "serve warm")


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def fmt_s(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


# ---------------------------------------------------------------------------- drift


def write_stream(path: Path, n_items: int, n_raters: int, seed: int = 0) -> None:
    """Long-format CSV in stream order; rater r4 drifts by +1 from 60% of the stream on."""
    rng = np.random.default_rng(seed)
    truth = rng.normal(3.0, 1.0, n_items)
    noise = rng.normal(0.0, 0.25, (n_items, n_raters))
    scores = truth[:, None] + noise
    scores[int(0.6 * n_items):, n_raters - 1] += 1.0
    scores = np.clip(np.rint(scores), 1, 5).astype(int)
    present = rng.random((n_items, n_raters)) >= 0.10
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["item_id", "rater_id", "score"])
        for i in range(n_items):
            item = f"item-{i:06d}"
            for j in range(n_raters):
                if present[i, j]:
                    w.writerow([item, f"r{j}", int(scores[i, j])])


def bench_drift(sizes: list[int], repeat: int, tmp: Path) -> None:
    print(f"\n## Drift: N items x {RATERS} raters, window {WINDOW} "
          f"(step {WINDOW // 4}), median of {repeat}\n")
    print("| items | rows | windows | load_ratings (CSV) | detect_drift | peak memory "
          "(tracemalloc) | to_dict + json | control charts (5 PNG) | flagged / alert |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in sizes:
        path = tmp / f"stream-{n}.csv"
        write_stream(path, n, RATERS)
        n_rows = path.read_text(encoding="utf-8").count("\n") - 1
        load_t = timed(lambda path=path: load_ratings(path, scale=(1, 5)), repeat,
                       warmup=False)
        table = load_ratings(path, scale=(1, 5))
        det_t = timed(lambda table=table: detect_drift(table, window=WINDOW), repeat)
        tracemalloc.start()
        report = detect_drift(table, window=WINDOW)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        json_t = timed(lambda report=report: json.dumps(report.to_dict()), repeat)
        chart_dir = tmp / f"charts-{n}"
        chart_t = timed(lambda report=report, d=chart_dir: write_control_charts(report, d),
                        repeat)
        flagged = ", ".join(f"{r} (window {report.first_flag(r)})" for r in report.flagged)
        alert = f"alert at window {report.first_alert}" if report.alert else "no alert"
        print(f"| {n:,} | {n_rows:,} | {len(report.windows):,} | {fmt_s(med(load_t))} | "
              f"{fmt_s(med(det_t))} | {peak / 2**20:.1f} MiB | {fmt_s(med(json_t))} | "
              f"{fmt_s(med(chart_t))} | {flagged or 'none'}; {alert} |")


# ---------------------------------------------------------------------------- sessions


def write_anchor_set(path: Path, n_items: int, seed: int = 0) -> None:
    """N items of about 1 kB of text, 5 raters each, a labelled 1-5 scale."""
    rng = np.random.default_rng(seed)
    header = {
        "judgecal_anchor_set": 1, "name": "bench-sessions", "criterion": "overall",
        "rubric": "Overall, the recipe is well written. " * 5,
        "scale": {"min": 1, "max": 5, "labels": {"1": "poor", "2": "weak", "3": "fair",
                                                  "4": "good", "5": "excellent"}},
        "consensus": "mean", "na_allowed": False, "source": "synthetic benchmark data",
    }
    lines = [json.dumps(header)]
    for i in range(n_items):
        truth = rng.uniform(1, 5)
        ratings = {f"r{j}": int(np.clip(round(truth + rng.normal(0, 0.8)), 1, 5))
                   for j in range(5)}
        words = rng.choice(len(WORDS), size=int(rng.integers(60, 120)))
        lines.append(json.dumps({
            "id": f"item-{i:04d}", "input": f"Write a recipe for dish number {i}.",
            "output": " ".join(WORDS[k] for k in words) + ".",
            "ratings": ratings, "split": "calibration" if i % 2 else "holdout",
        }))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def participant_scores(item_ids: list[str], na_ok: set[str], n_people: int,
                       seed: int = 1) -> list[dict[str, object]]:
    rng = np.random.default_rng(seed)
    truth = rng.uniform(1, 5, len(item_ids))
    hardness = rng.uniform(0.1, 0.9, len(item_ids))  # per-item noise SD
    bias = rng.normal(0, 0.2, n_people)
    out = []
    for p in range(n_people):
        noise = rng.normal(0, 1, len(item_ids)) * hardness
        vals = np.clip(np.rint(truth + bias[p] + noise), 1, 5)
        na = rng.random(len(item_ids)) < 0.05
        out.append({item: ("NA" if item in na_ok and na[i] else float(vals[i]))
                    for i, item in enumerate(item_ids)})
    return out


def kb(n_bytes: int) -> str:
    return f"page {n_bytes / 1024:,.0f} kB"


def get_page(client, url: str) -> Callable[[], int]:
    def run() -> int:
        r = client.get(url)
        assert r.status_code == 200, (url, r.status_code)
        return len(r.data)
    return run


def bench_session(n_items: int, n_people: int, repeat: int, tmp: Path) -> list[tuple]:
    """One size; returns (what, seconds-or-list, note) rows."""
    rows: list[tuple] = []
    work = tmp / f"session-{n_items}x{n_people}"
    work.mkdir()
    aset_path = work / "bench.jsonl"
    write_anchor_set(aset_path, n_items)
    store = SessionStore(work / "state" / "sessions.sqlite")
    people = [(f"p{i:02d}", f"Participant {i}") for i in range(n_people)]
    item_ids = [f"item-{i:04d}" for i in range(n_items)]
    na_items = item_ids[::10]

    # extra draft sessions, only to time create; the measured session is created last
    rows.append(("`SessionStore.create` (loads and hashes the anchor set)",
                 timed(lambda: store.create(aset_path, people, na_items=na_items), repeat),
                 ""))
    session, fac = store.create(aset_path, people, na_items=na_items)
    tokens = {pid: session.invite(pid, fac) for pid, _ in people}
    session.start_scoring(fac)
    table = participant_scores(item_ids, set(na_items), n_people)

    score_t = []
    for (pid, _), scores in zip(people, table, strict=True):
        t0 = time.perf_counter()
        session.score(pid, tokens[pid], scores)
        score_t.append(time.perf_counter() - t0)
    rows.append((f"`score`, all {n_items} items in one call, per participant", score_t,
                 f"median of {n_people} participants"))

    app = create_app(store, session.id)
    app.config["TESTING"] = True
    client = app.test_client()
    p0 = tokens[people[0][0]]
    size = get_page(client, f"/p/{p0}")()
    rows.append(("GET /p/ while scoring (the form, own scores filled in)",
                 timed(get_page(client, f"/p/{p0}"), repeat), kb(size)))
    page = client.get(f"/p/{p0}").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)  # type: ignore[union-attr]
    form = {"csrf": csrf, "action": "save"}
    for item, v in table[0].items():
        if v == "NA":
            form[f"na-{item}"] = "1"
        else:
            form[f"score-{item}"] = f"{v:g}"

    def post_save() -> None:
        r = client.post(f"/p/{p0}", data=form)
        assert r.status_code == 303, r.get_data(as_text=True)[:2000]

    rows.append(("POST /p/ save (the whole form)", timed(post_save, repeat), ""))

    submit_t = []
    for pid, _ in people:
        t0 = time.perf_counter()
        session.submit(pid, tokens[pid])
        submit_t.append(time.perf_counter() - t0)
    rows.append(("`submit`, per participant", submit_t, f"median of {n_people}"))

    # one participant scoring item by item, on a second session of the same set
    s2, fac2 = store.create(aset_path, people[:2], na_items=na_items)
    tok2 = {pid: s2.invite(pid, fac2) for pid, _ in people[:2]}
    s2.start_scoring(fac2)
    pid = people[0][0]
    one_t = []
    for item, v in table[0].items():
        t0 = time.perf_counter()
        s2.score(pid, tok2[pid], {item: v})
        one_t.append(time.perf_counter() - t0)
    rows.append(("`score`, one item per call", one_t,
                 f"median of {n_items} calls; all {n_items}: {fmt_s(sum(one_t))}"))

    session.begin_review(fac)
    rv = review(session)
    flagged = [it.item_id for it in rv.flagged]
    rows.append(("`review(session)`", timed(lambda: review(session), repeat),
                 f"{len(flagged)} of {n_items} flagged"))
    rows.append(("`calibration_log(session)`", timed(lambda: calibration_log(session), repeat),
                 f"{len(calibration_log(session)) / 1024:.0f} kB of Markdown"))
    f_url = f"/f/{fac}"
    size = get_page(client, f_url)()
    rows.append(("GET /f/ in review, nothing resolved yet",
                 timed(get_page(client, f_url), repeat), kb(size)))
    size = get_page(client, f"/p/{p0}")()
    rows.append(("GET /p/ in review (everyone's scores)",
                 timed(get_page(client, f"/p/{p0}"), repeat), kb(size)))

    res_t = []
    for it in rv.flagged:
        t0 = time.perf_counter()
        session.resolve_item(it.item_id, fac, consensus=round(it.median or 3.0),
                             rationale="agreed in the discussion")
        res_t.append(time.perf_counter() - t0)
    rows.append(("`resolve_item`, per flagged item", res_t,
                 f"median of {len(res_t)}; all: {fmt_s(sum(res_t))}"))
    size = get_page(client, f_url)()
    rows.append(("GET /f/ in review, every flagged item resolved",
                 timed(get_page(client, f_url), repeat), kb(size)))

    outs = iter(work / f"direct-{i}.jsonl" for i in range(repeat + 1))
    rows.append(("`write_anchor_version` alone",
                 timed(lambda: write_anchor_version(session, next(outs)), repeat),
                 "writes the file and re-reads it"))
    t0 = time.perf_counter()
    out = session.mark_resolved(fac)
    rows.append(("`mark_resolved` (review + checks + write_anchor_version)",
                 [time.perf_counter() - t0], f"once; {out.stat().st_size / 1024:.0f} kB file"))
    store.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-drift", action="store_true")
    parser.add_argument("--skip-sessions", action="store_true")
    args = parser.parse_args()

    cpu = "cpu"
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8")
        cpu = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)[1]  # type: ignore[index]
    except (OSError, TypeError):
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}, "
          f"{cpu}, {os.cpu_count()} cores, load average at start "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")

    drift_sizes = [2_000, 20_000] if args.quick else [2_000, 20_000, 100_000]
    session_sizes = [(50, 5), (200, 10)] if args.quick else [(200, 10), (1_000, 20)]
    tmp = Path(tempfile.mkdtemp(prefix="judgecal-bench-sessions-"))
    start = time.perf_counter()
    try:
        if not args.skip_drift:
            bench_drift(drift_sizes, args.repeat, tmp)
        if not args.skip_sessions:
            results = [bench_session(n, p, args.repeat, tmp) for n, p in session_sizes]
            head = " | ".join(f"{n:,} items x {p} participants" for n, p in session_sizes)
            print(f"\n## Sessions (median of {args.repeat} unless noted)\n")
            print(f"| what | {head} |\n|---|" + "---|" * len(session_sizes))
            for i, (what, _, _) in enumerate(results[0]):
                cells = [fmt_s(med(times)) + (f" ({note})" if note else "")
                         for _, times, note in (res[i] for res in results)]
                print(f"| {what} | " + " | ".join(cells) + " |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    end_load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"\ntotal {time.perf_counter() - start:.0f} s; load average at the end "
          f"{end_load[0]:.2f} {end_load[1]:.2f} {end_load[2]:.2f}")


if __name__ == "__main__":
    main()
