"""What delivery statistics cost (the goal: ``stats`` over 1,000,000 reports in under 2 s on SQLite), and
what the optional extras cost to import (only when used).

1. A store holding ``--reports`` settled reports (batches of 100 recipients over 30 days, one report each: 90 %
   delivered, the rest spread over failure codes, 2 % still in transit), filled with executemany (not through
   the mock: the wire is not the point). Then ``store.stats()`` (whole range), ``store.stats(by="day")`` and
   ``store.stats(job=...)`` of one job, median of ``--repeat`` runs.
2. Import time in fresh processes (best of ``--repeat``): ``winic_soap.store`` (the floor: what ``stats``
   needs anyway), then ``winic_soap.metrics`` with prometheus-client and ``winic_soap.report`` with its
   charting library, each only where installed.

Run: ``python benchmarks/bench_stats.py [--reports 1000000] [--repeat 3] [--store URL] [--json PATH]``
(default store: a SQLite file in a temporary folder; ``--store postgresql://...`` for PostgreSQL).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from winic_soap.store import Store, open_store  # noqa: E402

T0 = 1_780_000_000.0
BATCH = 100
CODES = ["UNDELIV", "EXPIRED", "BLACK", "MN:0001", "REJECTD", "XX:0001"]


def _median_s(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return round(statistics.median(times), 3)


def _status(n: int) -> tuple[str, int]:
    if n % 50 == 0:
        return "ENROUTE", 0
    if n % 10 == 1:
        return CODES[(n // 10) % len(CODES)], 1
    return "DELIVRD", 1


def fill(store: Store, reports: int) -> float:
    """``reports`` recipients in batches of 100, one job per day, each with its settled report; seconds taken."""
    began = time.perf_counter()
    batches = reports // BATCH
    step = 30 * 86400 / max(batches, 1)
    with store._transaction() as tx:
        tx.many(
            "INSERT INTO winic_jobs (id, operation, text, options, endpoint, uid, created_at) "
            "VALUES (?, 'SendMessages', 'x', '{}', '', '', '2026-05-01T00:00:00Z')",
            [(f"job-{d}",) for d in range(31)],
        )
    for first in range(0, batches, 1000):
        part = range(first, min(first + 1000, batches))
        inbox, settled, rows = [], [], []
        for b in part:
            started = T0 + b * step
            rows.append((f"job-{int(b * step // 86400)}", b, BATCH, f"m{b}", started))
            for r in range(BATCH):
                n = b * BATCH + r
                mobile = f"138{n:08d}"
                status, final = _status(n)
                pulled = started + 5 + (n % 600)
                rid = f"r{n}"
                inbox.append((rid, f"m{b}", mobile, status, "2026-05-01T00:00:00Z", pulled))
                settled.append((f"m{b}", mobile, status, final, rid))
        with store._transaction() as tx:
            tx.many(
                "INSERT INTO winic_batches (job_id, idx, numbers, size, state, message_id, source, started_epoch) "
                "VALUES (?, ?, '', ?, 'accepted', ?, 'send', ?)",
                rows,
            )
            tx.many(
                "INSERT INTO winic_inbox (id, kind, endpoint, uid, operation, message_id, mobile, status, payload, "
                "raw, pulled_at, pulled_epoch, state) VALUES (?, 'report', '', '', 'SMS_Reports', ?, ?, ?, '{}', '', "
                "?, ?, 'done')",
                inbox,
            )
            tx.many(
                "INSERT INTO winic_settled (message_id, mobile, status, final, at, record_id, updated_at) "
                "VALUES (?, ?, ?, ?, '', ?, '')",
                settled,
            )
    with store._transaction() as tx:
        if store.backend == "sqlite":
            tx.run("ANALYZE")
        else:
            tx.run("ANALYZE winic_batches")
            tx.run("ANALYZE winic_settled")
            tx.run("ANALYZE winic_inbox")
    return round(time.perf_counter() - began, 1)


def _import_s(module: str, repeat: int) -> float:
    best = []
    for _ in range(repeat):
        code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
        best.append(float(done.stdout))
    return round(min(best), 3)


def imports(repeat: int) -> dict[str, float | None]:
    """Fresh-process import times; None where the module or its extra is missing."""
    found: dict[str, float | None] = {"winic_soap.store": _import_s("winic_soap.store", repeat)}
    for module, extra in (("winic_soap.metrics", "prometheus_client"), ("winic_soap.report", "pygal")):
        present = importlib.util.find_spec(extra) is not None and (ROOT / f"{module.replace('.', '/')}.py").exists()
        found[module] = _import_s(module, repeat) if present else None
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--store", help="a store URL (default: a SQLite file in a temporary folder)")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.store or f"sqlite:///{Path(tmp) / 'stats.sqlite3'}"
        with open_store(url) as store:
            filled = fill(store, args.reports)
            whole = store.stats()
            assert whole.total.accepted == args.reports // BATCH * BATCH, whole.total
            figures: dict[str, Any] = {
                "backend": store.backend,
                "reports": whole.total.accepted,
                "fill_s": filled,
                "stats_s": _median_s(store.stats, args.repeat),
                "stats_by_day_s": _median_s(lambda: store.stats(by="day"), args.repeat),
                "stats_one_job_s": _median_s(lambda: store.stats(job="job-3"), args.repeat),
                "delivery_rate": round(whole.total.delivery_rate or 0, 4),
                "latency_p95_s": whole.latency.p95,
            }
    figures["import_s"] = imports(args.repeat)
    print(f"{figures['backend']}: {figures['reports']:,} reports (filled in {filled} s)")
    print(f"  stats               {figures['stats_s']} s   (goal < 2 s on SQLite)")
    print(f"  stats --by day      {figures['stats_by_day_s']} s")
    print(f"  stats --job (1/31)  {figures['stats_one_job_s']} s")
    for module, seconds in figures["import_s"].items():
        print(f"  import {module:<20} {'not installed' if seconds is None else f'{seconds * 1000:.0f} ms'}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
