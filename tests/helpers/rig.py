"""The rig of a wire test: the mock, the servers put between it and the client, and the clients."""

from __future__ import annotations

import ssl
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar, cast

from helpers.drive import AsyncDriven, LoopThread
from helpers.forward_proxy import ForwardProxy
from helpers.rawhttp import LoopbackServer
from helpers.scripted_server import Script, ScriptedServer
from helpers.tls_front import Certificates, TLSFront
from winic_soap.mock import MockService

if TYPE_CHECKING:
    from winic_soap import AsyncWinicClient, WinicClient

S = TypeVar("S", bound=LoopbackServer)


class Rig:
    """One test's mock and the servers it puts in front of it, started on demand, all stopped at the end;
    plus ``client(flavour, endpoint, **options)`` for a sync or async client on account ``demo``."""

    def __init__(self, mock: MockService, certs: Certificates) -> None:
        self.mock = mock
        self.certs = certs
        self._servers: list[LoopbackServer] = []
        self._clients: list[WinicClient] = []
        self._loop: LoopThread | None = None

    @property
    def upstream(self) -> tuple[str, int]:
        host, _, port = self.mock.base_url.removeprefix("http://").rpartition(":")
        return host, int(port)

    def _started(self, server: S) -> S:
        server.start()
        self._servers.append(server)
        return server

    @cached_property
    def proxy(self) -> ForwardProxy:
        return self._started(ForwardProxy())

    def auth_proxy(self, user: str, password: str) -> ForwardProxy:
        """A forward proxy that wants ``user:password`` (407 without them)."""
        return self._started(ForwardProxy((user, password)))

    def tls_front(self, tls_version: ssl.TLSVersion | None = None) -> TLSFront:
        return self._started(TLSFront(self.certs, self.upstream, tls_version=tls_version))

    def scripted(self, script: Script, **options: Any) -> ScriptedServer:
        return self._started(ScriptedServer(script, self.upstream, **options))

    def client(self, flavour: str, endpoint: str, **options: Any) -> WinicClient:
        """A WinicClient ("sync"), or an AsyncWinicClient driven call by call on one event loop ("async"),
        which shows the same sync face (so it is typed as one)."""
        import winic_soap

        options.setdefault("backoff", 0.01)  # retries wait, but not long
        options.setdefault("backoff_max", 0.01)
        if flavour == "sync":
            client = winic_soap.WinicClient("demo", "demo-secret", endpoint=endpoint, **options)
        else:
            loop = self._loop = self._loop or LoopThread()

            async def enter() -> AsyncWinicClient:
                made = winic_soap.AsyncWinicClient("demo", "demo-secret", endpoint=endpoint, **options)
                return await made.__aenter__()

            client = cast("WinicClient", AsyncDriven(loop, loop.run(enter())))
        self._clients.append(client)
        return client

    def close(self) -> None:
        for client in self._clients:
            client.close()
        if self._loop is not None:
            self._loop.close()
        for server in self._servers:
            server.stop()
