"""The only module that imports httpx2: HTTP clients built from settings (proxy, TLS, client certificate,
pool, keep-alive), one bounded attempt on the wire for each shell, and the mapping of every httpx2 error
to our tree, told apart by whether the request can have reached the service.

``timeout`` bounds an attempt as a whole -- connect, send, and the complete answer -- also against a
server that trickles bytes or sends endless interim answers: the sync client runs on a network backend
that clamps every socket operation to the attempt's deadline; the async client runs the attempt in an
anyio cancel scope. A client given by the user (``http_client=``) keeps its own transport and timeouts.
Webhook POSTs (:class:`WebhookClient`) run on the same guarded backend, and can be cut from another thread.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import re
import socket
import ssl
import threading
import time
import urllib.request
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, BinaryIO
from urllib.parse import urlsplit, urlunsplit

import anyio
import httpcore2
import httpx2

from winic_soap._version import __version__
from winic_soap.config import Settings
from winic_soap.core.answer import WireRequest, WireResponse
from winic_soap.exceptions import (
    ClientClosedError,
    ConfigurationError,
    ConnectError,
    ConnectionLostError,
    HTTPStatusError,
    ProtocolError,
    ProxyAuthenticationError,
    ReadTimeoutError,
    TLSError,
    TransportError,
    WinicError,
)

__all__ = [
    "STREAM_HEAD",
    "USER_AGENT",
    "AsyncHttpClient",
    "AsyncWire",
    "HttpClient",
    "SyncWire",
    "WebhookClient",
    "map_error",
    "proxy_for",
    "redact",
    "ssl_context",
]

logger = logging.getLogger("winic_soap.http")
HttpClient = httpx2.Client  # what ``http_client=`` takes, named here so no other module imports httpx2
AsyncHttpClient = httpx2.AsyncClient
STREAM_HEAD = 1 << 20  # a streamed pull answer up to this size is also returned in memory, read the usual way
USER_AGENT = f"winic-soap/{__version__}"
_current: contextvars.ContextVar[_Attempt | None] = contextvars.ContextVar("winic_attempt", default=None)


def redact(url: str) -> str:
    """A URL fit for a log line: the query string (``pwd=…`` on HTTP GET, a webhook receiver's token), the
    fragment and the user info (``user:password@``) are dropped."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


class _RedactSecrets(logging.Filter):
    """httpx2 logs every request line at INFO (the URL, with ``pwd=`` on HTTP GET): masked before any
    handler sees it. During a webhook POST every URL in a line is shown as :func:`redact` shows it (the
    receiver's URL may carry its token in the query or the user info)."""

    _PATTERN = re.compile(r"((?:new)?pwd=)[^&\s\"']*", re.IGNORECASE)
    _USERINFO = re.compile(r"(://[^:/@\s]*):[^@/\s]*@")  # a proxy URL's password
    _AUTH = re.compile(r"(auth=\(b?'[^']*', )b?'[^']*'\)")  # httpcore2's SOCKS trace: auth=(b'user', b'pass')
    _URL = re.compile(r"[a-z][a-z0-9+.-]*://[^\s\"'<>]+", re.IGNORECASE)

    @classmethod
    def mask(cls, message: str) -> str:
        return cls._AUTH.sub(r"\1'***')", cls._USERINFO.sub(r"\1:***@", cls._PATTERN.sub(r"\1***", message)))

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = self.mask(message)
        attempt = _current.get()
        if attempt is not None and attempt.private_urls:
            masked = self._URL.sub(lambda m: redact(m.group()), masked)
        if masked != message:
            record.msg, record.args = masked, None
        return True


for _name in (
    "httpx2",
    "httpcore2.connection",
    "httpcore2.http11",
    "httpcore2.http2",
    "httpcore2.proxy",
    "httpcore2.socks",
):
    logging.getLogger(_name).addFilter(_RedactSecrets())


def proxy_for(endpoint: str, settings: Settings) -> str | None:
    """The proxy for ``endpoint``: the ``proxy`` setting, else (``trust_env``) ``HTTPS_PROXY`` /
    ``HTTP_PROXY`` / ``ALL_PROXY`` unless ``NO_PROXY`` names the host -- as the standard library reads them."""
    if settings.proxy is not None:
        return settings.proxy or None  # "" turns proxies off, also those in the environment
    if not settings.trust_env:
        return None
    parts = urlsplit(endpoint)
    if parts.hostname and urllib.request.proxy_bypass(parts.hostname):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(parts.scheme) or proxies.get("all")


def ssl_context(settings: Settings, verify: bool | str | ssl.SSLContext | None = None) -> ssl.SSLContext:
    """TLS settings as one context: ``verify`` (True, False, a CA file or folder, or a context) and the
    client certificate ``cert`` (+ ``cert_key``) for services behind mutual TLS."""
    verify = settings.verify if verify is None else verify
    try:
        if isinstance(verify, ssl.SSLContext):
            context = verify
        elif isinstance(verify, str):
            context = ssl.create_default_context(
                cafile=None if _is_dir(verify) else verify, capath=verify if _is_dir(verify) else None
            )
        else:
            context = httpx2.create_ssl_context(verify=verify, trust_env=settings.trust_env)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(
            f"verify: the CA bundle {verify!r} cannot be read ({type(exc).__name__}: {exc.strerror or exc})"
        ) from None
    if settings.cert:
        _load_client_certificate(context, settings)
    return context


class _NoPassword(Exception):
    """OpenSSL asked for the key's password and none was set (instead of prompting on the terminal)."""


def _no_password() -> bytes:
    raise _NoPassword


def _encrypted(path: str) -> bool:
    """Whether a PEM file holds an encrypted private key (PKCS#8 or the older Proc-Type header)."""
    try:
        with open(path, "rb") as file:
            head = file.read(1 << 20)
    except OSError:
        return False
    return b"ENCRYPTED" in head


def _load_client_certificate(context: ssl.SSLContext, settings: Settings) -> None:
    """``cert`` (+ ``cert_key``) into ``context``; an encrypted key is opened with ``cert_password``. A
    password is always handed to OpenSSL (a callable refusing when none is set), so it never prompts."""
    assert settings.cert is not None
    named = f"{settings.cert!r}" + (f" with key {settings.cert_key!r}" if settings.cert_key else "")
    try:
        context.load_cert_chain(settings.cert, settings.cert_key or None, settings.cert_password or _no_password)
    except _NoPassword:
        raise ConfigurationError(
            f"cert: the private key of {named} is encrypted: set cert_password (or WINIC_CERT_PASSWORD)"
        ) from None
    except (OSError, ssl.SSLError) as exc:
        if settings.cert_password and _encrypted(settings.cert_key or settings.cert):
            raise ConfigurationError(f"cert: cert_password does not open the private key of {named}") from None
        raise ConfigurationError(
            f"cert: the client certificate {named} cannot be loaded: it must be PEM with its key "
            f"(or the key in cert_key) ({type(exc).__name__}: {exc.strerror or exc})"
        ) from None


@contextlib.contextmanager
def _proxy_checked() -> Iterator[None]:
    """httpx2 raises a bare ValueError for a proxy it cannot use (one from ``HTTPS_PROXY`` is checked only
    here); its message shows the URL, which may hold the proxy's password: ours does not."""
    try:
        yield
    except ValueError:
        raise ConfigurationError(
            "the proxy (setting or HTTP(S)_PROXY/ALL_PROXY) cannot be used: use http:// or https://"
        ) from None
    except ImportError:  # httpx2 wants the optional socksio package for socks5:// proxies
        raise ConfigurationError(
            "a socks5:// proxy needs the socksio package (pip install socksio); or use an http(s):// proxy"
        ) from None


def _is_dir(path: str) -> bool:
    from pathlib import Path

    return Path(path).is_dir()


def _limits(settings: Settings) -> httpx2.Limits:
    return httpx2.Limits(
        max_connections=settings.pool_size,
        max_keepalive_connections=settings.pool_size,
        keepalive_expiry=settings.keepalive_expiry,
    )


def _timeout(settings: Settings, seconds: float) -> httpx2.Timeout:
    return httpx2.Timeout(seconds, connect=min(settings.connect_timeout, seconds))


class _Attempt:
    """Which phase one attempt reached, and when its time runs out. On our own client the network streams
    below httpx2 report it (a request whose first byte was never written provably did not reach the
    server); on a user's client httpcore's trace events do, and a transport that reports nothing at
    all (a user's mock, say) proves nothing, so its failures count as maybe-sent."""

    __slots__ = ("cut", "deadline", "new_tls", "private_urls", "sending", "socket", "traced")

    def __init__(self, deadline: float | None, *, traced: bool, private_urls: bool = False) -> None:
        self.deadline = deadline
        self.sending = False
        self.traced = traced
        self.new_tls = False
        self.private_urls = private_urls  # a webhook POST: its URLs are redacted in every log line
        self.cut = False  # set from another thread by interrupt(): every later socket operation fails
        self.socket: Any = None  # the socket of the operation under way, for interrupt()

    def interrupt(self) -> None:
        """From another thread: end the attempt now. Its socket is shut down (which wakes a blocked read
        or write) and every socket operation after this one fails at once."""
        self.cut = True
        sock = self.socket
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def __call__(self, event: str, info: Mapping[str, Any]) -> None:
        self.traced = True
        if not self.sending and event.endswith("send_request_headers.started"):
            self.sending = True
        elif event.endswith("start_tls.complete"):
            self.new_tls = True

    async def async_call(self, event: str, info: Mapping[str, Any]) -> None:
        self(event, info)

    @property
    def may_have_sent(self) -> bool:
        return self.sending or not self.traced


# -- network backends under httpx2's pools: the attempt's deadline, and bytes left over after an answer --


class _Framing:
    """What one connection received for its current answer. httpcore2 reuses a connection whose parser
    still holds bytes that came after a complete answer (a middlebox gluing a second answer on), and
    would read them as the next answer: the next send would get another send's id. Once an answer is
    read, :meth:`check` compares the bytes received with the answer's own framing; a connection with
    leftovers reports itself readable, which makes the pool drop it instead of reusing it."""

    __slots__ = ("_count", "_fresh", "_head", "_tail", "dirty")

    _KEEP = 64 * 1024  # enough for any header block; past it only the count and the last bytes are kept

    def __init__(self) -> None:
        self._head = b""
        self._tail = b""
        self._count = 0
        self._fresh = True
        self.dirty = False

    def wrote(self) -> bool:
        """Count a write; True when it is the first of a new request (a new answer will follow)."""
        fresh = self._fresh
        if fresh:
            self._head, self._tail, self._count, self._fresh = b"", b"", 0, False
        return fresh

    @property
    def started(self) -> bool:
        """Whether any byte of the current answer has arrived."""
        return self._count > 0

    def read(self, data: bytes) -> None:
        self._count += len(data)
        self._tail = data
        if len(self._head) < self._KEEP:
            self._head += data

    def extra_info(self, info: str, inner: Callable[[str], Any], reuse: _Reuse) -> Any:
        """A stream's ``get_extra_info``: a connection with leftovers, or idle past its host's learned
        bound, is "readable" (the pool then drops it), and the framing itself is how the wire shell
        reaches it; anything else is the inner stream's."""
        if info == "is_readable":
            return self.dirty or reuse.retire(bool(inner(info)))
        if info == "winic_framing":
            return self
        if info == "winic_reuse":
            return reuse
        return inner(info)

    def check(self, status: int, length: str | None, chunked: bool) -> None:
        """The answer is complete: were more bytes received than it is made of?"""
        self._fresh = True
        if status in (204, 304) or not self._count:
            return
        head, start = self._head, 0
        while True:  # skip interim 1xx answers to the final header block
            end = head.find(b"\r\n\r\n", start)
            if end < 0:
                return  # a header block we did not keep, or bare-LF lines: nothing to tell
            if head[start + 9 : start + 10] != b"1":
                break
            start = end + 4
        if chunked:
            self.dirty = self.dirty or not self._tail.endswith(b"\r\n\r\n")
        elif length is not None and length.isdigit():
            self.dirty = self.dirty or end + 4 + int(length) != self._count


def _left(timeout: float | None, error: type[Exception], stream: Any = None) -> float | None:
    """The time a socket operation may take: the smaller of httpx2's per-step timeout and what is left of
    the attempt's deadline. ``stream``'s socket is noted on the attempt first, so :meth:`_Attempt.interrupt`
    can shut it down; an interrupted attempt (or one out of time) raises ``error`` before touching it."""
    attempt = _current.get()
    if attempt is not None and stream is not None:
        attempt.socket = stream.get_extra_info("socket")
    if attempt is not None and attempt.cut:
        raise error("the attempt was interrupted")
    deadline = attempt.deadline if attempt is not None else None
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the attempt's time ran out")
    return left if timeout is None else min(timeout, left)


def _mark_sending() -> None:
    attempt = _current.get()
    if attempt is not None:
        attempt.sending = True


def _mark_new_tls() -> None:
    attempt = _current.get()
    if attempt is not None:
        attempt.new_tls = True


class _LazyTLS:
    """One wire's TLS context, built at its first TLS handshake: ``ssl.create_default_context`` loads the CA
    bundle (tens of ms), which an ``http://`` endpoint never needs. httpx2 gets a bare placeholder context;
    the guarded streams swap it for the real one in ``start_tls``."""

    __slots__ = ("_build", "_context", "_lock", "placeholder")

    def __init__(self, build: Callable[[], ssl.SSLContext]) -> None:
        self.placeholder = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies against no CA: useless alone
        self._build = build
        self._context: ssl.SSLContext | None = None
        self._lock = threading.Lock()

    def resolve(self, context: ssl.SSLContext) -> ssl.SSLContext:
        if context is not self.placeholder:
            return context  # a proxy's own context, or one httpcore2 made
        with self._lock:
            if self._context is None:
                built = self._build()
                built.set_alpn_protocols(["http/1.1"])  # what httpcore2 sets on the context it was given
                self._context = built
            return self._context

    def forked(self) -> None:
        self._lock = threading.Lock()  # a parent's thread may have held it at fork()


class _IdleBounds:
    """What each host taught us about how long it keeps an idle connection: when a pooled connection
    turns out closed by the server after ``t`` idle seconds, connections to that host are not reused past
    ``FRACTION * t`` any more. Without it a send racing the server's close (its FIN still on the way)
    goes out on a dying connection, and its outcome is unknown although the server never read it."""

    FRACTION = 0.5

    def __init__(self) -> None:
        self._bounds: dict[tuple[str, int], float] = {}

    def bound(self, key: tuple[str, int]) -> float | None:
        return self._bounds.get(key)

    def closed_after(self, key: tuple[str, int], idle: float) -> None:
        learned = idle * self.FRACTION
        known = self._bounds.get(key)
        if known is None or learned < known:
            self._bounds[key] = learned
            logger.debug("%s:%d closed a connection idle for %.2fs: reused for at most %.2fs now", *key, idle, learned)


class _Reuse:
    """One connection's idle time, judged against its host's learned bound (``is_readable`` is what the
    pool asks before reusing an idle connection: True makes it drop the connection and open another)."""

    __slots__ = ("_answers", "_bounds", "_idle_at_write", "_key", "_last")

    def __init__(self, bounds: _IdleBounds, key: tuple[str, int]) -> None:
        self._bounds, self._key = bounds, key
        self._last = time.monotonic()
        self._answers = 0  # answers read on this connection: above 0, a write reuses it
        self._idle_at_write = 0.0

    def wrote(self, fresh: bool) -> None:
        now = time.monotonic()
        if fresh:
            self._idle_at_write = now - self._last
        self._last = now

    def read(self, data: bytes, answer_started: bool) -> None:
        self._last = time.monotonic()
        if not data and not answer_started and self._answers:
            # a reused connection closed before any byte of the answer: the server had dropped it
            self._bounds.closed_after(self._key, self._idle_at_write)

    def answered(self) -> None:
        self._answers += 1

    def retire(self, readable: bool) -> bool:
        """Whether the pool should drop this idle connection instead of writing a request on it."""
        idle = time.monotonic() - self._last
        if readable:  # the server closed it while it sat in the pool
            self._bounds.closed_after(self._key, idle)
            return True
        bound = self._bounds.bound(self._key)
        return bound is not None and idle > bound


class _GuardedStream(httpcore2.NetworkStream):
    """Every socket operation clamped to the attempt's deadline; answers watched by :class:`_Framing`;
    reuse judged by :class:`_Reuse`; the TLS placeholder swapped for the wire's context."""

    __slots__ = ("_framing", "_reuse", "_stream", "_tls")

    def __init__(self, stream: httpcore2.NetworkStream, tls: _LazyTLS, reuse: _Reuse) -> None:
        self._stream = stream
        self._tls = tls
        self._reuse = reuse
        self._framing = _Framing()

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            data = self._stream.read(max_bytes, _left(timeout, httpcore2.ReadTimeout, self._stream))
        except httpcore2.ReadError:
            self._reuse.read(b"", self._framing.started)
            raise
        self._reuse.read(data, self._framing.started)
        self._framing.read(data)
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        left = _left(timeout, httpcore2.WriteTimeout, self._stream)  # out of time: provably nothing written
        self._reuse.wrote(self._framing.wrote())
        _mark_sending()
        self._stream.write(buffer, left)

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore2.NetworkStream:
        context = self._tls.resolve(ssl_context)
        left = _left(timeout, httpcore2.ConnectTimeout, self._stream)
        stream = self._stream.start_tls(context, server_hostname, left)
        _mark_new_tls()
        return _GuardedStream(stream, self._tls, self._reuse)

    def get_extra_info(self, info: str) -> Any:
        return self._framing.extra_info(info, self._stream.get_extra_info, self._reuse)


class _GuardedBackend(httpcore2.NetworkBackend):
    def __init__(self, backend: httpcore2.NetworkBackend, tls: _LazyTLS, bounds: _IdleBounds) -> None:
        self._backend, self._tls, self._bounds = backend, tls, bounds

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.NetworkStream:
        timeout = _left(timeout, httpcore2.ConnectTimeout)
        stream = self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        try:
            _left(None, httpcore2.ConnectTimeout, stream)  # noted for interrupt(); interrupted meanwhile: no request
        except httpcore2.ConnectTimeout:
            stream.close()
            raise
        return _GuardedStream(stream, self._tls, _Reuse(self._bounds, (host, port)))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore2.NetworkStream:
        timeout = _left(timeout, httpcore2.ConnectTimeout)
        stream = self._backend.connect_unix_socket(path, timeout, socket_options)
        return _GuardedStream(stream, self._tls, _Reuse(self._bounds, (path, 0)))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _AsyncGuardedStream(httpcore2.AsyncNetworkStream):
    """The async twin of :class:`_GuardedStream`; time is bounded by the attempt's cancel scope."""

    __slots__ = ("_framing", "_reuse", "_stream", "_tls")

    def __init__(self, stream: httpcore2.AsyncNetworkStream, tls: _LazyTLS, reuse: _Reuse) -> None:
        self._stream = stream
        self._tls = tls
        self._reuse = reuse
        self._framing = _Framing()

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            data = await self._stream.read(max_bytes, timeout)
        except httpcore2.ReadError:
            self._reuse.read(b"", self._framing.started)
            raise
        self._reuse.read(data, self._framing.started)
        self._framing.read(data)
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._reuse.wrote(self._framing.wrote())
        _mark_sending()
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore2.AsyncNetworkStream:
        stream = await self._stream.start_tls(self._tls.resolve(ssl_context), server_hostname, timeout)
        _mark_new_tls()
        return _AsyncGuardedStream(stream, self._tls, self._reuse)

    def get_extra_info(self, info: str) -> Any:
        return self._framing.extra_info(info, self._stream.get_extra_info, self._reuse)


class _AsyncGuardedBackend(httpcore2.AsyncNetworkBackend):
    def __init__(self, backend: httpcore2.AsyncNetworkBackend, tls: _LazyTLS, bounds: _IdleBounds) -> None:
        self._backend, self._tls, self._bounds = backend, tls, bounds

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        stream = await self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        return _AsyncGuardedStream(stream, self._tls, _Reuse(self._bounds, (host, port)))

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore2.AsyncNetworkStream:
        stream = await self._backend.connect_unix_socket(path, timeout, socket_options)
        return _AsyncGuardedStream(stream, self._tls, _Reuse(self._bounds, (path, 0)))

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


def _check_framing(response: httpx2.Response) -> None:
    """Tell the connection under ``response`` (when it is one of ours) that its answer is complete."""
    stream = response.extensions.get("network_stream")
    framing = stream.get_extra_info("winic_framing") if stream is not None else None
    if isinstance(framing, _Framing):
        headers = response.headers
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        framing.check(response.status_code, headers.get("content-length"), chunked)
        stream.get_extra_info("winic_reuse").answered()  # type: ignore[union-attr]


class _GuardedTransport(httpx2.HTTPTransport):
    """httpx2's own transport, its connection pool on the guarded backend."""

    def __init__(self, *, tls: _LazyTLS, bounds: _IdleBounds, **options: Any) -> None:
        super().__init__(verify=tls.placeholder, **options)
        # httpx2 builds its httpcore2 pool without a network-backend argument; the pool reads this attribute
        # for every new connection. The trickle, endless-1xx and glued-answer tests fail if that changes.
        self._pool._network_backend = _GuardedBackend(self._pool._network_backend, tls, bounds)


class _AsyncGuardedTransport(httpx2.AsyncHTTPTransport):
    def __init__(self, *, tls: _LazyTLS, bounds: _IdleBounds, **options: Any) -> None:
        super().__init__(verify=tls.placeholder, **options)
        self._pool._network_backend = _AsyncGuardedBackend(self._pool._network_backend, tls, bounds)


# -- error mapping, one place for both shells -----------------------------------------------------------


def _tls_cause(exc: BaseException) -> ssl.SSLError | None:
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def map_error(exc: Exception, *, sending: bool, new_tls: bool = False) -> WinicError:
    """The typed error for an httpx2 failure (or an OSError an async backend let through unwrapped, as
    anyio does with TLS alerts). ``sending``: the request's first bytes may have been written;
    ``new_tls``: this attempt opened the TLS connection (a reused one has long passed its handshake)."""
    tls = _tls_cause(exc)
    if tls is not None and (not sending or (new_tls and _certificate_alert(tls))):
        # A handshake failure, or a certificate alert on a connection opened for this request (TLS 1.3
        # refuses a client certificate after the handshake, at the first read): the TLS front refused
        # us, the service never saw the request. Any other alert after sending proves nothing.
        reason = str(tls.reason or type(tls).__name__)
        if "WRONG_VERSION_NUMBER" in reason.upper():
            return TLSError("TLS failed: the server does not speak TLS on this port (an http:// endpoint?)")
        verified = getattr(tls, "verify_message", None)  # OpenSSL's why: "self-signed certificate", ...
        if verified:
            return TLSError(f"TLS failed: {reason}: the server's certificate was not trusted ({verified})")
        return TLSError(f"TLS failed: {reason} (certificate or client certificate)")
    if isinstance(exc, (httpx2.ConnectTimeout, httpx2.PoolTimeout)) or (
        isinstance(exc, httpx2.TimeoutException) and not sending
    ):
        return ConnectError("could not connect: timed out before the request was sent")
    if isinstance(exc, httpx2.ProxyError):
        if str(exc).startswith("407"):  # httpcore2 names the CONNECT answer's status first
            return _proxy_auth_error()
        return ConnectError(f"the proxy refused the connection ({exc})")
    if isinstance(exc, httpx2.ConnectError) or (isinstance(exc, httpx2.NetworkError | OSError) and not sending):
        return ConnectError(f"could not connect: {_reason(exc)}")
    if isinstance(exc, httpx2.TimeoutException):
        return ReadTimeoutError("no complete answer within the timeout after the request was sent")
    if isinstance(exc, httpx2.RemoteProtocolError):
        if "without sending" in str(exc) or "disconnected" in str(exc):
            return ConnectionLostError("connection closed after the request was sent, before any answer")
        return ProtocolError(f"answer is not valid HTTP ({_reason(exc)})", processed=None)
    if isinstance(exc, httpx2.DecodingError):
        return ProtocolError(f"answer body cannot be decoded ({_reason(exc)})", processed=None)
    if isinstance(exc, (httpx2.UnsupportedProtocol, httpx2.LocalProtocolError, httpx2.InvalidURL)):
        return ConfigurationError(f"the request cannot be made: {exc}")
    if isinstance(exc, httpx2.NetworkError | OSError):
        return ConnectionLostError(f"connection error after the request was sent ({_reason(exc)})")
    return TransportError(f"HTTP failure ({type(exc).__name__})")


def _proxy_auth_error() -> ProxyAuthenticationError:
    return ProxyAuthenticationError(
        "the proxy wants credentials (HTTP 407): put user:password in the proxy URL, or fix the ones there"
    )


def _unexpected(exc: Exception, *, sending: bool) -> TransportError:
    """Any other exception out of httpx2 (a user's event hook, instrumentation, a closed event loop): a
    TransportError that says whether the request may have been sent, so a send becomes an unknown outcome."""
    said = _RedactSecrets.mask(_reason(exc))
    where = "after the request may have been sent" if sending else "before the request was sent"
    error = TransportError(f"the HTTP client failed {where} ({type(exc).__name__}: {said})")
    error.reached, error.processed = sending, (None if sending else False)
    return error


# nginx's answers when ``ssl_verify_client on`` finds no certificate (its 496) or a bad one (495), sent as 400
_FRONT_REFUSALS = {
    "no required ssl certificate was sent": "no client certificate was sent (set cert=, or WINIC_CERT)",
    "the ssl certificate error": "the client certificate was refused (not signed by a CA it trusts, or expired)",
    "ssl certificate error": "the client certificate was refused (not signed by a CA it trusts, or expired)",
    "ssl certificate required": "no client certificate was sent (set cert=, or WINIC_CERT)",
}


def _refusal(status: int, content: bytes) -> WinicError | None:
    """A proxy's 407, or a TLS front's answer that it refused the client certificate (nginx answers 400
    with "No required SSL certificate was sent"): nothing reached the service, and a retry cannot help."""
    if status == 407:
        return _proxy_auth_error()
    if status in (400, 495, 496) and len(content) < 8192:
        page = content.decode("latin-1").lower()
        for phrase, meaning in _FRONT_REFUSALS.items():
            if phrase in page:
                return TLSError(f"the TLS front refused the request: {meaning}; nothing reached the service")
    return None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text[:200] if text else type(exc).__name__


_CAUGHT = (httpx2.HTTPError, httpx2.InvalidURL, OSError)
_PROBE_WAIT = 1.0


def _refused_tls(error: WinicError, trace: _Attempt, probe: tuple[str, int] | None) -> bool:
    """Whether a connection lost on a TLS connection opened in this attempt deserves a probe: under TLS 1.3
    a server refusing our client certificate says so after the handshake, and when its reset overtakes
    the alert the failure looks like any lost connection."""
    return probe is not None and trace.new_tls and isinstance(error, ConnectionLostError)


_CERTIFICATE_ALERTS = ("CERTIFICATE_REQUIRED", "BAD_CERTIFICATE", "UNKNOWN_CA", "CERTIFICATE_UNKNOWN",
                       "ACCESS_DENIED", "HANDSHAKE_FAILURE", "CERTIFICATE_REVOKED", "CERTIFICATE_EXPIRED",
                       "UNSUPPORTED_CERTIFICATE")  # fmt: skip


def _certificate_alert(tls: ssl.SSLError) -> bool:
    reason = str(tls.reason or "").upper()
    return "ALERT" in reason and any(name in reason for name in _CERTIFICATE_ALERTS)


def _alert(exc: BaseException) -> bool:
    """The probe's verdict: only an alert about our certificate proves the front refuses us."""
    tls = _tls_cause(exc)
    return tls is not None and _certificate_alert(tls)


def _tls_error() -> TLSError:
    return TLSError("TLS failed: the server refuses this client's certificate (or wants one); nothing was sent")


def _hostport(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"


def _located(error: WinicError, url: str, proxy: str | None) -> WinicError:
    """A connect failure names where it tried: the service's host, or the proxy's (never its password)."""
    if isinstance(error, ConnectError) and not isinstance(error, TLSError):
        where = f"the proxy {_hostport(proxy)}" if proxy else _hostport(url)
        error.args = (f"{error.args[0]} ({where})",)
    return error


def _probe_target(endpoint: str, proxy: str | None) -> tuple[str, int] | None:
    """Host and port to probe for a refused TLS handshake: https, no proxy in between."""
    parts = urlsplit(endpoint)
    if parts.scheme != "https" or proxy or not parts.hostname:
        return None
    return parts.hostname, parts.port or 443


_WIRES: weakref.WeakSet[_Wire] = weakref.WeakSet()  # every live wire, renewed in a forked child
_WIRES_LOCK = threading.Lock()  # held across fork(): the set is never copied half-changed


def _renew_after_fork() -> None:
    """In a forked child, before any thread of it runs: every wire drops the parent's pooled connections."""
    _WIRES_LOCK.release()  # taken by the forking thread just before fork()
    for wire in list(_WIRES):
        wire._forked()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_WIRES_LOCK.acquire,
        after_in_parent=_WIRES_LOCK.release,
        after_in_child=_renew_after_fork,
    )


def _tls_configured(settings: Settings, verify: Any) -> bool:
    """Whether TLS was configured on purpose (a CA file, a client certificate): then its files are
    checked at construction even for an ``http://`` endpoint, which otherwise never builds a context."""
    return bool(settings.cert) or isinstance(settings.verify, str) or not isinstance(verify, bool | None)


class _Wire:
    """What both wires share: the client, ours (built from settings) or the user's, and its proxy,
    probe target and closed state. The subclasses move bytes; ``_transport``/``_client_class`` say how.

    After ``os.fork()`` the child's wire drops the inherited pool (without closing it: its sockets are the
    parent's too) and builds a new one, once, in the fork hook, before any thread of the child can send.
    """

    _transport: type[_GuardedTransport | _AsyncGuardedTransport]
    _client_class: type[httpx2.Client | httpx2.AsyncClient]

    def __init__(self, settings: Settings, http_client: Any, verify: Any) -> None:
        if http_client is not None and not isinstance(http_client, self._client_class):
            wanted = f"httpx2.{self._client_class.__name__}"
            raise ConfigurationError(
                f"http_client must be an {wanted} for this client, not {type(http_client).__module__}."
                f"{type(http_client).__qualname__}"
            )
        self._settings = settings
        self._owned = http_client is None
        self._verify = verify
        self._proxy = proxy_for(settings.endpoint, settings) if self._owned else None
        self._probe = _probe_target(settings.endpoint, self._proxy) if self._owned else None
        self._tls = _LazyTLS(lambda: ssl_context(self._settings, self._verify))
        if self._owned and (urlsplit(settings.endpoint).scheme == "https" or _tls_configured(settings, verify)):
            self._tls.resolve(self._tls.placeholder)  # built now: a bad CA or certificate file fails here
        self._bounds = _IdleBounds()
        self._closed = False
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._client: Any = http_client if http_client is not None else self._build()
        with _WIRES_LOCK:
            _WIRES.add(self)
        if self._proxy:
            logger.debug("requests to %s go through the proxy %s", _hostport(settings.endpoint), _hostport(self._proxy))

    def _build(self) -> Any:
        s = self._settings
        with _proxy_checked():
            transport = self._transport(
                tls=self._tls, bounds=self._bounds, limits=_limits(s), proxy=self._proxy, trust_env=s.trust_env
            )
        return self._client_class(
            transport=transport,  # type: ignore[arg-type]
            trust_env=False,  # the environment was read above, for the transport we built
            follow_redirects=False,
            timeout=_timeout(s, s.timeout),
            headers={"User-Agent": USER_AGENT},
        )

    def _forked(self) -> None:
        """The fork hook's work (the child has one thread): fresh locks, and our pool replaced."""
        self._lock = threading.Lock()
        self._tls.forked()
        try:
            self._renew()
        except Exception:  # an exception in a fork hook is only printed: the first call renews (or raises)
            self._pid = -1

    def _renew(self) -> None:
        self._pid = os.getpid()
        if self._owned and not self._closed:
            self._client = self._build()  # the parent's pool is dropped, never closed: its sockets are shared

    def renew(self) -> None:
        """Drop our pooled connections if this process is not the one that opened them (a fork the hook
        did not see); under the lock, so it happens once however many threads ask."""
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._renew()

    def _open(self) -> _Attempt:
        if self._closed:
            raise ClientClosedError("the client is closed")
        self.renew()
        return _Attempt(None, traced=self._owned)

    def _failed(self, error: WinicError, url: str) -> WinicError:
        return _located(error, url, self._proxy)

    def _answer(self, request: WireRequest, response: httpx2.Response, body: _Body | _StreamedBody) -> WireResponse:
        answer = body.response(request, response)
        refused = _refusal(answer.status, answer.content)
        if refused is not None:
            raise self._failed(refused, request.url)
        return answer

    def _fetched(self, url: str, response: WireResponse) -> bytes:
        if response.status != 200:
            raise HTTPStatusError(response.status, f"fetching {redact(url)} answered HTTP {response.status}")
        return response.content


class SyncWire(_Wire):
    """A sync HTTP client for one winic client: ours (built from settings) or the user's."""

    _transport = _GuardedTransport
    _client_class = httpx2.Client

    def __init__(self, settings: Settings, *, http_client: httpx2.Client | None = None, verify: Any = None) -> None:
        super().__init__(settings, http_client, verify)

    def _handshake_refused(self) -> bool:
        """A handshake of our own that sends no request: does the TLS front refuse it with an alert?"""
        assert self._probe is not None
        host, port = self._probe
        try:
            stream = httpcore2.SyncBackend().connect_tcp(host, port, timeout=self._settings.connect_timeout)
        except (httpcore2.ConnectError, httpcore2.ConnectTimeout):
            return False
        try:
            context = self._tls.resolve(self._tls.placeholder)
            tls = stream.start_tls(context, server_hostname=host, timeout=self._settings.connect_timeout)
            tls.read(1, timeout=_PROBE_WAIT)
        except Exception as exc:
            return _alert(exc)
        finally:
            stream.close()
        return False

    def send(self, request: WireRequest, *, timeout: float, into: BinaryIO | None = None) -> WireResponse:
        """One attempt, bounded by ``timeout`` as a whole; every failure raises a :class:`WinicError`. ``into``
        (pulls only: their answers were handed out and must never be refused for their size): the body is
        streamed into that file with no size cap, and only an answer of at most ``STREAM_HEAD`` bytes is
        also in the returned response's ``content`` (else it is empty)."""
        trace = self._open()
        if self._owned:
            trace.deadline = time.monotonic() + timeout
        token = _current.set(trace)
        body = _Body(self._settings.max_response_bytes) if into is None else _StreamedBody(into)
        try:
            with self._client.stream(
                request.method,
                request.url,
                headers=request.headers,
                content=request.body,
                extensions=None if self._owned else {"trace": trace},
            ) as response:
                body.declared(response.headers)
                for chunk in response.iter_bytes():
                    body.add(chunk)
                _check_framing(response)
        except WinicError:
            raise  # ours, raised below httpx2 (an answer too large, a certificate that cannot be loaded)
        except _CAUGHT as exc:
            error = map_error(exc, sending=trace.may_have_sent, new_tls=trace.new_tls)
            if _refused_tls(error, trace, self._probe) and self._handshake_refused():
                error = _tls_error()
            raise self._failed(error, request.url) from None
        except Exception as exc:
            raise self._failed(_unexpected(exc, sending=trace.may_have_sent), request.url) from None
        finally:
            _current.reset(token)
        return self._answer(request, response, body)

    def fetch(self, url: str) -> bytes:
        """GET a document (the WSDL) through the same client, so proxies and certificates apply."""
        return self._fetched(url, self.send(WireRequest("GET", url), timeout=self._settings.timeout))

    def close(self) -> None:
        """Close our client (a user's client stays open: it is the user's to close)."""
        self._closed = True
        if self._owned:
            self._client.close()


class AsyncWire(_Wire):
    """An async HTTP client for one winic client: ours (built from settings) or the user's.

    A pool belongs to the event loop its connections were opened on. Used from another loop (a second
    ``asyncio.run()``) after that one closed, our wire opens fresh connections on the new loop; a user's
    client, or a first loop still open, is refused with a :class:`ConfigurationError` before anything is
    sent: its connections would write on a loop that no longer runs them."""

    _transport = _AsyncGuardedTransport
    _client_class = httpx2.AsyncClient

    def __init__(
        self, settings: Settings, *, http_client: httpx2.AsyncClient | None = None, verify: Any = None
    ) -> None:
        super().__init__(settings, http_client, verify)
        self._loop: weakref.ref[Any] | None = None

    def _renew(self) -> None:
        super()._renew()
        self._loop = None  # a fork from inside a running loop: the child's pool is new, on no loop yet

    def _on_this_loop(self) -> None:
        """Bind the pool to the running asyncio loop; renew or refuse it when the loop changed."""
        try:
            import asyncio

            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # not asyncio (trio): anyio's own rules apply
        bound = self._loop() if self._loop is not None else None
        if bound is loop:
            return
        with self._lock:
            bound = self._loop() if self._loop is not None else None
            if self._loop is not None and bound is not loop:
                if bound is not None and not bound.is_closed():
                    raise ConfigurationError(
                        "this AsyncWinicClient is in use on another event loop that is still open: "
                        "make one client per event loop"
                    )
                if not self._owned:
                    raise ConfigurationError(
                        "the http_client given was used on an event loop that has closed; its pooled "
                        "connections cannot be used on this one: give a client made for this loop"
                    )
                self._client = self._build()  # the dead loop's connections are dropped with their pool
            self._loop = weakref.ref(loop)

    async def _handshake_refused(self) -> bool:
        """The async twin of :meth:`SyncWire._handshake_refused`."""
        assert self._probe is not None
        host, port = self._probe
        try:
            stream = await httpcore2.AnyIOBackend().connect_tcp(host, port, timeout=self._settings.connect_timeout)
        except (httpcore2.ConnectError, httpcore2.ConnectTimeout):
            return False
        try:
            context = self._tls.resolve(self._tls.placeholder)
            tls = await stream.start_tls(context, server_hostname=host, timeout=self._settings.connect_timeout)
            await tls.read(1, timeout=_PROBE_WAIT)
        except Exception as exc:
            return _alert(exc)
        finally:
            await stream.aclose()
        return False

    async def send(self, request: WireRequest, *, timeout: float, into: BinaryIO | None = None) -> WireResponse:
        """One attempt in a cancel scope of ``timeout`` seconds; every failure raises a :class:`WinicError`.
        ``into``: as :meth:`SyncWire.send` (a pull's body streamed into that file, no size cap)."""
        trace = self._open()
        self._on_this_loop()
        token = _current.set(trace)
        body = _Body(self._settings.max_response_bytes) if into is None else _StreamedBody(into)
        try:
            with anyio.fail_after(timeout):
                async with self._client.stream(
                    request.method,
                    request.url,
                    headers=request.headers,
                    content=request.body,
                    extensions=None if self._owned else {"trace": trace.async_call},
                ) as response:
                    body.declared(response.headers)
                    async for chunk in response.aiter_bytes():
                        body.add(chunk)
                    _check_framing(response)
        except WinicError:
            raise
        except TimeoutError:
            timed_out = map_error(httpx2.ReadTimeout("attempt timed out"), sending=trace.may_have_sent)
            raise self._failed(timed_out, request.url) from None
        except _CAUGHT as exc:
            error = map_error(exc, sending=trace.may_have_sent, new_tls=trace.new_tls)
            if _refused_tls(error, trace, self._probe) and await self._handshake_refused():
                error = _tls_error()
            raise self._failed(error, request.url) from None
        except Exception as exc:
            raise self._failed(_unexpected(exc, sending=trace.may_have_sent), request.url) from None
        finally:
            _current.reset(token)
        return self._answer(request, response, body)

    async def fetch(self, url: str) -> bytes:
        """GET a document (the WSDL) through the same client, so proxies and certificates apply."""
        return self._fetched(url, await self.send(WireRequest("GET", url), timeout=self._settings.timeout))

    async def aclose(self) -> None:
        """Close our client (a user's client stays open). Connections of a loop that has closed are
        dropped: they cannot be closed from another loop (their sockets close when collected)."""
        self._closed = True
        bound = self._loop() if self._loop is not None else None
        if self._owned and (self._loop is None or (bound is not None and not bound.is_closed())):
            await self._client.aclose()


class _StreamedBody:
    """A pull answer's (decompressed) body written to a file as it comes: memory stays flat whatever its size.
    Its first ``STREAM_HEAD`` bytes are kept too, so a short answer (a code, a fault) is read as usual."""

    __slots__ = ("_head", "_into", "_total")

    def __init__(self, into: BinaryIO) -> None:
        self._into: BinaryIO | None = into
        self._head = bytearray()
        self._total = 0

    def declared(self, headers: httpx2.Headers) -> None:
        """No size is refused: the service handed these records out and will not again."""

    def add(self, chunk: bytes) -> None:
        self._total += len(chunk)
        if self._into is not None:
            try:
                self._into.write(chunk)
            except OSError as exc:
                self._to_memory(exc, len(chunk))
        if self._into is None or self._total <= STREAM_HEAD:
            self._head += chunk
        elif self._head:
            self._head = bytearray()

    def _to_memory(self, exc: OSError, pending: int = 0) -> None:
        """The disk refused the body (full): keep it in memory, the only place left for records handed out;
        possible while all of it so far is in memory too, else the error stands (what was written is lost)."""
        if self._total - pending > len(self._head):
            raise exc
        logger.error("a pull answer cannot be written to disk (%s); it is read into memory", exc)
        self._into = None

    def response(self, request: WireRequest, response: httpx2.Response) -> WireResponse:
        if self._into is not None:
            try:
                self._into.flush()
            except OSError as exc:
                self._to_memory(exc)
        logger.debug(
            "%s %s -> %d (%d bytes, streamed)", request.method, redact(request.url), response.status_code, self._total
        )
        return WireResponse(response.status_code, response.headers, bytes(self._head))


class _Body:
    """An answer's (decompressed) body, refused past ``limit`` bytes: a gzip bomb is refused too."""

    __slots__ = ("_limit", "_parts", "_total")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._parts: list[bytes] = []
        self._total = 0

    def declared(self, headers: httpx2.Headers) -> None:
        """Refuse an answer whose declared length is over the limit before reading any of it."""
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._limit:
            raise ProtocolError(f"answer of {declared} bytes is larger than {self._limit}; refused", processed=None)

    def add(self, chunk: bytes) -> None:
        self._total += len(chunk)
        if self._total > self._limit:
            raise ProtocolError(f"answer larger than {self._limit} bytes; refused", processed=None)
        self._parts.append(chunk)

    def response(self, request: WireRequest, response: httpx2.Response) -> WireResponse:
        content = b"".join(self._parts)
        logger.debug("%s %s -> %d (%d bytes)", request.method, redact(request.url), response.status_code, len(content))
        return WireResponse(response.status_code, response.headers, content)  # httpx2.Headers: case-insensitive


class WebhookClient:
    """POSTs to one webhook endpoint on the guarded network stack the service calls use: each POST bounded as a
    whole by its ``timeout`` (a receiver that trickles or never answers is cut at the deadline), and
    :meth:`interrupt`, from another thread, ends the POST under way at once. The settings' proxy for the URL,
    CA bundle, client certificate and pool apply; no redirect is followed (a 3xx is not an acknowledgement)."""

    def __init__(self, settings: Settings, url: str) -> None:
        self.url = url
        tls = _LazyTLS(lambda: ssl_context(settings))
        tls.resolve(tls.placeholder)  # built now: a bad CA or certificate file fails here, not at the first POST
        with _proxy_checked():
            transport = _GuardedTransport(
                tls=tls,
                bounds=_IdleBounds(),
                limits=_limits(settings),
                proxy=proxy_for(url, settings),
                trust_env=settings.trust_env,
            )
        self._client = httpx2.Client(
            transport=transport,
            trust_env=False,
            follow_redirects=False,
            timeout=_timeout(settings, settings.timeout),
            headers={"User-Agent": USER_AGENT},
        )
        self._lock = threading.Lock()
        self._attempt: _Attempt | None = None
        self._interrupted = False

    def __repr__(self) -> str:
        return f"WebhookClient({redact(self.url)!r})"

    def post(self, content: bytes, headers: Mapping[str, str], *, timeout: float, keep: int = 65536) -> int:
        """POST ``content`` within ``timeout`` seconds in all and return the answer's status; every failure
        (the deadline, an interruption) raises our typed error. The answer's body is read up to ``keep``
        bytes (so the connection is reused), and a longer one is dropped unread."""
        attempt = _Attempt(time.monotonic() + timeout, traced=True, private_urls=True)
        with self._lock:
            if self._interrupted:
                raise ClientClosedError("the webhook client was interrupted; nothing was sent")
            self._attempt = attempt
        token = _current.set(attempt)
        try:
            with self._client.stream("POST", self.url, content=content, headers=dict(headers)) as response:
                read = 0
                for chunk in response.iter_raw():
                    read += len(chunk)
                    if read > keep:
                        break
                return response.status_code
        except _CAUGHT as exc:
            raise map_error(exc, sending=attempt.may_have_sent, new_tls=attempt.new_tls) from None
        finally:
            _current.reset(token)
            with self._lock:
                self._attempt = None

    def interrupt(self) -> None:
        """From another thread: cut the POST under way (its connection is shut down) and refuse later ones."""
        with self._lock:
            self._interrupted = True
            attempt = self._attempt
        if attempt is not None:
            attempt.interrupt()

    def close(self) -> None:
        """Close the connections (the pool)."""
        self._client.close()
