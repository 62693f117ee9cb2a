"""The store's contract, run against both backends (SQLite file, real PostgreSQL server)."""

from __future__ import annotations

import pickle
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from winic_soap import InputError, StoreError
from winic_soap.models import DeliveryReport, Reply, SendReceipt, Submission
from winic_soap.store import Store, open_store
from winic_soap.store.owners import process_owner

UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


class Clock:
    """Stands in for time.time: leases expire when the test says so, not after a sleep."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def report(message_id: str, mobile: str, status: str = "DELIVRD") -> DeliveryReport:
    return DeliveryReport(message_id, "demo", mobile, status, datetime(2026, 11, 25, 9, 30), f"{message_id}/{mobile}")


def reply(mobile: str, text: str) -> Reply:
    return Reply(mobile, text, "001", datetime(2026, 11, 25, 9, 31, 5), f"{mobile}/{text}/001/2026-11-25 9:31:05")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(store_url: str, clock: Clock) -> Iterator[Store]:
    with open_store(store_url, clock=clock, max_handoffs=3, lease=30) as opened:
        yield opened


def test_committed_records_are_claimed_once_and_acked_for_good(store: Store, clock: Clock) -> None:
    ids = store.commit_pulled("GET_SMS_MO", [reply("13800138000", f"r{i}") for i in range(5)], endpoint="e", uid="u")
    assert len(set(ids)) == 5 and all(UUID7.match(i) for i in ids)
    first = store.claim("A", limit=3)
    assert [r.id for r in first] == ids[:3] and all(r.attempts == 1 for r in first)
    assert [r.id for r in store.claim("B", limit=10)] == ids[3:]  # leased ones are not handed to B
    assert store.claim("C") == []
    for record in first:
        assert store.ack(record.id)
    assert not store.ack(first[0].id)
    clock.now += 31  # B's lease expired: its records come back; acked ones never do
    assert [r.id for r in store.claim("C")] == ids[3:]
    assert store.counts() == {"pending": 2, "done": 3, "dead": 0, "records": 5, "batches": 0}


def test_a_consumer_whose_lease_ran_out_cannot_put_back_a_record_another_holds(store: Store, clock: Clock) -> None:
    [record_id] = store.commit_pulled("GET_SMS_MO", [reply("13800138000", "slow")], endpoint="e", uid="u")
    assert [r.id for r in store.claim("A")] == [record_id]
    clock.now += 31  # A's handler is still running when its lease runs out; B takes the record
    assert [r.id for r in store.claim("B")] == [record_id]
    assert store.fail(record_id, "A's handler failed late", owner="A") == "lost"
    assert store.claim("C") == []  # still B's: A did not put it back in line for a third hand-off
    assert store.fail(record_id, "B's handler failed", owner="B") == "pending"


def test_times_are_aware_and_the_record_keeps_its_raw_form(store: Store) -> None:
    [record_id] = store.commit_pulled("GET_SMS_MO", [reply("13800138000", "好的/ok")])
    record = store.get(record_id)
    assert record is not None
    assert record.data["received_at"] == "2026-11-25T09:31:05+08:00"  # service time
    assert record.pulled_at.endswith("+00:00")  # ours, UTC
    assert record.raw == "13800138000/好的/ok/001/2026-11-25 9:31:05"
    body = record.as_dict()
    assert body["id"] == record_id and body["text"] == "好的/ok" and body["pulled_at"] == record.pulled_at


def test_a_poison_record_goes_dead_and_the_rest_flow_on(store: Store) -> None:
    poison, *rest = store.commit_pulled("GET_SMS_MO", [reply("13800138000", f"r{i}") for i in range(3)])
    handed: list[str] = []
    for _ in range(3):
        for record in store.claim("A"):
            if record.id == poison:
                store.fail(record.id, "RuntimeError: handler crashed")
            else:
                handed.append(record.id)
                store.ack(record.id)
    assert handed == rest
    [dead] = store.records("dead")
    assert dead.id == poison and dead.attempts == 3 and dead.last_error == "RuntimeError: handler crashed"
    assert store.claim("A") == []
    assert store.retry(poison) and not store.retry(poison)
    [again] = store.claim("A")
    assert again.id == poison and again.attempts == 1


def test_a_hand_off_its_consumer_stopped_is_not_counted(store: Store) -> None:
    [record_id] = store.commit_pulled("GET_SMS_MO", [reply("13800138000", "at the stop")])
    for _ in range(2):  # two real failures of the three allowed
        [record] = store.claim("A")
        assert store.fail(record.id, "RuntimeError: handler crashed", owner="A") == "pending"
    for _ in range(5):  # the third claim cut short by a clean stop, again and again: never dead
        [record] = store.claim("A")
        assert store.fail(record.id, "stopped", owner="A", counted=False) == "pending"
    [record] = store.claim("A")
    assert record.id == record_id and record.attempts == 3  # the third hand-off is still to come
    assert store.fail(record.id, "RuntimeError: handler crashed", owner="A") == "dead"


def test_a_record_whose_consumer_dies_every_time_goes_dead(store: Store, clock: Clock) -> None:
    [record_id] = store.commit_pulled("GET_SMS_MO", [reply("13800138000", "kills its handler")])
    for _ in range(3):
        assert [r.id for r in store.claim("A")] == [record_id]
        clock.now += 31  # never acked nor failed: the consumer died
    assert store.claim("A") == []
    assert [r.id for r in store.records("dead")] == [record_id]


def _owner_of_a_finished_process() -> str:
    """The owner name a process on this host had: that process has exited by the time it is returned."""
    return subprocess.run(
        [sys.executable, "-c", "from winic_soap.store.owners import process_owner; print(process_owner())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_a_dead_holder_on_this_host_frees_its_leases_at_once(store_url: str) -> None:
    dead_owner = _owner_of_a_finished_process()
    with open_store(store_url) as store:
        [record_id] = store.commit_pulled("GET_SMS_MO", [reply("13800138000", "x")])
        assert [r.id for r in store.claim(dead_owner)] == [record_id]
        assert store.hold_poller("e", "u", dead_owner)
        me = process_owner()
        assert [r.id for r in store.claim(me)] == [record_id]  # the lease had 60 s left
        assert store.hold_poller("e", "u", me)
        assert not store.hold_poller("e", "u", process_owner())  # a live holder keeps it


def test_concurrent_consumers_never_share_a_record(store_url: str) -> None:
    with open_store(store_url) as seed:
        ids = seed.commit_pulled("GET_SMS_MO", [reply("13800138000", f"r{i}") for i in range(300)])
    taken: dict[str, list[str]] = {}

    def consume(name: str) -> None:
        with open_store(store_url) as mine:
            while records := mine.claim(name, limit=7):
                for record in records:
                    taken.setdefault(record.id, []).append(name)
                    mine.ack(record.id)

    threads = [threading.Thread(target=consume, args=(f"c{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken) == sorted(ids) and all(len(v) == 1 for v in taken.values())


def test_one_poller_per_account(store: Store, clock: Clock) -> None:
    assert store.hold_poller("e", "u", "A", 10)
    assert not store.hold_poller("e", "u", "B", 10)
    assert store.hold_poller("e", "other", "B", 10)  # another account is another lease
    clock.now += 9
    assert store.hold_poller("e", "u", "A", 10)  # renewed
    clock.now += 9
    assert not store.hold_poller("e", "u", "B", 10)
    clock.now += 2
    assert store.hold_poller("e", "u", "B", 10)  # A stopped renewing: B takes over
    assert (lease := store.poller("e", "u")) is not None and lease.owner == "B"
    store.release_poller("e", "u", "B")
    assert store.hold_poller("e", "u", "A", 10)
    assert (lease := store.poller("e", "u")) is not None and lease.owner == "A"


def test_journal_batches_are_claimed_once_each(store_url: str) -> None:
    with open_store(store_url) as store:
        job = store.create_job("SendMessages", "hi", [[f"138{i:08d}"] for i in range(60)], job_id="j1")
        with pytest.raises(InputError, match="already exists"):
            store.create_job("SendMessages", "hi", [["13800138000"]], job_id="j1")
    claimed: list[int] = []

    def work() -> None:
        with open_store(store_url) as mine:
            while batch := mine.claim_batch(job, process_owner()):
                claimed.append(batch.index)
                mine.mark_accepted(job, batch.index, f"{batch.index:016d}")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == list(range(60))
    with open_store(store_url) as store:
        summary = store.job("j1")
        assert summary is not None
        assert summary.batches["accepted"] == 60 and summary.recipients["accepted"] == 60


def test_journal_states_and_the_delivery_picture(store: Store) -> None:
    numbers = [[f"1380000{i:04d}" for i in range(b * 3, b * 3 + 3)] for b in range(5)]
    job = store.create_job("SendMessages", "text", numbers, options={"ext": "12"})
    batches = [store.claim_batch(job, "w") for _ in range(4)]
    assert [b.state for b in batches if b is not None] == ["sending"] * 4
    store.mark_accepted(job, 0, "1000000000000000")
    store.mark_failed(job, 1, "-01", "BalanceError")
    store.mark_unknown(job, 2, "SendOutcomeUnknown")
    # batch 3 stays sending (its worker died); batch 4 was never attempted
    with pytest.raises(StoreError, match="attempted before"):
        store.begin_batch(job, 0, numbers[0], "text", "SendMessages")
    store.commit_pulled(
        "SMS_Reports",
        [report("1000000000000000", numbers[0][0]), report("1000000000000000", numbers[0][1], "UNDELIV")],
    )
    summary = store.job(job)
    assert summary is not None
    assert summary.batches == {"new": 1, "sending": 1, "accepted": 1, "failed": 1, "unknown": 1}
    assert summary.options == {"ext": "12"}
    assert store.delivery(job) == {
        "job": job,
        "recipients": 15,
        "accepted": 3,
        "delivered": 1,
        "undelivered": {"UNDELIV": 1},
        "waiting_for_report": 1,
        "unknown": 3,
        "sending": 3,
        "failed": {"-01": 3},
        "never_attempted": 3,
    }
    [joined, _] = store.by_message_id("1000000000000000")
    assert joined.send is not None
    assert joined.send["job"] == job and joined.send["text"] == "text" and joined.send["recipients"] == 3


def test_unknown_batches_resolve_from_their_reports_unless_ambiguous(store: Store) -> None:
    job = store.create_job("SendMessages", "t", [["13800000001", "13800000002"], ["13800000003"], ["13800000003"]])
    for _ in range(3):
        batch = store.claim_batch(job, "w")
        assert batch is not None
        store.mark_unknown(job, batch.index, "lost reply")
    store.commit_pulled("SMS_Reports", [report("2000000000000001", "13800000001")])
    store.commit_pulled("SMS_Reports", [report("2000000000000003", "13800000003")])  # batches 1 and 2 share it
    states = {b.index: (b.state, b.message_id, b.source) for b in store.batches(job)}
    assert states == {
        0: ("accepted", "2000000000000001", "reports"),
        1: ("unknown", None, None),
        2: ("unknown", None, None),
    }
    # a report with numbers from two batches fits neither
    store.commit_pulled("SMS_Reports", [report("2000000000000009", "13800000002"), report("2000000000000009", "1")])
    assert store.batches(job)[0].message_id == "2000000000000001"


def test_a_send_recorded_after_the_fact_joins_its_reports(store: Store) -> None:
    receipt = SendReceipt((Submission("3000000000000000", ("13800138000",)),), "SendMessages", "soap11", "hello", 1)
    job = store.record_send(receipt)
    [record_id] = store.commit_pulled("SMS_Reports", [report("3000000000000000", "13800138000")])
    record = store.get(record_id)
    assert record is not None and record.send is not None
    assert record.send["text"] == "hello" and record.send["job"] == job
    assert (summary := store.job(job)) is not None and summary.batches["accepted"] == 1


def test_store_errors_are_typed_and_pickle(store_url: str, tmp_path: Path) -> None:
    if store_url.startswith("sqlite"):
        blocker = tmp_path / "file"
        blocker.write_text("not a folder")
        bad = f"sqlite:///{blocker / 'store.sqlite3'}"
    else:
        bad = store_url.rsplit("/", 1)[0] + "/no_such_database"
    with pytest.raises(StoreError) as caught:
        open_store(bad)
    again = pickle.loads(pickle.dumps(caught.value))
    assert type(again) is StoreError and str(again) == str(caught.value)
    store = open_store(store_url)
    store.close()
    with pytest.raises(StoreError):
        store.commit_pulled("GET_SMS_MO", [reply("13800138000", "x")])


def test_a_dead_holders_exhausted_records_go_dead_not_stuck(store_url: str) -> None:
    dead_owner = _owner_of_a_finished_process()
    with open_store(store_url, max_handoffs=1) as store:
        [record_id] = store.commit_pulled("GET_SMS_MO", [reply("13800138000", "kills every consumer")])
        assert [r.id for r in store.claim(dead_owner)] == [record_id]
        assert store.claim(process_owner()) == []  # its one hand-off was used up by the dead consumer
        assert [r.id for r in store.records("dead")] == [record_id] and store.pending() == []
