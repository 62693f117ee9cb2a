"""Fixtures for the wire tests: the mock, and the real servers put between it and the client."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from drive import AsyncDriven, LoopThread
from forward_proxy import ForwardProxy
from scripted_server import Script, ScriptedServer
from tls_front import Certificates, TLSFront

from winic_soap.mock import MockService

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def _no_proxy_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests set proxy variables themselves; none may leak in from the machine running them."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def mock() -> Iterator[MockService]:
    with MockService() as service:
        yield service


def address(mock: MockService) -> tuple[str, int]:
    host, _, port = mock.base_url.removeprefix("http://").rpartition(":")
    return host, int(port)


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return Certificates.make(Path(tmp_path_factory.mktemp("certs")))


@pytest.fixture
def forward_proxy() -> Iterator[ForwardProxy]:
    proxy = ForwardProxy().start()
    yield proxy  # type: ignore[misc]
    proxy.stop()


@pytest.fixture
def tls_front(certs: Certificates, mock: MockService) -> Iterator[Callable[..., TLSFront]]:
    """``tls_front(tls_version=None)``: a started TLS front before the mock, stopped after the test."""
    started: list[TLSFront] = []

    def start(tls_version: ssl.TLSVersion | None = None) -> TLSFront:
        front = TLSFront(certs, address(mock), tls_version=tls_version)
        front.start()
        started.append(front)
        return front

    yield start
    for front in started:
        front.stop()


@pytest.fixture
def scripted(mock: MockService) -> Iterator[Callable[..., ScriptedServer]]:
    """``scripted(script, **options)``: a started scripted server in front of the mock."""
    started: list[ScriptedServer] = []

    def start(script: Script, **options: Any) -> ScriptedServer:
        server = ScriptedServer(script, address(mock), **options)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def client_factory() -> Iterator[Callable[..., Any]]:
    """``client_factory(flavour, endpoint, **options)``: a WinicClient ("sync") or an AsyncWinicClient
    driven call by call on one event loop ("async"), for account ``demo``; all closed after the test."""
    import winic_soap

    made: list[Any] = []
    loop: list[LoopThread] = []

    def make(flavour: str, endpoint: str, **options: Any) -> Any:
        options.setdefault("backoff", 0.01)  # retries wait, but not long
        options.setdefault("backoff_max", 0.01)
        if flavour == "sync":
            client = winic_soap.WinicClient("demo", "demo-secret", endpoint=endpoint, **options)
        else:
            if not loop:
                loop.append(LoopThread())

            async def enter() -> Any:
                made_async = winic_soap.AsyncWinicClient("demo", "demo-secret", endpoint=endpoint, **options)
                return await made_async.__aenter__()

            client = AsyncDriven(loop[0], loop[0].run(enter()))
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
    for each in loop:
        each.close()
