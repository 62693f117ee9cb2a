"""The one retry decision as a table (as stripe's ``TestRetryConditionsDefaultHttpClient``): which failed
call may be made again, for a read and for a write. Every error class of the package has a row (a new
class fails :func:`test_every_error_class_has_a_row` until its decision is written down here)."""

from __future__ import annotations

import asyncio
import importlib
import pkgutil

import pytest

import winic_soap
from winic_soap import exceptions as tree
from winic_soap.retry import should_retry


def _transport_error(*, reached: bool) -> tree.TransportError:
    """What an unexpected exception inside the HTTP client becomes (a user's event hook raising, say)."""
    error = tree.TransportError("the HTTP client failed (HookFailed: broke)")
    error.reached, error.processed = reached, (None if reached else False)
    return error


def _error_classes() -> dict[str, type[tree.WinicError]]:
    """Every WinicError subclass the package defines, wherever it lives (every module loaded first, so the
    answer does not depend on which tests ran before)."""
    for module in pkgutil.walk_packages(winic_soap.__path__, "winic_soap."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    found: dict[str, type[tree.WinicError]] = {}
    todo = [tree.WinicError]
    while todo:
        cls = todo.pop()
        if cls.__module__.startswith("winic_soap"):
            found[cls.__name__] = cls
        todo.extend(cls.__subclasses__())
    return found


_SENT = tree.SendOutcomeUnknown("SendMessages", tree.ReadTimeoutError("no answer"), recipients=["1"], text="t")

# (error, may a read retry it, may a write retry it)
TABLE: dict[str, tuple[BaseException, bool, bool]] = {
    # never reached the server: anything may be repeated ...
    "connect refused": (tree.ConnectError("could not connect: refused"), True, True),
    "hook raised before sending": (_transport_error(reached=False), True, True),
    # ... unless it fails the same way next time
    "TLS refused": (tree.TLSError("TLS failed: CERTIFICATE_VERIFY_FAILED"), False, False),
    "proxy wants credentials (407)": (tree.ProxyAuthenticationError("the proxy wants credentials"), False, False),
    # may have reached it: a read is repeated, a write surfaces (an SMS must not go out twice)
    "read timeout": (tree.ReadTimeoutError("no answer in time"), True, False),
    "connection lost": (tree.ConnectionLostError("closed after the request was sent"), True, False),
    "HTTP 503, outcome unknown": (tree.HTTPStatusError(503, "unavailable", processed=None), True, False),
    "garbled answer": (tree.ProtocolError("not XML", processed=None), True, False),
    "soap:Server fault": (tree.SoapFaultError("soap:Server", "oops"), True, False),
    "-09 maintenance": (tree.error_for_code("-09", "SMS_Reports"), True, False),
    "hook raised after sending": (_transport_error(reached=True), False, False),  # nothing says it is transient
    # the server answered, and the answer is final
    "HTTP 500, refused before the method": (tree.HTTPStatusError(500, "validation", processed=False), False, False),
    "HTTP 404": (tree.HTTPStatusError(404, "not found", processed=False), False, False),
    "HTTP 302, not followed": (tree.HTTPStatusError(302, "redirect", processed=False, location="/x"), False, False),
    "redirect loop (a user's client)": (tree.HTTPStatusError(307, "too many redirects", processed=None), False, False),
    "refused answer": (tree.ProtocolError("request refused", processed=False), False, False),
    "soap:Client fault": (tree.SoapFaultError("soap:Client", "bad request"), False, False),
    "-01 balance": (tree.error_for_code("-01", "SendMessages"), False, False),
    "-03 wrong password": (tree.error_for_code("-03", "GetUserInfo"), False, False),
    "-110 IP not allowed": (tree.error_for_code("-110", "GetUserInfo"), False, False),
    "-04 request refused": (tree.error_for_code("-04", "SendMessages"), False, False),
    "-99 unknown code": (tree.error_for_code("-99", "GetUserInfo"), False, False),
    "a service error of no family": (tree.ServiceError("-98", "GetUserInfo"), False, False),
    # not the wire's: decided before or after it, never by retrying the call
    "configuration": (tree.ConfigurationError("another event loop"), False, False),
    "bad input": (tree.InputError("mobile", "must be 11 digits"), False, False),
    "client closed": (tree.ClientClosedError("the client is closed"), False, False),
    "outcome unknown": (tree.OutcomeUnknown("EditUserPwd", tree.ReadTimeoutError("no answer")), False, False),
    "send outcome unknown": (_SENT, False, False),
    "bulk send stopped": (tree.BulkSendError([], _SENT, failed=[], unsent=["2"], unknown=["1"]), False, False),
    "store down": (tree.StoreError("the store cannot be opened"), False, False),
    "journal lost an accepted send": (tree.JournalError("could not record"), False, False),
    "hand-off failed": (tree.HandOffError("r-1", "the handler failed"), False, False),
    "webhook not verified": (tree.WebhookVerificationError("signature does not match"), False, False),
    "a WinicError of no kind": (tree.WinicError("something else"), False, False),
    "a bug of ours or a hook's": (ValueError("boom"), False, False),
    "cancelled": (asyncio.CancelledError(), False, False),
}


@pytest.mark.parametrize(("error", "read", "write"), TABLE.values(), ids=TABLE.keys())
def test_retry_decision(error: BaseException, read: bool, write: bool) -> None:
    assert should_retry(error, idempotent=True) is read
    assert should_retry(error, idempotent=False) is write


def test_every_error_class_has_a_row() -> None:
    covered = {type(error).__name__ for error, _, _ in TABLE.values()}
    assert set(_error_classes()) - covered == set()


def test_every_decision_is_in_the_table_and_a_write_never_retries_what_a_read_would_not() -> None:
    decisions = {(read, write) for _, read, write in TABLE.values()}
    assert decisions == {(True, True), (True, False), (False, False)}
