"""Retry rules against the real mock (no real sleeps): a send repeats only when it never left."""

from __future__ import annotations

import logging
import socket
from decimal import Decimal

import pytest
from helpers.shared import MakeClient, SleepRecorder

from winic_soap import (
    BalanceError,
    BulkSendError,
    ConnectError,
    ConnectionLostError,
    HTTPStatusError,
    MaintenanceError,
    OutcomeUnknown,
    RetryPolicy,
    SendOutcomeUnknown,
    WinicClient,
)
from winic_soap.mock import Account, MockService


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_refused_then_up_sends_exactly_once() -> None:
    port = free_port()
    started: list[MockService] = []

    def sleep(_seconds: float) -> None:  # the service comes up while the client backs off
        if not started:
            started.append(MockService(port=port).start())

    try:
        with WinicClient(
            "demo", "demo-secret", endpoint=f"http://127.0.0.1:{port}/Service.asmx", retry=RetryPolicy(sleep=sleep)
        ) as client:
            receipt = client.send("13800138000", "after a refusal")
        assert len(started) == 1
        assert [e.message_id for e in started[0].state.sends] == [receipt.message_id]
        assert len(started[0].calls("SendMessages")) == 1
    finally:
        for mock in started:
            mock.stop()


def test_refused_for_good_is_a_connect_error_not_an_unknown_outcome(sleeps: SleepRecorder) -> None:
    port = free_port()
    with (
        WinicClient(
            "demo",
            "demo-secret",
            endpoint=f"http://127.0.0.1:{port}/Service.asmx",
            retry=RetryPolicy(max_attempts=3, sleep=sleeps),
        ) as client,
        pytest.raises(ConnectError) as caught,
    ):
        client.send("13800138000", "x")
    assert caught.value.reached is False and caught.value.processed is False
    assert len(sleeps.waits) == 2


@pytest.mark.parametrize("transport", ["soap11", "soap12", "http-post", "http-get"])
@pytest.mark.parametrize("fault", ["close_after", "truncate", "malformed"])
def test_reply_lost_after_processing_is_outcome_unknown_and_never_repeated(
    make_client: MakeClient, winic_mock: MockService, sleeps: SleepRecorder, transport: str, fault: str
) -> None:
    winic_mock.fail(fault, operation="SendMessages")
    with pytest.raises(SendOutcomeUnknown) as caught:
        make_client(transport).send(["13800138000", "13900139000"], "once only")
    assert caught.value.recipients == ("13800138000", "13900139000")
    assert caught.value.operation == "SendMessages" and caught.value.text == "once only"
    assert len(winic_mock.state.sends) == 1  # processed exactly once
    assert len(winic_mock.calls("SendMessages", processed=None)) == 1  # and asked exactly once
    assert sleeps.waits == []


@pytest.mark.parametrize("fault", ["close_before", "http503", "http500"])
def test_ambiguous_failures_of_a_send_are_surfaced_not_retried(
    make_client: MakeClient, winic_mock: MockService, sleeps: SleepRecorder, fault: str
) -> None:
    # the mock knows it did not process these; the client cannot know, so it must not guess
    winic_mock.fail(fault, operation="SendMessages")
    with pytest.raises(SendOutcomeUnknown):
        make_client().send("13800138000", "x")
    assert len(winic_mock.calls("SendMessages", processed=None)) == 1 and sleeps.waits == []


def test_send_read_timeout_is_outcome_unknown(
    make_client: MakeClient, winic_mock: MockService, sleeps: SleepRecorder
) -> None:
    winic_mock.fail("latency", seconds=0.6, operation="SendMessages")
    with pytest.raises(SendOutcomeUnknown) as caught:
        make_client(timeout=0.2).send("13800138000", "slow")
    assert "ReadTimeoutError" in str(caught.value)
    assert sleeps.waits == []


@pytest.mark.parametrize("transport", ["soap11", "http-post"])
def test_reads_are_retried_through_503s(
    make_client: MakeClient,
    winic_mock: MockService,
    sleeps: SleepRecorder,
    transport: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    winic_mock.fail("http503", operation="SMS_Reports", times=2)
    caplog.set_level(logging.WARNING, logger="winic_soap")
    assert make_client(transport).reports() == []
    assert len(sleeps.waits) == 2
    assert [e.processed for e in winic_mock.calls("SMS_Reports", processed=None)] == [False, False, True]
    assert caplog.text.count("retrying in") == 2


def test_reads_give_up_after_max_attempts(
    make_client: MakeClient, winic_mock: MockService, sleeps: SleepRecorder
) -> None:
    winic_mock.fail("http503", times=None)
    with pytest.raises(HTTPStatusError) as caught:
        make_client(retry=RetryPolicy(max_attempts=3, sleep=sleeps)).account()
    assert caught.value.status == 503 and len(sleeps.waits) == 2


def test_reads_retry_lost_connections_and_timeouts(
    make_client: MakeClient, winic_mock: MockService, sleeps: SleepRecorder
) -> None:
    winic_mock.fail("close_before", operation="GetUserInfo")
    winic_mock.fail("latency", seconds=0.6, operation="GET_SMS_MO")
    client = make_client(timeout=0.3)
    assert client.account().uid == "demo"
    assert client.replies() == []
    assert len(sleeps.waits) == 2


def test_lost_pull_answer_is_warned_about(
    make_client: MakeClient, winic_mock: MockService, sleeps: SleepRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    winic_mock.add_reply("13800138000", "lost forever")
    winic_mock.fail("close_after", operation="GET_SMS_MO", times=None)
    with pytest.raises(ConnectionLostError):
        make_client(retry=RetryPolicy(max_attempts=2, sleep=sleeps)).replies()
    assert "cannot be pulled again" in caplog.text


def test_a_lost_pull_answer_is_warned_about_even_when_the_retry_succeeds(
    make_client: MakeClient, winic_mock: MockService, caplog: pytest.LogCaptureFixture
) -> None:
    winic_mock.add_reply("13800138000", "handed out, then lost")
    winic_mock.add_reply("13900139000", "still there")
    winic_mock.fail("close_after", operation="GET_SMS_MO")
    winic_mock.state.pull_limit = 1  # the first pull takes one reply, whose answer is then lost
    assert [r.text for r in make_client().replies()] == ["still there"]
    assert "cannot be pulled again" in caplog.text


def test_maintenance_is_retried_for_reads_not_sends(
    make_client: MakeClient, winic_mock: MockService, sleeps: SleepRecorder
) -> None:
    client = make_client()
    winic_mock.fail("code", code="-09", operation="GetUserInfo", times=2)
    assert client.account().uid == "demo" and len(sleeps.waits) == 2
    winic_mock.fail("code", code="-09", operation="SendMessages")
    with pytest.raises(MaintenanceError):
        client.send("13800138000", "x")
    assert len(sleeps.waits) == 2


def test_business_codes_are_final(make_client: MakeClient, winic_mock: MockService, sleeps: SleepRecorder) -> None:
    winic_mock.fail("code", code="-01", operation="SendMessages")
    with pytest.raises(BalanceError):
        make_client().send("13800138000", "x")
    assert sleeps.waits == [] and winic_mock.state.sends == []


def test_waits_grow_and_stay_under_the_cap(sleeps: SleepRecorder) -> None:
    port = free_port()
    policy = RetryPolicy(max_attempts=6, backoff=0.5, backoff_max=2.0, sleep=sleeps)
    with (
        WinicClient("demo", "pw", endpoint=f"http://127.0.0.1:{port}/Service.asmx", retry=policy) as client,
        pytest.raises(ConnectError),
    ):
        client.account()
    assert len(sleeps.waits) == 5 and all(0 <= w <= 2.0 for w in sleeps.waits)


def test_password_change_with_lost_reply_is_outcome_unknown(make_client: MakeClient, winic_mock: MockService) -> None:
    client = make_client()
    winic_mock.fail("close_after", operation="EditUserPwd")
    with pytest.raises(OutcomeUnknown) as caught:
        client.change_password("maybe-new")
    assert not isinstance(caught.value, SendOutcomeUnknown)
    assert len(winic_mock.calls("EditUserPwd")) == 1


def test_bulk_failure_in_one_chunk_never_resends_another(make_client: MakeClient, winic_mock: MockService) -> None:
    numbers = [f"138{i:08d}" for i in range(250)]
    winic_mock.fail("close_after", operation="SendMessages", every=2, times=1)  # the 2nd request's reply is lost
    with pytest.raises(BulkSendError) as caught:
        make_client().send(numbers, "bulk")
    error = caught.value
    assert [s.recipients for s in error.receipts] == [tuple(numbers[:100])]
    assert isinstance(error.error, SendOutcomeUnknown) and error.unknown == tuple(numbers[100:200])
    assert error.failed == ()
    assert error.unsent == tuple(numbers[200:])
    assert [len(s.recipients) for s in winic_mock.state.sends] == [100, 100]


def test_bulk_definite_failure_reports_what_went_out() -> None:
    with (
        MockService([Account("demo", "demo-secret", balance=Decimal("15"))]) as mock,
        WinicClient("demo", "demo-secret", endpoint=mock.url) as client,
    ):
        with pytest.raises(BulkSendError) as caught:
            client.send([f"138{i:08d}" for i in range(300)], "x")
        assert isinstance(caught.value.error, BalanceError)
        assert len(caught.value.receipts) == 1 and len(caught.value.unsent) == 100
        assert len(mock.state.sends) == 1
