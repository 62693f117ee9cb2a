"""Webhook deliveries per second with one watcher's dispatcher (queue, claim, sign, POST, acknowledge) to a
local receiver, beside a baseline in the same run: bare httpx2 POSTs of the same bodies to the same receiver.

Run: ``python benchmarks/bench_webhooks.py [--records N] [--repeat 3] [--backends sqlite,postgresql]
[--json PATH]``. The receiver is the canned-answer server of ``_servers.py`` (its own process: a thread per
connection, keep-alive, a fixed 200), so the figures are the sending side's. Goal: >= 500 deliveries/s.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

import httpx2  # noqa: E402  (the baseline: a bare client)
from _servers import canned_process  # noqa: E402
from helpers.pgserver import find_pg_bin, running_postgres  # noqa: E402

from winic_soap.config import Settings  # noqa: E402
from winic_soap.models import Reply  # noqa: E402
from winic_soap.store import open_store  # noqa: E402
from winic_soap.webhooks import WebhookDispatcher, body_of, new_secret  # noqa: E402

GOAL = 500.0


def _replies(count: int) -> list[Reply]:
    at = datetime(2026, 11, 25, 9, 30)
    return [
        Reply(f"138{i:08d}", f"reply {i} 好的", "001", at, f"138{i:08d}/reply {i} 好的/001/2026-11-25 9:30:00")
        for i in range(count)
    ]


@contextmanager
def _store_urls(backend: str) -> Iterator[Iterator[str]]:
    """Fresh stores of ``backend``, one per run; PostgreSQL with fsync on, as SQLite commits durably too."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield (f"sqlite:///{tmp}/bench{i}.sqlite3" for i in itertools.count())
    else:
        with running_postgres(fsync=True) as server:
            yield (str(server.create_database(f"bench_webhooks{i}")) for i in itertools.count())


def _ours(url: str, receiver: str, records: int) -> dict[str, Any]:
    settings = Settings(webhook_secret=new_secret())
    with open_store(url) as store:
        dispatcher = WebhookDispatcher(store, settings, urls=[receiver])
        for start in range(0, records, 100):  # pulled and committed as the watcher does, 100 a pull
            store.commit_pulled("GET_SMS_MO", _replies(records)[start : start + 100])
        began = time.perf_counter()
        delivered = dispatcher.deliver_once()
        seconds = time.perf_counter() - began
        dispatcher.join()
    assert delivered == records, (delivered, records)
    return {"deliveries": delivered, "seconds": round(seconds, 4), "per_s": round(delivered / seconds, 1)}


def _bare(url: str, receiver: str, records: int) -> dict[str, Any]:
    """The same bodies POSTed by a bare httpx2 client (keep-alive, the settings' default timeout)."""
    with open_store(url) as store:
        store.commit_pulled("GET_SMS_MO", _replies(records))
        bodies = [body_of(r) for r in store.records(None)]
    client = httpx2.Client(timeout=Settings().timeout, follow_redirects=False)
    try:
        began = time.perf_counter()
        for body in bodies:
            response = client.post(receiver, content=body, headers={"content-type": "application/json"})
            assert response.status_code == 200
        seconds = time.perf_counter() - began
    finally:
        client.close()
    return {"deliveries": len(bodies), "seconds": round(seconds, 4), "per_s": round(len(bodies) / seconds, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs per figure")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    backends = [b for b in args.backends.split(",") if b and (b != "postgresql" or find_pg_bin() is not None)]
    figures: dict[str, Any] = {"records": args.records, "goal_per_s": GOAL}
    with canned_process() as receiver:
        for backend in backends:
            runs_ours, runs_bare = [], []
            with _store_urls(backend) as urls:
                for _ in range(args.repeat):
                    runs_ours.append(_ours(next(urls), receiver, args.records))
                    runs_bare.append(_bare(next(urls), receiver, args.records))
            ours = max(runs_ours, key=lambda r: r["per_s"])
            bare = max(runs_bare, key=lambda r: r["per_s"])
            figures[backend] = {"ours": ours, "bare_httpx2": bare, "ours/bare": round(ours["per_s"] / bare["per_s"], 3)}
            print(
                f"{backend:<10} ours {ours['per_s']:>8.1f}/s   bare httpx2 {bare['per_s']:>8.1f}/s   "
                f"ours/bare {figures[backend]['ours/bare']:.2f}   goal >= {GOAL:g}/s: "
                f"{'met' if ours['per_s'] >= GOAL else 'NOT met'}"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
