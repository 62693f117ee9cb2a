"""Errors no retry can fix are raised at once, never retried: a closed client, settings that cannot work
(wherever they surface), and a TLS front that refuses us (a certificate that fails verification, a
client certificate it requires). Every test runs under ``RetryPolicy(max_attempts=4)`` with a recorded
sleep: no wait, one attempt, and the server side sees at most one connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from helpers.shared import SleepRecorder

from winic_soap import (
    AsyncWinicClient,
    ClientClosedError,
    ConfigurationError,
    RetryPolicy,
    TLSError,
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


# -- TLS that refuses us --------------------------------------------------------------------------------------
@dataclass
class TLSFront:
    """A TLS listener on 127.0.0.1 that only handshakes (and answers nothing): counts connections."""

    context: ssl.SSLContext
    ca: Path
    connections: int = 0
    url: str = ""
    stopping: bool = False
    _sock: socket.socket = field(default_factory=socket.socket)

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            if self.stopping:
                conn.close()
                return
            self.connections += 1
            tls = self.context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
            try:
                tls.do_handshake()
                tls.recv(65536)
            except (OSError, ssl.SSLError):
                # a lingering close, as TLS fronts do (nginx's lingering_close): read what the client still
                # sends, so that it gets the alert rather than a reset that would drop it
                tls.settimeout(5)
                with contextlib.suppress(OSError):
                    while socket.socket.recv(tls, 65536):
                        pass
            finally:
                tls.close()


def _certificate(tmp: Path, name: str) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / f"{name}.pem", tmp / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture(params=["self-signed certificate", "client certificate required"])
def tls_front(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TLSFront]:
    cert, key = _certificate(tmp_path, "server")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    if request.param == "client certificate required":
        client_ca, _ = _certificate(tmp_path, "client-ca")
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(client_ca)
    front = TLSFront(context, cert)
    front._sock.bind(("127.0.0.1", 0))
    front._sock.listen(8)
    front.url = f"https://127.0.0.1:{front._sock.getsockname()[1]}/Service.asmx"
    # the self-signed case: the client does not trust the server; the other: it does, and has no certificate
    front.ca = Path("/nonexistent") if request.param == "self-signed certificate" else cert
    thread = threading.Thread(target=front.serve, daemon=True)
    thread.start()
    yield front
    front.stopping = True
    socket.create_connection(front._sock.getsockname()).close()  # wakes the accept() up
    thread.join(5)
    front._sock.close()


def _tls_options(front: TLSFront) -> dict[str, Any]:
    return {} if not front.ca.exists() else {"verify": str(front.ca)}


@pytest.mark.parametrize("call", SYNC_CALLS.values(), ids=SYNC_CALLS.keys())
def test_tls_refusal(tls_front: TLSFront, sleeps: SleepRecorder, call: Callable[[WinicClient], Any]) -> None:
    events: list[CallEvent] = []
    options = _tls_options(tls_front)
    with (
        WinicClient(
            "demo", "demo-secret", endpoint=tls_front.url, retry=policy(sleeps), hooks=[events.append], **options
        ) as client,
        pytest.raises(TLSError) as caught,
    ):
        call(client)
    assert caught.value.reached is False and caught.value.processed is False
    assert sleeps.waits == [] and [e.attempt for e in events] == [1]
    assert tls_front.connections == 1


def test_tls_refusal_async(tls_front: TLSFront, sleeps: SleepRecorder) -> None:
    async def run() -> None:
        options = _tls_options(tls_front)
        async with AsyncWinicClient(
            "demo", "demo-secret", endpoint=tls_front.url, retry=policy(sleeps), **options
        ) as client:
            with pytest.raises(TLSError):
                await client.send("13800138000", "hello")
            with pytest.raises(TLSError):
                await client.account()

    asyncio.run(run())
    assert sleeps.waits == [] and tls_front.connections == 2
