"""A forward HTTP proxy on loopback that records what went through it (absolute-form requests, CONNECT).

Written here rather than embedding proxy.py: proxy.py runs its plugins in acceptor processes (a counting
plugin's records never reach the test without IPC), and takes about a second to shut down.
"""

from __future__ import annotations

import base64
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from helpers.rawhttp import LoopbackServer, Message, Reader, relay, render

_HOP_BY_HOP = {"proxy-connection", "proxy-authorization", "connection", "keep-alive"}


@dataclass(frozen=True)
class Proxied:
    """One request the proxy handled: ``method`` and the target as the client wrote it."""

    method: str
    target: str


class ForwardProxy(LoopbackServer):
    """Forwards absolute-form requests to their origin and tunnels ``CONNECT host:port``; keeps a log.
    With ``credentials`` (user, password) it answers 407 to any request without them, as squid does."""

    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        super().__init__()
        self.log: list[Proxied] = []
        self.credentials = credentials
        self.refused = 0  # requests answered 407

    def url_with(self, user: str, password: str) -> str:
        return f"http://{user}:{password}@127.0.0.1:{self.port}"

    def _authorised(self, request: Message) -> bool:
        if self.credentials is None:
            return True
        token = base64.b64encode(":".join(self.credentials).encode()).decode()
        return request.header("proxy-authorization") == f"Basic {token}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def connects(self) -> list[str]:
        """The ``host:port`` of every CONNECT tunnel opened."""
        return [p.target for p in self.log if p.method == "CONNECT"]

    @property
    def forwarded(self) -> list[str]:
        """The absolute URL of every plain-HTTP request forwarded."""
        return [p.target for p in self.log if p.method != "CONNECT"]

    def handle(self, conn: socket.socket) -> None:
        reader = Reader(conn)
        for _ in range(1000):  # keep-alive requests on one client connection, bounded
            request = reader.message()
            with self.lock:
                self.log.append(Proxied(request.method, request.target))
            if not self._authorised(request):
                with self.lock:
                    self.refused += 1
                page = b"<html><body><h1>407 Proxy Authentication Required</h1></body></html>"
                conn.sendall(
                    b'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="proxy"\r\n'
                    b"Content-Type: text/html\r\nContent-Length: %d\r\n\r\n%s" % (len(page), page)
                )
                continue
            if request.method == "CONNECT":
                self._tunnel(conn, request.target, reader.buffer)
                return
            if not self._forward(conn, request):
                return

    def _tunnel(self, conn: socket.socket, target: str, early: bytes) -> None:
        host, _, port = target.rpartition(":")
        upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
        self.track(upstream)
        try:
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if early:
                upstream.sendall(early)
            relay(conn, upstream, self.stopping)
        finally:
            self.release(upstream)

    def _forward(self, conn: socket.socket, request: Message) -> bool:
        """Send one request to its origin (one upstream connection each) and relay the answer."""
        parts = urlsplit(request.target)
        if parts.scheme != "http" or not parts.hostname:
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return False
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        method, _, version = request.start.split(" ")
        headers = [(k, v) for k, v in request.headers if k not in _HOP_BY_HOP] + [("connection", "close")]
        upstream = socket.create_connection((parts.hostname, parts.port or 80), timeout=10)
        self.track(upstream)
        try:
            upstream.sendall(render(f"{method} {path} {version}", headers, request.body))
            answer = Reader(upstream).message()
        finally:
            self.release(upstream)
        keep = [(k, v) for k, v in answer.headers if k not in _HOP_BY_HOP]
        conn.sendall(render(answer.start, keep, answer.body))
        return True
