"""What the durable store costs: per record, commit + claim + ack against a bare INSERT of the same rows on
the same backend in the same run; and per send batch, what the journal adds (create, claim, mark accepted).

``--backlog N`` (the goal: 1,000,000): N pending reports in the mock (its own process), pulled, stored on
SQLite and handed on, each scenario in a child process whose peak RSS is read afterwards. ``stream``: the
watcher's path (the answer streamed to the spool's folder, decoded a record at a time, spooled, committed
from the spool in bounded transactions); beside it today's path (``list``: ``client.reports()`` then one
commit), which refuses answers over the 16 MB cap, so it is also measured at the largest backlog under it.

Run: ``python benchmarks/bench_store.py [--records N] [--repeat 3] [--backends sqlite,postgresql] [--backlog N]
[--json PATH]``.
PostgreSQL is started from the Debian binaries like in the tests (tests/helpers/pgserver.py), with fsync on, so
both backends commit durably (SQLite: WAL, synchronous=FULL).
"""

from __future__ import annotations

import argparse
import json
import subprocess
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

from _servers import mock_process  # noqa: E402
from helpers.pgserver import find_pg_bin, running_postgres  # noqa: E402

from winic_soap import WinicClient  # noqa: E402
from winic_soap.models import Reply  # noqa: E402
from winic_soap.store import Store, open_store  # noqa: E402

PULL = 100  # records per pull (one commit each), as the watcher stores them
CLAIM = 1  # records per claim: the watcher's default (each claim counts one hand-off attempt per record)
UNDER_CAP = 100_000  # 7.5 MB of answer: today's path takes it (its parser refuses text nodes over 10 MB)
HAND_ON_PAGE = 1_000  # records claimed, written and acknowledged together (as `reports --json` does)
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


def _fill(url: str, reports: int) -> None:
    """Make ``reports`` delivery reports wait in the mock: real sends, 100 recipients each."""
    with WinicClient("bench", "bench-pwd", endpoint=url) as sender:
        sender.send([f"138{i:08d}" for i in range(reports)], "通知", concurrency=8)


def _hand_on(store: Store) -> int:
    """Claim, write (to /dev/null) and acknowledge every pending record, a page at a time."""
    handed = 0
    with open("/dev/null", "w", encoding="utf-8") as sink:
        while page := store.claim("bench", limit=HAND_ON_PAGE):
            sink.write("".join(record.as_json() + "\n" for record in page))
            store.ack_all([record.id for record in page])
            handed += len(page)
    return handed


def backlog_child(url: str, mode: str, folder: str) -> dict[str, Any]:
    """One scenario, in this (fresh) process: pull the whole backlog, store it, hand it on."""
    with (
        # one attempt: a retried pull after a refusal answers "nothing pending" (the service handed them out)
        WinicClient("bench", "bench-pwd", endpoint=url, timeout=600, deadline=1200, max_attempts=1) as client,
        open_store(f"{folder}/store.sqlite3") as store,
    ):
        start = time.perf_counter()
        if mode == "list":  # today's path: the answer whole in memory, then one commit
            try:
                reports = client.reports()
            except Exception as exc:
                outcome = f"lost: {type(exc).__name__}: {exc} (the records were handed out)"
                return {"outcome": outcome, "peak_rss_mb": _peak_rss_mb()}
            pulled = time.perf_counter()
            store.commit_answer(store.prepare_pulled("SMS_Reports", reports))
            count = len(reports)
            del reports
        else:  # the watcher's path, its two steps timed apart
            with store.spool.incoming() as body:
                _, count = store.spool_stream("SMS_Reports", client.pull_into("SMS_Reports", body))
            pulled = time.perf_counter()
            store.replay_spool()
        stored = time.perf_counter()
        handed = _hand_on(store)
        done = time.perf_counter()
        assert store.counts()["done"] == count == handed
    return {
        "outcome": "stored whole",
        "records": count,
        "pull_s": pulled - start,
        "commit_s": stored - pulled,
        "commit_records_per_s": count / (stored - pulled),
        "hand_on_s": done - stored,
        "total_s": done - start,
        "records_per_s": count / (done - start),
        "peak_rss_mb": _peak_rss_mb(),
    }


def _peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: unlike ``ru_maxrss``, not inherited from the parent across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def bench_backlog(backlog: int) -> list[dict[str, Any]]:
    """Each scenario against a freshly filled mock, in a child process of its own."""
    scenarios = [("stream", backlog), ("list", backlog)]
    if backlog > UNDER_CAP:
        scenarios += [("stream", UNDER_CAP), ("list", UNDER_CAP)]
    results = []
    for mode, reports in scenarios:
        with mock_process(f"bench:bench-pwd:{reports}") as url, tempfile.TemporaryDirectory() as folder:
            _fill(url, reports)
            child = subprocess.run(
                [sys.executable, __file__, "--backlog-child", url, mode, folder],
                capture_output=True,
                text=True,
                check=True,
            )
            results.append({"mode": mode, "backlog": reports, **json.loads(child.stdout.splitlines()[-1])})
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
    parser.add_argument("--backlog", type=int, default=0, help="reports pending in the mock (0: skip this part)")
    parser.add_argument("--backlog-child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument(
        "--handoff-records", type=int, default=10_000, help="records for the batched --exec hand-off (0: skip)"
    )
    parser.add_argument("--handoff-batch", type=int, default=1000, help="records per --exec-batch process")
    args = parser.parse_args()
    if args.backlog_child:
        print(json.dumps(backlog_child(*args.backlog_child)))
        return 0
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
    backlog = bench_backlog(args.backlog) if args.backlog else []
    if backlog:
        print(f"\n{'path':<7} {'backlog':>9}  {'pull':>7} {'commit':>7} {'commit/s':>9} {'hand-on':>8} {'peak RSS':>9}")
    for b in backlog:
        if b["outcome"] != "stored whole":
            print(f"{b['mode']:<7} {b['backlog']:>9,}  {b['outcome'][:70]} (peak RSS {b['peak_rss_mb']:.0f} MB)")
            continue
        print(
            f"{b['mode']:<7} {b['backlog']:>9,}  {b['pull_s']:>6.1f}s {b['commit_s']:>6.1f}s "
            f"{b['commit_records_per_s']:>9,.0f} {b['hand_on_s']:>7.1f}s {b['peak_rss_mb']:>6.0f} MB"
        )
    if args.json:
        figures = {"results": results, "backlog": backlog} | ({"handoff": handoff} if handoff else {})
        Path(args.json).write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
