"""A user's own httpx2 client, configured the company's way (proxy, TLS, event hooks), carries every call."""

from __future__ import annotations

import asyncio

import httpx2
from helpers.rig import Rig

from winic_soap import AsyncWinicClient, WinicClient


def test_users_client_carries_the_calls_through_its_proxy_and_hooks(rig: Rig) -> None:
    seen: list[str] = []
    front = rig.tls_front()
    http = httpx2.Client(
        proxy=rig.proxy.url,
        verify=rig.certs.client_context(),  # trust and the client certificate: only this client has them
        event_hooks={"request": [lambda request: seen.append(f"{request.method} {request.url}")]},
    )
    with http, WinicClient("demo", "demo-secret", endpoint=front.url, http_client=http, max_attempts=1) as client:
        receipt = client.send("13800138000", "the company's client")
        client.account()
    assert seen == [f"POST {front.url}"] * 2
    assert rig.proxy.connects and front.handshakes >= 1
    assert [s.message_id for s in rig.mock.state.sends] == [receipt.message_id]


def test_users_async_client_carries_the_calls_through_its_proxy_and_hooks(rig: Rig) -> None:
    seen: list[str] = []
    front = rig.tls_front()

    async def hook(request: httpx2.Request) -> None:
        seen.append(f"{request.method} {request.url}")

    async def scenario() -> str | None:
        http = httpx2.AsyncClient(
            proxy=rig.proxy.url, verify=rig.certs.client_context(), event_hooks={"request": [hook]}
        )
        async with (
            http,
            AsyncWinicClient("demo", "demo-secret", endpoint=front.url, http_client=http, max_attempts=1) as client,
        ):
            receipt = await client.send("13800138000", "the company's async client")
            await client.account()
            return receipt.message_id

    message_id = asyncio.run(scenario())
    assert seen == [f"POST {front.url}"] * 2
    assert rig.proxy.connects and front.handshakes >= 1
    assert [s.message_id for s in rig.mock.state.sends] == [message_id]
