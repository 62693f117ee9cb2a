"""Proxy and certificates configured the other ways operators configure them: ``WINIC_*`` variables,
the TOML file, and the CLI's ``--proxy --verify --cert`` (which also carry ``wsdl refresh``)."""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.rig import Rig

from winic_soap import AsyncWinicClient, ConfigurationError, TLSError, WinicClient


@pytest.fixture
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No config file or WINIC_* variable of the machine running the tests leaks in."""
    for name in [n for n in os.environ if n.startswith("WINIC_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


def _variables(rig: Rig, endpoint: str) -> dict[str, str]:
    return {
        "WINIC_UID": "demo",
        "WINIC_PWD": "demo-secret",
        "WINIC_ENDPOINT": endpoint,
        "WINIC_MAX_ATTEMPTS": "1",
        "WINIC_PROXY": rig.proxy.url,
        "WINIC_VERIFY": str(rig.certs.ca_file),
        "WINIC_CERT": str(rig.certs.client_pem),
    }


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_winic_variables_set_proxy_and_certificates(
    flavour: str, rig: Rig, private_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    front = rig.tls_front()
    for name, value in _variables(rig, front.url).items():
        monkeypatch.setenv(name, value)
    if flavour == "sync":
        with WinicClient.from_env() as client:
            message_id = client.send("13800138000", "configured by variables").message_id
    else:

        async def scenario() -> str | None:
            async with AsyncWinicClient.from_env() as client:
                return (await client.send("13800138000", "configured by variables")).message_id

        message_id = asyncio.run(scenario())
    assert rig.proxy.connects == [f"127.0.0.1:{front.port}"] and front.handshakes == 1
    assert [s.message_id for s in rig.mock.state.sends] == [message_id]


def test_toml_file_sets_proxy_and_certificates(rig: Rig, private_home: Path) -> None:
    front = rig.tls_front()
    config = private_home / "winic.toml"
    config.write_text(
        f'uid = "demo"\npwd = "demo-secret"\nendpoint = "{front.url}"\nmax_attempts = 1\n'
        f'proxy = "{rig.proxy.url}"\nverify = "{rig.certs.ca_file}"\ncert = "{rig.certs.client_pem}"\n',
        encoding="utf-8",
    )
    with WinicClient.from_env(config=config) as client:
        message_id = client.send("13800138000", "configured by file").message_id
    assert rig.proxy.connects == [f"127.0.0.1:{front.port}"] and front.handshakes == 1
    assert [s.message_id for s in rig.mock.state.sends] == [message_id]


def _cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WINIC_")}
    env.update({"WINIC_UID": "demo", "WINIC_PWD": "demo-secret", "WINIC_MAX_ATTEMPTS": "1", "HOME": str(home)})
    return subprocess.run(
        [sys.executable, "-m", "winic_soap", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_cli_flags_set_proxy_and_certificates(rig: Rig, private_home: Path) -> None:
    front = rig.tls_front()
    flags = ["--endpoint", front.url, "--proxy", rig.proxy.url]
    flags += ["--verify", str(rig.certs.ca_file), "--cert", str(rig.certs.client_pem)]
    result = _cli("account", *flags, "--json", home=private_home)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["uid"] == "demo"
    refresh = _cli("wsdl", "refresh", *flags, "--json", home=private_home)
    assert refresh.returncode == 0, refresh.stderr
    assert rig.proxy.connects == [f"127.0.0.1:{front.port}"] * 2 and front.handshakes == 2
    assert [e.operation for e in rig.mock.ledger] == ["GetUserInfo"]


def test_an_http_endpoint_never_builds_a_tls_context(rig: Rig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CA bundle (``SSL_CERT_FILE`` here, unreadable) is loaded at the first TLS handshake, not for an
    ``http://`` endpoint (about 20-60 ms a client); an https endpoint still refuses it at construction."""
    garbage = tmp_path / "not-a-bundle.pem"
    garbage.write_text("not a certificate\n", encoding="utf-8")
    monkeypatch.setenv("SSL_CERT_FILE", str(garbage))
    with WinicClient("demo", "demo-secret", endpoint=rig.mock.url, max_attempts=1) as client:
        receipt = client.send("13800138000", "over plain http")
        with pytest.raises(ConfigurationError, match="CA bundle"):  # the first https request builds it
            client.fetch_wsdl(rig.tls_front().url + "?WSDL")
    assert [s.message_id for s in rig.mock.state.sends] == [receipt.message_id]
    for flavour in (WinicClient, AsyncWinicClient):
        with pytest.raises(ConfigurationError, match="CA bundle"):
            flavour("demo", "demo-secret", endpoint=rig.tls_front().url)


def test_the_tls_context_built_at_the_first_https_request_verifies(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """An ``http://`` client fetching a document over https builds its context then, from the same
    settings (here the CA bundle named by ``SSL_CERT_FILE``): the front's certificate is verified."""
    front = rig.tls_front()
    front.context.verify_mode = ssl.CERT_OPTIONAL  # this front asks for no client certificate
    monkeypatch.setenv("SSL_CERT_FILE", str(rig.certs.ca_file))
    with WinicClient("demo", "demo-secret", endpoint=rig.mock.url, max_attempts=1) as client:
        document = client.fetch_wsdl(front.url + "?WSDL")
        client.send("13800138000", "over plain http")
    assert b"definitions" in document and front.handshakes == 1
    monkeypatch.delenv("SSL_CERT_FILE")
    with (
        WinicClient("demo", "demo-secret", endpoint=rig.mock.url, max_attempts=1) as client,
        pytest.raises(TLSError, match="self-signed certificate in certificate chain"),
    ):
        client.fetch_wsdl(front.url + "?WSDL")  # without the bundle: the same front is not trusted
