"""The mock under attack: malformed requests, oversized bodies, slowloris; it answers or closes, and
keeps serving everyone else."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest
from helpers.rel_secrets import PWD

from winic_soap.mock import MockService

BAD_REQUESTS = [
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,  # a TLS hello on the plain port
    b"GET / HTTP/1.1\r\n" + b"X: " + b"a" * 70000 + b"\r\n\r\n",  # an over-long header line
    b"POST /Service.asmx HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
    b"POST /Service.asmx HTTP/1.1\r\nContent-Length: banana\r\n\r\n",
    b"POST /Service.asmx HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"POST /Service.asmx HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n",
    b"\r\n\r\n\r\n",
    b"GET /Service.asmx/GetUserInfo?uid=%ff%fe&pwd=%00 HTTP/1.1\r\n\r\n",
    b"POST /Service.asmx/GetUserInfo HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    b"Content-Length: 9\r\n\r\n\xff\xfe=\x00&&&=",
    b"".join(f"H{i}: v\r\n".encode() for i in range(200)),
]


def _address(mock: MockService) -> tuple[str, int]:
    parts = urlsplit(mock.url)
    return parts.hostname or "", parts.port or 0


def _healthy(mock: MockService) -> bool:
    from winic_soap import WinicClient

    with WinicClient("rel", PWD, endpoint=mock.url, timeout=3) as client:
        return client.account().uid == "rel"


@pytest.mark.parametrize("request_bytes", BAD_REQUESTS, ids=range(len(BAD_REQUESTS)))
def test_malformed_requests_are_answered_or_closed(rel_mock: MockService, request_bytes: bytes) -> None:
    with socket.create_connection(_address(rel_mock), timeout=5) as sock:
        try:
            sock.sendall(request_bytes)
            sock.shutdown(socket.SHUT_WR)
            answer = sock.recv(200)
        except OSError:  # the mock may close (or reset) while a long request is still being written
            answer = b""
    assert answer == b"" or answer.startswith(b"HTTP/1.1 ")
    assert _healthy(rel_mock)


def test_slowloris_does_not_starve_others() -> None:
    from decimal import Decimal

    from winic_soap.mock import Account

    with MockService([Account("rel", PWD, balance=Decimal(10))], idle_timeout=30.0) as mock:
        drips = []
        for _ in range(40):  # 40 clients each holding a half-sent request
            sock = socket.create_connection(_address(mock), timeout=5)
            sock.sendall(b"POST /Service.asmx HTTP/1.1\r\nContent-Length: 1000\r\n\r\n<soap")
            drips.append(sock)
        assert _healthy(mock)  # served while all 40 are still held open
        for sock in drips:
            sock.setblocking(False)
            with pytest.raises(BlockingIOError):  # still open, still waiting: nobody was dropped to make room
                sock.recv(10)
            sock.close()
        assert _healthy(mock)


def test_oversized_body_is_refused_and_the_mock_goes_on(rel_mock: MockService) -> None:
    with socket.create_connection(_address(rel_mock), timeout=5) as sock:
        sock.sendall(b"POST /Service.asmx HTTP/1.1\r\nContent-Length: 5000000\r\n\r\n" + b"x" * 1000)
        assert sock.recv(100).startswith(b"HTTP/1.1 413")
    assert _healthy(rel_mock)
