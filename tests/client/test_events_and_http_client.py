"""Observability and the user's own HTTP client: one event per attempt (log record with ``extra`` fields and
the client's hooks), httpx2's event hooks on a client the user hands in, and who closes what."""

from __future__ import annotations

import asyncio
import logging
import pickle
from collections import Counter

import httpx2
import pytest
from helpers.shared import SleepRecorder

from winic_soap import (
    AsyncWinicClient,
    CallEvent,
    ClientClosedError,
    ConnectError,
    HTTPStatusError,
    ReadTimeoutError,
    RetryPolicy,
    SendOutcomeUnknown,
    WinicClient,
)
from winic_soap.mock import MockService

PWD = "demo-secret"


def test_every_attempt_emits_one_event_to_hooks_and_the_log(
    winic_mock: MockService, sleeps: SleepRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[CallEvent] = []
    winic_mock.fail("http503", operation="GetUserInfo")
    caplog.set_level(logging.INFO, logger="winic_soap.calls")
    with WinicClient("demo", PWD, endpoint=winic_mock.url, hooks=[events.append], retry=RetryPolicy(sleep=sleeps)) as c:
        receipt = c.send("13800138000", "hello")
        c.account()
    sent, failed, retried = events
    assert (sent.operation, sent.transport, sent.attempt, sent.outcome) == ("SendMessages", "soap11", 1, "ok")
    assert sent.message_id == receipt.message_id and sent.retry_in is None and sent.duration > 0
    assert (failed.operation, failed.attempt, failed.outcome) == ("GetUserInfo", 1, "HTTPStatusError")
    assert failed.retry_in == sleeps.waits[0]  # the wait the retry layer then slept
    assert (retried.attempt, retried.outcome, retried.message_id) == (2, "ok", None)
    records = [r for r in caplog.records if r.name == "winic_soap.calls"]
    assert [vars(r)["winic_operation"] for r in records] == ["SendMessages", "GetUserInfo", "GetUserInfo"]
    assert vars(records[0])["winic_message_id"] == receipt.message_id  # the log record's extra fields
    assert all(PWD not in r.getMessage() for r in caplog.records)


def test_a_failed_write_emits_its_event_before_the_unknown_outcome(winic_mock: MockService) -> None:
    events: list[CallEvent] = []
    winic_mock.fail("close_after", operation="SendMessages")
    with (
        WinicClient("demo", PWD, endpoint=winic_mock.url, hooks=[events.append]) as c,
        pytest.raises(SendOutcomeUnknown),
    ):
        c.send("13800138000", "once")
    # the attempt's event says what the call raises: the send may have been processed
    assert [(e.attempt, e.outcome, e.retry_in) for e in events] == [(1, "unknown", None)]


def test_a_failing_hook_never_fails_the_call(winic_mock: MockService, caplog: pytest.LogCaptureFixture) -> None:
    def broken(event: CallEvent) -> None:
        raise RuntimeError("metrics backend down")

    with WinicClient("demo", PWD, endpoint=winic_mock.url, hooks=[broken]) as c:
        assert c.send("13800138000", "still sent").message_id
    assert "call hook" in caplog.text and len(winic_mock.calls("SendMessages")) == 1


def test_events_are_plain_values() -> None:
    event = CallEvent("SendMessages", "soap11", 1, 0.01, "ok", "1" * 16, None)
    assert pickle.loads(pickle.dumps(event)) == event
    assert event.as_extra()["winic_outcome"] == "ok"


def test_a_user_http_client_carries_every_call_and_stays_open(winic_mock: MockService) -> None:
    seen: list[str] = []
    http = httpx2.Client(event_hooks={"request": [lambda request: seen.append(request.method)]}, timeout=5)
    with WinicClient("demo", PWD, endpoint=winic_mock.url, http_client=http) as c:
        c.send("13800138000", "through your client")
        c.account()
    assert seen == ["POST", "POST"]
    assert not http.is_closed  # the user's to close
    http.close()


def test_a_closed_client_sends_nothing_and_is_not_retried(winic_mock: MockService, sleeps: SleepRecorder) -> None:
    c = WinicClient("demo", PWD, endpoint=winic_mock.url, retry=RetryPolicy(sleep=sleeps))
    c.close()
    with pytest.raises(ClientClosedError):
        c.send("13800138000", "after close")
    assert winic_mock.ledger == [] and sleeps.waits == []


def test_deadline_bounds_the_whole_call_across_retries(winic_mock: MockService) -> None:
    """With a 0.3 s deadline and 0.2 s of latency per attempt, the call stops before its fourth attempt."""
    winic_mock.fail("latency", seconds=0.2, times=None)
    winic_mock.fail("http503", times=None, operation="GetUserInfo")
    events: list[CallEvent] = []
    policy = RetryPolicy(max_attempts=10, deadline=0.3, backoff=0.01, backoff_max=0.01)
    with (
        WinicClient("demo", PWD, endpoint=winic_mock.url, retry=policy, hooks=[events.append]) as c,
        pytest.raises((HTTPStatusError, ReadTimeoutError, ConnectError)) as raised,
    ):
        c.account()
    assert 1 <= len(events) <= 2, events  # never the ten attempts the policy would otherwise allow
    if isinstance(raised.value, ConnectError):  # on a loaded machine (tests in parallel) the deadline can
        assert "timed out" in str(raised.value)  # run out while connecting: that is the deadline too


def test_async_client_retries_reads_and_hooks_see_it(winic_mock: MockService) -> None:
    events: list[CallEvent] = []
    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)

    async def main() -> str:
        winic_mock.fail("http503", operation="GetUserInfo")
        async with AsyncWinicClient(
            "demo", PWD, endpoint=winic_mock.url, hooks=[events.append], retry=RetryPolicy(async_sleep=no_sleep)
        ) as c:
            return (await c.account()).uid

    assert asyncio.run(main()) == "demo"
    assert [(e.attempt, e.outcome) for e in events] == [(1, "HTTPStatusError"), (2, "ok")]
    assert events[0].retry_in == waits[0]


def test_async_bulk_runs_concurrently_and_keeps_order(winic_mock: MockService) -> None:
    numbers = [f"138{i:08d}" for i in range(450)]
    progress: list[tuple[int, int]] = []

    async def main() -> tuple[str | None, ...]:
        async with AsyncWinicClient("demo", PWD, endpoint=winic_mock.url) as c:
            receipt = await c.send(numbers, "bulk", concurrency=4, on_progress=lambda d, t: progress.append((d, t)))
            assert receipt.recipients == tuple(numbers)  # batches in order, whatever order they finished in
            return receipt.message_ids

    ids = asyncio.run(main())
    assert len(ids) == 5 and len(set(ids)) == 5
    assert Counter(e.message_id for e in winic_mock.state.sends) == Counter(ids)  # in any order
    assert progress[-1] == (5, 5)
