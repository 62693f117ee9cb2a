"""The only module that imports the HTTP library (urllib3): pooled keep-alive connections, timeouts,
TLS verification, bounded answers, and the mapping of every urllib3 failure to our error tree, told
apart by whether the request can have reached the server."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass

import urllib3
from urllib3 import exceptions as u3

from winic_soap import __version__
from winic_soap.exceptions import (
    ConfigurationError,
    ConnectError,
    ConnectionLostError,
    ProtocolError,
    ReadTimeoutError,
    TransportError,
)

__all__ = ["HttpSession", "RawResponse", "redact"]

USER_AGENT = f"winic-soap/{__version__}"
_SECRET_QUERY = re.compile(r"((?:new)?pwd=)[^&\s\"']*", re.IGNORECASE)


def redact(text: str) -> str:
    """Mask ``pwd=…`` and ``newpwd=…`` in a URL or form body."""
    return _SECRET_QUERY.sub(r"\1***", text)


class _RedactingFilter(logging.Filter):
    """urllib3 logs request lines at DEBUG; with HTTP GET the query carries the password."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


for _name in ("urllib3.connectionpool", "urllib3.connection", "urllib3.response", "urllib3.poolmanager"):
    logging.getLogger(_name).addFilter(_RedactingFilter())


@dataclass(frozen=True, slots=True)
class RawResponse:
    """A complete answer: status, lower-cased headers, body bytes."""

    status: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


class HttpSession:
    """Thread-safe pool of keep-alive connections shared by every transport of one client."""

    def __init__(
        self,
        *,
        connect_timeout: float,
        read_timeout: float,
        pool_size: int = 10,
        verify: bool | str = True,
        max_response_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        tls: dict[str, object] = {"cert_reqs": "CERT_REQUIRED" if verify else "CERT_NONE"}
        if isinstance(verify, str):
            tls["ca_certs"] = verify
        self._timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        self._max = max_response_bytes
        # block=True bounds the sockets to pool_size per host: threads wait for a free connection
        # rather than opening (and later discarding) extra ones.
        self._pool = urllib3.PoolManager(
            num_pools=4,
            maxsize=pool_size,
            block=True,
            retries=False,
            timeout=self._timeout,
            headers={"User-Agent": USER_AGENT},
            **tls,
        )
        self._closed = threading.Event()

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> RawResponse:
        """Send one request and read the whole answer; raise a :class:`TransportError` subclass on failure."""
        if self._closed.is_set():
            raise ConnectError("client is closed")
        per_call = (
            self._timeout if timeout is None else urllib3.Timeout(connect=self._timeout.connect_timeout, read=timeout)
        )
        try:
            response = self._pool.request(
                method,
                url,
                body=body,
                headers=dict(headers or {}),
                preload_content=False,
                redirect=False,
                timeout=per_call,
                pool_timeout=per_call.read_timeout,
            )
        except u3.LocationParseError:
            raise ConfigurationError("endpoint URL cannot be parsed") from None
        except Exception as exc:
            raise _map(exc) from None
        try:
            content = response.read(amt=self._max + 1, decode_content=True)
            if len(content) > self._max:
                response.drain_conn()
                raise ProtocolError(f"answer larger than {self._max} bytes; refused", processed=None)
            status, header_map = response.status, {k.lower(): v for k, v in response.headers.items()}
        except TransportError:
            response.close()
            raise
        except Exception as exc:
            response.close()
            if isinstance(exc, (u3.ProtocolError, u3.IncompleteRead)):
                raise ProtocolError("answer truncated: the connection closed mid-body", processed=None) from None
            raise _map(exc) from None
        response.release_conn()
        return RawResponse(status, header_map, content)

    def close(self) -> None:
        self._closed.set()
        self._pool.clear()


def _map(exc: BaseException) -> TransportError:
    """Classify a urllib3 failure. Connect-phase errors mean the server never saw the request."""
    name = type(exc).__name__
    if isinstance(exc, u3.EmptyPoolError):
        return ConnectError("no free connection in the pool within the timeout")
    if isinstance(exc, (u3.ConnectTimeoutError, u3.NewConnectionError, u3.SSLError, u3.ProxyError)):
        # NewConnectionError covers refused connections and NameResolutionError (DNS).
        reason = "DNS lookup failed" if isinstance(exc, u3.NameResolutionError) else name
        if isinstance(exc, u3.SSLError):
            reason = "TLS handshake failed (certificate not verified?)"
        return ConnectError(f"could not connect: {reason}")
    if isinstance(exc, u3.ReadTimeoutError):
        return ReadTimeoutError("no answer within the timeout after the request was sent")
    if isinstance(exc, u3.ProtocolError):
        return ConnectionLostError("connection lost after the request was sent")
    if isinstance(exc, (u3.DecodeError, u3.HeaderParsingError)):
        return ProtocolError(f"answer could not be decoded ({name})", processed=None)
    if isinstance(exc, OSError):
        return ConnectionLostError(f"connection error ({name})")
    return TransportError(f"HTTP failure ({name})")
