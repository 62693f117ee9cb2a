"""Every error in the tree survives pickle with its context (Celery's pickle serializer, process pools,
multiprocessing): built by hand for each class in ``winic_soap.exceptions.__all__``, raised by real
failed calls against the mock, and raised inside a process pool's worker.
"""

from __future__ import annotations

import pickle
import socket
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest
from helpers.shared import TRANSPORTS

import winic_soap.exceptions as tree
from winic_soap import RetryPolicy, WinicClient
from winic_soap.mock import MockService
from winic_soap.models import Problem, Submission

_CAUSE = tree.ConnectionLostError("connection closed after the request was sent", operation="SendMessages")
_UNKNOWN = tree.SendOutcomeUnknown(
    "SendMessages", _CAUSE, recipients=["13800138000", "13900139000"], text="验证码 1", transport="http-post"
)
BUILT: dict[str, tree.WinicError] = {
    "WinicError": tree.WinicError("something"),
    "ConfigurationError": tree.ConfigurationError("transport must be one of soap11, soap12, http-post, http-get"),
    "InputError": tree.InputError(
        "recipients",
        "2 invalid number(s) of 3",
        problems=[Problem("recipients[0]", 0, "12", "not a mobile"), Problem("recipients[2]", 2, "x", "not a mobile")],
    ),
    "ServiceError": tree.ServiceError("-12", "SendMessages", " -12 ", transport="soap11"),
    "AuthenticationError": tree.error_for_code("-03", "GetUserInfo", "-03", "soap12"),
    "AccessDeniedError": tree.error_for_code("-110", "SendMessages"),
    "BalanceError": tree.error_for_code("-01", "SendMessages", "-01", "http-get"),
    "RejectedRequestError": tree.error_for_code("-05", "SendMessages"),
    "MaintenanceError": tree.error_for_code("-09", "SMS_Reports"),
    "UnknownServiceError": tree.error_for_code("-77", "SendMessages", "-77"),
    "TransportError": tree.TransportError("HTTP failure", operation="GetUserInfo", transport="soap11"),
    "ConnectError": tree.ConnectError("could not connect: refused", operation="SendMessages", transport="soap11"),
    "TLSError": tree.TLSError("TLS failed: CERTIFICATE_VERIFY_FAILED", operation="SendMessages"),
    "ProxyAuthenticationError": tree.ProxyAuthenticationError("the proxy wants credentials (HTTP 407)"),
    "ReadTimeoutError": tree.ReadTimeoutError("no complete answer within the timeout", transport="http-post"),
    "ConnectionLostError": _CAUSE,
    "HTTPStatusError": tree.HTTPStatusError(
        302, "redirect", processed=False, body=b"<html>moved</html>", location="https://x/", operation="SendMessages"
    ),
    "ProtocolError": tree.ProtocolError("answer is not well-formed XML", processed=None, transport="soap12"),
    "SoapFaultError": tree.SoapFaultError("soap:Client", "Server did not recognize the value", operation="X"),
    "OutcomeUnknown": tree.OutcomeUnknown("EditUserPwd", tree.ReadTimeoutError("timed out"), transport="soap11"),
    "SendOutcomeUnknown": _UNKNOWN,
    "BulkSendError": tree.BulkSendError(
        [Submission("1125120000000001", ("13800138000",)), Submission(None, ("13900139000",))],
        _UNKNOWN,
        ["13700137000"],
        ["13600136000", "13500135000"],
        ["13400134000"],
        job="job-1",
    ),
    "ClientClosedError": tree.ClientClosedError("the client is closed"),
    "StoreError": tree.StoreError("the store cannot be written: disk full"),
    "JournalError": tree.JournalError("accepted, but the journal could not record it"),
    "HandOffError": tree.HandOffError("01a2-id", RuntimeError("downstream is down")),
    "WebhookVerificationError": tree.WebhookVerificationError("no webhook-signature matches the body and the secret"),
}


def _state(error: BaseException) -> dict[str, Any]:
    """What must survive: type, message, args and every attribute (nested errors by their own state)."""
    attrs = {
        k: _state(v) if isinstance(v, BaseException) else v for k, v in vars(error).items() if not k.startswith("__")
    }
    return {"type": type(error), "str": str(error), "repr": repr(error), "args": error.args, **attrs}


def _roundtrip(error: BaseException) -> BaseException:
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        copy: BaseException = pickle.loads(pickle.dumps(error, protocol=protocol))
        assert _state(copy) == _state(error)
    return copy


def test_every_class_is_in_the_table() -> None:
    classes = {name for name in tree.__all__ if isinstance(getattr(tree, name), type)}
    assert classes == set(BUILT)


@pytest.mark.parametrize("error", BUILT.values(), ids=BUILT.keys())
def test_built_errors_pickle(error: tree.WinicError) -> None:
    copy = _roundtrip(error)
    assert type(copy).__mro__ == type(error).__mro__
    for name in ("reached", "processed", "code", "field", "recipients", "receipts", "unsent", "location"):
        assert getattr(copy, name, None) == getattr(error, name, None)


def _closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/Service.asmx"


def _failures(mock: MockService, transport: str) -> list[tree.WinicError]:
    """Errors raised by real failed calls."""
    errors: list[tree.WinicError] = []

    def catch(action: Callable[[], object]) -> None:
        try:
            action()
        except tree.WinicError as exc:
            errors.append(exc)
        else:
            raise AssertionError("no error")

    retry = RetryPolicy(max_attempts=1)
    with WinicClient("demo", "demo-secret", endpoint=mock.url, transport=transport, retry=retry) as client:
        mock.fail("close_after", operation="SendMessages")
        catch(lambda: client.send("13800138000", "x"))  # SendOutcomeUnknown
        mock.fail("close_after", operation="SendMessages", every=2)
        catch(lambda: client.send([f"138{i:08d}" for i in range(150)], "x"))  # BulkSendError
        mock.fail("http503", operation="GetUserInfo")
        catch(client.account)  # HTTPStatusError
        mock.fail("malformed", operation="GetUserInfo")
        catch(client.account)  # ProtocolError
        mock.fail("code", code="-03", operation="GetUserInfo")
        catch(client.account)  # AuthenticationError
        catch(lambda: client.send("12", "x"))  # InputError
        if transport.startswith("soap"):
            catch(lambda: client.call("SendMMsTest"))  # a mock SOAP fault, or a service error
        mock.fail("reply", status=302, body=b"", content_type="text/html", operation="EditUserPwd")
        catch(lambda: client.change_password("new-pw-1"))  # HTTPStatusError with a location
    client.close()
    catch(client.account)  # ClientClosedError
    with WinicClient("demo", "demo-secret", endpoint=_closed_port(), transport=transport, retry=retry) as client:
        catch(client.account)  # ConnectError
    catch(lambda: WinicClient("demo", "pw", transport="smtp"))  # ConfigurationError
    return errors


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_errors_from_real_calls_pickle(winic_mock: MockService, transport: str) -> None:
    errors = _failures(winic_mock, transport)
    kinds = {type(e).__name__ for e in errors}
    assert {"SendOutcomeUnknown", "BulkSendError", "HTTPStatusError", "ConnectError", "ClientClosedError"} <= kinds
    for error in errors:
        _roundtrip(error)


def _fail_in_worker(url: str) -> None:
    """Runs in a pool's worker process: a send whose answer is lost raises there."""
    with WinicClient("demo", "demo-secret", endpoint=url, retry=RetryPolicy(max_attempts=1)) as client:
        client.send(["13800138000", "13900139000"], "from a worker")


def test_error_raised_in_a_process_pool(winic_mock: MockService) -> None:
    import multiprocessing

    winic_mock.fail("close_after", operation="SendMessages")
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        future = pool.submit(_fail_in_worker, winic_mock.url)
        error = future.exception(timeout=60)
    assert isinstance(error, tree.SendOutcomeUnknown)
    assert error.recipients == ("13800138000", "13900139000") and error.text == "from a worker"
    assert isinstance(error.cause, tree.ConnectionLostError) and error.cause.processed is None
    assert winic_mock.state.sends[0].recipients == error.recipients
