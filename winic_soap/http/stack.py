"""The guarded network stack under httpx2's connection pools, sync and async: every socket operation
clamped to the attempt's deadline (sync; the async attempt runs in a cancel scope), each connection
watched (:mod:`winic_soap.http.connection`), the TLS placeholder swapped for the wire's context."""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import Any

import httpcore2
import httpx2

from winic_soap.http.attempt import left, mark_new_tls
from winic_soap.http.connection import IdleBounds, Watch
from winic_soap.http.tls import LazyTLS

__all__ = ["AsyncGuardedTransport", "GuardedTransport"]


class _Watched:
    """What the sync and async streams share: the inner stream, the wire's TLS, the connection's watch,
    and the answers to ``get_extra_info`` (the pool's questions go to the watch)."""

    __slots__ = ("_stream", "_tls", "_watch")

    def __init__(self, stream: Any, tls: LazyTLS, watch: Watch) -> None:
        self._stream, self._tls, self._watch = stream, tls, watch

    def get_extra_info(self, info: str) -> Any:
        return self._watch.extra_info(info, self._stream.get_extra_info)


class _Guards:
    """What the sync and async backends share: the inner backend, the wire's TLS, its hosts' idle bounds."""

    def __init__(self, backend: Any, tls: LazyTLS, bounds: IdleBounds) -> None:
        self._backend, self._tls, self._bounds = backend, tls, bounds


class _GuardedStream(_Watched, httpcore2.NetworkStream):
    """A connection's stream, its operations within the attempt's time and reported to its :class:`Watch`."""

    __slots__ = ()

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            data: bytes = self._stream.read(max_bytes, left(timeout, httpcore2.ReadTimeout, self._stream))
        except httpcore2.ReadError:
            self._watch.lost()
            raise
        self._watch.received(data)
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        remaining = left(timeout, httpcore2.WriteTimeout, self._stream)  # out of time: provably nothing written
        self._watch.writing()
        self._stream.write(buffer, remaining)

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore2.NetworkStream:
        context = self._tls.resolve(ssl_context)
        remaining = left(timeout, httpcore2.ConnectTimeout, self._stream)
        stream = self._stream.start_tls(context, server_hostname, remaining)
        mark_new_tls()
        return _GuardedStream(stream, self._tls, self._watch.after_tls())


class _GuardedBackend(_Guards, httpcore2.NetworkBackend):
    """The network backend under the pool: each new connection guarded."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.NetworkStream:
        timeout = left(timeout, httpcore2.ConnectTimeout)
        stream = self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        try:
            left(None, httpcore2.ConnectTimeout, stream)  # noted for interrupt(); interrupted meanwhile: no request
        except httpcore2.ConnectTimeout:
            stream.close()
            raise
        return _GuardedStream(stream, self._tls, Watch.new(self._bounds, (host, port)))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore2.NetworkStream:
        timeout = left(timeout, httpcore2.ConnectTimeout)
        stream = self._backend.connect_unix_socket(path, timeout, socket_options)
        return _GuardedStream(stream, self._tls, Watch.new(self._bounds, (path, 0)))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _AsyncGuardedStream(_Watched, httpcore2.AsyncNetworkStream):
    """The async twin of :class:`_GuardedStream`; time is bounded by the attempt's cancel scope."""

    __slots__ = ()

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            data: bytes = await self._stream.read(max_bytes, timeout)
        except httpcore2.ReadError:
            self._watch.lost()
            raise
        self._watch.received(data)
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._watch.writing()
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore2.AsyncNetworkStream:
        stream = await self._stream.start_tls(self._tls.resolve(ssl_context), server_hostname, timeout)
        mark_new_tls()
        return _AsyncGuardedStream(stream, self._tls, self._watch.after_tls())


class _AsyncGuardedBackend(_Guards, httpcore2.AsyncNetworkBackend):
    """The async twin of :class:`_GuardedBackend`."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        stream = await self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        return _AsyncGuardedStream(stream, self._tls, Watch.new(self._bounds, (host, port)))

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore2.AsyncNetworkStream:
        stream = await self._backend.connect_unix_socket(path, timeout, socket_options)
        return _AsyncGuardedStream(stream, self._tls, Watch.new(self._bounds, (path, 0)))

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class GuardedTransport(httpx2.HTTPTransport):
    """httpx2's own transport, its connection pool on the guarded backend."""

    def __init__(self, *, tls: LazyTLS, bounds: IdleBounds, **options: Any) -> None:
        super().__init__(verify=tls.placeholder, **options)
        # httpx2 builds its httpcore2 pool without a network-backend argument; the pool reads this attribute
        # for every new connection. The trickle, endless-1xx and glued-answer tests fail if that changes.
        self._pool._network_backend = _GuardedBackend(self._pool._network_backend, tls, bounds)


class AsyncGuardedTransport(httpx2.AsyncHTTPTransport):
    """The async twin of :class:`GuardedTransport`."""

    def __init__(self, *, tls: LazyTLS, bounds: IdleBounds, **options: Any) -> None:
        super().__init__(verify=tls.placeholder, **options)
        self._pool._network_backend = _AsyncGuardedBackend(self._pool._network_backend, tls, bounds)
