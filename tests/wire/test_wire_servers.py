"""The test servers themselves, checked with bare httpx2: each does what the client tests rely on."""

from __future__ import annotations

import ssl
from typing import Any

import helpers.scripted_server as scripts
import httpx2
import pytest
from helpers.rig import Rig

from winic_soap.mock import MockService, protocol


def _send_request() -> dict[str, Any]:
    body = (
        '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        '<soap:Body><SendMessages xmlns="http://tempuri.org/"><uid>demo</uid><pwd>demo-secret</pwd>'
        "<tos>13800138000</tos><msg>self-test</msg><otime></otime></SendMessages></soap:Body></soap:Envelope>"
    )
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"http://tempuri.org/SendMessages"'}
    return {"content": body.encode(), "headers": headers}


def _expected(mock: MockService) -> bytes:
    """The exact ASMX answer to the last send, as the mock renders it."""
    return protocol.render_soap_result("soap11", "SendMessages", mock.state.sends[-1].message_id).body


def test_proxy_forwards_plain_http_and_tunnels_connect(rig: Rig) -> None:
    mock, forward_proxy, front = rig.mock, rig.proxy, rig.tls_front()
    with httpx2.Client(proxy=forward_proxy.url, verify=rig.certs.client_context()) as client:
        assert client.post(mock.url, **_send_request()).content == _expected(mock)
        assert client.post(front.url, **_send_request()).content == _expected(mock)
    assert forward_proxy.forwarded == [mock.url]
    assert forward_proxy.connects == [f"127.0.0.1:{front.port}"]
    assert len(mock.state.sends) == 2


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_tls_front_requires_a_client_certificate(rig: Rig, version: ssl.TLSVersion) -> None:
    mock, certs, front = rig.mock, rig.certs, rig.tls_front(version)
    with (
        httpx2.Client(verify=certs.client_context(with_cert=False)) as client,
        pytest.raises(httpx2.TransportError),
    ):
        client.post(front.url, **_send_request())
    assert front.wait_refused(1)
    assert front.handshakes == 0 and front.refused == ["PEER_DID_NOT_RETURN_A_CERTIFICATE"]
    assert mock.ledger == []
    with httpx2.Client(verify=certs.client_context()) as client:
        assert client.post(front.url, **_send_request()).content == _expected(mock)
    assert front.handshakes == 1


@pytest.mark.parametrize(
    "script",
    [
        scripts.plain(),
        scripts.gzipped(),
        scripts.chunked(),
        scripts.chunked(compress=True),
        scripts.folded(),
        scripts.double_length(),
        scripts.one_continue(),
    ],
    ids=["plain", "gzip", "chunked", "chunked-gzip", "folded", "double-length", "one-continue"],
)
def test_well_formed_scripts_carry_the_mock_answer(rig: Rig, script: scripts.Script) -> None:
    mock, server = rig.mock, rig.scripted(script)
    with httpx2.Client() as client:
        assert client.post(server.url, **_send_request()).content == _expected(mock)
    assert server.wait_until(lambda s: s.answered == 1)  # the server counts after its last write
    assert len(mock.state.sends) == 1


def test_recoded_answer_names_its_charset_only_in_the_header(rig: Rig) -> None:
    mock, server = rig.mock, rig.scripted(scripts.recoded("gb18030"))
    with httpx2.Client() as client:
        answer = client.post(server.url, **_send_request())
    assert answer.headers["content-type"] == "text/xml; charset=gb18030"
    assert not answer.content.startswith(b"<?xml")
    assert answer.text == _expected(mock).decode().split("?>", 1)[1]


def test_glued_answer_puts_both_answers_in_one_write(rig: Rig) -> None:
    mock, server = rig.mock, rig.scripted(scripts.glued(lambda answer: answer.body))
    with httpx2.Client() as client:
        assert client.post(server.url, **_send_request()).content == _expected(mock)
    assert server.wait_until(lambda s: s.answered == 1)
    assert server.bytes_written > 2 * len(_expected(mock))


def test_idle_close_fires_between_requests_only(rig: Rig) -> None:
    mock, server = rig.mock, rig.scripted(scripts.plain(), idle_close=0.3)
    with httpx2.Client() as client:
        client.post(server.url, **_send_request())
        assert server.wait_until(lambda s: s.idle_closed == 1)
        client.post(server.url, **_send_request())  # httpx2 sees the FIN and opens a new connection
    assert server.connections == 2 and len(mock.state.sends) == 2
