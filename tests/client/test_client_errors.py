"""Every service code reaches the caller as its typed error, on every transport, for every operation."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from helpers.shared import TRANSPORTS, MakeClient

from winic_soap import (
    AccessDeniedError,
    AuthenticationError,
    BalanceError,
    MaintenanceError,
    RejectedRequestError,
    ServiceError,
    UnknownServiceError,
    WinicClient,
)
from winic_soap.mock import Account, MockService

CODES = {
    "-01": BalanceError,
    "-02": AuthenticationError,
    "-03": AuthenticationError,
    "-04": RejectedRequestError,
    "-05": RejectedRequestError,
    "-06": RejectedRequestError,
    "-07": RejectedRequestError,
    "-08": RejectedRequestError,
    "-09": MaintenanceError,
    "-10": RejectedRequestError,
    "-11": RejectedRequestError,
    "-12": UnknownServiceError,
    "-13": RejectedRequestError,
    "-14": AuthenticationError,
    "-110": AccessDeniedError,
    "-777": UnknownServiceError,
}
CALLS: dict[str, Callable[[WinicClient], object]] = {
    "SendMessages": lambda c: c.send("13800138000", "x"),
    "SendMessages_Ext": lambda c: c.send("13800138000", "x", ext="12"),
    "SendInternationalMessages": lambda c: c.send_international("447911123456", "x"),
    "GET_SMS_MO": lambda c: c.replies(),
    "GET_SMS_MO_Ext": lambda c: c.replies_ext(),
    "SMS_Reports": lambda c: c.reports(),
    "GetUserInfo": lambda c: c.account(),
    "RegineUser_": lambda c: c.register("n", "p", company="c", contact="l", mobile="13800138000"),
    "EditUserPwd": lambda c: c.change_password("new"),
}


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("code", list(CODES))
def test_forced_codes_raise_their_family(
    make_client: MakeClient, winic_mock: MockService, transport: str, code: str
) -> None:
    client = make_client(transport)
    for operation, call in CALLS.items():
        # -09 is retried for reads: force it on every attempt so it surfaces
        winic_mock.fail("code", code=code, operation=operation, times=None if code == "-09" else 1)
        with pytest.raises(CODES[code]) as caught:
            call(client)
        assert (caught.value.code, caught.value.operation, caught.value.transport) == (code, operation, transport)
        winic_mock.reset()
    assert issubclass(CODES[code], ServiceError)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_real_triggers(make_client: MakeClient, transport: str) -> None:
    with pytest.raises(AuthenticationError) as caught:
        make_client(transport, pwd="wrong").account()
    assert caught.value.code == "-03"
    with pytest.raises(AuthenticationError):
        make_client(transport, uid="ghost").reports()
    with pytest.raises(RejectedRequestError) as rejected:
        make_client(transport).call("SendMessages", tos="13800138000", msg="", otime="")
    assert rejected.value.code == "-04"


def test_balance_and_ip_restriction() -> None:
    accounts = [Account("poor", "pw", balance=Decimal("0.05")), Account("fenced", "pw", allowed_ips=("10.9.9.9",))]
    with MockService(accounts) as mock:
        with WinicClient("poor", "pw", endpoint=mock.url) as client, pytest.raises(BalanceError):
            client.send("13800138000", "x")
        with WinicClient("fenced", "pw", endpoint=mock.url) as client, pytest.raises(AccessDeniedError) as caught:
            client.account()
        assert caught.value.code == "-110" and "IP" in str(caught.value)
