"""The mock survives bad clients: oversized bodies, junk, slow partial requests; it keeps serving others."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from helpers import wire

from winic_soap.mock import MockService

CRED = {"uid": "demo", "pwd": "demo-secret"}


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def test_oversized_body_is_refused_with_413() -> None:
    with MockService(max_body=1000) as mock:
        reply = wire.request(mock.url, "POST", "/Service.asmx", b"x" * 5000, {"Content-Type": "text/xml"})
        assert reply.status == 413
        assert (wire.call("soap11", mock.url, "GetUserInfo", CRED) or "").startswith("000")


def test_garbage_request_line_gets_400_and_close(winic_mock: MockService) -> None:
    with socket.create_connection(_address(winic_mock.url), timeout=5) as sock:
        sock.sendall(b"HELLO\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 400")


def test_slow_partial_request_does_not_block_others() -> None:
    with MockService(idle_timeout=0.5) as mock:
        slow = socket.create_connection(_address(mock.url), timeout=5)
        slow.sendall(b"POST /Service.asmx HTTP/1.1\r\nContent-Length: 500\r\n\r\n<soap")
        assert (wire.call("http-post", mock.url, "GetUserInfo", CRED) or "").startswith("000")
        slow.settimeout(5)
        assert slow.recv(100) == b""  # the idle timeout closed the half-sent request
        slow.close()
        assert (wire.call("http-post", mock.url, "GetUserInfo", CRED) or "").startswith("000")


def test_chunked_request_body(winic_mock: MockService) -> None:
    body = wire.envelope("GetUserInfo", CRED)
    chunked = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    with socket.create_connection(_address(winic_mock.url), timeout=5) as sock:
        sock.sendall(
            b"POST /Service.asmx HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nTransfer-Encoding: chunked\r\n"
            b'SOAPAction: "http://tempuri.org/GetUserInfo"\r\nConnection: close\r\n\r\n' + chunked
        )
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200 OK") and b"<GetUserInfoResult>000/demo/" in data


def test_connections_are_counted_and_released(winic_mock: MockService) -> None:
    for _ in range(3):
        wire.call("http-get", winic_mock.url, "GetUserInfo", CRED)
    assert winic_mock.connections_total == 3
    deadline = __import__("time").monotonic() + 5
    while winic_mock.connections_open and __import__("time").monotonic() < deadline:
        __import__("time").sleep(0.01)
    assert winic_mock.connections_open == 0
