"""The HTTP/1.1 client under ``session.py``, against a raw socket server scripted byte by byte."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from winic_soap import ConfigurationError, ConnectError, ConnectionLostError, ProtocolError, ReadTimeoutError
from winic_soap.session import HttpSession

CLOSE_IDLE = b"<close idle>"


class RawServer:
    """Answers each request on a connection with the next scripted bytes (None: close without answering)."""

    def __init__(self, answers: list[bytes | None], wrap: Callable[[socket.socket], socket.socket] | None = None):
        self.answers = answers
        self.wrap = wrap
        self.connections = 0
        self.requests: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            if self.wrap:
                conn = self.wrap(conn)
            buffer = b""
            while self.answers:
                if self.answers[0] == CLOSE_IDLE:  # the server drops an idle keep-alive connection
                    self.answers.pop(0)
                    time.sleep(0.05)
                    conn.close()
                    return
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                while len(buffer) < length:
                    buffer += conn.recv(65536)
                self.requests.append(head + b"\r\n\r\n" + buffer[:length])
                buffer = buffer[length:]
                answer = self.answers.pop(0)
                if answer is None:
                    conn.close()
                    return
                conn.sendall(answer)
                if b"Connection: close" in answer or b"HTTP/1.0" in answer[:9]:
                    conn.close()
                    return
            conn.close()
        except (OSError, ssl.SSLError):
            return

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/Service.asmx"


def ok(body: bytes = b"<x/>", extra: str = "") -> bytes:
    return (f"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {len(body)}\r\n{extra}\r\n").encode() + body


@pytest.fixture
def session() -> Iterator[HttpSession]:
    s = HttpSession(connect_timeout=2, read_timeout=2, max_response_bytes=1000)
    yield s
    s.close()


def test_keep_alive_reuses_one_connection(session: HttpSession) -> None:
    server = RawServer([ok(b"1"), ok(b"2"), ok(b"3")])
    assert [session.request("GET", server.url).content for _ in range(3)] == [b"1", b"2", b"3"]
    assert server.connections == 1
    assert server.requests[0].startswith(b"GET /Service.asmx HTTP/1.1\r\nHost: 127.0.0.1:")


def test_chunked_and_informational_answers(session: HttpSession) -> None:
    chunked = (
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4\r\nabcd\r\n3;x=y\r\nefg\r\n0\r\nTrailer: 1\r\n\r\n"
    )
    server = RawServer([chunked, ok(b"after")])
    assert session.request("POST", server.url, body=b"x").content == b"abcdefg"
    assert session.request("GET", server.url).content == b"after"
    assert server.connections == 1


def test_close_delimited_and_connection_close(session: HttpSession) -> None:
    server = RawServer(
        [b"HTTP/1.0 200 OK\r\nContent-Type: text/xml\r\n\r\nuntil close", ok(b"x", "Connection: close\r\n"), ok(b"y")]
    )
    assert session.request("GET", server.url).content == b"until close"
    assert session.request("GET", server.url).content == b"x"
    assert session.request("GET", server.url).content == b"y"
    assert server.connections == 3


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", ProtocolError),  # over the limit, refused unread
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" + b"a" * 2048 + b"\r\n0\r\n\r\n",
            ProtocolError,
        ),
        (b"HTTP/1.0 200 OK\r\n\r\n" + b"b" * 2000, ProtocolError),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", ProtocolError),  # truncated
        (b"SMTP ready\r\n\r\n", ProtocolError),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", ProtocolError),
        (b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", ProtocolError),
        (None, ConnectionLostError),
    ],
)
def test_broken_answers_are_typed(session: HttpSession, answer: bytes | None, error: type[Exception]) -> None:
    server = RawServer([answer])
    with pytest.raises(error):
        session.request("GET", server.url)


def test_read_timeout_is_not_a_connect_error() -> None:
    listener = socket.create_server(("127.0.0.1", 0))  # accepts (backlog) but never answers
    s = HttpSession(connect_timeout=1, read_timeout=0.2)
    with pytest.raises(ReadTimeoutError) as caught:
        s.request("GET", f"http://127.0.0.1:{listener.getsockname()[1]}/")
    assert caught.value.reached and caught.value.processed is None
    listener.close()


def test_stale_idle_connection_is_replaced(session: HttpSession) -> None:
    server = RawServer([ok(b"1"), CLOSE_IDLE, ok(b"2")])
    assert session.request("GET", server.url).content == b"1"
    time.sleep(0.2)  # the server has closed the idle connection meanwhile
    assert session.request("GET", server.url).content == b"2"  # detected before use: no lost request
    assert server.connections == 2 and len(server.requests) == 2


def test_header_injection_is_refused(session: HttpSession) -> None:
    with pytest.raises(ConfigurationError, match="line break"):
        session.request("POST", "http://127.0.0.1:9/", headers={"SOAPAction": 'x"\r\nEvil: 1'})


def test_closed_session_refuses(session: HttpSession) -> None:
    session.close()
    with pytest.raises(ConnectError):
        session.request("GET", "http://127.0.0.1:9/")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with the ``cryptography`` package (a test extra)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def _tls_server(cert: Path, key: Path, answers: list[bytes | None]) -> RawServer:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return RawServer(answers, wrap=lambda s: context.wrap_socket(s, server_side=True))


def test_https_verifies_certificates_by_default(certificate: tuple[Path, Path]) -> None:
    server = _tls_server(*certificate, [ok(b"secret")])
    s = HttpSession(connect_timeout=2, read_timeout=2)
    with pytest.raises(ConnectError, match="TLS") as caught:
        s.request("GET", f"https://127.0.0.1:{server.port}/Service.asmx")
    assert caught.value.reached is False  # a refused certificate sends nothing: safe to retry, nothing leaked


def test_https_with_the_right_ca_bundle_works(certificate: tuple[Path, Path]) -> None:
    server = _tls_server(*certificate, [ok(b"over tls")])
    s = HttpSession(connect_timeout=2, read_timeout=2, verify=str(certificate[0]))
    assert s.request("GET", f"https://127.0.0.1:{server.port}/Service.asmx").content == b"over tls"
