"""The one retry decision as a table (as stripe's ``TestRetryConditionsDefaultHttpClient``): which failed
call may be made again, for a read and for a write."""

from __future__ import annotations

import pytest

from winic_soap import exceptions as tree
from winic_soap.retry import should_retry


def _transport_error(*, reached: bool) -> tree.TransportError:
    """What an unexpected exception inside the HTTP client becomes (a user's hook raising, say)."""
    error = tree.TransportError("the HTTP client failed (HookFailed: broke)")
    error.reached, error.processed = reached, (None if reached else False)
    return error


# (error, may a read retry it, may a write retry it)
TABLE: dict[str, tuple[BaseException, bool, bool]] = {
    "connect refused": (tree.ConnectError("could not connect: refused"), True, True),
    "TLS refused": (tree.TLSError("TLS failed: CERTIFICATE_VERIFY_FAILED"), False, False),
    "proxy wants credentials (407)": (tree.ProxyAuthenticationError("the proxy wants credentials"), False, False),
    "read timeout": (tree.ReadTimeoutError("no answer in time"), True, False),
    "connection lost": (tree.ConnectionLostError("closed after the request was sent"), True, False),
    "HTTP 503, outcome unknown": (tree.HTTPStatusError(503, "unavailable", processed=None), True, False),
    "HTTP 500, refused before the method": (tree.HTTPStatusError(500, "validation", processed=False), False, False),
    "HTTP 404": (tree.HTTPStatusError(404, "not found", processed=False), False, False),
    "garbled answer": (tree.ProtocolError("not XML", processed=None), True, False),
    "soap:Client fault": (tree.SoapFaultError("soap:Client", "bad request"), False, False),
    "soap:Server fault": (tree.SoapFaultError("soap:Server", "oops"), True, False),
    "-09 maintenance": (tree.error_for_code("-09", "SMS_Reports"), True, False),
    "-03 wrong password": (tree.error_for_code("-03", "GetUserInfo"), False, False),
    "hook raised before sending": (_transport_error(reached=False), True, True),
    "hook raised after sending": (_transport_error(reached=True), False, False),
    "configuration": (tree.ConfigurationError("another event loop"), False, False),
}


@pytest.mark.parametrize(("error", "read", "write"), TABLE.values(), ids=TABLE.keys())
def test_retry_decision(error: BaseException, read: bool, write: bool) -> None:
    assert should_retry(error, idempotent=True) is read
    assert should_retry(error, idempotent=False) is write
