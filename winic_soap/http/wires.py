"""The wires the client shells move requests through, sync and async: one bounded attempt on our own
client (built from settings on the guarded stack) or on the user's (``http_client=``), every failure a typed
error, and the pool renewed after a fork or (async) on a new event loop.

``timeout`` bounds an attempt as a whole -- connect, send, and the complete answer -- also against a
server that trickles bytes or sends endless interim answers: the sync client runs on a network backend
that clamps every socket operation to the attempt's deadline; the async client runs the attempt in an
anyio cancel scope. A client given by the user keeps its own transport and timeouts."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import weakref
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import anyio
import httpx2

from winic_soap.config import Settings
from winic_soap.core.answer import WireRequest, WireResponse
from winic_soap.exceptions import ClientClosedError, ConfigurationError, HTTPStatusError, WinicError
from winic_soap.http import fork
from winic_soap.http.attempt import Attempt, current
from winic_soap.http.bodies import Body, StreamedBody
from winic_soap.http.connection import IdleBounds, check_framing
from winic_soap.http.errors import CAUGHT, hostport, located, map_error, refusal, tls_error, unexpected
from winic_soap.http.options import build_client, proxy_for
from winic_soap.http.probe import Probe
from winic_soap.http.stack import AsyncGuardedTransport, GuardedTransport
from winic_soap.http.tls import LazyTLS, ssl_context, tls_configured
from winic_soap.redaction import url_for_log

__all__ = ["AsyncHttpClient", "AsyncWire", "HttpClient", "SyncWire"]

logger = logging.getLogger("winic_soap.http")
HttpClient = httpx2.Client  # what ``http_client=`` takes, named here so no other module imports httpx2
AsyncHttpClient = httpx2.AsyncClient


class _Wire:
    """What both wires share: the client, ours (built from settings) or the user's, and its proxy,
    probe and closed state; how a failure becomes our error and an answer our response. The subclasses
    move bytes; ``_transport``/``_client_class`` say with what.

    After ``os.fork()`` the child's wire drops the inherited pool (without closing it: its sockets are the
    parent's too) and builds a new one, once, in the fork hook, before any thread of the child can send.
    """

    _transport: type[GuardedTransport | AsyncGuardedTransport]
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
        self._tls = LazyTLS(lambda: ssl_context(self._settings, self._verify))
        self._probe = (
            Probe(settings.endpoint, self._proxy, self._tls, settings.connect_timeout) if self._owned else None
        )
        if self._owned and (urlsplit(settings.endpoint).scheme == "https" or tls_configured(settings, verify)):
            self._tls.build_now()
        self._bounds = IdleBounds()
        self._closed = False
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._client: Any = http_client if http_client is not None else self._build()
        fork.register(self)
        if self._proxy:
            logger.debug("requests to %s go through the proxy %s", hostport(settings.endpoint), hostport(self._proxy))

    def _build(self) -> Any:
        return build_client(
            self._client_class, self._transport, self._settings, tls=self._tls, bounds=self._bounds, proxy=self._proxy
        )

    def forked(self) -> None:
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

    def _open(self, into: BinaryIO | None, deadline: float | None) -> tuple[Attempt, Body | StreamedBody]:
        """A new attempt (on our client, with ``deadline``) and the body its answer goes into."""
        if self._closed:
            raise ClientClosedError("the client is closed")
        self.renew()
        attempt = Attempt(deadline if self._owned else None, traced=self._owned)
        return attempt, Body(self._settings.max_response_bytes) if into is None else StreamedBody(into)

    def _extensions(self, trace: Any) -> dict[str, Any] | None:
        """On a user's client, httpcore's trace events tell the attempt's phase (our streams tell ours)."""
        return None if self._owned else {"trace": trace}

    def _mapped(self, exc: Exception, attempt: Attempt) -> WinicError:
        """Our error for what the attempt raised: httpx2's by :func:`map_error`, anything else (a user's hook,
        instrumentation) by :func:`unexpected`; both judged by how far the attempt got."""
        if isinstance(exc, CAUGHT):
            return map_error(exc, sending=attempt.may_have_sent, new_tls=attempt.new_tls, last_status=attempt.status)
        return unexpected(exc, sending=attempt.may_have_sent)

    def _probe_for(self, error: WinicError, attempt: Attempt) -> Probe | None:
        """The TLS probe, when ``error`` (a lost TLS connection opened in this attempt) deserves one."""
        return self._probe if self._probe is not None and self._probe.deserved(error, attempt) else None

    def _failed(self, error: WinicError, url: str) -> WinicError:
        return located(error, url, self._proxy)

    def _answer(self, request: WireRequest, response: httpx2.Response, body: Body | StreamedBody) -> WireResponse:
        answer = body.response(request, response)
        refused = refusal(answer.status, answer.content)
        if refused is not None:
            raise self._failed(refused, request.url)
        return answer

    def _fetched(self, url: str, response: WireResponse) -> bytes:
        if response.status != 200:
            raise HTTPStatusError(response.status, f"fetching {url_for_log(url)} answered HTTP {response.status}")
        return response.content


class SyncWire(_Wire):
    """A sync HTTP client for one winic client: ours (built from settings) or the user's."""

    _transport = GuardedTransport
    _client_class = httpx2.Client

    def __init__(self, settings: Settings, *, http_client: httpx2.Client | None = None, verify: Any = None) -> None:
        super().__init__(settings, http_client, verify)

    def send(self, request: WireRequest, *, timeout: float, into: BinaryIO | None = None) -> WireResponse:
        """One attempt, bounded by ``timeout`` as a whole; every failure raises a :class:`WinicError`. ``into``
        (pulls only: their answers were handed out and must never be refused for their size): the body is
        streamed into that file with no size cap, and only an answer of at most ``STREAM_HEAD`` bytes is
        also in the returned response's ``content`` (else it is empty)."""
        attempt, body = self._open(into, time.monotonic() + timeout)
        token = current.set(attempt)
        try:
            with self._client.stream(
                request.method,
                request.url,
                headers=request.headers,
                content=request.body,
                extensions=self._extensions(attempt),
            ) as response:
                body.declared(response.headers)
                for chunk in response.iter_bytes():
                    body.add(chunk)
                check_framing(response)
        except WinicError:
            raise  # ours, raised below httpx2 (an answer too large, a certificate that cannot be loaded)
        except Exception as exc:
            error = self._mapped(exc, attempt)
            probe = self._probe_for(error, attempt)
            if probe is not None and probe.refused():
                error = tls_error()
            raise self._failed(error, request.url) from None
        finally:
            current.reset(token)
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

    _transport = AsyncGuardedTransport
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

    async def send(self, request: WireRequest, *, timeout: float, into: BinaryIO | None = None) -> WireResponse:
        """One attempt in a cancel scope of ``timeout`` seconds; every failure raises a :class:`WinicError`.
        ``into``: as :meth:`SyncWire.send` (a pull's body streamed into that file, no size cap)."""
        attempt, body = self._open(into, None)  # the cancel scope bounds the attempt
        self._on_this_loop()
        token = current.set(attempt)
        try:
            with anyio.fail_after(timeout):
                async with self._client.stream(
                    request.method,
                    request.url,
                    headers=request.headers,
                    content=request.body,
                    extensions=self._extensions(attempt.async_call),
                ) as response:
                    body.declared(response.headers)
                    async for chunk in response.aiter_bytes():
                        body.add(chunk)
                    check_framing(response)
        except WinicError:
            raise
        except TimeoutError:  # the cancel scope ran out
            timed_out = map_error(httpx2.ReadTimeout("attempt timed out"), sending=attempt.may_have_sent)
            raise self._failed(timed_out, request.url) from None
        except Exception as exc:
            error = self._mapped(exc, attempt)
            probe = self._probe_for(error, attempt)
            if probe is not None and await probe.arefused():
                error = tls_error()
            raise self._failed(error, request.url) from None
        finally:
            current.reset(token)
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
