"""Whatever fails inside the HTTP client is a WinicError that says whether the request may have been
processed: a user's event hook or instrumentation raising, an async client carried to another event
loop. An ``http_client`` of the wrong kind is refused before anything can be sent."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2
import pytest
from helpers.rig import Rig
from opentelemetry.instrumentation.httpx import HTTPX2ClientInstrumentor

from winic_soap import (
    AsyncWinicClient,
    ConfigurationError,
    SendOutcomeUnknown,
    TransportError,
    WinicClient,
)


class HookFailed(RuntimeError):
    """What a user's broken hook raises."""


def _raise(*_: Any) -> None:
    raise HookFailed("the hook broke")


async def _araise(*_: Any) -> None:
    raise HookFailed("the hook broke")


def _sent(rig: Rig) -> list[str]:
    return [s.text for s in rig.mock.state.sends]


# -- a second asyncio.run() ------------------------------------------------------------------------


def test_async_client_carried_to_a_second_asyncio_run_opens_fresh_connections(rig: Rig) -> None:
    client = AsyncWinicClient("demo", "demo-secret", endpoint=rig.mock.url, max_attempts=1)
    first = asyncio.run(client.send("13800138000", "on the first loop"))
    assert rig.mock.connections_open == 1  # its keep-alive connection outlives the loop
    second = asyncio.run(client.send("13800138000", "on the second loop"))
    asyncio.run(client.aclose())
    given = {s.text: s.message_id for s in rig.mock.state.sends}
    assert given == {"on the first loop": first.message_id, "on the second loop": second.message_id}
    assert rig.mock.connections_total == 2  # nothing written on the dead loop's connection


def test_async_client_on_two_open_loops_is_refused_before_sending(rig: Rig) -> None:
    client = AsyncWinicClient("demo", "demo-secret", endpoint=rig.mock.url, max_attempts=1)
    first, second = asyncio.new_event_loop(), asyncio.new_event_loop()
    try:
        first.run_until_complete(client.send("13800138000", "on the first loop"))
        with pytest.raises(ConfigurationError, match="one client per event loop"):
            second.run_until_complete(client.send("13800138000", "on the second loop"))
        first.run_until_complete(client.aclose())
    finally:
        first.close()
        second.close()
    assert _sent(rig) == ["on the first loop"]


def test_users_async_client_from_a_closed_loop_is_refused_before_sending(rig: Rig) -> None:
    http = httpx2.AsyncClient()
    client = AsyncWinicClient("demo", "demo-secret", endpoint=rig.mock.url, http_client=http, max_attempts=1)
    asyncio.run(client.send("13800138000", "on the first loop"))
    with pytest.raises(ConfigurationError, match="event loop that has closed"):
        asyncio.run(client.send("13800138000", "on the second loop"))
    assert _sent(rig) == ["on the first loop"]
    assert [e.operation for e in rig.mock.ledger] == ["SendMessages"]


# -- hooks and instrumentation raising inside httpx2 ------------------------------------------------


@pytest.mark.parametrize("when", ["request", "response"])
def test_raising_event_hook_on_a_users_client_is_a_winic_error(rig: Rig, when: str) -> None:
    with (
        httpx2.Client(event_hooks={when: [_raise]}) as http,
        WinicClient("demo", "demo-secret", endpoint=rig.mock.url, http_client=http, max_attempts=1) as client,
    ):
        with pytest.raises(TransportError, match="HookFailed: the hook broke") as read:
            client.account()
        with pytest.raises(SendOutcomeUnknown) as send:
            client.send("13800138000", "through a broken hook")
    assert isinstance(send.value.cause, TransportError) and send.value.cause.processed is None
    assert read.value.processed is None  # a user's client reports nothing: the request may have gone out
    assert _sent(rig) == ([] if when == "request" else ["through a broken hook"])


@pytest.mark.parametrize("when", ["request", "response"])
def test_raising_event_hook_on_a_users_async_client_is_a_winic_error(rig: Rig, when: str) -> None:
    async def scenario() -> tuple[BaseException, BaseException]:
        async with (
            httpx2.AsyncClient(event_hooks={when: [_araise]}) as http,
            AsyncWinicClient("demo", "demo-secret", endpoint=rig.mock.url, http_client=http, max_attempts=1) as c,
        ):
            with pytest.raises(TransportError) as read:
                await c.account()
            with pytest.raises(SendOutcomeUnknown) as send:
                await c.send("13800138000", "through a broken hook")
            return read.value, send.value

    read, send = asyncio.run(scenario())
    assert "HookFailed" in str(read) and "HookFailed" in str(send)
    assert _sent(rig) == ([] if when == "request" else ["through a broken hook"])


def test_httpx2_instrumentor_hook_raising_is_a_winic_error(rig: Rig) -> None:
    """OpenTelemetry's instrumentor for httpx2, its request hook raising inside the transport."""
    with httpx2.Client() as http:
        HTTPX2ClientInstrumentor().instrument_client(http, request_hook=_raise)
        with WinicClient("demo", "demo-secret", endpoint=rig.mock.url, http_client=http, max_attempts=1) as client:
            with pytest.raises(TransportError, match="HookFailed"):
                client.account()
            with pytest.raises(SendOutcomeUnknown) as send:
                client.send("13800138000", "instrumented")
            assert isinstance(send.value.cause, TransportError)
            HTTPX2ClientInstrumentor().uninstrument_client(http)
            assert client.send("13800138000", "not instrumented any more").message_id


# -- the wrong kind of http_client ------------------------------------------------------------------


def test_an_async_http_client_for_the_sync_client_is_refused(rig: Rig) -> None:
    async_http = httpx2.AsyncClient()
    with pytest.raises(ConfigurationError, match=r"http_client must be an httpx2\.Client"):
        WinicClient("demo", "demo-secret", endpoint=rig.mock.url, http_client=async_http)  # type: ignore[arg-type]  # the wrong type is the test
    with httpx2.Client() as sync_http, pytest.raises(ConfigurationError, match=r"httpx2\.AsyncClient"):
        AsyncWinicClient("demo", "demo-secret", endpoint=rig.mock.url, http_client=sync_http)  # type: ignore[arg-type]  # the wrong type is the test
    with pytest.raises(ConfigurationError):
        WinicClient("demo", "demo-secret", endpoint=rig.mock.url, http_client=object())  # type: ignore[arg-type]  # the wrong type is the test
    assert rig.mock.ledger == []


def test_a_hooks_exception_quoting_the_password_does_not_carry_it(rig: Rig) -> None:
    def quoting(request: httpx2.Request) -> None:
        raise HookFailed(f"saw pwd=demo-secret in {request.url.path}")

    with (
        httpx2.Client(event_hooks={"request": [quoting]}) as http,
        WinicClient("demo", "demo-secret", endpoint=rig.mock.url, http_client=http, max_attempts=1) as client,
    ):
        for call in (client.account, lambda: client.send("13800138000", "quoted")):
            with pytest.raises(TransportError if call == client.account else SendOutcomeUnknown) as caught:
                call()
            assert "HookFailed" in str(caught.value)
            assert "demo-secret" not in str(caught.value) + repr(caught.value.args) + repr(caught.value)
