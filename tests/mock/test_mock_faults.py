"""Each scripted fault, over real sockets: what the client sees and what the ledger says happened."""

from __future__ import annotations

import http.client
import json
import time
from urllib.parse import urlsplit

import pytest
from helpers import wire

from winic_soap.mock import MockService

CRED = {"uid": "demo", "pwd": "demo-secret"}
SEND = {**CRED, "tos": "13800138000", "msg": "hello", "otime": ""}


def _raw(url: str, body: bytes) -> tuple[int | None, bytes, BaseException | None]:
    """POST a SOAP send on a fresh connection; report status, body read, or the error met."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=5)
    try:
        conn.request(
            "POST",
            "/Service.asmx",
            body,
            {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"http://tempuri.org/SendMessages"'},
        )
        resp = conn.getresponse()
        return resp.status, resp.read(), None
    except (http.client.HTTPException, OSError) as exc:
        return None, b"", exc
    finally:
        conn.close()


def test_close_before_processing_runs_nothing(winic_mock: MockService) -> None:
    winic_mock.fail("close_before", operation="SendMessages")
    status, _, error = _raw(winic_mock.url, wire.envelope("SendMessages", SEND))
    assert status is None and isinstance(error, (http.client.RemoteDisconnected, ConnectionError))
    assert winic_mock.state.sends == []
    assert [(e.processed, e.fault) for e in winic_mock.ledger] == [(False, "close_before")]
    assert wire.call("soap11", winic_mock.url, "SendMessages", SEND)  # one-shot: the next call is served


def test_close_after_processing_loses_the_reply_but_the_send_happened(winic_mock: MockService) -> None:
    winic_mock.fail("close_after", operation="SendMessages")
    status, _, error = _raw(winic_mock.url, wire.envelope("SendMessages", SEND))
    assert status is None and error is not None
    assert len(winic_mock.state.sends) == 1
    assert [(e.processed, e.fault) for e in winic_mock.ledger] == [(True, "close_after")]


def test_truncated_reply(winic_mock: MockService) -> None:
    winic_mock.fail("truncate")
    _status, _, error = _raw(winic_mock.url, wire.envelope("SendMessages", SEND))
    assert isinstance(error, http.client.IncompleteRead)
    assert len(winic_mock.state.sends) == 1


def test_malformed_reply(winic_mock: MockService) -> None:
    from lxml import etree

    winic_mock.fail("malformed")
    status, body, _ = _raw(winic_mock.url, wire.envelope("SendMessages", SEND))
    assert status == 200
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(body)
    assert len(winic_mock.state.sends) == 1


@pytest.mark.parametrize(("kind", "status"), [("http500", 500), ("http503", 503)])
def test_http_error_pages(winic_mock: MockService, kind: str, status: int) -> None:
    winic_mock.fail(kind)
    reply = wire.soap11(winic_mock.url, "SendMessages", SEND)
    assert reply.status == status and (reply.content_type or "").startswith("text/html")
    assert f"{status} - " in reply.text
    assert winic_mock.state.sends == []


def test_forced_code_is_answered_without_processing(winic_mock: MockService) -> None:
    winic_mock.fail("code", code="-09", operation="SMS_Reports")
    assert wire.call("http-post", winic_mock.url, "SMS_Reports", CRED) == "-09"
    assert wire.call("http-post", winic_mock.url, "SMS_Reports", CRED) == "null"
    assert [e.processed for e in winic_mock.ledger] == [False, True]


def test_latency_delays_and_combines(winic_mock: MockService) -> None:
    winic_mock.fail("latency", seconds=0.2)
    winic_mock.fail("code", code="-12")
    start = time.monotonic()
    assert wire.call("soap11", winic_mock.url, "GetUserInfo", CRED) == "-12"
    assert time.monotonic() - start >= 0.2


def test_every_nth_call(winic_mock: MockService) -> None:
    winic_mock.fail("http503", every=3, times=None)
    statuses = [wire.form_post(winic_mock.url, "GetUserInfo", CRED).status for _ in range(7)]
    assert statuses == [200, 200, 503, 200, 200, 503, 200]


def test_times_and_per_operation(winic_mock: MockService) -> None:
    winic_mock.fail("code", code="-09", operation="GetUserInfo", times=2)
    assert wire.call("soap11", winic_mock.url, "SMS_Reports", CRED) == "null"
    answers = [wire.call("soap11", winic_mock.url, "GetUserInfo", CRED) for _ in range(3)]
    assert answers[:2] == ["-09", "-09"] and (answers[2] or "").startswith("000")


def test_fail_rejects_unknown_kind_and_operation(winic_mock: MockService) -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        winic_mock.fail("explode")
    with pytest.raises(ValueError, match="not in the WSDL"):
        winic_mock.fail("http500", operation="Nope")


def test_reset_clears_faults(winic_mock: MockService) -> None:
    winic_mock.fail("http500", times=None)
    winic_mock.reset()
    assert wire.soap11(winic_mock.url, "GetUserInfo", CRED).status == 200


def _admin(url: str, method: str, action: str, payload: object = None) -> wire.Answer:
    body = json.dumps(payload).encode() if payload is not None else None
    return wire.request(url, method, f"/_mock/{action}", body, {"Content-Type": "application/json"})


def test_admin_endpoint_scripts_the_same_faults(winic_mock: MockService) -> None:
    assert (
        _admin(winic_mock.url, "POST", "fail", {"kind": "code", "code": "-01", "operation": "SendMessages"}).status
        == 200
    )
    assert wire.call("soap11", winic_mock.url, "SendMessages", SEND) == "-01"
    assert _admin(winic_mock.url, "POST", "reply", {"mobile": "13800138000", "text": "hi", "port": "7"}).status == 200
    assert (wire.call("soap11", winic_mock.url, "GET_SMS_MO", {**CRED, "IDtype": "7"}) or "").startswith(
        "13800138000/hi/7/"
    )
    assert _admin(winic_mock.url, "POST", "status", {"mobile": "13800138000", "status": "EXPIRED"}).status == 200
    ledger = json.loads(_admin(winic_mock.url, "GET", "ledger").body)
    assert [e["operation"] for e in ledger] == ["SendMessages", "GET_SMS_MO"]
    assert ledger[0]["params"]["pwd"] == "***"
    stats = json.loads(_admin(winic_mock.url, "GET", "stats").body)
    assert stats["sends"] == 0 and stats["connections_total"] >= 1
    assert _admin(winic_mock.url, "POST", "fail", {"kind": "bogus"}).status == 400
    assert _admin(winic_mock.url, "POST", "reset", {}).status == 200
    assert json.loads(_admin(winic_mock.url, "GET", "ledger").body) == []
