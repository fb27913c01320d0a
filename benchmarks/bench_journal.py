"""The journal at scale: write rate, file size and a re-run's lookup time up to 1,000,000
entries.

Records look like real ones (a 64-hex key, a 2 kB rendered-messages JSON, a short reply and
reasoning). Measured in one run, as ratios:

(a) writes: ``put`` (one transaction per record, what the local runner does as each call
    ends, so a kill loses nothing) against ``put_many`` in batches of 1,000 (what a
    provider batch's downloaded results use, ``Journal.bulk``); records/s of each;
(b) lookup: ``get_many`` of every key, as a re-run does before deciding what to call, per
    key at N entries against per key at the smallest N (target: within 2x, i.e. the
    primary-key index keeps it O(log N) per key);
(c) size: bytes per entry on disk after a WAL checkpoint (the rendered messages dominate).

    uv run python benchmarks/bench_journal.py                 # 10k, 100k, 1M entries
    uv run python benchmarks/bench_journal.py --sizes 10000 100000
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.journal import CallRecord, Journal  # noqa: E402

MESSAGES = ('[{"content":"' + "You rate recipe texts on a scale from 1 to 6. " * 20
            + '","role":"system"},{"content":"' + "Mix the flour and the eggs. " * 25
            + '","role":"user"}]')
REPLY = '{"reasoning": "Clear steps, a few typos.", "score": 4}'


def record(i: int) -> CallRecord:
    key = hashlib.sha256(str(i).encode()).hexdigest()
    return CallRecord(key=key, status="ok", provider="openai", model="gpt-4o-mini",
                      params='{"max_tokens":512,"mode":"structured"}', item_id=f"item-{i}",
                      sample_index=0, messages=MESSAGES, prompt_name="recipes-overall",
                      prompt_version="v1", prompt_hash="0" * 64, anchor_set="recipes",
                      raw_reply=REPLY, score=4.0, reasoning="Clear steps, a few typos.",
                      input_tokens=600, output_tokens=20, cost=0.0001, latency_s=0.8,
                      created_at=1.0)


def fill(journal: Journal, start: int, stop: int, chunk: int = 1000) -> float:
    t0 = time.perf_counter()
    for lo in range(start, stop, chunk):
        journal.put_many(record(i) for i in range(lo, min(stop, lo + chunk)))
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--single", type=int, default=3_000,
                    help="records written one transaction each, for (a)")
    args = ap.parse_args()
    print(f"# journal at scale — {platform.python_version()}, sqlite {sqlite3.sqlite_version}, "
          f"{platform.machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        single = Journal(Path(tmp) / "single.sqlite")
        t0 = time.perf_counter()
        for i in range(args.single):
            single.put(record(i))
        put_rate = args.single / (time.perf_counter() - t0)
        bulk = Journal(Path(tmp) / "bulk.sqlite")
        bulk_rate = args.single / fill(bulk, 0, args.single)
        print(f"(a) put: {put_rate:,.0f} records/s; put_many (1,000 per transaction): "
              f"{bulk_rate:,.0f} records/s; ratio {bulk_rate / put_rate:.1f}x")

        journal = Journal(Path(tmp) / "journal.sqlite")
        have = 0
        base = None
        print("| entries | fill s | lookup of every key, µs/key | vs smallest | bytes/entry |")
        print("|---:|---:|---:|---:|---:|")
        for n in sorted(args.sizes):
            t_fill = fill(journal, have, n)
            have = n
            keys = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(n)]
            t0 = time.perf_counter()
            got = journal.get_many(keys)
            per_key = (time.perf_counter() - t0) / n
            assert len(got) == n
            conn = sqlite3.connect(journal.path)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.close()
            size = journal.path.stat().st_size
            base = base or per_key
            print(f"| {n:,} | {t_fill:.1f} | {per_key * 1e6:.1f} | {per_key / base:.2f}x | "
                  f"{size / n:,.0f} |")


if __name__ == "__main__":
    main()
