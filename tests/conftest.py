"""Shared test set-up: no test may reach beyond this machine's loopback."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo
_LOCAL_NAMES = {"localhost", "localhost.localdomain", ""}


class NetworkBlocked(RuntimeError):
    """A test tried to reach a non-loopback address."""


def _is_loopback(host: object) -> bool:
    if not isinstance(host, str):
        return False
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _check(address: Any) -> None:
    if isinstance(address, tuple) and not _is_loopback(address[0]):
        raise NetworkBlocked(f"test tried to connect to {address!r}")


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check(address)
    _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check(address)
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    name = host.decode() if isinstance(host, bytes) else host
    if name is not None and not _is_loopback(name):
        raise NetworkBlocked(f"test tried to resolve {name!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True)
def _block_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """zeep's own suite does the same: any socket to a non-loopback address fails loudly."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", _guarded_getaddrinfo)
    yield


# -- shared client fixtures -------------------------------------------------------------------
TRANSPORTS = ("soap11", "soap12", "http-post", "http-get")


class SleepRecorder:
    """Stands in for ``time.sleep`` in retry policies: records the waits, never sleeps."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def make_client(winic_mock: Any, sleeps: SleepRecorder) -> Iterator[Any]:
    """Build clients against the test's mock (no real retry sleeps); all closed after the test."""
    from winic_soap import RetryPolicy, WinicClient

    made: list[WinicClient] = []

    def factory(transport: str = "soap11", **options: Any) -> WinicClient:
        options.setdefault("retry", RetryPolicy(sleep=sleeps))
        client = WinicClient(
            options.pop("uid", "demo"),
            options.pop("pwd", "demo-secret"),
            endpoint=options.pop("endpoint", winic_mock.url),
            transport=transport,
            **options,
        )
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()
