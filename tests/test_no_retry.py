"""Errors no retry can fix are raised at once, never retried: a closed client, settings that cannot work
(wherever they surface), and a TLS front that refuses us (a certificate that fails verification, a
client certificate it requires). Every test runs under ``RetryPolicy(max_attempts=4)`` with a recorded
sleep: no wait, one attempt, and the server side sees at most one connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from shared import SleepRecorder

from winic_soap import (
    AsyncWinicClient,
    ClientClosedError,
    ConfigurationError,
    RetryPolicy,
    WinicClient,
)
from winic_soap.events import CallEvent
from winic_soap.mock import MockService


def policy(sleeps: SleepRecorder) -> RetryPolicy:
    async def async_sleep(seconds: float) -> None:
        sleeps(seconds)

    return RetryPolicy(max_attempts=4, sleep=sleeps, async_sleep=async_sleep)


SYNC_CALLS: dict[str, Callable[[WinicClient], Any]] = {
    "send": lambda c: c.send("13800138000", "hello"),
    "account (a read)": lambda c: c.account(),
    "reports (a pull)": lambda c: c.reports(),
    "change_password": lambda c: c.change_password("new-pw-1"),
    "call": lambda c: c.call("GetUserInfo"),
}


# -- a closed client ------------------------------------------------------------------------------------
@pytest.mark.parametrize("call", SYNC_CALLS.values(), ids=SYNC_CALLS.keys())
def test_closed_client(winic_mock: MockService, sleeps: SleepRecorder, call: Callable[[WinicClient], Any]) -> None:
    events: list[CallEvent] = []
    client = WinicClient("demo", "demo-secret", endpoint=winic_mock.url, retry=policy(sleeps), hooks=[events.append])
    client.close()
    with pytest.raises(ClientClosedError):
        call(client)
    assert sleeps.waits == [] and [e.attempt for e in events] == [1]
    assert winic_mock.ledger == [] and winic_mock.connections_total == 0


def test_closed_async_client(winic_mock: MockService, sleeps: SleepRecorder) -> None:
    async def run() -> None:
        client = AsyncWinicClient("demo", "demo-secret", endpoint=winic_mock.url, retry=policy(sleeps))
        await client.aclose()
        with pytest.raises(ClientClosedError):
            await client.send("13800138000", "hello")
        with pytest.raises(ClientClosedError):
            await client.account()

    asyncio.run(run())
    assert sleeps.waits == [] and winic_mock.ledger == [] and winic_mock.connections_total == 0


# -- settings that cannot work ----------------------------------------------------------------------------
AT_CONSTRUCTION: dict[str, dict[str, Any]] = {
    "unknown transport": {"transport": "smtp"},
    "endpoint without scheme": {"endpoint": "127.0.0.1/Service.asmx"},
    "endpoint, broken IPv6 host": {"endpoint": "http://[::1/Service.asmx"},
    "endpoint, port out of range": {"endpoint": "http://127.0.0.1:99999/Service.asmx"},
    "endpoint, port not a number": {"endpoint": "http://127.0.0.1:80:80/Service.asmx"},
    "proxy, unknown scheme": {"proxy": "socks9://127.0.0.1:1080"},
    "proxy, no scheme": {"proxy": "127.0.0.1:3128"},
    "proxy, broken IPv6 host": {"proxy": "http://[bad:3128"},
    "CA file missing": {"verify": "/nonexistent/ca.pem"},
    "client certificate missing": {"cert": "/nonexistent/client.pem"},
    "WSDL file missing": {"wsdl": "/nonexistent/Service.asmx.wsdl"},
}


@pytest.mark.parametrize("options", AT_CONSTRUCTION.values(), ids=AT_CONSTRUCTION.keys())
def test_unusable_settings_at_construction(
    winic_mock: MockService, sleeps: SleepRecorder, options: dict[str, Any]
) -> None:
    options = {"endpoint": winic_mock.url, **options}
    with pytest.raises(ConfigurationError):
        WinicClient("demo", "demo-secret", retry=policy(sleeps), **options)
    if "wsdl" not in options:  # the async client reads a custom WSDL on first use
        with pytest.raises(ConfigurationError):
            AsyncWinicClient("demo", "demo-secret", retry=policy(sleeps), **options)
    assert sleeps.waits == [] and winic_mock.connections_total == 0


def test_unusable_proxy_from_the_environment(
    winic_mock: MockService, sleeps: SleepRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "socks9://127.0.0.1:1080")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with pytest.raises(ConfigurationError):
        WinicClient("demo", "demo-secret", endpoint="http://winic.invalid/Service.asmx", retry=policy(sleeps))
    assert sleeps.waits == []


AT_CALL: dict[str, str] = {
    "CR LF in the endpoint": "http://127.0.0.1:{port}/Service.asmx\r\nX-Injected: 1",
}


@pytest.mark.parametrize("endpoint", AT_CALL.values(), ids=AT_CALL.keys())
@pytest.mark.parametrize("call", SYNC_CALLS.values(), ids=SYNC_CALLS.keys())
def test_unusable_settings_at_call_time(
    winic_mock: MockService, sleeps: SleepRecorder, endpoint: str, call: Callable[[WinicClient], Any]
) -> None:
    port = winic_mock.url.split(":")[2].split("/")[0]
    events: list[CallEvent] = []
    try:
        client = WinicClient(
            "demo", "demo-secret", endpoint=endpoint.format(port=port), retry=policy(sleeps), hooks=[events.append]
        )
    except ConfigurationError:
        return  # refused even earlier: as good
    with client, pytest.raises(ConfigurationError):
        call(client)
    assert sleeps.waits == [] and [e.attempt for e in events] == [1] and winic_mock.ledger == []
