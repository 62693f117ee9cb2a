"""Every httpx2 exception has a named place in our tree (as httpx's ``tests/test_exceptions.py`` checks
httpcore's): the walk below finds each class httpx2 defines, so one added by a future httpx2 fails
:func:`test_every_httpx2_exception_is_in_the_table` until the table (and ``map_error``) say what it means.

Each row says, for a failure before the request's first byte was written and for one after, which of our
errors it becomes and its verdict: ``reached`` (could the server have seen the request?) and ``processed``
(False: provably not acted on; None: nobody knows). A ConfigurationError never reached anything.
"""

from __future__ import annotations

import ssl
from typing import Any

import httpx2
import pytest

from winic_soap import exceptions as tree
from winic_soap.http.errors import map_error, unexpected

Verdict = tuple[type[tree.WinicError], bool, bool | None]  # our class, reached, processed
NOTHING_SENT: Verdict = (tree.ConnectError, False, False)
UNPLACED_BEFORE: Verdict = (tree.TransportError, False, False)  # unexpected(): said by the phase alone
UNPLACED_AFTER: Verdict = (tree.TransportError, True, None)
CONFIGURATION: Verdict = (tree.ConfigurationError, False, False)

# class name: (verdict when nothing was written, verdict when the request may have been written)
TABLE: dict[str, tuple[Verdict, Verdict]] = {
    "HTTPError": (UNPLACED_BEFORE, UNPLACED_AFTER),  # bases: raised bare only by code outside httpx2
    "RequestError": (UNPLACED_BEFORE, UNPLACED_AFTER),
    "TransportError": (UNPLACED_BEFORE, UNPLACED_AFTER),
    "TimeoutException": (NOTHING_SENT, (tree.ReadTimeoutError, True, None)),
    "ConnectTimeout": (NOTHING_SENT, NOTHING_SENT),
    "PoolTimeout": (NOTHING_SENT, NOTHING_SENT),  # no connection was ever taken from the pool
    "ReadTimeout": (NOTHING_SENT, (tree.ReadTimeoutError, True, None)),
    "WriteTimeout": (NOTHING_SENT, (tree.ReadTimeoutError, True, None)),
    "NetworkError": (NOTHING_SENT, (tree.ConnectionLostError, True, None)),
    "ConnectError": (NOTHING_SENT, NOTHING_SENT),
    "ReadError": (NOTHING_SENT, (tree.ConnectionLostError, True, None)),
    "WriteError": (NOTHING_SENT, (tree.ConnectionLostError, True, None)),
    "CloseError": (NOTHING_SENT, (tree.ConnectionLostError, True, None)),
    "ProtocolError": (UNPLACED_BEFORE, UNPLACED_AFTER),
    "LocalProtocolError": (CONFIGURATION, CONFIGURATION),  # we could not even write the request
    "RemoteProtocolError": (NOTHING_SENT, (tree.ProtocolError, True, None)),
    "ProxyError": (NOTHING_SENT, NOTHING_SENT),  # the proxy refused: the service never saw it
    "UnsupportedProtocol": (CONFIGURATION, CONFIGURATION),
    "SSEError": (UNPLACED_BEFORE, UNPLACED_AFTER),  # server-sent events: not a protocol this client speaks
    "DecodingError": ((tree.ProtocolError, True, None), (tree.ProtocolError, True, None)),  # an answer came
    "TooManyRedirects": ((tree.HTTPStatusError, True, None), (tree.HTTPStatusError, True, None)),  # 307 re-posts
    "HTTPStatusError": ((tree.HTTPStatusError, True, None), (tree.HTTPStatusError, True, None)),  # 503 here
    "InvalidURL": (CONFIGURATION, CONFIGURATION),
    "CookieConflict": (UNPLACED_BEFORE, UNPLACED_AFTER),  # a user's hook reading cookies: a bug of its own
    "StreamError": (UNPLACED_BEFORE, UNPLACED_AFTER),  # a user's hook misreading the stream
    "StreamConsumed": (UNPLACED_BEFORE, UNPLACED_AFTER),
    "StreamClosed": (UNPLACED_BEFORE, UNPLACED_AFTER),
    "ResponseNotRead": (UNPLACED_BEFORE, UNPLACED_AFTER),
    "RequestNotRead": (UNPLACED_BEFORE, UNPLACED_AFTER),
}

REQUEST = httpx2.Request("POST", "http://winic.test/Service.asmx?uid=demo&pwd=S3cret")


def _httpx2_exceptions() -> set[type[BaseException]]:
    """Every exception class httpx2 defines, exported or not: its namespace, and their subclasses."""
    found: set[type[BaseException]] = set()
    todo = [obj for obj in vars(httpx2).values() if isinstance(obj, type) and issubclass(obj, BaseException)]
    while todo:
        cls = todo.pop()
        if cls.__module__.startswith("httpx2") and cls not in found:
            found.add(cls)
            todo.extend(cls.__subclasses__())
    return found


def _instance(cls: type[BaseException], status: int = 503) -> BaseException:
    """One of ``cls`` as httpx2 raises it (with its request, and a response for HTTPStatusError)."""
    if issubclass(cls, httpx2.HTTPStatusError):
        response = httpx2.Response(status, request=REQUEST, headers={"location": "http://elsewhere.test/"})
        return cls(f"{status} for url {REQUEST.url}", request=REQUEST, response=response)
    if issubclass(cls, httpx2.RequestError):
        return cls("failed", request=REQUEST)
    if issubclass(cls, httpx2.StreamError) and cls is not httpx2.StreamError:
        return cls()  # type: ignore[call-arg]  # each says its own message
    return cls("failed")


def _verdict(error: tree.WinicError) -> Verdict:
    if isinstance(error, tree.TransportError):
        return type(error), error.reached, error.processed
    return type(error), False, False


def test_every_httpx2_exception_is_in_the_table() -> None:
    assert {cls.__name__ for cls in _httpx2_exceptions()} == set(TABLE)


@pytest.mark.parametrize("name", sorted(TABLE))
@pytest.mark.parametrize("sending", [False, True], ids=["nothing written", "maybe written"])
def test_each_httpx2_exception_maps_to_a_named_error_with_its_verdict(name: str, sending: bool) -> None:
    cls = next(c for c in _httpx2_exceptions() if c.__name__ == name)
    exc = _instance(cls)
    # what the wires do: map_error for what they catch from httpx2, unexpected() for anything else
    error: tree.WinicError
    if isinstance(exc, httpx2.HTTPError | httpx2.InvalidURL | OSError):
        error = map_error(exc, sending=sending)
    else:
        error = unexpected(exc, sending=sending)
    assert _verdict(error) == TABLE[name][sending]
    assert "S3cret" not in str(error)


# The rows whose meaning depends on more than the class: the answer's status, httpcore2's wording.
STATUSES: dict[int, Verdict] = {
    503: (tree.HTTPStatusError, True, None),  # nobody knows what a 5xx did
    500: (tree.HTTPStatusError, True, None),
    404: (tree.HTTPStatusError, True, False),  # the front refused it
    302: (tree.HTTPStatusError, True, False),  # not followed: the service never ran it
    407: (tree.ProxyAuthenticationError, False, False),  # a proxy wanting credentials
}


@pytest.mark.parametrize(("status", "verdict"), STATUSES.items(), ids=[str(s) for s in STATUSES])
def test_a_status_refused_by_a_users_raise_for_status_hook_is_judged_like_any_answer(
    status: int, verdict: Verdict
) -> None:
    exc = _instance(httpx2.HTTPStatusError, status)
    assert isinstance(exc, httpx2.HTTPStatusError)
    error = map_error(exc, sending=True)
    assert _verdict(error) == verdict
    if isinstance(error, tree.HTTPStatusError):
        assert error.status == status
        assert error.location == ("http://elsewhere.test/" if status == 302 else None)


def test_too_many_redirects_names_the_last_status_seen_and_where_it_led() -> None:
    exc = httpx2.TooManyRedirects("Exceeded maximum allowed redirects.", request=REQUEST)
    error = map_error(exc, sending=True, last_status=307)
    assert isinstance(error, tree.HTTPStatusError)
    assert (error.status, error.processed, error.location) == (307, None, "http://winic.test/Service.asmx")
    assert "redirects" in str(error) and "S3cret" not in str(error)


WORDED: dict[str, tuple[Exception, Verdict]] = {
    "proxy answered 407": (httpx2.ProxyError("407 Proxy Authentication Required"), NOTHING_SENT),
    "server closed without answering": (
        httpx2.RemoteProtocolError("Server disconnected without sending a response."),
        (tree.ConnectionLostError, True, None),
    ),
    "an OSError anyio let through": (ConnectionResetError(104, "reset"), (tree.ConnectionLostError, True, None)),
}


@pytest.mark.parametrize(("exc", "verdict"), WORDED.values(), ids=WORDED.keys())
def test_failures_told_apart_by_their_wording(exc: Exception, verdict: Verdict) -> None:
    error = map_error(exc, sending=True)
    assert _verdict(error)[1:] == verdict[1:]
    expected = tree.ProxyAuthenticationError if "407" in str(exc) else verdict[0]
    assert type(error) is expected


def test_a_tls_failure_before_sending_is_a_tls_error_whatever_httpx2_wrapped_it_in() -> None:
    tls = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    tls.reason = "CERTIFICATE_VERIFY_FAILED"
    tls.verify_message = "self-signed certificate"
    for cls in (httpx2.ConnectError, httpx2.ReadError, httpx2.RemoteProtocolError):
        exc: Any = cls("failed", request=REQUEST)
        exc.__cause__ = tls
        error = map_error(exc, sending=False)
        assert _verdict(error) == (tree.TLSError, False, False) and "self-signed" in str(error)
