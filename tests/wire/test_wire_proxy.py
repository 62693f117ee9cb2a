"""Through a forward proxy started on loopback: by setting and by environment variable, CONNECT for https."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from helpers.drive import FLAVOURS
from helpers.rig import Rig

from winic_soap import ProxyAuthenticationError


def _sent_ids(rig: Rig) -> list[str]:
    return [s.message_id for s in rig.mock.state.sends]


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_proxy_setting_carries_plain_http(flavour: str, rig: Rig) -> None:
    client = rig.client(flavour, rig.mock.url, proxy=rig.proxy.url, max_attempts=1)
    receipt = client.send("13800138000", "through the proxy")
    assert rig.proxy.forwarded == [rig.mock.url]  # an absolute-form request: the proxy carried it
    assert _sent_ids(rig) == [receipt.message_id]


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_http_proxy_variable_is_honoured_by_default(flavour: str, rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", rig.proxy.url)
    client = rig.client(flavour, rig.mock.url, max_attempts=1)
    receipt = client.send("13800138000", "through the proxy named in the environment")
    assert rig.proxy.forwarded == [rig.mock.url]
    assert _sent_ids(rig) == [receipt.message_id]


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_no_proxy_variable_bypasses_the_proxy(flavour: str, rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", rig.proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    client = rig.client(flavour, rig.mock.url, max_attempts=1)
    receipt = client.send("13800138000", "straight to the service")
    assert rig.proxy.log == []
    assert _sent_ids(rig) == [receipt.message_id]


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_trust_env_false_ignores_proxy_variables(flavour: str, rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", rig.proxy.url)
    client = rig.client(flavour, rig.mock.url, trust_env=False, max_attempts=1)
    client.account()
    assert rig.proxy.log == []
    assert [e.operation for e in rig.mock.ledger] == ["GetUserInfo"]


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("how", ["setting", "HTTPS_PROXY"])
def test_https_goes_through_a_connect_tunnel(flavour: str, how: str, rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    front = rig.tls_front()
    options: dict[str, Any] = {"verify": str(rig.certs.ca_file), "cert": str(rig.certs.client_pem), "max_attempts": 1}
    if how == "setting":
        options["proxy"] = rig.proxy.url
    else:
        monkeypatch.setenv("HTTPS_PROXY", rig.proxy.url)
    client = rig.client(flavour, front.url, **options)
    receipt = client.send("13800138000", "through the tunnel")
    assert rig.proxy.connects == [f"127.0.0.1:{front.port}"]
    assert rig.proxy.forwarded == []  # nothing in clear text
    assert front.handshakes == 1
    assert _sent_ids(rig) == [receipt.message_id]


PROXY_USER, PROXY_PASSWORD = "squid-user", "proxy-pw-5up3r"


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("given", ["none", "wrong"])
def test_proxy_wanting_credentials_is_named_and_never_retried(
    flavour: str, scheme: str, given: str, rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    """A 407 to a plain request or to CONNECT: a ProxyAuthenticationError, nothing sent, one try only."""
    proxy = rig.auth_proxy(PROXY_USER, PROXY_PASSWORD)
    url = proxy.url if given == "none" else proxy.url_with(PROXY_USER, "not-the-password")
    options: dict[str, Any] = {"proxy": url, "max_attempts": 4}
    endpoint = rig.mock.url
    if scheme == "https":
        endpoint = rig.tls_front().url
        options.update(verify=str(rig.certs.ca_file), cert=str(rig.certs.client_pem))
    client = rig.client(flavour, endpoint, **options)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ProxyAuthenticationError, match="407") as caught:
        client.send("13800138000", "through a proxy that wants credentials")
    assert caught.value.reached is False and caught.value.processed is False
    assert proxy.refused == 1  # not retried: the same credentials fail the same way
    assert rig.mock.ledger == []
    assert "not-the-password" not in str(caught.value) + repr(caught.value) + caplog.text


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_proxy_credentials_in_the_url_open_the_proxy(flavour: str, scheme: str, rig: Rig) -> None:
    proxy = rig.auth_proxy(PROXY_USER, PROXY_PASSWORD)
    options: dict[str, Any] = {"proxy": proxy.url_with(PROXY_USER, PROXY_PASSWORD), "max_attempts": 1}
    endpoint = rig.mock.url
    if scheme == "https":
        endpoint = rig.tls_front().url
        options.update(verify=str(rig.certs.ca_file), cert=str(rig.certs.client_pem))
    client = rig.client(flavour, endpoint, **options)
    receipt = client.send("13800138000", "through a proxy with credentials")
    assert proxy.refused == 0 and len(proxy.log) == 1
    assert _sent_ids(rig) == [receipt.message_id]
