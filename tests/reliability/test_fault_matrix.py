"""Every operation x every transport x every fault, from the mock's scripting and from a TCP proxy:
the outcome class the caller sees, and the mock's ledger (a write processed once or not at all)."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

import pytest
from helpers.rel_secrets import NEW_PWD, PWD, assert_no_secret
from helpers.tcp_proxy import HttpFault, tcp_proxy

from winic_soap import (
    ConnectError,
    MaintenanceError,
    OutcomeUnknown,
    RetryPolicy,
    SendOutcomeUnknown,
    WinicClient,
)
from winic_soap.mock import MockService

TRANSPORTS = ("soap11", "soap12", "http-post", "http-get")
SENDS: dict[str, Callable[[WinicClient], Any]] = {
    "SendMessages": lambda c: c.send(["13800138000", "13900139000"], "fault matrix"),
    "SendMessages_Ext": lambda c: c.send("13800138000", "fault matrix", ext="77"),
    "SendInternationalMessages": lambda c: c.send_international("447911123456", "fault matrix"),
}
OTHER_WRITES: dict[str, Callable[[WinicClient], Any]] = {
    "RegineUser_": lambda c: c.register("fresh", "pw", company="c", contact="l", mobile="13800138000"),
    "EditUserPwd": lambda c: c.change_password(NEW_PWD),
}
READS: dict[str, Callable[[WinicClient], Any]] = {
    "GET_SMS_MO": lambda c: c.replies(),
    "GET_SMS_MO_Ext": lambda c: c.replies_ext(),
    "SMS_Reports": lambda c: c.reports(),
    "GetUserInfo": lambda c: c.account(),
}
OPERATIONS = {**SENDS, **OTHER_WRITES, **READS}
# fault -> processed by the service on the faulty attempt?
MOCK_FAULTS = {
    "close_before": False,
    "close_after": True,
    "truncate": True,
    "malformed": True,
    "http500": False,
    "http503": False,
}
PROXY_FAULTS: dict[HttpFault, bool] = {"stall": False, "reset_before": False, "reset_after": True, "truncate": True}


def _client(endpoint: str, transport: str) -> WinicClient:
    return WinicClient(
        "rel",
        PWD,
        endpoint=endpoint,
        transport=transport,
        timeout=0.4,
        retry=RetryPolicy(max_attempts=3, sleep=lambda _s: None),
    )


def _check(client: WinicClient, mock: MockService, operation: str, processed_on_fault: bool) -> str:
    """Run the operation once, assert its outcome and ledger, and return the outcome class."""
    call = OPERATIONS[operation]
    if operation in READS:
        call(client)  # one-shot fault: retried, then served
        runs = mock.calls(operation)
        assert len(runs) == (2 if processed_on_fault else 1)
        return "retried-and-succeeded"
    with pytest.raises(OutcomeUnknown) as caught:
        call(client)
    error = caught.value
    assert isinstance(error, SendOutcomeUnknown) == (operation in SENDS)
    assert_no_secret(str(error), repr(error), "".join(traceback.format_exception(error)))
    assert len(mock.calls(operation)) == (1 if processed_on_fault else 0)  # never twice
    assert len(mock.calls(operation, processed=None)) <= 1  # and asked at most once
    return "outcome-unknown"


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("operation", list(OPERATIONS))
@pytest.mark.parametrize("fault", list(MOCK_FAULTS))
def test_mock_faults(rel_mock: MockService, transport: str, operation: str, fault: str) -> None:
    rel_mock.add_reply("13800138000", "r", uid="rel")
    rel_mock.fail(fault, operation=operation)
    with _client(rel_mock.url, transport) as client:
        _check(client, rel_mock, operation, MOCK_FAULTS[fault])


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("operation", list(OPERATIONS))
@pytest.mark.parametrize("fault", list(PROXY_FAULTS))
def test_proxy_faults(rel_mock: MockService, transport: str, operation: str, fault: HttpFault) -> None:
    with tcp_proxy(rel_mock.url, http=True) as proxy:
        proxy.script(fault, times=1)
        with _client(proxy.url, transport) as client:
            _check(client, rel_mock, operation, PROXY_FAULTS[fault])
        assert proxy.handled[0] == fault


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_maintenance_code(rel_mock: MockService, transport: str, operation: str) -> None:
    rel_mock.fail("code", code="-09", operation=operation, times=1)
    with _client(rel_mock.url, transport) as client:
        if operation in READS:
            OPERATIONS[operation](client)
            assert len(rel_mock.calls(operation)) == 1
        else:
            with pytest.raises(MaintenanceError):
                OPERATIONS[operation](client)
            assert rel_mock.calls(operation) == []


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_refused_connections_send_nothing(transport: str, operation: str) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with _client(f"http://127.0.0.1:{port}/Service.asmx", transport) as client, pytest.raises(ConnectError) as caught:
        OPERATIONS[operation](client)
    assert caught.value.reached is False
    assert_no_secret(str(caught.value), "".join(traceback.format_exception(caught.value)))
