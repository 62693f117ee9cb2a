"""What the durable store costs: per record, commit + claim + ack against a bare INSERT of the same rows on
the same backend in the same run; and per send batch, what the journal adds (create, claim, mark accepted).

Run: ``python benchmarks/bench_store.py [--records N] [--repeat 3] [--backends sqlite,postgresql] [--json PATH]``.
PostgreSQL is started from the Debian binaries like in the tests (tests/pgserver.py), with fsync on, so
both backends commit durably (SQLite: WAL, synchronous=FULL).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from pgserver import find_pg_bin, running_postgres  # noqa: E402

from winic_soap.models import Reply  # noqa: E402
from winic_soap.store import open_store  # noqa: E402

PULL = 100  # records per pull (one commit each), as the watcher stores them
CLAIM = 1  # records per claim: the watcher's default (each claim counts one hand-off attempt per record)
BARE_TABLE = (
    "CREATE TABLE bare (id TEXT, kind TEXT, endpoint TEXT, uid TEXT, operation TEXT, message_id TEXT, mobile TEXT, "
    "status TEXT, payload TEXT, raw TEXT, pulled_at TEXT, pulled_epoch DOUBLE PRECISION)"
)


def _records(count: int) -> list[Reply]:
    at = datetime(2026, 11, 25, 9, 30)
    return [
        Reply(f"138{i:08d}", f"reply {i} 好的", "001", at, f"138{i:08d}/reply {i} 好的/001/2026-11-25 9:30:00")
        for i in range(count)
    ]


def _rows(records: list[Reply]) -> list[tuple[Any, ...]]:
    return [
        (f"id-{i}", "reply", "e", "u", "GET_SMS_MO", None, r.mobile, None, '{"text": "x"}', r.raw, "2026-11-25", 1.0)
        for i, r in enumerate(records)
    ]


def _bare_sqlite(path: str, rows: list[tuple[Any, ...]], per_tx: int) -> float:
    import sqlite3

    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute(BARE_TABLE)
    sql = "INSERT INTO bare VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    start = time.perf_counter()
    for i in range(0, len(rows), per_tx):
        db.execute("BEGIN IMMEDIATE")
        db.executemany(sql, rows[i : i + per_tx])
        db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    db.close()
    return elapsed


def _bare_postgres(url: str, rows: list[tuple[Any, ...]], per_tx: int) -> float:
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        db.execute("DROP TABLE IF EXISTS bare")
        db.execute(BARE_TABLE)
        sql = "INSERT INTO bare VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        start = time.perf_counter()
        for i in range(0, len(rows), per_tx):
            with db.transaction(), db.cursor() as cur:
                cur.executemany(sql, rows[i : i + per_tx])
        return time.perf_counter() - start


def _store_cycle(url: str, records: list[Reply]) -> dict[str, float]:
    with open_store(url) as store:
        start = time.perf_counter()
        for i in range(0, len(records), PULL):
            store.commit_pulled("GET_SMS_MO", records[i : i + PULL], endpoint="e", uid="u")
        committed = time.perf_counter()
        handed = 0
        while claimed := store.claim("bench", limit=CLAIM):
            for record in claimed:
                store.ack(record.id)
                handed += 1
        done = time.perf_counter()
    assert handed == len(records)
    return {"commit_s": committed - start, "claim_ack_s": done - committed, "total_s": done - start}


def _journal(url: str, batches: int) -> dict[str, float]:
    numbers = [[f"138{b:05d}{i:03d}" for i in range(100)] for b in range(batches)]
    with open_store(url) as store:
        start = time.perf_counter()
        job = store.create_job("SendMessages", "bench", numbers)
        created = time.perf_counter()
        while batch := store.claim_batch(job, "bench"):
            store.mark_accepted(job, batch.index, f"{batch.index:016d}")
        done = time.perf_counter()
    return {
        "create_per_batch_us": (created - start) / batches * 1e6,
        "claim_and_mark_per_batch_us": (done - created) / batches * 1e6,
        "per_batch_us": (done - start) / batches * 1e6,
    }


def bench(
    backend: str,
    target: Callable[[str], str],
    bare: Callable[[str, list[tuple[Any, ...]], int], float],
    n: int,
    repeat: int,
) -> dict[str, Any]:
    """Each measurement ``repeat`` times, interleaved, the fastest kept: the machine is shared, and a durable
    commit's cost (an fsync) swings with what the neighbours write."""
    records = _records(n)
    rows = _rows(records)
    bare_pulls, bare_each, cycles, journals = [], [], [], []
    for round_ in range(repeat):
        bare_pulls.append(bare(target(f"bare_pulls_{round_}"), rows, PULL))
        bare_each.append(bare(target(f"bare_each_{round_}"), rows, 1))
        cycles.append(_store_cycle(target(f"store_{round_}"), records))
        journals.append(_journal(target(f"journal_{round_}"), max(n // 100, 10)))
    cycle = min(cycles, key=lambda c: c["total_s"])
    best_pulls, best_each = min(bare_pulls), min(bare_each)
    return {
        "backend": backend,
        "records": n,
        "repeat": repeat,
        "bare_insert_per_record_us": best_pulls / n * 1e6,
        "bare_insert_autocommit_per_record_us": best_each / n * 1e6,
        "commit_per_record_us": cycle["commit_s"] / n * 1e6,
        "claim_ack_per_record_us": cycle["claim_ack_s"] / n * 1e6,
        "store_per_record_us": cycle["total_s"] / n * 1e6,
        "ratio_to_bare_insert": cycle["total_s"] / best_pulls,
        "ratio_to_autocommit_insert": cycle["total_s"] / best_each,
        "journal": min(journals, key=lambda j: j["per_batch_us"]),
    }


# the hand-off command: reads its records (JSON lines) and acknowledges them by exiting 0, so what is measured
# is what `watch --exec` adds around a handler: a process start per hand-off, the claim and the acknowledgement
HANDOFF = "import json, sys\nfor line in sys.stdin:\n    json.loads(line)\n"


def bench_handoff(records: int, batch: int, per_record: int) -> dict[str, Any]:
    """Records/s handed on by ``watch --exec`` on SQLite: one process per record (the default) beside
    ``--exec-batch`` (one process per ``batch`` records, acknowledged in one statement)."""
    from winic_soap import WinicClient
    from winic_soap.watcher import ExecHandOff, Watcher

    results: dict[str, Any] = {}
    argv = [sys.executable, "-c", HANDOFF]
    endpoint = "http://127.0.0.1:9/Service.asmx"  # never called: only stored records are handed on
    with tempfile.TemporaryDirectory() as tmp, WinicClient("bench", "unused", endpoint=endpoint) as client:
        for name, count, size in (("per_record", per_record, 1), ("batched", records, batch)):
            with open_store(f"{tmp}/{name}.sqlite3") as store:
                pulled = _records(count)
                for i in range(0, count, PULL):
                    store.commit_pulled("GET_SMS_MO", pulled[i : i + PULL], endpoint="e", uid="u")
                watcher = Watcher(client, store, batch_handler=ExecHandOff(argv, timeout=60), claim_size=size)
                start = time.perf_counter()
                handed = watcher.deliver_pending()
                seconds = time.perf_counter() - start
            assert handed == count  # every record acknowledged
            results[name] = {"records": count, "batch": size, "seconds": seconds, "records_per_s": count / seconds}
    results["speedup"] = results["batched"]["records_per_s"] / results["per_record"]["records_per_s"]
    return results


@contextmanager
def _postgres() -> Iterator[Callable[[str], str]]:
    with running_postgres(fsync=True) as server:
        yield server.create_database


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per measurement; the fastest is kept")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument(
        "--handoff-records", type=int, default=10_000, help="records for the batched --exec hand-off (0: skip)"
    )
    parser.add_argument("--handoff-batch", type=int, default=1000, help="records per --exec-batch process")
    args = parser.parse_args()
    results = []
    for backend in args.backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                results.append(
                    bench(
                        "sqlite", lambda name, tmp=tmp: f"{tmp}/{name}.sqlite3", _bare_sqlite, args.records, args.repeat
                    )
                )
        elif backend == "postgresql":
            if find_pg_bin() is None:
                print("postgresql: pg_ctl not found, skipped", file=sys.stderr)
                continue
            context: AbstractContextManager[Callable[[str], str]] = _postgres()
            with context as target:
                results.append(bench("postgresql", target, _bare_postgres, args.records, args.repeat))
        else:
            parser.error(f"unknown backend {backend}")
    print(
        f"{'backend':<11} {'records':>7}  {'bare INSERT':>11} {'(autocommit)':>12}  {'commit':>7} {'claim+ack':>9} "
        f"{'store':>7}  {'x bare':>7} {'x autocommit':>12}  {'journal/batch':>13}"
    )
    for r in results:
        print(
            f"{r['backend']:<11} {r['records']:>7}  {r['bare_insert_per_record_us']:>9.1f}µs "
            f"{r['bare_insert_autocommit_per_record_us']:>10.1f}µs  {r['commit_per_record_us']:>5.1f}µs "
            f"{r['claim_ack_per_record_us']:>7.1f}µs {r['store_per_record_us']:>5.1f}µs  "
            f"{r['ratio_to_bare_insert']:>6.1f}x {r['ratio_to_autocommit_insert']:>11.2f}x  "
            f"{r['journal']['per_batch_us']:>11.0f}µs"
        )
    handoff = None
    if args.handoff_records:
        handoff = bench_handoff(args.handoff_records, args.handoff_batch, min(100, args.handoff_records))
        one, many = handoff["per_record"], handoff["batched"]
        print(
            f"watch --exec on sqlite: one process per record {one['records_per_s']:.0f} records/s "
            f"({one['records']} records); --exec-batch {many['batch']} {many['records_per_s']:.0f} records/s "
            f"({many['records']} records); {handoff['speedup']:.0f}x"
        )
    if args.json:
        figures = {"results": results} | ({"handoff": handoff} if handoff else {})
        Path(args.json).write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
