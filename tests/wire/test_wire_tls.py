"""Against a TLS front that requires a client certificate: in with ``cert``, refused at the door without."""

from __future__ import annotations

import logging
import os
import pty
import select
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from helpers.drive import FLAVOURS, OUTER_LIMIT
from helpers.nginx_front import NginxFront
from helpers.rig import Rig

from winic_soap import (
    AsyncWinicClient,
    ConfigurationError,
    ConnectError,
    OutcomeUnknown,
    Settings,
    TLSError,
    WinicClient,
)

# TLS 1.2 refuses a missing client certificate inside the handshake; TLS 1.3 only after the client has
# finished its side and written the request, so the refusal arrives while the answer is read.
VERSIONS = pytest.mark.parametrize(
    "tls_version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3], ids=["TLSv1.2", "TLSv1.3"]
)


def _credentials(rig: Rig, form: str) -> dict[str, Any]:
    if form == "cert-pem":
        return {"verify": str(rig.certs.ca_file), "cert": str(rig.certs.client_pem)}
    return {"verify": rig.certs.client_context()}  # one ssl.SSLContext: the CA to trust and the client certificate


@VERSIONS
@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("form", ["cert-pem", "ssl-context"])
def test_client_certificate_opens_the_front(flavour: str, form: str, tls_version: ssl.TLSVersion, rig: Rig) -> None:
    front = rig.tls_front(tls_version)
    client = rig.client(flavour, front.url, max_attempts=1, **_credentials(rig, form))
    receipt = client.send("13800138000", "mutual TLS")
    assert client.account().uid == "demo"
    assert front.refused == [] and front.handshakes >= 1
    assert [s.message_id for s in rig.mock.state.sends] == [receipt.message_id]


@VERSIONS
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_send_without_client_certificate_is_a_connect_error(
    flavour: str, tls_version: ssl.TLSVersion, rig: Rig
) -> None:
    front = rig.tls_front(tls_version)
    client = rig.client(flavour, front.url, verify=str(rig.certs.ca_file), max_attempts=1)
    with pytest.raises(ConnectError) as caught:
        client.send("13800138000", "no certificate")
    assert not isinstance(caught.value, OutcomeUnknown)
    assert caught.value.reached is False and caught.value.processed is False
    assert front.wait_refused(1)
    assert front.handshakes == 0 and front.refused[0] == "PEER_DID_NOT_RETURN_A_CERTIFICATE"
    assert rig.mock.ledger == [] and rig.mock.state.sends == []


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_untrusted_server_certificate_is_a_connect_error(flavour: str, rig: Rig) -> None:
    front = rig.tls_front()
    client = rig.client(flavour, front.url, cert=str(rig.certs.client_pem), max_attempts=1)  # verify: the default
    with pytest.raises(ConnectError) as caught:
        client.send("13800138000", "to a front we cannot verify")
    assert caught.value.reached is False and caught.value.processed is False
    assert front.wait_refused(1)
    assert front.handshakes == 0
    assert rig.mock.ledger == []


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_untrusted_server_certificate_keeps_openssls_reason(flavour: str, rig: Rig) -> None:
    front = rig.tls_front()
    client = rig.client(flavour, front.url, cert=str(rig.certs.client_pem), max_attempts=1)
    with pytest.raises(TLSError) as caught:
        client.send("13800138000", "to a front we cannot verify")
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)
    assert "self-signed certificate in certificate chain" in str(caught.value)  # OpenSSL's verify reason


# -- an encrypted client key ---------------------------------------------------------------------

KEY_PASSWORD = "k3y-pa55word"


def _encrypted_key(rig: Rig, folder: Path) -> Path:
    """The client's private key, PEM encrypted with KEY_PASSWORD (as a company's PKI hands it out)."""
    key = serialization.load_pem_private_key(rig.certs.client.private_key_pem.bytes(), password=None)
    path = folder / "client-key.encrypted.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(KEY_PASSWORD.encode()),
        )
    )
    return path


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("how", ["keyword", "WINIC_CERT_PASSWORD", "TOML"])
def test_encrypted_client_key_opens_with_cert_password(
    flavour: str,
    how: str,
    *,
    rig: Rig,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    front = rig.tls_front()
    options: dict[str, Any] = {"verify": str(rig.certs.ca_file), "cert": str(rig.certs.client_cert_file)}
    options["cert_key"] = str(_encrypted_key(rig, tmp_path))
    if how == "keyword":
        options["cert_password"] = KEY_PASSWORD
    elif how == "WINIC_CERT_PASSWORD":
        monkeypatch.setenv("WINIC_CERT_PASSWORD", KEY_PASSWORD)
    else:
        config = tmp_path / "config.toml"
        config.write_text(f'cert_password = "{KEY_PASSWORD}"\n', encoding="utf-8")
    settings = Settings.load(config=tmp_path / "config.toml" if how == "TOML" else None, env=dict(os.environ))
    assert settings.cert_password == (None if how == "keyword" else KEY_PASSWORD)
    assert KEY_PASSWORD not in repr(settings)
    client = rig.client(flavour, front.url, settings=settings, max_attempts=1, **options)
    receipt = client.send("13800138000", "with an encrypted key")
    assert front.handshakes == 1 and front.refused == []
    assert [s.message_id for s in rig.mock.state.sends] == [receipt.message_id]
    assert KEY_PASSWORD not in caplog.text + repr(client) + repr(client.settings)


@pytest.mark.parametrize("password", [None, "not-the-password"], ids=["no password", "wrong password"])
def test_encrypted_client_key_without_its_password_is_a_configuration_error(
    password: str | None, rig: Rig, tmp_path: Path
) -> None:
    options: dict[str, Any] = {"cert": str(rig.certs.client_cert_file), "cert_key": str(_encrypted_key(rig, tmp_path))}
    if password:
        options["cert_password"] = password
    front = rig.tls_front()
    for flavour in (WinicClient, AsyncWinicClient):
        with pytest.raises(ConfigurationError, match="cert_password") as caught:
            flavour("demo", "demo-secret", endpoint=front.url, **options)
        assert "not-the-password" not in str(caught.value)
    assert front.handshakes == 0 and rig.mock.ledger == []


_NO_PASSWORD = """
import fcntl, sys, termios
fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # in a new session: the pty becomes /dev/tty, where OpenSSL would prompt
from winic_soap import ConfigurationError, WinicClient
try:
    WinicClient("demo", "demo-secret", endpoint=sys.argv[1], cert=sys.argv[2], cert_key=sys.argv[3])
except ConfigurationError as exc:
    print("refused:", exc, flush=True)
"""


def test_encrypted_key_without_password_never_prompts_on_the_terminal(rig: Rig, tmp_path: Path) -> None:
    """OpenSSL asks for a PEM pass phrase on the controlling terminal; the client gives it none to ask."""
    primary, secondary = pty.openpty()
    key = _encrypted_key(rig, tmp_path)
    child = subprocess.Popen(
        [sys.executable, "-c", _NO_PASSWORD, rig.tls_front().url, str(rig.certs.client_cert_file), str(key)],
        stdin=secondary, stdout=secondary, stderr=secondary, start_new_session=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("WINIC_")},
    )  # fmt: skip
    os.close(secondary)
    seen = b""
    try:
        while child.poll() is None or select.select([primary], [], [], 0)[0]:
            ready, _, _ = select.select([primary], [], [], OUTER_LIMIT)
            assert ready, f"the client waits on the terminal: {seen!r}"
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(OUTER_LIMIT)
        os.close(primary)
    assert b"pass phrase" not in seen.lower()
    assert b"refused:" in seen and b"cert_password" in seen


# -- nginx with ssl_verify_client on: the refusal comes as an HTTP 400 page ------------------------


@pytest.fixture
def nginx(rig: Rig, tmp_path: Path) -> Iterator[NginxFront]:
    front = NginxFront(rig.certs, rig.upstream, tmp_path)
    try:
        yield front
    finally:
        front.stop()


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_nginx_answering_no_certificate_was_sent_is_a_tls_error(flavour: str, rig: Rig, nginx: NginxFront) -> None:
    client = rig.client(flavour, nginx.url, verify=str(rig.certs.ca_file), max_attempts=4)
    with pytest.raises(TLSError, match="no client certificate was sent") as caught:
        client.send("13800138000", "no certificate")
    assert not isinstance(caught.value, OutcomeUnknown)
    assert caught.value.reached is False and caught.value.processed is False
    with pytest.raises(TLSError, match="no client certificate was sent"):
        client.account()
    assert rig.mock.ledger == []


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_nginx_refusing_a_certificate_from_another_ca_is_a_tls_error(
    flavour: str, rig: Rig, nginx: NginxFront, tmp_path: Path
) -> None:
    stranger = trustme.CA().issue_cert("someone-else@example.test")
    pem = tmp_path / "stranger.pem"
    stranger.private_key_and_cert_chain_pem.write_to_path(str(pem))
    client = rig.client(flavour, nginx.url, verify=str(rig.certs.ca_file), cert=str(pem), max_attempts=4)
    with pytest.raises(TLSError, match="client certificate was refused") as caught:
        client.send("13800138000", "a certificate nginx does not trust")
    assert caught.value.processed is False
    assert rig.mock.ledger == []


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_nginx_lets_the_right_certificate_through(flavour: str, rig: Rig, nginx: NginxFront) -> None:
    client = rig.client(flavour, nginx.url, verify=str(rig.certs.ca_file), cert=str(rig.certs.client_pem))
    receipt = client.send("13800138000", "through nginx")
    assert [s.message_id for s in rig.mock.state.sends] == [receipt.message_id]
