"""Webhooks go through the client's HTTP settings: a receiver behind a TLS front that requires a client
certificate, reached through a forward proxy (CONNECT), trusting only the test's CA bundle."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from helpers.forward_proxy import ForwardProxy
from helpers.tls_front import Certificates, TLSFront
from helpers.webhook_receiver import Receiver, receiving

from winic_soap import Settings
from winic_soap.models import Reply
from winic_soap.store import open_store
from winic_soap.webhooks import WebhookDispatcher, new_secret

SECRET = new_secret()


@pytest.fixture
def behind_tls(certs: Certificates) -> Iterator[tuple[Receiver, TLSFront, str]]:
    """A receiver, the TLS front before it, and the https URL of the receiver's path through the front."""
    with receiving(SECRET) as receiver:
        parts = urlsplit(receiver.url)
        front = TLSFront(certs, ("127.0.0.1", parts.port or 80))
        front.start()
        try:
            yield receiver, front, f"https://127.0.0.1:{front.port}{parts.path}"
        finally:
            front.stop()


def _deliver(tmp_path: Path, url: str, **settings: Any) -> tuple[int, dict[str, int]]:
    with open_store(tmp_path / "s.sqlite3") as store:
        dispatcher = WebhookDispatcher(store, Settings(webhook_secret=SECRET, timeout=5.0, **settings), urls=[url])
        store.commit_pulled("GET_SMS_MO", [Reply("13800138000", "hello", "001", None, raw="r")])
        delivered = dispatcher.deliver_once()
        [endpoint] = dispatcher.endpoints
        counts = endpoint.queue.counts()
        dispatcher.join()
    return delivered, counts


def test_webhook_through_proxy_with_ca_bundle_and_client_certificate(
    behind_tls: tuple[Receiver, TLSFront, str], certs: Certificates, tmp_path: Path
) -> None:
    receiver, front, url = behind_tls
    proxy = ForwardProxy()
    proxy.start()
    try:
        delivered, counts = _deliver(
            tmp_path, url, verify=str(certs.ca_file), cert=str(certs.client_pem), proxy=proxy.url
        )
    finally:
        proxy.stop()
    assert delivered == 1 and counts["done"] == 1
    assert proxy.connects == [f"127.0.0.1:{front.port}"]  # the tunnel went through the proxy
    assert front.handshakes == 1 and len(receiver.deliveries) == 1 and receiver.deliveries[0].verified


@pytest.mark.parametrize("missing", ["client certificate", "CA bundle"])
def test_webhook_without_the_tls_settings_fails_and_stays_pending(
    behind_tls: tuple[Receiver, TLSFront, str], certs: Certificates, tmp_path: Path, missing: str
) -> None:
    receiver, _, url = behind_tls
    settings = {"verify": str(certs.ca_file)} if missing == "client certificate" else {"cert": str(certs.client_pem)}
    delivered, counts = _deliver(tmp_path, url, proxy="", **settings)
    assert delivered == 0 and counts == {"pending": 1, "done": 0, "dead": 0}
    assert receiver.deliveries == []
