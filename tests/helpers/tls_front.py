"""A TLS front on loopback that requires a client certificate and relays each connection to the mock.

Certificates come from ``trustme``: one CA signs the server's (127.0.0.1, localhost) and the client's.
"""

from __future__ import annotations

import socket
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

import trustme

from helpers.rawhttp import LoopbackServer, relay


@dataclass(frozen=True)
class Certificates:
    """PEM files a test hands to the client: the CA to trust and the client's certificate with its key."""

    ca: trustme.CA
    server: trustme.LeafCert
    client: trustme.LeafCert
    ca_file: Path  # the CA certificate, for ``verify=``
    client_pem: Path  # client certificate chain and private key in one PEM, for ``cert=``
    client_cert_file: Path  # the same split in two, for ``cert="certfile:keyfile"`` style settings
    client_key_file: Path

    @classmethod
    def make(cls, folder: Path) -> Certificates:
        ca = trustme.CA()
        server = ca.issue_cert("127.0.0.1", "localhost")
        client = ca.issue_cert("winic-client@example.test")
        paths = {n: folder / f"{n}.pem" for n in ("ca", "client", "client-cert", "client-key")}
        ca.cert_pem.write_to_path(str(paths["ca"]))
        client.private_key_and_cert_chain_pem.write_to_path(str(paths["client"]))
        client.cert_chain_pems[0].write_to_path(str(paths["client-cert"]))
        client.private_key_pem.write_to_path(str(paths["client-key"]))
        return cls(ca, server, client, paths["ca"], paths["client"], paths["client-cert"], paths["client-key"])

    def client_context(self, *, with_cert: bool = True) -> ssl.SSLContext:
        """An ``ssl.SSLContext`` trusting the CA (and presenting the client certificate)."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        if with_cert:
            self.client.configure_cert(context)
        return context


class TLSFront(LoopbackServer):
    """Terminates TLS (client certificate REQUIRED) and relays the plain bytes to ``upstream``.

    ``handshakes`` counts completed handshakes, ``refused`` holds the reason of each failed one:
    a test can tell "refused at the door" from "got in".
    """

    def __init__(
        self, certs: Certificates, upstream: tuple[str, int], *, tls_version: ssl.TLSVersion | None = None
    ) -> None:
        super().__init__()
        self.upstream = upstream
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        certs.server.configure_cert(self.context)
        certs.ca.configure_trust(self.context)
        self.context.verify_mode = ssl.CERT_REQUIRED
        if tls_version is not None:  # pin one version: TLS 1.3 checks the client certificate after
            self.context.minimum_version = self.context.maximum_version = tls_version  # the client's Finished
        self.changed = threading.Condition(self.lock)
        self.handshakes = 0
        self.refused: list[str] = []

    @property
    def url(self) -> str:
        """The service endpoint behind the front."""
        return f"https://127.0.0.1:{self.port}/Service.asmx"

    def wait_refused(self, count: int, timeout: float = 10.0) -> bool:
        """Block until ``count`` handshakes have been refused (the server side may finish after the client)."""
        with self.changed:
            return self.changed.wait_for(lambda: len(self.refused) >= count, timeout)

    def handle(self, conn: socket.socket) -> None:
        tls = self.context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        self.track(tls)
        try:
            try:
                tls.do_handshake()
            except (ssl.SSLError, OSError) as exc:
                with self.changed:
                    self.refused.append(getattr(exc, "reason", None) or str(exc))
                    self.changed.notify_all()
                return
            with self.changed:
                self.handshakes += 1
                self.changed.notify_all()
            upstream = socket.create_connection(self.upstream, timeout=10)
            self.track(upstream)
            try:
                relay(tls, upstream, self.stopping)
            finally:
                self.release(upstream)
        finally:
            self.release(tls)
