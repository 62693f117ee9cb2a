"""A write whose fate nobody can know is an unknown outcome, never a plain error a caller would retry.

Two ways to get there, table-driven over all four transports: an answer that arrived but is not a valid
result (a send's id, an ack's ``000``), and an HTTP 500 ``text/plain`` whose exception may have come
from inside the web method. Only ASMX's own refusals before the method ran are "not processed".
The mock's ledger shows each write reached the service once: nothing is ever sent twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers.shared import TRANSPORTS, MakeClient, SleepRecorder, cli_env, run_cli

from winic_soap import (
    HTTPStatusError,
    OutcomeUnknown,
    ProtocolError,
    SendOutcomeUnknown,
    TransportError,
    WinicClient,
    WinicError,
)
from winic_soap.mock import MockService, protocol

_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_ENVELOPE = {
    "soap11": ("http://schemas.xmlsoap.org/soap/envelope/", "text/xml; charset=utf-8"),
    "soap12": ("http://www.w3.org/2003/05/soap-envelope", "application/soap+xml; charset=utf-8"),
}
NIL = object()  # the result element present with xsi:nil="true"
ABSENT = None  # the result element left out, as ASMX does for a null string


def answer(transport: str, operation: str, value: Any) -> dict[str, Any]:
    """``fail("reply", ...)`` arguments that make the mock answer ``value`` the way ASMX would on ``transport``."""
    if transport in _ENVELOPE:
        ns, ctype = _ENVELOPE[transport]
        if value is NIL:
            inner = f'<{operation}Result xsi:nil="true" xmlns:xsi="{_XSI}" />'
            body = (
                f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{ns}"><soap:Body>'
                f'<{operation}Response xmlns="http://tempuri.org/">{inner}</{operation}Response>'
                "</soap:Body></soap:Envelope>"
            ).encode()
        else:
            body = protocol.render_soap_result(transport, operation, value).body
        return {"status": 200, "body": body, "content_type": ctype, "operation": operation}
    rendered = protocol.render_form_result(None if value is NIL else value)
    if value is ABSENT:  # the HTTP bindings have no "absent": an empty <string /> instead
        rendered = protocol.render_form_result("")
    return {"status": 200, "body": rendered.body, "content_type": "text/xml; charset=utf-8", "operation": operation}


NOT_AN_ID = {
    "empty": "",
    "OK": "OK",
    "17 digits": "12345678901234567",
    "15 digits": "123456789012345",
    "id with trailing text": "1234567890123456 OK",
    "id, comma, more": "1234567890123456,1234567890123457",
    "nil": NIL,
    "absent": ABSENT,
}
NOT_AN_ACK = {
    "empty": "",
    "OK": "OK",
    "0000": "0000",
    "000 with trailing text": "000 done",
    "a message id": "1234567890123456",
    "nil": NIL,
}


def _one_attempt(winic_mock: MockService, operation: str) -> None:
    """The write reached the service exactly once, and the faked answer kept it from running at all."""
    entries = winic_mock.calls(operation, processed=None)
    assert len(entries) == 1, [e.as_dict() for e in entries]
    assert not winic_mock.state.sends


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("value", NOT_AN_ID.values(), ids=NOT_AN_ID.keys())
def test_send_answer_that_is_not_an_id_is_unknown(
    make_client: MakeClient, winic_mock: MockService, sleeps: SleepRecorder, transport: str, value: Any
) -> None:
    winic_mock.fail("reply", **answer(transport, "SendMessages", value))
    client: WinicClient = make_client(transport)
    with pytest.raises(SendOutcomeUnknown) as caught:
        client.send("13800138000", "验证码 123456")
    assert caught.value.recipients == ("13800138000",)
    assert caught.value.operation == "SendMessages" and caught.value.transport == transport
    assert isinstance(caught.value.cause, ProtocolError)
    assert sleeps.waits == []
    _one_attempt(winic_mock, "SendMessages")


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("value", NOT_AN_ID.values(), ids=NOT_AN_ID.keys())
def test_international_and_ext_sends_too(
    make_client: MakeClient, winic_mock: MockService, transport: str, value: Any
) -> None:
    client: WinicClient = make_client(transport)
    winic_mock.fail("reply", **answer(transport, "SendInternationalMessages", value))
    with pytest.raises(SendOutcomeUnknown):
        client.send_international("447911123456", "hello")
    winic_mock.fail("reply", **answer(transport, "SendMessages_Ext", value))
    with pytest.raises(SendOutcomeUnknown):
        client.send("13800138000", "hello", ext="12")
    _one_attempt(winic_mock, "SendInternationalMessages")
    _one_attempt(winic_mock, "SendMessages_Ext")


WRITES: dict[str, tuple[str, Callable[[WinicClient], None]]] = {
    "register": (
        "RegineUser_",
        lambda c: c.register("newcomer", "Pw-123456", company="ACME", contact="Li", mobile="13800138000"),
    ),
    "change_password": ("EditUserPwd", lambda c: c.change_password("N3w-Pw-4410")),
}


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("value", NOT_AN_ACK.values(), ids=NOT_AN_ACK.keys())
@pytest.mark.parametrize("write", WRITES, ids=WRITES.keys())
def test_write_answer_that_is_not_000_is_unknown(  # noqa: PLR0917
    make_client: MakeClient, winic_mock: MockService, sleeps: SleepRecorder, transport: str, value: Any, write: str
) -> None:
    operation, action = WRITES[write]
    winic_mock.fail("reply", **answer(transport, operation, value))
    client: WinicClient = make_client(transport)
    with pytest.raises(OutcomeUnknown) as caught:
        action(client)
    assert not isinstance(caught.value, SendOutcomeUnknown)
    assert caught.value.operation == operation and caught.value.transport == transport
    assert sleeps.waits == []
    assert len(winic_mock.calls(operation, processed=None)) == 1
    if write == "change_password":  # unknown: the client keeps the password it knows works
        assert client.settings.pwd == "demo-secret"


# -- HTTP 500 text/plain: refused before the web method, or thrown from inside it ----------------------
_STACK = "\r\n   at System.Web.Services.Protocols.WebServiceHandler.CoreProcessRequest()\r\n"
_IN_METHOD = (
    "\r\n   at System.Data.ProviderBase.DbConnectionFactory.GetConnection(DbConnection owningConnection)"
    "\r\n   at WinicService.SendMessages(String uid, String pwd, String tos, String msg, String otime)\r\n"
)
REFUSED_BEFORE_METHOD = {
    "missing parameter": "System.InvalidOperationException: Missing parameter: tos." + _STACK,
    "request format unrecognized": (
        "System.InvalidOperationException: Request format is unrecognized for URL unexpectedly ending in "
        "'/SendMessages'." + _STACK
    ),
    "request validation": (
        "System.Web.HttpRequestValidationException: A potentially dangerous Request.Form value was detected "
        'from the client (pwd="<demo-secret>").' + _STACK
    ),
    "request validation, query string": (
        "System.Web.HttpRequestValidationException: A potentially dangerous Request.QueryString value was "
        'detected from the client (msg="<b>hi</b>").' + _STACK
    ),
}
THROWN_IN_METHOD = {
    "pool timeout": (
        "System.InvalidOperationException: Timeout expired.  The timeout period elapsed prior to obtaining a "
        "connection from the pool.  This may have occurred because all pooled connections were in use and max "
        "pool size was reached." + _IN_METHOD
    ),
    "sql error": "System.Data.SqlClient.SqlException: Transaction (Process ID 57) was deadlocked." + _IN_METHOD,
    "serialising the answer": (
        "System.InvalidOperationException: There was an error generating the XML document. ---> "
        "System.ArgumentException: '\x01', hexadecimal value 0x01, is an invalid character." + _STACK
    ),
    "a refusal's words echoed from inside the method": (
        "System.FormatException: Input string was not in a correct format: 'Missing parameter: tos'." + _IN_METHOD
    ),
    "empty body": "",
}


def _plain_500(text: str) -> dict[str, Any]:
    return {"status": 500, "body": text, "content_type": "text/plain; charset=utf-8", "operation": "SendMessages"}


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("text", REFUSED_BEFORE_METHOD.values(), ids=REFUSED_BEFORE_METHOD.keys())
def test_500_refused_before_the_method_is_not_processed(
    make_client: MakeClient, winic_mock: MockService, sleeps: SleepRecorder, transport: str, text: str
) -> None:
    winic_mock.fail("reply", **_plain_500(text))
    client: WinicClient = make_client(transport)
    with pytest.raises(TransportError) as caught:
        client.send("13800138000", "hello")
    assert not isinstance(caught.value, OutcomeUnknown)
    assert isinstance(caught.value, HTTPStatusError) and caught.value.status == 500
    assert caught.value.processed is False
    assert sleeps.waits == []
    _one_attempt(winic_mock, "SendMessages")


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("text", THROWN_IN_METHOD.values(), ids=THROWN_IN_METHOD.keys())
def test_500_thrown_inside_the_method_is_unknown(
    make_client: MakeClient, winic_mock: MockService, sleeps: SleepRecorder, transport: str, text: str
) -> None:
    winic_mock.fail("reply", **_plain_500(text))
    client: WinicClient = make_client(transport)
    with pytest.raises(SendOutcomeUnknown) as caught:
        client.send("13800138000", "hello")
    assert isinstance(caught.value.cause, HTTPStatusError) and caught.value.cause.processed is None
    assert sleeps.waits == []
    _one_attempt(winic_mock, "SendMessages")


# -- the command line: 8 for an unknown outcome, 7 for a refusal ----------------------------------------
CLI_CASES = {
    "OK": (answer("http-post", "SendMessages", "OK"), 8, "SendOutcomeUnknown"),
    "17 digits": (answer("http-post", "SendMessages", "12345678901234567"), 8, "SendOutcomeUnknown"),
    "nil": (answer("http-post", "SendMessages", NIL), 8, "SendOutcomeUnknown"),
    "pool timeout": (_plain_500(THROWN_IN_METHOD["pool timeout"]), 8, "SendOutcomeUnknown"),
    "missing parameter": (_plain_500(REFUSED_BEFORE_METHOD["missing parameter"]), 7, "HTTPStatusError"),
}


@pytest.mark.parametrize(("fault", "code", "kind"), CLI_CASES.values(), ids=CLI_CASES.keys())
def test_cli_exit_codes(winic_mock: MockService, tmp_path: Path, fault: dict[str, Any], code: int, kind: str) -> None:
    winic_mock.fail("reply", times=2, **fault)
    env = cli_env(winic_mock.url, tmp_path)
    result = run_cli(env, "send", "13800138000", "-m", "hello", "--transport", "http-post", "--json")
    assert result.returncode == code, result.stdout + result.stderr
    error = json.loads(result.stdout)["error"]
    assert error["type"] == kind and error["exit"] == code
    human = run_cli(env, "send", "13800138000", "-m", "hello", "--transport", "http-post")
    # the journalled send names its job on stderr first; the error then starts a line of its own
    assert human.returncode == code and "\nerror: " in "\n" + human.stderr
    assert ("check `winic-soap reports` before sending again" in human.stderr) == (code == 8)
    assert len(winic_mock.calls("SendMessages", processed=None)) == 2  # one per run, none repeated


# -- the async client shares the rules ----------------------------------------------------------------
ASYNC_CASES = {
    "send, not an id": ("SendMessages", "OK", SendOutcomeUnknown),
    "send, nil": ("SendMessages", NIL, SendOutcomeUnknown),
    "send, pool timeout 500": ("SendMessages", _plain_500(THROWN_IN_METHOD["pool timeout"]), SendOutcomeUnknown),
    "send, missing parameter 500": (
        "SendMessages",
        _plain_500(REFUSED_BEFORE_METHOD["missing parameter"]),
        HTTPStatusError,
    ),
    "password, not 000": ("EditUserPwd", "OK", OutcomeUnknown),
    "register, nil": ("RegineUser_", NIL, OutcomeUnknown),
}


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(("operation", "scripted", "expected"), ASYNC_CASES.values(), ids=ASYNC_CASES.keys())
def test_async_client(
    winic_mock: MockService, transport: str, operation: str, scripted: object, expected: type[WinicError]
) -> None:
    import asyncio

    from winic_soap import AsyncWinicClient, RetryPolicy

    fault = scripted if isinstance(scripted, dict) else answer(transport, operation, scripted)
    winic_mock.fail("reply", **{**fault, "operation": operation})
    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)

    async def run() -> None:
        retry = RetryPolicy(sleep=waits.append, async_sleep=no_sleep)
        async with AsyncWinicClient(
            "demo", "demo-secret", endpoint=winic_mock.url, transport=transport, retry=retry
        ) as c:
            with pytest.raises(expected) as caught:
                if operation == "SendMessages":
                    await c.send("13800138000", "hello")
                elif operation == "EditUserPwd":
                    await c.change_password("N3w-Pw-4410")
                else:
                    await c.register("newcomer", "Pw-123456", company="ACME", contact="Li", mobile="13800138000")
            if expected is HTTPStatusError:
                error = caught.value
                assert isinstance(error, HTTPStatusError) and not isinstance(error, OutcomeUnknown)
                assert error.processed is False

    asyncio.run(run())
    assert waits == [] and len(winic_mock.calls(operation, processed=None)) == 1
