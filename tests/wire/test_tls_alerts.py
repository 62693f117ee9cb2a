"""Which TLS failures prove that nothing reached the service: a handshake failure, or a certificate alert on a
connection opened for this very request. Any other alert after the request was written proves nothing, so a
send stays an unknown outcome (a reused keep-alive connection is long past its handshake)."""

from __future__ import annotations

import ssl

import httpx2
import pytest

from winic_soap import ConnectionLostError, TLSError, TransportError
from winic_soap.http.errors import map_error


def _read_error(reason: str) -> httpx2.ReadError:
    tls = ssl.SSLError(1, f"[SSL: {reason}] alert")
    tls.reason = reason
    error = httpx2.ReadError(str(tls))
    error.__cause__ = tls
    return error


CASES = {
    "certificate required, fresh connection": ("TLSV13_ALERT_CERTIFICATE_REQUIRED", True, True, TLSError),
    "unknown CA, fresh connection": ("TLSV1_ALERT_UNKNOWN_CA", True, True, TLSError),
    "certificate required, reused connection": ("TLSV13_ALERT_CERTIFICATE_REQUIRED", True, False, ConnectionLostError),
    "internal error, fresh connection": ("TLSV1_ALERT_INTERNAL_ERROR", True, True, ConnectionLostError),
    "internal error, nothing written": ("TLSV1_ALERT_INTERNAL_ERROR", False, True, TLSError),
}


@pytest.mark.parametrize(("reason", "sending", "new_tls", "expected"), CASES.values(), ids=CASES.keys())
def test_only_certificate_alerts_on_a_fresh_connection_prove_nothing_was_processed(
    reason: str, sending: bool, new_tls: bool, expected: type[TransportError]
) -> None:
    error = map_error(_read_error(reason), sending=sending, new_tls=new_tls)
    assert type(error) is expected and isinstance(error, TransportError)
    assert (error.processed is False) is (expected is TLSError)
