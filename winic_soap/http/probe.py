"""The TLS probe, sync and async: when a TLS connection opened for this attempt was lost, a handshake of our
own that sends no request tells whether the front refuses our client certificate (TLS 1.3 says so only
after the handshake, and a reset can overtake the alert) -- then nothing reached the service."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpcore2

from winic_soap.exceptions import ConnectionLostError, WinicError
from winic_soap.http.attempt import Attempt
from winic_soap.http.errors import certificate_alert, tls_cause
from winic_soap.http.tls import LazyTLS

__all__ = ["Probe"]

_WAIT = 1.0  # how long the probe waits for the front's alert after its handshake


class Probe:
    """One wire's probe target (``host``, ``port``) and TLS context; the sync and async handshakes share
    the rule of :meth:`deserved` and :func:`_refuses`."""

    __slots__ = ("_connect_timeout", "_target", "_tls")

    def __init__(self, endpoint: str, proxy: str | None, tls: LazyTLS, connect_timeout: float) -> None:
        parts = urlsplit(endpoint)
        direct = parts.scheme == "https" and not proxy and parts.hostname
        self._target = (parts.hostname or "", parts.port or 443) if direct else None  # no probe through a proxy
        self._tls, self._connect_timeout = tls, connect_timeout

    def deserved(self, error: WinicError, attempt: Attempt) -> bool:
        """Whether a connection lost on a TLS connection opened in this attempt deserves a probe."""
        return self._target is not None and attempt.new_tls and isinstance(error, ConnectionLostError)

    def refused(self) -> bool:
        """A handshake of our own that sends no request: does the TLS front refuse it with an alert?"""
        assert self._target is not None
        host, port = self._target
        try:
            stream = httpcore2.SyncBackend().connect_tcp(host, port, timeout=self._connect_timeout)
        except (httpcore2.ConnectError, httpcore2.ConnectTimeout):
            return False
        try:
            context = self._tls.resolve(self._tls.placeholder)
            tls = stream.start_tls(context, server_hostname=host, timeout=self._connect_timeout)
            tls.read(1, timeout=_WAIT)
        except Exception as exc:
            return _refuses(exc)
        finally:
            stream.close()
        return False

    async def arefused(self) -> bool:
        """The async twin of :meth:`refused`."""
        assert self._target is not None
        host, port = self._target
        try:
            stream = await httpcore2.AnyIOBackend().connect_tcp(host, port, timeout=self._connect_timeout)
        except (httpcore2.ConnectError, httpcore2.ConnectTimeout):
            return False
        try:
            context = self._tls.resolve(self._tls.placeholder)
            tls = await stream.start_tls(context, server_hostname=host, timeout=self._connect_timeout)
            await tls.read(1, timeout=_WAIT)
        except Exception as exc:
            return _refuses(exc)
        finally:
            await stream.aclose()
        return False


def _refuses(exc: BaseException) -> bool:
    """The probe's verdict: only an alert about our certificate proves the front refuses us."""
    tls = tls_cause(exc)
    return tls is not None and certificate_alert(tls)
