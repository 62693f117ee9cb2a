"""The fake ``service.asmx`` as a real HTTP/1.1 server on loopback: threaded, keep-alive, one ``sendall``
per response, TCP_NODELAY. Routes the four protocols and the ``/_mock/`` admin endpoint."""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from email.utils import formatdate
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from winic_soap.mock import protocol
from winic_soap.mock.faults import PROCESSING_FAULTS, FaultPlan, FaultRule
from winic_soap.mock.state import Account, LedgerEntry, MockState, service_now

__all__ = ["DEFAULT_ACCOUNT", "MockService", "parse_account"]

DEFAULT_ACCOUNT = Account("demo", "demo-secret", balance=Decimal("100"))
_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    413: "Request Entity Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
    431: "Request Header Fields Too Large",
}
_MAX_LINE = 16 * 1024
_MAX_HEADERS = 100


@lru_cache(maxsize=2)
def _http_date_at(second: int) -> str:
    """The Date header, formatted once per second (formatdate costs more than the rest of the answer)."""
    return formatdate(second, usegmt=True)


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


class _Closed(Exception):
    """Internal: the connection is done (peer went away, fault closed it, or it timed out)."""


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def setup(self) -> None:
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.request.settimeout(self.server.mock.idle_timeout)
        self.rfile = self.request.makefile("rb", buffering=64 * 1024)
        self.server.mock._count_connection(+1)

    def finish(self) -> None:
        self.server.mock._count_connection(-1)
        try:
            self.rfile.close()
        finally:
            with contextlib.suppress(OSError):
                self.request.shutdown(socket.SHUT_RDWR)

    def handle(self) -> None:
        try:
            while self._one_request():
                pass
        except (_Closed, OSError):
            return

    def _send(self, response: protocol.Response, *, keep_alive: bool, truncate: bool = False) -> None:
        head = [
            f"HTTP/1.1 {response.status} {_REASONS.get(response.status, 'Error')}",
            "Cache-Control: private, max-age=0",
        ]
        if response.content_type:
            head.append(f"Content-Type: {response.content_type}")
        head += [
            "Server: Microsoft-IIS/7.5",
            "X-AspNet-Version: 4.0.30319",
            "X-Powered-By: ASP.NET",
            f"Date: {_http_date_at(int(time.time()))}",
            f"Content-Length: {len(response.body)}",
        ]
        if not keep_alive:
            head.append("Connection: close")
        body = response.body[: len(response.body) // 2] if truncate else response.body
        self.request.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)

    def _read_head(self) -> tuple[str, str, str, dict[str, str]] | None:
        line = self.rfile.readline(_MAX_LINE + 1)
        if not line:
            return None
        while line in (b"\r\n", b"\n"):  # tolerate stray CRLF between requests
            line = self.rfile.readline(_MAX_LINE + 1)
            if not line:
                return None
        if len(line) > _MAX_LINE:
            self._send(protocol.render_html_error(400), keep_alive=False)
            raise _Closed
        try:
            method, target, version = line.decode("latin-1").split()
        except ValueError:
            self._send(protocol.Response(400, None, b""), keep_alive=False)
            raise _Closed from None
        headers: dict[str, str] = {}
        for _ in range(_MAX_HEADERS + 1):
            raw = self.rfile.readline(_MAX_LINE + 1)
            if not raw or len(raw) > _MAX_LINE:
                raise _Closed
            if raw in (b"\r\n", b"\n"):
                return method, target, version, headers
            name, _, value = raw.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        self._send(protocol.render_html_error(400), keep_alive=False)
        raise _Closed

    def _read_body(self, headers: dict[str, str]) -> bytes:
        limit = self.server.mock.max_body
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline(_MAX_LINE).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(_MAX_LINE) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > limit:
                    self._send(protocol.render_html_error(413), keep_alive=False)
                    raise _Closed
                chunks.append(self._read_exact(size))
                self.rfile.readline(_MAX_LINE)
        length = int(headers.get("content-length", "0") or 0)
        if length < 0 or length > limit:
            self._send(protocol.render_html_error(413), keep_alive=False)
            raise _Closed
        return self._read_exact(length)

    def _read_exact(self, size: int) -> bytes:
        data: bytes = self.rfile.read(size)
        if len(data) != size:
            raise _Closed
        return data

    def _one_request(self) -> bool:
        head = self._read_head()
        if head is None:
            return False
        method, target, version, headers = head
        try:
            body = self._read_body(headers)
        except ValueError:
            self._send(protocol.Response(400, None, b""), keep_alive=False)
            return False
        keep_alive = headers.get("connection", "").lower() != "close" and version == "HTTP/1.1"
        mock = self.server.mock
        path, _, query = target.partition("?")
        lowered = unquote(path).lower()
        if lowered.startswith("/_mock/"):
            response: tuple[protocol.Response, bool] | None = (
                mock._admin(method, lowered[len("/_mock/") :], body),
                False,
            )
        else:
            response = self._service(method, (path, query), headers, body)
        if response is None:
            return False
        self._send(response[0], keep_alive=keep_alive, truncate=response[1])
        return keep_alive and not response[1]

    def _service(
        self, method: str, target: tuple[str, str], headers: dict[str, str], body: bytes
    ) -> tuple[protocol.Response, bool] | None:
        """Route one request to the right protocol; ``target`` is (path, query)."""
        path, query = target
        lowered = unquote(path).lower()
        mock = self.server.mock
        if lowered == "/service.asmx":
            if method == "GET" and query.lower() == "wsdl":
                return protocol.Response(200, protocol.XML_UTF8, protocol.rewrite_wsdl(mock.url)), False
            if method != "POST":
                return protocol.render_html_error(404), False
            ctype = headers.get("content-type", "")
            version = "soap12" if ctype.lower().startswith("application/soap+xml") else "soap11"
            action = headers.get("soapaction") if version == "soap11" else protocol.soap_action_from_content_type(ctype)
            action = action.strip().strip('"') if action else None
            try:
                call = protocol.decode_soap(version, body, action or None)
            except protocol.BadRequest:
                return protocol.Response(400, None, b""), False
            except protocol.Fault as fault:
                return protocol.render_fault(version, fault), False
            return self._dispatch(
                call.operation, version, call.params, lambda r: protocol.render_soap_result(version, call.operation, r)
            )
        if lowered.startswith("/service.asmx/") and method in ("GET", "POST"):
            name = unquote(path[len("/service.asmx/") :])
            transport = "http-get" if method == "GET" else "http-post"
            if name not in protocol.contract().operations:
                return protocol.unknown_operation(name), False
            try:
                params = protocol.decode_form(name, query, body if method == "POST" else None)
            except LookupError as missing:
                return protocol.missing_parameter(str(missing.args[0])), False
            return self._dispatch(name, transport, params, protocol.render_form_result)
        return protocol.render_html_error(404), False

    def _dispatch(
        self,
        operation: str,
        transport: str,
        params: dict[str, str | None],
        render: Callable[[str | None], protocol.Response],
    ) -> tuple[protocol.Response, bool] | None:
        mock = self.server.mock
        client_ip = self.client_address[0]
        delay, fault = mock.faults.pick(operation)
        if delay:
            time.sleep(delay)
        kind = fault.kind if fault else None
        if fault is None or kind in PROCESSING_FAULTS:
            try:
                answer = mock.state.call(operation, params, client_ip)
            except Exception as exc:  # a bug in the mock still answers like ASMX would
                if transport.startswith("soap"):
                    return protocol.server_fault(transport, exc), False
                return protocol.render_form_error(f"{type(exc).__name__}: {exc}"), False
            mock.state.record(operation, transport, params, answer, processed=True, fault=kind, client_ip=client_ip)
            if kind == "close_after":
                return None
            if kind == "malformed":
                return protocol.Response(200, protocol.XML_UTF8, render(answer).body[:-7] + b"<broken"), False
            return render(answer), kind == "truncate"
        assert fault is not None
        answer = fault.code if kind == "code" else None
        mock.state.record(operation, transport, params, answer, processed=False, fault=kind, client_ip=client_ip)
        if kind == "code":
            return render(fault.code), False
        if kind == "close_before":
            return None
        if kind == "reply":
            body = fault.body.encode("utf-8") if isinstance(fault.body, str) else fault.body
            return protocol.Response(fault.status, fault.content_type or None, body), False
        return protocol.render_html_error(500 if kind == "http500" else 503), False


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], mock: MockService) -> None:
        self.mock = mock
        super().__init__(address, _Handler)


class MockService:
    """A faithful, stateful fake of ``service.asmx`` on 127.0.0.1, for tests and demos.

    ``with MockService(accounts=[("uid", "pwd", "100")]) as mock: mock.url`` — see the README.
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
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._conn_lock = threading.Lock()
        self.connections_open = 0
        self.connections_total = 0

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> MockService:
        """Bind and serve in a background thread; ``url`` is valid once this returns."""
        if self._server is None:
            self._server = _Server(self._address, self)
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
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def url(self) -> str:
        """The service endpoint, ``http://127.0.0.1:PORT/Service.asmx``."""
        return f"{self.base_url}/Service.asmx"

    def _count_connection(self, delta: int) -> None:
        with self._conn_lock:
            self.connections_open += delta
            if delta > 0:
                self.connections_total += 1

    # -- scripting ------------------------------------------------------------------------
    @property
    def ledger(self) -> list[LedgerEntry]:
        """Every request that reached an operation, in order (passwords masked)."""
        with self.state._lock:
            return list(self.state.ledger)

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
        self.state.add_reply(uid or self._only_uid(), mobile, text, port, at)

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
        if operation is not None and operation not in protocol.contract().operations:
            raise ValueError(f"operation {operation!r} is not in the WSDL")
        rule = FaultRule(kind, operation, times, every, seconds, code, body, status, content_type)
        return self.faults.add(rule)

    def reset(self) -> None:
        """Forget faults, sends, queues and the ledger; accounts back to their initial state."""
        self.faults.clear()
        self.state.reset()

    def _only_uid(self) -> str:
        uids: Sequence[str] = list(self.state.accounts)
        if len(uids) != 1:
            raise ValueError("several accounts: pass uid=")
        return uids[0]

    # -- the admin endpoint ---------------------------------------------------------------
    def _admin(self, method: str, action: str, body: bytes) -> protocol.Response:
        try:
            data = json.loads(body or b"{}") if method == "POST" else {}
            if method == "GET" and action == "ledger":
                result: Any = [e.as_dict() for e in self.ledger]
            elif method == "GET" and action == "stats":
                result = {
                    "connections_open": self.connections_open,
                    "connections_total": self.connections_total,
                    "sends": len(self.state.sends),
                }
            elif method == "POST" and action == "fail":
                rule = self.fail(**data)
                result = {"kind": rule.kind}
            elif method == "POST" and action == "reply":
                self.add_reply(data.pop("mobile"), data.pop("text"), **data)
                result = {"queued": 1}
            elif method == "POST" and action == "status":
                self.script_status(data["mobile"], data["status"])
                result = {"ok": True}
            elif method == "POST" and action == "reset":
                self.reset()
                result = {"ok": True}
            else:
                return protocol.render_html_error(404)
        except (ValueError, KeyError, TypeError) as exc:
            return protocol.Response(400, "application/json", json.dumps({"error": str(exc)}).encode())
        return protocol.Response(200, "application/json", json.dumps(result, default=str).encode())
