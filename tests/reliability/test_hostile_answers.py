"""Hostile or broken answers: each a clear typed error, no hang, bounded memory, no entity expansion."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable

import pytest
from helpers.rel_secrets import PWD

from winic_soap import HTTPStatusError, ProtocolError, RetryPolicy, SoapFaultError, TransportError, WinicClient
from winic_soap.mock import MockService, protocol

TRANSPORTS = ("soap11", "soap12", "http-post", "http-get")
LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;'
    '&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
    '<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>'
    '<string xmlns="http://tempuri.org/">&lol4;</string>'
)
EXTERNAL = (
    '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    '<string xmlns="http://tempuri.org/">&x;</string>'
)
DTD_ONLY = '<?xml version="1.0"?><!DOCTYPE string SYSTEM "http://evil.example/x.dtd"><string xmlns="http://tempuri.org/">1</string>'


def _soapify(inner: str, transport: str) -> str:
    """The same payload inside a SOAP envelope for the SOAP transports."""
    if not transport.startswith("soap"):
        return inner
    ns = protocol.SOAP11 if transport == "soap11" else protocol.SOAP12
    head, _, _ = inner.partition("<string")
    return (
        f'{head}<soap:Envelope xmlns:soap="{ns}"><soap:Body><GetUserInfoResponse xmlns="http://tempuri.org/">'
        "<GetUserInfoResult>&lol4;</GetUserInfoResult></GetUserInfoResponse></soap:Body></soap:Envelope>"
        if "lol4" in inner
        else f'{head}<soap:Envelope xmlns:soap="{ns}"><soap:Body><GetUserInfoResponse xmlns="http://tempuri.org/">'
        "<GetUserInfoResult>&x;</GetUserInfoResult></GetUserInfoResponse></soap:Body></soap:Envelope>"
    )


def _ctype(transport: str) -> str:
    return "application/soap+xml; charset=utf-8" if transport == "soap12" else "text/xml; charset=utf-8"


Hostile = tuple[int, str | None, str | bytes]  # the status, content type and body the mock answers with


def _as_sent(page: protocol.Response) -> Hostile:
    return page.status, page.content_type, page.body


HOSTILE: dict[str, Callable[[str], Hostile]] = {
    "billion laughs": lambda t: (200, _ctype(t), _soapify(LAUGHS, t)),
    "external entity file://": lambda t: (200, _ctype(t), _soapify(EXTERNAL, t)),
    "external DTD": lambda t: (200, _ctype(t), DTD_ONLY),
    "HTML error page 500": lambda t: _as_sent(protocol.render_html_error(500)),
    "HTML 200": lambda t: (200, "text/html; charset=utf-8", "<html><body>maintenance</body></html>"),
    "wrong content type": lambda t: (200, "application/json", '{"result": "000"}'),
    "no content type": lambda t: (200, "", "000"),
    "non-UTF-8 bytes": lambda t: (
        200,
        _ctype(t),
        b'<?xml version="1.0" encoding="utf-8"?><string>\xff\xfe\xc3(</string>',
    ),
    "empty 200": lambda t: (200, _ctype(t), b""),
    "garbage": lambda t: (200, _ctype(t), b"\x00\x01\x02 not xml at all"),
    "fault with stack trace": lambda t: (
        500,
        _ctype(t),
        protocol.render_fault(
            t if t.startswith("soap") else "soap11",
            protocol.Fault(False, "System.NullReferenceException: boom\n   at Winic.Service.GetUserInfo()\n   at X()"),
        ).body,
    ),
}


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_answers_are_typed_errors(rel_mock: MockService, transport: str, name: str) -> None:
    status, ctype, body = HOSTILE[name](transport)
    rel_mock.fail("reply", status=status, content_type=ctype or "", body=body, times=None)
    tracemalloc.start()
    start = time.monotonic()
    with (
        WinicClient(
            "rel",
            PWD,
            endpoint=rel_mock.url,
            transport=transport,
            timeout=5,
            retry=RetryPolicy(max_attempts=2, sleep=lambda _s: None),
        ) as client,
        pytest.raises(TransportError) as caught,
    ):
        client.account()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert time.monotonic() - start < 5
    assert peak < 20 * 1024 * 1024
    assert isinstance(caught.value, (ProtocolError, HTTPStatusError, SoapFaultError))
    assert "root:" not in str(caught.value) and "/etc/passwd" not in repr(caught.value.__dict__)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_oversized_answer_is_refused_with_bounded_memory(rel_mock: MockService, transport: str) -> None:
    body = b'<?xml version="1.0"?><string xmlns="http://tempuri.org/">' + b"A" * (8 * 1024 * 1024) + b"</string>"
    rel_mock.fail("reply", body=body, content_type=_ctype(transport), times=None)
    tracemalloc.start()
    with (
        WinicClient(
            "rel",
            PWD,
            endpoint=rel_mock.url,
            transport=transport,
            max_response_bytes=1024 * 1024,
            retry=RetryPolicy(max_attempts=2, sleep=lambda _s: None),
        ) as client,
        pytest.raises(ProtocolError, match="larger than"),
    ):
        client.account()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # the in-process mock holds one copy of the 8 MB answer while sending it; the client reads at most
    # its 1 MB limit (refusing on Content-Length before reading, here)
    assert peak < len(body) + 2 * 1024 * 1024


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_huge_text_node_within_limits_still_decodes_or_fails_cleanly(rel_mock: MockService, transport: str) -> None:
    text = "13800138000/" + "x" * (12 * 1024 * 1024) + "/001/2026-1-1 1:00:00|"
    if transport.startswith("soap"):
        ns = protocol.SOAP11 if transport == "soap11" else protocol.SOAP12
        body = (
            f'<soap:Envelope xmlns:soap="{ns}"><soap:Body><GET_SMS_MOResponse xmlns="http://tempuri.org/">'
            f"<GET_SMS_MOResult>{text}</GET_SMS_MOResult></GET_SMS_MOResponse></soap:Body></soap:Envelope>"
        )
    else:
        body = f'<string xmlns="http://tempuri.org/">{text}</string>'
    rel_mock.fail("reply", body=body, content_type=_ctype(transport), times=None)
    client = WinicClient("rel", PWD, endpoint=rel_mock.url, transport=transport, retry=RetryPolicy(max_attempts=1))
    # lxml refuses text nodes over 10 MB without huge_tree: a typed error, not a hang or a crash
    with client, pytest.raises(ProtocolError):
        client.replies()


def test_slow_drip_answer_times_out(rel_mock: MockService) -> None:
    rel_mock.fail("latency", seconds=6, times=None)
    start = time.monotonic()
    with (
        WinicClient(
            "rel", PWD, endpoint=rel_mock.url, timeout=0.3, retry=RetryPolicy(max_attempts=2, sleep=lambda _s: None)
        ) as client,
        pytest.raises(TransportError),
    ):
        client.account()
    assert time.monotonic() - start < 5  # two 0.3 s timeouts, not the 6 s drip
