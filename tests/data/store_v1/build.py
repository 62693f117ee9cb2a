"""Build the release-1 store fixtures (schema version 1, before numbered migrations) with main's code at
commit 7d69f8b (the last release before numbered migrations): a SQLite file, a PostgreSQL dump, and
what both hold as JSON.

Run from a checkout of that commit, never from a later one (the point is a store the old code wrote):
    git worktree add /tmp/v1 7d69f8b && cd /tmp/v1 && \
    PYTHONPATH=$PWD:$PWD/tests python /path/to/tests/data/store_v1/build.py /path/to/tests/data/store_v1
"""

from __future__ import annotations

import glob
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from helpers.pgserver import running_postgres

from winic_soap.models import DeliveryReport, Reply, SendReceipt, Submission
from winic_soap.store import Store, open_store

EPOCH = 1_790_000_000.0  # 2026-09-21: far enough back for any retention test


def fill(store: Store) -> dict[str, object]:
    """Records in every state, jobs with batches in every state, a poller lease; returns what was written."""
    at = datetime(2026, 9, 21, 10, 0)
    replies = [Reply(f"1380013800{i}", f"reply {i} code 4711", "1", at, raw=f"raw-reply-{i}") for i in range(4)]
    reports = [
        DeliveryReport(f"100000000000000{i}", "u1", f"1390013900{i}", "DELIVRD", at, raw=f"r{i}") for i in range(3)
    ]
    reply_ids = store.commit_pulled("GET_SMS_MO", replies, endpoint="https://svc/", uid="u1")
    report_ids = store.commit_pulled("SMS_Reports", reports, endpoint="https://svc/", uid="u1")
    owner = "host/1/-/abc"
    claimed = store.claim(owner, limit=3)
    store.ack(claimed[0].id)
    store.ack(claimed[1].id)
    store.fail(claimed[2].id, "handler exit 1")
    job = store.create_job(
        "Send_SMS",
        "your code 123456",
        [["13800000001", "13800000002"], ["13800000003"], ["13800000004"], ["13800000005"], ["13800000006"]],
        job_id="job-v1-a",
        options={"at": None, "ext": None},
        endpoint="https://svc/",
        uid="u1",
    )
    for index, finish in ((0, "accepted"), (1, "failed"), (2, "unknown"), (3, "sending")):
        store.begin_batch(job, index, [], "your code 123456", "Send_SMS", owner=owner)
        if finish == "accepted":
            store.mark_accepted(job, index, "1000000000000000")
        elif finish == "failed":
            store.mark_failed(job, index, "-02", "refused")
        elif finish == "unknown":
            store.mark_unknown(job, index, "read timeout")
    receipt = SendReceipt((Submission("1000000000000009", ("13900000009",)),), "Send_SMS", "soap11", "done 777", 1)
    store.record_send(receipt, job_id="job-v1-b")
    store.hold_poller("https://svc/", "u1", owner, 600)
    return {
        "ids": reply_ids + report_ids,
        "records": [
            r.as_dict() | {"state": r.state, "attempts": r.attempts, "last_error": r.last_error}
            for r in store.records(None)
        ],
        "jobs": [j.as_dict() for j in store.jobs()],
        "batches": {j.id: [b.as_dict() for b in store.batches(j.id)] for j in store.jobs()},
        "counts": store.counts(),
    }


def main(out: Path) -> None:
    clock = iter(EPOCH + i for i in range(10_000))
    sqlite_path = out / "store_v1.sqlite3"
    sqlite_path.unlink(missing_ok=True)
    with open_store(sqlite_path, clock=lambda: next(clock)) as store:
        written = fill(store)
    (out / "expected_sqlite.json").write_text(json.dumps(written, indent=1, sort_keys=True, default=str) + "\n")
    with running_postgres() as server:
        url = server.create_database("v1")
        clock = iter(EPOCH + i for i in range(10_000))
        with open_store(url, clock=lambda: next(clock)) as store:
            written = fill(store)
        dump = subprocess.run(
            [
                sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"))[-1],
                "--no-owner",
                "--no-privileges",
                "--column-inserts",
                url,
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    lines = [line for line in dump.splitlines() if not line.startswith("\\")]  # psql meta-commands (\restrict)
    (out / "store_v1.postgresql.sql").write_text("\n".join(lines) + "\n")
    (out / "expected_postgresql.json").write_text(json.dumps(written, indent=1, sort_keys=True, default=str) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
