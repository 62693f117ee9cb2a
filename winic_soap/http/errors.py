"""Every httpx2 failure as our typed error, in one place for both shells, told apart by whether the request
can have reached the server: ``sending`` (its first byte may have been written) decides between "never
reached" (:class:`ConnectError`, safe to repeat) and the errors after which a write's outcome is unknown.
Also the answers a proxy or TLS front gives instead of the service (407, nginx's refused certificate), and
where a connect failure tried (the service's host or the proxy's, never the proxy's password).

tests/unit/test_http_errors.py walks httpx2's exception tree: a class added to httpx2 fails it until it
is mapped here."""

from __future__ import annotations

import ssl
from urllib.parse import urlsplit

import httpx2

from winic_soap.core.answer import WireResponse, check_answer
from winic_soap.exceptions import (
    ConfigurationError,
    ConnectError,
    ConnectionLostError,
    HTTPStatusError,
    ProtocolError,
    ProxyAuthenticationError,
    ReadTimeoutError,
    TLSError,
    TransportError,
    WinicError,
)
from winic_soap.redaction import mask_secrets, url_for_log

__all__ = [
    "CAUGHT",
    "certificate_alert",
    "hostport",
    "located",
    "map_error",
    "refusal",
    "tls_cause",
    "tls_error",
    "unexpected",
]

CAUGHT = (httpx2.HTTPError, httpx2.InvalidURL, OSError)  # what map_error maps; anything else: unexpected()


def tls_cause(exc: BaseException) -> ssl.SSLError | None:
    """The ``ssl.SSLError`` behind ``exc`` (httpx2 and anyio wrap it), if any."""
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def map_error(exc: Exception, *, sending: bool, new_tls: bool = False, last_status: int | None = None) -> WinicError:
    """The typed error for an httpx2 failure (or an OSError an async backend let through unwrapped, as
    anyio does with TLS alerts). ``sending``: the request's first bytes may have been written;
    ``new_tls``: this attempt opened the TLS connection (a reused one has long passed its handshake);
    ``last_status``: the status of the last answer seen (a redirect loop's), when known."""
    tls = tls_cause(exc)
    if tls is not None and (not sending or (new_tls and certificate_alert(tls))):
        # A handshake failure, or a certificate alert on a connection opened for this request (TLS 1.3
        # refuses a client certificate after the handshake, at the first read): the TLS front refused
        # us, the service never saw the request. Any other alert after sending proves nothing.
        return _tls_failed(tls)
    if isinstance(exc, httpx2.HTTPStatusError):  # a user's ``raise_for_status`` response hook
        return _status_error(exc.response)
    if isinstance(exc, httpx2.TooManyRedirects):  # a user's client following redirects
        # Each hop answered a redirect, but 307/308 re-send the body elsewhere: nobody can say what ran it.
        return HTTPStatusError(
            last_status or 0,
            f"too many redirects (the last to {url_for_log(str(exc.request.url))}); no answer from the service",
            processed=None,
            location=url_for_log(str(exc.request.url)),
        )
    if isinstance(exc, (httpx2.UnsupportedProtocol, httpx2.LocalProtocolError, httpx2.InvalidURL)):
        return ConfigurationError(f"the request cannot be made: {mask_secrets(str(exc))}")
    if isinstance(exc, (httpx2.ConnectTimeout, httpx2.PoolTimeout)) or (
        isinstance(exc, httpx2.TimeoutException) and not sending
    ):
        return ConnectError("could not connect: timed out before the request was sent")
    if isinstance(exc, httpx2.ProxyError):
        if str(exc).startswith("407"):  # httpcore2 names the CONNECT answer's status first
            return proxy_auth_error()
        return ConnectError(f"the proxy refused the connection ({mask_secrets(str(exc))})")
    if isinstance(exc, httpx2.ConnectError) or (
        isinstance(exc, httpx2.NetworkError | httpx2.RemoteProtocolError | OSError) and not sending
    ):
        return ConnectError(f"could not connect: {_reason(exc)}")  # nothing written: the server never saw it
    if isinstance(exc, httpx2.TimeoutException):
        return ReadTimeoutError("no complete answer within the timeout after the request was sent")
    if isinstance(exc, httpx2.RemoteProtocolError):
        if "without sending" in str(exc) or "disconnected" in str(exc):
            return ConnectionLostError("connection closed after the request was sent, before any answer")
        return ProtocolError(f"answer is not valid HTTP ({_reason(exc)})", processed=None)
    if isinstance(exc, httpx2.DecodingError):
        return ProtocolError(f"answer body cannot be decoded ({_reason(exc)})", processed=None)
    if isinstance(exc, httpx2.NetworkError | OSError):
        return ConnectionLostError(f"connection error after the request was sent ({_reason(exc)})")
    # httpx2.SSEError, and any TransportError a future httpx2 adds: a failure we cannot place
    return unexpected(exc, sending=sending)


def unexpected(exc: BaseException, *, sending: bool) -> TransportError:
    """Any other exception out of httpx2 (a user's event hook, instrumentation, a closed event loop, a
    stream read twice): a TransportError that says whether the request may have been sent, so a send
    becomes an unknown outcome."""
    where = "after the request may have been sent" if sending else "before the request was sent"
    error = TransportError(f"the HTTP client failed {where} ({type(exc).__name__}: {_reason(exc)})")
    error.reached, error.processed = sending, (None if sending else False)
    return error


def _tls_failed(tls: ssl.SSLError) -> TLSError:
    reason = str(tls.reason or type(tls).__name__)
    if "WRONG_VERSION_NUMBER" in reason.upper():
        return TLSError("TLS failed: the server does not speak TLS on this port (an http:// endpoint?)")
    verified = getattr(tls, "verify_message", None)  # OpenSSL's why: "self-signed certificate", ...
    if verified:
        return TLSError(f"TLS failed: {reason}: the server's certificate was not trusted ({verified})")
    return TLSError(f"TLS failed: {reason} (certificate or client certificate)")


def _status_error(response: httpx2.Response) -> WinicError:
    """A status a user's hook refused, judged by the rule every answer is judged by (``check_answer``):
    a redirect or a 4xx was not processed, a 5xx nobody can know. Its body, when the hook left it unread
    (a streamed answer), is not needed for that."""
    try:
        content = response.content
    except httpx2.ResponseNotRead:
        content = b""
    answer = WireResponse(response.status_code, response.headers, content)
    refused = refusal(answer.status, answer.content)
    if refused is not None:
        return refused
    try:
        check_answer(answer, fault_status=False)
    except WinicError as error:
        return error
    return HTTPStatusError(answer.status, f"HTTP {answer.status} refused by the http_client's hook", processed=None)


def proxy_auth_error() -> ProxyAuthenticationError:
    return ProxyAuthenticationError(
        "the proxy wants credentials (HTTP 407): put user:password in the proxy URL, or fix the ones there"
    )


# nginx's answers when ``ssl_verify_client on`` finds no certificate (its 496) or a bad one (495), sent as 400
_FRONT_REFUSALS = {
    "no required ssl certificate was sent": "no client certificate was sent (set cert=, or WINIC_CERT)",
    "the ssl certificate error": "the client certificate was refused (not signed by a CA it trusts, or expired)",
    "ssl certificate error": "the client certificate was refused (not signed by a CA it trusts, or expired)",
    "ssl certificate required": "no client certificate was sent (set cert=, or WINIC_CERT)",
}


def refusal(status: int, content: bytes) -> WinicError | None:
    """A proxy's 407, or a TLS front's answer that it refused the client certificate (nginx answers 400
    with "No required SSL certificate was sent"): nothing reached the service, and a retry cannot help."""
    if status == 407:
        return proxy_auth_error()
    if status in (400, 495, 496) and len(content) < 8192:
        page = content.decode("latin-1").lower()
        for phrase, meaning in _FRONT_REFUSALS.items():
            if phrase in page:
                return TLSError(f"the TLS front refused the request: {meaning}; nothing reached the service")
    return None


def _reason(exc: BaseException) -> str:
    """The exception's text for a message: short, and without a password it may quote (a URL's query)."""
    text = mask_secrets(str(exc).strip())
    return text[:200] if text else type(exc).__name__


_CERTIFICATE_ALERTS = ("CERTIFICATE_REQUIRED", "BAD_CERTIFICATE", "UNKNOWN_CA", "CERTIFICATE_UNKNOWN",
                       "ACCESS_DENIED", "HANDSHAKE_FAILURE", "CERTIFICATE_REVOKED", "CERTIFICATE_EXPIRED",
                       "UNSUPPORTED_CERTIFICATE")  # fmt: skip


def certificate_alert(tls: ssl.SSLError) -> bool:
    """Whether ``tls`` is the peer's alert about our certificate (the front refusing us)."""
    reason = str(tls.reason or "").upper()
    return "ALERT" in reason and any(name in reason for name in _CERTIFICATE_ALERTS)


def tls_error() -> TLSError:
    return TLSError("TLS failed: the server refuses this client's certificate (or wants one); nothing was sent")


def hostport(url: str) -> str:
    """``host:port`` of ``url`` (the scheme's default port when none is written)."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"


def located(error: WinicError, url: str, proxy: str | None) -> WinicError:
    """A connect failure names where it tried: the service's host, or the proxy's (never its password)."""
    if isinstance(error, ConnectError) and not isinstance(error, TLSError):
        where = f"the proxy {hostport(proxy)}" if proxy else hostport(url)
        error.args = (f"{error.args[0]} ({where})",)
    return error
