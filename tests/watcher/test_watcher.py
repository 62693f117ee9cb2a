"""The store's inbox and the watcher through their library API: stored before handed on, acked after success."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.shared import MakeClient

from winic_soap import HandOffError, InputError
from winic_soap.mock import MockService
from winic_soap.store import InboxRecord, Store, open_store
from winic_soap.watcher import Watcher


class Clock:
    """The store's clock: a failed record's retry pause passes when the test says so."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def inbox(tmp_path: Path, clock: Clock) -> Iterator[Store]:
    with open_store(tmp_path / "inbox.sqlite3", clock=clock) as store:
        yield store


def test_poll_stores_then_hands_on_and_acks(make_client: MakeClient, winic_mock: MockService, inbox: Store) -> None:
    client = make_client()
    receipt = client.send(["13800138000", "13900139000"], "joined text")
    job = inbox.record_send(receipt)
    winic_mock.add_reply("13800138000", "a reply", port="001")
    seen: list[InboxRecord] = []
    watcher = Watcher(client, inbox, seen.append)
    assert watcher.poll_once() == (3, 3)
    assert sorted(r.kind for r in seen) == ["reply", "report", "report"]
    report = next(r for r in seen if r.kind == "report")
    assert report.send is not None
    assert report.send == {
        "text": "joined text",
        "sent_at": report.send["sent_at"],
        "operation": "SendMessages",
        "recipients": 2,
        "job": job,
        "batch": 0,
    }
    assert report.data["at"].endswith("+08:00") and report.pulled_at.endswith("+00:00")
    assert inbox.pending() == []
    assert inbox.counts() == {"records": 3, "pending": 0, "done": 3, "dead": 0, "batches": 1}
    assert receipt.message_id is not None
    assert [r.data["mobile"] for r in inbox.by_message_id(receipt.message_id)] == ["13800138000", "13900139000"]
    assert watcher.poll_once() == (0, 0)


def test_handler_failure_keeps_the_record_pending(
    make_client: MakeClient, winic_mock: MockService, inbox: Store, clock: Clock
) -> None:
    client = make_client()
    client.send(["13800138000", "13900139000"], "x")
    calls: list[str] = []

    def flaky(record: InboxRecord) -> None:
        calls.append(record.id)
        if len(calls) == 2:
            raise RuntimeError("downstream is down")

    watcher = Watcher(client, inbox, flaky, sources=["reports"])
    with pytest.raises(HandOffError) as caught:
        watcher.poll_once()
    assert caught.value.record_id == calls[1]
    [pending] = inbox.pending()
    assert pending.id == calls[1] and pending.attempts == 1
    assert watcher.poll_once() == (0, 0)  # not at once: after a pause of one interval
    clock.now += watcher.interval + 1
    assert watcher.poll_once() == (0, 1)  # handed on again, once
    assert calls == [calls[0], calls[1], calls[1]]


def test_a_poison_record_goes_dead_and_later_ones_flow_on(
    make_client: MakeClient, winic_mock: MockService, tmp_path: Path, clock: Clock
) -> None:
    client = make_client()
    winic_mock.add_reply("13800138000", "poison")
    winic_mock.add_reply("13900139000", "fine")
    handed: list[str] = []

    def handler(record: InboxRecord) -> None:
        if record.data["text"] == "poison":
            raise ValueError("cannot parse")
        handed.append(record.data["text"])

    with open_store(tmp_path / "s.sqlite3", clock=clock, max_handoffs=3) as store:
        watcher = Watcher(client, store, handler, sources=["replies"])
        for _ in range(4):
            with pytest.raises(HandOffError):
                watcher.poll_once()
            clock.now += watcher.interval + 1
            winic_mock.add_reply("13700137000", f"later {_}")
            if not store.pending():
                break
        assert watcher.poll_once()[1] >= 1  # nothing blocks the later ones
        assert not winic_mock.state.pending_replies()  # nor the pulls
        [dead] = store.records("dead")
        assert dead.data["text"] == "poison" and dead.attempts == 3 and "cannot parse" in (dead.last_error or "")
        assert handed[0] == "fine" and "later 0" in handed and store.pending() == []


def test_records_survive_a_new_process_view(make_client: MakeClient, winic_mock: MockService, tmp_path: Path) -> None:
    client = make_client()
    client.send("13800138000", "x")
    with open_store(tmp_path / "a.sqlite3") as first:
        Watcher(client, first, lambda r: None, sources=["reports"]).pull_once()  # stored, never handed on
    with open_store(f"sqlite:///{tmp_path / 'a.sqlite3'}") as second:
        [record] = second.pending()
        assert record.data["status"] == "DELIVRD" and record.raw.endswith("DELIVRD/" + record.raw.rsplit("/", 1)[1])


def test_interval_rule_and_backoff(make_client: MakeClient, inbox: Store) -> None:
    client = make_client()
    for bad in (4.9, 30.1):
        with pytest.raises(InputError, match="between 5 and 30"):
            Watcher(client, inbox, print, interval=bad)
    with pytest.raises(InputError):
        Watcher(client, inbox, print, sources=["everything"])
    with pytest.raises(InputError, match="longer than the interval"):
        Watcher(client, inbox, print, interval=10, lease=10)
    watcher = Watcher(client, inbox, print, interval=10, jitter=lambda limit: limit, max_backoff=60, lease=20)
    assert watcher.next_wait() == 5  # on stand-by: a quarter lease, to take over in time
    watcher.holding = True
    assert watcher.next_wait() == 10
    watcher.failures = 1
    assert watcher.next_wait() == 20
    watcher.failures = 5
    assert watcher.next_wait() == 60


def test_run_backs_off_when_the_service_fails(make_client: MakeClient, winic_mock: MockService, inbox: Store) -> None:
    from winic_soap import RetryPolicy

    client = make_client(retry=RetryPolicy.never())
    winic_mock.fail("http503", times=None)
    stop = threading.Event()
    waits: list[float] = []

    class Recorder(Watcher):
        def next_wait(self) -> float:
            waits.append(super().next_wait())
            if len(waits) == 3:
                stop.set()
            return 0.0

    Recorder(client, inbox, print, interval=5, jitter=lambda limit: 0.0).run(stop)
    assert waits == [5.0, 10.0, 20.0]


def test_a_failing_handler_does_not_slow_the_pulls(
    make_client: MakeClient, winic_mock: MockService, inbox: Store
) -> None:
    client = make_client()
    stop = threading.Event()
    waits: list[float] = []

    class Recorder(Watcher):
        def next_wait(self) -> float:
            waits.append(super().next_wait())
            winic_mock.add_reply("13800138000", f"reply {len(waits)}")
            if len(waits) == 3:
                stop.set()
            return 0.0

    def refuse(record: InboxRecord) -> None:
        raise RuntimeError("downstream is down")

    Recorder(client, inbox, refuse, interval=5, sources=["replies"]).run(stop)
    assert waits == [5.0, 5.0, 5.0]  # no backoff: the service is fine, the records wait their turn
    assert len(inbox.pending()) == 2 and not winic_mock.state.pending_replies()[:-1]
