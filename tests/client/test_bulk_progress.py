"""A bulk send that stops part-way keeps every receipt: whatever stopped it (the caller's ``on_progress``
raising, a batch whose outcome is unknown, several at once), the :class:`BulkSendError` accounts for every
number exactly once -- accepted (with its message id), failed (attempted, fate in ``error``), or never
attempted -- and the mock's ledger agrees. Sync with one and four requests in flight, and async.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

import pytest

from winic_soap import AsyncWinicClient, BulkSendError, OutcomeUnknown, RetryPolicy, WinicClient
from winic_soap.mock import MockService

NUMBERS = [f"138{i:08d}" for i in range(450)]  # five requests: 100, 100, 100, 100, 50


class CallbackFailed(Exception):
    """What a caller's progress callback raises."""


def raise_on(call: int) -> Callable[[int, int], None]:
    """An ``on_progress`` that raises on its ``call``-th invocation."""
    seen: list[int] = []

    def on_progress(done: int, total: int) -> None:
        seen.append(done)
        if len(seen) == call:
            raise CallbackFailed(f"progress display broke at {done}/{total}")

    return on_progress


def send_sync(mock: MockService, concurrency: int, on_progress: Callable[[int, int], None] | None) -> BulkSendError:
    retry = RetryPolicy(sleep=lambda _s: None)
    with (
        WinicClient("demo", "demo-secret", endpoint=mock.url, retry=retry) as client,
        pytest.raises(BulkSendError) as caught,
    ):
        client.send(NUMBERS, "通知", concurrency=concurrency, on_progress=on_progress)
    return caught.value


def send_async(mock: MockService, concurrency: int, on_progress: Callable[[int, int], None] | None) -> BulkSendError:
    async def run() -> BulkSendError:
        async def no_sleep(_s: float) -> None:
            return None

        retry = RetryPolicy(sleep=lambda _s: None, async_sleep=no_sleep)
        async with AsyncWinicClient("demo", "demo-secret", endpoint=mock.url, retry=retry) as client:
            try:
                await client.send(NUMBERS, "通知", concurrency=concurrency, on_progress=on_progress)
            except BulkSendError as exc:
                return exc
        raise AssertionError("the bulk send did not stop")

    return asyncio.run(run())


Sender = Callable[[MockService, int, Callable[[int, int], None] | None], BulkSendError]
SENDERS: dict[str, tuple[Sender, int]] = {
    "sync, one in flight": (send_sync, 1),
    "sync, four in flight": (send_sync, 4),
    "async, one in flight": (send_async, 1),
    "async, four in flight": (send_async, 4),
}


def assert_accounted(error: BulkSendError, mock: MockService) -> None:
    """Every number is in exactly one of accepted / unknown / failed / unsent, and the ledger agrees with each:
    a number called failed never reached the service."""
    accepted = [n for s in error.receipts for n in s.recipients]
    listed = Counter(accepted + list(error.unknown) + list(error.failed) + list(error.unsent))
    assert sorted(listed) == sorted(NUMBERS) and set(listed.values()) == {1}, "a number lost or listed twice"
    attempted = Counter(
        n for e in mock.ledger if e.operation == "SendMessages" for n in (e.params["tos"] or "").split(",")
    )
    assert set(attempted.values()) <= {1}, "a number went to the service twice"
    assert not set(error.unsent) & set(attempted), "a number reported never attempted reached the service"
    assert not set(error.failed) & set(attempted), "a number reported failed (not sent) reached the service"
    assert set(accepted) | set(error.unknown) == set(attempted)
    ids = {s.message_id for s in error.receipts}
    assert None not in ids and ids <= {s.message_id for s in mock.state.sends}
    for submission in error.receipts:  # each receipt carries the id the service gave those very numbers
        sent = next(s for s in mock.state.sends if s.message_id == submission.message_id)
        assert sent.recipients == submission.recipients


@pytest.mark.parametrize(("send", "concurrency"), SENDERS.values(), ids=SENDERS.keys())
def test_callback_raising_keeps_every_receipt(winic_mock: MockService, send: Sender, concurrency: int) -> None:
    error = send(winic_mock, concurrency, raise_on(2))
    assert isinstance(error.error, CallbackFailed) and error.failed == () and error.unknown == ()
    assert len(error.receipts) >= 2 and len(winic_mock.state.sends) == len(error.receipts)
    assert_accounted(error, winic_mock)
    if concurrency == 1:  # it stopped: no new request after the callback raised
        assert [n for s in error.receipts for n in s.recipients] == NUMBERS[:200]
        assert error.unsent == tuple(NUMBERS[200:])


@pytest.mark.parametrize(("send", "concurrency"), SENDERS.values(), ids=SENDERS.keys())
def test_callback_raising_on_the_last_batch(winic_mock: MockService, send: Sender, concurrency: int) -> None:
    error = send(winic_mock, concurrency, raise_on(5))
    assert isinstance(error.error, CallbackFailed)
    assert len(error.receipts) == 5 and error.unsent == () and error.failed == ()
    assert_accounted(error, winic_mock)


@pytest.mark.parametrize(("send", "concurrency"), SENDERS.values(), ids=SENDERS.keys())
def test_unknown_outcome_mid_bulk(winic_mock: MockService, send: Sender, concurrency: int) -> None:
    winic_mock.fail("close_after", operation="SendMessages", every=2, times=1)  # the 2nd request: sent, reply lost
    error = send(winic_mock, concurrency, None)
    assert isinstance(error.error, OutcomeUnknown)
    if concurrency == 1:  # with four in flight, the second to arrive may be the last, shorter batch
        assert error.unknown == tuple(NUMBERS[100:200]) and error.unsent == tuple(NUMBERS[200:])
    assert error.failed == ()
    assert_accounted(error, winic_mock)


@pytest.mark.parametrize(("send", "concurrency"), SENDERS.values(), ids=SENDERS.keys())
def test_two_batches_failing_at_once(winic_mock: MockService, send: Sender, concurrency: int) -> None:
    """Each batch whose reply was lost is unknown, never unsent. With four in flight both failures usually
    happen; a loaded machine may answer the first before the second batch started, which then never does."""
    winic_mock.fail("close_after", operation="SendMessages", times=2)  # the first two to arrive: sent, reply lost
    error = send(winic_mock, concurrency, None)
    assert isinstance(error.error, OutcomeUnknown)
    assert_accounted(error, winic_mock)
    lost = [e for e in winic_mock.ledger if e.fault == "close_after"]
    assert lost and sorted(error.unknown) == sorted(n for e in lost for n in (e.params["tos"] or "").split(","))
    if concurrency == 1:
        assert len(lost) == 1


@pytest.mark.parametrize(("send", "concurrency"), SENDERS.values(), ids=SENDERS.keys())
def test_callback_raising_then_an_in_flight_batch_failing(
    winic_mock: MockService, send: Sender, concurrency: int
) -> None:
    winic_mock.fail("close_after", operation="SendMessages", every=2, times=1)
    error = send(winic_mock, concurrency, raise_on(1))
    assert_accounted(error, winic_mock)
