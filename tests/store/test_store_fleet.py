"""Fleets as real processes against the mock: four watchers on one store (PostgreSQL, then SQLite) while
replies and reports arrive, the pulling one SIGKILLed on the way; and a 100,000-recipient job run by four
worker processes on PostgreSQL with random SIGKILLs, then resumed."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from helpers import fleet_watch
from helpers.pgserver import PgServer

from winic_soap import WinicClient
from winic_soap.mock import Account, MockService
from winic_soap.recipients import chunked
from winic_soap.store import Store, open_store

LEASE = 8.0  # the watchers' poller lease; they poll every 5 s (the service's minimum)
FEED_SECONDS = 30.0
PULLS = ("SMS_Reports", "GET_SMS_MO")


def _env(tmp_path: Path, host: str) -> dict[str, str]:
    return {
        **os.environ,
        "HOME": str(tmp_path),
        "WINIC_HOST_ID": host,  # each watcher a host of its own: a dead holder is found by its lease expiring
    }


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def _holder_pid(store: Store, url: str) -> int | None:
    lease = store.poller(url, "demo")
    return int(lease.owner.split("/")[1]) if lease and lease.until > time.time() else None


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_four_watchers_pull_one_at_a_time_and_hand_each_record_on_once(
    backend: str, winic_mock: MockService, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "postgresql":
        url = request.getfixturevalue("pg_server").create_database("fleet_watch")
    else:
        url = f"sqlite:///{tmp_path / 'fleet.sqlite3'}"
    out, windows = tmp_path / "out.jsonl", tmp_path / "windows.jsonl"
    argv = fleet_watch.command(url, winic_mock.url, out, windows)
    watchers = [
        subprocess.Popen([*argv, str(LEASE)], env=_env(tmp_path, f"host{i}"), stdout=subprocess.PIPE, text=True)
        for i in range(4)
    ]
    for proc in watchers:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"

    feeding = threading.Event()
    feeding.set()

    def feed() -> None:  # replies and sends (whose reports follow) for FEED_SECONDS, bounded
        rng = random.Random(7)
        with WinicClient("demo", "demo-secret", endpoint=winic_mock.url) as client:
            start, n = time.monotonic(), 0
            while time.monotonic() - start < FEED_SECONDS:
                n += 1
                winic_mock.add_reply(f"139{n:08d}", f"reply {n}")
                if n % 5 == 0:
                    client.send([f"137{n:05d}{i:03d}" for i in range(rng.randint(1, 3))], f"send {n}")
                time.sleep(0.1)
        feeding.clear()

    feeder = threading.Thread(target=feed)
    feeder.start()
    try:
        with open_store(url) as store:
            deadline = time.monotonic() + 30
            while (holder := _holder_pid(store, winic_mock.url)) is None:
                assert time.monotonic() < deadline, "no watcher took the poller lease"
                time.sleep(0.1)
            time.sleep(12)  # let the fleet work before the puller dies
            holder = _holder_pid(store, winic_mock.url)
            assert holder is not None
            os.kill(holder, signal.SIGKILL)
            killed_at = time.monotonic()
            killed = next(p for p in watchers if p.pid == holder)
            killed.wait(timeout=10)
            while (successor := _holder_pid(store, winic_mock.url)) in (None, holder):
                assert time.monotonic() - killed_at < 3 * LEASE, "nobody took over"
                time.sleep(0.1)
            takeover = time.monotonic() - killed_at
            assert successor != holder
            # within one lease period (plus one stand-by check, a quarter lease, and scheduling slack)
            assert takeover <= LEASE * 1.25 + 2, takeover
            feeder.join(timeout=FEED_SECONDS + 30)
            deadline = time.monotonic() + 60
            while winic_mock.state.pending_replies() or winic_mock.state.pending_reports() or store.pending():
                assert time.monotonic() < deadline, "the fleet did not drain"
                time.sleep(0.2)
    finally:
        feeding.clear()
        feeder.join(timeout=FEED_SECONDS + 30)
        for proc in watchers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in watchers:
            proc.wait(timeout=30)

    # no two pulls for the account ever overlapped: each watcher's windows, and the mock's ledger inside them
    spans = []
    for w in _lines(windows):
        if "end" in w:
            spans.append((w["start"], w["end"], w["pid"]))
    open_starts = {(w["pid"], w["start"]) for w in _lines(windows) if "end" not in w} - {(p, s) for s, _, p in spans}
    for pid, start in open_starts:  # a pull the kill interrupted lasted until the kill at most
        assert pid == holder
        spans.append((start, killed_at, pid))
    for s1, e1, p1 in spans:
        for s2, e2, p2 in spans:
            assert p1 == p2 or e1 <= s2 or e2 <= s1, f"pulls of {p1} and {p2} overlap"
    pulls = [e for e in winic_mock.ledger if e.operation in PULLS and e.processed]
    assert len(pulls) >= 8
    for entry in pulls:
        assert sum(1 for s, e, _ in spans if s <= entry.at <= e) == 1, entry

    # every record handed out went on, once (a repeat only where the kill fell between hand-off and ack)
    handed_out = [raw for e in pulls if e.answer not in (None, "null") for raw in e.answer.split("|") if raw]
    delivered = _lines(out)
    by_raw = Counter(d["raw"] for d in delivered)
    in_flight = {
        raw
        for e in pulls
        if e.answer not in (None, "null") and killed_at - 3.5 <= e.at <= killed_at
        for raw in e.answer.split("|")
        if raw
    }
    missing = set(handed_out) - set(by_raw)
    assert missing <= in_flight, f"{len(missing)} record(s) lost outside the kill"
    repeats = {raw: n for raw, n in by_raw.items() if n > 1}
    assert len(repeats) <= 1 and all(n == 2 for n in repeats.values()), repeats
    assert len({d["id"] for d in delivered}) == len(by_raw)  # one id per record
    assert len({d["pid"] for d in delivered}) >= 2  # stand-bys hand on too
    print(
        f"\nfleet on {backend}: {len(pulls)} pulls, {len(handed_out)} records, {len(delivered)} hand-offs, "
        f"{len(repeats)} repeated, {len(missing)} lost in the killed pull, takeover after {takeover:.1f} s"
    )


def test_a_100000_recipient_job_run_by_four_killed_workers_then_resumed(pg_server: PgServer, tmp_path: Path) -> None:
    numbers = [f"138{i:08d}" for i in range(100_000)]
    batches = chunked(numbers)
    rng = random.Random(20261125)
    with MockService(accounts=[Account("demo", "demo-secret", balance=Decimal(10**7))]) as mock:
        mock.fail("latency", seconds=0.02, times=None, operation="SendMessages")
        mock.fail("close_after", every=211, times=3, operation="SendMessages")  # a few lost replies: unknown
        url = pg_server.create_database("fleet_job")
        with open_store(url) as store:
            store.create_job("SendMessages", "大促 bulk", batches, job_id="big", endpoint=mock.url, uid="demo")
        env = {
            **os.environ,
            "WINIC_UID": "demo",
            "WINIC_PWD": "demo-secret",
            "WINIC_ENDPOINT": mock.url,
            "WINIC_STORE": url,
            "WINIC_MAX_ATTEMPTS": "1",
            "HOME": str(tmp_path),
        }
        resume = [sys.executable, "-m", "winic_soap", "jobs", "resume", "big", "--concurrency", "2", "--json"]
        workers = [subprocess.Popen(resume, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(4)]
        kills = 0
        for worker in rng.sample(workers, 3):
            time.sleep(rng.uniform(0.5, 2.0))
            if worker.poll() is None:
                worker.kill()
                kills += 1
        for worker in workers:
            worker.communicate(timeout=300)
        assert kills >= 2, "the job ended before the kills: make it slower"
        with open_store(url) as store:
            never_attempted = {b.index for b in store.batches("big", ["new"])}
        assert never_attempted, "nothing left for the resume"
        before = len(mock.calls("SendMessages", processed=None))
        for _ in range(10):  # each lost reply stops a resume; resume again until nothing is left
            done = subprocess.run(resume[:-3], env=env, capture_output=True, text=True, timeout=300, check=False)
            assert done.returncode in (0, 8), done.stderr[-2000:]
            with open_store(url) as store:
                if not store.batches("big", ["new"]):
                    break
        shown = json.loads(
            subprocess.run(
                [sys.executable, "-m", "winic_soap", "jobs", "show", "big", "--json", "--batches"],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=True,
            ).stdout
        )
        sends = mock.calls("SendMessages", processed=None)
    first_number = {batch[0]: i for i, batch in enumerate(batches)}
    sent = Counter(first_number[(e.params["tos"] or "").split(",")[0]] for e in sends)
    assert max(sent.values()) == 1, "a batch was sent twice"
    after_resume = Counter(first_number[(e.params["tos"] or "").split(",")[0]] for e in sends[before:])
    assert set(after_resume) >= never_attempted  # every never-attempted batch went out after the resume
    states = Counter(b["state"] for b in shown["batches"])
    assert states["new"] == 0 and states["failed"] == 0
    attention = {b["index"] for b in shown["needs_a_person"]}
    assert attention == {b["index"] for b in shown["batches"] if b["state"] in ("sending", "unknown")}
    assert states["unknown"] >= 1  # the lost replies
    for batch in shown["batches"]:
        if batch["state"] == "accepted":
            assert sent[batch["index"]] == 1
    assert shown["delivery"]["accepted"] == 100 * states["accepted"]
    print(
        f"\njob of 100,000: {kills} workers killed, {len(never_attempted)} batches left for the resume, "
        f"{states['accepted']} accepted, {states['unknown']} unknown, {states['sending']} sending (killed mid-send), "
        f"{len(sends)} requests for 1,000 batches"
    )
