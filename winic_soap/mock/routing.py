"""Sans-I/O routing of one request to the fake service: method, target, headers and body in, the answer (or
the scripted way of not answering) out. The socket server and the in-process httpx2 transport both run it,
so they answer byte for byte alike; neither sleeps nor touches a socket here."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Literal
from urllib.parse import unquote

from winic_soap.mock import help_pages, protocol
from winic_soap.mock.admin import AdminAPI
from winic_soap.mock.faults import PROCESSING_FAULTS, FaultPlan, FaultRule
from winic_soap.mock.state import MockState

__all__ = ["Action", "Exchange", "Outcome", "Request", "Router"]

Action = Literal["answer", "truncate", "close"]
_SERVICE = "/service.asmx"
_ADMIN = "/_mock/"


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request as the service sees it. ``target`` is the path and query as on the request line,
    ``headers`` have lower-case names; ``host`` (the Host header) names the service in the WSDL and help pages."""

    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes
    host: str
    client_ip: str = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What goes back: ``answer`` the response; ``truncate`` half of its body, then close; ``close`` nothing."""

    response: protocol.Response | None
    action: Action = "answer"


_CLOSE = Outcome(None, "close")


@dataclass(frozen=True, slots=True)
class Exchange:
    """A routed request: wait ``delay`` seconds (scripted latency: the shell sleeps its own way), then
    ``complete()`` runs the operation and gives the outcome."""

    delay: float
    complete: Callable[[], Outcome]

    @classmethod
    def ready(cls, outcome: Outcome) -> Exchange:
        return cls(0.0, lambda: outcome)


@dataclass(frozen=True, slots=True)
class _Call:
    """An operation call decoded from any of the four protocols, with how to render its answer."""

    operation: str
    transport: str
    params: dict[str, str | None]
    render: Callable[[str | None], protocol.Response]
    client_ip: str
    started: float


class Router:
    """Routes the four protocols, the WSDL, the help pages and the ``/_mock/`` admin API over one state."""

    def __init__(self, state: MockState, faults: FaultPlan, admin: AdminAPI) -> None:
        self.state = state
        self.faults = faults
        self.admin = admin

    def handle(self, request: Request, sleep: Callable[[float], None] = time.sleep) -> Outcome:
        """Route and complete ``request``, sleeping any scripted latency with ``sleep`` (blocking shells)."""
        exchange = self.route(request)
        if exchange.delay:
            sleep(exchange.delay)
        return exchange.complete()

    def route(self, request: Request) -> Exchange:
        """Decide what ``request`` is; nothing that changes state runs before ``complete()``."""
        started = time.monotonic()
        path, _, query = request.target.partition("?")
        lowered = unquote(path).lower()
        if lowered.startswith(_ADMIN):
            action = lowered[len(_ADMIN) :]
            return Exchange(0.0, partial(self._admin, request.method, action, request.body))
        if lowered == _SERVICE:
            return self._service_root(request, path, query, started)
        if lowered.startswith(_SERVICE + "/") and request.method in ("GET", "POST"):
            return self._form(request, unquote(path[len(_SERVICE) + 1 :]), query, started)
        return Exchange.ready(Outcome(protocol.render_html_error(404)))

    def _admin(self, method: str, action: str, body: bytes) -> Outcome:
        return Outcome(self.admin.handle(method, action, body))

    def _service_root(self, request: Request, path: str, query: str, started: float) -> Exchange:
        if request.method == "GET":
            url = f"http://{request.host}{path}"
            if query.lower() == "wsdl":
                return Exchange.ready(Outcome(protocol.Response(200, protocol.XML_UTF8, protocol.rewrite_wsdl(url))))
            return Exchange.ready(Outcome(help_pages.render(url, query)))
        if request.method != "POST":
            return Exchange.ready(Outcome(protocol.render_html_error(404)))
        ctype = request.headers.get("content-type", "")
        version = "soap12" if ctype.lower().startswith("application/soap+xml") else "soap11"
        if version == "soap11":
            action = request.headers.get("soapaction")
        else:
            action = protocol.soap_action_from_content_type(ctype)
        action = action.strip().strip('"') if action else None
        try:
            call = protocol.decode_soap(version, request.body, action or None)
        except protocol.BadRequest:
            return Exchange.ready(Outcome(protocol.Response(400, None, b"")))
        except protocol.Fault as fault:
            return Exchange.ready(Outcome(protocol.render_fault(version, fault)))
        render = partial(protocol.render_soap_result, version, call.operation)
        return self._operation(_Call(call.operation, version, call.params, render, request.client_ip, started))

    def _form(self, request: Request, name: str, query: str, started: float) -> Exchange:
        if name not in protocol.contract().operations:
            return Exchange.ready(Outcome(protocol.unknown_operation(name)))
        transport = "http-get" if request.method == "GET" else "http-post"
        try:
            params = protocol.decode_form(name, query, request.body if request.method == "POST" else None)
        except LookupError as missing:
            return Exchange.ready(Outcome(protocol.missing_parameter(str(missing.args[0]))))
        return self._operation(_Call(name, transport, params, protocol.render_form_result, request.client_ip, started))

    def _operation(self, call: _Call) -> Exchange:
        delay, fault = self.faults.pick(call.operation)
        return Exchange(delay, partial(self._run, call, fault))

    def _run(self, call: _Call, fault: FaultRule | None) -> Outcome:
        kind = fault.kind if fault else None
        render = call.render
        if fault is None or kind in PROCESSING_FAULTS:
            try:
                answer = self.state.call(call.operation, call.params, call.client_ip)
            except Exception as exc:  # a bug in the mock still answers like ASMX would
                if call.transport.startswith("soap"):
                    return Outcome(protocol.server_fault(call.transport, exc))
                return Outcome(protocol.render_form_error(f"{type(exc).__name__}: {exc}"))
            self._record(call, answer, processed=True, fault=kind)
            if kind == "close_after":
                return _CLOSE
            if kind == "malformed":
                return Outcome(protocol.Response(200, protocol.XML_UTF8, render(answer).body[:-7] + b"<broken"))
            return Outcome(render(answer), "truncate" if kind == "truncate" else "answer")
        answer = fault.code if kind == "code" else None
        self._record(call, answer, processed=False, fault=kind)
        if kind == "code":
            return Outcome(render(fault.code))
        if kind == "close_before":
            return _CLOSE
        if kind == "reply":
            body = fault.body.encode("utf-8") if isinstance(fault.body, str) else fault.body
            return Outcome(protocol.Response(fault.status, fault.content_type or None, body))
        return Outcome(protocol.render_html_error(500 if kind == "http500" else 503))

    def _record(self, call: _Call, answer: str | None, *, processed: bool, fault: str | None) -> None:
        self.state.record(
            call.operation,
            call.transport,
            call.params,
            answer,
            processed=processed,
            fault=fault,
            client_ip=call.client_ip,
            started_at=call.started,
        )
