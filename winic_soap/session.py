"""The only module that speaks HTTP: a small HTTP/1.1 client on sockets (the standard library's
``http.client`` parses headers through the ``email`` package, which cost more per call than the
whole SOAP envelope), a pool of keep-alive connections with timeouts, TLS verification and bounded
answers, and the mapping of every failure to our error tree, told apart by whether the request can
have reached the server.

Connecting is a separate, explicit step, so a failure there provably sent nothing; that is the one
case a send may be retried.
"""

from __future__ import annotations

import io
import logging
import re
import select
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from winic_soap import __version__
from winic_soap.exceptions import (
    ConfigurationError,
    ConnectError,
    ConnectionLostError,
    HTTPStatusError,
    ProtocolError,
    ReadTimeoutError,
    TransportError,
)

__all__ = ["HttpSession", "RawResponse", "redact"]

logger = logging.getLogger("winic_soap.http")
USER_AGENT = f"winic-soap/{__version__}"
_SECRET_QUERY = re.compile(r"((?:new)?pwd=)[^&\s\"']*", re.IGNORECASE)


def redact(text: str) -> str:
    """Mask ``pwd=…`` and ``newpwd=…`` in a URL or form body."""
    return _SECRET_QUERY.sub(r"\1***", text)


@dataclass(frozen=True, slots=True)
class RawResponse:
    """A complete answer: status, lower-cased headers, body bytes."""

    status: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def require_xml(self) -> None:
        """Raise for an error page or a non-XML answer: it is reported as such, never parsed.

        A 4xx means the server refused the request (nothing processed); a 5xx page could come from
        before or after the service acted, so nobody can know.
        """
        ctype = self.content_type.lower()
        if "xml" in ctype:
            return
        if self.status == 200:
            raise ProtocolError(f"answer has content type {ctype or 'none'!r}, not XML", processed=None)
        raise HTTPStatusError(
            self.status,
            f"HTTP {self.status} ({ctype or 'no content type'})",
            processed=False if 400 <= self.status < 500 else None,
            body=self.content,
        )


def _tls_context(verify: bool | str) -> Any:
    import ssl  # only https endpoints pay for it

    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)


_MAX_LINE = 64 * 1024
_MAX_HEADERS = 100
_BAD_HEADER = re.compile(r"[\r\n\x00]")


class _Lost(Exception):
    """Internal: the peer closed or broke the connection while we read its answer."""


class _Truncated(Exception):
    """Internal: the body ended before its declared length."""


class _Connection:
    """One socket and its buffered reader; ``reusable`` after a complete keep-alive exchange."""

    __slots__ = ("rfile", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.rfile = cast("io.BufferedReader", sock.makefile("rb", buffering=64 * 1024))

    def close(self) -> None:
        try:
            self.rfile.close()
        finally:
            self.sock.close()

    def dropped(self) -> bool:
        """An idle keep-alive socket that is readable has been closed (or spoken on) by the server."""
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def _line(self) -> bytes:
        line = self.rfile.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise ProtocolError("answer has an over-long line; refused", processed=None)
        return line

    def exchange(self, request: bytes, *, head_only: bool, limit: int) -> tuple[RawResponse, bool]:
        self.sock.sendall(request)
        while True:
            line = self._line()
            if not line:
                raise _Lost
            version, _, rest = line.decode("latin-1").rstrip("\r\n").partition(" ")
            code = rest[:3]
            if not version.startswith("HTTP/1.") or not code.isdigit():
                raise ProtocolError("answer is not HTTP/1.x", processed=None)
            status = int(code)
            headers = self._headers()
            if not 100 <= status < 200:
                break  # 1xx (100 Continue) are skipped
        if head_only or status in (204, 304):
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = self._chunked(limit)
        elif "content-length" in headers:
            try:
                length = int(headers["content-length"])
            except ValueError:
                raise ProtocolError("answer has an invalid Content-Length", processed=None) from None
            if length > limit:
                raise ProtocolError(f"answer of {length} bytes is larger than {limit}; refused", processed=None)
            body = self.rfile.read(length)
            if len(body) != length:
                raise _Truncated
        else:  # delimited by the server closing the connection
            body = self.rfile.read(limit + 1)
            if len(body) > limit:
                raise ProtocolError(f"answer larger than {limit} bytes; refused", processed=None)
            return RawResponse(status, headers, body), False
        connection = headers.get("connection", "").lower()
        keep = "close" not in connection and (version == "HTTP/1.1" or "keep-alive" in connection)
        return RawResponse(status, headers, body), keep

    def _headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for _ in range(_MAX_HEADERS + 1):
            line = self._line()
            if not line:
                raise _Lost
            if line in (b"\r\n", b"\n"):
                return headers
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep:
                raise ProtocolError("answer has a malformed header line", processed=None)
            key = name.strip().lower()
            headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
        raise ProtocolError("answer has too many header lines; refused", processed=None)

    def _chunked(self, limit: int) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self._line()
            if not line:
                raise _Truncated
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise ProtocolError("answer has a malformed chunk size", processed=None) from None
            if size == 0:
                while self._line() not in (b"\r\n", b"\n", b""):
                    pass  # trailers, ignored
                return b"".join(chunks)
            total += size
            if total > limit:
                raise ProtocolError(f"answer larger than {limit} bytes; refused", processed=None)
            chunk = self.rfile.read(size)
            if len(chunk) != size:
                raise _Truncated
            chunks.append(chunk)
            self.rfile.readline(4)


class _Pool:
    """Idle connections to one origin, newest first; at most ``size`` exist at once."""

    def __init__(self, scheme: str, host: str, port: int, size: int, context: Any) -> None:
        self.scheme, self.host, self.port = scheme, host, port
        self.host_header = host if port == (443 if scheme == "https" else 80) else f"{host}:{port}"
        if ":" in host and not host.startswith("["):
            self.host_header = f"[{host}]" + (f":{port}" if port not in (80, 443) else "")
        self.context = context
        self.idle: list[_Connection] = []
        self.slots = threading.BoundedSemaphore(size)
        self.lock = threading.Lock()

    def new(self, connect_timeout: float) -> _Connection:
        sock = socket.create_connection((self.host, self.port), timeout=connect_timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.scheme == "https":
                sock = self.context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise
        return _Connection(sock)

    def take_idle(self) -> _Connection | None:
        while True:
            with self.lock:
                if not self.idle:
                    return None
                conn = self.idle.pop()
            if not conn.dropped():
                return conn
            conn.close()

    def give_back(self, conn: _Connection) -> None:
        with self.lock:
            self.idle.append(conn)

    def close(self) -> None:
        with self.lock:
            idle, self.idle = self.idle, []
        for conn in idle:
            conn.close()


class HttpSession:
    """Thread-safe keep-alive connections shared by every transport of one client."""

    def __init__(
        self,
        *,
        connect_timeout: float,
        read_timeout: float,
        pool_size: int = 10,
        verify: bool | str = True,
        max_response_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._size = pool_size
        self._verify = verify
        self._max = max_response_bytes
        self._pools: dict[tuple[str, str, int], _Pool] = {}
        self._lock = threading.Lock()
        self._closed = False

    def _pool(self, url: str) -> tuple[_Pool, str]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError("endpoint URL cannot be used (need http:// or https:// and a host)")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise ConfigurationError("endpoint URL has an invalid port") from None
        key = (parts.scheme, parts.hostname, port)
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                context = _tls_context(self._verify) if parts.scheme == "https" else None
                pool = self._pools[key] = _Pool(parts.scheme, parts.hostname, port, self._size, context)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return pool, target

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> RawResponse:
        """Send one request and read the whole answer; raise a :class:`TransportError` subclass on failure."""
        if self._closed:
            raise ConnectError("client is closed")
        pool, target = self._pool(url)
        lines = [
            f"{method} {target} HTTP/1.1",
            f"Host: {pool.host_header}",
            f"User-Agent: {USER_AGENT}",
            "Accept-Encoding: identity",
        ]
        for name, value in (headers or {}).items():
            if _BAD_HEADER.search(name) or _BAD_HEADER.search(value):
                raise ConfigurationError(f"header {name!r} contains a line break; refused")
            lines.append(f"{name}: {value}")
        if body is not None or method == "POST":
            lines.append(f"Content-Length: {len(body or b'')}")
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
        if not pool.slots.acquire(timeout=self._read_timeout):
            raise ConnectError("no free connection in the pool within the timeout")
        try:
            return self._exchange(pool, request, method=method, target=target, timeout=timeout or self._read_timeout)
        finally:
            pool.slots.release()

    def _exchange(self, pool: _Pool, request: bytes, *, method: str, target: str, timeout: float) -> RawResponse:
        conn = pool.take_idle()
        if conn is None:
            try:
                conn = pool.new(self._connect_timeout)
            except OSError as exc:
                raise _connect_error(exc) from None
        try:
            conn.sock.settimeout(timeout)
            result, reusable = conn.exchange(request, head_only=method == "HEAD", limit=self._max)
        except TransportError:
            conn.close()
            raise
        except BaseException as exc:
            conn.close()
            if isinstance(exc, Exception):
                raise _exchange_error(exc) from None
            raise
        logger.debug("%s %s -> %d (%d bytes)", method, redact(target), result.status, len(result.content))
        if reusable:
            pool.give_back(conn)
        else:
            conn.close()
        return result

    def close(self) -> None:
        """Close every idle connection; requests after this fail with :class:`ConnectError`."""
        self._closed = True
        with self._lock:
            pools = list(self._pools.values())
        for pool in pools:
            pool.close()


def _connect_error(exc: OSError) -> ConnectError:
    if isinstance(exc, socket.gaierror):
        return ConnectError("could not connect: DNS lookup failed")
    if isinstance(exc, TimeoutError):
        return ConnectError("could not connect: connect timeout")
    if type(exc).__module__ == "ssl":
        return ConnectError(
            f"could not connect: TLS handshake failed ({type(exc).__name__}; certificate not verified?)"
        )
    return ConnectError(f"could not connect: {type(exc).__name__}")


def _exchange_error(exc: Exception) -> TransportError:
    """A failure after the connection was up: the request may have reached the server."""
    if isinstance(exc, TimeoutError):
        return ReadTimeoutError("no answer within the timeout after the request was sent")
    if isinstance(exc, _Truncated):
        return ProtocolError("answer truncated: the connection closed mid-body", processed=None)
    if isinstance(exc, (_Lost, ConnectionError)):
        return ConnectionLostError("connection lost after the request was sent")
    if isinstance(exc, (ValueError, UnicodeError)):
        return ProtocolError(f"answer is not valid HTTP ({type(exc).__name__})", processed=None)
    if isinstance(exc, OSError):
        return ConnectionLostError(f"connection error ({type(exc).__name__})")
    return TransportError(f"HTTP failure ({type(exc).__name__})")
