"""Characters no encoding can carry are our error, before anything is sent: a lone surrogate (what
Python makes of invalid UTF-8 in argv, or of a broken UTF-16 pair from a JSON or Windows source) in any
value is an :class:`InputError` on every transport, the mock sees no connection and no request; a
non-ASCII endpoint is a :class:`ConfigurationError` wherever it is given.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers.shared import TRANSPORTS, MakeClient, cli_env

from winic_soap import AsyncWinicClient, ConfigurationError, InputError, Settings, WinicClient
from winic_soap.mock import MockService

LONE = "\ud800"  # a high surrogate with nothing after it
LOW = "\udcff"  # what surrogateescape makes of the byte 0xff
TEXTS = {"high surrogate": f"验证码 {LONE}123", "low surrogate": f"abc{LOW}", "reversed pair": "\ude00\ud83d"}

CALLS: dict[str, tuple[str, Callable[[WinicClient, str], Any]]] = {
    # which field is bad, and the call that carries it
    "send text": ("text", lambda c, bad: c.send("13800138000", bad)),
    "send_international text": ("text", lambda c, bad: c.send_international("447911123456", bad)),
    "send text with ext": ("text", lambda c, bad: c.send("13800138000", bad, ext="12")),
    "bulk send text": ("text", lambda c, bad: c.send([f"138{i:08d}" for i in range(150)], bad, concurrency=2)),
    "new password": ("newpwd", lambda c, bad: c.change_password(f"pw{bad}")),
    "register company": (
        "co_name",
        lambda c, bad: c.register("newcomer", "pw-1", company=f"ACME{bad}", contact="Li", mobile="13800138000"),
    ),
    "register password": (
        "pwd",
        lambda c, bad: c.register("newcomer", f"pw{bad}", company="ACME", contact="Li", mobile="13800138000"),
    ),
    "call parameter": ("StartDate", lambda c, bad: c.call("GetMessageRecord", num="1", StartDate=bad)),
}
CREDENTIALS: dict[str, Callable[[WinicClient], Any]] = {
    "send": lambda c: c.send("13800138000", "hello"),
    "account": lambda c: c.account(),
    "replies": lambda c: c.replies(),
    "reports": lambda c: c.reports(),
    "call": lambda c: c.call("GetUserInfo"),
}


def _nothing_sent(mock: MockService) -> None:
    assert mock.ledger == [] and mock.state.sends == []
    assert mock.connections_total == 0  # not even a connection: the check ran before the wire


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("bad", TEXTS.values(), ids=TEXTS.keys())
@pytest.mark.parametrize("case", CALLS, ids=CALLS.keys())
def test_lone_surrogate_in_a_value(
    make_client: MakeClient, winic_mock: MockService, transport: str, bad: str, case: str
) -> None:
    field, call = CALLS[case]
    client: WinicClient = make_client(transport)
    with pytest.raises(InputError) as caught:
        call(client, bad)
    assert caught.value.field == field and "cannot be encoded" in caught.value.rule
    _nothing_sent(winic_mock)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("who", ["pwd", "uid"])
@pytest.mark.parametrize("operation", CREDENTIALS, ids=CREDENTIALS.keys())
def test_lone_surrogate_in_the_credentials(
    make_client: MakeClient, winic_mock: MockService, transport: str, who: str, operation: str
) -> None:
    credentials = {"uid": "demo", "pwd": "demo-secret", who: f"demo{LONE}"}
    client: WinicClient = make_client(transport, **credentials)
    with pytest.raises(InputError) as caught:
        CREDENTIALS[operation](client)
    assert caught.value.field == who
    assert LONE not in str(caught.value) and "demo-secret" not in str(caught.value)
    _nothing_sent(winic_mock)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_async_client_too(winic_mock: MockService, transport: str) -> None:
    async def run() -> None:
        async with AsyncWinicClient("demo", f"pw{LONE}", endpoint=winic_mock.url, transport=transport) as client:
            with pytest.raises(InputError):
                await client.send("13800138000", "hello")
        async with AsyncWinicClient("demo", "demo-secret", endpoint=winic_mock.url, transport=transport) as client:
            with pytest.raises(InputError):
                await client.send("13800138000", f"hi {LOW}")
            with pytest.raises(InputError):
                await client.change_password(f"new{LONE}")

    asyncio.run(run())
    _nothing_sent(winic_mock)


def test_cli_invalid_utf8_argument_is_an_input_error(winic_mock: MockService, tmp_path: Path) -> None:
    """Invalid UTF-8 on the command line reaches Python as lone surrogates: exit 3, nothing sent."""
    import subprocess
    import sys

    env = cli_env(winic_mock.url, tmp_path)
    argv = [sys.executable.encode(), b"-m", b"winic_soap", b"send", b"13800138000", b"-m", b"caf\xe9 \xff"]
    result = subprocess.run(argv, capture_output=True, env=env, timeout=60, check=False)
    assert result.returncode == 3, result.stderr
    assert b"cannot be encoded" in result.stderr and b"Traceback" not in result.stderr
    _nothing_sent(winic_mock)


ENDPOINTS = {
    "IDN host": "http://例子.测试/Service.asmx",
    "non-ASCII path": "http://127.0.0.1:8080/Sérvice.asmx",
    "full-width colon": "http://127.0.0.1：8080/Service.asmx",
    "lone surrogate": f"http://127.0.0.1/{LONE}",
}


@pytest.mark.parametrize("endpoint", ENDPOINTS.values(), ids=ENDPOINTS.keys())
def test_non_ascii_endpoint(endpoint: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="ASCII"):
        WinicClient("demo", "pw", endpoint=endpoint)
    with pytest.raises(ConfigurationError, match="ASCII"):
        AsyncWinicClient("demo", "pw", endpoint=endpoint)
    with pytest.raises(ConfigurationError, match="ASCII"):
        Settings.load(config=None, env={"WINIC_ENDPOINT": endpoint, "HOME": str(tmp_path)})
    with pytest.raises(ConfigurationError, match="ASCII"):
        WinicClient(settings=Settings(), endpoint=endpoint)
    if LONE not in endpoint:  # TOML has no way to write a lone surrogate
        config = tmp_path / "config.toml"
        config.write_text(f'uid = "demo"\npwd = "pw"\nendpoint = "{endpoint}"\n', encoding="utf-8")
        with pytest.raises(ConfigurationError, match="ASCII"):
            WinicClient.from_env(config=config)


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS.values() if LONE not in e])
def test_non_ascii_endpoint_on_the_command_line(endpoint: str, winic_mock: MockService, tmp_path: Path) -> None:
    from helpers.shared import run_cli

    result = run_cli(cli_env(endpoint, tmp_path), "send", "13800138000", "-m", "hello")
    assert result.returncode == 2 and "ASCII" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
