"""The inbox and watcher through their library API: stored before handed on, acked after success."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from winic_soap import InputError
from winic_soap.inbox import Inbox, InboxRecord
from winic_soap.watcher import HandOffError, Watcher


@pytest.fixture
def inbox(tmp_path: Path):  # type: ignore[no-untyped-def]
    with Inbox(tmp_path / "inbox.sqlite3") as store:
        yield store


def test_poll_stores_then_hands_on_and_acks(make_client, winic_mock, inbox: Inbox) -> None:  # type: ignore[no-untyped-def]
    client = make_client()
    receipt = client.send(["13800138000", "13900139000"], "joined text")
    inbox.record_send(receipt)
    winic_mock.add_reply("13800138000", "a reply", port="001")
    seen: list[InboxRecord] = []
    watcher = Watcher(client, inbox, seen.append)
    assert watcher.poll_once() == (3, 3)
    assert sorted(r.kind for r in seen) == ["reply", "report", "report"]
    report = next(r for r in seen if r.kind == "report")
    assert report.send == {
        "text": "joined text",
        "sent_at": report.send["sent_at"],
        "operation": "SendMessages",
        "recipients": 2,
    }
    assert inbox.pending() == [] and inbox.counts() == {"records": 3, "pending": 0, "done": 3, "sends": 1}
    assert [r.data["mobile"] for r in inbox.by_message_id(receipt.message_id)] == ["13800138000", "13900139000"]
    assert watcher.poll_once() == (0, 0)


def test_handler_failure_keeps_the_record_pending(make_client, winic_mock, inbox: Inbox) -> None:  # type: ignore[no-untyped-def]
    client = make_client()
    client.send(["13800138000", "13900139000"], "x")
    calls: list[int] = []

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
    assert watcher.poll_once() == (0, 1)  # handed on again, once
    assert calls == [calls[0], calls[1], calls[1]]


def test_records_survive_a_new_process_view(make_client, winic_mock, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client = make_client()
    client.send("13800138000", "x")
    with Inbox(tmp_path / "a.sqlite3") as first:
        Watcher(client, first, lambda r: None, sources=["reports"]).pull_once()  # stored, never handed on
    with Inbox(tmp_path / "a.sqlite3") as second:
        [record] = second.pending()
        assert record.data["status"] == "DELIVRD" and record.raw.endswith("DELIVRD/" + record.raw.rsplit("/", 1)[1])


def test_interval_rule_and_backoff(make_client, inbox: Inbox) -> None:  # type: ignore[no-untyped-def]
    client = make_client()
    for bad in (4.9, 30.1):
        with pytest.raises(InputError, match="between 5 and 30"):
            Watcher(client, inbox, print, interval=bad)
    with pytest.raises(InputError):
        Watcher(client, inbox, print, sources=["everything"])
    watcher = Watcher(client, inbox, print, interval=10, jitter=lambda limit: limit, max_backoff=60)
    assert watcher.next_wait() == 10
    watcher.failures = 1
    assert watcher.next_wait() == 20
    watcher.failures = 5
    assert watcher.next_wait() == 60


def test_run_backs_off_when_the_service_fails(make_client, winic_mock, inbox: Inbox) -> None:  # type: ignore[no-untyped-def]
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


def test_records_that_cannot_be_stored_are_logged_before_failing(
    make_client, winic_mock, tmp_path: Path, caplog
) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    client = make_client()
    winic_mock.add_reply("13800138000", "must not vanish")
    broken = Inbox(tmp_path / "broken.sqlite3")
    broken.close()  # every write now fails
    with pytest.raises(sqlite3.Error):
        Watcher(client, broken, print, sources=["replies"]).pull_once()
    assert "13800138000/must not vanish/001/" in caplog.text
