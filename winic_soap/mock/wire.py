"""The fake service's HTTP/1.1 socket server: threaded, keep-alive, idle timeout, size limits, TCP_NODELAY.

It reads requests, hands them to the router, and writes what comes back, including the scripted ways of
not answering (close before or after processing, a body cut short) as a real server would show them.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from dataclasses import dataclass
from functools import lru_cache

from winic_soap.mock import protocol
from winic_soap.mock.routing import Outcome, Request, Router

__all__ = ["ConnectionStats", "Limits", "WireServer"]

_MAX_LINE = 16 * 1024
_MAX_HEADERS = 100
# Below this size head and body go out in one sendall (one segment for small answers); above it they go
# separately, so a large scripted answer is never copied once more just to prepend the head.
_COALESCE = 64 * 1024
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


@dataclass(frozen=True)
class Limits:
    """``idle_timeout``: seconds a connection may stay silent; ``max_body``: largest request body accepted."""

    idle_timeout: float = 30.0
    max_body: int = 1024 * 1024


class ConnectionStats:
    """Connections open now and accepted in total; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.open = 0
        self.total = 0

    def opened(self) -> None:
        with self._lock:
            self.open += 1
            self.total += 1

    def closed(self) -> None:
        with self._lock:
            self.open -= 1


@lru_cache(maxsize=256)
def _head(status: int, content_type: str | None, length: int, date: str, keep_alive: bool) -> bytes:
    """The status line and headers, built once per distinct answer shape and second (a hot path)."""
    head = [f"HTTP/1.1 {status} {protocol.reason(status)}"]
    head += [f"{name}: {value}" for name, value in protocol.headers_for(content_type, length, date)]
    if not keep_alive:
        head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")


class _Closed(Exception):
    """The connection is done (peer went away, a fault closed it, or it timed out)."""


class _Handler(socketserver.BaseRequestHandler):
    server: WireServer

    def setup(self) -> None:
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.request.settimeout(self.server.limits.idle_timeout)
        self.rfile = self.request.makefile("rb", buffering=64 * 1024)
        self.server.stats.opened()

    def finish(self) -> None:
        self.server.stats.closed()
        try:
            self.rfile.close()
        finally:
            with contextlib.suppress(OSError):
                self.request.shutdown(socket.SHUT_RDWR)

    def handle(self) -> None:
        try:
            while self._one_request():
                pass
        except (_Closed, OSError):
            return

    def _send(self, response: protocol.Response, *, keep_alive: bool, truncate: bool = False) -> None:
        raw_head = _head(response.status, response.content_type, len(response.body), protocol.http_date(), keep_alive)
        body = memoryview(response.body)[: len(response.body) // 2] if truncate else response.body
        if len(body) < _COALESCE:
            self.request.sendall(raw_head + body)
        else:
            self.request.sendall(raw_head)
            self.request.sendall(body)

    def _read_head(self) -> tuple[str, str, str, dict[str, str]] | None:
        line = self.rfile.readline(_MAX_LINE + 1)
        if not line:
            return None
        while line in (b"\r\n", b"\n"):  # tolerate stray CRLF between requests
            line = self.rfile.readline(_MAX_LINE + 1)
            if not line:
                return None
        if len(line) > _MAX_LINE:
            self._send(protocol.render_html_error(400), keep_alive=False)
            raise _Closed
        try:
            method, target, version = line.decode("latin-1").split()
        except ValueError:
            self._send(protocol.Response(400, None, b""), keep_alive=False)
            raise _Closed from None
        headers: dict[str, str] = {}
        for _ in range(_MAX_HEADERS + 1):
            raw = self.rfile.readline(_MAX_LINE + 1)
            if not raw or len(raw) > _MAX_LINE:
                raise _Closed
            if raw in (b"\r\n", b"\n"):
                return method, target, version, headers
            name, _, value = raw.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        self._send(protocol.render_html_error(400), keep_alive=False)
        raise _Closed

    def _read_body(self, headers: dict[str, str]) -> bytes:
        limit = self.server.limits.max_body
        # .NET's HttpWebRequest (wsdl.exe proxies) sends Expect: 100-continue and waits before the body
        expect = headers.get("expect", "").lower() == "100-continue"
        if headers.get("transfer-encoding", "").lower() == "chunked":
            if expect:
                self.request.sendall(_CONTINUE)
            chunks: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline(_MAX_LINE).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(_MAX_LINE) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > limit:
                    self._send(protocol.render_html_error(413), keep_alive=False)
                    raise _Closed
                chunks.append(self._read_exact(size))
                self.rfile.readline(_MAX_LINE)
        length = int(headers.get("content-length", "0") or 0)
        if length < 0 or length > limit:
            self._send(protocol.render_html_error(413), keep_alive=False)
            raise _Closed
        if expect and length:
            self.request.sendall(_CONTINUE)
        return self._read_exact(length)

    def _read_exact(self, size: int) -> bytes:
        data: bytes = self.rfile.read(size)
        if len(data) != size:
            raise _Closed
        return data

    def _one_request(self) -> bool:
        head = self._read_head()
        if head is None:
            return False
        method, target, version, headers = head
        try:
            body = self._read_body(headers)
        except ValueError:
            self._send(protocol.Response(400, None, b""), keep_alive=False)
            return False
        keep_alive = headers.get("connection", "").lower() != "close" and version == "HTTP/1.1"
        host = headers.get("host") or self.server.host
        request = Request(method, target, headers, body, host, self.client_address[0])
        outcome: Outcome = self.server.router.handle(request)
        if outcome.response is None:
            return False
        truncate = outcome.action == "truncate"
        self._send(outcome.response, keep_alive=keep_alive, truncate=truncate)
        return keep_alive and not truncate


class WireServer(socketserver.ThreadingTCPServer):
    """One thread per connection, each serving requests until the peer closes, a fault closes, or idleness."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], router: Router, limits: Limits, stats: ConnectionStats) -> None:
        self.router = router
        self.limits = limits
        self.stats = stats
        super().__init__(address, _Handler)
        bound_host, port = self.server_address[:2]
        self.host = f"{bound_host!s}:{port}"  # answers name this when a request carries no Host header

    @property
    def base_url(self) -> str:
        return f"http://{self.host}"
