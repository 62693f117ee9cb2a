"""The only module that speaks HTTP (the standard library's ``http.client``): a pool of keep-alive
connections with timeouts, TLS verification and bounded answers, and the mapping of every socket or
HTTP failure to our error tree, told apart by whether the request can have reached the server.

Connecting is a separate, explicit step, so a failure there provably sent nothing; that is the one
case a send may be retried.
"""

from __future__ import annotations

import http.client
import logging
import re
import select
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from winic_soap import __version__
from winic_soap.exceptions import (
    ConfigurationError,
    ConnectError,
    ConnectionLostError,
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


def _tls_context(verify: bool | str) -> Any:
    import ssl  # only https endpoints pay for it

    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)


class _Pool:
    """Idle connections to one origin, newest first; at most ``size`` exist at once."""

    def __init__(self, scheme: str, host: str, port: int, size: int, context: Any) -> None:
        self.scheme, self.host, self.port = scheme, host, port
        self.context = context
        self.idle: list[http.client.HTTPConnection] = []
        self.slots = threading.BoundedSemaphore(size)
        self.lock = threading.Lock()
        self.opened = 0

    def new(self, connect_timeout: float) -> http.client.HTTPConnection:
        if self.scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                self.host, self.port, timeout=connect_timeout, context=self.context
            )
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=connect_timeout)
        conn.connect()  # failures here mean the server never saw a byte
        assert conn.sock is not None
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.lock:
            self.opened += 1
        return conn

    def take_idle(self) -> http.client.HTTPConnection | None:
        while True:
            with self.lock:
                if not self.idle:
                    return None
                conn = self.idle.pop()
            if not _dropped(conn):
                return conn
            conn.close()

    def give_back(self, conn: http.client.HTTPConnection) -> None:
        with self.lock:
            self.idle.append(conn)

    def close(self) -> None:
        with self.lock:
            idle, self.idle = self.idle, []
        for conn in idle:
            conn.close()


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """An idle keep-alive socket that is readable has been closed (or spoken on) by the server."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


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

    @property
    def connections_opened(self) -> int:
        """How many connections this session has opened so far (for leak accounting)."""
        return sum(p.opened for p in list(self._pools.values()))

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
        if not pool.slots.acquire(timeout=self._read_timeout):
            raise ConnectError("no free connection in the pool within the timeout")
        try:
            return self._exchange(
                pool, method, target, body=body, headers=headers, timeout=timeout or self._read_timeout
            )
        finally:
            pool.slots.release()

    def _exchange(
        self,
        pool: _Pool,
        method: str,
        target: str,
        *,
        body: bytes | None,
        headers: Mapping[str, str] | None,
        timeout: float,
    ) -> RawResponse:
        conn = pool.take_idle()
        if conn is None:
            try:
                conn = pool.new(self._connect_timeout)
            except OSError as exc:
                raise _connect_error(exc) from None
        assert conn.sock is not None
        send_headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **(headers or {})}
        try:
            conn.sock.settimeout(timeout)
            conn.request(method, target, body=body, headers=send_headers)
            response = conn.getresponse()
            length = response.getheader("Content-Length")
            if length is not None and length.isdigit() and int(length) > self._max:
                raise ProtocolError(f"answer of {length} bytes is larger than {self._max}; refused", processed=None)
            content = response.read(self._max + 1)
            if len(content) > self._max:
                raise ProtocolError(f"answer larger than {self._max} bytes; refused", processed=None)
            result = RawResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, content)
            reusable = not response.will_close
        except TransportError:
            conn.close()
            raise
        except BaseException as exc:
            conn.close()
            if isinstance(exc, Exception):
                raise _exchange_error(exc) from None
            raise
        logger.debug("%s %s -> %d (%d bytes)", method, redact(target), result.status, len(content))
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
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return ConnectError("could not connect: connect timeout")
    if type(exc).__module__ == "ssl":
        return ConnectError(
            f"could not connect: TLS handshake failed ({type(exc).__name__}; certificate not verified?)"
        )
    return ConnectError(f"could not connect: {type(exc).__name__}")


def _exchange_error(exc: Exception) -> TransportError:
    """A failure after the connection was up: the request may have reached the server."""
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return ReadTimeoutError("no answer within the timeout after the request was sent")
    if isinstance(exc, http.client.IncompleteRead):
        return ProtocolError("answer truncated: the connection closed mid-body", processed=None)
    if isinstance(exc, (http.client.RemoteDisconnected, ConnectionError, BrokenPipeError)):
        return ConnectionLostError("connection lost after the request was sent")
    if isinstance(exc, (http.client.HTTPException, ValueError)):
        return ProtocolError(f"answer is not valid HTTP ({type(exc).__name__})", processed=None)
    if isinstance(exc, OSError):
        return ConnectionLostError(f"connection error ({type(exc).__name__})")
    return TransportError(f"HTTP failure ({type(exc).__name__})")
