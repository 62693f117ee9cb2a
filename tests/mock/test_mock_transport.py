"""The in-process httpx2 transport answers exactly as the socket server does, sync and async, faults included."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx2
import pytest
from helpers import wire

import winic_soap
from winic_soap.mock import Account, InProcessTransport, MockService, MockState, protocol

CRED = {"uid": "demo", "pwd": "demo-secret"}
DOMESTIC = "13800138000"
FIXED = datetime(2026, 3, 4, 5, 6, 7)
VALUES = {"tos": DOMESTIC, "msg": "验证码 123456", "extno": "12", "newpwd": "n3w", "mob": DOMESTIC, "snum": ""}
INTERNATIONAL = {"tos": "447911123456"}
TRANSPORTS = ["soap11", "soap12", "http-post", "http-get"]


def _params(operation: str) -> dict[str, str]:
    values = {**VALUES, **(INTERNATIONAL if operation == "SendInternationalMessages" else {}), **CRED}
    if operation.startswith("RegineUser"):
        values["uid"] = "newbie"
    return {name: values.get(name, "") for name in protocol.contract().operations[operation]}


def _request(transport: str, url: str, operation: str, params: dict[str, str]) -> dict[str, Any]:
    """Keyword arguments for ``client.request`` that call ``operation`` over ``transport``."""
    if transport == "soap11":
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"http://tempuri.org/{operation}"'}
        return {"method": "POST", "url": url, "content": wire.envelope(operation, params), "headers": headers}
    if transport == "soap12":
        ctype = f'application/soap+xml; charset=utf-8; action="http://tempuri.org/{operation}"'
        body = wire.envelope(operation, params, "soap12")
        return {"method": "POST", "url": url, "content": body, "headers": {"Content-Type": ctype}}
    if transport == "http-post":
        return {"method": "POST", "url": f"{url}/{operation}", "data": params}
    return {"method": "GET", "url": f"{url}/{operation}", "params": params}


def _prepare(mock: MockService) -> None:
    """The same starting point on both sides: a send with a report waiting, and a reply."""
    mock.reset()
    mock.state.call("SendMessages", {**CRED, "tos": DOMESTIC, "msg": "earlier", "otime": ""})
    mock.add_reply(DOMESTIC, "收到/OK", port="001", at=FIXED)


Seen = tuple[int, str | None, str | None, bytes]  # status, content type, content length, body
Side = tuple[Seen, list[tuple[object, ...]]]  # what the caller saw, and the mock's ledger of it


def _seen(response: httpx2.Response) -> Seen:
    return (
        response.status_code,
        response.headers.get("content-type"),
        response.headers.get("content-length"),
        (response.content),
    )


def _ledger(mock: MockService) -> list[tuple[object, ...]]:
    return [(e.operation, e.transport, dict(e.params), e.answer, e.processed, e.fault) for e in mock.ledger]


def _three_ways(mock: MockService, kwargs: dict[str, Any]) -> list[Side]:
    """Status, headers that matter, body and ledger: over the socket, in process sync, in process async."""
    results: list[Side] = []
    _prepare(mock)
    with httpx2.Client() as client:
        results.append((_seen(client.request(**kwargs)), _ledger(mock)))
    _prepare(mock)
    with httpx2.Client(transport=mock.httpx_transport()) as client:
        results.append((_seen(client.request(**kwargs)), _ledger(mock)))
    _prepare(mock)

    async def call() -> httpx2.Response:
        async with httpx2.AsyncClient(transport=mock.httpx_transport()) as client:
            return await client.request(**kwargs)

    results.append((_seen(asyncio.run(call())), _ledger(mock)))
    return results


@pytest.fixture
def fixed_mock() -> Iterator[MockService]:
    with MockService(clock=lambda: FIXED) as mock:
        yield mock


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("operation", list(protocol.contract().operations))
def test_every_operation_answers_alike_in_process_and_over_the_socket(
    fixed_mock: MockService, operation: str, transport: str
) -> None:
    kwargs = _request(transport, fixed_mock.url, operation, _params(operation))
    socket_side, sync_side, async_side = _three_ways(fixed_mock, kwargs)
    assert socket_side == sync_side == async_side
    (status, _ctype, _length, _body), ledger = socket_side
    assert status == 200 and len(ledger) == 1


ODD_REQUESTS = [
    ("wsdl", {"method": "GET", "url": "{url}?WSDL"}),
    ("help page", {"method": "GET", "url": "{url}"}),
    ("operation help page", {"method": "GET", "url": "{url}?op=SendMessages"}),
    ("unknown operation help page", {"method": "GET", "url": "{url}?op=Nope"}),
    ("unknown path", {"method": "GET", "url": "{base}/nothing"}),
    ("unknown http operation", {"method": "POST", "url": "{url}/SendFax", "data": CRED}),
    ("missing parameter", {"method": "POST", "url": "{url}/SendMessages", "data": CRED}),
    (
        "unknown soapaction",
        {
            "method": "POST",
            "url": "{url}",
            "content": wire.envelope("GetUserInfo", CRED),
            "headers": {"Content-Type": "text/xml", "SOAPAction": '"http://tempuri.org/Nope"'},
        },
    ),
    (
        "malformed xml",
        {
            "method": "POST",
            "url": "{url}",
            "content": b"<not xml",
            "headers": {"Content-Type": "text/xml", "SOAPAction": '"http://tempuri.org/GetUserInfo"'},
        },
    ),
    ("admin ledger", {"method": "GET", "url": "{base}/_mock/stats"}),
]


@pytest.mark.parametrize(("why", "template"), ODD_REQUESTS, ids=[r[0] for r in ODD_REQUESTS])
def test_odd_requests_answer_alike(fixed_mock: MockService, why: str, template: dict[str, Any]) -> None:
    kwargs = {**template, "url": template["url"].format(url=fixed_mock.url, base=fixed_mock.base_url)}
    socket_side, sync_side, async_side = _three_ways(fixed_mock, kwargs)
    if why == "admin ledger":  # the socket side counted its own connection; the rest must match
        assert socket_side[0][0] == sync_side[0][0] == 200
        return
    assert socket_side == sync_side == async_side


def test_works_without_a_started_server() -> None:
    mock = MockService()
    with httpx2.Client(transport=mock.httpx_transport(), base_url="http://winic.test") as client:
        answer = client.post("/Service.asmx/GetUserInfo", data=CRED)
    assert answer.status_code == 200 and "000/demo/" in answer.text
    assert [(e.operation, e.transport, e.client_ip) for e in mock.ledger] == [("GetUserInfo", "http-post", "127.0.0.1")]


def test_a_bare_state_serves_in_process() -> None:
    state = MockState([Account("u", "p")])
    transport = InProcessTransport.for_state(state, client_ip="10.1.2.3")
    with httpx2.Client(transport=transport, base_url="http://winic.test") as client:
        assert "000/u/" in client.get("/Service.asmx/GetUserInfo", params={"uid": "u", "pwd": "p"}).text
        transport.router.faults.script("code", code="-09")
        assert ">-09<" in client.get("/Service.asmx/GetUserInfo", params={"uid": "u", "pwd": "p"}).text
    assert [(e.processed, e.client_ip) for e in state.entries()] == [(True, "10.1.2.3"), (False, "10.1.2.3")]


def test_the_wsdl_names_the_address_the_client_used() -> None:
    with httpx2.Client(transport=MockService().httpx_transport()) as client:
        text = client.get("http://sms.internal:8003/Service.asmx?wsdl").text
    assert 'location="http://sms.internal:8003/Service.asmx"' in text


# -- faults ------------------------------------------------------------------------------------------------------

SEND = {**CRED, "tos": DOMESTIC, "msg": "hello", "otime": ""}
DISCONNECTED = "Server disconnected without sending a response."


@pytest.mark.parametrize(
    ("kind", "sends", "processed"), [("close_before", 0, False), ("close_after", 1, True)], ids=["before", "after"]
)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_closing_faults_raise_remote_protocol_error(kind: str, sends: int, processed: bool, mode: str) -> None:
    mock = MockService()
    mock.fail(kind, operation="SendMessages")
    with pytest.raises(httpx2.RemoteProtocolError, match=DISCONNECTED):
        _post(mock, mode, "/Service.asmx/SendMessages", SEND)
    assert len(mock.state.sends) == sends
    assert [(e.processed, e.fault) for e in mock.ledger] == [(processed, kind)]
    assert _post(mock, mode, "/Service.asmx/SendMessages", SEND).status_code == 200  # one-shot


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_truncate_shows_the_head_then_fails_reading_the_body(mode: str) -> None:
    mock = MockService()
    mock.fail("truncate")
    with pytest.raises(httpx2.RemoteProtocolError, match="peer closed connection"):
        _post(mock, mode, "/Service.asmx/SendMessages", SEND)
    assert len(mock.state.sends) == 1 and mock.ledger[0].fault == "truncate"
    mock.fail("truncate")
    with httpx2.Client(transport=mock.httpx_transport()) as client:
        request = client.build_request("POST", "http://winic.test/Service.asmx/SendMessages", data=SEND)
        response = client.send(request, stream=True)
        assert response.status_code == 200
        with pytest.raises(httpx2.RemoteProtocolError):
            response.read()


FAULT_ANSWERS = [
    ("http500", {}, 500, "text/html; charset=utf-8", b"500 - Internal Server Error", 0),
    ("http503", {}, 503, "text/html; charset=utf-8", b"503 - Service Unavailable", 0),
    ("code", {"code": "-09"}, 200, "text/xml; charset=utf-8", b">-09</string>", 0),
    ("reply", {"body": "odd", "status": 502, "content_type": "text/plain"}, 502, "text/plain", b"odd", 0),
    ("malformed", {}, 200, "text/xml; charset=utf-8", b"<broken", 1),
]


@pytest.mark.parametrize(
    ("kind", "options", "status", "ctype", "fragment", "sends"), FAULT_ANSWERS, ids=[f[0] for f in FAULT_ANSWERS]
)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_answering_faults(  # noqa: PLR0917 -- one row of the table
    kind: str, options: dict[str, Any], status: int, ctype: str, fragment: bytes, sends: int, mode: str
) -> None:
    mock = MockService()
    mock.fail(kind, **options)
    response = _post(mock, mode, "/Service.asmx/SendMessages", SEND)
    assert (response.status_code, response.headers["content-type"]) == (status, ctype)
    assert fragment in response.content
    assert len(mock.state.sends) == sends
    assert mock.ledger[0].fault == kind


def test_latency_past_the_read_timeout_times_out_and_the_service_still_runs() -> None:
    mock = MockService()
    mock.fail("latency", seconds=30, operation="SendMessages")
    with (
        httpx2.Client(transport=mock.httpx_transport(), timeout=0.05) as client,
        pytest.raises(httpx2.ReadTimeout),
    ):
        client.post("http://winic.test/Service.asmx/SendMessages", data=SEND)
    assert len(mock.state.sends) == 1  # a server cannot know its client gave up


def test_async_latency_does_not_block_the_event_loop() -> None:
    mock = MockService()
    mock.fail("latency", seconds=0.2, operation="SMS_Reports")
    finished: list[str] = []

    async def main() -> None:
        async with httpx2.AsyncClient(transport=mock.httpx_transport(), base_url="http://winic.test") as client:

            async def call(operation: str) -> None:
                response = await client.post(f"/Service.asmx/{operation}", data=CRED)
                assert response.status_code == 200
                finished.append(operation)

            slow = asyncio.create_task(call("SMS_Reports"))
            await asyncio.sleep(0)  # the slow call is now waiting out its latency
            await call("GetUserInfo")
            await slow

    asyncio.run(main())
    assert finished == ["GetUserInfo", "SMS_Reports"]


def test_a_cancelled_async_call_still_reaches_the_service() -> None:
    mock = MockService()
    mock.fail("latency", seconds=30, operation="SendMessages")

    async def main() -> None:
        async with httpx2.AsyncClient(transport=mock.httpx_transport()) as client:
            call = client.post("http://winic.test/Service.asmx/SendMessages", data=SEND)
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(call, 0.05)

    asyncio.run(main())
    assert [(e.operation, e.processed) for e in mock.ledger] == [("SendMessages", True)]


def _post(mock: MockService, mode: str, path: str, data: dict[str, str]) -> httpx2.Response:
    url = f"http://winic.test{path}"
    if mode == "sync":
        with httpx2.Client(transport=mock.httpx_transport()) as client:
            return client.post(url, data=data)

    async def call() -> httpx2.Response:
        async with httpx2.AsyncClient(transport=mock.httpx_transport()) as client:
            return await client.post(url, data=data)

    return asyncio.run(call())


# -- the ledger's time interval ----------------------------------------------------------------------------------


def test_ledger_intervals_show_whether_two_pulls_overlapped() -> None:
    mock = MockService()
    transport = mock.httpx_transport()
    with httpx2.Client(transport=transport, base_url="http://winic.test") as client:
        client.post("/Service.asmx/SMS_Reports", data=CRED)
        client.post("/Service.asmx/SMS_Reports", data=CRED)
    first, second = mock.ledger
    assert first.started_at <= first.finished_at <= second.started_at <= second.finished_at
    assert first.at == first.finished_at

    mock.reset()
    mock.fail("latency", seconds=0.1, times=2)

    async def two_at_once() -> None:
        async with httpx2.AsyncClient(transport=transport, base_url="http://winic.test") as client:
            await asyncio.gather(*(client.post("/Service.asmx/SMS_Reports", data=CRED) for _ in range(2)))

    asyncio.run(two_at_once())
    a, b = mock.ledger
    assert a.started_at < b.finished_at and b.started_at < a.finished_at  # the intervals overlap
    exported = mock.ledger[0].as_dict()
    assert exported["started_at"] == a.started_at and exported["finished_at"] == a.finished_at


def test_socket_ledger_has_the_interval_too(winic_mock: MockService) -> None:
    winic_mock.fail("latency", seconds=0.05)
    wire.call("http-post", winic_mock.url, "GetUserInfo", CRED)
    (entry,) = winic_mock.ledger
    assert entry.finished_at - entry.started_at >= 0.05  # the latency sits inside the interval


# -- import boundaries -------------------------------------------------------------------------------------------


def test_only_the_transport_module_imports_httpx2() -> None:
    import ast

    importers = set()
    for path in (Path(winic_soap.__file__).parent / "mock").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(name.split(".")[0] in ("httpx2", "anyio") for name in names):
                importers.add(path.name)
    assert importers == {"transport.py"}


def test_importing_the_mock_does_not_load_the_transport() -> None:
    # the package itself may load httpx2 for the client; the mock must not be the one that needs it
    code = "import sys, winic_soap.mock, winic_soap.mock.service; print('winic_soap.mock.transport' in sys.modules)"
    root = str(Path(winic_soap.__file__).parent.parent)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root, timeout=60
    )
    assert result.stdout.strip() == "False"
