"""Against a TLS front that requires a client certificate: in with ``cert``, refused at the door without."""

from __future__ import annotations

import ssl
from typing import Any

import pytest
from drive import FLAVOURS
from rig import Rig

from winic_soap import ConnectError, OutcomeUnknown

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
