"""The mock in process: an httpx2 transport, for ``httpx2.Client`` and ``httpx2.AsyncClient`` alike, that runs
the same router as the socket server, so a test needs no port and gets the same bytes, faults and ledger.

The only module of the mock that imports httpx2; nothing imports it until a transport is asked for.

    mock = MockService()                      # no start(): no socket
    client = httpx2.Client(transport=mock.httpx_transport())
    client.post("http://winic.test/Service.asmx/GetUserInfo", data={"uid": "demo", "pwd": "demo-secret"})

Where the socket server's behaviour is made of time or TCP, this is how it shows here:

- ``latency``: a blocking sleep (sync) or ``anyio.sleep`` (async: the event loop runs on). If the request's
  read timeout is shorter, the caller gets ``httpx2.ReadTimeout`` after that long, and the operation still
  runs, as on a server that cannot know its client gave up; likewise when an async caller is cancelled.
- ``close_before`` / ``close_after``: ``httpx2.RemoteProtocolError("Server disconnected without sending a
  response.")``, raised before or after the operation ran (the ledger says which).
- ``truncate``: the status and headers arrive, then reading the body raises ``httpx2.RemoteProtocolError``
  after half of it, as a socket cut mid-body reads.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import anyio
import httpx2

from winic_soap.mock import protocol
from winic_soap.mock.admin import AdminAPI
from winic_soap.mock.faults import FaultPlan
from winic_soap.mock.routing import Outcome, Request, Router

if TYPE_CHECKING:
    from winic_soap.mock.state import MockState

__all__ = ["InProcessTransport"]

_DISCONNECTED = "Server disconnected without sending a response."


class _TruncatedBody(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """Half of the body, then the error a socket closed mid-body gives."""

    def __init__(self, body: bytes, request: httpx2.Request) -> None:
        self._part = body[: len(body) // 2]
        self._expected = len(body)
        self._request = request

    def _error(self) -> httpx2.RemoteProtocolError:
        message = (
            "peer closed connection without sending complete message body: "
            f"received {len(self._part)} bytes, expected {self._expected}"
        )
        return httpx2.RemoteProtocolError(message, request=self._request)

    def __iter__(self) -> Iterator[bytes]:
        yield self._part
        raise self._error()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._part
        raise self._error()


class InProcessTransport(httpx2.BaseTransport, httpx2.AsyncBaseTransport):
    """An httpx2 transport over a mock's router. Get one from ``MockService.httpx_transport()`` or
    ``InProcessTransport.for_state(state)``; one instance serves sync and async clients, even both at once."""

    def __init__(self, router: Router, *, client_ip: str = "127.0.0.1") -> None:
        self.router = router
        self.client_ip = client_ip

    @classmethod
    def for_state(cls, state: MockState, *, client_ip: str = "127.0.0.1") -> InProcessTransport:
        """A transport over a bare state, with a fault plan of its own (``transport.router.faults``): for
        unit tests that need neither a socket nor a :class:`~winic_soap.mock.MockService`. Here, not on the
        state, because the state is the mock's core and knows none of the shells put over it."""
        faults = FaultPlan()
        admin = AdminAPI(state, faults, lambda: {"connections_open": 0, "connections_total": 0})
        return cls(Router(state, faults, admin), client_ip=client_ip)

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        exchange = self.router.route(self._request(request, request.read()))
        wait = _read_timeout(request)
        if exchange.delay and wait is not None and wait < exchange.delay:
            time.sleep(wait)
            exchange.complete()  # the server goes on without its client
            raise httpx2.ReadTimeout("timed out", request=request)
        if exchange.delay:
            time.sleep(exchange.delay)
        return self._response(exchange.complete(), request)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        exchange = self.router.route(self._request(request, await request.aread()))
        if exchange.delay:
            wait = _read_timeout(request)
            try:
                await anyio.sleep(exchange.delay if wait is None else min(wait, exchange.delay))
            except BaseException:
                exchange.complete()  # cancelled by the caller: the server goes on without it
                raise
            if wait is not None and wait < exchange.delay:
                exchange.complete()
                raise httpx2.ReadTimeout("timed out", request=request)
        return self._response(exchange.complete(), request)

    def _request(self, request: httpx2.Request, body: bytes) -> Request:
        headers = dict(request.headers.items())
        host = headers.get("host") or request.url.netloc.decode("ascii")
        target = request.url.raw_path.decode("latin-1")
        return Request(request.method, target, headers, body, host, self.client_ip)

    @staticmethod
    def _response(outcome: Outcome, request: httpx2.Request) -> httpx2.Response:
        response = outcome.response
        if response is None:
            raise httpx2.RemoteProtocolError(_DISCONNECTED, request=request)
        stream: httpx2.SyncByteStream | httpx2.AsyncByteStream
        if outcome.action == "truncate":
            stream = _TruncatedBody(response.body, request)
        else:
            stream = httpx2.ByteStream(response.body)
        extensions = {"http_version": b"HTTP/1.1", "reason_phrase": protocol.reason(response.status).encode()}
        return httpx2.Response(
            response.status,
            headers=protocol.response_headers(response),
            stream=stream,
            request=request,
            extensions=extensions,
        )


def _read_timeout(request: httpx2.Request) -> float | None:
    timeout = request.extensions.get("timeout") or {}
    value = timeout.get("read")
    return None if value is None else float(value)
