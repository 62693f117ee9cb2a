"""``MockService``: the one object a test holds. It owns the state, the fault plan and the router, starts the
socket server on demand, and hands out an in-process httpx2 transport over the same router."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from winic_soap.mock.admin import AdminAPI
from winic_soap.mock.faults import FaultPlan, FaultRule
from winic_soap.mock.routing import Router
from winic_soap.mock.state import Account, LedgerEntry, MockState, service_now
from winic_soap.mock.wire import ConnectionStats, Limits, WireServer

if TYPE_CHECKING:
    from winic_soap.mock.transport import InProcessTransport

__all__ = ["DEFAULT_ACCOUNT", "MockService", "parse_account"]

DEFAULT_ACCOUNT = Account("demo", "demo-secret", balance=Decimal("100"))


def parse_account(spec: str) -> Account:
    """``UID:PWD[:BALANCE]`` as given to ``winic-soap mock --account``."""
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise ValueError(f"account must be UID:PWD[:BALANCE], got {parts[0]!r}:…")
    return Account(parts[0], parts[1], balance=Decimal(parts[2]) if len(parts) == 3 else Decimal("100"))


def _coerce(account: Account | tuple[Any, ...] | str) -> Account:
    if isinstance(account, Account):
        return account
    if isinstance(account, str):
        return parse_account(account)
    return Account(*account)


class MockService:
    """A faithful, stateful fake of ``service.asmx``, on 127.0.0.1 or in process, for tests and demos.

    ``with MockService(accounts=[("uid", "pwd", "100")]) as mock: mock.url`` — see docs/mock.md.
    """

    def __init__(
        self,
        accounts: Iterable[Account | tuple[Any, ...] | str] = (DEFAULT_ACCOUNT,),
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], datetime] = service_now,
        pull_limit: int | None = None,
        idle_timeout: float = 30.0,
        max_body: int = 1024 * 1024,
    ) -> None:
        self.state = MockState([_coerce(a) for a in accounts], clock=clock, pull_limit=pull_limit)
        self.faults = FaultPlan()
        self.idle_timeout = idle_timeout
        self.max_body = max_body
        self._address = (host, port)
        self._connections = ConnectionStats()
        self.router = Router(self.state, self.faults, AdminAPI(self.state, self.faults, self._stats))
        self._server: WireServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> MockService:
        """Bind and serve in a background thread; ``url`` is valid once this returns."""
        if self._server is None:
            limits = Limits(self.idle_timeout, self.max_body)
            self._server = WireServer(self._address, self.router, limits, self._connections)
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="winic-mock", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            if self._thread is not None:
                self._thread.join(timeout=5)

    def __enter__(self) -> MockService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("mock is not started")
        return self._server.base_url

    @property
    def url(self) -> str:
        """The service endpoint, ``http://127.0.0.1:PORT/Service.asmx``."""
        return f"{self.base_url}/Service.asmx"

    @property
    def connections_open(self) -> int:
        """TCP connections the socket server holds now."""
        return self._connections.open

    @property
    def connections_total(self) -> int:
        """TCP connections the socket server has accepted since it was built."""
        return self._connections.total

    def _stats(self) -> dict[str, int]:
        return {"connections_open": self.connections_open, "connections_total": self.connections_total}

    def httpx_transport(self, *, client_ip: str = "127.0.0.1") -> InProcessTransport:
        """An httpx2 transport (sync and async) answering from this mock in process, no socket involved.

        ``httpx2.Client(transport=mock.httpx_transport())``: the same router as the socket server, so the same
        bytes, faults and ledger. Works whether or not the server is started. ``client_ip`` is the address the
        service sees (for accounts with ``allowed_ips``).
        """
        from winic_soap.mock.transport import InProcessTransport

        return InProcessTransport(self.router, client_ip=client_ip)

    # -- scripting ------------------------------------------------------------------------
    @property
    def ledger(self) -> list[LedgerEntry]:
        """Every request that reached an operation, in order (passwords masked)."""
        return self.state.entries()

    def calls(self, operation: str | None = None, *, processed: bool | None = True) -> list[LedgerEntry]:
        """Ledger entries for ``operation`` (all when None); by default only those the service ran."""
        return [
            e
            for e in self.ledger
            if (operation is None or e.operation == operation) and (processed is None or e.processed == processed)
        ]

    def account(self, uid: str) -> Account:
        return self.state.accounts[uid]

    def add_reply(
        self, mobile: str, text: str, *, uid: str | None = None, port: str = "001", at: datetime | None = None
    ) -> None:
        """Queue an incoming reply (to the only account when ``uid`` is omitted)."""
        self.state.add_reply(uid or self.state.only_uid(), mobile, text, port, at)

    def add_report(
        self, message_id: str, mobile: str, status: str, *, uid: str | None = None, at: datetime | None = None
    ) -> None:
        """Queue a delivery report by hand (an in-transit status, a late or repeated one); see ``MockState``."""
        self.state.add_report(uid or self.state.only_uid(), message_id, mobile, status, at)

    def script_status(self, mobile: str, status: str) -> None:
        self.state.script_status(mobile, status)

    def fail(
        self,
        kind: str,
        *,
        operation: str | None = None,
        times: int | None = 1,
        every: int | None = None,
        seconds: float = 0.0,
        code: str = "-09",
        body: str | bytes = b"",
        status: int = 200,
        content_type: str = "text/xml; charset=utf-8",
    ) -> FaultRule:
        """Script a fault (see ``faults.FaultKind``): one-shot by default, ``times=None`` for always.

        ``reply`` answers ``body`` verbatim (with ``status`` and ``content_type``) for hostile-answer tests.
        """
        return self.faults.script(
            kind,
            operation=operation,
            times=times,
            every=every,
            seconds=seconds,
            code=code,
            body=body,
            status=status,
            content_type=content_type,
        )

    def reset(self) -> None:
        """Forget faults, sends, queues and the ledger; accounts back to their initial state."""
        self.faults.clear()
        self.state.reset()
